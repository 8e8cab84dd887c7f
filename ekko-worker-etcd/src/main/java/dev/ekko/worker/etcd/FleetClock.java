package dev.ekko.worker.etcd;

import dev.ekko.spi.WorkerLease;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What one holder knows of the other generators' clocks, for the reference time of its leases (etcd has no clock to ask).
 * Immutable: a renewal returns the next one.
 *
 * <p>It keeps one bound per other generator (a {@link EtcdWorkerAllocator.Votes} key): the interval that generator's readings
 * put its clock in, carried forward on this allocator's monotonic clock, and tightened by each newer reading of the same
 * generator (replaced when they disagree: that generator's clock was stepped). A generator not read for
 * {@code forgetAfterNanos} is forgotten (a live holder writes at every renewal). The reference is taken over these bounds,
 * one per generator, whichever of them wrote in the last window: at least the lower median of their lower bounds, at most the
 * upper median of their upper bounds, so each bound is backed by a majority of the generators. Taking it over the readings of
 * one window alone let a window that missed a correct generator (its write held up, its renewal later) set a bound from an
 * outlier's reading, which tightening then kept (StripingEtcdTwoBoundsReviewIT). When no generator is left, the last
 * reference is carried forward instead, so a clock caught ahead stays caught while no one writes.
 */
final class FleetClock {

    /** Nothing known: no reference, no check. */
    static final FleetClock NONE = new FleetClock(Map.of(), null);

    private final Map<String, Seen> generators;
    private final Reference reference;

    private FleetClock(Map<String, Seen> generators, Reference reference) {
        this.generators = generators;
        this.reference = reference;
    }

    /**
     * A generator's clock as this holder knows it: within {@code bound} (carried to its {@code atNanos}), from a reading this
     * holder read at {@code readAtNanos}.
     */
    private record Seen(Reference bound, long readAtNanos) {
    }

    /**
     * A reference time: the fleet's clock was at least {@code millis} (and, for a bounded age, at most {@code maxAge} more) when
     * this holder sent the request at {@code atNanos}.
     */
    record Reference(long millis, long atNanos, long maxAge) {
        /** {@return the same reference carried to a later request, on the monotonic clock} */
        Reference at(long nanos) {
            return new Reference(millis + (nanos - atNanos) / 1_000_000, nanos, maxAge);
        }

        /**
         * {@return both references, at the same request, as one}: the later of their lower bounds and the earlier of their upper
         * bounds (each bounds the same clock). If they disagree (that clock was stepped since), the newer one.
         */
        Reference tighten(Reference newer) {
            long lo = Math.max(millis, newer.millis);
            long hi = Math.min(upper(), newer.upper());
            if (hi < lo) {
                return newer;
            }
            return new Reference(lo, newer.atNanos, hi == Long.MAX_VALUE ? WorkerLease.UNBOUNDED_AGE : hi - lo);
        }

        /** {@return the latest the clock may have been at {@code atNanos}, or {@link Long#MAX_VALUE} for an unbounded age} */
        long upper() {
            return maxAge == WorkerLease.UNBOUNDED_AGE ? Long.MAX_VALUE : millis + maxAge;
        }
    }

    /**
     * At acquire: readings of unknown age (a crashed holder's key outlives its lease's TTL when etcd refreshes leases at a leader
     * election), so each bounds its generator's clock from below only.
     *
     * @param votes one reading per generator
     * @param sentAt the monotonic clock before the acquire was sent
     */
    static FleetClock acquired(EtcdWorkerAllocator.Votes votes, long sentAt) {
        Map<String, Seen> seen = new HashMap<>();
        votes.newest().forEach((g, at) -> seen.put(g, new Seen(new Reference(at, sentAt, WorkerLease.UNBOUNDED_AGE), sentAt)));
        return new FleetClock(Map.copyOf(seen), derive(seen, sentAt));
    }

    /**
     * At a renewal.
     *
     * @param fresh one reading per generator, each written since this holder's previous request was sent
     * @param sentAt the monotonic clock before this renewal was sent
     * @param ageMillis how old the fresh readings may be: the time since the previous request was sent, rounded up
     * @param forgetAfterNanos how long a generator not read again still counts
     * @param forgetUnboundedAt when a carried reference of unknown age stops counting, on the monotonic clock (its live holders
     *     would have written again by then)
     */
    FleetClock renewed(EtcdWorkerAllocator.Votes fresh, long sentAt, long ageMillis, long forgetAfterNanos, long forgetUnboundedAt) {
        Map<String, Seen> next = new HashMap<>();
        generators.forEach((g, s) -> {
            if (sentAt - s.readAtNanos() < forgetAfterNanos) {
                next.put(g, new Seen(s.bound().at(sentAt), s.readAtNanos()));
            }
        });
        fresh.newest().forEach((g, at) -> {
            Reference read = new Reference(at, sentAt, ageMillis);
            Seen before = next.get(g);
            next.put(g, new Seen(before == null ? read : before.bound().tighten(read), sentAt));
        });
        if (next.isEmpty()) {
            Reference carried = reference == null || (reference.maxAge() == WorkerLease.UNBOUNDED_AGE && sentAt - forgetUnboundedAt >= 0)
                    ? null : reference.at(sentAt);
            return new FleetClock(Map.of(), carried);
        }
        return new FleetClock(Map.copyOf(next), derive(next, sentAt));
    }

    /** {@return the reference: the fleet's clock at the last request, or null if nothing is known} */
    Reference reference() {
        return reference;
    }

    /** {@return how many generators count} */
    int generators() {
        return generators.size();
    }

    private static Reference derive(Map<String, Seen> seen, long sentAt) {
        if (seen.isEmpty()) {
            return null;
        }
        List<Long> lower = new ArrayList<>();
        List<Long> upper = new ArrayList<>();
        for (Seen s : seen.values()) {
            lower.add(s.bound().millis());
            upper.add(s.bound().upper());
        }
        long lo = median(lower);
        long hi = upperMedian(upper);
        return new Reference(lo, sentAt, hi == Long.MAX_VALUE ? WorkerLease.UNBOUNDED_AGE : hi - lo);
    }

    /**
     * {@return the lower median of the values (a majority are at or above it), or {@link WorkerLease#UNKNOWN_TIME} if there
     * are none}
     */
    static long median(List<Long> values) {
        return values.isEmpty() ? WorkerLease.UNKNOWN_TIME : sorted(values).get((values.size() - 1) / 2);
    }

    /**
     * {@return the upper median of the values (a majority are at or below it), or {@link WorkerLease#UNKNOWN_TIME} if there
     * are none}; the lower median when their number is odd
     */
    static long upperMedian(List<Long> values) {
        return values.isEmpty() ? WorkerLease.UNKNOWN_TIME : sorted(values).get(values.size() / 2);
    }

    private static List<Long> sorted(List<Long> values) {
        List<Long> sorted = new ArrayList<>(values);
        sorted.sort(null);
        return sorted;
    }
}
