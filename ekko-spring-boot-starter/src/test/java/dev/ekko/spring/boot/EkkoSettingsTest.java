package dev.ekko.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.ekko.internal.ConfigKeys;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class EkkoSettingsTest {

    @Test
    void leavesTheSameKeysToOtherComponentsAsTheCore() {
        assertThat(EkkoSettings.OTHER_COMPONENTS).containsExactlyInAnyOrderElementsOf(ConfigKeys.OTHER_COMPONENTS);
    }

    /**
     * ./run-tests exports EKKO_TEST_REDIS_URI and the like; Spring binds them as ekko.test.*, which the core would refuse as
     * unknown keys (the fresh-clone run of the test command failed every context test on it). The core's environment()
     * skips the same variables.
     */
    @Test
    void leavesTheTestCommandsVariablesAlone() {
        org.springframework.mock.env.MockEnvironment env = new org.springframework.mock.env.MockEnvironment()
                .withProperty("ekko.test.redis.uri", "redis://127.0.0.1:1").withProperty("ekko.idc", "3");
        assertThat(EkkoSettings.from(env)).containsExactly(java.util.Map.entry("ekko.idc", "3"));
        assertThat(ConfigKeys.TEST_ENV_PREFIX).isEqualTo("EKKO_TEST_");
    }

    @Test
    void theConfigurationMetadataDescribesEveryCoreKey() throws IOException {
        String metadata;
        try (InputStream in = getClass().getResourceAsStream("/META-INF/spring-configuration-metadata.json")) {
            assertThat(in).as("META-INF/spring-configuration-metadata.json").isNotNull();
            metadata = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        for (String key : ConfigKeys.CORE) {
            assertThat(metadata).contains("\"name\": \"" + key + "\"");
        }
    }
}
