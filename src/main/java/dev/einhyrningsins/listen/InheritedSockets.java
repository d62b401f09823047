package dev.einhyrningsins.listen;

import dev.einhyrningsins.supervisor.Os.Holding;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Set;

/**
 * Does a worker hold any of the sockets it inherited? Read from {@code /proc/PID/fd}, whose
 * links name a socket by its inode ({@code socket:[12345]}) — the same for every descriptor
 * of the one socket, in the supervisor and in every worker. The descriptors a worker was
 * given (3, 4, …, and 0 with {@code -b …,stdin}) are looked at first: one {@code readlink}
 * each, which answers for a worker that kept them (nearly all, nearly always). Only when
 * none is there is its whole table read, then its descendants' (a worker may hand its
 * sockets to children and close its own; at most {@link #MAX_DESCENDANTS} processes).
 * A process with no descriptors at all is exiting (a zombie has none): that tells nothing.
 */
public final class InheritedSockets {
    static final int MAX_DESCENDANTS = 64;
    private static final Path PROC = Path.of("/proc");

    private final Set<String> sockets;
    private final int[] given;

    private InheritedSockets(Set<String> sockets, int[] given) {
        this.sockets = sockets;
        this.given = given;
    }

    /** Of these listeners (their identities read from our own descriptors once, here). */
    public static InheritedSockets of(Listeners listeners) {
        Set<String> sockets = new HashSet<>();
        for (int fd : listeners.fds()) {
            String link = link(PROC.resolve("self/fd/" + fd));
            if (link != null) sockets.add(link);
        }
        int n = listeners.fds().length;
        boolean stdin = listeners.stdinFd() >= 0;
        int[] given = new int[n + (stdin ? 1 : 0)];
        for (int i = 0; i < n; i++) given[i] = 3 + i;
        if (stdin) given[n] = 0;
        return new InheritedSockets(sockets, given);
    }

    /** Whether there is anything to hold. */
    public boolean any() {
        return !sockets.isEmpty();
    }

    /** Whether {@code pid}, or a process below it, holds one of the sockets now. */
    public Holding look(int pid) {
        if (sockets.isEmpty()) return Holding.UNKNOWN;
        Path fds = PROC.resolve(pid + "/fd");
        for (int fd : given) {
            if (sockets.contains(link(fds.resolve(Integer.toString(fd))))) return Holding.HELD;
        }
        Holding own = table(pid);
        if (own != Holding.NONE) return own;
        return descendants(pid) ? Holding.HELD : Holding.NONE;
    }

    /** The whole descriptor table of {@code pid}: HELD, NONE, or UNKNOWN (gone, exiting, not ours to read). */
    private Holding table(int pid) {
        boolean any = false;
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(PROC.resolve(pid + "/fd"))) {
            for (Path fd : fds) {
                any = true;
                if (sockets.contains(link(fd))) return Holding.HELD;
            }
        } catch (IOException | SecurityException e) {
            return Holding.UNKNOWN;
        }
        return any ? Holding.NONE : Holding.UNKNOWN;
    }

    /** Whether a process below {@code pid} holds one (breadth first, at most {@link #MAX_DESCENDANTS}). */
    private boolean descendants(int pid) {
        ArrayDeque<Integer> todo = new ArrayDeque<>(children(pid));
        Set<Integer> seen = new HashSet<>();
        while (!todo.isEmpty() && seen.size() < MAX_DESCENDANTS) {
            int child = todo.pop();
            if (!seen.add(child)) continue;
            if (table(child) == Holding.HELD) return true;
            todo.addAll(children(child));
        }
        return false;
    }

    /** The children of every thread of {@code pid} ({@code /proc/PID/task/TID/children}). */
    private static Set<Integer> children(int pid) {
        Set<Integer> out = new HashSet<>();
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(PROC.resolve(pid + "/task"))) {
            for (Path task : tasks) {
                String text;
                try {
                    text = Files.readString(task.resolve("children"));
                } catch (IOException gone) {
                    continue;
                }
                for (String p : text.trim().split("\\s+")) if (!p.isEmpty()) out.add(Integer.parseInt(p));
            }
        } catch (IOException | SecurityException | NumberFormatException e) {
            // gone: no children to look at
        }
        return out;
    }

    /** A /proc fd link's target, or null if there is none (closed, gone). */
    private static String link(Path p) {
        try {
            return Files.readSymbolicLink(p).toString();
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException | SecurityException e) {
            return null;
        }
    }
}
