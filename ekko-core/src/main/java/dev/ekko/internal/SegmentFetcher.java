package dev.ekko.internal;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The one thread that fetches ranges in the background for every name of one {@link dev.ekko.SegmentIds}.
 *
 * <p>Hand-off: a caller asking for a prefetch pushes its {@link SegmentBuffer} onto an intrusive lock-free stack (the link is
 * a field of the buffer, so a request allocates nothing) and unparks the thread only if it is parked. After each batch of
 * requests the thread spins for {@link #SPIN_NANOS} before parking, so that a name using up short ranges quickly (a small
 * step, a burst) hands its next request over with one CAS instead of a futex wake-up: parking and waking a thread costs
 * microseconds, more than a thousand numbers take to count. The spin follows a fetch only, so an idle process spends nothing.
 *
 * <p>Memory ordering: the request stack's head is written by CAS (volatile) and {@code parked} is volatile; a caller writes
 * the head, then reads {@code parked}, and the thread writes {@code parked}, then reads the head, so one of them sees the
 * other (no lost wake-up).
 *
 * <p>Retries: a failed background fetch is tried again after a delay ({@link #retryLater}), kept on this thread only.
 */
final class SegmentFetcher implements Runnable {

    private static final System.Logger LOG = System.getLogger("dev.ekko.segment");

    /** How long the thread keeps polling for the next request after a fetch before it parks. */
    static final long SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(50);

    private static final VarHandle HEAD;
    private static final VarHandle QUEUED;

    static {
        try {
            MethodHandles.Lookup l = MethodHandles.lookup();
            HEAD = l.findVarHandle(SegmentFetcher.class, "head", SegmentBuffer.class);
            QUEUED = l.findVarHandle(SegmentBuffer.class, "queued", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Top of the stack of buffers waiting for a fetch, linked through {@link SegmentBuffer#nextRequest}. */
    @SuppressWarnings("unused")
    private volatile SegmentBuffer head;
    private volatile boolean parked;
    private volatile boolean closed;
    private final Thread thread;

    /** A buffer to try again, and when (System.nanoTime). */
    private record Retry(SegmentBuffer buffer, long at) {
    }

    /** The retries waiting; touched by the fetch thread only. */
    private final List<Retry> retries = new ArrayList<>();

    SegmentFetcher() {
        thread = new Thread(this, "ekko-segment-fetch");
        thread.setDaemon(true);
        thread.start();
    }

    /**
     * Asks for {@code b}'s background fetch. Lock-free and allocation-free; a buffer already waiting is not pushed again (its
     * pending request runs the fetch it now needs).
     */
    void request(SegmentBuffer b) {
        if (!QUEUED.compareAndSet(b, false, true)) {
            return;
        }
        SegmentBuffer h;
        do {
            h = head;
            b.nextRequest = h;
        } while (!HEAD.compareAndSet(this, h, b));
        if (parked) {
            LockSupport.unpark(thread);
        }
    }

    /** Fetches for {@code b} again in {@code delayNanos}. Called on the fetch thread only (from a failed background fetch). */
    void retryLater(SegmentBuffer b, long delayNanos) {
        if (Thread.currentThread() != thread) {
            throw new IllegalStateException("retryLater off the fetch thread");
        }
        retries.add(new Retry(b, System.nanoTime() + delayNanos));
    }

    @Override
    public void run() {
        long lastWork = System.nanoTime();
        while (!closed) {
            // A plain volatile read while spinning: a getAndSet in the loop would hold the head's cache line away from callers.
            if (head != null) {
                runInOrder((SegmentBuffer) HEAD.getAndSet(this, null));
                lastWork = System.nanoTime();
                runDueRetries(lastWork); // also between requests: a steady stream of them must not starve a retry
                continue;
            }
            long now = System.nanoTime();
            long wait = runDueRetries(now);
            if (now - lastWork < SPIN_NANOS) {
                Thread.onSpinWait();
                continue;
            }
            parked = true;
            if (head == null && !closed) {
                if (wait == Long.MAX_VALUE) {
                    LockSupport.park(this);
                } else {
                    LockSupport.parkNanos(this, wait);
                }
            }
            parked = false;
            Thread.interrupted(); // an interrupt meant for a store call that had already returned
        }
    }

    /** Runs the requests of a popped stack in the order they were made (the stack holds them newest first). */
    private void runInOrder(SegmentBuffer top) {
        SegmentBuffer reversed = null;
        while (top != null) {
            SegmentBuffer n = top.nextRequest;
            top.nextRequest = reversed;
            reversed = top;
            top = n;
        }
        while (reversed != null && !closed) {
            SegmentBuffer b = reversed;
            reversed = b.nextRequest;
            b.nextRequest = null;
            QUEUED.setVolatile(b, false);
            runSafely(b, false);
        }
    }

    /** Runs the retries that are due. {@return nanoseconds until the next one, or Long.MAX_VALUE for none} */
    private long runDueRetries(long now) {
        if (retries.isEmpty()) {
            return Long.MAX_VALUE;
        }
        List<Retry> due = new ArrayList<>();
        long soonest = Long.MAX_VALUE;
        for (java.util.Iterator<Retry> it = retries.iterator(); it.hasNext(); ) {
            Retry r = it.next();
            if (r.at() - now <= 0) {
                it.remove();
                due.add(r);
            } else {
                soonest = Math.min(soonest, r.at() - now);
            }
        }
        for (Retry r : due) {
            runSafely(r.buffer(), true); // may schedule a retry of its own: added to the list, not to this pass
        }
        return due.isEmpty() ? soonest : 0; // a retry just run may have scheduled another: look again at once
    }

    /**
     * Runs a fetch or a retry. Whatever a store throws, an {@link Error} too, ends with the buffer's state released (see
     * {@link SegmentBuffer#backgroundFetch}) and must not stop the thread that serves every other name.
     */
    private static void runSafely(SegmentBuffer b, boolean retry) {
        try {
            if (retry) {
                b.retryPrefetch();
            } else {
                b.backgroundFetch();
            }
        } catch (Throwable t) {
            try {
                // the name only: describing the stores calls into them, and may throw what the store threw
                LOG.log(System.Logger.Level.WARNING, () -> "background fetch of segment name \"" + b.name() + "\" failed", t);
            } catch (Throwable ignored) {
                // nothing may stop the thread
            }
        }
    }

    /** Stops the thread; a store call in progress is interrupted. */
    void close() {
        closed = true;
        thread.interrupt();
        LockSupport.unpark(thread);
    }
}
