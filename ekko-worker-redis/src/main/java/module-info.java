/**
 * Ekko's {@code redis} worker-ID allocator: worker IDs leased from a Redis server with Lua scripts.
 * Nothing is exported to users; the core finds the allocator through {@code provides}.
 */
module dev.ekko.worker.redis {
    requires dev.ekko.core;
    // jedis 8 is an automatic module (Automatic-Module-Name in its manifest): it reads every module but cannot
    // make the resolver add the explicit modules it needs. It logs through slf4j-api (module org.slf4j), so
    // this module requires it on jedis's behalf; without it, the module path fails with
    // ClassNotFoundException: org.slf4j.LoggerFactory unless the user adds --add-modules org.slf4j.
    requires redis.clients.jedis;
    requires org.slf4j;
    requires dev.ekko.slf4j;

    provides dev.ekko.spi.WorkerAllocatorProvider with dev.ekko.worker.redis.RedisAllocatorProvider;
    provides dev.ekko.spi.SegmentStoreProvider with dev.ekko.worker.redis.RedisSegmentStore.Provider;
}
