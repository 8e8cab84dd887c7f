package dev.ekko.bench;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import dev.ekko.testsupport.TestServers;
import java.net.URI;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * The worker-ID back ends the start-up benchmarks measure against a real server: each is an allocator name
 * (a value of {@link StartupBenchmark#allocator} and {@link FirstStartBenchmark#allocator}), the settings
 * that point it at the server the tests use, and what the run does on that server beside the benchmark.
 * A new back end is one more constant here and one more value of those parameters.
 *
 * <p>Endpoints are read as the integration tests read them ({@link TestServers}: {@code EKKO_TEST_*}
 * variables, which {@code ./bench} gets from {@code ./run-tests --exec}); the forked JVMs inherit the
 * environment, so no endpoint, and no password, ever appears in JMH's arguments or JSON. Everything
 * a run writes lies under one namespace of its own, {@link #NAMESPACE_PROPERTY}, passed to the forks as a
 * system property and removed by {@link #deleteNamespaces} at the end.
 */
public enum Coordinator {

    /** {@code ekko-worker-redis}: the shared Redis of the tests ({@code EKKO_TEST_REDIS_URI}). */
    REDIS("redis", "keys") {
        @Override
        Map<String, String> settings(String namespace) {
            return Map.of("ekko.redis.uri", TestServers.redisUri(), "ekko.redis.namespace", namespace);
        }

        @Override
        String describeServer() {
            return RedisServer.describe(TestServers.redisUri());
        }

        @Override
        long deleteNamespaces(String prefix) {
            return RedisServer.deleteKeys(TestServers.redisUri(), prefix);
        }
    },

    /**
     * {@code ekko-worker-mysql}: the shared MariaDB (or MySQL) of the tests ({@code EKKO_TEST_MYSQL_URL},
     * {@code EKKO_TEST_MYSQL_USER}, {@code EKKO_TEST_MYSQL_PASSWORD}), in its database's default tables.
     */
    MYSQL("mysql", "rows") {
        @Override
        Map<String, String> settings(String namespace) {
            return Map.of("ekko.mysql.url", TestServers.mysqlUrl(), "ekko.mysql.user", TestServers.mysqlUser(), "ekko.mysql.password",
                    TestServers.mysqlPassword(), "ekko.mysql.namespace", namespace);
        }

        @Override
        String describeServer() {
            return MysqlServer.describe(TestServers.mysqlUrl(), TestServers.mysqlUser(), TestServers.mysqlPassword());
        }

        @Override
        long deleteNamespaces(String prefix) {
            return MysqlServer.deleteRows(TestServers.mysqlUrl(), TestServers.mysqlUser(), TestServers.mysqlPassword(), prefix);
        }
    },

    /** {@code ekko-worker-etcd}: the shared etcd of the tests ({@code EKKO_TEST_ETCD_ENDPOINTS}). */
    ETCD("etcd", "keys") {
        @Override
        Map<String, String> settings(String namespace) {
            return Map.of("ekko.etcd.endpoints", String.join(",", TestServers.etcdEndpoints()), "ekko.etcd.namespace", namespace);
        }

        @Override
        String describeServer() {
            return EtcdServer.describe(TestServers.etcdEndpoints());
        }

        @Override
        long deleteNamespaces(String prefix) {
            return EtcdServer.deleteKeys(TestServers.etcdEndpoints(), prefix);
        }
    };

    /**
     * The system property that names the run's namespace in the forked JVMs. Not an {@code ekko.*} key: the
     * builder refuses keys it does not know.
     */
    public static final String NAMESPACE_PROPERTY = "bench.namespace";

    private final String allocator;
    private final String items;

    Coordinator(String allocator, String items) {
        this.allocator = allocator;
        this.items = items;
    }

    /** {@return the allocator name, e.g. {@code redis}} */
    public String allocator() {
        return allocator;
    }

    /** {@return what the run writes on the server, as {@link #deleteNamespaces} counts it: {@code keys}, {@code rows}} */
    public String items() {
        return items;
    }

    /**
     * @param namespace where this run's keys or rows live on the server
     * @return the builder settings that point the allocator at the tests' server
     * @throws IllegalStateException if the server's {@code EKKO_TEST_*} variable is not set
     */
    abstract Map<String, String> settings(String namespace);

    /** {@return the server's product and version and its host (never a port, user or password), for the report} */
    abstract String describeServer();

    /**
     * Deletes every key or row of the namespaces that start with {@code prefix}.
     *
     * @return how many were deleted ({@link #items})
     */
    abstract long deleteNamespaces(String prefix);

    /** {@return the back end of an allocator name; empty for the embedded allocators ({@code host-local}, {@code manual})} */
    public static Optional<Coordinator> of(String allocator) {
        return Arrays.stream(values()).filter(c -> c.allocator.equals(allocator)).findFirst();
    }

    /** {@return a namespace no earlier run used: {@code ekko-bench-} and 16 random hex digits} */
    static String newNamespace() {
        return "ekko-bench-" + randomHex();
    }

    /** {@return 16 random hex digits} */
    static String randomHex() {
        return UUID.randomUUID().toString().replace("-", "").substring(0, 16);
    }

    /**
     * @return the run's namespace from {@link #NAMESPACE_PROPERTY}
     * @throws IllegalStateException if it is not set
     */
    static String runNamespace() {
        String ns = System.getProperty(NAMESPACE_PROPERTY);
        if (ns == null || ns.isBlank()) {
            throw new IllegalStateException("must be set to a namespace that prime() gave history (BenchRunner does both): -D"
                    + NAMESPACE_PROPERTY + "=" + ns);
        }
        return ns;
    }

    /**
     * Starts this back end's allocator once in {@code namespace} and closes it, so that the worker ID it gets
     * has history there: later starts of the same instance (this host's name) get that worker ID back and
     * start past its mark at once, as a restarting service does. This first start has no history to go by,
     * so it waits one lease TTL plus the tolerated skew, by design; {@link FirstStartBenchmark#shortLease}
     * keeps that to a couple of seconds. Later starts in the namespace must use the same settings (the namespace records
     * them and refuses a process that differs): {@link StartupBenchmark#newBuilder} does.
     *
     * @return the worker ID that now has history
     */
    int prime(String namespace) {
        Path dir = StateDirectories.create();
        try {
            Ekko.Builder builder = Ekko.newBuilder().stateDirectory(dir).hostLockDirectory(dir.resolve("host-locks")).allocator(allocator);
            settings(namespace).forEach(builder::setting);
            FirstStartBenchmark.shortLease(builder);
            try (IdGenerator g = builder.build()) {
                return g.layout().decode(g.next()).worker();
            }
        } finally {
            StateDirectories.delete(dir);
        }
    }

    /** {@return the host of a URI, or "?"} */
    static String hostOf(String uri) {
        try {
            String host = URI.create(uri).getHost();
            return host == null ? "?" : host;
        } catch (IllegalArgumentException e) {
            return "?";
        }
    }
}
