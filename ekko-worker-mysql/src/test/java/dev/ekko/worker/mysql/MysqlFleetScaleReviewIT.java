package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.zaxxer.hikari.HikariDataSource;
import dev.ekko.EkkoException;
import dev.ekko.WorkerIdsExhaustedException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.worker.mysql.HookedDataSource.Hooks;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Adversarial review of a5c5cec (one pool per JVM, acquires through by_expiry and limited to half the pool, rows created all
 * at once with a JVM-wide memo), against the real MariaDB of ./run-tests. A failing test is a finding; the others are guards
 * for claims that held.
 */
class MysqlFleetScaleReviewIT {

    private static SharedMysql db;
    private final String namespace = "fsr-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<WorkerAllocator> opened = Collections.synchronizedList(new ArrayList<>());
    private final List<AutoCloseable> pools = Collections.synchronizedList(new ArrayList<>());

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(MysqlFleetScaleReviewIT.class);
    }

    @AfterAll
    static void dropDatabase() {
        db.close();
    }

    @AfterEach
    void closeAll() throws Exception {
        opened.forEach(a -> {
            try {
                a.close();
            } catch (RuntimeException e) {
                // after a failed test
            }
        });
        for (AutoCloseable p : pools) {
            p.close();
        }
    }

    private AllocatorContext.Builder context(String instance, int idc, int workerIds, Duration ttl) {
        return AllocatorContext.builder().idc(idc).workerIds(workerIds).instance(instance).host("host-" + instance).leaseTtl(ttl)
                .settings(db.settings(namespace)).setting("ekko.mysql.timeout", "2s");
    }

    /** For MysqlAllocators.provider(DataSource): only table, namespace and timeout. */
    private AllocatorContext.Builder dsContext(String instance, int idc, int workerIds, Duration ttl) {
        return AllocatorContext.builder().idc(idc).workerIds(workerIds).instance(instance).host("host-" + instance).leaseTtl(ttl)
                .setting("ekko.mysql.namespace", namespace).setting("ekko.mysql.timeout", "2s");
    }

    private WorkerAllocator allocator(dev.ekko.spi.WorkerAllocatorProvider provider, AllocatorContext context) {
        WorkerAllocator a = provider.create(context);
        opened.add(a);
        return a;
    }

    private static ClockReport report(String instance) {
        long now = System.currentTimeMillis();
        return new ClockReport(now, now + 1000, "host-" + instance, 42, instance);
    }

    private static MysqlDatabase databaseOf(WorkerAllocator a) throws Exception {
        Field f = MysqlWorkerAllocator.class.getDeclaredField("database");
        f.setAccessible(true);
        return (MysqlDatabase) f.get(a);
    }

    // ------------------------------------------------------------------ findings

    /**
     * Claim: "a free worker ID is found when one exists". Expired rows (holders that died without a release: the usual state
     * after a mass crash) are found by a plain read of the 8 oldest, then locked one by one with SKIP LOCKED. When those 8 are
     * locked by other acquirers still in their transactions (8 concurrent acquirers, or 8 stalled ones: a GC pause, a
     * partition), every later acquirer reads the same 8, skips them all, finds nothing in the other searches, then anyFree sees
     * the 8 as free (their takes are uncommitted) and runs the transaction again; after 8 attempts it gives up with
     * EkkoException, although 4 more expired worker IDs are free and nobody has them locked.
     *
     * <p>Sequence: 64 worker IDs, 52 held, 12 expired (oldest first: 10..21). 8 acquirers each lock and take one of the 8
     * oldest (10..17) and stall before their commit. A 9th acquirer must get one of 18..21.
     */
    @Test
    void anAcquirerFindsAFreeExpiredWorkerIdWhileTheEightOldestAreLockedByOtherAcquirers() throws Exception {
        int n = 64;
        CountDownLatch release = new CountDownLatch(1);
        Semaphore stalledNow = new Semaphore(0);
        Hooks hooks = new Hooks() {
            @Override
            void beforeEnd(String method, List<String> transaction) throws InterruptedException {
                if (method.equals("commit") && Thread.currentThread().getName().startsWith("stall-")
                        && transaction.stream().anyMatch(s -> s.startsWith("UPDATE") && s.contains("SET base_mark = mark, token = ?"))) {
                    stalledNow.release();
                    release.await(60, TimeUnit.SECONDS);
                }
            }
        };
        HikariDataSource real = db.realisticPool(2000, 14);
        pools.add(real);
        DataSource hooked = HookedDataSource.wrap(real, hooks);
        var provider = MysqlAllocators.provider(hooked);
        // Every row created (an acquire that finds nothing free creates them all), then 52 held, 12 expired by hand.
        WorkerAllocator setup = allocator(provider, dsContext("setup", 2, n, Duration.ofSeconds(30)).build());
        setup.release(setup.acquire(), report("setup"));
        assertEquals(n, db.count("SELECT COUNT(*) FROM ekko_worker_ids WHERE namespace = '" + namespace + "' AND idc = 2"));
        db.execute("UPDATE ekko_worker_ids SET token = 'held', expires_at = UTC_TIMESTAMP(6) + INTERVAL 1 HOUR, holder_host = 'h',"
                + " holder_instance = 'held' WHERE namespace = '" + namespace + "' AND idc = 2");
        for (int w = 10; w <= 21; w++) {
            db.execute("UPDATE ekko_worker_ids SET token = 'dead', expires_at = UTC_TIMESTAMP(6) - INTERVAL " + (100 - w)
                    + " SECOND WHERE namespace = '" + namespace + "' AND idc = 2 AND worker = " + w);
        }
        List<Thread> stalled = new ArrayList<>();
        Map<String, Integer> stalledGot = new ConcurrentHashMap<>();
        try {
            for (int i = 0; i < 8; i++) {
                WorkerAllocator a = allocator(provider, dsContext("stall-" + i, 2, n, Duration.ofSeconds(30)).build());
                String name = "stall-" + i;
                Thread t = new Thread(() -> {
                    try {
                        stalledGot.put(name, a.acquire().workerId());
                    } catch (Exception e) {
                        stalledGot.put(name, -1);
                    }
                }, name);
                t.start();
                stalled.add(t);
                assertTrue(stalledNow.tryAcquire(30, TimeUnit.SECONDS), "acquirer " + i + " took a row and stalled before its commit");
            }
            WorkerAllocator ninth = allocator(provider, dsContext("ninth", 2, n, Duration.ofSeconds(30)).build());
            WorkerLease lease;
            try {
                lease = ninth.acquire();
            } catch (EkkoException e) {
                fail("worker IDs 18..21 are expired and locked by nobody, yet the acquire failed: " + e);
                return;
            }
            assertTrue(lease.workerId() >= 18 && lease.workerId() <= 21, "got worker " + lease.workerId());
        } finally {
            release.countDown();
            for (Thread t : stalled) {
                t.join(30_000);
            }
        }
        assertEquals(8, new HashSet<>(stalledGot.values()).size(), "the stalled acquirers got distinct worker IDs: " + stalledGot);
    }

    /**
     * The same without any stall: after a mass crash every row is expired (no holder released), and the restarted fleet
     * acquires at once. Every acquirer reads the same 8 oldest expired rows; all but the few that lock one find them locked,
     * run again after a pause, and read the same (next) 8 again. Acquirers on 4 pools (the JVMs of a fleet; 8 acquire permits
     * each, so 32 in flight) contend for 8 rows per round: an acquirer that loses 8 rounds gives up with EkkoException while
     * hundreds of worker IDs are free.
     */
    @Test
    void aRestartStormOverExpiredRowsOnSeveralPoolsGivesEveryAcquirerAWorkerId() throws Exception {
        int idc = 7;
        int n = 256;
        var provider = new MysqlAllocatorProvider();
        WorkerAllocator setup = allocator(provider, context("setup", idc, n, Duration.ofSeconds(30)).build());
        setup.release(setup.acquire(), report("setup"));
        db.execute("UPDATE ekko_worker_ids SET token = 'dead', expires_at = UTC_TIMESTAMP(6) - INTERVAL (300 - worker) SECOND,"
                + " holder_host = 'crashed', holder_instance = CONCAT('crashed-', worker) WHERE namespace = '" + namespace
                + "' AND idc = " + idc);
        int threads = 64;
        CyclicBarrier start = new CyclicBarrier(threads);
        List<WorkerLease> got = Collections.synchronizedList(new ArrayList<>());
        List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            WorkerAllocator a = allocator(provider, context("r-" + i, idc, n, Duration.ofSeconds(30))
                    .setting("ekko.mysql.pool.size", Integer.toString(16 + i % 4)).build());
            Thread t = new Thread(() -> {
                try {
                    start.await();
                    got.add(a.acquire());
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            t.start();
            ts.add(t);
        }
        for (Thread t : ts) {
            t.join(180_000);
        }
        Set<Integer> ids = new HashSet<>();
        got.forEach(l -> assertTrue(ids.add(l.workerId()), "worker " + l.workerId() + " granted twice"));
        assertEquals(List.of(), errors.stream().map(String::valueOf).toList(), errors.size() + " of " + threads
                + " acquirers failed with " + (n - got.size()) + " worker IDs free");
    }

    // ------------------------------------------------------------------ guards

    /**
     * Many acquirers in one JVM on three separate pools (other pool sizes and timeouts), with two different worker-ID counts
     * (n = 16 and n = 48), over free, released-with-mark and expired rows at once: every granted lease is a distinct worker ID,
     * below its acquirer's n, and the database holds exactly those tokens.
     */
    @Test
    void acquirersOnSeparatePoolsWithDifferentWorkerIdCountsNeverShareAWorkerId() throws Exception {
        int idc = 4;
        List<Map<String, String>> pool = List.of(Map.of("ekko.mysql.pool.size", "2"), Map.of("ekko.mysql.pool.size", "4"),
                Map.of("ekko.mysql.pool.size", "3", "ekko.mysql.timeout", "3s"));
        var provider = new MysqlAllocatorProvider();
        // Rows 0..47 created; 0..9 released with marks of this generation, 10..19 expired, the rest never used.
        WorkerAllocator setup = allocator(provider, context("setup", idc, 48, Duration.ofSeconds(30)).build());
        List<WorkerLease> setupLeases = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            setupLeases.add(setup.acquire());
        }
        for (WorkerLease l : setupLeases) {
            if (l.workerId() < 10) {
                setup.release(setup.renew(l, report("setup")), report("setup"));
            }
        }
        db.execute("UPDATE ekko_worker_ids SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 SECOND WHERE namespace = '" + namespace
                + "' AND idc = " + idc + " AND token IS NOT NULL");
        int threads = 30;
        CyclicBarrier start = new CyclicBarrier(threads);
        List<WorkerLease> got = Collections.synchronizedList(new ArrayList<>());
        Map<WorkerLease, Integer> limit = new ConcurrentHashMap<>();
        List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            int workerIds = i % 3 == 0 ? 16 : 48;
            AllocatorContext.Builder b = context("a-" + i, idc, workerIds, Duration.ofSeconds(30));
            pool.get(i % 3).forEach(b::setting);
            WorkerAllocator a = allocator(provider, b.build());
            Thread t = new Thread(() -> {
                try {
                    start.await();
                    WorkerLease l = a.acquire();
                    got.add(l);
                    limit.put(l, workerIds);
                } catch (WorkerIdsExhaustedException e) {
                    // a 16-worker acquirer may find 0..15 taken by the others
                    if (workerIds != 16) {
                        errors.add(e);
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            t.start();
            ts.add(t);
        }
        for (Thread t : ts) {
            t.join(120_000);
        }
        assertEquals(List.of(), errors);
        Set<Integer> ids = new HashSet<>();
        for (WorkerLease l : got) {
            assertTrue(ids.add(l.workerId()), "worker " + l.workerId() + " granted twice");
            assertTrue(l.workerId() < limit.get(l), "worker " + l.workerId() + " is below n=" + limit.get(l));
        }
        assertTrue(got.size() >= 20, "at least the 48-worker acquirers got one: " + got.size());
        for (WorkerLease l : got) {
            assertEquals(l.token(), db.string("SELECT token FROM ekko_worker_ids WHERE namespace = '" + namespace + "' AND idc = "
                    + idc + " AND worker = " + l.workerId()));
        }
    }

    /**
     * Rows deleted by hand in the middle of an IDC while this JVM's memo says every row exists: the acquire may be refused for
     * up to one lease TTL (documented), but not longer: after the TTL the row is created again and taken.
     */
    @Test
    void aRowDeletedByHandIsCreatedAgainWithinOneTtl() throws Exception {
        int idc = 5;
        int n = 16;
        Duration ttl = Duration.ofMillis(1500);
        var provider = new MysqlAllocatorProvider();
        WorkerAllocator holder = allocator(provider, context("holder", idc, n, ttl).build());
        List<WorkerLease> held = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            held.add(holder.acquire());
        }
        // The holders live long (by hand), worker 7 is released and its row deleted.
        WorkerLease seven = held.stream().filter(l -> l.workerId() == 7).findFirst().orElseThrow();
        holder.release(seven, report("holder"));
        db.execute("UPDATE ekko_worker_ids SET expires_at = UTC_TIMESTAMP(6) + INTERVAL 1 HOUR WHERE namespace = '" + namespace
                + "' AND idc = " + idc + " AND token IS NOT NULL");
        db.execute("DELETE FROM ekko_worker_ids WHERE namespace = '" + namespace + "' AND idc = " + idc + " AND worker = 7");
        WorkerAllocator late = allocator(provider, context("late", idc, n, ttl).build());
        long deadline = System.nanoTime() + ttl.toNanos() + 1_000_000_000L; // one TTL plus slack for this slow machine
        WorkerLease got = null;
        while (got == null) {
            try {
                got = late.acquire();
            } catch (WorkerIdsExhaustedException e) {
                if (System.nanoTime() > deadline) {
                    fail("still refused more than one TTL after the row was deleted: " + e.getMessage());
                }
                Thread.sleep(200);
            }
        }
        assertEquals(7, got.workerId());
        assertEquals(Handover.Kind.UNKNOWN, got.handover().kind(), "a re-created row carries no mark");
    }

    /**
     * Interrupts and timeouts while waiting for an acquire permit, and acquires that fail inside their transaction, leak no
     * permit: afterwards the pool's acquires have all their permits, an acquire works and the holders renew.
     */
    @Test
    void interruptedAndTimedOutAcquiresLeakNoPermitAndRenewalsNeverWaitForOne() throws Exception {
        int idc = 6;
        AllocatorContext.Builder b = context("p", idc, 32, Duration.ofSeconds(30)).setting("ekko.mysql.pool.size", "5")
                .setting("ekko.mysql.timeout", "250ms");
        var provider = new MysqlAllocatorProvider();
        WorkerAllocator holder = allocator(provider, b.build());
        WorkerLease lease = holder.acquire();
        MysqlDatabase database = databaseOf(holder);
        int permits = database.acquirePermits();
        assertEquals(2, permits);
        // Hold every permit, as stuck acquires would.
        database.acquires().acquire(permits);
        try {
            // A renewal does not wait for a permit.
            lease = holder.renew(lease, report("p"));
            List<Thread> waiting = new ArrayList<>();
            List<Throwable> outcomes = Collections.synchronizedList(new ArrayList<>());
            for (int i = 0; i < 4; i++) {
                WorkerAllocator a = allocator(provider, context("w" + i, idc, 32, Duration.ofSeconds(30))
                        .setting("ekko.mysql.pool.size", "5").setting("ekko.mysql.timeout", "250ms").build());
                Thread t = new Thread(() -> {
                    try {
                        a.acquire();
                        outcomes.add(new AssertionError("acquired without a permit"));
                    } catch (Throwable e) {
                        outcomes.add(e);
                    }
                });
                t.start();
                waiting.add(t);
            }
            Thread.sleep(200);
            waiting.get(0).interrupt();
            waiting.get(1).interrupt();
            for (Thread t : waiting) {
                t.join(30_000);
            }
            assertEquals(4, outcomes.size());
            for (Throwable e : outcomes) {
                assertTrue(e instanceof EkkoException || e instanceof InterruptedException, "an EkkoException: " + e);
            }
            assertEquals(0, database.acquires().availablePermits(), "no waiter took a permit it did not give back");
        } finally {
            database.acquires().release(permits);
        }
        // Acquires refused inside their transaction (other fleet settings) give their permit back.
        for (int i = 0; i < 3; i++) {
            WorkerAllocator f = allocator(provider, b.fleetSettings(Map.of("ekko.epoch", "2020-01-0" + (i + 1))).instance("f" + i)
                    .build());
            if (i == 0) {
                f.acquire(); // records the fleet settings
            } else {
                assertThrows(EkkoException.class, f::acquire);
            }
        }
        assertEquals(permits, database.acquires().availablePermits(), "every permit given back");
        assertNotEquals(null, allocator(provider, context("after", idc, 32, Duration.ofSeconds(30))
                .setting("ekko.mysql.pool.size", "5").setting("ekko.mysql.timeout", "250ms").build()).acquire());
        holder.renew(lease, report("p"));
    }

    /**
     * A table of the previous version, with a released worker ID whose mark (of the recorded generation) is ahead of now: the
     * first acquire adds by_expiry (a new creation time on MariaDB), starts a new generation, and the next holder of that
     * worker ID never starts below the mark (Handover.atLeast or mark, never without it, never a lower value).
     */
    @Test
    void afterTheAlterTheNextHolderStartsPastTheMarkOfThePreviousVersion() throws Exception {
        String table = "old_" + UUID.randomUUID().toString().substring(0, 8);
        MysqlSchema schema = new MysqlSchema(table);
        List<String> ddl = schema.ddl();
        String old = ddl.get(0).replace(",\n  KEY by_expiry (namespace, idc, expires_at, mark_generation, mark)", "");
        assertNotEquals(ddl.get(0), old);
        db.execute(old);
        db.execute(ddl.get(1));
        db.execute(ddl.get(2));
        db.execute("INSERT INTO " + table + "_meta (id, generation, created_at, table_created) VALUES (1, 'g1', UTC_TIMESTAMP(6),"
                + " (SELECT UNIX_TIMESTAMP(CREATE_TIME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND"
                + " TABLE_NAME = '" + table + "'))");
        long mark = db.count("SELECT TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) DIV 1000") + 800;
        db.execute("INSERT INTO " + table + " (namespace, idc, worker, mark, mark_generation) VALUES ('" + namespace + "', 1, 7, "
                + mark + ", 'g1')");
        Thread.sleep(1100); // the ALTER's creation time differs by at least a second
        WorkerAllocator a = allocator(new MysqlAllocatorProvider(), context("new", 1, 256, Duration.ofSeconds(30))
                .setting("ekko.mysql.table", table).preferredWorkerId(7).build());
        WorkerLease lease = a.acquire();
        assertEquals(7, lease.workerId());
        assertTrue(lease.handover().markMillis() >= mark, lease.handover() + " starts at or past " + mark);
    }
}
