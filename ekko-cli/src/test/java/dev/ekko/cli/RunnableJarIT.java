package dev.ekko.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Layout;
import dev.ekko.testsupport.TestDatabase;
import dev.ekko.testsupport.TestServers;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The runnable jar, after {@code package}: {@code java -jar ekko-cli-VERSION-all.jar} in a child JVM with nothing else
 * on its class path, the state and host lock directories in a temporary directory.
 */
class RunnableJarIT {

    @TempDir
    Path dir;

    private String stdout;
    private String stderr;

    private static Path jar() {
        Path jar = Path.of(System.getProperty("ekko.cli.jar", "target/ekko-cli-all.jar"));
        assertTrue(Files.isRegularFile(jar), "no runnable jar at " + jar + " (built by package)");
        return jar;
    }

    private ProcessBuilder java(Map<String, String> env, String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
                jar().toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("EKKO_") || k.equals("CLASSPATH"));
        pb.environment().put("EKKO_STATE_DIR", dir.resolve("state").toString());
        pb.environment().put("EKKO_HOST_LOCK_DIR", dir.resolve("host-locks").toString());
        pb.environment().putAll(env);
        return pb;
    }

    private int run(Map<String, String> env, String... args) throws IOException, InterruptedException {
        Path err = dir.resolve("stderr.txt");
        Process p = java(env, args).redirectError(err.toFile()).start();
        stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "did not finish");
        stderr = Files.readString(err);
        return p.exitValue();
    }

    @Test
    void layoutAndNextRunFromTheJarAlone() throws Exception {
        assertEquals(0, run(Map.of(), "layout"), stderr);
        assertTrue(stdout.contains("time runs out:  2043-06-03T21:56:53.888Z"), stdout);
        assertEquals(0, run(Map.of(), "next", "-n", "2"), stderr);
        String[] lines = stdout.strip().split("\n");
        assertEquals(2, lines.length, stdout);
        assertTrue(Layout.compare(Layout.parse(lines[0]), Layout.parse(lines[1])) < 0, stdout);
        assertEquals("", stderr);
        assertTrue(Files.list(dir.resolve("state")).anyMatch(f -> f.getFileName().toString().endsWith(".state")));
    }

    @Test
    void theJarHoldsEveryBackEndAndItsServiceFilesAreMerged() throws Exception {
        assertEquals(2, run(Map.of(), "next", "--allocator", "nosuch"));
        assertEquals("ekko: no worker allocator named \"nosuch\" (ekko.worker.allocator); found: etcd, host-local, manual, mysql, redis; to use it,"
                + " add an artifact that provides it to the class path\n", stderr);
    }

    @Test
    void versionAndUnusedSettings() throws Exception {
        assertEquals(0, run(Map.of(), "--version"), stderr);
        assertTrue(stdout.matches("ekko \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?\nJava .*\n"), stdout);
        assertEquals(0, run(Map.of("EKKO_IDC", "9"), "decode", "1"), stderr);
        assertEquals("1 timestamp=2026-01-01T00:00:00Z idc=0 worker=0 product=0 sequence=1\n", stdout);
        assertEquals(2, run(Map.of("EKKO_IDC", "9"), "next"));
        assertEquals("ekko: must be >= 0 && <= 7: ekko.idc=9 (from environment variable EKKO_IDC)\n", stderr);
    }

    @Test
    void aClosedStandardOutputStopsNext() throws Exception {
        // 2^31 - 1 IDs take over half an hour at the layout's 1024 per ms: finishing at all means it stopped
        Process p = java(Map.of(), "next", "-n", "2147483647").redirectError(dir.resolve("stderr.txt").toFile()).start();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            Layout.parse(r.readLine());
        }
        // the reader is gone, as with ... | head -1
        boolean exited = p.waitFor(120, TimeUnit.SECONDS);
        if (!exited) {
            p.destroyForcibly();
        }
        assertTrue(exited, "next kept running after its standard output was closed");
        assertEquals(Main.OUTPUT_CLOSED, p.exitValue());
        assertEquals("", Files.readString(dir.resolve("stderr.txt")));
    }

    /**
     * With a short lease on the back end {@code env} points at ({@code ekko next} with {@code EKKO_WORKER_ALLOCATOR}): the
     * first start on a worker ID waits one TTL plus the skew (no history), a restart with the same instance name does not
     * (and prints nothing on stderr), {@code ekko <backEnd> new-generation} says what it did, and the next start waits
     * again (the mark is only a lower bound); the IDs keep rising throughout.
     */
    private void firstStartRestartAndNewGeneration(Map<String, String> env, String backEnd, String newGenerationSays) throws Exception {
        env.put("EKKO_WORKER_ALLOCATOR", backEnd);
        env.put("EKKO_WORKER_INSTANCE", "cli-it");
        env.put("EKKO_WORKER_LEASE_TTL", "2s");
        env.put("EKKO_WORKER_LEASE_MARGIN", "500ms");
        env.put("EKKO_WORKER_REPORT_INTERVAL", "300ms");
        env.put("EKKO_CLOCK_MAX_SKEW", "100ms");
        long t0 = System.nanoTime();
        assertEquals(0, run(env, "next", "-n", "3"), stderr);
        long firstMs = (System.nanoTime() - t0) / 1_000_000;
        String[] first = stdout.strip().split("\n");
        assertEquals(3, first.length, stdout);
        assertTrue(stderr.contains("waiting 2100 ms before issuing") && stderr.contains("no history"), stderr);
        assertTrue(firstMs >= 2100, "the first start took " + firstMs + " ms");

        assertEquals(0, run(env, "next"), stderr);
        assertEquals("", stderr, "a restart on the worker ID it left, with its mark, does not wait");
        long restarted = Layout.parse(stdout.strip());
        assertTrue(Layout.compare(Layout.parse(first[2]), restarted) < 0, first[2] + " then " + restarted);

        assertEquals(0, run(env, backEnd, "new-generation"), stderr);
        assertTrue(stdout.matches(newGenerationSays), stdout);
        assertEquals(0, run(env, "next"), stderr);
        assertTrue(stderr.contains("waiting") && stderr.contains("before issuing"), "after a new generation the mark is only a lower"
                + " bound, so the start waits: " + stderr);
        assertTrue(Layout.compare(restarted, Layout.parse(stdout.strip())) < 0);
    }

    /**
     * The command, {@code EKKO_WORKER_ALLOCATOR=mysql EKKO_MYSQL_URL=... ekko next}, against the MariaDB of the test
     * command, with a short lease so the first start's wait is short: the first start on a worker ID waits one TTL plus the
     * skew (no history), a restart with the same instance name does not, and after {@code ekko mysql new-generation} the
     * next start waits again (the mark is a lower bound). No run prints the password.
     */
    @Test
    void nextOnMysqlAndANewGeneration() throws Exception {
        try (TestDatabase db = TestServers.createMysqlDatabase(RunnableJarIT.class)) {
            Map<String, String> env = new HashMap<>();
            env.put("EKKO_WORKER_ALLOCATOR", "mysql");
            env.put("EKKO_MYSQL_URL", db.jdbcUrl());
            env.put("EKKO_MYSQL_USER", db.user());
            env.put("EKKO_MYSQL_PASSWORD", db.password());
            firstStartRestartAndNewGeneration(env, "mysql", "started generation [0-9a-f]{32} at mysql jdbc:mysql://.* table"
                    + " ekko_worker_ids \\(was [0-9a-f]{32}\\): the marks of 1 worker ID are lower bounds from now on.*\n");

            env.put("EKKO_MYSQL_PASSWORD", "not-" + db.password());
            assertEquals(1, run(env, "mysql", "new-generation"));
            assertTrue(stderr.startsWith("ekko: MySQL at mysql jdbc:mysql://") && stderr.contains("refused user " + db.user())
                    && !stderr.contains(db.password()), stderr);
            assertEquals(2, run(env, "mysql", "new-generation", "--set", "ekko.idc=3"));
            assertEquals("ekko: invalid value for option --set: must be KEY=VALUE with a key starting ekko.mysql., e.g."
                    + " ekko.mysql.table=ids: ekko.idc=...\n", stderr);
        }
    }

    /**
     * {@code ekko segment define} and {@code ekko segment next NAME -n N} against the test command's MariaDB: numbers start at
     * the start, a second run starts past the first one's range (its unused part is never handed out), and an unknown name
     * is refused naming it. No run prints the password.
     */
    @Test
    void segmentDefineAndNextOnMysql() throws Exception {
        try (TestDatabase db = TestServers.createMysqlDatabase(RunnableJarIT.class)) {
            Map<String, String> env = new HashMap<>();
            env.put("EKKO_SEGMENT_STORE", "mysql");
            env.put("EKKO_MYSQL_URL", db.jdbcUrl());
            env.put("EKKO_MYSQL_USER", db.user());
            env.put("EKKO_MYSQL_PASSWORD", db.password());
            env.put("EKKO_SEGMENT_STEP_MIN", "10");
            assertEquals(0, run(env, "segment", "define", "order", "--start", "100"), stderr);
            assertTrue(stdout.startsWith("defined \"order\" (start 100, max 9223372036854775807) at SegmentIds{stores=[mysql jdbc:mysql://"),
                    stdout);
            assertEquals(0, run(env, "segment", "next", "order", "-n", "3"), stderr);
            assertEquals("100\n101\n102\n", stdout);
            assertEquals(0, run(env, "segment", "next", "order", "-n", "2"), stderr);
            String[] second = stdout.strip().split("\n");
            assertEquals(2, second.length, stdout);
            assertTrue(Long.parseLong(second[0]) >= 110 && Long.parseLong(second[1]) == Long.parseLong(second[0]) + 1, stdout);
            assertEquals(2, run(env, "segment", "next", "nope"));
            assertTrue(stderr.contains("unknown segment name \"nope\"") && !stderr.contains(db.password()), stderr);
        }
    }

    /**
     * The command, {@code EKKO_WORKER_ALLOCATOR=etcd EKKO_ETCD_ENDPOINTS=... ekko next}, against the test command's
     * etcd, with a short lease: the first start waits one TTL plus the skew (no history), a restart with the same instance
     * name does not, and after {@code ekko etcd new-generation} (which says what it did) the next start waits again.
     */
    @Test
    void nextOnEtcdAndANewGeneration() throws Exception {
        String namespace = TestServers.etcdKeyPrefix(RunnableJarIT.class) + "gen";
        Map<String, String> env = new HashMap<>();
        env.put("EKKO_ETCD_ENDPOINTS", String.join(",", TestServers.etcdEndpoints()));
        env.put("EKKO_ETCD_NAMESPACE", namespace);
        assertEquals(0, run(env, "etcd", "new-generation"), stderr);
        assertTrue(stdout.matches("started generation [0-9a-f]{32} at etcd .* namespace " + java.util.regex.Pattern.quote(namespace)
                + " \\(was none\\): every mark of the namespace is a lower bound from now on.*\n"), stdout);

        firstStartRestartAndNewGeneration(env, "etcd", "started generation [0-9a-f]{32} at etcd .* \\(was [0-9a-f]{32}\\): .*\n");
        env.put("EKKO_ETCD_ENDPOINTS", "http://127.0.0.1:1");
        env.put("EKKO_ETCD_TIMEOUT", "500ms");
        assertEquals(1, run(env, "etcd", "new-generation"));
        assertTrue(stderr.contains("ekko: cannot reach etcd at etcd http://127.0.0.1:1 namespace "), stderr);
    }

    @Test
    void serveAnswersOverHttpWithTheGeneratorOptionsGivenBeforeIt() throws Exception {
        Process p = java(Map.of(), "--worker", "5", "serve", "--set", "ekko.server.http.port=0", "--set", "ekko.server.grpc.port=off")
                .redirectError(dir.resolve("serve-stderr.txt").toFile()).start();
        try {
            BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
            int port = -1;
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith("ekko-server: http listening on port ")) {
                    port = Integer.parseInt(line.substring(line.lastIndexOf(' ') + 1));
                }
                if (line.startsWith("ekko-server: serving ")) {
                    assertEquals("ekko-server: serving idc=0 worker=5", line);
                    break;
                }
            }
            assertTrue(port > 0, "no port printed; stderr: " + Files.readString(dir.resolve("serve-stderr.txt")));
            java.net.http.HttpResponse<String> res = java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create("http://127.0.0.1:" + port + "/v1/id")).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
            assertEquals(200, res.statusCode(), res.body());
            long id = Long.parseUnsignedLong(res.body().replaceAll("\\{\"id\":\"(\\d+)\"\\}", "$1"));
            assertEquals(5, Layout.defaults().decode(id).worker());
            p.toHandle().destroy(); // SIGTERM
            assertTrue(p.waitFor(30, TimeUnit.SECONDS), "serve did not stop on SIGTERM");
            String rest = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(rest.contains("ekko-server: stopped; worker ID given back"), rest);
        } finally {
            p.destroyForcibly();
        }
    }
}
