package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Parsing of {@code ekko.redis.*}, and that the password shows nowhere. No server needed. */
class RedisSettingsTest {

    private static final String SECRET = "s3cr3t-Pa55";

    private static AllocatorContext context(String... keyValues) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            m.put(keyValues[i], keyValues[i + 1]);
        }
        return AllocatorContext.builder().idc(3).settings(m).build();
    }

    private static RedisSettings parse(String... keyValues) {
        return RedisSettings.from(context(keyValues));
    }

    private static IllegalArgumentException refused(String... keyValues) {
        return assertThrows(IllegalArgumentException.class, () -> parse(keyValues));
    }

    // ---------------------------------------------------------------- the URI

    @Test
    void readsHostPortUserPasswordAndDatabaseFromTheUri() {
        RedisSettings s = parse("ekko.redis.uri", "redis://fleet:" + SECRET + "@cache.example:6380/4");
        assertEquals("cache.example", s.host());
        assertEquals(6380, s.port());
        assertEquals("fleet", s.user());
        assertEquals(SECRET, s.password());
        assertEquals(4, s.database());
        assertFalse(s.tls());
        assertEquals("cache.example:6380", s.endpoint());
    }

    @Test
    void defaultsToPort6379DatabaseZeroNoCredentialsNamespaceEkkoAndTwoSecondTimeout() {
        RedisSettings s = parse("ekko.redis.uri", "redis://10.0.0.7");
        assertEquals(6379, s.port());
        assertEquals(0, s.database());
        assertNull(s.user());
        assertNull(s.password());
        assertEquals("ekko", s.namespace());
        assertEquals(Duration.ofSeconds(2), s.timeout());
        assertEquals("redis 10.0.0.7:6379 namespace ekko", s.where());
    }

    @Test
    void thePoolSizeIsEightByDefaultAndChecked() {
        assertEquals(8, parse("ekko.redis.uri", "redis://h").poolSize());
        assertEquals(64, parse("ekko.redis.uri", "redis://h", "ekko.redis.pool.size", "64").poolSize());
        assertEquals("must be >= 1 && <= 256: ekko.redis.pool.size=0", refused("ekko.redis.uri", "redis://h", "ekko.redis.pool.size", "0")
                .getMessage());
        assertEquals("must be >= 1 && <= 256: ekko.redis.pool.size=257", refused("ekko.redis.uri", "redis://h", "ekko.redis.pool.size",
                "257").getMessage());
    }

    @Test
    void redissMeansTls() {
        assertTrue(parse("ekko.redis.uri", "rediss://cache.example:6380").tls());
        assertTrue(parse("ekko.redis.uri", "REDISS://cache.example").tls());
    }

    @Test
    void passwordAloneIsTheDefaultUsersPassword() {
        RedisSettings s = parse("ekko.redis.uri", "redis://:" + SECRET + "@h:1");
        assertNull(s.user());
        assertEquals(SECRET, s.password());
    }

    @Test
    void percentEncodedPasswordIsDecodedWithoutTurningPlusIntoSpace() {
        assertEquals("p@ss:w/rd+1", parse("ekko.redis.uri", "redis://u:p%40ss%3Aw%2Frd+1@h").password());
    }

    @Test
    void ipv6HostIsUnbracketedForTheClientAndBracketedInMessages() {
        RedisSettings s = parse("ekko.redis.uri", "redis://[::1]:7000");
        assertEquals("::1", s.host());
        assertEquals("[::1]:7000", s.endpoint());
    }

    @Test
    void explicitKeysSupplyWhatTheUriLacks() {
        RedisSettings s = parse("ekko.redis.uri", "redis://h:1", "ekko.redis.user", "fleet", "ekko.redis.password", SECRET,
                "ekko.redis.database", "2", "ekko.redis.namespace", "team-a:ids", "ekko.redis.timeout", "750ms");
        assertEquals("fleet", s.user());
        assertEquals(SECRET, s.password());
        assertEquals(2, s.database());
        assertEquals("team-a:ids", s.namespace());
        assertEquals(Duration.ofMillis(750), s.timeout());
    }

    @Test
    void theSameValueInTheUriAndItsKeyIsFineTwoValuesAreRefusedWithoutShowingEither() {
        assertEquals(SECRET, parse("ekko.redis.uri", "redis://:" + SECRET + "@h", "ekko.redis.password", SECRET).password());
        IllegalArgumentException e = refused("ekko.redis.uri", "redis://:" + SECRET + "@h", "ekko.redis.password", "other-secret");
        assertEquals("must not differ from the one in ekko.redis.uri (set it in one place): ekko.redis.password=***, but the URI says ***",
                e.getMessage());
        IllegalArgumentException db = refused("ekko.redis.uri", "redis://h/1", "ekko.redis.database", "2");
        assertEquals("must not differ from the one in ekko.redis.uri (set it in one place): ekko.redis.database=2, but the URI says 1",
                db.getMessage());
    }

    @Test
    void missingUriNamesTheKeyAndItsEnvironmentVariable() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RedisSettings.from(AllocatorContext.builder().build()));
        assertTrue(e.getMessage().startsWith("must be set to the Redis server to lease worker IDs from"), e.getMessage());
        assertTrue(e.getMessage().endsWith(": ekko.redis.uri (environment variable EKKO_REDIS_URI)"), e.getMessage());
    }

    @Test
    void malformedUrisAreRefusedNamingTheKeyAndTheValueWithItsPasswordMasked() {
        Map<String, String> cases = Map.of(
                "http://u:" + SECRET + "@h:6379", "must use the scheme redis:// or rediss:// (TLS)",
                "redis://u:" + SECRET + "@:6379", "must name a host",
                "redis://u:" + SECRET + "@h:6379/zero", "must have a database number >= 0 && <= 65535",
                "redis://u:" + SECRET + "@h:6379?timeout=5", "must not have a query or fragment",
                "redis://u:" + SECRET + "@h:99999", "must have a port",
                "redis://u:" + SECRET + "@h:6379 x", "must be a URI such as",
                "redis://u:" + SECRET + "%zz@h", "must be a URI such as");
        cases.forEach((uri, start) -> {
            IllegalArgumentException e = refused("ekko.redis.uri", uri);
            assertTrue(e.getMessage().startsWith(start), uri + " -> " + e.getMessage());
            assertTrue(e.getMessage().contains("ekko.redis.uri=") && e.getMessage().contains("u:***@"), e.getMessage());
            assertFalse(e.getMessage().contains(SECRET), e.getMessage());
        });
    }

    @Test
    void aPasswordWithAnUnencodedAtSignIsStillMasked() {
        IllegalArgumentException e = refused("ekko.redis.uri", "redis://u:" + SECRET + "@x@:6379");
        assertFalse(e.getMessage().contains(SECRET), e.getMessage());
        assertFalse(e.getMessage().contains("@x"), e.getMessage());
    }

    @Test
    void aUriWithoutItsSlashesOrSchemeStillHasItsPasswordMasked() {
        for (String uri : new String[] {"redis//u:" + SECRET + "@h", "redis:u:" + SECRET + "@h", "u:" + SECRET + "@h",
                "redis:/u:" + SECRET + "@h:1"}) {
            IllegalArgumentException e = refused("ekko.redis.uri", uri);
            assertFalse(e.getMessage().contains(SECRET), e.getMessage());
            assertTrue(e.getMessage().contains("u:***@h"), e.getMessage());
        }
    }

    @Test
    void credentialsWithoutAColonAreRefusedAndNeverPrintedSinceSomeClientsReadThemAsAPassword() {
        IllegalArgumentException e = refused("ekko.redis.uri", "redis://" + SECRET + "@h:6379");
        assertEquals("must write credentials as redis://user:password@host or redis://:password@host (default user):"
                + " ekko.redis.uri=redis://***@h:6379", e.getMessage());
    }

    @Test
    void userWithoutPasswordIsRefused() {
        IllegalArgumentException e = refused("ekko.redis.uri", "redis://h", "ekko.redis.user", "fleet");
        assertEquals("must be set when a user is (ekko.redis.user=fleet): ekko.redis.password (environment variable EKKO_REDIS_PASSWORD),"
                + " or the password in ekko.redis.uri", e.getMessage());
    }

    // ---------------------------------------------------------------- the other keys

    @Test
    void namespaceMustBePrintableWithoutBlanksOrHashTagBraces() {
        for (String bad : new String[] {"", "a b", "a{b", "b}", "x".repeat(101), "é"}) {
            IllegalArgumentException e = refused("ekko.redis.uri", "redis://h", "ekko.redis.namespace", bad);
            assertTrue(e.getMessage().startsWith("must be 1 to 100 printable ASCII characters without blanks, '{' or '}': "
                    + "ekko.redis.namespace=\""), e.getMessage());
        }
    }

    @Test
    void timeoutMustBeADurationFrom100msToOneMinute() {
        assertEquals("must be >= 100ms && <= 1m: ekko.redis.timeout=50ms",
                refused("ekko.redis.uri", "redis://h", "ekko.redis.timeout", "50ms").getMessage());
        assertEquals("must be >= 100ms && <= 1m: ekko.redis.timeout=2m",
                refused("ekko.redis.uri", "redis://h", "ekko.redis.timeout", "2m").getMessage());
        assertTrue(refused("ekko.redis.uri", "redis://h", "ekko.redis.timeout", "soon").getMessage()
                .startsWith("must be a duration such as 500ms"));
    }

    @Test
    void databaseKeyMustBeANumberInRange() {
        assertEquals("must be >= 0 && <= 65535: ekko.redis.database=-1",
                refused("ekko.redis.uri", "redis://h", "ekko.redis.database", "-1").getMessage());
    }

    // ---------------------------------------------------------------- the password shows nowhere

    @Test
    void toStringShowsEverythingButThePassword() {
        RedisSettings s = parse("ekko.redis.uri", "rediss://fleet:" + SECRET + "@h:6380/3", "ekko.redis.namespace", "n1");
        assertEquals("RedisSettings{endpoint=h:6380, tls=true, user=fleet, password=***, database=3, namespace=n1, timeout=2000ms}",
                s.toString());
        assertEquals("RedisSettings{endpoint=h:6379, tls=false, user=(default), password=(none), database=0, namespace=ekko,"
                + " timeout=2000ms}", parse("ekko.redis.uri", "redis://h").toString());
    }

    @Test
    void maskHidesUriPasswordsAndGivenPasswordsInAnyText() {
        assertEquals("cannot reach redis://u:***@h:1/0 or rediss://:***@g: ***", RedisSettings.mask(
                "cannot reach redis://u:" + SECRET + "@h:1/0 or rediss://:pw@g: " + SECRET, SECRET));
        assertEquals("redis://h:6379/0", RedisSettings.mask("redis://h:6379/0"));
        assertEquals("redis://***@h", RedisSettings.mask("redis://" + SECRET + "@h"));
    }

    @Test
    void allocatorToStringHasNoPassword() {
        WorkerAllocator a = new RedisAllocatorProvider().create(context("ekko.redis.uri", "redis://u:" + SECRET + "@h:1"));
        try {
            assertFalse(a.toString().contains(SECRET), a.toString());
            assertTrue(a.toString().contains("h:1"), a.toString());
        } finally {
            a.close();
        }
    }

    // ---------------------------------------------------------------- provider and keys

    @Test
    void providerIsFoundByServiceLoaderAsRedisAndDeclaresEveryKeyItReads() {
        WorkerAllocatorProvider found = null;
        for (WorkerAllocatorProvider p : ServiceLoader.load(WorkerAllocatorProvider.class)) {
            if (p.name().equals("redis")) {
                found = p;
            }
        }
        assertTrue(found instanceof RedisAllocatorProvider, "ServiceLoader did not find the redis provider");
        assertEquals("dev.ekko:ekko-worker-redis", found.artifact());
        assertEquals(Set.of("ekko.redis.uri", "ekko.redis.user", "ekko.redis.password", "ekko.redis.database", "ekko.redis.namespace",
                "ekko.redis.timeout", "ekko.redis.pool.size"), found.configKeys());
        for (String key : found.configKeys()) {
            assertTrue(key.matches("ekko\\.redis\\.[a-z.]+"), "the core's naming rule (no dashes, maps to EKKO_REDIS_...): " + key);
            assertEquals("EKKO_REDIS_" + key.substring("ekko.redis.".length()).toUpperCase(Locale.ROOT).replace('.', '_'),
                    key.toUpperCase(Locale.ROOT).replace('.', '_'));
        }
    }

    @Test
    void keysOfOneIdcShareAHashTagAndTheNamespace() {
        RedisKeys k = new RedisKeys("team-a", 5);
        assertEquals("team-a:{idc5}:lease:17", k.lease(17));
        assertEquals("team-a:{idc5}:history:17", k.history(17));
        assertEquals("team-a:{idc5}:instances", k.instances());
        assertEquals("ekko-test:X:1234:{idc0}:", new RedisKeys("ekko-test:X:1234:", 0).prefix());
    }

    @Test
    void luaScriptsAreResourcesWithTheirSha1() {
        for (LuaScript s : new LuaScript[] {LuaScript.ACQUIRE, LuaScript.RENEW, LuaScript.RELEASE}) {
            assertTrue(s.source().contains("redis.call('TIME')"), s.name());
            assertTrue(s.sha1().matches("[0-9a-f]{40}"), s.sha1());
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> LuaScript.load("nope.lua"));
        assertTrue(e.getMessage().startsWith("missing resource nope.lua"), e.getMessage());
    }
}
