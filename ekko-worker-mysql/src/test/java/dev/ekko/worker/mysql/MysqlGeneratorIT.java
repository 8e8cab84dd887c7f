package dev.ekko.worker.mysql;

import dev.ekko.testkit.IdChecks;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import dev.ekko.testkit.Issuer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real generators on the mysql allocator, end to end, with short timings. */
class MysqlGeneratorIT {

    private static SharedMysql db;
    private final String namespace = "gen-" + UUID.randomUUID().toString().substring(0, 8);

    @TempDir
    Path stateDir;

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(MysqlGeneratorIT.class);
    }

    @AfterAll
    static void dropDatabase() {
        db.close();
    }

    @Test
    void aGeneratorIssuesAndARestartGetsItsWorkerIdBackAtOnce() {
        long last;
        int worker;
        try (IdGenerator ids = FastGenerators.builder(db.settings(namespace), stateDir.resolve("a"), "web-1").build()) {
            long a = ids.next();
            last = ids.next();
            assertTrue(Long.compareUnsigned(last, a) > 0);
            worker = ids.layout().decode(last).worker();
        }
        long start = System.nanoTime();
        // Another state directory: only the database's mark protects the restart.
        try (IdGenerator ids = FastGenerators.builder(db.settings(namespace), stateDir.resolve("b"), "web-1").build()) {
            long next = ids.next();
            assertEquals(worker, ids.layout().decode(next).worker());
            assertTrue(Long.compareUnsigned(next, last) > 0, "issued at or below the previous holder's last ID");
        }
        long tookMillis = (System.nanoTime() - start) / 1_000_000;
        assertTrue(tookMillis < FastGenerators.TTL.toMillis(), "a clean restart waited " + tookMillis + " ms");
    }

    @Test
    void anApplicationsOwnDataSourceWorksThroughAllocatorProvider() {
        try (HikariDataSource pool = db.pool(2);
                IdGenerator ids = Ekko.newBuilder().allocatorProvider(MysqlAllocators.provider(pool))
                        .setting("ekko.mysql.namespace", namespace).idc(2).stateDirectory(stateDir).leaseTtl(FastGenerators.TTL)
                        .leaseMargin(FastGenerators.MARGIN).reportInterval(FastGenerators.REPORT)
                        .reservation(FastGenerators.RESERVATION).maxClockSkew(FastGenerators.MAX_SKEW).build()) {
            long a = ids.next();
            assertTrue(Long.compareUnsigned(ids.next(), a) > 0);
            assertEquals(2, ids.layout().decode(a).idc());
        }
    }

    @Test
    void theTableEmptiedUnderLiveHoldersRepeatsNoId() throws Exception {
        List<Issuer> issuers = new ArrayList<>();
        List<IdGenerator> generators = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                IdGenerator g = FastGenerators.builder(db.settings(namespace), stateDir.resolve("s" + i), "i-" + i).build();
                generators.add(g);
                issuers.add(new Issuer("i-" + i, g));
            }
            Issuer.await("every issuer issued", Duration.ofSeconds(10), () -> issuers.stream().allMatch(x -> x.count() > 100));
            db.execute("DELETE FROM ekko_worker_ids WHERE namespace = '" + namespace + "'");
            Issuer.await("every issuer lost its lease", Duration.ofSeconds(10), () -> issuers.stream().allMatch(x -> x.lostCount() > 0));
            int[] before = issuers.stream().mapToInt(Issuer::count).toArray();
            Issuer.await("every issuer issued again", Duration.ofSeconds(20), () -> {
                for (int i = 0; i < before.length; i++) {
                    if (issuers.get(i).count() <= before[i] + 100) {
                        return false;
                    }
                }
                return true;
            });
        } finally {
            for (Issuer x : issuers) {
                x.stop();
            }
            generators.forEach(IdGenerator::close);
        }
        Map<String, long[]> byIssuer = new LinkedHashMap<>();
        for (int i = 0; i < issuers.size(); i++) {
            assertTrue(issuers.get(i).unexpected().isEmpty(), "unexpected: " + issuers.get(i).unexpected());
            byIssuer.put("i-" + i, issuers.get(i).ids());
        }
        IdChecks.assertNoIdRepeats(generators.get(0).layout(), byIssuer);
    }
}
