package dev.ekko.bench.report;

import dev.ekko.bench.Contender;
import dev.ekko.bench.Coordinator;
import dev.ekko.bench.EkkoMode;
import dev.ekko.bench.FirstStartBenchmark;
import dev.ekko.bench.PeerStartupBenchmark;
import dev.ekko.bench.SegmentContender;
import dev.ekko.bench.SegmentStoreBenchmark;
import dev.ekko.bench.SustainedBenchmark;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns one run's JMH JSON (and the environment file beside it) into a Markdown table and a PNG chart next
 * to the JSON, and rewrites the generated section of the benchmarks document. Every figure comes from the
 * JSON; nothing is typed by hand, so running it again on the same JSON gives the same files.
 *
 * <pre>
 *   java -cp ... dev.ekko.bench.report.Report RESULTS/short.json [docs/benchmarks.md]
 * </pre>
 */
public final class Report {

    /** The line after which the benchmarks document's generated section starts. */
    public static final String BEGIN = "<!-- bench:begin -->";
    /** The line at which it ends. */
    public static final String END = "<!-- bench:end -->";
    /** The line after which the README's summary (run, targets, chart, Get) starts. */
    public static final String README_BEGIN = "<!-- bench:readme:begin -->";
    /** The line at which it ends. */
    public static final String README_END = "<!-- bench:readme:end -->";
    /** The line after which the README's segment-mode figures start (in its "Segment mode" section). */
    public static final String README_SEGMENT_BEGIN = "<!-- bench:segment:begin -->";
    /** The line at which they end. */
    public static final String README_SEGMENT_END = "<!-- bench:segment:end -->";

    /** An allocating call allocates at least one object of at least 16 bytes: less than 1 B/op on average is none. */
    static final double NO_ALLOCATION_BELOW = 1.0;
    static final double REAL_TIME_TARGET = 0.99;
    static final double MULTI_GET_TARGET_IDS_PER_SECOND = 500_000_000;
    static final int MULTI_GET_TARGET_BATCH = 1024;

    static final String GET = "GetBenchmark.get";
    static final String CONTENTION = "ContentionBenchmark.get";
    static final String MULTI_GET = "MultiGetBenchmark.multiGet";
    static final String DECODE = "DecodeBenchmark.decode";
    static final String STARTUP = "StartupBenchmark.buildToFirstId";
    static final String FIRST_START = "FirstStartBenchmark.buildToFirstId";
    static final String PEER_STARTUP = "PeerStartupBenchmark.constructToFirstId";
    /** {@link #STARTUP} and {@link #PEER_STARTUP} in forks that map an application class-data archive (a JVM setting). */
    static final String STARTUP_APPCDS = "AppCdsStartupBenchmark.buildToFirstId";
    static final String PEER_STARTUP_APPCDS = "AppCdsPeerStartupBenchmark.constructToFirstId";
    static final String SUSTAINED = "SustainedBenchmark.get";
    /** Issue 17's start-up target: Ekko's cold start within this many milliseconds of the fastest peer's. */
    static final double STARTUP_TARGET_MILLIS = 20;
    static final String BASELINE = "JmhBaselineBenchmark.waitOneMillisecond";
    static final String SEGMENT = "SegmentBenchmark.next";
    static final String SEGMENT_BATCH = "SegmentBatchBenchmark.nextBatch";
    static final String SEGMENT_STORE = "SegmentStoreBenchmark.take";
    /** The suites that write the README's segment figures: a run must hold them all. */
    static final List<String> SEGMENT_SUITES = List.of("SEGMENT_1_THREAD", "SEGMENT_2_THREADS", "SEGMENT_BATCH",
            "SEGMENT_STORE_1_THREAD", "SEGMENT_STORE_2_THREADS");

    private final List<Result> results;
    private final Map<String, Object> env;

    Report(List<Result> results, Map<String, Object> env) {
        this.results = results;
        this.env = env;
    }

    /**
     * @param args the JMH JSON file, then optionally the benchmarks document whose generated section to rewrite
     */
    public static void main(String[] args) throws IOException {
        if (args.length < 1 || args.length > 3) {
            throw new IllegalArgumentException("usage: Report RESULTS.json [DOCS.md [README.md]]");
        }
        generate(Path.of(args[0]), args.length > 1 ? Path.of(args[1]) : null);
        if (args.length > 2) {
            generateReadmeSummary(Path.of(args[0]), Path.of(args[2]));
            if (load(Path.of(args[0])).hasEverySegmentSuite()) {
                generateReadmeSegment(Path.of(args[0]), Path.of(args[2]));
            }
        }
    }

    /**
     * @param json JMH's JSON; {@code X.env.json} beside it is read if present
     * @return the environment file of a JMH JSON file: {@code short.json} has {@code short.env.json}
     */
    public static Path environmentFileOf(Path json) {
        String name = json.getFileName().toString();
        return json.resolveSibling(name.replaceFirst("\\.json$", "") + ".env.json");
    }

    /**
     * Writes {@code X.md} and {@code X.png} beside {@code X.json} and, if given, rewrites the section of
     * {@code docs} between {@link #BEGIN} and {@link #END}.
     *
     * @param json JMH's JSON
     * @param docs the benchmarks document, or null
     * @throws IllegalStateException if the document lacks the markers
     */
    public static void generate(Path json, Path docs) throws IOException {
        Path envFile = environmentFileOf(json);
        Report report = load(json);

        String base = json.getFileName().toString().replaceFirst("\\.json$", "");
        Path png = json.resolveSibling(base + ".png");
        Path md = json.resolveSibling(base + ".md");
        Charts.write(report, png);
        Files.writeString(md, "# Ekko benchmarks: " + report.env("profile", base) + " profile\n\n"
                + report.markdown(json.getFileName().toString(), envFile.getFileName().toString(), png.getFileName().toString()));
        System.out.println("report: table " + md + ", chart " + png);
        if (docs != null) {
            Path from = docs.toAbsolutePath().getParent();
            String body = report.markdown(link(from, json), link(from, envFile), link(from, png));
            rewriteSection(docs, body);
            System.out.println("report: generated section of " + docs + " rewritten");
        }
    }

    /**
     * Rewrites the README's summary between {@link #README_BEGIN} and {@link #README_END}: the run, the
     * targets, the chart and the Get table, from the same JSON as the benchmarks document.
     *
     * @param json JMH's JSON
     * @param readme the README
     */
    public static void generateReadmeSummary(Path json, Path readme) throws IOException {
        Report report = load(json);
        Path from = readme.toAbsolutePath().getParent();
        Path png = json.resolveSibling(json.getFileName().toString().replaceFirst("\\.json$", "") + ".png");
        StringBuilder md = new StringBuilder();
        md.append("_Generated by `ekko-bench/report` from [").append(fileName(link(from, json))).append("](").append(link(from, json))
                .append("); the full tables are in [docs/benchmarks.md](docs/benchmarks.md)._\n\n");
        report.runSection(md);
        report.targetsSection(md);
        md.append("![Ekko against its peers: Get throughput, Get latency, MultiGet and start-up](").append(link(from, png)).append(")\n\n");
        report.sustainedSection(md);
        report.getSection(md);
        report.startupSection(md);
        rewriteSection(readme, md.toString(), README_BEGIN, README_END);
        System.out.println("report: benchmark summary of " + readme + " rewritten");
    }

    /** Reads JMH's JSON and, if present, the {@code X.env.json} beside it. */
    static Report load(Path json) throws IOException {
        List<Result> results = new ArrayList<>();
        for (Object e : Json.array(Json.parse(Files.readString(json)))) {
            results.add(Result.of(Json.object(e)));
        }
        Path envFile = environmentFileOf(json);
        Map<String, Object> env = Files.exists(envFile) ? Json.object(Json.parse(Files.readString(envFile))) : Map.of();
        return new Report(results, env);
    }

    private static String link(Path fromDir, Path to) {
        return fromDir.relativize(to.toAbsolutePath()).toString().replace('\\', '/');
    }

    /** Replaces what lies between the marker lines; a marker quoted inside a line of prose is not a marker. */
    static void rewriteSection(Path docs, String body) throws IOException {
        rewriteSection(docs, body, BEGIN, END);
    }

