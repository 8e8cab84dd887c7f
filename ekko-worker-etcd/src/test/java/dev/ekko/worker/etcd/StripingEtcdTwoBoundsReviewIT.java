package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.fail;

import dev.ekko.ClockSkewException;
import dev.ekko.IdGenerator;
import dev.ekko.testkit.TestClock;
import dev.ekko.testsupport.TestServers;
import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of the etcd clock reference with two bounds (commit 216530d: at each renewal, lower median of the other generators'
 * fresh readings, upper median plus their age; tightened with the previous reference carried forward on the monotonic
 * clock; at acquire, the lower median as a lower bound only). Fast timings (FastGenerators: TTL 2 s, margin 500 ms, report
 * interval 300 ms, reservation 1 s, max skew 400 ms), with a 2 s etcd timeout.
 *
 * <p>Every test also checks the core promise across all generators of the test: no ID is issued twice.
 *
 * <p>Line numbers in the Javadoc below are of 216530d.
 */
class StripingEtcdTwoBoundsReviewIT {

    private static final String PREFIX = TestServers.etcdKeyPrefix(StripingEtcdTwoBoundsReviewIT.class);

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
     * <b>Claim 1</b>, and docs/etcd.md: "A correct clock may look ahead for one renewal when the other holders' writes were
     * held up in flight; it is then not permitted further until a renewal agrees again".
     *
     * <p><b>Attack</b>: {@code a} and {@code b} on the real clock, {@code c} 1.5 s ahead (the case StripingEtcdFixReviewIT
     * shows held). {@code b} reaches etcd through a link that is held up for 700 ms once (a stalled network, a GC pause),
     * well below the ~1.6 s a's issue limit runs ahead, so a correct holder should not notice; b stays live throughout, and
     * after the stall both b and c write at every renewal again.
     *
     * <p><b>Found</b> (failed 6 of 6 runs on 216530d; fixed by {@link FleetClock}: one bound per generator, carried, and the
     * medians over them, so a window that misses b does not let c set the reference): a correct generator is stopped for good
     * (ClockSkewException about a second after the stall; in some runs
     * b instead of a: its renewal right after its held-up one sees a window of a few milliseconds with only c's readings, and
     * the same ratchet follows). For a: while b's write is held up, a's renewal sees only c's reading: its fresh
     * reference is [c, c + age], and {@code Reference.tighten} (EtcdWorkerAllocator.java:183-190) takes the later lower bound,
     * c's. From then on every fresh reference is [b, c + age] (lower median b, upper median c), which contains the carried
     * one, so tightening keeps the carried lower bound (c's clock, carried forward on a's monotonic clock) at every renewal:
     * a looks 1.5 s behind (outsideSkew, EkkoGenerator.java:440) and its limit is never raised again. It recovers only if one
     * of its renewals happens to see b's reading but not c's. The same ratchet holds for an outlier behind (the carried
     * upper bound stays c's). A glitch the docs call "one renewal" becomes permanent, because the two medians of two readings
     * always span both the correct reading and the outlier's.
     *
     * <p>The pause only makes the trigger deterministic. The window is "the readings written since this holder's previous
     * renewal" (EtcdWorkerAllocator.java:701), so which generators it holds depends on who renewed in it, and a refused
     * generator renews on demand at every call that reaches its limit (EkkoGenerator.java:620), writing many readings a
     * second: in this review the same stop was also seen with no network trick, with four other generators and an outlier
     * 3 s behind, and for a generator started beside a and an outlier 3 s behind (there the issue-limit cap, built from the
     * lower median, i.e. the outlier's reading, EkkoGenerator.java:588, fell below the correct clock and made it renew on
     * demand), but not in every run, so those are not kept as tests.
     *
     * <p><b>Suggested fix</b>: do not tighten with a carried bound that no current majority backs: when fresh readings come,
     * carry a bound only where it is tighter than the fresh one and the fresh readings that back it are a majority of the
     * generators counted (or carry the reference only when there is no fresh reading, as the "quiet" case needs); or keep
     * one carried reading per generator (advanced on the monotonic clock) and take the medians over the union of carried and
     * fresh per-generator readings, so a window that misses one generator does not let the outlier define the bound.
     */
    @Test
    void oneHeldUpWriteDoesNotLetAnOutlierAheadStopACorrectGenerator() throws Exception {
        String namespace = PREFIX + "ratchet-ahead";
        TestClock clock = new TestClock();
        EtcdLink link = fleet.keep(new EtcdLink(URI.create(TestServers.etcdEndpoints().get(0)).getPort()));
        List<IdGenerator> g = fleet.startAll(() -> fleet.builder(namespace, "a").build(),
                () -> fleet.builder(link.endpoint(), namespace, "b").build(),
                () -> fleet.builder(namespace, "c").clock(clock).build());
        ClockRing.awaitGenerators(namespace, 3);
        Thread.sleep(700);
        clock.stepMillis(1500);
        List<IdGenerator> correct = g.subList(0, 2);
        List<IdGenerator> outlier = List.of(g.get(2));
        boolean stopped = fleet.run(1500, correct, outlier, "one outlier 1.5 s ahead").get(0);
        link.pause();
        try {
            stopped |= fleet.run(700, correct, outlier, "b's writes held up for 700 ms").get(0);
        } finally {
            link.resume();
        }
        stopped |= fleet.run(4000, correct, outlier, "after b's writes went through again, b and c both writing at every renewal")
                .get(0);
        if (!stopped) {
            fail("the outlier 1.5 s ahead was never stopped with ClockSkewException");
        }
    }

    // ---------------------------------------------------------------- attacks that held

    /**
     * <b>Claim 4</b>: a clock caught ahead stays caught while the others are quiet, and the carried reference is not widened.
     * {@code c} is set 3 s ahead of {@code a} and {@code b} and gets stopped; then a and b are closed (their releases delete
     * their ring slots, so c's renewals see no fresh reading and only the carried reference remains). Held: c issues no ID
     * at all in the last 1.5 s of 2.5 s after the others closed (with no carried reference it would have no check and issue
     * again).
     */
    @Test
    void held_aClockCaughtAheadStaysCaughtAfterTheOthersGoQuiet() throws Exception {
        String namespace = PREFIX + "caught-ahead";
        TestClock clock = new TestClock();
        List<IdGenerator> g = fleet.startAll(() -> fleet.builder(namespace, "a").build(),
                () -> fleet.builder(namespace, "b").build(), () -> fleet.builder(namespace, "c").clock(clock).build());
        ClockRing.awaitGenerators(namespace, 3);
        Thread.sleep(700);
        clock.stepMillis(3000);
        IdGenerator c = g.get(2);
        // a and b are asked for IDs but not judged here (finding 1: a correct holder may stop too)
        if (!fleet.run(4000, List.of(), List.of(c, g.get(0), g.get(1)), "one outlier 3 s ahead").get(0)) {
            fail("the outlier 3 s ahead was never stopped with ClockSkewException");
        }
        g.get(0).close();
        g.get(1).close();
        long quietFrom = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1000);
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(2500);
        int issuedWhileQuiet = 0;
        while (System.nanoTime() < end) {
            try {
                fleet.take(c);
                if (System.nanoTime() > quietFrom) {
                    issuedWhileQuiet++;
                }
            } catch (ClockSkewException e) {
                // still caught
            }
            Thread.sleep(5);
        }
        if (issuedWhileQuiet > 0) {
            fail("a clock caught 3 s ahead issued " + issuedWhileQuiet + " IDs once the other holders went quiet (ring "
                    + ClockRing.writers(namespace) + ")");
        }
    }
}
