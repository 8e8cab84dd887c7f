package dev.ekko.bench;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import java.nio.file.Path;
import java.time.Duration;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * What a user gets second after second: one generator per fork, never restarted, measured in consecutive one-second
 * iterations with no warm-up, so the first iteration is the first second of a service's life and the last ones are what it
 * sustains. In real time every second is held to 1,024 IDs per millisecond per worker ID; a lead lets a burst run ahead of
 * the wall clock until the lead is used up, after which it is held to the same ceiling ({@link GetBenchmark} starts a fresh
 * generator each iteration instead, which shows the cost of issuing while a lead lasts, not what it sustains).
 */
@State(Scope.Benchmark)
public class SustainedBenchmark {

    /** The generator's setting: real time, or a lead of 1 s, 10 s or 1 h (the largest Ekko allows). */
    public enum Mode {
        /** Never ahead of the wall clock. */
        REAL_TIME(Duration.ZERO, "real time"),
        /** {@code ekko.clock.max.lead=1s}. */
        LEAD_1S(Duration.ofSeconds(1), "lead 1 s"),
        /** {@code ekko.clock.max.lead=10s}. */
        LEAD_10S(Duration.ofSeconds(10), "lead 10 s"),
        /** {@code ekko.clock.max.lead=1h}. */
        LEAD_1H(Duration.ofHours(1), "lead 1 h"),
        /** Real time, {@code ekko.worker.stripes=2} on {@code host-local}. */
        STRIPED_2(Duration.ZERO, 2, "real time, 2 stripes"),
        /** Real time, {@code ekko.worker.stripes=4} on {@code host-local}. */
        STRIPED_4(Duration.ZERO, 4, "real time, 4 stripes"),
        /** The peers, each with its own 12-bit ceiling of 4,096 IDs per millisecond: what they sustain, measured alike. */
        HUTOOL(Contender.HUTOOL),
        COSID(Contender.COSID),
        AGRONA(Contender.AGRONA),
        SEATA(Contender.SEATA);

        private final Duration maxLead;
        private final int stripes;
        private final String label;
        private final Contender peer;

        Mode(Duration maxLead, String label) {
            this(maxLead, 1, label);
        }

        Mode(Duration maxLead, int stripes, String label) {
            this.maxLead = maxLead;
            this.stripes = stripes;
            this.label = label;
            this.peer = null;
        }

        Mode(Contender peer) {
            this.maxLead = Duration.ZERO;
            this.stripes = 0;
            this.label = peer.label() + " (peer)";
            this.peer = peer;
        }

        /** {@return the peer measured, or null for Ekko's settings} */
        public Contender peer() {
            return peer;
        }

        /** {@return IDs per second this setting may issue held to the clock: worker IDs held × 1,024,000, or the peer's own} */
        public long ceiling() {
            return peer != null ? peer.idsPerSecond() : stripes * Contender.EKKO_REAL_TIME.idsPerSecond();
        }

        /** {@return the setting's name in the report's tables} */
        public String label() {
            return label;
        }

        /** {@return worker IDs held (0 for a peer)} */
        public int stripes() {
            return stripes;
        }

        /** {@return how far the generator may run ahead of the wall clock} */
        public Duration maxLead() {
            return maxLead;
        }

    }

    /** Which setting. */
    @Param
    public Mode mode;

    private IdGenerator generator;
    /** A peer's generator, or null: Ekko's is called directly, as users call it. */
    private IdSource peer;

    /** Starts the fork's one generator before its first iteration; it is closed when the forked JVM exits. */
    @Setup(Level.Trial)
    public void start() {
        Quiet.ekkoLogs();
        Path stateDir = StateDirectories.create();
        if (mode.peer() != null) {
            peer = mode.peer().start(stateDir);
            StateDirectories.closeAtExit(peer, stateDir);
            return;
        }
        if (mode.stripes() > 1) {
            generator = Contender.striped(stateDir, mode.stripes(), mode.maxLead());
        } else {
            Ekko.Builder builder = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(stateDir.resolve("host-locks")).workerId(1);
            if (!mode.maxLead().isZero()) {
                builder.maxLead(mode.maxLead());
            }
            generator = builder.build();
        }
        StateDirectories.closeAtExit(generator, stateDir);
    }

    @Benchmark
    public long get() {
        IdSource p = peer;
        return p != null ? p.next() : generator.next();
    }
}
