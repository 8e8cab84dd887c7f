package dev.ekko.cli;

import dev.ekko.DecodedId;
import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import dev.ekko.SegmentGenerator;
import dev.ekko.SegmentIds;
import dev.ekko.worker.etcd.EtcdAllocators;
import dev.ekko.worker.mysql.MysqlAllocators;
import dev.ekko.worker.mysql.NewGeneration;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.math.BigInteger;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.logging.Formatter;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/** The commands and their options, as picocli reads them. */
final class Commands {

    /** The settings {@code decode} and {@code layout} read; every other setting is the generator's. */
    static final List<String> LAYOUT_KEYS = List.of("ekko.epoch", "ekko.positive", "ekko.product.bits");

    private Commands() {
    }

    /** One setting from the command line: the option that gave it, its key and its value. */
    record Setting(String option, String key, String value) {
    }

    /** The layout options: every command reads them, before or after the command name. */
    static final class LayoutOptions {
        @Option(names = "--epoch", paramLabel = "INSTANT",
                description = "ekko.epoch: the instant IDs count time from, UTC, e.g. 2026-01-01T00:00:00Z (the default)")
        String epoch;

        @Option(names = "--positive", description = "ekko.positive=true: 38 time bits, so IDs stay positive as signed 64-bit")
        boolean positive;

        @Option(names = "--product-bits", paramLabel = "N", description = "ekko.product.bits: bits of product line, 0..4 (default 0)")
        String productBits;

        void addTo(List<Setting> settings) {
            add(settings, "--epoch", "ekko.epoch", epoch);
            add(settings, "--positive", "ekko.positive", positive ? "true" : null);
            add(settings, "--product-bits", "ekko.product.bits", productBits);
        }
    }

    /** The generator's options: {@code next} reads them; given before another command, they are not read. */
    static final class GeneratorOptions {
        @Option(names = "--idc", paramLabel = "N", description = "ekko.idc: the datacenter, 0..7 (default 0)")
        String idc;

        @Option(names = "--product", paramLabel = "N", description = "ekko.product: the product line, below 2^product-bits (default 0)")
        String product;

        @Option(names = "--worker", paramLabel = "N", description = "ekko.worker.id: a fixed worker ID (the manual allocator)")
        String worker;

        @Option(names = "--allocator", paramLabel = "NAME",
                description = "ekko.worker.allocator: host-local (default), manual, or a back end: redis, mysql, etcd")
        String allocator;

        @Option(names = "--state-dir", paramLabel = "DIR", description = "ekko.state.dir: where state files live")
        String stateDir;

        @Option(names = "--set", paramLabel = "KEY=VALUE",
                description = "any setting, e.g. --set ekko.redis.uri=redis://127.0.0.1:6379 (repeatable)")
        List<String> set = new ArrayList<>();

        @Option(names = {"-v", "--verbose"}, description = "log what the generator does (INFO and above, to stderr)")
        boolean verbose;

        void addTo(List<Setting> settings) {
            add(settings, "--idc", "ekko.idc", idc);
            add(settings, "--product", "ekko.product", product);
            add(settings, "--worker", "ekko.worker.id", worker);
            add(settings, "--allocator", "ekko.worker.allocator", allocator);
            add(settings, "--state-dir", "ekko.state.dir", stateDir);
            for (String kv : set) {
                int eq = kv.indexOf('=');
                if (eq <= 0) {
                    throw new Main.UsageError("invalid value for option --set: must be KEY=VALUE, e.g. ekko.redis.uri=redis://127.0.0.1:6379: "
                            + kv);
                }
                add(settings, "--set", kv.substring(0, eq), kv.substring(eq + 1));
            }
        }
    }

    private static void add(List<Setting> settings, String option, String key, String value) {
        if (value != null) {
            settings.add(new Setting(option, key, value));
        }
    }

