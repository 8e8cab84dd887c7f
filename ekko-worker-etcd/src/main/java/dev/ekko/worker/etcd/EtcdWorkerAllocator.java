package dev.ekko.worker.etcd;

import dev.ekko.EkkoException;
import dev.ekko.LeaseLostException;
import dev.ekko.WorkerIdsExhaustedException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.SeenClock;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * {@code etcd}: leases worker IDs of one IDC from an etcd v3 cluster with etcd's own leases.
 *
 * <p>Keys, under {@code <namespace>/idc<d>/}: {@code lease/<w>} (the holder's token, attached to an etcd lease of at least
 * the core's TTL, so it disappears when the lease does), {@code history/<w>} (no lease: the handover mark, the cluster and
 * generation it was written in, the last report), {@code instance/<name>} (the worker ID an instance held last),
 * {@code clock/<k>} (the clock ring: slot {@code k} is claimed by one holder at a time, which writes its clock reading there
 * with its worker ID and tenure at each renewal, and deletes it at its release), {@code free/<w>} (a released worker ID, until its next holder renews), and {@code <namespace>/generation} (a
 * random token written once; a wiped cluster loses it with the marks).
 *
 * <p>Acquire grants an etcd lease, reads the generation, the instance's last worker ID, the ring and a window of released
 * worker IDs in one transaction, claims the preferred and the last worker ID directly, then reads a bounded sample of
 * candidates (at most half released ones, the rest random) and claims the best free one; each claim is one transaction that
 * compares the lease key's create revision with 0 and reads the history in the same revision. Only when a sample has no free
 * worker ID does the next round read every lease key (keys only): the one read whose size grows with the IDC. Renew keeps the
 * etcd lease alive, then writes the history in a transaction that compares the lease key's value (the token) and the
 * history's mod revision, and in the same transaction reads the ring and writes its reading to the slot it holds (a nested
 * transaction comparing the slot's mod revision) or claims one (a free one first; a live-looking one only once it has seen
 * its mod revision unchanged for a lease TTL); it never re-creates the lease key. A watch on the lease key tells the generator at
 * once when the key is deleted or replaced. Every read is bounded by the constants below but that one.
 *
 * <p>etcd has no clock to ask. The reference time of a lease comes from other generators' clock readings in the ring, one
 * per generator ({@link FleetClock}: at least the lower median of what they show, at most the upper median, each bound backed
 * by a majority of them): at acquire, those whose writer's lease key is live under the tenure that wrote them, and the
 * histories of live holders with no reading in the ring (the previous version's; bounded), of unknown age
 * ({@link WorkerLease#UNBOUNDED_AGE}: a lower bound only); at each renewal, those written since this holder's previous
 * renewal (read in the renewal's own transaction, by mod revision), and the histories of the holders with no reading in the
 * ring that its acquire found, so their age is at most the time since then, tightening what earlier readings of the same
 * generator showed, carried forward on the monotonic clock while that generator is in the ring. With no generator left, the
 * last reference
 * is carried forward (an unbounded one for at most two lease TTLs after the acquire); with none at all, the lease carries
 * {@link WorkerLease#UNKNOWN_TIME} and no check runs (docs/etcd.md).
 *
 * <p>The client may be shared with other allocators of the JVM ({@link EtcdAllocatorProvider#CLIENTS}); nothing here locks
 * across allocators: each one's calls are serialized on its own monitor.
 */
final class EtcdWorkerAllocator implements WorkerAllocator {

    private static final System.Logger LOG = System.getLogger("dev.ekko.etcd");
    private static final SecureRandom RANDOM = new SecureRandom();
    /** How far a current-generation mark may be ahead of this host's clock to count as safe to start on now. */
    static final long SAFE_MARK_SLACK_MILLIS = 1000;
    /**
     * The keys of the clock ring, {@code clock/0} to {@code clock/31}. A slot is claimed by one holder at a time (a transaction
     * on the slot's mod revision), which writes its clock reading there at each renewal while it holds it; a renewal's
     * reference is taken from this ring, so it reads at most this many keys whatever the number of worker IDs, and with at most
     * this many live holders every one of them is in it.
     */
    static final int CLOCK_SLOTS = 32;
    /** Free ring slots a holder without one tries to claim in one renewal (a chain of transactions: the first that succeeds). */
    static final int SLOT_CANDIDATES = 3;
    /**
     * The most live holders that have no reading in the ring (holders of the previous version, which write only
     * {@code history/<w>}) whose history an acquire reads, and whose history each renewal then reads, for the reference.
     */
    static final int UNREPRESENTED_READS = 16;
    /** Worker IDs an acquire reads (lease key and history) per round to choose from, besides the preferred and the last one. */
    static final int SAMPLE = 16;
    /** Released worker IDs an acquire reads from the {@code free/} index per window (two windows: from a random point, from the start). */
    static final int FREE_HINTS = 16;
    /** Candidates tried in one round before the keys are read again. */
    static final int CLAIMS_PER_ROUND = 16;
    /** Rounds whose claims all lost races before an acquire gives up. */
    static final int ROUNDS = 4;

    private final AllocatorContext context;
    /**
     * This allocator's generator as its readings and histories name it ({@link AllocatorContext#generator()}, the same for every
     * stripe of one generator). A striped generator holds several worker IDs, each with its own allocator: their readings share
     * one clock, so none is a reference for another, and another generator's stripes count once between them ({@link Votes}):
     * with two stripes against one other holder, a median counting them would be the generator's own clock, and a skew would
     * pass unseen; a striped outlier would outvote the fleet.
     */
    private final String generator;
    private final EtcdSettings settings;
    private final Client client;
    private final String prefix;
    private final Map<String, Held> held = new HashMap<>();
    /** Volatile: the watch callbacks read it on jetcd's threads. */
    private volatile boolean closed;
    /** Gives the client up at {@link #close()}: closes it, or releases this allocator's share of it. */
    private final AutoCloseable clientRelease;
    /** What this host's processes saw of etcd's revision, per generation (null without a state directory): see {@link SeenClock}. */
    private final SeenClock seen;
    /** The highest revision a reply showed this allocator: etcd's revision never goes back unless its data did. */
    private long highestRevision;
    /** Set when a reply's revision was below {@link #highestRevision}, until the next operation deals with it. */
    private String wentBack;

    /**
     * An etcd lease and the watch of its key, per token: {@code lost} once the watch saw the key go, {@code retired} once this
     * allocator gave the lease up (its watch is closed on purpose, not rebuilt). {@code revision} is that of the last claim or
     * renewal that succeeded, and {@code sentAtNanos} the clock before it was sent: reports written after that revision are at
     * most that old. {@code tenure} is the claim's revision, the lease key's create revision: it labels this holder's clock
     * readings, so that an acquire counts them only while this very key lives.
     */
    private record Held(long etcdLease, long baseMark, Watching watching, long revision, long sentAtNanos, FleetClock fleetClock,
            long acquiredAtNanos, String generation, Long lastReported, long tenure, Ring ring, Map<Integer, Integer> unrepresented,
            Written written) {
        Held renewed(long atRevision, long sentAt, FleetClock clocks, String wroteUnder, long reported, Ring nextRing,
                Map<Integer, Integer> nextUnrepresented, Written wrote) {
            return new Held(etcdLease, baseMark, watching, atRevision, sentAt, clocks, acquiredAtNanos, wroteUnder, reported, tenure,
                    nextRing, nextUnrepresented, wrote);
        }

        java.util.concurrent.atomic.AtomicBoolean lost() {
            return watching.lost;
        }

        void stopWatching() {
            watching.retired.set(true);
            Watch.Watcher w = watching.watcher.get();
            if (w != null) {
                w.close();
            }
        }
    }

    /**
     * What this holder's last renewal wrote into its history key: the key's mod revision then (the renewal's revision), the
     * mark and the cluster. The next renewal compares that mod revision instead of reading the key first: if it still holds,
     * the key is exactly what this holder wrote, so the read (a round trip, a third of a renewal's cost) would tell nothing
     * new; if it does not (another writer, data restored from a backup, the generation changed), the renewal falls back to
     * reading it, with every check of a read.
     */
    private record Written(long modRevision, long mark, String cluster) {
    }

    /** A ring reading written since a renewal's previous one, decoded once, with the mod revision that wrote it. */
    private record Fresh(long modRevision, Reading reading) {
    }

    /**
     * What a holder knows of the clock ring: the slot it holds ({@code -1}: none) and the mod revision of its last write there
     * (a write compares it: the slot is still its own); the mod revision each slot had at its last read of the ring (absent:
     * 0), when (on this allocator's monotonic clock) it first saw each of those mod revisions, and the slots that were free at
     * that read: empty, unreadable, or whose writer's tenure is over. A holder without a slot claims, at its next renewal, a
     * free slot first, nearest its home slot ({@code w mod CLOCK_SLOTS}); only then a live-looking slot whose mod revision it
     * has seen unchanged for at least {@code staleNanos} (one etcd lease TTL: its writer, which writes at every renewal, has
     * lost its lease), home slot first too. How often anyone renews does not matter: only time does. A claim, like a write, is
     * a transaction on the slot's mod revision as read: one holder per slot, and a slot written since is not taken.
     */
    private record Ring(int slot, long slotRevision, Map<Integer, Long> modRevisions, Map<Integer, Long> firstSeenNanos,
            Set<Integer> free) {
        static final Ring NONE = new Ring(-1, 0, Map.of(), Map.of(), Set.of());

        /**
         * {@return up to {@link #SLOT_CANDIDATES} slots to claim for worker ID {@code w} in a request sent after
         * {@code nowNanos}: free ones, its home slot first, then ones unchanged for {@code staleNanos}, its home slot first}
         */
        List<Integer> candidates(int w, long nowNanos, long staleNanos) {
            if (slot >= 0) {
                return List.of();
            }
            List<Integer> out = new ArrayList<>();
            int home = Math.floorMod(w, CLOCK_SLOTS);
            for (int i = 0; i < CLOCK_SLOTS && out.size() < SLOT_CANDIDATES; i++) {
                int k = (home + i) % CLOCK_SLOTS;
                if (free.contains(k)) {
                    out.add(k);
                }
            }
            for (int i = 0; i < CLOCK_SLOTS && out.size() < SLOT_CANDIDATES; i++) {
                int k = (home + i) % CLOCK_SLOTS;
                Long seen = firstSeenNanos.get(k);
                if (!free.contains(k) && modRevisions.containsKey(k) && seen != null && nowNanos - seen >= staleNanos) {
                    out.add(k);
                }
            }
            return out;
        }
    }

    /** The watch of one lease key: its current watcher (replaced when jetcd gives one up), and two flags. */
    private static final class Watching {
        /** The lease as handed out, for the generator's listener. */
        final WorkerLease lease;
        /** Why it was marked lost, for the renewal that finds it so. */
        volatile String lostReason = "";

        Watching(WorkerLease lease) {
            this.lease = lease;
        }

        final java.util.concurrent.atomic.AtomicReference<Watch.Watcher> watcher = new java.util.concurrent.atomic.AtomicReference<>();
        final java.util.concurrent.atomic.AtomicBoolean lost = new java.util.concurrent.atomic.AtomicBoolean();
        final java.util.concurrent.atomic.AtomicBoolean retired = new java.util.concurrent.atomic.AtomicBoolean();
    }

    /** An allocator that owns {@code client} and closes it at {@link #close()}. */
    EtcdWorkerAllocator(AllocatorContext context, EtcdSettings settings, Client client) {
        this(context, settings, client, client);
    }

    /**
     * An allocator on {@code client}, which may be shared with other allocators.
     *
     * @param clientRelease closed once at {@link #close()}: the client itself, or this allocator's handle on a shared one
     */
    EtcdWorkerAllocator(AllocatorContext context, EtcdSettings settings, Client client, AutoCloseable clientRelease) {
        this.context = context;
        this.generator = context.generator();
        this.settings = settings;
        this.client = client;
        this.clientRelease = clientRelease;
        this.prefix = settings.namespace() + "/idc" + context.idc() + "/";
        this.seen = context.setting("ekko.state.dir").map(dir -> SeenClock.in(java.nio.file.Path.of(dir), "etcd " + prefix))
                .orElse(null);
    }

    private static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    private ByteSequence leaseKey(int w) {
        return bytes(prefix + "lease/" + w);
    }

    private ByteSequence historyKey(int w) {
        return bytes(prefix + "history/" + w);
    }

    /** The clock ring's slot {@code k}. */
    private ByteSequence slotKey(int k) {
        return bytes(prefix + "clock/" + k);
    }

    /** {@return the ring slot a key names, or -1} */
    private int slotOf(KeyValue kv) {
        String key = kv.getKey().toString(StandardCharsets.UTF_8);
        String start = prefix + "clock/";
        if (!key.startsWith(start)) {
            return -1;
        }
        try {
            int k = Integer.parseInt(key.substring(start.length()));
            return k >= 0 && k < CLOCK_SLOTS ? k : -1;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** The index entry of a released worker ID: present from its release until its next holder's first renewal. */
    private ByteSequence freeKey(int w) {
        return bytes(prefix + "free/" + w);
    }

    /**
     * One clock reading in the ring: who wrote it (the worker ID, and the create revision of its lease key: its tenure), the
     * writer's clock just before it sent the write, and the writer's generator ({@link #generator}; null in a reading of
     * an earlier version). Stored as {@code key=value} lines.
     */
    record Reading(int worker, long tenure, long at, String generator) {
        byte[] encode() {
            return ("worker=" + worker + "\ntenure=" + tenure + "\nat=" + at + "\n" + (generator == null ? "" : "generator=" + generator + "\n"))
                    .getBytes(StandardCharsets.UTF_8);
        }

        /** {@return the reading a ring key holds, or null if it is not one} */
        static Reading decode(byte[] bytes) {
            Map<String, String> m = parseLines(new String(bytes, StandardCharsets.UTF_8));
            try {
                return new Reading(Integer.parseInt(m.get("worker")), Long.parseLong(m.get("tenure")), Long.parseLong(m.get("at")),
                        m.get("generator"));
            } catch (RuntimeException e) {
                return null;
            }
        }

        /** {@return whether this generator wrote it: one of its other stripes, whose clock is this one's, not another holder's} */
        boolean writtenBy(String self) {
            return self.equals(generator);
        }
    }

    /** {@return whether a history was written by a stripe of this allocator's generator (it names its writer)} */
    private boolean writtenByThisGenerator(EtcdHistory o) {
        return generator.equals(o.writer());
    }

    /**
     * Other holders' clock readings, one per generator: the newest of each generator's (its stripes read one clock, and a
     * generator holding k worker IDs is one vote, not k), and one per worker ID for readings from an earlier version, which
     * name no generator.
     */
    static final class Votes {
        private final Map<String, Long> newest = new HashMap<>();

        void add(String generator, int worker, long at) {
            newest.merge(key(generator, worker), at, Math::max);
        }

        /** {@return the key a reading counts under: its generator, or for a reading that names none its worker ID} */
        static String key(String generator, int worker) {
            return generator != null ? "generator " + generator : "worker " + worker;
        }

        /** {@return each generator's newest reading, by its key} */
        Map<String, Long> newest() {
            return Map.copyOf(newest);
        }
    }

    private ByteSequence instanceKey() {
        return bytes(prefix + "instance/" + context.instance());
    }

    private ByteSequence generationKey() {
        return bytes(settings.namespace() + "/generation");
    }

    /** The lease key's value: the token, then who holds it (for operators reading etcd). */
    private ByteSequence leaseValue(String token) {
        return bytes(token + "\nhost=" + context.host() + "\npid=" + context.pid() + "\ninstance=" + context.instance());
    }

    /** {@return the TTL of the etcd leases this allocator grants: the core's TTL rounded up to seconds, at least 2 s} */
    private long etcdTtlSeconds() {
        return Math.max(2, (context.leaseTtl().toMillis() + 999) / 1000);
    }

    /**
     * {@return how long a ring slot's mod revision must stay unchanged, on this allocator's monotonic clock, before a holder
     * without a slot may claim it though its writer looks live}: one etcd lease TTL. A live holder writes its slot at every
     * renewal, at least once per TTL (the core's TTL is at most the etcd lease's); one that has not written for that long
     * has lost its lease, to the core if not yet to etcd.
     */
    private long staleSlotNanos() {
        return TimeUnit.SECONDS.toNanos(etcdTtlSeconds());
    }

    // ---------------------------------------------------------------- the SPI

    @Override
    public synchronized WorkerLease acquire() throws InterruptedException {
        return acquire(Set.of());
    }

    @Override
    public synchronized WorkerLease acquire(Set<Integer> avoid) throws InterruptedException {
        String what = "acquiring a worker ID of idc=" + context.idc();
        checkOpen(what);
        dropLost();
        long ttlSeconds = etcdTtlSeconds();
        long sentAt = context.clock().nanos();
        long etcdLease = call(what + " (granting an etcd lease)", () -> client.getLeaseClient().grant(ttlSeconds)).getID();
        boolean ok = false;
        try {
            checkFleetSettings(what);
            String token = HexFormat.of().formatHex(randomBytes());
            boolean fullRead = false;
            int lostRounds = 0;
            while (lostRounds < ROUNDS) {
                Survey survey = survey(what);
                if (wentBack != null) {
                    startGenerationAfterGoingBack(what);
                    lostRounds++; // a round, as before the sample: bounded even if the data keeps going back
                    continue; // claims compare the generation: read the new one
                }
                Set<Integer> tried = new HashSet<>();
                Claim claim = null;
                for (int w : new int[] {context.preferredWorkerId(), survey.last()}) {
                    if (claim == null && w >= 0 && w < context.workerIds() && !avoid.contains(w) && tried.add(w)) {
                        claim = claim(what, w, survey.generation(), token, etcdLease);
                    }
                }
                Sample sample = null;
                if (claim == null) {
                    List<Integer> pool;
                    if (fullRead) {
                        Set<Integer> heldNow = heldWorkerIds(what);
                        if (freeFrom(heldNow, avoid, Set.of()).isEmpty()) {
                            throw exhausted(heldNow, avoid);
                        }
                        pool = freeFrom(heldNow, avoid, tried);
                    } else {
                        pool = sampleCandidates(survey, avoid, tried);
                    }
                    sample = sample(what, pool, survey);
                    List<Integer> ranked = sample.ranked();
                    if (ranked.isEmpty()) {
                        if (fullRead) {
                            lostRounds++; // each of them was taken between the two reads
                        }
                        fullRead = true; // the sample found nothing free: look at every lease key once
                        continue;
                    }
                    for (int w : ranked.subList(0, Math.min(CLAIMS_PER_ROUND, ranked.size()))) {
                        claim = claim(what, w, survey.generation(), token, etcdLease);
                        if (claim != null) {
                            break;
                        }
                    }
                    if (claim == null) {
                        lostRounds++;
                        continue;
                    }
                }
                if (sample == null) {
                    sample = sample(what, List.of(), survey); // only the ring writers' lease keys, for the reference
                }
                WorkerLease lease = granted(what, claim, survey, sample, token, etcdLease, sentAt);
                ok = true;
                return lease;
            }
            throw new EkkoException("gave up " + what + " at " + settings.where() + " after " + ROUNDS + " rounds of claims that lost"
                    + " races with other processes; try again");
        } finally {
            if (!ok) {
                revokeQuietly(etcdLease);
            }
        }
    }

    /** A claim that succeeded: the worker ID, the reply's header, and the history read in the claim's revision. */
    private record Claim(int workerId, long revision, String cluster, EtcdHistory history, String generation) {
    }

    /**
     * Claims {@code w} in one transaction: its lease key must not exist and the generation must be the one read; then the lease
     * key is written on the etcd lease, the instance's last worker ID recorded, and the history read in the same revision.
     *
     * @return the claim, or null if {@code w} was taken (or the generation changed) meanwhile
     */
    private Claim claim(String what, int w, String generation, String token, long etcdLease) throws InterruptedException {
        // Read before the claim is sent: a revision another process of this host records meanwhile came after it.
        SeenClock.Seen before = seen == null ? null : seen.last();
        // The generation is compared in the claim itself: a new generation written after it was read makes the claim fail
        // (and the next round read it), so no claim that succeeds after it trusts an older mark.
        TxnResponse r = call(what, () -> client.getKVClient().txn()
                .If(new Cmp(leaseKey(w), Cmp.Op.EQUAL, CmpTarget.createRevision(0)),
                        new Cmp(generationKey(), Cmp.Op.EQUAL, CmpTarget.value(bytes(generation))))
                .Then(Op.put(leaseKey(w), leaseValue(token), PutOption.builder().withLeaseId(etcdLease).build()),
                        Op.put(instanceKey(), bytes(Integer.toString(w)), PutOption.DEFAULT),
                        Op.get(historyKey(w), GetOption.DEFAULT))
                .commit());
        if (!r.isSucceeded()) {
            return null;
        }
        noteSeen(generation, before, r.getHeader().getRevision());
        EtcdHistory h = null;
        for (GetResponse g : r.getGetResponses()) {
            for (KeyValue kv : g.getKvs()) {
                h = EtcdHistory.decode(kv.getValue().getBytes());
            }
        }
        return new Claim(w, r.getHeader().getRevision(), Long.toHexString(r.getHeader().getClusterId()), h, generation);
    }

    /** Turns a claim into the lease handed out: the handover, the reference time, the watch, what renewals need. */
    private WorkerLease granted(String what, Claim c, Survey survey, Sample sample, String token, long etcdLease, long sentAt)
            throws InterruptedException {
        int w = c.workerId();
        EtcdHistory h = c.history();
        boolean trusted = wentBack == null;
        if (!trusted) {
            startGenerationAfterGoingBack(what); // the claim compared the old generation: its mark is no more than a bound
        }
        Handover handover = h == null ? Handover.unknown()
                : trusted && c.cluster().equals(h.cluster()) && c.generation().equals(h.generation()) ? Handover.mark(h.mark())
                : Handover.atLeast(h.mark());
        // Live holders' readings are of unknown age (a crashed holder's key outlives its lease's TTL when etcd refreshes
        // leases at a leader election): only a lower bound of the fleet's clock. Those in the ring, and those of live holders
        // with no reading there (holders of the previous version write only their history), read from their histories.
        Votes votes = new Votes();
        for (Reading o : sample.liveReadings(survey, w).values()) {
            if (!o.writtenBy(generator)) {
                votes.add(o.generator(), o.worker(), o.at());
            }
        }
        List<Integer> unrepresented = sample.unrepresented(survey, w, UNREPRESENTED_READS);
        if (!unrepresented.isEmpty()) {
            historyReadings(what, unrepresented, sample.tenures(), votes);
        }
        FleetClock clocks = FleetClock.acquired(votes, sentAt);
        FleetClock.Reference reference = clocks.reference();
        WorkerLease lease = new WorkerLease(w, token, context.leaseTtl(), sentAt, handover,
                reference == null ? WorkerLease.UNKNOWN_TIME : reference.millis(), WorkerLease.UNBOUNDED_AGE, h == null ? null : h.report());
        Watching watching = new Watching(lease);
        watch(lease, c.revision() + 1, watching);
        Map<Integer, Integer> tracked = new java.util.TreeMap<>();
        unrepresented.forEach(u -> tracked.put(u, 0));
        Map<Integer, Long> modRevisions = new HashMap<>();
        Map<Integer, Long> firstSeen = new HashMap<>();
        for (Slot s : survey.ring()) {
            modRevisions.put(s.index(), s.modRevision());
            firstSeen.put(s.index(), survey.readAtNanos());
        }
        Ring ring = new Ring(-1, 0, Map.copyOf(modRevisions), Map.copyOf(firstSeen), Set.copyOf(sample.claimable(survey)));
        held.put(token, new Held(etcdLease, h == null ? Long.MIN_VALUE : h.mark(), watching, c.revision(), sentAt, clocks, sentAt,
                c.generation(), null, c.revision(), ring, tracked, null));
        LOG.log(Level.DEBUG, () -> "idc=" + context.idc() + ": acquired worker=" + w + " at " + settings.where() + ", " + handover);
        return lease;
    }

    /**
     * Reads the histories of {@code workers} (live holders with no reading in the ring) in one transaction and adds to
     * {@code votes} the clock readings their holders wrote under their current tenure (a history written after the lease key
     * was created; an older one is a previous holder's), except this generator's own.
     */
    private void historyReadings(String what, List<Integer> workers, Map<Integer, Long> tenures, Votes votes)
            throws InterruptedException {
        List<Op> gets = new ArrayList<>();
        workers.forEach(u -> gets.add(Op.get(historyKey(u), GetOption.DEFAULT)));
        TxnResponse r = call(what, () -> client.getKVClient().txn().Then(gets.toArray(new Op[0])).commit());
        for (GetResponse g : r.getGetResponses()) {
            for (KeyValue kv : g.getKvs()) {
                Integer u = workerOf(kv, "history/");
                EtcdHistory o = u == null ? null : EtcdHistory.decode(kv.getValue().getBytes());
                if (o != null && o.clockReading() != EtcdHistory.NO_TIME && kv.getModRevision() > tenures.getOrDefault(u, Long.MAX_VALUE)
                        && !writtenByThisGenerator(o)) {
                    votes.add(o.writer(), u, o.clockReading());
                }
            }
        }
    }

    @Override
    public synchronized WorkerLease renew(WorkerLease lease, ClockReport report) throws InterruptedException {
        int w = lease.workerId();
        String what = "renewing the lease of idc=" + context.idc() + " worker=" + w;
        checkOpen(what);
        Held h = held.get(lease.token());
        if (h == null) {
            throw new LeaseLostException("lease of idc=" + context.idc() + " worker=" + w + " at " + settings.where() + " is not held"
                    + " by this allocator (released, or lost before)");
        }
        if (h.lost().get()) {
            String why = h.watching().lostReason;
            forget(lease.token());
            throw lost(lease, why);
        }
        long sentAt = context.clock().nanos();
        try {
            call(what, () -> client.getLeaseClient().keepAliveOnce(h.etcdLease()), true);
        } catch (LeaseNotFound e) {
            // Expired, or gone with data that went back (a snapshot from before this lease): look before saying which.
            checkOwnMark(w, h, readGeneration(what, historyKey(w)));
            if (wentBack != null) {
                throw givenUpAfterGoingBack(lease, what);
            }
            forget(lease.token());
            throw lost(lease, "its etcd lease expired (no renewal within " + lease.ttl().toMillis() + " ms)");
        }
        for (int attempt = 0; attempt < 8; attempt++) {
            // The first attempt trusts what this holder's last renewal wrote (see Written): the transaction compares it. Any
            // other attempt, and the first renewal of a tenure, reads the history and the generation first.
            Written last = attempt == 0 ? h.written() : null;
            long modRevision;
            String cluster;
            String generation;
            long oldMark;
            if (last != null) {
                modRevision = last.modRevision();
                cluster = last.cluster();
                generation = h.generation();
                oldMark = last.mark();
            } else {
                Read got = readGeneration(what, historyKey(w));
                EtcdHistory old = checkOwnMark(w, h, got);
                if (wentBack != null) {
                    throw givenUpAfterGoingBack(lease, what);
                }
                modRevision = got.other() == null ? 0 : got.other().getModRevision();
                cluster = got.cluster();
                generation = got.generation();
                oldMark = old == null ? Long.MIN_VALUE : old.mark();
            }
            long mark = Math.max(oldMark, report.reservedUntilMillis());
            long now = context.clock().millis();
            EtcdHistory next = new EtcdHistory(mark, cluster, generation, report, now, generator);
            // The whole clock ring (at most CLOCK_SLOTS keys, whatever the number of worker IDs) and the histories of the live
            // holders this one's acquire found with no reading in the ring (at most UNREPRESENTED_READS), for the reference
            // time, in the same transaction: the readings written since this holder's previous renewal count.
            GetOption wholeRing = GetOption.builder().isPrefix(true).withLimit(2 * CLOCK_SLOTS).build();
            List<Integer> unrepresented = new ArrayList<>(h.unrepresented().keySet());
            List<Op> then = new ArrayList<>();
            then.add(Op.get(bytes(prefix + "clock/"), wholeRing));
            for (int u : unrepresented) {
                then.add(Op.get(historyKey(u), GetOption.DEFAULT));
            }
            then.add(Op.put(historyKey(w), ByteSequence.from(next.encode()), PutOption.DEFAULT));
            then.add(Op.delete(freeKey(w), io.etcd.jetcd.options.DeleteOption.DEFAULT));
            ByteSequence reading = ByteSequence.from(new Reading(w, h.tenure(), now, generator).encode());
            List<Integer> candidates = h.ring().candidates(w, context.clock().nanos(), staleSlotNanos());
            Op slotOp = slotWrite(h.ring(), candidates, reading);
            if (slotOp != null) {
                then.add(slotOp);
            }
            long highestBefore = highestRevision;
            TxnResponse r = call(what, () -> client.getKVClient().txn()
                    .If(new Cmp(leaseKey(w), Cmp.Op.EQUAL, CmpTarget.value(leaseValue(lease.token()))),
                            new Cmp(historyKey(w), Cmp.Op.EQUAL, CmpTarget.modRevision(modRevision)),
                            new Cmp(generationKey(), Cmp.Op.EQUAL, CmpTarget.value(bytes(generation))))
                    .Then(then.toArray(new Op[0]))
                    .commit());
            if (r.isSucceeded() && wentBack == null && r.getHeader().getRevision() <= highestBefore) {
                // A write moves etcd's revision past every revision answered before it: one at or below what this allocator saw
                // is the data gone back, even when (restored one below) it did not fall below it. A read first would have shown
                // the lower revision; the write shows one more (EtcdRenewCompareReviewIT).
                wentBack = "etcd's revision went back: a renewal's write was at " + r.getHeader().getRevision() + ", not past "
                        + highestBefore + " (already seen)";
            }
            if (wentBack != null) {
                throw givenUpAfterGoingBack(lease, what); // etcd's revision went back in this very reply
            }
            if (r.isSucceeded()) {
                long readAt = context.clock().nanos(); // after the reply: the mod revisions read were current no later
                long revision = r.getHeader().getRevision();
                List<GetResponse> gets = r.getGetResponses();
                // Readings written after the previous renewal's transaction: at most the time since it was sent old. One per
                // writer (a worker ID in two slots, an old tenure's not yet claimed again: the latest).
                Map<Integer, Fresh> freshRing = new HashMap<>();
                Map<Integer, Long> modRevisions = new HashMap<>();
                Map<Integer, Long> firstSeen = new HashMap<>();
                Set<Integer> free = new HashSet<>();
                Map<Integer, Reading> readings = new HashMap<>();
                Map<Integer, Long> newestTenure = new HashMap<>();
                for (KeyValue kv : gets.get(0).getKvs()) {
                    int k = slotOf(kv);
                    if (k < 0) {
                        continue;
                    }
                    long mod = kv.getModRevision();
                    Long before = h.ring().modRevisions().get(k);
                    boolean unchanged = before != null && before == mod;
                    modRevisions.put(k, mod);
                    // When this holder first saw this mod revision: carried while it stays unchanged (the slot's staleness is
                    // measured in time on this allocator's monotonic clock, not in reads, so how often anyone renews does not
                    // matter).
                    Long seenAt = unchanged ? h.ring().firstSeenNanos().get(k) : null;
                    firstSeen.put(k, seenAt != null ? seenAt : readAt);
                    Reading o = Reading.decode(kv.getValue().getBytes());
                    if (o == null || o.tenure() == 0 || (o.worker() == w && o.tenure() != h.tenure())
                            || (unchanged && h.ring().free().contains(k))) {
                        // Unreadable, or its writer's tenure is over: this holder's worker ID under an earlier tenure, or a
                        // reading found free at an earlier read and not written since.
                        free.add(k);
                    } else {
                        readings.put(k, o);
                        newestTenure.merge(o.worker(), o.tenure(), Math::max);
                    }
                    if (o != null && o.worker() != w && mod > h.revision() && !o.writtenBy(generator)) {
                        Fresh prior = freshRing.get(o.worker());
                        if (prior == null || prior.modRevision() < mod) {
                            freshRing.put(o.worker(), new Fresh(mod, o));
                        }
                    }
                }
                // A worker ID's lease key has one tenure at a time (its create revision): a reading under an older one than
                // another slot shows is over.
                readings.forEach((k, o) -> {
                    if (o.tenure() < newestTenure.get(o.worker())) {
                        free.add(k);
                    }
                });
                for (int k = 0; k < CLOCK_SLOTS; k++) {
                    if (!modRevisions.containsKey(k)) {
                        free.add(k); // empty
                    }
                }
                Votes reports = new Votes();
                freshRing.values().forEach(f -> reports.add(f.reading().generator(), f.reading().worker(), f.reading().at()));
                // The generators whose writers are still in the ring: a release deletes its slot, so a generator closed (and
                // perhaps built again under a new name) stops counting at once.
                Set<String> present = new HashSet<>();
                readings.forEach((k, o) -> {
                    if (!free.contains(k)) {
                        present.add(Votes.key(o.generator(), o.worker()));
                    }
                });
                Map<Integer, Integer> stillUnrepresented = new java.util.TreeMap<>();
                for (int i = 0; i < unrepresented.size(); i++) {
                    int u = unrepresented.get(i);
                    if (freshRing.containsKey(u)) {
                        continue; // in the ring now: counted there
                    }
                    List<KeyValue> kvs = gets.get(1 + i).getKvs();
                    EtcdHistory any = kvs.isEmpty() ? null : EtcdHistory.decode(kvs.get(0).getValue().getBytes());
                    if (any != null) {
                        present.add(Votes.key(any.writer(), u)); // tracked: a live holder with no reading in the ring
                    }
                    EtcdHistory o = kvs.isEmpty() || kvs.get(0).getModRevision() <= h.revision() ? null : any;
                    if (o != null && o.clockReading() != EtcdHistory.NO_TIME && !writtenByThisGenerator(o)) {
                        reports.add(o.writer(), u, o.clockReading());
                        stillUnrepresented.put(u, 0);
                    } else if (h.unrepresented().get(u) < 1) {
                        stillUnrepresented.put(u, h.unrepresented().get(u) + 1); // given up after two renewals with nothing new
                    }
                }
                Ring ring = nextRing(h.ring(), candidates, r, revision, modRevisions, firstSeen, free);
                // Each other generator's clock as its readings bound it, those written since the previous renewal (at most that
                // old) tightening what earlier ones showed, carried forward on the monotonic clock; the reference is taken over
                // them, one per generator (FleetClock). A generator counts while its writer is in the ring, until two TTLs and
                // two renewals passed without a reading of it; with none left, the last reference is carried forward (one of
                // unknown age only while live holders may still write: two TTLs after the acquire), so a clock caught ahead
                // stays caught when no one writes.
                long ttl = lease.ttl().toNanos();
                FleetClock clocks = h.fleetClock().renewed(reports, present, sentAt,
                        Math.max(0, (sentAt - h.sentAtNanos() + 999_999) / 1_000_000), ttl, h.acquiredAtNanos() + 2 * ttl);
                FleetClock.Reference ref = clocks.reference();
                held.put(lease.token(), h.renewed(revision, sentAt, clocks, generation, report.reservedUntilMillis(), ring,
                        stillUnrepresented, cluster.equals(Long.toHexString(r.getHeader().getClusterId()))
                                ? new Written(revision, mark, cluster) : null)); // another cluster answered: read next time
                if (seen != null) {
                    seen.saw(generation, r.getHeader().getRevision());
                }
                return ref == null ? lease.renewed(sentAt, WorkerLease.UNKNOWN_TIME) : lease.renewed(sentAt, ref.millis(), ref.maxAge());
            }
            GetResponse mine = call(what, () -> client.getKVClient().get(leaseKey(w)));
            if (mine.getKvs().isEmpty() || !mine.getKvs().get(0).getValue().equals(leaseValue(lease.token()))) {
                forget(lease.token());
                throw lost(lease, mine.getKvs().isEmpty() ? "its key was deleted" : "its key now holds another holder's token");
            }
            // the history or the generation changed between the read and the write: read them again
        }
        throw new EkkoException("gave up " + what + " at " + settings.where() + ": its history key kept changing");
    }

    /**
     * The ring write of a renewal: to the slot this holder holds, if it is still its own (its mod revision is that of this
     * holder's last write); else a claim of the first of {@code candidates} that was not written since this holder read it
     * (each a transaction on the slot's mod revision as read, the next one in its {@code Else}). Null if there is nothing to
     * write.
     */
    private Op slotWrite(Ring ring, List<Integer> candidates, ByteSequence reading) {
        if (ring.slot() >= 0) {
            return Op.txn(new Cmp[] {new Cmp(slotKey(ring.slot()), Cmp.Op.EQUAL, CmpTarget.modRevision(ring.slotRevision()))},
                    new Op[] {Op.put(slotKey(ring.slot()), reading, PutOption.DEFAULT)}, new Op[0]);
        }
        Op chain = null;
        for (int i = candidates.size() - 1; i >= 0; i--) {
            int k = candidates.get(i);
            chain = Op.txn(new Cmp[] {new Cmp(slotKey(k), Cmp.Op.EQUAL, CmpTarget.modRevision(ring.modRevisions().getOrDefault(k,
                    0L)))}, new Op[] {Op.put(slotKey(k), reading, PutOption.DEFAULT)}, chain == null ? new Op[0] : new Op[] {chain});
        }
        return chain;
    }

    /**
     * The ring as a renewal leaves it: the slot kept (its compare held), claimed (the first transaction of the chain that
     * succeeded) or lost (written by another holder, which claimed it after seeing it unchanged for a TTL), and the view read.
     */
    private static Ring nextRing(Ring before, List<Integer> candidates, TxnResponse r, long revision, Map<Integer, Long> modRevisions,
            Map<Integer, Long> firstSeenNanos, Set<Integer> free) {
        int slot = -1;
        List<TxnResponse> nested = r.getTxnResponses();
        if (before.slot() >= 0) {
            slot = !nested.isEmpty() && nested.get(0).isSucceeded() ? before.slot() : -1;
        } else {
            TxnResponse step = nested.isEmpty() ? null : nested.get(0);
            for (int i = 0; i < candidates.size() && step != null; i++) {
                if (step.isSucceeded()) {
                    slot = candidates.get(i);
                    break;
                }
                step = step.getTxnResponses().isEmpty() ? null : step.getTxnResponses().get(0);
            }
        }
        int own = slot;
        Set<Integer> others = new HashSet<>(free);
        others.remove(own);
        return new Ring(slot, slot >= 0 ? revision : 0, Map.copyOf(modRevisions), Map.copyOf(firstSeenNanos), Set.copyOf(others));
    }

    @Override
    public synchronized void release(WorkerLease lease, ClockReport finalReport) throws InterruptedException {
        int w = lease.workerId();
        String what = "releasing idc=" + context.idc() + " worker=" + w;
        Held h = held.remove(lease.token());
        if (h == null || closed) {
            return;
        }
        h.stopWatching();
        try {
            Read got = readGeneration(what, null);
            long mark = Math.max(h.baseMark(), finalReport.reservedUntilMillis());
            // Labelled with the generation this holder last wrote its mark under: a mark that rests on one trusted before a new
            // generation (the holder claimed before the command, and no renewal since relabelled a reservation running ahead)
            // stays a lower bound under the new one.
            String label = got.generation().equals(h.generation()) ? got.generation() : h.generation();
            long now = context.clock().millis();
            EtcdHistory next = new EtcdHistory(mark, got.cluster(), label, finalReport, now, generator);
            // The worker ID goes into the index of released ones (acquires look there first: its mark is safe to start on
            // soon), and its ring slot, if still its own, is emptied: a released holder's reading stops counting at once, and
            // the slot is free for another holder to claim.
            List<Op> then = new ArrayList<>(List.of(Op.put(historyKey(w), ByteSequence.from(next.encode()), PutOption.DEFAULT),
                    Op.delete(leaseKey(w), io.etcd.jetcd.options.DeleteOption.DEFAULT),
                    Op.put(freeKey(w), bytes("mark=" + mark + "\n"), PutOption.DEFAULT)));
            if (h.ring().slot() >= 0) {
                then.add(Op.txn(new Cmp[] {new Cmp(slotKey(h.ring().slot()), Cmp.Op.EQUAL,
                        CmpTarget.modRevision(h.ring().slotRevision()))},
                        new Op[] {Op.delete(slotKey(h.ring().slot()), io.etcd.jetcd.options.DeleteOption.DEFAULT)}, new Op[0]));
            }
            TxnResponse r = call(what, () -> client.getKVClient().txn()
                    .If(new Cmp(leaseKey(w), Cmp.Op.EQUAL, CmpTarget.value(leaseValue(lease.token()))))
                    .Then(then.toArray(new Op[0]))
                    .commit());
            LOG.log(Level.DEBUG, () -> "idc=" + context.idc() + ": " + (r.isSucceeded() ? "released worker=" + w
                    : "worker=" + w + " was no longer ours to release") + " at " + settings.where());
        } finally {
            revokeQuietly(h.etcdLease());
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        held.values().forEach(Held::stopWatching);
        held.clear();
        try {
            clientRelease.close();
        } catch (Exception e) {
            LOG.log(Level.DEBUG, () -> "idc=" + context.idc() + ": closing the etcd client failed: " + e.getMessage());
        }
    }

    /**
     * Writes a new random generation for the namespace, so that every mark written before is a lower bound from now on
     * (see {@link EtcdAllocators#startNewGeneration}).
     *
     * @return the generation before (null if none) and the new one
     */
    synchronized String[] startNewGeneration() throws InterruptedException {
        String what = "starting a new generation";
        checkOpen(what);
        String next = HexFormat.of().formatHex(randomBytes());
        io.etcd.jetcd.kv.PutResponse r = call(what, () -> client.getKVClient().put(generationKey(), bytes(next),
                PutOption.builder().withPrevKV().build()));
        return new String[] {r.hasPrevKv() ? r.getPrevKv().getValue().toString(StandardCharsets.UTF_8) : null, next};
    }

    @Override
    public String toString() {
        return "EtcdWorkerAllocator{idc=" + context.idc() + ", " + settings + "}";
    }

    // ---------------------------------------------------------------- acquire

    /**
     * What an acquire reads first, in one transaction at one revision: the generation (written if missing), the instance's last
     * worker ID, the clock ring ({@code clock/<k>}, {@link #CLOCK_SLOTS} keys) and up to {@link #FREE_HINTS} released worker
     * IDs ({@code free/<w>}) from a random point of that index (and from its start if the window ran past its end).
     */
    private record Survey(String generation, String cluster, int last, List<Slot> ring, List<Integer> hints, long revision,
            long readAtNanos) {
    }

    /** One key of the clock ring as read: its slot, its mod revision, and its reading (null if unreadable). */
    private record Slot(int index, long modRevision, Reading reading) {
    }

    private Survey survey(String what) throws InterruptedException {
        String fresh = HexFormat.of().formatHex(randomBytes());
        ByteSequence freeStart = bytes(prefix + "free/");
        ByteSequence freeEnd = prefixEnd(freeStart);
        ByteSequence from = bytes(prefix + "free/" + ThreadLocalRandom.current().nextInt(context.workerIds()));
        GetOption fromRandom = GetOption.builder().withRange(freeEnd).withLimit(FREE_HINTS).build();
        GetOption upToRandom = GetOption.builder().withRange(from).withLimit(FREE_HINTS).build();
        GetOption ring = GetOption.builder().isPrefix(true).withLimit(2 * CLOCK_SLOTS).build();
        List<Op> gets = List.of(Op.get(instanceKey(), GetOption.DEFAULT), Op.get(bytes(prefix + "clock/"), ring),
                Op.get(from, fromRandom), Op.get(freeStart, upToRandom));
        List<Op> then = new ArrayList<>(List.of(Op.put(generationKey(), bytes(fresh), PutOption.DEFAULT)));
        then.addAll(gets);
        List<Op> otherwise = new ArrayList<>(List.of(Op.get(generationKey(), GetOption.DEFAULT)));
        otherwise.addAll(gets);
        TxnResponse r = call(what, () -> client.getKVClient().txn()
                .If(new Cmp(generationKey(), Cmp.Op.EQUAL, CmpTarget.createRevision(0)))
                .Then(then.toArray(new Op[0]))
                .Else(otherwise.toArray(new Op[0]))
                .commit());
        long readAt = context.clock().nanos(); // after the reply: the slots' mod revisions were current no later than this
        String generation = fresh; // written now; or deleted in between, and a claim's compare fails until the next read writes it
        int last = -1;
        List<Slot> readings = new ArrayList<>();
        List<Integer> hints = new ArrayList<>();
        for (GetResponse g : r.getGetResponses()) {
            for (KeyValue kv : g.getKvs()) {
                String key = kv.getKey().toString(StandardCharsets.UTF_8);
                if (kv.getKey().equals(generationKey())) {
                    generation = kv.getValue().toString(StandardCharsets.UTF_8);
                } else if (kv.getKey().equals(instanceKey())) {
                    try {
                        last = Integer.parseInt(kv.getValue().toString(StandardCharsets.UTF_8).strip());
                    } catch (NumberFormatException e) {
                        last = -1;
                    }
                } else if (key.startsWith(prefix + "clock/")) {
                    int k = slotOf(kv);
                    if (k >= 0) {
                        readings.add(new Slot(k, kv.getModRevision(), Reading.decode(kv.getValue().getBytes())));
                    }
                } else {
                    Integer w = workerOf(kv, "free/");
                    if (w != null && !hints.contains(w)) {
                        hints.add(w);
                    }
                }
            }
        }
        return new Survey(generation, Long.toHexString(r.getHeader().getClusterId()), last, readings, hints,
                r.getHeader().getRevision(), readAt);
    }

    /** {@return the first key after every key that starts with {@code start}} */
    private static ByteSequence prefixEnd(ByteSequence start) {
        byte[] b = start.getBytes();
        b[b.length - 1]++; // the prefixes end with '/', never 0xff
        return ByteSequence.from(b);
    }

    /**
     * Candidates for a sample: released worker IDs from the index first (their marks are usually safe to start on now), at
     * most half of the sample, then worker IDs drawn at random (never used, expired, or released long ago), at most
     * {@link #SAMPLE} in all; none in {@code avoid} or {@code tried}. The random half is always there, so hints that name held
     * worker IDs (stale: their new holders have not renewed yet) never make an IDC with free worker IDs look full. An IDC of at
     * most {@code 4 * SAMPLE} worker IDs is walked from a random point instead of drawn.
     */
    private List<Integer> sampleCandidates(Survey survey, Set<Integer> avoid, Set<Integer> tried) {
        int n = context.workerIds();
        List<Integer> pool = new ArrayList<>();
        for (int w : survey.hints()) {
            if (pool.size() < SAMPLE / 2 && w < n && !avoid.contains(w) && !tried.contains(w)) {
                pool.add(w);
            }
        }
        ThreadLocalRandom random = ThreadLocalRandom.current();
        if (n <= 4 * SAMPLE) {
            int start = random.nextInt(n);
            for (int i = 0; i < n && pool.size() < SAMPLE; i++) {
                int w = (start + i) % n;
                if (!avoid.contains(w) && !tried.contains(w) && !pool.contains(w)) {
                    pool.add(w);
                }
            }
            return pool;
        }
        for (int draws = 0; draws < 4 * SAMPLE && pool.size() < SAMPLE; draws++) {
            int w = random.nextInt(n);
            if (!avoid.contains(w) && !tried.contains(w) && !pool.contains(w)) {
                pool.add(w);
            }
        }
        return pool;
    }

    /** The worker IDs of every lease key of the IDC: the one read of an acquire whose cost grows with the IDC. */
    private Set<Integer> heldWorkerIds(String what) throws InterruptedException {
        GetOption keysOnly = GetOption.builder().isPrefix(true).withKeysOnly(true).build();
        GetResponse leases = call(what, () -> client.getKVClient().get(bytes(prefix + "lease/"), keysOnly));
        Set<Integer> taken = new HashSet<>();
        for (KeyValue kv : leases.getKvs()) {
            Integer w = workerOf(kv, "lease/");
            if (w != null) {
                taken.add(w);
            }
        }
        return taken;
    }

    /** Up to {@link #SAMPLE} worker IDs not in {@code heldNow}, {@code avoid} or {@code tried}, from a random start. */
    private List<Integer> freeFrom(Set<Integer> heldNow, Set<Integer> avoid, Set<Integer> tried) {
        int n = context.workerIds();
        int start = ThreadLocalRandom.current().nextInt(n);
        List<Integer> pool = new ArrayList<>();
        for (int i = 0; i < n && pool.size() < SAMPLE; i++) {
            int w = (start + i) % n;
            if (!heldNow.contains(w) && !avoid.contains(w) && !tried.contains(w)) {
                pool.add(w);
            }
        }
        return pool;
    }

    /**
     * What one read of a sample found: for each candidate whether its lease key exists and its history; for each writer in
     * the clock ring, the create revision of its lease key (0 if none).
     */
    private record Sample(List<Integer> candidates, Set<Integer> held, Map<Integer, EtcdHistory> history, String cluster,
            Map<Integer, Long> tenures, long now, List<Integer> listed) {

        /** Free candidates in order of preference: marks this cluster wrote that are safe now, other marks, no history. */
        List<Integer> ranked() {
            List<Integer> safe = new ArrayList<>();
            List<Integer> known = new ArrayList<>();
            List<Integer> rest = new ArrayList<>();
            for (int w : candidates) {
                if (held.contains(w)) {
                    continue;
                }
                EtcdHistory h = history.get(w);
                if (h == null) {
                    rest.add(w);
                } else if (h.cluster().equals(cluster) && h.mark() <= now + SAFE_MARK_SLACK_MILLIS) {
                    safe.add(w);
                } else {
                    known.add(w);
                }
            }
            List<Integer> all = new ArrayList<>(safe);
            all.addAll(known);
            all.addAll(rest);
            return all;
        }

        /**
         * The ring's readings whose writer still holds its worker ID under the tenure that wrote them, but {@code w}'s: one per
         * writer (the latest).
         */
        Map<Integer, Reading> liveReadings(Survey survey, int w) {
            Map<Integer, Reading> readings = new HashMap<>();
            Map<Integer, Long> written = new HashMap<>();
            for (Slot s : survey.ring()) {
                Reading r = s.reading();
                if (r != null && r.worker() != w && tenures.getOrDefault(r.worker(), 0L) == r.tenure() && r.tenure() != 0
                        && written.getOrDefault(r.worker(), -1L) < s.modRevision()) {
                    readings.put(r.worker(), r);
                    written.put(r.worker(), s.modRevision());
                }
            }
            return readings;
        }

        /**
         * The ring's free slots as read by the acquire, which a holder may claim at its first renewal: empty, unreadable, or
         * whose writer's tenure is over (its lease key gone, or another tenure's). The others are claimable only once their mod
         * revision has stayed unchanged for a TTL ({@link Ring#candidates}).
         */
        List<Integer> claimable(Survey survey) {
            Set<Integer> taken = new HashSet<>();
            for (Slot s : survey.ring()) {
                Reading r = s.reading();
                if (r != null && r.tenure() != 0 && tenures.getOrDefault(r.worker(), 0L) == r.tenure()) {
                    taken.add(s.index());
                }
            }
            List<Integer> free = new ArrayList<>();
            for (int k = 0; k < CLOCK_SLOTS; k++) {
                if (!taken.contains(k)) {
                    free.add(k);
                }
            }
            return free;
        }

        /** Live holders (lease keys listed) other than {@code w} with no live reading in the ring: at most {@code max}. */
        List<Integer> unrepresented(Survey survey, int w, int max) {
            Map<Integer, Reading> inRing = liveReadings(survey, w);
            List<Integer> out = new ArrayList<>();
            for (int u : listed) {
                if (u != w && !inRing.containsKey(u) && out.size() < max) {
                    out.add(u);
                }
            }
            return out;
        }
    }

    /**
     * Reads, in one transaction, each candidate's lease key (keys only) and history, and the lease key of each worker ID in the
     * survey's clock ring; and, when the ring has fewer than {@link #CLOCK_SLOTS} readings (so the fleet may be small enough
     * for every live holder to be in it), the first {@link #CLOCK_SLOTS} lease keys of the IDC (keys only), to find live
     * holders that have no reading in the ring (holders of the previous version): at most
     * {@code 2 * SAMPLE + 2 * CLOCK_SLOTS} keys, whatever the number of worker IDs.
     */
    private Sample sample(String what, List<Integer> candidates, Survey survey) throws InterruptedException {
        GetOption keysOnly = GetOption.builder().withKeysOnly(true).build();
        List<Op> gets = new ArrayList<>();
        Set<Integer> leaseKeys = new java.util.TreeSet<>(candidates);
        survey.ring().stream().filter(s -> s.reading() != null).forEach(s -> leaseKeys.add(s.reading().worker()));
        for (int w : leaseKeys) {
            gets.add(Op.get(leaseKey(w), keysOnly));
        }
        boolean list = survey.ring().stream().filter(s -> s.reading() != null).count() < CLOCK_SLOTS;
        if (list) {
            gets.add(Op.get(bytes(prefix + "lease/"), GetOption.builder().isPrefix(true).withKeysOnly(true).withLimit(CLOCK_SLOTS)
                    .build()));
        }
        for (int w : candidates) {
            gets.add(Op.get(historyKey(w), GetOption.DEFAULT));
        }
        long now = context.clock().millis();
        if (gets.isEmpty()) {
            return new Sample(candidates, Set.of(), Map.of(), survey.cluster(), Map.of(), now, List.of());
        }
        TxnResponse r = call(what, () -> client.getKVClient().txn().Then(gets.toArray(new Op[0])).commit());
        Set<Integer> taken = new HashSet<>();
        Map<Integer, Long> tenures = new HashMap<>();
        Map<Integer, EtcdHistory> history = new HashMap<>();
        List<Integer> listed = new ArrayList<>();
        List<GetResponse> replies = r.getGetResponses();
        for (int i = 0; i < replies.size(); i++) {
            boolean listing = list && i == leaseKeys.size();
            for (KeyValue kv : replies.get(i).getKvs()) {
                Integer w = workerOf(kv, "lease/");
                if (w != null) {
                    taken.add(w);
                    tenures.put(w, kv.getCreateRevision());
                    if (listing) {
                        listed.add(w);
                    }
                    continue;
                }
                w = workerOf(kv, "history/");
                EtcdHistory h = w == null ? null : EtcdHistory.decode(kv.getValue().getBytes());
                if (h != null) {
                    history.put(w, h);
                }
            }
        }
        return new Sample(candidates, taken, history, Long.toHexString(r.getHeader().getClusterId()), tenures, now, listed);
    }

    private Integer workerOf(KeyValue kv, String kind) {
        String key = kv.getKey().toString(StandardCharsets.UTF_8);
        String start = prefix + kind;
        if (!key.startsWith(start)) {
            return null;
        }
        try {
            int w = Integer.parseInt(key.substring(start.length()));
            return w >= 0 && w < context.workerIds() ? w : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private WorkerIdsExhaustedException exhausted(Set<Integer> heldNow, Set<Integer> avoid) {
        long avoided = avoid.stream().filter(w -> w >= 0 && w < context.workerIds() && !heldNow.contains(w)).count();
        return new WorkerIdsExhaustedException("all " + (context.workerIds() - avoided) + " worker IDs of idc=" + context.idc()
                + (avoided == 0 ? "" : " this process may take (it refuses " + new java.util.TreeSet<>(avoid) + ")") + " are held at "
                + settings.where() + " (" + heldNow.size() + " lease keys). Stop a process, wait for the leases of dead ones to expire ("
                + context.leaseTtl().toMillis() + " ms), or use another idc (ekko.idc) or fewer product bits (ekko.product.bits)");
    }

    private ByteSequence settingsKey() {
        return bytes(prefix + "settings");
    }

    /**
     * Records this process's fleet settings in {@code settings} at first use of the namespace's IDC (a transaction that
     * creates the key only if it does not exist), or compares them with the recorded ones and refuses a difference before
     * anything else is written. Keys a newer version added are merged in by a transaction on the key's mod revision.
     */
    private void checkFleetSettings(String what) throws InterruptedException {
        Map<String, String> ours = context.fleetSettings();
        if (ours.isEmpty()) {
            return;
        }
        for (int attempt = 0; attempt < 8; attempt++) {
            Map<String, String> first = new java.util.TreeMap<>(ours);
            first.put("first.host", context.host());
            first.put("first.instance", context.instance());
            first.put("first.at", Long.toString(context.clock().millis()));
            TxnResponse r = call(what, () -> client.getKVClient().txn()
                    .If(new Cmp(settingsKey(), Cmp.Op.EQUAL, CmpTarget.createRevision(0)))
                    .Then(Op.put(settingsKey(), bytes(lines(first)), PutOption.DEFAULT))
                    .Else(Op.get(settingsKey(), GetOption.DEFAULT))
                    .commit());
            if (r.isSucceeded()) {
                return;
            }
            KeyValue kv = null;
            for (GetResponse g : r.getGetResponses()) {
                for (KeyValue k : g.getKvs()) {
                    kv = k;
                }
            }
            if (kv == null) {
                continue; // deleted in between
            }
            Map<String, String> recorded = parseLines(kv.getValue().toString(StandardCharsets.UTF_8));
            List<String> differences = new ArrayList<>();
            ours.forEach((k, v) -> {
                String theirs = recorded.get(k);
                if (theirs != null && !theirs.equals(v)) {
                    differences.add(k + "=" + v + " here, " + theirs + " recorded");
                }
            });
            if (!differences.isEmpty()) {
                String at = recorded.get("first.at");
                throw new EkkoException("refusing to acquire a worker ID of idc=" + context.idc() + " at " + settings.where() + ": every"
                        + " process of it must share these settings, and this one differs from what the first process recorded (host "
                        + recorded.getOrDefault("first.host", "?") + " instance " + recorded.getOrDefault("first.instance", "?") + " at "
                        + (at == null ? "?" : java.time.Instant.ofEpochMilli(Long.parseLong(at))) + "): " + String.join("; ", differences)
                        + ". Start this process with the same settings as the rest of the fleet, or give it another "
                        + EtcdSettings.NAMESPACE_KEY + "; to change them for the whole fleet, stop every process of the namespace and"
                        + " delete the key " + prefix + "settings");
            }
            if (recorded.keySet().containsAll(ours.keySet())) {
                return;
            }
            Map<String, String> merged = new java.util.TreeMap<>(recorded);
            ours.forEach(merged::putIfAbsent);
            long seen = kv.getModRevision();
            TxnResponse u = call(what, () -> client.getKVClient().txn()
                    .If(new Cmp(settingsKey(), Cmp.Op.EQUAL, CmpTarget.modRevision(seen)))
                    .Then(Op.put(settingsKey(), bytes(lines(merged)), PutOption.DEFAULT))
                    .commit());
            if (u.isSucceeded()) {
                return;
            }
        }
        throw new EkkoException("gave up " + what + " at " + settings.where() + ": its fleet-settings key kept changing");
    }

    private static String lines(Map<String, String> m) {
        StringBuilder b = new StringBuilder();
        m.forEach((k, v) -> b.append(k).append('=').append(v).append('\n'));
        return b.toString();
    }

    private static Map<String, String> parseLines(String text) {
        Map<String, String> m = new java.util.TreeMap<>();
        for (String line : text.split("\n")) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                m.put(line.substring(0, eq), line.substring(eq + 1));
            }
        }
        return m;
    }

    /** What one read of the namespace's generation found: the generation, the cluster ID, and one more key's value or null. */
    private record Read(String generation, String cluster, KeyValue other) {
    }

    /** The namespace's generation, written once (a random token) if missing. */
    private String generation(String what) throws InterruptedException {
        return readGeneration(what, null).generation();
    }

    /**
     * Reads the namespace's generation (writing a random one if it is missing) and, in the same transaction and revision,
     * {@code other} (if not null), and the cluster ID from the reply: one round trip for what renew and release need.
     */
    private Read readGeneration(String what, ByteSequence other) throws InterruptedException {
        String fresh = HexFormat.of().formatHex(randomBytes());
        List<Op> then = new ArrayList<>(List.of(Op.put(generationKey(), bytes(fresh), PutOption.DEFAULT)));
        List<Op> otherwise = new ArrayList<>(List.of(Op.get(generationKey(), GetOption.DEFAULT)));
        if (other != null) {
            then.add(Op.get(other, GetOption.DEFAULT));
            otherwise.add(Op.get(other, GetOption.DEFAULT));
        }
        TxnResponse r = call(what, () -> client.getKVClient().txn()
                .If(new Cmp(generationKey(), Cmp.Op.EQUAL, CmpTarget.createRevision(0)))
                .Then(then.toArray(new Op[0]))
                .Else(otherwise.toArray(new Op[0]))
                .commit());
        String generation = fresh; // written now; or deleted in between, and a compare on it fails until the next read writes it
        KeyValue otherValue = null;
        for (GetResponse g : r.getGetResponses()) {
            for (KeyValue kv : g.getKvs()) {
                if (kv.getKey().equals(generationKey())) {
                    generation = kv.getValue().toString(StandardCharsets.UTF_8);
                } else {
                    otherValue = kv;
                }
            }
        }
        return new Read(generation, Long.toHexString(r.getHeader().getClusterId()), otherValue);
    }

    // ---------------------------------------------------------------- the watch

    /**
     * Watches the lease key from {@code fromRevision} (the revision after the claim, so a change between the claim and the
     * watch is seen too): deleted, or holding another token, tells the generator at once and marks the lease lost (its watch
     * and etcd lease are given up at the next acquire: this runs on jetcd's thread and takes no lock of the allocator). When
     * jetcd gives a watch up for good (it cannot resume past a compaction: "required revision has been compacted"), the key is
     * read again and watched anew from that read, without blocking jetcd's thread.
     */
    private void watch(WorkerLease lease, long fromRevision, Watching watching) {
        if (watching.retired.get() || watching.lost.get() || closed) {
            return;
        }
        ByteSequence key = leaseKey(lease.workerId());
        ByteSequence ours = leaseValue(lease.token());
        Watch.Watcher w;
        try {
            w = client.getWatchClient().watch(key, WatchOption.builder().withRevision(fromRevision).build(), Watch.listener(response -> {
                for (WatchEvent e : response.getEvents()) {
                    boolean deleted = e.getEventType() == WatchEvent.EventType.DELETE;
                    boolean replaced = e.getEventType() == WatchEvent.EventType.PUT && !e.getKeyValue().getValue().equals(ours);
                    if (deleted || replaced) {
                        reportLost(lease, watching, deleted ? "deleted (expired, revoked or removed by hand)" : "taken over by another"
                                + " holder");
                    }
                }
            }, error -> {
                LOG.log(Level.DEBUG, () -> "idc=" + context.idc() + ": watch of worker=" + lease.workerId() + " interrupted ("
                        + error.getMessage() + "); renewals still check the lease");
                if (String.valueOf(error.getMessage()).contains("compacted")) {
                    rewatch(lease, watching);
                }
            }));
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, () -> "idc=" + context.idc() + ": cannot watch worker=" + lease.workerId() + " (" + e.getMessage()
                    + "); renewals still check the lease");
            return;
        }
        Watch.Watcher before = watching.watcher.getAndSet(w);
        if (before != null) {
            before.close();
        }
        if (watching.retired.get()) {
            w.close(); // given up meanwhile
        }
    }

    /** Reads the lease key again and watches it from there; reports the loss if it is gone or another's. */
    private void rewatch(WorkerLease lease, Watching watching) {
        rewatch(lease, watching, 100);
    }

    /**
     * As {@link #rewatch(WorkerLease, Watching)}; a read that fails is tried again after {@code backoffMillis} (doubling, up to
     * the request timeout), off jetcd's thread, until the lease is given up, lost or the allocator closed: a watch is never
     * left unbuilt because one read failed.
     */
    private void rewatch(WorkerLease lease, Watching watching, long backoffMillis) {
        if (watching.retired.get() || watching.lost.get() || closed) {
            return;
        }
        ByteSequence ours = leaseValue(lease.token());
        client.getKVClient().get(leaseKey(lease.workerId())).whenComplete((got, error) -> {
            if (error != null) {
                LOG.log(Level.DEBUG, () -> "idc=" + context.idc() + ": cannot watch worker=" + lease.workerId() + " again ("
                        + error.getMessage() + "); trying again in " + backoffMillis + " ms, and renewals still check the lease");
                long next = Math.min(backoffMillis * 2, Math.max(backoffMillis, settings.timeout().toMillis()));
                CompletableFuture.delayedExecutor(backoffMillis, TimeUnit.MILLISECONDS).execute(() -> rewatch(lease, watching, next));
            } else if (got.getKvs().isEmpty() || !got.getKvs().get(0).getValue().equals(ours)) {
                reportLost(lease, watching, got.getKvs().isEmpty() ? "deleted (expired, revoked or removed by hand)"
                        : "taken over by another holder");
            } else {
                watch(lease, got.getHeader().getRevision() + 1, watching);
            }
        });
    }

    private void reportLost(WorkerLease lease, Watching watching, String how) {
        watching.lostReason = "a watch saw its key " + how;
        if (!watching.retired.get() && watching.lost.compareAndSet(false, true)) {
            context.leaseListener().leaseLost(lease, "lease of idc=" + context.idc() + " worker=" + lease.workerId() + " at "
                    + settings.where() + " is gone: a watch saw its key " + how);
        }
    }

    // ---------------------------------------------------------------- talking to etcd

    /** etcd said "requested lease not found": the lease expired (or was revoked). */
    private static final class LeaseNotFound extends Exception {
        private static final long serialVersionUID = 1L;

        LeaseNotFound() {
            super(null, null, false, false);
        }
    }

    private static boolean leaseNotFound(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (String.valueOf(t.getMessage()).contains("requested lease not found")) {
                return true;
            }
        }
        return false;
    }

    /** Runs one etcd call, bounded by the timeout; a failure becomes an {@link EkkoException} naming etcd, never a secret. */
    private <T> T call(String what, Supplier<CompletableFuture<T>> request) throws InterruptedException {
        try {
            return call(what, request, false);
        } catch (LeaseNotFound e) {
            throw new LeaseLostException("the etcd lease of idc=" + context.idc() + " at " + settings.where() + " expired while "
                    + what);
        }
    }

    private <T> T call(String what, Supplier<CompletableFuture<T>> request, boolean leaseCall) throws InterruptedException,
            LeaseNotFound {
        CompletableFuture<T> f = request.get();
        try {
            T reply = f.get(settings.timeout().toMillis() + 500, TimeUnit.MILLISECONDS);
            // Only key-value replies: a linearizable read or a transaction is answered at a revision at or past every write
            // that completed before it, on any member; a lease reply carries the answering member's revision, which on a
            // follower that is behind may be lower than one a transaction returned, and would look like data going back.
            if ((reply instanceof TxnResponse || reply instanceof GetResponse || reply instanceof io.etcd.jetcd.kv.PutResponse)
                    && ((io.etcd.jetcd.Response) reply).getHeader() != null) {
                observe(((io.etcd.jetcd.Response) reply).getHeader().getRevision());
            }
            return reply;
        } catch (ExecutionException e) {
            if (leaseNotFound(e.getCause())) {
                throw new LeaseNotFound();
            }
            throw failure(what, e.getCause());
        } catch (TimeoutException e) {
            f.cancel(true);
            throw failure(what, e);
        }
    }

    /**
     * Only this holder writes its worker ID's history while it holds it, never with a lower mark: one below its last report
     * (or none) means the data went back, however many writes lifted the revision past what it saw since. Notes it in
     * {@link #wentBack}.
     *
     * @return the history as read, or null
     */
    private EtcdHistory checkOwnMark(int w, Held h, Read got) {
        EtcdHistory before = got.other() == null ? null : EtcdHistory.decode(got.other().getValue().getBytes());
        Long expected = h.lastReported();
        if (wentBack == null && expected != null && (before == null || before.mark() < expected)) {
            wentBack = "the mark of worker=" + w + " went back from " + expected + " (this holder's last report) to "
                    + (before == null ? "none" : Long.toString(before.mark()));
        }
        return before;
    }

    /** Gives up a lease after the data went back: forgets it, starts a new generation, and says why. */
    private LeaseLostException givenUpAfterGoingBack(WorkerLease lease, String what) throws InterruptedException {
        String why = wentBack;
        forget(lease.token());
        startGenerationAfterGoingBack(what);
        return lost(lease, why + ": etcd's data was restored from an older snapshot or replaced, so this holder's lease and every"
                + " mark may be older than what was issued since; a new generation makes every mark a lower bound");
    }

    /**
     * Compares a claim's revision with what the processes of this host had seen of it under the same generation before the
     * claim was sent: below it means etcd's data went back before any live holder's renewal noticed (a snapshot restored
     * while they were live); notes it in {@link #wentBack}, so the claim's mark is a lower bound and a new generation starts.
     * Otherwise records it. (A wiped cluster has lost its generation with its data: a new one is written, and the revision
     * that starts again from 1 is compared with nothing.)
     */
    private void noteSeen(String generation, SeenClock.Seen before, long revision) {
        if (seen == null) {
            return;
        }
        if (SeenClock.wentBack(before, generation, revision)) {
            if (wentBack == null) {
                wentBack = "etcd's revision is at " + revision + ", below the " + before.value() + " a process of this host saw ("
                        + seen.file() + ")";
            }
        } else {
            seen.saw(generation, revision);
        }
    }

    /** Notes a reply's revision: one below the highest seen means etcd's data went back (a restore, or a wiped member). */
    private void observe(long revision) {
        if (revision <= 0) {
            return; // a reply that carries no revision
        }
        if (revision < highestRevision) {
            if (wentBack == null) {
                wentBack = "etcd's revision went back from " + highestRevision + " to " + revision;
            }
            highestRevision = revision; // the new baseline
        } else {
            highestRevision = revision;
        }
    }

    /**
     * After etcd's data went back: writes a new generation, so that no claim from now on trusts a mark written before (the
     * restored data may hold marks older than IDs issued since), and tells the generator of every other lease held that it
     * is lost. Logged once per occurrence.
     */
    private void startGenerationAfterGoingBack(String what) throws InterruptedException {
        String why = wentBack;
        wentBack = null;
        String next = HexFormat.of().formatHex(randomBytes());
        call(what + " (starting a new generation: " + why + ")", () -> client.getKVClient().put(generationKey(), bytes(next)));
        LOG.log(Level.WARNING, "idc=" + context.idc() + ": " + why + " at " + settings.where() + " (its data was restored from an older"
                + " snapshot or replaced): started a new generation, so every mark of the namespace is a lower bound from now on,"
                + " and gave up the leases held here");
        for (Held h : new ArrayList<>(held.values())) {
            Watching watching = h.watching();
            watching.lostReason = "given up: " + why;
            if (!watching.retired.get() && watching.lost.compareAndSet(false, true)) {
                context.leaseListener().leaseLost(watching.lease, "lease of idc=" + context.idc() + " worker=" + watching.lease.workerId()
                        + " at " + settings.where() + " is given up: " + why + " (etcd's data was restored from an older snapshot or"
                        + " replaced)");
            }
        }
    }

    private EkkoException failure(String what, Throwable e) {
        String detail = describe(e);
        String message;
        if (detail.contains("UNAUTHENTICATED") || detail.contains("authentication failed") || detail.contains("user name is empty")) {
            message = "etcd at " + settings.where() + " refused " + (settings.user() == null ? "a client without credentials"
                    : "user " + settings.user()) + " while " + what + ": " + detail + " (check " + EtcdSettings.USER_KEY + " and "
                    + EtcdSettings.PASSWORD_KEY + ")";
        } else if (detail.contains("PERMISSION_DENIED") || detail.contains("permission denied")) {
            message = "etcd at " + settings.where() + " denied a permission while " + what + ": " + detail + " (docs/etcd.md lists"
                    + " the role the user needs)";
        } else if (detail.contains("UNAVAILABLE") || detail.contains("DEADLINE_EXCEEDED") || e instanceof TimeoutException) {
            message = "cannot reach etcd at " + settings.where() + " within " + EtcdSettings.TIMEOUT_KEY + "="
                    + settings.timeout().toMillis() + "ms while " + what + ": " + detail;
        } else {
            message = "etcd at " + settings.where() + " failed while " + what + ": " + detail;
        }
        // No cause: a gRPC exception may carry metadata we do not control.
        return new EkkoException(settings.password() == null ? message : message.replace(settings.password(), "***"));
    }

    private LeaseLostException lost(WorkerLease lease, String why) {
        return new LeaseLostException("lease of idc=" + context.idc() + " worker=" + lease.workerId() + " at " + settings.where()
                + " is gone: " + why + "; a renewal never re-creates it");
    }

    /** The messages of an exception and its causes, once each, on one line. */
    private static String describe(Throwable e) {
        List<String> parts = new ArrayList<>();
        for (Throwable t = e; t != null && parts.size() < 4; t = t.getCause()) {
            String message = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage().strip().replaceAll("\\s+", " ");
            if (parts.stream().noneMatch(p -> p.contains(message))) {
                parts.add(message);
            }
        }
        return String.join(": ", parts);
    }

    /** Gives up a lost lease: closes its watch and revokes its etcd lease (it may already be gone). */
    private void forget(String token) {
        Held h = held.remove(token);
        if (h != null) {
            h.stopWatching();
            revokeQuietly(h.etcdLease());
        }
    }

    /** Gives up every lease whose watch saw its key go. */
    private void dropLost() {
        for (String token : new ArrayList<>(held.keySet())) {
            if (held.get(token).lost().get()) {
                forget(token);
            }
        }
    }

    private void revokeQuietly(long etcdLease) {
        try {
            client.getLeaseClient().revoke(etcdLease).get(settings.timeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException | RuntimeException e) {
            // it expires on its own
        }
    }

    private void checkOpen(String what) {
        if (closed) {
            throw new IllegalStateException("must not be closed: " + this + " (" + what + ")");
        }
    }

    private static byte[] randomBytes() {
        byte[] b = new byte[16];
        RANDOM.nextBytes(b);
        return b;
    }
}
