package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ekko.EkkoException;
import dev.ekko.Layout;
import dev.ekko.LeaseLostException;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testkit.TestClock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of #8, invariant 3: "the limit is also at most C + TTL - margin + max skew + max lead ... at or below a
 * no-history successor's floor because margin >= skew is enforced". That holds only if the coordinator's clock never
 * goes back between the old holder's last renewal and the successor's acquire. A coordinator that lost its data is
 * typically a restarted or failed-over server, whose clock may be behind the old one. Here: skew = margin = 400 ms;
 * holder A runs 350 ms ahead of coordinator 1 (within skew) and loses contact with it (it stays fenced only by its
 * deadline); the worker ID comes back with no history from coordinator 2, whose clock is 400 ms (= the tolerated
 * skew) behind coordinator 1, to holder B 390 ms behind coordinator 2 (within skew). Every clock check passes, and B
 * issues A's IDs again.
 */
class CoordinatorClockReviewTest {

    private static final Layout LAYOUT = Layout.defaults();
    private static final Duration TTL = Duration.ofSeconds(2);
    private static final int WORKER = 20;

    @TempDir
    Path tmp;

    /** A scripted coordinator whose clock is the real clock plus an offset; renewals can be made to fail. */
    static final class Coordinator implements WorkerAllocator {
        final long clockOffsetMillis;
        final Handover handover;
        volatile RuntimeException renewFailure;
        final AtomicInteger renewals = new AtomicInteger();

        Coordinator(long clockOffsetMillis, Handover handover) {
            this.clockOffsetMillis = clockOffsetMillis;
            this.handover = handover;
        }

        long now() {
            return System.currentTimeMillis() + clockOffsetMillis;
        }

        @Override
        public WorkerLease acquire() {
            long sent = System.nanoTime();
            return new WorkerLease(WORKER, "token", TTL, sent, handover, now(), null);
        }

        @Override
        public WorkerLease renew(WorkerLease lease, ClockReport report) {
            long sent = System.nanoTime();
            RuntimeException f = renewFailure;
            if (f != null) {
                throw f;
            }
            WorkerLease renewed = lease.renewed(sent, now());
            renewals.incrementAndGet();
            return renewed;
        }

        @Override
        public void release(WorkerLease lease, ClockReport finalReport) {
        }

        @Override
        public void close() {
        }
    }

    private GeneratorSettings settings(TestClock clock, String dir, String host) {
        // skew = margin = 400 ms; 2 * 500 ms + 400 ms <= TTL 2 s; reservation 1 s >= 2 * 500 ms: build() accepts all of it
        return new GeneratorSettings(LAYOUT, 1, 0, clock, tmp.resolve(dir), "scripted", Duration.ofSeconds(1), Duration.ZERO,
                Duration.ofSeconds(1), Duration.ofMillis(500), Duration.ofMillis(400), Duration.ofMillis(400), "test", host, 1);
    }

    @Test
    void aNoHistorySuccessorDoesNotRepeatIdsWhenTheCoordinatorClockIsBehindTheOldOneByTheSkew() throws Exception {
        TestClock clockA = new TestClock();
        clockA.stepMillis(350); // 350 ms ahead of coordinator 1: within the 400 ms skew
        Coordinator first = new Coordinator(0, Handover.mark(0));
        EkkoGenerator a = EkkoGenerator.start(settings(clockA, "host-a-state", "host-a"), first);
        Set<Long> issuedByA = ConcurrentHashMap.newKeySet();
        Thread t = new Thread(() -> {
            try {
                for (;;) {
                    long id = a.next();
                    if ((id & 1023) == 0) {
                        issuedByA.add(id);
                    }
                }
            } catch (LeaseLostException fenced) {
                // A stops at its fence deadline, as it must
            }
        });
        t.start();
        int renewals = first.renewals.get();
        while (first.renewals.get() == renewals) {
            Thread.sleep(2);
        }
        // Coordinator 1 is gone for A right after a successful renewal; coordinator 2 (its clock 400 ms behind) has no history.
        first.renewFailure = new EkkoException("connection refused");
        TestClock clockB = new TestClock();
        clockB.stepMillis(-400 - 390); // 390 ms behind coordinator 2: within the 400 ms skew
        Coordinator second = new Coordinator(-400, Handover.unknown());
        EkkoGenerator b = EkkoGenerator.start(settings(clockB, "host-b-state", "host-b"), second); // waits TTL + skew
        try {
            long end = System.nanoTime() + Duration.ofMillis(600).toNanos();
            while (System.nanoTime() < end) {
                long id = b.next();
                if (issuedByA.contains(id)) {
                    t.join(10_000);
                    fail("ID " + Long.toUnsignedString(id) + " (" + LAYOUT.decode(id) + ") issued by A and by its no-history successor B");
                }
            }
        } finally {
            t.join(10_000);
            b.close();
            a.close();
        }
        assertTrue(!issuedByA.isEmpty());
    }
}
