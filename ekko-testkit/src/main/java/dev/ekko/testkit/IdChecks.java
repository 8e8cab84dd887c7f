package dev.ekko.testkit;

import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import java.util.HashMap;
import java.util.Map;

/** Assertions over the IDs that tests collected from generators: none issued twice, each issuer's rising; and a burst. */
public final class IdChecks {

    private IdChecks() {
    }

    /**
     * Fails naming the first ID that two issuers both issued, if any.
     *
     * @param layout decodes the ID in the message
     * @param idsByIssuer every ID each issuer issued, by the issuer's name
     * @throws AssertionError if an ID was issued twice
     */
    public static void assertNoIdRepeats(Layout layout, Map<String, long[]> idsByIssuer) {
        Map<Long, String> seen = new HashMap<>();
        idsByIssuer.forEach((name, ids) -> {
            for (long id : ids) {
                String before = seen.putIfAbsent(id, name);
                if (before != null) {
                    throw new AssertionError("ID issued twice, by " + before + " and " + name + ": " + layout.decode(id));
                }
            }
        });
    }

    /**
     * Fails unless an issuer's IDs rise strictly (unsigned), across lost leases and new worker IDs.
     *
     * @param layout decodes the IDs in the message
     * @param name the issuer, for the message
     * @param ids its IDs in the order it got them
     * @throws AssertionError at the first ID not above the one before
     */
    public static void assertRising(Layout layout, String name, long[] ids) {
        for (int i = 1; i < ids.length; i++) {
            if (Long.compareUnsigned(ids[i], ids[i - 1]) <= 0) {
                throw new AssertionError(name + " issued " + layout.decode(ids[i]) + " after " + layout.decode(ids[i - 1]));
            }
        }
    }

    /**
     * Issues as fast as one thread can for {@code millis} (so that, in bounded-lead mode, the IDs run ahead of the clock), and
     * fails unless each ID is above the one before.
     *
     * @param g the generator
     * @param millis how long, by the monotonic clock
     * @return the last ID issued
     * @throws AssertionError at the first ID not above the one before
     */
    public static long burst(IdGenerator g, long millis) {
        long last = 0;
        long end = System.nanoTime() + millis * 1_000_000;
        while (System.nanoTime() < end) {
            for (int i = 0; i < 1024; i++) {
                long id = g.next();
                if (Long.compareUnsigned(id, last) <= 0) {
                    throw new AssertionError("IDs of one generator rise: " + g.layout().decode(id) + " after " + last);
                }
                last = id;
            }
        }
        return last;
    }
}
