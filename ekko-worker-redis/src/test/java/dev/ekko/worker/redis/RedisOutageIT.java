package dev.ekko.worker.redis;

import dev.ekko.testkit.IdChecks;
import static dev.ekko.worker.redis.FastGenerators.MARGIN;
import static dev.ekko.worker.redis.FastGenerators.REPORT;
import static dev.ekko.worker.redis.FastGenerators.TTL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.IdGenerator;
import dev.ekko.testkit.Issuer;
import dev.ekko.testsupport.DisposableRedis;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import redis.clients.jedis.Jedis;

/**
 * Redis goes away while generators run, on a server of the test's own. Timings: lease TTL 2 s, fence margin
 * 500 ms, renewal every 300 ms, so a generator whose last renewal went out at {@code r} stops issuing at
 * {@code r + 1.5 s}, while the server could expire the lease at {@code r + 2 s} at the earliest.
 */
class RedisOutageIT {

    @TempDir
    Path stateDir;

    private DisposableRedis redis;
    private final List<Issuer> issuers = new ArrayList<>();
    private final List<IdGenerator> generators = new ArrayList<>();

    @BeforeEach
    void launchRedis() {
        redis = DisposableRedis.launch();
    }

    @AfterEach
    void stopEverything() throws InterruptedException {
        for (Issuer i : issuers) {
            i.stop();
        }
        generators.forEach(IdGenerator::close);
        redis.close();
    }

    private Issuer start(String instance) {
        IdGenerator g = FastGenerators.start(redis.uri(), "outage", stateDir.resolve(instance), instance);
        generators.add(g);
        Issuer issuer = new Issuer(instance, g);
        issuers.add(issuer);
        return issuer;
    }

    @Test
    void generatorsIssueUntilTheirFenceThenThrowLeaseLostAndGoOnWhenRedisReturnsWithoutRepeatingAnId() throws Exception {
        List<Issuer> running = List.of(start("a"), start("b"), start("c"));
        Issuer.await("every generator issues", Duration.ofSeconds(5), () -> running.stream().allMatch(i -> i.count() > 100));
        List<Integer> workersBefore = running.stream().map(i -> i.generator().workerId()).toList();

        long stopRequested = System.nanoTime();
        redis.stop();
        long stopped = System.nanoTime();
        Issuer.await("every generator refuses with LeaseLostException", TTL.multipliedBy(3),
                () -> running.stream().allMatch(i -> i.firstLostNanos() != 0));

        long fence = TTL.minus(MARGIN).toNanos();
        for (Issuer i : running) {
            String name = i.generator().toString();
            long lastIssued = i.lastIssuedNanos();
            assertTrue(lastIssued > stopped, name + " stopped issuing as soon as Redis went away, not at its fence deadline");
            // Its last renewal was sent before the server stopped: the fence is at most TTL - margin after that.
            assertTrue(lastIssued - stopped < fence + Duration.ofMillis(100).toNanos(), name + " issued "
                    + (lastIssued - stopped) / 1_000_000 + " ms after Redis stopped, past its fence (" + fence / 1_000_000 + " ms)");
            // ... and at most one renewal interval (plus the renewal's own time) before it.
            long refusedAfter = i.firstLostNanos() - stopRequested;
            assertTrue(refusedAfter > fence - REPORT.toNanos() - Duration.ofMillis(250).toNanos(), name + " refused "
                    + refusedAfter / 1_000_000 + " ms after Redis stopped, well before its fence deadline");
            assertEquals(List.of(), i.unexpected(), name + " threw something else than LeaseLostException");
        }

        // Keep the server down until every lease has expired by its own clock, then bring it back.
        long downUntil = stopped + TTL.toNanos() + Duration.ofMillis(200).toNanos();
        Issuer.await("the leases' TTL has passed", TTL.multipliedBy(2), () -> System.nanoTime() - downUntil > 0);
        int[] countsAtRestart = running.stream().mapToInt(Issuer::count).toArray();
        redis.start();
        Issuer.await("every generator acquires a worker ID again and issues", Duration.ofSeconds(15), () -> {
            for (int k = 0; k < running.size(); k++) {
                if (running.get(k).count() <= countsAtRestart[k] + 100) {
                    return false;
                }
            }
            return true;
        });

        Map<String, long[]> all = new LinkedHashMap<>();
        for (Issuer i : running) {
            i.stop();
            assertEquals(List.of(), i.unexpected(), i.generator() + " threw something else than LeaseLostException");
            long[] ids = i.ids();
            IdChecks.assertRising(i.generator().layout(), i.generator().toString(), ids);
            all.put(i.generator().toString(), ids);
        }
        IdChecks.assertNoIdRepeats(running.get(0).generator().layout(), all);
        // With the history intact, each instance gets its own worker ID back.
        assertEquals(workersBefore, running.stream().map(i -> i.generator().workerId()).toList());
    }

    @Test
    void anOutageShorterThanTheFenceGoesUnnoticed() throws Exception {
        Issuer issuer = start("short");
        Issuer.await("the generator issues", Duration.ofSeconds(5), () -> issuer.count() > 100);
        int worker = issuer.generator().workerId();
        String history = new RedisKeys("outage", FastGenerators.IDC).history(worker);

        redis.stop();
        Thread.sleep(400); // the length of the outage is what this test is about
        redis.start();
        long restarted = System.currentTimeMillis();

        // The next renewal reconnects and stores a report again, within the same lease.
        Issuer.await("a renewal reaches the restarted server", Duration.ofSeconds(2), () -> {
            try (Jedis jedis = new Jedis(URI.create(redis.uri()))) {
                String at = jedis.hget(history, "at");
                return at != null && Long.parseLong(at) >= restarted - 50;
            }
        });
        int count = issuer.count();
        Issuer.await("the generator keeps issuing", Duration.ofSeconds(2), () -> issuer.count() > count + 100);
        issuer.stop();
        assertEquals(0, issuer.lostCount(), "the generator refused IDs during an outage of 400 ms, with a fence at "
                + TTL.minus(MARGIN).toMillis() + " ms");
        assertEquals(worker, issuer.generator().workerId());
        assertEquals(List.of(), issuer.unexpected());
    }
}
