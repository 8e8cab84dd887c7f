package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Ekko;
import dev.ekko.EkkoException;
import dev.ekko.IdGenerator;
import dev.ekko.testsupport.TestServers;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * What a user sees when the Redis settings are wrong: one clear error each, naming the endpoint and never the
 * password, within {@code ekko.redis.timeout}. Every case goes through {@code Ekko.newBuilder()...build()}.
 */
class RedisConnectionFailureIT {

    private static final String CLASS_PREFIX = TestServers.redisKeyPrefix(RedisConnectionFailureIT.class);
    /** An ACL user of the shared server that may touch this class's keys only. */
    private static final String USER = "ekko-it-" + UUID.randomUUID().toString().substring(0, 8);
    private static final String PASSWORD = "right-" + UUID.randomUUID();
    private static final String WRONG = "wrong-" + UUID.randomUUID();
    private static final Duration TIMEOUT = Duration.ofMillis(500);
    /** What an error may take beyond the timeout: the JVM, the builder and the core around one request. */
    private static final Duration SLACK = Duration.ofMillis(1500);

    @TempDir
    Path stateDir;

    @BeforeAll
    static void createAclUser() {
        try (Jedis jedis = SharedRedis.connect()) {
            jedis.aclSetUser(USER, "reset", "on", ">" + PASSWORD, "~" + SharedRedis.escape(CLASS_PREFIX) + "*", "+@all");
        }
    }

    @AfterAll
    static void deleteAclUserAndKeys() {
        try (Jedis jedis = SharedRedis.connect()) {
            jedis.aclDelUser(USER);
        }
        SharedRedis.deleteKeys(CLASS_PREFIX);
    }

    private Ekko.Builder builder(String uri) {
        return Ekko.newBuilder().allocator("redis").setting("ekko.redis.uri", uri).setting("ekko.redis.timeout", "500ms")
                .setting("ekko.redis.namespace", CLASS_PREFIX + "ns").stateDirectory(stateDir)
                .leaseTtl(Duration.ofSeconds(2)).leaseMargin(Duration.ofMillis(500)).reportInterval(Duration.ofMillis(300))
                .reservation(Duration.ofSeconds(1)).maxClockSkew(Duration.ofMillis(200));
    }

    private static String endpoint() {
        return TestServers.redisUri().substring("redis://".length());
    }

    /** Builds, expecting a failure of the given type within the timeout plus slack; returns it. */
    private static <T extends RuntimeException> T failsWithin(Class<T> type, Ekko.Builder builder, String... secrets) {
        long start = System.nanoTime();
        T e = assertThrows(type, () -> builder.build().close());
        long took = System.nanoTime() - start;
        assertTrue(took < TIMEOUT.plus(SLACK).toNanos(), "took " + took / 1_000_000 + " ms: " + e.getMessage());
        StringWriter trace = new StringWriter();
        e.printStackTrace(new PrintWriter(trace));
        for (String secret : secrets) {
            assertFalse(trace.toString().contains(secret), "the password shows in the error or its causes:\n" + trace);
        }
        return e;
    }

