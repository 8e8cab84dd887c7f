package dev.ekko.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.DecodedId;
import dev.ekko.Ekko;
import dev.ekko.Layout;
import dev.ekko.SegmentIds;
import dev.ekko.server.grpc.DecodeReply;
import dev.ekko.server.grpc.DecodeRequest;
import dev.ekko.server.grpc.EkkoGrpc;
import dev.ekko.server.grpc.NextBatchRequest;
import dev.ekko.server.grpc.NextRequest;
import dev.ekko.server.grpc.NextSegmentRequest;
import dev.ekko.testsupport.TestDatabase;
import dev.ekko.testsupport.TestServers;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every HTTP route and gRPC call of one real ekko-server process (manual worker ID 9, segment mode on the MariaDB that
 * the test command starts), with real clients: the JDK's HttpClient and a grpc-java channel. Bad input on each: a 4xx
 * with a JSON error naming the parameter (gRPC: INVALID_ARGUMENT / NOT_FOUND naming it), never a 500.
 */
class ServerApiIT {

    private static Path dir;
    private static TestDatabase db;
    private static ServerProcess server;
    private static ManagedChannel channel;
    private static EkkoGrpc.EkkoBlockingStub grpc;

    private static final Pattern ID_STRING = Pattern.compile("\\{\"id\":\"(\\d+)\"\\}");
    private static final Pattern ID_NUMBER = Pattern.compile("\\{\"id\":(\\d+)\\}");

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("ekko-server-api");
        db = TestServers.createMysqlDatabase(ServerApiIT.class);
        Map<String, String> store = new HashMap<>();
        store.put("ekko.mysql.url", db.jdbcUrl());
        store.put("ekko.mysql.user", db.user());
        store.put("ekko.mysql.password", db.password());
        try (SegmentIds s = Ekko.newSegmentBuilder().store("mysql", store).build()) {
            s.define("order", 1000, Long.MAX_VALUE);
            s.define("a+b", 1, Long.MAX_VALUE);
            s.define("tiny", 1, 3);
        }
        Map<String, String> settings = new HashMap<>(store);
        settings.put("ekko.worker.allocator", "manual");
        settings.put("ekko.worker.id", "9");
        settings.put("ekko.segment.store", "mysql");
        settings.put("ekko.server.batch.max", "5000");
        server = ServerProcess.start(dir, settings);
        channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort).usePlaintext().build();
        grpc = EkkoGrpc.newBlockingStub(channel);
    }

    @AfterAll
    static void stop() throws Exception {
        if (channel != null) {
            channel.shutdownNow();
        }
        if (server != null) {
            assertEquals(143, server.stop(), "exit status after SIGTERM (128 + 15: the JVM's, after its shutdown hooks ran)");
            assertTrue(server.stdout.contains("ekko-server: stopped; worker ID given back"), server.stdout + "\n" + server.stderrText());
            assertTrue(!server.stderrText().contains("Exception"), server.stderrText());
        }
        if (db != null) {
            db.close();
        }
    }

    private static long idOf(HttpResponse<String> r, Pattern p) {
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("application/json", r.headers().firstValue("content-type").orElse(""));
        Matcher m = p.matcher(r.body());
        assertTrue(m.matches(), r.body());
        return Long.parseUnsignedLong(m.group(1));
    }

    private static long[] idsOf(HttpResponse<String> r, boolean quoted) {
        assertEquals(200, r.statusCode(), r.body());
        String body = r.body();
        assertTrue(body.startsWith("{\"ids\":[") && body.endsWith("]}"), body);
        String item = quoted ? "\"\\d+\"" : "\\d+";
        String[] parts = body.substring(8, body.length() - 2).split(",");
        long[] ids = new long[parts.length];
        for (int i = 0; i < parts.length; i++) {
            assertTrue(parts[i].matches(item), "item " + i + " of " + body);
            ids[i] = Long.parseUnsignedLong(parts[i].replace("\"", ""));
        }
        return ids;
    }

    /** A 4xx JSON error that names the parameter (and the value, when one was sent). */
    private static void assertBad(HttpResponse<String> r, int status, String parameter, String value) {
        assertEquals(status, r.statusCode(), r.body());
        assertEquals("application/json", r.headers().firstValue("content-type").orElse(""), r.body());
        assertTrue(r.body().startsWith("{\"error\":\""), r.body());
        assertTrue(r.body().contains("\"parameter\":\"" + parameter + "\""), r.body());
        if (value != null) {
            assertTrue(r.body().contains("\"value\":\"" + value + "\""), r.body());
        }
    }

    @Test
    void oneIdAsAJsonStringByDefaultAndAsANumberOnRequest() throws Exception {
        long a = idOf(server.get("/v1/id"), ID_STRING);
        long b = idOf(server.get("/v1/id?format=number"), ID_NUMBER);
        long c = idOf(server.get("/v1/id?format=string"), ID_STRING);
        assertTrue(Layout.compare(a, b) < 0 && Layout.compare(b, c) < 0);
        DecodedId d = Layout.defaults().decode(a);
        assertEquals(9, d.worker());
        assertEquals(0, d.idc());
    }

    @Test
    void aBatchIsIncreasingAndBoundedByTheServersMaximum() throws Exception {
        long[] ids = idsOf(server.get("/v1/ids?count=5000"), true);
        assertEquals(5000, ids.length);
        for (int i = 1; i < ids.length; i++) {
            assertTrue(Layout.compare(ids[i - 1], ids[i]) < 0, "not increasing at " + i);
        }
        assertEquals(3, idsOf(server.get("/v1/ids?count=3&format=number"), false).length);
        for (String bad : List.of("0", "-1", "5001", "99999999999", "abc", "1.5", "", "%2B")) {
            assertBad(server.get("/v1/ids?count=" + bad), 400, "count", bad.equals("%2B") ? "+" : bad);
        }
        assertBad(server.get("/v1/ids"), 400, "count", null);
        assertBad(server.get("/v1/ids?count=2&count=3"), 400, "count", "3");
        assertBad(server.get("/v1/ids?count=2&format=xml"), 400, "format", "xml");
        assertBad(server.get("/v1/id?count=2"), 400, "count", "2");
        assertBad(server.get("/v1/id?format="), 400, "format", "");
    }

    @Test
    void segmentNumbersByName() throws Exception {
        long first = idOf(server.get("/v1/segment/order"), ID_STRING);
        assertTrue(first >= 1000, "starts at the defined start: " + first);
        long[] more = idsOf(server.get("/v1/segment/order/ids?count=4&format=number"), false);
        assertEquals(first + 1, more[0]);
        assertEquals(first + 4, more[3]);
        assertEquals(1, idOf(server.get("/v1/segment/a+b"), ID_STRING), "a '+' in a path is itself, not a blank");
        assertBad(server.get("/v1/segment/nosuch"), 404, "name", "nosuch");
        assertBad(server.get("/v1/segment/nosuch/ids?count=2"), 404, "name", "nosuch");
        assertBad(server.get("/v1/segment/has%20blank"), 400, "name", "has blank");
        assertBad(server.get("/v1/segment/order/ids?count=0"), 400, "count", "0");
        assertBad(server.get("/v1/segment/order/ids"), 400, "count", null);
        // A name at its maximum: 409 naming the maximum, not a 500; the numbers handed out before were 1..3.
        long[] tiny = idsOf(server.get("/v1/segment/tiny/ids?count=3&format=number"), false);
        assertEquals(List.of(1L, 2L, 3L), List.of(tiny[0], tiny[1], tiny[2]));
        HttpResponse<String> r = server.get("/v1/segment/tiny");
        assertEquals(409, r.statusCode(), r.body());
        assertTrue(r.body().contains("maximum 3"), r.body());
    }

    @Test
    void decodeGivesTheFieldsOfAnId() throws Exception {
        long id = idOf(server.get("/v1/id"), ID_STRING);
        HttpResponse<String> r = server.get("/v1/decode/" + Long.toUnsignedString(id));
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(Layout.defaults().decode(id).toJson(), r.body());
        assertBad(server.get("/v1/decode/abc"), 400, "id", "abc");
        assertBad(server.get("/v1/decode/18446744073709551616"), 400, "id", "18446744073709551616");
        assertBad(server.get("/v1/decode/-1"), 400, "id", "-1");
    }

    @Test
    void healthNeedsNoTokenAndReadySaysWhichWorkerIdItHolds() throws Exception {
        HttpResponse<String> live = server.get("/health/live");
        assertEquals(200, live.statusCode());
        assertEquals("{\"status\":\"live\"}", live.body());
        HttpResponse<String> ready = server.get("/health/ready");
        assertEquals(200, ready.statusCode());
        assertEquals("{\"status\":\"ready\",\"idc\":0,\"worker\":9}", ready.body());
    }

    @Test
    void metricsInThePrometheusTextFormat() throws Exception {
        server.get("/v1/id");
        server.get("/v1/ids?count=0");
        HttpResponse<String> r = server.get("/metrics");
        assertEquals(200, r.statusCode());
        assertEquals("text/plain; version=0.0.4; charset=utf-8", r.headers().firstValue("content-type").orElse(""));
        String m = r.body();
        assertTrue(m.contains("# TYPE ekko_server_requests_total counter"), m);
        assertTrue(Pattern.compile("(?m)^ekko_server_requests_total\\{protocol=\"http\",route=\"id\",status=\"200\"} [1-9]\\d*$").matcher(m).find(), m);
        assertTrue(Pattern.compile("(?m)^ekko_server_requests_total\\{protocol=\"http\",route=\"ids\",status=\"400\"} [1-9]\\d*$").matcher(m).find(), m);
        assertTrue(Pattern.compile("(?m)^ekko_server_ids_total\\{kind=\"snowflake\"} [1-9]\\d*$").matcher(m).find(), m);
        assertTrue(m.contains("ekko_generator_ready 1\n"), m);
        assertTrue(m.contains("ekko_generator_info{idc=\"0\",worker=\"9\"} 1\n"), m);
        // Every sample line is NAME{LABELS} VALUE or NAME VALUE; every other line a # HELP or # TYPE comment.
        for (String line : m.split("\n")) {
            assertTrue(line.matches("# (HELP|TYPE) ekko_[a-z_]+ .+") || line.matches("ekko_[a-z_]+(\\{[a-z]+=\"[^\"]*\"(,[a-z]+=\"[^\"]*\")*})? -?[0-9.E]+"),
                    "not Prometheus text: " + line);
        }
    }

    @Test
    void compatibilityRoutesAnswerAsLeafAndTinyidDocumentThem() throws Exception {
        // Short routes: {"id":N}, a JSON number.
        idOf(server.get("/api/snowflake"), ID_NUMBER);
        long s = idOf(server.get("/api/segment/order"), ID_NUMBER);
        // Leaf: the number alone, as text.
        HttpResponse<String> leaf = server.get("/api/segment/get/order");
        assertEquals(200, leaf.statusCode());
        assertEquals("text/plain; charset=utf-8", leaf.headers().firstValue("content-type").orElse(""));
        assertEquals(Long.toString(s + 1), leaf.body());
        HttpResponse<String> leafSnowflake = server.get("/api/snowflake/get/anykey");
        assertTrue(leafSnowflake.body().matches("\\d+"), leafSnowflake.body());
        // tinyid: {"data":[N],"code":200,"message":""}, and N or N,N,... for nextIdSimple; bizType and batchSize.
        HttpResponse<String> t1 = server.get("/tinyid/id/nextId?bizType=order");
        assertEquals("{\"data\":[" + (s + 2) + "],\"code\":200,\"message\":\"\"}", t1.body());
        assertEquals("application/json", t1.headers().firstValue("content-type").orElse(""));
        HttpResponse<String> t2 = server.send("POST", "/tinyid/id/nextId?bizType=order&batchSize=3");
        assertEquals("{\"data\":[" + (s + 3) + "," + (s + 4) + "," + (s + 5) + "],\"code\":200,\"message\":\"\"}", t2.body());
        assertEquals(Long.toString(s + 6), server.get("/tinyid/id/nextIdSimple?bizType=order").body());
        assertEquals((s + 7) + "," + (s + 8), server.get("/tinyid/id/nextIdSimple?bizType=order&batchSize=2").body());
        assertBad(server.get("/tinyid/id/nextId"), 400, "bizType", null);
        assertBad(server.get("/tinyid/id/nextId?bizType=order&batchSize=0"), 400, "batchSize", "0");
        assertBad(server.get("/tinyid/id/nextIdSimple?bizType=nosuch"), 404, "bizType", "nosuch");
        assertBad(server.get("/api/segment/get/nosuch"), 404, "name", "nosuch");
    }

    @Test
    void unknownRoutesAndMethodsAreClientErrors() throws Exception {
        assertBad(server.get("/v2/id"), 404, "path", "/v2/id");
        assertBad(server.get("/"), 404, "path", "/");
        assertBad(server.send("POST", "/v1/id"), 405, "method", "POST");
        assertBad(server.send("DELETE", "/v1/ids?count=1"), 405, "method", "DELETE");
        assertBad(server.get("/v1/id?x"), 400, "x", "");
        // What the JDK's HttpClient refuses to send, sent raw: a bad percent escape, a request line that is not HTTP.
        String raw = server.raw("GET /v1/id?%zz=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assertTrue(raw.startsWith("HTTP/1.1 400 ") && raw.contains("\"parameter\":\"query\"") && raw.contains("\"value\":\"%zz\""), raw);
        raw = server.raw("NONSENSE\r\n\r\n");
        assertTrue(raw.startsWith("HTTP/1.1 400 "), raw);
    }

    @Test
    void grpcCallsAndTheirErrors() {
        long a = grpc.next(NextRequest.getDefaultInstance()).getId();
        List<Long> batch = grpc.nextBatch(NextBatchRequest.newBuilder().setCount(100).build()).getIdsList();
        assertEquals(100, batch.size());
        assertTrue(Layout.compare(a, batch.get(0)) < 0);
        for (int i = 1; i < batch.size(); i++) {
            assertTrue(Layout.compare(batch.get(i - 1), batch.get(i)) < 0);
        }
        DecodeReply d = grpc.decode(DecodeRequest.newBuilder().setId(a).build());
        assertEquals(9, d.getWorker());
        assertEquals(Layout.defaults().decode(a).timestamp().toString(), d.getTimestamp());
        assertEquals(1, grpc.nextSegment(NextSegmentRequest.newBuilder().setName("order").build()).getIdsCount());
        assertEquals(7, grpc.nextSegment(NextSegmentRequest.newBuilder().setName("order").setCount(7).build()).getIdsCount());

        assertStatus(Status.Code.INVALID_ARGUMENT, "count", () -> grpc.nextBatch(NextBatchRequest.getDefaultInstance()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "count=5001", () -> grpc.nextBatch(NextBatchRequest.newBuilder().setCount(5001).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "count=4294967295",
                () -> grpc.nextBatch(NextBatchRequest.newBuilder().setCount(-1).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "count=0",
                () -> grpc.nextSegment(NextSegmentRequest.newBuilder().setName("order").setCount(0).build()));
        assertStatus(Status.Code.INVALID_ARGUMENT, "name", () -> grpc.nextSegment(NextSegmentRequest.getDefaultInstance()));
        assertStatus(Status.Code.NOT_FOUND, "nosuch", () -> grpc.nextSegment(NextSegmentRequest.newBuilder().setName("nosuch").build()));
    }

    private static void assertStatus(Status.Code code, String messagePart, Runnable call) {
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class, call::run);
        assertEquals(code, e.getStatus().getCode(), e.getMessage());
        assertTrue(e.getStatus().getDescription() != null && e.getStatus().getDescription().contains(messagePart), e.getMessage());
    }
}
