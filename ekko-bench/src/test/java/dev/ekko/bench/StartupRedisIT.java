package dev.ekko.bench;

/** The premises of the start-up table's {@code redis} rows ({@link StartupCoordinatorChecks}), on the shared Redis of the tests. */
class StartupRedisIT extends StartupCoordinatorChecks {

    StartupRedisIT() {
        super(Coordinator.REDIS);
    }
}
