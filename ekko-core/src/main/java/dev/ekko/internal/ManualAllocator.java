package dev.ekko.internal;

import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import dev.ekko.spi.WorkerLease;
import java.time.Duration;
import java.util.Set;
import java.util.UUID;

/**
 * {@code manual}: the worker ID comes from configuration ({@code ekko.worker.id} / {@code EKKO_WORKER_ID}).
 * Nothing coordinates across hosts: keeping IDs distinct between hosts is the operator's job. On one host,
 * the state file's lock refuses a second process with the same worker ID.
 */
public final class ManualAllocator implements WorkerAllocator {

    private final AllocatorContext context;

    ManualAllocator(AllocatorContext context) {
        if (context.preferredWorkerId() < 0) {
            throw new IllegalArgumentException("must be set for ekko.worker.allocator=manual: ekko.worker.id (environment variable"
                    + " EKKO_WORKER_ID), 0.." + (context.workerIds() - 1));
        }
        this.context = context;
    }

    @Override
    public WorkerLease acquire() {
        return new WorkerLease(context.preferredWorkerId(), UUID.randomUUID().toString(), Duration.ZERO, context.clock().nanos(),
                Handover.stateFile(), WorkerLease.UNKNOWN_TIME, null);
    }

    @Override
    public WorkerLease renew(WorkerLease lease, ClockReport report) {
        return lease.renewed(context.clock().nanos(), WorkerLease.UNKNOWN_TIME);
    }

    @Override
    public void release(WorkerLease lease, ClockReport finalReport) {
        // nothing is held outside the state file
    }

    @Override
    public void close() {
        // nothing to close
    }

    @Override
    public String toString() {
        return "ManualAllocator{worker=" + context.preferredWorkerId() + "}";
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
