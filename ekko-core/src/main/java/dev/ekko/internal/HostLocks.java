package dev.ekko.internal;

import dev.ekko.EkkoException;
import dev.ekko.LeaseLostException;
import dev.ekko.spi.AllocatorContext;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The host-wide worker-ID locks: one lock file per (IDC, worker ID) in {@code ekko.host.lock.dir}, which every
 * process on the host shares whatever its state directory. A process holds an exclusive OS lock on the file of
 * each worker ID it uses; the kernel drops the lock when the process dies.
 *
 * <p>Different users and services on one host share the directory: it is created world-writable with the sticky
 * bit (mode 1777, like {@code /tmp}: anyone may create files, only the owner may remove or rename them), and lock
 * files are readable and writable by all (mode 0666; they hold the holder's pid and instance name, the worker ID's
 * mark and the state directory it was issued from, and locking needs a descriptor open for writing). Existing files are opened without {@code O_CREAT} (Linux
 * {@code fs.protected_regular} refuses an {@code O_CREAT} open of another user's file in a sticky world-writable
 * directory) and never through a symbolic link; new files are written under a temporary name with
 * {@code CREATE_NEW} and linked into place, so no channel of a file another user in this JVM may hold is ever
 * opened before {@link JvmFileLocks} has checked it.
 *
 * <p>Not thread-safe: each allocator uses its own instance under its own monitor.
 */
final class HostLocks {

    /**
     * The history a lock file carries between processes with different state directories: each holder's state file
     * covers only its own directory, so the lock file keeps the highest mark any holder reported (raised at every
     * renewal, before the generator may issue past it; lowered at a clean release to the last millisecond used, never
     * below the mark at lock time) and the state directory of the last holder. A holder whose state directory is
     * another one's starts past that mark ({@link #handoverMark(int)}); one with the same directory needs only its
     * state file. The directory is usually on tmpfs ({@code /run/lock}): a reboot clears it, see the README.
     */
    private record Record(long mark, String stateDir) {
        static final Record NONE = new Record(Long.MIN_VALUE, "");
    }

    private static final String KEY = ConfigKeys.HOST_LOCK_DIR;

    private final Path dir;
    private final int idc;
    private final String holderLine;
    private final long pid;
    private final String stateDir;
    private final Map<Integer, JvmFileLocks.Attempt> held = new HashMap<>();
    /** Per held worker ID: what the file said when it was locked. */
    private final Map<Integer, Record> atLock = new HashMap<>();
    /** Per held worker ID: the mark written last. */
    private final Map<Integer, Long> marks = new HashMap<>();

    /**
     * @param context the allocator's context; {@code ekko.host.lock.dir} must be set (the core always sets it)
     * @throws IllegalArgumentException naming the key if it is not set
     */
    HostLocks(AllocatorContext context) {
        this.dir = Path.of(context.requireSetting(KEY, "the host-wide worker-ID lock directory every process on this host shares"));
        this.idc = context.idc();
        this.pid = context.pid();
        this.holderLine = "pid=" + context.pid() + " instance=" + context.instance() + "\n";
        String stateDirSetting = context.setting(ConfigKeys.STATE_DIR).orElse(null);
        this.stateDir = stateDirSetting == null ? "" : Path.of(stateDirSetting).toAbsolutePath().normalize().toString();
    }

    /** {@return the lock directory} */
    Path directory() {
        return dir;
    }

    /** {@return the lock file of one worker ID of this IDC} */
    Path file(int worker) {
        return dir.resolve("idc" + idc + "-worker" + worker + ".lock");
    }

    /** {@return the directory setting, for messages: {@code ekko.host.lock.dir=<dir> (environment variable EKKO_HOST_LOCK_DIR)}} */
    String where() {
        return KEY + "=" + dir + " (environment variable " + ConfigKeys.envName(KEY) + ")";
    }

