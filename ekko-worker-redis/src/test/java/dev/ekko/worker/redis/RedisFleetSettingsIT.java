package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.EkkoException;
import dev.ekko.IdGenerator;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.testsupport.TestServers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * The settings every process of a namespace must share (layout, epoch, lease TTL, max skew, max lead): the first acquire
 * of a namespace's IDC records them, and a process with other values is refused before it writes a lease, naming each
 * difference. On the shared Redis, a namespace per test.
 */
class RedisFleetSettingsIT {

    private static final String CLASS_PREFIX = TestServers.redisKeyPrefix(RedisFleetSettingsIT.class);

    @TempDir
    Path stateDir;

    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);
    private final List<WorkerAllocator> opened = new ArrayList<>();

    @AfterEach
    void closeAllocators() {
        opened.forEach(WorkerAllocator::close);
    }

    @AfterAll
    static void deleteThisClassesKeys() {
        SharedRedis.deleteKeys(CLASS_PREFIX);
    }

    private static Map<String, String> fleet(String ttl, String epoch) {
        Map<String, String> m = new TreeMap<>();
        m.put("ekko.clock.max.lead", "0ms");
        m.put("ekko.clock.max.skew", "3s");
        m.put("ekko.epoch", epoch);
        m.put("ekko.positive", "false");
        m.put("ekko.product.bits", "0");
        m.put("ekko.worker.lease.ttl", ttl);
        return m;
    }

    private WorkerAllocator allocator(int idc, String instance, Map<String, String> fleet) {
        WorkerAllocator a = new RedisAllocatorProvider().create(AllocatorContext.builder().idc(idc).workerIds(256).instance(instance)
                .host("host-" + instance).setting("ekko.redis.uri", SharedRedis.uri()).setting("ekko.redis.namespace", namespace)
                .fleetSettings(fleet).build());
        opened.add(a);
        return a;
    }

    private Set<String> leases(int idc) {
        try (Jedis jedis = SharedRedis.connect()) {
            return jedis.keys(SharedRedis.escape(new RedisKeys(namespace, idc).prefix()) + "lease:*");
        }
    }

    @Test
    void theFirstProcessRecordsTheSettingsAndOthersWithTheSameOnesAreAccepted() throws Exception {
        Map<String, String> same = fleet("30s", "2020-01-01T00:00:00Z");
        allocator(3, "a", same).acquire();
        allocator(3, "b", same).acquire();
        try (Jedis jedis = SharedRedis.connect()) {
            Map<String, String> recorded = jedis.hgetAll(new RedisKeys(namespace, 3).settings());
            same.forEach((k, v) -> assertEquals(v, recorded.get(k), k));
            assertEquals("host-a", recorded.get("first.host"), recorded.toString());
            assertEquals("a", recorded.get("first.instance"), recorded.toString());
        }
        assertEquals(2, leases(3).size());
    }

    @Test
    void aProcessWithOtherSettingsIsRefusedBeforeItWritesALeaseNamingEachDifferenceAndTheFix() throws Exception {
        allocator(3, "a", fleet("30s", "2020-01-01T00:00:00Z")).acquire();
        EkkoException e = assertThrows(EkkoException.class,
                () -> allocator(3, "b", fleet("2s", "2024-06-01T00:00:00Z")).acquire());
        String m = e.getMessage();
        assertTrue(m.startsWith("refusing to acquire a worker ID of idc=3 at redis " + SharedRedis.uri().substring("redis://".length())
                + " namespace " + namespace + ": every process of it must share these settings, and this one differs from what"
                + " the first process recorded (host host-a instance a at "), m);
        assertTrue(m.contains(": ekko.epoch=2024-06-01T00:00:00Z here, 2020-01-01T00:00:00Z recorded; ekko.worker.lease.ttl=2s here,"
                + " 30s recorded. Start this process with the same settings as the rest of the fleet, or give it another"
                + " ekko.redis.namespace; to change them for the whole fleet, stop every process of the namespace and delete the key "
                + new RedisKeys(namespace, 3).settings()), m);
        assertEquals(1, leases(3).size(), "the refused process wrote a lease: " + leases(3));
    }

    @Test
    void settingsAreRecordedPerIdcWhereWorkerIdsAreShared() throws Exception {
        // Two IDCs never share a worker ID, and the IDC bits keep their IDs apart whatever the rest of the layout: the
        // settings are kept next to the IDC's other keys, in its hash slot.
        allocator(3, "a", fleet("30s", "2020-01-01T00:00:00Z")).acquire();
        allocator(4, "b", fleet("2s", "2020-01-01T00:00:00Z")).acquire();
        assertEquals(1, leases(4).size());
    }

    @Test
    void anAllocatorWithoutFleetSettingsSkipsTheCheckAndRecordsNothing() throws Exception {
        allocator(3, "a", fleet("30s", "2020-01-01T00:00:00Z")).acquire();
        allocator(3, "b", Map.of()).acquire();
        allocator(5, "c", Map.of()).acquire();
        try (Jedis jedis = SharedRedis.connect()) {
            assertTrue(!jedis.exists(new RedisKeys(namespace, 5).settings()), "empty fleet settings were recorded");
        }
    }

    @Test
    void aGeneratorWithAnotherLeaseTtlIsRefusedAtBuild() {
        try (IdGenerator first = FastGenerators.start(SharedRedis.uri(), namespace, stateDir.resolve("a"), "first")) {
            first.next();
            EkkoException e = assertThrows(EkkoException.class, () -> FastGenerators.builder(SharedRedis.uri(), namespace,
                    stateDir.resolve("b"), "second").leaseTtl(Duration.ofSeconds(3)).build().close());
            assertTrue(e.getMessage().contains("ekko.worker.lease.ttl=3s here, 2s recorded"), e.getMessage());
        }
    }
}
