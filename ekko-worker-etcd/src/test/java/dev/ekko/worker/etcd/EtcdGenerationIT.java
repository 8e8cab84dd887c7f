package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.TestServers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A new generation (the step after restoring etcd from a snapshot): every older mark becomes a lower bound. */
class EtcdGenerationIT {

    private static final String CLASS_PREFIX = TestServers.etcdKeyPrefix(EtcdGenerationIT.class);

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

    private Map<String, String> settings() {
        return Map.of("ekko.etcd.endpoints", SharedEtcd.endpoints(), "ekko.etcd.namespace", namespace);
    }

    private WorkerAllocator allocator(String instance, int preferred) {
        WorkerAllocator a = new EtcdAllocatorProvider().create(AllocatorContext.builder().idc(2).workerIds(256).instance(instance)
                .host("host-" + instance).leaseTtl(Duration.ofSeconds(30)).preferredWorkerId(preferred).settings(settings()).build());
        opened.add(a);
        return a;
    }

    private static ClockReport report(long reserved, String instance) {
        return new ClockReport(System.currentTimeMillis(), reserved, "host-" + instance, 42, instance);
    }

    @Test
    void aNewGenerationMakesEveryOlderMarkALowerBound() throws Exception {
        WorkerAllocator a = allocator("a", 9);
        long now = System.currentTimeMillis();
        a.release(a.acquire(), report(now, "a"));
        assertEquals(Handover.mark(now).toString(), allocator("check", 9).acquire().handover().toString(), "trusted before");
        opened.forEach(WorkerAllocator::close);
        opened.clear();
        // (the check's lease is left to expire: take worker 10 from here on)
        WorkerAllocator b = allocator("b", 10);
        b.release(b.acquire(), report(now, "b"));
        String said = EtcdAllocators.startNewGeneration(settings());
        assertTrue(said.startsWith("started generation ") && said.contains(" at etcd " + SharedEtcd.endpoints() + " namespace "
                + namespace + " (was "), said);
        WorkerLease next = allocator("c", 10).acquire();
        assertEquals(10, next.workerId());
        assertEquals(Handover.atLeast(now).toString(), next.handover().toString());
    }

    /** A live holder carries on through a new generation, and the mark it writes afterwards is trusted. */
    @Test
    void aLiveHolderCarriesOnAndItsNextMarkIsTrusted() throws Exception {
        WorkerAllocator a = allocator("live", 11);
        WorkerLease lease = a.acquire();
        long now = System.currentTimeMillis();
        lease = a.renew(lease, report(now + 500, "live"));
        EtcdAllocators.startNewGeneration(settings());
        lease = a.renew(lease, report(now + 700, "live"));
        a.release(lease, report(now + 600, "live"));
        WorkerLease next = allocator("next", 11).acquire();
        assertEquals(Handover.mark(now + 600).toString(), next.handover().toString());
    }

    /**
     * A holder that claimed before a new generation and releases with no renewal since leaves a lower bound, not a trusted
     * mark: its mark rests on one the old generation vouched for (found by review 4: the release labelled it with the new
     * generation, and the next holder trusted it).
     */
    @Test
    void aReleaseAfterANewGenerationWithNoRenewalSinceLeavesALowerBound() throws Exception {
        long now = System.currentTimeMillis();
        WorkerAllocator first = allocator("first", 12);
        first.release(first.acquire(), report(now, "first"));
        WorkerAllocator a = allocator("a", 12);
        WorkerLease lease = a.acquire();
        assertEquals(Handover.mark(now).toString(), lease.handover().toString());
        EtcdAllocators.startNewGeneration(settings());
        a.release(lease, report(now + 10, "a"));
        WorkerLease next = allocator("next", 12).acquire();
        assertEquals(12, next.workerId());
        assertEquals(Handover.atLeast(now + 10).toString(), next.handover().toString());
    }
}
