package dev.ekko.worker.redis;

import dev.ekko.testkit.IdChecks;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.EkkoClock;
import dev.ekko.IdGenerator;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.DisposableRedis;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * Review of #8: the incarnation (run_id + master_replid) only changes when the server process restarts or a replica is
 * promoted. Data replaced inside the running process (a backup restored with FLUSHALL + RESTORE, or replayed with
 * redis-cli --pipe; DEBUG RELOAD of an older RDB) keeps the incarnation, so an old history hash comes back stamped with
 * the running incarnation and its stale mark is handed over as a trusted Handover.mark, although ARCHITECTURE.md says a
 * mark from "another incarnation (restart, restore, failover)" is only Handover.atLeast.
 */
class RedisRestoreReviewIT {

    @TempDir
    Path dir;

    private DisposableRedis redis;

    @AfterEach
    void stop() {
        if (redis != null) {
            redis.close();
        }
    }

    private WorkerAllocator allocator(String host) {
        return new RedisAllocatorProvider().create(AllocatorContext.builder().idc(1).workerIds(256).preferredWorkerId(7)
                .instance(host).host(host).leaseTtl(Duration.ofSeconds(30)).setting("ekko.redis.uri", redis.uri())
                .setting("ekko.redis.namespace", "restore").build());
    }

    private static ClockReport report(long reservedUntil, String host) {
        return new ClockReport(System.currentTimeMillis(), reservedUntil, host, 1, host);
    }

    /** A backup of every key but the leases (they expire anyway), as DUMP gives it. */
    private Map<String, byte[]> backup() {
        Map<String, byte[]> out = RedisBackup.withoutLeases(redis.uri());
        assertTrue(out.keySet().stream().anyMatch(k -> k.contains(":history:")), out.keySet().toString());
        return out;
    }

    /** The operator restores the backup into the running server: FLUSHALL, then RESTORE of each key. No restart. */
    private void restore(Map<String, byte[]> backup) {
        RedisBackup.restoreInPlace(redis.uri(), backup);
    }

    @Test
    @Disabled("known limit (docs/redis.md, Not done): a backup loaded into the running server keeps its run_id and master_replid, so its marks look current; restore only into a restarted server")
    void aBackupRestoredIntoTheRunningServerHandsItsMarkOverOnlyAsALowerBound() throws Exception {
        redis = DisposableRedis.launch();
        long now = System.currentTimeMillis();
        WorkerAllocator a = allocator("host-a");
        WorkerLease lease = a.acquire();
        assertEquals(7, lease.workerId());
        a.renew(lease, report(now + 30_000, "host-a"));
        Map<String, byte[]> backup = backup();
        long reported = now + 90_000;
        a.renew(lease, report(reported, "host-a")); // host-a reported (and may issue up to) a later mark
        a.close(); // host-a crashes: its lease is not released
        restore(backup);
        WorkerLease next = allocator("host-b").acquire();
        assertEquals(7, next.workerId());
        Handover h = next.handover();
        assertTrue(h.kind() != Handover.Kind.MARK || h.markMillis() >= reported,
                "after a backup was restored into the running server, the new holder trusts " + h + " although host-a reported "
                        + java.time.Instant.ofEpochMilli(reported) + " (must be Handover.atLeast, or a mark at or past the report)");
    }

    /** A clock a fixed amount ahead of the system's (within the tolerated skew). */
    private static EkkoClock ahead(long millis) {
        return new EkkoClock() {
            @Override
            public long millis() {
                return System.currentTimeMillis() + millis;
            }

            @Override
            public long nanos() {
                return System.nanoTime();
            }
        };
    }

    private static long[] issueFor(IdGenerator g, long millis) {
        long[] ids = new long[1 << 16];
        int n = 0;
        long end = System.nanoTime() + millis * 1_000_000;
        while (System.nanoTime() < end) {
            if (n == ids.length) {
                ids = Arrays.copyOf(ids, n * 2);
            }
            ids[n++] = g.next();
        }
        return Arrays.copyOf(ids, n);
    }

    private static final Duration TTL = Duration.ofSeconds(4);

    private dev.ekko.Ekko.Builder fleet(String host) throws java.io.IOException {
        // A 2 s command timeout, not FastGenerators' 500 ms: this disposable server fsyncs every write (appendfsync always),
        // and a fresh-clone run saw it stall past 500 ms, failing a start's renewal and the live holder's at the same moment;
        // what these tests claim is the restore's detection, not the server's latency.
        return FastGenerators.builder(redis.uri(), "restore", Files.createDirectories(dir.resolve(host)), host).workerId(7)
                .leaseTtl(TTL).leaseMargin(Duration.ofSeconds(2)).maxClockSkew(Duration.ofSeconds(2)).setting("ekko.redis.timeout", "2s");
    }

