package dev.einhyrningsins.systemd;

import dev.einhyrningsins.posix.Sockets;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.shell.StartupException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * systemd's socket activation, both ways (sd_listen_fds(3)). In: the listening sockets a
 * service manager passed us as fds 3, 4, … with {@code LISTEN_FDS}, {@code LISTEN_PID} (our
 * pid) and {@code LISTEN_FDNAMES}. Out ({@code --listen-fds}): the same variables for each
 * worker, with {@code LISTEN_PID} the worker's own pid.
 */
public final class SocketActivation {
    /** The variables of the protocol, systemd's watchdog and fd store ones: the service manager's to us, never a worker's. */
    public static final Set<String> OURS = Set.of("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "LISTEN_FDS_FIRST_FD",
            "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "FDSTORE");
    /** systemd's name for a socket that has none. */
    public static final String UNNAMED = "unknown";
    private static final int FIRST_FD = 3;

    /** A socket passed to us: fd {@code fd}, named {@code name}. */
    public record Passed(int fd, String name) {}

    private SocketActivation() {}

    /**
     * The sockets passed to this process, checked: each must be a listening stream socket
     * (TCP or UNIX) or a datagram socket (UDP or UNIX). Nothing is passed unless LISTEN_PID
     * names us (as sd_listen_fds checks).
     *
     * @throws StartupException with one line saying what is wrong
     */
    public static List<Passed> passed(Map<String, String> env, long pid, Log log) {
        String count = env.get("LISTEN_FDS");
        String forPid = env.get("LISTEN_PID");
        if (count == null) return List.of();
        if (forPid == null || !forPid.trim().equals(Long.toString(pid))) {
            log.debug("Ignoring LISTEN_FDS: LISTEN_PID=" + forPid + " is not us (" + pid + ")");
            return List.of();
        }
        int n;
        try {
            n = Integer.parseInt(count.trim());
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (n < 0 || n > 1024) throw new StartupException("LISTEN_FDS=" + count + " is not a number of sockets (0..1024)");
        String[] names = env.getOrDefault("LISTEN_FDNAMES", "").split(":", -1);
        boolean named = env.containsKey("LISTEN_FDNAMES") && names.length == n;
        List<Passed> passed = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int fd = FIRST_FD + i;
            String name = named && !names[i].isEmpty() ? names[i] : UNNAMED;
            Sockets.Kind kind = Sockets.kind(fd);
            if (!kind.socket() || !(kind.listeningStream() || kind.datagram()) || !(kind.inet() || kind.unix())) {
                throw new StartupException("systemd passed fd " + fd + " (" + name + "), which is neither a listening TCP "
                        + "or UNIX stream socket nor a UDP or UNIX datagram socket; einhyrningsins hands sockets to its "
                        + "workers (use ListenStream= or ListenDatagram= in the .socket unit)");
            }
            passed.add(new Passed(fd, name));
        }
        return passed;
    }

    /** A worker's environment the systemd way: LISTEN_FDS and LISTEN_FDNAMES (LISTEN_PID is set by {@link #execChain}). */
    public static void exportTo(Map<String, String> env, List<String> names) {
        env.put("LISTEN_FDS", Integer.toString(names.size()));
        env.put("LISTEN_FDNAMES", String.join(":", names));
    }

    /**
     * The argv that gives the worker {@code LISTEN_PID} = its own pid: posix_spawn fixes the
     * environment before the pid exists, so a shell sets it and execs the program (same pid,
     * no Java between fork and exec).
     */
    public static List<String> execChain(String program, List<String> argv) {
        List<String> chain = new ArrayList<>(List.of("/bin/sh", "-c", "LISTEN_PID=$$; export LISTEN_PID; exec \"$0\" \"$@\"",
                program));
        chain.addAll(argv.subList(1, argv.size()));
        return chain;
    }
}
