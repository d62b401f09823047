package dev.einhyrningsins.systemd;

import dev.einhyrningsins.posix.Datagrams;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.PosixException;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.shell.StartupException;
import dev.einhyrningsins.supervisor.Happening;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Tells a service manager how the supervisor is doing (sd_notify(3)) when it set
 * {@code NOTIFY_SOCKET}: {@code READY=1} once the first full set of workers acked,
 * {@code RELOADING=1} with {@code MONOTONIC_USEC} when an upgrade starts and {@code READY=1}
 * when it ends, {@code STOPPING=1} on stop, {@code STATUS=} as the counts change, and
 * {@code WATCHDOG=1} every half {@code WATCHDOG_USEC}, sent from the loop so that a wedged
 * loop is caught. Loop thread only.
 */
public final class Notifier implements Consumer<Happening>, AutoCloseable {
    private final String address;
    private final int fd;
    private final long watchdogNanos;
    private final Log log;
    private boolean ready;
    private boolean warned;

    private Notifier(String address, long watchdogNanos, Log log) {
        this.address = address;
        this.watchdogNanos = watchdogNanos;
        this.log = log;
        this.fd = Datagrams.sender();
    }

    /** The notifier {@code env} asks for, or null when there is no NOTIFY_SOCKET. */
    public static Notifier fromEnvironment(Map<String, String> env, long pid, Log log) {
        String address = env.get("NOTIFY_SOCKET");
        if (address == null || address.isEmpty()) return null;
        if (!address.startsWith("/") && !address.startsWith("@")) {
            throw new StartupException("NOTIFY_SOCKET=" + address + " is neither a path nor an @abstract socket");
        }
        long watchdog = 0;
        String usec = env.get("WATCHDOG_USEC");
        String forPid = env.get("WATCHDOG_PID");
        if (usec != null && (forPid == null || forPid.trim().equals(Long.toString(pid)))) {
            try {
                watchdog = TimeUnit.MICROSECONDS.toNanos(Long.parseLong(usec.trim()));
            } catch (NumberFormatException e) {
                throw new StartupException("WATCHDOG_USEC=" + usec + " is not a number of microseconds");
            }
        }
        return new Notifier(address, watchdog, log);
    }

    /** How often the loop should call {@link #watchdog()}: half of WATCHDOG_USEC; 0 = never. */
    public long watchdogIntervalNanos() {
        return watchdogNanos / 2;
    }

    public void watchdog() {
        send("WATCHDOG=1");
    }

    /** The supervisor is about to replace itself: READY=1 follows from the new process. */
    public void reloading() {
        send("RELOADING=1\nMONOTONIC_USEC=" + TimeUnit.NANOSECONDS.toMicros(System.nanoTime())
                + "\nSTATUS=reloading the supervisor");
    }

    @Override
    public void accept(Happening h) {
        switch (h) {
            case Happening.Status s -> {
                String status = "STATUS=" + s.workers() + " workers, " + s.acked() + " of " + s.target() + " acked, generation "
                        + s.generation() + (s.upgrading() ? ", upgrading" : "") + (s.stopping() ? ", stopping" : "");
                if (s.ready() && !ready) {
                    ready = true;
                    send("READY=1\n" + status);
                } else {
                    send(status);
                }
            }
            case Happening.UpgradeStarted u -> send("RELOADING=1\nMONOTONIC_USEC="
                    + TimeUnit.NANOSECONDS.toMicros(System.nanoTime()) + "\nSTATUS=upgrading to generation " + u.generation());
            case Happening.UpgradeEnded u -> send("READY=1");
            case Happening.ShutdownDelayed d -> send("STOPPING=1\nSTATUS=shutting down in "
                    + TimeUnit.NANOSECONDS.toMillis(d.delayNanos()) / 1000.0 + " s: not ready, the workers serve on");
            case Happening.Stopping s -> send("STOPPING=1\nSTATUS=stopping");
            default -> { }
        }
    }

    /** Sends {@code message} with a copy of {@code socket} ({@code SCM_RIGHTS}): the fd store's {@code FDSTORE=1}. */
    void store(int socket, String message) {
        send(message, new int[] {socket});
    }

    void send(String message) {
        send(message, new int[0]);
    }

    private void send(String message, int[] fds) {
        try {
            if (!Datagrams.send(fd, address, message.getBytes(StandardCharsets.UTF_8), fds) && !warned) {
                warned = true;
                log.warn("NOTIFY_SOCKET " + address + " is not taking messages (its queue is full); dropping them");
            }
        } catch (PosixException e) {
            if (!warned) {
                warned = true;
                log.warn("cannot notify " + address + ": " + e.getMessage());
            }
        }
    }

    @Override
    public void close() {
        Fds.closeQuietly(fd);
    }
}
