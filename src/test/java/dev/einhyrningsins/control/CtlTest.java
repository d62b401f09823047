package dev.einhyrningsins.control;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** ctl against a real control server whose sink plays a tiny supervisor. */
class CtlTest {

    @TempDir
    Path dir;

    ControlServer server;
    Pump pump;

    void serve() throws ControlException {
        server = ControlServer.open(dir.resolve("ctl.sock"), dir.resolve("ctl.lock"), in -> {
            Request r = in.request();
            switch (r.command()) {
                case "state" -> in.replyTo().send("{\"target\": 2, \"workers\": []}", true, true);
                case "upgrade" -> {
                    in.replyTo().send("Upgrading smoothly, as commanded", false, true);
                    in.replyTo().send("1/1 acked", false, true);
                    in.replyTo().send("Upgrade done", true, true);
                }
                case "fail" -> in.replyTo().send("it failed", true, false);
                case "watch" -> {
                    in.replyTo().send("{\"time\":\"2025-01-02T03:04:05.678Z\",\"event\":\"spawned\",\"pid\":12,"
                            + "\"reason\":\"start\"}", false, true);
                    in.replyTo().send("{\"event\":\"upgrade_progress\",\"message\":\"1/2 acked\",\"drain_seconds\":null}",
                            false, true);
                    in.replyTo().send("{\"event\":\"supervisor_exit\"}", true, true);
                }
                default -> in.replyTo().send(r.command() + " " + r.args() + " id=" + r.id(), true, true);
            }
        }, new ControlServer.Log() {
            public void info(String m) {}

            public void warn(String m) {}

            public void debug(String m) {}
        });
        pump = new Pump(server::pollables);
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (pump != null) pump.close();
        if (server != null) server.close();
    }

    record Run(int status, String out, String err) {}

    Run ctl(String stdin, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Ctl.run(args, new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    String sock() {
        return dir.resolve("ctl.sock").toString();
    }

    @Test
    void executeRunsCommandsWithArgsAndIds() throws Exception {
        serve();
        Run r = ctl("", "-d", sock(), "-e", "signal HUP 'a b'; set_workers 3;inc");
        assertThat(r.status()).isZero();
        assertThat(r.out()).isEqualTo("signal [HUP, a b] id=1\nset_workers [3] id=2\ninc null id=3\n");
    }

    @Test
    void streamedRepliesArePrintedAsTheyCome() throws Exception {
        serve();
        Run r = ctl("", "-d", sock(), "-e", "upgrade");
        assertThat(r.out()).isEqualTo("Upgrading smoothly, as commanded\n1/1 acked\nUpgrade done\n");
        assertThat(r.status()).isZero();
    }

    @Test
    void aFailedCommandExitsOne() throws Exception {
        serve();
        Run r = ctl("", "-d", sock(), "-e", "fail");
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.out()).isEqualTo("it failed\n");
    }

    @Test
    void jsonOutputIsOneObjectPerLineAndStateIsTheStateItself() throws Exception {
        serve();
        Run r = ctl("", "-d", sock(), "--json", "-e", "upgrade; state");
        List<String> lines = r.out().lines().toList();
        assertThat(lines).hasSize(4);
        assertThat(lines.get(0)).isEqualTo("{\"message\":\"Upgrading smoothly, as commanded\",\"request_id\":1,\"wait\":true}");
        assertThat(lines.get(3)).isEqualTo("{\"target\":2,\"workers\":[]}");
    }

    @Test
    void watchPrintsOneEventALineForPeopleAndTheEventObjectsForJq() throws Exception {
        serve();
        Run people = ctl("", "-d", sock(), "-e", "watch");
        assertThat(people.status()).isZero();
        assertThat(people.out()).isEqualTo("""
                2025-01-02T03:04:05.678Z spawned pid=12 reason=start
                upgrade_progress message="1/2 acked" drain_seconds=null
                supervisor_exit
                """);
        Run jq = ctl("", "-d", sock(), "--json", "-e", "watch");
        assertThat(jq.out().lines().toList()).containsExactly(
                "{\"time\":\"2025-01-02T03:04:05.678Z\",\"event\":\"spawned\",\"pid\":12,\"reason\":\"start\"}",
                "{\"event\":\"upgrade_progress\",\"message\":\"1/2 acked\",\"drain_seconds\":null}",
                "{\"event\":\"supervisor_exit\"}");
    }

    @Test
    void pipedSessionReadsOneCommandPerLine() throws Exception {
        serve();
        Run r = ctl("ehlo\n\ninc\nsignal TERM\n", "-d", sock());
        assertThat(r.status()).isZero();
        assertThat(r.out()).isEqualTo("ehlo null id=1\ninc null id=2\nsignal [TERM] id=3\n");
    }

    @Test
    void anUnreachableSocketExitsOneNamingThePath() {
        Run r = ctl("", "-d", dir.resolve("nope.sock").toString(), "-e", "state");
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.err()).contains("cannot reach the control socket " + dir.resolve("nope.sock")).contains("-d PATH or -c NAME");
        assertThat(r.err().lines()).hasSize(1);
    }

    @Test
    void usageErrorsExitTwo() {
        assertThat(ctl("", "--frob").status()).isEqualTo(2);
        assertThat(ctl("", "-d").err()).contains("option -d needs an argument");
        assertThat(ctl("", "-d", "x", "-c", "y").err()).contains("not both");
        assertThat(ctl("", "state").err()).contains("commands go after -e");
        assertThat(ctl("", "-e", "'unterminated").err()).contains("unterminated");
        Run help = ctl("", "--help");
        assertThat(help.status()).isZero();
        assertThat(help.out()).contains("--socket-path PATH").contains("--json");
    }

