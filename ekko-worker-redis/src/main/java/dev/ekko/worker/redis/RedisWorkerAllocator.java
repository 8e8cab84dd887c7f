package dev.ekko.worker.redis;

import dev.ekko.EkkoException;
import dev.ekko.LeaseLostException;
import dev.ekko.WorkerIdsExhaustedException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.Handover;
import dev.ekko.spi.SeenClock;
import dev.ekko.spi.SharedClients;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerLease;
import java.lang.System.Logger.Level;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import java.util.stream.Collectors;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.exceptions.JedisAccessControlException;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.exceptions.JedisException;

/**
 * {@code redis}: leases worker IDs of one IDC from a Redis server, for a fleet of processes on many hosts.
 *
 * <p>Every change is one Lua script, so it is atomic at the server (see {@link RedisKeys} for the keys and
 * the scripts in this package's resources for what each does):
 * <ul>
 *   <li>acquire: refuses a process whose fleet settings differ from the ones the namespace's IDC recorded at
 *       first use; then the configured worker ID, else the one this instance name held last, else a free one with
 *       a mark this server incarnation wrote that is safe to start on now, else one whose lease expired or was released
 *       (found in the lease index), else one never used; each step reads a bounded number of keys. The lease is a hash holding a random
 *       128-bit token, with a {@code PEXPIRE} of the lease TTL. The reply carries the server's {@code TIME} and the
 *       worker ID's history: its mark (a {@link Handover#mark} when this incarnation of the server, {@code run_id}
 *       and {@code master_replid}, wrote it, else a {@link Handover#atLeast} lower bound) and its last report.</li>
 *   <li>renew: only while the token matches, extend the expiry and store the report; the mark becomes the
 *       higher of the old mark and the new reserved-until. A lease that is gone or held by another token is
 *       lost, never re-created.</li>
 *   <li>release: only while the token matches, store the final report and delete the lease.</li>
 * </ul>
 * Every script does what can fail (TIME, INFO, reads and, on Redis 7, an ACL check of each write) before its first
 * write, since Redis does not roll back a script that fails half-way.
 *
 * <p>Timing: {@code grantedAtNanos} is read before the script is sent, so the core's fence deadline
 * ({@code grantedAtNanos + ttl - margin}) always falls before the server can expire the key. Connections come
 * from a pool that allocators with equal connection settings share ({@link RedisConnections}); every command is bounded by {@code ekko.redis.timeout}
 * (connect, then each reply). A renewal or release that fails on a broken connection is sent once more on a
 * new one (both are idempotent); an acquire is not (a lost reply could hide a grant), but it first checks an
 * existing connection with {@code PING}.
 *
 * <p>Thread-safe (every method is synchronized); the core calls it from one thread at a time anyway.
 * The password and the token never appear in a message or a log line.
 */
final class RedisWorkerAllocator implements WorkerAllocator {

    private static final System.Logger LOG = System.getLogger("dev.ekko.redis");
    private static final SecureRandom RANDOM = new SecureRandom();
    /** The connection's name in {@code CLIENT LIST}. */
    static final String CLIENT_NAME = "ekko";
    /**
     * How far a mark this server incarnation wrote may be ahead of the server's clock for its worker ID to count as
     * safe to start on now, and be preferred by a new instance name over one without history: a holder that died
     * leaves a mark about where its lease expired, which its clock (up to the tolerated skew from the server's) put
     * a little ahead.
     */
    static final long SAFE_MARK_SLACK_MILLIS = 1000;
    /** The commands an ACL user needs (on keys {@code ~<namespace>*}), as docs/redis.md shows them. */
    static final String ACL_COMMANDS = "+evalsha +eval +ping +select +client|setname +time +info +exists +hget +hmget +hgetall"
            + " +hset +hdel +pexpire +pttl +del +get +set +incr +zadd +zcount +zrangebyscore";

    private final AllocatorContext context;
    private final RedisSettings settings;
    private final RedisKeys keys;
    /** The connections this JVM's allocators with the same connection settings share. */
    private final SharedClients.Handle<RedisConnections> connections;
    private boolean closed;
    /** The highest epoch a renewal got here: every renewal increments it, so one no higher means the data went back. */
    private long highestEpoch;
    /** What this host's processes saw of the IDC's epoch (null without a state directory): see {@link SeenClock}. */
    private final SeenClock seen;
    /** Per lease token, the reserved-until of its last successful renewal: its worker ID's mark is never lower while held. */
    private final Map<String, Long> reported = new HashMap<>();

