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

    @Test
    void aNewGenerationMakesEveryOldMarkALowerBoundAndALostRowIsUnknown() throws Exception {
        long now = System.currentTimeMillis();
        WorkerAllocator a = allocator(context("g").build());
        WorkerLease first = a.acquire();
        a.release(first, report(now, "g"));
        // The documented procedure after restoring a backup: a new generation.
        db.execute("UPDATE ekko_worker_ids_meta SET generation = MD5(RAND()) WHERE id = 1");
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
}
