package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.EkkoException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.WorkerAllocator;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The settings every process of a namespace's IDC must share: recorded at first use, a process with other values refused
 * before it writes anything, naming each difference.
 */
class MysqlFleetSettingsIT {

    private static SharedMysql db;
    private final String namespace = "fleet-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<WorkerAllocator> opened = new ArrayList<>();

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(MysqlFleetSettingsIT.class);
    }

    @AfterAll
    static void dropDatabase() {
        db.close();
    }

    @AfterEach
    void closeAllocators() {
        opened.forEach(WorkerAllocator::close);
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
        WorkerAllocator a = new MysqlAllocatorProvider().create(AllocatorContext.builder().idc(idc).workerIds(256).instance(instance)
                .host("host-" + instance).settings(db.settings(namespace)).fleetSettings(fleet).build());
        opened.add(a);
        return a;
    }

    private long leases(int idc) throws Exception {
        return db.count("SELECT COUNT(*) FROM ekko_worker_ids WHERE namespace = '" + namespace + "' AND idc = " + idc
                + " AND token IS NOT NULL");
    }

    @Test
    void aProcessWithOtherSettingsIsRefusedBeforeItWritesAnything() throws Exception {
        Map<String, String> first = fleet("30s", "2020-01-01T00:00:00Z");
        allocator(3, "a", first).acquire();
        allocator(3, "b", first).acquire();
        assertEquals(2, leases(3));

        EkkoException e = assertThrows(EkkoException.class, () -> allocator(3, "c", fleet("10s", "2021-01-01T00:00:00Z")).acquire());
        assertTrue(e.getMessage().startsWith("refusing to acquire a worker ID of idc=3 at mysql " + db.database.jdbcUrl()
                + " table ekko_worker_ids namespace " + namespace + ": every process of it must share these settings, and this one"
                + " differs from what the first process recorded (host host-a instance a at "), e.getMessage());
        assertTrue(e.getMessage().contains("ekko.epoch=2021-01-01T00:00:00Z here, 2020-01-01T00:00:00Z recorded;"
                + " ekko.worker.lease.ttl=10s here, 30s recorded"), e.getMessage());
        assertEquals(2, leases(3), "the refused process wrote a lease");

        // Another IDC records its own.
        allocator(4, "c", fleet("10s", "2021-01-01T00:00:00Z")).acquire();
        assertEquals(1, leases(4));
    }

    @Test
    void aSettingOnlyOneSideKnowsIsNotComparedAndIsRecorded() throws Exception {
        Map<String, String> older = fleet("30s", "2020-01-01T00:00:00Z");
        older.remove("ekko.clock.max.lead");
        allocator(1, "a", older).acquire();
        allocator(1, "b", fleet("30s", "2020-01-01T00:00:00Z")).acquire();
        assertEquals(1, db.count("SELECT COUNT(*) FROM ekko_worker_ids_settings WHERE namespace = '" + namespace
                + "' AND idc = 1 AND name = 'ekko.clock.max.lead'"));
    }
}
