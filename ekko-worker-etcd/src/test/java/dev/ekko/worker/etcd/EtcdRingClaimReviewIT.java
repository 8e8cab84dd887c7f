package dev.ekko.worker.etcd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.EkkoClock;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import dev.ekko.testkit.TestClock;
import dev.ekko.testsupport.TestServers;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.options.GetOption;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Adversarial review of 63be507 (clock ring slots claimed, one live holder per slot, 32 slots; live holders with no reading in
 * the ring counted through their histories).
 *
 * <p>Allocators are driven by hand (acquire, renew, release in a chosen order, each with its own test clock) against the
 * shared etcd, so the order of writes to the ring is exact. Where a step stands for what the core does, the line of
 * {@code EkkoGenerator} that does it is named. The "old rule" is the check before the ring: the lower median of every
 * history written since the observer's previous renewal.
 *
 * <p>The mechanism behind both findings: a slot is claimable by a holder when it "was not written between its two last reads
 * of the ring", and docs/etcd.md reads this as "its writer missed an interval of this holder's ... so the slot's writer also
 * missed the next one" ("lost its slot after missing two intervals"). But a holder's two last reads can be milliseconds
 * apart: the core renews right after every acquire ({@code EkkoGenerator.startTerm}: {@code renewAndReserve(t, floorOffset +
 * 1)}, so the survey and the first renewal are one round trip apart), and renews on demand whenever a caller reaches the issue
 * limit ({@code extendReservation}: every {@code next()} past the limit while the clock is refused). The writer then loses
 * its slot after missing one interval, or none. And the candidates are taken home slot first, so a live holder's slot is
 * taken ahead of empty ones.
 *
 * <p>Findings (fail on this branch):
 * {@link #aCorrectHolderThatMissedOneIntervalLosesItsSlotToANewcomerThoughSlotsAreEmptyAndACorrectClockIsRefused},
 * {@link #refusedClocksRenewOnDemandAndTakeTheRingFromHoldersThatRenewEveryInterval}. The rest are guards that pass.
 */
class EtcdRingClaimReviewIT {

    private static final String CLASS_PREFIX = TestServers.etcdKeyPrefix(EtcdRingClaimReviewIT.class);
    /** The core's tolerated skew in these tests (FastGenerators' value). */
    private static final long SKEW = FastGenerators.MAX_SKEW.toMillis();

    private final String namespace = CLASS_PREFIX + UUID.randomUUID().toString().substring(0, 8);
    private final List<AutoCloseable> toClose = new ArrayList<>();

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

    private <T extends AutoCloseable> T closing(T c) {
        toClose.add(c);
        return c;
    }

    private Client rawClient() {
        return closing(Client.builder().endpoints(SharedEtcd.endpoints().split(",")).waitForReady(false).build());
    }

    private AllocatorContext.Builder context(String name, int preferred, EkkoClock clock, int workerIds) {
        return AllocatorContext.builder().idc(1).workerIds(workerIds).preferredWorkerId(preferred).instance(name).host("host-" + name)
                .leaseTtl(Duration.ofSeconds(60)).clock(clock).setting("ekko.etcd.endpoints", SharedEtcd.endpoints())
                .setting("ekko.etcd.namespace", namespace);
    }

    /** An allocator of idc 1 (256 worker IDs, lease TTL 60 s, so nothing expires during a test) on the shared client. */
    private WorkerAllocator allocator(String name, int preferred, EkkoClock clock) {
        return closing(new EtcdAllocatorProvider().create(context(name, preferred, clock, 256).build()));
    }

    /** A holder driven by hand: its allocator, clock and current lease. */
    private final class Holder {
        final WorkerAllocator allocator;
        final TestClock clock;
        WorkerLease lease;
        long sentMillis;

        Holder(String name, int worker, TestClock clock) throws InterruptedException {
            this.clock = clock;
            this.allocator = allocator(name, worker, clock);
            this.lease = allocator.acquire();
            assertEquals(worker, lease.workerId(), "the preferred worker ID was free");
        }

        /** Renews as the core does: a report read on the holder's clock, reserving 1 s ahead. */
        Holder renew() throws InterruptedException {
            sentMillis = clock.millis();
            lease = allocator.renew(lease, new ClockReport(sentMillis, sentMillis + 1000, "h", 1, "i"));
            return this;
        }

        /** {@return whether the core would stop this holder after its last renewal} ({@code EkkoGenerator.outsideSkew}) */
        boolean refused() {
            return EtcdRingClaimReviewIT.refused(lease, sentMillis, clock.millis());
        }

        String describe() {
            return "reference " + lease.coordinatorTimeMillis() + " (age <= " + lease.coordinatorTimeMaxAgeMillis() + " ms), "
                    + (lease.coordinatorTimeMillis() - clock.millis()) + " ms from its clock";
        }
    }

    private static boolean refused(WorkerLease l, long sentAtMillis, long nowMillis) {
        long ref = l.coordinatorTimeMillis();
        if (ref == WorkerLease.UNKNOWN_TIME) {
            return false;
        }
        long age = l.coordinatorTimeMaxAgeMillis();
        if (age != WorkerLease.UNBOUNDED_AGE && ref < sentAtMillis - age - SKEW) {
            return true;
        }
        return ref > nowMillis + SKEW;
    }

    /** {@return the ring as etcd holds it now: slot to the worker ID its reading names} */
    private Map<Integer, Integer> ring(Client raw) throws Exception {
        String start = namespace + "/idc1/clock/";
        Map<Integer, Integer> out = new TreeMap<>();
        for (KeyValue kv : raw.getKVClient().get(bytes(start), GetOption.builder().isPrefix(true).build()).get(5, TimeUnit.SECONDS)
                .getKvs()) {
            int slot = Integer.parseInt(kv.getKey().toString(StandardCharsets.UTF_8).substring(start.length()));
            EtcdWorkerAllocator.Reading r = EtcdWorkerAllocator.Reading.decode(kv.getValue().getBytes());
            out.put(slot, r == null ? -1 : r.worker());
        }
        return out;
    }

    private static TestClock aheadBy(long millis) {
        TestClock c = new TestClock();
        c.stepMillis(millis);
        return c;
    }

    // ---------------------------------------------------------------- findings

    /**
     * Claim (docs/etcd.md, Clock checks): "with at most 32 live holders, each is in the ring after its first renewal, and the
     * median is of all of them, as when every history was read"; a holder loses its slot only "after missing two intervals";
     * "a bad clock among them can move the lower median no more than before".
     *
     * <p>Attack, 8 holders (so at least 24 slots stay empty throughout): V (worker 0, correct) holds slot 0. N (worker 32, correct, home
     * slot 0) acquires while B1-B3 (workers 1-3, correct) have acquired but not renewed yet, so N's first candidates are slots 1,
     * 2, 3; B1-B3's first renewals claim them, and N's first renewal, which the core sends right after the acquire
     * ({@code startTerm}), finds all three taken (a race that the docs accept: N is counted from its next renewal). That renewal
     * was one round trip after N's survey, so slot 0, not written between the two, becomes claimable; N's next renewal, one
     * interval later, takes slot 0, the first candidate from its home, ahead of the 25 empty slots, because V's own renewal
     * came a few milliseconds after N's instead of before (V missed one interval of N's; only the second "interval" was one).
     * V's renewal then writes its history but not the ring, so for the observer O (correct) the ring shows N and two clocks
     * 10 s ahead (X1, X2): lower median = 10 s ahead, O is refused. Old rule: {N, V, X1, X2} gives a correct reading. A correct
     * holder displaced by a correct one turns two bad clocks of six into the reference.
     */
    @Test
    void aCorrectHolderThatMissedOneIntervalLosesItsSlotToANewcomerThoughSlotsAreEmptyAndACorrectClockIsRefused() throws Exception {
        Client raw = rawClient();
        TestClock good = new TestClock();
        TestClock ahead = aheadBy(10_000);
        Holder v = new Holder("v", 0, good).renew(); // slot 0
        Holder b1 = new Holder("b1", 1, good);
        Holder b2 = new Holder("b2", 2, good);
        Holder b3 = new Holder("b3", 3, good);
        Holder x1 = new Holder("x1", 10, ahead).renew(); // slot 10
        Holder x2 = new Holder("x2", 11, ahead).renew(); // slot 11
        Holder o = new Holder("o", 20, good).renew(); // slot 20
        Holder n = new Holder("n", 32, good); // survey: slot 0 live (V), 1-3 empty
        b1.renew();
        b2.renew();
        b3.renew(); // slots 1, 2, 3
        n.renew(); // startTerm's renewal, right after the acquire: its three candidates are taken
        assertFalse(ring(raw).containsValue(32), "precondition: N's first claims lost the race: " + ring(raw));
        o.renew(); // the observer's previous renewal
        n.renew(); // one interval later
        Map<Integer, Integer> afterTheft = ring(raw);
        v.renew(); // V's renewal, a few milliseconds after N's: history written, slot write refused
        x1.renew();
        x2.renew();
        o.renew();
        Map<Integer, Integer> now = ring(raw);
        long empty = 32 - now.size();
        assertTrue(now.containsValue(0) && !o.refused(), "a correct clock (worker 20) was refused: " + o.describe() + ". Ring after"
                + " N's second renewal " + afterTheft + ", after V's renewal " + now + " (" + empty + " slots empty): worker 32 took"
                + " slot 0 from worker 0, which renewed in each of its own intervals (only its renewal came after N's instead of"
                + " before), since N's two last reads of the ring were its acquire's survey and the renewal the core sends right"
                + " after it; so the observer's ring held worker 32 and the two clocks 10 s ahead, and their lower median is 10 s"
                + " ahead. Old rule: the lower median of {32, 0, 10, 11}'s histories is a correct clock");
    }

    /**
     * Claim (docs/etcd.md): with more than 32 live holders "the median is of the 32 holding slots (distinct live holders: one bad
     * clock moves it no more than one of 32 could; the slots are not chosen by clock, but a holder keeps its slot while it
     * renews, so they are the holders that claimed first)".
     *
     * <p>Attack: 32 correct holders (workers 0-31) hold the ring and renew every interval. 17 holders whose clocks are 10 s
     * ahead (workers 32-48, home slots 0-16) start (no slot free: they are not in the ring). Each sends the renewal that follows
     * its acquire; the correct holders renew; each clock ahead renews and is refused (a reference of known age, 10 s behind).
     * From then on the core renews it on demand, at every {@code next()} of its callers past the limit
     * ({@code extendReservation}), so its two last reads of the ring are milliseconds apart: every slot looks "not written
     * between them", and the next demand renewal takes its home slot from a correct holder that renewed every interval. 17
     * refused clocks of 49 holders (35 %) now hold 17 of the 32 slots, so the lower median of the ring is 10 s ahead: the
     * correct holder of slot 31 is refused at its next renewal (and so is every correct holder, which then renews on demand in
     * turn: the ring flaps). Old rule: 31 correct clocks and 17 ahead, a correct median. The slots are chosen by clock: being
     * refused is what makes a holder renew often.
     */
    @Test
    void refusedClocksRenewOnDemandAndTakeTheRingFromHoldersThatRenewEveryInterval() throws Exception {
        Client raw = rawClient();
        TestClock good = new TestClock();
        TestClock ahead = aheadBy(10_000);
        List<Holder> goods = new ArrayList<>();
        for (int w = 0; w < 32; w++) {
            goods.add(new Holder("g" + w, w, good).renew());
        }
        assertEquals(32, new HashSet<>(ring(raw).values()).size(), "precondition: the 32 correct holders fill the ring");
        List<Holder> bads = new ArrayList<>();
        for (int w = 32; w < 49; w++) {
            bads.add(new Holder("x" + w, w, ahead).renew()); // acquire, and startTerm's renewal: no slot free
        }
        for (Holder g : goods) {
            g.renew(); // one interval
        }
        for (Holder x : bads) {
            x.renew();
            assertTrue(x.refused(), "precondition: a clock 10 s ahead is refused by 32 correct readings: " + x.describe());
            x.renew(); // callers past the limit: extendReservation renews at once
            x.renew(); // and again
        }
        Map<Integer, Integer> taken = ring(raw);
        for (Holder g : goods) {
            g.renew(); // the next interval
        }
        for (Holder x : bads) {
            x.renew();
        }
        Holder observer = goods.get(31);
        observer.renew();
        long badSlots = ring(raw).values().stream().filter(w -> w >= 32).count();
        assertTrue(!observer.refused(), "a correct clock (worker 31) was refused: " + observer.describe() + ". " + badSlots + " of 32"
                + " ring slots are held by the 17 clocks 10 s ahead (of 49 holders): refused, they renew on every call past the"
                + " limit, their two last reads of the ring are milliseconds apart, and each took its home slot from a correct holder"
                + " that renewed every interval. Ring after their demand renewals: " + taken + ". Old rule: 31 correct histories and"
                + " 17 ahead, a correct lower median");
    }

    // ---------------------------------------------------------------- guards

    /**
     * Guard: with exactly 32 live holders each holds one slot after its first renewal (all distinct), and a 33rd holder that
     * renews every interval like the rest takes none of them: a holder with a slot keeps it while no one's reads are close
     * together, and nobody holds two.
     */
    @Test
    void thirtyTwoHoldersEachHoldOneSlotAndA33rdThatRenewsEveryIntervalTakesNone() throws Exception {
        Client raw = rawClient();
        TestClock good = new TestClock();
        List<Holder> all = new ArrayList<>();
        for (int w = 0; w < 32; w++) {
            all.add(new Holder("h" + w, w * 3, good).renew());
        }
        Map<Integer, Integer> ring = ring(raw);
        assertEquals(32, ring.size());
        Set<Integer> expected = new HashSet<>();
        all.forEach(h -> expected.add(h.lease.workerId()));
        assertEquals(expected, new HashSet<>(ring.values()), "each of the 32 holders has one slot: " + ring);
        for (Holder h : all) {
            h.renew();
        }
        Holder late = new Holder("late", 200, good).renew(); // and startTerm's renewal right after it
        for (int round = 0; round < 3; round++) {
            for (Holder h : all) {
                h.renew();
            }
            late.renew();
        }
        assertEquals(ring, ring(raw), "the ring changed though every holder renewed every interval");
    }

    /**
     * Guard: a holder renewing many times in a row keeps exactly one slot (a clock far ahead cannot gather slots while it has
     * one), and a holder whose slot was taken deletes nothing of its taker's at its release; the handover is unaffected (the
     * release still writes its mark, and the next holder gets it as a trusted mark). (The theft is set up by the documented
     * rule: a full ring, and a slot seen unchanged for a lease TTL.)
     */
    @Test
    void aHolderHoldsOneSlotAndALostSlotIsNotDeletedByItsFormerHoldersRelease() throws Exception {
        Client raw = rawClient();
        TestClock good = new TestClock();
        TestClock ahead = aheadBy(30_000);
        Holder x = new Holder("x", 5, ahead).renew();
        for (int i = 0; i < 20; i++) {
            x.renew();
        }
        assertEquals(1, ring(raw).values().stream().filter(w -> w == 5).count(), "slots of worker 5: " + ring(raw));
        // V holds slot 0 and 30 more holders fill the ring with x, so no slot is free; N (home 0) sees the ring at its
        // renewal, then sees it unchanged a lease TTL later on its monotonic clock (a pause: V and the rest did not write), and
        // takes slot 0, the first stale one from its home.
        Holder v = new Holder("v", 0, good).renew();
        for (int w = 1; w < 32; w++) {
            if (w != 5) {
                new Holder("f" + w, w, good).renew();
            }
        }
        assertEquals(32, ring(raw).size(), "precondition: the ring is full");
        Holder n = new Holder("n", 32, new TestClock());
        n.renew(); // no slot free
        n.clock.stepNanos(TimeUnit.SECONDS.toNanos(60)); // the lease TTL passes, on N's monotonic clock only
        n.renew();
        assertEquals(32, ring(raw).get(0), "precondition: worker 32 took slot 0");
        long until = good.millis() + 20_000;
        v.allocator.release(v.lease, new ClockReport(good.millis(), until, "h", 1, "v"));
        assertEquals(32, ring(raw).get(0), "worker 0's release deleted the slot worker 32 holds now");
        assertFalse(ring(raw).containsValue(0), "a released holder's reading is left in the ring: " + ring(raw));
        WorkerAllocator next = allocator("next", 0, good);
        WorkerLease l = next.acquire();
        assertEquals(0, l.workerId());
        Handover h = l.handover();
        assertTrue(h.kind() == Handover.Kind.MARK && h.markMillis() >= until, "handover of worker 0: " + h);
    }

    /**
     * Guard: a renewal never declares a reading younger than it is, and a holder counts no reading of a holder that lost its
     * slot from before it lost it: after the theft, the victim's old reading is gone from the ring and a later observer counts
     * only the readings written since its previous renewal, each tightening its writer's bound. Since FleetClock, the bounds
     * of generators read in earlier renewals are carried (for two TTLs), so a renewal whose window holds one outlier's reading
     * alone no longer makes that reading the reference (StripingEtcdTwoBoundsReviewIT: that let a held-up write stop a
     * correct holder for good).
     */
    @Test
    void readingsAreCountedOncePerWriterAndOnlyWhenWrittenSinceThePreviousRenewal() throws Exception {
        TestClock good = new TestClock();
        TestClock ahead = aheadBy(10_000);
        Holder o = new Holder("o", 20, good).renew();
        Holder x = new Holder("x", 10, ahead).renew();
        Holder a = new Holder("a", 11, good).renew();
        o.renew(); // x and a written since o's acquire-renewal: {x, a}: lower median a
        assertFalse(o.refused(), "lower median of {ahead, correct}: " + o.describe());
        x.renew();
        x.renew();
        x.renew(); // three writes of one writer count once
        Holder b = new Holder("b", 12, good).renew();
        a.renew();
        long sent = good.millis();
        o.renew();
        assertFalse(o.refused(), "x counted more than once, or an old reading counted: " + o.describe());
        assertTrue(o.lease.coordinatorTimeMillis() + o.lease.coordinatorTimeMaxAgeMillis() >= sent - 5, "age too young: "
                + o.describe() + " sent " + sent);
        x.renew(); // only x wrote since; a's and b's bounds, carried, still count: x is one of three
        o.renew();
        assertFalse(o.refused(), "a lone fresh reading 10 s ahead set the reference, though a's and b's carried bounds count: "
                + o.describe());
        assertTrue(Math.abs(o.lease.coordinatorTimeMillis() - good.millis()) < 1_000, "the lower bound is not a correct clock's: "
                + o.describe());
        b.renew();
    }

    /** Guard: distinct worker IDs for holders that race for the same ring slots (the claim transaction is unaffected). */
    @Test
    void racingHoldersGetDistinctWorkerIdsAndDistinctSlots() throws Exception {
        Client raw = rawClient();
        TestClock good = new TestClock();
        List<Holder> hs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            hs.add(new Holder("r" + i, i * 32, good)); // all home slot 0
        }
        for (int round = 0; round < 3; round++) { // three claims per renewal: the last two need a third renewal
            for (Holder h : hs) {
                h.renew();
            }
        }
        Map<Integer, Integer> r = ring(raw);
        Map<Integer, Integer> perWorker = new HashMap<>();
        r.values().forEach(w -> perWorker.merge(w, 1, Integer::sum));
        assertEquals(8, perWorker.size(), "each of the 8 holders is in the ring: " + r);
        assertTrue(perWorker.values().stream().allMatch(c -> c == 1), "one slot per holder: " + r);
    }
}
