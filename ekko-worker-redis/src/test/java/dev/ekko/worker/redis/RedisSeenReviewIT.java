package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.IdGenerator;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.DisposableRedis;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * Review of the Redis side of SeenClock ({@code RedisWorkerAllocator.acquire} compares the IDC's epoch with the seen file,
 * {@code renew} records it): it must catch a backup restored in place (FLUSHALL + RESTORE, same run_id) on any host that saw
 * the epoch above the backup's, and must never fire, block or disturb the state directory in normal operation.
 */
class RedisSeenReviewIT {

    @TempDir
    Path dir;

    private DisposableRedis redis;

    @AfterEach
    void stop() {
        if (redis != null) {
            redis.close();
        }
    }

    private WorkerAllocator allocator(String host, int preferred, Path stateDir, String uri) {
        return allocator(host, preferred, stateDir, uri, "2s");
    }

    /** With another timeout than the default, an allocator gets connections of its own, as a separate process would. */
    private WorkerAllocator allocator(String host, int preferred, Path stateDir, String uri, String timeout) {
        RedisSeenClockIT.createStateDirectory(stateDir);
        return new RedisAllocatorProvider().create(AllocatorContext.builder().idc(1).workerIds(256).preferredWorkerId(preferred)
                .instance(host + "-" + preferred).host(host).leaseTtl(Duration.ofSeconds(60)).setting("ekko.redis.uri", uri)
                .setting("ekko.redis.namespace", "seen").setting("ekko.redis.timeout", timeout)
                .setting("ekko.state.dir", stateDir.toString()).build());
    }

    private WorkerAllocator allocator(String host, int preferred) {
        return allocator(host, preferred, dir.resolve(host), redis.uri());
    }

    private static ClockReport report(long reservedUntil, String host) {
        return new ClockReport(System.currentTimeMillis(), reservedUntil, host, 1, host);
    }

    /** Every key but the leases, as RedisSeenClockIT's backup. */
    private Map<String, byte[]> backup() {
        return RedisBackup.withoutLeases(redis.uri());
    }

    /** Loaded into the running server: same run_id and master_replid. */
    private void restore(Map<String, byte[]> backup) {
        RedisBackup.restoreInPlace(redis.uri(), backup);
    }

    private String runId() {
        try (Jedis j = new Jedis(URI.create(redis.uri()))) {
            return j.info("server").lines().filter(l -> l.startsWith("run_id:")).findFirst().orElseThrow();
        }
    }

    /** Worker 9 gets a mark from host-z (written, released), the way every worker ID in a backup has one. */
    private void historyFromHostZ(int worker, long mark) throws Exception {
        WorkerAllocator z = allocator("host-z", worker);
        WorkerLease l = z.acquire();
        assertEquals(worker, l.workerId());
        l = z.renew(l, report(mark, "host-z"));
        z.release(l, report(mark, "host-z"));
        z.close();
    }

    /**
     * Claim (safety): an acquire by a process whose host had any process that saw the epoch above the restored value never
     * trusts a restored mark; a holder that renews a lease acquired before the server restarted is listed as normal.
     *
     * <p>Attack: host-a's holder acquires worker 5; Redis restarts with its data (AOF; run_id, so the incarnation, changes;
     * the lease survives). Worker 9 gets a mark under the new incarnation and a backup is taken. host-a's holder renews three
     * times, lifting the epoch past the backup's. The backup is loaded into the running server (FLUSHALL + RESTORE). Before
     * the holder renews again, another process of host-a acquires worker 9.
     *
     * <p>Observed: {@code MARK}. {@code renew} records the epoch under {@code this.incarnation}, the incarnation of the
     * allocator's last acquire (before the restart), not the one the epoch belongs to; the seen file then holds the old
     * incarnation, so the acquire under the current one finds no memory ({@code highest} = -1). The same happens after any new
     * generation while a lease is held (the allocator that detected a restore keeps its pre-generation incarnation too).
     */
    @Test
    void aHolderFromBeforeARestartRecordsItsEpochUnderTheOldIncarnationAndTheRestoreIsMissed() throws Exception {
        redis = DisposableRedis.launch();
        long now = System.currentTimeMillis();
        WorkerAllocator holder = allocator("host-a", 5);
        WorkerLease h = holder.acquire();
        assertEquals(5, h.workerId());
        h = holder.renew(h, report(now + 1_000, "host-a"));
        String before = runId();
        redis.stop();
        redis.start();
        assertNotEquals(before, runId(), "a restart changes run_id");

        historyFromHostZ(9, now + 1_000);
        Map<String, byte[]> backup = backup();
        for (int i = 1; i <= 3; i++) {
            h = holder.renew(h, report(now + 5_000 * i, "host-a")); // the lease survived the restart: normal renewals
        }
        restore(backup);
        String seenBefore = seenFileOf(dir.resolve("host-a"));
        WorkerAllocator second = allocator("host-a", 9);
        try {
            WorkerLease s = second.acquire();
            assertEquals(9, s.workerId(), "worker 9 is free in the restored data");
            assertNotEquals(Handover.Kind.MARK, s.handover().kind(), "the restored mark " + s.handover() + " was trusted, though"
                    + " host-a's holder saw the epoch above the backup's (it recorded it under the incarnation of its own acquire,"
                    + " from before the restart); host-a's seen file held \"" + seenBefore + "\" before this"
                    + " acquire, the server's " + runId());
        } finally {
            second.close();
            holder.close();
        }
    }

