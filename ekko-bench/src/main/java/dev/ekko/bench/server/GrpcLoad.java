package dev.ekko.bench.server;

import dev.ekko.server.grpc.EkkoGrpc;
import dev.ekko.server.grpc.NextBatchReply;
import dev.ekko.server.grpc.NextBatchRequest;
import dev.ekko.server.grpc.NextReply;
import dev.ekko.server.grpc.NextRequest;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Closed-loop load generator for ekko-server's gRPC API ({@code ekko/v1/ekko.proto}), the gRPC side of
 * {@code ekko-bench/server-load}:
 * <pre>
 *   java -cp ... dev.ekko.bench.server.GrpcLoad HOST PORT next|batch100 CONCURRENCY SECONDS WARMUP_SECONDS
 *        [--channels N] [--capacity CALLS] [--server-pid PID] [--server-cpu CPU]
 * </pre>
 * It keeps {@code CONCURRENCY} unary calls in flight ({@code Next}, or {@code NextBatch} with count 100) through the
 * async stub: each of {@code CONCURRENCY} slots issues its next call from the completion of its last one. The calls
 * share one channel (one HTTP/2 connection) unless {@code --channels N} spreads the slots over N channels, round-robin.
 * Every channel runs on one Netty NIO event loop thread with {@code directExecutor()}, so completions are handled on
 * that thread without a hand-off: the generator is meant to be pinned to one CPU ({@code taskset}), as wrk is.
 *
 * <p>After {@code WARMUP_SECONDS} of load that is not counted, it measures for {@code SECONDS}: each call that completes
 * in that window has its latency (from just before the stub is called to {@code onCompleted}) stored in nanoseconds in
 * an array allocated before the run ({@code --capacity}, default 300,000 calls per second of the window; calls beyond it
 * are counted but their latencies are not kept, and the output says how many). The slots are objects of their own,
 * reused for every call, so the generator allocates nothing per call beyond what gRPC does.
 *
 * <p>With {@code --server-pid}, it also reads the server's CPU ticks ({@code /proc/PID/stat} utime and stime) and, with
 * {@code --server-cpu}, the user + nice + steal ticks of that CPU ({@code /proc/stat}) at the window's start and end,
 * so the script can tell the server's CPU time over exactly the measured window, and what other processes took from
 * its CPU. Its own CPU time over the window comes from the JVM ({@code getProcessCpuTime}).
 *
 * <p>Before the load, one call of the method is checked (a non-zero ID; 100 increasing IDs). It prints one line of JSON
 * on stdout: calls, calls/s, IDs/s, p50/p99/p99.9/max in ms, errors, its own CPU seconds and the server's ticks. Exit
 * status 0 once it has printed, 1 if the check fails or the server cannot be reached, 2 for bad arguments.
 */
public final class GrpcLoad {

    /** IDs asked for by each {@code NextBatch} call. */
    static final int BATCH = 100;

    private static final NextRequest NEXT = NextRequest.getDefaultInstance();
    private static final NextBatchRequest NEXT_BATCH = NextBatchRequest.newBuilder().setCount(BATCH).build();

    private GrpcLoad() {
    }

