package dev.ekko.bench;

import dev.ekko.bench.report.Json;
import dev.ekko.bench.report.Report;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatFactory;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs one profile of every benchmark in one go and writes, under the results directory:
 * {@code <profile>.json} (JMH's own JSON, every suite's results in one file), {@code <profile>.env.json}
 * (machine, JDK, date, load, library jars), then the generated {@code <profile>.md} table and
 * {@code <profile>.png} chart, and the generated section of the benchmarks document.
 *
 * <pre>
 *   java -cp ... dev.ekko.bench.BenchRunner short|full RESULTS_DIR DOCS_FILE [SUITE...]
 * </pre>
 * Suites are run in the order of {@link Suite}; naming some runs only those (for development; the report
 * then leaves out what was not run).
 */
public final class BenchRunner {

    /** Forked JVMs get a fixed heap, so that heap resizing is not part of any figure. */
    static final String[] FORK_JVM_ARGS = {"-Xms1g", "-Xmx1g"};

    /** One JMH run: a benchmark method with a mode, a thread count and its own counts. */
    enum Suite {
        JMH_BASELINE(JmhBaselineBenchmark.class, "waitOneMillisecond", Mode.Throughput, TimeUnit.SECONDS, 1),
        GET_1_THREAD(GetBenchmark.class, "get", Mode.Throughput, TimeUnit.SECONDS, 1),
        GET_2_THREADS(GetBenchmark.class, "get", Mode.Throughput, TimeUnit.SECONDS, 2),
        GET_LATENCY_2_THREADS(GetBenchmark.class, "get", Mode.SampleTime, TimeUnit.NANOSECONDS, 2),
        /** {@link #GET_2_THREADS} for bounded lead with 1 and 2 stripes, in {@link Profile#contentionForks} forks. */
        CONTENTION_2_THREADS(ContentionBenchmark.class, "get", Mode.Throughput, TimeUnit.SECONDS, 2),
        SUSTAINED_1_THREAD(SustainedBenchmark.class, "get", Mode.Throughput, TimeUnit.SECONDS, 1),
        SUSTAINED_2_THREADS(SustainedBenchmark.class, "get", Mode.Throughput, TimeUnit.SECONDS, 2),
        MULTI_GET(MultiGetBenchmark.class, "multiGet", Mode.Throughput, TimeUnit.SECONDS, 1),
        DECODE(DecodeBenchmark.class, "decode", Mode.AverageTime, TimeUnit.NANOSECONDS, 1),
        SEGMENT_1_THREAD(SegmentBenchmark.class, "next", Mode.Throughput, TimeUnit.SECONDS, 1),
        SEGMENT_2_THREADS(SegmentBenchmark.class, "next", Mode.Throughput, TimeUnit.SECONDS, 2),
        SEGMENT_BATCH(SegmentBatchBenchmark.class, "nextBatch", Mode.Throughput, TimeUnit.SECONDS, 1),
        SEGMENT_STORE_1_THREAD(SegmentStoreBenchmark.class, "take", Mode.Throughput, TimeUnit.SECONDS, 1),
        SEGMENT_STORE_2_THREADS(SegmentStoreBenchmark.class, "take", Mode.Throughput, TimeUnit.SECONDS, 2),
        STARTUP(StartupBenchmark.class, "buildToFirstId", Mode.SingleShotTime, TimeUnit.MILLISECONDS, 1),
        PEER_STARTUP(PeerStartupBenchmark.class, "constructToFirstId", Mode.SingleShotTime, TimeUnit.MILLISECONDS, 1),
        /** {@link #STARTUP} for host-local and manual in forks with an application class-data archive ({@link AppCds}). */
        STARTUP_APPCDS(AppCdsStartupBenchmark.class, "buildToFirstId", Mode.SingleShotTime, TimeUnit.MILLISECONDS, 1),
        /** {@link #PEER_STARTUP} with the same archive and flags as {@link #STARTUP_APPCDS}. */
        PEER_STARTUP_APPCDS(AppCdsPeerStartupBenchmark.class, "constructToFirstId", Mode.SingleShotTime, TimeUnit.MILLISECONDS, 1),
        FIRST_START(FirstStartBenchmark.class, "buildToFirstId", Mode.SingleShotTime, TimeUnit.MILLISECONDS, 1);

        final Class<?> benchmark;
        final String method;
        final Mode mode;
        final TimeUnit unit;
        final int threads;

