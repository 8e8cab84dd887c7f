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
import java.util.function.Supplier;

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
 * during the call (a spill claims in exactly that millisecond, and a stripe's millisecond only grows), so their
 * milliseconds never decrease. Within one millisecond they are not ordered: after a spill to a stripe with a higher worker
 * ID, the next millisecond's first ID, or a spill that wrapped around to a lower one, compares lower than the spilled one
 * would in the same millisecond. Keeping each thread strictly increasing would need every thread to start each millisecond at
 * the lowest worker ID, so all threads would contend on one word again, or a thread to reach fewer than k stripes.
 *
 * <p>A stripe that may not issue (lost lease, fence, clock skew, coordinator down, changed state file) costs only its own
 * share: a caller whose home stripe refuses claims from the next stripes in turn (a normal claim, which may wait for the next
 * millisecond), and gets the home stripe's refusal only if every stripe refuses. A spill skips such a stripe. A clock that
 * went back is not sent elsewhere: every stripe reads the same clock.
 *
 * <p>The hot path allocates nothing, takes no lock and uses no thread-local: it reads the stripes' current sequencers (one
 * volatile read each), the clock once more when it spills, and the home stripe's state.
 */
public final class StripedGenerator implements IdGenerator {

    /** How long {@link #next(Duration)} parks between attempts while no stripe may issue, as an unstriped generator. */
    private static final long RETRY_PARK_NANOS = 5_000_000;

    private final EkkoGenerator[] stripes;
    private final int product;
    private final boolean owner;
    private final AtomicBoolean closed;
    private final long epochMillis;
    private final long maxBackwardWaitNanos;

    private StripedGenerator(EkkoGenerator[] stripes, int product, boolean owner, AtomicBoolean closed) {
        this.stripes = stripes;
        this.product = product;
        this.owner = owner;
        this.closed = closed;
        this.epochMillis = stripes[0].layout.epochMillis();
        this.maxBackwardWaitNanos = stripes[0].maxBackwardWaitNanos;
    }

