package dev.einhyrningsins.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.einhyrningsins.cli.BindSpec;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.shell.Children;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.shell.Loop;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * A reload stops the metrics endpoint before its close-on-exec sweep: its thread accepts
 * connections, and a socket it opened after the sweep would reach the next process. Stopped,
 * it opens nothing however many clients knock; if the exec fails it serves again on the same
 * address.
 */
class EndpointTest {
    @Test
    void stoppedItOpensNoFdAndHasNoThreadAndItServesAgainOnTheSameAddress() throws Exception {
        Log log = new Log(new PrintStream(new ByteArrayOutputStream()), 1, 0);
        try (Children children = new Children(); Loop loop = new Loop(children, log);
             Endpoint endpoint = Endpoint.open(BindSpec.parse("127.0.0.1:0"), loop, log)) {
            URI url = URI.create(endpoint.url());
            InetSocketAddress address = new InetSocketAddress(url.getHost(), url.getPort());
            try (Socket s = new Socket(address.getAddress(), address.getPort())) {
                assertThat(s.isConnected()).isTrue();
            }
            endpoint.stop();
            assertThat(Thread.getAllStackTraces().keySet()).noneMatch(t -> t.getName().equals("einhyrningsins-metrics"));
            Set<Integer> before = new HashSet<>(Fds.open());
            for (int i = 0; i < 50; i++) {
                assertThatThrownBy(() -> new Socket(address.getAddress(), address.getPort()).close())
                        .isInstanceOf(ConnectException.class);
            }
            Set<Integer> after = new HashSet<>(Fds.open());
            after.removeAll(before);
            assertThat(after).as("fds opened while stopped (the listing's own aside)").hasSizeLessThanOrEqualTo(1);

            endpoint.restart();
            try (Socket s = new Socket(address.getAddress(), address.getPort())) {
                assertThat(s.isConnected()).as("the same address again").isTrue();
            } catch (IOException e) {
                throw new AssertionError("not serving again at " + address, e);
            }
        }
    }
}
