package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Asks another process whether it could take a file's OS lock now: proof that this JVM's lock is (or is not) still held. */
final class OtherProcess {

    private OtherProcess() {
    }

    /**
     * Runs python3's {@code lockf} (the same POSIX record locks as the JDK's) on the file in a child process.
     *
     * @return true if the child could lock the file, i.e. no other process holds it
     */
    static boolean canLock(Path file) throws Exception {
        Process p = new ProcessBuilder("python3", "-c", "import fcntl,sys\nf=open(sys.argv[1],'r+')\n"
                + "try:\n  fcntl.lockf(f, fcntl.LOCK_EX|fcntl.LOCK_NB); print('LOCKED')\nexcept OSError: print('BUSY')",
                file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        p.waitFor();
        assertTrue(out.equals("LOCKED") || out.equals("BUSY"), out);
        return out.equals("LOCKED");
    }
}
