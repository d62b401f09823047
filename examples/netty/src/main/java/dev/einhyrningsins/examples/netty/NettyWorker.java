package dev.einhyrningsins.examples.netty;

import dev.einhyrningsins.worker.Einhorn;
import dev.einhyrningsins.worker.Listener;
import dev.einhyrningsins.worker.NotSupervisedException;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFactory;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
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
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A Netty 4.2 worker on the epoll transport for einhyrningsins:
 *
 * <pre>
 * einhyrningsins -n 4 -m manual --graceful-signal TERM -b 127.0.0.1:8080,n -- java -jar target/netty-worker.jar
 * </pre>
 *
 * Netty's epoll transport adopts a descriptor ({@code new EpollServerSocketChannel(fd)}), so
 * the listener needs no {@code stdin}; it must be non-blocking ({@code ,n}), as the edge-triggered
 * accept loop reads until it would block. The channel is registered, not bound: the socket is
 * already listening. On TERM the shutdown hook drains: it closes this worker's descriptor of
 * the listener (the other workers keep accepting on theirs), answers what is in flight with
 * {@code Connection: close}, closes connections left idle for a second, waits for every
 * connection to end, and shuts the event loops down. Run on its own, it binds 127.0.0.1:8080
 * (or {@code $PORT}) itself.
 *
 * <p>{@code GET /} answers {@code netty <pid>}. {@code GET /slow?ms=N} stays in flight until
 * the worker starts draining and answers N ms later (at most a minute in all).
 */
public final class NettyWorker {
    static final long PID = ProcessHandle.current().pid();
    static final CompletableFuture<Void> DRAINING = new CompletableFuture<>();
    static final ChannelGroup CONNECTIONS = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    /** Requests of this connection being answered (pipelined ones too); touched on its event loop only. */
    static final AttributeKey<Integer> IN_FLIGHT = AttributeKey.valueOf("in-flight");
    /** When this connection last brought bytes (System.nanoTime()): a request may be on its way. */
    static final AttributeKey<Long> LAST_READ = AttributeKey.valueOf("last-read");
    static final long GRACE_NANOS = TimeUnit.SECONDS.toNanos(1);

    private NettyWorker() {}

