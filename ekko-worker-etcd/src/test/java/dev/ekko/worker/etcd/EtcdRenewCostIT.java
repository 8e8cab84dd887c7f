package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.LeaseLostException;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.DisposableEtcd;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What a renewal costs in requests to etcd, counted by etcd itself ({@code grpc_server_handled_total} by method): one
 * keep-alive and one transaction once a holder has renewed once (its history key is compared with what it wrote last, not
 * read first); and when that comparison fails because the key changed under it (here: a lower mark written in, as a backup
 * restored in place leaves it), the renewal reads the key after all and gives the lease up, as a renewal that read first did.
 */
class EtcdRenewCostIT {

    private static DisposableEtcd etcd;

    @BeforeAll
    static void start() {
        etcd = DisposableEtcd.launch();
    }

    @AfterAll
    static void stop() {
        if (etcd != null) {
            etcd.close();
        }
    }

    private static long handled(String method) throws Exception {
        String body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(etcd.endpoint() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        long n = 0;
        for (String line : body.split("\n")) {
            if (line.startsWith("grpc_server_handled_total") && line.contains("grpc_method=\"" + method + "\"")) {
                n += (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return n;
    }

    private static WorkerAllocator allocator(String namespace) {
        return new EtcdAllocatorProvider().create(AllocatorContext.builder().idc(1).workerIds(64).instance("a")
                .leaseTtl(Duration.ofSeconds(30)).settings(Map.of("ekko.etcd.endpoints", etcd.endpoint(), "ekko.etcd.namespace",
                        namespace)).build());
    }

    private static ClockReport report(long reservedUntil) {
        long now = System.currentTimeMillis();
        return new ClockReport(now, reservedUntil, "h", 1, "a");
    }

    @Test
    void aRenewalAfterTheFirstIsOneKeepAliveAndOneTransaction() throws Exception {
        try (WorkerAllocator a = allocator("cost")) {
            WorkerLease lease = a.acquire();
            long now = System.currentTimeMillis();
            lease = a.renew(lease, report(now)); // the first renewal of a tenure reads the history the previous holder left
            long txnBefore = handled("Txn");
            long rangeBefore = handled("Range");
            long keepAliveBefore = handled("LeaseKeepAlive");
            int renewals = 20;
            for (int i = 1; i <= renewals; i++) {
                lease = a.renew(lease, report(now + i));
            }
            assertEquals(renewals, handled("Txn") - txnBefore, "transactions for " + renewals + " renewals");
            assertEquals(0, handled("Range") - rangeBefore, "plain reads for " + renewals + " renewals");
            assertEquals(renewals, handled("LeaseKeepAlive") - keepAliveBefore, "keep-alives for " + renewals + " renewals");
            a.release(lease, report(now + renewals));
        }
    }

    @Test
    void aHistoryThatWentBackUnderAHolderIsStillFoundAtItsNextRenewal() throws Exception {
        try (WorkerAllocator a = allocator("wentback");
                Client c = Client.builder().endpoints(etcd.endpoint()).build()) {
            WorkerLease lease = a.acquire();
            long now = System.currentTimeMillis();
            lease = a.renew(lease, report(now + 10_000));
            lease = a.renew(lease, report(now + 20_000));
            // The history as an older backup had it: this holder's mark from its first renewal, below its last report.
            ByteSequence key = ByteSequence.from("wentback/idc1/history/" + lease.workerId(), StandardCharsets.UTF_8);
            KeyValue kv = c.getKVClient().get(key).get().getKvs().get(0);
            EtcdHistory current = EtcdHistory.decode(kv.getValue().getBytes());
            EtcdHistory older = new EtcdHistory(now + 10_000, current.cluster(), current.generation(), report(now + 10_000), now, null);
            c.getKVClient().put(key, ByteSequence.from(older.encode())).get();
            WorkerLease held = lease;
            LeaseLostException e = assertThrows(LeaseLostException.class, () -> a.renew(held, report(now + 30_000)));
            assertTrue(e.getMessage().contains("went back"), e.getMessage());
        }
    }
}
