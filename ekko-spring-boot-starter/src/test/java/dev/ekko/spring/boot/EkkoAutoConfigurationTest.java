package dev.ekko.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ekko.DecodedId;
import dev.ekko.Ekko;
import dev.ekko.GeneratorStatus;
import dev.ekko.IdGenerator;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.boot.env.YamlPropertySourceLoader;
import org.springframework.core.env.StandardEnvironment;
import org.springframework.core.io.ClassPathResource;
import org.springframework.core.env.SystemEnvironmentPropertySource;

class EkkoAutoConfigurationTest {

    @TempDir
    Path dir;

    /** Each test's own state and host lock directories, so that worker IDs never meet another test's. */
    private ApplicationContextRunner runner() {
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(EkkoAutoConfiguration.class, EkkoHealthAutoConfiguration.class))
                .withPropertyValues("ekko.state.dir=" + dir.resolve("state"), "ekko.host.lock.dir=" + dir.resolve("locks"));
    }

    private static java.util.List<String> messages(Throwable failure) {
        java.util.List<String> messages = new java.util.ArrayList<>();
        for (Throwable t = failure; t != null; t = t.getCause()) {
            messages.add(t.getMessage());
        }
        return messages;
    }

    private static DecodedId decode(IdGenerator generator) {
        return generator.layout().decode(generator.next());
    }

    @Test
    void buildsTheGeneratorWithTheConfiguredWorkerIdAndIdc() {
        runner().withPropertyValues("ekko.worker.id=7", "ekko.idc=3").run(context -> {
            assertThat(context).hasSingleBean(IdGenerator.class).hasBean("ekkoIdGenerator");
            IdGenerator generator = context.getBean(IdGenerator.class);
            DecodedId id = decode(generator);
            assertThat(id.worker()).isEqualTo(7);
            assertThat(id.idc()).isEqualTo(3);
            assertThat(generator.status().allocator()).isEqualTo("manual");
        });
    }

    @Test
    void readsTheCoreKeysFromYamlShapedAndEnvironmentVariableSources() {
        // EKKO_WORKER_ID binds to ekko.worker.id by Spring's rules; nested YAML comes in as dotted names.
        runner().withInitializer(context -> context.getEnvironment().getPropertySources().addFirst(new SystemEnvironmentPropertySource(
                StandardEnvironment.SYSTEM_ENVIRONMENT_PROPERTY_SOURCE_NAME, Map.of("EKKO_WORKER_ID", "21", "EKKO_IDC", "5"))))
                .withPropertyValues("ekko.worker.lease.ttl=20s", "ekko.clock.max.lead=5ms").run(context -> {
                    IdGenerator generator = context.getBean(IdGenerator.class);
                    assertThat(decode(generator).worker()).isEqualTo(21);
                    assertThat(generator.idc()).isEqualTo(5);
                });
    }

    @Test
    void readsAnApplicationYmlAsSpringBootLoadsIt() {
        // YAML gives numbers, booleans and what looks like a timestamp: each must reach the core as the text written.
        runner().withInitializer(context -> {
            try {
                new YamlPropertySourceLoader().load("ekko-test.yml", new ClassPathResource("ekko-test.yml"))
                        .forEach(context.getEnvironment().getPropertySources()::addLast);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }).run(context -> {
            IdGenerator generator = context.getBean(IdGenerator.class);
            assertThat(generator.layout().epoch()).isEqualTo(java.time.Instant.parse("2025-06-01T00:00:00Z"));
            assertThat(generator.layout().isPositive()).isTrue();
            DecodedId id = decode(generator);
            assertThat(id.worker()).isEqualTo(30);
            assertThat(id.idc()).isEqualTo(6);
        });
    }

    @Test
    void anApplicationsOwnGeneratorWins() {
        runner().withUserConfiguration(OwnGenerator.class).run(context -> {
            assertThat(context).hasSingleBean(IdGenerator.class).doesNotHaveBean("ekkoIdGenerator");
            assertThat(context.getBean(IdGenerator.class).workerId()).isEqualTo(99);
        });
    }

    @Test
    void aBadValueFailsTheStartWithTheCoresMessageNamingTheKey() {
        runner().withPropertyValues("ekko.idc=8").run(context -> assertThat(context).hasFailed()
                .getFailure().rootCause().isInstanceOf(IllegalArgumentException.class).hasMessage("must be >= 0 && <= 7: ekko.idc=8"));
    }

    @Test
    void anUnknownKeyFailsTheStartWithTheCoresListOfKnownKeys() {
        runner().withPropertyValues("ekko.wroker.id=1").run(context -> assertThat(context).hasFailed()
                .getFailure().rootCause().isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("unknown configuration key: ekko.wroker.id. Known keys: ")
                .hasMessageContaining("ekko.worker.id"));
    }

    @Test
    void contradictorySettingsFailTheStartWithTheCoresMessage() {
        runner().withPropertyValues("ekko.worker.lease.ttl=5s").run(context -> assertThat(context).hasFailed()
                .getFailure().rootCause().isInstanceOf(IllegalStateException.class)
                .hasMessageStartingWith("must hold 2 * ekko.worker.report.interval + ekko.worker.lease.margin <= ekko.worker.lease.ttl"));
    }

    @Test
    void otherComponentsKeysAreNotHandedToTheGenerator() {
        runner().withPropertyValues("ekko.worker.id=4", "ekko.server.http.port=8080", "ekko.segment.store=redis",
                "ekko.client.servers=http://h:1", "ekko.spring.products.orders=0").run(context -> assertThat(context).hasNotFailed());
    }

    @Test
    void customizersChangeTheBuilderAfterTheProperties() {
        runner().withPropertyValues("ekko.worker.id=4", "ekko.idc=1")
                .withBean(EkkoBuilderCustomizer.class, () -> builder -> builder.idc(6)).run(context ->
                        assertThat(context.getBean(IdGenerator.class).idc()).isEqualTo(6));
    }

    @Test
    void turnedOffByEkkoSpringEnabledFalse() {
        runner().withPropertyValues("ekko.spring.enabled=false", "ekko.spring.products.orders=1").run(context ->
                assertThat(context).hasNotFailed().doesNotHaveBean(IdGenerator.class).doesNotHaveBean(EkkoHealthIndicator.class));
    }

    @Test
    void theGeneratorIsClosedWithTheContext() {
        IdGenerator[] generator = new IdGenerator[1];
        runner().withPropertyValues("ekko.worker.id=4").run(context -> {
            generator[0] = context.getBean(IdGenerator.class);
            assertThat(generator[0].status().state()).isEqualTo(GeneratorStatus.State.LIVE);
        });
        assertThat(generator[0].status().state()).isEqualTo(GeneratorStatus.State.CLOSED);
    }

    @Test
    void productLinesBecomeBeansInjectedOnlyByName() {
        runner().withPropertyValues("ekko.worker.id=4", "ekko.product.bits=2", "ekko.spring.products.orders=1",
                "ekko.spring.products.order-events=3").withUserConfiguration(Injected.class).run(context -> {
                    IdGenerator generator = context.getBean("ekkoIdGenerator", IdGenerator.class);
                    IdGenerator orders = context.getBean("ordersIdGenerator", IdGenerator.class);
                    IdGenerator events = context.getBean("orderEventsIdGenerator", IdGenerator.class);
                    assertThat(decode(orders).product()).isEqualTo(1);
                    assertThat(decode(events).product()).isEqualTo(3);
                    assertThat(decode(generator).product()).isZero();
                    Injected injected = context.getBean(Injected.class);
                    assertThat(injected.generator).isSameAs(generator);
                    assertThat(injected.orders.product()).isEqualTo(1);
                    assertThat(context.getBean(IdGenerator.class)).isSameAs(generator);
                });
    }

    @Test
    void productBeansAreMadeOfTheApplicationsOwnGenerator() {
        runner().withUserConfiguration(OwnGenerator.class).withPropertyValues("ekko.spring.products.orders=1").run(context -> {
            IdGenerator orders = context.getBean("ordersIdGenerator", IdGenerator.class);
            assertThat(orders.workerId()).isEqualTo(99);
            assertThat(orders.product()).isEqualTo(1);
        });
    }

    @Test
    void aProductLineOutsideTheLayoutFailsNamingTheKey() {
        // The core's message, with the key the user wrote for the core's parameter name; the core's exception is the cause.
        runner().withPropertyValues("ekko.worker.id=4", "ekko.product.bits=1", "ekko.spring.products.orders=2").run(context ->
                assertThat(context).hasFailed().getFailure().rootCause().hasMessageEndingWith(": product=2")
                        .satisfies(core -> assertThat(messages(context.getStartupFailure()))
                                .contains("must be >= 0 && <= 1 (ekko.product.bits=1): ekko.spring.products.orders=2")));
    }

    @Test
    void aProductLineThatIsNotANumberFailsNamingTheKey() {
        runner().withPropertyValues("ekko.worker.id=4", "ekko.spring.products.orders=one").run(context ->
                assertThat(context).hasFailed().getFailure().isInstanceOf(IllegalArgumentException.class)
                        .hasMessage("must be a product line, an integer >= 0: ekko.spring.products.orders=one"));
    }

    @Test
    void productBeansNeedOneGeneratorToBeMadeOf() {
        runner().withUserConfiguration(TwoGenerators.class).withPropertyValues("ekko.spring.products.orders=1").run(context ->
                assertThat(context).hasFailed().getFailure().isInstanceOf(IllegalStateException.class)
                        .hasMessage("needs one IdGenerator bean, or one marked @Primary, to make the product beans of; found [first,"
                                + " second]: ekko.spring.products.orders"));
    }

    @Test
    void beanNamesAreTheProductNamesInCamelCase() {
        assertThat(ProductBeans.beanName("k", "orders")).isEqualTo("ordersIdGenerator");
        assertThat(ProductBeans.beanName("k", "order-events")).isEqualTo("orderEventsIdGenerator");
        assertThat(ProductBeans.beanName("k", "v2")).isEqualTo("v2IdGenerator");
    }

    @Configuration(proxyBeanMethods = false)
    static class OwnGenerator {

        @Bean(destroyMethod = "close")
        IdGenerator ownGenerator(@Autowired org.springframework.core.env.Environment environment) {
            return Ekko.newBuilder().workerId(99).stateDirectory(Path.of(environment.getProperty("ekko.state.dir")))
                    .hostLockDirectory(Path.of(environment.getProperty("ekko.host.lock.dir"))).productBits(1).build();
        }
    }

    @Configuration(proxyBeanMethods = false)
    static class TwoGenerators {

        @Bean
        IdGenerator first() {
            return Ekko.newBuilder().workerId(1).build();
        }

        @Bean
        IdGenerator second() {
            return Ekko.newBuilder().workerId(2).build();
        }
    }

    static class Injected {

        @Autowired
        IdGenerator generator;

        @Autowired
        @Qualifier("ordersIdGenerator")
        IdGenerator orders;
    }
}
