package dev.ekko.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.client.EkkoClient;
import dev.ekko.server.grpc.EkkoGrpc;
import dev.ekko.server.grpc.NextRequest;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A real server with a bearer token (from a file) and TLS on both listeners, a throwaway certificate made by openssl:
 * every route but health refuses a missing or wrong token with 401 and a JSON error, gRPC with UNAUTHENTICATED; plain
 * HTTP is refused; the token never appears in what the server prints.
 */
class ServerSecurityIT {

    private static final String TOKEN = "s3cret-token-0123456789abcdef";

    private static Path dir;
    private static ServerProcess server;
    private static HttpClient https;
    private static SSLContext trust;
    private static Path cert;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("ekko-server-tls");
        cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", key.toString(), "-out", cert.toString(), "-days", "2", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, "openssl: " + out);
        Path tokenFile = dir.resolve("token");
        Files.writeString(tokenFile, TOKEN + "\n");
        server = ServerProcess.start(dir, Map.of("ekko.worker.allocator", "manual", "ekko.worker.id", "3",
                "ekko.server.token.file", tokenFile.toString(), "ekko.server.tls.cert", cert.toString(), "ekko.server.tls.key", key.toString()));
        trust = trusting(cert);
        https = HttpClient.newBuilder().sslContext(trust).connectTimeout(Duration.ofSeconds(5)).build();
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.stop();
            String printed = String.join("\n", server.stdout) + server.stderrText();
            assertTrue(!printed.contains(TOKEN), "the token was printed: " + printed);
        }
    }

    static SSLContext trusting(Path certificate) throws Exception {
        KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
        ks.load(null, null);
        try (InputStream in = Files.newInputStream(certificate)) {
            ks.setCertificateEntry("ekko", (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext c = SSLContext.getInstance("TLS");
        c.init(null, tmf.getTrustManagers(), null);
        return c;
    }

    private static HttpResponse<String> get(String path, String... headers) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + server.httpPort + path)).timeout(Duration.ofSeconds(10));
        for (int i = 0; i + 1 < headers.length; i += 2) {
            b.header(headers[i], headers[i + 1]);
        }
        return https.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static void assertUnauthenticated(HttpResponse<String> r) {
        assertEquals(401, r.statusCode(), r.body());
        assertEquals("Bearer", r.headers().firstValue("www-authenticate").orElse(""));
        assertTrue(r.body().contains("\"parameter\":\"Authorization\""), r.body());
        assertTrue(!r.body().contains(TOKEN), r.body());
    }

    @Test
    void everyRouteButHealthNeedsTheToken() throws Exception {
        for (String path : new String[] {"/v1/id", "/v1/ids?count=2", "/v1/decode/1", "/metrics", "/api/snowflake", "/api/snowflake/get/x",
            "/nosuch"}) {
            assertUnauthenticated(get(path));
            assertUnauthenticated(get(path, "Authorization", "Bearer wrong-token-0123456789"));
            assertUnauthenticated(get(path, "Authorization", TOKEN)); // not a bearer credential
            assertUnauthenticated(get(path, "Authorization", "Bearer " + TOKEN + "x"));
        }
        assertEquals(200, get("/v1/id", "Authorization", "Bearer " + TOKEN).statusCode());
        assertEquals(200, get("/v1/id", "Authorization", "bearer " + TOKEN).statusCode());
        assertEquals(200, get("/health/live").statusCode());
        assertEquals(200, get("/health/ready").statusCode());
        // tinyid's clients send the token as a query parameter; only its routes take it there.
        HttpResponse<String> tinyid = get("/tinyid/id/nextId?bizType=x&token=" + TOKEN);
        assertEquals(404, tinyid.statusCode(), "past the token check, to the (unconfigured) segment mode: " + tinyid.body());
        assertUnauthenticated(get("/tinyid/id/nextId?bizType=x&token=wrong"));
        assertUnauthenticated(get("/v1/id?token=" + TOKEN));
    }

    @Test
    void plainHttpIsNotServed() {
        HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        assertThrows(Exception.class, () -> plain.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort + "/health/live"))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString()));
    }

    @Test
    void aClientThatDoesNotTrustTheCertificateIsRefused() {
        HttpClient untrusting = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        Exception e = assertThrows(Exception.class, () -> untrusting.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:"
                + server.httpPort + "/health/live")).build(), HttpResponse.BodyHandlers.ofString()));
        assertTrue(e instanceof SSLHandshakeException || e.getCause() instanceof SSLHandshakeException, String.valueOf(e));
    }

    @Test
    void grpcOverTlsNeedsTheToken() throws Exception {
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort)
                .sslContext(GrpcSslContexts.forClient().trustManager(cert.toFile()).build()).build();
        try {
            EkkoGrpc.EkkoBlockingStub stub = EkkoGrpc.newBlockingStub(channel);
            StatusRuntimeException e = assertThrows(StatusRuntimeException.class, () -> stub.next(NextRequest.getDefaultInstance()));
            assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
            Metadata wrong = new Metadata();
            wrong.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer nope-nope-nope-nope");
            e = assertThrows(StatusRuntimeException.class, () -> stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(wrong))
                    .next(NextRequest.getDefaultInstance()));
            assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
            Metadata right = new Metadata();
            right.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + TOKEN);
            assertTrue(stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(right)).next(NextRequest.getDefaultInstance()).getId() != 0);
        } finally {
            channel.shutdownNow();
        }
    }

    @Test
    void theClientSendsItsTokenOverTls() {
        try (EkkoClient client = EkkoClient.builder().servers("https://127.0.0.1:" + server.httpPort).token(TOKEN).sslContext(trust).batch(10)
                .buffer(20).build()) {
            long a = client.next();
            long b = client.next();
            assertTrue(Long.compareUnsigned(a, b) < 0);
            assertTrue(!client.toString().contains(TOKEN), client.toString());
        }
        try (EkkoClient wrong = EkkoClient.builder().servers("https://127.0.0.1:" + server.httpPort).token("wrong-token-0123456789")
                .sslContext(trust).build()) {
            dev.ekko.client.EkkoClientException e = assertThrows(dev.ekko.client.EkkoClientException.class, wrong::next);
            assertTrue(e.getMessage().contains("401"), e.getMessage());
            assertTrue(!e.getMessage().contains("wrong-token-0123456789"), e.getMessage());
        }
    }
}