        Suite(Class<?> benchmark, String method, Mode mode, TimeUnit unit, int threads) {
            this.benchmark = benchmark;
            this.method = method;
            this.mode = mode;
            this.unit = unit;
            this.threads = threads;
        }

        /** {@return whether it measures coordinator back ends ({@link Coordinator}), which need their servers} */
        boolean usesCoordinators() {
            return this == STARTUP || this == FIRST_START;
        }

        /** {@return whether its forks map the run's application class-data archive ({@link AppCds})} */
        boolean usesAppCds() {
            return this == STARTUP_APPCDS || this == PEER_STARTUP_APPCDS;
        }

        /** {@return whether it starts servers of its own in each fork ({@link SegmentStoreBenchmark}), which must be installed} */
        boolean startsStoreServers() {
            return this == SEGMENT_STORE_1_THREAD || this == SEGMENT_STORE_2_THREADS;
        }

        ChainedOptionsBuilder options(Profile profile) {
            return options(profile, new String[0]);
        }

        /** @param extraJvmArgs appended to {@link #FORK_JVM_ARGS} (JMH keeps one list: a second call would replace it) */
        ChainedOptionsBuilder options(Profile profile, String... extraJvmArgs) {
            String[] jvmArgs = Arrays.copyOf(FORK_JVM_ARGS, FORK_JVM_ARGS.length + extraJvmArgs.length);
            System.arraycopy(extraJvmArgs, 0, jvmArgs, FORK_JVM_ARGS.length, extraJvmArgs.length);
            ChainedOptionsBuilder o = new OptionsBuilder()
                    .include("^" + Pattern.quote(benchmark.getName() + "." + method) + "$")
                    .mode(mode)
                    .timeUnit(unit)
                    .threads(threads)
                    .jvmArgsAppend(jvmArgs)
                    .addProfiler(GCProfiler.class)
                    .addProfiler(WorkerAllocationProfiler.class)
                    .shouldFailOnError(true);
            if (this == FIRST_START) {
                return o.forks(profile.firstStartForks).warmupIterations(0).measurementIterations(profile.firstStartShots)
                        .warmupBatchSize(1).measurementBatchSize(1);
            }
            if (benchmark == SustainedBenchmark.class) {
                // No warm-up: the first iteration is a service's first second, the last ones what it sustains.
                return o.forks(profile.forks).warmupIterations(0).measurementIterations(Profile.SUSTAINED_SECONDS)
                        .measurementTime(TimeValue.seconds(1));
            }
            if (this == CONTENTION_2_THREADS) {
                return o.forks(profile.contentionForks).warmupIterations(profile.warmupIterations)
                        .warmupTime(TimeValue.seconds(Profile.ITERATION_SECONDS)).measurementIterations(profile.contentionIterations)
                        .measurementTime(TimeValue.seconds(Profile.ITERATION_SECONDS));
            }
            if (mode == Mode.SingleShotTime) {
                return o.forks(profile.startupForks).warmupIterations(0).measurementIterations(profile.startupShots)
                        .warmupBatchSize(1).measurementBatchSize(1);
            }
            TimeValue iteration = TimeValue.seconds(Profile.ITERATION_SECONDS);
            return o.forks(profile.forks).warmupIterations(profile.warmupIterations).warmupTime(warmupIteration(profile))
                    .measurementIterations(profile.measurementIterations).measurementTime(iteration);
        }

        /**
         * {@return the length of each warm-up iteration: {@link Profile#ITERATION_SECONDS}, or longer where the suite needs a
         * longer warm-up in all ({@link Profile#REAL_TIME_WARMUP_SECONDS}); longer iterations rather than more, so that a fork
         * never runs more iterations than {@link WorkerAllocationProfiler} allows}
         */
        TimeValue warmupIteration(Profile profile) {
            long seconds = Profile.ITERATION_SECONDS;
            if (this == MULTI_GET) {
                // Real-time calls of 1,024 IDs and more wait for the clock (about 1,000 and 100 calls a second): the one-time
                // cost of the JIT's first C2 compile of the per-millisecond path (WorkerAllocationProfiler) would be bytes
                // per call if it fell into a measured iteration.
                int iterations = Math.max(1, profile.warmupIterations);
                seconds = Math.max(seconds, (Profile.REAL_TIME_WARMUP_SECONDS + iterations - 1) / iterations);
            }
            return TimeValue.seconds(seconds);
        }
    }

    private BenchRunner() {
    }

