package dev.einhyrningsins.listen;

import dev.einhyrningsins.cli.BindSpec;
import dev.einhyrningsins.cli.Options.Family;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.PosixException;
import dev.einhyrningsins.posix.Sockets;
import dev.einhyrningsins.systemd.SocketActivation;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * A socket the service manager's fd store kept for a {@code -b} (named for it) and passed back
 * to a new supervisor: adopted when it is still what the {@code -b} asks for — the same type
 * (listening stream, datagram), family and address (an ephemeral port, {@code :0}, takes the
 * port the socket has; a {@code unix:} socket must still have its file at the path) — so that
 * connections made while no supervisor ran are served from its backlog.
 */
final class StoredSocket {
    private StoredSocket() {}

    /** The stored socket as {@code spec}'s, or null if it is not what {@code spec} asks for now. */
    static Listeners.Bound adopt(BindSpec spec, SocketActivation.Passed stored, Family family, String storeName) {
        int fd = stored.fd();
        try {
            Sockets.Kind kind = Sockets.kind(fd);
            if (!kind.socket() || kind.datagram() != spec.datagram() || (!kind.datagram() && !kind.listeningStream())) {
                return null;
            }
            Fds.setCloexec(fd, true);
            if (spec.isUnix()) {
                Path path = spec.unixPath();
                if (!kind.unix() || !boundAt(Sockets.localUnixAddress(fd), path) || !isSocket(path)) {
                    return null;
                }
                return new Listeners.Bound(spec, fd, spec.kindPrefix() + (spec.datagram() ? "" : "unix:") + path, 0, path,
                        SocketFiles.fileKey(path), spec.name(), spec.datagram(), storeName);
            }
            if (!kind.inet()) return null;
            InetSocketAddress local = Sockets.localInetAddress(fd);
            InetSocketAddress wanted = new InetSocketAddress(Listeners.resolve(spec, family), spec.port());
            if (!local.getAddress().equals(wanted.getAddress()) || (spec.port() != 0 && local.getPort() != spec.port())) {
                return null;
            }
            return new Listeners.Bound(spec, fd, spec.kindPrefix() + Addresses.format(local), local.getPort(), null, null,
                    spec.name(), spec.datagram(), storeName);
        } catch (PosixException | IllegalArgumentException e) {
            return null;
        }
    }

    /** Bound at {@code path} itself, or in the private directory beside it where mode=/group=/owner= bind it first. */
    static boolean boundAt(String name, Path path) {
        if (name.equals(path.toString())) return true;
        Path bound = Path.of(name);
        Path dir = bound.getParent();
        return dir != null && bound.getFileName().toString().equals("s") && dir.getParent() != null
                && dir.getParent().equals(path.getParent()) && dir.getFileName().toString().startsWith(".einhyrningsins-");
    }

    private static boolean isSocket(Path path) {
        try {
            int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            return (mode & 0170000) == 0140000;
        } catch (java.io.IOException | RuntimeException e) {
            return false;
        }
    }
}
