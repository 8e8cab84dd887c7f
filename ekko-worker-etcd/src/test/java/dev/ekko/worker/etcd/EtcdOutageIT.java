package dev.ekko.worker.etcd;

import static dev.ekko.worker.etcd.FastGenerators.MARGIN;
import static dev.ekko.worker.etcd.FastGenerators.REPORT;
import static dev.ekko.worker.etcd.FastGenerators.TTL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.IdGenerator;
import dev.ekko.testkit.Issuer;
import dev.ekko.testsupport.DisposableEtcd;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * etcd goes away while generators run, on a server of the test's own. Timings: lease TTL 2 s, fence margin 500 ms, renewal
 * every 300 ms, so a generator whose last renewal went out at {@code r} stops issuing at {@code r + 1.5 s}, while etcd
 * could expire the lease at {@code r + 2 s} at the earliest.
 */
class EtcdOutageIT {

    @TempDir
    Path stateDir;

    private DisposableEtcd etcd;
    private final List<Issuer> issuers = new ArrayList<>();
    private final List<IdGenerator> generators = new ArrayList<>();

    @BeforeEach
    void launchEtcd() {
        etcd = DisposableEtcd.launch();
    }

    @AfterEach
    void stopEverything() throws InterruptedException {
        for (Issuer i : issuers) {
            i.stop();
        }
        generators.forEach(IdGenerator::close);
        etcd.close();
    }

    private Issuer start(String instance) {
        IdGenerator g = FastGenerators.start(etcd.endpoint(), "outage", stateDir.resolve(instance), instance);
        generators.add(g);
        Issuer issuer = new Issuer(instance, g);
        issuers.add(issuer);
        return issuer;
    }

    @Test
    void generatorsIssueUntilTheirFenceThenThrowLeaseLostAndGoOnWhenEtcdReturnsWithoutRepeatingAnId() throws Exception {
        List<Issuer> running = List.of(start("a"), start("b"), start("c"));
        Issuer.await("every generator issues", Duration.ofSeconds(10), () -> running.stream().allMatch(i -> i.count() > 100));

        long stopRequested = System.nanoTime();
        etcd.stop();
        long stopped = System.nanoTime();
        Issuer.await("every generator refuses with LeaseLostException", TTL.multipliedBy(3),
                () -> running.stream().allMatch(i -> i.firstLostNanos() != 0));

        long fence = TTL.minus(MARGIN).toNanos();
        for (Issuer i : running) {
            String name = i.generator().toString();
            long lastIssued = i.lastIssuedNanos();
            assertTrue(lastIssued > stopped, name + " stopped issuing as soon as etcd went away, not at its fence deadline");
            assertTrue(lastIssued - stopped < fence + Duration.ofMillis(100).toNanos(), name + " issued "
                    + (lastIssued - stopped) / 1_000_000 + " ms after etcd stopped, past its fence (" + fence / 1_000_000 + " ms)");
            long refusedAfter = i.firstLostNanos() - stopRequested;
            assertTrue(refusedAfter > fence - REPORT.toNanos() - Duration.ofMillis(250).toNanos(), name + " refused "
                    + refusedAfter / 1_000_000 + " ms after etcd stopped, well before its fence deadline");
            assertEquals(List.of(), i.unexpected(), name + " threw something else than LeaseLostException");
        }

        etcd.start();
        // etcd restores its leases with their full TTL when it starts again, so the old keys may stay one more TTL: the
        // generators acquire other worker IDs meanwhile, or their own once the old keys are gone.
        awaitMoreThenCheck(running, 100, Duration.ofSeconds(20));
    }

    /** Runs the generators until each issued {@code more} more IDs, then checks every ID: none twice, each issuer's rising. */
    private static void awaitMoreThenCheck(List<Issuer> running, int more, Duration within) throws Exception {
        Issuer.awaitEachIssuesMore("every generator issues " + more + " more", running, more, within);
        Issuer.stopAllAndCheck(running);
    }

    /** etcd restarted with its data while generators run: they carry on, or lose and re-acquire; no ID repeats. */
    @Test
    void aRestartWithTheDataRepeatsNoId() throws Exception {
        List<Issuer> running = List.of(start("a"), start("b"));
        Issuer.await("every generator issues", Duration.ofSeconds(10), () -> running.stream().allMatch(i -> i.count() > 100));
        etcd.stop();
        etcd.start();
        awaitMoreThenCheck(running, 1000, Duration.ofSeconds(30));
    }

    /**
     * etcd restarted with its data directory wiped (same member name, peer URL and cluster token, so the same cluster ID):
     * every lease and mark is gone. The generators lose their leases at their next renewal, acquire again with no history
     * (the core waits one TTL plus the skew, past any holder from before), and no ID repeats.
     */
    @Test
    void aRestartWithTheDataWipedRepeatsNoId() throws Exception {
        List<Issuer> running = List.of(start("a"), start("b"));
        Issuer.await("every generator issues", Duration.ofSeconds(10), () -> running.stream().allMatch(i -> i.count() > 100));
        etcd.restartEmpty();
        Issuer.await("every generator loses its lease", TTL.multipliedBy(3), () -> running.stream().allMatch(i -> i.firstLostNanos() != 0));
        awaitMoreThenCheck(running, 1000, Duration.ofSeconds(30));
    }
}
