package dev.ekko.worker.etcd;

import dev.ekko.spi.ClockReport;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a worker ID's history key holds, outside any lease: the handover mark (the highest reserved-until of every holder),
 * the cluster and generation it was written in, and the last clock report. Stored as {@code key=value} lines; a value
 * never holds a line break (host and instance names are checked by the core).
 *
 * @param mark the handover mark, Unix ms
 * @param cluster the etcd cluster ID (hex) that stored it
 * @param generation the namespace's generation when it was stored
 * @param report the last clock report, or null
 * @param writtenAt the writer's clock just before it sent the write, Unix ms, or {@link #NO_TIME}: a clock reading younger than
 *     the report's (which is read before the renewal's other round trips), for other holders' reference time
 * @param writer the generator that wrote it ({@code AllocatorContext.generator()}), or null in a history from an earlier
 *     version: a holder leaves its own generator's clock readings out of its reference, and counts one per generator
 */
record EtcdHistory(long mark, String cluster, String generation, ClockReport report, long writtenAt, String writer) {

    static final long NO_TIME = Long.MIN_VALUE;

    /** {@return the writer's clock when it wrote this, or when it made its report; {@link #NO_TIME} if neither is known} */
    long clockReading() {
        return writtenAt != NO_TIME ? writtenAt : report != null ? report.localTimeMillis() : NO_TIME;
    }

    byte[] encode() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("mark", Long.toString(mark));
        m.put("cluster", cluster);
        m.put("generation", generation);
        if (report != null) {
            m.put("report.time", Long.toString(report.localTimeMillis()));
            m.put("report.reserved", Long.toString(report.reservedUntilMillis()));
            m.put("report.host", report.host());
            m.put("report.pid", Long.toString(report.pid()));
            m.put("report.instance", report.instance());
        }
        if (writtenAt != NO_TIME) {
            m.put("written.at", Long.toString(writtenAt));
        }
        if (writer != null) {
            m.put("written.by", writer);
        }
        StringBuilder b = new StringBuilder();
        m.forEach((k, v) -> b.append(k).append('=').append(v.replace('\n', ' ')).append('\n'));
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * {@return the history a key holds; null if not even its mark can be read (then it vouches for nothing)}. A history whose
     * mark reads but whose other fields do not keeps the mark as a lower bound: it comes back with no cluster, generation or
     * report, so it is never trusted as a mark, and never thrown away.
     */
    static EtcdHistory decode(byte[] bytes) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : new String(bytes, StandardCharsets.UTF_8).split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                m.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        long mark;
        try {
            mark = Long.parseLong(m.get("mark"));
        } catch (RuntimeException e) {
            return null;
        }
        try {
            ClockReport report = m.containsKey("report.time") ? new ClockReport(Long.parseLong(m.get("report.time")),
                    Long.parseLong(m.get("report.reserved")), m.get("report.host"), Long.parseLong(m.get("report.pid")),
                    m.get("report.instance")) : null;
            long at = m.containsKey("written.at") ? Long.parseLong(m.get("written.at")) : NO_TIME;
            return new EtcdHistory(mark, m.getOrDefault("cluster", ""), m.getOrDefault("generation", ""), report, at, m.get("written.by"));
        } catch (RuntimeException e) {
            return new EtcdHistory(mark, "", "", null, NO_TIME, null); // damaged: the mark is still a lower bound
        }
    }
}
