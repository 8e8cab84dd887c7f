package dev.ekko.internal;

import dev.ekko.ClockMovedBackwardsException;
import dev.ekko.EkkoClock;
import dev.ekko.GenerationInterruptedException;
import dev.ekko.Layout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

/**
 * The hot path: issues IDs for one (IDC, worker, product) under one {@link Term}.
 *
 * <p>All mutable state is one {@code long}, {@code state = millis << 10 | sequence}, where millis is
 * the offset from the layout's epoch of the last millisecond used and sequence the last sequence
 * number used in it. A claim reads it, computes the successor and CASes it in: the winner owns every
 * sequence number between the two states, so no two callers ever get the same ID, and successive
 * states only grow, so IDs are strictly increasing. The state starts exhausted at the start floor
 * ({@code floor << 10 | 1023}), so nothing at or below the floor is ever issued.
 *
 * <p>The spread: a new millisecond's sequence starts at 0 when the millisecond the state moves from was used up (sequence
 * 1023), and at {@link #firstSequence(long)} (0..15, a hash of the millisecond) otherwise, the start state included
 * ({@link #firstSequenceAfter}). At low rates, where the millisecond before was not used up, IDs so spread over
 * {@code id % 16}; a saturated stream, every millisecond used up before the next, starts each at 0 and loses no number.
 * Either way the new state is in a later millisecond than the old one, so it is still above it: the order and the floor
 * above do not depend on the first sequence. The IDs-issued count no longer follows from a state alone (its millisecond's
 * first sequence depends on the millisecond before): {@link GeneratorStats} keeps the numbers skipped below first sequences
 * apart, and says why its count never runs ahead of the IDs issued.
 *
 * <p>Every claim checks the term's permission ({@link Term#mayIssue}): the issue limit (the forced,
 * reported reservation) and, for an expiring lease, the fence deadline on both clocks. Moving to a new
 * millisecond is the only step that may also need the keeper (to extend the reservation), and the
 * state file's last-issued mark is raised to it <em>before</em> the CAS that takes it. Raising it
 * after would leave a window in which another thread takes and returns an ID of the new millisecond
 * while the mark still lags, and a crash then would hide that ID from the next start. A mark raised
 * for a CAS that then fails is harmless: it is within the issue limit.
 *
 * <p>Memory ordering: {@code state} is read with volatile semantics and written only by CAS
 * (volatile semantics), which also publishes nothing else: IDs carry all the information.
 */
final class Sequencer extends SequencerState {

    static final int SEQ_BITS = Layout.SEQUENCE_BITS;
    static final long SEQ_MASK = (1L << SEQ_BITS) - 1;
    /** A millisecond's first sequence is one of 2^SPREAD_BITS values: see {@link #firstSequence(long)}. */
    static final int SPREAD_BITS = 4;
    /**
     * The state of a sealed sequencer (its term stopped): a millisecond past any layout's end, sequence 0. A claim that
     * reads it takes the same-millisecond path, where the term's check refuses it with the stop's exception; a CAS from any
     * earlier state fails. So nothing is issued under a term after {@link #seal()}, not even by a call that passed its
     * checks before the stop and stalled.
     */
    static final long SEALED = Long.MAX_VALUE & ~SEQ_MASK;
    /**
     * What {@link #claimOrUsedUp} returns, or-ed with the millisecond, when the current millisecond is used up and the
     * claim would wait for the next one: negative, so never a claim (claims are below 2^59).
     */
    static final long USED_UP = Long.MIN_VALUE;
    /** What {@link #claimIn} returns when it cannot claim in the millisecond asked for. */
    static final long NONE = -1;
    private static final int SPINS_BEFORE_PARK = 1 << 14;
    private static final long PARK_NANOS = 100_000;

    private final EkkoClock clock;
    private final long epochMillis;
    private final long prefix;
    private final Term term;
    private final long maxLeadMillis;
    private final long maxBackwardWaitNanos;
    private final long initialState;
    private final GeneratorStats stats;
    /** The state a {@link #seal()} replaced; written before the CAS that seals, so a reader of SEALED sees it. */
    private volatile long sealedFrom;

    Sequencer(Term term, long prefix, long floorOffset, EkkoClock clock, long epochMillis, long maxLeadMillis,
            long maxBackwardWaitNanos, GeneratorStats stats) {
        this.term = term;
        this.stats = stats;
        this.prefix = prefix;
        this.clock = clock;
        this.epochMillis = epochMillis;
        this.maxLeadMillis = maxLeadMillis;
        this.maxBackwardWaitNanos = maxBackwardWaitNanos;
        this.initialState = (floorOffset << SEQ_BITS) | SEQ_MASK;
        soState(initialState);
    }

