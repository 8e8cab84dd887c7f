package dev.ekko;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ekko.spi.Segment;
import dev.ekko.spi.SegmentStore;
import dev.ekko.spi.SegmentStoreProvider;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Segment mode's move from a used-up range to the next, under races: six threads share names whose ranges hold 1 to 3
 * numbers, so that nearly every call races a move to the next range, a prefetch being handed over or a caller's own fetch;
 * the store fails some takes and is slow on others (so callers take prefetches over, wait for fetches in flight, and fail);
 * close races the callers. Every number is handed out once, each thread's numbers increase, and, with no close, no range is
 * skipped or lost: every number below the highest one handed out is handed out. (A caller that stops waiting for a fetch in
 * flight and fetches too hands some thread a lower number after a higher one; a range fetched twice or a successor
 * overwritten leaves a hole.)
 */
class SegmentHandOffTest {

    /** One counter per name (the store takes no numbers on a failed take); fails, pauses or yields at random. */
    static final class RacyStore implements SegmentStore {
        final Map<String, AtomicLong> names = new ConcurrentHashMap<>();
        volatile int failPerMille;
        final AtomicInteger failed = new AtomicInteger();

        @Override
        public void define(String name, long start, long max) {
            names.putIfAbsent(name, new AtomicLong(start));
        }

        @Override
        public Segment take(String name, long count, long floor) {
            ThreadLocalRandom r = ThreadLocalRandom.current();
            int roll = r.nextInt(1000);
            if (roll < failPerMille) {
                failed.incrementAndGet();
                throw new EkkoException("racy store blip");
            }
            if (roll < 150) {
                LockSupport.parkNanos(r.nextInt(50_000)); // a caller running out meets a fetch in flight
            } else if (roll < 400) {
                Thread.yield();
            }
            return new Segment(names.get(name).getAndAdd(count), count, 1);
        }

        @Override
        public String describe() {
            return "racy store";
        }

        @Override
        public void close() {
        }
    }

    private final List<SegmentIds> opened = new ArrayList<>();

    @AfterEach
    void close() {
        opened.forEach(SegmentIds::close);
    }

    private SegmentIds build(RacyStore store, String prefetchAt) {
        SegmentStoreProvider p = new SegmentStoreProvider() {
            @Override
            public String name() {
                return "racy";
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
                return store;
            }
        };
        SegmentIds ids = Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.min", "1")
                .setting("ekko.segment.step.max", "3").setting("ekko.segment.prefetch.at", prefetchAt).build();
        opened.add(ids);
        return ids;
    }

    /** What each thread got of each name, in order. */
    static final class Got {
        final long[][][] numbers;
        final int[][] filled;

        Got(int threads, int names) {
            numbers = new long[threads][names][1024];
            filled = new int[threads][names];
        }

        void add(int t, int n, long v) {
            if (filled[t][n] == numbers[t][n].length) {
                numbers[t][n] = Arrays.copyOf(numbers[t][n], numbers[t][n].length * 2);
            }
            numbers[t][n][filled[t][n]++] = v;
        }

        /** Fails unless each thread's numbers of name n increase and no number was handed out twice; {@return them sorted} */
        long[] checkOnceEachAndIncreasing(int n, String name) {
            int count = 0;
            for (int[] f : filled) {
                count += f[n];
            }
            long[] all = new long[count];
            int at = 0;
            for (int t = 0; t < numbers.length; t++) {
                long[] mine = numbers[t][n];
                for (int i = 0; i < filled[t][n]; i++) {
                    if (i > 0 && mine[i] <= mine[i - 1]) {
                        fail("thread " + t + " went back on name " + name + " at " + i + ": " + mine[i - 1] + " then " + mine[i]);
                    }
                    all[at++] = mine[i];
                }
            }
            Arrays.sort(all);
            for (int i = 1; i < all.length; i++) {
                if (all[i] == all[i - 1]) {
                    fail("number " + all[i] + " of name " + name + " handed out twice");
                }
            }
            return all;
        }
    }

