package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.EkkoException;
import dev.ekko.LeaseLostException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
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
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.LeaseOption;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A second adversarial review of the etcd allocator. Each test names what it attacks; a failing one explains the hole and a
 * fix, a passing one is a claim that held under attack.
 */
class EtcdReview2IT {

    private static final String CLASS_PREFIX = TestServers.etcdKeyPrefix(EtcdReview2IT.class);

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
                .setting("ekko.etcd.timeout", "1s").leaseListener(listener).build();
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

    private static ClockReport report(String instance) {
        long now = System.currentTimeMillis();
        return new ClockReport(now, now + 2000, "h", 1, instance);
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

    // ---------------------------------------------------------------- the watch and compaction

    /**
     * jetcd resumes a broken watch stream from the last revision it saw for the key (the watch's creation, when nothing
     * happened to the key since). Once etcd has compacted past that revision (auto-compaction is the usual production
     * setting), the resume is answered "required revision has been compacted" and jetcd closes the watcher for good
     * (WatchImpl.handleError(..., false)); the allocator's error handler only logs at DEBUG. From then on a deleted lease key
     * is no longer reported at once: the generator keeps issuing until its next renewal, contrary to docs/etcd.md ("a delete
     * ... tells the generator at once").
     */
    @Test
    void aWatchResumedPastACompactionStillReportsADelete() throws Exception {
        watchReportsADeleteAfterARestart(true);
    }

    /** The control of the test above: the same steps without the compaction report the delete at once (held). */
    @Test
    void aWatchResumedWithoutACompactionReportsADelete() throws Exception {
        watchReportsADeleteAfterARestart(false);
    }

    private void watchReportsADeleteAfterARestart(boolean compact) throws Exception {
        try (DisposableEtcd etcd = DisposableEtcd.launch()) {
            Recorder listener = new Recorder();
            WorkerAllocator a = allocator(etcd.endpoint(), "compact", 9, listener);
            Client c = client(etcd.endpoint());
            WorkerLease l = a.acquire();
            Thread.sleep(300); // the watch is set up
            // Other traffic in the cluster, then a compaction (as --auto-compaction-retention does).
            long rev = 0;
            for (int i = 0; i < 20; i++) {
                rev = c.getKVClient().put(bytes(namespace + "/other/" + i), bytes("x")).get(5, TimeUnit.SECONDS).getHeader().getRevision();
            }
            if (compact) {
                c.getKVClient().compact(rev).get(5, TimeUnit.SECONDS);
            }
            // Any break of the watch stream: a member restart (rolling upgrade), a network blip.
            etcd.stop();
            etcd.start();
            // Still ours: etcd refreshed the etcd lease at its election; renew until the client has reconnected.
            WorkerLease renewed = null;
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (renewed == null && System.nanoTime() < end) {
                try {
                    renewed = a.renew(l, report("compact"));
                } catch (LeaseLostException e) {
                    throw e;
                } catch (EkkoException e) {
                    Thread.sleep(100);
                }
            }
            assertTrue(renewed != null, "no renewal within 10 s of etcd's restart");
            Thread.sleep(1500); // jetcd resumes a broken watch after 500 ms
            c.getKVClient().delete(bytes(leaseKey(l.workerId()))).get(5, TimeUnit.SECONDS);
            awaitTrue(Duration.ofSeconds(2), () -> listener.callsFor(l) > 0);
            long reported = listener.callsFor(l);
            assertThrows(LeaseLostException.class, () -> a.renew(l, report("compact")), "a renewal after the delete must be lost");
            assertTrue(reported > 0, "lease key " + leaseKey(l.workerId()) + " was deleted after etcd compacted past its watch's"
                    + " revision and the watch stream was broken once (an etcd restart), and the LeaseListener heard nothing within"
                    + " 2 s (the renewal then found the loss): jetcd resumed the watch from the revision of its creation, etcd"
                    + " answered that it was compacted, and jetcd closed the watcher for good; the allocator's error handler only"
                    + " logs at DEBUG, so every lease older than the compaction loses its at-once stop after any stream break."
                    + " Fix: in the watch's error handler (jetcd's CompactedException, or any error after which jetcd does not"
                    + " resume), re-establish the watch off jetcd's thread: read the key; if it is gone or not ours, report the"
                    + " loss; else watch again from that read's header revision + 1 (and replace the watcher in `held`). Optionally"
                    + " WatchOption.withProgressNotify(true), so jetcd's resume revision follows the cluster's");
        }
    }

    // ---------------------------------------------------------------- a claim whose reply was lost

    /**
     * The claim transaction commits at etcd, but its reply never reaches the allocator (a deadline, a dropped connection).
     * Probe: the acquire fails, and its revoke removes the key that the claim wrote, so the worker ID is not held by a lease
     * nobody renews or watches, and another process can take it at once.
     */
    @Test
    void aClaimWhoseReplyWasLostIsGivenBack() throws Exception {
        Client real = Client.builder().endpoints(SharedEtcd.endpoints().split(",")).waitForReady(false).build();
        toClose.add(real);
        KV realKv = real.getKVClient();
        AtomicBoolean dropped = new AtomicBoolean();
        KV lossy = (KV) Proxy.newProxyInstance(KV.class.getClassLoader(), new Class<?>[] {KV.class}, (proxy, method, args) -> {
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
                    CompletableFuture<?> f = realTxn.commit();
                    if (claim[0] && dropped.compareAndSet(false, true)) {
                        f.get(5, TimeUnit.SECONDS); // committed at etcd
                        return CompletableFuture.failedFuture(io.grpc.Status.DEADLINE_EXCEEDED.withDescription("reply lost")
                                .asRuntimeException());
                    }
                    return f;
                }
                invoke(m, realTxn, a);
                return p;
            });
        });
        Client c = (Client) Proxy.newProxyInstance(Client.class.getClassLoader(), new Class<?>[] {Client.class},
                (proxy, method, args) -> method.getName().equals("getKVClient") ? lossy : invoke(method, real, args));
        AllocatorContext ctx = context(SharedEtcd.endpoints(), "lossy", 7, Duration.ofSeconds(2), LeaseListener.NONE);
        WorkerAllocator a = new EtcdWorkerAllocator(ctx, EtcdSettings.from(ctx), c);
        toClose.add(a);
        EkkoException e = assertThrows(EkkoException.class, a::acquire, "the claim's reply was lost: acquire must fail");
        assertTrue(dropped.get(), "the claim was never committed: " + e.getMessage());
        Client checker = client(SharedEtcd.endpoints());
        List<KeyValue> kvs = checker.getKVClient().get(bytes(leaseKey(7))).get(5, TimeUnit.SECONDS).getKvs();
        assertEquals(List.of(), kvs.stream().map(kv -> kv.getKey().toString(StandardCharsets.UTF_8)).toList(), "the claim"
                + " committed but its reply was lost, and the key it wrote is still there after acquire failed: its etcd lease"
                + " was not revoked");
        WorkerLease other = allocator(SharedEtcd.endpoints(), "other", 7, LeaseListener.NONE).acquire();
        assertEquals(7, other.workerId(), "worker 7 is free again, so another process takes it");
    }

    // ---------------------------------------------------------------- TTL rounding

    /**
     * Probe: a lease TTL that is not a whole number of seconds. The etcd lease behind the key must last at least the core's
     * TTL, or the key could go (and be claimed by another process) while the core still issues under it.
     */
    @Test
    void aFractionalTtlGivesAnEtcdLeaseAtLeastAsLong() throws Exception {
        Duration ttl = Duration.ofMillis(2_500);
        WorkerAllocator a = new EtcdAllocatorProvider().create(context(SharedEtcd.endpoints(), "frac", 11, ttl, LeaseListener.NONE));
        toClose.add(a);
        WorkerLease l = a.acquire();
        Client c = client(SharedEtcd.endpoints());
        KeyValue kv = c.getKVClient().get(bytes(leaseKey(l.workerId())), GetOption.DEFAULT).get(5, TimeUnit.SECONDS).getKvs().get(0);
        long granted = c.getLeaseClient().timeToLive(kv.getLease(), LeaseOption.DEFAULT).get(5, TimeUnit.SECONDS).getGrantedTTL();
        assertTrue(granted * 1000 >= ttl.toMillis(), "etcd lease of " + granted + " s behind a core TTL of " + ttl);
        a.renew(l, report("frac"));
        long left = c.getLeaseClient().timeToLive(kv.getLease(), LeaseOption.DEFAULT).get(5, TimeUnit.SECONDS).getTTL();
        assertTrue(left * 1000 >= ttl.toMillis() - 1000, "after a renewal the etcd lease has " + left + " s left");
    }

    // ---------------------------------------------------------------- a lost lease, then the same worker ID again

    /**
     * Probe: a lease whose key was deleted by hand is reported by the watch; the next acquire gives up the lost lease
     * (revokes its etcd lease) and may claim the same worker ID again. The revoke must not take the new claim's key with it,
     * and the new lease must renew.
     */
    @Test
    void reclaimingTheSameWorkerAfterALossKeepsTheNewKey() throws Exception {
        Recorder listener = new Recorder();
        WorkerAllocator a = allocator(SharedEtcd.endpoints(), "again", 13, listener);
        Client c = client(SharedEtcd.endpoints());
        WorkerLease l1 = a.acquire();
        Thread.sleep(200);
        c.getKVClient().delete(bytes(leaseKey(l1.workerId()))).get(5, TimeUnit.SECONDS);
        awaitTrue(Duration.ofSeconds(2), () -> listener.callsFor(l1) > 0);
        assertTrue(listener.callsFor(l1) > 0, "the watch did not report the delete");
        WorkerLease l2;
        try {
            l2 = a.acquire();
        } catch (EkkoException e) {
            // Seen once on a loaded 2-core host (a cold channel still connecting: "deadline exceeded" on the grant); the
            // generator's keeper retries the same way one report interval later.
            Thread.sleep(300);
            l2 = a.acquire();
        }
        assertEquals(l1.workerId(), l2.workerId(), "the instance's last worker ID is free again");
        Thread.sleep(300);
        assertEquals(1, c.getKVClient().get(bytes(leaseKey(l2.workerId()))).get(5, TimeUnit.SECONDS).getKvs().size());
        a.renew(l2, report("again"));
        WorkerLease second = l2;
        assertEquals(0, listener.callsFor(second), "the new lease was reported lost");
        assertThrows(LeaseLostException.class, () -> a.renew(l1, report("again")));
    }
}
