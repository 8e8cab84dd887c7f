package dev.ekko.bench;

import dev.ekko.DecodedId;
import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import java.nio.file.Path;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * {@code Layout.decode(id)}: an ID back into its timestamp, IDC, worker, product and sequence. The IDs are
 * real ones, taken in turn from 1024 issued at setup, so the JIT cannot fold the decoding into a constant.
 */
@State(Scope.Thread)
public class DecodeBenchmark {

    private static final int MASK = 1023;

    private final long[] ids = new long[MASK + 1];
    private Layout layout;
    private int next;

    @Setup(Level.Trial)
    public void issue() {
        Path dir = StateDirectories.create();
        try (IdGenerator generator = EkkoMode.REAL_TIME.start(dir)) {
            generator.next(ids);
            layout = generator.layout();
        } finally {
            StateDirectories.delete(dir);
        }
    }

    @Benchmark
    public DecodedId decode() {
        return layout.decode(ids[next++ & MASK]);
    }
}
