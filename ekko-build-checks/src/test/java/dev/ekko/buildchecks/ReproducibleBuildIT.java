package dev.ekko.buildchecks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Two clean builds of the published modules give byte-identical artifacts (project.build.outputTimestamp).
 * The work is .ci/reproducible-check's, which builds twice in fresh copies of the work tree and compares with
 * cmp; this test runs it so that the test command proves it every time (about a minute on 2 cores).
 */
class ReproducibleBuildIT {

    @Test
    void twoCleanBuildsGiveByteIdenticalArtifacts() throws IOException, InterruptedException {
        Path root = Path.of(System.getProperty("user.dir")).getParent();
        Path script = root.resolve(".ci/reproducible-check");
        assertTrue(Files.isExecutable(script), "missing or not executable: " + script);
        Path log = Files.createTempFile("ekko-reproducible", ".log");
        try {
            Process p = new ProcessBuilder(script.toString()).directory(root.toFile())
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            assertTrue(p.waitFor(20, TimeUnit.MINUTES), "reproducible-check still running after 20 minutes");
            String output = Files.readString(log, StandardCharsets.UTF_8);
            System.out.print(output);
            assertEquals(0, p.exitValue(), "reproducible-check failed:\n" + output);
            assertTrue(output.contains("28 artifacts byte-identical"), output);
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