    /**
     * Runs the load and prints its result.
     *
     * @param args {@code HOST PORT next|batch100 CONCURRENCY SECONDS WARMUP_SECONDS} then the options
     * @throws Exception if the run is interrupted or the channels do not close
     */
    public static void main(String[] args) throws Exception {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("GrpcLoad: " + e.getMessage());
            System.err.println("usage: GrpcLoad HOST PORT next|batch100 CONCURRENCY SECONDS WARMUP_SECONDS"
                    + " [--channels N] [--capacity CALLS] [--server-pid PID] [--server-cpu CPU]");
            System.exit(2);
            return;
        }
        System.exit(run(o));
    }

    private static int run(Options o) throws Exception {
        EventLoopGroup loop = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("grpc-load", true), NioIoHandler.newFactory());
        ManagedChannel[] channels = new ManagedChannel[o.channels];
        try {
            for (int i = 0; i < channels.length; i++) {
                channels[i] = NettyChannelBuilder.forAddress(o.host, o.port)
                        .usePlaintext()
                        .eventLoopGroup(loop)
                        .channelType(NioSocketChannel.class)
                        .directExecutor()
                        .build();
            }
            String problem = check(channels, o.batch);
            if (problem != null) {
                System.err.println("GrpcLoad: " + problem);
                return 1;
            }
            Recorder recorder = new Recorder(o.capacity);
            long start = System.nanoTime();
            recorder.windowStart = start + TimeUnit.SECONDS.toNanos(o.warmupSeconds);
            recorder.windowEnd = recorder.windowStart + TimeUnit.SECONDS.toNanos(o.seconds);
            CountDownLatch stopped = new CountDownLatch(o.concurrency);
            Slot<?>[] slots = new Slot<?>[o.concurrency];
            for (int i = 0; i < slots.length; i++) {
                EkkoGrpc.EkkoStub stub = EkkoGrpc.newStub(channels[i % channels.length]);
                slots[i] = o.batch ? new BatchSlot(stub, recorder, stopped, loop) : new NextSlot(stub, recorder, stopped, loop);
            }
            // Issued from the event loop, as every later call is.
            loop.submit(() -> {
                for (Slot<?> s : slots) {
                    s.issue();
                }
            }).sync();

            sleepUntil(recorder.windowStart);
            long cpuStart = processCpuNanos();
            long[] serverStart = serverTicks(o);
            sleepUntil(recorder.windowEnd);
            long[] serverEnd = serverTicks(o);
            long cpuEnd = processCpuNanos();

            boolean drained = stopped.await(10, TimeUnit.SECONDS);
            // Read on the event loop, the one thread that wrote it: every completion before this task is visible.
            String json = loop.submit(() -> recorder.json(o, cpuEnd - cpuStart, serverStart, serverEnd,
                    drained ? 0 : (int) stopped.getCount())).get();
            System.out.println(json);
            System.out.flush();
            return 0;
        } finally {
            for (ManagedChannel c : channels) {
                if (c != null) {
                    c.shutdownNow();
                }
            }
            for (ManagedChannel c : channels) {
                if (c != null) {
                    c.awaitTermination(5, TimeUnit.SECONDS);
                }
            }
            loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
        }
    }

    /** One blocking call of the method on each channel: null if every answer is right, else what was wrong. */
    private static String check(ManagedChannel[] channels, boolean batch) {
        for (ManagedChannel c : channels) {
            EkkoGrpc.EkkoBlockingStub stub = EkkoGrpc.newBlockingStub(c).withDeadlineAfter(10, TimeUnit.SECONDS);
            try {
                if (batch) {
                    List<Long> ids = stub.nextBatch(NEXT_BATCH).getIdsList();
                    if (ids.size() != BATCH) {
                        return "NextBatch(count=" + BATCH + ") answered " + ids.size() + " IDs";
                    }
                    for (int i = 1; i < ids.size(); i++) {
                        if (Long.compareUnsigned(ids.get(i - 1), ids.get(i)) >= 0) {
                            return "NextBatch answered IDs that do not increase: " + ids;
                        }
                    }
                } else if (stub.next(NEXT).getId() == 0) {
                    return "Next answered the ID 0";
                }
            } catch (RuntimeException e) {
                return "the check call failed: " + e;
            }
        }
        return null;
    }

    private static void sleepUntil(long nanoTime) {
        for (long left = nanoTime - System.nanoTime(); left > 0; left = nanoTime - System.nanoTime()) {
            LockSupport.parkNanos(left);
        }
    }

    private static long processCpuNanos() {
        java.lang.management.OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean) {
            return ((com.sun.management.OperatingSystemMXBean) os).getProcessCpuTime();
        }
        return -1;
    }

    /** The server's user and system ticks and its CPU's user + nice + steal ticks; -1 for what was not asked for. */
    private static long[] serverTicks(Options o) throws IOException {
        long[] t = {-1, -1, -1};
        if (o.serverPid > 0) {
            long[] us = processTicks(Files.readString(Path.of("/proc", Long.toString(o.serverPid), "stat"), StandardCharsets.US_ASCII));
            t[0] = us[0];
            t[1] = us[1];
        }
        if (o.serverCpu >= 0) {
            t[2] = cpuUserTicks(Files.readString(Path.of("/proc/stat"), StandardCharsets.US_ASCII), o.serverCpu);
        }
        return t;
    }

    /**
     * utime and stime of a {@code /proc/PID/stat} line (fields 14 and 15), counted after the command name's closing
     * parenthesis, since the name itself may hold spaces.
     */
    static long[] processTicks(String stat) {
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" +");
        // f[0] is field 3 (state), so field N is f[N - 3]
        return new long[] {Long.parseLong(f[11]), Long.parseLong(f[12])};
    }

    /** user + nice + steal ticks of {@code cpuN} in {@code /proc/stat}. */
    static long cpuUserTicks(String procStat, int cpu) {
        String name = "cpu" + cpu;
        for (String line : procStat.split("\n")) {
            String[] f = line.trim().split(" +");
            if (f[0].equals(name)) {
                return Long.parseLong(f[1]) + Long.parseLong(f[2]) + Long.parseLong(f[8]);
            }
        }
        throw new IllegalArgumentException("no " + name + " in /proc/stat");
    }

    /** The nearest-rank percentile {@code q} (0 to 100) of the first {@code n} values, which are sorted. */
    static long percentile(long[] sorted, int n, double q) {
        if (n == 0) {
            return 0;
        }
        // less a hair, so that 99.9 % of 1,000 is rank 999 and not, by rounding, 1,000
        int rank = (int) Math.ceil(q * n / 100 - 1e-9);
        return sorted[Math.min(n, Math.max(rank, 1)) - 1];
    }

    /** The command line. */
    static final class Options {
        String host;
        int port;
        boolean batch;
        String method;
        int concurrency;
        int seconds;
        int warmupSeconds;
        int channels = 1;
        int capacity = -1;
        long serverPid = -1;
        int serverCpu = -1;

        static Options parse(String[] args) {
            if (args.length < 6) {
                throw new IllegalArgumentException("6 arguments needed, " + args.length + " given");
            }
            Options o = new Options();
            o.host = args[0];
            o.port = number("PORT", args[1], 1, 65535);
            o.method = args[2].toLowerCase(Locale.ROOT);
            if (!o.method.equals("next") && !o.method.equals("batch" + BATCH)) {
                throw new IllegalArgumentException("method must be next or batch" + BATCH + ": " + args[2]);
            }
            o.batch = o.method.startsWith("batch");
            o.concurrency = number("CONCURRENCY", args[3], 1, 100_000);
            o.seconds = number("SECONDS", args[4], 1, 3600);
            o.warmupSeconds = number("WARMUP_SECONDS", args[5], 0, 3600);
            for (int i = 6; i < args.length; i += 2) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(args[i] + " needs a value");
                }
                switch (args[i]) {
                    case "--channels":
                        o.channels = number("--channels", args[i + 1], 1, 1024);
                        break;
                    case "--capacity":
                        o.capacity = number("--capacity", args[i + 1], 1, 200_000_000);
                        break;
                    case "--server-pid":
                        o.serverPid = number("--server-pid", args[i + 1], 1, Integer.MAX_VALUE);
                        break;
                    case "--server-cpu":
                        o.serverCpu = number("--server-cpu", args[i + 1], 0, 4096);
                        break;
                    default:
                        throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
            if (o.capacity < 0) {
                o.capacity = (int) Math.min(200_000_000L, 300_000L * o.seconds);
            }
            return o;
        }

        private static int number(String what, String value, int min, int max) {
            int n;
            try {
                n = Integer.parseInt(value);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(what + " is not a number: " + value, e);
            }
            if (n < min || n > max) {
                throw new IllegalArgumentException(what + " must be " + min + " to " + max + ": " + value);
            }
            return n;
        }
    }

    /** What the slots report, touched only on the event loop thread. */
    static final class Recorder {
        final long[] latencies;
        int recorded;
        long unrecorded;
        long errors;
        long warmupErrors;
        long windowStart;
        long windowEnd;
        String firstError;

        Recorder(int capacity) {
            latencies = new long[capacity]; // zeroed, so its pages are in memory before the run
        }

        /** A completed call: counted if it ended in the window. False once the window is over: issue no more. */
        boolean completed(long start, long end) {
            if (end >= windowEnd) {
                return false;
            }
            if (end >= windowStart) {
                if (recorded < latencies.length) {
                    latencies[recorded++] = end - start;
                } else {
                    unrecorded++;
                }
            }
            return true;
        }

        /** A failed call: counted as an error of the window or of the warm-up. False once the window is over. */
        boolean failed(long end, Throwable t) {
            if (end >= windowEnd) {
                return false;
            }
            if (firstError == null) {
                firstError = String.valueOf(t);
            }
            if (end >= windowStart) {
                errors++;
            } else {
                warmupErrors++;
            }
            return true;
        }

        String json(Options o, long cpuNanos, long[] serverStart, long[] serverEnd, int stuck) {
            long calls = recorded + unrecorded;
            double secs = o.seconds;
            Arrays.sort(latencies, 0, recorded);
            StringBuilder b = new StringBuilder(512);
            b.append("{\"method\": \"").append(o.method).append('"')
                    .append(", \"ids_per_call\": ").append(o.batch ? BATCH : 1)
                    .append(", \"concurrency\": ").append(o.concurrency)
                    .append(", \"channels\": ").append(o.channels)
                    .append(", \"warmup_s\": ").append(o.warmupSeconds)
                    .append(", \"seconds\": ").append(o.seconds)
                    .append(", \"calls\": ").append(calls)
                    .append(", \"calls_per_s\": ").append(Math.round(calls / secs))
                    .append(", \"ids_per_s\": ").append(Math.round(calls * (o.batch ? BATCH : 1) / secs))
                    .append(", \"p50_ms\": ").append(ms(percentile(latencies, recorded, 50)))
                    .append(", \"p99_ms\": ").append(ms(percentile(latencies, recorded, 99)))
                    .append(", \"p999_ms\": ").append(ms(percentile(latencies, recorded, 99.9)))
                    .append(", \"max_ms\": ").append(ms(recorded == 0 ? 0 : latencies[recorded - 1]))
                    .append(", \"latencies_recorded\": ").append(recorded)
                    .append(", \"errors\": ").append(errors)
                    .append(", \"warmup_errors\": ").append(warmupErrors)
                    .append(", \"still_in_flight_after_10s\": ").append(stuck)
                    .append(", \"load_cpu_s\": ").append(String.format(Locale.ROOT, "%.3f", cpuNanos / 1e9));
            if (serverStart[0] >= 0) {
                b.append(", \"server_ticks\": ").append(serverEnd[0] + serverEnd[1] - serverStart[0] - serverStart[1])
                        .append(", \"server_user_ticks\": ").append(serverEnd[0] - serverStart[0]);
            }
            if (serverStart[2] >= 0) {
                b.append(", \"server_cpu_user_ticks\": ").append(serverEnd[2] - serverStart[2]);
            }
            b.append(", \"first_error\": ");
            if (firstError == null) {
                b.append("null");
            } else {
                b.append('"').append(firstError.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ")).append('"');
            }
            return b.append('}').toString();
        }

        private static String ms(long nanos) {
            return String.format(Locale.ROOT, "%.3f", nanos / 1e6);
        }
    }

    /** One call kept in flight: reissued from its own completion until the window ends. Reused for every call. */
    abstract static class Slot<T> implements StreamObserver<T> {
        final EkkoGrpc.EkkoStub stub;
        final Recorder recorder;
        final CountDownLatch stopped;
        final ScheduledExecutorService loop;
        final Runnable reissue = this::issue;
        long start;
        boolean bad;

        Slot(EkkoGrpc.EkkoStub stub, Recorder recorder, CountDownLatch stopped, ScheduledExecutorService loop) {
            this.stub = stub;
            this.recorder = recorder;
            this.stopped = stopped;
            this.loop = loop;
        }

        final void issue() {
            bad = false;
            start = System.nanoTime();
            send();
        }

        /** Starts one call with this slot as its observer. */
        abstract void send();

        @Override
        public final void onError(Throwable t) {
            if (recorder.failed(System.nanoTime(), t)) {
                // a millisecond later, from the event loop: a call that fails at once (no connection) must not recurse
                loop.schedule(reissue, 1, TimeUnit.MILLISECONDS);
            } else {
                stopped.countDown();
            }
        }

        @Override
        public final void onCompleted() {
            long end = System.nanoTime();
            boolean more = bad ? recorder.failed(end, new IllegalStateException("a wrong answer")) : recorder.completed(start, end);
            if (more) {
                issue();
            } else {
                stopped.countDown();
            }
        }
    }

    /** Calls {@code Next}. */
    static final class NextSlot extends Slot<NextReply> {
        NextSlot(EkkoGrpc.EkkoStub stub, Recorder recorder, CountDownLatch stopped, ScheduledExecutorService loop) {
            super(stub, recorder, stopped, loop);
        }

        @Override
        void send() {
            stub.next(NEXT, this);
        }

        @Override
        public void onNext(NextReply reply) {
            bad = reply.getId() == 0;
        }
    }

    /** Calls {@code NextBatch} for {@value GrpcLoad#BATCH} IDs. */
    static final class BatchSlot extends Slot<NextBatchReply> {
        BatchSlot(EkkoGrpc.EkkoStub stub, Recorder recorder, CountDownLatch stopped, ScheduledExecutorService loop) {
            super(stub, recorder, stopped, loop);
        }

        @Override
        void send() {
            stub.nextBatch(NEXT_BATCH, this);
        }

        @Override
        public void onNext(NextBatchReply reply) {
            bad = reply.getIdsCount() != BATCH;
        }
    }
}
