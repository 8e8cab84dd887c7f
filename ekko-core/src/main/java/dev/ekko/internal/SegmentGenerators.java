package dev.ekko.internal;

import dev.ekko.EkkoClock;
import dev.ekko.SegmentGenerator;
import dev.ekko.spi.SegmentStore;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/** The generators of one {@link dev.ekko.SegmentIds}: one {@link SegmentBuffer} per name, one background thread for fetches. */
public final class SegmentGenerators {

    /** The segment keys of the core; stores add their own. */
    public static final Set<String> KEYS = Set.of("ekko.segment.store", "ekko.segment.step.min", "ekko.segment.step.max",
            "ekko.segment.step.target", "ekko.segment.prefetch.at");

    private static final Pattern NAME = Pattern.compile("[!-~]{1,128}");

    private final List<SegmentStore> stores;
    private final EkkoClock clock;
    private final long stepMin;
    private final long stepMax;
    private final Duration stepTarget;
    private final double prefetchAt;
    private final SegmentFetcher fetcher;
    private final ConcurrentHashMap<String, SegmentBuffer> byName = new ConcurrentHashMap<>();
    private volatile boolean closed;

    /**
     * Creates the generators.
     *
     * @param stores the stores, in residue order
     * @param clock the clock the adaptive step reads
     * @param stepMin the smallest step
     * @param stepMax the largest step
     * @param stepTarget how long a range should last
     * @param prefetchAt how much of a range is used when the next is fetched
     */
    public SegmentGenerators(List<SegmentStore> stores, EkkoClock clock, long stepMin, long stepMax, Duration stepTarget,
            double prefetchAt) {
        this.stores = List.copyOf(stores);
        this.clock = clock;
        this.stepMin = stepMin;
        this.stepMax = stepMax;
        this.stepTarget = stepTarget;
        this.prefetchAt = prefetchAt;
        this.fetcher = new SegmentFetcher();
    }

    /**
     * Checks a name.
     *
     * @param name the name
     * @return the name
     * @throws IllegalArgumentException if it is not 1 to 128 printable ASCII characters without blanks
     */
    public static String checkName(String name) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("must be 1 to 128 printable ASCII characters without blanks: segment name=" + (name == null
                    ? "null" : "\"" + name + "\""));
        }
        return name;
    }

    /**
     * Defines a name at every store.
     *
     * @param name the name
     * @param start the first number
     * @param max the largest number
     */
    public void define(String name, long start, long max) {
        checkOpen();
        checkName(name);
        if (start < 0) {
            throw new IllegalArgumentException("must be >= 0: start=" + start + " (segment name \"" + name + "\")");
        }
        if (max < start) {
            throw new IllegalArgumentException("must be >= start=" + start + ": max=" + max + " (segment name \"" + name + "\")");
        }
        for (SegmentStore s : stores) {
            try {
                s.define(name, start, max);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new dev.ekko.GenerationInterruptedException("defining segment name \"" + name + "\" at " + s.describe());
            }
        }
    }

    /**
     * The generator of a name, fetching its first range at the first call.
     *
     * @param name the name
     * @return the generator
     */
    public SegmentGenerator generator(String name) {
        checkOpen();
        checkName(name);
        SegmentBuffer b = byName.get(name);
        if (b != null) {
            return b;
        }
        synchronized (byName) {
            b = byName.get(name);
            if (b == null) {
                b = new SegmentBuffer(name, stores, clock, fetcher, stepMin, stepMax, stepTarget, prefetchAt);
                byName.put(name, b);
            }
            return b;
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new dev.ekko.GeneratorClosedException("segment IDs are closed");
        }
    }

    /** Stops fetching and closes the stores. */
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        byName.values().forEach(SegmentBuffer::close);
        fetcher.close();
        for (SegmentStore s : stores) {
            try {
                s.close();
            } catch (RuntimeException e) {
                // closing the rest matters more
            }
        }
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        for (SegmentStore s : stores) {
            b.append(b.length() == 0 ? "" : ", ").append(s.describe());
        }
        return "SegmentIds{stores=[" + b + "], names=" + byName.keySet() + "}";
    }
}
