package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import dev.ekko.worker.mysql.HookedDataSource.Hooks;
import dev.ekko.EkkoException;
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
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Second adversarial review of ekko-worker-mysql, against a real MariaDB. Each test asserts the behaviour docs/mysql.md and
 * ARCHITECTURE.md promise; a failing one is a finding.
 */
class MysqlReview2IT {

    private static SharedMysql db;
    private final String namespace = "review2-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<WorkerAllocator> opened = new ArrayList<>();
    private final List<HikariDataSource> pools = new ArrayList<>();

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(MysqlReview2IT.class);
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

    private AllocatorContext.Builder context(String instance, Duration ttl) {
        return AllocatorContext.builder().idc(2).workerIds(256).instance(instance).host("host-" + instance).leaseTtl(ttl)
                .settings(db.settings(namespace)).setting("ekko.mysql.timeout", "1s");
    }

    private WorkerAllocator allocator(AllocatorContext context) {
        WorkerAllocator a = new MysqlAllocatorProvider().create(context);
        opened.add(a);
        return a;
    }

    /** An allocator of this namespace on a data source whose connections run {@code hooks}. */
    private WorkerAllocator hooked(String instance, Duration ttl, Integer preferred, Hooks hooks) {
        HikariDataSource pool = db.pool(2);
        pools.add(pool);
        AllocatorContext.Builder b = AllocatorContext.builder().idc(2).workerIds(256).instance(instance).host("host-" + instance)
                .leaseTtl(ttl).setting("ekko.mysql.namespace", namespace).setting("ekko.mysql.timeout", "1s");
        if (preferred != null) {
            b.preferredWorkerId(preferred);
        }
        WorkerAllocator a = MysqlAllocators.provider(HookedDataSource.wrap(pool, hooks)).create(b.build());
        opened.add(a);
        return a;
    }

    private static ClockReport report(long reserved, String instance) {
        return new ClockReport(System.currentTimeMillis(), reserved, "host-" + instance, 42, instance);
    }

    private static CompletableFuture<WorkerLease> acquireAsync(WorkerAllocator a) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return a.acquire();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    // ------------------------------------------------------------------ findings

    /**
     * "No acquirer keeps a lock on a row someone else holds". The preferred worker ID is looked at with a plain read; when it
     * has no row the acquirer inserts it with INSERT IGNORE. If another process inserted (and committed) that row in between,
     * the INSERT IGNORE finds a duplicate, and InnoDB leaves a shared lock on the duplicate row, which the other process now
     * holds, until the acquirer's transaction ends. The code ends it at once (Retry, rollback), but an acquirer that stalls
     * there (GC pause; a partition, where the server keeps the transaction for as long as it takes to notice) holds up the
     * holder's renewals past its fence. The same INSERT IGNORE runs on the no-row fallback path, where 200 acquirers race for
     * the same missing worker IDs.
     */
    @Test
    void anAcquirerWhoseInsertRacedWithTheHolderDoesNotBlockTheHoldersRenewal() throws Exception {
        CountDownLatch looked = new CountDownLatch(1);
        CountDownLatch holderGotIt = new CountDownLatch(1);
        CountDownLatch stalled = new CountDownLatch(1);
        Hooks hooks = new Hooks() {
            @Override
            void afterQuery(String sql) throws InterruptedException {
                if (sql.startsWith("SELECT (token IS NULL") && looked.getCount() > 0) {
                    looked.countDown(); // the asker saw no row for worker 7; now the holder inserts it
                    holderGotIt.await(10, TimeUnit.SECONDS);
                }
            }

            @Override
            void beforeEnd(String method, List<String> transaction) throws InterruptedException {
                boolean acquiring = HookedDataSource.acquiring(transaction);
                if (acquiring && holderGotIt.getCount() == 0 && stalled.getCount() > 0) {
                    stalled.countDown();
                    Thread.sleep(12_000);
                }
            }
        };
        WorkerAllocator asker = hooked("asker", Duration.ofSeconds(5), 7, hooks);
        CompletableFuture<WorkerLease> other = acquireAsync(asker);
        assertTrue(looked.await(10, TimeUnit.SECONDS), "the asker looked at worker 7");

        WorkerAllocator holder = allocator(context("holder", Duration.ofSeconds(5)).preferredWorkerId(7).build());
        WorkerLease lease = holder.acquire();
        assertEquals(7, lease.workerId());
        holderGotIt.countDown();
        assertTrue(stalled.await(10, TimeUnit.SECONDS), "the asker's INSERT IGNORE met the holder's row and it stalled before"
                + " ending its transaction");

        long t0 = System.nanoTime();
        WorkerLease renewed = assertDoesNotThrow(() -> holder.renew(lease, report(System.currentTimeMillis() + 5000, "holder")),
                "the holder's renewal failed while an acquirer that had raced it for worker 7 (INSERT IGNORE on the row the holder"
                        + " had just inserted) stalled before ending its transaction: the duplicate-key check left a shared lock"
                        + " on the held row");
        long tookMs = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(tookMs < 2000, "the holder's renewal took " + tookMs + " ms (TTL 5000 ms): an acquirer whose INSERT IGNORE met"
                + " the holder's row holds a shared lock on it until its transaction ends");
        assertEquals(7, renewed.workerId());
        assertNotEquals(7, Renewing.until(holder, renewed, "holder", other).workerId());
    }

