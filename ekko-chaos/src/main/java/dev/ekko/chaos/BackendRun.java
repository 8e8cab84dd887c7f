package dev.ekko.chaos;

import dev.ekko.testsupport.DisposableEtcd;
import dev.ekko.testsupport.DisposableMariaDb;
import dev.ekko.testsupport.DisposableRedis;
import dev.ekko.testsupport.DisposableServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Protocol;
import redis.clients.jedis.Transaction;
import redis.clients.jedis.params.RestoreParams;

/**
 * One back end's part of a chaos run: its coordinator (a server of its own, so that the run may stop, empty and restore it),
 * six generator processes on three simulated hosts, the faults of the schedule, and the check of every ID at the end.
 */
final class BackendRun {

    static final int PROCESSES = 6;
    static final int POOL = PROCESSES + 1;
    static final int TTL_MILLIS = 4_000;
    static final int CONTROL_WORKER = 100;
    private static final int STEP_SECONDS = 3;
    private static final long HUNG_NANOS = 30_000_000_000L;
    private static final long NOT_MEASURED = Long.MIN_VALUE;

    private final String backend;
    private final Path dir;
    private final Random random;
    private final long seed;
    private final long lengthMillis;
    private final int faultEveryMillis;
    private final PrintStream log;
    private final String classPath;
    private final Path libfaketime;
    private final long startNanos = System.nanoTime();

    private DisposableServer server;
    private final List<Host> hosts = new ArrayList<>();
    private final List<Proc> regular = new ArrayList<>();
    private final List<Proc> all = Collections.synchronizedList(new ArrayList<>());
    private final List<String> failures = Collections.synchronizedList(new ArrayList<>());
    private final List<FaultRecord> faults = Collections.synchronizedList(new ArrayList<>());
    private final Map<String, AtomicLong> startRefusals = new ConcurrentHashMap<>();
    private final Object coordinatorLock = new Object();
    private volatile boolean finishing;

    BackendRun(String backend, Path dir, long seed, long lengthMillis, int faultEveryMillis, PrintStream log, String classPath,
            Path libfaketime) {
        this.backend = backend;
        this.dir = dir;
        this.random = new Random(seed ^ backend.hashCode());
        this.seed = seed;
        this.lengthMillis = lengthMillis;
        this.faultEveryMillis = faultEveryMillis;
        this.log = log;
        this.classPath = classPath;
        this.libfaketime = libfaketime;
    }

    boolean hasCoordinator() {
        return !backend.equals("manual") && !backend.equals("host-local");
    }

    /** The faults that apply to this back end. */
    List<Fault> kinds() {
        List<Fault> kinds = new ArrayList<>();
        for (Fault f : Fault.values()) {
            if (hasCoordinator() || !Fault.COORDINATOR.contains(f)) {
                kinds.add(f);
            }
        }
        return kinds;
    }

    /** The schedule: every kind once in a seeded order, then seeded random kinds, {@code faultEveryMillis} apart. */
    List<Fault> schedule() {
        List<Fault> order = new ArrayList<>(kinds());
        Collections.shuffle(order, random);
        long slots = Math.max(order.size(), (lengthMillis - 15_000) / faultEveryMillis);
        while (order.size() < slots) {
            order.add(kinds().get(random.nextInt(kinds().size())));
        }
        return order;
    }

