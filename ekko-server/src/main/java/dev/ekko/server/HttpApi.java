package dev.ekko.server;

import dev.ekko.DecodedId;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The HTTP routes, apart from the transport: a method, a request target and an {@code Authorization} header in, an
 * {@link Answer} out. Every failure is an answer with a JSON error naming the parameter; nothing a client sends makes a 500.
 *
 * <p>Routes ({@code GET}; the tinyid routes also {@code POST}, as tinyid takes both):
 * <ul>
 *   <li>{@code /v1/id}, {@code /v1/ids?count=N}: snowflake IDs as {@code {"id":"..."}}, {@code {"ids":["...",...]}}; JSON
 *       strings by default (IDs exceed 2^53, which JavaScript numbers hold exactly), numbers with {@code format=number};
 *   <li>{@code /v1/segment/NAME}, {@code /v1/segment/NAME/ids?count=N}: segment numbers, the same shapes;
 *   <li>{@code /v1/decode/ID}: the fields of an ID;
 *   <li>{@code /health/live}, {@code /health/ready} (ready: holds its lease and may issue; 503 with the reason if not), no
 *       token needed; {@code /metrics}: Prometheus text;
 *   <li>compatibility: {@code /api/snowflake}, {@code /api/segment/TAG} ({@code {"id":N}}); Leaf's
 *       {@code /api/snowflake/get/KEY} and {@code /api/segment/get/KEY} (the number as text); tinyid's
 *       {@code /tinyid/id/nextId} ({@code {"data":[N,...],"code":200,"message":""}}) and {@code /tinyid/id/nextIdSimple}
 *       ({@code N} or {@code N,N,...}), with {@code bizType}, {@code batchSize} and {@code token} as tinyid reads them.
 * </ul>
 */
final class HttpApi {

    /** An answer: status, content type, body, and extra headers as name, value pairs. */
    record Answer(int status, String contentType, byte[] body, String... headers) {
    }

    static final String JSON = "application/json";
    static final String TEXT = "text/plain; charset=utf-8";
    static final String PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8";

    private static final Set<String> FORMAT_ONLY = Set.of("format");
    private static final Set<String> COUNT_AND_FORMAT = Set.of("count", "format");
    private static final Set<String> NONE = Set.of();
    private static final Set<String> TINYID = Set.of("bizType", "batchSize", "token");

    private final IdService ids;
    private final ServerSettings settings;
    private final Metrics metrics;

    HttpApi(IdService ids, ServerSettings settings, Metrics metrics) {
        this.ids = ids;
        this.settings = settings;
        this.metrics = metrics;
    }

    /** {@return whether the route may block (a segment store round trip, a large batch): run it off the I/O thread} */
    static boolean mayBlock(String uri) {
        return uri.startsWith("/v1/segment/") || uri.startsWith("/api/segment/") || uri.startsWith("/tinyid/") || uri.startsWith("/v1/ids");
    }

    /**
     * Answers one request.
     *
     * @param method the HTTP method
     * @param uri the request target: path and query
     * @param authorization the {@code Authorization} header, or null
     * @return the answer
     */
    Answer handle(String method, String uri, String authorization) {
        int q = uri.indexOf('?');
        String path = q < 0 ? uri : uri.substring(0, q);
        String query = q < 0 ? null : uri.substring(q + 1);
        Metrics.Route route = Metrics.Route.UNKNOWN;
        Answer a;
        try {
            route = route(path);
            Map<String, String> params = null;
            if (route != Metrics.Route.HEALTH && !settings.acceptsAuthorization(authorization)) {
                // The token before anything else is read: a request without it learns nothing, not even a parameter error.
                // tinyid's clients send it as a query parameter: accepted there, on tinyid's routes only, without a header.
                if (route != Metrics.Route.COMPAT_TINYID || authorization != null) {
                    throw ApiError.unauthenticated();
                }
                try {
                    params = parse(query);
                } catch (ApiError e) {
                    throw ApiError.unauthenticated();
                }
                if (!settings.accepts(params.get("token"))) {
                    throw ApiError.unauthenticated();
                }
            }
            if (params == null) {
                params = parse(query);
            }
            a = route == Metrics.Route.HEALTH ? health(method, path, params) : route(method, path, params, route);
        } catch (ApiError e) {
            a = error(e);
        } catch (RuntimeException e) {
            a = error(ApiError.of(e));
        }
        metrics.count(Metrics.Protocol.HTTP, route, a.status);
        return a;
    }

