package dev.ekko.worker.mysql;

import dev.ekko.spi.ClockReport;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** A holder that keeps renewing while a test waits for another process's acquire. */
final class Renewing {

    private Renewing() {
    }

    /**
     * Waits up to 30 s for {@code acquiring}, renewing the holder's lease every second meanwhile (with a reservation 5 s
     * ahead), so the holder keeps its worker ID however long the other acquire takes.
     *
     * @return what {@code acquiring} acquired
     */
    static WorkerLease until(WorkerAllocator holder, WorkerLease lease, String instance, CompletableFuture<WorkerLease> acquiring)
            throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (true) {
            try {
                return acquiring.get(1, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                lease = holder.renew(lease, new ClockReport(System.currentTimeMillis(), System.currentTimeMillis() + 5000,
                        "host-" + instance, 42, instance));
            }
        }
    }
}
