package dev.ekko.worker.etcd;

import dev.ekko.testsupport.TestServers;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.options.DeleteOption;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/** The shared etcd started by {@code ./run-tests}: its endpoints, and cleanup of a test class's keys. */
final class SharedEtcd {

    private SharedEtcd() {
    }

    /** {@return the endpoints, comma-separated, as ekko.etcd.endpoints takes them} */
    static String endpoints() {
        return String.join(",", TestServers.etcdEndpoints());
    }

    /** Deletes every key under {@code prefix}. */
    static void deleteKeys(String prefix) {
        try (Client c = Client.builder().endpoints(TestServers.etcdEndpoints().toArray(new String[0])).waitForReady(false).build()) {
            c.getKVClient().delete(ByteSequence.from(prefix, StandardCharsets.UTF_8), DeleteOption.builder().isPrefix(true).build())
                    .get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("cannot delete the keys under " + prefix + " at " + endpoints() + ": " + e, e);
        }
    }
}
