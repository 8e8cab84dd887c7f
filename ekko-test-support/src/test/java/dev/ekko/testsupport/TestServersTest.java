package dev.ekko.testsupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The static entry points, wired to this JVM's system properties; the rules are in EndpointSettingsTest. */
class TestServersTest {

    @Test
    void readsEachSettingFromItsSystemPropertyAtCallTime() {
        List<String> keys = List.of("ekko.test.redis.uri", "ekko.test.mysql.url", "ekko.test.mysql.user",
                "ekko.test.mysql.password", "ekko.test.etcd.endpoints");
        List<String> saved = keys.stream().map(System::getProperty).toList();
        try {
            System.setProperty("ekko.test.redis.uri", "redis://127.0.0.1:11");
            System.setProperty("ekko.test.mysql.url", "jdbc:mysql://127.0.0.1:12/ekko_test");
            System.setProperty("ekko.test.mysql.user", "someone");
            System.setProperty("ekko.test.mysql.password", "pw");
            System.setProperty("ekko.test.etcd.endpoints", "http://127.0.0.1:13");

            assertEquals("redis://127.0.0.1:11", TestServers.redisUri());
            assertEquals("jdbc:mysql://127.0.0.1:12/ekko_test", TestServers.mysqlUrl());
            assertEquals("someone", TestServers.mysqlUser());
            assertEquals("pw", TestServers.mysqlPassword());
            assertEquals(List.of("http://127.0.0.1:13"), TestServers.etcdEndpoints());
        } finally {
            for (int i = 0; i < keys.size(); i++) {
                if (saved.get(i) == null) {
                    System.clearProperty(keys.get(i));
                } else {
                    System.setProperty(keys.get(i), saved.get(i));
                }
            }
        }
    }

    @Test
    void redisKeyPrefixNamesTheClassAndDiffersOnEveryCall() {
        String first = TestServers.redisKeyPrefix(TestServersTest.class);
        String second = TestServers.redisKeyPrefix(TestServersTest.class);

        assertTrue(first.matches("ekko-test:TestServersTest:[0-9a-f]{8}:"), first);
        assertTrue(second.matches("ekko-test:TestServersTest:[0-9a-f]{8}:"), second);
        assertNotEquals(first, second);
    }

    @Test
    void etcdKeyPrefixNamesTheClassAndDiffersOnEveryCall() {
        String first = TestServers.etcdKeyPrefix(TestServersTest.class);
        String second = TestServers.etcdKeyPrefix(TestServersTest.class);

        assertTrue(first.matches("/ekko-test/TestServersTest/[0-9a-f]{8}/"), first);
        assertNotEquals(first, second);
    }
}
