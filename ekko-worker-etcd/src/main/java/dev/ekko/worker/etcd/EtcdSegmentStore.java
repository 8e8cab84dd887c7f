package dev.ekko.worker.etcd;

import dev.ekko.EkkoException;
import dev.ekko.SegmentExhaustedException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.Segment;
import dev.ekko.spi.SegmentStore;
import dev.ekko.spi.SegmentStoreProvider;
import dev.ekko.spi.SharedClients;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.kv.TxnResponse;
import io.etcd.jetcd.op.Cmp;
import io.etcd.jetcd.op.CmpTarget;
import io.etcd.jetcd.op.Op;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The {@code etcd} segment store: one key per name, {@code <namespace>/segment/<name>}, whose value holds the next number,
 * the start, the maximum, and the delta and remainder of the residue class this cluster serves for the name (recorded by the
 * first define, compared at every take: a process listing its stores in another order is refused). A range is a transaction that puts the moved counter only if
 * the key's mod revision is still the one read. A take that loses the race reads the winner's value from the same
 * transaction and tries again at once, for up to {@link #LOST_RACE_PATIENCE_NANOS} (interruptible); etcd commits it
 * through Raft to a quorum's disks before it answers, so a range is durable before it is returned. Shares the JVM's jetcd
 * client of the worker allocator for the same settings. The largest number is {@code min(max, Long.MAX_VALUE - delta)}.
 */
final class EtcdSegmentStore implements SegmentStore {

    /**
     * How long a take keeps retrying transactions that lost races before it reports them. A lost race means another
     * process's take committed, so the fleet makes progress; one taker among n loses about (n-1)/n of the rounds, and
     * 16 takers racing without pause on this project's test machine waited 1.7 s at most over 2,400 takes
     * ({@code EtcdSegmentContentionIT}). Unreachability is bounded by {@code ekko.etcd.timeout}, per call, not by this.
     */
    static final long LOST_RACE_PATIENCE_NANOS = TimeUnit.SECONDS.toNanos(30);

    private final EtcdSettings settings;
    private final SharedClients.Handle<Client> client;
    private final int delta;
    private final int remainder;

    EtcdSegmentStore(EtcdSettings settings, SharedClients.Handle<Client> client, int delta, int remainder) {
        this.settings = settings;
        this.client = client;
        this.delta = delta;
        this.remainder = remainder;
    }

    private ByteSequence key(String name) {
        return ByteSequence.from(settings.namespace() + "/segment/" + name, StandardCharsets.UTF_8);
    }

    private ByteSequence encode(long next, long start, long max) {
        return ByteSequence.from("next=" + next + ";start=" + start + ";max=" + max + ";delta=" + delta + ";remainder=" + remainder,
                StandardCharsets.UTF_8);
    }

    private static Map<String, Long> decode(KeyValue kv) {
        Map<String, Long> m = new LinkedHashMap<>();
        for (String part : kv.getValue().toString(StandardCharsets.UTF_8).split(";")) {
            int eq = part.indexOf('=');
            if (eq > 0) {
                m.put(part.substring(0, eq), Long.parseLong(part.substring(eq + 1)));
            }
        }
        return m;
    }

    @Override
    public void define(String name, long start, long max) throws InterruptedException {
        ByteSequence key = key(name);
        TxnResponse r = call("defining segment name \"" + name + "\"", client.client().getKVClient().txn()
                .If(new Cmp(key, Cmp.Op.EQUAL, CmpTarget.createRevision(0)))
                .Then(Op.put(key, encode(SegmentStore.firstOfClass(start, delta, remainder), start, max), PutOption.DEFAULT))
                .Else(Op.get(key, GetOption.DEFAULT)).commit());
        if (r.isSucceeded()) {
            return;
        }
        Map<String, Long> v = decode(r.getGetResponses().get(0).getKvs().get(0));
        if (v.get("delta") != delta || !Long.valueOf(remainder).equals(v.get("remainder")) || v.get("start") != start
                || v.get("max") != max) {
            throw new IllegalArgumentException("segment name \"" + name + "\" exists at " + describe() + " with delta=" + v.get("delta")
                    + ", remainder=" + v.get("remainder") + ", start=" + v.get("start") + ", max=" + v.get("max") + ", not delta=" + delta
                    + ", remainder=" + remainder + ", start=" + start + ", max=" + max
                    + " as given: every process must list the same stores in the same order, and a name's start and maximum do not"
                    + " change");
        }
    }

    @Override
    public Segment take(String name, long count, long floor) throws InterruptedException {
        if (count < 1) {
            throw new IllegalArgumentException("must be >= 1: count=" + count);
        }
        ByteSequence key = key(name);
        long at = SegmentStore.firstOfClass(Math.max(0, floor + 1), delta, remainder);
        String what = "taking a range of segment name \"" + name + "\"";
        long began = System.nanoTime();
        KeyValue kv = known(name, call(what, client.client().getKVClient().get(key)).getKvs());
        for (int lost = 0; ; lost++) {
            Map<String, Long> v = decode(kv);
            long max = Math.min(v.get("max"), Long.MAX_VALUE - delta);
            long first = Math.max(v.get("next"), at);
            if (first > max) {
                throw new SegmentExhaustedException(name, max, describe());
            }
            long room = (max - first) / delta;
            long n = room >= count - 1 ? count : room + 1;
            TxnResponse r = call(what, client.client().getKVClient().txn()
                    .If(new Cmp(key, Cmp.Op.EQUAL, CmpTarget.modRevision(kv.getModRevision())))
                    .Then(Op.put(key, encode(first + n * delta, v.get("start"), v.get("max")), PutOption.DEFAULT))
                    .Else(Op.get(key, GetOption.DEFAULT)).commit());
            if (r.isSucceeded()) {
                return new Segment(first, n, delta);
            }
            kv = known(name, r.getGetResponses().get(0).getKvs()); // the winner's value: the next try needs no read of its own
            long spent = System.nanoTime() - began;
            if (spent >= LOST_RACE_PATIENCE_NANOS) {
                throw new EkkoException("gave up " + what + " at " + describe() + " after " + (lost + 1) + " transactions in "
                        + TimeUnit.NANOSECONDS.toMillis(spent) + " ms that lost races with other processes taking ranges of the same"
                        + " name; try again, or let ranges grow (ekko.segment.step.max) so that processes take less often");
            }
            if (Thread.interrupted()) {
                throw new InterruptedException("interrupted while " + what + " at " + describe() + ", after " + (lost + 1)
                        + " lost races");
            }
        }
    }

    /**
     * The value of a name's key as read, checked: the name is defined, and for this store's residue class.
     *
     * @throws IllegalArgumentException if the key is missing (never defined, or deleted) or holds another residue class
     */
    private KeyValue known(String name, List<KeyValue> kvs) {
        if (kvs.isEmpty()) {
            throw new IllegalArgumentException("unknown segment name \"" + name + "\" at " + describe() + ": define it first"
                    + " (SegmentIds.define, or ./ekko segment define); a name whose key was deleted is refused, never started again,"
                    + " since its numbers may have been handed out");
        }
        KeyValue kv = kvs.get(0);
        Map<String, Long> v = decode(kv);
        if (v.get("delta") != delta || !Long.valueOf(remainder).equals(v.get("remainder"))) {
            throw new IllegalArgumentException("segment name \"" + name + "\" at " + describe() + " was defined with delta="
                    + v.get("delta") + " and remainder=" + v.get("remainder") + ", not " + delta + " and " + remainder + ": every process"
                    + " must list the same stores in the same order");
        }
        return kv;
    }

    private <T> T call(String what, CompletableFuture<T> f) throws InterruptedException {
        try {
            return f.get(settings.timeout().toMillis() + 500, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            String m = String.valueOf(e.getCause() == null ? e.getMessage() : e.getCause().getMessage());
            throw new EkkoException("etcd at " + describe() + " failed while " + what + ": " + (settings.password() == null ? m
                    : m.replace(settings.password(), "***")));
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new EkkoException("cannot reach etcd at " + describe() + " within " + EtcdSettings.TIMEOUT_KEY + "="
                    + settings.timeout().toMillis() + "ms while " + what);
        }
    }

    @Override
    public String describe() {
        return settings.where() + " (segment residue " + remainder + " of " + delta + ")";
    }

    @Override
    public void close() {
        client.close();
    }

    @Override
    public String toString() {
        return "EtcdSegmentStore{" + describe() + "}";
    }

    /** The {@link java.util.ServiceLoader} entry for the {@code etcd} segment store. */
    public static final class Provider implements SegmentStoreProvider {

        /** Creates the provider; {@link java.util.ServiceLoader} calls it. */
        public Provider() {
        }

        /** {@return {@code etcd}} */
        @Override
        public String name() {
            return "etcd";
        }

        /** {@return {@code dev.ekko:ekko-worker-etcd}} */
        @Override
        public String artifact() {
            return "dev.ekko:ekko-worker-etcd";
        }

        /** {@return the {@code ekko.etcd.*} keys, as for the worker allocator} */
        @Override
        public Set<String> configKeys() {
            return EtcdSettings.KEYS;
        }

        /**
         * Creates the store on the JVM's client for these settings.
         *
         * @param settings the {@code ekko.etcd.*} settings
         * @param delta stores per name
         * @param remainder this store's residue
         * @return the store
         */
        @Override
        public SegmentStore create(Map<String, String> settings, int delta, int remainder) {
            SegmentStore.checkResidue(delta, remainder);
            EtcdSettings parsed = EtcdSettings.from(AllocatorContext.builder().settings(settings).build());
            return new EtcdSegmentStore(parsed, EtcdAllocatorProvider.client(parsed), delta, remainder);
        }
    }
}
