package dev.einhyrningsins.reload;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.shell.StartupException;
import dev.einhyrningsins.supervisor.Snapshot;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * What a supervisor hands to the next process of itself when it reloads: the core's
 * {@link Snapshot} and what the shell holds — the fd numbers that stay open across the exec
 * (listening sockets, workers' -g channels and notify sockets, the clients still owed a
 * reply) and what they are. It travels as JSON in a memfd whose fd number is in
 * {@link #ENV}; the control socket's listening fd is standard input ({@code System.inheritedChannel()}).
 *
 * @param format      {@link Snapshot#FORMAT} of the process that wrote it
 * @param from        the version that wrote it
 * @param stdinFd     the supervisor's original standard input, which workers get as theirs
 * @param reloadedBy  the client that asked for the reload ({@link Client#ref}), null for none
 * @param then        "upgrade" or "upgrade_fleet" when an upgrade waits for the reload, else null
 * @param startedWall when the first process of this supervisor started (uptime survives reloads)
 */
public record Handover(int format, String from, Snapshot core, List<Listener> listeners, int stdinFd, boolean pidfileWritten,
                List<Channel> channels, List<Notify> notifies, List<Client> clients, String reloadedBy, String then,
                long startedWall, int reloads) {

    /** The environment variable with the memfd's fd number; the next process removes it. */
    public static final String ENV = "EINHYRNINGSINS_HANDOVER";

    /** A listening socket: {@code unixPath} only for a UNIX socket file of ours, to remove on exit. */
    public record Listener(int fd, String bind, String address, int port, String unixPath, String name) {}

    /** A worker's {@code -g} channel. */
    public record Channel(int pid, int fd) {}

    /** A worker's notify socket. */
    public record Notify(int pid, int fd, String address) {}

    /** A control client kept across the exec, and its requests still owed replies ({@code ref} → request id). */
    public record Client(int fd, List<Owed> owed) {}

    public record Owed(String ref, Object requestId) {}

    private static ObjectMapper json() {
        return new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
    }

    /** Writes and reads back an empty hand-over: everything it needs is on this class path. */
    public static void selfTest() {
        try {
            ObjectMapper json = json();
            Handover empty = new Handover(Snapshot.FORMAT, "check", null, List.of(), -1, false, List.of(), List.of(),
                    List.of(), null, null, 0, 0);
            json.readValue(json.writeValueAsBytes(empty), Handover.class);
        } catch (IOException | LinkageError e) {
            throw new StartupException("cannot read a hand-over: " + e);
        }
    }

    /** Writes it to a fresh memfd (close-on-exec cleared: it must reach the next process); returns the fd. */
    int write() {
        int fd = Fds.memfd("einhyrningsins-handover");
        try {
            Files.write(Path.of("/proc/self/fd/" + fd), json().writeValueAsBytes(this));
            Fds.setCloexec(fd, false);
            return fd;
        } catch (IOException | RuntimeException e) {
            Fds.closeQuietly(fd);
            throw new StartupException("cannot write the hand-over: " + e.getMessage());
        }
    }

    /** Reads the hand-over whose fd is in {@code value} (the {@link #ENV} variable) and closes that fd. */
    public static Handover read(String value) {
        int fd;
        try {
            fd = Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new StartupException(ENV + "=" + value + " is not an fd number");
        }
        try {
            return json().readValue(Files.readAllBytes(Path.of("/proc/self/fd/" + fd)), Handover.class);
        } catch (IOException e) {
            throw new StartupException("cannot read the hand-over in fd " + fd + ": " + e.getMessage());
        } finally {
            Fds.closeQuietly(fd);
        }
    }
}
