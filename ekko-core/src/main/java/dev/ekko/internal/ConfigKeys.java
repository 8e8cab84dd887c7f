package dev.ekko.internal;

import java.util.Locale;
import java.util.Map;
import java.util.Set;

/** The core's configuration keys, and the naming rule that maps a key to its environment variable. */
public final class ConfigKeys {

    public static final String EPOCH = "ekko.epoch";
    public static final String POSITIVE = "ekko.positive";
    public static final String PRODUCT_BITS = "ekko.product.bits";
    public static final String PRODUCT = "ekko.product";
    public static final String IDC = "ekko.idc";
    public static final String WORKER_ID = "ekko.worker.id";
    public static final String WORKER_IDS = "ekko.worker.ids";
    public static final String STRIPES = "ekko.worker.stripes";
    public static final String STRIPES_MAX = "ekko.worker.stripes.max";
    public static final String STRIPES_IDLE = "ekko.worker.stripes.idle";
    public static final String ALLOCATOR = "ekko.worker.allocator";
    public static final String INSTANCE = "ekko.worker.instance";
    public static final String LEASE_TTL = "ekko.worker.lease.ttl";
    public static final String LEASE_MARGIN = "ekko.worker.lease.margin";
    public static final String REPORT_INTERVAL = "ekko.worker.report.interval";
    public static final String MAX_SKEW = "ekko.clock.max.skew";
    public static final String MAX_BACKWARD_WAIT = "ekko.clock.max.backward.wait";
    public static final String MAX_LEAD = "ekko.clock.max.lead";
    public static final String STATE_DIR = "ekko.state.dir";
    public static final String RESERVATION = "ekko.state.reservation";
    public static final String HOST_LOCK_DIR = "ekko.host.lock.dir";

    /** Every core key. */
    public static final Set<String> CORE = Set.of(EPOCH, POSITIVE, PRODUCT_BITS, PRODUCT, IDC, WORKER_ID, WORKER_IDS, STRIPES, STRIPES_MAX, STRIPES_IDLE, ALLOCATOR, INSTANCE, LEASE_TTL,
            LEASE_MARGIN, REPORT_INTERVAL, MAX_SKEW, MAX_BACKWARD_WAIT, MAX_LEAD, STATE_DIR, RESERVATION, HOST_LOCK_DIR);

    /** Back ends shipped by the project: key prefix to (allocator name, artifact), for hints when one is missing. */
    public static final Map<String, String[]> KNOWN_BACKENDS = Map.of(
            "ekko.redis.", new String[] {"redis", "dev.ekko:ekko-worker-redis"},
            "ekko.mysql.", new String[] {"mysql", "dev.ekko:ekko-worker-mysql"},
            "ekko.etcd.", new String[] {"etcd", "dev.ekko:ekko-worker-etcd"});

    /**
     * Key prefixes of the project's other components (segment mode, ekko-server and its client, the Spring Boot starter's own
     * settings), which read their keys and {@code EKKO_*} variables themselves: the generator's builder neither applies nor
     * warns about them.
     */
    public static final java.util.List<String> OTHER_COMPONENTS = java.util.List.of("ekko.segment.", "ekko.server.", "ekko.client.",
            "ekko.spring.");

    /**
     * Tells whether a key or an environment variable belongs to another component.
     *
     * @param keyOrVariable a key ({@code ekko.server.http.port}) or variable ({@code EKKO_SERVER_HTTP_PORT})
     * @return whether it starts with one of {@link #OTHER_COMPONENTS}, or their variable names
     */
    public static boolean ofOtherComponent(String keyOrVariable) {
        for (String prefix : OTHER_COMPONENTS) {
            if (keyOrVariable.startsWith(prefix) || keyOrVariable.startsWith(envName(prefix))) {
                return true;
            }
        }
        return false;
    }

    /** Environment variables with this prefix belong to the project's tests, not to configuration. */
    public static final String TEST_ENV_PREFIX = "EKKO_TEST_";

    private ConfigKeys() {
    }

    /**
     * @param key e.g. {@code ekko.worker.allocator}
     * @return its environment variable, e.g. {@code EKKO_WORKER_ALLOCATOR}: upper case, dots to underscores
     */
    public static String envName(String key) {
        return key.toUpperCase(Locale.ROOT).replace('.', '_');
    }
}
