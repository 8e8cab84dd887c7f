package dev.ekko;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Adversarial review of segment mode's core (SegmentBuffer / SegmentGenerators / SegmentIds.Builder) over an in-memory
 * store double. Tests named for a finding fail on the code as reviewed; the others are guards.
 */
class SegmentIdsReviewTest {

    /** A hang is reported when a caller has not returned after this long (not a timing assertion: it should be instant). */
    private static final long HANG_SECONDS = 20;

    /** An in-memory store with a hook run at the start of every take (to fail, block or throw an Error). */
    static final class HookStore implements SegmentStore {
        final int delta;
        final int remainder;
        final Map<String, long[]> names = new HashMap<>(); // name -> {next, max}
        volatile Function<String, Throwable> hook = n -> null; // name -> what to throw, or null
        volatile CountDownLatch blockFetchThread; // when set, a take on ekko-segment-fetch waits for it
        final CountDownLatch fetchThreadBlocked = new CountDownLatch(1);
        final List<Long> counts = new CopyOnWriteArrayList<>();
        final List<String> attempts = new CopyOnWriteArrayList<>();

        HookStore(int delta, int remainder) {
            this.delta = delta;
            this.remainder = remainder;
        }

        @Override
        public synchronized void define(String name, long start, long max) {
            names.putIfAbsent(name, new long[] {start, max});
        }

        @Override
        public Segment take(String name, long count, long floor) throws InterruptedException {
            attempts.add(name + "@" + Thread.currentThread().getName());
            CountDownLatch block = blockFetchThread;
            if (block != null && Thread.currentThread().getName().equals("ekko-segment-fetch")) {
                fetchThreadBlocked.countDown();
                block.await();
            }
            Throwable t = hook.apply(name);
            if (t instanceof RuntimeException r) {
                throw r;
            }
            if (t instanceof Error e) {
                throw e;
            }
            synchronized (this) {
                long[] c = names.get(name);
                if (c == null) {
                    throw new IllegalArgumentException("unknown segment name \"" + name + "\" at hook store " + remainder);
                }
                long next = Math.max(c[0], floor + 1);
                next += Math.floorMod(remainder - next, delta);
                if (next > c[1]) {
                    throw new SegmentExhaustedException(name, c[1], describe());
                }
                long room = (c[1] - next) / delta;
                long n = room >= count - 1 ? count : room + 1;
                c[0] = next + n * delta;
                counts.add(count);
                return new Segment(next, n, delta);
            }
        }

        @Override
        public String describe() {
            return "hook store " + remainder + "/" + delta;
        }

        @Override
        public void close() {
        }
    }

    static final class Provider implements SegmentStoreProvider {
        final List<HookStore> made = new ArrayList<>();

        @Override
        public String name() {
            return "hook";
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
            HookStore s = new HookStore(delta, remainder);
            made.add(s);
            return s;
        }
    }

    private final List<SegmentIds> opened = new ArrayList<>();
    private final List<Thread> started = new ArrayList<>();
    private final List<CountDownLatch> toRelease = new ArrayList<>();

    @AfterEach
    void cleanUp() throws InterruptedException {
        toRelease.forEach(CountDownLatch::countDown);
        opened.forEach(SegmentIds::close);
        for (Thread t : started) {
            t.interrupt();
            t.join(5000);
        }
    }

    private SegmentIds build(SegmentIds.Builder b) {
        SegmentIds s = b.build();
        opened.add(s);
        return s;
    }

