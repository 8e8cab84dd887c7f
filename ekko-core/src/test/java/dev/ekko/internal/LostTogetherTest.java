package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Layout;
import dev.ekko.LeaseLostException;
import dev.ekko.WorkerIdsExhaustedException;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testkit.TestClock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two generators on one host sharing a state directory lose their leases together, and the coordinator offers each the
 * worker ID the other held: each lost term still holds its state file's lock (so that a re-acquire of the same worker ID
 * continues on it), so each start fails on the other's lock. A start refused for a state file locked elsewhere must ask
 * for another worker ID at once (here: its own old one), not give it back and be offered the same one again at every
 * report interval (the chaos issue found such pairs stuck for 42-64 s).
 */
class LostTogetherTest {

    private static final Layout LAYOUT = Layout.defaults();

    @TempDir
    Path stateDir;

    /** Worker IDs shared by the scripted allocators: who holds which, and whether renewals find their lease gone. */
    private static final class Pool {
        final Set<Integer> held = new HashSet<>();
        volatile boolean lost;
    }

    /** Takes the first free worker ID of its preference list that is not avoided. */
    private static final class Scripted implements WorkerAllocator {
        final Pool pool;
        volatile List<Integer> preference;

        Scripted(Pool pool, List<Integer> preference) {
            this.pool = pool;
            this.preference = preference;
        }

        @Override
        public WorkerLease acquire(Set<Integer> avoid) {
            synchronized (pool) {
                for (int w : preference) {
                    if (!avoid.contains(w) && pool.held.add(w)) {
                        return new WorkerLease(w, "t" + w, Duration.ofSeconds(2), System.nanoTime(), Handover.mark(0), WorkerLease.UNKNOWN_TIME,
                                null);
                    }
                }
            }
            throw new WorkerIdsExhaustedException("all of " + preference + " held or avoided");
        }

        @Override
        public WorkerLease acquire() {
            return acquire(Set.of());
        }

        @Override
        public WorkerLease renew(WorkerLease lease, ClockReport report) {
            if (pool.lost) {
                synchronized (pool) {
                    pool.held.remove(lease.workerId());
                }
                throw new LeaseLostException("scripted: the coordinator lost worker " + lease.workerId());
            }
            return lease.renewed(System.nanoTime(), WorkerLease.UNKNOWN_TIME);
        }

        @Override
        public void release(WorkerLease lease, ClockReport finalReport) {
            synchronized (pool) {
                pool.held.remove(lease.workerId());
            }
        }

        @Override
        public void close() {
        }
    }

    private GeneratorSettings settings(String instance) {
        return new GeneratorSettings(LAYOUT, 1, 0, new TestClock(), stateDir, "scripted", Duration.ofSeconds(1), Duration.ZERO,
                Duration.ofSeconds(1), Duration.ofMillis(300), Duration.ofMillis(100), Duration.ofMillis(500), instance, "host", 1);
    }

    @Test
    void generatorsThatLoseTheirLeasesTogetherAndAreOfferedEachOthersWorkerIdsIssueAgainAtOnce() throws Exception {
        Pool pool = new Pool();
        Scripted forA = new Scripted(pool, List.of(5));
        Scripted forB = new Scripted(pool, List.of(6));
        try (EkkoGenerator a = EkkoGenerator.start(settings("a"), forA); EkkoGenerator b = EkkoGenerator.start(settings("b"), forB)) {
            a.next();
            b.next();
            forA.preference = List.of(6, 5);
            forB.preference = List.of(5, 6);
            pool.lost = true;
            waitUntilBothRefuse(a, b);
            pool.lost = false;
            long deadline = System.nanoTime() + Duration.ofSeconds(3).toNanos();
            boolean aIssues = false;
            boolean bIssues = false;
            while (!(aIssues && bIssues) && System.nanoTime() < deadline) {
                aIssues |= issues(a);
                bIssues |= issues(b);
                Thread.sleep(20);
            }
            assertTrue(aIssues && bIssues, "not issuing 3 s after the leases came back (report interval 300 ms): a " + aIssues + ", b "
                    + bIssues);
        }
    }

    private static void waitUntilBothRefuse(EkkoGenerator a, EkkoGenerator b) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (System.nanoTime() < deadline && (issues(a) || issues(b))) {
            Thread.sleep(20);
        }
    }

    private static boolean issues(EkkoGenerator g) {
        try {
            g.next();
            return true;
        } catch (LeaseLostException | WorkerIdsExhaustedException e) {
            return false;
        } catch (RuntimeException e) {
            return false;
        }
    }
}
