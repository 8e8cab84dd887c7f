package dev.ekko.testkit;

import dev.ekko.IdGenerator;
import dev.ekko.LeaseLostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * A thread that calls {@code next()} on a generator about every 200 µs until closed, keeping every ID and
 * when the generator last issued and first refused with {@link LeaseLostException}. Anything else thrown
 * is kept as unexpected. For back ends' failure tests (a coordinator stopped, restarted, emptied under live
 * generators), which then check that no ID was issued twice.
 */
public final class Issuer {

    private final IdGenerator generator;
    private final Thread thread;
    private volatile boolean stop;

    private long[] ids = new long[1 << 14];
    private int count;
    private volatile long lastIssuedNanos;
    private volatile long firstLostNanos;
    private volatile long lostCount;
    private final List<Throwable> unexpected = Collections.synchronizedList(new ArrayList<>());

    /**
     * Starts issuing at once, on a daemon thread.
     *
     * @param name the thread's name after {@code issuer-}
     * @param generator the generator to call
     */
    public Issuer(String name, IdGenerator generator) {
        this.generator = generator;
        this.thread = new Thread(this::run, "issuer-" + name);
        this.thread.setDaemon(true);
        this.thread.start();
    }

    private void run() {
        while (!stop) {
            try {
                long id = generator.next();
                synchronized (this) {
                    if (count == ids.length) {
                        ids = Arrays.copyOf(ids, count * 2);
                    }
                    ids[count++] = id;
                }
                lastIssuedNanos = System.nanoTime();
            } catch (LeaseLostException e) {
                if (firstLostNanos == 0) {
                    firstLostNanos = System.nanoTime();
                }
                lostCount++;
            } catch (RuntimeException | Error e) {
                if (unexpected.size() < 10) {
                    unexpected.add(e);
                }
            }
            LockSupport.parkNanos(200_000);
        }
    }

    /** {@return how many IDs were issued so far} */
    public synchronized int count() {
        return count;
    }

    /** {@return a copy of every ID issued so far, in order} */
    public synchronized long[] ids() {
        return Arrays.copyOf(ids, count);
    }

    /** {@return when {@code next()} last returned an ID ({@link System#nanoTime()}), or 0} */
    public long lastIssuedNanos() {
        return lastIssuedNanos;
    }

    /** {@return when {@code next()} first threw {@link LeaseLostException} ({@link System#nanoTime()}), or 0} */
    public long firstLostNanos() {
        return firstLostNanos;
    }

    /** {@return how many calls threw {@link LeaseLostException}} */
    public long lostCount() {
        return lostCount;
    }

    /** {@return the first (up to 10) exceptions other than {@link LeaseLostException}} */
    public List<Throwable> unexpected() {
        synchronized (unexpected) {
            return List.copyOf(unexpected);
        }
    }

    /** {@return the generator this issuer calls} */
    public IdGenerator generator() {
        return generator;
    }

    /**
     * Stops the thread and waits for it; the IDs stay readable.
     *
     * @throws InterruptedException if interrupted while waiting
     */
    public void stop() throws InterruptedException {
        stop = true;
        thread.join(10_000);
    }

    /**
     * Polls a condition every 10 ms until it holds.
     *
     * @param what what is awaited, for the failure message
     * @param within how long to wait at most
     * @param condition the condition
     * @throws AssertionError if it does not hold within {@code within}
     * @throws InterruptedException if interrupted while waiting
     */
    public static void await(String what, Duration within, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("not within " + within.toMillis() + " ms: " + what);
            }
            Thread.sleep(10);
        }
    }

    /**
     * Waits until each issuer has issued more than {@code more} IDs beyond its count now.
     *
     * @param what what is awaited, for the failure message
     * @param issuers the issuers
     * @param more how many more IDs each must issue
     * @param within how long to wait at most
     * @throws AssertionError if they do not within {@code within}
     * @throws InterruptedException if interrupted while waiting
     */
    public static void awaitEachIssuesMore(String what, java.util.List<Issuer> issuers, int more, Duration within)
            throws InterruptedException {
        int[] counts = issuers.stream().mapToInt(Issuer::count).toArray();
        await(what, within, () -> {
            for (int k = 0; k < issuers.size(); k++) {
                if (issuers.get(k).count() <= counts[k] + more) {
                    return false;
                }
            }
            return true;
        });
    }

    /**
     * Stops every issuer and checks what they issued: nothing thrown but {@link dev.ekko.LeaseLostException}, each one's
     * IDs rising, no ID issued twice across them ({@link IdChecks}).
     *
     * @param issuers the issuers, at least one
     * @throws AssertionError naming the first issuer or ID that breaks a check
     * @throws InterruptedException if interrupted while waiting for an issuer to stop
     */
    public static void stopAllAndCheck(java.util.List<Issuer> issuers) throws InterruptedException {
        java.util.Map<String, long[]> all = new java.util.LinkedHashMap<>();
        for (Issuer i : issuers) {
            i.stop();
            if (!i.unexpected().isEmpty()) {
                throw new AssertionError(i.generator() + " threw something else than LeaseLostException: " + i.unexpected());
            }
            IdChecks.assertRising(i.generator().layout(), i.generator().toString(), i.ids());
            all.put(i.generator().toString(), i.ids());
        }
        IdChecks.assertNoIdRepeats(issuers.get(0).generator().layout(), all);
    }
}
