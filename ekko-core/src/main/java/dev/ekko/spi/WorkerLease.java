package dev.ekko.spi;

import java.time.Duration;
import java.util.Objects;

/**
 * A worker ID held for a limited time. Immutable: a renewal returns a new lease.
 *
 * <p>The core stops issuing IDs at {@code grantedAtNanos + ttl - margin} on the monotonic clock
 * unless a renewal moved the deadline, so an allocator must set {@code grantedAtNanos} to a reading
 * taken <em>before</em> it sent the request that set the expiry at the coordinator.
 */
public final class WorkerLease {

    /** The value of {@link #coordinatorTimeMillis()} when the coordinator's clock is not known. */
    public static final long UNKNOWN_TIME = Long.MIN_VALUE;

    /**
     * The value of {@link #coordinatorTimeMaxAgeMillis()} for a reference time whose age has no known bound: a lower bound
     * of the fleet's clock, from readings that may be arbitrarily old. The core then checks only that the local clock is not
     * behind it, and until a bounded reference comes keeps the issue limit within two report intervals of the local clock.
     */
    public static final long UNBOUNDED_AGE = Long.MAX_VALUE;

    private final int workerId;
    private final String token;
    private final Duration ttl;
    private final long grantedAtNanos;
    private final Handover handover;
    private final long coordinatorTimeMillis;
    private final long coordinatorTimeMaxAgeMillis;
    private final ClockReport previousReport;

    /**
     * Creates a lease whose coordinator reads its own clock while it serves the request (or has none).
     *
     * @param workerId the worker ID held
     * @param token the secret that proves this holder at the coordinator; never logged
     * @param ttl how long the lease lasts after {@code grantedAtNanos} unless renewed; {@link Duration#ZERO}
     *     for a lease that never expires while the process lives (host-local and manual)
     * @param grantedAtNanos the monotonic clock ({@code EkkoClock.nanos()}) read before the request was sent
     * @param handover what is known of earlier holders (for a renewal, the same as the acquired lease's)
     * @param coordinatorTimeMillis the coordinator's clock at the request, Unix milliseconds, or {@link #UNKNOWN_TIME}
     * @param previousReport the last report stored for this worker ID before this lease, or null
     */
    public WorkerLease(int workerId, String token, Duration ttl, long grantedAtNanos, Handover handover,
            long coordinatorTimeMillis, ClockReport previousReport) {
        this(workerId, token, ttl, grantedAtNanos, handover, coordinatorTimeMillis, 0, previousReport);
    }

    /**
     * Creates a lease whose reference time may be older than the request: a coordinator with no clock of its own (etcd)
     * passes a time built from other holders' reports, and says how old those reports may be.
     *
     * @param workerId the worker ID held
     * @param token the secret that proves this holder at the coordinator; never logged
     * @param ttl how long the lease lasts after {@code grantedAtNanos} unless renewed; {@link Duration#ZERO}
     *     for a lease that never expires while the process lives (host-local and manual)
     * @param grantedAtNanos the monotonic clock ({@code EkkoClock.nanos()}) read before the request was sent
     * @param handover what is known of earlier holders (for a renewal, the same as the acquired lease's)
     * @param coordinatorTimeMillis the reference time, Unix milliseconds, or {@link #UNKNOWN_TIME}
     * @param coordinatorTimeMaxAgeMillis how long before the request was sent the reference time may have been read, at most
     *     ({@code >= 0}; 0 for a clock read while the request was served; {@link #UNBOUNDED_AGE} if not known)
     * @param previousReport the last report stored for this worker ID before this lease, or null
     */
    public WorkerLease(int workerId, String token, Duration ttl, long grantedAtNanos, Handover handover,
            long coordinatorTimeMillis, long coordinatorTimeMaxAgeMillis, ClockReport previousReport) {
        if (workerId < 0) {
            throw new IllegalArgumentException("must be >= 0: workerId=" + workerId);
        }
        if (coordinatorTimeMaxAgeMillis < 0) {
            throw new IllegalArgumentException("must be >= 0: coordinatorTimeMaxAgeMillis=" + coordinatorTimeMaxAgeMillis);
        }
        this.workerId = workerId;
        this.token = Objects.requireNonNull(token, "token");
        this.ttl = Objects.requireNonNull(ttl, "ttl");
        if (ttl.isNegative()) {
            throw new IllegalArgumentException("must be >= 0: ttl=" + ttl);
        }
        this.grantedAtNanos = grantedAtNanos;
        this.handover = Objects.requireNonNull(handover, "handover");
        this.coordinatorTimeMillis = coordinatorTimeMillis;
        this.coordinatorTimeMaxAgeMillis = coordinatorTimeMillis == UNKNOWN_TIME ? 0 : coordinatorTimeMaxAgeMillis;
        this.previousReport = previousReport;
    }

