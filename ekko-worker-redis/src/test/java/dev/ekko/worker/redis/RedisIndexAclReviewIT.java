package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.EkkoException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.TestServers;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

/**
 * Review of the ACL pre-checks for the commands the lease index added (c78ea55): an ACL user with the documented commands
 * but one of {@code +zadd +pttl +zrangebyscore +set} is refused before the first write of an acquire that walks and
 * indexes, and one without {@code +zadd} before a renewal or release changes anything (Redis does not roll back a script).
 */
class RedisIndexAclReviewIT {

    private static final String CLASS_PREFIX = TestServers.redisKeyPrefix(RedisIndexAclReviewIT.class);
    private static final String PASSWORD = "pw-" + UUID.randomUUID();

    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);
    private final String user = "ekko-idx-" + UUID.randomUUID().toString().substring(0, 8);
    private final RedisKeys keys = new RedisKeys(namespace, 7);
    private final List<WorkerAllocator> opened = new ArrayList<>();

    @AfterEach
    void cleanUp() {
        opened.forEach(WorkerAllocator::close);
        try (Jedis jedis = SharedRedis.connect()) {
            jedis.aclDelUser(user);
        }
    }

    @AfterAll
    static void deleteThisClassesKeys() {
        SharedRedis.deleteKeys(CLASS_PREFIX);
    }

    private void createUser(String without) throws Exception {
        List<String> rules = new ArrayList<>();
        for (String r : RedisAclIT.documentedRules()) {
            if (!r.equals(without)) {
                rules.add(r.startsWith(">") ? ">" + PASSWORD : r.startsWith("~") ? "~" + SharedRedis.escape(namespace) + "*" : r);
            }
        }
        assertEquals(RedisAclIT.documentedRules().size() - 1, rules.size(), without);
        try (Jedis jedis = SharedRedis.connect()) {
            jedis.aclSetUser(user, rules.toArray(String[]::new));
        }
    }

    private WorkerAllocator allocator(String instance, boolean restricted) {
        AllocatorContext.Builder c = AllocatorContext.builder().idc(7).workerIds(64).instance(instance).host("host-idx")
                .setting("ekko.redis.uri", SharedRedis.uri()).setting("ekko.redis.namespace", namespace)
                .fleetSettings(Map.of("ekko.worker.lease.ttl", "30s"));
        if (restricted) {
            c.setting("ekko.redis.user", user).setting("ekko.redis.password", PASSWORD);
        }
        WorkerAllocator a = new RedisAllocatorProvider().create(c.build());
        opened.add(a);
        return a;
    }

    private static ClockReport report() {
        long now = System.currentTimeMillis();
        return new ClockReport(now, now + 1000, "host-idx", 1, "idx");
    }

    private List<String> namespaceKeys() {
        try (Jedis jedis = SharedRedis.connect()) {
            return new ArrayList<>(jedis.keys(SharedRedis.escape(namespace) + "*"));
        }
    }

    /** Guard. The walk (first use: PTTL, ZADD, SET fresh) and the index probe (a released entry) are checked before writing. */
    @Test
    void anAcquireThatWalksOrProbesTheIndexWithoutAPermissionWritesNothing() throws Exception {
        for (String missing : List.of("+zadd", "+pttl", "+zrangebyscore", "+set")) { // +zcard: no longer used
            createUser(missing);
            EkkoException e = assertThrows(EkkoException.class, () -> allocator("walk", true).acquire(), missing);
            assertEquals(List.of(), namespaceKeys(), "acquiring without " + missing + " wrote: " + e.getMessage());
            assertTrue(e.getMessage().contains(missing.substring(1).toUpperCase(java.util.Locale.ROOT)), e.getMessage());
        }
        // The index now exists and has a released entry: the probe path.
        WorkerAllocator admin = allocator("admin", false);
        WorkerLease l = admin.acquire();
        admin.release(l, report());
        try (Jedis jedis = SharedRedis.connect()) {
            jedis.del(keys.marks()); // not the marks path
        }
        List<String> before = namespaceKeys();
        String instancesBefore;
        try (Jedis jedis = SharedRedis.connect()) {
            instancesBefore = String.valueOf(jedis.hgetAll(keys.instances()));
        }
        for (String missing : List.of("+zadd", "+hdel", "+pexpire")) {
            createUser(missing);
            assertThrows(EkkoException.class, () -> allocator("probe", true).acquire(), missing);
            try (Jedis jedis = SharedRedis.connect()) {
                assertEquals(false, jedis.exists(keys.lease(l.workerId())), "a lease left behind without " + missing);
                assertEquals(instancesBefore, String.valueOf(jedis.hgetAll(keys.instances())), missing);
            }
            assertEquals(before.size(), namespaceKeys().size(), missing);
        }
    }

    /** Guard. Without {@code +zadd} a renewal does not extend the lease and a release does not delete it. */
    @Test
    void aRenewalOrReleaseWithoutZaddChangesNothing() throws Exception {
        WorkerLease lease = allocator("admin", false).acquire();
        String key = keys.lease(lease.workerId());
        try (Jedis jedis = SharedRedis.connect()) {
            jedis.pexpire(key, 5_000);
        }
        createUser("+zadd");
        WorkerAllocator restricted = allocator("admin", true);
        assertThrows(EkkoException.class, () -> restricted.renew(lease, report()));
        assertThrows(EkkoException.class, () -> restricted.release(lease, report()));
        try (Jedis jedis = SharedRedis.connect()) {
            long pttl = jedis.pttl(key);
            assertTrue(pttl > 0 && pttl <= 5_000, "pttl " + pttl);
        }
    }
}
