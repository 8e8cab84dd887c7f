package dev.ekko.bench;

/**
 * How long to measure: every count is stated here, none left to JMH's defaults.
 *
 * <p>Measured iterations last one second in both profiles: Ekko's bounded-lead figures are only the cost of issuing
 * while the lead lasts, and a fresh generator's hour of lead lasts a second or two at the batch rates
 * measured; the full profile gets its precision from more forks and iterations instead. Warm-up iterations last one
 * second too, except where a suite needs a longer warm-up ({@link #REAL_TIME_WARMUP_SECONDS}).
 */
public enum Profile {

    /** A few minutes on 2 cores: one fork per benchmark. */
    SHORT(1, 2, 3, 5, 10, 1, 3, 4, 5),

    /** About half an hour on 2 cores: three forks, longer warm-up, more samples. */
    FULL(3, 5, 10, 20, 20, 2, 5, 6, 10);

    /** JVMs forked per benchmark and parameter set. */
    public final int forks;
    /** Warm-up iterations of {@link #ITERATION_SECONDS} each, per fork. */
    public final int warmupIterations;
    /** Measured iterations of {@link #ITERATION_SECONDS} each, per fork. */
    public final int measurementIterations;
    /** Forks of the start-up benchmark; the first shot of each is a cold start. */
    public final int startupForks;
    /** Single shots per start-up fork, none of them warm-up. */
    public final int startupShots;
    /**
     * Forks of {@link FirstStartBenchmark}. Each of its shots waits a short lease TTL plus skew (2.1 s) by
     * design, so it gets few: the figure is mostly that wait.
     */
    public final int firstStartForks;
    /** Single shots per {@link FirstStartBenchmark} fork. */
    public final int firstStartShots;
    /**
     * Forks of {@link ContentionBenchmark}, in both profiles more than one: whether two threads on one generator are
     * steady shows only across forks (each fork's threads meet the generator's words in their own way).
     */
    public final int contentionForks;
    /** Measured iterations per {@link ContentionBenchmark} fork (its warm-up is {@link #warmupIterations}). */
    public final int contentionIterations;

    /**
     * Consecutive one-second iterations of {@link SustainedBenchmark}, in both profiles: long enough to use up a lead of
     * 10 s at the burst rates measured and show the rate that follows.
     */
    public static final int SUSTAINED_SECONDS = 15;

    /** Length of every measured iteration, and of every warm-up iteration but the longer ones below. */
    public static final int ITERATION_SECONDS = 1;

    /**
     * The least warm-up, in seconds per fork, of a suite whose real-time calls wait for the clock ({@code multi-get}): its
     * warm-up iterations are lengthened (not multiplied) to reach it. In real time the code Ekko runs once per millisecond
     * (a new millisecond's claim, the state file's mark) runs 1,000 times a second at any batch, so HotSpot's C2 compiles
     * it only after about 5 s (5,000 invocations, later on a busy machine); each class's first C2 compile allocates a
     * few kilobytes once on the calling thread (see {@link WorkerAllocationProfiler}). Ten seconds leaves that inside
     * the warm-up with a margin.
     */
    public static final int REAL_TIME_WARMUP_SECONDS = 10;

    Profile(int forks, int warmupIterations, int measurementIterations, int startupForks, int startupShots, int firstStartForks,
            int firstStartShots, int contentionForks, int contentionIterations) {
        this.forks = forks;
        this.warmupIterations = warmupIterations;
        this.measurementIterations = measurementIterations;
        this.startupForks = startupForks;
        this.startupShots = startupShots;
        this.firstStartForks = firstStartForks;
        this.firstStartShots = firstStartShots;
        this.contentionForks = contentionForks;
        this.contentionIterations = contentionIterations;
    }

    /** {@return the name used on the command line and in file names: {@code short}, {@code full}} */
    public String id() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