    private static Metrics.Route route(String path) {
        if (path.startsWith("/health/")) {
            return Metrics.Route.HEALTH;
        }
        if (path.equals("/v1/id")) {
            return Metrics.Route.ID;
        }
        if (path.equals("/v1/ids")) {
            return Metrics.Route.IDS;
        }
        if (path.startsWith("/v1/segment/")) {
            return isSegmentIds(path) ? Metrics.Route.SEGMENT_IDS : Metrics.Route.SEGMENT;
        }
        if (path.startsWith("/v1/decode/")) {
            return Metrics.Route.DECODE;
        }
        if (path.equals("/metrics")) {
            return Metrics.Route.METRICS;
        }
        if (path.startsWith("/api/snowflake/get/") || path.startsWith("/api/segment/get/")) {
            return Metrics.Route.COMPAT_LEAF;
        }
        if (path.equals("/api/snowflake") || path.startsWith("/api/segment/")) {
            return Metrics.Route.COMPAT_SHORT;
        }
        if (path.startsWith("/tinyid/id/")) {
            return Metrics.Route.COMPAT_TINYID;
        }
        return Metrics.Route.UNKNOWN;
    }

    private Answer route(String method, String path, Map<String, String> params, Metrics.Route route) {
        boolean tinyid = route == Metrics.Route.COMPAT_TINYID;
        if (!method.equals("GET") && !(tinyid && method.equals("POST"))) {
            if (route == Metrics.Route.UNKNOWN) {
                throw noRoute(path);
            }
            throw new ApiError(405, io.grpc.Status.Code.UNIMPLEMENTED, "method " + method + " is not allowed on " + path, "method", method,
                    tinyid ? "GET or POST" : "GET");
        }
        switch (route) {
            case ID:
                only(params, FORMAT_ONLY);
                return json(idObject(ids.next(), bare(params)));
            case IDS: {
                only(params, COUNT_AND_FORMAT);
                int n = ids.count("count", params.get("count"), 0);
                return json(Json.ids(new StringBuilder(n * 24 + 10).append("{\"ids\":"), ids.next(n), bare(params)).append('}'));
            }
            case SEGMENT:
            case SEGMENT_IDS: {
                boolean many = route == Metrics.Route.SEGMENT_IDS;
                String rest = path.substring("/v1/segment/".length());
                String name = segment(many ? rest.substring(0, rest.length() - "/ids".length()) : rest);
                only(params, many ? COUNT_AND_FORMAT : FORMAT_ONLY);
                if (!many) {
                    return json(idObject(ids.segment("name", name, 1)[0], bare(params)));
                }
                int n = ids.count("count", params.get("count"), 0);
                return json(Json.ids(new StringBuilder(n * 12 + 10).append("{\"ids\":"), ids.segment("name", name, n), bare(params)).append('}'));
            }
            case DECODE: {
                only(params, NONE);
                DecodedId d = ids.decode(segment(path.substring("/v1/decode/".length())));
                return json(new StringBuilder(d.toJson()));
            }
            case METRICS:
                only(params, NONE);
                return new Answer(200, PROMETHEUS, bytes(metrics.scrape()));
            case COMPAT_SHORT:
                only(params, NONE);
                if (path.equals("/api/snowflake")) {
                    return json(idObject(ids.next(), true));
                }
                return json(idObject(ids.segment("name", segment(path.substring("/api/segment/".length())), 1)[0], true));
            case COMPAT_LEAF:
                only(params, NONE);
                if (path.startsWith("/api/snowflake/get/")) {
                    segment(path.substring("/api/snowflake/get/".length())); // Leaf's key is ignored for snowflake IDs
                    return new Answer(200, TEXT, bytes(Long.toUnsignedString(ids.next())));
                }
                return new Answer(200, TEXT, bytes(Long.toString(ids.segment("name", segment(path.substring("/api/segment/get/".length())), 1)[0])));
            case COMPAT_TINYID:
                return tinyid(path, params);
            default:
                throw noRoute(path);
        }
    }

    /** tinyid's two routes, its parameter names, its answers. */
    private Answer tinyid(String path, Map<String, String> params) {
        boolean simple = path.equals("/tinyid/id/nextIdSimple");
        if (!simple && !path.equals("/tinyid/id/nextId")) {
            throw noRoute(path);
        }
        only(params, TINYID);
        String name = params.get("bizType");
        if (name == null) {
            throw ApiError.badParameter("bizType", null, "a segment name (tinyid's bizType)");
        }
        int n = ids.count("batchSize", params.get("batchSize"), 1);
        long[] numbers = ids.segment("bizType", name, n);
        StringBuilder b = new StringBuilder(n * 12 + 40);
        if (simple) {
            for (int i = 0; i < numbers.length; i++) {
                b.append(i == 0 ? "" : ",").append(numbers[i]);
            }
            return new Answer(200, TEXT, bytes(b.toString()));
        }
        b.append("{\"data\":");
        Json.ids(b, numbers, true);
        return json(b.append(",\"code\":200,\"message\":\"\"}"));
    }

