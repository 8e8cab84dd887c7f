package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.SharedClients;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.TestServers;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

/**
 * Review of the connections allocators of one JVM share (RedisConnections, c78ea55): many allocators at once, some closing
 * meanwhile, and a caller interrupted while it waits for a connection; afterwards every permit is back and the pool has at
 * most its 8 connections.
 */
class RedisSharedPoolReviewIT {

    private static final String CLASS_PREFIX = TestServers.redisKeyPrefix(RedisSharedPoolReviewIT.class);
    private static final int IDC = 5;
    private static final int WORKER_IDS = 64;

    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);

    @AfterAll
    static void deleteThisClassesKeys() {
        SharedRedis.deleteKeys(CLASS_PREFIX);
    }

    private AllocatorContext context(String instance) {
        // A timeout no other test class uses: this class's pool is its own.
        return AllocatorContext.builder().idc(IDC).workerIds(WORKER_IDS).instance(instance).host("host-" + instance).pid(9)
                .setting("ekko.redis.uri", SharedRedis.uri()).setting("ekko.redis.namespace", namespace)
                .setting("ekko.redis.timeout", "2345ms").build();
    }

    /** A handle on the pool the allocators of {@link #context} share. */
    private SharedClients.Handle<RedisConnections> samePool() {
        RedisSettings s = RedisSettings.from(context("x"));
        return RedisConnections.open(new RedisConnections.Key(s.host(), s.port(), s.tls(), s.user(), s.password(), s.database(),
                s.timeout()));
    }

    private static ClockReport report() {
        long now = System.currentTimeMillis();
        return new ClockReport(now, now + 1000, "h", 9, "i");
    }

    /** Every permit is free: all 8 can be taken, 4 of them by acquires; the pool has at most 8 connections. */
    private static void assertAllPermitsBack(RedisConnections pool) throws InterruptedException {
        assertTrue(pool.openConnections() <= RedisConnections.MAX_CONNECTIONS, "connections: " + pool.openConnections());
        for (int i = 0; i < RedisConnections.MAX_ACQUIRING; i++) {
            pool.enter(true, "acquiring (the test)", "here");
        }
        for (int i = RedisConnections.MAX_ACQUIRING; i < RedisConnections.MAX_CONNECTIONS; i++) {
            pool.enter(false, "renewing (the test)", "here");
        }
        for (int i = 0; i < RedisConnections.MAX_ACQUIRING; i++) {
            pool.leave(true);
        }
        for (int i = RedisConnections.MAX_ACQUIRING; i < RedisConnections.MAX_CONNECTIONS; i++) {
            pool.leave(false);
        }
    }

    /**
     * Guard. 24 allocators sharing one pool acquire, renew and release at once; a third of them close after their first
     * round. The others never fail, no worker ID is held twice, and afterwards every permit is back.
     */
    @Test
    void allocatorsSharingAPoolWhileSomeCloseNeverBreakEachOtherNorLeakAPermit() throws Exception {
        try (SharedClients.Handle<RedisConnections> handle = samePool()) {
            int threads = 24;
            ExecutorService executor = Executors.newFixedThreadPool(threads);
            Map<Integer, String> holders = new ConcurrentHashMap<>();
            AtomicReference<String> doubled = new AtomicReference<>();
            CountDownLatch go = new CountDownLatch(1);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                String name = "a" + t;
                boolean closesEarly = t % 3 == 0;
                WorkerAllocator a = new RedisAllocatorProvider().create(context(name));
                done.add(executor.submit(() -> {
                    go.await();
                    try {
                        for (int round = 0; round < 4; round++) {
                            WorkerLease l = a.acquire();
                            String before = holders.putIfAbsent(l.workerId(), name);
                            if (before != null) {
                                doubled.compareAndSet(null, "worker ID " + l.workerId() + " held by " + before + " and " + name);
                            }
                            for (int r = 0; r < 3; r++) {
                                l = a.renew(l, report());
                            }
                            holders.remove(l.workerId(), name);
                            a.release(l, report());
                            if (closesEarly) {
                                return null;
                            }
                        }
                        return null;
                    } finally {
                        a.close();
                    }
                }));
            }
            go.countDown();
            try {
                for (Future<?> f : done) {
                    f.get(); // an allocator's failure fails the test here
                }
            } finally {
                executor.shutdownNow();
            }
            assertNull(doubled.get());
            assertAllPermitsBack(handle.client());
        }
    }

    /**
     * Guard. A renewal waiting for a connection (all 8 taken) and interrupted gives up with InterruptedException; its permits
     * are not lost, and the allocator works afterwards.
     */
    @Test
    void aCallInterruptedWhileWaitingForAConnectionLeaksNoPermit() throws Exception {
        WorkerAllocator a = new RedisAllocatorProvider().create(context("interrupted"));
        try (SharedClients.Handle<RedisConnections> handle = samePool()) {
            RedisConnections pool = handle.client();
            WorkerLease lease = a.acquire();
            for (int i = 0; i < RedisConnections.MAX_CONNECTIONS; i++) {
                pool.enter(false, "held by the test", "here");
            }
            AtomicReference<Throwable> outcome = new AtomicReference<>();
            Thread t = new Thread(() -> {
                try {
                    a.renew(lease, report());
                } catch (Throwable e) {
                    outcome.set(e);
                }
            });
            t.start();
            Thread.sleep(200);
            t.interrupt();
            t.join();
            for (int i = 0; i < RedisConnections.MAX_CONNECTIONS; i++) {
                pool.leave(false);
            }
            assertTrue(outcome.get() instanceof InterruptedException, "the waiting renewal ended with " + outcome.get());
            assertAllPermitsBack(pool);
            a.release(a.renew(lease, report()), report());
            try (Jedis j = SharedRedis.connect()) {
                assertEquals(0, j.exists(new RedisKeys(namespace, IDC).lease(lease.workerId())) ? 1 : 0);
            }
        } finally {
            a.close();
        }
    }
}
