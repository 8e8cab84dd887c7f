package dev.ekko;

/**
 * The two clocks a generator reads: wall time for the timestamp in each ID, and a monotonic
 * clock for lease deadlines and waits.
 *
 * <p>Injected so tests can step wall time backwards or simulate a pause. Implementations must be
 * thread-safe and cheap: {@link #millis()} is read on every {@code next()}.
 */
public interface EkkoClock {

    /** {@return wall-clock time in milliseconds since 1970-01-01T00:00:00Z; may step backwards} */
    long millis();

    /** {@return a monotonic reading in nanoseconds with an arbitrary origin; never steps backwards} */
    long nanos();

    /** {@return the system clock: {@link System#currentTimeMillis()} and {@link System#nanoTime()}} */
    static EkkoClock system() {
        return SystemClock.INSTANCE;
    }
}

enum SystemClock implements EkkoClock {
    INSTANCE;

    @Override
    public long millis() {
        return System.currentTimeMillis();
    }

    @Override
    public long nanos() {
        return System.nanoTime();
    }

    @Override
    public String toString() {
        return "EkkoClock.system()";
    }
}