    /**
     * Runs {@code threads} callers over the names, mixing next() and batches, until {@code stop} says so or every name has
     * said closed to each of them (a caller leaves a name at its first GeneratorClosedException). {@return the callers}
     */
    private static List<Thread> race(List<SegmentGenerator> gens, Got got, int threads, CountDownLatch go,
            java.util.function.BooleanSupplier stop, AtomicInteger storeFailures, AtomicInteger closedSeen) {
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int tt = t;
            Thread th = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                ThreadLocalRandom random = ThreadLocalRandom.current();
                long[] batch = new long[5];
                boolean[] closed = new boolean[gens.size()];
                int open = gens.size();
                while (open > 0 && !stop.getAsBoolean()) {
                    int n = random.nextInt(gens.size());
                    if (closed[n]) {
                        continue;
                    }
                    SegmentGenerator g = gens.get(n);
                    Arrays.fill(batch, -1);
                    try {
                        if (random.nextInt(3) > 0) {
                            got.add(tt, n, g.next());
                        } else {
                            g.next(batch, 0, 1 + random.nextInt(batch.length));
                        }
                    } catch (SegmentStoreException e) {
                        storeFailures.incrementAndGet(); // this caller's own fetch failed
                    } catch (GeneratorClosedException e) {
                        closed[n] = true;
                        open--;
                        closedSeen.incrementAndGet();
                    } finally {
                        // a batch is filled from the start; one that failed part way handed out what it filled
                        for (int i = 0; i < batch.length && batch[i] >= 0; i++) {
                            got.add(tt, n, batch[i]);
                        }
                    }
                }
            }, "hand-off-" + t);
            th.setDaemon(true);
            ts.add(th);
            th.start();
        }
        return ts;
    }

    @Test
    void racingCallersOverRangesOfOneToThreeGetEveryNumberOnceEachInOrderAndSkipNone() throws Exception {
        for (String prefetchAt : List.of("0.2", "0.6")) {
            RacyStore store = new RacyStore();
            SegmentIds ids = build(store, prefetchAt);
            List<SegmentGenerator> gens = new ArrayList<>();
            for (int n = 0; n < 3; n++) {
                ids.define("h" + n, 0, Long.MAX_VALUE);
                gens.add(ids.generator("h" + n));
            }
            store.failPerMille = 30;
            int threads = 6;
            Got got = new Got(threads + 1, gens.size());
            CountDownLatch go = new CountDownLatch(1);
            long endAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1000);
            AtomicInteger storeFailures = new AtomicInteger();
            List<Thread> ts = race(gens, got, threads, go, () -> System.nanoTime() - endAt > 0, storeFailures,
                    new AtomicInteger());
            go.countDown();
            for (Thread th : ts) {
                th.join(TimeUnit.SECONDS.toMillis(30));
                assertFalse(th.isAlive(), th.getName() + " hangs");
            }
            store.failPerMille = 0;
            long total = 0;
            for (int n = 0; n < gens.size(); n++) {
                long[] raced = got.checkOnceEachAndIncreasing(n, "h" + n);
                assertTrue(raced.length > 1000, "name h" + n + ": only " + raced.length + " numbers handed out");
                long highest = raced[raced.length - 1];
                // What the ranges current when the callers stopped still hold (at most two ranges of 3), then some.
                for (int i = 0; i < 12; i++) {
                    got.add(threads, n, gens.get(n).next());
                }
                long[] all = got.checkOnceEachAndIncreasing(n, "h" + n);
                for (int i = 0; i <= highest; i++) {
                    if (all[i] != i) {
                        fail("name h" + n + ": number " + i + " was never handed out (prefetch.at " + prefetchAt
                                + ", highest handed out " + highest + "): a range skipped or lost");
                    }
                }
                total += raced.length;
            }
            assertTrue(store.failed.get() > 0 && storeFailures.get() > 0, "the store failed " + store.failed.get()
                    + " takes, callers saw " + storeFailures.get() + " failures (" + total + " numbers)");
        }
    }

    @Test
    void closeRacingCallersOverTinyRangesRepeatsNoNumberAndEndsEveryCaller() throws Exception {
        for (int round = 0; round < 5; round++) {
            RacyStore store = new RacyStore();
            SegmentIds ids = build(store, "0.5");
            List<SegmentGenerator> gens = new ArrayList<>();
            for (int n = 0; n < 3; n++) {
                ids.define("c" + n, 0, Long.MAX_VALUE);
                gens.add(ids.generator("c" + n));
            }
            store.failPerMille = 30;
            int threads = 6;
            Got got = new Got(threads, gens.size());
            CountDownLatch go = new CountDownLatch(1);
            AtomicInteger closedSeen = new AtomicInteger();
            List<Thread> ts = race(gens, got, threads, go, () -> false, new AtomicInteger(), closedSeen);
            go.countDown();
            Thread.sleep(50 + 40 * round);
            ids.close();
            for (Thread th : ts) {
                th.join(TimeUnit.SECONDS.toMillis(30));
                assertFalse(th.isAlive(), th.getName() + " hangs after close (round " + round + ")");
            }
            // Every caller stopped at GeneratorClosedException, once per name: none was left waiting or spinning.
            assertEquals(threads * gens.size(), closedSeen.get(), "round " + round);
            for (int n = 0; n < gens.size(); n++) {
                assertTrue(got.checkOnceEachAndIncreasing(n, "c" + n).length > 0, "round " + round + ": name c" + n);
            }
        }
    }
}
