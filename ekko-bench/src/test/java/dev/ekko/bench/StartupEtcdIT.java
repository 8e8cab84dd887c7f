package dev.ekko.bench;

/** The premises of the start-up table's {@code etcd} rows ({@link StartupCoordinatorChecks}), on the shared etcd of the tests. */
class StartupEtcdIT extends StartupCoordinatorChecks {

    StartupEtcdIT() {
        super(Coordinator.ETCD);
    }
}
