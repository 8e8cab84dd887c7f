package dev.ekko;

/**
 * A segment generator has used up every range it held and no store gave it a new one: the message names each store and
 * why it failed. The next call asks the stores again, so service resumes when one is back.
 */
public final class SegmentStoreException extends EkkoException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message which name, which stores, and why each failed
     * @param cause the last store failure
     */
    public SegmentStoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
