package dev.ekko.bench;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * From {@code build()} to the first ID on a worker ID the coordinator has no history for: the very first
 * start of a fleet on a new server, or any start after the server lost its data. The core then waits one
 * lease TTL plus the tolerated clock skew before issuing, by design (an earlier holder the server forgot
 * may still be issuing until then; docs/redis.md, the handover mark, docs/mysql.md and docs/etcd.md). With the defaults that is
 * {@link #DEFAULT_LEASE_TTL} + {@link #DEFAULT_MAX_SKEW}, 33 s, which this benchmark does not sit through:
 * it measures the same start with a short lease ({@link #leaseTtl}, {@link #maxSkew}), so the figure is that
 * wait plus the start itself. Every shot uses a namespace of its own, so every shot is a first start.
 * (StartupRedisIT, StartupMysqlIT and StartupEtcdIT check that the defaults stated here are the core's.)
 *
 * <p>{@link BenchRunner} runs it in single-shot mode with few forks and shots (each takes the wait).
 */
@State(Scope.Thread)
public class FirstStartBenchmark {

    /** The core's default lease TTL ({@code ekko.worker.lease.ttl}, {@code Ekko.Builder#leaseTtl}). */
    public static final Duration DEFAULT_LEASE_TTL = Duration.ofSeconds(30);
    /** The core's default tolerated skew ({@code ekko.clock.max.skew}, {@code Ekko.Builder#maxClockSkew}). */
    public static final Duration DEFAULT_MAX_SKEW = Duration.ofSeconds(3);

    /** Renewal interval and margin that fit the short lease: 2 × 300 ms + 500 ms ≤ 2 s, as the core requires. */
    static final String REPORT_INTERVAL = "300ms";
    static final String LEASE_MARGIN = "500ms";
    static final String LEASE_TTL = "2s";
    static final String MAX_SKEW = "100ms";

    /** A coordinator back end's allocator name: a {@link Coordinator}. */
    @Param({"redis", "mysql", "etcd"})
    public String allocator;

    /** {@code ekko.worker.lease.ttl} of every shot; a parameter so that the JSON records it. */
    @Param({LEASE_TTL})
    public String leaseTtl;

    /** {@code ekko.clock.max.skew} of every shot; a parameter so that the JSON records it. */
    @Param({MAX_SKEW})
    public String maxSkew;

    private Path stateDir;
    private Map<String, String> settings;
    private IdGenerator generator;

    @Setup(Level.Iteration)
    public void newNamespace() {
        Quiet.ekkoLogs();
        stateDir = StateDirectories.create();
        String run = System.getProperty(Coordinator.NAMESPACE_PROPERTY, Coordinator.newNamespace());
        settings = new TreeMap<>(Coordinator.of(allocator).map(c -> c.settings(run + "-first-" + Coordinator.randomHex()))
                .orElse(Map.of()));
        settings.put("ekko.worker.lease.ttl", leaseTtl);
        settings.put("ekko.clock.max.skew", maxSkew);
        settings.put("ekko.worker.report.interval", REPORT_INTERVAL);
        settings.put("ekko.worker.lease.margin", LEASE_MARGIN);
    }

    @TearDown(Level.Iteration)
    public void stop() {
        if (generator != null) {
            generator.close();
            generator = null;
        }
        StateDirectories.delete(stateDir);
    }

    @Benchmark
    public long buildToFirstId() {
        generator = StartupBenchmark.newBuilder(allocator, stateDir, settings).build();
        return generator.next();
    }

    /** Applies the short lease of this benchmark's defaults, which is also how {@link Coordinator#prime} starts. */
    static Ekko.Builder shortLease(Ekko.Builder builder) {
        return builder.setting("ekko.worker.lease.ttl", LEASE_TTL).setting("ekko.clock.max.skew", MAX_SKEW)
                .setting("ekko.worker.report.interval", REPORT_INTERVAL).setting("ekko.worker.lease.margin", LEASE_MARGIN);
    }
}