    static void rewriteSection(Path docs, String body, String begin, String end) throws IOException {
        String text = Files.readString(docs);
        List<String> lines = List.of(text.split("\n", -1));
        int b = lines.indexOf(begin);
        int e = lines.indexOf(end);
        if (b < 0 || e < b || lines.lastIndexOf(begin) != b || lines.lastIndexOf(end) != e) {
            throw new IllegalStateException("must contain one line " + begin + " and, after it, one line " + end + ": " + docs);
        }
        List<String> out = new ArrayList<>(lines.subList(0, b + 1));
        out.add(body.stripTrailing());
        out.addAll(lines.subList(e, lines.size()));
        Files.writeString(docs, String.join("\n", out));
    }

    // ---------------------------------------------------------------- the Markdown

    String markdown(String jsonLink, String envLink, String pngLink) {
        StringBuilder md = new StringBuilder();
        md.append("_Generated by `ekko-bench/report` from [").append(fileName(jsonLink)).append("](").append(jsonLink)
                .append(") and [").append(fileName(envLink)).append("](").append(envLink)
                .append("); anything edited here is overwritten by the next run._\n\n");
        runSection(md);
        targetsSection(md);
        md.append("![Ekko against its peers: Get throughput, Get latency, MultiGet and start-up](").append(pngLink).append(")\n\n");
        sustainedSection(md);
        getSection(md);
        contentionSection(md);
        latencySection(md);
        multiGetSection(md);
        decodeSection(md);
        segmentSection(md);
        startupSection(md);
        peersSection(md);
        return md.toString();
    }

    private void runSection(StringBuilder md) {
        Optional<Result.Settings> s = results.stream().filter(r -> !r.mode().equals("ss")).map(Result::settings).findFirst();
        Optional<Result.Settings> ss = results.stream().filter(r -> r.benchmark().equals(STARTUP)).map(Result::settings).findFirst();
        Optional<Result.Settings> first = results.stream().filter(r -> r.benchmark().equals(FIRST_START)).map(Result::settings)
                .findFirst();
        Result.Settings any = s.or(() -> ss).or(() -> first).orElse(null);
        md.append("| run | |\n|---|---|\n");
        md.append("| profile | `").append(env("profile", "?")).append("`, commit ").append(env("commit", "unknown")).append(" |\n");
        md.append("| date (UTC) | ").append(env("started", "unknown")).append(" to ").append(env("finished", "unknown"))
                .append(" (").append(minutes(env.get("durationSeconds"))).append(") |\n");
        md.append("| machine | ").append(env("cpu", "unknown")).append(", ").append(env("cores", "?")).append(" cores, ")
                .append(env("memory", "?")).append("; ").append(env("os", "unknown")).append(" |\n");
        md.append("| JDK | ").append(any == null ? env("jdk", "unknown") : any.vm()).append(" |\n");
        if (any != null) {
            // The run's namespace is no setting of the JVM; it differs in every run.
            List<String> args = any.jvmArgs().stream().filter(a -> !a.startsWith("-D" + Coordinator.NAMESPACE_PROPERTY + "=")).toList();
            md.append("| JMH | ").append(any.jmhVersion()).append(", forked JVMs with `").append(String.join(" ", args))
                    .append("`, GC profiler and worker allocation profiler on every benchmark |\n");
        }
        s.ifPresent(x -> md.append("| counts | ").append(x.forks()).append(" fork(s); warm-up ").append(x.warmupIterations())
                .append(" × ").append(x.warmupTime()).append("; measurement ").append(x.measurementIterations()).append(" × ")
                .append(x.measurementTime()).append(" per benchmark and parameter set |\n"));
        if (ss.isPresent() || first.isPresent()) {
            md.append("| start-up counts | ");
            ss.ifPresent(x -> md.append(x.forks()).append(" forks × ").append(x.measurementIterations())
                    .append(" single shots, no warm-up: the first shot of each fork is a cold start"));
            first.ifPresent(x -> md.append(ss.isPresent() ? "; " : "").append("first start on a back end: ").append(x.forks())
                    .append(" fork(s) × ").append(x.measurementIterations()).append(" single shots"));
            md.append(" |\n");
        }
        if (!servers().isEmpty() && (ss.isPresent() || first.isPresent())) {
            md.append("| back-end servers | ").append(serversText()).append(" |\n");
        }
        md.append("| load average (1, 5, 15 min) | ").append(env("loadAtStart", "unknown")).append(" at start, ")
                .append(env("loadAtEnd", "unknown")).append(" at end |\n");
        md.append("| busiest other processes | at start: ").append(env("busiestAtStart", "unknown")).append("; at end: ")
                .append(env("busiestAtEnd", "unknown")).append(" |\n\n");
    }

    private void targetsSection(StringBuilder md) {
        long ceiling = Contender.EKKO_REAL_TIME.idsPerSecond();
        md.append("### Targets\n\n| target | measured | met |\n|---|---|---|\n");
        for (int threads : new int[] {1, 2}) {
            Optional<Result> rt = get("thrpt", threads, Contender.EKKO_REAL_TIME);
            md.append("| real-time Get ≥ ").append(pct(REAL_TIME_TARGET)).append(" of the ceiling (").append(count(ceiling))
                    .append(" IDs/s), ").append(threads(threads)).append(" | ");
            if (rt.isPresent()) {
                double f = rt.get().score() / ceiling;
                md.append(pct(f)).append(" (").append(count(rt.get().score())).append(" IDs/s) | ").append(met(f >= REAL_TIME_TARGET));
            } else {
                md.append("not run | – ");
            }
            md.append(" |\n");
        }
        stripedTargets(md, ceiling);
        for (int threads : new int[] {1, 2}) {
            Optional<Result> bl = get("thrpt", threads, Contender.EKKO_BOUNDED_LEAD);
            Optional<Result> bestPeer = results.stream()
                    .filter(r -> r.benchmark().equals(GET) && r.mode().equals("thrpt") && r.threads() == threads)
                    .filter(r -> !Contender.valueOf(r.param("generator")).isEkko())
                    .max((a, b) -> Double.compare(a.score(), b.score()));
            md.append("| bounded-lead Get faster per ID than every peer's Get, ").append(threads(threads)).append(" | ");
            if (bl.isPresent() && bestPeer.isPresent()) {
                double ekko = nanosPerId(bl.get().score());
                double peer = nanosPerId(bestPeer.get().score());
                md.append(nanos(ekko)).append(" per ID; fastest peer ").append(label(bestPeer.get())).append(' ').append(nanos(peer))
                        .append(" | ").append(met(ekko < peer));
            } else {
                md.append("not run | – ");
            }
            md.append(" |\n");
        }
        md.append("| MultiGet of ").append(count(MULTI_GET_TARGET_BATCH)).append(" ≥ ").append(count(MULTI_GET_TARGET_IDS_PER_SECOND))
                .append(" IDs/s | ");
        Optional<Result> mgBl = multiGet(EkkoMode.BOUNDED_LEAD, MULTI_GET_TARGET_BATCH);
        Optional<Result> mgRt = multiGet(EkkoMode.REAL_TIME, MULTI_GET_TARGET_BATCH);
        if (mgBl.isPresent()) {
            double ids = mgBl.get().score() * MULTI_GET_TARGET_BATCH;
            md.append("bounded lead: ").append(count(ids)).append(" IDs/s");
            mgRt.ifPresent(r -> md.append("; real time: ").append(count(r.score() * MULTI_GET_TARGET_BATCH))
                    .append(" IDs/s, held to the ceiling"));
            md.append(" | ").append(met(ids >= MULTI_GET_TARGET_IDS_PER_SECOND)).append(" (bounded lead)");
        } else {
            md.append("not run | –");
        }
        md.append(" |\n");
        startupTarget(md);
        allocationTarget(md, "0 bytes allocated per Get (Ekko, both modes, 1 and 2 threads)",
                results.stream().filter(r -> r.benchmark().equals(GET) && r.mode().equals("thrpt"))
                        .filter(r -> Contender.valueOf(r.param("generator")).isEkko()).toList());
        allocationTarget(md, "0 bytes allocated per MultiGet into a caller's array (every batch, both modes)",
                results.stream().filter(r -> r.benchmark().equals(MULTI_GET)).toList());
        md.append("\n_Allocation per call, two ways. **B/call**: what the benchmark's own threads allocated, divided by"
                + " the calls (`alloc.worker.norm`, ekko-bench's WorkerAllocationProfiler), less what JMH itself allocates on"
                + " each of those threads per iteration (").append(count(jmhBytesPerWorkerIteration())).append(" B in this run,"
                + " measured by JmhBaselineBenchmark, a call that allocates nothing); in bounded lead it includes starting a"
                + " fresh generator each iteration. **JVM B/call**: JMH's GC profiler (`gc.alloc.rate.norm`), every thread of"
                + " the JVM, JMH's own included, whose background of tens of kilobytes a second is more than a byte per call for"
                + " calls that wait for the clock. The smallest object is 16 bytes, so below ").append(NO_ALLOCATION_BELOW)
                .append(" B per call means the call itself allocates nothing._\n\n");
    }

