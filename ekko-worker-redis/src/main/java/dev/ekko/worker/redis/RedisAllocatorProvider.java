package dev.ekko.worker.redis;

import dev.ekko.slf4j.SystemLoggerProvider;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import java.util.Set;

/**
 * The {@link java.util.ServiceLoader} entry for the {@code redis} worker-ID allocator: select it with
 * {@code ekko.worker.allocator=redis} ({@code EKKO_WORKER_ALLOCATOR=redis}) and point it at a server with
 * {@code ekko.redis.uri} ({@code EKKO_REDIS_URI}).
 *
 * <p>Keys, all optional but the URI:
 * <ul>
 *   <li>{@code ekko.redis.uri}: {@code redis://[[user][:password]@]host[:port][/database]}, or {@code rediss://} for TLS
 *       (certificates checked against the JVM's trust store, host name verified);</li>
 *   <li>{@code ekko.redis.user}, {@code ekko.redis.password}: ACL credentials, instead of those in the URI;</li>
 *   <li>{@code ekko.redis.database}: the database number, instead of the URI's path (default 0);</li>
 *   <li>{@code ekko.redis.namespace}: the start of every key, so fleets can share a server (default {@code ekko});</li>
 *   <li>{@code ekko.redis.timeout}: connect and reply timeout of each command (default {@code 2s}, 100ms..1m).</li>
 * </ul>
 * The lease TTL and the report interval are the core's ({@code ekko.worker.lease.ttl},
 * {@code ekko.worker.report.interval}).
 */
public final class RedisAllocatorProvider implements WorkerAllocatorProvider {

    /** Creates the provider; {@link java.util.ServiceLoader} calls it. */
    public RedisAllocatorProvider() {
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

    /** {@return the {@code ekko.redis.*} keys above} */
    @Override
    public Set<String> configKeys() {
        return RedisSettings.KEYS;
    }

    /**
     * Parses and checks the settings; connects on the first call of the allocator, not here.
     *
     * @param context the IDC, layout limits, lease TTL and {@code ekko.redis.*} settings
     * @return a new allocator
     * @throws IllegalArgumentException naming the key and its value (password masked) if a setting is missing or malformed
     */
    @Override
    public WorkerAllocator create(AllocatorContext context) {
        SystemLoggerProvider.installIfNoneFound(); // before jedis logs for the first time
        return new RedisWorkerAllocator(context, RedisSettings.from(context));
    }

    @Override
    public String toString() {
        return "RedisAllocatorProvider{redis}";
    }
}
