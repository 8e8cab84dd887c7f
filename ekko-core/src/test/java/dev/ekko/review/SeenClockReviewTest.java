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
     * Claim (robustness): several allocators on one host sharing the state directory, "also in one JVM", never lose an
     * update; processes racing on the file never lower it.
     *
     * <p>Attack: two allocators of one JVM name the same state directory in two spellings ({@code <dir>/state} and
     * {@code <dir>/./state}; a symlink does the same). SeenClock serializes the allocators of a JVM through a map keyed by
     * {@code file.toAbsolutePath()}, which is neither normalized nor the file's identity (the core's JvmFileLocks keys by
     * device + inode for exactly this reason). While the first one waits for the file lock (another process of the host is
     * inside its own {@code saw}: a child JVM here, so the interleaving is forced, not raced), the second one records 900 and
     * reads the value back.
     *
     * <p>Observed: the second one's {@code FileChannel.lock()} throws {@code OverlappingFileLockException} (the JVM's lock
     * table already holds the first one's pending lock), which is caught and logged at DEBUG: its 900 is dropped and its read
     * answers -1 (an acquire would skip the check). When the first one gets the lock it writes its own 600 over the 500
     * recorded: the file ends below the 900 this host saw.
     */
    @Test
    void twoSpellingsOfOneStateDirectoryInOneJvmLoseAnUpdateAndLowerTheValue() throws Exception {
        Path state = tmp.resolve("state");
        Files.createDirectories(state);
        SeenClock a = SeenClock.in(state, COORDINATOR);
        SeenClock b = SeenClock.in(tmp.resolve(".").resolve("state"), COORDINATOR);
        assertTrue(Files.isSameFile(state, tmp.resolve(".").resolve("state")));
        b.saw("inc-1", 500);
        assertEquals(500, a.highest("inc-1"), "one file, two spellings");

        Process child = holdLock(a.file());
        Thread first = new Thread(() -> a.saw("inc-1", 600), "first-allocator");
        long readBack;
        try {
            first.start();
            awaitBlockedInLock(first);
            b.saw("inc-1", 900);
            readBack = b.highest("inc-1");
        } finally {
            child.destroyForcibly().waitFor();
        }
        first.join(TimeUnit.SECONDS.toMillis(30));
        assertEquals(900, a.highest("inc-1"), "this host saw 900 (the second allocator's read meanwhile answered " + readBack
                + "); the file holds \"" + Files.readString(a.file()).strip() + "\"");
    }

    /** Control: one spelling, the same forced interleaving: the in-JVM monitor serializes them and nothing is lost. */
    @Test
    void controlOneSpellingKeepsTheHighest() throws Exception {
        Path state = tmp.resolve("state");
        Files.createDirectories(state);
        SeenClock a = SeenClock.in(state, COORDINATOR);
        SeenClock b = SeenClock.in(state, COORDINATOR);
        b.saw("inc-1", 500);
        Process child = holdLock(a.file());
        Thread first = new Thread(() -> a.saw("inc-1", 600), "first-allocator");
        Thread second = new Thread(() -> b.saw("inc-1", 900), "second-allocator");
        try {
            first.start();
            awaitBlockedInLock(first);
            second.start();
            Thread.sleep(200);
        } finally {
            child.destroyForcibly().waitFor();
        }
        first.join(TimeUnit.SECONDS.toMillis(30));
        second.join(TimeUnit.SECONDS.toMillis(30));
        assertEquals(900, a.highest("inc-1"));
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

    /** Waits (bounded) until the thread is inside the blocking native lock call, its lock registered in the JVM's table. */
    private static void awaitBlockedInLock(Thread t) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            for (StackTraceElement e : t.getStackTrace()) {
                if (e.getMethodName().equals("lock0") || (e.getClassName().endsWith("FileDispatcherImpl") && e.getMethodName()
                        .equals("lock"))) {
                    Thread.sleep(100); // it is in the native call (the table was updated before it)
                    return;
                }
            }
            Thread.sleep(10);
        }
        throw new IllegalStateException("the thread never reached FileChannel.lock: " + Arrays.toString(t.getStackTrace()));
    }
}
