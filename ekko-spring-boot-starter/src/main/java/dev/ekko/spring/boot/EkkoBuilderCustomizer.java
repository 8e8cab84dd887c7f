package dev.ekko.spring.boot;

import dev.ekko.Ekko;

/**
 * Changes the builder of the auto-configured {@link dev.ekko.IdGenerator} after the {@code ekko.*} properties were applied
 * and before it is built: for what a property cannot say, such as an allocator provider built on the application's own
 * {@code DataSource} ({@link Ekko.Builder#allocatorProvider(dev.ekko.spi.WorkerAllocatorProvider)}) or a clock. Every bean of
 * this type is applied, in {@link org.springframework.core.annotation.Order} order.
 */
@FunctionalInterface
public interface EkkoBuilderCustomizer {

    /**
     * Changes the builder.
     *
     * @param builder the builder, with the {@code ekko.*} properties already set
     */
    void customize(Ekko.Builder builder);
}
