package dev.ekko.worker.mysql;

import dev.ekko.EkkoException;
import dev.ekko.SegmentExhaustedException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.Segment;
import dev.ekko.spi.SegmentStore;
import dev.ekko.spi.SegmentStoreProvider;
import dev.ekko.spi.SharedClients;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Map;
import java.util.Set;

/**
 * The {@code mysql} segment store: one row per (namespace, name) in {@code <ekko.mysql.table>_segments}, holding the next
 * number, the maximum, the start, the delta and remainder of the residue class this database serves for the name (recorded
 * by the first define and compared at every take: a process listing its stores in another order is refused, never given
 * another class's counter), and a version. A range is taken by one
 * conditional {@code UPDATE} (the counter moves past the range; its row count decides) and a read of the range's start
 * under the same row lock, committed before the range is returned; InnoDB makes the commit durable before it answers
 * (with {@code innodb_flush_log_at_trx_commit=1}, its default). Shares the JVM's connection pool of the worker-ID allocator
 * for the same settings.
 *
 * <p>The largest number handed out is {@code min(max, Long.MAX_VALUE - delta)}: the counter is stored as the next number.
 */
final class MysqlSegmentStore implements SegmentStore {

    private final MysqlSettings settings;
    private final SharedClients.Handle<MysqlDatabase> pool;
    private final String table;
    private final int delta;
    private final int remainder;
    private volatile boolean checked;

    MysqlSegmentStore(MysqlSettings settings, SharedClients.Handle<MysqlDatabase> pool, int delta, int remainder) {
        this.settings = settings;
        this.pool = pool;
        this.table = settings.table() + "_segments";
        this.delta = delta;
        this.remainder = remainder;
    }

    /** {@return the CREATE TABLE statement, for the docs and a DBA} */
    static String ddl(String table) {
        return "CREATE TABLE IF NOT EXISTS `" + table + "` (\n"
                + "  namespace VARCHAR(100) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,\n"
                + "  name VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,\n"
                + "  remainder INT NOT NULL,\n"
                + "  delta INT NOT NULL,\n"
                + "  start_value BIGINT NOT NULL,\n"
                + "  max_value BIGINT NOT NULL,\n"
                + "  next_value BIGINT NOT NULL,\n"
                + "  version BIGINT NOT NULL,\n"
                + "  updated_at DATETIME(6) NOT NULL,\n"
                + "  PRIMARY KEY (namespace, name)\n"
                + ") ENGINE=InnoDB";
    }

    private Connection connection() throws SQLException {
        Connection c = pool.client().dataSource().getConnection();
        if (c.getAutoCommit()) {
            c.setAutoCommit(false);
        }
        if (!checked) {
            try (Statement s = c.createStatement()) {
                s.execute(ddl(table));
            }
            c.commit();
            checked = true;
        }
        return c;
    }

