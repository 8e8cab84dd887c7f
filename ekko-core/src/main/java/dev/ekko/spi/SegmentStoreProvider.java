package dev.ekko.spi;

import java.util.Map;
import java.util.Set;

/**
 * A named factory of {@link SegmentStore}s, found with {@link java.util.ServiceLoader} and chosen with
 * {@code ekko.segment.store}; each back-end module that has a worker allocator has a store too.
 */
public interface SegmentStoreProvider {

    /** {@return the name users configure, e.g. {@code "mysql"}; lower case} */
    String name();

    /** {@return the Maven coordinates that bring this provider, for error messages} */
    String artifact();

    /** {@return the configuration keys this store reads (e.g. {@code ekko.mysql.url}), so typos are reported} */
    Set<String> configKeys();

    /**
     * Creates a store.
     *
     * @param settings the store's settings (its {@code ekko.<backend>.*} keys)
     * @param delta how many stores share each name: this store hands out numbers {@code n % delta == remainder}
     * @param remainder this store's residue, {@code 0 <= remainder < delta}
     * @return a new store, connected or connecting on first use; it must fail fast with a clear message on bad settings
     * @throws IllegalArgumentException naming the key and value of a bad setting
     */
    SegmentStore create(Map<String, String> settings, int delta, int remainder);
}
