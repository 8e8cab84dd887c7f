package dev.ekko;

/**
 * The generator was closed: it issues nothing more, and its worker ID was given back. Build a new
 * generator to issue again.
 */
public final class GeneratorClosedException extends EkkoException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message which generator, e.g. "generator is closed: idc=0 worker=42"
     */
    public GeneratorClosedException(String message) {
        super(message);
    }
}
