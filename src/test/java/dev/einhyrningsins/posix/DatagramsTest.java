package dev.einhyrningsins.posix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** sd_notify's datagrams on real sockets: path and abstract addresses, credentials, truncation. */
class DatagramsTest {

    @Test
    void aPathReceiverGetsTheMessageAndTheSendersCredentials(@TempDir Path dir) {
        String address = dir.resolve("notify.sock").toString();
        int receiver = Datagrams.receiver(address);
        int sender = Datagrams.sender();
        try {
            assertThat(Datagrams.receive(receiver, 64)).as("nothing yet").isNull();
            assertThat(Datagrams.send(sender, address, "READY=1\nSTATUS=up".getBytes(StandardCharsets.UTF_8))).isTrue();
            Datagrams.Received r = Datagrams.receive(receiver, 64);
            assertThat(new String(r.data(), StandardCharsets.UTF_8)).isEqualTo("READY=1\nSTATUS=up");
            assertThat(r.truncated()).isFalse();
            assertThat(r.pid()).isEqualTo(Processes.getpid());
            assertThat(r.uid()).isEqualTo(Processes.geteuid());
            assertThat(Sockets.localUnixAddress(receiver)).isEqualTo(address);
        } finally {
            Fds.close(receiver);
            Fds.close(sender);
        }
    }

    @Test
    void anAbstractAddressWorksAndAnOversizedMessageIsMarkedTruncated() {
        String address = "@einhyrningsins-test/" + ProcessHandle.current().pid() + "/" + System.nanoTime();
        int receiver = Datagrams.receiver(address);
        int sender = Datagrams.sender();
        try {
            assertThat(Sockets.localUnixAddress(receiver)).isEqualTo(address);
            Datagrams.send(sender, address, new byte[10_000]);
            Datagrams.Received r = Datagrams.receive(receiver, 4096);
            assertThat(r.truncated()).isTrue();
            assertThat(r.data()).hasSize(4096);
            assertThat(Datagrams.receive(receiver, 4096)).as("one datagram, read once").isNull();
        } finally {
            Fds.close(receiver);
            Fds.close(sender);
        }
    }

    @Test
    void sendingToNobodyFailsNamingTheAddress(@TempDir Path dir) {
        int sender = Datagrams.sender();
        try {
            String nobody = dir.resolve("nobody").toString();
            assertThatThrownBy(() -> Datagrams.send(sender, nobody, new byte[] {'x'}))
                    .isInstanceOf(PosixException.class).hasMessageStartingWith("sendmsg " + nobody + ": ENOENT");
        } finally {
            Fds.close(sender);
        }
    }

    @Test
    void descriptorsTravelWithTheMessageAndArriveAsCopiesOfTheSameSocket() throws Exception {
        String address = "@einhyrningsins-test/" + ProcessHandle.current().pid() + "/fds/" + System.nanoTime();
        int receiver = Datagrams.receiver(address);
        int sender = Datagrams.sender();
        int[] pair = Sockets.socketPair();
        try {
            assertThat(Datagrams.send(sender, address, "FDSTORE=1\nFDNAME=web".getBytes(StandardCharsets.UTF_8),
                    new int[] {pair[0]})).isTrue();
            Datagrams.Received r = Datagrams.receive(receiver, 64, 4);
            assertThat(new String(r.data(), StandardCharsets.UTF_8)).isEqualTo("FDSTORE=1\nFDNAME=web");
            assertThat(r.uid()).as("credentials still come").isEqualTo(Processes.geteuid());
            assertThat(r.fds()).hasSize(1);
            int copy = r.fds()[0];
            assertThat(copy).isNotEqualTo(pair[0]);
            assertThat(Files.readSymbolicLink(Path.of("/proc/self/fd/" + copy)))
                    .isEqualTo(Files.readSymbolicLink(Path.of("/proc/self/fd/" + pair[0])));
            assertThat(Fds.isCloexec(copy)).isTrue();
            Fds.write(copy, new byte[] {'x'}, 0, 1);
            byte[] in = new byte[1];
            assertThat(Fds.read(pair[1], in)).isEqualTo(1);
            Fds.close(copy);

            Datagrams.send(sender, address, "FDSTORE=1".getBytes(StandardCharsets.UTF_8), new int[] {pair[0]});
            Datagrams.Received none = Datagrams.receive(receiver, 64);
            assertThat(none.fds()).as("not asked for: the kernel closes them").isEmpty();
            assertThat(none.uid()).isEqualTo(Processes.geteuid());
        } finally {
            Fds.close(receiver);
            Fds.close(sender);
            Fds.close(pair[0]);
            Fds.close(pair[1]);
        }
    }
}
