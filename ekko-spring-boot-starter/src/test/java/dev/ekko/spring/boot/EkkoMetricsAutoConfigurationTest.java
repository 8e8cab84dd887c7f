package dev.ekko.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ekko.IdGenerator;
import dev.ekko.micrometer.EkkoMetrics;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.micrometer.metrics.autoconfigure.CompositeMeterRegistryAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.MetricsAutoConfiguration;
import org.springframework.boot.micrometer.metrics.autoconfigure.export.simple.SimpleMetricsExportAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

class EkkoMetricsAutoConfigurationTest {

    @TempDir
    Path dir;

    private ApplicationContextRunner runner() {
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(EkkoAutoConfiguration.class, EkkoMetricsAutoConfiguration.class))
                .withPropertyValues("ekko.state.dir=" + dir.resolve("state"), "ekko.host.lock.dir=" + dir.resolve("locks"),
                        "ekko.worker.id=9", "ekko.idc=4");
    }

    /** Spring Boot's metrics support as an actuator application has it: a registry, and MeterBinder beans bound to it. */
    private ApplicationContextRunner withBootMetrics() {
        return runner().withConfiguration(AutoConfigurations.of(MetricsAutoConfiguration.class,
                SimpleMetricsExportAutoConfiguration.class, CompositeMeterRegistryAutoConfiguration.class));
    }

    @Test
    void theGeneratorsMetersAreBoundToTheApplicationsRegistry() {
        withBootMetrics().run(context -> {
            assertThat(context).hasSingleBean(EkkoMetrics.class);
            MeterRegistry registry = context.getBean(MeterRegistry.class);
            assertThat(registry.get("ekko.generator.live").tag("worker", "9").tag("idc", "4").gauge().value()).isEqualTo(1.0);
            // What the values mean is ekko-micrometer's to test; here, that the binder ran against Boot's registry.
            assertThat(registry.get("ekko.generator.ids.issued").tag("allocator", "manual").functionCounter()).isNotNull();
        });
    }

    @Test
    void absentWithoutAMeterRegistry() {
        runner().run(context -> assertThat(context).hasNotFailed().hasSingleBean(IdGenerator.class)
                .doesNotHaveBean(EkkoMetrics.class));
    }

    @Test
    void presentWithAnApplicationsOwnRegistry() {
        runner().withBean(MeterRegistry.class, SimpleMeterRegistry::new).run(context ->
                assertThat(context).hasSingleBean(EkkoMetrics.class));
    }

    @Test
    void absentWithoutEkkoMicrometer() {
        withBootMetrics().withClassLoader(new FilteredClassLoader(EkkoMetrics.class)).run(context ->
                assertThat(context).hasNotFailed().hasSingleBean(IdGenerator.class).hasSingleBean(MeterRegistry.class)
                        .doesNotHaveBean(EkkoMetrics.class));
    }

    @Test
    void absentWithoutMicrometer() {
        runner().withClassLoader(new FilteredClassLoader(MeterRegistry.class)).run(context ->
                assertThat(context).hasNotFailed().hasSingleBean(IdGenerator.class).doesNotHaveBean(EkkoMetrics.class));
    }

    @Test
    void anApplicationsOwnBinderWins() {
        withBootMetrics().withUserConfiguration(OwnMetrics.class).run(context -> {
            assertThat(context).hasSingleBean(EkkoMetrics.class).hasBean("ownMetrics");
            assertThat(context.getBean(MeterRegistry.class).get("ekko.generator.live").tag("app", "orders").gauge()).isNotNull();
        });
    }

    @Configuration(proxyBeanMethods = false)
    static class OwnMetrics {

        @Bean
        EkkoMetrics ownMetrics(IdGenerator generator) {
            return new EkkoMetrics(generator, Tags.of("app", "orders"));
        }
    }
}