    /**
     * "Deadlocks and lock waits ... never reach the caller", and a preferred worker ID that is taken means another one. An
     * acquirer that stalls before committing its insert of a new row (worker 7) keeps that row locked; a second acquirer that
     * prefers worker 7 cannot see the uncommitted row, runs INSERT IGNORE on it and waits for the lock. The wait ends in a
     * socket timeout (the socket timeout and innodb_lock_wait_timeout are both ekko.mysql.timeout, so the driver usually gives
     * up first, and an acquire is not sent again after a broken connection) or in 1205 eight times over on the same worker
     * ID: either way the second process's acquire fails, although 255 worker IDs are free.
     */
    @Test
    void aStalledAcquirersUncommittedInsertDoesNotMakeAnotherAcquirerFail() throws Exception {
        CountDownLatch stalled = new CountDownLatch(1);
        Hooks hooks = new Hooks() {
            @Override
            void beforeEnd(String method, List<String> transaction) throws InterruptedException {
                boolean acquiring = HookedDataSource.acquiring(transaction);
                if (acquiring && method.equals("commit") && stalled.getCount() > 0) {
                    stalled.countDown();
                    Thread.sleep(20_000);
                }
            }
        };
        WorkerAllocator first = hooked("first", Duration.ofSeconds(30), 7, hooks);
        CompletableFuture<WorkerLease> firstLease = acquireAsync(first);
        assertTrue(stalled.await(10, TimeUnit.SECONDS), "the first acquirer inserted worker 7 and stalled before its commit");

        WorkerAllocator second = allocator(context("second", Duration.ofSeconds(30)).preferredWorkerId(7).build());
        long t0 = System.nanoTime();
        WorkerLease got = assertDoesNotThrow(() -> second.acquire(), "an acquire failed on a lock held by another acquirer that"
                + " stalled, with 255 worker IDs free: a lock wait reached the caller");
        long tookMs = (System.nanoTime() - t0) / 1_000_000;
        assertNotEquals(7, got.workerId());
        assertTrue(tookMs < 5000, "the acquire took " + tookMs + " ms");
        assertEquals(7, firstLease.get(60, TimeUnit.SECONDS).workerId());
    }

