package dev.ekko.cli;

import dev.ekko.DecodedId;
import dev.ekko.Ekko;
import dev.ekko.EkkoException;
import dev.ekko.IdGenerator;
import dev.ekko.Layout;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The command line behind {@code ./ekko}: {@code next}, {@code decode}, {@code layout}. Settings come
 * from the environment ({@code EKKO_*}), system properties ({@code -Dekko.*}), then options, which win.
 */
public final class Main {

    static final String USAGE = String.join("\n",
            "usage: ekko <command> [options]",
            "  next [-n N]            print N new IDs (default 1), one per line, as unsigned decimals",
            "  decode [--json] ID...  print each ID's fields; --json prints one JSON object per ID",
            "  layout                 print the layout, its epoch, when bit 63 is first set and when time runs out",
            "options (each also a setting: --idc is ekko.idc / EKKO_IDC):",
            "  --epoch INSTANT        ekko.epoch, e.g. 2026-01-01T00:00:00Z (default)",
            "  --idc N                ekko.idc, 0..7 (default 0)",
            "  --product-bits N       ekko.product.bits, 0..4 (default 0)",
            "  --product N            ekko.product (default 0)",
            "  --positive             ekko.positive=true: IDs stay positive as signed 64-bit (38 time bits)",
            "  --worker N             ekko.worker.id: a fixed worker ID (manual allocator)",
            "  --allocator NAME       ekko.worker.allocator: host-local (default), manual, or a back end",
            "  --state-dir DIR        ekko.state.dir",
            "  --set KEY=VALUE        any other setting, e.g. --set ekko.redis.uri=redis://127.0.0.1:6379",
            "  -v, --verbose          log what the generator does (to stderr)");

    private static final Map<String, String> OPTION_KEYS = Map.of(
            "--epoch", "ekko.epoch", "--idc", "ekko.idc", "--product-bits", "ekko.product.bits", "--product", "ekko.product",
            "--worker", "ekko.worker.id", "--allocator", "ekko.worker.allocator", "--state-dir", "ekko.state.dir");

    /** Held strongly: java.util.logging forgets the level of a logger nobody references. */
    private static final Logger LOGGER = Logger.getLogger("dev.ekko");

    private Main() {
    }

    public static void main(String[] args) {
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(System.err, true, StandardCharsets.UTF_8);
        int code = run(args, out, err);
        out.flush();
        System.exit(code);
    }

    /** Usage error: one line, exit 2. */
    private static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    /**
     * Runs one command.
     *
     * @return the exit code: 0 done, 1 the generator refused (message on err), 2 bad usage or input
     */
    public static int run(String[] args, PrintStream out, PrintStream err) {
        boolean verbose = false;
        try {
            if (args.length == 0 || args[0].equals("-h") || args[0].equals("--help") || args[0].equals("help")) {
                (args.length == 0 ? err : out).println(USAGE);
                return args.length == 0 ? 2 : 0;
            }
            String command = args[0];
            Ekko.Builder builder = Ekko.newBuilder().environment();
            List<String> operands = new ArrayList<>();
            boolean json = false;
            int count = 1;
            for (int i = 1; i < args.length; i++) {
                String a = args[i];
                String key = OPTION_KEYS.get(a);
                if (key != null) {
                    builder.setting(key, value(args, ++i, a));
                } else if (a.equals("--positive")) {
                    builder.positiveIds(true);
                } else if (a.equals("--set")) {
                    String kv = value(args, ++i, a);
                    int eq = kv.indexOf('=');
                    if (eq <= 0) {
                        throw new UsageException("--set needs KEY=VALUE: " + kv);
                    }
                    builder.setting(kv.substring(0, eq), kv.substring(eq + 1));
                } else if (a.equals("-n") && command.equals("next")) {
                    String v = value(args, ++i, a);
                    try {
                        count = Integer.parseInt(v);
                    } catch (NumberFormatException e) {
                        count = -1;
                    }
                    if (count < 1) {
                        throw new UsageException("must be an integer >= 1: -n " + v);
                    }
                } else if (a.equals("--json") && command.equals("decode")) {
                    json = true;
                } else if (a.equals("-v") || a.equals("--verbose")) {
                    verbose = true;
                } else if (a.startsWith("-")) {
                    throw new UsageException("unknown option for " + command + ": " + a + " (ekko --help lists them)");
                } else {
                    operands.add(a);
                }
            }
            LOGGER.setLevel(verbose ? Level.INFO : Level.WARNING);
            switch (command) {
                case "next":
                    requireNoOperands(command, operands);
                    return next(builder, count, out);
                case "decode":
                    if (operands.isEmpty()) {
                        throw new UsageException("decode needs at least one ID");
                    }
                    return decode(builder.layout(), operands, json, out);
                case "layout":
                    requireNoOperands(command, operands);
                    return layout(builder.layout(), out);
                default:
                    throw new UsageException("unknown command: " + command + " (commands: next, decode, layout)");
            }
        } catch (UsageException | IllegalArgumentException e) {
            err.println("ekko: " + e.getMessage());
            return 2;
        } catch (EkkoException | IllegalStateException e) {
            err.println("ekko: " + e.getMessage());
            return 1;
        }
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new UsageException(option + " needs a value");
        }
        return args[i];
    }

    private static void requireNoOperands(String command, List<String> operands) {
        if (!operands.isEmpty()) {
            throw new UsageException(command + " takes no arguments: " + String.join(" ", operands));
        }
    }

    private static int next(Ekko.Builder builder, int count, PrintStream out) {
        try (IdGenerator g = builder.build()) {
            long[] ids = new long[Math.min(count, 1 << 16)];
            for (int done = 0; done < count; ) {
                int n = Math.min(ids.length, count - done);
                g.next(ids, 0, n);
                for (int i = 0; i < n; i++) {
                    out.println(Layout.format(ids[i]));
                }
                done += n;
            }
        }
        return 0;
    }

    private static int decode(Layout layout, List<String> operands, boolean json, PrintStream out) {
        for (String text : operands) {
            DecodedId d = layout.decode(Layout.parse(text));
            out.println(json ? d.toJson() : d.toString());
        }
        return 0;
    }

    private static int layout(Layout layout, PrintStream out) {
        Instant now = Instant.now();
        out.println(layout);
        out.println("epoch:          " + layout.epoch());
        out.println("bits:           time " + layout.timeBits() + " | idc " + Layout.IDC_BITS + " | worker " + layout.workerBits()
                + " | product " + layout.productBits() + " | sequence " + Layout.SEQUENCE_BITS);
        out.println("worker IDs:     " + layout.workerIds() + " per IDC, products: " + layout.products()
                + ", IDs per ms per worker and product: " + (1 << Layout.SEQUENCE_BITS));
        out.println("bit 63 set:     " + layout.signBitDate().map(Instant::toString).orElse("never (positive layout)")
                + (layout.signBitDate().isPresent() ? " (IDs are negative as signed 64-bit / BIGINT from then on)" : ""));
        Duration left = layout.remaining(now);
        out.println("time runs out:  " + layout.endOfTime() + (left.isNegative() ? " (already passed)" : " (" + left.toDays() + " days from now)"));
        return 0;
    }
}
