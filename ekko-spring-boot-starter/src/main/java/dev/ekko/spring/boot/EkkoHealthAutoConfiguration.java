package dev.ekko.spring.boot;

import dev.ekko.IdGenerator;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.context.annotation.Bean;

/**
 * Adds {@link EkkoHealthIndicator} for the application's {@link IdGenerator} when Spring Boot's health support
 * ({@code spring-boot-health}, brought by the actuator) is on the class path, unless the application has a bean named
 * {@code ekkoHealthIndicator} or set {@code management.health.ekko.enabled=false} (or {@code ekko.spring.enabled=false}).
 */
@AutoConfiguration(after = EkkoAutoConfiguration.class)
@ConditionalOnClass({HealthIndicator.class, ConditionalOnEnabledHealthIndicator.class})
@ConditionalOnProperty(prefix = "ekko.spring", name = "enabled", havingValue = "true", matchIfMissing = true)
@ConditionalOnBean(IdGenerator.class)
@ConditionalOnEnabledHealthIndicator("ekko")
public final class EkkoHealthAutoConfiguration {

    /** Called by Spring. */
    public EkkoHealthAutoConfiguration() {
    }

    /**
     * The health indicator of the generator.
     *
     * @param generator the application's generator
     * @return its health indicator, the {@code ekko} component of the health endpoint
     */
    @Bean
    @ConditionalOnMissingBean(name = "ekkoHealthIndicator")
    public EkkoHealthIndicator ekkoHealthIndicator(IdGenerator generator) {
        return new EkkoHealthIndicator(generator);
    }
}
