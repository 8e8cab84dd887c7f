package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ekko.ClockSkewException;
import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testkit.Issuer;
import dev.ekko.testkit.TestClock;
import dev.ekko.testsupport.DisposableEtcd;
import dev.ekko.testsupport.TestServers;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.options.PutOption;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A third adversarial review of the etcd allocator, aimed at the clock checks against other holders' readings (a lease's
 * reference time is the lower median of their {@code written.at}, declared up to one TTL old at acquire and up to the time
 * since the previous renewal at a renewal). Each test names what it attacks; a failing one explains the hole and a fix.
 *
 * <p>All four failed on the code they reviewed and pass since the fix: at acquire the readings are a lower bound of unknown
 * age (checked on the behind side only, and the issue limit kept within two report intervals of the clock until a bounded
 * reference comes); the cap counts a reference at its earliest; a renewal with no new reading carries the last reference
 * forward on the monotonic clock (and tightens it with new readings), so a clock caught ahead stays caught.
 */
class EtcdReview3IT {

    private static final String CLASS_PREFIX = TestServers.etcdKeyPrefix(EtcdReview3IT.class);

    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @TempDir
    Path dir;

    @AfterEach
    void closeEverything() {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            try {
                toClose.get(i).close();
            } catch (Exception e) {
                // best effort
            }
        }
    }

    @AfterAll
    static void deleteThisClassesKeys() {
        SharedEtcd.deleteKeys(CLASS_PREFIX);
    }

    // ---------------------------------------------------------------- helpers

    private static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    private Client client(String endpoints) {
        Client c = Client.builder().endpoints(endpoints.split(",")).waitForReady(false).build();
        toClose.add(c);
        return c;
    }

    private <T extends AutoCloseable> T closing(T c) {
        toClose.add(c);
        return c;
    }

    /** A generator of idc 1 with the given timings (timeout 500 ms, so a cut-off holder's calls fail fast). */
    private Ekko.Builder builder(String endpoints, String instance, Duration ttl, Duration margin, Duration report,
            Duration reservation, Duration skew) {
        return Ekko.newBuilder().allocator("etcd").setting("ekko.etcd.endpoints", endpoints).setting("ekko.etcd.namespace", namespace)
                .setting("ekko.etcd.timeout", "500ms").idc(1).stateDirectory(dir.resolve(instance)).instance(instance).leaseTtl(ttl)
                .leaseMargin(margin).reportInterval(report).reservation(reservation).maxClockSkew(skew);
    }

    /**
     * A live holder of worker ID {@code w} as the allocator leaves one: the lease key on an etcd lease of {@code leaseSeconds},
     * and a history whose writer read its clock at {@code writtenAt} (the reading other holders take as their reference).
     */
    private static void fakeHolder(Client c, String namespace, int w, long leaseSeconds, long writtenAt) throws Exception {
        long lease = c.getLeaseClient().grant(leaseSeconds).get(5, TimeUnit.SECONDS).getID();
        String prefix = namespace + "/idc1/";
        c.getKVClient().put(bytes(prefix + "lease/" + w), bytes("feedfeedfeedfeedfeedfeedfeedfeed\nhost=peer\npid=1\ninstance=peer"),
                PutOption.builder().withLeaseId(lease).build()).get(5, TimeUnit.SECONDS);
        writeReading(c, namespace, w, writtenAt);
    }

    /**
     * A reading as a renewal writes it: in the history, and in the clock ring's slot of {@code w} labelled with the tenure
     * (the create revision) of {@code w}'s lease key, which is where other holders read it.
     */
    private static void writeReading(Client c, String namespace, int w, long writtenAt) throws Exception {
        String history = "mark=" + (writtenAt + 1000) + "\ncluster=0\ngeneration=0\nwritten.at=" + writtenAt + "\n";
        c.getKVClient().put(bytes(namespace + "/idc1/history/" + w), bytes(history)).get(5, TimeUnit.SECONDS);
        long tenure = c.getKVClient().get(bytes(namespace + "/idc1/lease/" + w)).get(5, TimeUnit.SECONDS).getKvs().get(0)
                .getCreateRevision();
        c.getKVClient().put(bytes(namespace + "/idc1/clock/" + Math.floorMod(w, EtcdWorkerAllocator.CLOCK_SLOTS)),
                bytes("worker=" + w + "\ntenure=" + tenure + "\nat=" + writtenAt + "\n")).get(5, TimeUnit.SECONDS);
    }

    private static int port(String endpoint) {
        return Integer.parseInt(endpoint.substring(endpoint.lastIndexOf(':') + 1));
    }

    private static long millisOf(long id) {
        return Layout.defaults().decode(id).timestamp().toEpochMilli();
    }

    // ---------------------------------------------------------------- 1. the start tolerance and a no-history successor

    /**
     * <b>Claim</b> (ARCHITECTURE.md invariant 3, docs/etcd.md "Clock checks"): with a reference built from other holders'
     * readings, the start check tolerates a clock up to the readings' declared age (one lease TTL at acquire) plus the max skew
     * ahead, and the issue-limit cap ({@code reference + maxAge + TTL - margin + skew + lead}) keeps every holder's IDs at or
     * below the floor of a successor that finds no history ({@code Handover.UNKNOWN}: etcd's data wiped), which waits
     * {@code now + TTL + skew + lead}.
     *
     * <p><b>Attack</b>: a live holder wrote a fresh reading; holder H starts with a clock 6.5 s ahead (TTL 8 s, skew 100 ms:
     * within the start tolerance of 8.1 s). Its first renewal (inside the start) finds no reading written since its claim, so
     * its reference is unknown: no check and no cap, the issue limit is its clock + TTL. H is then cut off from etcd (a
     * partition) and issues until its fence (its clock at the last renewal + TTL - margin, i.e. ms up to about
     * {@code T + 6.5 s + 7.5 s}). etcd's data is wiped; a successor S with a correct clock acquires H's worker ID with no
     * history and waits {@code T' + 8.1 s}, then issues the same milliseconds H already issued: the same IDs twice.
     *
     * <p>The cap never had a chance: the first renewal has no reference, and even with one, the acquire's declared age (a
     * TTL) puts {@code reference + maxAge} a TTL ahead. A clock ahead by more than {@code margin + skew} (plus the handover
     * gap) is unsafe against a no-history successor, whatever reference accepted it.
     *
     * <p><b>Fix</b>: either never tolerate more than {@code margin} of reference age on the ahead side (and so never let a
     * start issue on a reference older than that: e.g. wait at start until a renewal returns readings written after the claim,
     * and treat "no reference" at a renewal as "not checked", not as agreement), or make the no-history floor of a clockless
     * coordinator wait the largest age the fleet tolerates on top (floor {@code now + TTL + maxAge + skew + lead}, i.e. two
     * TTLs at acquire).
     */
    @Test
    void aClockAheadWithinTheStartToleranceIssuesIdsANoHistorySuccessorIssuesAgain() throws Exception {
        Duration ttl = Duration.ofSeconds(8);
        Duration margin = Duration.ofMillis(500);
        Duration report = Duration.ofMillis(300);
        Duration reservation = Duration.ofSeconds(1);
        Duration skew = Duration.ofMillis(100);
        DisposableEtcd etcd = closing(DisposableEtcd.launch());
        EtcdLink link = closing(new EtcdLink(etcd.port()));
        Client c = client(etcd.endpoint());
        // Warm the client code up through the link, so that H's acquire follows the reading below within milliseconds.
        try (Client warm = Client.builder().endpoints(link.endpoint()).waitForReady(false).build()) {
            warm.getKVClient().get(bytes(namespace + "/warm")).get(5, TimeUnit.SECONDS);
        }

        // A live holder with a fresh reading: the start check of H runs (it is not alone) and passes.
        fakeHolder(c, namespace, 200, 60, System.currentTimeMillis());
        TestClock ahead = new TestClock();
        ahead.stepMillis(6500);
        IdGenerator h = closing(builder(link.endpoint(), "h", ttl, margin, report, reservation, skew).clock(ahead).build());
        Issuer hIssuer = new Issuer("h", h);
        toClose.add(hIssuer::stop);
        Issuer.await("h issues", Duration.ofSeconds(15), () -> hIssuer.count() > 100);

        link.cut(); // H can no longer reach etcd: it issues until its fence deadline
        etcd.restartEmpty(); // etcd's data is lost: every lease and history is gone

        IdGenerator s = closing(builder(etcd.endpoint(), "s", ttl, margin, report, reservation, skew).workerId(h.workerId()).build());
        assertEquals(h.workerId(), s.workerId());
        Issuer sIssuer = new Issuer("s", s);
        toClose.add(sIssuer::stop);
        Issuer.await("h reaches its fence", ttl.multipliedBy(2), () -> hIssuer.firstLostNanos() != 0);
        Thread.sleep(1500);
        hIssuer.stop();
        sIssuer.stop();

        long[] hIds = hIssuer.ids();
        long[] sIds = sIssuer.ids();
        Set<Long> seen = new HashSet<>();
        for (long id : hIds) {
            seen.add(id);
        }
        int twice = 0;
        long firstTwice = 0;
        for (long id : sIds) {
            if (seen.contains(id)) {
                if (twice++ == 0) {
                    firstTwice = id;
                }
            }
        }
        assertTrue(sIds.length > 0, "the successor issued nothing");
        assertEquals(0, twice, twice + " IDs issued by both H (clock 6.5 s ahead, accepted at start against a live holder's fresh"
                + " reading because the acquire declares it up to a TTL old; cut off from etcd, it issued until its fence, its last"
                + " ID at ms " + millisOf(hIds[hIds.length - 1]) + ") and S (correct clock, same worker ID after etcd lost its data,"
                + " Handover.UNKNOWN, first ID at ms " + millisOf(sIds[0]) + "), e.g. " + firstTwice + ": the no-history floor"
                + " (now + TTL + skew) is below what a holder the start check accepted may issue (its clock + TTL - margin, up to"
                + " TTL + skew ahead)");
    }

    // ---------------------------------------------------------------- 2. a clock caught ahead is let go again

    /**
     * <b>Claim</b> (docs/etcd.md, EtcdClockIT): a clock ahead of the other holders by more than the skew plus the readings'
     * age is caught by the renewals: the limit is not raised "until a renewal agrees again", and callers get
     * {@code ClockSkewException}.
     *
     * <p><b>Attack</b>: another holder renews every 50 ms (a writer of its history's {@code written.at}); H runs 1.2 s ahead.
     * Phase 1 (held, a regression test): H is caught, and its callers, who do not renew themselves while the skew flag is set,
     * get only ClockSkewException. Phase 2: the other holder stops writing (it stalls, leaves, or merely renews on a period
     * that lets one of H's windows pass without a write, as jitter does in a fleet of two). H's next renewal has no reading
     * written since the previous one: its reference is {@code UNKNOWN_TIME}, {@code outsideSkew} returns 0, and the core logs
     * "agrees with the coordinator's again", clears the flag and raises the limit to H's clock + TTL, uncapped (no reference,
     * no cap). Nothing agreed: H's clock is exactly as far ahead as when it was caught, and it issues IDs 1.2 s in the future
     * for another TTL (then a write makes the next renewal catch it again, and so on).
     *
     * <p><b>Fix</b>: a renewal without a reference must not count as agreement: keep the skew flag and the limit until a
     * renewal with a reference agrees; and a renewal with no reference should not raise the limit past the last agreeing
     * reference's {@code time + age + TTL - margin + skew + lead}.
     */
    @Test
    void aClockCaughtAheadIsLetGoByTheNextRenewalThatHasNoReading() throws Exception {
        String endpoints = SharedEtcd.endpoints();
        Client c = client(endpoints);
        fakeHolder(c, namespace, 200, 60, System.currentTimeMillis());
        java.util.concurrent.atomic.AtomicBoolean writing = new java.util.concurrent.atomic.AtomicBoolean(true);
        Thread writer = new Thread(() -> {
            while (writing.get()) {
                try {
                    writeReading(c, namespace, 200, System.currentTimeMillis());
                    Thread.sleep(50);
                } catch (Exception e) {
                    return;
                }
            }
        }, "peer-writer");
        writer.setDaemon(true);
        writer.start();
        toClose.add(() -> writing.set(false));
        TestClock ahead = new TestClock();
        ahead.stepMillis(1200);
        IdGenerator h = closing(FastGenerators.builder(endpoints, namespace, dir.resolve("h"), "h").clock(ahead).build());

        // Phase 1 (held): caught, and nothing more issued while the other holder keeps renewing.
        long[] phase1 = issueFor(h, Duration.ofMillis(1500));
        assertTrue(phase1[1] > 0, "H, 1.2 s ahead of a holder renewing every 50 ms, was never refused");
        assertEquals(0, phase1[2], "H issued " + phase1[2] + " IDs after its first ClockSkewException while the other holder kept"
                + " renewing");

        // Phase 2: the other holder stops writing; H's clock is still 1.2 s ahead.
        writing.set(false);
        writer.join(2000);
        long[] phase2 = issueFor(h, Duration.ofMillis(1500));
        assertEquals(0, phase2[0], "H, caught 1.2 s ahead of the other holder, issued " + phase2[0] + " IDs (up to " + phase2[3]
                + " ms ahead of the real clock) once that holder stopped writing: a renewal with no reading written since the"
                + " previous one has no reference, which the core takes as agreement (clears the skew flag, raises the limit"
                + " uncapped), though nothing agreed");
    }

    /** Calls next() in a loop: {issued, refused with ClockSkewException, issued after the first refusal, furthest ahead ms}. */
    private static long[] issueFor(IdGenerator g, Duration d) {
        long end = System.nanoTime() + d.toNanos();
        long issued = 0;
        long refused = 0;
        long afterRefusal = 0;
        long furthest = Long.MIN_VALUE;
        while (System.nanoTime() < end) {
            try {
                long id = g.next();
                issued++;
                if (refused > 0) {
                    afterRefusal++;
                }
                furthest = Math.max(furthest, millisOf(id) - System.currentTimeMillis());
            } catch (ClockSkewException e) {
                refused++;
            }
        }
        return new long[] {issued, refused, afterRefusal, furthest};
    }

    // ---------------------------------------------------------------- 3. the declared age at acquire is too small

    /**
     * <b>Claim</b> (docs/etcd.md "Clock checks"): at acquire, the live holders' readings are at most about one TTL old ("a
     * live holder renews within its lease"), so the start check tolerates a clock that much ahead and a correct clock is never
     * refused (no false refusal in normal operation).
     *
     * <p><b>Attack</b>: a holder crashes (its allocator is closed without a release: its key stays until etcd expires its
     * etcd lease). The allocator rounds the core's TTL up to whole seconds and to at least 2 s (a TTL of 1.2 s gets an etcd
     * lease of 2 s), so the crashed holder's key stays live up to 2 s after its last reading, while the acquire declares the
     * readings at most 1.2 s old. A process with a correct clock starting 1.5 s after the crash takes that reading as its
     * reference (the lower median of one) and is refused with ClockSkewException: "local clock vs coordinator". The same
     * happens with whole-second TTLs after any etcd restart or leader election, which refreshes every etcd lease to its full
     * TTL (docs/etcd.md, EtcdOutageIT): a crashed holder's key then lives up to two TTLs after its last reading.
     *
     * <p><b>Fix</b>: declare the age as what it can be: the etcd lease's granted TTL (the rounded one) plus the time a key may
     * outlive it (one more TTL after a leader election, plus etcd's expiry granularity); or better, do not take a reference
     * at acquire from readings of unknown age at all: check at the start's first renewal, on readings written after the claim
     * (waiting up to a report interval for them).
     */
    @Test
    void aCrashedHoldersKeyOutlivesTheDeclaredAgeAndACorrectClockIsRefusedAtStart() throws Exception {
        String endpoints = SharedEtcd.endpoints();
        Duration ttl = Duration.ofMillis(1200);
        AllocatorContext context = AllocatorContext.builder().idc(1).workerIds(256).instance("crashed").host("host-crashed")
                .leaseTtl(ttl).setting("ekko.etcd.endpoints", endpoints).setting("ekko.etcd.namespace", namespace)
                .setting("ekko.etcd.timeout", "1s").build();
        WorkerAllocator crashed = new EtcdAllocatorProvider().create(context);
        WorkerLease l = crashed.acquire();
        long now = System.currentTimeMillis();
        crashed.renew(l, new ClockReport(now, now + 1000, "host-crashed", 1, "crashed"));
        long reading = System.currentTimeMillis(); // the crashed holder's written.at is at or before this
        crashed.close(); // a crash: no release, the key stays until etcd expires the lease (2 s)

        Thread.sleep(Math.max(0, reading + 1500 - System.currentTimeMillis()));
        IdGenerator s = null;
        try {
            s = builder(endpoints, "s", ttl, Duration.ofMillis(500), Duration.ofMillis(300), Duration.ofSeconds(1),
                    Duration.ofMillis(100)).build();
        } catch (ClockSkewException e) {
            fail("a process with a correct clock was refused at start 1.5 s after a holder crashed (TTL 1.2 s, the crashed"
                    + " holder's etcd lease 2 s, so its key and its reading were still live, older than the declared"
                    + " maximum age of one TTL): " + e.getMessage());
        } finally {
            if (s != null) {
                s.close();
            }
        }
    }

    /**
     * The same finding as {@link #aCrashedHoldersKeyOutlivesTheDeclaredAgeAndACorrectClockIsRefusedAtStart} with a
     * whole-second TTL (2 s, so the etcd lease is exactly the core's TTL): a holder crashes, etcd restarts 1 s later (a rolling
     * upgrade; a leader election in a cluster does the same), which refreshes every etcd lease to its full TTL, so the crashed
     * holder's key and its reading stay live up to 2 s after the restart. A correct clock starting 2.6 s after the crash is
     * refused with ClockSkewException (its reference is 2.6 s old, the declared maximum is 2 s). Fix: as above; etcd's
     * refresh at election means a live key's reading may be up to two TTLs old.
     */
    @Test
    void afterAnEtcdRestartACrashedHoldersReadingIsOlderThanATtlAndACorrectClockIsRefusedAtStart() throws Exception {
        DisposableEtcd etcd = closing(DisposableEtcd.launch());
        Duration ttl = Duration.ofSeconds(2);
        AllocatorContext context = AllocatorContext.builder().idc(1).workerIds(256).instance("crashed").host("host-crashed")
                .leaseTtl(ttl).setting("ekko.etcd.endpoints", etcd.endpoint()).setting("ekko.etcd.namespace", namespace)
                .setting("ekko.etcd.timeout", "1s").build();
        WorkerAllocator crashed = new EtcdAllocatorProvider().create(context);
        WorkerLease l = crashed.acquire();
        long now = System.currentTimeMillis();
        crashed.renew(l, new ClockReport(now, now + 2000, "host-crashed", 1, "crashed"));
        long reading = System.currentTimeMillis();
        crashed.close(); // a crash: no release

        Thread.sleep(Math.max(0, reading + 1000 - System.currentTimeMillis()));
        etcd.stop();
        etcd.start();
        long restarted = System.currentTimeMillis();
        Thread.sleep(Math.max(0, Math.max(reading + 2600, restarted + 100) - System.currentTimeMillis()));
        IdGenerator s = null;
        try {
            s = builder(etcd.endpoint(), "s", ttl, Duration.ofMillis(500), Duration.ofMillis(300), Duration.ofSeconds(1),
                    Duration.ofMillis(100)).build();
        } catch (ClockSkewException e) {
            fail("a process with a correct clock was refused at start " + (System.currentTimeMillis() - reading) + " ms after a"
                    + " holder crashed and etcd restarted (TTL 2 s; etcd refreshed the crashed holder's lease at its election, so"
                    + " its key and its reading were still live, older than the declared maximum age of one TTL): " + e.getMessage());
        } finally {
            if (s != null) {
                s.close();
            }
        }
    }
}
