package dev.ekko.spring.boot;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.core.env.Environment;

/**
 * The core's settings from Spring's environment: every {@code ekko.*} property, from any source Spring reads
 * (application.yml or .properties, {@code EKKO_*} environment variables, system properties, the command line), with the
 * source precedence Spring gives them, under its own key. Keys are not translated: {@code ekko.worker.lease.ttl} in any
 * form Spring binds to that name, and the core alone decides what is valid.
 */
final class EkkoSettings {

    /** The starter's own properties: not the core's, never handed to the builder. */
    static final String SPRING_PREFIX = "ekko.spring.";

    /**
     * Prefixes the core leaves to the project's other components ({@code dev.ekko.internal.ConfigKeys.OTHER_COMPONENTS}, an
     * internal type this jar does not use at run time; {@code EkkoSettingsTest} keeps the two lists equal).
     */
    static final List<String> OTHER_COMPONENTS = List.of("ekko.segment.", "ekko.server.", "ekko.client.", SPRING_PREFIX);

    /**
     * Ekko's own test command exports {@code EKKO_TEST_*} variables (its servers' addresses), which Spring binds as
     * {@code ekko.test.*}; the core's {@code environment()} skips those variables too ({@code ConfigKeys.TEST_ENV_PREFIX}).
     */
    static final String TEST_PREFIX = "ekko.test.";

    private EkkoSettings() {
    }

    /**
     * @param environment Spring's environment
     * @return the generator's settings, by full key ({@code ekko.idc}), sorted
     */
    static Map<String, String> from(Environment environment) {
        Map<String, String> bound = Binder.get(environment).bind("ekko", Bindable.mapOf(String.class, String.class))
                .orElse(Map.of());
        Map<String, String> settings = new TreeMap<>();
        bound.forEach((name, value) -> {
            String key = "ekko." + name;
            if (OTHER_COMPONENTS.stream().noneMatch(key::startsWith) && !key.startsWith(TEST_PREFIX)) {
                settings.put(key, value);
            }
        });
        return settings;
    }
}
