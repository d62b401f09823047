package dev.einhyrningsins.reload;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.posix.Signals;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import sun.misc.Signal;

class LeanStartTest {
    private static final List<String> ARGS = List.of("-n", "2", "--", "sleep", "600");

    private static List<String> plain(String... jvmOptions) {
        List<String> cmdline = new ArrayList<>(List.of("/opt/jdk-25/java"));
        cmdline.addAll(List.of(jvmOptions));
        cmdline.addAll(List.of("-jar", "/opt/e.jar"));
        cmdline.addAll(ARGS);
        return cmdline;
    }

    @Test
    void aPlainJavaJarStartsAgainWithTheLeanFlagsBeforeItsJarAndKeepsArgv0() {
        LeanStart.Exec e = LeanStart.plan(plain(), ARGS, Map.of("PATH", "/bin")).orElseThrow();

        List<String> expected = new ArrayList<>(List.of("/opt/jdk-25/java", "-XX:+IgnoreUnrecognizedVMOptions"));
        expected.addAll(LeanStart.FLAGS);
        expected.add("-Deinhyrningsins.lean=true");
        expected.addAll(List.of("-jar", "/opt/e.jar"));
        expected.addAll(ARGS);
        assertThat(e.argv()).isEqualTo(expected);
        assertThat(e.env()).containsExactlyInAnyOrderEntriesOf(Map.of("PATH", "/bin", "_JAVA_SR_SIGNUM", "40"));
    }

    @Test
    void aSuspendSignalTheCallerChoseIsKeptAndAnEmptyOneIsUnset() {
        LeanStart.Exec e = LeanStart.plan(plain(), ARGS, Map.of("_JAVA_SR_SIGNUM", "45")).orElseThrow();
        assertThat(e.env()).containsEntry("_JAVA_SR_SIGNUM", "45");

        e = LeanStart.plan(plain(), ARGS, Map.of("_JAVA_SR_SIGNUM", "")).orElseThrow();
        assertThat(e.env()).containsEntry("_JAVA_SR_SIGNUM", "40");
    }

    @Test
    void extraOptionsGoAfterTheLeanFlagsSoTheyWin() {
        LeanStart.Exec e = LeanStart.plan(plain(), ARGS,
                Map.of("EINHYRNINGSINS_JAVA_OPTS", "  -Xmx200m\t-Dx=y \n")).orElseThrow();

        int jar = e.argv().indexOf("-jar");
        assertThat(e.argv().subList(jar - 2, jar)).containsExactly("-Xmx200m", "-Dx=y");
        assertThat(e.argv().indexOf("-Xmx64m")).isNotNegative().isLessThan(jar - 2);
    }

    @Test
    void jvmOptionsOfTheCallersOwnAreLeftAsTheyAre() {
        assertThat(LeanStart.plan(plain("-Xmx1g"), ARGS, Map.of())).isEmpty();
        assertThat(LeanStart.plan(plain("@opts"), ARGS, Map.of())).isEmpty();
        // a class path and main class, not -jar
        assertThat(LeanStart.plan(List.of("/opt/jdk-25/java", "-cp", "/opt/e.jar", "-n", "2", "--", "sleep", "600"),
                ARGS, Map.of())).isEmpty();
    }

    @Test
    void aCommandLineThatIsNotTheArgumentsAsMainGotThemIsLeftAsItIs() {
        assertThat(LeanStart.plan(plain(), List.of("-n", "3", "--", "sleep", "600"), Map.of())).isEmpty();
        assertThat(LeanStart.plan(plain(), ARGS.subList(1, ARGS.size()), Map.of())).isEmpty();
    }

    @Test
    void theJdksOptionVariablesTheImageLauncherAndAReloadsTakeoverEachKeepTheJvmAsStarted() {
        for (String v : List.of("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS", "EINHYRNINGSINS_LAUNCHER",
                Handover.ENV)) {
            assertThat(LeanStart.plan(plain(), ARGS, Map.of(v, "x"))).as(v).isEmpty();
            assertThat(LeanStart.plan(plain(), ARGS, Map.of(v, ""))).as(v + " empty").isPresent();
        }
    }

    @Test
    void theFlagsAreTheImageLaunchersOwnExceptItsAotCacheAndTheManifestsModuleOptions() throws IOException {
        List<String> launcher = launcherFlags(Files.readAllLines(Path.of("src/main/image/bin/einhyrningsins")));
        List<String> manifestOrAot = List.of("-XX:-AOTReplayTraining", "--enable-native-access=ALL-UNNAMED",
                "--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED");
        assertThat(launcher).containsAll(manifestOrAot);

        List<String> rest = new ArrayList<>(launcher);
        rest.removeAll(manifestOrAot);
        assertThat(LeanStart.FLAGS).isEqualTo(rest);
    }