    /**
     * @param args profile ({@code short} or {@code full}), results directory, benchmarks document, then
     *     optionally the suites to run (names of {@link Suite}, any case)
     */
    public static void main(String[] args) throws RunnerException, IOException, InterruptedException {
        if (args.length < 3) {
            throw new IllegalArgumentException("usage: BenchRunner short|full RESULTS_DIR DOCS_FILE [SUITE...]; suites: "
                    + Arrays.toString(Suite.values()));
        }
        Profile profile = Profile.valueOf(args[0].toUpperCase(Locale.ROOT));
        Path results = Path.of(args[1]);
        Path docs = Path.of(args[2]);
        List<Suite> suites = new ArrayList<>();
        for (int i = 3; i < args.length; i++) {
            suites.add(Suite.valueOf(args[i].toUpperCase(Locale.ROOT).replace('-', '_')));
        }
        if (suites.isEmpty()) {
            suites.addAll(Arrays.asList(Suite.values()));
        }
        Files.createDirectories(results);

        Map<String, Object> env = new LinkedHashMap<>();
        Instant started = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        env.put("profile", profile.id());
        env.put("commit", commit());
        env.put("started", started.toString());
        env.put("loadAtStart", HostSnapshot.loadAverage());
        env.put("busiestAtStart", HostSnapshot.busiestProcesses(2000, 4));
        env.put("cpu", HostSnapshot.cpuModel());
        env.put("cores", Runtime.getRuntime().availableProcessors());
        env.put("memory", HostSnapshot.memory());
        env.put("os", HostSnapshot.operatingSystem());
        env.put("jdk", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version") + " ("
                + System.getProperty("java.vendor") + ")");
        env.put("tmpdir", System.getProperty("java.io.tmpdir"));
        env.put("forks", profile.forks);
        env.put("warmupIterations", profile.warmupIterations);
        env.put("measurementIterations", profile.measurementIterations);
        env.put("iterationSeconds", Profile.ITERATION_SECONDS);
        env.put("startupForks", profile.startupForks);
        env.put("startupShots", profile.startupShots);
        env.put("firstStartForks", profile.firstStartForks);
        env.put("firstStartShots", profile.firstStartShots);
        env.put("contentionForks", profile.contentionForks);
        env.put("contentionIterations", profile.contentionIterations);
        env.put("suites", suites.stream().map(Enum::name).collect(Collectors.toList()));
        Map<String, Object> libraries = new LinkedHashMap<>();
        for (Contender c : Contender.values()) {
            libraries.put(c.name(), jarOf(c.libraryClass()));
        }
        env.put("libraries", libraries);
        Map<String, Object> segmentLibraries = new LinkedHashMap<>();
        for (SegmentContender c : SegmentContender.values()) {
            segmentLibraries.put(c.name(), jarOf(c.libraryClass()));
        }
        env.put("segmentLibraries", segmentLibraries);
        if (suites.stream().anyMatch(Suite::startsStoreServers)) {
            env.put("segmentStores", SegmentStoreBenchmark.describeServers());
        }
        System.out.printf(Locale.ROOT, "bench: profile %s, suites %s; load %s; busiest other processes: %s%n", profile.id(),
                suites, env.get("loadAtStart"), env.get("busiestAtStart"));

        // The back ends' servers: found (or the run stops here, not after the other suites) and described for the
        // report; each is then given a worker ID with history, for the restarts StartupBenchmark measures, before any
        // suite runs (so that no measured start, a first start included, is the one that creates mysql's tables).
        String namespace = Coordinator.newNamespace();
        boolean coordinators = suites.stream().anyMatch(Suite::usesCoordinators);
        if (coordinators) {
            Map<String, Object> servers = new LinkedHashMap<>();
            for (Coordinator c : Coordinator.values()) {
                servers.put(c.allocator(), c.describeServer());
            }
            env.put("coordinators", servers);
        }

        List<RunResult> all = new ArrayList<>();
        String[] appCds = null;
        Path appCdsDir = null;
        try {
            if (coordinators) {
                Quiet.ekkoLogs();
                for (Coordinator c : Coordinator.values()) {
                    long t = System.nanoTime();
                    int worker = c.prime(namespace);
                    System.out.printf(Locale.ROOT, "bench: %s: worker ID %d of namespace %s has history now (its first start"
                            + " took %d ms, waiting by design)%n", c.allocator(), worker, namespace, (System.nanoTime() - t) / 1_000_000);
                }
            }
            for (Suite suite : suites) {
                System.out.printf(Locale.ROOT, "%nbench: suite %s (%s, %d thread%s)%n", suite, suite.mode.longLabel(), suite.threads,
                        suite.threads == 1 ? "" : "s");
                String[] extra = suite.usesCoordinators() ? new String[] {"-D" + Coordinator.NAMESPACE_PROPERTY + "=" + namespace}
                        : new String[0];
                if (suite.usesAppCds()) {
                    if (appCds == null) {
                        appCdsDir = Files.createTempDirectory("ekko-bench-appcds");
                        appCds = AppCds.create(appCdsDir.resolve("startup.jsa"));
                        System.out.printf(Locale.ROOT, "bench: AppCDS archive from a training run: %s%n", String.join(" ", appCds));
                    }
                    extra = appCds;
                }
                ChainedOptionsBuilder options = suite.options(profile, extra);
                if (suite == Suite.STARTUP_APPCDS) {
                    options.param("allocator", "host-local", "manual"); // what the training run started
                }
                if (suite == Suite.CONTENTION_2_THREADS) {
                    options.param("generator", ContentionBenchmark.GENERATORS);
                }
                Collection<RunResult> r = new Runner(options.build()).run();
                all.addAll(r);
            }
        } finally {
            if (appCdsDir != null) {
                StateDirectories.delete(appCdsDir);
            }
            if (coordinators) {
                for (Coordinator c : Coordinator.values()) {
                    // Each back end's own: one that fails does not keep the others' from being deleted.
                    try {
                        System.out.printf(Locale.ROOT, "bench: %s: deleted the run's %d %s (namespaces %s*)%n", c.allocator(),
                                c.deleteNamespaces(namespace), c.items(), namespace);
                    } catch (RuntimeException e) {
                        System.err.printf(Locale.ROOT, "bench: %s: could not delete the run's %s (namespaces %s*): %s%n", c.allocator(),
                                c.items(), namespace, e);
                    }
                }
            }
        }

        Instant finished = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        env.put("finished", finished.toString());
        env.put("durationSeconds", Duration.between(started, finished).getSeconds());
        env.put("loadAtEnd", HostSnapshot.loadAverage());
        env.put("busiestAtEnd", HostSnapshot.busiestProcesses(2000, 4));

        Path json = results.resolve(profile.id() + ".json");
        try (PrintStream out = new PrintStream(Files.newOutputStream(json), true, StandardCharsets.UTF_8)) {
            ResultFormatFactory.getInstance(ResultFormatType.JSON, out).writeOut(all);
        }
        Files.writeString(Report.environmentFileOf(json), Json.write(env) + "\n");
        System.out.printf(Locale.ROOT, "%nbench: JMH JSON %s and environment %s written (%d s)%n", json,
                Report.environmentFileOf(json), Duration.between(started, finished).getSeconds());
        Report.generate(json, docs);
        Path readme = docs.toAbsolutePath().getParent().resolveSibling("README.md");
        if (suites.size() == Suite.values().length && profile == Profile.SHORT && Files.exists(readme)) {
            // The README shows the short profile's complete run: the command it names repeats it.
            Report.generateReadmeSummary(json, readme);
        }
        if (profile == Profile.SHORT && Files.exists(readme) && suites.containsAll(List.of(Suite.SEGMENT_1_THREAD, Suite.SEGMENT_2_THREADS,
                Suite.SEGMENT_BATCH, Suite.SEGMENT_STORE_1_THREAD, Suite.SEGMENT_STORE_2_THREADS))) {
            // The README's segment figures: from a short run with every segment suite, which the command they name repeats.
            Report.generateReadmeSegment(json, readme);
        }
    }

    /** {@return the checked-out commit, marked when ekko-core or ekko-bench has uncommitted changes; or "unknown"} */
    static String commit() throws InterruptedException {
        try {
            String head = run("git", "rev-parse", "--short=12", "HEAD").trim();
            boolean dirty = !run("git", "status", "--porcelain", "--untracked-files=no", "--", "ekko-core", "ekko-bench/src",
                    "ekko-bench/pom.xml").isBlank();
            return head.isEmpty() ? "unknown" : "`" + head + "`" + (dirty ? " with uncommitted changes" : "");
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return p.waitFor() == 0 ? out : "";
    }

    /** {@return the file name of the jar a class was loaded from, which names the library and its version} */
    static String jarOf(Class<?> c) {
        var source = c.getProtectionDomain().getCodeSource();
        if (source == null) {
            return "unknown";
        }
        String path = source.getLocation().getPath();
        return path.substring(path.lastIndexOf('/', path.length() - 2) + 1);
    }
}
