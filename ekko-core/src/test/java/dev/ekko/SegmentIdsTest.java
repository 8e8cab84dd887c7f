package dev.ekko;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.spi.Segment;
import dev.ekko.spi.SegmentStore;
import dev.ekko.spi.SegmentStoreProvider;
import dev.ekko.testkit.TestClock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The segment generator's own logic (double buffer, adaptive step, several stores, failures, bad input) over an in-memory
 * store: a test double of the SPI, not a server. The stores of MySQL, Redis and etcd run the store contract suite against
 * their real servers.
 */
class SegmentIdsTest {

    /** A store in memory: one counter per name, its residue class, a switch to make it fail. */
    static final class MemoryStore implements SegmentStore {
        final int delta;
        final int remainder;
        final Map<String, long[]> names = new HashMap<>(); // name -> {next, max}
        volatile boolean down;
        final List<String> takenBy = new CopyOnWriteArrayList<>();
        final List<Long> counts = new CopyOnWriteArrayList<>();

        MemoryStore(int delta, int remainder) {
            this.delta = delta;
            this.remainder = remainder;
        }

        @Override
        public synchronized void define(String name, long start, long max) {
            names.putIfAbsent(name, new long[] {start, max});
        }

        @Override
        public synchronized Segment take(String name, long count, long floor) {
            if (down) {
                throw new EkkoException("memory store " + remainder + " is down");
            }
            long[] c = names.get(name);
            if (c == null) {
                throw new IllegalArgumentException("unknown segment name \"" + name + "\" at memory store " + remainder);
            }
            long next = Math.max(c[0], floor + 1);
            next += Math.floorMod(remainder - next, delta); // the smallest number of the residue class at or above
            if (next > c[1]) {
                throw new SegmentExhaustedException(name, c[1], describe());
            }
            long room = (c[1] - next) / delta; // numbers after next, up to max
            long n = room >= count - 1 ? count : room + 1;
            c[0] = next + n * delta;
            takenBy.add(Thread.currentThread().getName());
            counts.add(count);
            return new Segment(next, n, delta);
        }

        @Override
        public String describe() {
            return "memory store " + remainder + "/" + delta;
        }

        @Override
        public void close() {
        }
    }

    /** Hands out the stores the test made, in order. */
    static final class Provider implements SegmentStoreProvider {
        final List<MemoryStore> made = new ArrayList<>();

        @Override
        public String name() {
            return "memory";
        }

        @Override
        public String artifact() {
            return "test";
        }

        @Override
        public Set<String> configKeys() {
            return Set.of();
        }

        @Override
        public SegmentStore create(Map<String, String> settings, int delta, int remainder) {
            MemoryStore s = new MemoryStore(delta, remainder);
            made.add(s);
            return s;
        }
    }

    private final List<SegmentIds> opened = new ArrayList<>();

    @AfterEach
    void close() {
        opened.forEach(SegmentIds::close);
    }

    private SegmentIds build(SegmentIds.Builder b) {
        SegmentIds s = b.build();
        opened.add(s);
        return s;
    }

