package dev.ekko.worker.etcd;

import dev.ekko.spi.SegmentStoreProvider;
import dev.ekko.testkit.SegmentStoreContract;
import dev.ekko.testsupport.TestServers;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;

/** The segment store contract (ekko-testkit), against the shared etcd started by {@code ./run-tests}. */
class EtcdSegmentStoreContractIT extends SegmentStoreContract {

    private static final String CLASS_PREFIX = TestServers.etcdKeyPrefix(EtcdSegmentStoreContractIT.class);

    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);

    @Override
    protected SegmentStoreProvider provider() {
        return new EtcdSegmentStore.Provider();
    }

    @Override
    protected Map<String, String> settings() {
        return Map.of("ekko.etcd.endpoints", SharedEtcd.endpoints(), "ekko.etcd.namespace", namespace);
    }

    @Override
    protected Map<String, String> otherStoreSettings() {
        return Map.of("ekko.etcd.endpoints", SharedEtcd.endpoints(), "ekko.etcd.namespace", namespace + "-other");
    }

    @Override
    protected void deleteName(String name) {
        SharedEtcd.deleteKeys(namespace + "/segment/" + name); // the name's key (names here are unique random strings)
    }

    @AfterAll
    static void deleteThisClassesKeys() {
        SharedEtcd.deleteKeys(CLASS_PREFIX);
    }
}
