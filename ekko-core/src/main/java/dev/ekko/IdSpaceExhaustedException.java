package dev.ekko;

import java.time.Instant;

/** The layout's time bits have run out: no ID can be made for the current time. Choose a later epoch. */
public final class IdSpaceExhaustedException extends EkkoException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param layout the layout whose time ran out
     * @param nowMillis the wall clock, Unix milliseconds
     */
    public IdSpaceExhaustedException(Layout layout, long nowMillis) {
        super("time has run out for this layout: now=" + Instant.ofEpochMilli(nowMillis) + " is past the layout's end of time "
                + layout.endOfTime() + " (" + layout + "); configure a later epoch (ekko.epoch) and new worker state");
    }
}
