package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code -b ...,stdin}: one listener is also every worker's standard input (where the JDK's
 * {@code System.inheritedChannel()} looks), still listed as {@code EINHORN_FD_n}; through
 * upgrades and a reload; health checks keep a standard input of their own.
 */
class StdinListenerIT {

    @TempDir
    Path dir;

    JsonNode probe(int pid) {
        Path report = dir.resolve(pid + ".json");
        await("probe report of " + pid, () -> Files.exists(report));
        return SupervisorProcess.readJson(report);
    }

    /** Worker {@code pid}'s fd 0 is the same socket as its fd {@code fd}, a listening one. */
    void stdinIsTheListener(int pid, int fd, int family) {
        JsonNode p = probe(pid);
        assertThat(p.path("fd_links").path("0").asText()).as("fd 0 of %s", pid).startsWith("socket:[")
                .isEqualTo(p.path("fd_links").path(Integer.toString(fd)).asText());
        assertThat(p.path("fd_info").path("0").path("listening").asBoolean()).isTrue();
        assertThat(p.path("fd_info").path("0").path("family").asInt()).isEqualTo(family);
        JsonNode env = p.path("env");
        assertThat(env.path("EINHORN_FD_COUNT").asText()).isEqualTo("2");
        assertThat(env.path("EINHORN_FD_1").asText()).isEqualTo("4");
        // --listen-fds: the systemd way lists it where it always is, not as fd 0
        assertThat(env.path("LISTEN_FDS").asText()).isEqualTo("2");
        assertThat(env.path("LISTEN_PID").asInt()).isEqualTo(pid);
    }

    @Test
    void workersGetTheListenerAsStandardInputThroughUpgradesAndAReload() throws Exception {
        Path sock = dir.resolve("app.sock");
        // a ready check reads its standard input to the end: it fails on a listening socket
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", "2", "-m", "0", "--listen-fds",
                "--ready-check", "cat >/dev/null", "--check-interval", "0.1",
                "-b", "127.0.0.1:0", "-b", "unix:" + sock + ",stdin",
                SupervisorProcess.worker("probe.py").toString())) {
            for (int pid : sup.awaitAcked(2)) stdinIsTheListener(pid, 4, 1);
            JsonNode sockets = sup.state().path("sockets");
            assertThat(sockets.get(0).path("stdin").asBoolean()).isFalse();
            assertThat(sockets.get(1).path("stdin").asBoolean()).isTrue();
            assertThat(sockets.get(1).path("bind").asText()).isEqualTo("unix:" + sock + ",stdin");

            assertThat(sup.request("upgrade", null).getLast().path("message").asText()).isEqualTo("Upgrade done");
            List<Integer> upgraded = sup.awaitAcked(2);
            for (int pid : upgraded) stdinIsTheListener(pid, 4, 1);
            assertThat(sup.state().path("last_upgrade").path("outcome").asText()).isEqualTo("done");

            // the spec travels in the hand-over: workers started after a reload get it too
            List<JsonNode> reload = sup.request("reload", null);
            assertThat(reload.getLast().path("message").asText()).contains("Reloaded: einhyrningsins");
            assertThat(sup.state().path("sockets").get(1).path("stdin").asBoolean()).isTrue();
            assertThat(sup.request("upgrade", null).getLast().path("message").asText()).isEqualTo("Upgrade done");
            List<Integer> afterReload = sup.awaitAcked(2);
            assertThat(afterReload).doesNotContainAnyElementsOf(upgraded);
            for (int pid : afterReload) stdinIsTheListener(pid, 4, 1);
        }
    }

    @Test
    void withoutTheOptionWorkersKeepTheSupervisorsStandardInput() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-b", "127.0.0.1:0,r",
                SupervisorProcess.worker("probe.py").toString())) {
            int pid = sup.awaitAcked(1).getFirst();
            JsonNode p = probe(pid);
            // SupervisorProcess gives the supervisor a pipe as its standard input
            assertThat(p.path("fd_links").path("0").asText()).startsWith("pipe:[");
            assertThat(sup.state().path("sockets").get(0).path("stdin").asBoolean()).isFalse();
        }
    }

    @Test
    void twoListenersCannotBothBeStandardInput() throws Exception {
        Path sock = dir.resolve("app.sock");
        var r = SupervisorProcess.runToExit(dir, Map.of(), "-b", "127.0.0.1:0,stdin", "-b", "unix:" + sock + ",stdin",
                "/bin/true");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.stderr().lines().findFirst()).hasValue("einhyrningsins: -b 127.0.0.1:0,stdin and -b unix:" + sock
                + ",stdin both say stdin: a worker has one standard input, give it to one socket");
        assertThat(sock).doesNotExist();
    }
}
