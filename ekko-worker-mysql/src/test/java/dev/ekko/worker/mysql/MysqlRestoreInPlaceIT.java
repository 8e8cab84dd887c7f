package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import dev.ekko.LeaseLostException;
import dev.ekko.testkit.IdChecks;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The worker-ID rows restored in place from an older copy (a logical restore into the existing table, which keeps its
 * creation time, so the generation check does not see it) while a holder, L, is live. A, in bounded-lead mode (IDs up to
 * 5 s ahead), issues past the copy's marks and closes. L's next renewal finds its row's mark below what it last reported,
 * gives its lease up and starts a new generation: B, the same instance as A on another host, takes A's worker ID back
 * past A's last ID. (Without the check the same sequence trusts A's restored mark.)
 */
class MysqlRestoreInPlaceIT {

    private static final Duration LEAD = Duration.ofSeconds(5);
    private static SharedMysql db;

    @TempDir
    Path dir;

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(MysqlRestoreInPlaceIT.class);
    }

    @AfterAll
    static void dropDatabase() {
        db.close();
    }

    private IdGenerator start(String host, String instance) {
        return FastGenerators.builder(db.settings("inplace"), dir.resolve(host), instance).maxLead(LEAD)
                .hostLockDirectory(dir.resolve(host + "-locks")).build();
    }


    private static void sql(String statement) throws Exception {
        try (Connection c = db.connect(); Statement s = c.createStatement()) {
            s.execute(statement);
        }
    }

    @Test
    void rowsRestoredInPlaceUnderALiveHolderAreDetected() throws Exception {
        try (IdGenerator live = start("host-l", "l")) {
            live.next();
            long lastOfA;
            try (IdGenerator a = start("host-a", "a")) {
                IdChecks.burst(a, 1000);
                Thread.sleep(400); // renewals record marks that cover the lead
                sql("CREATE TABLE backup_rows AS SELECT * FROM ekko_worker_ids");
                lastOfA = IdChecks.burst(a, 5000);
            }
            sql("REPLACE INTO ekko_worker_ids SELECT * FROM backup_rows");
            long deadline = System.nanoTime() + 10_000_000_000L;
            boolean detected = false;
            while (!detected && System.nanoTime() < deadline) {
                try {
                    live.next();
                } catch (LeaseLostException e) {
                    detected = e.getMessage().contains("went back");
                }
                Thread.sleep(20);
            }
            assertTrue(detected, "the live holder did not see its row go back");
            Thread.sleep(FastGenerators.TTL.toMillis() + 1000); // A's restored lease, if any, has expired
            try (IdGenerator b = start("host-b", "a")) {
                long first = b.next();
                Layout layout = b.layout();
                assertEquals(layout.decode(lastOfA).worker(), layout.decode(first).worker(), "B took A's worker ID back");
                assertTrue(Long.compareUnsigned(first, lastOfA) > 0, "B's first ID " + layout.decode(first) + " is not past A's last "
                        + layout.decode(lastOfA) + ": B trusted a mark restored in place, IDs repeat");
            }
        }
    }
}
