package dev.einhyrningsins.shell;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.posix.Signals;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The supervisor's signals on real processes ({@link SignalProbe}): from a signalfd when the
 * JVM was started with them blocked (the image launcher's way), through the JVM otherwise,
 * and across an exec done as a reload does it — where none may be lost and none may kill.
 */
// on a thread of its own: a lost signal leaves the probe alive and a read of its output
// blocked, which interrupting the test's thread would not end
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class SignalIntakeTest {
    /** What the image launcher does before the JVM starts. */
    static final List<String> BLOCKED = List.of("env", "--ignore-signal=HUP,INT,TERM",
            "--block-signal=HUP,INT,TERM,USR2,TTIN,TTOU");

    @TempDir
    Path dir;
    Process probe;
    BufferedReader out;

    @AfterEach
    void stop() {
        if (probe != null) probe.destroyForcibly();
    }

    void start(List<String> prefix, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                SignalProbe.class.getName(), dir.resolve("go").toString()));
        cmd.addAll(List.of(args));
        probe = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        out = new BufferedReader(new InputStreamReader(probe.getInputStream(), StandardCharsets.UTF_8));
        if (prefix.equals(BLOCKED)) awaitBlocked();
    }

    /**
     * Until env has blocked the signals: one sent before would meet its default action (TTIN
     * stops the process, HUP kills it), which is env's start, not the JVM's the test is about.
     */
    void awaitBlocked() throws IOException, InterruptedException {
        long wanted = 0;
        for (int n : new int[] {1, 2, 12, 15, 21, 22}) wanted |= 1L << (n - 1); // HUP INT USR2 TERM TTIN TTOU
        Path status = Path.of("/proc", Long.toString(probe.pid()), "status");
        while ((Signals.maskOf(status, "SigBlk:") & wanted) != wanted) {
            Thread.sleep(1); // polling the process's own state, the condition itself
        }
    }

    void awaitFile(String name) throws InterruptedException {
        while (!Files.exists(dir.resolve(name))) Thread.sleep(1); // the probe's handshake
    }

    /** Until {@code signal} no longer waits in the probe's shared pending set. */
    void awaitNotPending(int signal) throws IOException, InterruptedException {
        Path status = Path.of("/proc", Long.toString(probe.pid()), "status");
        while (Signals.has(Signals.maskOf(status, "ShdPnd:"), signal)) Thread.sleep(1); // the condition itself
    }

    void go(String suffix) throws IOException {
        Files.createFile(dir.resolve("go" + suffix));
    }

    void signal(String name) throws Exception {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(probe.pid())).start();
        assertThat(kill.waitFor()).isZero();
    }

    String line() throws IOException {
        return out.readLine();
    }

    @Test
    void signalsBlockedInEveryThreadWaitInTheKernelFromTheJvmsFirstInstructionAndAreReadFromASignalfd() throws Exception {
        start(BLOCKED);
        signal("TTIN"); // before anything of ours runs: it must wait, and not stop the process
        signal("HUP");
        go("");
        assertThat(line()).isEqualTo("ready kernel=[TERM, INT, HUP, TTIN, TTOU] jvm=[]");
        List<String> taken = List.of(line(), line());
        assertThat(taken).containsExactlyInAnyOrder("took TTIN", "took HUP");
        signal("TTOU");
        assertThat(line()).isEqualTo("took TTOU");
        signal("INT");
        assertThat(line()).isEqualTo("took INT");
        signal("TERM");
        assertThat(line()).isEqualTo("took TERM");
        assertThat(probe.waitFor()).as("it exited by itself, not by a signal").isZero();
    }

    @Test
    void withoutThemBlockedTheJvmsHandlersTakeThemAndAnIgnoredOneIsHandledToo() throws Exception {
        start(List.of("sh", "-c", "trap '' INT; exec \"$@\"", "sh"));
        go("");
        assertThat(line()).isEqualTo("ready kernel=[] jvm=[TERM, INT, HUP, TTIN, TTOU]");
        signal("INT");
        assertThat(line()).isEqualTo("took INT");
        signal("TTIN");
        assertThat(line()).isEqualTo("took TTIN");
        signal("TERM");
        assertThat(line()).isEqualTo("took TERM");
        assertThat(probe.waitFor()).isZero();
    }

    /** Every line the probe prints until it exits. */
    List<String> rest() throws IOException {
        List<String> lines = new ArrayList<>();
        String l;
        while ((l = line()) != null) lines.add(l);
        return lines;
    }

    @Test
    void signalsBlockedEverywhereThatArriveWhileAReloadExecsAreAllTakenByTheNextProcess() throws Exception {
        start(BLOCKED, "exec");
        go("");
        assertThat(line()).isEqualTo("ready kernel=[TERM, INT, HUP, TTIN, TTOU] jvm=[]");
        go(".exec");
        assertThat(line()).isEqualTo("blocked");
        signal("TTIN");
        go(".window");
        assertThat(line()).isEqualTo("ignored");
        // the exec's last moment and the next JVM's start: TERM and INT would kill a JVM starting
        // up with them at their default, TTIN would stop it; they wait in the kernel
        signal("INT");
        signal("TERM");
        go(".last");
        assertThat(line()).isEqualTo("ready kernel=[TERM, INT, HUP, TTIN, TTOU] jvm=[]");
        assertThat(rest()).containsExactlyInAnyOrder("took TTIN", "took INT", "took TERM");
        assertThat(probe.waitFor()).as("not killed by a signal in the window").isZero();
    }

    @Test
    void underAPlainJvmASignalTakenByItsHandlersDuringTheExecIsCarriedAndNoneIsFatal() throws Exception {
        start(List.of(), "exec");
        go("");
        assertThat(line()).isEqualTo("ready kernel=[] jvm=[TERM, INT, HUP, TTIN, TTOU]");
        go(".exec");
        assertThat(line()).isEqualTo("blocked");
        signal("TTIN"); // another JVM thread takes it: the handler queues it, the exec carries it
        awaitFile("go.took-TTIN"); // the handler's thread has run (a signal it had not yet queued is the window's)
        go(".window");
        assertThat(line()).isEqualTo("ignored");
        signal("TERM"); // ignored from here to the exec (the plain-JVM window): lost, but not fatal
        awaitNotPending(15); // a JVM thread has taken it, and dropped it: else the exec could carry it, pending
        go(".last");
        assertThat(line()).as("the next process, in the kernel's way now").isEqualTo(
                "ready kernel=[TERM, INT, HUP, TTIN, TTOU] jvm=[]");
        assertThat(line()).isEqualTo("took TTIN");
        signal("TERM");
        assertThat(rest()).containsExactly("took TERM");
        assertThat(probe.waitFor()).isZero();
    }
}
