package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the core does with what an allocator tells it: start floors from handover, clock checks, a lost
 * lease and the fresh acquire after it. The allocator here is scripted in memory: these tests are about
 * the core's side of the SPI; each real allocator runs the contract suite against its own server.
 */
class LeaseLifecycleTest {

    @TempDir
    Path stateDir;

    private final TestClock clock = new TestClock();
    private EkkoGenerator generator;

    /** Hands out leases made by a supplier, fails renewals on demand, records reports and releases. */
    static final class ScriptedAllocator implements WorkerAllocator {
        volatile Supplier<WorkerLease> next;
        volatile RuntimeException renewFailure;
        /** When not 0, renewals report a coordinator clock this many ms ahead of the test clock. */
        volatile long coordinatorAhead;
        final List<ClockReport> reports = new CopyOnWriteArrayList<>();
        final List<ClockReport> releases = new CopyOnWriteArrayList<>();

        @Override
        public WorkerLease acquire() {
            return next.get();
        }

        @Override
        public WorkerLease renew(WorkerLease lease, ClockReport report) {
            RuntimeException f = renewFailure;
            if (f != null) {
                throw f;
            }
            reports.add(report);
            long ahead = coordinatorAhead;
            return lease.renewed(System.nanoTime(), ahead == 0 ? WorkerLease.UNKNOWN_TIME : report.localTimeMillis() + ahead);
        }

        @Override
        public void release(WorkerLease lease, ClockReport finalReport) {
            releases.add(finalReport);
        }

        @Override
        public void close() {
        }
    }

    private final ScriptedAllocator allocator = new ScriptedAllocator();

    private GeneratorSettings settings(Duration maxSkew) {
        return settings(stateDir, maxSkew, Duration.ZERO);
    }

    private static WorkerLease lease(int worker, Handover handover, long coordinatorTime, ClockReport previous) {
        return new WorkerLease(worker, "token-" + worker, Duration.ofSeconds(2), System.nanoTime(), handover, coordinatorTime, previous);
    }

    @AfterEach
    void close() {
        if (generator != null) {
            generator.close();
        }
    }

    private long millisOf(long id) {
        return Layout.defaults().decode(id).epochMillis();
    }

    @Test
    void startsPastThePreviousHoldersReportedReservation() {
        long mark = clock.millis() + 400;
        allocator.next = () -> lease(3, Handover.mark(mark), WorkerLease.UNKNOWN_TIME, null);
        generator = EkkoGenerator.start(settings(Duration.ofSeconds(3)), allocator);
        assertTrue(millisOf(generator.next()) > mark);
        // The first report already carried a reservation past the mark, before anything was issued.
        assertTrue(allocator.reports.get(0).reservedUntilMillis() > mark);
    }

    @Test
    void withoutHistoryWaitsOutTheLongestLeaseAnEarlierHolderCouldStillHold() {
        long before = clock.millis();
        allocator.next = () -> lease(4, Handover.unknown(), WorkerLease.UNKNOWN_TIME, null);
        generator = EkkoGenerator.start(settings(Duration.ofMillis(100)), allocator);
        // TTL 2 s + max skew 100 ms
        assertTrue(millisOf(generator.next()) > before + 2100, "started before TTL + skew had passed");
    }

    @Test
    void refusesToStartWhenTheClockIsSkewedFromTheCoordinatorAndReleasesTheWorkerId() {
        long now = clock.millis();
        allocator.next = () -> lease(5, Handover.mark(0), now - 10_000, null);
        ClockSkewException e = assertThrows(ClockSkewException.class, () -> EkkoGenerator.start(settings(Duration.ofSeconds(3)), allocator));
        assertTrue(e.getMessage().startsWith("refusing to start idc=2 worker=5, local clock vs coordinator: local clock "), e.getMessage());
        assertTrue(e.getMessage().contains(" differs from reference " + Instant.ofEpochMilli(now - 10_000) + " by "), e.getMessage());
        assertTrue(e.getMessage().endsWith(" ms; allowed is 3000 ms (ekko.clock.max.skew); fix the clock (NTP) before starting"),
                e.getMessage());
        assertEquals(1, allocator.releases.size());
    }

