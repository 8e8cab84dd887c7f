package dev.ekko.spi;

/**
 * A range of numbers a {@link SegmentStore} reserved for one name: {@code first}, {@code first + stride}, ... ({@code count}
 * numbers). Durable at the store before it is returned: the store never hands out any of them again.
 *
 * @param first the first number, {@code >= 0}
 * @param count how many numbers, {@code >= 1}
 * @param stride the distance between two numbers: the store's {@code delta} (1 for a store alone)
 */
public record Segment(long first, long count, long stride) {

    /**
     * Checks the range.
     *
     * @param first the first number, {@code >= 0}
     * @param count how many numbers, {@code >= 1}
     * @param stride the distance between two numbers, {@code >= 1}
     * @throws IllegalArgumentException if a value is out of range or the last number would overflow
     */
    public Segment {
        if (first < 0) {
            throw new IllegalArgumentException("must be >= 0: first=" + first);
        }
        if (count < 1) {
            throw new IllegalArgumentException("must be >= 1: count=" + count);
        }
        if (stride < 1) {
            throw new IllegalArgumentException("must be >= 1: stride=" + stride);
        }
        if ((Long.MAX_VALUE - first) / stride < count - 1) {
            throw new IllegalArgumentException("must end at or below Long.MAX_VALUE: first=" + first + ", count=" + count + ", stride="
                    + stride);
        }
    }

    /** {@return the last number of the range} */
    public long last() {
        return first + (count - 1) * stride;
    }
}
