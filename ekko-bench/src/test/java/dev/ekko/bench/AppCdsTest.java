package dev.ekko.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The AppCDS suites' training run and its failure message. Writing a real archive needs a class path of jars only (a JVM
 * refuses to archive from a non-empty directory, which a test class path has), so that is left to {@code ./bench}.
 */
class AppCdsTest {

    @Test
    void theTrainingRunStartsEkkoAndEveryPeer() {
        AppCds.main(new String[0]);
        assertEquals(4, PeerStartupBenchmark.GENERATORS.length);
    }

    @Test
    void aTrainingRunThatWritesNoArchiveFailsWithItsOutput(@TempDir Path dir) {
        // The test class path has directories: the JVM refuses to write the archive, and says why.
        Path archive = dir.resolve("x.jsa");
        IOException e = assertThrows(IOException.class, () -> AppCds.create(archive));
        assertTrue(e.getMessage().contains("AppCDS training run failed"), e.getMessage());
        assertTrue(!Files.exists(archive));
    }
}
