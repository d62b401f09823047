package dev.einhyrningsins.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.einhyrningsins.cli.BindSpec;
import dev.einhyrningsins.cli.CommandLine;
import dev.einhyrningsins.control.Ctl;
import dev.einhyrningsins.supervisor.Settings;
import dev.einhyrningsins.supervisor.SignalNames;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bash completion the build makes (share/bash-completion/completions/einhyrningsins of the
 * image, installed by the .deb), driven as bash's programmable completion drives it: COMP_LINE,
 * COMP_POINT and the word readline completes, then COMPREPLY. What it offers is held to the
 * code: the option tables, the core's commands and config keys, the bind options and signals
 * the parsers take.
 */
class CompletionIT {
    static final Path COMPLETION = ImageIT.IMAGE.resolve("share/bash-completion/completions/einhyrningsins");
    /** bash's default COMP_WORDBREAKS: readline completes the text after the last of these. */
    static final String WORDBREAKS = " \t\n\"'><=;|&(:";

    @TempDir
    Path dir;

    @BeforeAll
    static void built() {
        assumeTrue(Files.isExecutable(ImageIT.LAUNCHER), "no runtime image at " + ImageIT.IMAGE + " (built with -Dimage.skip=true?)");
        assertThat(COMPLETION).as("the image's bash completion").isRegularFile();
    }

    /** What bash offers for {@code line} with the cursor at its end; readline's word is the text after the last word break. */
    List<String> complete(String line) throws Exception {
        int cut = -1;
        for (int i = 0; i < line.length(); i++) if (WORDBREAKS.indexOf(line.charAt(i)) >= 0) cut = i;
        return complete(line, line.substring(cut + 1), Map.of(), "");
    }

    /**
     * Runs the completion function for {@code line} in a bash that sourced the completion file
     * (after {@code setup}, before the call), with {@code word} as readline's current word.
     */
    List<String> complete(String line, String word, Map<String, String> env, String setup) throws Exception {
        String command = line.substring(0, line.indexOf(' '));
        String function = command.endsWith("ctl") ? "_einhyrningsinsctl" : "_einhyrningsins";
        String script = "source \"$1\"; " + setup + "\nCOMP_LINE=$2; COMP_POINT=${#2}; "
                + function + " " + command + " \"$3\" ''; printf '%s\\n' \"${COMPREPLY[@]}\"";
        ProcessBuilder pb = new ProcessBuilder("bash", "--norc", "--noprofile", "-c", script, "bash",
                COMPLETION.toString(), line, word).directory(dir.toFile());
        pb.environment().put("TMPDIR", dir.toString());
        pb.environment().putAll(env);
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("bash: %s", err).isZero();
        assertThat(err).as("completing %s", line).isEmpty();
        return out.lines().filter(s -> !s.isEmpty()).distinct().toList();
    }

    /** The spellings of the options in labels such as "-b, --bind ADDR:PORT[,OPT...]". */
    static Set<String> spellings(List<String> labels) {
        Set<String> out = new TreeSet<>();
        for (String label : labels) {
            for (String word : label.split("[ ,]+")) if (word.startsWith("-")) out.add(word);
        }
        return out;
    }