    /**
     * A renewal of this lease.
     *
     * @param renewedAtNanos the monotonic clock read before the renewal request was sent
     * @param coordinatorTimeMillis the coordinator's clock at the renewal, or {@link #UNKNOWN_TIME}
     * @return the renewed lease
     */
    public WorkerLease renewed(long renewedAtNanos, long coordinatorTimeMillis) {
        return renewed(renewedAtNanos, coordinatorTimeMillis, 0);
    }

    /**
     * A renewal of this lease whose reference time may be older than the request (see
     * {@link #coordinatorTimeMaxAgeMillis()}).
     *
     * @param renewedAtNanos the monotonic clock read before the renewal request was sent
     * @param coordinatorTimeMillis the reference time, or {@link #UNKNOWN_TIME}
     * @param coordinatorTimeMaxAgeMillis how long before the request was sent the reference time may have been read ({@code >= 0})
     * @return the renewed lease
     */
    public WorkerLease renewed(long renewedAtNanos, long coordinatorTimeMillis, long coordinatorTimeMaxAgeMillis) {
        return new WorkerLease(workerId, token, ttl, renewedAtNanos, handover, coordinatorTimeMillis, coordinatorTimeMaxAgeMillis,
                previousReport);
    }

    /** {@return the worker ID held} */
    public int workerId() {
        return workerId;
    }

    /** {@return the holder's secret token; never log it} */
    public String token() {
        return token;
    }

    /** {@return the lease duration, or {@link Duration#ZERO} if it does not expire} */
    public Duration ttl() {
        return ttl;
    }

    /** {@return true if the lease expires unless renewed} */
    public boolean expires() {
        return !ttl.isZero();
    }

    /** {@return monotonic nanos read before the request that set the current expiry was sent} */
    public long grantedAtNanos() {
        return grantedAtNanos;
    }

    /** {@return what is known of earlier holders} */
    public Handover handover() {
        return handover;
    }

    /** {@return the coordinator's clock at the last request, Unix milliseconds, or {@link #UNKNOWN_TIME}} */
    public long coordinatorTimeMillis() {
        return coordinatorTimeMillis;
    }

    /**
     * {@return how long before the request was sent {@link #coordinatorTimeMillis()} may have been read}: 0 for a coordinator
     * that reads its own clock while serving the request, more for a reference built from earlier reports,
     * {@link #UNBOUNDED_AGE} when there is no bound. The core's skew check tolerates a local clock that far ahead of the
     * reference, on top of {@code ekko.clock.max.skew}; the issue limit is capped from the reference itself (its earliest
     * reading), so an old reference makes the cap lower, never higher.
     */
    public long coordinatorTimeMaxAgeMillis() {
        return coordinatorTimeMaxAgeMillis;
    }

    /** {@return the last report stored for this worker ID before this lease was acquired, or null} */
    public ClockReport previousReport() {
        return previousReport;
    }

    @Override
    public String toString() {
        return "WorkerLease{workerId=" + workerId + ", ttl=" + ttl + ", " + handover + ", token=***}";
    }
}
