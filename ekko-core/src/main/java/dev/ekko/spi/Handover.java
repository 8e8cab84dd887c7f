package dev.ekko.spi;

import java.time.Instant;

/**
 * What an allocator knows of a worker ID's earlier holders, which decides where the new holder may
 * start. The core never issues an ID at or before the mark, whatever the new host's clock says.
 */
public final class Handover {

    /** What kind of knowledge this is. */
    public enum Kind {
        /** The last reserved-until mark of every earlier holder is known: start past {@link #markMillis()}. */
        MARK,
        /**
         * The coordinator has no history for this worker ID, which it cannot tell apart from having lost
         * it: the core waits out the longest lease an earlier holder could still hold.
         */
        UNKNOWN,
        /**
         * Exclusivity is local to this host and the local state file holds all the history there is
         * (the manual and host-local allocators): nothing to wait for beyond it.
         */
        STATE_FILE
    }

    private static final Handover UNKNOWN = new Handover(Kind.UNKNOWN, Long.MIN_VALUE);
    private static final Handover STATE_FILE = new Handover(Kind.STATE_FILE, Long.MIN_VALUE);

    private final Kind kind;
    private final long markMillis;

    private Handover(Kind kind, long markMillis) {
        this.kind = kind;
        this.markMillis = markMillis;
    }

    /**
     * @param markMillis the latest millisecond any earlier holder may have issued in, Unix milliseconds
     * @return a known mark
     */
    public static Handover mark(long markMillis) {
        return new Handover(Kind.MARK, markMillis);
    }

    /** @return no history: the core waits one lease TTL plus the tolerated skew before issuing */
    public static Handover unknown() {
        return UNKNOWN;
    }

    /** @return history lives in the local state file only */
    public static Handover stateFile() {
        return STATE_FILE;
    }

    /** @return the kind of knowledge */
    public Kind kind() {
        return kind;
    }

    /** @return the mark in Unix milliseconds; {@link Long#MIN_VALUE} unless {@link Kind#MARK} */
    public long markMillis() {
        return markMillis;
    }

    @Override
    public String toString() {
        return kind == Kind.MARK ? "Handover{mark=" + Instant.ofEpochMilli(markMillis) + "}" : "Handover{" + kind + "}";
    }
}