    /**
     * docs/mysql.md: after a restore, start a new generation; "from then on every mark is a lower bound". An acquire that read
     * the generation at the start of its transaction, before the new generation was committed, goes on to compare the restored
     * row's mark_generation with that stale value, and hands the restored (stale) mark out as a trusted Handover.mark after
     * startNewGeneration has returned. The operator followed the procedure, yet the next holder may repeat IDs the previous
     * holder issued after the backup was taken.
     */
    @Test
    void anAcquireThatStraddlesANewGenerationDoesNotTrustTheRestoredMark() throws Exception {
        WorkerAllocator first = allocator(context("first", Duration.ofMillis(1500)).preferredWorkerId(9).build());
        WorkerLease lease = first.acquire();
        long now = System.currentTimeMillis();
        long backedUp = now + 1000;
        lease = first.renew(lease, report(backedUp, "first"));
        String backup = "backup_" + UUID.randomUUID().toString().substring(0, 8);
        db.execute("CREATE TABLE " + backup + " AS SELECT * FROM ekko_worker_ids WHERE namespace = '" + namespace + "'");
        lease = first.renew(lease, report(now + 60_000, "first"));
        long lastUsed = now + 30_000;
        first.release(lease, report(lastUsed, "first"));
        db.execute("REPLACE INTO ekko_worker_ids SELECT * FROM " + backup); // the restore
        Thread.sleep(1700); // the restored lease expires by the database's clock

        CountDownLatch readGeneration = new CountDownLatch(1);
        CountDownLatch proceed = new CountDownLatch(1);
        Hooks hooks = new Hooks() {
            @Override
            void afterQuery(String sql) throws InterruptedException {
                if (sql.startsWith("SELECT TIMESTAMPDIFF") && sql.contains("generation") && readGeneration.getCount() > 0) {
                    readGeneration.countDown();
                    proceed.await(10, TimeUnit.SECONDS);
                }
            }
        };
        WorkerAllocator second = hooked("second", Duration.ofMillis(1500), 9, hooks);
        CompletableFuture<WorkerLease> next = acquireAsync(second);
        assertTrue(readGeneration.await(10, TimeUnit.SECONDS));
        NewGeneration g = MysqlAllocators.startNewGeneration(db.settings(namespace)); // the documented step, completed
        proceed.countDown();
        WorkerLease got = next.get(30, TimeUnit.SECONDS);
        assertEquals(9, got.workerId());
        Handover h = got.handover();
        assertTrue(h.kind() != Handover.Kind.MARK || h.markMillis() >= lastUsed, "an acquire that returned after "
                + "startNewGeneration (" + g.current() + ") had returned handed out " + h + ", the restored mark, as trusted: it"
                + " read the generation before the new one was committed. The previous holder used up to "
                + java.time.Instant.ofEpochMilli(lastUsed) + ": the next holder may repeat its IDs");
    }

    /**
     * "The password (from ekko.mysql.password, password= in the URL, or //user:password@ in it) is replaced by *** in every
     * message ... and toString()". Connector/J reads a {@code ?password=} value up to the next '&', so a password with a ',',
     * ';' or ')' in it works; the mask stops at the first of those characters and prints the rest of the password in every
     * message ({@code settings.where()} is in all of them) and in toString().
     */
    @Test
    void aPasswordWithACommaOrSemicolonInTheUrlIsMaskedWhole() throws Exception {
        for (String secret : List.of("ab,cd-tail-SHOWN", "ab;cd-tail-SHOWN", "ab)cd-tail-SHOWN")) {
            String url = "jdbc:mysql://127.0.0.1:1/ids?user=ekko&password=" + secret;
            assertEquals(secret, com.mysql.cj.conf.ConnectionUrl.getConnectionUrlInstance(url, new Properties()).getMainHost()
                    .getPassword(), "Connector/J reads this password from the URL");
            WorkerAllocator a = new MysqlAllocatorProvider().create(AllocatorContext.builder().idc(2).workerIds(256).instance("m")
                    .setting("ekko.mysql.url", url).setting("ekko.mysql.timeout", "500ms").build());
            opened.add(a);
            EkkoException e = assertThrows(EkkoException.class, a::acquire);
            assertTrue(!e.getMessage().contains("cd-tail-SHOWN") && !a.toString().contains("cd-tail-SHOWN"), "part of the password "
                    + secret + " is shown: " + e.getMessage() + " / " + a);
        }
    }

    // ------------------------------------------------------------------ probes

