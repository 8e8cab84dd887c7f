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
import java.util.UUID;

/**
 * The host-wide worker-ID locks: one lock file per (IDC, worker ID) in {@code ekko.host.lock.dir}, which every
 * process on the host shares whatever its state directory. A process holds an exclusive OS lock on the file of
 * each worker ID it uses; the kernel drops the lock when the process dies.
 *
 * <p>Different users and services on one host share the directory: it is created world-writable with the sticky
 * bit (mode 1777, like {@code /tmp}: anyone may create files, only the owner may remove or rename them), and lock
 * files are readable and writable by all (mode 0666; they hold only a pid and an instance name, and locking needs
 * a descriptor open for writing). Existing files are opened without {@code O_CREAT} (Linux
 * {@code fs.protected_regular} refuses an {@code O_CREAT} open of another user's file in a sticky world-writable
 * directory) and never through a symbolic link; new files are written under a temporary name with
 * {@code CREATE_NEW} and linked into place, so no channel of a file another user in this JVM may hold is ever
 * opened before {@link JvmFileLocks} has checked it.
 *
 * <p>Not thread-safe: each allocator uses its own instance under its own monitor.
 */
final class HostLocks {

    private static final String KEY = ConfigKeys.HOST_LOCK_DIR;

    private final Path dir;
    private final int idc;
    private final String holderLine;
    private final long pid;
    private final Map<Integer, JvmFileLocks.Attempt> held = new HashMap<>();

    /**
     * @param context the allocator's context; {@code ekko.host.lock.dir} must be set (the core always sets it)
     * @throws IllegalArgumentException naming the key if it is not set
     */
    HostLocks(AllocatorContext context) {
        this.dir = Path.of(context.requireSetting(KEY, "the host-wide worker-ID lock directory every process on this host shares"));
        this.idc = context.idc();
        this.pid = context.pid();
        this.holderLine = "pid=" + context.pid() + " instance=" + context.instance() + "\n";
    }

    /** @return the lock directory */
    Path directory() {
        return dir;
    }

    /** @return the lock file of one worker ID of this IDC */
    Path file(int worker) {
        return dir.resolve("idc" + idc + "-worker" + worker + ".lock");
    }

    /** @return the directory setting, for messages: {@code ekko.host.lock.dir=<dir> (environment variable EKKO_HOST_LOCK_DIR)} */
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
                    attempt = JvmFileLocks.tryLock(file, true, HostLocks::readHolder);
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
        try {
            writeHolder(attempt.channel());
        } catch (IOException e) {
            JvmFileLocks.unlock(attempt);
            throw new EkkoException("cannot write to the host lock file " + file + " (" + where() + "): " + e, e);
        }
        held.put(worker, attempt);
        return null;
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
                writeHolder(attempt.channel());
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

    /** @return true if this instance holds the worker ID's lock */
    boolean holds(int worker) {
        return held.containsKey(worker);
    }

    /** Drops the lock of one worker ID, if held. */
    void unlock(int worker) {
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

    private void writeHolder(FileChannel ch) throws IOException {
        ch.truncate(0);
        ch.write(ByteBuffer.wrap(holderLine.getBytes(StandardCharsets.UTF_8)), 0);
    }

    private static String readHolder(FileChannel ch) {
        try {
            ByteBuffer b = ByteBuffer.allocate(300);
            ch.read(b, 0);
            return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).trim();
        } catch (IOException e) {
            return "";
        }
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
        Path tmp = file.resolveSibling(file.getFileName() + "." + UUID.randomUUID() + ".tmp");
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
