package dev.ekko.spring.boot;

import dev.ekko.GeneratorStatus;
import dev.ekko.IdGenerator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;

/**
 * The generator's health: {@code UP} while it may issue ({@link GeneratorStatus.State#LIVE}), otherwise {@code DOWN} with the
 * reason, the message a caller of {@code next()} would get. Its details are those of {@link IdGenerator#status()}: state,
 * reason, IDC, worker ID, allocator, lease expiry, fence deadline, issue limit, lead, the last renewal and the clock skew
 * (instants and durations in ISO-8601). Taking the status reads a few fields and calls no coordinator, so the health
 * endpoint may be polled as often as wanted.
 *
 * <p>Registered as {@code ekkoHealthIndicator}, shown as the {@code ekko} component of {@code /actuator/health}; off with
 * {@code management.health.ekko.enabled=false}.
 */
public final class EkkoHealthIndicator implements HealthIndicator {

    private final IdGenerator generator;

    /**
     * Reports a generator's health.
     *
     * @param generator the generator
     * @throws NullPointerException if it is null
     */
    public EkkoHealthIndicator(IdGenerator generator) {
        this.generator = Objects.requireNonNull(generator, "generator");
    }

    /**
     * Takes the generator's status.
     *
     * @return {@code UP} while it may issue, {@code DOWN} otherwise; with the status as details
     */
    @Override
    public Health health() {
        GeneratorStatus status = generator.status();
        Health.Builder health = status.available() ? Health.up() : Health.down();
        return health.withDetails(details(status)).build();
    }

    /** {@return the status as health details: plain strings and numbers, absent values left out} */
    static Map<String, Object> details(GeneratorStatus status) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("state", status.state().name());
        status.reason().ifPresent(r -> d.put("reason", r));
        d.put("idc", status.idc());
        d.put("workerId", status.workerId());
        d.put("allocator", status.allocator());
        status.leaseExpiresAt().ifPresent(t -> d.put("leaseExpiresAt", t.toString()));
        status.fenceDeadline().ifPresent(t -> d.put("fenceDeadline", t.toString()));
        status.issueLimit().ifPresent(t -> d.put("issueLimit", t.toString()));
        d.put("lead", status.lead().toString());
        status.lastRenewal().ifPresent(r -> {
            Map<String, Object> renewal = new LinkedHashMap<>();
            renewal.put("at", r.at().toString());
            renewal.put("took", r.took().toString());
            renewal.put("succeeded", r.succeeded());
            r.failure().ifPresent(f -> renewal.put("failure", f));
            d.put("lastRenewal", renewal);
        });
        status.clockSkew().ifPresent(s -> d.put("clockSkew", s.toString()));
        return d;
    }
}
