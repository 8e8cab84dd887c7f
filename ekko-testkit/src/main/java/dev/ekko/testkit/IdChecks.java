package dev.ekko.testkit;

import dev.ekko.Layout;
import java.util.HashMap;
import java.util.Map;

/** Assertions over the IDs that tests collected from generators: none issued twice, each issuer's rising. */
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
}
