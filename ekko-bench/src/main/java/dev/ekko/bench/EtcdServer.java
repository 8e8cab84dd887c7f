package dev.ekko.bench;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.maintenance.StatusResponse;
import io.etcd.jetcd.options.DeleteOption;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * BenchRunner's own calls to the tests' etcd, apart from what is measured. Its own class, so that a forked JVM, which
 * never calls it, never loads jetcd before the first measured start.
 */
final class EtcdServer {

    private EtcdServer() {
    }

    /** {@return e.g. {@code etcd 3.4.23 on 127.0.0.1, client jetcd-core-0.8.7.jar}} */
    static String describe(List<String> endpoints) {
        try (Client c = client(endpoints)) {
            StatusResponse status = c.getMaintenanceClient().statusMember(endpoints.get(0)).get(10, TimeUnit.SECONDS);
            return "etcd " + status.getVersion() + " on " + Coordinator.hostOf(endpoints.get(0)) + ", client "
                    + BenchRunner.jarOf(Client.class);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while reading the version of the etcd of EKKO_TEST_ETCD_ENDPOINTS", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot read the version of the etcd of EKKO_TEST_ETCD_ENDPOINTS: " + e, e);
        }
    }

    /** Deletes every key that starts with {@code prefix}, never any other. */
    static long deleteKeys(List<String> endpoints, String prefix) {
        if (!prefix.matches("[A-Za-z0-9._-]+")) {
            throw new IllegalArgumentException("must be letters, digits and . _ - only: prefix=" + prefix);
        }
        try (Client c = client(endpoints)) {
            return c.getKVClient().delete(ByteSequence.from(prefix, StandardCharsets.UTF_8), DeleteOption.builder().isPrefix(true).build())
                    .get(30, TimeUnit.SECONDS).getDeleted();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while deleting the run's keys (" + prefix + "*) on etcd", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IllegalStateException("cannot delete the run's keys (" + prefix + "*) on the etcd of EKKO_TEST_ETCD_ENDPOINTS: " + e,
                    e);
        }
    }

    private static Client client(List<String> endpoints) {
        return Client.builder().endpoints(endpoints.stream().map(URI::create).toArray(URI[]::new)).waitForReady(false).build();
    }
}
