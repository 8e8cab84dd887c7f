package dev.ekko.internal;

import dev.ekko.Layout;
import dev.ekko.StateFileException;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The drift guard: a 128-byte memory-mapped file per (IDC, worker ID) on a host that holds the
 * high-water mark of the IDs issued with that worker ID.
 *
 * <p>Two marks, both Unix milliseconds:
 * <ul>
 *   <li>{@code reservedUntil}: the latest millisecond IDs may be issued in. Raised ahead of time in
 *       chunks and forced to disk ({@link MappedByteBuffer#force()}) <em>before</em> the generator may
 *       issue past the old value, so after a power loss every issued ID is at or below it.</li>
 *   <li>{@code lastIssued}: the latest millisecond actually used, raised (never lowered) by
 *       {@link #advanceLastIssued(long)} once per new millisecond with a CAS on the mapped page, and
 *       not forced. It survives a crash of the process (the page cache belongs to the kernel) but not
 *       of the kernel.</li>
 * </ul>
 * At start, {@code lastIssued} is trusted if the previous run shut down cleanly (flag forced with
 * it) or ran under the same kernel boot (same {@code /proc/sys/kernel/random/boot_id}); otherwise
 * the start floor is {@code reservedUntil}. Either way nothing issued earlier can be issued again.
 *
 * <p>The file is locked exclusively (an OS file lock, released by the kernel when the process dies)
 * for as long as a generator uses it. Layout, all little-endian longs at 8-byte aligned offsets:
 * magic, version, epochMillis, layoutBits, identity (idc, worker), header checksum, reservedUntil,
 * lastIssued, clean flag, boot ID (2 longs), owner pid.
 */
public final class StateFile implements AutoCloseable {

    /** The start of the refusal when another generator of this JVM holds the file. */
    static final String IN_USE_IN_THIS_JVM = "state file is in use by another generator in this JVM";
    /** The start of the refusal when another process holds the file's lock. */
    static final String LOCKED_BY_ANOTHER_PROCESS = "state file is locked by another process";

    static final long MAGIC = 0x454B4B4F53544154L; // "EKKOSTAT"
    static final long VERSION = 1;
    static final int SIZE = 128;

    static final int OFF_MAGIC = 0;
    static final int OFF_VERSION = 8;
    static final int OFF_EPOCH = 16;
    static final int OFF_LAYOUT = 24;
    static final int OFF_IDENTITY = 32;
    static final int OFF_CHECKSUM = 40;
    static final int OFF_RESERVED_UNTIL = 48;
    static final int OFF_LAST_ISSUED = 56;
    static final int OFF_CLEAN = 64;
    static final int OFF_BOOT_HI = 72;
    static final int OFF_BOOT_LO = 80;
    static final int OFF_PID = 88;
    /** The header's fields, in file order from offset 0: fixed for the life of the file. */
    private static final String[] HEADER_FIELDS = {"magic", "version", "epoch", "layout", "identity", "checksum"};

    private static final VarHandle LONGS = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final long NONE = Long.MIN_VALUE;

    private final Path path;
    private final JvmFileLocks.Attempt held;
    private final MappedByteBuffer map;
    /** The header as opened (magic .. checksum): it never changes while the file is in use. */
    private final long[] header;
    private final long startFloor;
    private final String floorReason;
    private final boolean floorIsReservation;
    /** The forced reservation, kept here too so reading it never touches the mapping (see {@link #checkIntact()}). */
    private volatile long reserved;
    /** What {@link #checkIntact()} found changed, or null: once set, the mapping is never touched again. */
    private volatile String damage;
    private boolean closed;

    private StateFile(Path path, JvmFileLocks.Attempt held, MappedByteBuffer map, long startFloor, String floorReason,
            boolean floorIsReservation) {
        this.floorIsReservation = floorIsReservation;
        this.path = path;
        this.held = held;
        this.map = map;
        this.header = new long[HEADER_FIELDS.length];
        for (int i = 0; i < header.length; i++) {
            header[i] = get(map, i * 8);
        }
        this.reserved = get(map, OFF_RESERVED_UNTIL);
        this.startFloor = startFloor;
        this.floorReason = floorReason;
    }

    /** {@return the file name for one worker ID} */
    public static Path pathFor(Path dir, int idc, int worker) {
        return dir.resolve("idc" + idc + "-worker" + worker + ".state");
    }

    /**
     * Opens (creating if absent) and locks the state file of one worker ID, and reads its start floor.
     *
     * @throws StateFileException if it is held, damaged, too short, or made for another layout or worker ID
     */
    /** {@return whether {@code e} refused a state file because another generator on this host holds it (not a damage)} */
    static boolean isBusy(StateFileException e) {
        String m = e.getMessage();
        return m != null && (m.startsWith(IN_USE_IN_THIS_JVM) || m.startsWith(LOCKED_BY_ANOTHER_PROCESS));
    }

    public static StateFile open(Path dir, Layout layout, int idc, int worker) {
        Path path = pathFor(dir, idc, worker);
        try {
            createDirectory(dir);
            if (!Files.exists(path)) {
                create(dir, path, layout, idc, worker);
            }
        } catch (IOException e) {
            throw new StateFileException(path, "cannot create state file (check ekko.state.dir and its permissions): " + e, e);
        }
        JvmFileLocks.Attempt held;
        try {
            held = JvmFileLocks.tryLock(path, false, HOLDER_PID);
        } catch (IOException e) {
            throw new StateFileException(path, "cannot open state file: " + e, e);
        }
        switch (held.outcome()) {
            case HELD_IN_THIS_JVM:
                throw new StateFileException(path, IN_USE_IN_THIS_JVM + " (same idc and worker ID"
                        + (held.holder() == null || Path.of(held.holder()).equals(path) ? ")"
                                : "; it holds the same file through another path, " + held.holder()
                                + ": a symbolic link, hard link or mount names one file twice)"));
            case HELD_BY_ANOTHER_PROCESS:
                throw new StateFileException(path, LOCKED_BY_ANOTHER_PROCESS + held.holder()
                        + ": another generator on this host uses the same idc and worker ID");
            default:
                break;
        }
        boolean ok = false;
        try {
            FileChannel channel = held.channel();
            long size = channel.size();
            if (size < SIZE) {
                throw new StateFileException(path, "state file is damaged: " + size + " bytes, expected " + SIZE
                        + "; refusing to reset it. Restore it, or delete it only after making sure the clock is past every ID"
                        + " issued with idc=" + idc + " worker=" + worker);
            }
            MappedByteBuffer map = channel.map(FileChannel.MapMode.READ_WRITE, 0, SIZE);
            validate(path, map, layout, idc, worker);
            long[] boot = bootId();
            boolean clean = get(map, OFF_CLEAN) == 1;
            boolean sameBoot = boot[0] != 0 && boot[0] == get(map, OFF_BOOT_HI) && boot[1] == get(map, OFF_BOOT_LO);
            long floor;
            String reason;
            if (clean || sameBoot) {
                floor = get(map, OFF_LAST_ISSUED);
                reason = "last issued millisecond of the previous run" + (clean ? " (clean shutdown)" : " (same boot)");
            } else {
                floor = get(map, OFF_RESERVED_UNTIL);
                reason = "reservation of the previous run (no clean shutdown, and a reboot since)";
                // lastIssued was not durable; from now on it must be a bound the next start can trust.
                set(map, OFF_LAST_ISSUED, floor);
            }
            // From here on, a crash must not look clean: clear the flag and stamp this boot before anything is issued.
            set(map, OFF_CLEAN, 0);
            set(map, OFF_BOOT_HI, boot[0]);
            set(map, OFF_BOOT_LO, boot[1]);
            set(map, OFF_PID, Processes.pid());
            map.force();
            StateFile opened = new StateFile(path, held, map, floor, reason, !(clean || sameBoot));
            ok = true;
            return opened;
        } catch (IOException e) {
            throw new StateFileException(path, "cannot open state file: " + e, e);
        } finally {
            if (!ok) {
                JvmFileLocks.unlock(held);
            }
        }
    }

    /** {@return " (pid N)" from a state file another process holds, or "" if it does not say} */
    private static String holderPid(FileChannel channel) {
        try {
            if (channel.size() >= OFF_PID + 8) {
                ByteBuffer b = ByteBuffer.allocate(8);
                channel.read(b, OFF_PID);
                long pid = b.flip().order(ByteOrder.LITTLE_ENDIAN).getLong();
                return pid > 0 ? " (pid " + pid + ")" : "";
            }
        } catch (IOException ignored) {
            // the refusal is the news; the pid is a courtesy
        }
        return "";
    }

    private static void createDirectory(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            return;
        }
        if (dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } else {
            Files.createDirectories(dir);
        }
    }

    /**
     * Writes a complete file under a temporary name, forces it, then links it in place: a crash never leaves
     * half a file, and a link (unlike a rename) never replaces a file another process created meanwhile. The
     * directory is forced afterwards, so the new name survives a power loss as well as the contents do.
     */
    static void create(Path dir, Path path, Layout layout, int idc, int worker) throws IOException {
        create(dir, path, layout, idc, worker, FORCE_DIRECTORY);
    }

    // Anonymous classes, not method references: a JVM spins a lambda's class at its first use, which a cold start pays
    // (StartupBenchmark); these are loaded like any other class.
    private static final DirectoryForce FORCE_DIRECTORY = new DirectoryForce() {
        @Override
        public void force(Path dir) throws IOException {
            forceDirectory(dir);
        }
    };
    private static final java.util.function.Function<FileChannel, String> HOLDER_PID = new java.util.function.Function<>() {
        @Override
        public String apply(FileChannel channel) {
            return holderPid(channel);
        }
    };

    /** Forces a directory's entries to disk; {@link #forceDirectory(Path)} outside tests. */
    @FunctionalInterface
    interface DirectoryForce {
        /** @param dir the directory to force */
        void force(Path dir) throws IOException;
    }

    /** {@link #create(Path, Path, Layout, int, int)} with the directory force given, for tests. */
    static void create(Path dir, Path path, Layout layout, int idc, int worker, DirectoryForce forceDirectory) throws IOException {
        Path tmp = dir.resolve(path.getFileName() + "." + Processes.randomHex() + ".tmp");
        ByteBuffer buf = ByteBuffer.allocateDirect(SIZE);
        set(buf, OFF_MAGIC, MAGIC);
        set(buf, OFF_VERSION, VERSION);
        set(buf, OFF_EPOCH, layout.epochMillis());
        set(buf, OFF_LAYOUT, layoutBits(layout));
        set(buf, OFF_IDENTITY, identity(idc, worker));
        set(buf, OFF_CHECKSUM, checksum(buf));
        set(buf, OFF_RESERVED_UNTIL, NONE);
        set(buf, OFF_LAST_ISSUED, NONE);
        set(buf, OFF_CLEAN, 1);
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            if (tmp.getFileSystem().supportedFileAttributeViews().contains("posix")) {
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
            }
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
        try {
            Files.createLink(path, tmp);
        } catch (FileAlreadyExistsException raced) {
            // another process created it first: use theirs
        } finally {
            Files.deleteIfExists(tmp);
        }
        forceDirectory.force(dir);
    }

    /**
     * Forces a directory's entries (a new link, a removed name) to disk: {@code fsync} on the directory. Where
     * directories cannot be opened as files (Windows, where the file system journals names itself), this does
     * nothing; on POSIX file systems a failure is reported.
     *
     * @param dir the directory
     * @throws IOException if it cannot be forced on a POSIX file system
     */
    static void forceDirectory(Path dir) throws IOException {
        if (!dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            return;
        }
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    private static void validate(Path path, ByteBuffer map, Layout layout, int idc, int worker) {
        String damaged = "state file is damaged or not an Ekko state file (%s); refusing to reset it. Restore it, or delete it only"
                + " after making sure the clock is past every ID issued with idc=" + idc + " worker=" + worker;
        if (get(map, OFF_MAGIC) != MAGIC) {
            throw new StateFileException(path, String.format(damaged, "bad magic number"));
        }
        if (get(map, OFF_VERSION) != VERSION) {
            throw new StateFileException(path, "state file has format version " + get(map, OFF_VERSION)
                    + ", this Ekko reads version " + VERSION);
        }
        if (get(map, OFF_CHECKSUM) != checksum(map)) {
            throw new StateFileException(path, String.format(damaged, "header checksum mismatch"));
        }
        long clean = get(map, OFF_CLEAN);
        long reserved = get(map, OFF_RESERVED_UNTIL);
        long last = get(map, OFF_LAST_ISSUED);
        if ((clean != 0 && clean != 1) || (last != NONE && reserved < last)) {
            throw new StateFileException(path, String.format(damaged, "inconsistent marks"));
        }
        if (get(map, OFF_EPOCH) != layout.epochMillis() || get(map, OFF_LAYOUT) != layoutBits(layout)) {
            long bits = get(map, OFF_LAYOUT);
            throw new StateFileException(path, "state file was made for another layout (epoch=" + Instant.ofEpochMilli(get(map, OFF_EPOCH))
                    + ", productBits=" + (bits & 0xFF) + ", positive=" + ((bits >>> 8) == 1) + "), not for " + layout
                    + "; use the original layout or another ekko.state.dir");
        }
        if (get(map, OFF_IDENTITY) != identity(idc, worker)) {
            throw new StateFileException(path, String.format(damaged, "it belongs to another idc/worker"));
        }
    }

    private static long layoutBits(Layout layout) {
        return ((layout.isPositive() ? 1L : 0L) << 8) | layout.productBits();
    }

    private static long identity(int idc, int worker) {
        return ((long) idc << 32) | worker;
    }

    private static long checksum(ByteBuffer b) {
        long h = 0x9E3779B97F4A7C15L;
        for (int off = OFF_MAGIC; off < OFF_CHECKSUM; off += 8) {
            h = (h ^ get(b, off)) * 0xBF58476D1CE4E5B9L;
            h ^= h >>> 31;
        }
        return h;
    }

    private static long[] bootId() {
        try {
            UUID u = UUID.fromString(Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).trim());
            return new long[] {u.getMostSignificantBits(), u.getLeastSignificantBits()};
        } catch (IOException | IllegalArgumentException | SecurityException e) {
            return new long[] {0, 0};
        }
    }

    private static long get(ByteBuffer b, int off) {
        return (long) LONGS.getVolatile(b, off);
    }

    private static void set(ByteBuffer b, int off, long v) {
        LONGS.setVolatile(b, off, v);
    }

    /** {@return the path of the file} */
    public Path path() {
        return path;
    }

    /** {@return the latest millisecond an earlier run may have issued (Unix ms), or {@link Long#MIN_VALUE} for a new file} */
    public long startFloor() {
        return startFloor;
    }

    /** {@return why {@link #startFloor()} is what it is, for logs} */
    public String floorReason() {
        return floorReason;
    }

    /** {@return true if the start floor is the previous run's reservation, which may be ahead of the clock} */
    public boolean floorIsReservation() {
        return floorIsReservation;
    }

    /** {@return the forced reservation, Unix ms (read from memory, never from the mapping)} */
    public long reservedUntil() {
        return reserved;
    }

    /**
     * @return the latest millisecond used, Unix ms; once {@link #checkIntact()} found the file changed, the mapping
     *     may no longer be readable and this returns {@link #reservedUntil()}, a bound at or above it
     */
    public long lastIssued() {
        return damage == null ? get(map, OFF_LAST_ISSUED) : reserved;
    }

    /**
     * Raises the last-issued mark to {@code unixMillis} unless it is already higher. Called once per new
     * millisecond from the hot path: a CAS on mapped memory, no system call.
     */
    public void advanceLastIssued(long unixMillis) {
        if (damage != null) {
            return; // the file was found changed: its page may be past the end of the file now (SIGBUS)
        }
        long cur;
        do {
            cur = (long) LONGS.getVolatile(map, OFF_LAST_ISSUED);
            if (cur >= unixMillis) {
                return;
            }
        } while (!LONGS.compareAndSet(map, OFF_LAST_ISSUED, cur, unixMillis));
    }

    /**
     * Checks that the file on disk is still the one mapped and locked, whole: called by the keeper at every renewal,
     * before the issue limit is raised.
     *
     * @throws StateFileException if it was truncated, replaced, or removed while in use
     */
    public synchronized void checkIntact() {
        if (closed) {
            return;
        }
        String change = damage != null ? damage : findChange();
        if (change != null) {
            damage = change;
            throw new StateFileException(path, "state file changed while in use: " + change + "; stopped issuing with this worker ID."
                    + " Nothing may change, copy over, share or clean the state directory (ekko.state.dir) while a generator runs");
        }
    }

    /**
     * Looks at the file through its channel and its path, never through the mapping: touching a mapped page that is
     * now past the end of the file is a SIGBUS, which kills the JVM or surfaces as {@link InternalError}.
     *
     * @return what changed, or null if the file is whole and still the one locked at the path
     */
    private String findChange() {
        try {
            FileChannel channel = held.channel();
            long size = channel.size();
            if (size < SIZE) {
                return "truncated to " + size + " bytes, expected " + SIZE;
            }
            Object now;
            try {
                now = JvmFileLocks.key(path, false);
            } catch (NoSuchFileException e) {
                return "the path names no file any more (deleted or moved away; this process holds a file no one else can see)";
            }
            if (!now.equals(held.key())) {
                return "the path now names another file (replaced, e.g. by a copy or a restore), not the one this process locked";
            }
            ByteBuffer b = ByteBuffer.allocate(HEADER_FIELDS.length * 8).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining() && channel.read(b, b.position()) > 0) {
                // read the whole header
            }
            List<String> changed = new ArrayList<>();
            for (int i = 0; i < HEADER_FIELDS.length; i++) {
                if (b.position() < (i + 1) * 8 || b.getLong(i * 8) != header[i]) {
                    changed.add(HEADER_FIELDS[i]);
                }
            }
            return changed.isEmpty() ? null : "header changed (" + String.join(", ", changed) + ")";
        } catch (IOException e) {
            return "cannot be read: " + e;
        }
    }

    /**
     * Raises the reservation and forces it to disk; returns only once it is durable.
     *
     * @param unixMillis the new reservation; lower values are ignored
     */
    public synchronized void reserve(long unixMillis) {
        if (damage != null) {
            throw new StateFileException(path, "state file changed while in use: " + damage + "; refusing to reserve past "
                    + Instant.ofEpochMilli(reserved));
        }
        if (unixMillis > reserved) {
            LONGS.setVolatile(map, OFF_RESERVED_UNTIL, unixMillis);
            map.force();
            reserved = unixMillis;
        }
    }

    /**
     * Marks a clean shutdown, forces it, and releases the lock. Idempotent. The caller must have stopped
     * issuing; {@code finalMark} covers an ID still in flight in a thread that passed its checks before the
     * stop (its millisecond is at most one past the last recorded one, or the clock it read).
     *
     * @param finalMark the last-issued mark to record (Unix ms), capped at the reservation
     */
    public synchronized void close(long finalMark) {
        if (closed) {
            return;
        }
        long limit = reserved;
        if (limit != NONE && mappingUsable()) {
            advanceLastIssued(Math.min(finalMark, limit));
        }
        close();
    }

    /** Marks a clean shutdown (last-issued is exact), forces it, and releases the lock. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            // lastIssued is exact now that nothing issues; the flag, forced with it, lets the next start trust it.
            // Not on a file found changed, or now too short to hold the mapped page (touching it would be a SIGBUS):
            // it stays marked unclean, so the next start uses the forced reservation.
            if (mappingUsable()) {
                set(map, OFF_CLEAN, 1);
                map.force();
            }
        } finally {
            JvmFileLocks.unlock(held);
        }
    }

    /** {@return false if the file was found changed or is now shorter than the mapping (touching it would be a SIGBUS)} */
    private boolean mappingUsable() {
        if (damage != null) {
            return false;
        }
        try {
            return held.channel().size() >= SIZE;
        } catch (IOException e) {
            return false;
        }
    }

    /** Releases the lock without the clean-shutdown flag: what a crash leaves behind. For tests. */
    public synchronized void abandon() {
        closed = true;
        JvmFileLocks.unlock(held);
    }

    @Override
    public String toString() {
        return "StateFile{" + path + "}";
    }
}
