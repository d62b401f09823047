package dev.einhyrningsins.worker;

import java.io.IOException;
import java.net.SocketAddress;
import java.nio.channels.ServerSocketChannel;

/**
 * One listening socket the worker inherited: {@code EINHORN_FD_<index>}, descriptor {@code fd}.
 *
 * @param index   its position in {@code -b} order (0 for {@code EINHORN_FD_0})
 * @param fd      its descriptor number (3, 4, ...), for libraries that take descriptors, such as
 *                Netty's {@code new EpollServerSocketChannel(fd)}
 * @param address where it listens (a udp: or unixgram: socket: where it is bound), as the kernel reports
 *                it ({@code /proc/self/net}); null if it
 *                could not be found there (no {@code /proc}, another network namespace, an
 *                abstract UNIX name). A {@code unix:} socket bound with {@code mode=}, {@code group=}
 *                or {@code owner=} reports the private directory it was bound in before it was
 *                renamed into place: the kernel keeps the name a socket was bound with
 *                ({@code getsockname} says the same)
 * @param stdin   it is also this process's standard input ({@code -b ...,stdin}), so
 *                {@link #channel()} can give it as a channel
 * @param nonBlocking the descriptor is in non-blocking mode ({@code O_NONBLOCK}, from
 *                {@code /proc/self/fdinfo}; {@code -b ...,n} sets it). The flag belongs to the
 *                socket's open file description, which every worker shares: a library that
 *                switches its channel's mode switches it for all of them
 */
public record Listener(int index, int fd, SocketAddress address, boolean stdin, boolean nonBlocking) {

    /**
     * This socket as a NIO channel: only possible for the socket that is also standard input,
     * through {@link System#inheritedChannel()} (the JDK has no public way to make a channel from
     * any other descriptor). Closing that channel makes the JDK point descriptors 0, 1 and 2 at
     * {@code /dev/null}: stdout and stderr go nowhere afterwards (see {@link Einhorn#inheritedChannel()}).
     *
     * @throws UnsupportedOperationException if this socket is not standard input
     * @throws IOException                   if standard input is not a listening socket after all
     */
    public ServerSocketChannel channel() throws IOException {
        if (!stdin) {
            throw new UnsupportedOperationException("EINHORN_FD_" + index + " (fd " + fd + ") cannot become a channel in "
                    + "pure Java, only standard input can (System.inheritedChannel()): give this -b the stdin option, or "
                    + "pass fd " + fd + " to a library that takes descriptors");
        }
        return Einhorn.inheritedServerChannel();
    }
}
