package dev.einhyrningsins.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * --user: the supervisor binds as root (port 80), workers and their checks run as a uid
 * without a passwd entry (its own number as gid, no supplementary groups), composing with
 * -k; the workers' user may ack on the control socket and nothing more.
 */
class UserIT {
    /** A uid with no passwd entry. */
    static final String UID = "54321";

    @TempDir
    Path dir;

    static void assumeRoot() {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs /usr/bin/python3");
    }

    /** The Uid:, Gid: and Groups: lines of a process's status, blanks squeezed: "Uid: 0 0 0 0 Gid: …". */
    static String ids(long pid) throws IOException {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("Uid:") || line.startsWith("Gid:") || line.startsWith("Groups:")) out.add(line.strip());
        }
        return String.join(" ", out).replaceAll("\\s+", " ");
    }

    /** Sends {@code line} to the control socket as {@code uid}; returns the first reply line. */
    SupervisorProcess.Result asUid(String uid, Path socket, String line) throws Exception {
        String py = """
                import socket, sys
                s = socket.socket(socket.AF_UNIX)
                s.connect(sys.argv[1])
                s.sendall(sys.argv[2].encode() + b"\\n")
                print(s.makefile("rb").readline().decode().strip())
                """;
        return SupervisorProcess.runToExitIn(dir, "", "setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups",
                "/usr/bin/python3", "-c", py, socket.toString(), line);
    }

    @Test
    void workersAndChecksRunAsTheUserWhileTheSupervisorBindsPort80AndTheUserMayOnlyAck() throws Exception {
        assumeRoot();
        try (ServerSocket taken = new ServerSocket(80, 1, InetAddress.getByName("127.0.0.1"))) {
            assertThat(taken.getLocalPort()).isEqualTo(80);
        } catch (IOException e) {
            assumeTrue(false, "127.0.0.1:80 is taken here: " + e.getMessage());
        }
        // the uid reaches the control socket (dir) and writes its reports (home)
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path home = Files.createDirectory(dir.resolve("home"));
        Files.setPosixFilePermissions(home, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path probe = Files.copy(SupervisorProcess.worker("probe.py"), home.resolve("probe.py"));
        Files.setPosixFilePermissions(probe, PosixFilePermissions.fromString("rwxr-xr-x"));
        String check = "grep -E '^(Uid|Gid|Groups):' /proc/self/status | tr -s '\\t\\n' '  '";
        try (var sup = SupervisorProcess.start(dir, Map.of("ACK", "1", "PROBE_DIR", home.toString()), "--user", UID, "-k",
                "-n", "2", "-m", "manual", "-b", "127.0.0.1:80", "--ready-check", check, "/usr/bin/python3",
                probe.toString())) {
            List<Integer> workers = sup.awaitAcked(2);
            sup.awaitLine("Workers and checks run as user \\(uid 54321\\), group \\(gid 54321\\), no supplementary groups");
            String user = "Uid: 54321 54321 54321 54321 Gid: 54321 54321 54321 54321 Groups:";
            for (int pid : workers) {
                assertThat(ids(pid)).as("worker " + pid).isEqualTo(user);
                JsonNode report = SupervisorProcess.readJson(home.resolve(pid + ".json"));
                assertThat(report.path("pdeathsig").asInt()).as("-k composes: USR2 after the ids changed").isEqualTo(12);
                assertThat(report.path("ppid").asLong()).isEqualTo(sup.pid());
            }
            assertThat(ids(sup.pid())).as("the supervisor").startsWith("Uid: 0 0 0 0 Gid: 0 0 0 0");
            JsonNode state = sup.state();
            for (JsonNode w : state.path("workers")) {
                assertThat(w.path("ready_check").path("last_line").asText()).as("the check's own ids").isEqualTo(user);
            }
            assertThat(state.path("sockets").get(0).path("address").asText()).isEqualTo("127.0.0.1:80");
            JsonNode runAs = state.path("run_as");
            assertThat(runAs.path("uid").asInt()).isEqualTo(54321);
            assertThat(runAs.path("gid").asInt()).isEqualTo(54321);
            assertThat(runAs.path("user").isNull()).isTrue();
            assertThat(runAs.path("groups")).isEmpty();

            assertThat(Files.getAttribute(sup.socket, "unix:gid", LinkOption.NOFOLLOW_LINKS)).isEqualTo(54321);
            assertThat(Files.getAttribute(sup.socket, "unix:uid", LinkOption.NOFOLLOW_LINKS)).isEqualTo(0);
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sup.socket, LinkOption.NOFOLLOW_LINKS)))
                    .isEqualTo("rw-rw----");
            SupervisorProcess.Result refused = asUid(UID, sup.socket, "{\"command\":\"state\",\"id\":1}");
            assertThat(refused.stdout()).as(refused.stderr()).contains("Permission denied: workers' processes may send "
                    + "worker:ack and worker:ping only").contains("\"ok\":false");
            SupervisorProcess.Result stranger = asUid("54322", sup.socket, "{\"command\":\"state\"}");
            assertThat(stranger.stderr()).as("another uid cannot even reach the socket file").contains("PermissionError");

            // new workers of an upgrade run as the user too, and their acks count
            assertThat(sup.request("upgrade", null).getLast().path("message").asText()).isEqualTo("Upgrade done");
            for (int pid : sup.awaitAcked(2)) assertThat(ids(pid)).isEqualTo(user);
            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
        }
    }

    @Test
    void withoutRootOrWithAnUnknownUserTheStartIsRefusedInOneLine() throws Exception {
        assumeRoot();
        SupervisorProcess.Result unknown = SupervisorProcess.runToExit(dir, Map.of(), "--user", "no-such-user-einhyrningsins",
                "--", "true");
        assertThat(unknown.status()).isEqualTo(1);
        assertThat(unknown.stderr().strip()).matches("einhyrningsins\\[\\d+\\]: ERROR --user no-such-user-einhyrningsins: "
                + "no such user \\(give a user name or a uid\\)");
        SupervisorProcess.Result group = SupervisorProcess.runToExit(dir, Map.of(), "--user", "0", "--group",
                "no-such-group-einhyrningsins", "--", "true");
        assertThat(group.status()).isEqualTo(1);
        assertThat(group.stderr()).contains("--group no-such-group-einhyrningsins: no such group");

        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
        SupervisorProcess.Result notRoot = SupervisorProcess.runToExitIn(dir, "", "setpriv", "--reuid=" + UID,
                "--regid=" + UID, "--clear-groups", "env", "TMPDIR=" + dir, SupervisorProcess.java(), "-jar",
                SupervisorProcess.jar().toString(), "--user", "1000", "--", "true");
        assertThat(notRoot.status()).isEqualTo(1);
        assertThat(notRoot.stderr().strip()).matches("einhyrningsins\\[\\d+\\]: ERROR --user needs root: the supervisor "
                + "runs as uid 54321 and cannot start workers as another user");
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).as("nothing left behind").isEmpty();
        }
    }
}
