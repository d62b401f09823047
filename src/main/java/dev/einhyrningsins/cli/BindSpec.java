package dev.einhyrningsins.cli;

import java.nio.file.Path;
import java.util.Locale;

/**
 * One {@code -b} argument: {@code ADDR:PORT[,OPT...]} or {@code unix:PATH[,OPT...]}.
 *
 * @param host      IPv4 literal, IPv6 literal (without brackets), host name, or empty for any
 * @param unixPath  set for a UNIX socket, then host/port are unused
 */
public record BindSpec(String text, String host, int port, Path unixPath,
                       boolean reuseAddr, boolean nonBlocking, boolean reusePort) {

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
        for (int i = 1; i < parts.length; i++) {
            switch (parts[i].toLowerCase(Locale.ROOT)) {
                case "r", "so_reuseaddr" -> reuseAddr = true;
                case "n", "o_nonblock" -> nonBlocking = true;
                case "p", "so_reuseport" -> reusePort = true;
                default -> throw new UsageException("unknown bind option '" + parts[i] + "' in -b " + text
                        + " (known: r/so_reuseaddr, n/o_nonblock, p/so_reuseport; separate several with commas)");
            }
        }
        if (address.startsWith("unix:")) {
            String path = address.substring("unix:".length());
            if (path.isEmpty()) throw new UsageException("-b " + text + ": unix: needs a path, e.g. unix:/run/app.sock");
            if (reuseAddr || reusePort) {
                throw new UsageException("-b " + text + ": r and p apply to TCP sockets only");
            }
            return new BindSpec(text, null, 0, Path.of(path).toAbsolutePath(), false, nonBlocking, false);
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
        return new BindSpec(text, host, port, null, reuseAddr, nonBlocking, reusePort);
    }
}
