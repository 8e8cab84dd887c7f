package dev.ekko.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * An application class-data archive (AppCDS) for the start-up suites that measure with one: the JVM maps the classes a
 * start loads from the archive, already parsed and verified, instead of loading them from the class path. It is a JVM
 * setting ({@code -XX:SharedArchiveFile}), so the figures measured with it say so where they are shown.
 *
 * <p>{@link #create} makes the archive the way a user would: one training run of the start ({@link #main}, on the same class
 * path as the forks) with {@code -XX:ArchiveClassesAtExit}, which writes every class it loaded that the JDK's own archive
 * does not hold. The training run starts Ekko ({@code host-local} and {@code manual}) and constructs every peer, so the
 * Ekko and peer forks use one archive and the same JVM flags.
 */
final class AppCds {

    private AppCds() {
    }

    /**
     * Creates the archive in a training JVM.
     *
     * @param archive the file to write (replaced)
     * @return the JVM arguments that use it, for the forks
     * @throws IOException if the training JVM cannot start, fails, or writes no archive
     */
    static String[] create(Path archive) throws IOException, InterruptedException {
        Files.deleteIfExists(archive);
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Path log = archive.resolveSibling(archive.getFileName() + ".log");
        Process p = new ProcessBuilder(List.of(java.toString(), "-XX:ArchiveClassesAtExit=" + archive, "-cp",
                System.getProperty("java.class.path"), AppCds.class.getName()))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(2, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IOException("the AppCDS training run did not end within 2 minutes; its output: " + log);
        }
        if (p.exitValue() != 0 || !Files.isRegularFile(archive)) {
            throw new IOException("the AppCDS training run failed (exit " + p.exitValue() + ", archive "
                    + (Files.isRegularFile(archive) ? "written" : "not written") + "): "
                    + Files.readString(log, StandardCharsets.UTF_8));
        }
        // -Xshare:on, not the default auto: a fork whose class path does not match the archive's then fails instead of
        // silently loading every class from the class path.
        return new String[] {"-XX:SharedArchiveFile=" + archive, "-Xshare:on"};
    }

    /** The training run: a start of each kind the AppCDS suites measure, then exit (the JVM writes the archive). */
    public static void main(String[] args) {
        Quiet.ekkoLogs();
        for (String allocator : new String[] {"host-local", "manual"}) {
            Path dir = StateDirectories.create();
            try (var g = StartupBenchmark.newBuilder(allocator, dir, Map.of()).build()) {
                g.next();
            } finally {
                StateDirectories.delete(dir);
            }
        }
        for (String peer : PeerStartupBenchmark.GENERATORS) {
            PeerStartupBenchmark.firstId(peer);
        }
    }
}
