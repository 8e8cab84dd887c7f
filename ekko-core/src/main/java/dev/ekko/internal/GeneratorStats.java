package dev.ekko.internal;

import dev.ekko.GeneratorStatus;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A generator's counters, for {@link dev.ekko.IdGenerator#status()}. None is touched per ID: a sequencer touches the
 * IDs-issued counts only when it moves to a new millisecond (once per 1,024 IDs at saturation, by the thread whose CAS
 * moves it, plus a take-back per lost race where the new millisecond does not start at 0), and the other counters count
 * slow paths (waits, refusals, keeper events). Plain atomics suffice at those rates.
 *
 * <p>IDs issued. A millisecond's first sequence number depends on the millisecond before it ({@link Sequencer}), so a
 * state alone no longer says how many IDs its millisecond issued. The count is kept in three parts: every millisecond a
 * sequencer entered issued its numbers from its first to its last, (last + 1) - first, so the IDs issued are
 * <pre>
 *   issuedBefore + (last + 1 of each live sequencer's current millisecond) - skipped
 * </pre>
 * <ul>
 *   <li>{@link #issuedBefore}: last + 1 of every millisecond a sequencer moved past, added by the CAS winner after its CAS,
 *       and of an ended term's current milliseconds, added by {@link #flush} after the term's sequencers were sealed;</li>
 *   <li>the current milliseconds: read from the live term's states (0 for a sequencer at its start state);</li>
 *   <li>{@link #skipped}: the first sequence of every millisecond entered, added <em>before</em> the CAS that enters it,
 *       and taken back if that CAS fails.</li>
 * </ul>
 *
 * <p>Why a snapshot never over-counts. {@link #snapshot} reads {@code issuedBefore}, then the states, then
 * {@code skipped}, in that order (volatile reads, one total order). (1) {@code issuedBefore} as read holds last + 1 only of
 * milliseconds closed before it was read, each once and with its final last: moved past, so not the millisecond a state
 * read later shows (states only grow); or of a term already flushed, whose states are then not read ({@code statsFlushed}
 * is set before the flush adds). So the first two parts add up to at most the sum of last + 1 over the milliseconds entered
 * by the time of the state reads, none twice. (2) {@code skipped}, read last, holds the first sequence of every millisecond
 * entered by then: each is added before its CAS and never taken back once the CAS won; what else it holds (an attempt still
 * in flight, or one that lost and has not taken its amount back yet) only adds. So the computed count is at most the sum of
 * (last + 1) - first over the milliseconds entered by the time {@code skipped} is read: the IDs issued by then. It can be
 * lower (a CAS between the reads, an attempt in flight): an under-count only. The reported count is the running maximum
 * of computed counts, each at most the IDs issued at its time, which only grow: it never goes down and never exceeds the
 * IDs issued.
 *
 * <p>Exact when quiet: with no call in flight, every millisecond moved past is in {@code issuedBefore}, every first
 * sequence of a millisecond entered is in {@code skipped} and nothing else is. At a term's end {@link #flush} adds last + 1
 * of its sealed states once (no CAS moves a sealed sequencer), so once the calls in flight at the stop have returned, the
 * count after close is exact.
 */
final class GeneratorStats {

    /** Last sequence + 1 of the milliseconds sequencers moved past, and of the current ones of terms that ended. */
    final AtomicLong issuedBefore = new AtomicLong();
    /** The first sequence numbers of the milliseconds sequencers entered (and of those a CAS is about to try to enter). */
    final AtomicLong skipped = new AtomicLong();
    final AtomicLong nextMillisecondWaits = new AtomicLong();
    final AtomicLong clockBackWaits = new AtomicLong();
    final AtomicLong clockBackRefusals = new AtomicLong();
    final AtomicLong leaseLosses = new AtomicLong();
    final AtomicLong reacquires = new AtomicLong();
    final AtomicLong lateRenewals = new AtomicLong();
    /**
     * The highest IDs-issued count reported: a sequencer publishes a new millisecond's state before it adds the old one's
     * count, so a computed count may briefly dip; what is reported never goes down (and never exceeds what was issued).
     */
    private final AtomicLong issuedReported = new AtomicLong();

    /**
     * A snapshot of the counters.
     *
     * @param current the live term, whose sequencers' current milliseconds are not counted yet (null if none)
     */
    GeneratorStatus.Counters snapshot(Term current) {
        long computed = issuedBefore.get(); // first: see the class comment for why this order never over-counts
        if (current != null && !current.statsFlushed()) {
            computed += current.usedInCurrentMilliseconds();
        }
        computed -= skipped.get(); // last
        long issued = issuedReported.accumulateAndGet(computed, Math::max);
        return new GeneratorStatus.Counters(issued, nextMillisecondWaits.get(), clockBackWaits.get(), clockBackRefusals.get(),
                leaseLosses.get(), reacquires.get(), lateRenewals.get());
    }

    /**
     * Adds last sequence + 1 of a term's current milliseconds once it has ended (its sequencers sealed): they never move
     * past them. Once per term.
     */
    void flush(Term ended) {
        if (ended.flushStats()) {
            issuedBefore.addAndGet(ended.usedInCurrentMilliseconds());
        }
    }
}
