package dev.ekko.bench;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.LongUnaryOperator;

/**
 * A re-implementation of the double buffer of Meituan's Leaf (segment mode), written for this benchmark from the
 * algorithm as Leaf describes it; no code of Leaf's is used. Leaf is not published to Maven Central, so it cannot be
 * measured as shipped: this is its algorithm with the same in-memory store as the other contenders.
 *
 * <p>The algorithm: a buffer of two segments, each a range {@code [value, max)} with an {@link AtomicLong} value. A caller
 * takes the read lock, and when the current segment has used 10% of its step (less than 90% left) and the other segment is
 * neither ready nor being loaded, hands the loading of the next range to a background thread; then it increments the current
 * segment's value and returns it if it is below {@code max}. A caller that finds the segment used up lets the read lock go,
 * waits while a load is running (spinning, then at most one sleep of 10 ms), takes the write lock and switches to the other segment if
 * it is ready. When neither segment has numbers after that wait (the loader thread was not scheduled in time: a short step on
 * a busy machine), Leaf answers with an error; this buffer waits again instead, as a caller retrying would, so that a run
 * measures the time lost rather than stopping. The background load fills the other segment, then marks it ready
 * under the write lock. Leaf also looks each call's key up in a map and adapts its step to a 15-minute rule: left out here,
 * where every contender has one name and one fixed step.
 */
final class LeafStyleBuffer implements AutoCloseable {

    private static final int SPINS_BEFORE_SLEEP = 10_000;

    /** One of the two segments. {@code max} and {@code step} are written before the segment is marked ready. */
    private static final class Half {
        final AtomicLong value = new AtomicLong();
        volatile long max;
        volatile long step;

        long idle() {
            return max - value.get();
        }
    }

    private final Half[] halves = {new Half(), new Half()};
    private final ReadWriteLock lock = new ReentrantReadWriteLock();
    private final AtomicBoolean loading = new AtomicBoolean();
    private final ExecutorService loader;
    private final LongUnaryOperator store;
    private final long step;
    private volatile int current;
    private volatile boolean nextReady;
    private volatile RuntimeException loaderFailure;

    /**
     * Loads the first segment on this thread.
     *
     * @param store gives the first number of {@code count} fresh ones
     * @param step numbers per segment
     */
    LeafStyleBuffer(LongUnaryOperator store, long step) {
        this.store = store;
        this.step = step;
        this.loader = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "leaf-style-loader");
            t.setDaemon(true);
            return t;
        });
        fill(halves[0]);
    }

    private void fill(Half h) {
        long first = store.applyAsLong(step);
        h.value.set(first);
        h.max = first + step;
        h.step = step;
    }

    private void loadNext() {
        Half other = halves[1 - current];
        try {
            fill(other);
        } catch (RuntimeException e) {
            loaderFailure = e;
            loading.set(false);
            throw e;
        }
        lock.writeLock().lock();
        try {
            nextReady = true;
            loading.set(false);
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** {@return the next number} */
    long next() {
        for (;;) {
            lock.readLock().lock();
            try {
                Half h = halves[current];
                if (!nextReady && h.idle() < 0.9 * h.step && loading.compareAndSet(false, true)) {
                    loader.execute(this::loadNext);
                }
                long v = h.value.getAndIncrement();
                if (v < h.max) {
                    return v;
                }
            } finally {
                lock.readLock().unlock();
            }
            waitWhileLoading();
            lock.writeLock().lock();
            try {
                Half h = halves[current];
                long v = h.value.getAndIncrement();
                if (v < h.max) {
                    return v;
                }
                if (nextReady) {
                    current = 1 - current;
                    nextReady = false;
                } else if (loaderFailure != null) {
                    throw new IllegalStateException("both segments are used up and the load of the next one failed", loaderFailure);
                }
                // else: Leaf answers with an error here (both segments not ready); this waits again, as a caller retrying would.
            } finally {
                lock.writeLock().unlock();
            }
        }
    }

    private void waitWhileLoading() {
        int spins = 0;
        while (loading.get()) {
            if (++spins > SPINS_BEFORE_SLEEP) {
                try {
                    TimeUnit.MILLISECONDS.sleep(10);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for the next segment", e);
                }
                return;
            }
        }
    }

    @Override
    public void close() {
        loader.shutdownNow();
    }
}
