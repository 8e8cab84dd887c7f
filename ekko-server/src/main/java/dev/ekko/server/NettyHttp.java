package dev.ekko.server;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * The HTTP listener: Netty's HTTP/1.1 codec on NIO event loops ({@code ekko.server.threads}), keep-alive, optional TLS.
 * Routes that answer from memory (one ID, decode, health, metrics) run on the event loop; those that may block (a segment
 * store round trip, a batch waiting for the next milliseconds) run on the server's worker pool.
 */
final class NettyHttp implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger("dev.ekko.server");
    /** Requests carry no body; anything larger than this is refused with 413. */
    private static final int MAX_REQUEST_BYTES = 8192;

    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Channel channel;

    NettyHttp(ServerSettings settings, HttpApi api, ExecutorService blocking) throws InterruptedException {
        SslContext ssl = null;
        if (settings.tls()) {
            try {
                ssl = SslContextBuilder.forServer(settings.tlsCert().toFile(), settings.tlsKey().toFile()).build();
            } catch (javax.net.ssl.SSLException | IllegalArgumentException e) {
                throw new IllegalArgumentException("cannot load the TLS certificate and key (" + ServerSettings.TLS_CERT + "="
                        + settings.tlsCert() + ", " + ServerSettings.TLS_KEY + "=" + settings.tlsKey() + "; the key must be PEM PKCS#8): "
                        + e.getMessage(), e);
            }
        }
        SslContext tls = ssl;
        boss = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("ekko-http-accept", true), NioIoHandler.newFactory());
        workers = new MultiThreadIoEventLoopGroup(settings.threads(), new DefaultThreadFactory("ekko-http", true), NioIoHandler.newFactory());
        ServerBootstrap b = new ServerBootstrap().group(boss, workers).channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ChannelPipeline p = ch.pipeline();
                        if (tls != null) {
                            p.addLast(tls.newHandler(ch.alloc()));
                        }
                        p.addLast(new HttpServerCodec());
                        p.addLast(new Aggregator());
                        p.addLast(new Handler(api, blocking));
                    }
                });
        try {
            channel = b.bind(new InetSocketAddress(settings.host(), settings.httpPort())).sync().channel();
        } catch (RuntimeException | InterruptedException e) {
            closeGroups();
            throw e;
        } catch (Exception e) {
            closeGroups();
            throw new IllegalStateException("cannot listen for HTTP on " + settings.host() + ":" + settings.httpPort() + ": " + e, e);
        }
    }

    /** {@return the port bound} */
    int port() {
        return ((InetSocketAddress) channel.localAddress()).getPort();
    }

    /** Stops accepting, lets requests in flight finish (up to two seconds), closes every connection. */
    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        closeGroups();
    }

    private void closeGroups() {
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /**
     * The aggregator, with its own refusals (a body over the limit: 413; an {@code Expect} other than 100-continue: 417)
     * answered as JSON like every other error.
     */
    private static final class Aggregator extends HttpObjectAggregator {
        Aggregator() {
            super(MAX_REQUEST_BYTES);
        }

        @Override
        protected Object newContinueResponse(HttpMessage start, int maxContentLength, ChannelPipeline pipeline) {
            Object r = super.newContinueResponse(start, maxContentLength, pipeline);
            if (r instanceof FullHttpResponse f && f.status().code() != 100) {
                int code = f.status().code();
                f.release();
                return response(HttpApi.error(code == 417 ? refusal(417, "unsupported Expect header: only 100-continue is", "Expect")
                        : tooLarge()), false);
            }
            return r;
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
            ctx.writeAndFlush(response(HttpApi.error(tooLarge()), false)).addListener(ChannelFutureListener.CLOSE);
        }
    }

    /** A refusal of the transport's own, in the same JSON as the routes' (no parameter value to name). */
    private static ApiError refusal(int status, String message, String parameter) {
        return new ApiError(status, io.grpc.Status.Code.INVALID_ARGUMENT, message, parameter, null, null);
    }

    private static ApiError tooLarge() {
        return refusal(413, "request body larger than " + MAX_REQUEST_BYTES + " bytes", null);
    }

    private static FullHttpResponse response(HttpApi.Answer a, boolean keepAlive) {
        return response(a, keepAlive, io.netty.buffer.Unpooled.wrappedBuffer(a.body()));
    }

    /** The response in a buffer of the channel's pooled allocator: a heap array would be copied to a direct buffer per write. */
    private static FullHttpResponse response(HttpApi.Answer a, boolean keepAlive, io.netty.buffer.ByteBufAllocator alloc) {
        return response(a, keepAlive, alloc.buffer(a.body().length).writeBytes(a.body()));
    }

    private static FullHttpResponse response(HttpApi.Answer a, boolean keepAlive, io.netty.buffer.ByteBuf body) {
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(a.status()), body);
        res.headers().set(HttpHeaderNames.CONTENT_TYPE, a.contentType());
        res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, a.body().length);
        for (int i = 0; i + 1 < a.headers().length; i += 2) {
            res.headers().set(a.headers()[i], a.headers()[i + 1]);
        }
        res.headers().set(HttpHeaderNames.CONNECTION, keepAlive ? HttpHeaderValues.KEEP_ALIVE : HttpHeaderValues.CLOSE);
        return res;
    }

    /** What the handler keeps of a request: enough to answer it later, in order. */
    private record Request(String method, String uri, String authorization, boolean keepAlive) {
    }

    /**
     * One per connection: answers each request, on the event loop or the worker pool, in the order the requests came
     * (HTTP/1.1 pipelining): while a request runs on the worker pool, the ones after it wait in a queue. Touched by the
     * connection's event loop only.
     */
    private static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final HttpApi api;
        private final ExecutorService blocking;
        private final java.util.ArrayDeque<Request> waiting = new java.util.ArrayDeque<>();
        private boolean busy;

        Handler(HttpApi api, ExecutorService blocking) {
            this.api = api;
            this.blocking = blocking;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            if (!req.decoderResult().isSuccess()) {
                waiting.clear();
                ctx.writeAndFlush(response(HttpApi.error(refusal(400, "malformed HTTP request", null)), false))
                        .addListener(ChannelFutureListener.CLOSE);
                return;
            }
            Request r = new Request(req.method().name(), req.uri(), req.headers().get(HttpHeaderNames.AUTHORIZATION), HttpUtil.isKeepAlive(req));
            if (busy) {
                waiting.add(r);
                return;
            }
            answer(ctx, r);
        }

        /** Answers {@code r}, then the requests that waited behind it, until one goes to the worker pool. */
        private void answer(ChannelHandlerContext ctx, Request r) {
            for (Request next = r; next != null; next = busy ? null : waiting.poll()) {
                Request q = next;
                if (!HttpApi.mayBlock(q.uri())) {
                    write(ctx, q.keepAlive(), api.handle(q.method(), q.uri(), q.authorization()));
                    continue;
                }
                busy = true;
                try {
                    blocking.execute(() -> {
                        HttpApi.Answer a = api.handle(q.method(), q.uri(), q.authorization());
                        ctx.executor().execute(() -> resume(ctx, q, a));
                    });
                } catch (RejectedExecutionException e) {
                    busy = false;
                    write(ctx, q.keepAlive(), HttpApi.error(new ApiError(503, io.grpc.Status.Code.UNAVAILABLE, "server busy: too many"
                            + " requests waiting for a segment store or a batch", null, null, null)));
                }
            }
        }

        private void resume(ChannelHandlerContext ctx, Request q, HttpApi.Answer a) {
            busy = false;
            write(ctx, q.keepAlive(), a);
            Request next = waiting.poll();
            if (next != null) {
                answer(ctx, next);
            }
        }

        private static void write(ChannelHandlerContext ctx, boolean keepAlive, HttpApi.Answer a) {
            if (!ctx.channel().isActive()) {
                return;
            }
            if (keepAlive) {
                ctx.writeAndFlush(response(a, true, ctx.alloc()), ctx.voidPromise());
            } else {
                ctx.writeAndFlush(response(a, false, ctx.alloc())).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            LOG.log(System.Logger.Level.DEBUG, () -> "HTTP connection closed after: " + cause);
            ctx.close();
        }
    }
}
