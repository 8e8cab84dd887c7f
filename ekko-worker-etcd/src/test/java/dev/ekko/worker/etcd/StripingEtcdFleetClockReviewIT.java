package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.fail;

import dev.ekko.ClockSkewException;
import dev.ekko.IdGenerator;
import dev.ekko.testkit.TestClock;
import dev.ekko.testsupport.TestServers;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
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

    private ClockFleet fleet;

    @BeforeEach
    void fleet() {
        fleet = new ClockFleet(dir);
    }

    @AfterEach
    void closeAll() {
        fleet.close();
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
     * <p><b>Found</b> (FleetClockReviewTest.anOutlierThatRestartsUnderANewGeneratorNameCountsOnce at unit level; failed 3 of
     * 3 runs on 5391f97): a correct generator gets ClockSkewException
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
        List<IdGenerator> correct = outlierAheadStoppedAndClosed(namespace, clock);
        IdGenerator rebuilt = fleet.builder(namespace, "c").clock(clock).build();
        fleet.keep(rebuilt);
        fleet.run(4500, correct, List.of(rebuilt), "c's generator closed and rebuilt with a new generator name, same clock");
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
        List<IdGenerator> correct = outlierAheadStoppedAndClosed(namespace, clock);
        fleet.run(4500, correct, List.of(), "c closed, its bound carried until forgotten");
        IdGenerator rebuilt = fleet.builder(namespace, "c").clock(clock).build();
        fleet.keep(rebuilt);
        if (!fleet.run(3000, correct, List.of(rebuilt), "c rebuilt after its old name was forgotten").get(0)) {
            fail("the rebuilt outlier 1.5 s ahead was never stopped");
        }
    }

    /**
     * Starts a and b on the real clock and c on {@code clock}, sets c 1.5 s ahead once the ring holds all three, runs them
     * until c is stopped (and a and b never are), then closes c. {@return a and b}
     */
    private List<IdGenerator> outlierAheadStoppedAndClosed(String namespace, TestClock clock) throws Exception {
        List<IdGenerator> g = fleet.startAll(() -> fleet.builder(namespace, "a").build(),
                () -> fleet.builder(namespace, "b").build(), () -> fleet.builder(namespace, "c").clock(clock).build());
        ClockRing.awaitGenerators(namespace, 3);
        Thread.sleep(700);
        clock.stepMillis(1500);
        List<IdGenerator> correct = g.subList(0, 2);
        if (!fleet.run(2000, correct, List.of(g.get(2)), "one outlier 1.5 s ahead").get(0)) {
            fail("the outlier 1.5 s ahead was never stopped with ClockSkewException");
        }
        g.get(2).close();
        return correct;
    }
}
