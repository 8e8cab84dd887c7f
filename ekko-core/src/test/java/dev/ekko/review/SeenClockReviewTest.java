package dev.ekko.review;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.spi.SeenClock;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of {@link SeenClock}, the file in the state directory that remembers the highest write clock (Redis epoch, etcd
 * revision) the processes of a host saw: "Updates take a file lock and keep the highest value, so processes racing on the
 * file never lower it. The file is best effort: when it cannot be read or written the allocator goes on without it".
 */
class SeenClockReviewTest {

    private static final String COORDINATOR = "redis 127.0.0.1:6379/0 ns:{idc1}:";

    @TempDir
    Path tmp;

    /**
     * Claim (robustness): a corrupt seen file never lowers the recorded value below one actually seen.
     *
     * <p>Attack: the file's value is damaged while its incarnation is intact (here {@code "inc-1 12x"}; a torn or
     * scribbled write). Processes then see the clock at 50 and record it.
     *
     * <p>Observed: {@code saw} parses the old value before it rewrites, {@code Long.parseLong} throws, the exception is
     * logged at DEBUG and nothing is written. Every later {@code saw} does the same, so the file is never repaired and
     * {@code highest} answers -1 for good: the host's detection is silently off until someone deletes the file.
     */
    @Test
    void aDamagedValueIsNeverRepairedSoTheHostForgetsEverythingItSees() throws Exception {
        SeenClock clock = SeenClock.in(tmp, COORDINATOR);
        Files.createDirectories(tmp);
        Files.writeString(clock.file(), "inc-1 12x\n");
        clock.saw("inc-1", 50);
        clock.saw("inc-1", 60);
        assertEquals(60, clock.highest("inc-1"), "after seeing 50 and 60, the file holds \"" + Files.readString(clock.file()).strip()
                + "\"");
    }

    /** Control: damage that also hides the incarnation (or an empty file) is replaced at the next {@code saw}. */
    @Test
    void controlOtherDamageIsReplacedAndNothingThrows() throws Exception {
        SeenClock clock = SeenClock.in(tmp, COORDINATOR);
        Files.createDirectories(tmp);
        for (byte[] content : new byte[][] {new byte[0], "garbage".getBytes(StandardCharsets.UTF_8), new byte[] {(byte) 0xff, 0, ' ',
                (byte) 0xfe}, "inc-1 5\u0000\u0000".getBytes(StandardCharsets.UTF_8), new byte[10_000]}) {
            Files.write(clock.file(), content);
            assertDoesNotThrow(() -> clock.highest("inc-1"));
            clock.saw("inc-1", 70);
            assertEquals(70, clock.highest("inc-1"), Arrays.toString(Arrays.copyOf(content, Math.min(8, content.length))));
        }
    }

    /**
     * Claim (robustness): several allocators on one host sharing the state directory, "also in one JVM", never lower the
     * value, and a process holding the file's lock (frozen inside its own update) never blocks another for long.
     *
     * <p>Found by the review: two allocators of one JVM naming one directory in two spellings ({@code <dir>/state} and
     * {@code <dir>/./state}) were serialized by a map keyed by the path as written; the second one's lock then threw
     * {@code OverlappingFileLockException} (swallowed), dropped its 900, and the first one wrote 600 over it: the file ended
     * below what the host saw. Now one monitor per real directory serializes them, and a lock held elsewhere is waited for
     * at most 50 ms (the update is then skipped: detection weakens for a moment, the value never goes down).
     */
    @Test
    void twoSpellingsOfOneStateDirectoryInOneJvmNeverLowerTheValueAndALockHeldElsewhereBlocksNoOne() throws Exception {
        Path state = tmp.resolve("state");
        Files.createDirectories(state);
        SeenClock a = SeenClock.in(state, COORDINATOR);
        SeenClock b = SeenClock.in(tmp.resolve(".").resolve("state"), COORDINATOR);
        assertTrue(Files.isSameFile(state, tmp.resolve(".").resolve("state")));
        b.saw("inc-1", 500);
        assertEquals(500, a.highest("inc-1"), "one file, two spellings");
        Process child = holdLock(a.file());
        try {
            long t0 = System.nanoTime();
            a.saw("inc-1", 600);
            b.saw("inc-1", 900);
            long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertTrue(took < 2_000, "two updates while another process holds the lock took " + took + " ms");
        } finally {
            child.destroyForcibly().waitFor();
        }
        assertEquals(500, a.highest("inc-1"), "updates skipped while the lock was held elsewhere, the value not lowered");
        Thread first = new Thread(() -> a.saw("inc-1", 900), "first-allocator");
        Thread second = new Thread(() -> b.saw("inc-1", 600), "second-allocator");
        first.start();
        second.start();
        first.join(TimeUnit.SECONDS.toMillis(30));
        second.join(TimeUnit.SECONDS.toMillis(30));
        assertEquals(900, a.highest("inc-1"), "the file holds \"" + Files.readString(a.file()).strip() + "\"");
    }

    /** A child JVM holding an exclusive lock on the file, taken the way SeenClock takes it: another process inside saw(). */
    private Process holdLock(Path file) throws Exception {
        Path source = tmp.resolve("HoldLock.java");
        Files.writeString(source, "import java.nio.channels.FileChannel; import java.nio.file.*;\n"
                + "public class HoldLock { public static void main(String[] a) throws Exception {\n"
                + "  FileChannel ch = FileChannel.open(Path.of(a[0]), StandardOpenOption.READ, StandardOpenOption.WRITE);\n"
                + "  ch.lock(); System.out.println(\"locked\"); System.out.flush(); Thread.sleep(600_000); } }\n");
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), source.toString(),
                file.toString()).redirectErrorStream(true).start();
        BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
        String line = out.readLine();
        if (!"locked".equals(line)) {
            child.destroyForcibly().waitFor();
            throw new IllegalStateException("the lock holder did not start: " + line);
        }
        return child;
    }
}
