package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.ekko.spi.WorkerLease;
import java.util.AbstractSet;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The reference a holder derives from other generators' readings, one bound per generator, without etcd: every time is given.
 * Monotonic times are in nanoseconds, readings in milliseconds; "ms(t)" is a monotonic time of t milliseconds.
 */
class FleetClockTest {

    static final long TTL = 2_000_000_000L; // 2 s, as FastGenerators
    static final long NEVER = Long.MAX_VALUE;
    /** Every generator's writer still in the ring. */
    static final Set<String> EVERYONE = new AbstractSet<>() {
        @Override
        public boolean contains(Object o) {
            return true;
        }

        @Override
        public Iterator<String> iterator() {
            return Collections.emptyIterator();
        }

        @Override
        public int size() {
            return 0;
        }
    };

    static long ms(long millis) {
        return millis * 1_000_000;
    }

    static EtcdWorkerAllocator.Votes votes(Object... generatorAndReading) {
        EtcdWorkerAllocator.Votes v = new EtcdWorkerAllocator.Votes();
        for (int i = 0; i < generatorAndReading.length; i += 2) {
            v.add((String) generatorAndReading[i], 0, (Long) generatorAndReading[i + 1]);
        }
        return v;
    }

    static FleetClock renewed(FleetClock c, long atMillis, long ageMillis, EtcdWorkerAllocator.Votes fresh) {
        return c.renewed(fresh, EVERYONE, ms(atMillis), ageMillis, TTL, NEVER);
    }

    @Test
    void theMediansIgnoreOneOutlier() {
        assertEquals(100, FleetClock.median(List.of(100L, 90L, 5_000_000L)));
        assertEquals(90, FleetClock.median(List.of(100L, 90L)));
        assertEquals(WorkerLease.UNKNOWN_TIME, FleetClock.median(List.of()));
        assertEquals(100, FleetClock.upperMedian(List.of(100L, 90L, 5_000_000L)));
        assertEquals(100, FleetClock.upperMedian(List.of(100L, 90L)));
        assertEquals(WorkerLease.UNKNOWN_TIME, FleetClock.upperMedian(List.of()));
    }

    /**
     * Two others, b correct and c 1,500 ms ahead; then one renewal's window holds c's reading only (b's write held up). Found
     * by StripingEtcdTwoBoundsReviewIT: the reference of that window alone was c's clock, and tightening kept c's lower bound
     * at every later renewal, so the correct holder looked 1.5 s behind for good. b's bound, carried, still counts.
     */
    @Test
    void aWindowThatMissesACorrectGeneratorDoesNotLetTheOutlierSetTheReference() {
        // The holder's own (correct) clock reads t at monotonic ms(t).
        FleetClock c = renewed(FleetClock.NONE, 10_000, 300, votes("b", 9_900L, "c", 11_400L));
        FleetClock.Reference first = c.reference();
        assertEquals(9_900, first.millis());
        assertEquals(11_400 + 300, first.millis() + first.maxAge());
        c = renewed(c, 10_300, 300, votes("c", 11_750L)); // b held up
        FleetClock.Reference ref = c.reference();
        assertEquals(2, c.generators());
        assertEquals(10_200, ref.millis(), "the lower bound is b's, carried 300 ms on the monotonic clock, not c's");
        c = renewed(c, 10_600, 300, votes("b", 10_550L, "c", 12_050L));
        assertEquals(10_550, c.reference().millis(), "b's newer reading tightens its own bound; c never sets it");
    }

    /** Four others, one of them 3 s behind and writing in every window (a refused clock renews on demand), the rest not. */
    @Test
    void anOutlierThatWritesMoreOftenStillCountsOnce() {
        FleetClock c = renewed(FleetClock.NONE, 10_000, 300, votes("b", 9_900L, "d", 9_950L, "e", 9_800L, "x", 7_000L));
        for (long t = 10_010; t < 10_300; t += 10) {
            c = renewed(c, t, 10, votes("x", t - 3_000));
            FleetClock.Reference ref = c.reference();
            // Correct clock t: within [lo, hi] (no skew needed).
            assertEquals(true, ref.millis() <= t && t <= ref.millis() + ref.maxAge(), "at " + t + ": " + ref);
        }
    }

