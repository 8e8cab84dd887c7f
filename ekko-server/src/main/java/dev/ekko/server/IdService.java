package dev.ekko.server;

import dev.ekko.DecodedId;
import dev.ekko.IdGenerator;
import dev.ekko.SegmentGenerator;
import dev.ekko.SegmentIds;
import io.grpc.Status;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;
import java.util.regex.Pattern;

/**
 * What both protocols serve: snowflake IDs, segment numbers, decoding, readiness; input checked here once, failures mapped
 * to {@link ApiError}, counts kept for the metrics.
 */
final class IdService {

    /** The segment name rule of the library (README, "Segment mode"). */
    private static final Pattern NAME = Pattern.compile("[!-~]{1,128}");
    /** A count as sent: ASCII decimal digits, at most 7 (the largest bound is 1,000,000). */
    private static final Pattern ASCII_COUNT = Pattern.compile("[0-9]{1,7}");

    private final IdGenerator generator;
    private final SegmentIds segments;
    private final int batchMax;
    final LongAdder snowflakeIds = new LongAdder();
    final LongAdder segmentNumbers = new LongAdder();
    final long startedNanos = System.nanoTime();

    IdService(IdGenerator generator, SegmentIds segments, int batchMax) {
        this.generator = generator;
        this.segments = segments;
        this.batchMax = batchMax;
    }

    IdGenerator generator() {
        return generator;
    }

    int batchMax() {
        return batchMax;
    }

    boolean segmentsConfigured() {
        return segments != null;
    }

    long next() {
        try {
            long id = generator.next();
            snowflakeIds.increment();
            return id;
        } catch (RuntimeException e) {
            throw ApiError.of(e);
        }
    }

    long[] next(int count) {
        long[] ids = new long[count];
        try {
            generator.next(ids);
        } catch (RuntimeException e) {
            throw ApiError.of(e);
        }
        snowflakeIds.add(count);
        return ids;
    }

    /**
     * Numbers of a segment name.
     *
     * @param parameter what the request called the name ({@code name}, tinyid's {@code bizType}), for errors
     */
    long[] segment(String parameter, String name, int count) {
        SegmentGenerator g = segmentGenerator(parameter, name);
        long[] ids = new long[count];
        try {
            if (count == 1) {
                ids[0] = g.next();
            } else {
                g.next(ids);
            }
        } catch (IllegalArgumentException e) {
            throw ApiError.unknownName(parameter, name, e.getMessage()); // the name was deleted at the store meanwhile
        } catch (RuntimeException e) {
            throw ApiError.of(e);
        }
        segmentNumbers.add(count);
        return ids;
    }

    private SegmentGenerator segmentGenerator(String parameter, String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw ApiError.badParameter(parameter, name, "a segment name: 1 to 128 printable ASCII characters without blanks");
        }
        if (segments == null) {
            throw new ApiError(404, Status.Code.NOT_FOUND, "segment mode is not configured on this server (set ekko.segment.store)", parameter,
                    name, "a name defined at the server's segment store");
        }
        try {
            return segments.generator(name);
        } catch (IllegalArgumentException e) {
            throw ApiError.unknownName(parameter, name, e.getMessage());
        } catch (RuntimeException e) {
            throw ApiError.of(e);
        }
    }

    DecodedId decode(String text) {
        long id;
        try {
            id = dev.ekko.Layout.parse(text);
        } catch (RuntimeException e) {
            throw ApiError.badParameter("id", text, "an unsigned 64-bit decimal ID (0..18446744073709551615)");
        }
        return decode(id);
    }

    DecodedId decode(long id) {
        try {
            return generator.layout().decode(id);
        } catch (IllegalArgumentException e) {
            throw ApiError.badParameter("id", Long.toUnsignedString(id), "an ID of this server's layout: " + e.getMessage());
        }
    }

    /** {@return why the generator may not issue now, or empty} */
    Optional<String> unavailable() {
        return generator.unavailableReason();
    }

    /**
     * Checks a count.
     *
     * @param parameter the parameter's name, for the error
     * @param raw its value as sent, or null when absent
     * @param defaultValue the count when absent, or 0 if it is required
     * @return the count, 1..batchMax
     */
    int count(String parameter, String raw, int defaultValue) {
        String allowed = "an integer 1.." + batchMax + " (ekko.server.batch.max)";
        if (raw == null) {
            if (defaultValue > 0) {
                return defaultValue;
            }
            throw ApiError.badParameter(parameter, null, allowed);
        }
        if (!ASCII_COUNT.matcher(raw).matches()) {
            throw ApiError.badParameter(parameter, raw, allowed); // not Integer.parseInt alone: it takes any script's digits
        }
        int n = Integer.parseInt(raw);
        if (n < 1 || n > batchMax) {
            throw ApiError.badParameter(parameter, raw, allowed);
        }
        return n;
    }
}
