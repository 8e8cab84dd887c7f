package dev.ekko.spi;

import dev.ekko.EkkoClock;
import dev.ekko.internal.Values;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Everything an allocator needs to know: the IDC, how many worker IDs the layout has, lease timing,
 * who is asking, and the allocator's own settings ({@code ekko.redis.*} and so on).
 * Immutable; {@link #toString()} masks secrets.
 */
public final class AllocatorContext {

    private final int idc;
    private final int workerIds;
    private final int preferredWorkerId;
    private final String instance;
    private final String host;
    private final long pid;
    private final String generator;
    private final Duration leaseTtl;
    private final EkkoClock clock;
    private final Map<String, String> settings;
    private final Map<String, String> fleetSettings;
    private final LeaseListener leaseListener;

    private AllocatorContext(Builder b) {
        this.idc = b.idc;
        this.workerIds = b.workerIds;
        this.preferredWorkerId = b.preferredWorkerId;
        this.instance = b.instance;
        this.host = b.host;
        this.pid = b.pid >= 0 ? b.pid : dev.ekko.internal.Processes.pid();
        this.generator = b.generator != null ? b.generator : newGeneratorName(host, pid);
        this.leaseTtl = b.leaseTtl;
        this.clock = b.clock;
        this.settings = Map.copyOf(b.settings);
        this.fleetSettings = java.util.Collections.unmodifiableMap(new TreeMap<>(b.fleetSettings));
        this.leaseListener = b.leaseListener;
    }

    /** {@return a builder; the core builds contexts, and so do allocator tests} */
    public static Builder builder() {
        return new Builder();
    }

    /** {@return the datacenter, 0..7} */
    public int idc() {
        return idc;
    }

    /**
     * {@return how many worker IDs this allocator may hand out, 1..4096: worker IDs 0..workerIds-1} All the layout has
     * (256 to 4096, by the product bits) unless {@code ekko.worker.ids} sets fewer.
     */
    public int workerIds() {
        return workerIds;
    }

    /** {@return the worker ID to try first, or -1 for none} */
    public int preferredWorkerId() {
        return preferredWorkerId;
    }

    /** {@return the instance name; a restart with the same name gets its previous worker ID back when free} */
    public String instance() {
        return instance;
    }

    /** {@return this host's name} */
    public String host() {
        return host;
    }

    /** {@return this process's ID} */
    public long pid() {
        return pid;
    }

    /**
     * {@return the generator this allocator serves, by a name no other generator has} Every stripe of a striped generator has
     * an allocator and a context of its own, and the same generator name in each: a back end that checks a holder's clock
     * against other holders' readings can leave out the readings of its own generator, whose clock is its own (one clock
     * counted once). Unique per generator the core builds ({@link #newGeneratorName}); unless set, unique per context.
     */
    public String generator() {
        return generator;
    }

    /**
     * {@return a generator name no other has}: the host, the process ID and 64 random bits, so that it also tells apart two
     * generators of one process and two processes with the same host name and process ID (containers).
     *
     * @param host this host's name
     * @param pid this process's ID
     */
    public static String newGeneratorName(String host, long pid) {
        return host + "/" + pid + "/" + Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong());
    }

    /** {@return how long a lease lasts unless renewed} */
    public Duration leaseTtl() {
        return leaseTtl;
    }

    /** {@return the clock to read for leases and reports} */
    public EkkoClock clock() {
        return clock;
    }

    /**
     * Reads one of the allocator's own settings.
     *
     * @param key e.g. {@code ekko.redis.uri}
     * @return the value, if set
     */
    public Optional<String> setting(String key) {
        return Optional.ofNullable(settings.get(key));
    }

    /**
     * Reads a setting the allocator cannot do without.
     *
     * @param key e.g. {@code ekko.redis.uri}
     * @param what what the setting is for, e.g. "the Redis server to lease worker IDs from"
     * @return the value
     * @throws IllegalArgumentException naming the key and its environment variable if it is not set
     */
    public String requireSetting(String key, String what) {
        String v = settings.get(key);
        if (v == null || v.isBlank()) {
            throw new IllegalArgumentException("must be set to " + what + ": " + key + " (environment variable "
                    + key.toUpperCase(java.util.Locale.ROOT).replace('.', '_') + ")");
        }
        return v;
    }

    /**
     * Reads a duration setting ({@code 500ms}, {@code 3s}, {@code PT3S}...).
     *
     * @param key a duration setting
     * @param defaultValue used when the key is not set
     * @return the parsed duration
     * @throws IllegalArgumentException naming key and value when malformed
     */
    public Duration durationSetting(String key, Duration defaultValue) {
        String v = settings.get(key);
        return v == null ? defaultValue : Values.duration(key, v);
    }

    /**
     * Reads an integer setting within bounds.
     *
     * @param key an integer setting
     * @param defaultValue used when the key is not set
     * @param min smallest allowed
     * @param max largest allowed
     * @return the parsed value
     */
    public int intSetting(String key, int defaultValue, int min, int max) {
        String v = settings.get(key);
        return v == null ? defaultValue : Values.integer(key, v, min, max);
    }

    /**
     * The settings every process sharing a coordinator namespace must agree on, as key to canonical value
     * (layout: {@code ekko.epoch}, {@code ekko.positive}, {@code ekko.product.bits}; timing the no-history
     * floor assumes of every earlier holder: {@code ekko.worker.lease.ttl}, {@code ekko.clock.max.skew},
     * {@code ekko.clock.max.lead}). A coordinator records them on first use of a namespace and refuses a
     * process whose values differ, naming both: a holder with another layout issues other IDs for the same
     * bits, and one with a longer lease, skew or lead may issue past the floor the others wait for.
     *
     * @return the settings, sorted by key; empty when the core did not supply them (allocator tests)
     */
    public Map<String, String> fleetSettings() {
        return fleetSettings;
    }

    /**
     * {@return where to say, at once and from any thread, that a lease handed out is gone (see {@link LeaseListener}); for an
     * allocator that learns of a loss between renewals, such as from a watch}
     */
    public LeaseListener leaseListener() {
        return leaseListener;
    }

    @Override
    public String toString() {
        Map<String, String> shown = new TreeMap<>();
        settings.forEach((k, v) -> shown.put(k, Values.printable(k, v)));
        return "AllocatorContext{idc=" + idc + ", workerIds=" + workerIds + ", preferredWorkerId=" + preferredWorkerId
                + ", instance=" + instance + ", host=" + host + ", pid=" + pid + ", generator=" + generator + ", leaseTtl=" + leaseTtl
                + ", settings=" + shown + "}";
    }

    /** Builds an {@link AllocatorContext}. */
    public static final class Builder {
        private int idc;
        private int workerIds = 4096;
        private int preferredWorkerId = -1;
        private String instance = "ekko";
        private String host = "localhost";
        private long pid = -1; // this process's, read at build() unless set
        private String generator; // a new name at build() unless set
        private Duration leaseTtl = Duration.ofSeconds(30);
        private EkkoClock clock = EkkoClock.system();
        private final Map<String, String> settings = new TreeMap<>();
        private final Map<String, String> fleetSettings = new TreeMap<>();
        private LeaseListener leaseListener = LeaseListener.NONE;

        private Builder() {
        }

        /**
         * Sets the datacenter (IDC) the worker ID is leased in.
         *
         * @param idc 0..7
         * @return this builder
         * @throws IllegalArgumentException if {@code idc} is out of range
         */
        public Builder idc(int idc) {
            if (idc < 0 || idc > 7) {
                throw new IllegalArgumentException("must be >= 0 && <= 7: idc=" + idc);
            }
            this.idc = idc;
            return this;
        }

        /**
         * Sets how many worker IDs the allocator may hand out (0..workerIds-1).
         *
         * @param workerIds 1..4096
         * @return this builder
         * @throws IllegalArgumentException if {@code workerIds} is not allowed
         */
        public Builder workerIds(int workerIds) {
            if (workerIds < 1 || workerIds > 4096) {
                throw new IllegalArgumentException("must be >= 1 && <= 4096: workerIds=" + workerIds);
            }
            this.workerIds = workerIds;
            return this;
        }

        /**
         * Sets the worker ID to ask for first.
         *
         * @param preferredWorkerId -1 for none, else 0..workerIds-1
         * @return this builder
         * @throws IllegalArgumentException if {@code preferredWorkerId} is below -1
         */
        public Builder preferredWorkerId(int preferredWorkerId) {
            if (preferredWorkerId < -1) {
                throw new IllegalArgumentException("must be -1 (none) or >= 0: preferredWorkerId=" + preferredWorkerId);
            }
            this.preferredWorkerId = preferredWorkerId;
            return this;
        }

        /**
         * Sets the name of the process instance, by which it gets its worker ID back.
         *
         * @param instance the instance name
         * @return this builder
         * @throws NullPointerException if {@code instance} is null
         */
        public Builder instance(String instance) {
            this.instance = Objects.requireNonNull(instance, "instance");
            return this;
        }

        /**
         * Sets the name of this host, reported to the coordinator.
         *
         * @param host this host's name
         * @return this builder
         * @throws NullPointerException if {@code host} is null
         */
        public Builder host(String host) {
            this.host = Objects.requireNonNull(host, "host");
            return this;
        }

        /**
         * Sets the process ID reported to the coordinator.
         *
         * @param pid the process ID to report
         * @return this builder
         */
        public Builder pid(long pid) {
            this.pid = pid;
            return this;
        }

        /**
         * Sets the name of the generator this allocator serves: the same for every stripe of one generator, and no other
         * generator's (see {@link AllocatorContext#generator()}).
         *
         * @param generator the generator's name, from {@link AllocatorContext#newGeneratorName}; no line breaks
         * @return this builder
         * @throws NullPointerException if {@code generator} is null
         * @throws IllegalArgumentException if it is blank or holds a line break
         */
        public Builder generator(String generator) {
            Objects.requireNonNull(generator, "generator");
            if (generator.isBlank() || generator.indexOf('\n') >= 0 || generator.indexOf('\r') >= 0) {
                throw new IllegalArgumentException("must not be blank or hold a line break: generator=" + generator);
            }
            this.generator = generator;
            return this;
        }

        /**
         * Sets how long a lease lasts unless renewed.
         *
         * @param leaseTtl how long a lease lasts unless renewed, positive
         * @return this builder
         * @throws IllegalArgumentException if {@code leaseTtl} is null, zero or negative
         */
        public Builder leaseTtl(Duration leaseTtl) {
            if (leaseTtl == null) {
                throw new IllegalArgumentException("must not be null: leaseTtl");
            }
            if (leaseTtl.isNegative() || leaseTtl.isZero()) {
                throw new IllegalArgumentException("must be > 0: leaseTtl=" + leaseTtl);
            }
            this.leaseTtl = leaseTtl;
            return this;
        }

        /**
         * Sets the clock the allocator reads.
         *
         * @param clock the clock
         * @return this builder
         * @throws NullPointerException if {@code clock} is null
         */
        public Builder clock(EkkoClock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Adds one setting for the allocator.
         *
         * @param key a setting key
         * @param value its value
         * @return this builder
         * @throws NullPointerException if {@code key} or {@code value} is null
         */
        public Builder setting(String key, String value) {
            settings.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /**
         * Adds settings for the allocator.
         *
         * @param all settings to add
         * @return this builder
         * @throws NullPointerException if a key or value is null
         */
        public Builder settings(Map<String, String> all) {
            for (Map.Entry<String, String> e : all.entrySet()) {
                setting(e.getKey(), e.getValue());
            }
            return this;
        }

        /**
         * Adds settings that every process of the namespace must share.
         *
         * @param all the settings a namespace's processes must share (see {@link AllocatorContext#fleetSettings()})
         * @return this builder
         * @throws NullPointerException if a key or value is null
         */
        public Builder fleetSettings(Map<String, String> all) {
            for (Map.Entry<String, String> e : all.entrySet()) {
                fleetSettings.put(Objects.requireNonNull(e.getKey(), "key"), Objects.requireNonNull(e.getValue(), "value"));
            }
            return this;
        }

        /**
         * Sets the listener an allocator tells of a lease lost between renewals; the core sets the generator's.
         *
         * @param listener the listener ({@link LeaseListener#NONE} by default)
         * @return this builder
         * @throws NullPointerException if {@code listener} is null
         */
        public Builder leaseListener(LeaseListener listener) {
            this.leaseListener = Objects.requireNonNull(listener, "listener");
            return this;
        }

        /** {@return the context} */
        public AllocatorContext build() {
            if (preferredWorkerId >= workerIds) {
                throw new IllegalArgumentException("must be < workerIds=" + workerIds + ": preferredWorkerId=" + preferredWorkerId);
            }
            return new AllocatorContext(this);
        }
    }
}
