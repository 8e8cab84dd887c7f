package dev.ekko.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ekko.DecodedId;
import dev.ekko.Ekko;
import dev.ekko.GeneratorStatus;
import dev.ekko.IdGenerator;
import dev.ekko.LeaseLostException;
import dev.ekko.WorkerIdsExhaustedException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import dev.ekko.spi.WorkerLease;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The contract every worker-ID allocator must meet, run by each allocator module against its own
 * allocator (and its real coordinator). Extend it, implement {@link #provider()} and
 * {@link #settings()}, and override the hooks where the allocator differs.
 *
 * <p>What it pins: acquire; exhaustion with a clear error; renew; expiry and takeover; fencing after a
 * pause; release; handover past the previous holder's reservation; concurrent acquires never sharing an ID; and a striped
 * generator on this coordinator: every stripe's worker ID leased there and released by close, automatic mode's added
 * stripe leased and given back when idle, and each stripe's IDs followed past by the next holder after a kill.
 */
public abstract class WorkerAllocatorContract {

    /** The layout's worker-ID count used here: 256 (4 product bits), so exhaustion is quick to reach. */
    protected static final int WORKER_IDS = 256;
    /** The datacenter (IDC) every test here leases in. */
    protected static final int IDC = 5;

    /** A fresh directory per test for state files and host locks. */
    @TempDir
    protected Path stateDir;

    /** For subclasses. */
    protected WorkerAllocatorContract() {
    }

    private final List<WorkerAllocator> opened = new ArrayList<>();
    private final List<IdGenerator> generators = new ArrayList<>();

    /** {@return the provider under test} */
    protected abstract WorkerAllocatorProvider provider();

    /** {@return the allocator's own settings (endpoint, a namespace unique to this test class...)} */
    protected abstract Map<String, String> settings();

    /** {@return true if leases expire at the coordinator unless renewed (false for host-local)} */
    protected boolean leasesExpire() {
        return true;
    }

    /** {@return true if holders on "different hosts" must still share one state directory (host-local)} */
    protected boolean sharesStateDirectoryAcrossHolders() {
        return false;
    }

    /** {@return a lease TTL short enough for expiry tests} */
    protected Duration shortTtl() {
        return Duration.ofSeconds(2);
    }

    /**
     * The allocator's process dies without releasing: by default, its client is closed.
     *
     * @param allocator the allocator whose process dies
     */
    protected void simulateDeath(WorkerAllocator allocator) {
        allocator.close();
    }

    /**
     * The context the tests create allocators with: {@link #IDC}, {@link #WORKER_IDS}, instance {@code contract},
     * host {@code host-a}, a 30 s lease, {@link #settings()} and the state directory.
     *
     * @return a builder the test may change further
     */
    protected AllocatorContext.Builder context() {
        return AllocatorContext.builder().idc(IDC).workerIds(WORKER_IDS).instance("contract").host("host-a")
                .leaseTtl(Duration.ofSeconds(30)).settings(settings()).setting("ekko.state.dir", stateDir.toString());
    }

    /**
     * Creates an allocator of the provider under test, closed after the test.
     *
     * @param context the context to create it with
     * @return the allocator
     */
    protected WorkerAllocator allocator(AllocatorContext context) {
        WorkerAllocator a = provider().create(context);
        synchronized (opened) {
            opened.add(a);
        }
        return a;
    }

    /**
     * Creates an allocator with the default {@link #context()}, closed after the test.
     *
     * @return the allocator
     */
    protected WorkerAllocator allocator() {
        return allocator(context().build());
    }

    @AfterEach
    void closeEverything() {
        generators.forEach(IdGenerator::close);
        opened.forEach(WorkerAllocator::close);
    }

    private static ClockReport report(long reservedUntil) {
        return new ClockReport(System.currentTimeMillis(), reservedUntil, "host-a", ProcessHandle.current().pid(), "contract");
    }

    // ---------------------------------------------------------------- acquire, exhaustion, concurrency

    @Test
    void isFoundByServiceLoaderUnderItsName() {
        Set<String> names = new HashSet<>();
        ServiceLoader.load(WorkerAllocatorProvider.class).forEach(p -> names.add(p.name()));
        assertTrue(names.contains(provider().name()), "ServiceLoader found " + names);
    }

    @Test
    void acquiresAWorkerIdOfTheLayoutWithASecretToken() throws Exception {
        WorkerLease lease = allocator().acquire();
        assertTrue(lease.workerId() >= 0 && lease.workerId() < WORKER_IDS, "worker=" + lease.workerId());
        assertFalse(lease.token().isEmpty());
        assertFalse(lease.toString().contains(lease.token()), lease.toString());
        assertEquals(leasesExpire(), lease.expires());
    }

    @Test
    void twoHoldersNeverGetTheSameWorkerId() throws Exception {
        WorkerLease a = allocator(context().preferredWorkerId(7).build()).acquire();
        WorkerLease b = allocator(context().preferredWorkerId(7).build()).acquire();
        assertEquals(7, a.workerId());
        assertNotEquals(a.workerId(), b.workerId());
    }

    @Test
    void concurrentAcquiresNeverShareAWorkerId() throws Exception {
        int threads = 16;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Integer>> results = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                WorkerAllocator a = allocator(context().instance("concurrent-" + i).host("host-" + i).build());
                Callable<Integer> task = () -> {
                    go.await();
                    return a.acquire().workerId();
                };
                results.add(pool.submit(task));
            }
            go.countDown();
            Set<Integer> ids = new HashSet<>();
            for (Future<Integer> f : results) {
                assertTrue(ids.add(f.get()), "worker ID handed out twice: " + f.get() + " in " + ids);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void failsClearlyWhenEveryWorkerIdIsHeld() throws Exception {
        WorkerAllocator a = allocator();
        Set<Integer> ids = new HashSet<>();
        for (int i = 0; i < WORKER_IDS; i++) {
            assertTrue(ids.add(a.acquire().workerId()), "worker ID handed out twice");
        }
        WorkerIdsExhaustedException e = assertThrows(WorkerIdsExhaustedException.class, () -> allocator().acquire());
        assertTrue(e.getMessage().contains(WORKER_IDS + " worker IDs") && e.getMessage().contains("idc=" + IDC), e.getMessage());
    }

    // ---------------------------------------------------------------- renew, release, expiry

    @Test
    void renewKeepsTheWorkerIdAndMovesTheGrantForward() throws Exception {
        WorkerAllocator a = allocator();
        WorkerLease lease = a.acquire();
        WorkerLease renewed = a.renew(lease, report(System.currentTimeMillis() + 10_000));
        assertEquals(lease.workerId(), renewed.workerId());
        assertEquals(lease.token(), renewed.token());
        assertTrue(renewed.grantedAtNanos() - lease.grantedAtNanos() >= 0);
    }

    @Test
    void releaseFreesTheWorkerIdAtOnce() throws Exception {
        WorkerAllocator a = allocator(context().preferredWorkerId(11).build());
        WorkerLease lease = a.acquire();
        assertEquals(11, lease.workerId());
        a.release(lease, report(System.currentTimeMillis()));
        assertEquals(11, allocator(context().preferredWorkerId(11).host("host-b").build()).acquire().workerId());
    }

    /** The core's worker switch (issue #8, item 12): a worker ID it refused must not come back, even as the preferred one. */
    @Test
    void acquireAvoidingNeverReturnsAnAvoidedWorkerId() throws Exception {
        WorkerAllocator a = allocator(context().preferredWorkerId(21).build());
        WorkerLease refused = a.acquire();
        assertEquals(21, refused.workerId());
        a.release(refused, report(System.currentTimeMillis()));
        WorkerLease other = a.acquire(java.util.Set.of(21));
        assertTrue(other.workerId() != 21, "got the avoided worker ID back");
        a.release(other, report(System.currentTimeMillis()));
    }

    @Test
    void expiredLeaseIsTakenOverAndItsRenewalIsLost() throws Exception {
        assumeTrue(leasesExpire(), "this allocator's leases do not expire while the process lives");
        WorkerAllocator first = allocator(context().preferredWorkerId(13).leaseTtl(shortTtl()).build());
        WorkerLease lease = first.acquire();
        assertEquals(13, lease.workerId());
        WorkerAllocator second = allocator(context().preferredWorkerId(13).host("host-b").leaseTtl(shortTtl()).build());
        WorkerLease taken = acquireWhenFree(second, 13, shortTtl().multipliedBy(3));
        assertNotNull(taken, "worker 13 was not free after 3 TTLs without renewal");
        assertThrows(LeaseLostException.class, () -> first.renew(lease, report(System.currentTimeMillis() + 1000)));
        // A lost lease's renewal never re-creates it, even once the worker ID is free again.
        second.release(taken, report(System.currentTimeMillis()));
        assertThrows(LeaseLostException.class, () -> first.renew(lease, report(System.currentTimeMillis() + 1000)));
        assertEquals(13, allocator(context().preferredWorkerId(13).host("host-c").build()).acquire().workerId());
    }

    /**
     * Acquires with a preference until the preferred worker ID is granted, releasing other grants.
     *
     * @param a the allocator to acquire with
     * @param worker the worker ID wanted
     * @param within how long to keep trying
     * @return the lease of {@code worker}
     * @throws Exception if the allocator fails, or {@code worker} is not granted in time
     */
    protected WorkerLease acquireWhenFree(WorkerAllocator a, int worker, Duration within) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        while (System.nanoTime() < deadline) {
            WorkerLease l = a.acquire();
            if (l.workerId() == worker) {
                return l;
            }
            a.release(l, report(System.currentTimeMillis()));
            Thread.sleep(100);
        }
        return null;
    }

    // ---------------------------------------------------------------- handover

    @Test
    void nextHolderLearnsThePreviousHoldersReservation() throws Exception {
        WorkerAllocator first = allocator(context().preferredWorkerId(17).leaseTtl(shortTtl()).build());
        WorkerLease lease = first.acquire();
        long reservedUntil = System.currentTimeMillis() + 3_600_000;
        first.renew(lease, report(reservedUntil));
        simulateDeath(first);
        WorkerAllocator second = allocator(context().preferredWorkerId(17).host("host-b").leaseTtl(shortTtl()).build());
        WorkerLease next = acquireWhenFree(second, 17, shortTtl().multipliedBy(3));
        assertNotNull(next, "worker 17 was not free after its holder died");
        Handover h = next.handover();
        if (h.kind() == Handover.Kind.STATE_FILE) {
            return; // history is the local state file: the generator-level handover test covers it
        }
        assertEquals(Handover.Kind.MARK, h.kind(), "a coordinator that kept the history must hand it over: " + h);
        assertTrue(h.markMillis() >= reservedUntil, h + " is before the previous holder's reservation " + reservedUntil);
        assertNotNull(next.previousReport());
        assertEquals(reservedUntil, next.previousReport().reservedUntilMillis());
        assertEquals("host-a", next.previousReport().host());
        // History never goes back: a later holder that reports less does not lower it.
        second.release(next, report(System.currentTimeMillis()));
        WorkerLease third = allocator(context().preferredWorkerId(17).host("host-c").build()).acquire();
        assertEquals(17, third.workerId());
        assertTrue(third.handover().markMillis() >= reservedUntil, "history went back: " + third.handover());
    }

    private Map<String, String> generatorSettings(Path dir, String host, int preferred) {
        Map<String, String> s = new LinkedHashMap<>(settings());
        s.put("ekko.worker.allocator", provider().name());
        s.put("ekko.idc", Integer.toString(IDC));
        s.put("ekko.product.bits", "4");
        s.put("ekko.state.dir", dir.toString());
        // one host lock directory for every holder of the test (they share a host), and none with other tests
        s.putIfAbsent("ekko.host.lock.dir", stateDir.resolve("host-locks").toString());
        s.put("ekko.worker.instance", host);
        s.put("ekko.worker.lease.ttl", "2s");
        s.put("ekko.worker.lease.margin", "500ms");
        s.put("ekko.clock.max.skew", "500ms");
        s.put("ekko.worker.report.interval", "300ms");
        s.put("ekko.state.reservation", "1s");
        if (preferred >= 0) {
            s.put("ekko.worker.id", Integer.toString(preferred));
        }
        return s;
    }

    /**
     * Builds a generator from settings and a clock, closed after the test.
     *
     * @param s the {@code ekko.*} settings
     * @param clock the clock it reads
     * @return the generator
     */
    protected IdGenerator generator(Map<String, String> s, dev.ekko.EkkoClock clock) {
        Ekko.Builder b = Ekko.newBuilder().clock(clock);
        s.forEach(b::setting);
        IdGenerator g = b.build();
        generators.add(g);
        return g;
    }

    @Test
    void newHolderIssuesPastEveryIdOfACrashedHolder() throws Exception {
        Path dirA = stateDir.resolve("host-a");
        Path dirB = sharesStateDirectoryAcrossHolders() ? dirA : stateDir.resolve("host-b");
        long max;
        int worker;
        try (ChildJvm child = ChildJvm.start(generatorSettings(dirA, "host-a", 19))) {
            assertTrue(child.ready(), child.firstLine());
            worker = child.workerId();
            long[] ids = child.next(5000);
            max = ids[ids.length - 1];
            child.kill();
        }
        IdGenerator g = generatorOnceFree(generatorSettings(dirB, "host-b", worker), worker);
        long first = g.next();
        assertTrue(Long.compareUnsigned(first, max) > 0, "new holder issued " + g.layout().decode(first)
                + " at or before the crashed holder's last ID " + g.layout().decode(max));
    }

    /**
     * Builds generators that prefer {@code worker} until one gets it (its killed holder's lease has expired), closing the
     * others; fails after 15 s.
     */
    private IdGenerator generatorOnceFree(Map<String, String> settings, int worker) {
        long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        IdGenerator g = generator(settings, dev.ekko.EkkoClock.system());
        while (g.workerId() != worker) {
            g.close();
            if (System.nanoTime() > deadline) {
                fail("worker " + worker + " was not free 15 s after its holder was killed");
            }
            g = generator(settings, dev.ekko.EkkoClock.system());
        }
        return g;
    }

    // ---------------------------------------------------------------- fencing

    @Test
    void generatorStopsIssuingWhenItsLeaseMayHaveExpiredAndResumesAfterRenewal() throws Exception {
        assumeTrue(leasesExpire(), "this allocator's leases do not expire while the process lives");
        TestClock clock = new TestClock();
        IdGenerator g = generator(generatorSettings(stateDir.resolve("fence"), "host-a", -1), clock);
        long before = g.next();
        // A pause longer than the lease, as this process sees it: the monotonic clock jumps past the fence deadline
        // (every claim checks the fence). The wall clock is left alone: moved without the coordinator's, it would be
        // a clock 3 s ahead of the coordinator, which the generator rightly refuses with ClockSkewException.
        clock.stepNanos(Duration.ofSeconds(3).toNanos());
        assertThrows(LeaseLostException.class, g::next);
        // The lease is still alive at the coordinator (real time barely moved): the next renewal re-opens the fence.
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        long after = 0;
        while (after == 0) {
            try {
                after = g.next();
            } catch (LeaseLostException stillFenced) {
                if (System.nanoTime() > deadline) {
                    throw stillFenced;
                }
                Thread.sleep(50);
            }
        }
        assertTrue(Long.compareUnsigned(after, before) > 0);
    }

    // ---------------------------------------------------------------- striping on this coordinator

    /** Settings of a generator on another host: its own state directory and host-lock directory, so only the coordinator is shared. */
    private Map<String, String> otherHostSettings(String host, int preferred) {
        Map<String, String> s = generatorSettings(stateDir.resolve(host), host, preferred);
        s.put("ekko.host.lock.dir", stateDir.resolve(host + "-locks").toString());
        return s;
    }

    /** {@return the worker IDs of a generator's stripes, in stripe order} */
    private static List<Integer> stripeWorkers(IdGenerator g) {
        List<Integer> workers = new ArrayList<>();
        for (GeneratorStatus s : g.stripeStatuses()) {
            workers.add(s.workerId());
        }
        return workers;
    }

    /**
     * {@return the worker ID another host is granted when it asks this coordinator for {@code preferred}} The grant is
     * released at once.
     */
    private int grantedTo(String host, int preferred) throws Exception {
        WorkerAllocator a = allocator(context().preferredWorkerId(preferred).host(host).instance(host).leaseTtl(shortTtl()).build());
        WorkerLease l = a.acquire();
        a.release(l, report(System.currentTimeMillis()));
        return l.workerId();
    }

    @Test
    void everyStripeIsLeasedAtTheCoordinatorAndCloseReleasesThemAll() throws Exception {
        Map<String, String> s = generatorSettings(stateDir.resolve("striped"), "host-a", -1);
        s.put("ekko.worker.stripes", "3");
        IdGenerator g = generator(s, dev.ekko.EkkoClock.system());
        List<Integer> held = stripeWorkers(g);
        assertEquals(3, new HashSet<>(held).size(), "stripes " + held);
        g.next();
        // Another host that asks for one of them is given another: each stripe's lease is held at the coordinator.
        for (int w : held) {
            int granted = grantedTo("host-b", w);
            assertFalse(held.contains(granted), "host-b was granted worker " + granted + ", held by a stripe of " + held);
        }
        g.close();
        // Closing released every stripe's lease at once: each is granted to the next host that asks.
        for (int w : held) {
            assertEquals(w, grantedTo("host-c", w), "worker " + w + " was not released by close");
        }
    }

    @Test
    void automaticModeLeasesAnAddedStripeAtTheCoordinatorAndGivesItBackWhenIdle() throws Exception {
        Map<String, String> s = generatorSettings(stateDir.resolve("auto"), "host-a", -1);
        s.put("ekko.worker.stripes.max", "2");
        s.put("ekko.worker.stripes.idle", "1s");
        IdGenerator g = generator(s, dev.ekko.EkkoClock.system());
        int first = g.workerId();
        // One thread at full speed in real time waits for the next millisecond about a thousand times a second: the striper
        // adds a stripe, leasing a second worker ID (whose first start on this coordinator may wait a lease TTL plus skew).
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        Map<Integer, Long> lastPerWorker = new TreeMap<>();
        while (g.stripeStatuses().size() < 2 || lastPerWorker.size() < 2) {
            if (System.nanoTime() > deadline) {
                fail("no stripe added, or none issued, in 20 s of waiting callers: " + g.stripeStatuses());
            }
            long id = g.next();
            DecodedId d = g.layout().decode(id);
            Long before = lastPerWorker.put(d.worker(), id);
            assertTrue(before == null || Long.compareUnsigned(before, id) < 0, "worker " + d.worker() + " went back");
        }
        List<Integer> workers = stripeWorkers(g);
        assertEquals(first, workers.get(0), "the first stripe stays first");
        int added = workers.get(1);
        assertNotEquals(first, added);
        assertFalse(workers.contains(grantedTo("host-b", added)), "the added stripe's worker " + added + " is not leased at the coordinator");
        // Idle for longer than the idle time: the added stripe is closed and its worker ID released at the coordinator.
        deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
        while (g.stripeStatuses().size() > 1) {
            if (System.nanoTime() > deadline) {
                fail("the added stripe was not closed 15 s after its last ID: " + g.stripeStatuses());
            }
            Thread.sleep(50);
        }
        assertEquals(first, g.workerId());
        assertEquals(added, grantedTo("host-c", added), "the closed stripe's worker " + added + " was not released");
        assertEquals(GeneratorStatus.State.LIVE, g.status().state());
        assertTrue(Long.compareUnsigned(g.next(), lastPerWorker.get(first)) > 0);
    }

    @Test
    void aKilledStripedHolderIsFollowedPastEveryIdOfEachStripe() throws Exception {
        Map<String, String> s = generatorSettings(stateDir.resolve("host-a"), "host-a", -1);
        s.put("ekko.worker.stripes", "2");
        Map<Integer, Long> maxPerWorker = new TreeMap<>();
        try (ChildJvm child = ChildJvm.start(s)) {
            assertTrue(child.ready(), child.firstLine());
            // Fast enough to use up the home stripe's milliseconds, so the other stripe issues too.
            for (int round = 0; round < 5 && maxPerWorker.size() < 2; round++) {
                for (long id : child.next(20_000)) {
                    int w = dev.ekko.Layout.unsigned(dev.ekko.Layout.DEFAULT_EPOCH, 4).decode(id).worker();
                    maxPerWorker.merge(w, id, (a, b) -> Long.compareUnsigned(a, b) >= 0 ? a : b);
                }
            }
            child.kill();
        }
        assertEquals(2, maxPerWorker.size(), "IDs of both stripes: " + maxPerWorker.keySet());
        for (Map.Entry<Integer, Long> e : maxPerWorker.entrySet()) {
            int worker = e.getKey();
            Map<String, String> next = sharesStateDirectoryAcrossHolders() ? generatorSettings(stateDir.resolve("host-a"), "host-b", worker)
                    : otherHostSettings("host-b-" + worker, worker);
            IdGenerator g = generatorOnceFree(next, worker);
            long first = g.next();
            assertTrue(Long.compareUnsigned(first, e.getValue()) > 0, "the next holder of worker " + worker + " issued "
                    + g.layout().decode(first) + " at or before the killed stripe's last ID " + g.layout().decode(e.getValue()));
            g.close();
        }
    }
}
