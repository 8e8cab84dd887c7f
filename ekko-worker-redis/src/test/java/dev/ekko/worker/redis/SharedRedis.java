package dev.ekko.worker.redis;

import dev.ekko.testsupport.TestServers;
import java.net.URI;
import java.util.List;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.resps.ScanResult;

/** The shared test Redis from {@link TestServers}: a raw client for checks, and clean-up of a test class's keys. */
final class SharedRedis {

    private SharedRedis() {
    }

    static String uri() {
        return TestServers.redisUri();
    }

    /** @return a new connection to the shared server; close it */
    static Jedis connect() {
        return new Jedis(URI.create(uri()));
    }

    /** Deletes every key starting with {@code prefix} (SCAN, never FLUSHDB: other classes share the server). */
    static void deleteKeys(String prefix) {
        try (Jedis jedis = connect()) {
            String cursor = ScanParams.SCAN_POINTER_START;
            ScanParams match = new ScanParams().match(escape(prefix) + "*").count(1000);
            do {
                ScanResult<String> page = jedis.scan(cursor, match);
                List<String> keys = page.getResult();
                if (!keys.isEmpty()) {
                    jedis.del(keys.toArray(String[]::new));
                }
                cursor = page.getCursor();
            } while (!cursor.equals(ScanParams.SCAN_POINTER_START));
        }
    }

    /** Escapes the glob characters of a literal prefix for MATCH. */
    static String escape(String literal) {
        return literal.replaceAll("([*?\\[\\]\\\\])", "\\\\$1");
    }
}
