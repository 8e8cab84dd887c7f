package dev.ekko.testsupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.net.URI;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

/** A real round trip to the shared Redis server from {@link TestServers}, within this class's key prefix. */
class SharedRedisIT {
    private static final String INCREMENT_BY =
            "return redis.call('INCRBY', KEYS[1], ARGV[1])";

    private static String prefix;
    private static Jedis jedis;

    @BeforeAll
    static void connect() {
        prefix = TestServers.redisKeyPrefix(SharedRedisIT.class);
        jedis = new Jedis(URI.create(TestServers.redisUri()));
    }

    @AfterAll
    static void removeThisClassesKeysAndDisconnect() {
        if (jedis != null) {
            Set<String> keys = jedis.keys(prefix + "*");
            if (!keys.isEmpty()) {
                jedis.del(keys.toArray(String[]::new));
            }
            jedis.close();
        }
    }

    @Test
    void setThenGetReturnsTheValue() {
        String key = prefix + "greeting";
        assertNull(jedis.get(key));

        assertEquals("OK", jedis.set(key, "hello"));

        assertEquals("hello", jedis.get(key));
    }

    @Test
    void luaScriptRunsOnTheServer() {
        String key = prefix + "counter";

        assertEquals(5L, jedis.eval(INCREMENT_BY, List.of(key), List.of("5")));
        assertEquals(12L, jedis.eval(INCREMENT_BY, List.of(key), List.of("7")));
        assertEquals("12", jedis.get(key));
    }
}
