package dev.ekko.worker.mysql;

import dev.ekko.spi.WorkerAllocatorProvider;
import dev.ekko.testkit.WorkerAllocatorContract;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * The allocator contract (ekko-testkit), against a database of this class's own on the shared MariaDB started by
 * {@code ./run-tests}. Each test method gets a namespace of its own (the suite leaves leases held until they expire).
 */
class MysqlAllocatorContractIT extends WorkerAllocatorContract {

    private static SharedMysql db;

    private final String namespace = "contract-" + UUID.randomUUID().toString().substring(0, 8);

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(MysqlAllocatorContractIT.class);
    }

    @AfterAll
    static void dropDatabase() {
        db.close();
    }

    @Override
    protected WorkerAllocatorProvider provider() {
        return new MysqlAllocatorProvider();
    }

    @Override
    protected Map<String, String> settings() {
        return db.settings(namespace);
    }
}
