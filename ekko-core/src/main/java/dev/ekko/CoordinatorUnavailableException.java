package dev.ekko;

/**
 * The generator reached its issue limit (the last millisecond reported to the coordinator and forced to the state file)
 * and could not extend it, because the coordinator did not answer the renewal that would have. The lease still holds (its
 * fence deadline has not passed). No ID was issued; calls succeed again once the coordinator answers, and
 * {@link IdGenerator#next(java.time.Duration)} waits for that.
 */
public final class CoordinatorUnavailableException extends EkkoException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message what could not be done, and the coordinator's failure
     * @param cause the failure of the renewal
     */
    public CoordinatorUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
