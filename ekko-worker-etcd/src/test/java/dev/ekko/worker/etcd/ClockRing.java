package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.fail;

import dev.ekko.testsupport.TestServers;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.options.GetOption;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/** The clock ring of {@link FastGenerators#IDC}, read straight from the test etcd, for tests that need to see who wrote it. */
final class ClockRing {

    private ClockRing() {
    }

    /** {@return how many readings of the clock ring each generator (its {@code generator=} name) wrote} */
    static Map<String, Integer> writers(String namespace) throws Exception {
        Map<String, Integer> writers = new TreeMap<>();
        try (Client c = Client.builder().endpoints(TestServers.etcdEndpoints().toArray(new String[0])).build()) {
            ByteSequence ring = ByteSequence.from(namespace + "/idc" + FastGenerators.IDC + "/clock/", StandardCharsets.UTF_8);
            for (KeyValue kv : c.getKVClient().get(ring, GetOption.builder().isPrefix(true).build()).get(10, TimeUnit.SECONDS).getKvs()) {
                for (String line : kv.getValue().toString(StandardCharsets.UTF_8).split("\n")) {
                    if (line.startsWith("generator=")) {
                        writers.merge(line.substring("generator=".length()), 1, Integer::sum);
                    }
                }
            }
        }
        return writers;
    }

    /** Waits (up to 15 s) until the ring holds readings of at least {@code generators} distinct generators. */
    static void awaitGenerators(String namespace, int generators) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        Map<String, Integer> seen = Map.of();
        while (System.nanoTime() < deadline) {
            seen = writers(namespace);
            if (seen.size() >= generators) {
                return;
            }
            Thread.sleep(100);
        }
        fail("the clock ring never held readings of " + generators + " generators: " + seen);
    }
}