    RedisWorkerAllocator(AllocatorContext context, RedisSettings settings) {
        this.context = context;
        this.settings = settings;
        this.keys = new RedisKeys(settings.namespace(), context.idc());
        this.seen = context.setting("ekko.state.dir").map(dir -> SeenClock.in(java.nio.file.Path.of(dir), "redis " + keys.prefix()))
                .orElse(null);
        this.connections = RedisConnections.open(new RedisConnections.Key(settings.host(), settings.port(), settings.tls(),
                settings.user(), settings.password(), settings.database(), settings.timeout(), settings.poolSize()));
        LOG.log(Level.DEBUG, () -> "idc=" + context.idc() + ": worker IDs from " + settings + ", lease TTL "
                + context.leaseTtl().toMillis() + "ms");
    }

    // ---------------------------------------------------------------- the SPI

    @Override
    public synchronized WorkerLease acquire() throws InterruptedException {
        return acquire(Set.of());
    }

    /**
     * Claims a free worker ID other than those in {@code avoid}, in the order of {@link #acquire()}: the configured one,
     * the one this instance name held last, one with history safe to start on now, any free one. For a start that was
     * refused on a worker ID (its mark far ahead of this host's clock), so that the next attempt does not get the same
     * one back through the instance name. Written against the SPI addition proposed in HANDOFF-redis.md,
     * {@code WorkerAllocator.acquire(Set<Integer> avoid)}.
     *
     * @param avoid worker IDs not to take; may be empty
     * @return the lease
     * @throws WorkerIdsExhaustedException if every worker ID not avoided is held
     * @throws EkkoException if Redis cannot be reached or refuses, or this process's fleet settings differ from the ones the
     *     namespace recorded
     * @throws InterruptedException if interrupted before talking to Redis
     */
    @Override
    public synchronized WorkerLease acquire(Set<Integer> avoid) throws InterruptedException {
        checkInterrupted();
        String token = newToken();
        int n = context.workerIds();
        int start = ThreadLocalRandom.current().nextInt(n);
        List<String> args = new ArrayList<>(List.of(keys.prefix(), token, Long.toString(context.leaseTtl().toMillis()),
                Integer.toString(n), Integer.toString(context.preferredWorkerId()), Integer.toString(start), context.instance(),
                context.host(), Long.toString(context.pid()), Long.toString(SAFE_MARK_SLACK_MILLIS),
                avoid.stream().sorted().map(String::valueOf).collect(Collectors.joining(",")), newToken()));
        context.fleetSettings().forEach((k, v) -> {
            args.add(k);
            args.add(v);
        });
        String what = "acquiring a worker ID of idc=" + context.idc();
        // Read before the script is sent: a value another process of this host records meanwhile came after the script.
        SeenClock.Seen before = seen == null ? null : seen.last();
        long sentAt = context.clock().nanos();
        List<String> r = call(what, false, j -> LuaScript.ACQUIRE.run(j, List.of(keys.instances(), keys.settings(), keys.marks(),
                keys.marksIncarnation()), args));
        switch (r.get(0)) {
            case "granted":
                break;
            case "exhausted":
                throw exhausted(r);
            case "settings":
                throw settingsDiffer(r);
            case "denied":
                throw denied(what, r);
            default:
                throw unexpected(what, r);
        }
        expect(r, "granted", 12);
        int worker = Integer.parseInt(r.get(1));
        long serverMillis = Long.parseLong(r.get(2));
        Handover handover = r.get(3).isEmpty() ? Handover.unknown()
                : r.get(4).equals("same") ? Handover.mark(Long.parseLong(r.get(3))) : Handover.atLeast(Long.parseLong(r.get(3)));
        String generation = r.get(10);
        long epoch = Long.parseLong(r.get(11));
        if (SeenClock.wentBack(before, generation, epoch)) {
            // A process of this host saw the epoch higher under this generation: the data went back (a backup restored in
            // place, a failover to a replica that lagged) and a holder whose lease it erased may still issue until its own
            // renewal notices. Every mark is a lower bound: the core waits out the longest lease such a holder could hold.
            String why = "the IDC's epoch counter is at " + epoch + ", below the " + before.value() + " a process of this host saw ("
                    + seen.file() + ")";
            startGenerationAfterGoingBack(what, why);
            if (handover.kind() == Handover.Kind.MARK) {
                handover = Handover.atLeast(handover.markMillis());
            }
        } else if (seen != null) {
            seen.saw(generation, epoch);
        }
        ClockReport previous = r.get(5).isEmpty() ? null
                : new ClockReport(Long.parseLong(r.get(5)), Long.parseLong(r.get(6)), r.get(7), Long.parseLong(r.get(8)), r.get(9));
        Handover granted = handover;
        LOG.log(Level.DEBUG, () -> "idc=" + context.idc() + ": acquired worker=" + worker + " at " + settings.where() + ", " + granted
                + (previous == null ? "" : ", last report by host " + previous.host() + " pid " + previous.pid() + " instance "
                + previous.instance() + " at " + Instant.ofEpochMilli(previous.localTimeMillis())));
        return new WorkerLease(worker, token, context.leaseTtl(), sentAt, handover, serverMillis, previous);
    }

