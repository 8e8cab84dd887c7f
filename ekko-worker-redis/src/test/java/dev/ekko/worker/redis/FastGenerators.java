package dev.ekko.worker.redis;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/** Real generators on the redis allocator with short timings, so failure tests run in seconds. */
final class FastGenerators {

    static final Duration TTL = Duration.ofSeconds(2);
    static final Duration MARGIN = Duration.ofMillis(500);
    static final Duration REPORT = Duration.ofMillis(300);
    static final Duration RESERVATION = Duration.ofSeconds(1);
    static final Duration MAX_SKEW = Duration.ofMillis(500);
    static final int IDC = 1;

    private FastGenerators() {
    }

    /** @return a builder for idc 1 with TTL 2s, margin 500ms, report interval 300ms, reservation 1s, max skew 500ms */
    static Ekko.Builder builder(String uri, String namespace, Path stateDir, String instance) {
        return Ekko.newBuilder().allocator("redis").setting("ekko.redis.uri", uri).setting("ekko.redis.namespace", namespace)
                .setting("ekko.redis.timeout", "500ms").idc(IDC).stateDirectory(stateDir).instance(instance)
                .leaseTtl(TTL).leaseMargin(MARGIN).reportInterval(REPORT).reservation(RESERVATION).maxClockSkew(MAX_SKEW);
    }

    static IdGenerator start(String uri, String namespace, Path stateDir, String instance) {
        return builder(uri, namespace, stateDir, instance).build();
    }

    /** Fails naming the first ID that two issuers both issued, if any. */
    static void assertNoIdRepeats(Layout layout, Map<String, long[]> idsByIssuer) {
        Map<Long, String> seen = new HashMap<>();
        idsByIssuer.forEach((name, ids) -> {
            for (long id : ids) {
                String before = seen.putIfAbsent(id, name);
                if (before != null) {
                    throw new AssertionError("ID issued twice, by " + before + " and " + name + ": " + layout.decode(id));
                }
            }
        });
    }

    /** Fails unless each issuer's IDs rise strictly (unsigned), across lost leases and new worker IDs. */
    static void assertRising(Layout layout, String name, long[] ids) {
        for (int i = 1; i < ids.length; i++) {
            if (Long.compareUnsigned(ids[i], ids[i - 1]) <= 0) {
                throw new AssertionError(name + " issued " + layout.decode(ids[i]) + " after " + layout.decode(ids[i - 1]));
            }
        }
    }
}
