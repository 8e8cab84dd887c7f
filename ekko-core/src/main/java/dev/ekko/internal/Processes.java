package dev.ekko.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

/**
 * This process's ID and throwaway random names, without the JDK's costlier routes at a cold start:
 * {@code ProcessHandle.current()} starts the process-reaper machinery (about 5 ms of class loading and lambdas), and
 * {@code UUID.randomUUID()} initialises {@code SecureRandom}'s providers. Neither is needed here: the pid is read from
 * {@code /proc/self} where there is one, and the random names are lease tokens of the core's local allocators and temporary
 * file names, which must be unlikely to collide, not unpredictable.
 */
public final class Processes {

    private static volatile long pid = -1;

    private Processes() {
    }

    /** {@return this process's ID} */
    public static long pid() {
        long p = pid;
        if (p < 0) {
            pid = p = readPid();
        }
        return p;
    }

    private static long readPid() {
        Path self = Path.of("/proc/self");
        if (Files.isSymbolicLink(self)) {
            try {
                String target = Files.readSymbolicLink(self).toString();
                if (isDecimal(target)) {
                    return Long.parseLong(target);
                }
            } catch (IOException | RuntimeException e) {
                // fall through to the portable route
            }
        }
        return ProcessHandle.current().pid();
    }

    private static boolean isDecimal(String s) {
        if (s.isEmpty() || s.length() > 18) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
        }
        return true;
    }

    /** {@return 32 random hexadecimal digits, not for secrets} */
    public static String randomHex() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        return hex16(r.nextLong()) + hex16(r.nextLong());
    }

    private static String hex16(long v) {
        String h = Long.toHexString(v);
        return "0000000000000000".substring(h.length()) + h;
    }
}
