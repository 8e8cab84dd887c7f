package dev.ekko.spring.boot;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.support.BeanDefinitionRegistryPostProcessor;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.context.annotation.Bean;
import org.springframework.core.env.Environment;

/**
 * Builds the application's {@link IdGenerator} from the {@code ekko.*} properties, unless the application defines its own
 * bean of that type, and closes it with the context (which releases its worker ID). Every {@code ekko.*} property but the
 * starter's own {@code ekko.spring.*} goes to {@link Ekko.Builder#setting(String, String)} as it is: the keys, defaults and
 * messages are the core's, and a bad value fails the start with the core's message, which names the key. Worker-ID back ends
 * are the {@code ekko-worker-*} artifacts on the class path.
 *
 * <p>{@code ekko.spring.products.<name>=<product line>} adds a bean named {@code <name>IdGenerator} ({@code order-events}
 * gives {@code orderEventsIdGenerator}): {@link IdGenerator#forProduct(int)} of the generator. Those beans are injected only
 * where asked for by name ({@code @Qualifier("ordersIdGenerator")}); a plain {@code IdGenerator} injection point still gets
 * the generator itself. {@code ekko.spring.enabled=false} turns the whole auto-configuration off.
 */
@AutoConfiguration
@ConditionalOnProperty(prefix = "ekko.spring", name = "enabled", havingValue = "true", matchIfMissing = true)
public final class EkkoAutoConfiguration {

    /** Called by Spring. */
    public EkkoAutoConfiguration() {
    }

    /**
     * Builds and starts the generator: acquires its worker ID and waits until it may issue.
     *
     * @param environment where the {@code ekko.*} properties come from
     * @param customizers applied after the properties, in order
     * @return the running generator, closed when the context closes
     * @throws IllegalArgumentException for a bad or unknown {@code ekko.*} key or value (the core's message)
     * @throws IllegalStateException for settings that contradict each other (the core's message)
     * @throws dev.ekko.EkkoException when the worker ID, the state file or the clock does not allow a start
     */
    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    public IdGenerator ekkoIdGenerator(Environment environment, ObjectProvider<EkkoBuilderCustomizer> customizers) {
        Ekko.Builder builder = Ekko.newBuilder();
        EkkoSettings.from(environment).forEach(builder::setting);
        customizers.orderedStream().forEach(c -> c.customize(builder));
        return builder.build();
    }

    /**
     * Registers one bean per {@code ekko.spring.products.<name>} entry. Static, as Spring wants of a registry post-processor:
     * it runs before the other beans of this class exist.
     *
     * @param environment where the {@code ekko.spring.products} entries come from
     * @return the registrar of the product beans
     */
    @Bean
    public static BeanDefinitionRegistryPostProcessor ekkoProductBeans(Environment environment) {
        return new ProductBeans(environment);
    }
}
