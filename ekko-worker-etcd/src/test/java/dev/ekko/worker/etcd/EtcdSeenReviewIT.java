package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.DisposableEtcd;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of the etcd side of SeenClock ({@code EtcdWorkerAllocator.noteSeen}, {@code seen.saw} after each renewal): the
 * seen file must catch a snapshot restored in place (same cluster token) and must never fire without one.
 */
class EtcdSeenReviewIT {

    @TempDir
    Path dir;

    private DisposableEtcd etcd;

    @AfterEach
    void stop() {
        if (etcd != null) {
            etcd.close();
        }
    }

    private WorkerAllocator allocator(String host, int preferred, String endpoints) {
        EtcdSeenClockIT.createStateDirectory(dir.resolve(host));
        return new EtcdAllocatorProvider().create(AllocatorContext.builder().idc(1).workerIds(256).preferredWorkerId(preferred)
                .instance(host + "-" + preferred).host(host).leaseTtl(Duration.ofSeconds(60)).setting("ekko.etcd.endpoints",
                        endpoints).setting("ekko.etcd.namespace", "seen").setting("ekko.etcd.timeout", "2s")
                .setting("ekko.state.dir", dir.resolve(host).toString()).build());
    }

    private WorkerAllocator allocator(String host, int preferred) {
        return allocator(host, preferred, etcd.endpoint());
    }

    private static ClockReport report(long reservedUntil, String host) {
        return new ClockReport(System.currentTimeMillis(), reservedUntil, host, 1, host);
    }

    /** Other keys written by other applications (or other namespaces): they lift etcd's revision, as in any real cluster. */
    private void otherWrites(int n) throws Exception {
        try (Client c = Client.builder().endpoints(etcd.endpoint()).build()) {
            for (int i = 0; i < n; i++) {
                c.getKVClient().put(ByteSequence.from("other/" + i, StandardCharsets.UTF_8), ByteSequence.from("x",
                        StandardCharsets.UTF_8)).get(10, TimeUnit.SECONDS);
            }
        }
    }

    /**
     * Claim (availability): without any restore, normal operation never trips the check; "a coordinator emptied (wiped) and
     * refilled" is listed as normal, and docs/etcd.md ("Data directory wiped") says only that every worker ID is then
     * {@code Handover.unknown()} for its next holder.
     *
     * <p>Attack: host-a's process renews while etcd's revision is at about 300 (other keys lift it), then stops. etcd's data
     * directory is wiped and the member restarted with the same name, peer URL and token (same cluster ID, revision back to
     * 1, no keys). The fleet refills it: host-b takes a worker ID, renews and releases it (a current mark, written after the
     * wipe under the current generation). Then a process of host-a takes that worker ID. Nothing went back since the mark
     * was written; it must be a {@code MARK}. Repeated three times with new worker IDs.
     *
     * <p>Observed: every claim on host-a is taken for a restore (the wiped member's revision is below what host-a's file
     * holds for the same cluster ID, and the file keeps its maximum), so each hands over a lower bound and writes a new
     * generation, which also demotes every other host's marks. It repeats at every acquire until the new cluster's revision
     * passes the old one: in a real cluster (millions of revisions) for weeks, each costing a TTL-plus-skew wait for the
     * whole namespace.
     */
    @Test
    void aWipedAndRefilledEtcdIsTakenForARestoreAtEveryClaimOfAHostThatSawItBefore() throws Exception {
        etcd = DisposableEtcd.launch();
        long now = System.currentTimeMillis();
        WorkerAllocator before = allocator("host-a", 3);
        WorkerLease l = before.acquire();
        otherWrites(300);
        l = before.renew(l, report(now + 1_000, "host-a"));
        before.release(l, report(now + 1_000, "host-a"));
        before.close();

        etcd.restartEmpty(); // same cluster ID (docs/etcd.md), every key and revision gone

        List<String> got = new ArrayList<>();
        for (int round = 1; round <= 3; round++) {
            int w = 10 + round;
            WorkerAllocator refill = allocator("host-b", w);
            WorkerLease b = refill.acquire();
            assertEquals(w, b.workerId());
            b = refill.renew(b, report(now + 2_000 * round, "host-b"));
            refill.release(b, report(now + 2_000 * round, "host-b"));
            refill.close();
            WorkerAllocator a = allocator("host-a", w);
            try {
                WorkerLease s = a.acquire();
                assertEquals(w, s.workerId());
                got.add(s.handover().toString());
            } finally {
                a.close();
            }
        }
        assertEquals(List.of(Handover.mark(now + 2_000).toString(), Handover.mark(now + 4_000).toString(),
                Handover.mark(now + 6_000).toString()), got, "host-a's claims after a wipe and refill (no data went back) should"
                + " trust the marks host-b wrote since; each was taken for a restore instead, and wrote a new generation");
    }

