package dev.ekko;

import java.time.Instant;

/** The local clock disagrees with the coordinator's view of time by more than is tolerated. */
public final class ClockSkewException extends EkkoException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception for a refused start.
     *
     * @param what which check failed, e.g. "local clock vs coordinator"
     * @param localMillis the local wall clock, Unix milliseconds
     * @param referenceMillis the reference time, Unix milliseconds
     * @param allowedMillis the tolerated difference
     */
    public ClockSkewException(String what, long localMillis, long referenceMillis, long allowedMillis) {
        this(what, localMillis, referenceMillis, allowedMillis, "fix the clock (NTP) before starting");
    }

    /**
     * Creates the exception, saying what happens next or what to do.
     *
     * @param what which check failed, e.g. "not issuing past the reservation"
     * @param localMillis the local wall clock, Unix milliseconds
     * @param referenceMillis the reference time, Unix milliseconds
     * @param allowedMillis the tolerated difference
     * @param advice what happens next or what to do, e.g. "IDs resume once the clocks agree"
     */
    public ClockSkewException(String what, long localMillis, long referenceMillis, long allowedMillis, String advice) {
        super(what + ": local clock " + Instant.ofEpochMilli(localMillis) + " differs from reference "
                + Instant.ofEpochMilli(referenceMillis) + " by " + (localMillis - referenceMillis)
                + " ms; allowed is " + allowedMillis + " ms (ekko.clock.max.skew); " + advice);
    }
}