    /**
     * A restarted process racing its old self (same instance name) finds its worker ID through the secondary index on
     * last_instance; a stalled acquire must not hold the live holder's row.
     */
    @Test
    void anAcquirerWithTheHoldersInstanceNameDoesNotBlockItsRenewal() throws Exception {
        WorkerAllocator holder = allocator(context("web", Duration.ofSeconds(5)).build());
        WorkerLease lease = holder.acquire();
        CountDownLatch stalled = new CountDownLatch(1);
        Hooks hooks = new Hooks() {
            @Override
            void beforeEnd(String method, List<String> transaction) throws InterruptedException {
                boolean acquiring = HookedDataSource.acquiring(transaction);
                if (acquiring && stalled.getCount() > 0) {
                    stalled.countDown();
                    Thread.sleep(12_000);
                }
            }
        };
        WorkerAllocator asker = hooked("web", Duration.ofSeconds(5), null, hooks);
        CompletableFuture<WorkerLease> other = acquireAsync(asker);
        assertTrue(stalled.await(10, TimeUnit.SECONDS));
        long t0 = System.nanoTime();
        WorkerLease renewed = assertDoesNotThrow(() -> holder.renew(lease, report(System.currentTimeMillis() + 5000, "web")));
        long tookMs = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(tookMs < 2000, "renewal took " + tookMs + " ms while an acquirer of the same instance name stalled");
        assertNotEquals(lease.workerId(), Renewing.until(holder, renewed, "web", other).workerId());
    }

    /**
     * A new-generation command that stalls (an operator's ^Z, a partition) must not stop processes from starting or holders
     * from renewing. It used to lock the {@code _meta} row FOR UPDATE and count the marks before its commit, and every first
     * acquire's INSERT IGNORE into {@code _meta} waited for that lock. Now each of its statements commits on its own: stalled
     * after every one of them in turn, it holds no lock that a renewal or a starting process waits for.
     */
    @Test
    void aStalledNewGenerationDoesNotStopProcessesFromStarting() throws Exception {
        WorkerAllocator holder = allocator(context("h", Duration.ofSeconds(5)).build());
        WorkerLease[] lease = {holder.acquire()};
        for (String stallAfter : List.of("SELECT generation", "SELECT COUNT(*)")) {
            CountDownLatch stalled = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Hooks hooks = new Hooks() {
                @Override
                void afterQuery(String sql) throws InterruptedException {
                    if (sql.startsWith(stallAfter) && stalled.getCount() > 0) {
                        stalled.countDown();
                        release.await(30, TimeUnit.SECONDS);
                    }
                }
            };
            HikariDataSource pool = db.pool(1);
            pools.add(pool);
            CompletableFuture<NewGeneration> command = CompletableFuture.supplyAsync(
                    () -> MysqlAllocators.startNewGeneration(HookedDataSource.wrap(pool, hooks), null));
            assertTrue(stalled.await(10, TimeUnit.SECONDS), "the command stalled after " + stallAfter);
            long t0 = System.nanoTime();
            lease[0] = assertDoesNotThrow(() -> holder.renew(lease[0], report(System.currentTimeMillis() + 5000, "h")));
            long renewMs = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(renewMs < 1000, "a renewal took " + renewMs + " ms behind a stalled new-generation command");
            WorkerAllocator starting = allocator(context("s-" + stalled.hashCode(), Duration.ofSeconds(5)).build());
            assertDoesNotThrow(() -> starting.acquire(), "a process starting while a new-generation command stalled (after "
                    + stallAfter + ") failed");
            release.countDown();
            command.get(30, TimeUnit.SECONDS);
        }
    }

    /** A renewal whose commit was applied but whose reply was lost is sent again on another connection and succeeds. */
    @Test
    void aRenewalWhoseCommitReplyWasLostIsSentAgainAndSucceeds() throws Exception {
        boolean[] lose = {false};
        Hooks hooks = new Hooks() {
            @Override
            void afterEnd(String method) throws java.sql.SQLException {
                if (method.equals("commit") && lose[0]) {
                    lose[0] = false;
                    throw new java.sql.SQLNonTransientConnectionException("Communications link failure (the reply was lost)", "08S01");
                }
            }
        };
        WorkerAllocator a = hooked("lost-reply", Duration.ofSeconds(5), null, hooks);
        WorkerLease lease = a.acquire();
        lose[0] = true;
        long reserved = System.currentTimeMillis() + 5000;
        WorkerLease renewed = assertDoesNotThrow(() -> a.renew(lease, report(reserved, "lost-reply")));
        assertEquals(lease.workerId(), renewed.workerId());
        assertTrue(!lose[0], "the reply of the first commit was lost");
        assertEquals(reserved, db.count("SELECT mark FROM ekko_worker_ids WHERE namespace = '" + namespace + "' AND worker = "
                + lease.workerId()));
    }

    // ------------------------------------------------------------------ a DataSource with hooks

}
