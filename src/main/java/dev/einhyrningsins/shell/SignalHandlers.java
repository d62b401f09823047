package dev.einhyrningsins.shell;

import dev.einhyrningsins.posix.Processes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import sun.misc.Signal;

/**
 * The supervisor's own signals through sun.misc.Signal (jdk.unsupported). Handlers only
 * hand the name to the loop. QUIT stays the JVM's thread dump; USR2 is available only when
 * the JVM was started with _JAVA_SR_SIGNUM moved off it (the launchers do that).
 */
public final class SignalHandlers {
    /** Signals the supervisor takes; USR2 only when the JVM leaves it free (_JAVA_SR_SIGNUM). */
    public static final List<String> SIGNALS = List.of("TERM", "INT", "HUP", "USR2", "TTIN", "TTOU");

    private SignalHandlers() {}

    /** SigIgn of /proc/self/status: the signals this process inherited as ignored. */
    static long ignoredAtStart() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("SigIgn:")) return Long.parseUnsignedLong(line.substring(7).trim(), 16);
            }
        } catch (IOException | NumberFormatException e) {
            // not Linux-like: nothing known to be ignored
        }
        return 0;
    }

    /**
     * @param quiet do not log signals found ignored (a reload ignores them on purpose during its exec)
     */
    public static void install(List<String> names, Consumer<String> sink, Log log, boolean quiet) {
        long ignored = ignoredAtStart();
        for (String name : names) {
            try {
                Signal signal = new Signal(name); // the number from the JVM: no C library name table on the start path
                int number = signal.getNumber();
                if ((ignored & (1L << (number - 1))) != 0) {
                    // a background job of a non-interactive shell ignores INT, nohup ignores HUP:
                    // the JVM would leave them ignored, so the operator's kill -INT would do nothing
                    if (!quiet) log.info("SIG" + name + " was ignored when einhyrningsins started; handling it anyway");
                    Processes.resetToDefault(number);
                }
                Signal.handle(signal, sig -> sink.accept(name));
            } catch (IllegalArgumentException e) {
                log.debug("SIG" + name + " is not available to the supervisor (" + e.getMessage() + ")");
            }
        }
    }
}
