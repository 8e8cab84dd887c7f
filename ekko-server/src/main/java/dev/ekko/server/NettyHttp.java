package dev.ekko.server;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
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
                        p.addLast(new HttpObjectAggregator(MAX_REQUEST_BYTES));
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

    /** One per connection: answers each request, on the event loop or the worker pool. */
    private static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final HttpApi api;
        private final ExecutorService blocking;

        Handler(HttpApi api, ExecutorService blocking) {
            this.api = api;
            this.blocking = blocking;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            if (!req.decoderResult().isSuccess()) {
                write(ctx, false, new HttpApi.Answer(400, HttpApi.JSON, ("{\"error\":\"malformed HTTP request\"}").getBytes(
                        java.nio.charset.StandardCharsets.UTF_8)));
                return;
            }
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            String method = req.method().name();
            String uri = req.uri();
            String authorization = req.headers().get(HttpHeaderNames.AUTHORIZATION);
            if (HttpApi.mayBlock(uri)) {
                try {
                    blocking.execute(() -> write(ctx, keepAlive, api.handle(method, uri, authorization)));
                } catch (RejectedExecutionException e) {
                    write(ctx, keepAlive, new HttpApi.Answer(503, HttpApi.JSON, ("{\"error\":\"server busy: too many requests waiting for"
                            + " a segment store or a batch\"}").getBytes(java.nio.charset.StandardCharsets.UTF_8), "Retry-After", "1"));
                }
                return;
            }
            write(ctx, keepAlive, api.handle(method, uri, authorization));
        }

        private static void write(ChannelHandlerContext ctx, boolean keepAlive, HttpApi.Answer a) {
            ByteBuf body = ctx.alloc().buffer(a.body().length).writeBytes(a.body());
            FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(a.status()), body);
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, a.contentType());
            res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, a.body().length);
            for (int i = 0; i + 1 < a.headers().length; i += 2) {
                res.headers().set(a.headers()[i], a.headers()[i + 1]);
            }
            if (keepAlive) {
                res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
                ctx.writeAndFlush(res, ctx.voidPromise());
            } else {
                ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof io.netty.handler.codec.TooLongFrameException) {
                write(ctx, false, new HttpApi.Answer(413, HttpApi.JSON, ("{\"error\":\"request larger than " + MAX_REQUEST_BYTES
                        + " bytes\"}").getBytes(java.nio.charset.StandardCharsets.UTF_8)));
                return;
            }
            LOG.log(System.Logger.Level.DEBUG, () -> "HTTP connection closed after: " + cause);
            ctx.close();
        }
    }
}
