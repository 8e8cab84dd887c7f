package dev.ekko;

import java.time.Instant;

/**
 * The wall clock is behind the last millisecond this generator issued, by more than it may wait.
 * No ID was issued. Retrying later succeeds once the clock has caught up.
 */
public final class ClockMovedBackwardsException extends EkkoException {
    private static final long serialVersionUID = 1L;

    /** The wall clock's reading, Unix milliseconds. */
    private final long clockMillis;
    /** The latest millisecond already used, Unix milliseconds. */
    private final long lastIssuedMillis;

    /**
     * Creates the exception for a clock behind the last issued millisecond.
     *
     * @param clockMillis the wall clock's reading, Unix milliseconds
     * @param lastIssuedMillis the latest millisecond already used, Unix milliseconds
     * @param waitedMillis how long the generator waited before giving up
     */
    public ClockMovedBackwardsException(long clockMillis, long lastIssuedMillis, long waitedMillis) {
        this("", clockMillis, lastIssuedMillis, waitedMillis);
    }

    /**
     * Creates the exception, saying what was being done.
     *
     * @param context what was being done, e.g. "refusing to start: "
     * @param clockMillis the wall clock's reading, Unix milliseconds
     * @param lastIssuedMillis the latest millisecond already used, Unix milliseconds
     * @param waitedMillis how long the generator waited before giving up
     */
    public ClockMovedBackwardsException(String context, long clockMillis, long lastIssuedMillis, long waitedMillis) {
        super(context + "clock is " + (lastIssuedMillis - clockMillis) + " ms behind the last issued millisecond"
                + " (clock=" + Instant.ofEpochMilli(clockMillis) + ", lastIssued=" + Instant.ofEpochMilli(lastIssuedMillis)
                + "), waited " + waitedMillis + " ms; IDs resume once the clock passes lastIssued"
                + " (raise ekko.clock.max.backward.wait, or allow a lead with ekko.clock.max.lead)");
        this.clockMillis = clockMillis;
        this.lastIssuedMillis = lastIssuedMillis;
    }

    /** {@return the wall clock's reading when the generator gave up, Unix milliseconds} */
    public long clockMillis() {
        return clockMillis;
    }

    /** {@return the latest millisecond already used by this generator, Unix milliseconds} */
    public long lastIssuedMillis() {
        return lastIssuedMillis;
    }
}
