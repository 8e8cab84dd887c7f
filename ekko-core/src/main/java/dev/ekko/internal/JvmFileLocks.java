package dev.ekko.internal;

import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The files this JVM holds an OS lock on. An OS (POSIX) lock belongs to the process, and closing
 * <em>any</em> descriptor of the file drops it: so a second user in the same JVM must be refused before it
 * opens the file at all, never by trying the lock and closing its channel.
 */
final class JvmFileLocks {

    private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

    private JvmFileLocks() {
    }

    /** @return true if this JVM did not hold {@code file} and now does; false if it already did */
    static boolean claim(Path file) {
        return HELD.add(key(file));
    }

    /** Gives up the claim; call after the lock is released and the channel closed. */
    static void release(Path file) {
        HELD.remove(key(file));
    }

    private static Path key(Path file) {
        return file.toAbsolutePath().normalize();
    }
}
