package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.LeaseLostException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.LeaseListener;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.DisposableEtcd;
import dev.ekko.testsupport.TestServers;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KV;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Txn;
import io.etcd.jetcd.op.Op;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A fourth adversarial review of the etcd allocator, aimed at what the earlier rounds did not attack: claims racing a new
 * generation, the watch (its rebuild after a compaction), releases after a lost lease, and leases whose renewals stopped for
 * longer than the TTL. Each test names what it attacks; a failing one explains the hole and a fix, a passing one is marked as a
 * regression test of a claim that held under attack.
 *
 * <p>The one that failed (a watch whose rebuild read fails once was never rebuilt) passes since the rebuild retries with a
 * backoff. The review's suspicion that a release relabels a stale mark with a new generation is
 * {@code EtcdGenerationIT.aReleaseAfterANewGenerationWithNoRenewalSinceLeavesALowerBound} (failed before its fix).
 */
class EtcdReview4IT {

    private static final String CLASS_PREFIX = TestServers.etcdKeyPrefix(EtcdReview4IT.class);

    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @AfterEach
    void closeEverything() {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            try {
                toClose.get(i).close();
            } catch (Exception e) {
                // best effort
            }
        }
    }

    @AfterAll
    static void deleteThisClassesKeys() {
        SharedEtcd.deleteKeys(CLASS_PREFIX);
    }

    // ---------------------------------------------------------------- helpers

    /** A listener that records every call. */
    static final class Recorder implements LeaseListener {
        final List<WorkerLease> calls = new CopyOnWriteArrayList<>();

        @Override
        public void leaseLost(WorkerLease lease, String reason) {
            calls.add(lease);
        }

        long callsFor(WorkerLease l) {
            return calls.stream().filter(c -> c.token().equals(l.token())).count();
        }
    }

    private AllocatorContext context(String endpoints, String instance, int preferred, Duration ttl, LeaseListener listener) {
        return AllocatorContext.builder().idc(1).workerIds(256).instance(instance).host("host-" + instance).preferredWorkerId(preferred)
                .leaseTtl(ttl).setting("ekko.etcd.endpoints", endpoints).setting("ekko.etcd.namespace", namespace)
                .setting("ekko.etcd.timeout", "2s").leaseListener(listener).build();
    }

    private WorkerAllocator allocator(String endpoints, String instance, int preferred, LeaseListener listener) {
        WorkerAllocator a = new EtcdAllocatorProvider().create(context(endpoints, instance, preferred, Duration.ofSeconds(2), listener));
        toClose.add(a);
        return a;
    }

    private Client client(String endpoints) {
        Client c = Client.builder().endpoints(endpoints.split(",")).waitForReady(false).build();
        toClose.add(c);
        return c;
    }

    private static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    private String leaseKey(int w) {
        return namespace + "/idc1/lease/" + w;
    }

    private String historyKey(int w) {
        return namespace + "/idc1/history/" + w;
    }

    private static ClockReport report(String instance, long reservedUntil) {
        return new ClockReport(System.currentTimeMillis(), reservedUntil, "host-" + instance, 1, instance);
    }

    private EtcdHistory history(Client c, int w) throws Exception {
        List<KeyValue> kvs = c.getKVClient().get(bytes(historyKey(w))).get(5, TimeUnit.SECONDS).getKvs();
        return kvs.isEmpty() ? null : EtcdHistory.decode(kvs.get(0).getValue().getBytes());
    }

    private static void awaitTrue(Duration within, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + within.toNanos();
        while (!condition.getAsBoolean() && System.nanoTime() < end) {
            Thread.sleep(5);
        }
    }

    private static Object invoke(Method method, Object target, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    /** A client that passes everything to {@code real} but answers {@code getKVClient()} with {@code kv}. */
    private static Client withKv(Client real, KV kv) {
        return (Client) Proxy.newProxyInstance(Client.class.getClassLoader(), new Class<?>[] {Client.class},
                (proxy, method, args) -> method.getName().equals("getKVClient") ? kv : invoke(method, real, args));
    }

    // ---------------------------------------------------------------- the watch rebuilt after a compaction

    /**
     * <b>Finding.</b> Claim (docs/etcd.md, "watch"): jetcd does not resume a watch past a compaction, "then the key is read
     * again and watched anew from that read (or the loss reported, if it is gone)", so a lease key deleted later is still
     * reported at once.
     *
     * <p>Attack: the rebuild is one-shot. {@code rewatch} sends one read; if that read fails (a deadline, the member restarting
     * again, a leader change: any transient error right after jetcd gave the watch up), the error is logged at DEBUG and nothing
     * is retried: the lease has no watch for the rest of its life, and a key deleted later (by hand, or by an operator freeing a
     * worker ID) is noticed only by the next renewal. The test makes the one read fail (a client whose single-key gets fail while
     * a flag is set), restarts etcd after a compaction so that jetcd gives the watch up, lets reads succeed again, then deletes
     * the lease key: the listener hears nothing within 5 s (the etcd lease is 30 s here, so nothing expires meanwhile).
     *
     * <p>Fix: retry the rebuild (read, then watch from the read's revision + 1) with a short backoff until it succeeds, the
     * lease is retired or lost, or the allocator is closed; e.g. reschedule {@code rewatch} on a failed read, off jetcd's thread.
     */
    @Test
    void aWatchWhoseRebuildReadFailsOnceStillReportsALaterDelete() throws Exception {
        try (DisposableEtcd etcd = DisposableEtcd.launch()) {
            Client real = client(etcd.endpoint());
            KV realKv = real.getKVClient();
            AtomicBoolean failGets = new AtomicBoolean();
            CountDownLatch failed = new CountDownLatch(1);
            KV flaky = (KV) Proxy.newProxyInstance(KV.class.getClassLoader(), new Class<?>[] {KV.class}, (proxy, method, args) -> {
                if (failGets.get() && method.getName().equals("get") && args != null && args.length == 1) {
                    failed.countDown();
                    return CompletableFuture.failedFuture(io.grpc.Status.UNAVAILABLE.withDescription("injected: a transient failure")
                            .asRuntimeException());
                }
                return invoke(method, realKv, args);
            });
            Recorder listener = new Recorder();
            AllocatorContext ctx = context(etcd.endpoint(), "rewatch", 9, Duration.ofSeconds(30), listener);
            WorkerAllocator a = new EtcdWorkerAllocator(ctx, EtcdSettings.from(ctx), withKv(real, flaky));
            toClose.add(a);
            WorkerLease l = a.acquire();
            Thread.sleep(300); // the watch is set up
            Client checker = client(etcd.endpoint());
            long rev = 0;
            for (int i = 0; i < 20; i++) {
                rev = checker.getKVClient().put(bytes(namespace + "/other/" + i), bytes("x")).get(5, TimeUnit.SECONDS).getHeader()
                        .getRevision();
            }
            checker.getKVClient().compact(rev).get(5, TimeUnit.SECONDS);
            failGets.set(true);
            etcd.stop();
            etcd.start();
            // jetcd resumes the watch 500 ms after the break; etcd answers "compacted"; the allocator reads the key once.
            assertTrue(failed.await(15, TimeUnit.SECONDS), "precondition: the allocator never read the lease key to rebuild its watch");
            Thread.sleep(200);
            failGets.set(false);
            Thread.sleep(1000); // time for a retry, if there is one
            checker.getKVClient().delete(bytes(leaseKey(l.workerId()))).get(5, TimeUnit.SECONDS);
            awaitTrue(Duration.ofSeconds(5), () -> listener.callsFor(l) > 0);
            assertTrue(listener.callsFor(l) > 0, "lease key " + leaseKey(l.workerId()) + " was deleted 1.2 s after the one read that"
                    + " rebuilds the watch after a compaction failed once (a transient error), and the LeaseListener heard nothing"
                    + " within 5 s: rewatch() logs the failed read at DEBUG and never tries again, so this lease has no watch for the"
                    + " rest of its life and a delete is seen only by the next renewal. Fix: retry the rebuild with a backoff until"
                    + " it succeeds or the lease is retired, lost or the allocator closed");
            assertThrows(LeaseLostException.class, () -> a.renew(l, report("rewatch", System.currentTimeMillis() + 2000)),
                    "the renewal still finds the loss");
        }
    }

    // ---------------------------------------------------------------- a claim racing a new generation

    /**
     * <b>Regression test (held).</b> Claim (EtcdAllocators.startNewGeneration): every claim compares the generation in its own
     * transaction, so no claim that succeeds after the command returned trusts an older mark. Attack: a claim that read the
     * generation, then the command runs and returns, then the claim's transaction is sent (a client whose claim commit first
     * runs the command). The claim must fail, and the next round's claim hand the same worker's mark over only as a lower bound.
     */
    @Test
    void aClaimSentAfterANewGenerationDoesNotTrustTheOlderMark() throws Exception {
        String endpoints = SharedEtcd.endpoints();
        // A history of worker 17 written in this cluster and generation: trusted as a mark by a plain claim.
        WorkerAllocator first = allocator(endpoints, "first", 17, LeaseListener.NONE);
        WorkerLease l0 = first.acquire();
        assertEquals(17, l0.workerId());
        long mark = System.currentTimeMillis() + 3000;
        first.renew(l0, report("first", mark));
        first.release(l0, report("first", mark));
        Client real = client(endpoints);
        KV realKv = real.getKVClient();
        AtomicInteger claims = new AtomicInteger();
        Map<String, String> settings = Map.of("ekko.etcd.endpoints", endpoints, "ekko.etcd.namespace", namespace);
        KV racing = (KV) Proxy.newProxyInstance(KV.class.getClassLoader(), new Class<?>[] {KV.class}, (proxy, method, args) -> {
            if (!method.getName().equals("txn")) {
                return invoke(method, realKv, args);
            }
            Txn realTxn = realKv.txn();
            boolean[] claim = new boolean[1];
            return Proxy.newProxyInstance(Txn.class.getClassLoader(), new Class<?>[] {Txn.class}, (p, m, a) -> {
                if (m.getName().equals("Then") && a != null && ((Op[]) a[0]).length == 3) {
                    claim[0] = true; // put lease, put instance, get history
                }
                if (m.getName().equals("commit")) {
                    if (claim[0] && claims.getAndIncrement() == 0) {
                        EtcdAllocators.startNewGeneration(settings); // returns before the claim is sent
                    }
                    return realTxn.commit();
                }
                invoke(m, realTxn, a);
                return p;
            });
        });
        AllocatorContext ctx = context(endpoints, "second", 17, Duration.ofSeconds(2), LeaseListener.NONE);
        WorkerAllocator second = new EtcdWorkerAllocator(ctx, EtcdSettings.from(ctx), withKv(real, racing));
        toClose.add(second);
        WorkerLease l = second.acquire();
        assertTrue(claims.get() >= 2, "the first claim, sent after the new generation, did not fail: " + claims.get() + " claims");
        assertEquals(17, l.workerId());
        assertEquals(Handover.Kind.UNKNOWN, l.handover().kind(), "a claim that succeeded after startNewGeneration returned trusted"
                + " a mark of the generation before: " + l.handover());
        assertEquals(mark, l.handover().markMillis(), "the older mark is still handed over as a lower bound");
    }

    // ---------------------------------------------------------------- release after a lost lease

    /**
     * <b>Regression test (held).</b> Claim: a release may only write its mark while the releaser still holds the key. Attack:
     * holder A's key is deleted by hand, B claims the same worker ID and reports a mark far ahead; then A releases (its
     * generator closing) with a final report below B's mark. B's key and B's mark must stay.
     */
    @Test
    void aReleaseAfterALostLeaseLeavesTheNextHoldersKeyAndMark() throws Exception {
        String endpoints = SharedEtcd.endpoints();
        Recorder listener = new Recorder();
        WorkerAllocator a = allocator(endpoints, "a", 21, listener);
        WorkerLease la = a.acquire();
        assertEquals(21, la.workerId());
        a.renew(la, report("a", System.currentTimeMillis() + 2000));
        Client c = client(endpoints);
        c.getKVClient().delete(bytes(leaseKey(21))).get(5, TimeUnit.SECONDS);
        awaitTrue(Duration.ofSeconds(2), () -> listener.callsFor(la) > 0);
        WorkerAllocator b = allocator(endpoints, "b", 21, LeaseListener.NONE);
        WorkerLease lb = b.acquire();
        assertEquals(21, lb.workerId());
        long markB = System.currentTimeMillis() + 60_000;
        b.renew(lb, report("b", markB));
        a.release(la, report("a", System.currentTimeMillis()));
        assertEquals(markB, history(c, 21).mark(), "A's release after its loss lowered B's mark");
        assertEquals(1, c.getKVClient().get(bytes(leaseKey(21))).get(5, TimeUnit.SECONDS).getKvs().size(), "A's release deleted B's key");
        b.renew(lb, report("b", markB));
    }

    // ---------------------------------------------------------------- renewals that stop for longer than the TTL

    /**
     * <b>Regression test (held).</b> Claim: a renewal never resurrects an expired lease (keepAliveOnce on an expired etcd lease
     * must fail). Attack: no renewal for the TTL plus 1.5 s (etcd's lessor revokes expired leases every 500 ms), then a renewal:
     * it must be {@link LeaseLostException}, and the worker ID free for another process, which gets the holder's mark.
     */
    @Test
    void aRenewalAfterTheTtlPassedIsLostAndTheMarkIsHandedOver() throws Exception {
        String endpoints = SharedEtcd.endpoints();
        WorkerAllocator a = allocator(endpoints, "late", 23, LeaseListener.NONE);
        WorkerLease l = a.acquire();
        assertEquals(23, l.workerId());
        long mark = System.currentTimeMillis() + 2000;
        a.renew(l, report("late", mark));
        Thread.sleep(l.ttl().toMillis() + 1500);
        LeaseLostException e = assertThrows(LeaseLostException.class, () -> a.renew(l, report("late", mark + 5000)));
        assertTrue(e.getMessage().contains("expired") || e.getMessage().contains("deleted"), e.getMessage());
        WorkerLease next = allocator(endpoints, "next", 23, LeaseListener.NONE).acquire();
        assertEquals(23, next.workerId());
        assertEquals(Handover.Kind.MARK, next.handover().kind());
        assertEquals(mark, next.handover().markMillis(), "the late renewal changed the mark, or the mark was not handed over");
    }
}
