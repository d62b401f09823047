package dev.einhyrningsins.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One {@code -b} argument: {@code ADDR:PORT[,OPT...]}, {@code unix:PATH[,OPT...]}, or a
 * datagram socket: {@code udp:ADDR:PORT[,OPT...]}, {@code unixgram:PATH[,OPT...]}.
 *
 * @param host      IPv4 literal, IPv6 literal (without brackets), host name, or empty for any
 * @param unixPath  set for a UNIX socket, then host/port are unused
 * @param name      its name for workers that take sockets the systemd way (LISTEN_FDNAMES); null = unnamed
 * @param access    a UNIX socket file's mode, group and owner ({@code mode=}, {@code group=},
 *                  {@code owner=}); null when none is given (the umask decides, as for any file)
 * @param stdin     {@code stdin}: workers also get this socket as their standard input (fd 0), where
 *                  the JDK's {@code System.inheritedChannel()} finds it; at most one -b may say so
 * @param datagram  a datagram socket ({@code udp:}, {@code unixgram:}): bound, not listening
 */
public record BindSpec(String text, String host, int port, Path unixPath,
                       boolean reuseAddr, boolean nonBlocking, boolean reusePort, String name, Access access,
                       boolean stdin, boolean datagram) {

    /**
     * Who may connect to a UNIX listener: set on the socket file before it appears at its path.
     *
     * @param mode  permission bits (0..0777), or -1 to leave them to the umask
     * @param group a group name or number, or null
     * @param owner a user name or number (needs root), or null
     */
    public record Access(int mode, String group, String owner) {}

    public boolean isUnix() {
        return unixPath != null;
    }

    /** How the address is written in logs and {@code state}: TCP and unix: bare, datagram ones with their kind. */
    public String kindPrefix() {
        return !datagram ? "" : isUnix() ? "unixgram:" : "udp:";
    }

    /** Parses one -b value; throws {@link UsageException} with a one-line reason. */
    public static BindSpec parse(String text) {
        String[] parts = text.split(",", -1);
        String address = parts[0];
        boolean reuseAddr = false;
        boolean nonBlocking = false;
        boolean reusePort = false;
        String name = null;
        int mode = -1;
        String group = null;
        String owner = null;
        boolean stdin = false;
        for (int i = 1; i < parts.length; i++) {
            String option = parts[i];
            String[] keyValue = option.split("=", 2);
            String key = keyValue[0].toLowerCase(Locale.ROOT);
            String value = keyValue.length == 2 ? keyValue[1] : null;
            switch (value == null ? key : key + "=") {
                case "r", "so_reuseaddr" -> reuseAddr = true;
                case "n", "o_nonblock" -> nonBlocking = true;
                case "p", "so_reuseport" -> reusePort = true;
                case "name=" -> name = fdName(value, text);
                case "mode=" -> mode = mode(text, value);
                case "group=" -> group = name(text, "group", value);
                case "owner=" -> owner = name(text, "owner", value);
                case "stdin" -> stdin = true;
                default -> throw new UsageException("unknown bind option '" + option + "' in -b " + text
                        + " (known: r/so_reuseaddr, n/o_nonblock, p/so_reuseport, name=NAME, stdin, and for unix:/unixgram: "
                        + "mode=OCTAL, group=NAME|GID, owner=NAME|UID; separate several with commas)");
            }
        }
        Access access = mode >= 0 || group != null || owner != null ? new Access(mode, group, owner) : null;
        boolean unixgram = address.startsWith("unixgram:");
        if (address.startsWith("unix:") || unixgram) {
            String kind = unixgram ? "unixgram:" : "unix:";
            String path = address.substring(kind.length());
            if (path.isEmpty()) {
                throw new UsageException("-b " + text + ": " + kind + " needs a path, e.g. " + kind + "/run/app.sock");
            }
            if (reuseAddr || reusePort) {
                throw new UsageException("-b " + text + ": r and p apply to TCP and UDP sockets only");
            }
            if (unixgram && stdin) {
                throw new UsageException("-b " + text + ": stdin does not apply to a unixgram: socket (the JDK's "
                        + "System.inheritedChannel() cannot receive from a UNIX datagram socket)");
            }
            return new BindSpec(text, null, 0, Path.of(path).toAbsolutePath(), false, nonBlocking, false, name, access,
                    stdin, unixgram);
        }
        if (access != null) {
            throw new UsageException("-b " + text + ": mode=, group= and owner= apply to unix: and unixgram: sockets only");
        }
        boolean udp = address.startsWith("udp:");
        if (udp) address = address.substring("udp:".length());
        String host;
        String portText;
        if (address.startsWith("[")) {
            Matcher bracketed = Pattern.compile("\\[([^]]*)]:(.*)").matcher(address);
            if (!bracketed.matches()) {
                throw new UsageException("-b " + text + ": expected " + (udp ? "udp:" : "") + "[IPV6]:PORT, e.g. "
                        + (udp ? "udp:" : "") + "[::1]:8080");
            }
            host = bracketed.group(1);
            portText = bracketed.group(2);
        } else {
            int colon = address.lastIndexOf(':');
            if (colon < 0) {
                throw new UsageException("-b " + text + ": expected " + (udp ? "udp:" : "") + "ADDR:PORT, e.g. "
                        + (udp ? "udp:" : "") + "127.0.0.1:8080");
            }
            host = address.substring(0, colon);
            if (host.contains(":")) {
                throw new UsageException("-b " + text + ": put IPv6 addresses in brackets, e.g. " + (udp ? "udp:" : "")
                        + "[::1]:8080");
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
        return new BindSpec(text, host, port, null, reuseAddr, nonBlocking, reusePort, name, null, stdin, udp);
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

    private static int mode(String text, String value) {
        if (value.matches("[0-7]{3,4}")) {
            int mode = Integer.parseInt(value, 8);
            if (mode <= 0777) return mode;
        }
        throw new UsageException("-b " + text + ": mode= takes octal permission bits such as 0660, not '" + value + "'");
    }

    private static String name(String text, String what, String value) {
        if (value.isEmpty() || value.contains(":") || value.chars().anyMatch(Character::isWhitespace)) {
            throw new UsageException("-b " + text + ": " + what + "= takes a "
                    + (what.equals("group") ? "group name or gid, e.g. group=www-data" : "user name or uid, e.g. owner=app"));
        }
        return value;
    }
}
