package dev.ekko.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Layout;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line: output formats, exit codes and one-line errors. */
class MainTest {

    @TempDir
    Path stateDir;

    /** Its own host lock directory, so worker IDs do not contend with other tests or test runs on this host. */
    @TempDir
    Path hostLocks;

    private String out;
    private String err;

    private int run(String... args) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(o, true, StandardCharsets.UTF_8), new PrintStream(e, true, StandardCharsets.UTF_8));
        out = o.toString(StandardCharsets.UTF_8);
        err = e.toString(StandardCharsets.UTF_8);
        return code;
    }

    @Test
    void nextPrintsUnsignedDecimalsOnePerLineInIncreasingOrder() {
        assertEquals(0, run("next", "-n", "2500", "--state-dir", stateDir.toString(), "--set", "ekko.host.lock.dir=" + hostLocks, "--idc", "3"), err);
        String[] lines = out.split("\n");
        assertEquals(2500, lines.length);
        long prev = Layout.parse(lines[0]);
        for (int i = 1; i < lines.length; i++) {
            long id = Layout.parse(lines[i]);
            assertTrue(Layout.compare(prev, id) < 0);
            prev = id;
        }
        assertEquals(3, Layout.defaults().decode(prev).idc());
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
        assertEquals(0, run("decode", "--product-bits", "4", "--epoch", "2025-01-01T00:00:00Z", Long.toUnsignedString((1L << 25) | (5 << 14) | (9 << 10) | 3)));
        assertEquals(Long.toUnsignedString((1L << 25) | (5 << 14) | (9 << 10) | 3)
                + " timestamp=2025-01-01T00:00:00.001Z idc=0 worker=5 product=9 sequence=3\n", out);
    }

    @Test
    void layoutPrintsTheDates() {
        assertEquals(0, run("layout"));
        assertTrue(out.contains("bit 63 set:     2034-09-17T10:58:26.944Z"), out);
        assertTrue(out.contains("time runs out:  2043-06-03T21:56:53.888Z"), out);
        assertEquals(0, run("layout", "--positive"));
        assertTrue(out.contains("bit 63 set:     never (positive layout)"), out);
        assertTrue(out.contains("time runs out:  2034-09-17T10:58:26.944Z"), out);
    }

    @Test
    void badInputGivesOneLineAndExitCode2() {
        assertEquals(2, run("next", "--idc", "9"));
        assertEquals("ekko: must be >= 0 && <= 7: ekko.idc=9\n", err);
        assertEquals(2, run("decode", "12x"));
        assertEquals("ekko: must be an unsigned decimal of 1 to 20 digits, at most 18446744073709551615: id=\"12x\"\n", err);
        assertEquals(2, run("next", "-n", "0"));
        assertEquals("ekko: must be an integer >= 1: -n 0\n", err);
        assertEquals(2, run("next", "--frobnicate"));
        assertEquals("ekko: unknown option for next: --frobnicate (ekko --help lists them)\n", err);
        assertEquals(2, run("nxt"));
        assertEquals("ekko: unknown command: nxt (commands: next, decode, layout)\n", err);
        assertEquals(2, run("next", "--set", "ekko.wroker.id=3", "--state-dir", stateDir.toString(), "--set", "ekko.host.lock.dir=" + hostLocks));
        assertTrue(err.startsWith("ekko: unknown configuration key: ekko.wroker.id. Known keys: "), err);
        assertEquals(1, err.split("\n").length);
        assertEquals(2, run("next", "--allocator", "redis", "--state-dir", stateDir.toString(), "--set", "ekko.host.lock.dir=" + hostLocks));
        assertEquals("ekko: no worker allocator named \"redis\" (ekko.worker.allocator); found: host-local, manual; to use it, add"
                + " dev.ekko:ekko-worker-redis to the class path\n", err);
    }
}
