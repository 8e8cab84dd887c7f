package dev.ekko;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's logging section, run: Ekko logs through System.Logger under the names it lists, which reach
 * java.util.logging by default, SLF4J with the one dependency {@code org.slf4j:slf4j-jdk-platform-logging}, and Log4j 2
 * with {@code org.apache.logging.log4j:log4j-jpl}. Each route runs in a JVM of its own with the jars the build copied to
 * {@code target/logging-routes} (on the test class path they would take over every test's logging).
 */
class LoggingRoutesTest {

    @TempDir
    Path dir;

    /** Starts a manual generator (its "started:" line is logged by dev.ekko.generator at INFO) and closes it. */
    public static final class Child {
        public static void main(String[] args) {
            Path d = Path.of(args[0]);
            try (IdGenerator g = Ekko.newBuilder().workerId(3).stateDirectory(d.resolve("state")).hostLockDirectory(d.resolve("locks"))
                    .build()) {
                g.next();
            }
        }
    }

    private String run(String route, String... jvmOptions) throws IOException, InterruptedException {
        List<String> cp = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (entry.endsWith("classes")) { // this module's classes and test classes: no test libraries
                cp.add(entry);
            }
        }
        if (route != null) {
            try (Stream<Path> jars = Files.list(Path.of("target", "logging-routes", route))) {
                jars.forEach(j -> cp.add(j.toAbsolutePath().toString()));
            }
        }
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(List.of(jvmOptions));
        cmd.addAll(List.of("-cp", String.join(File.pathSeparator, cp), Child.class.getName(), dir.resolve(String.valueOf(route)).toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "did not finish");
        assertEquals(0, p.exitValue(), out);
        return out;
    }

    @Test
    void byDefaultEkkoLogsToJavaUtilLogging() throws Exception {
        String out = run(null);
        assertTrue(out.contains("INFO: started: idc=0 worker=3 allocator=manual"), out);
    }

    @Test
    void slf4jJdkPlatformLoggingRoutesItToSlf4j() throws Exception {
        String out = run("slf4j");
        assertTrue(out.contains("INFO dev.ekko.generator - started: idc=0 worker=3 allocator=manual"), out);
    }

    @Test
    void log4jJplRoutesItToLog4j2() throws Exception {
        // A configuration that shows the logger name (Log4j's default one logs errors only, without it).
        Path config = Files.writeString(dir.resolve("log4j2.properties"), String.join("\n", "appender.out.type = Console",
                "appender.out.name = out", "appender.out.layout.type = PatternLayout", "appender.out.layout.pattern = %level %logger - %msg%n",
                "rootLogger.level = info", "rootLogger.appenderRef.out.ref = out", ""));
        String out = run("log4j", "-Dlog4j2.configurationFile=" + config);
        assertTrue(out.contains("INFO dev.ekko.generator - started: idc=0 worker=3 allocator=manual"), out);
    }
}
