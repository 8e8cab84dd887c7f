package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ekko.ClockMovedBackwardsException;
import dev.ekko.ClockSkewException;
import dev.ekko.EkkoException;
import dev.ekko.Layout;
import dev.ekko.LeaseLostException;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testkit.TestClock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each test here reproduces one way the uniqueness review (issue #8) found to break the core's promises, with the
 * injected clock and a scripted allocator, and failed on the code before its fix.
 */
class UniquenessHardeningTest {

    private static final Layout LAYOUT = Layout.defaults();
    private static final Duration TTL = Duration.ofSeconds(2);

    @TempDir
    Path stateDir;

    private final TestClock clock = new TestClock();
    private final Allocator allocator = new Allocator();
    private EkkoGenerator generator;

    /**
     * A scripted coordinator: leases come from a supplier (or, for {@link #acquire(Set)}, a function of the avoided
     * worker IDs); its clock is the real wall clock (or unknown); renewals can fail on demand; like a real back end,
     * a call on an interrupted thread throws {@link InterruptedException}.
     */
    static final class Allocator implements WorkerAllocator {
        volatile Supplier<WorkerLease> next;
        volatile Function<Set<Integer>, WorkerLease> nextAvoiding;
        volatile boolean coordinatorClock;
        volatile Throwable renewFailure;
        volatile boolean failOnce;
        final AtomicInteger acquires = new AtomicInteger();
        final List<ClockReport> reports = new CopyOnWriteArrayList<>();
        final List<Integer> releasedWorkers = new CopyOnWriteArrayList<>();
        final List<ClockReport> releases = new CopyOnWriteArrayList<>();

        @Override
        public WorkerLease acquire() throws InterruptedException {
            checkInterrupted();
            acquires.incrementAndGet();
            return next.get();
        }

        @Override
        public WorkerLease acquire(Set<Integer> avoid) throws InterruptedException {
            checkInterrupted();
            acquires.incrementAndGet();
            return nextAvoiding == null ? next.get() : nextAvoiding.apply(avoid);
        }

        @Override
        public WorkerLease renew(WorkerLease lease, ClockReport report) throws InterruptedException {
            checkInterrupted();
            long sentAt = System.nanoTime();
            Throwable f = renewFailure;
            if (f != null) {
                if (failOnce) {
                    renewFailure = null;
                }
                if (f instanceof RuntimeException r) {
                    throw r;
                }
                throw (Error) f;
            }
            reports.add(report);
            return lease.renewed(sentAt, coordinatorClock ? System.currentTimeMillis() : WorkerLease.UNKNOWN_TIME);
        }

        @Override
        public void release(WorkerLease lease, ClockReport finalReport) throws InterruptedException {
            checkInterrupted();
            releasedWorkers.add(lease.workerId());
            releases.add(finalReport);
        }

        @Override
        public void close() {
        }

        private static void checkInterrupted() throws InterruptedException {
            if (Thread.interrupted()) {
                throw new InterruptedException("interrupted before talking to the coordinator");
            }
        }
    }

    @AfterEach
    void close() {
        if (generator != null) {
            generator.close();
        }
    }

    private GeneratorSettings settings(Duration maxSkew, Duration maxLead, Duration reservation) {
        return new GeneratorSettings(LAYOUT, 2, 0, clock, stateDir, "scripted", Duration.ofSeconds(1), maxLead, reservation,
                Duration.ofMillis(200), maxSkew, Duration.ofMillis(300), "test", "host-a", 1);
    }

    private GeneratorSettings settings() {
        return settings(Duration.ofMillis(100), Duration.ZERO, Duration.ofMillis(600));
    }

    private static WorkerLease lease(int worker, Handover handover, long coordinatorTime, ClockReport previous) {
        return new WorkerLease(worker, "token-" + worker, TTL, System.nanoTime(), handover, coordinatorTime, previous);
    }

    private static long millisOf(long id) {
        return LAYOUT.decode(id).epochMillis();
    }

    private <T extends RuntimeException> T awaitThrows(Class<T> type) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            try {
                generator.next();
            } catch (RuntimeException e) {
                if (type.isInstance(e)) {
                    return type.cast(e);
                }
                throw e;
            }
            Thread.sleep(5);
        }
        throw new AssertionError("next() kept issuing: expected " + type.getSimpleName());
    }

    private long awaitNext() throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        for (;;) {
            try {
                return generator.next();
            } catch (EkkoException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(20);
            }
        }
    }

    // ---------------------------------------------------------------- duplicate IDs

    /** Item 1: a mark the coordinator cannot vouch for (another incarnation wrote it) is still a lower bound. */
    @Test
    void unknownHistoryWithAMarkStartsPastTheLaterOfTheMarkAndTheNoHistoryWait() {
        long mark = clock.millis() + 4000; // a holder whose clock ran ahead reported this, then the coordinator restarted
        allocator.next = () -> lease(3, Handover.atLeast(mark), WorkerLease.UNKNOWN_TIME, null);
        generator = EkkoGenerator.start(settings(), allocator);
        long first = generator.next();
        assertTrue(millisOf(first) > mark, "first ID at " + millisOf(first) + ", mark " + mark + " (no-history wait alone is TTL 2 s + skew)");
    }

    /**
     * Defence in depth for item 3: without history, the wait counts from the later of this clock and the coordinator's,
     * because an earlier holder's limit is capped by the coordinator's clock. Shown with a margin below the skew, which
     * build() refuses but the floor no longer depends on.
     */
    @Test
    void withoutHistoryTheWaitCountsFromTheCoordinatorsClockWhenItIsAhead() {
        long coordinator = clock.millis() + 2000; // this clock is 2 s behind, within the tolerated 3 s
        allocator.next = () -> lease(20, Handover.unknown(), coordinator, null);
        generator = EkkoGenerator.start(settings(Duration.ofSeconds(3), Duration.ZERO, Duration.ofMillis(600)), allocator);
        // An earlier holder whose clock agreed with the coordinator may have reached coordinator + TTL - margin + skew.
        long earlierHolderLimit = coordinator + TTL.toMillis() - 300 + 3000;
        assertTrue(millisOf(generator.next()) > earlierHolderLimit, "started at or below an earlier holder's limit");
    }

    /**
     * Item 2: a clock that steps past the tolerated skew while running stops at the limit set while the clocks
     * agreed, with ClockSkewException naming both clocks, and resumes once they agree again.
     */
    @Test
    void aClockSteppedAheadOfTheCoordinatorStopsAtTheLimitUntilTheClocksAgree() throws Exception {
        allocator.coordinatorClock = true;
        allocator.next = () -> lease(4, Handover.mark(0), System.currentTimeMillis(), null);
        generator = EkkoGenerator.start(settings(), allocator);
        generator.next();
        clock.stepMillis(5000);
        int refused = 0;
        long end = System.nanoTime() + Duration.ofMillis(800).toNanos();
        while (System.nanoTime() < end) {
            try {
                long id = generator.next();
                // Without history, a successor whose clock agrees with the coordinator starts past now + TTL + skew.
                long successorFloor = System.currentTimeMillis() + TTL.toMillis() + 100;
                assertTrue(millisOf(id) <= successorFloor, "issued " + (millisOf(id) - System.currentTimeMillis())
                        + " ms ahead of the coordinator's clock, past where a successor without history starts");
            } catch (ClockSkewException e) {
                refused++;
                assertTrue(e.getMessage().contains("not issuing past") && e.getMessage().contains("differs from reference"), e.getMessage());
            } catch (LeaseLostException e) {
                // A forward step past the wall-clock fence deadline looks like a suspend until the next renewal.
                assertTrue(e.getMessage().contains("stepped forward"), e.getMessage());
            }
        }
        assertTrue(refused > 0, "never refused with ClockSkewException while 5 s ahead of the coordinator");
        clock.stepMillis(-5000);
        long after = awaitNext();
        assertTrue(Math.abs(millisOf(after) - System.currentTimeMillis()) < 1000, "resumed at " + millisOf(after));
    }

    /** Item 3: the skew check allows for the round trip, so clocks that agree pass even with a tolerated skew of 0. */
    @Test
    void aSkewOfZeroAcceptsACoordinatorWhoseClockWasReadDuringTheRoundTrip() throws Exception {
        allocator.next = () -> {
            long sentAt = System.nanoTime();
            sleep(30);
            long coordinator = clock.millis();
            sleep(30);
            return new WorkerLease(5, "t", TTL, sentAt, Handover.mark(0), coordinator, null);
        };
        generator = EkkoGenerator.start(settings(Duration.ZERO, Duration.ZERO, Duration.ofMillis(600)), allocator);
        assertEquals(5, generator.workerId());
    }

    /** Item 4: the monotonic clock stands still in a suspend; the wall clock fences then. */
    @Test
    void aHostResumedFromSuspendStopsAtTheWallClockDeadline() throws Exception {
        allocator.next = () -> lease(6, Handover.mark(0), WorkerLease.UNKNOWN_TIME, null);
        // A reservation longer than the TTL: the limit alone would let it issue 3 s on.
        generator = EkkoGenerator.start(settings(Duration.ofMillis(100), Duration.ZERO, Duration.ofSeconds(5)), allocator);
        generator.next();
        allocator.renewFailure = new EkkoException("connection refused"); // the coordinator is not reached after the resume
        clock.stepMillis(3000); // suspended for 3 s: the wall clock moved, the monotonic clock did not
        LeaseLostException e = assertThrows(LeaseLostException.class, generator::next);
        assertTrue(e.getMessage().contains("the wall clock is") && e.getMessage().contains("suspended"), e.getMessage());
    }

    /** Item 7: a lost lease that comes back with another worker ID starts past the previous term's last IDs. */
    @Test
    void aNewTermOnAnotherWorkerIdStartsPastThePreviousTerm() throws Exception {
        clock.freeze();
        allocator.next = () -> lease(7, Handover.mark(0), WorkerLease.UNKNOWN_TIME, null);
        generator = EkkoGenerator.start(settings(Duration.ofMillis(100), Duration.ofSeconds(5), Duration.ofMillis(600)), allocator);
        long[] burst = new long[1024 * 2000]; // 2 s of lead
        generator.next(burst, 0, burst.length);
        long before = burst[burst.length - 1];
        allocator.renewFailure = new LeaseLostException("worker 7 was taken over");
        awaitThrows(LeaseLostException.class);
        allocator.next = () -> lease(8, Handover.mark(0), WorkerLease.UNKNOWN_TIME, null);
        allocator.renewFailure = null;
        long after = awaitNext();
        assertEquals(8, generator.workerId());
        assertTrue(Layout.compare(after, before) > 0, "IDs went back across terms: " + millisOf(after) + " after " + millisOf(before));
    }

    /** Item 8: nothing is issued after the fence deadline, not even the rest of a millisecond that runs ahead. */
    @Test
    void boundedLeadIssuesNothingAfterTheFenceDeadline() throws Exception {
        clock.freeze();
        allocator.next = () -> lease(9, Handover.mark(0), WorkerLease.UNKNOWN_TIME, null);
        generator = EkkoGenerator.start(settings(Duration.ofMillis(100), Duration.ofSeconds(5), Duration.ofMillis(600)), allocator);
        long[] ids = new long[1500]; // into the next millisecond, ahead of the frozen clock, with sequence numbers left
        generator.next(ids, 0, ids.length);
        allocator.renewFailure = new EkkoException("connection refused");
        clock.stepNanos(Duration.ofSeconds(10).toNanos()); // a pause past the deadline
        assertThrows(LeaseLostException.class, generator::next);
    }

    // ---------------------------------------------------------------- ungraceful failures

    /** Item 9: an Error in the keeper is logged, and the schedule goes on. */
    @Test
    void anErrorInTheKeeperDoesNotStopTheRenewals() throws Exception {
        allocator.next = () -> lease(10, Handover.mark(0), WorkerLease.UNKNOWN_TIME, null);
        generator = EkkoGenerator.start(settings(), allocator);
        allocator.failOnce = true;
        allocator.renewFailure = new LinkageError("injected");
        while (allocator.renewFailure != null) {
            Thread.sleep(10);
        }
        int reportsAfterError = allocator.reports.size();
        Thread.sleep(TTL.toMillis() + 500); // past the fence deadline of the last renewal before the error
        assertTrue(allocator.reports.size() > reportsAfterError, "no renewal after the Error");
        generator.next();
    }

    /** Item 10: close() does not wait for the keeper's wait for a start floor. */
    @Test
    void closeReturnsPromptlyWhileTheKeeperWaitsForAStartFloor() throws Exception {
        allocator.next = () -> lease(11, Handover.mark(0), WorkerLease.UNKNOWN_TIME, null);
        generator = EkkoGenerator.start(settings(), allocator);
        // The lease is lost; the next acquire has no history and a 20 s lease: the keeper waits about 20 s to issue.
        allocator.next = () -> new WorkerLease(12, "t", Duration.ofSeconds(20), System.nanoTime(), Handover.unknown(),
                WorkerLease.UNKNOWN_TIME, null);
        allocator.renewFailure = new LeaseLostException("taken over");
        awaitThrows(LeaseLostException.class);
        allocator.renewFailure = null;
        while (allocator.acquires.get() < 2) {
            Thread.sleep(10);
        }
        Thread.sleep(300); // into the wait
        long t0 = System.nanoTime();
        EkkoGenerator g = generator;
        generator = null;
        g.close();
        long tookMillis = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(tookMillis < 5000, "close() took " + tookMillis + " ms (the keeper's floor wait is about 20 s)");
        assertTrue(allocator.releasedWorkers.contains(12), "the worker ID acquired during the wait was not released: "
                + allocator.releasedWorkers);
    }

    /**
     * Item 11: a state file truncated by another process while in use fences the generator at the next renewal with
     * StateFileException (before, the next write to the mapping was an InternalError or a SIGBUS), for good.
     */
    @Test
    void aStateFileTruncatedWhileInUseFencesTheGeneratorAtTheNextRenewal() throws Exception {
        allocator.next = () -> lease(19, Handover.mark(0), WorkerLease.UNKNOWN_TIME, null);
        generator = EkkoGenerator.start(settings(), allocator);
        generator.next();
        Path file = StateFile.pathFor(stateDir, 2, 19);
        Process p = new ProcessBuilder("truncate", "-s", "0", file.toString()).inheritIO().start();
        assertEquals(0, p.waitFor());
        int reports = allocator.reports.size();
        while (allocator.reports.size() < reports + 1) {
            Thread.sleep(10); // a renewal ran after the truncation (the keeper checks the file after the report)
        }
        Thread.sleep(300);
        dev.ekko.StateFileException e = assertThrows(dev.ekko.StateFileException.class, generator::next);
        assertTrue(e.getMessage().contains("stopped issuing with idc=2 worker=19 for good"), e.getMessage());
        Thread.sleep(500); // several report intervals: still fenced, no re-acquire on a broken file
        assertThrows(dev.ekko.StateFileException.class, generator::next);
        assertEquals(1, allocator.acquires.get());
        generator.close(); // lets go of the lock and the channel without touching the mapping
        generator = null;
    }

    /** Item 12: a worker ID whose history is ahead of this clock is given back, and another one is acquired. */
    @Test
    void aWorkerIdWhoseMarkIsAheadOfTheClockIsSwappedForAnother() {
        long ahead = clock.millis() + 60_000;
        allocator.next = () -> lease(13, Handover.mark(ahead), WorkerLease.UNKNOWN_TIME, null);
        AtomicReference<Set<Integer>> avoided = new AtomicReference<>();
        allocator.nextAvoiding = avoid -> {
            avoided.set(avoid);
            return lease(14, Handover.mark(0), WorkerLease.UNKNOWN_TIME, null);
        };
        generator = EkkoGenerator.start(settings(), allocator);
        assertEquals(14, generator.workerId());
        assertEquals(Set.of(13), avoided.get());
        assertEquals(List.of(13), allocator.releasedWorkers);
        assertTrue(allocator.releases.get(0).reservedUntilMillis() >= ahead, "worker 13's mark was lowered: " + allocator.releases);
    }

    /** Item 12, without a choice: an allocator that returns the same worker ID again gets the original refusal. */
    @Test
    void anAllocatorWithoutAChoiceGetsTheOriginalRefusal() {
        long ahead = clock.millis() + 60_000;
        allocator.next = () -> lease(15, Handover.mark(ahead), WorkerLease.UNKNOWN_TIME, null);
        ClockMovedBackwardsException e = assertThrows(ClockMovedBackwardsException.class, () -> EkkoGenerator.start(settings(), allocator));
        assertTrue(e.getMessage().startsWith("refusing to start idc=2 worker=15 (last reservation reported by the previous holder)"),
                e.getMessage());
        assertEquals(List.of(15, 15), allocator.releasedWorkers);
    }

    // ---------------------------------------------------------------- also found

    @Test
    void closeOnAnInterruptedThreadStillReleasesAndKeepsTheInterrupt() {
        allocator.next = () -> lease(16, Handover.mark(0), WorkerLease.UNKNOWN_TIME, null);
        EkkoGenerator g = EkkoGenerator.start(settings(), allocator);
        Thread.currentThread().interrupt();
        try {
            g.close();
            assertTrue(Thread.currentThread().isInterrupted(), "the interrupt was swallowed");
        } finally {
            Thread.interrupted();
        }
        assertEquals(List.of(16), allocator.releasedWorkers);
    }

    @Test
    void aRestartOnTheSameHostToleratesAClockStepBackWithinTheBackwardWait() {
        long now = clock.millis();
        ClockReport mine = new ClockReport(now + 500, now + 500, "host-a", 99, "test");
        allocator.next = () -> lease(17, Handover.mark(now + 500), WorkerLease.UNKNOWN_TIME, mine);
        generator = EkkoGenerator.start(settings(), allocator); // max backward wait 1 s
        assertTrue(millisOf(generator.next()) > now + 500);
    }

    @Test
    void aStoppedTermIsNeverPermittedAgain() {
        allocator.next = () -> lease(18, Handover.mark(0), WorkerLease.UNKNOWN_TIME, null);
        generator = EkkoGenerator.start(settings(), allocator);
        Term t = new Term(Term.Kind.LIVE, null, generator, 18, null, true, 0, null);
        long now = clock.millis() - LAYOUT.epochMillis();
        t.stop(Term.Stop.LEASE, "lost");
        t.permit(now + 10_000, System.nanoTime() + Duration.ofSeconds(10).toNanos(), now + 10_000);
        assertFalse(t.mayIssue(now, now), "a late renewal re-permitted a stopped term");
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail(e);
        }
    }
}
