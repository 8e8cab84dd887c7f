package dev.ekko;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.testkit.TestClock;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sharding by {@code id % N} at low rates: with one ID per millisecond, a sequence that always started at 0 put every ID
 * of a worker on one shard for every power of two N up to 1024. A millisecond entered from one that was not used up (at
 * these rates, every one) now starts at 0..15 by a hash of the millisecond, so N up to 16 spreads, also for callers that
 * come at a fixed period. On a stepped clock: every figure is deterministic.
 */
class ShardSpreadTest {

    @TempDir
    Path stateDir;

    @TempDir
    Path hostLocks;

    private IdGenerator generator;
    private int run;

    @AfterEach
    void close() {
        if (generator != null) {
            generator.close();
        }
    }

    /** A fresh generator (its own state directory and clock, frozen, then stepped once per ID) and its IDs' shards. */
    private long[] shards(int n, int ids, long periodMillis) {
        TestClock clock = new TestClock();
        run++;
        generator = Ekko.newBuilder().clock(clock).stateDirectory(stateDir.resolve("run" + run))
                .hostLockDirectory(hostLocks.resolve("run" + run)).workerId(42).build();
        clock.freeze();
        long[] counts = new long[n];
        for (int i = 0; i < ids; i++) {
            clock.stepMillis(periodMillis);
            counts[(int) Long.remainderUnsigned(generator.next(), n)]++;
        }
        generator.close();
        generator = null;
        return counts;
    }

    private static void assertEven(long[] counts, int ids, double tolerance, String what) {
        double even = (double) ids / counts.length;
        for (long c : counts) {
            assertTrue(Math.abs(c - even) <= tolerance * even, what + ": " + Arrays.toString(counts) + " is not within "
                    + (int) (tolerance * 100) + "% of " + even + " each");
        }
    }

    @Test
    void oneIdPerMillisecondSpreadsEvenlyOverSixteenShards() {
        assertEven(shards(16, 16_000, 1), 16_000, 0.03, "id % 16, one ID per ms");
    }

    @Test
    void smallerPowersOfTwoSpreadToo() {
        for (int n : new int[] {2, 4, 8}) {
            assertEven(shards(n, 8_000, 1), 8_000, 0.03, "id % " + n + ", one ID per ms");
        }
    }

    /** A caller on a timer (once a second, or every 16 or 2 ms) must not fall on one shard with the clock's period. */
    @Test
    void periodicCallersSpreadEvenly() {
        assertEven(shards(16, 4_000, 1000), 4_000, 0.10, "id % 16, one ID per second");
        assertEven(shards(16, 4_000, 16), 4_000, 0.10, "id % 16, one ID every 16 ms");
        assertEven(shards(16, 4_000, 2), 4_000, 0.10, "id % 16, one ID every 2 ms");
    }
}
