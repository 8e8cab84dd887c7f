package dev.ekko.worker.redis;

import dev.ekko.testkit.IdChecks;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.DecodedId;
import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import dev.ekko.testkit.Issuer;
import dev.ekko.testsupport.DisposableRedis;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Redis comes back empty, as a server without persistence does after a restart, while the old holder of a
 * worker ID still runs: a new process on another host claims the same worker ID at once, and must still
 * never repeat an ID the old holder issued.
 */
class RedisDataLossIT {

    @TempDir
    Path stateDir;

    private DisposableRedis redis;
    private final List<Issuer> issuers = new ArrayList<>();
    private final List<IdGenerator> generators = new ArrayList<>();

    @AfterEach
    void stopEverything() throws InterruptedException {
        for (Issuer i : issuers) {
            i.stop();
        }
        generators.forEach(IdGenerator::close);
        if (redis != null) {
            redis.close();
        }
    }

    @Test
    void aNewHolderOfTheSameWorkerIdAfterTheDataIsLostIssuesNothingTheOldHolderIssued() throws Exception {
        redis = DisposableRedis.launch();
        IdGenerator old = FastGenerators.start(redis.uri(), "loss", stateDir.resolve("host-a"), "old");
        generators.add(old);
        Issuer oldIssuer = new Issuer("old", old);
        issuers.add(oldIssuer);
        Issuer.await("the old holder issues", Duration.ofSeconds(5), () -> oldIssuer.count() > 100);
        int worker = old.workerId();

        int beforeLoss = oldIssuer.count();
        redis.restartEmpty();
        int afterLoss = oldIssuer.count();
        assertTrue(afterLoss > beforeLoss, "the old holder did not issue while the server was lost; this test needs it to");

        // A process on another host (its own state directory), configured for the same worker ID, starts at once.
        long starting = System.currentTimeMillis(); // at or below the new process's clock when it acquires
        IdGenerator fresh = FastGenerators.builder(redis.uri(), "loss", stateDir.resolve("host-b"), "new").workerId(worker).build();
        generators.add(fresh);
        assertEquals(worker, fresh.workerId(), "the new process did not get the worker ID of the old holder; the old holder"
                + " must have taken it back first, and this test proves nothing");
        Issuer freshIssuer = new Issuer("new", fresh);
        issuers.add(freshIssuer);

        // The old holder finds its lease gone, stops at once, and goes on with another worker ID.
        Issuer.await("the old holder loses its lease", Duration.ofSeconds(5), () -> oldIssuer.firstLostNanos() != 0);
        Issuer.await("the old holder issues again on another worker ID", Duration.ofSeconds(10),
                () -> old.workerId() != worker && oldIssuer.lastIssuedNanos() > oldIssuer.firstLostNanos());
        Issuer.await("the new holder issues", Duration.ofSeconds(5), () -> freshIssuer.count() > 1000);
        oldIssuer.stop();
        freshIssuer.stop();
        assertEquals(List.of(), oldIssuer.unexpected());
        assertEquals(List.of(), freshIssuer.unexpected());

        Layout layout = old.layout();
        long[] oldIds = oldIssuer.ids();
        long[] freshIds = freshIssuer.ids();
        IdChecks.assertNoIdRepeats(layout, Map.of("old holder", oldIds, "new holder", freshIds));
        long lastOldOnWorker = Long.MIN_VALUE;
        for (long id : oldIds) {
            DecodedId d = layout.decode(id);
            if (d.worker() == worker) {
                lastOldOnWorker = Math.max(lastOldOnWorker, d.epochMillis());
            }
        }
        DecodedId firstFresh = layout.decode(freshIds[0]);
        assertEquals(worker, firstFresh.worker());
        // A worker ID without history: the new holder issues nothing before its clock at acquire + TTL + skew. Read from the
        // first ID's timestamp, not from how long the start took, which a clock adjustment or a loaded machine could skew.
        long unknownFloor = starting + FastGenerators.TTL.plus(FastGenerators.MAX_SKEW).toMillis();
        assertTrue(firstFresh.epochMillis() > unknownFloor, "a worker ID without history must make the new holder start past its"
                + " clock at acquire plus one lease TTL plus the tolerated skew (" + java.time.Instant.ofEpochMilli(unknownFloor)
                + "), it started at " + firstFresh.timestamp());
        assertTrue(firstFresh.epochMillis() > lastOldOnWorker, "the new holder started at " + firstFresh.timestamp()
                + ", not past the old holder's last millisecond on worker " + worker + ": " + java.time.Instant.ofEpochMilli(lastOldOnWorker));
        assertNotEquals(worker, old.workerId());
    }
}