    private String seenFileOf(Path stateDir) throws Exception {
        try (Stream<Path> files = Files.list(stateDir)) {
            Path f = files.filter(p -> p.getFileName().toString().startsWith("seen-")).findFirst().orElseThrow();
            return Files.readString(f).strip();
        }
    }

    /** Control: the same sequence without the restart is caught (the holder's incarnation is the current one). */
    @Test
    void controlWithoutTheRestartTheRestoreIsCaught() throws Exception {
        redis = DisposableRedis.launch();
        long now = System.currentTimeMillis();
        WorkerAllocator holder = allocator("host-a", 5);
        WorkerLease h = holder.acquire();
        h = holder.renew(h, report(now + 1_000, "host-a"));
        historyFromHostZ(9, now + 1_000);
        Map<String, byte[]> backup = backup();
        for (int i = 1; i <= 3; i++) {
            h = holder.renew(h, report(now + 5_000 * i, "host-a"));
        }
        restore(backup);
        WorkerAllocator second = allocator("host-a", 9);
        try {
            WorkerLease s = second.acquire();
            assertEquals(9, s.workerId());
            assertNotEquals(Handover.Kind.MARK, s.handover().kind(), s.handover().toString());
        } finally {
            second.close();
            holder.close();
        }
    }

    /**
     * Claim (safety), and the file key: two processes that use the same coordinator must share one seen file.
     *
     * <p>Attack: host-a's holder uses {@code redis://127.0.0.1:PORT}, another process of host-a (same ekko.state.dir)
     * {@code redis://localhost:PORT}: the same server, database and namespace. The holder renews past a backup; the backup
     * is loaded in place; the other process acquires the restored worker ID.
     *
     * <p>Observed: {@code MARK}: the file is named after the host as written, so the two spellings keep two memories and
     * the acquire finds none. (A host name in other letter case, or an IP for a DNS name, splits it the same way.)
     */
    @Test
    void anotherSpellingOfTheSameServerOnTheSameHostMissesTheRestore() throws Exception {
        redis = DisposableRedis.launch();
        String viaName = "redis://localhost:" + redis.port();
        long now = System.currentTimeMillis();
        historyFromHostZ(5, now + 1_000);
        Map<String, byte[]> backup = backup();
        WorkerAllocator holder = allocator("host-a", 5, dir.resolve("host-a"), redis.uri());
        WorkerLease h = holder.acquire();
        assertEquals(5, h.workerId());
        for (int i = 1; i <= 3; i++) {
            h = holder.renew(h, report(now + 5_000 * i, "host-a"));
        }
        restore(backup);
        WorkerAllocator second = allocator("host-a", 5, dir.resolve("host-a"), viaName);
        try {
            WorkerLease s = second.acquire();
            assertEquals(5, s.workerId(), "worker 5 is free in the restored data");
            assertNotEquals(Handover.Kind.MARK, s.handover().kind(), "the restored mark " + s.handover() + " was trusted: host-a's"
                    + " holder saw the epoch above it through " + redis.uri() + ", this process reaches the same server as "
                    + viaName);
        } finally {
            second.close();
            holder.close();
        }
    }

