package dev.ekko.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ContenderTest {

    @TempDir
    Path stateDir;

    @ParameterizedTest
    @EnumSource(Contender.class)
    void startsAndIssuesIncreasingIds(Contender contender) {
        // One stripe: strictly increasing. Several: what striping promises a thread (docs/striping.md), every ID distinct and
        // never in an earlier millisecond than the one before; within a millisecond a spill may go to a lower worker ID.
        java.util.Set<Long> seen = new java.util.HashSet<>();
        try (IdSource ids = contender.start(stateDir)) {
            long previous = ids.next();
            seen.add(previous);
            for (int i = 0; i < 10_000; i++) {
                long id = ids.next();
                assertTrue(seen.add(id), contender + ": " + id + " twice");
                if (contender.stripes() == 1) {
                    assertTrue(Long.compareUnsigned(id, previous) > 0, contender + ": " + id + " after " + previous);
                } else {
                    assertTrue((id >>> dev.ekko.Layout.TIME_SHIFT) >= (previous >>> dev.ekko.Layout.TIME_SHIFT),
                            contender + ": " + id + " in an earlier millisecond than " + previous);
                }
                previous = id;
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Contender.class)
    void statesItsOwnCeiling(Contender contender) {
        assertTrue(contender.idsPerMilli() == (contender.isEkko() ? 1024L * contender.stripes() : 4096), contender + ": "
                + contender.idsPerMilli());
    }
}
