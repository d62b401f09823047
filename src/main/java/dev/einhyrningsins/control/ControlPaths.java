package dev.einhyrningsins.control;

import java.nio.file.Path;
import java.util.Optional;

/** einhorn's default file locations: $TMPDIR (else /tmp) / einhorn[-NAME].sock. */
public final class ControlPaths {
    private ControlPaths() {}

    public static Path tmpdir() {
        String t = System.getenv("TMPDIR");
        return Path.of(t == null || t.isEmpty() ? "/tmp" : t);
    }

    public static Path defaultSocketPath(Optional<String> commandName) {
        return tmpdir().resolve(commandName.map(n -> "einhorn-" + n + ".sock").orElse("einhorn.sock"));
    }

    /** The lock file beside {@code socket}: einhorn[-NAME].lock. */
    public static Path defaultLockfile(Path socket, Optional<String> commandName) {
        return socket.toAbsolutePath().resolveSibling(commandName.map(n -> "einhorn-" + n + ".lock").orElse("einhorn.lock"));
    }
}
