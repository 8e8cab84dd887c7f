package dev.ekko.bench.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportTest {

    @TempDir
    Path dir;
    Path json;
    Path docs;

    @BeforeEach
    void copyFixture() throws IOException {
        json = dir.resolve("results/short.json");
        Files.createDirectories(json.getParent());
        copy("/fixture.json", json);
        copy("/fixture.env.json", dir.resolve("results/short.env.json"));
        docs = dir.resolve("docs/benchmarks.md");
        Files.createDirectories(docs.getParent());
        Files.writeString(docs, "# Title\n\nprose\n\n" + Report.BEGIN + "\nold\n" + Report.END + "\n\nafter\n");
    }

    @Test
    void writesTableAndChartBesideTheJsonAndRewritesOnlyTheMarkedSection() throws IOException {
        Report.generate(json, docs);

        String md = Files.readString(dir.resolve("results/short.md"));
        byte[] png = Files.readAllBytes(dir.resolve("results/short.png"));
        assertEquals((byte) 0x89, png[0]);
        assertEquals('P', png[1]);
        assertTrue(md.contains("| machine | Test CPU, 2 cores, 24.0 GiB; Debian, Linux 6.1 amd64 |"), md);
        assertTrue(md.contains("![Ekko against its peers: Get throughput, Get latency, MultiGet and start-up](short.png)"), md);

        String doc = Files.readString(docs);
        assertTrue(doc.startsWith("# Title\n\nprose\n\n" + Report.BEGIN + "\n"), doc);
        assertTrue(doc.endsWith(Report.END + "\n\nafter\n"), doc);
        assertTrue(!doc.contains("\nold\n"), doc);
        assertTrue(doc.contains("](../results/short.png)"), doc);

        Report.generate(json, docs);
        assertEquals(doc, Files.readString(docs), "regenerating from the same JSON changes nothing");
    }

    @Test
    void judgesEveryTargetFromTheFigures() throws IOException {
        Report.generate(json, null);
        String md = Files.readString(dir.resolve("results/short.md"));
        assertTrue(md.contains("| 99.5% (1,019,000 IDs/s) | **yes** |"), md);
        assertTrue(md.contains("| 87.9% (900,000 IDs/s) | **no** |"), md);
        assertTrue(md.contains("| 50.0 ns per ID; fastest peer Agrona SnowflakeIdGenerator 250 ns | **yes** |"), md);
        assertTrue(md.contains("| 333 ns per ID; fastest peer Agrona SnowflakeIdGenerator 247 ns | **no** |"), md);
        assertTrue(md.contains("bounded lead: 614,400,000 IDs/s; real time: 1,024,000 IDs/s, held to the ceiling | **yes** (bounded lead)"), md);
        assertTrue(md.contains("| at most 0.030 B per call | **yes** |"), md);
        assertTrue(md.contains("| at most 0.200 B per call (not resolvable at their call rate ‡: real time batch 1,024 at 1,000"
                + " calls/s) | **yes** |"), md);
        assertTrue(md.contains("alone (4,025 B/s in this run"), md);
    }

    @Test
    void showsColdAndWarmStartsFromTheRawShots() throws IOException {
        Report.generate(json, null);
        String md = Files.readString(dir.resolve("results/short.md"));
        assertTrue(md.contains("| host-local (the default) | 45.0 ms (40.0 – 50.0) | 2 | 5.0 ms (4.0 – 6.0) | 4 | 59 KiB |"), md);
        assertTrue(md.contains("| Ekko, real-time | 1,026 | 55 ns | 1.0 µs | 850.0 µs | 990.0 µs | 1.20 ms | 0.020 |"), md);
    }

    @Test
    void refusesADocumentWithoutMarkers() throws IOException {
        Files.writeString(docs, "no markers\n");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Report.generate(json, docs));
        assertEquals("must contain a line " + Report.BEGIN + " and, after it, a line " + Report.END + ": " + docs, e.getMessage());
    }

    private static void copy(String resource, Path to) throws IOException {
        try (InputStream in = ReportTest.class.getResourceAsStream(resource)) {
            Files.copy(in, to);
        }
    }
}
