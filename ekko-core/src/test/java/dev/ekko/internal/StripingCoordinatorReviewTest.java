package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ekko.Ekko;
import dev.ekko.GeneratorClosedException;
import dev.ekko.GeneratorStatus;
import dev.ekko.IdGenerator;
import dev.ekko.WorkerIdsExhaustedException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import dev.ekko.spi.WorkerLease;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Adversarial review of automatic striping against a coordinator whose calls the test controls (a release that takes
 * long, acquires refused): what a caller sees while the striper closes an idle stripe.
 */
class StripingCoordinatorReviewTest {

    @TempDir
    Path stateDir;

    @TempDir
    Path hostLocks;

    private ExecutorService caller;
    private IdGenerator generator;

    @AfterEach
    void cleanUp() {
        if (caller != null) {
            caller.shutdownNow();
        }
    }

    /** A coordinator: worker IDs from one pool, renewals by token; acquires can be refused and releases held up. */
    static final class SlowReleaseProvider implements WorkerAllocatorProvider {
        final Map<Integer, String> tokens = new ConcurrentHashMap<>();
        final Map<Integer, AllocatorContext> owners = new ConcurrentHashMap<>();
        final Map<Integer, WorkerLease> leases = new ConcurrentHashMap<>();
        volatile boolean refuseAcquires;
        volatile int holdReleaseOf = -1;
        final CountDownLatch releaseEntered = new CountDownLatch(1);
        final CountDownLatch releaseMayGo = new CountDownLatch(1);

        @Override
        public String name() {
            return "test-slow-release";
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
                    if (refuseAcquires) {
                        throw new WorkerIdsExhaustedException("refused (test)");
                    }
                    for (int w = 0; w < 64; w++) {
                        if (!avoid.contains(w) && tokens.putIfAbsent(w, "pending") == null) {
                            String token = UUID.randomUUID().toString();
                            tokens.put(w, token);
                            owners.put(w, context);
                            WorkerLease l = new WorkerLease(w, token, Duration.ofSeconds(10), System.nanoTime(), Handover.mark(0),
                                    WorkerLease.UNKNOWN_TIME, null);
                            leases.put(w, l);
                            return l;
                        }
                    }
                    throw new WorkerIdsExhaustedException("none left (test)");
                }

                @Override
                public WorkerLease renew(WorkerLease lease, ClockReport report) {
                    if (!lease.token().equals(tokens.get(lease.workerId()))) {
                        throw new dev.ekko.LeaseLostException("lease of worker " + lease.workerId() + " is gone (test)");
                    }
                    return lease.renewed(System.nanoTime(), WorkerLease.UNKNOWN_TIME);
                }

