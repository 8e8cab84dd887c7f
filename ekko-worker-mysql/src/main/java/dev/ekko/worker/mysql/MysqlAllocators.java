package dev.ekko.worker.mysql;

import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import java.util.Objects;
import java.util.Set;
import javax.sql.DataSource;

/**
 * Builds the {@code mysql} allocator on an application's own {@link DataSource}, for
 * {@code Ekko.newBuilder().allocatorProvider(MysqlAllocators.provider(dataSource))}. The data source must reach MySQL 8 or
 * MariaDB 10.6+ with a default database, and bound its connect and socket timeouts (a hung database must not hold the
 * generator past its fence deadline); Ekko never closes it.
 */
public final class MysqlAllocators {

    private MysqlAllocators() {
    }

    /**
     * A provider named {@code mysql} whose allocators take their connections from {@code dataSource}. It reads
     * {@code ekko.mysql.table}, {@code ekko.mysql.namespace} and {@code ekko.mysql.timeout} (used in messages), and refuses
     * {@code ekko.mysql.url}, {@code ekko.mysql.user}, {@code ekko.mysql.password} and {@code ekko.mysql.pool.size}.
     *
     * @param dataSource the application's data source; not closed by Ekko
     * @return the provider
     * @throws NullPointerException if {@code dataSource} is null
     */
    public static WorkerAllocatorProvider provider(DataSource dataSource) {
        Objects.requireNonNull(dataSource, "dataSource");
        return new WorkerAllocatorProvider() {
            @Override
            public String name() {
                return "mysql";
            }

            @Override
            public String artifact() {
                return "dev.ekko:ekko-worker-mysql";
            }

            @Override
            public Set<String> configKeys() {
                return MysqlSettings.KEYS;
            }

            @Override
            public WorkerAllocator create(AllocatorContext context) {
                return new MysqlWorkerAllocator(context, MysqlSettings.forDataSource(context), dataSource, () -> {
                });
            }

            @Override
            public String toString() {
                return "MysqlAllocators.provider(" + dataSource.getClass().getName() + ")";
            }
        };
    }
}
