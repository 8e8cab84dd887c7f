package dev.ekko.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A throwaway state directory per generator: each holds an exclusively locked state file, and a fresh one
 * means a generator starts with no history to wait for. Under {@code java.io.tmpdir}, so on the same kind
 * of file system a user's state directory is on unless tmpfs is mounted there.
 */
final class StateDirectories {

    private StateDirectories() {
    }

    static Path create() {
        try {
            return Files.createTempDirectory("ekko-bench-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a state directory in java.io.tmpdir=" + System.getProperty("java.io.tmpdir"), e);
        }
    }

    /** Closes the generator and deletes its directory when the JVM exits. */
    static void closeAtExit(AutoCloseable generator, Path dir) {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                generator.close();
            } catch (Exception e) {
                System.err.println("ekko-bench: closing a generator at exit failed: " + e);
            }
            delete(dir);
        }, "ekko-bench-close-at-exit"));
    }

    static void delete(Path dir) {
        if (dir == null) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) paths.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the state directory " + dir, e);
        }
    }
}
