package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Ekko;
import dev.ekko.EkkoException;
import dev.ekko.GeneratorStatus;
import dev.ekko.IdGenerator;
import dev.ekko.IdRange;
import dev.ekko.Layout;
import dev.ekko.testkit.TestClock;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review of the adaptive spread (Sequencer.firstSequenceAfter / enter, GeneratorStats' three-part count), the home stripe
 * per thread (StripedGenerator.CALLER) and the start-up changes (ClassPreload, no lambdas, the INFO-guarded start line).
 * {@code foundInReview_N_...} tests fail on the code under review; {@code held_...} tests are attacks that passed.
 */
class SpreadReviewTest {

    @TempDir
    Path stateDir;

    @TempDir
    Path hostLocks;

    private final Layout layout = Layout.defaults();

    // ------------------------------------------------------------------------------------------------ findings

    /**
     * FINDING 1. {@code Sequencer.seal()} (Sequencer.java lines 138-149) writes {@code sealedFrom = s} before its CAS, for
     * the {@code s} it read. Two seals race whenever two threads stop one term (Term.stop is called without the
     * generator's monitor by {@code EkkoGenerator.leaseLost} on the allocator's thread and by {@code close()} on the
     * caller's; Term.stop's comment says every caller seals). Interleaving:
     * <ol>
     *   <li>seal A (close()) reads state s1 = (m, 1023) and is descheduled before line 144;</li>
     *   <li>a caller enters m + 1 (s2 = (m + 1, 0)): issuedBefore += 1024 for s1;</li>
     *   <li>seal B (leaseLost) writes sealedFrom = s2 and CASes s2 to SEALED;</li>
     *   <li>A resumes: sealedFrom = s1 (stale), its CAS from s1 fails, it reads SEALED and returns;</li>
     *   <li>close() flushes: issuedBefore += usedInCurrentMillisecond() = s1's 1024, a second time, s2's 1 never.</li>
     * </ol>
     * The count then exceeds the IDs issued by 1023, for good (the reported count is a running maximum), breaking
     * GeneratorStats' "never exceeds the IDs issued" and "exact after close"; and lastMillisOffset() (lead, the striped
     * failover floor homeMillis, the striper's idle rule, finalMarkMillis) reads m instead of m + 1. The state file's
     * mark is safe (advanceLastIssued only raises, and enter raised it to m + 1).
     *
     * <p>Fixed by making {@code seal()} hold the sequencer's monitor (claims never take it): a seal's write of sealedFrom and
     * its CAS are then one step among seals. No call-out lies between a seal's read and its write, so no hook can stall a
     * thread there; the test plays seal A by holding the monitor itself (A between its read and its write), lets a caller
     * enter m + 1 and starts seal B from a lease loss, which must wait (before the fix it went ahead: step 3), then completes
     * A through the real {@code seal()} and checks the count and the last millisecond after close.
     */
    @Test
    void foundInReview_1_racingSealsLeaveAStaleSealedFromAndTheCountOverCountsAfterClose() throws Exception {
        TestClock clock = new TestClock();
        IdGenerator g = Ekko.newBuilder().clock(clock).stateDirectory(stateDir).hostLockDirectory(hostLocks).workerId(7).build();
        Thread sealB = null;
        try {
            clock.freeze();
            clock.stepMillis(1);
            EkkoGenerator eg = (EkkoGenerator) g;
            Sequencer seq = eg.sequencer(0);
            long[] n = {0};
            for (;;) { // use millisecond m up
                n[0]++;
                if (layout.decode(g.next()).sequence() == 1023) {
                    break;
                }
            }
            long m = seq.lvState() >> Sequencer.SEQ_BITS;
            Term term = (Term) field(EkkoGenerator.class, "term").get(eg);
            synchronized (seq) { // (1) seal A is between its read of s1 and its write
                clock.stepMillis(1);
                assertEquals(0, layout.decode(g.next()).sequence()); // (2) a caller enters m + 1 at sequence 0
                n[0]++;
                sealB = new Thread(() -> term.stop(Term.Stop.LEASE, "lost (review)"), "seal-b"); // (3) seal B, from a loss
                sealB.start();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (sealB.getState() != Thread.State.BLOCKED && sealB.getState() != Thread.State.TERMINATED
                        && System.nanoTime() < deadline) {
                    Thread.sleep(1);
                }
                assertEquals(Thread.State.BLOCKED, sealB.getState(), "seal B went ahead while seal A was sealing");
                seq.seal(); // (4) A goes on: it reads the state now, writes sealedFrom and seals
            }
            sealB.join(TimeUnit.SECONDS.toMillis(10));
            long issued = n[0];
            g.close(); // (5) close(): its stop sees SEALED and returns; the flush reads sealedFrom
            long counted = g.status().counters().idsIssued();
            long lastMs = seq.lastMillisOffset();
            org.junit.jupiter.api.Assertions.assertAll(
                () -> assertEquals(issued, counted, "IDs issued after close (" + (counted - issued) + " more than issued)"),
                () -> assertEquals(m + 1, lastMs, "the last millisecond IDs were claimed in"));
        } finally {
            if (sealB != null) {
                sealB.join(TimeUnit.SECONDS.toMillis(10));
            }
            g.close();
        }
    }

    // ------------------------------------------------------------------------------------------------ held: counts

    /**
     * The IDs-issued count while three threads issue (next(), nextRange of 1..16, a product view, bounded lead) and a
     * fourth takes snapshots, while the lease is lost five times (each loss ends a term: seal, flush, a new term on
     * another worker ID, whose first millisecond starts at the hash): every snapshot is at most the IDs returned by then
     * plus those a call still in flight can hold, never lower than the one before; after close it equals the IDs returned
     * exactly (the reported count is a running maximum, so a transient over-count would stay visible there). Every ID
     * is unique. Checked as a real attack by scratch edits of Sequencer.enter, each reverted: without the take-back of
     * {@code skipped} after a lost CAS the count after close was short; counting the start state's 1023 + 1 in
     * issuedBefore made it run ahead of the IDs returned.
     */
    @Test
    void held_countNeverRunsAheadNeverGoesDownAndIsExactAfterClose_racingSnapshotsLeaseLossesProducts() throws Exception {
        StripedGeneratorTest.PoolProvider provider = new StripedGeneratorTest.PoolProvider();
        IdGenerator g = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).allocatorProvider(provider)
                .instance("count").productBits(2).maxLead(Duration.ofMillis(3)).reportInterval(Duration.ofMillis(100))
                .leaseMargin(Duration.ofMillis(500)).maxClockSkew(Duration.ofMillis(100)).leaseTtl(Duration.ofSeconds(10)).build();
        IdGenerator view = g.forProduct(1);
        AtomicLong returned = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<long[]> all = new CopyOnWriteArrayList<>();
        int maxInFlight = 1 + 1 + 16;
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            int kind = t;
            workers.add(new Thread(() -> {
                long[] ids = new long[1 << 16];
                int n = 0;
                try {
                    while (!stop.get()) {
                        try {
                            if (kind == 2) {
                                IdRange r = (ThreadLocalRandom.current().nextBoolean() ? g : view)
                                        .nextRange(1 + ThreadLocalRandom.current().nextInt(16));
                                if (n + r.count() > ids.length) {
                                    ids = Arrays.copyOf(ids, ids.length * 2);
                                }
                                for (int i = 0; i < r.count(); i++) {
                                    ids[n++] = r.first() + i;
                                }
                                returned.addAndGet(r.count());
                            } else {
                                long id = (kind == 0 ? g : view).next();
                                if (n == ids.length) {
                                    ids = Arrays.copyOf(ids, ids.length * 2);
                                }
                                ids[n++] = id;
                                returned.incrementAndGet();
                            }
                        } catch (EkkoException refused) {
                            Thread.onSpinWait(); // lease lost meanwhile: the keeper acquires again
                        }
                        if (n > 1_500_000) {
                            break;
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
                all.add(Arrays.copyOf(ids, n));
            }, "review-count-" + t));
        }
        Thread monitor = new Thread(() -> {
            long last = 0;
            try {
                while (!stop.get()) {
                    long v = g.status().counters().idsIssued();
                    long after = returned.get();
                    if (v > after + maxInFlight || v < last) {
                        failure.compareAndSet(null, new AssertionError("snapshot " + v + " after " + last + ", returned " + after));
                    }
                    last = v;
                }
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
            }
        }, "review-count-monitor");
        workers.forEach(Thread::start);
        monitor.start();
        int losses = 0;
        for (int round = 0; round < 5; round++) {
            Thread.sleep(300);
            if (g.status().state() == GeneratorStatus.State.LIVE) {
                provider.lose(g.workerId());
                losses++;
            }
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (g.status().state() != GeneratorStatus.State.LIVE && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
        }
        Thread.sleep(300);
        stop.set(true);
        for (Thread w : workers) {
            w.join();
        }
        monitor.join();
        g.close();
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        assertTrue(losses >= 3, "lease losses: " + losses);
        assertEquals(returned.get(), g.status().counters().idsIssued(), "exact after close");
        assertUnique(all);
    }

    /**
     * Quiet and exact: bursts that use a millisecond up, single IDs, next(long[]) of 1..3000 (several chunks), nextRange of
     * 1..1024, on a frozen clock stepped by hand, in bounded-lead and real-time mode, with a product view: after every step
     * the count equals the IDs returned, after close too; no ID repeats and each product's IDs increase.
     */
    @Test
    void held_countExactWhenQuiet_batchesRangesLeadAndRealTime() {
        for (long lead : new long[] {0, 4}) {
            TestClock clock = new TestClock();
            Ekko.Builder b = Ekko.newBuilder().clock(clock).stateDirectory(stateDir.resolve("l" + lead)).hostLockDirectory(hostLocks)
                    .workerId(9).productBits(1);
            if (lead > 0) {
                b.maxLead(Duration.ofMillis(lead));
            }
            IdGenerator g = b.build();
            IdGenerator view = g.forProduct(1);
            Layout layout = g.layout();
            clock.freeze();
            long expected = 0;
            Set<Long> seen = new HashSet<>();
            Map<Integer, Long> last = new HashMap<>();
            ThreadLocalRandom rnd = ThreadLocalRandom.current();
            try {
                long lastSeq = -1;
                for (int step = 0; step < 400; step++) {
                    IdGenerator on = rnd.nextBoolean() ? g : view;
                    long[] got;
                    if (lastSeq >= 0 && lastSeq < 1023 && rnd.nextBoolean()) {
                        got = new long[] {on.next()}; // the rest of a millisecond (lead mode: never waits, room is left)
                    } else {
                        // Real time: a step of 1..3 ms and at most 1,024 - 15 IDs, so no call waits on the frozen clock. Bounded
                        // lead: a step of 5..8 ms (more than the lead) leaves at least 5 ms of room for up to 3,000 IDs.
                        clock.stepMillis(lead > 0 ? 5 + rnd.nextInt(4) : 1 + rnd.nextInt(3));
                        int max = lead > 0 ? 3000 : 1009;
                        switch (rnd.nextInt(3)) {
                            case 0:
                                got = new long[] {on.next()};
                                break;
                            case 1:
                                got = new long[1 + rnd.nextInt(max)];
                                on.next(got);
                                break;
                            default:
                                IdRange r = on.nextRange(1 + rnd.nextInt(Math.min(max, 1024)));
                                got = new long[r.count()];
                                for (int i = 0; i < got.length; i++) {
                                    got[i] = r.first() + i;
                                }
                                break;
                        }
                    }
                    for (long id : got) {
                        assertTrue(seen.add(id), "repeated " + id);
                        int p = layout.decode(id).product();
                        Long prev = last.get(p);
                        assertTrue(prev == null || Layout.compare(prev, id) < 0, "not increasing");
                        last.put(p, id);
                    }
                    lastSeq = on == view ? -1 : layout.decode(got[got.length - 1]).sequence();
                    expected += got.length;
                    assertEquals(expected, g.status().counters().idsIssued(), "lead " + lead + " step " + step);
                }
            } finally {
                g.close();
            }
            assertEquals(expected, g.status().counters().idsIssued(), "lead " + lead + " after close");
        }
    }

    // ------------------------------------------------------------------------------------------------ held: uniqueness

    /**
     * Uniqueness and per-sequencer order under everything at once: three stripes (PoolProvider), bounded lead of 2 ms,
     * a clock stepped back and forward by up to 3 ms every few hundred microseconds, four threads doing next(),
     * next(long[]) of up to 2,500 (spills across stripes), nextRange of up to 1,024, and stripes' leases lost meanwhile
     * (failover through claimAtOrAbove). No ID repeats; each thread's IDs of one worker ID strictly increase. Checked as a
 * real attack by a scratch edit of claimIn's same-millisecond branch returning one number too low (reverted): fails.
     */
    @Test
    void held_noRepeatUnderClockStepsLeadStripesSpillsFailoverAndBatches() throws Exception {
        StripedGeneratorTest.PoolProvider provider = new StripedGeneratorTest.PoolProvider();
        TestClock clock = new TestClock();
        IdGenerator g = Ekko.newBuilder().clock(clock).stateDirectory(stateDir).hostLockDirectory(hostLocks)
                .allocatorProvider(provider).instance("uniq").stripes(3).maxLead(Duration.ofMillis(2))
                .maxBackwardWait(Duration.ofSeconds(5)).reportInterval(Duration.ofMillis(100)).leaseMargin(Duration.ofMillis(500))
                .maxClockSkew(Duration.ofMillis(100)).leaseTtl(Duration.ofSeconds(10)).build();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<long[]> all = new CopyOnWriteArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            threads.add(new Thread(() -> {
                long[] ids = new long[1 << 16];
                int n = 0;
                Map<Integer, Long> lastPerWorker = new HashMap<>();
                ThreadLocalRandom rnd = ThreadLocalRandom.current();
                try {
                    while (!stop.get() && n < 1_000_000) {
                        long[] got;
                        try {
                            switch (rnd.nextInt(3)) {
                                case 0:
                                    got = new long[] {g.next()};
                                    break;
                                case 1:
                                    got = new long[1 + rnd.nextInt(2500)];
                                    g.next(got);
                                    break;
                                default:
                                    IdRange r = g.nextRange(1 + rnd.nextInt(1024));
                                    got = new long[r.count()];
                                    for (int i = 0; i < got.length; i++) {
                                        got[i] = r.first() + i;
                                    }
                                    break;
                            }
                        } catch (EkkoException refused) {
                            continue;
                        }
                        for (long id : got) {
                            int w = layout.decode(id).worker();
                            Long prev = lastPerWorker.get(w);
                            if (prev != null && Layout.compare(prev, id) >= 0) {
                                throw new AssertionError("worker " + w + ": " + layout.decode(id) + " after " + layout.decode(prev));
                            }
                            lastPerWorker.put(w, id);
                            if (n == ids.length) {
                                ids = Arrays.copyOf(ids, ids.length * 2);
                            }
                            ids[n++] = id;
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
                all.add(Arrays.copyOf(ids, n));
            }, "review-uniq-" + t));
        }
        Thread stepper = new Thread(() -> {
            long net = 0;
            while (!stop.get()) {
                long d = ThreadLocalRandom.current().nextInt(-3, 4);
                if (net + d < -20 || net + d > 20) {
                    d = -d;
                }
                net += d;
                clock.stepMillis(d);
                java.util.concurrent.locks.LockSupport.parkNanos(300_000);
            }
        }, "review-uniq-stepper");
        threads.forEach(Thread::start);
        stepper.start();
        for (int round = 0; round < 4; round++) {
            Thread.sleep(400);
            List<GeneratorStatus> st = ((StripedGenerator) g).stripeStatuses();
            GeneratorStatus victim = st.get(round % st.size());
            if (victim.state() == GeneratorStatus.State.LIVE) {
                provider.lose(victim.workerId());
            }
        }
        Thread.sleep(400);
        stop.set(true);
        for (Thread t : threads) {
            t.join();
        }
        stepper.join();
        g.close();
        if (failure.get() != null) {
            throw new AssertionError(failure.get());
        }
        long total = assertUnique(all);
        assertTrue(total > 10_000, "issued " + total);
    }

    // ------------------------------------------------------------------------------------------------ held: home stripes

    /**
     * Four threads started with other threads created in between (so their thread IDs are equal modulo 4, which put them
     * all on one stripe before: checked by a scratch edit of home() back to the thread ID, reverted) call in turn: their
     * first IDs come from four different stripes. Then they hammer together (real time, fixed stripes, no clock step):
     * no ID repeats and each thread's milliseconds never decrease (docs/striping.md).
     */
    @Test
    void held_threadsCallingInTurnStartAtDifferentStripesAndKeepTimeOrder() throws Exception {
        StripedGeneratorTest.PoolProvider provider = new StripedGeneratorTest.PoolProvider();
        IdGenerator g = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).allocatorProvider(provider)
                .instance("home").stripes(4).reportInterval(Duration.ofMillis(200)).leaseMargin(Duration.ofMillis(500))
                .maxClockSkew(Duration.ofMillis(100)).leaseTtl(Duration.ofSeconds(10)).build();
        try {
            int k = 4;
            java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
            long[] firstWorker = new long[k];
            List<long[]> all = new CopyOnWriteArrayList<>();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> callers = new ArrayList<>();
            List<java.util.concurrent.CountDownLatch> firstDone = new ArrayList<>();
            for (int t = 0; t < k; t++) {
                int index = t;
                java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
                firstDone.add(done);
                Thread c = new Thread(() -> {
                    try {
                        long first = g.next();
                        firstWorker[index] = layout.decode(first).worker();
                        done.countDown();
                        go.await();
                        long[] ids = new long[200_000];
                        ids[0] = first;
                        long lastMs = layout.decode(first).epochMillis();
                        for (int i = 1; i < ids.length; i++) {
                            ids[i] = g.next();
                            long ms = layout.decode(ids[i]).epochMillis();
                            if (ms < lastMs) {
                                throw new AssertionError("thread " + index + " went back from " + lastMs + " to " + ms);
                            }
                            lastMs = ms;
                        }
                        all.add(ids);
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                        done.countDown();
                    }
                }, "review-home-" + t);
                callers.add(c);
                for (int pad = 0; pad < k - 1; pad++) {
                    new Thread(() -> { }, "review-home-pad"); // takes a thread ID: the callers' IDs are equal modulo k
                }
            }
            for (int t = 0; t < k; t++) { // in turn: each makes its first call before the next one starts
                callers.get(t).start();
                firstDone.get(t).await();
            }
            go.countDown();
            for (Thread c : callers) {
                c.join();
            }
            if (failure.get() != null) {
                throw new AssertionError(failure.get());
            }
            Set<Long> workers = new HashSet<>();
            for (long w : firstWorker) {
                workers.add(w);
            }
            assertEquals(k, workers.size(), "first IDs' workers " + Arrays.toString(firstWorker));
            assertUnique(all);
        } finally {
            g.close();
        }
    }

    // ------------------------------------------------------------------------------------------------ held: start-up

    /** A class loader whose loaded classes can be listed. */
    private static final class Fresh extends URLClassLoader {
        Fresh(URL classes) {
            super(new URL[] {classes}, ClassLoader.getPlatformClassLoader());
        }

        Class<?> loaded(String name) {
            return findLoadedClass(name);
        }
    }

    /**
     * ClassPreload in a fresh class loader over ekko-core's classes: its thread ends, and every class of its list that
     * has an initializer (EkkoGenerator, HostLocalAllocator, StateFile, Events, Term, the Sequencer's VarHandle holder, the
     * exceptions...) is loaded by it but not initialized (sun.misc.Unsafe.shouldBeInitialized). Checked as a real attack
     * by a scratch edit that made load() call Class.forName("dev.ekko.internal.EkkoGenerator") (initializing), reverted.
     */
    @Test
    void held_classPreloadLoadsButInitializesNothingAndEnds() throws Exception {
        URL classes = ClassPreload.class.getProtectionDomain().getCodeSource().getLocation();
        Set<Thread> before = Thread.getAllStackTraces().keySet();
        try (Fresh loader = new Fresh(classes)) {
            Class<?> preload = loader.loadClass("dev.ekko.internal.ClassPreload");
            assertTrue(preload.getClassLoader() == loader);
            preload.getMethod("start").invoke(null);
            Thread mine = null;
            for (Thread t : Thread.getAllStackTraces().keySet()) {
                if (t.getName().equals("ekko-class-preload") && !before.contains(t)) {
                    mine = t;
                }
            }
            if (mine != null) {
                mine.join(60_000);
                assertFalse(mine.isAlive(), "the preload thread still runs");
                assertTrue(mine.isDaemon());
            }
            Field f = Class.forName("sun.misc.Unsafe").getDeclaredField("theUnsafe");
            f.setAccessible(true);
            Object unsafe = f.get(null);
            Method shouldBeInitialized = unsafe.getClass().getMethod("shouldBeInitialized", Class.class);
            String[] names = {"dev.ekko.internal.EkkoGenerator", "dev.ekko.internal.HostLocalAllocator", "dev.ekko.internal.HostLocks",
                "dev.ekko.internal.GeneratorStats", "dev.ekko.internal.Term", "dev.ekko.internal.StateFile", "dev.ekko.internal.Sequencer",
                "dev.ekko.internal.SequencerStateField", "dev.ekko.internal.Events", "dev.ekko.internal.JvmFileLocks",
                "dev.ekko.LeaseLostException", "dev.ekko.spi.Handover", "dev.ekko.spi.Handover$Kind", "dev.ekko.spi.WorkerLease"};
            for (String name : names) {
                Class<?> c = loader.loaded(name);
                assertNotNull(c, name + " was not preloaded (the attack would be vacuous)");
                assertTrue((Boolean) shouldBeInitialized.invoke(unsafe, c), name + " was initialized by the preload");
            }
        }
    }

    /**
     * With INFO on, one start line of exactly the pre-change format and one host-local note per generator, also when
     * close() comes at once; with INFO off (dev.ekko at WARNING) neither, and the generator starts and closes normally.
 * Checked by a scratch edit inverting logStartLine's isLoggable guard (reverted): fails.
     */
    @Test
    void held_startLineAndHostLocalNoteOnceWithInfoNoneWithout() {
        try (LogCapture capture = LogCapture.of("dev.ekko", java.util.logging.Level.INFO)) {
            for (int run = 0; run < 6; run++) {
                boolean info = run % 2 == 0;
                java.util.logging.Logger.getLogger("dev.ekko").setLevel(info ? java.util.logging.Level.INFO : java.util.logging.Level.WARNING);
                capture.clear();
                Path dir = stateDir.resolve("r" + run);
                IdGenerator g = Ekko.newBuilder().stateDirectory(dir).hostLockDirectory(hostLocks).build(); // host-local
                int worker = g.workerId();
                if (run < 4) {
                    g.next();
                }
                g.close(); // logs the start line first if the keeper has not (runs 4 and 5: at once)
                List<String> messages = capture.messages(java.util.logging.Level.INFO);
                long starts = messages.stream().filter(m -> m.startsWith("started: ")).count();
                long notes = messages.stream().filter(m -> m.startsWith("worker IDs from host-local are unique on this host only")).count();
                assertEquals(info ? 1 : 0, starts, "run " + run + ": " + messages);
                assertEquals(info ? 1 : 0, notes, "run " + run + ": " + messages);
                if (info) {
                    String line = messages.stream().filter(m -> m.startsWith("started: ")).findFirst().orElseThrow();
                    String expected = "started: idc=0 worker=" + worker + " allocator=host-local " + layout + " stateDir=" + dir
                            + " mode=real-time reportInterval=" + Values.format(Duration.ofSeconds(3)) + " leaseTtl=none maxSkew=";
                    assertTrue(line.startsWith(expected), line + "\nexpected to start with\n" + expected);
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static Field field(Class<?> c, String name) throws NoSuchFieldException {
        Field f = c.getDeclaredField(name);
        f.setAccessible(true);
        return f;
    }

    /** Asserts no ID occurs twice across the arrays; returns how many there are. */
    private static long assertUnique(List<long[]> all) {
        int total = 0;
        for (long[] a : all) {
            total += a.length;
        }
        long[] ids = new long[total];
        int at = 0;
        for (long[] a : all) {
            System.arraycopy(a, 0, ids, at, a.length);
            at += a.length;
        }
        Arrays.sort(ids);
        for (int i = 1; i < ids.length; i++) {
            if (ids[i] == ids[i - 1]) {
                throw new AssertionError("repeated ID " + ids[i] + " = " + Layout.defaults().decode(ids[i]));
            }
        }
        return total;
    }
}
