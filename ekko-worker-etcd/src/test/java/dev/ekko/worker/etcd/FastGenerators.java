package dev.ekko.worker.etcd;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import java.nio.file.Path;
import java.time.Duration;

/** Real generators on the etcd allocator with short timings, so failure tests run in seconds. */
final class FastGenerators {

    static final Duration TTL = Duration.ofSeconds(2);
    static final Duration MARGIN = Duration.ofMillis(500);
    static final Duration REPORT = Duration.ofMillis(300);
    static final Duration RESERVATION = Duration.ofSeconds(1);
    // At least the report interval: on etcd, the issue limit's cap counts the reference (other holders' readings, up to
    // one interval old) at its earliest, so with a smaller skew it would stop callers before the fence (docs/etcd.md).
    static final Duration MAX_SKEW = Duration.ofMillis(400);
    static final int IDC = 1;

    private FastGenerators() {
    }

    /** {@return a builder for idc 1 with TTL 2s, margin 500ms, report interval 300ms, reservation 1s, max skew 400ms} */
    static Ekko.Builder builder(String endpoints, String namespace, Path stateDir, String instance) {
        return Ekko.newBuilder().allocator("etcd").setting("ekko.etcd.endpoints", endpoints).setting("ekko.etcd.namespace", namespace)
                .setting("ekko.etcd.timeout", "500ms").idc(IDC).stateDirectory(stateDir).instance(instance).leaseTtl(TTL)
                .leaseMargin(MARGIN).reportInterval(REPORT).reservation(RESERVATION).maxClockSkew(MAX_SKEW);
    }

    static IdGenerator start(String endpoints, String namespace, Path stateDir, String instance) {
        return builder(endpoints, namespace, stateDir, instance).build();
    }
}
