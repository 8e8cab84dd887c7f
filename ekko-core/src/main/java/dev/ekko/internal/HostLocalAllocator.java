package dev.ekko.internal;

import dev.ekko.WorkerIdsExhaustedException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import dev.ekko.spi.WorkerLease;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * {@code host-local}: gives each process on one host a distinct worker ID through the host-wide locks in
 * {@code ekko.host.lock.dir} ({@link HostLocks}), which every process on the host shares whatever its state
 * directory. The kernel drops a lock when its process dies, so a crashed process's worker ID is free again at once;
 * its state file then makes the next holder start past it (if it uses the same state directory; otherwise the
 * next holder's own state file, and the clock, are all it has).
 *
 * <p>"This host" is what shares the lock directory: each container with its own {@code /run/lock} is a host of its
 * own. It does not coordinate across hosts: for a fleet, use a coordinator back end.
 *
 * <p>The scan starts at the preferred worker ID, else at 0, so a host reuses low IDs and their state files.
 */
public final class HostLocalAllocator implements WorkerAllocator {

    /**
     * The former lock directory key ({@code <ekko.state.dir>/host-local} by default, so the guard was per state
     * directory). Still recognised, only to refuse it with a pointer to {@code ekko.host.lock.dir}.
     */
    public static final String DIR_KEY = "ekko.hostlocal.dir";

    private static final System.Logger LOG = System.getLogger("dev.ekko.hostlocal");

    private final AllocatorContext context;
    private final HostLocks locks;
    private boolean announced;

    HostLocalAllocator(AllocatorContext context) {
        if (context.setting(DIR_KEY).isPresent()) {
            throw new IllegalArgumentException("no longer supported: " + DIR_KEY + "=" + context.setting(DIR_KEY).get() + "; host-local"
                    + " now locks worker IDs in the host-wide " + ConfigKeys.HOST_LOCK_DIR + " (environment variable "
                    + ConfigKeys.envName(ConfigKeys.HOST_LOCK_DIR) + "), shared by every process on this host whatever its state"
                    + " directory: remove " + DIR_KEY + ", and set " + ConfigKeys.HOST_LOCK_DIR + " only if the default does not suit");
        }
        this.context = context;
        this.locks = new HostLocks(context);
    }

    /**
     * Logs, once, that worker IDs from host-local are unique on this host only. The generator calls it with its start line,
     * on its keeper thread, so that a start logs nothing on the caller's thread.
     */
    synchronized void announce() {
        if (!announced) {
            announced = true;
            if (!LOG.isLoggable(System.Logger.Level.INFO)) {
                return;
            }
            LOG.log(System.Logger.Level.INFO, "worker IDs from host-local are unique on this host only (among processes sharing "
                    + locks.where() + "): another host, VM or container with its own lock directory can get the same worker ID"
                    + " and issue the same IDs; where IDs from several of them meet, use a coordinator (redis, mysql, etcd)"
                    + " or distinct manual worker IDs");
        }
    }

    @Override
    public synchronized WorkerLease acquire() {
        return acquire(Set.of());
    }

    /** Skips the worker IDs in {@code avoid} (the core's refusals: their state files are ahead of this clock). */
    @Override
    public synchronized WorkerLease acquire(Set<Integer> avoid) {
        int n = context.workerIds();
        int start = Math.max(0, context.preferredWorkerId());
        List<String> holders = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int worker = (start + i) % n;
            if (avoid.contains(worker)) {
                continue;
            }
            String holder = locks.tryLock(worker);
            if (holder == null) {
                return new WorkerLease(worker, Processes.randomHex(), Duration.ZERO, context.clock().nanos(),
                        handover(locks, worker), WorkerLease.UNKNOWN_TIME, null);
            }
            if (holders.size() < 5) {
                holders.add(worker + ":" + holder);
            }
        }
        throw new WorkerIdsExhaustedException("all " + n + " worker IDs of idc=" + context.idc() + " are held by processes on this host"
                + " (lock files in " + locks.where() + "; holders include " + String.join(", ", holders) + "); stop a process, or use"
                + " fewer product bits (ekko.product.bits), or another idc");
    }

    /**
     * The state file holds this host's history of a worker ID only for its own state directory; an earlier holder
     * from another one left its mark in the host lock file.
     */
    static Handover handover(HostLocks locks, int worker) {
        long mark = locks.handoverMark(worker);
        return mark == Long.MIN_VALUE ? Handover.stateFile() : Handover.mark(mark);
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

    /** Drops every lock this allocator holds, as the death of the process would. */
    @Override
    public synchronized void close() {
        locks.unlockAll();
    }

    @Override
    public String toString() {
        return "HostLocalAllocator{dir=" + locks.directory() + ", idc=" + context.idc() + "}";
    }

    /** The ServiceLoader entry for {@code host-local}. */
    public static final class Provider implements WorkerAllocatorProvider {
        @Override
        public String name() {
            return "host-local";
        }

        @Override
        public String artifact() {
            return "dev.ekko:ekko-core";
        }

        /** {@return {@code ekko.hostlocal.dir}, recognised only to be refused with a pointer to {@code ekko.host.lock.dir}} */
        @Override
        public Set<String> configKeys() {
            return Set.of(DIR_KEY);
        }

        @Override
        public WorkerAllocator create(AllocatorContext context) {
            return new HostLocalAllocator(context);
        }
    }
}
