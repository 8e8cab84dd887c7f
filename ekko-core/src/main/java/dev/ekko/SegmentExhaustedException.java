package dev.ekko;

/** A segment name has handed out every number up to its maximum: no number is left. */
public final class SegmentExhaustedException extends EkkoException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param name the name
     * @param max its maximum
     * @param where the store that said so
     */
    public SegmentExhaustedException(String name, long max, String where) {
        super("segment name \"" + name + "\" has handed out every number up to its maximum " + max + " at " + where
                + ": define a new name, or raise the maximum at the store");
    }
}
