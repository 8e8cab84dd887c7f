package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ekko.DecodedId;
import dev.ekko.Ekko;
import dev.ekko.GeneratorStatus;
import dev.ekko.IdGenerator;
import dev.ekko.IdRange;
import dev.ekko.Layout;
import dev.ekko.WorkerIdsExhaustedException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testkit.TestClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Adversarial review of striping ({@code ekko.worker.stripes}, docs/striping.md). Tests named {@code FINDING_n_...} FAIL on
 * the code under review and show a claim that does not hold; tests named {@code held_...} tried to break a claim and could
 * not (kept, passing). Deterministic: an injected {@link TestClock} (frozen where a millisecond must be used up), test
 * allocators that drop leases on demand, and counters polled to know a caller is inside its wait.
 */
class StripingReviewTest {

    @TempDir
    Path stateDir;

    @TempDir
    Path hostLocks;

    private final Layout layout = Layout.defaults();
    private final List<ExecutorService> executors = new ArrayList<>();

    @AfterEach
    void stopExecutors() {
        executors.forEach(ExecutorService::shutdownNow);
    }

    private Ekko.Builder pool(WorkerAllocatorProvider provider, int stripes) {
        return Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).allocatorProvider(provider).instance("app")
                .stripes(stripes).reportInterval(Duration.ofMillis(200)).leaseMargin(Duration.ofMillis(500))
                .maxClockSkew(Duration.ofMillis(100)).leaseTtl(Duration.ofSeconds(10));
    }

    /** A single-thread executor whose thread's home stripe is {@code home} (its caller number modulo {@code k}). */
    private ExecutorService threadWithHome(int home, int k) {
        for (;;) {
            ExecutorService e = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "review-caller");
                t.setDaemon(true);
                return t;
            });
            executors.add(e);
            try {
                long id = e.submit(StripedGenerator::callerNumber).get();
                if (id % k == home) {
                    return e;
                }
            } catch (InterruptedException | ExecutionException x) {
                throw new AssertionError(x);
            }
            e.shutdownNow();
        }
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("never " + what);
            }
            Thread.sleep(2);
        }
    }

    // ============================================================================================ findings (fail today)

    /**
     * FINDING 1 (docs/striping.md: "a call whose home stripe refuses ... is served by the next stripe that issues, and gets
     * the home stripe's refusal only when every stripe refuses"). When every stripe used the millisecond up, the call waits
     * on its home stripe ({@code s.next(...)} at the end of {@code StripedGenerator.nextFor}, {@code s.claim} in
     * {@code claimInto}) outside the try that fails over. If the home stripe is lost (or fenced: {@code claimOrUsedUp}
     * returns USED_UP without checking the term) during that wait, the caller gets LeaseLostException although the other
     * stripe is LIVE and issues in the next millisecond. This is exactly the saturated case striping is for.
     */
    @Test
    void foundInReview_1_homeStripeLostWhileTheCallWaitsForTheNextMillisecondFailsTheCallThoughAnotherStripeIssues() throws Exception {
        StripedGeneratorTest.PoolProvider provider = new StripedGeneratorTest.PoolProvider();
        TestClock clock = new TestClock();
        try (IdGenerator g = pool(provider, 2).clock(clock).build()) {
            EkkoGenerator[] stripes = ((StripedGenerator) g).stripes();
            g.next();
            clock.stepMillis(5);
            clock.freeze();
            ExecutorService caller = threadWithHome(0, 2);
            EkkoGenerator home = stripes[0];
            int homeWorker = home.workerId();
            long waitsBefore = home.status().counters().nextMillisecondWaits();
            AtomicBoolean released = new AtomicBoolean();
            Future<Long> last = caller.submit(() -> {
                for (;;) {
                    long id = g.next();
                    if (released.get()) {
                        return id;
                    }
                }
            });
            // Both stripes used the frozen millisecond up: the caller now waits on its home stripe.
            await(() -> home.status().counters().nextMillisecondWaits() > waitsBefore, "waiting on the home stripe");
            provider.lose(homeWorker);
            released.set(true);
            assertEquals(GeneratorStatus.State.LIVE, g.status().state(), "the other stripe is live");
            assertTrue(g.unavailableReason().isEmpty());
            Thread.sleep(50);
            clock.unfreeze();
            clock.stepMillis(1);
            try {
                long id = last.get(10, TimeUnit.SECONDS);
                assertNotEquals(homeWorker, layout.decode(id).worker());
            } catch (ExecutionException e) {
                fail("FINDING_1: the home stripe was lost while its caller waited for the next millisecond; the caller got "
                        + e.getCause() + " although stripe 1 (worker " + stripes[1].workerId() + ") is LIVE: " + g.stripeStatuses());
            }
        }
    }

    /**
     * FINDING 2 (next(Duration) "waits/retries correctly"; docs: "gets the home stripe's refusal only when every stripe
     * refuses"). When no stripe may issue, {@code failover} throws the HOME stripe's refusal, and {@code next(Duration)}
     * retries only some exception types. A home stripe stopped for good (its state file changed: StateFileException) makes
     * next(Duration) give up at once, although another stripe is only lost and comes back well within the timeout; a thread
     * whose home is the other stripe waits and is served. Whether next(Duration) waits depends on the caller's thread ID.
     */
    @Test
    void foundInReview_2_nextWithTimeoutGivesUpAtOnceWhenTheHomeStripeIsStoppedForGoodWhileAnotherStripeComesBack() throws Exception {
        StripedGeneratorTest.PoolProvider provider = new StripedGeneratorTest.PoolProvider();
        try (IdGenerator g = pool(provider, 2).build()) {
            EkkoGenerator[] stripes = ((StripedGenerator) g).stripes();
            EkkoGenerator home = stripes[0];
            EkkoGenerator other = stripes[1];
            g.next();
            Files.delete(stateDir.resolve("idc0-worker" + home.workerId() + ".state"));
            await(() -> home.status().state() == GeneratorStatus.State.LOST, "home stripe stopped for its state file");
            provider.exhausted = true; // the other stripe, once lost, cannot re-acquire until the test lets it
            provider.lose(other.workerId());
            ExecutorService caller = threadWithHome(0, 2);
            Future<Long> waited = caller.submit(() -> g.next(Duration.ofSeconds(20)));
            Thread.sleep(400);
            provider.exhausted = false; // the other stripe re-acquires at its keeper's next run (200 ms)
            try {
                long id = waited.get(30, TimeUnit.SECONDS);
                assertNotEquals(home.workerId(), layout.decode(id).worker());
            } catch (ExecutionException e) {
                fail("FINDING_2: next(20 s) on a thread whose home stripe is stopped for good gave up at once with " + e.getCause()
                        + ", though the other stripe re-acquired within 1 s: " + g.stripeStatuses());
            }
            // The control: the same call on a thread whose home is the other stripe waits and is served.
            long id = threadWithHome(1, 2).submit(() -> g.next(Duration.ofSeconds(20))).get(30, TimeUnit.SECONDS);
            assertNotEquals(home.workerId(), layout.decode(id).worker());
        }
    }

    /**
     * FINDING 3 (docs/striping.md, Ordering: "a thread's IDs never go back to an earlier millisecond ... The one exception: a
     * call served by another stripe because its home stripe refuses, at a moment the clock is behind the home stripe's last
     * millisecond (a clock step back during a lost lease)"). In bounded-lead mode ({@code ekko.clock.max.lead}) the home
     * stripe runs ahead of the clock by design, so ANY refusal of the home stripe (a lost lease, a fence, a coordinator
     * down) sends the thread to a stripe at the clock: its IDs go back by up to max.lead with the clock never stepping back.
     * README ("a thread's IDs then never go back in time") and the javadoc of Builder.stripes / StripedGenerator state no
     * exception at all. Either the docs must say so (the exception is every failover in bounded-lead mode), or failover must claim at or
     * above the millisecond the home stripe reached (claimIn(homeMs, ...) semantics).
     */
    @Test
    void foundInReview_3_inBoundedLeadModeALeaseLossAloneSendsAThreadBackInTimeWithoutAnyClockStep() throws Exception {
        StripedGeneratorTest.PoolProvider provider = new StripedGeneratorTest.PoolProvider();
        TestClock clock = new TestClock();
        try (IdGenerator g = pool(provider, 2).clock(clock).maxLead(Duration.ofMillis(100)).build()) {
            EkkoGenerator[] stripes = ((StripedGenerator) g).stripes();
            g.next();
            clock.stepMillis(5);
            clock.freeze(); // the clock stands still: it never goes back in this test
            int home = (int) (Thread.currentThread().getId() % 2);
            long lastMillis = Long.MIN_VALUE;
            for (int i = 0; i < 20 * 1024; i++) {
                long ms = layout.decode(g.next()).epochMillis();
                assertTrue(ms >= lastMillis);
                lastMillis = ms;
            }
            assertTrue(lastMillis - clock.millis() >= 15, "the home stripe runs ahead in bounded-lead mode: " + (lastMillis - clock.millis()));
            provider.lose(stripes[home].workerId());
            DecodedId next = layout.decode(g.next());
            assertTrue(next.epochMillis() >= lastMillis, "FINDING_3: after its home stripe lost its lease (no clock step: the clock"
                    + " stood still at " + clock.millis() + "), the thread's next ID (worker " + next.worker() + ") is at "
                    + next.epochMillis() + ", " + (lastMillis - next.epochMillis()) + " ms before its previous ID at " + lastMillis);
        }
    }

    /**
     * FINDING 4 (claim 7, "the hot path stays ... allocation-free"; "nextRange claim[s] ... the same way"). The striped
     * {@code nextRange(n)} allocates a {@code long[min(n, 1024)]} scratch buffer per call (up to 8 KB) only to read its first
     * element, where the unstriped one allocates only the returned IdRange. The test measures the calling thread's allocated
     * bytes (a count, not a timing). Fix: have claimInto return the claim (sequencer + state) instead of writing into an array,
     * or keep the range path array-free as EkkoGenerator.range is.
     */
    @Test
    void foundInReview_4_stripedNextRangeAllocatesAScratchArrayPerCall() throws Exception {
        // Through reflection: the test classes are compiled into the core's module, which does not read java.management.
        Object mx = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
        Class<?> sunMx = Class.forName("com.sun.management.ThreadMXBean");
        assumeTrue(sunMx.isInstance(mx));
        assumeTrue((Boolean) sunMx.getMethod("isThreadAllocatedMemorySupported").invoke(mx)
                && (Boolean) sunMx.getMethod("isThreadAllocatedMemoryEnabled").invoke(mx));
        java.lang.reflect.Method allocated = sunMx.getMethod("getCurrentThreadAllocatedBytes");
        LongSupplierX bytes = () -> (Long) allocated.invoke(mx);
        long unstriped;
        long striped;
        try (IdGenerator g = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).allocator("host-local").build()) {
            unstriped = bytesPerNextRange(bytes, g);
        }
        try (IdGenerator g = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).allocator("host-local").stripes(2)
                .build()) {
            striped = bytesPerNextRange(bytes, g);
            long nextBytes = bytesPerNext(bytes, g);
            assertTrue(nextBytes < 8, "held: striped next() allocates nothing per call, measured " + nextBytes + " bytes per call");
        }
        assertTrue(striped <= unstriped + 64, "FINDING_4: striped nextRange(1000) allocates " + striped + " bytes per call, the unstriped"
                + " one " + unstriped + " (only its IdRange)");
    }

    /** Reads the calling thread's allocated bytes. */
    interface LongSupplierX {
        long get() throws Exception;
    }

    private volatile int rangeSize = 1000;

    private long bytesPerNextRange(LongSupplierX bytes, IdGenerator g) throws Exception {
        int calls = 300;
        long sink = 0;
        for (int i = 0; i < calls; i++) {
            sink += g.nextRange(rangeSize).count();
        }
        long before = bytes.get();
        for (int i = 0; i < calls; i++) {
            IdRange r = g.nextRange(rangeSize);
            sink += r.count();
        }
        long after = bytes.get();
        assertTrue(sink > 0);
        return (after - before) / calls;
    }

    private static long bytesPerNext(LongSupplierX bytes, IdGenerator g) throws Exception {
        int calls = 200_000;
        long sink = 0;
        for (int i = 0; i < calls; i++) {
            sink ^= g.next();
        }
        long before = bytes.get();
        for (int i = 0; i < calls; i++) {
            sink ^= g.next();
        }
        long after = bytes.get();
        assertNotEquals(42, sink);
        return (after - before) / calls;
    }

    // ============================================================================================ held (pass)

    /**
     * A coordinator that hands out worker IDs from one pool shared by every stripe, renews by token, and can be told to
     * offer a worker ID that another stripe still holds live (split brain, or an expiry it judged too early): the core must
     * not let two stripes issue under one worker ID.
     */
    static final class HandBackProvider implements WorkerAllocatorProvider {
        final Map<Integer, String> tokens = new ConcurrentHashMap<>();
        final Map<Integer, AllocatorContext> owners = new ConcurrentHashMap<>();
        final Map<Integer, WorkerLease> leases = new ConcurrentHashMap<>();
        final List<Integer> offeredHeld = new java.util.concurrent.CopyOnWriteArrayList<>();
        volatile int offerHeld = -1;
        /** The lease TTL handed out; zero: a lease that does not expire (as host-local's). */
        volatile Duration ttl = Duration.ofSeconds(10);
        /** Worker IDs whose renewals fail (the coordinator does not answer them). */
        final Set<Integer> down = ConcurrentHashMap.newKeySet();

        @Override
        public String name() {
            return "test-handback";
        }

        @Override
        public String artifact() {
            return "the test";
        }

        @Override
        public Set<String> configKeys() {
            return Set.of();
        }

        @Override
        public WorkerAllocator create(AllocatorContext context) {
            return new WorkerAllocator() {
                @Override
                public WorkerLease acquire() {
                    return acquire(Set.of());
                }

                @Override
                public synchronized WorkerLease acquire(Set<Integer> avoid) {
                    int held = offerHeld;
                    if (held >= 0 && !avoid.contains(held)) {
                        offerHeld = -1;
                        offeredHeld.add(held);
                        return grant(held); // a second live lease of a held worker ID
                    }
                    for (int w = 0; w < 64; w++) {
                        if (!avoid.contains(w) && tokens.putIfAbsent(w, "pending") == null) {
                            return grant(w);
                        }
                    }
                    throw new WorkerIdsExhaustedException("none left (test)");
                }

                private WorkerLease grant(int w) {
                    String token = UUID.randomUUID().toString();
                    tokens.put(w, token);
                    owners.put(w, context);
                    WorkerLease l = new WorkerLease(w, token, ttl, System.nanoTime(), Handover.mark(0),
                            WorkerLease.UNKNOWN_TIME, null);
                    leases.put(w, l);
                    return l;
                }

                @Override
                public WorkerLease renew(WorkerLease lease, ClockReport report) {
                    if (down.contains(lease.workerId())) {
                        throw new IllegalStateException("coordinator does not answer (test)");
                    }
                    return lease.renewed(System.nanoTime(), WorkerLease.UNKNOWN_TIME); // split brain: every holder renews
                }

                @Override
                public void release(WorkerLease lease, ClockReport finalReport) {
                    tokens.remove(lease.workerId(), lease.token());
                }

                @Override
                public void close() {
                }
            };
        }

        void lose(int worker) {
            WorkerLease l = leases.remove(worker);
            tokens.remove(worker);
            owners.get(worker).leaseListener().leaseLost(l, "dropped by the test");
        }
    }

    /**
     * HELD (claims 1, 2): a coordinator that offers a re-acquiring stripe the worker ID another stripe of the same process
     * holds live is refused locally (the other stripe's state file is locked: {@code StateFile.isBusy}, the start switches
     * at once); the two stripes never hold one worker ID and every ID is distinct.
     */
    @Test
    void held_aCoordinatorOfferingAStripeTheWorkerIdAnotherStripeHoldsIsRefusedLocally() throws Exception {
        HandBackProvider provider = new HandBackProvider();
        try (IdGenerator g = pool(provider, 3).build()) {
            EkkoGenerator[] stripes = ((StripedGenerator) g).stripes();
            int kept = stripes[0].workerId();
            int dropped = stripes[1].workerId();
            Set<Long> ids = new HashSet<>();
            for (int i = 0; i < 50_000; i++) {
                assertTrue(ids.add(g.next()));
            }
            provider.offerHeld = kept;
            provider.lose(dropped);
            await(() -> g.stripeStatuses().stream().allMatch(s -> s.state() == GeneratorStatus.State.LIVE), "all live again");
            assertEquals(List.of(kept), provider.offeredHeld, "the test offered the held worker ID");
            Set<Integer> held = new HashSet<>();
            for (GeneratorStatus s : g.stripeStatuses()) {
                assertTrue(held.add(s.workerId()), "two stripes hold one worker ID: " + g.stripeStatuses());
            }
            assertEquals(kept, stripes[0].workerId());
            ExecutorService pool = Executors.newFixedThreadPool(6);
            executors.add(pool);
            List<Future<long[]>> results = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                results.add(pool.submit(() -> {
                    long[] out = new long[30_000];
                    g.next(out);
                    return out;
                }));
            }
            for (Future<long[]> f : results) {
                for (long id : f.get()) {
                    assertTrue(ids.add(id), "repeated " + Long.toUnsignedString(id));
                }
            }
        }
    }

    /**
     * HELD (claim 4): a spill never issues from a stripe whose term is stopped. With the clock frozen, a thread uses up its
     * home stripe's millisecond; the other stripe's lease was dropped just before, so the spill must skip it (its sequencer is
     * sealed) and nothing is issued under the dropped lease; the call then waits on its home stripe and, the clock staying
     * frozen, is refused after the backward wait like an unstriped generator.
     */
    @Test
    void held_aSpillSkipsAStripeWhoseLeaseWasDropped() throws Exception {
        StripedGeneratorTest.PoolProvider provider = new StripedGeneratorTest.PoolProvider();
        TestClock clock = new TestClock();
        try (IdGenerator g = pool(provider, 2).clock(clock).maxBackwardWait(Duration.ofMillis(50)).build()) {
            EkkoGenerator[] stripes = ((StripedGenerator) g).stripes();
            int home = (int) (Thread.currentThread().getId() % 2);
            int otherWorker = stripes[1 - home].workerId();
            g.next();
            clock.stepMillis(5);
            clock.freeze();
            provider.exhausted = true;
            provider.lose(otherWorker);
            List<Long> ids = new ArrayList<>();
            assertThrows(dev.ekko.ClockMovedBackwardsException.class, () -> {
                for (;;) {
                    ids.add(g.next());
                }
            });
            for (long id : ids) {
                DecodedId d = layout.decode(id);
                assertNotEquals(otherWorker, d.worker(), "a spill issued under a dropped lease");
                assertEquals(clock.millis(), d.epochMillis());
            }
            // The home stripe entered the millisecond from one with a single ID (not used up): at the hash.
            assertEquals(1024 - Sequencer.firstSequence(clock.millis() - layout.epochMillis()), ids.size());
        }
    }

    /**
     * HELD (claim 4): a spill never issues past the target stripe's issue limit (its forced, reported reservation). Leases
     * that do not expire (as host-local's), reservation 1 s; stripe B's coordinator stops answering, then the wall clock
     * jumps 5 s ahead and stands still. A thread whose home is A extends A's reservation on its slow path and uses up the
     * millisecond; the spill must skip B (past its limit, which only B's own claim may try to extend), and B's home callers are
     * served by A. Nothing of B is past B's forced reservation.
     */
    @Test
    void held_aSpillNeverIssuesPastTheTargetStripesReservation() throws Exception {
        HandBackProvider provider = new HandBackProvider();
        provider.ttl = Duration.ZERO;
        TestClock clock = new TestClock();
        try (IdGenerator g = pool(provider, 2).clock(clock).reservation(Duration.ofSeconds(1)).maxBackwardWait(Duration.ofMillis(50))
                .build()) {
            EkkoGenerator[] stripes = ((StripedGenerator) g).stripes();
            int home = (int) (Thread.currentThread().getId() % 2);
            EkkoGenerator b = stripes[1 - home];
            int bWorker = b.workerId();
            g.next();
            provider.down.add(bWorker);
            await(() -> b.status().lastRenewal().map(r -> !r.succeeded()).orElse(false), "a failed renewal of B");
            long bLimit = b.status().issueLimit().orElseThrow().toEpochMilli();
            clock.stepMillis(5_000);
            clock.freeze();
            assertTrue(clock.millis() > bLimit);
            List<Long> ids = new ArrayList<>();
            assertThrows(dev.ekko.ClockMovedBackwardsException.class, () -> {
                for (;;) {
                    ids.add(g.next());
                }
            });
            for (long id : ids) {
                DecodedId d = layout.decode(id);
                assertNotEquals(bWorker, d.worker(), "a spill issued past stripe B's reservation " + bLimit + ": " + d);
            }
            // The home stripe entered the millisecond from one with a single ID (not used up): at the hash.
            assertEquals(1024 - Sequencer.firstSequence(clock.millis() - layout.epochMillis()), ids.size());
            // A caller whose home is B is served by A (B's own claim cannot extend its reservation).
            long served = threadWithHome(1 - home, 2).submit(() -> {
                try {
                    return g.next();
                } catch (dev.ekko.ClockMovedBackwardsException e) {
                    return -1L;
                }
            }).get(30, TimeUnit.SECONDS);
            assertTrue(served == -1L || layout.decode(served).worker() != bWorker);
        }
    }

    /**
     * HELD (claim 1, two processes on one host): two child JVMs with 3 stripes each, host-local, one host lock directory,
     * each its own state directory, running at the same time, then the first killed and a third started on its state
     * directory: six distinct worker IDs at a time, no ID repeated across all three.
     */
    @Test
    void held_twoStripedProcessesOnOneHostAndARestartAfterKillRepeatNothing() throws Exception {
        Map<String, String> a = Map.of("ekko.state.dir", stateDir.resolve("a").toString(), "ekko.host.lock.dir", hostLocks.toString(),
                "ekko.worker.allocator", "host-local", "ekko.worker.stripes", "3");
        Map<String, String> b = Map.of("ekko.state.dir", stateDir.resolve("b").toString(), "ekko.host.lock.dir", hostLocks.toString(),
                "ekko.worker.allocator", "host-local", "ekko.worker.stripes", "3");
        Set<Long> all = new HashSet<>();
        try (dev.ekko.testkit.ChildJvm first = dev.ekko.testkit.ChildJvm.start(a);
                dev.ekko.testkit.ChildJvm second = dev.ekko.testkit.ChildJvm.start(b)) {
            assertTrue(first.ready(), first.firstLine());
            assertTrue(second.ready(), second.firstLine());
            Set<Integer> firstWorkers = new HashSet<>();
            Set<Integer> secondWorkers = new HashSet<>();
            for (int round = 0; round < 3; round++) {
                for (long id : first.next(20_000)) {
                    assertTrue(all.add(id), "repeated " + Long.toUnsignedString(id));
                    firstWorkers.add(layout.decode(id).worker());
                }
                for (long id : second.next(20_000)) {
                    assertTrue(all.add(id), "repeated " + Long.toUnsignedString(id));
                    secondWorkers.add(layout.decode(id).worker());
                }
            }
            Set<Integer> both = new HashSet<>(firstWorkers);
            both.retainAll(secondWorkers);
            assertTrue(both.isEmpty(), "two processes issued under one worker ID: " + firstWorkers + " / " + secondWorkers);
            first.kill();
            try (dev.ekko.testkit.ChildJvm third = dev.ekko.testkit.ChildJvm.start(a)) {
                assertTrue(third.ready(), third.firstLine());
                for (long id : third.next(60_000)) {
                    assertTrue(all.add(id), "repeated after the restart " + Long.toUnsignedString(id));
                    assertTrue(!secondWorkers.contains(layout.decode(id).worker()), "worker ID of the live second process");
                }
            }
        }
    }

    /**
     * HELD (claims 1, 4; invariant 7 per stripe): a spill that passed the target stripe's permission check and stalled right
     * there (stopped inside the fence's clock read in {@code Term.mayIssue}, as in StatusReviewTest) while the target stripe's
     * lease is dropped cannot issue afterwards: the drop sealed the target's sequencer, so the spill's CAS fails and it takes
     * nothing under the dropped lease.
     */
    @Test
    void held_aSpillStalledInsideItsPermissionCheckWhileTheTargetStripeIsLostIssuesNothingUnderTheLostLease() throws Exception {
        StripedGeneratorTest.PoolProvider provider = new StripedGeneratorTest.PoolProvider();
        TestClock base = new TestClock();
        StatusReviewTest.TrapClock clock = new StatusReviewTest.TrapClock(base);
        try (IdGenerator g = pool(provider, 2).clock(clock).build()) {
            EkkoGenerator[] stripes = ((StripedGenerator) g).stripes();
            int bWorker = stripes[1].workerId();
            g.next();
            base.stepMillis(5);
            base.freeze();
            long ms = base.millis();
            // Stripe 0 enters ms from a millisecond with a single ID or from its start state, neither used up: at the hash.
            int fresh = (int) (1024 - Sequencer.firstSequence(ms - layout.epochMillis()));
            // Another thread at home on stripe 0 uses stripe 0's millisecond up, without spilling.
            List<Long> first = threadWithHome(0, 2).submit(() -> {
                List<Long> out = new ArrayList<>();
                for (int i = 0; i < fresh; i++) {
                    out.add(g.next());
                }
                return out;
            }).get(30, TimeUnit.SECONDS);
            for (long id : first) {
                assertEquals(stripes[0].workerId(), layout.decode(id).worker());
                assertEquals(ms, layout.decode(id).epochMillis());
            }
            // The caller's first clock.nanos() is the fence check of its spill into stripe 1 (claimIn -> Term.mayIssue).
            ExecutorService callerPool = threadWithHome(0, 2);
            Thread caller = callerPool.submit(Thread::currentThread).get();
            clock.arm(caller, 0);
            Future<Long> spilled = callerPool.submit(() -> g.next());
            assertTrue(clock.entered.await(10, TimeUnit.SECONDS), "the spill never reached the fence check");
            provider.lose(bWorker);
            clock.release.countDown();
            Thread.sleep(20);
            base.unfreeze();
            base.stepMillis(1);
            DecodedId d = layout.decode(spilled.get(30, TimeUnit.SECONDS));
            assertNotEquals(bWorker, d.worker(), "a stalled spill issued under the dropped lease: " + d);
            assertEquals(stripes[0].workerId(), d.worker());
        } finally {
            clock.release.countDown();
        }
    }

    /** HELD (claim 6): bad values are refused naming the key, the value and what is allowed; the pool bound follows product bits. */
    @Test
    void held_badStripeSettingsNameKeyValueAndRange() {
        IllegalArgumentException negative = assertThrows(IllegalArgumentException.class, () -> Ekko.newBuilder().stripes(-1));
        assertEquals("must be >= 1 && <= 64: ekko.worker.stripes=-1", negative.getMessage());
        IllegalArgumentException env = assertThrows(IllegalArgumentException.class,
                () -> Ekko.newBuilder().setting("ekko.worker.stripes", "1.5"));
        assertTrue(env.getMessage().endsWith("ekko.worker.stripes=1.5"), env.getMessage());
        IllegalStateException withManual = assertThrows(IllegalStateException.class, () -> Ekko.newBuilder().stateDirectory(stateDir)
                .hostLockDirectory(hostLocks).allocator("manual").workerId(1).stripes(3).build());
        assertTrue(withManual.getMessage().contains("ekko.worker.stripes=3"), withManual.getMessage());
        IllegalStateException small = assertThrows(IllegalStateException.class, () -> Ekko.newBuilder().stateDirectory(stateDir)
                .hostLockDirectory(hostLocks).allocator("host-local").productBits(4).setting("ekko.worker.ids", "8").stripes(9).build());
        assertEquals("must be <= ekko.worker.ids=8 (each stripe holds a worker ID of its own): ekko.worker.stripes=9", small.getMessage());
        try (IdGenerator g = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).allocator("host-local")
                .productBits(4).stripes(64).build()) {
            assertEquals(64, g.stripeStatuses().stream().map(GeneratorStatus::workerId).distinct().count());
            assertThrows(IllegalArgumentException.class, () -> g.forProduct(16));
            assertEquals(15, layout(g).decode(g.forProduct(15).next()).product());
        }
    }

    private static Layout layout(IdGenerator g) {
        return g.layout();
    }

    /**
     * HELD (claim 1, close racing calls): threads calling every API (next, next(long[]), nextRange, a forProduct view) while
     * the generator is closed get IDs or GeneratorClosedException, never a repeat and never anything else.
     */
    @Test
    void held_closeRacingCallsRepeatsNothing() throws Exception {
        for (int round = 0; round < 5; round++) {
            IdGenerator g = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).allocator("host-local").stripes(3)
                    .productBits(1).build();
            IdGenerator view = g.forProduct(1);
            ExecutorService pool = Executors.newFixedThreadPool(6);
            executors.add(pool);
            List<Future<List<Long>>> results = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                int mode = t % 4;
                results.add(pool.submit(() -> {
                    List<Long> out = new ArrayList<>();
                    long[] buf = new long[700];
                    try {
                        for (;;) {
                            if (mode == 0) {
                                out.add(g.next());
                            } else if (mode == 1) {
                                g.next(buf);
                                for (long id : buf) {
                                    out.add(id);
                                }
                            } else if (mode == 2) {
                                IdRange r = g.nextRange(300);
                                for (int j = 0; j < r.count(); j++) {
                                    out.add(r.get(j));
                                }
                            } else {
                                out.add(view.next());
                            }
                        }
                    } catch (dev.ekko.GeneratorClosedException e) {
                        return out;
                    }
                }));
            }
            Thread.sleep(30);
            g.close();
            Set<Long> all = new HashSet<>();
            for (Future<List<Long>> f : results) {
                for (long id : f.get(30, TimeUnit.SECONDS)) {
                    assertTrue(all.add(id), "repeated " + Long.toUnsignedString(id));
                }
            }
            pool.shutdown();
        }
    }

    /** HELD (claim 5): after close, status(), unavailableReason() and next(Duration) all say closed, also through a view. */
    @Test
    void held_closedIsReportedEverywhere() {
        IdGenerator g = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).allocator("host-local").stripes(2)
                .productBits(1).build();
        IdGenerator view = g.forProduct(1);
        g.next();
        g.close();
        assertEquals(GeneratorStatus.State.CLOSED, view.status().state());
        assertTrue(view.unavailableReason().orElseThrow().startsWith("generator is closed"));
        assertThrows(dev.ekko.GeneratorClosedException.class, () -> view.next(Duration.ofSeconds(1)));
        assertThrows(dev.ekko.GeneratorClosedException.class, () -> g.nextRange(5));
    }
}
