package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.ClockMovedBackwardsException;
import dev.ekko.DecodedId;
import dev.ekko.Ekko;
import dev.ekko.EkkoClock;
import dev.ekko.IdGenerator;
import dev.ekko.IdRange;
import dev.ekko.Layout;
import dev.ekko.testkit.TestClock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The adaptive spread: a millisecond entered from one that was used up starts at sequence 0, any other (the first of a
 * term included) at {@link Sequencer#firstSequence}. A saturated stream so loses no number, low rates still spread
 * ({@code ShardSpreadTest}), and the IDs-issued count, no longer a function of the states alone, stays exact when quiet
 * and never runs ahead of the IDs issued while it races.
 */
class AdaptiveSpreadTest {

    @TempDir
    Path stateDir;

    @TempDir
    Path hostLocks;

    private final Layout layout = Layout.defaults();
    private IdGenerator generator;

    @AfterEach
    void close() {
        if (generator != null) {
            generator.close();
        }
    }

    private Ekko.Builder builder(EkkoClock clock) {
        return Ekko.newBuilder().clock(clock).stateDirectory(stateDir).hostLockDirectory(hostLocks).workerId(42);
    }

    private long firstSequence(long epochMillis) {
        return Sequencer.firstSequence(epochMillis - layout.epochMillis());
    }

    /** Issues single IDs until one has sequence 1023 (the clock is frozen); returns them. */
    private static List<Long> useUp(IdGenerator g, Layout layout) {
        List<Long> ids = new ArrayList<>();
        for (;;) {
            long id = g.next();
            ids.add(id);
            if (layout.decode(id).sequence() == 1023) {
                return ids;
            }
        }
    }

    /**
     * Real time on a stepped clock, one millisecond after the other used up: every millisecond after the first issues all
     * 1,024 numbers (it issued 1,024 - firstSequence, 1,009 to 1,024, when every millisecond started at the hash).
     */
    @Test
    void aSaturatedStreamIssuesEveryNumberOfEveryMillisecondAfterItsFirst() {
        TestClock clock = new TestClock();
        generator = builder(clock).build();
        clock.freeze();
        long prev = 0;
        long issued = 0;
        for (int m = 0; m < 64; m++) {
            clock.stepMillis(1);
            List<Long> ids = useUp(generator, layout);
            for (long id : ids) {
                DecodedId d = layout.decode(id);
                assertEquals(clock.millis(), d.epochMillis());
                assertTrue(prev == 0 || Layout.compare(prev, id) < 0, "not increasing in ms " + m);
                prev = id;
            }
            long first = layout.decode(ids.get(0)).sequence();
            // The first millisecond is entered from the start state, which counts as not used up.
            long expectedFirst = m == 0 ? firstSequence(clock.millis()) : 0;
            assertEquals(expectedFirst, first, "first sequence of ms " + m);
            assertEquals(1024 - expectedFirst, ids.size(), "IDs of ms " + m);
            issued += ids.size();
        }
        assertEquals(issued, generator.status().counters().idsIssued());
        // The next millisecond, entered from a used-up one by a single ID, starts at 0 too.
        clock.stepMillis(1);
        assertEquals(0, layout.decode(generator.next()).sequence());
        generator.close();
        assertEquals(issued + 1, generator.status().counters().idsIssued(), "after close");
    }

    /** The same on the real clock: a thread that keeps every millisecond used up starts each at 0, whatever the load. */
    @Test
    void onTheRealClockAMillisecondEnteredFromAUsedUpOneStartsAtZero() {
        generator = builder(new TestClock()).build();
        long[] ids = new long[400_000];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = generator.next();
        }
        int transitions = 0;
        int fromUsedUp = 0;
        for (int i = 1; i < ids.length; i++) {
            assertTrue(Layout.compare(ids[i - 1], ids[i]) < 0);
            DecodedId a = layout.decode(ids[i - 1]);
            DecodedId b = layout.decode(ids[i]);
            if (a.epochMillis() != b.epochMillis()) {
                transitions++;
                // A millisecond not used up (the thread was descheduled past its end) is followed by one at the hash.
                long expected = a.sequence() == 1023 ? 0 : firstSequence(b.epochMillis());
                assertEquals(expected, b.sequence(), "ms " + b.epochMillis() + " after " + a);
                fromUsedUp += a.sequence() == 1023 ? 1 : 0;
            }
        }
        // Not vacuous: some milliseconds were used up (a thread slower than 1,024 IDs a millisecond would use none up).
        assertTrue(fromUsedUp >= 10, fromUsedUp + " of " + transitions + " transitions from a used-up ms");
        assertEquals(ids.length, generator.status().counters().idsIssued());
    }

    /**
     * Bursts that use a millisecond up, then single IDs: the millisecond after a burst starts at 0, the next ones (each
     * entered from one that issued one ID) at the hash, and the count is exact after every step and after close.
     */
    @Test
    void burstsThenSingleIdsStartWhereTheMillisecondBeforeSaysAndAreCountedExactly() {
        TestClock clock = new TestClock();
        generator = builder(clock).maxBackwardWait(Duration.ofMillis(50)).build();
        clock.freeze();
        long prev = 0;
        long issued = 0;
        for (int round = 0; round < 40; round++) {
            // A burst: the rest of a fresh millisecond, in ranges, until it is used up.
            clock.stepMillis(1);
            boolean usedUp = false;
            boolean firstRange = true;
            while (!usedUp) {
                IdRange r = generator.nextRange(1 + round * 37 % 700);
                assertTrue(prev == 0 || Layout.compare(prev, r.first()) < 0);
                prev = r.last();
                issued += r.count();
                DecodedId d = layout.decode(r.first());
                assertEquals(clock.millis(), d.epochMillis());
                if (firstRange) {
                    // Round 0 is entered from the start state; later bursts from a millisecond that issued one ID.
                    assertEquals(firstSequence(clock.millis()), d.sequence(), "burst of round " + round);
                    firstRange = false;
                }
                usedUp = layout.decode(r.last()).sequence() == 1023;
            }
            assertThrows(ClockMovedBackwardsException.class, generator::next, "used up, the clock frozen");
            assertEquals(issued, generator.status().counters().idsIssued(), "after the burst of round " + round);
            // Single IDs, 1 to 3 milliseconds apart.
            for (int i = 0; i < 5; i++) {
                clock.stepMillis(1 + (round + i) % 3);
                long id = generator.next();
                assertTrue(Layout.compare(prev, id) < 0);
                prev = id;
                issued++;
                DecodedId d = layout.decode(id);
                long expected = i == 0 ? 0 : firstSequence(clock.millis());
                assertEquals(expected, d.sequence(), "single ID " + i + " of round " + round + (i == 0 ? ", after the burst" : ""));
                assertEquals(issued, generator.status().counters().idsIssued(), "single ID " + i + " of round " + round);
            }
        }
        generator.close();
        assertEquals(issued, generator.status().counters().idsIssued(), "after close");
    }

    /**
     * A wall clock that moves one millisecond every {@code per} reads, whoever reads it: milliseconds go by at the pace of
     * the calls, so a racing test enters millions of them, some used up (a range takes the rest), most not.
     */
    static final class TickingClock implements EkkoClock {
        private final long start = System.currentTimeMillis();
        private final AtomicLong reads = new AtomicLong();
        private final int per;

        TickingClock(int per) {
            this.per = per;
        }

        @Override
        public long millis() {
            return start + reads.getAndIncrement() / per;
        }

        @Override
        public long nanos() {
            return System.nanoTime();
        }
    }

    /**
     * The mixed pattern racing: two threads take single IDs and ranges that use the rest of a millisecond up, on a clock
     * that moves with the calls, while this thread reads the status as fast as it can. Every count read is at most the IDs
     * the issuers may hold by then (what they got plus what they asked for in calls still running), never below the one
     * before, and exact once they stop and after close. Each thread's IDs strictly increase.
     */
    @Test
    void theCountRacingMillisecondChangesNeverRunsAheadAndEndsExact() throws Exception {
        generator = builder(new TickingClock(8)).reservation(Duration.ofHours(1)).maxBackwardWait(Duration.ofSeconds(30)).build();
        AtomicLong mayHold = new AtomicLong(); // raised before a call by what it asks for, lowered after by what it did not get
        AtomicLong got = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> issuers = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            Thread issuer = new Thread(() -> {
                try {
                    long prev = 0;
                    ThreadLocalRandom random = ThreadLocalRandom.current();
                    while (!stop.get()) {
                        if (random.nextInt(16) == 0) {
                            mayHold.addAndGet(1024);
                            IdRange r = generator.nextRange(1024); // the rest of a millisecond: used up
                            mayHold.addAndGet(r.count() - 1024);
                            got.addAndGet(r.count());
                            assertTrue(prev == 0 || Layout.compare(prev, r.first()) < 0);
                            prev = r.last();
                        } else {
                            mayHold.incrementAndGet();
                            long id = generator.next();
                            got.incrementAndGet();
                            assertTrue(prev == 0 || Layout.compare(prev, id) < 0);
                            prev = id;
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
            });
            issuer.setDaemon(true);
            issuers.add(issuer);
        }
        issuers.forEach(Thread::start);
        String problem = null;
        long snapshots = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
        try {
            long last = 0;
            while (problem == null && System.nanoTime() < deadline && failure.get() == null) {
                long count = generator.status().counters().idsIssued();
                long bound = mayHold.get();
                snapshots++;
                if (count > bound) {
                    problem = "counted " + count + ", but at most " + bound + " issued";
                } else if (count < last) {
                    problem = "went down: " + last + " then " + count;
                }
                last = count;
            }
        } finally {
            stop.set(true);
            for (Thread issuer : issuers) {
                issuer.join(30_000);
            }
        }
        assertNull(failure.get(), "an issuer failed: " + failure.get());
        assertNull(problem, problem);
        assertTrue(snapshots > 100, snapshots + " snapshots");
        assertEquals(got.get(), mayHold.get());
        assertEquals(got.get(), generator.status().counters().idsIssued(), "quiet: exact");
        generator.close();
        assertEquals(got.get(), generator.status().counters().idsIssued(), "after close");
    }

    /**
     * Striped spill ({@link Sequencer#claimIn}): one thread uses up a millisecond on all three stripes, then the next one.
     * Each stripe enters the first from a millisecond it did not use up (or its start state), at the hash; it enters the
     * second from one it used up, at 0, so that one gives all 3 × 1,024 numbers (3 × (1,024 - firstSequence) before).
     */
    @Test
    void aSpillIntoAStripeThatUsedItsMillisecondUpStartsAtZero() {
        TestClock clock = new TestClock();
        IdGenerator g = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).allocator("host-local").stripes(3)
                .clock(clock).maxBackwardWait(Duration.ofMillis(50)).build();
        generator = g;
        {
            g.next(); // the home stripe issues one ID; the others stay at their start states
            clock.stepMillis(5);
            clock.freeze();
            // A second millisecond whose hash is not 0, so that the old rule would show.
            while (firstSequence(clock.millis() + 1) == 0) {
                clock.stepMillis(1);
            }
            long issued = 1;
            for (int m = 0; m < 2; m++) {
                long ms = clock.millis();
                List<Long> ids = new ArrayList<>();
                assertThrows(ClockMovedBackwardsException.class, () -> {
                    for (;;) {
                        ids.add(g.next());
                    }
                });
                long first = m == 0 ? firstSequence(ms) : 0;
                assertEquals(3 * (1024 - first), ids.size(), "IDs of ms " + m);
                Map<Integer, List<Integer>> perWorker = new HashMap<>();
                for (long id : ids) {
                    DecodedId d = layout.decode(id);
                    assertEquals(ms, d.epochMillis());
                    perWorker.computeIfAbsent(d.worker(), k -> new ArrayList<>()).add(d.sequence());
                }
                assertEquals(3, perWorker.size());
                for (List<Integer> seqs : perWorker.values()) {
                    assertEquals(1024 - first, seqs.size());
                    assertEquals(first, (long) new TreeSet<>(seqs).first(), "a stripe's first sequence in ms " + m);
                    assertEquals(1024 - first, new TreeSet<>(seqs).size());
                }
                issued += ids.size();
                assertEquals(issued, g.status().counters().idsIssued(), "ms " + m);
                clock.stepMillis(1);
            }
            g.close();
            assertEquals(issued, g.status().counters().idsIssued(), "after close");
        }
    }
}
