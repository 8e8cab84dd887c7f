package dev.ekko.internal;

import dev.ekko.EkkoException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import dev.ekko.spi.WorkerLease;
import java.time.Duration;
import java.util.Set;

/**
 * {@code manual}: the worker ID comes from configuration ({@code ekko.worker.id} / {@code EKKO_WORKER_ID}).
 * Nothing coordinates across hosts: keeping IDs distinct between hosts is the operator's job. On one host, the
 * worker ID's host-wide lock in {@code ekko.host.lock.dir} ({@link HostLocks}), taken at acquire and dropped at
 * release, refuses a second process with the same IDC and worker ID whatever its state directory.
 */
public final class ManualAllocator implements WorkerAllocator {

    private final AllocatorContext context;
    private final HostLocks locks;

    ManualAllocator(AllocatorContext context) {
        if (context.preferredWorkerId() < 0) {
            throw new IllegalArgumentException("must be set for ekko.worker.allocator=manual: ekko.worker.id (environment variable"
                    + " EKKO_WORKER_ID), 0.." + (context.workerIds() - 1));
        }
        this.context = context;
        this.locks = new HostLocks(context);
    }

    /**
     * @throws EkkoException if another process on this host (or another generator in this one) holds the same IDC and
     *     worker ID, naming the lock file and the holder
     */
    @Override
    public synchronized WorkerLease acquire() {
        int worker = context.preferredWorkerId();
        // a second acquire without a release (a fresh lease on the same worker ID) keeps the lock this allocator holds
        String holder = locks.holds(worker) ? null : locks.tryLock(worker);
        if (holder != null) {
            throw new EkkoException("worker ID " + worker + " of idc=" + context.idc() + " is in use by " + holder + " on this host:"
                    + " lock file " + locks.file(worker) + ", in " + locks.where() + ". Each process on a host needs its own"
                    + " ekko.worker.id (environment variable EKKO_WORKER_ID)");
        }
        return new WorkerLease(worker, Processes.randomHex(), Duration.ZERO, context.clock().nanos(),
                HostLocalAllocator.handover(locks, worker), WorkerLease.UNKNOWN_TIME, null);
    }

    @Override
    public synchronized WorkerLease renew(WorkerLease lease, ClockReport report) {
        locks.checkHeld(lease.workerId(), report.reservedUntilMillis());
        return lease.renewed(context.clock().nanos(), WorkerLease.UNKNOWN_TIME);
    }

    @Override
    public synchronized void release(WorkerLease lease, ClockReport finalReport) {
        locks.release(lease.workerId(), finalReport.reservedUntilMillis());
    }

    /** Drops the host lock, as the death of the process would. */
    @Override
    public synchronized void close() {
        locks.unlockAll();
    }

    @Override
    public String toString() {
        return "ManualAllocator{worker=" + context.preferredWorkerId() + ", hostLockDir=" + locks.directory() + "}";
    }

    /** The ServiceLoader entry for {@code manual}. */
    public static final class Provider implements WorkerAllocatorProvider {
        @Override
        public String name() {
            return "manual";
        }

        @Override
        public String artifact() {
            return "dev.ekko:ekko-core";
        }

        @Override
        public Set<String> configKeys() {
            return Set.of();
        }

        @Override
        public WorkerAllocator create(AllocatorContext context) {
            return new ManualAllocator(context);
        }
    }
}