    /**
     * One fetch thread serves every name. While it is stuck in a slow store call for one name, a caller of another name that
     * runs out fetches its range itself instead of waiting for the prefetch queued behind the stuck one; when that queued
     * prefetch finally runs, it finds the fetch done and takes no second range: the numbers stay dense, none repeats.
     */
    @Test
    void aCallerTakesOverAPrefetchQueuedBehindAnotherNamesSlowFetch() throws Exception {
        MemoryStore memory = new MemoryStore(1, 0);
        CountDownLatch stuck = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        java.util.concurrent.atomic.AtomicBoolean armed = new java.util.concurrent.atomic.AtomicBoolean();
        SegmentStore gated = new SegmentStore() {
            @Override
            public void define(String name, long start, long max) {
                memory.define(name, start, max);
            }

            @Override
            public Segment take(String name, long count, long floor) {
                if (name.equals("slow") && armed.get()) {
                    stuck.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                return memory.take(name, count, floor);
            }

            @Override
            public String describe() {
                return memory.describe();
            }

            @Override
            public void close() {
            }
        };
        SegmentStoreProvider p = new SegmentStoreProvider() {
            @Override
            public String name() {
                return "gated";
            }

            @Override
            public String artifact() {
                return "test";
            }

            @Override
            public Set<String> configKeys() {
                return Set.of();
            }

            @Override
            public SegmentStore create(Map<String, String> settings, int delta, int remainder) {
                return gated;
            }
        };
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.min", "10")
                .setting("ekko.segment.step.max", "10"));
        ids.define("slow", 0, Long.MAX_VALUE);
        ids.define("fast", 0, Long.MAX_VALUE);
        SegmentGenerator slow = ids.generator("slow");
        SegmentGenerator fast = ids.generator("fast");
        armed.set(true);
        for (int i = 0; i < 3; i++) {
            slow.next(); // past its prefetch index (2 of 10): the fetch thread takes "slow" and is held there
        }
        assertTrue(stuck.await(10, TimeUnit.SECONDS), "the fetch thread never reached the slow store call");
        java.util.concurrent.ExecutorService caller = java.util.concurrent.Executors.newSingleThreadExecutor();
        try {
            java.util.concurrent.Future<List<Long>> got = caller.submit(() -> {
                List<Long> out = new ArrayList<>();
                for (int i = 0; i < 95; i++) {
                    out.add(fast.next()); // 9 ranges past the first, each fetched by this caller
                }
                return out;
            });
            List<Long> numbers = got.get(10, TimeUnit.SECONDS); // before the fix: waited for the stuck fetch thread
            for (int i = 0; i < numbers.size(); i++) {
                assertEquals(i, numbers.get(i));
            }
        } finally {
            release.countDown();
            caller.shutdownNow();
        }
        Thread.sleep(200); // the queued prefetches run now
        long taken;
        synchronized (memory) {
            taken = memory.names.get("fast")[0]; // the next number the store would give "fast": how many it gave
        }
        // 95 used: 10 ranges, and at most one more prefetched; a queued prefetch that fetched after its caller had would add
        // a range each (9 were queued behind the slow call).
        assertTrue(taken <= 110, "numbers taken for \"fast\": " + taken + ", for 95 used with ranges of 10");
        assertEquals(95, fast.next()); // dense: no range was taken twice and skipped
    }

