package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import dev.ekko.LeaseLostException;
import dev.ekko.testsupport.TestServers;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real generators on the etcd allocator, against the test command's etcd, with short timings. */
class EtcdGeneratorIT {

    private static final String PREFIX = TestServers.etcdKeyPrefix(EtcdGeneratorIT.class);

    @TempDir
    Path stateDir;

    @AfterAll
    static void deleteKeys() {
        SharedEtcd.deleteKeys(PREFIX);
    }

    private static IdGenerator start(String namespace, Path stateDir, String instance) {
        return FastGenerators.start(SharedEtcd.endpoints(), namespace, stateDir, instance);
    }

    /**
     * The worker-ID key deleted by hand under a running generator: the watch stops it at once (long before its next
     * renewal could notice, let alone its fence deadline); it acquires again and carries on; no ID repeats.
     */
    @Test
    void aLeaseKeyDeletedByHandStopsTheGeneratorAtOnce() throws Exception {
        String namespace = PREFIX + "deleted";
        Set<Long> ids = new HashSet<>();
        try (IdGenerator g = start(namespace, stateDir, "a");
                Client c = Client.builder().endpoints(TestServers.etcdEndpoints().toArray(new String[0])).waitForReady(false).build()) {
            for (int i = 0; i < 1000; i++) {
                assertTrue(ids.add(g.next()));
            }
            int worker = g.layout().decode(g.next()).worker();
            long t0 = System.nanoTime();
            c.getKVClient().delete(ByteSequence.from(namespace + "/idc1/lease/" + worker, StandardCharsets.UTF_8)).get(5, TimeUnit.SECONDS);
            long stoppedAfterMs = -1;
            while (System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(2)) {
                try {
                    assertTrue(ids.add(g.next()));
                } catch (LeaseLostException e) {
                    stoppedAfterMs = (System.nanoTime() - t0) / 1_000_000;
                    assertTrue(e.getMessage().contains("a watch saw its key deleted"), e.getMessage());
                    break;
                }
            }
            assertTrue(stoppedAfterMs >= 0 && stoppedAfterMs < 250, "stopped issuing " + stoppedAfterMs + " ms after its key was"
                    + " deleted (renewals every 300 ms; -1: not within 2 s)");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            int after = 0;
            while (after < 1000 && System.nanoTime() < deadline) {
                try {
                    assertTrue(ids.add(g.next()), "an ID repeated after the re-acquire");
                    after++;
                } catch (LeaseLostException e) {
                    Thread.sleep(20);
                }
            }
            assertEquals(1000, after, "issuing again after a re-acquire");
        }
    }

    /** A second process with the same instance name on another host gets another worker ID while the first holds its own. */
    @Test
    void twoGeneratorsNeverShareAWorkerId(@TempDir Path other) {
        String namespace = PREFIX + "two";
        try (IdGenerator a = start(namespace, stateDir, "same"); IdGenerator b = start(namespace, other, "same")) {
            int wa = a.layout().decode(a.next()).worker();
            int wb = b.layout().decode(b.next()).worker();
            assertTrue(wa != wb, "both hold worker " + wa);
            assertThrows(IllegalArgumentException.class, () -> Ekko.newBuilder().allocator("etcd").setting("ekko.etcd.endpoints",
                    "http://127.0.0.1:2379").setting("ekko.etcd.password", "x").build());
        }
    }
}
