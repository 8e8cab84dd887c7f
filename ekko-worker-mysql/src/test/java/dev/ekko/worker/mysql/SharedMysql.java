package dev.ekko.worker.mysql;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import dev.ekko.testsupport.TestDatabase;
import dev.ekko.testsupport.TestServers;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.Map;

/** A database of its own on the shared MariaDB started by {@code ./run-tests}, for one test class. */
final class SharedMysql implements AutoCloseable {

    final TestDatabase database;

    private SharedMysql(TestDatabase database) {
        this.database = database;
    }

    static SharedMysql create(Class<?> testClass) {
        return new SharedMysql(TestServers.createMysqlDatabase(testClass));
    }

    /** {@return the ekko.mysql.* settings reaching this database, with the given namespace} */
    Map<String, String> settings(String namespace) {
        Map<String, String> m = new HashMap<>();
        m.put("ekko.mysql.url", database.jdbcUrl());
        m.put("ekko.mysql.user", database.user());
        m.put("ekko.mysql.password", database.password());
        m.put("ekko.mysql.namespace", namespace);
        return m;
    }

    Connection connect() throws SQLException {
        return DriverManager.getConnection(database.jdbcUrl(), database.user(), database.password());
    }

    void execute(String sql) throws SQLException {
        try (Connection c = connect(); Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    String string(String sql) throws SQLException {
        try (Connection c = connect(); Statement s = c.createStatement(); var r = s.executeQuery(sql)) {
            r.next();
            return r.getString(1);
        }
    }

    long count(String sql) throws SQLException {
        try (Connection c = connect(); Statement s = c.createStatement(); var r = s.executeQuery(sql)) {
            r.next();
            return r.getLong(1);
        }
    }

    /**
     * {@return a pool of 2 set up as the module sets up its own: connect and socket timeouts and the lock-wait timeout from
     * {@code timeoutMillis}; the caller closes it}
     */
    HikariDataSource realisticPool(long timeoutMillis) {
        return realisticPool(timeoutMillis, 2);
    }

    /** {@return as {@link #realisticPool(long)}, with {@code size} connections; the caller closes it} */
    HikariDataSource realisticPool(long timeoutMillis, int size) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(database.jdbcUrl());
        config.setUsername(database.user());
        config.setPassword(database.password());
        config.setMaximumPoolSize(size);
        config.setConnectionTimeout(Math.max(250, timeoutMillis));
        config.addDataSourceProperty("connectTimeout", Long.toString(timeoutMillis));
        config.addDataSourceProperty("socketTimeout", Long.toString(timeoutMillis));
        config.setConnectionInitSql("SET SESSION innodb_lock_wait_timeout = " + Math.max(1, timeoutMillis / 1000));
        return new HikariDataSource(config);
    }

    HikariDataSource pool(int size) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(database.jdbcUrl());
        config.setUsername(database.user());
        config.setPassword(database.password());
        config.setMaximumPoolSize(size);
        config.setConnectionTimeout(30_000);
        return new HikariDataSource(config);
    }

    @Override
    public void close() {
        database.close();
    }
}
