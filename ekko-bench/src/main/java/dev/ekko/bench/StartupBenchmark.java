package dev.ekko.bench;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import java.nio.file.Path;
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
 * <p>A coordinator back end is one more {@link #allocator} value (its allocator name, e.g. {@code redis}),
 * once its module is a dependency of ekko-bench: its settings, such as the endpoint of the server that the
 * test command starts, reach the forked JVMs as {@code -Dekko.<name>.*} system properties, which
 * {@link #builder()} passes to the builder.
 */
@State(Scope.Thread)
public class StartupBenchmark {

    /** {@code host-local} is the embedded default (no worker ID configured); {@code manual} is worker 1. */
    @Param({"host-local", "manual"})
    public String allocator;

    private Path stateDir;
    private IdGenerator generator;

    @Setup(Level.Iteration)
    public void createStateDirectory() {
        Quiet.ekkoLogs();
        stateDir = StateDirectories.create();
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
        generator = builder().build();
        return generator.next();
    }

    private Ekko.Builder builder() {
        Ekko.Builder builder = Ekko.newBuilder().stateDirectory(stateDir).allocator(allocator).properties(System.getProperties());
        if (allocator.equals("manual")) {
            builder.workerId(1);
        }
        return builder;
    }
}
