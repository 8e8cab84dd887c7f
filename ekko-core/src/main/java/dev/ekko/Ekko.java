package dev.ekko;

import dev.ekko.internal.ConfigKeys;
import dev.ekko.internal.EkkoGenerator;
import dev.ekko.internal.GeneratorSettings;
import dev.ekko.internal.HostLocalAllocator;
import dev.ekko.internal.LeaseRelay;
import dev.ekko.internal.ManualAllocator;
import dev.ekko.internal.Processes;
import dev.ekko.internal.StripedGenerator;
import dev.ekko.internal.Values;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The entry point: {@code Ekko.newBuilder()...build()} returns a running {@link IdGenerator}.
 *
 * <pre>{@code
 * try (IdGenerator ids = Ekko.newBuilder().idc(1).environment().build()) {
 *     long id = ids.next();
 *     String forJavaScript = Layout.format(id);
 * }
 * }</pre>
 *
 * <p>Every setting has a configuration key; the same keys are read from {@link Properties}, system
 * properties and environment variables, where {@code ekko.worker.allocator} is
 * {@code EKKO_WORKER_ALLOCATOR} (upper case, dots to underscores). Later calls override earlier ones.
 */
public final class Ekko {

    private Ekko() {
    }

    /** {@return a builder with the defaults: host-local worker IDs, real-time mode, the default layout} */
    public static Builder newBuilder() {
        return new Builder();
    }

    /**
     * {@return a builder of segment mode: dense numbers per name from ranges leased out of MySQL, Redis or etcd (see
     * {@link SegmentIds})}
     */
    public static SegmentIds.Builder newSegmentBuilder() {
        return SegmentIds.builder();
    }

    /**
     * Builds generators. Each setter checks its value at once ({@link IllegalArgumentException} naming the
     * key, the value and what is allowed); {@link #build()} checks settings against each other
     * ({@link IllegalStateException}). Not thread-safe; reusable.
     */
    public static final class Builder {

        private static final System.Logger LOG = System.getLogger("dev.ekko.config");
        /** The most worker IDs one generator may hold ({@code ekko.worker.stripes}). */
        private static final int MAX_STRIPES = 64;

        private final Map<String, String> settings = new TreeMap<>();
        private final Map<String, String> sources = new TreeMap<>();
        private final List<String> unknownEnvironment = new ArrayList<>();
        private EkkoClock clock = EkkoClock.system();
        private WorkerAllocatorProvider provider;

        private Builder() {
        }

        /**
         * Sets the instant IDs count time from.
         *
         * @param epoch the instant IDs count time from (UTC, whole ms, not in the future); default 2026-01-01T00:00:00Z
         * @return this builder
         * @throws IllegalArgumentException if the value is null or not allowed; the message names the key
         */
        public Builder epoch(Instant epoch) {
            return set(ConfigKeys.EPOCH, text(ConfigKeys.EPOCH, epoch));
        }

        /**
         * Chooses the positive layout, whose IDs stay positive as a signed {@code long}.
         *
         * @param positive true for IDs that stay positive as a signed long (38 time bits); default false
         * @return this builder
         */
        public Builder positiveIds(boolean positive) {
            return set(ConfigKeys.POSITIVE, Boolean.toString(positive));
        }

        /**
         * Sets how many bits of the worker field go to the product line.
         *
         * @param bits bits of the product line, 0..4; default 0
         * @return this builder
         * @throws IllegalArgumentException if the value is out of range; the message names the key
         */
        public Builder productBits(int bits) {
            return set(ConfigKeys.PRODUCT_BITS, Integer.toString(bits));
        }

        /**
         * Sets the product line of the IDs that {@link IdGenerator#next()} issues.
         *
         * @param product the product line of {@link IdGenerator#next()}, below 2^productBits; default 0
         * @return this builder
         * @throws IllegalArgumentException if the value is out of range; the message names the key
         */
        public Builder product(int product) {
            return set(ConfigKeys.PRODUCT, Integer.toString(product));
        }

        /**
         * Sets the datacenter (IDC) written into every ID.
         *
         * @param idc the datacenter, 0..7; default 0
         * @return this builder
         * @throws IllegalArgumentException if the value is out of range; the message names the key
         */
        public Builder idc(int idc) {
            return set(ConfigKeys.IDC, Integer.toString(idc));
        }

        /**
         * Fixes the worker ID instead of leasing one.
         *
         * @param workerId a fixed worker ID, which selects the {@code manual} allocator unless another is named
         * @return this builder
         * @throws IllegalArgumentException if the value is out of range; the message names the key
         */
        public Builder workerId(int workerId) {
            return set(ConfigKeys.WORKER_ID, Integer.toString(workerId));
        }

