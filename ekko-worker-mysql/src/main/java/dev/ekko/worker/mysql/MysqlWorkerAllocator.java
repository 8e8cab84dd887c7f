package dev.ekko.worker.mysql;

import dev.ekko.EkkoException;
import dev.ekko.LeaseLostException;
import dev.ekko.WorkerIdsExhaustedException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import java.lang.System.Logger.Level;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Collectors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@code mysql}: leases worker IDs of one IDC from a MySQL or MariaDB table (see {@link MysqlSchema} and docs/mysql.md).
 *
 * <p>Acquire is one short READ COMMITTED transaction: the fleet settings check, then a candidate row locked with
 * {@code SELECT ... LIMIT 1 FOR UPDATE SKIP LOCKED} (through the index {@link MysqlSchema#EXPIRY_INDEX}, so it never reads
 * a held row: its cost does not grow with the number of worker IDs), or rows created free with {@code INSERT IGNORE}, then
 * a conditional {@code UPDATE} that sets the token only while the row is still free by the database's clock; its row
 * count decides. Its attempts take one of the pool's acquire permits first ({@link MysqlDatabase}).
 * Renew and release are conditional {@code UPDATE}s on the token. Deadlocks and lock-wait timeouts are retried a bounded
 * number of times and never reach the caller as such.
 *
 * <p>Every time is the database's: {@code UTC_TIMESTAMP(6)}, which does not depend on the session time zone.
 * {@code grantedAtNanos} is read before the transaction starts, so the core's fence falls before the row can expire.
 */
final class MysqlWorkerAllocator implements WorkerAllocator {

    private static final System.Logger LOG = System.getLogger("dev.ekko.mysql");
    private static final SecureRandom RANDOM = new SecureRandom();
    /** How far a current-generation mark may be ahead of the database's clock to count as safe to start on now. */
    static final long SAFE_MARK_SLACK_MILLIS = 1000;
    /** Attempts of one operation after a deadlock, a lock-wait timeout or a lost insert race. */
    static final int MAX_ATTEMPTS = 8;
    private static final String NOW = "UTC_TIMESTAMP(6)";
    private static final String NOW_MICROS = "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6))";
    private static final String FREE = "(token IS NULL OR expires_at <= UTC_TIMESTAMP(6))";
    private static final String HISTORY = "worker, mark, mark_generation, report_time, report_reserved, report_host, report_pid,"
            + " report_instance";

    private final AllocatorContext context;
    private final MysqlSettings settings;
    private final MysqlSchema schema;
    private final MysqlDatabase database;
    private final MysqlDatabase.RowsKey rowsKey;
    private final Runnable onClose;
    private boolean closed;
    /** Per lease token, the reserved-until of its last successful renewal: its row's mark is never lower unless the rows went back. */
    private final java.util.Map<String, Long> reported = new java.util.HashMap<>();

    /**
     * @param database the pool and what the allocators on it share
     * @param onClose gives this allocator's reference to the pool up
     */
    MysqlWorkerAllocator(AllocatorContext context, MysqlSettings settings, MysqlDatabase database, Runnable onClose) {
        this.context = context;
        this.settings = settings;
        this.schema = new MysqlSchema(settings.table());
        this.database = database;
        this.rowsKey = new MysqlDatabase.RowsKey(settings.table(), settings.namespace(), context.idc(), context.workerIds());
        this.onClose = onClose;
        LOG.log(Level.DEBUG, () -> "idc=" + context.idc() + ": worker IDs from " + settings + ", lease TTL "
                + context.leaseTtl().toMillis() + "ms");
    }

    /** Thrown inside a transaction to run it again (a lost race); never leaves this class. */
    private static final class Retry extends Exception {
        private static final long serialVersionUID = 1L;
        /** The transaction committed work that lets the next run go further (rows created): run again at once. */
        final boolean progress;

        Retry() {
            this(false);
        }

        Retry(boolean progress) {
            super(null, null, false, false);
            this.progress = progress;
        }
    }

    /** Most transactions run again at once after {@link Retry#progress}, per operation. */
    static final int MAX_PROGRESS_RETRIES = 64;

    /** A table was dropped while the allocator ran (error 1146). */
    private static final class TableGone extends EkkoException {
        private static final long serialVersionUID = 1L;

        TableGone(String message) {
            super(message);
        }
    }

    @FunctionalInterface
    private interface Work<T> {
        T run(Connection c) throws SQLException, Retry;
    }

    // ---------------------------------------------------------------- the SPI

    @Override
    public synchronized WorkerLease acquire() throws InterruptedException {
        return acquire(Set.of());
    }

    @Override
    public synchronized WorkerLease acquire(Set<Integer> avoid) throws InterruptedException {
        checkInterrupted();
        String what = "acquiring a worker ID of idc=" + context.idc();
        ensureSchema(what);
        String token = HexFormat.of().formatHex(randomBytes());
        long sentAt = context.clock().nanos();
        Object outcome = transaction(what, c -> acquireIn(c, token, avoid));
        for (int restarts = 1; outcome instanceof Recreated recreated; restarts++) {
            LOG.log(Level.WARNING, () -> "idc=" + context.idc() + ": the table " + schema.table() + " at " + settings.tables()
                    + " was created at " + Instant.ofEpochSecond(recreated.actual()) + (recreated.recorded() == null
                    ? ", and its generation has no creation time recorded (written by hand, or restored from such a dump)"
                    : ", not at " + Instant.ofEpochSecond(recreated.recorded()) + " as recorded with its generation: it was recreated"
                    + " (restored from a dump, or altered)") + ", so its marks may be older than what holders used; started a new"
                    + " generation, so every mark is a lower bound from now on (each worker ID's next holder waits one lease TTL"
                    + " plus the tolerated skew once)");
            if (restarts > 3) {
                throw new EkkoException("gave up " + what + " at " + settings.where() + ": the table " + schema.table() + " keeps"
                        + " changing its creation time (now " + Instant.ofEpochSecond(recreated.actual()) + "); is it being recreated"
                        + " or altered over and over?");
            }
            sentAt = context.clock().nanos();
            outcome = transaction(what, c -> acquireIn(c, token, avoid));
        }
        if (outcome instanceof RuntimeException e) {
            throw e;
        }
        WorkerLease lease = (WorkerLease) outcome;
        WorkerLease result = new WorkerLease(lease.workerId(), token, context.leaseTtl(), sentAt, lease.handover(),
                lease.coordinatorTimeMillis(), lease.previousReport());
        LOG.log(Level.DEBUG, () -> "idc=" + context.idc() + ": acquired worker=" + result.workerId() + " at " + settings.where()
                + ", " + result.handover());
        return result;
    }

    @Override
    public synchronized WorkerLease renew(WorkerLease lease, ClockReport report) throws InterruptedException {
        checkInterrupted();
        int worker = lease.workerId();
        String what = "renewing the lease of idc=" + context.idc() + " worker=" + worker;
        // Read before the request leaves: the database sets the new expiry no earlier than this.
        long sentAt = context.clock().nanos();
        Object outcome;
        try {
            outcome = renewIn(what, lease, report);
        } catch (TableGone e) {
            reported.remove(lease.token());
            throw new LeaseLostException("lease of idc=" + context.idc() + " worker=" + worker + " at " + settings.where() + " is gone:"
                    + " its table was dropped (" + e.getMessage() + "); a renewal never re-creates it");
        }
        if (outcome instanceof WentBack back) {
            reported.remove(lease.token());
            String why = "the mark of idc=" + context.idc() + " worker=" + worker + " went back from " + back.expected + " (this holder's"
                    + " last report) to " + (back.found < 0 ? "none (its row or mark is missing)" : back.found);
            try {
                startNewGeneration();
                LOG.log(Level.WARNING, why + " at " + settings.where() + " (its rows were restored from an older copy in place):"
                        + " started a new generation, so every mark is a lower bound from now on");
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, why + " at " + settings.where() + ", and starting a new generation failed: " + e.getMessage());
            }
            throw new LeaseLostException("lease of idc=" + context.idc() + " worker=" + worker + " at " + settings.where() + " is given"
                    + " up: " + why + ": its rows were restored from an older copy in place (a logical restore into the existing"
                    + " tables, a replica that was behind), so this lease and every mark may be older than what was issued since; a"
                    + " new generation makes every mark a lower bound");
        }
        if (outcome instanceof RuntimeException e) {
            reported.remove(lease.token());
            throw e;
        }
        reported.put(lease.token(), report.reservedUntilMillis());
        return lease.renewed(sentAt, (Long) outcome);
    }

    /** A renewal found its row's mark below the last one this holder reported: the rows went back. */
    private record WentBack(long found, long expected) {
    }

    private Object renewIn(String what, WorkerLease lease, ClockReport report) {
        int worker = lease.workerId();
        return transaction(what, true, c -> {
            long now = nowMillis(c);
            int n;
            // LAST_INSERT_ID(x) remembers the row's mark before this update for the session, to see whether it went back.
            try (PreparedStatement s = c.prepareStatement("UPDATE `" + schema.table() + "` SET expires_at = " + NOW
                    + " + INTERVAL ? MICROSECOND, mark = GREATEST(LAST_INSERT_ID(COALESCE(mark, ?)), ?), mark_generation = (SELECT generation FROM `"
                    + schema.metaTable() + "` WHERE id = 1), report_time = ?, report_reserved = ?, report_host = ?, report_pid = ?,"
                    + " report_instance = ?, report_at = " + NOW + ", last_instance = ? WHERE namespace = ? AND idc = ? AND worker = ?"
                    + " AND token = ? AND expires_at > " + NOW)) {
                int i = 1;
                s.setLong(i++, lease.ttl().toNanos() / 1000);
                s.setLong(i++, report.reservedUntilMillis());
                s.setLong(i++, report.reservedUntilMillis());
                i = setReport(s, i, report);
                // Set by a renewal, not by the take: the core renews a lease it keeps before its first ID, and gives one back
                // unrenewed when it cannot start on it (history ahead, state file held by a sibling), which must not take the
                // worker ID from under the instance name that issued on it.
                s.setString(i++, context.instance());
                s.setString(i++, settings.namespace());
                s.setInt(i++, context.idc());
                s.setInt(i++, worker);
                s.setString(i, lease.token());
                n = s.executeUpdate();
            }
            Long expected = reported.get(lease.token());
            if (n == 1) {
                long before;
                try (PreparedStatement s = c.prepareStatement("SELECT LAST_INSERT_ID()"); ResultSet r = s.executeQuery()) {
                    r.next();
                    before = r.getLong(1);
                }
                // Only this holder writes its row's mark while it holds it, and never lower: a mark below what it last reported
                // means the row was written back from an older copy.
                return expected != null && before < expected ? new WentBack(before, expected) : now;
            }
            // A row this holder renewed before that is now missing, or has no mark, went back too: the module never deletes
            // rows, and a mark is never cleared (a restore from a copy taken before the row existed, a replica behind).
            Long found = markOf(c, lease.workerId());
            if (expected != null && (found == null || found < expected)) {
                return new WentBack(found == null ? -1 : found, expected);
            }
            return lost(c, lease);
        });
    }

    /** {@return the worker ID's row's mark, or null (no row, or no mark)} */
    private Long markOf(Connection c, int worker) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT mark FROM `" + schema.table() + "` WHERE namespace = ? AND idc = ? AND"
                + " worker = ?")) {
            s.setString(1, settings.namespace());
            s.setInt(2, context.idc());
            s.setInt(3, worker);
            try (ResultSet r = s.executeQuery()) {
                if (!r.next()) {
                    return null;
                }
                long m = r.getLong(1);
                return r.wasNull() ? null : m;
            }
        }
    }

    @Override
    public synchronized void release(WorkerLease lease, ClockReport finalReport) throws InterruptedException {
        checkInterrupted();
        int worker = lease.workerId();
        String what = "releasing idc=" + context.idc() + " worker=" + worker;
        reported.remove(lease.token());
        Object outcome = transaction(what, true, c -> {
            // A lease that already expired by the database's clock is no longer this holder's to speak for: its release only
            // raises the mark and keeps its generation (a restore may have brought its token back after another holder used
            // the worker ID, and a new generation demoted the mark since). MySQL assigns left to right: expires_at is still
            // the lease's when the first two are computed.
            try (PreparedStatement s = c.prepareStatement("UPDATE `" + schema.table() + "` SET mark = IF(expires_at > " + NOW
                    + ", GREATEST(COALESCE(base_mark, ?), ?), GREATEST(COALESCE(mark, ?), ?)), mark_generation = IF(expires_at > " + NOW
                    + ", (SELECT generation FROM `" + schema.metaTable() + "` WHERE id = 1), mark_generation), report_time = ?,"
                    + " report_reserved = ?, report_host = ?, report_pid = ?, report_instance = ?, report_at = " + NOW + ", token = NULL,"
                    + " expires_at = NULL, granted_at = NULL, holder_host = NULL, holder_pid = NULL, holder_instance = NULL,"
                    + " base_mark = NULL WHERE namespace = ? AND idc = ? AND worker = ? AND token = ?")) {
                int i = 1;
                for (int k = 0; k < 4; k++) {
                    s.setLong(i++, finalReport.reservedUntilMillis());
                }
                i = setReport(s, i, finalReport);
                s.setString(i++, settings.namespace());
                s.setInt(i++, context.idc());
                s.setInt(i++, worker);
                s.setString(i, lease.token());
                return s.executeUpdate() == 1;
            }
        });
        LOG.log(Level.DEBUG, () -> "idc=" + context.idc() + ": " + (Boolean.TRUE.equals(outcome) ? "released worker=" + worker
                : "worker=" + worker + " was no longer ours to release (taken over, or the row is gone)") + " at " + settings.where());
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            onClose.run();
        }
    }

    /**
     * Writes a new random generation to {@code <table>_meta} (creating its row if missing), so that every mark written
     * before it is a lower bound from now on ({@link Handover#atLeast}); see {@link MysqlAllocators#startNewGeneration}.
     */
    synchronized NewGeneration startNewGeneration() {
        String what = "starting a new generation";
        String next = HexFormat.of().formatHex(randomBytes());
        // Statements of their own (autocommit): the command never holds a lock on <table>_meta across a round trip, so a stalled
        // command cannot hold up acquires; the write waits only for acquires in flight (their final read of the generation).
        return transaction(what, c -> {
            c.setAutoCommit(true);
            String previous = null;
            try (PreparedStatement s = c.prepareStatement("SELECT generation FROM `" + schema.metaTable() + "` WHERE id = 1");
                    ResultSet r = s.executeQuery()) {
                if (r.next()) {
                    previous = r.getString(1);
                }
            }
            int written;
            try (PreparedStatement s = c.prepareStatement("UPDATE `" + schema.metaTable() + "` SET generation = ?, created_at = " + NOW
                    + ", table_created = " + tableCreatedSql() + " WHERE id = 1")) {
                s.setString(1, next);
                written = s.executeUpdate();
            }
            if (written == 0) {
                try (PreparedStatement s = c.prepareStatement("INSERT IGNORE INTO `" + schema.metaTable() + "` (id, generation, created_at,"
                        + " table_created) VALUES (1, ?, " + NOW + ", " + tableCreatedSql() + ")")) {
                    s.setString(1, next);
                    written = s.executeUpdate();
                }
                if (written == 0) {
                    throw new Retry(); // created meanwhile: update it
                }
            }
            demoteMarks(c, next);
            long marks;
            try (PreparedStatement s = c.prepareStatement("SELECT COUNT(*) FROM `" + schema.table() + "` WHERE mark IS NOT NULL");
                    ResultSet r = s.executeQuery()) {
                r.next();
                marks = r.getLong(1);
            }
            return new NewGeneration(previous, next, marks, settings.tables());
        });
    }

    /**
     * After a new generation was written: marks every row's mark as of no generation, row by row, each by a statement of its
     * own (autocommit), so that it never holds one row's lock while it waits for another's. An acquire decides whether to
     * trust a mark from its row read under the row's lock, so the two are ordered: an acquire that locked a row before this
     * reached it commits first (this waits for its lock), and one that locks it later reads it demoted. So no acquire that
     * commits after this returned trusts a mark written before the new generation, without any lock on the shared
     * {@code <table>_meta} row. A renewal that read the old generation and writes after this labels its row with it again:
     * that mark is then a lower bound, never trusted.
     *
     * @param c a connection in autocommit mode
     */
    private void demoteMarks(Connection c, String generation) throws SQLException {
        List<Object[]> rows = new ArrayList<>();
        try (PreparedStatement s = c.prepareStatement("SELECT namespace, idc, worker FROM `" + schema.table() + "` WHERE"
                + " mark_generation IS NOT NULL AND mark_generation <> ?")) {
            s.setString(1, generation);
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    rows.add(new Object[] {r.getString(1), r.getInt(2), r.getInt(3)});
                }
            }
        }
        try (PreparedStatement s = c.prepareStatement("UPDATE `" + schema.table() + "` SET mark_generation = NULL WHERE namespace = ?"
                + " AND idc = ? AND worker = ? AND mark_generation IS NOT NULL AND mark_generation <> ?")) {
            for (Object[] row : rows) {
                s.setString(1, (String) row[0]);
                s.setInt(2, (Integer) row[1]);
                s.setInt(3, (Integer) row[2]);
                s.setString(4, generation);
                s.executeUpdate();
            }
        }
    }

    @Override
    public String toString() {
        return "MysqlWorkerAllocator{idc=" + context.idc() + ", " + settings + "}";
    }

    // ---------------------------------------------------------------- acquire

    /** A candidate row, locked: its worker ID and history. */
    private record Candidate(int worker, Long mark, String generation, ClockReport report) {
    }

    /**
     * The worker-ID table's creation time (seconds) differs from the one recorded with the generation: a new generation was
     * committed, and the acquire runs again.
     */
    private record Recreated(Long recorded, long actual) {
    }

    /** The worker-ID table's creation time as Unix seconds (independent of the session time zone), or null if unknown. */
    private String tableCreatedSql() {
        return "(SELECT UNIX_TIMESTAMP(CREATE_TIME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '"
                + schema.table() + "')";
    }

    private Object acquireIn(Connection c, String token, Set<Integer> avoid) throws SQLException, Retry {
        long now;
        String generation;
        Long recordedCreated;
        Long actualCreated;
        try (PreparedStatement s = c.prepareStatement("SELECT " + NOW_MICROS + ", m.generation, m.table_created, " + tableCreatedSql()
                + " FROM (SELECT 1 AS one) x LEFT JOIN `" + schema.metaTable() + "` m ON m.id = 1"); ResultSet r = s.executeQuery()) {
            r.next();
            now = r.getLong(1) / 1000;
            generation = r.getString(2);
            long recorded = r.getLong(3);
            recordedCreated = r.wasNull() ? null : recorded;
            long actual = r.getLong(4);
            actualCreated = r.wasNull() ? null : actual;
        }
        // Every write to <table>_meta is a statement of its own (autocommit): its lock never outlives it, so an acquirer that
        // stalls never holds up the others' final read of the generation.
        if (generation == null) {
            // The meta row was deleted (the tables emptied): a new generation, so every mark left is a lower bound only.
            throw autocommit(c, "INSERT IGNORE INTO `" + schema.metaTable() + "` (id, generation, created_at, table_created) VALUES (1, ?, "
                    + NOW + ", " + tableCreatedSql() + ")", List.of(HexFormat.of().formatHex(randomBytes())));
        }
        if (actualCreated != null && !actualCreated.equals(recordedCreated)) {
            // Recorded and different: the table was dropped and created again since (a dump restored, or an ALTER). Not recorded:
            // the generation row was written by hand or restored from such a dump; the module itself always records it. Either
            // way the marks cannot be trusted: a new generation, then every mark demoted.
            String next = HexFormat.of().formatHex(randomBytes());
            // No demotion of the marks is needed here (unlike after the command): the restored rows carry the generation the
            // restore brought back, which this one replaces; an acquire that read the old creation time runs again (granted()),
            // and one that reads the new one reads this generation with it.
            autocommit(c, "UPDATE `" + schema.metaTable() + "` SET table_created = ?, generation = ?, created_at = " + NOW
                    + " WHERE id = 1 AND generation = ?", List.of(actualCreated, next, generation));
            return new Recreated(recordedCreated, actualCreated);
        }
        EkkoException refusal = checkFleetSettings(c, now);
        if (refusal != null) {
            return refusal;
        }
        int n = context.workerIds();
        String avoidSql = avoid.isEmpty() ? "" : " AND worker NOT IN (" + avoid.stream().sorted().map(String::valueOf)
                .collect(Collectors.joining(",")) + ")";
        String where = " WHERE namespace = ? AND idc = ? AND worker < " + n + " AND " + FREE + avoidSql;
        // Each read names its index: the optimizer must not pick another one for a locking read (see below).
        String base = "SELECT " + HISTORY + " FROM `" + schema.table() + "` FORCE INDEX (PRIMARY)" + where;
        // Free rows through the index on (namespace, idc, expires_at, mark_generation, mark): each statement reads the free
        // rows it returns, plus rows other acquirers hold locked (skipped) and, for the expired ones, those it passes over;
        // never the held rows, whatever their number.
        String fromExpiry = " FROM `" + schema.table() + "` FORCE INDEX (" + MysqlSchema.EXPIRY_INDEX + ")" + where;
        String byExpiry = "SELECT " + HISTORY + fromExpiry;

        // No lock on a row someone holds may outlive a statement of this transaction: InnoDB keeps the lock that a locking read
        // by primary key takes on a row that then fails the WHERE (a held row), and the shared lock of an INSERT IGNORE that
        // meets an existing row, until the transaction ends, even under READ COMMITTED; either would hold up that row's holder's
        // renewals for as long as this transaction takes. So the preferred row is locked only after a plain read saw it free,
        // the scans are range reads (which release the rows that fail the WHERE), and missing rows are created free by
        // statements of their own, outside this transaction, and then taken like any free row.
        int preferred = context.preferredWorkerId();
        if (preferred >= 0 && preferred < n && !avoid.contains(preferred)) {
            Boolean free = preferredState(c, preferred);
            if (free == null) {
                throw createFree(c, List.of(preferred));
            }
            if (free) {
                // A range read of the one row (not a point read by key): it releases the row if it was taken meanwhile and
                // fails the WHERE.
                Candidate got = lockOne(c, base + " AND worker >= " + preferred + " AND worker < " + (preferred + 1));
                if (got != null && got.worker() == preferred && take(c, got, token)) {
                    return granted(c, got, generation, actualCreated);
                }
                // Taken meanwhile, or locked by another acquirer (SKIP LOCKED passed it over): go on with the others.
            }
        }
        // Found by a plain read of its index, then locked by primary key: a locking read of by_last_instance would be a range
        // scan (the key ends with worker, which "worker < n" bounds), whose lock on a held row outlives the statement.
        Candidate last = lockFound(c, "SELECT worker FROM `" + schema.table() + "` FORCE INDEX (by_last_instance)" + where
                + " AND last_instance = " + quoteParam() + " LIMIT " + FOUND_READ, context.instance(), base, null);
        if (last != null) {
            if (take(c, last, token)) {
                return granted(c, last, generation, actualCreated);
            }
            throw new Retry();
        }
        // Locking reads of by_expiry look up an exact prefix only (ref access: "expires_at IS NULL", the mark compared as an
        // expression) and have no ORDER BY (the index's order is the one wanted; a sort would read, and lock, every row of the
        // prefix first): InnoDB locks the first entry past the end of a range scan of a secondary index and keeps that lock
        // until the transaction ends, even under READ COMMITTED, and that entry is usually a held row's. Expired rows (a range
        // of expires_at) are found by a plain read, then locked one by one by a range read of the primary key, which keeps no
        // such lock.
        String safe = " AND mark_generation = " + quoteParam() + " AND mark + 0 <= " + (now + SAFE_MARK_SLACK_MILLIS);
        String expired = " AND expires_at <= " + NOW;
        // Released (or never used) rows with a safe mark, lowest mark first.
        Candidate got = lockOne(c, byExpiry + " AND expires_at IS NULL" + safe, generation);
        if (got == null) {
            // Expired rows with a safe mark (their holders died without a release), the oldest expiry first.
            got = lockFoundPaging(c, "SELECT worker" + fromExpiry + expired + safe, generation, base + safe, generation);
        }
        if (got == null) {
            // Any free row: released or never used first, then expired ones.
            got = lockOne(c, byExpiry + " AND expires_at IS NULL");
        }
        if (got == null) {
            got = lockFoundPaging(c, "SELECT worker" + fromExpiry + expired, null, base, null);
        }
        if (got != null) {
            if (take(c, got, token)) {
                return granted(c, got, generation, actualCreated);
            }
            throw new Retry();
        }
        // No free row: create the rows of worker IDs that have none, all at once, then take one as a free row.
        if (createMissing(c, avoid)) {
            throw new Retry(true);
        }
        if (anyFree(c, avoidSql)) {
            throw new Retry(); // free worker IDs exist, but other acquirers had them locked at that moment
        }
        return exhausted(c, avoid);
    }

    /** Rows an acquire reads (plainly) per search before it locks one of them. */
    private static final int FOUND_READ = 8;

    /**
     * Finds free rows by a plain read of {@code plain} (through an index, at most {@link #FOUND_READ}), then locks the first
     * one still free by a range read of its primary key ({@code locking} plus the key range): a row taken meanwhile fails
     * the WHERE and is let go.
     *
     * @param plain a plain read of {@code worker} through an index
     * @param plainParam its string parameter (after namespace and idc), or null
     * @param locking a locking read of the candidate's columns by primary key, without the key range
     * @param lockingParam its string parameter (after namespace and idc), or null
     */
    private Candidate lockFound(Connection c, String plain, String plainParam, String locking, String lockingParam)
            throws SQLException {
        return lockFound(c, plain, plainParam, locking, lockingParam, new ArrayList<>());
    }

    /** {@link #lockFound}, also telling which worker IDs the plain read found ({@code workers}, filled here). */
    private Candidate lockFound(Connection c, String plain, String plainParam, String locking, String lockingParam,
            List<Integer> workers) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(plain)) {
            s.setString(1, settings.namespace());
            s.setInt(2, context.idc());
            if (plainParam != null) {
                s.setString(3, plainParam);
            }
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    workers.add(r.getInt(1));
                }
            }
        }
        for (int w : workers) {
            Candidate got = lockOne(c, locking + " AND worker >= " + w + " AND worker < " + (w + 1), lockingParam);
            if (got != null) {
                return got;
            }
        }
        return null;
    }

    /** Pages of {@link #FOUND_READ} expired rows an acquire reads at most before it gives the attempt up. */
    private static final int EXPIRED_PAGES = 32;

    /**
     * {@link #lockFound} over expired rows, oldest first, page after page: rows other acquirers hold locked (they found
     * the same oldest rows a moment earlier) are left out of the next page's read, so an acquire finds a free expired row
     * behind them. Its cost grows with the number of rows locked at that moment, not with the number of worker IDs; after
     * {@link #EXPIRED_PAGES} pages the attempt gives up (and is retried).
     *
     * @param plain a plain read of {@code worker} of expired rows through by_expiry, without ORDER BY and LIMIT
     */
    private Candidate lockFoundPaging(Connection c, String plain, String plainParam, String locking, String lockingParam)
            throws SQLException {
        List<Integer> passed = new ArrayList<>();
        for (int page = 0; page < EXPIRED_PAGES; page++) {
            StringBuilder q = new StringBuilder(plain);
            if (!passed.isEmpty()) {
                q.append(" AND worker NOT IN (");
                for (int i = 0; i < passed.size(); i++) {
                    q.append(i == 0 ? "" : ",").append(passed.get(i));
                }
                q.append(')');
            }
            q.append(" ORDER BY expires_at LIMIT ").append(FOUND_READ);
            List<Integer> workers = new ArrayList<>();
            Candidate got = lockFound(c, q.toString(), plainParam, locking, lockingParam, workers);
            if (got != null) {
                return got;
            }
            if (workers.size() < FOUND_READ) {
                return null;
            }
            passed.addAll(workers);
        }
        return null;
    }

    /** Rows created by one statement. */
    private static final int CREATE_AT_ONCE = 256;

    /**
     * Creates free rows for the worker IDs of this IDC that have none (but those in {@code avoid}), unless this JVM's
     * acquirers found a row for every worker ID within the last lease TTL: then it costs nothing. Otherwise it reads the
     * worker IDs of the IDC's rows (a plain read of up to {@code workerIds} index entries), so at most once per lease TTL per
     * pool and IDC once every worker ID has a row (rows are never deleted by the module; a renewal that finds its row
     * deleted makes the next acquire read again). Acquirers of this JVM do it one at a time; the others wait for it and
     * then find the new rows.
     *
     * @return whether rows were created (or another acquirer of this JVM created them meanwhile): run the transaction again
     */
    private boolean createMissing(Connection c, Set<Integer> avoid) throws SQLException, Retry {
        long ttl = context.leaseTtl().toNanos();
        Long seen = database.allRowsSeenAt(rowsKey);
        if (seen != null && System.nanoTime() - seen < ttl && firstAndLastExist(c)) {
            return false;
        }
        ReentrantLock lock = database.rowLock(rowsKey);
        boolean locked;
        try {
            // This transaction holds no row lock here: the reads above found nothing to lock.
            locked = lock.tryLock(settings.timeout().toMillis() * PERMIT_WAIT_TIMEOUTS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EkkoException("interrupted while acquiring a worker ID of idc=" + context.idc() + " at " + settings.where());
        }
        if (!locked) {
            throw new Retry();
        }
        try {
            Long again = database.allRowsSeenAt(rowsKey);
            if (again != null && !again.equals(seen) && System.nanoTime() - again < ttl) {
                return true; // created by another acquirer of this JVM while this one waited
            }
            int n = context.workerIds();
            BitSet existing = new BitSet(n);
            try (PreparedStatement s = c.prepareStatement("SELECT worker FROM `" + schema.table() + "` WHERE namespace = ? AND idc = ?"
                    + " AND worker < " + n)) {
                s.setString(1, settings.namespace());
                s.setInt(2, context.idc());
                try (ResultSet r = s.executeQuery()) {
                    while (r.next()) {
                        existing.set(r.getInt(1));
                    }
                }
            }
            List<Integer> missing = new ArrayList<>();
            boolean avoidedMissing = false;
            for (int w = existing.nextClearBit(0); w < n; w = existing.nextClearBit(w + 1)) {
                if (avoid.contains(w)) {
                    avoidedMissing = true;
                } else {
                    missing.add(w);
                }
            }
            for (int from = 0; from < missing.size(); from += CREATE_AT_ONCE) {
                insertFree(c, missing.subList(from, Math.min(missing.size(), from + CREATE_AT_ONCE)));
            }
            c.setAutoCommit(false);
            if (!avoidedMissing) {
                database.allRowsSeen(rowsKey, System.nanoTime());
            }
            return !missing.isEmpty();
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@return whether worker IDs 0 and {@code workerIds - 1} have rows} Two index dives: a table or IDC emptied since this JVM
     * last found every row (its rows deleted) shows here at once.
     */
    private boolean firstAndLastExist(Connection c) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT MIN(worker), MAX(worker) FROM `" + schema.table() + "` WHERE namespace = ?"
                + " AND idc = ? AND worker < " + context.workerIds())) {
            s.setString(1, settings.namespace());
            s.setInt(2, context.idc());
            try (ResultSet r = s.executeQuery()) {
                return r.next() && r.getInt(1) == 0 && !r.wasNull() && r.getInt(2) == context.workerIds() - 1;
            }
        }
    }

    /**
     * Inserts free rows for {@code workers} by one {@code INSERT IGNORE} that commits on its own (so no lock outlives it),
     * leaving out those a plain read just before finds created meanwhile: an {@code INSERT IGNORE} that meets an existing row
     * waits for its taker's lock (a stalled taker would hold this acquire up). One created between the two still can: that
     * window is all that is left.
     */
    private void insertFree(Connection c, List<Integer> workers) throws SQLException {
        if (!c.getAutoCommit()) {
            c.commit();
            c.setAutoCommit(true);
        }
        java.util.Set<Integer> left = new java.util.TreeSet<>(workers);
        try (PreparedStatement s = c.prepareStatement("SELECT worker FROM `" + schema.table() + "` WHERE namespace = ? AND idc = ?"
                + " AND worker IN (" + workers.stream().map(String::valueOf).collect(Collectors.joining(",")) + ")")) {
            s.setString(1, settings.namespace());
            s.setInt(2, context.idc());
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    left.remove(r.getInt(1));
                }
            }
        }
        if (left.isEmpty()) {
            return;
        }
        StringBuilder sql = new StringBuilder("INSERT IGNORE INTO `" + schema.table() + "` (namespace, idc, worker) VALUES ");
        int i = 0;
        for (int ignored : left) {
            sql.append(i++ == 0 ? "(?, ?, ?)" : ", (?, ?, ?)");
        }
        try (PreparedStatement s = c.prepareStatement(sql.toString())) {
            int p = 1;
            for (int w : left) {
                s.setString(p++, settings.namespace());
                s.setInt(p++, context.idc());
                s.setInt(p++, w);
            }
            s.executeUpdate();
        }
    }

    /**
     * Ends this transaction (committing what it wrote so far: fleet settings) and runs one statement in autocommit mode, so its
     * locks end with it.
     *
     * @return a {@link Retry} with progress, to throw: the transaction runs again at once
     */
    private Retry autocommit(Connection c, String sql, List<?> params) throws SQLException {
        c.commit();
        c.setAutoCommit(true);
        try (PreparedStatement s = c.prepareStatement(sql)) {
            for (int i = 0; i < params.size(); i++) {
                s.setObject(i + 1, params.get(i));
            }
            s.executeUpdate();
        } finally {
            c.setAutoCommit(false);
        }
        return new Retry(true);
    }

    /**
     * Creates free rows (no lease, no history) for worker IDs that have none, each by an {@code INSERT IGNORE} of its own
     * outside this transaction: a row another acquirer created meanwhile is left alone, and no lock outlives the statement.
     *
     * @return a {@link Retry} with progress, to throw: the transaction runs again and takes a free row
     */
    private Retry createFree(Connection c, List<Integer> workers) throws SQLException {
        for (int w : new java.util.TreeSet<>(workers)) {
            // Looked at again just before: a row created meanwhile may already be taken, and an INSERT IGNORE that meets it
            // waits for its taker's lock (a stalled taker would hold this acquire up). A row created in the microseconds
            // between this read and the insert still can: that window is all that is left.
            if (preferredState(c, w) == null) {
                autocommit(c, "INSERT IGNORE INTO `" + schema.table() + "` (namespace, idc, worker) VALUES (?, ?, ?)",
                        List.of(settings.namespace(), context.idc(), w));
            }
        }
        return new Retry(true);
    }

    /**
     * After a take, in its transaction: the database's clock (the coordinator time of the lease), and the worker-ID table's
     * creation time again. It was checked at the start, but a dump restore may have dropped and created the table between
     * that check and this transaction's first read of it (from then on the table's metadata lock keeps a DROP waiting until
     * this transaction ends): if it changed, the transaction runs again, and its first statement starts a new generation.
     * Whether the candidate's mark is trusted was decided from the row read under its lock (see {@link #demoteMarks}).
     */
    private WorkerLease granted(Connection c, Candidate got, String generation, Long createdAtStart) throws SQLException, Retry {
        long now;
        Long created;
        try (PreparedStatement s = c.prepareStatement("SELECT " + NOW_MICROS + ", " + tableCreatedSql()); ResultSet r = s.executeQuery()) {
            r.next();
            now = r.getLong(1) / 1000;
            long t = r.getLong(2);
            created = r.wasNull() ? null : t;
        }
        if (created != null && !created.equals(createdAtStart)) {
            throw new Retry();
        }
        return lease(got, generation, now);
    }

    /** The placeholder of a string parameter (a marker for {@link #lockOne(Connection, String, String)}). */
    private static String quoteParam() {
        return "?";
    }

    private Candidate lockOne(Connection c, String select) throws SQLException {
        return lockOne(c, select, null);
    }

    private Candidate lockOne(Connection c, String select, String param) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(select + " LIMIT 1 FOR UPDATE SKIP LOCKED")) {
            s.setString(1, settings.namespace());
            s.setInt(2, context.idc());
            if (param != null) {
                s.setString(3, param);
            }
            try (ResultSet r = s.executeQuery()) {
                if (!r.next()) {
                    return null;
                }
                long mark = r.getLong(2);
                Long m = r.wasNull() ? null : mark;
                String gen = r.getString(3);
                long time = r.getLong(4);
                ClockReport report = r.wasNull() ? null : new ClockReport(time, r.getLong(5), r.getString(6), r.getLong(7),
                        r.getString(8));
                return new Candidate(r.getInt(1), m, gen, report);
            }
        }
    }

    /** Sets the lease on a locked candidate row, only while it is still free by the database's clock. */
    private boolean take(Connection c, Candidate got, String token) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("UPDATE `" + schema.table() + "` SET base_mark = mark, token = ?, expires_at = "
                + NOW + " + INTERVAL ? MICROSECOND, granted_at = " + NOW + ", holder_host = ?, holder_pid = ?, holder_instance = ?"
                + " WHERE namespace = ? AND idc = ? AND worker = ? AND " + FREE)) {
            s.setString(1, token);
            s.setLong(2, context.leaseTtl().toNanos() / 1000);
            s.setString(3, context.host());
            s.setLong(4, context.pid());
            s.setString(5, context.instance());
            s.setString(6, settings.namespace());
            s.setInt(7, context.idc());
            s.setInt(8, got.worker());
            return s.executeUpdate() == 1;
        }
    }

    /** A plain (non-locking) read: {@code null} if the worker ID has no row, else whether it is free by the database's clock. */
    private Boolean preferredState(Connection c, int worker) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT " + FREE + " FROM `" + schema.table() + "` WHERE namespace = ? AND idc = ?"
                + " AND worker = ?")) {
            s.setString(1, settings.namespace());
            s.setInt(2, context.idc());
            s.setInt(3, worker);
            try (ResultSet r = s.executeQuery()) {
                return r.next() ? r.getBoolean(1) : null;
            }
        }
    }

    /**
     * @param generation the generation the candidate's mark must have to be trusted; null if it changed during the acquire
     * @param now the database's clock read after the grant, in its transaction: the coordinator time of the lease
     */
    private WorkerLease lease(Candidate got, String generation, long now) {
        Handover handover = got.mark() == null ? Handover.unknown()
                : generation != null && generation.equals(got.generation()) ? Handover.mark(got.mark()) : Handover.atLeast(got.mark());
        // token and grantedAtNanos are filled in by acquire()
        return new WorkerLease(got.worker(), "-", context.leaseTtl(), 0, handover, now, got.report());
    }

    /** A plain read through the index: whether any row is free now (one other acquirers had locked a moment ago). */
    private boolean anyFree(Connection c, String avoidSql) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT 1 FROM `" + schema.table() + "` FORCE INDEX (" + MysqlSchema.EXPIRY_INDEX
                + ") WHERE namespace = ? AND idc = ? AND (expires_at IS NULL OR expires_at <= " + NOW + ") AND worker < "
                + context.workerIds() + " AND " + FREE + avoidSql + " LIMIT 1")) {
            s.setString(1, settings.namespace());
            s.setInt(2, context.idc());
            try (ResultSet r = s.executeQuery()) {
                return r.next();
            }
        }
    }

    /** Leases the exhaustion message reads to name the holders: the ones renewed last. */
    static final int HOLDERS_READ = 256;

    /**
     * {@return the exhaustion, naming the holders of the {@link #HOLDERS_READ} leases renewed last} (a plain read through the
     * index, so bounded however many worker IDs there are), grouped by host and instance, the most frequent first
     */
    private WorkerIdsExhaustedException exhausted(Connection c, Set<Integer> avoid) throws SQLException {
        Map<String, Integer> counts = new LinkedHashMap<>();
        int read = 0;
        try (PreparedStatement s = c.prepareStatement("SELECT holder_host, holder_instance FROM `" + schema.table() + "` FORCE INDEX ("
                + MysqlSchema.EXPIRY_INDEX + ") WHERE namespace = ? AND idc = ? AND expires_at > " + NOW + " AND worker < "
                + context.workerIds() + " ORDER BY expires_at DESC LIMIT " + HOLDERS_READ)) {
            s.setString(1, settings.namespace());
            s.setInt(2, context.idc());
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    read++;
                    counts.merge("host " + r.getString(1) + " instance " + r.getString(2), 1, Integer::sum);
                }
            }
        }
        List<Map.Entry<String, Integer>> sorted = new ArrayList<>(counts.entrySet());
        sorted.sort(Map.Entry.<String, Integer>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()));
        int distinct = sorted.size();
        boolean all = read < HOLDERS_READ; // every held row was read
        String list = sorted.stream().limit(8).map(e -> e.getKey() + " (" + e.getValue() + ")").collect(Collectors.joining(", "));
        long avoidedFree = avoid.stream().filter(w -> w >= 0 && w < context.workerIds()).count();
        return new WorkerIdsExhaustedException("all " + (context.workerIds() - avoidedFree) + " worker IDs of idc=" + context.idc()
                + (avoidedFree == 0 ? "" : " this process may take (it refuses " + new java.util.TreeSet<>(avoid) + ")") + " are held at "
                + settings.where() + ", by " + (all ? "" : "at least ") + distinct + (distinct == 1 ? " holder" : " holders")
                + (all ? ": " : " (of the " + HOLDERS_READ + " leases renewed last): ") + list
                + (distinct > 8 ? ", and " + (distinct - 8) + " more" : "")
                + ". Stop a process, wait for the leases of dead ones to expire (" + context.leaseTtl().toMillis() + " ms), or use another"
                + " idc (ekko.idc) or fewer product bits (ekko.product.bits)");
    }

    /**
     * Compares this process's fleet settings with the ones recorded for the namespace's IDC; records the missing ones (at
     * first use, or a key added by a newer version) and runs the transaction again to compare them.
     *
     * @return the refusal when they differ (the transaction is then rolled back: nothing more is written), else null
     * @throws Retry after recording missing settings
     */
    private EkkoException checkFleetSettings(Connection c, long now) throws SQLException, Retry {
        Map<String, String> ours = context.fleetSettings();
        if (ours.isEmpty()) {
            return null;
        }
        Map<String, String> recorded = recordedSettings(c);
        EkkoException refusal = compare(ours, recorded);
        if (refusal != null) {
            return refusal;
        }
        if (recorded.keySet().containsAll(ours.keySet())) {
            return null;
        }
        Map<String, String> rows = new TreeMap<>(ours);
        if (recorded.isEmpty()) {
            rows.put("first.host", context.host());
            rows.put("first.instance", context.instance());
            rows.put("first.at", Long.toString(now));
        }
        rows.keySet().removeAll(recorded.keySet());
        // One statement of its own (autocommit), so that no lock on the new rows outlives it (a stalled acquirer would hold
        // up every other start), and all missing rows go in at once in key order: of two processes recording at the same
        // time, the first to insert the first key inserts them all. Then the transaction runs again and compares.
        List<Object> params = new ArrayList<>();
        StringBuilder sql = new StringBuilder("INSERT IGNORE INTO `" + schema.settingsTable() + "` (namespace, idc, name, value) VALUES ");
        for (Map.Entry<String, String> e : rows.entrySet()) {
            sql.append(params.isEmpty() ? "" : ", ").append("(?, ?, ?, ?)");
            params.add(settings.namespace());
            params.add(context.idc());
            params.add(e.getKey());
            params.add(e.getValue());
        }
        throw autocommit(c, sql.toString(), params);
    }

    private Map<String, String> recordedSettings(Connection c) throws SQLException {
        Map<String, String> recorded = new TreeMap<>();
        try (PreparedStatement s = c.prepareStatement("SELECT name, value FROM `" + schema.settingsTable() + "` WHERE namespace = ?"
                + " AND idc = ?")) {
            s.setString(1, settings.namespace());
            s.setInt(2, context.idc());
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    recorded.put(r.getString(1), r.getString(2));
                }
            }
        }
        return recorded;
    }

    private EkkoException compare(Map<String, String> ours, Map<String, String> recorded) {
        List<String> differences = new ArrayList<>();
        ours.forEach((k, v) -> {
            String theirs = recorded.get(k);
            if (theirs != null && !theirs.equals(v)) {
                differences.add(k + "=" + v + " here, " + theirs + " recorded");
            }
        });
        if (differences.isEmpty()) {
            return null;
        }
        String at = recorded.get("first.at");
        String when = at == null ? "?" : Instant.ofEpochMilli(Long.parseLong(at)).toString();
        return new EkkoException("refusing to acquire a worker ID of idc=" + context.idc() + " at " + settings.where() + ": every"
                + " process of it must share these settings, and this one differs from what the first process recorded (host "
                + recorded.getOrDefault("first.host", "?") + " instance " + recorded.getOrDefault("first.instance", "?") + " at " + when
                + "): " + String.join("; ", differences) + ". Start this process with the same settings as the rest of the fleet, or give"
                + " it another " + MysqlSettings.NAMESPACE_KEY + "; to change them for the whole fleet, stop every process of the"
                + " namespace and run DELETE FROM " + schema.settingsTable() + " WHERE namespace = '" + settings.namespace()
                + "' AND idc = " + context.idc());
    }

    // ---------------------------------------------------------------- renew

    /** After a renewal changed no row: why, as a {@link LeaseLostException}. */
    private LeaseLostException lost(Connection c, WorkerLease lease) throws SQLException {
        int worker = lease.workerId();
        String prefix = "lease of idc=" + context.idc() + " worker=" + worker + " at " + settings.where();
        try (PreparedStatement s = c.prepareStatement("SELECT token, expires_at <= " + NOW + ", holder_host, holder_pid,"
                + " holder_instance FROM `" + schema.table() + "` WHERE namespace = ? AND idc = ? AND worker = ?")) {
            s.setString(1, settings.namespace());
            s.setInt(2, context.idc());
            s.setInt(3, worker);
            try (ResultSet r = s.executeQuery()) {
                if (!r.next()) {
                    database.rowMissing(rowsKey); // the next acquire on this pool that finds no free row creates it again
                    return new LeaseLostException(prefix + " is gone: its row was deleted (the table emptied or recreated); a renewal"
                            + " never re-creates it");
                }
                String token = r.getString(1);
                if (token == null) {
                    return new LeaseLostException(prefix + " is gone: it was released; a renewal never re-creates it");
                }
                if (token.equals(lease.token())) {
                    return new LeaseLostException(prefix + " is gone: it expired by the database's clock (no renewal within "
                            + lease.ttl().toMillis() + " ms); a renewal never re-creates it");
                }
                return new LeaseLostException(prefix + " is now held by host " + r.getString(3) + " pid " + r.getLong(4) + " instance "
                        + r.getString(5) + ": ours expired (no renewal within " + lease.ttl().toMillis() + " ms) or its row was lost,"
                        + " and the worker ID was acquired again");
            }
        }
    }

    // ---------------------------------------------------------------- talking to the database

    private static int setReport(PreparedStatement s, int i, ClockReport report) throws SQLException {
        s.setLong(i++, report.localTimeMillis());
        s.setLong(i++, report.reservedUntilMillis());
        s.setString(i++, report.host());
        s.setLong(i++, report.pid());
        s.setString(i++, report.instance());
        return i;
    }

    private static long nowMillis(Connection c) throws SQLException {
        try (PreparedStatement s = c.prepareStatement("SELECT " + NOW_MICROS); ResultSet r = s.executeQuery()) {
            r.next();
            return r.getLong(1) / 1000;
        }
    }

    /**
     * Checks (and creates) the tables once per pool: the first acquire on a pool does it while the others of the JVM wait for
     * it, and every later one skips it.
     */
    private void ensureSchema(String what) throws InterruptedException {
        if (database.schemaChecked(schema.table())) {
            return;
        }
        ReentrantLock lock = database.schemaLock(schema.table());
        lock.lockInterruptibly(); // held at most as long as one bounded transaction
        try {
            if (database.schemaChecked(schema.table())) {
                return;
            }
            transaction(what + " (checking the tables)", c -> {
                c.setAutoCommit(true);
                schema.ensure(c, settings.where(), settings.timeout());
                boolean hasMeta;
                try (PreparedStatement s = c.prepareStatement("SELECT 1 FROM `" + schema.metaTable() + "` WHERE id = 1");
                        ResultSet r = s.executeQuery()) {
                    hasMeta = r.next();
                }
                if (!hasMeta) { // an INSERT IGNORE on an existing row would wait for any lock on it
                    try (PreparedStatement s = c.prepareStatement("INSERT IGNORE INTO `" + schema.metaTable() + "` (id, generation,"
                            + " created_at, table_created) VALUES (1, ?, " + NOW + ", " + tableCreatedSql() + ")")) {
                        s.setString(1, HexFormat.of().formatHex(randomBytes()));
                        s.executeUpdate();
                    }
                }
                c.setAutoCommit(false);
                return null;
            });
            database.schemaChecked(schema.table(), true);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Runs one short READ COMMITTED transaction, again after a deadlock, a lock-wait timeout or a {@link Retry}, up to
     * {@link #MAX_ATTEMPTS} times; every other failure becomes an {@link EkkoException} naming the database (password masked).
     * It is an acquire's (or the tables' check, or a new generation): each attempt first takes one of the pool's acquire
     * permits ({@link MysqlDatabase#acquires()}), so that these never hold the connections renewals need.
     */
    private <T> T transaction(String what, Work<T> work) {
        return transaction(what, false, work);
    }

    /**
     * Like {@link #transaction(String, Work)}; an {@code idempotent} one (renew, release) is also sent again on another
     * connection (up to 3 times) after one failed on a broken one (a database restart breaks every pooled connection, and the pool
     * does not test a connection used less than a second ago). An acquire is not: a lost reply could hide a grant.
     */
    private <T> T transaction(String what, boolean idempotent, Work<T> work) {
        if (closed) {
            throw new IllegalStateException("must not be closed: " + this + " (" + what + ")");
        }
        SQLException last = null;
        boolean pause = false;
        int progressRetries = 0;
        Semaphore permits = idempotent ? null : database.acquires();
        for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
            if (pause) {
                try {
                    Thread.sleep(ThreadLocalRandom.current().nextInt(5, 20 * attempt));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new EkkoException("interrupted while " + what + " at " + settings.where());
                }
            }
            if (permits != null) {
                takePermit(permits, what);
            }
            Connection c;
            try {
                c = database.dataSource().getConnection();
            } catch (SQLException e) {
                if (permits != null) {
                    permits.release();
                }
                throw failure(what, e);
            }
            try {
                boolean autoCommit = c.getAutoCommit();
                int isolation = c.getTransactionIsolation();
                try {
                    c.setAutoCommit(false);
                    c.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
                    T result = work.run(c);
                    if (result instanceof RuntimeException) {
                        c.rollback(); // a refusal writes nothing
                    } else if (!c.getAutoCommit()) {
                        c.commit();
                    }
                    return result;
                } catch (Retry r) {
                    if (!c.getAutoCommit()) {
                        c.rollback();
                    }
                    pause = !r.progress || ++progressRetries > MAX_PROGRESS_RETRIES;
                    if (!pause) {
                        attempt--; // progress was committed: not a lost race
                    }
                } catch (SQLException e) {
                    pause = true;
                    rollbackQuietly(c);
                    if (e.getErrorCode() == 1146) {
                        database.schemaChecked(schema.table(), false); // the next acquire creates the tables again
                        throw new TableGone(failure(what, e).getMessage());
                    }
                    if (e.getErrorCode() == 1176) {
                        database.schemaChecked(schema.table(), false); // an index was dropped: the next acquire adds it again
                    }
                    boolean broken = "08".equals(sqlClass(e)) || e instanceof java.sql.SQLRecoverableException
                            || e instanceof java.sql.SQLNonTransientConnectionException;
                    if (!retryable(e) && !(idempotent && broken && attempt <= 3)) {
                        throw e;
                    }
                    last = e;
                } finally {
                    try {
                        c.setAutoCommit(autoCommit);
                        c.setTransactionIsolation(isolation);
                    } catch (SQLException e) {
                        // the pool resets or drops a broken connection
                    }
                }
            } catch (SQLException e) {
                throw failure(what, e);
            } finally {
                try {
                    c.close();
                } catch (SQLException e) {
                    // returned to the pool, or gone
                }
                if (permits != null) {
                    permits.release();
                }
            }
        }
        throw new EkkoException("gave up " + what + " at " + settings.where() + " after " + MAX_ATTEMPTS + " attempts that lost races"
                + " with other processes" + (last == null ? "" : " (last: " + settings.masked(describe(last)) + ")") + "; try again");
    }

    /** How many timeouts an acquire waits for one of the pool's acquire permits, at most. */
    static final int PERMIT_WAIT_TIMEOUTS = 4;

    /**
     * Waits for one of the acquire permits of the pool, up to {@link #PERMIT_WAIT_TIMEOUTS} times {@code ekko.mysql.timeout}:
     * acquires wait in line (fairly) rather than take the connections renewals need.
     */
    private void takePermit(Semaphore permits, String what) {
        long waitMillis = PERMIT_WAIT_TIMEOUTS * settings.timeout().toMillis();
        boolean got;
        try {
            got = permits.tryAcquire(waitMillis, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EkkoException("interrupted while " + what + " at " + settings.where() + ", waiting for a connection");
        }
        if (!got) {
            throw new EkkoException("no connection for " + what + " at " + settings.where() + " within " + waitMillis + " ms ("
                    + PERMIT_WAIT_TIMEOUTS + " x " + MysqlSettings.TIMEOUT_KEY + "=" + settings.timeout().toMillis() + "ms): the acquires"
                    + " of this JVM on this pool may hold " + database.acquirePermits() + " of its connections at once (half of them,"
                    + " the rest is kept for renewals), and other acquires held them all that"
                    + " time (the database is slow, or they wait for row locks); raise " + MysqlSettings.POOL_SIZE_KEY
                    + " or start fewer generators at once");
        }
    }

    /** Deadlock (1213, SQLState 40001) or lock wait timeout (1205): the transaction was rolled back and may run again. */
    private static boolean retryable(SQLException e) {
        return e.getErrorCode() == 1213 || e.getErrorCode() == 1205 || "40001".equals(e.getSQLState());
    }

    private static void rollbackQuietly(Connection c) {
        try {
            if (!c.getAutoCommit()) { // a failure between statements of their own leaves nothing to roll back
                c.rollback();
            }
        } catch (SQLException e) {
            // the connection is broken; the database rolls back when it notices
        }
    }

    private EkkoException failure(String what, SQLException e) {
        String detail = settings.masked(describe(e));
        SQLException root = e;
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException s && s.getErrorCode() != 0) {
                root = s;
            }
        }
        String message;
        int code = root.getErrorCode();
        if (code == 1045 || "28000".equals(root.getSQLState())) {
            message = "MySQL at " + settings.where() + " refused " + (settings.user() == null ? "the URL's user" : "user " + settings.user())
                    + " while " + what + ": " + detail + " (check " + MysqlSettings.USER_KEY + " and " + MysqlSettings.PASSWORD_KEY + ")";
        } else if (code == 1142 || code == 1044 || code == 1143) {
            message = "MySQL at " + settings.where() + " denied a privilege while " + what + ": " + detail + " (docs/mysql.md lists the"
                    + " privileges the user needs)";
        } else if (!(e instanceof SQLTransientConnectionException) && timedOut(e)) {
            message = "no reply from MySQL at " + settings.where() + " within " + MysqlSettings.TIMEOUT_KEY + "="
                    + settings.timeout().toMillis() + "ms while " + what + " (the database is down, overloaded or unreachable, or the"
                    + " statement waited that long for a row lock held by another session): " + detail;
        } else if (e instanceof SQLTransientConnectionException || "08".equals(sqlClass(root)) || code == 0) {
            message = "cannot reach MySQL at " + settings.where() + " within " + MysqlSettings.TIMEOUT_KEY + "="
                    + settings.timeout().toMillis() + "ms while " + what + ": " + detail;
        } else {
            message = "MySQL at " + settings.where() + " failed while " + what + ": " + detail;
        }
        // No cause: a driver's exception may carry the URL with its password in places we do not control.
        return new EkkoException(message);
    }

    /** Whether a read on the socket timed out (a sent statement got no reply within the socket timeout). */
    private static boolean timedOut(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.net.SocketTimeoutException) {
                return true;
            }
        }
        return false;
    }

    private static String sqlClass(SQLException e) {
        return e.getSQLState() == null || e.getSQLState().length() < 2 ? "" : e.getSQLState().substring(0, 2);
    }

    /** The messages of an exception and its causes, once each, on one line. */
    private static String describe(Throwable e) {
        List<String> parts = new ArrayList<>();
        for (Throwable t = e; t != null && parts.size() < 4; t = t.getCause()) {
            String message = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage().strip().replaceAll("\\s+", " ");
            String m = message.endsWith(".") ? message.substring(0, message.length() - 1) : message;
            if (parts.stream().noneMatch(p -> p.contains(m))) {
                parts.add(m);
            }
        }
        return String.join(": ", parts);
    }

    private static byte[] randomBytes() {
        byte[] b = new byte[16];
        RANDOM.nextBytes(b);
        return b;
    }

    private static void checkInterrupted() throws InterruptedException {
        if (Thread.interrupted()) {
            throw new InterruptedException();
        }
    }
}
