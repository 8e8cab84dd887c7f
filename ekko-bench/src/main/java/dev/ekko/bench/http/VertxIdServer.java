package dev.ekko.bench.http;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerResponse;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@link HttpShootout}'s Vert.x server: a core {@link HttpServer} (no Vert.x Web router) on a Vert.x instance with one
 * event loop, NIO transport (Vert.x's default). Vert.x accepts connections on an acceptor thread of its own and hands
 * them to that event loop, which reads, handles and writes. Bodies go out in a {@link Buffer}.
 */
final class VertxIdServer implements HttpShootout.IdServer {

    private static final CharSequence APPLICATION_JSON = HttpHeaders.createOptimized("application/json");

    private final Vertx vertx;

    VertxIdServer(String host, int port, AtomicLong next)
            throws InterruptedException, ExecutionException, TimeoutException {
        vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1).setWorkerPoolSize(1)
                .setInternalBlockingPoolSize(1));
        IdBodies bodies = new IdBodies(next);
        HttpServer server = vertx.createHttpServer(new HttpServerOptions().setHost(host).setPort(port)
                .setAcceptBacklog(1024));
        server.requestHandler(request -> {
            HttpServerResponse response = request.response();
            int route = IdBodies.route(HttpMethod.GET.equals(request.method()), request.uri());
            if (route > 0) {
                byte[] body = bodies.write(route);
                response.putHeader(HttpHeaders.CONTENT_TYPE, APPLICATION_JSON)
                        .end(Buffer.buffer(bodies.length()).appendBytes(body, 0, bodies.length()));
            } else {
                response.setStatusCode(route == IdBodies.NOT_FOUND ? 404 : 400).end();
            }
        });
        server.listen().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    @Override
    public String describe() {
        return "vertx-core " + Vertx.class.getPackage().getImplementationVersion()
                + ", NIO transport, 1 event loop (+ Vert.x's acceptor thread)";
    }

    @Override
    public void stop() throws InterruptedException, ExecutionException, TimeoutException {
        vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }
}