    /**
     * Tries to lock one worker ID host-wide.
     *
     * @return null if this instance holds it now; otherwise who holds it: {@code "this process (pid N)"} (this
     *     instance included, see {@link #holds(int)}) or the holder's {@code pid=... instance=...} line
     * @throws EkkoException if the directory or the file cannot be used, naming {@code ekko.host.lock.dir}
     */
    String tryLock(int worker) {
        if (held.containsKey(worker)) {
            return "this process (pid " + pid + ")";
        }
        ensureDirectory();
        Path file = file(worker);
        JvmFileLocks.Attempt attempt = null;
        try {
            for (int i = 0; i < 3 && attempt == null; i++) {
                if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
                    create(file);
                }
                try {
                    attempt = JvmFileLocks.tryLock(file, true, READ_HOLDER);
                } catch (NoSuchFileException removed) {
                    // removed between the check and the open (by its owner): create it again
                }
            }
            if (attempt == null) {
                throw new IOException("it keeps disappearing");
            }
        } catch (IOException e) {
            throw new EkkoException("cannot use the host lock file " + file + " of idc=" + idc + " worker=" + worker + " (" + where()
                    + "): " + e + ". Every process on this host that uses Ekko must be able to read and write the lock files"
                    + " (mode 0666) in a directory it can write to (mode 1777)", e);
        }
        switch (attempt.outcome()) {
            case HELD_IN_THIS_JVM:
                return "this process (pid " + pid + ")";
            case HELD_BY_ANOTHER_PROCESS:
                return attempt.holder().isEmpty() ? "another process" : attempt.holder();
            default:
                break;
        }
        Record found = parse(readAll(attempt.channel()));
        try {
            write(attempt.channel(), found.mark);
        } catch (IOException e) {
            JvmFileLocks.unlock(attempt);
            throw new EkkoException("cannot write to the host lock file " + file + " (" + where() + "): " + e, e);
        }
        held.put(worker, attempt);
        atLock.put(worker, found);
        marks.put(worker, found.mark);
        return null;
    }

    /**
     * @return the mark a new holder of a held worker ID must start past because an earlier holder issued from another
     *     state directory (whose state file this process does not read), or {@link Long#MIN_VALUE} when the last
     *     holder used the same state directory or there is no record
     */
    long handoverMark(int worker) {
        Record r = atLock.getOrDefault(worker, Record.NONE);
        return !stateDir.isEmpty() && stateDir.equals(r.stateDir) ? Long.MIN_VALUE : r.mark;
    }

    /**
     * Checks the lock as {@link #checkHeld(int)} and records a reservation in the lock file: called with the report
     * of every renewal, before the generator may issue past it.
     */
    void checkHeld(int worker, long reservedUntilMillis) {
        Long mark = marks.get(worker);
        if (mark == null || mark < reservedUntilMillis) {
            marks.put(worker, reservedUntilMillis);
        }
        checkHeld(worker);
    }

    /**
     * Records the final mark of a clean release (the last millisecond used; never below the mark found at lock time)
     * and drops the lock.
     */
    void release(int worker, long finalMarkMillis) {
        JvmFileLocks.Attempt attempt = held.get(worker);
        if (attempt != null && attempt.channel().isOpen()) {
            try {
                if (JvmFileLocks.key(file(worker), true).equals(attempt.key())) {
                    write(attempt.channel(), Math.max(atLock.getOrDefault(worker, Record.NONE).mark, finalMarkMillis));
                }
            } catch (IOException e) {
                // the mark of the last renewal stays: higher, so still safe
            }
        }
        unlock(worker);
    }

    /**
     * Checks that a worker ID is still locked through the file at its path, and rewrites the holder line (which
     * keeps the file's modification time recent, so cleaners of old files leave it alone).
     *
     * @throws LeaseLostException if it is not held, or the lock file was removed or replaced (another process may
     *     then have locked a new file under the same name)
     */
    void checkHeld(int worker) {
        JvmFileLocks.Attempt attempt = held.get(worker);
        Path file = file(worker);
        if (attempt == null || !attempt.channel().isOpen()) {
            throw new LeaseLostException("host lock of idc=" + idc + " worker=" + worker + " is no longer held (" + file + ")");
        }
        String problem;
        try {
            problem = JvmFileLocks.key(file, true).equals(attempt.key()) ? null : "replaced by another file";
            if (problem == null) {
                write(attempt.channel(), marks.getOrDefault(worker, Long.MIN_VALUE));
            }
        } catch (NoSuchFileException e) {
            problem = "removed";
        } catch (IOException e) {
            problem = "unreadable: " + e;
        }
        if (problem != null) {
            unlock(worker);
            throw new LeaseLostException("host lock file " + file + " of idc=" + idc + " worker=" + worker + " was " + problem
                    + " while held, so another process on this host may lock the worker ID; nothing may remove files from "
                    + where() + " while processes run");
        }
    }

    /** {@return true if this instance holds the worker ID's lock} */
    boolean holds(int worker) {
        return held.containsKey(worker);
    }

    /** Drops the lock of one worker ID, if held. */
    void unlock(int worker) {
        atLock.remove(worker);
        marks.remove(worker);
        JvmFileLocks.Attempt attempt = held.remove(worker);
        if (attempt != null) {
            JvmFileLocks.unlock(attempt);
        }
    }

    /** Drops every lock held, as the death of the process would. */
    void unlockAll() {
        for (Integer worker : List.copyOf(held.keySet())) {
            unlock(worker);
        }
    }

    /** Writes the holder line, the mark and this process's state directory; the holder line first, for messages. */
    private void write(FileChannel ch, long mark) throws IOException {
        String text = holderLine + "mark=" + (mark == Long.MIN_VALUE ? "" : Long.toString(mark)) + "\nstateDir=" + stateDir + "\n";
        ByteBuffer b = ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8));
        ch.write(b, 0);
        ch.truncate(text.getBytes(StandardCharsets.UTF_8).length); // written first, then cut: never an empty file in between
    }

    private static Record parse(String text) {
        long mark = Long.MIN_VALUE;
        String dir = null;
        boolean markSeen = false;
        // The first occurrence of each: a crash between writing a record and cutting the file leaves only older text after it.
        for (String line : text.split("\n")) {
            if (line.startsWith("mark=") && !markSeen) {
                markSeen = true;
                if (line.length() == 5) {
                    continue;
                }
                try {
                    mark = Long.parseLong(line.substring(5).trim());
                } catch (NumberFormatException ignored) {
                    // a damaged record: no mark, as for a new file
                }
            } else if (line.startsWith("stateDir=") && dir == null) {
                dir = line.substring(9).trim();
            }
        }
        return new Record(mark, dir == null ? "" : dir);
    }

    private static String readAll(FileChannel ch) {
        try {
            ByteBuffer b = ByteBuffer.allocate(8192);
            ch.read(b, 0);
            return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    /** {@link #readHolder}; an anonymous class, not a method reference, whose class a JVM would spin at a cold start. */
    private static final java.util.function.Function<FileChannel, String> READ_HOLDER = new java.util.function.Function<>() {
        @Override
        public String apply(FileChannel ch) {
            return readHolder(ch);
        }
    };

    /** {@return the holder line (pid and instance) for messages} */
    private static String readHolder(FileChannel ch) {
        String all = readAll(ch);
        int nl = all.indexOf('\n');
        return (nl < 0 ? all : all.substring(0, nl)).trim();
    }

    /** Creates the directory, mode 1777, if it is absent. */
    private void ensureDirectory() {
        if (Files.isDirectory(dir)) {
            return;
        }
        try {
            Path parent = dir.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            try {
                Files.createDirectory(dir);
                if (dir.getFileSystem().supportedFileAttributeViews().contains("unix")) {
                    Files.setAttribute(dir, "unix:mode", 01777); // umask-proof, and the sticky bit, which PosixFilePermission lacks
                }
            } catch (FileAlreadyExistsException raced) {
                if (!Files.isDirectory(dir)) {
                    throw raced;
                }
            }
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            throw new EkkoException("cannot create the host lock directory (" + where() + "): " + e + "; set " + KEY
                    + " to a directory every process on this host can write to", e);
        }
    }

    /**
     * Creates an empty lock file, mode 0666, under a temporary name and links it into place; a file someone else
     * created meanwhile is kept.
     */
    private static void create(Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + "." + Processes.randomHex() + ".tmp");
        Files.newByteChannel(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
        try {
            if (tmp.getFileSystem().supportedFileAttributeViews().contains("posix")) {
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-rw-rw-"));
            }
            Files.createLink(file, tmp);
        } catch (FileAlreadyExistsException raced) {
            // another process or thread created it first: use theirs
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
