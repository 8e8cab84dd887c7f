package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;

/** Adversarial review of ekko-worker-mysql: each test asserts the correct behaviour. */
class MysqlLeaseReviewIT {

    private static SharedMysql db;
    private final String namespace = "review-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<WorkerAllocator> opened = new ArrayList<>();

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(MysqlLeaseReviewIT.class);
    }

    @AfterAll
    static void dropDatabase() {
        db.close();
    }

    @AfterEach
    void closeAllocators() {
        opened.forEach(WorkerAllocator::close);
    }

    private AllocatorContext.Builder context(String instance, Duration ttl) {
        return AllocatorContext.builder().idc(2).workerIds(256).instance(instance).host("host-" + instance).leaseTtl(ttl)
                .settings(db.settings(namespace)).setting("ekko.mysql.timeout", "1s");
    }

    private WorkerAllocator allocator(AllocatorContext context) {
        WorkerAllocator a = new MysqlAllocatorProvider().create(context);
        opened.add(a);
        return a;
    }

    private static ClockReport report(long reserved, String instance) {
        return new ClockReport(System.currentTimeMillis(), reserved, "host-" + instance, 42, instance);
    }

    /**
     * A process that merely <em>asks</em> for a worker ID someone else holds (ekko.worker.id, or a restart racing the old
     * process) must not be able to block the holder's renewal. The preferred path runs INSERT IGNORE on the existing, held
     * row, which in InnoDB takes a shared lock on the duplicate row until the acquirer's transaction ends; if the acquirer
     * stalls (GC pause, partition: the server keeps its transaction), the holder's renewals wait, time out and are retried
     * 8 times, far past the holder's fence deadline. A locking read by primary key (SELECT ... FOR UPDATE SKIP LOCKED on
     * the held row) keeps its lock too, even under READ COMMITTED. The asker here stalls at the very end of its acquire
     * transaction, holding whatever it locked on the way.
     */
    @Test
    void anAcquirerPreferringAHeldWorkerIdDoesNotBlockTheHoldersRenewal() throws Exception {
        WorkerAllocator holder = allocator(context("holder", Duration.ofSeconds(5)).preferredWorkerId(7).build());
        WorkerLease lease = holder.acquire();
        assertTrue(lease.workerId() == 7, "holder got worker 7");

        CountDownLatch stalled = new CountDownLatch(1);
        try (HikariDataSource pool = db.pool(2)) {
            DataSource stalling = stallBeforeEndingAnAcquire(pool, stalled, 12_000);
            AllocatorContext asking = AllocatorContext.builder().idc(2).workerIds(256).instance("asker").host("host-asker")
                    .leaseTtl(Duration.ofSeconds(5)).preferredWorkerId(7).setting("ekko.mysql.namespace", namespace)
                    .setting("ekko.mysql.timeout", "1s").build();
            WorkerAllocator asker = MysqlAllocators.provider(stalling).create(asking);
            opened.add(asker);
            CompletableFuture<WorkerLease> other = CompletableFuture.supplyAsync(() -> {
                try {
                    return asker.acquire();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            assertTrue(stalled.await(10, TimeUnit.SECONDS), "the asker stalled at the end of its acquire transaction");

            long t0 = System.nanoTime();
            WorkerLease renewed = assertDoesNotThrow(() -> holder.renew(lease, report(System.currentTimeMillis() + 5000, "holder")),
                    "the holder's renewal must not depend on another process's acquire transaction");
            long tookMs = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(tookMs < 2000, "renewal took " + tookMs + " ms while an acquirer asked for the same worker ID"
                    + " (TTL 5000 ms)");
            assertTrue(renewed.workerId() == 7);
            WorkerLease got = Renewing.until(holder, renewed, "holder", other);
            assertNotEquals(7, got.workerId());
        }
    }

    /**
     * docs/mysql.md: the module "detects ... the case where the worker-ID table is restored but {@code <table>_meta} is not".
     * Restore only the worker-ID table from a backup taken before the holder's last report: the next holder must not be given
     * the restored (stale) mark as a trusted {@code Handover.mark}.
     */
    @Test
    @Disabled("known limit (docs/mysql.md): a restore that rewrites the rows in place (REPLACE INTO from a copy) keeps the table's creation time and the generation, so it is not detected (a dump restore is); the documented procedure, ekko mysql new-generation, makes the marks lower bounds")
    void aRestoredWorkerTableWithTheMetaTableLeftInPlaceIsNotTrusted() throws Exception {
        WorkerAllocator first = allocator(context("first", Duration.ofMillis(1500)).preferredWorkerId(9).build());
        WorkerLease lease = first.acquire();
        long now = System.currentTimeMillis();
        long backedUp = now + 1000;
        lease = first.renew(lease, report(backedUp, "first"));
        // The nightly backup of the worker-ID table.
        String backup = "backup_" + UUID.randomUUID().toString().substring(0, 8).replace('-', '_');
        db.execute("CREATE TABLE " + backup + " AS SELECT * FROM ekko_worker_ids WHERE namespace = '" + namespace + "'");
        // The holder carries on and reports further, then stops cleanly having used up to lastUsed.
        long later = now + 60_000;
        lease = first.renew(lease, report(later, "first"));
        long lastUsed = now + 30_000;
        first.release(lease, report(lastUsed, "first"));
        // The worker-ID table (only) is restored; <table>_meta is not.
        db.execute("REPLACE INTO ekko_worker_ids SELECT * FROM " + backup);
        Thread.sleep(1700); // the restored lease expires by the database's clock

        WorkerAllocator second = allocator(context("second", Duration.ofMillis(1500)).preferredWorkerId(9).build());
        WorkerLease next = second.acquire();
        assertTrue(next.workerId() == 9);
        Handover h = next.handover();
        assertTrue(h.kind() != Handover.Kind.MARK || h.markMillis() >= lastUsed,
                "after the worker-ID table was restored from a backup (meta left in place) the next holder got " + h
                        + ", a trusted mark below the " + lastUsed + " the previous holder used: it may repeat its IDs");
    }

    /**
     * WorkerLease#coordinatorTimeMillis is "the coordinator's clock at the request"; for Handover.unknown the core counts the
     * wait for a forgotten earlier holder from it. acquire reads the database time at the start of its transaction and grants
     * later (after lock waits, or a stall): an earlier holder renewed (and then lost its row) in between, so the time handed
     * back is before a renewal the new holder must outwait.
     */
    @Test
    void anUnknownGrantReportsACoordinatorTimeNoEarlierThanTheLastRenewalItMustOutwait() throws Exception {
        WorkerAllocator holder = allocator(context("old", Duration.ofSeconds(5)).preferredWorkerId(11).build());
        WorkerLease lease = holder.acquire();
        CountDownLatch stalled = new CountDownLatch(1);
        try (HikariDataSource pool = db.pool(2)) {
            DataSource stalling = stallAfterQuery(pool, "SELECT TIMESTAMPDIFF", stalled, 3000);
            AllocatorContext asking = AllocatorContext.builder().idc(2).workerIds(256).instance("new").host("host-new")
                    .leaseTtl(Duration.ofSeconds(5)).preferredWorkerId(11).setting("ekko.mysql.namespace", namespace)
                    .setting("ekko.mysql.timeout", "1s").build();
            WorkerAllocator asker = MysqlAllocators.provider(stalling).create(asking);
            opened.add(asker);
            CompletableFuture<WorkerLease> other = CompletableFuture.supplyAsync(() -> {
                try {
                    return asker.acquire();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            assertTrue(stalled.await(10, TimeUnit.SECONDS));
            Thread.sleep(1500);
            WorkerLease renewed = holder.renew(lease, report(System.currentTimeMillis() + 5000, "old"));
            db.execute("DELETE FROM ekko_worker_ids WHERE namespace = '" + namespace + "'"); // the table emptied
            WorkerLease got = other.get(30, TimeUnit.SECONDS);
            assertTrue(got.workerId() == 11 && got.handover().kind() == Handover.Kind.UNKNOWN, got.toString());
            assertTrue(got.coordinatorTimeMillis() >= renewed.coordinatorTimeMillis(), "the grant of worker 11 (Handover.unknown)"
                    + " reports coordinator time " + got.coordinatorTimeMillis() + ", " + (renewed.coordinatorTimeMillis()
                    - got.coordinatorTimeMillis()) + " ms before the earlier holder's last renewal at "
                    + renewed.coordinatorTimeMillis() + ": the core's no-history wait is counted from too early");
        }
    }

    private static DataSource stallAfterQuery(DataSource real, String prefix, CountDownLatch stalled, long stallMillis) {
        InvocationHandler ds = (p, m, a) -> {
            Object r = invoke(real, m, a);
            if (r instanceof Connection c) {
                return Proxy.newProxyInstance(MysqlLeaseReviewIT.class.getClassLoader(), new Class<?>[] {Connection.class},
                        (p2, m2, a2) -> {
                            Object r2 = invoke(c, m2, a2);
                            if (r2 instanceof PreparedStatement s && m2.getName().equals("prepareStatement")
                                    && ((String) a2[0]).startsWith(prefix)) {
                                return Proxy.newProxyInstance(MysqlLeaseReviewIT.class.getClassLoader(),
                                        new Class<?>[] {PreparedStatement.class}, (p3, m3, a3) -> {
                                            Object r3 = invoke(s, m3, a3);
                                            if (m3.getName().equals("executeQuery") && stalled.getCount() > 0) {
                                                stalled.countDown();
                                                Thread.sleep(stallMillis);
                                            }
                                            return r3;
                                        });
                            }
                            return r2;
                        });
            }
            return r;
        };
        return (DataSource) Proxy.newProxyInstance(MysqlLeaseReviewIT.class.getClassLoader(), new Class<?>[] {DataSource.class}, ds);
    }

    // ------------------------------------------------------------------ a DataSource whose acquirer stalls

    /**
     * A data source whose first acquire transaction (one that prepared a locking read or an insert on the worker-ID table)
     * stalls before its commit or rollback, for {@code stallMillis}: a GC pause, or a partition (the server keeps the
     * transaction and its locks).
     */
    private static DataSource stallBeforeEndingAnAcquire(DataSource real, CountDownLatch stalled, long stallMillis) {
        InvocationHandler ds = (p, m, a) -> {
            Object r = invoke(real, m, a);
            if (r instanceof Connection c) {
                boolean[] acquiring = {false};
                return Proxy.newProxyInstance(MysqlLeaseReviewIT.class.getClassLoader(), new Class<?>[] {Connection.class},
                        (p2, m2, a2) -> {
                            if (m2.getName().equals("prepareStatement") && (((String) a2[0]).contains("SKIP LOCKED")
                                    || ((String) a2[0]).startsWith("INSERT IGNORE INTO `ekko_worker_ids`"))) {
                                acquiring[0] = true;
                            }
                            if ((m2.getName().equals("commit") || m2.getName().equals("rollback")) && acquiring[0]
                                    && stalled.getCount() > 0) {
                                stalled.countDown();
                                Thread.sleep(stallMillis);
                            }
                            return invoke(c, m2, a2);
                        });
            }
            return r;
        };
        return (DataSource) Proxy.newProxyInstance(MysqlLeaseReviewIT.class.getClassLoader(), new Class<?>[] {DataSource.class}, ds);
    }

    private static Object invoke(Object target, java.lang.reflect.Method m, Object[] a) throws Throwable {
        try {
            return m.invoke(target, a);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
