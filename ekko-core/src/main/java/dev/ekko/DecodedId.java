package dev.ekko;

import java.time.Instant;

/**
 * The fields of one ID, as decoded by {@link Layout#decode(long)}.
 *
 * @param id the ID (unsigned; see {@link #idString()})
 * @param epochMillis the millisecond it was made in, Unix milliseconds
 * @param idc the datacenter, 0..7
 * @param worker the worker ID
 * @param product the product line (0 when the layout has no product bits)
 * @param sequence the sequence within the millisecond, 0..1023
 */
public record DecodedId(long id, long epochMillis, int idc, int worker, int product, int sequence) {

    /** {@return the millisecond the ID was made in} */
    public Instant timestamp() {
        return Instant.ofEpochMilli(epochMillis);
    }

    /** {@return the ID as an unsigned decimal string} */
    public String idString() {
        return Long.toUnsignedString(id);
    }

    /**
     * Formats these fields as JSON.
     *
     * @return one JSON object with keys {@code id} (a string, so JavaScript keeps every digit),
     *     {@code timestamp} (ISO-8601 UTC), {@code epochMillis}, {@code idc}, {@code worker},
     *     {@code product}, {@code sequence}
     */
    public String toJson() {
        return "{\"id\":\"" + idString() + "\",\"timestamp\":\"" + timestamp() + "\",\"epochMillis\":" + epochMillis
                + ",\"idc\":" + idc + ",\"worker\":" + worker + ",\"product\":" + product + ",\"sequence\":" + sequence + "}";
    }

    @Override
    public String toString() {
        return idString() + " timestamp=" + timestamp() + " idc=" + idc + " worker=" + worker + " product=" + product
                + " sequence=" + sequence;
    }
}
