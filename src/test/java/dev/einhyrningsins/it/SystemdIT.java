package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.einhyrningsins.Await;
import dev.einhyrningsins.posix.Datagrams;
import dev.einhyrningsins.posix.Fds;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** systemd, with its own tools: socket activation in and out, sd_notify up and down. */
class SystemdIT {

    @TempDir
    Path dir;

    static void assumeTool(String path) {
        assumeTrue(Files.isExecutable(Path.of(path)), "needs " + path + " (Debian's systemd package)");
    }

    /**
     * A free port for a tool that cannot bind port 0 (systemd-socket-activate): below the
     * kernel's ephemeral range, so no other test's connection or {@code :0} bind can take it
     * between this check and the tool's bind.
     */
    static int freePort() throws IOException {
        // one read of the whole line: sysctl files answer a read at an offset past 0 with nothing
        String[] range = Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).getFirst().trim().split("\\s+");
        int below = Math.min(Integer.parseInt(range[0]), 32768);
        if (below < 11_000) { // a range tuned to start low: any free port, as before
            try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                return s.getLocalPort();
            }
        }
        java.util.Random random = new java.util.Random();
        for (int i = 0; i < 100; i++) {
            int port = 10_000 + random.nextInt(below - 10_000);
            try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                return s.getLocalPort();
            } catch (IOException taken) {
                // another one
            }
        }
        throw new IOException("no free port between 10000 and " + below);
    }

    List<JsonNode> probes() {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches("\\d+\\.json")).map(SupervisorProcess::readJson).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    @Test
    void socketsPassedBySystemdSocketActivateBecomeTheWorkersListeners() throws Exception {
        assumeTool("/usr/bin/systemd-socket-activate");
        int port = freePort();
        // it hands its command a clean environment: pass on what the test's workers need
        List<String> cmd = List.of("systemd-socket-activate", "-l", "127.0.0.1:" + port, "--fdname=web",
                "-E", "PROBE_DIR", "-E", "TMPDIR", "-E", "PATH",
                SupervisorProcess.java(), "-jar", SupervisorProcess.jar().toString());
        try (var sup = SupervisorProcess.launchOnly(cmd, dir, Map.of(), "-m", "0.2",
                SupervisorProcess.worker("probe.py").toString())) {
            // systemd-socket-activate starts its command at the first connection, which then waits for a worker
            sup.awaitLine("Listening on 127.0.0.1:" + port + " as 3");
            try (Socket first = new Socket(InetAddress.getLoopbackAddress(), port)) {
                await("the supervisor's control socket", () -> Files.exists(sup.socket));
                sup.awaitAcked(1);
                JsonNode socket = sup.state().path("sockets").get(0);
                assertThat(socket.path("name").asText()).isEqualTo("web");
                assertThat(socket.path("from").asText()).isEqualTo("systemd");
                assertThat(socket.path("address").asText()).isEqualTo("127.0.0.1:" + port);
                await("the worker's report", () -> !probes().isEmpty());
                JsonNode probe = probes().getFirst();
                assertThat(probe.path("fd_info").path("3").path("listening").asBoolean()).isTrue();
                assertThat(probe.path("fd_info").path("3").path("address").get(1).asInt()).isEqualTo(port);
                assertThat(probe.path("env").has("LISTEN_FDS")).as("workers never see ours").isFalse();
                assertThat(probe.path("env").has("LISTEN_PID")).isFalse();
                assertThat(probe.path("env").has("LISTEN_FDNAMES")).isFalse();
                assertThat(probe.path("env").path("EINHORN_FD_0").asText()).isEqualTo("3");
            }
            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
        }
    }

    @Test
    void workersGetTheirSocketsTheSystemdWayWithTheirOwnPid() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs /usr/bin/python3");
        Path worker = dir.resolve("sd_worker.py");
        // the check of python3-systemd's sd_listen_fds (libsystemd): LISTEN_PID must be the worker's own pid
        Files.writeString(worker, """
                #!/usr/bin/python3
                import json, os, signal, sys
                try:
                    from systemd import daemon
                    fds = daemon.listen_fds_with_names(unset_environment=False)
                    lib = "libsystemd"
                except ImportError:
                    pid = os.environ.get("LISTEN_PID")
                    n = int(os.environ.get("LISTEN_FDS", "0")) if pid == str(os.getpid()) else 0
                    names = os.environ.get("LISTEN_FDNAMES", "").split(":")
                    fds = {3 + i: names[i] for i in range(n)}
                    lib = "python"
                report = {"pid": os.getpid(), "fds": {str(k): v for k, v in fds.items()}, "lib": lib,
                          "listen_pid": os.environ.get("LISTEN_PID"), "index": os.environ.get("EINHORN_CHILD_INDEX")}
                with open(os.path.join(os.environ["PROBE_DIR"], "sd-%d.json" % os.getpid()), "w") as f:
                    json.dump(report, f)
                signal.signal(signal.SIGUSR2, lambda *a: sys.exit(0))
                while True:
                    signal.pause()
                """);
        Files.setPosixFilePermissions(worker, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", "2", "-m", "0.2", "--listen-fds",
                "-b", "127.0.0.1:0,name=web", "-b", "unix:" + dir.resolve("admin.sock"), worker.toString())) {
            List<Integer> pids = sup.awaitAcked(2);
            for (int pid : pids) {
                Path report = dir.resolve("sd-" + pid + ".json");
                await("worker " + pid + "'s report", () -> Files.exists(report));
                JsonNode r = SupervisorProcess.readJson(report);
                assertThat(r.path("listen_pid").asText()).isEqualTo(String.valueOf(pid));
                assertThat(r.path("fds").path("3").asText()).isEqualTo("web");
                assertThat(r.path("fds").path("4").asText()).isEqualTo("unknown");
                assertThat(r.path("fds").size()).isEqualTo(2);
                assertThat(r.path("lib").asText()).as("checked by libsystemd itself (python3-systemd)").isEqualTo("libsystemd");
            }
        }
    }

    /** A NOTIFY_SOCKET of the test's own: what the supervisor tells its service manager. */
    static final class Receiver implements AutoCloseable {
        final String address;
        final int fd;
        final List<String> messages = new ArrayList<>();

        Receiver(String address) {
            this.address = address;
            this.fd = Datagrams.receiver(address);
        }

        /** Waits until a message matching {@code what} arrives; returns it. */
        String await(String description, Predicate<String> what) throws InterruptedException {
            String[] found = new String[1];
            Await.await(description, () -> {
                Datagrams.Received r;
                while ((r = Datagrams.receive(fd, 4096)) != null) messages.add(new String(r.data(), StandardCharsets.UTF_8));
                for (String m : messages) {
                    if (what.test(m)) {
                        found[0] = m;
                        return true;
                    }
                }
                return false;
            });
            messages.remove(found[0]);
            return found[0];
        }

        @Override
        public void close() {
            Fds.close(fd);
        }
    }

    @Test
    void theSupervisorTellsItsServiceManagerReadyReloadingStoppingAndPetsTheWatchdog() throws Exception {
        try (Receiver systemd = new Receiver(dir.resolve("notify.sock").toString());
             var sup = SupervisorProcess.start(dir, Map.of("NOTIFY_SOCKET", systemd.address, "WATCHDOG_USEC", "400000"),
                     "-n", "2", "-m", "0.2", SupervisorProcess.worker("probe.py").toString())) {
            String ready = systemd.await("READY=1", m -> m.startsWith("READY=1"));
            assertThat(ready).contains("STATUS=2 workers, 2 of 2 acked, generation 1");
            systemd.await("a first WATCHDOG=1", m -> m.equals("WATCHDOG=1"));
            systemd.await("a second WATCHDOG=1", m -> m.equals("WATCHDOG=1"));
            await("worker reports", () -> probes().size() == 2);
            for (JsonNode probe : probes()) {
                assertThat(probe.path("env").has("NOTIFY_SOCKET")).as("never passed to workers").isFalse();
                assertThat(probe.path("env").has("WATCHDOG_USEC")).isFalse();
            }

            List<JsonNode> upgrade = sup.request("upgrade", null);
            assertThat(upgrade.getLast().path("message").asText()).isEqualTo("Upgrade done");
            String reloading = systemd.await("RELOADING=1", m -> m.startsWith("RELOADING=1"));
            assertThat(reloading).containsPattern("MONOTONIC_USEC=\\d+");
            systemd.await("READY=1 after the upgrade", m -> m.equals("READY=1"));
            systemd.await("the new generation in STATUS", m -> m.contains("2 of 2 acked, generation 2"));

            sup.signal("TERM");
            systemd.await("STOPPING=1", m -> m.startsWith("STOPPING=1"));
            assertThat(sup.awaitExit()).isZero();
        }
    }

    @Test
    void anAbstractNotifySocketWorksToo() throws Exception {
        String address = "@einhyrningsins-it/" + ProcessHandle.current().pid() + "/" + System.nanoTime();
        try (Receiver systemd = new Receiver(address);
             var sup = SupervisorProcess.start(dir, Map.of("NOTIFY_SOCKET", address), "-m", "0.2",
                     SupervisorProcess.worker("probe.py").toString())) {
            assertThat(systemd.await("READY=1", m -> m.startsWith("READY=1"))).contains("1 of 1 acked");
        }
    }

    /** A worker for systemd: says READY=1 (and a status) with systemd-notify from its start script, then runs. */
    Path notifyingWorker() throws IOException {
        Path worker = dir.resolve("notify-worker.sh");
        Files.writeString(worker, """
                #!/bin/sh
                echo "$NOTIFY_SOCKET" > "$PROBE_DIR/notify-$$.txt"
                systemd-notify --ready --status="serving on slot $EINHORN_CHILD_INDEX"
                exec sleep 600
                """);
        Files.setPosixFilePermissions(worker, PosixFilePermissions.fromString("rwxr-xr-x"));
        return worker;
    }

    @Test
    void workersAckWithSystemdNotifyOnTheirOwnSocket() throws Exception {
        assumeTool("/usr/bin/systemd-notify");
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", "2", "-m", "notify", notifyingWorker().toString())) {
            List<Integer> pids = sup.awaitAcked(2);
            JsonNode state = sup.state();
            assertThat(state.path("config").path("ack_mode").path("type").asText()).isEqualTo("notify");
            List<String> statuses = new ArrayList<>();
            for (JsonNode w : state.path("workers")) statuses.add(w.path("status").asText());
            assertThat(statuses).containsExactlyInAnyOrder("serving on slot 0", "serving on slot 1");
            List<String> sockets = new ArrayList<>();
            for (int pid : pids) sockets.add(Files.readString(dir.resolve("notify-" + pid + ".txt")).strip());
            // each its own socket, in one private directory (0700) beside the control socket
            assertThat(sockets).doesNotHaveDuplicates().allMatch(s -> s.startsWith(dir + "/.einhyrningsins-notify-"));
            Path notifyDir = Path.of(sockets.getFirst()).getParent();
            assertThat(sockets).allMatch(s -> Path.of(s).getParent().equals(notifyDir));
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(notifyDir))).isEqualTo("rwx------");

            // garbage, an oversized datagram and one from another uid change nothing
            int sender = Datagrams.sender();
            try {
                Datagrams.send(sender, sockets.getFirst(), new byte[] {(byte) 0xff, 0, '\n', '='});
                Datagrams.send(sender, sockets.getFirst(), ("STOPPING=1\n" + "x".repeat(10_000)).getBytes(StandardCharsets.UTF_8));
            } finally {
                Fds.close(sender);
            }
            if (Files.isExecutable(Path.of("/usr/bin/setpriv"))) {
                var other = SupervisorProcess.runToExitIn(dir, "", "setpriv", "--reuid=54321", "--regid=54321",
                        "--clear-groups", "env", "NOTIFY_SOCKET=" + sockets.getFirst(), "systemd-notify", "STOPPING=1");
                // another user cannot even reach the socket: the directory is the workers' user's alone
                assertThat(other.status()).as("systemd-notify as uid 54321").isNotZero();
            }
            sup.awaitLine("Dropped 1 notify message for worker " + pids.getFirst() + " \\(the last over 4096 bytes\\)");
            assertThat(sup.workers(true)).containsExactlyInAnyOrderElementsOf(pids);

            // STOPPING=1 from the worker: it no longer counts, and a replacement starts
            var stopping = SupervisorProcess.runToExitIn(dir, "", "env", "NOTIFY_SOCKET=" + sockets.getFirst(),
                    "systemd-notify", "STOPPING=1");
            assertThat(stopping.status()).isZero();
            sup.awaitLine("Worker " + pids.getFirst() + " \\(slot \\d, generation 1\\) is stopping \\(STOPPING=1\\)");
            await("a replacement", () -> {
                try {
                    return sup.workers(true).size() == 3;
                } catch (IOException e) {
                    return false;
                }
            });

            // the socket goes away with its worker
            String name = sockets.getFirst().substring(1);
            assertThat(Files.readString(Path.of("/proc/net/unix"))).contains(name);
            sup.raw("{\"command\":\"signal\",\"args\":[\"KILL\"]}\n", true);
            await("the first worker's socket to be gone", () -> {
                try {
                    return !Files.readString(Path.of("/proc/net/unix")).contains(name);
                } catch (IOException e) {
                    return false;
                }
            });
            assertThat(Path.of(sockets.getFirst())).doesNotExist();
            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
            assertThat(notifyDir).as("the notify sockets' directory after the supervisor's exit").doesNotExist();
        }
    }

    @Test
    void theDocumentedUnitsPassSystemdAnalyzeVerify() throws Exception {
        assumeTool("/usr/bin/systemd-analyze");
        Path launcher = Path.of("target/image/bin/einhyrningsins").toAbsolutePath();
        Path ctl = Path.of("target/image/bin/einhyrningsinsctl").toAbsolutePath();
        assumeTrue(Files.isExecutable(launcher), "needs the runtime image (mvn package)");
        Path units = Files.createDirectory(dir.resolve("units"));
        List<String> names = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("docs/systemd"))) {
            for (Path unit : s.filter(p -> p.toString().matches(".*\\.(service|socket)")).toList()) {
                // the units name the launchers where the tarball is unpacked; verify against the built ones
                String text = Files.readString(unit)
                        .replace("/opt/einhyrningsins/bin/einhyrningsinsctl", ctl.toString())
                        .replace("/opt/einhyrningsins/bin/einhyrningsins", launcher.toString())
                        .replace("/srv/app/app.py", SupervisorProcess.example("http_worker.py").toString());
                Files.writeString(units.resolve(unit.getFileName()), text);
                names.add(unit.getFileName().toString());
            }
        }
        assertThat(names).contains("einhyrningsins.service", "einhyrningsins-activated.service", "einhyrningsins-activated.socket");
        for (String name : names) {
            var r = SupervisorProcess.runToExitIn(units, "", "systemd-analyze", "verify", "--man=no", units.resolve(name).toString());
            assertThat(r.status()).as(name + ": " + r.stderr()).isZero();
            assertThat(r.stderr()).as(name).isEmpty();
        }
    }
}
