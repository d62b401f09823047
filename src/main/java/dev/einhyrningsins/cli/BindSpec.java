package dev.einhyrningsins.cli;

import java.nio.file.Path;
import java.util.Locale;

/**
 * One {@code -b} argument: {@code ADDR:PORT[,OPT...]} or {@code unix:PATH[,OPT...]}.
 *
 * @param host      IPv4 literal, IPv6 literal (without brackets), host name, or empty for any
 * @param unixPath  set for a UNIX socket, then host/port are unused
 * @param name      its name for workers that take sockets the systemd way (LISTEN_FDNAMES); null = unnamed
 */
public record BindSpec(String text, String host, int port, Path unixPath,
                       boolean reuseAddr, boolean nonBlocking, boolean reusePort, String name) {

    public boolean isUnix() {
        return unixPath != null;
    }

    /** Parses one -b value; throws {@link UsageException} with a one-line reason. */
    public static BindSpec parse(String text) {
        String[] parts = text.split(",", -1);
        String address = parts[0];
        boolean reuseAddr = false;
        boolean nonBlocking = false;
        boolean reusePort = false;
        String name = null;
        for (int i = 1; i < parts.length; i++) {
            if (parts[i].startsWith("name=")) {
                name = fdName(parts[i].substring(5), text);
                continue;
            }
            switch (parts[i].toLowerCase(Locale.ROOT)) {
                case "r", "so_reuseaddr" -> reuseAddr = true;
                case "n", "o_nonblock" -> nonBlocking = true;
                case "p", "so_reuseport" -> reusePort = true;
                default -> throw new UsageException("unknown bind option '" + parts[i] + "' in -b " + text
                        + " (known: r/so_reuseaddr, n/o_nonblock, p/so_reuseport, name=NAME; separate several with commas)");
            }
        }
        if (address.startsWith("unix:")) {
            String path = address.substring("unix:".length());
            if (path.isEmpty()) throw new UsageException("-b " + text + ": unix: needs a path, e.g. unix:/run/app.sock");
            if (reuseAddr || reusePort) {
                throw new UsageException("-b " + text + ": r and p apply to TCP sockets only");
            }
            return new BindSpec(text, null, 0, Path.of(path).toAbsolutePath(), false, nonBlocking, false, name);
        }
        String host;
        String portText;
        if (address.startsWith("[")) {
            int close = address.indexOf(']');
            if (close < 0 || close + 1 >= address.length() || address.charAt(close + 1) != ':') {
                throw new UsageException("-b " + text + ": expected [IPV6]:PORT, e.g. [::1]:8080");
            }
            host = address.substring(1, close);
            portText = address.substring(close + 2);
        } else {
            int colon = address.lastIndexOf(':');
            if (colon < 0) throw new UsageException("-b " + text + ": expected ADDR:PORT, e.g. 127.0.0.1:8080");
            host = address.substring(0, colon);
            if (host.contains(":")) {
                throw new UsageException("-b " + text + ": put IPv6 addresses in brackets, e.g. [::1]:8080");
            }
            portText = address.substring(colon + 1);
        }
        int port;
        try {
            port = Integer.parseInt(portText);
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 0 || port > 65535) {
            throw new UsageException("-b " + text + ": port must be a number in 0..65535");
        }
        return new BindSpec(text, host, port, null, reuseAddr, nonBlocking, reusePort, name);
    }

    /** A name as systemd allows it in LISTEN_FDNAMES: 1..255 printable ASCII characters, no ':' or blank. */
    static String fdName(String name, String text) {
        boolean ok = !name.isEmpty() && name.length() <= 255
                && name.chars().allMatch(c -> c > ' ' && c < 127 && c != ':');
        if (!ok) {
            throw new UsageException("-b " + text + ": name=" + name + " must be 1 to 255 printable characters "
                    + "without ':' or blanks (it becomes the socket's name in LISTEN_FDNAMES)");
        }
        return name;
    }
}
