package dev.ekko.worker.redis;

import dev.ekko.EkkoException;
import dev.ekko.SegmentExhaustedException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.Segment;
import dev.ekko.spi.SegmentStore;
import dev.ekko.spi.SegmentStoreProvider;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@code redis} segment store: one hash per name, {@code <namespace>:segment:{<name>}} (the braces make the name the
 * Redis Cluster hash tag), holding the next number, the start, the maximum, the delta and remainder of the residue class
 * this server serves for the name (recorded by the first define, compared at every take: a process listing its stores in
 * another order is refused), and a version. A range is one Lua script: it moves {@code next} past the range and returns its start, atomically.
 *
 * <p>Durability is the server's: a range is durable before it is returned only if Redis writes it to disk before it answers
 * ({@code appendonly yes} with {@code appendfsync always}), or to enough replicas. A server that loses acknowledged writes
 * (the default {@code appendfsync everysec} loses up to a second on a crash; no persistence loses everything) hands out
 * the lost ranges again, so this store checks {@code CONFIG GET} at first use and refuses a server that says it is not
 * durable. Numbers stay below 2^53 (Lua's numbers are doubles): the largest is {@code min(max, 2^53 - 1 - delta)}.
 *
 * <p>Talks to Redis through the worker allocator's connections and error handling ({@link RedisWorkerAllocator#run}).
 */
final class RedisSegmentStore implements SegmentStore {

    /** The largest number a Lua script handles exactly. */
    static final long LUA_EXACT = (1L << 53) - 1;

    private final RedisWorkerAllocator client;
    private final int delta;
    private final int remainder;
    private volatile boolean durabilityChecked;

    RedisSegmentStore(RedisWorkerAllocator client, int delta, int remainder) {
        this.client = client;
        this.delta = delta;
        this.remainder = remainder;
    }

    private String key(String name) {
        String ns = client.namespace();
        return ns + (ns.endsWith(":") ? "" : ":") + "segment:{" + name + "}";
    }

    @Override
    public void define(String name, long start, long max) throws InterruptedException {
        checkDurable();
        List<String> r = client.run("defining segment name \"" + name + "\"", true, LuaScript.SEGMENT_DEFINE, List.of(key(name)),
                List.of(Integer.toString(delta), Integer.toString(remainder), Long.toString(start), Long.toString(max),
                        Long.toString(SegmentStore.firstOfClass(start, delta, remainder))));
        if (r.get(0).equals("differs")) {
            throw new IllegalArgumentException("segment name \"" + name + "\" exists at " + describe() + " with delta=" + r.get(1)
                    + ", remainder=" + r.get(4) + ", start=" + r.get(2) + ", max=" + r.get(3) + ", not delta=" + delta + ", remainder="
                    + remainder + ", start=" + start + ", max=" + max + " as given: every process must list the same stores in the same"
                    + " order, and a name's start and maximum do not change");
        }
    }

    @Override
    public Segment take(String name, long count, long floor) throws InterruptedException {
        if (count < 1) {
            throw new IllegalArgumentException("must be >= 1: count=" + count);
        }
        checkDurable();
        long at = SegmentStore.firstOfClass(Math.max(0, floor + 1), delta, remainder);
        // Not idempotent: a range whose reply was lost is lost (never handed out again), not taken twice.
        List<String> r = client.run("taking a range of segment name \"" + name + "\"", false, LuaScript.SEGMENT_TAKE, List.of(key(name)),
                List.of(Integer.toString(delta), Long.toString(Math.min(count, LUA_EXACT)), Long.toString(Math.min(at, LUA_EXACT + 1)),
                        Long.toString(LUA_EXACT - delta), Integer.toString(remainder)));
        switch (r.get(0)) {
            case "range":
                return new Segment(Long.parseLong(r.get(1)), Long.parseLong(r.get(2)), delta);
            case "unknown":
                throw new IllegalArgumentException("unknown segment name \"" + name + "\" at " + describe() + ": define it first"
                        + " (SegmentIds.define, or ./ekko segment define); a name whose key was deleted is refused, never started"
                        + " again, since its numbers may have been handed out");
            case "delta":
                throw new IllegalArgumentException("segment name \"" + name + "\" at " + describe() + " was defined with delta=" + r.get(1)
                        + " and remainder=" + r.get(2) + ", not " + delta + " and " + remainder + ": every process must list the same stores"
                        + " in the same order");
            case "exhausted":
                throw new SegmentExhaustedException(name, Long.parseLong(r.get(1)), describe());
            default:
                throw new EkkoException("Redis at " + describe() + " gave an unexpected reply while taking a range of segment name \""
                        + name + "\": " + r);
        }
    }

    /** Refuses a server whose configuration says acknowledged writes can be lost; a server that hides it is trusted. */
    private void checkDurable() throws InterruptedException {
        if (durabilityChecked) {
            return;
        }
        List<String> r;
        try {
            r = client.persistence();
        } catch (EkkoException e) {
            // CONFIG may be renamed or refused to this user: then the operator vouches for the server (docs/redis.md).
            durabilityChecked = true;
            return;
        }
        if (r.size() >= 3 && r.get(0).equals("config") && !(r.get(1).equals("yes") && r.get(2).equals("always"))) {
            throw new EkkoException("Redis at " + describe() + " may lose acknowledged writes (appendonly=" + r.get(1) + ", appendfsync="
                    + r.get(2) + "): a range lost in a crash would be handed out again. Segment mode needs appendonly yes and"
                    + " appendfsync always on this server (docs/redis.md)");
        }
        durabilityChecked = true;
    }

    @Override
    public String describe() {
        return client.where() + " (segment residue " + remainder + " of " + delta + ")";
    }

    @Override
    public void close() {
        client.close();
    }

    @Override
    public String toString() {
        return "RedisSegmentStore{" + describe() + "}";
    }

    /** The {@link java.util.ServiceLoader} entry for the {@code redis} segment store. */
    public static final class Provider implements SegmentStoreProvider {

        /** Creates the provider; {@link java.util.ServiceLoader} calls it. */
        public Provider() {
        }

        /** {@return {@code redis}} */
        @Override
        public String name() {
            return "redis";
        }

        /** {@return {@code dev.ekko:ekko-worker-redis}} */
        @Override
        public String artifact() {
            return "dev.ekko:ekko-worker-redis";
        }

        /** {@return the {@code ekko.redis.*} keys, as for the worker allocator} */
        @Override
        public Set<String> configKeys() {
            return RedisSettings.KEYS;
        }

        /**
         * Creates the store on the JVM's connections for these settings.
         *
         * @param settings the {@code ekko.redis.*} settings
         * @param delta stores per name
         * @param remainder this store's residue
         * @return the store
         */
        @Override
        public SegmentStore create(Map<String, String> settings, int delta, int remainder) {
            SegmentStore.checkResidue(delta, remainder);
            AllocatorContext context = AllocatorContext.builder().settings(settings).instance("segments").build();
            return new RedisSegmentStore(new RedisWorkerAllocator(context, RedisSettings.from(context)), delta, remainder);
        }
    }
}
