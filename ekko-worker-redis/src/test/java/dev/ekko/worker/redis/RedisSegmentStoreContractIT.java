package dev.ekko.worker.redis;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.EkkoException;
import dev.ekko.spi.SegmentStore;
import dev.ekko.spi.SegmentStoreProvider;
import dev.ekko.testkit.SegmentStoreContract;
import dev.ekko.testsupport.DisposableRedis;
import java.net.URI;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

/**
 * The segment store contract (ekko-testkit), against a Redis server of this class's own that writes every command to disk
 * before it answers (the store refuses one that does not: the shared test server keeps nothing).
 */
class RedisSegmentStoreContractIT extends SegmentStoreContract {

    private static DisposableRedis redis;

    private final String namespace = "segments-" + UUID.randomUUID().toString().substring(0, 8);

    @BeforeAll
    static void start() {
        redis = DisposableRedis.launch();
    }

    @AfterAll
    static void stop() {
        redis.close();
    }

    @Override
    protected SegmentStoreProvider provider() {
        return new RedisSegmentStore.Provider();
    }

    @Override
    protected Map<String, String> settings() {
        return Map.of("ekko.redis.uri", redis.uri(), "ekko.redis.namespace", namespace);
    }

    @Override
    protected Map<String, String> otherStoreSettings() {
        return Map.of("ekko.redis.uri", redis.uri(), "ekko.redis.namespace", namespace + "-other");
    }

    @Override
    protected void deleteName(String name) {
        try (Jedis j = new Jedis(URI.create(redis.uri()))) {
            j.del(namespace + ":segment:{" + name + "}");
        }
    }

    @Test
    void aServerThatMayLoseAcknowledgedWritesIsRefused() {
        SegmentStore s = provider().create(Map.of("ekko.redis.uri", SharedRedis.uri(), "ekko.redis.namespace", namespace), 1, 0);
        try {
            EkkoException e = assertThrows(EkkoException.class, () -> s.define(name(), 0, 100));
            assertTrue(e.getMessage().contains("may lose acknowledged writes (appendonly=no, appendfsync=")
                    && e.getMessage().contains("Segment mode needs appendonly yes and appendfsync always"), e.getMessage());
        } finally {
            s.close();
        }
    }
}
