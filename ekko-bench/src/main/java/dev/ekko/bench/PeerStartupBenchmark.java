package dev.ekko.bench;

import cn.hutool.core.lang.Snowflake;
import java.nio.file.Path;
import me.ahoo.cosid.snowflake.MillisecondSnowflakeId;
import org.agrona.concurrent.SnowflakeIdGenerator;
import org.apache.seata.common.util.IdWorker;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The peers' side of {@link StartupBenchmark}: from the constructor to the first ID, counted the same way (single
 * shots, no warm-up, many forks: the first shot of each fork is a cold start) with the same JVM flags in the same run.
 * Each is built as in {@link Contender}, directly in the measured method, so a shot pays for the peer's own classes and
 * nothing of the benchmark's. The setup is {@link StartupBenchmark}'s (a fresh directory per shot, deleted after), so the
 * JVM has done the same work before each shot; the peers persist nothing and never use it.
 */
@State(Scope.Thread)
public class PeerStartupBenchmark {

    /** The peers of {@link Contender}. */
    @Param({"hutool", "cosid", "agrona", "seata"})
    public String generator;

    private Path stateDir;

    @Setup(Level.Iteration)
    public void createStateDirectory() {
        Quiet.ekkoLogs();
        stateDir = StateDirectories.create();
    }

    @TearDown(Level.Iteration)
    public void deleteStateDirectory() {
        StateDirectories.delete(stateDir);
    }

    @Benchmark
    public long constructToFirstId() {
        return firstId(generator);
    }

    /** The peers, as {@link #generator} names them. */
    static final String[] GENERATORS = {"hutool", "cosid", "agrona", "seata"};

    /** {@return the first ID of a peer constructed now} */
    static long firstId(String generator) {
        switch (generator) {
            case "hutool": return new Snowflake(1, 0).nextId();
            case "cosid": return new MillisecondSnowflakeId(1).generate();
            case "agrona": return new SnowflakeIdGenerator(1).nextId();
            case "seata": return new IdWorker(1L).nextId();
            default: throw new IllegalArgumentException("unknown generator: " + generator);
        }
    }

    /** {@return the label of a peer in the tables: {@link Contender}'s} */
    public static String label(String generator) {
        switch (generator) {
            case "hutool": return Contender.HUTOOL.label();
            case "cosid": return Contender.COSID.label();
            case "agrona": return Contender.AGRONA.label();
            case "seata": return Contender.SEATA.label();
            default: return generator;
        }
    }
}
