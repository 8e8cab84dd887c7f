package dev.ekko;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Settings from environment variables and system properties, seen by a real child process ({@link dev.ekko.probe.NextIds}). */
class EnvironmentTest {

    @TempDir
    Path dir;

    private String stdout;
    private String stderr;

    private int runCli(Map<String, String> env, List<String> jvmArgs, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.addAll(jvmArgs);
        cmd.add(dev.ekko.probe.NextIds.class.getName());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().keySet().removeIf(k -> k.startsWith("EKKO_"));
        pb.environment().putAll(env);
        Path err = dir.resolve("stderr.txt");
        pb.redirectError(err.toFile());
        Process p = pb.start();
        stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        stderr = Files.readString(err);
        return p.exitValue();
    }

    /** @return this test's own host lock directory, so worker IDs do not contend with other tests on this host */
    private String hostLocks() {
        return dir.resolve("host-locks").toString();
    }

    @Test
    void environmentVariablesFollowTheNamingRuleAndSystemPropertiesWin() throws Exception {
        Path state = dir.resolve("state");
        assertEquals(0, runCli(Map.of("EKKO_HOST_LOCK_DIR", hostLocks(),
                "EKKO_STATE_DIR", state.toString(), "EKKO_IDC", "6", "EKKO_WORKER_ID", "77"), List.of(),
                "1"), stderr);
        DecodedId d = Layout.defaults().decode(Layout.parse(stdout.strip()));
        assertEquals(6, d.idc());
        assertEquals(77, d.worker());
        assertTrue(Files.exists(state.resolve("idc6-worker77.state")));

        assertEquals(0, runCli(Map.of("EKKO_HOST_LOCK_DIR", hostLocks(),
                "EKKO_STATE_DIR", state.toString(), "EKKO_IDC", "6", "EKKO_WORKER_ID", "77"),
                List.of("-Dekko.idc=5"), "1"), stderr);
        assertEquals(5, Layout.defaults().decode(Layout.parse(stdout.strip())).idc());
    }

    @Test
    void unknownEnvironmentVariablesAreReportedNotIgnoredSilently() throws Exception {
        assertEquals(0, runCli(Map.of("EKKO_HOST_LOCK_DIR", hostLocks(),
                "EKKO_STATE_DIR", dir.toString(), "EKKO_WROKER_ID", "3", "EKKO_REDIS_URI", "redis://h:1",
                "EKKO_SEGMENT_STEP_MIN", "10", "EKKO_SERVER_HTTP_PORT", "8080"),
                List.of(), "1"), stderr);
        // Segment mode and the server read their own variables: not the generator's to warn about.
        assertTrue(!stderr.contains("EKKO_SEGMENT_STEP_MIN") && !stderr.contains("EKKO_SERVER_HTTP_PORT"), stderr);
        assertTrue(stderr.contains("ignoring environment variable EKKO_WROKER_ID: no such Ekko setting"), stderr);
        assertTrue(stderr.contains("ignoring environment variable EKKO_REDIS_URI: no such Ekko setting (a setting of allocator redis,"
                + " which is not on the class path: add dev.ekko:ekko-worker-redis)"), stderr);
    }

    @Test
    void theSpringStartersOwnKeysAreLeftToIt() throws Exception {
        // ekko-spring-boot-starter reads ekko.spring.* (product beans) from Spring's environment, where system properties and
        // environment variables are sources too: a plain builder in the same JVM must neither refuse nor warn about them.
        assertEquals(0, runCli(Map.of("EKKO_HOST_LOCK_DIR", hostLocks(), "EKKO_STATE_DIR", dir.toString(),
                "EKKO_SPRING_PRODUCTS_ORDERS", "1"), List.of("-Dekko.spring.products.invoices=2"), "1"), stderr);
        assertTrue(!stderr.contains("EKKO_SPRING_PRODUCTS_ORDERS") && !stderr.contains("unknown configuration key"), stderr);
    }

    @Test
    void aBadEnvironmentValueNamesTheVariable() throws Exception {
        assertEquals(2, runCli(Map.of("EKKO_STATE_DIR", dir.toString(), "EKKO_IDC", "8"), List.of(), "1"));
        assertEquals("ekko: must be >= 0 && <= 7: ekko.idc=8 (from environment variable EKKO_IDC)\n", stderr);
    }
}
