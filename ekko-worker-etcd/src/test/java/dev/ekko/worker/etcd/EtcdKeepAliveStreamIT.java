package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ekko.EkkoException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testsupport.DisposableEtcd;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A member that stops answering (SIGSTOP, as a stalled process or a full disk would) while renewals time out: each renewal
 * opens a keep-alive stream for one request; when it times out, the stream is cancelled (it has the request deadline), so
 * none is left open on the member once it answers again. Counted by etcd itself: its {@code grpc_server_started_total}
 * and {@code grpc_server_handled_total} for {@code LeaseKeepAlive}.
 */
class EtcdKeepAliveStreamIT {

    private static long[] keepAliveStreams(DisposableEtcd etcd) throws Exception {
        String body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(etcd.endpoint() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        long started = 0;
        long handled = 0;
        for (String line : body.split("\n")) {
            if (line.contains("grpc_method=\"LeaseKeepAlive\"")) {
                long n = (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                if (line.startsWith("grpc_server_started_total")) {
                    started += n;
                } else if (line.startsWith("grpc_server_handled_total")) {
                    handled += n;
                }
            }
        }
        return new long[] {started, handled};
    }

    private static void signal(String sig, long pid) throws Exception {
        assertEquals(0, new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).inheritIO().start().waitFor());
    }

    @Test
    void aTimedOutRenewalLeavesNoKeepAliveStreamOpen() throws Exception {
        try (DisposableEtcd etcd = DisposableEtcd.launch();
                WorkerAllocator a = new EtcdAllocatorProvider().create(AllocatorContext.builder().idc(1).workerIds(256).instance("a")
                        .leaseTtl(Duration.ofSeconds(30)).settings(Map.of("ekko.etcd.endpoints", etcd.endpoint(), "ekko.etcd.timeout",
                                "1s")).build())) {
            WorkerLease lease = a.acquire();
            ClockReport report = new ClockReport(System.currentTimeMillis(), System.currentTimeMillis(), "h", 1, "a");
            lease = a.renew(lease, report);
            long[] before = keepAliveStreams(etcd);
            assertEquals(before[0], before[1], "open keep-alive streams while healthy");
            signal("STOP", etcd.pid());
            try {
                for (int i = 0; i < 3; i++) {
                    WorkerLease l = lease;
                    assertThrows(EkkoException.class, () -> a.renew(l, report));
                }
            } finally {
                signal("CONT", etcd.pid());
            }
            Thread.sleep(1500);
            lease = a.renew(lease, report);
            long[] after = keepAliveStreams(etcd);
            assertEquals(0, after[0] - after[1], "keep-alive streams left open after three timed-out renewals (started "
                    + after[0] + ", handled " + after[1] + ")");
            a.release(lease, report);
        }
    }
}
