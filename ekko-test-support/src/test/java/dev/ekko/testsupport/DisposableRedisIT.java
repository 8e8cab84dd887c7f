package dev.ekko.testsupport;

import static dev.ekko.testsupport.ServerAssertions.assertCleanedUp;
import static dev.ekko.testsupport.ServerAssertions.assertRefusesConnections;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.Jedis;

class DisposableRedisIT {

    @Test
    void stopThenStartKeepsTheDataOnTheSamePort() {
        try (DisposableRedis redis = DisposableRedis.launch()) {
            int port = redis.port();
            long firstPid = redis.pid();
            set(redis, "worker", "7");

            redis.stop();

            assertFalse(redis.isRunning());
            assertRefusesConnections(port);

            redis.start();

            assertEquals(port, redis.port());
            assertNotEquals(firstPid, redis.pid());
            assertEquals("7", get(redis, "worker"));
        }
    }

    @Test
    void writesAcknowledgedBeforeAKillSurviveIt() {
        try (DisposableRedis redis = DisposableRedis.launch()) {
            for (int i = 0; i < 100; i++) {
                set(redis, "key-" + i, "value-" + i);
            }

            redis.kill();
            assertRefusesConnections(redis.port());
            redis.start();

            for (int i = 0; i < 100; i++) {
                assertEquals("value-" + i, get(redis, "key-" + i));
            }
        }
    }

    @Test
    void restartEmptyComesBackOnTheSamePortWithNoData() {
        try (DisposableRedis redis = DisposableRedis.launch()) {
            int port = redis.port();
            set(redis, "worker", "7");

            redis.restartEmpty();

            assertEquals(port, redis.port());
            assertTrue(redis.isRunning());
            assertNull(get(redis, "worker"));
            set(redis, "worker", "8");
            assertEquals("8", get(redis, "worker"));
        }
    }

    @Test
    void restartEmptyAlsoWorksOnAStoppedServer() {
        try (DisposableRedis redis = DisposableRedis.launch()) {
            set(redis, "worker", "7");
            redis.stop();

            redis.restartEmpty();

            assertNull(get(redis, "worker"));
        }
    }

    @Test
    void closeKillsTheProcessAndDeletesItsDirectory() throws Exception {
        DisposableRedis redis = DisposableRedis.launch();
        long pid = redis.pid();
        Path directory = redis.directory();
        set(redis, "worker", "7");

        redis.close();
        redis.close();

        assertCleanedUp(pid, directory);
        assertRefusesConnections(redis.port());
    }

    @Test
    void startWhileRunningAndStopWhileStoppedAreRefusedWithTheServersState() {
        try (DisposableRedis redis = DisposableRedis.launch()) {
            IllegalStateException running = assertThrows(IllegalStateException.class, redis::start);
            assertTrue(running.getMessage().startsWith("must be stopped to start(): DisposableRedis[127.0.0.1:"
                    + redis.port() + ", running, pid " + redis.pid() + ", "), running.getMessage());

            redis.stop();

            IllegalStateException stopped = assertThrows(IllegalStateException.class, redis::stop);
            assertTrue(stopped.getMessage().startsWith("must be running to stop(): DisposableRedis[127.0.0.1:"
                    + redis.port() + ", exited with status "), stopped.getMessage());
        }
    }

    @Test
    void closedServerRefusesToStart() {
        DisposableRedis redis = DisposableRedis.launch();
        redis.close();

        IllegalStateException closed = assertThrows(IllegalStateException.class, redis::start);

        assertTrue(closed.getMessage().startsWith("must not be closed to start(): DisposableRedis[127.0.0.1:"
                + redis.port() + ", closed, "), closed.getMessage());
    }

    private static void set(DisposableRedis redis, String key, String value) {
        try (Jedis jedis = new Jedis(URI.create(redis.uri()))) {
            assertEquals("OK", jedis.set(key, value));
        }
    }

    private static String get(DisposableRedis redis, String key) {
        try (Jedis jedis = new Jedis(URI.create(redis.uri()))) {
            return jedis.get(key);
        }
    }
}