    @Test
    void refusesToStartWhenTheClockIsBehindThisHostsLastReport() {
        long now = clock.millis();
        ClockReport mine = new ClockReport(now + 2000, now + 2000, "host-a", 99, "test");
        allocator.next = () -> lease(6, Handover.mark(now - 1), WorkerLease.UNKNOWN_TIME, mine);
        ClockSkewException e = assertThrows(ClockSkewException.class, () -> EkkoGenerator.start(settings(Duration.ofSeconds(3)), allocator));
        assertTrue(e.getMessage().startsWith("refusing to start idc=2 worker=6, local clock is behind this worker ID's last report"
                + " (by host-a, pid 99): "), e.getMessage());
        // Another host's report may be ahead by the tolerated skew.
        ClockReport other = new ClockReport(now + 2000, now - 1, "host-b", 98, "test");
        allocator.next = () -> lease(6, Handover.mark(now - 1), WorkerLease.UNKNOWN_TIME, other);
        generator = EkkoGenerator.start(settings(Duration.ofSeconds(3)), allocator);
        assertEquals(6, generator.workerId());
    }

    @Test
    void lostLeaseFencesAtOnceThenAFreshAcquireCarriesOnPastEveryEarlierId() throws Exception {
        allocator.next = () -> lease(7, Handover.mark(0), WorkerLease.UNKNOWN_TIME, null);
        generator = EkkoGenerator.start(settings(Duration.ofSeconds(3)), allocator);
        long before = 0;
        for (int i = 0; i < 3000; i++) {
            before = generator.next();
        }
        long lastReserved = allocator.reports.get(allocator.reports.size() - 1).reservedUntilMillis();
        allocator.renewFailure = new LeaseLostException("worker 7 was taken over");
        awaitThrows(LeaseLostException.class, "worker 7 was taken over");
        // The next holder of worker 7 is told of the last reservation reported: the new term must start past it.
        long mark = Math.max(lastReserved, allocator.reports.get(allocator.reports.size() - 1).reservedUntilMillis());
        allocator.renewFailure = null;
        allocator.next = () -> lease(7, Handover.mark(mark), WorkerLease.UNKNOWN_TIME, null);
        long after = awaitNext();
        assertTrue(Layout.compare(after, before) > 0);
        assertTrue(millisOf(after) > mark, "new term issued at or before the lost term's reservation");
    }

    /**
     * An allocator that learns of a loss between renewals (a watch on the coordinator) says so through the context's lease
     * listener: the next call to next() already throws, with no renewal in between (this allocator's renewals would still
     * succeed), and the keeper acquires again. A late call about the earlier lease is ignored.
     */
    @Test
    void aLeaseLostBetweenRenewalsStopsIssuingAtOnceThenAFreshAcquireCarriesOn() throws Exception {
        WorkerLease first = lease(7, Handover.mark(0), WorkerLease.UNKNOWN_TIME, null);
        allocator.next = () -> first;
        LeaseRelay relay = new LeaseRelay();
        generator = EkkoGenerator.start(settings(Duration.ofSeconds(3)), allocator, relay);
        long before = generator.next();
        assertEquals(java.util.Optional.empty(), generator.unavailableReason());
        relay.leaseLost(first, "a watch saw the lease's key deleted");
        LeaseLostException e = assertThrows(LeaseLostException.class, generator::next);
        assertTrue(e.getMessage().contains("a watch saw the lease's key deleted"), e.getMessage());
        assertTrue(generator.unavailableReason().orElse("").contains("a watch saw the lease's key deleted"),
                "a readiness check sees the loss: " + generator.unavailableReason());

        WorkerLease second = new WorkerLease(7, "token-7-again", Duration.ofSeconds(2), System.nanoTime(), Handover.mark(0),
                WorkerLease.UNKNOWN_TIME, null);
        allocator.next = () -> second;
        long after = awaitNext();
        assertTrue(Layout.compare(after, before) > 0);
        relay.leaseLost(first, "a late call about the earlier lease");
        generator.next(); // still issuing under the second lease
    }

