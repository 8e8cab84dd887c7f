package dev.ekko.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ekko.GeneratorStatus;
import dev.ekko.IdGenerator;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.autoconfigure.contributor.ConditionalOnEnabledHealthIndicator;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.HealthIndicator;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

class EkkoHealthIndicatorTest {

    @TempDir
    Path dir;

    private ApplicationContextRunner runner() {
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(EkkoAutoConfiguration.class, EkkoHealthAutoConfiguration.class))
                .withPropertyValues("ekko.state.dir=" + dir.resolve("state"), "ekko.host.lock.dir=" + dir.resolve("locks"),
                        "ekko.worker.id=12", "ekko.idc=2");
    }

    @Test
    void upWhileTheGeneratorIsLive() {
        runner().run(context -> {
            Health health = context.getBean("ekkoHealthIndicator", HealthIndicator.class).health();
            assertThat(health.getStatus()).isEqualTo(Status.UP);
            assertThat(health.getDetails()).containsEntry("state", "LIVE").containsEntry("workerId", 12).containsEntry("idc", 2)
                    .containsEntry("allocator", "manual").containsEntry("lead", "PT0S").doesNotContainKey("reason");
        });
    }

    @Test
    void downWithTheReasonOnceTheGeneratorIsClosed() {
        runner().run(context -> {
            context.getBean(IdGenerator.class).close();
            Health health = context.getBean(EkkoHealthIndicator.class).health();
            assertThat(health.getStatus()).isEqualTo(Status.DOWN);
            assertThat(health.getDetails()).containsEntry("state", "CLOSED").containsKey("reason").containsEntry("workerId", 12);
        });
    }

    @Test
    void downWhilePausedWithTheFenceDeadlineAndTheLastRenewal() {
        Instant fence = Instant.parse("2026-05-01T10:00:00Z");
        GeneratorStatus paused = new GeneratorStatus(GeneratorStatus.State.PAUSED, Optional.of("past the fence deadline"), 3, 40, 0,
                "redis", Optional.of(fence.plusSeconds(3)), Optional.of(fence), Optional.of(fence.plusSeconds(10)),
                Duration.ofMillis(5), Optional.of(new GeneratorStatus.Renewal(fence.minusSeconds(1), Duration.ofMillis(1500), false,
                        Optional.of("timed out"))), Optional.of(Duration.ofMillis(-20)),
                new GeneratorStatus.Counters(0, 0, 0, 0, 0, 0, 0));
        Health health = new EkkoHealthIndicator(reporting(paused)).health();
        assertThat(health.getStatus()).isEqualTo(Status.DOWN);
        assertThat(health.getDetails()).containsEntry("state", "PAUSED").containsEntry("reason", "past the fence deadline")
                .containsEntry("idc", 3).containsEntry("workerId", 40).containsEntry("allocator", "redis")
                .containsEntry("leaseExpiresAt", "2026-05-01T10:00:03Z").containsEntry("fenceDeadline", "2026-05-01T10:00:00Z")
                .containsEntry("issueLimit", "2026-05-01T10:00:10Z").containsEntry("lead", "PT0.005S")
                .containsEntry("clockSkew", "PT-0.02S").containsEntry("lastRenewal", Map.of("at", "2026-05-01T09:59:59Z",
                        "took", "PT1.5S", "succeeded", false, "failure", "timed out"));
    }

    @Test
    void absentWithoutSpringBootsHealthSupport() {
        runner().withClassLoader(new FilteredClassLoader(HealthIndicator.class, ConditionalOnEnabledHealthIndicator.class))
                .run(context -> assertThat(context).hasNotFailed().hasSingleBean(IdGenerator.class)
                        .doesNotHaveBean(EkkoHealthIndicator.class));
    }

    @Test
    void absentWhenTurnedOff() {
        runner().withPropertyValues("management.health.ekko.enabled=false").run(context ->
                assertThat(context).doesNotHaveBean(EkkoHealthIndicator.class));
    }

    @Test
    void absentWhenTheStarterIsTurnedOffEvenWithAnApplicationsOwnGenerator() {
        runner().withPropertyValues("ekko.spring.enabled=false")
                .withBean(IdGenerator.class, () -> reporting(null)).run(context ->
                        assertThat(context).hasSingleBean(IdGenerator.class).doesNotHaveBean(EkkoHealthIndicator.class));
    }

    @Test
    void anApplicationsOwnIndicatorWins() {
        HealthIndicator own = () -> Health.unknown().build();
        runner().withBean("ekkoHealthIndicator", HealthIndicator.class, () -> own).run(context -> {
            assertThat(context).doesNotHaveBean(EkkoHealthIndicator.class);
            assertThat(context.getBean("ekkoHealthIndicator")).isSameAs(own);
        });
    }

    /** {@return a generator that reports the given status, closes without doing anything, and does nothing else} */
    private static IdGenerator reporting(GeneratorStatus status) {
        return (IdGenerator) Proxy.newProxyInstance(IdGenerator.class.getClassLoader(), new Class<?>[] {IdGenerator.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("status")) {
                        return status;
                    }
                    if (method.getName().equals("close")) {
                        return null;
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }
}
