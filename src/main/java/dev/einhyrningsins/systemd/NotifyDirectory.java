package dev.einhyrningsins.systemd;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Where the workers' notify sockets live: a directory of the supervisor's own, mode 0700,
 * made beside the control socket at the first worker that needs one. Nobody but its owner
 * (and root) can reach a socket in it. It goes when the supervisor exits, with whatever is in
 * it; a reload hands it on (its sockets' paths say where it is).
 */
public final class NotifyDirectory implements AutoCloseable {
    private final Path base;
    private Path path;

    /** A directory to be made in {@code base} when first needed. */
    public NotifyDirectory(Path base) {
        this.base = base;
    }

    /** The directory a previous process of this supervisor made (from one of its sockets' paths). */
    public static NotifyDirectory adopt(Path socket) {
        NotifyDirectory d = new NotifyDirectory(socket.getParent().getParent());
        d.path = socket.getParent();
        return d;
    }

    /** The directory, made now if it was not yet (0700 from its first moment). */
    public Path path() {
        if (path == null) {
            try {
                path = Files.createTempDirectory(base, ".einhyrningsins-notify-",
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            } catch (IOException e) {
                throw new IllegalStateException("cannot make the notify sockets' directory in " + base + ": "
                        + dev.einhyrningsins.posix.Errors.describe(e), e);
            }
        }
        return path;
    }

    /** Removes the directory and whatever is left in it. */
    @Override
    public void close() {
        if (path == null) return;
        try (DirectoryStream<Path> left = Files.newDirectoryStream(path)) {
            for (Path p : left) Files.deleteIfExists(p);
            Files.deleteIfExists(path);
        } catch (IOException e) {
            // gone already, or not ours to remove
        }
        path = null;
    }
}
