package dev.ekko.bench.fleet;

import dev.ekko.EkkoException;
import dev.ekko.LeaseLostException;
import dev.ekko.WorkerIdsExhaustedException;
import dev.ekko.spi.AllocatorContext;
import dev.ekko.spi.ClockReport;
import dev.ekko.spi.WorkerAllocator;
import dev.ekko.spi.WorkerAllocatorProvider;
import dev.ekko.spi.WorkerLease;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One JVM of simulated holders for {@link FleetBench}: many worker-ID holders that use one allocator each, through the SPI
 * exactly as generators do (acquire, renew with a clock report every report interval, release), driven by commands on
 * standard input, one per line, each answered by one line on standard output starting with {@code ok} or {@code error}:
 * <pre>
 *   acquire IDC COUNT PREFIX THREADS   COUNT new holders (instance names PREFIX-0...) acquire at once from THREADS threads
 *   renew-start INTERVAL_MS            every holder renews every interval, phases spread evenly, until renew-stop
 *   stats                              renewals since the last stats: counts and latency percentiles (and resets them)
 *   renew-stop
 *   exhaust IDC TIMES                  a new holder tries to acquire TIMES times: every attempt should be refused
 *   restart THREADS                    every holder releases, then all acquire again at once with their instance names
 *   release THREADS                    every holder releases and closes its allocator
 *   exit
 * </pre>
 * The granted worker IDs are written to the file named by {@code acquire} replies so that the parent can check that no
 * worker ID was held twice across JVMs.
 */
public final class FleetNode {

    /** Lease TTL, margin and report interval: the core's defaults. */
    static final Duration TTL = Duration.ofSeconds(30);
    static final Duration MARGIN = Duration.ofSeconds(3);

    private final WorkerAllocatorProvider provider;
    private final Map<String, String> settings;
    private final Map<String, String> fleetSettings;
    private final String node;
    private final Path out;
    private final List<Holder> holders = new ArrayList<>();
    private final ExecutorService workers;
    private volatile Thread dispatcher;
    private final AtomicBoolean renewing = new AtomicBoolean();
    private final Stats stats = new Stats();

    private FleetNode(WorkerAllocatorProvider provider, Map<String, String> settings, String node, Path out, int renewThreads) {
        this.provider = provider;
        this.settings = settings;
        this.node = node;
        this.out = out;
        Map<String, String> fleet = new TreeMap<>();
        fleet.put("ekko.epoch", "2026-01-01T00:00:00Z");
        fleet.put("ekko.positive", "true");
        fleet.put("ekko.product.bits", "0");
        fleet.put("ekko.worker.lease.ttl", "30s");
        fleet.put("ekko.clock.max.skew", "3s");
        fleet.put("ekko.clock.max.lead", "0s");
        this.fleetSettings = fleet;
        this.workers = Executors.newFixedThreadPool(renewThreads, r -> {
            Thread t = new Thread(r, "fleet-renew");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Runs the node.
     *
     * @param args the allocator's name, a properties file with its settings, this node's name, a directory for its files,
     *     and the number of renewal threads
     * @throws Exception if the node cannot start
     */
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(Path.of(args[1]), StandardCharsets.UTF_8)) {
            p.load(r);
        }
        Map<String, String> settings = new TreeMap<>();
        p.forEach((k, v) -> settings.put((String) k, (String) v));
        WorkerAllocatorProvider provider = ServiceLoader.load(WorkerAllocatorProvider.class).stream()
                .map(ServiceLoader.Provider::get).filter(x -> x.name().equals(args[0])).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no allocator named " + args[0]));
        FleetNode n = new FleetNode(provider, settings, args[2], Path.of(args[3]), Integer.parseInt(args[4]));
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        System.out.println("ok ready");
        System.out.flush();
        for (String line; (line = in.readLine()) != null; ) {
            String[] c = line.trim().split("\\s+");
            String reply;
            try {
                reply = "ok " + n.run(c);
            } catch (Exception e) {
                reply = "error " + e.getClass().getSimpleName() + ": " + String.valueOf(e.getMessage()).replace('\n', ' ');
            }
            System.out.println(reply);
            System.out.flush();
            if (c[0].equals("exit")) {
                break;
            }
        }
        System.exit(0);
    }

    private String run(String[] c) throws Exception {
        switch (c[0]) {
            case "acquire":
                return acquire(Integer.parseInt(c[1]), Integer.parseInt(c[2]), c[3], Integer.parseInt(c[4]));
            case "renew-start":
                return renewStart(Long.parseLong(c[1]));
            case "stats":
                return stats.takeLine(out.resolve(node + ".lat"));
            case "renew-stop":
                return renewStop();
            case "exhaust":
                return exhaust(Integer.parseInt(c[1]), Integer.parseInt(c[2]));
            case "restart":
                return restart(Integer.parseInt(c[1]));
            case "release":
                return release(Integer.parseInt(c[1]));
            case "warm":
                return warm(Integer.parseInt(c[1]));
            case "compile":
                return compile(Integer.parseInt(c[1]), Integer.parseInt(c[2]));
            case "exit":
                workers.shutdownNow();
                return "bye";
            default:
                throw new IllegalArgumentException("unknown command " + c[0]);
        }
    }

    private WorkerAllocator allocator(int idc, String instance) {
        AllocatorContext context = AllocatorContext.builder().idc(idc).workerIds(4096).instance(instance).host(node + "-" + instance)
                .leaseTtl(TTL).settings(settings).fleetSettings(fleetSettings).build();
        return provider.create(context);
    }

    // ---------------------------------------------------------------- acquire, restart, release

    private String acquire(int idc, int count, String prefix, int threads) throws Exception {
        List<Holder> fresh = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String instance = prefix + "-" + i;
            fresh.add(new Holder(idc, instance, allocator(idc, instance)));
        }
        String result = acquireAll(fresh, threads);
        holders.addAll(fresh);
        writeHeld();
        return result;
    }