    /** Applies options to a builder; a bad value names the option, the key, the value and what is allowed. */
    static void apply(Ekko.Builder builder, List<Setting> settings) {
        for (Setting s : settings) {
            try {
                builder.setting(s.key(), s.value());
            } catch (IllegalArgumentException e) {
                throw new Main.UsageError("invalid value for option " + s.option() + ": " + e.getMessage());
            }
        }
    }

    /** {@code -n}: 1..2147483647; a larger number is reported as an overflow, not as "not a number". */
    static final class CountConverter implements ITypeConverter<Integer> {
        @Override
        public Integer convert(String value) {
            String t = value.trim();
            if (!t.matches("[+-]?[0-9]+")) {
                throw new TypeConversionException("must be an integer from 1 to " + Integer.MAX_VALUE + ": " + value);
            }
            BigInteger n = new BigInteger(t);
            if (n.compareTo(BigInteger.valueOf(Integer.MAX_VALUE)) > 0) {
                throw new TypeConversionException("integer overflow: " + value + " is more than " + Integer.MAX_VALUE + ", the most allowed");
            }
            if (n.signum() <= 0) {
                throw new TypeConversionException("must be an integer from 1 to " + Integer.MAX_VALUE + ": " + value);
            }
            return n.intValue();
        }
    }

    @Command(name = "ekko", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            subcommands = {Next.class, Decode.class, LayoutCommand.class, SegmentCommand.class, Serve.class, MysqlCommand.class,
                EtcdCommand.class, Help.class},
            synopsisSubcommandLabel = "COMMAND",
            description = {"Unique, roughly time-ordered 64-bit IDs: issue them, decode them, show the layout.",
                "Options may come before or after the command; --opt=value and -- work as usual."},
            footerHeading = "%n",
            footer = {"Settings: EKKO_* environment variables (EKKO_IDC is ekko.idc), then -Dekko.* system properties, then options,"
                + " which win. decode and layout read only ekko.epoch, ekko.positive and ekko.product.bits.",
                "",
                "Exit status: 0 done; 1 the generator refused (clock, state file, lease, coordinator); 2 a bad command, option, value"
                + " or combination of settings, or a bad ID for decode; 141 standard output was closed.",
                "",
                "Examples:",
                "  ekko next -n 5",
                "  EKKO_STATE_DIR=/tmp/ekko ekko next --json",
                "  ekko --idc 2 next --worker 7",
                "  ekko decode --json 942501435612856320",
                "  ekko layout --epoch=2025-01-01T00:00:00Z --positive",
                "  ekko serve --set ekko.server.http.port=8080 --set ekko.worker.allocator=redis --set ekko.redis.uri=redis://r:6379",
                "  EKKO_MYSQL_URL=jdbc:mysql://db:3306/ids EKKO_MYSQL_USER=ids EKKO_MYSQL_PASSWORD=... ekko mysql new-generation",
                "  source <(ekko completion)"})
    static final class Root implements Callable<Integer> {
        final PrintStream out;
        final PrintStream err;
        final Map<String, String> env;

        @Mixin
        LayoutOptions layoutOptions;

        @Mixin
        GeneratorOptions generatorOptions;

        @Spec
        CommandSpec spec;

        Root(PrintStream out, PrintStream err, Map<String, String> env) {
            this.out = out;
            this.err = err;
            this.env = env;
        }

        @Override
        public Integer call() {
            return needsCommand(spec, "a command is needed");
        }

        /** The layout from the layout settings only: EKKO_* variables, -D system properties, then options. */
        Layout layoutOnly(LayoutOptions own) {
            Ekko.Builder b = Ekko.newBuilder();
            for (String key : LAYOUT_KEYS) {
                String name = key.toUpperCase(Locale.ROOT).replace('.', '_');
                String v = env.get(name);
                if (v != null) {
                    try {
                        b.setting(key, v);
                    } catch (IllegalArgumentException e) {
                        throw new Main.UsageError(e.getMessage() + " (from environment variable " + name + ")");
                    }
                }
            }
            for (String key : LAYOUT_KEYS) {
                String v = System.getProperty(key);
                if (v != null) {
                    try {
                        b.setting(key, v);
                    } catch (IllegalArgumentException e) {
                        throw new Main.UsageError(e.getMessage() + " (from system property " + key + ")");
                    }
                }
            }
            List<Setting> settings = new ArrayList<>();
            layoutOptions.addTo(settings);
            own.addTo(settings);
            apply(b, settings);
            return b.layout();
        }

