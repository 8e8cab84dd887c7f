package dev.ekko.worker.redis;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import java.nio.file.Path;
import java.time.Duration;

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

}
