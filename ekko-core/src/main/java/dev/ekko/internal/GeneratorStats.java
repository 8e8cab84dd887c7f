package dev.ekko.internal;

import dev.ekko.GeneratorStatus;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A generator's counters, for {@link dev.ekko.IdGenerator#status()}. None is touched per ID: a sequencer adds a
 * millisecond's count when it moves past that millisecond (at most once per 1,024 IDs, by the thread whose CAS moved it),
 * and the other counters count slow paths (waits, refusals, keeper events). Plain atomics suffice at those rates.
 */
final class GeneratorStats {

    /** IDs of milliseconds a sequencer has moved past, and of terms that ended. */
    final AtomicLong issuedBefore = new AtomicLong();
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
        long computed = issuedBefore.get();
        if (current != null && !current.statsFlushed()) {
            computed += current.issuedInCurrentMilliseconds();
        }
        long issued = issuedReported.accumulateAndGet(computed, Math::max);
        return new GeneratorStatus.Counters(issued, nextMillisecondWaits.get(), clockBackWaits.get(), clockBackRefusals.get(),
                leaseLosses.get(), reacquires.get(), lateRenewals.get());
    }

    /** Adds the IDs of a term's current milliseconds once it has ended: its sequencers never move past them. Once per term. */
    void flush(Term ended) {
        if (ended.flushStats()) {
            issuedBefore.addAndGet(ended.issuedInCurrentMilliseconds());
        }
    }
}
