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
        this(message, cause, false);
    }

    /** A server refused the request itself (a 4xx): every server would, so it is not tried again. */
    final transient boolean refused;

    EkkoClientException(String message, Throwable cause, boolean refused) {
        super(message, cause);
        this.refused = refused;
    }
}
