package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.WorkerIdsExhaustedException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.TestServers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

/**
 * Review of the lease index (acquire.lua's {@code leases} sorted set and {@code fresh} counter, c78ea55): does an acquire
 * still find a free worker ID whenever one exists, and never a held one, when the index is lost, stale, or shared by processes
 * that see it differently (another {@code ekko.worker.ids}, configured worker IDs, an older version during a rolling upgrade);
 * and does it stay bounded.
 */
class RedisLeaseIndexReviewIT {

    private static final String CLASS_PREFIX = TestServers.redisKeyPrefix(RedisLeaseIndexReviewIT.class);
    private static final int IDC = 4;
    /** Short, so that "longer than one lease TTL" can be shown without a long test. */
    private static final Duration TTL = Duration.ofMillis(2500);

    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);
    private final RedisKeys keys = new RedisKeys(namespace, IDC);
    private final List<WorkerAllocator> opened = new ArrayList<>();

    @AfterEach
    void closeAllocators() {
        opened.forEach(WorkerAllocator::close);
    }

    @AfterAll
    static void deleteThisClassesKeys() {
        SharedRedis.deleteKeys(CLASS_PREFIX);
    }

    private AllocatorContext.Builder context(String instance, int n) {
        return AllocatorContext.builder().idc(IDC).workerIds(n).instance(instance).host("host-" + instance).pid(7).leaseTtl(TTL)
                .setting("ekko.redis.uri", SharedRedis.uri()).setting("ekko.redis.namespace", namespace);
    }

    private WorkerAllocator allocator(AllocatorContext context) {
        WorkerAllocator a = new RedisAllocatorProvider().create(context);
        opened.add(a);
        return a;
    }

    private WorkerAllocator allocator(String instance, int n) {
        return allocator(context(instance, n).build());
    }

    private static ClockReport report() {
        long now = System.currentTimeMillis();
        return new ClockReport(now, now + 1000, "host-r", 7, "r");
    }

    /** A worker ID, or the refusal's message. */
    private static Object attempt(WorkerAllocator a) throws InterruptedException {
        try {
            return a.acquire().workerId();
        } catch (WorkerIdsExhaustedException e) {
            String m = e.getMessage();
            return "refused: " + m.substring(0, Math.min(m.length(), 60)) + "...";
        }
    }

    /** The held leases, each renewed through its own allocator, for {@code forMillis}, every 400 ms. */
    private static void keepRenewing(Map<WorkerLease, WorkerAllocator> held, long forMillis) throws Exception {
        long end = System.nanoTime() + Duration.ofMillis(forMillis).toNanos();
        do {
            Map<WorkerLease, WorkerAllocator> renewed = new HashMap<>();
            for (Map.Entry<WorkerLease, WorkerAllocator> e : held.entrySet()) {
                renewed.put(e.getValue().renew(e.getKey(), report()), e.getValue());
            }
            held.clear();
            held.putAll(renewed);
            Thread.sleep(400);
        } while (System.nanoTime() < end);
    }

    /** The holder of {@code w} died: its lease expires (what Redis does after the TTL without a renewal, sooner). */
    private void dies(int w) throws InterruptedException {
        try (Jedis j = SharedRedis.connect()) {
            assertEquals(1, j.pexpire(keys.lease(w), 1));
        }
        Thread.sleep(20);
    }

    /** The leases index is lost alone (an eviction under an allkeys-* maxmemory policy, an operator's DEL, a partial restore). */
    private void indexLost() {
        try (Jedis j = SharedRedis.connect()) {
            assertEquals(1, j.del(keys.leases()));
        }
    }

    // ---------------------------------------------------------------- finding 1: a lost index hidden by entries at or above fresh

    /**
     * Finding 1a. Processes of one namespace may use fewer worker IDs ({@code ekko.worker.ids} is not a fleet setting). After
     * the index is lost, the renewals of the holders re-create it; the "index was lost" test, {@code ZCARD(leases) <
     * min(fresh, n)}, counts entries at or above {@code n} too, so a process with a smaller n never walks again, and a worker
     * ID whose holder died is in no index entry: refused for as long as the others keep renewing.
     */
    @Test
    void aLostIndexIsFoundAgainByAProcessWithFewerWorkerIds() throws Exception {
        Map<WorkerLease, WorkerAllocator> held = new HashMap<>();
        for (int i = 0; i < 16; i++) {
            WorkerAllocator a = allocator("big-" + i, 16);
            held.put(a.acquire(), a);
        }
        WorkerLease dead = held.keySet().stream().filter(l -> l.workerId() == 3).findFirst().orElseThrow();
        held.remove(dead);
        dies(3);
        indexLost();
        keepRenewing(held, 0); // every live holder renews once: 15 entries again, 8 of them at or above 8
        WorkerAllocator small = allocator("small-1", 8);
        Object atOnce = attempt(small);
        if (atOnce.equals(3)) {
            return;
        }
        keepRenewing(held, TTL.toMillis() + 1000);
        Object later = attempt(allocator("small-2", 8));
        assertEquals(3, later, "worker ID 3 of 8 is free (its holder died) but an allocator with ekko.worker.ids=8 was refused at once ("
                + atOnce + ") and again after more than a lease TTL of the others renewing (" + later + ")");
    }

    /**
     * Finding 1b. The same with one n: worker IDs configured with {@code ekko.worker.id} (or taken back by instance name) lie
     * at or above {@code fresh}; their entries keep {@code ZCARD >= fresh} after the index is lost, so the walk never starts
     * again and a free worker ID below {@code fresh} has no entry.
     */
    @Test
    void aLostIndexIsFoundAgainWhenConfiguredWorkerIdsLieAboveTheWalk() throws Exception {
        int n = 8;
        Map<WorkerLease, WorkerAllocator> held = new HashMap<>();
        for (int w = 4; w < n; w++) {
            WorkerAllocator a = allocator(context("configured-" + w, n).preferredWorkerId(w).build());
            WorkerLease l = a.acquire();
            assertEquals(w, l.workerId());
            held.put(l, a);
        }
        for (int w = 0; w < 4; w++) {
            WorkerAllocator a = allocator("walked-" + w, n);
            WorkerLease l = a.acquire();
            assertEquals(w, l.workerId(), "the walk hands out 0, 1, 2, 3");
            held.put(l, a);
        }
        try (Jedis j = SharedRedis.connect()) {
            assertEquals("4", j.get(keys.prefix() + "fresh"));
        }
        WorkerLease dead = held.keySet().stream().filter(l -> l.workerId() == 1).findFirst().orElseThrow();
        held.remove(dead);
        dies(1);
        indexLost();
        keepRenewing(held, 0);
        Object atOnce = attempt(allocator("new-1", n));
        if (atOnce.equals(1)) {
            return;
        }
        keepRenewing(held, TTL.toMillis() + 1000);
        Object later = attempt(allocator("new-2", n));
        assertEquals(1, later, "worker ID 1 is free (its holder died) but a new instance was refused at once (" + atOnce
                + ") and again after more than a lease TTL of the others renewing (" + later + ")");
    }

    // ---------------------------------------------------------------- finding 2: fresh lost in a full IDC

    /**
     * Finding 2. With {@code fresh} lost (evicted, deleted), every acquire that finds no expired entry walks from 0, reading
     * the PTTL of every worker ID; the walk's progress is written only with a grant, so in a full IDC every refused acquire
     * walks all n again, for as long as the IDC stays full (not "once in the life of the data").
     */
    @Test
    void afterFreshIsLostARefusedAcquireStillReadsABoundedNumberOfKeys() throws Exception {
        int n = 1024;
        Duration ttl = Duration.ofSeconds(60);
        WorkerAllocator filler = allocator(context("filler", n).leaseTtl(ttl).build());
        for (int i = 0; i < n; i++) {
            filler.acquire();
        }
        try (Jedis j = SharedRedis.connect()) {
            assertEquals(1, j.del(keys.prefix() + "fresh"));
        }
        WorkerAllocator late = allocator(context("late", n).leaseTtl(ttl).build());
        assertThrows(WorkerIdsExhaustedException.class, late::acquire); // the walk, once: allowed
        List<Long> reads = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            long before = keyReads();
            assertThrows(WorkerIdsExhaustedException.class, late::acquire);
            reads.add(keyReads() - before);
        }
        assertTrue(reads.stream().allMatch(r -> r < 300), "after the counter was lost, each acquire refused because all " + n
                + " worker IDs are held read " + reads + " keys (the walk again and again)");
    }

    // ---------------------------------------------------------------- finding 3: holders that do not write the index

    /** renew.lua as the previous release has it (before c78ea55): the same script without the leases index. */
    /** renew.lua as it was before the lease index (commit 398b285), kept as a test resource. */
    private static String previousRenewScript() throws java.io.IOException {
        try (java.io.InputStream in = RedisLeaseIndexReviewIT.class.getResourceAsStream("renew-0.1-before-index.lua")) {
            String old = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            assertTrue(!old.contains("KEYS[7]") && !old.contains("leases"), "the previous renew.lua knows no index");
            return old;
        }
    }

    /**
     * Finding 3. During a rolling upgrade (the docs expect IDCs "created by an older version"), holders still running the
     * previous version renew without writing the index: their entries, written when a new acquire walked past them, fall
     * behind the clock while they are held. The probe looks at the first 64 expired entries only, skips held ones without
     * falling back (only entries at or above n, or avoided, set {@code skipped}), and writes its corrections only with a
     * grant: 64 such holders hide every worker ID whose holder died after them, for as long as they run.
     */
    @Test
    void holdersOfThePreviousVersionDoNotHideAFreeWorkerId() throws Exception {
        int n = 72;
        String oldRenew = previousRenewScript();
        WorkerAllocator upgraded = allocator("upgraded", n);
        List<WorkerLease> old = new ArrayList<>();
        for (int i = 0; i < 70; i++) {
            old.add(upgraded.acquire()); // stands for 70 holders of the previous version, indexed by a new acquire's walk
        }
        WorkerAllocator deadOne = allocator("dead", n);
        WorkerLease dead = deadOne.acquire();
        assertEquals(70, dead.workerId());
        WorkerAllocator live = allocator("live", n);
        Map<WorkerLease, WorkerAllocator> current = new HashMap<>(Map.of(live.acquire(), live));
        // The previous version's holders renew with the previous renew.lua; the new holder with the new one; "dead" never.
        long end = System.nanoTime() + TTL.plusMillis(1000).toNanos();
        Object atOnce = null;
        Object later = null;
        for (int round = 0; ; round++) {
            try (Jedis j = SharedRedis.connect()) {
                for (WorkerLease l : old) {
                    long now = System.currentTimeMillis();
                    Object r = j.eval(oldRenew, List.of(keys.lease(l.workerId()), keys.history(l.workerId()), keys.marks(),
                            keys.marksIncarnation(), keys.generation(), keys.epoch()), List.of(l.token(), Long.toString(TTL.toMillis()),
                            Long.toString(now), Long.toString(now + 1000), "host-old", "7", "old", Integer.toString(l.workerId())));
                    assertEquals("renewed", String.valueOf(((List<?>) r).get(0)));
                }
            }
            keepRenewing(current, 0);
            if (atOnce == null && System.nanoTime() > end) {
                try (Jedis j = SharedRedis.connect()) {
                    assertFalse(j.exists(keys.lease(70)), "the dead holder's lease expired");
                }
                atOnce = attempt(allocator("new-pod-1", n));
                if (atOnce.equals(70)) {
                    return;
                }
                end = System.nanoTime() + TTL.plusMillis(1000).toNanos();
            } else if (atOnce != null && System.nanoTime() > end) {
                later = attempt(allocator("new-pod-2", n));
                break;
            }
        }
        assertEquals(70, later, "worker ID 70 is free (its holder died a TTL ago) but a new instance was refused (" + atOnce
                + ") and again a lease TTL later (" + later + ") while 70 holders of the previous version renew");
    }

    // ---------------------------------------------------------------- guards: what held

    /**
     * Guard. An index that lies in every way at once (every entry says free, the counter says nothing was walked, entries of a
     * larger n, an avoided worker ID) never hands out a held worker ID, and every free one is still found.
     */
    @Test
    void aLyingIndexNeverHandsOutAHeldWorkerIdAndStillFindsEveryFreeOne() throws Exception {
        int n = 32;
        WorkerAllocator holder = allocator(context("holder", n).leaseTtl(Duration.ofSeconds(60)).build());
        Set<Integer> held = new HashSet<>();
        List<WorkerLease> leases = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            leases.add(holder.acquire());
        }
        Set<Integer> free = Set.of(2, 5, 9, 13, 20, 24, 25, 31);
        for (WorkerLease l : leases) {
            if (free.contains(l.workerId())) {
                holder.release(l, report());
            } else {
                held.add(l.workerId());
            }
        }
        try (Jedis j = SharedRedis.connect()) {
            for (int w = 0; w < 48; w++) {
                j.zadd(keys.leases(), 0, Integer.toString(w));
            }
            j.set(keys.prefix() + "fresh", "0");
        }
        Set<Integer> granted = new HashSet<>();
        int avoided = -1;
        for (int i = 0; ; i++) {
            WorkerAllocator a = allocator(context("new-" + i, i % 2 == 0 ? n : 16).leaseTtl(Duration.ofSeconds(60)).build());
            int w;
            try {
                w = i == 0 ? a.acquire(Set.of(24, 25)).workerId() : a.acquire().workerId();
            } catch (WorkerIdsExhaustedException e) {
                if (i % 2 == 0) {
                    break;
                }
                continue;
            }
            assertFalse(held.contains(w), "worker ID " + w + " handed out while held");
            assertTrue(granted.add(w), "worker ID " + w + " handed out twice");
            if (i == 0) {
                avoided = w;
            }
        }
        assertNotEquals(24, avoided);
        assertNotEquals(25, avoided);
        assertEquals(free, granted, "every free worker ID is found");
    }

    /** Guard. One n, no configured worker IDs: a lost index is walked again and the free worker ID found. */
    @Test
    void aLostIndexIsWalkedAgain() throws Exception {
        int n = 8;
        Map<WorkerLease, WorkerAllocator> held = new HashMap<>();
        for (int i = 0; i < n; i++) {
            WorkerAllocator a = allocator("w-" + i, n);
            held.put(a.acquire(), a);
        }
        WorkerLease dead = held.keySet().stream().filter(l -> l.workerId() == 5).findFirst().orElseThrow();
        held.remove(dead);
        dies(5);
        indexLost();
        keepRenewing(held, 0);
        assertEquals(5, attempt(allocator("new", n)));
    }

    /** Calls the server has counted of the commands that read one worker ID's keys (scripts' calls included). */
    private static long keyReads() {
        try (Jedis j = SharedRedis.connect()) {
            long total = 0;
            Pattern calls = Pattern.compile("calls=(\\d+)");
            for (String line : j.info("commandstats").split("\r?\n")) {
                if (line.startsWith("cmdstat_exists:") || line.startsWith("cmdstat_pttl:") || line.startsWith("cmdstat_hmget:")
                        || line.startsWith("cmdstat_hget:")) {
                    Matcher m = calls.matcher(line);
                    if (m.find()) {
                        total += Long.parseLong(m.group(1));
                    }
                }
            }
            return total;
        }
    }
}
