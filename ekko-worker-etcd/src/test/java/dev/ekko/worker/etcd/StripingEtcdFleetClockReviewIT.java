package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.fail;

import dev.ekko.ClockSkewException;
import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import dev.ekko.testkit.TestClock;
import dev.ekko.testsupport.TestServers;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of the etcd clock reference over one carried bound per other generator ({@link FleetClock}, commit 854e486), against
 * etcd: the unit-level findings of FleetClockReviewTest, confirmed. Fast timings (FastGenerators: TTL 2 s, margin 500 ms,
 * report interval 300 ms, reservation 1 s, max skew 400 ms), with a 2 s etcd timeout. Every test also checks that no ID is
 * issued twice across all generators of the test.
 *
 * <p>Line numbers are of 854e486.
 */
class StripingEtcdFleetClockReviewIT {

    private static final String PREFIX = TestServers.etcdKeyPrefix(StripingEtcdFleetClockReviewIT.class);

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();
    private final Set<Long> issued = new HashSet<>();

    @AfterEach
    void closeAll() {
        for (int i = open.size() - 1; i >= 0; i--) {
            try {
                open.get(i).close();
            } catch (Exception e) {
                // best effort
            }
        }
        open.clear();
    }

    @AfterAll
    static void deleteKeys() {
        SharedEtcd.deleteKeys(PREFIX);
    }

    // ---------------------------------------------------------------- findings

    /**
     * <b>Claim 1</b> ("one outlier among two or more other generators never stops a correct holder"), docs/etcd.md ("Each
     * generator counts once"; "With two other generators, one of them more than the max skew behind or ahead stops only
     * itself: the correct holders keep issuing").
     *
     * <p><b>Attack</b>: {@code a} and {@code b} on the real clock, {@code c} 1.5 s ahead (StripingEtcdFixReviewIT shows this
     * held: only c is stopped). Then c's process closes its generator and builds a new one with the same instance name, state
     * directory and clock (a restart; or an application that rebuilds its generator after ClockSkewException).
     *
     * <p><b>Found</b> (FleetClockReviewTest.anOutlierThatRestartsUnderANewGeneratorNameCountsOnce at unit level; failed 3 of 3 runs on 5391f97): a correct generator gets ClockSkewException
     * within about a second of the restart. The new generator has a new name (AllocatorContext.newGeneratorName: host, pid,
     * 64 random bits), so its readings are another Votes key (EtcdWorkerAllocator.java:330), while a's FleetClock keeps the
     * old name's bound for two TTLs after its last reading (FleetClock.java:96-101); c's release deletes its ring slot but
     * removes no bound. a and b each count c's one clock twice: {other correct, c-old, c-new}, and the lower median
     * (FleetClock.java:125-139) is c's clock: "behind" by 1.5 s (EkkoGenerator.outsideSkew), the limit frozen
     * (EkkoGenerator.java:592-594) until c-old is forgotten, by which time callers reached it.
     *
     * <p><b>Fixed</b>: a generator whose writer is no longer in the ring stops counting at once (c's release deletes its slot).
     *
     * <p><b>Suggested fix</b>: forget a generator's bound once its writer is seen gone (its slot deleted or found free, its
     * worker ID under a newer tenure), or key bounds by what survives a rebuild (host + pid + instance), so that a new name
     * of the same clock replaces the old one instead of adding a vote.
     */
    @Test
    void anOutlierRebuiltUnderANewGeneratorNameCountsOnce() throws Exception {
        String namespace = PREFIX + "rebuilt-outlier";
        TestClock clock = new TestClock();
        List<IdGenerator> g = startAll(() -> builder(namespace, "a").build(), () -> builder(namespace, "b").build(),
                () -> builder(namespace, "c").clock(clock).build());
        ClockRing.awaitGenerators(namespace, 3);
        Thread.sleep(700);
        clock.stepMillis(1500);
        List<IdGenerator> correct = g.subList(0, 2);
        if (!run(2000, correct, List.of(g.get(2)), "one outlier 1.5 s ahead").get(0)) {
            fail("the outlier 1.5 s ahead was never stopped with ClockSkewException");
        }
        g.get(2).close();
        IdGenerator rebuilt = builder(namespace, "c").clock(clock).build();
        open.add(rebuilt);
        run(4500, correct, List.of(rebuilt), "c's generator closed and rebuilt with a new generator name, same clock");
    }

    // ---------------------------------------------------------------- attacks that held

