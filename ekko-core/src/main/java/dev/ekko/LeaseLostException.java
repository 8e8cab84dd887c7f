package dev.ekko;

/**
 * The generator may no longer hold its worker ID: the lease expired, was taken over, or could not
 * be renewed before its deadline. No ID was issued. The generator tries to acquire a worker ID
 * again in the background; calls succeed again once it has one.
 */
public final class LeaseLostException extends EkkoException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message why the lease is considered lost
     */
    public LeaseLostException(String message) {
        super(message);
    }

    /**
     * Creates the exception with the failure that showed it.
     *
     * @param message why the lease is considered lost
     * @param cause the failure that showed it
     */
    public LeaseLostException(String message, Throwable cause) {
        super(message, cause);
    }
}
