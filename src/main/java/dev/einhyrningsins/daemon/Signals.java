package dev.einhyrningsins.daemon;

import java.util.List;
import java.util.function.Consumer;
import sun.misc.Signal;

/**
 * The supervisor's own signals through sun.misc.Signal (jdk.unsupported). Handlers only
 * hand the name to the loop. QUIT stays the JVM's thread dump; USR2 is available only when
 * the JVM was started with _JAVA_SR_SIGNUM moved off it (the launchers do that).
 */
final class Signals {
    private Signals() {}

    static void install(List<String> names, Consumer<String> sink, Log log) {
        for (String name : names) {
            try {
                Signal.handle(new Signal(name), sig -> sink.accept(name));
            } catch (IllegalArgumentException e) {
                log.debug("SIG" + name + " is not available to the supervisor (" + e.getMessage() + ")");
            }
        }
    }
}
