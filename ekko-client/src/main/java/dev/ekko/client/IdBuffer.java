package dev.ekko.client;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * The buffer of one kind of ID: batches in the order they were fetched, refilled by one background fetch at a time
 * once half is used. Guarded by its monitor; a caller waits only on an empty buffer, at most the timeout.
 */
final class IdBuffer {

    /** After a failed refill, the next background one waits this long (a caller on an empty buffer does not). */
    private static final long RETRY_NANOS = 200_000_000L;

    private final String what;
    private final String path;
    private final Fetcher fetcher;
    private final Executor executor;
    private final int batch;
    private final int capacity;
    /** The longest a caller waits on an empty buffer: one refill's worst case, every server's timeout in turn, and a little. */
    private final long waitNanos;

    private final ArrayDeque<long[]> chunks = new ArrayDeque<>();
    private long[] current;
    private int position;
    private int size;
    private boolean refilling;
    private long failedAtNanos;
    private RuntimeException lastFailure;
    private long refillsDone;
    private boolean closed;

    IdBuffer(String what, String path, Fetcher fetcher, Executor executor, int batch, int capacity, Duration timeout) {
        this.what = what;
        this.path = path;
        this.fetcher = fetcher;
        this.executor = executor;
        this.batch = batch;
        this.capacity = capacity;
        this.waitNanos = timeout.toNanos() * Math.max(1, fetcher.servers()) + 100_000_000L;
    }

    synchronized long next() {
        // One refill tries every server in turn, each up to the timeout: a caller on an empty buffer waits for that.
        long deadline = System.nanoTime() + waitNanos;
        long refillsSeen = refillsDone;
        for (;;) {
            if (current != null && position < current.length) {
                long id = current[position++];
                size--;
                refillIfLow();
                return id;
            }
            current = chunks.poll();
            position = 0;
            if (current != null) {
                continue;
            }
            if (closed) {
                throw new IllegalStateException("EkkoClient is closed");
            }
            // Empty. A refill that failed since this call began: a refusal (4xx) is the caller's answer at once; servers
            // down or failing are asked again, at most every RETRY_NANOS, until the caller's deadline.
            RuntimeException failed = lastFailure;
            long now = System.nanoTime();
            boolean failedHere = refillsDone > refillsSeen && !refilling && failed != null;
            if (failedHere && (failed instanceof EkkoClientException e && e.refused || now - deadline >= 0)) {
                throw new EkkoClientException("no " + what + " buffered and " + failed.getMessage(), failed);
            }
            if (now - deadline >= 0) {
                throw new EkkoClientException("no " + what + " buffered and no server answered within " + waitNanos / 1_000_000 + " ms"
                        + (failed == null ? "" : " (before: " + failed.getMessage() + ")"), failed);
            }
            long left = deadline - now;
            long backOff = refillIfLow();
            if (backOff > 0) {
                left = Math.min(left, backOff);
            }
            try {
                wait(Math.max(1, left / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new EkkoClientException("interrupted while waiting for " + what, e);
            }
        }
    }

    /**
     * Starts a background refill when half the buffer is used, unless one runs or the last one failed less than
     * {@link #RETRY_NANOS} ago. {@return nanoseconds until a refill may start again after that failure, else 0}
     */
    private long refillIfLow() {
        if (refilling || closed || size > capacity / 2) {
            return 0;
        }
        long sinceFailure = System.nanoTime() - failedAtNanos;
        if (lastFailure != null && sinceFailure < RETRY_NANOS) {
            return RETRY_NANOS - sinceFailure;
        }
        refilling = true;
        try {
            executor.execute(this::refill);
        } catch (RejectedExecutionException e) {
            refilling = false;
        }
        return 0;
    }

    private void refill() {
        RuntimeException failure = null;
        try {
            for (;;) {
                synchronized (this) {
                    if (closed || size + batch > capacity) {
                        return;
                    }
                }
                long[] got = fetcher.fetch(path, batch);
                synchronized (this) {
                    chunks.add(got);
                    size += got.length;
                    lastFailure = null;
                    notifyAll();
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            failure = new EkkoClientException("refill of " + what + " interrupted", e);
        } catch (RuntimeException e) {
            failure = e;
        } finally {
            synchronized (this) {
                refilling = false;
                refillsDone++;
                if (failure != null) {
                    lastFailure = failure;
                    failedAtNanos = System.nanoTime();
                }
                notifyAll();
            }
        }
    }

    synchronized int size() {
        return size;
    }

    synchronized void close() {
        closed = true;
        chunks.clear();
        current = null;
        size = 0;
        notifyAll();
    }
}
