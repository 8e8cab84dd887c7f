package dev.ekko;

/**
 * Dense, increasing numbers for one name, counted through ranges leased from one or more stores (segment mode, see
 * {@link SegmentIds}). Thread-safe; lock-free and allocation-free while a buffered range lasts; it talks to a store on the
 * caller's thread only when every buffered range is used up.
 *
 * <p>Each thread's numbers increase. Numbers of different threads interleave; none repeats, in this process or any other
 * using the same stores.
 */
public interface SegmentGenerator {

    /** {@return the name this generator hands out numbers for} */
    String name();

    /**
     * {@return the next number}
     *
     * @throws SegmentExhaustedException if the name has no number left below its maximum
     * @throws SegmentStoreException if every buffered range is used up and no store answered
     */
    long next();

    /**
     * Fills {@code into} with increasing numbers.
     *
     * @param into the array to fill
     * @throws SegmentExhaustedException if the name has no number left below its maximum (numbers already written stay used)
     * @throws SegmentStoreException if every buffered range is used up and no store answered (numbers already written stay used)
     */
    default void next(long[] into) {
        next(into, 0, into.length);
    }

    /**
     * Fills {@code into[offset .. offset + length - 1]} with increasing numbers.
     *
     * @param into the array
     * @param offset where to start
     * @param length how many numbers
     * @throws IndexOutOfBoundsException if the range is outside the array
     * @throws SegmentExhaustedException as {@link #next()}
     * @throws SegmentStoreException as {@link #next()}
     */
    void next(long[] into, int offset, int length);
}