    @Override
    public void define(String name, long start, long max) {
        try (Connection c = connection()) {
            try {
                try (PreparedStatement s = c.prepareStatement("INSERT IGNORE INTO `" + table + "` (namespace, name, remainder, delta,"
                        + " start_value, max_value, next_value, version, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, UTC_TIMESTAMP(6))")) {
                    s.setString(1, settings.namespace());
                    s.setString(2, name);
                    s.setInt(3, remainder);
                    s.setInt(4, delta);
                    s.setLong(5, start);
                    s.setLong(6, max);
                    s.setLong(7, SegmentStore.firstOfClass(start, delta, remainder));
                    s.executeUpdate();
                }
                try (PreparedStatement s = c.prepareStatement("SELECT delta, remainder, start_value, max_value FROM `" + table + "` WHERE"
                        + " namespace = ? AND name = ?")) {
                    s.setString(1, settings.namespace());
                    s.setString(2, name);
                    try (ResultSet r = s.executeQuery()) {
                        r.next();
                        if (r.getInt(1) != delta || r.getInt(2) != remainder || r.getLong(3) != start || r.getLong(4) != max) {
                            throw new IllegalArgumentException("segment name \"" + name + "\" exists at " + describe() + " with delta="
                                    + r.getInt(1) + ", remainder=" + r.getInt(2) + ", start=" + r.getLong(3) + ", max=" + r.getLong(4)
                                    + ", not delta=" + delta + ", remainder=" + remainder + ", start=" + start + ", max=" + max + " as given:"
                                    + " every process must list the same stores in the same order, and a name's start and maximum do not"
                                    + " change");
                        }
                    }
                }
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        } catch (SQLException e) {
            throw failure("defining segment name \"" + name + "\"", e);
        }
    }

    @Override
    public Segment take(String name, long count, long floor) {
        if (count < 1) {
            throw new IllegalArgumentException("must be >= 1: count=" + count);
        }
        long at = SegmentStore.firstOfClass(Math.max(0, floor + 1), delta, remainder);
        long room = Long.MAX_VALUE - delta;
        try (Connection c = connection()) {
            try {
                int updated;
                // LAST_INSERT_ID(x) keeps the range's first number for this session; the row stays locked until the commit.
                try (PreparedStatement s = c.prepareStatement("UPDATE `" + table + "` SET next_value = LAST_INSERT_ID(GREATEST(next_value,"
                        + " ?)) + LEAST(?, (LEAST(max_value, ?) - GREATEST(next_value, ?)) DIV delta + 1) * delta, version = version + 1,"
                        + " updated_at = UTC_TIMESTAMP(6) WHERE namespace = ? AND name = ? AND remainder = ? AND delta = ?"
                        + " AND GREATEST(next_value, ?) <= LEAST(max_value, ?)")) {
                    s.setLong(1, at);
                    s.setLong(2, count);
                    s.setLong(3, room);
                    s.setLong(4, at);
                    s.setString(5, settings.namespace());
                    s.setString(6, name);
                    s.setInt(7, remainder);
                    s.setInt(8, delta);
                    s.setLong(9, at);
                    s.setLong(10, room);
                    updated = s.executeUpdate();
                }
                if (updated == 1) {
                    long first;
                    long next;
                    try (PreparedStatement s = c.prepareStatement("SELECT LAST_INSERT_ID(), next_value FROM `" + table + "` WHERE"
                            + " namespace = ? AND name = ?")) {
                        s.setString(1, settings.namespace());
                        s.setString(2, name);
                        try (ResultSet r = s.executeQuery()) {
                            r.next();
                            first = r.getLong(1);
                            next = r.getLong(2);
                        }
                    }
                    c.commit();
                    return new Segment(first, (next - first) / delta, delta);
                }
                try (PreparedStatement s = c.prepareStatement("SELECT delta, max_value, remainder FROM `" + table + "` WHERE namespace = ?"
                        + " AND name = ?")) {
                    s.setString(1, settings.namespace());
                    s.setString(2, name);
                    try (ResultSet r = s.executeQuery()) {
                        if (!r.next()) {
                            throw new IllegalArgumentException("unknown segment name \"" + name + "\" at " + describe() + ": define it"
                                    + " first (SegmentIds.define, or ./ekko segment define); a name whose row was deleted is refused, never"
                                    + " started again, since its numbers may have been handed out");
                        }
                        if (r.getInt(1) != delta || r.getInt(3) != remainder) {
                            throw new IllegalArgumentException("segment name \"" + name + "\" at " + describe() + " was defined with delta="
                                    + r.getInt(1) + " and remainder=" + r.getInt(3) + ", not " + delta + " and " + remainder + ": every process"
                                    + " must list the same stores in the same order");
                        }
                        throw new SegmentExhaustedException(name, Math.min(r.getLong(2), room), describe());
                    }
                } finally {
                    c.rollback();
                }
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        } catch (SQLException e) {
            throw failure("taking a range of segment name \"" + name + "\"", e);
        }
    }

    private EkkoException failure(String what, SQLException e) {
        return new EkkoException("MySQL at " + describe() + " failed while " + what + ": " + settings.masked(String.valueOf(e.getMessage())),
                e);
    }

    @Override
    public String describe() {
        return settings.tables() + "_segments namespace " + settings.namespace() + " (residue " + remainder + " of " + delta + ")";
    }

    @Override
    public void close() {
        pool.close();
    }

    @Override
    public String toString() {
        return "MysqlSegmentStore{" + describe() + "}";
    }

    /** The {@link java.util.ServiceLoader} entry for the {@code mysql} segment store. */
    public static final class Provider implements SegmentStoreProvider {

        /** Creates the provider; {@link java.util.ServiceLoader} calls it. */
        public Provider() {
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

        /** {@return the {@code ekko.mysql.*} keys, as for the worker allocator} */
        @Override
        public Set<String> configKeys() {
            return MysqlSettings.KEYS;
        }

        /**
         * Creates the store on the JVM's pool for these settings.
         *
         * @param settings the {@code ekko.mysql.*} settings
         * @param delta stores per name
         * @param remainder this store's residue
         * @return the store
         */
        @Override
        public SegmentStore create(Map<String, String> settings, int delta, int remainder) {
            SegmentStore.checkResidue(delta, remainder);
            MysqlSettings parsed = MysqlSettings.from(AllocatorContext.builder().settings(settings).build());
            return new MysqlSegmentStore(parsed, MysqlAllocatorProvider.pool(parsed), delta, remainder);
        }
    }
}
