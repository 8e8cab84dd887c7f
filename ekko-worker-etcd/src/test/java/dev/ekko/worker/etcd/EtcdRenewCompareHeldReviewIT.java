package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.EkkoException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.DisposableEtcd;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Review of d25b995: attacks on the compare-first renewal that held (regression tests; they pass on d25b995).
 */
class EtcdRenewCompareHeldReviewIT {

    private static final int WORKERS = 64;
    private static final int W = 3;

    private DisposableEtcd etcd;
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeEach
    void launch() {
        etcd = DisposableEtcd.launch();
    }

    @AfterEach
    void close() {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            try {
                toClose.get(i).close();
            } catch (Exception e) {
                // best effort
            }
        }
        etcd.close();
    }

    private WorkerAllocator allocator(String instance, Duration ttl) {
        WorkerAllocator a = new EtcdAllocatorProvider().create(AllocatorContext.builder().idc(1).workerIds(WORKERS).instance(instance)
                .leaseTtl(ttl).settings(Map.of("ekko.etcd.endpoints", etcd.endpoint(), "ekko.etcd.namespace", "held",
                        "ekko.etcd.timeout", "2s")).build());
        toClose.add(a);
        return a;
    }

    private static Set<Integer> allBut(int w) {
        Set<Integer> avoid = new HashSet<>();
        for (int i = 0; i < WORKERS; i++) {
            if (i != w) {
                avoid.add(i);
            }
        }
        return avoid;
    }

    private static ClockReport report(long now, long reservedUntil) {
        return new ClockReport(now, reservedUntil, "h", 1, "x");
    }

    private static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    private KeyValue history(Client c) throws Exception {
        return c.getKVClient().get(bytes("held/idc1/history/" + W)).get(10, TimeUnit.SECONDS).getKvs().get(0);
    }

    /**
     * A renewal whose transaction was applied but whose reply was lost (a timeout) leaves the holder's Written stale: the key
     * holds a higher mark at a later mod revision. Simulated by writing that history from outside. The next renewal's compare
     * fails, it reads, and keeps the higher mark (never writes one lower than already written).
     */
    @Test
    void aStaleWrittenAfterAnAppliedButUnrecordedRenewalKeepsTheHigherMark() throws Exception {
        long now = System.currentTimeMillis();
        try (Client c = Client.builder().endpoints(etcd.endpoint()).build()) {
            WorkerAllocator x = allocator("x", Duration.ofSeconds(30));
            WorkerLease a = x.acquire(allBut(W));
            a = x.renew(a, report(now, now + 10_000));
            a = x.renew(a, report(now, now + 10_000));
            EtcdHistory mine = EtcdHistory.decode(history(c).getValue().getBytes());
            EtcdHistory lost = new EtcdHistory(now + 50_000, mine.cluster(), mine.generation(), report(now, now + 50_000), now, null);
            c.getKVClient().put(bytes("held/idc1/history/" + W), ByteSequence.from(lost.encode())).get(10, TimeUnit.SECONDS);
            a = x.renew(a, report(now, now + 20_000));
            assertEquals(now + 50_000, EtcdHistory.decode(history(c).getValue().getBytes()).mark(), "the mark after the renewal");
            a = x.renew(a, report(now, now + 30_000)); // compare-first again, from the Written of the last renewal
            assertEquals(now + 50_000, EtcdHistory.decode(history(c).getValue().getBytes()).mark(), "the mark after the next one");
        }
    }

    /**
     * A snapshot restored with a new cluster token right after the holder's last renewal: the history key's mod revision is
     * what the holder wrote, so the compare holds and the renewal writes the mark labelled with the OLD cluster ID (the
     * read-first renewal labelled it with the new one). Only more conservative: a holder after it (the first crashed:
     * its etcd lease revoked) is handed a lower bound, never a trusted mark below the first's last report.
     */
    @Test
    void aRenewalAfterANewTokenRestoreNeverLeavesATrustedMarkBelowItsReport() throws Exception {
        long now = System.currentTimeMillis();
        try (Client c = Client.builder().endpoints(etcd.endpoint()).build()) {
            WorkerAllocator x = allocator("x", Duration.ofSeconds(30));
            WorkerLease a = x.acquire(allBut(W));
            a = x.renew(a, report(now, now + 10_000));
            a = x.renew(a, report(now, now + 10_000));
            String before = EtcdHistory.decode(history(c).getValue().getBytes()).cluster();
            Path snapshot = etcd.saveSnapshot("right-after.db");
            etcd.restartFromSnapshot(snapshot, "new-token-" + System.nanoTime());
            long deadline = System.nanoTime() + 20_000_000_000L;
            for (;;) {
                try {
                    a = x.renew(a, report(now, now + 40_000));
                    break;
                } catch (EkkoException e) {
                    if (System.nanoTime() > deadline || e instanceof dev.ekko.LeaseLostException) {
                        throw e;
                    }
                    Thread.sleep(200);
                }
            }
            KeyValue kv = history(c);
            EtcdHistory after = EtcdHistory.decode(kv.getValue().getBytes());
            System.out.println("review: cluster label before the restore " + before + ", after the renewal " + after.cluster()
                    + ", mark " + (after.mark() - now));
            long etcdLease = c.getKVClient().get(bytes("held/idc1/lease/" + W)).get(10, TimeUnit.SECONDS).getKvs().get(0).getLease();
            c.getLeaseClient().revoke(etcdLease).get(10, TimeUnit.SECONDS); // the holder crashed
            WorkerAllocator z = allocator("z", Duration.ofSeconds(30));
            WorkerLease zb = z.acquire(allBut(W));
            assertEquals(W, zb.workerId());
            Handover h = zb.handover();
            assertTrue(!(h.kind() == Handover.Kind.MARK && h.markMillis() < now + 40_000), "handed " + h);
        }
    }
}
