package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.EkkoClock;
import dev.ekko.IdGenerator;
import dev.ekko.LeaseLostException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testkit.IdChecks;
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

/**
 * Review 5 of the Redis epoch counter (a renewal that gets an epoch no higher than before means the data went back in
 * place; the holder gives its lease up and writes a new generation).
 */
class RedisGoneBackReviewIT {

    private static final Duration TTL = Duration.ofSeconds(4);

    @TempDir
    Path dir;

    private DisposableRedis redis;

    @AfterEach
    void stop() {
        if (redis != null) {
            redis.close();
        }
    }

    /** A raw allocator on the fleet's namespace and IDC, whose renewals the test times itself. */
    private WorkerAllocator allocator(String host, int preferred) {
        return new RedisAllocatorProvider().create(AllocatorContext.builder().idc(FastGenerators.IDC).workerIds(256)
                .preferredWorkerId(preferred).instance(host).host(host).leaseTtl(Duration.ofSeconds(60))
                .setting("ekko.redis.uri", redis.uri()).setting("ekko.redis.namespace", "goneback").build());
    }

    private static ClockReport report(long reservedUntil, String host) {
        return new ClockReport(System.currentTimeMillis(), reservedUntil, host, 1, host);
    }

    private Map<String, byte[]> backup() {
        Map<String, byte[]> out = RedisBackup.withoutLeases(redis.uri());
        assertTrue(out.keySet().stream().anyMatch(k -> k.endsWith(":epoch")), out.keySet().toString());
        return out;
    }

    private void restore(Map<String, byte[]> backup) {
        RedisBackup.restoreInPlace(redis.uri(), backup);
    }

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

    private dev.ekko.Ekko.Builder fleet(String host) throws java.io.IOException {
        return FastGenerators.builder(redis.uri(), "goneback", Files.createDirectories(dir.resolve(host)), host).workerId(7)
                .leaseTtl(TTL).leaseMargin(Duration.ofSeconds(2)).maxClockSkew(Duration.ofSeconds(2));
    }

    /**
     * FINDING (fails on the current code). Claim (docs/redis.md, "Data replaced inside the running server"): with a live
     * holder, a backup restored into the running server is detected and the restored marks become lower bounds. Attack:
     * the detection happens only at the live holder's next renewal (up to one report interval, longer while a renewal is
     * retried), and the acquire script neither reads nor increments the epoch. A process that acquires in that window
     * (here host-b, started right after the restore, before the live holder L renews) trusts the restored, stale mark of
     * host-a's worker ID. L then detects the epoch going back and writes a new generation, but that does nothing to
     * host-b, which already holds the worker ID under a trusted mark and keeps issuing: its IDs repeat host-a's (host-a's
     * clock was 1.5 s ahead, within the tolerated skew). Suggested fix: a detection must also cover the holders that
     * acquired since the data went back: e.g. an acquire records the generation it trusted a mark under, and a renewal
     * of a lease whose handover was trusted under a generation that is no longer current gives the lease up; and, since
     * IDs issued before that renewal are already out, an acquire should not trust a mark (Handover.atLeast instead, or
     * hold the first issue) until a full report interval of the live holders' renewals has passed without the epoch going
     * back (e.g. the acquire reads the epoch and the first renewal confirms it rose by at least the number of live
     * leases), or document that the window exists.
     */
    @Test
    @Disabled("documented limit (docs/redis.md, data replaced in place): an acquire on a host that never saw the later epoch (host-b"
            + " here, a state directory of its own), between the restore and the first renewal of a live holder, trusts a restored"
            + " mark; the window is up to one report interval. A host that saw it is covered (RedisSeenClockIT)")
    void aHolderThatAcquiresBetweenTheRestoreAndTheLiveHoldersNextRenewalRepeatsIds() throws Exception {
        redis = DisposableRedis.launch();
        WorkerAllocator l = allocator("host-l", 8);
        try {
            WorkerLease live = l.acquire();
            assertEquals(8, live.workerId());
            live = l.renew(live, report(System.currentTimeMillis() + 5_000, "host-l"));
            IdGenerator a = fleet("host-a").clock(ahead(1_500)).build();
            a.next();
            Map<String, byte[]> backup = backup();
            Thread.sleep(TTL.toMillis() + 6_000);
            live = l.renew(live, report(System.currentTimeMillis() + 5_000, "host-l"));
            long[] fromA = issueFor(a, 2_500);
            live = l.renew(live, report(System.currentTimeMillis() + 5_000, "host-l")); // L's last renewal before the restore
            a.close();
            restore(backup);
            // host-b starts in the window before L's next renewal
            IdGenerator b = fleet("host-b").build();
            long[] fromB = issueFor(b, 300);
            LeaseLostException seen = null;
            try {
                l.renew(live, report(System.currentTimeMillis() + 5_000, "host-l"));
            } catch (LeaseLostException e) {
                seen = e;
            }
            assertNotNull(seen, "L's renewal after the restore must fail");
            assertTrue(seen.getMessage().contains("went back"), seen.getMessage());
            // L detected it and wrote a new generation; host-b keeps issuing under the stale mark it trusted
            long[] moreFromB = issueFor(b, 1_000);
            b.close();
            long[] allB = Arrays.copyOf(fromB, fromB.length + moreFromB.length);
            System.arraycopy(moreFromB, 0, allB, fromB.length, moreFromB.length);
            IdChecks.assertNoIdRepeats(a.layout(), Map.of("host-a (clock 1.5 s ahead)", fromA, "host-b (started in the window)",
                    allB));
        } finally {
            l.close();
        }
    }
}
