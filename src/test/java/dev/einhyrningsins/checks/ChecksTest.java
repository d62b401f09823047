package dev.einhyrningsins.checks;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.einhyrningsins.daemon.RealOs;
import dev.einhyrningsins.posix.PosixException;
import dev.einhyrningsins.shell.Children;
import dev.einhyrningsins.supervisor.CheckKind;
import dev.einhyrningsins.supervisor.Event;
import dev.einhyrningsins.supervisor.Os;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Check processes on the real machine: output, environment, exits, cancellation, nothing left behind. */
class ChecksTest {
    static final long DEADLINE_NANOS = TimeUnit.SECONDS.toNanos(20);

    final Children children = new Children();
    final Checks checks = new Checks(children);
    final List<Event> events = new ArrayList<>();
    @TempDir
    Path dir;

    @AfterEach
    void cleanUp() {
        children.close();
        assertThat(checks.size()).isZero();
    }

    /** Polls the checks as the loop does until {@code done} holds. */
    void pump(String what, BooleanSupplier done) {
        Wakeups.until(what, children, done);
    }

    void start(long id, String command, List<String> envp) {
        checks.start(new Os.CheckRun(id, 4242, 1, CheckKind.LIVE, command), envp, events::add);
    }

    Event.CheckFinished finished(long id) {
        pump("check " + id, () -> events.stream().anyMatch(e -> ((Event.CheckFinished) e).id() == id));
        return events.stream().map(Event.CheckFinished.class::cast).filter(e -> e.id() == id).findFirst().orElseThrow();
    }

    static boolean alive(String marker) {
        return ProcessHandle.allProcesses().anyMatch(p -> p.info().commandLine().orElse("").contains(marker));
    }

    @Test
    void aCheckReportsItsExitItsDurationAndTheLastLineOfStdoutAndStderr() {
        start(1, "echo first; echo 'second, on stderr' >&2; echo; exit 3", List.of());
        start(2, "echo fine", List.of());
        Event.CheckFinished one = finished(1);
        assertThat(one.pid()).isEqualTo(4242);
        assertThat(one.kind()).isEqualTo(CheckKind.LIVE);
        assertThat(one.passed()).isFalse();
        assertThat(one.outcome()).isEqualTo("exited with status 3");
        assertThat(one.lastLine()).isEqualTo("second, on stderr");
        assertThat(one.durationNanos()).isPositive();
        Event.CheckFinished two = finished(2);
        assertThat(two.passed()).isTrue();
        assertThat(two.outcome()).isEqualTo("passed");
        assertThat(two.lastLine()).isEqualTo("fine");
        assertThat(checks.size()).isZero();
    }

    @Test
    void stdinReadsEndOfInputAndOnlyStdioIsOpen() {
        start(1, "cat; ls /proc/self/fd | tr '\\n' ' '", List.of());
        assertThat(finished(1).lastLine()).as("ls's stdio and its directory").isEqualTo("0 1 2 3");
    }

    @Test
    void aCheckGetsTheEnvironmentItIsGiven() {
        Map<String, String> worker = Map.of("PATH", "/usr/bin:/bin", "EINHORN_FD_COUNT", "2", "EINHORN_FD_0", "3",
                "EINHORN_FD_1", "4", "EINHORN_FDS", "3 4", "EINHORN_SOCK_FD", "5", "EINHORN_MASTER_PID", "77");
        Map<String, String> env = RealOs.checkEnvironment(worker, List.of("127.0.0.1:8080", "unix:/run/app.sock"));
        assertThat(env).containsEntry("EINHORN_FD_COUNT", "2").containsEntry("EINHORN_FD_0", "127.0.0.1:8080")
                .containsEntry("EINHORN_FD_1", "unix:/run/app.sock").containsEntry("EINHORN_MASTER_PID", "77")
                .doesNotContainKeys("EINHORN_FDS", "EINHORN_SOCK_FD");
        List<String> envp = new ArrayList<>();
        env.forEach((k, v) -> envp.add(k + "=" + v));
        start(1, "echo \"$EINHORN_FD_0 $EINHORN_FD_1 $EINHORN_MASTER_PID\"", envp);
        assertThat(finished(1).lastLine()).isEqualTo("127.0.0.1:8080 unix:/run/app.sock 77");
    }

