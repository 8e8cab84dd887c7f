package dev.ekko.worker.redis;

import dev.ekko.EkkoClock;
import dev.ekko.IdGenerator;
import dev.ekko.spi.WorkerAllocatorProvider;
import dev.ekko.testkit.WorkerAllocatorContract;
import dev.ekko.testsupport.TestServers;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;

/**
 * ekko-core's allocator contract, against the shared Redis started by {@code ./run-tests}. Each test
 * method gets a namespace of its own under this class's key prefix (the suite leaves leases held until
 * they expire, and one test takes every worker ID), so tests never see each other's keys.
 */
class RedisAllocatorContractIT extends WorkerAllocatorContract {

    private static final String CLASS_PREFIX = TestServers.redisKeyPrefix(RedisAllocatorContractIT.class);

    /** One per test method: JUnit makes a new instance for each. */
    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);

    @Override
    protected WorkerAllocatorProvider provider() {
        return new RedisAllocatorProvider();
    }

    @Override
    protected Map<String, String> settings() {
        return Map.of("ekko.redis.uri", SharedRedis.uri(), "ekko.redis.namespace", namespace);
    }

    /**
     * Workaround for a flaw of the core's contract test (reported, not fixed here: ekko-core is not this module's):
     * {@code generatorStopsIssuingWhenItsLeaseMayHaveExpiredAndResumesAfterRenewal} simulates a pause by stepping only
     * the monotonic clock, but the core checks the fence when a call moves to a new wall-clock millisecond, so when its
     * two {@code next()} calls fall in the same millisecond (about half the runs, in a warm JVM) the second one issues
     * and the test fails. A real pause moves wall time as much as monotonic time: this clock does, so the test checks
     * what it means to. It changes nothing for the system clock the other tests use.
     */
    @Override
    protected IdGenerator generator(Map<String, String> s, EkkoClock clock) {
        return super.generator(s, new PausingClock(clock));
    }

    /** Wall time follows every step of the monotonic clock beyond {@link System#nanoTime()}, as in a real pause. */
    private static final class PausingClock implements EkkoClock {
        private final EkkoClock clock;

        PausingClock(EkkoClock clock) {
            this.clock = clock;
        }

        @Override
        public long millis() {
            return clock.millis() + (clock.nanos() - System.nanoTime()) / 1_000_000;
        }

        @Override
        public long nanos() {
            return clock.nanos();
        }
    }

    @AfterAll
    static void deleteThisClassesKeys() {
        SharedRedis.deleteKeys(CLASS_PREFIX);
    }
}
