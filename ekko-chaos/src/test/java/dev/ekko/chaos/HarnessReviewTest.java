package dev.ekko.chaos;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ekko.IdGenerator;
import dev.ekko.IdRange;
import dev.ekko.Layout;
import dev.ekko.LeaseLostException;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A review of the chaos harness: ways it can pass although something is wrong, or fail although nothing is. Each test states
 * what the harness should do and fails on the code it was written against. They run the harness's own pieces (ChaosWorker's
 * issuing threads with a fake generator, BackendRun's watchers and readers with a fake process, Checker, Host) and start no
 * server and no generator JVM.
 */
/**
 * Review of the chaos harness (blind spots and false alarms), each test written failing against the harness as it was, and
 * passing since its fix: the Javadoc's "Observed" is what the review found.
 */
class HarnessReviewTest {

    private static final long T = 1_000_000L; // ms since the chaos layout's epoch

    @TempDir
    Path dir;

    // ------------------------------------------------------------------ blind spots in what is written

    /**
     * Claim: an ID the generator issued is in the thread's file. {@link IdGenerator#next(long[], int, int)} says "IDs already
     * written stay valid and unique" when it throws part-way (a chunk claimed, then the lease lost before the next chunk:
     * EkkoGenerator.fill claims per millisecond chunk).
     * Attack: a batch call fills 10 of its 32 slots, then throws LeaseLostException (exactly what happens at a lease loss,
     * the moment the faults aim at).
     * Observed: ChaosWorker.issue skips the recording loop on the exception: the 10 issued IDs are never written, so a
     * duplicate among them can never be found.
     */
    @Test
    void idsOfABatchThatThrewPartWayAreWrittenAndChecked() throws Exception {
        FakeGenerator g = new FakeGenerator() {
            @Override
            public void next(long[] ids, int offset, int length) {
                if (calls.getAndIncrement() == 0) {
                    for (int i = 0; i < 10; i++) {
                        ids[offset + i] = nextId();
                    }
                    throw new LeaseLostException("lease lost after the first chunk");
                }
                throw new LeaseLostException("no lease");
            }
        };
        runThread(g, 1, 150);
        long[] written = Checker.read(dir.resolve("p0.1.t1.ids"));
        assertEquals(10, written.length, "the batch's 10 issued IDs are not in p0.1.t1.ids: they are never checked");
    }

    /**
     * Claim: a thread that stops issuing because something other than a RuntimeException was thrown (an Error from the
     * generator, OutOfMemoryError under -Xmx96m, StackOverflowError under -Xss512k, or an IOException writing its file) is
     * seen, and what it issued before is checked.
     * Attack: next() issues 5 IDs, then throws an AssertionError.
     * Observed: the thread dies; try-with-resources closes only the raw file stream, so the BufferedOutputStream's IDs (up to
     * 64 KiB = 8,192 IDs) are lost; nothing reaches the events file (UNEXPECTED is written only for RuntimeExceptions), the
     * other two threads keep the process's progress going, and Checker, which never reads .stderr, reports no problem.
     */
    @Test
    void aThreadKilledByAnErrorIsSeenAndItsIdsAreKept() throws Exception {
        FakeGenerator g = new FakeGenerator() {
            @Override
            public long next() {
                if (calls.getAndIncrement() == 5) {
                    throw new AssertionError("a bug in the generator");
                }
                return nextId();
            }
        };
        runThread(g, 0, 150);
        control();
        long[] written = Checker.read(dir.resolve("p0.1.t0.ids"));
        Checker.Report r = new Checker(dir).check();
        assertAll(
                () -> assertEquals(5, written.length, "IDs issued before the thread died are not in its file"),
                () -> assertFalse(r.problems().isEmpty(), "a dead issuing thread passes the check: " + r.problems()));
    }

