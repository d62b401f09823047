package dev.einhyrningsins.systemd;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Where the workers' notify sockets live: a directory of mode 0700, made beside the control
 * socket at the first worker that needs one, owned by the workers' user (the supervisor's, or
 * {@code --user}'s: a worker must reach its socket). Nobody else but root can reach a socket in
 * it. It goes when the supervisor exits, with whatever is in it; a reload hands it on (its
 * sockets' paths say where it is).
 */
public final class NotifyDirectory implements AutoCloseable {
    private final Path base;
    private final int workerUid;
    private Path path;

    /** A directory to be made in {@code base} when first needed, for workers running as {@code workerUid}. */
    public NotifyDirectory(Path base, int workerUid) {
        this.base = base;
        this.workerUid = workerUid;
    }

    /** The directory a previous process of this supervisor made (from one of its sockets' paths). */
    public static NotifyDirectory adopt(Path socket, int workerUid) {
        NotifyDirectory d = new NotifyDirectory(socket.getParent().getParent(), workerUid);
        d.path = socket.getParent();
        return d;
    }

    /** The uid of the workers whose sockets are in it. */
    public int workerUid() {
        return workerUid;
    }

    /** The directory, made now if it was not yet (0700 from its first moment). */
    public Path path() {
        if (path == null) {
            try {
                path = Files.createTempDirectory(base, ".einhyrningsins-notify-",
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
                if (workerUid != (int) Files.getAttribute(path, "unix:uid")) Files.setAttribute(path, "unix:uid", workerUid);
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