        /** Log records in one line each on stderr, {@code ekko: LEVEL message}; INFO only with -v. */
        void configureLogging(boolean verbose) {
            Logger root = Logger.getLogger("");
            for (Handler h : root.getHandlers()) {
                root.removeHandler(h);
            }
            Formatter text = new SimpleFormatter();
            Handler oneLine = new Handler() {
                @Override
                public void publish(LogRecord r) {
                    if (isLoggable(r)) {
                        String thrown = r.getThrown() == null ? "" : ": " + r.getThrown();
                        err.println("ekko: " + levelName(r.getLevel()) + " " + text.formatMessage(r) + thrown);
                    }
                }

                @Override
                public void flush() {
                    err.flush();
                }

                @Override
                public void close() {
                    flush();
                }
            };
            oneLine.setLevel(Level.ALL);
            root.addHandler(oneLine);
            root.setLevel(verbose ? Level.INFO : Level.WARNING);
        }

        private static String levelName(Level level) {
            if (level.intValue() >= Level.SEVERE.intValue()) {
                return "ERROR";
            }
            if (level.intValue() >= Level.WARNING.intValue()) {
                return "WARNING";
            }
            if (level.intValue() >= Level.INFO.intValue()) {
                return "INFO";
            }
            return "DEBUG";
        }
    }

    /** A command that only groups others was run alone: says so, names them, prints its usage; exit status 2. */
    static int needsCommand(CommandSpec spec, String what) {
        PrintWriter e = spec.commandLine().getErr();
        e.println("ekko: " + what + " (commands: " + String.join(", ", spec.subcommands().keySet()) + ")");
        spec.commandLine().usage(e);
        return Main.USAGE;
    }

    static void checkOutput(PrintStream out) {
        if (out.checkError()) {
            throw new Main.OutputClosedException();
        }
    }

    @Command(name = "next", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            description = {"Print N new IDs, one per line, as unsigned decimals (exact in JSON and JavaScript as strings).",
                "Stops at once when standard output is closed (ekko next -n 5000000 | head -1)."})
    static final class Next implements Callable<Integer> {
        @ParentCommand
        Root root;

        @Option(names = "-n", paramLabel = "N", converter = CountConverter.class,
                description = "how many IDs, 1..2147483647 (default 1)")
        int count = 1;

        @Option(names = "--json", description = "one JSON object per line, as decode --json prints")
        boolean json;

        @Mixin
        LayoutOptions layoutOptions;

        @Mixin
        GeneratorOptions generatorOptions;

        @Override
        public Integer call() {
            root.configureLogging(root.generatorOptions.verbose || generatorOptions.verbose);
            Ekko.Builder builder = Ekko.newBuilder().environment();
            List<Setting> settings = new ArrayList<>();
            root.layoutOptions.addTo(settings);
            root.generatorOptions.addTo(settings);
            layoutOptions.addTo(settings);
            generatorOptions.addTo(settings);
            apply(builder, settings);
            PrintStream out = root.out;
            try (IdGenerator g = builder.build()) {
                Layout layout = g.layout();
                long[] ids = new long[Math.min(count, 1024)];
                for (int done = 0; done < count; ) {
                    int n = Math.min(ids.length, count - done);
                    g.next(ids, 0, n);
                    for (int i = 0; i < n; i++) {
                        out.println(json ? layout.decode(ids[i]).toJson() : Layout.format(ids[i]));
                    }
                    checkOutput(out);
                    done += n;
                }
            }
            return Main.OK;
        }
    }

