package dev.ekko.internal;

import dev.ekko.ClockMovedBackwardsException;
import dev.ekko.ClockSkewException;
import dev.ekko.EkkoClock;
import dev.ekko.EkkoException;
import dev.ekko.GenerationInterruptedException;
import dev.ekko.IdGenerator;
import dev.ekko.IdRange;
import dev.ekko.IdSpaceExhaustedException;
import dev.ekko.Layout;
import dev.ekko.LeaseLostException;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
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

    private static final System.Logger LOG = System.getLogger("dev.ekko");

    final EkkoClock clock;
    final Layout layout;
    final int idc;
    final long maxLeadMillis;
    final long maxBackwardWaitNanos;
    private final GeneratorSettings settings;
    private final WorkerAllocator allocator;
    private final ScheduledExecutorService keeper;

    /** What next() reads: a live term, or an idle one that says why nothing is issued. */
    private volatile Term term;
    /** The last live term; guarded by this. */
    private Term live;
    /** The lease of {@link #live}; guarded by this. */
    private WorkerLease lease;
    private volatile boolean closed;

    private EkkoGenerator(GeneratorSettings settings, WorkerAllocator allocator) {
        this.settings = settings;
        this.allocator = allocator;
        this.clock = settings.clock();
        this.layout = settings.layout();
        this.idc = settings.idc();
        this.maxLeadMillis = settings.maxLead().toMillis();
        this.maxBackwardWaitNanos = settings.maxBackwardWait().toNanos();
        this.keeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "ekko-keeper-idc" + settings.idc());
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Starts a generator: acquires a worker ID and waits until it may issue.
     *
     * @param settings validated settings
     * @param allocator the allocator; closed by the generator
     * @return the running generator
     */
    public static EkkoGenerator start(GeneratorSettings settings, WorkerAllocator allocator) {
        EkkoGenerator g = new EkkoGenerator(settings, allocator);
        try {
            g.checkLifetime();
            synchronized (g) {
                g.live = g.startTerm(null);
                g.term = g.live;
            }
            long period = settings.reportInterval().toMillis();
            g.keeper.scheduleWithFixedDelay(g::keep, period, period, TimeUnit.MILLISECONDS);
            LOG.log(Level.INFO, "started: idc=" + g.idc + " worker=" + g.live.workerId + " allocator=" + settings.allocatorName()
                    + " " + g.layout + " stateDir=" + settings.stateDir() + " mode="
                    + (g.maxLeadMillis > 0 ? "bounded-lead(" + Values.format(settings.maxLead()) + ")" : "real-time")
                    + " reportInterval=" + Values.format(settings.reportInterval()) + " leaseTtl="
                    + (g.lease.expires() ? Values.format(g.lease.ttl()) : "none") + " maxSkew=" + Values.format(settings.maxSkew()));
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

    private Term startTerm(Term previous) throws InterruptedException {
        WorkerLease acquired = allocator.acquire();
        StateFile opened = null;
        boolean ok = false;
        // A failed start issued nothing, but its final report must still cover what an earlier holder may have
        // issued: the handover mark, or, with no history, the floor this start would have waited for. Set before
        // anything can throw.
        long releaseMark = acquired.handover().kind() == Handover.Kind.UNKNOWN
                ? unknownHistoryFloor(acquired, clock.millis())
                : acquired.handover().markMillis();
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
                sf = opened = StateFile.open(settings.stateDir(), layout, idc, worker);
            }
            Floor floor = floor(previous, sf, acquired, now);
            if (floor.markMillis < layout.epochMillis()) {
                floor = new Floor(layout.epochMillis() - 1, floor.allowedWaitMillis, "no earlier IDs");
            }
            releaseMark = Math.max(releaseMark, floor.markMillis);
            long gap = floor.markMillis - now - maxLeadMillis;
            if (gap > floor.allowedWaitMillis) {
                throw new ClockMovedBackwardsException("refusing to start idc=" + idc + " worker=" + worker + " (" + floor.reason + "): ",
                        now, floor.markMillis, 0);
            }
            long floorOffset = floor.markMillis - layout.epochMillis();
            Term t = new Term(Term.Kind.LIVE, this, worker, sf, acquired.expires(), floorOffset, null);
            lease = acquired;
            renewAndReserve(t, floorOffset + 1);
            awaitFloor(t, floor, gap);
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

    private void checkStartClock(WorkerLease acquired, long now) {
        long skew = settings.maxSkew().toMillis();
        long coordinator = acquired.coordinatorTimeMillis();
        if (coordinator != WorkerLease.UNKNOWN_TIME && Math.abs(now - coordinator) > skew) {
            throw new ClockSkewException("refusing to start idc=" + idc + " worker=" + acquired.workerId() + ", local clock vs coordinator",
                    now, coordinator, skew);
        }
        ClockReport last = acquired.previousReport();
        if (last != null) {
            // Our own host's report must never be ahead of our clock; another host's may be, by the tolerated skew.
            long allowed = last.host().equals(settings.host()) ? 0 : skew;
            if (now < last.localTimeMillis() - allowed) {
                throw new ClockSkewException("refusing to start idc=" + idc + " worker=" + acquired.workerId()
                        + ", local clock is behind this worker ID's last report (by " + last.host() + ", pid " + last.pid() + ")",
                        now, last.localTimeMillis(), allowed);
            }
        }
    }

    private Floor floor(Term previous, StateFile sf, WorkerLease acquired, long now) {
        long backward = settings.maxBackwardWait().toMillis();
        long skew = settings.maxSkew().toMillis();
        Floor f;
        if (previous != null && previous.stateFile == sf) {
            f = new Floor(sf.lastIssued(), backward + reservationAhead(acquired), "last millisecond of this process's previous lease");
        } else {
            f = new Floor(sf.startFloor(), backward + (sf.floorIsReservation() ? reservationAhead(acquired) : 0), sf.floorReason());
        }
        Handover h = acquired.handover();
        if (h.kind() == Handover.Kind.MARK && h.markMillis() > f.markMillis) {
            f = new Floor(h.markMillis(), reservationAhead(acquired) + skew + backward, "last reservation reported by the previous holder");
        } else if (h.kind() == Handover.Kind.UNKNOWN) {
            long mark = unknownHistoryFloor(acquired, now);
            if (mark > f.markMillis) {
                f = new Floor(mark, mark - now + 1, "the coordinator has no history for this worker ID (new, or its data was lost),"
                        + " so an earlier holder may still be live until its lease (" + Values.format(acquired.ttl())
                        + ") and the tolerated skew (" + Values.format(settings.maxSkew()) + ") have passed"
                        + (maxLeadMillis > 0 ? ", and its IDs may run the max lead (" + Values.format(settings.maxLead()) + ") ahead" : ""));
            }
        }
        return f;
    }

    /**
     * The latest millisecond an earlier holder the coordinator forgot may have used: its lease may run one TTL
     * from now, its clock may be the tolerated skew ahead, and in bounded-lead mode its IDs may run the max lead
     * ahead of its clock (every holder of a fleet is assumed to share these settings).
     */
    private long unknownHistoryFloor(WorkerLease l, long now) {
        return now + l.ttl().toMillis() + settings.maxSkew().toMillis() + maxLeadMillis;
    }

    /** How far ahead a report reserves: the configured reservation, or the lease TTL when longer. */
    private long reservationAhead(WorkerLease l) {
        return Math.max(settings.reservation().toMillis(), l.expires() ? l.ttl().toMillis() : 0);
    }

    /** Waits until the clock (plus the allowed lead) passes the floor, renewing the lease meanwhile. */
    private void awaitFloor(Term t, Floor floor, long gap) throws InterruptedException {
        if (gap < 0) {
            return;
        }
        if (gap > 50) {
            // A start held up for over a second is worth a warning: say why, so nobody wonders.
            LOG.log(gap > 1000 ? Level.WARNING : Level.INFO, "idc=" + idc + " worker=" + t.workerId + ": waiting " + gap
                    + " ms before issuing, until the clock passes " + Instant.ofEpochMilli(floor.markMillis) + ": " + floor.reason);
        }
        long period = settings.reportInterval().toNanos();
        long lastRenew = clock.nanos();
        // Issuing may start once the clock plus the allowed lead passes the floor: the first ID is at floor + 1.
        while (clock.millis() + maxLeadMillis <= floor.markMillis) {
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
     */
    synchronized void renewAndReserve(Term t, long wantedOffset) throws InterruptedException {
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
        long coordinator = renewed.coordinatorTimeMillis();
        if (coordinator != WorkerLease.UNKNOWN_TIME && Math.abs(now - coordinator) > settings.maxSkew().toMillis()) {
            LOG.log(Level.WARNING, "idc=" + idc + " worker=" + t.workerId + ": local clock " + Instant.ofEpochMilli(now)
                    + " differs from the coordinator's " + Instant.ofEpochMilli(coordinator) + " by " + (now - coordinator)
                    + " ms, more than ekko.clock.max.skew=" + Values.format(settings.maxSkew())
                    + "; IDs stay unique, but a restart will be refused until the clocks agree");
        }
        t.stateFile.checkIntact();
        t.stateFile.reserve(target);
        long deadline = renewed.expires()
                ? renewed.grantedAtNanos() + renewed.ttl().toNanos() - settings.leaseMargin().toNanos() : Long.MAX_VALUE;
        t.permit(target - layout.epochMillis(), deadline);
    }

    /** The hot path's slow path: the clock passed the reservation before the keeper extended it. */
    void extendReservation(Term t, long offset) {
        try {
            synchronized (this) {
                if (t != live || offset <= t.issueLimitOffset()) {
                    return;
                }
                renewAndReserve(t, offset);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GenerationInterruptedException("extending the reservation");
        } catch (LeaseLostException e) {
            lose(t, e.getMessage());
            throw e;
        } catch (RuntimeException e) {
            throw new EkkoException("cannot issue past the reservation " + Instant.ofEpochMilli(layout.epochMillis() + t.issueLimitOffset())
                    + " of idc=" + idc + " worker=" + t.workerId + ": extending it failed: " + e.getMessage(), e);
        }
    }

    /** The keeper thread's task, every report interval. */
    private void keep() {
        Term t;
        synchronized (this) {
            t = live;
        }
        try {
            if (closed) {
                return;
            }
            if (term.kind == Term.Kind.LOST) {
                reacquire(t);
            } else {
                renewAndReserve(t, 0);
            }
        } catch (LeaseLostException e) {
            lose(t, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "idc=" + idc + " worker=" + t.workerId + ": " + (term.kind == Term.Kind.LOST
                    ? "acquiring a worker ID failed, retrying in " + Values.format(settings.reportInterval())
                    : "lease renewal failed; IDs stop at the fence deadline unless a renewal succeeds") + ": " + e.getMessage());
        }
    }

    private synchronized void lose(Term t, String reason) {
        if (t != live || term.kind != Term.Kind.LIVE) {
            return;
        }
        t.lose(reason);
        term = Term.idle(Term.Kind.LOST, this, t.workerId, reason);
        // Every ID of the lost term is at or below its final mark: a new term on this worker ID starts past it.
        t.stateFile.advanceLastIssued(t.finalMarkMillis(t.stateFile.reservedUntil()));
        LOG.log(Level.WARNING, "idc=" + idc + " worker=" + t.workerId + ": lease lost, no more IDs until a worker ID is acquired"
                + " again: " + reason);
    }

    private synchronized void reacquire(Term previous) throws InterruptedException {
        if (closed) {
            return;
        }
        Term next = startTerm(previous);
        if (next.stateFile != previous.stateFile) {
            previous.stateFile.close(previous.stateFile.lastIssued());
        }
        live = next;
        term = next;
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
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        keeper.shutdownNow();
        try {
            keeper.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (this) {
            Term t = live;
            Term.Kind was = term.kind;
            term = Term.idle(Term.Kind.CLOSED, this, t.workerId, "closed");
            t.close();
            long mark = t.finalMarkMillis(t.stateFile.reservedUntil());
            t.stateFile.close(mark);
            if (was == Term.Kind.LIVE) {
                releaseQuietly(lease, ignored -> Math.max(mark, t.stateFile.lastIssued()));
            }
            allocator.close();
        }
    }

    private void releaseQuietly(WorkerLease l, java.util.function.LongUnaryOperator mark) {
        try {
            long now = clock.millis();
            allocator.release(l, new ClockReport(now, mark.applyAsLong(now), settings.host(), settings.pid(), settings.instance()));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "idc=" + idc + " worker=" + l.workerId() + ": releasing the worker ID failed (it expires by itself): "
                    + e.getMessage());
        }
    }

    @Override
    public String toString() {
        return "IdGenerator{idc=" + idc + ", worker=" + term.workerId + ", product=" + settings.product() + ", allocator="
                + settings.allocatorName() + ", " + term.kind + ", " + layout + "}";
    }
}