    /** Runs {@code body} on a new thread; {@return what it returned or threw, or null if it has not returned (a hang)} */
    private Object callOrHang(java.util.concurrent.Callable<?> body) throws InterruptedException {
        AtomicReference<Object> result = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                Object r = body.call();
                result.set(r == null ? "returned" : r);
            } catch (Throwable e) {
                result.set(e);
            }
        }, "review-caller");
        t.setDaemon(true);
        started.add(t);
        t.start();
        t.join(TimeUnit.SECONDS.toMillis(HANG_SECONDS));
        return t.isAlive() ? null : result.get();
    }

    private static void drain(SegmentGenerator g, int n) {
        for (int i = 0; i < n; i++) {
            g.next();
        }
    }

    // ------------------------------------------------------------------------------------------------ findings

    /**
     * FINDING (hang): an Error thrown by a store on the background fetch thread (a driver's NoClassDefFoundError,
     * an AssertionError, OutOfMemoryError...) leaves {@code fetching} set forever: SegmentBuffer.backgroundFetch has no
     * finally. Once the current range is used up every caller waits forever in advance(), although the store is healthy
     * again.
     */
    @Test
    void anErrorOnTheBackgroundFetchLeavesCallersWaitingForeverOnceTheRangeIsUsedUp() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.min", "10")
                .setting("ekko.segment.step.max", "10").setting("ekko.segment.prefetch.at", "0.5"));
        ids.define("err", 0, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("err");
        HookStore store = p.made.get(0);
        CountDownLatch thrown = new CountDownLatch(1);
        store.hook = name -> {
            if (thrown.getCount() > 0 && Thread.currentThread().getName().equals("ekko-segment-fetch")) {
                thrown.countDown();
                return new NoClassDefFoundError("org/mariadb/jdbc/SomeDriverClass");
            }
            return null;
        };
        drain(g, 6); // index 5 is the prefetch index: the background fetch runs and throws the Error once
        assertTrue(thrown.await(HANG_SECONDS, TimeUnit.SECONDS), "the background fetch never ran");
        drain(g, 4); // the rest of the first range
        // The store is healthy again: the next call must fetch a range (or at worst fail), not wait forever.
        Object r = callOrHang(g::next);
        assertTrue(r != null, "next() after an Error on the background fetch is still waiting after " + HANG_SECONDS
                + " s (SegmentBuffer.fetching is never reset), store attempts: " + store.attempts);
        assertEquals(10L, r, "the first number of the second range");
    }

    /**
     * FINDING (hang): the same with an Error on the caller's own fetch: that caller gets the Error, and every later caller
     * waits forever, since advance() resets {@code fetching} only after fetch() returns normally.
     */
    @Test
    void anErrorOnACallersFetchLeavesEveryLaterCallerWaitingForever() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.min", "10")
                .setting("ekko.segment.step.max", "10").setting("ekko.segment.prefetch.at", "0.5"));
        ids.define("err2", 0, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("err2");
        HookStore store = p.made.get(0);
        // The background prefetch fails normally (store down), then the caller's own fetch hits an Error once.
        CountDownLatch errorGiven = new CountDownLatch(1);
        store.hook = name -> {
            if (Thread.currentThread().getName().equals("ekko-segment-fetch")) {
                return new EkkoException("hook store is down");
            }
            if (errorGiven.getCount() > 0) {
                errorGiven.countDown();
                return new AssertionError("driver bug");
            }
            return null;
        };
        drain(g, 10); // the whole first range; the background prefetch failed (and retries every second, failing)
        assertThrows(AssertionError.class, g::next, "the caller's own fetch hit the Error");
        Object r = callOrHang(g::next);
        assertTrue(r != null, "next() after an Error on a caller's fetch is still waiting after " + HANG_SECONDS + " s; store"
                + " attempts: " + store.attempts);
        assertEquals(10L, r, "the first number of the second range, fetched by this caller");
    }

    /**
     * FINDING (hang): close() while a prefetch is queued behind another name's fetch on the single background thread:
     * shutdownNow() drops the queued task, so that name's {@code fetching} stays true and a caller who uses up its range
     * after close waits forever (instead of a GeneratorClosedException).
     */
    @Test
    void closeWhileAPrefetchIsQueuedLeavesCallersWaitingForever() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.min", "10")
                .setting("ekko.segment.step.max", "10").setting("ekko.segment.prefetch.at", "0.5"));
        ids.define("a", 0, Long.MAX_VALUE);
        ids.define("b", 0, Long.MAX_VALUE);
        SegmentGenerator a = ids.generator("a");
        SegmentGenerator b = ids.generator("b");
        HookStore store = p.made.get(0);
        CountDownLatch release = new CountDownLatch(1);
        toRelease.add(release);
        store.blockFetchThread = release;
        drain(a, 6); // a's prefetch runs on the background thread and blocks in the store
        assertTrue(store.fetchThreadBlocked.await(HANG_SECONDS, TimeUnit.SECONDS));
        drain(b, 6); // b's prefetch is queued behind it
        ids.close();
        drain(b, 4); // the rest of b's range
        Object r = callOrHang(b::next);
        assertTrue(r != null, "b.next() after close() is still waiting after " + HANG_SECONDS + " s: its queued prefetch was"
                + " dropped by shutdownNow() and SegmentBuffer.fetching stayed true");
        assertTrue(r instanceof GeneratorClosedException, "expected GeneratorClosedException, got " + r);
    }

    /**
     * FINDING (false error): after close(), a generator whose range is used up throws SegmentStoreException "no store gave
     * it another ... the next call asks again", with no cause, instead of GeneratorClosedException (what generator()
     * throws after close). The stores never failed and the next call will never succeed.
     */
    @Test
    void afterCloseARunOutGeneratorSaysClosedNotThatTheStoresFailed() {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.min", "10")
                .setting("ekko.segment.step.max", "10").setting("ekko.segment.prefetch.at", "0.99"));
        ids.define("c", 0, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("c");
        ids.close();
        assertThrows(GeneratorClosedException.class, () -> ids.generator("c"));
        RuntimeException e = assertThrows(RuntimeException.class, () -> drain(g, 100));
        assertTrue(e instanceof GeneratorClosedException, "a closed SegmentIds answered " + e);
    }

    /**
     * FINDING (step not as documented): the step doubles at the start of every fetch attempt, failed ones included
     * (SegmentBuffer.fetch adapts before asking the stores). "The step doubles when one [range] lasted less than half of
     * [the target]": one range lasted, so the first range after a short outage should be 2 x step.min, but every failed
     * attempt (the caller's and the background retries) doubled it again: a few errors during a blip jump to step.max.
     */
    @Test
    void failedFetchesDoNotDoubleTheStep() {
        Provider p = new Provider();
        TestClock clock = new TestClock();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).clock(clock).setting("ekko.segment.step.min", "10")
                .setting("ekko.segment.step.max", "1000000").setting("ekko.segment.step.target", "1h")
                .setting("ekko.segment.prefetch.at", "0.99"));
        ids.define("st", 0, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("st");
        HookStore store = p.made.get(0);
        drain(g, 9);
        store.hook = name -> new EkkoException("hook store is down");
        drain(g, 1); // index 9: the background prefetch fails
        for (int i = 0; i < 8; i++) {
            assertThrows(SegmentStoreException.class, g::next);
        }
        store.hook = name -> null;
        assertEquals(10L, g.next());
        assertEquals(10L, store.counts.get(0));
        assertEquals(20L, store.counts.get(1), "the range after the outage: one range lasted less than half the target, so the"
                + " step should double once, not once per failed attempt; asked: " + store.counts);
    }

    /**
     * FINDING (bad input accepted silently): the snowflake builder refuses an unknown ekko.* key naming it; the segment
     * builder ignores a typo such as ekko.segment.step.mx, so the step the user thought they set is not.
     */
    @Test
    void aMisspelledSegmentKeyIsRefusedNamingIt() {
        Provider p = new Provider();
        SegmentIds.Builder b = Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.mx", "10");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> build(b));
        assertTrue(e.getMessage().contains("ekko.segment.step.mx"), e.getMessage());
    }

    // ------------------------------------------------------------------------------------------------ guards

    /** Guard: mixed next()/batch over 4 threads, two stores failing in turn: no repeat, each thread strictly increasing. */
    @Test
    void guardTwoStoresFailingInTurnUnderFourThreadsNeverRepeatAndEachThreadIncreases() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).store(p, Map.of()).setting("ekko.segment.step.min", "3")
                .setting("ekko.segment.step.max", "64").setting("ekko.segment.prefetch.at", "0.3"));
        ids.define("mix", 7, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("mix");
        HookStore s0 = p.made.get(0);
        HookStore s1 = p.made.get(1);
        s0.hook = n -> ThreadLocalRandom.current().nextInt(3) == 0 ? new EkkoException("s0 blip") : null;
        s1.hook = n -> ThreadLocalRandom.current().nextInt(3) == 0 ? new EkkoException("s1 blip") : null;
        int threads = 4;
        int each = 30_000;
        long[][] got = new long[threads][each];
        int[] filled = new int[threads];
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
                long[] buf = new long[5];
                while (filled[tt] < each) {
                    try {
                        if (ThreadLocalRandom.current().nextBoolean()) {
                            long v = g.next(); // before the index: a throw must not leave a hole
                            got[tt][filled[tt]++] = v;
                        } else {
                            int len = Math.min(buf.length, each - filled[tt]);
                            g.next(buf, 0, len);
                            System.arraycopy(buf, 0, got[tt], filled[tt], len);
                            filled[tt] += len;
                        }
                    } catch (SegmentStoreException e) {
                        // both stores blipped at once: a batch that failed wrote numbers that stay used; skip them
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
                assertTrue(got[t][i] >= 7);
                assertTrue(all.add(got[t][i]), "number " + got[t][i] + " handed out twice");
                if (i > 0) {
                    assertTrue(got[t][i] > got[t][i - 1], "thread " + t + " went back at " + i + ": " + got[t][i - 1] + " then "
                            + got[t][i]);
                }
            }
        }
    }

    /** Guard: while a fetch is blocked in the store, callers keep getting the rest of the current range. */
    @Test
    void guardCallersAreServedWhileAFetchIsInFlight() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.min", "100")
                .setting("ekko.segment.step.max", "100").setting("ekko.segment.prefetch.at", "0.1"));
        ids.define("fl", 0, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("fl");
        HookStore store = p.made.get(0);
        CountDownLatch release = new CountDownLatch(1);
        toRelease.add(release);
        store.blockFetchThread = release;
        drain(g, 11);
        assertTrue(store.fetchThreadBlocked.await(HANG_SECONDS, TimeUnit.SECONDS));
        Object r = callOrHang(() -> {
            long[] rest = new long[89];
            g.next(rest);
            return rest[88];
        });
        assertEquals(99L, r, "the rest of the range while the fetch is blocked");
        release.countDown();
        assertEquals(100L, g.next());
    }

    /** Guard: a caller waiting for a blocked fetch is interrupted: it gets GenerationInterruptedException, keeps the flag. */
    @Test
    void guardAnInterruptedWaiterGetsGenerationInterruptedException() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.min", "10")
                .setting("ekko.segment.step.max", "10").setting("ekko.segment.prefetch.at", "0.5"));
        ids.define("in", 0, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("in");
        HookStore store = p.made.get(0);
        CountDownLatch release = new CountDownLatch(1);
        toRelease.add(release);
        store.blockFetchThread = release;
        drain(g, 10);
        assertTrue(store.fetchThreadBlocked.await(HANG_SECONDS, TimeUnit.SECONDS));
        AtomicReference<Object> out = new AtomicReference<>();
        Thread t = new Thread(() -> {
            try {
                out.set(g.next());
            } catch (Throwable e) {
                out.set(e);
                out.set(new Object[] {e, Thread.currentThread().isInterrupted()});
            }
        });
        started.add(t);
        t.start();
        while (t.getState() != Thread.State.TIMED_WAITING && t.isAlive()) {
            Thread.sleep(5);
        }
        t.interrupt();
        t.join(TimeUnit.SECONDS.toMillis(HANG_SECONDS));
        assertFalse(t.isAlive());
        Object[] r = (Object[]) out.get();
        assertTrue(r[0] instanceof GenerationInterruptedException, String.valueOf(r[0]));
        assertEquals(true, r[1], "the interrupt flag is kept");
    }

    /** Guard: a store down then back: buffered numbers, then a typed error naming the store, then service in order. */
    @Test
    void guardOutageThenRecoveryKeepsOrderAndNamesTheStore() {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.min", "10")
                .setting("ekko.segment.step.max", "10").setting("ekko.segment.prefetch.at", "0.99"));
        ids.define("out", 0, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("out");
        HookStore store = p.made.get(0);
        store.hook = n -> new EkkoException("hook store is down");
        long last = -1;
        for (int i = 0; i < 10; i++) {
            long n = g.next();
            assertTrue(n > last);
            last = n;
        }
        SegmentStoreException e = assertThrows(SegmentStoreException.class, g::next);
        assertTrue(e.getMessage().contains("hook store 0/1"), e.getMessage());
        store.hook = n -> null;
        assertTrue(g.next() > last);
    }

    /** Guard: bad values are refused naming the parameter. */
    @Test
    void guardBadValuesNameTheParameter() {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ids.define("x", -1, 9)).getMessage().contains("start=-1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ids.generator("")).getMessage().contains("segment name=\"\""));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ids.generator(null)).getMessage().contains("segment name=null"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ids.define("x".repeat(129), 0, 9)).getMessage()
                .contains("segment name="));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Ekko.newSegmentBuilder().store(p, Map.of())
                .setting("ekko.segment.prefetch.at", "NaN").build()).getMessage().endsWith("ekko.segment.prefetch.at=NaN"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Ekko.newSegmentBuilder().store(p, Map.of())
                .setting("ekko.segment.step.max", "x").build()).getMessage().endsWith("ekko.segment.step.max=x"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Ekko.newSegmentBuilder().store(p, Map.of())
                .setting("ekko.segment.step.target", "0s").build()).getMessage().contains("ekko.segment.step.target"));
        assertThrows(IndexOutOfBoundsException.class, () -> {
            ids.define("ok", 0, 100);
            ids.generator("ok").next(new long[3], 2, 2);
        });
    }

    /** Guard: the maximum near Long.MAX_VALUE ends in SegmentExhaustedException, every number once. */
    @Test
    void guardMaximumNearLongMaxIsExhaustedNotWrapped() {
        Provider p = new Provider();
        SegmentIds ids = build(Ekko.newSegmentBuilder().store(p, Map.of()).setting("ekko.segment.step.min", "4")
                .setting("ekko.segment.step.max", "4"));
        ids.define("big", Long.MAX_VALUE - 10, Long.MAX_VALUE - 1);
        SegmentGenerator g = ids.generator("big");
        long[] got = new long[10];
        g.next(got);
        for (int i = 0; i < 10; i++) {
            assertEquals(Long.MAX_VALUE - 10 + i, got[i]);
        }
        assertThrows(SegmentExhaustedException.class, g::next);
        assertThrows(SegmentExhaustedException.class, g::next);
    }
}
