package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertAll;
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
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Third adversarial review of ekko-worker-mysql (after the rework of bf50982: rows created free by autocommit INSERT IGNORE,
 * the generation read again LOCK IN SHARE MODE at the end of an acquire, restore detection by the table's creation time),
 * against a real MariaDB. Each test asserts what docs/mysql.md and ARCHITECTURE.md promise; a failing one is a finding.
 */
class MysqlReview3IT {

    private static SharedMysql db;
    private final String namespace = "review3-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<WorkerAllocator> opened = new ArrayList<>();
    private final List<HikariDataSource> pools = new ArrayList<>();
    private final List<CountDownLatch> toRelease = new ArrayList<>();

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(MysqlReview3IT.class);
    }

    @AfterAll
    static void dropDatabase() {
        db.close();
    }

    @AfterEach
    void closeAll() {
        toRelease.forEach(CountDownLatch::countDown);
        opened.forEach(a -> {
            try {
                a.close();
            } catch (RuntimeException e) {
                // closing after a failed test
            }
        });
        pools.forEach(HikariDataSource::close);
    }

    private AllocatorContext.Builder context(String instance, Duration ttl) {
        return AllocatorContext.builder().idc(3).workerIds(256).instance(instance).host("host-" + instance).leaseTtl(ttl)
                .settings(db.settings(namespace)).setting("ekko.mysql.timeout", "1s");
    }

    private WorkerAllocator allocator(AllocatorContext context) {
        WorkerAllocator a = new MysqlAllocatorProvider().create(context);
        opened.add(a);
        return a;
    }

    /**
     * A pool configured as {@link MysqlAllocatorProvider} configures its own for {@code ekko.mysql.timeout} (socket timeout and
     * innodb_lock_wait_timeout both the timeout), so a hooked allocator waits and fails as a real one does.
     */
    private HikariDataSource realisticPool(long timeoutMillis) {
        HikariDataSource pool = db.realisticPool(timeoutMillis);
        pools.add(pool);
        return pool;
    }

    /** An allocator of this namespace on a realistic pool whose connections run {@code hooks}. */
    private WorkerAllocator hooked(String instance, Duration ttl, Integer preferred, long timeoutMillis, Hooks hooks) {
        AllocatorContext.Builder b = AllocatorContext.builder().idc(3).workerIds(256).instance(instance).host("host-" + instance)
                .leaseTtl(ttl).setting("ekko.mysql.namespace", namespace).setting("ekko.mysql.timeout", timeoutMillis + "ms");
        if (preferred != null) {
            b.preferredWorkerId(preferred);
        }
        WorkerAllocator a = MysqlAllocators.provider(HookedDataSource.wrap(realisticPool(timeoutMillis), hooks)).create(b.build());
        opened.add(a);
        return a;
    }

    private CountDownLatch latch() {
        CountDownLatch l = new CountDownLatch(1);
        toRelease.add(l);
        return l;
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

    /** Runs statements on a connection of its own that waits at most 5 s for a metadata lock. */
    private static void restore(String... sql) throws Exception {
        try (Connection c = db.connect(); Statement s = c.createStatement()) {
            s.execute("SET SESSION lock_wait_timeout = 5");
            for (String q : sql) {
                s.execute(q);
            }
        }
    }

    private static String workerDdl() {
        return new MysqlSchema("ekko_worker_ids").ddl().get(0).replace("IF NOT EXISTS ", "");
    }

    private static String metaDdl() {
        return new MysqlSchema("ekko_worker_ids").ddl().get(2).replace("IF NOT EXISTS ", "");
    }

    // ------------------------------------------------------------------ findings: uniqueness

    /**
     * docs/mysql.md: a dump restore (mariadb-dump drops and creates each table) is detected, "no acquire trusts a restored
     * mark". The acquire compares the creation times in its first statement, which touches <table>_meta but not the worker-ID
     * table (information_schema releases its metadata lock at the end of the statement). Until the acquire's first read of the
     * worker-ID table, nothing holds the dump's DROP TABLE off: a restore of the worker-ID table (the first table in the dump's
     * alphabetical order; the dump's DROP of <table>_meta then waits for the acquire) that lands in that window replaces the
     * rows under the acquire, whose generation is still the live one, which the restored rows carry too (no new generation
     * between backup and restore). The acquire takes the restored row and hands out its stale mark as trusted.
     */
    @Test
    void anAcquireDuringWhichTheWorkerTableIsRestoredDoesNotTrustTheRestoredMark() throws Exception {
        WorkerAllocator first = allocator(context("first", Duration.ofMillis(1500)).preferredWorkerId(9).build());
        WorkerLease lease = first.acquire();
        long now = System.currentTimeMillis();
        long backedUp = now + 1000;
        lease = first.renew(lease, report(backedUp, "first"));
        long renewedAt = System.currentTimeMillis();
        String backup = "backup_" + UUID.randomUUID().toString().substring(0, 8);
        db.execute("CREATE TABLE " + backup + " AS SELECT * FROM ekko_worker_ids"); // the dump
        lease = first.renew(lease, report(now + 60_000, "first"));
        long lastUsed = now + 30_000;
        first.release(lease, report(lastUsed, "first"));
        Thread.sleep(1100); // the restored table's creation time is another second than the recorded one

        CountDownLatch readStart = new CountDownLatch(1);
        CountDownLatch proceed = latch();
        Hooks hooks = new Hooks() {
            @Override
            void afterQuery(String sql) throws InterruptedException {
                if (sql.startsWith("SELECT TIMESTAMPDIFF") && sql.contains("table_created") && readStart.getCount() > 0) {
                    readStart.countDown(); // the acquire has compared the creation times; a short pause (GC) here
                    proceed.await(20, TimeUnit.SECONDS);
                }
            }
        };
        WorkerAllocator second = hooked("second", Duration.ofMillis(1500), 9, 2000, hooks);
        CompletableFuture<WorkerLease> next = acquireAsync(second);
        assertTrue(readStart.await(10, TimeUnit.SECONDS));
        // mariadb-dump's output for the worker-ID table: DROP, CREATE, INSERT (the metadata lock wait is bounded: 5 s)
        restore("DROP TABLE IF EXISTS ekko_worker_ids", workerDdl(), "INSERT INTO ekko_worker_ids SELECT * FROM " + backup);
        Thread.sleep(Math.max(0, renewedAt + 1700 - System.currentTimeMillis())); // the restored lease has expired
        proceed.countDown();
        WorkerLease got = next.get(30, TimeUnit.SECONDS);
        assertEquals(9, got.workerId());
        Handover h = got.handover();
        assertTrue(h.kind() != Handover.Kind.MARK || h.markMillis() >= lastUsed, "an acquire during which the worker-ID table was"
                + " restored from a dump handed out " + h + ", the restored mark (" + Instant.ofEpochMilli(backedUp) + "), as"
                + " trusted: it compared the creation times before the restore and read the restored row after it, in a transaction"
                + " that held no lock on the worker-ID table in between. The previous holder used up to "
                + Instant.ofEpochMilli(lastUsed) + ": the next holder may repeat its IDs");
    }

    /**
     * docs/mysql.md: "an unrecorded creation time is recorded without a new generation". A <table>_meta row whose table_created
     * is NULL (tables of an older build with the column added, the row written by hand) that is in a dump comes back NULL with
     * the dump: the first acquire after the restore records the restored table's creation time and trusts every restored mark
     * of the restored generation. The module itself never writes NULL there while the worker-ID table exists, so a NULL says
     * nothing about whether the marks are current.
     */
    @Test
    void aDumpWhoseMetaRowHasNoCreationTimeIsStillDetectedWhenRestored() throws Exception {
        WorkerAllocator first = allocator(context("first", Duration.ofMillis(1500)).preferredWorkerId(9).build());
        WorkerLease lease = first.acquire();
        db.execute("UPDATE ekko_worker_ids_meta SET table_created = NULL WHERE id = 1"); // as after an upgrade
        long now = System.currentTimeMillis();
        long backedUp = now + 1000;
        lease = first.renew(lease, report(backedUp, "first"));
        long renewedAt = System.currentTimeMillis();
        String backup = "backup_" + UUID.randomUUID().toString().substring(0, 8);
        db.execute("CREATE TABLE " + backup + " AS SELECT * FROM ekko_worker_ids"); // the dump
        db.execute("CREATE TABLE " + backup + "_meta AS SELECT * FROM ekko_worker_ids_meta");
        // The fleet goes on: a start records the creation time; the holder reports and leaves.
        allocator(context("other", Duration.ofMillis(1500)).build()).acquire();
        assertTrue(db.string("SELECT table_created FROM ekko_worker_ids_meta") != null, "an acquire recorded the creation time");
        lease = first.renew(lease, report(now + 60_000, "first"));
        long lastUsed = now + 30_000;
        first.release(lease, report(lastUsed, "first"));
        Thread.sleep(1100);
        restore("DROP TABLE IF EXISTS ekko_worker_ids", workerDdl(), "INSERT INTO ekko_worker_ids SELECT * FROM " + backup,
                "DROP TABLE IF EXISTS ekko_worker_ids_meta", metaDdl(), "INSERT INTO ekko_worker_ids_meta SELECT * FROM " + backup
                        + "_meta");
        Thread.sleep(Math.max(0, renewedAt + 1700 - System.currentTimeMillis()));

        WorkerAllocator second = allocator(context("second", Duration.ofMillis(1500)).preferredWorkerId(9).build());
        WorkerLease got = second.acquire();
        assertEquals(9, got.workerId());
        Handover h = got.handover();
        assertTrue(h.kind() != Handover.Kind.MARK || h.markMillis() >= lastUsed, "after a dump restore whose <table>_meta row had"
                + " table_created NULL, the next acquire handed out " + h + ", the restored mark, as trusted (the NULL was recorded"
                + " as-is, without a new generation). The previous holder used up to " + Instant.ofEpochMilli(lastUsed));
    }

    // ------------------------------------------------------------------ findings: a stalled acquirer holds up others

    /**
     * bf50982: rows are created free by statements that commit on their own, "so an insert race never ... makes another
     * acquirer wait for a stalled one". An INSERT IGNORE that meets an existing row takes a shared lock on it, and waits for
     * any exclusive lock on it, autocommit or not. Acquirer A creates worker 7 and takes it (an exclusive lock until its
     * commit), then stalls before committing. Acquirer B, which had looked for worker 7 before A created it, runs its own
     * INSERT IGNORE for worker 7 and waits for A: with the provider's settings (socket timeout = innodb_lock_wait_timeout =
     * ekko.mysql.timeout) it fails with "no reply", or waits the full lock wait and runs again. The same happens on the no-row
     * path, where acquirers create up to 4 rows each from a random start, overlapping with rows others just created and took.
     */
    @Test
    void anInsertIgnoreOfARowAStalledAcquirerJustTookDoesNotWaitForIt() throws Exception {
        CountDownLatch bLooked = new CountDownLatch(1);
        CountDownLatch aStalled = new CountDownLatch(1);
        CountDownLatch releaseA = latch();
        Hooks bHooks = new Hooks() {
            @Override
            void afterQuery(String sql) throws InterruptedException {
                if (sql.startsWith("SELECT (token IS NULL") && bLooked.getCount() > 0) {
                    bLooked.countDown(); // B saw no row for worker 7
                    aStalled.await(10, TimeUnit.SECONDS);
                }
            }
        };
        Hooks aHooks = new Hooks() {
            @Override
            void beforeEnd(String method, List<String> transaction) throws InterruptedException {
                if (method.equals("commit") && transaction.stream().anyMatch(s -> s.contains("SET base_mark")) && aStalled.getCount() > 0) {
                    aStalled.countDown(); // A created worker 7 and took it; it stalls before its commit
                    releaseA.await(20, TimeUnit.SECONDS);
                }
            }
        };
        WorkerAllocator b = hooked("b", Duration.ofSeconds(30), 7, 2000, bHooks);
        CompletableFuture<WorkerLease> bLease = acquireAsync(b);
        assertTrue(bLooked.await(10, TimeUnit.SECONDS));
        WorkerAllocator a = hooked("a", Duration.ofSeconds(30), 7, 2000, aHooks);
        CompletableFuture<WorkerLease> aLease = acquireAsync(a);
        assertTrue(aStalled.await(10, TimeUnit.SECONDS), "A took worker 7 and stalled before its commit");
        long t0 = System.nanoTime();
        Throwable failed = null;
        WorkerLease got = null;
        try {
            got = bLease.get(30, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            failed = e.getCause();
        }
        long tookMs = (System.nanoTime() - t0) / 1_000_000;
        releaseA.countDown();
        assertTrue(failed == null, "B's acquire failed while A stalled holding worker 7 it had just created, with 254 worker IDs"
                + " free: its INSERT IGNORE of worker 7 waited for A's lock: " + failed);
        assertTrue(tookMs < 1000, "B's acquire took " + tookMs + " ms after A stalled (ekko.mysql.timeout 2 s): its INSERT IGNORE of"
                + " worker 7 waited for the lock of A, which had created and taken worker 7 and stalled before its commit");
        assertNotEquals(7, got.workerId());
        assertEquals(7, aLease.get(30, TimeUnit.SECONDS).workerId());
    }

    /**
     * "No acquire keeps a lock on a row that someone holds." The preferred worker ID is read plainly and locked only if that read
     * saw it free. If another process takes it between the two, the locking read by primary key (a const lookup) leaves its
     * lock on the now held row although it fails the WHERE (the code says so: "the locking read may have left a lock on it")
     * and only ends the transaction one statement later. An acquirer that stalls there (GC pause, partition) holds up the new
     * holder's renewal.
     */
    @Test
    void anAcquirerWhosePreferredWorkerIdWasTakenBetweenItsReadAndItsLockDoesNotBlockTheHolder() throws Exception {
        WorkerAllocator maker = allocator(context("maker", Duration.ofSeconds(5)).preferredWorkerId(7).build());
        WorkerLease made = maker.acquire();
        maker.release(made, report(System.currentTimeMillis(), "maker")); // worker 7 has a free row

        CountDownLatch looked = new CountDownLatch(1);
        CountDownLatch holderGotIt = latch();
        CountDownLatch stalled = new CountDownLatch(1);
        CountDownLatch releaseAsker = latch();
        Hooks hooks = new Hooks() {
            @Override
            void afterQuery(String sql) throws InterruptedException {
                if (sql.startsWith("SELECT (token IS NULL") && looked.getCount() > 0) {
                    looked.countDown(); // the asker saw worker 7 free; now the holder takes it
                    holderGotIt.await(10, TimeUnit.SECONDS);
                }
            }

            @Override
            void beforeEnd(String method, List<String> transaction) throws InterruptedException {
                if (holderGotIt.getCount() == 0 && transaction.stream().anyMatch(s -> s.contains("SKIP LOCKED"))
                        && stalled.getCount() > 0) {
                    stalled.countDown();
                    releaseAsker.await(12, TimeUnit.SECONDS);
                }
            }
        };
        WorkerAllocator asker = hooked("asker", Duration.ofSeconds(5), 7, 1000, hooks);
        CompletableFuture<WorkerLease> other = acquireAsync(asker);
        assertTrue(looked.await(10, TimeUnit.SECONDS));
        WorkerAllocator holder = allocator(context("holder", Duration.ofSeconds(5)).preferredWorkerId(7).build());
        WorkerLease lease = holder.acquire();
        assertEquals(7, lease.workerId());
        holderGotIt.countDown();
        assertTrue(stalled.await(10, TimeUnit.SECONDS), "the asker locked worker 7 and stalled before ending its transaction");
        long t0 = System.nanoTime();
        Throwable failed = null;
        try {
            lease = holder.renew(lease, report(System.currentTimeMillis() + 5000, "holder"));
        } catch (RuntimeException e) {
            failed = e;
        }
        long tookMs = (System.nanoTime() - t0) / 1_000_000;
        releaseAsker.countDown();
        assertTrue(failed == null && tookMs < 1000, "the holder's renewal " + (failed == null ? "took " + tookMs + " ms" : "failed after "
                + tookMs + " ms: " + failed) + " while an acquirer that had seen worker 7 free just before the holder took it stalled"
                + " before ending its transaction: its locking read of the preferred row by primary key kept a lock on the held row");
        if (failed == null) {
            assertNotEquals(7, Renewing.until(holder, lease, "holder", other).workerId());
        }
    }

    /**
     * Every acquire used to end by reading the one <table>_meta row LOCK IN SHARE MODE, so that a new generation waited for
     * it: an acquirer that stalled after that read made the new-generation command's UPDATE wait, InnoDB queued every later
     * shared request behind that waiting exclusive one, and every other process's acquire failed. Now no acquire locks
     * <table>_meta; the command demotes the marks row by row, and waits only for the row the stalled acquirer took (one with
     * an old-generation mark here), while renewals and other starts go on.
     */
    @Test
    void aStalledAcquirerDoesNotStopOthersFromStartingWhileANewGenerationIsWritten() throws Exception {
        WorkerAllocator holder = allocator(context("holder", Duration.ofSeconds(5)).build());
        WorkerLease lease = holder.acquire();
        WorkerAllocator previous = allocator(context("previous", Duration.ofSeconds(5)).preferredWorkerId(40).build());
        previous.release(previous.acquire(), report(System.currentTimeMillis(), "previous")); // worker 40 has a mark
        CountDownLatch stalled = new CountDownLatch(1);
        CountDownLatch releaseStalled = latch();
        Hooks hooks = new Hooks() {
            @Override
            void beforeEnd(String method, List<String> transaction) throws InterruptedException {
                if (method.equals("commit") && transaction.stream().anyMatch(s -> s.contains("SKIP LOCKED"))
                        && stalled.getCount() > 0) {
                    stalled.countDown();
                    releaseStalled.await(20, TimeUnit.SECONDS);
                }
            }
        };
        WorkerAllocator staller = hooked("staller", Duration.ofSeconds(5), 40, 1000, hooks);
        CompletableFuture<WorkerLease> stalledLease = acquireAsync(staller);
        assertTrue(stalled.await(10, TimeUnit.SECONDS), "an acquirer stalled before committing its take of worker 40");

        java.util.Map<String, String> commandSettings = new java.util.HashMap<>(db.settings(namespace));
        commandSettings.put("ekko.mysql.timeout", "5s");
        CompletableFuture<NewGeneration> command = CompletableFuture.supplyAsync(() -> MysqlAllocators.startNewGeneration(commandSettings));
        Thread.sleep(300); // the command's UPDATE is waiting for the stalled acquirer's shared lock

        long t0 = System.nanoTime();
        Throwable renewFailed = null;
        try {
            lease = holder.renew(lease, report(System.currentTimeMillis() + 5000, "holder"));
        } catch (RuntimeException e) {
            renewFailed = e;
        }
        long renewMs = (System.nanoTime() - t0) / 1_000_000;
        WorkerAllocator starting = allocator(context("starting", Duration.ofSeconds(5)).build());
        long t1 = System.nanoTime();
        Throwable startFailed = null;
        try {
            starting.acquire();
        } catch (RuntimeException e) {
            startFailed = e;
        }
        long startMs = (System.nanoTime() - t1) / 1_000_000;
        releaseStalled.countDown();
        Throwable rf = renewFailed;
        Throwable sf = startFailed;
        assertAll(
                () -> assertTrue(rf == null && renewMs < 1000, "a renewal " + (rf == null ? "took " + renewMs + " ms" : "failed: " + rf)
                        + " while a new-generation command waited for a stalled acquirer"),
                () -> assertTrue(sf == null && startMs < 1000, "a process starting while a new-generation command waited for a stalled"
                        + " acquirer " + (sf == null ? "took " + startMs + " ms" : "failed after " + startMs + " ms: " + sf)
                        + " (ekko.mysql.timeout 1 s)"));
        stalledLease.get(30, TimeUnit.SECONDS);
        try {
            command.get(30, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            // the command may have given up meanwhile: a finding of its own only if it never succeeds
        }
    }

    // ------------------------------------------------------------------ probes

    /**
     * More acquirers than worker IDs they may take (acquire(avoid) refuses all but 16 of 256), all at once on an empty namespace
     * (rows created free, then taken, the transaction run again): every allowed worker ID is handed out exactly once, each loser
     * gets WorkerIdsExhaustedException (never a lost-race "gave up"), and no row is created for an avoided worker ID.
     */
    @Test
    void moreAcquirersThanWorkerIdsEachGetOneOrExhaustion() throws Exception {
        int ids = 16;
        int acquirers = 24;
        java.util.Set<Integer> avoid = new java.util.HashSet<>();
        for (int w = 0; w < 256 - ids; w++) {
            avoid.add(w);
        }
        List<WorkerAllocator> all = new ArrayList<>();
        for (int i = 0; i < acquirers; i++) {
            all.add(allocator(context("crowd-" + i, Duration.ofSeconds(30)).build()));
        }
        CountDownLatch go = new CountDownLatch(1);
        List<CompletableFuture<Object>> results = new ArrayList<>();
        for (WorkerAllocator a : all) {
            results.add(CompletableFuture.supplyAsync(() -> {
                try {
                    go.await();
                    return a.acquire(avoid);
                } catch (RuntimeException e) {
                    return e;
                } catch (InterruptedException e) {
                    return new IllegalStateException(e);
                }
            }, java.util.concurrent.Executors.newSingleThreadExecutor()));
        }
        go.countDown();
        java.util.Set<Integer> got = new java.util.TreeSet<>();
        List<String> other = new ArrayList<>();
        int exhausted = 0;
        for (CompletableFuture<Object> f : results) {
            Object r = f.get(60, TimeUnit.SECONDS);
            if (r instanceof WorkerLease l) {
                assertTrue(got.add(l.workerId()), "worker " + l.workerId() + " handed out twice");
            } else if (r instanceof dev.ekko.WorkerIdsExhaustedException) {
                exhausted++;
            } else {
                other.add(String.valueOf(r));
            }
        }
        assertEquals(List.of(), other, "acquirers failed otherwise than by exhaustion");
        assertEquals(ids, got.size(), "every worker ID handed out once (" + exhausted + " exhausted)");
        assertEquals(acquirers - ids, exhausted);
        assertEquals(0, db.count("SELECT COUNT(*) FROM ekko_worker_ids WHERE namespace = '" + namespace + "' AND worker < " + (256 - ids)),
                "rows were created for avoided worker IDs");
    }

    // ------------------------------------------------------------------ findings: passwords

    /**
     * "The password (from ekko.mysql.password, password= in the URL, or //user:password@ in it) is replaced by *** in every
     * message ... and toString()". Connector/J URL-decodes property names (so {@code %70assword=} is the password) and reads a
     * user-info password up to the '@', blanks included; the masks look for the literal word and stop at a blank. And the
     * refusal of ekko.mysql.url next to an application's DataSource masks by pattern only, so a blank in a password=
     * value ends what is hidden.
     */
    @Test
    void everyPasswordConnectorJReadsFromTheUrlIsMasked() throws Exception {
        List<String> leaks = new ArrayList<>();
        for (String url : List.of("jdbc:mysql://127.0.0.1:1/ids?user=ekko&%70assword=pw-SHOWN",
                "jdbc:mysql://(host=127.0.0.1,port=1,pass%77ord=pw-SHOWN)/ids?user=ekko",
                "jdbc:mysql://ekko:ab pw-SHOWN@127.0.0.1:1/ids")) {
            String read = com.mysql.cj.conf.ConnectionUrl.getConnectionUrlInstance(url, new Properties()).getMainHost().getPassword();
            assertTrue(read != null && read.endsWith("pw-SHOWN"), "Connector/J reads the password of " + url + ": " + read);
            WorkerAllocator a = new MysqlAllocatorProvider().create(AllocatorContext.builder().idc(3).workerIds(256).instance("m")
                    .setting("ekko.mysql.url", url).setting("ekko.mysql.timeout", "500ms").build());
            opened.add(a);
            EkkoException e = assertThrows(EkkoException.class, a::acquire);
            if (e.getMessage().contains("pw-SHOWN")) {
                leaks.add("message: " + e.getMessage());
            }
            if (a.toString().contains("pw-SHOWN")) {
                leaks.add("toString: " + a);
            }
        }
        HikariDataSource pool = db.pool(1);
        pools.add(pool);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MysqlAllocators.provider(pool).create(
                AllocatorContext.builder().idc(3).workerIds(256).instance("m")
                        .setting("ekko.mysql.url", "jdbc:mysql://127.0.0.1:1/ids?user=ekko&password=ab pw-SHOWN").build()));
        if (e.getMessage().contains("pw-SHOWN")) {
            leaks.add("refusal next to a DataSource: " + e.getMessage());
        }
        assertTrue(leaks.isEmpty(), "a password Connector/J reads from the URL is shown: " + String.join(" | ", leaks));
    }

    // ------------------------------------------------------------------ a DataSource with hooks

}
