package dev.ekko.worker.redis;

import java.net.URI;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import redis.clients.jedis.Jedis;

/**
 * A backup of a test server's data restored into the same running server (same {@code run_id} and {@code master_replid}),
 * as the restore tests do it: what an operator's DUMP-based backup loaded with FLUSHALL + RESTORE, or a DEBUG RELOAD of an
 * older RDB, does to the allocator's keys.
 */
final class RedisBackup {

    private RedisBackup() {
    }

    /** {@return every key but the leases (they expire anyway), as DUMP gives it} */
    static Map<String, byte[]> withoutLeases(String uri) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        try (Jedis j = new Jedis(URI.create(uri))) {
            for (String k : j.keys("*")) {
                if (!k.contains(":lease:")) {
                    out.put(k, j.dump(k));
                }
            }
        }
        return out;
    }

    /**
     * FLUSHALL, then RESTORE of each key with no expiry, into the running server (no restart), in one MULTI/EXEC: a live
     * holder's renewal cannot run in between (it would create the epoch key, and its RESTORE would then fail with BUSYKEY).
     */
    static void restoreInPlace(String uri, Map<String, byte[]> backup) {
        try (Jedis j = new Jedis(URI.create(uri))) {
            redis.clients.jedis.Transaction t = j.multi();
            t.sendCommand(redis.clients.jedis.Protocol.Command.FLUSHALL, new String[0]);
            backup.forEach((k, v) -> t.restore(k, 0, v));
            List<Object> replies = t.exec();
            for (Object r : replies) {
                if (r instanceof Exception e) {
                    throw new IllegalStateException("restoring the backup failed: " + e.getMessage(), e);
                }
            }
        }
    }
}
