package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import dev.ekko.StateFileException;
import dev.ekko.testkit.ChildJvm;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The drift guard's file: refused when damaged, foreign or held; trusted only as far as it was made durable. */
class StateFileTest {

    @TempDir
    Path dir;

    private final Layout layout = Layout.defaults();

    private StateFile open() {
        return StateFile.open(dir, layout, 1, 3);
    }

    private Path file() {
        return StateFile.pathFor(dir, 1, 3);
    }

    private void createClosedFile(long lastIssued) {
        StateFile f = open();
        f.reserve(lastIssued + 10_000);
        f.advanceLastIssued(lastIssued);
        f.close();
    }

    private void writeLong(int offset, long value) throws IOException {
        try (FileChannel ch = FileChannel.open(file(), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, value), offset);
        }
    }

    private long readLong(int offset) throws IOException {
        try (FileChannel ch = FileChannel.open(file(), StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(b, offset);
            return b.getLong(0);
        }
    }

    private void assertRefusedAndUntouched(String expectedStart) throws IOException {
        byte[] before = Files.readAllBytes(file());
        StateFileException e = assertThrows(StateFileException.class, this::open);
        assertTrue(e.getMessage().startsWith(expectedStart), e.getMessage());
        assertTrue(e.getMessage().endsWith(": " + file()), e.getMessage());
        assertEquals(file(), e.file());
        assertArrayEquals(before, Files.readAllBytes(file()), "a refused file must not be changed");
    }

    @Test
    void newFileIsOwnerOnlyAndHasNoFloor() throws IOException {
        try (StateFile f = open()) {
            assertEquals(Long.MIN_VALUE, f.startFloor());
        }
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file())));
        assertEquals(StateFile.SIZE, Files.size(file()));
        assertEquals(StateFile.MAGIC, readLong(StateFile.OFF_MAGIC));
    }

    @Test
    void cleanShutdownLetsTheNextStartTrustTheLastIssuedMark() {
        long now = System.currentTimeMillis();
        createClosedFile(now);
        try (StateFile f = open()) {
            assertEquals(now, f.startFloor());
            assertFalse(f.floorIsReservation());
            assertTrue(f.floorReason().contains("clean shutdown"), f.floorReason());
        }
    }

    @Test
    void crashInTheSameBootTrustsTheUnforcedLastIssuedMark() throws IOException {
        long now = System.currentTimeMillis();
        StateFile f = open();
        f.reserve(now + 10_000);
        f.advanceLastIssued(now);
        f.abandon(); // no clean flag: what kill -9 leaves
        assertEquals(0, readLong(StateFile.OFF_CLEAN));
        try (StateFile again = open()) {
            assertEquals(now, again.startFloor());
            assertTrue(again.floorReason().contains("same boot"), again.floorReason());
        }
    }

    @Test
    void crashAcrossARebootFallsBackToTheForcedReservation() throws IOException {
        long now = System.currentTimeMillis();
        StateFile f = open();
        f.reserve(now + 10_000);
        f.advanceLastIssued(now);
        f.abandon();
        writeLong(StateFile.OFF_BOOT_HI, 12345); // another kernel boot wrote it
        try (StateFile again = open()) {
            assertEquals(now + 10_000, again.startFloor());
            assertTrue(again.floorIsReservation());
            // from now on lastIssued is a bound the next start may trust
            assertEquals(now + 10_000, again.lastIssued());
        }
    }

    @Test
    void reservationIsForcedAndNeverLowered() {
        try (StateFile f = open()) {
            f.reserve(2000);
            f.reserve(1000);
            assertEquals(2000, f.reservedUntil());
            f.advanceLastIssued(1500);
            f.advanceLastIssued(1200);
            assertEquals(1500, f.lastIssued());
        }
    }

    @Test
    void refusesAFileWithABadMagicNumber() throws IOException {
        createClosedFile(1000);
        writeLong(StateFile.OFF_MAGIC, 0x1234);
        assertRefusedAndUntouched("state file is damaged or not an Ekko state file (bad magic number); refusing to reset it."
                + " Restore it, or delete it only after making sure the clock is past every ID issued with idc=1 worker=3");
    }

    @Test
    void refusesATruncatedFile() throws IOException {
        createClosedFile(1000);
        try (FileChannel ch = FileChannel.open(file(), StandardOpenOption.WRITE)) {
            ch.truncate(50);
        }
        assertRefusedAndUntouched("state file is damaged: 50 bytes, expected 128; refusing to reset it.");
    }

    @Test
    void refusesAFileWhoseHeaderChecksumDoesNotMatch() throws IOException {
        createClosedFile(1000);
        writeLong(StateFile.OFF_IDENTITY, (1L << 32) | 4);
        assertRefusedAndUntouched("state file is damaged or not an Ekko state file (header checksum mismatch)");
    }

    @Test
    void refusesAFileMadeForAnotherLayout() throws IOException {
        createClosedFile(1000);
        Layout other = Layout.positive(Instant.parse("2025-01-01T00:00:00Z"), 2);
        byte[] before = Files.readAllBytes(file());
        StateFileException e = assertThrows(StateFileException.class, () -> StateFile.open(dir, other, 1, 3));
        assertEquals("state file was made for another layout (epoch=2026-01-01T00:00:00Z, productBits=0, positive=false), not for "
                + other + "; use the original layout or another ekko.state.dir: " + file(), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(file()));
    }

    @Test
    void refusesMarksThatContradictEachOther() throws IOException {
        createClosedFile(5000);
        writeLong(StateFile.OFF_RESERVED_UNTIL, 10);
        assertRefusedAndUntouched("state file is damaged or not an Ekko state file (inconsistent marks)");
    }

    @Test
    void refusesASecondUserInTheSameJvm() {
        StateFile held = open();
        try {
            StateFileException e = assertThrows(StateFileException.class, this::open);
            assertEquals("state file is in use by another generator in this JVM (same idc and worker ID): " + file(), e.getMessage());
        } finally {
            held.close();
        }
    }

    @Test
    void refusesASecondProcessAndNamesTheHoldersPid() throws Exception {
        Map<String, String> settings = Map.of("ekko.state.dir", dir.toString(), "ekko.host.lock.dir", dir.resolve("host-locks").toString(), "ekko.idc", "1",
                "ekko.worker.id", "3");
        try (ChildJvm holder = ChildJvm.start(settings)) {
            assertTrue(holder.ready(), holder.firstLine());
            StateFileException e = assertThrows(StateFileException.class, this::open);
            assertEquals("state file is locked by another process (pid " + holder.pid() + "): another generator on this host uses the"
                    + " same idc and worker ID: " + file(), e.getMessage());
        }
    }

    @Test
    void generatorRefusesWhenTheStateFileIsDamaged() throws IOException {
        createClosedFile(1000);
        writeLong(StateFile.OFF_MAGIC, 0);
        StateFileException e = assertThrows(StateFileException.class,
                () -> Ekko.newBuilder().stateDirectory(dir).hostLockDirectory(dir.resolve("host-locks")).idc(1).workerId(3).build());
        assertTrue(e.getMessage().startsWith("state file is damaged or not an Ekko state file (bad magic number)"), e.getMessage());
        // The refused start released the worker ID and the file lock: a fixed file can be used at once.
        writeLong(StateFile.OFF_MAGIC, StateFile.MAGIC);
        try (IdGenerator g = Ekko.newBuilder().stateDirectory(dir).hostLockDirectory(dir.resolve("host-locks")).idc(1).workerId(3).build()) {
            assertEquals(3, g.workerId());
        }
    }

    // ---------------------------------------------------------------- found in review (each failed before its fix)

    @Test
    void twoFirstOpensRacingNeverBothHoldTheFile() throws Exception {
        for (int i = 0; i < 200; i++) {
            Path race = dir.resolve("race" + i);
            java.util.concurrent.CyclicBarrier barrier = new java.util.concurrent.CyclicBarrier(2);
            java.util.List<java.util.concurrent.CompletableFuture<StateFile>> opens = new java.util.ArrayList<>();
            for (int j = 0; j < 2; j++) {
                opens.add(java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                    try {
                        barrier.await();
                        return StateFile.open(race, layout, 0, 5);
                    } catch (StateFileException refused) {
                        return null;
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }, java.util.concurrent.Executors.newSingleThreadExecutor()));
            }
            java.util.List<StateFile> held = new java.util.ArrayList<>();
            for (var f : opens) {
                StateFile s = f.get();
                if (s != null) {
                    held.add(s);
                }
            }
            // both results are in before either is closed: two non-null ones held the file at the same time
            held.forEach(StateFile::close);
            assertEquals(1, held.size(), "race " + i);
        }
    }

    @Test
    void creatingAFileThatAnotherProcessJustCreatedKeepsTheirs() throws IOException {
        // The losing side of a first-start race between two processes: its check saw no file, then it creates one.
        createClosedFile(123_456);
        byte[] before = Files.readAllBytes(file());
        StateFile.create(dir, file(), layout, 1, 3);
        assertArrayEquals(before, Files.readAllBytes(file()), "the file was replaced, and with it its high-water mark");
        try (java.util.stream.Stream<Path> left = Files.list(dir)) {
            assertEquals(1, left.count(), "temporary file left behind");
        }
    }

    @Test
    void aNewFileIsLinkedIntoPlaceAndThenItsDirectoryIsForced() throws IOException {
        java.util.List<String> events = new java.util.ArrayList<>();
        StateFile.create(dir, file(), layout, 1, 3, d -> events.add("forced " + d + (Files.exists(file()) ? " after the link" : " before it")));
        assertEquals(java.util.List.of("forced " + dir + " after the link"), events);
        StateFile.forceDirectory(dir); // a real directory can be forced here (Linux): no failure to ignore
    }

    @Test
    void aRefusedSecondOpenInTheSameJvmKeepsTheHoldersLock() throws Exception {
        StateFile first = open();
        try {
            assertThrows(StateFileException.class, this::open);
            assertFalse(OtherProcess.canLock(file()), "the refused open dropped the holder's OS lock");
        } finally {
            first.close();
        }
        assertTrue(OtherProcess.canLock(file()));
    }

    @Test
    void hostLocalSkipsWorkerIdsThisJvmHoldsWithoutDroppingTheirLocks() throws Exception {
        dev.ekko.spi.AllocatorContext ctx = dev.ekko.spi.AllocatorContext.builder().workerIds(256)
                .setting("ekko.host.lock.dir", dir.resolve("host-local").toString()).build();
        HostLocalAllocator a = new HostLocalAllocator(ctx);
        HostLocalAllocator b = new HostLocalAllocator(ctx);
        try {
            assertEquals(0, a.acquire().workerId());
            assertEquals(1, b.acquire().workerId());
            assertFalse(OtherProcess.canLock(dir.resolve("host-local").resolve("idc0-worker0.lock")), "b's scan dropped a's lock");
        } finally {
            a.close();
            b.close();
        }
    }
}
