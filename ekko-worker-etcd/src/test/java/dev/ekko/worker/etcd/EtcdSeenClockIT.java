package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.DisposableEtcd;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A claim compares etcd's revision with what the processes of its host saw of it (SeenClock, in the state directory): below
 * it means a snapshot was restored before any live holder's renewal noticed; the claim's mark is then a lower bound and a new
 * generation starts. The etcd side of what the chaos harness found on Redis (a process of a host whose other process had
 * renewed past the backup took a worker ID under the restored mark).
 */
class EtcdSeenClockIT {

    @TempDir
    Path dir;

    private DisposableEtcd etcd;

    @AfterEach
    void stop() {
        if (etcd != null) {
            etcd.close();
        }
    }

    private WorkerAllocator allocator(String host, int preferred) {
        createStateDirectory(dir.resolve(host));
        return new EtcdAllocatorProvider().create(AllocatorContext.builder().idc(1).workerIds(256).preferredWorkerId(preferred)
                .instance(host + "-" + preferred).host(host).leaseTtl(Duration.ofSeconds(60)).setting("ekko.etcd.endpoints",
                        etcd.endpoint()).setting("ekko.etcd.namespace", "seen").setting("ekko.etcd.timeout", "2s")
                .setting("ekko.state.dir", dir.resolve(host).toString()).build());
    }

    private static ClockReport report(long reservedUntil, String host) {
        return new ClockReport(System.currentTimeMillis(), reservedUntil, host, 1, host);
    }

    @Test
    void aClaimOnAHostThatSawTheRevisionHigherTreatsTheRestoredMarkAsALowerBound() throws Exception {
        etcd = DisposableEtcd.launch();
        long now = System.currentTimeMillis();
        WorkerAllocator first = allocator("host-z", 5);
        WorkerLease l0 = first.acquire();
        assertEquals(5, l0.workerId());
        l0 = first.renew(l0, report(now + 1_000, "host-z"));
        first.release(l0, report(now + 1_000, "host-z"));
        first.close();
        Path snapshot = etcd.saveSnapshot("early.db");
        WorkerAllocator holder = allocator("host-a", 5);
        WorkerLease h = holder.acquire();
        assertEquals(5, h.workerId());
        for (int i = 1; i <= 3; i++) {
            h = holder.renew(h, report(now + 5_000 * i, "host-a"));
        }
        holder.close();
        // Restored with etcd's default token: the same cluster ID, so the restored marks look current.
        etcd.restartFromSnapshot(snapshot, "etcd-cluster");
        WorkerAllocator second = allocator("host-a", 5);
        try {
            WorkerLease s = second.acquire();
            assertEquals(5, s.workerId(), "worker 5 is free in the restored data");
            assertNotEquals(Handover.Kind.MARK, s.handover().kind(), "the restored mark " + s.handover() + " was trusted, though a"
                    + " process of this host had seen etcd's revision above the restored one");
        } finally {
            second.close();
        }
        WorkerAllocator other = allocator("host-b", 5);
        try {
            WorkerLease o = other.acquire();
            assertNotEquals(Handover.Kind.MARK, o.handover().kind(), "after the new generation: " + o.handover());
        } finally {
            other.close();
        }
    }

    @Test
    void aRestartOnTheSameHostWithNothingRestoredStillTrustsItsMark() throws Exception {
        etcd = DisposableEtcd.launch();
        long now = System.currentTimeMillis();
        WorkerAllocator a = allocator("host-a", 6);
        WorkerLease l = a.acquire();
        for (int i = 1; i <= 3; i++) {
            l = a.renew(l, report(now + 1_000 * i, "host-a"));
        }
        a.release(l, report(now + 3_000, "host-a"));
        a.close();
        WorkerAllocator again = allocator("host-a", 6);
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
