package dev.ekko.bench;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * The control for allocation: a call that allocates nothing and takes a millisecond, like a real-time
 * batch of 1024. What {@link WorkerAllocationProfiler} counts here is JMH's own bookkeeping on its worker
 * thread, a few hundred bytes per iteration, which the report subtracts from the other benchmarks.
 */
@State(Scope.Thread)
public class JmhBaselineBenchmark {

    private static final long MILLISECOND = 1_000_000;

    @Benchmark
    public long waitOneMillisecond() {
        long deadline = System.nanoTime() + MILLISECOND;
        long now;
        do {
            Thread.onSpinWait();
            now = System.nanoTime();
        } while (now < deadline);
        return now;
    }
}