    @Command(name = "decode", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            description = {"Print the fields of each ID: timestamp, IDC, worker, product line, sequence.",
                "A bad ID is reported (one line on stderr) and the others are still decoded; the exit status is then 2."})
    static final class Decode implements Callable<Integer> {
        @ParentCommand
        Root root;

        @Option(names = "--json", description = "one JSON object per ID and line:"
                + " {\"id\",\"timestamp\",\"epochMillis\",\"idc\",\"worker\",\"product\",\"sequence\"}; id is a string")
        boolean json;

        @Mixin
        LayoutOptions layoutOptions;

        @Parameters(paramLabel = "ID", arity = "1..*", description = "unsigned decimal IDs, 0..18446744073709551615")
        List<String> ids;

        @Override
        public Integer call() {
            root.configureLogging(false);
            Layout layout = root.layoutOnly(layoutOptions);
            int bad = 0;
            for (String text : ids) {
                DecodedId d;
                try {
                    d = layout.decode(Layout.parse(text));
                } catch (IllegalArgumentException e) {
                    root.err.println("ekko: " + e.getMessage());
                    bad++;
                    continue;
                }
                root.out.println(json ? d.toJson() : d.toString());
                checkOutput(root.out);
            }
            return bad == 0 ? Main.OK : Main.USAGE;
        }
    }

    @Command(name = "layout", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            description = "Print the layout: its epoch, its bits, when bit 63 is first set and when time runs out.")
    static final class LayoutCommand implements Callable<Integer> {
        @ParentCommand
        Root root;

        @Option(names = "--json", description = "one JSON object: layout, epoch, positive, timeBits, idcBits, workerBits, productBits,"
                + " sequenceBits, workerIds, products, idsPerMillisecond, bit63Set (null if never), endOfTime, daysLeft")
        boolean json;

        @Mixin
        LayoutOptions layoutOptions;

        @Override
        public Integer call() {
            root.configureLogging(false);
            Layout layout = root.layoutOnly(layoutOptions);
            Instant now = Instant.now();
            Duration left = layout.remaining(now);
            PrintStream out = root.out;
            if (json) {
                out.println("{\"layout\":" + Json.string(layout.toString()) + ",\"epoch\":" + Json.string(layout.epoch().toString())
                        + ",\"positive\":" + layout.isPositive() + ",\"timeBits\":" + layout.timeBits() + ",\"idcBits\":" + Layout.IDC_BITS
                        + ",\"workerBits\":" + layout.workerBits() + ",\"productBits\":" + layout.productBits()
                        + ",\"sequenceBits\":" + Layout.SEQUENCE_BITS + ",\"workerIds\":" + layout.workerIds() + ",\"products\":" + layout.products()
                        + ",\"idsPerMillisecond\":" + (1 << Layout.SEQUENCE_BITS)
                        + ",\"bit63Set\":" + layout.signBitDate().map(i -> Json.string(i.toString())).orElse("null")
                        + ",\"endOfTime\":" + Json.string(layout.endOfTime().toString()) + ",\"daysLeft\":" + left.toDays() + "}");
            } else {
                out.println(layout);
                out.println("epoch:          " + layout.epoch());
                out.println("bits:           time " + layout.timeBits() + " | idc " + Layout.IDC_BITS + " | worker " + layout.workerBits()
                        + " | product " + layout.productBits() + " | sequence " + Layout.SEQUENCE_BITS);
                out.println("worker IDs:     " + layout.workerIds() + " per IDC, products: " + layout.products()
                        + ", IDs per ms per worker and product: " + (1 << Layout.SEQUENCE_BITS));
                out.println("bit 63 set:     " + layout.signBitDate().map(Instant::toString).orElse("never (positive layout)")
                        + (layout.signBitDate().isPresent() ? " (IDs are negative as signed 64-bit / BIGINT from then on)" : ""));
                out.println("time runs out:  " + layout.endOfTime()
                        + (left.isNegative() ? " (already passed)" : " (" + left.toDays() + " days from now)"));
            }
            checkOutput(out);
            return Main.OK;
        }
    }

