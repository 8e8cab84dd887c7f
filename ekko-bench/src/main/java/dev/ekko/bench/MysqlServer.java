package dev.ekko.bench;

import com.mysql.cj.jdbc.Driver;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * BenchRunner's own calls to the tests' MySQL or MariaDB server, apart from what is measured. Its own class, so
 * that a forked JVM, which never calls it, never loads the driver before the first measured start.
 *
 * <p>The benchmarks leave {@code ekko.mysql.table} unset, so the allocator keeps its worker IDs in the default
 * tables of the tests' database: {@link #TABLE} and {@link #SETTINGS_TABLE}, one row per worker ID and per
 * fleet setting, each with its namespace. The run deletes its namespaces' rows there. The tables themselves,
 * and {@code ekko_worker_ids_meta}'s one row (the generation of the whole table set, not of a namespace), stay:
 * deleting them would change what every other namespace of the database sees.
 */
final class MysqlServer {

    /** The worker-ID table: {@code ekko.mysql.table}'s default (docs/mysql.md). */
    static final String TABLE = "ekko_worker_ids";
    /** The fleet settings, per namespace. */
    static final String SETTINGS_TABLE = TABLE + "_settings";

    private static final Pattern VERSION = Pattern.compile("([0-9]+(?:\\.[0-9]+)*)(.*)");

    private MysqlServer() {
    }

    /** {@return e.g. {@code MariaDB 10.11.6 on 127.0.0.1, client mysql-connector-j-26.10.0.jar with HikariCP-7.1.0.jar}} */
    static String describe(String url, String user, String password) {
        try (Connection c = connect(url, user, password);
                PreparedStatement s = c.prepareStatement("SELECT VERSION()");
                ResultSet r = s.executeQuery()) {
            r.next();
            String version = r.getString(1);
            Matcher m = VERSION.matcher(version == null ? "" : version);
            String product = version != null && version.contains("MariaDB") ? "MariaDB" : "MySQL";
            String number = m.matches() ? m.group(1) : "?";
            return product + " " + number + " on " + Coordinator.hostOf(url.replaceFirst("^jdbc:", "")) + ", client "
                    + BenchRunner.jarOf(Driver.class) + " with " + BenchRunner.jarOf(HikariDataSource.class);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot read the version of the MySQL / MariaDB server of EKKO_TEST_MYSQL_URL: " + e, e);
        }
    }

    /**
     * Deletes the rows of every namespace that starts with {@code prefix} (which holds no LIKE wildcard) from
     * {@link #TABLE} and {@link #SETTINGS_TABLE}, never any other row; a table that does not exist has none.
     *
     * @return how many rows were deleted
     */
    static long deleteRows(String url, String user, String password, String prefix) {
        if (!prefix.matches("[A-Za-z0-9.-]+")) {
            throw new IllegalArgumentException("must be letters, digits and . - only, so it is no LIKE pattern: prefix=" + prefix);
        }
        long deleted = 0;
        try (Connection c = connect(url, user, password)) {
            for (String table : existing(c, List.of(TABLE, SETTINGS_TABLE))) {
                try (PreparedStatement s = c.prepareStatement("DELETE FROM `" + table + "` WHERE namespace LIKE ?")) {
                    s.setString(1, prefix + "%");
                    deleted += s.executeUpdate();
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("cannot delete the run's rows (namespaces " + prefix + "*) on the MySQL / MariaDB server of"
                    + " EKKO_TEST_MYSQL_URL: " + e, e);
        }
        return deleted;
    }

    private static List<String> existing(Connection c, List<String> tables) throws SQLException {
        List<String> found = new ArrayList<>();
        try (PreparedStatement s = c.prepareStatement("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()"
                + " AND TABLE_NAME = ?")) {
            for (String t : tables) {
                s.setString(1, t);
                try (ResultSet r = s.executeQuery()) {
                    if (r.next() && r.getLong(1) > 0) {
                        found.add(t);
                    }
                }
            }
        }
        return found;
    }

    private static Connection connect(String url, String user, String password) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", user);
        p.setProperty("password", password);
        p.setProperty("connectTimeout", "5000");
        p.setProperty("socketTimeout", "30000");
        return DriverManager.getConnection(url, p);
    }
}
