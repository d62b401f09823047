package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The control plane of a real supervisor: einhorn's wire format, commands, acks, ctl. */
class ControlIT {

    @TempDir
    Path dir;

    String probe() {
        return SupervisorProcess.worker("probe.py").toString();
    }

    static String message(List<JsonNode> replies) {
        return replies.getLast().path("message").asText();
    }

    List<Path> probeFiles() {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches("\\d+\\.json")).toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    SupervisorProcess.Result ctl(SupervisorProcess sup, String stdin, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(SupervisorProcess.java(), "-jar", SupervisorProcess.jar().toString(),
                "ctl", "-d", sup.socket.toString()));
        cmd.addAll(List.of(args));
        return SupervisorProcess.runToExitIn(dir, stdin, cmd.toArray(String[]::new));
    }

    @Test
    void everyCommandAnswersOverJsonAndEscapedYaml() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", "1", probe())) {
            sup.awaitAcked(1);
            // JSON, as go-einhorn-style and hand-written clients send it
            assertThat(sup.command("ehlo")).startsWith("Welcome, ").contains("Einhorn Master Process " + sup.pid());
            assertThat(sup.command("help")).contains("upgrade_fleet: ").contains("worker:ack: ");
            assertThat(sup.command("inc")).isEqualTo("Incrementing number of workers from 1 -> 2");
            await("two workers", () -> {
                try {
                    return sup.workers(false).size() == 2;
                } catch (IOException e) {
                    return false;
                }
            });
            assertThat(sup.command("dec")).isEqualTo("Decrementing number of workers from 2 -> 1");
            assertThat(sup.command("set_workers", "1")).isEqualTo("Worker count is already 1.");
            assertThat(sup.command("set_workers", "0")).contains("Invalid count");
            assertThat(sup.command("quieter")).isEqualTo("Verbosity set to 2");
            assertThat(sup.command("louder")).isEqualTo("Verbosity set to 1");
            assertThat(sup.command("signal", "sigcont")).startsWith("Sent CONT to ");
            assertThat(sup.command("signal", "NOPE")).isEqualTo("Invalid signal: \"NOPE\"");
            assertThat(sup.command("reload")).startsWith("Reloaded: einhyrningsins ");
            assertThat(sup.command("frob")).startsWith("Unrecognized command: \"frob\"");
            assertThat(message(sup.raw("{\"id\":5}\n", true))).isEqualTo("No \"command\" parameter provided; not sure what you want me to do.");
            // einhornsh sends YAML.dump output, URL-escaped; the reply echoes the id
            List<JsonNode> yaml = sup.raw("---%0Aid: 9%0Acommand: set_workers%0Aargs:%0A- '2'%0Auser: alice%0A\n", true);
            assertThat(yaml.getLast().path("request_id").asInt()).isEqualTo(9);
            assertThat(message(yaml)).isEqualTo("Altering worker count, 1 -> 2. Will spin up additional workers.");
            assertThat(message(sup.raw("---%0Acommand: ehlo%0Auser: alice%0A\n", true))).startsWith("Welcome, alice!");
            JsonNode state = sup.state();
            assertThat(state.path("target").asInt()).isEqualTo(2);
            assertThat(state.path("workers").get(0).path("slot").asInt()).isZero();
            assertThat(state.path("workers").get(0).has("spawned_at")).isTrue();
            // die without args: graceful signal to all, then the supervisor exits
            assertThat(sup.command("die")).startsWith("Einhorn is going down! Sent USR2 to ");
            assertThat(sup.awaitExit()).isZero();
        }
    }

    @Test
    void configChangesSettingsInBothFormsAllOrNothing() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of(), "--max-unacked", "2", probe())) {
            sup.awaitAcked(1);
            // JSON request, KEY=VALUE words
            List<JsonNode> r = sup.request("config", List.of("seconds=2", "signal-timeout=5", "max_unacked=3"));
            assertThat(r.getLast().path("ok").asBoolean(true)).isTrue();
            assertThat(message(r)).isEqualTo("Successfully merged in config: seconds=2 (was 1), signal_timeout=5 (was off), "
                    + "max_unacked=3 (was 2)");
            sup.awaitLine("INFO Successfully merged in config: seconds=2");
            // einhornsh: URL-escaped YAML whose args are the words of a YAML hash, joined by config
            r = sup.raw("---%0Aid: 7%0Acommand: config%0Aargs:%0A- '{ack_timeout:'%0A- '30,'%0A"
                    + "- 'max_upgrade_additional:'%0A- '2}'%0Auser: alice%0A\n", true);
            assertThat(r.getLast().path("request_id").asInt()).isEqualTo(7);
            assertThat(message(r)).isEqualTo("Successfully merged in config: ack_timeout=30 (was off), "
                    + "max_upgrade_additional=2 (was unlimited)");
            // Ruby's YAML.dump of a hash with symbol keys, as one argument
            assertThat(sup.command("config", "---\n:upgrade_timeout: 60\n:verbosity: 0\n"))
                    .isEqualTo("Successfully merged in config: upgrade_timeout=60 (was 120), verbosity=0 (was 1)");
            // one unknown key: refused, nothing changed
            r = sup.request("config", List.of("upgrade_max_failures=5", "bogus=1"));
            assertThat(r.getLast().path("ok").asBoolean(true)).isFalse();
            assertThat(message(r)).startsWith("Config not changed: unknown setting \"bogus\".\nKnown settings: verbosity (");
            var ctl = ctl(sup, "", "-e", "config {seconds: 4}");
            assertThat(ctl.status()).as(ctl.stderr()).isZero();
            assertThat(ctl.stdout()).isEqualTo("Successfully merged in config: seconds=4 (was 2)\n");
            ctl = ctl(sup, "", "-e", "config max_unacked=0");
            assertThat(ctl.status()).isEqualTo(1);
            assertThat(ctl.stdout()).startsWith("Config not changed: max_unacked needs a whole number in 1..100000, got '0'.");

            JsonNode config = sup.state().path("config");
            assertThat(config.path("seconds").asText()).isEqualTo("4");
            assertThat(config.path("signal_timeout").asText()).isEqualTo("5");
            assertThat(config.path("ack_timeout").asText()).isEqualTo("30");
            assertThat(config.path("max_unacked").asInt()).isEqualTo(3);
            assertThat(config.path("max_upgrade_additional").asInt()).isEqualTo(2);
            assertThat(config.path("upgrade_timeout").asText()).isEqualTo("60");
            assertThat(config.path("upgrade_max_failures").asInt()).isEqualTo(3);
            assertThat(config.path("verbosity").asInt()).isZero();
            // verbosity 0 took effect in the log filter: debug lines appear
            sup.command("ehlo");
            sup.awaitLine("DEBUG Received command: ehlo");
        }
    }

    @Test
    void manualAcksFromRubyGoAndHandWrittenClients() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-n", "3", "-m", "manual", probe())) {
            await("3 workers", () -> probeFiles().size() == 3);
            List<Integer> pids = probeFiles().stream()
                    .map(p -> Integer.parseInt(p.getFileName().toString().replace(".json", ""))).sorted().toList();
            assertThat(sup.workers(true)).isEmpty();
            sup.raw("---%0Acommand: worker:ack%0Apid: " + pids.get(0) + "%0A\n", false); // Ruby Einhorn::Worker.ack!
            sup.raw("command: worker:ack%0Apid: " + pids.get(1) + "%0A\n", false); // go-einhorn Ack()
            sup.raw("{\"command\":\"worker:ack\",\"pid\":\"" + pids.get(2) + "\"}\n", false); // by hand, pid as string
            await("all acked", () -> {
                try {
                    return sup.workers(true).size() == 3;
                } catch (IOException e) {
                    return false;
                }
            });
            sup.raw("{\"command\":\"worker:ping\",\"pid\":" + pids.get(0) + ",\"request_id\":\"r1\"}\n", false);
            await("ping recorded", () -> {
                try {
                    return sup.state().toString().contains("\"last_ping_id\":\"r1\"");
                } catch (IOException e) {
                    return false;
                }
            });
        }
    }

    @Test
    void timerModeIgnoresManualAcks() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-m", "30", probe())) {
            await("worker", () -> probeFiles().size() == 1);
            int pid = Integer.parseInt(probeFiles().getFirst().getFileName().toString().replace(".json", ""));
            sup.raw("{\"command\":\"worker:ack\",\"pid\":" + pid + "}\n", false);
            sup.awaitLine("Received a manual ACK for " + pid + ", but ack mode is timer. Ignoring ACK.");
            assertThat(sup.workers(true)).isEmpty();
        }
    }

    @Test
    void ackTimeoutFailsAndReplacesASilentWorker() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-m", "manual", "--ack-timeout", "0.5", "-s", "0.1", probe())) {
            sup.awaitLine("has not acked within 0.5s; treating it as failed");
            sup.awaitLine("===> Launched \\d+ \\(index: 0", 1);
        }
    }

    @Test
    void commandSocketAsFdSurvivesExecAndAcks() throws Exception {
        Path worker = dir.resolve("fdack.sh");
        // a shell worker: the fd must still be open after exec, and acking through it must work
        Files.writeString(worker, """
                #!/bin/sh
                printf '{"command":"worker:ack","pid":%d}\\n' $$ >&"$EINHORN_SOCK_FD"
                echo "$EINHORN_SOCK_FD" > "$PROBE_DIR/sockfd.txt"
                exec sleep 600
                """);
        Files.setPosixFilePermissions(worker, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (var sup = SupervisorProcess.start(dir, Map.of(), "-g", "-m", "manual", "-b", "127.0.0.1:0", worker.toString())) {
            List<Integer> acked = sup.awaitAcked(1);
            assertThat(acked).hasSize(1);
            assertThat(Files.readString(dir.resolve("sockfd.txt")).trim()).isEqualTo("4");
        }
    }

    @Test
    void abuseLeavesTheSupervisorAnswering() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of(), probe())) {
            // pipelined, partial, garbage and non-UTF-8 on one connection
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ch.connect(UnixDomainSocketAddress.of(sup.socket));
                BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
                ch.write(ByteBuffer.wrap("{\"id\":1,\"command\":\"inc\"}\n{\"id\":2,\"command\":\"dec\"}\n{\"id\":3,\"com".getBytes()));
                assertThat(in.readLine()).contains("Incrementing").contains("\"request_id\":1");
                assertThat(in.readLine()).contains("Decrementing").contains("\"request_id\":2");
                ch.write(ByteBuffer.wrap("mand\":\"ehlo\"}\r\nnot yaml: [\n".getBytes()));
                assertThat(in.readLine()).contains("Welcome").contains("\"request_id\":3");
                assertThat(in.readLine()).contains("Could not parse command");
                ch.write(ByteBuffer.wrap(new byte[] {(byte) 0xc3, (byte) 0x28, (byte) 0xff, '\n'}));
                assertThat(in.readLine()).contains("Could not parse command");
            }
            // a 2 MiB line
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ch.connect(UnixDomainSocketAddress.of(sup.socket));
                BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
                try {
                    ch.write(ByteBuffer.wrap(new byte[2 << 20]));
                } catch (IOException closedEarly) {
                    // the supervisor may close before it all is written
                }
                assertThat(in.readLine()).contains("Command too long");
            }
            // 300 concurrent connections: 256 served, the rest told so
            List<SocketChannel> open = new ArrayList<>();
            try {
                for (int i = 0; i < 300; i++) {
                    SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
                    ch.connect(UnixDomainSocketAddress.of(sup.socket));
                    open.add(ch);
                }
                int refused = 0;
                int served = 0;
                for (SocketChannel ch : open) {
                    try {
                        ch.write(ByteBuffer.wrap("{\"command\":\"ehlo\"}\n".getBytes()));
                    } catch (IOException refusedAndClosed) {
                        // a refused connection may already be closed
                    }
                }
                for (SocketChannel ch : open) {
                    String line = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch))).readLine();
                    if (line != null && line.contains("Too many connections")) refused++;
                    if (line != null && line.contains("Welcome")) served++;
                }
                // earlier connections of this test may still be winding down server-side: at most 256 at once
                assertThat(served).isLessThanOrEqualTo(256).isGreaterThanOrEqualTo(250);
                assertThat(served + refused).isEqualTo(300);
            } finally {
                for (SocketChannel ch : open) ch.close();
            }
            await("state answers again", () -> {
                try {
                    return sup.state().path("workers").size() == 1;
                } catch (IOException e) {
                    return false;
                }
            });
        }
    }

    @Test
    void ctlExecuteJsonAndPipedSessions() throws Exception {
        try (var sup = SupervisorProcess.start(dir, Map.of(), probe())) {
            sup.awaitAcked(1);
            var r = ctl(sup, "", "-e", "inc; set_workers 3");
            assertThat(r.status()).as(r.stderr()).isZero();
            assertThat(r.stdout()).isEqualTo("Incrementing number of workers from 1 -> 2\n"
                    + "Altering worker count, 2 -> 3. Will spin up additional workers.\n");
            r = ctl(sup, "", "--json", "-e", "state");
            assertThat(r.status()).isZero();
            JsonNode state = SupervisorProcess.JSON.readTree(r.stdout());
            assertThat(state.path("target").asInt()).isEqualTo(3);
            assertThat(state.path("pid").asLong()).isEqualTo(sup.pid());
            r = ctl(sup, "set_workers 1\nsignal BOGUS\n");
            assertThat(r.stdout()).contains("Altering worker count, 3 -> 1").contains("Invalid signal: \"BOGUS\"");
            assertThat(r.status()).isEqualTo(1);
        }
    }

    @Test
    void ctlOnATerminalIsAnInteractiveShell() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/script")),
                "needs script(1) from util-linux to give ctl a pseudo-terminal");
        try (var sup = SupervisorProcess.start(dir, Map.of(), probe())) {
            String ctl = String.join(" ", SupervisorProcess.java(), "-jar", SupervisorProcess.jar().toString(),
                    "ctl", "-d", sup.socket.toString());
            var r = SupervisorProcess.runToExitIn(dir, "inc\nquit\n", "script", "-q", "-e", "-c", ctl, "/dev/null");
            assertThat(r.status()).as(r.stdout()).isZero();
            assertThat(r.stdout()).contains("Welcome, ").contains("Type 'help' for commands")
                    .contains("einhyrningsins> Incrementing number of workers from 1 -> 2");
        }
    }

    @Test
    void socketPathCasesAndPermissions() throws Exception {
        Files.writeString(dir.resolve("ctl.sock"), "not a socket");
        var r = SupervisorProcess.runToExit(dir, Map.of(), "-d", dir.resolve("ctl.sock").toString(), probe());
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.stderr()).contains("is not a socket");
        Files.delete(dir.resolve("ctl.sock"));
        try (var sup = SupervisorProcess.start(dir, Map.of(), probe())) {
            await("control socket", () -> Files.exists(sup.socket));
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(sup.socket))).isEqualTo("rw-------");
            var second = SupervisorProcess.runToExit(dir, Map.of(), "-d", sup.socket.toString(), probe());
            assertThat(second.status()).isEqualTo(1);
            assertThat(second.stderr()).contains("another process is listening on the control socket " + sup.socket)
                    .contains("-d PATH");
            assertThat(sup.state().path("workers").size()).isEqualTo(1);
        }
    }
}
