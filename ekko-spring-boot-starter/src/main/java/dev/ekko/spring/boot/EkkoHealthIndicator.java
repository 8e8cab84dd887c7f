package dev.ekko.spring.boot;

import dev.ekko.GeneratorStatus;
import dev.ekko.IdGenerator;
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
 * {@code management.health.ekko.enabled=false}. For Spring Boot 4 ({@code spring-boot-health}); Spring Boot 3 gets
 * {@link EkkoBoot3HealthIndicator}, the same on its actuator's types.
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
        return health.withDetails(HealthDetails.of(status)).build();
    }
}
