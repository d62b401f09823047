package dev.einhyrningsins.listen;

import dev.einhyrningsins.cli.BindSpec;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.PosixException;
import dev.einhyrningsins.posix.Sockets;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.shell.StartupException;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.EnumSet;
import java.util.Set;

/**
 * The files of {@code unix:} and {@code unixgram:} sockets: a stale one (left by a process
 * that did not exit cleanly) is replaced, a live one or a file that is not a socket refused;
 * {@code mode=}/{@code group=}/{@code owner=} are set before anyone can reach the socket.
 */
final class SocketFiles {
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private SocketFiles() {}

    /** Binds {@code spec}'s UNIX socket (stream: listening; datagram: bound), its file put in place; returns its fd. */
    static int bind(BindSpec spec, int backlog, Log log) {
        Path path = spec.unixPath();
        clearStale(spec, log);
        try {
            return spec.access() == null ? socket(spec, path, backlog) : bindPrivately(spec, backlog);
        } catch (PosixException e) {
            throw new StartupException("cannot bind -b " + spec.text() + ": " + e.getMessage());
        }
    }

    private static int socket(BindSpec spec, Path at, int backlog) {
        return spec.datagram() ? Sockets.bindUnixDatagram(at, spec.nonBlocking())
                : Sockets.listenUnix(at, spec.nonBlocking(), backlog);
    }

    /**
     * A socket file at the path is replaced when nothing is bound to it any more (connecting
     * is refused); one that is live, of either kind, or a file that is not a socket, is an error.
     */
    private static void clearStale(BindSpec spec, Log log) {
        Path path = spec.unixPath();
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) return;
        int mode;
        try {
            mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        } catch (IOException e) {
            throw new StartupException("cannot bind -b " + spec.text() + ": " + e.getMessage());
        }
        if ((mode & S_IFMT) != S_IFSOCK) {
            throw new StartupException("cannot bind -b " + spec.text() + ": " + path
                    + " exists and is not a socket; remove it or choose another path");
        }
        boolean live;
        try {
            Fds.close(Sockets.connectUnix(path, spec.datagram()));
            live = true;
        } catch (PosixException e) {
            // EPROTOTYPE: a socket of the other kind (stream, datagram) is bound there; anything else
            // (ECONNREFUSED above all) says nobody is
            live = e.errnoName().equals("EPROTOTYPE");
        }
        if (live) {
            throw new StartupException("cannot bind -b " + spec.text() + ": another process is "
                    + (spec.datagram() ? "bound to " : "listening on ") + path);
        }
        log.info("Replacing stale socket file " + path);
        try {
            Files.delete(path);
        } catch (IOException e) {
            throw new StartupException("cannot bind -b " + spec.text() + ": cannot remove stale " + path + ": " + e.getMessage());
        }
    }

    /**
     * A UNIX socket with {@code mode=}/{@code group=}/{@code owner=}: bound in a fresh 0700
     * directory beside its path, given its owner, group and mode there, then renamed into
     * place, so nobody can connect before the file says who may.
     */
    private static int bindPrivately(BindSpec spec, int backlog) {
        Path path = spec.unixPath();
        String what = "cannot bind -b " + spec.text() + ": ";
        Path dir;
        try {
            dir = Files.createTempDirectory(path.getParent(), ".einhyrningsins-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            throw new StartupException(what + describe(e));
        }
        Path tmp = dir.resolve("s");
        int fd = -1;
        try {
            fd = socket(spec, tmp, backlog);
            access(tmp, spec.access(), what);
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE);
            return fd;
        } catch (IOException | RuntimeException e) {
            if (fd >= 0) Fds.closeQuietly(fd);
            if (e instanceof StartupException s) throw s;
            throw new StartupException(what + (e instanceof IOException io ? describe(io) : e.getMessage()));
        } finally {
            try {
                Files.deleteIfExists(tmp);
                Files.deleteIfExists(dir);
            } catch (IOException ignored) {
                // a leftover private directory is harmless
            }
        }
    }

    /** chown, chgrp, chmod as {@code access} says; users and groups by name or number. */
    private static void access(Path socket, BindSpec.Access access, String what) throws IOException {
        UserPrincipalLookupService users = socket.getFileSystem().getUserPrincipalLookupService();
        PosixFileAttributeView view = Files.getFileAttributeView(socket, PosixFileAttributeView.class);
        if (access.owner() != null) {
            try {
                view.setOwner(users.lookupPrincipalByName(access.owner()));
            } catch (UserPrincipalNotFoundException e) {
                throw new StartupException(what + "no user '" + access.owner() + "' (owner= takes a user name or uid)");
            } catch (FileSystemException e) {
                throw new StartupException(what + "cannot give the socket to owner " + access.owner() + ": " + describe(e)
                        + " (owner= needs root)");
            }
        }
        if (access.group() != null) {
            try {
                view.setGroup(users.lookupPrincipalByGroupName(access.group()));
            } catch (UserPrincipalNotFoundException e) {
                throw new StartupException(what + "no group '" + access.group() + "' (group= takes a group name or gid)");
            } catch (FileSystemException e) {
                throw new StartupException(what + "cannot give the socket to group " + access.group() + ": " + describe(e)
                        + " (only root, or a member of the group, can)");
            }
        }
        if (access.mode() >= 0) {
            Set<PosixFilePermission> perms = EnumSet.noneOf(PosixFilePermission.class);
            PosixFilePermission[] order = PosixFilePermission.values(); // OWNER_READ (0400) ... OTHERS_EXECUTE (0001)
            for (int i = 0; i < order.length; i++) {
                if ((access.mode() & (0400 >> i)) != 0) perms.add(order[i]);
            }
            view.setPermissions(perms);
        }
    }

    private static String describe(IOException e) {
        if (e instanceof NoSuchFileException n) return n.getFile() + ": No such file or directory";
        if (e instanceof FileSystemException f && f.getReason() != null) return f.getFile() + ": " + f.getReason();
        return e.getMessage();
    }

    /** The file's identity (device and inode), to remove only the file we created; null if it is gone. */
    static Object fileKey(Path p) {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (IOException e) {
            return null;
        }
    }
}
