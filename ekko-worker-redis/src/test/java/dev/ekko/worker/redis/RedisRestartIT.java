package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.DecodedId;
import dev.ekko.IdGenerator;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testkit.Issuer;
import dev.ekko.testsupport.DisposableRedis;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * Redis restarted with its data from disk, which may be older than what holders last reported (an old
 * snapshot), or failed over to a replica and back: a handover mark written by another incarnation of the
 * server is handed over as a lower bound only ({@code Handover.atLeast}), so the next holder starts past the
 * later of it and the longest lease an earlier holder could still hold.
 */
class RedisRestartIT {

    @TempDir
    Path stateDir;

    private DisposableRedis redis;

    @AfterEach
    void stop() {
        if (redis != null) {
            redis.close();
        }
    }

    private WorkerAllocator allocator(String host) {
        return allocator(host, 7);
    }

    private WorkerAllocator allocator(String host, int worker) {
        return new RedisAllocatorProvider().create(AllocatorContext.builder().idc(1).workerIds(256).preferredWorkerId(worker)
                .instance(host).host(host).leaseTtl(Duration.ofSeconds(30)).setting("ekko.redis.uri", redis.uri())
                .setting("ekko.redis.namespace", "restart").setting("ekko.state.dir", stateDir.toString()).build());
    }

    private static ClockReport report(long reservedUntil, String host) {
        return new ClockReport(System.currentTimeMillis(), reservedUntil, host, 1, host);
    }

    /** Deletes worker 7's lease, as loading a snapshot taken before the lease was granted (or renewed in time) does. */
    private void dropLease() {
        try (Jedis jedis = new Jedis(java.net.URI.create(redis.uri()))) {
            assertEquals(1, jedis.del(new RedisKeys("restart", 1).lease(7)));
        }
    }

    @Test
    void aMarkFromTheSameServerIncarnationIsHandedOver() throws Exception {
        redis = DisposableRedis.launch();
        long reserved = System.currentTimeMillis() + 60_000;
        WorkerAllocator a = allocator("host-a");
        WorkerLease lease = a.acquire();
        a.renew(lease, report(reserved, "host-a"));
        dropLease();
        WorkerLease next = allocator("host-b").acquire();
        assertEquals(7, next.workerId());
        assertEquals(Handover.mark(reserved).toString(), next.handover().toString());
        a.close();
    }

    @Test
    void aMarkWrittenBeforeTheServerRestartedIsHandedOverAsALowerBound() throws Exception {
        redis = DisposableRedis.launch();
        long reserved = System.currentTimeMillis() + 60_000;
        WorkerAllocator a = allocator("host-a");
        WorkerLease lease = a.acquire();
        a.renew(lease, report(reserved, "host-a"));
        a.close();
        redis.stop();
        redis.start(); // same data, new incarnation
        dropLease();
        WorkerAllocator b = allocator("host-b");
        WorkerLease next = b.acquire();
        assertEquals(7, next.workerId());
        // Not the latest mark for sure (the data may be an old snapshot), but no earlier holder reported less: the core
        // starts past the later of it and the no-history wait. Handing over "no history" would let a holder whose
        // clock is correct start below a mark a clock that was ahead for a moment left behind.
        assertEquals(Handover.atLeast(reserved).toString(), next.handover().toString());
        // The old mark still bounds what this holder may release: history never goes below it.
        b.release(next, report(System.currentTimeMillis(), "host-b"));
        WorkerLease third = allocator("host-c").acquire();
        assertEquals(Handover.mark(reserved).toString(), third.handover().toString());
        b.close();
    }

    /**
     * The case that made the mark a lower bound: a holder whose clock stepped ahead for a moment released a mark 6 s
     * ahead; Redis restarted with its data; the next holder, with a correct clock, must not start below that mark
     * (waiting only TTL + skew, it would repeat the first holder's IDs of those seconds).
     */
    @Test
    void aHolderAfterARestartStartsPastAMarkAheadOfItsClockLeftBeforeTheRestart() throws Exception {
        redis = DisposableRedis.launch();
        WorkerAllocator a = new RedisAllocatorProvider().create(AllocatorContext.builder().idc(FastGenerators.IDC).workerIds(4096)
                .preferredWorkerId(7).instance("ahead").host("host-ahead").leaseTtl(FastGenerators.TTL)
                .setting("ekko.redis.uri", redis.uri()).setting("ekko.redis.namespace", "restart").build());
        WorkerLease lease = a.acquire();
        // What the core releases after its clock ran 6 s ahead for a while: the last millisecond it used, 6 s from now.
        long aheadMark = System.currentTimeMillis() + 6_000;
        a.release(lease, new ClockReport(System.currentTimeMillis(), aheadMark, "host-ahead", 1, "ahead"));
        a.close();
        redis.stop();
        redis.start();
        try (IdGenerator b = FastGenerators.builder(redis.uri(), "restart", stateDir.resolve("b"), "b").workerId(7).build()) {
            DecodedId first = b.layout().decode(b.next());
            assertEquals(7, first.worker());
            assertTrue(first.epochMillis() > aheadMark, "started at " + first.timestamp() + ", not past the mark left before the"
                    + " restart, " + java.time.Instant.ofEpochMilli(aheadMark) + ": IDs of the earlier holder may repeat");
        }
    }

