package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ekko.ClockSkewException;
import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import dev.ekko.testkit.TestClock;
import dev.ekko.testsupport.TestServers;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of the etcd clock-reference fix (one vote per generator, {@code AllocatorContext.generator()} names it, a holder
 * leaves its own generator's readings out), and of the reference's two bounds that its one finding led to. Fast timings (FastGenerators: TTL 2 s, report interval 300 ms, max skew 400 ms),
 * with a 2 s etcd timeout so that a cold JVM's first request does not fail the start.
 */
class StripingEtcdFixReviewIT {

    private static final String PREFIX = TestServers.etcdKeyPrefix(StripingEtcdFixReviewIT.class);

    @TempDir
    Path dir;

    private final List<IdGenerator> open = new ArrayList<>();

    @AfterEach
    void closeAll() {
        open.forEach(IdGenerator::close);
        open.clear();
    }

    @AfterAll
    static void deleteKeys() {
        SharedEtcd.deleteKeys(PREFIX);
    }

    private Ekko.Builder builder(String namespace, String instance) {
        return FastGenerators.builder(SharedEtcd.endpoints(), namespace, dir.resolve(instance), instance).setting("ekko.etcd.timeout", "2s");
    }

    private IdGenerator keep(IdGenerator g) {
        open.add(g);
        return g;
    }

    /** Waits until the ring holds readings of distinct generators in (at least) these counts, largest first. */
    private static void awaitRing(String namespace, List<Integer> wanted) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        Map<String, Integer> seen = Map.of();
        while (System.nanoTime() < deadline) {
            seen = ClockRing.writers(namespace);
            List<Integer> have = seen.values().stream().sorted(java.util.Comparator.reverseOrder()).toList();
            boolean held = have.size() >= wanted.size();
            for (int i = 0; held && i < wanted.size(); i++) {
                held = have.get(i) >= wanted.get(i);
            }
            if (held) {
                return;
            }
            Thread.sleep(100);
        }
        fail("the clock ring never held readings of generators in counts " + wanted + ": " + seen);
    }

    /**
     * Attack: three generators of one IDC: {@code a} on the real clock holding 2 stripes, {@code b} on the real clock, and
     * {@code c}, started on the real clock, whose clock is then set back 1.5 s (an NTP step, a VM resumed: it is running, so no
     * start check refuses it; it keeps renewing, and writing its readings into the ring).
     *
     * <p>Claim (docs/etcd.md: "a majority of holders whose clocks moved together moves it; one outlier does not"): c is the one
     * outlier; a and b agree with each other, so neither is stopped, striped or not, and c is.
     *
     * <p>Found in review (it failed before the fix): each correct generator's renewal sees exactly two other generators, {b, c}
     * or {a, c} (a's two stripes count once), and the reference was the lower median with an upper bound of that median plus
     * the readings' age: with two votes, c's reading, so the correct clock looked 1.5 s "ahead" and stopped. The fix bounds the
     * fleet's clock from above by the upper median plus the age, so each bound is backed by a majority of the readings.
     */
    @Test
    void oneOutlierBehindDoesNotStopTwoCorrectGeneratorsThatEachSeeTwoOthers() throws Exception {
        oneOutlierStopsOnlyItself("behind-outlier", -1500);
    }

    /** The same with the outlier's clock set 1.5 s ahead: the upper bound must still catch it, and only it. */
    @Test
    void oneOutlierAheadDoesNotStopTwoCorrectGeneratorsThatEachSeeTwoOthers() throws Exception {
        oneOutlierStopsOnlyItself("ahead-outlier", 1500);
    }

    private void oneOutlierStopsOnlyItself(String name, long stepMillis) throws Exception {
        String namespace = PREFIX + name;
        IdGenerator a = keep(builder(namespace, "a").stripes(2).build());
        IdGenerator b = keep(builder(namespace, "b").build());
        TestClock clock = new TestClock();
        IdGenerator c = keep(builder(namespace, "c").clock(clock).build());
        a.next();
        b.next();
        c.next();
        awaitRing(namespace, List.of(2, 1, 1));
        Thread.sleep(700); // everyone renewed with everyone else's fresh readings: all agree
        for (IdGenerator g : List.of(a, b)) {
            g.next();
        }
        clock.stepMillis(stepMillis);
        ClockSkewException outlierStopped = null;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(6);
        while (System.nanoTime() < deadline) {
            try {
                c.next(); // the outlier keeps being asked (a refused clock renews on demand)
            } catch (ClockSkewException e) {
                outlierStopped = e;
            } catch (RuntimeException e) {
                // ClockMovedBackwardsException while a clock set back waits out its step: expected of the outlier
            }
            for (IdGenerator g : List.of(a, b)) {
                try {
                    g.next();
                } catch (ClockSkewException e) {
                    fail("correct generator " + (g == a ? "a (2 stripes)" : "b") + " was stopped by one outlier " + Math.abs(stepMillis)
                            + " ms " + (stepMillis < 0 ? "behind" : "ahead") + ", though the other correct generator agrees with it (ring "
                            + ClockRing.writers(namespace) + "): " + e.getMessage(), e);
                }
            }
            Thread.sleep(5);
        }
        if (outlierStopped == null) {
            fail("the outlier " + Math.abs(stepMillis) + " ms " + (stepMillis < 0 ? "behind" : "ahead") + " of two agreeing generators"
                    + " was never stopped with ClockSkewException in 6 s");
        }
    }

    /**
     * Attack: a striped generator (3 stripes) whose clock is 1.5 s behind starts against two correct holders. Each later
     * stripe's acquire sees the earlier stripes of its own generator in the ring or live: if they counted, its median would be
     * its own clock.
     *
     * <p>Held: the start is refused with ClockSkewException (every stripe's reference is the other generators').
     */
    @Test
    void held_aStripedGeneratorBehindIsRefusedAtTheStart() throws Exception {
        String namespace = PREFIX + "striped-behind-start";
        keep(builder(namespace, "a").build()).next();
        keep(builder(namespace, "b").build()).next();
        awaitRing(namespace, List.of(1, 1));
        TestClock behind = new TestClock();
        behind.stepMillis(-1500);
        assertThrows(ClockSkewException.class, () -> keep(builder(namespace, "c").stripes(3).clock(behind).build()).next());
    }

    /**
     * Attack: two generators built in one JVM (same host, same pid) from one builder, and a generator closed and built again
     * in the same process. If the name were derived from host/pid (or instance names), the two would be one generator (each
     * the other's left-out reading), and a rebuilt generator's old readings would count as its own or linger.
     *
     * <p>Held: the two live generators write readings under two distinct names; after the first is closed its readings are
     * gone (its release deletes its slot) and the one built again writes under a new name.
     */
    @Test
    void held_twoGeneratorsOfOneProcessAreTwoAndARebuiltOneLeavesNothingUnderItsOldName() throws Exception {
        String namespace = PREFIX + "one-process";
        Ekko.Builder same = builder(namespace, "p");
        IdGenerator first = same.build();
        IdGenerator second = keep(builder(namespace, "q").build());
        first.next();
        second.next();
        awaitRing(namespace, List.of(1, 1));
        Map<String, Integer> both = ClockRing.writers(namespace);
        if (both.size() != 2) {
            fail("two generators of one process did not write under two names: " + both);
        }
        first.close();
        IdGenerator again = keep(same.build());
        again.next();
        awaitRing(namespace, List.of(1, 1));
        Map<String, Integer> after = ClockRing.writers(namespace);
        List<String> survivors = new ArrayList<>(after.keySet());
        survivors.retainAll(both.keySet());
        if (after.size() != 2 || survivors.size() != 1) {
            fail("after closing one generator and building it again, the ring should hold the other one's name and a new one: before "
                    + both + ", after " + after);
        }
    }
}
