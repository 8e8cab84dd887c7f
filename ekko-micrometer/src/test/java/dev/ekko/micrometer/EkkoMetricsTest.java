package dev.ekko.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.ClockMovedBackwardsException;
import dev.ekko.Ekko;
import dev.ekko.GeneratorStatus;
import dev.ekko.IdGenerator;
import dev.ekko.testkit.TestClock;
import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.simple.SimpleConfig;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The meters of a real generator (the {@code manual} allocator), read through a {@link SimpleMeterRegistry}. */
class EkkoMetricsTest {

    private static final Set<String> METERS = Set.of("ekko.generator.live", "ekko.generator.state", "ekko.generator.worker.id",
            "ekko.generator.lead", "ekko.generator.fence.remaining", "ekko.generator.issue.limit.ahead",
            "ekko.generator.clock.skew", "ekko.generator.renewal.duration", "ekko.generator.ids.issued",
            "ekko.generator.waits", "ekko.generator.clock.back.refusals", "ekko.generator.lease.losses",
            "ekko.generator.reacquires", "ekko.generator.renewals.late");

    @TempDir
    Path dir;

    private final TestClock ekkoClock = new TestClock();
    /** The registry's clock: the generator's wall time, and a monotonic time that moves only when a test says. */
    private final ScrapeClock scrapeClock = new ScrapeClock();
    private final MeterRegistry registry = new SimpleMeterRegistry(SimpleConfig.DEFAULT, scrapeClock);
    private IdGenerator generator;

    private final class ScrapeClock implements Clock {
        private volatile long monotonic;

        @Override
        public long wallTime() {
            return ekkoClock.millis();
        }

        @Override
        public long monotonicTime() {
            return monotonic;
        }

        /** Lets the next meter read take a new status, as the next scrape would. */
        void nextScrape() {
            monotonic += TimeUnit.SECONDS.toNanos(1);
        }
    }

    private Ekko.Builder builder() {
        return Ekko.newBuilder().clock(ekkoClock).stateDirectory(dir.resolve("state")).hostLockDirectory(dir.resolve("locks"))
                .setting("ekko.worker.allocator", "manual").setting("ekko.worker.id", "3").setting("ekko.idc", "1");
    }

    @AfterEach
    void close() {
        if (generator != null) {
            generator.close();
        }
    }

    private double gauge(String name, String... tags) {
        return registry.get(name).tags(tags).gauge().value();
    }

    private double seconds(String name) {
        return registry.get(name).timeGauge().value(TimeUnit.SECONDS);
    }

    private double count(String name, String... tags) {
        return registry.get(name).tags(tags).functionCounter().count();
    }

    private double state(GeneratorStatus.State state) {
        return gauge("ekko.generator.state", "state", state.name().toLowerCase(java.util.Locale.ROOT));
    }

    @Test
    void registersEveryMeterTaggedWithTheGeneratorsIdcWorkerAndAllocator() {
        generator = builder().build();
        new EkkoMetrics(generator, Tags.of("app", "orders")).bindTo(registry);

        List<Meter> meters = registry.getMeters();
        assertEquals(METERS, meters.stream().map(m -> m.getId().getName()).collect(Collectors.toCollection(TreeSet::new)));
        // 5 states, 2 wait reasons, one meter for each other name
        assertEquals(METERS.size() + 4 + 1, meters.size());
        for (Meter m : meters) {
            Meter.Id id = m.getId();
            assertEquals("1", id.getTag("idc"), id.toString());
            assertEquals("3", id.getTag("worker"), id.toString());
            assertEquals("manual", id.getTag("allocator"), id.toString());
            assertEquals("orders", id.getTag("app"), id.toString());
        }
        assertEquals(Set.of("starting", "live", "paused", "lost", "closed"), registry.find("ekko.generator.state").gauges().stream()
                .map(g -> g.getId().getTag("state")).collect(Collectors.toSet()));
        assertEquals(Set.of("next-millisecond", "clock-back"), registry.find("ekko.generator.waits").functionCounters().stream()
                .map(c -> c.getId().getTag("reason")).collect(Collectors.toSet()));
        assertTrue(registry.get("ekko.generator.lead").meter() instanceof TimeGauge);
        assertTrue(registry.get("ekko.generator.ids.issued").meter() instanceof FunctionCounter);
        assertTrue(registry.get("ekko.generator.live").meter() instanceof Gauge);
    }

    @Test
    void gaugesShowALiveManualGenerator() {
        generator = builder().build();
        new EkkoMetrics(generator).bindTo(registry);

        assertEquals(1, gauge("ekko.generator.live"));
        assertEquals(1, state(GeneratorStatus.State.LIVE));
        for (GeneratorStatus.State other : List.of(GeneratorStatus.State.STARTING, GeneratorStatus.State.PAUSED,
                GeneratorStatus.State.LOST, GeneratorStatus.State.CLOSED)) {
            assertEquals(0, state(other), other.name());
        }
        assertEquals(3, gauge("ekko.generator.worker.id"));
        assertEquals(0, seconds("ekko.generator.lead"));
        // a manual worker ID's lease does not expire; manual has no coordinator clock and renews nothing
        assertTrue(Double.isNaN(seconds("ekko.generator.fence.remaining")));
        assertTrue(Double.isNaN(seconds("ekko.generator.clock.skew")));
        double ahead = seconds("ekko.generator.issue.limit.ahead");
        assertTrue(ahead > 0 && ahead <= 11, "the reservation is 10 s ahead: " + ahead);
        GeneratorStatus status = generator.status();
        assertEquals(status.lastRenewal().isPresent(), !Double.isNaN(seconds("ekko.generator.renewal.duration")));
    }

