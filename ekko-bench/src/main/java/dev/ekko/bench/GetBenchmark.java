package dev.ekko.bench;

import java.nio.file.Path;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * One ID per call, for Ekko and every peer: the call an application makes per row, message or request.
 * {@link BenchRunner} runs it with 1 and 2 threads sharing one generator (throughput, with JMH's GC
 * profiler for allocation) and with 2 threads in sample-time mode (latency percentiles).
 *
 * <p>Ekko's bounded-lead mode gets a fresh generator every iteration, so that each iteration starts with
 * its whole lead (see {@link EkkoMode#BOUNDED_LEAD}); every other generator is started once per fork, so
 * that starting it is not part of its allocation figures.
 */
@State(Scope.Benchmark)
public class GetBenchmark {

    /** Which generator; all of them unless JMH's {@code -p generator=...} says otherwise. */
    @Param
    public Contender generator;

    private Path stateDir;
    private IdSource ids;

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
            ids = generator.start(stateDir);
            if (!generator.freshEachIteration()) {
                StateDirectories.closeAtExit(ids, stateDir);
            }
        }
    }

    @TearDown(Level.Iteration)
    public void stopIfFreshEachIteration() {
        if (generator.freshEachIteration()) {
            ids.close();
            ids = null;
            StateDirectories.delete(stateDir);
        }
    }

    @Benchmark
    public long get() {
        return ids.next();
    }
}
