package dev.ekko;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.internal.LogCapture;
import dev.ekko.testkit.TestClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the generator does when the clock steps back, stands still, or 1024 IDs are not enough for a millisecond. */
class GeneratorClockTest {

    @TempDir
    Path stateDir;

    /** Its own host lock directory, so worker IDs do not contend with other tests or test runs on this host. */
    @TempDir
    Path hostLocks;

    private final TestClock clock = new TestClock();
    private IdGenerator generator;

    private Ekko.Builder builder() {
        return Ekko.newBuilder().clock(clock).stateDirectory(stateDir).hostLockDirectory(hostLocks).workerId(42);
    }

    @AfterEach
    void close() {
        if (generator != null) {
            generator.close();
        }
    }

    private static long millisOf(IdGenerator g, long id) {
        return g.layout().decode(id).epochMillis();
    }

    /**
     * Freezes the clock one millisecond past anything used so far and uses that millisecond up (its sequence runs from its
     * first number to 1023); returns the last ID. Every caller enters it from the start state or from a millisecond that
     * issued one ID, neither used up, so its first number is the millisecond's hash, 0..15.
     */
    private long exhaustFrozenMillisecond(IdGenerator g) {
        clock.freeze();
        clock.stepMillis(1);
        long first = g.next();
        int firstSequence = g.layout().decode(first).sequence();
        assertTrue(firstSequence < 16, "a millisecond starts at 0..15: " + firstSequence);
        long last = first;
        for (int i = firstSequence + 1; i < 1024; i++) {
            last = g.next();
        }
        assertEquals(millisOf(g, first), millisOf(g, last), "the millisecond's IDs must share it");
        assertEquals(1023, g.layout().decode(last).sequence());
        return last;
    }

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(10, TimeUnit.SECONDS);
    }

    private static void assertStillWaiting(CompletableFuture<?> f) throws Exception {
        assertThrows(TimeoutException.class, () -> f.get(100, TimeUnit.MILLISECONDS), "next() returned instead of waiting");
    }

    @Test
    void waitsForTheNextMillisecondWhenTheSequenceIsUsedUpAndNeverRepeats() throws Exception {
        generator = builder().build();
        clock.freeze();
        long last = exhaustFrozenMillisecond(generator);
        CompletableFuture<Long> next = CompletableFuture.supplyAsync(generator::next);
        assertStillWaiting(next);
        clock.stepMillis(1);
        long id = await(next);
        assertTrue(Layout.compare(id, last) > 0);
        assertEquals(millisOf(generator, last) + 1, millisOf(generator, id));
        assertEquals(0, generator.layout().decode(id).sequence(), "a millisecond entered from a used-up one starts at 0");
    }

    @Test
    void waitsOutSmallBackwardSteps() throws Exception {
        generator = builder().build();
        for (long step : new long[] {1, 10}) {
            clock.freeze();
            long last = exhaustFrozenMillisecond(generator);
            clock.stepMillis(-step);
            CompletableFuture<Long> next = CompletableFuture.supplyAsync(generator::next);
            assertStillWaiting(next);
            clock.stepMillis(step + 1);
            long id = await(next);
            assertTrue(Layout.compare(id, last) > 0, "step back " + step + " ms");
            assertEquals(millisOf(generator, last) + 1, millisOf(generator, id));
            clock.unfreeze();
        }
    }

    @Test
    void keepsIssuingInTheLastMillisecondWhileItHasSequenceLeftAfterAStepBack() {
        generator = builder().build();
        clock.freeze();
        long a = generator.next();
        clock.stepMillis(-5000);
        long b = generator.next();
        assertTrue(Layout.compare(b, a) > 0);
        assertEquals(millisOf(generator, a), millisOf(generator, b));
    }

    @Test
    void refusesAtOnceWhenTheClockIsFurtherBehindThanTheWaitBound() {
        generator = builder().build();
        clock.freeze();
        long last = exhaustFrozenMillisecond(generator);
        clock.stepMillis(-5000);
        long t0 = System.nanoTime();
        ClockMovedBackwardsException e = assertThrows(ClockMovedBackwardsException.class, generator::next);
        assertTrue(System.nanoTime() - t0 < Duration.ofMillis(500).toNanos(), "should not wait for a 5 s step with a 1 s bound");
        long lastMillis = millisOf(generator, last);
        assertEquals(lastMillis, e.lastIssuedMillis());
        assertEquals(lastMillis - 5000, e.clockMillis());
        assertTrue(e.getMessage().startsWith("clock is 5000 ms behind the last issued millisecond (clock="
                + java.time.Instant.ofEpochMilli(lastMillis - 5000) + ", lastIssued=" + java.time.Instant.ofEpochMilli(lastMillis)
                + "), waited 0 ms"), e.getMessage());
        // Once the clock is back past the mark, IDs resume, above every earlier one.
        clock.stepMillis(5001);
        assertTrue(Layout.compare(generator.next(), last) > 0);
    }

    @Test
    void givesUpAfterTheWaitBoundWhenTheClockStaysBehind() {
        generator = builder().maxBackwardWait(Duration.ofMillis(200)).build();
        clock.freeze();
        exhaustFrozenMillisecond(generator);
        clock.stepMillis(-100);
        long t0 = System.nanoTime();
        ClockMovedBackwardsException e = assertThrows(ClockMovedBackwardsException.class, generator::next);
        long waited = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(waited >= 200 && waited < 2000, "waited " + waited + " ms");
        assertTrue(e.getMessage().contains("clock is 100 ms behind"), e.getMessage());
    }

    @Test
    void waitIsInterruptibleAndKeepsTheInterruptFlag() throws Exception {
        generator = builder().build();
        clock.freeze();
        exhaustFrozenMillisecond(generator);
        CompletableFuture<Throwable> thrown = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                generator.next();
                thrown.complete(null);
            } catch (Throwable e) {
                thrown.complete(new IllegalStateException("interrupted=" + Thread.currentThread().isInterrupted(), e));
            }
        });
        t.start();
        Thread.sleep(50);
        t.interrupt();
        Throwable e = await(thrown);
        assertTrue(e != null && e.getCause() instanceof GenerationInterruptedException, String.valueOf(e));
        assertEquals("interrupted=true", e.getMessage());
    }

    @Test
    void boundedLeadModeRunsAheadOfAFrozenClockUpToTheLead() {
        generator = builder().maxLead(Duration.ofMillis(20)).maxBackwardWait(Duration.ZERO).build();
        clock.freeze();
        long start = clock.millis();
        long prev = generator.next();
        java.util.Map<Long, int[]> perMillisecond = new java.util.TreeMap<>(); // ms -> {count, first sequence, last sequence}
        java.util.function.LongConsumer count = id -> {
            DecodedId d = generator.layout().decode(id);
            int[] c = perMillisecond.computeIfAbsent(d.epochMillis(), k -> new int[] {0, d.sequence(), 0});
            c[0]++;
            c[2] = d.sequence();
        };
        count.accept(prev);
        try {
            for (;;) {
                long id = generator.next();
                assertTrue(Layout.compare(id, prev) > 0);
                prev = id;
                count.accept(id);
            }
        } catch (ClockMovedBackwardsException expected) {
            // the lead is used up and the clock does not move
        }
        long lead = millisOf(generator, prev) - start;
        assertEquals(20, lead, "last millisecond used");
        assertEquals(20, generator.leadMillis());
        assertEquals(21, perMillisecond.size(), "the frozen ms and 20 ms of lead");
        for (java.util.Map.Entry<Long, int[]> e : perMillisecond.entrySet()) {
            int[] c = e.getValue();
            // The frozen ms is entered from the start state (its hash, 0..15); each ms of lead from a used-up one (0).
            boolean ofLead = e.getKey() > start;
            assertTrue((ofLead ? c[1] == 0 : c[1] < 16) && c[2] == 1023 && c[0] == 1024 - c[1], "ms " + e.getKey() + ": every"
                    + " number from its first (" + (ofLead ? "0" : "0..15") + ") to 1023, once: count " + c[0] + ", first " + c[1]
                    + ", last " + c[2]);
        }
        clock.unfreeze();
    }

    @Test
    void boundedLeadModeRidesOutABackwardStepSmallerThanTheLead() {
        generator = builder().maxLead(Duration.ofMillis(50)).build();
        long a = generator.next();
        clock.stepMillis(-30);
        long t0 = System.nanoTime();
        long prev = a;
        for (int i = 0; i < 20_000; i++) {
            long id = generator.next();
            assertTrue(Layout.compare(id, prev) > 0);
            prev = id;
        }
        assertTrue(generator.leadMillis() <= 50, "lead " + generator.leadMillis());
        assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(5).toNanos());
    }

    @Test
    void realTimeModeHasNoLead() {
        generator = builder().build();
        for (int i = 0; i < 10_000; i++) {
            generator.next();
        }
        assertEquals(0, generator.leadMillis());
    }

    @Test
    void restartInsideTheSameMillisecondIssuesPastTheEarlierRun() throws Exception {
        clock.freeze();
        IdGenerator first = builder().build();
        long last = first.next();
        first.close();
        CompletableFuture<IdGenerator> second = CompletableFuture.supplyAsync(() -> builder().build());
        assertThrows(TimeoutException.class, () -> second.get(100, TimeUnit.MILLISECONDS), "started inside the same millisecond");
        clock.unfreeze();
        generator = await(second);
        long id = generator.next();
        assertTrue(millisOf(generator, id) > millisOf(generator, last), "restart reused the earlier run's millisecond");
    }

    @Test
    void restartWithTheClockBehindTheHighWaterMarkWaitsOrRefuses() {
        IdGenerator first = builder().build();
        long last = 0;
        for (int i = 0; i < 5000; i++) {
            last = first.next();
        }
        first.close();
        clock.stepMillis(-5000);
        ClockMovedBackwardsException e = assertThrows(ClockMovedBackwardsException.class, () -> builder().build());
        assertTrue(e.getMessage().startsWith("refusing to start idc=0 worker=42 (last issued millisecond of the previous run"
                + " (clean shutdown)): clock is "), e.getMessage());
        clock.stepMillis(4700); // now 300 ms behind: within the default 1 s wait
        generator = builder().build();
        long id = generator.next();
        assertTrue(Layout.compare(id, last) > 0);
        assertTrue(millisOf(generator, id) > millisOf(generator, last));
    }

    @Test
    void refusesToStartWhenTheLayoutsTimeHasRunOut() {
        Instant epoch = Instant.parse("2010-01-01T00:00:00Z");
        IdSpaceExhaustedException e = assertThrows(IdSpaceExhaustedException.class,
                () -> builder().epoch(epoch).positiveIds(true).build());
        assertTrue(e.getMessage().startsWith("time has run out for this layout: now="), e.getMessage());
        // 38 time bits: 2^38 ms after the epoch is the end of time.
        assertTrue(e.getMessage().contains(" is past the layout's end of time " + epoch.plusMillis(1L << 38) + " "), e.getMessage());
    }

    @Test
    void warnsAtStartWhenLessThanAYearIsLeft() {
        try (LogCapture log = LogCapture.of("dev.ekko", java.util.logging.Level.WARNING)) {
            // 38 time bits last 2^38 ms (about 3181 days); start the epoch 3000 days ago: about 181 days are left.
            Instant epoch = Instant.ofEpochMilli(clock.millis()).minus(Duration.ofDays(3000)).truncatedTo(java.time.temporal.ChronoUnit.DAYS);
            generator = builder().epoch(epoch).positiveIds(true).build();
            List<String> warnings = log.messages(java.util.logging.Level.WARNING);
            assertTrue(warnings.stream().anyMatch(w -> w.startsWith("less than a year left for this layout: IDs stop at "
                    + epoch.plusMillis(1L << 38))), warnings.toString());
        }
    }

    @Test
    void productViewsHaveTheirOwnSequenceAndAreDistinct() {
        generator = builder().productBits(2).build();
        IdGenerator p3 = generator.forProduct(3);
        long a = generator.next();
        long b = p3.next();
        assertEquals(0, generator.layout().decode(a).product());
        assertEquals(3, generator.layout().decode(b).product());
        assertEquals(42, generator.layout().decode(b).worker());
        assertFalse(a == b);
        assertEquals(3, p3.product());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> generator.forProduct(4));
        assertEquals("must be >= 0 && <= 3 (ekko.product.bits=2): product=4", e.getMessage());
    }

    @Test
    void closedGeneratorRefuses() {
        IdGenerator g = builder().build();
        g.next();
        g.close();
        GeneratorClosedException e = assertThrows(GeneratorClosedException.class, g::next);
        assertEquals("generator is closed: idc=0 worker=42", e.getMessage());
        g.close();
    }

    /**
     * Issue #8, item 12: the clock set back a minute across a restart. The instance's worker ID's state file is ahead of
     * the clock, but other worker IDs are free: host-local gives it back and starts on another one at once, instead of
     * failing every start until the clock catches up. (Before: ClockMovedBackwardsException.)
     */
    @Test
    void hostLocalSwapsAWorkerIdWhoseStateFileIsAheadOfTheClock() {
        Ekko.Builder b = Ekko.newBuilder().clock(clock).stateDirectory(stateDir).hostLockDirectory(hostLocks).allocator("host-local");
        clock.stepMillis(60_000);
        try (IdGenerator ahead = b.build()) {
            assertEquals(0, ahead.workerId());
            ahead.next();
        }
        clock.stepMillis(-60_000);
        generator = b.build();
        assertEquals(1, generator.workerId());
        generator.next();
    }
}
