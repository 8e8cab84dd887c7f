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

/**
 * What the processes of this host have seen of a coordinator's write clock (a counter every renewal raises, such as Redis's
 * epoch key or etcd's revision), kept in a small file in the state directory that every process of the host shares.
 *
 * <p>It lets an acquirer notice that the coordinator's data went back in time (a backup restored in place while holders were
 * live) before any of those holders renews: if a process of this host saw the clock at a value the data is now below, every
 * mark in the data may be older than what was issued since, and the acquirer must treat them as lower bounds. A host that
 * never saw the coordinator, or saw only values at or below the data's, learns nothing from it.
 *
 * <p>Values are compared only within one incarnation of the coordinator's data (a server restart, a failover or a new
 * generation starts another, whose clock may start lower); a value of a new incarnation replaces the old one. Updates take a
 * file lock and keep the highest value, so processes racing on the file never lower it. The file is best effort: when it
 * cannot be read or written the allocator goes on without it (logged at DEBUG), as it did before it existed.
 */
public final class SeenClock {

    private static final System.Logger LOG = System.getLogger(SeenClock.class.getName());
    private static final int MAX_BYTES = 4096;

    /** FileLock is per JVM, not per thread: allocators of one JVM sharing a file take turns through this first. */
    private static final java.util.concurrent.ConcurrentHashMap<Path, Object> IN_PROCESS = new java.util.concurrent.ConcurrentHashMap<>();

    private final Path file;

    private SeenClock(Path file) {
        this.file = file;
    }

    /**
     * The memory of one coordinator in a state directory.
     *
     * @param stateDir the host's state directory ({@code ekko.state.dir}, which the allocator gets among its settings)
     * @param coordinator what identifies the coordinator's data: back end, address, database, namespace and IDC; only a
     *     hash of it names the file, so it may hold anything but a secret is still better left out
     * @return the memory; nothing is created until the first {@link #saw(String, long)}
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
     * for that incarnation, or if the recorded one is another incarnation.
     *
     * @param incarnation the incarnation of the coordinator's data the value belongs to (no spaces or line breaks)
     * @param value the clock's value
     */
    public void saw(String incarnation, long value) {
        synchronized (IN_PROCESS.computeIfAbsent(file.toAbsolutePath(), k -> new Object())) {
            sawLocked(incarnation, value);
        }
    }

    private void sawLocked(String incarnation, long value) {
        try {
            Files.createDirectories(file.getParent());
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                FileLock lock = ch.lock(); // released when the channel closes
                assert lock.isValid();
                String[] recorded = read(ch);
                if (recorded != null && recorded[0].equals(incarnation) && Long.parseLong(recorded[1]) >= value) {
                    return;
                }
                byte[] text = (incarnation + " " + value + "\n").getBytes(StandardCharsets.UTF_8);
                ch.truncate(0);
                ch.write(ByteBuffer.wrap(text), 0);
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.DEBUG, () -> "could not record the coordinator's write clock in " + file + ": " + e);
        }
    }

    /**
     * The highest value of the clock this host saw under {@code incarnation}.
     *
     * @param incarnation the incarnation of the coordinator's data now
     * @return the value, or -1 if none was recorded for that incarnation (or the file cannot be read)
     */
    public long highest(String incarnation) {
        synchronized (IN_PROCESS.computeIfAbsent(file.toAbsolutePath(), k -> new Object())) {
            return highestLocked(incarnation);
        }
    }

    private long highestLocked(String incarnation) {
        if (!Files.exists(file)) {
            return -1;
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            FileLock lock = ch.lock(0, Long.MAX_VALUE, true); // released when the channel closes
            assert lock.isValid();
            String[] recorded = read(ch);
            return recorded != null && recorded[0].equals(incarnation) ? Long.parseLong(recorded[1]) : -1;
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.DEBUG, () -> "could not read the coordinator's write clock from " + file + ": " + e);
            return -1;
        }
    }

    private static String[] read(FileChannel ch) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(MAX_BYTES);
        while (ch.read(buf, buf.position()) > 0 && buf.hasRemaining()) {
            // read it all
        }
        String text = new String(buf.array(), 0, buf.position(), StandardCharsets.UTF_8).trim();
        int space = text.lastIndexOf(' ');
        if (space <= 0) {
            return null;
        }
        return new String[] {text.substring(0, space), text.substring(space + 1)};
    }
}
