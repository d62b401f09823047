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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The sockets workers inherit — listening stream sockets (TCP, UNIX) and bound datagram
 * sockets (UDP, UNIX) — bound once before any worker starts, taken from a service manager
 * (socket activation, its fd store), or from the previous process of this supervisor.
 */
public final class Listeners implements AutoCloseable {

    /**
     * One socket; {@code address} is what we log and show in state, with the real port (and
     * {@code udp:}/{@code unixgram:} before a datagram socket's). {@code spec} is null for a
     * socket systemd passed us; {@code unixPath} is set only for a UNIX socket file we created
     * (and so remove on exit, unless the service manager's fd store keeps the socket:
     * {@code storeName} is its name there).
     */
    public record Bound(BindSpec spec, int fd, String address, int port, Path unixPath, Object fileKey, String name,
                        boolean datagram, String storeName) {
        /**
         * Where a local client reaches it: its address, a wildcard one as loopback (0.0.0.0 as
         * 127.0.0.1, [::] as [::1]), with the kind of a datagram socket ({@code udp:127.0.0.1:53}).
         */
        public String connectAddress() {
            String kind = address.startsWith("udp:") ? "udp:" : "";
            String rest = address.substring(kind.length());
            if (rest.startsWith("0.0.0.0:")) return kind + "127.0.0.1:" + rest.substring(8);
            if (rest.startsWith("[::]:")) return kind + "[::1]:" + rest.substring(5);
            return address;
        }

        /** -b ...,stdin: workers get it as their fd 0 too. */
        boolean stdin() {
            return spec != null && spec.stdin();
        }

        /** The same socket, kept in the service manager's fd store as {@code name}. */
        Bound stored(String name) {
            return new Bound(spec, fd, address, port, unixPath, fileKey, this.name, datagram, name);
        }

        /** "stream" (listening TCP or UNIX) or "datagram" (bound UDP or UNIX). */
        public String type() {
            return datagram ? DATAGRAM : STREAM;
        }

        public Map<String, Object> describe(int index) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("bind", spec == null ? null : spec.text());
            m.put("from", spec == null ? "systemd" : "-b");
            m.put("name", name);
            m.put("type", type());
            m.put("address", address);
            m.put("port", port > 0 ? port : null);
            m.put("fd", 3 + index);
            m.put("env", "EINHORN_FD_" + index);
            m.put("stdin", stdin());
            m.put("fd_store", storeName);
            return m;
        }
    }

    /** {@link Bound#type()}'s values. */
    public static final String STREAM = "stream";
    public static final String DATAGRAM = "datagram";

    /**
     * A service manager's fd store ({@code FileDescriptorStoreMax=}), as binding uses it: the
     * sockets it kept for a {@code -b} come back to be adopted, new ones are put there, and
     * kept ones no longer asked for are taken out.
     */
    public interface Store {
        /** The name a {@code -b}'s socket has in the store. */
        String name(int index, BindSpec spec);

        /** Keeps {@code fd} in the store under {@code name}. */
        void keep(int fd, String name);

        /** Takes what the store keeps under {@code name} out of it. */
        void release(String name);

        /**
         * Whether sockets go into the store ({@code FDSTORE} set); false when it only gives
         * back what it kept before: those are adopted or closed, and nothing is stored.
         */
        default boolean keeps() {
            return true;
        }
    }

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
        return bind(passed, List.of(), null, specs, family, backlog, log);
    }

    /**
     * As {@link #bind(List, List, Family, int, Log)}, with a service manager's fd store: a
     * {@code -b} whose socket the store kept ({@code stored}, by the name {@code store} gives
     * it) gets that socket back when it is still the one asked for (its type and address);
     * every socket bound here is kept in the store; a stored socket not adopted is released
     * from the store and closed. {@code store} null: no fd store.
     */
    public static Listeners bind(List<SocketActivation.Passed> passed, List<SocketActivation.Passed> stored, Store store,
                                 List<BindSpec> specs, Family family, int backlog, Log log) {
        Listeners l = new Listeners(log);
        Map<String, SocketActivation.Passed> kept = new LinkedHashMap<>();
        for (SocketActivation.Passed p : stored) kept.put(p.name(), p);
        List<Bound> fresh = new ArrayList<>();
        try {
            for (SocketActivation.Passed p : passed) l.bound.add(adopt(p));
            for (int i = 0; i < specs.size(); i++) {
                BindSpec spec = specs.get(i);
                String storeName = store == null ? null : store.name(i, spec);
                SocketActivation.Passed mine = storeName == null ? null : kept.get(storeName);
                Bound b = mine == null ? null : StoredSocket.adopt(spec, mine, family, storeName);
                if (b != null) {
                    kept.remove(storeName);
                    l.bound.add(b);
                    log.info("Adopted " + b.address() + " (-b " + spec.text() + ") from the service manager's fd store ("
                            + storeName + ")");
                    continue;
                }
                b = l.bindSpec(spec, family, backlog);
                l.bound.add(b);
                if (storeName != null && store.keeps()) fresh.add(b.stored(storeName));
                log.info("Bound " + b.address() + " (-b " + spec.text() + ")");
            }
        } catch (RuntimeException e) {
            l.close();
            for (SocketActivation.Passed p : kept.values()) Fds.closeQuietly(p.fd());
            throw e;
        }
        for (int i = 0; i < passed.size(); i++) {
            log.info("Using " + l.bound.get(i).address() + " from systemd (" + passed.get(i).name() + ")");
        }
        for (SocketActivation.Passed p : kept.values()) {
            if (store.keeps()) {
                log.info("Releasing " + p.name() + " from the service manager's fd store: no -b asks for that socket now");
                store.release(p.name()); // before the new sockets are kept: one of them may take its name
            } else {
                log.info("Closing " + p.name() + " from the service manager's fd store: no -b asks for that socket now "
                        + "(FDSTORE is not set: nothing is stored or released)");
            }
            Fds.closeQuietly(p.fd());
        }
        for (Bound b : fresh) {
            store.keep(b.fd(), b.storeName());
            l.bound.replaceAll(x -> x.fd() == b.fd() ? b : x);
        }
        return l;
    }

    /**
     * A socket as a reload hands it to the next process of this supervisor: its fd (kept open
     * across the exec) and what it is. {@code unixPath} only for a UNIX socket file of ours, to
     * remove on exit; {@code type} "stream" or "datagram"; {@code storeName} its name in the
     * service manager's fd store, or null.
     */
    public record Handed(int fd, String bind, String address, int port, String unixPath, String name, String type,
                         String storeName) {}

    /** The sockets' state for a reload's hand-over. */
    public List<Handed> handOver() {
        List<Handed> out = new ArrayList<>();
        for (Bound b : bound) {
            out.add(new Handed(b.fd(), b.spec() == null ? null : b.spec().text(), b.address(), b.port(),
                    b.unixPath() == null ? null : b.unixPath().toString(), b.name(), b.type(), b.storeName()));
        }
        return out;
    }

    /** Takes over the sockets the previous process of this supervisor handed over (same fds). */
    public static Listeners adopt(List<Handed> handed, Log log) {
        Listeners l = new Listeners(log);
        for (Handed h : handed) {
            Path unix = h.unixPath() == null ? null : Path.of(h.unixPath());
            l.bound.add(new Bound(h.bind() == null ? null : BindSpec.parse(h.bind()), h.fd(), h.address(), h.port(), unix,
                    unix == null ? null : SocketFiles.fileKey(unix), h.name(), DATAGRAM.equals(h.type()), h.storeName()));
        }
        return l;
    }

    /** Takes over a socket systemd passed: it stays as it is (and its file, if any, stays too). */
    private static Bound adopt(SocketActivation.Passed p) {
        Sockets.Kind kind = Sockets.kind(p.fd());
        Fds.setCloexec(p.fd(), true);
        if (kind.inet()) {
            InetSocketAddress local = Sockets.localInetAddress(p.fd());
            return new Bound(null, p.fd(), (kind.datagram() ? "udp:" : "") + Addresses.format(local), local.getPort(),
                    null, null, p.name(), kind.datagram(), null);
        }
        String path = Sockets.localUnixAddress(p.fd());
        return new Bound(null, p.fd(), (kind.datagram() ? "unixgram:" : "unix:") + path, 0, null, null, p.name(),
                kind.datagram(), null);
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

    private Bound bindSpec(BindSpec spec, Family family, int backlog) {
        if (spec.isUnix()) {
            int fd = SocketFiles.bind(spec, backlog, log);
            Path path = spec.unixPath();
            return new Bound(spec, fd, spec.kindPrefix() + (spec.datagram() ? "" : "unix:") + path, 0, path,
                    SocketFiles.fileKey(path), spec.name(), spec.datagram(), null);
        }
        InetAddress address = resolve(spec, family);
        InetSocketAddress where = new InetSocketAddress(address, spec.port());
        String label = Addresses.format(where);
        int fd;
        try {
            fd = spec.datagram()
                    ? Sockets.bindUdp(where, spec.kindPrefix() + label, spec.reuseAddr(), spec.reusePort(), spec.nonBlocking())
                    : Sockets.listenTcp(where, label, spec.reuseAddr(), spec.reusePort(), spec.nonBlocking(), backlog);
        } catch (PosixException e) {
            throw new StartupException("cannot bind -b " + spec.text() + ": " + e.getMessage());
        }
        // only an ephemeral port (-b ADDR:0) needs asking; getsockname would be one more downcall to link at start
        InetSocketAddress actual = spec.port() == 0 ? Sockets.localInetAddress(fd) : where;
        return new Bound(spec, fd, spec.kindPrefix() + Addresses.format(actual), actual.getPort(), null, null, spec.name(),
                spec.datagram(), null);
    }

    /** The address {@code spec} asks for: its host resolved once ({@code -4}/{@code -6} pick the family), or the wildcard. */
    static InetAddress resolve(BindSpec spec, Family family) {
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

    /**
     * Closes every socket and removes the UNIX socket files that are still the ones we created
     * — but not the file of a socket the service manager's fd store keeps: the socket lives on
     * there, and the next supervisor adopts it with its file.
     */
    @Override
    public void close() {
        for (Bound b : bound) {
            try {
                Fds.close(b.fd());
            } catch (PosixException e) {
                log.warn("closing " + b.address() + ": " + e.getMessage());
            }
            if (b.unixPath() != null && b.storeName() == null && b.fileKey() != null
                    && b.fileKey().equals(SocketFiles.fileKey(b.unixPath()))) {
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
