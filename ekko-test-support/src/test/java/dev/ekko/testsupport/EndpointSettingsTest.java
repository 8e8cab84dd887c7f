package dev.ekko.testsupport;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class EndpointSettingsTest {
    private static final Map<Setting, Function<EndpointSettings, Object>> GETTERS = Map.of(
            Setting.REDIS_URI, EndpointSettings::redisUri,
            Setting.MYSQL_URL, EndpointSettings::mysqlUrl,
            Setting.MYSQL_USER, EndpointSettings::mysqlUser,
            Setting.MYSQL_PASSWORD, EndpointSettings::mysqlPassword,
            Setting.ETCD_ENDPOINTS, EndpointSettings::etcdEndpoints);

    @ParameterizedTest
    @EnumSource(Setting.class)
    void missingSettingNamesServerVariablePropertyAndHowToProvideIt(Setting setting) {
        EndpointSettings empty = new EndpointSettings(Map.of(), new Properties());

        IllegalStateException e = assertThrows(IllegalStateException.class, () -> GETTERS.get(setting).apply(empty));

        assertAll(
                () -> assertTrue(e.getMessage().startsWith("No " + setting.server() + " test server configured: "
                        + "neither the environment variable " + setting.environmentVariable()
                        + " nor the system property " + setting.systemProperty() + " is set."), e.getMessage()),
                () -> assertTrue(e.getMessage().contains("./run-tests"), e.getMessage()),
                () -> assertTrue(e.getMessage().contains(setting.environmentVariable() + "=" + setting.example()),
                        e.getMessage()));
    }

    @Test
    void missingRedisMessageReadsAsDocumented() {
        EndpointSettings empty = new EndpointSettings(Map.of(), new Properties());

        IllegalStateException e = assertThrows(IllegalStateException.class, empty::redisUri);

        assertEquals("No Redis test server configured: neither the environment variable EKKO_TEST_REDIS_URI"
                + " nor the system property ekko.test.redis.uri is set. Run the build with ./run-tests from the"
                + " repository root, which starts throwaway MariaDB, Redis and etcd servers and sets every"
                + " EKKO_TEST_* variable; or point the tests at your own server with"
                + " EKKO_TEST_REDIS_URI=redis://HOST:PORT (or -Dekko.test.redis.uri=...). See docs/testing.md.",
                e.getMessage());
    }

    @Test
    void systemPropertyNamesAreTheVariableNamesInDottedLowerCase() {
        assertEquals("ekko.test.redis.uri", Setting.REDIS_URI.systemProperty());
        assertEquals("ekko.test.mysql.url", Setting.MYSQL_URL.systemProperty());
        assertEquals("ekko.test.mysql.user", Setting.MYSQL_USER.systemProperty());
        assertEquals("ekko.test.mysql.password", Setting.MYSQL_PASSWORD.systemProperty());
        assertEquals("ekko.test.etcd.endpoints", Setting.ETCD_ENDPOINTS.systemProperty());
    }

    @Test
    void blankValueCountsAsMissing() {
        EndpointSettings blank = new EndpointSettings(Map.of("EKKO_TEST_MYSQL_USER", " "), new Properties());

        IllegalStateException e = assertThrows(IllegalStateException.class, blank::mysqlUser);

        assertTrue(e.getMessage().startsWith("No MariaDB test server configured: the value is blank in the"
                + " environment variable EKKO_TEST_MYSQL_USER or the system property ekko.test.mysql.user."),
                e.getMessage());
    }

    @Test
    void emptyPasswordIsAValueNotAMissingSetting() {
        EndpointSettings settings = new EndpointSettings(Map.of("EKKO_TEST_MYSQL_PASSWORD", ""), new Properties());

        assertEquals("", settings.mysqlPassword());
    }

    @Test
    void systemPropertyOverridesEnvironmentVariable() {
        Properties properties = new Properties();
        properties.setProperty("ekko.test.redis.uri", "redis://127.0.0.1:2");
        EndpointSettings settings = new EndpointSettings(Map.of("EKKO_TEST_REDIS_URI", "redis://127.0.0.1:1"),
                properties);

        assertEquals("redis://127.0.0.1:2", settings.redisUri());
    }

    @Test
    void environmentVariableIsUsedWhenNoPropertyIsSet() {
        EndpointSettings settings = new EndpointSettings(Map.of(
                "EKKO_TEST_MYSQL_URL", "jdbc:mysql://127.0.0.1:3/ekko_test?sslMode=DISABLED",
                "EKKO_TEST_MYSQL_USER", "ekko",
                "EKKO_TEST_MYSQL_PASSWORD", "secret"), new Properties());

        assertEquals("jdbc:mysql://127.0.0.1:3/ekko_test?sslMode=DISABLED", settings.mysqlUrl());
        assertEquals("ekko", settings.mysqlUser());
        assertEquals("secret", settings.mysqlPassword());
    }

    @Test
    void redisUriWithoutSchemeIsRefusedNamingVariableAndValue() {
        EndpointSettings settings = new EndpointSettings(Map.of("EKKO_TEST_REDIS_URI", "localhost:6379"),
                new Properties());

        IllegalStateException e = assertThrows(IllegalStateException.class, settings::redisUri);

        assertEquals("must be a redis:// or rediss:// URI with a host and a port:"
                + " EKKO_TEST_REDIS_URI=localhost:6379 (expected redis://HOST:PORT)", e.getMessage());
    }

    @Test
    void redisUriWithoutPortIsRefused() {
        EndpointSettings settings = new EndpointSettings(Map.of("EKKO_TEST_REDIS_URI", "redis://127.0.0.1"),
                new Properties());

        IllegalStateException e = assertThrows(IllegalStateException.class, settings::redisUri);

        assertTrue(e.getMessage().startsWith("must be a redis:// or rediss:// URI with a host and a port:"
                + " EKKO_TEST_REDIS_URI=redis://127.0.0.1 "), e.getMessage());
    }

    @Test
    void invalidValueFromSystemPropertyNamesTheProperty() {
        Properties properties = new Properties();
        properties.setProperty("ekko.test.mysql.url", "jdbc:postgresql://127.0.0.1:5432/x");
        EndpointSettings settings = new EndpointSettings(Map.of(), properties);

        IllegalStateException e = assertThrows(IllegalStateException.class, settings::mysqlUrl);

        assertEquals("must be a jdbc:mysql:// or jdbc:mariadb:// URL with a host:"
                + " system property ekko.test.mysql.url=jdbc:postgresql://127.0.0.1:5432/x"
                + " (expected jdbc:mysql://HOST:PORT/DATABASE?sslMode=DISABLED)", e.getMessage());
    }

    @Test
    void etcdEndpointsAreSplitOnCommasAndTrimmed() {
        EndpointSettings settings = new EndpointSettings(Map.of("EKKO_TEST_ETCD_ENDPOINTS",
                "http://127.0.0.1:1, http://127.0.0.1:2"), new Properties());

        assertEquals(List.of("http://127.0.0.1:1", "http://127.0.0.1:2"), settings.etcdEndpoints());
    }

    @Test
    void etcdEndpointWithoutSchemeIsRefusedNamingTheWholeValue() {
        EndpointSettings settings = new EndpointSettings(Map.of("EKKO_TEST_ETCD_ENDPOINTS",
                "http://127.0.0.1:1,127.0.0.1:2"), new Properties());

        IllegalStateException e = assertThrows(IllegalStateException.class, settings::etcdEndpoints);

        assertEquals("must be a comma-separated list of http:// or https:// URLs with a host and a port:"
                + " EKKO_TEST_ETCD_ENDPOINTS=http://127.0.0.1:1,127.0.0.1:2"
                + " (expected http://HOST:PORT[,http://HOST:PORT...])", e.getMessage());
    }
}
