package dev.ekko.bench;

import dev.ekko.spi.Segment;
import dev.ekko.spi.SegmentStore;
import dev.ekko.spi.SegmentStoreProvider;
import dev.ekko.testsupport.DisposableEtcd;
import dev.ekko.testsupport.DisposableMariaDb;
import dev.ekko.testsupport.DisposableRedis;
import dev.ekko.testsupport.DisposableServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Ranges per second a segment store sustains: {@code SegmentStore.take(name, count, -1)} in a loop on one name, with 1 and 2
 * threads sharing one store (so every call moves the same row or key), against a real server: what bounds how often a
 * fleet may fetch, so users can size the step (numbers per second a name needs, divided by the ranges per second its store
 * gives all processes together, is the smallest step that keeps up).
 *
 * <p>Each fork starts a server of its own in a temporary directory (ekko-test-support's {@code Disposable*} servers, which
 * the chaos harness and the fleet benchmark use), configured for durability as the store requires in production: Redis with
 * {@code appendonly yes} and {@code appendfsync always} (the store refuses a server that may lose acknowledged writes, such
 * as the tests' shared one); MariaDB with its defaults (InnoDB flushes its log at every commit); etcd with its defaults (a
 * write is fsynced through Raft). Every figure is one range per call: a take is a round trip and a durable write at the
 * server.
 */
@State(Scope.Benchmark)
public class SegmentStoreBenchmark {

    /** The store: {@code mysql} (against MariaDB), {@code redis}, {@code etcd}. */
    @Param({"mysql", "redis", "etcd"})
    public String store;

    /** Numbers per range: a store's cost does not depend on it. */
    public static final long COUNT = 1000;

    static final String NAME = "bench";

    private SegmentStore segments;

    /** Starts the server and the store and defines the name; both are stopped when the forked JVM exits. */
    @Setup(Level.Trial)
    public void start() throws InterruptedException {
        Quiet.ekkoLogs();
        DisposableServer server = launch(store);
        try {
            SegmentStoreProvider provider = ServiceLoader.load(SegmentStoreProvider.class).stream().map(ServiceLoader.Provider::get)
                    .filter(p -> p.name().equals(store)).findFirst().orElseThrow(() -> new IllegalStateException(
                            "must be a segment store on the class path: store=" + store));
            segments = provider.create(settings(store, server), 1, 0);
            segments.define(NAME, 0, Long.MAX_VALUE / 2);
        } catch (RuntimeException | InterruptedException e) {
            server.close();
            throw e;
        }
        SegmentStore s = segments;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            s.close();
            server.close();
        }, "ekko-bench-stop-store"));
    }

    @Benchmark
    public Segment take() throws InterruptedException {
        return segments.take(NAME, COUNT, -1);
    }

    private static DisposableServer launch(String store) {
        switch (store) {
            case "redis": return DisposableRedis.launch();
            case "mysql": return DisposableMariaDb.launch();
            case "etcd": return DisposableEtcd.launch();
            default: throw new IllegalArgumentException("must be mysql, redis or etcd: store=" + store);
        }
    }

    private static Map<String, String> settings(String store, DisposableServer server) {
        String namespace = "ekko-bench-segments";
        switch (store) {
            case "redis":
                return Map.of("ekko.redis.uri", ((DisposableRedis) server).uri(), "ekko.redis.namespace", namespace);
            case "mysql":
                DisposableMariaDb db = (DisposableMariaDb) server;
                return Map.of("ekko.mysql.url", db.jdbcUrl(), "ekko.mysql.user", db.user(), "ekko.mysql.password", db.password(),
                        "ekko.mysql.namespace", namespace);
            default:
                return Map.of("ekko.etcd.endpoints", ((DisposableEtcd) server).endpoint(), "ekko.etcd.namespace", namespace);
        }
    }

    /**
     * {@return each store's server as the forks run it: its version (from {@code --version}) and durability settings, for the
     * report}
     */
    static Map<String, Object> describeServers() throws InterruptedException {
        Map<String, Object> servers = new LinkedHashMap<>();
        servers.put("mysql", version("mariadbd", "MariaDB") + ", InnoDB defaults (log flushed at every commit), client "
                + BenchRunner.jarOf(com.mysql.cj.jdbc.Driver.class) + " with " + BenchRunner.jarOf(com.zaxxer.hikari.HikariDataSource.class));
        servers.put("redis", version("redis-server", "Redis") + ", appendonly yes, appendfsync always, client "
                + BenchRunner.jarOf(redis.clients.jedis.Jedis.class));
        servers.put("etcd", version("etcd", "etcd") + ", one member, defaults, client " + BenchRunner.jarOf(io.etcd.jetcd.Client.class));
        return servers;
    }

    private static String version(String executable, String product) throws InterruptedException {
        for (String dir : List.of("", "/usr/sbin/", "/usr/local/sbin/")) {
            try {
                Process p = new ProcessBuilder(dir + executable, "--version").redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (p.waitFor() == 0) {
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("([0-9]+\\.[0-9]+\\.[0-9]+)").matcher(out);
                    return product + " " + (m.find() ? m.group(1) : "?") + " on this machine (loopback)";
                }
            } catch (IOException e) {
                // not in this directory
            }
        }
        return product + " (version unknown)";
    }
}
