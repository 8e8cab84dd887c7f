/**
 * Ekko's {@code mysql} worker-ID allocator: worker IDs leased from a MySQL or MariaDB table through HikariCP.
 * The core finds the allocator through {@code provides}; {@link dev.ekko.worker.mysql.MysqlAllocators} is exported for
 * applications that hand in their own {@link javax.sql.DataSource}.
 */
module dev.ekko.worker.mysql {
    requires transitive dev.ekko.core;
    requires transitive java.sql;
    requires com.zaxxer.hikari;
    requires org.slf4j;
    requires dev.ekko.slf4j;

    exports dev.ekko.worker.mysql;

    provides dev.ekko.spi.WorkerAllocatorProvider with dev.ekko.worker.mysql.MysqlAllocatorProvider;
    provides dev.ekko.spi.SegmentStoreProvider with dev.ekko.worker.mysql.MysqlSegmentStore.Provider;
}
