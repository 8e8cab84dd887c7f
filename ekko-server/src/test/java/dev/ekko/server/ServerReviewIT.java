package dev.ekko.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Ekko;
import dev.ekko.Layout;
import dev.ekko.SegmentIds;
import dev.ekko.server.grpc.DecodeRequest;
import dev.ekko.server.grpc.EkkoGrpc;
import dev.ekko.server.grpc.NextBatchRequest;
import dev.ekko.server.grpc.NextRequest;
import dev.ekko.server.grpc.NextSegmentReply;
import dev.ekko.server.grpc.NextSegmentRequest;
import dev.ekko.testsupport.DisposableRedis;
import dev.ekko.testsupport.TestDatabase;
import dev.ekko.testsupport.TestServers;
import io.grpc.CallOptions;
import io.grpc.ClientInterceptors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Adversarial review of ekko-server against the promises of docs/server.md, with real server processes
 * ({@link ServerProcess}): 1. nothing a client sends makes a 500 or a hang; 2. no ID repeats across servers and restarts;
 * 3. the token is never echoed nor logged and guards every route but health; 4. /health/ready is 503 whenever IDs stop;
 * 5. SIGTERM gives the worker ID back and never hangs. A test that fails here is a finding; the passing ones record
 * attacks that held.
 */
@Timeout(60)
class ServerReviewIT {

    /** Has a '?' on purpose: see {@link #aNonAsciiByteNeverStandsForACharacterOfTheToken()}. */
    private static final String TOKEN = "review-token-0123456789?abc";
    private static final String AUTH = "Bearer " + TOKEN;

    private static Path dir;
    private static TestDatabase db;
    private static Map<String, String> store;
    private static Map<String, String> settings;
    private static ServerProcess server;
    private static ManagedChannel channel;
    private static EkkoGrpc.EkkoBlockingStub grpc;

