/**
 * The {@code redis} worker-ID allocator. Only {@link dev.ekko.worker.redis.RedisAllocatorProvider} is public,
 * for {@link java.util.ServiceLoader}; the package is not exported. See {@code docs/redis.md} for the keys,
 * the scripts, the settings and the failure behaviour.
 */
package dev.ekko.worker.redis;
