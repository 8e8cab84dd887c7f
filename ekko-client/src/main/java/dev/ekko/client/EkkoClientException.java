package dev.ekko.client;

/** No ID could be handed out: the buffer is empty and no server gave more (the message names each server and why). */
public final class EkkoClientException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /**
     * Creates the exception.
     *
     * @param message what failed, naming the servers
     * @param cause the last failure, or null
     */
    public EkkoClientException(String message, Throwable cause) {
        super(message, cause);
    }
}
