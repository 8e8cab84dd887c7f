package dev.ekko.worker.etcd;

import dev.ekko.spi.WorkerAllocatorProvider;
import dev.ekko.testkit.WorkerAllocatorContract;
import dev.ekko.testsupport.TestServers;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;

/**
 * The allocator contract (ekko-testkit), against the shared etcd started by {@code ./run-tests}. Each test method gets a
 * namespace of its own under this class's key prefix, so tests never see each other's keys.
 */
class EtcdAllocatorContractIT extends WorkerAllocatorContract {

    private static final String CLASS_PREFIX = TestServers.etcdKeyPrefix(EtcdAllocatorContractIT.class);

    /** One per test method: JUnit makes a new instance for each. */
    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);

    @Override
    protected WorkerAllocatorProvider provider() {
        return new EtcdAllocatorProvider();
    }

    @Override
    protected Map<String, String> settings() {
        return Map.of("ekko.etcd.endpoints", SharedEtcd.endpoints(), "ekko.etcd.namespace", namespace);
    }

    @AfterAll
    static void deleteThisClassesKeys() {
        SharedEtcd.deleteKeys(CLASS_PREFIX);
    }
}