    /**
     * 4 stripes against every peer, each sustained: the last five seconds of fifteen of one generator (SustainedBenchmark), so
     * that neither side counts a burst (a peer that borrows future milliseconds, or idle past ones, pays them back there).
     * Each side counts at most its own ceiling ({@link #sustainable}): a rate above it spent milliseconds that passed between
     * JMH's iterations (a peer whose timestamp lags the clock while idle spends them later), which a load with no pause
     * between seconds does not have to give.
     */
    private void stripedSustainedTarget(StringBuilder md, int threads) {
        Optional<Result> ekko = results.stream().filter(x -> x.benchmark().equals(SUSTAINED) && x.threads() == threads
                && "STRIPED_4".equals(x.param("mode"))).findFirst();
        Optional<Result> bestPeer = results.stream().filter(x -> x.benchmark().equals(SUSTAINED) && x.threads() == threads)
                .filter(Report::isSustainedPeer)
                .max((a, b) -> Double.compare(lastFiveSeconds(a), lastFiveSeconds(b)));
        if (ekko.isEmpty() || bestPeer.isEmpty()) {
            return;
        }
        double e = lastFiveSeconds(ekko.get());
        double p = lastFiveSeconds(bestPeer.get());
        SustainedBenchmark.Mode peer = sustainedMode(bestPeer.get().param("mode"));
        double peerCounted = sustainable(p, peer.ceiling());
        double ekkoCounted = sustainable(e, SustainedBenchmark.Mode.STRIPED_4.ceiling());
        md.append("| real time with 4 stripes at or above every 12-bit peer's sustained rate (last 5 s of 15; each counted at most at"
                + " its own ceiling), ").append(threads(threads)).append(" | ").append(count(e)).append(" IDs/s; fastest peer ")
                .append(sustainedLabel(bestPeer.get().param("mode"))).append(' ').append(count(p)).append(" IDs/s");
        if (p > peer.ceiling() * (1 + CEILING_ROUNDING)) {
            Optional<Result> lead = results.stream().filter(x -> x.benchmark().equals(SUSTAINED) && x.threads() == threads
                    && "LEAD_1S".equals(x.param("mode"))).findFirst();
            md.append(" (").append(pct(p / peer.ceiling())).append(" of its own ceiling: more IDs than its milliseconds per"
                    + " second of iteration hold, so it also spent milliseconds that passed between iterations");
            lead.ifPresent(l -> md.append("; Ekko's lead 1 s, which spends them from the future, reads ")
                    .append(pct(lastFiveSeconds(l) / SustainedBenchmark.Mode.LEAD_1S.ceiling())));
            md.append("), counted at its ceiling of ").append(count(peer.ceiling())).append(" IDs/s");
        }
        md.append(" | ").append(met(ekkoCounted >= peerCounted)).append(" |\n");
    }

    /**
     * How far a one-second iteration's count may stray from a generator's ceiling by the iteration's length alone (JMH's
     * iterations run a little over or under a second): a rate within it is at the ceiling.
     */
    static final double CEILING_ROUNDING = 0.001;

    /**
     * What a rate measured over one-second iterations says a generator sustains: at most its ceiling, which a rate within
     * {@link #CEILING_ROUNDING} of it, or above it, counts as. Above the ceiling a generator spent milliseconds that passed
     * between iterations, which a continuous load does not leave it.
     *
     * @param rate IDs per second measured
     * @param ceiling the generator's own ceiling, IDs per second
     * @return the rate counted
     */
    static double sustainable(double rate, double ceiling) {
        return rate >= ceiling * (1 - CEILING_ROUNDING) ? ceiling : rate;
    }

    /** Issue 17's striping targets: k stripes reach k ceilings; 4 stripes pass every peer; 2 threads on 2 stripes do not contend. */
    private void stripedTargets(StringBuilder md, long ceiling) {
        for (Contender c : new Contender[] {Contender.EKKO_STRIPED_2, Contender.EKKO_STRIPED_4}) {
            for (int threads : new int[] {1, 2}) {
                Optional<Result> r = get("thrpt", threads, c);
                if (r.isEmpty()) {
                    continue;
                }
                double f = r.get().score() / c.idsPerSecond();
                md.append("| real-time Get with ").append(c.stripes()).append(" stripes ≥ ").append(pct(REAL_TIME_TARGET)).append(" of ")
                        .append(c.stripes()).append(" × ").append(count(ceiling)).append(" IDs/s, ").append(threads(threads)).append(" | ")
                        .append(pct(f)).append(" (").append(count(r.get().score())).append(" IDs/s) | ").append(met(f >= REAL_TIME_TARGET))
                        .append(" |\n");
            }
        }
        boolean sustainedPeers = results.stream().anyMatch(x -> x.benchmark().equals(SUSTAINED)
                && isSustainedPeer(x));
        for (int threads : new int[] {1, 2}) {
            if (sustainedPeers) {
                stripedSustainedTarget(md, threads);
                continue;
            }
            Optional<Result> r = get("thrpt", threads, Contender.EKKO_STRIPED_4);
            Optional<Result> bestPeer = results.stream()
                    .filter(x -> x.benchmark().equals(GET) && x.mode().equals("thrpt") && x.threads() == threads)
                    .filter(x -> !Contender.valueOf(x.param("generator")).isEkko())
                    .max((a, b) -> Double.compare(a.score(), b.score()));
            if (r.isEmpty() || bestPeer.isEmpty()) {
                continue;
            }
            md.append("| real-time Get with 4 stripes at or above every 12-bit peer's, ").append(threads(threads)).append(" | ")
                    .append(count(r.get().score())).append(" IDs/s; fastest peer ").append(label(bestPeer.get())).append(' ')
                    .append(count(bestPeer.get().score())).append(" IDs/s | ").append(met(r.get().score() >= bestPeer.get().score()))
                    .append(" |\n");
        }
        Optional<Result> one = get("thrpt", 1, Contender.EKKO_BOUNDED_LEAD_STRIPED_2);
        Optional<Result> across = contention(Contender.EKKO_BOUNDED_LEAD_STRIPED_2);
        Optional<Result> two = across.or(() -> get("thrpt", 2, Contender.EKKO_BOUNDED_LEAD_STRIPED_2));
        if (one.isPresent() && two.isPresent()) {
            double spread = two.get().error() / two.get().score();
            boolean steady = !Double.isNaN(spread) && spread < 0.10;
            boolean faster = nanosPerId(two.get().score()) < nanosPerId(one.get().score());
            md.append("| bounded lead with 2 stripes, 2 threads: 99.9% CI under 10% of the score");
            if (across.isPresent()) {
                md.append(" across ").append(across.get().settings().forks()).append(" forks (ContentionBenchmark)");
            }
            md.append(", and faster per ID than 1 thread | ")
                    .append(plusMinus(two.get())).append(" IDs/s (").append(pct(spread)).append("); ")
                    .append(nanos(nanosPerId(two.get().score()))).append(" per ID against ").append(nanos(nanosPerId(one.get().score())))
                    .append(" | ").append(met(steady && faster)).append(" |\n");
        }
    }

    /** {@return ContentionBenchmark's result for a generator: 2 threads, many forks} */
    Optional<Result> contention(Contender c) {
        return results.stream().filter(r -> r.benchmark().equals(CONTENTION) && c.name().equals(r.param("generator"))).findFirst();
    }

