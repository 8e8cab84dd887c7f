package dev.ekko.spi;

/**
 * Leases ranges of numbers per name from a store (a database row, a Redis key, an etcd key), for segment mode
 * ({@link dev.ekko.SegmentIds}). Created by a {@link SegmentStoreProvider}; thread-safe.
 *
 * <p>What the core relies on, and the store contract suite checks:
 * <ul>
 *   <li>a range returned by {@link #take} is durable at the store before the call returns, and no number of it is ever
 *       returned again, by this store or (for the same name) by any other process;</li>
 *   <li>each store hands out only its residue class: numbers {@code n} with {@code n % delta == remainder}, so several
 *       stores of one name never overlap;</li>
 *   <li>a name the store does not know, or whose counter is gone, is refused, never started again from the beginning;</li>
 *   <li>every call is bounded by a timeout.</li>
 * </ul>
 */
public interface SegmentStore extends AutoCloseable {

    /**
     * Creates the name if the store does not have it yet, with its first number and its maximum; a name that exists keeps
     * its counter (its start and maximum must then match).
     *
     * @param name the name ("biz tag"): 1 to 128 printable ASCII characters
     * @param start the smallest number to hand out, {@code >= 0}
     * @param max the largest number to hand out, {@code >= start}
     * @throws IllegalArgumentException if the name exists with another start, maximum, delta or remainder
     * @throws dev.ekko.EkkoException if the store cannot be reached or refuses
     * @throws InterruptedException if interrupted while waiting for the store
     */
    void define(String name, long start, long max) throws InterruptedException;

    /**
     * Reserves the next {@code count} numbers of this store's residue class for {@code name}, all above {@code floor}
     * (the highest number the caller handed out: its numbers then keep increasing when it takes ranges from several
     * stores); the store's counter moves past them first, durably.
     *
     * @param name a defined name
     * @param count how many numbers, {@code >= 1}; fewer are returned only at the name's maximum
     * @param floor every number returned is above it; {@code -1} for none
     * @return the range
     * @throws dev.ekko.SegmentExhaustedException if the name has no number left below its maximum
     * @throws IllegalArgumentException if the name is not defined at the store
     * @throws dev.ekko.EkkoException if the store cannot be reached or refuses
     * @throws InterruptedException if interrupted while waiting for the store
     */
    Segment take(String name, long count, long floor) throws InterruptedException;

    /**
     * {@return the smallest number {@code >= at} of the residue class {@code n % delta == remainder}}: where a store's counter
     * starts for a name, and the first number a take may return above a floor ({@code at = floor + 1}).
     *
     * @param at where to start, {@code >= 0}
     * @param delta stores per name
     * @param remainder the store's residue
     */
    static long firstOfClass(long at, int delta, int remainder) {
        return at + Math.floorMod(remainder - at, (long) delta);
    }

    /**
     * Checks a store's residue class, for {@link SegmentStoreProvider#create}.
     *
     * @param delta stores per name, {@code >= 1}
     * @param remainder this store's residue, {@code 0 <= remainder < delta}
     * @throws IllegalArgumentException naming both values if they are not allowed
     */
    static void checkResidue(int delta, int remainder) {
        if (delta < 1 || remainder < 0 || remainder >= delta) {
            throw new IllegalArgumentException("must be delta >= 1 and 0 <= remainder < delta: delta=" + delta + ", remainder="
                    + remainder);
        }
    }

    /** {@return where the store is and what it is, for messages: no secrets} */
    String describe();

    /** Closes connections. */
    @Override
    void close();
}
