package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.ClockSkewException;
import dev.ekko.EkkoException;
import dev.ekko.Layout;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testkit.TestClock;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A coordinator with no clock (etcd) passes a reference built from other holders' reports, and says how old they may be
 * ({@link WorkerLease#coordinatorTimeMaxAgeMillis()}). The start check tolerates a local clock that much further ahead of
 * the reference, and no more; a clock behind it is refused at the skew, whatever the age.
 */
class ReferenceAgeTest {

    private static final Layout LAYOUT = Layout.defaults();
    private static final long SKEW = 400;

    @TempDir
    Path tmp;

    /** Hands out leases whose reference is the real clock plus an offset, declared up to {@code maxAge} old. */
    private static final class Reference implements WorkerAllocator {
        final long offsetMillis;
        final long maxAgeMillis;
        volatile boolean failRenewals;

        Reference(long offsetMillis, long maxAgeMillis) {
            this.offsetMillis = offsetMillis;
            this.maxAgeMillis = maxAgeMillis;
        }

        @Override
        public WorkerLease acquire() {
            return new WorkerLease(3, "t", Duration.ofSeconds(2), System.nanoTime(), Handover.mark(0),
                    System.currentTimeMillis() + offsetMillis, maxAgeMillis, null);
        }

        @Override
        public WorkerLease renew(WorkerLease lease, ClockReport report) {
            if (failRenewals) {
                throw new EkkoException("coordinator unreachable (scripted)");
            }
            return lease.renewed(System.nanoTime(), System.currentTimeMillis() + offsetMillis, maxAgeMillis);
        }

        @Override
        public void release(WorkerLease lease, ClockReport finalReport) {
        }

        @Override
        public void close() {
        }
    }

    private GeneratorSettings settings(String dir) {
        return settings(dir, new TestClock());
    }

    private GeneratorSettings settings(String dir, TestClock clock) {
        // skew = margin = 400 ms; 2 * 500 ms + 400 ms <= TTL 2 s; reservation 1 s >= 2 * 500 ms
        return new GeneratorSettings(LAYOUT, 1, 0, clock, tmp.resolve(dir), "scripted", Duration.ofSeconds(1), Duration.ZERO,
                Duration.ofSeconds(1), Duration.ofMillis(500), Duration.ofMillis(SKEW), Duration.ofMillis(SKEW), "test", "host", 1);
    }

    @Test
    void aClockAheadOfAnOldReferenceByLessThanItsAgePlusTheSkewStarts() throws Exception {
        // The reference is 2 s behind this clock, as reports 2 s old would be; they may be up to 3 s old.
        try (EkkoGenerator g = EkkoGenerator.start(settings("a"), new Reference(-2000, 3000))) {
            assertTrue(g.next() > 0);
        }
    }

    @Test
    void aClockAheadOfTheReferenceByMoreThanItsAgePlusTheSkewIsRefused() {
        ClockSkewException e = assertThrows(ClockSkewException.class,
                () -> EkkoGenerator.start(settings("b"), new Reference(-(3000 + SKEW + 300), 3000)).close());
        assertTrue(e.getMessage().contains("reports up to 3000 ms old"), e.getMessage());
    }

    @Test
    void withoutAnAgeTheSameClockIsRefused() {
        // What the first test would be for a coordinator reading its own clock: 2 s ahead is past the 400 ms skew.
        assertThrows(ClockSkewException.class, () -> EkkoGenerator.start(settings("c"), new Reference(-2000, 0)).close());
    }

    @Test
    void aClockBehindTheReferenceIsRefusedAtTheSkewWhateverItsAge() {
        assertThrows(ClockSkewException.class, () -> EkkoGenerator.start(settings("d"), new Reference(SKEW + 300, 3000)).close());
    }

    /** A reference of unbounded age is a lower bound only: far ahead of it starts, behind it is refused. */
    @Test
    void anUnboundedReferenceIsCheckedOnTheBehindSideOnly() throws Exception {
        try (EkkoGenerator g = EkkoGenerator.start(settings("e"), new Reference(-60_000, WorkerLease.UNBOUNDED_AGE))) {
            assertTrue(g.next() > 0);
        }
        ClockSkewException e = assertThrows(ClockSkewException.class,
                () -> EkkoGenerator.start(settings("f"), new Reference(SKEW + 300, WorkerLease.UNBOUNDED_AGE)).close());
        assertTrue(e.getMessage().contains("this clock is behind them"), e.getMessage());
    }

    /**
     * With only an unbounded reference the clock is unchecked on the ahead side, so the issue limit stays within two report
     * intervals (1 s) of the local clock: with renewals failing, a wall clock 1.2 s further on is refused, where the lease
     * (its wall deadline 1.6 s after the last renewal) and the reservation (2 s) would still allow it. With a bounded
     * reference the same step issues (the limit is the reservation's).
     */
    @Test
    void anUnboundedReferenceKeepsTheLimitWithinTwoReportIntervalsOfTheClock() throws Exception {
        assertEquals(0, issuesAfterAStep(WorkerLease.UNBOUNDED_AGE, "g"));
        assertEquals(1, issuesAfterAStep(0, "h"));
    }

    /** Starts, stops renewals, steps the wall clock 1.2 s and says whether next() still issues (1) or throws (0). */
    private int issuesAfterAStep(long maxAge, String dir) throws Exception {
        TestClock clock = new TestClock();
        Reference coordinator = new Reference(0, maxAge);
        try (EkkoGenerator g = EkkoGenerator.start(settings(dir, clock), coordinator)) {
            g.next();
            coordinator.failRenewals = true;
            clock.stepMillis(1200);
            try {
                g.next();
                return 1;
            } catch (EkkoException refused) {
                return 0;
            }
        }
    }

    /**
     * A reference older than the lease TTL less the margin and skew (after an etcd outage, other holders' readings may be as
     * old as the outage) that this clock is within: its cap from the reference alone (reference + TTL - margin + skew) would
     * be a second behind this clock, so no ID could be issued. It allows what an unbounded reference does: two report
     * intervals ahead of the clock (found by EtcdOutageIT: callers got CoordinatorUnavailableException after etcd returned).
     */
    @Test
    void aReferenceOlderThanTheLeaseStillLetsTheLimitReachTwoReportIntervalsAhead() throws Exception {
        try (EkkoGenerator g = EkkoGenerator.start(settings("i"), new Reference(-3000, 3000))) {
            assertTrue(g.next() > 0);
            assertTrue(g.status().issueLimit().orElseThrow().isAfter(java.time.Instant.now().plusMillis(500)), g.status().toString());
        }
    }

    @Test
    void anUnknownTimeCarriesNoAge() {
        WorkerLease l = new WorkerLease(1, "t", Duration.ofSeconds(2), 0, Handover.unknown(), WorkerLease.UNKNOWN_TIME, 5000, null);
        assertEquals(0, l.coordinatorTimeMaxAgeMillis());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new WorkerLease(1, "t", Duration.ofSeconds(2), 0, Handover.unknown(), 0, -1, null));
        assertTrue(e.getMessage().contains("coordinatorTimeMaxAgeMillis=-1"), e.getMessage());
    }
}
