package dev.ekko.internal;

import dev.ekko.EkkoException;
import dev.ekko.LeaseLostException;
import dev.ekko.WorkerIdsExhaustedException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import dev.ekko.spi.WorkerLease;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * {@code host-local}: gives each process on one host a distinct worker ID through exclusive OS locks on
 * one lock file per worker ID in a directory ({@code ekko.hostlocal.dir}, default
 * {@code <ekko.state.dir>/host-local}). The kernel drops a lock when its process dies, so a crashed
 * process's worker ID is free again at once; its state file then makes the next holder start past it.
 * It does not coordinate across hosts: for a fleet, use a coordinator back end.
 *
 * <p>The scan starts at the preferred worker ID, else at 0, so a host reuses low IDs and their state files.
 */
public final class HostLocalAllocator implements WorkerAllocator {

    /** The lock directory key. */
    public static final String DIR_KEY = "ekko.hostlocal.dir";

    private final AllocatorContext context;
    private final Path dir;
    private final Map<Integer, JvmFileLocks.Attempt> held = new HashMap<>();

    HostLocalAllocator(AllocatorContext context) {
        this.context = context;
        this.dir = Path.of(context.setting(DIR_KEY)
                .orElseGet(() -> Path.of(context.requireSetting("ekko.state.dir", "the state directory")).resolve("host-local").toString()));
    }

    @Override
    public synchronized WorkerLease acquire() {
        try {
            if (!Files.isDirectory(dir)) {
                Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            }
        } catch (IOException | UnsupportedOperationException e) {
            throw new EkkoException("cannot create the host-local lock directory (" + DIR_KEY + "=" + dir + "): " + e, e);
        }
        int n = context.workerIds();
        int start = Math.max(0, context.preferredWorkerId());
        List<String> holders = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int worker = (start + i) % n;
            Path file = lockFile(worker);
            JvmFileLocks.Attempt attempt;
            try {
                if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) {
                    createLockFile(file);
                }
                // keyed by the file's identity: a lock file this JVM holds through another path is skipped unopened
                attempt = JvmFileLocks.tryLock(file, true, HostLocalAllocator::readHolder);
            } catch (IOException e) {
                throw new EkkoException("cannot lock " + file + " (" + DIR_KEY + "): " + e, e);
            }
            if (attempt.outcome() != JvmFileLocks.Outcome.LOCKED) {
                if (holders.size() < 5) {
                    holders.add(worker + ":" + (attempt.outcome() == JvmFileLocks.Outcome.HELD_IN_THIS_JVM
                            ? "this process (pid " + context.pid() + ")" : attempt.holder()));
                }
                continue;
            }
            try {
                FileChannel ch = attempt.channel();
                ch.truncate(0);
                ch.write(ByteBuffer.wrap(("pid=" + context.pid() + " instance=" + context.instance() + "\n").getBytes(StandardCharsets.UTF_8)), 0);
            } catch (IOException e) {
                JvmFileLocks.unlock(attempt);
                throw new EkkoException("cannot write the holder to " + file + " (" + DIR_KEY + "): " + e, e);
            }
            held.put(worker, attempt);
            return new WorkerLease(worker, UUID.randomUUID().toString(), Duration.ZERO, context.clock().nanos(), Handover.stateFile(),
                    WorkerLease.UNKNOWN_TIME, null);
        }
        throw new WorkerIdsExhaustedException("all " + n + " worker IDs of idc=" + context.idc() + " are held by processes on this host"
                + " (lock files in " + dir + "; holders include " + String.join(", ", holders) + "); stop a process, or use fewer product"
                + " bits (ekko.product.bits), or another idc");
    }

    private static String readHolder(FileChannel ch) {
        try {
            ByteBuffer b = ByteBuffer.allocate(200);
            ch.read(b, 0);
            return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8).trim();
        } catch (IOException e) {
            return "unknown";
        }
    }

    @Override
    public synchronized WorkerLease renew(WorkerLease lease, ClockReport report) {
        JvmFileLocks.Attempt attempt = held.get(lease.workerId());
        if (attempt == null || !attempt.channel().isOpen()) {
            throw new LeaseLostException("host-local lock of idc=" + context.idc() + " worker=" + lease.workerId() + " is no longer held");
        }
        return lease.renewed(context.clock().nanos(), WorkerLease.UNKNOWN_TIME);
    }

    @Override
    public synchronized void release(WorkerLease lease, ClockReport finalReport) {
        drop(lease.workerId());
    }

    /** Drops every lock this allocator holds, as the death of the process would. */
    @Override
    public synchronized void close() {
        for (Integer worker : List.copyOf(held.keySet())) {
            drop(worker);
        }
    }

    private void drop(int worker) {
        JvmFileLocks.Attempt attempt = held.remove(worker);
        if (attempt != null) {
            JvmFileLocks.unlock(attempt);
        }
    }

    private Path lockFile(int worker) {
        return dir.resolve("idc" + context.idc() + "-worker" + worker + ".lock");
    }

    /**
     * Creates an empty lock file without ever opening the final name: written under a temporary name and
     * hard-linked into place, so no channel of a file another user in this JVM may already hold is opened and
     * closed (which would drop its lock). A file created meanwhile by someone else is kept.
     */
    private static void createLockFile(Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + "." + UUID.randomUUID() + ".tmp");
        Files.newByteChannel(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
        try {
            Files.createLink(file, tmp);
        } catch (java.nio.file.FileAlreadyExistsException raced) {
            // another process or thread created it first: use theirs
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    @Override
    public String toString() {
        return "HostLocalAllocator{dir=" + dir + ", idc=" + context.idc() + "}";
    }

    /** The ServiceLoader entry for {@code host-local}. */
    public static final class Provider implements WorkerAllocatorProvider {
        @Override
        public String name() {
            return "host-local";
        }

        @Override
        public String artifact() {
            return "dev.ekko:ekko-core";
        }

        @Override
        public Set<String> configKeys() {
            return Set.of(DIR_KEY);
        }

        @Override
        public WorkerAllocator create(AllocatorContext context) {
            return new HostLocalAllocator(context);
        }
    }
}
