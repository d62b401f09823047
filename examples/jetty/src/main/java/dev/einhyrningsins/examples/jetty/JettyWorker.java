package dev.einhyrningsins.examples.jetty;

import dev.einhyrningsins.worker.Einhorn;
import dev.einhyrningsins.worker.NotSupervisedException;
import java.nio.channels.SelectableChannel;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.ManagedSelector;
import org.eclipse.jetty.io.SelectorManager;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * A Jetty 12 worker for einhyrningsins:
 *
 * <pre>
 * einhyrningsins -n 4 -m manual --graceful-signal TERM -b 127.0.0.1:8080,stdin -- java -jar target/jetty-worker.jar
 * </pre>
 *
 * The connector serves on the listener the supervisor gives as standard input
 * ({@code setInheritChannel(true)}); the worker acks once Jetty is started. On TERM (the
 * graceful signal; HotSpot owns USR2) its shutdown hook drains: it stops accepting (the
 * listener stays with the other workers), answers what is in flight with
 * {@code Connection: close}, waits until every connection has ended, then stops Jetty.
 * Run on its own, it binds 127.0.0.1:8080 (or {@code $PORT}) itself.
 *
 * <p>{@code GET /} answers {@code jetty <pid>}. {@code GET /slow?ms=N} stays in flight until
 * the worker starts draining and answers N ms later (at most a minute in all): a request
 * that is certainly in flight when the graceful signal comes, to watch the drain wait for it.
 */
public final class JettyWorker {
    static final long PID = ProcessHandle.current().pid();
    static final CountDownLatch DRAINING = new CountDownLatch(1);

    private JettyWorker() {}

    public static void main(String[] args) throws Exception {
        Server server = new Server(new QueuedThreadPool(32, 4));
        // acceptors = 0: the selector accepts (non-blocking), so accepting stops without
        // interrupting a thread blocked in accept() (which could lose a connection it had taken)
        ServerConnector connector = new ServerConnector(server, 0, 1);
        Einhorn einhorn = null;
        try {
            einhorn = Einhorn.worker();
            einhorn.inheritedChannel(); // fails in one line unless a -b says stdin
            connector.setInheritChannel(true);
        } catch (NotSupervisedException e) {
            System.err.println(e.getMessage() + "; serving on 127.0.0.1 myself");
            connector.setHost("127.0.0.1");
            connector.setPort(Integer.parseInt(System.getenv().getOrDefault("PORT", "8080")));
        }
        Arrivals arrivals = new Arrivals();
        connector.addEventListener(arrivals); // the selector manager's accepts and each connection's opening
        server.addConnector(connector);
        server.setHandler(new App());
        server.start();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> drain(server, connector, arrivals), "drain"));
        System.err.println("jetty worker " + PID + " serving on " + connector.getTransport());
        if (einhorn != null) einhorn.ack();
        server.join();
    }

    /**
     * The graceful signal: stop accepting, let every connection finish (at most 30 s), stop.
     * Jetty's own graceful stop (a GracefulHandler) would answer requests that arrive on
     * connections accepted just before with 503, which a client counts as a failure.
     *
     * <p>A connection the selector accepted becomes one of the connector's endpoints only once
     * a pool thread has created it. The connector's shutdown counts endpoints, so the drain
     * first makes sure accepting has stopped (a barrier on each selector: its cancel of the
     * accept key runs before the barrier) and then waits until every accepted connection has
     * its endpoint. Without that, a connection accepted just before could be closed unanswered.
     */
    static void drain(Server server, ServerConnector connector, Arrivals arrivals) {
        // the last words: closing the inherited channel points stdout and stderr at /dev/null
        System.err.println("jetty worker " + PID + " draining " + connector.getConnectedEndPoints().size() + " connections");
        DRAINING.countDown();
        try {
            connector.setAccepting(false);
            for (ManagedSelector selector : connector.getSelectorManager().getBeans(ManagedSelector.class)) {
                CountDownLatch passed = new CountDownLatch(1);
                selector.submit(s -> passed.countDown());
                if (!passed.await(5, TimeUnit.SECONDS)) System.err.println("jetty worker " + PID + ": a selector took over 5 s to stop accepting");
            }
            int unopened = arrivals.awaitNonePending(5_000);
            if (unopened > 0) System.err.println("jetty worker " + PID + ": " + unopened + " accepted connections still not open after 5 s");
            for (EndPoint ep : connector.getConnectedEndPoints()) ep.setIdleTimeout(1000); // idle keep-alive ends
            connector.shutdown().get(30, TimeUnit.SECONDS); // done when no connection is left
            server.stop();
        } catch (Exception e) {
            System.err.println("jetty worker " + PID + " drain: " + e);
        }
    }

    /**
     * Channels accepted whose endpoint is not open yet. A set, not a count: a connection that
     * opens without an accept of its own (an upgrade, a second connection factory) is ignored.
     * It must be added to the connector before the server starts: the connector hands its
     * accept listeners to the selector manager then.
     */
    static final class Arrivals implements SelectorManager.AcceptListener, Connection.Listener {
        private final Set<SelectableChannel> pending = new HashSet<>();
        private boolean awaited;

        @Override
        public synchronized void onAccepting(SelectableChannel channel) {
            pending.add(channel);
        }

        @Override
        public synchronized void onAcceptFailed(SelectableChannel channel, Throwable cause) {
            pending.remove(channel);
            notifyAll();
        }

        @Override
        public synchronized void onOpened(Connection connection) {
            // the endpoint joined the connector's before its connection opened
            pending.remove(connection.getEndPoint().getTransport());
            notifyAll();
        }

        /** Waits until no accepted channel lacks its endpoint, at most {@code ms}; how many still do. */
        synchronized int awaitNonePending(long ms) throws InterruptedException {
            awaited = true;
            long end = System.nanoTime() + ms * 1_000_000;
            for (long left = ms; !pending.isEmpty() && left > 0; left = (end - System.nanoTime()) / 1_000_000) wait(left);
            return pending.size();
        }

        /** Whether a drain has waited (or is waiting) for the connections being opened. */
        synchronized boolean awaited() {
            return awaited;
        }
    }

    static final class App extends Handler.Abstract {
        @Override
        public boolean handle(Request request, Response response, Callback callback) throws Exception {
            String path = Request.getPathInContext(request);
            String body;
            switch (path) {
                case "/" -> body = "jetty " + PID;
                case "/slow" -> {
                    String ms = Request.extractQueryParameters(request).getValue("ms");
                    System.err.println("jetty worker " + PID + ": a slow request waits for the drain");
                    boolean drained = DRAINING.await(60, TimeUnit.SECONDS);
                    Thread.sleep(ms == null ? 100 : Long.parseLong(ms));
                    body = "jetty " + PID + " slow, finished " + (drained ? "while draining" : "without a drain");
                }
                default -> {
                    Response.writeError(request, response, callback, 404);
                    return true;
                }
            }
            response.setStatus(200);
            response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
            if (DRAINING.getCount() == 0) response.getHeaders().put(HttpHeader.CONNECTION, "close");
            Content.Sink.write(response, true, body + "\n", callback);
            return true;
        }
    }
}