    /**
     * The first sequence number of millisecond {@code ms} (offset from the epoch) when it is entered from a millisecond
     * that was not used up ({@link #firstSequenceAfter}): 0..15, from a multiplicative hash of the millisecond, so that at
     * low rates, where most milliseconds issue one ID, {@code id % 16} (and any power of two up to 16) spreads evenly, also
     * for callers that come at a fixed period. IDs stay strictly increasing: the sequence still only grows within a
     * millisecond. The cost is the numbers below it, 7.5 on average, and only in a millisecond that is then used up: the
     * first millisecond of a burst that follows a quieter one. A millisecond entered from a used-up one starts at 0 and
     * costs nothing, so a saturated stream issues all 1,024 numbers of every millisecond after its first (it lost 0.73% of
     * the real-time ceiling when every millisecond started here).
     */
    static long firstSequence(long ms) {
        return (ms * 0x9E3779B97F4A7C15L) >>> (Long.SIZE - SPREAD_BITS);
    }

    /**
     * The first sequence number of millisecond {@code ms}, entered from state {@code s} (in an earlier millisecond): 0 if
     * {@code s} used its millisecond up, {@link #firstSequence(long) firstSequence(ms)} otherwise.
     *
     * <p>The start state ({@code floor << 10 | 1023}) has sequence 1023 only to keep the floor, and counts as not used up:
     * were it taken as used up, the first ID of every term, of every product and of every stripe would carry sequence 0, so
     * processes that issue a few IDs each (a command line, a batch job, a function invocation) would all fall on shard
     * {@code id % 16 == 0}, which the spread is there to prevent. It costs at most 15 numbers once per term and product.
     *
     * @param s the state moved from
     * @param ms the millisecond entered (offset from the epoch), above {@code s}'s
     * @return 0..15
     */
    long firstSequenceAfter(long s, long ms) {
        return (s & SEQ_MASK) == SEQ_MASK && s != initialState ? 0 : firstSequence(ms);
    }

    /**
     * {@return the sequence numbers up to the last one used in the current millisecond, those below its first included
     * (sequence + 1): 0 at the start state (the floor, "fully used", issued nothing)}
     */
    long usedInCurrentMillisecond() {
        long s = lastState();
        return s == initialState ? 0 : (s & SEQ_MASK) + 1;
    }

    /** {@return the last state IDs were claimed with: the state a seal replaced, once sealed} */
    private long lastState() {
        long s = lvState();
        return s == SEALED ? sealedFrom : s;
    }

    /**
     * Stops this sequencer for good: from now on every claim is refused by the term's check and every CAS from an earlier
     * state fails. Idempotent; the state it replaced stays readable through {@link #lastMillisOffset()} and the counts.
     *
     * <p>Synchronized: two seals can race (a lease loss on the allocator's thread and {@code close()} stop one term at once),
     * and a seal that read a state, then lost the CAS to the other, would otherwise write its stale state into
     * {@link #sealedFrom} after the winner's: the last millisecond and the count after close would then be an earlier
     * millisecond's (an adversarial review found it; SpreadReviewTest). Under the monitor a seal's write and its CAS are one
     * step among seals, so {@code sealedFrom} keeps the state the sealing CAS replaced. Claims never take the monitor.
     */
    synchronized void seal() {
        for (;;) {
            long s = lvState();
            if (s == SEALED) {
                return;
            }
            sealedFrom = s;
            if (casState(s, SEALED)) {
                return;
            }
        }
    }

    long next() {
        long r = claim(1, maxBackwardWaitNanos);
        return compose(r >> SEQ_BITS);
    }

    /** {@link #next()}, waiting up to {@code backwardWaitNanos} (not the configured bound) for a clock behind. */
    long next(long backwardWaitNanos) {
        long r = claim(1, backwardWaitNanos, false);
        return compose(r >> SEQ_BITS);
    }

    /** {@return the wall clock as an offset from the epoch} */
    long nowOffset() {
        return clock.millis() - epochMillis;
    }

    long compose(long state) {
        return ((state >> SEQ_BITS) << Layout.TIME_SHIFT) | prefix | (state & SEQ_MASK);
    }

    /** {@return the millisecond offset of the last state; for leads and shutdown marks} */
    long lastMillisOffset() {
        return lastState() >> SEQ_BITS;
    }

    /**
     * Claims up to {@code wanted} (1..1024) consecutive sequence numbers of one millisecond.
     *
     * @return {@code lastState << 10 | (count - 1)}: the state after the claim, and how many were claimed
     */
    long claim(int wanted) {
        return claim(wanted, maxBackwardWaitNanos, false);
    }

    /** {@link #claim(int)}, waiting up to {@code backwardWaitNanos} (not the configured bound) for a clock behind. */
    long claim(int wanted, long backwardWaitNanos) {
        return claim(wanted, backwardWaitNanos, false);
    }

