package dev.einhyrningsins.control;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * --user's workers on the control socket: the socket file is their group's (0660), and what a
 * client of their uid sends is held to worker:ack and worker:ping. (That the peer's uid picks
 * this dispatcher is UserIT's, with a real other uid.)
 */
// on a thread of its own: a read of the helper's output blocked on a pipe would not end by an interrupt
@org.junit.jupiter.api.Timeout(value = 60, unit = java.util.concurrent.TimeUnit.SECONDS,
        threadMode = org.junit.jupiter.api.Timeout.ThreadMode.SEPARATE_THREAD)
class WorkersUserTest {
    @TempDir
    Path dir;

    final List<String> logs = java.util.Collections.synchronizedList(new ArrayList<>());
    final ControlServer.Log log = new ControlServer.Log() {
        @Override
        public void info(String m) {
            logs.add(m);
        }

        @Override
        public void warn(String m) {
            logs.add("WARN " + m);
        }

        @Override
        public void debug(String m) {
            logs.add(m);
        }
    };

    ControlServer server;
    Pump pump;

    @AfterEach
    void close() throws InterruptedException {
        if (pump != null) pump.close();
        if (server != null) server.close();
    }

    /** A request as the wire gives it. */
    static Request request(String command) {
        return new Request(command, 1, null, 42, null, Map.of("command", command));
    }

    record Sent(String message, boolean last, boolean ok) {}

    @Test
    void aWorkersUserMayAckAndPingAndIsToldWhyForAnythingElse() {
        List<String> dispatched = new ArrayList<>();
        List<Sent> replies = new ArrayList<>();
        Session.Dispatcher only = ControlServer.workersOnly((r, to) -> dispatched.add(r.command()), log);
        ReplyTo to = (message, last, ok) -> replies.add(new Sent(message, last, ok));
        only.dispatch(request("worker:ack"), to);
        only.dispatch(request("worker:ping"), to);
        assertThat(dispatched).containsExactly("worker:ack", "worker:ping");
        assertThat(replies).isEmpty();
        for (String command : List.of("state", "upgrade", "die", "signal", "config", "reload", "workerack")) {
            only.dispatch(request(command), to);
        }
        assertThat(dispatched).as("nothing else reaches the supervisor").containsExactly("worker:ack", "worker:ping");
        assertThat(replies).hasSize(7).allSatisfy(s -> {
            assertThat(s.message()).isEqualTo("Permission denied: workers' processes may send worker:ack and worker:ping only");
            assertThat(s.last()).isTrue();
            assertThat(s.ok()).isFalse();
        });
        assertThat(logs).as("one line for the connection, not one per request").filteredOn(l -> l.startsWith("WARN Refused"))
                .containsExactly("WARN Refused 'state' from the workers' user: it may send worker:ack and worker:ping only"
                        + " (said once per connection)");
    }

    @Test
    void theSocketFileIsTheWorkersGroupsWithMode0660AndTheOwnerIsServedAsEver() throws Exception {
        int gid = (Integer) Files.getAttribute(dir, "unix:gid"); // a group we may give files to, root or not
        int uid = (Integer) Files.getAttribute(dir, "unix:uid");
        Path sock = dir.resolve("ctl.sock");
        server = ControlServer.open(sock, dir.resolve("ctl.lock"), in -> in.replyTo().send("echo " + in.request().command(),
                true, true), log, new ControlServer.Workers(uid + 1, gid));
        pump = new Pump(server::pollables);
        assertThat(Files.getAttribute(sock, "unix:gid", LinkOption.NOFOLLOW_LINKS)).isEqualTo(gid);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sock, LinkOption.NOFOLLOW_LINKS)))
                .isEqualTo("rw-rw----");
        try (ControlServerTest.Client c = new ControlServerTest.Client(sock)) {
            c.write("{\"command\":\"state\"}\n");
            assertThat(c.message()).as("the socket's owner is no worker").isEqualTo("echo state");
        }
    }

    @Test
    void withoutWorkersOfAnotherUserTheFileStaysPrivate() throws Exception {
        Path sock = dir.resolve("ctl.sock");
        server = ControlServer.open(sock, dir.resolve("ctl.lock"), in -> { }, log, null);
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sock, LinkOption.NOFOLLOW_LINKS)))
                .isEqualTo("rw-------");
    }

    /** An echoing server whose workers run as uid 65534 (nobody), pumped; its socket. Needs root for setpriv. */
    Path openForWorkersOfUid65534() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "needs root for setpriv");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x")); // the other uid may enter
        Path sock = dir.resolve("ctl.sock");
        server = ControlServer.open(sock, dir.resolve("ctl.lock"), in -> in.replyTo().send("echo " + in.request().command(),
                true, true), log, new ControlServer.Workers(65534, 65534));
        pump = new Pump(server::pollables);
        return sock;
    }

    @Test
    void withEveryConnectionTakenByTheWorkersUserAnOperatorStillGetsIn() throws Exception {
        Path sock = openForWorkersOfUid65534();
        // the workers' user opens every connection there is and sends nothing
        String py = "import socket,sys\nss=[]\nfor i in range(" + ControlServer.MAX_CONNECTIONS + "):\n"
                + "    s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); ss.append(s)\n"
                + "print('open', flush=True)\nsys.stdin.read()\n";
        Process p = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "/usr/bin/python3", "-c", py, sock.toString()).redirectErrorStream(true).start();
        try (var out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()))) {
            String first = out.readLine();
            assertThat(first).as(() -> first + "\n" + out.lines().collect(java.util.stream.Collectors.joining("\n")))
                    .isEqualTo("open");
            dev.einhyrningsins.Await.await("all taken", () -> {
                try {
                    return pump.call(server::counts).open() == ControlServer.MAX_CONNECTIONS;
                } catch (Exception e) {
                    return false;
                }
            });
            try (ControlServerTest.Client c = new ControlServerTest.Client(sock)) {
                c.write("{\"command\":\"state\"}\n");
                assertThat(c.message()).isEqualTo("echo state");
            }
            assertThat(pump.call(server::counts).displaced()).isEqualTo(1);
            synchronized (logs) {
                assertThat(logs).anyMatch(l -> l.startsWith("WARN Worker's control client")
                        && l.contains("was the oldest of the workers' user's when all 256 connections were open"));
            }
        } finally {
            p.destroyForcibly().waitFor();
        }
    }

    @Test
    void aReloadNeverKeepsAConnectionOfTheWorkersUser() throws Exception {
        Path sock = openForWorkersOfUid65534();
        // a connection of the workers' user that prints what it is told
        String py = "import socket,sys\ns=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(20)\n"
                + "print('open', flush=True)\nprint(s.makefile().readline().strip(), flush=True)\n";
        Process p = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "/usr/bin/python3", "-c", py, sock.toString()).redirectErrorStream(true).start();
        try (var out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()));
                ControlServerTest.Client operator = new ControlServerTest.Client(sock)) {
            assertThat(out.readLine()).isEqualTo("open");
            dev.einhyrningsins.Await.await("both open", () -> {
                try {
                    return pump.call(server::counts).open() == 2;
                } catch (Exception e) {
                    return false;
                }
            });
            // even if the reload named every session, the workers' user's connection would not go on
            // in the next process, where a kept connection is served as the operator's
            pump.run(() -> server.quiesce(session -> true));
            assertThat(out.readLine()).contains("The supervisor is reloading itself; reconnect to go on");
            assertThat(pump.call(server::kept)).hasSize(1);
        } finally {
            p.destroyForcibly().waitFor();
        }
    }
}
