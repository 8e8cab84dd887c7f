package dev.ekko.internal;

import dev.ekko.EkkoClock;
import dev.ekko.EkkoException;
import dev.ekko.SegmentExhaustedException;
import dev.ekko.SegmentGenerator;
import dev.ekko.SegmentStoreException;
import dev.ekko.spi.Segment;
import dev.ekko.spi.SegmentStore;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * The double buffer of one segment name: the range numbers are handed out from, and the next one, fetched in the background
 * once the current one is {@code prefetchAt} used.
 *
 * <p>Hot path: one {@code getAndAdd} on the current range's cursor (a plain field through a {@link VarHandle}), a read of the
 * volatile {@code current}, no lock, no allocation. The thread whose cursor lands exactly on the range's prefetch index
 * schedules the fetch of the next range; a thread whose cursor passes the end takes the lock and moves to the next range,
 * waiting for a fetch a thread is running, or fetching itself when none is (the only I/O on a caller's thread). A prefetch
 * still queued (the fetch thread not yet running it: a short step used up quickly, or a busy machine) is taken over by
 * that caller rather than waited for: the task, when it runs, finds {@code prefetchQueued} cleared and does nothing, so
 * one fetch is made either way.
 *
 * <p>Step: each fetch asks for {@code step} numbers. It doubles (up to {@code stepMax}) when the range before lasted less than
 * half of {@code stepTarget}, and halves (down to {@code stepMin}) when it lasted more than twice that: ranges settle at
 * lasting about {@code stepTarget}, as Leaf's 15-minute rule does, but with the target configurable and read from an
 * injected clock.
 *
 * <p>Stores: each fetch asks the store that answered last, then the others in order; each hands out only its residue class,
 * and every fetch passes the highest number fetched so far as the floor, so numbers keep increasing across stores.
 */
public final class SegmentBuffer implements SegmentGenerator {

    private static final System.Logger LOG = System.getLogger("dev.ekko.segment");

    /** One leased range; numbers first + i * stride for i in [0, count). */
    static final class Range {
        private static final VarHandle CURSOR;

        static {
            try {
                CURSOR = MethodHandles.lookup().findVarHandle(Range.class, "cursor", long.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        final long first;
        final long count;
        final long stride;
        final long prefetchIndex;
        final int store;
        /** The next index to hand out; may run past count (then the range is used up). Accessed through CURSOR. */
        @SuppressWarnings("unused")
        private long cursor;

        Range(Segment s, int store, double prefetchAt) {
            this.first = s.first();
            this.count = s.count();
            this.stride = s.stride();
            this.store = store;
            this.prefetchIndex = Math.min(count - 1, (long) Math.floor(count * prefetchAt));
        }

        long take(long n) {
            return (long) CURSOR.getAndAdd(this, n);
        }

        long last() {
            return first + (count - 1) * stride;
        }
    }

    private final String name;
    private final List<SegmentStore> stores;
    private final EkkoClock clock;
    private final SegmentFetcher fetcher;
    private final long stepMin;
    private final long stepMax;
    private final long stepTargetNanos;
    private final double prefetchAt;

    /** The range numbers come from; replaced under {@link #lock}. */
    private volatile Range current;

    private final Object lock = new Object();
    /** This buffer waits on the fetcher's request stack; set and cleared by {@link SegmentFetcher} through a VarHandle. */
    volatile boolean queued;
    /** The next buffer down the fetcher's request stack; written by the pushing caller before the push, then by the fetcher. */
    SegmentBuffer nextRequest;
    /** Guarded by lock. */
    private Range next;
    /** A fetch is queued or running (one at a time). */
    private boolean fetching;
    /** The fetch is queued for the fetch thread and no thread has started it: a caller that runs out may take it over. */
    private boolean prefetchQueued;
    private long step;
    private long floor = -1;
    private long lastFetchNanos;
    private boolean fetchedOnce;
    private int preferredStore;
    private RuntimeException lastFailure;
    /** What the last store that ran out said; thrown once every store has. Guarded by lock. */
    private SegmentExhaustedException exhaustedFailure;
    private final boolean[] exhausted;
    private boolean closed;

    /**
     * Creates the buffer and fetches its first range on this thread.
     *
     * @throws IllegalArgumentException if the name is not defined at the stores
     * @throws SegmentExhaustedException if it has no number left
     * @throws SegmentStoreException if no store answered
     */
    SegmentBuffer(String name, List<SegmentStore> stores, EkkoClock clock, SegmentFetcher fetcher, long stepMin,
            long stepMax, java.time.Duration stepTarget, double prefetchAt) {
        this.name = Objects.requireNonNull(name, "name");
        this.stores = List.copyOf(stores);
        this.clock = clock;
        this.fetcher = fetcher;
        this.stepMin = stepMin;
        this.stepMax = stepMax;
        this.stepTargetNanos = stepTarget.toNanos();
        this.prefetchAt = prefetchAt;
        this.step = stepMin;
        this.exhausted = new boolean[stores.size()];
        // Each generator starts at a random store, so the processes of a fleet spread over the stores.
        this.preferredStore = java.util.concurrent.ThreadLocalRandom.current().nextInt(stores.size());
        synchronized (lock) {
            fetching = true;
        }
        Range first = null;
        try {
            first = fetch();
        } finally {
            synchronized (lock) {
                fetching = false;
                lock.notifyAll();
            }
        }
        synchronized (lock) {
            if (first == null) {
                throw failure();
            }
            current = first;
        }
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long next() {
        for (;;) {
            Range r = current;
            long i = r.take(1);
            if (i < r.count) {
                if (i == r.prefetchIndex) {
                    prefetch(r);
                }
                return r.first + i * r.stride;
            }
            advance(r);
        }
    }

    @Override
    public void next(long[] into, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, into.length);
        int at = offset;
        int end = offset + length;
        while (at < end) {
            Range r = current;
            long i = r.take(end - at);
            if (i >= r.count) {
                advance(r);
                continue;
            }
            long n = Math.min(end - at, r.count - i);
            if (i <= r.prefetchIndex && r.prefetchIndex < i + n) {
                prefetch(r);
            }
            long v = r.first + i * r.stride;
            for (long k = 0; k < n; k++, v += r.stride) {
                into[at++] = v;
            }
        }
    }

    /** Schedules the fetch of the range after {@code r}, unless one is buffered or in flight. */
    private void prefetch(Range r) {
        synchronized (lock) {
            if (closed || next != null || fetching || current != r) {
                return;
            }
            fetching = true;
            prefetchQueued = true;
        }
        fetcher.request(this);
    }

    /** The queued prefetch, run by the fetch thread (unless a caller that ran out took it over). */
    void backgroundFetch() {
        synchronized (lock) {
            if (!prefetchQueued) {
                return; // taken over by a caller that ran out, or closed
            }
            prefetchQueued = false;
        }
        Range fetched = null;
        try {
            fetched = fetch();
        } finally {
            // Whatever happened (an Error too), the fetch is over: a caller waiting for it must not wait forever.
            synchronized (lock) {
                fetching = false;
                if (fetched != null && !closed) {
                    next = fetched;
                } else if (!closed && !allExhausted()) {
                    // Try again in a second while the current range lasts. Only a scheduled retry, not a fetch in flight: a
                    // caller that runs out meanwhile asks the stores itself and gets their answer, instead of waiting.
                    fetcher.retryLater(this, TimeUnit.SECONDS.toNanos(1));
                }
                lock.notifyAll();
            }
        }
    }

    /** A retry of a failed background fetch, run by the fetch thread. */
    void retryPrefetch() {
        synchronized (lock) {
            if (closed || next != null || fetching) {
                return;
            }
            fetching = true;
            prefetchQueued = true;
        }
        backgroundFetch();
    }

    /** Moves past the used-up range {@code r}: to the buffered next range, after a fetch in flight, or after fetching here. */
    private void advance(Range r) {
        synchronized (lock) {
            while (current == r) {
                if (next != null) {
                    current = next;
                    next = null;
                    return;
                }
                if (closed) {
                    throw closedException();
                }
                if (!fetching || prefetchQueued) {
                    // No fetch, or one the fetch thread has not started: this caller makes it.
                    fetching = true;
                    prefetchQueued = false;
                    break;
                }
                try {
                    lock.wait(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new dev.ekko.GenerationInterruptedException("waiting for a range of segment name \"" + name
                            + "\" from " + describeStores());
                }
            }
            if (current != r) {
                return;
            }
        }
        Range fetched = null;
        try {
            fetched = fetch();
        } finally {
            synchronized (lock) {
                fetching = false;
                lock.notifyAll();
                if (fetched != null) {
                    if (current == r) {
                        current = fetched;
                    } else {
                        next = fetched;
                    }
                }
            }
        }
        if (fetched == null) {
            synchronized (lock) {
                throw closed ? closedException() : failure();
            }
        }
    }

    private dev.ekko.GeneratorClosedException closedException() {
        return new dev.ekko.GeneratorClosedException("segment name \"" + name + "\": its SegmentIds was closed");
    }

    /**
     * Asks the stores for the next range, the one that answered last first. {@return the range, or null with
     * {@link #lastFailure} set}. Called by one thread at a time (the one that set {@code fetching}).
     */
    private Range fetch() {
        long want;
        long above;
        int first;
        synchronized (lock) {
            long now = clock.nanos();
            // The step for this fetch, from how long the last range lasted; kept only if the fetch succeeds, so failed
            // attempts during an outage do not double it again and again.
            want = step;
            if (fetchedOnce) {
                long lasted = now - lastFetchNanos;
                if (lasted < stepTargetNanos / 2) {
                    want = Math.min(stepMax, step * 2);
                } else if (lasted > stepTargetNanos * 2) {
                    want = Math.max(stepMin, step / 2);
                }
            }
            above = floor;
            first = preferredStore;
        }
        RuntimeException failure = null;
        for (int k = 0; k < stores.size(); k++) {
            int s = (first + k) % stores.size();
            synchronized (lock) {
                if (exhausted[s] || closed) {
                    continue;
                }
            }
            SegmentStore store = stores.get(s);
            try {
                Segment got = store.take(name, want, above);
                if (got.first() <= above) {
                    throw new EkkoException("store " + store.describe() + " returned numbers from " + got.first() + " for segment name \""
                            + name + "\", not above the floor " + above + " it was given: a broken store");
                }
                synchronized (lock) {
                    step = want;
                    floor = Math.max(floor, got.last());
                    lastFetchNanos = clock.nanos();
                    fetchedOnce = true;
                    preferredStore = s;
                    lastFailure = null;
                }
                return new Range(got, s, prefetchAt);
            } catch (SegmentExhaustedException e) {
                synchronized (lock) {
                    exhausted[s] = true;
                    exhaustedFailure = e;
                }
                failure = e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                failure = new dev.ekko.GenerationInterruptedException("asking " + store.describe()
                        + " for a range of segment name \"" + name + "\"");
                break;
            } catch (RuntimeException e) {
                failure = e;
                LOG.log(System.Logger.Level.DEBUG, () -> "segment name \"" + name + "\": store " + s + " failed: " + e);
            }
        }
        synchronized (lock) {
            lastFailure = failure;
        }
        return null;
    }

    private boolean allExhausted() {
        for (boolean e : exhausted) {
            if (!e) {
                return false;
            }
        }
        return true;
    }

    /** The exception for a caller who found no range: exhausted if every store is, else the stores' last failure. */
    private RuntimeException failure() {
        RuntimeException f = lastFailure;
        if (allExhausted() && exhaustedFailure != null) {
            return exhaustedFailure;
        }
        if (f instanceof IllegalArgumentException) {
            return f;
        }
        if (f instanceof dev.ekko.GenerationInterruptedException) {
            return f;
        }
        return new SegmentStoreException("segment name \"" + name + "\" has used up every range it held and no store gave it another ("
                + describeStores() + ")" + (f == null ? "" : ": " + f.getMessage()) + "; the next call asks again", f);
    }

    private String describeStores() {
        StringBuilder b = new StringBuilder();
        for (SegmentStore s : stores) {
            b.append(b.length() == 0 ? "" : ", ").append(s.describe());
        }
        return b.toString();
    }

    /** Stops background fetches. Numbers of the buffered ranges are lost (never handed out again by the stores). */
    void close() {
        synchronized (lock) {
            closed = true;
            // A prefetch queued on the fetch thread is dropped by its shutdown: nobody may wait for it.
            fetching = false;
            prefetchQueued = false;
            lock.notifyAll();
        }
    }

    /** {@return the step the next fetch starts from, for tests} */
    long step() {
        synchronized (lock) {
            return step;
        }
    }

    /** {@return whether a next range is buffered, for tests} */
    boolean hasNext() {
        synchronized (lock) {
            return next != null;
        }
    }

    @Override
    public String toString() {
        return "SegmentGenerator{name=" + name + ", stores=" + describeStores() + "}";
    }
}
