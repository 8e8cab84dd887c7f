package dev.ekko.worker.mysql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.Ekko;
import dev.ekko.SegmentIds;
import dev.ekko.testsupport.TestDatabase;
import dev.ekko.testsupport.TestServers;
import java.io.DataInputStream;
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
