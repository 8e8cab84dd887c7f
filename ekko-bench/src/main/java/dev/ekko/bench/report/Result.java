package dev.ekko.bench.report;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One entry of JMH's JSON: a benchmark method with one mode, thread count and parameter set, its primary
 * score and, when JMH's GC profiler ran, the bytes allocated per operation.
 *
 * @param benchmark simple class name and method, e.g. {@code GetBenchmark.get}
 * @param mode JMH's short mode name: {@code thrpt}, {@code avgt}, {@code sample}, {@code ss}
 * @param threads threads calling the benchmark at once
 * @param params parameter values by name
 * @param score the primary score, in {@code unit}
 * @param error half-width of the 99.9% confidence interval, NaN when JMH had too few samples
 * @param unit e.g. {@code ops/s}, {@code ns/op}, {@code ms/op}
 * @param percentiles score percentiles keyed by JMH's labels ({@code "50.0"}, {@code "99.99"}...)
 * @param raw per fork, the score of every measured iteration (single-shot: every shot)
 * @param samples how many calls were timed (sample mode), else the count of raw values
 * @param allocatedPerOp {@code gc.alloc.rate.norm}: bytes per operation allocated by every thread of the JVM,
 *     NaN without the GC profiler
 * @param workerAllocatedPerOp {@code alloc.worker.norm}: bytes per operation allocated by the benchmark's own
 *     threads, NaN without {@link dev.ekko.bench.WorkerAllocationProfiler}
 * @param settings the run's counts, as JMH recorded them
 */
public record Result(String benchmark, String mode, int threads, Map<String, String> params, double score, double error,
        String unit, Map<String, Double> percentiles, List<List<Double>> raw, long samples, double allocatedPerOp,
        double workerAllocatedPerOp, Settings settings) {

    /**
     * What JMH recorded about how the entry was run.
     *
     * @param jmhVersion JMH's version
     * @param vm the JVM's name and version
     * @param jvmArgs the forked JVMs' arguments
     * @param forks forks
     * @param warmupIterations warm-up iterations per fork
     * @param warmupTime length of each, e.g. {@code "1 s"}
     * @param measurementIterations measured iterations per fork
     * @param measurementTime length of each
     */
    public record Settings(String jmhVersion, String vm, List<String> jvmArgs, int forks, int warmupIterations,
            String warmupTime, int measurementIterations, String measurementTime) {
    }

    /** {@return the value of a parameter, or null} */
    public String param(String name) {
        return params.get(name);
    }

    private static double secondary(Map<String, Object> secondary, String name) {
        Object metric = secondary.get(name);
        return metric == null ? Double.NaN : Json.number(Json.object(metric).get("score"));
    }

    static Result of(Map<String, Object> e) {
        String fqn = (String) e.get("benchmark");
        String[] parts = fqn.split("\\.");
        String benchmark = parts[parts.length - 2] + "." + parts[parts.length - 1];
        Map<String, String> params = new LinkedHashMap<>();
        if (e.get("params") != null) {
            Json.object(e.get("params")).forEach((k, v) -> params.put(k, String.valueOf(v)));
        }
        Map<String, Object> primary = Json.object(e.get("primaryMetric"));
        Map<String, Double> percentiles = new LinkedHashMap<>();
        if (primary.get("scorePercentiles") != null) {
            Json.object(primary.get("scorePercentiles")).forEach((k, v) -> percentiles.put(k, Json.number(v)));
        }
        List<List<Double>> raw = new ArrayList<>();
        long samples = 0;
        if (primary.get("rawData") != null) {
            for (Object fork : Json.array(primary.get("rawData"))) {
                List<Double> values = new ArrayList<>();
                for (Object v : Json.array(fork)) {
                    values.add(Json.number(v));
                }
                samples += values.size();
                raw.add(values);
            }
        }
        if (primary.get("rawDataHistogram") != null) {
            samples = 0;
            for (Object fork : Json.array(primary.get("rawDataHistogram"))) {
                for (Object iteration : Json.array(fork)) {
                    for (Object bucket : Json.array(iteration)) {
                        samples += (long) Json.number(Json.array(bucket).get(1));
                    }
                }
            }
        }
        Map<String, Object> secondary = e.get("secondaryMetrics") == null ? Map.of() : Json.object(e.get("secondaryMetrics"));
        List<String> jvmArgs = new ArrayList<>();
        if (e.get("jvmArgs") != null) {
            Json.array(e.get("jvmArgs")).forEach(a -> jvmArgs.add(String.valueOf(a)));
        }
        Settings settings = new Settings(String.valueOf(e.get("jmhVersion")), e.get("vmName") + " " + e.get("vmVersion"), jvmArgs,
                (int) Json.number(e.get("forks")), (int) Json.number(e.get("warmupIterations")), String.valueOf(e.get("warmupTime")),
                (int) Json.number(e.get("measurementIterations")), String.valueOf(e.get("measurementTime")));
        return new Result(benchmark, (String) e.get("mode"), (int) Json.number(e.get("threads")), params,
                Json.number(primary.get("score")), Json.number(primary.get("scoreError")), (String) primary.get("scoreUnit"),
                percentiles, raw, samples, secondary(secondary, "gc.alloc.rate.norm"),
                secondary(secondary, dev.ekko.bench.WorkerAllocationProfiler.NORM), settings);
    }
}
