package dev.ekko;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * The bit layout of an ID, high bit to low bit:
 *
 * <pre>
 *  | time: 39 bits (38 if positive) | IDC: 3 | worker: 12-p | product: p (0..4) | sequence: 10 |
 * </pre>
 *
 * <p>Time is milliseconds since the layout's epoch. With the full 39 time bits all 64 bits are used,
 * so an ID is an <em>unsigned</em> 64-bit value: from {@link #signBitDate()} on, IDs are negative
 * as a Java {@code long} or a signed SQL BIGINT. Every method here treats IDs as unsigned
 * ({@link #compare}, {@link #format}, {@link #parse}). A {@linkplain #positive positive} layout
 * gives the time one bit less, so bit 63 is always clear and IDs stay positive, for half the lifetime.
 *
 * <p>Immutable and thread-safe. Two layouts are equal when they produce and decode the same IDs.
 */
public final class Layout {

    /** Bits of the per-millisecond sequence: 1024 IDs per millisecond per worker and product. */
    public static final int SEQUENCE_BITS = 10;
    /** Bits of the datacenter (IDC) number: 0..7. */
    public static final int IDC_BITS = 3;
    /** Bits shared by the worker ID and the product line. */
    public static final int WORKER_AND_PRODUCT_BITS = 12;
    /** The most bits the product line may take from the worker ID. */
    public static final int MAX_PRODUCT_BITS = 4;
    /** The default epoch: 2026-01-01T00:00:00Z. */
    public static final Instant DEFAULT_EPOCH = Instant.ofEpochSecond(1_767_225_600L); // not parsed: java.time's parser costs a cold start ms
    /** {@link #DEFAULT_EPOCH} as {@link Instant#toString()} writes it, without loading its formatter. */
    private static final String DEFAULT_EPOCH_TEXT = "2026-01-01T00:00:00Z";

    private static final int PRODUCT_SHIFT = SEQUENCE_BITS;
    private static final int IDC_SHIFT = SEQUENCE_BITS + WORKER_AND_PRODUCT_BITS;
    /** The lowest bit of the time field: an ID is {@code timeOffset << TIME_SHIFT | idc | worker | product | sequence}. */
    public static final int TIME_SHIFT = IDC_SHIFT + IDC_BITS;

    private final long epochMillis;
    private final boolean positive;
    private final int productBits;
    private final int timeBits;
    private final int workerShift;

    private Layout(long epochMillis, boolean positive, int productBits) {
        this.epochMillis = epochMillis;
        this.positive = positive;
        this.productBits = productBits;
        this.timeBits = 64 - TIME_SHIFT - (positive ? 1 : 0);
        this.workerShift = PRODUCT_SHIFT + productBits;
    }

    /**
     * A layout that uses all 64 bits (39 bits of time, about 17.4 years).
     *
     * @param epoch the instant time is counted from; whole milliseconds, not before 1970, not in the future
     * @param productBits bits given to the product line, 0..4 (the worker ID gets 12 minus this)
     * @return the layout
     * @throws IllegalArgumentException if a parameter is out of range
     */
    public static Layout unsigned(Instant epoch, int productBits) {
        return new Layout(checkEpoch(epoch), false, checkProductBits(productBits));
    }

    /**
     * A layout whose IDs are always positive as a signed {@code long} (38 bits of time, about 8.7 years),
     * for IDs stored in signed columns.
     *
     * @param epoch the instant time is counted from; whole milliseconds, not before 1970, not in the future
     * @param productBits bits given to the product line, 0..4 (the worker ID gets 12 minus this)
     * @return the layout
     * @throws IllegalArgumentException if a parameter is out of range
     */
    public static Layout positive(Instant epoch, int productBits) {
        return new Layout(checkEpoch(epoch), true, checkProductBits(productBits));
    }

    /** {@return the default layout: {@link #DEFAULT_EPOCH}, all 64 bits, no product bits} */
    public static Layout defaults() {
        return new Layout(DEFAULT_EPOCH.toEpochMilli(), false, 0);
    }

    static long checkEpoch(Instant epoch) {
        if (epoch == null) {
            throw new IllegalArgumentException("must not be null: epoch");
        }
        if (epoch.getNano() % 1_000_000 != 0) {
            throw new IllegalArgumentException("must be a whole millisecond: epoch=" + epoch);
        }
        if (epoch.isBefore(Instant.EPOCH)) {
            throw new IllegalArgumentException("must not be before 1970-01-01T00:00:00Z: epoch=" + epoch);
        }
        if (epoch.isAfter(Instant.ofEpochMilli(System.currentTimeMillis()))) {
            throw new IllegalArgumentException("must not be in the future (no ID can be made before the epoch): epoch=" + epoch);
        }
        return epoch.toEpochMilli();
    }

    static int checkProductBits(int productBits) {
        if (productBits < 0 || productBits > MAX_PRODUCT_BITS) {
            throw new IllegalArgumentException("must be >= 0 && <= " + MAX_PRODUCT_BITS + ": productBits=" + productBits);
        }
        return productBits;
    }

    /** {@return the epoch time is counted from} */
    public Instant epoch() {
        return Instant.ofEpochMilli(epochMillis);
    }

    /** {@return {@code epoch().toString()}, without java.time's formatter for the default epoch} */
    String epochText() {
        return epochMillis == DEFAULT_EPOCH.toEpochMilli() ? DEFAULT_EPOCH_TEXT : epoch().toString();
    }

    /** {@return the epoch in Unix milliseconds} */
    public long epochMillis() {
        return epochMillis;
    }

    /** {@return true if every ID is positive as a signed {@code long} (time has 38 bits)} */
    public boolean isPositive() {
        return positive;
    }

    /** {@return bits of time: 39, or 38 for a positive layout} */
    public int timeBits() {
        return timeBits;
    }

    /** {@return bits of the product line, 0..4} */
    public int productBits() {
        return productBits;
    }

    /** {@return bits of the worker ID, 8..12} */
    public int workerBits() {
        return WORKER_AND_PRODUCT_BITS - productBits;
    }

    /** {@return how many worker IDs each IDC has: 256..4096} */
    public int workerIds() {
        return 1 << workerBits();
    }

    /** {@return how many product lines there are: 1..16} */
    public int products() {
        return 1 << productBits;
    }

    /** {@return the largest time offset an ID can hold, in milliseconds since the epoch} */
    public long maxTimeOffset() {
        return (1L << timeBits) - 1;
    }

    /** {@return the first instant that no longer fits: IDs cannot be made from then on} */
    public Instant endOfTime() {
        return Instant.ofEpochMilli(epochMillis + (1L << timeBits));
    }

    /**
     * Tells when IDs of this layout first have bit 63 set.
     *
     * @return the first instant whose IDs have bit 63 set (negative as a signed {@code long} or BIGINT),
     *     or empty for a positive layout
     */
    public Optional<Instant> signBitDate() {
        return positive ? Optional.empty() : Optional.of(Instant.ofEpochMilli(epochMillis + (1L << (timeBits - 1))));
    }

    /**
     * Tells how much time this layout has left.
     *
     * @param now the current time
     * @return time left before {@link #endOfTime()}; negative once it has passed
     */
    public Duration remaining(Instant now) {
        return Duration.between(now, endOfTime());
    }

    /**
     * Builds an ID from its fields; the values are checked.
     *
     * @param unixMillis the timestamp, Unix milliseconds, within this layout's time range
     * @param idc datacenter, 0..7
     * @param worker worker ID, 0..{@link #workerIds()}-1
     * @param product product line, 0..{@link #products()}-1
     * @param sequence sequence within the millisecond, 0..1023
     * @return the ID (unsigned)
     * @throws IllegalArgumentException naming the first field that is out of range
     */
    public long encode(long unixMillis, int idc, int worker, int product, int sequence) {
        long offset = unixMillis - epochMillis;
        if (offset < 0 || offset > maxTimeOffset()) {
            throw new IllegalArgumentException("must be >= " + epoch() + " && < " + endOfTime() + ": timestamp="
                    + Instant.ofEpochMilli(unixMillis));
        }
        checkRange("idc", idc, 1 << IDC_BITS);
        checkRange("worker", worker, workerIds());
        checkRange("product", product, products());
        checkRange("sequence", sequence, 1 << SEQUENCE_BITS);
        return (offset << TIME_SHIFT) | prefix(idc, worker, product) | sequence;
    }

    private long prefix(int idc, int worker, int product) {
        return ((long) idc << IDC_SHIFT) | ((long) worker << workerShift) | ((long) product << PRODUCT_SHIFT);
    }

    static void checkRange(String name, long value, long limit) {
        if (value < 0 || value >= limit) {
            throw new IllegalArgumentException("must be >= 0 && <= " + (limit - 1) + ": " + name + "=" + value);
        }
    }

    /**
     * Decodes an ID made with this layout.
     *
     * @param id the ID, read as unsigned
     * @return its fields
     * @throws IllegalArgumentException if the ID cannot come from this layout (bit 63 set in a positive layout)
     */
    public DecodedId decode(long id) {
        if (positive && id < 0) {
            throw new IllegalArgumentException("must have bit 63 clear in a positive layout: id=" + Long.toUnsignedString(id));
        }
        long offset = id >>> TIME_SHIFT;
        int idc = (int) (id >>> IDC_SHIFT) & ((1 << IDC_BITS) - 1);
        int worker = (int) (id >>> workerShift) & (workerIds() - 1);
        int product = (int) (id >>> PRODUCT_SHIFT) & (products() - 1);
        int sequence = (int) id & ((1 << SEQUENCE_BITS) - 1);
        return new DecodedId(id, epochMillis + offset, idc, worker, product, sequence);
    }

    /**
     * Reads the timestamp of an ID.
     *
     * @param id an ID of this layout, read as unsigned
     * @return the millisecond it was made in
     * @throws IllegalArgumentException if the ID cannot come from this layout (bit 63 set in a positive layout)
     */
    public Instant timestampOf(long id) {
        if (positive && id < 0) {
            throw new IllegalArgumentException("must have bit 63 clear in a positive layout: id=" + Long.toUnsignedString(id));
        }
        return Instant.ofEpochMilli(epochMillis + (id >>> TIME_SHIFT));
    }

    /**
     * Orders two IDs as unsigned values, which is the order they were issued in by one worker and product.
     *
     * @param a an ID
     * @param b an ID
     * @return negative, zero or positive as {@code a} is before, equal to or after {@code b}
     */
    public static int compare(long a, long b) {
        return Long.compareUnsigned(a, b);
    }

    /**
     * The string form of an ID: its unsigned decimal. Safe for JavaScript, which cannot hold a 64-bit
     * number exactly but holds a string.
     *
     * @param id an ID
     * @return the unsigned decimal, e.g. {@code "18446744073709551615"}
     */
    public static String format(long id) {
        return Long.toUnsignedString(id);
    }

    /**
     * Reads the string form of an ID.
     *
     * @param text an unsigned decimal, 1 to 20 digits, at most 18446744073709551615
     * @return the ID
     * @throws IllegalArgumentException naming the text if it is not such a number
     */
    public static long parse(String text) {
        if (text == null || text.isEmpty() || text.length() > 20 || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException("must be an unsigned decimal of 1 to 20 digits, at most 18446744073709551615: id="
                    + (text == null ? "null" : '"' + text + '"'));
        }
        try {
            return Long.parseUnsignedLong(text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("must be at most 18446744073709551615: id=" + text, e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Layout && ((Layout) o).epochMillis == epochMillis && ((Layout) o).positive == positive
                && ((Layout) o).productBits == productBits;
    }

    @Override
    public int hashCode() {
        return Long.hashCode(epochMillis) * 31 + productBits * 2 + (positive ? 1 : 0);
    }

    @Override
    public String toString() {
        return "Layout{epoch=" + epoch() + ", time=" + timeBits + " bits, idc=" + IDC_BITS + " bits, worker=" + workerBits()
                + " bits, product=" + productBits + " bits, sequence=" + SEQUENCE_BITS + " bits"
                + (positive ? ", positive" : ", unsigned") + "}";
    }
}
