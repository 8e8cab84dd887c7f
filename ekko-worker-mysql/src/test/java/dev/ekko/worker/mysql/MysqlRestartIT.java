package dev.ekko.worker.mysql;

import dev.ekko.testkit.IdChecks;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.IdGenerator;
import dev.ekko.testkit.Issuer;
import dev.ekko.testsupport.DisposableMariaDb;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A MariaDB of the test's own, killed under running generators: restarted with its data, and stopped for longer. */
class MysqlRestartIT {

    @TempDir
    Path stateDir;

    private static Map<String, String> settings(DisposableMariaDb db) {
        return Map.of("ekko.mysql.url", db.jdbcUrl(), "ekko.mysql.user", db.user(), "ekko.mysql.password", db.password());
    }

    private static void checkNoRepeats(List<Issuer> issuers, List<IdGenerator> generators) {
        Map<String, long[]> byIssuer = new LinkedHashMap<>();
        for (int i = 0; i < issuers.size(); i++) {
            assertTrue(issuers.get(i).unexpected().isEmpty(), "unexpected: " + issuers.get(i).unexpected());
            byIssuer.put("i-" + i, issuers.get(i).ids());
        }
        IdChecks.assertNoIdRepeats(generators.get(0).layout(), byIssuer);
    }

    @Test
    void aDatabaseRestartedWithItsDataLetsHoldersCarryOn() throws Exception {
        try (DisposableMariaDb db = DisposableMariaDb.launch()) {
            List<Issuer> issuers = new ArrayList<>();
            List<IdGenerator> generators = new ArrayList<>();
            try {
                for (int i = 0; i < 2; i++) {
                    // A longer lease than FastGenerators': the restart must fit in TTL - margin - report interval.
                    IdGenerator g = FastGenerators.builder(settings(db), stateDir.resolve("s" + i), "i-" + i)
                            .leaseTtl(Duration.ofSeconds(8)).leaseMargin(Duration.ofSeconds(1)).build();
                    generators.add(g);
                    issuers.add(new Issuer("i-" + i, g));
                }
                Issuer.await("every issuer issued", Duration.ofSeconds(20), () -> issuers.stream().allMatch(x -> x.count() > 100));
                db.kill();
                db.start();
                int[] before = issuers.stream().mapToInt(Issuer::count).toArray();
                Thread.sleep(2000); // several report intervals on the restarted server
                Issuer.await("every issuer issued on", Duration.ofSeconds(10), () -> {
                    for (int i = 0; i < before.length; i++) {
                        if (issuers.get(i).count() <= before[i] + 100) {
                            return false;
                        }
                    }
                    return true;
                });
                for (Issuer x : issuers) {
                    assertEquals(0, x.lostCount(), "a holder stopped although its lease outlived the restart");
                }
            } finally {
                for (Issuer x : issuers) {
                    x.stop();
                }
                generators.forEach(IdGenerator::close);
            }
            checkNoRepeats(issuers, generators);
        }
    }

    @Test
    void aDatabaseStoppedPastTheFenceStopsHoldersAndTheyAcquireAgainWhenItReturns() throws Exception {
        try (DisposableMariaDb db = DisposableMariaDb.launch()) {
            List<Issuer> issuers = new ArrayList<>();
            List<IdGenerator> generators = new ArrayList<>();
            try {
                for (int i = 0; i < 2; i++) {
                    IdGenerator g = FastGenerators.builder(settings(db), stateDir.resolve("s" + i), "i-" + i).build();
                    generators.add(g);
                    issuers.add(new Issuer("i-" + i, g));
                }
                Issuer.await("every issuer issued", Duration.ofSeconds(20), () -> issuers.stream().allMatch(x -> x.count() > 100));
                long stoppedAt = System.nanoTime();
                db.stop();
                Issuer.await("every issuer fenced", Duration.ofSeconds(10), () -> issuers.stream().allMatch(x -> x.lostCount() > 0));
                for (Issuer x : issuers) {
                    assertTrue(x.firstLostNanos() - stoppedAt < FastGenerators.TTL.toNanos(), "issued past the lease TTL");
                }
                Thread.sleep(FastGenerators.TTL.toMillis()); // the leases expire by the database's clock meanwhile
                db.start();
                int[] before = issuers.stream().mapToInt(Issuer::count).toArray();
                Issuer.await("every issuer issued again", Duration.ofSeconds(30), () -> {
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
            checkNoRepeats(issuers, generators);
        }
    }
}
