package dev.ekko.server;

import dev.ekko.EkkoException;
import dev.ekko.SegmentExhaustedException;
import io.grpc.Status;

/**
 * A request the server answers with an error: its HTTP status and gRPC code, and what the JSON error body names (the
 * parameter, the value given and what is allowed). One mapping from the library's exceptions serves both protocols.
 */
final class ApiError extends RuntimeException {

    private static final long serialVersionUID = 1L;
    private static final System.Logger LOG = System.getLogger("dev.ekko.server");

    final int httpStatus;
    final transient Status.Code grpcCode;
    final String parameter;
    final String value;
    final String allowed;

    ApiError(int httpStatus, Status.Code grpcCode, String message, String parameter, String value, String allowed) {
        super(message, null, false, false);
        this.httpStatus = httpStatus;
        this.grpcCode = grpcCode;
        this.parameter = parameter;
        this.value = value;
        this.allowed = allowed;
    }

    /** A bad parameter: 400 / INVALID_ARGUMENT, naming it, its value and what is allowed. */
    static ApiError badParameter(String parameter, String value, String allowed) {
        if (parameter.equalsIgnoreCase("token") && value != null) {
            // tinyid's query token: what was sent may be the real token, given twice or beside a header; never echoed
            return new ApiError(400, Status.Code.INVALID_ARGUMENT, "must be " + allowed + ": " + parameter + " (value not shown)", parameter,
                    null, allowed);
        }
        return new ApiError(400, Status.Code.INVALID_ARGUMENT, "must be " + allowed + ": " + parameter + "="
                + (value == null ? "(missing)" : value), parameter, value, allowed);
    }

    /** A segment name the stores do not know: 404 / NOT_FOUND. */
    static ApiError unknownName(String parameter, String name, String why) {
        return new ApiError(404, Status.Code.NOT_FOUND, why, parameter, name, "a name defined at the store (ekko segment define NAME)");
    }

    /** The bearer token is missing or wrong: 401 / UNAUTHENTICATED. Never says which, nor echoes what was sent. */
    static ApiError unauthenticated() {
        return new ApiError(401, Status.Code.UNAUTHENTICATED, "missing or wrong bearer token", "Authorization", null,
                "Bearer <the server's ekko.server.token>");
    }

    /**
     * Maps what the library threw to an answer: the server may not issue now (lease, clock, store, closing) is 503 /
     * UNAVAILABLE with the library's message; a name at its maximum is 409 / RESOURCE_EXHAUSTED; anything else is a bug,
     * logged, and answered 500 / INTERNAL without details.
     */
    static ApiError of(RuntimeException e) {
        if (e instanceof ApiError a) {
            return a;
        }
        if (e instanceof SegmentExhaustedException) {
            return new ApiError(409, Status.Code.RESOURCE_EXHAUSTED, e.getMessage(), null, null, null);
        }
        if (e instanceof EkkoException) {
            return new ApiError(503, Status.Code.UNAVAILABLE, e.getMessage(), null, null, null);
        }
        LOG.log(System.Logger.Level.ERROR, "request failed", e);
        return new ApiError(500, Status.Code.INTERNAL, "internal error (logged by the server)", null, null, null);
    }

    /** {@return the JSON error body: error, and parameter, value and allowed when known} */
    String json() {
        StringBuilder b = new StringBuilder(128).append("{\"error\":");
        Json.string(b, getMessage());
        if (parameter != null) {
            b.append(",\"parameter\":");
            Json.string(b, parameter);
        }
        if (value != null) {
            b.append(",\"value\":");
            Json.string(b, value);
        }
        if (allowed != null) {
            b.append(",\"allowed\":");
            Json.string(b, allowed);
        }
        return b.append('}').toString();
    }
}
