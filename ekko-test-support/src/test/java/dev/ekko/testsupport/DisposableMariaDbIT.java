package dev.ekko.testsupport;

import static dev.ekko.testsupport.ServerAssertions.assertCleanedUp;
import static dev.ekko.testsupport.ServerAssertions.assertRefusesConnections;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DisposableMariaDbIT {

    @Test
    void stopThenStartKeepsCommittedRowsOnTheSamePort() throws SQLException {
        try (DisposableMariaDb db = DisposableMariaDb.launch()) {
            int port = db.port();
            execute(db, "CREATE TABLE worker (id INT PRIMARY KEY)", "INSERT INTO worker VALUES (1), (2)");

            db.stop();

            assertFalse(db.isRunning());
            assertRefusesConnections(port);

            db.start();

            assertEquals(port, db.port());
            assertEquals(List.of(1, 2), workerIds(db));
        }
    }

    @Test
    void rowsCommittedBeforeAKillSurviveIt() throws SQLException {
        try (DisposableMariaDb db = DisposableMariaDb.launch()) {
            execute(db, "CREATE TABLE worker (id INT PRIMARY KEY) ENGINE=InnoDB", "INSERT INTO worker VALUES (7)");

            db.kill();
            assertRefusesConnections(db.port());
            db.start();

            assertEquals(List.of(7), workerIds(db));
        }
    }

    @Test
    void restartEmptyComesBackOnTheSamePortWithAnEmptyDatabaseAndTheSameCredentials() throws SQLException {
        try (DisposableMariaDb db = DisposableMariaDb.launch()) {
            int port = db.port();
            execute(db, "CREATE TABLE worker (id INT PRIMARY KEY)", "INSERT INTO worker VALUES (1)");

            db.restartEmpty();

            assertEquals(port, db.port());
            assertEquals(List.of(), tables(db));
            execute(db, "CREATE TABLE worker (id INT PRIMARY KEY)", "INSERT INTO worker VALUES (2)");
            assertEquals(List.of(2), workerIds(db));
        }
    }

    @Test
    void closeKillsTheProcessAndDeletesItsDirectory() throws Exception {
        DisposableMariaDb db = DisposableMariaDb.launch();
        long pid = db.pid();
        Path directory = db.directory();
        assertTrue(db.jdbcUrl().startsWith("jdbc:mysql://127.0.0.1:" + db.port() + "/ekko?"), db.jdbcUrl());

        db.close();

        assertCleanedUp(pid, directory);
        assertRefusesConnections(db.port());
    }

    private static void execute(DisposableMariaDb db, String... statements) throws SQLException {
        try (Connection connection = DriverManager.getConnection(db.jdbcUrl(), db.user(), db.password());
                Statement statement = connection.createStatement()) {
            for (String sql : statements) {
                statement.execute(sql);
            }
        }
    }

    private static List<Integer> workerIds(DisposableMariaDb db) throws SQLException {
        List<Integer> ids = new ArrayList<>();
        try (Connection connection = DriverManager.getConnection(db.jdbcUrl(), db.user(), db.password());
                Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("SELECT id FROM worker ORDER BY id")) {
            while (rows.next()) {
                ids.add(rows.getInt(1));
            }
        }
        return ids;
    }

    private static List<String> tables(DisposableMariaDb db) throws SQLException {
        List<String> names = new ArrayList<>();
        try (Connection connection = DriverManager.getConnection(db.jdbcUrl(), db.user(), db.password());
                Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("SHOW TABLES")) {
            while (rows.next()) {
                names.add(rows.getString(1));
            }
        }
        return names;
    }
}
