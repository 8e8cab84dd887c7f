package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Ekko;
import dev.ekko.EkkoException;
import dev.ekko.IdGenerator;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code rediss://}: a Redis server of the test's own that speaks only TLS, with a certificate for
 * {@code localhost} that the JVM trust store (set by this class, restored after) vouches for. The
 * certificate and the host name are both checked.
 */
class RedisTlsIT {

    private static final String[] TRUST_PROPERTIES = {"javax.net.ssl.trustStore", "javax.net.ssl.trustStorePassword",
        "javax.net.ssl.trustStoreType"};

    @TempDir
    static Path dir;

    private static Process server;
    private static int port;
    private static final Properties saved = new Properties();

    @BeforeAll
    static void startTlsRedis() throws Exception {
        run(List.of("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem",
                "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"));
        run(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(), "-importcert", "-noprompt",
                "-alias", "redis", "-file", "cert.pem", "-keystore", "trust.p12", "-storetype", "PKCS12", "-storepass", "changeit"));
        for (String p : TRUST_PROPERTIES) {
            if (System.getProperty(p) != null) {
                saved.setProperty(p, System.getProperty(p));
            }
        }
        System.setProperty("javax.net.ssl.trustStore", dir.resolve("trust.p12").toString());
        System.setProperty("javax.net.ssl.trustStorePassword", "changeit");
        System.setProperty("javax.net.ssl.trustStoreType", "PKCS12");

        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        server = new ProcessBuilder(List.of(redisServer(), "--port", "0", "--tls-port", Integer.toString(port), "--bind", "127.0.0.1",
                "--tls-cert-file", "cert.pem", "--tls-key-file", "key.pem", "--tls-ca-cert-file", "cert.pem",
                "--tls-auth-clients", "no", "--save", "", "--appendonly", "no", "--dir", dir.toString(), "--daemonize", "no"))
                .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(dir.resolve("redis.log").toFile()).start();
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!accepts(port)) {
            if (!server.isAlive() || System.nanoTime() > deadline) {
                throw new IllegalStateException("TLS redis-server did not start: " + Files.readString(dir.resolve("redis.log")));
            }
            Thread.sleep(20);
        }
    }

    @AfterAll
    static void stopTlsRedis() throws InterruptedException {
        if (server != null) {
            server.destroy();
            if (!server.waitFor(10, TimeUnit.SECONDS)) {
                server.destroyForcibly().waitFor();
            }
        }
        for (String p : TRUST_PROPERTIES) {
            if (saved.getProperty(p) != null) {
                System.setProperty(p, saved.getProperty(p));
            } else {
                System.clearProperty(p);
            }
        }
    }

    private static String redisServer() {
        for (String d : new String[] {"/usr/bin", "/usr/local/bin", "/usr/sbin"}) {
            if (Files.isExecutable(Path.of(d, "redis-server"))) {
                return Path.of(d, "redis-server").toString();
            }
        }
        return "redis-server";
    }

    private static void run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
        }
    }

    private static boolean accepts(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static Ekko.Builder builder(Path stateDir, String uri) {
        return Ekko.newBuilder().allocator("redis").setting("ekko.redis.uri", uri).setting("ekko.redis.timeout", "1s")
                .setting("ekko.redis.namespace", "tls").stateDirectory(stateDir).leaseTtl(Duration.ofSeconds(2))
                .leaseMargin(Duration.ofMillis(500)).reportInterval(Duration.ofMillis(300)).reservation(Duration.ofSeconds(1))
                .maxClockSkew(Duration.ofMillis(100));
    }

    @Test
    void connectsOverTlsToAServerWhoseCertificateNamesTheHost(@TempDir Path stateDir) {
        List<Long> ids = new ArrayList<>();
        try (IdGenerator g = builder(stateDir, "rediss://localhost:" + port).build()) {
            ids.add(g.next());
            ids.add(g.next());
        }
        assertTrue(Long.compareUnsigned(ids.get(1), ids.get(0)) > 0);
    }

    @Test
    void refusesACertificateThatDoesNotNameTheHostItReached(@TempDir Path stateDir) {
        // The certificate is trusted, but names localhost, not 127.0.0.1.
        EkkoException e = assertThrows(EkkoException.class, () -> builder(stateDir, "rediss://127.0.0.1:" + port).build().close());
        assertTrue(e.getMessage().startsWith("cannot reach Redis at 127.0.0.1:" + port + " within ekko.redis.timeout=1000ms while"
                + " acquiring a worker ID of idc=0: "), e.getMessage());
        assertTrue(e.getMessage().contains("No subject alternative names matching IP address 127.0.0.1"), e.getMessage());
    }

    @Test
    void plainRedisToATlsPortFailsNamingTheEndpoint(@TempDir Path stateDir) {
        long start = System.nanoTime();
        EkkoException e = assertThrows(EkkoException.class, () -> builder(stateDir, "redis://localhost:" + port).build().close());
        assertTrue(e.getMessage().startsWith("cannot reach Redis at localhost:" + port + " within ekko.redis.timeout=1000ms"),
                e.getMessage());
        assertTrue(System.nanoTime() - start < Duration.ofSeconds(3).toNanos());
        assertEquals(EkkoException.class, e.getClass());
    }
}
