package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.ClockMovedBackwardsException;
import dev.ekko.DecodedId;
import dev.ekko.Ekko;
import dev.ekko.GeneratorClosedException;
import dev.ekko.GeneratorStatus;
import dev.ekko.IdGenerator;
import dev.ekko.IdRange;
import dev.ekko.Layout;
import dev.ekko.LeaseLostException;
import dev.ekko.WorkerIdsExhaustedException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testkit.ChildJvm;
import dev.ekko.testkit.TestClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Striping ({@code ekko.worker.stripes}): several worker IDs in one generator. Tries to break uniqueness and the ordering
 * it claims under many threads, the k × 1,024 IDs a millisecond, per-stripe state files and leases, and close.
 */
class StripedGeneratorTest {

    @TempDir
    Path stateDir;

    /** Its own host lock directory, so worker IDs do not contend with other tests or test runs on this host. */
    @TempDir
    Path hostLocks;

    private final Layout layout = Layout.defaults();

    private Ekko.Builder hostLocal(int stripes) {
        return Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).allocator("host-local").stripes(stripes);
    }

    private static Set<Integer> workers(IdGenerator g) {
        return g.stripeStatuses().stream().map(GeneratorStatus::workerId).collect(Collectors.toCollection(TreeSet::new));
    }

    @ParameterizedTest(name = "stripes={0}")
    @ValueSource(ints = {2, 4})
    void threadsNeverShareAnIdAndTheClaimedOrderHolds(int stripes) throws Exception {
        int threads = 8;
        int perThread = 120_000;
        try (IdGenerator g = hostLocal(stripes).build()) {
            assertInstanceOf(StripedGenerator.class, g);
            Set<Integer> held = workers(g);
            assertEquals(stripes, held.size(), "two stripes got the same worker ID: " + g.stripeStatuses());
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            CountDownLatch go = new CountDownLatch(1);
            List<Future<long[]>> results = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int mode = t % 3;
                results.add(pool.submit(() -> {
                    long[] ids = new long[perThread];
                    go.await();
                    int i = 0;
                    while (i < perThread) {
                        if (mode == 0) {
                            ids[i++] = g.next();
                        } else if (mode == 1) {
                            int n = Math.min(perThread - i, 1 + (i % 1500));
                            g.next(ids, i, n);
                            i += n;
                        } else {
                            IdRange r = g.nextRange(Math.min(perThread - i, 100));
                            for (int j = 0; j < r.count(); j++) {
                                ids[i++] = r.get(j);
                            }
                        }
                    }
                    return ids;
                }));
            }
            go.countDown();
            long[] all = new long[threads * perThread];
            int k = 0;
            Set<Integer> seen = new TreeSet<>();
            for (Future<long[]> f : results) {
                long[] ids = f.get();
                Map<Integer, Long> lastPerWorker = new HashMap<>();
                long lastMillis = Long.MIN_VALUE;
                for (int i = 0; i < ids.length; i++) {
                    DecodedId d = layout.decode(ids[i]);
                    // A thread's IDs never go back in time...
                    assertTrue(d.epochMillis() >= lastMillis, "a thread's millisecond went back at " + i);
                    lastMillis = d.epochMillis();
                    // ...and those of one stripe strictly increase (they do across all threads, in CAS order).
                    Long before = lastPerWorker.put(d.worker(), ids[i]);
                    assertTrue(before == null || Layout.compare(before, ids[i]) < 0, "a stripe's IDs not increasing at " + i);
                    seen.add(d.worker());
                }
                System.arraycopy(ids, 0, all, k, ids.length);
                k += ids.length;
            }
            pool.shutdown();
            Arrays.sort(all);
            for (int i = 1; i < all.length; i++) {
                assertNotEquals(all[i - 1], all[i], "duplicate ID " + Long.toUnsignedString(all[i]));
            }
            assertEquals(held, seen, "IDs came from worker IDs the generator does not hold, or a stripe was never used");
            assertEquals((long) threads * perThread, g.status().counters().idsIssued());
        }
    }

    /**
     * With the wall clock frozen, one thread gets every number of the millisecond from every stripe, then waits (and, the
     * clock staying frozen, is refused after the backward wait, like an unstriped generator).
     */
    @ParameterizedTest(name = "batch={0}")
    @ValueSource(ints = {1, 700})
    void oneThreadGetsEveryStripesMillisecondBeforeItWaits(int batch) {
        TestClock clock = new TestClock();
        try (IdGenerator g = hostLocal(3).clock(clock).maxBackwardWait(Duration.ofMillis(50)).build()) {
            g.next(); // every stripe issues from here on without a start floor to wait for
            clock.stepMillis(5);
            clock.freeze();
            long ms = clock.millis();
            List<Long> ids = new ArrayList<>();
            long[] buffer = new long[batch];
            assertThrows(ClockMovedBackwardsException.class, () -> {
                for (;;) {
                    if (batch == 1) {
                        ids.add(g.next());
                    } else {
                        g.next(buffer);
                        for (long id : buffer) {
                            ids.add(id);
                        }
                    }
                }
            });
            Map<Integer, Integer> perWorker = new HashMap<>();
            for (long id : ids) {
                DecodedId d = layout.decode(id);
                assertEquals(ms, d.epochMillis());
                perWorker.merge(d.worker(), 1, Integer::sum);
            }
            // Every stripe enters ms from a millisecond it did not use up (the home one issued one ID, the others are at their
            // start states), so at the hash; AdaptiveSpreadTest covers a spill into stripes that used theirs up.
            long first = Sequencer.firstSequence(ms - layout.epochMillis());
            int expected = (int) (3 * (1024 - first));
            // A batch that does not fit the last stripe's rest takes what is left, then the next call waits.
            assertTrue(ids.size() <= expected && ids.size() > expected - batch, ids.size() + " IDs, expected " + expected);
            if (batch == 1) {
                assertEquals(expected, ids.size());
                assertEquals(workers(g), perWorker.keySet());
                perWorker.values().forEach(n -> assertEquals(1024 - first, (long) n));
            }
            assertEquals(ids.size(), new TreeSet<>(ids).size());
            assertEquals(1, g.status().counters().nextMillisecondWaits(), "only the call after all stripes are used up waits");
            clock.unfreeze();
            clock.stepMillis(1);
            assertTrue(layout.decode(g.next()).epochMillis() > ms);
        }
    }

    @Test
    void eachStripeKeepsItsOwnStateFileAndARestartAfterSigkillRepeatsNothing() throws Exception {
        Map<String, String> s = Map.of("ekko.state.dir", stateDir.toString(), "ekko.host.lock.dir", hostLocks.toString(),
                "ekko.worker.allocator", "host-local", "ekko.worker.stripes", "3");
        long[] first;
        try (ChildJvm child = ChildJvm.start(s)) {
            assertTrue(child.ready(), child.firstLine());
            first = child.next(200_000);
            child.kill();
        }
        Map<Integer, Long> lastPerWorker = new HashMap<>();
        for (long id : first) {
            lastPerWorker.merge(layout.decode(id).worker(), id, (a, b) -> Layout.compare(a, b) >= 0 ? a : b);
        }
        // Three state files, one per stripe's worker ID, whichever stripes the one thread reached (it spills to the others
        // only when it uses a millisecond up, so a slow child JVM may not reach all three).
        try (java.util.stream.Stream<Path> files = Files.list(stateDir)) {
            assertEquals(3, files.filter(f -> f.getFileName().toString().matches("idc0-worker\\d+\\.state")).count());
        }
        for (int w : lastPerWorker.keySet()) {
            assertTrue(Files.exists(stateDir.resolve("idc0-worker" + w + ".state")), "no state file for worker " + w);
        }
        try (ChildJvm child = ChildJvm.start(s)) {
            assertTrue(child.ready(), child.firstLine());
            long[] second = child.next(60_000);
            Set<Long> before = Arrays.stream(first).boxed().collect(Collectors.toSet());
            for (long id : second) {
                assertFalse(before.contains(id), "repeated after the restart: " + Long.toUnsignedString(id));
                Long last = lastPerWorker.get(layout.decode(id).worker());
                assertTrue(last == null || Layout.compare(id, last) > 0, "not past the killed process's IDs of its worker ID");
            }
        }
    }

    /**
     * Two threads that call in turn start at different stripes, whatever their thread IDs: here both IDs are even, so a home
     * of thread ID modulo 2 put both on one stripe (two callers contending on one word while the other stripe idled: the
     * bimodal bounded-lead figures of the 2-thread benchmark).
     */
    @Test
    void twoThreadsThatCallInTurnStartAtDifferentStripesWhateverTheirThreadIds() throws Exception {
        try (IdGenerator g = hostLocal(2).build()) {
            Set<Integer> firstWorkers = new TreeSet<>();
            for (int i = 0; i < 2; i++) {
                long[] id = new long[1];
                Thread caller = new Thread(() -> id[0] = g.next());
                while (caller.getId() % 2 != 0) { // thread IDs are handed out in turn: the next one is even
                    caller = new Thread(() -> id[0] = g.next());
                }
                caller.start();
                caller.join();
                firstWorkers.add(layout.decode(id[0]).worker());
            }
            assertEquals(new TreeSet<>(workers(g)), firstWorkers, "each thread's first ID came from its own stripe");
        }
    }

    @Test
    void twoStripedGeneratorsInOneProcessNeverHoldTheSameWorkerId() {
        try (IdGenerator a = hostLocal(4).build(); IdGenerator b = hostLocal(4).stateDirectory(stateDir.resolve("b")).build()) {
            Set<Integer> all = new TreeSet<>(workers(a));
            all.addAll(workers(b));
            assertEquals(8, all.size(), a.stripeStatuses() + " / " + b.stripeStatuses());
        }
    }

    @Test
    void closeReleasesEveryWorkerIdAndAFailedStartReleasesThoseItTook() {
        Set<Integer> held;
        IdGenerator g = hostLocal(3).build();
        held = workers(g);
        g.next();
        g.close();
        assertThrows(GeneratorClosedException.class, g::next);
        assertTrue(g.unavailableReason().orElseThrow().startsWith("generator is closed"));
        assertEquals(GeneratorStatus.State.CLOSED, g.status().state());
        g.close(); // idempotent
        // Free again: each worker ID can be taken by a manual generator.
        for (int w : held) {
            try (IdGenerator m = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).workerId(w).build()) {
                assertEquals(w, layout.decode(m.next()).worker());
            }
        }
        // Two worker IDs in the pool, one held elsewhere: the second stripe cannot start, the first gives its own back.
        try (IdGenerator other = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).workerId(0).build()) {
            WorkerIdsExhaustedException e = assertThrows(WorkerIdsExhaustedException.class,
                    () -> hostLocal(2).setting("ekko.worker.ids", "2").build());
            assertTrue(e.getMessage().startsWith("all 2 worker IDs of idc=0 are held"), e.getMessage());
            try (IdGenerator one = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).workerId(1).build()) {
                assertEquals(1, one.workerId());
            }
            assertEquals(0, other.workerId());
        }
    }

    @Test
    void badSettingsAreRefusedNamingTheKeyTheValueAndWhatIsAllowed() {
        IllegalArgumentException zero = assertThrows(IllegalArgumentException.class, () -> Ekko.newBuilder().stripes(0));
        assertEquals("must be >= 1 && <= 64: ekko.worker.stripes=0", zero.getMessage());
        IllegalArgumentException many = assertThrows(IllegalArgumentException.class,
                () -> Ekko.newBuilder().setting("ekko.worker.stripes", "65"));
        assertEquals("must be >= 1 && <= 64: ekko.worker.stripes=65", many.getMessage());
        IllegalArgumentException text = assertThrows(IllegalArgumentException.class,
                () -> Ekko.newBuilder().setting("ekko.worker.stripes", "two"));
        assertEquals("must be an integer >= 1 && <= 64: ekko.worker.stripes=two", text.getMessage());
        IllegalStateException manual = assertThrows(IllegalStateException.class,
                () -> Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).workerId(3).stripes(2).build());
        assertEquals("must be 1 with ekko.worker.allocator=manual, which holds the one worker ID of ekko.worker.id:"
                + " ekko.worker.stripes=2; to hold several worker IDs, use ekko.worker.allocator=host-local or a coordinator"
                + " (redis, mysql, etcd)", manual.getMessage());
        IllegalStateException pool = assertThrows(IllegalStateException.class,
                () -> hostLocal(5).setting("ekko.worker.ids", "4").build());
        assertEquals("must be <= ekko.worker.ids=4 (each stripe holds a worker ID of its own): ekko.worker.stripes=5",
                pool.getMessage());
        assertEquals("EKKO_WORKER_STRIPES", ConfigKeys.envName(ConfigKeys.STRIPES));
    }

    @Test
    void oneStripeIsTheUnstripedGenerator() {
        try (IdGenerator g = hostLocal(1).build()) {
            assertInstanceOf(EkkoGenerator.class, g);
            assertEquals(List.of(g.status()).size(), g.stripeStatuses().size());
        }
    }

    @Test
    void viewsBatchesAndTimeoutsWorkAcrossStripes() {
        try (IdGenerator g = hostLocal(2).productBits(2).product(1).build()) {
            assertEquals(1, g.product());
            IdGenerator view = g.forProduct(3);
            assertTrue(g.forProduct(1) == g);
            assertEquals(3, view.product());
            assertEquals(3, layout(g).decode(view.next()).product());
            assertEquals(3, layout(g).decode(view.next(Duration.ofSeconds(1))).product());
            long[] ids = new long[5000];
            view.next(ids);
            for (long id : ids) {
                assertEquals(3, layout(g).decode(id).product());
            }
            IdRange r = view.nextRange(2000);
            assertTrue(r.count() >= 1 && r.count() <= 1024, r.toString());
            assertEquals(3, layout(g).decode(r.get(r.count() - 1)).product());
            assertEquals(1, layout(g).decode(g.next()).product());
            assertThrows(IllegalArgumentException.class, () -> g.forProduct(4));
            assertThrows(IllegalArgumentException.class, () -> view.nextRange(0));
            assertThrows(IllegalArgumentException.class, () -> g.next(Duration.ofMillis(-1)));
            view.close(); // a view closes nothing
            assertEquals(1, layout(g).decode(g.next()).product());
            assertEquals(3, view.status().product());
            assertEquals(GeneratorStatus.State.LIVE, view.status().state());
            assertTrue(g.unavailableReason().isEmpty());
            assertTrue(g.toString().contains("stripes=2"), g.toString());
        }
    }

    private static Layout layout(IdGenerator g) {
        return g.layout();
    }

    // ---------------------------------------------------------------- a stripe losing its lease

    /**
     * As StripingReviewTest's foundInReview_1 for {@code next()}, through {@code next(long[])} and {@code nextRange}: every
     * stripe used the frozen millisecond up, the caller waits on its home stripe, the home stripe loses its lease during the
     * wait; the call is served by the other stripe in the next millisecond, not refused.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"array", "range"})
    void aHomeStripeLostWhileAnArrayOrRangeCallWaitsForTheNextMillisecondIsServedByTheOtherStripe(String api) throws Exception {
        PoolProvider provider = new PoolProvider();
        TestClock clock = new TestClock();
        ExecutorService caller = Executors.newSingleThreadExecutor();
        try (IdGenerator g = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).allocatorProvider(provider)
                .instance("app").stripes(2).reportInterval(Duration.ofMillis(200)).leaseMargin(Duration.ofMillis(500))
                .maxClockSkew(Duration.ofMillis(100)).leaseTtl(Duration.ofSeconds(10)).clock(clock).build()) {
            EkkoGenerator[] stripes = ((StripedGenerator) g).stripes();
            EkkoGenerator home = stripes[caller.submit(StripedGenerator::callerNumber).get() % 2];
            int homeWorker = home.workerId();
            g.next();
            clock.stepMillis(5);
            clock.freeze();
            long waitsBefore = home.status().counters().nextMillisecondWaits();
            AtomicBoolean released = new AtomicBoolean();
            Future<Long> last = caller.submit(() -> {
                long[] buf = new long[300];
                for (;;) {
                    long id;
                    if (api.equals("array")) {
                        g.next(buf);
                        id = buf[buf.length - 1];
                    } else {
                        IdRange r = g.nextRange(300);
                        id = r.get(r.count() - 1);
                    }
                    if (released.get()) {
                        return id;
                    }
                }
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (home.status().counters().nextMillisecondWaits() == waitsBefore) {
                assertTrue(System.nanoTime() < deadline, "never waited on the home stripe");
                Thread.sleep(2);
            }
            provider.lose(homeWorker);
            released.set(true);
            Thread.sleep(50);
            clock.unfreeze();
            clock.stepMillis(1);
            DecodedId d = layout.decode(last.get(10, TimeUnit.SECONDS));
            assertNotEquals(homeWorker, d.worker(), "served by the lost home stripe: " + d);
        } finally {
            caller.shutdownNow();
        }
    }

    /** Leases worker IDs 0, 1, 2, ... from one pool shared by every stripe's allocator; leases can be lost on demand. */
    static final class PoolProvider implements WorkerAllocatorProvider {
        final Set<Integer> taken = ConcurrentHashMap.newKeySet();
        final List<String> released = new CopyOnWriteArrayList<>();
        final List<AllocatorContext> contexts = new CopyOnWriteArrayList<>();
        final Map<Integer, WorkerLease> leases = new ConcurrentHashMap<>();
        final Map<Integer, AllocatorContext> owners = new ConcurrentHashMap<>();
        volatile boolean exhausted;

        @Override
        public String name() {
            return "test-pool";
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
            contexts.add(context);
            return new WorkerAllocator() {
                @Override
                public WorkerLease acquire() {
                    if (exhausted) {
                        throw new WorkerIdsExhaustedException("none left (test)");
                    }
                    for (int w = 0; ; w++) {
                        if (taken.add(w)) {
                            WorkerLease l = new WorkerLease(w, UUID.randomUUID().toString(), Duration.ofSeconds(10), System.nanoTime(),
                                    Handover.mark(0), WorkerLease.UNKNOWN_TIME, null);
                            leases.put(w, l);
                            owners.put(w, context);
                            return l;
                        }
                    }
                }

                @Override
                public WorkerLease renew(WorkerLease lease, ClockReport report) {
                    if (leases.get(lease.workerId()) == null || !leases.get(lease.workerId()).token().equals(lease.token())) {
                        throw new LeaseLostException("lease of worker " + lease.workerId() + " is gone");
                    }
                    return lease.renewed(System.nanoTime(), WorkerLease.UNKNOWN_TIME);
                }

                @Override
                public void release(WorkerLease lease, ClockReport finalReport) {
                    released.add(context.instance() + ":" + lease.workerId());
                    leases.remove(lease.workerId(), lease);
                    taken.remove(lease.workerId());
                }

                @Override
                public void close() {
                }
            };
        }

        /** The coordinator drops a lease and tells its holder, as etcd's watch would; the worker ID stays taken. */
        void lose(int worker) {
            WorkerLease l = leases.remove(worker);
            owners.get(worker).leaseListener().leaseLost(l, "dropped by the test");
        }
    }

    @Test
    void aStripeThatLosesItsLeaseStopsAloneWhileTheOthersGoOnAndComesBack() throws Exception {
        PoolProvider provider = new PoolProvider();
        try (IdGenerator g = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).allocatorProvider(provider)
                .instance("app").stripes(3).reportInterval(Duration.ofMillis(200)).leaseMargin(Duration.ofMillis(500))
                .maxClockSkew(Duration.ofMillis(100)).leaseTtl(Duration.ofSeconds(10)).build()) {
            assertEquals(Set.of(0, 1, 2), workers(g));
            assertEquals(Set.of("app", "app.stripe1", "app.stripe2"),
                    provider.contexts.stream().map(AllocatorContext::instance).collect(Collectors.toSet()));
            provider.lose(1);
            assertEquals(List.of(GeneratorStatus.State.LIVE, GeneratorStatus.State.LOST, GeneratorStatus.State.LIVE),
                    g.stripeStatuses().stream().sorted(java.util.Comparator.comparingInt(GeneratorStatus::workerId))
                            .map(GeneratorStatus::state).collect(Collectors.toList()), g.stripeStatuses().toString());
            // Every thread, whatever its home stripe, is served by the two others, and nothing comes from worker 1.
            ExecutorService pool = Executors.newFixedThreadPool(6);
            List<Future<long[]>> results = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                results.add(pool.submit(() -> {
                    long[] ids = new long[20_000];
                    for (int i = 0; i < ids.length; i++) {
                        ids[i] = g.next();
                    }
                    return ids;
                }));
            }
            for (Future<long[]> f : results) {
                for (long id : f.get()) {
                    assertNotEquals(1, layout.decode(id).worker());
                }
            }
            pool.shutdown();
            GeneratorStatus whole = g.status();
            assertEquals(GeneratorStatus.State.LIVE, whole.state(), whole.toString());
            assertTrue(g.unavailableReason().isEmpty());
            assertEquals(1, whole.counters().leaseLosses());
            // The keeper acquires again (worker 1 is still taken at the coordinator, so another one) and the stripe issues.
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (g.stripeStatuses().stream().anyMatch(s -> s.state() != GeneratorStatus.State.LIVE) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(Set.of(0, 2, 3), workers(g), g.stripeStatuses().toString());
            assertEquals(1, g.status().counters().reacquires());
            // All three are lost and no worker ID is left: every caller is refused, with the home stripe's reason.
            provider.exhausted = true;
            provider.lose(0);
            provider.lose(2);
            provider.lose(3);
            assertThrows(LeaseLostException.class, g::next);
            assertThrows(LeaseLostException.class, () -> g.next(new long[10]));
            assertTrue(g.unavailableReason().orElseThrow().startsWith("none of the 3 stripes may issue; the first: "),
                    g.unavailableReason().get());
            assertNotEquals(GeneratorStatus.State.LIVE, g.status().state());
        }
    }
    @Test
    void leasesLostWhileThreadsHammerNeverRepeatAnIdNorSendAThreadBackInTime() throws Exception {
        PoolProvider provider = new PoolProvider();
        try (IdGenerator g = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).allocatorProvider(provider)
                .instance("app").stripes(3).reportInterval(Duration.ofMillis(100)).leaseMargin(Duration.ofMillis(500))
                .maxClockSkew(Duration.ofMillis(100)).leaseTtl(Duration.ofSeconds(10)).build()) {
            ExecutorService pool = Executors.newFixedThreadPool(4);
            CountDownLatch go = new CountDownLatch(1);
            List<Future<long[]>> results = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int mode = t % 2;
                results.add(pool.submit(() -> {
                    long[] ids = new long[400_000];
                    go.await();
                    int i = 0;
                    while (i < ids.length) {
                        try {
                            if (mode == 0) {
                                ids[i] = g.next(Duration.ofSeconds(5));
                                i++;
                            } else {
                                int n = Math.min(ids.length - i, 300);
                                g.next(ids, i, n);
                                i += n;
                            }
                        } catch (LeaseLostException e) {
                            // every stripe lost at once for a moment: a batch may have written part of its IDs; write them again
                        }
                    }
                    return ids;
                }));
            }
            go.countDown();
            // Lose a stripe's lease every 150 ms while they run; the keeper acquires another worker ID each time.
            for (int round = 0; round < 6; round++) {
                Thread.sleep(150);
                int w = g.stripeStatuses().get(round % 3).workerId();
                if (provider.leases.containsKey(w)) {
                    provider.lose(w);
                }
            }
            long[] all = new long[4 * 400_000];
            int k = 0;
            for (Future<long[]> f : results) {
                long[] ids = f.get();
                long lastMillis = Long.MIN_VALUE;
                Map<Integer, Long> lastPerWorker = new HashMap<>();
                for (long id : ids) {
                    DecodedId d = layout.decode(id);
                    assertTrue(d.epochMillis() >= lastMillis, "a thread's millisecond went back");
                    lastMillis = d.epochMillis();
                    Long before = lastPerWorker.put(d.worker(), id);
                    assertTrue(before == null || Layout.compare(before, id) < 0, "a stripe's IDs not increasing");
                }
                System.arraycopy(ids, 0, all, k, ids.length);
                k += ids.length;
            }
            pool.shutdown();
            Arrays.sort(all);
            for (int i = 1; i < all.length; i++) {
                assertNotEquals(all[i - 1], all[i], "duplicate ID " + Long.toUnsignedString(all[i]));
            }
            assertTrue(g.status().counters().leaseLosses() >= 1, g.status().toString());
        }
    }

    // ---------------------------------------------------------------- automatic mode

    private static void awaitStripes(IdGenerator g, int n) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (g.stripeStatuses().size() != n && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(n, g.stripeStatuses().size(), g.stripeStatuses().toString());
    }

    @Test
    void automaticModeAddsAStripeWhenCallersKeepWaitingAndClosesItWhenIdle() throws Exception {
        TestClock clock = new TestClock();
        try (IdGenerator g = hostLocal(1).maxStripes(3).stripeIdleTime(Duration.ofSeconds(1)).clock(clock)
                .maxBackwardWait(Duration.ZERO).build()) {
            assertInstanceOf(StripedGenerator.class, g);
            assertEquals(1, g.stripeStatuses().size());
            int first = g.workerId();
            g.next();
            clock.stepMillis(5);
            clock.freeze();
            long ms = clock.millis();
            // Use the frozen millisecond up, then wait for the next one (refused at once: no backward wait allowed), often.
            int waits = 0;
            while (waits < 3 * StripedGenerator.GROW_WAITS) {
                try {
                    g.next();
                } catch (ClockMovedBackwardsException e) {
                    waits++;
                }
                if (g.stripeStatuses().size() > 1) {
                    break;
                }
            }
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (g.stripeStatuses().size() < 2 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            // One stripe added, or two when the waits went on while the first was starting.
            Set<Integer> added = workers(g);
            assertTrue(added.remove(first) && !added.isEmpty() && added.size() <= 2, g.stripeStatuses().toString());
            assertEquals(first, g.workerId(), "the first stripe stays first");
            // An added stripe has the frozen millisecond's numbers: the thread gets them instead of waiting.
            DecodedId d = layout.decode(g.next());
            assertEquals(ms, d.epochMillis());
            assertTrue(added.contains(d.worker()), d.toString());
            long issued = g.status().counters().idsIssued();
            // Idle for longer than the idle time: the added stripes are closed and their worker IDs released; the first stays.
            clock.unfreeze();
            clock.stepMillis(1500);
            awaitStripes(g, 1);
            assertEquals(first, g.workerId());
            for (int w : added) {
                try (IdGenerator m = Ekko.newBuilder().stateDirectory(stateDir.resolve("m")).hostLockDirectory(hostLocks).workerId(w)
                        .build()) {
                    assertEquals(w, m.workerId());
                }
            }
            assertEquals(issued, g.status().counters().idsIssued(), "counters changed when a stripe was closed");
            Thread.sleep(3 * StripedGenerator.CHECK_INTERVAL_MILLIS);
            assertEquals(1, g.stripeStatuses().size(), "closed below the minimum");
            assertEquals(GeneratorStatus.State.LIVE, g.status().state());
        }
    }

    @Test
    void automaticModeKeepsIdsUniqueAndEachStripeIncreasingAcrossGrowAndShrink() throws Exception {
        TestClock clock = new TestClock();
        try (IdGenerator g = hostLocal(1).maxStripes(4).stripeIdleTime(Duration.ofSeconds(1)).clock(clock).build()) {
            StripedGenerator striped = (StripedGenerator) g;
            List<long[]> rounds = new ArrayList<>();
            int[] sizes = new int[3];
            for (int round = 0; round < 3; round++) {
                // Four threads as fast as they can: callers wait for the next millisecond, so stripes are added meanwhile.
                ExecutorService pool = Executors.newFixedThreadPool(4);
                List<Future<long[]>> results = new ArrayList<>();
                for (int t = 0; t < 4; t++) {
                    results.add(pool.submit(() -> {
                        long[] ids = new long[150_000];
                        long lastMillis = Long.MIN_VALUE;
                        for (int i = 0; i < ids.length; i++) {
                            ids[i] = g.next();
                            long m = layout.decode(ids[i]).epochMillis();
                            assertTrue(m >= lastMillis, "a thread's millisecond went back");
                            lastMillis = m;
                        }
                        return ids;
                    }));
                }
                for (Future<long[]> f : results) {
                    rounds.add(f.get());
                }
                pool.shutdown();
                sizes[round] = g.stripeStatuses().size();
                if (round < 2) {
                    // Idle: every stripe but the first is closed, one per check.
                    clock.stepMillis(1500);
                    long deadline = System.nanoTime() + 10_000_000_000L;
                    while (g.stripeStatuses().size() > 1 && System.nanoTime() < deadline) {
                        striped.adjust();
                        Thread.sleep(5);
                    }
                    assertEquals(1, g.stripeStatuses().size());
                }
            }
            assertTrue(sizes[0] > 1 && sizes[2] > 1, "no stripe was added: " + Arrays.toString(sizes));
            long[] all = rounds.stream().flatMapToLong(Arrays::stream).toArray();
            // Per worker ID, in the order the rounds ran: strictly increasing across a stripe's close and a new stripe on it.
            Map<Integer, Long> lastOfRound = new HashMap<>();
            for (int round = 0; round < 3; round++) {
                Map<Integer, Long> first = new HashMap<>();
                Map<Integer, Long> last = new HashMap<>();
                for (int t = 0; t < 4; t++) {
                    for (long id : rounds.get(round * 4 + t)) {
                        int w = layout.decode(id).worker();
                        first.merge(w, id, (a, b) -> Layout.compare(a, b) <= 0 ? a : b);
                        last.merge(w, id, (a, b) -> Layout.compare(a, b) >= 0 ? a : b);
                    }
                }
                for (Map.Entry<Integer, Long> e : first.entrySet()) {
                    Long before = lastOfRound.get(e.getKey());
                    assertTrue(before == null || Layout.compare(before, e.getValue()) < 0, "worker " + e.getKey() + " went back");
                }
                lastOfRound.putAll(last);
            }
            Arrays.sort(all);
            for (int i = 1; i < all.length; i++) {
                assertNotEquals(all[i - 1], all[i], "duplicate ID " + Long.toUnsignedString(all[i]));
            }
            assertEquals((long) all.length, g.status().counters().idsIssued());
        }
    }

    @Test
    void closeWhileTheStriperAddsStripesReleasesEveryWorkerId() throws Exception {
        for (int round = 0; round < 5; round++) {
            IdGenerator g = hostLocal(1).maxStripes(4).build();
            ExecutorService pool = Executors.newFixedThreadPool(2);
            List<Future<?>> callers = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                callers.add(pool.submit(() -> {
                    try {
                        for (;;) {
                            g.next();
                        }
                    } catch (GeneratorClosedException e) {
                        return null;
                    }
                }));
            }
            Thread.sleep(100 + 60 * round); // close at a different point of the growth each round
            g.close();
            for (Future<?> f : callers) {
                f.get();
            }
            pool.shutdown();
            Thread.sleep(50);
            // Every worker ID the striper may have taken is free again.
            for (int w = 0; w < 4; w++) {
                try (IdGenerator m = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).workerId(w).build()) {
                    assertEquals(w, m.workerId());
                }
            }
        }
    }

    /**
     * {@code ekko.worker.id} with stripes is the first stripe's preference only (found by the MariaDB striping review): every
     * stripe used to prefer it, so on a restart where it was free whichever stripe asked first took it, and a stripe other than
     * the first could take it from under its own instance's worker ID.
     */
    @Test
    void theConfiguredWorkerIdIsTheFirstStripesPreferenceOnly() {
        PoolProvider provider = new PoolProvider();
        try (IdGenerator g = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).allocatorProvider(provider)
                .instance("app").workerId(5).stripes(3).build()) {
            g.next();
            // Stripes start in parallel, so the contexts arrive in any order: compare them by instance.
            assertEquals(Map.of("app", 5, "app.stripe1", -1, "app.stripe2", -1), provider.contexts.stream()
                    .collect(Collectors.toMap(AllocatorContext::instance, AllocatorContext::preferredWorkerId)));
        }
    }

    @Test
    void automaticModeSettingsAreCheckedAgainstEachOther() {
        IllegalStateException below = assertThrows(IllegalStateException.class, () -> hostLocal(3).maxStripes(2).build());
        assertEquals("must be >= ekko.worker.stripes=3 (the stripes held from the start): ekko.worker.stripes.max=2", below.getMessage());
        IllegalStateException manual = assertThrows(IllegalStateException.class,
                () -> Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).workerId(3).maxStripes(2).build());
        assertTrue(manual.getMessage().startsWith("must be 1 with ekko.worker.allocator=manual, which holds the one worker ID of"
                + " ekko.worker.id: ekko.worker.stripes.max=2;"), manual.getMessage());
        IllegalStateException pool = assertThrows(IllegalStateException.class,
                () -> hostLocal(1).maxStripes(3).setting("ekko.worker.ids", "2").build());
        assertEquals("must be <= ekko.worker.ids=2 (each stripe holds a worker ID of its own): ekko.worker.stripes.max=3",
                pool.getMessage());
        IllegalArgumentException idle = assertThrows(IllegalArgumentException.class,
                () -> Ekko.newBuilder().stripeIdleTime(Duration.ofMillis(500)));
        assertEquals("must be >= 1s && <= 1h: ekko.worker.stripes.idle=500ms", idle.getMessage());
        IllegalArgumentException max = assertThrows(IllegalArgumentException.class, () -> Ekko.newBuilder().maxStripes(0));
        assertEquals("must be >= 1 && <= 64: ekko.worker.stripes.max=0", max.getMessage());
    }
}
