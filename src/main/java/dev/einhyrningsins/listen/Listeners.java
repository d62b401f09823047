package dev.einhyrningsins.listen;

import dev.einhyrningsins.posix.Errors;
import dev.einhyrningsins.cli.BindSpec;
import dev.einhyrningsins.cli.Options.Family;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.PosixException;
import dev.einhyrningsins.posix.Sockets;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.shell.StartupException;
import dev.einhyrningsins.systemd.SocketActivation;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The listening sockets, bound once before any worker starts and inherited by every worker. */
public final class Listeners implements AutoCloseable {

    /**
     * One listening socket; {@code address} is what we log and show in state, with the real
     * port. {@code spec} is null for a socket systemd passed us; {@code unixPath} is set only
     * for a UNIX socket file we created (and so remove on exit).
     */
    public record Bound(BindSpec spec, int fd, String address, int port, Path unixPath, Object fileKey, String name) {
        /** Where a local client connects to it: its address, a wildcard one as loopback (0.0.0.0 as 127.0.0.1, [::] as [::1]). */
        public String connectAddress() {
            if (address.startsWith("0.0.0.0:")) return "127.0.0.1:" + address.substring(8);
            if (address.startsWith("[::]:")) return "[::1]:" + address.substring(5);
            return address;
        }

        /** -b ...,stdin: workers get it as their fd 0 too. */
        boolean stdin() {
            return spec != null && spec.stdin();
        }