    @Test
    void commandSplitting() {
        assertThat(Ctl.parseCommands("a b;c \"d e\" f\\ g; ;")).containsExactly(List.of("a", "b"), List.of("c", "d e", "f g"));
    }

    @Test
    void aRefusedConnectionPrintsTheServersReasonNotBrokenPipe() throws Exception {
        serve();
        List<java.nio.channels.SocketChannel> held = new java.util.ArrayList<>();
        try {
            for (int i = 0; i < ControlServer.MAX_CONNECTIONS; i++) {
                java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX);
                ch.connect(java.net.UnixDomainSocketAddress.of(Path.of(sock())));
                held.add(ch);
            }
            // every slot is taken once the server has accepted them all: ask until it says so
            Run r = null;
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(20);
            while (System.nanoTime() < deadline) {
                r = ctl("", "-d", sock(), "-e", "state");
                if (r.status() != 0) break;
            }
            assertThat(r.status()).isEqualTo(1);
            assertThat(r.err()).startsWith("einhyrningsins ctl: Too many connections (256 open)")
                    .doesNotContain("Broken pipe").hasLineCount(1);
            assertThat(r.out()).isEmpty();
        } finally {
            for (var ch : held) ch.close();
        }
    }

    @Test
    void everyUsageErrorExitsTwoWithAPointerToHelp() {
        String help = "Try 'einhyrningsins ctl --help' for more information.\n";
        assertThat(ctl("", "-d")).isEqualTo(new Run(2, "", "einhyrningsins ctl: option -d needs an argument\n" + help));
        assertThat(ctl("", "-d", "x", "-c", "y")).isEqualTo(new Run(2, "", "einhyrningsins ctl: use -d PATH or -c NAME, not both\n" + help));
        assertThat(ctl("", "-e", " ; ")).isEqualTo(new Run(2, "", "einhyrningsins ctl: -e needs at least one command\n" + help));
        assertThat(ctl("", "-e", "a 'b")).isEqualTo(new Run(2, "", "einhyrningsins ctl: unterminated ' quote in: a 'b\n" + help));
        assertThat(ctl("", "-d=x")).isEqualTo(new Run(2, "", "einhyrningsins ctl: unknown option -d=x\n" + help));
        assertThat(ctl("", "--json=yes")).isEqualTo(new Run(2, "", "einhyrningsins ctl: option --json takes no argument\n" + help));
        assertThat(ctl("", "--help=me").status()).isEqualTo(2);
    }

    @Test
    void longOptionsTakeTheirValueAfterAnEqualsSign() throws Exception {
        serve();
        Run r = ctl("", "--socket-path=" + sock(), "--execute=inc 2");
        assertThat(r).isEqualTo(new Run(0, "inc [2] id=1\n", ""));
    }

    @Test
    void aPipedLineThatDoesNotParseIsReportedAndTheRestStillRuns() throws Exception {
        serve();
        Run r = ctl("ehlo\nsignal 'HUP\ninc\n", "-d", sock());
        assertThat(r.out()).isEqualTo("ehlo null id=1\ninc null id=2\n");
        assertThat(r.err()).isEqualTo("einhyrningsins ctl: unterminated ' quote in: signal 'HUP\n");
        assertThat(r.status()).isEqualTo(1);
        assertThat(ctl("fail\nehlo\n", "-d", sock()).status()).as("a failed command among others").isEqualTo(1);
    }

    @Test
    void backslashesEscapeOutsideQuotesAndInsideDoubleQuotesOnly() {
        assertThat(Ctl.parseCommands("say \"a \\\"b\\\" c\"")).containsExactly(List.of("say", "a \"b\" c"));
        assertThat(Ctl.parseCommands("say 'a\\b'")).containsExactly(List.of("say", "a\\b"));
        assertThat(Ctl.parseCommands("a\\;b")).containsExactly(List.of("a;b"));
        assertThat(Ctl.parseCommands("a\\")).as("a backslash at the end is itself").containsExactly(List.of("a\\"));
        assertThat(Ctl.parseCommands("'' x")).containsExactly(List.of("", "x"));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Ctl.parseCommands("say \"a\\"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("unterminated \" quote");
    }

    @Test
    void jsonOutputPassesAReplyThatIsNotJsonThroughAsItCame() throws Exception {
        Path raw = dir.resolve("raw.sock");
        try (java.nio.channels.ServerSocketChannel server = java.nio.channels.ServerSocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            server.bind(java.net.UnixDomainSocketAddress.of(raw));
            var einhorn = java.util.concurrent.CompletableFuture.runAsync(() -> {
                try (java.nio.channels.SocketChannel ch = server.accept()) {
                    ch.read(java.nio.ByteBuffer.allocate(4096));
                    ch.write(java.nio.ByteBuffer.wrap("---%0Amessage: hi%0A\n".getBytes(StandardCharsets.UTF_8)));
                } catch (java.io.IOException e) {
                    throw new RuntimeException(e);
                }
            });
            Run r = ctl("", "-d", raw.toString(), "--json", "-e", "ehlo");
            einhorn.get();
            assertThat(r).isEqualTo(new Run(0, "---\nmessage: hi\n\n", ""));
        }
    }
}
