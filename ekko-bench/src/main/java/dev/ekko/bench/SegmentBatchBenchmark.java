package dev.ekko.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * Segment mode, a batch of numbers into an array the caller owns and reuses, as a bulk insert would: Ekko's
 * {@code next(long[])}, and a loop of {@code next()} for the peers, which have no batch call. One operation is one batch;
 * the report multiplies by the batch for numbers per second. Same stores and step as {@link SegmentBenchmark}.
 */
@State(Scope.Benchmark)
public class SegmentBatchBenchmark {

    @Param
    public SegmentContender contender;

    /** Numbers per range, as in {@link SegmentBenchmark}. */
    @Param({"1000", "1000000"})
    public long step;

    @Param({"100", "1000"})
    public int batch;

    private SegmentContender.SegmentSource ids;

    /** The caller's array, one per thread, allocated once. */
    @State(Scope.Thread)
    public static class CallerArray {
        long[] ids;

        @Setup(Level.Trial)
        public void allocate(SegmentBatchBenchmark benchmark) {
            ids = new long[benchmark.batch];
        }
    }

    /** Starts the generator once per fork (see {@link SegmentBenchmark#start}). */
    @Setup(Level.Trial)
    public void start() {
        ids = contender.start(step);
        Runtime.getRuntime().addShutdownHook(new Thread(ids::close, "ekko-bench-close-at-exit"));
    }

    @Benchmark
    public long[] nextBatch(CallerArray array) {
        ids.next(array.ids, 0, array.ids.length);
        return array.ids;
    }
}
