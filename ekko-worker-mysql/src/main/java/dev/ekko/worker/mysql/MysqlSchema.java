package dev.ekko.worker.mysql;

import dev.ekko.EkkoException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The three tables of one {@code ekko.mysql.table} name: the worker IDs ({@code <table>}), the fleet settings
 * ({@code <table>_settings}) and the generation ({@code <table>_meta}). docs/mysql.md shows the same DDL.
 */
final class MysqlSchema {

    /**
     * The index acquires find free rows through: a released or never-used row has {@code expires_at} NULL, an expired one
     * {@code expires_at} in the past, and a safe mark is one of the current generation not ahead of the clock, so each of
     * an acquire's searches is one range of it (added in 0.1.0 for issue 13; {@link #ensure} adds it to older tables).
     */
    static final String EXPIRY_INDEX = "by_expiry";
    static final List<String> EXPIRY_COLUMNS = List.of("namespace", "idc", "expires_at", "mark_generation", "mark");

    private final String table;
    private final String settingsTable;
    private final String metaTable;

    MysqlSchema(String table) {
        this.table = table;
        this.settingsTable = table + "_settings";
        this.metaTable = table + "_meta";
    }

    String table() {
        return table;
    }

    String settingsTable() {
        return settingsTable;
    }

    String metaTable() {
        return metaTable;
    }

    /**
     * {@return column name to its type as this class compares it, per table, in DDL order}: the information_schema
     * {@code DATA_TYPE} with the precision that matters: {@code datetime(6)} (a {@code DATETIME} without the fraction would
     * cut an expiry down to the second, before the holder's fence), {@code char(32)} (a shorter one cuts tokens and
     * generations), {@code varchar(N)} (at least N)
     */
    Map<String, Map<String, String>> expectedColumns() {
        Map<String, Map<String, String>> all = new LinkedHashMap<>();
        Map<String, String> w = new LinkedHashMap<>();
        for (String[] c : new String[][] {{"namespace", "varchar(100)"}, {"idc", "tinyint"}, {"worker", "smallint"},
                {"token", "char(32)"}, {"expires_at", "datetime(6)"}, {"granted_at", "datetime(6)"}, {"holder_host", "varchar(255)"},
                {"holder_pid", "bigint"}, {"holder_instance", "varchar(255)"}, {"base_mark", "bigint"}, {"mark", "bigint"},
                {"mark_generation", "char(32)"}, {"report_time", "bigint"}, {"report_reserved", "bigint"},
                {"report_host", "varchar(255)"}, {"report_pid", "bigint"}, {"report_instance", "varchar(255)"},
                {"report_at", "datetime(6)"}, {"last_instance", "varchar(255)"}}) {
            w.put(c[0], c[1]);
        }
        all.put(table, w);
        all.put(settingsTable, Map.of("namespace", "varchar(100)", "idc", "tinyint", "name", "varchar(64)", "value", "varchar(255)"));
        all.put(metaTable, Map.of("id", "tinyint", "generation", "char(32)", "created_at", "datetime(6)", "table_created", "bigint"));
        return all;
    }

    /** Whether a column's type (as {@link #columns} reads it) is what {@link #expectedColumns()} asks: a longer varchar does too. */
    static boolean fits(String actual, String expected) {
        if (expected.startsWith("varchar(") && actual.startsWith("varchar(")) {
            return size(actual) >= size(expected);
        }
        return actual.equals(expected);
    }

    private static long size(String type) {
        return Long.parseLong(type.substring(type.indexOf('(') + 1, type.indexOf(')')));
    }

