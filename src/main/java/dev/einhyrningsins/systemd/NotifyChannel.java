package dev.einhyrningsins.systemd;

import dev.einhyrningsins.posix.Datagrams;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.Pollable;
import dev.einhyrningsins.posix.Poller;
import dev.einhyrningsins.posix.PosixException;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.supervisor.Event;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.function.Consumer;

/**
 * A worker's own {@code NOTIFY_SOCKET} ({@code -m notify}): a datagram socket, one per worker,
 * so a message tells whose it is by where it arrives — the sender is often a short-lived
 * child (systemd-notify in a start script) that has exited before the message is read. The
 * socket is a file in a private 0700 directory ({@link NotifyDirectory}): other users cannot
 * reach it at all (an abstract name is listed in /proc/net/unix for everyone). Messages from
 * other users (credentials, SO_PASSCRED) are dropped anyway, as are oversized and garbled
 * ones, each counted, with at most one line a minute about them; at most
 * {@link #READS_PER_WAKEUP} are read in one wake-up. It goes away with the worker.
 */
public final class NotifyChannel implements Pollable {
    /** sd_notify messages are small; systemd itself takes at most about this much. */
    static final int MAX_MESSAGE = 4096;
    /** Datagrams read in one wake-up, at most: a flood cannot hold the loop. */
    static final int READS_PER_WAKEUP = 64;
    /** At most one line about dropped messages in this long. */
    static final long DROP_LOG_NANOS = 60_000_000_000L;
    private static final SecureRandom RANDOM = new SecureRandom();

    private final int fd;
    private final String address;
    private final int uid;
    private final Log log;
    private Consumer<Event> sink;
    private int pid;
    private boolean closed;
    private long dropped;
    private long droppedSinceLine;
    private long lastDropLine;
    private String lastDrop;

    private NotifyChannel(int fd, String address, int uid, Log log) {
        this.fd = fd;
        this.address = address;
        this.uid = uid;
        this.log = log;
    }

    /** Binds a fresh socket in {@code dir}, at an unguessable name; {@link #address()} goes into the worker's environment. */
    public static NotifyChannel open(NotifyDirectory dir, int uid, Log log) {
        byte[] nonce = new byte[8];
        RANDOM.nextBytes(nonce);
        Path socket = dir.path().resolve(HexFormat.of().formatHex(nonce));
        int fd = Datagrams.receiver(socket.toString());
        try {
            // the directory keeps everyone but the workers' user (and root) out; inside it, they may write
            Files.setPosixFilePermissions(socket, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw-rw-"));
        } catch (IOException e) {
            Fds.closeQuietly(fd);
            throw PosixException.denied("chmod " + socket);
        }
        return new NotifyChannel(fd, socket.toString(), uid, log);
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
            for (int i = 0; i < READS_PER_WAKEUP && (r = Datagrams.receive(fd, MAX_MESSAGE)) != null; i++) handle(r);
        } catch (PosixException e) {
            log.warn("worker " + pid + "'s notify socket failed: " + e.getMessage() + "; closing it");
            close();
        }
    }

    /** Messages dropped so far (another user's, oversized). */
    public long dropped() {
        return dropped;
    }

    private void handle(Datagrams.Received r) {
        if (r.uid() != uid && r.uid() != 0) {
            drop("from uid " + r.uid() + " (pid " + r.pid() + ")");
            return;
        }
        if (r.truncated()) {
            drop("over " + MAX_MESSAGE + " bytes");
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

    /** Counts a dropped message; says so at most once a minute, with how many since. */
    private void drop(String why) {
        dropped++;
        droppedSinceLine++;
        lastDrop = why;
        long now = System.nanoTime();
        if (lastDropLine == 0 || now - lastDropLine >= DROP_LOG_NANOS) {
            log.warn("Dropped " + droppedSinceLine + " notify message" + (droppedSinceLine == 1 ? "" : "s") + " for worker "
                    + pid + " (the last " + lastDrop + "); at most one such line a minute");
            lastDropLine = now == 0 ? 1 : now;
            droppedSinceLine = 0;
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Fds.closeQuietly(fd);
            if (address.startsWith("/")) {
                try {
                    Files.deleteIfExists(Path.of(address));
                } catch (IOException e) {
                    // the directory goes with the supervisor anyway
                }
            }
        }
    }
}