    /**
     * Claim (availability): "a coordinator emptied (wiped) and refilled" must not trip the check (docs/redis.md, "Redis
     * comes back empty ... flushed": only worker IDs without history wait).
     *
     * <p>Attack: host-a's process renews a few times and stops; the IDC's data is flushed inside the running server (run_id
     * and master_replid stay; no generation was ever written, so the incarnation is the same); host-b refills it: takes
     * worker 11, renews and releases it (a mark written after the flush by this incarnation). A process of host-a takes
     * worker 11.
     *
     * <p>Observed: the epoch (restarted from 0) is below what host-a's file holds for the same incarnation, so the current
     * mark is handed over as a lower bound and a new generation is written, which demotes every mark host-b's fleet wrote
     * since the flush: a TTL-plus-skew wait at each worker ID's next start, once per flush.
     */
    @Test
    void aFlushedAndRefilledServerIsTakenForARestoreByAHostThatSawItBefore() throws Exception {
        redis = DisposableRedis.launch();
        long now = System.currentTimeMillis();
        WorkerAllocator a = allocator("host-a", 3);
        WorkerLease l = a.acquire();
        for (int i = 1; i <= 5; i++) {
            l = a.renew(l, report(now + 1_000 * i, "host-a"));
        }
        a.release(l, report(now + 5_000, "host-a"));
        a.close();
        try (Jedis j = new Jedis(URI.create(redis.uri()))) {
            j.flushAll();
        }
        WorkerAllocator b = allocator("host-b", 11);
        WorkerLease lb = b.acquire();
        assertEquals(11, lb.workerId());
        assertEquals(Handover.Kind.UNKNOWN, lb.handover().kind(), "no history after the flush");
        lb = b.renew(lb, report(now + 7_000, "host-b"));
        b.release(lb, report(now + 7_000, "host-b"));
        b.close();
        WorkerAllocator a2 = allocator("host-a", 11);
        try {
            WorkerLease s = a2.acquire();
            assertEquals(11, s.workerId());
            assertEquals(Handover.mark(now + 7_000).toString(), s.handover().toString(), "the mark host-b wrote after the flush is"
                    + " current (nothing went back since it was written), but host-a took the flush for a restore");
        } finally {
            a2.close();
        }
    }

    /**
     * Claim (availability): several processes of one host sharing the state directory, concurrent writers to the seen file,
     * never trip the check.
     *
     * <p>Attack: host-a's process P2 acquires while host-a's holder P1 renews. The acquire script runs at the server and reads
     * the epoch E; P1's renewal runs next (E + 1) and records E + 1 in the seen file; then P2's reply arrives and P2 compares
     * E with the file. The interleaving is forced (a proxy holds P2's script reply until P1's renewal returned; both reach the
     * server through it, so they share one seen file); unforced, the window is P2's reply transit plus any pause (GC, a busy
     * CPU) before it reads the file, against every renewal of every process of the host.
     *
     * <p>Observed: "the IDC's epoch counter is at E, below the E + 1 a process of this host saw": worker 9's current mark is
     * handed over as a lower bound and a new generation is written for the whole namespace. Nothing went back: the file was
     * read after the server, so any renewal in between looks like a restore.
     */
    @Test
    void aRenewalOfAnotherProcessBetweenTheAcquireScriptAndItsFileReadLooksLikeARestore() throws Exception {
        acquireWithHeldReply(true);
    }

    /** Control: the same proxy and held reply, with no renewal in between: the mark is trusted. */
    @Test
    void controlTheHeldReplyAloneTrustsTheMark() throws Exception {
        acquireWithHeldReply(false);
    }

