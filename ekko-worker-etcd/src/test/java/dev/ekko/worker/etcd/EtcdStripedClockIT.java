package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.IdGenerator;
import dev.ekko.testkit.TestClock;
import dev.ekko.testsupport.TestServers;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The clock check of a striped process on etcd: each stripe compares its clock with the median of the other holders' readings
 * in the clock ring, and its own sibling stripes (one process, one clock) are not other holders. Fast timings
 * (FastGenerators): max skew 400 ms, report interval 300 ms, TTL 2 s, with a 2 s etcd timeout: this class may be the first of
 * its JVM to reach etcd, and a cold JVM's first request can take longer than FastGenerators' 500 ms (docs/etcd.md).
 */
class EtcdStripedClockIT {

    private static final String PREFIX = TestServers.etcdKeyPrefix(EtcdStripedClockIT.class);

    @TempDir
    Path dir;

    @AfterAll
    static void deleteKeys() {
        SharedEtcd.deleteKeys(PREFIX);
    }

    /**
     * One holder on the real clock, then a process 1.2 s ahead holding 3 stripes: were the siblings' readings counted, each
     * stripe's median would be its own process's clock (two siblings against one other holder) and the skew would pass.
     */
    @Test
    void aStripedProcessAheadOfTheOtherHoldersIsStoppedAlthoughItsStripesOutnumberThem() throws Exception {
        String namespace = PREFIX + "striped-ahead";
        try (IdGenerator other = FastGenerators.builder(SharedEtcd.endpoints(), namespace, dir.resolve("a"), "a")
                .setting("ekko.etcd.timeout", "2s").build()) {
            other.next();
            Thread.sleep(700); // renewed at least twice: its reading is fresh
            TestClock ahead = new TestClock();
            ahead.stepMillis(1200);
            try (IdGenerator c = FastGenerators.builder(SharedEtcd.endpoints(), namespace, dir.resolve("c"), "c").stripes(3)
                    .setting("ekko.etcd.timeout", "2s").clock(ahead).build()) {
                assertTrue(EtcdClockIT.skewRefusalWithin(c, 6) != null, "a process 1.2 s ahead of the other holder (worker " + other.workerId() + "), with 3"
                        + " stripes, still issued after 6 s: " + c.stripeStatuses());
            }

        }
    }
}
