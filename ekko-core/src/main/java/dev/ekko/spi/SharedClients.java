package dev.ekko.spi;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Clients (connection pools, gRPC channels) shared by every allocator of one JVM that talks to the same coordinator with the
 * same settings, counted by reference: the first {@link #open} creates the client, the last {@link Handle#close()} closes it.
 *
 * <p>A process with several generators (one per IDC or product line, or a server holding many) then keeps one connection
 * pool per coordinator instead of one per generator, and a load test can run thousands of simulated holders in one JVM the
 * way a fleet of processes would use the coordinator. The key must hold every setting that shapes the client (endpoint,
 * credentials, TLS, timeouts, pool size), so that allocators configured differently never share one; it is compared with
 * {@code equals} and never shown.
 *
 * <p>Thread-safe. {@code open} runs the opener while holding this registry's lock, so an opener must not block for long
 * (create the client, connect lazily); {@code close} closes the client outside the lock.
 *
 * @param <K> the key: the settings that shape a client
 * @param <C> the client
 */
public final class SharedClients<K, C extends AutoCloseable> {

    private static final System.Logger LOG = System.getLogger(SharedClients.class.getName());

    private final String what;
    private final Map<K, Entry<C>> open = new HashMap<>();

    /**
     * Creates an empty registry.
     *
     * @param what what the clients are, for log lines and messages (e.g. {@code "Redis connection pool"})
     */
    public SharedClients(String what) {
        this.what = Objects.requireNonNull(what, "what");
    }

    /**
     * Returns a handle on the client for {@code key}, creating the client if no open handle shares it.
     *
     * @param key the settings that shape the client
     * @param opener creates the client; called at most once per key while handles on it are open
     * @return a handle; close it when the allocator closes
     * @throws NullPointerException if {@code key}, {@code opener} or the client it returns is null
     * @throws RuntimeException whatever {@code opener} throws (then nothing is registered)
     */
    public synchronized Handle<C> open(K key, Supplier<? extends C> opener) {
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(opener, "opener");
        Entry<C> e = open.get(key);
        if (e == null) {
            e = new Entry<>(Objects.requireNonNull(opener.get(), "the opener returned null"));
            open.put(key, e);
        }
        e.references++;
        return new Handle<>(this, key, e);
    }

    /** {@return how many distinct clients are open (for tests and diagnostics)} */
    public synchronized int size() {
        return open.size();
    }

    private void release(Object key, Entry<C> e) {
        synchronized (this) {
            if (--e.references > 0) {
                return;
            }
            open.remove(key, e);
        }
        try {
            e.client.close();
        } catch (Exception ex) {
            LOG.log(System.Logger.Level.DEBUG, () -> "closing a " + what + " failed: " + ex);
        }
    }

    private static final class Entry<C> {
        final C client;
        /** Guarded by the registry. */
        int references;

        Entry(C client) {
            this.client = client;
        }
    }

    /**
     * One allocator's reference to a shared client.
     *
     * @param <C> the client
     */
    public static final class Handle<C extends AutoCloseable> implements AutoCloseable {
        private final SharedClients<?, C> owner;
        private final Object key;
        private final Entry<C> entry;
        private boolean closed;

        private Handle(SharedClients<?, C> owner, Object key, Entry<C> entry) {
            this.owner = owner;
            this.key = key;
            this.entry = entry;
        }

        /**
         * {@return the shared client}
         *
         * @throws IllegalStateException if this handle was closed
         */
        public C client() {
            synchronized (this) {
                if (closed) {
                    throw new IllegalStateException("must not be closed: this handle on a " + owner.what);
                }
            }
            return entry.client;
        }

        /** Gives this reference up; the last one closes the client. Closing twice does nothing. */
        @Override
        public void close() {
            synchronized (this) {
                if (closed) {
                    return;
                }
                closed = true;
            }
            @SuppressWarnings("unchecked")
            SharedClients<Object, C> o = (SharedClients<Object, C>) owner;
            o.release(key, entry);
        }

        @Override
        public String toString() {
            return "SharedClients.Handle{" + owner.what + "}";
        }
    }
}
