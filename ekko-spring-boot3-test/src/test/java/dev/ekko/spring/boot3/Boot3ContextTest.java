package dev.ekko.spring.boot3;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ekko.GeneratorStatus;
import dev.ekko.IdGenerator;
import dev.ekko.spring.boot.EkkoAutoConfiguration;
import dev.ekko.spring.boot.EkkoBoot3HealthAutoConfiguration;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.HealthIndicator;
import org.springframework.boot.actuate.health.Status;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;

/** The starter's conditions on Spring Boot 3 (Spring Framework 6.2). */
class Boot3ContextTest {

    @TempDir
    Path dir;

    private ApplicationContextRunner runner() {
        return new ApplicationContextRunner()
                .withConfiguration(AutoConfigurations.of(EkkoAutoConfiguration.class, EkkoBoot3HealthAutoConfiguration.class))
                .withPropertyValues("ekko.state.dir=" + dir.resolve("state"), "ekko.host.lock.dir=" + dir.resolve("locks"),
                        "ekko.worker.id=3");
    }

    @Test
    void healthIsDownWithTheReasonOnceTheGeneratorIsClosed() {
        runner().run(context -> {
            HealthIndicator indicator = context.getBean("ekkoHealthIndicator", HealthIndicator.class);
            assertThat(indicator.health().getStatus()).isEqualTo(Status.UP);
            context.getBean(IdGenerator.class).close();
            Health health = indicator.health();
            assertThat(health.getStatus()).isEqualTo(Status.DOWN);
            assertThat(health.getDetails()).containsEntry("state", "CLOSED").containsKey("reason");
        });
    }

    @Test
    void aBadValueFailsTheStartWithTheCoresMessage() {
        runner().withPropertyValues("ekko.idc=8").run(context -> assertThat(context).hasFailed().getFailure().rootCause()
                .isInstanceOf(IllegalArgumentException.class).hasMessage("must be >= 0 && <= 7: ekko.idc=8"));
    }

    @Test
    void theGeneratorIsClosedWithTheContext() {
        IdGenerator[] generator = new IdGenerator[1];
        runner().run(context -> generator[0] = context.getBean(IdGenerator.class));
        assertThat(generator[0].status().state()).isEqualTo(GeneratorStatus.State.CLOSED);
    }
}
