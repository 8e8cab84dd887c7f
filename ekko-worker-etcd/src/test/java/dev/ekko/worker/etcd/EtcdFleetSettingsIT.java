package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.EkkoException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.testsupport.TestServers;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.options.GetOption;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The fleet settings (layout, lease TTL, skew, lead) must be the same in every process of a namespace's IDC: the first
 * process records them, and a process with other values is refused before it writes a lease, naming each difference.
 */
class EtcdFleetSettingsIT {

    private static final String CLASS_PREFIX = TestServers.etcdKeyPrefix(EtcdFleetSettingsIT.class);

    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);
    private final List<WorkerAllocator> opened = new ArrayList<>();

    @AfterEach
    void closeAllocators() {
        opened.forEach(WorkerAllocator::close);
    }

    @AfterAll
    static void deleteThisClassesKeys() {
        SharedEtcd.deleteKeys(CLASS_PREFIX);
    }

    private static Map<String, String> fleet(String ttl) {
        Map<String, String> m = new TreeMap<>();
        m.put("ekko.clock.max.skew", "3s");
        m.put("ekko.epoch", "2026-01-01T00:00:00Z");
        m.put("ekko.worker.lease.ttl", ttl);
        return m;
    }

    private WorkerAllocator allocator(int idc, String instance, Map<String, String> fleet) {
        WorkerAllocator a = new EtcdAllocatorProvider().create(AllocatorContext.builder().idc(idc).workerIds(256).instance(instance)
                .host("host-" + instance).setting("ekko.etcd.endpoints", SharedEtcd.endpoints())
                .setting("ekko.etcd.namespace", namespace).fleetSettings(fleet).build());
        opened.add(a);
        return a;
    }

    private long leaseKeys(int idc) throws Exception {
        try (Client c = Client.builder().endpoints(TestServers.etcdEndpoints().toArray(new String[0])).waitForReady(false).build()) {
            return c.getKVClient().get(ByteSequence.from(namespace + "/idc" + idc + "/lease/", StandardCharsets.UTF_8),
                    GetOption.builder().isPrefix(true).withCountOnly(true).build()).get(5, TimeUnit.SECONDS).getCount();
        }
    }

    @Test
    void aProcessWithOtherSettingsIsRefusedBeforeItWritesALease() throws Exception {
        allocator(2, "first", fleet("30s")).acquire();
        allocator(2, "same", fleet("30s")).acquire();
        EkkoException e = assertThrows(EkkoException.class, () -> allocator(2, "other", fleet("10s")).acquire());
        assertTrue(e.getMessage().startsWith("refusing to acquire a worker ID of idc=2 at etcd "), e.getMessage());
        assertTrue(e.getMessage().contains("ekko.worker.lease.ttl=10s here, 30s recorded"), e.getMessage());
        assertTrue(e.getMessage().contains("(host host-first instance first at "), e.getMessage());
        assertEquals(2, leaseKeys(2), "the refused process wrote no lease");
        // Another IDC of the namespace records its own.
        allocator(3, "elsewhere", fleet("10s")).acquire();
    }
}
