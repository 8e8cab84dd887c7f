package dev.ekko.bench.http;

import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One of the minimal ID servers that {@code ekko-bench/http-shootout} compares for {@code ekko-server}'s HTTP layer,
 * on 127.0.0.1:
 * <pre>
 *   java -cp ... dev.ekko.bench.http.HttpShootout netty|vertx|jdk|jdk-direct [PORT]     (PORT default 8080)
 * </pre>
 * Each answers {@code GET /v1/id} with {@code {"id":"N"}} and {@code GET /v1/ids?count=C} (1 to 1,000) with
 * {@code {"ids":["N1",...]}}, numbers from one {@link AtomicLong}, as {@code application/json} with a
 * {@code Content-Length}, keeping the connection alive; anything else is 404 (a bad {@code count} is 400). The
 * routing, the numbers and the body bytes are one shared piece of code ({@link IdBodies}), so only the server
 * differs; each server has one thread that reads, handles and writes (the JDK server's {@code jdk} variant hands
 * exchanges from its dispatcher thread to a one-thread executor, {@code jdk-direct} runs them on the dispatcher).
 *
 * <p>When listening, it prints one line {@code READY <server> <port> <description>} and serves until it is stopped
 * (SIGTERM: the server is closed first). The JDK server gets {@code sun.net.httpserver.nodelay=true} unless the
 * property is given: Netty and Vert.x set TCP_NODELAY on accepted connections by default, the JDK's server does not.
 */
public final class HttpShootout {

    private HttpShootout() {
    }

    /** A running server of the shootout. */
    interface IdServer {

        /** What it is: library and version, transport, threads. */
        String describe();

        /**
         * Stops serving and releases the server's threads.
         *
         * @throws Exception if it does not stop in time
         */
        void stop() throws Exception;
    }

    /**
     * Starts the server named by the first argument and serves until the JVM is stopped.
     *
     * @param args {@code netty}, {@code vertx}, {@code jdk} or {@code jdk-direct}, then optionally the port
     * @throws Exception if the server cannot start
     */
    public static void main(String[] args) throws Exception {
        if (args.length < 1 || args.length > 2) {
            System.err.println("usage: HttpShootout netty|vertx|jdk|jdk-direct [PORT]");
            System.exit(2);
        }
        String name = args[0].toLowerCase(Locale.ROOT);
        int port = args.length > 1 ? Integer.parseInt(args[1]) : 8080;
        String host = "127.0.0.1";
        AtomicLong next = new AtomicLong();
        IdServer server;
        switch (name) {
            case "netty":
                server = new NettyIdServer(host, port, next);
                break;
            case "vertx":
                server = new VertxIdServer(host, port, next);
                break;
            case "jdk":
            case "jdk-direct":
                if (System.getProperty("sun.net.httpserver.nodelay") == null) {
                    System.setProperty("sun.net.httpserver.nodelay", "true");
                }
                server = new JdkIdServer(host, port, next, name.equals("jdk-direct"));
                break;
            default:
                System.err.println("unknown server " + args[0] + ": netty, vertx, jdk or jdk-direct");
                System.exit(2);
                return;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                server.stop();
            } catch (Exception e) {
                System.err.println("closing " + name + ": " + e);
            }
            stopped.countDown();
        }, "http-shootout-stop"));
        System.out.println("READY " + name + " " + port + " " + server.describe());
        System.out.flush();
        stopped.await();
    }
}
