package dev.ekko.testkit;

import dev.ekko.EkkoClock;

/**
 * A clock for tests: the system clock plus offsets that a test can step (wall time backwards, the
 * monotonic clock forwards to simulate a pause), or wall time frozen at one millisecond.
 */
public final class TestClock implements EkkoClock {

    private volatile long millisOffset;
    private volatile long nanosOffset;
    private volatile long frozenMillis = Long.MIN_VALUE;

    /** Creates a clock that reads the system clocks, not stepped and not frozen. */
    public TestClock() {
    }

    @Override
    public long millis() {
        long frozen = frozenMillis;
        return frozen != Long.MIN_VALUE ? frozen : System.currentTimeMillis() + millisOffset;
    }

    @Override
    public long nanos() {
        return System.nanoTime() + nanosOffset;
    }

    /**
     * Moves wall time by {@code delta} ms (negative: backwards), frozen or not.
     *
     * @param delta milliseconds to add
     */
    public void stepMillis(long delta) {
        if (frozenMillis != Long.MIN_VALUE) {
            frozenMillis += delta;
        } else {
            millisOffset += delta;
        }
    }

    /**
     * Simulates a pause: the monotonic clock jumps ahead (wall time is not touched).
     *
     * @param delta nanoseconds to add
     */
    public void stepNanos(long delta) {
        nanosOffset += delta;
    }

    /** Stops wall time at its current reading. */
    public void freeze() {
        frozenMillis = millis();
    }

    /** Lets wall time run again from the frozen reading's offset. */
    public void unfreeze() {
        long frozen = frozenMillis;
        if (frozen != Long.MIN_VALUE) {
            millisOffset = frozen - System.currentTimeMillis();
            frozenMillis = Long.MIN_VALUE;
        }
    }
}
