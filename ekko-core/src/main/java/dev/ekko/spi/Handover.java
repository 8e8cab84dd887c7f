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
         * The coordinator has no history for this worker ID it can vouch for, which it cannot tell apart from
         * having lost it: the core waits out the longest lease an earlier holder could still hold. A mark it
         * still has but cannot trust to be the latest (written before a restart, a restore or a failover) is
         * given as a lower bound ({@link #atLeast(long)}): the floor is the later of that mark and the wait.
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
     * History with a known mark.
     *
     * @param markMillis the latest millisecond any earlier holder may have issued in, Unix milliseconds
     * @return a known mark
     */
    public static Handover mark(long markMillis) {
        return new Handover(Kind.MARK, markMillis);
    }

    /** {@return no history: the core waits one lease TTL plus the tolerated skew before issuing} */
    public static Handover unknown() {
        return UNKNOWN;
    }

    /**
     * History that may be incomplete, with a mark that is still a lower bound: a mark from before the
     * coordinator restarted or was restored may be older than the latest one, but no earlier holder's
     * reservation is below it. The core starts past the later of the mark and the no-history wait.
     *
     * @param markMillis a millisecond every earlier holder may have issued in, Unix milliseconds
     * @return unknown history, bounded below by {@code markMillis}
     */
    public static Handover atLeast(long markMillis) {
        return markMillis == Long.MIN_VALUE ? UNKNOWN : new Handover(Kind.UNKNOWN, markMillis);
    }

    /** {@return history lives in the local state file only} */
    public static Handover stateFile() {
        return STATE_FILE;
    }

    /** {@return the kind of knowledge} */
    public Kind kind() {
        return kind;
    }

    /**
     * The mark this handover carries.
     *
     * @return the mark in Unix milliseconds: for {@link Kind#MARK} the latest reservation of every earlier holder,
     *     for {@link Kind#UNKNOWN} a lower bound ({@link Long#MIN_VALUE} when there is none), for
     *     {@link Kind#STATE_FILE} {@link Long#MIN_VALUE}
     */
    public long markMillis() {
        return markMillis;
    }

    @Override
    public String toString() {
        if (kind == Kind.MARK) {
            return "Handover{mark=" + Instant.ofEpochMilli(markMillis) + "}";
        }
        return markMillis == Long.MIN_VALUE ? "Handover{" + kind + "}"
                : "Handover{" + kind + ", atLeast=" + Instant.ofEpochMilli(markMillis) + "}";
    }
}
