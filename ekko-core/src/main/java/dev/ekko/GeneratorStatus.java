package dev.ekko;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * An immutable snapshot of a generator, from {@link IdGenerator#status()}: what an operator needs to see whether it
 * issues, why not, and how it has been doing. Taking one reads volatile fields and counters; it takes no lock and calls
 * no coordinator, so a health check or a metrics scrape may take one as often as it likes.
 *
 * <p>Times are wall-clock instants by the generator's clock. Counters count from the generator's build and never go
 * down. {@link Counters#idsIssued()} is exact while no call is in flight (a stopped term seals its sequencers, so no call
 * in flight at a loss issues after it), and at most the calls in flight behind otherwise. The state and the counters are
 * read one after the other: a loss shows in the state a moment before it shows in {@link Counters#leaseLosses()}.
 *
 * @param state whether it issues now, and if not, in which way not
 * @param reason empty while {@link State#LIVE}; otherwise why not, the message a caller of {@code next()} would get
 * @param idc the datacenter, 0..7
 * @param workerId the worker ID held, or last held while the lease is lost
 * @param product the product line of {@code next()} of the generator this snapshot came from
 * @param allocator the name of the worker-ID back end ({@code manual}, {@code host-local}, {@code redis}, ...)
 * @param leaseExpiresAt when the lease lapses unless renewed, as this host computes it (the send time of the request that
 *     set it plus its TTL); empty for a lease that does not expire ({@code manual}) and while no lease is held
 * @param fenceDeadline when the generator stops issuing unless a renewal succeeds first (the lease expiry minus the
 *     safety margin); empty when the lease does not expire and while no lease is held
 * @param issueLimit the last millisecond IDs may carry before the keeper (or a caller) extends the reservation: reported
 *     to the coordinator and forced to the state file; empty unless {@link State#LIVE}
 * @param lead how far the last issued millisecond is ahead of the wall clock: up to {@code ekko.clock.max.lead} in
 *     bounded-lead mode; zero in real-time mode, unless the clock stepped back (then up to the step callers waited out)
 * @param lastRenewal the last renewal the keeper attempted, empty before the first
 * @param clockSkew the local clock minus the coordinator's at the last renewal that reported one (positive: this clock
 *     is ahead); empty for a back end without a clock ({@code manual}, {@code host-local}) and before the first report
 * @param counters what happened since the build
 */
public record GeneratorStatus(
        State state,
        Optional<String> reason,
        int idc,
        int workerId,
        int product,
        String allocator,
        Optional<Instant> leaseExpiresAt,
        Optional<Instant> fenceDeadline,
        Optional<Instant> issueLimit,
        Duration lead,
        Optional<Renewal> lastRenewal,
        Optional<Duration> clockSkew,
        Counters counters) {

    /** {@return whether the generator may issue now: {@code state() == LIVE}} */
    public boolean available() {
        return state == State.LIVE;
    }

    /** Where a generator is in its life. */
    public enum State {
        /** Acquiring a worker ID, or waiting for its start floor, after a lost lease: not issuing yet. */
        STARTING,
        /** Holds its lease and may issue. */
        LIVE,
        /**
         * Holds its lease but may not issue now: past its fence deadline with no successful renewal (the coordinator does not
         * answer), at its issue limit while the last renewal failed, or held at its limit while its clock disagrees with the
         * coordinator's. Issuing resumes by itself after a renewal, or the lease is found lost.
         */
        PAUSED,
        /**
         * Lost its lease and is acquiring one again (or stopped for good because its state file was changed under it: the
         * reason says so).
         */
        LOST,
        /** Closed: issues nothing, ever. */
        CLOSED
    }

    /**
     * The last renewal the keeper thread attempted.
     *
     * @param at when it was sent
     * @param took how long the coordinator took to answer (or to fail)
     * @param succeeded whether it renewed the lease and reported the reservation
     * @param failure empty when it succeeded; otherwise what went wrong
     */
    public record Renewal(Instant at, Duration took, boolean succeeded, Optional<String> failure) {
    }

    /**
     * What happened since the generator was built; every count only grows.
     *
     * @param idsIssued IDs handed out, by every product of the generator; never goes down between snapshots
     * @param nextMillisecondWaits times a caller waited for the next millisecond because 1,024 IDs were taken in the current
     *     one (and, in bounded-lead mode, the lead was used up)
     * @param clockBackWaits times a caller waited for a clock that was behind the last issued millisecond (not counting
     *     a caller refused at once, the clock being further behind than it may wait)
     * @param clockBackRefusals times a call gave up on a clock behind the last issued millisecond: {@code next()} threw
     *     {@link ClockMovedBackwardsException} (a {@code next(Duration)} waits within the call for the time it has left)
     * @param leaseLosses leases lost (found lost by a renewal or reported by the back end, or a state file fenced)
     * @param reacquires worker IDs acquired again after a lost lease
     * @param lateRenewals renewals that succeeded after the fence deadline had passed (callers were refused meanwhile) or
     *     after failed attempts
     */
    public record Counters(long idsIssued, long nextMillisecondWaits, long clockBackWaits, long clockBackRefusals,
            long leaseLosses, long reacquires, long lateRenewals) {
    }
}