    @Test
    @Disabled("known limit (docs/redis.md, Not done): a backup loaded into the running server keeps its run_id and master_replid, so its marks look current; restore only into a restarted server")
    void aBackupRestoredIntoTheRunningServerLetsTheNextHolderRepeatIds() throws Exception {
        redis = DisposableRedis.launch();
        // host-a's clock is 1.5 s ahead: within the tolerated skew of 2 s (the margin must be at least the skew).
        IdGenerator a = fleet("host-a").clock(ahead(1_500)).build();
        a.next();
        Map<String, byte[]> backup = backup(); // e.g. a periodic DUMP-based backup
        Thread.sleep(TTL.toMillis() + 6_000); // the backed-up mark (host-a's reservation then) is now well in the past
        long[] fromA = issueFor(a, 2_500);
        a.close(); // clean: released with the last millisecond it used (1.5 s ahead of the real time)
        restore(backup);
        IdGenerator b = fleet("host-b").build();
        long[] fromB = issueFor(b, 1_000);
        b.close();
        IdChecks.assertNoIdRepeats(a.layout(), Map.of("host-a (clock 1.5 s ahead)", fromA, "host-b (after the restore)", fromB));
    }

    /**
     * The same restore while another holder, L, is live (the case of the chaos issue's hole: holders running while the data
     * is replaced in place). Every renewal increments the IDC's epoch counter; L's next renewal gets a value no higher than
     * one it got before, gives its lease up and writes a new generation, which is part of the incarnation marks are trusted
     * under: the restored marks are lower bounds, and host-b starts past host-a's IDs. (Without the epoch the same sequence
     * repeats IDs, as the disabled test above shows.)
     */
    @Test
    void aBackupRestoredIntoTheRunningServerUnderALiveHolderIsDetected() throws Exception {
        redis = DisposableRedis.launch();
        try (IdGenerator live = fleet("host-l").workerId(8).build()) {
            live.next();
            IdGenerator a = fleet("host-a").clock(ahead(1_500)).build();
            a.next();
            Map<String, byte[]> backup = backup();
            Thread.sleep(TTL.toMillis() + 6_000);
            long[] fromA = issueFor(a, 2_500);
            a.close();
            restore(backup);
            long deadline = System.nanoTime() + 10_000_000_000L;
            boolean detected = false;
            while (!detected && System.nanoTime() < deadline) {
                try {
                    live.next();
                } catch (dev.ekko.LeaseLostException e) {
                    detected = e.getMessage().contains("went back"); // its mark or the epoch counter
                }
                Thread.sleep(20);
            }
            assertTrue(detected, "the live holder did not see the data go back");
            IdGenerator b = fleet("host-b").build();
            long[] fromB = issueFor(b, 1_000);
            b.close();
            IdChecks.assertNoIdRepeats(a.layout(), Map.of("host-a (clock 1.5 s ahead)", fromA, "host-b (after the restore)", fromB));
        }
    }

    /**
     * The epoch counter is shared by every holder of the IDC: after a restore of a backup younger than one report interval,
     * the other holders' renewals may lift it past what a holder saw before that holder renews (found by the review of
     * this detection). Its own worker ID's mark still went back: only its holder writes it while it holds it, never lower.
     * Here the other holders' increments are a hundred INCRs of the counter; the holder's renewal gives its lease up.
     */
    @Test
    void aHolderWhoseEpochWasLiftedByOthersStillSeesItsMarkGoBack() throws Exception {
        redis = DisposableRedis.launch();
        WorkerAllocator l = allocator("host-l");
        long now = System.currentTimeMillis();
        WorkerLease lease = l.acquire();
        lease = l.renew(lease, report(now + 10_000, "host-l"));
        Map<String, byte[]> backup = backup();
        lease = l.renew(lease, report(now + 20_000, "host-l"));
        restore(backup);
        try (Jedis j = new Jedis(java.net.URI.create(redis.uri()))) {
            String epoch = new RedisKeys("restore", 1).epoch();
            for (int i = 0; i < 100; i++) {
                j.incr(epoch);
            }
        }
        WorkerLease held = lease;
        dev.ekko.LeaseLostException e = org.junit.jupiter.api.Assertions.assertThrows(dev.ekko.LeaseLostException.class,
                () -> l.renew(held, report(now + 30_000, "host-l")));
        assertTrue(e.getMessage().contains("the mark of worker=7 went back from " + (now + 20_000)), e.getMessage());
        l.close();
    }
}
