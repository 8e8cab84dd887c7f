package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Layout;
import dev.ekko.StateFileException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link StateFile#checkIntact()}: a state file changed under a running generator (truncated, removed, replaced,
 * header rewritten, each by another process) is detected at the next renewal, named in the message, and nothing
 * touches the mapping afterwards: no {@link InternalError}, no SIGBUS.
 */
class StateFileIntegrityTest {

    @TempDir
    Path dir;

    private final Layout layout = Layout.defaults();

    private Path file() {
        return StateFile.pathFor(dir, 1, 3);
    }

    private StateFile openInUse() {
        StateFile f = StateFile.open(dir, layout, 1, 3);
        long now = System.currentTimeMillis();
        f.reserve(now + 10_000);
        f.advanceLastIssued(now);
        f.checkIntact(); // whole and unchanged: no complaint
        return f;
    }

    private static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", command) + ": " + out);
    }

    /** The file changed; every later use of the StateFile is harmless, and the error says what changed. */
    private void assertDetected(StateFile f, String change) {
        long reserved = f.reservedUntil();
        StateFileException e = assertThrows(StateFileException.class, f::checkIntact);
        assertEquals("state file changed while in use: " + change + "; stopped issuing with this worker ID. Nothing may change, copy"
                + " over, share or clean the state directory (ekko.state.dir) while a generator runs: " + file(), e.getMessage());
        assertEquals(file(), e.file());
        // Once found changed, nothing touches the mapping: these would fault on a page past the end of the file.
        assertThrows(StateFileException.class, f::checkIntact, "stays refused");
        assertThrows(StateFileException.class, () -> f.reserve(reserved + 1));
        assertEquals(reserved, f.reservedUntil());
        assertEquals(reserved, f.lastIssued(), "the reservation is the bound once the mapping may be unreadable");
        f.advanceLastIssued(reserved + 5);
        f.close(reserved + 5);
    }

    @Test
    void truncatedToNothingWhileInUse() throws Exception {
        StateFile f = openInUse();
        run("truncate", "-s", "0", file().toString());
        assertDetected(f, "truncated to 0 bytes, expected 128");
        assertEquals(0, Files.size(file()), "close must not write to a truncated file");
    }

    @Test
    void truncatedToPartOfTheFileWhileInUse() throws Exception {
        StateFile f = openInUse();
        run("truncate", "-s", "100", file().toString());
        assertDetected(f, "truncated to 100 bytes, expected 128");
    }

    @Test
    void removedWhileInUse() throws Exception {
        StateFile f = openInUse();
        run("rm", file().toString());
        assertDetected(f, "the path names no file any more (deleted or moved away; this process holds a file no one else can see)");
    }

    @Test
    void replacedByACopyWhileInUse() throws Exception {
        StateFile f = openInUse();
        Path copy = dir.resolve("copy");
        Files.copy(file(), copy);
        Files.move(copy, file(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        assertDetected(f, "the path now names another file (replaced, e.g. by a copy or a restore), not the one this process locked");
    }

    @Test
    void headerRewrittenWhileInUse() throws Exception {
        StateFile f = openInUse();
        // another process writes idc=1 worker=4 over the identity, at offset 32
        run("python3", "-c", "import sys,struct\nf=open(sys.argv[1],'r+b')\nf.seek(32)\nf.write(struct.pack('<q',(1<<32)|4))\nf.close()",
                file().toString());
        assertDetected(f, "header changed (identity)");
    }

    @Test
    void aClosedFileIsNotChecked() throws Exception {
        StateFile f = openInUse();
        f.close();
        run("truncate", "-s", "0", file().toString());
        f.checkIntact();
        assertTrue(Files.exists(file()));
    }
}
