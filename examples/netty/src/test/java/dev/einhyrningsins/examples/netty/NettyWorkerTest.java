package dev.einhyrningsins.examples.netty;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.util.concurrent.SingleThreadEventExecutor;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The worker's drain and a connection the boss accepted whose registration with a worker loop
 * has not run yet: the test keeps the only worker loop busy, so the registration waits there.
 */
class NettyWorkerTest {
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aConnectionAcceptedJustBeforeTheDrainIsAnswered() throws Exception {
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        SingleThreadEventExecutor loop = (SingleThreadEventExecutor) workers.next();
        CountDownLatch accepted = new CountDownLatch(1);
        CountDownLatch busy = new CountDownLatch(1);
        try {
            Channel server = NettyWorker.bootstrap(boss, workers).channel(EpollServerSocketChannel.class)
                    .handler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object child) {
                            ctx.fireChannelRead(child); // the acceptor queues the registration on the worker loop
                            accepted.countDown();
                        }
                    }).bind(new InetSocketAddress("127.0.0.1", 0)).sync().channel();
            int port = ((InetSocketAddress) server.localAddress()).getPort();
            CountDownLatch running = new CountDownLatch(1);
            loop.execute(() -> {
                running.countDown();
                try {
                    busy.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            assertThat(running.await(30, TimeUnit.SECONDS)).isTrue();
            try (Socket client = new Socket()) {
                client.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                client.setSoTimeout(10_000); // without the drain's turn of the loop the connection is never answered
                client.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                        .getBytes(StandardCharsets.US_ASCII));
                assertThat(accepted.await(30, TimeUnit.SECONDS)).isTrue();
                assertThat(loop.pendingTasks()).as("the registration waits behind the busy task").isEqualTo(1);

                Thread drain = new Thread(() -> NettyWorker.drain(server, boss, workers), "drain");
                drain.start();
                // the drain either queues its turn of the loop behind the registration, or (without
                // that turn) finds no connection and shuts the loops down
                await(() -> loop.pendingTasks() >= 2 || workers.isShuttingDown());
                busy.countDown();

                String response = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                assertThat(response).startsWith("HTTP/1.1 200").contains("netty " + ProcessHandle.current().pid());
                drain.join(30_000);
                assertThat(workers.isTerminated()).as("the drain shuts the loops down once the connection is done").isTrue();
            }
        } finally {
            busy.countDown();
            workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    static void await(BooleanSupplier condition) {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) throw new AssertionError("not within 30 s");
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1)); // polls a condition; no timing is assumed
        }
    }
}
