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
        try (IdSource ids = contender.start(stateDir)) {
            long previous = ids.next();
            for (int i = 0; i < 10_000; i++) {
                long id = ids.next();
                assertTrue(Long.compareUnsigned(id, previous) > 0, contender + ": " + id + " after " + previous);
                previous = id;
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Contender.class)
    void statesItsOwnCeiling(Contender contender) {
        assertTrue(contender.idsPerMilli() == (contender.isEkko() ? 1024 : 4096), contender + ": " + contender.idsPerMilli());
    }
}
