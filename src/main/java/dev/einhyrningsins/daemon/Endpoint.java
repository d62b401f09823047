package dev.einhyrningsins.daemon;

import dev.einhyrningsins.cli.BindSpec;
import dev.einhyrningsins.listen.Addresses;
import dev.einhyrningsins.observe.EndpointCounts;
import dev.einhyrningsins.observe.MetricsEndpoint;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.shell.Loop;
import dev.einhyrningsins.shell.StartupException;
import dev.einhyrningsins.supervisor.Event;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/**
 * {@code --metrics}: the HTTP endpoint, bound before any worker starts (a failure is a
 * start-up error that leaves nothing behind). Each request asks the loop: {@code /metrics}
 * with the {@code metrics} command, {@code /ready} and {@code /live} with {@code ready}. A
 * reload stops it before its exec — its thread accepts connections, and an fd opened after
 * the close-on-exec sweep would leak into the next process — and starts it again, on the
 * same address, if the exec does not happen.
 */
final class Endpoint implements AutoCloseable {
    private final Loop loop;
    private final Log log;
    private final InetSocketAddress address;
    private final EndpointCounts counts;
    private MetricsEndpoint current;

    private Endpoint(Loop loop, Log log, EndpointCounts counts, MetricsEndpoint first) {
        this.loop = loop;
        this.log = log;
        this.counts = counts;
        this.current = first;
        this.address = first.address();
    }

    static Endpoint open(BindSpec where, Loop loop, Log log) {
        String what = "cannot serve --metrics " + where.text() + ": ";
        InetSocketAddress address;
        try {
            address = where.host().isEmpty() ? new InetSocketAddress(where.port())
                    : new InetSocketAddress(InetAddress.getByName(where.host()), where.port());
        } catch (UnknownHostException e) {
            throw new StartupException(what + "unknown host " + where.host());
        }
        try {
            EndpointCounts counts = new EndpointCounts();
            Endpoint e = new Endpoint(loop, log, counts, start(address, loop, log, counts));
            log.info("Serving metrics at " + e.url());
            return e;
        } catch (IOException e) {
            throw new StartupException(what + e.getMessage());
        }
    }

    private static MetricsEndpoint start(InetSocketAddress address, Loop loop, Log log, EndpointCounts counts)
            throws IOException {
        return MetricsEndpoint.start(address, (question, replyTo) -> loop.post(new Event.Command(
                        question == MetricsEndpoint.Question.METRICS ? "metrics" : "ready", null, null, null, null, false,
                        replyTo)),
                MetricsEndpoint.Limits.DEFAULTS, counts, log::warn);
    }

    /** What the endpoint counted. */
    EndpointCounts counts() {
        return counts;
    }

    String url() {
        return "http://" + Addresses.format(address) + "/metrics";
    }

    /** Stops serving (a reload is about to exec). */
    void stop() {
        if (current != null) current.close();
        current = null;
    }

    /** Serves again after {@link #stop} (the exec did not happen); a failure is logged, not thrown. */
    void restart() {
        if (current != null) return;
        try {
            current = start(address, loop, log, counts);
        } catch (IOException e) {
            log.error("cannot serve --metrics at " + url() + " again after a failed reload: " + e.getMessage());
        }
    }

    @Override
    public void close() {
        stop();
    }
}
