package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Ekko;
import dev.ekko.EkkoException;
import dev.ekko.IdGenerator;
import dev.ekko.LeaseLostException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testkit.ChildJvm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Worker IDs are distinct per host, not per state directory: host-local and manual both lock (IDC, worker ID) in
 * {@code ekko.host.lock.dir}, which every process on the host shares whatever its state directory.
 */
class HostWideLocksTest {

    @TempDir
    Path tmp;

    private Path locks() {
        return tmp.resolve("host-locks");
    }

    private Ekko.Builder builder(String stateDir) {
        return Ekko.newBuilder().stateDirectory(tmp.resolve(stateDir)).hostLockDirectory(locks());
    }

    private String inUseByThisProcess(int worker) {
        return "worker ID " + worker + " of idc=0 is in use by this process (pid " + ProcessHandle.current().pid() + ") on this host:"
                + " lock file " + locks().resolve("idc0-worker" + worker + ".lock") + ", in ekko.host.lock.dir=" + locks()
                + " (environment variable EKKO_HOST_LOCK_DIR). Each process on a host needs its own ekko.worker.id (environment"
                + " variable EKKO_WORKER_ID)";
    }

    @Test
    void hostLocalGivesDistinctWorkerIdsAcrossStateDirectories() {
        try (IdGenerator a = builder("state-a").build(); IdGenerator b = builder("state-b").build()) {
            assertNotEquals(a.workerId(), b.workerId());
        }
    }

    @Test
    void manualWorkerIdInASecondStateDirectoryIsRefusedWhileTheFirstLives() {
        IdGenerator first = builder("state-a").workerId(5).build();
        try {
            EkkoException e = assertThrows(EkkoException.class, () -> builder("state-b").workerId(5).build().close());
            assertEquals(inUseByThisProcess(5), e.getMessage());
        } finally {
            first.close();
        }
        try (IdGenerator second = builder("state-b").workerId(5).build()) {
            assertEquals(5, second.workerId());
        }
    }

    private Map<String, String> child(String stateDir, String... more) {
        Map<String, String> s = new java.util.HashMap<>(Map.of("ekko.state.dir", tmp.resolve(stateDir).toString(),
                "ekko.host.lock.dir", locks().toString()));
        for (int i = 0; i < more.length; i += 2) {
            s.put(more[i], more[i + 1]);
        }
        return s;
    }

    @Test
    void acrossProcessesHostLocalIsDistinctAndManualIsRefusedWhateverTheStateDirectory() throws Exception {
        try (ChildJvm a = ChildJvm.start(child("state-a", "ekko.worker.allocator", "host-local"));
                ChildJvm b = ChildJvm.start(child("state-b", "ekko.worker.allocator", "host-local"))) {
            assertTrue(a.ready(), a.firstLine());
            assertTrue(b.ready(), b.firstLine());
            assertNotEquals(a.workerId(), b.workerId());
        }
        try (ChildJvm first = ChildJvm.start(child("state-a", "ekko.worker.id", "7"))) {
            assertTrue(first.ready(), first.firstLine());
            try (ChildJvm second = ChildJvm.start(child("state-b", "ekko.worker.id", "7"))) {
                assertTrue(second.firstLine().startsWith("FAILED dev.ekko.EkkoException: worker ID 7 of idc=0 is in use by pid="
                        + first.pid() + " instance="), second.firstLine());
                assertTrue(second.firstLine().contains(locks().resolve("idc0-worker7.lock").toString()), second.firstLine());
            }
            first.closeCleanly();
        }
        try (ChildJvm third = ChildJvm.start(child("state-b", "ekko.worker.id", "7"))) {
            assertTrue(third.ready(), third.firstLine());
            assertEquals(7, third.workerId());
        }
    }

    private AllocatorContext context(int worker) {
        return AllocatorContext.builder().workerIds(256).preferredWorkerId(worker).instance("svc")
                .setting(ConfigKeys.HOST_LOCK_DIR, locks().toString()).build();
    }

