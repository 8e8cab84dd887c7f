package dev.ekko.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.DecodedId;
import dev.ekko.Layout;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The command line, in process: outputs, exit codes, one-line errors, and each convention of the issue. */
class MainTest {

    @TempDir
    Path stateDir;

    /** Its own host lock directory, so worker IDs do not contend with other tests or test runs on this host. */
    @TempDir
    Path hostLocks;

    private String out;
    private String err;

    private int run(String... args) {
        return runWith(Map.of(), args);
    }

    private int runWith(Map<String, String> env, String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8), env);
        out = o.toString(StandardCharsets.UTF_8);
        err = e.toString(StandardCharsets.UTF_8);
        return code;
    }

    /** next's options that keep a test's generator to itself. */
    private List<String> own() {
        return List.of("--state-dir", stateDir.toString(), "--set", "ekko.host.lock.dir=" + hostLocks);
    }

    private int next(String... args) {
        String[] all = new String[args.length + 4];
        System.arraycopy(args, 0, all, 0, args.length);
        System.arraycopy(own().toArray(new String[0]), 0, all, args.length, 4);
        return run(all);
    }

    @Test
    void nextPrintsUnsignedDecimalsOnePerLineInIncreasingOrder() {
        assertEquals(0, next("next", "-n", "2500", "--idc", "3"), err);
        String[] lines = out.split("\n");
        assertEquals(2500, lines.length);
        long prev = Layout.parse(lines[0]);
        for (int i = 1; i < lines.length; i++) {
            long id = Layout.parse(lines[i]);
            assertTrue(Layout.compare(prev, id) < 0);
            prev = id;
        }
        assertEquals(3, Layout.defaults().decode(prev).idc());
        assertEquals("", err);
    }

    @Test
    void decodeJsonPrintsOneObjectPerIdWithTheDocumentedKeys() {
        long id = Layout.defaults().encode(Layout.DEFAULT_EPOCH.toEpochMilli() + 1234, 2, 77, 0, 5);
        assertEquals(0, run("decode", "--json", Layout.format(id), "0"), err);
        assertEquals("{\"id\":\"" + Layout.format(id) + "\",\"timestamp\":\"2026-01-01T00:00:01.234Z\",\"epochMillis\":"
                + (Layout.DEFAULT_EPOCH.toEpochMilli() + 1234) + ",\"idc\":2,\"worker\":77,\"product\":0,\"sequence\":5}\n"
                + "{\"id\":\"0\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"epochMillis\":" + Layout.DEFAULT_EPOCH.toEpochMilli()
                + ",\"idc\":0,\"worker\":0,\"product\":0,\"sequence\":0}\n", out);
    }

    @Test
    void decodeUsesTheLayoutOptions() {
        String id = Long.toUnsignedString((1L << 25) | (5 << 14) | (9 << 10) | 3);
        String expected = id + " timestamp=2025-01-01T00:00:00.001Z idc=0 worker=5 product=9 sequence=3\n";
        assertEquals(0, run("decode", "--product-bits", "4", "--epoch", "2025-01-01T00:00:00Z", id));
        assertEquals(expected, out);
        // before the command, and --opt=value
        assertEquals(0, run("--product-bits=4", "--epoch=2025-01-01T00:00:00Z", "decode", id));
        assertEquals(expected, out);
        // after the IDs
        assertEquals(0, run("decode", id, "--product-bits=4", "--epoch", "2025-01-01T00:00:00Z"));
        assertEquals(expected, out);
    }

    @Test
    void layoutPrintsTheDates() {
        assertEquals(0, run("layout"));
        assertTrue(out.contains("bit 63 set:     2034-09-17T10:58:26.944Z"), out);
        assertTrue(out.contains("time runs out:  2043-06-03T21:56:53.888Z"), out);
        assertEquals(0, run("layout", "--positive"));
        assertTrue(out.contains("bit 63 set:     never (positive layout)"), out);
        assertTrue(out.contains("time runs out:  2034-09-17T10:58:26.944Z"), out);
        assertEquals(0, run("--positive", "layout"));
        assertTrue(out.contains("bit 63 set:     never (positive layout)"), out);
    }

    @Test
    void badInputGivesOneLineAndExitCode2() {
        assertEquals(2, run("next", "--idc", "9"));
        assertEquals("ekko: invalid value for option --idc: must be >= 0 && <= 7: ekko.idc=9\n", err);
        assertEquals(2, run("decode", "12x"));
        assertEquals("ekko: must be an unsigned decimal of 1 to 20 digits, at most 18446744073709551615: id=\"12x\"\n", err);
        assertEquals(2, run("next", "-n", "0"));
        assertEquals("ekko: invalid value for option '-n': must be an integer from 1 to 2147483647: 0 (ekko next --help)\n", err);
        assertEquals(2, run("next", "-n", "ten"));
        assertEquals("ekko: invalid value for option '-n': must be an integer from 1 to 2147483647: ten (ekko next --help)\n", err);
        assertEquals(2, run("next", "-n"));
        assertEquals("ekko: missing required parameter for option '-n' (N) (ekko next --help)\n", err);
        assertEquals(2, run("next", "--frobnicate"));
        assertEquals("ekko: unknown option for ekko next: --frobnicate (ekko next --help lists them)\n", err);
        assertEquals(2, run("decode", "--idc", "3", "1"));
        assertEquals("ekko: unknown option for ekko decode: --idc (ekko decode --help lists them)\n", err);
        assertEquals(2, run("nxt"));
        assertEquals("ekko: unknown command: nxt (commands: next, decode, layout, segment, serve, mysql, etcd, help, completion; did you mean next?)\n", err);
        assertEquals(2, run("layout", "extra"));
        assertEquals("ekko: ekko layout takes no arguments: extra\n", err);
        assertEquals(2, run("decode"));
        assertEquals("ekko: missing required parameter: 'ID' (ekko decode --help)\n", err);
        assertEquals(2, run("next", "--set", "foo"));
        assertEquals("ekko: invalid value for option --set: must be KEY=VALUE, e.g. ekko.redis.uri=redis://127.0.0.1:6379: foo\n", err);
        assertEquals(2, next("next", "--set", "ekko.wroker.id=3"));
        assertTrue(err.startsWith("ekko: unknown configuration key: ekko.wroker.id. Known keys: "), err);
        assertEquals(1, err.split("\n").length);
        assertEquals(2, next("next", "--allocator", "zookeeper"));
        assertEquals("ekko: no worker allocator named \"zookeeper\" (ekko.worker.allocator); found: etcd, host-local, manual, mysql, redis;"
                + " to use it, add an artifact that provides it to the class path\n", err);
        assertEquals(2, run("mysql"));
        assertTrue(err.startsWith("ekko: mysql needs a command (commands: new-generation)\nUsage: ekko mysql "), err);
        assertEquals(2, run("etcd"));
        assertTrue(err.startsWith("ekko: etcd needs a command (commands: new-generation)\nUsage: ekko etcd "), err);
        assertEquals(2, run("help", "nxt"));
        assertEquals("ekko: unknown command: nxt (commands: next, decode, layout, segment, serve, mysql, etcd, help, completion)\n", err);
    }

    @Test
    void aCombinationOfSettingsTheBuildRefusesIsABadValueToo() {
        // used to exit 1: the builder's cross-check (IllegalStateException) is a usage error, not a refusal
        assertEquals(2, next("next", "--product", "3"));
        assertEquals("ekko: must be < 1 with ekko.product.bits=0: ekko.product=3\n", err);
        assertEquals(2, next("next", "--product-bits", "2", "--worker", "1024"));
        assertEquals("ekko: must be < 1024 with ekko.product.bits=2: ekko.worker.id=1024\n", err);
    }

    @Test
    void aRefusalByTheGeneratorExits1() throws IOException {
        Files.write(stateDir.resolve("idc0-worker5.state"), new byte[128]);
        assertEquals(1, next("next", "--worker", "5"));
        assertTrue(err.startsWith("ekko: state file is damaged or not an Ekko state file"), err);
        assertEquals(1, err.split("\n").length, err);
        assertEquals("", out);
    }

    @Test
    void integerOverflowIsReportedAsSuch() {
        assertEquals(2, run("next", "-n", "99999999999999"));
        assertEquals("ekko: invalid value for option '-n': integer overflow: 99999999999999 is more than 2147483647, the most allowed"
                + " (ekko next --help)\n", err);
        assertEquals(2, run("next", "-n", "2147483648"));
        assertTrue(err.startsWith("ekko: invalid value for option '-n': integer overflow: 2147483648 "), err);
        assertEquals(2, run("decode", "18446744073709551616"));
        assertEquals("ekko: must be at most 18446744073709551615: id=18446744073709551616\n", err);
    }

    @Test
    void decodeReportsEveryBadIdAndDecodesTheRest() {
        assertEquals(2, run("decode", "1", "12x", "2", "18446744073709551616", "--", "-5", "3"));
        assertEquals("1 timestamp=2026-01-01T00:00:00Z idc=0 worker=0 product=0 sequence=1\n"
                + "2 timestamp=2026-01-01T00:00:00Z idc=0 worker=0 product=0 sequence=2\n"
                + "3 timestamp=2026-01-01T00:00:00Z idc=0 worker=0 product=0 sequence=3\n", out);
        String[] lines = err.split("\n");
        assertEquals(3, lines.length, err);
        assertTrue(lines[0].contains("id=\"12x\""), err);
        assertTrue(lines[1].contains("id=18446744073709551616"), err);
        assertTrue(lines[2].contains("-5"), err);
        for (String line : lines) {
            assertTrue(line.startsWith("ekko: "), line);
        }
    }

    @Test
    void doubleDashEndsTheOptions() {
        assertEquals(0, run("decode", "--json", "--", "7"));
        assertTrue(out.startsWith("{\"id\":\"7\","), out);
        assertEquals(2, run("decode", "--", "--json"));
        assertEquals("", out);
        assertTrue(err.contains("id=\"--json\""), err);
    }

    @Test
    void decodeAndLayoutReadOnlyTheLayoutSettings() {
        Map<String, String> env = Map.of("EKKO_IDC", "9", "EKKO_WORKER_ID", "x", "EKKO_STATE_DIR", " ", "EKKO_WORKER_ALLOCATOR", "Nope!",
                "EKKO_PRODUCT_BITS", "4", "EKKO_NO_SUCH", "1");
        String id = Long.toUnsignedString((5 << 14) | (9 << 10) | 3);
        assertEquals(0, runWith(env, "decode", id), err);
        assertEquals(id + " timestamp=2026-01-01T00:00:00Z idc=0 worker=5 product=9 sequence=3\n", out);
        assertEquals("", err);
        assertEquals(0, runWith(env, "layout"), err);
        assertTrue(out.contains("product 4"), out);
        // generator options given before the command are not read either
        assertEquals(0, runWith(Map.of(), "--idc", "9", "decode", "1"), err);
        // a bad layout setting still fails, naming where it came from
        assertEquals(2, runWith(Map.of("EKKO_EPOCH", "yesterday"), "decode", "1"));
        assertTrue(err.startsWith("ekko: ") && err.endsWith(" (from environment variable EKKO_EPOCH)\n") && err.contains("yesterday"), err);
        String old = System.setProperty("ekko.idc", "9");
        try {
            assertEquals(0, run("layout"), err);
        } finally {
            if (old == null) {
                System.clearProperty("ekko.idc");
            } else {
                System.setProperty("ekko.idc", old);
            }
        }
    }

    @Test
    void everyCommandHasHelp() {
        for (String command : List.of("next", "decode", "layout", "help", "completion")) {
            assertEquals(0, run(command, "--help"), command);
            assertTrue(out.startsWith("Usage: ekko " + command), out);
            assertEquals("", err);
            assertEquals(0, run(command, "-h"), command);
            assertTrue(out.startsWith("Usage: ekko " + command), out);
            String usage = out;
            assertEquals(0, run("help", command), command);
            assertEquals(usage, out);
        }
        assertEquals(0, run("--help"));
        assertTrue(out.startsWith("Usage: ekko "), out);
        assertTrue(out.contains("Exit status: 0 done; 1 the generator refused"), out);
        assertEquals(0, run("next", "--help"));
        for (String option : List.of("-n=N", "--json", "--idc=N", "--worker=N", "--allocator=NAME", "--state-dir=DIR", "--set=KEY=VALUE",
                "--epoch=INSTANT", "--positive", "--product-bits=N", "--product=N", "--verbose")) {
            assertTrue(out.contains(option), option + " in " + out);
        }
    }

    @Test
    void noCommandPrintsTheUsageOnStderrAndExits2() {
        assertEquals(2, run());
        assertEquals("", out);
        assertTrue(err.startsWith("ekko: a command is needed (commands: next, decode, layout, segment, serve, mysql, etcd, help, completion)\nUsage: ekko "), err);
    }

    @Test
    void versionNamesTheProjectVersionAndTheJava() {
        assertEquals(0, run("--version"));
        String[] lines = out.split("\n");
        assertTrue(lines[0].matches("ekko \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?"), out);
        assertTrue(lines[1].startsWith("Java " + System.getProperty("java.version")), out);
        assertEquals(0, run("next", "--version"));
        assertTrue(out.startsWith(lines[0] + "\n"), out);
    }

    @Test
    void helpPrintsTheManualWithEveryCommandsFullUsage() {
        assertEquals(0, run("help"));
        assertTrue(out.startsWith("EKKO(1)\n\nNAME\n"), out);
        for (String command : List.of("next", "decode", "layout", "help", "completion")) {
            assertEquals(0, run(command, "--help"));
            String usage = out;
            assertEquals(0, run("help"));
            assertTrue(out.contains(usage), command);
        }
    }

    @Test
    void completionPrintsABashCompletionScriptForEveryCommand() {
        assertEquals(0, run("completion"));
        assertTrue(out.startsWith("#!/usr/bin/env bash"), out);
        assertTrue(out.contains("complete -F _complete_ekko"), out);
        for (String word : List.of("next", "decode", "layout", "--state-dir", "--product-bits", "--json")) {
            assertTrue(out.contains(word), word);
        }
    }

    @Test
    void jsonOutputsParse() {
        assertEquals(0, next("next", "--json", "-n", "3", "--idc", "5"), err);
        String[] lines = out.split("\n");
        assertEquals(3, lines.length, out);
        for (String line : lines) {
            JsonCheck.check(line);
            assertTrue(line.startsWith("{\"id\":\"") && line.contains(",\"idc\":5,"), line);
        }
        assertEquals(0, run("decode", "--json", "1", "18446744073709551615"), err);
        for (String line : out.split("\n")) {
            JsonCheck.check(line);
        }
        assertEquals(0, run("layout", "--json"));
        JsonCheck.check(out);
        assertEquals(1, out.strip().split("\n").length, out);
        assertTrue(out.contains("\"bit63Set\":\"2034-09-17T10:58:26.944Z\""), out);
        assertEquals(0, run("layout", "--json", "--positive"));
        JsonCheck.check(out);
        assertTrue(out.contains("\"bit63Set\":null") && out.contains("\"positive\":true"), out);
        // the checker itself rejects what is not JSON
        assertThrows(IllegalArgumentException.class, () -> JsonCheck.check("{\"a\":1,}"));
        assertThrows(IllegalArgumentException.class, () -> JsonCheck.check("{\"a\":1} x"));
        assertThrows(IllegalArgumentException.class, () -> JsonCheck.check("{a:1}"));
    }

    @Test
    void nextJsonHasTheFieldsOfDecode() {
        assertEquals(0, next("next", "--json", "--worker", "42"), err);
        String line = out.strip();
        long id = Layout.parse(line.substring(7, line.indexOf('"', 7)));
        DecodedId d = Layout.defaults().decode(id);
        assertEquals(d.toJson(), line);
        assertEquals(42, d.worker());
    }

    @Test
    void logRecordsAreOneLineEachOnStderr() {
        assertEquals(0, next("next", "-v"), err);
        String[] lines = err.split("\n");
        assertTrue(lines.length >= 1, err);
        for (String line : lines) {
            assertTrue(line.startsWith("ekko: INFO ") || line.startsWith("ekko: WARNING "), line);
        }
        assertTrue(err.contains("ekko: INFO started: idc=0 worker="), err);
        // without -v, INFO is silent
        assertEquals(0, next("next"), err);
        assertEquals("", err);
    }

    @Test
    void theLogFormatIsEkkoLevelMessage() {
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        Commands.Root root = new Commands.Root(System.out, new PrintStream(e, true, StandardCharsets.UTF_8), Map.of());
        System.Logger log = System.getLogger("dev.ekko.test");
        root.configureLogging(false);
        log.log(System.Logger.Level.INFO, "not shown");
        log.log(System.Logger.Level.WARNING, "a {0} warning", "test");
        log.log(System.Logger.Level.ERROR, "failed", new IOException("disk full"));
        root.configureLogging(true);
        log.log(System.Logger.Level.INFO, "shown");
        assertEquals("ekko: WARNING a test warning\nekko: ERROR failed: java.io.IOException: disk full\nekko: INFO shown\n",
                e.toString(StandardCharsets.UTF_8));
    }

    /** Standard output that fails after a few bytes, as a pipe whose reader went away. */
    private static final class ClosingOutput extends OutputStream {
        int left = 10_000;

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            if (len > left) {
                left = 0;
                throw new IOException("Broken pipe");
            }
            left -= len;
        }
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES) // a safety net only: without the check this run would take half an hour
    void aClosedOutputStopsNextAtOnce() {
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        List<String> args = new ArrayList<>(List.of("next", "-n", "2147483647"));
        args.addAll(own());
        int code = Main.run(args.toArray(new String[0]), new PrintStream(new ClosingOutput(), false, StandardCharsets.UTF_8),
                new PrintStream(e, true, StandardCharsets.UTF_8), Map.of());
        assertEquals(Main.OUTPUT_CLOSED, code);
        assertEquals("", e.toString(StandardCharsets.UTF_8));
    }
}
