package dev.ekko;

/**
 * Consecutive IDs from one millisecond of one worker and product: {@code first}, {@code first + 1}, ...
 * {@code first + count - 1}, all issued to the caller and to no one else.
 *
 * @param first the first ID (unsigned)
 * @param count how many, 1..1024
 */
public record IdRange(long first, int count) {

    /**
     * Checks the range.
     *
     * @param first the first ID (unsigned)
     * @param count how many, 1..1024
     * @throws IllegalArgumentException if count is out of range
     */
    public IdRange {
        if (count < 1 || count > 1 << Layout.SEQUENCE_BITS) {
            throw new IllegalArgumentException("must be >= 1 && <= 1024: count=" + count);
        }
    }

    /** {@return the last ID of the range} */
    public long last() {
        return first + count - 1;
    }

    /**
     * One ID of the range.
     *
     * @param index 0..count-1
     * @return the ID at that index
     * @throws IndexOutOfBoundsException if index is out of range
     */
    public long get(int index) {
        if (index < 0 || index >= count) {
            throw new IndexOutOfBoundsException("must be >= 0 && < " + count + ": index=" + index);
        }
        return first + index;
    }

    @Override
    public String toString() {
        return "IdRange{" + Long.toUnsignedString(first) + ".." + Long.toUnsignedString(last()) + ", count=" + count + "}";
    }
}