    @Test
    void whatACheckLeavesRunningIsKilledWhenItExits() throws IOException {
        Path pidfile = dir.resolve("straggler");
        start(1, "sleep 1001 & echo $! > " + pidfile + "; echo bye", List.of());
        assertThat(finished(1).lastLine()).isEqualTo("bye");
        long straggler = Long.parseLong(Files.readString(pidfile).trim());
        awaitGone(straggler);
    }

    @Test
    void aCancelledCheckIsKilledWithItsGroupAndReapedWithoutAnEvent() throws IOException {
        Path pidfile = dir.resolve("child");
        start(7, "sleep 1002 & echo $! > " + pidfile + "; printf 'connecting to 10.0.0.1'; sleep 1003", List.of());
        pump("the check's output", () -> {
            try {
                return Files.exists(pidfile) && !Files.readString(pidfile).isBlank() && alive("sleep 1003");
            } catch (IOException e) {
                return false;
            }
        });
        long child = Long.parseLong(Files.readString(pidfile).trim());
        assertThat(checks.cancel(7)).isEqualTo("connecting to 10.0.0.1");
        assertThat(checks.cancel(7)).as("already cancelled").isNull();
        assertThat(checks.exiting(4242, CheckKind.LIVE)).as("no new live check beside it").isTrue();
        assertThat(checks.exiting(4242, CheckKind.READY)).isFalse();
        pump("the cancelled check reaped", () -> checks.size() == 0);
        assertThat(checks.exiting(4242, CheckKind.LIVE)).isFalse();
        assertThat(events).isEmpty();
        awaitGone(child);
        assertThat(alive("sleep 1003")).isFalse();
    }

    @Test
    void stoppingTheHelpersKillsEveryCheckStillRunning() {
        start(1, "sleep 1004", List.of());
        start(2, "sleep 1005 & wait", List.of());
        pump("checks started", () -> alive("sleep 1004") && alive("sleep 1005"));
        children.stopHelpers();
        assertThat(checks.size()).isZero();
        // killed and, unless the machine is too busy to let it exit within close()'s second, reaped
        await("the check itself gone", () -> !alive("sleep 1004"));
        // what it started got SIGKILL with its group; its death is the kernel's business
        await("the check's own child killed", () -> !alive("sleep 1005"));
        assertThat(events).isEmpty();
    }

    @Test
    void aCheckThatCannotStartLeavesNothingOpen() throws IOException {
        long before = openFds();
        // one environment string over the kernel's 128 KiB limit: exec fails with E2BIG
        assertThatThrownBy(() -> start(1, "true", List.of("BIG=" + "x".repeat(200_000))))
                .isInstanceOf(PosixException.class).hasMessageContaining("E2BIG");
        assertThat(openFds()).isEqualTo(before);
        assertThat(checks.size()).isZero();
        assertThat(events).isEmpty();
    }

    @Test
    void theLastLineIsBoundedAndCutLinesAreMarked() {
        Subprocess.LastLine line = new Subprocess.LastLine();
        add(line, "x".repeat(2000) + "\n");
        assertThat(line.last()).isEqualTo("x".repeat(Subprocess.LastLine.MAX) + "…");
        add(line, "short\r\n\n  \n");
        assertThat(line.last()).as("blank lines do not count").isEqualTo("short");
        add(line, "y".repeat(600));
        assertThat(line.last()).as("an unfinished line counts").isEqualTo("y".repeat(Subprocess.LastLine.MAX) + "…");
        Subprocess.LastLine tabs = new Subprocess.LastLine();
        add(tabs, "a\tb\u0007c\n\n");
        assertThat(tabs.last()).isEqualTo("a b c");
    }

    static void add(Subprocess.LastLine line, String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        line.add(b, b.length);
    }

    static long openFds() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    /** Waits until {@code pid} is dead: gone, or a zombie its new parent has not reaped yet. */
    static void awaitGone(long pid) {
        await("process " + pid + " gone", () -> {
            try {
                String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
                return stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
            } catch (IOException e) {
                return true; // no such process
            }
        });
    }
}
