package dev.ekko.worker.mysql;

import com.zaxxer.hikari.HikariDataSource;
import dev.ekko.EkkoException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import java.util.Map;
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
     * {@code ekko.mysql.url}, {@code ekko.mysql.user}, {@code ekko.mysql.password} and {@code ekko.mysql.pool.size}. Its
     * allocators share the tables' checks, and, when {@code dataSource} is a {@link HikariDataSource}, acquires hold at most
     * half of its connections at once, so renewals always find one; on another kind of data source they are not limited.
     *
     * @param dataSource the application's data source; not closed by Ekko
     * @return the provider
     * @throws NullPointerException if {@code dataSource} is null
     */
    public static WorkerAllocatorProvider provider(DataSource dataSource) {
        Objects.requireNonNull(dataSource, "dataSource");
        // The allocators of this provider share the data source; acquires may hold at most half of a HikariCP pool's
        // connections (no limit on another kind of data source, whose size is not known).
        MysqlDatabase database = new MysqlDatabase(dataSource, dataSource instanceof HikariDataSource h ? h.getMaximumPoolSize() : 0,
                () -> { });
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
                return new MysqlWorkerAllocator(context, MysqlSettings.forDataSource(context), database, () -> {
                });
            }

            @Override
            public String toString() {
                return "MysqlAllocators.provider(" + dataSource.getClass().getName() + ")";
            }
        };
    }

    /**
     * Starts a new generation in the tables of {@code ekko.mysql.url} (and {@code ekko.mysql.user},
     * {@code ekko.mysql.password}, {@code ekko.mysql.table}, {@code ekko.mysql.timeout}): the one safe step after any of the
     * tables was restored from a backup (docs/mysql.md). Every mark written before it becomes a lower bound
     * ({@code Handover.atLeast}), so the next holder of each worker ID waits one lease TTL plus the tolerated skew once;
     * holders that are live carry on. Safe to run at any time; running it twice costs only that wait again.
     *
     * @param settings the {@code ekko.mysql.*} settings, as for the allocator ({@code ekko.mysql.namespace} and
     *     {@code ekko.mysql.pool.size} are ignored: a generation covers every namespace of the tables)
     * @return what changed
     * @throws IllegalArgumentException naming the key, its value (password masked) and what is allowed if a setting is bad
     * @throws EkkoException if the database cannot be reached, refuses, or has no such tables; password masked
     */
    public static NewGeneration startNewGeneration(Map<String, String> settings) {
        Objects.requireNonNull(settings, "settings");
        AllocatorContext context = AllocatorContext.builder().settings(settings).instance("new-generation").build();
        try (MysqlWorkerAllocator allocator = (MysqlWorkerAllocator) new MysqlAllocatorProvider().create(context)) {
            return allocator.startNewGeneration();
        }
    }

    /**
     * As {@link #startNewGeneration(Map)}, on an application's own data source (not closed).
     *
     * @param dataSource reaches the database of the tables
     * @param table the worker-ID table ({@code ekko.mysql.table}; null for the default, {@code ekko_worker_ids})
     * @return what changed
     * @throws IllegalArgumentException if {@code table} is not a valid table name
     * @throws EkkoException if the database refuses or has no such tables
     */
    public static NewGeneration startNewGeneration(DataSource dataSource, String table) {
        Objects.requireNonNull(dataSource, "dataSource");
        AllocatorContext.Builder b = AllocatorContext.builder().instance("new-generation");
        if (table != null) {
            b.setting(MysqlSettings.TABLE_KEY, table);
        }
        try (MysqlWorkerAllocator allocator = (MysqlWorkerAllocator) provider(dataSource).create(b.build())) {
            return allocator.startNewGeneration();
        }
    }
}
