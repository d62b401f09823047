package dev.einhyrningsins.examples.jetty;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The worker's drain and a connection caught between the selector's accept and its endpoint:
 * a pool that holds back the selector's Accept task keeps that connection there, on purpose.
 */
class JettyWorkerTest {
    /** A thread pool that holds the selector's Accept tasks until {@link #release()}. */
    static final class HoldingPool extends QueuedThreadPool {
        private final List<Runnable> held = new ArrayList<>();

        HoldingPool() {
            super(32, 4);
        }

        @Override
        public void execute(Runnable job) {
            if (job.getClass().getName().endsWith("ManagedSelector$Accept")) {
                synchronized (held) {
                    held.add(job);
                }
            } else {
                super.execute(job);
            }
        }

        int held() {
            synchronized (held) {
                return held.size();
            }
        }

        void release() {
            synchronized (held) {
                for (Runnable job : held) {
                    try {
                        super.execute(job);
                    } catch (RejectedExecutionException stopped) {
                        // the server stopped first: the response tells what became of the connection
                    }
                }
                held.clear();
            }
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aConnectionAcceptedJustBeforeTheDrainIsAnswered() throws Exception {
        HoldingPool pool = new HoldingPool();
        Server server = new Server(pool);
        ServerConnector connector = new ServerConnector(server, 0, 1);
        connector.setHost("127.0.0.1");
        JettyWorker.Arrivals arrivals = new JettyWorker.Arrivals();
        connector.addEventListener(arrivals);
        server.addConnector(connector);
        server.setHandler(new JettyWorker.App());
        server.start();
        try (Socket client = new Socket()) {
            client.connect(new InetSocketAddress("127.0.0.1", connector.getLocalPort()), 5000);
            client.setSoTimeout(30_000);
            client.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            await(() -> pool.held() == 1); // accepted by the selector; no endpoint yet

            Thread drain = new Thread(() -> JettyWorker.drain(server, connector, arrivals), "drain");
            drain.start();
            // the drain either waits for the held connection or (without that wait) stops the server
            await(() -> arrivals.awaited() || server.isStopped());
            pool.release();

            String response = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(response).startsWith("HTTP/1.1 200").contains("jetty " + ProcessHandle.current().pid());
            drain.join(30_000);
            assertThat(server.isStopped()).as("the drain stops the server once the connection is done").isTrue();
        } finally {
            server.stop();
        }
    }

    static void await(BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) throw new AssertionError("not within 30 s");
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1)); // polls a condition; no timing is assumed
        }
    }
}
