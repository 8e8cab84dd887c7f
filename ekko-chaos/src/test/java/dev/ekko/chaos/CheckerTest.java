package dev.ekko.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The checker finds what it claims to find, on files written the way ChaosWorker writes them. */
class CheckerTest {

    private static final long T = 1_000_000L; // ms since the chaos layout's epoch

    @TempDir
    Path dir;

    private static long id(long millis, int worker, int sequence) {
        return Checker.LAYOUT.encode(Checker.LAYOUT.epoch().toEpochMilli() + millis, 1, worker, 0, sequence);
    }

    private void ids(String file, long... ids) throws IOException {
        try (OutputStream o = Files.newOutputStream(dir.resolve(file)); DataOutputStream d = new DataOutputStream(o)) {
            for (long id : ids) {
                d.writeLong(id);
            }
        }
    }

    private void events(String file, String... lines) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (String l : lines) {
            sb.append("1 2026-12-02T00:00:00Z ").append(l).append('\n');
        }
        Files.writeString(dir.resolve(file), sb);
    }

    private void control() throws IOException {
        ids("ctl-a.1.t0.ids", id(T, 100, 0), id(T, 100, 1));
        ids("ctl-b.1.t0.ids", id(T, 100, 0));
    }

    @Test
    void aCleanRunHasNoProblemAndCountsEveryIdAndTheControlsRepeat() throws Exception {
        control();
        ids("p0.1.t0.ids", id(T, 1, 0), id(T, 1, 1), id(T + 1, 1, 0));
        ids("p1.1.t0.ids", id(T, 2, 0), id(T + 5, 2, 0));
        events("p0.1.events", "STARTED idc=1 worker=1", "TENURE 1 1", "REFUSED dev.ekko.LeaseLostException 7");
        Checker.Report r = new Checker(dir).check();
        assertEquals(List.of(), r.problems());
        assertEquals(5, r.ids());
        assertEquals(0, r.duplicates());
        assertEquals(3, r.controlIds());
        assertEquals(1, r.controlDuplicates());
        assertEquals(7L, r.refusals().get("dev.ekko.LeaseLostException"));
    }

    @Test
    void findsAnIdIssuedByTwoProcessesAndNamesBothFiles() throws Exception {
        control();
        ids("p0.1.t0.ids", id(T, 1, 0), id(T, 1, 1));
        ids("p3.2.t1.ids", id(T, 1, 1));
        Checker.Report r = new Checker(dir).check();
        assertEquals(1, r.duplicates());
        String all = String.join("\n", r.problems());
        assertTrue(all.contains("p0.1.t0.ids[1]") && all.contains("p3.2.t1.ids[0]"), all);
    }

    @Test
    void findsAnIdNotAboveTheOneBeforeItInOneTenureButNotAcrossTenures() throws Exception {
        control();
        ids("p0.1.t0.ids", id(T, 1, 5), id(T, 2, 0), id(T, 1, 6)); // worker 1, then 2, then 1 again: three tenures
        assertEquals(List.of(), new Checker(dir).check().problems());
        ids("p0.1.t0.ids", id(T, 1, 5), id(T, 1, 4));
        String all = String.join("\n", new Checker(dir).check().problems());
        assertTrue(all.contains("is not above the one before it"), all);
    }

    @Test
    void aMismatchOrAnUnexpectedExceptionInAnEventsFileFailsTheRun() throws Exception {
        control();
        events("p0.1.events", "MISMATCH 123 decodes to idc=1 worker=3 while the generator (idc=1) held worker 2 before the call and 2 after");
        events("p1.1.events", "UNEXPECTED java.lang.NullPointerException boom");
        List<String> problems = new Checker(dir).check().problems();
        assertEquals(2, problems.size(), problems.toString());
    }

    @Test
    void aControlWithoutRepeatsOrWithoutIdsFailsTheRun() throws Exception {
        ids("ctl-a.1.t0.ids", id(T, 100, 0));
        ids("ctl-b.1.t0.ids", id(T, 100, 1));
        String all = String.join("\n", new Checker(dir).check().problems());
        assertTrue(all.contains("cannot be trusted to see duplicates"), all);
        Files.delete(dir.resolve("ctl-a.1.t0.ids"));
        Files.delete(dir.resolve("ctl-b.1.t0.ids"));
        assertTrue(String.join("\n", new Checker(dir).check().problems()).contains("issued no ID"));
    }

    @Test
    void aLastPartialIdOfAKilledProcessIsDropped() throws Exception {
        control();
        ids("p0.1.t0.ids", id(T, 1, 0), id(T, 1, 1));
        Files.write(dir.resolve("p0.1.t0.ids"), new byte[] {1, 2, 3}, java.nio.file.StandardOpenOption.APPEND);
        Checker.Report r = new Checker(dir).check();
        assertEquals(2, r.ids());
        assertEquals(List.of(), r.problems());
    }
}
