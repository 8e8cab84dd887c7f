package dev.ekko.spi;

import dev.ekko.LeaseLostException;
import dev.ekko.WorkerIdsExhaustedException;

/**
 * Leases worker IDs for one IDC from a coordinator. Created by a {@link WorkerAllocatorProvider}
 * for one generator; the core calls it from one thread at a time, never from {@code next()}.
 *
 * <p>What the core relies on, and the contract test suite checks:
 * <ul>
 *   <li>no two live leases for one (IDC, worker ID), including when many processes acquire at once;</li>
 *   <li>a renewal never re-creates a lease that expired or was taken over: it throws {@link LeaseLostException};</li>
 *   <li>the last report of every holder of a worker ID outlives the lease, and the next holder's
 *       {@link Handover} carries its reserved-until mark;</li>
 *   <li>every call is bounded by a timeout.</li>
 * </ul>
 */
public interface WorkerAllocator extends AutoCloseable {

    /**
     * Claims a free worker ID, preferring {@link AllocatorContext#preferredWorkerId()} or the one this
     * instance name held before when free.
     *
     * @return the lease
     * @throws WorkerIdsExhaustedException if every worker ID is held
     * @throws dev.ekko.EkkoException if the coordinator cannot be reached or refuses (message names the endpoint, never a secret)
     * @throws InterruptedException if interrupted while waiting for the coordinator
     */
    WorkerLease acquire() throws InterruptedException;

    /**
     * Like {@link #acquire()}, but should not return a worker ID in {@code avoid}. The core asks this after it
     * refused to start on a worker ID whose history is ahead of this host's clock (its handover mark, state file
     * or last report): another worker ID lets the process start now instead of crash-looping until the clock
     * catches up. The default ignores {@code avoid}; the core then gives the worker ID back and reports the
     * original refusal.
     *
     * @param avoid worker IDs not to return (unless the allocator cannot choose, like {@code manual})
     * @return the lease
     * @throws WorkerIdsExhaustedException if every worker ID not in {@code avoid} is held
     * @throws InterruptedException if interrupted while waiting for the coordinator
     */
    default WorkerLease acquire(java.util.Set<Integer> avoid) throws InterruptedException {
        return acquire();
    }

    /**
     * Extends the lease and stores the report, only while the lease is still this holder's.
     *
     * @param lease the current lease
     * @param report the clock report; its reserved-until mark must be stored before this returns
     * @return the renewed lease (with a new {@code grantedAtNanos})
     * @throws LeaseLostException if the lease is gone or held by another token
     * @throws dev.ekko.EkkoException if the coordinator cannot be reached (the lease may still be valid)
     * @throws InterruptedException if interrupted while waiting for the coordinator
     */
    WorkerLease renew(WorkerLease lease, ClockReport report) throws InterruptedException;

    /**
     * Gives the worker ID back if the lease is still this holder's, keeping the final report as history.
     *
     * @param lease the lease to release
     * @param finalReport the last report. The core guarantees its reserved-until mark is at or above every
     *     millisecond used under this lease and at or above the start floor the holder waited for (which, for
     *     {@link Handover.Kind#UNKNOWN}, covered any earlier holder): an allocator may store
     *     {@code max(mark at grant, it)} as the new history, or keep a higher mark
     * @throws InterruptedException if interrupted while waiting for the coordinator
     */
    void release(WorkerLease lease, ClockReport finalReport) throws InterruptedException;

    /** Closes connections; does not release leases. */
    @Override
    void close();
}
