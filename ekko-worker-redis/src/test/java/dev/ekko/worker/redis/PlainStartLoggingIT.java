package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import dev.ekko.testsupport.TestServers;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How the redis module logs in an application, in a JVM of its own: jedis logs through SLF4J, and an application
 * without an SLF4J provider used to get SLF4J's three-line "No SLF4J providers were found" warning on stderr at the
 * first start (and lose jedis's messages). Now jedis's messages go to System.Logger, silently set up; an
 * application's own provider still wins.
 */
class PlainStartLoggingIT {

    private static final String PREFIX = TestServers.redisKeyPrefix(PlainStartLoggingIT.class);

    @TempDir
    Path dir;

    @AfterAll
    static void deleteKeys() {
        SharedRedis.deleteKeys(PREFIX);
    }

    /** The child: starts a redis generator, issues, closes, then logs once through SLF4J as jedis would. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            Path d = Path.of(args[1]);
            try (IdGenerator g = Ekko.newBuilder().allocator("redis").setting("ekko.redis.uri", args[0])
                    .setting("ekko.redis.namespace", args[2]).stateDirectory(d).hostLockDirectory(d.resolve("locks"))
                    .leaseTtl(Duration.ofSeconds(1)).leaseMargin(Duration.ofMillis(100)).reportInterval(Duration.ofMillis(200))
                    .reservation(Duration.ofSeconds(1)).maxClockSkew(Duration.ofMillis(100)).build()) {
                System.out.println(g.next());
            }
            org.slf4j.LoggerFactory.getLogger("redis.clients.jedis.Probe").warn("probe {}", 42);
        }
    }

    private String run(boolean withSlf4jSimple) throws IOException, InterruptedException {
        List<String> cp = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (withSlf4jSimple || !Path.of(entry).getFileName().toString().startsWith("slf4j-simple-")) {
                cp.add(entry);
            }
        }
        Path err = dir.resolve("stderr-" + withSlf4jSimple + ".txt");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                String.join(File.pathSeparator, cp), Child.class.getName(), TestServers.redisUri(), dir.resolve("s" + withSlf4jSimple).toString(),
                PREFIX + withSlf4jSimple).redirectError(err.toFile()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "did not finish");
        String stderr = Files.readString(err);
        assertEquals(0, p.exitValue(), out + stderr);
        return stderr;
    }

    @Test
    void withoutAnSlf4jProviderNothingWarnsAndJedisLogsReachSystemLogger() throws Exception {
        String stderr = run(false);
        assertFalse(stderr.contains("SLF4J"), stderr);
        assertTrue(stderr.contains("WARNING: probe 42"), "jedis's message did not reach java.util.logging: " + stderr);
    }

    @Test
    void anApplicationsOwnSlf4jProviderStillWins() throws Exception {
        String stderr = run(true);
        assertFalse(stderr.contains("SLF4J("), stderr);
        assertTrue(stderr.contains("WARN redis.clients.jedis.Probe - probe 42"), "slf4j-simple did not log it: " + stderr);
    }
}
