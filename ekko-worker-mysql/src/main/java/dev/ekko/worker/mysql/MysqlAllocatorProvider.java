package dev.ekko.worker.mysql;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.ekko.slf4j.SystemLoggerProvider;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import java.util.Set;

/**
 * The {@link java.util.ServiceLoader} entry for the {@code mysql} worker-ID allocator: select it with
 * {@code ekko.worker.allocator=mysql} ({@code EKKO_WORKER_ALLOCATOR=mysql}) and point it at a database with
 * {@code ekko.mysql.url} ({@code EKKO_MYSQL_URL}). Each allocator (one per generator) gets a small HikariCP pool of its own.
 *
 * <p>Keys, all optional but the URL:
 * <ul>
 *   <li>{@code ekko.mysql.url}: {@code jdbc:mysql://host[:port]/database[?property=value&...]} (MySQL 8 or MariaDB 10.6+);</li>
 *   <li>{@code ekko.mysql.user}, {@code ekko.mysql.password}: the credentials, instead of those in the URL;</li>
 *   <li>{@code ekko.mysql.table}: the worker-ID table (default {@code ekko_worker_ids}; {@code _settings} and {@code _meta}
 *       are appended for the other two);</li>
 *   <li>{@code ekko.mysql.namespace}: so fleets can share the tables (default {@code ekko});</li>
 *   <li>{@code ekko.mysql.pool.size}: connections per allocator (default 2, 1..16);</li>
 *   <li>{@code ekko.mysql.timeout}: connect, socket (so query) and pool timeout (default {@code 2s}, 250ms..1m).</li>
 * </ul>
 * An application with a {@link javax.sql.DataSource} of its own uses {@link MysqlAllocators#provider(javax.sql.DataSource)}.
 */
public final class MysqlAllocatorProvider implements WorkerAllocatorProvider {

    /** Creates the provider; {@link java.util.ServiceLoader} calls it. */
    public MysqlAllocatorProvider() {
    }

    /** {@return {@code mysql}} */
    @Override
    public String name() {
        return "mysql";
    }

    /** {@return {@code dev.ekko:ekko-worker-mysql}} */
    @Override
    public String artifact() {
        return "dev.ekko:ekko-worker-mysql";
    }

    /** {@return the {@code ekko.mysql.*} keys above} */
    @Override
    public Set<String> configKeys() {
        return MysqlSettings.KEYS;
    }

    /**
     * Parses and checks the settings and starts a pool; the pool connects in the background and the tables are checked at the
     * first acquire.
     *
     * @param context the IDC, layout limits, lease TTL and {@code ekko.mysql.*} settings
     * @return a new allocator
     * @throws IllegalArgumentException naming the key, its value (password masked) and what is allowed if a setting is bad
     */
    @Override
    public WorkerAllocator create(AllocatorContext context) {
        MysqlSettings settings = MysqlSettings.from(context);
        SystemLoggerProvider.installIfNoneFound(); // before HikariCP logs for the first time
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(settings.url());
        if (settings.user() != null) {
            config.setUsername(settings.user());
        }
        if (settings.password() != null) {
            config.setPassword(settings.password());
        }
        long timeout = settings.timeout().toMillis();
        config.setPoolName("ekko-mysql-idc" + context.idc());
        config.setMaximumPoolSize(settings.poolSize());
        config.setMinimumIdle(1);
        config.setConnectionTimeout(timeout);
        config.setValidationTimeout(Math.max(250, timeout / 2));
        config.setInitializationFailTimeout(-1); // no connection at build time: the first acquire fails clearly instead
        config.addDataSourceProperty("connectTimeout", Long.toString(timeout));
        config.addDataSourceProperty("socketTimeout", Long.toString(timeout));
        config.addDataSourceProperty("tcpKeepAlive", "true");
        config.setConnectionInitSql("SET SESSION innodb_lock_wait_timeout = " + Math.max(1, timeout / 1000));
        HikariDataSource pool;
        try {
            pool = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("cannot start a connection pool for " + settings.where() + ": "
                    + settings.masked(String.valueOf(e.getMessage())));
        }
        return new MysqlWorkerAllocator(context, settings, pool, pool::close);
    }

    @Override
    public String toString() {
        return "MysqlAllocatorProvider{mysql}";
    }
}
