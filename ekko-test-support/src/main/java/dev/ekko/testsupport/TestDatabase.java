package dev.ekko.testsupport;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * A database of its own on the shared MariaDB test server, created for one test class and
 * dropped by {@link #close()}. Get one from {@link TestServers#createMysqlDatabase(Class)}.
 *
 * <p>Needs a MySQL or MariaDB JDBC driver on the test class path (the back-end module's own
 * {@code com.mysql:mysql-connector-j}); this module brings none.
 */
public final class TestDatabase implements AutoCloseable {
    private final String serverUrl;
    private final String user;
    private final String password;
    private final String name;
    private boolean dropped;

    private TestDatabase(String serverUrl, String user, String password, String name) {
        this.serverUrl = serverUrl;
        this.user = user;
        this.password = password;
        this.name = name;
    }

    static TestDatabase create(String serverUrl, String user, String password, String name) {
        TestDatabase database = new TestDatabase(serverUrl, user, password, name);
        database.execute("CREATE DATABASE `" + name + "`", "create");
        return database;
    }

    /** The database name, {@code ekko_<classname>_<token>}. */
    public String name() {
        return name;
    }

    /** A JDBC URL for this database: the shared server's URL with the database replaced. */
    public String jdbcUrl() {
        return MysqlUrls.withDatabase(serverUrl, name);
    }

    /** The user to connect as; it owns this database. */
    public String user() {
        return user;
    }

    /** The user's password. */
    public String password() {
        return password;
    }

    /**
     * Drops the database with everything in it. Calling it again does nothing.
     *
     * @throws IllegalStateException if the server refuses or cannot be reached
     */
    @Override
    public synchronized void close() {
        if (!dropped) {
            execute("DROP DATABASE IF EXISTS `" + name + "`", "drop");
            dropped = true;
        }
    }

    @Override
    public String toString() {
        return "TestDatabase[" + jdbcUrl() + ", user=" + user + "]";
    }

    private void execute(String sql, String verb) {
        String context = "could not " + verb + " database " + name + " on the MariaDB test server "
                + Setting.MYSQL_URL.environmentVariable() + "=" + serverUrl + " as "
                + Setting.MYSQL_USER.environmentVariable() + "=" + user;
        try {
            DriverManager.getDriver(serverUrl);
        } catch (SQLException e) {
            throw new IllegalStateException(context + ": no JDBC driver accepts this URL;"
                    + " add com.mysql:mysql-connector-j to the test dependencies", e);
        }
        try (Connection connection = DriverManager.getConnection(serverUrl, user, password);
                Statement statement = connection.createStatement()) {
            statement.execute(sql);
        } catch (SQLException e) {
            throw new IllegalStateException(context + " (the user needs the right to create and drop"
                    + " databases named ekko_*): " + e.getMessage(), e);
        }
    }
}
