package dev.ekko.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Collection;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs every suite for a moment in this JVM (no fork), with one parameter value each: checks the wiring
 * (states, parameters, setup and teardown), not the figures. The segment-store suites start a Redis server of their
 * own ({@code redis-server} must be installed; {@code ./run-tests} installs it).
 */
class BenchmarkSmokeTest {

    @ParameterizedTest
    @EnumSource(BenchRunner.Suite.class)
    void everySuiteRunsAndScores(BenchRunner.Suite suite) throws RunnerException {
        var options = suite.options(Profile.SHORT)
                .forks(0)
                .warmupIterations(0)
                .measurementIterations(1)
                .measurementTime(TimeValue.milliseconds(20))
                .param("generator", suite == BenchRunner.Suite.PEER_STARTUP || suite == BenchRunner.Suite.PEER_STARTUP_APPCDS
                        ? "hutool" : "EKKO_BOUNDED_LEAD")
                .param("mode", suite == BenchRunner.Suite.SUSTAINED_1_THREAD || suite == BenchRunner.Suite.SUSTAINED_2_THREADS
                        ? "LEAD_1S" : "BOUNDED_LEAD")
                .param("batch", "16")
                .param("allocator", "manual")
                .param("contender", "EKKO")
                .param("step", "1000")
                .param("store", "redis")
                .shouldFailOnError(true)
                .verbosity(org.openjdk.jmh.runner.options.VerboseMode.SILENT);
        Collection<RunResult> results = new Runner(options.build()).run();
        assertEquals(1, results.size(), suite.name());
        double score = results.iterator().next().getPrimaryResult().getScore();
        assertTrue(score > 0, suite + " scored " + score);
    }

    /** The sustained suites run the peers too, each through its own generator. */
    @ParameterizedTest
    @EnumSource(value = SustainedBenchmark.Mode.class, names = {"HUTOOL", "COSID", "AGRONA", "SEATA", "STRIPED_2"})
    void theSustainedSuiteRunsEachPeer(SustainedBenchmark.Mode mode) throws RunnerException {
        var options = BenchRunner.Suite.SUSTAINED_1_THREAD.options(Profile.SHORT).forks(0).measurementIterations(1)
                .measurementTime(TimeValue.milliseconds(20)).param("mode", mode.name()).shouldFailOnError(true)
                .verbosity(org.openjdk.jmh.runner.options.VerboseMode.SILENT);
        Collection<RunResult> results = new Runner(options.build()).run();
        assertEquals(1, results.size(), mode.name());
        assertTrue(results.iterator().next().getPrimaryResult().getScore() > 0, mode.name());
    }
}
