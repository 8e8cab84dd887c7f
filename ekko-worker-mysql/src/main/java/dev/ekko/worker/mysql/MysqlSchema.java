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
                + "  KEY by_last_instance (namespace, idc, last_instance)\n"
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
     * @param c a connection in auto-commit mode
     * @param where for messages
     * @throws EkkoException naming the table and what is wrong with it if an existing table has another shape
     * @throws SQLException if the database fails
     */
    void ensure(Connection c, String where) throws SQLException {
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
        if (!problems.isEmpty()) {
            throw new EkkoException("refusing to use the tables at " + where + ": they exist with another shape than ekko-worker-mysql's: "
                    + String.join("; ", problems) + ". They were made by something else or by another version: set "
                    + MysqlSettings.TABLE_KEY + " to another name (the module creates its tables), or create them with the DDL in"
                    + " docs/mysql.md");
        }
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
