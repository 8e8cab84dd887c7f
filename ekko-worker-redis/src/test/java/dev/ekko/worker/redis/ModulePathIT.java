package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Layout;
import dev.ekko.testkit.NextIds;
import dev.ekko.testsupport.TestServers;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
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

    @Test
    void runsOnTheModulePathAndFindsTheRedisAllocator() throws IOException, InterruptedException {
        Map<String, String> settings = NextIds.shortLeaseSettings("redis", stateDir);
        settings.put("ekko.redis.uri", TestServers.redisUri());
        settings.put("ekko.redis.namespace", PREFIX + "mp");
        List<String> cmd = NextIds.modulePathCommand(settings, 3);
        assertTrue(cmd.get(2).contains("jedis-"), cmd.get(2));
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