        /**
         * Striping: holds {@code stripes} worker IDs at once, each a complete generator of its own (lease, keeper thread,
         * state file, fence), and spreads callers over them, so that real-time throughput is {@code stripes} × 1,024 IDs per
         * millisecond and threads do not contend on one word. A caller starts at its home stripe and, when that stripe's
         * millisecond is used up, takes the rest of the same millisecond from the next stripes instead of waiting. IDs of one
         * stripe strictly increase; a thread's IDs never go back in time (their millisecond never decreases, except with a clock
         * step back, and in bounded-lead mode by up to {@code ekko.clock.max.lead} when the thread's home stripe issues again
         * after another stripe served it) but are not strictly increasing within a millisecond (docs/striping.md). Needs an allocator that leases worker IDs
         * ({@code host-local} or a coordinator): {@code manual} holds one fixed worker ID, so more than one stripe with it is
         * refused at {@link #build()}. With a coordinator, stripe i &gt; 0 uses the instance name {@code <instance>.stripe<i>} (a
         * stripe added in automatic mode takes the lowest number no live stripe has).
         *
         * <p>With {@link #maxStripes(int)} above it, this is the number held from the start and kept.
         *
         * @param stripes worker IDs to hold, 1..64; default 1, an unstriped generator (no cost)
         * @return this builder
         * @throws IllegalArgumentException if the value is out of range; the message names the key
         */
        public Builder stripes(int stripes) {
            return set(ConfigKeys.STRIPES, Integer.toString(stripes));
        }

        /**
         * Automatic striping: a background thread leases one more worker ID (a stripe) when callers keep waiting for the next
         * millisecond, up to {@code max}, and closes a stripe beyond {@link #stripes(int)} that issued nothing for
         * {@link #stripeIdleTime(Duration)}, releasing its worker ID. Never on a caller's thread.
         *
         * @param max the most worker IDs to hold, 1..64, at least {@code ekko.worker.stripes}; default
         *     {@code ekko.worker.stripes} (a fixed number, no automatic mode)
         * @return this builder
         * @throws IllegalArgumentException if the value is out of range; the message names the key
         */
        public Builder maxStripes(int max) {
            return set(ConfigKeys.STRIPES_MAX, Integer.toString(max));
        }

        /**
         * Sets how long a stripe added by automatic striping may issue nothing before it is closed.
         *
         * @param idle 1s..1h; default 1m
         * @return this builder
         * @throws IllegalArgumentException if the value is null or out of range; the message names the key
         */
        public Builder stripeIdleTime(Duration idle) {
            return set(ConfigKeys.STRIPES_IDLE, text(ConfigKeys.STRIPES_IDLE, idle));
        }

        /**
         * Chooses the worker-ID allocator by name.
         *
         * @param name the worker-ID allocator: {@code manual}, {@code host-local}, or a back end such as {@code redis}
         * @return this builder
         * @throws IllegalArgumentException if the value is null or not allowed; the message names the key
         */
        public Builder allocator(String name) {
            return set(ConfigKeys.ALLOCATOR, name);
        }

        /**
         * Names this process, so that it gets its worker ID back from a coordinator after a restart.
         *
         * @param instance this process's instance name, by which it gets its worker ID back; default the host name
         * @return this builder
         * @throws IllegalArgumentException if the value is null or not allowed; the message names the key
         */
        public Builder instance(String instance) {
            return set(ConfigKeys.INSTANCE, instance);
        }

        /**
         * Sets how long a coordinator lease lasts unless renewed.
         *
         * @param ttl how long a coordinator lease lasts unless renewed, 1s..1h; default 30s
         * @return this builder
         * @throws IllegalArgumentException if the value is null or not allowed; the message names the key
         */
        public Builder leaseTtl(Duration ttl) {
            return set(ConfigKeys.LEASE_TTL, text(ConfigKeys.LEASE_TTL, ttl));
        }

        /**
         * Sets how long before a lease's expiry the generator stops issuing.
         *
         * @param margin how long before a lease's expiry the generator stops issuing, 100ms..10m; default 3s
         * @return this builder
         * @throws IllegalArgumentException if the value is null or not allowed; the message names the key
         */
        public Builder leaseMargin(Duration margin) {
            return set(ConfigKeys.LEASE_MARGIN, text(ConfigKeys.LEASE_MARGIN, margin));
        }

        /**
         * Sets how often the generator renews its lease and reports its clock.
         *
         * @param interval how often to renew the lease and report the clock, 100ms..10m; default 3s
         * @return this builder
         * @throws IllegalArgumentException if the value is null or not allowed; the message names the key
         */
        public Builder reportInterval(Duration interval) {
            return set(ConfigKeys.REPORT_INTERVAL, text(ConfigKeys.REPORT_INTERVAL, interval));
        }

        /**
         * Sets the largest tolerated difference between this clock and the coordinator's.
         *
         * @param skew the largest tolerated difference to the coordinator's clock, 0..1h; default 3s
         * @return this builder
         * @throws IllegalArgumentException if the value is null or not allowed; the message names the key
         */
        public Builder maxClockSkew(Duration skew) {
            return set(ConfigKeys.MAX_SKEW, text(ConfigKeys.MAX_SKEW, skew));
        }

