package dev.einhyrningsins.checks;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The resident memory of a worker and every process below it, from /proc: the kernel's
 * in-memory counters, so reading never waits for a disk. Who is below whom comes from one
 * scan of every {@code /proc/PID/stat}'s parent pid, reused for {@link #SCAN_REUSE_NANOS}
 * so that one scan serves every worker sampled meanwhile (a process started since is found
 * by the next scan). That is cheaper than {@code /proc/PID/task/TID/children}, which takes a
 * read per thread of every process in the tree, and than
 * {@code ProcessHandle.descendants()}, which scans on every call. RSS is added up per
 * process ({@code VmRSS}), as {@code ps} would: pages shared between them (a pre-forking
 * server's copy-on-write memory) count once per process. Processes that left the tree
 * (daemonized, reparented) are not counted. Loop thread only.
 */
public final class ProcessTree {
    private static final Path PROC = Path.of("/proc");
    static final long SCAN_REUSE_NANOS = TimeUnit.SECONDS.toNanos(1);

    private Map<Integer, List<Integer>> childrenByParent;
    private long scannedAt;

    /** The RSS of {@code pid} and its descendants in bytes; -1 if {@code pid} is gone. */
    public long rssBytes(int pid) {
        long total = rss(pid);
        if (total < 0) return -1;
        long now = System.nanoTime();
        if (childrenByParent == null || now - scannedAt > SCAN_REUSE_NANOS) {
            childrenByParent = scan();
            scannedAt = now;
        }
        Set<Integer> seen = new HashSet<>();
        seen.add(pid);
        ArrayDeque<Integer> todo = new ArrayDeque<>(childrenByParent.getOrDefault(pid, List.of()));
        while (!todo.isEmpty()) {
            int p = todo.pop();
            if (!seen.add(p)) continue;
            total += Math.max(0, rss(p));
            todo.addAll(childrenByParent.getOrDefault(p, List.of()));
        }
        return total;
    }

    /** The pids whose parent is {@code pid}, from /proc (empty if /proc cannot tell). */
    public static List<Integer> childrenOf(int pid) {
        return scan().getOrDefault(pid, List.of());
    }

    /** {@code VmRSS} of one process in bytes; 0 for a zombie, -1 if it is gone. */
    static long rss(int pid) {
        String status = read(PROC.resolve(pid + "/status"));
        if (status == null) return -1;
        int at = status.indexOf("\nVmRSS:");
        if (at < 0) return 0;
        int end = status.indexOf('\n', at + 1);
        String[] words = status.substring(at + 7, end < 0 ? status.length() : end).trim().split("\\s+");
        return Long.parseLong(words[0]) * 1024; // always in kB
    }

    /** Every process's children, from the parent pid in each {@code /proc/PID/stat}. */
    private static Map<Integer, List<Integer>> scan() {
        Map<Integer, List<Integer>> byParent = new HashMap<>();
        try (DirectoryStream<Path> all = Files.newDirectoryStream(PROC)) {
            for (Path p : all) {
                String name = p.getFileName().toString();
                if (name.isEmpty() || !Character.isDigit(name.charAt(0))) continue;
                String stat = read(p.resolve("stat"));
                if (stat == null) continue;
                // pid (comm) state ppid ...: comm may hold spaces and parentheses, so start after the last ')'
                String[] rest = stat.substring(stat.lastIndexOf(')') + 2).split(" ", 3);
                byParent.computeIfAbsent(Integer.parseInt(rest[1]), k -> new ArrayList<>()).add(Integer.parseInt(name));
            }
        } catch (IOException e) {
            // /proc unreadable: no children known
        }
        return byParent;
    }

    /** A /proc file as Latin-1 text (names may hold any bytes); null if it cannot be read (the process is gone). */
    private static String read(Path p) {
        try {
            return new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            return null;
        }
    }
}
