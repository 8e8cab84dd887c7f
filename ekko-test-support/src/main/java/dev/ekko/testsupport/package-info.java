/**
 * Test support for Ekko's back-end modules: where the shared MariaDB, Redis and etcd test
 * servers are, clean per-test-class state on them, and throwaway servers a test can stop and
 * restart.
 *
 * <p>The shared servers are started by {@code ./run-tests}, which exports their endpoints as
 * {@code EKKO_TEST_*} environment variables; {@link dev.ekko.testsupport.TestServers} reads them
 * and fails with a message that says how to provide a missing one. Tests never skip because a
 * server is missing.
 *
 * <p>{@link dev.ekko.testsupport.DisposableRedis}, {@link dev.ekko.testsupport.DisposableMariaDb}
 * and {@link dev.ekko.testsupport.DisposableEtcd} each run a private server process that a test
 * may kill and bring back on the same port, with or without its data. They never touch the
 * shared servers.
 *
 * <p>This module depends on the JDK alone, so that it forces no client library on its users.
 */
package dev.ekko.testsupport;
