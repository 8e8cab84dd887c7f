package dev.ekko.testsupport;

/**
 * One endpoint setting of the shared test servers: the environment variable {@code ./run-tests}
 * exports, the system property that overrides it, and the form its value takes.
 */
enum Setting {
    REDIS_URI("Redis", "EKKO_TEST_REDIS_URI", "redis://HOST:PORT"),
    MYSQL_URL("MariaDB", "EKKO_TEST_MYSQL_URL", "jdbc:mysql://HOST:PORT/DATABASE?sslMode=DISABLED"),
    MYSQL_USER("MariaDB", "EKKO_TEST_MYSQL_USER", "USER (allowed to create and drop databases named ekko_*)"),
    MYSQL_PASSWORD("MariaDB", "EKKO_TEST_MYSQL_PASSWORD", "PASSWORD (may be empty, but must be set)"),
    ETCD_ENDPOINTS("etcd", "EKKO_TEST_ETCD_ENDPOINTS", "http://HOST:PORT[,http://HOST:PORT...]");

    private final String server;
    private final String environmentVariable;
    private final String example;

    Setting(String server, String environmentVariable, String example) {
        this.server = server;
        this.environmentVariable = environmentVariable;
        this.example = example;
    }

    /** The server this setting locates, as people call it: {@code Redis}, {@code MariaDB}, {@code etcd}. */
    String server() {
        return server;
    }

    /** The environment variable, e.g. {@code EKKO_TEST_REDIS_URI}. */
    String environmentVariable() {
        return environmentVariable;
    }

    /** The system property that overrides the variable, e.g. {@code ekko.test.redis.uri}. */
    String systemProperty() {
        return environmentVariable.toLowerCase(java.util.Locale.ROOT).replace('_', '.');
    }

    /** The shape of an allowed value, for error messages. */
    String example() {
        return example;
    }

    /** Whether an empty value is a deliberate setting (a password) rather than a missing one. */
    boolean allowsEmpty() {
        return this == MYSQL_PASSWORD;
    }
}
