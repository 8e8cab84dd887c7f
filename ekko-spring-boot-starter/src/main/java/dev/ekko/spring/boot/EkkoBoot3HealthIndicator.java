package dev.ekko.spring.boot;

import dev.ekko.GeneratorStatus;
import dev.ekko.IdGenerator;
import java.util.Objects;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.HealthIndicator;

/**
 * {@link EkkoHealthIndicator} for Spring Boot 3, whose actuator has its health types in
 * {@code org.springframework.boot.actuate.health}: {@code UP} while the generator may issue
 * ({@link GeneratorStatus.State#LIVE}), otherwise {@code DOWN}, with the same details.
 */
public final class EkkoBoot3HealthIndicator implements HealthIndicator {

    private final IdGenerator generator;

    /**
     * Reports a generator's health.
     *
     * @param generator the generator
     * @throws NullPointerException if it is null
     */
    public EkkoBoot3HealthIndicator(IdGenerator generator) {
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
