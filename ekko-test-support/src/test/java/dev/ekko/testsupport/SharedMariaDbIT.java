package dev.ekko.testsupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Real round trips to the shared MariaDB server through HikariCP, in a database of this class's own. */
class SharedMariaDbIT {
    private static TestDatabase database;
    private static HikariDataSource pool;

    @BeforeAll
    static void createDatabaseAndPool() {
        database = TestServers.createMysqlDatabase(SharedMariaDbIT.class);
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(database.jdbcUrl());
        config.setUsername(database.user());
        config.setPassword(database.password());
        config.setMaximumPoolSize(2);
        config.setPoolName("SharedMariaDbIT");
        pool = new HikariDataSource(config);
    }

    @AfterAll
    static void closePoolAndDropDatabase() {
        if (pool != null) {
            pool.close();
        }
        if (database != null) {
            database.close();
        }
    }

    @Test
    void connectsToTheDatabaseOfThisClass() throws SQLException {
        try (Connection connection = pool.getConnection()) {
            assertEquals(database.name(), connection.getCatalog());
        }
    }

    @Test
    void createsATableInsertsAndSelectsRows() throws SQLException {
        try (Connection connection = pool.getConnection(); Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE worker (id INT PRIMARY KEY, owner VARCHAR(64) NOT NULL) ENGINE=InnoDB");
            try (PreparedStatement insert = connection.prepareStatement("INSERT INTO worker VALUES (?, ?)")) {
                for (int id = 1; id <= 3; id++) {
                    insert.setInt(1, id);
                    insert.setString(2, "host-" + id);
                    insert.addBatch();
                }
                assertEquals(3, insert.executeBatch().length);
            }
            List<String> owners = new ArrayList<>();
            try (ResultSet rows = statement.executeQuery("SELECT owner FROM worker WHERE id >= 2 ORDER BY id")) {
                while (rows.next()) {
                    owners.add(rows.getString(1));
                }
            }
            assertEquals(List.of("host-2", "host-3"), owners);
        }
    }

    @Test
    void closingATestDatabaseDropsIt() throws SQLException {
        TestDatabase other = TestServers.createMysqlDatabase(SharedMariaDbIT.class);
        assertTrue(databaseExists(other.name()), other.name());

        other.close();
        other.close();

        assertFalse(databaseExists(other.name()), other.name());
    }

    private static boolean databaseExists(String name) throws SQLException {
        try (Connection connection = pool.getConnection();
                PreparedStatement query = connection.prepareStatement(
                        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?")) {
            query.setString(1, name);
            try (ResultSet result = query.executeQuery()) {
                result.next();
                return result.getInt(1) == 1;
            }
        }
    }
}
