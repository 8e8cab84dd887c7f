package dev.ekko.server;

import dev.ekko.IdGenerator;
import java.util.Locale;
import java.util.concurrent.atomic.LongAdder;

/**
 * Request counts by protocol, route and status, and the generator's state, written in the Prometheus text format
 * (version 0.0.4). Counting a request is one {@link LongAdder} increment found by index: no map lookup, no allocation.
 */
final class Metrics {

    /** What a request asked for: a label value each. */
    enum Route {
        ID, IDS, SEGMENT, SEGMENT_IDS, DECODE, HEALTH, METRICS, COMPAT_SHORT, COMPAT_LEAF, COMPAT_TINYID, UNKNOWN;

        final String label = name().toLowerCase(Locale.ROOT);
    }

    /** The protocols: a label value each. */
    enum Protocol {
        HTTP, GRPC;

        final String label = name().toLowerCase(Locale.ROOT);
    }

    /** The statuses counted apart; any other counts as "other". HTTP statuses; gRPC codes are mapped to these. */
    private static final int[] STATUSES = {200, 400, 401, 404, 405, 409, 413, 500, 503};

    private final LongAdder[][][] requests = new LongAdder[Protocol.values().length][Route.values().length][STATUSES.length + 1];
    private final IdService ids;

    Metrics(IdService ids) {
        this.ids = ids;
        for (LongAdder[][] p : requests) {
            for (LongAdder[] r : p) {
                for (int s = 0; s < r.length; s++) {
                    r[s] = new LongAdder();
                }
            }
        }
    }

    void count(Protocol protocol, Route route, int status) {
        requests[protocol.ordinal()][route.ordinal()][statusIndex(status)].increment();
    }

    private static int statusIndex(int status) {
        for (int i = 0; i < STATUSES.length; i++) {
            if (STATUSES[i] == status) {
                return i;
            }
        }
        return STATUSES.length;
    }

    /** {@return the text a Prometheus server scrapes} */
    String scrape() {
        StringBuilder b = new StringBuilder(4096);
        b.append("# HELP ekko_server_requests_total Requests answered, by protocol, route and status (HTTP status; gRPC codes as the"
                + " HTTP status the server would answer).\n# TYPE ekko_server_requests_total counter\n");
        for (Protocol p : Protocol.values()) {
            for (Route r : Route.values()) {
                LongAdder[] byStatus = requests[p.ordinal()][r.ordinal()];
                for (int s = 0; s < byStatus.length; s++) {
                    long n = byStatus[s].sum();
                    if (n > 0) {
                        b.append("ekko_server_requests_total{protocol=\"").append(p.label).append("\",route=\"").append(r.label)
                                .append("\",status=\"").append(s < STATUSES.length ? Integer.toString(STATUSES[s]) : "other")
                                .append("\"} ").append(n).append('\n');
                    }
                }
            }
        }
        b.append("# HELP ekko_server_ids_total IDs handed out, by kind.\n# TYPE ekko_server_ids_total counter\n");
        b.append("ekko_server_ids_total{kind=\"snowflake\"} ").append(ids.snowflakeIds.sum()).append('\n');
        b.append("ekko_server_ids_total{kind=\"segment\"} ").append(ids.segmentNumbers.sum()).append('\n');
        IdGenerator g = ids.generator();
        boolean ready = g.unavailableReason().isEmpty();
        b.append("# HELP ekko_generator_ready 1 while the generator holds its lease and may issue, else 0.\n"
                + "# TYPE ekko_generator_ready gauge\nekko_generator_ready ").append(ready ? 1 : 0).append('\n');
        b.append("# HELP ekko_generator_info The generator's datacenter and worker ID.\n# TYPE ekko_generator_info gauge\n"
                + "ekko_generator_info{idc=\"").append(g.idc()).append("\",worker=\"").append(g.workerId()).append("\"} 1\n");
        b.append("# HELP ekko_generator_lead_seconds How far the last issued millisecond is ahead of the wall clock.\n"
                + "# TYPE ekko_generator_lead_seconds gauge\nekko_generator_lead_seconds ").append(g.leadMillis() / 1000.0).append('\n');
        b.append("# HELP ekko_server_uptime_seconds Seconds since the server started.\n# TYPE ekko_server_uptime_seconds gauge\n"
                + "ekko_server_uptime_seconds ").append((System.nanoTime() - ids.startedNanos) / 1_000_000_000.0).append('\n');
        return b.toString();
    }
}
