package dev.ekko.worker.mysql;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.ekko.slf4j.SystemLoggerProvider;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.SharedClients;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The {@link java.util.ServiceLoader} entry for the {@code mysql} worker-ID allocator: select it with
 * {@code ekko.worker.allocator=mysql} ({@code EKKO_WORKER_ALLOCATOR=mysql}) and point it at a database with
 * {@code ekko.mysql.url} ({@code EKKO_MYSQL_URL}). Allocators of one JVM whose connection settings are equal (URL, user,
 * password, pool size, timeout) share one HikariCP pool, created by the first and closed by the last one closed; acquires may
 * hold at most half of its connections, so renewals always find one.
 *
 * <p>Keys, all optional but the URL:
 * <ul>
 *   <li>{@code ekko.mysql.url}: {@code jdbc:mysql://host[:port]/database[?property=value&...]} (MySQL 8 or MariaDB 10.6+);</li>
 *   <li>{@code ekko.mysql.user}, {@code ekko.mysql.password}: the credentials, instead of those in the URL;</li>
 *   <li>{@code ekko.mysql.table}: the worker-ID table (default {@code ekko_worker_ids}; {@code _settings} and {@code _meta}
 *       are appended for the other two);</li>
 *   <li>{@code ekko.mysql.namespace}: so fleets can share the tables (default {@code ekko});</li>
 *   <li>{@code ekko.mysql.pool.size}: connections of the pool the JVM's allocators with these
 *       connection settings share (default 2, 1..64);</li>
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

    /** The pools of this JVM, one per distinct {@link PoolKey}. */
    private static final SharedClients<PoolKey, MysqlDatabase> POOLS = new SharedClients<>("MySQL connection pool");
    private static final AtomicInteger POOL_NUMBER = new AtomicInteger();

    /**
     * Every setting that shapes a pool: allocators share one only if all are equal. {@link #toString()} never shows the
     * URL or the password (the URL may carry one too).
     */
    record PoolKey(String url, String user, String password, int poolSize, long timeoutMillis) {
        @Override
        public String toString() {
            return "PoolKey{poolSize=" + poolSize + ", timeout=" + timeoutMillis + "ms}";
        }
    }

    /**
     * Parses and checks the settings and takes a reference to the JVM's pool for these connection settings (url, user,
     * password, pool size, timeout), starting it if no open allocator shares it; the pool connects in the background, and the
     * tables are checked at the first acquire on it. Closing the allocator gives the reference up; the last one closes the
     * pool.
     *
     * @param context the IDC, layout limits, lease TTL and {@code ekko.mysql.*} settings
     * @return a new allocator
     * @throws IllegalArgumentException naming the key, its value (password masked) and what is allowed if a setting is bad
     */
    @Override
    public WorkerAllocator create(AllocatorContext context) {
        MysqlSettings settings = MysqlSettings.from(context);
        SystemLoggerProvider.installIfNoneFound(); // before HikariCP logs for the first time
        SharedClients.Handle<MysqlDatabase> handle = pool(settings);
        return new MysqlWorkerAllocator(context, settings, handle.client(), handle::close);
    }

    /**
     * A reference to the JVM's pool for these connection settings, started if none is open; the segment store shares it too.
     *
     * @param settings the parsed settings
     * @return the handle; close it to give the reference up
     * @throws IllegalArgumentException if the pool cannot be started (message masked)
     */
    static SharedClients.Handle<MysqlDatabase> pool(MysqlSettings settings) {
        PoolKey key = new PoolKey(settings.url(), settings.user(), settings.password(), settings.poolSize(),
                settings.timeout().toMillis());
        try {
            return POOLS.open(key, () -> {
                HikariDataSource pool = startPool(settings);
                return new MysqlDatabase(pool, settings.poolSize(), pool::close);
            });
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("cannot start a connection pool for " + settings.where() + ": "
                    + settings.masked(String.valueOf(e.getMessage())));
        }
    }

    /** {@return how many distinct pools allocators created by this class hold open in this JVM (for tests)} */
    static int openPools() {
        return POOLS.size();
    }

    private static HikariDataSource startPool(MysqlSettings settings) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(settings.url());
        if (settings.user() != null) {
            config.setUsername(settings.user());
        }
        if (settings.password() != null) {
            config.setPassword(settings.password());
        }
        long timeout = settings.timeout().toMillis();
        // Shared by every allocator of the JVM with these settings, whatever their IDC.
        config.setPoolName("ekko-mysql-" + POOL_NUMBER.incrementAndGet());
        config.setMaximumPoolSize(settings.poolSize());
        config.setMinimumIdle(1);
        config.setConnectionTimeout(timeout);
        config.setValidationTimeout(Math.max(250, timeout / 2));
        config.setInitializationFailTimeout(-1); // no connection at build time: the first acquire fails clearly instead
        // Every transaction of the allocator runs with these: set once per connection, and tracked by the driver
        // (useLocalSessionState), so a renewal sends no statement to set or read them back.
        config.setAutoCommit(false);
        config.setTransactionIsolation("TRANSACTION_READ_COMMITTED");
        config.addDataSourceProperty("useLocalSessionState", "true");
        config.addDataSourceProperty("connectTimeout", Long.toString(timeout));
        config.addDataSourceProperty("socketTimeout", Long.toString(timeout));
        config.addDataSourceProperty("tcpKeepAlive", "true");
        config.setConnectionInitSql("SET SESSION innodb_lock_wait_timeout = " + Math.max(1, timeout / 1000));
        return new HikariDataSource(config);
    }

    @Override
    public String toString() {
        return "MysqlAllocatorProvider{mysql}";
    }
}
