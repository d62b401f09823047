package dev.einhyrningsins.daemon;

import dev.einhyrningsins.cli.BindSpec;
import dev.einhyrningsins.cli.Options.Family;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.PosixException;
import dev.einhyrningsins.posix.Sockets;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The listening sockets, bound once before any worker starts and inherited by every worker. */
final class Listeners implements AutoCloseable {

    /**
     * One listening socket; {@code address} is what we log and show in state, with the real
     * port. {@code spec} is null for a socket systemd passed us; {@code unixPath} is set only
     * for a UNIX socket file we created (and so remove on exit).
     */
    record Bound(BindSpec spec, int fd, String address, int port, Path unixPath, Object fileKey, String name) {
        /** Where a local client connects to it: its address, a wildcard one as loopback (0.0.0.0 as 127.0.0.1, [::] as [::1]). */
        String connectAddress() {
            if (address.startsWith("0.0.0.0:")) return "127.0.0.1:" + address.substring(8);
            if (address.startsWith("[::]:")) return "[::1]:" + address.substring(5);
            return address;
        }

        Map<String, Object> describe(int index) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("bind", spec == null ? null : spec.text());
            m.put("from", spec == null ? "systemd" : "-b");
            m.put("name", name);
            m.put("address", address);
            m.put("port", port > 0 ? port : null);
            m.put("fd", 3 + index);
            m.put("env", "EINHORN_FD_" + index);
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
    static Listeners bind(List<SocketActivation.Passed> passed, List<BindSpec> specs, Family family, int backlog, Log log) {
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

    List<Bound> bound() {
        return List.copyOf(bound);
    }

    int[] fds() {
        return bound.stream().mapToInt(Bound::fd).toArray();
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
        InetSocketAddress actual = Sockets.localInetAddress(fd);
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
            fd = Sockets.listenUnix(path, spec.nonBlocking(), backlog);
        } catch (PosixException e) {
            throw new StartupException("cannot bind -b " + spec.text() + ": " + e.getMessage());
        }
        return new Bound(spec, fd, "unix:" + path, 0, path, fileKey(path), spec.name());
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
