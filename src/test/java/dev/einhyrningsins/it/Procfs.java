package dev.einhyrningsins.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

/** Processes as /proc shows them, including ones in other pid namespaces and zombies. */
final class Procfs {
    private Procfs() {}

    /** The state letter of /proc/PID/stat (R, S, Z…), or null if there is no such process. */
    static String state(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.substring(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        } catch (IOException e) {
            return null;
        }
    }

    /** Gone, or a zombie (exited; its parent has not reaped it). */
    static boolean dead(long pid) {
        String s = state(pid);
        return s == null || s.equals("Z") || s.equals("X");
    }

    /** The pid in the process's own (innermost) pid namespace: the last NSpid field. */
    static long nsPid(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("NSpid:")) {
                    String[] f = line.substring(6).trim().split("\\s+");
                    return Long.parseLong(f[f.length - 1]);
                }
            }
        } catch (IOException e) {
            // gone
        }
        return -1;
    }

    /**
     * The children of {@code pid} (of all its threads), zombies included: their pid in
     * their own namespace → their pid here.
     */
    static Map<Long, Long> children(long pid) {
        Map<Long, Long> out = new LinkedHashMap<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path task : tasks.toList()) {
                String list;
                try {
                    list = Files.readString(task.resolve("children")).trim();
                } catch (IOException e) {
                    continue; // the thread ended
                }
                if (list.isEmpty()) continue;
                for (String child : list.split("\\s+")) {
                    long host = Long.parseLong(child);
                    long ns = nsPid(host);
                    if (ns > 0) {
                        out.put(ns, host);
                    } else if (state(host) != null) {
                        out.put(-host, host); // no NSpid to read: still a child, under a key no pid matches
                    }
                }
            }
        } catch (IOException e) {
            // gone
        }
        return out;
    }
}
