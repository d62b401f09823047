package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where operators run supervisors: arbitrary uids, scripted clients, bursts, big -g fleets, faults. */
class FieldIT {
    /** A uid with no passwd entry, as `docker run --user 54321` or OpenShift gives. */
    static final String UID = "54321";

    @TempDir
    Path dir;

    static List<String> asUid() {
        return List.of("setpriv", "--reuid=" + UID, "--regid=" + UID, "--clear-groups");
    }

    static void assumeRootAndSetpriv() {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to run as another uid");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs /usr/bin/python3");
    }

    List<Path> probeFiles() {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches("\\d+\\.json")).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    @Test
    void anArbitraryUidWithoutAUserNameGetsAcksUpgradesAndCtl() throws Exception {
        assumeRootAndSetpriv();
        // everything the uid needs lives in its own directory (the checkout may not be readable to it)
        UserPrincipal uid = dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(UID);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path home = Files.createDirectory(dir.resolve("home"));
        Path jar = Files.copy(SupervisorProcess.jar(), home.resolve("einhyrningsins.jar"));
        Path probe = Files.copy(SupervisorProcess.worker("probe.py"), home.resolve("probe.py"));
        Files.setPosixFilePermissions(probe, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setOwner(home, uid);
        List<String> launch = new ArrayList<>(asUid());
        launch.addAll(List.of(SupervisorProcess.java(), "-jar", jar.toString()));
        Map<String, String> env = Map.of("PATH", "/usr/bin:/bin", "ACK", "1", "PROBE_DIR", home.toString(),
                "TMPDIR", home.toString());
        try (var sup = SupervisorProcess.launch(launch, home, env, "-n", "2", "-m", "manual", probe.toString())) {
            List<Integer> first = sup.awaitAcked(2);
            assertThat(Files.getOwner(sup.socket)).isEqualTo(uid);

            List<String> ctl = new ArrayList<>(launch);
            ctl.addAll(List.of("ctl", "-d", sup.socket.toString()));
            SupervisorProcess.Result upgrade = run(env, ctl, "-e", "upgrade");
            assertThat(upgrade.stderr()).isEmpty();
            assertThat(upgrade.stdout()).contains("2/2 acked").contains("Upgrade done");
            assertThat(upgrade.status()).isZero();
            List<Integer> second = sup.awaitAcked(2);
            assertThat(second).doesNotContainAnyElementsOf(first);

            SupervisorProcess.Result state = run(env, ctl, "--json", "-e", "state");
            assertThat(state.status()).as(state.stderr()).isZero();
            JsonNode json = SupervisorProcess.JSON.readTree(state.stdout());
            assertThat(json.path("workers")).hasSize(2);
            assertThat(json.path("generation").asInt()).isEqualTo(2);
            SupervisorProcess.Result ehlo = run(env, ctl, "-e", "ehlo");
            assertThat(ehlo.stdout()).startsWith("Welcome, " + UID + "!");
        }
    }

    static SupervisorProcess.Result run(Map<String, String> env, List<String> cmd, String... more) throws Exception {
        List<String> all = new ArrayList<>(cmd);
        all.addAll(List.of(more));
        ProcessBuilder pb = new ProcessBuilder(all);
        pb.environment().putAll(env);
        Process p = pb.start();
        p.getOutputStream().close();
        var out = p.getInputStream().readAllBytes();
        var err = p.getErrorStream().readAllBytes();
        if (!p.waitFor(SupervisorProcess.WAIT.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("did not exit: " + all);
        }
        return new SupervisorProcess.Result(p.exitValue(), new String(out, StandardCharsets.UTF_8),
                new String(err, StandardCharsets.UTF_8));
    }

    @Test
    void scriptedClientsThatHalfCloseGetTheirReplies() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/socat")), "needs socat");
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", "2", "-m", "0.2",
                SupervisorProcess.worker("probe.py").toString())) {
            sup.awaitAcked(2);
            // printf ... | socat: stdin's end shuts down socat's sending side before the reply comes
            var socat = SupervisorProcess.runToExitIn(dir, "{\"command\":\"state\"}\n",
                    "socat", "-", "UNIX-CONNECT:" + sup.socket);
            assertThat(socat.status()).isZero();
            assertThat(socat.stdout()).contains("\\\"generation\\\"").contains("\"message\"");

            // Python's shutdown(SHUT_WR) after asking for an upgrade: every line of the stream arrives
            String py = """
                    import socket, sys
                    s = socket.socket(socket.AF_UNIX)
                    s.connect(sys.argv[1])
                    s.sendall(b'{"id":1,"command":"upgrade"}\\n{"id":2,"command":"ehlo"}\\n')
                    s.shutdown(socket.SHUT_WR)
                    sys.stdout.write(s.makefile().read())
                    """;
            var python = SupervisorProcess.runToExitIn(dir, "", "python3", "-c", py, sup.socket.toString());
            assertThat(python.status()).as(python.stderr()).isZero();
            List<String> lines = python.stdout().lines().toList();
            assertThat(lines.getFirst()).contains("Upgrading smoothly");
            assertThat(python.stdout()).contains("Welcome").contains("2/2 acked");
            assertThat(lines.getLast()).contains("Upgrade done").contains("\"request_id\":1").doesNotContain("wait");
        }
    }

    @Test
    void stateAnswersWhile200IdleClientsAreConnected() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-m", "0.2",
                SupervisorProcess.worker("probe.py").toString())) {
            sup.awaitAcked(1);
            List<SocketChannel> idle = new ArrayList<>();
            try {
                for (int i = 0; i < 200; i++) {
                    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                    idle.add(ch);
                    ch.configureBlocking(false);
                    assertThat(ch.connect(UnixDomainSocketAddress.of(sup.socket)) || ch.finishConnect())
                            .as("connect %d", i).isTrue();
                }
                assertThat(sup.state().path("workers")).hasSize(1);
            } finally {
                for (SocketChannel ch : idle) ch.close();
            }
        }
    }

    /** A shell worker that acks through EINHORN_SOCK_FD (when ACK_FD=1) and then sleeps. */
    Path fdWorker() throws IOException {
        Path worker = dir.resolve("fd-worker.sh");
        Files.writeString(worker, """
                #!/bin/sh
                if [ "$ACK_FD" = 1 ]; then
                    printf '{"command":"worker:ack","pid":%d}\\n' $$ >&"$EINHORN_SOCK_FD"
                fi
                exec sleep 600
                """);
        Files.setPosixFilePermissions(worker, PosixFilePermissions.fromString("rwxr-xr-x"));
        return worker;
    }

    @Test
    void threeHundredWorkersAckThroughTheirOwnChannels() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of("ACK_FD", "1"), "-g", "-n", "300", "-m", "manual",
                fdWorker().toString())) {
            sup.awaitAcked(300);
            var ctl = SupervisorProcess.runToExitIn(dir, "", SupervisorProcess.java(), "-jar",
                    SupervisorProcess.jar().toString(), "ctl", "-d", sup.socket.toString(), "-e", "ehlo");
            assertThat(ctl.status()).as(ctl.stderr()).isZero();
        }
    }

    @Test
    void threeHundredOpenWorkerChannelsLeaveTheControlSocketToOperators() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-g", "-n", "300", "-m", "0.5", fdWorker().toString())) {
            sup.awaitAcked(300);
            // every worker still holds its channel; the control socket's 256 are all for operators
            List<SocketChannel> operators = new ArrayList<>();
            try {
                for (int i = 0; i < 255; i++) {
                    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                    operators.add(ch);
                    ch.connect(UnixDomainSocketAddress.of(sup.socket));
                }
                var ctl = SupervisorProcess.runToExitIn(dir, "", SupervisorProcess.java(), "-jar",
                        SupervisorProcess.jar().toString(), "ctl", "-d", sup.socket.toString(), "-e", "ehlo");
                assertThat(ctl.status()).as(ctl.stderr()).isZero();
                assertThat(ctl.stdout()).startsWith("Welcome");
            } finally {
                for (SocketChannel ch : operators) ch.close();
            }
        }
    }

    @Test
    void anErrorEscapingTheLoopStopsWorkersAndRemovesTheSocketAndPidfile() throws Exception {
        Path pidfile = dir.resolve("sup.pid");
        Path socket = dir.resolve("ctl.sock");
        List<String> cmd = List.of(SupervisorProcess.java(), "--enable-native-access=ALL-UNNAMED",
                "--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), FaultySupervisor.class.getName());
        // manual acks: a worker is acked only once its graceful-signal handler is installed
        try (var sup = SupervisorProcess.launch(cmd, dir, Map.of("ACK", "1"), "-n", "2", "-m", "manual", "-e", pidfile.toString(),
                SupervisorProcess.worker("probe.py").toString())) {
            List<Integer> workers = sup.awaitAcked(2);
            await("pidfile", () -> Files.exists(pidfile));
            // acked by the 0.2 s timer, but is each worker far enough to handle the graceful signal?
            await("the workers' reports", () -> workers.stream().allMatch(pid -> Files.exists(dir.resolve(pid + ".json"))));
            sup.raw("{\"command\":\"signal\",\"args\":[\"USR1\"]}\n", false); // no reply: the loop dies on it
            assertThat(sup.awaitExit()).isEqualTo(1);
            assertThat(sup.log()).contains("supervisor loop failed: java.lang.StackOverflowError: injected");
            for (int pid : workers) {
                assertThat(dir.resolve(pid + ".graceful")).as("worker %d got the graceful signal", pid).exists();
                assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
            }
            assertThat(socket).doesNotExist();
            assertThat(pidfile).doesNotExist();
        }
    }
}
