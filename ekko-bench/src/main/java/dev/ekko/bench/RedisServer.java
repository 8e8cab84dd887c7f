package dev.ekko.bench;

import java.net.URI;
import java.util.List;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.resps.ScanResult;

/**
 * BenchRunner's own calls to the tests' Redis, apart from what is measured. Its own class, so that a forked
 * JVM, which never calls it, never loads jedis before the first measured start.
 */
final class RedisServer {

    private RedisServer() {
    }

    /** {@return e.g. {@code Redis 7.0.15 on 127.0.0.1, client jedis-8.0.2.jar}} */
    static String describe(String uri) {
        try (Jedis jedis = new Jedis(URI.create(uri))) {
            String version = "?";
            for (String line : jedis.info("server").split("\r?\n")) {
                if (line.startsWith("redis_version:")) {
                    version = line.substring("redis_version:".length()).trim();
                }
            }
            return "Redis " + version + " on " + Coordinator.hostOf(uri) + ", client " + BenchRunner.jarOf(Jedis.class);
        }
    }

    /** Deletes every key that starts with {@code prefix} (which holds no glob characters), never any other. */
    static long deleteKeys(String uri, String prefix) {
        if (!prefix.matches("[A-Za-z0-9:._-]+")) {
            throw new IllegalArgumentException("must be letters, digits and : . _ - only, so it is no glob pattern: prefix=" + prefix);
        }
        long deleted = 0;
        try (Jedis jedis = new Jedis(URI.create(uri))) {
            ScanParams match = new ScanParams().match(prefix + "*").count(1000);
            String cursor = ScanParams.SCAN_POINTER_START;
            do {
                ScanResult<String> page = jedis.scan(cursor, match);
                List<String> keys = page.getResult();
                if (!keys.isEmpty()) {
                    deleted += jedis.del(keys.toArray(new String[0]));
                }
                cursor = page.getCursor();
            } while (!cursor.equals(ScanParams.SCAN_POINTER_START));
        }
        return deleted;
    }
}
