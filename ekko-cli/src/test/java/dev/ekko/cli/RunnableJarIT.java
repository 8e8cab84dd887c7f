package dev.ekko.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Layout;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
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
        assertEquals("ekko: no worker allocator named \"nosuch\" (ekko.worker.allocator); found: host-local, manual, mysql, redis; to use it,"
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
}
