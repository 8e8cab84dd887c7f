package dev.ekko.bench.http;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The work every server of {@link HttpShootout} does for a request, written once so that only the server differs:
 * routing a request target, taking numbers from one {@link AtomicLong}, and writing the JSON body into a reusable
 * {@code byte[]} owned by the server's one handling thread. Each server then hands those bytes to its own response type
 * (a pooled {@code ByteBuf}, a Vert.x {@code Buffer}, or the exchange's output stream).
 *
 * <p>Instances are not thread-safe: each server creates one for its single handling thread.
 */
final class IdBodies {

    /** Routes: {@code GET /v1/id}. */
    static final int ID = 1;
    /** Routes: {@code GET /v1/ids?count=N}. */
    static final int IDS = 2;
    /** Routes: anything else. */
    static final int NOT_FOUND = 0;
    /** Routes: {@code /v1/ids} with a missing or out-of-range count. */
    static final int BAD_REQUEST = -1;

    /** The largest {@code count} of {@code /v1/ids}. */
    static final int MAX_COUNT = 1000;

    private static final byte[] ID_HEAD = "{\"id\":\"".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] ID_TAIL = "}".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] IDS_HEAD = "{\"ids\":[".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] IDS_TAIL = "]}".getBytes(StandardCharsets.US_ASCII);
    /** One quoted number: up to 20 characters (a negative long), 2 quotes, 1 comma. */
    private static final int MAX_ITEM = 23;

    private final AtomicLong next;
    /** The body of the last {@link #write} call: bytes 0 to {@link #length()}. */
    private final byte[] body = new byte[IDS_HEAD.length + MAX_COUNT * MAX_ITEM + IDS_TAIL.length];
    private int length;

    IdBodies(AtomicLong next) {
        this.next = next;
    }

    /**
     * Routes a request.
     *
     * @param get    whether the method is GET
     * @param target the request target as sent: path, then {@code ?query} if any
     * @return {@link #ID}, or the count for {@link #IDS} as a positive number plus {@code IDS << 16}, or
     *     {@link #NOT_FOUND} or {@link #BAD_REQUEST}
     */
    static int route(boolean get, String target) {
        if (!get) {
            return NOT_FOUND;
        }
        int q = target.indexOf('?');
        int pathEnd = q < 0 ? target.length() : q;
        if (target.regionMatches(0, "/v1/id", 0, pathEnd) && pathEnd == 6) {
            return ID;
        }
        if (!(target.regionMatches(0, "/v1/ids", 0, pathEnd) && pathEnd == 7)) {
            return NOT_FOUND;
        }
        int count = q < 0 ? -1 : count(target, q + 1);
        return count < 1 || count > MAX_COUNT ? BAD_REQUEST : (IDS << 16) | count;
    }

    /** The value of the first {@code count=} parameter of a query, or -1 if absent or not a number. */
    private static int count(String target, int from) {
        int i = from;
        while (i < target.length()) {
            int end = target.indexOf('&', i);
            if (end < 0) {
                end = target.length();
            }
            if (target.startsWith("count=", i)) {
                int value = 0;
                int start = i + 6;
                if (start == end || end - start > 7) {
                    return -1;
                }
                for (int k = start; k < end; k++) {
                    char c = target.charAt(k);
                    if (c < '0' || c > '9') {
                        return -1;
                    }
                    value = value * 10 + (c - '0');
                }
                return value;
            }
            i = end + 1;
        }
        return -1;
    }

    /**
     * Takes numbers for a routed request and writes its body.
     *
     * @param route a value of {@link #route} that is {@link #ID} or an {@link #IDS} route
     * @return the body's array, valid until the next call; its length is {@link #length()}
     */
    byte[] write(int route) {
        int at;
        if (route == ID) {
            at = put(ID_HEAD, 0);
            at = quoted(next.getAndIncrement(), at);
            at = put(ID_TAIL, at);
        } else {
            int count = route & 0xFFFF;
            long first = next.getAndAdd(count);
            at = put(IDS_HEAD, 0);
            for (int i = 0; i < count; i++) {
                if (i > 0) {
                    body[at++] = ',';
                }
                body[at++] = '"';
                at = quoted(first + i, at);
            }
            at = put(IDS_TAIL, at);
        }
        length = at;
        return body;
    }

    /** The length of the body that the last {@link #write} call wrote. */
    int length() {
        return length;
    }

    private int put(byte[] bytes, int at) {
        System.arraycopy(bytes, 0, body, at, bytes.length);
        return at + bytes.length;
    }

    /** Writes {@code n} in decimal then a closing quote at {@code at}; returns the index after the quote. */
    private int quoted(long n, int at) {
        if (n < 0) {
            // Not reached from a counter that starts at 0; kept correct for any long.
            byte[] text = Long.toString(n).getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(text, 0, body, at, text.length);
            body[at + text.length] = '"';
            return at + text.length + 1;
        }
        int digits = 1;
        for (long p = n; p >= 10; p /= 10) {
            digits++;
        }
        int end = at + digits;
        long rest = n;
        for (int i = end - 1; i >= at; i--) {
            body[i] = (byte) ('0' + (int) (rest % 10));
            rest /= 10;
        }
        body[end] = '"';
        return end + 1;
    }
}
