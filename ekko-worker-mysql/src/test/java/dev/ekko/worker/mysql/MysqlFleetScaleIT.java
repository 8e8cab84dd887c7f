package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import dev.ekko.WorkerIdsExhaustedException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import dev.ekko.spi.WorkerLease;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 13, fleet scale: 4,096 worker IDs per IDC, many allocators of one JVM on one pool. Times are logged (lines starting
 * {@code fleet-scale:}), never asserted: the machine is shared.
 */
class MysqlFleetScaleIT {

    private static final int WORKER_IDS = 4096;
    private static SharedMysql db;
    private final String namespace = "fleet-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<WorkerAllocator> opened = Collections.synchronizedList(new ArrayList<>());
    private final List<HikariDataSource> pools = new ArrayList<>();

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(MysqlFleetScaleIT.class);
    }

    @AfterAll
    static void dropDatabase() {
        db.close();
    }

    @AfterEach
    void closeAll() {
        opened.forEach(WorkerAllocator::close);
        pools.forEach(HikariDataSource::close);
    }

    /** A pool set up as the module sets up its own, with {@code size} connections and a 2 s timeout. */
    private WorkerAllocatorProvider sharedPool(int size) {
        HikariDataSource pool = db.realisticPool(2000, size);
        pools.add(pool);
        return MysqlAllocators.provider(pool);
    }

    private WorkerAllocator allocator(WorkerAllocatorProvider provider, int idc, int workerIds, String instance) {
        return allocator(provider, AllocatorContext.builder().idc(idc).workerIds(workerIds).instance(instance).host("host-" + instance)
                .leaseTtl(Duration.ofSeconds(30)).setting("ekko.mysql.namespace", namespace));
    }

    private WorkerAllocator allocator(WorkerAllocatorProvider provider, AllocatorContext.Builder context) {
        WorkerAllocator a = provider.create(context.build());
        opened.add(a);
        return a;
    }

    private static String token(int worker) {
        return String.format("%032x", worker + 1);
    }

    /**
     * Makes the tables (one acquire and release on another IDC, so this one has no row), then writes held leases for
     * {@code workers} straight into the table: token
     * {@link #token(int)}, expiring in 10 minutes, held by 5 hosts, with a mark of the current generation 5 s ahead.
     */
    private void hold(WorkerAllocatorProvider provider, int idc, Set<Integer> workers) throws Exception {
        WorkerAllocator first = allocator(provider, idc + 4, WORKER_IDS, "table-maker");
        WorkerLease lease = first.acquire();
        first.release(lease, new ClockReport(System.currentTimeMillis(), System.currentTimeMillis(), "host-table-maker", 1, "table-maker"));
        String generation = db.string("SELECT generation FROM ekko_worker_ids_meta WHERE id = 1");
        long mark = System.currentTimeMillis() + 5000;
        List<Integer> all = new ArrayList<>(new TreeSet<>(workers));
        try (Connection c = db.connect()) {
            for (int from = 0; from < all.size(); from += 512) {
                List<Integer> chunk = all.subList(from, Math.min(all.size(), from + 512));
                StringBuilder sql = new StringBuilder("INSERT INTO ekko_worker_ids (namespace, idc, worker, token, expires_at, granted_at,"
                        + " holder_host, holder_pid, holder_instance, base_mark, mark, mark_generation, last_instance) VALUES ");
                for (int i = 0; i < chunk.size(); i++) {
                    sql.append(i == 0 ? "" : ", ").append("(?, ?, ?, ?, UTC_TIMESTAMP(6) + INTERVAL 10 MINUTE, UTC_TIMESTAMP(6), ?, 1, ?,"
                            + " ?, ?, ?, ?)");
                }
                try (PreparedStatement s = c.prepareStatement(sql.toString())) {
                    int p = 1;
                    for (int w : chunk) {
                        s.setString(p++, namespace);
                        s.setInt(p++, idc);
                        s.setInt(p++, w);
                        s.setString(p++, token(w));
                        s.setString(p++, "held-host-" + (w % 5));
                        s.setString(p++, "held-" + w);
                        s.setLong(p++, mark);
                        s.setLong(p++, mark);
                        s.setString(p++, generation);
                        s.setString(p++, "held-" + w);
                    }
                    s.executeUpdate();
                }
            }
        }
    }

    private static ClockReport report(String instance) {
        long now = System.currentTimeMillis();
        return new ClockReport(now, now + 5000, "host-" + instance, 42, instance);
    }

    /**
     * A deploy storm: 3,000 of 4,096 worker IDs held, then 1,000 allocators on one shared pool of 16 connections acquire at
     * once from 32 threads. Every one gets a worker ID (no exception of any kind), all distinct and none of the held ones.
     */
    @Test
    void aThousandAcquirersAtOnceOnOneSharedPoolWithThreeThousandHeldAllGetDistinctWorkerIds() throws Exception {
        WorkerAllocatorProvider provider = sharedPool(16);
        int idc = 1;
        List<Integer> shuffled = new ArrayList<>();
        for (int w = 0; w < WORKER_IDS; w++) {
            shuffled.add(w);
        }
        Collections.shuffle(shuffled, new Random(13));
        Set<Integer> held = new HashSet<>(shuffled.subList(0, 3000));
        hold(provider, idc, held);

        int acquirers = 1000;
        List<WorkerAllocator> storm = new ArrayList<>();
        for (int i = 0; i < acquirers; i++) {
            storm.add(allocator(provider, idc, WORKER_IDS, "storm-" + i));
        }
        ExecutorService threads = Executors.newFixedThreadPool(32);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Integer>> results = new ArrayList<>();
            for (WorkerAllocator a : storm) {
                results.add(threads.submit(() -> {
                    go.await();
                    return a.acquire().workerId();
                }));
            }
            long start = System.nanoTime();
            go.countDown();
            Set<Integer> got = new HashSet<>();
            List<String> failures = new ArrayList<>();
            for (Future<Integer> f : results) {
                try {
                    int w = f.get(10, TimeUnit.MINUTES);
                    assertTrue(got.add(w), "worker ID handed out twice: " + w);
                    assertFalse(held.contains(w), "a held worker ID was handed out: " + w);
                } catch (java.util.concurrent.ExecutionException e) {
                    failures.add(String.valueOf(e.getCause()));
                }
            }
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            System.out.printf("fleet-scale: storm: %d acquirers, 32 threads, pool of 16, %d of %d worker IDs held before: %d ms"
                    + " (%.1f ms per acquire, %d failed)%n", acquirers, held.size(), WORKER_IDS, millis, (double) millis / acquirers,
                    failures.size());
            assertEquals(List.of(), failures.subList(0, Math.min(5, failures.size())), failures.size() + " acquires failed");
            assertEquals(acquirers, got.size());
        } finally {
            threads.shutdownNow();
        }
        assertEquals(3000 + acquirers, db.count("SELECT COUNT(*) FROM ekko_worker_ids WHERE namespace = '" + namespace + "' AND idc = "
                + idc + " AND token IS NOT NULL AND expires_at > UTC_TIMESTAMP(6)"));
    }

    /**
     * Exhaustion: all 4,096 worker IDs held, one more acquirer gets {@link WorkerIdsExhaustedException} naming the count and
     * holders; nothing of the holders' rows changes, and every holder still renews.
     */
    @Test
    void withEveryWorkerIdHeldOneMoreAcquirerIsToldExhaustedAndEveryHolderStillRenews() throws Exception {
        WorkerAllocatorProvider provider = sharedPool(16);
        int idc = 2;
        Set<Integer> all = new HashSet<>();
        for (int w = 0; w < WORKER_IDS; w++) {
            all.add(w);
        }
        hold(provider, idc, all);

        List<Long> times = new ArrayList<>();
        WorkerIdsExhaustedException last = null;
        for (int i = 0; i < 5; i++) {
            WorkerAllocator extra = allocator(provider, idc, WORKER_IDS, "one-more-" + i);
            long start = System.nanoTime();
            last = assertThrows(WorkerIdsExhaustedException.class, extra::acquire);
            times.add(TimeUnit.NANOSECONDS.toMicros(System.nanoTime() - start));
        }
        System.out.printf("fleet-scale: exhaustion: %d of %d worker IDs held, one more acquirer: %s us (5 runs, one after the"
                + " other)%n", WORKER_IDS, WORKER_IDS, times);
        String m = last.getMessage();
        assertTrue(m.contains("all 4096 worker IDs of idc=2 are held at "), m);
        assertTrue(m.contains("host held-host-"), m);
        assertEquals(WORKER_IDS, db.count("SELECT COUNT(*) FROM ekko_worker_ids WHERE namespace = '" + namespace + "' AND idc = " + idc
                + " AND token = LOWER(LPAD(HEX(worker + 1), 32, '0')) AND expires_at > UTC_TIMESTAMP(6) + INTERVAL 9 MINUTE"),
                "a holder's lease changed");

        ExecutorService threads = Executors.newFixedThreadPool(8);
        try {
            List<Future<Integer>> renewed = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                WorkerAllocator a = allocator(provider, idc, WORKER_IDS, "renewer-" + t);
                int first = t;
                renewed.add(threads.submit(() -> {
                    int n = 0;
                    for (int w = first; w < WORKER_IDS; w += 8) {
                        WorkerLease lease = new WorkerLease(w, token(w), Duration.ofMinutes(10), System.nanoTime(), Handover.unknown(), 0,
                                null);
                        a.renew(lease, report("held-" + w));
                        n++;
                    }
                    return n;
                }));
            }
            long start = System.nanoTime();
            int total = 0;
            for (Future<Integer> f : renewed) {
                total += f.get(5, TimeUnit.MINUTES);
            }
            System.out.printf("fleet-scale: renewals: %d holders renewed from 8 threads on a pool of 16: %d ms%n", total,
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
            assertEquals(WORKER_IDS, total);
        } finally {
            threads.shutdownNow();
        }
    }

    /**
     * Acquires stuck on a row lock must not take every connection of a shared pool: while a test session holds the lock on a
     * new row of a free worker ID (its row deleted, then inserted again uncommitted), 24 acquirers preferring it try again and
     * again on a pool of 4 (each waits for the lock in its INSERT IGNORE);
     * the 4 holders on the same pool renew every 400 ms for 5 s, each within the timeout.
     */
    @Test
    void renewalsFindAConnectionWhileAcquiresOnTheSamePoolAreStuckOnARowLock() throws Exception {
        WorkerAllocatorProvider provider = sharedPool(4);
        int idc = 3;
        List<WorkerAllocator> holders = new ArrayList<>();
        List<WorkerLease> leases = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            WorkerAllocator h = allocator(provider, idc, 256, "holder-" + i);
            holders.add(h);
            leases.add(h.acquire());
        }
        AtomicBoolean stop = new AtomicBoolean();
        ExecutorService threads = Executors.newFixedThreadPool(24);
        ConcurrentLinkedQueue<String> acquireOutcomes = new ConcurrentLinkedQueue<>();
        Set<Integer> taken = new HashSet<>();
        leases.forEach(l -> taken.add(l.workerId()));
        int free = 200;
        while (taken.contains(free)) {
            free++;
        }
        int contended = free;
        db.execute("DELETE FROM ekko_worker_ids WHERE namespace = '" + namespace + "' AND idc = " + idc + " AND worker = " + contended);
        try (Connection lock = db.connect()) {
            lock.setAutoCommit(false);
            try (PreparedStatement s = lock.prepareStatement("INSERT INTO ekko_worker_ids (namespace, idc, worker) VALUES (?, ?, ?)")) {
                s.setString(1, namespace);
                s.setInt(2, idc);
                s.setInt(3, contended);
                s.executeUpdate();
            }
            for (int i = 0; i < 24; i++) {
                WorkerAllocator a = allocator(provider, AllocatorContext.builder().idc(idc).workerIds(256).instance("stuck-" + i)
                        .host("host-stuck").preferredWorkerId(contended).leaseTtl(Duration.ofSeconds(30))
                        .setting("ekko.mysql.namespace", namespace));
                threads.submit(() -> {
                    while (!stop.get()) {
                        try {
                            WorkerLease got = a.acquire();
                            a.release(got, report("stuck"));
                            acquireOutcomes.add("acquired " + got.workerId());
                        } catch (InterruptedException e) {
                            return;
                        } catch (RuntimeException e) {
                            acquireOutcomes.add(e.getClass().getSimpleName());
                        }
                    }
                });
            }
            Thread.sleep(500);
            List<String> failures = new ArrayList<>();
            int renewals = 0;
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (System.nanoTime() < end) {
                for (int i = 0; i < holders.size(); i++) {
                    long start = System.nanoTime();
                    try {
                        leases.set(i, holders.get(i).renew(leases.get(i), report("holder-" + i)));
                        renewals++;
                    } catch (RuntimeException e) {
                        failures.add(e.getMessage() + " (after " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) + " ms)");
                    }
                }
                Thread.sleep(400);
            }
            System.out.printf("fleet-scale: stuck acquires: %d renewals, %d failed; acquire outcomes meanwhile: %s%n", renewals,
                    failures.size(), summary(acquireOutcomes));
            assertEquals(List.of(), failures, "renewals failed while acquires were stuck");
            lock.rollback();
        } finally {
            stop.set(true);
            threads.shutdownNow();
            threads.awaitTermination(30, TimeUnit.SECONDS);
        }
    }

    private static String summary(ConcurrentLinkedQueue<String> outcomes) {
        java.util.Map<String, Integer> counts = new java.util.TreeMap<>();
        outcomes.forEach(o -> counts.merge(o, 1, Integer::sum));
        return counts.toString();
    }
}
