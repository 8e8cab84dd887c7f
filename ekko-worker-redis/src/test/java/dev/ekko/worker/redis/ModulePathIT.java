package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Layout;
import dev.ekko.testsupport.TestServers;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The module descriptor is real: on the module path, with only the core as root module, the core finds the redis
 * allocator through {@code provides}, and jedis (an automatic module) finds what it needs.
 */
class ModulePathIT {

    private static final String PREFIX = TestServers.redisKeyPrefix(ModulePathIT.class);

    @TempDir
    Path stateDir;

    @AfterAll
    static void deleteKeys() {
        SharedRedis.deleteKeys(PREFIX);
    }

    /** The runtime class path of this module, without the test-only entries. */
    private static String modulePath() {
        List<String> keep = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            String name = Path.of(entry).getFileName().toString();
            boolean testOnly = entry.endsWith("test-classes") || name.endsWith("-tests.jar") || name.startsWith("junit-")
                    || name.startsWith("opentest4j-") || name.startsWith("apiguardian-") || name.startsWith("ekko-test-support")
                    || name.startsWith("slf4j-simple-") || name.startsWith("surefire") || entry.contains("test-support");
            if (!testOnly) {
                keep.add(entry);
            }
        }
        return String.join(File.pathSeparator, keep);
    }

    @Test
    void runsOnTheModulePathAndFindsTheRedisAllocator() throws IOException, InterruptedException {
        String modulePath = modulePath();
        assertTrue(modulePath.contains("jedis-"), modulePath);
        // Only the core as root module: service binding must bring in this module, and its descriptor what jedis needs.
        // The caller (probe.NextIds) runs from the class path: the command line is not part of the library.
        String testClasses = Path.of("target", "test-classes").toAbsolutePath().toString();
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--module-path", modulePath,
                "--add-modules", "dev.ekko.core", "-cp", testClasses, "-Dekko.worker.allocator=redis",
                "-Dekko.redis.uri=" + TestServers.redisUri(), "-Dekko.redis.namespace=" + PREFIX + "mp",
                "-Dekko.worker.lease.ttl=1s", "-Dekko.worker.lease.margin=100ms",
                "-Dekko.worker.report.interval=200ms", "-Dekko.state.reservation=1s", "-Dekko.clock.max.skew=100ms",
                "-Dekko.state.dir=" + stateDir, dev.ekko.worker.redis.probe.NextIds.class.getName(), "3");
        Path err = stateDir.resolve("stderr.txt");
        Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "did not finish");
        assertEquals(0, p.exitValue(), out + Files.readString(err));
        // No SLF4J provider on this module path: jedis's logging goes to System.Logger, without SLF4J's warning.
        assertFalse(Files.readString(err).contains("SLF4J"), Files.readString(err));
        String[] lines = out.strip().split("\n");
        assertEquals(3, lines.length, out + Files.readString(err));
        for (String line : lines) {
            Layout.parse(line);
        }
    }
}