        /**
         * Sets how long {@code next()} waits for a clock that went back before it throws.
         *
         * @param wait how long {@code next()} waits for a clock that went back, 0..1h; default 1s
         * @return this builder
         * @throws IllegalArgumentException if the value is null or not allowed; the message names the key
         */
        public Builder maxBackwardWait(Duration wait) {
            return set(ConfigKeys.MAX_BACKWARD_WAIT, text(ConfigKeys.MAX_BACKWARD_WAIT, wait));
        }

        /**
         * Bounded-lead mode: when a millisecond's 1024 IDs are used up, or the clock went back, keep issuing
         * on a logical clock up to {@code lead} ahead of the wall clock instead of waiting.
         *
         * @param lead 0 (real-time mode, the default) .. 1h; {@link IdGenerator#leadMillis()} shows the current lead
         * @return this
         */
        public Builder maxLead(Duration lead) {
            return set(ConfigKeys.MAX_LEAD, text(ConfigKeys.MAX_LEAD, lead));
        }

        /**
         * Sets the directory of the state files.
         *
         * @param dir where state files live; default $XDG_STATE_HOME/ekko or ~/.local/state/ekko
         * @return this builder
         * @throws IllegalArgumentException if the value is null or not allowed; the message names the key
         */
        public Builder stateDirectory(Path dir) {
            return set(ConfigKeys.STATE_DIR, text(ConfigKeys.STATE_DIR, dir));
        }

        /**
         * Sets the directory of the host-wide worker-ID locks.
         *
         * @param dir where the host-wide worker-ID locks of the {@code manual} and {@code host-local} allocators live; must be
         *     the same directory for every process on the host, whatever its state directory; default {@code /run/lock/ekko}
         *     when {@code /run/lock} is writable, else {@code <java.io.tmpdir>/ekko-host-locks}
         * @return this builder
         * @throws IllegalArgumentException if {@code dir} is null
         */
        public Builder hostLockDirectory(Path dir) {
            return set(ConfigKeys.HOST_LOCK_DIR, text(ConfigKeys.HOST_LOCK_DIR, dir));
        }

        /**
         * Sets how far ahead time is reserved and forced to disk.
         *
         * @param reservation how far ahead time is reserved and forced to disk, 1s..1h; default 10s
         * @return this builder
         * @throws IllegalArgumentException if the value is null or not allowed; the message names the key
         */
        public Builder reservation(Duration reservation) {
            return set(ConfigKeys.RESERVATION, text(ConfigKeys.RESERVATION, reservation));
        }

