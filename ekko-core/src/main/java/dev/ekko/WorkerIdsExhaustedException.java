package dev.ekko;

/** Every worker ID of the IDC is held by someone else; the message says how many there are and who holds them. */
public final class WorkerIdsExhaustedException extends EkkoException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message how many worker IDs there are, who holds them, and what to do
     */
    public WorkerIdsExhaustedException(String message) {
        super(message);
    }
}
