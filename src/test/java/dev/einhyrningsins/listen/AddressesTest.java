package dev.einhyrningsins.listen;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class AddressesTest {

    private static InetAddress ip(String text) {
        try {
            return InetAddress.getByName(text);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void formatsIpv6Compactly() {
        assertThat(Addresses.formatIpv6(ip("::1").getAddress())).isEqualTo("::1");
        assertThat(Addresses.formatIpv6(new byte[16])).isEqualTo("::");
        assertThat(Addresses.formatIpv6(ip("2001:db8:0:0:0:0:0:1").getAddress())).isEqualTo("2001:db8::1");
        assertThat(Addresses.formatIpv6(ip("1:0:0:1:0:0:0:1").getAddress())).isEqualTo("1:0:0:1::1");
        assertThat(Addresses.formatIpv6(ip("1:0:1:0:1:0:1:0").getAddress())).isEqualTo("1:0:1:0:1:0:1:0");
        assertThat(Addresses.formatIpv6(ip("fe80:0:0:1::").getAddress())).isEqualTo("fe80:0:0:1::");
    }

    @Test
    void formatsSocketAddressesAsLogsAndStateShowThem() {
        assertThat(Addresses.format(new InetSocketAddress(ip("127.0.0.1"), 8080))).isEqualTo("127.0.0.1:8080");
        assertThat(Addresses.format(new InetSocketAddress(ip("::1"), 8080))).isEqualTo("[::1]:8080");
    }
}