    @Test
    void theDirectoryIsSharedLikeTmpAndLockFilesAreReadableAndWritableByAll() throws Exception {
        ManualAllocator m = new ManualAllocator(context(3));
        try {
            m.acquire();
            assertEquals(01777, ((Integer) Files.getAttribute(locks(), "unix:mode")) & 07777, "world-writable with the sticky bit");
            Path file = locks().resolve("idc0-worker3.lock");
            assertEquals("rw-rw-rw-", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
            // The holder line first (for other processes' messages), then the worker ID's history: no mark yet, no state dir set.
            assertEquals("pid=" + ProcessHandle.current().pid() + " instance=svc\nmark=\nstateDir=\n", Files.readString(file));
            try (var left = Files.list(locks())) {
                assertEquals(List.of(file), left.toList(), "no temporary file left behind");
            }
        } finally {
            m.close();
        }
    }

    @Test
    void aSymbolicLinkInPlaceOfALockFileIsNeitherFollowedNorWritten() throws Exception {
        Files.createDirectories(locks());
        Path precious = Files.writeString(tmp.resolve("precious"), "keep me");
        Files.createSymbolicLink(locks().resolve("idc0-worker4.lock"), precious);
        ManualAllocator m = new ManualAllocator(context(4));
        EkkoException e = assertThrows(EkkoException.class, m::acquire);
        assertTrue(e.getMessage().startsWith("cannot use the host lock file " + locks().resolve("idc0-worker4.lock") + " of idc=0 worker=4"
                + " (ekko.host.lock.dir=" + locks() + " (environment variable EKKO_HOST_LOCK_DIR)): "), e.getMessage());
        assertEquals("keep me", Files.readString(precious));
        m.close();
    }

    @Test
    void aLockFileRemovedWhileHeldLosesTheLease() throws Exception {
        ManualAllocator m = new ManualAllocator(context(6));
        try {
            WorkerLease lease = m.acquire();
            ClockReport report = new ClockReport(System.currentTimeMillis(), System.currentTimeMillis(), "h", 1, "svc");
            m.renew(lease, report);
            Files.delete(locks().resolve("idc0-worker6.lock"));
            LeaseLostException e = assertThrows(LeaseLostException.class, () -> m.renew(lease, report));
            assertTrue(e.getMessage().startsWith("host lock file " + locks().resolve("idc0-worker6.lock") + " of idc=0 worker=6 was removed"
                    + " while held"), e.getMessage());
            // the worker ID can be locked again (a new file), as the generator's re-acquire does
            assertEquals(6, m.acquire().workerId());
        } finally {
            m.close();
        }
    }

    @Test
    void aGeneratorOnHostLocalLogsTheNoteOnceBeforeItsStartLineEvenWhenClosedAtOnce() {
        List<String> logged;
        try (LogCapture log = LogCapture.of("dev.ekko", java.util.logging.Level.INFO)) {
            // Closed at once: the keeper may not have run the start line yet, so close() logs it.
            try (IdGenerator g = builder("state").build()) {
                g.next();
            }
            logged = log.messages();
        }
        List<String> lines = logged.stream().filter(m -> m.contains("unique on this host only") || m.startsWith("started:")).toList();
        assertEquals(2, lines.size(), lines.toString());
        assertTrue(lines.get(0).contains("unique on this host only"), lines.toString());
        assertTrue(lines.get(1).startsWith("started: idc=0 worker=0 allocator=host-local"), lines.toString());
    }

    @Test
    void hostLocalSaysItsWorkerIdsAreUniqueOnThisHostOnly() {
        List<String> logged = new ArrayList<>();
        // The CLI, run in-process by MainTest, may have raised dev.ekko's level: the capture sets INFO and puts it back.
        try (LogCapture log = LogCapture.of("dev.ekko", java.util.logging.Level.INFO)) {
            HostLocalAllocator a = new HostLocalAllocator(context(-1));
            try {
                a.acquire();
                assertEquals(List.of(), log.messages().stream().filter(m -> m.contains("host-local")).toList(), "an acquire logs"
                        + " nothing: the generator has the note logged with its start line, on its keeper thread");
                a.announce();
                a.acquire();
                a.announce();
            } finally {
                a.close();
            }
            log.records().forEach(r -> logged.add(r.getLevel() + " " + r.getMessage()));
        }
        List<String> notes = logged.stream().filter(m -> m.contains("host-local")).toList();
        assertEquals(List.of("INFO worker IDs from host-local are unique on this host only (among processes sharing ekko.host.lock.dir="
                + locks() + " (environment variable EKKO_HOST_LOCK_DIR)): another host, VM or container with its own lock directory can"
                + " get the same worker ID and issue the same IDs; where IDs from several of them meet, use a coordinator (redis, mysql,"
                + " etcd) or distinct manual worker IDs"), notes, "once");
    }

    @Test
    void theFormerPerStateDirectoryKeyIsRefusedWithAPointerToTheHostWideOne() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> builder("state").setting("ekko.hostlocal.dir", "/x").build().close());
        assertEquals("no longer supported: ekko.hostlocal.dir=/x; host-local now locks worker IDs in the host-wide ekko.host.lock.dir"
                + " (environment variable EKKO_HOST_LOCK_DIR), shared by every process on this host whatever its state directory: remove"
                + " ekko.hostlocal.dir, and set ekko.host.lock.dir only if the default does not suit", e.getMessage());
    }
}
