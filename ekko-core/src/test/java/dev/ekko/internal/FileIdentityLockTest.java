package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Layout;
import dev.ekko.StateFileException;
import dev.ekko.spi.AllocatorContext;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A file held locked by this JVM, reached again through another path (a symbolic link, a hard link, a
 * linked directory as a bind mount would give): refused, and the holder's OS lock is still held afterwards,
 * as a second process proves.
 */
class FileIdentityLockTest {

    @TempDir
    Path tmp;

    private final Layout layout = Layout.defaults();

    private void assertSecondOpenRefusedAndLockKept(Path heldDir, Path aliasDir) throws Exception {
        Path held = StateFile.pathFor(heldDir, 1, 3);
        try (StateFile first = StateFile.open(heldDir, layout, 1, 3)) {
            StateFileException e = assertThrows(StateFileException.class, () -> StateFile.open(aliasDir, layout, 1, 3));
            assertFalse(OtherProcess.canLock(held), "the refused open through another path dropped the holder's OS lock");
            assertEquals("state file is in use by another generator in this JVM (same idc and worker ID; it holds the same file through"
                    + " another path, " + held + ": a symbolic link, hard link or mount names one file twice): "
                    + StateFile.pathFor(aliasDir, 1, 3), e.getMessage());
            assertEquals(Long.MIN_VALUE, first.reservedUntil(), "the holder's file is untouched");
        }
        assertTrue(OtherProcess.canLock(held), "closing the holder releases the lock");
    }

    @Test
    void stateFileThroughASymbolicLinkIsRefusedAndTheHolderKeepsItsLock() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("state"));
        Path alias = Files.createDirectory(tmp.resolve("alias"));
        StateFile.open(dir, layout, 1, 3).close();
        Files.createSymbolicLink(StateFile.pathFor(alias, 1, 3), StateFile.pathFor(dir, 1, 3));
        assertSecondOpenRefusedAndLockKept(dir, alias);
    }

    @Test
    void stateFileThroughAHardLinkIsRefusedAndTheHolderKeepsItsLock() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("state"));
        Path alias = Files.createDirectory(tmp.resolve("alias"));
        StateFile.open(dir, layout, 1, 3).close();
        Files.createLink(StateFile.pathFor(alias, 1, 3), StateFile.pathFor(dir, 1, 3));
        assertSecondOpenRefusedAndLockKept(dir, alias);
    }

    @Test
    void stateFileThroughALinkedDirectoryIsRefusedAndTheHolderKeepsItsLock() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("state"));
        Path alias = Files.createSymbolicLink(tmp.resolve("alias"), dir);
        assertSecondOpenRefusedAndLockKept(dir, alias);
    }

    @Test
    void stateFileHeldThroughALinkIsRefusedThroughItsOwnPath() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("state"));
        Path alias = Files.createSymbolicLink(tmp.resolve("alias"), dir);
        assertSecondOpenRefusedAndLockKept(alias, dir);
    }

    private static HostLocalAllocator hostLocal(Path lockDir) {
        return new HostLocalAllocator(AllocatorContext.builder().workerIds(256).setting(ConfigKeys.HOST_LOCK_DIR, lockDir.toString())
                .setting("ekko.state.dir", lockDir.resolveSibling("state").toString()).build());
    }

    private void assertHostLocalSkipsTheHeldLockFile(Path lockDir, Path alias) throws Exception {
        HostLocalAllocator a = hostLocal(lockDir);
        HostLocalAllocator b = hostLocal(alias);
        try {
            assertEquals(0, a.acquire().workerId());
            assertEquals(1, b.acquire().workerId());
            assertFalse(OtherProcess.canLock(lockDir.resolve("idc0-worker0.lock")), "b's scan through another path dropped a's lock");
        } finally {
            a.close();
            b.close();
        }
    }

    @Test
    void hostLocalLockFileThroughALinkedDirectoryIsSkippedAndKeepsItsLock() throws Exception {
        Path locks = Files.createDirectory(tmp.resolve("locks"));
        assertHostLocalSkipsTheHeldLockFile(locks, Files.createSymbolicLink(tmp.resolve("alias"), locks));
    }

    @Test
    void hostLocalLockFileThroughAHardLinkIsSkippedAndKeepsItsLock() throws Exception {
        Path locks = Files.createDirectory(tmp.resolve("locks"));
        Path alias = Files.createDirectory(tmp.resolve("alias"));
        HostLocalAllocator creator = hostLocal(locks);
        creator.acquire();
        creator.close();
        Files.createLink(alias.resolve("idc0-worker0.lock"), locks.resolve("idc0-worker0.lock"));
        assertHostLocalSkipsTheHeldLockFile(locks, alias);
    }
}
