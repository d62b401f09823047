package dev.einhyrningsins.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * UNIX listeners a reverse proxy running as another user can reach: {@code mode=},
 * {@code group=}, {@code owner=} hold for real clients of other uids (setpriv), and bad
 * values fail cleanly.
 */
class UnixListenerIT {
    /** A proxy's user: a uid in the group www-data (33), as nginx runs on Debian. */
    static final String PROXY = "54321";
    /** A user outside every group the sockets name. */
    static final String STRANGER = "54322";
    /** The owner given with owner= (no passwd entry: by number). */
    static final String OWNER = "54323";

    @TempDir
    Path dir;

    /** Connects to {@code socket} as {@code uid} with {@code groups} ("" for none); for an HTTP socket, one GET. */
    SupervisorProcess.Result connectAs(String uid, String groups, Path socket, boolean http) throws Exception {
        String py = """
                import socket, sys
                s = socket.socket(socket.AF_UNIX)
                try:
                    s.connect(sys.argv[1])
                except PermissionError as e:
                    print("refused:", e.strerror); sys.exit(3)
                if sys.argv[2] == "http":
                    s.sendall(b"GET / HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n")
                    print(s.makefile("rb").readline().decode().strip())
                else:
                    print("connected")
                """;
        List<String> setpriv = groups.isEmpty()
                ? List.of("setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups")
                : List.of("setpriv", "--reuid=" + uid, "--regid=" + uid, "--groups=" + groups);
        List<String> cmd = new java.util.ArrayList<>(setpriv);
        cmd.addAll(List.of("/usr/bin/python3", "-c", py, socket.toString(), http ? "http" : "connect"));
        return SupervisorProcess.runToExitIn(dir, "", cmd.toArray(String[]::new));
    }

    static void assumeRoot() {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to connect as other uids");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs /usr/bin/python3");
    }

    @Test
    void aProxyInTheGroupReachesTheWorkersAndOthersAreRefused() throws Exception {
        assumeRoot();
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path web = dir.resolve("web.sock");
        Path owned = dir.resolve("owned.sock");
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-m", "manual",
                "-b", "unix:" + web + ",mode=0660,group=www-data", "-b", "unix:" + owned + ",mode=0600,owner=" + OWNER,
                "--", "python3", SupervisorProcess.example("http_worker.py").toString())) {
            sup.awaitAcked(1);
            assertThat(Files.getAttribute(web, "unix:mode", LinkOption.NOFOLLOW_LINKS)).isEqualTo(0140660);
            assertThat(Files.getAttribute(web, "unix:gid", LinkOption.NOFOLLOW_LINKS)).isEqualTo(33);
            assertThat(Files.getAttribute(owned, "unix:mode", LinkOption.NOFOLLOW_LINKS)).isEqualTo(0140600);
            assertThat(Files.getAttribute(owned, "unix:uid", LinkOption.NOFOLLOW_LINKS)).isEqualTo(Integer.parseInt(OWNER));

            var proxy = connectAs(PROXY, "33", web, true);
            assertThat(proxy.stdout().strip()).as("%s", proxy).isEqualTo("HTTP/1.1 200 OK");
            var stranger = connectAs(STRANGER, "", web, true);
            assertThat(stranger.status()).as("%s", stranger).isEqualTo(3);
            assertThat(stranger.stdout()).contains("refused: Permission denied");

            assertThat(connectAs(OWNER, "", owned, false).stdout().strip()).isEqualTo("connected");
            assertThat(connectAs(PROXY, "33", owned, false).status()).as("not the owner").isEqualTo(3);
            try (Stream<Path> files = Files.list(dir)) {
                assertThat(files.map(p -> p.getFileName().toString())).as("no private bind directory left")
                        .noneMatch(n -> n.startsWith(".einhyrningsins-"));
            }
            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
            assertThat(web).doesNotExist();
            assertThat(owned).doesNotExist();
        }
    }

    @Test
    void anUnknownGroupIsAStartUpErrorNamingItAndABadModeAUsageError() throws Exception {
        Path sock = dir.resolve("app.sock");
        var r = SupervisorProcess.runToExit(dir, Map.of(), "-d", dir.resolve("ctl.sock").toString(),
                "-b", "unix:" + sock + ",mode=0660,group=no-such-group-here", "--", "sleep", "60");
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.stderr()).contains("cannot bind -b unix:" + sock + ",mode=0660,group=no-such-group-here: no group "
                + "'no-such-group-here'");
        assertThat(r.stderr().lines().filter(l -> l.contains("ERROR"))).hasSize(1);
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).as("nothing left behind")
                    .noneMatch(n -> n.endsWith(".sock") || n.startsWith(".einhyrningsins-"));
        }
        var usage = SupervisorProcess.runToExit(dir, Map.of(), "-b", "unix:" + sock + ",mode=rw", "--", "sleep", "60");
        assertThat(usage.status()).isEqualTo(2);
        assertThat(usage.stderr()).startsWith("einhyrningsins: -b unix:" + sock + ",mode=rw: mode= takes octal permission bits");
    }
}
