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