    /**
     * {@link #claim(int)}, except that where it would wait for the next millisecond because the current one is used up
     * (not for a clock that went back), it returns {@code USED_UP | ms} at once, {@code ms} being that millisecond: a
     * striped generator then claims in {@code ms} on another stripe ({@link #claimIn}) instead of waiting.
     */
    long claimOrUsedUp(int wanted, long backwardWaitNanos) {
        return claim(wanted, backwardWaitNanos, true);
    }

    /**
     * Claims up to {@code wanted} (1..1024) consecutive sequence numbers in millisecond {@code ms} exactly, never waiting:
     * the rest of {@code ms} if this sequencer is in it, or the start of {@code ms} if it is behind it and could move there
     * by itself ({@code ms} at most the clock plus the allowed lead). For a striped generator's spill, so a caller's IDs
     * stay in the millisecond its home stripe is in. Does nothing the term does not permit without a slow path (a stopped
     * term, a fence, a reservation to extend): those return {@link #NONE}, and the home stripe's own claim deals with them.
     *
     * @param ms the millisecond (offset from the epoch)
     * @param nowOffset the wall clock the caller read (offset from the epoch)
     * @return as {@link #claim(int)}, or {@link #NONE} when this sequencer is past {@code ms}, has used it up, or may not
     *     issue in it now
     */
    long claimIn(long ms, int wanted, long nowOffset) {
        for (;;) {
            long s = lvState();
            long at = s >> SEQ_BITS;
            if (at > ms || (at == ms && (s & SEQ_MASK) == SEQ_MASK) || (at < ms && ms - nowOffset > maxLeadMillis)
                    || !term.mayIssue(ms, nowOffset)) {
                return NONE; // a sealed sequencer is past every millisecond
            }
            if (at == ms) {
                int k = (int) Math.min(wanted, SEQ_MASK - (s & SEQ_MASK));
                long n = s + k;
                if (casState(s, n)) {
                    return (n << SEQ_BITS) | (k - 1);
                }
            } else {
                long first = firstSequenceAfter(s, ms);
                int k = (int) Math.min(wanted, SEQ_MASK + 1 - first);
                long n = (ms << SEQ_BITS) | (first + k - 1);
                if (enter(s, n, first)) {
                    return (n << SEQ_BITS) | (k - 1);
                }
            }
        }
    }

    /**
     * {@link #claim(int, long)} in a millisecond at or above {@code floorMs}: for a striped generator's failover, so that a
     * call its home stripe refused is served in a millisecond at or above the one the home stripe reached (in bounded-lead
     * mode a stripe runs ahead of the clock, and another stripe may be at the clock). Where this sequencer is behind
     * {@code floorMs} and the clock is too, it moves to {@code floorMs} if it could by itself ({@code floorMs} at most the
     * clock plus the allowed lead), extending its reservation on the slow path as a claim would, or refusing as a claim
     * would. Where {@code floorMs} is further ahead than that (the clock went back past the lead), it is a plain claim.
     *
     * @param floorMs the lowest millisecond to claim in (offset from the epoch)
     * @param wanted 1..1024
     * @param backwardWaitNanos how long to wait for a clock behind
     * @return as {@link #claim(int)}
     */
    long claimAtOrAbove(long floorMs, int wanted, long backwardWaitNanos) {
        for (;;) {
            long s = lvState();
            long now = nowOffset();
            if ((s >> SEQ_BITS) >= floorMs || now >= floorMs || floorMs - now > maxLeadMillis) {
                // From here a claim only moves up to the clock or past the state (a sealed one refuses): at or above the floor;
                // or the clock is behind the floor by more than the lead, a clock step back a claim waits for or refuses.
                return claim(wanted, backwardWaitNanos, false);
            }
            if (!term.mayIssue(floorMs, now)) {
                term.awaitPermit(floorMs, now); // throws the refusal, or extends the reservation
                continue;
            }
            long r = claimIn(floorMs, wanted, now);
            if (r != NONE) {
                return r;
            }
            // The state moved (past or up to the floor) or the permission changed meanwhile: look again.
        }
    }

