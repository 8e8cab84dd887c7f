package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.ClockMovedBackwardsException;
import dev.ekko.EkkoException;
import dev.ekko.GeneratorClosedException;
import dev.ekko.GeneratorStatus;
import dev.ekko.GeneratorStatus.State;
import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import dev.ekko.LeaseLostException;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testkit.TestClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link IdGenerator#status()} and {@link IdGenerator#next(Duration)} through a generator's life: live, paused at its fence
 * deadline, lost, starting again, closed; the counters against what was really issued and waited for. The allocator is
 * scripted in memory ({@link LeaseLifecycleTest.ScriptedAllocator}): TTL 2 s, margin 300 ms, renewals every 200 ms.
 */
class GeneratorStatusTest {

    @TempDir
    Path stateDir;

    private final TestClock clock = new TestClock();
    private final LeaseLifecycleTest.ScriptedAllocator allocator = new LeaseLifecycleTest.ScriptedAllocator();
    private EkkoGenerator generator;

    @AfterEach
    void close() {
        if (generator != null) {
            generator.close();
        }
    }

    private GeneratorSettings settings(int productBits, Duration maxLead) {
        Layout layout = productBits == 0 ? Layout.defaults() : Layout.unsigned(Layout.defaults().epoch(), productBits);
        return new GeneratorSettings(layout, 2, 0, clock, stateDir, "scripted", Duration.ofMillis(500), maxLead,
                Duration.ofMillis(600), Duration.ofMillis(200), Duration.ofSeconds(1), Duration.ofMillis(300), "test", "host-a", 1);
    }

    private static WorkerLease lease(int worker, Handover handover) {
        return new WorkerLease(worker, "token-" + worker + "-" + System.nanoTime(), Duration.ofSeconds(2), System.nanoTime(), handover,
                WorkerLease.UNKNOWN_TIME, null);
    }