    /** {@return the DDL of every table, as docs/mysql.md shows it} */
    List<String> ddl() {
        return List.of("CREATE TABLE IF NOT EXISTS `" + table + "` (\n"
                + "  namespace       VARCHAR(100) NOT NULL,\n"
                + "  idc             TINYINT UNSIGNED NOT NULL,\n"
                + "  worker          SMALLINT UNSIGNED NOT NULL,\n"
                + "  token           CHAR(32) NULL,\n"
                + "  expires_at      DATETIME(6) NULL,\n"
                + "  granted_at      DATETIME(6) NULL,\n"
                + "  holder_host     VARCHAR(255) NULL,\n"
                + "  holder_pid      BIGINT NULL,\n"
                + "  holder_instance VARCHAR(255) NULL,\n"
                + "  base_mark       BIGINT NULL,\n"
                + "  mark            BIGINT NULL,\n"
                + "  mark_generation CHAR(32) NULL,\n"
                + "  report_time     BIGINT NULL,\n"
                + "  report_reserved BIGINT NULL,\n"
                + "  report_host     VARCHAR(255) NULL,\n"
                + "  report_pid      BIGINT NULL,\n"
                + "  report_instance VARCHAR(255) NULL,\n"
                + "  report_at       DATETIME(6) NULL,\n"
                + "  last_instance   VARCHAR(255) NULL,\n"
                + "  PRIMARY KEY (namespace, idc, worker),\n"
                + "  KEY by_last_instance (namespace, idc, last_instance),\n"
                + "  KEY " + EXPIRY_INDEX + " (" + String.join(", ", EXPIRY_COLUMNS) + ")\n"
                + ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
                "CREATE TABLE IF NOT EXISTS `" + settingsTable + "` (\n"
                + "  namespace VARCHAR(100) NOT NULL,\n"
                + "  idc       TINYINT UNSIGNED NOT NULL,\n"
                + "  name      VARCHAR(64) NOT NULL,\n"
                + "  value     VARCHAR(255) NOT NULL,\n"
                + "  PRIMARY KEY (namespace, idc, name)\n"
                + ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
                "CREATE TABLE IF NOT EXISTS `" + metaTable + "` (\n"
                + "  id            TINYINT UNSIGNED NOT NULL,\n"
                + "  generation    CHAR(32) NOT NULL,\n"
                + "  created_at    DATETIME(6) NOT NULL,\n"
                + "  table_created BIGINT NULL,\n"
                + "  PRIMARY KEY (id)\n"
                + ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    }

    /**
     * Creates the tables that are missing (only those: a user without the CREATE privilege can use tables a DBA created),
     * then checks that every table has every column with the expected type.
     *
     * Then adds the index {@link #EXPIRY_INDEX} to a worker-ID table made by an older version, if the user may (see
     * {@link #addExpiryIndex}).
     *
     * @param c a connection in auto-commit mode
     * @param where for messages
     * @param timeout how long adding the index may wait for the table's metadata lock
     * @throws EkkoException naming the table and what is wrong with it if an existing table has another shape, or the index
     *     is missing and cannot be added (naming the statement that adds it)
     * @throws SQLException if the database fails
     */
    void ensure(Connection c, String where, java.time.Duration timeout) throws SQLException {
        Map<String, Map<String, String>> found = columns(c);
        List<String> ddl = ddl();
        List<String> names = List.of(table, settingsTable, metaTable);
        for (int i = 0; i < names.size(); i++) {
            if (!found.containsKey(names.get(i))) {
                try (Statement s = c.createStatement()) {
                    s.execute(ddl.get(i));
                }
            }
        }
        Map<String, Map<String, String>> now = columns(c);
        List<String> problems = new ArrayList<>();
        expectedColumns().forEach((t, cols) -> {
            Map<String, String> have = now.getOrDefault(t, Map.of());
            if (have.isEmpty()) {
                problems.add("table " + t + " is missing");
                return;
            }
            new TreeMap<>(cols).forEach((col, type) -> {
                String actual = have.get(col);
                if (actual == null) {
                    problems.add(t + "." + col + " is missing");
                } else if (!fits(actual, type)) {
                    problems.add(t + "." + col + " is " + actual + ", not " + type);
                }
            });
        });
        if (problems.isEmpty()) {
            // Uniqueness is what makes two acquirers' inserts of one worker ID collide: without it both would hold it.
            Map<String, List<Set<String>>> unique = uniqueKeys(c);
            Map<String, Set<String>> keys = new LinkedHashMap<>();
            keys.put(table, Set.of("namespace", "idc", "worker"));
            keys.put(settingsTable, Set.of("namespace", "idc", "name"));
            keys.put(metaTable, Set.of("id"));
            keys.forEach((t, key) -> {
                if (!unique.getOrDefault(t, List.of()).contains(key)) {
                    problems.add(t + " has no primary key or unique index on exactly (" + String.join(", ", new TreeSet<>(key))
                            + ")");
                }
            });
        }
        List<String> expiry = problems.isEmpty() ? indexColumns(c, EXPIRY_INDEX) : List.of();
        if (problems.isEmpty() && !expiry.isEmpty() && !expiry.equals(EXPIRY_COLUMNS)) {
            problems.add(table + "." + EXPIRY_INDEX + " is an index on (" + String.join(", ", expiry) + "), not on ("
                    + String.join(", ", EXPIRY_COLUMNS) + ")");
        }
        if (!problems.isEmpty()) {
            throw new EkkoException("refusing to use the tables at " + where + ": they exist with another shape than ekko-worker-mysql's: "
                    + String.join("; ", problems) + ". They were made by something else or by another version: set "
                    + MysqlSettings.TABLE_KEY + " to another name (the module creates its tables), or create them with the DDL in"
                    + " docs/mysql.md");
        }
        if (expiry.isEmpty()) {
            addExpiryIndex(c, where, timeout);
        }
    }

    /** {@return the statement that adds the index {@link #EXPIRY_INDEX} to a worker-ID table made by an older version} */
    String addExpiryIndexDdl() {
        return "ALTER TABLE `" + table + "` ADD INDEX " + EXPIRY_INDEX + " (" + String.join(", ", EXPIRY_COLUMNS) + ")";
    }

    /**
     * Adds the index {@link #EXPIRY_INDEX} to a worker-ID table made by an older version of the module. It is an online
     * operation (InnoDB builds it while rows are read and written), but it needs the table's metadata lock: it waits at most
     * {@code timeout} (at least 1 s) for transactions in flight on the table, so that it never holds up renewals for longer.
     * A user without the {@code ALTER} and {@code INDEX} privileges, or a wait that ran out, gets an error naming the
     * statement for a DBA to run. On MariaDB it changes the table's creation time, so the next acquire starts a new
     * generation (each worker ID's next holder waits one lease TTL once).
     */
    private void addExpiryIndex(Connection c, String where, java.time.Duration timeout) throws SQLException {
        long before;
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT @@SESSION.lock_wait_timeout")) {
            r.next();
            before = r.getLong(1);
        }
        try (Statement s = c.createStatement()) {
            s.execute("SET SESSION lock_wait_timeout = " + Math.max(1, timeout.toSeconds()));
            try {
                s.execute(addExpiryIndexDdl() + ", ALGORITHM=INPLACE, LOCK=NONE");
            } catch (SQLException e) {
                if (e.getErrorCode() == 1061) { // added meanwhile by another process
                    return;
                }
                throw new EkkoException("the table " + table + " at " + where + " lacks the index " + EXPIRY_INDEX + " that acquires"
                        + " find free worker IDs through (tables made before ekko-worker-mysql 0.1.0 have none), and adding it failed ("
                        + e.getMessage() + "). Have a DBA run, at a quiet time (it waits for the transactions on the table): "
                        + addExpiryIndexDdl() + "; or grant this user ALTER and INDEX on the table so that the module adds it");
            } finally {
                s.execute("SET SESSION lock_wait_timeout = " + before);
            }
        }
    }