    @Test
    void aClosedPortFailsAtOnceNamingTheEndpoint() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        EkkoException e = failsWithin(EkkoException.class, builder("redis://:" + PASSWORD + "@127.0.0.1:" + port), PASSWORD);
        assertTrue(e.getMessage().startsWith("cannot reach Redis at 127.0.0.1:" + port + " within ekko.redis.timeout=500ms while"
                + " acquiring a worker ID of idc=0: "), e.getMessage());
        assertTrue(e.getMessage().endsWith("Failed to connect to 127.0.0.1:" + port + ": Connection refused"), e.getMessage());
    }

    @Test
    void aServerThatNeverAnswersFailsWithinTheTimeout() throws Exception {
        List<Socket> accepted = new ArrayList<>();
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread acceptor = new Thread(() -> {
                try {
                    while (true) {
                        accepted.add(silent.accept());
                    }
                } catch (IOException closed) {
                    // the test is over
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();
            long start = System.nanoTime();
            EkkoException e = failsWithin(EkkoException.class, builder("redis://u:" + PASSWORD + "@127.0.0.1:" + silent.getLocalPort()),
                    PASSWORD);
            assertTrue(System.nanoTime() - start >= TIMEOUT.toNanos(), "gave up before the timeout: " + e.getMessage());
            assertTrue(e.getMessage().startsWith("cannot reach Redis at 127.0.0.1:" + silent.getLocalPort()
                    + " within ekko.redis.timeout=500ms while acquiring a worker ID of idc=0: "), e.getMessage());
            assertTrue(e.getMessage().contains("Read timed out"), e.getMessage());
        } finally {
            for (Socket s : accepted) {
                s.close();
            }
        }
    }

    @Test
    void anAddressNothingAnswersOnFailsWithinTheTimeout() {
        // TEST-NET-1 (RFC 5737): never routed; the connect times out, or fails at once where there is no route.
        EkkoException e = failsWithin(EkkoException.class, builder("redis://192.0.2.1:6379"));
        assertTrue(e.getMessage().startsWith("cannot reach Redis at 192.0.2.1:6379 within ekko.redis.timeout=500ms"), e.getMessage());
    }

    @Test
    void aWrongPasswordIsRefusedNamingTheEndpointAndTheUserButNotThePassword() {
        EkkoException byKey = failsWithin(EkkoException.class,
                builder(TestServers.redisUri()).setting("ekko.redis.user", USER).setting("ekko.redis.password", WRONG), WRONG, PASSWORD);
        assertEquals("Redis at " + endpoint() + " refused user " + USER + " while acquiring a worker ID of idc=0: WRONGPASS invalid"
                + " username-password pair or user is disabled (check ekko.redis.user, ekko.redis.password or the credentials in"
                + " ekko.redis.uri)", byKey.getMessage());
        EkkoException inUri = failsWithin(EkkoException.class,
                builder("redis://" + USER + ":" + WRONG + "@" + endpoint()), WRONG, PASSWORD);
        assertEquals(byKey.getMessage(), inUri.getMessage());
    }

    @Test
    void theRightPasswordOfAUserAllowedOnlyTheNamespaceWorks() {
        // The ACL user may touch keys under this class's prefix only: every key the scripts use is in the namespace.
        try (IdGenerator g = builder("redis://" + USER + ":" + PASSWORD + "@" + endpoint()).build()) {
            long a = g.next();
            long b = g.next();
            assertTrue(Long.compareUnsigned(b, a) > 0);
        }
        try (IdGenerator g = builder(TestServers.redisUri()).setting("ekko.redis.user", USER).setting("ekko.redis.password", PASSWORD)
                .setting("ekko.redis.namespace", CLASS_PREFIX + "ns2").build()) {
            g.next();
        }
    }

    @Test
    void aNamespaceTheUserMayNotTouchIsRefusedClearly() {
        EkkoException e = failsWithin(EkkoException.class, builder(TestServers.redisUri()).setting("ekko.redis.user", USER)
                .setting("ekko.redis.password", PASSWORD).setting("ekko.redis.namespace", "elsewhere"), PASSWORD);
        assertTrue(e.getMessage().startsWith("Redis at " + endpoint() + " refused user " + USER + " while acquiring a worker ID of"
                + " idc=0: "), e.getMessage());
        assertTrue(e.getMessage().contains("NOPERM"), e.getMessage());
    }

    @Test
    void aMalformedUriIsRefusedAtBuildNamingTheKeyButNotThePassword() {
        IllegalArgumentException e = failsWithin(IllegalArgumentException.class,
                builder("redis//u:" + PASSWORD + "@" + endpoint()), PASSWORD);
        assertEquals("must use the scheme redis:// or rediss:// (TLS), as in redis://[[user][:password]@]host[:port][/database]"
                + " or rediss://... (TLS): ekko.redis.uri=redis//u:***@" + endpoint(), e.getMessage());
        IllegalArgumentException port = failsWithin(IllegalArgumentException.class,
                builder("redis://u:" + PASSWORD + "@127.0.0.1:port"), PASSWORD);
        assertTrue(port.getMessage().endsWith(": ekko.redis.uri=redis://u:***@127.0.0.1:port"), port.getMessage());
    }

    @Test
    void aMissingUriNamesTheKeyAndItsEnvironmentVariable() {
        IllegalArgumentException e = failsWithin(IllegalArgumentException.class, Ekko.newBuilder().allocator("redis")
                .stateDirectory(stateDir));
        assertTrue(e.getMessage().endsWith(": ekko.redis.uri (environment variable EKKO_REDIS_URI)"), e.getMessage());
    }
}
