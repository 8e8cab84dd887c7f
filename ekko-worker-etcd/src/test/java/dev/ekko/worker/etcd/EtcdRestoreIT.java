package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.IdGenerator;
import dev.ekko.LeaseLostException;
import dev.ekko.testkit.IdChecks;
import dev.ekko.Layout;
import dev.ekko.testsupport.DisposableEtcd;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * etcd restored from a snapshot, on a server of the test's own: a worker ID's mark goes back to what it was at the
 * snapshot. Generator A, in bounded-lead mode (its IDs run up to 5 s ahead of the clock), holds a worker ID; a snapshot
 * is saved; A issues 5 s more (past the reservation that the snapshot's mark covers) and closes. etcd is restored from
 * the snapshot, and B, the same instance on another host (another state directory and host-lock directory, so nothing
 * local remembers A), takes the worker ID back once A's restored lease expired. B must start past A's last ID: with a
 * new cluster token the restored marks carry another cluster ID and are only lower bounds; with the old token they look
 * current, unless a live holder sees etcd's revision go back, and {@code ekko etcd new-generation} (here
 * {@link EtcdAllocators#startNewGeneration}) is the step to take.
 */
class EtcdRestoreIT {

    private static final Duration LEAD = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    private DisposableEtcd etcd;

    @BeforeEach
    void launchEtcd() {
        etcd = DisposableEtcd.launch();
    }

    @AfterEach
    void closeEtcd() {
        etcd.close();
    }

    private IdGenerator start(String host) {
        return start(host, "a");
    }

    private IdGenerator start(String host, String instance) {
        return FastGenerators.builder(etcd.endpoint(), "restore", dir.resolve(host), instance).maxLead(LEAD)
                .hostLockDirectory(dir.resolve(host + "-locks")).setting("ekko.etcd.timeout", "2s").build();
    }


    /** A's last ID and its worker ID, after the snapshot was saved while A ran. */
    private record Before(long lastId, int worker, Path snapshot) {
    }

    private Before runAWithASnapshotInTheMiddle() throws InterruptedException {
        return runWithASnapshotInTheMiddle("host-a", "a");
    }

    private Before runWithASnapshotInTheMiddle(String host, String instance) throws InterruptedException {
        try (IdGenerator a = start(host, instance)) {
            IdChecks.burst(a, 1000);
            Thread.sleep(400); // a renewal or two record a mark that covers the lead
            Path snapshot = etcd.saveSnapshot("early.db");
            long last = IdChecks.burst(a, 5000);
            return new Before(last, a.layout().decode(last).worker(), snapshot);
        }
    }

    /** Starts B after the restore, once A's restored lease can have expired, and checks it starts past A's last ID. */
    private void bStartsPastA(Before before) throws InterruptedException {
        bStartsPastA(before, "a");
    }

    private void bStartsPastA(Before before, String instance) throws InterruptedException {
        Thread.sleep(FastGenerators.TTL.toMillis() + 1000); // restored leases run their full TTL again
        try (IdGenerator b = start("host-b", instance)) {
            long first = b.next();
            Layout layout = b.layout();
            assertEquals(before.worker(), layout.decode(first).worker(), "B took A's worker ID back (instance a's last)");
            long last = IdChecks.burst(b, 1000);
            assertTrue(Long.compareUnsigned(first, before.lastId()) > 0, "B's first ID " + layout.decode(first) + " is not past A's last "
                    + layout.decode(before.lastId()) + ": B trusted the mark restored from the snapshot, IDs repeat");
            assertTrue(Long.compareUnsigned(last, first) > 0);
        }
    }

    @Test
    void aSnapshotRestoredWithANewClusterTokenIsNoHistory() throws Exception {
        Before before = runAWithASnapshotInTheMiddle();
        etcd.restartFromSnapshot(before.snapshot(), "restored-" + System.nanoTime());
        bStartsPastA(before);
    }

    @Test
    void aSnapshotRestoredWithTheOldTokenIsSafeAfterANewGeneration() throws Exception {
        Before before = runAWithASnapshotInTheMiddle();
        etcd.restartFromSnapshot(before.snapshot(), "etcd-cluster");
        String said = EtcdAllocators.startNewGeneration(Map.of("ekko.etcd.endpoints", etcd.endpoint(), "ekko.etcd.namespace", "restore"));
        assertTrue(said.startsWith("started generation "), said);
        bStartsPastA(before);
    }

    /**
     * Restored with the old token while another holder, L, is live: L's next renewal sees etcd's revision go back, gives its
     * lease up and starts a new generation, so the restored marks are lower bounds for everyone: the first holder's worker
     * ID goes to B past its last ID, with no command run (it repeated IDs before the allocator watched the revision).
     */
    @Test
    void aSnapshotRestoredWithTheOldTokenUnderALiveHolderIsDetected() throws Exception {
        try (IdGenerator live = start("host-l", "l")) {
            live.next();
            Before before = runAWithASnapshotInTheMiddle();
            etcd.restartFromSnapshot(before.snapshot(), "etcd-cluster");
            long deadline = System.nanoTime() + 10_000_000_000L;
            LeaseLostException lost = null;
            while (lost == null && System.nanoTime() < deadline) {
                try {
                    live.next();
                } catch (LeaseLostException e) {
                    if (e.getMessage().contains("revision went back")) {
                        lost = e; // (the fence during etcd's restart may come first: it says another thing)
                    }
                }
                Thread.sleep(20);
            }
            assertTrue(lost != null && lost.getMessage().contains("revision went back"), "the live holder did not stop: " + lost);
            bStartsPastA(before);
        }
    }

    /**
     * The documented limit (docs/etcd.md, lost and restored data): restored with the old cluster token, with no live holder
     * and without a new generation, the stale marks look current and B repeats A's IDs. Disabled: it fails by design; it shows that the two
     * tests above would catch a back end that trusted restored marks.
     */
    @Test
    @Disabled("documented limit: a snapshot restored with the old cluster token needs 'ekko etcd new-generation'")
    void aSnapshotRestoredWithTheOldTokenAndNoNewGenerationRepeatsIds() throws Exception {
        Before before = runAWithASnapshotInTheMiddle();
        etcd.restartFromSnapshot(before.snapshot(), "etcd-cluster");
        bStartsPastA(before);
    }

    /**
     * A holder that acquired after the snapshot: restored, etcd has neither its lease nor its worker ID's history, so its
     * next renewal fails on the lease. Other clients' writes have lifted the revision past what it saw, so only its own
     * history's mark shows the data went back (to none), which no expiry explains: it says so and writes a new generation
     * (before, it said "expired" and nothing was written). Raw allocators, no clock involved.
     */
    @Test
    void aHolderThatAcquiredAfterTheSnapshotSeesItsMarkGoBack() throws Exception {
        Path snapshot = etcd.saveSnapshot("before-l.db");
        java.util.Map<String, String> settings = java.util.Map.of("ekko.etcd.endpoints", etcd.endpoint(), "ekko.etcd.namespace", "late",
                "ekko.etcd.timeout", "2s");
        try (dev.ekko.spi.WorkerAllocator l = new EtcdAllocatorProvider().create(dev.ekko.spi.AllocatorContext.builder().idc(1)
                .workerIds(256).instance("l").leaseTtl(Duration.ofSeconds(30)).settings(settings).build())) {
            long now = System.currentTimeMillis();
            dev.ekko.spi.WorkerLease lease = l.acquire();
            lease = l.renew(lease, new dev.ekko.spi.ClockReport(now, now + 10_000, "h", 1, "l"));
            etcd.restartFromSnapshot(snapshot, "etcd-cluster");
            // Other clients' writes lift the revision past what L saw before L renews: its revision check sees nothing.
            try (io.etcd.jetcd.Client c = io.etcd.jetcd.Client.builder().endpoints(etcd.endpoint()).build()) {
                for (int i = 0; i < 20; i++) {
                    c.getKVClient().put(io.etcd.jetcd.ByteSequence.from("other/" + i, java.nio.charset.StandardCharsets.UTF_8),
                            io.etcd.jetcd.ByteSequence.from("x", java.nio.charset.StandardCharsets.UTF_8)).get(10,
                            java.util.concurrent.TimeUnit.SECONDS);
                }
            }
            LeaseLostException e = null;
            long deadline = System.nanoTime() + 15_000_000_000L;
            while (e == null && System.nanoTime() < deadline) {
                try {
                    l.renew(lease, new dev.ekko.spi.ClockReport(now, now + 20_000, "h", 1, "l"));
                    org.junit.jupiter.api.Assertions.fail("renewed a lease that the restore took away");
                } catch (LeaseLostException lost) {
                    e = lost;
                } catch (dev.ekko.EkkoException unreachable) {
                    Thread.sleep(200); // the client reconnects to the restarted member
                }
            }
            assertTrue(e != null && e.getMessage().contains("the mark of worker=" + lease.workerId() + " went back from " + (now + 10_000)
                    + " (this holder's last report) to none"), String.valueOf(e));
            try (io.etcd.jetcd.Client c = io.etcd.jetcd.Client.builder().endpoints(etcd.endpoint()).build()) {
                assertEquals(1, c.getKVClient().get(io.etcd.jetcd.ByteSequence.from("late/generation",
                        java.nio.charset.StandardCharsets.UTF_8)).get(10, java.util.concurrent.TimeUnit.SECONDS).getCount(),
                        "a new generation was written");
            }
        }
    }
}
