package dev.einhyrningsins.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** -b's datagram sockets: udp:ADDR:PORT and unixgram:PATH, and the options that make no sense for them. */
class BindSpecTest {

    static void refused(String text, String expected) {
        assertThatThrownBy(() -> BindSpec.parse(text)).isInstanceOf(UsageException.class)
                .hasMessage("-b " + text + ": " + expected);
    }

    @Test
    void streamSocketsAreNotDatagramOnesAndWriteTheirAddressBare() {
        BindSpec tcp = BindSpec.parse("127.0.0.1:8080,r");
        assertThat(tcp.datagram()).isFalse();
        assertThat(tcp.kindPrefix()).isEmpty();
        BindSpec unix = BindSpec.parse("unix:/run/a.sock");
        assertThat(unix.datagram()).isFalse();
        assertThat(unix.isUnix()).isTrue();
        assertThat(unix.kindPrefix()).isEmpty();
    }

    @Test
    void udpTakesIpv4Ipv6AHostNameOrAnyAddressAndTheInetOptions() {
        BindSpec v4 = BindSpec.parse("udp:127.0.0.1:5353,r,p,n,name=dns,stdin");
        assertThat(v4.datagram()).isTrue();
        assertThat(v4.isUnix()).isFalse();
        assertThat(v4.kindPrefix()).isEqualTo("udp:");
        assertThat(v4.host()).isEqualTo("127.0.0.1");
        assertThat(v4.port()).isEqualTo(5353);
        assertThat(v4.reuseAddr()).isTrue();
        assertThat(v4.reusePort()).isTrue();
        assertThat(v4.nonBlocking()).isTrue();
        assertThat(v4.name()).isEqualTo("dns");
        assertThat(v4.stdin()).as("the JDK gives a UDP socket on fd 0 as a DatagramChannel").isTrue();
        assertThat(v4.text()).isEqualTo("udp:127.0.0.1:5353,r,p,n,name=dns,stdin");
        BindSpec v6 = BindSpec.parse("udp:[::1]:0");
        assertThat(v6.host()).isEqualTo("::1");
        assertThat(v6.port()).isZero();
        assertThat(v6.datagram()).isTrue();
        assertThat(BindSpec.parse("udp:localhost:53").host()).isEqualTo("localhost");
        BindSpec any = BindSpec.parse("udp::514");
        assertThat(any.host()).isEmpty();
        assertThat(any.port()).isEqualTo(514);
        assertThat(any.datagram()).isTrue();
    }

    @Test
    void unixgramTakesAPathWithAModeAGroupAndAnOwner() {
        BindSpec s = BindSpec.parse("unixgram:/run/log.sock,mode=0620,group=adm,owner=syslog,n,name=log");
        assertThat(s.datagram()).isTrue();
        assertThat(s.isUnix()).isTrue();
        assertThat(s.kindPrefix()).isEqualTo("unixgram:");
        assertThat(s.unixPath()).isEqualTo(Path.of("/run/log.sock"));
        assertThat(s.access()).isEqualTo(new BindSpec.Access(0620, "adm", "syslog"));
        assertThat(s.nonBlocking()).isTrue();
        assertThat(s.name()).isEqualTo("log");
        assertThat(BindSpec.parse("unixgram:rel.sock").unixPath()).isEqualTo(Path.of("rel.sock").toAbsolutePath());
        assertThat(BindSpec.parse("unixgram:/a").access()).isNull();
    }

    @Test
    void whatMakesNoSenseForADatagramSocketIsRefusedInOneLine() {
        refused("unixgram:", "unixgram: needs a path, e.g. unixgram:/run/app.sock");
        refused("unix:", "unix: needs a path, e.g. unix:/run/app.sock");
        refused("unixgram:/a,r", "r and p apply to TCP and UDP sockets only");
        refused("unixgram:/a,p", "r and p apply to TCP and UDP sockets only");
        refused("unixgram:/a,stdin", "stdin does not apply to a unixgram: socket (the JDK's System.inheritedChannel() "
                + "cannot receive from a UNIX datagram socket)");
        refused("udp:127.0.0.1:53,mode=0660", "mode=, group= and owner= apply to unix: and unixgram: sockets only");
        refused("udp:127.0.0.1:53,group=adm", "mode=, group= and owner= apply to unix: and unixgram: sockets only");
        refused("udp:5353", "expected udp:ADDR:PORT, e.g. udp:127.0.0.1:8080");
        refused("udp:[::1]5353", "expected udp:[IPV6]:PORT, e.g. udp:[::1]:8080");
        refused("udp:::1:53", "put IPv6 addresses in brackets, e.g. udp:[::1]:8080");
        refused("udp:127.0.0.1:65536", "port must be a number in 0..65535");
        refused("8080", "expected ADDR:PORT, e.g. 127.0.0.1:8080");
        refused("[::1]8080", "expected [IPV6]:PORT, e.g. [::1]:8080");
        refused("::1:80", "put IPv6 addresses in brackets, e.g. [::1]:8080");
        assertThatThrownBy(() -> BindSpec.parse("udp:127.0.0.1:53,backlog=5")).hasMessageContaining(
                "unknown bind option 'backlog=5' in -b udp:127.0.0.1:53,backlog=5 (known: r/so_reuseaddr, n/o_nonblock, "
                        + "p/so_reuseport, name=NAME, stdin, and for unix:/unixgram: mode=OCTAL, group=NAME|GID, "
                        + "owner=NAME|UID; separate several with commas)");
    }
}
