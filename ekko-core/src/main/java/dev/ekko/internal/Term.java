package dev.ekko.internal;

import dev.ekko.ClockSkewException;
import dev.ekko.EkkoClock;
import dev.ekko.GeneratorClosedException;
import dev.ekko.IdSpaceExhaustedException;
import dev.ekko.LeaseLostException;
import dev.ekko.Layout;
import dev.ekko.StateFileException;
import java.time.Instant;

/**
 * One tenure of a worker ID: the lease's permissions as the hot path sees them, the state file, and
 * one {@link Sequencer} per product. A lost lease ends the term; a fresh acquire starts a new one.
 *
 * <p>Every claim of IDs in a millisecond {@code m} (offset from the epoch) that is not already in the past needs
 * <ul>
 *   <li>{@code m <= issueLimitOffset}: the reservation covering {@code m} has been forced to the state
 *       file and reported to the coordinator (written by {@link EkkoGenerator#renewAndReserve} after both), and</li>
 *   <li>for an expiring lease, both clocks before the fence deadline: the monotonic clock before
 *       {@code fenceDeadlineNanos} and the wall clock before {@code fenceDeadlineWallOffset}, each the send time of
 *       the last successful renewal plus TTL minus the safety margin. The monotonic clock stands still while a host
 *       is suspended (and in some VM pauses) and the wall clock can be stepped back: whichever says the lease may
 *       have expired first wins.</li>
 * </ul>
 * All are volatile fields written by the keeper thread; the deadlines are written before the limit, so a reader
 * that sees a new limit also sees the deadlines that came with it.
 */
final class Term {

    /** Term kinds that issue nothing: what the generator points at while it has no lease. */
    enum Kind { LIVE, LOST, CLOSED }

    /** Why a term stopped, which decides the exception callers get. */
    enum Stop { LEASE, STATE_FILE, CLOSED }

    /** The clocks at a renewal that found them further apart than tolerated. */
    record Skew(long localMillis, long coordinatorMillis, long allowedMillis) {
    }

    final Kind kind;
    final int workerId;
    final StateFile stateFile;
    final Sequencer[] sequencers;
    private final boolean expires;
    private final EkkoClock clock;
    private final Layout layout;
    private final EkkoGenerator owner;

    private volatile long issueLimitOffset = Long.MIN_VALUE;
    private volatile long fenceDeadlineNanos;
    private volatile long fenceDeadlineWallOffset = Long.MAX_VALUE;
    private volatile String stopReason;
    private volatile Stop stop;
    private volatile Skew skew;
    /** The token of the lease this term issues under (null for an idle term); set once, before the term may issue. */
    private volatile String leaseToken;
    private final java.util.concurrent.atomic.AtomicBoolean statsFlushed = new java.util.concurrent.atomic.AtomicBoolean();

    Term(Kind kind, Stop stop, EkkoGenerator owner, int workerId, StateFile stateFile, boolean expires, long floorOffset,
            String stopReason) {
        this.kind = kind;
        this.owner = owner;
        this.workerId = workerId;
        this.stateFile = stateFile;
        this.expires = expires;
        this.clock = owner.clock;
        this.layout = owner.layout;
        this.stopReason = stopReason;
        this.stop = stop;
        this.sequencers = new Sequencer[layout.products()];
        for (int p = 0; p < sequencers.length; p++) {
            long prefix = layout.encode(layout.epochMillis(), owner.idc, workerId, p, 0);
            sequencers[p] = new Sequencer(this, prefix, floorOffset, clock, layout.epochMillis(), owner.maxLeadMillis,
                    owner.maxBackwardWaitNanos, owner.stats);
        }
    }

    /** A term that issues nothing and says why: after a lost lease, or after close; {@code stateFile} only names it. */
    static Term idle(Kind kind, Stop stop, EkkoGenerator owner, int workerId, StateFile stateFile, String reason) {
        return new Term(kind, stop, owner, workerId, stateFile, false, -1, reason);
    }

    /**
     * The fast check, before every claim in a millisecond that is not in the past.
     *
     * @param offset the millisecond to issue in (offset from the epoch)
     * @param nowOffset the wall clock the caller read (offset from the epoch)
     */
    boolean mayIssue(long offset, long nowOffset) {
        return offset <= issueLimitOffset
                && (!expires || (nowOffset < fenceDeadlineWallOffset && clock.nanos() - fenceDeadlineNanos < 0));
    }

    /**
     * Why this term may not issue now, or null while it may: stopped (lease lost, state file, closed), past its fence
     * deadline on either clock, or at the limit set while its clock last agreed with the coordinator's while they now
     * disagree. The reservation limit alone is not a reason: a caller extends it.
     *
     * @param nowOffset the wall clock (offset from the epoch)
     */
    String unavailableReason(long nowOffset) {
        Stop s = stop;
        if (s != null) {
            return stopped(s).getMessage();
        }
        if (expires && (clock.nanos() - fenceDeadlineNanos >= 0 || nowOffset >= fenceDeadlineWallOffset)) {
            return "lease of idc=" + owner.idc + " worker=" + workerId + " may have expired: no successful renewal before its fence"
                    + " deadline (TTL minus safety margin); IDs resume after a renewal or a fresh acquire";
        }
        Skew k = skew;
        if (k != null && nowOffset >= issueLimitOffset) {
            return skewRefusal(k).getMessage(); // the clocks disagree and the limit set while they agreed is reached
        }
        return null;
    }

