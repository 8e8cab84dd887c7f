package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Allocators of one JVM with equal connection settings share one pool; the last one closed closes it. */
class MysqlSharedPoolIT {

    private static SharedMysql db;
    private final String namespace = "shared-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<WorkerAllocator> opened = new ArrayList<>();

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(MysqlSharedPoolIT.class);
    }

    @AfterAll
    static void dropDatabase() {
        db.close();
    }

    @AfterEach
    void closeAll() {
        opened.forEach(WorkerAllocator::close);
    }

    private WorkerAllocator allocator(String instance, Map<String, String> extra) {
        AllocatorContext.Builder b = AllocatorContext.builder().idc(1).workerIds(256).instance(instance).host("host-" + instance)
                .leaseTtl(Duration.ofSeconds(30)).settings(db.settings(namespace));
        extra.forEach(b::setting);
        WorkerAllocator a = new MysqlAllocatorProvider().create(b.build());
        opened.add(a);
        return a;
    }

    /** {@return the server's connections to this test's database, but the one asking} */
    private long connections() throws Exception {
        return db.count("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '" + db.database.name() + "'") - 1;
    }

    private static ClockReport report(String instance) {
        long now = System.currentTimeMillis();
        return new ClockReport(now, now + 5000, "host-" + instance, 42, instance);
    }

    @Test
    void tenAllocatorsWithEqualSettingsShareOnePoolAndTheLastOneClosedClosesIt() throws Exception {
        int poolsBefore = MysqlAllocatorProvider.openPools();
        List<WorkerAllocator> ten = new ArrayList<>();
        List<WorkerLease> leases = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            ten.add(allocator("a-" + i, Map.of()));
        }
        assertEquals(poolsBefore + 1, MysqlAllocatorProvider.openPools(), "one pool for ten allocators with equal settings");
        Set<Integer> ids = new HashSet<>();
        for (int i = 0; i < 10; i++) {
            WorkerLease l = ten.get(i).acquire();
            leases.add(l);
            assertTrue(ids.add(l.workerId()));
        }
        long open = connections();
        assertTrue(open >= 1 && open <= MysqlSettings.DEFAULT_POOL_SIZE, "the server sees " + open + " connections for 10 allocators"
                + " on one pool of " + MysqlSettings.DEFAULT_POOL_SIZE);

        for (int i = 0; i < 9; i++) {
            ten.get(i).close();
        }
        assertEquals(poolsBefore + 1, MysqlAllocatorProvider.openPools(), "the pool outlives all but its last allocator");
        WorkerLease renewed = ten.get(9).renew(leases.get(9), report("a-9"));
        ten.get(9).release(renewed, report("a-9"));
        assertEquals(1, db.count("SELECT COUNT(*) FROM ekko_worker_ids WHERE namespace = '" + namespace + "' AND worker = "
                + leases.get(9).workerId() + " AND token IS NULL"), "the last allocator released on the shared pool");

        ten.get(9).close();
        assertEquals(poolsBefore, MysqlAllocatorProvider.openPools(), "the last allocator closed closes the pool");
        // Each probe opens and closes a connection of its own, which the server may still list for a moment afterwards, so a
        // reading can only be too high: a closed pool's connections are gone once one reading says 0 (asserting on a second
        // reading failed a fresh-clone run with 1, the previous probe's).
        long deadline = System.nanoTime() + 10_000_000_000L;
        long left = connections();
        while (left > 0 && System.nanoTime() < deadline) {
            Thread.sleep(100);
            left = connections();
        }
        assertEquals(0, left, "the closed pool's connections are gone from the server");
    }

    @Test
    void allocatorsWithOtherConnectionSettingsDoNotShareAPool() throws Exception {
        int poolsBefore = MysqlAllocatorProvider.openPools();
        WorkerAllocator a = allocator("a", Map.of());
        WorkerAllocator b = allocator("b", Map.of("ekko.mysql.pool.size", "3"));
        WorkerAllocator c = allocator("c", Map.of("ekko.mysql.timeout", "3s"));
        WorkerAllocator d = allocator("d", Map.of("ekko.mysql.table", "other_ids"));
        assertEquals(poolsBefore + 3, MysqlAllocatorProvider.openPools(), "pool size and timeout shape a pool; the table does not");
        Set<Integer> ids = new HashSet<>();
        for (WorkerAllocator x : List.of(a, b, c)) {
            assertTrue(ids.add(x.acquire().workerId()));
        }
        assertNotEquals(null, d.acquire(), "an allocator on other tables of a shared pool checks and creates its own tables");
        assertEquals(1, db.count("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME"
                + " = 'other_ids'"));
    }

    /** A worker-ID table made by the previous version (no index by_expiry) gets the index at the first acquire and works. */
    @Test
    void aTableOfThePreviousVersionGetsTheExpiryIndexAndKeepsWorking() throws Exception {
        String table = "old_" + UUID.randomUUID().toString().substring(0, 8);
        List<String> ddl = new MysqlSchema(table).ddl();
        String old = ddl.get(0).replace(",\n  KEY by_expiry (namespace, idc, expires_at, mark_generation, mark)", "");
        assertNotEquals(ddl.get(0), old);
        db.execute(old);
        WorkerAllocator a = allocator("a", Map.of("ekko.mysql.table", table));
        WorkerLease lease = a.acquire();
        assertEquals("namespace,idc,expires_at,mark_generation,mark", db.string("SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX)"
                + " FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '" + table + "' AND INDEX_NAME"
                + " = 'by_expiry'"));
        a.release(a.renew(lease, report("a")), report("a"));
        WorkerLease again = allocator("a2", Map.of("ekko.mysql.table", table)).acquire();
        assertTrue(again.workerId() >= 0);
    }
}