    private Answer health(String method, String path, Map<String, String> params) {
        only(params, NONE);
        if (!method.equals("GET")) {
            throw new ApiError(405, io.grpc.Status.Code.UNIMPLEMENTED, "method " + method + " is not allowed on " + path, "method", method, "GET");
        }
        if (path.equals("/health/live")) {
            return json(new StringBuilder("{\"status\":\"live\"}"));
        }
        if (path.equals("/health/ready")) {
            Optional<String> why = ids.unavailable();
            if (why.isEmpty()) {
                return json(new StringBuilder("{\"status\":\"ready\",\"idc\":").append(ids.generator().idc()).append(",\"worker\":")
                        .append(ids.generator().workerId()).append('}'));
            }
            StringBuilder b = new StringBuilder("{\"status\":\"unavailable\",\"reason\":");
            Json.string(b, why.get());
            return new Answer(503, JSON, bytes(b.append('}').toString()), "Retry-After", "1");
        }
        throw noRoute(path);
    }

    private static ApiError noRoute(String path) {
        return new ApiError(404, io.grpc.Status.Code.NOT_FOUND, "no such route: " + path, "path", path,
                "/v1/id, /v1/ids, /v1/segment/NAME, /v1/segment/NAME/ids, /v1/decode/ID, /health/live, /health/ready, /metrics,"
                        + " /api/snowflake, /api/segment/TAG, /api/snowflake/get/KEY, /api/segment/get/KEY, /tinyid/id/nextId,"
                        + " /tinyid/id/nextIdSimple");
    }

    /** {@return whether the path is /v1/segment/NAME/ids (a name "ids" alone is /v1/segment/ids, one number)} */
    private static boolean isSegmentIds(String path) {
        String rest = path.substring("/v1/segment/".length());
        return rest.endsWith("/ids") && rest.length() > "/ids".length();
    }

    /** Decodes one path segment ('+' is itself in a path, not a blank); a segment holding '/' is not one. */
    private static String segment(String raw) {
        if (raw.isEmpty() || raw.indexOf('/') >= 0) {
            throw noRoute(raw);
        }
        return decode(raw.replace("+", "%2B"), "path");
    }

    private static StringBuilder idObject(long id, boolean bare) {
        return Json.id(new StringBuilder(40).append("{\"id\":"), id, bare).append('}');
    }

    private static boolean bare(Map<String, String> params) {
        String f = params.get("format");
        if (f == null || f.equals("string")) {
            return false;
        }
        if (f.equals("number")) {
            return true;
        }
        throw ApiError.badParameter("format", f, "string (the default: IDs as JSON strings) or number");
    }

    private static void only(Map<String, String> params, Set<String> allowed) {
        for (String k : params.keySet()) {
            if (!allowed.contains(k)) {
                throw ApiError.badParameter(k, params.get(k), allowed.isEmpty() ? "absent: this route takes no query parameter"
                        : "absent: this route takes only " + String.join(", ", new java.util.TreeSet<>(allowed)));
            }
        }
    }

    private static Map<String, String> parse(String query) {
        if (query == null || query.isEmpty()) {
            return Map.of();
        }
        Map<String, String> params = new HashMap<>();
        for (String pair : query.split("&")) {
            if (pair.isEmpty()) {
                continue;
            }
            int eq = pair.indexOf('=');
            String k = decode(eq < 0 ? pair : pair.substring(0, eq), "query");
            String v = eq < 0 ? "" : decode(pair.substring(eq + 1), "query");
            if (params.putIfAbsent(k, v) != null) {
                throw ApiError.badParameter(k, v, "given once");
            }
        }
        return params;
    }

    private static String decode(String s, String where) {
        try {
            return URLDecoder.decode(s, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw ApiError.badParameter(where, s, "percent-encoded UTF-8");
        }
    }

    private static Answer json(StringBuilder b) {
        return new Answer(200, JSON, bytes(b.toString()));
    }

    /** {@return the answer to a refusal: its status, its JSON, and WWW-Authenticate or Retry-After where they belong} */
    static Answer error(ApiError e) {
        byte[] body = bytes(e.json());
        if (e.httpStatus == 401) {
            return new Answer(401, JSON, body, "WWW-Authenticate", "Bearer");
        }
        if (e.httpStatus == 503) {
            return new Answer(503, JSON, body, "Retry-After", "1");
        }
        return new Answer(e.httpStatus, JSON, body);
    }

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