        public Map<String, Object> describe(int index) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("bind", spec == null ? null : spec.text());
            m.put("from", spec == null ? "systemd" : "-b");
            m.put("name", name);
            m.put("address", address);
            m.put("port", port > 0 ? port : null);
            m.put("fd", 3 + index);
            m.put("env", "EINHORN_FD_" + index);
            m.put("stdin", stdin());
            return m;
        }
    }

    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private final List<Bound> bound = new ArrayList<>();
    private final Log log;

    private Listeners(Log log) {
        this.log = log;
    }

    /**
     * The sockets systemd passed ({@code passed}, in order) followed by every {@code -b} spec,
     * bound in order; on any failure closes what was bound and throws StartupException.
     */
    public static Listeners bind(List<SocketActivation.Passed> passed, List<BindSpec> specs, Family family, int backlog, Log log) {
        Listeners l = new Listeners(log);
        try {
            for (SocketActivation.Passed p : passed) l.bound.add(adopt(p));
            for (BindSpec spec : specs) l.bound.add(spec.isUnix() ? l.bindUnix(spec, backlog) : bindTcp(spec, family, backlog));
        } catch (RuntimeException e) {
            l.close();
            throw e;
        }
        for (Bound b : l.bound) {
            log.info((b.spec() == null ? "Using " + b.address() + " from systemd (" + b.name() + ")"
                    : "Bound " + b.address() + " (-b " + b.spec().text() + ")"));
        }
        return l;
    }

    /**
     * A listening socket as a reload hands it to the next process of this supervisor: its fd
     * (kept open across the exec) and what it is. {@code unixPath} only for a UNIX socket file
     * of ours, to remove on exit.
     */
    public record Handed(int fd, String bind, String address, int port, String unixPath, String name) {}

    /** The sockets' state for a reload's hand-over. */
    public List<Handed> handOver() {
        List<Handed> out = new ArrayList<>();
        for (Bound b : bound) {
            out.add(new Handed(b.fd(), b.spec() == null ? null : b.spec().text(), b.address(), b.port(),
                    b.unixPath() == null ? null : b.unixPath().toString(), b.name()));
        }
        return out;
    }

    /** Takes over the listening sockets the previous process of this supervisor handed over (same fds). */
    public static Listeners adopt(List<Handed> handed, Log log) {
        Listeners l = new Listeners(log);
        for (Handed h : handed) {
            Path unix = h.unixPath() == null ? null : Path.of(h.unixPath());
            l.bound.add(new Bound(h.bind() == null ? null : BindSpec.parse(h.bind()), h.fd(), h.address(), h.port(), unix,
                    unix == null ? null : fileKey(unix), h.name()));
        }
        return l;
    }

    /** Takes over a socket systemd passed: it stays as it is (and its file, if any, stays too). */
    private static Bound adopt(SocketActivation.Passed p) {
        Sockets.Kind kind = Sockets.kind(p.fd());
        Fds.setCloexec(p.fd(), true);
        if (kind.inet()) {
            InetSocketAddress local = Sockets.localInetAddress(p.fd());
            return new Bound(null, p.fd(), Addresses.format(local), local.getPort(), null, null, p.name());
        }
        String path = Sockets.localUnixAddress(p.fd());
        return new Bound(null, p.fd(), "unix:" + path, 0, null, null, p.name());
    }

    public List<Bound> bound() {
        return List.copyOf(bound);
    }

    public int[] fds() {
        return bound.stream().mapToInt(Bound::fd).toArray();
    }

    /** The socket workers get as their standard input (-b ...,stdin), or -1 for none. */
    public int stdinFd() {
        return bound.stream().filter(Bound::stdin).mapToInt(Bound::fd).findFirst().orElse(-1);
    }

    private static Bound bindTcp(BindSpec spec, Family family, int backlog) {
        InetAddress address = resolve(spec, family);
        InetSocketAddress where = new InetSocketAddress(address, spec.port());
        int fd;
        try {
            fd = Sockets.listenTcp(where, Addresses.format(where), spec.reuseAddr(), spec.reusePort(), spec.nonBlocking(), backlog);
        } catch (PosixException e) {
            throw new StartupException("cannot bind -b " + spec.text() + ": " + e.getMessage());
        }
        // only an ephemeral port (-b ADDR:0) needs asking; getsockname would be one more downcall to link at start
        InetSocketAddress actual = spec.port() == 0 ? Sockets.localInetAddress(fd) : where;
        return new Bound(spec, fd, Addresses.format(actual), actual.getPort(), null, null, spec.name());
    }

    private static InetAddress resolve(BindSpec spec, Family family) {
        String host = spec.host();
        try {
            if (host.isEmpty()) {
                return InetAddress.getByName(family == Family.INET6 ? "::" : "0.0.0.0");
            }
            InetAddress[] all = InetAddress.getAllByName(host);
            return Arrays.stream(all)
                    .filter(a -> switch (family) {
                        case ANY -> true;
                        case INET4 -> a instanceof Inet4Address;
                        case INET6 -> a instanceof Inet6Address;
                    })
                    .findFirst()
                    .orElseThrow(() -> new StartupException("cannot bind -b " + spec.text() + ": " + host
                            + " has no " + (family == Family.INET4 ? "IPv4" : "IPv6") + " address"));
        } catch (UnknownHostException e) {
            throw new StartupException("cannot bind -b " + spec.text() + ": unknown host " + host);
        }
    }

    private Bound bindUnix(BindSpec spec, int backlog) {
        Path path = spec.unixPath();
        if (Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            int mode;
            try {
                mode = (Integer) Files.getAttribute(path, "unix:mode", java.nio.file.LinkOption.NOFOLLOW_LINKS);
            } catch (IOException e) {
                throw new StartupException("cannot bind -b " + spec.text() + ": " + e.getMessage());
            }
            if ((mode & S_IFMT) != S_IFSOCK) {
                throw new StartupException("cannot bind -b " + spec.text() + ": " + path
                        + " exists and is not a socket; remove it or choose another path");
            }
            boolean live;
            try {
                Fds.close(Sockets.connectUnix(path));
                live = true;
            } catch (PosixException e) {
                live = false;
            }
            if (live) {
                throw new StartupException("cannot bind -b " + spec.text() + ": another process is listening on " + path);
            }
            log.info("Replacing stale socket file " + path);
            try {
                Files.delete(path);
            } catch (IOException e) {
                throw new StartupException("cannot bind -b " + spec.text() + ": cannot remove stale " + path + ": " + e.getMessage());
            }
        }
        int fd;
        try {
            fd = spec.access() == null ? Sockets.listenUnix(path, spec.nonBlocking(), backlog) : listenPrivately(spec, backlog);
        } catch (PosixException e) {
            throw new StartupException("cannot bind -b " + spec.text() + ": " + e.getMessage());
        }
        return new Bound(spec, fd, "unix:" + path, 0, path, fileKey(path), spec.name());
    }

    /**
     * A UNIX listener with {@code mode=}/{@code group=}/{@code owner=}: bound in a fresh 0700
     * directory beside its path, given its owner, group and mode there, then renamed into
     * place, so nobody can connect before the file says who may.
     */
    private static int listenPrivately(BindSpec spec, int backlog) {
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
            fd = Sockets.listenUnix(tmp, spec.nonBlocking(), backlog);
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
            Set<PosixFilePermission> perms = java.util.EnumSet.noneOf(PosixFilePermission.class);
            PosixFilePermission[] order = PosixFilePermission.values(); // OWNER_READ (0400) ... OTHERS_EXECUTE (0001)
            for (int i = 0; i < order.length; i++) {
                if ((access.mode() & (0400 >> i)) != 0) perms.add(order[i]);
            }
            view.setPermissions(perms);
        }
    }

    private static String describe(IOException e) {
        return Errors.describe(e);
    }

    private static Object fileKey(Path p) {
        try {
            return Files.readAttributes(p, java.nio.file.attribute.BasicFileAttributes.class,
                    java.nio.file.LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    /** Closes every socket and removes the UNIX socket files that are still the ones we created. */
    @Override
    public void close() {
        for (Bound b : bound) {
            try {
                Fds.close(b.fd());
            } catch (PosixException e) {
                log.warn("closing " + b.address() + ": " + e.getMessage());
            }
            if (b.unixPath() != null && b.fileKey() != null && b.fileKey().equals(fileKey(b.unixPath()))) {
                try {
                    Files.deleteIfExists(b.unixPath());
                } catch (IOException e) {
                    log.warn("cannot remove " + b.unixPath() + ": " + e.getMessage());
                }
            }
        }
        bound.clear();
    }
}
