package dev.ekko.chaos;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * The chaos harness's entry point ({@code ./chaos}, docs/chaos.md): runs each back end in turn with real generator processes
 * and real servers under a seeded schedule of faults, checks every ID, prints a table, and exits 0 only when nothing repeated,
 * nothing broke a check and every process recovered within its fault's bound.
 *
 * <pre>
 * java dev.ekko.chaos.Chaos [--profile short|long] [--seed N] [--backends host-local,manual,redis,mysql,etcd] [--dir DIR] [--keep]
 * </pre>
 */
public final class Chaos {

    static final List<String> BACKENDS = List.of("host-local", "manual", "redis", "mysql", "etcd");

    private Chaos() {
    }

    /**
     * Runs the harness.
     *
     * @param args the options above
     * @throws Exception if the harness itself fails (not a finding: those make the exit status 1)
     */
    public static void main(String[] args) throws Exception {
        String profile = "short";
        long seed = ThreadLocalRandom.current().nextLong(1, 1L << 48);
        List<String> backends = BACKENDS;
        Path dir = null;
        boolean keep = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--profile" -> profile = value(args, ++i, "--profile");
                case "--seed" -> seed = parseSeed(value(args, ++i, "--seed"));
                case "--backends" -> backends = parseBackends(value(args, ++i, "--backends"));
                case "--dir" -> dir = Path.of(value(args, ++i, "--dir"));
                case "--keep" -> keep = true;
                default -> usage("unknown option \"" + args[i] + "\"");
            }
        }
        if (!profile.equals("short") && !profile.equals("long")) {
            usage("--profile must be short or long: --profile=" + profile);
        }
        if (dir == null) {
            dir = Path.of("target", "chaos", DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC).format(Instant.now()));
        }
        System.exit(run(profile, seed, backends, dir, keep, System.out) ? 0 : 1);
    }

    /**
     * Runs the given back ends and prints the report.
     *
     * @return true if every back end passed
     */
    static boolean run(String profile, long seed, List<String> backends, Path dir, boolean keep, PrintStream out) throws Exception {
        Path libfaketime = libfaketime();
        BackendRun.removeStaleFaketimeLeftovers();
        boolean longProfile = profile.equals("long");
        out.println("chaos: profile " + profile + ", seed " + seed + " (replay: ./chaos --profile " + profile + " --seed " + seed
                + " --backends " + String.join(",", backends) + "), files in " + dir.toAbsolutePath());
        List<BackendRun.Result> results = new ArrayList<>();
        List<String> evidence = new ArrayList<>();
        for (String backend : backends) {
            long length = longProfile ? 6 * 60_000L : backend.equals("manual") || backend.equals("host-local") ? 32_000L : 42_000L;
            int every = longProfile ? 2_500 : 1_000;
            Path backendDir = dir.resolve(backend);
            BackendRun run = new BackendRun(backend, backendDir, seed, length, every, out, System.getProperty("java.class.path"),
                    libfaketime);
            long started = System.nanoTime();
            BackendRun.Result r = run.run();
            results.add(r);
            out.println("chaos: " + backend + ": " + (r.passed() ? "passed" : "FAILED") + " in " + (System.nanoTime() - started) / 1_000_000_000L
                    + " s, " + r.report().ids() + " IDs");
            if (!r.passed()) {
                evidence.add("### " + backend);
                r.failures().forEach(f -> evidence.add("- " + f));
                r.report().problems().forEach(p -> evidence.add("- " + p));
                for (long millis : r.report().duplicateMillis()) {
                    evidence.add("- faults within 10 s of " + Instant.ofEpochMilli(millis) + ":");
                    for (String f : run.faultLog()) {
                        long at = Instant.parse(f.substring(0, f.indexOf(' '))).toEpochMilli();
                        if (Math.abs(at - millis) <= 10_000) {
                            evidence.add("  - " + f);
                        }
                    }
                }
            } else if (!keep) {
                deleteIdFiles(backendDir);
            }
        }
        String report = table(profile, seed, results) + (evidence.isEmpty() ? "" : "\n## Evidence\n\n" + String.join("\n", evidence) + "\n");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("report.md"), report, StandardCharsets.UTF_8);
        BackendRun.removeStaleFaketimeLeftovers();
        out.println();
        out.println(report);
        return results.stream().allMatch(BackendRun.Result::passed);
    }

    static String table(String profile, long seed, List<BackendRun.Result> results) {
        StringBuilder sb = new StringBuilder();
        sb.append("## Chaos run: profile ").append(profile).append(", seed ").append(seed).append('\n').append('\n');
        sb.append("| back end | IDs issued | duplicates | control duplicates | faults | longest recovery (bound) | refusals | result |\n");
        sb.append("|---|---:|---:|---:|---:|---|---|---|\n");
        for (BackendRun.Result r : results) {
            long faults = r.faults().values().stream().mapToLong(v -> v[0]).sum();
            Map.Entry<Fault, long[]> worst = r.faults().entrySet().stream().max((a, b) -> Long.compare(a.getValue()[1], b.getValue()[1]))
                    .orElse(null);
            String recovery = worst == null ? "-" : String.format("%,d ms, %s (%d s)", worst.getValue()[1], worst.getKey().label,
                    worst.getKey().boundSeconds);
            Map<String, Long> refusals = new java.util.TreeMap<>(r.report().refusals());
            r.startRefusals().forEach((k, v) -> refusals.merge(k + " (start)", v, Long::sum));
            sb.append(String.format("| %s | %,d | %,d | %,d | %d | %s | %s | %s |%n", r.backend(), r.report().ids(), r.report().duplicates(),
                    r.report().controlDuplicates(), faults, recovery, shortNames(refusals), r.passed() ? "passed" : "**FAILED**"));
        }
        sb.append('\n').append("Faults by kind (count, longest recovery in ms after the fault ended; bound in s):\n\n");
        sb.append("| fault |");
        results.forEach(r -> sb.append(' ').append(r.backend()).append(" |"));
        sb.append(" bound |\n|---|");
        results.forEach(r -> sb.append("---:|"));
        sb.append("---:|\n");
        for (Fault f : Fault.values()) {
            sb.append("| ").append(f.label).append(" |");
            for (BackendRun.Result r : results) {
                long[] v = r.faults().get(f);
                sb.append(' ').append(v == null ? "-" : String.format("%d × (%,d ms)%s", v[0], v[1], v[2] > 0 ? " **over**" : "")).append(" |");
            }
            sb.append(' ').append(f.boundSeconds).append(" s |\n");
        }
        return sb.toString();
    }

    private static String shortNames(Map<String, Long> refusals) {
        if (refusals.isEmpty()) {
            return "none";
        }
        List<String> parts = new ArrayList<>();
        refusals.forEach((k, v) -> parts.add(k.substring(k.lastIndexOf('.') + 1) + " " + String.format("%,d", v)));
        return String.join(", ", parts);
    }

    private static void deleteIdFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.filter(p -> p.getFileName().toString().endsWith(".ids")).toList()) {
                Files.delete(p);
            }
        }
    }

    /** The preloadable libfaketime (multi-threaded build) of Debian's libfaketime package. */
    static Path libfaketime() throws IOException {
        for (String d : List.of("/usr/lib/x86_64-linux-gnu/faketime", "/usr/lib/aarch64-linux-gnu/faketime", "/usr/lib/faketime",
                "/usr/local/lib/faketime")) {
            Path p = Path.of(d, "libfaketimeMT.so.1");
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        throw new IllegalStateException("no libfaketimeMT.so.1 in /usr/lib/*/faketime: install the Debian package faketime"
                + " (apt-get install -y --no-install-recommends faketime); ./run-tests installs it when it runs as root");
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            usage(option + " needs a value");
        }
        return args[i];
    }

    private static long parseSeed(String s) {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            usage("--seed must be an integer: --seed=" + s);
            return 0;
        }
    }

    private static List<String> parseBackends(String s) {
        List<String> out = Arrays.asList(s.split(","));
        for (String b : out) {
            if (!BACKENDS.contains(b)) {
                usage("--backends: unknown back end \"" + b + "\"; allowed: " + String.join(", ", BACKENDS) + " (comma-separated)");
            }
        }
        return out;
    }

    private static void usage(String problem) {
        System.err.println("chaos: " + problem);
        System.err.println("usage: ./chaos [--profile short|long] [--seed N] [--backends " + String.join(",", BACKENDS)
                + "] [--dir DIR] [--keep]");
        System.exit(2);
    }
}
