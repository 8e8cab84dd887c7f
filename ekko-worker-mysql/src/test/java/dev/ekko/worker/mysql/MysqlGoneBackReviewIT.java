package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import dev.ekko.LeaseLostException;
import dev.ekko.testkit.IdChecks;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review 5 of the MySQL "mark went back" check (a renewal that finds its row's mark below what this holder last reported
 * gives its lease up and starts a new generation). Each test uses its own namespace and its own copy table.
 */
class MysqlGoneBackReviewIT {

    private static final Duration LEAD = Duration.ofSeconds(5);
    private static SharedMysql db;

    @TempDir
    Path dir;

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(MysqlGoneBackReviewIT.class);
    }

    @AfterAll
    static void dropDatabase() {
        db.close();
    }

    private IdGenerator start(String namespace, String host, String instance, int preferred) {
        return FastGenerators.builder(db.settings(namespace), dir.resolve(namespace + "-" + host), instance).maxLead(LEAD)
                .workerId(preferred).hostLockDirectory(dir.resolve(namespace + "-" + host + "-locks")).build();
    }

    /** A raw allocator on the fleet's namespace and IDC (TTL 60 s), whose renewals the test times itself. */
    private static WorkerAllocator allocator(String namespace, String instance, int preferred) {
        return new MysqlAllocatorProvider().create(AllocatorContext.builder().idc(FastGenerators.IDC).workerIds(256)
                .preferredWorkerId(preferred).instance(instance).host("host-" + instance).leaseTtl(Duration.ofSeconds(60))
                .settings(db.settings(namespace)).setting("ekko.mysql.timeout", "1s").build());
    }

    private static ClockReport report(long reservedUntil, String instance) {
        return new ClockReport(System.currentTimeMillis(), reservedUntil, "host-" + instance, 42, instance);
    }


    private static void sql(String statement) throws Exception {
        try (Connection c = db.connect(); Statement s = c.createStatement()) {
            s.execute(statement);
        }
    }

    private static void assertPast(Layout layout, long lastOfA, long firstOfB, String why) {
        assertEquals(layout.decode(lastOfA).worker(), layout.decode(firstOfB).worker(), "B took A's worker ID back");
        assertTrue(Long.compareUnsigned(firstOfB, lastOfA) > 0, "B's first ID " + layout.decode(firstOfB) + " is not past A's last "
                + layout.decode(lastOfA) + ": " + why);
    }

    /**
     * FINDING (failed on the code it reviewed; passes since a missing row or mark counts as gone back, a regression test now). Claim (docs/mysql.md, "Generation, lost and restored tables"): a restore in place,
     * a physical restore or a promoted replica that was behind "is seen by a holder that is live across it". Attack: the
     * live holder L took its worker ID after the copy was made, so its row is not in the copy at all. The restore (here:
     * DELETE, then INSERT ... SELECT from the copy, which keeps the table and its creation time; a physical restore or a
     * lagging replica also lack rows created after their point in time) removes L's row. L's renewal matches no row, and
     * {@code markOf} returns null for a missing row, so the check ({@code found != null && found < expected}) passes and L
     * sees a plain "gone": no new generation. A's restored mark stays trusted under the unchanged generation, and B, taking
     * A's worker ID back, starts below A's last ID. Suggested fix: in {@code renewIn}, a renewal whose row is missing while
     * this holder had a successful renewal of it ({@code expected != null}) must count as "went back" too (the module never
     * deletes a row; only a restore, a lost table or an operator does), as must a row whose mark is NULL; i.e. treat
     * {@code found == null} like {@code found < expected}.
     */
    @Test
    void aLiveHolderWhoseRowIsMissingFromTheRestoredCopyStartsNoNewGeneration() throws Exception {
        String ns = "missingrow";
        long lastOfA;
        IdGenerator a = start(ns, "host-a", "a", 7);
        IdChecks.burst(a, 1000);
        Thread.sleep(400); // renewals record marks that cover the lead
        sql("CREATE TABLE copy_missing AS SELECT * FROM ekko_worker_ids WHERE namespace = '" + ns + "'");
        // L takes its worker ID after the copy: its row is not in it
        try (IdGenerator live = start(ns, "host-l", "l", 9)) {
            live.next();
            lastOfA = IdChecks.burst(a, 5000);
            a.close();
            // the restore in place: the rows as they were in the copy (the table, and so its creation time, kept)
            sql("DELETE FROM ekko_worker_ids WHERE namespace = '" + ns + "'");
            sql("INSERT INTO ekko_worker_ids SELECT * FROM copy_missing");
            Thread.sleep(1500); // L renews (every 300 ms) and finds its row gone; A's restored row expired at the copy's time + TTL
        } finally {
            a.close();
        }
        try (IdGenerator b = start(ns, "host-b", "a", 7)) {
            long first = b.next();
            assertPast(b.layout(), lastOfA, first, "the live holder L's row was missing after the restore, L saw a plain loss and"
                    + " started no new generation, so B trusted A's restored mark: IDs repeat");
        }
    }

    /**
     * FINDING (fails on the current code). Claim: with a holder live across a restore in place, the restored marks are
     * lower bounds. Attack: the check runs at L's next renewal only (up to one report interval, longer while it is
     * retried); an acquire in between reads the restored rows under the unchanged generation and trusts A's stale mark.
     * L then detects it ("went back") and starts a new generation, whose demotion only relabels marks: B, which already
     * holds A's worker ID, keeps renewing (its token matches) and issuing below A's last ID. Suggested fix: a detection
     * must also stop holders that trusted a mark since the rows went back (e.g. a lease records the generation its
     * handover was trusted under, and a renewal under a newer generation gives such a lease up), and an acquire should not
     * trust a mark until the live holders have renewed once since (or document the window).
     */
    @Test
    @Disabled("documented limit (docs/mysql.md, data replaced in place): an acquire between the restore and the first renewal of a live"
            + " holder trusts a restored mark; the window is up to one report interval (issue #12 goes on)")
    void aHolderThatAcquiresBetweenTheRestoreAndTheLiveHoldersNextRenewalRepeatsIds() throws Exception {
        String ns = "window";
        WorkerAllocator l = allocator(ns, "l", 9);
        try {
            WorkerLease live = l.acquire();
            live = l.renew(live, report(System.currentTimeMillis() + 5_000, "l"));
            long lastOfA;
            try (IdGenerator a = start(ns, "host-a", "a", 7)) {
                IdChecks.burst(a, 1000);
                Thread.sleep(400);
                sql("CREATE TABLE copy_window AS SELECT * FROM ekko_worker_ids WHERE namespace = '" + ns + "'");
                live = l.renew(live, report(System.currentTimeMillis() + 10_000, "l")); // L reports past its copied mark
                lastOfA = IdChecks.burst(a, 5000);
            }
            sql("REPLACE INTO ekko_worker_ids SELECT * FROM copy_window");
            // A's restored row is free at once (its expiry is the copy's, long past): B acquires before L's next renewal
            try (IdGenerator b = start(ns, "host-b", "a", 7)) {
                long first = b.next();
                LeaseLostException seen = null;
                try {
                    l.renew(live, report(System.currentTimeMillis() + 10_000, "l"));
                } catch (LeaseLostException e) {
                    seen = e;
                }
                assertNotNull(seen, "L's renewal after the restore must fail");
                assertTrue(seen.getMessage().contains("went back"), seen.getMessage());
                long more = b.next(); // B is not stopped by L's detection
                assertTrue(Long.compareUnsigned(more, first) > 0);
                assertPast(b.layout(), lastOfA, first, "B acquired before L's next renewal detected the restore, trusted A's"
                        + " restored mark, and L's new generation did not stop it: IDs repeat");
            }
        } finally {
            l.close();
        }
    }
}
