package dev.ekko.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Segment mode, one number per call: Ekko's {@code SegmentGenerator.next()} and its peers' ({@link SegmentContender}), each
 * counting one name from the same in-memory store ({@link MemorySegmentStore}, or CosId's own) with the same fixed step.
 * {@link BenchRunner} runs it with 1 and 2 threads sharing one generator, with JMH's GC profiler for allocation.
 */
@State(Scope.Benchmark)
public class SegmentBenchmark {

    /** Which generator; all of them unless JMH's {@code -p contender=...} says otherwise. */
    @Param
    public SegmentContender contender;

    /** Numbers per range, the same for every contender: Leaf's usual step, and Ekko's largest by default. */
    @Param({"1000", "1000000"})
    public long step;

    private SegmentContender.SegmentSource ids;

    /**
     * Starts the generator once per fork. It is stopped when the forked JVM exits, not in a {@code @TearDown(Level.Trial)},
     * which JMH runs inside the last measured iteration (see {@link GetBenchmark#start}).
     */
    @Setup(Level.Trial)
    public void start() {
        ids = contender.start(step);
        Runtime.getRuntime().addShutdownHook(new Thread(ids::close, "ekko-bench-close-at-exit"));
    }

    @Benchmark
    public long next() {
        return ids.next();
    }
}