                @Override
                public void release(WorkerLease lease, ClockReport finalReport) throws InterruptedException {
                    if (lease.workerId() == holdReleaseOf) {
                        releaseEntered.countDown();
                        releaseMayGo.await(); // a coordinator that takes its time to answer the release
                    }
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

    /** A single-thread executor whose thread's home stripe is {@code home} of {@code k} (StripingFixesReviewTest's too). */
    static ExecutorService threadWithHome(int home, int k) throws Exception {
        for (;;) {
            ExecutorService e = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "review-caller");
                t.setDaemon(true);
                return t;
            });
            if (e.submit(StripedGenerator::callerNumber).get() % k == home) {
                return e;
            }
            e.shutdownNow();
        }
    }

    /**
     * While the striper closes an idle added stripe (closed first, then dropped from the set; its release to the
     * coordinator can take up to the back end's timeout), a caller whose home is that stripe, at a moment the other
     * stripe refuses (its lease lost, the coordinator refusing a new one), gets {@link GeneratorClosedException}
     * ("generator is closed: ...") from {@code next()} though the generator is open: {@code status()} is not CLOSED, and
     * the refusal that may come back (the lost lease) is hidden. A caller that treats "closed" as final (stop using it,
     * ekko-server's readiness, a pool that discards it) gives up a generator that resumes once the lease is back.
     */
    @Test
    void foundInReview_2_aCallerGetsGeneratorClosedFromAnOpenGeneratorWhileTheStriperClosesAStripe() throws Exception {
        SlowReleaseProvider coordinator = new SlowReleaseProvider();
        IdGenerator g = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).allocatorProvider(coordinator)
                .instance("app").maxStripes(2).stripeIdleTime(Duration.ofSeconds(1)).reportInterval(Duration.ofMillis(200))
                .leaseMargin(Duration.ofMillis(500)).maxClockSkew(Duration.ofMillis(100)).leaseTtl(Duration.ofSeconds(10)).build();
        generator = g;
        try {
            // Grow to two stripes: one thread at full speed waits for the next millisecond often enough.
            AtomicBoolean stop = new AtomicBoolean();
            Thread hammer = new Thread(() -> {
                long[] batch = new long[256];
                while (!stop.get()) {
                    g.next(batch);
                }
            });
            hammer.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (g.stripeStatuses().size() < 2 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            stop.set(true);
            hammer.join();
            assertEquals(2, g.stripeStatuses().size(), "setup: no stripe added");
            int first = g.stripeStatuses().get(0).workerId();
            int added = g.stripeStatuses().get(1).workerId();
            caller = threadWithHome(1, 2);

            // The added stripe's release will take a while. The striper closes it once it has issued nothing for 1 s (the
            // first stripe is live then: the striper closes an idle stripe only while another may issue), and is then in
            // its release; only now does the first stripe lose its lease, and it cannot get one back.
            coordinator.holdReleaseOf = added;
            assertTrue(coordinator.releaseEntered.await(10, TimeUnit.SECONDS), "setup: the idle stripe was not closed");
            coordinator.refuseAcquires = true;
            coordinator.lose(first);
            Future<Object> call = caller.submit(() -> {
                try {
                    return g.next();
                } catch (RuntimeException e) {
                    return e;
                }
            });
            Object outcome = call.get(10, TimeUnit.SECONDS);
            GeneratorStatus.State state = g.status().state();
            assertTrue(state != GeneratorStatus.State.CLOSED, "setup: " + state);
            if (outcome instanceof GeneratorClosedException e) {
                fail("next() on an open generator (status " + state + ", close() never called) threw GeneratorClosedException: "
                        + e.getMessage());
            }
        } finally {
            coordinator.releaseMayGo.countDown();
            g.close();
        }
    }

    /**
     * The idle rule closes an added stripe that issued nothing for {@code ekko.worker.stripes.idle} even when it is the only
     * stripe that may issue: the first stripe lost its lease and the coordinator has no worker ID for it (exhausted, or
     * refusing). The closed stripe's worker ID goes back to the coordinator, where another process may take it; the
     * generator then has nothing that issues, and the striper cannot add a stripe back either (acquires refused). Callers
     * that come after a quiet spell get refusals from a generator that held a working worker ID a moment ago.
     */
    @Test
    void foundInReview_3_theStriperClosesTheOnlyLiveStripeForIdlenessWhileTheFirstStripeIsLost() throws Exception {
        SlowReleaseProvider coordinator = new SlowReleaseProvider();
        IdGenerator g = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).allocatorProvider(coordinator)
                .instance("app").maxStripes(2).stripeIdleTime(Duration.ofSeconds(1)).reportInterval(Duration.ofMillis(200))
                .leaseMargin(Duration.ofMillis(500)).maxClockSkew(Duration.ofMillis(100)).leaseTtl(Duration.ofSeconds(10)).build();
        try {
            AtomicBoolean stop = new AtomicBoolean();
            Thread hammer = new Thread(() -> {
                long[] batch = new long[256];
                while (!stop.get()) {
                    g.next(batch);
                }
            });
            hammer.start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (g.stripeStatuses().size() < 2 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            stop.set(true);
            hammer.join();
            assertEquals(2, g.stripeStatuses().size(), "setup: no stripe added");
            int first = g.stripeStatuses().get(0).workerId();
            int added = g.stripeStatuses().get(1).workerId();
            coordinator.refuseAcquires = true;
            coordinator.lose(first);
            long served = g.next(); // the added stripe serves while the first is lost
            assertEquals(added, g.layout().decode(served).worker());
            // A quiet spell of twice the idle time: no caller, nothing else changes at the coordinator.
            Thread.sleep(2_500);
            try {
                g.next();
            } catch (RuntimeException e) {
                fail("after 2.5 s without callers, next() is refused (" + e + ") though worker " + added + " was live and issuing"
                        + " before the quiet spell; stripes now " + g.stripeStatuses().size() + ", worker " + added
                        + (coordinator.tokens.containsKey(added) ? " still leased" : " given back to the coordinator"));
            }
        } finally {
            g.close();
        }
    }
}
