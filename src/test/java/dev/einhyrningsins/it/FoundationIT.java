package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The walking skeleton on the real OS: sockets, spawning, the child contract, reaping, stopping. */
class FoundationIT {

    @TempDir
    Path dir;

    List<JsonNode> probes(int n) throws InterruptedException {
        List<JsonNode> out = new ArrayList<>();
        await(n + " probe reports", () -> probeFiles().size() >= n);
        for (Path p : probeFiles()) out.add(SupervisorProcess.readJson(p));
        return out;
    }

    List<Path> probeFiles() {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches("\\d+\\.json")).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** The same with -k, whose workers start through setpriv --pdeathsig: only the parent-death signal differs. */
    @ParameterizedTest(name = "-k {0}")
    @ValueSource(booleans = {false, true})
    void workersInheritTheSocketsAndEinhornsEnvironment(boolean killChildrenOnExit) throws Exception {
        List<String> args = new ArrayList<>(List.of("-n", "2", "-b", "127.0.0.1:0,r", "-b", "[::1]:0", "--drop-env-var", "SECRET"));
        if (killChildrenOnExit) args.add("-k");
        String probe = SupervisorProcess.worker("probe.py").toString();
        args.add(probe);
        try (var sup = SupervisorProcess.start(dir, Map.of("SECRET", "x", "KEEP", "y"), args.toArray(String[]::new))) {
            List<JsonNode> probes = probes(2);
            JsonNode state = sup.state();
            int port0 = state.path("sockets").get(0).path("port").asInt();
            int port1 = state.path("sockets").get(1).path("port").asInt();
            assertThat(port0).isPositive();
            Set<String> indexes = new HashSet<>();
            for (JsonNode p : probes) {
                JsonNode env = p.path("env");
                assertThat(env.path("EINHORN_FD_COUNT").asText()).isEqualTo("2");
                assertThat(env.path("EINHORN_FD_0").asText()).isEqualTo("3");
                assertThat(env.path("EINHORN_FD_1").asText()).isEqualTo("4");
                assertThat(env.path("EINHORN_FDS").asText()).isEqualTo("3 4");
                assertThat(env.path("EINHORN_MASTER_PID").asLong()).isEqualTo(sup.pid());
                assertThat(env.path("EINHORN_SOCK_PATH").asText()).isEqualTo(sup.socket.toString());
                assertThat(env.has("SECRET")).isFalse();
                assertThat(env.path("KEEP").asText()).isEqualTo("y");
                indexes.add(env.path("EINHORN_CHILD_INDEX").asText());
                // our direct child, leading its own process group, nothing blocked or ignored
                assertThat(p.path("ppid").asLong()).isEqualTo(sup.pid());
                assertThat(p.path("pgid").asInt()).isEqualTo(p.path("pid").asInt());
                assertThat(p.path("sigblk").asText()).matches("0+");
                // -k: the kernel sends the graceful signal (USR2 = 12) when the supervisor dies
                assertThat(p.path("pdeathsig").asInt()).isEqualTo(killChildrenOnExit ? 12 : 0);
                // the program's own command line: setpriv exec'd it in place
                List<String> cmdline = new ArrayList<>();
                p.path("cmdline").forEach(a -> cmdline.add(a.asText()));
                assertThat(cmdline.getLast()).isEqualTo(probe);
                assertThat(cmdline).noneMatch(a -> a.contains("setpriv"));
                // python3 itself ignores PIPE and XFSZ at start-up; nothing else may be ignored
                // (glibc's spawn would leave its internal signals 32/33 ignored without SETSIGDEF on them)
                long ignored = Long.parseLong(p.path("sigign").asText(), 16);
                assertThat(ignored & ~((1L << (13 - 1)) | (1L << (25 - 1)))).isZero();
                // exactly stdin/stdout/stderr plus the two listening sockets (python may open one fd for listdir)
                List<Integer> fds = new ArrayList<>();
                p.path("fds").forEach(f -> fds.add(f.asInt()));
                assertThat(fds.stream().filter(f -> f <= 4)).containsExactly(0, 1, 2, 3, 4);
                assertThat(fds.stream().filter(f -> f > 5)).isEmpty();
                JsonNode fd3 = p.path("fd_info").path("3");
                assertThat(fd3.path("listening").asBoolean()).isTrue();
                assertThat(fd3.path("address").get(1).asInt()).isEqualTo(port0);
                JsonNode fd4 = p.path("fd_info").path("4");
                assertThat(fd4.path("address").get(0).asText()).isEqualTo("::1");
                assertThat(fd4.path("address").get(1).asInt()).isEqualTo(port1);
            }
            assertThat(indexes).containsExactlyInAnyOrder("0", "1");
        }
    }

