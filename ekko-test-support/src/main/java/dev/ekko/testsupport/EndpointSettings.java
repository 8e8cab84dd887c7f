package dev.ekko.testsupport;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Reads the shared test servers' endpoints from environment variables, overridden by system
 * properties of the same name in dotted lower case, and checks their form. Separate from
 * {@link TestServers} so tests can feed it an environment of their own.
 */
final class EndpointSettings {
    private final Map<String, String> environment;
    private final Properties systemProperties;

    EndpointSettings(Map<String, String> environment, Properties systemProperties) {
        this.environment = Map.copyOf(environment);
        this.systemProperties = (Properties) systemProperties.clone();
    }

    /** The settings of this JVM, read now: tests may set a system property before asking. */
    static EndpointSettings current() {
        return new EndpointSettings(System.getenv(), System.getProperties());
    }

    String redisUri() {
        String value = required(Setting.REDIS_URI);
        URI uri = parseUri(value);
        boolean redisScheme = uri != null && ("redis".equals(uri.getScheme()) || "rediss".equals(uri.getScheme()));
        if (!redisScheme || uri.getHost() == null || uri.getPort() < 1) {
            throw invalid(Setting.REDIS_URI, "must be a redis:// or rediss:// URI with a host and a port", value);
        }
        return value;
    }

    String mysqlUrl() {
        String value = required(Setting.MYSQL_URL);
        if (!MysqlUrls.isMysqlUrl(value)) {
            throw invalid(Setting.MYSQL_URL, "must be a jdbc:mysql:// or jdbc:mariadb:// URL with a host", value);
        }
        return value;
    }

    String mysqlUser() {
        return required(Setting.MYSQL_USER);
    }

    String mysqlPassword() {
        return required(Setting.MYSQL_PASSWORD);
    }

    List<String> etcdEndpoints() {
        String value = required(Setting.ETCD_ENDPOINTS);
        List<String> endpoints = new ArrayList<>();
        for (String part : value.split(",", -1)) {
            String endpoint = part.strip();
            URI uri = parseUri(endpoint);
            boolean httpScheme = uri != null && ("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()));
            if (!httpScheme || uri.getHost() == null || uri.getPort() < 1) {
                throw invalid(Setting.ETCD_ENDPOINTS,
                        "must be a comma-separated list of http:// or https:// URLs with a host and a port", value);
            }
            endpoints.add(endpoint);
        }
        return List.copyOf(endpoints);
    }

    /** The value of the setting, from the system property if set, else from the environment. */
    String required(Setting setting) {
        String fromProperty = systemProperties.getProperty(setting.systemProperty());
        String value = fromProperty != null ? fromProperty : environment.get(setting.environmentVariable());
        if (value == null || (value.isBlank() && !setting.allowsEmpty())) {
            throw new IllegalStateException(missingMessage(setting, value != null));
        }
        return value;
    }

    private static String missingMessage(Setting setting, boolean blank) {
        return "No " + setting.server() + " test server configured: "
                + (blank ? "the value is blank in " : "neither ")
                + "the environment variable " + setting.environmentVariable()
                + (blank ? " or " : " nor ")
                + "the system property " + setting.systemProperty()
                + (blank ? "" : " is set")
                + ". Run the build with ./run-tests from the repository root, which starts throwaway"
                + " MariaDB, Redis and etcd servers and sets every EKKO_TEST_* variable; or point the"
                + " tests at your own server with " + setting.environmentVariable() + "=" + setting.example()
                + " (or -D" + setting.systemProperty() + "=...). See docs/testing.md.";
    }

    private IllegalStateException invalid(Setting setting, String constraint, String value) {
        return new IllegalStateException(constraint + ": " + source(setting) + "=" + value
                + " (expected " + setting.example() + ")");
    }

    /** Names where the value in force came from, so a message points at the right place to fix. */
    private String source(Setting setting) {
        return systemProperties.getProperty(setting.systemProperty()) != null
                ? "system property " + setting.systemProperty()
                : setting.environmentVariable();
    }

    private static URI parseUri(String value) {
        try {
            return new URI(value);
        } catch (URISyntaxException e) {
            return null;
        }
    }
}
