package dev.ekko.worker.mysql;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.locks.ReentrantLock;
import javax.sql.DataSource;

/**
 * What the allocators on one connection pool share: the pool, how many of its connections acquires may hold at once, which
 * tables were already checked, and which IDCs are known to have a row for every worker ID.
 *
 * <p>Acquires (and the other slow work: checking the tables, creating rows, a new generation) may hold at most
 * {@link #acquirePermits()} connections at once, at most half the pool (one for a pool of 1), so renewals and releases,
 * which must finish before their holder's fence, always find a connection, however many acquires wait for a row lock.
 *
 * <p>Thread-safe.
 */
final class MysqlDatabase implements AutoCloseable {

    private final DataSource dataSource;
    private final Runnable onClose;
    private final int acquirePermits;
    private final Semaphore acquires;
    /** Tables (by worker-ID table name) checked and created on this pool, each with the lock its check runs under. */
    private final Map<String, ReentrantLock> schemaLocks = new ConcurrentHashMap<>();
    private final Map<String, Boolean> schemaChecked = new ConcurrentHashMap<>();
    /** Per (table, namespace, IDC, worker IDs): when a read last found a row for every worker ID, {@link System#nanoTime()}. */
    private final Map<RowsKey, Long> allRows = new ConcurrentHashMap<>();
    /** Per IDC, the lock that creating its missing rows runs under, so that acquirers of this JVM do it once. */
    private final Map<RowsKey, ReentrantLock> rowLocks = new ConcurrentHashMap<>();

    /** One IDC's rows in one table. */
    record RowsKey(String table, String namespace, int idc, int workerIds) {
    }

    /**
     * @param dataSource where connections come from
     * @param poolSize the pool's size, or 0 if unknown (an application's data source): acquires are then not limited
     * @param onClose closes the pool, or does nothing (an application's data source)
     */
    MysqlDatabase(DataSource dataSource, int poolSize, Runnable onClose) {
        this.dataSource = dataSource;
        this.onClose = onClose;
        this.acquirePermits = poolSize <= 0 ? 0 : Math.max(1, poolSize / 2);
        this.acquires = acquirePermits == 0 ? null : new Semaphore(acquirePermits, true);
    }

    DataSource dataSource() {
        return dataSource;
    }

    /** {@return how many connections acquires may hold at once; 0 for no limit} */
    int acquirePermits() {
        return acquirePermits;
    }

    /** {@return the semaphore acquires take a permit of before they take a connection, or null for no limit} */
    Semaphore acquires() {
        return acquires;
    }

    boolean schemaChecked(String table) {
        return schemaChecked.containsKey(table);
    }

    void schemaChecked(String table, boolean checked) {
        if (checked) {
            schemaChecked.put(table, Boolean.TRUE);
        } else {
            schemaChecked.remove(table);
            allRows.keySet().removeIf(k -> k.table().equals(table));
        }
    }

    /** {@return the lock the check of {@code table} runs under, so that allocators starting together check it once} */
    ReentrantLock schemaLock(String table) {
        return schemaLocks.computeIfAbsent(table, t -> new ReentrantLock());
    }

    /** {@return the lock creating the missing rows of {@code key} runs under} */
    ReentrantLock rowLock(RowsKey key) {
        return rowLocks.computeIfAbsent(key, k -> new ReentrantLock());
    }

    /** {@return when a read last found a row for every worker ID of {@code key} ({@link System#nanoTime()}), or null} */
    Long allRowsSeenAt(RowsKey key) {
        return allRows.get(key);
    }

    void allRowsSeen(RowsKey key, long nanos) {
        allRows.put(key, nanos);
    }

    /** Forgets that every worker ID of {@code key} had a row: one was found missing. */
    void rowMissing(RowsKey key) {
        allRows.remove(key);
    }

    @Override
    public void close() {
        onClose.run();
    }

    @Override
    public String toString() {
        return "MysqlDatabase{acquirePermits=" + acquirePermits + "}";
    }
}
