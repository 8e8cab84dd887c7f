package dev.ekko;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The module descriptor is real: on the module path, the allocators are found through {@code provides}. */
class ModulePathTest {

    @TempDir
    Path stateDir;

    @Test
    void runsOnTheModulePathAndFindsTheCoreAllocators() throws IOException, InterruptedException {
        Path classes = Path.of("target", "classes").toAbsolutePath();
        assertTrue(Files.exists(classes.resolve("module-info.class")), "no module-info.class in " + classes);
        // The core alone on the module path, as the only root module; the caller (dev.ekko.probe.NextIds) on the class path.
        Path testClasses = Path.of("target", "test-classes").toAbsolutePath();
        Process p = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--module-path", classes.toString(), "--add-modules", "dev.ekko.core", "-cp", testClasses.toString(),
                "-Dekko.state.dir=" + stateDir, "-Dekko.host.lock.dir=" + stateDir.resolve("host-locks"),
                dev.ekko.probe.NextIds.class.getName(), "3")).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), output);
        String[] lines = output.strip().split("\n");
        assertEquals(3, lines.length, output);
        for (String line : lines) {
            Layout.parse(line);
        }
    }
}