    private final List<AutoCloseable> started = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("ekko-server-review");
        db = TestServers.createMysqlDatabase(ServerReviewIT.class);
        store = new HashMap<>();
        store.put("ekko.mysql.url", db.jdbcUrl());
        store.put("ekko.mysql.user", db.user());
        store.put("ekko.mysql.password", db.password());
        try (SegmentIds s = Ekko.newSegmentBuilder().store("mysql", store).build()) {
            s.define("order", 1, Long.MAX_VALUE);
            s.define("tiny", 1, 3);
            s.define("shared", 1, Long.MAX_VALUE);
        }
        settings = new HashMap<>(store);
        settings.put("ekko.worker.allocator", "manual");
        settings.put("ekko.worker.id", "11");
        settings.put("ekko.segment.store", "mysql");
        settings.put("ekko.server.batch.max", "5000");
        settings.put("ekko.server.token", TOKEN);
        server = ServerProcess.start(dir.resolve("main"), settings);
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort).usePlaintext().build();
        grpc = EkkoGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(authorization(AUTH)));
    }

    @AfterAll
    static void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow();
        }
        if (server != null) {
            server.stop();
        }
        if (db != null) {
            db.close();
        }
    }

    @AfterEach
    void closeStarted() throws Exception {
        for (AutoCloseable c : started) {
            c.close();
        }
    }

    private static Metadata authorization(String value) {
        Metadata m = new Metadata();
        m.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), value);
        return m;
    }

    // ================================================================== raw HTTP/1.1

    /** One HTTP response as read off the wire. */
    record Answer(int status, Map<String, String> headers, String body) {
        String header(String name) {
            return headers.getOrDefault(name.toLowerCase(Locale.ROOT), "");
        }

        @Override
        public String toString() {
            return status + " " + headers + " " + body;
        }
    }

    /** A plain keep-alive connection: write bytes, read whole responses (by Content-Length). */
    static final class Conn implements AutoCloseable {
        final Socket socket;
        final InputStream in;

        Conn(int port) throws IOException {
            socket = new Socket("127.0.0.1", port);
            socket.setSoTimeout(10_000);
            in = new BufferedInputStream(socket.getInputStream());
        }

        void send(String request) throws IOException {
            socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
        }

        /** {@return the next response, or null if the server closed the connection first} */
        Answer read(boolean head) throws IOException {
            String status = line();
            if (status == null) {
                return null;
            }
            Map<String, String> headers = new LinkedHashMap<>();
            for (String h; (h = line()) != null && !h.isEmpty(); ) {
                int colon = h.indexOf(':');
                headers.put(h.substring(0, colon).trim().toLowerCase(Locale.ROOT), h.substring(colon + 1).trim());
            }
            int code = Integer.parseInt(status.split(" ")[1]);
            int length = head || code == 100 ? 0 : Integer.parseInt(headers.getOrDefault("content-length", "0"));
            byte[] body = in.readNBytes(length);
            return new Answer(code, headers, new String(body, StandardCharsets.UTF_8));
        }

        private String line() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            for (int c; (c = in.read()) >= 0; ) {
                if (c == '\n') {
                    String s = b.toString(StandardCharsets.ISO_8859_1);
                    return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
                }
                b.write(c);
            }
            return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    /** Sends one request on a fresh connection and reads its answer. */
    private static Answer once(String method, String target, String... headers) throws IOException {
        StringBuilder r = new StringBuilder(method).append(' ').append(target).append(" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
        for (int i = 0; i + 1 < headers.length; i += 2) {
            r.append(headers[i]).append(": ").append(headers[i + 1]).append("\r\n");
        }
        try (Conn c = new Conn(server.httpPort)) {
            c.send(r.append("\r\n").toString());
            Answer a = c.read(method.equals("HEAD"));
            if (a == null) {
                throw new AssertionError(method + " " + target + ": the server closed the connection without answering");
            }
            return a;
        }
    }

    private static Answer get(String target) throws IOException {
        return once("GET", target, "Authorization", AUTH);
    }

    /** A 4xx with a JSON error body naming {@code parameter} (null: any JSON error). */
    private static void assertJsonError(Answer a, int status, String parameter, String what) {
        assertEquals(status, a.status(), what + ": " + a);
        assertEquals("application/json", a.header("content-type"), what + ": " + a);
        assertTrue(a.body().startsWith("{\"error\":\""), what + ": " + a);
        if (parameter != null) {
            assertTrue(a.body().contains("\"parameter\":\"" + parameter + "\""), what + ": does not name " + parameter + ": " + a);
        }
    }

    /** Like {@link #assertJsonError} but records what is wrong, so that one test reports every case it tried. */
    private static void checkJsonError(List<String> problems, Answer a, int status, String parameter, String what) {
        try {
            assertJsonError(a, status, parameter, what);
        } catch (AssertionError e) {
            problems.add(e.getMessage());
        }
    }

    // ================================================================== claim 1: no 500, no hang, 4xx JSON naming the parameter

    /**
     * HTTP/1.1 pipelining: a client may send several requests before reading; the answers must come in the order the
     * requests were sent (RFC 9112, 9.3.2). Batches run on the worker pool, single IDs on the event loop, each written as
     * soon as it is ready: the answer to the second request overtakes the first's.
     */
    @Test
    void pipelinedRequestsAreAnsweredInTheOrderSent() throws Exception {
        List<String> outOfOrder = new ArrayList<>();
        for (int round = 0; round < 10; round++) {
            try (Conn c = new Conn(server.httpPort)) {
                c.send("GET /v1/ids?count=5000 HTTP/1.1\r\nHost: x\r\nAuthorization: " + AUTH + "\r\n\r\n"
                        + "GET /v1/id HTTP/1.1\r\nHost: x\r\nAuthorization: " + AUTH + "\r\n\r\n"
                        + "GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n");
                String[] expected = {"{\"ids\":[", "{\"id\":", "{\"status\":\"live\"}"};
                StringBuilder got = new StringBuilder();
                boolean wrong = false;
                for (String e : expected) {
                    Answer a = c.read(false);
                    String body = a == null ? "(closed)" : a.body().substring(0, Math.min(20, a.body().length()));
                    got.append(body).append(" | ");
                    wrong |= a == null || !a.body().startsWith(e);
                }
                if (wrong) {
                    outOfOrder.add("round " + round + ": sent /v1/ids?count=5000, /v1/id, /health/live; answers in order: " + got);
                }
            }
        }
        assertEquals(List.of(), outOfOrder);
    }

    /**
     * A body over 8 KiB, or an Expect header other than 100-continue: Netty's HttpObjectAggregator answers itself (413,
     * 417) with an empty body, not the JSON error every 4xx promises (NettyHttp's exceptionCaught for TooLongFrameException
     * is never reached for a request).
     */
    @Test
    void aTooLargeBodyOrAnUnmetExpectationGetsAJsonError() throws Exception {
        List<String> problems = new ArrayList<>();
        try (Conn c = new Conn(server.httpPort)) {
            c.send("POST /tinyid/id/nextId?bizType=order HTTP/1.1\r\nHost: x\r\nAuthorization: " + AUTH + "\r\nContent-Length: 20000\r\n\r\n"
                    + "a".repeat(20000));
            checkJsonError(problems, c.read(false), 413, null, "a 20,000-byte body");
        }
        try (Conn c = new Conn(server.httpPort)) {
            c.send("GET /v1/id HTTP/1.1\r\nHost: x\r\nAuthorization: " + AUTH + "\r\nTransfer-Encoding: chunked\r\n\r\n4e20\r\n"
                    + "a".repeat(20000) + "\r\n0\r\n\r\n");
            checkJsonError(problems, c.read(false), 413, null, "a 20,000-byte chunked body");
        }
        checkJsonError(problems, once("GET", "/v1/id", "Authorization", AUTH, "Expect", "tea"), 417, null, "Expect: tea");
        assertEquals(List.of(), problems);
    }

    @Test
    void pathTricksOddEncodingsAndHugeValuesGetA4xxJsonErrorNamingTheParameter() throws Exception {
        Object[][] cases = {
            {"/v1/segment/..%2F", 404, "name"},
            {"/v1/segment/..%2Fv1%2Fid", 404, "name"},
            {"/v1/segment/%2e%2e", 404, "name"},
            {"/v1/segment/%00", 400, "name"},
            {"/v1/segment/order%00", 400, "name"},
            {"/v1/segment/" + "a".repeat(129), 400, "name"},
            {"/v1/segment/" + "a".repeat(3000), 400, "name"},
            {"/v1/segment/%E2%82%AC", 400, "name"},
            {"/v1/segment/\u00e9", 400, "name"},
            {"/v1/segment/%C0%AE%C0%AE", 400, "name"},
            {"/v1/segment/%zz", 400, "path"},
            {"/v1/segment/%", 400, "path"},
            {"/v1/segment//ids", 404, "path"},
            {"/v1/segment/order/ids?count=99999999999999999999", 400, "count"},
            {"/v1/segment/order/ids?count=5001", 400, "count"},
            {"/v1/ids?count=2147483648", 400, "count"},
            {"/v1/ids?count=-2147483648", 400, "count"},
            {"/v1/ids?count=%00", 400, "count"},
            {"/v1/ids?count=1%00", 400, "count"},
            {"/v1/ids?count=0x10", 400, "count"},
            {"/v1/ids?count=" + "9".repeat(3000), 400, "count"},
            {"/v1/ids?count=1&count=1", 400, "count"},
            {"/v1/ids?count=1&%63ount=1", 400, "count"},
            {"/v1/decode/%00", 400, "id"},
            {"/v1/decode/99999999999999999999999", 400, "id"},
            {"/v1/decode/1.0", 400, "id"},
            {"/v1/decode/%E2%82%AC", 400, "id"},
            {"/v1/decode/", 404, "path"},
            {"/v1/id?format=NUMBER", 400, "format"},
            {"/v1/id?format", 400, "format"},
            {"/v1/id?format=number%00", 400, "format"},
            {"/v1/id?%E2%82%AC=1", 400, "\u20ac"},
            {"/v1/id?%zz", 400, "query"},
            {"/api/segment/get/%C0%AE", 400, "name"},
            {"/api/segment/%00", 400, "name"},
            {"/tinyid/id/nextIdSimple?bizType=order&batchSize=5001", 400, "batchSize"},
            {"/tinyid/id/nextIdSimple?bizType=order&batchSize=-1", 400, "batchSize"},
            {"/tinyid/id/nextId", 400, "bizType"},
            {"/v1/ID", 404, "path"},
            {"/v1/id/", 404, "path"},
            {"/v1/id;jsessionid=1", 404, "path"},
            {"/v1/%69d", 404, "path"},
            {"/%2Fv1/id", 404, "path"},
        };
        for (Object[] c : cases) {
            assertJsonError(get((String) c[0]), (Integer) c[1], (String) c[2], (String) c[0]);
        }
        // A request line or header past Netty's limits: 400, a JSON error (no parameter to name).
        assertJsonError(get("/v1/segment/" + "a".repeat(5000)), 400, null, "a 5,000-character path");
        assertJsonError(once("GET", "/v1/id", "Authorization", AUTH, "X-Big", "b".repeat(9000)), 400, null, "a 9,000-byte header");
    }

    @Test
    void headOptionsHttp10AndSmallBodiesAreAnsweredWithoutBreakingTheConnection() throws Exception {
        try (Conn c = new Conn(server.httpPort)) {
            c.send("HEAD /v1/id HTTP/1.1\r\nHost: x\r\nAuthorization: " + AUTH + "\r\n\r\n");
            Answer head = c.read(true);
            assertEquals(405, head.status(), head.toString());
            c.send("OPTIONS * HTTP/1.1\r\nHost: x\r\nAuthorization: " + AUTH + "\r\n\r\n");
            assertJsonError(c.read(false), 404, "path", "OPTIONS *");
            c.send("GET /v1/id HTTP/1.1\r\nHost: x\r\nAuthorization: " + AUTH + "\r\nContent-Length: 5\r\n\r\nhello");
            Answer withBody = c.read(false);
            assertEquals(200, withBody.status(), withBody.toString());
            c.send("POST /tinyid/id/nextIdSimple?bizType=order HTTP/1.1\r\nHost: x\r\nAuthorization: " + AUTH
                    + "\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\nbizType=foo");
            Answer post = c.read(false);
            assertEquals(200, post.status(), post.toString());
            assertTrue(post.body().matches("\\d+"), post.toString());
        }
        try (Conn c = new Conn(server.httpPort)) {
            c.send("GET /v1/ids?count=3 HTTP/1.0\r\nAuthorization: " + AUTH + "\r\n\r\n");
            Answer a = c.read(false);
            assertEquals(200, a.status(), a.toString());
            assertEquals(null, c.read(false), "HTTP/1.0 without keep-alive: the server closes after its answer");
        }
        assertJsonError(once("BREW", "/v1/id", "Authorization", AUTH), 405, "method", "BREW");
        assertJsonError(once("get", "/v1/id", "Authorization", AUTH), 405, "method", "lower-case get");
    }

    /** "not an integer" is a 400; Integer.parseInt also reads non-ASCII digits (Arabic-Indic, fullwidth). */
    @Test
    void countsAreAsciiDecimalIntegers() throws Exception {
        List<String> problems = new ArrayList<>();
        checkJsonError(problems, get("/v1/ids?count=%D9%A5"), 400, "count", "count=\u0665 (ARABIC-INDIC DIGIT FIVE)");
        checkJsonError(problems, get("/v1/ids?count=%EF%BC%93"), 400, "count", "count=\uff13 (FULLWIDTH DIGIT THREE)");
        checkJsonError(problems, get("/tinyid/id/nextIdSimple?bizType=order&batchSize=%EF%BC%93"), 400, "batchSize", "batchSize=\uff13");
        assertEquals(List.of(), problems);
    }

    /** "an unknown query parameter (a typo is not ignored)" is a 400: the compatibility routes and /metrics ignore them. */
    @Test
    void unknownQueryParametersAreRefusedOnEveryRoute() throws Exception {
        List<String> problems = new ArrayList<>();
        checkJsonError(problems, get("/tinyid/id/nextIdSimple?bizType=order&batchSiz=5"), 400, "batchSiz", "tinyid, batchSize misspelt");
        checkJsonError(problems, get("/api/snowflake?count=5"), 400, "count", "/api/snowflake?count=5");
        checkJsonError(problems, get("/api/segment/order?format=string"), 400, "format", "/api/segment/order?format=string");
        checkJsonError(problems, get("/api/snowflake/get/key?count=5"), 400, "count", "Leaf with a query");
        checkJsonError(problems, get("/metrics?name=x"), 400, "name", "/metrics?name=x");
        assertEquals(List.of(), problems);
    }

    /** tinyid's segment name is its bizType parameter: a bad one is named as "name", which that client never sent. */
    @Test
    void aBadTinyidBizTypeNamesTheBizTypeParameter() throws Exception {
        List<String> problems = new ArrayList<>();
        checkJsonError(problems, get("/tinyid/id/nextId?bizType=has%20blank"), 400, "bizType", "bizType with a blank");
        checkJsonError(problems, get("/tinyid/id/nextId?bizType="), 400, "bizType", "empty bizType");
        checkJsonError(problems, get("/tinyid/id/nextIdSimple?bizType=nosuch"), 404, "bizType", "unknown bizType");
        assertEquals(List.of(), problems);
    }

    /** A seeded fuzz over every route: any method, path, query and encoding; never a 500, never a hang, 4xx always JSON. */
    @Test
    void randomRequestTargetsNeverGetA500OrAHangAndEvery4xxIsJson() throws Exception {
        String[] prefixes = {"/v1/id", "/v1/ids", "/v1/segment/", "/v1/segment/order/ids", "/v1/decode/", "/health/", "/health/ready",
            "/metrics", "/api/snowflake", "/api/segment/", "/api/snowflake/get/", "/api/segment/get/", "/tinyid/id/nextId",
            "/tinyid/id/nextIdSimple", "/", "//", "/v1/", "*"};
        String[] pieces = {"order", "tiny", "shared", "ids", "..", ".", "%2F", "%2f", "%00", "%", "%zz", "%C3%28", "%E2%82%AC", "\u00e9",
            "\u00ff", "/", "+", ";", ",", "#", "*", "%3F", "%26", "%3D", "18446744073709551615", "18446744073709551616", "1", "-1", "0",
            "a".repeat(130), "%2e%2e", "\\", "\"", "'", "<", ">", "{", "}", "|", "^", "`", "~", "!", "$", "(", ")", "@", ":", "[", "]"};
        String[] params = {"count=5", "count=0", "count=", "count", "count=-1", "count=5001", "count=2147483648", "format=number",
            "format=string", "format=xml", "bizType=order", "bizType=nosuch", "bizType=", "batchSize=3", "batchSize=0", "token=" + TOKEN,
            "token=x", "", "=", "&", "%zz=1", "a=%", "count=%D9%A5", "x=1", "count=1&count=2"};
        String[] methods = {"GET", "GET", "GET", "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE"};
        Set<Integer> allowed = Set.of(200, 400, 401, 404, 405, 409);
        Random random = new Random(20261202L);
        Map<Integer, Integer> statuses = new java.util.TreeMap<>();
        Conn c = new Conn(server.httpPort);
        try {
            for (int i = 0; i < 800; i++) {
                StringBuilder target = new StringBuilder(prefixes[random.nextInt(prefixes.length)]);
                for (int k = random.nextInt(4); k > 0; k--) {
                    target.append(pieces[random.nextInt(pieces.length)]);
                }
                if (random.nextBoolean()) {
                    target.append('?');
                    for (int k = 1 + random.nextInt(3); k > 0; k--) {
                        target.append(params[random.nextInt(params.length)]).append(k > 1 ? "&" : "");
                    }
                }
                String method = methods[random.nextInt(methods.length)];
                boolean auth = random.nextInt(5) > 0;
                String request = method + " " + target + " HTTP/1.1\r\nHost: x\r\n" + (auth ? "Authorization: " + AUTH + "\r\n" : "") + "\r\n";
                Answer a;
                try {
                    c.send(request);
                    a = c.read(method.equals("HEAD"));
                } catch (SocketTimeoutException e) {
                    throw new AssertionError("no answer within 10 s: " + request, e);
                }
                if (a == null) { // the server closed after its previous answer: ask again on a new connection
                    c.close();
                    c = new Conn(server.httpPort);
                    c.send(request);
                    a = c.read(method.equals("HEAD"));
                }
                assertTrue(a != null && allowed.contains(a.status()), request + " -> " + a);
                statuses.merge(a.status(), 1, Integer::sum);
                if (a.status() >= 400 && !method.equals("HEAD")) {
                    assertJsonError(a, a.status(), null, request);
                }
                if (!auth && a.status() == 200) {
                    assertTrue(target.toString().startsWith("/health/") || target.toString().startsWith("/tinyid/"), "served without the token: "
                            + request + " -> " + a);
                }
                if ("close".equalsIgnoreCase(a.header("connection"))) {
                    c.close();
                    c = new Conn(server.httpPort);
                }
            }
        } finally {
            c.close();
        }
        for (int status : new int[] {200, 400, 401, 404, 405}) {
            assertTrue(statuses.getOrDefault(status, 0) > 10, "the fuzz reached too few " + status + "s: " + statuses);
        }
    }

    @Test
    void grpcBadInputIsInvalidArgumentOrNotFound() {
        for (String name : new String[] {"a b", "\u0000", "\u00e9", "\u20ac", "a".repeat(129), "order\n", " order"}) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> grpc.nextSegment(NextSegmentRequest.newBuilder().setName(name).build()));
            assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), name + ": " + e);
        }
        for (String name : new String[] {"..", "../", "nosuch", "a".repeat(128), "%00"}) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> grpc.nextSegment(NextSegmentRequest.newBuilder().setName(name).build()));
            assertEquals(Status.Code.NOT_FOUND, e.getStatus().getCode(), name + ": " + e);
        }
        for (int count : new int[] {0, -1, 5001, Integer.MAX_VALUE, Integer.MIN_VALUE}) {
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> grpc.nextBatch(NextBatchRequest.newBuilder().setCount(count).build()));
            assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), count + ": " + e);
            if (count != 0) {
                e = assertThrows(StatusRuntimeException.class,
                        () -> grpc.nextSegment(NextSegmentRequest.newBuilder().setName("order").setCount(count).build()));
                assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode(), count + ": " + e);
            }
        }
        for (long id : new long[] {0, -1, Long.MAX_VALUE, Long.MIN_VALUE}) {
            assertEquals(id, grpc.decode(DecodeRequest.newBuilder().setId(id).build()).getId());
        }
        StatusRuntimeException tiny = null;
        for (int i = 0; i < 5 && tiny == null; i++) {
            try {
                grpc.nextSegment(NextSegmentRequest.newBuilder().setName("tiny").build());
            } catch (StatusRuntimeException e) {
                tiny = e;
            }
        }
        assertTrue(tiny != null && tiny.getStatus().getCode() == Status.Code.RESOURCE_EXHAUSTED, String.valueOf(tiny));
    }

    /** Bytes that are not a protobuf message (a truncated varint) are bad input too: grpc-java answers UNKNOWN. */
    @Test
    void aMalformedGrpcMessageIsInvalidArgumentNotUnknown() {
        MethodDescriptor.Marshaller<byte[]> raw = new MethodDescriptor.Marshaller<>() {
            @Override
            public InputStream stream(byte[] value) {
                return new ByteArrayInputStream(value);
            }

            @Override
            public byte[] parse(InputStream in) {
                try {
                    return in.readAllBytes();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        };
        io.grpc.Channel authed = ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(authorization(AUTH)));
        List<String> wrong = new ArrayList<>();
        for (String method : new String[] {"Next", "NextBatch", "NextSegment", "Decode"}) {
            MethodDescriptor<byte[], byte[]> m = MethodDescriptor.<byte[], byte[]>newBuilder().setType(MethodDescriptor.MethodType.UNARY)
                    .setFullMethodName("ekko.v1.Ekko/" + method).setRequestMarshaller(raw).setResponseMarshaller(raw).build();
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                    () -> ClientCalls.blockingUnaryCall(authed, m, CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS),
                            new byte[] {0x08, (byte) 0xff}));
            if (e.getStatus().getCode() != Status.Code.INVALID_ARGUMENT) {
                wrong.add(method + ": " + e.getStatus());
            }
        }
        assertEquals(List.of(), wrong);
    }

    // ================================================================== claim 3: the token

    @Test
    void noRouteButHealthAnswersWithoutTheTokenWhateverThePathTrick() throws Exception {
        String[] tricks = {"/v1/id", "//v1/id", "/./v1/id", "/v1/./id", "/v1//id", "/V1/ID", "/v1/id/", "/v1/id?", "/v1/id#/health/live",
            "/v1/id?/health/live", "/v1/id;/health/live", "/health/../v1/id", "/health/%2e%2e/v1/id", "/health/..%2Fv1%2Fid",
            "/health/live/../../v1/id", "/health/ready%2F..%2F..%2Fv1%2Fid", "/HEALTH/live", "/Health/ready", "/health", "/health/",
            "/health/metrics", "/health/../metrics", "/%68ealth/live", "/v1/ids?count=2", "/v1/segment/order", "/v1/segment/order/ids?count=2",
            "/v1/decode/1", "/metrics", "/api/snowflake", "/api/segment/order", "/api/snowflake/get/k", "/api/segment/get/order",
            "/v1/id?token=" + TOKEN, "/v1/ids?count=2&token=" + TOKEN, "/api/segment/order?token=" + TOKEN, "/metrics?token=" + TOKEN,
            "/tinyid/id/nextId?bizType=order", "/tinyid/id/nextId?bizType=order&token=", "/tinyid/id/nextId?bizType=order&token=wrong",
            "/tinyid/id/nextId?bizType=order&token=" + TOKEN.toUpperCase(Locale.ROOT), "/tinyid/id/nextId?bizType=order&token=" + TOKEN
                + "x", "/tinyid/id/nextId?bizType=order&token=%20" + TOKEN, "http://127.0.0.1/v1/id", "*"};
        String[][] headers = {{}, {"Authorization", "Bearer"}, {"Authorization", "Bearer "}, {"Authorization", TOKEN},
            {"Authorization", "Bearer " + TOKEN + "x"}, {"Authorization", "Bearer x" + TOKEN}, {"Authorization", "Bearer " + TOKEN.substring(1)},
            {"Authorization", "Bearer " + TOKEN.toUpperCase(Locale.ROOT)}, {"Authorization", "Basic " + java.util.Base64.getEncoder()
                .encodeToString(("x:" + TOKEN).getBytes(StandardCharsets.US_ASCII))}, {"Authorization", "Token " + TOKEN},
            {"Authorization", "Bearer" + TOKEN}, {"Authorization", "BearerX" + TOKEN}, {"Proxy-Authorization", AUTH},
            {"X-Authorization", AUTH}, {"Authorization", "Bearer " + TOKEN + " " + TOKEN}};
        for (String path : tricks) {
            for (String[] h : headers) {
                Answer a = once("GET", path, h);
                String what = "GET " + path + " " + String.join(": ", h) + " -> " + a;
                assertTrue(a.status() == 401 || a.status() == 404 && (path.startsWith("/health") || path.startsWith("/tinyid/")), what);
                assertFalse(a.body().contains("\"id\"") || a.body().contains("\"ids\"") || a.body().contains("ekko_server"), what);
                if (a.status() == 401) {
                    assertEquals("Bearer", a.header("www-authenticate"), what);
                }
            }
        }
        assertEquals(200, once("GET", "/health/live").status());
        assertEquals(200, once("GET", "/health/ready").status());
        assertEquals(200, once("GET", "/v1/id", "Authorization", "bearer   " + TOKEN + "  ").status(), "scheme any case, blanks around");
        // gRPC: every method, without or with a wrong token
        for (Metadata m : new Metadata[] {new Metadata(), authorization("Bearer " + TOKEN + "x"), authorization(TOKEN),
            authorization("Basic " + TOKEN)}) {
            EkkoGrpc.EkkoBlockingStub stub = EkkoGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(m));
            for (Runnable call : List.<Runnable>of(() -> stub.next(NextRequest.getDefaultInstance()),
                    () -> stub.nextBatch(NextBatchRequest.newBuilder().setCount(1).build()),
                    () -> stub.nextSegment(NextSegmentRequest.newBuilder().setName("order").build()),
                    () -> stub.decode(DecodeRequest.newBuilder().setId(1).build()))) {
                StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
                assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
            }
        }
        String metrics = get("/metrics").body();
        assertFalse(metrics.contains(TOKEN), metrics);
    }

    /** "never ... echoed": the 400 for a repeated or misplaced token parameter puts the token in the error's value. */
    @Test
    void theTokenIsNeverEchoedInAnErrorBody() throws Exception {
        List<String> echoed = new ArrayList<>();
        String t = java.net.URLEncoder.encode(TOKEN, StandardCharsets.UTF_8);
        for (Answer a : List.of(once("GET", "/tinyid/id/nextId?bizType=order&token=" + t + "&token=" + t),
                once("GET", "/v1/id?token=" + t, "Authorization", AUTH),
                once("GET", "/v1/ids?count=1&token=" + t, "Authorization", AUTH),
                once("GET", "/api/segment/get/order?token=" + t + "&token=" + t, "Authorization", AUTH))) {
            if (a.body().contains(TOKEN)) {
                echoed.add(a.toString());
            }
        }
        assertEquals(List.of(), echoed);
    }

    /**
     * ServerSettings.accepts encodes the presented token with getBytes(US_ASCII), which turns every non-ASCII character
     * into '?': a token holding '?' (printable ASCII, allowed) is matched by any non-ASCII character in that place.
     */
    @Test
    void aNonAsciiByteNeverStandsForACharacterOfTheToken() throws Exception {
        String forged = TOKEN.replace('?', '\u00e9');
        Answer header = once("GET", "/v1/id", "Authorization", "Bearer " + forged); // é sent as the byte 0xE9
        Answer query = once("GET", "/tinyid/id/nextIdSimple?bizType=order&token=" + TOKEN.replace("?", "%C3%A9"));
        List<String> accepted = new ArrayList<>();
        if (header.status() != 401) {
            accepted.add("Authorization: Bearer " + forged + " -> " + header);
        }
        if (query.status() != 401) {
            accepted.add("token=" + forged + " -> " + query);
        }
        assertEquals(List.of(), accepted);
    }

    /** A bad token setting stops the start naming the key, never showing the value, and toString never shows it. */
    @Test
    void badTokenSettingsStopTheStartWithoutShowingTheToken() {
        String secret = "SECRET-0123456789abcdef";
        String[][] cases = {{"ekko.server.token=" + secret.substring(0, 10)}, {"ekko.server.token=" + secret + " x"},
            {"ekko.server.token=" + secret, "ekko.server.token.file=/nonexistent"}, {"ekko.server.tokn=" + secret},
            {"ekko.token=" + secret}, {"server.token=" + secret}, {"ekko.server.token:" + secret}, {"ekko.server.token=" + secret + "\u00e9"}};
        for (String[] args : cases) {
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
            String[] all = new String[args.length + 3];
            all[0] = "ekko.worker.allocator=manual";
            all[1] = "ekko.worker.id=14";
            all[2] = "ekko.server.http.port=0";
            System.arraycopy(args, 0, all, 3, args.length);
            int status = Main.run(all, new java.io.PrintStream(out, true, StandardCharsets.UTF_8), new java.io.PrintStream(err, true,
                    StandardCharsets.UTF_8));
            String printed = out.toString(StandardCharsets.UTF_8) + err.toString(StandardCharsets.UTF_8);
            assertEquals(2, status, String.join(" ", args) + ": " + printed);
            assertFalse(printed.contains(secret.substring(0, 10)), String.join(" ", args) + ": " + printed);
            assertTrue(printed.contains("ekko.") || printed.contains("ekko-server: arguments"), printed);
        }
        ServerSettings s = ServerSettings.of(Map.of("ekko.server.token", secret));
        assertFalse(s.toString().contains(secret), s.toString());
    }

    /** A request without the token is a 401, whatever else is wrong with it: the query is checked before the token. */
    @Test
    void aRequestWithoutTheTokenIs401BeforeAnyParameterCheck() throws Exception {
        List<String> problems = new ArrayList<>();
        for (String path : new String[] {"/v1/id?a=1&a=2", "/v1/ids?count=%zz", "/metrics?x=%"}) {
            Answer a = once("GET", path);
            if (a.status() != 401) {
                problems.add("GET " + path + " without a token -> " + a);
            }
        }
        assertEquals(List.of(), problems);
    }

    /**
     * "never logged ... at any level": run with java.util.logging at ALL (as an operator chasing a problem would), make an
     * HTTP and a gRPC call with the token. grpc-java's Netty transport logs every inbound HEADERS frame at DEBUG (FINE),
     * authorization included.
     */
    @Test
    void theTokenIsNeverLoggedEvenAtDebugLevel() throws Exception {
        Path d = Files.createTempDirectory("ekko-review-debug");
        Path config = d.resolve("logging.properties");
        Files.writeString(config, "handlers=java.util.logging.ConsoleHandler\n.level=ALL\njava.util.logging.ConsoleHandler.level=ALL\n");
        Map<String, String> s = new HashMap<>();
        s.put("ekko.worker.allocator", "manual");
        s.put("ekko.worker.id", "13");
        s.put("ekko.server.token", TOKEN);
        JvmServer debug = JvmServer.start(d, List.of("-Djava.util.logging.config.file=" + config), s);
        started.add(debug);
        try (Conn c = new Conn(debug.httpPort)) {
            c.send("GET /v1/id HTTP/1.1\r\nHost: x\r\nAuthorization: " + AUTH + "\r\nConnection: close\r\n\r\n");
            assertEquals(200, c.read(false).status());
        }
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", debug.grpcPort).usePlaintext().build();
        try {
            EkkoGrpc.newBlockingStub(ch).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(authorization(AUTH)))
                    .next(NextRequest.getDefaultInstance());
        } finally {
            ch.shutdownNow();
        }
        debug.process.toHandle().destroy();
        assertTrue(debug.process.waitFor(30, TimeUnit.SECONDS));
        String err = Files.readString(debug.stderr);
        assertTrue(err.contains(" FINE "), "debug logging is on");
        List<String> lines = new ArrayList<>();
        for (String line : err.split("\n")) {
            if (line.contains(TOKEN)) {
                lines.add(line.length() > 300 ? line.substring(0, 300) + "..." : line);
            }
        }
        assertEquals(List.of(), lines, "log lines holding the token");
    }

    /** A server child JVM with JVM options of the test's (ServerProcess takes none): the same contract otherwise. */
    static final class JvmServer implements AutoCloseable {
        final Process process;
        final Path stderr;
        final int httpPort;
        final int grpcPort;

        private JvmServer(Process process, Path stderr, int httpPort, int grpcPort) {
            this.process = process;
            this.stderr = stderr;
            this.httpPort = httpPort;
            this.grpcPort = grpcPort;
        }

        static JvmServer start(Path dir, List<String> jvmOptions, Map<String, String> settings) throws IOException {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m"));
            cmd.addAll(jvmOptions);
            cmd.addAll(List.of("-jar", ServerProcess.jar().toString(), "ekko.server.http.port=0", "ekko.server.grpc.port=0"));
            settings.forEach((k, v) -> cmd.add(k + "=" + v));
            Path err = Files.createTempFile(dir, "stderr-", ".txt");
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(err.toFile()).redirectOutput(ProcessBuilder.Redirect.PIPE);
            pb.environment().keySet().removeIf(k -> k.startsWith("EKKO_") || k.equals("CLASSPATH"));
            pb.environment().put("EKKO_STATE_DIR", dir.resolve("state").toString());
            pb.environment().put("EKKO_HOST_LOCK_DIR", dir.resolve("host-locks").toString());
            Process p = pb.start();
            java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            int http = -1;
            int grpc = -1;
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith("ekko-server: http listening on port ")) {
                    http = Integer.parseInt(line.substring(line.lastIndexOf(' ') + 1));
                } else if (line.startsWith("ekko-server: grpc listening on port ")) {
                    grpc = Integer.parseInt(line.substring(line.lastIndexOf(' ') + 1));
                } else if (line.startsWith("ekko-server: serving ")) {
                    Thread drain = new Thread(() -> {
                        try {
                            r.transferTo(java.io.Writer.nullWriter());
                        } catch (IOException e) {
                            // gone
                        }
                    });
                    drain.setDaemon(true);
                    drain.start();
                    return new JvmServer(p, err, http, grpc);
                }
            }
            p.destroyForcibly();
            throw new AssertionError("did not start: " + Files.readString(err));
        }

        @Override
        public void close() {
            process.destroyForcibly();
        }
    }

    // ================================================================== claim 2: no ID repeats across servers and restarts

    private static long[] numbers(String body) {
        String inner = body.substring(body.indexOf('[') + 1, body.lastIndexOf(']'));
        String[] parts = inner.split(",");
        long[] ids = new long[parts.length];
        for (int i = 0; i < parts.length; i++) {
            ids[i] = Long.parseUnsignedLong(parts[i].replace("\"", "").trim());
        }
        return ids;
    }

    @Test
    void segmentNumbersNeverRepeatAcrossTwoServersAndASigkilledRestart() throws Exception {
        Map<String, String> s2 = new HashMap<>(settings);
        s2.put("ekko.worker.id", "12");
        Path dir2 = dir.resolve("second");
        AtomicReference<ServerProcess> second = new AtomicReference<>(ServerProcess.start(dir2, s2));
        started.add(() -> second.get().close());
        Set<Long> seen = ConcurrentHashMap.newKeySet();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        String[] routes = {"/v1/segment/shared/ids?count=500&format=number", "/tinyid/id/nextId?bizType=shared&batchSize=300"};
        for (int t = 0; t < 4; t++) {
            boolean onSecond = t % 2 == 1;
            String route = routes[t / 2];
            Thread th = new Thread(() -> {
                while (!stop.get()) {
                    ServerProcess s = onSecond ? second.get() : server;
                    HttpResponse<String> r;
                    try {
                        r = s.get(route, "Authorization", AUTH);
                    } catch (IOException e) {
                        continue; // the second server is being killed or restarted
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                        return;
                    }
                    if (r.statusCode() != 200) {
                        failure.compareAndSet(null, new AssertionError(route + " -> " + r.statusCode() + " " + r.body()));
                        return;
                    }
                    for (long n : numbers(r.body())) {
                        if (!seen.add(n)) {
                            failure.compareAndSet(null, new AssertionError("segment number " + n + " handed out twice"));
                        }
                    }
                }
            });
            th.start();
            threads.add(th);
        }
        Thread.sleep(1500);
        second.get().kill();
        second.set(ServerProcess.start(dir2, s2));
        Thread.sleep(1500);
        stop.set(true);
        for (Thread th : threads) {
            th.join(20_000);
        }
        assertEquals(null, failure.get());
        assertTrue(seen.size() > 5000, "took " + seen.size());
    }

    private static Map<String, String> redisFleet(String uri, String namespace, int workerIds) {
        Map<String, String> m = new HashMap<>();
        m.put("ekko.worker.allocator", "redis");
        m.put("ekko.redis.uri", uri);
        m.put("ekko.redis.namespace", namespace);
        m.put("ekko.worker.ids", Integer.toString(workerIds));
        m.put("ekko.worker.lease.ttl", "2s");
        m.put("ekko.worker.lease.margin", "500ms");
        m.put("ekko.worker.report.interval", "500ms");
        m.put("ekko.clock.max.skew", "500ms");
        return m;
    }

    @Test
    void aServerStoppedWithSigtermUnderLoadAndTheNextHolderOfItsWorkerIdNeverRepeat() throws Exception {
        Map<String, String> s = redisFleet(TestServers.redisUri(), TestServers.redisKeyPrefix(ServerReviewIT.class) + "sigterm", 1);
        ServerProcess a = ServerProcess.start(dir.resolve("sigterm-a"), s);
        started.add(a);
        Set<Long> ofA = ConcurrentHashMap.newKeySet();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            Thread th = new Thread(() -> {
                while (!stop.get()) {
                    HttpResponse<String> r;
                    try {
                        r = a.get("/v1/ids?count=2000&format=number");
                    } catch (IOException e) {
                        return; // stopped
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                        return;
                    }
                    if (r.statusCode() != 200) {
                        return; // 503 while closing
                    }
                    for (long id : numbers(r.body())) {
                        if (!ofA.add(id)) {
                            failure.compareAndSet(null, new AssertionError("ID " + Long.toUnsignedString(id) + " handed out twice"));
                        }
                    }
                }
            });
            th.start();
            threads.add(th);
        }
        Thread.sleep(1000);
        assertEquals(143, a.stop());
        stop.set(true);
        for (Thread th : threads) {
            th.join(20_000);
        }
        assertEquals(null, failure.get());
        assertTrue(a.stdout.contains("ekko-server: stopped; worker ID given back"), a.stdout.toString());
        long maxOfA = ofA.stream().reduce(0L, (x, y) -> Layout.compare(x, y) >= 0 ? x : y);
        ServerProcess b = ServerProcess.start(dir.resolve("sigterm-b"), s); // the pool's one worker ID: only if A gave it back
        started.add(b);
        for (int i = 0; i < 10; i++) {
            HttpResponse<String> r = b.get("/v1/ids?count=2000&format=number");
            assertEquals(200, r.statusCode(), r.body());
            for (long id : numbers(r.body())) {
                assertFalse(ofA.contains(id), "ID " + Long.toUnsignedString(id) + " of A handed out again by B");
                assertTrue(Layout.compare(id, maxOfA) > 0, "B went back before A's last ID");
            }
        }
        assertTrue(ofA.size() > 2000, "A served " + ofA.size());
    }

    // ================================================================== claim 4: ready is 503 whenever IDs stop

    @Test
    void readyIs503NoLaterThanIdsStopWhenTheCoordinatorDiesAnd200AgainAfterItReturns() throws Exception {
        DisposableRedis redis = DisposableRedis.launch();
        started.add(redis);
        readyFollowsTheGenerator(redis, "dies", redis::kill, redis::start);
    }

    /** The coordinator stops answering without closing its connections (SIGSTOP): no request may hang on it either. */
    @Test
    void readyIs503NoLaterThanIdsStopWhenTheCoordinatorStallsAnd200AgainAfterItResumes() throws Exception {
        DisposableRedis redis = DisposableRedis.launch();
        started.add(redis);
        readyFollowsTheGenerator(redis, "stalls", () -> signal("STOP", redis.pid()), () -> signal("CONT", redis.pid()));
    }

    private static void signal(String name, long pid) {
        try {
            assertEquals(0, new ProcessBuilder("kill", "-" + name, Long.toString(pid)).start().waitFor());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** A request that must answer within 3 s (the generator never blocks a request on a coordinator that is gone). */
    private static HttpResponse<String> prompt(ServerProcess s, String path) throws Exception {
        long t0 = System.nanoTime();
        HttpResponse<String> r = s.get(path);
        long millis = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(millis < 3000, path + " took " + millis + " ms");
        return r;
    }

    private void readyFollowsTheGenerator(DisposableRedis redis, String namespace, Runnable stop, Runnable resume) throws Exception {
        ServerProcess s = ServerProcess.start(dir.resolve("ready-" + namespace), redisFleet(redis.uri(), namespace, 4));
        started.add(s);
        assertEquals(200, s.get("/health/ready").statusCode());
        assertEquals(200, s.get("/v1/id").statusCode());
        boolean resumed = false;
        try {
            stop.run();
            long stopped = System.nanoTime();
            List<String> violations = new ArrayList<>();
            boolean idsStopped = false;
            while (System.nanoTime() - stopped < TimeUnit.SECONDS.toNanos(10)) {
                HttpResponse<String> id = prompt(s, "/v1/id");
                HttpResponse<String> ready = prompt(s, "/health/ready");
                if (id.statusCode() != 200) {
                    idsStopped = true;
                    assertEquals(503, id.statusCode(), id.body());
                    if (ready.statusCode() != 503) {
                        violations.add("/v1/id " + id.statusCode() + " " + id.body() + " but then /health/ready " + ready.statusCode() + " "
                                + ready.body());
                    }
                }
                if (idsStopped && ready.statusCode() == 503) {
                    break;
                }
                Thread.sleep(20);
            }
            assertTrue(idsStopped, "IDs did not stop within 10 s of the coordinator's loss");
            assertEquals(List.of(), violations);
            HttpResponse<String> down = prompt(s, "/health/ready");
            assertEquals(503, down.statusCode(), down.body());
            assertEquals("1", down.headers().firstValue("retry-after").orElse(""));
            String metrics = prompt(s, "/metrics").body();
            assertTrue(metrics.contains("ekko_generator_ready 0\n"), metrics);
            assertEquals(503, prompt(s, "/v1/ids?count=10").statusCode());

            resume.run();
            resumed = true;
            long back = System.nanoTime();
            int readyStatus = 0;
            while (readyStatus != 200 && System.nanoTime() - back < TimeUnit.SECONDS.toNanos(20)) {
                Thread.sleep(100);
                readyStatus = prompt(s, "/health/ready").statusCode();
            }
            assertEquals(200, readyStatus, "ready again within 20 s of the coordinator's return");
            HttpResponse<String> id = prompt(s, "/v1/id");
            assertEquals(200, id.statusCode(), "ready said 200 but /v1/id: " + id.body());
        } finally {
            if (!resumed) {
                resume.run();
            }
        }
    }

    // ================================================================== claim 5: SIGTERM never hangs, gives the worker ID back

    @Test
    void sigtermWithOpenConnectionsAndStalledSegmentRequestsStopsPromptlyAndGivesTheWorkerIdBack() throws Exception {
        DisposableRedis redis = DisposableRedis.launch();
        started.add(redis);
        Map<String, String> segmentStore = Map.of("ekko.redis.uri", redis.uri(), "ekko.redis.namespace", "stall", "ekko.redis.timeout", "15s");
        try (SegmentIds ids = Ekko.newSegmentBuilder().store("redis", segmentStore).build()) {
            ids.define("stall", 1, Long.MAX_VALUE);
        }
        try (TestDatabase workers = TestServers.createMysqlDatabase(ServerReviewIT.class)) {
            Map<String, String> s = new HashMap<>(segmentStore);
            s.put("ekko.segment.store", "redis");
            s.put("ekko.worker.allocator", "mysql");
            s.put("ekko.mysql.url", workers.jdbcUrl());
            s.put("ekko.mysql.user", workers.user());
            s.put("ekko.mysql.password", workers.password());
            s.put("ekko.worker.ids", "1");
            s.put("ekko.worker.lease.ttl", "2s");
            s.put("ekko.worker.lease.margin", "500ms");
            s.put("ekko.worker.report.interval", "500ms");
            s.put("ekko.clock.max.skew", "500ms");
            ServerProcess a = ServerProcess.start(dir.resolve("stall-a"), s);
            started.add(a);
            ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", a.grpcPort).usePlaintext().build();
            Conn idle = new Conn(a.httpPort);
            long stopMillis;
            try {
                EkkoGrpc.newBlockingStub(ch).next(NextRequest.getDefaultInstance()); // an open gRPC connection
                idle.send("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"); // an open keep-alive connection
                assertEquals(200, idle.read(false).status());

                new ProcessBuilder("kill", "-STOP", Long.toString(redis.pid())).start().waitFor(); // the store stops answering
                List<CompletableFuture<HttpResponse<String>>> inFlight = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    inFlight.add(ServerProcess.HTTP.sendAsync(java.net.http.HttpRequest.newBuilder(java.net.URI.create(a.base()
                            + "/v1/segment/stall")).timeout(java.time.Duration.ofSeconds(40)).build(), HttpResponse.BodyHandlers.ofString()));
                }
                com.google.common.util.concurrent.ListenableFuture<NextSegmentReply> grpcInFlight = EkkoGrpc.newFutureStub(ch)
                        .nextSegment(NextSegmentRequest.newBuilder().setName("stall").build());
                Thread.sleep(1000);
                assertFalse(inFlight.get(0).isDone() || grpcInFlight.isDone(), "the segment requests are stalled");

                long t0 = System.nanoTime();
                a.process.toHandle().destroy();
                assertTrue(a.process.waitFor(30, TimeUnit.SECONDS), "did not exit within 30 s of SIGTERM");
                stopMillis = (System.nanoTime() - t0) / 1_000_000;
                for (CompletableFuture<HttpResponse<String>> f : inFlight) {
                    try {
                        HttpResponse<String> r = f.get(5, TimeUnit.SECONDS);
                        assertTrue(r.statusCode() == 503, r.statusCode() + " " + r.body());
                    } catch (java.util.concurrent.ExecutionException e) {
                        // connection closed by the stopping server: the client is not left hanging
                    }
                }
                assertTrue(grpcInFlight.isDone() || waitDone(grpcInFlight), "the in-flight gRPC call was left hanging");
                try {
                    assertEquals(null, idle.read(false), "the idle keep-alive connection is closed");
                } catch (IOException e) {
                    // reset: closed too
                }
            } finally {
                new ProcessBuilder("kill", "-CONT", Long.toString(redis.pid())).start().waitFor();
                ch.shutdownNow();
                idle.close();
            }
            Thread.sleep(500);
            String text = String.join("\n", a.stdout);
            assertTrue(text.contains("ekko-server: stopped; worker ID given back"), text + "\n" + a.stderrText());
            ServerProcess b = ServerProcess.start(dir.resolve("stall-b"), s); // one worker ID: starts only if A gave it back
            started.add(b);
            assertEquals(200, b.get("/v1/id").statusCode());
            // "lets those in flight finish (up to a few seconds)": the shutdown waits for the stalled store call instead
            assertTrue(stopMillis < 10_000, "took " + stopMillis + " ms to stop after SIGTERM (ekko.redis.timeout=15s)");
        }
    }

    private static boolean waitDone(java.util.concurrent.Future<?> f) {
        try {
            f.get(5, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            return true;
        } catch (Exception e) {
            return f.isDone();
        }
        return true;
    }
}
