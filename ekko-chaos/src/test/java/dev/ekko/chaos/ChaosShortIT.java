package dev.ekko.chaos;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;

/**
 * The chaos harness's short profile, in the test command and so in CI: every fault kind at least once per back end, on
 * servers of the harness's own. A new seed each run (printed; {@code -Dchaos.seed=N} replays one); the report and, for a
 * failed back end, its files stay in {@code ekko-chaos/target/chaos-it/}.
 */
class ChaosShortIT {

    @Test
    void noIdRepeatsAndEveryProcessRecoversUnderTheShortProfile() throws Exception {
        long seed = Long.getLong("chaos.seed", ThreadLocalRandom.current().nextLong(1, 1L << 48));
        Path dir = Path.of("target", "chaos-it", Long.toString(Instant.now().getEpochSecond()));
        boolean passed = Chaos.run("short", seed, Chaos.BACKENDS, dir, false, System.out);
        assertTrue(passed, "the chaos run with seed " + seed + " failed: see " + dir.resolve("report.md").toAbsolutePath()
                + " (replay: ./chaos --seed " + seed + ")");
    }
}
