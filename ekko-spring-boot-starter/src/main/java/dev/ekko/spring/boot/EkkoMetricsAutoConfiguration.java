package dev.ekko.spring.boot;

import dev.ekko.IdGenerator;
import dev.ekko.micrometer.EkkoMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;

/**
 * Adds {@link EkkoMetrics} for the application's {@link IdGenerator} when {@code ekko-micrometer} is on the class path and
 * the application has a {@link MeterRegistry}: Spring Boot binds every {@code MeterBinder} bean to its registries, so the
 * {@code ekko.generator.*} meters appear beside the others, with Boot's common tags. A bean of type {@code EkkoMetrics} of
 * the application's own (with extra tags, say) wins. Off with {@code ekko.spring.enabled=false}.
 */
@AutoConfiguration(after = EkkoAutoConfiguration.class, afterName = {
        // Spring Boot 4's, then Spring Boot 3's, auto-configurations that create the registries.
        "org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration",
        "org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration",
        "org.springframework.boot.actuate.autoconfigure.metrics.MetricsAutoConfiguration",
        "org.springframework.boot.actuate.autoconfigure.metrics.CompositeMeterRegistryAutoConfiguration"})
@ConditionalOnClass({EkkoMetrics.class, MeterRegistry.class})
@ConditionalOnProperty(prefix = "ekko.spring", name = "enabled", havingValue = "true", matchIfMissing = true)
@ConditionalOnBean({IdGenerator.class, MeterRegistry.class})
public final class EkkoMetricsAutoConfiguration {

    /** Called by Spring. */
    public EkkoMetricsAutoConfiguration() {
    }

    /**
     * The meters of the generator.
     *
     * @param generator the application's generator
     * @return its meter binder, which Spring Boot binds to the application's registries
     */
    @Bean
    @ConditionalOnMissingBean
    public EkkoMetrics ekkoMetrics(IdGenerator generator) {
        return new EkkoMetrics(generator);
    }
}
