package dev.ekko.internal;

import dev.ekko.ClockMovedBackwardsException;
import dev.ekko.ClockSkewException;
import dev.ekko.CoordinatorUnavailableException;
import dev.ekko.EkkoClock;
import dev.ekko.EkkoException;
import dev.ekko.GenerationInterruptedException;
import dev.ekko.GeneratorClosedException;
import dev.ekko.GeneratorStatus;
import dev.ekko.IdGenerator;
import dev.ekko.IdRange;
import dev.ekko.IdSpaceExhaustedException;
import dev.ekko.Layout;
import dev.ekko.LeaseLostException;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.StateFileException;
import dev.ekko.WorkerIdsExhaustedException;
import dev.ekko.spi.WorkerLease;
import java.lang.System.Logger.Level;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The generator: the current {@link Term} for the hot path, and everything slow around it: acquiring a
 * worker ID, the start floor, the keeper thread that renews the lease, reports the clock and extends the
 * reservation every report interval, fencing on a lost lease, and a clean close.
 *
 * <p>Start: acquire a lease; check the clock against the coordinator; open and lock the state file;
 * compute the floor (the latest millisecond an earlier holder may have used: the state file's mark,
 * the previous holder's reported reservation, or, when the coordinator knows no history, now + TTL +
 * max skew); report and force a first reservation; wait until the clock passes the floor, renewing
 * meanwhile. Only then is the term published and {@code next()} allowed to issue.
 */
public final class EkkoGenerator implements IdGenerator {

    /**
     * Created with the class, on the thread that builds the first generator: the first {@code System.getLogger} of a process
     * looks for the logging back end ({@code LoggerFinder}, with {@code ServiceLoader}), which is left to happen there, before
     * the keeper and a coordinator client's threads log, rather than at a first use on whichever thread logs first.
     */
    private static final System.Logger LOG = System.getLogger("dev.ekko.generator");
    /** How many worker IDs a start tries when each one's history is ahead of this host's clock. */
    static final int MAX_WORKER_SWITCHES = 8;
    /** How long {@link #close()} waits for the keeper to stop before it goes on without it. */
    private static final long CLOSE_KEEPER_WAIT_MILLIS = 1000;
    /** How long {@link #close()} waits for the keeper to finish logging the start line (a cold logging back end is slow). */
    private static final long START_LINE_WAIT_MILLIS = 10_000;
    private static final VarHandle TERM;

