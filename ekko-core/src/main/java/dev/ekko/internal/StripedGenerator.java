package dev.ekko.internal;

import dev.ekko.ClockSkewException;
import dev.ekko.ClockMovedBackwardsException;
import dev.ekko.CoordinatorUnavailableException;
import dev.ekko.GenerationInterruptedException;
import dev.ekko.GeneratorClosedException;
import dev.ekko.GeneratorStatus;
import dev.ekko.IdGenerator;
import dev.ekko.IdRange;
import dev.ekko.Layout;
import dev.ekko.LeaseLostException;
import dev.ekko.StateFileException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * A generator that holds several worker IDs ({@code ekko.worker.stripes}): k stripes, each a complete {@link EkkoGenerator}
 * built from the same settings, with its own lease, keeper thread, term, state file and fence. Every invariant holds per
 * stripe because each stripe is exactly the generator an unstriped build makes; this class only chooses, per call, which
 * stripe's sequencer to claim from. Real-time throughput is k × 1,024 IDs per millisecond.
 *
 * <p>The choice: a caller starts at its <em>home</em> stripe, its thread ID modulo k, so that threads with different
 * homes CAS different words. Where the home stripe's claim would wait for the next millisecond {@code m} because it used
 * {@code m} up ({@link Sequencer#claimOrUsedUp}), the caller claims in {@code m} exactly on the next stripes, in turn
 * (home + 1, ..., k - 1, 0, ..., home - 1; {@link Sequencer#claimIn}); only when every stripe used {@code m} up does it wait
 * on its home stripe, as an unstriped generator would. So one thread alone gets all k × 1,024 numbers of a millisecond.
 *
 * <p>Ordering. IDs of one stripe strictly increase, across threads and restarts, as those of an unstriped generator
 * (invariant 1 per worker ID). A thread's IDs never go back in time: each carries the millisecond its home stripe is in
 * during the call or a later one (a spill claims in exactly that millisecond, a failover at or above it,
 * {@link Sequencer#claimAtOrAbove}, and a stripe's millisecond only grows), so their milliseconds never decrease. The
 * exceptions: a clock step back (a failover while the clock is behind the home stripe by more than the allowed lead, or a
 * home change in automatic mode); and, in bounded-lead mode, where stripes run ahead by different amounts, the home
 * stripe issuing again after a stripe further ahead served the thread, or a home change in automatic mode, which can go
 * back by up to {@code ekko.clock.max.lead}. Within one millisecond they are not ordered: a thread takes the stripes in the order it
 * reaches them from its home, which is not the order of their worker IDs (stripes start in parallel and take whatever worker
 * ID is free), so a later ID of the same millisecond may carry a lower worker ID and compare lower. Keeping each thread
 * strictly increasing would need every thread to start each millisecond at the lowest worker ID and move only upwards: all
 * threads would contend on one word again, or a thread starting elsewhere would reach fewer than k stripes.
 *
 * <p>A stripe that may not issue (lost lease, fence, clock skew, coordinator down, changed state file) costs only its own
 * share: a caller whose home stripe refuses claims from the next stripes in turn (a claim at or above the home stripe's
 * millisecond, which may wait for the next millisecond), and gets the home stripe's refusal only if every stripe refuses;
 * so does a caller whose home stripe refuses while it waits for the next millisecond. A spill skips such a stripe. A clock that
 * went back is not sent elsewhere: every stripe reads the same clock.
 *
 * <p>Automatic mode ({@code ekko.worker.stripes.max} above {@code ekko.worker.stripes}): a striper thread checks every
 * {@link #CHECK_INTERVAL_MILLIS} ms. When callers waited for the next millisecond (every stripe used up) at least
 * {@link #GROW_WAITS} times since the last check, it starts one more stripe (on its own thread, never a caller's) and
 * publishes it; when a stripe it added has issued nothing for {@code ekko.worker.stripes.idle}, it closes it (which
 * releases its worker ID), then drops it from the set, keeping its counters. The first {@code ekko.worker.stripes} stay. A
 * caller that still reaches a closed stripe through the set it read treats it as one that refuses. Each stripe remains a whole generator throughout, so
 * uniqueness does not depend on the set; the per-thread time order can only be lost to a clock step back or, in
 * bounded-lead mode, by up to {@code ekko.clock.max.lead} (a thread's home stripe changes with k).
 *
 * <p>The hot path allocates nothing (after a thread's first call, which allocates its number) and takes no lock: it reads
 * the calling thread's number (a thread-local), the current set (one volatile read), the stripes' current sequencers (one
 * volatile read each), the clock once more when it spills, and the home stripe's state.
 */
public final class StripedGenerator implements IdGenerator {

    /** How long {@link #next(Duration)} parks between attempts while no stripe may issue, as an unstriped generator. */
    private static final long RETRY_PARK_NANOS = 5_000_000;
    /** How often the striper checks whether to grow or shrink, in automatic mode. */
    static final long CHECK_INTERVAL_MILLIS = 100;
    /** Waits for the next millisecond (all stripes used up) since the last check that make the striper add a stripe. */
    static final long GROW_WAITS = 10;
    private static final System.Logger LOG = System.getLogger("dev.ekko.generator");

    /**
     * The stripes, the wall-clock time each was added at (for the idle rule), each one's slot (the number its start was given:
     * a coordinator records its worker ID under the instance name {@code <instance>.stripe<slot>}, so no two live stripes
     * may share one), and the counters of stripes closed by the striper: replaced as a whole, so a status never counts a
     * stripe twice or not at all.
     */
    private record Stripes(EkkoGenerator[] live, long[] addedAt, int[] slots, GeneratorStatus.Counters retired) {

        /** {@return the lowest slot no live stripe has} */
        int freeSlot() {
            for (int slot = 0;; slot++) {
                boolean taken = false;
                for (int t : slots) {
                    taken |= t == slot;
                }
                if (!taken) {
                    return slot;
                }
            }
        }
    }

    /** What the owner and its product views share. */
    private static final class Shared {
        volatile Stripes set;
        /** True while the striper starts a stripe (which may wait for its floor): close() interrupts that, and nothing else. */
        volatile boolean adding;
        final AtomicBoolean closed = new AtomicBoolean();
        final java.util.function.IntFunction<EkkoGenerator> starter;
        final int min;
        final int max;
        final long idleMillis;
        final dev.ekko.EkkoClock clock;
        java.util.concurrent.ScheduledExecutorService striper;
        /** Striper only: waits for the next millisecond counted at the last check, retired stripes' included. */
        long waitsSeen;

        Shared(java.util.function.IntFunction<EkkoGenerator> starter, int min, int max, long idleMillis, dev.ekko.EkkoClock clock) {
            this.starter = starter;
            this.min = min;
            this.max = max;
            this.idleMillis = idleMillis;
            this.clock = clock;
        }
    }

    private final Shared shared;
    private final int product;
    private final boolean owner;
    private final long maxBackwardWaitNanos;
    private final long epochMillis;

    private StripedGenerator(Shared shared, int product, boolean owner) {
        this.shared = shared;
        this.product = product;
        this.owner = owner;
        EkkoGenerator first = shared.set.live[0];
        this.maxBackwardWaitNanos = first.maxBackwardWaitNanos;
        this.epochMillis = first.layout.epochMillis();
    }

    /**
     * Starts {@code min} stripes at once (each may wait for its start floor: together they wait as long as the slowest) and
     * returns the striped generator; if any fails to start, closes those that started (releasing their worker IDs) and
     * throws its failure. With {@code max > min}, a striper thread adds stripes up to {@code max} while callers keep waiting
     * for the next millisecond and closes those beyond {@code min} that stay idle.
     *
     * @param starter starts stripe i (0-based) as a generator from the same settings with its own allocator
     * @param min stripes to start with, and to keep
     * @param max the most stripes to hold; {@code min} for a fixed number
     * @param idle how long a stripe beyond {@code min} may issue nothing before it is closed
     * @param product the default product of {@code next()}
     * @return the running generator
     * @throws GenerationInterruptedException if the calling thread is interrupted meanwhile (the interrupt is kept)
     */
    public static StripedGenerator start(java.util.function.IntFunction<EkkoGenerator> starter, int min, int max, Duration idle,
            int product) {
        EkkoGenerator[] started = startAll(starter, min);
        Shared shared = new Shared(starter, min, max, idle.toMillis(), started[0].clock);
        long now = shared.clock.millis();
        long[] addedAt = new long[min];
        java.util.Arrays.fill(addedAt, now);
        int[] slots = new int[min];
        for (int i = 0; i < min; i++) {
            slots[i] = i;
        }
        shared.set = new Stripes(started, addedAt, slots, new GeneratorStatus.Counters(0, 0, 0, 0, 0, 0, 0));
        StripedGenerator g = new StripedGenerator(shared, product, true);
        if (max > min) {
            shared.striper = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "ekko-striper-idc" + started[0].idc);
                t.setDaemon(true);
                return t;
            });
            shared.striper.scheduleWithFixedDelay(g::adjustQuietly, CHECK_INTERVAL_MILLIS, CHECK_INTERVAL_MILLIS,
                    java.util.concurrent.TimeUnit.MILLISECONDS);
        }
        return g;
    }

    private static EkkoGenerator[] startAll(java.util.function.IntFunction<EkkoGenerator> starter, int k) {
        EkkoGenerator[] started = new EkkoGenerator[k];
        Throwable[] failures = new Throwable[k];
        Thread[] threads = new Thread[k];
        for (int i = 0; i < k; i++) {
            int index = i;
            threads[i] = new Thread(() -> {
                try {
                    started[index] = starter.apply(index);
                } catch (RuntimeException | Error e) {
                    failures[index] = e;
                }
            }, "ekko-stripe-start-" + i);
            threads[i].setDaemon(true);
            threads[i].start();
        }
        boolean interrupted = false;
        for (Thread t : threads) {
            for (;;) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                    for (Thread other : threads) {
                        other.interrupt(); // a start waiting for its floor gives up, releasing its worker ID
                    }
                }
            }
        }
        Throwable failure = null;
        for (Throwable f : failures) {
            if (f != null) {
                if (failure == null) {
                    failure = f;
                } else if (f != failure) {
                    failure.addSuppressed(f);
                }
            }
        }
        if (failure != null || interrupted) {
            for (EkkoGenerator g : started) {
                if (g != null) {
                    g.close();
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
                GenerationInterruptedException e = new GenerationInterruptedException("starting " + k + " stripes");
                if (failure != null) {
                    e.addSuppressed(failure);
                }
                throw e;
            }
            if (failure instanceof RuntimeException r) {
                throw r;
            }
            throw (Error) failure;
        }
        return started;
    }

    // ---------------------------------------------------------------- automatic mode

    private void adjustQuietly() {
        try {
            adjust();
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "idc=" + idc() + ": adding a stripe failed, trying again when callers still wait: "
                    + e.getMessage());
        } catch (Throwable e) {
            LOG.log(System.Logger.Level.ERROR, "idc=" + idc() + ": unexpected " + e + " in the striper; it keeps running", e);
        }
    }

    /**
     * One check of the striper (tests call it directly): adds a stripe when callers waited for the next millisecond at least
     * {@link #GROW_WAITS} times since the last check and fewer than the maximum are held; otherwise, if none
     * waited, closes the last stripe it added that issued nothing for the idle time, if any.
     *
     * @return +1 for a stripe added, -1 for one closed, 0 for no change
     */
    synchronized int adjust() {
        Shared sh = shared;
        if (sh.closed.get() || sh.max <= sh.min) {
            return 0;
        }
        Stripes set = sh.set;
        long waits = set.retired.nextMillisecondWaits();
        for (EkkoGenerator g : set.live) {
            waits += g.stats.nextMillisecondWaits.get();
        }
        long delta = waits - sh.waitsSeen;
        sh.waitsSeen = waits;
        int k = set.live.length;
        if (delta >= GROW_WAITS && k < sh.max) {
            // The lowest free slot, not k: a stripe closed from the middle of the set leaves its slot free and k taken.
            int slot = set.freeSlot();
            EkkoGenerator added;
            sh.adding = true;
            try {
                if (sh.closed.get()) {
                    return 0; // close() began: it may have seen adding still false, and interrupts nothing
                }
                added = sh.starter.apply(slot);
            } finally {
                sh.adding = false;
            }
            EkkoGenerator[] live = java.util.Arrays.copyOf(set.live, k + 1);
            long[] addedAt = java.util.Arrays.copyOf(set.addedAt, k + 1);
            int[] slots = java.util.Arrays.copyOf(set.slots, k + 1);
            live[k] = added;
            addedAt[k] = sh.clock.millis();
            slots[k] = slot;
            synchronized (sh) {
                // close() sets the flag and then reads the set under the same lock: a stripe is published before it, or
                // not at all (and closed here).
                if (!sh.closed.get()) {
                    sh.set = new Stripes(live, addedAt, slots, set.retired);
                    added = null;
                }
            }
            if (added != null) {
                added.close();
                return 0;
            }
            LOG.log(System.Logger.Level.INFO, "idc=" + idc() + ": callers waited for the next millisecond " + delta + " times in the"
                    + " last " + CHECK_INTERVAL_MILLIS + " ms; added stripe " + k + " (worker=" + live[k].workerId() + "), now " + (k + 1)
                    + " of at most " + sh.max);
            return 1;
        }
        if (k <= sh.min || delta > 0) {
            return 0;
        }
        long now = sh.clock.millis();
        // Only stripes the striper added (those past the minimum: the first ones stay where they are) are ever closed.
        for (int i = k - 1; i >= sh.min; i--) {
            EkkoGenerator g = set.live[i];
            long used = set.addedAt[i];
            for (int p = 0; p < g.layout.products(); p++) {
                used = Math.max(used, epochMillis + g.sequencer(p).lastMillisOffset());
            }
            if (now - used >= sh.idleMillis && anotherMayIssue(set.live, i)) {
                // Closed while still in the set: a caller that reaches it gets a refusal and goes on to the next stripe. Its
                // counters are final only once it is closed, and move to the retired ones in the same swap that drops it.
                g.close();
                GeneratorStatus.Counters c = g.statusFor(product).counters();
                GeneratorStatus.Counters r = set.retired;
                EkkoGenerator[] live = new EkkoGenerator[k - 1];
                long[] addedAt = new long[k - 1];
                int[] slots = new int[k - 1];
                for (int j = 0, n = 0; j < k; j++) {
                    if (j != i) {
                        live[n] = set.live[j];
                        slots[n] = set.slots[j];
                        addedAt[n++] = set.addedAt[j];
                    }
                }
                sh.set = new Stripes(live, addedAt, slots, new GeneratorStatus.Counters(r.idsIssued() + c.idsIssued(),
                        r.nextMillisecondWaits() + c.nextMillisecondWaits(), r.clockBackWaits() + c.clockBackWaits(),
                        r.clockBackRefusals() + c.clockBackRefusals(), r.leaseLosses() + c.leaseLosses(),
                        r.reacquires() + c.reacquires(), r.lateRenewals() + c.lateRenewals()));
                LOG.log(System.Logger.Level.INFO, "idc=" + idc() + ": stripe " + i + " (worker=" + g.workerId() + ") issued nothing"
                        + " for " + (now - used) + " ms; closed it and released its worker ID, now " + (k - 1) + " stripes");
                return -1;
            }
        }
        return 0;
    }

    /**
     * {@return whether a stripe other than {@code i} may issue now} An idle stripe is closed only then: closing the one stripe
     * that still may (the others lost their leases, say, and the coordinator refuses them new ones) would stop a generator
     * that was serving, and give its worker ID to whoever asks next.
     */
    private static boolean anotherMayIssue(EkkoGenerator[] live, int i) {
        for (int j = 0; j < live.length; j++) {
            if (j != i && live[j].unavailableReason().isEmpty()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Each calling thread's number, handed out in turn at its first call on any striped generator: so any k threads that
     * call in turn have k different home stripes. A thread ID would not do: IDs are handed to every thread the JVM starts
     * (keepers, pools, the runtime's own), so two callers' IDs modulo k collide as often as chance says, and two threads on
     * one stripe contend on one word while another stripe idles.
     */
    private static final java.util.concurrent.atomic.AtomicInteger NEXT_CALLER = new java.util.concurrent.atomic.AtomicInteger();
    private static final ThreadLocal<int[]> CALLER = new ThreadLocal<>() {
        @Override
        protected int[] initialValue() {
            return new int[] {NEXT_CALLER.getAndIncrement() & Integer.MAX_VALUE};
        }
    };

    /** {@return the calling thread's number (see {@link #CALLER}); for tests that need a thread with a given home stripe} */
    static int callerNumber() {
        return CALLER.get()[0];
    }

    /** {@return the stripe a calling thread starts at: its number modulo k} */
    private static int home(int k) {
        int n = CALLER.get()[0];
        return (k & (k - 1)) == 0 ? n & (k - 1) : n % k;
    }

    /** Whether another stripe may serve a call this refusal ends: a refusal of this stripe alone, or one the striper closed. */
    private boolean passes(RuntimeException e) {
        return e instanceof LeaseLostException || e instanceof ClockSkewException || e instanceof CoordinatorUnavailableException
                || e instanceof StateFileException || (e instanceof GeneratorClosedException && !shared.closed.get());
    }

    // ---------------------------------------------------------------- the hot path

    @Override
    public long next() {
        return nextFor(product, maxBackwardWaitNanos);
    }

    private long nextFor(int p, long backwardWaitNanos) {
        for (;;) {
            EkkoGenerator[] g = shared.set.live;
            int h = home(g.length);
            Sequencer s = g[h].sequencer(p);
            try {
                long r;
                try {
                    r = s.claimOrUsedUp(1, backwardWaitNanos);
                } catch (RuntimeException e) {
                    if (!passes(e)) {
                        throw e;
                    }
                    return failover(g, p, h, s, backwardWaitNanos, e);
                }
                if (r >= 0) {
                    return s.compose(r >> Sequencer.SEQ_BITS);
                }
                long ms = r ^ Sequencer.USED_UP;
                long now = s.nowOffset();
                for (int i = 1; i < g.length; i++) {
                    Sequencer o = g[h + i < g.length ? h + i : h + i - g.length].sequencer(p);
                    long x = o.claimIn(ms, 1, now);
                    if (x >= 0) {
                        return o.compose(x >> Sequencer.SEQ_BITS);
                    }
                }
                try {
                    return s.next(backwardWaitNanos); // every stripe used ms up: wait for the next millisecond on the home stripe
                } catch (RuntimeException e) {
                    if (!passes(e)) {
                        throw e;
                    }
                    return failover(g, p, h, s, backwardWaitNanos, e); // the home stripe refused during the wait
                }
            } catch (GeneratorClosedException closedStripe) {
                if (passes(closedStripe) && g != shared.set.live) {
                    continue; // the striper closed this set's stripes meanwhile: the new set serves
                }
                throw closedStripe;
            }
        }
    }

    /**
     * The home stripe refused: the others in turn, each a claim in a millisecond at or above the one the home stripe
     * reached ({@link Sequencer#claimAtOrAbove}), so that the caller's IDs do not go back in time; the home's refusal if all
     * refuse.
     */
    private long failover(EkkoGenerator[] g, int p, int h, Sequencer home, long backwardWaitNanos, RuntimeException homeRefusal) {
        long floor = homeMillis(g[h], p, home);
        RuntimeException other = null;
        for (int i = 1; i < g.length; i++) {
            Sequencer o = g[h + i < g.length ? h + i : h + i - g.length].sequencer(p);
            try {
                return o.compose(o.claimAtOrAbove(floor, 1, backwardWaitNanos) >> Sequencer.SEQ_BITS);
            } catch (RuntimeException e) {
                if (!passes(e)) {
                    throw e;
                }
                other = other == null ? e : other;
            }
        }
        RuntimeException end = refusal(g, homeRefusal, other);
        throw end != null ? end : homeRefusal; // a changed set: next()'s catch of "closed" reads the new one
    }

    /**
     * {@return what a call every stripe of {@code g} refused throws, or null when the home stripe said "closed" and the set
     * changed meanwhile (the striper retired a stripe: the caller reads the new set and tries again)} Otherwise the home
     * stripe's refusal, unless that says "closed" of a stripe the striper is retiring and another stripe's refusal says why it
     * cannot issue (a lease lost, say): "closed" would tell the caller the whole generator is. The set is read once, so a swap
     * after it cannot turn "try again" into "closed".
     */
    private RuntimeException refusal(EkkoGenerator[] g, RuntimeException homeRefusal, RuntimeException other) {
        if (!(homeRefusal instanceof GeneratorClosedException)) {
            return homeRefusal;
        }
        if (g != shared.set.live) {
            return null;
        }
        return !shared.closed.get() && other != null && !(other instanceof GeneratorClosedException) ? other : homeRefusal;
    }

    /** {@return the millisecond the home stripe reached: of the sequencer that refused, or the stripe's last live term} */
    private static long homeMillis(EkkoGenerator home, int p, Sequencer refused) {
        return Math.max(refused.lastMillisOffset(), home.lastMillisOffset(p));
    }

    @Override
    public void next(long[] ids, int offset, int length) {
        fill(product, ids, offset, length);
    }

    private void fill(int p, long[] ids, int offset, int length) {
        Objects.checkFromIndexSize(offset, length, ids.length);
        int i = offset;
        int end = offset + length;
        while (i < end) {
            i = claimInto(p, Math.min(end - i, 1 << Layout.SEQUENCE_BITS), ids, i);
        }
    }

    /** Claims up to {@code wanted} IDs of one millisecond of one stripe, writes them from {@code at}, returns the next index. */
    private int claimInto(int p, int wanted, long[] ids, int at) {
        for (;;) {
            EkkoGenerator[] g = shared.set.live;
            int h = home(g.length);
            Sequencer s = g[h].sequencer(p);
            long r;
            try {
                r = s.claimOrUsedUp(wanted, maxBackwardWaitNanos);
            } catch (RuntimeException e) {
                int next = failoverInto(g, p, h, s, wanted, ids, at, e);
                if (next < 0) {
                    continue; // the striper closed this set's stripes meanwhile: the new set serves
                }
                return next;
            }
            if (r >= 0) {
                return write(s, r, ids, at);
            }
            long ms = r ^ Sequencer.USED_UP;
            long now = s.nowOffset();
            for (int i = 1; i < g.length; i++) {
                Sequencer o = g[h + i < g.length ? h + i : h + i - g.length].sequencer(p);
                long x = o.claimIn(ms, wanted, now);
                if (x >= 0) {
                    return write(o, x, ids, at);
                }
            }
            try {
                r = s.claim(wanted); // every stripe used ms up: wait for the next millisecond on the home stripe
            } catch (RuntimeException e) {
                int next = failoverInto(g, p, h, s, wanted, ids, at, e); // the home stripe refused during the wait
                if (next < 0) {
                    continue;
                }
                return next;
            }
            return write(s, r, ids, at);
        }
    }

    /**
     * The home stripe refused a chunk: the others in turn, as {@link #failover}, the chunk written from {@code at}; returns
     * the next index, or -1 when the striper closed this set's stripes meanwhile (the caller reads the new set).
     */
    private int failoverInto(EkkoGenerator[] g, int p, int h, Sequencer home, int wanted, long[] ids, int at,
            RuntimeException homeRefusal) {
        if (!passes(homeRefusal)) {
            throw homeRefusal;
        }
        long floor = homeMillis(g[h], p, home);
        RuntimeException other = null;
        for (int i = 1; i < g.length; i++) {
            Sequencer o = g[h + i < g.length ? h + i : h + i - g.length].sequencer(p);
            try {
                return write(o, o.claimAtOrAbove(floor, wanted, maxBackwardWaitNanos), ids, at);
            } catch (RuntimeException e) {
                if (!passes(e)) {
                    throw e;
                }
                other = other == null ? e : other;
            }
        }
        RuntimeException end = refusal(g, homeRefusal, other);
        if (end == null) {
            return -1;
        }
        throw end;
    }

    private static int write(Sequencer s, long r, long[] ids, int at) {
        int count = (int) (r & Sequencer.SEQ_MASK) + 1;
        long id = s.compose(r >> Sequencer.SEQ_BITS) - (count - 1);
        for (int j = 0; j < count; j++) {
            ids[at + j] = id + j;
        }
        return at + count;
    }

    @Override
    public IdRange nextRange(int maxCount) {
        return range(product, maxCount);
    }

    /**
     * {@link #claimInto} for a range: the same choice of stripe, the range built from the claim itself, as
     * {@link EkkoGenerator#range} does, so that only the returned {@link IdRange} is allocated.
     */
    private IdRange range(int p, int maxCount) {
        if (maxCount < 1) {
            throw new IllegalArgumentException("must be >= 1: maxCount=" + maxCount);
        }
        int wanted = Math.min(maxCount, 1 << Layout.SEQUENCE_BITS);
        for (;;) {
            EkkoGenerator[] g = shared.set.live;
            int h = home(g.length);
            Sequencer s = g[h].sequencer(p);
            long r;
            try {
                r = s.claimOrUsedUp(wanted, maxBackwardWaitNanos);
            } catch (RuntimeException e) {
                IdRange served = failoverRange(g, p, h, s, wanted, e);
                if (served == null) {
                    continue; // the striper closed this set's stripes meanwhile: the new set serves
                }
                return served;
            }
            if (r >= 0) {
                return range(s, r);
            }
            long ms = r ^ Sequencer.USED_UP;
            long now = s.nowOffset();
            for (int i = 1; i < g.length; i++) {
                Sequencer o = g[h + i < g.length ? h + i : h + i - g.length].sequencer(p);
                long x = o.claimIn(ms, wanted, now);
                if (x >= 0) {
                    return range(o, x);
                }
            }
            try {
                r = s.claim(wanted); // every stripe used ms up: wait for the next millisecond on the home stripe
            } catch (RuntimeException e) {
                IdRange served = failoverRange(g, p, h, s, wanted, e); // the home stripe refused during the wait
                if (served == null) {
                    continue;
                }
                return served;
            }
            return range(s, r);
        }
    }

    /** {@link #failoverInto} for a range: the range served, or null when the striper closed this set's stripes meanwhile. */
    private IdRange failoverRange(EkkoGenerator[] g, int p, int h, Sequencer home, int wanted, RuntimeException homeRefusal) {
        if (!passes(homeRefusal)) {
            throw homeRefusal;
        }
        long floor = homeMillis(g[h], p, home);
        RuntimeException other = null;
        for (int i = 1; i < g.length; i++) {
            Sequencer o = g[h + i < g.length ? h + i : h + i - g.length].sequencer(p);
            try {
                return range(o, o.claimAtOrAbove(floor, wanted, maxBackwardWaitNanos));
            } catch (RuntimeException e) {
                if (!passes(e)) {
                    throw e;
                }
                other = other == null ? e : other;
            }
        }
        RuntimeException end = refusal(g, homeRefusal, other);
        if (end == null) {
            return null;
        }
        throw end;
    }

    /** {@return the range a claim of {@code s} took} */
    private static IdRange range(Sequencer s, long r) {
        int count = (int) (r & Sequencer.SEQ_MASK) + 1;
        return new IdRange(s.compose(r >> Sequencer.SEQ_BITS) - (count - 1), count);
    }

    @Override
    public long next(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("must be >= 0: timeout=" + timeout);
        }
        long waitNanos = Values.saturatedNanos(timeout);
        dev.ekko.EkkoClock clock = shared.clock;
        long start = clock.nanos();
        for (;;) {
            try {
                long left = waitNanos - (clock.nanos() - start);
                return nextFor(product, Math.max(maxBackwardWaitNanos, left));
            } catch (RuntimeException e) {
                if (!mayComeBack(e)) {
                    throw e;
                }
                if (shared.closed.get()) {
                    throw closedException();
                }
                long left = waitNanos - (clock.nanos() - start);
                if (left <= 0) {
                    throw e;
                }
                LockSupport.parkNanos(Math.min(left, RETRY_PARK_NANOS));
                if (Thread.interrupted()) {
                    Thread.currentThread().interrupt();
                    throw new GenerationInterruptedException("waiting up to " + Values.format(timeout) + " for the generator to issue"
                            + " again after: " + e.getMessage());
                }
            }
        }
    }

    /**
     * Whether {@link #next(Duration)} tries again after this refusal: one an unstriped generator tries again after, or any
     * other refusal of a single stripe (the home stripe's, when every stripe refused) while some stripe is not stopped for
     * good (closed, or stopped by its state file) and so may issue again.
     */
    private boolean mayComeBack(RuntimeException e) {
        if (e instanceof LeaseLostException || e instanceof ClockMovedBackwardsException || e instanceof ClockSkewException
                || e instanceof CoordinatorUnavailableException) {
            return true;
        }
        if (!passes(e)) {
            return false;
        }
        for (EkkoGenerator g : shared.set.live) {
            if (!g.stoppedForGood()) {
                return true;
            }
        }
        return false;
    }

    private GeneratorClosedException closedException() {
        return new GeneratorClosedException("generator is closed: idc=" + idc() + " stripes=" + shared.set.live.length);
    }

    // ---------------------------------------------------------------- everything else

    @Override
    public IdGenerator forProduct(int other) {
        Layout layout = layout();
        if (other < 0 || other >= layout.products()) {
            throw new IllegalArgumentException("must be >= 0 && <= " + (layout.products() - 1) + " (ekko.product.bits="
                    + layout.productBits() + "): product=" + other);
        }
        return other == product ? this : new StripedGenerator(shared, other, false);
    }

    @Override
    public Layout layout() {
        return shared.set.live[0].layout;
    }

    @Override
    public int idc() {
        return shared.set.live[0].idc;
    }

    /** {@return the worker ID the first stripe holds; {@link #stripeStatuses()} shows every stripe's} */
    @Override
    public int workerId() {
        return shared.set.live[0].workerId();
    }

    @Override
    public int product() {
        return product;
    }

    /** {@return the largest lead of any stripe} */
    @Override
    public long leadMillis() {
        long lead = 0;
        for (EkkoGenerator g : shared.set.live) {
            lead = Math.max(lead, g.leadFor(product));
        }
        return lead;
    }

    /** {@return empty while any stripe may issue (callers are served by the others); else why the first stripe may not} */
    @Override
    public Optional<String> unavailableReason() {
        if (shared.closed.get()) {
            return Optional.of(closedException().getMessage());
        }
        EkkoGenerator[] live = shared.set.live;
        String first = null;
        for (EkkoGenerator g : live) {
            Optional<String> r = g.unavailableReason();
            if (r.isEmpty()) {
                return r;
            }
            if (first == null) {
                first = r.get();
            }
        }
        return Optional.of("none of the " + live.length + " stripes may issue; the first: " + first);
    }

    /**
     * The generator as a whole: {@link GeneratorStatus.State#LIVE} while any stripe is (callers are served, at a share of the
     * throughput per stripe that is not), with the lease, limit, renewal and skew of the first live stripe; otherwise those of
     * the first stripe, its state, and its reason. The lead is the largest; the counters are summed over the stripes, those
     * the striper closed included. {@link #stripeStatuses()} shows each stripe.
     */
    @Override
    public GeneratorStatus status() {
        Stripes set = shared.set;
        List<GeneratorStatus> all = statuses(set);
        GeneratorStatus shown = all.get(0);
        for (GeneratorStatus st : all) {
            if (st.state() == GeneratorStatus.State.LIVE) {
                shown = st;
                break;
            }
        }
        GeneratorStatus.Counters r = set.retired();
        long issued = r.idsIssued(), waits = r.nextMillisecondWaits(), backWaits = r.clockBackWaits();
        long backRefusals = r.clockBackRefusals(), losses = r.leaseLosses(), reacquires = r.reacquires(), late = r.lateRenewals();
        Duration lead = Duration.ZERO;
        for (GeneratorStatus st : all) {
            GeneratorStatus.Counters c = st.counters();
            issued += c.idsIssued();
            waits += c.nextMillisecondWaits();
            backWaits += c.clockBackWaits();
            backRefusals += c.clockBackRefusals();
            losses += c.leaseLosses();
            reacquires += c.reacquires();
            late += c.lateRenewals();
            lead = lead.compareTo(st.lead()) >= 0 ? lead : st.lead();
        }
        GeneratorStatus.State state = shared.closed.get() ? GeneratorStatus.State.CLOSED : shown.state();
        Optional<String> reason = state == GeneratorStatus.State.CLOSED ? Optional.of(closedException().getMessage())
                : shown.reason().map(why -> "none of the " + all.size() + " stripes may issue; the first: " + why);
        return new GeneratorStatus(state, reason, shown.idc(), shown.workerId(), product, shown.allocator(),
                shown.leaseExpiresAt(), shown.fenceDeadline(), shown.issueLimit(), lead, shown.lastRenewal(), shown.clockSkew(),
                new GeneratorStatus.Counters(issued, waits, backWaits, backRefusals, losses, reacquires, late));
    }

    /** {@return one status per stripe held now, in stripe order: each its own worker ID, lease, state and counters} */
    @Override
    public List<GeneratorStatus> stripeStatuses() {
        return statuses(shared.set);
    }

    private List<GeneratorStatus> statuses(Stripes set) {
        List<GeneratorStatus> all = new ArrayList<>(set.live().length);
        for (EkkoGenerator g : set.live()) {
            all.add(g.statusFor(product));
        }
        return List.copyOf(all);
    }

    /**
     * Stops the striper, then closes every stripe at once (each stops issuing, records a clean shutdown in its state file and
     * releases its worker ID), and returns when all are closed. A view from {@link #forProduct(int)} closes nothing.
     */
    @Override
    public void close() {
        if (!owner) {
            return;
        }
        synchronized (shared) {
            if (!shared.closed.compareAndSet(false, true)) {
                return;
            }
        }
        boolean interrupted = false;
        if (shared.striper != null) {
            // Wait for the striper's check in progress to end, however long its coordinator takes: a stripe it is closing
            // finishes its release, and a stripe it is adding is closed by it (it sees the flag). Interrupted only while it
            // adds (a start may wait for its floor, up to a lease TTL plus the skew): an interrupt would cut a release short.
            if (shared.adding) {
                shared.striper.shutdownNow();
            } else {
                shared.striper.shutdown();
            }
            for (;;) {
                try {
                    if (shared.striper.awaitTermination(1, java.util.concurrent.TimeUnit.SECONDS)) {
                        break;
                    }
                    if (shared.adding) {
                        shared.striper.shutdownNow(); // an add that began after the first look
                    }
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        EkkoGenerator[] live = shared.set.live;
        Thread[] closers = new Thread[live.length];
        for (int i = 0; i < live.length; i++) {
            closers[i] = new Thread(live[i]::close, "ekko-stripe-close-" + i);
            closers[i].setDaemon(true);
            closers[i].start();
        }
        for (Thread t : closers) {
            for (;;) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** For tests: the stripes held now, in stripe order. */
    EkkoGenerator[] stripes() {
        return shared.set.live.clone();
    }

    @Override
    public String toString() {
        StringBuilder workers = new StringBuilder();
        EkkoGenerator[] live = shared.set.live;
        for (EkkoGenerator g : live) {
            workers.append(workers.length() == 0 ? "" : ",").append(g.workerId());
        }
        return "IdGenerator{idc=" + idc() + ", stripes=" + live.length + (shared.max > shared.min ? " (" + shared.min + ".."
                + shared.max + ")" : "") + ", workers=[" + workers + "], product=" + product + ", " + layout() + "}";
    }
}
