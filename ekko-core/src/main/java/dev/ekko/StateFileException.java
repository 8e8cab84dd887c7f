package dev.ekko;

import java.nio.file.Path;

/**
 * A state file (the on-disk high-water mark of one worker ID) cannot be used: damaged, too short,
 * made for another layout, or held by another process. It is never silently reset: the message
 * says what to do.
 */
public final class StateFileException extends EkkoException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;

    /**
     * Creates the exception.
     *
     * @param file the state file
     * @param message what is wrong with it
     */
    public StateFileException(Path file, String message) {
        super(message + ": " + file);
        this.file = file;
    }

    /**
     * Creates the exception with the failure that caused it.
     *
     * @param file the state file
     * @param message what is wrong with it
     * @param cause the I/O failure
     */
    public StateFileException(Path file, String message, Throwable cause) {
        super(message + ": " + file, cause);
        this.file = file;
    }

    /** {@return the state file concerned} */
    public Path file() {
        return file;
    }
}