    /**
     * Starts k stripes at once (each may wait for its start floor: together they wait as long as the slowest) and returns
     * the striped generator; if any fails to start, closes those that started (releasing their worker IDs) and throws its
     * failure.
     *
     * @param starters one per stripe, each starting one generator from the same settings with its own allocator
     * @param product the default product of {@code next()}
     * @return the running generator
     * @throws GenerationInterruptedException if the calling thread is interrupted meanwhile (the interrupt is kept)
     */
    public static StripedGenerator start(List<Supplier<EkkoGenerator>> starters, int product) {
        int k = starters.size();
        EkkoGenerator[] started = new EkkoGenerator[k];
        Throwable[] failures = new Throwable[k];
        Thread[] threads = new Thread[k];
        for (int i = 0; i < k; i++) {
            int index = i;
            threads[i] = new Thread(() -> {
                try {
                    started[index] = starters.get(index).get();
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
        return new StripedGenerator(started, product, true, new AtomicBoolean());
    }

    /** {@return the stripe a calling thread starts at: its thread ID modulo k, so that threads started in turn spread evenly} */
    private int home() {
        return (int) (Thread.currentThread().getId() % stripes.length);
    }

    private static boolean passes(RuntimeException e) {
        return e instanceof LeaseLostException || e instanceof ClockSkewException || e instanceof CoordinatorUnavailableException
                || e instanceof StateFileException;
    }

    // ---------------------------------------------------------------- the hot path

    @Override
    public long next() {
        return nextFor(product, maxBackwardWaitNanos);
    }

    private long nextFor(int p, long backwardWaitNanos) {
        EkkoGenerator[] g = stripes;
        int h = home();
        Sequencer s = g[h].sequencer(p);
        long r;
        try {
            r = s.claimOrUsedUp(1, backwardWaitNanos);
        } catch (RuntimeException e) {
            if (!passes(e)) {
                throw e;
            }
            return failover(p, h, backwardWaitNanos, e);
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
        return s.next(backwardWaitNanos); // every stripe used ms up: wait for the next millisecond on the home stripe
    }

    /** The home stripe refused: the others in turn, each a normal claim; the home's refusal if all refuse. */
    private long failover(int p, int h, long backwardWaitNanos, RuntimeException homeRefusal) {
        EkkoGenerator[] g = stripes;
        for (int i = 1; i < g.length; i++) {
            try {
                return g[h + i < g.length ? h + i : h + i - g.length].sequencer(p).next(backwardWaitNanos);
            } catch (RuntimeException e) {
                if (!passes(e)) {
                    throw e;
                }
            }
        }
        throw homeRefusal;
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
        EkkoGenerator[] g = stripes;
        int h = home();
        Sequencer s = g[h].sequencer(p);
        long r;
        try {
            r = s.claimOrUsedUp(wanted, maxBackwardWaitNanos);
        } catch (RuntimeException e) {
            if (!passes(e)) {
                throw e;
            }
            for (int i = 1; i < g.length; i++) {
                Sequencer o = g[h + i < g.length ? h + i : h + i - g.length].sequencer(p);
                try {
                    return write(o, o.claim(wanted), ids, at);
                } catch (RuntimeException other) {
                    if (!passes(other)) {
                        throw other;
                    }
                }
            }
            throw e;
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
        return write(s, s.claim(wanted), ids, at);
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

    private IdRange range(int p, int maxCount) {
        if (maxCount < 1) {
            throw new IllegalArgumentException("must be >= 1: maxCount=" + maxCount);
        }
        long[] ids = new long[Math.min(maxCount, 1 << Layout.SEQUENCE_BITS)];
        int count = claimInto(p, ids.length, ids, 0);
        return new IdRange(ids[0], count);
    }

    @Override
    public long next(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("must be >= 0: timeout=" + timeout);
        }
        long waitNanos = Values.saturatedNanos(timeout);
        dev.ekko.EkkoClock clock = stripes[0].clock;
        long start = clock.nanos();
        for (;;) {
            try {
                long left = waitNanos - (clock.nanos() - start);
                return nextFor(product, Math.max(maxBackwardWaitNanos, left));
            } catch (LeaseLostException | ClockMovedBackwardsException | ClockSkewException | CoordinatorUnavailableException e) {
                if (closed.get()) {
                    throw new GeneratorClosedException("generator is closed: idc=" + idc() + " stripes=" + stripes.length);
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

    // ---------------------------------------------------------------- everything else

    @Override
    public IdGenerator forProduct(int other) {
        Layout layout = layout();
        if (other < 0 || other >= layout.products()) {
            throw new IllegalArgumentException("must be >= 0 && <= " + (layout.products() - 1) + " (ekko.product.bits="
                    + layout.productBits() + "): product=" + other);
        }
        return other == product ? this : new StripedGenerator(stripes, other, false, closed);
    }

    @Override
    public Layout layout() {
        return stripes[0].layout;
    }

    @Override
    public int idc() {
        return stripes[0].idc;
    }

    /** {@return the worker ID the first stripe holds; {@link #stripeStatuses()} shows every stripe's} */
    @Override
    public int workerId() {
        return stripes[0].workerId();
    }

    @Override
    public int product() {
        return product;
    }

    /** {@return the largest lead of any stripe} */
    @Override
    public long leadMillis() {
        long lead = 0;
        for (EkkoGenerator g : stripes) {
            lead = Math.max(lead, g.leadFor(product));
        }
        return lead;
    }

    /** {@return empty while any stripe may issue (callers are served by the others); else why the first stripe may not} */
    @Override
    public Optional<String> unavailableReason() {
        if (closed.get()) {
            return Optional.of("generator is closed: idc=" + idc() + " stripes=" + stripes.length);
        }
        String first = null;
        for (EkkoGenerator g : stripes) {
            Optional<String> r = g.unavailableReason();
            if (r.isEmpty()) {
                return r;
            }
            if (first == null) {
                first = r.get();
            }
        }
        return Optional.of("none of the " + stripes.length + " stripes may issue; the first: " + first);
    }

    /**
     * The generator as a whole: {@link GeneratorStatus.State#LIVE} while any stripe is (callers are served, at a share of the
     * throughput per stripe that is not), with the lease, limit, renewal and skew of the first live stripe; otherwise those of
     * the first stripe, its state, and its reason. The lead is the largest, the counters are summed over the stripes.
     * {@link #stripeStatuses()} shows each stripe.
     */
    @Override
    public GeneratorStatus status() {
        List<GeneratorStatus> all = stripeStatuses();
        GeneratorStatus shown = all.get(0);
        for (GeneratorStatus st : all) {
            if (st.state() == GeneratorStatus.State.LIVE) {
                shown = st;
                break;
            }
        }
        long issued = 0, waits = 0, backWaits = 0, backRefusals = 0, losses = 0, reacquires = 0, late = 0;
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
        Optional<String> reason = shown.reason().map(r -> "none of the " + all.size() + " stripes may issue; the first: " + r);
        return new GeneratorStatus(shown.state(), reason, shown.idc(), shown.workerId(), product, shown.allocator(),
                shown.leaseExpiresAt(), shown.fenceDeadline(), shown.issueLimit(), lead, shown.lastRenewal(), shown.clockSkew(),
                new GeneratorStatus.Counters(issued, waits, backWaits, backRefusals, losses, reacquires, late));
    }

    /** {@return one status per stripe, in stripe order: each its own worker ID, lease, state and counters} */
    @Override
    public List<GeneratorStatus> stripeStatuses() {
        List<GeneratorStatus> all = new ArrayList<>(stripes.length);
        for (EkkoGenerator g : stripes) {
            all.add(g.statusFor(product));
        }
        return List.copyOf(all);
    }

    /**
     * Closes every stripe at once (each stops issuing, records a clean shutdown in its state file and releases its worker ID),
     * and returns when all are closed. A view from {@link #forProduct(int)} closes nothing.
     */
    @Override
    public void close() {
        if (!owner || !closed.compareAndSet(false, true)) {
            return;
        }
        Thread[] closers = new Thread[stripes.length];
        for (int i = 0; i < stripes.length; i++) {
            EkkoGenerator g = stripes[i];
            closers[i] = new Thread(g::close, "ekko-stripe-close-" + i);
            closers[i].setDaemon(true);
            closers[i].start();
        }
        boolean interrupted = false;
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

    @Override
    public String toString() {
        StringBuilder workers = new StringBuilder();
        for (EkkoGenerator g : stripes) {
            workers.append(workers.length() == 0 ? "" : ",").append(g.workerId());
        }
        return "IdGenerator{idc=" + idc() + ", stripes=" + stripes.length + ", workers=[" + workers + "], product=" + product + ", "
                + layout() + "}";
    }

    /** For tests: the stripes, in order. */
    EkkoGenerator[] stripes() {
        return stripes.clone();
    }
}
