package dev.ekko.internal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.LinkOption;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * The files this JVM holds an OS lock on, keyed by the file's identity (device and inode), not by its path.
 *
 * <p>An OS (POSIX) lock belongs to the process, and closing <em>any</em> descriptor of the file drops it. So a
 * second user in the same JVM must be refused before it opens the file at all, never by trying the lock and
 * closing its channel; and it must be recognised whatever path it comes through: a symbolic link, a hard link
 * or a bind mount names the same file under another path.
 *
 * <p>{@link #tryLock} reads the identity from the path, claims it, and only then opens the file. The path can
 * change between the two (a rename over it): the JDK then refuses the lock with
 * {@link OverlappingFileLockException} if the channel's file is one this JVM holds, and that channel is kept
 * open for the life of the JVM rather than closed (closing it would drop the holder's lock); if the lock is
 * taken, the identity is read from the path again and the attempt is repeated when it changed.
 */
final class JvmFileLocks {

    /** Identity of a held file to the path its holder opened it by. */
    private static final Map<Object, Path> HELD = new ConcurrentHashMap<>();

    /** Channels that must never be closed: each may be open on a file another user in this JVM holds locked. */
    private static final List<FileChannel> QUARANTINED = new CopyOnWriteArrayList<>();

    private static final int ATTEMPTS = 5;

    private JvmFileLocks() {
    }

    /** What {@link #tryLock} found. */
    enum Outcome {
        /** This call holds the lock now. */
        LOCKED,
        /** Another user in this JVM holds the file (possibly through another path). */
        HELD_IN_THIS_JVM,
        /** Another process holds the lock. */
        HELD_BY_ANOTHER_PROCESS
    }

    /**
     * The result of {@link #tryLock}.
     *
     * @param outcome what happened
     * @param channel {@code LOCKED}: the open channel holding the lock; otherwise null
     * @param lock {@code LOCKED}: the lock; otherwise null
     * @param key {@code LOCKED}: the file's identity, for {@link #release(Object)} and {@link #key(Path, boolean)}
     *     comparisons; otherwise null
     * @param holder {@code HELD_IN_THIS_JVM}: the path the holder opened the file by (null if it was not known at the
     *     time); {@code HELD_BY_ANOTHER_PROCESS}: what {@code describeHolder} read from the file
     */
    record Attempt(Outcome outcome, FileChannel channel, FileLock lock, Object key, String holder) {
    }

    /**
     * The file's identity: {@link BasicFileAttributes#fileKey()} (device and inode on Unix), or its real path on
     * platforms without file keys.
     *
     * @param file an existing file
     * @param noFollow true to take the identity of a symbolic link itself rather than of its target
     * @throws java.nio.file.NoSuchFileException if there is no file at the path
     */
    static Object key(Path file, boolean noFollow) throws IOException {
        LinkOption[] options = noFollow ? new LinkOption[] {LinkOption.NOFOLLOW_LINKS} : new LinkOption[0];
        Object key = Files.readAttributes(file, BasicFileAttributes.class, options).fileKey();
        return key != null ? key : file.toRealPath(options);
    }

    /**
     * Locks an existing file exclusively without ever closing a channel of a file this JVM holds.
     *
     * @param file the file; it must exist
     * @param noFollow true to refuse a symbolic link as the last path element (for files in a directory others
     *     can write to)
     * @param describeHolder reads who holds the file from a channel of it, for a refusal message
     * @return the attempt; when {@code LOCKED}, the caller owns the channel and must give it back with {@link #unlock}
     * @throws java.nio.file.NoSuchFileException if the file does not exist
     * @throws IOException if the file cannot be opened, or keeps being replaced while this tries to lock it
     */
    static Attempt tryLock(Path file, boolean noFollow, Function<FileChannel, String> describeHolder) throws IOException {
        OpenOption[] options = noFollow
                ? new OpenOption[] {StandardOpenOption.READ, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS}
                : new OpenOption[] {StandardOpenOption.READ, StandardOpenOption.WRITE};
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            Object key = key(file, noFollow);
            Path holder = HELD.putIfAbsent(key, file);
            if (holder != null) {
                return new Attempt(Outcome.HELD_IN_THIS_JVM, null, null, null, holder.toString());
            }
            FileChannel channel = null;
            boolean keepChannel = false;
            boolean keepClaim = false;
            try {
                channel = FileChannel.open(file, options);
                FileLock lock;
                try {
                    lock = channel.tryLock();
                } catch (OverlappingFileLockException e) {
                    // The path was switched to a file this JVM holds after its identity was read: closing this
                    // channel would drop that holder's lock, so it stays open.
                    QUARANTINED.add(channel);
                    keepChannel = true;
                    return new Attempt(Outcome.HELD_IN_THIS_JVM, null, null, null, null);
                }
                if (lock == null) {
                    // No lock of this JVM is on the channel's file (that would have been an overlap): closing is safe.
                    return new Attempt(Outcome.HELD_BY_ANOTHER_PROCESS, null, null, null, describeHolder.apply(channel));
                }
                if (!key.equals(key(file, noFollow))) {
                    // Replaced between reading the identity and opening: this lock may be on a file no longer at the
                    // path. Let go of it and try the file that is there now.
                    lock.release();
                    continue;
                }
                keepChannel = true;
                keepClaim = true;
                return new Attempt(Outcome.LOCKED, channel, lock, key, null);
            } finally {
                if (!keepChannel) {
                    closeQuietly(channel);
                }
                if (!keepClaim) {
                    HELD.remove(key, file);
                }
            }
        }
        throw new IOException("the file was replaced " + ATTEMPTS + " times while locking it: " + file);
    }

    /**
     * Releases a lock taken by {@link #tryLock}, closes its channel, and gives up the claim. Idempotent.
     *
     * @param attempt a {@code LOCKED} attempt
     */
    static void unlock(Attempt attempt) {
        Objects.requireNonNull(attempt.channel(), "not a LOCKED attempt");
        try {
            attempt.lock().release();
        } catch (IOException ignored) {
            // closing the channel releases it too
        }
        closeQuietly(attempt.channel());
        release(attempt.key());
    }

    /** Gives up a claim; call after the lock is released and the channel closed. */
    static void release(Object key) {
        HELD.remove(key);
    }

    /** {@return how many channels were kept open because closing them could have dropped a lock; for tests} */
    static int quarantined() {
        return QUARANTINED.size();
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // nothing more to do: the caller reports the failure that brought it here
            }
        }
    }
}