    /**
     * The index a new instance name finds worker IDs with safe history through holds marks of the running incarnation
     * only: the first renewal or release after a restart empties it before adding its own.
     */
    @Test
    void theIndexOfSafeMarksStartsAfreshWithANewIncarnation() throws Exception {
        redis = DisposableRedis.launch();
        RedisKeys keys = new RedisKeys("restart", 1);
        for (int w : new int[] {7, 8}) {
            WorkerAllocator a = allocator("host-" + w, w);
            a.release(a.acquire(), report(System.currentTimeMillis(), "host-" + w));
            a.close();
        }
        try (Jedis jedis = new Jedis(java.net.URI.create(redis.uri()))) {
            assertEquals(java.util.List.of("7", "8"), jedis.zrange(keys.marks(), 0, -1));
        }
        redis.stop();
        redis.start();
        WorkerAllocator c = allocator("host-c", 9);
        c.release(c.acquire(), report(System.currentTimeMillis(), "host-c"));
        c.close();
        try (Jedis jedis = new Jedis(java.net.URI.create(redis.uri()))) {
            assertEquals(java.util.List.of("9"), jedis.zrange(keys.marks(), 0, -1));
            // run_id:master_replid:generation (the generation the IDC's first acquire wrote, kept across the restart)
            String generation = jedis.get(keys.generation());
            assertTrue(generation != null && !generation.isEmpty(), "the first acquire wrote a generation");
            assertEquals(identity(redis).replace(' ', ':') + ":" + generation, jedis.get(keys.marksIncarnation()));
        }
    }

    /** What the incarnation rests on, as Redis 7.0 does it: a restart with its data changes both run_id and master_replid. */
    @Test
    void aRestartWithItsDataChangesBothTheRunIdAndTheReplicationId() {
        redis = DisposableRedis.launch();
        String before = identity(redis);
        try (Jedis jedis = new Jedis(java.net.URI.create(redis.uri()))) {
            jedis.set("restart:kept", "1");
        }
        redis.stop();
        redis.start();
        String after = identity(redis);
        try (Jedis jedis = new Jedis(java.net.URI.create(redis.uri()))) {
            assertEquals("1", jedis.get("restart:kept"), "the restart lost its data; this test needs it kept");
        }
        String[] b = before.split(" ");
        String[] c = after.split(" ");
        assertNotEquals(b[0], c[0], "run_id");
        assertNotEquals(b[1], c[1], "master_replid");
    }

    /**
     * A failover to a replica and back to the first server, which never restarted: its run_id is the same as when it wrote
     * the mark, but the replica may have taken reports the first server never got (or lost), so the mark is only a lower
     * bound. Every promotion gives the promoted server a new master_replid, and that is what tells the incarnations apart.
     */
    @Test
    void aMarkWrittenBeforeAFailoverToAReplicaAndBackIsOnlyALowerBound() throws Exception {
        redis = DisposableRedis.launch();
        try (DisposableRedis replica = DisposableRedis.launch()) {
            follow(replica, redis);
            long reserved = System.currentTimeMillis() + 60_000;
            WorkerAllocator a = allocator("host-a");
            WorkerLease lease = a.acquire();
            a.renew(lease, report(reserved, "host-a"));
            a.close();
            String runId = identity(redis).split(" ")[0];
            awaitReplicated(replica, new RedisKeys("restart", 1).history(7));
            promote(replica);
            follow(redis, replica); // the first server follows the replica it failed over to ...
            promote(redis); // ... and takes over again: the same process, never restarted
            assertEquals(runId, identity(redis).split(" ")[0], "the first server restarted; this test is about one that did not");
            dropLease();
            WorkerLease next = allocator("host-b").acquire();
            assertEquals(7, next.workerId());
            assertEquals(Handover.atLeast(reserved).toString(), next.handover().toString());
        }
    }

    /** @return "run_id master_replid" of the server */
    private static String identity(DisposableRedis server) {
        try (Jedis jedis = new Jedis(java.net.URI.create(server.uri()))) {
            return field(jedis.info("server"), "run_id") + " " + field(jedis.info("replication"), "master_replid");
        }
    }

    private static String field(String info, String name) {
        for (String line : info.split("\r?\n")) {
            if (line.startsWith(name + ":")) {
                return line.substring(name.length() + 1).strip();
            }
        }
        throw new AssertionError("no " + name + " in INFO: " + info);
    }

    /** Makes {@code follower} a replica of {@code leader} and waits until it has synchronized. */
    private static void follow(DisposableRedis follower, DisposableRedis leader) throws InterruptedException {
        try (Jedis jedis = new Jedis(java.net.URI.create(follower.uri()))) {
            jedis.replicaof("127.0.0.1", leader.port());
            Issuer.await("replica of " + leader.uri() + " in sync", Duration.ofSeconds(20),
                    () -> jedis.info("replication").contains("master_link_status:up"));
        }
    }

    private static void awaitReplicated(DisposableRedis replica, String key) throws InterruptedException {
        try (Jedis jedis = new Jedis(java.net.URI.create(replica.uri()))) {
            Issuer.await(key + " on the replica", Duration.ofSeconds(10), () -> jedis.exists(key));
        }
    }

    private static void promote(DisposableRedis server) {
        try (Jedis jedis = new Jedis(java.net.URI.create(server.uri()))) {
            jedis.replicaofNoOne();
        }
    }
}
