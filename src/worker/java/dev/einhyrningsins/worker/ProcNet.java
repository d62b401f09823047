package dev.einhyrningsins.worker;

import java.io.BufferedReader;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * What pure Java can learn about an inherited descriptor on Linux: {@code /proc/self/fd/N}
 * names its socket's inode ({@code socket:[12345]}), and {@code /proc/self/net/tcp},
 * {@code tcp6}, {@code udp}, {@code udp6} and {@code unix} (stream and datagram) list each
 * socket of this network namespace with its inode and
 * local address — the address {@code getsockname} would give, which Java has no call for on
 * a bare descriptor.
 */
final class ProcNet {
    private ProcNet() {}

    /** The inode of the socket behind descriptor {@code fd}, or -1 if it is not a socket (or not there). */
    static long socketInode(Path proc, int fd) {
        try {
            String target = Files.readSymbolicLink(proc.resolve("fd").resolve(Integer.toString(fd))).toString();
            if (target.startsWith("socket:[") && target.endsWith("]")) {
                return Long.parseLong(target.substring("socket:[".length(), target.length() - 1));
            }
        } catch (IOException | NumberFormatException | UnsupportedOperationException e) {
            // not a socket, or no /proc: the caller reports what it could not find
        }
        return -1;
    }

    /** O_NONBLOCK on Linux (x86, ARM, RISC-V; octal 04000). */
    static final int O_NONBLOCK = 04000;

    /**
     * Whether descriptor {@code fd} is non-blocking: its open file description's flags, as
     * {@code /proc/self/fdinfo/N} prints them in octal; false if they cannot be read.
     */
    static boolean nonBlocking(Path proc, int fd) {
        try {
            for (String line : Files.readAllLines(proc.resolve("fdinfo").resolve(Integer.toString(fd)), StandardCharsets.US_ASCII)) {
                if (line.startsWith("flags:")) return (Integer.parseInt(line.substring(6).trim(), 8) & O_NONBLOCK) != 0;
            }
        } catch (IOException | RuntimeException e) {
            // no /proc, or no such descriptor
        }
        return false;
    }

    /** The local addresses of the sockets with these inodes that are listed; the others are missing from the map. */
    static Map<Long, SocketAddress> addresses(Path proc, Set<Long> inodes) {
        Map<Long, SocketAddress> found = new HashMap<>();
        for (String table : new String[] {"tcp", "tcp6", "udp", "udp6", "unix"}) {
            if (found.keySet().containsAll(inodes)) break;
            Path file = proc.resolve("net").resolve(table);
            try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII)) {
                r.readLine(); // the header
                String line;
                while ((line = r.readLine()) != null) {
                    boolean unix = table.equals("unix");
                    // a UNIX socket's path is the last field and may hold blanks
                    String[] f = line.trim().split("\\s+", unix ? 8 : 0);
                    if (unix) {
                        if (f.length < 7) continue;
                        long inode = Long.parseLong(f[6]);
                        // a path, "@name" for an abstract one (Java cannot address those), none if unbound
                        if (inodes.contains(inode) && f.length == 8 && !f[7].startsWith("@")) {
                            found.put(inode, UnixDomainSocketAddress.of(f[7]));
                        }
                    } else {
                        if (f.length < 10) continue;
                        long inode = Long.parseLong(f[9]);
                        if (inodes.contains(inode)) found.put(inode, inet(f[1]));
                    }
                }
            } catch (IOException | RuntimeException e) {
                // no such table (no IPv6) or no /proc: what is missing stays unknown
            }
        }
        return found;
    }

    /**
     * {@code 0100007F:1F90} (127.0.0.1:8080): the address as the kernel prints it, each 32-bit
     * word of the network-order address as a number in host order (so byte-swapped on
     * little-endian machines); the port in hex.
     */
    static InetSocketAddress inet(String text) throws UnknownHostException {
        int colon = text.indexOf(':');
        String hex = text.substring(0, colon);
        byte[] address = new byte[hex.length() / 2];
        boolean swapped = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
        for (int word = 0; word < address.length / 4; word++) {
            for (int b = 0; b < 4; b++) {
                int at = (word * 4 + (swapped ? 3 - b : b)) * 2;
                address[word * 4 + b] = (byte) Integer.parseInt(hex.substring(at, at + 2), 16);
            }
        }
        return new InetSocketAddress(InetAddress.getByAddress(address), Integer.parseInt(text.substring(colon + 1), 16));
    }
}
