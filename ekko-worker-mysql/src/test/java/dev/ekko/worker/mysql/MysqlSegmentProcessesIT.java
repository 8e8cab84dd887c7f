package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Ekko;
import dev.ekko.SegmentIds;
import dev.ekko.testsupport.TestDatabase;
import dev.ekko.testsupport.TestServers;
import java.io.DataInputStream;
import java.nio.ByteBuffer;
import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Segment mode across processes: 8 JVMs ({@link SegmentChild}), 2 threads each, take numbers of one name at once, with
 * small steps so that ranges change hands hundreds of times; from one store, then from two stores (two databases, each its
 * residue class). Every number is distinct across all of them, and each thread's numbers increase.
 */
class MysqlSegmentProcessesIT {

    private static final int PROCESSES = 8;
    private static final int THREADS = 2;
    private static final int EACH = 5_000;

    @TempDir
    Path dir;

    @Test
    void eightProcessesOneStore() throws Exception {
        try (TestDatabase db = TestServers.createMysqlDatabase(MysqlSegmentProcessesIT.class)) {
            run(List.of(db), "one");
        }
    }

    @Test
    void eightProcessesTwoStores() throws Exception {
        try (TestDatabase a = TestServers.createMysqlDatabase(MysqlSegmentProcessesIT.class);
                TestDatabase b = TestServers.createMysqlDatabase(MysqlSegmentProcessesIT.class)) {
            run(List.of(a, b), "two");
        }
    }

    /**
     * A process killed with SIGKILL while it takes numbers, then a new one on the same name: the new one never hands out a
     * number of the killed one (the killed process's unused buffered ranges are lost, never reused).
     */
    @Test
    void aProcessKilledMidwayAndAProcessStartedAfterItShareNoNumber() throws Exception {
        try (TestDatabase db = TestServers.createMysqlDatabase(MysqlSegmentProcessesIT.class)) {
            String name = "killed";
            try (SegmentIds definer = Ekko.newSegmentBuilder().store("mysql", settings(db)).build()) {
                definer.define(name, 1, Long.MAX_VALUE);
            }
            Properties p = new Properties();
            p.setProperty("stores", "1");
            settings(db).forEach((k, v) -> p.setProperty("store.0." + k, v));
            Path props = dir.resolve("killed.properties");
            try (Writer w = Files.newBufferedWriter(props, StandardCharsets.UTF_8)) {
                p.store(w, null);
            }
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process first = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), SegmentChild.class.getName(),
                    props.toString(), name, "2", "100000000", dir.resolve("k1").toString()).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("k1.log").toFile()).start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (Files.notExists(dir.resolve("k1.0")) || Files.size(dir.resolve("k1.0")) < 8 * 20_000) {
                assertTrue(first.isAlive() && System.nanoTime() < deadline, "the first process wrote too little: "
                        + Files.readString(dir.resolve("k1.log")));
                Thread.sleep(20);
            }
            first.destroyForcibly(); // SIGKILL
            assertTrue(first.waitFor(30, TimeUnit.SECONDS));
            Process second = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), SegmentChild.class.getName(),
                    props.toString(), name, "2", "20000", dir.resolve("k2").toString()).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("k2.log").toFile()).start();
            assertTrue(second.waitFor(120, TimeUnit.SECONDS), "the second process did not finish");
            assertEquals(0, second.exitValue(), Files.readString(dir.resolve("k2.log")));
            Set<Long> all = new HashSet<>();
            long killedCount = 0;
            for (String f : List.of("k1.0", "k1.1", "k2.0", "k2.1")) {
                byte[] bytes = Files.readAllBytes(dir.resolve(f));
                ByteBuffer b = ByteBuffer.wrap(bytes, 0, bytes.length - bytes.length % 8);
                while (b.remaining() >= 8) {
                    long n = b.getLong();
                    assertTrue(all.add(n), "number " + n + " handed out twice (" + f + ")");
                    if (f.startsWith("k1")) {
                        killedCount++;
                    }
                }
            }
            assertTrue(killedCount >= 20_000, "the killed process handed out " + killedCount);
        }
    }

    private static Map<String, String> settings(TestDatabase db) {
        // 8 JVMs starting at once on a small machine: connecting can take longer than the default 2 s.
        return Map.of("ekko.mysql.url", db.jdbcUrl(), "ekko.mysql.user", db.user(), "ekko.mysql.password", db.password(),
                "ekko.mysql.timeout", "10s");
    }

    private void run(List<TestDatabase> dbs, String name) throws Exception {
        SegmentIds.Builder b = Ekko.newSegmentBuilder();
        Properties p = new Properties();
        p.setProperty("stores", Integer.toString(dbs.size()));
        for (int i = 0; i < dbs.size(); i++) {
            b.store("mysql", settings(dbs.get(i)));
            for (Map.Entry<String, String> e : settings(dbs.get(i)).entrySet()) {
                p.setProperty("store." + i + "." + e.getKey(), e.getValue());
            }
        }
        try (SegmentIds definer = b.build()) {
            definer.define(name, 1, Long.MAX_VALUE);
        }
        Path props = dir.resolve("stores.properties");
        try (Writer w = Files.newBufferedWriter(props, StandardCharsets.UTF_8)) {
            p.store(w, null);
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<Process> children = new ArrayList<>();
        for (int i = 0; i < PROCESSES; i++) {
            children.add(new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), SegmentChild.class.getName(),
                    props.toString(), name, Integer.toString(THREADS), Integer.toString(EACH), dir.resolve("p" + i).toString())
                    .redirectErrorStream(true).redirectOutput(dir.resolve("p" + i + ".log").toFile()).start());
        }
        for (int i = 0; i < PROCESSES; i++) {
            Process c = children.get(i);
            assertTrue(c.waitFor(120, TimeUnit.SECONDS), "process " + i + " did not finish");
            assertEquals(0, c.exitValue(), "process " + i + ": " + Files.readString(dir.resolve("p" + i + ".log")));
        }
        Set<Long> all = new HashSet<>();
        for (int i = 0; i < PROCESSES; i++) {
            for (int t = 0; t < THREADS; t++) {
                long last = Long.MIN_VALUE;
                try (DataInputStream in = new DataInputStream(Files.newInputStream(dir.resolve("p" + i + "." + t)))) {
                    for (int k = 0; k < EACH; k++) {
                        long n = in.readLong();
                        assertTrue(n > last, "process " + i + " thread " + t + " went back: " + last + " then " + n);
                        assertTrue(all.add(n), "number " + n + " handed out twice (process " + i + " thread " + t + ")");
                        last = n;
                    }
                } catch (IOException e) {
                    throw new AssertionError("process " + i + " thread " + t + " wrote fewer than " + EACH + " numbers", e);
                }
            }
        }
        assertEquals(PROCESSES * THREADS * EACH, all.size());
    }
}