    @Test
    void everyOptionOfTheSupervisorAndOfCtlAndNothingElse() throws Exception {
        assertThat(new TreeSet<>(complete("einhyrningsins -"))).as("the supervisor's option table")
                .isEqualTo(spellings(CommandLine.optionLabels())).contains("--config", "-b", "--bind");
        assertThat(complete("einhyrningsins --upg")).containsExactlyInAnyOrder("--upgrade-timeout", "--upgrade-max-failures",
                "--upgrade-check");

        ByteArrayOutputStream help = new ByteArrayOutputStream();
        Ctl.run(new String[] {"--help"}, new ByteArrayInputStream(new byte[0]), new PrintStream(help, true, StandardCharsets.UTF_8),
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        List<String> ctlLabels = help.toString(StandardCharsets.UTF_8).lines()
                .filter(l -> l.matches(" {1,8}-.*")).map(String::strip).toList();
        assertThat(ctlLabels).hasSizeGreaterThan(3);
        assertThat(new TreeSet<>(complete("einhyrningsinsctl -"))).as("ctl --help")
                .isEqualTo(spellings(ctlLabels)).contains("--json", "-e", "--socket-path");
        assertThat(new TreeSet<>(complete("einhyrningsins ctl --"))).isEqualTo(spellings(ctlLabels).stream()
                .filter(s -> s.startsWith("--")).collect(Collectors.toCollection(TreeSet::new)));
    }

    @Test
    void bindAddressesAndEveryBindOptionTheParserTakes() throws Exception {
        assertThat(complete("einhyrningsins -b ")).contains("unix:", "127.0.0.1:", "0.0.0.0:", "[::]:", "[::1]:");
        // readline completes after the last ':' of 127.0.0.1:8080, so the offers start there
        List<String> options = complete("einhyrningsins -n 2 -b 127.0.0.1:8080,");
        assertThat(options).contains("8080,r", "8080,so_reuseaddr", "8080,p", "8080,name=", "8080,mode=");
        for (String offered : options) {
            String option = offered.substring("8080,".length());
            String value = option.endsWith("=") ? option + (option.equals("mode=") ? "0660" : "root") : option;
            assertThatCode(() -> {
                try {
                    BindSpec.parse("127.0.0.1:8080," + value);
                } catch (RuntimeException tcpOnly) {
                    BindSpec.parse("unix:/run/x.sock," + value);
                }
            }).as("-b ...,%s is one the parser takes", value).doesNotThrowAnyException();
        }
        assertThat(complete("einhyrningsins -b 127.0.0.1:8080,r,so")).containsExactlyInAnyOrder("8080,r,so_reuseaddr",
                "8080,r,so_reuseport");
        assertThat(complete("einhyrningsins --bind=unix:/ru")).containsExactly("/run/");
        assertThat(complete("einhyrningsins --bind=unixgram:/ru")).containsExactly("/run/");
        assertThat(complete("einhyrningsins -b u")).containsExactlyInAnyOrder("unix:", "unixgram:", "udp:");
        // a datagram socket's address: after the last ':', as readline splits
        assertThat(complete("einhyrningsins -b udp:12")).containsExactly("127.0.0.1:");
        assertThat(complete("einhyrningsins -b udp:[")).containsExactlyInAnyOrder("[::1]:", "[::]:");
        // after '=', another word break
        assertThat(complete("einhyrningsins -b unix:/tmp/a.sock,mode=06")).containsExactly("0600", "0660", "0666");
        assertThat(complete("einhyrningsins -b unix:/tmp/a.sock,n,group=roo")).containsExactly("root");
        assertThat(complete("einhyrningsins -b unix:/tmp/a.sock,owner=roo")).containsExactly("root");
    }

    @Test
    void userAndGroupAreCompletedFromTheSystems() throws Exception {
        assertThat(complete("einhyrningsins --user roo")).containsExactly("root");
        assertThat(complete("einhyrningsins --user root --group roo")).containsExactly("root");
    }

    @Test
    void signalsAreTheOnesTheSupervisorTakes() throws Exception {
        List<String> signals = complete("einhyrningsins --graceful-signal ");
        assertThat(signals).contains("TERM", "USR2", "HUP", "QUIT", "INT");
        assertThat(SignalNames.NAMES).containsAll(signals);
        assertThat(complete("einhyrningsins --graceful-signal=US")).containsExactlyInAnyOrder("USR1", "USR2");
        assertThat(complete("einhyrningsinsctl -e \"signal TT", "signal TT", Map.of(), ""))
                .containsExactlyInAnyOrder("signal TTIN", "signal TTOU");
        assertThat(complete("einhyrningsinsctl -e \"inc; die ", "inc; die ", Map.of(), "")).contains("inc; die TERM");
    }

    @Test
    void valuesByKindThenTheProgramAndItsArguments() throws Exception {
        assertThat(complete("einhyrningsins -m ")).containsExactly("manual", "notify", "0", "1");
        assertThat(complete("einhyrningsins -m -- pyth")).contains("python3");
        assertThat(complete("einhyrningsins -m pyth")).as("a bare -m means manual").contains("python3");
        assertThat(complete("einhyrningsins -d /et")).containsExactly("/etc/");
        assertThat(complete("einhyrningsins --config=/et")).containsExactly("/etc/");
        assertThat(complete("einhyrningsins --drop-env-var PAT")).contains("PATH");
        assertThat(complete("einhyrningsins -n 4 -kv pyth")).contains("python3").doesNotContain("-n");
        assertThat(complete("einhyrningsins -n4 -- ")).contains("python3").doesNotContain("--bind");
        assertThat(complete("einhyrningsins -n 4 python3 /et")).containsExactly("/etc/");
        assertThat(complete("einhyrningsins -n 4 python3 -")).as("the program's own options are its business").isEmpty();
        assertThat(complete("einhyrningsins ct")).contains("ctl");
        // -c NAME: the instances with a control socket in the default place ($TMPDIR/einhorn-NAME.sock)
        Files.createFile(dir.resolve("einhorn-file.sock"));
        try (ServerSocketChannel web = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            web.bind(UnixDomainSocketAddress.of(dir.resolve("einhorn-web.sock")));
            assertThat(complete("einhyrningsinsctl -c ")).as("sockets only").containsExactly("web");
        }
    }

    @Test
    void ctlCommandsComeFromTheRunningSupervisorElseFromTheBuild() throws Exception {
        // the list made at build time is the core's command table, as `help` gives it
        Set<String> commands = new TreeSet<>(complete("einhyrningsinsctl -e "));
        assertThat(commands).contains("state", "upgrade", "reload", "worker:ack", "set_workers", "config");
        // a built-in list of our own shows which one is offered
        String builtIn = "_einhyrningsins_commands=(builtin_only)";
        assertThat(complete("einhyrningsinsctl -e ", "", Map.of(), builtIn)).containsExactly("builtin_only");

        Path sock = dir.resolve("live.sock");
        try (ImageIT.Supervisor sup = ImageIT.Supervisor.start(dir, ImageIT.LAUNCHER.toString(), "-m", "0", "-d", sock.toString(),
                "--", "sleep", "600")) {
            sup.awaitSocket(sock);
            // the launcher's ctl asks the supervisor named by -d on the line (so does einhyrningsins ctl)
            String ctl = ImageIT.CTL.toString();
            assertThat(new TreeSet<>(complete(ctl + " -d " + sock + " -e ", "", Map.of(), builtIn)))
                    .as("asked of the running supervisor").isEqualTo(commands);
            assertThat(complete(ctl + " -d " + sock + " -e \"inc; upg", "inc; upg", Map.of(), builtIn))
                    .containsExactlyInAnyOrder("inc; upgrade", "inc; upgrade_fleet");
            assertThat(complete(ImageIT.LAUNCHER + " ctl --socket-path=" + sock + " -e st", "st", Map.of(), builtIn))
                    .containsExactly("state");
            sup.process.destroy();
            assertThat(sup.awaitExit()).isZero();
        }
        assertThat(complete("einhyrningsinsctl -d " + sock + " -e ", "", Map.of(), builtIn))
                .as("no socket any more: the built-in list").containsExactly("builtin_only");
    }

    @Test
    void configKeysAreTheCoresRunTimeSettings() throws Exception {
        List<String> offered = complete("einhyrningsinsctl -e \"config ", "config ", Map.of(), "");
        List<String> keys = new ArrayList<>();
        for (Settings.Setting s : Settings.Setting.values()) if (s.runtime()) keys.add("config " + s.key + "=");
        assertThat(offered).containsExactlyInAnyOrderElementsOf(keys);
        assertThat(complete("einhyrningsinsctl -e \"config seconds=2 max_w", "config seconds=2 max_w", Map.of(), ""))
                .containsExactlyInAnyOrder("config seconds=2 max_worker_rss=", "config seconds=2 max_worker_age=");
    }
}
