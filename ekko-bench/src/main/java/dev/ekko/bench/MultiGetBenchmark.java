package dev.ekko.bench;

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
 * {@code next(long[])}: a batch of IDs into an array the caller owns and reuses, as a bulk insert would.
 * One operation is one call of {@code batch} IDs; the report multiplies by the batch for IDs per second.
 * No peer has a batch call, so only Ekko runs here; the peers' per-ID cost is in {@link GetBenchmark}.
 */
@State(Scope.Benchmark)
public class MultiGetBenchmark {

    @Param
    public EkkoMode mode;

    @Param({"1", "16", "256", "1024", "10000"})
    public int batch;

    private Path stateDir;
    private IdGenerator ids;

    /** The caller's array, one per thread, allocated once. */
    @State(Scope.Thread)
    public static class CallerArray {
        long[] ids;

        @Setup(Level.Trial)
        public void allocate(MultiGetBenchmark benchmark) {
            ids = new long[benchmark.batch];
        }
    }

    /**
     * Starts the generator: every iteration in bounded lead, once per fork otherwise. A generator kept for the
     * fork is closed when the forked JVM exits, not in a {@code @TearDown(Level.Trial)}: JMH runs that inside
     * the last measured iteration, where closing (first-time code, about a hundred kilobytes of class loading)
     * would be counted as allocation by the calls.
     */
    @Setup(Level.Iteration)
    public void start() {
        if (ids == null) {
            stateDir = StateDirectories.create();
            ids = mode.start(stateDir);
            if (!mode.freshEachIteration()) {
                StateDirectories.closeAtExit(ids, stateDir);
            }
        }
    }

    @TearDown(Level.Iteration)
    public void stopIfFreshEachIteration() {
        if (mode.freshEachIteration()) {
            ids.close();
            ids = null;
            StateDirectories.delete(stateDir);
        }
    }

    @Benchmark
    public long[] multiGet(CallerArray array) {
        ids.next(array.ids);
        return array.ids;
    }
}
