package dev.ekko;

/**
 * Hands out unique, roughly time-ordered 64-bit IDs. Built by {@link Ekko#newBuilder()}; thread-safe.
 *
 * <p>IDs are unsigned: compare them with {@link Layout#compare(long, long)} and print them with
 * {@link Layout#format(long)}. IDs from one generator and product are strictly increasing (as unsigned
 * values) across all threads in the order their calls take effect, and across restarts. A generator that holds several
 * worker IDs ({@link Ekko.Builder#stripes(int)}) keeps that per worker ID only; a thread's IDs from it never go back to an
 * earlier millisecond, but within one millisecond they are not ordered.
 *
 * <p>{@link #next()} takes no lock, allocates nothing and touches no file; it reads the clock, and the
 * monotonic clock once per new millisecond to check the lease. It waits (spin, then park) when 1024 IDs
 * were already taken in the current millisecond, and for a small backward clock step.
 */
public interface IdGenerator extends AutoCloseable {

    /**
     * Issues one ID.
     *
     * @return a new ID, with this generator's default product
     * @throws ClockMovedBackwardsException if the clock stays behind the last issued millisecond longer than allowed
     * @throws LeaseLostException if the worker ID lease may have expired; retry once it is re-acquired
     * @throws GenerationInterruptedException if interrupted while waiting for the next millisecond
     * @throws IdSpaceExhaustedException if the layout's time has run out
     * @throws ClockSkewException if the local clock disagrees with the coordinator's by more than the tolerated skew and
     *     the limit set while they agreed is reached; IDs resume once they agree again
     * @throws StateFileException if the state file was changed while in use (the generator stopped for good)
     * @throws GeneratorClosedException if the generator is closed
     */
    long next();

    /**
     * Issues one ID, waiting up to {@code timeout} while the generator may not issue for a reason that passes: a lost
     * lease being re-acquired, a fence deadline while the coordinator does not answer, a clock stepped back, a clock
     * that disagrees with the coordinator's. For callers that would rather wait than catch {@link #next()}'s exceptions.
     * It tries again every 5 ms; one try may itself wait up to {@code ekko.clock.max.backward.wait} for a clock step
     * back, so it can return or throw that much after the timeout. Allocates nothing while the generator issues.
     *
     * @param timeout how long to wait at most; {@link java.time.Duration#ZERO} tries once, like {@link #next()}
     * @return a new ID, with this generator's default product
     * @throws NullPointerException if timeout is null
     * @throws IllegalArgumentException if timeout is negative
     * @throws LeaseLostException if the lease is still lost (or fenced) when the timeout passes
     * @throws ClockMovedBackwardsException if the clock is still behind when the timeout passes
     * @throws ClockSkewException if the clocks still disagree when the timeout passes
     * @throws GenerationInterruptedException if interrupted while waiting (the interrupt is kept)
     * @throws GeneratorClosedException if the generator is closed, at once
     * @throws StateFileException if the state file was changed while in use, at once (it stopped for good)
     * @throws IdSpaceExhaustedException if the layout's time has run out, at once
     */
    long next(java.time.Duration timeout);

    /**
     * Fills {@code ids[offset..offset+length)} with new IDs, reserved a millisecond's chunk at a time
     * (up to 1024 per CAS). Allocates nothing.
     *
     * @param ids the array to fill
     * @param offset the first index to fill
     * @param length how many IDs
     * @throws IndexOutOfBoundsException if the range does not fit the array
     * @throws EkkoException as {@link #next()}; IDs already written stay valid and unique
     */
    void next(long[] ids, int offset, int length);

    /**
     * Fills the whole array with new IDs.
     *
     * @param ids the array to fill
     */
    default void next(long[] ids) {
        next(ids, 0, ids.length);
    }

    /**
     * Reserves up to {@code maxCount} consecutive IDs of one millisecond in one step.
     *
     * @param maxCount 1 or more; at most 1024 are returned at once
     * @return the reserved range, 1..min(maxCount, 1024) IDs
     * @throws IllegalArgumentException if maxCount is less than 1
     */
    IdRange nextRange(int maxCount);

    /**
     * A view that issues IDs for another product line with the same worker ID and lease.
     *
     * @param product 0..{@link Layout#products()}-1
     * @return the view; closing it closes nothing
     * @throws IllegalArgumentException if the product is out of range
     */
    IdGenerator forProduct(int product);

    /** {@return the layout IDs are made with} */
    Layout layout();

    /** {@return the datacenter, 0..7} */
    int idc();

    /**
     * {@return the worker ID currently held (it can change after a lost lease is re-acquired); with several, the first
     * stripe's: {@link #stripeStatuses()} shows each}
     */
    int workerId();

    /** {@return the product line of {@link #next()}} */
    int product();

    /**
     * Tells how far this generator runs ahead of the wall clock.
     *
     * @return how far the last issued millisecond is ahead of the wall clock, in ms: up to {@code ekko.clock.max.lead} in
     *     bounded-lead mode; 0 in real-time mode, unless the clock stepped back (then up to the step callers waited out)
     */
    long leadMillis();

    /**
     * Tells whether this generator may issue now, for a readiness check: it holds its worker ID lease, before the fence
     * deadline, is neither stopped nor closed, and is not held at its limit by a clock that disagrees with the
     * coordinator's beyond the tolerated skew. Reads a few volatile fields; takes no lock and calls no coordinator. A
     * caller may still be refused for a reason that passes within a call (a small clock step back, the next
     * millisecond's wait).
     *
     * @return empty while it may issue, else why not (the message a caller of {@link #next()} would get)
     */
    java.util.Optional<String> unavailableReason();

    /**
     * A snapshot of this generator for operators: its state and why it does not issue, the lease and its deadlines, the
     * issue limit and lead, the last renewal, the clock skew to the coordinator, and counters. Reads volatile fields and
     * counters; takes no lock and calls no coordinator. The counters cost {@link #next()} nothing per ID (see
     * {@link GeneratorStatus}).
     *
     * @return the snapshot; a view from {@link #forProduct(int)} reports the same generator with its own product and lead
     */
    GeneratorStatus status();

    /**
     * One status per worker ID this generator holds: a generator built with {@code ekko.worker.stripes} of k holds k, each
     * with its own lease, state and counters, which {@link #status()} sums up; any other generator holds one, and this is
     * its {@link #status()}.
     *
     * @return the statuses, one per stripe, in stripe order; never empty
     */
    default java.util.List<GeneratorStatus> stripeStatuses() {
        return java.util.List.of(status());
    }

    /**
     * Stops issuing at once, records a clean shutdown in the state file and releases the worker ID (also on an
     * interrupted thread, whose interrupt is kept). Returns within about a second whatever the keeper thread is doing,
     * plus a coordinator call already in flight (bounded by the back end's timeout). Idempotent. Calls to
     * {@code next()} after this throw {@link GeneratorClosedException}.
     */
    @Override
    void close();
}
