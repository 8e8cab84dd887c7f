package dev.ekko.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.IterationParams;
import org.openjdk.jmh.profile.InternalProfiler;
import org.openjdk.jmh.results.AggregationPolicy;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.ScalarResult;

/**
 * Bytes allocated per operation by the benchmark's own threads only (JMH names them
 * {@code ...-jmh-worker-N}), as secondary result {@value #NORM}, next to the GC profiler's JVM-wide
 * {@code gc.alloc.rate.norm}.
 *
 * <p>Why both: the GC profiler counts every thread, JMH's own included, whose background of some tens of
 * kilobytes a second is more than a byte per call for a call that waits a millisecond for the clock, so it
 * cannot say whether such a call allocates. The worker threads' count can. It includes what the worker
 * threads run at each iteration's setup and teardown: in bounded lead, starting a fresh generator.
 */
public final class WorkerAllocationProfiler implements InternalProfiler {

    /** The name of the secondary result in JMH's JSON. */
    public static final String NORM = "alloc.worker.norm";

    private static final String WORKER = "-jmh-worker-";

    private final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    private Map<Long, Long> before = Map.of();

    @Override
    public String getDescription() {
        return "bytes allocated per operation by the benchmark's own (JMH worker) threads";
    }

    @Override
    public void beforeIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams) {
        before = workerAllocations();
    }

    @Override
    public List<ScalarResult> afterIteration(BenchmarkParams benchmarkParams, IterationParams iterationParams,
            IterationResult result) {
        long allocated = 0;
        for (Map.Entry<Long, Long> e : workerAllocations().entrySet()) {
            // A worker started during this iteration had allocated nothing before it.
            allocated += e.getValue() - before.getOrDefault(e.getKey(), 0L);
        }
        long ops = result.getMetadata().getAllOps();
        return List.of(new ScalarResult(NORM, ops == 0 ? Double.NaN : (double) allocated / ops, "B/op", AggregationPolicy.AVG));
    }

    private Map<Long, Long> workerAllocations() {
        Map<Long, Long> bytes = new HashMap<>();
        for (ThreadInfo info : threads.getThreadInfo(threads.getAllThreadIds(), 0)) {
            if (info != null && info.getThreadName().contains(WORKER)) {
                long b = threads.getThreadAllocatedBytes(info.getThreadId());
                if (b >= 0) {
                    bytes.put(info.getThreadId(), b);
                }
            }
        }
        return bytes;
    }
}
