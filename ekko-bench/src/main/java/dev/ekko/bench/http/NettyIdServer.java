package dev.ekko.bench.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.Version;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@link HttpShootout}'s Netty server: netty-codec-http on the NIO transport, one event loop that accepts, reads,
 * handles and writes. Bodies go out in buffers of the channel's allocator (Netty's default, a pooling one).
 */
final class NettyIdServer implements HttpShootout.IdServer {

    private final EventLoopGroup group;
    private final Channel channel;

    NettyIdServer(String host, int port, AtomicLong next) throws InterruptedException {
        group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        Handler handler = new Handler(new IdBodies(next));
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group) // the same one thread accepts and serves
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpServerKeepAliveHandler(), handler);
                    }
                });
        channel = bootstrap.bind(host, port).sync().channel();
    }

    @Override
    public String describe() {
        return "netty-codec-http " + Version.identify().get("netty-codec-http").artifactVersion()
                + ", NIO transport, 1 event loop, allocator " + ByteBufAllocator.DEFAULT.getClass().getSimpleName();
    }

    @Override
    public void stop() throws InterruptedException {
        channel.close().sync();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    /** Answers each request as soon as its head is decoded; GET requests have no body to wait for. */
    @ChannelHandler.Sharable
    private static final class Handler extends ChannelInboundHandlerAdapter {

        private final IdBodies bodies;

        Handler(IdBodies bodies) {
            this.bodies = bodies;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (msg instanceof HttpRequest) {
                    respond(ctx, (HttpRequest) msg);
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        private void respond(ChannelHandlerContext ctx, HttpRequest request) {
            int route = request.decoderResult().isSuccess()
                    ? IdBodies.route(HttpMethod.GET.equals(request.method()), request.uri())
                    : IdBodies.BAD_REQUEST;
            FullHttpResponse response;
            if (route > 0) {
                byte[] body = bodies.write(route);
                ByteBuf content = ctx.alloc().buffer(bodies.length());
                content.writeBytes(body, 0, bodies.length());
                response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, content);
                response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
            } else {
                response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                        route == IdBodies.NOT_FOUND ? HttpResponseStatus.NOT_FOUND : HttpResponseStatus.BAD_REQUEST,
                        Unpooled.EMPTY_BUFFER);
            }
            HttpUtil.setContentLength(response, response.content().readableBytes());
            HttpUtil.setKeepAlive(response.headers(), request.protocolVersion(), HttpUtil.isKeepAlive(request));
            ctx.write(response);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
