package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.zaxxer.hikari.HikariDataSource;
import dev.ekko.Ekko;
import dev.ekko.GeneratorStatus;
import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import dev.ekko.WorkerIdsExhaustedException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.sql.SQLNonTransientConnectionException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Adversarial review of striping (ekko.worker.stripes, automatic mode) on the mysql allocator against a real MariaDB:
 * uniqueness, handover and release of stripes whose worker IDs come from the worker-ID table. Each test method has a
 * namespace of its own; each "host" has a state directory of its own, so only the database's marks protect a handover.
 */
class StripingMysqlReviewIT {

    private static SharedMysql db;
    private final String namespace = "stripe-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<AutoCloseable> opened = new ArrayList<>();

    @TempDir
    Path dir;

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(StripingMysqlReviewIT.class);
    }

    @AfterAll
    static void dropDatabase() {
        db.close();
    }

    @AfterEach
    void closeAll() {
        for (int i = opened.size() - 1; i >= 0; i--) {
            try {
                opened.get(i).close();
            } catch (Exception ignored) {
                // closed already, or a failed test
            }
        }
    }

    // ---------------------------------------------------------------- helpers

    /** A "host" with the given instance name, reaching the database by URL. */
    private Ekko.Builder host(String host, String instance) {
        return FastGenerators.builder(db.settings(namespace), dir.resolve(host), instance);
    }

    /** A "host" whose connections come from {@code dataSource} (an application's data source). */
    private Ekko.Builder host(String host, String instance, DataSource dataSource) {
        return FastGenerators.builder(Map.of("ekko.mysql.namespace", namespace), dir.resolve(host), instance)
                .allocatorProvider(MysqlAllocators.provider(dataSource));
    }

    private IdGenerator build(Ekko.Builder b) {
        IdGenerator g = b.build();
        opened.add(g);
        return g;
    }

    private static List<Integer> workers(IdGenerator g) {
        List<Integer> w = new ArrayList<>();
        for (GeneratorStatus s : g.stripeStatuses()) {
            w.add(s.workerId());
        }
        return w;
    }

    private long held(String instanceLike) throws Exception {
        return db.count("SELECT COUNT(*) FROM ekko_worker_ids WHERE namespace = '" + namespace + "' AND idc = " + FastGenerators.IDC
                + " AND token IS NOT NULL AND expires_at > UTC_TIMESTAMP(6) AND holder_instance LIKE '" + instanceLike + "'");
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

    private interface Check {
        boolean ok() throws Exception;
    }

    private static void awaitDb(String what, Duration timeout, Check condition) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.ok()) {
            if (System.nanoTime() > deadline) {
                fail("timed out after " + timeout + " waiting for: " + what);
            }
            Thread.sleep(20);
        }
    }

    /** A data source that can be made unreachable: every getConnection then fails as a refused connection does. */
    private static final class Switchable {
        final AtomicBoolean down = new AtomicBoolean();
        final DataSource dataSource;

        Switchable(DataSource real) {
            dataSource = (DataSource) Proxy.newProxyInstance(Switchable.class.getClassLoader(), new Class<?>[] {DataSource.class},
                    (p, m, a) -> {
                        if (m.getName().equals("getConnection") && down.get()) {
                            throw new SQLNonTransientConnectionException("review: the database is unreachable", "08S01");
                        }
                        try {
                            return m.invoke(real, a);
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
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

    private static long[] take(IdGenerator g, int n) {
        long[] ids = new long[n];
        g.next(ids);
        return ids;
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

    /** Every worker ID both sets issued on: the later set's first ID there is past the earlier set's last. */
    private static void assertPast(String what, Layout layout, long[] earlier, long[] later) {
        Map<Integer, Long> max = maxPerWorker(layout, earlier);
        Map<Integer, Long> min = minPerWorker(layout, later);
        for (Map.Entry<Integer, Long> e : min.entrySet()) {
            Long before = max.get(e.getKey());
            if (before != null) {
                assertTrue(Long.compareUnsigned(e.getValue(), before) > 0, what + ": worker " + e.getKey() + " issued "
                        + layout.decode(e.getValue()) + ", not past the earlier holder's last " + layout.decode(before));
            }
        }
    }

    // ---------------------------------------------------------------- attacks that held

    /**
     * A chaos of data loss under two striped processes that hammer (one in automatic mode), with a seeded schedule: the
     * worker-ID table truncated, one row deleted, a new generation written by hand, the generation row deleted. Stripes lose
     * their leases, give back worker IDs whose state file a sibling stripe still holds, and acquire again; no ID repeats.
     */
    @Test
    void held_dataLossChaosUnderTwoStripedProcessesRepeatsNoId() throws Exception {
        IdGenerator a = build(host("host-a", "a").maxStripes(3).stripeIdleTime(Duration.ofSeconds(1)).setting("ekko.worker.ids", "6"));
        IdGenerator b = build(host("host-b", "b").stripes(2).setting("ekko.worker.ids", "6"));
        java.util.Random rnd = new java.util.Random(42);
        long[] fromA;
        long[] fromB;
        try (Hammer ha = new Hammer(a, 1, 8_000_000); Hammer hb = new Hammer(b, 1, 8_000_000)) {
            String where = " WHERE namespace = '" + namespace + "' AND idc = " + FastGenerators.IDC;
            for (int round = 0; round < 6; round++) {
                Thread.sleep(1200);
                switch (rnd.nextInt(4)) {
                    case 0 -> db.execute("TRUNCATE TABLE ekko_worker_ids");
                    case 1 -> db.execute("DELETE FROM ekko_worker_ids" + where + " AND worker = " + rnd.nextInt(6));
                    case 2 -> db.execute("UPDATE ekko_worker_ids_meta SET generation = MD5(RAND()) WHERE id = 1");
                    default -> db.execute("DELETE FROM ekko_worker_ids_meta");
                }
            }
            Thread.sleep(1500);
            ha.halt();
            hb.halt();
            fromA = ha.ids();
            fromB = hb.ids();
        }
        assertTrue(fromA.length > 0 && fromB.length > 0, "setup: both issued");
        assertDistinct("data loss chaos under two striped processes", fromA, fromB);
    }

    /**
     * A striped process's database becomes unreachable for longer than its leases (it keeps hammering until its fences);
     * another host then takes both its worker IDs (ekko.worker.ids=2) and starts past every ID the stripes issued on each;
     * when the database is back, the first process cannot take them back (all held) and repeats nothing.
     */
    @Test
    void held_databaseOutagePastTheFenceAndAnotherHostTakesEveryStripesWorkerId() throws Exception {
        try (HikariDataSource pool = db.realisticPool(500)) {
            Switchable s = new Switchable(pool);
            IdGenerator a = build(host("host-a", "a", s.dataSource).setting("ekko.worker.ids", "2").stripes(2));
            long[] fromA;
            long[] fromC;
            try (Hammer h = new Hammer(a, 2, 8_000_000)) {
                Thread.sleep(500);
                s.down.set(true);
                awaitDb("a's leases expired at the database", Duration.ofSeconds(10), () -> held("%") == 0);
                IdGenerator c = build(host("host-c", "c").setting("ekko.worker.ids", "2").stripes(2));
                fromC = take(c, 400_000);
                s.down.set(false);
                Thread.sleep(1000);
                h.halt();
                fromA = h.ids();
            }
            assertEquals(2, maxPerWorker(a.layout(), fromA).size(), "setup: both of a's stripes issued");
            assertEquals(2, maxPerWorker(a.layout(), fromC).size(), "setup: both of c's stripes issued");
            assertPast("the next host after an outage past the fence", a.layout(), fromA, fromC);
            assertDistinct("outage past the fence", fromA, fromC);
        }
    }

    /**
     * A restart with fewer, then more stripes (each time on another host: no state file) gets each stripe's own worker ID
     * back by its instance name, and starts past what that stripe issued before.
     */
    @Test
    void held_restartWithFewerThenMoreStripesGetsEachStripesWorkerIdBackAndStartsPast() throws Exception {
        IdGenerator a1 = build(host("host-a", "a").stripes(3));
        List<Integer> three = workers(a1);
        long[] first = take(a1, 300_000);
        a1.close();
        IdGenerator a2 = build(host("host-b", "a").stripes(2));
        assertEquals(three.subList(0, 2), workers(a2), "two stripes after three");
        long[] second = take(a2, 300_000);
        a2.close();
        IdGenerator a3 = build(host("host-c", "a").stripes(3));
        assertEquals(three, workers(a3), "three stripes again");
        long[] third = take(a3, 300_000);
        assertPast("two stripes after three", a2.layout(), first, second);
        assertPast("three after two", a3.layout(), second, third);
        assertPast("three after three", a3.layout(), first, third);
        assertDistinct("restarts with fewer and more stripes", first, second, third);
    }

    /**
     * Instance names that collide with a stripe suffix: process "a" with 2 stripes (instances a, a.stripe1) runs and
     * closes; process "a.stripe1" (one stripe) then starts and takes a's second stripe's worker ID by its instance name;
     * "a" starts again with 2 stripes while it runs (which of its stripes gets which worker ID is a race of their parallel
     * starts). The live stripes never share a worker ID, "a.stripe1" starts past
     * what a's stripe issued on that worker ID, and no ID repeats.
     */
    @Test
    void held_instanceNameCollidingWithAStripeSuffixNeverSharesAWorkerIdAndStartsPast() throws Exception {
        long[] first;
        List<Integer> firstWorkers;
        IdGenerator a1 = build(host("host-a", "a").stripes(2));
        firstWorkers = workers(a1);
        first = take(a1, 200_000);
        a1.close();
        IdGenerator b = build(host("host-b", "a.stripe1"));
        assertEquals(firstWorkers.get(1), b.workerId(), "setup: instance a.stripe1 did not get a's second stripe's worker ID back");
        IdGenerator a2 = build(host("host-c", "a").stripes(2));
        List<Integer> again = workers(a2);
        // Not asserted: that a's first stripe gets its worker ID back. The stripes start in parallel, and stripe 1, whose own
        // worker ID process a.stripe1 now holds, may take stripe 0's free one first (seen in a fresh-clone run: 2, not 1).
        assertTrue(!again.contains(b.workerId()), "a's stripes " + again + " and process a.stripe1 (worker " + b.workerId()
                + ") share a worker ID");
        long[] fromB = take(b, 100_000);
        long[] fromA2 = take(a2, 200_000);
        assertPast("a.stripe1 after a's stripe 1", b.layout(), first, fromB);
        assertPast("a again after a", a2.layout(), first, fromA2);
        Set<Integer> wb = maxPerWorker(b.layout(), fromB).keySet();
        Set<Integer> wa = new HashSet<>(maxPerWorker(a2.layout(), fromA2).keySet());
        wa.retainAll(wb);
        assertTrue(wa.isEmpty(), "both live processes issued on workers " + wa);
        assertDistinct("instance names colliding with a stripe suffix", first, fromB, fromA2);
    }

    /**
     * Namespace exhaustion with stripes (ekko.worker.ids=4, two held by another process): a build with 3 stripes fails with
     * WorkerIdsExhaustedException, and the stripes that did start are closed, their worker IDs released at the database
     * (no row is left held by instance a*), so the next process gets them at once.
     */
    @Test
    void held_aStripedBuildThatExhaustsTheNamespaceReleasesEveryWorkerIdItLeased() throws Exception {
        IdGenerator x = build(host("host-x", "x").setting("ekko.worker.ids", "4").stripes(2));
        assertEquals(2, workers(x).size());
        WorkerIdsExhaustedException e = assertThrows(WorkerIdsExhaustedException.class,
                () -> build(host("host-a", "a").setting("ekko.worker.ids", "4").stripes(3)));
        assertTrue(e.getMessage().contains("worker IDs"), e.getMessage());
        assertEquals(0, held("a%"), "worker IDs still held by the failed striped build's stripes");
        assertEquals(2, held("x%"), "the other process's leases");
        IdGenerator y = build(host("host-y", "y").setting("ekko.worker.ids", "4").stripes(2));
        Set<Integer> all = new HashSet<>(workers(x));
        all.addAll(workers(y));
        assertEquals(4, all.size(), "x " + workers(x) + " y " + workers(y));
    }

    /**
     * Release on close with the database unreachable: a striped process issues, its database becomes unreachable, and it
     * is closed (each stripe's release fails; close() still returns at once). Its leases are left to expire; another host
     * then takes both worker IDs (ekko.worker.ids=2), and on each starts past every ID the closed process's stripe issued,
     * from the marks of their last renewals.
     */
    @Test
    void held_closeWithTheDatabaseUnreachableLeavesMarksThatTheNextHolderStartsPast() throws Exception {
        try (HikariDataSource pool = db.realisticPool(500)) {
            Switchable s = new Switchable(pool);
            IdGenerator a = build(host("host-a", "a", s.dataSource).setting("ekko.worker.ids", "2").stripes(2));
            long[] fromA;
            try (Hammer h = new Hammer(a, 2, 4_000_000)) {
                Thread.sleep(700);
                s.down.set(true);
                Thread.sleep(300);
                h.halt();
                fromA = h.ids();
            }
            long start = System.nanoTime();
            a.close();
            long tookMillis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(tookMillis < 3_000, "close() with the database unreachable took " + tookMillis + " ms");
            assertEquals(2, maxPerWorker(a.layout(), fromA).size(), "setup: both stripes issued");
            awaitDb("the closed process's leases expired", Duration.ofSeconds(10), () -> held("%") == 0);
            IdGenerator b = build(host("host-b", "b").setting("ekko.worker.ids", "2").stripes(2));
            long[] fromB = take(b, 400_000);
            assertEquals(2, maxPerWorker(b.layout(), fromB).size(), "setup: both of b's stripes issued");
            assertPast("the next holder after a close with the database down", b.layout(), fromA, fromB);
            assertDistinct("close with the database down", fromA, fromB);
        }
    }

    /**
     * One stripe's row is deleted at the database while threads hammer, and another host asks for that worker ID at once
     * (it is created again, free): that stripe stops on it, the other stripes serve every caller, and the other host's
     * first ID on the worker ID is past every ID the stripe issued.
     */
    @Test
    void held_oneStripesRowDeletedWhileHammeredAndTakenByAnotherHost() throws Exception {
        IdGenerator g = build(host("host-a", "a").stripes(3));
        List<Integer> held = workers(g);
        int victim = held.get(1);
        long[] fromB;
        Hammer h = new Hammer(g, 2, 4_000_000);
        try {
            Thread.sleep(200);
            db.execute("DELETE FROM ekko_worker_ids WHERE namespace = '" + namespace + "' AND idc = " + FastGenerators.IDC
                    + " AND worker = " + victim);
            IdGenerator b = build(host("host-b", "b").workerId(victim));
            assertEquals(victim, b.workerId(), "setup: host-b did not get the deleted worker ID");
            fromB = take(b, 50_000);
            await("the stripe whose row was deleted stopped issuing on worker " + victim, Duration.ofSeconds(10),
                    () -> g.stripeStatuses().get(1).workerId() != victim
                            || g.stripeStatuses().get(1).state() != GeneratorStatus.State.LIVE);
            Thread.sleep(300);
        } finally {
            h.halt();
        }
        long[] before = h.ids();
        assertTrue(h.failures.isEmpty(), "a caller failed although two stripes were live: " + h.failures.peek());
        assertTrue(maxPerWorker(g.layout(), before).containsKey(victim), "setup: the victim stripe issued");
        assertPast("host-b after a stripe whose row was deleted", g.layout(), before, fromB);
        assertDistinct("stripe row deleted, worker taken by host-b", before, fromB);
    }

    /**
     * The worker-ID table truncated under two striped processes that hammer (a new generation follows, since each stripe's
     * renewal finds its row gone): every stripe loses its lease and acquires again, and no ID repeats across both
     * processes, before and after.
     */
    @Test
    void held_tableTruncatedUnderTwoStripedProcessesRepeatsNoId() throws Exception {
        IdGenerator a = build(host("host-a", "a").stripes(2));
        IdGenerator b = build(host("host-b", "b").stripes(2));
        long[] fromA;
        long[] fromB;
        try (Hammer ha = new Hammer(a, 1, 6_000_000); Hammer hb = new Hammer(b, 1, 6_000_000)) {
            Thread.sleep(300);
            db.execute("TRUNCATE TABLE ekko_worker_ids");
            await("every stripe of both lost its lease and is live again", Duration.ofSeconds(15), () -> {
                for (IdGenerator g : List.of(a, b)) {
                    for (GeneratorStatus s : g.stripeStatuses()) {
                        if (s.state() != GeneratorStatus.State.LIVE || s.counters().leaseLosses() == 0) {
                            return false;
                        }
                    }
                }
                return true;
            });
            Thread.sleep(300);
            ha.halt();
            hb.halt();
            fromA = ha.ids();
            fromB = hb.ids();
        }
        Set<Integer> wa = new HashSet<>(workers(a));
        wa.retainAll(workers(b));
        assertTrue(wa.isEmpty(), "live stripes of both share workers " + wa);
        assertDistinct("table truncated under two striped processes", fromA, fromB);
    }

    /**
     * close() while the striper adds a stripe that holds its lease at the database and waits for its start floor (a fresh
     * row: no history, so one TTL plus the skew): close() interrupts that start, and when it returns no worker ID of the
     * process is leased at the database, the stripe being added included.
     */
    @Test
    void held_closeWhileTheStriperAddsAStripeWaitingForItsFloorLeavesNoLease() throws Exception {
        IdGenerator a = build(host("host-a", "a").maxStripes(2).stripeIdleTime(Duration.ofSeconds(5)));
        try (Hammer h = new Hammer(a, 1, 1)) {
            awaitDb("the added stripe leased at the database, waiting for its floor", Duration.ofSeconds(10),
                    () -> held("a.stripe1") == 1);
            assertEquals(1, a.stripeStatuses().size(), "setup: the added stripe was published before its floor");
            long start = System.nanoTime();
            a.close();
            long tookMillis = (System.nanoTime() - start) / 1_000_000;
            h.halt();
            assertEquals(0, held("a%"), "a worker ID still leased at the database after close() (took " + tookMillis + " ms)");
            assertTrue(tookMillis < FastGenerators.TTL.toMillis(), "close() waited out the added stripe's floor: " + tookMillis
                    + " ms");
        }
    }

    /**
     * Automatic mode while the database is unreachable: the striper's adds fail (callers are served by the live stripe
     * meanwhile) and leave no lease behind; once it is back, a stripe is added and leased at the database, and once idle it
     * is closed and its lease given back there; close() gives back the last one.
     */
    @Test
    void held_stripesAddedAcrossADatabaseOutageAreLeasedAndGivenBack() throws Exception {
        try (HikariDataSource pool = db.realisticPool(500)) {
            Switchable s = new Switchable(pool);
            IdGenerator a = build(host("host-a", "a", s.dataSource).maxStripes(2).stripeIdleTime(Duration.ofSeconds(1)));
            try (Hammer h = new Hammer(a, 1, 1)) {
                s.down.set(true);
                Thread.sleep(700); // the striper's checks see callers wait, and every add fails to connect
                assertEquals(1, a.stripeStatuses().size(), "a stripe was added while the database was unreachable");
                s.down.set(false);
                await("a second stripe once the database is back", Duration.ofSeconds(15), () -> a.stripeStatuses().size() == 2
                        && a.stripeStatuses().get(1).state() == GeneratorStatus.State.LIVE);
                assertEquals(2, held("a%"), "leases at the database with 2 stripes live");
                h.halt();
                assertTrue(h.failures.isEmpty(), "a caller failed during the outage: " + h.failures.peek());
            }
            await("the idle stripe closed", Duration.ofSeconds(10), () -> a.stripeStatuses().size() == 1);
            assertEquals(1, held("a%"), "the idle stripe's lease was not given back at the database");
            a.close();
            assertEquals(0, held("a%"), "a lease still held after close()");
        }
    }
}