    @Test
    void countersFollowTheGeneratorsCounters() {
        // Bounded lead on a frozen clock: IDs run 20 ms ahead, then the caller is refused. Every count is then known.
        generator = builder().maxLead(Duration.ofMillis(20)).maxBackwardWait(Duration.ZERO).build();
        new EkkoMetrics(generator).bindTo(registry);
        assertEquals(0, count("ekko.generator.ids.issued"));

        ekkoClock.freeze();
        int issued = 0;
        try {
            for (;;) {
                generator.next();
                issued++;
            }
        } catch (ClockMovedBackwardsException expected) {
            // the lead is used up and the clock does not move
        }
        // 21 milliseconds (the frozen one and 20 of lead), each to 1023: the frozen one from its first sequence (0..15), the
        // others, each entered from a used-up one, from 0
        assertTrue(issued > 21 * 1024 - 16 && issued <= 21 * 1024, "IDs issued: " + issued);
        scrapeClock.nextScrape();

        GeneratorStatus.Counters counters = generator.status().counters();
        assertEquals(issued, counters.idsIssued(), "no call in flight: the status lags nothing");
        assertEquals(issued, count("ekko.generator.ids.issued"));
        assertEquals(1, counters.clockBackRefusals());
        assertEquals(1, count("ekko.generator.clock.back.refusals"));
        assertEquals(counters.nextMillisecondWaits(), count("ekko.generator.waits", "reason", "next-millisecond"));
        assertEquals(counters.clockBackWaits(), count("ekko.generator.waits", "reason", "clock-back"));
        assertEquals(0, count("ekko.generator.lease.losses"));
        assertEquals(0, count("ekko.generator.reacquires"));
        assertEquals(0, count("ekko.generator.renewals.late"));
        assertEquals(0.020, seconds("ekko.generator.lead"), 1e-9);
        // the limit is counted from the wall clock the generator sees; the registry's wall clock is the same one
        long limit = generator.status().issueLimit().orElseThrow().toEpochMilli();
        assertEquals((limit - ekkoClock.millis()) / 1e3, seconds("ekko.generator.issue.limit.ahead"), 1e-9);
    }

    @Test
    void metersOfOneScrapeShareOneStatus() {
        generator = builder().build();
        new EkkoMetrics(generator).bindTo(registry);
        generator.next(new long[100]);
        assertEquals(100, count("ekko.generator.ids.issued"));

        generator.next(new long[50]);
        assertEquals(100, count("ekko.generator.ids.issued"), "read within the same scrape");
        generator.close();
        assertEquals(1, gauge("ekko.generator.live"), "read within the same scrape");

        scrapeClock.nextScrape();
        assertEquals(150, count("ekko.generator.ids.issued"));
        assertEquals(0, gauge("ekko.generator.live"));
    }

    @Test
    void aClosedGeneratorReadsAsClosedAndNothingThrows() {
        generator = builder().build();
        new EkkoMetrics(generator).bindTo(registry);
        generator.next(new long[5000]);
        generator.close();
        scrapeClock.nextScrape();

        assertEquals(0, gauge("ekko.generator.live"));
        assertEquals(1, state(GeneratorStatus.State.CLOSED));
        assertEquals(0, state(GeneratorStatus.State.LIVE));
        assertEquals(5000, count("ekko.generator.ids.issued"));
        assertEquals(3, gauge("ekko.generator.worker.id"), "the worker ID last held");
        assertTrue(Double.isNaN(seconds("ekko.generator.fence.remaining")));
        assertTrue(Double.isNaN(seconds("ekko.generator.issue.limit.ahead")), "nothing may be issued");
        for (Meter m : registry.getMeters()) {
            m.measure().forEach(ms -> ms.getValue());
        }
    }

    @Test
    void keepsReportingAViewTheApplicationDidNotKeep() {
        generator = builder().productBits(1).build();
        new EkkoMetrics(generator.forProduct(1)).bindTo(registry);
        generator.forProduct(1).next(new long[7]);
        // A weakly held view would be gone after this and read as NaN (gauge) or stay at its last value (counter).
        System.gc();
        scrapeClock.nextScrape();
        assertEquals(1, gauge("ekko.generator.live"));
        assertEquals(7, count("ekko.generator.ids.issued"));
    }

    @Test
    void rejectsNulls() {
        generator = builder().build();
        assertEquals("generator", assertThrows(NullPointerException.class, () -> new EkkoMetrics(null)).getMessage());
        assertEquals("extraTags", assertThrows(NullPointerException.class, () -> new EkkoMetrics(generator, null)).getMessage());
    }
}