    /**
     * A lease lost while the generator still waits for its start floor: it never issues under it; the start fails as it does
     * when a renewal during the wait finds the lease lost (a re-acquire on the keeper would be tried again).
     */
    @Test
    void aLeaseLostDuringTheStartWaitIsNeverIssuedUnder() throws Exception {
        WorkerLease first = lease(5, Handover.unknown(), WorkerLease.UNKNOWN_TIME, null); // waits TTL 2 s + skew 100 ms
        allocator.next = () -> first;
        LeaseRelay relay = new LeaseRelay();
        java.util.concurrent.CompletableFuture<EkkoGenerator> started = java.util.concurrent.CompletableFuture.supplyAsync(
                () -> EkkoGenerator.start(settings(Duration.ofMillis(100)), allocator, relay));
        Thread.sleep(500);
        assertTrue(!started.isDone(), "still waiting for the floor");
        relay.leaseLost(first, "a watch saw the lease's key deleted");
        java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
                () -> started.get(10, java.util.concurrent.TimeUnit.SECONDS));
        assertTrue(e.getCause() instanceof LeaseLostException && e.getCause().getMessage().contains("a watch saw the lease's key"
                + " deleted"), String.valueOf(e.getCause()));
    }

    @Test
    void unreachableCoordinatorFencesAtTheDeadlineNotBefore() throws Exception {
        // Frozen wall time: the monotonic deadline is under test, and a real clock adjustment must not fence early.
        clock.freeze();
        allocator.next = () -> lease(8, Handover.mark(0), WorkerLease.UNKNOWN_TIME, null);
        generator = EkkoGenerator.start(settings(Duration.ofSeconds(3)), allocator);
        allocator.renewFailure = new EkkoException("connection refused: 127.0.0.1:1");
        long t0 = System.nanoTime();
        generator.next(); // still within the lease
        assertEquals(java.util.Optional.empty(), generator.unavailableReason(), "may still issue");
        LeaseLostException e = awaitThrows(LeaseLostException.class, "may have expired");
        long fencedAfterMillis = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(generator.unavailableReason().orElse("").contains("may have expired"),
                "past the fence deadline a readiness check says so: " + generator.unavailableReason());
        // TTL 2 s - margin 300 ms after the last successful renewal (at most one 200 ms interval before t0).
        assertTrue(fencedAfterMillis >= 1400 && fencedAfterMillis < 2500, "fenced after " + fencedAfterMillis + " ms: " + e.getMessage());
        allocator.renewFailure = null; // the coordinator is back and the lease still valid there
        awaitNext();
        assertEquals(java.util.Optional.empty(), generator.unavailableReason(), "issuing again");
        generator.close();
        assertTrue(generator.unavailableReason().orElse("").contains("closed"), String.valueOf(generator.unavailableReason()));
    }

    /**
     * Renewals that find the coordinator's clock far ahead: the generator issues up to the limit set while the clocks agreed,
     * then refuses; a readiness check says so from then on, and is clear again once the clocks agree.
     */
    @Test
    void aClockThatStopsAgreeingWithTheCoordinatorIsNotReadyOnceItsLimitIsReached() throws Exception {
        allocator.next = () -> lease(6, Handover.mark(0), WorkerLease.UNKNOWN_TIME, null);
        generator = EkkoGenerator.start(settings(Duration.ofSeconds(1)), allocator);
        generator.next();
        assertEquals(java.util.Optional.empty(), generator.unavailableReason());
        allocator.coordinatorAhead = 10_000;
        awaitThrows(ClockSkewException.class, "");
        assertTrue(generator.unavailableReason().orElse("").contains("not issuing past"),
                "held at its limit by the skew: " + generator.unavailableReason());
        allocator.coordinatorAhead = 0;
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (generator.unavailableReason().isPresent() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(java.util.Optional.empty(), generator.unavailableReason(), "the clocks agree again");
        generator.next();
    }

    private <T extends RuntimeException> T awaitThrows(Class<T> type, String messagePart) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (System.nanoTime() < deadline) {
            try {
                generator.next();
            } catch (RuntimeException e) {
                if (type.isInstance(e) && e.getMessage().contains(messagePart)) {
                    return type.cast(e);
                }
                throw e;
            }
            Thread.sleep(5);
        }
        throw new AssertionError("next() kept issuing: expected " + type.getSimpleName() + " containing \"" + messagePart + "\"");
    }

    private long awaitNext() throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        for (;;) {
            try {
                return generator.next();
            } catch (LeaseLostException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(20);
            }
        }
    }

    // ---------------------------------------------------------------- found in review (each failed before its fix)

    private GeneratorSettings settings(Path dir, Duration maxSkew, Duration maxLead) {
        return new GeneratorSettings(Layout.defaults(), 2, 0, clock, dir, "scripted", Duration.ofSeconds(1), maxLead,
                Duration.ofMillis(600), Duration.ofMillis(200), maxSkew, Duration.ofMillis(300), "test", "host-a", 1);
    }

    @Test
    void aStartThatFailsEarlyStillReportsTheFloorAnUnknownHistoryNeeds() {
        long now = clock.millis();
        allocator.next = () -> lease(9, Handover.unknown(), now - 10_000, null); // fails the skew check, before any floor
        assertThrows(ClockSkewException.class, () -> EkkoGenerator.start(settings(stateDir, Duration.ofMillis(100), Duration.ZERO),
                allocator));
        // TTL 2 s + skew 100 ms: an earlier holder the coordinator forgot may issue until then; the next holder must not.
        assertTrue(allocator.releases.get(0).reservedUntilMillis() >= now + 2100, "final report " + allocator.releases.get(0));
    }

    @Test
    void withoutHistoryABoundedLeadHolderStartsPastAnEarlierHoldersLead() {
        clock.freeze();
        long t0 = clock.millis();
        ScriptedAllocator first = new ScriptedAllocator();
        first.next = () -> lease(11, Handover.mark(0), WorkerLease.UNKNOWN_TIME, null);
        EkkoGenerator a = EkkoGenerator.start(settings(stateDir.resolve("a"), Duration.ofMillis(100), Duration.ofSeconds(5)), first);
        long[] burst = new long[1024 * 3000]; // about 3 s of lead, within A's valid lease
        a.next(burst, 0, burst.length);
        long aLast = burst[burst.length - 1];
        // The coordinator lost its data; B, with the fleet's settings, acquires worker 11 with no history.
        allocator.next = () -> lease(11, Handover.unknown(), WorkerLease.UNKNOWN_TIME, null);
        CompletableFuture<EkkoGenerator> b = CompletableFuture.supplyAsync(
                () -> EkkoGenerator.start(settings(stateDir.resolve("b"), Duration.ofMillis(100), Duration.ofSeconds(5)), allocator));
        clock.unfreeze();
        generator = b.join();
        long first2 = generator.next();
        a.close();
        assertTrue(Layout.compare(first2, aLast) > 0, "B issued " + (millisOf(first2) - t0) + " ms after t0, A had reached "
                + (millisOf(aLast) - t0));
    }

    @Test
    void aFloorAheadIsWaitedForOnlyUntilTheClockPlusTheLeadPassesIt() {
        long mark = clock.millis() + 1000;
        allocator.next = () -> lease(12, Handover.mark(mark), WorkerLease.UNKNOWN_TIME, null);
        generator = EkkoGenerator.start(settings(stateDir, Duration.ofMillis(100), Duration.ofMillis(800)), allocator);
        long first = millisOf(generator.next());
        long clockAfter = clock.millis();
        assertTrue(first > mark);
        // Issued on the lead, ahead of the clock: the start did not wait for the clock itself to pass the floor.
        assertTrue(first > clockAfter, "first ID at " + first + " is not ahead of the clock " + clockAfter
                + ": the start waited for the floor itself, not for the clock plus the lead");
    }
}
