package dev.ekko.micrometer;

import dev.ekko.GeneratorStatus;
import dev.ekko.IdGenerator;
import io.micrometer.core.instrument.Clock;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * Binds a generator's {@link IdGenerator#status() status} to Micrometer meters, all named {@code ekko.generator.*}:
 * whether it issues and in which {@link GeneratorStatus.State state}, its lead, the time left to its fence deadline and
 * to its issue limit, its clock skew to the coordinator, the duration of its last renewal, and its counters. The meters
 * and their meaning are listed in {@code docs/micrometer.md}.
 *
 * <pre>{@code
 * IdGenerator ids = Ekko.newBuilder().environment().build();
 * new EkkoMetrics(ids).bindTo(registry);
 * }</pre>
 *
 * <p><b>Tags.</b> Every meter carries {@code idc}, {@code worker} and {@code allocator}, then the extra tags given to the
 * constructor. Micrometer fixes a meter's tags when it is registered, and a generator takes a new worker ID when it
 * re-acquires after a lost lease; so {@code worker} is the worker ID held when this object was constructed, and stays
 * that. Re-registering the meters under the new worker ID was not chosen: it would end every series at each re-acquire
 * (a counter's rate breaks, dashboards lose the history). The worker ID held now is the value of the gauge
 * {@code ekko.generator.worker.id}; the counter {@code ekko.generator.reacquires} counts the changes.
 *
 * <p><b>One status per scrape.</b> The meters bound to one registry share one status: a meter read within a second of the
 * one that took it (by the registry's {@link Clock#monotonicTime() monotonic clock}) gets the same snapshot, so the values
 * of one scrape agree (exactly one {@code ekko.generator.state} is 1). Taking a status is cheap (volatile reads, no lock,
 * no I/O), and a scrape takes one at a time under this object's lock, so counters never go back.
 *
 * <p><b>References.</b> The meters hold the generator strongly: a view from {@link IdGenerator#forProduct(int)} is often
 * not kept by the application and would otherwise vanish from the meters at the next garbage collection. A closed
 * generator keeps answering with state {@link GeneratorStatus.State#CLOSED CLOSED} (nothing throws); remove its meters
 * from the registry (or close the registry) to let it go.
 *
 * <p>Thread-safe; binding to several registries is allowed.
 */
public final class EkkoMetrics implements MeterBinder {

    /** How long a status is reused: longer than a scrape of the meters bound here, far shorter than a scrape interval. */
    private static final long SNAPSHOT_MAX_AGE_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final IdGenerator generator;
    private final Tags tags;

    /**
     * Meters for a generator, tagged with its {@code idc}, {@code worker} and {@code allocator}.
     *
     * @param generator the generator to report (or a view from {@link IdGenerator#forProduct(int)}: its lead is that
     *     product's)
     * @throws NullPointerException if generator is null
     */
    public EkkoMetrics(IdGenerator generator) {
        this(generator, Tags.empty());
    }

    /**
     * Meters for a generator, tagged with its {@code idc}, {@code worker} and {@code allocator} and with extra tags: to
     * tell apart generators that share those three (two products, two layouts), or to add the application's own tags.
     *
     * @param generator the generator to report (or a view from {@link IdGenerator#forProduct(int)}: its lead is that
     *     product's)
     * @param extraTags tags added to every meter; a tag named {@code idc}, {@code worker} or {@code allocator} replaces the
     *     generator's
     * @throws NullPointerException if generator or extraTags is null
     */
    public EkkoMetrics(IdGenerator generator, Iterable<Tag> extraTags) {
        this.generator = Objects.requireNonNull(generator, "generator");
        Objects.requireNonNull(extraTags, "extraTags");
        GeneratorStatus status = generator.status();
        this.tags = Tags.of("idc", Integer.toString(status.idc()), "worker", Integer.toString(status.workerId()),
                "allocator", status.allocator()).and(extraTags);
    }

    /**
     * Registers the meters in {@code registry}. Meters already registered there under the same name and tags (the same
     * generator bound twice) are kept, not duplicated.
     *
     * @param registry where to register them
     * @throws NullPointerException if registry is null
     */
    @Override
    public void bindTo(MeterRegistry registry) {
        Clock clock = registry.config().clock();
        SharedStatus shared = new SharedStatus(generator, clock);

        gauge(registry, shared, "ekko.generator.live", "1 while the generator may issue, else 0",
                s -> s.available() ? 1 : 0);
        for (GeneratorStatus.State state : GeneratorStatus.State.values()) {
            Gauge.builder("ekko.generator.state", shared, h -> h.get().state() == state ? 1 : 0)
                    .tags(tags).tag("state", state.name().toLowerCase(Locale.ROOT))
                    .description("1 for the generator's current state, 0 for the others")
                    .strongReference(true).register(registry);
        }
        gauge(registry, shared, "ekko.generator.worker.id",
                "the worker ID held now (the worker tag is the one held when the meters were created)", GeneratorStatus::workerId);

        timeGauge(registry, shared, "ekko.generator.lead", "how far the last issued millisecond is ahead of the wall clock",
                s -> millis(s.lead()));
        timeGauge(registry, shared, "ekko.generator.fence.remaining",
                "time left until the fence deadline; NaN when none (a lease that does not expire, or no lease held)",
                s -> untilMillis(s.fenceDeadline(), clock));
        timeGauge(registry, shared, "ekko.generator.issue.limit.ahead",
                "time from now to the last millisecond IDs may carry before the reservation is extended; NaN while nothing"
                        + " may be issued",
                s -> untilMillis(s.issueLimit(), clock));
        timeGauge(registry, shared, "ekko.generator.clock.skew",
                "the local clock minus the coordinator's at the last report (positive: this clock is ahead); NaN when unknown",
                s -> s.clockSkew().map(EkkoMetrics::millis).orElse(Double.NaN));
        timeGauge(registry, shared, "ekko.generator.renewal.duration",
                "how long the coordinator took to answer the last renewal; NaN before the first",
                s -> s.lastRenewal().map(r -> millis(r.took())).orElse(Double.NaN));

        counter(registry, shared, "ekko.generator.ids.issued", Tags.empty(), "IDs issued, by every product",
                c -> c.idsIssued());
        counter(registry, shared, "ekko.generator.waits", Tags.of("reason", "next-millisecond"),
                "times a caller waited: for the next millisecond (1,024 IDs taken), or for a clock behind the last issued"
                        + " millisecond",
                c -> c.nextMillisecondWaits());
        counter(registry, shared, "ekko.generator.waits", Tags.of("reason", "clock-back"),
                "times a caller waited: for the next millisecond (1,024 IDs taken), or for a clock behind the last issued"
                        + " millisecond",
                c -> c.clockBackWaits());
        counter(registry, shared, "ekko.generator.clock.back.refusals", Tags.empty(),
                "times a caller was refused because the clock stayed behind the last issued millisecond",
                c -> c.clockBackRefusals());
        counter(registry, shared, "ekko.generator.lease.losses", Tags.empty(), "worker ID leases lost",
                c -> c.leaseLosses());
        counter(registry, shared, "ekko.generator.reacquires", Tags.empty(), "worker IDs acquired again after a lost lease",
                c -> c.reacquires());
        counter(registry, shared, "ekko.generator.renewals.late", Tags.empty(),
                "renewals that succeeded after the fence deadline or after failed attempts", c -> c.lateRenewals());
    }

    private void gauge(MeterRegistry registry, SharedStatus shared, String name, String description,
            ToDoubleFunction<GeneratorStatus> value) {
        Gauge.builder(name, shared, h -> value.applyAsDouble(h.get())).tags(tags).description(description)
                .strongReference(true).register(registry);
    }

    private void timeGauge(MeterRegistry registry, SharedStatus shared, String name, String description,
            ToDoubleFunction<GeneratorStatus> millis) {
        TimeGauge.builder(name, shared, TimeUnit.MILLISECONDS, h -> millis.applyAsDouble(h.get())).tags(tags)
                .description(description).strongReference(true).register(registry);
    }

    private void counter(MeterRegistry registry, SharedStatus shared, String name, Tags extra, String description,
            ToDoubleFunction<GeneratorStatus.Counters> count) {
        // A FunctionCounter holds its object weakly, and has no strongReference(): the function captures it instead,
        // so the registry keeps it (and the generator) as the gauges do.
        FunctionCounter.builder(name, shared, h -> count.applyAsDouble(shared.get().counters())).tags(tags).tags(extra)
                .description(description).register(registry);
    }

    private static double millis(Duration d) {
        return d.getSeconds() * 1e3 + d.getNano() / 1e6;
    }

    private static double untilMillis(Optional<Instant> deadline, Clock clock) {
        return deadline.map(d -> (double) (d.toEpochMilli() - clock.wallTime())).orElse(Double.NaN);
    }

    /** The status the meters of one registry share: reused while younger than {@link #SNAPSHOT_MAX_AGE_NANOS}. */
    private static final class SharedStatus {

        private final IdGenerator generator;
        private final Clock clock;
        private GeneratorStatus last; // guarded by this
        private long takenAtNanos; // guarded by this

        SharedStatus(IdGenerator generator, Clock clock) {
            this.generator = generator;
            this.clock = clock;
        }

        synchronized GeneratorStatus get() {
            long now = clock.monotonicTime();
            if (last == null || now - takenAtNanos >= SNAPSHOT_MAX_AGE_NANOS) {
                last = generator.status();
                takenAtNanos = now;
            }
            return last;
        }
    }
}
