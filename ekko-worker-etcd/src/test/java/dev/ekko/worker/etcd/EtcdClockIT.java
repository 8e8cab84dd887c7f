package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.ClockSkewException;
import dev.ekko.IdGenerator;
import dev.ekko.testkit.TestClock;
import dev.ekko.testsupport.TestServers;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * etcd has no clock: a generator compares its clock with the median of the other live holders' recent reports. Fast
 * timings (FastGenerators): max skew 400 ms, report interval 300 ms, TTL 2 s. Each test runs two holders on the real
 * clock, then a third whose clock is off.
 */
class EtcdClockIT {

    private static final String PREFIX = TestServers.etcdKeyPrefix(EtcdClockIT.class);

    @TempDir
    Path dir;

    @AfterAll
    static void deleteKeys() {
        SharedEtcd.deleteKeys(PREFIX);
    }

    private IdGenerator start(String namespace, String name, TestClock clock) {
        return FastGenerators.builder(SharedEtcd.endpoints(), namespace, dir.resolve(name), name).clock(clock).build();
    }

    /** Two holders on the real clock that have renewed at least twice, so their reports are fresh. */
    private List<IdGenerator> peers(String namespace) throws InterruptedException {
        List<IdGenerator> peers = List.of(start(namespace, "a", new TestClock()), start(namespace, "b", new TestClock()));
        Thread.sleep(700);
        return peers;
    }

    /** {@return the first ClockSkewException of {@code g.next()} called in a loop for up to {@code seconds}, or null} */
    static ClockSkewException skewRefusalWithin(IdGenerator g, long seconds) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            try {
                g.next();
            } catch (ClockSkewException e) {
                return e;
            }
        }
        return null;
    }

    private static void closeAll(List<IdGenerator> gs) {
        gs.forEach(IdGenerator::close);
    }

    /**
     * 1.2 s ahead passes the start check (a lower bound only: the readings' age is unknown), but the renewals compare with
     * readings at most one interval old: the generator stops issuing with ClockSkewException within seconds.
     */
    @Test
    void aClockAheadOfTheOtherHoldersIsStoppedByItsRenewals() throws Exception {
        String namespace = PREFIX + "ahead";
        List<IdGenerator> peers = peers(namespace);
        TestClock ahead = new TestClock();
        ahead.stepMillis(1200);
        try (IdGenerator c = start(namespace, "c", ahead)) {
            assertTrue(skewRefusalWithin(c, 5) != null, "a clock 1.2 s ahead of the other holders still issued after 5 s");
            for (IdGenerator p : peers) {
                p.next(); // the holders on the real clock go on
            }
        } finally {
            closeAll(peers);
        }
    }

    /**
     * 5 s ahead: the start sees only a lower bound of the other holders' clocks (their readings' age is unknown), so it starts,
     * but issues no ID more than two report intervals past its clock at the start, and its renewals stop it within seconds.
     */
    @Test
    void aClockFarAheadIssuesNoFurtherThanTwoReportIntervalsBeforeItsRenewalsStopIt() throws Exception {
        String namespace = PREFIX + "far";
        List<IdGenerator> peers = peers(namespace);
        TestClock ahead = new TestClock();
        ahead.stepMillis(5000);
        long startClock = ahead.millis();
        try (IdGenerator c = start(namespace, "c", ahead)) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            long lastMillis = 0;
            ClockSkewException refused = null;
            while (refused == null && System.nanoTime() < deadline) {
                try {
                    lastMillis = c.layout().decode(c.next()).timestamp().toEpochMilli();
                } catch (ClockSkewException e) {
                    refused = e;
                }
            }
            assertTrue(refused != null, "a clock 5 s ahead of the other holders still issued after 5 s");
            long allowed = startClock + 2 * FastGenerators.REPORT.toMillis();
            assertTrue(lastMillis <= allowed, "issued at " + lastMillis + ", " + (lastMillis - allowed) + " ms past two report intervals"
                    + " after its start clock");
        } finally {
            closeAll(peers);
        }
    }

    /** Behind by more than the skew: refused at the start (the reports' age gives no slack that way). */
    @Test
    void aClockBehindTheOtherHoldersIsRefusedAtTheStart() throws Exception {
        String namespace = PREFIX + "behind";
        List<IdGenerator> peers = peers(namespace);
        TestClock behind = new TestClock();
        behind.stepMillis(-2000);
        try {
            assertThrows(ClockSkewException.class, () -> start(namespace, "c", behind).close());
        } finally {
            closeAll(peers);
        }
    }

    /** With no other live holder there is no reference: a clock 1.5 s ahead issues on (docs/etcd.md says so). */
    @Test
    void withNoOtherLiveHolderThereIsNoReference() throws Exception {
        String namespace = PREFIX + "alone";
        TestClock ahead = new TestClock();
        ahead.stepMillis(1500);
        try (IdGenerator c = start(namespace, "c", ahead)) {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            long n = 0;
            while (System.nanoTime() < end) {
                c.next();
                n++;
            }
            assertTrue(n > 0);
        }
    }
}
