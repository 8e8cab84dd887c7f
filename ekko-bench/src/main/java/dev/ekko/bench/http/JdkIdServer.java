package dev.ekko.bench.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@link HttpShootout}'s JDK server: {@code com.sun.net.httpserver.HttpServer}. Its dispatcher thread always does the
 * accepting and the selecting; the exchanges run either on a one-thread executor (handed over from the dispatcher) or,
 * with {@code direct}, on the dispatcher itself (the JDK's default when no executor is set). Bodies are written from a
 * {@code byte[]} to the exchange's stream.
 */
final class JdkIdServer implements HttpShootout.IdServer {

    private final HttpServer server;
    private final ExecutorService executor;

    JdkIdServer(String host, int port, AtomicLong next, boolean direct) throws IOException {
        IdBodies bodies = new IdBodies(next);
        server = HttpServer.create(new InetSocketAddress(host, port), 1024);
        server.createContext("/", exchange -> handle(exchange, bodies));
        executor = direct ? null : Executors.newSingleThreadExecutor(task -> {
            Thread thread = new Thread(task, "jdk-http-handler");
            thread.setDaemon(true);
            return thread;
        });
        server.setExecutor(executor);
        server.start();
    }

    private static void handle(HttpExchange exchange, IdBodies bodies) throws IOException {
        try (exchange) {
            int route = IdBodies.route("GET".equals(exchange.getRequestMethod()),
                    exchange.getRequestURI().toString());
            if (route > 0) {
                byte[] body = bodies.write(route);
                exchange.getResponseHeaders().set("Content-Type", "application/json");
                exchange.sendResponseHeaders(200, bodies.length());
                OutputStream out = exchange.getResponseBody();
                out.write(body, 0, bodies.length());
            } else {
                exchange.sendResponseHeaders(route == IdBodies.NOT_FOUND ? 404 : 400, -1);
            }
        }
    }

    @Override
    public String describe() {
        return "JDK " + Runtime.version() + " com.sun.net.httpserver, "
                + (executor == null ? "exchanges on the dispatcher thread (no executor)"
                        : "dispatcher thread + 1-thread executor")
                + ", sun.net.httpserver.nodelay=" + System.getProperty("sun.net.httpserver.nodelay");
    }

    @Override
    public void stop() throws InterruptedException {
        server.stop(0);
        if (executor != null) {
            executor.shutdownNow();
            executor.awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
