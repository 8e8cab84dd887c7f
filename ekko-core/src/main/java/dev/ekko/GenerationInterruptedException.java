package dev.ekko;

/**
 * The calling thread was interrupted while waiting for the next millisecond. The thread's interrupt
 * flag is set again before this is thrown; no ID was issued.
 */
public final class GenerationInterruptedException extends EkkoException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param what what the thread was waiting for
     */
    public GenerationInterruptedException(String what) {
        super("interrupted while " + what);
    }
}
