package dev.ekko.review;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import dev.ekko.testkit.TestClock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of #8: the host-wide lock makes a worker ID exclusive on a host "whatever its state directory", but the
 * history that keeps a later holder past an earlier one's IDs (the state file) is still per state directory. Two
 * services on one host with their own state directories (the case issue #8 item 6 names: two users, two services)
 * take the same worker ID one after the other from {@code host-local} (it scans from 0) or {@code manual}, and the
 * second one starts with no history at all: only its own, empty, state file. Whatever the first one issued ahead of
 * the clock (bounded lead), or in a millisecond the clock comes back to (a restart in the same millisecond, a clock set
 * back), is issued again.
 */
class HostLocalStateDirectoryReviewTest {

    private static final Layout LAYOUT = Layout.defaults();

    @TempDir
    Path tmp;

    private final TestClock clock = new TestClock();

    private Ekko.Builder service(String stateDir) {
        return Ekko.newBuilder().clock(clock).stateDirectory(tmp.resolve(stateDir)).hostLockDirectory(tmp.resolve("host-locks"));
    }

    private static void assertNoneRepeated(Set<Long> earlier, long[] later, String what) {
        for (long id : later) {
            if (earlier.contains(id)) {
                fail(what + ": ID " + Long.toUnsignedString(id) + " (" + LAYOUT.decode(id) + ") was issued twice");
            }
        }
    }

    private static Set<Long> setOf(long[] ids) {
        Set<Long> s = new HashSet<>();
        for (long id : ids) {
            s.add(id);
        }
        return s;
    }

    /** Bounded lead: service A ran 200 ms ahead of the clock and stopped cleanly; service B takes its worker ID at once. */
    @Test
    void hostLocalInAnotherStateDirectoryDoesNotRepeatBoundedLeadIds() {
        clock.freeze();
        long[] first = new long[1024 * 200];
        int worker;
        try (IdGenerator a = service("state-a").maxLead(Duration.ofSeconds(5)).build()) {
            worker = a.workerId();
            a.next(first, 0, first.length);
        }
        long[] second = new long[1024 * 10];
        try (IdGenerator b = service("state-b").maxLead(Duration.ofSeconds(5)).build()) {
            assertEquals(worker, b.workerId(), "host-local gave the second service the same (now free) worker ID");
            b.next(second, 0, second.length);
        }
        assertNoneRepeated(setOf(first), second, "host-local, bounded lead, two state directories one after the other");
    }

    /** Real-time mode: a restart inside the same millisecond (README: "a new start issues only past it"), another state directory. */
    @Test
    void hostLocalInAnotherStateDirectoryDoesNotRepeatIdsOfTheSameMillisecond() {
        clock.freeze();
        long[] first = new long[500];
        try (IdGenerator a = service("state-a").build()) {
            a.next(first, 0, first.length);
        }
        long[] second = new long[500];
        // With the clock frozen in A's last millisecond, B must wait for the clock to pass A's mark, not issue at once.
        java.util.concurrent.CompletableFuture<IdGenerator> started =
                java.util.concurrent.CompletableFuture.supplyAsync(() -> service("state-b").build());
        try {
            IdGenerator early = started.get(300, java.util.concurrent.TimeUnit.MILLISECONDS);
            early.next(second, 0, second.length);
            early.close();
        } catch (java.util.concurrent.TimeoutException waiting) {
            clock.unfreeze();
            try (IdGenerator b = started.join()) {
                b.next(second, 0, second.length);
            }
        } catch (InterruptedException | java.util.concurrent.ExecutionException e) {
            throw new AssertionError(e);
        }
        assertNoneRepeated(setOf(first), second, "host-local, two state directories, restart in the same millisecond");
    }

    /** Manual, same worker ID, another state directory, and the host clock set back (NTP) to where A started, well under a second. */
    @Test
    void manualWorkerIdInAnotherStateDirectoryDoesNotRepeatIdsAfterAClockStepBack() throws Exception {
        Set<Long> first = new HashSet<>();
        long started;
        try (IdGenerator a = service("state-a").workerId(9).build()) {
            started = clock.millis();
            long end = System.nanoTime() + Duration.ofMillis(300).toNanos();
            while (System.nanoTime() < end) {
                first.add(a.next());
            }
        }
        long back = clock.millis() - started;
        assertEquals(true, back < 1000, "test set-up: the step back should be under ekko.clock.max.backward.wait: " + back);
        clock.stepMillis(-back); // a restart on the same state directory would wait this out (max backward wait 1 s)
        long[] second;
        try (IdGenerator b = service("state-b").workerId(9).build()) {
            java.util.List<Long> got = new java.util.ArrayList<>();
            long end = System.nanoTime() + Duration.ofMillis(300).toNanos();
            while (System.nanoTime() < end) {
                got.add(b.next());
            }
            second = got.stream().mapToLong(Long::longValue).toArray();
        }
        assertNoneRepeated(first, second, "manual worker 9, two state directories, clock set back " + back + " ms between them");
    }
}
