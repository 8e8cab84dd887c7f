package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.TestServers;
import io.etcd.jetcd.Client;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.ServiceLoader;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Allocators created with the same connection settings share one jetcd client in the JVM (issue 13: a fleet benchmark runs
 * thousands of them); the last one closed closes it; other settings get a client of their own.
 */
class EtcdSharedClientIT {

    private static final String CLASS_PREFIX = TestServers.etcdKeyPrefix(EtcdSharedClientIT.class);

    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);

    @AfterAll
    static void deleteThisClassesKeys() {
        SharedEtcd.deleteKeys(CLASS_PREFIX);
    }

    private static WorkerAllocatorProvider provider() {
        return ServiceLoader.load(WorkerAllocatorProvider.class).stream().map(ServiceLoader.Provider::get)
                .filter(p -> p.name().equals("etcd")).findFirst().orElseThrow();
    }

    private WorkerAllocator allocator(String instance, String timeout, String namespace) {
        return provider().create(AllocatorContext.builder().idc(1).workerIds(256).instance(instance).host("host-" + instance)
                .leaseTtl(Duration.ofSeconds(10)).setting("ekko.etcd.endpoints", SharedEtcd.endpoints())
                .setting("ekko.etcd.namespace", namespace).setting("ekko.etcd.timeout", timeout).build());
    }

    private static Client clientOf(WorkerAllocator a) throws Exception {
        Field f = EtcdWorkerAllocator.class.getDeclaredField("client");
        f.setAccessible(true);
        return (Client) f.get(a);
    }

    private static ClockReport report(String instance) {
        long now = System.currentTimeMillis();
        return new ClockReport(now, now + 1000, "host-" + instance, 1, instance);
    }

    @Test
    void allocatorsWithTheSameSettingsShareOneClientAndTheLastOneClosesIt() throws Exception {
        int before = EtcdAllocatorProvider.CLIENTS.size();
        // A timeout no other test uses, so that this test's client is its own.
        WorkerAllocator a = allocator("a", "7s", namespace);
        WorkerAllocator b = allocator("b", "7s", namespace);
        WorkerAllocator other = allocator("c", "6s", namespace);
        WorkerAllocator otherNamespace = allocator("d", "7s", namespace + "-x");
        try {
            assertSame(clientOf(a), clientOf(b), "equal settings, one client");
            assertSame(clientOf(a), clientOf(otherNamespace), "the namespace does not shape the client");
            assertNotSame(clientOf(a), clientOf(other), "another timeout, another client");
            assertEquals(before + 2, EtcdAllocatorProvider.CLIENTS.size());
            WorkerLease la = a.acquire();
            WorkerLease lb = b.acquire();
            a.release(la, report("a"));
            a.close();
            lb = b.renew(lb, report("b")); // the client is still open for b
            WorkerLease again = b.acquire();
            b.release(again, report("b"));
            b.release(lb, report("b"));
            otherNamespace.close();
            assertEquals(before + 2, EtcdAllocatorProvider.CLIENTS.size(), "b still holds the client");
            b.close();
            assertEquals(before + 1, EtcdAllocatorProvider.CLIENTS.size(), "the last allocator closed its client");
        } finally {
            a.close();
            b.close();
            other.close();
            otherNamespace.close();
        }
        assertEquals(before, EtcdAllocatorProvider.CLIENTS.size());
    }
}
