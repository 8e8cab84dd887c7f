package dev.ekko.bench.fleet;

import dev.ekko.testsupport.DisposableEtcd;
import dev.ekko.testsupport.DisposableMariaDb;
import dev.ekko.testsupport.DisposableRedis;
import dev.ekko.testsupport.DisposableServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code ./bench fleet}: what each coordinator costs at fleet scale, with simulated holders in a few JVMs
 * ({@link FleetNode}) against a server of the benchmark's own (the {@code Disposable*} servers the chaos harness uses:
 * durable settings, and a pid to read the server's CPU time and memory from {@code /proc}).
 *
 * <p>For each back end: fill (every holder acquires; 4,096 per IDC), steady state (every holder renews every 3 s; warm-up
 * of three intervals, then the measured window), exhaustion (one more acquirer on a full IDC, while the holders renew),
 * release; then a deploy storm in a new namespace (1,000 acquirers at once, then all restart with their instance names).
 * Writes {@code fleet.json} (every node's reply, raw) and {@code fleet.md} under the results directory, and the generated
 * section of {@code docs/fleet.md} and of the README.
 */
public final class FleetBench {

    private static final int PER_IDC = 4096;
    private static final long INTERVAL_MILLIS = 3000;

    private final int holders;
    /** The numbers of holders the steady state is measured at, rising; the last is {@link #holders}. */
    private final int[] scales;
    private final Map<String, Map<String, String>> steadyRows = new LinkedHashMap<>();
    private final int nodes;
    private final int steadySeconds;
    /** Seconds each holder JVM renews in a loop before the fill, so its client code is compiled (see FleetNode's compile). */
    private final int jitWarmupSeconds;
    private final int storm;
    private final Path results;
    private final Path work;
    private final Map<String, Map<String, String>> table = new LinkedHashMap<>();
    private final StringBuilder raw = new StringBuilder();

    private FleetBench(int[] scales, int nodes, int steadySeconds, int jitWarmupSeconds, int storm, Path results) throws IOException {
        this.scales = scales;
        this.holders = scales[scales.length - 1];
        this.nodes = nodes;
        this.steadySeconds = steadySeconds;
        this.jitWarmupSeconds = jitWarmupSeconds;
        this.storm = storm;
        this.results = results;
        this.work = Files.createTempDirectory("ekko-fleet", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }

    /**
     * Runs the benchmark.
     *
     * @param args {@code [--backends redis,mysql,etcd] [--holders 2048,4096,8192,16384,32768] [--nodes 2] [--steady 30] [--jit-warmup 20] [--storm 1000]
     *     [--results ekko-bench/results] [--docs docs/fleet.md] [--readme README.md]}
     * @throws Exception if a step fails
     */
    public static void main(String[] args) throws Exception {
        Map<String, String> o = new LinkedHashMap<>(Map.of("--backends", "redis,mysql,etcd", "--holders", "2048,4096,8192,16384,32768", "--nodes", "2",
                "--steady", "30", "--jit-warmup", "20", "--storm", "1000", "--results", "ekko-bench/results", "--docs", "docs/fleet.md", "--readme", "README.md"));
        for (int i = 0; i < args.length; i += 2) {
            if (!o.containsKey(args[i]) || i + 1 >= args.length) {
                throw new IllegalArgumentException("unknown option or missing value: " + args[i] + "; allowed: " + o.keySet());
            }
            o.put(args[i], args[i + 1]);
        }
        String[] parts = o.get("--holders").split(",");
        int[] scales = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            scales[i] = Integer.parseInt(parts[i].trim());
            if (scales[i] < 1 || scales[i] > 8 * PER_IDC || (i > 0 && scales[i] <= scales[i - 1])) {
                throw new IllegalArgumentException("must be rising numbers of holders, each 1.." + 8 * PER_IDC + ": --holders="
                        + o.get("--holders"));
            }
        }
        FleetBench b = new FleetBench(scales, positive(o, "--nodes", 1, 16), positive(o, "--steady", 5, 3600), positive(o, "--jit-warmup", 0, 600),
                positive(o, "--storm", 1, PER_IDC), Path.of(o.get("--results")));
        String started = Instant.now().toString();
        for (String backend : o.get("--backends").split(",")) {
            b.run(backend.trim());
        }
        b.write(started, Path.of(o.get("--docs")), Path.of(o.get("--readme")));
    }

    private static int positive(Map<String, String> o, String key, int min, int max) {
        int v = Integer.parseInt(o.get(key));
        if (v < min || v > max) {
            throw new IllegalArgumentException("must be >= " + min + " && <= " + max + ": " + key + "=" + v);
        }
        return v;
    }

    // ---------------------------------------------------------------- one back end

    private void run(String backend) throws Exception {
        log("=== " + backend + ": starting a server");
        Map<String, String> row = new LinkedHashMap<>();
        table.put(backend, row);
        try (DisposableServer server = launch(backend)) {
            Map<String, String> settings = settings(backend, server, "fleet");
            List<Node> fleet = startNodes(backend, settings, "n");
            try {
                if (jitWarmupSeconds > 0) {
                    log(backend + ": " + jitWarmupSeconds + " s of renewals in a loop on each JVM (IDC 7, released after), so the client code"
                            + " is compiled before anything is measured");
                    record(backend + " compile", parallel(fleet, n -> n.send("compile 7 " + jitWarmupSeconds)));
                }
                steady(backend, server, fleet, row);
            } finally {
                closeAll(fleet);
            }
            List<Node> stormers = startNodes(backend, settings(backend, server, "storm"), "s");
            try {
                storm(stormers, row);
            } finally {
                closeAll(stormers);
            }
        }
    }

    private void steady(String backend, DisposableServer server, List<Node> fleet, Map<String, String> row) throws Exception {
        int held = 0;
        double fillTotal = 0;
        int granted = 0;
        int fillFailed = 0;
        for (int scale : scales) {
            long fillStart = System.nanoTime();
            List<String> fills = fill(backend, fleet, held, scale);
            double fillSeconds = (System.nanoTime() - fillStart) / 1e9;
            fillTotal += fillSeconds;
            granted += sum(fills, "granted");
            fillFailed += sum(fills, "exhausted") + countFailures(fills);
            held = scale;
            log(backend + ": filled to " + granted + " in " + f1(fillSeconds) + " s");
            Map<String, String> measured = measureSteady(backend, scale, server, fleet);
            steadyRows.put(backend + " " + scale, measured);
            boolean keptUp = parseInt(measured.get("late")) + parseInt(measured.get("failed")) + parseInt(measured.get("behind")) == 0;
            if (keptUp && held >= PER_IDC && !row.containsKey("exhaust_refused")) {
                // IDC 0 is full and the coordinator keeps up: the exhaustion test measures the refusal, not an overload.
                row.put("exhaust_at", Integer.toString(held));
                exhaustion(backend, fleet, row);
            }
            if (!keptUp) {
                // Fell behind: more holders would only fall further behind (and lose leases); this is where it stops here.
                log(backend + ": fell behind with " + scale + " holders: no larger number measured");
                row.put("stopped_at", Integer.toString(scale));
                break;
            }
        }
        if (held < PER_IDC) {
            // The exhaustion test needs IDC 0 full.
            List<String> fills = fill(backend, fleet, held, PER_IDC);
            granted += sum(fills, "granted");
            fillFailed += sum(fills, "exhausted") + countFailures(fills);
            held = PER_IDC;
            parallel(fleet, n -> n.send("renew-stop") + n.send("renew-start " + INTERVAL_MILLIS));
        }
        int duplicates = duplicates(fleet);
        row.put("holders", Integer.toString(held));
        row.putIfAbsent("exhaust_at", Integer.toString(held));
        row.put("fill_s", f1(fillTotal));
        row.put("fill_granted", Integer.toString(granted));
        row.put("fill_failed", Integer.toString(fillFailed));
        row.put("duplicates", Integer.toString(duplicates));
        parallel(fleet, n -> n.send("stats")); // the holders go on renewing

        if (!row.containsKey("exhaust_refused")) {
            exhaustion(backend, fleet, row);
        }

        parallel(fleet, n -> n.send("renew-stop"));
        long r0 = System.nanoTime();
        List<String> released = parallel(fleet, n -> n.send("release 32"));
        record(backend + " release", released);
        row.put("release_s", f1((System.nanoTime() - r0) / 1e9));
    }

    /** One more acquirer on the full IDC 0, 20 times, while the holders renew; then how the holders fared meanwhile. */
    private void exhaustion(String backend, List<Node> fleet, Map<String, String> row) throws Exception {
        parallel(fleet, n -> n.send("stats")); // the holders' renewals from here on
        log(backend + ": exhaustion: one more acquirer on idc 0, 20 times, while the holders renew");
        String exhausted = fleet.get(0).send("exhaust 0 20");
        List<String> during = parallel(fleet, n -> n.send("stats"));
        record(backend + " exhaust", List.of(exhausted));
        record(backend + " during exhaustion", during);
        row.put("exhaust_refused", value(exhausted, "refused"));
        row.put("exhaust_p50_ms", value(exhausted, "lat_p50"));
        row.put("exhaust_max_ms", value(exhausted, "lat_max"));
        row.put("exhaust_holders_failed", Integer.toString(sum(during, "failed") + sum(during, "lost") + sum(during, "late")));
        row.put("exhaust_message", quoted(exhausted, "message"));

    }

    /** More holders acquire, from {@code from} to {@code to}: IDC by IDC, 4,096 each, each IDC's spread over every JVM. */
    private List<String> fill(String backend, List<Node> fleet, int from, int to) throws Exception {
        log(backend + ": filling from " + from + " to " + to + " holders on " + fleet.size() + " JVMs");
        List<List<String>> perNode = new ArrayList<>();
        for (int n = 0; n < fleet.size(); n++) {
            perNode.add(new ArrayList<>());
        }
        for (int at = from; at < to; ) {
            int idc = at / PER_IDC;
            int count = Math.min(to, (idc + 1) * PER_IDC) - at;
            for (int n = 0; n < fleet.size(); n++) {
                int share = count / fleet.size() + (n < count % fleet.size() ? 1 : 0);
                perNode.get(n).add("acquire " + idc + " " + share + " i" + idc + "-" + at + "-" + fleet.get(n).name + " 32");
            }
            at += count;
        }
        List<String> fills = parallel(fleet, n -> {
            StringBuilder all = new StringBuilder();
            for (String c : perNode.get(fleet.indexOf(n))) {
                all.append(n.send(c)).append(" | ");
            }
            return all.toString();
        });
        record(backend + " fill to " + to, fills);
        return fills;
    }

    /** Every holder renews; after three intervals of warm-up, one measured window. */
    private Map<String, String> measureSteady(String backend, int scale, DisposableServer server, List<Node> fleet) throws Exception {
        Map<String, String> row = new LinkedHashMap<>();
        row.put("backend", backend);
        row.put("holders", Integer.toString(scale));
        // The holders renewed while the new ones acquired; start again with every holder, phases spread anew.
        parallel(fleet, n -> n.send("renew-stop") + n.send("renew-start " + INTERVAL_MILLIS));
        Thread.sleep(3 * INTERVAL_MILLIS);
        parallel(fleet, n -> n.send("stats"));
        long[] cpu0 = cpu(server.pid());
        long[] machine0 = machineCpu();
        long t0 = System.nanoTime();
        log(backend + ": steady state with " + scale + " holders for " + steadySeconds + " s");
        Thread.sleep(steadySeconds * 1000L);
        List<String> steady = parallel(fleet, n -> n.send("stats"));
        double seconds = (System.nanoTime() - t0) / 1e9;
        long[] cpu1 = cpu(server.pid());
        long[] machine1 = machineCpu();
        record(backend + " steady with " + scale, steady);
        long[] latencies = mergeLatencies(fleet);
        int renewed = sum(steady, "renewed");
        row.put("due_per_s", f0(scale * 1000.0 / INTERVAL_MILLIS));
        row.put("renewals_per_s", f0(renewed / seconds));
        row.put("renew_p50_ms", f2(percentile(latencies, 0.50)));
        row.put("renew_p99_ms", f2(percentile(latencies, 0.99)));
        row.put("renew_p999_ms", f2(percentile(latencies, 0.999)));
        row.put("renew_max_ms", f2(percentile(latencies, 1.0)));
        row.put("late", Integer.toString(sum(steady, "late")));
        row.put("behind", Integer.toString(sum(steady, "behind")));
        row.put("skipped", Integer.toString(sum(steady, "skipped")));
        row.put("failed", Integer.toString(sum(steady, "failed") + sum(steady, "lost")));
        row.put("server_cpu_pct", f0(100 * (cpu1[0] - cpu0[0]) / 100.0 / seconds));
        row.put("server_kernel_pct", f0(100 * (cpu1[1] - cpu0[1]) / 100.0 / seconds));
        row.put("machine_cpu_pct", f0(100.0 * (machine1[0] - machine0[0]) / Math.max(1, machine1[1] - machine0[1])));
        row.put("server_rss_mib", f0(rssKib(server.pid(), "VmRSS") / 1024.0));
        row.put("server_us_per_renewal", f0(1e6 * (cpu1[0] - cpu0[0]) / 100.0 / Math.max(1, renewed)));
        log(backend + ": " + row);
        return row;
    }

    private void storm(List<Node> stormers, Map<String, String> row) throws Exception {
        String backend = stormers.get(0).backend;
        // Each JVM's client connected first (one acquire and release in IDC 7): see FleetNode.warm.
        parallel(stormers, n -> n.send("warm 7"));
        log(backend + ": deploy storm: " + storm + " acquirers at once in a new namespace");
        long s0 = System.nanoTime();
        List<String> first = parallel(stormers, n -> {
            int share = storm / stormers.size() + (stormers.indexOf(n) < storm % stormers.size() ? 1 : 0);
            return n.send("acquire 0 " + share + " storm-" + n.name + " " + share);
        });
        double firstSeconds = (System.nanoTime() - s0) / 1e9;
        record(backend + " storm", first);
        row.put("storm_s", f2(firstSeconds));
        row.put("storm_granted", Integer.toString(sum(first, "granted")));
        row.put("storm_failed", Integer.toString(sum(first, "exhausted") + countFailures(first)));
        row.put("storm_p99_ms", max(first, "lat_p99"));
        row.put("storm_duplicates", Integer.toString(duplicates(stormers)));
        log(backend + ": restart storm: every holder releases and acquires again with its instance name");
        long s1 = System.nanoTime();
        List<String> again = parallel(stormers, n -> n.send("restart " + Math.max(1, storm / stormers.size())));
        record(backend + " restart storm", again);
        row.put("restart_s", f2((System.nanoTime() - s1) / 1e9));
        row.put("restart_failed", Integer.toString(sum(again, "exhausted") + countFailures(again)));
        int same = 0;
        for (String a : again) {
            Matcher m = Pattern.compile("same_worker=(\\d+)/").matcher(a);
            if (m.find()) {
                same += Integer.parseInt(m.group(1));
            }
        }
        row.put("restart_same_worker", Integer.toString(same));
        row.put("restart_duplicates", Integer.toString(duplicates(stormers)));
        parallel(stormers, n -> n.send("release 32"));
        log(backend + ": " + row);
    }

    // ---------------------------------------------------------------- servers and nodes

    private static DisposableServer launch(String backend) {
        return switch (backend) {
            case "redis" -> DisposableRedis.launch();
            case "mysql" -> DisposableMariaDb.launch();
            case "etcd" -> DisposableEtcd.launch();
            default -> throw new IllegalArgumentException("must be redis, mysql or etcd: --backends contains \"" + backend + "\"");
        };
    }

    private static Map<String, String> settings(String backend, DisposableServer server, String namespace) {
        Map<String, String> s = new LinkedHashMap<>();
        switch (backend) {
            case "redis" -> {
                s.put("ekko.redis.uri", ((DisposableRedis) server).uri());
                s.put("ekko.redis.namespace", namespace);
                // A JVM holding thousands of worker IDs needs more concurrency than the default 8 connections: each reply waits
                // for Redis's fsync (appendfsync always), so requests in flight bound the rate.
                s.put("ekko.redis.pool.size", "64");
            }
            case "mysql" -> {
                DisposableMariaDb db = (DisposableMariaDb) server;
                s.put("ekko.mysql.url", db.jdbcUrl());
                s.put("ekko.mysql.user", db.user());
                s.put("ekko.mysql.password", db.password());
                s.put("ekko.mysql.namespace", namespace);
                // A JVM holding thousands of worker IDs needs more than the default 2 connections (one generator's need).
                s.put("ekko.mysql.pool.size", "16");
            }
            case "etcd" -> {
                s.put("ekko.etcd.endpoints", ((DisposableEtcd) server).endpoint());
                s.put("ekko.etcd.namespace", namespace);
            }
            default -> throw new IllegalArgumentException(backend);
        }
        return s;
    }

    private List<Node> startNodes(String backend, Map<String, String> settings, String prefix) throws Exception {
        Path props = work.resolve(backend + "-" + prefix + ".properties");
        List<String> lines = new ArrayList<>();
        settings.forEach((k, v) -> lines.add(k + "=" + v.replace("\\", "\\\\").replace(":", "\\:").replace("=", "\\=")));
        Files.write(props, lines, StandardCharsets.UTF_8);
        List<Node> list = new ArrayList<>();
        for (int i = 0; i < nodes; i++) {
            list.add(new Node(backend, prefix + i, props, work));
        }
        return list;
    }

    private static void closeAll(List<Node> list) {
        for (Node n : list) {
            n.close();
        }
    }

    /** A child JVM running {@link FleetNode}. */
    private static final class Node implements AutoCloseable {
        final String backend;
        final String name;
        final Process process;
        final PrintWriter in;
        final BufferedReader out;
        final Path dir;

        Node(String backend, String name, Path props, Path dir) throws IOException {
            this.backend = backend;
            this.name = name;
            this.dir = dir;
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            ProcessBuilder pb = new ProcessBuilder(java, "-Xmx1g", "-XX:+UseParallelGC", "-cp", System.getProperty("java.class.path"),
                    FleetNode.class.getName(), backend, props.toString(), name, dir.toString(), "64");
            pb.redirectError(dir.resolve(name + "-" + backend + ".stderr").toFile());
            this.process = pb.start();
            this.in = new PrintWriter(process.getOutputStream(), true, StandardCharsets.UTF_8);
            this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            String ready = out.readLine();
            if (ready == null || !ready.startsWith("ok")) {
                throw new IllegalStateException("node " + name + " did not start: " + ready + "; see " + dir.resolve(name + "-" + backend + ".stderr"));
            }
        }

        synchronized String send(String command) throws IOException {
            in.println(command);
            String reply = out.readLine();
            if (reply == null) {
                throw new IllegalStateException("node " + name + " died during \"" + command + "\"; see its stderr in " + dir);
            }
            if (!reply.startsWith("ok ")) {
                throw new IllegalStateException("node " + name + " failed \"" + command + "\": " + reply);
            }
            return reply.substring(3);
        }

        @Override
        public void close() {
            try {
                in.println("exit");
                if (!process.waitFor(30, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                process.destroyForcibly();
            }
        }
    }

    private interface Call {
        String apply(Node n) throws Exception;
    }

    private static List<String> parallel(List<Node> list, Call call) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(list.size());
        try {
            List<Future<String>> futures = new ArrayList<>();
            for (Node n : list) {
                futures.add(pool.submit(() -> call.apply(n)));
            }
            List<String> replies = new ArrayList<>();
            for (Future<String> f : futures) {
                replies.add(f.get());
            }
            return replies;
        } finally {
            pool.shutdownNow();
        }
    }

    // ---------------------------------------------------------------- measurements

    /**
     * Worker IDs (per IDC) that two holders could have issued with at the same time: the same worker ID in two nodes' held
     * files whose windows (from the acquire to the fence deadline a generator would stop at) overlap. The same worker ID
     * listed twice with windows apart is a lease that expired and was taken over, as it should be.
     */
    private static int duplicates(List<Node> list) throws IOException {
        Map<String, List<long[]>> byWorker = new LinkedHashMap<>();
        for (Node n : list) {
            Path f = n.dir.resolve(n.name + ".held");
            if (!Files.exists(f)) {
                continue;
            }
            for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                String[] p = line.split(" ");
                byWorker.computeIfAbsent(p[0] + "/" + p[1], k -> new ArrayList<>()).add(new long[] {Long.parseLong(p[3]),
                        Long.parseLong(p[4])});
            }
        }
        int overlapping = 0;
        for (List<long[]> windows : byWorker.values()) {
            for (int i = 0; i < windows.size(); i++) {
                for (int j = i + 1; j < windows.size(); j++) {
                    long[] a = windows.get(i);
                    long[] b = windows.get(j);
                    if (a[0] < b[1] && b[0] < a[1]) {
                        overlapping++;
                    }
                }
            }
        }
        return overlapping;
    }

    private static long[] mergeLatencies(List<Node> list) throws IOException {
        List<long[]> parts = new ArrayList<>();
        int total = 0;
        for (Node n : list) {
            ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(n.dir.resolve(n.name + ".lat")));
            long[] v = new long[b.remaining() / 8];
            for (int i = 0; i < v.length; i++) {
                v[i] = b.getLong();
            }
            parts.add(v);
            total += v.length;
        }
        long[] all = new long[total];
        int at = 0;
        for (long[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        Arrays.sort(all);
        return all;
    }

    /** {@code q} of the sorted nanosecond values, in milliseconds. */
    private static double percentile(long[] sorted, double q) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))] / 1e6;
    }

    /** utime + stime and stime (the kernel's share: network, fsync) of a process, in clock ticks (1/100 s). */
    private static long[] cpu(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return new long[] {Long.parseLong(f[11]) + Long.parseLong(f[12]), Long.parseLong(f[12])};
    }

    /** Busy and total ticks of the whole machine. */
    private static long[] machineCpu() throws IOException {
        String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
        long total = 0;
        for (int i = 1; i < f.length; i++) {
            total += Long.parseLong(f[i]);
        }
        long idle = Long.parseLong(f[4]) + Long.parseLong(f[5]);
        return new long[] {total - idle, total};
    }

    private static long rssKib(long pid, String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    private static String value(String reply, String key) {
        Matcher m = Pattern.compile("(?:^|\\s)" + Pattern.quote(key) + "=([^\\s]+)").matcher(reply);
        return m.find() ? m.group(1) : "";
    }

    private static String quoted(String reply, String key) {
        Matcher m = Pattern.compile(Pattern.quote(key) + "=\"([^\"]*)\"").matcher(reply);
        return m.find() ? m.group(1) : "";
    }

    private static int sum(List<String> replies, String key) {
        int total = 0;
        for (String r : replies) {
            Matcher m = Pattern.compile("(?:^|\\s)" + Pattern.quote(key) + "=(\\d+)").matcher(r);
            while (m.find()) {
                total += Integer.parseInt(m.group(1));
            }
        }
        return total;
    }

    private static String max(List<String> replies, String key) {
        double best = Double.NaN;
        for (String r : replies) {
            String v = value(r, key);
            if (!v.isEmpty()) {
                double d = Double.parseDouble(v);
                best = Double.isNaN(best) ? d : Math.max(best, d);
            }
        }
        return f1(best);
    }

    private static int parseInt(String s) {
        return s == null ? 0 : Integer.parseInt(s.replace(",", ""));
    }

    private static int countFailures(List<String> replies) {
        int total = 0;
        for (String r : replies) {
            Matcher m = Pattern.compile("failed=\\{([^}]*)\\}").matcher(r);
            while (m.find()) {
                for (String part : m.group(1).split(",_?")) {
                    total += Integer.parseInt(part.substring(part.indexOf('=') + 1));
                }
            }
        }
        return total;
    }

    private void record(String what, List<String> replies) {
        raw.append(what).append('\n');
        for (String r : replies) {
            raw.append("  ").append(r).append('\n');
        }
    }

    private static String f0(double v) {
        return String.format(Locale.ROOT, "%,.0f", v);
    }

    private static String f1(double v) {
        return String.format(Locale.ROOT, "%.1f", v);
    }

    private static String f2(double v) {
        return String.format(Locale.ROOT, "%.2f", v);
    }

    private static void log(String s) {
        System.out.println("[fleet " + Instant.now() + "] " + s);
        System.out.flush();
    }

    // ---------------------------------------------------------------- the report

    private void write(String started, Path docs, Path readme) throws IOException {
        Files.createDirectories(results);
        String md = FleetReport.markdown(steadyRows, table, started, holders, nodes, steadySeconds, storm, jitWarmupSeconds);
        Files.writeString(results.resolve("fleet.md"), md, StandardCharsets.UTF_8);
        Files.writeString(results.resolve("fleet.txt"), raw.toString(), StandardCharsets.UTF_8);
        Files.writeString(results.resolve("fleet.json"), FleetReport.json(steadyRows, table, started, holders, nodes, steadySeconds, storm, jitWarmupSeconds),
                StandardCharsets.UTF_8);
        FleetReport.chart(steadyRows, results.resolve("fleet.png"));
        FleetReport.replaceSection(docs, "<!-- fleet:begin -->", "<!-- fleet:end -->", md);
        FleetReport.replaceSection(readme, "<!-- fleet:readme:begin -->", "<!-- fleet:readme:end -->", FleetReport.summary(steadyRows,
                table, started, holders));
        log("wrote " + results.resolve("fleet.md") + ", fleet.json, fleet.txt, fleet.png, " + docs + " and " + readme);
    }
}
