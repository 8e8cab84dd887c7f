package dev.ekko.chaos;

import dev.ekko.DecodedId;
import dev.ekko.Ekko;
import dev.ekko.EkkoClock;
import dev.ekko.EkkoException;
import dev.ekko.IdGenerator;
import dev.ekko.IdRange;
import dev.ekko.Layout;
import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * One generator process of a chaos run. Arguments are {@code key=value}: {@code ekko.*} settings for the builder and the
 * harness's own {@code chaos.*} keys:
 * <ul>
 *   <li>{@code chaos.dir}: where its files go; {@code chaos.name}: its name with the incarnation, e.g. {@code h1-p0.3};
 *   <li>{@code chaos.monotonic}: a file of 8 bytes, the nanoseconds the harness took off this process's monotonic clock
 *       (a simulated suspend: the wall clock ran on while the monotonic clock stood still);
 *   <li>{@code chaos.lifetime}: if set, close cleanly after this many milliseconds of issuing (the intruders).
 * </ul>
 *
 * <p>Three threads issue, with {@code next()}, {@code next(long[])} and {@code nextRange(int)}; each appends every ID it got
 * to its own file {@code <name>.t<k>.ids} (big-endian longs, written out every 20 ms by a flusher thread, also while a call
 * blocks; a batch that throws part-way keeps the IDs it wrote). Before each call a thread reads
 * {@link IdGenerator#workerId()}; an ID that decodes to another IDC, or to a worker ID held neither before nor after the call,
 * is written as {@code MISMATCH} to {@code <name>.events}, beside the tenure changes ({@code TENURE <idc> <worker>}) and every
 * exception's type ({@code REFUSED <class>} counts at the end); a thread that stops for any other reason writes
 * {@code UNEXPECTED}. Every 50 ms it prints {@code P <ids issued> <System.nanoTime() of the last>} for the harness.
 * It closes the generator cleanly and exits 0 on {@code close} or end of stdin; a start refused exits 3.
 * The wall clock is the process's own ({@link System#currentTimeMillis()}, which libfaketime moves).
 */
public final class ChaosWorker {

    private static final long FLUSH_NANOS = 20_000_000L;

    private final IdGenerator generator;
    private final Layout layout;
    private final Path dir;
    private final String name;
    private final PrintStream events;
    private final AtomicLong issued = new AtomicLong();
    private final Map<String, AtomicLong> refused = new ConcurrentHashMap<>();
    private final java.util.List<DataOutputStream> streams = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile boolean stop;
    private volatile int lastTenure = -1;
    /** {@link System#nanoTime()} of the last ID recorded (the real monotonic clock, which the harness shares). */
    private volatile long lastIssueNanos;

    private ChaosWorker(IdGenerator generator, Path dir, String name, PrintStream events) {
        this.generator = generator;
        this.layout = generator.layout();
        this.dir = dir;
        this.name = name;
        this.events = events;
        Thread flusher = new Thread(this::flushLoop, "chaos-flush");
        flusher.setDaemon(true);
        flusher.start();
    }

    /**
     * Runs one generator process; see the class comment.
     *
     * @param args {@code key=value} settings
     * @throws Exception if its files cannot be written
     */
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        Map<String, String> chaos = new TreeMap<>();
        for (String a : args) {
            int eq = a.indexOf('=');
            String k = a.substring(0, eq);
            String v = a.substring(eq + 1);
            if (k.startsWith("chaos.")) {
                chaos.put(k, v);
            } else {
                p.setProperty(k, v);
            }
        }
        Path dir = Path.of(chaos.get("chaos.dir"));
        String name = chaos.get("chaos.name");
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true, StandardCharsets.UTF_8);
        PrintStream events = new Events(Files.newOutputStream(dir.resolve(name + ".events"), StandardOpenOption.CREATE,
                StandardOpenOption.APPEND));
        IdGenerator g;
        try {
            g = Ekko.newBuilder().properties(p).clock(new SuspendableClock(Path.of(chaos.get("chaos.monotonic")))).build();
        } catch (EkkoException | IllegalStateException | IllegalArgumentException e) {
            events.println("START_REFUSED " + e.getClass().getName() + " " + oneLine(e.getMessage()));
            out.println("FAILED " + e.getClass().getName() + ": " + oneLine(e.getMessage()));
            System.exit(3);
            return;
        }
        events.println("STARTED idc=" + g.idc() + " worker=" + g.workerId());
        ChaosWorker w = new ChaosWorker(g, dir, name, events);
        w.tenure(g.idc(), g.workerId());
        out.println("READY worker=" + g.workerId());
        Thread[] threads = {w.thread(0), w.thread(1), w.thread(2)};
        for (Thread t : threads) {
            t.start();
        }
        long lifetimeNanos = chaos.containsKey("chaos.lifetime") ? Long.parseLong(chaos.get("chaos.lifetime")) * 1_000_000L : Long.MAX_VALUE;
        long started = System.nanoTime();
        java.util.concurrent.atomic.AtomicBoolean closeAsked = new java.util.concurrent.atomic.AtomicBoolean();
        Thread stdin = new Thread(() -> {
            try {
                java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8));
                for (String line; (line = in.readLine()) != null; ) {
                    if (line.equals("close")) {
                        break;
                    }
                }
            } catch (IOException e) {
                // the harness is gone: close as asked
            }
            closeAsked.set(true);
        }, "chaos-stdin");
        stdin.setDaemon(true);
        stdin.start();
        while (System.nanoTime() - started < lifetimeNanos && !closeAsked.get()) {
            out.println("P " + w.issued.get() + " " + w.lastIssueNanos);
            int current = g.workerId();
            if (current != w.lastTenure) {
                w.tenure(g.idc(), current);
            }
            Thread.sleep(50);
        }
        w.stop = true;
        for (Thread t : threads) {
            t.join(5_000);
        }
        w.flushAll(); // a thread still blocked in a call keeps what it recorded
        g.close();
        w.refused.forEach((k, v) -> events.println("REFUSED " + k + " " + v.get()));
        events.println("CLOSED issued=" + w.issued.get());
        out.println("P " + w.issued.get() + " " + w.lastIssueNanos);
        out.println("CLOSED");
        System.exit(0);
    }

    private synchronized void tenure(int idc, int worker) {
        if (worker != lastTenure) {
            lastTenure = worker;
            events.println("TENURE " + idc + " " + worker);
        }
    }

    private Thread thread(int kind) {
        Thread t = new Thread(() -> {
            DataOutputStream out = null;
            try {
                out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(dir.resolve(name + ".t" + kind + ".ids"),
                        StandardOpenOption.CREATE_NEW), 1 << 16));
                streams.add(out);
                issue(kind, out);
            } catch (Throwable e) {
                // Seen by the checker: a thread that stopped issuing for anything but the end of the run.
                events.println("UNEXPECTED " + e.getClass().getName() + " " + oneLine(e.getMessage()) + " (issuing thread " + kind
                        + " stopped)");
            } finally {
                if (out != null) {
                    synchronized (out) {
                        try {
                            out.close();
                        } catch (IOException e) {
                            events.println("UNEXPECTED " + e.getClass().getName() + " " + oneLine(e.getMessage()) + " (closing "
                                    + name + ".t" + kind + ".ids)");
                        }
                    }
                }
            }
        }, "chaos-" + kind);
        t.setDaemon(true);
        return t;
    }

    /**
     * Every 20 ms, writes out what each thread recorded, also while it is blocked in a call (a wait for a clock step back, a
     * reservation), so that a SIGKILL loses at most the last 20 ms of IDs.
     */
    private void flushLoop() {
        while (true) {
            LockSupport.parkNanos(FLUSH_NANOS);
            flushAll();
        }
    }

    private void flushAll() {
        for (DataOutputStream out : streams) {
            synchronized (out) {
                try {
                    out.flush();
                } catch (IOException e) {
                    // closed by its thread, or the disk failed: the thread reports that when it writes next
                }
            }
        }
    }

    private void issue(int kind, DataOutputStream out) throws IOException {
        long[] batch = new long[32];
        while (!stop) {
            int before = generator.workerId();
            try {
                switch (kind) {
                    case 0 -> {
                        long id = generator.next();
                        record(out, id, before, generator.workerId());
                        LockSupport.parkNanos(100_000);
                    }
                    case 1 -> {
                        Arrays.fill(batch, 0L);
                        try {
                            generator.next(batch);
                        } catch (RuntimeException e) {
                            // "IDs already written stay valid and unique": they are checked too (no chaos ID is 0: IDC 1).
                            int after = generator.workerId();
                            for (int i = 0; i < batch.length && batch[i] != 0; i++) {
                                record(out, batch[i], before, after);
                            }
                            throw e;
                        }
                        int after = generator.workerId();
                        for (long id : batch) {
                            record(out, id, before, after);
                        }
                        LockSupport.parkNanos(1_000_000);
                    }
                    default -> {
                        IdRange r = generator.nextRange(16);
                        int after = generator.workerId();
                        for (int i = 0; i < r.count(); i++) {
                            record(out, r.get(i), before, after);
                        }
                        LockSupport.parkNanos(1_000_000);
                    }
                }
            } catch (RuntimeException e) {
                refused.computeIfAbsent(e.getClass().getName(), k -> new AtomicLong()).incrementAndGet();
                if (!(e instanceof EkkoException)) {
                    events.println("UNEXPECTED " + e.getClass().getName() + " " + oneLine(e.getMessage()));
                }
                LockSupport.parkNanos(2_000_000);
            }
        }
    }

    /** Writes one ID (under the stream's lock, which the flusher takes too) and checks it against the worker ID held. */
    private void record(DataOutputStream out, long id, int workerBefore, int workerAfter) throws IOException {
        synchronized (out) {
            out.writeLong(id);
        }
        issued.incrementAndGet();
        lastIssueNanos = System.nanoTime();
        DecodedId d = layout.decode(id);
        if (d.idc() != generator.idc() || d.worker() != workerBefore && d.worker() != workerAfter) {
            events.println("MISMATCH " + Layout.format(id) + " decodes to idc=" + d.idc() + " worker=" + d.worker()
                    + " while the generator (idc=" + generator.idc() + ") held worker " + workerBefore + " before the call and "
                    + workerAfter + " after");
        }
        if (d.worker() != lastTenure) {
            tenure(d.idc(), d.worker());
        }
    }

    private static String oneLine(String s) {
        return s == null ? "" : s.replace('\n', ' ');
    }

    /** Each line prefixed with the real monotonic time in ms and this process's wall clock, for reading a run afterwards. */
    private static final class Events extends PrintStream {
        Events(OutputStream out) {
            super(out, true, StandardCharsets.UTF_8);
        }

        @Override
        public synchronized void println(String line) {
            super.println(System.nanoTime() / 1_000_000 + " " + java.time.Instant.ofEpochMilli(System.currentTimeMillis()) + " " + line);
        }
    }

    /**
     * The wall clock of this process (libfaketime's, when the harness preloads it) and a monotonic clock the harness can hold
     * still: {@link System#nanoTime()} minus the nanoseconds in a mapped file, which the harness raises by the length of a
     * SIGSTOP to make it look like a suspend.
     */
    static final class SuspendableClock implements EkkoClock {

        private final MappedByteBuffer offset;

        SuspendableClock(Path file) throws IOException {
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                this.offset = ch.map(FileChannel.MapMode.READ_ONLY, 0, 8);
            }
        }

        @Override
        public long millis() {
            return System.currentTimeMillis();
        }

        @Override
        public long nanos() {
            return System.nanoTime() - offset.getLong(0);
        }
    }
}