    @Command(name = "mysql", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            subcommands = {MysqlNewGeneration.class}, synopsisSubcommandLabel = "COMMAND",
            description = "Maintenance of the mysql back end's tables (docs/mysql.md): new-generation.")
    static final class MysqlCommand implements Callable<Integer> {
        @ParentCommand
        Root root;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            return needsCommand(spec, "mysql needs a command");
        }
    }

    @Command(name = "new-generation", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            description = {"Start a new generation in the mysql back end's tables: the one safe step after any of them was restored"
                + " from a backup (docs/mysql.md). Every mark written before becomes a lower bound, so each worker ID's next holder"
                + " waits one lease TTL plus the tolerated skew once; live holders carry on.",
                "Reads ekko.mysql.url, ekko.mysql.user, ekko.mysql.password, ekko.mysql.table and ekko.mysql.timeout from EKKO_MYSQL_*"
                + " variables, -Dekko.mysql.* system properties and --set (which wins). Prefer EKKO_MYSQL_PASSWORD to --set for the"
                + " password: a command line is visible to every user of the host."})
    static final class MysqlNewGeneration implements Callable<Integer> {
        private static final String PREFIX = "ekko.mysql.";

        @ParentCommand
        MysqlCommand parent;

        @Option(names = "--set", paramLabel = "KEY=VALUE", description = "an ekko.mysql.* setting, e.g. --set ekko.mysql.table=ids (repeatable)")
        List<String> set = new ArrayList<>();

        @Override
        public Integer call() {
            Root root = parent.root;
            root.configureLogging(false);
            NewGeneration done = MysqlAllocators.startNewGeneration(backEndSettings(root, PREFIX, "ekko.mysql.table=ids", set));
            root.out.println(done);
            checkOutput(root.out);
            return Main.OK;
        }
    }

    /**
     * The settings of one back end for a maintenance command: {@code EKKO_<BACKEND>_*} variables, then {@code -D} system
     * properties, then {@code --set} options (which win), keeping only keys under {@code prefix}.
     */
    static Map<String, String> backEndSettings(Root root, String prefix, String example, List<String> set) {
        Map<String, String> settings = new HashMap<>();
        String envPrefix = prefix.toUpperCase(Locale.ROOT).replace('.', '_');
        root.env.forEach((name, value) -> {
            if (name.startsWith(envPrefix)) {
                settings.put(name.toLowerCase(Locale.ROOT).replace('_', '.'), value);
            }
        });
        System.getProperties().forEach((k, v) -> {
            if (k instanceof String key && key.startsWith(prefix)) {
                settings.put(key, (String) v);
            }
        });
        for (String kv : set) {
            int eq = kv.indexOf('=');
            if (eq <= 0 || !kv.startsWith(prefix)) {
                throw new Main.UsageError("invalid value for option --set: must be KEY=VALUE with a key starting " + prefix
                        + ", e.g. " + example + ": " + (kv.startsWith(prefix) ? kv : kv.replaceFirst("=.*", "=...")));
            }
            settings.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        return settings;
    }

    @Command(name = "etcd", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            subcommands = {EtcdNewGeneration.class}, synopsisSubcommandLabel = "COMMAND",
            description = "Maintenance of the etcd back end's keys (docs/etcd.md): new-generation.")
    static final class EtcdCommand implements Callable<Integer> {
        @ParentCommand
        Root root;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            return needsCommand(spec, "etcd needs a command");
        }
    }

    @Command(name = "new-generation", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            description = {"Start a new generation in the etcd back end's namespace: the step after etcd was restored from a snapshot"
                + " with its old cluster token (docs/etcd.md). Every mark written before becomes a lower bound, so each worker ID's"
                + " next holder waits one lease TTL plus the tolerated skew once; live holders carry on.",
                "Reads ekko.etcd.endpoints, ekko.etcd.namespace, ekko.etcd.user, ekko.etcd.password, ekko.etcd.timeout and"
                + " ekko.etcd.tls.ca from EKKO_ETCD_* variables, -Dekko.etcd.* system properties and --set (which wins). Prefer"
                + " EKKO_ETCD_PASSWORD to --set for the password: a command line is visible to every user of the host."})
    static final class EtcdNewGeneration implements Callable<Integer> {
        private static final String PREFIX = "ekko.etcd.";

        @ParentCommand
        EtcdCommand parent;

        @Option(names = "--set", paramLabel = "KEY=VALUE", description = "an ekko.etcd.* setting, e.g. --set ekko.etcd.namespace=ids (repeatable)")
        List<String> set = new ArrayList<>();

        @Override
        public Integer call() throws InterruptedException {
            Root root = parent.root;
            root.configureLogging(false);
            root.out.println(EtcdAllocators.startNewGeneration(backEndSettings(root, PREFIX, "ekko.etcd.namespace=ids", set)));
            checkOutput(root.out);
            return Main.OK;
        }
    }

    @Command(name = "segment", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            subcommands = {SegmentDefine.class, SegmentNext.class}, synopsisSubcommandLabel = "COMMAND",
            description = {"Segment mode: dense numbers per name from ranges leased out of MySQL, Redis or etcd (README, Segment mode).",
                "Reads ekko.segment.store (mysql, redis, etcd), ekko.segment.* and the store's ekko.<store>.* settings from EKKO_*"
                + " variables, -Dekko.* system properties and --set (which wins)."})
    static final class SegmentCommand implements Callable<Integer> {
        @ParentCommand
        Root root;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            return needsCommand(spec, "segment needs a command");
        }
    }

    /** The segment settings of a segment command: EKKO_* variables, -D properties, then --set. */
    static SegmentIds segments(Root root, List<String> set) {
        Map<String, String> settings = backEndSettings(root, "ekko.", "ekko.segment.store=mysql", set);
        return Ekko.newSegmentBuilder().settings(settings).build();
    }

    @Command(name = "define", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            description = "Create a name at the store if it is missing (a name that exists keeps its counter).")
    static final class SegmentDefine implements Callable<Integer> {
        @ParentCommand
        SegmentCommand parent;

        @Parameters(index = "0", paramLabel = "NAME", description = "the name: 1 to 128 printable ASCII characters without blanks")
        String name;

        @Option(names = "--start", paramLabel = "N", description = "the first number (default 1)")
        long start = 1;

        @Option(names = "--max", paramLabel = "N", description = "the largest number (default 9223372036854775807)")
        long max = Long.MAX_VALUE;

        @Option(names = "--set", paramLabel = "KEY=VALUE", description = "an ekko.* setting, e.g. --set ekko.segment.store=mysql (repeatable)")
        List<String> set = new ArrayList<>();

        @Override
        public Integer call() {
            Root root = parent.root;
            root.configureLogging(false);
            try (SegmentIds segments = segments(root, set)) {
                segments.define(name, start, max);
                root.out.println("defined \"" + name + "\" (start " + start + ", max " + max + ") at " + segments);
            }
            checkOutput(root.out);
            return Main.OK;
        }
    }

    @Command(name = "next", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            description = "Print N numbers of a name, one per line.")
    static final class SegmentNext implements Callable<Integer> {
        @ParentCommand
        SegmentCommand parent;

        @Parameters(index = "0", paramLabel = "NAME", description = "a defined name")
        String name;

        @Option(names = "-n", paramLabel = "N", converter = CountConverter.class, description = "how many numbers, 1..2147483647 (default 1)")
        int count = 1;

        @Option(names = "--set", paramLabel = "KEY=VALUE", description = "an ekko.* setting, e.g. --set ekko.segment.store=mysql (repeatable)")
        List<String> set = new ArrayList<>();

        @Override
        public Integer call() {
            Root root = parent.root;
            root.configureLogging(false);
            PrintStream out = root.out;
            try (SegmentIds segments = segments(root, set)) {
                SegmentGenerator g = segments.generator(name);
                long[] numbers = new long[Math.min(count, 1024)];
                for (int done = 0; done < count; ) {
                    int n = Math.min(numbers.length, count - done);
                    g.next(numbers, 0, n);
                    for (int i = 0; i < n; i++) {
                        out.println(numbers[i]);
                    }
                    checkOutput(out);
                    done += n;
                }
            }
            return Main.OK;
        }
    }

    @Command(name = "serve", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            description = {"Serve snowflake IDs and segment numbers over HTTP/JSON and gRPC (ekko-server, docs/server.md) until"
                + " SIGTERM or Ctrl-C, then give the worker ID back.",
                "Reads ekko.server.* (ports, token, TLS), the generator's keys and ekko.segment.* from EKKO_* variables, -Dekko.*"
                + " system properties, the generator options given before the command, and --set, which wins."})
    static final class Serve implements Callable<Integer> {
        @ParentCommand
        Root root;

        @Option(names = "--set", paramLabel = "KEY=VALUE",
                description = "an ekko.* setting, e.g. --set ekko.server.http.port=8080 (repeatable)")
        List<String> set = new ArrayList<>();

        @Override
        public Integer call() {
            root.configureLogging(true);
            List<Setting> settings = new ArrayList<>();
            root.layoutOptions.addTo(settings);
            root.generatorOptions.addTo(settings);
            List<String> args = new ArrayList<>();
            for (Setting st : settings) {
                args.add(st.key() + "=" + st.value());
            }
            for (String kv : set) {
                if (kv.indexOf('=') <= 0 || !kv.startsWith("ekko.")) {
                    throw new Main.UsageError("invalid value for option --set: must be KEY=VALUE with a key starting ekko., e.g."
                            + " ekko.server.http.port=8080: " + (kv.startsWith("ekko.") ? kv : kv.replaceFirst("=.*", "=...")));
                }
                args.add(kv);
            }
            return dev.ekko.server.Main.run(args.toArray(new String[0]), root.out, root.err);
        }
    }

    @Command(name = "help", helpCommand = true, mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
            description = "Print the manual: the full usage of ekko and of every command; help COMMAND prints that command's.")
    static final class Help implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Parameters(paramLabel = "COMMAND", arity = "0..1", description = "one command")
        String command;

        @Override
        public Integer call() {
            CommandLine top = spec.root().commandLine();
            PrintWriter o = top.getOut();
            if (command != null) {
                CommandLine sub = top.getSubcommands().get(command);
                if (sub == null) {
                    throw new Main.UsageError("unknown command: " + command + " (commands: " + String.join(", ", top.getSubcommands().keySet()) + ")");
                }
                sub.usage(o);
                return Main.OK;
            }
            o.println("EKKO(1)");
            o.println();
            o.println("NAME");
            o.println("  ekko - issue, decode and explain Ekko's unique 64-bit IDs");
            o.println();
            top.usage(o);
            for (Map.Entry<String, CommandLine> e : top.getSubcommands().entrySet()) {
                o.println();
                o.println("COMMAND " + e.getKey().toUpperCase(Locale.ROOT));
                o.println();
                e.getValue().usage(o);
            }
            o.flush();
            return Main.OK;
        }
    }

    /** The little JSON the commands write. */
    static final class Json {
        private Json() {
        }

        static String string(String s) {
            StringBuilder b = new StringBuilder("\"");
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (c == '"' || c == '\\') {
                    b.append('\\').append(c);
                } else if (c < 0x20) {
                    b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                } else {
                    b.append(c);
                }
            }
            return b.append('"').toString();
        }
    }
}
