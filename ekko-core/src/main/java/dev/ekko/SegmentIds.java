package dev.ekko;

import dev.ekko.internal.ConfigKeys;
import dev.ekko.internal.SegmentGenerators;
import dev.ekko.internal.Values;
import dev.ekko.spi.SegmentStore;
import dev.ekko.spi.SegmentStoreProvider;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Segment mode: dense, roughly increasing numbers per name ("biz tag"), with no clock in them, counted through ranges leased
 * from one or more stores (MySQL / MariaDB, Redis, etcd), for order numbers a person reads or keys of a table that was an
 * {@code AUTO_INCREMENT}. Build one with {@link Ekko#newSegmentBuilder()}; close it when done.
 *
 * <pre>{@code
 * try (SegmentIds segments = Ekko.newSegmentBuilder().store("mysql", Map.of("ekko.mysql.url", url)).build()) {
 *     segments.define("order", 1, Long.MAX_VALUE);   // once per name; a name that exists keeps its counter
 *     SegmentGenerator orders = segments.generator("order");
 *     long n = orders.next();
 * }
 * }</pre>
 *
 * <p>Guarantees: no number repeats, across threads, processes and hosts, for as long as the stores keep their counters (a
 * range is durable at its store before any number of it is handed out). A crash loses the unused part of the ranges a
 * generator held: at most two ranges per name, so at most {@code 2 * ekko.segment.step.max} numbers per process. Several
 * stores for one name each hand out only their residue class ({@code n % stores == index}), so the generator keeps serving
 * while at least one answers; every process must list the same stores in the same order (each store records its delta and
 * remainder per name and refuses a process that differs).
 */
public final class SegmentIds implements AutoCloseable {

    private final SegmentGenerators generators;

    private SegmentIds(SegmentGenerators generators) {
        this.generators = generators;
    }

    /** {@return a new builder; {@link Ekko#newSegmentBuilder()} is the same} */
    static Builder builder() {
        return new Builder();
    }

    /**
     * Creates {@code name} at every store if it is missing there (a name that exists keeps its counter; its start and
     * maximum must match).
     *
     * @param name 1 to 128 printable ASCII characters without blanks
     * @param start the smallest number to hand out, {@code >= 0}
     * @param max the largest, {@code >= start}
     * @throws IllegalArgumentException if a value is not allowed, or the name exists with other values
     * @throws EkkoException if a store cannot be reached
     */
    public void define(String name, long start, long max) {
        generators.define(name, start, max);
    }

    /**
     * The generator of {@code name}, created at the first call (which fetches its first range, so an unknown name or an
     * unreachable store is reported here).
     *
     * @param name a name defined at the stores
     * @return the generator, the same one for every call with this name
     * @throws IllegalArgumentException if the name is not allowed or not defined at the stores
     * @throws SegmentStoreException if no store answered
     * @throws SegmentExhaustedException if the name has no number left
     */
    public SegmentGenerator generator(String name) {
        return generators.generator(name);
    }

    /** Stops fetching and closes the stores; numbers of the ranges held are lost, never handed out again. */
    @Override
    public void close() {
        generators.close();
    }

    @Override
    public String toString() {
        return generators.toString();
    }

    /** Builds {@link SegmentIds}. Not thread-safe. */
    public static final class Builder {
        private final List<Object[]> stores = new ArrayList<>();
        private final Map<String, String> settings = new TreeMap<>();
        private EkkoClock clock = EkkoClock.system();

        private Builder() {
        }

        /**
         * Adds a store found with {@link ServiceLoader} by its name. Stores hand out numbers {@code n % stores == index}, in
         * the order added.
         *
         * @param name the store's name: {@code mysql}, {@code redis}, {@code etcd} (with their modules on the class path)
         * @param storeSettings its settings ({@code ekko.mysql.url}...)
         * @return this
         */
        public Builder store(String name, Map<String, String> storeSettings) {
            Objects.requireNonNull(name, "name");
            stores.add(new Object[] {name, new TreeMap<>(storeSettings)});
            return this;
        }

        /**
         * Adds a store from a provider given directly (not found with {@link ServiceLoader}).
         *
         * @param provider the provider
         * @param storeSettings its settings
         * @return this
         */
        public Builder store(SegmentStoreProvider provider, Map<String, String> storeSettings) {
            Objects.requireNonNull(provider, "provider");
            stores.add(new Object[] {provider, new TreeMap<>(storeSettings)});
            return this;
        }

        /**
         * Sets one setting: {@code ekko.segment.store} (a store's name, when no {@link #store} is added: the store's own
         * settings come from the same map), {@code ekko.segment.step.min}, {@code ekko.segment.step.max},
         * {@code ekko.segment.step.target}, {@code ekko.segment.prefetch.at}, or a store's setting.
         *
         * @param key the key
         * @param value its value
         * @return this
         */
        public Builder setting(String key, String value) {
            settings.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /**
         * Sets every {@code ekko.*} entry of a map.
         *
         * @param all the settings
         * @return this
         */
        public Builder settings(Map<String, String> all) {
            all.forEach((k, v) -> {
                if (k.startsWith("ekko.")) {
                    setting(k, v);
                }
            });
            return this;
        }

        /**
         * Applies the {@code EKKO_*} environment variables of the segment keys and of every store found on the class path
         * ({@code EKKO_SEGMENT_STORE}, {@code EKKO_MYSQL_URL}...), then the {@code ekko.*} system properties, which win.
         *
         * @return this
         */
        public Builder environment() {
            Set<String> known = new TreeSet<>(SegmentGenerators.KEYS);
            for (SegmentStoreProvider p : ServiceLoader.load(SegmentStoreProvider.class)) {
                known.addAll(p.configKeys());
            }
            Map<String, String> env = System.getenv();
            for (String key : known) {
                String v = env.get(ConfigKeys.envName(key));
                if (v != null) {
                    settings.put(key, v);
                }
            }
            for (String key : System.getProperties().stringPropertyNames()) {
                if (known.contains(key)) {
                    settings.put(key, System.getProperty(key));
                }
            }
            return this;
        }

        /**
         * Sets the clock the adaptive step reads (for tests).
         *
         * @param clock the clock
         * @return this
         */
        public Builder clock(EkkoClock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * {@return the segment IDs}
         *
         * @throws IllegalArgumentException naming the key and value of a bad setting, or if no store is configured
         */
        public SegmentIds build() {
            for (String key : settings.keySet()) {
                if (key.startsWith("ekko.segment.") && !SegmentGenerators.KEYS.contains(key)) {
                    throw new IllegalArgumentException("unknown setting " + key + "=" + settings.get(key) + "; segment mode's keys: "
                            + new TreeSet<>(SegmentGenerators.KEYS));
                }
            }
            long stepMin = longSetting("ekko.segment.step.min", 1000, 1, 1L << 40);
            long stepMax = longSetting("ekko.segment.step.max", 1_000_000, 1, 1L << 40);
            if (stepMax < stepMin) {
                throw new IllegalArgumentException("must be >= ekko.segment.step.min=" + stepMin + ": ekko.segment.step.max=" + stepMax);
            }
            Duration target = settings.containsKey("ekko.segment.step.target") ? Values.checkDuration("ekko.segment.step.target",
                    Values.duration("ekko.segment.step.target", settings.get("ekko.segment.step.target")), Duration.ofSeconds(1),
                    Duration.ofDays(1)) : Duration.ofMinutes(10);
            double prefetchAt = 0.2;
            String p = settings.get("ekko.segment.prefetch.at");
            if (p != null) {
                try {
                    prefetchAt = Double.parseDouble(p.trim());
                } catch (NumberFormatException e) {
                    prefetchAt = Double.NaN;
                }
                if (!(prefetchAt > 0 && prefetchAt < 1)) {
                    throw new IllegalArgumentException("must be a fraction > 0 && < 1 (how much of a range is used when the next is"
                            + " fetched): ekko.segment.prefetch.at=" + p);
                }
            }
            List<Object[]> chosen = new ArrayList<>(stores);
            if (chosen.isEmpty()) {
                String name = settings.get("ekko.segment.store");
                if (name == null || name.isBlank()) {
                    throw new IllegalArgumentException("must name a store: ekko.segment.store (environment variable EKKO_SEGMENT_STORE)"
                            + " or Builder.store(...); stores on the class path: " + available());
                }
                chosen.add(new Object[] {name.trim(), settings});
            }
            List<SegmentStore> created = new ArrayList<>();
            try {
                for (int i = 0; i < chosen.size(); i++) {
                    Object which = chosen.get(i)[0];
                    @SuppressWarnings("unchecked")
                    Map<String, String> s = new LinkedHashMap<>((Map<String, String>) chosen.get(i)[1]);
                    SegmentStoreProvider provider = which instanceof SegmentStoreProvider sp ? sp : find((String) which);
                    created.add(provider.create(s, chosen.size(), i));
                }
            } catch (RuntimeException e) {
                created.forEach(SegmentStore::close);
                throw e;
            }
            return new SegmentIds(new SegmentGenerators(created, clock, stepMin, stepMax, target, prefetchAt));
        }

        private long longSetting(String key, long defaultValue, long min, long max) {
            String v = settings.get(key);
            if (v == null) {
                return defaultValue;
            }
            long parsed;
            try {
                parsed = Long.parseLong(v.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("must be an integer >= " + min + " && <= " + max + ": " + key + "=" + v, e);
            }
            if (parsed < min || parsed > max) {
                throw new IllegalArgumentException("must be >= " + min + " && <= " + max + ": " + key + "=" + v);
            }
            return parsed;
        }

        private static SegmentStoreProvider find(String name) {
            for (SegmentStoreProvider p : ServiceLoader.load(SegmentStoreProvider.class)) {
                if (p.name().equals(name)) {
                    return p;
                }
            }
            throw new IllegalArgumentException("no segment store named \"" + name + "\" on the class path: ekko.segment.store=" + name
                    + "; available: " + available() + " (add dev.ekko:ekko-worker-" + name + " for a store of that server)");
        }

        private static String available() {
            List<String> names = new ArrayList<>();
            for (SegmentStoreProvider p : ServiceLoader.load(SegmentStoreProvider.class)) {
                names.add(p.name());
            }
            return names.isEmpty() ? "none" : String.join(", ", names);
        }
    }
}
