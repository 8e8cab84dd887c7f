package dev.ekko.worker.redis;

import dev.ekko.spi.WorkerAllocatorProvider;
import dev.ekko.testkit.WorkerAllocatorContract;
import dev.ekko.testsupport.TestServers;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;

/**
 * The allocator contract (ekko-testkit), against the shared Redis started by {@code ./run-tests}. Each test
 * method gets a namespace of its own under this class's key prefix (the suite leaves leases held until
 * they expire, and one test takes every worker ID), so tests never see each other's keys.
 */
class RedisAllocatorContractIT extends WorkerAllocatorContract {

    private static final String CLASS_PREFIX = TestServers.redisKeyPrefix(RedisAllocatorContractIT.class);

    /** One per test method: JUnit makes a new instance for each. */
    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);

    @Override
    protected WorkerAllocatorProvider provider() {
        return new RedisAllocatorProvider();
    }

    @Override
    protected Map<String, String> settings() {
        return Map.of("ekko.redis.uri", SharedRedis.uri(), "ekko.redis.namespace", namespace);
    }

    @AfterAll
    static void deleteThisClassesKeys() {
        SharedRedis.deleteKeys(CLASS_PREFIX);
    }
}
