package dev.ekko.bench;

/**
 * The premises of the start-up table's {@code mysql} rows ({@link StartupCoordinatorChecks}), on the shared MariaDB of
 * the tests, in the default tables of its database.
 */
class StartupMysqlIT extends StartupCoordinatorChecks {

    StartupMysqlIT() {
        super(Coordinator.MYSQL);
    }
}
