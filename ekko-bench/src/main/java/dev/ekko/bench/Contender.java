package dev.ekko.bench;

import cn.hutool.core.lang.Snowflake;
import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import java.nio.file.Path;
import java.time.Duration;
import me.ahoo.cosid.snowflake.MillisecondSnowflakeId;
import org.agrona.concurrent.SnowflakeIdGenerator;
import org.apache.seata.common.util.IdWorker;

/**
 * Every generator measured by {@link GetBenchmark}: Ekko in both modes, and the peers users would pick
 * instead, each built the way its documentation shows, with one worker (machine, node) ID and its own
 * default epoch and bit layout. Each states its own ceiling: the most IDs it can issue per millisecond,
 * which in real time bounds its throughput at 1000 times that per second.
 */
public enum Contender {

    EKKO_REAL_TIME("Ekko, real-time", 1L << Layout.SEQUENCE_BITS, ekkoLayout() + "; manual worker 1; waits for the next"
            + " millisecond after 1024 IDs") {
        @Override
        public IdSource start(Path stateDir) {
            return new EkkoSource(EkkoMode.REAL_TIME.start(stateDir));
        }
    },

    EKKO_BOUNDED_LEAD("Ekko, bounded lead", 1L << Layout.SEQUENCE_BITS, ekkoLayout() + "; manual worker 1; maxLead=1h:"
            + " a logical clock runs ahead of the wall clock instead of waiting, fresh generator each iteration") {
        @Override
        public IdSource start(Path stateDir) {
            return new EkkoSource(EkkoMode.BOUNDED_LEAD.start(stateDir));
        }
    },

    EKKO_STRIPED_2("Ekko, real-time, 2 stripes", 2L << Layout.SEQUENCE_BITS, ekkoLayout() + "; host-local, ekko.worker.stripes=2:"
            + " two worker IDs, a thread spills to the other stripe instead of waiting for the next millisecond") {
        @Override
        public IdSource start(Path stateDir) {
            return new EkkoSource(striped(stateDir, 2, Duration.ZERO));
        }
    },

    EKKO_STRIPED_4("Ekko, real-time, 4 stripes", 4L << Layout.SEQUENCE_BITS, ekkoLayout() + "; host-local, ekko.worker.stripes=4") {
        @Override
        public IdSource start(Path stateDir) {
            return new EkkoSource(striped(stateDir, 4, Duration.ZERO));
        }
    },

    EKKO_BOUNDED_LEAD_STRIPED_2("Ekko, bounded lead, 2 stripes", 2L << Layout.SEQUENCE_BITS, ekkoLayout() + "; host-local,"
            + " ekko.worker.stripes=2, maxLead=1h, fresh generator each iteration") {
        @Override
        public IdSource start(Path stateDir) {
            return new EkkoSource(striped(stateDir, 2, EkkoMode.BOUNDED_LEAD.maxLead()));
        }
    },

    HUTOOL("Hutool Snowflake", 1L << 12, "cn.hutool.core.lang.Snowflake(workerId=1, dataCenterId=0): 41-bit ms since"
            + " 2010-11-04 (Twitter's epoch), 5+5-bit worker and datacenter, 12-bit sequence; synchronized") {
        @Override
        public IdSource start(Path stateDir) {
            Snowflake snowflake = new Snowflake(1, 0);
            return peer(snowflake::nextId);
        }
    },

    COSID("CosId MillisecondSnowflakeId", 1L << MillisecondSnowflakeId.DEFAULT_SEQUENCE_BIT, "me.ahoo.cosid.snowflake"
            + ".MillisecondSnowflakeId(machineId=1): 41-bit ms since 2019-12-24T16:00Z (CosId's epoch), 10-bit machine,"
            + " 12-bit sequence; synchronized") {
        @Override
        public IdSource start(Path stateDir) {
            MillisecondSnowflakeId cosid = new MillisecondSnowflakeId(1);
            return peer(cosid::generate);
        }
    },

    AGRONA("Agrona SnowflakeIdGenerator", 1L << SnowflakeIdGenerator.SEQUENCE_BITS_DEFAULT, "org.agrona.concurrent"
            + ".SnowflakeIdGenerator(nodeId=1), its defaults: 41-bit ms since 1970 (offset 0), 10-bit node, 12-bit"
            + " sequence, SystemEpochClock; lock-free CAS on one packed long") {
        @Override
        public IdSource start(Path stateDir) {
            SnowflakeIdGenerator agrona = new SnowflakeIdGenerator(1);
            return peer(agrona::nextId);
        }
    },

