package dev.ekko.testsupport;

import java.util.List;

/**
 * Where the shared test servers are, and clean state on them for one test class.
 *
 * <p>Each endpoint is read, on every call, from a system property if set, else from the
 * environment variable that {@code ./run-tests} exports:
 * <table>
 * <caption>Settings</caption>
 * <tr><th>method</th><th>environment variable</th><th>system property</th></tr>
 * <tr><td>{@link #redisUri()}</td><td>{@code EKKO_TEST_REDIS_URI}</td><td>{@code ekko.test.redis.uri}</td></tr>
 * <tr><td>{@link #mysqlUrl()}</td><td>{@code EKKO_TEST_MYSQL_URL}</td><td>{@code ekko.test.mysql.url}</td></tr>
 * <tr><td>{@link #mysqlUser()}</td><td>{@code EKKO_TEST_MYSQL_USER}</td><td>{@code ekko.test.mysql.user}</td></tr>
 * <tr><td>{@link #mysqlPassword()}</td><td>{@code EKKO_TEST_MYSQL_PASSWORD}</td><td>{@code ekko.test.mysql.password}</td></tr>
 * <tr><td>{@link #etcdEndpoints()}</td><td>{@code EKKO_TEST_ETCD_ENDPOINTS}</td><td>{@code ekko.test.etcd.endpoints}</td></tr>
 * </table>
 *
 * <p>There are no defaults: a missing setting throws {@link IllegalStateException} saying which
 * server, which variable, and how to provide it, so a test fails rather than skips or talks to
 * whatever happens to listen on a well-known port.
 *
 * <p>The shared servers are shared by every test class of the run (and, on your own servers,
 * perhaps by other runs): a test class keeps to its own {@link #redisKeyPrefix(Class) Redis key
 * prefix}, {@link #etcdKeyPrefix(Class) etcd key prefix} and {@link #createMysqlDatabase(Class)
 * database}, and never flushes a whole server. A test that must stop a server uses a
 * {@link DisposableServer} instead.
 */
public final class TestServers {
    private TestServers() {
    }

    /**
     * The shared Redis server, e.g. {@code redis://127.0.0.1:41234}.
     *
     * @throws IllegalStateException if {@code EKKO_TEST_REDIS_URI} is not set, or is not a
     *         {@code redis://HOST:PORT} URI
     */
    public static String redisUri() {
        return EndpointSettings.current().redisUri();
    }

    /**
     * The JDBC URL of the shared MariaDB server's {@code ekko_test} database, e.g.
     * {@code jdbc:mysql://127.0.0.1:41235/ekko_test?sslMode=DISABLED}. Prefer
     * {@link #createMysqlDatabase(Class)} for a database of the test class's own.
     *
     * @throws IllegalStateException if {@code EKKO_TEST_MYSQL_URL} is not set, or is not a
     *         {@code jdbc:mysql://} or {@code jdbc:mariadb://} URL
     */
    public static String mysqlUrl() {
        return EndpointSettings.current().mysqlUrl();
    }

    /**
     * The MariaDB user, allowed to create and drop databases named {@code ekko_*}.
     *
     * @throws IllegalStateException if {@code EKKO_TEST_MYSQL_USER} is not set or blank
     */
    public static String mysqlUser() {
        return EndpointSettings.current().mysqlUser();
    }

    /**
     * The MariaDB user's password.
     *
     * @throws IllegalStateException if {@code EKKO_TEST_MYSQL_PASSWORD} is not set (it may be empty)
     */
    public static String mysqlPassword() {
        return EndpointSettings.current().mysqlPassword();
    }

    /**
     * The shared etcd server's client URLs, e.g. {@code [http://127.0.0.1:41236]}.
     *
     * @throws IllegalStateException if {@code EKKO_TEST_ETCD_ENDPOINTS} is not set, or is not a
     *         comma-separated list of {@code http://HOST:PORT} URLs
     */
    public static List<String> etcdEndpoints() {
        return EndpointSettings.current().etcdEndpoints();
    }

    /**
     * A Redis key prefix no other test class or run uses, {@code ekko-test:<ClassName>:<random>:}.
     * Call it once per test class and keep the result: each call gives a new prefix.
     *
     * @param testClass the test class, whose name makes leftovers easy to trace
     * @return the prefix, ending in {@code :}
     */
    public static String redisKeyPrefix(Class<?> testClass) {
        return TestNames.redisKeyPrefix(testClass, TestNames.randomToken());
    }

    /**
     * An etcd key prefix no other test class or run uses, {@code /ekko-test/<ClassName>/<random>/}.
     * Call it once per test class and keep the result: each call gives a new prefix.
     *
     * @param testClass the test class, whose name makes leftovers easy to trace
     * @return the prefix, ending in {@code /}
     */
    public static String etcdKeyPrefix(Class<?> testClass) {
        return TestNames.etcdKeyPrefix(testClass, TestNames.randomToken());
    }

    /**
     * Creates a new, empty database {@code ekko_<classname>_<random>} on the shared MariaDB
     * server, for one test class; {@link TestDatabase#close()} drops it.
     *
     * @param testClass the test class, whose name makes leftovers easy to trace
     * @return the database, with a JDBC URL, user and password to reach it
     * @throws IllegalStateException if a setting is missing, no JDBC driver is on the class
     *         path, or the server refuses
     */
    public static TestDatabase createMysqlDatabase(Class<?> testClass) {
        EndpointSettings settings = EndpointSettings.current();
        return TestDatabase.create(settings.mysqlUrl(), settings.mysqlUser(), settings.mysqlPassword(),
                TestNames.databaseName(testClass, TestNames.randomToken()));
    }
}
