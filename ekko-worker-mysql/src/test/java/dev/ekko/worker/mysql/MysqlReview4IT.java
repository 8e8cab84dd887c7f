package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import dev.ekko.worker.mysql.HookedDataSource.Hooks;
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
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Fourth adversarial review of ekko-worker-mysql (after b4dda53: no acquire locks <table>_meta; a new generation is written,
 * then every mark demoted row by row; an acquire trusts a mark only as read under its row's lock; the creation time checked
 * again at the end of an acquire), against a real MariaDB. Each test asserts what docs/mysql.md and ARCHITECTURE.md promise;
 * a failing one is a finding.
 */
class MysqlReview4IT {

    private static SharedMysql db;
    private final String namespace = "review4-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<WorkerAllocator> opened = new ArrayList<>();
    private final List<HikariDataSource> pools = new ArrayList<>();
    private final List<CountDownLatch> toRelease = new ArrayList<>();

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(MysqlReview4IT.class);
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

    private static Map<String, String> fleet() {
        Map<String, String> m = new TreeMap<>();
        m.put("ekko.clock.max.skew", "1s");
        m.put("ekko.worker.lease.ttl", "5s");
        return m;
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

    /** A pool configured as {@link MysqlAllocatorProvider} configures its own (socket timeout = innodb_lock_wait_timeout). */
    private HikariDataSource realisticPool(long timeoutMillis) {
        HikariDataSource pool = db.realisticPool(timeoutMillis);
        pools.add(pool);
        return pool;
    }

    private WorkerAllocator hooked(String instance, Duration ttl, Integer preferred, long timeoutMillis, Map<String, String> fleet,
            Hooks hooks) {
        AllocatorContext.Builder b = AllocatorContext.builder().idc(3).workerIds(256).instance(instance).host("host-" + instance)
                .leaseTtl(ttl).setting("ekko.mysql.namespace", namespace).setting("ekko.mysql.timeout", timeoutMillis + "ms");
        if (preferred != null) {
            b.preferredWorkerId(preferred);
        }
        if (fleet != null) {
            b.fleetSettings(fleet);
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

    /** Times an acquire; returns the lease or the failure, and the milliseconds it took. */
    private record Timed(Object outcome, long millis) {
    }

    private static Timed timedAcquire(WorkerAllocator a) {
        long t0 = System.nanoTime();
        Object outcome;
        try {
            outcome = a.acquire();
        } catch (RuntimeException e) {
            outcome = e;
        } catch (InterruptedException e) {
            outcome = new IllegalStateException(e);
        }
        return new Timed(outcome, (System.nanoTime() - t0) / 1_000_000);
    }

    // ------------------------------------------------------------------ findings

    /**
     * docs/mysql.md, "Permissions"/"Failure behaviour": to change the fleet settings, stop the fleet and DELETE its
     * <table>_settings rows; the worker rows stay. The fleet then starts again: the first acquire records the settings with
     * INSERT IGNORE inside its acquire transaction (not a statement of its own, unlike every other insert since bf50982), so
     * the new rows keep their exclusive locks until that acquire commits. Every other process starting meanwhile reads no
     * settings (plainly), runs its own INSERT IGNORE of the same keys and waits for that lock: an acquirer that stalls
     * between its settings insert and its commit (a GC pause, a partition: the server keeps its transaction) makes every
     * other start wait for it and fail ("no reply", or 1205 eight times), with 250 worker IDs free. The same happens when an
     * upgrade adds a fleet-settings key.
     */
    @Test
    void aStalledAcquirerThatRecordedTheFleetSettingsDoesNotMakeOtherStartsFail() throws Exception {
        for (int w = 7; w < 10; w++) { // the fleet ran before: worker rows exist
            WorkerAllocator a = allocator(context("old-" + w, Duration.ofSeconds(5)).preferredWorkerId(w).fleetSettings(fleet()).build());
            a.release(a.acquire(), report(System.currentTimeMillis(), "old-" + w));
        }
        // The documented way to change the fleet's settings: stop it, delete the record.
        db.execute("DELETE FROM ekko_worker_ids_settings WHERE namespace = '" + namespace + "' AND idc = 3");

        CountDownLatch stalled = new CountDownLatch(1);
        CountDownLatch releaseStalled = latch();
        Hooks hooks = new Hooks() {
            @Override
            void beforeEnd(String method, List<String> transaction) throws InterruptedException {
                if (method.equals("commit") && transaction.stream().anyMatch(s -> s.contains("SET base_mark")) && stalled.getCount() > 0) {
                    stalled.countDown(); // recorded the settings, took worker 7: a pause before the commit
                    releaseStalled.await(20, TimeUnit.SECONDS);
                }
            }
        };
        WorkerAllocator first = hooked("first", Duration.ofSeconds(5), 7, 1000, fleet(), hooks);
        CompletableFuture<WorkerLease> firstLease = acquireAsync(first);
        assertTrue(stalled.await(10, TimeUnit.SECONDS), "the first start recorded the settings, took worker 7 and stalled");

        WorkerAllocator second = allocator(context("second", Duration.ofSeconds(5)).fleetSettings(fleet()).build());
        Timed t = timedAcquire(second);
        releaseStalled.countDown();
        assertTrue(t.outcome() instanceof WorkerLease && t.millis() < 1000, "a process starting while another, which had just"
                + " recorded the fleet settings (after the documented DELETE of the record), stalled before its commit "
                + (t.outcome() instanceof WorkerLease ? "took " + t.millis() + " ms" : "failed after " + t.millis() + " ms: "
                + t.outcome()) + " (ekko.mysql.timeout 1 s, 252 worker IDs free): its INSERT IGNORE of the same settings keys"
                + " waited for the exclusive locks of the stalled acquire's uncommitted settings rows");
        assertEquals(7, firstLease.get(30, TimeUnit.SECONDS).workerId());
    }

    /**
     * The acquire that notices a restore (the creation time changed) writes a new generation and then demotes every mark in
     * its own start, row by row, each UPDATE waiting for any lock on its row. An acquirer that read the creation time before
     * the restore, locked a restored free row after it (its end-of-acquire check then runs it again) and stalls before its
     * rollback holds that row's lock; the process that noticed the restore waits for it, and with the provider's settings
     * (socket timeout = innodb_lock_wait_timeout = ekko.mysql.timeout) fails with "no reply" or waits the full timeout. In this
     * path the demotion orders nothing: an acquire that read the old creation time is run again by its final check, and one
     * that read the new one read the new generation with it.
     */
    @Test
    void aStartThatNoticesARestoreDoesNotWaitForAStalledAcquirersRowLock() throws Exception {
        WorkerAllocator first = allocator(context("first", Duration.ofSeconds(5)).preferredWorkerId(9).build());
        first.release(first.acquire(), report(System.currentTimeMillis(), "first")); // worker 9: a mark of this generation
        String backup = "backup_" + UUID.randomUUID().toString().substring(0, 8);
        db.execute("CREATE TABLE " + backup + " AS SELECT * FROM ekko_worker_ids"); // the dump
        Thread.sleep(1100); // the restored table's creation time is another second

        CountDownLatch readStart = new CountDownLatch(1);
        CountDownLatch proceed = latch();
        CountDownLatch stalled = new CountDownLatch(1);
        CountDownLatch releaseStalled = latch();
        Hooks hooks = new Hooks() {
            @Override
            void afterQuery(String sql) throws InterruptedException {
                if (sql.startsWith("SELECT TIMESTAMPDIFF") && sql.contains("table_created") && readStart.getCount() > 0) {
                    readStart.countDown();
                    proceed.await(20, TimeUnit.SECONDS);
                }
            }

            @Override
            void beforeEnd(String method, List<String> transaction) throws InterruptedException {
                if (transaction.stream().anyMatch(s -> s.contains("SET base_mark")) && stalled.getCount() > 0) {
                    stalled.countDown(); // took restored worker 9; a pause before its commit or rollback
                    releaseStalled.await(20, TimeUnit.SECONDS);
                }
            }
        };
        WorkerAllocator staller = hooked("staller", Duration.ofSeconds(5), 9, 2000, null, hooks);
        CompletableFuture<WorkerLease> stalledLease = acquireAsync(staller);
        assertTrue(readStart.await(10, TimeUnit.SECONDS));
        restore("DROP TABLE IF EXISTS ekko_worker_ids", workerDdl(), "INSERT INTO ekko_worker_ids SELECT * FROM " + backup);
        proceed.countDown();
        assertTrue(stalled.await(10, TimeUnit.SECONDS), "the staller locked restored worker 9 and stalled");

        WorkerAllocator starting = allocator(context("starting", Duration.ofSeconds(5)).setting("ekko.mysql.timeout", "2s").build());
        Timed t = timedAcquire(starting);
        releaseStalled.countDown();
        assertTrue(t.outcome() instanceof WorkerLease && t.millis() < 1000, "the process that noticed the restore "
                + (t.outcome() instanceof WorkerLease ? "took " + t.millis() + " ms" : "failed after " + t.millis() + " ms: "
                + t.outcome()) + " (ekko.mysql.timeout 2 s, 255 worker IDs free): its demotion of worker 9's mark waited for the"
                + " row lock of an acquirer that stalled after locking it");
        stalledLease.get(30, TimeUnit.SECONDS);
    }

    /**
     * docs/mysql.md: "Holders whose token is still in the restored rows carry on; the others lose their lease". A release is an
     * UPDATE on the token with no expiry condition that labels the row with the generation current at the release. After an
     * in-place restore followed by the documented new generation, a process paused since before the backup (its lease long
     * expired, the worker ID held since by another process) closes and releases: its token is back in the restored row, so the
     * release succeeds, writes max(restored base mark, its own last use), which knows nothing of the later holder's IDs, and
     * labels it with the new generation. The next acquire hands that mark out as trusted and starts at once, while the later
     * holder, whose token the restore erased, still issues until its fence deadline.
     */
    @Test
    void aReleaseOfAnExpiredLeaseWhoseTokenARestoreBroughtBackDoesNotMakeAStaleMarkTrusted() throws Exception {
        WorkerAllocator paused = allocator(context("paused", Duration.ofMillis(1500)).preferredWorkerId(9).build());
        WorkerLease old = paused.acquire();
        long pausedLastUsed = System.currentTimeMillis() + 500;
        old = paused.renew(old, report(pausedLastUsed, "paused"));
        String backup = "backup_" + UUID.randomUUID().toString().substring(0, 8);
        db.execute("CREATE TABLE " + backup + " AS SELECT * FROM ekko_worker_ids WHERE namespace = '" + namespace + "'");
        Thread.sleep(1700); // "paused" stops renewing (a long GC pause, a partition): its lease expires

        WorkerAllocator later = allocator(context("later", Duration.ofSeconds(30)).preferredWorkerId(9).build());
        WorkerLease laterLease = later.acquire();
        assertEquals(9, laterLease.workerId());
        long laterReserved = System.currentTimeMillis() + 60_000; // IDs up to here may be issued (bounded lead, or its clock)
        laterLease = later.renew(laterLease, report(laterReserved, "later"));

        db.execute("REPLACE INTO ekko_worker_ids SELECT * FROM " + backup); // a restore in place ...
        NewGeneration g = MysqlAllocators.startNewGeneration(db.settings(namespace)); // ... followed by the documented step
        // "paused" wakes up and closes: the core releases the lease it believes it holds, with its final report.
        paused.release(old, report(pausedLastUsed, "paused"));

        WorkerAllocator next = allocator(context("next", Duration.ofSeconds(30)).preferredWorkerId(9).build());
        WorkerLease got = next.acquire();
        assertEquals(9, got.workerId());
        Handover h = got.handover();
        assertTrue(h.kind() != Handover.Kind.MARK || h.markMillis() >= laterReserved, "after an in-place restore and a new"
                + " generation (" + g.current() + "), the release of an expired lease whose token the restore brought back"
                + " labelled the restored row with the new generation, and the next acquire handed out " + h + " as trusted. The"
                + " holder in between (its token erased by the restore, still issuing until its fence deadline) reserved up to "
                + Instant.ofEpochMilli(laterReserved) + ": the next holder may repeat its IDs");
    }

    /**
     * The same through the path docs/mysql.md says is detected on its own: a dump restore (the table dropped and created). The
     * first acquire after it starts a new generation and demotes every mark; then the paused process's release (its token is in
     * the dump, its lease long expired) relabels worker 9 with the new generation, and the next acquire trusts a mark that
     * knows nothing of the holder in between.
     */
    @Test
    void aReleaseOfAnExpiredLeaseWhoseTokenADumpRestoreBroughtBackDoesNotMakeAStaleMarkTrusted() throws Exception {
        WorkerAllocator paused = allocator(context("paused", Duration.ofMillis(1500)).preferredWorkerId(9).build());
        WorkerLease old = paused.acquire();
        long pausedLastUsed = System.currentTimeMillis() + 500;
        old = paused.renew(old, report(pausedLastUsed, "paused"));
        String backup = "backup_" + UUID.randomUUID().toString().substring(0, 8);
        db.execute("CREATE TABLE " + backup + " AS SELECT * FROM ekko_worker_ids"); // the dump
        Thread.sleep(1700); // "paused" stops renewing: its lease expires (and the restored table gets another creation time)

        WorkerAllocator later = allocator(context("later", Duration.ofSeconds(30)).preferredWorkerId(9).build());
        WorkerLease laterLease = later.acquire();
        assertEquals(9, laterLease.workerId());
        long laterReserved = System.currentTimeMillis() + 60_000;
        later.renew(laterLease, report(laterReserved, "later"));

        restore("DROP TABLE IF EXISTS ekko_worker_ids", workerDdl(), "INSERT INTO ekko_worker_ids SELECT * FROM " + backup);
        String before = db.string("SELECT generation FROM ekko_worker_ids_meta");
        WorkerAllocator noticer = allocator(context("noticer", Duration.ofSeconds(30)).build());
        assertNotEquals(9, noticer.acquire(java.util.Set.of(9)).workerId()); // notices the restore: a new generation, every mark demoted
        assertNotEquals(before, db.string("SELECT generation FROM ekko_worker_ids_meta"), "the restore was noticed");
        paused.release(old, report(pausedLastUsed, "paused")); // "paused" wakes up and closes

        WorkerAllocator next = allocator(context("next", Duration.ofSeconds(30)).preferredWorkerId(9).build());
        WorkerLease got = next.acquire();
        assertEquals(9, got.workerId());
        Handover h = got.handover();
        assertTrue(h.kind() != Handover.Kind.MARK || h.markMillis() >= laterReserved, "after a dump restore noticed by an acquire"
                + " (a new generation, every mark demoted), the release of an expired lease whose token the dump brought back"
                + " labelled worker 9 with the new generation, and the next acquire handed out " + h + " as trusted. The holder in"
                + " between reserved up to " + Instant.ofEpochMilli(laterReserved) + ": the next holder may repeat its IDs");
    }

    // ------------------------------------------------------------------ probes (claims that held)

    /**
     * The claim the rework rests on, checked in the ordering the straddle test of MysqlReview2IT does not reach: an acquire
     * read the old generation, the command wrote the new one and listed the rows to demote, and the acquire locked an
     * old-generation row before the demotion reached it. The acquire trusts the old mark (documented: an acquire between
     * restore and command), so the command must not return before it commits: its UPDATE of that row waits for the lock.
     */
    @Test
    void theNewGenerationCommandWaitsForAnAcquireThatLockedARowBeforeItsDemotion() throws Exception {
        WorkerAllocator first = allocator(context("first", Duration.ofSeconds(5)).preferredWorkerId(20).build());
        first.release(first.acquire(), report(System.currentTimeMillis(), "first")); // worker 20: a mark of the old generation

        CountDownLatch readGeneration = new CountDownLatch(1);
        CountDownLatch generationWritten = latch();
        CountDownLatch acquirerLocked = new CountDownLatch(1);
        CountDownLatch acquirerCommit = latch();
        AtomicLong acquirerCommitSent = new AtomicLong();
        Hooks acquirerHooks = new Hooks() {
            @Override
            void afterQuery(String sql) throws InterruptedException {
                if (sql.startsWith("SELECT TIMESTAMPDIFF") && sql.contains("m.generation") && readGeneration.getCount() > 0) {
                    readGeneration.countDown();
                    generationWritten.await(20, TimeUnit.SECONDS);
                }
            }

            @Override
            void beforeEnd(String method, List<String> transaction) throws InterruptedException {
                if (method.equals("commit") && transaction.stream().anyMatch(s -> s.contains("SET base_mark"))
                        && acquirerLocked.getCount() > 0) {
                    acquirerLocked.countDown();
                    acquirerCommit.await(20, TimeUnit.SECONDS);
                    // Just before the commit is sent. Not after its reply: the server releases the row lock as it commits, so
                    // the command's waiting UPDATE may go on, and the command return, before this client reads that reply.
                    acquirerCommitSent.set(System.nanoTime());
                }
            }
        };
        CountDownLatch listed = new CountDownLatch(1);
        CountDownLatch demote = latch();
        Hooks commandHooks = new Hooks() {
            @Override
            void afterQuery(String sql) throws InterruptedException {
                if (sql.startsWith("SELECT namespace, idc, worker") && listed.getCount() > 0) {
                    listed.countDown();
                    demote.await(20, TimeUnit.SECONDS);
                }
            }
        };
        WorkerAllocator acquirer = hooked("acquirer", Duration.ofSeconds(5), 20, 5000, null, acquirerHooks);
        CompletableFuture<WorkerLease> acquired = acquireAsync(acquirer);
        assertTrue(readGeneration.await(10, TimeUnit.SECONDS), "the acquirer read the old generation");
        DataSource commandSource = HookedDataSource.wrap(realisticPool(5000), commandHooks);
        CompletableFuture<Long> command = CompletableFuture.supplyAsync(() -> {
            MysqlAllocators.startNewGeneration(commandSource, null);
            return System.nanoTime();
        });
        assertTrue(listed.await(10, TimeUnit.SECONDS), "the command wrote the generation and listed the rows to demote");
        generationWritten.countDown();
        assertTrue(acquirerLocked.await(10, TimeUnit.SECONDS), "the acquirer locked and took worker 20 before its demotion");
        demote.countDown();
        Thread.sleep(500);
        assertFalse(command.isDone(), "the command returned while an acquire that trusts the old mark of worker 20 had not"
                + " committed");
        acquirerCommit.countDown();
        WorkerLease got = acquired.get(30, TimeUnit.SECONDS);
        long returned = command.get(30, TimeUnit.SECONDS);
        assertEquals(20, got.workerId());
        assertTrue(got.handover().kind() != Handover.Kind.MARK || acquirerCommitSent.get() != 0 && acquirerCommitSent.get() < returned,
                "an acquire that trusted the old mark " + got.handover() + " committed after the command returned");
        String label = db.string("SELECT COALESCE(mark_generation, 'NULL') FROM ekko_worker_ids WHERE namespace = '" + namespace
                + "' AND worker = 20");
        assertEquals("NULL", label, "worker 20's old mark was demoted after the acquire committed");
        WorkerAllocator other = allocator(context("other", Duration.ofSeconds(5)).preferredWorkerId(20).build());
        assertNotEquals(20, other.acquire().workerId(), "worker 20 is held");
    }

    // ------------------------------------------------------------------ a DataSource with hooks

}