    /** Seata's sequence width is a private constant (12 bits), so its ceiling is stated here. */
    SEATA("Seata IdWorker", 1L << 12, "org.apache.seata.common.util.IdWorker(workerId=1): 41-bit ms since"
            + " 2020-05-02T16:00Z, 10-bit worker, 12-bit sequence; lock-free increment that borrows future"
            + " milliseconds and sleeps 5 ms when it is ahead of the clock") {
        @Override
        public IdSource start(Path stateDir) {
            IdWorker seata = new IdWorker(1L);
            return peer(seata::nextId);
        }
    };

    private final String label;
    private final long idsPerMilli;
    private final String configuration;

    Contender(String label, long idsPerMilli, String configuration) {
        this.label = label;
        this.idsPerMilli = idsPerMilli;
        this.configuration = configuration;
    }

    /**
     * Starts the generator.
     *
     * @param stateDir a directory of its own, used by Ekko only
     * @return the running generator
     */
    public abstract IdSource start(Path stateDir);

    /** {@return a short name for tables and charts} */
    public String label() {
        return label;
    }

    /** {@return the most IDs it issues per millisecond (per worker; per worker and product for Ekko)} */
    public long idsPerMilli() {
        return idsPerMilli;
    }

    /** {@return its ceiling in real time: {@link #idsPerMilli()} per millisecond, per second} */
    public long idsPerSecond() {
        return idsPerMilli * 1000;
    }

    /** {@return how it is built and what its layout is} */
    public String configuration() {
        return configuration;
    }

    /** {@return true if a benchmark must start a fresh generator every iteration (see {@link EkkoMode#freshEachIteration()})} */
    public boolean freshEachIteration() {
        return this == EKKO_BOUNDED_LEAD || this == EKKO_BOUNDED_LEAD_STRIPED_2;
    }

    /** {@return worker IDs it holds: its stripes for Ekko, 1 for the others} */
    public int stripes() {
        switch (this) {
            case EKKO_STRIPED_2:
            case EKKO_BOUNDED_LEAD_STRIPED_2: return 2;
            case EKKO_STRIPED_4: return 4;
            default: return 1;
        }
    }

    /** A striped generator on {@code host-local} (the manual allocator holds one worker ID), in its own lock directory. */
    static IdGenerator striped(Path stateDir, int stripes, Duration maxLead) {
        Quiet.ekkoLogs();
        Ekko.Builder builder = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(stateDir.resolve("host-locks"))
                .setting("ekko.worker.stripes", Integer.toString(stripes));
        if (!maxLead.isZero()) {
            builder.maxLead(maxLead);
        }
        return builder.build();
    }

    /** {@return true for Ekko, false for a peer} */
    public boolean isEkko() {
        return name().startsWith("EKKO_");
    }

    /** {@return the class whose jar names the library and its version} */
    public Class<?> libraryClass() {
        switch (this) {
            case HUTOOL: return Snowflake.class;
            case COSID: return MillisecondSnowflakeId.class;
            case AGRONA: return SnowflakeIdGenerator.class;
            case SEATA: return IdWorker.class;
            default: return IdGenerator.class;
        }
    }

    private static String ekkoLayout() {
        Layout layout = Layout.defaults();
        return "dev.ekko.Ekko.newBuilder().workerId(1): " + layout.timeBits() + "-bit ms since " + layout.epoch() + ", "
                + Layout.IDC_BITS + "-bit IDC, " + layout.workerBits() + "-bit worker, " + Layout.SEQUENCE_BITS + "-bit sequence;"
                + " lock-free CAS on one packed long";
    }

    private static IdSource peer(java.util.function.LongSupplier next) {
        return new PeerSource(next);
    }

    /** A peer: nothing to release. */
    private static final class PeerSource implements IdSource {
        private final java.util.function.LongSupplier next;

        PeerSource(java.util.function.LongSupplier next) {
            this.next = next;
        }

        @Override
        public long next() {
            return next.getAsLong();
        }

        @Override
        public void close() {
            // peers hold no worker ID, file or thread
        }
    }

    /** Ekko behind the same interface as the peers. */
    private static final class EkkoSource implements IdSource {
        private final IdGenerator generator;

        EkkoSource(IdGenerator generator) {
            this.generator = generator;
        }

        @Override
        public long next() {
            return generator.next();
        }

        @Override
        public void close() {
            generator.close();
        }
    }
}
