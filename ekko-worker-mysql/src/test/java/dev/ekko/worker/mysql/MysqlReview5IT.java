package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.EkkoException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Fifth adversarial review of ekko-worker-mysql (after 5f75166: a release of an expired lease only raises the mark and keeps
 * its label; missing fleet settings recorded by one autocommit INSERT IGNORE, then compared in a new run; the acquire that
 * notices a dump restore writes the new generation without demoting), against a real MariaDB. Each test asserts what
 * docs/mysql.md and ARCHITECTURE.md promise; a failing one is a finding, a passing one a claim that held.
 */
class MysqlReview5IT {

    private static SharedMysql db;
    private final String namespace = "review5-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<WorkerAllocator> opened = Collections.synchronizedList(new ArrayList<>());

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(MysqlReview5IT.class);
    }

    @AfterAll
    static void dropDatabase() {
        db.close();
    }

    @AfterEach
    void closeAll() {
        opened.forEach(a -> {
            try {
                a.close();
            } catch (RuntimeException e) {
                // closing after a failed test
            }
        });
    }

    private AllocatorContext.Builder context(String instance, Duration ttl) {
        return AllocatorContext.builder().idc(3).workerIds(256).instance(instance).host("host-" + instance).leaseTtl(ttl)
                .settings(db.settings(namespace)).setting("ekko.mysql.timeout", "2s");
    }

    private WorkerAllocator allocator(AllocatorContext context) {
        WorkerAllocator a = new MysqlAllocatorProvider().create(context);
        opened.add(a);
        return a;
    }

    private static ClockReport report(long reserved, String instance) {
        return new ClockReport(System.currentTimeMillis(), reserved, "host-" + instance, 42, instance);
    }

    private String row(String table, int worker, String column) throws Exception {
        return db.string("SELECT COALESCE(" + column + ", 'NULL') FROM " + table + " WHERE namespace = '" + namespace
                + "' AND idc = 3 AND worker = " + worker);
    }

    // ------------------------------------------------------------------ findings

    /**
     * docs/mysql.md, "Schema": a DBA may create the tables (a user without CREATE uses them), and the module "refuses tables
     * that lack a column or have one of another type". The check compares information_schema DATA_TYPE only, so an
     * {@code expires_at DATETIME} (no fractional seconds, the most common way to write it by hand) passes. MariaDB then
     * truncates {@code UTC_TIMESTAMP(6) + INTERVAL ttl MICROSECOND} to the whole second: the database lets the lease expire up
     * to a second before NOW + TTL, while the holder's fence (invariant 6) is grantedAtNanos + TTL - margin, margin as low as
     * 100 ms. Another process takes the worker ID while the holder may still issue: two live leases for one worker ID.
     * (IDs stay unique as long as the holder's reported mark reaches the next holder; the premise of invariant 6, "the
     * coordinator's expiry cannot come earlier", is broken.)
     */
    @Test
    void aHandMadeTableWhoseExpiryDropsTheFractionIsRefusedOrStillNeverExpiresBeforeTheFence() throws Exception {
        String table = "prec_ids";
        MysqlSchema schema = new MysqlSchema(table);
        List<String> ddl = schema.ddl();
        // The documented DDL, typed by a DBA with DATETIME instead of DATETIME(6) for the expiry.
        db.execute(ddl.get(0).replace("expires_at      DATETIME(6)", "expires_at      DATETIME"));
        db.execute(ddl.get(1));
        db.execute(ddl.get(2));
        Duration ttl = Duration.ofMillis(1500);
        long marginMillis = 100; // the smallest ekko.worker.lease.margin the builder accepts
        WorkerAllocator first = allocator(context("first", ttl).setting("ekko.mysql.table", table).preferredWorkerId(5).build());
        WorkerAllocator second = allocator(context("second", ttl).setting("ekko.mysql.table", table).preferredWorkerId(5).build());
        WorkerLease lease = null;
        long cut = 0;
        EkkoException refused = null;
        for (int attempt = 0; attempt < 20; attempt++) {
            try {
                lease = first.acquire();
            } catch (EkkoException e) {
                refused = e; // the fix: the table is refused for its shape
                break;
            }
            cut = ttl.toMillis() - db.count("SELECT TIMESTAMPDIFF(MICROSECOND, granted_at, expires_at) DIV 1000 FROM " + table
                    + " WHERE namespace = '" + namespace + "' AND idc = 3 AND worker = 5");
            if (cut >= 400) {
                break;
            }
            first.release(lease, report(System.currentTimeMillis(), "first"));
            lease = null;
            Thread.sleep(37);
        }
        if (refused != null) {
            assertTrue(refused.getMessage().contains("expires_at"), "refused, naming the column: " + refused.getMessage());
            return;
        }
        assertNotNull(lease);
        assertEquals(5, lease.workerId());
        long fence = lease.grantedAtNanos() + (ttl.toMillis() - marginMillis) * 1_000_000;
        // The other process asks as soon as the database calls the row free.
        while (db.count("SELECT COUNT(*) FROM " + table + " WHERE worker = 5 AND expires_at <= UTC_TIMESTAMP(6)") == 0) {
            Thread.sleep(5);
        }
        WorkerLease other = second.acquire();
        long tookAt = System.nanoTime();
        assertTrue(other.workerId() != 5 || tookAt >= fence, "a table made by hand with expires_at DATETIME (DATA_TYPE datetime,"
                + " accepted by the shape check) stored the expiry " + cut + " ms before NOW + TTL (" + ttl.toMillis() + " ms): another"
                + " process acquired worker 5 " + (fence - tookAt) / 1_000_000 + " ms before the holder's fence deadline"
                + " (grantedAtNanos + TTL - margin " + marginMillis + " ms), so two leases of worker 5 were live at once");
    }

    // ------------------------------------------------------------------ probes (claims that held)

    /**
     * (a) The release of an expired lease that nobody took: MariaDB assigns left to right, so both IFs see the lease's
     * expires_at before it is set to NULL. A final report below the mark must not lower it, and the label stays what it was:
     * the current generation (the mark is the holder's own, raised only, still trusted), or NULL after a new generation
     * demoted it (still a lower bound). A live lease's release lowers the mark to max(base mark, final report) and labels it
     * with the current generation.
     */
    @Test
    void aReleaseOfAnExpiredLeaseNobodyTookOnlyRaisesTheMarkAndKeepsItsLabel() throws Exception {
        long now = System.currentTimeMillis();
        // Expired, not taken, label current: the mark stays, trusted.
        WorkerAllocator a = allocator(context("a", Duration.ofMillis(1000)).preferredWorkerId(21).build());
        WorkerLease la = a.acquire();
        long high = now + 120_000;
        la = a.renew(la, report(high, "a"));
        String generation = db.string("SELECT generation FROM ekko_worker_ids_meta WHERE id = 1");
        assertEquals(generation, row("ekko_worker_ids", 21, "mark_generation"));
        // Expired, not taken, label demoted by a new generation: it stays demoted.
        WorkerAllocator b = allocator(context("b", Duration.ofMillis(1000)).preferredWorkerId(22).build());
        WorkerLease lb = b.acquire();
        lb = b.renew(lb, report(high, "b"));
        // Live, released after the same new generation: lowered to max(base mark, final), labelled with the new one.
        WorkerAllocator c = allocator(context("c", Duration.ofSeconds(30)).preferredWorkerId(23).build());
        WorkerLease lc = c.acquire();
        lc = c.renew(lc, report(high, "c"));
        Thread.sleep(1200); // a's and b's leases expire by the database's clock; c's does not
        a.release(la, report(now + 1000, "a")); // a final report far below the mark
        assertEquals(Long.toString(high), row("ekko_worker_ids", 21, "mark"), "an expired lease's release lowered the mark");
        assertEquals(generation, row("ekko_worker_ids", 21, "mark_generation"), "an expired lease's release relabelled the mark");
        NewGeneration g = MysqlAllocators.startNewGeneration(db.settings(namespace));
        assertEquals("NULL", row("ekko_worker_ids", 22, "mark_generation"));
        b.release(lb, report(now + 1000, "b"));
        c.release(lc, report(now + 2000, "c"));

        assertEquals(Long.toString(high), row("ekko_worker_ids", 22, "mark"), "an expired lease's release lowered the mark");
        assertEquals("NULL", row("ekko_worker_ids", 22, "mark_generation"), "an expired lease's release relabelled a demoted mark");
        assertEquals(Long.toString(now + 2000), row("ekko_worker_ids", 23, "mark"), "a live lease's release sets max(base, final)");
        assertEquals(g.current(), row("ekko_worker_ids", 23, "mark_generation"));

        WorkerAllocator next = allocator(context("next", Duration.ofSeconds(5)).preferredWorkerId(22).build());
        WorkerLease got = next.acquire();
        assertEquals(22, got.workerId());
        assertEquals(Handover.Kind.UNKNOWN, got.handover().kind(), "a demoted mark is a lower bound: " + got.handover());
        assertEquals(high, got.handover().markMillis());
        WorkerAllocator next21 = allocator(context("next21", Duration.ofSeconds(5)).preferredWorkerId(21).build());
        Handover h21 = next21.acquire().handover();
        assertTrue(h21.kind() != Handover.Kind.MARK, "worker 21's mark is of the old generation now: " + h21);
    }

    /**
     * (b) Many processes of two fleet-setting groups start at once on a namespace with nothing recorded: each records its
     * settings with one autocommit INSERT IGNORE in key order, then compares in a new run. Exactly one group gets through
     * (every one of its processes), the other is refused to the last process, and the record is the winner's whole set,
     * never a mix.
     */
    @Test
    void processesOfTwoSettingsRacingOnAnEmptyRecordLetExactlyOneGroupThrough() throws Exception {
        for (int round = 0; round < 3; round++) {
            String ns = namespace + "-" + round;
            Map<String, String> one = fleet("5s", "2020-01-01T00:00:00Z");
            Map<String, String> two = fleet("7s", "2021-01-01T00:00:00Z");
            int each = 6;
            CountDownLatch go = new CountDownLatch(1);
            List<CompletableFuture<Object>> outcomes = new ArrayList<>();
            for (int i = 0; i < 2 * each; i++) {
                Map<String, String> fleet = i % 2 == 0 ? one : two;
                WorkerAllocator a = allocator(context("p" + i, Duration.ofSeconds(5)).setting("ekko.mysql.namespace", ns)
                        .fleetSettings(fleet).build());
                outcomes.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        go.await();
                        return a.acquire();
                    } catch (RuntimeException e) {
                        return e;
                    } catch (InterruptedException e) {
                        return new IllegalStateException(e);
                    }
                }));
            }
            Thread.sleep(200);
            go.countDown();
            int[] granted = new int[2];
            int[] refused = new int[2];
            List<String> other = new ArrayList<>();
            for (int i = 0; i < outcomes.size(); i++) {
                Object o = outcomes.get(i).get(60, TimeUnit.SECONDS);
                if (o instanceof WorkerLease) {
                    granted[i % 2]++;
                } else if (o instanceof EkkoException e && e.getMessage().startsWith("refusing to acquire")) {
                    refused[i % 2]++;
                } else {
                    other.add(String.valueOf(o));
                }
            }
            assertTrue(other.isEmpty(), "round " + round + ": failures other than a refusal: " + other);
            assertTrue(granted[0] == each && refused[1] == each || granted[1] == each && refused[0] == each, "round " + round
                    + ": exactly one group must get through: group one " + granted[0] + " granted / " + refused[0] + " refused,"
                    + " group two " + granted[1] + " / " + refused[1]);
            Map<String, String> winner = granted[0] == each ? one : two;
            Map<String, String> recorded = new TreeMap<>();
            try (Connection c = db.connect(); Statement s = c.createStatement();
                    var r = s.executeQuery("SELECT name, value FROM ekko_worker_ids_settings WHERE namespace = '" + ns
                            + "' AND idc = 3 AND name NOT LIKE 'first.%'")) {
                while (r.next()) {
                    recorded.put(r.getString(1), r.getString(2));
                }
            }
            assertEquals(winner, recorded, "round " + round + ": the record is the winner's whole set");
        }
    }

    private static Map<String, String> fleet(String ttl, String epoch) {
        Map<String, String> m = new TreeMap<>();
        m.put("ekko.clock.max.lead", "0ms");
        m.put("ekko.clock.max.skew", "1s");
        m.put("ekko.epoch", epoch);
        m.put("ekko.positive", "false");
        m.put("ekko.product.bits", "0");
        m.put("ekko.worker.lease.ttl", ttl);
        return m;
    }

    /**
     * (c) The acquire that notices a dump restore writes a new generation without demoting: the claim is that the restored
     * rows' labels differ from it. The hardest case for it: the dump was taken right after a new generation (the holders had
     * relabelled their rows with it), and only the worker-ID table is restored, so <table>_meta still holds that very
     * generation and the restored rows carry it. The noticing acquire replaces it; the restored mark is a lower bound for
     * every later acquire, and a holder whose token came back with the dump carries on.
     */
    @Test
    void aWorkerTableRestoredAloneFromADumpOfTheCurrentGenerationIsStillALowerBound() throws Exception {
        NewGeneration g = MysqlAllocators.startNewGeneration(db.settings(namespace));
        WorkerAllocator first = allocator(context("first", Duration.ofMillis(1500)).preferredWorkerId(31).build());
        WorkerLease lease = first.acquire();
        long now = System.currentTimeMillis();
        lease = first.renew(lease, report(now + 1000, "first"));
        WorkerAllocator live = allocator(context("live", Duration.ofSeconds(30)).preferredWorkerId(32).build());
        WorkerLease liveLease = live.acquire();
        liveLease = live.renew(liveLease, report(now + 1000, "live"));
        assertEquals(g.current(), row("ekko_worker_ids", 31, "mark_generation"));
        String backup = "backup_" + UUID.randomUUID().toString().substring(0, 8);
        db.execute("CREATE TABLE " + backup + " AS SELECT * FROM ekko_worker_ids"); // the dump, right after the generation
        lease = first.renew(lease, report(now + 60_000, "first"));
        long lastUsed = now + 30_000;
        first.release(lease, report(lastUsed, "first"));
        Thread.sleep(1700); // the restored lease of worker 31 has expired; the creation time is another second

        try (Connection c = db.connect(); Statement s = c.createStatement()) {
            s.execute("SET SESSION lock_wait_timeout = 5");
            s.execute("DROP TABLE IF EXISTS ekko_worker_ids");
            s.execute(new MysqlSchema("ekko_worker_ids").ddl().get(0).replace("IF NOT EXISTS ", ""));
            s.execute("INSERT INTO ekko_worker_ids SELECT * FROM " + backup);
        }
        assertEquals(g.current(), db.string("SELECT generation FROM ekko_worker_ids_meta WHERE id = 1"), "meta not restored");
        WorkerAllocator next = allocator(context("next", Duration.ofSeconds(5)).preferredWorkerId(31).build());
        WorkerLease got = next.acquire();
        assertEquals(31, got.workerId());
        Handover h = got.handover();
        assertTrue(h.kind() != Handover.Kind.MARK || h.markMillis() >= lastUsed, "a worker-ID table restored alone from a dump"
                + " taken in the current generation gave the next holder " + h + ", the restored mark, as trusted; the previous"
                + " holder used up to " + Instant.ofEpochMilli(lastUsed));
        // The live holder's token came back with the dump (its lease still live): it carries on, and its mark is trusted again.
        liveLease = live.renew(liveLease, report(now + 90_000, "live"));
        String current = db.string("SELECT generation FROM ekko_worker_ids_meta WHERE id = 1");
        assertTrue(!current.equals(g.current()), "the restore was noticed");
        assertEquals(current, row("ekko_worker_ids", 32, "mark_generation"));
    }
}
