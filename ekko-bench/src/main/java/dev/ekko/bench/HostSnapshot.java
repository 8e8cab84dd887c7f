package dev.ekko.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * What the machine is and what else it was doing, read from {@code /proc} (Linux); fields that cannot be
 * read say so rather than guess.
 */
final class HostSnapshot {

    private static final String UNKNOWN = "unknown";

    private HostSnapshot() {
    }

    static String cpuModel() {
        for (String line : lines(Path.of("/proc/cpuinfo"))) {
            if (line.startsWith("model name")) {
                return line.substring(line.indexOf(':') + 1).trim();
            }
        }
        return UNKNOWN;
    }

    static String memory() {
        for (String line : lines(Path.of("/proc/meminfo"))) {
            if (line.startsWith("MemTotal:")) {
                long kib = Long.parseLong(line.replaceAll("[^0-9]", ""));
                return String.format(Locale.ROOT, "%.1f GiB", kib / 1024.0 / 1024.0);
            }
        }
        return UNKNOWN;
    }

    static String operatingSystem() {
        String pretty = UNKNOWN;
        for (String line : lines(Path.of("/etc/os-release"))) {
            if (line.startsWith("PRETTY_NAME=")) {
                pretty = line.substring("PRETTY_NAME=".length()).replace("\"", "");
            }
        }
        return pretty + ", " + System.getProperty("os.name") + " " + System.getProperty("os.version") + " "
                + System.getProperty("os.arch");
    }

    /** {@return the 1, 5 and 15 minute load averages} */
    static String loadAverage() {
        List<String> l = lines(Path.of("/proc/loadavg"));
        if (l.isEmpty()) {
            return UNKNOWN;
        }
        String[] f = l.get(0).split(" ");
        return f[0] + " " + f[1] + " " + f[2];
    }

    /**
     * Samples every process's CPU time over {@code millis} and names the busiest ones.
     *
     * @param millis how long to sample
     * @param top how many processes to name
     * @return e.g. {@code "java (pid 123) 97%, mariadbd (pid 99) 3%"}, in percent of one core; or "none busy"
     */
    static String busiestProcesses(long millis, int top) throws InterruptedException {
        Map<Long, long[]> before = cpuTicks();
        Thread.sleep(millis);
        Map<Long, long[]> after = cpuTicks();
        long self = ProcessHandle.current().pid();
        List<long[]> busy = new ArrayList<>();
        for (Map.Entry<Long, long[]> e : after.entrySet()) {
            long[] b = before.get(e.getKey());
            if (b != null && e.getKey() != self && e.getValue()[0] - b[0] > 0) {
                busy.add(new long[] {e.getKey(), e.getValue()[0] - b[0]});
            }
        }
        busy.sort(Comparator.comparingLong((long[] p) -> p[1]).reversed());
        double ticksPerSecond = 100; // USER_HZ: 100 on every Linux architecture Java runs on
        List<String> named = new ArrayList<>();
        for (long[] p : busy.subList(0, Math.min(top, busy.size()))) {
            double percent = p[1] / ticksPerSecond / (millis / 1000.0) * 100;
            named.add(String.format(Locale.ROOT, "%s (pid %d) %.0f%%", commandOf(p[0]), p[0], percent));
        }
        return named.isEmpty() ? "none busy" : String.join(", ", named);
    }

    /** {@return pid to {utime + stime} in clock ticks} */
    private static Map<Long, long[]> cpuTicks() {
        Map<Long, long[]> ticks = new HashMap<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            procs.filter(p -> p.getFileName().toString().matches("[0-9]+")).forEach(p -> {
                List<String> stat = lines(p.resolve("stat"));
                if (!stat.isEmpty()) {
                    String s = stat.get(0);
                    // The command may contain spaces and parentheses: fields resume after the last ')'.
                    String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
                    ticks.put(Long.parseLong(p.getFileName().toString()), new long[] {Long.parseLong(f[11]) + Long.parseLong(f[12])});
                }
            });
        } catch (IOException | RuntimeException e) {
            return ticks;
        }
        return ticks;
    }

    private static String commandOf(long pid) {
        List<String> comm = lines(Path.of("/proc/" + pid + "/comm"));
        return comm.isEmpty() ? "?" : comm.get(0).trim();
    }

    private static List<String> lines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException | RuntimeException e) {
            return List.of();
        }
    }
}
