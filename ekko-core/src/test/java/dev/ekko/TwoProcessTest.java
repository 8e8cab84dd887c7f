package dev.ekko;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.testkit.ChildJvm;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two JVMs on one host: a worker ID typed twice is refused; host-local hands out distinct worker IDs. */
class TwoProcessTest {

    @TempDir
    Path stateDir;

    /** Its own host lock directory, so worker IDs do not contend with other tests or test runs on this host. */
    @TempDir
    Path hostLocks;

    @Test
    void secondProcessWithTheSameManualWorkerIdIsRefused() throws Exception {
        Map<String, String> s = Map.of("ekko.state.dir", stateDir.toString(), "ekko.host.lock.dir", hostLocks.toString(), "ekko.worker.id", "9");
        try (ChildJvm first = ChildJvm.start(s); ChildJvm second = ChildJvm.start(s)) {
            assertTrue(first.ready(), first.firstLine());
            // refused by the host-wide lock of worker 9, before the state file
            String prefix = "FAILED dev.ekko.EkkoException: worker ID 9 of idc=0 is in use by pid=" + first.pid() + " instance=";
            String suffix = " on this host: lock file " + hostLocks.resolve("idc0-worker9.lock") + ", in ekko.host.lock.dir=" + hostLocks
                    + " (environment variable EKKO_HOST_LOCK_DIR). Each process on a host needs its own ekko.worker.id (environment"
                    + " variable EKKO_WORKER_ID)";
            assertTrue(second.firstLine().startsWith(prefix) && second.firstLine().endsWith(suffix), second.firstLine());
        }
    }

    @Test
    void hostLocalGivesEachProcessItsOwnWorkerIdAndTheirIdsNeverCollide() throws Exception {
        Map<String, String> s = Map.of("ekko.state.dir", stateDir.toString(), "ekko.host.lock.dir", hostLocks.toString(), "ekko.worker.allocator", "host-local");
        try (ChildJvm a = ChildJvm.start(s); ChildJvm b = ChildJvm.start(s)) {
            assertTrue(a.ready(), a.firstLine());
            assertTrue(b.ready(), b.firstLine());
            assertNotEquals(a.workerId(), b.workerId());
            long[] ia = a.next(50_000);
            long[] ib = b.next(50_000);
            long[] all = new long[ia.length + ib.length];
            System.arraycopy(ia, 0, all, 0, ia.length);
            System.arraycopy(ib, 0, all, ia.length, ib.length);
            Arrays.sort(all);
            for (int i = 1; i < all.length; i++) {
                assertNotEquals(all[i - 1], all[i], "duplicate ID " + Long.toUnsignedString(all[i]));
            }
            Layout layout = Layout.defaults();
            assertEquals(a.workerId(), layout.decode(ia[0]).worker());
            assertEquals(b.workerId(), layout.decode(ib[0]).worker());
        }
    }

    @Test
    void restartAfterSigkillIssuesPastEveryIdOfTheKilledProcess() throws Exception {
        Map<String, String> s = Map.of("ekko.state.dir", stateDir.toString(), "ekko.host.lock.dir", hostLocks.toString(), "ekko.worker.id", "4");
        long last;
        try (ChildJvm first = ChildJvm.start(s)) {
            assertTrue(first.ready(), first.firstLine());
            long[] ids = first.next(20_000);
            last = ids[ids.length - 1];
            first.kill();
        }
        try (ChildJvm second = ChildJvm.start(s)) {
            assertTrue(second.ready(), second.firstLine());
            long next = second.next(1)[0];
            assertTrue(Layout.compare(next, last) > 0, Long.toUnsignedString(next) + " <= " + Long.toUnsignedString(last));
            assertFalse(next == last);
        }
    }
}