    public static void main(String[] args) throws Exception {
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(2, EpollIoHandler.newFactory());
        ServerBootstrap bootstrap = bootstrap(boss, workers);
        Einhorn einhorn = null;
        Channel server;
        try {
            einhorn = Einhorn.worker();
            Listener listener = einhorn.listener(0);
            if (!listener.nonBlocking()) {
                // a boss woken with the others for one connection would block in accept() on a blocking one
                System.err.println("netty worker " + PID + ": EINHORN_FD_0 is blocking; the epoll transport needs a "
                        + "non-blocking listener: add ,n to its -b (e.g. -b 127.0.0.1:8080,n)");
                System.exit(1);
            }
            bootstrap.channelFactory((ChannelFactory<EpollServerSocketChannel>) () -> new EpollServerSocketChannel(listener.fd()));
            server = bootstrap.register().sync().channel(); // already bound and listening
        } catch (NotSupervisedException e) {
            int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "8080"));
            System.err.println(e.getMessage() + "; serving on 127.0.0.1:" + port + " myself");
            server = bootstrap.channel(EpollServerSocketChannel.class).bind(new InetSocketAddress("127.0.0.1", port)).sync().channel();
        }
        Channel listening = server;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> drain(listening, boss, workers), "drain"));
        System.err.println("netty worker " + PID + " serving on " + server.localAddress());
        if (einhorn != null) einhorn.ack();
        server.closeFuture().sync();
        workers.terminationFuture().sync();
    }

    /** The server: the boss accepts, each connection joins {@link #CONNECTIONS} and speaks HTTP/1.1 on a worker loop. */
    static ServerBootstrap bootstrap(EventLoopGroup boss, EventLoopGroup workers) {
        return new ServerBootstrap().group(boss, workers).childHandler(new ChannelInitializer<EpollSocketChannel>() {
            @Override
            protected void initChannel(EpollSocketChannel ch) {
                CONNECTIONS.add(ch);
                ch.pipeline().addLast(new Busy(), new HttpServerCodec(), new HttpObjectAggregator(64 * 1024), new App());
            }
        });
    }

    /** The graceful signal: stop accepting, let every connection finish (at most 30 s), shut down. */
    static void drain(Channel server, EventLoopGroup boss, EventLoopGroup workers) {
        System.err.println("netty worker " + PID + " draining " + CONNECTIONS.size() + " connections");
        DRAINING.complete(null);
        server.close().syncUninterruptibly();
        // A connection the boss accepted just before the close is registered with a worker loop
        // by a task queued there, and joins CONNECTIONS only when that task runs. Missed, it would
        // be cut by the loops' shutdown, its request unanswered: one turn of every loop first.
        for (EventExecutor loop : workers) {
            if (!loop.submit(() -> {}).awaitUninterruptibly(5, TimeUnit.SECONDS)) {
                System.err.println("netty worker " + PID + ": a worker loop took over 5 s to take a turn");
            }
        }
        for (Channel c : CONNECTIONS) closeWhenIdle(c);
        boolean drained = CONNECTIONS.newCloseFuture().awaitUninterruptibly(30, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
        boss.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
        System.err.println("netty worker " + PID + (drained ? " drained" : " gave up on connections after 30 s") + ", exiting");
    }

    /**
     * Closes {@code c} once it is idle while draining: nothing in flight (an answer closes the
     * connection itself) and no byte for a second (a connection accepted a moment ago, or one
     * whose request is still arriving, may not have sent it whole yet).
     */
    static void closeWhenIdle(Channel c) {
        c.eventLoop().schedule(() -> {
            Integer inFlight = c.attr(IN_FLIGHT).get();
            Long lastRead = c.attr(LAST_READ).get();
            if (inFlight != null && inFlight > 0) return;
            if (lastRead != null && System.nanoTime() - lastRead < GRACE_NANOS) closeWhenIdle(c);
            else c.close();
        }, 1, TimeUnit.SECONDS);
    }

    /** Notes when bytes arrive, before they are a whole request: the drain's idle test reads it. */
    static final class Busy extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.channel().attr(LAST_READ).set(System.nanoTime());
            ctx.fireChannelRead(msg);
        }
    }

    static final class App extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            Integer inFlight = ctx.channel().attr(IN_FLIGHT).get();
            ctx.channel().attr(IN_FLIGHT).set(inFlight == null ? 1 : inFlight + 1);
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            QueryStringDecoder uri = new QueryStringDecoder(request.uri());
            switch (uri.path()) {
                case "/" -> answer(ctx, keepAlive, HttpResponseStatus.OK, "netty " + PID);
                case "/slow" -> {
                    List<String> ms = uri.parameters().get("ms");
                    long delay = ms == null ? 100 : Long.parseLong(ms.get(0));
                    System.err.println("netty worker " + PID + ": a slow request waits for the drain");
                    DRAINING.copy().completeOnTimeout(null, 60, TimeUnit.SECONDS).thenRun(() -> {
                        boolean draining = DRAINING.isDone();
                        ctx.executor().schedule(() -> answer(ctx, keepAlive, HttpResponseStatus.OK, "netty " + PID
                                + " slow, finished " + (draining ? "while draining" : "without a drain")), delay, TimeUnit.MILLISECONDS);
                    });
                }
                default -> answer(ctx, keepAlive, HttpResponseStatus.NOT_FOUND, "not found");
            }
        }

        static void answer(ChannelHandlerContext ctx, boolean keepAlive, HttpResponseStatus status, String text) {
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                    Unpooled.copiedBuffer(text + "\n", StandardCharsets.UTF_8));
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
            response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes());
            boolean close = !keepAlive || DRAINING.isDone();
            if (close) response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            ctx.writeAndFlush(response).addListener(f -> ctx.channel().attr(IN_FLIGHT).set(ctx.channel().attr(IN_FLIGHT).get() - 1))
                    .addListener(close ? ChannelFutureListener.CLOSE : ChannelFutureListener.CLOSE_ON_FAILURE);
        }
    }
}
