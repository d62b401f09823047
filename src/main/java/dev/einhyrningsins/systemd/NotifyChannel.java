package dev.einhyrningsins.systemd;

import dev.einhyrningsins.posix.Datagrams;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.Pollable;
import dev.einhyrningsins.posix.Poller;
import dev.einhyrningsins.posix.PosixException;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.supervisor.Event;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.function.Consumer;

/**
 * A worker's own {@code NOTIFY_SOCKET} ({@code -m notify}): a datagram socket in the abstract
 * namespace, one per worker, so a message tells whose it is by where it arrives — the
 * sender is often a short-lived child (systemd-notify in a start script) that has exited
 * before the message is read. Messages from other users (credentials, SO_PASSCRED) are
 * dropped, as are oversized and garbled ones; it goes away with the worker.
 */
public final class NotifyChannel implements Pollable {
    /** sd_notify messages are small; systemd itself takes at most about this much. */
    static final int MAX_MESSAGE = 4096;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final int fd;
    private final String address;
    private final int uid;
    private final Log log;
    private Consumer<Event> sink;
    private int pid;
    private boolean closed;

    private NotifyChannel(int fd, String address, int uid, Log log) {
        this.fd = fd;
        this.address = address;
        this.uid = uid;
        this.log = log;
    }

    /** Binds a fresh socket at an unguessable abstract address; {@link #address()} goes into the worker's environment. */
    public static NotifyChannel open(long supervisorPid, int uid, Log log) {
        byte[] nonce = new byte[8];
        RANDOM.nextBytes(nonce);
        String address = "@einhyrningsins/" + supervisorPid + "/" + HexFormat.of().formatHex(nonce);
        return new NotifyChannel(Datagrams.receiver(address), address, uid, log);
    }

    /** A notify socket the previous process of this supervisor bound (handed over across exec). */
    public static NotifyChannel adopt(int fd, String address, int uid, Log log) {
        return new NotifyChannel(fd, address, uid, log);
    }

    public String address() {
        return address;
    }

    /** Once the worker is started: whose messages arrive here, and where they go. */
    public void attach(int workerPid, Consumer<Event> events) {
        this.pid = workerPid;
        this.sink = events;
    }

    @Override
    public int fd() {
        return fd;
    }

    @Override
    public short events() {
        return Poller.IN;
    }

    @Override
    public boolean closed() {
        return closed;
    }

    @Override
    public void ready(short revents) {
        if (closed || sink == null) return;
        try {
            Datagrams.Received r;
            while ((r = Datagrams.receive(fd, MAX_MESSAGE)) != null) handle(r);
        } catch (PosixException e) {
            log.warn("worker " + pid + "'s notify socket failed: " + e.getMessage() + "; closing it");
            close();
        }
    }

    private void handle(Datagrams.Received r) {
        if (r.uid() != uid && r.uid() != 0) {
            log.warn("Dropped a notify message for worker " + pid + " from uid " + r.uid() + " (pid " + r.pid() + ")");
            return;
        }
        if (r.truncated()) {
            log.warn("Dropped a notify message for worker " + pid + " over " + MAX_MESSAGE + " bytes");
            return;
        }
        boolean ready = false;
        boolean stopping = false;
        String status = null;
        for (String line : new String(r.data(), StandardCharsets.UTF_8).split("\n")) {
            if (line.equals("READY=1")) ready = true;
            else if (line.equals("STOPPING=1")) stopping = true;
            else if (line.startsWith("STATUS=")) status = line.substring(7);
        }
        if (ready || stopping || status != null) sink.accept(new Event.WorkerNotified(pid, ready, stopping, status));
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Fds.closeQuietly(fd);
        }
    }
}
