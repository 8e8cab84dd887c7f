package dev.ekko.micrometer;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a Prometheus server scrapes: the names and labels the meters get in its text format. */
class PrometheusScrapeTest {

    @TempDir
    Path dir;

    @Test
    void scrapeShowsTheMetersUnderPrometheusNames() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        try (IdGenerator generator = Ekko.newBuilder().stateDirectory(dir.resolve("state")).hostLockDirectory(dir.resolve("locks"))
                .setting("ekko.worker.allocator", "manual").setting("ekko.worker.id", "3").setting("ekko.idc", "1").build()) {
            new EkkoMetrics(generator).bindTo(registry);
            generator.next(new long[5]);

            String text = registry.scrape();
            String labels = "allocator=\"manual\",idc=\"1\"";
            for (String sample : new String[] {
                    "ekko_generator_ids_issued_total{" + labels + ",worker=\"3\"} 5.0",
                    "ekko_generator_live{" + labels + ",worker=\"3\"} 1.0",
                    "ekko_generator_state{" + labels + ",state=\"live\",worker=\"3\"} 1.0",
                    "ekko_generator_state{" + labels + ",state=\"closed\",worker=\"3\"} 0.0",
                    "ekko_generator_worker_id{" + labels + ",worker=\"3\"} 3.0",
                    "ekko_generator_waits_total{" + labels + ",reason=\"next-millisecond\",worker=\"3\"} ",
                    "ekko_generator_waits_total{" + labels + ",reason=\"clock-back\",worker=\"3\"} 0.0",
                    "ekko_generator_lead_seconds{" + labels + ",worker=\"3\"} 0.0",
                    "ekko_generator_fence_remaining_seconds{" + labels + ",worker=\"3\"} NaN",
                    "ekko_generator_issue_limit_ahead_seconds{" + labels + ",worker=\"3\"} ",
                    "ekko_generator_clock_skew_seconds{" + labels + ",worker=\"3\"} NaN",
                    "ekko_generator_renewal_duration_seconds{" + labels + ",worker=\"3\"} ",
                    "ekko_generator_clock_back_refusals_total{" + labels + ",worker=\"3\"} 0.0",
                    "ekko_generator_lease_losses_total{" + labels + ",worker=\"3\"} 0.0",
                    "ekko_generator_reacquires_total{" + labels + ",worker=\"3\"} 0.0",
                    "ekko_generator_renewals_late_total{" + labels + ",worker=\"3\"} 0.0"}) {
                assertTrue(text.contains(sample), "no " + sample + " in:\n" + text);
            }
        }
    }
}
