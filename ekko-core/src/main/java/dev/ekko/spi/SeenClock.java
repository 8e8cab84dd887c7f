package dev.ekko.spi;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;

/**
 * What the processes of this host have seen of a coordinator's write clock (a counter every renewal raises, such as Redis's
 * epoch key or etcd's revision), kept in a small file in the state directory that every process of the host shares.
 *
 * <p>It lets an acquirer notice that the coordinator's data went back in time (a backup restored in place while holders were
 * live) before any of those holders renews: if a process of this host saw the clock at a value the data is now below, every
 * mark in the data may be older than what was issued since, and the acquirer must treat them as lower bounds. A host that
 * never saw the coordinator, or saw only values at or below the data's, learns nothing from it.
 *
 * <p>Values are compared only within one incarnation of the coordinator's data (for the back ends here, its generation: a
 * random token written when the namespace is first used, again after its data was lost, and by a holder or a command after
 * it went back); a value of a new incarnation replaces the old one. Updates take a file lock (waiting at most 50 ms for
 * another process's) and keep the highest value, so processes racing on the file never lower it. The file is best effort:
 * when it cannot be read, locked or written the allocator goes on without it (logged at DEBUG), as it did before it
 * existed; a damaged file is replaced at the next update.
 */
public final class SeenClock {

    private static final System.Logger LOG = System.getLogger(SeenClock.class.getName());
    private static final int MAX_BYTES = 4096;
    /** How long an update or a read waits for another process's lock on the file before it does without. */
    private static final long LOCK_WAIT_NANOS = 50_000_000L;

    /** FileLock is per JVM, not per thread: allocators of one JVM sharing a file take turns through this first. */
    private static final ConcurrentHashMap<Path, Object> IN_PROCESS = new ConcurrentHashMap<>();

    private final Path file;

    private SeenClock(Path file) {
        this.file = file;
    }

    /**
     * What a host recorded: the highest value of the clock it saw under one incarnation of the data.
     *
     * @param incarnation the incarnation the value belongs to
     * @param value the value
     */
    public record Seen(String incarnation, long value) {
    }

    /**
     * The memory of one coordinator's data in a state directory.
     *
     * @param stateDir the host's state directory ({@code ekko.state.dir}, which the allocator gets among its settings); it
     *     is never created here (the core creates it, with its own permissions): until it exists nothing is recorded
     * @param coordinator what names the data: back end, namespace and IDC; not the server's address, which one host may
     *     spell several ways (two coordinators that share a name never compare values: their incarnations differ). Only a
     *     hash of it names the file
     * @return the memory
     */
    public static SeenClock in(Path stateDir, String coordinator) {
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(coordinator.getBytes(StandardCharsets.UTF_8));
            return new SeenClock(stateDir.resolve("seen-" + HexFormat.of().formatHex(hash, 0, 8) + ".clock"));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every Java platform", e);
        }
    }

    /** {@return the file this memory lives in} */
    public Path file() {
        return file;
    }

    /**
     * Records that this host saw the clock at {@code value} under {@code incarnation}: kept if higher than what is recorded
     * for that incarnation, or if the recorded one is another incarnation, or unreadable.
     *
     * @param incarnation the incarnation of the coordinator's data the value belongs to (no spaces or line breaks)
     * @param value the clock's value
     */
    public void saw(String incarnation, long value) {
        Path dir = file.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            return;
        }
        synchronized (monitor(dir)) {
            try (FileChannel ch = open(file)) {
                FileLock lock = lock(ch, false);
                if (lock == null) {
                    LOG.log(Level.DEBUG, () -> "did not record the coordinator's write clock in " + file + ": another process holds"
                            + " its lock");
                    return;
                }
                Seen recorded = read(ch);
                if (recorded != null && recorded.incarnation().equals(incarnation) && recorded.value() >= value) {
                    return;
                }
                byte[] text = (incarnation + " " + value + "\n").getBytes(StandardCharsets.UTF_8);
                ch.truncate(0);
                ch.write(ByteBuffer.wrap(text), 0);
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.DEBUG, () -> "could not record the coordinator's write clock in " + file + ": " + e);
            }
        }
    }

    /**
     * What this host recorded, read before a request to the coordinator, so that a value another process records while the
     * request is in flight (seen after it) is not compared with the reply.
     *
     * @return the record, or null if there is none or it cannot be read
     */
    public Seen last() {
        Path dir = file.getParent();
        if (dir == null || !Files.exists(file)) {
            return null;
        }
        synchronized (monitor(dir)) {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                return lock(ch, true) == null ? null : read(ch);
            } catch (IOException | RuntimeException e) {
                LOG.log(Level.DEBUG, () -> "could not read the coordinator's write clock from " + file + ": " + e);
                return null;
            }
        }
    }

    /**
     * Whether the data went back: a value read from the coordinator under {@code incarnation} is below what this host had
     * recorded under the same incarnation before the request was sent.
     *
     * @param before {@link #last()} as read before the request, or null
     * @param incarnation the incarnation the reply carries
     * @param value the clock's value in the reply
     * @return true if {@code before} is of that incarnation and higher than {@code value}
     */
    public static boolean wentBack(Seen before, String incarnation, long value) {
        return before != null && before.incarnation().equals(incarnation) && before.value() > value;
    }

    /**
     * The highest value of the clock this host saw under {@code incarnation}.
     *
     * @param incarnation the incarnation of the coordinator's data
     * @return the value, or -1 if none was recorded for that incarnation (or the file cannot be read)
     */
    public long highest(String incarnation) {
        Seen seen = last();
        return seen != null && seen.incarnation().equals(incarnation) ? seen.value() : -1;
    }

    /** One monitor per directory as the file system names it, however the path to it is spelt. */
    private static Object monitor(Path dir) {
        Path key;
        try {
            key = dir.toRealPath();
        } catch (IOException e) {
            key = dir.toAbsolutePath().normalize();
        }
        return IN_PROCESS.computeIfAbsent(key, k -> new Object());
    }

    /** Opens the file for update, creating it readable by its owner only where the file system has POSIX permissions. */
    private static FileChannel open(Path file) throws IOException {
        java.util.Set<StandardOpenOption> options = java.util.EnumSet.of(StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE);
        try {
            return FileChannel.open(file, options, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        } catch (UnsupportedOperationException e) {
            return FileChannel.open(file, options);
        }
    }

    /** The file's lock (released when the channel closes), waiting at most {@link #LOCK_WAIT_NANOS}; null if not had. */
    private static FileLock lock(FileChannel ch, boolean shared) throws IOException {
        long deadline = System.nanoTime() + LOCK_WAIT_NANOS;
        while (true) {
            FileLock lock = ch.tryLock(0, Long.MAX_VALUE, shared);
            if (lock != null) {
                return lock;
            }
            if (System.nanoTime() - deadline > 0) {
                return null;
            }
            LockSupport.parkNanos(5_000_000L);
        }
    }

    private static Seen read(FileChannel ch) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(MAX_BYTES);
        while (buf.hasRemaining() && ch.read(buf, buf.position()) > 0) {
            // read it all
        }
        String text = new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8).trim();
        int space = text.lastIndexOf(' ');
        if (space <= 0) {
            return null;
        }
        try {
            return new Seen(text.substring(0, space), Long.parseLong(text.substring(space + 1)));
        } catch (NumberFormatException e) {
            return null; // damaged: as if absent, and the next update replaces it
        }
    }
}