    @Override
    public synchronized WorkerLease renew(WorkerLease lease, ClockReport report) throws InterruptedException {
        checkInterrupted();
        int worker = lease.workerId();
        List<String> args = List.of(lease.token(), Long.toString(lease.ttl().toMillis()), Long.toString(report.localTimeMillis()),
                Long.toString(report.reservedUntilMillis()), report.host(), Long.toString(report.pid()), report.instance(),
                Integer.toString(worker));
        // Read before the request leaves: the server sets the new expiry no earlier than this.
        long sentAt = context.clock().nanos();
        String what = "renewing the lease of idc=" + context.idc() + " worker=" + worker;
        List<String> r = call(what, true, j -> LuaScript.RENEW.run(j, List.of(keys.lease(worker), keys.history(worker), keys.marks(),
                keys.marksIncarnation(), keys.generation(), keys.epoch(), keys.leases()), args));
        if (!r.get(0).equals("denied")) {
            expect(r, r.get(0), r.get(0).equals("taken") ? 8 : 5);
            String generation = r.get(r.size() - 1);
            long epoch = Long.parseLong(r.get(r.size() - 2));
            String markText = r.get(r.size() - 3);
            Long expected = reported.get(lease.token());
            // The worker ID's mark is written by its holder only while it holds it, and never lower: below this holder's last
            // report (or gone) means the data went back, however many increments lifted the epoch since.
            boolean markBack = expected != null && (markText.isEmpty() || Long.parseLong(markText) < expected);
            if (epoch <= highestEpoch || markBack) {
                String why = markBack ? "the mark of worker=" + worker + " went back from " + expected + " (this holder's last report)"
                        + " to " + (markText.isEmpty() ? "none" : markText) : "the IDC's epoch counter went back from " + highestEpoch
                        + " to " + epoch;
                highestEpoch = epoch;
                reported.remove(lease.token());
                startGenerationAfterGoingBack(what, why);
                throw new LeaseLostException("lease of idc=" + context.idc() + " worker=" + worker + " at " + settings.where()
                        + " is given up: " + why + ": the server's data was replaced by an older copy (a backup restored into the"
                        + " running server, a reload of an old snapshot, a full resync from a stale primary), so this lease and every"
                        + " mark may be older than what was issued since; a new generation makes every mark a lower bound");
            }
            highestEpoch = Math.max(highestEpoch, epoch);
            if (seen != null && !generation.isEmpty()) {
                seen.saw(generation, epoch);
            }
        }
        if (!r.get(0).equals("renewed")) {
            reported.remove(lease.token());
        }
        switch (r.get(0)) {
            case "denied":
                throw denied(what, r);
            case "renewed":
                reported.put(lease.token(), report.reservedUntilMillis());
                return lease.renewed(sentAt, Long.parseLong(r.get(1)));
            case "gone":
                throw new LeaseLostException("lease of idc=" + context.idc() + " worker=" + worker + " at " + settings.where()
                        + " is gone: it expired (no renewal within " + lease.ttl().toMillis() + " ms), was released, or the"
                        + " server lost its data; a renewal never re-creates it");
            case "taken":
                throw new LeaseLostException("lease of idc=" + context.idc() + " worker=" + worker + " at " + settings.where()
                        + " is now held by host " + r.get(2) + " pid " + r.get(3) + " instance " + r.get(4)
                        + ": ours expired (no renewal within " + lease.ttl().toMillis() + " ms) or the server lost its data, and the"
                        + " worker ID was acquired again");
            default:
                throw unexpected("renewing the lease of idc=" + context.idc() + " worker=" + worker, r);
        }
    }

