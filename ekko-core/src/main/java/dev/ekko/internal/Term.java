package dev.ekko.internal;

import dev.ekko.EkkoClock;
import dev.ekko.IdSpaceExhaustedException;
import dev.ekko.LeaseLostException;
import dev.ekko.Layout;

/**
 * One tenure of a worker ID: the lease's permissions as the hot path sees them, the state file, and
 * one {@link Sequencer} per product. A lost lease ends the term; a fresh acquire starts a new one.
 *
 * <p>Permission to move to a new millisecond {@code m} (offset from the epoch) needs both
 * <ul>
 *   <li>{@code m <= issueLimitOffset}: the reservation covering {@code m} has been forced to the state
 *       file and reported to the coordinator (written by {@link EkkoGenerator#renewAndReserve} after both), and</li>
 *   <li>the monotonic clock is before {@code fenceDeadlineNanos}: the lease cannot yet have expired at the
 *       coordinator (its last successful renewal's send time + TTL - safety margin).</li>
 * </ul>
 * Both are volatile fields written by the keeper thread and read once per new millisecond.
 */
final class Term {

    /** Term kinds that issue nothing: what the generator points at while it has no lease. */
    enum Kind { LIVE, LOST, CLOSED }

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
    private volatile String lostReason;
    private volatile boolean closed;

    Term(Kind kind, EkkoGenerator owner, int workerId, StateFile stateFile, boolean expires, long floorOffset, String lostReason) {
        this.kind = kind;
        this.owner = owner;
        this.workerId = workerId;
        this.stateFile = stateFile;
        this.expires = expires;
        this.clock = owner.clock;
        this.layout = owner.layout;
        this.lostReason = lostReason;
        this.sequencers = new Sequencer[layout.products()];
        for (int p = 0; p < sequencers.length; p++) {
            long prefix = layout.encode(layout.epochMillis(), owner.idc, workerId, p, 0);
            sequencers[p] = new Sequencer(this, prefix, floorOffset, clock, layout.epochMillis(), owner.maxLeadMillis,
                    owner.maxBackwardWaitNanos);
        }
    }

    /** A term that issues nothing and says why: after a lost lease, or after close. */
    static Term idle(Kind kind, EkkoGenerator owner, int workerId, String reason) {
        return new Term(kind, owner, workerId, null, false, -1, reason);
    }

    /** The fast check, once per new millisecond. */
    boolean mayIssue(long offset) {
        return offset <= issueLimitOffset && (!expires || clock.nanos() - fenceDeadlineNanos < 0);
    }

    /**
     * The slow path when {@link #mayIssue} said no: throws why, or extends the reservation and returns.
     */
    void awaitPermit(long offset) {
        if (kind == Kind.CLOSED || closed) {
            throw new IllegalStateException("generator is closed: idc=" + owner.idc + " worker=" + workerId);
        }
        String lost = lostReason;
        if (lost != null) {
            throw new LeaseLostException(lost);
        }
        if (expires && clock.nanos() - fenceDeadlineNanos >= 0) {
            throw new LeaseLostException("lease of idc=" + owner.idc + " worker=" + workerId + " may have expired: no successful renewal"
                    + " for " + (clock.nanos() - fenceDeadlineNanos) / 1_000_000 + " ms past its fence deadline (TTL minus safety margin);"
                    + " IDs resume after a renewal or a fresh acquire");
        }
        if (offset > layout.maxTimeOffset()) {
            throw new IdSpaceExhaustedException(layout, layout.epochMillis() + offset);
        }
        if (offset > issueLimitOffset) {
            owner.extendReservation(this, offset);
        }
    }

    void permit(long limitOffset, long deadlineNanos) {
        fenceDeadlineNanos = deadlineNanos;
        issueLimitOffset = limitOffset; // written last: a reader that sees the new limit also sees the deadline
    }

    long issueLimitOffset() {
        return issueLimitOffset;
    }

    /** Stops every new millisecond at once; the reason becomes the {@link LeaseLostException} message. */
    void lose(String reason) {
        lostReason = reason;
        issueLimitOffset = Long.MIN_VALUE;
    }

    /** Stops every new millisecond at once because the generator is closing. */
    void close() {
        closed = true;
        lose("generator is closed");
    }

    /**
     * After {@link #lose} or at close: the latest millisecond (Unix ms) any ID of this term can carry,
     * including one still in flight in a thread that passed its checks before the stop. It is at most one
     * past the last state of its sequencer, or the clock that thread read, and never past the reservation.
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
}
