package dev.ekko.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Ekko;
import dev.ekko.EkkoException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * The premises of one back end's rows in the start-up table, on the shared server of the tests: a restart in the
 * run's primed namespace does not wait; a first start waits the short lease and skew; the default wait the report
 * states is the core's; and deleting the run's namespaces leaves nothing of them behind. Runs the benchmarks in
 * this JVM (no fork), in one namespace primed once, as BenchRunner does. One subclass per {@link Coordinator}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class StartupCoordinatorChecks {

    private final Coordinator coordinator;
    private final String namespace = Coordinator.newNamespace();

    @TempDir
    Path stateDir;

    StartupCoordinatorChecks(Coordinator coordinator) {
        this.coordinator = coordinator;
    }

    @BeforeAll
    void primeTheRunNamespace() {
        coordinator.prime(namespace);
        System.setProperty(Coordinator.NAMESPACE_PROPERTY, namespace);
    }

    @AfterAll
    void deletingTheNamespacesLeavesNothing() {
        System.clearProperty(Coordinator.NAMESPACE_PROPERTY);
        assertTrue(coordinator.deleteNamespaces(namespace) > 0, "the run wrote " + coordinator.items() + " under " + namespace);
        assertEquals(0, coordinator.deleteNamespaces(namespace));
    }

    @Test
    void restartsOnAWorkerIdWithHistoryDoNotWait() throws RunnerException {

        List<Double> shots = shots(BenchRunner.Suite.STARTUP, 3);

        assertEquals(3, shots.size(), shots.toString());
        for (double ms : shots) {
            // A start that waited would take at least the default lease TTL plus skew, 33 s.
            assertTrue(ms < 5_000, "a restart took " + ms + " ms: " + shots);
        }
    }

    @Test
    void aFirstStartWaitsTheShortLeaseTtlAndSkew() throws RunnerException {
        List<Double> shots = shots(BenchRunner.Suite.FIRST_START, 1);

        long wait = 2_000 + 100; // FirstStartBenchmark's leaseTtl + maxSkew
        assertTrue(shots.get(0) >= wait && shots.get(0) < wait + 5_000, "a first start took " + shots.get(0) + " ms");
    }

    /**
     * The report states the default first-start wait from FirstStartBenchmark's constants; they must be the core's
     * defaults. A generator with the defaults in the primed namespace is refused (it records the short lease), and the
     * refusal names the values this process would have used: the core's defaults.
     */
    @Test
    void theDefaultWaitTheReportStatesIsTheCores() {
        Ekko.Builder defaults = Ekko.newBuilder().stateDirectory(stateDir).hostLockDirectory(stateDir.resolve("host-locks"))
                .allocator(coordinator.allocator());
        coordinator.settings(namespace).forEach(defaults::setting);
        EkkoException e = assertThrows(EkkoException.class, defaults::build);
        assertTrue(e.getMessage().contains("ekko.clock.max.skew=" + FirstStartBenchmark.DEFAULT_MAX_SKEW.toSeconds() + "s here")
                && e.getMessage().contains("ekko.worker.lease.ttl=" + FirstStartBenchmark.DEFAULT_LEASE_TTL.toSeconds() + "s here"),
                e.getMessage());
    }

    private List<Double> shots(BenchRunner.Suite suite, int shots) throws RunnerException {
        var options = suite.options(Profile.SHORT)
                .forks(0)
                .measurementIterations(shots)
                .param("allocator", coordinator.allocator())
                .verbosity(VerboseMode.SILENT);
        Collection<RunResult> results = new Runner(options.build()).run();
        assertEquals(1, results.size(), suite.name());
        List<Double> ms = new ArrayList<>();
        results.iterator().next().getBenchmarkResults().forEach(b -> b.getIterationResults()
                .forEach(i -> ms.add(i.getPrimaryResult().getScore())));
        return ms;
    }
}
