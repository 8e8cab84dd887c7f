package dev.ekko.spi;

import java.util.Set;

/**
 * A named factory of {@link WorkerAllocator}s, found with {@link java.util.ServiceLoader} and chosen
 * with {@code ekko.worker.allocator}. Implementations need a public no-argument constructor and a
 * {@code provides} clause (or {@code META-INF/services} entry).
 */
public interface WorkerAllocatorProvider {

    /** {@return the name users configure, e.g. {@code "redis"}; lower case} */
    String name();

    /** {@return the Maven coordinates that bring this provider, for error messages} */
    String artifact();

    /** {@return the configuration keys this allocator reads (e.g. {@code ekko.redis.uri}), so typos are reported} */
    Set<String> configKeys();

    /**
     * Creates an allocator for one generator.
     *
     * @param context the IDC, layout limits, timing and configuration
     * @return a new allocator, not yet connected or connected; it must fail fast with a clear message on bad configuration
     * @throws IllegalArgumentException naming the key and value of a bad setting
     */
    WorkerAllocator create(AllocatorContext context);
}