    /**
     * Claim (docs/chaos.md): "IDs a killed process had not flushed (at most 20 ms of them) are not in its files".
     * Attack: three IDs are issued, then the next call blocks (Ekko's next() waits up to ekko.clock.max.skew for a small
     * backward clock step, or while it extends its reservation); the harness SIGKILLs processes at random moments.
     * Observed: ChaosWorker flushes only after a call returns, so 300 ms after they were issued the three IDs are still not
     * on disk; a SIGKILL then loses IDs of any age up to the longest blocking call (and at close, t.join(5 s) then
     * System.exit drops a still-blocked thread's buffer too).
     */
    @Test
    void idsIssuedBeforeABlockingCallAreOnDiskWithin20Ms() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        FakeGenerator g = new FakeGenerator() {
            @Override
            public long next() {
                if (calls.getAndIncrement() == 3) {
                    try {
                        release.await(5, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                return nextId();
            }
        };
        Object worker = newWorker(g);
        Thread t = thread(worker, 0);
        t.start();
        Thread.sleep(300);
        long onDisk = Files.size(dir.resolve("p0.1.t0.ids")) / 8;
        release.countDown();
        setField(worker, "stop", true);
        t.join(5_000);
        assertEquals(3, onDisk, "IDs issued 300 ms before were not on disk while the next call blocked");
    }

    // ------------------------------------------------------------------ liveness

    /**
     * Claim: "a process that issues nothing for 30 s while no fault acts on it is hung".
     * Attack: a regular, ready, live process that no fault has touched, silent for 40 s.
     * Observed: watchHung computes {@code calm == 0 ? false : ...}, and calmSince() is 0 for a process never disturbed
     * (calmSinceNanos starts at 0), so such a process is never checked (the {@code calmSinceNanos == 0 ||} branch is dead).
     */
    @Test
    void aProcessNoFaultTouchedIsReportedHung() throws Exception {
        BackendRun run = newRun(1);
        BackendRun.Proc p = readyProc(run, "p0");
        p.lastProgressNanos = System.nanoTime() - 40_000_000_000L;
        regular(run).add(p);
        Thread watcher = new Thread(() -> invoke(run, "watchHung"));
        watcher.setDaemon(true);
        watcher.start();
        Thread.sleep(2_500);
        setField(run, "finishing", true);
        watcher.join(3_000);
        List<String> failures = failures(run);
        assertTrue(failures.stream().anyMatch(f -> f.contains("issued nothing")), "not reported hung: " + failures);
    }

    /**
     * Claim: after a fault, a process must issue again within the bound; "recovered" means an ID issued after the fault.
     * Attack: ChaosWorker prints its running count every 50 ms, so the first "P n" after SIGCONT (PAUSE, SUSPEND) carries
     * the IDs it issued between its last print and the SIGSTOP (hundreds at this rate); likewise the last 50 ms before the
     * end of a clock step. Here: "P 100" before the fault, the fault ends, one "P 150" (the stale count), then nothing.
     * Observed: read() takes any rise of the count as progress and awaitProgressAfterCalm returns a recovery time though no
     * ID was issued after the fault. With the 30 s hung rule out of reach in a 32 to 42 s run, a generator that never
     * issues again after a PAUSE or SUSPEND passes the short profile.
     */
    @Test
    void aCountPrintedAfterSigcontOfIdsIssuedBeforeTheStopIsNoRecovery() throws Exception {
        BackendRun run = newRun(1);
        BackendRun.Proc p = readyProc(run, "p0");
        PipedOutputStream stdout = new PipedOutputStream();
        FakeProcess process = new FakeProcess(new PipedInputStream(stdout, 1 << 16));
        p.process = process;
        Thread reader = new Thread(() -> invoke(run, "read", p, process));
        reader.setDaemon(true);
        reader.start();
        line(stdout, "READY worker=1");
        line(stdout, "P 100");
        Thread.sleep(100);
        p.disturb(300); // SIGSTOP ... SIGCONT
        Thread.sleep(50);
        p.calm();
        line(stdout, "P 150"); // the first print after SIGCONT: IDs recorded before the stop
        long recovered = (long) invoke(run, "awaitProgressAfterCalm", p, 300L);
        p.killedByHarness = true;
        stdout.close();
        assertEquals(-1, recovered, "no ID issued after the fault, yet measured as recovered in " + recovered + " ms");
    }

    // ------------------------------------------------------------------ false alarms

    /**
     * Claim: a fault is injected as scheduled; a harness problem must not fail the run.
     * Attack: two clock faults on one host overlap (always possible: host-local has one host, faults start 1 s apart and
     * last 4 s or more, and CLOCK_* picks a victim but moves the whole host); their offset() calls meet.
     * Observed: both write the same "faketime.tmp" and move it: one move finds no file (NoSuchFileException, which inject
     * turns into "fault ... could not be injected", failing the run) or installs the other fault's offset.
     */
    @Test
    void twoClockFaultsOnOneHostCanSetItsOffsetAtTheSameTime() throws Exception {
        BackendRun.Host host = new BackendRun.Host("h0", dir.resolve("hosts").resolve("h0"));
        List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch go = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        for (int s : new int[] {-3, 3}) {
            Thread t = new Thread(() -> {
                try {
                    go.await();
                    for (int i = 0; i < 2_000 && errors.isEmpty(); i++) {
                        host.offset(s);
                    }
                } catch (Exception e) {
                    errors.add(e);
                }
            });
            t.start();
            threads.add(t);
        }
        go.countDown();
        for (Thread t : threads) {
            t.join();
        }
        assertEquals(List.of(), errors, "overlapping offset() calls on one host failed");
    }

    /**
     * Claim: "a process's recovery is measured from the end of the last fault that acted on it", within its bound.
     * Attack: a KILL_RESTART (bound 20 s) and a coordinator fault (bound 25 s) overlap on one process; it issues again 22 s
     * after the coordinator fault ended, inside that fault's 25 s. Scaled here by 1/100: bounds 200 and 250 ms, progress
     * 220 ms after the calm.
     * Observed: each fault's waiter uses its own bound from the shared calm, so the KILL_RESTART's waiter reports the process
     * over its 20 s bound for a delay the coordinator fault is allowed.
     */
    @Test
    void aRecoveryWithinTheBoundOfTheLastFaultIsNotBlamedOnAnEarlierOne() throws Exception {
        BackendRun run = newRun(1);
        BackendRun.Proc p = readyProc(run, "p0");
        p.disturb(200); // KILL_RESTART
        p.disturb(250); // coordinator fault
        p.calm(); // the restart done
        Thread.sleep(50);
        p.calm(); // the coordinator back
        long calm = p.calmSince();
        Thread progress = new Thread(() -> {
            while (System.nanoTime() - calm < 220_000_000L) {
                Thread.onSpinWait();
            }
            p.lastProgressNanos = System.nanoTime();
        });
        progress.start();
        long kill = (long) invoke(run, "awaitProgressAfterCalm", p, 200L);
        long coordinator = (long) invoke(run, "awaitProgressAfterCalm", p, 250L);
        progress.join();
        assertTrue(coordinator >= 0, "the coordinator fault's waiter: " + coordinator);
        assertTrue(kill >= 0, "recovered " + coordinator + " ms after the last fault on it (bound 250), yet reported over the"
                + " earlier fault's 200 ms bound: " + kill);
    }

    // ------------------------------------------------------------------ replay

    /**
     * Claim: "./chaos --seed 2  # replay a schedule".
     * Attack: the same seed twice; in the second run one process is still starting (not READY) when the first fault picks
     * it, as a JVM's start-up time varies from run to run.
     * Observed: victims are drawn from the shared Random at injection time (and a busy or not-ready draw consumes another
     * number and sleeps 200 ms, letting concurrent injections interleave their draws), so every later fault of the replay
     * hits other processes than the original run's; only the kinds' order is replayed (and only that is logged).
     */
    @Test
    void aReplayWithTheSameSeedHitsTheSameProcessesInLaterFaults() throws Exception {
        List<String> first = victims(null);
        List<String> replay = victims(first.get(0));
        assertEquals(first.subList(1, first.size()), replay.subList(1, replay.size()),
                "victims of faults 2.. differ between two runs of one seed: " + first + " vs " + replay);
    }

    private List<String> victims(String startingUp) throws Exception {
        BackendRun run = newRun(2);
        List<BackendRun.Proc> regular = regular(run);
        for (int i = 0; i < BackendRun.PROCESSES; i++) {
            BackendRun.Proc p = readyProc(run, "p" + i);
            p.ready = !p.base.equals(startingUp);
            regular.add(p);
        }
        run.schedule();
        Thread up = new Thread(() -> {
            try {
                Thread.sleep(300);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            regular.forEach(p -> p.ready = true); // the slow one is up 300 ms later
        });
        up.start();
        List<String> out = new ArrayList<>();
        for (int k = 0; k < 6; k++) {
            BackendRun.Proc v = (BackendRun.Proc) invoke(run, "pickTarget", k);
            out.add(v.base);
            v.busy = false;
        }
        up.join();
        return out;
    }

    // ------------------------------------------------------------------ helpers

    private static long id(long millis, int worker, int sequence) {
        return Checker.LAYOUT.encode(Checker.LAYOUT.epoch().toEpochMilli() + millis, 1, worker, 0, sequence);
    }

    private void control() throws IOException {
        ids("ctl-a.1.t0.ids", id(T, 100, 0), id(T, 100, 1));
        ids("ctl-b.1.t0.ids", id(T, 100, 0));
    }

    private void ids(String file, long... ids) throws IOException {
        try (OutputStream o = Files.newOutputStream(dir.resolve(file)); DataOutputStream d = new DataOutputStream(o)) {
            for (long id : ids) {
                d.writeLong(id);
            }
        }
    }

    private static void line(OutputStream out, String line) throws IOException {
        out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private Object newWorker(IdGenerator g) throws Exception {
        Constructor<ChaosWorker> c = ChaosWorker.class.getDeclaredConstructor(IdGenerator.class, Path.class, String.class, PrintStream.class);
        c.setAccessible(true);
        PrintStream events = new PrintStream(Files.newOutputStream(dir.resolve("p0.1.events")), true, StandardCharsets.UTF_8);
        return c.newInstance(g, dir, "p0.1", events);
    }

    private static Thread thread(Object worker, int kind) throws Exception {
        Method m = ChaosWorker.class.getDeclaredMethod("thread", int.class);
        m.setAccessible(true);
        Thread t = (Thread) m.invoke(worker, kind);
        t.setUncaughtExceptionHandler((th, e) -> { }); // the JVM's default would print it to .stderr, which no one reads
        return t;
    }

    /** Runs one of ChaosWorker's issuing threads for a while, then stops it as main() does at close. */
    private void runThread(IdGenerator g, int kind, long millis) throws Exception {
        Object worker = newWorker(g);
        Thread t = thread(worker, kind);
        t.start();
        Thread.sleep(millis);
        setField(worker, "stop", true);
        t.join(5_000);
    }

    private BackendRun newRun(long seed) {
        return new BackendRun("host-local", dir.resolve("run"), seed, 32_000, 1_000, new PrintStream(OutputStream.nullOutputStream()), "",
                Path.of("/nonexistent/libfaketimeMT.so.1"));
    }

    private BackendRun.Proc readyProc(BackendRun run, String base) {
        BackendRun.Proc p = run.new Proc(base, new BackendRun.Host("h0", dir.resolve("hosts").resolve("h0")), true);
        p.process = new FakeProcess(InputStream.nullInputStream());
        p.ready = true;
        return p;
    }

    @SuppressWarnings("unchecked")
    private static List<BackendRun.Proc> regular(BackendRun run) throws Exception {
        return (List<BackendRun.Proc>) getField(run, "regular");
    }

    @SuppressWarnings("unchecked")
    private static List<String> failures(BackendRun run) throws Exception {
        return new ArrayList<>((List<String>) getField(run, "failures"));
    }

    private static Object getField(Object o, String name) throws Exception {
        Field f = o.getClass().getDeclaredField(name);
        f.setAccessible(true);
        return f.get(o);
    }

    private static void setField(Object o, String name, Object value) throws Exception {
        Field f = o.getClass().getDeclaredField(name);
        f.setAccessible(true);
        f.set(o, value);
    }

    private static Object invoke(Object o, String name, Object... args) {
        try {
            for (Method m : o.getClass().getDeclaredMethods()) {
                if (m.getName().equals(name) && m.getParameterCount() == args.length) {
                    m.setAccessible(true);
                    return m.invoke(o, args);
                }
            }
            throw new NoSuchMethodException(name);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A process that is alive until its output ends; its pid names no /dev/shm file. */
    private static final class FakeProcess extends Process {
        private final InputStream out;
        private volatile boolean ended;

        FakeProcess(InputStream out) {
            this.out = new java.io.FilterInputStream(out) {
                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    int n = super.read(b, off, len);
                    ended |= n < 0;
                    return n;
                }
            };
        }

        @Override
        public OutputStream getOutputStream() {
            return OutputStream.nullOutputStream();
        }

        @Override
        public InputStream getInputStream() {
            return out;
        }

        @Override
        public InputStream getErrorStream() {
            return InputStream.nullInputStream();
        }

        @Override
        public int waitFor() {
            return 0;
        }

        @Override
        public int exitValue() {
            return 0;
        }

        @Override
        public boolean isAlive() {
            return !ended;
        }

        @Override
        public long pid() {
            return -424242;
        }

        @Override
        public void destroy() {
            ended = true;
        }
    }

    /** A generator of worker 1, IDC 1, on the chaos layout; each test overrides the call it attacks. */
    private static class FakeGenerator implements IdGenerator {
        final AtomicInteger calls = new AtomicInteger();
        private final AtomicInteger sequence = new AtomicInteger();

        long nextId() {
            int s = sequence.getAndIncrement();
            return id(T + s / 1024, 1, s % 1024);
        }

        @Override
        public long next(java.time.Duration timeout) {
            return nextId();
        }

        @Override
        public dev.ekko.GeneratorStatus status() {
            throw new UnsupportedOperationException("not used by the harness");
        }

        @Override
        public long next() {
            return nextId();
        }

        @Override
        public void next(long[] ids, int offset, int length) {
            for (int i = 0; i < length; i++) {
                ids[offset + i] = nextId();
            }
        }

        @Override
        public IdRange nextRange(int maxCount) {
            long first = nextId();
            return new IdRange(first, 1);
        }

        @Override
        public IdGenerator forProduct(int product) {
            return this;
        }

        @Override
        public Layout layout() {
            return Checker.LAYOUT;
        }

        @Override
        public int idc() {
            return 1;
        }

        @Override
        public int workerId() {
            return 1;
        }

        @Override
        public int product() {
            return 0;
        }

        @Override
        public long leadMillis() {
            return 0;
        }

        @Override
        public java.util.Optional<String> unavailableReason() {
            return java.util.Optional.empty();
        }

        @Override
        public void close() {
        }
    }
}
