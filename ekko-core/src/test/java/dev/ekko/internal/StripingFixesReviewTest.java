package dev.ekko.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ekko.Ekko;
import dev.ekko.GeneratorClosedException;
import dev.ekko.GeneratorStatus;
import dev.ekko.IdGenerator;
import dev.ekko.IdRange;
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
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Adversarial review of commit ed985bd (automatic striping: lowest free slot, the idle rule only while another stripe may
 * issue, a refusal that names another stripe's reason rather than a retiring stripe's "closed"), in-process, against a
 * coordinator whose calls the test controls.
 */
class StripingFixesReviewTest {

    @TempDir
    Path stateDir;

    @TempDir
    Path hostLocks;

    private final ExecutorService helpers = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "review-helper");
        t.setDaemon(true);
        return t;
    });

    @AfterEach
    void cleanUp() {
        helpers.shutdownNow();
    }

    /**
     * A coordinator: worker IDs from one pool, renewals by token, the instance name of each lease recorded. Acquires can be
     * refused; the n-th acquire can be held after the lease was granted (a slow answer, not cut short by an interrupt, as a
     * blocking socket read); a release of one worker can be held (interruptible, as most clients' waits are).
     */
    static final class ControlledCoordinator implements WorkerAllocatorProvider {
        final Map<Integer, String> tokens = new ConcurrentHashMap<>();
        final Map<Integer, String> instances = new ConcurrentHashMap<>();
        final Map<Integer, AllocatorContext> owners = new ConcurrentHashMap<>();
        final Map<Integer, WorkerLease> leases = new ConcurrentHashMap<>();
        final AtomicLong acquires = new AtomicLong();
        volatile boolean refuseAcquires;
        volatile long holdAcquireNumber = -1;
        final CountDownLatch acquireEntered = new CountDownLatch(1);
        final CountDownLatch acquireMayGo = new CountDownLatch(1);
        volatile int holdReleaseOf = -1;
        final CountDownLatch releaseEntered = new CountDownLatch(1);
        final CountDownLatch releaseMayGo = new CountDownLatch(1);
        final AtomicBoolean releaseInterrupted = new AtomicBoolean();

        @Override
        public String name() {
            return "test-controlled";
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
                public WorkerLease acquire(Set<Integer> avoid) {
                    WorkerLease granted = grant(avoid);
                    if (acquires.incrementAndGet() == holdAcquireNumber) {
                        acquireEntered.countDown();
                        boolean interrupted = false;
                        for (;;) {
                            try {
                                acquireMayGo.await(); // the answer is on its way: an interrupt does not cut it short
                                break;
                            } catch (InterruptedException e) {
                                interrupted = true;
                            }
                        }
                        if (interrupted) {
                            Thread.currentThread().interrupt();
                        }
                    }
                    return granted;
                }

                private WorkerLease grant(Set<Integer> avoid) {
                    synchronized (ControlledCoordinator.this) {
                        if (refuseAcquires) {
                            throw new WorkerIdsExhaustedException("refused (test)");
                        }
                        for (int w = 0; w < 64; w++) {
                            if (!avoid.contains(w) && !tokens.containsKey(w)) {
                                String token = UUID.randomUUID().toString();
                                tokens.put(w, token);
                                instances.put(w, context.instance());
                                owners.put(w, context);
                                WorkerLease l = new WorkerLease(w, token, Duration.ofSeconds(10), System.nanoTime(),
                                        Handover.mark(0), WorkerLease.UNKNOWN_TIME, null);
                                leases.put(w, l);
                                return l;
                            }
                        }
                        throw new WorkerIdsExhaustedException("none left (test)");
                    }
                }

                @Override
                public WorkerLease renew(WorkerLease lease, ClockReport report) {
                    if (!lease.token().equals(tokens.get(lease.workerId()))) {
                        throw new LeaseLostException("lease of worker " + lease.workerId() + " is gone (test)");
                    }
                    return lease.renewed(System.nanoTime(), WorkerLease.UNKNOWN_TIME);
                }

                @Override
                public void release(WorkerLease lease, ClockReport finalReport) throws InterruptedException {
                    if (lease.workerId() == holdReleaseOf) {
                        releaseEntered.countDown();
                        try {
                            releaseMayGo.await();
                        } catch (InterruptedException e) {
                            releaseInterrupted.set(true);
                            throw e;
                        }
                    }
                    if (tokens.remove(lease.workerId(), lease.token())) {
                        instances.remove(lease.workerId());
                    }
                }

                @Override
                public void close() {
                }
            };
        }

        void lose(int worker) {
            WorkerLease l = leases.remove(worker);
            tokens.remove(worker);
            instances.remove(worker);
            owners.get(worker).leaseListener().leaseLost(l, "dropped by the test");
        }
    }

    private Ekko.Builder builder(ControlledCoordinator coordinator) {
        return Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(hostLocks).allocatorProvider(coordinator)
                .instance("app").maxStripes(2).stripeIdleTime(Duration.ofSeconds(1)).reportInterval(Duration.ofMillis(200))
                .leaseMargin(Duration.ofMillis(500)).maxClockSkew(Duration.ofMillis(100)).leaseTtl(Duration.ofSeconds(10));
    }

    /** One thread at full speed until the striper added a stripe (or {@code until} says stop); returns the IDs it got. */
    private static long hammerUntil(IdGenerator g, java.util.function.BooleanSupplier until) throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong count = new AtomicLong();
        Thread hammer = new Thread(() -> {
            long[] batch = new long[256];
            while (!stop.get()) {
                try {
                    g.next(batch);
                    count.addAndGet(batch.length);
                } catch (GeneratorClosedException e) {
                    return;
                }
            }
        }, "review-hammer");
        hammer.setDaemon(true);
        hammer.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!until.getAsBoolean() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        stop.set(true);
        hammer.join();
        return count.get();
    }

    /**
     * close() while the striper is retiring an idle stripe whose release to the coordinator has not answered yet. The
     * striped close() says it "closes every stripe at once (each ... releases its worker ID), and returns when all are
     * closed"; an unstriped close waits for a coordinator call in flight. Here close() sets the flag, interrupts the striper
     * ({@code shutdownNow}) - which cuts the release short (releaseQuietly swallows the InterruptedException) - waits at
     * most 1 s, and then closes the stripes of the set; the retiring stripe is still in it, but its close() returns at once
     * (its closed flag is already set by the striper), so nothing waits for its release. close() returns while the
     * coordinator still holds the lease: it stays taken until its TTL (and, with a release that ignores interrupts, it is
     * still in flight when an application that calls close() before exiting exits).
     */
    @Test
    void foundInReview_1_closeReturnsWhileTheRetiringStripesReleaseIsCutShortOrStillInFlight() throws Exception {
        ControlledCoordinator coordinator = new ControlledCoordinator();
        IdGenerator g = builder(coordinator).build();
        try {
            hammerUntil(g, () -> g.stripeStatuses().size() >= 2);
            assertEquals(2, g.stripeStatuses().size(), "setup: no stripe added");
            int added = g.stripeStatuses().get(1).workerId();
            coordinator.holdReleaseOf = added;
            // Idle for 1 s: the striper closes the added stripe (the first is live), and is then in its release.
            assertTrue(coordinator.releaseEntered.await(10, TimeUnit.SECONDS), "setup: the idle stripe was not closed");

            Future<?> closing = helpers.submit(g::close);
            try {
                closing.get(4, TimeUnit.SECONDS);
            } catch (TimeoutException stillClosing) {
                // close() waits for the release: let it answer, and it must then return with every worker ID released.
                coordinator.releaseMayGo.countDown();
                closing.get(10, TimeUnit.SECONDS);
                assertTrue(coordinator.tokens.isEmpty(), "leases left after close(): " + coordinator.tokens.keySet());
                return;
            }
            if (coordinator.tokens.containsKey(added)) {
                fail("close() returned while worker " + added + " (the stripe the striper was retiring) is still leased at the"
                        + " coordinator: its release was " + (coordinator.releaseInterrupted.get() ? "cut short by close()'s"
                                + " interrupt of the striper, so the worker ID stays taken until its lease expires"
                                : "still in flight") + "; leases held after close(): " + coordinator.tokens.keySet());
            }
        } finally {
            coordinator.releaseMayGo.countDown();
            g.close();
        }
    }

    /**
     * close() while the striper is starting a stripe whose acquire the coordinator granted but has not answered yet (a
     * blocking read: the interrupt of shutdownNow does not cut it short). close() waits 1 s for the striper, closes the
     * stripes of the set and returns; the stripe being added starts after that, holding a lease, and is closed by the
     * striper later (or never, if the application exits after close(): the lease then stays taken until its TTL and its
     * state file records no clean shutdown).
     */
    @Test
    void foundInReview_2_closeReturnsWhileAStripeTheStriperIsAddingStillHoldsItsLease() throws Exception {
        ControlledCoordinator coordinator = new ControlledCoordinator();
        coordinator.holdAcquireNumber = 2; // the first is the first stripe's, at build; the second the added stripe's
        IdGenerator g = builder(coordinator).build();
        try {
            hammerUntil(g, () -> coordinator.acquireEntered.getCount() == 0);
            assertTrue(coordinator.acquireEntered.await(1, TimeUnit.SECONDS), "setup: the striper did not start a stripe");
            int first = g.stripeStatuses().get(0).workerId();
            Set<Integer> adding = new HashSet<>(coordinator.tokens.keySet());
            adding.remove(first);
            assertEquals(1, adding.size(), "setup: " + coordinator.tokens);

            Future<?> closing = helpers.submit(g::close);
            try {
                closing.get(4, TimeUnit.SECONDS);
            } catch (TimeoutException stillClosing) {
                coordinator.acquireMayGo.countDown();
                closing.get(10, TimeUnit.SECONDS);
                assertTrue(coordinator.tokens.isEmpty(), "leases left after close(): " + coordinator.tokens.keySet());
                return;
            }
            Set<Integer> leftAtReturn = new HashSet<>(coordinator.tokens.keySet());
            coordinator.acquireMayGo.countDown();
            if (!leftAtReturn.isEmpty()) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
                while (!coordinator.tokens.isEmpty() && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                fail("close() returned while worker(s) " + leftAtReturn + " were leased by a stripe the striper was still"
                        + " starting (close() waits for the striper only 1 s); first stripe's worker " + first + "; 3 s after"
                        + " the acquire answered, leases still held: " + coordinator.tokens.keySet());
            }
        } finally {
            coordinator.acquireMayGo.countDown();
            g.close();
        }
    }

    /**
     * Fix 3 on the other call paths: while the striper is retiring a caller's home stripe (closed, still in the set) and
     * the other stripe lost its lease, nextRange and next(long[]) report the lost lease, not "closed"; next(Duration)
     * retries for its timeout and then reports the lost lease (not at once, not forever); once the set changed the caller
     * reads the new set; once a worker ID is back every call is served. No ID is repeated, and the IDs-issued counter is
     * never above the IDs handed out and exact when quiet.
     */
    @Test
    void held_everyCallPathReportsTheLostLeaseWhileItsHomeStripeIsRetiredAndResumesAfterwards() throws Exception {
        ControlledCoordinator coordinator = new ControlledCoordinator();
        IdGenerator g = builder(coordinator).build();
        ExecutorService caller = null;
        try {
            long issued = hammerUntil(g, () -> g.stripeStatuses().size() >= 2);
            assertEquals(2, g.stripeStatuses().size(), "setup: no stripe added");
            int first = g.stripeStatuses().get(0).workerId();
            int added = g.stripeStatuses().get(1).workerId();
            caller = StripingCoordinatorReviewTest.threadWithHome(1, 2);
            coordinator.holdReleaseOf = added;
            assertTrue(coordinator.releaseEntered.await(10, TimeUnit.SECONDS), "setup: the idle stripe was not closed");
            coordinator.refuseAcquires = true;
            coordinator.lose(first);
            assertTrue(g.status().counters().idsIssued() <= issued, "over-counted: " + g.status().counters() + " > " + issued);

            Object range = caller.submit(() -> call(() -> g.nextRange(10))).get(10, TimeUnit.SECONDS);
            assertInstanceOf(LeaseLostException.class, range, "nextRange: " + range);
            Object array = caller.submit(() -> call(() -> {
                g.next(new long[2000]);
                return null;
            })).get(10, TimeUnit.SECONDS);
            assertInstanceOf(LeaseLostException.class, array, "next(long[]): " + array);
            long t0 = System.nanoTime();
            Object timed = caller.submit(() -> call(() -> g.next(Duration.ofMillis(300)))).get(10, TimeUnit.SECONDS);
            long tookMillis = (System.nanoTime() - t0) / 1_000_000;
            assertInstanceOf(LeaseLostException.class, timed, "next(Duration): " + timed);
            assertTrue(tookMillis >= 250 && tookMillis < 5_000, "next(300 ms) gave up after " + tookMillis + " ms");

            // The release answers: the retired stripe leaves the set; the first stripe is still lost.
            coordinator.releaseMayGo.countDown();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (g.stripeStatuses().size() != 1 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertEquals(1, g.stripeStatuses().size());
            Object afterSwap = caller.submit(() -> call(() -> g.nextRange(10))).get(10, TimeUnit.SECONDS);
            assertInstanceOf(LeaseLostException.class, afterSwap, "nextRange after the swap: " + afterSwap);
            assertTrue(g.status().state() != GeneratorStatus.State.CLOSED);

            // Worker IDs come back: a call waiting with a timeout is served once the first stripe reacquires.
            coordinator.refuseAcquires = false;
            Set<Long> seen = new HashSet<>();
            Object served = caller.submit(() -> call(() -> g.next(Duration.ofSeconds(10)))).get(15, TimeUnit.SECONDS);
            assertInstanceOf(Long.class, served, "next(10 s) after the worker IDs came back: " + served);
            seen.add((Long) served);
            IdRange r = caller.submit(() -> g.nextRange(100)).get(10, TimeUnit.SECONDS);
            long[] more = caller.submit(() -> {
                long[] ids = new long[3000];
                g.next(ids);
                return ids;
            }).get(10, TimeUnit.SECONDS);
            for (int i = 0; i < r.count(); i++) {
                assertTrue(seen.add(r.get(i)), "repeated " + r.get(i));
            }
            for (long id : more) {
                assertTrue(seen.add(id), "repeated " + id);
            }
            long total = issued + seen.size();
            GeneratorStatus.Counters c = g.status().counters();
            assertEquals(total, c.idsIssued(), "IDs issued when quiet: " + c);
        } finally {
            coordinator.releaseMayGo.countDown();
            if (caller != null) {
                caller.shutdownNow();
            }
            g.close();
        }
    }

    private static Object call(java.util.concurrent.Callable<Object> c) {
        try {
            return c.call();
        } catch (RuntimeException e) {
            return e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