    /**
     * The slow path when {@link #mayIssue} said no: throws why, or extends the reservation and returns.
     */
    void awaitPermit(long offset, long nowOffset) {
        Stop s = stop;
        if (s != null) {
            throw stopped(s);
        }
        if (expires && clock.nanos() - fenceDeadlineNanos >= 0) {
            throw new LeaseLostException("lease of idc=" + owner.idc + " worker=" + workerId + " may have expired: no successful renewal"
                    + " for " + (clock.nanos() - fenceDeadlineNanos) / 1_000_000 + " ms past its fence deadline (TTL minus safety margin);"
                    + " IDs resume after a renewal or a fresh acquire");
        }
        if (expires && nowOffset >= fenceDeadlineWallOffset) {
            throw new LeaseLostException("lease of idc=" + owner.idc + " worker=" + workerId + " may have expired: the wall clock is "
                    + (nowOffset - fenceDeadlineWallOffset) + " ms past its fence deadline (TTL minus safety margin after the last"
                    + " successful renewal) though the monotonic clock is not: the host or VM was suspended, or the clock was stepped"
                    + " forward; IDs resume after a renewal or a fresh acquire");
        }
        if (offset > layout.maxTimeOffset()) {
            throw new IdSpaceExhaustedException(layout, layout.epochMillis() + offset);
        }
        if (offset > issueLimitOffset) {
            Skew k = skew;
            if (k != null) {
                throw skewRefusal(k);
            }
            owner.extendReservation(this, offset);
        }
    }

    ClockSkewException skewRefusal(Skew k) {
        return new ClockSkewException("idc=" + owner.idc + " worker=" + workerId + ": not issuing past "
                + Instant.ofEpochMilli(layout.epochMillis() + issueLimitOffset) + ", the limit set while the clocks last agreed",
                k.localMillis, k.coordinatorMillis, k.allowedMillis, "IDs resume once the clocks agree again (checked every report interval)");
    }

    private RuntimeException stopped(Stop s) {
        switch (s) {
            case CLOSED:
                return new GeneratorClosedException(owner.closedReason(workerId));
            case STATE_FILE:
                return new StateFileException(stateFile.path(), stopReason);
            default:
                return new LeaseLostException(stopReason);
        }
    }

    /**
     * Lets the hot path issue up to {@code limitOffset} until the deadlines; never re-permits a stopped term (every
     * writer holds the generator's monitor, and the re-check after the write closes the race with {@link #stop}).
     */
    void permit(long limitOffset, long deadlineNanos, long deadlineWallOffset) {
        fenceDeadlineNanos = deadlineNanos;
        fenceDeadlineWallOffset = deadlineWallOffset;
        issueLimitOffset = limitOffset; // written after the deadlines: a reader that sees the new limit sees them
        if (stop != null) {
            issueLimitOffset = Long.MIN_VALUE;
        }
    }

    /** Records (or clears, with null) that the last renewal found the clocks too far apart. */
    void skew(Skew k) {
        skew = k;
    }

    Skew skew() {
        return skew;
    }

    long issueLimitOffset() {
        return issueLimitOffset;
    }

    /** {@return why this term stopped issuing, or null while it may issue} */
    Stop stopped() {
        return stop;
    }

    String stopReason() {
        return stopReason;
    }

    void leaseToken(String token) {
        this.leaseToken = token;
    }

    /** {@return whether this term issues under {@code lease}: same worker ID and token} */
    boolean issuesUnder(dev.ekko.spi.WorkerLease lease) {
        String t = leaseToken;
        return t != null && lease.workerId() == workerId && t.equals(lease.token());
    }

    /** Stops every claim at once; the reason becomes the message of the exception callers get. Idempotent. */
    void stop(Stop why, String reason) {
        if (stop == null) {
            stopReason = reason;
            stop = why;
        }
        issueLimitOffset = Long.MIN_VALUE;
        // Sealed by every caller, not only the first: none returns before the sequencers are sealed.
        for (Sequencer s : sequencers) {
            s.seal();
        }
    }

    /**
     * After {@link #stop}: the latest millisecond (Unix ms) any ID of this term can carry. The stop sealed every sequencer,
     * so no call still in flight can claim anything past their last states; one past them, or the clock, is a margin.
     * Never past the reservation.
     */
    long finalMarkMillis(long reservedUntilMillis) {
        long maxOffset = Long.MIN_VALUE;
        for (Sequencer s : sequencers) {
            maxOffset = Math.max(maxOffset, s.lastMillisOffset());
        }
        long mark = Math.max(layout.epochMillis() + maxOffset + 1, clock.millis());
        return Math.min(mark, reservedUntilMillis);
    }

    boolean expires() {
        return expires;
    }

    /** {@return the wall-clock fence deadline (offset from the epoch), or Long.MAX_VALUE for a lease that does not expire} */
    long fenceDeadlineWallOffset() {
        return fenceDeadlineWallOffset;
    }

    /**
     * {@return the sequence numbers its sequencers used in their current milliseconds (sequence + 1 each, those below a
     * millisecond's first included; 0 for one still at its start state), not yet in the generator's counters}
     */
    long usedInCurrentMilliseconds() {
        long n = 0;
        for (Sequencer s : sequencers) {
            n += s.usedInCurrentMillisecond();
        }
        return n;
    }

    /** {@return true for the one caller that flushes this term's counts, after it ended} */
    boolean flushStats() {
        return statsFlushed.compareAndSet(false, true);
    }

    boolean statsFlushed() {
        return statsFlushed.get();
    }
}