    /** Control: the same wipe and refill, seen by a host that had no earlier memory, trusts the refilled mark. */
    @Test
    void controlAHostWithoutMemoryTrustsTheRefilledMark() throws Exception {
        etcd = DisposableEtcd.launch();
        long now = System.currentTimeMillis();
        otherWrites(300);
        etcd.restartEmpty();
        WorkerAllocator refill = allocator("host-b", 11);
        WorkerLease b = refill.acquire();
        b = refill.renew(b, report(now + 2_000, "host-b"));
        refill.release(b, report(now + 2_000, "host-b"));
        refill.close();
        WorkerAllocator a = allocator("host-c", 11);
        try {
            WorkerLease s = a.acquire();
            assertEquals(Handover.mark(now + 2_000).toString(), s.handover().toString());
        } finally {
            a.close();
        }
    }

    /**
     * Claim (availability): several processes of one host sharing the state directory, concurrent writers to the seen file,
     * never trip the check.
     *
     * <p>Attack: host-a's process P2 claims worker 9 (current mark from host-z) while host-a's holder P1 renews. The claim
     * commits at revision R; P1's renewal commits at R + 2 or so and records it in the seen file; then P2's noteSeen compares R
     * with the file. Forced here by a gRPC interceptor on P2's client that holds the claim's reply until P1's renewal returned
     * (unforced: reply transit plus any pause, against every renewal of every process of the host).
     *
     * <p>Observed: "etcd's revision is at R, below the R' a process of this host saw": the current mark is handed over as a
     * lower bound and a new generation is written (every lease this allocator holds is given up, every mark in the
     * namespace demoted), though nothing went back.
     */
    @Test
    void aRenewalOfAnotherProcessBetweenTheClaimAndItsFileReadLooksLikeARestore() throws Exception {
        assertEquals(Handover.Kind.MARK, claimWithHeldReply(true).handover().kind(), "a renewal of another process of the host"
                + " between the claim and its seen-file read was taken for a restore");
    }

    /** Control: the same held reply with no renewal in between trusts the mark. */
    @Test
    void controlTheHeldClaimReplyAloneTrustsTheMark() throws Exception {
        assertEquals(Handover.Kind.MARK, claimWithHeldReply(false).handover().kind());
    }