    @Test
    void numbersStartAtTheStartAndAreDenseFromOneStore() {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.min", "10"));
        ids.define("order", 1000, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("order");
        for (long expected = 1000; expected < 1500; expected++) {
            assertEquals(expected, g.next());
        }
    }

    @Test
    void fourThreadsGetDistinctNumbersEachIncreasing() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.min", "100")
                .setting("ekko.segment.step.max", "1000"));
        ids.define("t", 0, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("t");
        int threads = 4;
        int each = 200_000;
        long[][] got = new long[threads][each];
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int tt = t;
            Thread th = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < each; i += 7) {
                    if (i % 2 == 0) {
                        got[tt][i] = g.next();
                        for (int k = 1; k < 7 && i + k < each; k++) {
                            got[tt][i + k] = g.next();
                        }
                    } else {
                        g.next(got[tt], i, Math.min(7, each - i));
                    }
                }
            });
            ts.add(th);
            th.start();
        }
        go.countDown();
        for (Thread th : ts) {
            th.join();
        }
        Set<Long> all = new HashSet<>();
        for (int t = 0; t < threads; t++) {
            for (int i = 0; i < each; i++) {
                assertTrue(all.add(got[t][i]), "number " + got[t][i] + " handed out twice");
                if (i > 0) {
                    assertTrue(got[t][i] > got[t][i - 1], "thread " + t + " went back at " + i + ": " + got[t][i - 1] + " then " + got[t][i]);
                }
            }
        }
    }

    @Test
    void theNextRangeIsFetchedInTheBackgroundBeforeTheCurrentOneRunsOut() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.min", "100")
                .setting("ekko.segment.step.max", "100").setting("ekko.segment.prefetch.at", "0.5"));
        ids.define("bg", 0, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("bg");
        MemoryStore store = p.made.get(0);
        assertEquals(1, store.takenBy.size());
        for (int i = 0; i < 51; i++) {
            g.next();
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (store.takenBy.size() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals("ekko-segment-fetch", store.takenBy.get(1), "the second range was fetched by " + store.takenBy);
        for (int i = 0; i < 49; i++) {
            g.next();
        }
        assertEquals(100, g.next(), "the first number of the prefetched range");
        // The first range was fetched by generator() on this thread; every later one in the background.
        assertEquals(Thread.currentThread().getName(), store.takenBy.get(0));
        assertTrue(store.takenBy.stream().skip(1).allMatch(n -> n.equals("ekko-segment-fetch")), "fetched by " + store.takenBy);
    }

    /**
     * The fetch thread spins a while after each fetch, then parks; a request made as it goes to park must still wake it (a
     * lost wake-up would leave the prefetch undone until a caller ran out and fetched on its own thread). Each round waits
     * past the spin, so the request meets a parking or parked thread; some rounds make the request at once, so it races the
     * park. Several names, so requests of different names meet on the one thread.
     */
    @Test
    void everyPrefetchRequestReachesTheFetchThreadWhetherItSpinsParksOrIsParked() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.min", "10")
                .setting("ekko.segment.step.max", "10").setting("ekko.segment.prefetch.at", "0.5"));
        List<SegmentGenerator> gens = new ArrayList<>();
        for (int n = 0; n < 3; n++) {
            ids.define("wake" + n, 0, Long.MAX_VALUE);
            gens.add(ids.generator("wake" + n));
        }
        MemoryStore store = p.made.get(0);
        java.util.Random random = new java.util.Random(42);
        for (int round = 0; round < 300; round++) {
            SegmentGenerator g = gens.get(round % gens.size());
            int before = store.takenBy.size();
            long pause = random.nextInt(4) == 0 ? 0 : random.nextInt(200);
            TimeUnit.MICROSECONDS.sleep(pause);
            for (int i = 0; i < 6; i++) {
                g.next(); // the sixth is index 5 of the range: the prefetch
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (store.takenBy.size() == before && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertEquals(before + 1, store.takenBy.size(), "round " + round + " (after a pause of " + pause
                    + " µs): the prefetch was never run");
            assertEquals("ekko-segment-fetch", store.takenBy.get(before), "round " + round + " fetched by");
            for (int i = 0; i < 4; i++) {
                g.next(); // the rest of the range; the next call starts the prefetched one
            }
        }
    }

    @Test
    void theStepDoublesWhenRangesRunOutFastAndHalvesWhenTheyLastLong() throws Exception {
        Provider p = new Provider();
        TestClock clock = new TestClock();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).clock(clock).setting("ekko.segment.step.min", "10")
                .setting("ekko.segment.step.max", "80").setting("ekko.segment.step.target", "1m"));
        ids.define("s", 0, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("s");
        MemoryStore store = p.made.get(0);
        // Used up at once: each range lasted far less than half the target, so each step doubles, up to the maximum.
        long[] batch = new long[10 + 20 + 40 + 80 + 80];
        g.next(batch);
        awaitFetches(store, 6);
        assertEquals(List.of(10L, 20L, 40L, 80L, 80L, 80L), store.counts.subList(0, 6));
        // A range that lasted more than twice the target: the next step is half.
        clock.stepNanos(TimeUnit.MINUTES.toNanos(3));
        g.next(new long[80]);
        awaitFetches(store, 7);
        assertEquals(40L, store.counts.get(6));
    }

    private static void awaitFetches(MemoryStore store, int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (store.counts.size() < n && System.nanoTime() < deadline) {
            Thread.sleep(2);
        }
        assertTrue(store.counts.size() >= n, "fetches: " + store.counts);
    }

    @Test
    void aStoreDownServesTheBufferedRangesThenSaysWhoFailedThenResumes() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.min", "100")
                .setting("ekko.segment.step.max", "100").setting("ekko.segment.prefetch.at", "0.1"));
        ids.define("d", 0, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("d");
        MemoryStore store = p.made.get(0);
        for (int i = 0; i < 20; i++) {
            g.next();
        }
        awaitFetches(store, 2); // the second range is buffered
        store.down = true;
        for (int i = 20; i < 200; i++) {
            assertEquals(i, g.next(), "buffered numbers are served while the store is down");
        }
        SegmentStoreException e = assertThrows(SegmentStoreException.class, g::next);
        assertTrue(e.getMessage().contains("segment name \"d\" has used up every range it held and no store gave it another (memory"
                + " store 0/1): memory store 0 is down; the next call asks again"), e.getMessage());
        store.down = false;
        long n = g.next();
        assertTrue(n >= 200, "resumed with " + n);
    }

    @Test
    void twoStoresHandOutTheirResidueClassesAndOneDownDoesNotStopTheName() {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).store(p, Map.of()).setting("ekko.segment.step.min", "10")
                .setting("ekko.segment.step.max", "10"));
        ids.define("two", 0, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("two");
        MemoryStore first = p.made.get(0);
        MemoryStore second = p.made.get(1);
        assertEquals(2, first.delta);
        assertEquals(1, second.remainder);
        long last = -1;
        Set<Long> seen = new HashSet<>();
        for (int i = 0; i < 100; i++) {
            if (i == 30) {
                first.down = true;
            }
            if (i == 70) {
                first.down = false;
                second.down = true;
            }
            long n = g.next();
            assertTrue(n > last, n + " after " + last);
            assertTrue(seen.add(n));
            last = n;
        }
        assertTrue(seen.stream().anyMatch(n -> n % 2 == 1), "the second store's odd numbers were used: " + seen);
    }

    @Test
    void theMaximumIsATypedErrorNamingIt() {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.min", "4"));
        ids.define("small", 5, 12);
        SegmentGenerator g = ids.generator("small");
        for (long expected = 5; expected <= 12; expected++) {
            assertEquals(expected, g.next());
        }
        SegmentExhaustedException e = assertThrows(SegmentExhaustedException.class, g::next);
        assertTrue(e.getMessage().startsWith("segment name \"small\" has handed out every number up to its maximum 12 at memory store"),
                e.getMessage());
    }

    @Test
    void badInputIsRefusedNamingTheParameter() {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()));
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> ids.generator("nope"));
        assertTrue(unknown.getMessage().contains("unknown segment name \"nope\""), unknown.getMessage());
        assertEquals("must be >= start=10: max=9 (segment name \"x\")",
                assertThrows(IllegalArgumentException.class, () -> ids.define("x", 10, 9)).getMessage());
        assertEquals("must be 1 to 128 printable ASCII characters without blanks: segment name=\"a b\"",
                assertThrows(IllegalArgumentException.class, () -> ids.define("a b", 0, 9)).getMessage());
        assertEquals("must be >= 1 && <= 1099511627776: ekko.segment.step.min=0", assertThrows(IllegalArgumentException.class,
                () -> Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.min", "0").build()).getMessage());
        assertEquals("must be >= ekko.segment.step.min=1000: ekko.segment.step.max=10", assertThrows(IllegalArgumentException.class,
                () -> Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.max", "10").build()).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Ekko.newSegmentBuilder().store(p, Map.of())
                .setting("ekko.segment.prefetch.at", "1.5").build()).getMessage().endsWith("ekko.segment.prefetch.at=1.5"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Ekko.newSegmentBuilder().build()).getMessage()
                .startsWith("must name a store: ekko.segment.store (environment variable EKKO_SEGMENT_STORE)"));
    }

    @Test
    void aDefinedNameKeepsItsCounter() {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.min", "10"));
        ids.define("k", 0, 1000);
        ids.generator("k").next();
        ids.define("k", 0, 1000);
        Map<String, long[]> names = new ConcurrentHashMap<>(p.made.get(0).names);
        assertTrue(names.get("k")[0] >= 10, "counter reset to " + names.get("k")[0]);
    }
}
