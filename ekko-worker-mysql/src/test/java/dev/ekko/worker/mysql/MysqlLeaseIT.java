package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import dev.ekko.LeaseLostException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Lease semantics the contract does not pin, on a database of this class's own: concurrency, loss, history, generation. */
class MysqlLeaseIT {

    private static SharedMysql db;
    private final String namespace = "lease-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<WorkerAllocator> opened = new ArrayList<>();

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(MysqlLeaseIT.class);
    }

    @AfterAll
    static void dropDatabase() {
        db.close();
    }

    @AfterEach
    void closeAllocators() {
        opened.forEach(WorkerAllocator::close);
    }

    private AllocatorContext.Builder context(String instance) {
        return AllocatorContext.builder().idc(2).workerIds(256).instance(instance).host("host-" + instance)
                .leaseTtl(Duration.ofSeconds(30)).settings(db.settings(namespace));
    }

    private WorkerAllocator allocator(AllocatorContext context) {
        WorkerAllocator a = new MysqlAllocatorProvider().create(context);
        opened.add(a);
        return a;
    }

    private static ClockReport report(long reserved, String instance) {
        return new ClockReport(System.currentTimeMillis(), reserved, "host-" + instance, 42, instance);
    }

    @Test
    void twoHundredConcurrentAcquirersAllGetDistinctWorkerIdsWithoutADeadlockError() throws Exception {
        int acquirers = 200;
        try (HikariDataSource pool = db.pool(24)) {
            var provider = MysqlAllocators.provider(pool);
            ExecutorService threads = Executors.newFixedThreadPool(acquirers);
            try {
                CountDownLatch go = new CountDownLatch(1);
                List<Future<Integer>> results = new ArrayList<>();
                for (int i = 0; i < acquirers; i++) {
                    AllocatorContext c = AllocatorContext.builder().idc(3).workerIds(256).instance("c-" + i).host("h-" + (i % 7))
                            .setting("ekko.mysql.namespace", namespace).build();
                    WorkerAllocator a = provider.create(c);
                    opened.add(a);
                    results.add(threads.submit(() -> {
                        go.await();
                        return a.acquire().workerId();
                    }));
                }
                go.countDown();
                Set<Integer> ids = new HashSet<>();
                for (Future<Integer> f : results) {
                    int w = f.get(); // an EkkoException (deadlock, lock wait) would fail here
                    assertTrue(ids.add(w), "worker ID handed out twice: " + w);
                }
                assertEquals(acquirers, ids.size());
            } finally {
                threads.shutdownNow();
            }
            assertEquals(acquirers, db.count("SELECT COUNT(*) FROM ekko_worker_ids WHERE namespace = '" + namespace + "' AND idc = 3"
                    + " AND token IS NOT NULL"));
        }
    }

    @Test
    void aRenewalAfterTheRowWasDeletedSaysGoneAndAfterATakeoverNamesTheNewHolder() throws Exception {
        WorkerAllocator a = allocator(context("a").leaseTtl(Duration.ofMillis(800)).build());
        WorkerLease lease = a.acquire();
        db.execute("DELETE FROM ekko_worker_ids WHERE namespace = '" + namespace + "'");
        LeaseLostException gone = assertThrows(LeaseLostException.class, () -> a.renew(lease, report(1, "a")));
        assertTrue(gone.getMessage().contains("is gone: its row was deleted"), gone.getMessage());
        assertEquals(0, db.count("SELECT COUNT(*) FROM ekko_worker_ids WHERE namespace = '" + namespace + "'"),
                "a renewal re-created the row");

        WorkerLease second = a.acquire();
        Thread.sleep(1200); // expired by the database's clock
        WorkerLease taken = allocator(context("b").preferredWorkerId(second.workerId()).build()).acquire();
        assertEquals(second.workerId(), taken.workerId());
        LeaseLostException lost = assertThrows(LeaseLostException.class, () -> a.renew(second, report(1, "a")));
        assertTrue(lost.getMessage().contains("is now held by host host-b pid"), lost.getMessage());
    }

    @Test
    void anExpiredLeaseIsNotRenewed() throws Exception {
        WorkerAllocator a = allocator(context("a").leaseTtl(Duration.ofMillis(500)).build());
        WorkerLease lease = a.acquire();
        Thread.sleep(900);
        LeaseLostException e = assertThrows(LeaseLostException.class, () -> a.renew(lease, report(1, "a")));
        assertTrue(e.getMessage().contains("expired by the database's clock"), e.getMessage());
    }

    @Test
    void releaseKeepsTheHistoryAndTheSameInstanceGetsItsWorkerIdBackWithTheMark() throws Exception {
        long now = System.currentTimeMillis();
        WorkerAllocator a = allocator(context("web-1").build());
        WorkerLease first = a.acquire();
        assertEquals(Handover.Kind.UNKNOWN, first.handover().kind());
        a.renew(first, report(now + 30_000, "web-1"));
        a.release(first, report(now + 5, "web-1"));

        WorkerLease again = allocator(context("web-1").build()).acquire();
        assertEquals(first.workerId(), again.workerId());
        assertEquals(Handover.mark(now + 5).toString(), again.handover().toString(),
                "a clean release hands over max(base, last used), not the reservation");
        assertNotNull(again.previousReport());
        assertEquals("web-1", again.previousReport().instance());
        assertTrue(Math.abs(again.coordinatorTimeMillis() - System.currentTimeMillis()) < 5000, "database time, in Unix ms");
    }

    /**
     * A worker ID given back unrenewed, as the core gives back one it cannot start on (history ahead of its clock, its state
     * file held by a sibling stripe), stays the worker ID of the instance that renewed it last. Noted by the MariaDB striping
     * review: the take wrote {@code last_instance}, so the instance that issued on the worker ID no longer found it by name
     * and took the free worker ID with the lowest mark instead.
     */
    @Test
    void aWorkerIdGivenBackUnrenewedStaysWithTheInstanceThatRenewedItLast() throws Exception {
        long now = System.currentTimeMillis();
        WorkerAllocator other = allocator(context("other").build());
        WorkerLease low = other.acquire();
        other.renew(low, report(now + 1, "other"));
        WorkerAllocator owner = allocator(context("owner").build());
        WorkerLease mine = owner.acquire();
        owner.renew(mine, report(now + 5, "owner"));
        owner.release(mine, report(now + 5, "owner"));
        other.release(low, report(now + 1, "other")); // free with a lower mark: what an acquire that finds nothing by name takes

        WorkerAllocator passing = allocator(context("passing").preferredWorkerId(mine.workerId()).build());
        WorkerLease taken = passing.acquire();
        assertEquals(mine.workerId(), taken.workerId(), "setup: the passing instance took the owner's worker ID");
        passing.release(taken, report(now + 5, "passing")); // given straight back, never renewed

        WorkerLease again = allocator(context("owner").build()).acquire();
        assertEquals(mine.workerId(), again.workerId(), "the owner did not get its worker ID back by name after another instance"
                + " took it and gave it back unrenewed (it got worker " + again.workerId() + ", the other instance's was " + low.workerId()
                + ")");
    }

    @Test
    void aNewGenerationMakesEveryOldMarkALowerBoundAndALostRowIsUnknown() throws Exception {
        long now = System.currentTimeMillis();
        WorkerAllocator a = allocator(context("g").build());
        WorkerLease first = a.acquire();
        a.renew(first, report(now, "g")); // as the core does before its first ID: a renewal records the instance's name
        a.release(first, report(now, "g"));
        // The documented procedure after restoring a backup: a new generation.
        String before = db.string("SELECT generation FROM ekko_worker_ids_meta WHERE id = 1");
        NewGeneration g = MysqlAllocators.startNewGeneration(db.settings(namespace));
        assertEquals(before, g.previous());
        assertTrue(g.current().matches("[0-9a-f]{32}") && !g.current().equals(before), g.toString());
        assertEquals(g.current(), db.string("SELECT generation FROM ekko_worker_ids_meta WHERE id = 1"));
        assertTrue(g.marks() >= 1, g.toString());
        assertTrue(g.toString().startsWith("started generation " + g.current() + " at mysql jdbc:mysql://") && !g.toString()
                .contains(db.database.password()), g.toString());
        WorkerLease second = allocator(context("g").build()).acquire();
        assertEquals(first.workerId(), second.workerId());
        assertEquals(Handover.atLeast(now).toString(), second.handover().toString());
        a.release(second, report(now + 1, "g"));

        db.execute("DELETE FROM ekko_worker_ids WHERE namespace = '" + namespace + "'");
        WorkerLease third = allocator(context("g").preferredWorkerId(first.workerId()).build()).acquire();
        assertEquals(first.workerId(), third.workerId());
        assertEquals(Handover.Kind.UNKNOWN, third.handover().kind());
        assertEquals(Long.MIN_VALUE, third.handover().markMillis());
    }

    @Test
    void aDroppedTableIsLostLeasesAndCreatedAgainAtTheNextAcquire() throws Exception {
        WorkerAllocator a = allocator(context("d").setting("ekko.mysql.table", "dropped").build());
        WorkerLease lease = a.acquire();
        db.execute("DROP TABLE dropped");
        assertThrows(LeaseLostException.class, () -> a.renew(lease, report(1, "d")));
        WorkerLease again = a.acquire();
        assertEquals(Handover.Kind.UNKNOWN, again.handover().kind());
    }

    /**
     * The documented procedure after a restore: the worker-ID table comes back from a backup taken before its holder's
     * last reports, then a new generation is started; the next holder gets the restored mark as a lower bound only.
     */
    @Test
    void afterARestoreANewGenerationMakesTheRestoredMarkALowerBound() throws Exception {
        WorkerAllocator first = allocator(context("r").preferredWorkerId(21).build());
        WorkerLease lease = first.acquire();
        long now = System.currentTimeMillis();
        lease = first.renew(lease, report(now + 1000, "r"));
        String backup = "backup_" + UUID.randomUUID().toString().substring(0, 8);
        db.execute("CREATE TABLE " + backup + " AS SELECT * FROM ekko_worker_ids WHERE namespace = '" + namespace + "'");
        lease = first.renew(lease, report(now + 60_000, "r"));
        first.release(lease, report(now + 30_000, "r"));
        db.execute("REPLACE INTO ekko_worker_ids SELECT * FROM " + backup);
        db.execute("UPDATE ekko_worker_ids SET expires_at = UTC_TIMESTAMP(6) WHERE namespace = '" + namespace + "'");
        try (HikariDataSource pool = db.pool(1)) {
            NewGeneration g = MysqlAllocators.startNewGeneration(pool, null);
            assertTrue(g.toString().contains("table ekko_worker_ids"), g.toString());
        }
        WorkerLease next = allocator(context("r2").preferredWorkerId(21).build()).acquire();
        assertEquals(21, next.workerId());
        assertEquals(Handover.atLeast(now + 1000).toString(), next.handover().toString(),
                "the restored mark is a lower bound only, so the core waits one TTL plus skew past it");
    }

    /** A live holder carries on through a new generation, and its next renewal writes a mark the next holder can trust. */
    @Test
    void aLiveHolderCarriesOnThroughANewGenerationAndItsNextMarkIsTrusted() throws Exception {
        WorkerAllocator a = allocator(context("l").preferredWorkerId(22).build());
        WorkerLease lease = a.acquire();
        long now = System.currentTimeMillis();
        lease = a.renew(lease, report(now + 500, "l"));
        MysqlAllocators.startNewGeneration(db.settings(namespace));
        lease = a.renew(lease, report(now + 700, "l"));
        a.release(lease, report(now + 600, "l"));
        WorkerLease next = allocator(context("l2").preferredWorkerId(22).build()).acquire();
        // A release records what was used (600), not the reservation beyond it; of the new generation, so trusted.
        assertEquals(Handover.mark(now + 600).toString(), next.handover().toString());
    }

    @Test
    void aNewGenerationWithoutTheTablesOrWithAWrongPasswordIsOneClearError() {
        var settings = db.settings(namespace);
        settings.put("ekko.mysql.table", "never_created");
        var e = assertThrows(dev.ekko.EkkoException.class, () -> MysqlAllocators.startNewGeneration(settings));
        assertTrue(e.getMessage().startsWith("MySQL at mysql jdbc:mysql://") && e.getMessage().contains("never_created_meta")
                && e.getMessage().contains("starting a new generation"), e.getMessage());
        settings.put("ekko.mysql.table", "ekko_worker_ids");
        settings.put("ekko.mysql.password", "wrong-" + UUID.randomUUID());
        e = assertThrows(dev.ekko.EkkoException.class, () -> MysqlAllocators.startNewGeneration(settings));
        assertTrue(e.getMessage().contains("refused user " + db.database.user()) && !e.getMessage().contains(settings.get(
                "ekko.mysql.password")), e.getMessage());
    }

    /**
     * A restore from a dump, as mariadb-dump's output does it (DROP TABLE, CREATE TABLE, INSERT), of the worker-ID table and
     * {@code <table>_meta}, both taken before the holder's last reports: the restored generation comes back, but the table's
     * creation time does not match the one recorded with it, so the acquire starts a new generation and the restored mark is a
     * lower bound only. Before the check, the next holder trusted the restored mark, below what the previous holder used.
     */
    @Test
    void aTableRestoredFromADumpIsDetectedAndItsMarksAreLowerBounds() throws Exception {
        String table = "dumped";
        WorkerAllocator first = allocator(context("d1").preferredWorkerId(9).setting("ekko.mysql.table", table).build());
        WorkerLease lease = first.acquire();
        long now = System.currentTimeMillis();
        lease = first.renew(lease, report(now + 1000, "d1"));
        db.execute("CREATE TABLE bk AS SELECT * FROM " + table); // the nightly dump
        db.execute("CREATE TABLE bk_meta AS SELECT * FROM " + table + "_meta");
        String generation = db.string("SELECT generation FROM " + table + "_meta");
        lease = first.renew(lease, report(now + 60_000, "d1"));
        long used = now + 30_000;
        first.release(lease, report(used, "d1"));

        Thread.sleep(1100); // the creation time has a resolution of one second
        List<String> ddl = new MysqlSchema(table).ddl();
        db.execute("DROP TABLE " + table);
        db.execute(ddl.get(0));
        db.execute("INSERT INTO " + table + " SELECT * FROM bk");
        db.execute("DROP TABLE " + table + "_meta");
        db.execute(ddl.get(2));
        db.execute("INSERT INTO " + table + "_meta SELECT * FROM bk_meta");
        assertEquals(generation, db.string("SELECT generation FROM " + table + "_meta"), "the dump brought the generation back");
        db.execute("UPDATE " + table + " SET expires_at = UTC_TIMESTAMP(6)"); // the restored lease's TTL has passed

        WorkerLease next = allocator(context("d2").preferredWorkerId(9).setting("ekko.mysql.table", table).build()).acquire();
        assertEquals(9, next.workerId());
        assertEquals(Handover.atLeast(now + 1000).toString(), next.handover().toString(), "the restored mark " + (now + 1000)
                + " is below the " + used + " the previous holder used: it must be a lower bound only, not a trusted mark");
        assertTrue(!generation.equals(db.string("SELECT generation FROM " + table + "_meta")), "a new generation was started");
    }

    /**
     * A generation row without a recorded creation time (written by hand, or restored from a dump taken of such a row) cannot
     * vouch for the marks: a new generation is started and the marks are lower bounds. The module itself always records it.
     */
    @Test
    void anUnrecordedCreationTimeStartsANewGeneration() throws Exception {
        WorkerAllocator a = allocator(context("u").preferredWorkerId(23).build());
        long now = System.currentTimeMillis();
        a.release(a.acquire(), report(now, "u"));
        db.execute("UPDATE ekko_worker_ids_meta SET table_created = NULL");
        String generation = db.string("SELECT generation FROM ekko_worker_ids_meta");
        WorkerLease next = allocator(context("u2").preferredWorkerId(23).build()).acquire();
        assertEquals(Handover.atLeast(now).toString(), next.handover().toString());
        assertTrue(!generation.equals(db.string("SELECT generation FROM ekko_worker_ids_meta")), "a new generation");
        assertEquals(db.string("SELECT UNIX_TIMESTAMP(CREATE_TIME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
                + " AND TABLE_NAME = 'ekko_worker_ids'"), db.string("SELECT table_created FROM ekko_worker_ids_meta"));
    }

    /**
     * {@code <table>_meta}'s row deleted while an allocator runs (the tables emptied by hand): its next acquire writes a new
     * generation and hands the marks left over as lower bounds. (The row's insert used to be rolled back with the retry, so
     * the acquire gave up after 8 attempts.)
     */
    @Test
    void aDeletedGenerationRowIsWrittenAgainAndTheMarksLeftAreLowerBounds() throws Exception {
        WorkerAllocator a = allocator(context("m").preferredWorkerId(24).build());
        long now = System.currentTimeMillis();
        a.release(a.acquire(), report(now, "m"));
        db.execute("DELETE FROM ekko_worker_ids_meta");
        WorkerLease again = a.acquire();
        assertEquals(24, again.workerId());
        assertEquals(Handover.atLeast(now).toString(), again.handover().toString());
        assertNotNull(db.string("SELECT generation FROM ekko_worker_ids_meta WHERE id = 1"));
    }
}
