package dev.ekko;

import java.time.Instant;

/** The local clock disagrees with the coordinator's view of time by more than is tolerated. */
public final class ClockSkewException extends EkkoException {
    private static final long serialVersionUID = 1L;

    /**
     * @param what which check failed, e.g. "local clock vs coordinator"
     * @param localMillis the local wall clock, Unix milliseconds
     * @param referenceMillis the reference time, Unix milliseconds
     * @param allowedMillis the tolerated difference
     */
    public ClockSkewException(String what, long localMillis, long referenceMillis, long allowedMillis) {
        super(what + ": local clock " + Instant.ofEpochMilli(localMillis) + " differs from reference "
                + Instant.ofEpochMilli(referenceMillis) + " by " + (localMillis - referenceMillis)
                + " ms; allowed is " + allowedMillis + " ms (ekko.clock.max.skew); fix the clock (NTP) before starting");
    }
}
