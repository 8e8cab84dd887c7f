package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ekko.EkkoException;
import dev.ekko.LeaseLostException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.DisposableEtcd;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.kv.GetResponse;
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
 * Review of d25b995 (a renewal compares its history key's mod revision with what its own last renewal wrote, instead of
 * reading the key and the generation first). The claim under attack: the compare-first renewal detects everything the
 * read-first one detected.
 *
 * <p>The read-first renewal observed etcd's revision in a read (which does not move the revision) before it wrote; the
 * compare-first renewal only observes the reply of its own write, which is one revision higher than the cluster was. So a
 * restore that leaves etcd's revision exactly one below the highest this allocator saw is invisible to it: the write lands on
 * exactly the revision the allocator saw, "not below", and when the holder's history key is untouched since the snapshot
 * (its last renewal came before the snapshot was saved) the compare holds, so no read and no mark check runs either.
 *
 * <p>Setup: one allocator X holds two leases (the SPI allows any number per allocator): A (worker 5) renewed before the
 * snapshot, B (worker 7, whose previous holder Y released it with a mark of now+1 s) acquired and renewed (reserving up to
 * now+60 s) after it. etcd is restored from the snapshot with the old cluster token; another client's writes bring the
 * revision to exactly one below what X saw last (B's renewal); then A renews.
 *
 * <p>Both tests FAIL on d25b995 (and on 220ecad) and PASS with the EtcdWorkerAllocator of d25b995^ (verified by checking that
 * file out in the review worktree). The window is narrow (etcd's revision must be exactly one below the allocator's highest
 * when the renewal lands, and the allocator must hold another lease or have made another request after the renewal of the
 * lease that renews), but it is a case the read-first renewal detected and this one does not.
 */
class EtcdRenewCompareReviewIT {

    private static final int A_WORKER = 5;
    private static final int B_WORKER = 7;
    private static final int WORKERS = 64;

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

    private AllocatorContext context(String instance) {
        return AllocatorContext.builder().idc(1).workerIds(WORKERS).instance(instance).leaseTtl(Duration.ofSeconds(30))
                .settings(Map.of("ekko.etcd.endpoints", etcd.endpoint(), "ekko.etcd.namespace", "cmp", "ekko.etcd.timeout", "2s"))
                .build();
    }

    private WorkerAllocator allocator(String instance) {
        WorkerAllocator a = new EtcdAllocatorProvider().create(context(instance));
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

    /** What the scenario leaves: A's lease, B's last report, and how A's renewal after the restore ended (null: it returned). */
    private record Outcome(WorkerAllocator x, WorkerLease a, long bReported, long now, RuntimeException aRenewal, long seen,
            long restoredAt) {
    }

    private Outcome restoreOneRevisionBelowWhatXSaw() throws Exception {
        long now = System.currentTimeMillis();
        Client c = Client.builder().endpoints(etcd.endpoint()).build();
        toClose.add(c);
        // Y held worker 7 before and released it with a mark of now+1 s (a trusted mark in this cluster and generation).
        WorkerAllocator y = allocator("y");
        WorkerLease yb = y.acquire(allBut(B_WORKER));
        assertEquals(B_WORKER, yb.workerId());
        yb = y.renew(yb, report(now, now + 1_000));
        y.release(yb, report(now, now + 1_000));

        WorkerAllocator x = allocator("x");
        WorkerLease a = x.acquire(allBut(A_WORKER));
        assertEquals(A_WORKER, a.workerId());
        a = x.renew(a, report(now, now + 2_000)); // a tenure's first renewal reads; this one is A's last before the snapshot
        a = x.renew(a, report(now, now + 2_000)); // compare-first from now on

        Path snapshot = etcd.saveSnapshot("after-a.db");

        WorkerLease b = x.acquire(allBut(B_WORKER));
        assertEquals(B_WORKER, b.workerId());
        long bReported = now + 60_000;
        b = x.renew(b, report(now, bReported)); // B may issue up to now+60 s on this renewal's mark
        // X's last reply was B's renewal: the highest revision X saw is that write's, history/7's mod revision.
        long seen = c.getKVClient().get(bytes("cmp/idc1/history/" + B_WORKER)).get(10, TimeUnit.SECONDS).getKvs().get(0)
                .getModRevision();

        etcd.restartFromSnapshot(snapshot, "etcd-cluster"); // the old token: the same cluster ID

        long restoredAt = -1;
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (restoredAt < 0) {
            try {
                restoredAt = c.getKVClient().get(bytes("cmp/generation")).get(5, TimeUnit.SECONDS).getHeader().getRevision();
            } catch (Exception e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
        assertTrue(restoredAt < seen - 1, "the restore went back by more than one revision: at " + restoredAt + ", X saw " + seen);
        // Other clients write after the restore (any fleet does): here until the revision is one below what X saw.
        for (long r = restoredAt; r < seen - 1; r++) {
            c.getKVClient().put(bytes("other/" + r), bytes("x")).get(10, TimeUnit.SECONDS);
        }
        GetResponse now2 = c.getKVClient().get(bytes("cmp/generation")).get(10, TimeUnit.SECONDS);
        assertEquals(seen - 1, now2.getHeader().getRevision(), "etcd's revision before A renews");
        // Wake X's (shared) client up on the restarted member without a request of X's own (a read: no revision change).
        var handle = EtcdAllocatorProvider.client(EtcdSettings.from(context("x")));
        try {
            deadline = System.nanoTime() + 20_000_000_000L;
            for (boolean up = false; !up;) {
                try {
                    handle.client().getKVClient().get(bytes("cmp/generation")).get(5, TimeUnit.SECONDS);
                    up = true;
                } catch (Exception e) {
                    if (System.nanoTime() > deadline) {
                        throw e;
                    }
                    Thread.sleep(200);
                }
            }
        } finally {
            handle.close();
        }
        assertEquals(seen - 1, c.getKVClient().get(bytes("cmp/generation")).get(10, TimeUnit.SECONDS).getHeader().getRevision());

        RuntimeException aRenewal = null;
        try {
            a = x.renew(a, report(now, now + 3_000));
        } catch (EkkoException e) {
            aRenewal = e;
        }
        return new Outcome(x, a, bReported, now, aRenewal, seen, restoredAt);
    }

    /**
     * Fails on d25b995: A's renewal succeeds (compare held, the write landed on revision {@code seen}, not below it) though
     * etcd's revision had gone back. Before d25b995 the renewal's read answered at {@code seen - 1 < seen}: "etcd's revision
     * went back", the lease was given up and a new generation written.
     */
    @Test
    void failsSinceD25b995_aRestoreOneRevisionBelowWhatTheAllocatorSawIsStillDetectedByARenewal() throws Exception {
        Outcome o = restoreOneRevisionBelowWhatXSaw();
        assertTrue(o.aRenewal() instanceof LeaseLostException && o.aRenewal().getMessage().contains("went back"),
                "A renewed on etcd restored from a snapshot (X saw revision " + o.seen() + ", etcd restored at " + o.restoredAt()
                        + " and written up to " + (o.seen() - 1) + ") and noticed nothing: " + o.aRenewal());
    }

    /**
     * The consequence: no one noticed, no new generation, so another process that acquires worker 7 now (B's key went with
     * the restore) is handed Y's old mark (now+1 s) as a trusted {@link Handover.Kind#MARK}, below the now+60 s that B's
     * renewal reported and may have issued up to: IDs may repeat. Before d25b995 A's renewal started a new generation and
     * the mark came as a lower bound only.
     */
    @Test
    void failsSinceD25b995_afterSuchARestoreAnotherHolderIsNotHandedATrustedMarkBelowALiveReservation() throws Exception {
        Outcome o = restoreOneRevisionBelowWhatXSaw();
        WorkerAllocator z = allocator("z");
        WorkerLease zb;
        long deadline = System.nanoTime() + 20_000_000_000L;
        for (;;) {
            try {
                zb = z.acquire(allBut(B_WORKER));
                break;
            } catch (EkkoException e) {
                if (e instanceof dev.ekko.WorkerIdsExhaustedException || System.nanoTime() > deadline) {
                    fail("Z could not acquire worker " + B_WORKER + ": " + e);
                }
                Thread.sleep(200);
            }
        }
        assertEquals(B_WORKER, zb.workerId());
        Handover h = zb.handover();
        assertTrue(!(h.kind() == Handover.Kind.MARK && h.markMillis() < o.bReported()), "Z was handed " + h + " on worker "
                + B_WORKER + ", a trusted mark " + (o.bReported() - h.markMillis()) + " ms below B's last report (reserved until "
                + o.bReported() + "); A's renewal after the restore: " + o.aRenewal());
    }
}
