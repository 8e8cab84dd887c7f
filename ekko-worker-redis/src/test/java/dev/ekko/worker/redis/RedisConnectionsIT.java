package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.EkkoException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.SharedClients;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.TestServers;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The connections allocators of one JVM share: one pool per distinct connection settings, closed with the last allocator,
 * and part of it kept for renewals however many acquires wait.
 */
class RedisConnectionsIT {

    private static final String CLASS_PREFIX = TestServers.redisKeyPrefix(RedisConnectionsIT.class);
    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);

    @AfterAll
    static void deleteThisClassesKeys() {
        SharedRedis.deleteKeys(CLASS_PREFIX);
    }

    private WorkerAllocator allocator(String instance, String timeout) {
        return new RedisAllocatorProvider().create(AllocatorContext.builder().idc(3).workerIds(64).instance(instance).host("h")
                .setting("ekko.redis.uri", SharedRedis.uri()).setting("ekko.redis.namespace", namespace)
                .setting("ekko.redis.timeout", timeout).build());
    }

    private static ClockReport report() {
        long now = System.currentTimeMillis();
        return new ClockReport(now, now + 1000, "h", 1, "i");
    }

    /** Connections named "ekko" the server has now. */
    private static long ekkoConnections() {
        try (redis.clients.jedis.Jedis j = SharedRedis.connect()) {
            return j.clientList().lines().filter(l -> l.contains(" name=" + RedisWorkerAllocator.CLIENT_NAME + " ")).count();
        }
    }

    @Test
    void allocatorsWithTheSameSettingsShareConnectionsAndTheLastOneClosedClosesThem() throws Exception {
        long before = ekkoConnections();
        int poolsBefore = RedisConnections.openPools();
        List<WorkerAllocator> many = new ArrayList<>();
        List<WorkerLease> leases = new ArrayList<>();
        for (int i = 0; i < 50; i++) {
            WorkerAllocator a = allocator("a" + i, "1500ms");
            many.add(a);
            leases.add(a.acquire());
        }
        for (int i = 0; i < 50; i++) {
            leases.set(i, many.get(i).renew(leases.get(i), report()));
        }
        assertEquals(poolsBefore + 1, RedisConnections.openPools(), "50 allocators with equal settings, one pool");
        assertEquals(1, ekkoConnections() - before, "50 allocators used one after another need one connection");
        // Other settings: another pool.
        WorkerAllocator other = allocator("other", "1700ms");
        WorkerLease o = other.acquire();
        assertEquals(poolsBefore + 2, RedisConnections.openPools());
        other.release(o, report());
        other.close();
        assertEquals(poolsBefore + 1, RedisConnections.openPools());
        // Closing all but one leaves the last working.
        for (int i = 0; i < 49; i++) {
            many.get(i).release(leases.get(i), report());
            many.get(i).close();
        }
        leases.set(49, many.get(49).renew(leases.get(49), report()));
        many.get(49).release(leases.get(49), report());
        many.get(49).close();
        assertEquals(poolsBefore, RedisConnections.openPools());
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (ekkoConnections() > before && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(before, ekkoConnections(), "the last allocator closed closes the pool's connections");
    }

    @Test
    void aPoolOfTwoKeepsOneConnectionForRenewals() throws Exception {
        RedisConnections.Key key = new RedisConnections.Key("127.0.0.1", URI.create(SharedRedis.uri()).getPort(), false, null, null, 0,
                Duration.ofMillis(300), 2);
        try (SharedClients.Handle<RedisConnections> h = RedisConnections.open(key)) {
            RedisConnections pool = h.client();
            pool.enter(true, "acquiring", "here");
            EkkoException e = assertThrows(EkkoException.class, () -> pool.enter(true, "acquiring", "here"));
            assertTrue(e.getMessage().contains("the 1 connections acquires may use"), e.getMessage());
            pool.enter(false, "renewing", "here");
            EkkoException full = assertThrows(EkkoException.class, () -> pool.enter(false, "renewing", "here"));
            assertTrue(full.getMessage().contains("the 2 connections this JVM shares"), full.getMessage());
            pool.leave(true);
            pool.leave(false);
        }
    }

    @Test
    void acquiresWaitingForConnectionsLeaveSomeForRenewals() throws Exception {
        RedisConnections.Key key = new RedisConnections.Key("127.0.0.1", URI.create(SharedRedis.uri()).getPort(), false, null, null, 0,
                Duration.ofMillis(300));
        try (SharedClients.Handle<RedisConnections> h = RedisConnections.open(key)) {
            RedisConnections pool = h.client();
            for (int i = 0; i < RedisConnections.MAX_ACQUIRING; i++) {
                pool.enter(true, "acquiring (held by the test)", "here");
            }
            // Every acquire permit is taken: one more acquire waits out the timeout and says why...
            EkkoException e = assertThrows(EkkoException.class, () -> pool.enter(true, "acquiring a worker ID of idc=3", "here"));
            assertTrue(e.getMessage().contains("no connection to Redis at here came free within ekko.redis.timeout=300ms while acquiring"
                    + " a worker ID of idc=3: the " + RedisConnections.MAX_ACQUIRING + " connections acquires may use"), e.getMessage());
            // ...while renewals still get the rest.
            for (int i = RedisConnections.MAX_ACQUIRING; i < RedisConnections.MAX_CONNECTIONS; i++) {
                long t0 = System.nanoTime();
                pool.enter(false, "renewing", "here");
                assertTrue(System.nanoTime() - t0 < Duration.ofMillis(250).toNanos(), "a renewal waited for a connection");
            }
            EkkoException full = assertThrows(EkkoException.class, () -> pool.enter(false, "renewing", "here"));
            assertTrue(full.getMessage().contains("the " + RedisConnections.MAX_CONNECTIONS + " connections this JVM shares"),
                    full.getMessage());
            for (int i = 0; i < RedisConnections.MAX_ACQUIRING; i++) {
                pool.leave(true);
            }
            for (int i = RedisConnections.MAX_ACQUIRING; i < RedisConnections.MAX_CONNECTIONS; i++) {
                pool.leave(false);
            }
        }
    }
}