    private WorkerLease claimWithHeldReply(boolean renewInBetween) throws Exception {
        etcd = DisposableEtcd.launch();
        long now = System.currentTimeMillis();
        WorkerAllocator z = allocator("host-z", 9);
        WorkerLease lz = z.acquire();
        lz = z.renew(lz, report(now + 1_000, "host-z"));
        z.release(lz, report(now + 1_000, "host-z"));
        z.close();

        java.util.concurrent.CountDownLatch held = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.atomic.AtomicBoolean once = new java.util.concurrent.atomic.AtomicBoolean();
        io.grpc.ClientInterceptor holdClaimReply = new io.grpc.ClientInterceptor() {
            @Override
            public <Q, S> io.grpc.ClientCall<Q, S> interceptCall(io.grpc.MethodDescriptor<Q, S> method, io.grpc.CallOptions options,
                    io.grpc.Channel next) {
                if (!method.getFullMethodName().endsWith("KV/Txn")) {
                    return next.newCall(method, options);
                }
                return new io.grpc.ForwardingClientCall.SimpleForwardingClientCall<Q, S>(next.newCall(method, options)) {
                    private volatile boolean claim;

                    @Override
                    public void sendMessage(Q message) {
                        claim = String.valueOf(message).contains("seen/idc1/lease/9") && once.compareAndSet(false, true);
                        super.sendMessage(message);
                    }

                    @Override
                    public void start(Listener<S> listener, io.grpc.Metadata headers) {
                        super.start(new io.grpc.ForwardingClientCallListener.SimpleForwardingClientCallListener<S>(listener) {
                            @Override
                            public void onMessage(S message) {
                                if (claim) {
                                    held.countDown();
                                    try {
                                        release.await(60, java.util.concurrent.TimeUnit.SECONDS);
                                    } catch (InterruptedException e) {
                                        Thread.currentThread().interrupt();
                                    }
                                }
                                super.onMessage(message);
                            }
                        }, headers);
                    }
                };
            }
        };
        AllocatorContext p2Context = AllocatorContext.builder().idc(1).workerIds(256).preferredWorkerId(9).instance("host-a-9")
                .host("host-a").leaseTtl(Duration.ofSeconds(60)).setting("ekko.etcd.endpoints", etcd.endpoint())
                .setting("ekko.etcd.namespace", "seen").setting("ekko.etcd.timeout", "30s")
                .setting("ekko.state.dir", dir.resolve("host-a").toString()).build();
        WorkerAllocator p2 = new EtcdWorkerAllocator(p2Context, EtcdSettings.from(p2Context), Client.builder()
                .endpoints(etcd.endpoint()).waitForReady(false).retryMaxAttempts(0).interceptor(holdClaimReply).build());
        WorkerAllocator p1 = allocator("host-a", 5);
        try {
            WorkerLease h = p1.acquire();
            h = p1.renew(h, report(now + 2_000, "host-a"));
            java.util.concurrent.CompletableFuture<WorkerLease> claimed = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                try {
                    return p2.acquire();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            org.junit.jupiter.api.Assertions.assertTrue(held.await(60, java.util.concurrent.TimeUnit.SECONDS), "the claim committed");
            if (renewInBetween) {
                h = p1.renew(h, report(now + 3_000, "host-a"));
            }
            release.countDown();
            WorkerLease s = claimed.get(60, java.util.concurrent.TimeUnit.SECONDS);
            assertEquals(9, s.workerId());
            return s;
        } finally {
            release.countDown();
            p1.close();
            p2.close();
        }
    }

    /**
     * Claim (safety): a process whose host had any process that saw etcd's revision above the restored value never trusts a
     * restored mark. The seen file's key is "etcd " + the endpoint list as written + the prefix.
     *
     * <p>Attack: the same etcd member, written {@code http://127.0.0.1:PORT} by the holder's process and
     * {@code http://localhost:PORT} by another process of the same host (same ekko.state.dir). The holder renews past the
     * snapshot; the snapshot is restored with the same cluster token; the other process claims the worker ID.
     *
     * <p>Observed: the two spellings name two seen files, so the claim finds no memory and trusts the restored mark
     * ({@code MARK}), although its host saw the revision above it. A list in another order ("a,b" vs "b,a") or a subset of
     * the members does the same.
     */
    @Test
    void anotherSpellingOfTheSameEndpointOnTheSameHostMissesTheRestore() throws Exception {
        etcd = DisposableEtcd.launch();
        String viaName = "http://localhost:" + etcd.port();
        long now = System.currentTimeMillis();
        WorkerAllocator first = allocator("host-z", 5);
        WorkerLease l0 = first.acquire();
        l0 = first.renew(l0, report(now + 1_000, "host-z"));
        first.release(l0, report(now + 1_000, "host-z"));
        first.close();
        Path snapshot = etcd.saveSnapshot("early.db");
        WorkerAllocator holder = allocator("host-a", 5, etcd.endpoint());
        WorkerLease h = holder.acquire();
        assertEquals(5, h.workerId());
        for (int i = 1; i <= 3; i++) {
            h = holder.renew(h, report(now + 5_000 * i, "host-a"));
        }
        holder.close();
        etcd.restartFromSnapshot(snapshot, "etcd-cluster");
        WorkerAllocator second = allocator("host-a", 5, viaName);
        try {
            WorkerLease s = second.acquire();
            assertEquals(5, s.workerId(), "worker 5 is free in the restored data");
            assertNotEquals(Handover.Kind.MARK, s.handover().kind(), "the restored mark " + s.handover() + " was trusted: host-a's"
                    + " holder saw the revision above it, but wrote it under " + etcd.endpoint() + " and this process reads "
                    + viaName);
        } finally {
            second.close();
        }
    }

    /** Control: the same sequence with the same spelling is caught (as EtcdSeenClockIT shows). */
    @Test
    void controlTheSameSpellingCatchesTheRestore() throws Exception {
        etcd = DisposableEtcd.launch();
        long now = System.currentTimeMillis();
        WorkerAllocator first = allocator("host-z", 5);
        WorkerLease l0 = first.acquire();
        l0 = first.renew(l0, report(now + 1_000, "host-z"));
        first.release(l0, report(now + 1_000, "host-z"));
        first.close();
        Path snapshot = etcd.saveSnapshot("early.db");
        WorkerAllocator holder = allocator("host-a", 5);
        WorkerLease h = holder.acquire();
        for (int i = 1; i <= 3; i++) {
            h = holder.renew(h, report(now + 5_000 * i, "host-a"));
        }
        holder.close();
        etcd.restartFromSnapshot(snapshot, "etcd-cluster");
        WorkerAllocator second = allocator("host-a", 5);
        try {
            WorkerLease s = second.acquire();
            assertNotEquals(Handover.Kind.MARK, s.handover().kind(), s.handover().toString());
        } finally {
            second.close();
        }
    }
}
