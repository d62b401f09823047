package dev.einhyrningsins.control;

import dev.einhyrningsins.posix.Errors;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Puts the control socket's file in place, under a lock file held meanwhile: a path where
 * another process listens, or that is not a socket, is refused; a dead socket (left by a
 * supervisor that did not exit cleanly) is replaced. The socket is bound inside a fresh 0700
 * directory, made 0600 and only then renamed into place, so it is never reachable by others.
 */
final class ControlSocketFile {
    /** Listen backlog: the kernel caps it at net.core.somaxconn, so bursts of clients queue instead of failing. */
    private static final int BACKLOG = Integer.MAX_VALUE;
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private ControlSocketFile() {}

    /**
     * A listening socket bound at {@code path} (absolute), mode 0600 from its first moment —
     * or, with {@code gid} 0 or more (the workers' group, {@code --user}), that group's and 0660.
     */
    static ServerSocketChannel bind(Path path, Path lockfile, ControlServer.Log log, int gid) throws ControlException {
        try (FileChannel lock = FileChannel.open(lockfile, Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
            FileLock held = lock.tryLock();
            if (held == null) {
                throw new ControlException("lock file " + lockfile + " is held by another process (another einhyrningsins"
                        + " starting with the same -c NAME or -d PATH?); pass -d PATH or -f LOCKFILE to run another instance");
            }
            clearStale(path, log);
            return bindPrivately(path, gid);
        } catch (IOException e) {
            throw new ControlException("cannot set up the control socket " + path + ": " + Errors.describe(e));
        }
    }

    private static void clearStale(Path path, ControlServer.Log log) throws ControlException, IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) return;
        int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        if ((mode & S_IFMT) != S_IFSOCK) {
            throw new ControlException(path + " exists and is not a socket; remove it or pass -d PATH to use another control socket");
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(path));
            throw new ControlException("another process is listening on the control socket " + path
                    + "; pass -d PATH (or -c NAME) to run another instance");
        } catch (IOException refused) {
            log.info("Replacing stale control socket " + path + " (left by a supervisor that did not exit cleanly)");
            Files.delete(path);
        }
    }

    /** Binds in a fresh 0700 directory beside the target, chmods 0600 (or chgrps and chmods 0660), then renames into place. */
    private static ServerSocketChannel bindPrivately(Path path, int gid) throws IOException {
        Path dir = Files.createTempDirectory(path.getParent(), ".einhyrningsins-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path tmp = dir.resolve("s");
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(tmp), BACKLOG);
            if (gid >= 0) Files.setAttribute(tmp, "unix:gid", gid, LinkOption.NOFOLLOW_LINKS);
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString(gid >= 0 ? "rw-rw----" : "rw-------"));
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE);
            return ch;
        } catch (IOException e) {
            ch.close();
            Files.deleteIfExists(tmp);
            throw e;
        } finally {
            Files.deleteIfExists(dir);
        }
    }
}