    private long claim(int wanted, long backwardWaitNanos, boolean returnWhenUsedUp) {
        long waitStart = 0;
        int spins = 0;
        for (;;) {
            long s = lvState();
            long ms = s >> SEQ_BITS;
            long now = clock.millis() - epochMillis;
            long n;
            int k;
            long first = 0;
            if (now > ms) {
                if (!term.mayIssue(now, now)) {
                    term.awaitPermit(now, now);
                    continue;
                }
                first = firstSequenceAfter(s, now);
                k = (int) Math.min(wanted, SEQ_MASK + 1 - first);
                n = (now << SEQ_BITS) | (first + k - 1);
            } else if ((s & SEQ_MASK) != SEQ_MASK) {
                // The rest of a millisecond that is not in the past (bounded lead runs ahead of the clock; a clock
                // step back puts it behind): the fence is checked here too, so nothing is issued after the deadline.
                if (!term.mayIssue(ms, now)) {
                    term.awaitPermit(ms, now);
                    continue;
                }
                k = (int) Math.min(wanted, SEQ_MASK - (s & SEQ_MASK));
                n = s + k;
            } else if (maxLeadMillis > 0 && ms + 1 - now <= maxLeadMillis) {
                if (!term.mayIssue(ms + 1, now)) {
                    term.awaitPermit(ms + 1, now);
                    continue;
                }
                first = firstSequenceAfter(s, ms + 1); // 0 unless s is the start state: ms is used up
                k = (int) Math.min(wanted, SEQ_MASK + 1 - first);
                n = ((ms + 1) << SEQ_BITS) | (first + k - 1);
            } else {
                // This millisecond is used up and the clock (plus the allowed lead) has not passed it.
                long gapMillis = ms - now - maxLeadMillis;
                if (returnWhenUsedUp && gapMillis <= 0 && waitStart == 0) {
                    return USED_UP | ms;
                }
                long t = clock.nanos();
                if (waitStart == 0) {
                    waitStart = t | 1;
                    if (gapMillis > 0) {
                        Events.clockStepBack(epochMillis + ms, epochMillis + now, backwardWaitNanos / 1_000_000);
                    }
                    if (gapMillis * 1_000_000 > backwardWaitNanos) {
                        stats.clockBackRefusals.getAndIncrement();
                        throw new ClockMovedBackwardsException(epochMillis + now, epochMillis + ms, 0);
                    }
                    (gapMillis > 0 ? stats.clockBackWaits : stats.nextMillisecondWaits).getAndIncrement();
                } else if (t - waitStart > backwardWaitNanos + 1_000_000) {
                    stats.clockBackRefusals.getAndIncrement();
                    throw new ClockMovedBackwardsException(epochMillis + now, epochMillis + ms, (t - waitStart) / 1_000_000);
                }
                spins = backOff(spins);
                continue;
            }
            if ((n >> SEQ_BITS) != ms) {
                if (enter(s, n, first)) {
                    return (n << SEQ_BITS) | (k - 1);
                }
            } else if (casState(s, n)) {
                return (n << SEQ_BITS) | (k - 1);
            }
        }
    }

    /**
     * Moves from {@code s} to {@code n}, a state in a later millisecond whose first sequence number is {@code first}, and
     * keeps the counts (see {@link GeneratorStats}): the state file's mark and {@code skipped} are raised before the CAS,
     * {@code issuedBefore} after it; a failed CAS takes its {@code skipped} back. A millisecond entered at 0 (the one a
     * saturated stream enters) touches nothing but the mark, the CAS and {@code issuedBefore}, as before the spread.
     *
     * @return whether the CAS won
     */
    private boolean enter(long s, long n, long first) {
        term.stateFile.advanceLastIssued(epochMillis + (n >> SEQ_BITS));
        if (first != 0) {
            stats.skipped.getAndAdd(first);
        }
        if (casState(s, n)) {
            // This CAS moved past s's millisecond for good (states only grow): count its numbers up to s, once, off the
            // per-ID path. The start state used none.
            if (s != initialState) {
                stats.issuedBefore.getAndAdd((s & SEQ_MASK) + 1);
            }
            return true;
        }
        if (first != 0) {
            stats.skipped.getAndAdd(-first);
        }
        return false;
    }

    private static int backOff(int spins) {
        if (spins < SPINS_BEFORE_PARK) {
            Thread.onSpinWait();
        } else {
            LockSupport.parkNanos(PARK_NANOS);
        }
        if (Thread.interrupted()) {
            Thread.currentThread().interrupt();
            throw new GenerationInterruptedException("waiting for the next millisecond");
        }
        return spins + 1;
    }
}

/** Padding before the state: keeps it off the cache line of the previous object's fields. */
abstract class SequencerPadBefore {
    long p01, p02, p03, p04, p05, p06, p07, p08;
}

/** The single mutable field, and its named accessors (lv = load volatile, so = store ordered, cas). */
abstract class SequencerStateField extends SequencerPadBefore {
    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(SequencerStateField.class, "state", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private volatile long state;

    final long lvState() {
        return state;
    }

    /** Ordered store, for the constructor; the object is published through a volatile Term field. */
    final void soState(long v) {
        STATE.setRelease(this, v);
    }

    final boolean casState(long expected, long v) {
        return STATE.compareAndSet(this, expected, v);
    }
}

/** Padding after the state: keeps it off the cache line of the immutable fields read on every call. */
abstract class SequencerState extends SequencerStateField {
    long p11, p12, p13, p14, p15, p16, p17, p18;
}
