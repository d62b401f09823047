package dev.einhyrningsins.shell;

import dev.einhyrningsins.posix.Errors;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** The -e pidfile: refused if it names another live process, written atomically, removed only if still ours. */
public final class Pidfile {
    private final Path path;
    private final long pid;
    private boolean written;

    private Pidfile(Path path, long pid) {
        this.path = path.toAbsolutePath();
        this.pid = pid;
    }

    /** Checks that the path is free (absent, stale, or ours) before anything starts. */
    public static Pidfile claim(Path path, long pid) {
        Pidfile p = new Pidfile(path, pid);
        long other = p.read();
        if (other > 0 && other != pid && ProcessHandle.of(other).map(ProcessHandle::isAlive).orElse(false)) {
            throw new StartupException("pidfile " + p.path + " belongs to running process " + other
                    + "; stop it or pass another -e PATH");
        }
        if (Files.isDirectory(p.path)) throw new StartupException("pidfile " + p.path + " is a directory");
        return p;
    }

    public void write() {
        Path tmp = path.resolveSibling("." + path.getFileName() + "." + pid + ".tmp");
        try {
            Files.writeString(tmp, pid + "\n", StandardCharsets.US_ASCII);
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            written = true;
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // best effort
            }
            throw new StartupException("cannot write pidfile " + path + ": " + Errors.describe(e));
        }
    }

    /** Removes the pidfile if it still holds our pid: never another instance's. */
    public void remove() {
        if (written && read() == pid) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException ignored) {
                // nothing more to do on the way out
            }
        }
    }

    private long read() {
        try {
            return Long.parseLong(Files.readString(path, StandardCharsets.US_ASCII).trim());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    public Path path() {
        return path;
    }

    /** Whether this process (or the one it took over from) wrote it. */
    public boolean written() {
        return written;
    }

    /** A pidfile the previous process of this supervisor wrote (same pid): ours to remove at the end. */
    public static Pidfile taken(Path path, long pid, boolean written) {
        Pidfile p = new Pidfile(path, pid);
        p.written = written;
        return p;
    }
}
