package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.WorkerIdsExhaustedException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.TestServers;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.PutOption;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Fleet scale (issue 13): many allocators of one JVM, created as the fleet benchmark creates them (the provider, the same
 * {@code ekko.etcd.*} settings, one instance name each), acquiring and renewing at once on an IDC of 4,096 worker IDs whose
 * every worker ID has a history, as in a fleet that has run for a while. Times are logged, never asserted (the machine is
 * shared); what is asserted is that every worker ID handed out is distinct, none was already held, no call failed with an
 * unexpected exception, exhaustion is a {@link WorkerIdsExhaustedException}, and holders keep renewing through it.
 */
class EtcdFleetScaleIT {

    private static final String CLASS_PREFIX = TestServers.etcdKeyPrefix(EtcdFleetScaleIT.class);
    private static final System.Logger LOG = System.getLogger(EtcdFleetScaleIT.class.getName());
    private static final int WORKER_IDS = 4096;
    private static final int IDC = 3;
    /** Long enough that no lease handed out during a test expires before it ends (the storm does not renew). */
    private static final Duration TTL = Duration.ofMinutes(10);

    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);
    private final List<WorkerAllocator> opened = Collections.synchronizedList(new ArrayList<>());

    @AfterEach
    void closeAllocators() {
        opened.forEach(WorkerAllocator::close);
        opened.clear();
    }

    @AfterAll
    static void deleteThisClassesKeys() {
        SharedEtcd.deleteKeys(CLASS_PREFIX);
    }

    private WorkerAllocator allocator(String instance) {
        WorkerAllocator a = new EtcdAllocatorProvider().create(AllocatorContext.builder().idc(IDC).workerIds(WORKER_IDS)
                .instance(instance).host("host-" + instance).leaseTtl(TTL).setting("ekko.etcd.endpoints", SharedEtcd.endpoints())
                .setting("ekko.etcd.namespace", namespace).setting("ekko.etcd.timeout", "20s").build());
        opened.add(a);
        return a;
    }

    private static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    /**
     * A mature fleet: every worker ID has a history (a mark 10 s in the past), and {@code held} of them a lease key on one etcd
     * lease of {@code heldSeconds}, as other processes' holders (these never renew).
     *
     * @return the worker IDs held
     */
    private Set<Integer> matureFleet(int held, long heldSeconds) throws Exception {
        Set<Integer> taken = new HashSet<>();
        try (Client c = Client.builder().endpoints(SharedEtcd.endpoints().split(",")).waitForReady(false).build()) {
            String prefix = namespace + "/idc" + IDC + "/";
            long lease = c.getLeaseClient().grant(heldSeconds).get(10, TimeUnit.SECONDS).getID();
            long now = System.currentTimeMillis();
            List<Integer> order = new ArrayList<>();
            for (int w = 0; w < WORKER_IDS; w++) {
                order.add(w);
            }
            Collections.shuffle(order, new java.util.Random(13));
            taken.addAll(order.subList(0, held));
            List<Op> ops = new ArrayList<>();
            for (int w = 0; w < WORKER_IDS; w++) {
                long mark = now - 10_000;
                ops.add(Op.put(bytes(prefix + "history/" + w), bytes("mark=" + mark + "\ncluster=0\ngeneration=0\nreport.time=" + mark
                        + "\nreport.reserved=" + mark + "\nreport.host=old\nreport.pid=1\nreport.instance=old-" + w + "\nwritten.at="
                        + mark + "\n"), PutOption.DEFAULT));
                if (taken.contains(w)) {
                    ops.add(Op.put(bytes(prefix + "lease/" + w), bytes("feedfeedfeedfeedfeedfeedfeedfeed\nhost=other\npid=1\ninstance=other-"
                            + w), PutOption.builder().withLeaseId(lease).build()));
                }
                if (ops.size() >= 100 || w == WORKER_IDS - 1) {
                    c.getKVClient().txn().Then(ops.toArray(new Op[0])).commit().get(10, TimeUnit.SECONDS);
                    ops.clear();
                }
            }
        }
        return taken;
    }

    private static ClockReport report(String instance) {
        long now = System.currentTimeMillis();
        return new ClockReport(now, now + 1000, "host-" + instance, 1, instance);
    }

    /** Runs {@code tasks} on {@code threads} threads; {@return what each returned, or the exception it threw} */
    private static <T> List<Object> runAll(int threads, List<java.util.concurrent.Callable<T>> tasks) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<T>> futures = new ArrayList<>();
            for (java.util.concurrent.Callable<T> t : tasks) {
                futures.add(pool.submit(t));
            }
            List<Object> results = new ArrayList<>();
            for (Future<T> f : futures) {
                try {
                    results.add(f.get(10, TimeUnit.MINUTES));
                } catch (java.util.concurrent.ExecutionException e) {
                    results.add(e.getCause());
                }
            }
            return results;
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * A deploy storm: 1,000 allocators acquire at once from 32 threads, 3,000 of the 4,096 worker IDs already held. Every
     * acquire succeeds, with a distinct worker ID that was free.
     */
    @Test
    void aStormOfAThousandAcquirersGetsDistinctFreeWorkerIds() throws Exception {
        Set<Integer> held = matureFleet(3000, 900);
        int acquirers = 1000;
        List<java.util.concurrent.Callable<WorkerLease>> tasks = new ArrayList<>();
        Map<Integer, WorkerAllocator> byIndex = new ConcurrentHashMap<>();
        for (int i = 0; i < acquirers; i++) {
            int index = i;
            tasks.add(() -> {
                WorkerAllocator a = allocator("storm-" + index);
                byIndex.put(index, a);
                return a.acquire();
            });
        }
        long start = System.nanoTime();
        List<Object> results = runAll(32, tasks);
        long millis = (System.nanoTime() - start) / 1_000_000;
        List<Throwable> failures = new ArrayList<>();
        Set<Integer> got = new HashSet<>();
        List<Integer> twice = new ArrayList<>();
        List<Integer> wasHeld = new ArrayList<>();
        int leases = 0;
        for (Object r : results) {
            if (r instanceof WorkerLease l) {
                leases++;
                if (!got.add(l.workerId())) {
                    twice.add(l.workerId());
                }
                if (held.contains(l.workerId())) {
                    wasHeld.add(l.workerId());
                }
            } else {
                failures.add((Throwable) r);
            }
        }
        LOG.log(System.Logger.Level.INFO, "storm: " + acquirers + " acquirers from 32 threads, 3000 of " + WORKER_IDS + " held: "
                + leases + " acquired in " + millis + " ms, " + failures.size() + " failed");
        System.out.println("FLEET storm: " + leases + "/" + acquirers + " acquired in " + millis + " ms, " + failures.size()
                + " failed" + (failures.isEmpty() ? "" : ", first: " + failures.get(0)));
        assertEquals(List.of(), twice, "worker IDs handed out twice");
        assertEquals(List.of(), wasHeld, "worker IDs handed out that other processes held");
        assertEquals(List.of(), failures.stream().map(Throwable::toString).distinct().limit(5).toList(), "acquires failed");
        assertEquals(acquirers, got.size());
    }

    /**
     * Exhaustion: every one of the 4,096 worker IDs held (4,032 by other processes, 64 by allocators here); one more acquirer
     * gets {@link WorkerIdsExhaustedException} naming the count, and the 64 holders renew through it.
     */
    @Test
    void exhaustionIsReportedAndHoldersKeepRenewing() throws Exception {
        int holders = 64;
        matureFleet(WORKER_IDS - holders, 900);
        List<java.util.concurrent.Callable<WorkerLease>> tasks = new ArrayList<>();
        List<WorkerAllocator> allocators = new ArrayList<>();
        for (int i = 0; i < holders; i++) {
            allocators.add(allocator("holder-" + i));
        }
        for (WorkerAllocator a : allocators) {
            tasks.add(a::acquire);
        }
        long startAcquire = System.nanoTime();
        List<Object> acquired = runAll(32, tasks);
        long acquireMillis = (System.nanoTime() - startAcquire) / 1_000_000;
        List<WorkerLease> leases = new ArrayList<>();
        for (Object r : acquired) {
            assertTrue(r instanceof WorkerLease, "a holder's acquire failed: " + r);
            leases.add((WorkerLease) r);
        }
        WorkerAllocator extra = allocator("one-more");
        long start = System.nanoTime();
        WorkerIdsExhaustedException e = org.junit.jupiter.api.Assertions.assertThrows(WorkerIdsExhaustedException.class, extra::acquire);
        long exhaustedMillis = (System.nanoTime() - start) / 1_000_000;
        assertTrue(e.getMessage().contains("all " + WORKER_IDS + " worker IDs of idc=" + IDC) && e.getMessage().contains("("
                + WORKER_IDS + " lease keys)"), e.getMessage());

        List<java.util.concurrent.Callable<WorkerLease>> renewals = new ArrayList<>();
        for (int i = 0; i < holders; i++) {
            WorkerAllocator a = allocators.get(i);
            WorkerLease l = leases.get(i);
            renewals.add(() -> a.renew(l, report("holder")));
        }
        long startRenew = System.nanoTime();
        List<Object> renewed = runAll(32, renewals);
        long renewMillis = (System.nanoTime() - startRenew) / 1_000_000;
        for (Object r : renewed) {
            assertTrue(r instanceof WorkerLease, "a holder's renewal failed: " + r);
        }
        System.out.println("FLEET exhaustion: " + holders + " holders acquired the last free worker IDs in " + acquireMillis
                + " ms; the extra acquire failed in " + exhaustedMillis + " ms; " + holders + " renewals (4096 histories) from 32"
                + " threads in " + renewMillis + " ms (" + (renewMillis * 1000 / holders) + " us each on average)");
    }
}
