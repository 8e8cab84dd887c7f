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
 *
 * <p>It also includes what the JVM allocates on a worker thread once, not per call; two such costs set rules for the
 * counts, so that a measured iteration shows what the calls allocate once warm:
 * <ul>
 *   <li><b>The JIT's first C2 compile of a class's code.</b> HotSpot's compile broker, before queueing a C2 compile,
 *       resolves every string constant of the method's class and loads the classes of its signature, on the thread
 *       whose call crossed the threshold. For Ekko's code that runs once per new millisecond this is about 4 KB once
 *       per JVM (measured on JDK 17: {@code Term}'s messages 1,088 B, {@code StateFile}'s 2,752 B, the JDK's
 *       {@code ScopedMemoryAccess$Scope} class 128 B). In real time that code runs 1,000 times a second at any batch,
 *       so C2 reaches it about 5 s into a fork (5,000 invocations); at a few hundred calls per one-second iteration
 *       (MultiGet of 1,024 and 10,000 IDs) those 4 KB would read as bytes per call. Rule: a suite whose real-time calls
 *       wait for the clock warms up for at least {@link Profile#REAL_TIME_WARMUP_SECONDS} per fork.</li>
 *   <li><b>Reflection inflation.</b> JMH runs each iteration through {@code Method.invoke}; at the 16th call the JDK
 *       replaces the native accessor with a generated class ({@code sun.reflect.inflationThreshold}, 15), about 11 KB
 *       on the worker thread. Rule: a fork of a suite measured per call runs at most 15 iterations, warm-up included; a
 *       longer warm-up gets longer iterations, not more. (Start-up's single shots are left out: a start allocates far
 *       more, and in the full profile's forks of 20 shots the 16th includes those 11 KB.)</li>
 * </ul>
 * JMH's own bookkeeping per iteration (result objects, a few hundred bytes) is the same in every iteration: the report
 * subtracts it as measured by {@link JmhBaselineBenchmark}.
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