    @Test
    void anHttpWorkerServesThroughTheInheritedSocket() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", "2", "-m", "manual", "-b", "127.0.0.1:0",
                "python3", SupervisorProcess.example("http_worker.py").toString())) {
            List<Integer> pids = sup.awaitAcked(2);
            int port = sup.state().path("sockets").get(0).path("port").asInt();
            HttpClient http = HttpClient.newHttpClient();
            String body = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            assertThat(body).startsWith("v0 ");
            assertThat(pids).contains(Integer.parseInt(body.trim().split(" ")[1]));
        }
    }

    @Test
    void crashedWorkersAreReplacedWithBackoffAndTheirStatusIsLogged() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of("EXIT_CODE", "3"), "-s", "0.05",
                SupervisorProcess.worker("probe.py").toString())) {
            sup.awaitLine("exited with status 3 before it was acked");
            sup.awaitLine("after 3 consecutive unacked worker deaths");
            assertThat(sup.process.isAlive()).isTrue();
        }
    }

    @Test
    void termStopsGracefullyAndLeavesNothingBehind() throws Exception {
        Path pidfile = dir.resolve("sup.pid");
        var sup = SupervisorProcess.start(dir, Map.of(), "-n", "2", "-e", pidfile.toString(),
                "-b", "unix:" + dir.resolve("app.sock"), SupervisorProcess.worker("probe.py").toString());
        try (sup) {
            List<JsonNode> probes = probes(2);
            await("pidfile", () -> Files.exists(pidfile));
            assertThat(Files.readString(pidfile).trim()).isEqualTo(Long.toString(sup.pid()));
            assertThat(dir.resolve("app.sock")).exists();
            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
            for (JsonNode p : probes) assertThat(dir.resolve(p.path("pid").asText() + ".graceful")).exists();
            assertThat(sup.socket).doesNotExist();
            assertThat(pidfile).doesNotExist();
            assertThat(dir.resolve("app.sock")).doesNotExist();
            for (JsonNode p : probes) assertThat(ProcessHandle.of(p.path("pid").asLong())).isEmpty();
        }
    }

    @Test
    void interruptWorksEvenWhenStartedWithItIgnoredLikeABackgroundJob() throws Exception {
        // sh -c 'cmd &' and nohup hand the JVM INT/HUP ignored; the JVM would keep them so.
        // With a JVM option of the caller's own (-Xshare:auto, the default) java -jar runs as
        // started and takes its signals through the JVM's handlers
        var sup = SupervisorProcess.launch(List.of("sh", "-c", "trap '' INT HUP; exec \"$@\"", "sh",
                SupervisorProcess.java(), "-Xshare:auto", "-jar", SupervisorProcess.jar().toString()), dir, Map.of(),
                SupervisorProcess.worker("probe.py").toString());
        try (sup) {
            probes(1);
            sup.awaitLine("SIGINT was ignored when einhyrningsins started; handling it anyway");
            sup.signal("INT");
            assertThat(sup.awaitExit()).isZero();
            assertThat(sup.log()).contains("Got SIGINT");
        }
    }

    @Test
    void aPlainJavaJarStartedWithInterruptIgnoredReadsItFromTheKernel() throws Exception {
        // its lean start blocks INT: it waits in the kernel for the loop's signalfd
        var sup = SupervisorProcess.startWith(List.of("sh", "-c", "trap '' INT HUP; exec \"$@\"", "sh"), dir, Map.of(),
                SupervisorProcess.worker("probe.py").toString());
        try (sup) {
            probes(1);
            sup.signal("INT");
            assertThat(sup.awaitExit()).isZero();
            assertThat(sup.log()).contains("Got SIGINT").doesNotContain("was ignored when einhyrningsins started");
        }
    }

    @Test
    void signalTimeoutKillsWorkersThatIgnoreTheGracefulSignal() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of("IGNORE_GRACEFUL", "1"), "-t", "0.5",
                SupervisorProcess.worker("probe.py").toString())) {
            JsonNode probe = probes(1).getFirst();
            sup.signal("INT");
            assertThat(sup.awaitExit()).isZero();
            assertThat(dir.resolve(probe.path("pid").asText() + ".graceful")).exists();
            assertThat(sup.log()).contains("sending SIGKILL").contains("killed by SIGKILL");
        }
    }

    @Test
    void aSecondTermEscalatesToTermOnTheProcessGroups() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of("IGNORE_GRACEFUL", "1"),
                SupervisorProcess.worker("probe.py").toString())) {
            JsonNode probe = probes(1).getFirst();
            sup.signal("TERM");
            await("graceful signal delivered", () -> Files.exists(dir.resolve(probe.path("pid").asText() + ".graceful")));
            sup.signal("TERM");
            assertThat(sup.awaitExit()).isZero();
            assertThat(sup.log()).contains("sending TERM to the process groups").contains("killed by SIGTERM");
        }
    }

    @Test
    void aBusyAddressFailsTheStartWithNothingLeftBehind() throws Exception {
        try (ServerSocket taken = new ServerSocket()) {
            taken.bind(new InetSocketAddress("127.0.0.1", 0));
            Path pidfile = dir.resolve("x.pid");
            var r = SupervisorProcess.runToExit(dir, Map.of(), "-d", dir.resolve("ctl.sock").toString(),
                    "-e", pidfile.toString(), "-b", "127.0.0.1:" + taken.getLocalPort(),
                    SupervisorProcess.worker("probe.py").toString());
            assertThat(r.status()).isEqualTo(1);
            assertThat(r.stderr().strip().lines()).hasSize(1);
            assertThat(r.stderr()).contains("127.0.0.1:" + taken.getLocalPort()).contains("EADDRINUSE");
            try (Stream<Path> left = Files.list(dir)) {
                assertThat(left.map(p -> p.getFileName().toString())).doesNotContain("ctl.sock", "x.pid");
            }
        }
    }

    @Test
    void aMissingProgramFailsTheStart() throws Exception {
        var r = SupervisorProcess.runToExit(dir, Map.of(), "-d", dir.resolve("ctl.sock").toString(),
                "no-such-program-here");
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.stderr()).contains("no-such-program-here: command not found in PATH");
        assertThat(dir.resolve("ctl.sock")).doesNotExist();
        Path notExec = Files.writeString(dir.resolve("script.sh"), "#!/bin/sh\n");
        r = SupervisorProcess.runToExit(dir, Map.of(), notExec.toString());
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.stderr()).contains("not executable");
    }

    @Test
    void usageErrorsHelpAndVersion() throws Exception {
        var r = SupervisorProcess.runToExit(dir, Map.of(), "--bogus", "x");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.stderr()).isEqualTo("einhyrningsins: unknown option --bogus\n"
                + "Try 'einhyrningsins --help' for more information.\n");
        r = SupervisorProcess.runToExit(dir, Map.of(), "-b", "127.0.0.1:1,rn", "x");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.stderr()).contains("unknown bind option 'rn'");
        r = SupervisorProcess.runToExit(dir, Map.of(), "--help");
        assertThat(r.status()).isZero();
        assertThat(r.stdout()).contains("--bind ADDR:PORT").contains("--max-upgrade-additional");
        assertThat(r.stderr()).isEmpty();
        r = SupervisorProcess.runToExit(dir, Map.of(), "--version");
        assertThat(r.status()).isZero();
        assertThat(r.stdout()).matches("einhyrningsins \\d+\\.\\d+\\.\\d+.*\n");
        assertThat(r.stderr()).isEmpty();
    }

    @Test
    void aPidfileOfAnotherLiveProcessIsNotTaken() throws Exception {
        Path pidfile = dir.resolve("other.pid");
        Files.writeString(pidfile, ProcessHandle.current().pid() + "\n");
        var r = SupervisorProcess.runToExit(dir, Map.of(), "-d", dir.resolve("ctl.sock").toString(),
                "-e", pidfile.toString(), SupervisorProcess.worker("probe.py").toString());
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.stderr()).contains("belongs to running process " + ProcessHandle.current().pid());
        assertThat(Files.readString(pidfile).trim()).isEqualTo(Long.toString(ProcessHandle.current().pid()));
    }
}