    @Override
    public synchronized void release(WorkerLease lease, ClockReport finalReport) throws InterruptedException {
        checkInterrupted();
        int worker = lease.workerId();
        List<String> args = List.of(lease.token(), Long.toString(finalReport.localTimeMillis()),
                Long.toString(finalReport.reservedUntilMillis()), finalReport.host(), Long.toString(finalReport.pid()),
                finalReport.instance(), Integer.toString(worker));
        String what = "releasing idc=" + context.idc() + " worker=" + worker;
        reported.remove(lease.token());
        List<String> r = call(what, true, j -> LuaScript.RELEASE.run(j, List.of(keys.lease(worker), keys.history(worker), keys.marks(),
                keys.marksIncarnation(), keys.generation(), keys.leases()), args));
        if (r.get(0).equals("denied")) {
            throw denied(what, r);
        }
        if (!r.get(0).equals("released") && !r.get(0).equals("not-held")) {
            throw unexpected("releasing idc=" + context.idc() + " worker=" + worker, r);
        }
        LOG.log(Level.DEBUG, () -> "idc=" + context.idc() + ": " + (r.get(0).equals("released") ? "released worker=" + worker
                : "worker=" + worker + " was no longer ours to release (expired or taken over)") + " at " + settings.where());
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            connections.close();
        }
    }

    // ---------------------------------------------------------------- talking to Redis

    /**
     * Runs a script with this allocator's connections, errors and retry rules, for the segment store of the same server.
     *
     * @param what what is being done, for messages
     * @param idempotent whether the script may be sent again after a connection failure
     * @param script the script
     * @param scriptKeys its keys
     * @param args its arguments
     * @return the reply as strings
     * @throws EkkoException naming the endpoint (never a secret) if Redis cannot be reached or refuses
     * @throws InterruptedException if interrupted while waiting for a connection
     */
    synchronized List<String> run(String what, boolean idempotent, LuaScript script, List<String> scriptKeys, List<String> args)
            throws InterruptedException {
        return call(what, idempotent, j -> script.run(j, scriptKeys, args));
    }

    /**
     * {@return {@code ["config", appendonly, appendfsync]}: the server's persistence settings, for the segment store}
     *
     * @throws EkkoException if CONFIG is refused or renamed
     * @throws InterruptedException if interrupted while waiting for a connection
     */
    synchronized List<String> persistence() throws InterruptedException {
        return call("reading the persistence settings (CONFIG GET)", true, j -> {
            Map<String, String> aof = j.configGet("appendonly");
            Map<String, String> fsync = j.configGet("appendfsync");
            return List.of("config", String.valueOf(aof.get("appendonly")), String.valueOf(fsync.get("appendfsync")));
        });
    }

    /** {@return where the server and namespace are, for messages: no secrets} */
    String where() {
        return settings.where();
    }

    /** {@return the namespace keys start with} */
    String namespace() {
        return settings.namespace();
    }

    /**
     * Runs one script on the connection and returns its reply as strings, turning every client failure
     * into an {@link EkkoException} that names the endpoint and what was being done.
     */
    private List<String> call(String what, boolean idempotent, Function<Jedis, Object> script) throws InterruptedException {
        if (closed) {
            throw new IllegalStateException("must not be closed: " + this + " (" + what + ")");
        }
        RedisConnections pool = connections.client();
        // Acquires are the calls that are not idempotent: they may use only part of the pool, so renewals find a connection.
        boolean forAcquire = !idempotent;
        pool.enter(forAcquire, what, settings.endpoint());
        try {
            for (int attempt = 1; ; attempt++) {
                Jedis j = pool.poll();
                boolean fresh = j == null;
                try {
                    if (fresh) {
                        j = pool.connect();
                    } else if (!idempotent) {
                        // The connection may have died since its last use (a server restart): find out while
                        // nothing has been sent yet that could not be sent twice.
                        j.ping();
                    }
                } catch (JedisConnectionException e) {
                    pool.discard(j);
                    if (!fresh && attempt == 1) {
                        continue;
                    }
                    throw failure(what, e);
                } catch (JedisException e) {
                    pool.discard(j);
                    throw failure(what, e);
                }
                try {
                    List<String> reply = strings(what, script.apply(j));
                    pool.offer(j);
                    return reply;
                } catch (JedisConnectionException e) {
                    pool.discard(j);
                    // A timeout is a slow or hung server, not a stale connection: asking again would only double the wait.
                    if (!idempotent || attempt > 1 || timedOut(e)) {
                        throw failure(what, e);
                    }
                    LOG.log(Level.DEBUG, () -> what + " failed on the connection to " + settings.endpoint() + ", trying once more on a new one: "
                            + settings.masked(e.getMessage()));
                } catch (JedisException e) {
                    if (j.isBroken()) {
                        pool.discard(j);
                    } else {
                        pool.offer(j);
                    }
                    throw failure(what, e);
                } catch (RuntimeException e) {
                    pool.discard(j);
                    throw e;
                }
            }
        } finally {
            pool.leave(forAcquire);
        }
    }

    private EkkoException failure(String what, JedisException e) {
        String detail = settings.masked(describe(e));
        String message;
        if (e instanceof JedisAccessControlException) {
            message = "Redis at " + settings.endpoint() + " refused " + (settings.user() == null ? "the default user" : "user "
                    + settings.user()) + (settings.password() == null ? " without a password" : "") + " while " + what + ": " + detail
                    + " (check " + RedisSettings.USER_KEY + ", " + RedisSettings.PASSWORD_KEY + " or the credentials in "
                    + RedisSettings.URI_KEY + ")";
        } else if (e instanceof JedisConnectionException) {
            message = "cannot reach Redis at " + settings.endpoint() + " within " + RedisSettings.TIMEOUT_KEY + "="
                    + settings.timeout().toMillis() + "ms while " + what + ": " + detail;
        } else if (e instanceof JedisDataException) {
            message = "Redis at " + settings.endpoint() + " answered an error while " + what + ": " + detail
                    + (detail.startsWith("NOAUTH") ? " (set " + RedisSettings.PASSWORD_KEY + " or the password in " + RedisSettings.URI_KEY
                    + ")" : detail.contains("NOPERM") || detail.contains("no permissions") || detail.contains("can't run this command")
                    ? " (" + aclAdvice() + ")" : "");
        } else {
            message = "Redis client failed at " + settings.endpoint() + " while " + what + ": " + detail;
        }
        return new EkkoException(message, e);
    }

    private static boolean timedOut(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SocketTimeoutException) {
                return true;
            }
        }
        return false;
    }

    /**
     * The messages of an exception and its causes (and suppressed exceptions: Jedis keeps the socket's reason for a
     * failed connect there), once each.
     */
    private static String describe(Throwable e) {
        List<String> parts = new ArrayList<>();
        collect(e, parts, 0);
        return String.join(": ", parts);
    }

    private static void collect(Throwable t, List<String> parts, int depth) {
        if (t == null || depth > 4 || parts.size() >= 4) {
            return;
        }
        String message = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage().strip();
        String m = message.endsWith(".") ? message.substring(0, message.length() - 1) : message;
        if (parts.stream().noneMatch(p -> p.contains(m))) {
            parts.add(m);
        }
        for (Throwable s : t.getSuppressed()) {
            collect(s, parts, depth + 1);
        }
        collect(t.getCause(), parts, depth + 1);
    }

    private List<String> strings(String what, Object reply) {
        if (!(reply instanceof List<?> list) || list.isEmpty()) {
            throw new EkkoException("Redis at " + settings.endpoint() + " gave an unexpected reply while " + what + ": " + reply);
        }
        List<String> out = new ArrayList<>(list.size());
        for (Object o : list) {
            out.add(o instanceof byte[] b ? new String(b, StandardCharsets.UTF_8) : String.valueOf(o));
        }
        return out;
    }

    private void expect(List<String> r, String status, int size) {
        if (!r.get(0).equals(status) || r.size() != size) {
            throw unexpected("reading a reply \"" + status + "\" of " + size + " elements", r);
        }
    }

    private EkkoException unexpected(String what, List<String> r) {
        return new EkkoException("Redis at " + settings.endpoint() + " gave an unexpected reply while " + what + ": " + r.get(0)
                + " (" + r.size() + " elements); is another version of ekko-worker-redis using namespace " + settings.namespace() + "?");
    }

    /** A reply {@code {"exhausted", serverMillis, avoidedFree, sampled, distinct, holder1, count1, ...}}. */
    private WorkerIdsExhaustedException exhausted(List<String> r) {
        StringBuilder holders = new StringBuilder();
        for (int i = 5; i + 1 < r.size(); i += 2) {
            holders.append(holders.length() == 0 ? "" : ", ").append(r.get(i)).append(" (").append(r.get(i + 1)).append(")");
        }
        String avoidedList = r.get(2).replace(",", ", ");
        int avoidedFree = r.get(2).isEmpty() ? 0 : r.get(2).split(",").length;
        int sampled = Integer.parseInt(r.get(3));
        int distinct = Integer.parseInt(r.get(4));
        int shown = (r.size() - 5) / 2;
        String avoided = avoidedFree == 0 ? "" : " (" + avoidedFree + " more " + (avoidedFree == 1 ? "is" : "are") + " free but"
                + " refused by this process: " + avoidedList + ")";
        return new WorkerIdsExhaustedException("all " + (context.workerIds() - avoidedFree) + " worker IDs of idc=" + context.idc()
                + (avoidedFree == 0 ? "" : " this process may take") + " are held at " + settings.where() + avoided
                + (sampled == 0 ? "" : "; the " + sampled + " leases that expire first are held by " + distinct
                + (distinct == 1 ? " holder: " : " holders: ") + holders + (distinct > shown ? ", and " + (distinct - shown) + " more" : ""))
                + ". Stop a process, wait for the leases of dead ones to expire (" + context.leaseTtl().toMillis() + " ms), or use another"
                + " idc (ekko.idc) or fewer product bits (ekko.product.bits)");
    }

    /** A reply {@code {"settings", serverMillis, firstHost, firstInstance, firstAt, key, ours, recorded, ...}}. */
    private EkkoException settingsDiffer(List<String> r) {
        StringBuilder differences = new StringBuilder();
        for (int i = 5; i + 2 < r.size(); i += 3) {
            differences.append(differences.length() == 0 ? "" : "; ").append(r.get(i)).append('=').append(r.get(i + 1))
                    .append(" here, ").append(r.get(i + 2)).append(" recorded");
        }
        String at = r.get(4).isEmpty() ? "?" : Instant.ofEpochMilli(Long.parseLong(r.get(4))).toString();
        return new EkkoException("refusing to acquire a worker ID of idc=" + context.idc() + " at " + settings.where() + ": every"
                + " process of it must share these settings, and this one differs from what the first process recorded (host "
                + r.get(2) + " instance " + r.get(3) + " at " + at + "): " + differences + ". Start this process with the same settings as"
                + " the rest of the fleet, or give it another " + RedisSettings.NAMESPACE_KEY + "; to change them for the whole fleet,"
                + " stop every process of the namespace and delete the key " + keys.settings());
    }

    /** A reply {@code {"denied", command, key}}: the script checked the ACL before its first write and wrote nothing. */
    private EkkoException denied(String what, List<String> r) {
        return new EkkoException("Redis at " + settings.endpoint() + " refused " + who() + " the command " + r.get(1)
                + (r.size() > 2 && !r.get(2).isEmpty() ? " on key " + r.get(2) : "") + " while " + what + "; nothing was written ("
                + aclAdvice() + ")");
    }

    private String who() {
        return settings.user() == null ? "the default user" : "user " + settings.user();
    }

    private String aclAdvice() {
        return "the ACL user needs " + ACL_COMMANDS + " on keys ~" + settings.namespace() + "*: see Permissions in docs/redis.md";
    }

    /**
     * After the data went back: writes a new generation, so that from now on every mark written before is from another
     * incarnation (a lower bound), whichever process claims it. Logged; a failure to write it is logged too (the renewal
     * that found it fences anyway, and the next one to see it writes it).
     */
    private void startGenerationAfterGoingBack(String what, String why) throws InterruptedException {
        String next = newToken();
        try {
            call(what + " (starting a new generation: " + why + ")", true, j -> List.of(j.set(keys.generation(), next)));
            LOG.log(Level.WARNING, "idc=" + context.idc() + ": " + why + " at " + settings.where() + " (its data was replaced by an"
                    + " older copy): started a new generation, so every mark of the namespace's IDC is a lower bound from now on");
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "idc=" + context.idc() + ": " + why + " at " + settings.where() + ", and starting a new generation"
                    + " failed: " + e.getMessage());
        }
    }

    private static void checkInterrupted() throws InterruptedException {
        if (Thread.interrupted()) {
            throw new InterruptedException("interrupted before talking to Redis");
        }
    }

    private static String newToken() {
        byte[] b = new byte[16];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    @Override
    public String toString() {
        return "RedisWorkerAllocator{idc=" + context.idc() + ", " + settings + "}";
    }
}
