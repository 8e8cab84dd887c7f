package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.DisposableRedis;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An acquire compares the IDC's epoch with what the processes of its host saw of it (SeenClock, in the state directory):
 * below it means the data went back, before any live holder's renewal has noticed. Found by the chaos harness (seed 2):
 * a restore erased a live holder's lease, a process on a host whose other process had renewed past the backup acquired
 * that worker ID at once under the restored mark, and the two issued the same IDs until the holder's fence.
 */
class RedisSeenClockIT {

    @TempDir
    Path dir;

    private DisposableRedis redis;

    @AfterEach
    void stop() {
        if (redis != null) {
            redis.close();
        }
    }

    private WorkerAllocator allocator(String host, int preferred, Path stateDir) {
        AllocatorContext.Builder b = AllocatorContext.builder().idc(1).workerIds(256).preferredWorkerId(preferred).instance(host + "-"
                + preferred).host(host).leaseTtl(Duration.ofSeconds(60)).setting("ekko.redis.uri", redis.uri())
                .setting("ekko.redis.namespace", "seen");
        if (stateDir != null) {
            createStateDirectory(stateDir);
            b.setting("ekko.state.dir", stateDir.toString());
        }
        return new RedisAllocatorProvider().create(b.build());
    }

    private static ClockReport report(long reservedUntil, String host) {
        return new ClockReport(System.currentTimeMillis(), reservedUntil, host, 1, host);
    }

    /** Every key but the leases, as DUMP gives it. */
    private Map<String, byte[]> backup() {
        return RedisBackup.withoutLeases(redis.uri());
    }

    private void restore(Map<String, byte[]> backup) {
        RedisBackup.restoreInPlace(redis.uri(), backup);
    }

    @Test
    void anAcquireOnAHostThatSawTheEpochHigherTreatsTheRestoredMarkAsALowerBound() throws Exception {
        redis = DisposableRedis.launch();
        Path hostA = dir.resolve("host-a");
        long now = System.currentTimeMillis();
        // Worker 5 gets history (mark m0), then the backup is taken.
        WorkerAllocator first = allocator("host-z", 5, dir.resolve("host-z"));
        WorkerLease l0 = first.acquire();
        assertEquals(5, l0.workerId());
        l0 = first.renew(l0, report(now + 1_000, "host-z"));
        first.release(l0, report(now + 1_000, "host-z"));
        first.close();
        Map<String, byte[]> backup = backup();
        // A holder on host-a takes worker 5 and renews it past the backup (its mark m1 > m0), as a live holder does.
        WorkerAllocator holder = allocator("host-a", 5, hostA);
        WorkerLease h = holder.acquire();
        assertEquals(5, h.workerId());
        for (int i = 1; i <= 3; i++) {
            h = holder.renew(h, report(now + 5_000 * i, "host-a"));
        }
        // The backup is restored in place (the holder's lease is gone with it); before the holder renews again, another
        // process of host-a asks for worker 5.
        restore(backup);
        WorkerAllocator second = allocator("host-a", 5, hostA);
        try {
            WorkerLease s = second.acquire();
            assertEquals(5, s.workerId(), "worker 5 is free in the restored data");
            assertNotEquals(Handover.Kind.MARK, s.handover().kind(), "the restored mark " + s.handover() + " was trusted, though a"
                    + " process of this host had seen the epoch above the restored one: its holder may still issue past it");
            assertTrue(s.handover().markMillis() <= now + 1_000, s.handover().toString());
        } finally {
            second.close();
            holder.close();
        }
        // And the detection started a new generation: a process of another host (no memory of its own) gets lower bounds too.
        WorkerAllocator other = allocator("host-b", 5, dir.resolve("host-b"));
        try {
            WorkerLease o = other.acquire();
            assertNotEquals(Handover.Kind.MARK, o.handover().kind(), o.handover().toString());
        } finally {
            other.close();
        }
    }

    @Test
    void aRestartOnTheSameHostWithNothingRestoredStillTrustsItsMark() throws Exception {
        redis = DisposableRedis.launch();
        Path hostA = dir.resolve("host-a");
        long now = System.currentTimeMillis();
        WorkerAllocator a = allocator("host-a", 6, hostA);
        WorkerLease l = a.acquire();
        for (int i = 1; i <= 3; i++) {
            l = a.renew(l, report(now + 1_000 * i, "host-a"));
        }
        a.release(l, report(now + 3_000, "host-a"));
        a.close();
        WorkerAllocator again = allocator("host-a", 6, hostA);
        try {
            WorkerLease l2 = again.acquire();
            assertEquals(Handover.Kind.MARK, l2.handover().kind(), l2.handover().toString());
            assertEquals(now + 3_000, l2.handover().markMillis());
        } finally {
            again.close();
        }
    }

    /** The state directory, as the core creates it before a generator's first renewal (the allocator never creates it). */
    static void createStateDirectory(Path stateDir) {
        try {
            java.nio.file.Files.createDirectories(stateDir);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