    static {
        try {
            TERM = MethodHandles.lookup().findVarHandle(EkkoGenerator.class, "term", Term.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final EkkoClock clock;
    final Layout layout;
    final int idc;
    final long maxLeadMillis;
    final long maxBackwardWaitNanos;
    private final GeneratorSettings settings;
    private final WorkerAllocator allocator;
    private final ScheduledExecutorService keeper;

    /**
     * What next() reads: a live term, or an idle one that says why nothing is issued. Replaced by CAS where a
     * thread without the monitor ({@link #close()}) may replace it too, so a closed generator is never revived.
     */
    private volatile Term term;
    /** The last live term; written under this, volatile for {@link #lastMillisOffset(int)}. */
    private volatile Term live;
    /** The lease of {@link #live}; guarded by this. */
    private WorkerLease lease;
    /** A term being started (waiting for its floor), not yet {@link #live}: a lease lost meanwhile stops it too. */
    private volatile Term starting;
    /** True while the keeper acquires a worker ID again after a lost lease (status: STARTING). */
    private volatile boolean reacquiring;
    /** The last renewal the keeper attempted, for status(); null before the first. */
    private volatile GeneratorStatus.Renewal lastRenewal;
    /** The local clock minus the coordinator's at the last renewal that reported a coordinator time, or UNKNOWN_TIME. */
    private volatile long skewMillis = WorkerLease.UNKNOWN_TIME;
    /** Keeper thread only: failed renewals since the last success, and when that success was sent (monotonic). */
    private int failedRenewals;
    private long lastRenewalSuccessNanos;
    final GeneratorStats stats = new GeneratorStats();
    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();
    /**
     * The start line: {@link #START_LINE_PENDING} until a thread takes it, {@link #START_LINE_LOGGING} while that thread logs
     * it (the first log call may initialise a logging back end: {@link #close()} waits for it rather than interrupt it), then
     * {@link #START_LINE_DONE}. See {@link #logStartLine}.
     */
    private final java.util.concurrent.atomic.AtomicInteger startLine = new java.util.concurrent.atomic.AtomicInteger(START_LINE_DONE);
    private static final int START_LINE_DONE = 0;
    private static final int START_LINE_PENDING = 1;
    private static final int START_LINE_LOGGING = 2;

    private EkkoGenerator(GeneratorSettings settings, WorkerAllocator allocator) {
        this.settings = settings;
        this.allocator = allocator;
        this.clock = settings.clock();
        this.layout = settings.layout();
        this.idc = settings.idc();
        this.maxLeadMillis = settings.maxLead().toMillis();
        this.maxBackwardWaitNanos = settings.maxBackwardWait().toNanos();
        this.keeper = Executors.newSingleThreadScheduledExecutor(new KeeperTask(this, KeeperTask.THREADS, 0));
    }

    /**
     * The keeper's thread factory and its two start-up tasks in one class, not three lambdas: a JVM spins a lambda's class at
     * its first use, which a cold start pays for each (StartupBenchmark).
     */
    private static final class KeeperTask implements Runnable, java.util.concurrent.ThreadFactory {
        static final int THREADS = 0;
        static final int KEEP = 1;
        static final int START_LINE = 2;

        private final EkkoGenerator generator;
        private final int kind;
        private final int worker;

        KeeperTask(EkkoGenerator generator, int kind, int worker) {
            this.generator = generator;
            this.kind = kind;
            this.worker = worker;
        }

        @Override
        public Thread newThread(Runnable r) {
            Thread t = new Thread(r, "ekko-keeper-idc" + generator.settings.idc());
            t.setDaemon(true);
            return t;
        }

        @Override
        public void run() {
            if (kind == KEEP) {
                generator.keep();
            } else if (kind == START_LINE) {
                generator.logStartLine(worker);
            }
        }
    }

    /**
     * Starts a generator whose allocator tells it of no lease loss between renewals (see {@link #start(GeneratorSettings,
     * WorkerAllocator, LeaseRelay)}).
     *
     * @param settings validated settings
     * @param allocator the allocator; closed by the generator
     * @return the running generator
     */
    public static EkkoGenerator start(GeneratorSettings settings, WorkerAllocator allocator) {
        return start(settings, allocator, new LeaseRelay());
    }

    /**
     * Starts a generator: acquires a worker ID and waits until it may issue.
     *
     * @param settings validated settings
     * @param allocator the allocator; closed by the generator
     * @param relay the lease listener in the allocator's context: attached to the generator before the first acquire
     * @return the running generator
     */
    public static EkkoGenerator start(GeneratorSettings settings, WorkerAllocator allocator, LeaseRelay relay) {
        EkkoGenerator g = new EkkoGenerator(settings, allocator);
        relay.attach(g);
        try {
            g.checkLifetime();
            synchronized (g) {
                g.live = g.startTerm(null);
                g.term = g.live;
            }
            long period = settings.reportInterval().toMillis();
            g.keeper.scheduleWithFixedDelay(new KeeperTask(g, KeeperTask.KEEP, 0), period, period, TimeUnit.MILLISECONDS);
            // Logged on the keeper thread, off the caller's start (finding the logging back end and a cold logging path cost
            // milliseconds); close() logs it first if the keeper has not.
            int worker = g.live.workerId;
            g.startLine.set(START_LINE_PENDING);
            g.keeper.execute(new KeeperTask(g, KeeperTask.START_LINE, worker));
            return g;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            g.keeper.shutdownNow();
            allocator.close();
            throw new GenerationInterruptedException("starting the generator");
        } catch (RuntimeException | Error e) {
            g.keeper.shutdownNow();
            allocator.close();
            throw e;
        }
    }

    /**
     * Logs the start line (and host-local's note that its worker IDs are unique on this host only) once, from the keeper or
     * from {@link #close()}, whichever comes first.
     */
    private void logStartLine(int worker) {
        if (!startLine.compareAndSet(START_LINE_PENDING, START_LINE_LOGGING)) {
            return;
        }
        try {
            if (allocator instanceof HostLocalAllocator) {
                ((HostLocalAllocator) allocator).announce();
            }
            if (!LOG.isLoggable(Level.INFO)) {
                return; // the line is not built: formatting the layout's epoch loads java.time's formatting classes
            }
            LOG.log(Level.INFO, "started: idc=" + idc + " worker=" + worker + " allocator=" + settings.allocatorName()
                    + " " + layout + " stateDir=" + settings.stateDir() + " mode="
                    + (maxLeadMillis > 0 ? "bounded-lead(" + Values.format(settings.maxLead()) + ")" : "real-time")
                    + " reportInterval=" + Values.format(settings.reportInterval()) + " leaseTtl="
                    + (lease.expires() ? Values.format(lease.ttl()) : "none") + " maxSkew=" + Values.format(settings.maxSkew()));
        } finally {
            synchronized (startLine) {
                startLine.set(START_LINE_DONE);
                startLine.notifyAll();
            }
        }
    }

    /** Logs the start line if nobody has, or waits (bounded, uninterruptibly) while the keeper logs it. */
    private void finishStartLine(int worker) {
        logStartLine(worker);
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(START_LINE_WAIT_MILLIS);
        boolean interrupted = false;
        synchronized (startLine) {
            for (long left; startLine.get() == START_LINE_LOGGING && (left = deadline - System.nanoTime()) > 0;) {
                try {
                    TimeUnit.NANOSECONDS.timedWait(startLine, left);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private void checkLifetime() {
        long now = clock.millis();
        Duration left = layout.remaining(Instant.ofEpochMilli(now));
        if (left.isNegative() || left.isZero()) {
            throw new IdSpaceExhaustedException(layout, now);
        }
        if (left.compareTo(Duration.ofDays(365)) < 0) {
            LOG.log(Level.WARNING, "less than a year left for this layout: IDs stop at " + layout.endOfTime() + " (" + left.toDays()
                    + " days); plan a new epoch (ekko.epoch)");
        }
    }

    // ---------------------------------------------------------------- start of a term

    /** The latest millisecond earlier holders may have used, how long we may wait for it, and why. */
    private record Floor(long markMillis, long allowedWaitMillis, String reason) {
    }

    /**
     * A start refused because this worker ID's history is ahead of our clock, or its state file is held by another generator
     * on this host: another worker ID may do.
     */
    private static final class HistoryAhead extends Exception {
        private static final long serialVersionUID = 1L;
        final transient RuntimeException refusal;

        HistoryAhead(RuntimeException refusal) {
            super(refusal.getMessage(), null, false, false);
            this.refusal = refusal;
        }
    }

    /**
     * Acquires a worker ID and starts a term on it. When the worker ID's history is ahead of this host's clock (a
     * clock set back across a restart: its state file, the handover mark or its last report), or its state file is
     * locked by another generator on this host, gives it back and asks for another one, up to
     * {@link #MAX_WORKER_SWITCHES} times, instead of failing until the clock catches up or the other lets go.
     */
    private Term startTerm(Term previous) throws InterruptedException {
        Set<Integer> refused = new HashSet<>();
        HistoryAhead last = null;
        for (;;) {
            WorkerLease acquired;
            if (refused.isEmpty()) {
                acquired = allocator.acquire();
            } else {
                try {
                    acquired = allocator.acquire(Set.copyOf(refused));
                } catch (WorkerIdsExhaustedException e) {
                    last.refusal.addSuppressed(e);
                    throw last.refusal;
                }
            }
            if (refused.contains(acquired.workerId())) {
                // The allocator cannot choose another one (manual), or all others are held.
                releaseQuietly(acquired, now -> Math.max(now, startReleaseMark(acquired)));
                throw last.refusal;
            }
            try {
                return startTerm(previous, acquired);
            } catch (HistoryAhead e) {
                last = e;
                refused.add(acquired.workerId());
                if (refused.size() >= MAX_WORKER_SWITCHES) {
                    throw e.refusal;
                }
                LOG.log(Level.WARNING, "idc=" + idc + ": not starting on worker=" + acquired.workerId() + ", gave it back and acquiring"
                        + " another worker ID: " + e.getMessage());
            }
        }
    }

    /** What a start that fails must still report: the handover mark, or, with no history, the floor it would have waited for. */
    private long startReleaseMark(WorkerLease acquired) {
        Handover h = acquired.handover();
        return h.kind() == Handover.Kind.UNKNOWN ? Math.max(h.markMillis(), unknownHistoryFloor(acquired, clock.millis())) : h.markMillis();
    }

    private Term startTerm(Term previous, WorkerLease acquired) throws InterruptedException, HistoryAhead {
        StateFile opened = null;
        boolean ok = false;
        // A failed start issued nothing, but its final report must still cover what an earlier holder may have
        // issued: the handover mark, or, with no history, the floor this start would have waited for. Set before
        // anything can throw.
        long releaseMark = startReleaseMark(acquired);
        try {
            int worker = acquired.workerId();
            if (worker >= layout.workerIds()) {
                throw new EkkoException("allocator " + settings.allocatorName() + " returned worker=" + worker
                        + ", but the layout has only " + layout.workerIds() + " worker IDs (0.." + (layout.workerIds() - 1) + ")");
            }
            long now = clock.millis();
            checkStartClock(acquired, now);
            StateFile sf;
            if (previous != null && previous.workerId == worker) {
                sf = previous.stateFile;
            } else {
                try {
                    sf = opened = StateFile.open(settings.stateDir(), layout, idc, worker);
                } catch (StateFileException e) {
                    if (StateFile.isBusy(e)) {
                        // Another generator on this host holds it (a lost term of its own keeps its lock for a re-acquire of
                        // the same worker ID): ask for another worker ID at once, rather than give this one back and be offered
                        // it again at every report interval while the other waits for ours.
                        throw new HistoryAhead(e);
                    }
                    throw e;
                }
            }
            Floor floor = floor(previous, sf, acquired, now);
            if (floor.markMillis < layout.epochMillis()) {
                floor = new Floor(layout.epochMillis() - 1, floor.allowedWaitMillis, "no earlier IDs");
            }
            releaseMark = Math.max(releaseMark, floor.markMillis);
            long gap = floor.markMillis - now - maxLeadMillis;
            if (gap > floor.allowedWaitMillis) {
                throw new HistoryAhead(new ClockMovedBackwardsException("refusing to start idc=" + idc + " worker=" + worker + " ("
                        + floor.reason + "): ", now, floor.markMillis, 0));
            }
            long floorOffset = floor.markMillis - layout.epochMillis();
            Term t = new Term(Term.Kind.LIVE, null, this, worker, sf, acquired.expires(), floorOffset, null);
            t.leaseToken(acquired.token());
            lease = acquired;
            starting = t;
            renewAndReserve(t, floorOffset + 1);
            awaitFloor(t, floor, gap);
            Events.leaseAcquired(idc, worker, settings.allocatorName(), floor.markMillis, previous != null);
            ok = true;
            return t;
        } finally {
            if (!ok) {
                if (opened != null) {
                    opened.close();
                }
                long mark = releaseMark;
                releaseQuietly(acquired, now -> Math.max(now, mark));
            }
        }
    }

    private void checkStartClock(WorkerLease acquired, long now) throws HistoryAhead {
        long skew = settings.maxSkew().toMillis();
        long coordinator = acquired.coordinatorTimeMillis();
        long outside = outsideSkew(acquired, now);
        if (outside != 0) {
            long age = acquired.coordinatorTimeMaxAgeMillis();
            throw new ClockSkewException("refusing to start idc=" + idc + " worker=" + acquired.workerId() + ", local clock vs coordinator"
                    + (age == 0 ? "" : age == WorkerLease.UNBOUNDED_AGE ? " (a reference from other holders' reports, which are only"
                    + " ever older than it: this clock is behind them)" : " (a reference from reports up to " + age + " ms old, so a"
                    + " clock up to that much further ahead of it is tolerated)"), now, coordinator, skew);
        }
        ClockReport last = acquired.previousReport();
        if (last != null) {
            // Our own host's report must not be ahead of our clock by more than a clock step next() would wait out;
            // another host's may be, by the tolerated skew.
            boolean mine = last.host().equals(settings.host());
            long allowed = mine ? settings.maxBackwardWait().toMillis() : skew;
            if (now < last.localTimeMillis() - allowed) {
                throw new HistoryAhead(new ClockSkewException("refusing to start idc=" + idc + " worker=" + acquired.workerId()
                        + ", local clock is behind this worker ID's last report (by " + last.host() + ", pid " + last.pid() + ")",
                        now, last.localTimeMillis(), allowed, mine ? "a clock set back further than ekko.clock.max.backward.wait="
                        + Values.format(settings.maxBackwardWait()) + " is refused; fix the clock (NTP) or wait" : "fix the clock (NTP)"));
            }
        }
    }

    /**
     * How far the coordinator's clock at a request lies outside what the local clock allows: it was read between the
     * local send time and {@code now} (after the reply), so it must lie within [send - skew, now + skew]. The check is
     * fair to a slow round trip and exact for clocks that agree, so even {@code ekko.clock.max.skew=0} holds for a
     * coordinator on the same host. A reference that may be older than the request (built from other holders' reports,
     * {@link WorkerLease#coordinatorTimeMaxAgeMillis()}) may lie that much earlier still; one of unbounded age is only
     * checked on the other side (the local clock must not be behind it).
     *
     * @return 0 when within (or the coordinator's clock is unknown); else coordinator minus the nearest allowed time
     */
    private long outsideSkew(WorkerLease l, long now) {
        long coordinator = l.coordinatorTimeMillis();
        if (coordinator == WorkerLease.UNKNOWN_TIME) {
            return 0;
        }
        long skew = settings.maxSkew().toMillis();
        long age = l.coordinatorTimeMaxAgeMillis();
        long sentAt = now - Math.max(0, (clock.nanos() - l.grantedAtNanos()) / 1_000_000);
        if (age != WorkerLease.UNBOUNDED_AGE && coordinator < sentAt - age - skew) {
            return coordinator - (sentAt - skew);
        }
        if (coordinator > now + skew) {
            return coordinator - (now + skew);
        }
        return 0;
    }

    private Floor floor(Term previous, StateFile sf, WorkerLease acquired, long now) {
        long backward = settings.maxBackwardWait().toMillis();
        long skew = settings.maxSkew().toMillis();
        Floor f;
        if (previous != null && previous.stateFile == sf) {
            f = new Floor(sf.lastIssued(), backward + reservationAhead(acquired), "last millisecond of this process's previous lease");
        } else {
            f = new Floor(sf.startFloor(), backward + (sf.floorIsReservation() ? reservationAhead(acquired) : 0), sf.floorReason());
            if (previous != null && previous.stopped() != Term.Stop.STATE_FILE) {
                // Another worker ID than before: IDs of one generator keep increasing across terms.
                long mark = previous.stateFile.lastIssued();
                if (mark > f.markMillis) {
                    f = new Floor(mark, backward + reservationAhead(acquired), "last millisecond of this generator's previous term (worker "
                            + previous.workerId + "), so its IDs keep increasing");
                }
            }
        }
        Handover h = acquired.handover();
        if (h.kind() == Handover.Kind.MARK && h.markMillis() > f.markMillis) {
            f = new Floor(h.markMillis(), reservationAhead(acquired) + skew + backward, "last reservation reported by the previous holder");
        } else if (h.kind() == Handover.Kind.UNKNOWN) {
            long wait = unknownHistoryFloor(acquired, now);
            String why = "the coordinator has no history for this worker ID that it can vouch for (new, its data was lost, or it"
                    + " restarted), so an earlier holder may still be live until its lease (" + Values.format(acquired.ttl())
                    + ") and the tolerated skew (" + Values.format(settings.maxSkew()) + ") have passed"
                    + (maxLeadMillis > 0 ? ", and its IDs may run the max lead (" + Values.format(settings.maxLead()) + ") ahead" : "");
            if (h.markMillis() > wait && h.markMillis() > f.markMillis) {
                // A mark the coordinator cannot vouch for is still a lower bound: a holder whose clock ran ahead reported it.
                f = new Floor(h.markMillis(), wait - now + 1 + reservationAhead(acquired) + skew + backward, why
                        + "; the last mark it still has is later still");
            } else if (wait > f.markMillis) {
                f = new Floor(wait, wait - now + 1, why);
            }
        }
        return f;
    }

    /**
     * The latest millisecond an earlier holder the coordinator forgot may have used: its lease may run one TTL
     * from now, its clock may be the tolerated skew ahead, and in bounded-lead mode its IDs may run the max lead
     * ahead of its clock (every holder of a fleet is assumed to share these settings). "Now" is the later of this
     * clock and the coordinator's at the grant: an earlier holder's issue limit is capped by the coordinator's clock
     * (coordinator time + TTL - margin + skew + lead, see renewAndReserve), so counting from the coordinator's clock
     * keeps the floor above it even when this clock is behind by the skew plus a slow round trip.
     */
    private long unknownHistoryFloor(WorkerLease l, long now) {
        long from = l.coordinatorTimeMillis() == WorkerLease.UNKNOWN_TIME ? now : Math.max(now, l.coordinatorTimeMillis());
        return from + l.ttl().toMillis() + settings.maxSkew().toMillis() + maxLeadMillis;
    }

    /** How far ahead a report reserves: the configured reservation, or the lease TTL when longer. */
    private long reservationAhead(WorkerLease l) {
        return Math.max(settings.reservation().toMillis(), l.expires() ? l.ttl().toMillis() : 0);
    }

    /**
     * Waits until the clock (plus the allowed lead) passes the floor, renewing the lease meanwhile. Sleeps without
     * blocking {@link #close()}: close interrupts the keeper, and the loop also stops once it sees the generator closed.
     */
    private void awaitFloor(Term t, Floor floor, long gap) throws InterruptedException {
        if (gap < 0) {
            return;
        }
        Events.FloorWait event = Events.floorWait(idc, t.workerId, floor.markMillis, floor.reason);
        try {
            awaitFloorUntilPassed(t, floor, gap);
        } finally {
            Events.end(event);
        }
    }

    private void awaitFloorUntilPassed(Term t, Floor floor, long gap) throws InterruptedException {
        if (gap > 50) {
            // A start held up for over a second is worth a warning: say why, so nobody wonders.
            LOG.log(gap > 1000 ? Level.WARNING : Level.INFO, "idc=" + idc + " worker=" + t.workerId + ": waiting " + gap
                    + " ms before issuing, until the clock passes " + Instant.ofEpochMilli(floor.markMillis) + ": " + floor.reason);
        }
        long period = settings.reportInterval().toNanos();
        long lastRenew = clock.nanos();
        // Issuing may start once the clock plus the allowed lead passes the floor: the first ID is at floor + 1.
        while (clock.millis() + maxLeadMillis <= floor.markMillis) {
            if (closed.get()) {
                throw new InterruptedException("generator closed while waiting for its start floor");
            }
            if (clock.nanos() - lastRenew >= period) {
                lastRenew = clock.nanos();
                renewAndReserve(t, floor.markMillis + 1 - layout.epochMillis());
            }
            Thread.sleep(1);
        }
    }

    // ---------------------------------------------------------------- keeping the lease

    /**
     * Reports the clock and a reservation to the coordinator, forces it to the state file, then lets the
     * hot path issue up to it. The order is the invariant: nothing is issued past a mark that is not both
     * durable on this host and known to the coordinator.
     *
     * <p>With a coordinator clock, the limit is also never past what a holder whose clock agrees with it could
     * reach before its fence: coordinator time + TTL - margin + max skew + max lead. That is at or below the floor a
     * successor without history waits for (given margin >= skew), so a clock that jumps ahead between two renewals
     * cannot carry IDs past it (a reference time that may be older than the request counts at its earliest; one of
     * unbounded age caps the limit at two report intervals past the local clock instead). When the clocks disagree by more than the tolerated skew, the limit is not raised
     * at all: callers get {@link ClockSkewException} once they reach it, until a renewal finds the clocks agreeing.
     */
    synchronized void renewAndReserve(Term t, long wantedOffset) throws InterruptedException {
        if (t.stopped() != null) {
            // Never renew for, or re-permit, a term that was stopped while this thread stalled.
            throw new LeaseLostException(t.stopReason());
        }
        long now = clock.millis();
        // Reserve at least to where the fence will stop us: with a coordinator down, the lease deadline,
        // not the reservation, decides when issuing stops (and the next holder, who can only come after
        // the lease expired, starts past the reservation at no extra wait).
        long ahead = reservationAhead(lease);
        // In bounded-lead mode a sequencer may run up to maxLead ahead of the wall clock: reserve past that
        // too, so bursts never reach the limit and callers never extend (and force) it themselves.
        long target = Math.max(now + maxLeadMillis, layout.epochMillis() + wantedOffset) + ahead;
        target = Math.max(target, t.stateFile.reservedUntil());
        target = Math.min(target, layout.epochMillis() + layout.maxTimeOffset());
        WorkerLease renewed = allocator.renew(lease, new ClockReport(now, target, settings.host(), settings.pid(), settings.instance()));
        lease = renewed;
        long after = clock.millis();
        t.stateFile.checkIntact();
        t.stateFile.reserve(target);
        long limitOffset = target - layout.epochMillis();
        long coordinator = renewed.coordinatorTimeMillis();
        if (coordinator != WorkerLease.UNKNOWN_TIME) {
            skewMillis = after - coordinator;
        }
        long skew = settings.maxSkew().toMillis();
        long margin = settings.leaseMargin().toMillis();
        if (coordinator != WorkerLease.UNKNOWN_TIME && renewed.expires()) {
            // The next two renewals past the local clock: all a reference of unknown age allows, and the least one that may be
            // old allows.
            long nextRenewals = now + 2 * settings.reportInterval().toMillis() + maxLeadMillis;
            long age = renewed.coordinatorTimeMaxAgeMillis();
            long cap;
            if (age == WorkerLease.UNBOUNDED_AGE) {
                // Only a lower bound of the fleet's clock, of no known age: this clock is unchecked on the ahead side until a
                // bounded reference comes, so issue no further ahead of it than the next two renewals, which may bring one.
                cap = nextRenewals;
            } else {
                // A reference that may be older than the request is taken at its earliest: an old reference lowers the cap
                // (it may then stop callers before the fence: docs/etcd.md). One so old that this leaves less than two report
                // intervals ahead of the local clock (after an outage, other holders' readings may be as old as the outage)
                // still allows what a reference of unknown age does: it bounds the fleet's clock from above too, and this
                // clock passed that check below (else the limit stays where it was).
                cap = coordinator + renewed.ttl().toMillis() - margin + skew + maxLeadMillis;
                if (age > 0) {
                    cap = Math.max(cap, nextRenewals);
                }
            }
            limitOffset = Math.min(limitOffset, cap - layout.epochMillis());
        }
        if (outsideSkew(renewed, after) != 0) {
            limitOffset = Math.min(limitOffset, t.issueLimitOffset());
            if (t.skew() == null) {
                LOG.log(Level.WARNING, "idc=" + idc + " worker=" + t.workerId + ": local clock " + Instant.ofEpochMilli(after)
                        + " differs from the coordinator's " + Instant.ofEpochMilli(coordinator) + " by " + (after - coordinator)
                        + " ms, more than ekko.clock.max.skew=" + Values.format(settings.maxSkew()) + "; not issuing past "
                        + Instant.ofEpochMilli(layout.epochMillis() + limitOffset) + " until the clocks agree again");
            }
            t.skew(new Term.Skew(after, coordinator, skew));
        } else if (t.skew() != null) {
            LOG.log(Level.INFO, "idc=" + idc + " worker=" + t.workerId + ": local clock agrees with the coordinator's again; issuing");
            t.skew(null);
        }
        long ttlLessMargin = renewed.ttl().toMillis() - margin;
        long deadlineNanos = renewed.expires() ? renewed.grantedAtNanos() + ttlLessMargin * 1_000_000 : Long.MAX_VALUE;
        // The wall clock read before the request was sent, like grantedAtNanos: the coordinator's expiry is later.
        long deadlineWallOffset = renewed.expires() ? now + ttlLessMargin - layout.epochMillis() : Long.MAX_VALUE;
        t.permit(limitOffset, deadlineNanos, deadlineWallOffset);
    }

    /** The hot path's slow path: the clock passed the reservation before the keeper extended it. */
    void extendReservation(Term t, long offset) {
        try {
            synchronized (this) {
                if (t != live || offset <= t.issueLimitOffset()) {
                    return;
                }
                Events.ReservationExtended event = Events.reservationExtended(idc, t.workerId, layout.epochMillis() + offset);
                renewAndReserve(t, offset);
                Events.end(event, layout.epochMillis() + t.issueLimitOffset());
                if (offset > t.issueLimitOffset() && t.stopped() == null) {
                    Term.Skew k = t.skew();
                    if (k != null) {
                        throw t.skewRefusal(k);
                    }
                    throw new EkkoException("cannot issue in " + Instant.ofEpochMilli(layout.epochMillis() + offset) + " with idc=" + idc
                            + " worker=" + t.workerId + ": past " + Instant.ofEpochMilli(layout.epochMillis() + t.issueLimitOffset())
                            + ", the limit the coordinator's clock allows (its time + lease TTL - margin + max skew + max lead)");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GenerationInterruptedException("extending the reservation");
        } catch (LeaseLostException e) {
            lose(t, e.getMessage());
            throw e;
        } catch (StateFileException e) {
            fenceStateFile(t, e);
            throw e;
        } catch (ClockSkewException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new CoordinatorUnavailableException("cannot issue past the reservation " + Instant.ofEpochMilli(layout.epochMillis()
                    + t.issueLimitOffset()) + " of idc=" + idc + " worker=" + t.workerId + ": extending it failed: " + e.getMessage()
                    + "; IDs resume once the coordinator answers", e);
        }
    }

    /**
     * The keeper thread's task, every report interval. It never throws: an exception thrown by a scheduled task
     * cancels its schedule, which would leave the generator without renewals (and so fenced) for good.
     */
    private void keep() {
        Term t;
        synchronized (this) {
            t = live;
        }
        try {
            if (closed.get()) {
                return;
            }
            if (term.kind == Term.Kind.LOST) {
                if (t.stopped() == Term.Stop.STATE_FILE) {
                    return; // for good: see fenceStateFile
                }
                reacquire(t);
            } else {
                renew(t);
            }
        } catch (LeaseLostException e) {
            lose(t, e.getMessage());
        } catch (StateFileException e) {
            fenceStateFile(t, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "idc=" + idc + " worker=" + t.workerId + ": " + (term.kind == Term.Kind.LOST
                    ? "acquiring a worker ID failed, retrying in " + Values.format(settings.reportInterval())
                    : "lease renewal failed; IDs stop at the fence deadline unless a renewal succeeds") + ": " + e.getMessage());
        } catch (Throwable e) {
            // An Error (OutOfMemoryError, a linkage error): log it and keep the schedule; the fence still holds.
            LOG.log(Level.ERROR, "idc=" + idc + " worker=" + t.workerId + ": unexpected " + e + " in the keeper; it keeps running and"
                    + " tries again in " + Values.format(settings.reportInterval()) + " (IDs stop at the fence deadline unless a renewal"
                    + " succeeds)", e);
        }
    }

    /** A keeper renewal, recorded for {@link #status()}: when, how long, the outcome; a late success is counted. */
    private void renew(Term t) throws InterruptedException {
        long sentNanos = clock.nanos();
        Instant at = Instant.ofEpochMilli(clock.millis());
        long pastFence = t.expires() ? clock.millis() - layout.epochMillis() - t.fenceDeadlineWallOffset() : Long.MIN_VALUE;
        try {
            renewAndReserve(t, 0);
        } catch (InterruptedException | RuntimeException | Error e) {
            failedRenewals++;
            lastRenewal = new GeneratorStatus.Renewal(at, Duration.ofNanos(clock.nanos() - sentNanos), false,
                    java.util.Optional.of(String.valueOf(e.getMessage())));
            throw e;
        }
        long done = clock.nanos();
        lastRenewal = new GeneratorStatus.Renewal(at, Duration.ofNanos(done - sentNanos), true, java.util.Optional.empty());
        if (failedRenewals > 0 || pastFence >= 0) {
            stats.lateRenewals.getAndIncrement();
            long since = lastRenewalSuccessNanos == 0 ? -1 : (sentNanos - lastRenewalSuccessNanos) / 1_000_000;
            Events.leaseRenewedLate(idc, t.workerId, since, Math.max(0, pastFence), failedRenewals);
        }
        failedRenewals = 0;
        lastRenewalSuccessNanos = sentNanos;
    }

    /**
     * An allocator says, from any thread, that a lease is gone ({@link dev.ekko.spi.LeaseListener}): the term issuing under it
     * (live, or still waiting for its floor) stops at once, without the monitor, which the keeper may hold during a
     * coordinator call; the keeper then marks it lost and acquires again. A call for any other lease is ignored.
     *
     * @param gone the lease the allocator handed out
     * @param reason why, for callers of {@code next()}
     */
    void leaseLost(WorkerLease gone, String reason) {
        for (Term t : new Term[] {term, starting}) {
            if (t != null && t.issuesUnder(gone)) {
                String why = reason + " (idc=" + idc + " worker=" + t.workerId + ")";
                t.stop(Term.Stop.LEASE, why);
                try {
                    keeper.execute(() -> lose(t, why));
                } catch (java.util.concurrent.RejectedExecutionException e) {
                    // closed: the term stays stopped
                }
                return;
            }
        }
    }

    /** {@return the message of every refusal and status of a closed generator} */
    String closedReason(int workerId) {
        return "generator is closed: idc=" + idc + " worker=" + workerId;
    }

    private synchronized void lose(Term t, String reason) {
        if (t != live || term != t) {
            return;
        }
        t.stop(Term.Stop.LEASE, reason);
        // Counted before the term is swapped, so that a status showing the loss shows its counts too.
        stats.flush(t);
        stats.leaseLosses.getAndIncrement();
        if (!TERM.compareAndSet(this, t, Term.idle(Term.Kind.LOST, Term.Stop.LEASE, this, t.workerId, t.stateFile, reason))) {
            return; // closed meanwhile
        }
        // Every ID of the lost term is at or below its final mark: a new term on this worker ID starts past it.
        t.stateFile.advanceLastIssued(t.finalMarkMillis(t.stateFile.reservedUntil()));
        Events.leaseLost(idc, t.workerId, reason);
        LOG.log(Level.WARNING, "idc=" + idc + " worker=" + t.workerId + ": lease lost, no more IDs until a worker ID is acquired"
                + " again: " + reason);
    }

    /**
     * The state file changed under us (truncated, replaced, removed): stop issuing for good. Its mapping may now fault
     * when touched, so it is neither written nor reused; the lease is left to lapse, so the coordinator keeps the
     * last reservation reported as the next holder's floor.
     */
    private synchronized void fenceStateFile(Term t, StateFileException e) {
        if (t != live || term != t) {
            return;
        }
        String suffix = ": " + t.stateFile.path();
        String detail = e.getMessage().endsWith(suffix) ? e.getMessage().substring(0, e.getMessage().length() - suffix.length())
                : e.getMessage();
        String reason = "stopped issuing with idc=" + idc + " worker=" + t.workerId + " for good: " + detail + ". The worker ID's lease"
                + " is left to lapse; restore the state directory (no other process or cleaner may touch it) and restart the process";
        t.stop(Term.Stop.STATE_FILE, reason);
        stats.flush(t);
        stats.leaseLosses.getAndIncrement();
        if (TERM.compareAndSet(this, t, Term.idle(Term.Kind.LOST, Term.Stop.STATE_FILE, this, t.workerId, t.stateFile, reason))) {
            Events.leaseLost(idc, t.workerId, reason);
        }
        LOG.log(Level.ERROR, reason + ": " + t.stateFile.path());
    }

    private synchronized void reacquire(Term previous) throws InterruptedException {
        Term idle = term;
        if (closed.get() || idle.kind != Term.Kind.LOST) {
            return;
        }
        Term next;
        reacquiring = true;
        try {
            next = startTerm(previous);
        } catch (LeaseLostException e) {
            // The new lease was lost while its term waited for its floor (lose() only knows live terms): count it here.
            stats.leaseLosses.getAndIncrement();
            Events.leaseLost(idc, previous.workerId, e.getMessage());
            throw e;
        } finally {
            reacquiring = false;
        }
        stats.reacquires.getAndIncrement(); // before the swap: a status showing the new term shows its count
        if (!TERM.compareAndSet(this, idle, next)) {
            // close() ran meanwhile: it does not know this term, so give it up here.
            retire(next, lease);
            return;
        }
        if (next.stateFile != previous.stateFile) {
            previous.stateFile.close(previous.stateFile.lastIssued());
        }
        live = next;
        failedRenewals = 0;
        LOG.log(Level.INFO, "idc=" + idc + ": acquired worker=" + next.workerId + " again after a lost lease");
    }

    // ---------------------------------------------------------------- the IdGenerator API

    @Override
    public long next() {
        return term.sequencers[settings.product()].next();
    }

    @Override
    public void next(long[] ids, int offset, int length) {
        fill(settings.product(), ids, offset, length);
    }

    @Override
    public IdRange nextRange(int maxCount) {
        return range(settings.product(), maxCount);
    }

    long nextFor(int product) {
        return term.sequencers[product].next();
    }

    /** {@return the sequencer of {@code product} in the current term (an idle one, which issues nothing, while none is live)} */
    Sequencer sequencer(int product) {
        return term.sequencers[product];
    }

    /**
     * {@return the last millisecond (offset from the epoch) {@code product}'s IDs were claimed in, by the current term or the
     * last live one (a lost term's, while an idle term stands in for it)}: for a striped generator's failover.
     */
    long lastMillisOffset(int product) {
        long current = term.sequencers[product].lastMillisOffset();
        Term t = live;
        return t == null ? current : Math.max(current, t.sequencers[product].lastMillisOffset());
    }

    /** {@return whether this generator will not issue again: closed, or stopped for good by its state file} */
    boolean stoppedForGood() {
        Term t = term;
        Term l = live;
        return closed.get() || t.kind == Term.Kind.CLOSED || t.stopped() == Term.Stop.STATE_FILE
                || (l != null && l.stopped() == Term.Stop.STATE_FILE);
    }

    /** {@return whether {@link #close()} was called} */
    boolean isClosed() {
        return closed.get();
    }

    void fill(int product, long[] ids, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, ids.length);
        int i = offset;
        int end = offset + length;
        while (i < end) {
            Sequencer s = term.sequencers[product];
            long r = s.claim(Math.min(end - i, 1 << Layout.SEQUENCE_BITS));
            int count = (int) (r & Sequencer.SEQ_MASK) + 1;
            long id = s.compose(r >> Sequencer.SEQ_BITS) - (count - 1);
            for (int j = 0; j < count; j++) {
                ids[i++] = id + j;
            }
        }
    }

    IdRange range(int product, int maxCount) {
        if (maxCount < 1) {
            throw new IllegalArgumentException("must be >= 1: maxCount=" + maxCount);
        }
        Sequencer s = term.sequencers[product];
        long r = s.claim(Math.min(maxCount, 1 << Layout.SEQUENCE_BITS));
        int count = (int) (r & Sequencer.SEQ_MASK) + 1;
        return new IdRange(s.compose(r >> Sequencer.SEQ_BITS) - (count - 1), count);
    }

    /** How long {@link #nextFor(int, Duration)} parks between attempts while the generator may not issue. */
    private static final long RETRY_PARK_NANOS = 5_000_000;

    @Override
    public long next(Duration timeout) {
        return nextFor(settings.product(), timeout);
    }

    long nextFor(int product, Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("must be >= 0: timeout=" + timeout);
        }
        long waitNanos = Values.saturatedNanos(timeout);
        long start = clock.nanos();
        for (;;) {
            try {
                // A clock behind is waited for within the call, for the time left (one wait, one event, no refusal).
                long left = waitNanos - (clock.nanos() - start);
                return term.sequencers[product].next(Math.max(maxBackwardWaitNanos, left));
            } catch (LeaseLostException | ClockMovedBackwardsException | ClockSkewException | CoordinatorUnavailableException e) {
                if (closed.get()) {
                    throw new GeneratorClosedException(closedReason(term.workerId));
                }
                long left = waitNanos - (clock.nanos() - start);
                if (left <= 0) {
                    throw e;
                }
                java.util.concurrent.locks.LockSupport.parkNanos(Math.min(left, RETRY_PARK_NANOS));
                if (Thread.interrupted()) {
                    Thread.currentThread().interrupt();
                    throw new GenerationInterruptedException("waiting up to " + Values.format(timeout) + " for the generator to issue"
                            + " again after: " + e.getMessage());
                }
            }
        }
    }

    @Override
    public GeneratorStatus status() {
        return statusFor(settings.product());
    }

    GeneratorStatus statusFor(int product) {
        Term t = term;
        long nowOffset = clock.millis() - layout.epochMillis();
        GeneratorStatus.State state;
        String reason;
        boolean holds = false;
        if (closed.get() || t.kind == Term.Kind.CLOSED) {
            state = GeneratorStatus.State.CLOSED;
            reason = closedReason(t.workerId);
        } else if (t.kind == Term.Kind.LOST) {
            state = reacquiring ? GeneratorStatus.State.STARTING : GeneratorStatus.State.LOST;
            reason = reacquiring ? "acquiring a worker ID again after: " + t.stopReason() : t.stopReason();
        } else {
            reason = reasonFor(t, nowOffset);
            holds = t.stopped() == null;
            state = reason == null ? GeneratorStatus.State.LIVE : holds ? GeneratorStatus.State.PAUSED : GeneratorStatus.State.LOST;
        }
        java.util.Optional<Instant> fence = holds && t.expires() && t.fenceDeadlineWallOffset() != Long.MAX_VALUE
                ? java.util.Optional.of(Instant.ofEpochMilli(layout.epochMillis() + t.fenceDeadlineWallOffset()))
                : java.util.Optional.empty();
        long limit = t.issueLimitOffset();
        long skew = skewMillis;
        return new GeneratorStatus(state, java.util.Optional.ofNullable(reason), idc, t.workerId, product, settings.allocatorName(),
                fence.map(f -> f.plus(settings.leaseMargin())), fence,
                state == GeneratorStatus.State.LIVE && limit != Long.MIN_VALUE
                        ? java.util.Optional.of(Instant.ofEpochMilli(layout.epochMillis() + limit)) : java.util.Optional.empty(),
                Duration.ofMillis(leadFor(product)), java.util.Optional.ofNullable(lastRenewal),
                skew == WorkerLease.UNKNOWN_TIME ? java.util.Optional.empty() : java.util.Optional.of(Duration.ofMillis(skew)),
                stats.snapshot(t.kind == Term.Kind.LIVE ? t : null));
    }

    long leadFor(int product) {
        long last = layout.epochMillis() + term.sequencers[product].lastMillisOffset();
        return Math.max(0, last - clock.millis());
    }

    @Override
    public IdGenerator forProduct(int product) {
        if (product < 0 || product >= layout.products()) {
            throw new IllegalArgumentException("must be >= 0 && <= " + (layout.products() - 1) + " (ekko.product.bits="
                    + layout.productBits() + "): product=" + product);
        }
        return product == settings.product() ? this : new ProductView(this, product);
    }

    @Override
    public Layout layout() {
        return layout;
    }

    @Override
    public int idc() {
        return idc;
    }

    @Override
    public int workerId() {
        return term.workerId;
    }

    @Override
    public int product() {
        return settings.product();
    }

    @Override
    public long leadMillis() {
        return leadFor(settings.product());
    }

    @Override
    public java.util.Optional<String> unavailableReason() {
        Term t = term;
        if (closed.get()) {
            return java.util.Optional.of(closedReason(t.workerId));
        }
        return java.util.Optional.ofNullable(reasonFor(t, clock.millis() - layout.epochMillis()));
    }

    /**
     * Why a term may not issue now (the term's own reasons), or, past its issue limit while the keeper's last renewal
     * failed, that only the coordinator can extend the limit; null while it may issue.
     */
    private String reasonFor(Term t, long nowOffset) {
        String r = t.unavailableReason(nowOffset);
        if (r != null || t.kind != Term.Kind.LIVE) {
            return r;
        }
        GeneratorStatus.Renewal last = lastRenewal;
        long limit = t.issueLimitOffset();
        if (last != null && !last.succeeded() && nowOffset > limit && limit != Long.MIN_VALUE) {
            return "idc=" + idc + " worker=" + t.workerId + ": at its issue limit " + Instant.ofEpochMilli(layout.epochMillis() + limit)
                    + ", which only a renewal can extend, and the coordinator does not answer (" + last.failure().orElse("")
                    + "); IDs resume once it answers";
        }
        return null;
    }

    /**
     * Stops issuing at once, stops the keeper (waiting for it at most about a second: a keeper waiting for a start
     * floor is interrupted), marks a clean shutdown and gives the worker ID back. A coordinator call already in flight
     * is not cut short: close then also waits for it, up to the back end's own timeout.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        // Before the keeper is interrupted: it may be logging the start line, and the first log call of a process may be
        // initialising a logging back end (Log4j gives up with an error when interrupted there).
        finishStartLine(live.workerId);
        Term current = term;
        Term was = (Term) TERM.getAndSet(this, Term.idle(Term.Kind.CLOSED, Term.Stop.CLOSED, this, current.workerId, null, "closed"));
        was.stop(Term.Stop.CLOSED, "generator is closed");
        if (was.kind == Term.Kind.LIVE) {
            stats.flush(was);
        }
        keeper.shutdownNow();
        boolean interrupted = false;
        try {
            if (!keeper.awaitTermination(CLOSE_KEEPER_WAIT_MILLIS, TimeUnit.MILLISECONDS)) {
                LOG.log(Level.WARNING, "idc=" + idc + ": closing while the keeper is still in a coordinator call; waiting for it");
            }
        } catch (InterruptedException e) {
            interrupted = true;
        }
        try {
            synchronized (this) {
                Term t = live;
                retire(t, was.kind == Term.Kind.LIVE && was == t ? lease : null);
                allocator.close();
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Stops a term for good, records its final mark with a clean shutdown, and releases its lease if given. */
    private void retire(Term t, WorkerLease l) {
        t.stop(Term.Stop.CLOSED, "generator is closed");
        if (t.stopped() == Term.Stop.STATE_FILE) {
            t.stateFile.abandon(); // its mapping may fault: only the lock and the channel are let go
            return;
        }
        long mark = t.finalMarkMillis(t.stateFile.reservedUntil());
        t.stateFile.close(mark);
        if (l != null) {
            releaseQuietly(l, ignored -> Math.max(mark, t.stateFile.lastIssued()));
        }
    }

    /** Releases a lease, even on an interrupted thread (the interrupt is kept); a failure is logged, never thrown. */
    private void releaseQuietly(WorkerLease l, java.util.function.LongUnaryOperator mark) {
        boolean interrupted = Thread.interrupted();
        try {
            long now = clock.millis();
            allocator.release(l, new ClockReport(now, mark.applyAsLong(now), settings.host(), settings.pid(), settings.instance()));
        } catch (InterruptedException e) {
            interrupted = true;
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "idc=" + idc + " worker=" + l.workerId() + ": releasing the worker ID failed (it expires by itself): "
                    + e.getMessage());
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public String toString() {
        return "IdGenerator{idc=" + idc + ", worker=" + term.workerId + ", product=" + settings.product() + ", allocator="
                + settings.allocatorName() + ", " + term.kind + ", " + layout + "}";
    }
}
