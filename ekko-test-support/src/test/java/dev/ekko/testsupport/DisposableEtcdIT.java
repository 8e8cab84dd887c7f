package dev.ekko.testsupport;

import static dev.ekko.testsupport.ServerAssertions.assertCleanedUp;
import static dev.ekko.testsupport.ServerAssertions.assertRefusesConnections;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.lease.LeaseTimeToLiveResponse;
import io.etcd.jetcd.options.LeaseOption;
import io.etcd.jetcd.options.PutOption;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class DisposableEtcdIT {
    private static final long TIMEOUT_SECONDS = 20;

    @Test
    void stopThenStartKeepsKeysOnTheSamePort() throws Exception {
        try (DisposableEtcd etcd = DisposableEtcd.launch()) {
            int port = etcd.port();
            put(etcd, "/worker", "7", 0);

            etcd.stop();

            assertFalse(etcd.isRunning());
            assertRefusesConnections(port);

            etcd.start();

            assertEquals(port, etcd.port());
            assertEquals("7", get(etcd, "/worker"));
        }
    }

    @Test
    void keysAndLeasesAcknowledgedBeforeAKillSurviveIt() throws Exception {
        try (DisposableEtcd etcd = DisposableEtcd.launch()) {
            long leaseId;
            try (Client client = client(etcd)) {
                leaseId = client.getLeaseClient().grant(600).get(TIMEOUT_SECONDS, TimeUnit.SECONDS).getID();
            }
            put(etcd, "/worker", "7", leaseId);

            etcd.kill();
            assertRefusesConnections(etcd.port());
            etcd.start();

            assertEquals("7", get(etcd, "/worker"));
            try (Client client = client(etcd)) {
                LeaseTimeToLiveResponse lease = client.getLeaseClient()
                        .timeToLive(leaseId, LeaseOption.builder().build())
                        .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                assertEquals(600, lease.getGrantedTTL());
                assertTrue(lease.getTTL() > 0, () -> "lease must still be alive: ttl=" + lease.getTTL());
            }
        }
    }

    @Test
    void restartEmptyComesBackOnTheSamePortWithNoKeys() throws Exception {
        try (DisposableEtcd etcd = DisposableEtcd.launch()) {
            int port = etcd.port();
            put(etcd, "/worker", "7", 0);

            etcd.restartEmpty();

            assertEquals(port, etcd.port());
            assertNull(get(etcd, "/worker"));
            put(etcd, "/worker", "8", 0);
            assertEquals("8", get(etcd, "/worker"));
        }
    }

    @Test
    void closeKillsTheProcessAndDeletesItsDirectory() throws Exception {
        DisposableEtcd etcd = DisposableEtcd.launch();
        long pid = etcd.pid();
        Path directory = etcd.directory();
        assertEquals("http://127.0.0.1:" + etcd.port(), etcd.endpoint());

        etcd.close();

        assertCleanedUp(pid, directory);
        assertRefusesConnections(etcd.port());
    }

    private static Client client(DisposableEtcd etcd) {
        return Client.builder().endpoints(etcd.endpoint()).build();
    }

    private static void put(DisposableEtcd etcd, String key, String value, long leaseId) throws Exception {
        try (Client client = client(etcd)) {
            client.getKVClient().put(bytes(key), bytes(value), PutOption.builder().withLeaseId(leaseId).build())
                    .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        }
    }

    private static String get(DisposableEtcd etcd, String key) throws Exception {
        try (Client client = client(etcd)) {
            GetResponse response = client.getKVClient().get(bytes(key)).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            return response.getKvs().isEmpty() ? null : response.getKvs().get(0).getValue().toString(UTF_8);
        }
    }

    private static ByteSequence bytes(String text) {
        return ByteSequence.from(text, UTF_8);
    }
}
