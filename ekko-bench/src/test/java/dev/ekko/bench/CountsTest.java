package dev.ekko.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.runner.options.Options;

/** The counts keep the JVM's one-time costs on the worker threads out of the measured iterations (WorkerAllocationProfiler). */
class CountsTest {

    /** JMH runs each iteration through Method.invoke; the JDK generates an accessor (about 11 KB) at the 16th call. */
    private static final int MAX_ITERATIONS_PER_FORK = 15;

    /** Single-shot suites (start-up) are left out: a start allocates far more than 11 KB, which one shot in 16 then includes. */
    @ParameterizedTest
    @EnumSource(Profile.class)
    void noForkRunsMoreIterationsThanReflectionRunsNatively(Profile profile) {
        for (BenchRunner.Suite suite : BenchRunner.Suite.values()) {
            if (suite.mode == Mode.SingleShotTime) {
                continue;
            }
            Options o = suite.options(profile).build();
            int iterations = o.getWarmupIterations().orElse(0) + o.getMeasurementIterations().orElse(0);
            assertTrue(iterations <= MAX_ITERATIONS_PER_FORK, suite + " in " + profile + ": " + iterations + " iterations per fork");
        }
    }

    @ParameterizedTest
    @EnumSource(Profile.class)
    void multiGetWarmsUpPastTheJitsFirstC2CompileOfThePerMillisecondPath(Profile profile) {
        Options o = BenchRunner.Suite.MULTI_GET.options(profile).build();
        long warmupSeconds = o.getWarmupIterations().get() * o.getWarmupTime().get().convertTo(TimeUnit.SECONDS);
        assertTrue(warmupSeconds >= Profile.REAL_TIME_WARMUP_SECONDS, profile + ": " + warmupSeconds + " s of warm-up");
        assertEquals(profile.warmupIterations, o.getWarmupIterations().get(), "longer iterations, not more");
        assertEquals(Profile.ITERATION_SECONDS, o.getMeasurementTime().get().convertTo(TimeUnit.SECONDS));
    }

    /** Contention shows across forks: the suite runs several in every profile, each warmed up as the Get suites are. */
    @ParameterizedTest
    @EnumSource(Profile.class)
    void contentionRunsSeveralForks(Profile profile) {
        Options o = BenchRunner.Suite.CONTENTION_2_THREADS.options(profile).build();
        assertTrue(o.getForkCount().get() >= 4, profile + ": " + o.getForkCount().get() + " forks");
        assertEquals(2, o.getThreads().get());
        assertEquals(profile.warmupIterations, o.getWarmupIterations().get());
        assertEquals(profile.contentionIterations, o.getMeasurementIterations().get());
    }

    @ParameterizedTest
    @EnumSource(Profile.class)
    void otherSuitesKeepTheProfilesWarmup(Profile profile) {
        Options o = BenchRunner.Suite.GET_1_THREAD.options(profile).build();
        assertEquals(Profile.ITERATION_SECONDS, o.getWarmupTime().get().convertTo(TimeUnit.SECONDS));
        assertEquals(profile.warmupIterations, o.getWarmupIterations().get());
    }
}
