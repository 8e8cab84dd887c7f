package dev.ekko.worker.etcd;

import dev.ekko.spi.WorkerLease;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What one holder knows of the other generators' clocks, for the reference time of its leases (etcd has no clock to ask).
 * Immutable: a renewal returns the next one.
 *
 * <p>It keeps one bound per other generator (a {@link EtcdWorkerAllocator.Votes} key): the intersection of the intervals
 * that generator's readings of the last lease TTL (and always the one before its newest) put its clock in, each carried
 * forward on this allocator's monotonic clock. Readings that disagree with a newer one (their intervals do not meet: that
 * clock was stepped) are dropped, and so are readings older than a TTL, so a clock stepped by less than a reading's age is
 * followed within a TTL (FleetClockReviewTest). A generator counts while its writer is in the ring (its release deletes its
 * slot, so a generator built again under a new name does not count twice: StripingEtcdFleetClockReviewIT) until two TTLs
 * and two renewals passed since its last reading (a live holder writes at every renewal; renewals too, so that an outage
 * forgets no one). The reference is taken over these bounds, one per generator, whichever of them wrote in the last
 * window: at least the lower median of their lower bounds, at most the upper median of their upper bounds, so each bound
 * is backed by a majority of the generators. Taking it over the readings of one window alone let a window that missed a
 * correct generator (its write held up, its renewal later) set a bound from an outlier's reading, which tightening then
 * kept (StripingEtcdTwoBoundsReviewIT). When no generator is left, the last reference is carried forward instead, so a
 * clock caught ahead stays caught while no one writes.
 */
final class FleetClock {

    /** Nothing known: no reference, no check. */
    static final FleetClock NONE = new FleetClock(Map.of(), null);

    /** The most readings kept per generator (a refused holder renews on demand, many times a second). */
    static final int MAX_READINGS = 64;

    private final Map<String, Seen> generators;
    private final Reference reference;

    private FleetClock(Map<String, Seen> generators, Reference reference) {
        this.generators = generators;
        this.reference = reference;
    }

    /**
     * A generator's readings that agree with its newest, oldest first, each as read: at the request whose reply brought it
     * ({@link Reference#atNanos()}).
     */
    private record Seen(List<Reference> readings, int missed) {
        Seen(List<Reference> readings) {
            this(readings, 0);
        }

        /** {@return the same readings, one more renewal having brought none} */
        Seen missedOne() {
            return new Seen(readings, missed + 1);
        }

        long readAtNanos() {
            return readings.get(readings.size() - 1).atNanos();
        }

        /**
         * {@return these readings and a newer one, less those older than {@code keepNanos} (but the one just before it, which
         * after an outage is the only one close to it) and those disagreeing with a newer one}
         */
        Seen with(Reference newest, long keepNanos) {
            List<Reference> kept = new ArrayList<>();
            kept.add(newest);
            Reference bound = newest;
            for (int i = readings.size() - 1; i >= 0 && kept.size() < MAX_READINGS; i--) {
                Reference r = readings.get(i);
                if (newest.atNanos() - r.atNanos() >= keepNanos && i < readings.size() - 1) {
                    break;
                }
                Reference both = bound.intersect(r.at(newest.atNanos()));
                if (both == null) {
                    break; // that clock was stepped since: this reading and older ones bound the clock it had
                }
                bound = both;
                kept.add(r);
            }
            Collections.reverse(kept);
            return new Seen(List.copyOf(kept));
        }

        /**
         * {@return the intersection of the readings' intervals at {@code nanos}}, from the newest back (they met when kept; one
         * that no longer meets by a millisecond of rounding ends it)
         */
        Reference bound(long nanos) {
            Reference bound = readings.get(readings.size() - 1).at(nanos);
            for (int i = readings.size() - 2; i >= 0; i--) {
                Reference both = bound.intersect(readings.get(i).at(nanos));
                if (both == null) {
                    break;
                }
                bound = both;
            }
            return bound;
        }
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
         * bounds (each bounds the same clock); null if they do not meet.
         */
        Reference intersect(Reference other) {
            long lo = Math.max(millis, other.millis);
            long hi = Math.min(upper(), other.upper());
            if (hi < lo) {
                return null;
            }
            return new Reference(lo, Math.max(atNanos, other.atNanos), hi == Long.MAX_VALUE ? WorkerLease.UNBOUNDED_AGE : hi - lo);
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
        votes.newest().forEach((g, at) -> seen.put(g, new Seen(List.of(new Reference(at, sentAt, WorkerLease.UNBOUNDED_AGE)))));
        return new FleetClock(Map.copyOf(seen), derive(seen, sentAt));
    }

    /**
     * At a renewal.
     *
     * @param fresh one reading per generator, each written since this holder's previous request was sent
     * @param present the generators whose writers are still in the ring (or otherwise known live); those not in it are
     *     forgotten at once (a release deletes the writer's slot)
     * @param sentAt the monotonic clock before this renewal was sent
     * @param ageMillis how old the fresh readings may be: the time since the previous request was sent, rounded up
     * @param ttlNanos the lease TTL: a generator's readings count for one, and a generator not read again for two (and two
     *     renewals) is forgotten
     * @param forgetUnboundedAt when a carried reference of unknown age stops counting, on the monotonic clock (its live holders
     *     would have written again by then)
     */
    FleetClock renewed(EtcdWorkerAllocator.Votes fresh, Set<String> present, long sentAt, long ageMillis, long ttlNanos,
            long forgetUnboundedAt) {
        Map<String, Seen> next = new HashMap<>();
        generators.forEach((g, s) -> {
            // Forgotten once two TTLs passed and two renewals came since its last reading: time alone would forget every
            // generator across an outage, and the first renewal after it would take the readings written just before it, as
            // old as the outage, for the fleet's clock (EtcdOutageIT).
            Seen carried = s.missedOne();
            if (present.contains(g) && (sentAt - s.readAtNanos() < 2 * ttlNanos || carried.missed() < 2)) {
                next.put(g, carried);
            }
        });
        fresh.newest().forEach((g, at) -> {
            Reference read = new Reference(at, sentAt, ageMillis);
            Seen before = next.get(g);
            next.put(g, before == null ? new Seen(List.of(read)) : before.with(read, ttlNanos));
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
            Reference bound = s.bound(sentAt);
            lower.add(bound.millis());
            upper.add(bound.upper());
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