    /**
     * Runs it: starts the coordinator and the processes, injects the schedule, closes everything, checks the IDs.
     *
     * @return the result, with the table row's figures and every failure
     */
    Result run() throws Exception {
        Files.createDirectories(dir);
        List<Fault> schedule = schedule();
        log.println("chaos: " + backend + ": schedule " + schedule);
        ExecutorService pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "chaos-" + backend);
            t.setDaemon(true);
            return t;
        });
        try {
            startCoordinator();
            int hostCount = backend.equals("host-local") ? 1 : 3;
            for (int h = 0; h < hostCount; h++) {
                hosts.add(new Host("h" + h, dir.resolve("hosts").resolve("h" + h)));
            }
            for (int i = 0; i < PROCESSES; i++) {
                Proc p = new Proc("p" + i, hosts.get(i % hostCount), true);
                if (backend.equals("manual")) {
                    p.extra.put("ekko.worker.id", Integer.toString(i));
                }
                regular.add(p);
                launch(p);
                Thread.sleep(300); // six cold JVMs at once on two cores starve each other's first coordinator calls
            }
            pool.submit(this::control);
            pool.submit(this::watchHung);
            long spacing = Math.max(1_000, (lengthMillis - 15_000) / schedule.size());
            Thread.sleep(3_000);
            for (int i = 0; i < schedule.size(); i++) {
                Fault f = schedule.get(i);
                int index = i;
                pool.submit(() -> inject(f, index));
                Thread.sleep(spacing);
            }
            long left = lengthMillis - (System.nanoTime() - startNanos) / 1_000_000;
            if (left > 0) {
                Thread.sleep(left);
            }
            awaitFaults(60_000);
            finishing = true;
            closeAll();
        } finally {
            finishing = true;
            synchronized (all) {
                for (Proc p : all) {
                    p.destroy();
                }
            }
            pool.shutdownNow();
            if (server != null) {
                server.close();
            }
        }
        Checker.Report report = new Checker(dir).check();
        return new Result(backend, report, faults(), startRefusals(), new ArrayList<>(failures));
    }

    // ---------------------------------------------------------------- coordinator

    private void startCoordinator() {
        switch (backend) {
            case "redis" -> server = DisposableRedis.launch();
            case "mysql" -> server = DisposableMariaDb.launch();
            case "etcd" -> server = DisposableEtcd.launch();
            default -> server = null;
        }
    }

    private Map<String, String> backendSettings() {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("ekko.worker.allocator", backend);
        switch (backend) {
            case "redis" -> {
                s.put("ekko.redis.uri", ((DisposableRedis) server).uri());
                s.put("ekko.redis.timeout", "1s");
            }
            case "mysql" -> {
                DisposableMariaDb db = (DisposableMariaDb) server;
                s.put("ekko.mysql.url", db.jdbcUrl());
                s.put("ekko.mysql.user", db.user());
                s.put("ekko.mysql.password", db.password());
                s.put("ekko.mysql.timeout", "1s");
            }
            case "etcd" -> {
                s.put("ekko.etcd.endpoints", ((DisposableEtcd) server).endpoint());
                // A cold JVM's first gRPC call (class loading, channel set-up) on a busy 2-core machine takes more than 1 s.
                s.put("ekko.etcd.timeout", "2s");
            }
            default -> {
            }
        }
        return s;
    }

    /** A backup of the coordinator's data now, and the step that restores it later. */
    private Runnable backup() throws IOException {
        switch (backend) {
            case "redis" -> {
                DisposableRedis redis = (DisposableRedis) server;
                Map<String, byte[]> dumps = new LinkedHashMap<>();
                Map<String, Long> ttls = new LinkedHashMap<>();
                long taken = System.currentTimeMillis();
                try (Jedis j = new Jedis(java.net.URI.create(redis.uri()))) {
                    for (String k : j.keys("*")) {
                        byte[] d = j.dump(k);
                        if (d != null) {
                            dumps.put(k, d);
                            ttls.put(k, j.pttl(k));
                        }
                    }
                }
                // An RDB keeps absolute expiry times: keys that expired since the backup do not come back.
                return () -> {
                    long elapsed = System.currentTimeMillis() - taken;
                    // One transaction, as a reload is: no live process's write can land between the flush and the copy.
                    try (Jedis j = new Jedis(java.net.URI.create(redis.uri()))) {
                        Transaction t = j.multi();
                        t.sendCommand(Protocol.Command.FLUSHALL, new String[0]);
                        dumps.forEach((k, d) -> {
                            long ttl = ttls.get(k);
                            if (ttl < 0) {
                                t.restore(k, 0, d, RestoreParams.restoreParams().replace());
                            } else if (ttl - elapsed > 0) {
                                t.restore(k, ttl - elapsed, d, RestoreParams.restoreParams().replace());
                            }
                        });
                        t.exec();
                    }
                };
            }
            case "mysql" -> {
                DisposableMariaDb db = (DisposableMariaDb) server;
                Path dump = db.dump("backup-" + System.nanoTime() + ".sql");
                return () -> db.load(dump);
            }
            case "etcd" -> {
                DisposableEtcd etcd = (DisposableEtcd) server;
                Path snapshot = etcd.saveSnapshot("backup-" + System.nanoTime() + ".db");
                // etcd's default cluster token: the restored member keeps the cluster ID, the hard case.
                return () -> etcd.restartFromSnapshot(snapshot, "etcd-cluster");
            }
            default -> throw new IllegalStateException(backend);
        }
    }

    // ---------------------------------------------------------------- processes

    private Map<String, String> settings(Proc p) {
        Map<String, String> s = new LinkedHashMap<>();
        if (backend.equals("manual") || p.control) {
            s.put("ekko.worker.allocator", "manual");
        } else {
            s.putAll(backendSettings());
        }
        s.put("ekko.idc", "1");
        if (!s.get("ekko.worker.allocator").equals("manual")) {
            s.put("ekko.worker.ids", Integer.toString(POOL));
        }
        s.put("ekko.worker.lease.ttl", TTL_MILLIS + "ms");
        s.put("ekko.worker.lease.margin", "1s");
        s.put("ekko.worker.report.interval", "500ms");
        s.put("ekko.clock.max.skew", "500ms");
        s.put("ekko.state.reservation", "1s");
        s.put("ekko.state.dir", p.stateDir.toString());
        s.put("ekko.host.lock.dir", p.host.locks.toString());
        s.put("ekko.worker.instance", p.instance);
        s.putAll(p.extra);
        return s;
    }

    private void launch(Proc p) throws IOException {
        p.incarnation++;
        String name = p.base + "." + p.incarnation;
        Path mono = dir.resolve(name + ".monotonic");
        Files.write(mono, new byte[8]);
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", classPath, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xmx96m", "-Xss512k",
                "-Djava.util.logging.config.file=/dev/null", ChaosWorker.class.getName()));
        settings(p).forEach((k, v) -> cmd.add(k + "=" + v));
        cmd.add("chaos.dir=" + dir);
        cmd.add("chaos.name=" + name);
        cmd.add("chaos.monotonic=" + mono);
        if (p.lifetimeMillis > 0) {
            cmd.add("chaos.lifetime=" + p.lifetimeMillis);
        }
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectError(ProcessBuilder.Redirect.appendTo(dir.resolve(name + ".stderr").toFile()));
        Map<String, String> env = pb.environment();
        env.put("LD_PRELOAD", libfaketime.toString());
        env.put("FAKETIME_TIMESTAMP_FILE", p.host.clock.toString());
        env.put("FAKETIME_CACHE_DURATION", "1");
        // The wall clock only; and without libfaketime's monotonic fix, which makes the JVM's timed waits return at once.
        env.put("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        env.put("FAKETIME_FORCE_MONOTONIC_FIX", "0");
        env.put("FAKETIME_DISABLE_SHM", "1");
        p.killedByHarness = false;
        p.lastProgressNanos = System.nanoTime(); // a process that never issues is hung 30 s after its start
        p.mono = mono;
        p.monoOffset = 0;
        p.ready = false;
        p.process = pb.start();
        p.stdin = new OutputStreamWriter(p.process.getOutputStream(), StandardCharsets.UTF_8);
        all.add(p);
        Process process = p.process;
        Thread reader = new Thread(() -> read(p, process), "chaos-read-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    private void read(Proc p, Process process) {
        String failed = null;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                if (line.startsWith("P ")) {
                    // "P <count> <nanoTime of its last ID>": the process's System.nanoTime() is this JVM's clock (CLOCK_MONOTONIC),
                    // so recovery counts IDs issued after a fault, not a count printed late (after a SIGCONT) of earlier ones.
                    // (The count is for a person reading the output; the checker counts the IDs in the files.)
                    String[] parts = line.split(" ");
                    if (parts.length > 2) {
                        long last = Long.parseLong(parts[2]);
                        if (last != 0 && last - p.lastProgressNanos > 0) {
                            p.lastProgressNanos = last;
                        }
                    }
                } else if (line.startsWith("READY")) {
                    p.ready = true;
                } else if (line.startsWith("FAILED ")) {
                    failed = line.substring(7);
                }
            }
            int code = process.waitFor();
            removeFaketimeLeftovers(process.pid());
            onExit(p, process, code, failed);
        } catch (IOException e) {
            if (!finishing && !p.killedByHarness && p.process == process) {
                failures.add(p.base + ": lost its output: " + e);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * libfaketime 0.9.10 keeps a shared-memory segment and a semaphore per process in /dev/shm, named by pid, and removes
     * them only at a clean exit; a later process that gets the pid of a killed one would fail to start ("shm_open failed:
     * File exists"). Removed once the process is gone.
     */
    static void removeFaketimeLeftovers(long pid) {
        for (String name : List.of("faketime_shm_" + pid, "sem.faketime_sem_" + pid)) {
            try {
                Files.deleteIfExists(Path.of("/dev/shm", name));
            } catch (IOException e) {
                // not ours, or already gone
            }
        }
    }

    /** Removes libfaketime's leftovers of processes that no longer run (killed ones of an earlier run). */
    static void removeStaleFaketimeLeftovers() {
        try (java.util.stream.Stream<Path> files = Files.list(Path.of("/dev/shm"))) {
            for (Path f : files.toList()) {
                String n = f.getFileName().toString();
                String digits = n.startsWith("faketime_shm_") ? n.substring(13) : n.startsWith("sem.faketime_sem_") ? n.substring(17) : null;
                if (digits != null && digits.chars().allMatch(Character::isDigit) && !digits.isEmpty()
                        && ProcessHandle.of(Long.parseLong(digits)).isEmpty()) {
                    Files.deleteIfExists(f);
                }
            }
        } catch (IOException | RuntimeException e) {
            // no /dev/shm, or not allowed: nothing to clean
        }
    }

    private void onExit(Proc p, Process process, int code, String failed) {
        if (p.killedByHarness || p.process != process) {
            return;
        }
        if (code == 3 && failed != null) {
            String type = failed.substring(0, Math.max(0, failed.indexOf(':')));
            startRefusals.computeIfAbsent(type, k -> new AtomicLong()).incrementAndGet();
            boolean typed = type.startsWith("dev.ekko.");
            if (!typed) {
                failures.add(p.base + ": start failed with an untyped exception: " + failed);
            }
            if (p.regular && !finishing) {
                sleep(500);
                try {
                    launch(p);
                } catch (IOException e) {
                    failures.add(p.base + ": could not be started again: " + e);
                }
            }
            return;
        }
        if (code == 0 && (p.closeAsked || p.lifetimeMillis > 0)) {
            return;
        }
        failures.add(p.base + " (" + p.host.name + ") exited with code " + code + " without being asked; see " + p.base + "."
                + p.incarnation + ".stderr");
    }

    private void closeAll() throws InterruptedException {
        synchronized (all) {
            for (Proc p : all) {
                p.close();
            }
        }
        List<Proc> snapshot;
        synchronized (all) {
            snapshot = new ArrayList<>(all);
        }
        for (Proc p : snapshot) {
            if (!p.process.waitFor(15, TimeUnit.SECONDS)) {
                failures.add(p.base + " hung: did not exit within 15 s of close (SIGKILLed)");
                p.destroy();
            }
        }
    }

    /** The positive control: the same manual worker ID on two simulated hosts, whose duplicates the checker must find. */
    private void control() {
        try {
            Thread.sleep(1_000);
            for (String h : List.of("ctl-a", "ctl-b")) {
                Proc p = new Proc("ctl-" + h.substring(4), new Host(h, dir.resolve("hosts").resolve(h)), false);
                p.control = true;
                p.lifetimeMillis = 4_000;
                p.extra.put("ekko.worker.id", Integer.toString(CONTROL_WORKER));
                launch(p);
            }
        } catch (IOException | InterruptedException e) {
            failures.add("the positive control could not start: " + e);
        }
    }

    private void watchHung() {
        while (!finishing) {
            sleep(1_000);
            long now = System.nanoTime();
            for (Proc p : regular) {
                // Hung: no ID for 30 s, counted from its last ID or the end of the last fault on it, whichever is later.
                long quietSince = Math.max(p.lastProgressNanos - p.calmSince(), 0) + p.calmSince();
                if (p.ready && !p.stopped && !p.disturbed() && p.process.isAlive() && now - quietSince > HUNG_NANOS
                        && !p.reportedHung) {
                    p.reportedHung = true;
                    failures.add(p.base + " (" + p.host.name + ", worker " + p.workerHint() + ") issued nothing for "
                            + (now - p.lastProgressNanos) / 1_000_000 + " ms outside any fault");
                }
            }
        }
    }

    // ---------------------------------------------------------------- faults

    /**
     * The victim of the schedule's fault number {@code index}: drawn from a random of its own (the seed and the index), so a
     * replay hits the same processes whatever the timing; waits up to 15 s for it to be started and free of other faults.
     *
     * @return the process, marked busy; null if it did not become free
     */
    private Proc pickTarget(int index) {
        Proc p = regular.get(new Random(seed * 1_000_003L + index).nextInt(regular.size()));
        long deadline = System.nanoTime() + 15_000_000_000L;
        while (System.nanoTime() - deadline < 0 && !finishing) {
            synchronized (p) {
                if (!p.busy && p.process.isAlive() && p.ready) {
                    p.busy = true;
                    return p;
                }
            }
            sleep(50);
        }
        return null;
    }

    private void inject(Fault f, int index) {
        FaultRecord r = new FaultRecord(f, System.currentTimeMillis());
        faults.add(r);
        List<Proc> targets = new ArrayList<>();
        Proc victim = null;
        try {
            if (Fault.COORDINATOR.contains(f)) {
                synchronized (coordinatorLock) {
                    r.target = "coordinator";
                    targets.addAll(regular);
                    targets.forEach(p -> p.disturb(f.boundSeconds * 1_000L));
                    try {
                        coordinatorFault(f);
                    } finally {
                        targets.forEach(Proc::calm);
                    }
                    r.endNanos = System.nanoTime();
                }
            } else {
                victim = pickTarget(index);
                if (victim == null) {
                    r.target = "none free";
                    r.endNanos = System.nanoTime();
                    return;
                }
                r.target = victim.base + "@" + victim.host.name;
                if (f == Fault.CLOCK_BACK || f == Fault.CLOCK_FORWARD || f == Fault.CLOCK_BACK_RESTART) {
                    for (Proc p : regular) {
                        if (p.host == victim.host) {
                            targets.add(p);
                        }
                    }
                } else {
                    targets.add(victim);
                }
                targets.forEach(p -> p.disturb(f.boundSeconds * 1_000L));
                try {
                    processFault(f, victim, index);
                } finally {
                    targets.forEach(Proc::calm);
                }
                r.endNanos = System.nanoTime();
            }
            log.println("chaos: " + backend + ": " + f.label + " on " + r.target + " done");
            for (Proc p : targets) {
                long bound = Math.max(f.boundSeconds * 1_000L, p.episodeBoundMillis());
                long recovered = awaitProgressAfterCalm(p, bound);
                if (recovered == NOT_MEASURED) {
                    continue;
                }
                if (recovered < 0) {
                    failures.add(p.base + " issued nothing within " + bound / 1000 + " s after the last fault on it ended (" + f.label
                            + " and any that overlapped it)");
                    r.recoveryMillis = Math.max(r.recoveryMillis, bound);
                    r.overBound = true;
                } else {
                    r.recoveryMillis = Math.max(r.recoveryMillis, recovered);
                }
            }
        } catch (Exception e) {
            failures.add("fault " + f.label + " could not be injected: " + e);
        } finally {
            r.done = true;
            if (victim != null) {
                victim.busy = false;
            }
        }
    }

    /**
     * Waits until the process issues after the last fault acting on it ended (a fault that overlaps restarts the clock).
     *
     * @return milliseconds from that end to its next progress, -1 past the bound, {@link #NOT_MEASURED} if the run ended first
     */
    private long awaitProgressAfterCalm(Proc p, long boundMillis) {
        while (!finishing) {
            if (p.disturbed()) {
                sleep(20);
                continue;
            }
            long calm = p.calmSince();
            long bound = Math.max(boundMillis, p.episodeBoundMillis());
            long last = p.lastProgressNanos;
            if (last - calm > 0) {
                return (last - calm) / 1_000_000;
            }
            if (System.nanoTime() - calm > bound * 1_000_000L) {
                return -1;
            }
            sleep(20);
        }
        return NOT_MEASURED;
    }

    private void coordinatorFault(Fault f) throws Exception {
        switch (f) {
            case COORDINATOR_STOP -> {
                server.stop();
                Thread.sleep(3_000);
                server.start();
            }
            case COORDINATOR_KILL -> {
                server.kill();
                server.start();
            }
            case COORDINATOR_WIPE -> server.restartEmpty();
            case COORDINATOR_RESTORE -> {
                Runnable restore = backup();
                Thread.sleep(5_000);
                restore.run();
            }
            default -> throw new IllegalStateException(f.name());
        }
    }

    private void processFault(Fault f, Proc p, int index) throws Exception {
        switch (f) {
            case KILL_RESTART, KILL_RESTART_NEW -> {
                p.kill();
                Thread.sleep(300);
                if (f == Fault.KILL_RESTART_NEW) {
                    p.instance = p.base + "-" + (p.incarnation + 1);
                }
                launch(p);
            }
            case PAUSE, SUSPEND -> {
                // Stopped past its lease while an intruder (on another host; host-local's one host) prefers its worker ID, so
                // a generator that issued again before re-acquiring would repeat the intruder's IDs. For a suspend, the
                // monotonic clock is then held still over the stop: only the wall clock moved. manual has no intruder (a
                // second holder of a manual worker ID is the operator's mistake, the positive control).
                int worker = p.workerHint();
                signal(p, "STOP");
                long stoppedAt = System.nanoTime();
                Thread.sleep(TTL_MILLIS + 500);
                if (!backend.equals("manual")) {
                    Host other = hosts.get((hosts.indexOf(p.host) + 1) % hosts.size());
                    Proc intruder = new Proc("intruder-" + p.base + "-" + index, other, false);
                    intruder.lifetimeMillis = 3_000;
                    intruder.extra.put("ekko.worker.id", Integer.toString(Math.max(0, worker)));
                    launch(intruder);
                    awaitReadyOrExit(intruder, 15_000);
                }
                Thread.sleep(1_000);
                if (f == Fault.SUSPEND) {
                    p.monoOffset += System.nanoTime() - stoppedAt; // no more than it was stopped: the clock never goes back
                    // In place, never truncated: the process maps these 8 bytes.
                    try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(p.mono, java.nio.file.StandardOpenOption.WRITE)) {
                        ch.write(ByteBuffer.allocate(8).putLong(0, p.monoOffset), 0);
                    }
                }
                signal(p, "CONT");
            }
            case CLOCK_BACK, CLOCK_FORWARD -> {
                p.host.clockFaults.lock(); // one clock fault per host at a time: another's reset would cut this one short
                try {
                    p.host.offset(f == Fault.CLOCK_BACK ? -STEP_SECONDS : STEP_SECONDS);
                    Thread.sleep(4_000);
                    p.host.offset(0);
                } finally {
                    p.host.clockFaults.unlock();
                }
            }
            case CLOCK_BACK_RESTART -> {
                p.host.clockFaults.lock();
                try {
                    p.kill();
                    p.host.offset(-STEP_SECONDS);
                    Thread.sleep(1_200); // libfaketime rereads the offset file at most a second later
                    launch(p);
                    Thread.sleep(5_000);
                    p.host.offset(0);
                } finally {
                    p.host.clockFaults.unlock();
                }
            }
            case SECOND_PROCESS, SECOND_PROCESS_SYMLINK -> {
                Proc second = new Proc("second-" + p.base + "-" + index, p.host, false);
                second.lifetimeMillis = 2_000;
                second.extra.put("ekko.worker.id", Integer.toString(Math.max(0, p.workerHint())));
                if (f == Fault.SECOND_PROCESS_SYMLINK) {
                    second.stateDir = p.host.stateLink;
                }
                launch(second);
                if (!second.process.waitFor(30, TimeUnit.SECONDS)) {
                    failures.add(second.base + " hung: did not exit within 30 s");
                    second.destroy();
                }
            }
            default -> throw new IllegalStateException(f.name());
        }
    }

    private void awaitReadyOrExit(Proc p, long millis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        while (!p.ready && p.process.isAlive() && System.nanoTime() - deadline < 0) {
            Thread.sleep(20);
        }
    }

    private void awaitFaults(long millis) {
        long deadline = System.nanoTime() + millis * 1_000_000L;
        while (System.nanoTime() - deadline < 0) {
            boolean done;
            synchronized (faults) {
                done = faults.stream().allMatch(r -> r.done);
            }
            if (done) {
                return;
            }
            sleep(100);
        }
        failures.add("faults still running " + millis / 1000 + " s after the schedule ended");
    }

    private static void signal(Proc p, String signal) throws IOException, InterruptedException {
        p.stopped = signal.equals("STOP");
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(p.process.pid())).inheritIO().start();
        kill.waitFor();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private Map<Fault, long[]> faults() {
        Map<Fault, long[]> out = new EnumMap<>(Fault.class);
        synchronized (faults) {
            for (FaultRecord r : faults) {
                long[] v = out.computeIfAbsent(r.kind, k -> new long[3]);
                v[0]++;
                v[1] = Math.max(v[1], r.recoveryMillis);
                v[2] += r.overBound ? 1 : 0;
            }
        }
        return out;
    }

    private Map<String, Long> startRefusals() {
        Map<String, Long> out = new java.util.TreeMap<>();
        startRefusals.forEach((k, v) -> out.put(k, v.get()));
        return out;
    }

    /** Every fault with its wall-clock start, for the evidence of a duplicate. */
    List<String> faultLog() {
        List<String> out = new ArrayList<>();
        synchronized (faults) {
            for (FaultRecord r : faults) {
                out.add(java.time.Instant.ofEpochMilli(r.wallMillis) + " " + r.kind.label + " on " + r.target);
            }
        }
        return out;
    }

    // ---------------------------------------------------------------- types

    /** A simulated host: its state directory (and a symlink to it), its host lock directory and its wall clock's offset. */
    static final class Host {
        final String name;
        final Path state;
        final Path stateLink;
        final Path locks;
        final Path clock;
        final java.util.concurrent.locks.ReentrantLock clockFaults = new java.util.concurrent.locks.ReentrantLock();

        Host(String name, Path root) {
            this.name = name;
            this.state = root.resolve("state");
            this.stateLink = root.resolve("state-link");
            this.locks = root.resolve("locks");
            this.clock = root.resolve("faketime");
            try {
                Files.createDirectories(state);
                Files.createDirectories(locks);
                if (!Files.exists(stateLink)) {
                    Files.createSymbolicLink(stateLink, state.getFileName());
                }
                offset(0);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** Sets this host's wall-clock offset (libfaketime's file, written atomically). */
        synchronized void offset(int seconds) throws IOException {
            Path tmp = Files.createTempFile(clock.getParent(), "faketime", ".tmp");
            Files.writeString(tmp, (seconds >= 0 ? "+" : "") + seconds + "\n");
            Files.move(tmp, clock, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** A generator process slot: restarted in place (a new incarnation) after a kill. */
    final class Proc {
        final String base;
        final Host host;
        final boolean regular;
        final Map<String, String> extra = new LinkedHashMap<>();
        Path stateDir;
        String instance;
        boolean control;
        long lifetimeMillis;
        volatile int incarnation;
        volatile Process process;
        volatile Writer stdin;
        volatile Path mono;
        volatile long monoOffset;
        volatile boolean ready;
        volatile boolean stopped;
        volatile boolean busy;
        volatile boolean killedByHarness;
        volatile boolean closeAsked;
        volatile boolean reportedHung;
        volatile long lastProgressNanos;
        /**
         * Faults now acting on this process, when the last one ended (0: never disturbed) and the largest bound of the faults
         * of this episode (from the first fault on a calm process to the last one's end): its recovery is measured from
         * that end, within that bound.
         */
        private int disturbances;
        private long calmSinceNanos;
        private long episodeBoundMillis;

        synchronized void disturb(long boundMillis) {
            if (disturbances++ == 0) {
                episodeBoundMillis = 0;
            }
            episodeBoundMillis = Math.max(episodeBoundMillis, boundMillis);
        }

        synchronized void calm() {
            disturbances--;
            calmSinceNanos = System.nanoTime();
        }

        synchronized boolean disturbed() {
            return disturbances > 0;
        }

        /** {@return when the last fault on it ended, 0 if none ever did} */
        synchronized long calmSince() {
            return calmSinceNanos;
        }

        synchronized long episodeBoundMillis() {
            return episodeBoundMillis;
        }

        Proc(String base, Host host, boolean regular) {
            this.base = base;
            this.host = host;
            this.regular = regular;
            this.stateDir = host.state;
            this.instance = base;
        }

        /** The worker ID the current incarnation last reported holding, from its events file; -1 if none yet. */
        int workerHint() {
            try {
                Path events = dir.resolve(base + "." + incarnation + ".events");
                int w = -1;
                if (Files.exists(events)) {
                    for (String line : Files.readAllLines(events, StandardCharsets.UTF_8)) {
                        String[] parts = line.split(" ");
                        if (parts.length > 4 && parts[2].equals("TENURE")) {
                            w = Integer.parseInt(parts[4]);
                        }
                    }
                }
                return w;
            } catch (IOException | RuntimeException e) {
                return -1;
            }
        }

        void kill() throws InterruptedException {
            killedByHarness = true;
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }

        void close() {
            closeAsked = true;
            try {
                if (stopped) {
                    signal(this, "CONT");
                }
                stdin.write("close\n");
                stdin.flush();
            } catch (IOException | InterruptedException e) {
                // already gone
            }
        }

        void destroy() {
            if (process != null && process.isAlive()) {
                killedByHarness = true;
                process.destroyForcibly();
            }
        }
    }

    /** One injected fault. */
    static final class FaultRecord {
        final Fault kind;
        final long wallMillis;
        volatile String target = "";
        volatile long endNanos;
        volatile long recoveryMillis;
        volatile boolean overBound;
        volatile boolean done;

        FaultRecord(Fault kind, long wallMillis) {
            this.kind = kind;
            this.wallMillis = wallMillis;
        }
    }

    /**
     * What one back end's run found.
     *
     * @param backend the back end
     * @param report the check of every ID
     * @param faults per kind: {count, longest recovery in ms, count over the bound}
     * @param startRefusals starts refused, by exception type
     * @param failures everything that fails the run besides the IDs
     */
    record Result(String backend, Checker.Report report, Map<Fault, long[]> faults, Map<String, Long> startRefusals,
            List<String> failures) {

        boolean passed() {
            return failures.isEmpty() && report.problems().isEmpty();
        }
    }
}
