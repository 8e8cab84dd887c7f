package dev.ekko.chaos;

import dev.ekko.DecodedId;
import dev.ekko.Layout;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Checks every ID of a back end's run: none issued twice (outside the positive control, whose duplicates it must find), each
 * thread's IDs strictly increasing within a tenure, and what the processes wrote to their events files (an ID that decoded
 * to a worker ID its process did not hold, an exception that is not Ekko's).
 */
final class Checker {

    /** The layout every chaos process uses: the default epoch, no product bits. */
    static final Layout LAYOUT = Layout.unsigned(Instant.parse("2026-01-01T00:00:00Z"), 0);
    private static final int EVIDENCE = 10;

    private final Path dir;

    Checker(Path dir) {
        this.dir = dir;
    }

    /**
     * What the check found.
     *
     * @param ids IDs issued by the regular processes, intruders and second processes
     * @param duplicates how many of those values were issued more than once
     * @param controlIds IDs of the positive control
     * @param controlDuplicates values the control pair issued twice (must be more than 0)
     * @param refusals {@code next()} refusals by exception type, from the processes that closed cleanly
     * @param problems everything that fails the run, with its evidence
     * @param duplicateMillis the wall-clock milliseconds of the first duplicates, for the nearest faults
     */
    record Report(long ids, long duplicates, long controlIds, long controlDuplicates, Map<String, Long> refusals, List<String> problems,
            List<Long> duplicateMillis) {
    }

    Report check() throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".ids")).sorted().toList();
        }
        List<String> problems = new ArrayList<>();
        long total = 0;
        long controlTotal = 0;
        for (Path f : files) {
            long n = Files.size(f) / 8;
            if (isControl(f)) {
                controlTotal += n;
            } else {
                total += n;
            }
        }
        if (total > Integer.MAX_VALUE - 8 || controlTotal > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("too many IDs for one in-memory check: " + total);
        }
        long[] ids = new long[(int) total];
        long[] control = new long[(int) controlTotal];
        int at = 0;
        int controlAt = 0;
        for (Path f : files) {
            long[] own = read(f);
            checkRising(f, own, problems);
            if (isControl(f)) {
                System.arraycopy(own, 0, control, controlAt, own.length);
                controlAt += own.length;
            } else {
                System.arraycopy(own, 0, ids, at, own.length);
                at += own.length;
            }
        }
        long[] repeated = repeatedValues(ids);
        long controlRepeated = repeatedValues(control).length;
        List<Long> millis = new ArrayList<>();
        if (repeated.length > 0) {
            problems.add(repeated.length + " IDs issued more than once; the first " + Math.min(EVIDENCE, repeated.length) + ":");
            Map<Long, List<String>> owners = owners(files, Arrays.copyOf(repeated, Math.min(EVIDENCE, repeated.length)));
            owners.forEach((id, who) -> {
                DecodedId d = LAYOUT.decode(id);
                millis.add(d.timestamp().toEpochMilli());
                problems.add("  " + Layout.format(id) + " = " + d + " issued by " + who);
            });
        }
        if (controlTotal > 0 && controlRepeated == 0) {
            problems.add("the positive control (manual worker ID " + BackendRun.CONTROL_WORKER + " on two hosts) issued " + controlTotal
                    + " IDs and the checker found no duplicate among them: it cannot be trusted to see duplicates");
        } else if (controlTotal == 0) {
            problems.add("the positive control issued no ID");
        }
        Map<String, Long> refusals = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path f : s.filter(p -> p.getFileName().toString().endsWith(".events")).sorted().toList()) {
                for (String stamped : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                    // "<monotonic ms> <wall time> <event>" as ChaosWorker writes them; an unstamped line is taken as it is
                    String line = stamped.matches("\\d+ \\S+ .*") ? stamped.substring(stamped.indexOf(' ', stamped.indexOf(' ') + 1) + 1)
                            : stamped;
                    if (line.startsWith("MISMATCH ") || line.startsWith("UNEXPECTED ")) {
                        problems.add(f.getFileName() + ": " + stamped);
                    } else if (line.startsWith("REFUSED ")) {
                        String[] parts = line.split(" ");
                        refusals.merge(parts[1], Long.parseLong(parts[2]), Long::sum);
                    }
                }
            }
        }
        return new Report(total, repeated.length, controlTotal, controlRepeated, refusals, problems, millis);
    }

    private static boolean isControl(Path f) {
        return f.getFileName().toString().startsWith("ctl-");
    }

    /** Reads a file of big-endian longs; a last partial long (the process was killed mid-write) is dropped. */
    static long[] read(Path f) throws IOException {
        byte[] bytes = Files.readAllBytes(f);
        LongBuffer lb = ByteBuffer.wrap(bytes, 0, bytes.length - bytes.length % 8).asLongBuffer();
        long[] out = new long[lb.remaining()];
        lb.get(out);
        return out;
    }

    /** Within each run of IDs with the same IDC and worker ID (a tenure), every ID above the one before it. */
    static void checkRising(Path f, long[] ids, List<String> problems) {
        for (int i = 1; i < ids.length; i++) {
            DecodedId a = LAYOUT.decode(ids[i - 1]);
            DecodedId b = LAYOUT.decode(ids[i]);
            if (a.idc() == b.idc() && a.worker() == b.worker() && Layout.compare(ids[i - 1], ids[i]) >= 0) {
                problems.add(f.getFileName() + ": ID " + i + " (" + b + ") is not above the one before it (" + a + ") in one tenure");
                return;
            }
        }
    }

    /** The values that occur more than once, sorted (as signed longs; only equality matters here). */
    static long[] repeatedValues(long[] ids) {
        long[] sorted = ids.clone();
        Arrays.sort(sorted);
        long[] out = new long[16];
        int n = 0;
        for (int i = 1; i < sorted.length; i++) {
            if (sorted[i] == sorted[i - 1] && (n == 0 || out[n - 1] != sorted[i])) {
                if (n == out.length) {
                    out = Arrays.copyOf(out, n * 2);
                }
                out[n++] = sorted[i];
            }
        }
        return Arrays.copyOf(out, n);
    }

    private static Map<Long, List<String>> owners(List<Path> files, long[] values) throws IOException {
        long[] sorted = values.clone();
        Arrays.sort(sorted);
        Map<Long, List<String>> out = new LinkedHashMap<>();
        for (long v : values) {
            out.put(v, new ArrayList<>());
        }
        for (Path f : files) {
            long[] own = read(f);
            for (int i = 0; i < own.length; i++) {
                if (Arrays.binarySearch(sorted, own[i]) >= 0) {
                    out.get(own[i]).add(f.getFileName() + "[" + i + "]");
                }
            }
        }
        return out;
    }
}
