package dev.einhyrningsins.systemd;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.cli.BindSpec;
import dev.einhyrningsins.posix.Datagrams;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.Sockets;
import dev.einhyrningsins.shell.Log;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The fd store's names, which passed sockets are its, when it is used, and what goes to the service manager. */
class FdStoreTest {
    final Log log = new Log(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), 1, 1);

    @Test
    void aBindsNameInTheStoreIsItsIndexAndItsOwnName() {
        assertThat(FdStore.name(0, BindSpec.parse("127.0.0.1:80"))).isEqualTo("einhyrningsins-0");
        assertThat(FdStore.name(3, BindSpec.parse("udp:[::]:53,name=dns"))).isEqualTo("einhyrningsins-3-dns");
        String longName = "x".repeat(255);
        assertThat(FdStore.name(12, BindSpec.parse("127.0.0.1:80,name=" + longName))).hasSize(FdStore.MAX_NAME)
                .startsWith("einhyrningsins-12-x");
    }

    @Test
    void passedSocketsNamedByUsAreTheStoresTheOthersSocketActivations() {
        List<SocketActivation.Passed> passed = List.of(new SocketActivation.Passed(3, "web"),
                new SocketActivation.Passed(4, "einhyrningsins-0"), new SocketActivation.Passed(5, "unknown"),
                new SocketActivation.Passed(6, "einhyrningsins-1-dns"));
        List<List<SocketActivation.Passed>> split = FdStore.split(passed);
        assertThat(split.get(0)).extracting(SocketActivation.Passed::fd).containsExactly(3, 5);
        assertThat(split.get(1)).extracting(SocketActivation.Passed::fd).containsExactly(4, 6);
    }

    @Test
    void onlyAPositiveFdstoreWithAServiceManagerToTellTurnsItOn() {
        String address = "@einhyrningsins-test/fdstore-unit/" + ProcessHandle.current().pid() + "/" + System.nanoTime();
        try (Notifier n = Notifier.fromEnvironment(Map.of("NOTIFY_SOCKET", address), 1, log)) {
            assertThat(FdStore.fromEnvironment(Map.of("FDSTORE", "16"), n)).isNotNull();
            assertThat(FdStore.fromEnvironment(Map.of("FDSTORE", " 1 "), n)).isNotNull();
            assertThat(FdStore.fromEnvironment(Map.of("FDSTORE", "0"), n)).isNull();
            assertThat(FdStore.fromEnvironment(Map.of("FDSTORE", "many"), n)).isNull();
            assertThat(FdStore.fromEnvironment(Map.of(), n)).isNull();
            assertThat(FdStore.fromEnvironment(Map.of("FDSTORE", "16"), null)).isNull();
        }
    }

    @Test
    void keepSendsTheSocketAndReleaseNamesIt() throws Exception {
        String address = "@einhyrningsins-test/fdstore-unit/" + ProcessHandle.current().pid() + "/" + System.nanoTime();
        int manager = Datagrams.receiver(address);
        int[] pair = Sockets.socketPair();
        try (Notifier n = Notifier.fromEnvironment(Map.of("NOTIFY_SOCKET", address), 1, log)) {
            FdStore store = FdStore.fromEnvironment(Map.of("FDSTORE", "4"), n);
            store.keep(pair[0], "einhyrningsins-0");
            Datagrams.Received kept = Datagrams.receive(manager, 512, 4);
            assertThat(new String(kept.data(), StandardCharsets.UTF_8)).isEqualTo("FDSTORE=1\nFDNAME=einhyrningsins-0\nFDPOLL=0");
            assertThat(kept.fds()).hasSize(1);
            assertThat(Files.readSymbolicLink(Path.of("/proc/self/fd/" + kept.fds()[0])))
                    .isEqualTo(Files.readSymbolicLink(Path.of("/proc/self/fd/" + pair[0])));
            Fds.close(kept.fds()[0]);
            store.release("einhyrningsins-0");
            Datagrams.Received released = Datagrams.receive(manager, 512, 4);
            assertThat(new String(released.data(), StandardCharsets.UTF_8)).isEqualTo("FDSTOREREMOVE=1\nFDNAME=einhyrningsins-0");
            assertThat(released.fds()).isEmpty();
        } finally {
            Fds.close(manager);
            Fds.close(pair[0]);
            Fds.close(pair[1]);
        }
    }
}
