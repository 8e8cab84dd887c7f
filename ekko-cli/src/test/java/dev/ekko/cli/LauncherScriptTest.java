package dev.ekko.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The repository's {@code ./ekko} launcher, run for real by bash on a copy of the repository's skeleton, with a fake
 * build ({@code EKKO_BUILD_COMMAND}: counts its runs, takes a second, writes a fake jar) and a fake {@code java}
 * ({@code JAVA_HOME}: prints its arguments and the jar's content). Two runs started at once on a fresh copy must both
 * succeed and build once; the lock, not luck, makes that so: each run sees no jar when it starts.
 */
class LauncherScriptTest {

    private static final String BUILD = "echo build >> builds.txt; sleep 1; mkdir -p ekko-cli/target;"
            + " echo \"jar from build $(wc -l < builds.txt)\" > ekko-cli/target/ekko-cli-9.9-all.jar";

    @TempDir
    Path repo;

    @TempDir
    Path javaHome;

    @BeforeEach
    void copyTheRepositorySkeleton() throws IOException {
        Files.copy(Path.of("..", "ekko"), repo.resolve("ekko"), StandardCopyOption.COPY_ATTRIBUTES);
        Files.writeString(repo.resolve("pom.xml"), "<project/>");
        for (String module : List.of("ekko-core", "ekko-cli", "ekko-worker-fake")) {
            Files.createDirectories(repo.resolve(module).resolve("src/main/java"));
            Files.writeString(repo.resolve(module).resolve("pom.xml"), "<project/>");
            Files.writeString(repo.resolve(module).resolve("src/main/java/A.java"), "class A {}");
        }
        Path java = Files.createDirectories(javaHome.resolve("bin")).resolve("java");
        Files.writeString(java, "#!/bin/sh\necho \"java $*\"\ncat \"$2\"\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private Process start(String build, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("bash", repo.resolve("ekko").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(repo.toFile());
        pb.environment().put("EKKO_BUILD_COMMAND", build);
        pb.environment().put("JAVA_HOME", javaHome.toString());
        return pb.start();
    }

    private static String[] finish(Process p) throws IOException, InterruptedException {
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "./ekko did not finish");
        return new String[] {Integer.toString(p.exitValue()), out, err};
    }

    private long builds() throws IOException {
        Path f = repo.resolve("builds.txt");
        return Files.exists(f) ? Files.readAllLines(f).size() : 0;
    }

    @Test
    void twoRunsAtOnceOnAFreshCopyBothSucceedAndBuildOnce() throws Exception {
        Process a = start(BUILD, "layout");
        Process b = start(BUILD, "layout");
        String[] ra = finish(a);
        String[] rb = finish(b);
        String expected = "java -jar " + repo.resolve(".ekko-run/ekko-cli.jar") + " layout\njar from build 1\n";
        assertEquals("0", ra[0], ra[2]);
        assertEquals("0", rb[0], rb[2]);
        assertEquals(expected, ra[1]);
        assertEquals(expected, rb[1]);
        assertEquals(1, builds());
        // exactly one of them said it was building
        assertEquals(1, (ra[2] + rb[2]).split("ekko: building", -1).length - 1, ra[2] + rb[2]);
        try (var files = Files.list(repo.resolve(".ekko-run"))) {
            assertFalse(files.anyMatch(f -> f.getFileName().toString().contains(".tmp.")), "a temporary jar was left behind");
        }
    }

    @Test
    void rebuildsOnlyWhenASourceChanged() throws Exception {
        assertEquals("0", finish(start(BUILD, "next"))[0]);
        assertEquals(1, builds());
        assertEquals("0", finish(start(BUILD, "next"))[0]);
        assertEquals(1, builds(), "built again though nothing changed");
        FileTime jarTime = Files.getLastModifiedTime(repo.resolve(".ekko-run/ekko-cli.jar"));
        Files.setLastModifiedTime(repo.resolve("ekko-worker-fake/src/main/java/A.java"), FileTime.fromMillis(jarTime.toMillis() + 5000));
        String[] r = finish(start(BUILD, "next", "-n", "3"));
        assertEquals("0", r[0], r[2]);
        assertEquals(2, builds());
        assertEquals("java -jar " + repo.resolve(".ekko-run/ekko-cli.jar") + " next -n 3\njar from build 2\n", r[1]);
    }

    @Test
    void aFailedBuildExits1AndLeavesNoJar() throws Exception {
        String[] r = finish(start("echo compiler says no; exit 3", "layout"));
        assertEquals("1", r[0]);
        assertTrue(r[2].contains("ekko: build failed (exit 3, or no ekko-cli/target/ekko-cli-*-all.jar); see "), r[2]);
        assertTrue(r[2].contains("compiler says no"), r[2]);
        assertEquals("", r[1]);
        assertFalse(Files.exists(repo.resolve(".ekko-run/ekko-cli.jar")));
    }
}
