package dev.ekko.bench;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import java.nio.file.Path;
import java.util.Map;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * From {@code build()} to the first ID, in a fresh state directory: finding the allocator, acquiring a
 * worker ID, creating, forcing and locking the state file, and the first {@code next()}. {@link BenchRunner}
 * runs it in single-shot mode with no warm-up in many forks: the first shot of each fork is a cold start
 * (classes loaded and nothing compiled, what a service pays once), the later ones are warm restarts.
 *
 * <p>A coordinator back end ({@link Coordinator}: {@code redis}, {@code mysql}, {@code etcd}) is measured against the server
 * the tests use, in the run's namespace ({@link Coordinator#NAMESPACE_PROPERTY}), which {@link BenchRunner} has
 * given history beforehand ({@link Coordinator#prime}): every shot is a restart of the same instance on a
 * worker ID with history, as a service restarting sees it (connecting, acquiring the worker ID and the first
 * report: Redis's scripts, MySQL's pool, table check and statements, etcd's gRPC channel, lease and transactions; the
 * first ID), and none waits. The very first start on a worker ID, which waits by design, is
 * {@link FirstStartBenchmark}'s.
 */
@State(Scope.Thread)
public class StartupBenchmark {

    /**
     * {@code host-local} is the embedded default (no worker ID configured); {@code manual} is worker 1; the
     * others are {@link Coordinator} back ends.
     */
    @Param({"host-local", "manual", "redis", "mysql", "etcd"})
    public String allocator;

    private Path stateDir;
    private Map<String, String> settings;
    private IdGenerator generator;

    @Setup(Level.Iteration)
    public void createStateDirectory() {
        Quiet.ekkoLogs();
        stateDir = StateDirectories.create();
        settings = Coordinator.of(allocator).map(c -> c.settings(Coordinator.runNamespace())).orElse(Map.of());
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
        generator = newBuilder(allocator, stateDir, settings).build();
        return generator.next();
    }

    /** The builder every start-up shot builds: {@code manual} is worker 1; a back end gets its settings. */
    static Ekko.Builder newBuilder(String allocator, Path stateDir, Map<String, String> settings) {
        Ekko.Builder builder = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(stateDir.resolve("host-locks")).allocator(allocator);
        if (allocator.equals("manual")) {
            builder.workerId(1);
        }
        if (Coordinator.of(allocator).isPresent()) {
            // The settings Coordinator#prime started the namespace with: a namespace refuses a process whose settings
            // differ. A restart on a worker ID with history does not wait, so the lease length does not change the figure.
            FirstStartBenchmark.shortLease(builder);
        }
        settings.forEach(builder::setting);
        return builder;
    }
}
