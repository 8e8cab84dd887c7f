package dev.ekko.worker.mysql;

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
 * is kept as unexpected.
 */
final class Issuer {

    private final IdGenerator generator;
    private final Thread thread;
    private volatile boolean stop;

    private long[] ids = new long[1 << 14];
    private int count;
    private volatile long lastIssuedNanos;
    private volatile long firstLostNanos;
    private volatile long lostCount;
    private final List<Throwable> unexpected = Collections.synchronizedList(new ArrayList<>());

    Issuer(String name, IdGenerator generator) {
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

    synchronized int count() {
        return count;
    }

    synchronized long[] ids() {
        return Arrays.copyOf(ids, count);
    }

    long lastIssuedNanos() {
        return lastIssuedNanos;
    }

    /** @return when {@code next()} first threw {@link LeaseLostException}, or 0 */
    long firstLostNanos() {
        return firstLostNanos;
    }

    long lostCount() {
        return lostCount;
    }

    List<Throwable> unexpected() {
        synchronized (unexpected) {
            return List.copyOf(unexpected);
        }
    }

    IdGenerator generator() {
        return generator;
    }

    /** Stops the thread and waits for it; the IDs stay readable. */
    void stop() throws InterruptedException {
        stop = true;
        thread.join(10_000);
    }

    /** Polls a condition every 10 ms until it holds, failing with {@code what} after {@code within}. */
    static void await(String what, Duration within, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("not within " + within.toMillis() + " ms: " + what);
            }
            Thread.sleep(10);
        }
    }
}
