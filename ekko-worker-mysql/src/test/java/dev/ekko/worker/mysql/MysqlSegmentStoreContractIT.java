package dev.ekko.worker.mysql;

import dev.ekko.spi.SegmentStoreProvider;
import dev.ekko.testkit.SegmentStoreContract;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The segment store contract (ekko-testkit), against a database of this class's own on the shared MariaDB. */
class MysqlSegmentStoreContractIT extends SegmentStoreContract {

    private static SharedMysql db;

    private final String namespace = "segments-" + UUID.randomUUID().toString().substring(0, 8);

    @BeforeAll
    static void createDatabase() {
        db = SharedMysql.create(MysqlSegmentStoreContractIT.class);
    }

    @AfterAll
    static void dropDatabase() {
        db.close();
    }

    @Override
    protected SegmentStoreProvider provider() {
        return new MysqlSegmentStore.Provider();
    }

    @Override
    protected Map<String, String> settings() {
        return db.settings(namespace);
    }

    @Override
    protected Map<String, String> otherStoreSettings() {
        return db.settings(namespace + "-other");
    }

    @Override
    protected void deleteName(String name) throws Exception {
        db.execute("DELETE FROM ekko_worker_ids_segments WHERE namespace = '" + namespace + "' AND name = '" + name + "'");
    }
}
