package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.DisposableRedis;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * Redis restarted with its data from disk, which may be older than what holders last reported (an old
 * snapshot): a handover mark written before the restart is not trusted, so the next holder waits out the
 * longest lease an earlier holder could still hold instead of starting past a stale mark.
 */
class RedisRestartIT {

    @TempDir
    Path stateDir;

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
                .setting("ekko.redis.namespace", "restart").setting("ekko.state.dir", stateDir.toString()).build());
    }

    private static ClockReport report(long reservedUntil, String host) {
        return new ClockReport(System.currentTimeMillis(), reservedUntil, host, 1, host);
    }

    /** Deletes worker 7's lease, as loading a snapshot taken before the lease was granted (or renewed in time) does. */
    private void dropLease() {
        try (Jedis jedis = new Jedis(java.net.URI.create(redis.uri()))) {
            assertEquals(1, jedis.del(new RedisKeys("restart", 1).lease(7)));
        }
    }

    @Test
    void aMarkFromTheSameServerIncarnationIsHandedOver() throws Exception {
        redis = DisposableRedis.launch();
        long reserved = System.currentTimeMillis() + 60_000;
        WorkerAllocator a = allocator("host-a");
        WorkerLease lease = a.acquire();
        a.renew(lease, report(reserved, "host-a"));
        dropLease();
        WorkerLease next = allocator("host-b").acquire();
        assertEquals(7, next.workerId());
        assertEquals(Handover.mark(reserved).toString(), next.handover().toString());
        a.close();
    }

    @Test
    void aMarkWrittenBeforeTheServerRestartedIsNotTrusted() throws Exception {
        redis = DisposableRedis.launch();
        long reserved = System.currentTimeMillis() + 60_000;
        WorkerAllocator a = allocator("host-a");
        WorkerLease lease = a.acquire();
        a.renew(lease, report(reserved, "host-a"));
        a.close();
        redis.stop();
        redis.start(); // same data, new incarnation
        dropLease();
        WorkerAllocator b = allocator("host-b");
        WorkerLease next = b.acquire();
        assertEquals(7, next.workerId());
        assertEquals(Handover.Kind.UNKNOWN, next.handover().kind(), next.handover().toString());
        // The old mark still bounds what this holder may release: history never goes below it.
        b.release(next, report(System.currentTimeMillis(), "host-b"));
        WorkerLease third = allocator("host-c").acquire();
        assertEquals(Handover.mark(reserved).toString(), third.handover().toString());
        b.close();
    }
}
