package dev.ekko.bench.server;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class GrpcLoadTest {

    @Test
    void percentilesAreNearestRank() {
        long[] sorted = new long[1000];
        for (int i = 0; i < sorted.length; i++) {
            sorted[i] = i + 1;
        }
        assertEquals(500, GrpcLoad.percentile(sorted, 1000, 50));
        assertEquals(990, GrpcLoad.percentile(sorted, 1000, 99));
        assertEquals(999, GrpcLoad.percentile(sorted, 1000, 99.9));
        assertEquals(1000, GrpcLoad.percentile(sorted, 1000, 100));
        assertEquals(1, GrpcLoad.percentile(sorted, 1, 99.9));
        assertEquals(0, GrpcLoad.percentile(sorted, 0, 50));
        assertEquals(5, GrpcLoad.percentile(sorted, 10, 50));
    }

    @Test
    void readsUserAndSystemTicksAfterTheCommandName() {
        String stat = "4242 (java with spaces) S 1 4242 4242 0 -1 4194560 12345 0 3 0 1500 250 0 0 20 0 40 0 9000 "
                + "3000000000 60000 18446744073709551615 1 1 0 0 0 0 0 2 16384 0 0 0 17 0 0 0 0 0 0\n";
        assertArrayEquals(new long[] {1500, 250}, GrpcLoad.processTicks(stat));
    }

    @Test
    void readsUserNiceAndStealTicksOfOneCpu() {
        String procStat = "cpu  100 2 30 4000 5 0 6 7 0 0\n"
                + "cpu0 10 1 3 400 1 0 1 5 0 0\n"
                + "cpu1 20 2 4 500 1 0 1 9 0 0\n"
                + "intr 1 2 3\n";
        assertEquals(10 + 1 + 5, GrpcLoad.cpuUserTicks(procStat, 0));
        assertEquals(20 + 2 + 9, GrpcLoad.cpuUserTicks(procStat, 1));
        assertThrows(IllegalArgumentException.class, () -> GrpcLoad.cpuUserTicks(procStat, 2));
    }

    @Test
    void parsesTheCommandLine() {
        GrpcLoad.Options o = GrpcLoad.Options.parse(new String[] {"127.0.0.1", "9090", "batch100", "64", "10", "5",
            "--channels", "4", "--server-pid", "123", "--server-cpu", "0"});
        assertTrue(o.batch);
        assertEquals(64, o.concurrency);
        assertEquals(4, o.channels);
        assertEquals(123, o.serverPid);
        assertEquals(0, o.serverCpu);
        assertEquals(3_000_000, o.capacity);
        GrpcLoad.Options next = GrpcLoad.Options.parse(new String[] {"localhost", "9090", "next", "1", "1", "0"});
        assertFalse(next.batch);
        assertEquals(1, next.channels);
        assertThrows(IllegalArgumentException.class,
                () -> GrpcLoad.Options.parse(new String[] {"h", "9090", "batch10", "64", "10", "5"}));
        assertThrows(IllegalArgumentException.class,
                () -> GrpcLoad.Options.parse(new String[] {"h", "9090", "next", "0", "10", "5"}));
        assertThrows(IllegalArgumentException.class,
                () -> GrpcLoad.Options.parse(new String[] {"h", "9090", "next", "64", "10", "5", "--channels"}));
    }

    @Test
    void countsOnlyCallsThatEndInTheWindow() {
        GrpcLoad.Recorder r = new GrpcLoad.Recorder(2);
        r.windowStart = 100;
        r.windowEnd = 200;
        assertTrue(r.completed(10, 50));      // warm-up: not counted
        assertTrue(r.completed(90, 110));     // ends in the window
        assertTrue(r.completed(150, 160));
        assertTrue(r.completed(150, 170));    // over capacity: counted, latency not kept
        assertFalse(r.completed(150, 200));   // the window is over
        assertEquals(2, r.recorded);
        assertEquals(1, r.unrecorded);
        assertArrayEquals(new long[] {20, 10}, r.latencies);
        assertTrue(r.failed(50, new RuntimeException("a")));
        assertTrue(r.failed(150, new RuntimeException("b")));
        assertFalse(r.failed(250, new RuntimeException("c")));
        assertEquals(1, r.warmupErrors);
        assertEquals(1, r.errors);
        assertEquals("java.lang.RuntimeException: a", r.firstError);
    }
}
