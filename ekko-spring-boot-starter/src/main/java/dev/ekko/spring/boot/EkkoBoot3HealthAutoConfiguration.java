package dev.ekko.spring.boot;

import dev.ekko.IdGenerator;
import org.springframework.boot.actuate.autoconfigure.health.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.actuate.health.HealthIndicator;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;

/**
 * {@link EkkoHealthAutoConfiguration} for Spring Boot 3: adds {@link EkkoBoot3HealthIndicator} when Spring Boot 3's
 * actuator is on the class path (its health types, which Spring Boot 4 moved to {@code spring-boot-health}), unless the
 * application has a bean named {@code ekkoHealthIndicator} or set {@code management.health.ekko.enabled=false} (or
 * {@code ekko.spring.enabled=false}).
 */
@AutoConfiguration(after = EkkoAutoConfiguration.class)
@ConditionalOnClass({HealthIndicator.class, ConditionalOnEnabledHealthIndicator.class})
@ConditionalOnProperty(prefix = "ekko.spring", name = "enabled", havingValue = "true", matchIfMissing = true)
@ConditionalOnBean(IdGenerator.class)
@ConditionalOnEnabledHealthIndicator("ekko")
public final class EkkoBoot3HealthAutoConfiguration {

    /** Called by Spring. */
    public EkkoBoot3HealthAutoConfiguration() {
    }

    /**
     * The health indicator of the generator.
     *
     * @param generator the application's generator
     * @return its health indicator, the {@code ekko} component of the health endpoint
     */
    @Bean
    @ConditionalOnMissingBean(name = "ekkoHealthIndicator")
    public EkkoBoot3HealthIndicator ekkoHealthIndicator(IdGenerator generator) {
        return new EkkoBoot3HealthIndicator(generator);
    }
}