    /** The words of the launcher's java command line, from the exec line to its "$@". */
    private static List<String> launcherFlags(List<String> lines) {
        List<String> flags = new ArrayList<>();
        boolean in = false;
        for (String line : lines) {
            if (line.startsWith("exec $signals ")) {
                in = true;
                continue;
            }
            if (!in) continue;
            for (String word : line.strip().split("\\s+")) {
                if (word.equals("\"$@\"")) return flags;
                if (!word.equals("\\")) flags.add(word);
            }
        }
        throw new AssertionError("no java exec line in the launcher");
    }

    @Test
    void theSecondJvmClosesOnlyTheNamedDescriptorsThatAreStillOnTheFirstOnesFiles(@org.junit.jupiter.api.io.TempDir Path dir)
            throws IOException {
        Path file = Files.writeString(dir.resolve("jar"), "x").toRealPath();
        try (var ch = java.nio.channels.FileChannel.open(file)) {
            int original = fdOn(file);
            int leftover = dev.einhyrningsins.posix.Fds.dupAtLeast(original, 200);
            int other = dev.einhyrningsins.posix.Fds.dupAtLeast(0, 200); // stdin: not the jar
            try {
                LeanStart.closeLeftovers("x," + leftover + ",," + other + ",99999", java.util.Set.of(file));

                assertThat(Path.of("/proc/self/fd/" + leftover)).doesNotExist();
                assertThat(Path.of("/proc/self/fd/" + other)).exists();
                assertThat(Path.of("/proc/self/fd/" + original)).exists();
                assertThat(ch.size()).isEqualTo(1);
            } finally {
                dev.einhyrningsins.posix.Fds.closeQuietly(other);
            }
        }
    }

    /** The (lowest) descriptor of this process open on {@code file}. */
    private static int fdOn(Path file) throws IOException {
        for (int fd : dev.einhyrningsins.posix.Fds.open()) {
            try {
                if (Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).equals(file)) return fd;
            } catch (IOException e) {
                // closed meanwhile
            }
        }
        throw new AssertionError("no descriptor on " + file);
    }

    @Test
    void anExecThatFailsPutsTheSignalsBackAndSaysSoInOneLine() throws IOException {
        int term = new Signal("TERM").getNumber();
        int usr2 = new Signal("USR2").getNumber();
        int ttin = new Signal("TTIN").getNumber();
        Signals.Disposition before = Signals.disposition(term);
        Signals.block(ttin); // blocked before: still blocked after
        try {
            long maskBefore = Signals.maskOf(Path.of("/proc/thread-self/status"), "SigBlk:");
            AtomicReference<Map<String, Object>> during = new AtomicReference<>();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            Map<String, String> env = new HashMap<>(Map.of("A", "1"));

            LeanStart.start(new LeanStart.Exec(List.of("java", "-jar", "x.jar"), env), "/no/such/java", (path, argv, envp) -> {
                try {
                    during.set(Map.of("ignored", Signals.disposition(term).ignored(),
                            "mask", Signals.maskOf(Path.of("/proc/thread-self/status"), "SigBlk:"),
                            "path", path, "argv", argv, "envp", envp));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
                dev.einhyrningsins.posix.Spawn.execve(path, argv, envp); // the real one: ENOENT
            }, new PrintStream(err, true, StandardCharsets.UTF_8));

            assertThat(during.get()).containsEntry("ignored", true).containsEntry("path", "/no/such/java")
                    .containsEntry("argv", List.of("java", "-jar", "x.jar"));
            // and this JVM's descriptors of its modules image, for the next JVM to close
            @SuppressWarnings("unchecked")
            List<String> envp = (List<String>) during.get().get("envp");
            assertThat(envp.getFirst()).isEqualTo("A=1");
            assertThat(envp.subList(1, envp.size())).singleElement().asString().matches("EINHYRNINGSINS_LEAN_FDS=\\d+(,\\d+)*");
            Path modules = Path.of(System.getProperty("java.home"), "lib", "modules").toRealPath();
            for (String n : envp.get(1).substring("EINHYRNINGSINS_LEAN_FDS=".length()).split(",")) {
                assertThat(Files.readSymbolicLink(Path.of("/proc/self/fd/" + n))).isEqualTo(modules);
            }
            long mask = (long) during.get().get("mask");
            assertThat(Signals.has(mask, term) && Signals.has(mask, usr2)).isTrue();

            assertThat(Signals.disposition(term)).isEqualTo(before);
            assertThat(Signals.maskOf(Path.of("/proc/thread-self/status"), "SigBlk:")).isEqualTo(maskBefore);
            assertThat(Signals.has(maskBefore, ttin)).isTrue();
            assertThat(err.toString(StandardCharsets.UTF_8)).hasLineCount(1)
                    .startsWith("einhyrningsins: cannot start the JVM again with lean flags (execve /no/such/java")
                    .contains("No such file").endsWith("); running as started\n");
        } finally {
            Signals.unblock(ttin); // this thread runs the later tests: never leave it blocked
        }
    }
}
