package dev.ekko.server;

import dev.ekko.Ekko;
import dev.ekko.IdGenerator;
import dev.ekko.SegmentIds;
import io.grpc.Server;
import io.grpc.ServerInterceptors;
import io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * ekko-server: one generator process serving snowflake IDs and segment numbers over HTTP/JSON and gRPC.
 *
 * <p>{@link #start(Map)} builds the generator from the same {@code ekko.*} settings as the library (environment variables
 * {@code EKKO_*}, then {@code -Dekko.*} system properties, then the map given, which wins), segment mode when
 * {@code ekko.segment.store} is set, and the listeners from {@code ekko.server.*} ({@link ServerSettings}). {@link #close()}
 * stops the listeners, lets requests in flight finish, then closes the generator, which gives its worker ID back.
 */
public final class EkkoServer implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("dev.ekko.server");
    /** Held here so the level set on it stays (java.util.logging keeps loggers weakly). */
    private static final java.util.logging.Logger GRPC_FRAMES = java.util.logging.Logger.getLogger("io.grpc.netty.NettyServerHandler");

    private final ServerSettings settings;
    private final IdGenerator generator;
    private final SegmentIds segments;
    private final ThreadPoolExecutor blocking;
    private final NettyHttp http;
    private final Server grpc;
    private volatile boolean closed;
    /** gRPC's own event loops, sized by ekko.server.threads as HTTP's are (grpc-java's default would use every CPU). */
    private io.netty.channel.EventLoopGroup grpcBoss;
    private io.netty.channel.EventLoopGroup grpcWorkers;

    private EkkoServer(ServerSettings settings, IdGenerator generator, SegmentIds segments) throws IOException, InterruptedException {
        this.settings = settings;
        this.generator = generator;
        this.segments = segments;
        AtomicInteger n = new AtomicInteger();
        // Requests that may block (segment store round trips, large batches): bounded, so a store outage cannot pile up
        // unbounded work; a full queue answers 503.
        this.blocking = new ThreadPoolExecutor(2 * settings.threads(), 2 * settings.threads(), 60, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(4096), r -> {
                    Thread t = new Thread(r, "ekko-server-worker-" + n.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        IdService ids = new IdService(generator, segments, settings.batchMax());
        Metrics metrics = new Metrics(ids);
        NettyHttp h = null;
        Server g = null;
        try {
            if (settings.httpPort() >= 0) {
                h = new NettyHttp(settings, new HttpApi(ids, settings, metrics), blocking);
            }
            if (settings.grpcPort() >= 0) {
                grpcBoss = new io.netty.channel.MultiThreadIoEventLoopGroup(1, new io.netty.util.concurrent.DefaultThreadFactory(
                        "ekko-grpc-accept", true), io.netty.channel.nio.NioIoHandler.newFactory());
                grpcWorkers = new io.netty.channel.MultiThreadIoEventLoopGroup(settings.threads(), new io.netty.util.concurrent.DefaultThreadFactory(
                        "ekko-grpc", true), io.netty.channel.nio.NioIoHandler.newFactory());
                NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress(settings.host(), settings.grpcPort()))
                        .bossEventLoopGroup(grpcBoss).workerEventLoopGroup(grpcWorkers)
                        .channelType(io.netty.channel.socket.nio.NioServerSocketChannel.class)
                        .executor(blocking)
                        .addService(ServerInterceptors.intercept(GrpcApi.tolerant(new GrpcApi(ids, metrics).bindService(), metrics),
                                GrpcApi.tokenCheck(settings, metrics)));
                if (settings.tls()) {
                    b.sslContext(GrpcSslContexts.forServer(settings.tlsCert().toFile(), settings.tlsKey().toFile()).build());
                }
                g = b.build().start();
            }
        } catch (IOException | RuntimeException | InterruptedException e) {
            if (h != null) {
                h.close();
            }
            shutdownGrpcLoops();
            blocking.shutdownNow();
            throw e;
        }
        this.http = h;
        this.grpc = g;
    }

    /**
     * Starts a server from the environment, the system properties and {@code overrides}.
     *
     * @param overrides {@code ekko.*} settings that win over the environment and the system properties
     * @return the running server
     * @throws IllegalArgumentException for a bad setting, naming it
     * @throws IOException if a port cannot be bound
     * @throws InterruptedException if interrupted while starting
     */
    public static EkkoServer start(Map<String, String> overrides) throws IOException, InterruptedException {
        dev.ekko.slf4j.SystemLoggerProvider.installIfNoneFound(); // before Netty picks its logger
        // grpc-java's frame logger prints every header at FINE, the bearer token too: never below INFO, whatever the root
        GRPC_FRAMES.setLevel(java.util.logging.Level.INFO);
        Map<String, String> server = ServerSettings.fromEnvironment(System.getenv(), System.getProperties());
        Ekko.Builder generator = Ekko.newBuilder().environment();
        SegmentIds.Builder segment = Ekko.newSegmentBuilder().environment();
        Map<String, String> segmentKeys = new HashMap<>();
        for (Map.Entry<String, String> e : overrides.entrySet()) {
            String key = e.getKey();
            if (key.startsWith("ekko.server.")) {
                server.put(key, e.getValue());
            } else if (key.startsWith("ekko.segment.")) {
                segmentKeys.put(key, e.getValue());
            } else if (key.startsWith("ekko.mysql.") || key.startsWith("ekko.redis.") || key.startsWith("ekko.etcd.")) {
                // a back end's keys serve both its worker allocator and its segment store
                generator.setting(key, e.getValue());
                segmentKeys.put(key, e.getValue());
            } else {
                generator.setting(key, e.getValue());
            }
        }
        segment.settings(segmentKeys);
        ServerSettings s = ServerSettings.of(server);
        boolean segmentMode = segmentKeys.containsKey("ekko.segment.store") || System.getProperty("ekko.segment.store") != null
                || System.getenv("EKKO_SEGMENT_STORE") != null;
        return start(s, generator, segmentMode ? segment : null);
    }

    /**
     * Starts a server on builders the caller configured.
     *
     * @param settings the server's settings
     * @param generator the generator's builder
     * @param segments segment mode's builder, or null for none
     * @return the running server
     * @throws IOException if a port cannot be bound
     * @throws InterruptedException if interrupted while starting
     */
    public static EkkoServer start(ServerSettings settings, Ekko.Builder generator, SegmentIds.Builder segments)
            throws IOException, InterruptedException {
        IdGenerator g = generator.build();
        SegmentIds s = null;
        try {
            s = segments == null ? null : segments.build();
            EkkoServer server = new EkkoServer(settings, g, s);
            if (!settings.tokenRequired() && !isLoopback(settings.host())) {
                LOG.log(System.Logger.Level.WARNING, "listening on " + settings.host() + " without a token: anyone who reaches it can"
                        + " take IDs; set ekko.server.token (or ekko.server.token.file) and TLS");
            }
            return server;
        } catch (IOException | RuntimeException | InterruptedException e) {
            if (s != null) {
                s.close();
            }
            g.close();
            throw e;
        }
    }

    private void shutdownGrpcLoops() {
        if (grpcBoss != null) {
            grpcBoss.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        }
        if (grpcWorkers != null) {
            grpcWorkers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        }
    }

    private static boolean isLoopback(String host) {
        try {
            return java.net.InetAddress.getByName(host).isLoopbackAddress();
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    /** {@return the HTTP port bound, or -1 without an HTTP listener} */
    public int httpPort() {
        return http == null ? -1 : http.port();
    }

    /** {@return the gRPC port bound, or -1 without a gRPC listener} */
    public int grpcPort() {
        return grpc == null ? -1 : grpc.getPort();
    }

    /** {@return the generator this server serves} */
    public IdGenerator generator() {
        return generator;
    }

    /**
     * Stops accepting requests, lets those in flight finish (up to a few seconds), then closes segment mode and the
     * generator, which gives its worker ID back. Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (grpc != null) {
            grpc.shutdown();
        }
        if (http != null) {
            http.close();
        }
        try {
            if (grpc != null && !grpc.awaitTermination(3, TimeUnit.SECONDS)) {
                grpc.shutdownNow();
            }
            blocking.shutdown();
            blocking.awaitTermination(3, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        blocking.shutdownNow();
        shutdownGrpcLoops();
        // The generator first: giving the worker ID back must not wait behind a segment store stuck in a call.
        generator.close();
        if (segments != null) {
            Thread closing = new Thread(segments::close, "ekko-server-close-segments");
            closing.setDaemon(true);
            closing.start();
            try {
                closing.join(2000); // a store stuck past this is left to the process's exit
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public String toString() {
        return "EkkoServer{" + settings + ", http=" + httpPort() + ", grpc=" + grpcPort() + ", " + generator + "}";
    }
}
