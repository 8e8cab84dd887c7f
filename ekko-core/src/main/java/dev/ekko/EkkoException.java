package dev.ekko;

/** Base class of every exception Ekko throws on purpose; catch it to handle them all. */
public class EkkoException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message what went wrong, with the values involved
     */
    public EkkoException(String message) {
        super(message);
    }

    /**
     * Creates the exception with the failure that caused it.
     *
     * @param message what went wrong, with the values involved
     * @param cause the underlying failure
     */
    public EkkoException(String message, Throwable cause) {
        super(message, cause);
    }
}