    /** A generator whose clock was stepped: its newer reading disagrees with its bound and replaces it. */
    @Test
    void aSteppedGeneratorsNewReadingReplacesItsBound() {
        FleetClock c = renewed(FleetClock.NONE, 10_000, 300, votes("b", 9_900L));
        c = renewed(c, 10_300, 100, votes("b", 8_700L)); // b set back 1.5 s
        assertEquals(8_700, c.reference().millis());
        assertEquals(100, c.reference().maxAge());
    }

    /**
     * A generator not read for two TTLs is forgotten; with none left the last reference is carried, so a clock caught ahead
     * stays caught while no one writes.
     */
    @Test
    void withEveryGeneratorForgottenTheLastReferenceIsCarried() {
        FleetClock c = renewed(FleetClock.NONE, 10_000, 300, votes("b", 9_900L));
        c = renewed(c, 13_999, 300, votes());
        assertEquals(1, c.generators());
        c = renewed(c, 14_000, 300, votes());
        assertEquals(0, c.generators());
        assertEquals(13_900, c.reference().millis());
        assertEquals(300, c.reference().maxAge());
        c = renewed(c, 60_000, 300, votes());
        assertEquals(59_900, c.reference().millis());
    }

    /** A generator whose writer left the ring (a release deletes its slot) stops counting at once: built again, it counts once. */
    @Test
    void aGeneratorNoLongerInTheRingStopsCountingAtOnce() {
        FleetClock c = renewed(FleetClock.NONE, 10_000, 300, votes("b", 9_900L, "c-old", 11_400L));
        c = c.renewed(votes("c-new", 11_700L), Set.of("generator b", "generator c-new"), ms(10_300), 300, TTL, NEVER);
        assertEquals(2, c.generators());
        assertEquals(10_200, c.reference().millis(), "the lower median of b's and c-new's, not c's counted twice");
    }

    /**
     * Across an outage (no renewal for longer than two TTLs) no generator is forgotten at the first renewal after it: the
     * readings that renewal finds may be as old as the outage, and the carried bounds keep the lower bound where it was.
     */
    @Test
    void anOutageForgetsNoOneAtTheFirstRenewalAfterIt() {
        FleetClock c = renewed(FleetClock.NONE, 10_000, 300, votes("b", 9_900L, "d", 9_950L));
        c = renewed(c, 16_000, 6_000, votes("b", 10_100L)); // b's reading written just before the outage, d's none
        assertEquals(2, c.generators());
        assertEquals(15_900, c.reference().millis(), "b's and d's carried bounds, not b's reading as old as the outage");
        c = renewed(c, 16_300, 300, votes());
        assertEquals(1, c.generators(), "d, two renewals and two TTLs without a reading, is forgotten; b, read at the last, is not");
    }

    /** At acquire readings are of unknown age: a lower bound only, which stops counting when its holders would have written. */
    @Test
    void acquireReadingsBoundFromBelowOnlyAndAnUnboundedReferenceIsNotCarriedForever() {
        long forgetUnbounded = ms(10_000) + 2 * TTL;
        FleetClock acquired = FleetClock.acquired(votes("b", 9_900L, "c", 9_800L, "d", 9_700L), ms(10_000));
        assertEquals(9_800, acquired.reference().millis());
        assertEquals(WorkerLease.UNBOUNDED_AGE, acquired.reference().maxAge());
        FleetClock c = acquired.renewed(votes(), EVERYONE, ms(10_300), 300, TTL, forgetUnbounded);
        assertEquals(10_100, c.reference().millis());
        assertEquals(WorkerLease.UNBOUNDED_AGE, c.reference().maxAge());
        c = c.renewed(votes(), EVERYONE, ms(14_000), 300, TTL, forgetUnbounded);
        assertNull(c.reference(), "every generator forgotten, and the carried reference's age is unknown: no reference");

        c = acquired.renewed(votes("b", 10_500L), EVERYONE, ms(10_600), 300, TTL, forgetUnbounded);
        assertEquals(10_400, c.reference().millis(), "the lower median of b's tightened bound (10,500) and c's and d's carried");
        assertEquals(WorkerLease.UNBOUNDED_AGE, c.reference().maxAge(), "two of three generators are still unbounded above");
    }
}
