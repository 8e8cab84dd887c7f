package dev.ekko;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ekko.internal.LogCapture;
import dev.ekko.spi.Segment;
import dev.ekko.spi.SegmentStore;
import dev.ekko.spi.SegmentStoreProvider;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Adversarial review of segment mode's own fetch thread (dev.ekko.internal.SegmentFetcher, commit e4f1d31): its lock-free
 * request stack, the parked-flag hand-off, the spin-then-park loop, the fetch-thread-only retries and close(). Each test is
 * named for the guarantee it attacks (claim 1..6 of the review brief); a test that fails is a finding.
 *
 * <p>No test asserts on speed. A "hang" or a "lost request" is a condition that does not come true within {@link #BOUND_S}
 * seconds where it should be immediate. The fetch thread and the request stack are reached by reflection (the tests run on
 * the class path).
 */
class SegmentFetcherReviewTest {

    /** A condition that should hold at once is reported broken when it has not held after this long. */
    private static final long BOUND_S = 5;
    private static final String FETCH_THREAD = "ekko-segment-fetch";

    // ------------------------------------------------------------------------------------------------ the store double

    /** What one successful take returned, and on which thread. */
    record Take(String name, String thread, long first, long count, long stride) {
    }

    /** Decides, for one take, what to throw (or null), after an optional delay or block it may impose itself. */
    interface TakeHook {
        Throwable before(String name, boolean onFetchThread) throws InterruptedException;
    }

    /** An in-memory store: one counter per name in its residue class, every successful take recorded, a hook per take. */
    static final class ReviewStore implements SegmentStore {
        final int delta;
        final int remainder;
        final Map<String, long[]> names = new HashMap<>(); // name -> {next, max}
        /** Guarded by this; read through {@link #takes()}. */
        private final List<Take> takes = new ArrayList<>();
        final Map<String, AtomicLong> fetchTakesByName = new ConcurrentHashMap<>();
        final Map<String, AtomicLong> takesByName = new ConcurrentHashMap<>();
        final AtomicInteger fetchThreadAttempts = new AtomicInteger();
        final AtomicInteger fetchThreadFailures = new AtomicInteger();
        final AtomicInteger callerTakes = new AtomicInteger();
        final AtomicInteger interruptedTakes = new AtomicInteger();
        volatile TakeHook hook = (n, f) -> null;
        volatile RuntimeException describeFailure; // thrown by describe() while set

        ReviewStore(int delta, int remainder) {
            this.delta = delta;
            this.remainder = remainder;
        }

        @Override
        public synchronized void define(String name, long start, long max) {
            names.putIfAbsent(name, new long[] {start, max});
        }

        @Override
        public Segment take(String name, long count, long floor) throws InterruptedException {
            boolean onFetch = Thread.currentThread().getName().equals(FETCH_THREAD);
            if (onFetch) {
                fetchThreadAttempts.incrementAndGet();
            }
            Throwable t;
            try {
                t = hook.before(name, onFetch);
            } catch (InterruptedException e) {
                interruptedTakes.incrementAndGet();
                throw e;
            }
            if (t != null) {
                if (onFetch) {
                    fetchThreadFailures.incrementAndGet();
                }
                if (t instanceof RuntimeException r) {
                    throw r;
                }
                throw (Error) t;
            }
            synchronized (this) {
                long[] c = names.get(name);
                if (c == null) {
                    throw new IllegalArgumentException("unknown segment name \"" + name + "\" at review store " + remainder);
                }
                long next = Math.max(c[0], floor + 1);
                next += Math.floorMod(remainder - next, delta);
                if (next > c[1]) {
                    throw new SegmentExhaustedException(name, c[1], describe());
                }
                long room = (c[1] - next) / delta;
                long n = room >= count - 1 ? count : room + 1;
                c[0] = next + n * delta;
                takes.add(new Take(name, Thread.currentThread().getName(), next, n, delta));
                takesByName.computeIfAbsent(name, k -> new AtomicLong()).incrementAndGet();
                if (onFetch) {
                    fetchTakesByName.computeIfAbsent(name, k -> new AtomicLong()).incrementAndGet();
                } else {
                    callerTakes.incrementAndGet();
                }
                return new Segment(next, n, delta);
            }
        }

        synchronized List<Take> takes() {
            return new ArrayList<>(takes);
        }

        long fetchThreadTakes(String name) {
            AtomicLong n = fetchTakesByName.get(name);
            return n == null ? 0 : n.get();
        }

        long takesOf(String name) {
            AtomicLong n = takesByName.get(name);
            return n == null ? 0 : n.get();
        }

        @Override
        public String describe() {
            RuntimeException f = describeFailure;
            if (f != null) {
                throw new IllegalStateException(f.getMessage()); // a fresh one: its stack shows who called describe()
            }
            return "review store " + remainder + "/" + delta;
        }

        @Override
        public void close() {
        }
    }

    static final class Provider implements SegmentStoreProvider {
        final List<ReviewStore> made = new CopyOnWriteArrayList<>();

        @Override
        public String name() {
            return "review";
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
            ReviewStore s = new ReviewStore(delta, remainder);
            made.add(s);
            return s;
        }
    }

    // ------------------------------------------------------------------------------------------------ fixture

    private final List<SegmentIds> opened = new ArrayList<>();
    private final List<Thread> started = new CopyOnWriteArrayList<>();
    private final List<CountDownLatch> toRelease = new ArrayList<>();
    private LogCapture segmentLog;

    @BeforeEach
    void captureLog() {
        // INFO and above are logged, into a list instead of the console.
        segmentLog = LogCapture.quiet("dev.ekko.segment", Level.INFO);
    }

    @AfterEach
    void cleanUp() throws InterruptedException {
        toRelease.forEach(CountDownLatch::countDown);
        opened.forEach(SegmentIds::close);
        for (Thread t : started) {
            t.interrupt();
            t.join(5000);
        }
        segmentLog.close();
    }

    private SegmentIds build(Provider p, int stores, String... settings) {
        SegmentIds.Builder b = Ekko.newSegmentBuilder();
        for (int i = 0; i < stores; i++) {
            b.store(p, Map.of());
        }
        for (int i = 0; i < settings.length; i += 2) {
            b.setting(settings[i], settings[i + 1]);
        }
        SegmentIds s = b.build();
        opened.add(s);
        return s;
    }

    /** Steps of 10, the prefetch at index 5: the sixth number of a range asks for the next one. */
    private SegmentIds build10(Provider p) {
        return build(p, 1, "ekko.segment.step.min", "10", "ekko.segment.step.max", "10", "ekko.segment.prefetch.at", "0.5");
    }

    private Thread daemon(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        started.add(t);
        return t;
    }

    /** Runs {@code body} on a new thread; {@return what it returned or threw, or null if it is still running (a hang)} */
    private Object callOrHang(java.util.concurrent.Callable<?> body) throws InterruptedException {
        AtomicReference<Object> result = new AtomicReference<>();
        Thread t = daemon("review-caller", () -> {
            try {
                Object r = body.call();
                result.set(r == null ? "returned" : r);
            } catch (Throwable e) {
                result.set(e);
            }
        });
        t.start();
        t.join(TimeUnit.SECONDS.toMillis(BOUND_S));
        return t.isAlive() ? null : result.get();
    }

    private static boolean await(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_S);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            Thread.sleep(1);
        }
        return true;
    }

    private static boolean spinUntil(BooleanSupplier condition) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_S);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            Thread.onSpinWait();
        }
        return true;
    }

    private static long[] drain(SegmentGenerator g, int n) {
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = g.next();
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------------ reflection

    private static Object field(Object o, String name) {
        try {
            Class<?> c = o.getClass();
            while (c != null) {
                try {
                    Field f = c.getDeclaredField(name);
                    f.setAccessible(true);
                    return f.get(o);
                } catch (NoSuchFieldException e) {
                    c = c.getSuperclass();
                }
            }
            throw new AssertionError("no field " + name + " in " + o.getClass());
        } catch (IllegalAccessException e) {
            throw new AssertionError(e);
        }
    }

    private static Object fetcher(SegmentIds ids) {
        return field(field(ids, "generators"), "fetcher");
    }

    private static Thread fetchThread(SegmentIds ids) {
        return (Thread) field(fetcher(ids), "thread");
    }

    private static Object stackHead(SegmentIds ids) {
        return field(fetcher(ids), "head");
    }

    private static boolean queued(SegmentGenerator g) {
        return (Boolean) field(g, "queued");
    }

    private static boolean hasNext(SegmentGenerator g) {
        try {
            Method m = g.getClass().getDeclaredMethod("hasNext");
            m.setAccessible(true);
            return (Boolean) m.invoke(g);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    /** The request stack from its head, newest first; fails on a cycle (a buffer linked twice). */
    private static List<Object> stack(SegmentIds ids) {
        List<Object> out = new ArrayList<>();
        Set<Object> seen = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        for (Object b = stackHead(ids); b != null; b = field(b, "nextRequest")) {
            assertTrue(seen.add(b), "the request stack links " + b + " twice (a cycle): " + out);
            out.add(b);
        }
        return out;
    }

    private static boolean parkedIdle(Thread t) {
        Thread.State s = t.getState();
        return s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING;
    }

    // ================================================================================================ claim 1: no lost request

    /**
     * Claim 1. One caller asks for a prefetch after a pause chosen to land before, across and after the fetch thread's 50 µs
     * spin (busy-waited, so the request races the park itself), and then waits without using its range up: every request
     * must be run by the fetch thread, never left for a caller that runs out.
     */
    @Test
    void claim1_everyPrefetchIsRunByTheFetchThreadWhenMadeDuringTheSpinThePark_orAfter() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build10(p);
        List<SegmentGenerator> gens = new ArrayList<>();
        for (int n = 0; n < 3; n++) {
            ids.define("w" + n, 0, Long.MAX_VALUE);
            gens.add(ids.generator("w" + n));
        }
        ReviewStore store = p.made.get(0);
        java.util.Random random = new java.util.Random(7);
        for (int round = 0; round < 1500; round++) {
            SegmentGenerator g = gens.get(round % gens.size());
            long before = store.fetchThreadTakes(g.name());
            long pauseNanos = round % 5 == 4 ? 200_000 + random.nextInt(800_000) : random.nextInt(120_000);
            long until = System.nanoTime() + pauseNanos;
            while (System.nanoTime() - until < 0) {
                Thread.onSpinWait();
            }
            drain(g, 6); // index 5: the prefetch
            int r = round;
            assertTrue(spinUntil(() -> store.fetchThreadTakes(g.name()) == before + 1), () -> "round " + r + " (pause "
                    + pauseNanos / 1000 + " µs): the prefetch of " + g.name() + " was not run by the fetch thread within "
                    + BOUND_S + " s (lost wake-up); fetch thread " + fetchThread(ids).getState());
            drain(g, 4);
        }
        assertEquals(3, store.callerTakes.get(), "only the first range of each name is taken on a caller's thread");
    }

    /**
     * Claim 1 with several callers pushing at once: four names, each on its own thread, each making a request after a random
     * short pause and waiting for it; pushes race each other (the CAS loop) and the park. No request may be lost.
     */
    @Test
    void claim1_concurrentRequestsOfFourNamesAreEachRunByTheFetchThread() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build10(p);
        ReviewStore store = p.made.get(0);
        int names = 4;
        int rounds = 400;
        List<Thread> ts = new ArrayList<>();
        List<String> lost = new CopyOnWriteArrayList<>();
        CountDownLatch go = new CountDownLatch(1);
        for (int n = 0; n < names; n++) {
            String name = "c" + n;
            ids.define(name, 0, Long.MAX_VALUE);
            SegmentGenerator g = ids.generator(name);
            Thread t = daemon("review-" + name, () -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                ThreadLocalRandom random = ThreadLocalRandom.current();
                for (int round = 0; round < rounds && lost.isEmpty(); round++) {
                    long before = store.fetchThreadTakes(name);
                    long until = System.nanoTime() + random.nextInt(100_000);
                    while (System.nanoTime() - until < 0) {
                        Thread.onSpinWait();
                    }
                    drain(g, 6);
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_S);
                    while (store.fetchThreadTakes(name) == before) {
                        if (System.nanoTime() - deadline > 0) {
                            lost.add(name + " round " + round);
                            return;
                        }
                        LockSupport.parkNanos(20_000);
                    }
                    drain(g, 4);
                }
            });
            ts.add(t);
            t.start();
        }
        go.countDown();
        for (Thread t : ts) {
            t.join(TimeUnit.SECONDS.toMillis(60));
            assertFalse(t.isAlive(), t.getName() + " still running");
        }
        assertEquals(List.of(), lost, "requests not run by the fetch thread within " + BOUND_S + " s");
        assertEquals(names, store.callerTakes.get(), "only the first range of each name is taken on a caller's thread");
    }

    // ================================================================================================ claim 2: the stack

    /**
     * Claim 2, made deterministic: the fetch thread is held in another name's store call, so requests stay on the stack. Name
     * "a" asks for its prefetch, runs out and takes it over (fetching on its own thread) and asks again while its old entry
     * is still on the stack, three times; "b" and "c" push in between. The stack must hold each buffer once (c, b, a), and
     * once the fetch thread is free each runs exactly one fetch, in request order, the numbers staying dense (no range taken
     * twice nor dropped), and every name can be requested again afterwards.
     */
    @Test
    void claim2_takeoverThenRequestAgainWhileTheOldEntryIsOnTheStackKeepsEachBufferOnceAndServedOnce() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build10(p);
        ReviewStore store = p.made.get(0);
        for (String n : List.of("slow", "a", "b", "c")) {
            ids.define(n, 0, Long.MAX_VALUE);
        }
        SegmentGenerator slow = ids.generator("slow");
        SegmentGenerator a = ids.generator("a");
        SegmentGenerator b = ids.generator("b");
        SegmentGenerator c = ids.generator("c");
        CountDownLatch release = new CountDownLatch(1);
        toRelease.add(release);
        CountDownLatch held = new CountDownLatch(1);
        store.hook = (name, onFetch) -> {
            if (onFetch && name.equals("slow")) {
                held.countDown();
                release.await();
            }
            return null;
        };
        drain(slow, 6);
        assertTrue(held.await(BOUND_S, TimeUnit.SECONDS), "the fetch thread never reached slow's store call");

        List<Long> numbersOfA = new ArrayList<>();
        for (long v : drain(a, 6)) { // request a: the stack is [a]
            numbersOfA.add(v);
        }
        for (int k = 0; k < 3; k++) {
            if (k == 1) {
                drain(b, 6); // [b, a]
            }
            if (k == 2) {
                drain(c, 6); // [c, b, a]
            }
            // the rest of the range, then the first of the next: a takes its queued prefetch over; then 5 more reach index 5
            // of the new range and ask again while a is still on the stack
            for (long v : drain(a, 10)) {
                numbersOfA.add(v);
            }
        }
        assertEquals(List.of(c, b, a), stack(ids), "the request stack, newest first");
        assertTrue(queued(a) && queued(b) && queued(c));
        assertEquals(3, store.takes().stream().filter(t -> t.name.equals("a") && !t.thread.equals(FETCH_THREAD)
                && t.first > 0).count(), "a took its prefetch over three times on its own thread");
        assertEquals(0, store.fetchThreadTakes("a"));
        int takesBefore = store.takes().size();

        release.countDown();
        assertTrue(await(() -> hasNext(a) && hasNext(b) && hasNext(c)), "the queued prefetches were not all run: a="
                + hasNext(a) + " b=" + hasNext(b) + " c=" + hasNext(c));
        assertTrue(await(() -> stackHead(ids) == null && parkedIdle(fetchThread(ids))));
        List<Take> all = store.takes();
        List<String> after = all.subList(takesBefore, all.size()).stream()
                .map(t -> t.name + "@" + t.thread).toList();
        assertEquals(List.of("slow@" + FETCH_THREAD, "a@" + FETCH_THREAD, "b@" + FETCH_THREAD, "c@" + FETCH_THREAD), after,
                "after the release: slow's fetch, then one fetch per queued buffer, in request order");
        assertFalse(queued(a) || queued(b) || queued(c), "a buffer left marked queued cannot be requested again");

        for (long v : drain(a, 4 + 6)) { // the rest, then the prefetched range up to its prefetch index
            numbersOfA.add(v);
        }
        assertTrue(await(() -> store.fetchThreadTakes("a") == 2), "a's next request was not run by the fetch thread");
        for (long v : drain(a, 4 + 5)) { // into the range it fetched, short of that range's own prefetch index
            numbersOfA.add(v);
        }
        for (int i = 0; i < numbersOfA.size(); i++) {
            assertEquals(i, numbersOfA.get(i), "a's numbers are dense: no range taken twice and skipped, none repeated");
        }
        assertEquals(2, store.fetchThreadTakes("a"), "a's next request was run by the fetch thread too");
        for (SegmentGenerator g : List.of(b, c)) {
            long before = store.fetchThreadTakes(g.name());
            drain(g, 4 + 6); // into the prefetched range, up to its prefetch index
            assertTrue(await(() -> store.fetchThreadTakes(g.name()) == before + 1), g.name() + " cannot be requested again");
        }
    }

    /**
     * Claim 2 under load: 32 names, 6 threads, steps 1 to 4, a fetch thread slowed now and then so that requests pile up and
     * callers take them over and ask again. Afterwards the stack drains to empty with no buffer marked queued, each name's
     * numbers are unique, and every name's next request is still run by the fetch thread.
     */
    @Test
    void claim2_manyNamesAndThreadsLeaveTheStackEmptyEveryBufferUnqueuedAndRequestable() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build(p, 1, "ekko.segment.step.min", "1", "ekko.segment.step.max", "4", "ekko.segment.step.target",
                "1h", "ekko.segment.prefetch.at", "0.5");
        ReviewStore store = p.made.get(0);
        int names = 32;
        List<SegmentGenerator> gens = new ArrayList<>();
        for (int n = 0; n < names; n++) {
            ids.define("m" + n, 0, Long.MAX_VALUE);
            gens.add(ids.generator("m" + n));
        }
        store.hook = (name, onFetch) -> {
            if (onFetch && ThreadLocalRandom.current().nextInt(8) == 0) {
                LockSupport.parkNanos(200_000);
            }
            return null;
        };
        int threads = 6;
        Map<String, Set<Long>> seen = new ConcurrentHashMap<>();
        List<String> duplicates = new CopyOnWriteArrayList<>();
        CountDownLatch go = new CountDownLatch(1);
        long endAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500);
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread th = daemon("review-load-" + t, () -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                ThreadLocalRandom random = ThreadLocalRandom.current();
                long[] batch = new long[8];
                for (int op = 0; op < 2_000_000 && System.nanoTime() - endAt < 0; op++) {
                    SegmentGenerator g = gens.get(random.nextInt(names));
                    Set<Long> s = seen.computeIfAbsent(g.name(), k -> ConcurrentHashMap.newKeySet());
                    if (random.nextBoolean()) {
                        long v = g.next();
                        if (!s.add(v)) {
                            duplicates.add(g.name() + ":" + v);
                        }
                    } else {
                        int len = 1 + random.nextInt(batch.length);
                        g.next(batch, 0, len);
                        for (int i = 0; i < len; i++) {
                            if (!s.add(batch[i])) {
                                duplicates.add(g.name() + ":" + batch[i]);
                            }
                        }
                    }
                }
            });
            ts.add(th);
            th.start();
        }
        go.countDown();
        for (Thread th : ts) {
            th.join(TimeUnit.SECONDS.toMillis(30));
            assertFalse(th.isAlive(), th.getName() + " hangs");
        }
        store.hook = (n, f) -> null;
        assertEquals(List.of(), duplicates.subList(0, Math.min(10, duplicates.size())), "numbers handed out twice");
        assertTrue(await(() -> stackHead(ids) == null && gens.stream().noneMatch(SegmentFetcherReviewTest::queued)
                && parkedIdle(fetchThread(ids))), () -> "the stack did not drain: " + stack(ids) + ", queued: "
                + gens.stream().filter(SegmentFetcherReviewTest::queued).map(SegmentGenerator::name).toList());
        assertTrue(store.callerTakes.get() > names, "callers took prefetches over (the path under test): "
                + store.callerTakes.get() + " caller takes");
        // Every name is still requestable: use up what is buffered (current and next), then reach the prefetch index of
        // the range after: a request that must be run by the fetch thread.
        for (SegmentGenerator g : gens) {
            // one caller: next() until it asks for a prefetch (fetching set by prefetch(), not by a fetch of its own, which
            // would be over when next() returns), then wait for the fetch thread to run it
            long before = store.fetchThreadTakes(g.name());
            long callerBefore = store.callerTakes.get();
            int used = 0;
            while (!(Boolean) field(g, "fetching") && store.fetchThreadTakes(g.name()) == before && used < 100) {
                g.next();
                used++;
            }
            assertTrue(await(() -> store.fetchThreadTakes(g.name()) == before + 1), g.name() + ": its request after the load"
                    + " was not run by the fetch thread (" + used + " numbers used, queued=" + queued(g) + ")");
            assertEquals(callerBefore, store.callerTakes.get(), g.name() + ": a range fetched by the caller");
        }
    }

    // ================================================================================================ claim 3: numbers

    /**
     * Claim 3: 12 names over two stores (residue classes, the floor passed between them), 6 threads mixing next() and
     * batches, steps 1 to 10 adapting, a fetch thread slowed often (callers take prefetches over), store failures on every
     * thread, Errors on the fetch thread (background fetches that fail are retried after 1 s while the test runs 2.5 s).
     * Every number is handed out once per name, and each thread's numbers of a name increase.
     */
    @Test
    void claim3_noNumberTwiceAndEachThreadIncreasingWithTinyStepsTakeoversFailuresAndRetries() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build(p, 2, "ekko.segment.step.min", "1", "ekko.segment.step.max", "10", "ekko.segment.step.target",
                "1s", "ekko.segment.prefetch.at", "0.3");
        int names = 12;
        List<SegmentGenerator> gens = new ArrayList<>();
        for (int n = 0; n < names; n++) {
            ids.define("n" + n, 0, Long.MAX_VALUE);
            gens.add(ids.generator("n" + n));
        }
        AtomicInteger errors = new AtomicInteger();
        AtomicInteger retried = new AtomicInteger();
        StackWalker walker = StackWalker.getInstance();
        TakeHook chaos = (name, onFetch) -> {
            ThreadLocalRandom r = ThreadLocalRandom.current();
            if (onFetch && walker.walk(f -> f.anyMatch(x -> x.getMethodName().equals("retryPrefetch")))) {
                retried.incrementAndGet();
            }
            int roll = r.nextInt(1000);
            if (onFetch && roll < 15) {
                errors.incrementAndGet();
                return new AssertionError("store bug (review)");
            }
            if (roll < 60) {
                return new EkkoException("review store blip");
            }
            if (onFetch && roll < 250) {
                LockSupport.parkNanos(100_000 + r.nextInt(400_000));
            }
            return null;
        };
        p.made.forEach(s -> s.hook = chaos);
        int threads = 6;
        long[][][] got = new long[threads][names][];
        int[][] filled = new int[threads][names];
        AtomicLong failures = new AtomicLong();
        CountDownLatch go = new CountDownLatch(1);
        long endAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(2500);
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int tt = t;
            for (int n = 0; n < names; n++) {
                got[t][n] = new long[1024];
            }
            Thread th = daemon("review-num-" + t, () -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                ThreadLocalRandom random = ThreadLocalRandom.current();
                long[] batch = new long[16];
                int taken = 0;
                while (System.nanoTime() - endAt < 0 && taken < 300_000) {
                    taken++;
                    int n = random.nextInt(names);
                    SegmentGenerator g = gens.get(n);
                    try {
                        if (random.nextInt(3) > 0) {
                            long v = g.next();
                            add(got, filled, tt, n, v);
                        } else {
                            int len = 1 + random.nextInt(batch.length);
                            g.next(batch, 0, len);
                            for (int i = 0; i < len; i++) {
                                add(got, filled, tt, n, batch[i]);
                            }
                        }
                    } catch (SegmentStoreException | AssertionError e) {
                        failures.incrementAndGet(); // both stores blipped, or the Error reached a caller's own fetch
                    }
                }
            });
            ts.add(th);
            th.start();
        }
        go.countDown();
        for (Thread th : ts) {
            th.join(TimeUnit.SECONDS.toMillis(30));
            assertFalse(th.isAlive(), th.getName() + " hangs");
        }
        long total = 0;
        for (int n = 0; n < names; n++) {
            int count = 0;
            for (int t = 0; t < threads; t++) {
                count += filled[t][n];
            }
            long[] all = new long[count];
            int at = 0;
            for (int t = 0; t < threads; t++) {
                long[] mine = got[t][n];
                for (int i = 0; i < filled[t][n]; i++) {
                    if (i > 0 && mine[i] <= mine[i - 1]) {
                        fail("thread " + t + " went back on name n" + n + " at " + i + ": " + mine[i - 1] + " then " + mine[i]);
                    }
                    all[at++] = mine[i];
                }
            }
            Arrays.sort(all);
            for (int i = 1; i < all.length; i++) {
                if (all[i] == all[i - 1]) {
                    fail("number " + all[i] + " of name n" + n + " handed out twice");
                }
            }
            total += count;
        }
        int fetchTakes = 0;
        int callerTakes = 0;
        for (ReviewStore s : p.made) {
            fetchTakes += (int) s.takes().stream().filter(t -> t.thread.equals(FETCH_THREAD)).count();
            callerTakes += s.callerTakes.get();
        }
        String stats = total + " numbers, " + fetchTakes + " fetch-thread ranges, " + callerTakes + " caller ranges, "
                + errors.get() + " Errors on the fetch thread, " + retried.get() + " takes by retries, " + failures.get()
                + " failed calls";
        System.out.println("claim3: " + stats);
        assertTrue(total > 10_000 && callerTakes > names && fetchTakes > names && errors.get() > 0, "the paths under test"
                + " were exercised: " + stats);
    }

    private static void add(long[][][] got, int[][] filled, int t, int n, long v) {
        if (filled[t][n] == got[t][n].length) {
            got[t][n] = Arrays.copyOf(got[t][n], got[t][n].length * 2);
        }
        got[t][n][filled[t][n]++] = v;
    }

    // ================================================================================================ claim 4: close

    /**
     * Claim 4: close() while the fetch thread is in a store call and a caller waits for that fetch: the store call is
     * interrupted, the waiting caller gets GeneratorClosedException, the fetch thread exits.
     */
    @Test
    void claim4_closeInterruptsTheStoreCallInFlightReleasesTheWaiterAndEndsTheThread() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build10(p);
        ReviewStore store = p.made.get(0);
        ids.define("x", 0, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("x");
        Thread fetch = fetchThread(ids);
        CountDownLatch never = new CountDownLatch(1);
        toRelease.add(never);
        CountDownLatch held = new CountDownLatch(1);
        store.hook = (name, onFetch) -> {
            if (onFetch) {
                held.countDown();
                never.await(); // interruptible, as a store's I/O must be bounded and interruptible
            }
            return null;
        };
        drain(g, 10);
        assertTrue(held.await(BOUND_S, TimeUnit.SECONDS));
        AtomicReference<Object> waiter = new AtomicReference<>();
        Thread w = daemon("review-waiter", () -> {
            try {
                waiter.set(g.next());
            } catch (Throwable e) {
                waiter.set(e);
            }
        });
        w.start();
        assertTrue(await(() -> w.getState() == Thread.State.TIMED_WAITING), "the caller waits for the fetch in flight");
        Object closeResult = callOrHang(() -> {
            ids.close();
            return "closed";
        });
        assertEquals("closed", closeResult, "close() returned");
        w.join(TimeUnit.SECONDS.toMillis(BOUND_S));
        assertFalse(w.isAlive(), "the waiting caller hangs after close()");
        assertTrue(waiter.get() instanceof GeneratorClosedException, "the waiter got " + waiter.get());
        fetch.join(TimeUnit.SECONDS.toMillis(BOUND_S));
        assertFalse(fetch.isAlive(), "the fetch thread still runs after close(): " + fetch.getState());
        assertEquals(1, store.interruptedTakes.get(), "the store call in flight was interrupted");
    }

    /** Claim 4: close() of an instance whose fetch thread is parked (idle, or with a retry pending) ends the thread. */
    @Test
    void claim4_closeEndsAParkedFetchThreadWithOrWithoutARetryPending() throws Exception {
        for (boolean retryPending : new boolean[] {false, true}) {
            Provider p = new Provider();
            SegmentIds ids = build10(p);
            ReviewStore store = p.made.get(0);
            ids.define("idle", 0, Long.MAX_VALUE);
            SegmentGenerator g = ids.generator("idle");
            if (retryPending) {
                store.hook = (n, onFetch) -> onFetch ? new EkkoException("down for the fetch thread") : null;
            }
            drain(g, 6);
            Thread fetch = fetchThread(ids);
            assertTrue(await(() -> store.fetchThreadAttempts.get() == 1 && parkedIdle(fetch)));
            assertEquals(retryPending ? Thread.State.TIMED_WAITING : Thread.State.WAITING, fetch.getState());
            ids.close();
            fetch.join(TimeUnit.SECONDS.toMillis(BOUND_S));
            assertFalse(fetch.isAlive(), "retry pending " + retryPending + ": the fetch thread outlived close()");
        }
    }

    /**
     * Claim 4: close() right after a fetch, while the fetch thread is still in its spin (or entering the park): 200
     * instances, each closed within microseconds of its fetch; every thread ends.
     */
    @Test
    void claim4_closeDuringTheSpinOrThePark_EndsTheThreadEveryTime() throws Exception {
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            Provider p = new Provider();
            SegmentIds ids = build10(p);
            ReviewStore store = p.made.get(0);
            ids.define("s", 0, Long.MAX_VALUE);
            SegmentGenerator g = ids.generator("s");
            drain(g, 6);
            assertTrue(spinUntil(() -> store.fetchThreadAttempts.get() == 1));
            long until = System.nanoTime() + (i % 8) * 10_000L; // 0 to 70 µs after the fetch
            while (System.nanoTime() - until < 0) {
                Thread.onSpinWait();
            }
            threads.add(fetchThread(ids));
            ids.close();
        }
        for (Thread t : threads) {
            t.join(TimeUnit.SECONDS.toMillis(BOUND_S));
        }
        long alive = threads.stream().filter(Thread::isAlive).count();
        assertEquals(0, alive, "fetch threads still alive after close()");
    }

    /**
     * Claim 4 under load: six callers of four names hammering with steps of 1 to 10, close() from another thread: every
     * caller returns (numbers or GeneratorClosedException, never a hang), and the fetch thread ends.
     */
    @Test
    void claim4_closeUnderLoadNeverHangsACallerAndEndsTheThread() throws Exception {
        for (int run = 0; run < 5; run++) {
            Provider p = new Provider();
            SegmentIds ids = build(p, 1, "ekko.segment.step.min", "1", "ekko.segment.step.max", "10",
                    "ekko.segment.step.target", "1h", "ekko.segment.prefetch.at", "0.5");
            ReviewStore store = p.made.get(0);
            List<SegmentGenerator> gens = new ArrayList<>();
            for (int n = 0; n < 4; n++) {
                ids.define("u" + n, 0, Long.MAX_VALUE);
                gens.add(ids.generator("u" + n));
            }
            store.hook = (name, onFetch) -> {
                if (onFetch && ThreadLocalRandom.current().nextInt(4) == 0) {
                    Thread.sleep(1); // interruptible: close() interrupts it
                }
                return null;
            };
            Thread fetch = fetchThread(ids);
            List<Object> endings = new CopyOnWriteArrayList<>();
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                Thread th = daemon("review-close-" + t, () -> {
                    ThreadLocalRandom random = ThreadLocalRandom.current();
                    try {
                        for (;;) {
                            gens.get(random.nextInt(gens.size())).next();
                        }
                    } catch (Throwable e) {
                        endings.add(e);
                    }
                });
                ts.add(th);
                th.start();
            }
            Thread.sleep(100 + 30 * run);
            Object closeResult = callOrHang(() -> {
                ids.close();
                return "closed";
            });
            assertEquals("closed", closeResult);
            for (Thread th : ts) {
                th.join(TimeUnit.SECONDS.toMillis(BOUND_S));
                assertFalse(th.isAlive(), "run " + run + ": " + th.getName() + " hangs after close()");
            }
            for (Object e : endings) {
                assertTrue(e instanceof GeneratorClosedException, "run " + run + ": a caller ended with " + e);
            }
            fetch.join(TimeUnit.SECONDS.toMillis(BOUND_S));
            assertFalse(fetch.isAlive(), "run " + run + ": the fetch thread outlived close()");
        }
    }

    // ================================================================================================ claim 5: failures

    /**
     * Claim 5: a RuntimeException and an Error thrown by a store on the fetch thread for one name: the thread keeps serving
     * another name's requests, and the failing name's caller is never left waiting (it fetches on its own thread).
     */
    @Test
    void claim5_runtimeExceptionsAndErrorsOnTheFetchThreadDoNotStopItNorStrandACaller() throws Exception {
        for (Throwable thrown : List.<Throwable>of(new EkkoException("store down (review)"), new NoClassDefFoundError(
                "org/example/Driver"), new OutOfMemoryError("review"), new StackOverflowError())) {
            Provider p = new Provider();
            SegmentIds ids = build10(p);
            ReviewStore store = p.made.get(0);
            ids.define("bad", 0, Long.MAX_VALUE);
            ids.define("good", 0, Long.MAX_VALUE);
            SegmentGenerator bad = ids.generator("bad");
            SegmentGenerator good = ids.generator("good");
            store.hook = (name, onFetch) -> onFetch && name.equals("bad") ? thrown : null;
            drain(bad, 6);
            assertTrue(await(() -> store.fetchThreadFailures.get() == 1), thrown + ": the failing fetch never ran");
            if (thrown instanceof Error) {
                assertTrue(await(() -> segmentLog.records().stream().anyMatch(r -> r.getThrown() == thrown && r.getLevel() == Level.WARNING)),
                        thrown + ": the Error was not logged as a WARNING");
            }
            drain(good, 6);
            assertTrue(await(() -> store.fetchThreadTakes("good") == 1), thrown + ": another name's request was not run by"
                    + " the fetch thread after the failure; fetch thread " + fetchThread(ids).getState());
            assertTrue(fetchThread(ids).isAlive());
            drain(bad, 4);
            Object r = callOrHang(bad::next);
            assertEquals(10L, r, thrown + ": the failing name's caller, once its range is used up");
        }
    }

    /**
     * FINDING (claim 5): the fetch thread dies when a store call on it throws an Error and the store's describe() throws
     * too. SegmentFetcher.runSafely catches the Throwable and logs it with a message supplier that calls
     * SegmentBuffer.toString(), which calls every store's describe(); what describe() throws escapes the catch block,
     * runInOrder and run(): the thread ends. From then on no name is prefetched (requests pile up on a stack nobody pops;
     * the buffers that were queued behind stay marked queued forever), every range is fetched on a caller's thread at its
     * end, and failed fetches are no longer retried. A store broken by a class that failed to load throws from take() and
     * describe() alike (NoClassDefFoundError / ExceptionInInitializerError); the same escape happens with DEBUG logging on
     * for a plain RuntimeException (fetch() logs it with store.describe() in the supplier).
     */
    @Test
    void claim5_fetchThreadSurvivesAStoreErrorWhileTheStoresDescribeAlsoThrows() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build10(p);
        ReviewStore store = p.made.get(0);
        ids.define("bad", 0, Long.MAX_VALUE);
        ids.define("good", 0, Long.MAX_VALUE);
        SegmentGenerator bad = ids.generator("bad");
        SegmentGenerator good = ids.generator("good");
        Thread fetch = fetchThread(ids);
        CountDownLatch thrown = new CountDownLatch(1);
        store.hook = (name, onFetch) -> {
            if (onFetch && name.equals("bad") && thrown.getCount() > 0) {
                store.describeFailure = new IllegalStateException("driver not loaded (review)");
                thrown.countDown();
                return new NoClassDefFoundError("org/example/Driver");
            }
            return null;
        };
        drain(bad, 6);
        assertTrue(thrown.await(BOUND_S, TimeUnit.SECONDS));
        assertTrue(await(() -> parkedIdle(fetch) || !fetch.isAlive()));
        store.describeFailure = null; // the store works again
        drain(good, 6);
        boolean served = await(() -> store.fetchThreadTakes("good") == 1);
        assertTrue(fetch.isAlive() && served, "after one Error from a store whose describe() threw too, the fetch thread is "
                + (fetch.isAlive() ? "alive" : "dead (" + fetch.getState() + ")") + " and another name's prefetch "
                + (served ? "was" : "was not") + " run by it");
    }

    /**
     * FINDING (claim 5), the same escape with a RuntimeException: with DEBUG logging on for dev.ekko.segment (as when
     * troubleshooting a store), SegmentBuffer.fetch logs a failed take with store.describe() in the message supplier; if
     * describe() throws, that escapes fetch(), then runSafely's own WARNING log calls describe() again, and the fetch thread
     * ends.
     */
    @Test
    void claim5_fetchThreadSurvivesAStoreRuntimeExceptionWithDebugLoggingWhileTheStoresDescribeAlsoThrows() throws Exception {
        Logger.getLogger("dev.ekko.segment").setLevel(Level.ALL); // put back by segmentLog.close()
        Provider p = new Provider();
        SegmentIds ids = build10(p);
        ReviewStore store = p.made.get(0);
        ids.define("bad", 0, Long.MAX_VALUE);
        ids.define("good", 0, Long.MAX_VALUE);
        SegmentGenerator bad = ids.generator("bad");
        SegmentGenerator good = ids.generator("good");
        Thread fetch = fetchThread(ids);
        CountDownLatch thrown = new CountDownLatch(1);
        store.hook = (name, onFetch) -> {
            if (onFetch && name.equals("bad") && thrown.getCount() > 0) {
                store.describeFailure = new IllegalStateException("connection pool closed (review)");
                thrown.countDown();
                return new EkkoException("store down (review)");
            }
            return null;
        };
        drain(bad, 6);
        assertTrue(thrown.await(BOUND_S, TimeUnit.SECONDS));
        assertTrue(await(() -> parkedIdle(fetch) || !fetch.isAlive()));
        store.describeFailure = null;
        drain(good, 6);
        boolean served = await(() -> store.fetchThreadTakes("good") == 1);
        assertTrue(fetch.isAlive() && served, "after one RuntimeException (DEBUG on) from a store whose describe() threw too,"
                + " the fetch thread is " + (fetch.isAlive() ? "alive" : "dead (" + fetch.getState() + ")")
                + " and another name's prefetch " + (served ? "was" : "was not") + " run by it");
    }

    // ================================================================================================ claim 6: idle

    /**
     * Claim 6: after the last fetch the thread parks without a timeout (no retry pending) and stays parked: sampled for
     * 300 ms it is never runnable, and its CPU time does not grow by more than a small fraction of that.
     */
    @Test
    void claim6_afterTheLastFetchTheThreadParksAndStaysParked() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build10(p);
        ReviewStore store = p.made.get(0);
        ids.define("i", 0, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("i");
        for (int k = 0; k < 20; k++) {
            long before = store.fetchThreadTakes("i");
            drain(g, 6);
            assertTrue(await(() -> store.fetchThreadTakes("i") == before + 1));
            drain(g, 4); // 20 background fetches, the last one just done
        }
        Thread fetch = fetchThread(ids);
        assertTrue(await(() -> fetch.getState() == Thread.State.WAITING), "not parked: " + fetch.getState());
        long cpu0 = cpuNanos(fetch);
        long wall0 = System.nanoTime();
        for (int i = 0; i < 300; i++) {
            Thread.State s = fetch.getState();
            assertEquals(Thread.State.WAITING, s, "sample " + i + ": an idle fetch thread should be parked");
            Thread.sleep(1);
        }
        if (cpu0 >= 0) {
            long cpu = cpuNanos(fetch) - cpu0;
            long wall = System.nanoTime() - wall0;
            assertTrue(cpu < wall / 10, "an idle fetch thread used " + cpu / 1_000_000 + " ms of CPU in " + wall / 1_000_000
                    + " ms");
        }
    }

    /** The thread's CPU time, or -1 (java.management through reflection: the test module does not read it at compile time). */
    private static long cpuNanos(Thread t) {
        try {
            Class<?> factory = Class.forName("java.lang.management.ManagementFactory");
            Class<?> bean = Class.forName("java.lang.management.ThreadMXBean");
            Object mx = factory.getMethod("getThreadMXBean").invoke(null);
            if (!(Boolean) bean.getMethod("isThreadCpuTimeSupported").invoke(mx)) {
                return -1;
            }
            return (Long) bean.getMethod("getThreadCpuTime", long.class).invoke(mx, t.getId());
        } catch (ReflectiveOperationException | LinkageError e) {
            return -1;
        }
    }

    /**
     * Claim 6: a background fetch that failed is retried after about a second while the thread is parked (TIMED_WAITING),
     * with no caller running out; then the thread parks for good.
     */
    @Test
    void claim6_aRetryScheduledForOneSecondRunsWhileTheThreadIsParked() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build10(p);
        ReviewStore store = p.made.get(0);
        ids.define("r", 0, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("r");
        AtomicInteger fails = new AtomicInteger(1);
        store.hook = (name, onFetch) -> onFetch && fails.getAndDecrement() > 0 ? new EkkoException("blip (review)") : null;
        drain(g, 6);
        Thread fetch = fetchThread(ids);
        assertTrue(await(() -> store.fetchThreadFailures.get() == 1));
        assertTrue(await(() -> fetch.getState() == Thread.State.TIMED_WAITING), "parked until the retry is due: "
                + fetch.getState());
        assertFalse(hasNext(g));
        assertTrue(await(() -> hasNext(g)), "the retry did not run within " + BOUND_S + " s while the thread was parked");
        assertEquals(1, store.fetchThreadTakes("r"), "the retry fetched on the fetch thread");
        assertEquals(1, store.callerTakes.get(), "no caller ran out (only the first range was fetched by a caller)");
        assertTrue(await(() -> fetch.getState() == Thread.State.WAITING), "then parked for good: " + fetch.getState());
        assertEquals(10L, drain(g, 5)[4], "the retried range follows");
    }

    /**
     * Claim 6: a store that stays down for the fetch thread is retried about once a second while parked, not in a loop: over
     * 2.5 s, no more than a handful of attempts.
     */
    @Test
    void claim6_aStoreThatStaysDownIsRetriedAboutOnceASecondNotInALoop() throws Exception {
        Provider p = new Provider();
        SegmentIds ids = build10(p);
        ReviewStore store = p.made.get(0);
        ids.define("d", 0, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("d");
        store.hook = (name, onFetch) -> onFetch ? new EkkoException("down (review)") : null;
        drain(g, 6);
        Thread fetch = fetchThread(ids);
        assertTrue(await(() -> store.fetchThreadAttempts.get() >= 1));
        Thread.sleep(2500);
        int attempts = store.fetchThreadAttempts.get();
        assertTrue(attempts >= 2 && attempts <= 5, "fetch-thread attempts in 2.5 s: " + attempts + " (the first, then one a"
                + " second)");
        assertTrue(await(() -> fetch.getState() == Thread.State.TIMED_WAITING), "between retries the thread parks: "
                + fetch.getState());
    }

    /** Guard: the review store double hands out dense ranges, and the reflection reaches the fetch thread. */
    @Test
    void guardTheStoreDoubleHandsOutDenseRanges() {
        Provider p = new Provider();
        SegmentIds ids = build10(p);
        ids.define("g", 3, Long.MAX_VALUE);
        SegmentGenerator g = ids.generator("g");
        long[] got = drain(g, 35);
        for (int i = 0; i < got.length; i++) {
            assertEquals(3 + i, got[i]);
        }
        assertNotNull(fetchThread(ids));
        assertTrue(fetchThread(ids).isAlive());
    }
}
