package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ekko.Ekko;
import dev.ekko.GeneratorStatus;
import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import dev.ekko.testsupport.TestServers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * Adversarial review of striping (ekko.worker.stripes, automatic mode) on a real Redis: uniqueness and fencing of stripes
 * when worker IDs come from the coordinator. Each test method has a namespace of its own.
 */
class StripingReviewIT {

    private static final String CLASS_PREFIX = TestServers.redisKeyPrefix(StripingReviewIT.class);
    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);
    private final List<IdGenerator> generators = new ArrayList<>();

    @TempDir
    Path dir;

    @AfterEach
    void closeAll() {
        for (IdGenerator g : generators) {
            try {
                g.close();
            } catch (RuntimeException ignored) {
                // closed already
            }
        }
    }

    @AfterAll
    static void deleteKeys() {
        SharedRedis.deleteKeys(CLASS_PREFIX);
    }

    // ---------------------------------------------------------------- helpers

    /** A "host": its own state directory and host-lock directory; only Redis is shared. */
    private Ekko.Builder host(String host) {
        return FastGenerators.builder(SharedRedis.uri(), namespace, dir.resolve(host), host)
                .setting("ekko.host.lock.dir", dir.resolve(host + "-locks").toString());
    }

    private IdGenerator build(Ekko.Builder b) {
        IdGenerator g = b.build();
        generators.add(g);
        return g;
    }

    private static List<Integer> workers(IdGenerator g) {
        List<Integer> w = new ArrayList<>();
        for (GeneratorStatus s : g.stripeStatuses()) {
            w.add(s.workerId());
        }
        return w;
    }

    private static void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out after " + timeout + " waiting for: " + what);
            }
            Thread.sleep(10);
        }
    }

    /** Threads calling next(long[]) at full speed, keeping every ID (up to a cap) and every exception. */
    private static final class Hammer implements AutoCloseable {
        final AtomicBoolean stop = new AtomicBoolean();
        final List<Thread> threads = new ArrayList<>();
        final List<long[]> kept = new ArrayList<>();
        final int[] counts;
        final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();

        Hammer(IdGenerator g, int n, int cap) {
            counts = new int[n];
            for (int i = 0; i < n; i++) {
                long[] store = new long[cap];
                kept.add(store);
                int index = i;
                Thread t = new Thread(() -> {
                    long[] batch = new long[256];
                    while (!stop.get()) {
                        try {
                            g.next(batch);
                        } catch (RuntimeException e) {
                            failures.add(e);
                            Thread.onSpinWait();
                            continue;
                        }
                        int c = counts[index];
                        int room = Math.min(batch.length, cap - c);
                        if (room > 0) {
                            System.arraycopy(batch, 0, store, c, room);
                            counts[index] = c + room;
                        }
                    }
                }, "review-hammer-" + i);
                t.setDaemon(true);
                threads.add(t);
                t.start();
            }
        }

        long[] ids() {
            int total = 0;
            for (int c : counts) {
                total += c;
            }
            long[] all = new long[total];
            int at = 0;
            for (int i = 0; i < counts.length; i++) {
                System.arraycopy(kept.get(i), 0, all, at, counts[i]);
                at += counts[i];
            }
            return all;
        }

        /** Stops the threads and waits for them. */
        void halt() {
            stop.set(true);
            try {
                for (Thread t : threads) {
                    t.join(10_000);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        @Override
        public void close() {
            halt();
        }
    }

    private static void assertDistinct(String what, long[]... sets) {
        int n = 0;
        for (long[] s : sets) {
            n += s.length;
        }
        long[] all = new long[n];
        int at = 0;
        for (long[] s : sets) {
            System.arraycopy(s, 0, all, at, s.length);
            at += s.length;
        }
        Arrays.sort(all);
        for (int i = 1; i < all.length; i++) {
            if (all[i] == all[i - 1]) {
                fail(what + ": duplicate ID " + Long.toUnsignedString(all[i]) + " among " + all.length);
            }
        }
    }

    private static Map<Integer, Long> maxPerWorker(Layout layout, long[] ids) {
        Map<Integer, Long> max = new TreeMap<>();
        for (long id : ids) {
            max.merge(layout.decode(id).worker(), id, (a, b) -> Long.compareUnsigned(a, b) >= 0 ? a : b);
        }
        return max;
    }

    private static Map<Integer, Long> minPerWorker(Layout layout, long[] ids) {
        Map<Integer, Long> min = new TreeMap<>();
        for (long id : ids) {
            min.merge(layout.decode(id).worker(), id, (a, b) -> Long.compareUnsigned(a, b) <= 0 ? a : b);
        }
        return min;
    }

    // ---------------------------------------------------------------- attacks

    /**
     * Two striped processes (two "hosts") in one namespace, both in automatic mode, grow at once under load: their live
     * stripes never hold the same worker ID, and no ID is issued twice.
     */
    @Test
    void held_twoStripedProcessesGrowingAtOnceNeverShareAWorkerId() throws Exception {
        IdGenerator a = build(host("host-a").maxStripes(3).stripeIdleTime(Duration.ofSeconds(1)));
        IdGenerator b = build(host("host-b").maxStripes(3).stripeIdleTime(Duration.ofSeconds(1)));
        long[] idsA;
        long[] idsB;
        try (Hammer ha = new Hammer(a, 1, 3_000_000); Hammer hb = new Hammer(b, 1, 3_000_000)) {
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (a.stripeStatuses().size() < 3 || b.stripeStatuses().size() < 3) {
                Set<Integer> wa = new HashSet<>(workers(a));
                for (int w : workers(b)) {
                    assertTrue(!wa.contains(w), "worker " + w + " held by a stripe of both: " + workers(a) + " and " + workers(b));
                }
                if (System.nanoTime() > deadline) {
                    fail("both did not grow to 3 stripes in 20 s: " + workers(a) + " " + workers(b));
                }
                Thread.sleep(5);
            }
            Thread.sleep(300);
            ha.halt();
            hb.halt();
            assertTrue(ha.failures.isEmpty(), "callers of a failed: " + ha.failures.peek());
            assertTrue(hb.failures.isEmpty(), "callers of b failed: " + hb.failures.peek());
            idsA = ha.ids();
            idsB = hb.ids();
        }
        Set<Integer> wa = maxPerWorker(a.layout(), idsA).keySet();
        Set<Integer> wb = maxPerWorker(b.layout(), idsB).keySet();
        Set<Integer> both = new HashSet<>(wa);
        both.retainAll(wb);
        assertTrue(both.isEmpty(), "IDs of both processes carry workers " + both + " (a " + wa + ", b " + wb + ")");
        assertDistinct("two striped processes", idsA, idsB);
    }

    /**
     * A stripe the striper closed for idleness, and whose worker ID the same process's striper then leases again (the
     * instance name .stripe1 brings it back): the new stripe starts past every ID the closed one issued.
     */
    @Test
    void held_closedStripeReacquiredByTheSameProcessStartsPastItsOwnIds() throws Exception {
        IdGenerator g = build(host("host-a").maxStripes(2).stripeIdleTime(Duration.ofSeconds(1)));
        int first = g.workerId();
        long[] round1;
        try (Hammer h = new Hammer(g, 1, 3_000_000)) {
            await("a second stripe that issued", Duration.ofSeconds(15),
                    () -> g.stripeStatuses().size() == 2 && g.stripeStatuses().get(1).counters().idsIssued() > 1000);
            h.halt();
            round1 = h.ids();
        }
        int added = workers(g).get(1);
        await("the idle stripe closed", Duration.ofSeconds(10), () -> g.stripeStatuses().size() == 1);
        long[] round2;
        try (Hammer h = new Hammer(g, 1, 3_000_000)) {
            await("a second stripe again that issued", Duration.ofSeconds(15),
                    () -> g.stripeStatuses().size() == 2 && g.stripeStatuses().get(1).counters().idsIssued() > 1000);
            h.halt();
            round2 = h.ids();
        }
        assertEquals(added, workers(g).get(1), "setup: the second stripe did not get its worker ID back (" + workers(g) + ")");
        Map<Integer, Long> max1 = maxPerWorker(g.layout(), round1);
        Map<Integer, Long> min2 = minPerWorker(g.layout(), round2);
        for (int w : List.of(first, added)) {
            assertTrue(max1.containsKey(w) && min2.containsKey(w), "setup: worker " + w + " issued in both rounds");
            assertTrue(Long.compareUnsigned(min2.get(w), max1.get(w)) > 0, "worker " + w + " issued "
                    + g.layout().decode(min2.get(w)) + " after its stripe was closed and re-added, not past "
                    + g.layout().decode(max1.get(w)));
        }
        assertDistinct("one process, stripe closed and re-added", round1, round2);
    }

    /**
     * One stripe's lease is deleted at Redis while threads hammer, and another host is granted that worker ID at once:
     * that stripe stops (its next renewal finds the lease gone), the others go on serving every caller, and the other
     * host's first ID on the worker ID is past every ID the stripe issued.
     */
    @Test
    void held_oneStripesLeaseDeletedAtRedisWhileHammeredAndTakenByAnotherHost() throws Exception {
        IdGenerator g = build(host("host-a").stripes(3));
        List<Integer> held = workers(g);
        int victim = held.get(1);
        long[] before;
        long[] fromB;
        Hammer h = new Hammer(g, 2, 4_000_000);
        try {
            Thread.sleep(200);
            try (Jedis j = SharedRedis.connect()) {
                String key = namespace + ":{idc" + FastGenerators.IDC + "}:lease:" + victim;
                assertEquals(1L, j.del(key), "setup: lease key " + key);
            }
            // Another host asks for that worker ID at once, while the stripe may still issue until its next renewal.
            IdGenerator b = build(host("host-b").workerId(victim));
            assertEquals(victim, b.workerId(), "setup: host-b did not get the deleted worker ID");
            long[] bIds = new long[50_000];
            b.next(bIds);
            fromB = bIds;
            await("the stripe whose lease was deleted stopped issuing on worker " + victim, Duration.ofSeconds(10),
                    () -> g.stripeStatuses().get(1).workerId() != victim
                            || g.stripeStatuses().get(1).state() != GeneratorStatus.State.LIVE);
            Thread.sleep(300);
        } finally {
            h.halt();
        }
        before = h.ids();
        assertTrue(h.failures.isEmpty(), "a caller failed although two stripes were live: " + h.failures.peek());
        Map<Integer, Long> max = maxPerWorker(g.layout(), before);
        long firstB = Arrays.stream(fromB).min().orElseThrow();
        if (max.containsKey(victim)) {
            assertTrue(Long.compareUnsigned(firstB, max.get(victim)) > 0, "host-b issued " + g.layout().decode(firstB)
                    + " on worker " + victim + ", not past the stripe's last " + g.layout().decode(max.get(victim)));
        }
        assertDistinct("stripe lease deleted, worker taken by host-b", before, fromB);
    }

    /**
     * Every worker ID of the namespace is held (ekko.worker.ids=2, the other held by host-b): the striper's adds fail every
     * check, and callers are served throughout by the live stripe; once host-b lets go, the striper adds the stripe.
     */
    @Test
    void held_addingAStripeWhileTheNamespaceIsExhaustedNeitherBlocksNorFailsCallers() throws Exception {
        IdGenerator b = build(host("host-b").setting("ekko.worker.ids", "2"));
        IdGenerator a = build(host("host-a").setting("ekko.worker.ids", "2").maxStripes(2).stripeIdleTime(Duration.ofSeconds(1)));
        try (Hammer h = new Hammer(a, 1, 1_000_000)) {
            Thread.sleep(1500); // 15 checks of the striper, each trying and failing to add a stripe
            assertEquals(1, a.stripeStatuses().size());
            long issued = a.status().counters().idsIssued();
            assertTrue(issued > 1_000_000, "callers barely served while adds failed: " + issued);
            b.close();
            await("the striper adding the freed worker ID", Duration.ofSeconds(15), () -> a.stripeStatuses().size() == 2
                    && a.stripeStatuses().get(1).state() == GeneratorStatus.State.LIVE);
            h.halt();
            assertTrue(h.failures.isEmpty(), "a caller failed: " + h.failures.peek());
        }
    }

    /**
     * Automatic mode can close a stripe in the middle of the set (the highest-index idle stripe, while a later one is
     * busy); the next add then starts stripe index k - 1 again, with an instance name a live stripe already has. The
     * documented promise, "stripe i > 0 uses the instance name &lt;instance&gt;.stripe&lt;i&gt;, so that each gets its own
     * worker ID back after a restart", no longer holds: two live leases carry the same instance name, and the
     * coordinator's instance to worker ID record (instances hash) names only one of them.
     */
    @Test
    void foundInReview_1_twoLiveStripesOfOneProcessShareAnInstanceName() throws Exception {
        IdGenerator g = build(host("host-a").maxStripes(3).stripeIdleTime(Duration.ofSeconds(1)));
        Hammer load = new Hammer(g, 2, 1);
        try {
            await("three stripes that issued", Duration.ofSeconds(20), () -> g.stripeStatuses().size() == 3
                    && g.stripeStatuses().get(1).counters().idsIssued() > 0 && g.stripeStatuses().get(2).counters().idsIssued() > 0);
        } finally {
            load.halt();
        }
        List<Integer> three = workers(g);
        // A thread at a low rate whose home is stripe 2: found by a first call, which (not used up) its home stripe serves.
        AtomicBoolean stop = new AtomicBoolean();
        Thread slow = null;
        for (int attempt = 0; attempt < 12 && slow == null; attempt++) {
            AtomicBoolean home2 = new AtomicBoolean();
            java.util.concurrent.CountDownLatch decided = new java.util.concurrent.CountDownLatch(1);
            Thread t = new Thread(() -> {
                // A thread's home is fixed at its first call; with nothing used up, the home stripe serves it.
                home2.set(g.layout().decode(g.next()).worker() == three.get(2));
                decided.countDown();
                while (home2.get() && !stop.get()) {
                    g.next();
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "review-slow-" + attempt);
            t.setDaemon(true);
            t.start();
            decided.await();
            if (home2.get()) {
                slow = t;
            } else {
                t.join();
            }
        }
        assertTrue(slow != null, "setup: no thread with home stripe 2");
        try {
            await("an idle stripe closed", Duration.ofSeconds(10), () -> g.stripeStatuses().size() == 2);
        } finally {
            stop.set(true);
            slow.join();
        }
        List<Integer> two = workers(g);
        assertEquals(List.of(three.get(0), three.get(2)), two, "setup: the middle stripe (worker " + three.get(1)
                + ") should have been closed, the busy last one kept: " + three + " -> " + two);
        Hammer again = new Hammer(g, 2, 1);
        try {
            await("a third stripe again", Duration.ofSeconds(20), () -> g.stripeStatuses().size() == 3
                    && g.stripeStatuses().get(2).state() == GeneratorStatus.State.LIVE);
        } finally {
            again.halt();
        }
        Map<String, List<Integer>> byInstance = new HashMap<>();
        try (Jedis j = SharedRedis.connect()) {
            for (int w : workers(g)) {
                String instance = j.hget(namespace + ":{idc" + FastGenerators.IDC + "}:lease:" + w, "instance");
                byInstance.computeIfAbsent(instance, k -> new ArrayList<>()).add(w);
            }
        }
        for (Map.Entry<String, List<Integer>> e : byInstance.entrySet()) {
            assertEquals(1, e.getValue().size(), "live stripes " + workers(g) + " of one generator share the instance name "
                    + e.getKey() + " at Redis (workers " + e.getValue() + "): all " + byInstance);
        }
    }
}
