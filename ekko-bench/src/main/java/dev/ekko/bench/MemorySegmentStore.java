package dev.ekko.bench;

import dev.ekko.spi.Segment;
import dev.ekko.spi.SegmentStore;
import dev.ekko.spi.SegmentStoreProvider;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The in-memory store every contender of {@link SegmentBenchmark} gets, so that the figures compare the counting and the
 * buffering, not the stores: ranges handed out from one {@link AtomicLong} by {@code getAndAdd}, as CosId's own in-memory
 * distributor ({@code IdSegmentDistributor.Atomic}) hands out its maximum IDs by {@code addAndGet}. For Ekko it is a
 * {@link SegmentStoreProvider} given to {@code SegmentIds.Builder.store(provider, settings)}; the Leaf-style buffer calls
 * {@link #take(long)} directly. One store, one name: nothing is durable, and nothing is needed.
 */
final class MemorySegmentStore implements SegmentStore {

    private final AtomicLong next = new AtomicLong();
    private volatile long max = Long.MAX_VALUE;

    /** {@return the first of {@code count} numbers no earlier call returned} */
    long take(long count) {
        return next.getAndAdd(count);
    }

    @Override
    public void define(String name, long start, long max) {
        next.set(start);
        this.max = max;
    }

    @Override
    public Segment take(String name, long count, long floor) {
        long first = take(count);
        if (first <= floor || first > max - count + 1) {
            throw new IllegalStateException("must hand out numbers above the floor and up to the maximum: first=" + first + ", count="
                    + count + ", floor=" + floor + ", max=" + max + " (the benchmark's store ran past what it was sized for)");
        }
        return new Segment(first, count, 1);
    }

    @Override
    public String describe() {
        return "the benchmark's in-memory store";
    }

    @Override
    public void close() {
        // nothing held
    }

    /** Hands Ekko one {@link MemorySegmentStore}, for a single store per name. */
    static final class Provider implements SegmentStoreProvider {

        @Override
        public String name() {
            return "bench-memory";
        }

        @Override
        public String artifact() {
            return "dev.ekko:ekko-bench";
        }

        @Override
        public Set<String> configKeys() {
            return Set.of();
        }

        @Override
        public SegmentStore create(Map<String, String> settings, int delta, int remainder) {
            if (delta != 1 || remainder != 0) {
                throw new IllegalArgumentException("must be the only store of a name (delta=1, remainder=0): delta=" + delta
                        + ", remainder=" + remainder);
            }
            return new MemorySegmentStore();
        }
    }
}