        /**
         * Sets the clock the generator reads (tests move it; production keeps the system clock).
         *
         * @param clock the clock to read; default {@link EkkoClock#system()}
         * @return this builder
         * @throws NullPointerException if {@code clock} is null
         */
        public Builder clock(EkkoClock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Uses an allocator provider made by the application instead of the one {@link ServiceLoader} finds under its
         * name: for a back end that takes objects a setting cannot name, such as a {@code DataSource} or a client of
         * the application's own. Selects the allocator by the provider's name, as {@link #allocator(String)} does; its
         * {@link WorkerAllocatorProvider#configKeys() keys} are accepted as settings.
         *
         * @param provider the provider; its {@code create} is called once per build, or once per stripe with
         *     {@link #stripes(int)}
         * @return this builder
         * @throws NullPointerException if {@code provider} is null
         */
        public Builder allocatorProvider(WorkerAllocatorProvider provider) {
            Objects.requireNonNull(provider, "provider");
            allocator(provider.name());
            this.provider = provider;
            return this;
        }

        /**
         * Sets any key, core or back end ({@code ekko.redis.uri}...). Core values are checked now; every
         * key is checked against the known ones at {@link #build()}.
         *
         * @param key a key starting with {@code ekko.}
         * @param value its value
         * @return this
         */
        public Builder setting(String key, String value) {
            return set(key, value);
        }

        /**
         * Applies every {@code ekko.*} entry of the properties; other entries are ignored.
         *
         * @param properties the properties
         * @return this
         */
        public Builder properties(Properties properties) {
            for (String key : properties.stringPropertyNames()) {
                if (key.startsWith("ekko.")) {
                    set(key, properties.getProperty(key));
                }
            }
            return this;
        }

        /**
         * Applies the environment variables of every known key ({@code EKKO_IDC}...), then the {@code ekko.*}
         * system properties, which win. Unknown {@code EKKO_*} variables are logged as warnings at build. Keys and variables
         * of segment mode ({@code ekko.segment.*}), ekko-server ({@code ekko.server.*}), its client ({@code ekko.client.*})
         * and the Spring Boot starter ({@code ekko.spring.*}) are left to them: neither applied nor warned about.
         *
         * @return this
         */
        public Builder environment() {
            // The core's own keys first: the class path is scanned for providers only for a variable they do not name.
            Map<String, String> envToKey = envNames(knownKeys(builtIns()));
            boolean scanned = false;
            for (Map.Entry<String, String> e : new TreeMap<>(System.getenv()).entrySet()) {
                String name = e.getKey();
                if (!name.startsWith("EKKO_") || name.startsWith(ConfigKeys.TEST_ENV_PREFIX) || ConfigKeys.ofOtherComponent(name)) {
                    continue;
                }
                String key = envToKey.get(name);
                if (key == null && !scanned) {
                    envToKey = envNames(knownKeys(providers()));
                    scanned = true;
                    key = envToKey.get(name);
                }
                if (key == null) {
                    unknownEnvironment.add(name);
                    continue;
                }
                try {
                    set(key, e.getValue());
                } catch (IllegalArgumentException ex) {
                    throw new IllegalArgumentException(ex.getMessage() + " (from environment variable " + name + ")", ex);
                }
                sources.put(key, "environment variable " + name);
            }
            Properties system = System.getProperties();
            for (String key : system.stringPropertyNames()) {
                if (key.startsWith("ekko.") && !ConfigKeys.ofOtherComponent(key)) {
                    set(key, system.getProperty(key));
                }
            }
            return this;
        }

        private static String text(String key, Object value) {
            if (value == null) {
                throw new IllegalArgumentException("must not be null: " + key);
            }
            return value.toString();
        }

        private Builder set(String key, String value) {
            Objects.requireNonNull(key, "key");
            if (value == null) {
                throw new IllegalArgumentException("must not be null: " + key);
            }
            if (!key.startsWith("ekko.")) {
                throw new IllegalArgumentException("must start with \"ekko.\": key=" + key);
            }
            if (ConfigKeys.CORE.contains(key)) {
                check(key, value);
            }
            settings.put(key, value.trim());
            sources.remove(key);
            return this;
        }

        /** Checks one core value alone; cross-checks wait for build(). */
        private static void check(String key, String v) {
            switch (key) {
                case ConfigKeys.EPOCH:
                    try {
                        Layout.unsigned(Values.instant(key, v), 0);
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException(e.getMessage().replace(": epoch=", ": " + key + "="), e);
                    }
                    break;
                case ConfigKeys.POSITIVE: Values.bool(key, v); break;
                case ConfigKeys.PRODUCT_BITS: Values.integer(key, v, 0, Layout.MAX_PRODUCT_BITS); break;
                case ConfigKeys.PRODUCT: Values.integer(key, v, 0, 15); break;
                case ConfigKeys.IDC: Values.integer(key, v, 0, 7); break;
                case ConfigKeys.WORKER_ID: Values.integer(key, v, 0, 4095); break;
                case ConfigKeys.WORKER_IDS: Values.integer(key, v, 1, 4096); break;
                case ConfigKeys.STRIPES:
                case ConfigKeys.STRIPES_MAX:
                    Values.integer(key, v, 1, MAX_STRIPES);
                    break;
                case ConfigKeys.STRIPES_IDLE: Values.checkDuration(key, Values.duration(key, v), Duration.ofSeconds(1), Duration.ofHours(1)); break;
                case ConfigKeys.ALLOCATOR:
                    if (!isAllocatorName(v.trim())) {
                        throw new IllegalArgumentException("must be lower-case letters, digits and '-', starting with a letter"
                                + " (manual, host-local, redis, mysql, etcd): " + key + "=" + v);
                    }
                    break;
                case ConfigKeys.INSTANCE:
                    if (v.isBlank() || v.length() > 200) {
                        throw new IllegalArgumentException("must be 1 to 200 characters, not blank: " + key + "=\"" + v + "\"");
                    }
                    break;
                case ConfigKeys.LEASE_TTL: Values.checkDuration(key, Values.duration(key, v), Duration.ofSeconds(1), Duration.ofHours(1)); break;
                case ConfigKeys.LEASE_MARGIN:
                case ConfigKeys.REPORT_INTERVAL:
                    Values.checkDuration(key, Values.duration(key, v), Duration.ofMillis(100), Duration.ofMinutes(10));
                    break;
                case ConfigKeys.MAX_SKEW:
                case ConfigKeys.MAX_BACKWARD_WAIT:
                case ConfigKeys.MAX_LEAD:
                    Values.checkDuration(key, Values.duration(key, v), Duration.ZERO, Duration.ofHours(1));
                    break;
                case ConfigKeys.RESERVATION: Values.checkDuration(key, Values.duration(key, v), Duration.ofSeconds(1), Duration.ofHours(1)); break;
                case ConfigKeys.STATE_DIR:
                case ConfigKeys.HOST_LOCK_DIR:
                    if (v.isBlank()) {
                        throw new IllegalArgumentException("must be a directory path: " + key + "=\"" + v + "\"");
                    }
                    break;
                default: throw new AssertionError(key);
            }
        }

        /**
         * Builds the layout alone.
         *
         * @return the layout these settings describe, without starting anything (for decoding)
         * @throws IllegalArgumentException if a layout setting is invalid
         */
        public Layout layout() {
            Instant epoch = settings.containsKey(ConfigKeys.EPOCH)
                    ? Values.instant(ConfigKeys.EPOCH, settings.get(ConfigKeys.EPOCH)) : Layout.DEFAULT_EPOCH;
            int bits = intOr(ConfigKeys.PRODUCT_BITS, 0);
            return Values.bool(ConfigKeys.POSITIVE, settings.getOrDefault(ConfigKeys.POSITIVE, "false"))
                    ? Layout.positive(epoch, bits) : Layout.unsigned(epoch, bits);
        }

        /**
         * Starts a generator: finds the allocator, acquires a worker ID, checks the clocks, opens the state
         * file, and waits until it may issue (at most about one lease TTL, logged when it waits).
         *
         * @return the running generator
         * @throws IllegalArgumentException for an unknown {@code ekko.*} key or a missing allocator
         * @throws IllegalStateException for settings that contradict each other
         * @throws EkkoException when the worker ID, the state file or the clock does not allow a start
         */
        public IdGenerator build() {
            dev.ekko.internal.ClassPreload.start();
            Map<String, WorkerAllocatorProvider> providers = providersFor(settings.getOrDefault(ConfigKeys.ALLOCATOR,
                    settings.containsKey(ConfigKeys.WORKER_ID) ? "manual" : "host-local"));
            checkKeys(providers);
            Layout layout = layout();
            int product = intOr(ConfigKeys.PRODUCT, 0);
            if (product >= layout.products()) {
                throw new IllegalStateException("must be < " + layout.products() + " with " + ConfigKeys.PRODUCT_BITS + "="
                        + layout.productBits() + ": " + ConfigKeys.PRODUCT + "=" + product);
            }
            int worker = intOr(ConfigKeys.WORKER_ID, -1);
            if (worker >= layout.workerIds()) {
                throw new IllegalStateException("must be < " + layout.workerIds() + " with " + ConfigKeys.PRODUCT_BITS + "="
                        + layout.productBits() + ": " + ConfigKeys.WORKER_ID + "=" + worker);
            }
            int pool = intOr(ConfigKeys.WORKER_IDS, layout.workerIds());
            if (pool > layout.workerIds()) {
                throw new IllegalStateException("must be <= " + layout.workerIds() + " with " + ConfigKeys.PRODUCT_BITS + "="
                        + layout.productBits() + ": " + ConfigKeys.WORKER_IDS + "=" + pool);
            }
            if (worker >= pool) {
                throw new IllegalStateException("must be < " + ConfigKeys.WORKER_IDS + "=" + pool + " (the allocator hands out worker"
                        + " IDs 0.." + (pool - 1) + "): " + ConfigKeys.WORKER_ID + "=" + worker);
            }
            Duration ttl = durationOr(ConfigKeys.LEASE_TTL, Duration.ofSeconds(30));
            Duration margin = durationOr(ConfigKeys.LEASE_MARGIN, Duration.ofSeconds(3));
            Duration report = durationOr(ConfigKeys.REPORT_INTERVAL, Duration.ofSeconds(3));
            Duration reservation = durationOr(ConfigKeys.RESERVATION, Duration.ofSeconds(10));
            if (report.multipliedBy(2).plus(margin).compareTo(ttl) > 0) {
                throw new IllegalStateException("must hold 2 * " + ConfigKeys.REPORT_INTERVAL + " + " + ConfigKeys.LEASE_MARGIN + " <= "
                        + ConfigKeys.LEASE_TTL + " so one missed renewal does not fence: " + ConfigKeys.REPORT_INTERVAL + "="
                        + Values.format(report) + ", " + ConfigKeys.LEASE_MARGIN + "=" + Values.format(margin) + ", "
                        + ConfigKeys.LEASE_TTL + "=" + Values.format(ttl));
            }
            Duration skewSetting = durationOr(ConfigKeys.MAX_SKEW, Duration.ofSeconds(3));
            if (margin.compareTo(skewSetting) < 0) {
                // A holder whose clock is +skew may issue until its fence (TTL - margin after a renewal); a successor
                // without history at -skew waits TTL + skew from its clock: they share milliseconds unless margin >= skew.
                throw new IllegalStateException("must hold " + ConfigKeys.LEASE_MARGIN + " >= " + ConfigKeys.MAX_SKEW + ", or two"
                        + " holders of one worker ID whose clocks differ by the tolerated skew could issue in the same milliseconds"
                        + " after a coordinator lost its data: " + ConfigKeys.LEASE_MARGIN + "=" + Values.format(margin) + ", "
                        + ConfigKeys.MAX_SKEW + "=" + Values.format(skewSetting));
            }
            if (reservation.compareTo(report.multipliedBy(2)) < 0) {
                throw new IllegalStateException("must be >= " + Values.format(report.multipliedBy(2)) + " (2 * "
                        + ConfigKeys.REPORT_INTERVAL + "=" + Values.format(report) + ") so the reservation never runs out between reports: "
                        + ConfigKeys.RESERVATION + "=" + Values.format(reservation));
            }
            String allocatorName = settings.getOrDefault(ConfigKeys.ALLOCATOR, worker >= 0 ? "manual" : "host-local");
            int stripes = intOr(ConfigKeys.STRIPES, 1);
            int maxStripes = intOr(ConfigKeys.STRIPES_MAX, stripes);
            String stripesKey = maxStripes > stripes ? ConfigKeys.STRIPES_MAX : ConfigKeys.STRIPES;
            if (maxStripes < stripes) {
                throw new IllegalStateException("must be >= " + ConfigKeys.STRIPES + "=" + stripes + " (the stripes held from the start):"
                        + " " + ConfigKeys.STRIPES_MAX + "=" + maxStripes);
            }
            if (maxStripes > 1 && allocatorName.equals("manual")) {
                throw new IllegalStateException("must be 1 with " + ConfigKeys.ALLOCATOR + "=manual, which holds the one worker ID of "
                        + ConfigKeys.WORKER_ID + ": " + stripesKey + "=" + maxStripes + "; to hold several worker IDs, use "
                        + ConfigKeys.ALLOCATOR + "=host-local or a coordinator (redis, mysql, etcd)");
            }
            if (maxStripes > pool) {
                throw new IllegalStateException("must be <= " + ConfigKeys.WORKER_IDS + "=" + pool + " (each stripe holds a worker ID of"
                        + " its own): " + stripesKey + "=" + maxStripes);
            }
            Duration stripeIdle = durationOr(ConfigKeys.STRIPES_IDLE, Duration.ofMinutes(1));
            WorkerAllocatorProvider provider = providers.get(allocatorName);
            if (provider == null) {
                throw new IllegalArgumentException(missingAllocator(allocatorName, providers));
            }
            Path stateDir = settings.containsKey(ConfigKeys.STATE_DIR) ? Path.of(settings.get(ConfigKeys.STATE_DIR)) : defaultStateDir();
            String host = hostName();
            String instance = settings.getOrDefault(ConfigKeys.INSTANCE, host);
            long pid = Processes.pid();
            // One name for every stripe's allocator: readings a back end compares clocks by are this generator's own when they
            // carry it (one clock), whatever the instance names.
            String generatorName = AllocatorContext.newGeneratorName(host, pid);
            Map<String, String> allocatorSettings = new LinkedHashMap<>(settings);
            allocatorSettings.put(ConfigKeys.STATE_DIR, stateDir.toString());
            Path hostLockDir = settings.containsKey(ConfigKeys.HOST_LOCK_DIR) ? Path.of(settings.get(ConfigKeys.HOST_LOCK_DIR))
                    : defaultHostLockDir();
            if (!settings.containsKey(ConfigKeys.HOST_LOCK_DIR) && !hostLockDir.startsWith("/run/lock")
                    && (allocatorName.equals("manual") || allocatorName.equals("host-local"))) {
                LOG.log(System.Logger.Level.WARNING, "host-wide worker-ID locks in " + hostLockDir + " (/run/lock is not writable):"
                        + " processes with a private /tmp (systemd PrivateTmp, some containers) do not see each other's locks there;"
                        + " set " + ConfigKeys.HOST_LOCK_DIR + " to a directory every process on this host shares");
            }
            allocatorSettings.put(ConfigKeys.HOST_LOCK_DIR, hostLockDir.toString());
            Duration maxLead = durationOr(ConfigKeys.MAX_LEAD, Duration.ZERO);
            Map<String, String> fleet = new TreeMap<>();
            fleet.put(ConfigKeys.EPOCH, layout.epochText());
            fleet.put(ConfigKeys.POSITIVE, Boolean.toString(layout.isPositive()));
            fleet.put(ConfigKeys.PRODUCT_BITS, Integer.toString(layout.productBits()));
            fleet.put(ConfigKeys.LEASE_TTL, Values.format(ttl));
            fleet.put(ConfigKeys.MAX_SKEW, Values.format(skewSetting));
            fleet.put(ConfigKeys.MAX_LEAD, Values.format(maxLead));
            int idc = intOr(ConfigKeys.IDC, 0);
            Duration backwardWait = durationOr(ConfigKeys.MAX_BACKWARD_WAIT, Duration.ofSeconds(1));
            // Each stripe is the generator an unstriped build makes, with its own allocator, lease listener and, for a
            // coordinator that remembers an instance's worker ID, its own instance name.
            // An anonymous class, not a lambda: a JVM spins a lambda's class at its first use, which a cold start pays for
            // every lambda on its path (StartupBenchmark); this class is loaded like any other.
            java.util.function.IntFunction<EkkoGenerator> starter = new java.util.function.IntFunction<>() {
                @Override
                public EkkoGenerator apply(int i) {
                    String stripeInstance = i == 0 ? instance : instance + ".stripe" + i;
                    LeaseRelay relay = new LeaseRelay();
                    // ekko.worker.id is the first stripe's preference only: the others have their own instance names, by which
                    // a coordinator gives each its previous worker ID back, and would race stripe 0 for the preferred one.
                    AllocatorContext context = AllocatorContext.builder().idc(idc).workerIds(pool)
                            .preferredWorkerId(i == 0 ? worker : -1).instance(stripeInstance).host(host).pid(pid).generator(generatorName)
                            .leaseTtl(ttl).clock(clock).settings(allocatorSettings).fleetSettings(fleet).leaseListener(relay).build();
                    WorkerAllocator allocator = provider.create(context);
                    GeneratorSettings gs = new GeneratorSettings(layout, context.idc(), product, clock, stateDir, allocatorName,
                            backwardWait, maxLead, reservation, report, skewSetting, margin, stripeInstance, host, pid);
                    return EkkoGenerator.start(gs, allocator, relay);
                }
            };
            return maxStripes == 1 ? starter.apply(0) : StripedGenerator.start(starter, stripes, maxStripes, stripeIdle, product);
        }

        /**
         * The providers a build needs. The core's own allocators ({@code host-local}, {@code manual}) and the application's
         * {@link #allocatorProvider} are resolved without a class-path scan when they are the allocator asked for and every
         * setting is theirs or the core's: {@link ServiceLoader} opens every jar of the class path to look for provider
         * files, which cost a cold start tens of milliseconds on a service's class path (StartupBenchmark). Otherwise every
         * provider on the class path is found, for the allocator and for the messages that name the known keys.
         */
        private Map<String, WorkerAllocatorProvider> providersFor(String allocatorName) {
            Map<String, WorkerAllocatorProvider> near = builtIns();
            if (provider != null) {
                near.put(provider.name(), provider);
            }
            if (near.containsKey(allocatorName) && unknownEnvironment.isEmpty() && knownKeys(near).containsAll(settings.keySet())) {
                return near;
            }
            Map<String, WorkerAllocatorProvider> all = providers();
            if (provider != null) {
                all.put(provider.name(), provider); // the application's own instance wins over the one found
            }
            return all;
        }

        /** {@return the allocators the core ships, by name} */
        private static Map<String, WorkerAllocatorProvider> builtIns() {
            Map<String, WorkerAllocatorProvider> builtIn = new TreeMap<>();
            WorkerAllocatorProvider hostLocal = new HostLocalAllocator.Provider();
            WorkerAllocatorProvider manual = new ManualAllocator.Provider();
            builtIn.put(hostLocal.name(), hostLocal);
            builtIn.put(manual.name(), manual);
            return builtIn;
        }

        private static Map<String, String> envNames(Set<String> keys) {
            Map<String, String> envToKey = new TreeMap<>();
            for (String key : keys) {
                envToKey.put(ConfigKeys.envName(key), key);
            }
            return envToKey;
        }

        private static Map<String, WorkerAllocatorProvider> providers() {
            Map<String, WorkerAllocatorProvider> found = new TreeMap<>();
            for (WorkerAllocatorProvider p : ServiceLoader.load(WorkerAllocatorProvider.class, Ekko.class.getClassLoader())) {
                found.putIfAbsent(p.name(), p);
            }
            return found;
        }

        /** {@return the core's keys and those of every provider found} */
        private static TreeSet<String> knownKeys(Map<String, WorkerAllocatorProvider> providers) {
            TreeSet<String> keys = new TreeSet<>(ConfigKeys.CORE);
            for (WorkerAllocatorProvider p : providers.values()) {
                keys.addAll(p.configKeys());
            }
            return keys;
        }

        private void checkKeys(Map<String, WorkerAllocatorProvider> providers) {
            TreeSet<String> known = knownKeys(providers);
            List<String> unknown = new ArrayList<>();
            for (String key : settings.keySet()) {
                if (!known.contains(key)) {
                    unknown.add(key + hint(key, providers));
                }
            }
            if (!unknown.isEmpty()) {
                throw new IllegalArgumentException("unknown configuration key" + (unknown.size() > 1 ? "s: " : ": ")
                        + String.join("; ", unknown) + ". Known keys: " + String.join(", ", known));
            }
            for (String name : unknownEnvironment) {
                LOG.log(System.Logger.Level.WARNING, "ignoring environment variable " + name + ": no such Ekko setting"
                        + hint(name.toLowerCase(java.util.Locale.ROOT).replace('_', '.'), providers));
            }
        }

        private static String hint(String key, Map<String, WorkerAllocatorProvider> providers) {
            for (Map.Entry<String, String[]> b : ConfigKeys.KNOWN_BACKENDS.entrySet()) {
                if (key.startsWith(b.getKey()) && !providers.containsKey(b.getValue()[0])) {
                    return " (a setting of allocator " + b.getValue()[0] + ", which is not on the class path: add " + b.getValue()[1] + ")";
                }
            }
            return "";
        }

        /**
         * {@return whether {@code name} is lower-case letters, digits and '-', starting with a letter} Scanned by hand: a regular
         * expression's compile costs a cold start about a millisecond.
         */
        static boolean isAllocatorName(String name) {
            if (name.isEmpty() || name.charAt(0) < 'a' || name.charAt(0) > 'z') {
                return false;
            }
            for (int i = 1; i < name.length(); i++) {
                char c = name.charAt(i);
                if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-')) {
                    return false;
                }
            }
            return true;
        }

        private static String missingAllocator(String name, Map<String, WorkerAllocatorProvider> providers) {
            String artifact = "an artifact that provides it";
            for (String[] b : ConfigKeys.KNOWN_BACKENDS.values()) {
                if (b[0].equals(name)) {
                    artifact = b[1];
                }
            }
            return "no worker allocator named \"" + name + "\" (" + ConfigKeys.ALLOCATOR + "); found: " + String.join(", ", providers.keySet())
                    + "; to use it, add " + artifact + " to the class path";
        }

        private int intOr(String key, int defaultValue) {
            String v = settings.get(key);
            return v == null ? defaultValue : Values.integer(key, v, Integer.MIN_VALUE, Integer.MAX_VALUE);
        }

        private Duration durationOr(String key, Duration defaultValue) {
            String v = settings.get(key);
            return v == null ? defaultValue : Values.duration(key, v);
        }

        /** {@return $XDG_STATE_HOME/ekko if set, else ~/.local/state/ekko} */
        static Path defaultStateDir() {
            return defaultStateDir(System.getenv("XDG_STATE_HOME"), System.getProperty("user.home"));
        }

        /**
         * @param xdgStateHome the XDG_STATE_HOME variable, or null
         * @param userHome the user.home property, or null
         * @return the default state directory
         * @throws IllegalStateException naming ekko.state.dir when neither gives an absolute directory (a container
         *     running under an arbitrary UID has no home: the JVM then says "?")
         */
        static Path defaultStateDir(String xdgStateHome, String userHome) {
            if (xdgStateHome != null && !xdgStateHome.isBlank() && Path.of(xdgStateHome.trim()).isAbsolute()) {
                return Path.of(xdgStateHome.trim(), "ekko");
            }
            if (userHome == null || userHome.isBlank() || !Path.of(userHome.trim()).isAbsolute()) {
                throw new IllegalStateException("must be set: " + ConfigKeys.STATE_DIR + " (environment variable "
                        + ConfigKeys.envName(ConfigKeys.STATE_DIR) + "), because there is no default: this user has no home directory"
                        + " (user.home=\"" + userHome + "\", as for an arbitrary container UID) and XDG_STATE_HOME is "
                        + (xdgStateHome == null || xdgStateHome.isBlank() ? "not set" : "not absolute (\"" + xdgStateHome + "\")")
                        + "; choose a writable directory that survives restarts (a volume in a container)");
            }
            return Path.of(userHome.trim(), ".local", "state", "ekko");
        }

        /**
         * @return {@code /run/lock/ekko} when it is a writable directory (an administrator may create it with mode 1777 for
         *     every user), or when {@code /run/lock} is writable to create it in (Debian, Ubuntu, RHEL as root); else
         *     {@code /tmp/ekko-host-locks} on Unix-like systems and {@code <java.io.tmpdir>/ekko-host-locks} elsewhere
         */
        static Path defaultHostLockDir() {
            Path runLock = Path.of("/run/lock");
            Path ekko = runLock.resolve("ekko");
            if ((Files.isDirectory(ekko) && Files.isWritable(ekko)) || (!Files.exists(ekko) && Files.isDirectory(runLock)
                    && Files.isWritable(runLock))) {
                return ekko;
            }
            Path tmp = Path.of("/tmp");
            return Files.isDirectory(tmp) ? tmp.resolve("ekko-host-locks") : Path.of(System.getProperty("java.io.tmpdir"), "ekko-host-locks");
        }

        private static String hostName() {
            String h = System.getenv("HOSTNAME");
            if (h != null && !h.isBlank()) {
                return h.trim();
            }
            try {
                return Files.readString(Path.of("/etc/hostname")).trim();
            } catch (IOException | RuntimeException e) {
                return "localhost";
            }
        }

        @Override
        public String toString() {
            Map<String, String> shown = new TreeMap<>();
            settings.forEach((k, v) -> shown.put(k, Values.printable(k, v)));
            return "Ekko.Builder" + shown;
        }
    }
}