    /**
     * Two threads on one generator in bounded lead, across forks: one worker ID, whose threads CAS one word, and 2 stripes.
     * Each fork's mean is shown, since contention shows as forks that differ, not as iterations that do.
     */
    private void contentionSection(StringBuilder md) {
        List<Result> rs = results.stream().filter(r -> r.benchmark().equals(CONTENTION)).toList();
        if (rs.isEmpty()) {
            return;
        }
        md.append("### Contention: 2 threads on one generator, across forks\n\nContentionBenchmark: the Get benchmark at 2 threads in"
                + " bounded lead, run in more forks than the others, so that the 99.9% CI is taken across forks, where two threads"
                + " that CAS one word show as forks that differ. A fresh generator each iteration, as in the Get table.\n\n");
        md.append("| generator | forks × iterations | IDs/s (± 99.9% CI) | CI of the score | ns/ID | fork means, IDs/s | slowest – fastest iteration |\n");
        md.append("|---|---:|---:|---:|---:|---|---:|\n");
        for (Result r : rs) {
            List<String> means = new ArrayList<>();
            List<Double> all = new ArrayList<>();
            for (List<Double> fork : r.raw()) {
                means.add(count(fork.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN)));
                all.addAll(fork);
            }
            List<Double> s = sorted(all);
            md.append("| ").append(label(r)).append(" | ").append(r.settings().forks()).append(" × ")
                    .append(r.settings().measurementIterations()).append(" | ").append(plusMinus(r)).append(" | ")
                    .append(pct(r.error() / r.score())).append(" | ").append(nanos(nanosPerId(r.score()))).append(" | ")
                    .append(String.join(", ", means)).append(" | ")
                    .append(s.isEmpty() ? "–" : count(s.get(0)) + " – " + count(s.get(s.size() - 1))).append(" |\n");
        }
        md.append('\n');
    }

    /** Cold start of the core's allocators against the fastest peer's cold start, medians of the same run. */
    private void startupTarget(StringBuilder md) {
        startupTarget(md, STARTUP, PEER_STARTUP, "");
        if (results.stream().anyMatch(r -> r.benchmark().equals(STARTUP_APPCDS))) {
            startupTarget(md, STARTUP_APPCDS, PEER_STARTUP_APPCDS, ", **all with AppCDS** (a JVM setting: one archive, same flags)");
        }
    }

    private void startupTarget(StringBuilder md, String ekkoBenchmark, String peerBenchmark, String condition) {
        Optional<Result> fastestPeer = results.stream().filter(r -> r.benchmark().equals(peerBenchmark))
                .min((a, b) -> Double.compare(coldMedian(a), coldMedian(b)));
        for (String allocator : new String[] {"host-local", "manual"}) {
            Optional<Result> ekko = results.stream()
                    .filter(r -> r.benchmark().equals(ekkoBenchmark) && r.param("allocator").equals(allocator)).findFirst();
            md.append("| cold start to the first ID (").append(allocator).append(") within ").append(count(STARTUP_TARGET_MILLIS))
                    .append(" ms of the fastest peer's, medians").append(condition).append(" | ");
            if (ekko.isPresent() && fastestPeer.isPresent()) {
                double e = coldMedian(ekko.get());
                double p = coldMedian(fastestPeer.get());
                md.append(String.format(Locale.ROOT, "%.1f ms; fastest peer %s %.1f ms (%+.1f ms)", e,
                        PeerStartupBenchmark.label(fastestPeer.get().param("generator")), p, e - p))
                        .append(" | ").append(met(e - p <= STARTUP_TARGET_MILLIS));
            } else {
                md.append("not run | –");
            }
            md.append(" |\n");
        }
    }

    /** {@return the median of a start-up result's cold shots (the first of each fork), in its unit (ms)} */
    private static double coldMedian(Result r) {
        List<Double> cold = new ArrayList<>();
        shots(r, cold, new ArrayList<>());
        return cold.isEmpty() ? Double.NaN : median(sorted(cold));
    }

    private void allocationTarget(StringBuilder md, String target, List<Result> rs) {
        md.append("| ").append(target).append(" | ");
        OptionalDouble max = rs.stream().mapToDouble(this::netAllocatedPerOp).filter(d -> !Double.isNaN(d)).max();
        if (max.isEmpty()) {
            md.append("not run | – |\n");
            return;
        }
        md.append("at most ").append(bytes(max.getAsDouble())).append(" B per call by the calling threads | ")
                .append(met(max.getAsDouble() < NO_ALLOCATION_BELOW)).append(" |\n");
    }

    /** {@return the two allocation cells: the benchmark's own threads net of JMH's bookkeeping, then the whole JVM} */
    private String allocation(Result r) {
        return bytes(netAllocatedPerOp(r)) + " | " + bytes(r.allocatedPerOp());
    }

    /**
     * @return bytes that JMH itself allocates on each worker thread per iteration (result objects and the
     *     like), measured by the baseline benchmark of this run; 0 if it was not run
     */
    double jmhBytesPerWorkerIteration() {
        return results.stream().filter(r -> r.benchmark().equals(BASELINE) && r.mode().equals("thrpt"))
                .mapToDouble(r -> r.workerAllocatedPerOp() * r.score() * seconds(r.settings().measurementTime()))
                .filter(d -> !Double.isNaN(d)).findFirst().orElse(0);
    }

    /**
     * @return bytes the benchmark's own threads allocated per call, less JMH's bookkeeping on them (never
     *     below zero: what is left below that is noise); NaN if not measured
     */
    double netAllocatedPerOp(Result r) {
        double opsPerIteration;
        switch (r.mode()) {
            case "thrpt": opsPerIteration = r.score() * seconds(r.settings().measurementTime()); break;
            case "avgt": opsPerIteration = r.threads() * seconds(r.settings().measurementTime()) * 1e9 / r.score(); break;
            case "ss": opsPerIteration = 1; break;
            default: return r.workerAllocatedPerOp(); // sample time: calls are fast, the bookkeeping negligible
        }
        return Math.max(0, r.workerAllocatedPerOp() - jmhBytesPerWorkerIteration() * r.threads() / opsPerIteration);
    }

    private void getSection(StringBuilder md) {
        md.append("### Get: one ID per call\n\nThroughput of all threads together, sharing one generator. ns/ID is wall"
                + " time per ID across all threads (1 s / IDs per second). The ceiling is each generator's own: IDs per"
                + " millisecond × 1000.\n\n");
        md.append("| generator | own ceiling, IDs/s | threads | IDs/s (± 99.9% CI) | of own ceiling | ns/ID | B/call | JVM B/call |\n");
        md.append("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        boolean any = false;
        for (Contender c : Contender.values()) {
            for (int threads : new int[] {1, 2}) {
                Optional<Result> r = get("thrpt", threads, c);
                if (r.isEmpty()) {
                    continue;
                }
                any = true;
                double f = r.get().score() / c.idsPerSecond();
                md.append("| ").append(c.label()).append(" | ").append(count(c.idsPerSecond())).append(" | ").append(threads)
                        .append(" | ").append(plusMinus(r.get())).append(" | ").append(c.freshEachIteration() ? "– †" : pct(f))
                        .append(" | ")
                        .append(nanos(nanosPerId(r.get().score()))).append(" | ").append(allocation(r.get())).append(" |\n");
            }
        }
        if (!any) {
            md.append("| not run | | | | | | | |\n");
        }
        md.append("\n† Bounded lead is not held to the real-time ceiling while its lead lasts: ").append(leadNote(
                get("thrpt", 1, Contender.EKKO_BOUNDED_LEAD), 1)).append(" Sustained for longer than the lead, it is held to"
                + " the same ceiling as real time.\n\n");
    }

    private String leadNote(Optional<Result> r, int batch) {
        if (r.isEmpty()) {
            return "";
        }
        double idsPerSecond = r.get().score() * batch;
        double leadSeconds = EkkoMode.BOUNDED_LEAD.maxLead().toSeconds();
        double logicalPerWall = idsPerSecond / Contender.EKKO_BOUNDED_LEAD.idsPerSecond();
        double iteration = seconds(r.get().settings().measurementTime());
        double used = Math.max(0, logicalPerWall - 1) * iteration;
        return String.format(Locale.ROOT, "at %s IDs/s its logical clock runs %.0f× as fast as the wall clock, so a %s"
                + " iteration uses %s s of its %s s lead (a fresh generator each iteration)%s.", count(idsPerSecond), logicalPerWall,
                r.get().settings().measurementTime(), count(used), count(leadSeconds),
                used > leadSeconds ? ": MORE than the lead, so the figure mixes the burst with waiting at the ceiling" : "");
    }

    private void latencySection(StringBuilder md) {
        List<Result> rs = new ArrayList<>();
        for (Contender c : Contender.values()) {
            get("sample", 2, c).ifPresent(rs::add);
        }
        if (rs.isEmpty()) {
            return;
        }
        md.append("### Get latency, 2 threads (JMH sample-time)\n\nTime of one `next()` call as the caller sees it, waits for"
                + " the next millisecond included.\n\n");
        md.append("| generator | samples | p50 | p99 | p99.9 | p99.99 | max | B/call | JVM B/call |\n");
        md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Result r : rs) {
            md.append("| ").append(label(r)).append(" | ").append(count(r.samples()));
            for (String p : new String[] {"50.0", "99.0", "99.9", "99.99", "100.0"}) {
                Double v = r.percentiles().get(p);
                md.append(" | ").append(v == null ? "–" : duration(v));
            }
            md.append(" | ").append(allocation(r)).append(" |\n");
        }
        md.append('\n');
    }

    /**
     * Second after second with one generator that is never restarted: the first second, the last five (what it sustains),
     * and how much of its lead each setting had used by the end.
     */
    private void sustainedSection(StringBuilder md) {
        List<Result> rs = results.stream().filter(r -> r.benchmark().equals(SUSTAINED)).toList();
        if (rs.isEmpty()) {
            return;
        }
        long ceiling = Contender.EKKO_REAL_TIME.idsPerSecond();
        md.append("### Sustained: what one generator gives second after second\n\nOne generator per fork, started once and"
                + " never restarted, measured in consecutive one-second iterations with no warm-up (SustainedBenchmark): the first"
                + " second is a service's first second, the last five what it sustains. A lead lets a burst run ahead of the wall"
                + " clock until the lead is used up; then every setting is held to the real-time ceiling of ").append(count(ceiling))
                .append(" IDs/s per worker ID (a striped generator holds several: its ceiling is theirs added up). The peers run"
                        + " the same way, each against its own ceiling (4,096 IDs per millisecond).\n\n");
        md.append("| setting | threads | first second, IDs | last 5 s, IDs/s (sustained) | of the ceiling | lead used by the end |\n");
        md.append("|---|---:|---:|---:|---:|---|\n");
        for (Result r : rs) {
            List<Double> seconds = r.raw().isEmpty() ? List.of() : r.raw().get(0);
            if (seconds.size() < 6) {
                continue;
            }
            double last5 = lastFiveSeconds(r);
            double issued = seconds.stream().mapToDouble(Double::doubleValue).sum();
            double leadUsed = Math.max(0, issued / ceiling - seconds.size());
            String mode = r.param("mode");
            SustainedBenchmark.Mode m = sustainedMode(mode);
            long ceilingHere = m == null ? ceiling : m.ceiling();
            long leadSeconds = m == null ? 0 : m.maxLead().toSeconds();
            md.append("| ").append(sustainedLabel(mode)).append(" | ").append(r.threads()).append(" | ").append(count(seconds.get(0)))
                    .append(" | ").append(count(last5)).append(" | ").append(pct(last5 / ceilingHere)).append(" | ")
                    .append(leadSeconds == 0 ? "–" : last5 <= ceilingHere * 1.01 ? "all " + count(leadSeconds) + " s (the last 5 s at"
                            + " the ceiling)" : String.format(Locale.ROOT, "%.1f s of %s s; %s", leadUsed, count(leadSeconds),
                                    leadLeftNote(leadSeconds - leadUsed, last5 / ceilingHere, seconds.size())))
                    .append(" |\n");
        }
        md.append("\n_Counted per fork (the first fork's iterations when there are several). \"Lead used\" is all of it when the last"
                + " five seconds ran at the ceiling; otherwise the IDs issued beyond the ceiling times the measured seconds, in seconds"
                + " of the ceiling (the wall clock also runs between iterations, so this slightly undercounts): a lead still left at"
                + " the end means the last seconds are a burst, not what the setting sustains once the lead is gone: when it would be used up"
                + " is the lead left divided by the lead the last five seconds used per second._\n\n");
    }

    /**
     * {@return when a lead still left at the end would be used up at the last five seconds' rate, and what follows} At
     * {@code ratio} times the ceiling, each wall-clock second uses {@code ratio - 1} seconds of lead.
     *
     * @param leftSeconds lead left at the end, in seconds of the ceiling
     * @param ratio the last five seconds' rate over the ceiling (above 1)
     * @param measuredSeconds seconds measured so far
     */
    static String leadLeftNote(double leftSeconds, double ratio, int measuredSeconds) {
        double more = leftSeconds / (ratio - 1);
        return String.format(Locale.ROOT, "at this rate used up about %s s after the start, then held to the ceiling",
                count(measuredSeconds + more));
    }

    /** {@return the name of a {@link SustainedBenchmark.Mode} in the table, or the name as recorded if no mode has it now} */
    private static String sustainedLabel(String mode) {
        SustainedBenchmark.Mode m = sustainedMode(mode);
        return m == null ? mode : m.label();
    }

    /** {@return whether a sustained result is a peer's (its mode names a peer)} */
    private static boolean isSustainedPeer(Result r) {
        SustainedBenchmark.Mode m = sustainedMode(r.param("mode"));
        return m != null && m.peer() != null;
    }

    /** {@return the mode a result names, or null if no mode has that name now} */
    private static SustainedBenchmark.Mode sustainedMode(String name) {
        for (SustainedBenchmark.Mode m : SustainedBenchmark.Mode.values()) {
            if (m.name().equals(name)) {
                return m;
            }
        }
        return null;
    }

    /** {@return the average of the last five one-second iterations of a sustained result's first fork, NaN if too few} */
    static double lastFiveSeconds(Result r) {
        List<Double> seconds = r.raw().isEmpty() ? List.of() : r.raw().get(0);
        if (seconds.size() < 6) {
            return Double.NaN;
        }
        return seconds.subList(seconds.size() - 5, seconds.size()).stream().mapToDouble(Double::doubleValue).average()
                .orElse(Double.NaN);
    }

    private void multiGetSection(StringBuilder md) {
        List<Result> rs = results.stream().filter(r -> r.benchmark().equals(MULTI_GET)).toList();
        if (rs.isEmpty()) {
            return;
        }
        md.append("### MultiGet: `next(long[])` into the caller's array, 1 thread\n\nOne call fills the whole array;"
                + " no peer has a batch call.");
        Result.Settings settings = rs.get(0).settings();
        md.append(" Warm-up ").append(settings.warmupIterations()).append(" × ").append(settings.warmupTime())
                .append(" per fork, longer than the other suites': in real time the code run once per millisecond reaches the"
                        + " JIT's C2 about 5 s into a fork, and its first C2 compile allocates a few kilobytes once, which at"
                        + " these call rates would read as bytes per call (ekko-bench's WorkerAllocationProfiler).\n\n");
        md.append("| mode | batch | calls/s | IDs/s | ns/ID | of the real-time ceiling | B/call | JVM B/call | lead used per iteration |\n");
        md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (EkkoMode mode : EkkoMode.values()) {
            for (Result r : rs) {
                if (!r.param("mode").equals(mode.name())) {
                    continue;
                }
                int batch = Integer.parseInt(r.param("batch"));
                double ids = r.score() * batch;
                md.append("| ").append(modeLabel(mode)).append(" | ").append(count(batch)).append(" | ").append(plusMinus(r))
                        .append(" | ").append(count(ids)).append(" | ").append(nanos(nanosPerId(ids))).append(" | ")
                        .append(mode.freshEachIteration() ? "–" : pct(ids / Contender.EKKO_REAL_TIME.idsPerSecond()))
                        .append(" | ").append(allocation(r))
                        .append(" | ").append(mode == EkkoMode.BOUNDED_LEAD ? leadUsed(r, batch) : "–").append(" |\n");
            }
        }
        md.append('\n');
    }

    private String leadUsed(Result r, int batch) {
        double logicalPerWall = r.score() * batch / Contender.EKKO_BOUNDED_LEAD.idsPerSecond();
        double used = Math.max(0, logicalPerWall - 1) * seconds(r.settings().measurementTime());
        double lead = EkkoMode.BOUNDED_LEAD.maxLead().toSeconds();
        return count(used) + " s of " + count(lead) + " s" + (used > lead ? " (RAN OUT)" : "");
    }

    private void decodeSection(StringBuilder md) {
        results.stream().filter(r -> r.benchmark().equals(DECODE)).findFirst().ifPresent(r -> md
                .append("### Decode: `layout().decode(id)`, 1 thread\n\n| ns/ID (± 99.9% CI) | B/call | JVM B/call |\n|---:|---:|---:|\n| ")
                .append(nanos(r.score())).append(Double.isNaN(r.error()) ? "" : " ± " + nanos(r.error())).append(" | ")
                .append(allocation(r)).append(" |\n\n_`decode` returns a `DecodedId` record, which is the allocation"
                        + " when the caller keeps it._\n\n"));
    }

    private void startupSection(StringBuilder md) {
        List<Result> rs = results.stream().filter(r -> r.benchmark().equals(STARTUP) || r.benchmark().equals(PEER_STARTUP)
                || r.benchmark().equals(STARTUP_APPCDS) || r.benchmark().equals(PEER_STARTUP_APPCDS)
                || r.benchmark().equals(FIRST_START)).toList();
        if (rs.isEmpty()) {
            return;
        }
        md.append("### Start-up: `build()` to the first ID, fresh state directory\n\nCold: the first start in a new JVM"
                + " (one per fork). Warm: later starts in the same JVM. The peers' rows (PeerStartupBenchmark, same counts and JVM"
                + " flags, same run) go from the constructor to the first ID; they persist nothing, hold no worker ID and start no"
                + " thread.\n\n");
        if (rs.stream().anyMatch(r -> r.benchmark().equals(STARTUP_APPCDS))) {
            md.append("**With AppCDS** rows (a JVM setting): the forks map an application class-data archive"
                    + " (`-XX:SharedArchiveFile=... -Xshare:on`), which one training run of the same starts wrote on the same class"
                    + " path (`-XX:ArchiveClassesAtExit`, as a user would: see the README), so the JVM maps the classes a start"
                    + " loads, already parsed and verified, instead of loading them from the class path. Ekko and the peers use"
                    + " the same archive and flags. The difference to the row without is what loading classes costs a cold"
                    + " start.\n\n");
        }
        md.append("| allocator | cold: median (min – max) | cold starts | warm: median (min – max) | warm starts | allocated per shot (start, first ID, close) |\n");
        md.append("|---|---:|---:|---:|---:|---:|\n");
        boolean restarts = false;
        List<Result> firstStarts = new ArrayList<>();
        for (Result r : rs) {
            List<Double> cold = new ArrayList<>();
            List<Double> warm = new ArrayList<>();
            shots(r, cold, warm);
            restarts |= isBackEndRestart(r);
            if (r.benchmark().equals(FIRST_START)) {
                firstStarts.add(r);
            }
            md.append("| ").append(startupLabel(r)).append(" | ")
                    .append(spread(cold, r.unit())).append(" | ").append(cold.size()).append(" | ").append(spread(warm, r.unit()))
                    .append(" | ").append(warm.size()).append(" | ")
                    .append(Double.isNaN(r.workerAllocatedPerOp()) ? "–" : count(netAllocatedPerOp(r) / 1024) + " KiB").append(" |\n");
        }
        md.append('\n');
        if (restarts) {
            md.append("**Restart** rows run against the back end's server (").append(serversText()).append("), in a namespace of"
                    + " the run's own. Before the forks the run starts the instance once, so every measured start is a restart of"
                    + " the same instance on a worker ID with history, as a restarting service sees it: connecting, acquiring the"
                    + " worker ID and sending the first report (Redis's scripts; MySQL's connection pool, table check and"
                    + " statements; etcd's gRPC channel, lease grant and transactions, whose classes make its cold start the"
                    + " slowest), the state file, the first ID. The previous start's mark is behind the clock, so none"
                    + " waits.\n\n");
        }
        for (Result r : firstStarts) {
            md.append(firstStartNote(r)).append("\n\n");
        }
    }

    /** Splits a start-up result's shots: the first of each fork is cold, the rest warm. */
    static void shots(Result r, List<Double> cold, List<Double> warm) {
        for (List<Double> fork : r.raw()) {
            for (int i = 0; i < fork.size(); i++) {
                (i == 0 ? cold : warm).add(fork.get(i));
            }
        }
    }

    private static boolean isBackEndRestart(Result r) {
        String a = r.param("allocator");
        return r.benchmark().equals(STARTUP) && !a.equals("host-local") && !a.equals("manual");
    }

    /** {@return the row label of a start-up result in the table} */
    static String startupLabel(Result r) {
        if (r.benchmark().equals(PEER_STARTUP)) {
            return PeerStartupBenchmark.label(r.param("generator")) + " (peer)";
        }
        if (r.benchmark().equals(PEER_STARTUP_APPCDS)) {
            return PeerStartupBenchmark.label(r.param("generator")) + " (peer), **with AppCDS**";
        }
        String a = r.param("allocator");
        if (r.benchmark().equals(STARTUP_APPCDS)) {
            return a + ", **with AppCDS**";
        }
        if (r.benchmark().equals(FIRST_START)) {
            return a + ", **first start** on a worker ID with no history (lease TTL " + r.param("leaseTtl") + ", max skew "
                    + r.param("maxSkew") + ")";
        }
        switch (a) {
            case "host-local": return a + " (the default)";
            case "manual": return a + " (worker 1)";
            default: return a + ", **restart** on a worker ID with history";
        }
    }

    /** {@return the category of a start-up result in the chart} */
    static String startupCategory(Result r) {
        if (r.benchmark().equals(PEER_STARTUP)) {
            return PeerStartupBenchmark.label(r.param("generator"));
        }
        String a = r.param("allocator");
        if (r.benchmark().equals(FIRST_START)) {
            return a + " first start (" + r.param("leaseTtl") + " TTL + " + r.param("maxSkew") + " skew)";
        }
        return a.equals("host-local") || a.equals("manual") ? a : a + " restart";
    }

    private String firstStartNote(Result r) {
        String a = r.param("allocator");
        long ttl = millis(r.param("leaseTtl"));
        long skew = millis(r.param("maxSkew"));
        long wait = ttl + skew;
        List<Double> cold = new ArrayList<>();
        List<Double> warm = new ArrayList<>();
        shots(r, cold, warm);
        StringBuilder note = new StringBuilder("**First start** (").append(a).append("): a worker ID that the back end has no"
                + " history for (the very first start on it, or any start after the server lost its data) waits one lease TTL plus the tolerated clock skew before"
                + " its first ID, by design (docs/").append(a).append(".md, the handover mark); a restart on a worker ID with"
                + " history does not. Measured against ").append(serverText(a)).append(", in a fresh namespace per shot, with"
                + " `ekko.worker.lease.ttl=").append(r.param("leaseTtl")).append("` and `ekko.clock.max.skew=").append(r.param("maxSkew"))
                .append("`: a wait of ").append(count(wait)).append(" ms, so the start itself took");
        List<String> beyond = new ArrayList<>();
        if (!cold.isEmpty()) {
            beyond.add(String.format(Locale.ROOT, " %.1f ms cold", median(sorted(cold)) - wait));
        }
        if (!warm.isEmpty()) {
            beyond.add(String.format(Locale.ROOT, " %.1f ms warm", median(sorted(warm)) - wait));
        }
        note.append(String.join(" and", beyond)).append(" (the medians less the wait). With the defaults (lease TTL ")
                .append(FirstStartBenchmark.DEFAULT_LEASE_TTL.toSeconds()).append(" s, max skew ")
                .append(FirstStartBenchmark.DEFAULT_MAX_SKEW.toSeconds()).append(" s) the wait is ")
                .append(FirstStartBenchmark.DEFAULT_LEASE_TTL.plus(FirstStartBenchmark.DEFAULT_MAX_SKEW).toSeconds())
                .append(" s: stated here, not measured.");
        return note.toString();
    }

    private Map<String, Object> servers() {
        return env.get("coordinators") instanceof Map ? Json.object(env.get("coordinators")) : Map.of();
    }

    private String serversText() {
        Map<String, Object> servers = servers();
        if (servers.isEmpty()) {
            return "the back ends' servers";
        }
        List<String> each = new ArrayList<>();
        servers.forEach((allocator, server) -> each.add(allocator + ": " + server));
        return String.join("; ", each);
    }

    private String serverText(String allocator) {
        Object server = servers().get(allocator);
        return server == null ? "its server" : String.valueOf(server);
    }

    private void peersSection(StringBuilder md) {
        md.append("### The generators and their own ceilings\n\n| generator | library | IDs per ms | ceiling, IDs/s | built as |\n");
        md.append("|---|---|---:|---:|---|\n");
        Map<String, Object> libraries = env.get("libraries") instanceof Map ? Json.object(env.get("libraries")) : Map.of();
        for (Contender c : Contender.values()) {
            md.append("| ").append(c.label()).append(" | ").append(libraries.getOrDefault(c.name(), "?")).append(" | ")
                    .append(count(c.idsPerMilli())).append(" | ").append(count(c.idsPerSecond())).append(" | ")
                    .append(c.configuration()).append(" |\n");
        }
        md.append('\n');
    }


    // ---------------------------------------------------------------- segment mode

    /**
     * Rewrites the README's segment-mode figures between {@link #README_SEGMENT_BEGIN} and {@link #README_SEGMENT_END}: per
     * thread count and step, Ekko's time per number against the fastest peer's, the batch, and the ranges per second of each
     * store, with the run's conditions and the command that repeats it.
     *
     * @param json JMH's JSON of a run that holds every segment suite
     * @param readme the README
     * @throws IllegalStateException if the run lacks a segment suite, or the README the markers
     */
    public static void generateReadmeSegment(Path json, Path readme) throws IOException {
        Report report = load(json);
        if (!report.hasEverySegmentSuite()) {
            throw new IllegalStateException("must hold every segment suite " + SEGMENT_SUITES + " to write the README's segment figures: "
                    + json + " holds " + report.env("suites", "unknown suites"));
        }
        Path from = readme.toAbsolutePath().getParent();
        StringBuilder md = new StringBuilder();
        md.append("_Generated by `ekko-bench/report` from [").append(fileName(link(from, json))).append("](").append(link(from, json))
                .append(") (profile `").append(report.env("profile", "?")).append("`, commit ").append(report.env("commit", "unknown"))
                .append(", ").append(report.env("started", "unknown")).append("; ").append(report.env("cpu", "unknown")).append(", ")
                .append(report.env("cores", "?")).append(" cores; load average ").append(report.env("loadAtStart", "unknown"))
                .append(" at start). Repeat with `").append(report.segmentCommand())
                .append("`; the tables are in [docs/benchmarks.md](docs/benchmarks.md#segment-mode-numbers-per-name-from-leased-ranges)._\n\n");
        md.append("Counting, on an in-memory store (the same for every generator: ranges from one `AtomicLong`; CosId's own"
                + " `IdSegmentDistributor.Atomic`) with the same fixed step, so the store costs nothing and the figures compare the"
                + " counting and the buffering; ns per number is wall time across all threads (1 s / numbers per second):\n\n");
        md.append("| threads | step | Ekko `next()` | fastest peer | at least as fast | Ekko B/call |\n|---:|---:|---:|---|---|---:|\n");
        for (int threads : new int[] {1, 2}) {
            for (String step : report.segmentSteps()) {
                Optional<Result> ekko = report.segment(threads, SegmentContender.EKKO, step);
                Optional<Result> peer = report.fastestSegmentPeer(threads, step);
                if (ekko.isEmpty()) {
                    continue;
                }
                md.append("| ").append(threads).append(" | ").append(count(Long.parseLong(step))).append(" | ")
                        .append(nanos(nanosPerId(ekko.get().score()))).append(" | ")
                        .append(peer.map(p -> segmentLabel(p) + ": " + nanos(nanosPerId(p.score()))).orElse("not run")).append(" | ")
                        .append(peer.map(p -> met(ekko.get().score() >= p.score())).orElse("–")).append(" | ")
                        .append(bytes(report.netAllocatedPerOp(ekko.get()))).append(" |\n");
            }
        }
        md.append('\n');
        List<Result> batches = report.results.stream().filter(r -> r.benchmark().equals(SEGMENT_BATCH)
                && SegmentContender.EKKO.name().equals(r.param("contender"))).toList();
        if (!batches.isEmpty()) {
            md.append("A batch into the caller's array (`next(long[])`, one `getAndAdd` per batch; the peers have no batch call and"
                    + " loop): ");
            List<String> each = new ArrayList<>();
            for (Result r : batches) {
                int batch = Integer.parseInt(r.param("batch"));
                Optional<Result> peer = report.results.stream().filter(p -> p.benchmark().equals(SEGMENT_BATCH)
                        && !SegmentContender.EKKO.name().equals(p.param("contender")) && r.param("step").equals(p.param("step"))
                        && r.param("batch").equals(p.param("batch"))).max((a, b) -> Double.compare(a.score(), b.score()));
                each.add(String.format(Locale.ROOT, "%s per number for %s at step %s (fastest peer %s)", nanos(nanosPerId(r.score() * batch)),
                        count(batch), count(Long.parseLong(r.param("step"))),
                        peer.map(p -> segmentLabel(p) + " " + nanos(nanosPerId(p.score() * batch))).orElse("not run")));
            }
            md.append(String.join("; ", each)).append(".\n\n");
        }
        md.append("Ranges per second one name gets from each store (`take` in a loop on one name, one range per call; a server of"
                + " the run's own on the same machine, durable as the store requires: ").append(report.storeServersText())
                .append("). A name needing *N* numbers per second from all its processes needs a step of at least *N* divided by"
                        + " these; the adaptive step settles far above that, at a range per `ekko.segment.step.target`:\n\n");
        report.storeTable(md);
        rewriteSection(readme, md.toString(), README_SEGMENT_BEGIN, README_SEGMENT_END);
        System.out.println("report: segment figures of " + readme + " rewritten");
    }

    /** {@return whether the run holds every segment suite (the README's segment figures need them all)} */
    boolean hasEverySegmentSuite() {
        Object suites = env.get("suites");
        return suites instanceof List<?> l && l.containsAll(SEGMENT_SUITES);
    }

    /** {@return the command that repeats the run: every suite, or the segment suites it named} */
    String segmentCommand() {
        Object suites = env.get("suites");
        String profile = env("profile", "short");
        if (suites instanceof List<?> l && l.size() > SEGMENT_SUITES.size()) {
            return "./bench " + profile;
        }
        StringBuilder c = new StringBuilder("./bench ").append(profile);
        for (String s : SEGMENT_SUITES) {
            c.append(' ').append(s.toLowerCase(Locale.ROOT).replace('_', '-'));
        }
        return c.toString();
    }

    private void segmentSection(StringBuilder md) {
        boolean any = results.stream().anyMatch(r -> r.benchmark().startsWith("Segment"));
        if (!any) {
            return;
        }
        md.append("### Segment mode: numbers per name from leased ranges\n\n");
        List<Result> next = results.stream().filter(r -> r.benchmark().equals(SEGMENT)).toList();
        if (!next.isEmpty()) {
            md.append("`next()`: throughput of all threads together, sharing one generator that counts one name. Every generator"
                    + " gets the same kind of in-memory store (ranges handed out from one `AtomicLong`; CosId its own"
                    + " `IdSegmentDistributor.Atomic`) and the same fixed step, so the figures compare the counting and the"
                    + " buffering, not the stores. ns/number is wall time across all threads.\n\n");
            md.append("| threads | step | generator | numbers/s (± 99.9% CI) | ns/number | B/call | JVM B/call |\n");
            md.append("|---:|---:|---|---:|---:|---:|---:|\n");
            for (int threads : new int[] {1, 2}) {
                for (String step : segmentSteps()) {
                    for (SegmentContender c : SegmentContender.values()) {
                        segment(threads, c, step).ifPresent(r -> md.append("| ").append(threads).append(" | ")
                                .append(count(Long.parseLong(step))).append(" | ").append(c.isEkko() ? "**" + c.label() + "**" : c.label())
                                .append(" | ").append(plusMinus(r)).append(" | ").append(nanos(nanosPerId(r.score()))).append(" | ")
                                .append(allocation(r)).append(" |\n"));
                    }
                }
            }
            md.append("\n| target | measured | met |\n|---|---|---|\n");
            for (int threads : new int[] {1, 2}) {
                for (String step : segmentSteps()) {
                    Optional<Result> ekko = segment(threads, SegmentContender.EKKO, step);
                    Optional<Result> peer = fastestSegmentPeer(threads, step);
                    if (ekko.isEmpty() || peer.isEmpty()) {
                        continue;
                    }
                    md.append("| Ekko `next()` at least as fast per number as every peer, ").append(threads(threads)).append(", step ")
                            .append(count(Long.parseLong(step))).append(" | ").append(nanos(nanosPerId(ekko.get().score())))
                            .append(" per number; fastest peer ").append(segmentLabel(peer.get())).append(' ')
                            .append(nanos(nanosPerId(peer.get().score()))).append(" | ").append(met(ekko.get().score() >= peer.get().score()))
                            .append(" |\n");
                }
            }
            allocationTarget(md, "0 bytes allocated per `next()` (Ekko, 1 and 2 threads, every step)", next.stream()
                    .filter(r -> SegmentContender.EKKO.name().equals(r.param("contender"))).toList());
            md.append('\n');
        }
        List<Result> batches = results.stream().filter(r -> r.benchmark().equals(SEGMENT_BATCH)).toList();
        if (!batches.isEmpty()) {
            md.append("A batch into an array the caller owns and reuses, 1 thread: Ekko's `next(long[])`; the peers have no batch call,"
                    + " so a loop of `next()`. One call is one batch.\n\n");
            md.append("| step | batch | generator | batches/s | numbers/s | ns/number | B/call | JVM B/call |\n");
            md.append("|---:|---:|---|---:|---:|---:|---:|---:|\n");
            for (Result r : batches) {
                int batch = Integer.parseInt(r.param("batch"));
                SegmentContender c = SegmentContender.valueOf(r.param("contender"));
                md.append("| ").append(count(Long.parseLong(r.param("step")))).append(" | ").append(count(batch)).append(" | ")
                        .append(c.isEkko() ? "**" + c.label() + "**" : c.label()).append(" | ").append(plusMinus(r)).append(" | ")
                        .append(count(r.score() * batch)).append(" | ").append(nanos(nanosPerId(r.score() * batch))).append(" | ")
                        .append(allocation(r)).append(" |\n");
            }
            md.append('\n');
            allocationTargetTable(md, "0 bytes allocated per `next(long[])` into a caller's array (Ekko, every batch and step)",
                    batches.stream().filter(r -> SegmentContender.EKKO.name().equals(r.param("contender"))).toList());
        }
        if (results.stream().anyMatch(r -> r.benchmark().equals(SEGMENT_STORE))) {
            md.append("Ranges per second a store sustains for one name: `SegmentStore.take(name, ").append(count(SegmentStoreBenchmark.COUNT))
                    .append(", -1)` in a loop, all threads on the same name (its row or key), one range per call, against a server the"
                            + " fork starts on this machine, durable as the store requires: ").append(storeServersText())
                    .append(". Each call is a round trip over loopback and a durable write.\n\n");
            storeTable(md);
        }
        md.append("| generator | library | built as |\n|---|---|---|\n");
        Map<String, Object> libraries = env.get("segmentLibraries") instanceof Map ? Json.object(env.get("segmentLibraries")) : Map.of();
        for (SegmentContender c : SegmentContender.values()) {
            md.append("| ").append(c.label()).append(" | ").append(libraries.getOrDefault(c.name(), "?")).append(" | ")
                    .append(c.configuration()).append(" |\n");
        }
        md.append('\n');
    }

    private void storeTable(StringBuilder md) {
        md.append("| store | threads | ranges/s (± 99.9% CI) | time per range, per thread |\n|---|---:|---:|---:|\n");
        for (String store : new String[] {"mysql", "redis", "etcd"}) {
            for (int threads : new int[] {1, 2}) {
                results.stream().filter(r -> r.benchmark().equals(SEGMENT_STORE) && r.threads() == threads && store.equals(r.param("store")))
                        .findFirst().ifPresent(r -> md.append("| ").append(store).append(" | ").append(threads).append(" | ")
                                .append(plusMinus(r)).append(" | ").append(duration(1e9 * threads / r.score())).append(" |\n"));
            }
        }
        md.append('\n');
    }

    private void allocationTargetTable(StringBuilder md, String target, List<Result> rs) {
        md.append("| target | measured | met |\n|---|---|---|\n");
        allocationTarget(md, target, rs);
        md.append('\n');
    }

    private String storeServersText() {
        Map<String, Object> servers = env.get("segmentStores") instanceof Map ? Json.object(env.get("segmentStores")) : Map.of();
        if (servers.isEmpty()) {
            return "servers not recorded";
        }
        List<String> each = new ArrayList<>();
        servers.forEach((store, server) -> each.add(store + ": " + server));
        return String.join("; ", each);
    }

    /** {@return the steps of the run's {@code next()} results, in increasing order} */
    List<String> segmentSteps() {
        return results.stream().filter(r -> r.benchmark().equals(SEGMENT)).map(r -> r.param("step")).distinct()
                .sorted((a, b) -> Long.compare(Long.parseLong(a), Long.parseLong(b))).toList();
    }

    Optional<Result> segment(int threads, SegmentContender c, String step) {
        return results.stream().filter(r -> r.benchmark().equals(SEGMENT) && r.threads() == threads && c.name().equals(r.param("contender"))
                && step.equals(r.param("step"))).findFirst();
    }

    Optional<Result> fastestSegmentPeer(int threads, String step) {
        return results.stream().filter(r -> r.benchmark().equals(SEGMENT) && r.threads() == threads && step.equals(r.param("step"))
                && !SegmentContender.EKKO.name().equals(r.param("contender"))).max((a, b) -> Double.compare(a.score(), b.score()));
    }

    static String segmentLabel(Result r) {
        return SegmentContender.valueOf(r.param("contender")).label();
    }

    // ---------------------------------------------------------------- queries for the chart and the tables

    List<Result> results() {
        return results;
    }

    String env(String key, String otherwise) {
        Object v = env.get(key);
        if (v == null) {
            return otherwise;
        }
        if (v instanceof Double && (Double) v == Math.rint((Double) v)) {
            return Long.toString(((Double) v).longValue());
        }
        return String.valueOf(v);
    }

    Optional<Result> get(String mode, int threads, Contender c) {
        return results.stream().filter(r -> r.benchmark().equals(GET) && r.mode().equals(mode) && r.threads() == threads
                && c.name().equals(r.param("generator"))).findFirst();
    }

    Optional<Result> multiGet(EkkoMode mode, int batch) {
        return results.stream().filter(r -> r.benchmark().equals(MULTI_GET) && mode.name().equals(r.param("mode"))
                && Integer.toString(batch).equals(r.param("batch"))).findFirst();
    }

    static String label(Result r) {
        return Contender.valueOf(r.param("generator")).label();
    }

    static String modeLabel(EkkoMode mode) {
        return mode == EkkoMode.REAL_TIME ? "real time" : "bounded lead";
    }

    // ---------------------------------------------------------------- formatting

    static double nanosPerId(double idsPerSecond) {
        return 1e9 / idsPerSecond;
    }

    static String count(double v) {
        return String.format(Locale.ROOT, "%,.0f", v);
    }

    static String pct(double fraction) {
        return String.format(Locale.ROOT, "%.1f%%", fraction * 100);
    }

    static String nanos(double ns) {
        if (ns < 10) {
            return String.format(Locale.ROOT, "%.2f ns", ns);
        }
        return ns < 100 ? String.format(Locale.ROOT, "%.1f ns", ns) : String.format(Locale.ROOT, "%,.0f ns", ns);
    }

    static String duration(double ns) {
        if (ns < 1_000) {
            return String.format(Locale.ROOT, "%.0f ns", ns);
        }
        return ns < 1_000_000 ? String.format(Locale.ROOT, "%.1f µs", ns / 1e3) : String.format(Locale.ROOT, "%.2f ms", ns / 1e6);
    }

    static String bytes(double b) {
        return Double.isNaN(b) ? "–" : String.format(Locale.ROOT, "%.3f", b);
    }

    static String plusMinus(Result r) {
        return count(r.score()) + (Double.isNaN(r.error()) ? "" : " ± " + count(r.error()));
    }

    static String threads(int n) {
        return n == 1 ? "1 thread" : n + " threads";
    }

    static String met(boolean met) {
        return met ? "**yes**" : "**no**";
    }

    private static String spread(List<Double> values, String unit) {
        if (values.isEmpty()) {
            return "–";
        }
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        String u = unit.replace("/op", "");
        return String.format(Locale.ROOT, "%,.1f %s (%,.1f – %,.1f)", median(sorted), u, sorted.get(0), sorted.get(sorted.size() - 1));
    }

    static List<Double> sorted(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted;
    }

    /** {@return milliseconds in a setting's duration such as {@code 2s} or {@code 100ms} (the forms the benchmarks use)} */
    static long millis(String duration) {
        Matcher m = Pattern.compile("([0-9]+)(ms|s|m)").matcher(duration == null ? "" : duration.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("must be a number and ms, s or m: duration=" + duration);
        }
        long v = Long.parseLong(m.group(1));
        return m.group(2).equals("ms") ? v : m.group(2).equals("s") ? v * 1000 : v * 60_000;
    }

    static double median(List<Double> sorted) {
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    /** {@return seconds in a JMH time value such as {@code "1 s"} or {@code "500 ms"}} */
    static double seconds(String jmhTime) {
        Matcher m = Pattern.compile("([0-9.]+) (s|ms|us|ns|min)").matcher(jmhTime);
        if (!m.matches()) {
            return Double.NaN;
        }
        double v = Double.parseDouble(m.group(1));
        switch (m.group(2)) {
            case "min": return v * 60;
            case "ms": return v / 1e3;
            case "us": return v / 1e6;
            case "ns": return v / 1e9;
            default: return v;
        }
    }

    private static String minutes(Object seconds) {
        if (!(seconds instanceof Number)) {
            return "duration unknown";
        }
        long s = ((Number) seconds).longValue();
        return s / 60 + " min " + s % 60 + " s";
    }

    private static String fileName(String link) {
        return link.substring(link.lastIndexOf('/') + 1);
    }
}