    private void acquireWithHeldReply(boolean renewInBetween) throws Exception {
        redis = DisposableRedis.launch();
        long now = System.currentTimeMillis();
        historyFromHostZ(9, now + 1_000);
        try (HoldingProxy proxy = new HoldingProxy(redis.port())) {
            String viaProxy = "redis://127.0.0.1:" + proxy.port();
            WorkerAllocator p1 = allocator("host-a", 5, dir.resolve("host-a"), viaProxy);
            // P2 is another process: its own connection, which the proxy holds the first reply of.
            WorkerAllocator p2 = allocator("host-a", 9, dir.resolve("host-a"), viaProxy, "3s");
            try {
                WorkerLease h = p1.acquire();
                h = p1.renew(h, report(now + 2_000, "host-a"));
                proxy.holdFirstScriptReplyOfNextConnection();
                java.util.concurrent.CompletableFuture<WorkerLease> acquired = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                    try {
                        return p2.acquire();
                    } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                    }
                });
                assertTrue(proxy.replyHeld.await(60, java.util.concurrent.TimeUnit.SECONDS), "P2's acquire script ran at the server");
                if (renewInBetween) {
                    h = p1.renew(h, report(now + 3_000, "host-a")); // a normal renewal of another process of the host
                }
                proxy.release.countDown();
                WorkerLease s = acquired.get(60, java.util.concurrent.TimeUnit.SECONDS);
                assertEquals(9, s.workerId());
                assertEquals(Handover.mark(now + 1_000).toString(), s.handover().toString(), "worker 9's mark is current (no data"
                        + " went back), but the acquire compared the epoch it read before P1's renewal with the file written after it");
                p1.release(h, report(now + 3_000, "host-a"));
            } finally {
                p1.close();
                p2.close();
            }
        }
    }

    /**
     * A TCP proxy to Redis that can hold, for one new connection, the reply to its first EVALSHA/EVAL until released: the
     * script has run at the server, the client has not seen the reply yet.
     */
    private static final class HoldingProxy implements AutoCloseable {
        final java.util.concurrent.CountDownLatch replyHeld = new java.util.concurrent.CountDownLatch(1);
        final java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        private final java.net.ServerSocket server;
        private final int target;
        private final java.util.List<java.net.Socket> sockets = new java.util.concurrent.CopyOnWriteArrayList<>();
        private volatile boolean armNext;

        HoldingProxy(int target) throws java.io.IOException {
            this.target = target;
            this.server = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
            Thread t = new Thread(this::accept, "holding-proxy");
            t.setDaemon(true);
            t.start();
        }

        int port() {
            return server.getLocalPort();
        }

        void holdFirstScriptReplyOfNextConnection() {
            armNext = true;
        }

        private void accept() {
            try {
                while (true) {
                    java.net.Socket client = server.accept();
                    java.net.Socket upstream = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), target);
                    sockets.add(client);
                    sockets.add(upstream);
                    boolean armed = armNext;
                    armNext = false;
                    java.util.concurrent.atomic.AtomicBoolean holdNextReply = new java.util.concurrent.atomic.AtomicBoolean();
                    pump(client, upstream, armed, holdNextReply, true);
                    pump(upstream, client, armed, holdNextReply, false);
                }
            } catch (java.io.IOException e) {
                // closed
            }
        }

        private void pump(java.net.Socket from, java.net.Socket to, boolean armed, java.util.concurrent.atomic.AtomicBoolean holdNextReply,
                boolean request) {
            Thread t = new Thread(() -> {
                byte[] buf = new byte[65536];
                StringBuilder seen = new StringBuilder();
                boolean done = false;
                try {
                    java.io.InputStream in = from.getInputStream();
                    java.io.OutputStream out = to.getOutputStream();
                    for (int n; (n = in.read(buf)) > 0; ) {
                        if (armed && !done && request) {
                            seen.append(new String(buf, 0, n, StandardCharsets.ISO_8859_1));
                            if (seen.indexOf("EVALSHA") >= 0 || seen.indexOf("\r\nEVAL\r\n") >= 0) {
                                holdNextReply.set(true); // before the request reaches the server: its reply comes after
                                done = true;
                            }
                        }
                        if (armed && !request && holdNextReply.compareAndSet(true, false)) {
                            replyHeld.countDown();
                            release.await(60, java.util.concurrent.TimeUnit.SECONDS);
                        }
                        out.write(buf, 0, n);
                        out.flush();
                    }
                } catch (java.io.IOException | InterruptedException e) {
                    // closed
                } finally {
                    try {
                        to.shutdownOutput();
                    } catch (java.io.IOException e) {
                        // gone
                    }
                }
            }, "holding-proxy-pump");
            t.setDaemon(true);
            t.start();
        }

        @Override
        public void close() throws java.io.IOException {
            release.countDown();
            server.close();
            for (java.net.Socket s : sockets) {
                s.close();
            }
        }
    }

    /**
     * Claim (robustness): the file is best effort, "when it cannot be read or written the allocator goes on without it".
     *
     * <p>Attack: another process of the host holds the seen file's lock and does not let go (frozen by SIGSTOP, a cgroup
     * freezer or a paused container while inside {@code saw}, or a hung NFS lock): here a child JVM that locks it the way
     * SeenClock does. A holder of this host renews.
     *
     * <p>Observed: {@code renew} does not return: the server extended the lease, then {@code seen.saw} waits in
     * {@code FileChannel.lock()} with no bound (inside the allocator's monitor and SeenClock's in-JVM monitor), so the
     * keeper misses its renewals and every generator of the host sharing the state directory fences, though Redis is fine.
     */
    @Test
    void aRenewalWaitsWithoutBoundForTheSeenFileLockOfAnotherProcess() throws Exception {
        redis = DisposableRedis.launch();
        Path hostA = dir.resolve("host-a");
        WorkerAllocator holder = allocator("host-a", 5);
        long now = System.currentTimeMillis();
        WorkerLease l = holder.acquire();
        Path seenFile;
        try (Stream<Path> files = Files.list(hostA)) {
            seenFile = files.filter(p -> p.getFileName().toString().startsWith("seen-")).findFirst().orElseThrow();
        }
        Path source = dir.resolve("HoldLock.java");
        Files.writeString(source, "import java.nio.channels.FileChannel; import java.nio.file.*;\n"
                + "public class HoldLock { public static void main(String[] a) throws Exception {\n"
                + "  FileChannel ch = FileChannel.open(Path.of(a[0]), StandardOpenOption.READ, StandardOpenOption.WRITE);\n"
                + "  ch.lock(); System.out.println(\"locked\"); System.out.flush(); Thread.sleep(600_000); } }\n");
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), source.toString(),
                seenFile.toString()).redirectErrorStream(true).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            assertEquals("locked", out.readLine(), "the child JVM holds the seen file's lock");
            WorkerLease held = l;
            assertTimeoutPreemptively(Duration.ofSeconds(20), () -> holder.renew(held, report(now + 1_000, "host-a")),
                    "a renewal (Redis answered) stayed blocked on the seen file's lock held by another process");
        } finally {
            child.destroyForcibly().waitFor();
            holder.close();
        }
    }

    /**
     * The seen file in the state directory must not interfere with the state files: the core creates a missing state
     * directory {@code rwx------} (StateFile.createDirectory) and never changes the mode of an existing one.
     *
     * <p>Attack: a generator on the redis allocator starts with a state directory that does not exist yet.
     *
     * <p>Observed: the allocator's acquire runs before the state file is opened, and SeenClock's
     * {@code Files.createDirectories} creates the directory first with the process umask (here {@code rwxr-xr-x}); the
     * core then finds it existing and keeps that mode, so the state directory is now open to other users (the seen file is
     * created {@code rw-r--r--} too).
     */
    @Test
    void theSeenFileCreatesTheStateDirectoryWithoutTheCoresMode() throws Exception {
        redis = DisposableRedis.launch();
        Path stateDir = dir.resolve("fresh").resolve("state");
        try (IdGenerator g = FastGenerators.start(redis.uri(), "seen-mode", stateDir, "mode-1")) {
            g.next();
        }
        try (Stream<Path> files = Files.list(stateDir)) {
            assertTrue(files.anyMatch(p -> p.getFileName().toString().startsWith("seen-")), "the seen file is there");
        }
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(stateDir)), "the state directory "
                + stateDir + " (the core creates it rwx------ when it creates it)");
    }

    /** Control for the above: the core alone (host-local) creates the state directory rwx------. */
    @Test
    void controlTheCoreAloneCreatesTheStateDirectoryPrivate() throws Exception {
        Path stateDir = dir.resolve("fresh-local").resolve("state");
        try (IdGenerator g = dev.ekko.Ekko.newBuilder().allocator("host-local").stateDirectory(stateDir)
                .setting("ekko.host.lock.dir", dir.resolve("locks").toString()).build()) {
            g.next();
        }
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(stateDir)));
    }
}
