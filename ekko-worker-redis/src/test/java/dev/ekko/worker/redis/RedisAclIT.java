package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.EkkoException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.TestServers;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

/**
 * The ACL user docs/redis.md tells operators to create, created from the very line of the document, can acquire, renew
 * and release; a user lacking one of its permissions gets a clear error, and the script it ran leaves nothing behind
 * (Redis does not roll back a script that fails half-way, so every script checks before its first write).
 */
class RedisAclIT {

    private static final String CLASS_PREFIX = TestServers.redisKeyPrefix(RedisAclIT.class);
    private static final String PASSWORD = "pw-" + UUID.randomUUID();
    /** How the document names the user, its password and its key pattern; the test puts its own in their place. */
    private static final String DOC_USER = "ids";
    private static final String DOC_PASSWORD = ">secret";
    private static final String DOC_KEYS = "~ekko*";

    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);
    private final String user = "ekko-acl-" + UUID.randomUUID().toString().substring(0, 8);
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

    /** @return the rules of the one {@code ACL SETUSER ids ...} line of docs/redis.md, after the user name */
    static List<String> documentedRules() throws IOException {
        Path doc = Path.of("..", "docs", "redis.md");
        if (!Files.exists(doc)) {
            doc = Path.of("docs", "redis.md");
        }
        List<String> lines = Files.readAllLines(doc).stream().map(String::strip)
                .filter(l -> l.startsWith("ACL SETUSER " + DOC_USER + " ")).collect(Collectors.toList());
        assertEquals(1, lines.size(), "docs/redis.md must show exactly one line \"ACL SETUSER " + DOC_USER + " ...\": " + lines);
        List<String> rules = new ArrayList<>(Arrays.asList(lines.get(0).split(" +")));
        rules = rules.subList(3, rules.size());
        assertTrue(rules.contains(DOC_PASSWORD) && rules.contains(DOC_KEYS), "the documented line names the password "
                + DOC_PASSWORD + " and the keys " + DOC_KEYS + ": " + rules);
        return rules;
    }

    /** Creates the test's user with the documented rules (its own password and namespace), leaving out {@code without}. */
    private void createUser(String... without) throws IOException {
        List<String> rules = new ArrayList<>();
        for (String r : documentedRules()) {
            if (Arrays.asList(without).contains(r)) {
                continue;
            }
            rules.add(r.equals(DOC_PASSWORD) ? ">" + PASSWORD : r.equals(DOC_KEYS) ? "~" + SharedRedis.escape(namespace) + "*" : r);
        }
        assertEquals(documentedRules().size() - without.length, rules.size(), "not in the documented rules: " + List.of(without));
        try (Jedis jedis = SharedRedis.connect()) {
            jedis.aclSetUser(user, rules.toArray(String[]::new));
        }
    }

    private WorkerAllocator allocator(boolean restricted, Map<String, String> fleet) {
        AllocatorContext.Builder c = AllocatorContext.builder().idc(6).workerIds(256).preferredWorkerId(17).instance("acl")
                .host("host-acl").setting("ekko.redis.uri", SharedRedis.uri()).setting("ekko.redis.namespace", namespace)
                .fleetSettings(fleet);
        if (restricted) {
            c.setting("ekko.redis.user", user).setting("ekko.redis.password", PASSWORD);
        }
        WorkerAllocator a = new RedisAllocatorProvider().create(c.build());
        opened.add(a);
        return a;
    }

    private static ClockReport report(long reservedUntil) {
        return new ClockReport(System.currentTimeMillis(), reservedUntil, "host-acl", 1, "acl");
    }

    private static final Map<String, String> FLEET = Map.of("ekko.worker.lease.ttl", "30s", "ekko.epoch", "2020-01-01T00:00:00Z");

    @Test
    void theDocumentedAclIsTheOneErrorsName() throws Exception {
        List<String> commands = documentedRules().stream().filter(r -> r.startsWith("+")).collect(Collectors.toList());
        assertEquals(RedisWorkerAllocator.ACL_COMMANDS, String.join(" ", commands));
    }

    @Test
    void theDocumentedAclIsEnoughToAcquireRenewAndRelease() throws Exception {
        createUser();
        WorkerAllocator a = allocator(true, FLEET);
        WorkerLease lease = a.acquire();
        assertEquals(17, lease.workerId());
        WorkerLease renewed = a.renew(lease, report(System.currentTimeMillis() + 30_000));
        a.release(renewed, report(System.currentTimeMillis()));
        WorkerLease again = a.acquire();
        assertEquals(17, again.workerId());
        a.release(again, report(System.currentTimeMillis()));
    }

    @Test
    void anAcquireRefusedForLackOfAPermissionLeavesNoLeaseBehind() throws Exception {
        String lease = new RedisKeys(namespace, 6).lease(17);
        for (String missing : List.of("+pexpire", "+info", "+hset")) {
            createUser(missing);
            EkkoException e = assertThrows(EkkoException.class, () -> allocator(true, FLEET).acquire(), missing);
            try (Jedis jedis = SharedRedis.connect()) {
                assertFalse(jedis.exists(lease), "acquiring without " + missing + " left a lease behind, TTL " + jedis.pttl(lease)
                        + " ms: " + e.getMessage());
                assertEquals(0, jedis.keys(SharedRedis.escape(namespace) + "*").size(), "acquiring without " + missing
                        + " wrote " + jedis.keys(SharedRedis.escape(namespace) + "*"));
            }
            assertTrue(e.getMessage().contains("user " + user), e.getMessage());
            assertTrue(e.getMessage().contains(missing.substring(1).toUpperCase(java.util.Locale.ROOT)), e.getMessage());
            assertFalse(e.getMessage().contains(PASSWORD), e.getMessage());
        }
    }

    @Test
    void aRenewalRefusedForLackOfAPermissionDoesNotExtendTheLease() throws Exception {
        WorkerAllocator admin = allocator(false, FLEET);
        WorkerLease lease = admin.acquire();
        String key = new RedisKeys(namespace, 6).lease(lease.workerId());
        for (String missing : List.of("+info", "+hset")) {
            createUser(missing);
            try (Jedis jedis = SharedRedis.connect()) {
                jedis.pexpire(key, 5_000);
            }
            WorkerAllocator restricted = allocator(true, FLEET);
            EkkoException e = assertThrows(EkkoException.class, () -> restricted.renew(lease, report(System.currentTimeMillis())));
            try (Jedis jedis = SharedRedis.connect()) {
                long pttl = jedis.pttl(key);
                assertTrue(pttl > 0 && pttl <= 5_000, "a renewal that failed without " + missing + " extended the lease: pttl " + pttl
                        + ": " + e.getMessage());
            }
            assertTrue(e.getMessage().contains(missing.substring(1).toUpperCase(java.util.Locale.ROOT)), e.getMessage());
        }
    }
}