    /**
     * <b>Claims 1 and 4</b>, the control of finding 1: the same outlier rebuilt only after its old name's bound is forgotten
     * (two TTLs after its last reading: a generator that closes stops counting within two TTLs). Held: the correct
     * generators are never stopped, before or after the rebuild, so the stop in finding 1 is the old name's lingering vote.
     */
    @Test
    void held_anOutlierRebuiltAfterItsOldNameIsForgottenStopsNoCorrectGenerator() throws Exception {
        String namespace = PREFIX + "rebuilt-late";
        TestClock clock = new TestClock();
        List<IdGenerator> g = startAll(() -> builder(namespace, "a").build(), () -> builder(namespace, "b").build(),
                () -> builder(namespace, "c").clock(clock).build());
        ClockRing.awaitGenerators(namespace, 3);
        Thread.sleep(700);
        clock.stepMillis(1500);
        List<IdGenerator> correct = g.subList(0, 2);
        if (!run(2000, correct, List.of(g.get(2)), "one outlier 1.5 s ahead").get(0)) {
            fail("the outlier 1.5 s ahead was never stopped with ClockSkewException");
        }
        g.get(2).close();
        run(4500, correct, List.of(), "c closed, its bound carried until forgotten");
        IdGenerator rebuilt = builder(namespace, "c").clock(clock).build();
        open.add(rebuilt);
        if (!run(3000, correct, List.of(rebuilt), "c rebuilt after its old name was forgotten").get(0)) {
            fail("the rebuilt outlier 1.5 s ahead was never stopped");
        }
    }

    // ---------------------------------------------------------------- helpers

    private Ekko.Builder builder(String endpoints, String namespace, String instance) {
        return FastGenerators.builder(endpoints, namespace, dir.resolve(instance), instance).setting("ekko.etcd.timeout", "2s");
    }

    private Ekko.Builder builder(String namespace, String instance) {
        return builder(SharedEtcd.endpoints(), namespace, instance);
    }

    private <T extends AutoCloseable> T keep(T c) {
        open.add(c);
        return c;
    }

    /** Builds the generators in parallel (each new worker ID waits out a no-history floor) and takes one ID of each. */
    @SafeVarargs
    private List<IdGenerator> startAll(Supplier<IdGenerator>... builds) {
        List<CompletableFuture<IdGenerator>> started = new ArrayList<>();
        for (Supplier<IdGenerator> b : builds) {
            started.add(CompletableFuture.supplyAsync(() -> {
                IdGenerator g = b.get();
                synchronized (open) {
                    open.add(g);
                }
                g.next();
                return g;
            }));
        }
        return started.stream().map(CompletableFuture::join).toList();
    }

    /** {@return each stripe's clock skew against its reference, and how far its issue limit is ahead of the clock} */
    private static String clocks(IdGenerator g) {
        List<String> out = new ArrayList<>();
        for (dev.ekko.GeneratorStatus st : g.stripeStatuses()) {
            out.add("worker " + st.workerId() + ": skew " + st.clockSkew().map(d -> d.toMillis() + " ms").orElse("none") + ", limit "
                    + st.issueLimit().map(l -> (l.toEpochMilli() - System.currentTimeMillis()) + " ms ahead").orElse("none"));
        }
        return String.join("; ", out);
    }

    /** Takes an ID and checks it was never issued before, by any generator of the test. */
    private long take(IdGenerator g) {
        long id = g.next();
        if (!issued.add(id)) {
            fail("ID " + id + " was issued twice");
        }
        return id;
    }

    /**
     * Asks every generator for IDs for {@code millis}: the correct ones must never fail; the others (outliers, bystanders) are
     * asked too, their exceptions counted, not thrown. {@return for each of the others, whether it was stopped: it threw
     * ClockSkewException, or none of its issue limits moved in the last 1.5 s (a renewal every 300 ms raises a permitted
     * one; a clock set back far enough may not reach the frozen limit within the run)}
     */
    private List<Boolean> run(long millis, List<IdGenerator> correct, List<IdGenerator> others, String what) throws Exception {
        List<Boolean> stopped = new ArrayList<>();
        others.forEach(o -> stopped.add(false));
        long start = System.nanoTime();
        long deadline = start + TimeUnit.MILLISECONDS.toNanos(millis);
        long frozenFrom = deadline - TimeUnit.MILLISECONDS.toNanos(1500);
        List<List<Object>> limitsThen = null;
        while (System.nanoTime() < deadline) {
            if (limitsThen == null && System.nanoTime() >= frozenFrom && frozenFrom > start) {
                limitsThen = others.stream().map(StripingEtcdFleetClockReviewIT::limits).toList();
            }
            for (int i = 0; i < others.size(); i++) {
                try {
                    take(others.get(i));
                } catch (ClockSkewException e) {
                    stopped.set(i, true);
                } catch (RuntimeException e) {
                    // ClockMovedBackwardsException while a clock set back waits out its step; a bystander's own trouble
                }
            }
            for (int i = 0; i < correct.size(); i++) {
                try {
                    take(correct.get(i));
                } catch (RuntimeException e) {
                    fail("correct generator #" + i + " was stopped after " + (System.nanoTime() - start) / 1_000_000 + " ms ("
                            + what + "): " + e + "; " + clocks(correct.get(i)), e);
                }
            }
            Thread.sleep(5);
        }
        for (int i = 0; limitsThen != null && i < others.size(); i++) {
            if (limits(others.get(i)).equals(limitsThen.get(i))) {
                stopped.set(i, true);
            }
        }
        return stopped;
    }

    /** {@return each stripe's issue limit} */
    private static List<Object> limits(IdGenerator g) {
        return g.stripeStatuses().stream().map(st -> (Object) st.issueLimit()).toList();
    }

}