    /** Every holder in {@code list} acquires at once (from {@code threads} threads, released together). */
    private String acquireAll(List<Holder> list, int threads) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            CountDownLatch go = new CountDownLatch(1);
            LongBuffer latencies = new LongBuffer();
            AtomicInteger exhausted = new AtomicInteger();
            Map<String, AtomicInteger> failures = new ConcurrentHashMap<>();
            Map<String, String> firstMessages = new ConcurrentHashMap<>();
            AtomicLong lastDone = new AtomicLong();
            List<Future<?>> futures = new ArrayList<>();
            for (Holder h : list) {
                futures.add(pool.submit(() -> {
                    go.await();
                    long t0 = System.nanoTime();
                    try {
                        h.lease = h.allocator.acquire();
                        h.firstGrantMillis = System.currentTimeMillis() - (System.nanoTime() - t0) / 1_000_000;
                    } catch (WorkerIdsExhaustedException e) {
                        exhausted.incrementAndGet();
                    } catch (RuntimeException e) {
                        failures.computeIfAbsent(e.getClass().getSimpleName(), k -> new AtomicInteger()).incrementAndGet();
                        firstMessages.putIfAbsent(e.getClass().getSimpleName(), String.valueOf(e.getMessage()));
                    }
                    long t1 = System.nanoTime();
                    latencies.add(t1 - t0);
                    lastDone.accumulateAndGet(t1, Math::max);
                    return null;
                }));
            }
            long start = System.nanoTime();
            go.countDown();
            for (Future<?> f : futures) {
                f.get();
            }
            long wallNanos = lastDone.get() - start;
            int granted = (int) list.stream().filter(h -> h.lease != null).count();
            return String.format(Locale.ROOT, "granted=%d exhausted=%d failed=%s wall_ms=%.1f %s%s", granted, exhausted.get(),
                    failures.isEmpty() ? "0" : failures.toString().replace(' ', '_'), wallNanos / 1e6, latencies.percentiles("lat"),
                    firstMessages.isEmpty() ? "" : " first_failure=\"" + firstMessages.values().iterator().next().replace('"', '\'')
                            .replace('\n', ' ') + "\"");
        } finally {
            pool.shutdownNow();
        }
    }

    private String restart(int threads) throws Exception {
        Map<Holder, Integer> before = new ConcurrentHashMap<>();
        for (Holder h : holders) {
            if (h.lease != null) {
                before.put(h, h.lease.workerId());
            }
        }
        releaseAll(threads, false);
        String result = acquireAll(holders, threads);
        int same = 0;
        for (Map.Entry<Holder, Integer> e : before.entrySet()) {
            if (e.getKey().lease != null && e.getKey().lease.workerId() == e.getValue()) {
                same++;
            }
        }
        writeHeld();
        return result + " same_worker=" + same + "/" + before.size();
    }

    private String release(int threads) throws Exception {
        String r = releaseAll(threads, true);
        holders.clear();
        return r;
    }

    private String releaseAll(int threads, boolean close) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        LongBuffer latencies = new LongBuffer();
        AtomicInteger failed = new AtomicInteger();
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (Holder h : holders) {
                futures.add(pool.submit(() -> {
                    WorkerLease l = h.lease;
                    h.lease = null;
                    if (l != null) {
                        long t0 = System.nanoTime();
                        try {
                            h.allocator.release(l, report(h));
                        } catch (RuntimeException e) {
                            failed.incrementAndGet();
                        }
                        latencies.add(System.nanoTime() - t0);
                    }
                    if (close) {
                        h.allocator.close();
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        return "released=" + latencies.size() + " failed=" + failed.get() + " " + latencies.percentiles("lat");
    }

    private String exhaust(int idc, int times) throws Exception {
        LongBuffer latencies = new LongBuffer();
        int refused = 0;
        String first = "";
        String other = "";
        for (int i = 0; i < times; i++) {
            try (WorkerAllocator a = allocator(idc, node + "-extra-" + i)) {
                long t0 = System.nanoTime();
                try {
                    WorkerLease l = a.acquire();
                    other = "granted worker " + l.workerId();
                    a.release(l, new ClockReport(System.currentTimeMillis(), System.currentTimeMillis(), "x", 1, "x"));
                } catch (WorkerIdsExhaustedException e) {
                    refused++;
                    if (first.isEmpty()) {
                        first = e.getMessage();
                    }
                } catch (EkkoException e) {
                    other = e.getClass().getSimpleName() + ": " + e.getMessage();
                }
                latencies.add(System.nanoTime() - t0);
            }
        }
        return "refused=" + refused + "/" + times + " " + latencies.percentiles("lat") + " other=\"" + other.replace('"', '\'')
                + "\" message=\"" + first.replace('"', '\'') + "\"";
    }

    /**
     * Writes the leases held now: IDC, worker ID, instance, and the wall-clock window in which the holder could issue with it:
     * from the first grant of this lease to its fence deadline (last grant + TTL - margin), as a generator would stop.
     */
    /**
     * Acquires and releases one worker ID of {@code idc} with an allocator kept open until the node exits, so the JVM's
     * client is connected and its classes loaded before a storm: the storm then measures the coordinator, not a cold JVM's
     * first call competing for the CPU with a thousand others (a fleet's processes start on machines of their own).
     */
    private String warm(int idc) throws Exception {
        WorkerAllocator a = allocator(idc, node + "-warm");
        long t0 = System.nanoTime();
        WorkerLease l = null;
        for (int attempt = 1; l == null; attempt++) {
            try {
                l = a.acquire();
            } catch (EkkoException e) {
                if (e instanceof WorkerIdsExhaustedException || attempt == 5) {
                    throw e;
                }
                // A cold JVM's first call (connecting, loading the client's classes) may time out on a busy machine: that is
                // what warming is for.
            }
        }
        a.release(l, new ClockReport(System.currentTimeMillis(), System.currentTimeMillis(), "warm", 1, "warm"));
        warmAllocator = a;
        return String.format(Locale.ROOT, "warm_ms=%.1f", (System.nanoTime() - t0) / 1e6);
    }

    /**
     * Renews in a loop for {@code seconds}, on 4 holders of {@code idc} (acquired first, released and closed after), so that
     * the JIT compiles the client's code before anything is measured. A fleet's processes renew once per interval each, spread
     * over machines of their own: what their client code costs is theirs, not the coordinator's. Simulated holders share this
     * machine with the server, and an interpreted client stack (jetcd, gRPC, Netty, protobuf: hundreds of microseconds of CPU
     * per call until compiled) would take the server's CPU and be measured as the coordinator falling behind.
     */
    private String compile(int idc, int seconds) throws Exception {
        int threads = 4;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        AtomicLong renewals = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        try {
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int i = t;
                futures.add(pool.submit(() -> {
                    try (WorkerAllocator a = allocator(idc, node + "-compile-" + i)) {
                        WorkerLease l = null;
                        while (System.nanoTime() < end) {
                            long now = System.currentTimeMillis();
                            try {
                                if (l == null) {
                                    l = a.acquire();
                                } else {
                                    l = a.renew(l, new ClockReport(now, now, "compile", 1, "compile"));
                                    renewals.incrementAndGet();
                                }
                            } catch (LeaseLostException e) {
                                l = null;
                                errors.incrementAndGet();
                            } catch (EkkoException e) {
                                errors.incrementAndGet(); // a cold JVM's first calls may time out: this is the warm-up
                            }
                        }
                        if (l != null) {
                            long now = System.currentTimeMillis();
                            a.release(l, new ClockReport(now, now, "compile", 1, "compile"));
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : futures) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        return "compile_renewals=" + renewals.get() + " compile_errors=" + errors.get();
    }

    /** Kept open so the shared client stays connected. */
    private WorkerAllocator warmAllocator;

    private void writeHeld() throws IOException {
        List<String> lines = new ArrayList<>();
        long nowNanos = System.nanoTime();
        long nowMillis = System.currentTimeMillis();
        for (Holder h : holders) {
            WorkerLease l = h.lease;
            if (l != null) {
                long deadline = nowMillis + (l.grantedAtNanos() + TTL.toNanos() - MARGIN.toNanos() - nowNanos) / 1_000_000;
                lines.add(h.idc + " " + l.workerId() + " " + h.instance + " " + h.firstGrantMillis + " " + deadline);
            }
        }
        Files.write(out.resolve(node + ".held"), lines, StandardCharsets.UTF_8);
    }

    // ---------------------------------------------------------------- renewals

    private String renewStart(long intervalMillis) {
        if (!renewing.compareAndSet(false, true)) {
            throw new IllegalStateException("already renewing");
        }
        List<Holder> live = new ArrayList<>();
        for (Holder h : holders) {
            if (h.lease != null) {
                live.add(h);
            }
        }
        long interval = TimeUnit.MILLISECONDS.toNanos(intervalMillis);
        long start = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
        int n = live.size();
        Thread t = new Thread(() -> {
            // Holder i renews at start + i * interval / n + k * interval: phases spread evenly, as independent processes are.
            for (long k = 0; renewing.get(); k++) {
                for (int i = 0; i < n && renewing.get(); i++) {
                    long due = start + k * interval + i * interval / n;
                    long wait;
                    while ((wait = due - System.nanoTime()) > 0 && renewing.get()) {
                        java.util.concurrent.locks.LockSupport.parkNanos(wait); // no spinning: the holders' CPU is the server's too
                    }
                    Holder h = live.get(i);
                    if (h.lease == null) {
                        continue;
                    }
                    if (!h.inFlight.compareAndSet(false, true)) {
                        stats.skipped.incrementAndGet(); // the previous renewal still runs: the core would not start another
                        continue;
                    }
                    workers.execute(() -> renewOnce(h, due));
                }
            }
        }, "fleet-dispatch");
        t.setDaemon(true);
        dispatcher = t;
        t.start();
        return "renewing=" + n;
    }

    private void renewOnce(Holder h, long due) {
        try {
            WorkerLease l = h.lease;
            if (l == null) {
                return;
            }
            long deadline = l.grantedAtNanos() + TTL.toNanos() - MARGIN.toNanos();
            long t0 = System.nanoTime();
            try {
                h.lease = h.allocator.renew(l, report(h));
                long t1 = System.nanoTime();
                stats.record(t1 - due, t1 - t0, t1 > deadline);
            } catch (LeaseLostException e) {
                stats.lost.incrementAndGet();
                h.lease = null;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) {
                stats.failed.incrementAndGet();
                stats.lastFailure = e.getClass().getSimpleName() + ": " + e.getMessage();
            }
        } finally {
            h.inFlight.set(false);
        }
    }

    private String renewStop() throws InterruptedException {
        renewing.set(false);
        Thread t = dispatcher;
        if (t != null) {
            t.join();
        }
        // Let renewals in flight finish.
        for (Holder h : holders) {
            while (h.inFlight.get()) {
                Thread.sleep(1);
            }
        }
        return "stopped";
    }

    private static ClockReport report(Holder h) {
        long now = System.currentTimeMillis();
        // The core reserves up to the next report plus the margin; any value works for the coordinator's cost.
        return new ClockReport(now, now + 6_000, h.allocatorHost(), ProcessHandle.current().pid(), h.instance);
    }

    private final class Holder {
        final int idc;
        final String instance;
        final WorkerAllocator allocator;
        final AtomicBoolean inFlight = new AtomicBoolean();
        volatile WorkerLease lease;
        /** Wall clock just before the request of the current lease's acquire was sent. */
        volatile long firstGrantMillis;

        Holder(int idc, String instance, WorkerAllocator allocator) {
            this.idc = idc;
            this.instance = instance;
            this.allocator = allocator;
        }

        String allocatorHost() {
            return node + "-" + instance;
        }
    }

    /** Renewal outcomes since the last {@code stats} command. */
    private static final class Stats {
        final AtomicLong skipped = new AtomicLong();
        final AtomicLong lost = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        volatile String lastFailure = "";
        private LongBuffer latency = new LongBuffer();
        private LongBuffer service = new LongBuffer();
        private long late;
        private long behind;
        private long started = System.nanoTime();

        synchronized void record(long fromDue, long serviceNanos, boolean pastDeadline) {
            latency.add(fromDue);
            service.add(serviceNanos);
            if (pastDeadline) {
                late++;
            }
            if (fromDue > TimeUnit.SECONDS.toNanos(3)) {
                behind++;
            }
        }

        synchronized String takeLine(Path latencies) throws IOException {
            long now = System.nanoTime();
            String line = String.format(Locale.ROOT, "renewed=%d seconds=%.2f late=%d behind=%d skipped=%d lost=%d failed=%d %s %s"
                    + " last_failure=\"%s\"", latency.size(), (now - started) / 1e9, late, behind, skipped.getAndSet(0),
                    lost.getAndSet(0), failed.getAndSet(0), latency.percentiles("due"), service.percentiles("svc"),
                    lastFailure.replace('"', '\''));
            latency.writeTo(latencies);
            latency = new LongBuffer();
            service = new LongBuffer();
            late = 0;
            behind = 0;
            started = now;
            lastFailure = "";
            return line;
        }
    }

    /** A growable array of longs; its percentiles in milliseconds. */
    static final class LongBuffer {
        private long[] values = new long[1024];
        private int size;

        synchronized void add(long v) {
            if (size == values.length) {
                values = java.util.Arrays.copyOf(values, size * 2);
            }
            values[size++] = v;
        }

        synchronized int size() {
            return size;
        }

        /** Writes the values, 8 bytes each, big-endian, for the parent to merge across nodes. */
        synchronized void writeTo(Path file) throws IOException {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(size * 8);
            for (int i = 0; i < size; i++) {
                b.putLong(values[i]);
            }
            Files.write(file, b.array());
        }

        synchronized String percentiles(String name) {
            if (size == 0) {
                return name + "_n=0";
            }
            long[] s = java.util.Arrays.copyOf(values, size);
            java.util.Arrays.sort(s);
            return String.format(Locale.ROOT, "%1$s_p50=%2$.3f %1$s_p99=%3$.3f %1$s_p999=%4$.3f %1$s_max=%5$.3f", name,
                    at(s, 0.50) / 1e6, at(s, 0.99) / 1e6, at(s, 0.999) / 1e6, s[s.length - 1] / 1e6);
        }

        private static long at(long[] sorted, double q) {
            int i = (int) Math.ceil(q * sorted.length) - 1;
            return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
        }
    }
}
