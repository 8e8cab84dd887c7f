package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import dev.ekko.LeaseLostException;
import dev.ekko.WorkerIdsExhaustedException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.TestServers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * The redis allocator's own promises beyond the core contract, on the shared Redis: many processes at once,
 * exhaustion and what an acquire costs, the instance name, what release hands over, and the server's clock.
 */
class RedisLeaseIT {

    private static final String CLASS_PREFIX = TestServers.redisKeyPrefix(RedisLeaseIT.class);
    private static final int WORKER_IDS = 256;
    private static final int IDC = 2;

    @TempDir
    java.nio.file.Path stateDir;

    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);
    private final List<WorkerAllocator> opened = new ArrayList<>();

    @AfterEach
    void closeAllocators() {
        synchronized (opened) {
            opened.forEach(WorkerAllocator::close);
        }
    }

    @AfterAll
    static void deleteThisClassesKeys() {
        SharedRedis.deleteKeys(CLASS_PREFIX);
    }

    private AllocatorContext.Builder context(String instance, String host) {
        return AllocatorContext.builder().idc(IDC).workerIds(WORKER_IDS).instance(instance).host(host).pid(4242)
                .setting("ekko.redis.uri", SharedRedis.uri()).setting("ekko.redis.namespace", namespace);
    }

    private WorkerAllocator allocator(AllocatorContext context) {
        WorkerAllocator a = new RedisAllocatorProvider().create(context);
        synchronized (opened) {
            opened.add(a);
        }
        return a;
    }

    private WorkerAllocator allocator(String instance) {
        return allocator(context(instance, "host-" + instance).build());
    }

    private static ClockReport report(long reservedUntil, String host) {
        return new ClockReport(System.currentTimeMillis(), reservedUntil, host, 4242, "i-" + host);
    }

    // ---------------------------------------------------------------- many at once, exhaustion

    @Test
    void manyProcessesAcquiringAtOnceAllGetDistinctWorkerIds() throws Exception {
        List<Object> results = acquireAtOnce(96);
        Set<Object> distinct = new HashSet<>(results);
        assertEquals(96, distinct.size(), "worker IDs handed out twice: " + results);
        assertTrue(results.stream().allMatch(r -> r instanceof Integer), "failures: " + results);
    }

    @Test
    void moreProcessesThanWorkerIdsGetEachWorkerIdOnceAndTheRestAClearError() throws Exception {
        List<Object> results = acquireAtOnce(WORKER_IDS + 20);
        Set<Integer> granted = new HashSet<>();
        List<String> refusals = new ArrayList<>();
        for (Object r : results) {
            if (r instanceof Integer w) {
                assertTrue(granted.add(w), "worker ID " + w + " handed out twice");
            } else {
                refusals.add(((WorkerIdsExhaustedException) r).getMessage());
            }
        }
        assertEquals(WORKER_IDS, granted.size());
        assertEquals(20, refusals.size());
        String m = refusals.get(0);
        assertTrue(m.startsWith("all 256 worker IDs of idc=2 are held at redis " + SharedRedis.uri().substring("redis://".length())
                + " namespace " + namespace + "; the 64 leases that expire first are held by 64 holders: host host-"), m);
        assertTrue(m.contains(", and 56 more. Stop a process, wait for the leases of dead ones to expire (30000 ms), or use another"
                + " idc (ekko.idc) or fewer product bits (ekko.product.bits)"), m);
    }

    /** Starts n threads, each with its own allocator (sharing this JVM's connections to the server), released together. */
    private List<Object> acquireAtOnce(int n) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Integer>> futures = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                WorkerAllocator a = allocator("p" + i);
                Callable<Integer> task = () -> {
                    go.await();
                    return a.acquire().workerId();
                };
                futures.add(pool.submit(task));
            }
            go.countDown();
            List<Object> results = new ArrayList<>();
            for (Future<Integer> f : futures) {
                try {
                    results.add(f.get());
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof WorkerIdsExhaustedException)) {
                        throw e;
                    }
                    results.add(e.getCause());
                }
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void exhaustionNamesTheHoldersOfTheLeasesThatExpireFirstMostWorkerIdsFirst() throws Exception {
        // The leases that expire first are the ones renewed longest ago: a dead process's, the ones worth naming. The sample
        // is bounded (64 leases), so an exhausted acquire costs the same with 256 worker IDs as with 4096.
        WorkerAllocator small = allocator(context("small", "host-small").build());
        WorkerAllocator big = allocator(context("big", "host-big").build());
        for (int i = 0; i < 20; i++) {
            small.acquire();
        }
        Thread.sleep(5); // every later lease expires later
        for (int i = 20; i < WORKER_IDS; i++) {
            big.acquire();
        }
        WorkerIdsExhaustedException e = assertThrows(WorkerIdsExhaustedException.class, () -> allocator("late").acquire());
        assertTrue(e.getMessage().contains("; the 64 leases that expire first are held by 2 holders: host host-big instance big (44),"
                + " host host-small instance small (20). "), e.getMessage());
    }

    // ---------------------------------------------------------------- where the scan starts, the instance name

    /**
     * The free worker IDs are found through the lease index, not by looking at every worker ID: with 4,095 of 4,096 held, an
     * acquire reads a bounded number of keys wherever the free one is, and so does an acquire refused because all are held.
     * (Before the index, an acquire looked at each worker ID from a random start: about 2,000 keys for one free worker ID, and
     * 8,192 to refuse.)
     */
    @Test
    void anAcquireReadsABoundedNumberOfKeysWhateverTheNumberOfWorkerIds() throws Exception {
        int n = 4096;
        WorkerAllocator filler = allocator(context("filler", "host-filler").workerIds(n).build());
        List<WorkerLease> held = new ArrayList<>();
        for (int i = 0; i < n - 1; i++) {
            held.add(filler.acquire());
        }
        WorkerAllocator late = allocator(context("late", "host-late").workerIds(n).build());
        long most = 0;
        java.util.Random random = new java.util.Random(7);
        for (int round = 0; round < 8; round++) {
            long before = keyReads();
            WorkerLease l = late.acquire();
            most = Math.max(most, keyReads() - before);
            // Free another worker ID, somewhere else, for the next round.
            late.release(l, report(System.currentTimeMillis(), "host-late"));
            WorkerLease gone = held.remove(random.nextInt(held.size()));
            filler.release(gone, report(System.currentTimeMillis(), "host-filler"));
            held.add(filler.acquire());
        }
        assertTrue(most < 300, "an acquire with one free worker ID of " + n + " read up to " + most + " keys");
        held.add(filler.acquire()); // the last free one: now all are held
        long before = keyReads();
        assertThrows(WorkerIdsExhaustedException.class, late::acquire);
        long refused = keyReads() - before;
        assertTrue(refused < 300, "an acquire refused because all " + n + " worker IDs are held read " + refused + " keys");
    }

    /** Calls the server has counted of the commands that read one worker ID's keys (scripts' calls included). */
    private static long keyReads() {
        try (Jedis j = SharedRedis.connect()) {
            long total = 0;
            for (String line : j.info("commandstats").split("\r?\n")) {
                if (line.startsWith("cmdstat_exists:") || line.startsWith("cmdstat_pttl:") || line.startsWith("cmdstat_hmget:")
                        || line.startsWith("cmdstat_hget:")) {
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("calls=(\\d+)").matcher(line);
                    if (m.find()) {
                        total += Long.parseLong(m.group(1));
                    }
                }
            }
            return total;
        }
    }

    @Test
    void aRestartWithTheSameInstanceNameGetsItsWorkerIdBackWhenFree() throws Exception {
        WorkerAllocator first = allocator("svc-1");
        WorkerLease held = first.acquire();
        first.release(held, report(System.currentTimeMillis(), "host-svc-1"));
        // Other instances take 20 other worker IDs meanwhile. Each names its own, so none takes svc-1's: a filler
        // scanning from a random start could land on it (it is free), and then it would rightly not come back.
        for (int i = 0; i < 20; i++) {
            int other = (held.workerId() + 1 + i) % WORKER_IDS;
            assertEquals(other, allocator(context("filler-" + i, "host-filler-" + i).preferredWorkerId(other).build())
                    .acquire().workerId());
        }
        assertEquals(held.workerId(), allocator("svc-1").acquire().workerId());
    }

    @Test
    void aWorkerIdTakenByAnotherInstanceIsNoLongerRememberedForTheFirst() throws Exception {
        WorkerAllocator first = allocator("svc-1");
        WorkerLease held = first.acquire();
        first.release(held, report(System.currentTimeMillis(), "host-svc-1"));
        WorkerLease other = allocator(context("svc-2", "host-2").preferredWorkerId(held.workerId()).build()).acquire();
        assertEquals(held.workerId(), other.workerId());
        try (Jedis jedis = SharedRedis.connect()) {
            String instances = new RedisKeys(namespace, IDC).instances();
            assertNull(jedis.hget(instances, "svc-1"), "the instances hash would grow with every instance name ever seen");
            assertEquals(Integer.toString(held.workerId()), jedis.hget(instances, "svc-2"));
        }
        assertNotEquals(held.workerId(), allocator("svc-1").acquire().workerId());
    }

    @Test
    void theConfiguredWorkerIdComesBeforeTheInstancesLastOne() throws Exception {
        WorkerAllocator first = allocator("svc-1");
        WorkerLease held = first.acquire();
        first.release(held, report(System.currentTimeMillis(), "host-svc-1"));
        int preferred = (held.workerId() + 1) % WORKER_IDS;
        assertEquals(preferred, allocator(context("svc-1", "h").preferredWorkerId(preferred).build()).acquire().workerId());
    }

    /**
     * A new instance name (a pod of a fleet with random names) takes a free worker ID whose history this server
     * incarnation wrote and that is safe to start on now, rather than one without history, where it would wait a lease
     * TTL plus the skew. A mark far ahead, or one from another incarnation, is passed over for it.
     */
    @Test
    void aNewInstanceNamePrefersAFreeWorkerIdWithHistorySafeToUseNow() throws Exception {
        int good = 200;
        int ahead = 120;
        int untrusted = 40;
        long now = System.currentTimeMillis();
        for (int w : new int[] {good, ahead, untrusted}) {
            WorkerAllocator a = allocator(context("old-" + w, "host-old").preferredWorkerId(w).build());
            WorkerLease l = a.acquire();
            assertEquals(w, l.workerId());
            a.release(l, report(w == ahead ? now + 60_000 : now - 1_000, "host-old"));
        }
        try (Jedis jedis = SharedRedis.connect()) {
            jedis.hset(new RedisKeys(namespace, IDC).history(untrusted), "incarnation", "another-server");
        }
        WorkerLease fresh = allocator("pod-" + UUID.randomUUID()).acquire();
        assertEquals(good, fresh.workerId(), "a new instance name took a worker ID without trusted history safe to use now");
        assertEquals(Handover.mark(now - 1_000).toString(), fresh.handover().toString());
    }

    /**
     * For a start the core refused on a worker ID (its mark far ahead of this host's clock): the next acquire must not hand
     * the same worker ID back, neither as the configured one nor as the instance's last one.
     */
    @Test
    void anAvoidedWorkerIdIsNotTakenEvenWhenConfiguredOrTheInstancesLast() throws Exception {
        RedisWorkerAllocator a = (RedisWorkerAllocator) allocator(context("svc", "host-svc").preferredWorkerId(50).build());
        WorkerLease first = a.acquire();
        assertEquals(50, first.workerId());
        a.release(first, report(System.currentTimeMillis(), "host-svc"));
        WorkerLease second = a.acquire(Set.of(50));
        assertNotEquals(50, second.workerId());
        a.release(second, report(System.currentTimeMillis(), "host-svc"));
        RedisWorkerAllocator unconfigured = (RedisWorkerAllocator) allocator("svc");
        assertEquals(second.workerId(), unconfigured.acquire(Set.of()).workerId(), "the instance's last worker ID comes back when"
                + " not avoided");
        WorkerLease third = a.acquire(Set.of(50, second.workerId()));
        assertTrue(third.workerId() != 50 && third.workerId() != second.workerId(), "took avoided worker " + third.workerId());
    }

    @Test
    void whenEveryFreeWorkerIdIsAvoidedTheErrorSaysSo() throws Exception {
        WorkerAllocator filler = allocator(context("filler", "host-filler").build());
        Set<Integer> held = new HashSet<>();
        for (int i = 0; i < WORKER_IDS - 2; i++) {
            held.add(filler.acquire().workerId());
        }
        List<Integer> free = new ArrayList<>();
        for (int w = 0; w < WORKER_IDS; w++) {
            if (!held.contains(w)) {
                free.add(w);
            }
        }
        RedisWorkerAllocator late = (RedisWorkerAllocator) allocator("late");
        WorkerIdsExhaustedException e = assertThrows(WorkerIdsExhaustedException.class, () -> late.acquire(Set.copyOf(free)));
        assertTrue(e.getMessage().startsWith("all 254 worker IDs of idc=2 this process may take are held at redis "), e.getMessage());
        assertTrue(e.getMessage().contains(" (2 more are free but refused by this process: " + free.get(0) + ", " + free.get(1)
                + "); the 64 leases that expire first are held by 1 holder: host host-filler instance filler (64). "), e.getMessage());
    }

    // ---------------------------------------------------------------- renew and release

    @Test
    void aLostLeaseSaysWhetherItIsGoneOrWhoHoldsItNow() throws Exception {
        Duration ttl = Duration.ofSeconds(1);
        WorkerAllocator a = allocator(context("a", "host-a").leaseTtl(ttl).preferredWorkerId(9).build());
        WorkerLease lease = a.acquire();
        WorkerAllocator b = allocator(context("b", "host-b").leaseTtl(ttl).preferredWorkerId(9).build());
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        WorkerLease taken = b.acquire();
        while (taken.workerId() != 9 && System.nanoTime() < deadline) {
            b.release(taken, report(System.currentTimeMillis(), "host-b"));
            Thread.sleep(50);
            taken = b.acquire();
        }
        assertEquals(9, taken.workerId(), "worker 9 was not free after its lease expired");
        LeaseLostException heldByB = assertThrows(LeaseLostException.class,
                () -> a.renew(lease, report(System.currentTimeMillis() + 1000, "host-a")));
        assertTrue(heldByB.getMessage().startsWith("lease of idc=2 worker=9 at redis "), heldByB.getMessage());
        assertTrue(heldByB.getMessage().endsWith(" is now held by host host-b pid 4242 instance b: ours expired (no renewal"
                + " within 1000 ms) or the server lost its data, and the worker ID was acquired again"), heldByB.getMessage());
        b.release(taken, report(System.currentTimeMillis(), "host-b"));
        LeaseLostException gone = assertThrows(LeaseLostException.class,
                () -> a.renew(lease, report(System.currentTimeMillis() + 1000, "host-a")));
        assertTrue(gone.getMessage().endsWith(" is gone: it expired (no renewal within 1000 ms), was released, or the server lost"
                + " its data; a renewal never re-creates it"), gone.getMessage());
        try (Jedis jedis = SharedRedis.connect()) {
            assertTrue(!jedis.exists(new RedisKeys(namespace, IDC).lease(9)), "a lost lease's renewal re-created it");
        }
    }

    @Test
    void aCleanReleaseHandsOverTheLastMillisecondUsedNeverLessThanEarlierHoldersReported() throws Exception {
        long now = System.currentTimeMillis();
        WorkerAllocator a = allocator(context("a", "host-a").preferredWorkerId(21).build());
        WorkerLease first = a.acquire();
        a.renew(first, report(now + 5_000, "host-a"));
        a.release(first, report(now + 5_000, "host-a"));
        // The first holder's history was unknown: its final report (at or above the floor it waited for) is the mark.
        WorkerLease second = a.acquire();
        assertEquals(21, second.workerId());
        assertEquals(Handover.mark(now + 5_000).toString(), second.handover().toString());
        // The second started past now + 5 s, reserved up to a minute, and used up to now + 6 s: that is what the next one gets.
        a.renew(second, report(now + 60_000, "host-a"));
        a.release(second, report(now + 6_000, "host-a"));
        WorkerLease third = a.acquire();
        assertEquals(now + 6_000, third.handover().markMillis());
        // A release that reports less than the mark the holder started past never lowers it.
        a.release(third, report(now + 1, "host-a"));
        assertEquals(now + 6_000, a.acquire().handover().markMillis());
    }

    @Test
    void aFailedFirstStartHandsOverTheFloorItReported() throws Exception {
        WorkerAllocator a = allocator(context("a", "host-a").preferredWorkerId(33).build());
        WorkerLease first = a.acquire();
        assertEquals(Handover.Kind.UNKNOWN, first.handover().kind());
        // Released before its first report (a start that failed): the core reports the floor it would have waited for.
        long floor = System.currentTimeMillis() + 33_000;
        a.release(first, report(floor, "host-a"));
        WorkerLease second = a.acquire();
        assertEquals(33, second.workerId());
        assertEquals(Handover.mark(floor).toString(), second.handover().toString());
        assertEquals("host-a", second.previousReport().host());
    }

    /**
     * What the core guarantees is where the first ID of each start lies, not how long a start takes: the first start on a
     * worker ID without history issues nothing before its clock at acquire + TTL + skew; a restart after a clean close
     * starts past the last millisecond used, which the release handed over as the mark (not past a reservation ahead).
     * Both are read from the IDs' timestamps and the server's history, against the wall clock: no elapsed-time bound,
     * which a loaded machine or a clock adjustment could break.
     */
    @Test
    void aGeneratorRestartedOnAWorkerIdWithoutHistoryWaitsOnlyTheFirstTime() {
        String ns = namespace + "restart";
        Map<String, String> s = Map.of("ekko.worker.allocator", "redis", "ekko.redis.uri", SharedRedis.uri(),
                "ekko.redis.namespace", ns, "ekko.worker.id", "44", "ekko.worker.lease.ttl", "2s",
                "ekko.worker.lease.margin", "500ms", "ekko.worker.report.interval", "300ms", "ekko.state.reservation", "1s",
                "ekko.clock.max.skew", "200ms");
        long startedAt = System.currentTimeMillis(); // read before the acquire, so at or below the core's clock at acquire
        long last;
        Layout layout;
        try (IdGenerator g = build(s, stateDir.resolve("a"))) {
            layout = g.layout();
            long firstId = g.next();
            assertEquals(44, layout.decode(firstId).worker());
            long firstMillis = layout.decode(firstId).epochMillis();
            assertTrue(firstMillis > startedAt + 2_200, "the first start must issue nothing before its clock at acquire + TTL + skew"
                    + " (after " + (startedAt + 2_200) + "), its first ID is at " + firstMillis);
            last = g.next();
        }
        long closedAt = System.currentTimeMillis();
        try (Jedis jedis = SharedRedis.connect()) {
            long mark = Long.parseLong(jedis.hget(new RedisKeys(ns, 0).history(44), "mark"));
            assertTrue(mark >= layout.decode(last).epochMillis(), "the mark " + mark + " is below the last ID " + layout.decode(last));
            assertTrue(mark <= closedAt, "a clean close must hand over the last millisecond used, not its reservation: mark "
                    + mark + " is after the close at " + closedAt);
        }
        try (IdGenerator g = build(s, stateDir.resolve("b"))) { // another host's state dir: only Redis knows the history
            assertTrue(Layout.compare(g.next(), last) > 0);
        }
    }

    private static IdGenerator build(Map<String, String> settings, java.nio.file.Path dir) {
        Ekko.Builder b = Ekko.newBuilder().stateDirectory(dir);
        settings.forEach(b::setting);
        return b.build();
    }

    @Test
    void coordinatorTimeIsTheServersClockAndGrantedAtIsReadBeforeTheRequest() throws Exception {
        WorkerAllocator a = allocator("clock");
        long before;
        long after;
        long nanosBefore = System.nanoTime();
        WorkerLease lease;
        try (Jedis jedis = SharedRedis.connect()) {
            before = serverMillis(jedis);
            lease = a.acquire();
            after = serverMillis(jedis);
        }
        assertTrue(lease.coordinatorTimeMillis() >= before && lease.coordinatorTimeMillis() <= after,
                before + " <= " + lease.coordinatorTimeMillis() + " <= " + after);
        assertTrue(lease.grantedAtNanos() - nanosBefore >= 0);
        assertEquals(Duration.ofSeconds(30), lease.ttl());
        long renewBefore;
        long renewAfter;
        WorkerLease renewed;
        try (Jedis jedis = SharedRedis.connect()) {
            renewBefore = serverMillis(jedis);
            renewed = a.renew(lease, report(System.currentTimeMillis() + 1000, "host-clock"));
            renewAfter = serverMillis(jedis);
            // The renewal set the expiry to the TTL again, from the server's now.
            long pttl = jedis.pttl(new RedisKeys(namespace, IDC).lease(lease.workerId()));
            assertTrue(pttl > 29_000 && pttl <= 30_000, "pttl=" + pttl);
        }
        assertTrue(renewed.coordinatorTimeMillis() >= renewBefore && renewed.coordinatorTimeMillis() <= renewAfter);
        assertTrue(renewed.grantedAtNanos() - lease.grantedAtNanos() > 0);
    }

    private static long serverMillis(Jedis jedis) {
        List<String> t = jedis.time();
        return Long.parseLong(t.get(0)) * 1000 + Long.parseLong(t.get(1)) / 1000;
    }
}