    /** {@return the columns of {@code index} on the worker-ID table in index order; empty if there is no such index} */
    private List<String> indexColumns(Connection c, String index) throws SQLException {
        List<String> columns = new ArrayList<>();
        try (PreparedStatement s = c.prepareStatement("SELECT COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA ="
                + " DATABASE() AND TABLE_NAME = ? AND INDEX_NAME = ? ORDER BY SEQ_IN_INDEX")) {
            s.setString(1, table);
            s.setString(2, index);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    columns.add(r.getString(1).toLowerCase(Locale.ROOT));
                }
            }
        }
        return columns;
    }

    /** {@return per table, the column sets of its primary key and unique indexes} */
    private Map<String, List<Set<String>>> uniqueKeys(Connection c) throws SQLException {
        Map<String, Map<String, Set<String>>> byIndex = new TreeMap<>();
        try (PreparedStatement s = c.prepareStatement("SELECT TABLE_NAME, INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS"
                + " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?, ?, ?) AND NON_UNIQUE = 0")) {
            s.setString(1, table);
            s.setString(2, settingsTable);
            s.setString(3, metaTable);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    byIndex.computeIfAbsent(r.getString(1), k -> new TreeMap<>()).computeIfAbsent(r.getString(2), k -> new TreeSet<>())
                            .add(r.getString(3).toLowerCase(Locale.ROOT));
                }
            }
        }
        Map<String, List<Set<String>>> unique = new TreeMap<>();
        byIndex.forEach((t, indexes) -> unique.put(t, new ArrayList<>(indexes.values())));
        return unique;
    }

    private Map<String, Map<String, String>> columns(Connection c) throws SQLException {
        Map<String, Map<String, String>> found = new TreeMap<>();
        try (PreparedStatement s = c.prepareStatement("SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH,"
                + " DATETIME_PRECISION FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?, ?, ?)")) {
            s.setString(1, table);
            s.setString(2, settingsTable);
            s.setString(3, metaTable);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    String type = r.getString(3).toLowerCase(Locale.ROOT);
                    if (type.equals("char") || type.equals("varchar")) {
                        type += "(" + r.getLong(4) + ")";
                    } else if (type.equals("datetime")) {
                        type += "(" + r.getLong(5) + ")";
                    }
                    found.computeIfAbsent(r.getString(1), k -> new TreeMap<>()).put(r.getString(2).toLowerCase(Locale.ROOT), type);
                }
            }
        }
        return found;
    }
}
