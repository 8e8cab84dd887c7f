package dev.ekko.worker.redis;

import dev.ekko.EkkoException;
import dev.ekko.spi.SharedClients;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import redis.clients.jedis.ClientSetInfoConfig;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.SslOptions;
import redis.clients.jedis.SslVerifyMode;

/**
 * The connections to one Redis server that every allocator of this JVM with the same connection settings shares (see
 * {@link SharedClients}): a process with one generator opens one connection, as before; one that holds many worker IDs (a
 * server, a load test) opens at most {@code ekko.redis.pool.size} (8 by default), not one per worker ID.
 *
 * <p>Connections are opened when needed and kept while they work. A caller waits at most the timeout for one of the
 * pool's permits. Acquires may hold at most half of them at once (one for a pool of 1), so that renewals, whose
 * lateness fences a holder, always find a connection however many processes start together.
 */
final class RedisConnections implements AutoCloseable {

    /** The most connections one shared pool opens by default ({@code ekko.redis.pool.size}). */
    static final int MAX_CONNECTIONS = RedisSettings.DEFAULT_POOL_SIZE;
    /** The most of them acquires may use at once by default; the rest are kept for renewals and releases. */
    static final int MAX_ACQUIRING = MAX_CONNECTIONS / 2;

    private static final SharedClients<Key, RedisConnections> SHARED = new SharedClients<>("Redis connection pool");

    /**
     * Everything that shapes a connection. Never shown: it holds the password.
     *
     * @param host the server's host
     * @param port its port
     * @param tls whether to use TLS
     * @param user the ACL user, or null
     * @param password the password, or null
     * @param database the database number
     * @param timeout connect and reply timeout
     * @param poolSize the most connections to open
     */
    record Key(String host, int port, boolean tls, String user, String password, int database, Duration timeout, int poolSize) {

        /** A key with the default pool size. */
        Key(String host, int port, boolean tls, String user, String password, int database, Duration timeout) {
            this(host, port, tls, user, password, database, timeout, MAX_CONNECTIONS);
        }

        @Override
        public String toString() {
            return "Key{" + host + ":" + port + "/" + database + "}";
        }
    }

    private final HostAndPort hostAndPort;
    private final JedisClientConfig clientConfig;
    private final long timeoutNanos;
    private final int maxConnections;
    private final int maxAcquiring;
    private final Semaphore permits;
    private final Semaphore acquiring;
    private final ConcurrentLinkedDeque<Jedis> idle = new ConcurrentLinkedDeque<>();
    private volatile boolean closed;

    private RedisConnections(Key key) {
        this.hostAndPort = new HostAndPort(key.host(), key.port());
        this.maxConnections = key.poolSize();
        this.maxAcquiring = Math.max(1, key.poolSize() / 2);
        this.permits = new Semaphore(maxConnections, true);
        this.acquiring = new Semaphore(maxAcquiring, true);
        this.timeoutNanos = key.timeout().toNanos();
        int timeoutMillis = (int) key.timeout().toMillis();
        DefaultJedisClientConfig.Builder config = DefaultJedisClientConfig.builder()
                .connectionTimeoutMillis(timeoutMillis)
                .socketTimeoutMillis(timeoutMillis)
                .database(key.database())
                .clientName(RedisWorkerAllocator.CLIENT_NAME)
                .clientSetInfoConfig(ClientSetInfoConfig.DISABLED)
                .resp2();
        if (key.user() != null) {
            config.user(key.user());
        }
        if (key.password() != null) {
            config.password(key.password());
        }
        if (key.tls()) {
            // FULL: the JVM's trust store must vouch for the certificate, and it must name the host we meant to reach.
            config.sslOptions(SslOptions.builder().sslVerifyMode(SslVerifyMode.FULL).build());
        }
        this.clientConfig = config.build();
    }

    /**
     * A handle on the pool for these settings, shared with every open allocator that has the same ones.
     *
     * @param key the connection settings
     * @return the handle; close it when the allocator closes
     */
    static SharedClients.Handle<RedisConnections> open(Key key) {
        return SHARED.open(Objects.requireNonNull(key, "key"), () -> new RedisConnections(key));
    }

    /** {@return how many distinct pools this JVM has open, for tests} */
    static int openPools() {
        return SHARED.size();
    }

    /** {@return connections open now, idle ones and ones in use, for tests} */
    int openConnections() {
        return idle.size() + (maxConnections - permits.availablePermits());
    }

    /**
     * Waits for a permit to use a connection. Pair with {@link #leave(boolean)} in a finally block.
     *
     * @param forAcquire whether the caller acquires (limited to {@link #MAX_ACQUIRING} at once)
     * @param what what the caller does, for the message
     * @param where the endpoint, for the message
     * @throws EkkoException if no permit came within the timeout
     * @throws InterruptedException if interrupted while waiting
     */
    void enter(boolean forAcquire, String what, String where) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutNanos;
        if (forAcquire && !acquiring.tryAcquire(timeoutNanos, TimeUnit.NANOSECONDS)) {
            throw busy(what, where, maxAcquiring + " connections acquires may use");
        }
        try {
            if (!permits.tryAcquire(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                throw busy(what, where, maxConnections + " connections");
            }
        } catch (InterruptedException | RuntimeException e) {
            if (forAcquire) {
                acquiring.release();
            }
            throw e;
        }
    }

    /**
     * Gives back the permit {@link #enter} took.
     *
     * @param forAcquire as given to {@code enter}
     */
    void leave(boolean forAcquire) {
        permits.release();
        if (forAcquire) {
            acquiring.release();
        }
    }

    private EkkoException busy(String what, String where, String limit) {
        return new EkkoException("no connection to Redis at " + where + " came free within " + RedisSettings.TIMEOUT_KEY + "="
                + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + "ms while " + what + ": the " + limit
                + " this JVM shares with every allocator of the same server are busy (a slow or hung server)");
    }

    /**
     * An idle connection, or null if there is none (then the caller opens one with {@link #connect()}). Call between
     * {@code enter} and {@code leave}.
     */
    Jedis poll() {
        return idle.pollFirst();
    }

    /** Opens a new connection: connects, authenticates and selects the database, each step within the timeout. */
    Jedis connect() {
        return new Jedis(hostAndPort, clientConfig);
    }

    /** Keeps a connection that works for the next caller, or closes it if the pool was closed meanwhile. */
    void offer(Jedis j) {
        if (closed || j.isBroken() || !j.isConnected()) {
            quietlyClose(j);
            return;
        }
        idle.offerFirst(j);
        if (closed && idle.remove(j)) {
            quietlyClose(j);
        }
    }

    /** Closes a connection that failed, and every idle one: after a server restart they are all dead. */
    void discard(Jedis j) {
        if (j != null) {
            quietlyClose(j);
        }
        for (Jedis other; (other = idle.pollFirst()) != null; ) {
            quietlyClose(other);
        }
    }

    @Override
    public void close() {
        closed = true;
        discard(null);
    }

    private static void quietlyClose(Jedis j) {
        try {
            j.close();
        } catch (RuntimeException e) {
            // the socket is gone either way
        }
    }

    @Override
    public String toString() {
        return "RedisConnections{" + hostAndPort + ", idle=" + idle.size() + "}";
    }
}
