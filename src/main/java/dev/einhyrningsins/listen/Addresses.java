package dev.einhyrningsins.listen;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/** How addresses are written in logs, errors and {@code state}: {@code 127.0.0.1:8080}, {@code [::1]:8080}. */
public final class Addresses {
    private Addresses() {}

    public static String format(InetSocketAddress addr) {
        InetAddress ip = addr.getAddress();
        if (ip instanceof Inet6Address v6) {
            String scope = v6.getScopeId() != 0 ? "%" + v6.getScopeId() : "";
            return "[" + formatIpv6(v6.getAddress()) + scope + "]:" + addr.getPort();
        }
        if (ip instanceof Inet4Address) {
            return ip.getHostAddress() + ":" + addr.getPort();
        }
        return addr.getHostString() + ":" + addr.getPort();
    }

    /** RFC 5952 text: lower-case hex, the longest run of two or more zero groups as "::". */
    static String formatIpv6(byte[] b) {
        int[] g = new int[8];
        for (int i = 0; i < 8; i++) {
            g[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
        }
        int bestStart = -1;
        int bestLen = 1;
        for (int i = 0; i < 8; ) {
            if (g[i] != 0) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && g[j] == 0) j++;
            if (j - i > bestLen) {
                bestStart = i;
                bestLen = j - i;
            }
            i = j;
        }
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                s.append("::");
                i += bestLen - 1;
                continue;
            }
            if (!s.isEmpty() && s.charAt(s.length() - 1) != ':') s.append(':');
            s.append(Integer.toHexString(g[i]));
        }
        return s.toString();
    }
}
