package dev.ekko.testsupport;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.lease.LeaseTimeToLiveResponse;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.LeaseOption;
import io.etcd.jetcd.options.PutOption;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Real round trips to the shared etcd server through jetcd, under this class's key prefix. */
class SharedEtcdIT {
    private static final long TIMEOUT_SECONDS = 20;

    private static String prefix;
    private static Client client;

    @BeforeAll
    static void connect() {
        prefix = TestServers.etcdKeyPrefix(SharedEtcdIT.class);
        client = Client.builder().endpoints(TestServers.etcdEndpoints().toArray(String[]::new)).build();
    }

    @AfterAll
    static void removeThisClassesKeysAndDisconnect() throws Exception {
        if (client != null) {
            try {
                client.getKVClient().delete(bytes(prefix), DeleteOption.builder().isPrefix(true).build())
                        .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            } finally {
                client.close();
            }
        }
    }

    @Test
    void putThenGetReturnsTheValue() throws Exception {
        KV kv = client.getKVClient();
        ByteSequence key = bytes(prefix + "greeting");

        kv.put(key, bytes("hello")).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);

        GetResponse response = kv.get(key).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        assertEquals(1, response.getKvs().size());
        assertEquals("hello", response.getKvs().get(0).getValue().toString(UTF_8));
    }

    @Test
    void keyPutWithALeaseIsAttachedToItAndGoesWhenTheLeaseIsRevoked() throws Exception {
        ByteSequence key = bytes(prefix + "leased");
        long leaseId = client.getLeaseClient().grant(30).get(TIMEOUT_SECONDS, TimeUnit.SECONDS).getID();
        client.getKVClient().put(key, bytes("worker-7"), PutOption.builder().withLeaseId(leaseId).build())
                .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);

        LeaseTimeToLiveResponse lease = client.getLeaseClient()
                .timeToLive(leaseId, LeaseOption.builder().withAttachedKeys().build())
                .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        assertEquals(30, lease.getGrantedTTL());
        assertTrue(lease.getTTL() > 0 && lease.getTTL() <= 30, () -> "ttl=" + lease.getTTL());
        assertEquals(List.of(key), lease.getKeys());
        KeyValue stored = client.getKVClient().get(key).get(TIMEOUT_SECONDS, TimeUnit.SECONDS).getKvs().get(0);
        assertEquals(leaseId, stored.getLease());

        client.getLeaseClient().revoke(leaseId).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);

        assertEquals(0, countKeys(key));
    }

    private static long countKeys(ByteSequence key) throws InterruptedException, ExecutionException, TimeoutException {
        return client.getKVClient().get(key).get(TIMEOUT_SECONDS, TimeUnit.SECONDS).getCount();
    }

    private static ByteSequence bytes(String text) {
        return ByteSequence.from(text, UTF_8);
    }
}
