package dev.ekko.spring.boot;

import dev.ekko.IdGenerator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.beans.factory.config.BeanDefinition;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.beans.factory.support.BeanDefinitionRegistry;
import org.springframework.beans.factory.support.BeanDefinitionRegistryPostProcessor;
import org.springframework.beans.factory.support.RootBeanDefinition;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.core.env.Environment;

/**
 * Registers a bean per {@code ekko.spring.products.<name>=<product line>}: {@code forProduct(line)} of the application's
 * {@link IdGenerator} bean, named {@code <name>IdGenerator} in camel case. It runs after the configuration classes were read,
 * so it sees the generator bean whether the auto-configuration or the application defined it. The views are not default
 * candidates (only injected by name), so that they never make a plain {@code IdGenerator} injection point ambiguous, and
 * they depend on the generator bean, so they go first at shutdown (their {@code close()} closes nothing anyway).
 */
final class ProductBeans implements BeanDefinitionRegistryPostProcessor {

    static final String PREFIX = EkkoSettings.SPRING_PREFIX + "products";

    private final Environment environment;

    ProductBeans(Environment environment) {
        this.environment = environment;
    }

    @Override
    public void postProcessBeanDefinitionRegistry(BeanDefinitionRegistry registry) {
        Map<String, String> products = new TreeMap<>(Binder.get(environment)
                .bind(PREFIX, Bindable.mapOf(String.class, String.class)).orElse(Map.of()));
        if (products.isEmpty()) {
            return;
        }
        String generator = generatorBean(registry, products.keySet().iterator().next());
        products.forEach((name, text) -> {
            String key = PREFIX + "." + name;
            int product = productLine(key, text);
            String beanName = beanName(key, name);
            if (registry.containsBeanDefinition(beanName)) {
                throw new IllegalStateException("must not name a bean that exists already (" + beanName + "): " + key + "=" + text);
            }
            RootBeanDefinition view = new RootBeanDefinition(IdGenerator.class);
            view.setInstanceSupplier(() -> forProduct(registry, generator, key, product));
            view.setDependsOn(generator);
            view.setDefaultCandidate(false);
            view.setDestroyMethodName(null);
            view.setRole(BeanDefinition.ROLE_APPLICATION);
            view.setDescription("Ekko product line " + product + " (" + key + ")");
            registry.registerBeanDefinition(beanName, view);
        });
    }

    @Override
    public void postProcessBeanFactory(ConfigurableListableBeanFactory beanFactory) {
    }

    private static IdGenerator forProduct(BeanDefinitionRegistry registry, String generator, String key, int product) {
        IdGenerator owner = ((ListableBeanFactory) registry).getBean(generator, IdGenerator.class);
        try {
            return owner.forProduct(product);
        } catch (IllegalArgumentException e) {
            // The core names its parameter "product"; the user wrote this key.
            throw new IllegalArgumentException(e.getMessage().replace(": product=" + product, ": " + key + "=" + product), e);
        }
    }

    /** {@return the one IdGenerator bean the views are made from, or the primary one of several} */
    private static String generatorBean(BeanDefinitionRegistry registry, String firstProduct) {
        String[] names = ((ListableBeanFactory) registry).getBeanNamesForType(IdGenerator.class, true, false);
        List<String> primary = new ArrayList<>();
        for (String name : names) {
            if (registry.containsBeanDefinition(name) && registry.getBeanDefinition(name).isPrimary()) {
                primary.add(name);
            }
        }
        if (names.length == 1) {
            return names[0];
        }
        if (primary.size() == 1) {
            return primary.get(0);
        }
        throw new IllegalStateException((names.length == 0
                ? "needs an IdGenerator bean (ekko.spring.enabled=false turned Ekko's off, and the application has none)"
                : "needs one IdGenerator bean, or one marked @Primary, to make the product beans of; found "
                        + Arrays.toString(names)) + ": " + PREFIX + "." + firstProduct);
    }

    private static int productLine(String key, String text) {
        try {
            int product = Integer.parseInt(text.trim());
            if (product >= 0) {
                return product;
            }
        } catch (NumberFormatException e) {
            // falls through to the message
        }
        throw new IllegalArgumentException("must be a product line, an integer >= 0: " + key + "=" + text);
    }

    /** {@return {@code order-events} as {@code orderEventsIdGenerator}} */
    static String beanName(String key, String name) {
        if (!name.matches("[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*")) {
            throw new IllegalArgumentException("must be a name of letters and digits, words joined by '-', starting with a letter"
                    + " (the bean is <name>IdGenerator): " + key);
        }
        StringBuilder bean = new StringBuilder(name.length() + 11);
        boolean upper = false;
        for (char c : name.toCharArray()) {
            if (c == '-') {
                upper = true;
            } else {
                bean.append(upper ? Character.toUpperCase(c) : c);
                upper = false;
            }
        }
        return bean.append("IdGenerator").toString();
    }
}
