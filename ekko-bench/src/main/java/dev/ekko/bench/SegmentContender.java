package dev.ekko.bench;

import dev.ekko.Ekko;
import dev.ekko.SegmentGenerator;
import dev.ekko.SegmentIds;
import java.util.Map;
import me.ahoo.cosid.segment.DefaultSegmentId;
import me.ahoo.cosid.segment.IdSegmentDistributor;
import me.ahoo.cosid.segment.SegmentChainId;

/**
 * Every segment generator measured by {@link SegmentBenchmark} and {@link SegmentBatchBenchmark}: Ekko's segment mode and the
 * peers users would pick instead, each counting one name from an in-memory store with the same fixed step, so that the
 * figures compare the counting and the buffering, not the stores. Each keeps its own prefetch rule.
 */
public enum SegmentContender {

    EKKO("Ekko SegmentGenerator", "dev.ekko.Ekko.newSegmentBuilder().store(in-memory provider): step.min = step.max = step;"
            + " prefetch at 20 % used (its default), on its fetch thread; a getAndAdd on the current range's cursor; next(long[])"
            + " takes a whole batch with one getAndAdd") {
        @Override
        public SegmentSource start(long step) {
            SegmentIds ids = Ekko.newSegmentBuilder().store(new MemorySegmentStore.Provider(), Map.of())
                    .setting("ekko.segment.step.min", Long.toString(step)).setting("ekko.segment.step.max", Long.toString(step))
                    .build();
            ids.define(NAME, 0, Long.MAX_VALUE);
            SegmentGenerator g = ids.generator(NAME);
            return new SegmentSource() {
                @Override
                public long next() {
                    return g.next();
                }

                @Override
                public void next(long[] into, int offset, int length) {
                    g.next(into, offset, length);
                }

                @Override
                public void close() {
                    ids.close();
                }
            };
        }
    },

    COSID_SEGMENT("CosId DefaultSegmentId", "me.ahoo.cosid.segment.DefaultSegmentId(new IdSegmentDistributor.Atomic(step)):"
            + " CosId's own in-memory distributor; no prefetch, the caller that finds its segment used up fetches the next under"
            + " the generator's monitor") {
        @Override
        public SegmentSource start(long step) {
            DefaultSegmentId cosid = new DefaultSegmentId(new IdSegmentDistributor.Atomic(step));
            return peer(cosid::generate, () -> { });
        }
    },

    COSID_SEGMENT_CHAIN("CosId SegmentChainId", "me.ahoo.cosid.segment.SegmentChainId(new IdSegmentDistributor.Atomic(step)):"
            + " CosId's own in-memory distributor; its defaults: a chain of segments kept a safe distance of 2 ahead by its"
            + " shared prefetch worker, widened while callers go hungry") {
        @Override
        public SegmentSource start(long step) {
            SegmentChainId cosid = new SegmentChainId(new IdSegmentDistributor.Atomic(step));
            return peer(cosid::generate, () -> { });
        }
    },

    LEAF_STYLE("Leaf-style double buffer", "ekko-bench's LeafStyleBuffer: a re-implementation of Leaf's segment double buffer"
            + " (Leaf is not on Maven Central) from its published algorithm: two segments with an AtomicLong each, a read-write"
            + " lock per call, the next segment loaded by a background thread at 10 % used") {
        @Override
        public SegmentSource start(long step) {
            MemorySegmentStore store = new MemorySegmentStore();
            LeafStyleBuffer leaf = new LeafStyleBuffer(store::take, step);
            return peer(leaf::next, leaf::close);
        }
    };

    /** The one name every contender counts. */
    static final String NAME = "bench";

    private final String label;
    private final String configuration;

    SegmentContender(String label, String configuration) {
        this.label = label;
        this.configuration = configuration;
    }

    /**
     * Starts the generator on a fresh in-memory store.
     *
     * @param step numbers per range, the same for every contender
     * @return the running generator
     */
    public abstract SegmentSource start(long step);

    /** {@return a short name for tables} */
    public String label() {
        return label;
    }

    /** {@return how it is built} */
    public String configuration() {
        return configuration;
    }

    /** {@return true for Ekko, false for a peer} */
    public boolean isEkko() {
        return this == EKKO;
    }

    /** {@return the class whose jar names the library and its version} */
    public Class<?> libraryClass() {
        switch (this) {
            case COSID_SEGMENT: return DefaultSegmentId.class;
            case COSID_SEGMENT_CHAIN: return SegmentChainId.class;
            case LEAF_STYLE: return LeafStyleBuffer.class;
            default: return SegmentIds.class;
        }
    }

    private static SegmentSource peer(java.util.function.LongSupplier next, Runnable close) {
        return new SegmentSource() {
            @Override
            public long next() {
                return next.getAsLong();
            }

            @Override
            public void close() {
                close.run();
            }
        };
    }

    /** A started segment generator, reduced to what a caller sees. */
    public interface SegmentSource extends AutoCloseable {

        /** {@return the next number} */
        long next();

        /**
         * Fills {@code into[offset .. offset + length - 1]}: Ekko's batch call; a loop of {@link #next()} for a peer, which has
         * none.
         *
         * @param into the caller's array
         * @param offset where to start
         * @param length how many
         */
        default void next(long[] into, int offset, int length) {
            for (int i = offset, end = offset + length; i < end; i++) {
                into[i] = next();
            }
        }

        /** Stops its background threads. */
        @Override
        void close();
    }
}
