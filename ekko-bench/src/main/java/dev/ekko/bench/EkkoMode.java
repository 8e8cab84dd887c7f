package dev.ekko.bench;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The two ways an Ekko generator issues IDs, as benchmarked: worker 1 of IDC 0, the default layout and
 * epoch, the {@code manual} allocator, and its own state directory.
 */
public enum EkkoMode {

    /** Never ahead of the wall clock: at most 1024 IDs per millisecond, then {@code next()} waits. */
    REAL_TIME(Duration.ZERO),

    /**
     * A logical clock that may run ahead of the wall clock by up to the largest lead Ekko allows, one hour
     * (3,686,400,000 IDs). Benchmarks start a fresh generator every iteration, so a one-second iteration measures the
     * cost of issuing while the lead lasts, not the wait once it is used up; sustained over more than the
     * lead, this mode too is held to the real-time ceiling.
     */
    BOUNDED_LEAD(Duration.ofHours(1));

    private final Duration maxLead;

    EkkoMode(Duration maxLead) {
        this.maxLead = maxLead;
    }

    /** {@return how far the logical clock may run ahead of the wall clock; zero in real time} */
    public Duration maxLead() {
        return maxLead;
    }

    /** {@return true if a benchmark must start a fresh generator every iteration: only bounded lead, whose lead runs out} */
    public boolean freshEachIteration() {
        return !maxLead.isZero();
    }

    /**
     * @param stateDir a directory of this generator's own
     * @return a running generator in this mode
     */
    public IdGenerator start(Path stateDir) {
        Quiet.ekkoLogs();
        Ekko.Builder builder = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(stateDir.resolve("host-locks")).workerId(1);
        if (!maxLead.isZero()) {
            builder.maxLead(maxLead);
        }
        return builder.build();
    }
}