    private GeneratorStatus await(Predicate<GeneratorStatus> condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        GeneratorStatus s = generator.status();
        while (!condition.test(s)) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("status never " + what + ": " + s);
            }
            Thread.sleep(5);
            s = generator.status();
        }
        return s;
    }

    @Test
    void aLiveGeneratorShowsItsLeaseLimitRenewalAndSkew() throws Exception {
        allocator.coordinatorAhead = 40;
        allocator.next = () -> lease(3, Handover.mark(0));
        long before = clock.millis();
        generator = EkkoGenerator.start(settings(0, Duration.ZERO), allocator);
        GeneratorStatus s = await(x -> x.lastRenewal().isPresent(), "renewed by the keeper");
        long after = clock.millis();
        assertEquals(State.LIVE, s.state());
        assertTrue(s.available());
        assertEquals(java.util.Optional.empty(), s.reason());
        assertEquals(2, s.idc());
        assertEquals(3, s.workerId());
        assertEquals(0, s.product());
        assertEquals("scripted", s.allocator());
        Instant fence = s.fenceDeadline().orElseThrow();
        // The last renewal was sent after the build: fence = its send time + TTL 2 s - margin 300 ms.
        assertTrue(fence.toEpochMilli() >= before + 1700 && fence.toEpochMilli() <= after + 1700, fence + " vs " + before);
        assertEquals(fence.plusMillis(300), s.leaseExpiresAt().orElseThrow());
        assertTrue(s.issueLimit().orElseThrow().toEpochMilli() >= before + 600, "reservation of 600 ms: " + s.issueLimit());
        assertEquals(Duration.ZERO, s.lead());
        GeneratorStatus.Renewal r = s.lastRenewal().orElseThrow();
        assertTrue(r.succeeded() && r.failure().isEmpty(), r.toString());
        assertTrue(!r.at().isBefore(Instant.ofEpochMilli(before)) && !r.took().isNegative(), r.toString());
        // The scripted coordinator's clock is 40 ms ahead of ours: local minus coordinator, give or take the call.
        long skew = s.clockSkew().orElseThrow().toMillis();
        assertTrue(skew >= -40 && skew <= -20, "skew " + skew);
        assertEquals(new GeneratorStatus.Counters(0, 0, 0, 0, 0, 0, 0), s.counters());
    }

    /** The count is exact whenever no call is in flight: every product, next / fill / range, several threads, two terms. */
    @Test
    void idsIssuedIsExactAcrossThreadsProductsCallsAndALostTerm() throws Exception {
        LeaseRelay relay = new LeaseRelay();
        WorkerLease first = lease(4, Handover.mark(0));
        allocator.next = () -> first;
        generator = EkkoGenerator.start(settings(2, Duration.ofSeconds(1)), allocator, relay);
        assertEquals(0, generator.status().counters().idsIssued());
        List<CompletableFuture<Long>> threads = new ArrayList<>();
        for (int p = 0; p < 4; p++) {
            IdGenerator view = generator.forProduct(p);
            threads.add(CompletableFuture.supplyAsync(() -> {
                long[] batch = new long[777];
                for (int i = 0; i < 20_000; i++) {
                    view.next();
                }
                for (int i = 0; i < 30; i++) {
                    view.next(batch);
                }
                long ranged = 0;
                for (int i = 0; i < 100; i++) {
                    ranged += view.nextRange(50).count(); // up to 50: the rest of a millisecond may be shorter
                }
                return 20_000 + 30 * 777 + ranged;
            }));
        }
        long issued = 0;
        for (CompletableFuture<Long> f : threads) {
            issued += f.get(60, TimeUnit.SECONDS);
        }
        assertEquals(issued, generator.status().counters().idsIssued());
        assertEquals(issued, generator.forProduct(3).status().counters().idsIssued(), "a view reports the generator's counts");

        relay.leaseLost(first, "taken over");
        await(s -> s.state() != State.LIVE, "not live after the loss");
        allocator.next = () -> lease(4, Handover.mark(0));
        await(s -> s.state() == State.LIVE, "live again");
        for (int i = 0; i < 1000; i++) {
            generator.next();
        }
        GeneratorStatus s = generator.status();
        assertEquals(issued + 1000, s.counters().idsIssued());
        assertEquals(1, s.counters().leaseLosses());
        assertEquals(1, s.counters().reacquires());
        generator.close();
        assertEquals(issued + 1000, generator.status().counters().idsIssued(), "closing keeps the count");
    }

    /** On a frozen clock, so that every wait is one the test makes: none is left to the speed of the machine. */
    @Test
    void waitsForTheNextMillisecondAndForAClockStepBackAreCountedApart() throws Exception {
        allocator.next = () -> lease(5, Handover.mark(0));
        generator = EkkoGenerator.start(settings(0, Duration.ZERO), allocator);
        clock.freeze();
        useUpTheMillisecond();
        assertEquals(new GeneratorStatus.Counters(generator.status().counters().idsIssued(), 0, 0, 0, 0, 0, 0),
                generator.status().counters(), "no wait yet");
        nextAfterMovingTheClock(1); // waits for the next millisecond
        GeneratorStatus.Counters c = generator.status().counters();
        assertEquals(1, c.nextMillisecondWaits(), c.toString());
        assertEquals(0, c.clockBackWaits());

        useUpTheMillisecond();
        clock.stepMillis(-100); // behind the last issued millisecond, by less than the 500 ms a caller waits
        nextAfterMovingTheClock(101);
        c = generator.status().counters();
        assertEquals(1, c.nextMillisecondWaits(), c.toString());
        assertEquals(1, c.clockBackWaits(), c.toString());
        assertEquals(0, c.clockBackRefusals());

        useUpTheMillisecond();
        clock.stepMillis(-2000); // beyond it: refused at once
        assertThrows(ClockMovedBackwardsException.class, generator::next);
        c = generator.status().counters();
        assertEquals(1, c.clockBackWaits(), "refused at once, not a wait: " + c);
        assertEquals(1, c.clockBackRefusals());
    }

    /** Issues the rest of the current millisecond: sequence 1023 is taken when this returns (the clock is frozen). */
    private void useUpTheMillisecond() {
        for (;;) {
            if (generator.nextRange(1024).last() % 1024 == 1023) {
                return;
            }
        }
    }

    /** A caller waits for the frozen clock; the test moves it by {@code millis} and the call returns. */
    private void nextAfterMovingTheClock(long millis) throws Exception {
        CompletableFuture<Long> waiting = CompletableFuture.supplyAsync(generator::next);
        Thread.sleep(100);
        assertFalse(waiting.isDone(), "the caller waits for the clock");
        clock.stepMillis(millis);
        waiting.get(10, TimeUnit.SECONDS);
    }

    @Test
    void anUnreachableCoordinatorPausesItAtTheFenceThenALateRenewalResumesIt() throws Exception {
        allocator.next = () -> lease(6, Handover.mark(0));
        generator = EkkoGenerator.start(settings(0, Duration.ZERO), allocator);
        allocator.renewFailure = new EkkoException("connection refused: 127.0.0.1:1");
        GeneratorStatus s = await(x -> x.state() == State.PAUSED, "paused");
        assertTrue(s.reason().orElseThrow().contains("may have expired"), s.toString());
        assertTrue(s.fenceDeadline().orElseThrow().toEpochMilli() <= clock.millis(), "past its fence: " + s);
        GeneratorStatus.Renewal r = s.lastRenewal().orElseThrow();
        assertFalse(r.succeeded());
        assertTrue(r.failure().orElseThrow().contains("connection refused"), r.toString());
        assertFalse(s.available());

        allocator.renewFailure = null;
        s = await(x -> x.state() == State.LIVE, "live again");
        assertTrue(s.lastRenewal().orElseThrow().succeeded());
        assertEquals(1, s.counters().lateRenewals(), s.toString());
        assertEquals(0, s.counters().leaseLosses());
    }

    @Test
    void aLostLeaseShowsLostThenStartingWhileTheNewTermWaitsForItsFloor() throws Exception {
        LeaseRelay relay = new LeaseRelay();
        WorkerLease first = lease(7, Handover.mark(0));
        allocator.next = () -> first;
        generator = EkkoGenerator.start(settings(0, Duration.ZERO), allocator, relay);
        allocator.next = () -> {
            throw new EkkoException("coordinator down");
        };
        relay.leaseLost(first, "a watch saw the lease's key deleted");
        GeneratorStatus s = generator.status(); // the term stops at once; the keeper counts the loss right after
        assertEquals(State.LOST, s.state());
        assertTrue(s.reason().orElseThrow().contains("a watch saw the lease's key deleted"), s.toString());
        assertEquals(java.util.Optional.empty(), s.fenceDeadline());
        assertEquals(java.util.Optional.empty(), s.issueLimit());
        s = await(x -> x.counters().leaseLosses() == 1, "counting the loss");
        assertEquals(State.LOST, s.state());

        // No history: the new term waits TTL 2 s + skew 1 s before issuing, while the status says STARTING.
        allocator.next = () -> lease(8, Handover.unknown());
        s = await(x -> x.state() == State.STARTING, "starting");
        assertTrue(s.reason().orElseThrow().startsWith("acquiring a worker ID again after: "), s.toString());
        s = await(x -> x.state() == State.LIVE, "live");
        assertEquals(8, s.workerId());
        assertEquals(1, s.counters().reacquires());
        generator.close();
        s = generator.status();
        assertEquals(State.CLOSED, s.state());
        assertTrue(s.reason().orElseThrow().contains("closed"), s.toString());
        assertEquals(java.util.Optional.empty(), s.fenceDeadline());
    }

    @Test
    void nextWithATimeoutWaitsOutALostLeaseAndItsReacquire() throws Exception {
        LeaseRelay relay = new LeaseRelay();
        WorkerLease first = lease(9, Handover.mark(0));
        allocator.next = () -> first;
        generator = EkkoGenerator.start(settings(0, Duration.ZERO), allocator, relay);
        long before = generator.next();
        allocator.next = () -> {
            throw new EkkoException("coordinator down");
        };
        relay.leaseLost(first, "taken over");
        assertThrows(LeaseLostException.class, () -> generator.next(Duration.ZERO), "zero tries once");
        long t0 = System.nanoTime();
        assertThrows(LeaseLostException.class, () -> generator.next(Duration.ofMillis(300)));
        long waited = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(waited >= 300 && waited < 2000, "waited " + waited + " ms");

        CompletableFuture<Long> waiting = CompletableFuture.supplyAsync(() -> generator.next(Duration.ofSeconds(20)));
        Thread.sleep(500);
        assertFalse(waiting.isDone(), "still waiting for a worker ID");
        allocator.next = () -> lease(9, Handover.mark(0));
        long after = waiting.get(20, TimeUnit.SECONDS);
        assertTrue(Layout.compare(after, before) > 0);
    }

    @Test
    void nextWithATimeoutGivesUpAtOnceOnAClosedGeneratorAndChecksItsArgument() {
        allocator.next = () -> lease(10, Handover.mark(0));
        generator = EkkoGenerator.start(settings(0, Duration.ZERO), allocator);
        NullPointerException npe = assertThrows(NullPointerException.class, () -> generator.next((Duration) null));
        assertEquals("timeout", npe.getMessage());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> generator.next(Duration.ofSeconds(-1)));
        assertEquals("must be >= 0: timeout=PT-1S", e.getMessage());
        generator.next(Duration.ofDays(365L * 1_000_000)); // too long for nanoseconds: saturates
        generator.close();
        long t0 = System.nanoTime();
        assertThrows(GeneratorClosedException.class, () -> generator.next(Duration.ofSeconds(30)));
        assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(1), "no waiting on a closed generator");
    }
}
