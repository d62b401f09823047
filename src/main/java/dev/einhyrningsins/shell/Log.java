package dev.einhyrningsins.shell;

import dev.einhyrningsins.supervisor.Os.Level;
import java.io.PrintStream;

/** One line per event on stderr: {@code einhyrningsins[PID]: LEVEL message}. */
public final class Log {
    private final PrintStream out;
    private final long pid;
    private volatile int verbosity;

    public Log(PrintStream out, long pid, int verbosity) {
        this.out = out;
        this.pid = pid;
        this.verbosity = verbosity;
    }

    public void verbosity(int v) {
        verbosity = v;
    }

    /** Writes a line the core already filtered. */
    public void emit(Level level, String message) {
        String text = message.replace("\n", " | ");
        synchronized (out) {
            out.println("einhyrningsins[" + pid + "]: " + level + " " + text);
            out.flush();
        }
    }

    public void debug(String m) {
        if (verbosity <= 0) emit(Level.DEBUG, m);
    }

    public void info(String m) {
        if (verbosity <= 1) emit(Level.INFO, m);
    }

    public void warn(String m) {
        emit(Level.WARN, m);
    }

    public void error(String m) {
        emit(Level.ERROR, m);
    }
}
