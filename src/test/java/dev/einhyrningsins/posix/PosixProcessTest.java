package dev.einhyrningsins.posix;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PosixProcessTest {

    private static final long DEADLINE_MILLIS = 20_000;

    /** Children still to kill and reap, and fds to close, if a test fails half-way. */
    private final List<int[]> children = new ArrayList<>(); // {pid, pidfd}
    private final List<Integer> fds = new ArrayList<>();

    @AfterEach
    void cleanUp() {
        for (int[] child : children) {
            Posix.pidfdSendSignal(child[1], Posix.SIGKILL);
            awaitExit(child[1]);
            Posix.close(child[1]);
        }
        for (int fd : fds) {
            Posix.close(fd);
        }
    }

    private int fd(int fd) {
        fds.add(fd);
        return fd;
    }

    /** Spawns and tracks a child; returns {pid, pidfd}. */
    private int[] spawn(List<String> argv, List<String> envp, int... inherit) {
        int pid = Posix.spawn(argv.get(0), argv, envp, inherit);
        int[] child = {pid, Posix.pidfdOpen(pid)};
        children.add(child);
        return child;
    }

    /** A child that stays alive until killed (posix_spawn returns after its exec). */
    private int[] idleChild(List<String> envp, int... inherit) {
        return spawn(List.of("/bin/sleep", "3600"), envp, inherit);
    }

    /** Polls the pidfd until readable (with a deadline), then reaps. */
    private static ExitStatus awaitExit(int pidfd) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DEADLINE_MILLIS);
        boolean[] ready = new boolean[1];
        while (System.nanoTime() < deadline) {
            if (Posix.poll(new int[]{pidfd}, ready, 1_000) > 0 && ready[0]) {
                ExitStatus status = Posix.waitPidfd(pidfd);
                assertThat(status).as("pidfd readable means the child can be reaped").isNotNull();
                return status;
            }
        }
        throw new AssertionError("child did not exit within " + DEADLINE_MILLIS + " ms");
    }

    private ExitStatus reap(int[] child) {
        ExitStatus status = awaitExit(child[1]);
        children.remove(child);
        Posix.close(child[1]);
        return status;
    }

    private static String link(String pid, int fd) throws IOException {
        return Files.readSymbolicLink(Path.of("/proc", pid, "fd", Integer.toString(fd))).toString();
    }

    private static TreeSet<Integer> openFds(int pid) throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc", Integer.toString(pid), "fd"))) {
            return s.map(p -> Integer.parseInt(p.getFileName().toString()))
                    .collect(TreeSet::new, TreeSet::add, TreeSet::addAll);
        }
    }

    private static String statusField(int pid, String field) throws IOException {
        return Files.readAllLines(Path.of("/proc", Integer.toString(pid), "status")).stream()
                .filter(l -> l.startsWith(field + ":"))
                .map(l -> l.substring(field.length() + 1).strip())
                .findFirst().orElseThrow();
    }

    /** Field {@code n} (1-based) of /proc/PID/stat, counting after the parenthesised comm. */
    private static String statField(int pid, int n) throws IOException {
        String stat = Files.readString(Path.of("/proc", Integer.toString(pid), "stat"));
        String[] rest = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return rest[n - 3];
    }

    @Test
    void childGetsExactlyTheSocketsACleanSignalStateItsOwnGroupAndTheEnvironment(@TempDir Path dir)
            throws IOException {
        int tcp = fd(Posix.listenTcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                true, false, true, 8));
        int unix = fd(Posix.listenUnix(dir.resolve("s"), false, 8));
        List<String> env = List.of("EINHORN_FDS=3 4", "EINHORN_FD_COUNT=2", "ODD=a=b c", "EMPTY=");

        int[] child = idleChild(env, tcp, unix);
        int pid = child[0];

        assertThat(link(Integer.toString(pid), 3)).isEqualTo(link("self", tcp)).startsWith("socket:");
        assertThat(link(Integer.toString(pid), 4)).isEqualTo(link("self", unix)).startsWith("socket:");
        assertThat(openFds(pid).tailSet(3)).containsExactly(3, 4);

        assertThat(statusField(pid, "SigBlk")).isEqualTo("0000000000000000");
        assertThat(statusField(pid, "SigIgn")).isEqualTo("0000000000000000");
        assertThat(statField(pid, 5)).as("process group").isEqualTo(Integer.toString(pid));
        assertThat(statField(pid, 4)).as("parent").isEqualTo(Integer.toString(Posix.getpid()));

        byte[] environ = Files.readAllBytes(Path.of("/proc", Integer.toString(pid), "environ"));
        String text = new String(environ, StandardCharsets.UTF_8);
        assertThat(text).endsWith("\0");
        assertThat(text.substring(0, text.length() - 1).split("\0", -1)).containsExactlyElementsOf(env);

        assertThat(Posix.pidfdSendSignal(child[1], Posix.SIGKILL)).isTrue();
        assertThat(reap(child).describe()).isEqualTo("killed by SIGKILL");
    }

    @Test
    void inheritedFdsThatCollideWithTargetSlotsAreNotClobbered(@TempDir Path dir) throws IOException {
        int a = fd(Posix.listenUnix(dir.resolve("a"), false, 1));
        int b = fd(Posix.listenUnix(dir.resolve("b"), false, 1));
        // b's number is one of the target slots 3..3+n-1 and is copied last: a naive
        // one-pass dup2 would overwrite it with a before copying it.
        int n = b - 1;
        int[] inherit = new int[n];
        Arrays.fill(inherit, a);
        inherit[n - 1] = b;

        int[] child = idleChild(List.of(), inherit);
        String pid = Integer.toString(child[0]);
        for (int i = 0; i < n - 1; i++) {
            assertThat(link(pid, 3 + i)).as("fd %d", 3 + i).isEqualTo(link("self", a));
        }
        assertThat(link(pid, 3 + n - 1)).isEqualTo(link("self", b));
        assertThat(openFds(child[0]).tailSet(3)).hasSize(n).last().isEqualTo(3 + n - 1);
    }

    @Test
    void childWithoutInheritedFdsHasNothingAboveStderr() throws IOException {
        int[] child = idleChild(List.of());
        assertThat(openFds(child[0]).tailSet(3)).isEmpty();
    }

    @Test
    void exitStatusIsReportedThroughThePidfd() {
        int[] child = spawn(List.of("/bin/sh", "-c", "exit 3"), List.of());
        ExitStatus status = reap(child);
        assertThat(status).isEqualTo(new ExitStatus(child[0], false, 3, false));
        assertThat(status.describe()).isEqualTo("exited with status 3");
    }

    @Test
    void argvAndEnvironmentReachTheProgram(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("out");
        int[] child = spawn(List.of("/bin/sh", "-c", "printf '%s|%s|%s' \"$0\" \"$1\" \"$GREETING\" > \"$OUT\"",
                        "zeroth", "first arg"),
                List.of("GREETING=hello world", "OUT=" + out));
        assertThat(reap(child).describe()).isEqualTo("exited with status 0");
        assertThat(Files.readString(out)).isEqualTo("zeroth|first arg|hello world");
    }

    @Test
    void runningChildIsNotReapedKilledChildIsAndThenCannotBeSignalled() {
        int[] child = idleChild(List.of());
        assertThat(Posix.waitPidfd(child[1])).isNull();
        assertThat(Posix.kill(child[0], 0)).isTrue();

        assertThat(Posix.pidfdSendSignal(child[1], Posix.SIGKILL)).isTrue();
        int pidfd = child[1];
        ExitStatus status = awaitExit(pidfd);
        children.remove(child);
        try {
            assertThat(status).isEqualTo(new ExitStatus(child[0], true, Posix.SIGKILL, false));
            assertThat(Posix.pidfdSendSignal(pidfd, Posix.SIGTERM)).as("after reap").isFalse();
            assertThatThrownBy(() -> Posix.waitPidfd(pidfd))
                    .isInstanceOfSatisfying(PosixException.class, e -> assertThat(e.errnoName()).isEqualTo("ECHILD"));
        } finally {
            Posix.close(pidfd);
        }
    }

    @Test
    void killReachesTheChildsProcessGroup() {
        int[] child = idleChild(List.of());
        assertThat(Posix.kill(-child[0], Posix.SIGTERM)).isTrue();
        assertThat(reap(child)).isEqualTo(new ExitStatus(child[0], true, Posix.SIGTERM, false));
        assertThat(Posix.kill(-child[0], Posix.SIGTERM)).as("group is gone").isFalse();
    }

    @Test
    void missingProgramFailsWithEnoentNamingIt(@TempDir Path dir) {
        String program = dir.resolve("no-such-program").toString();
        assertThatThrownBy(() -> Posix.spawn(program, List.of("x"), List.of(), new int[0]))
                .isInstanceOfSatisfying(PosixException.class, e -> {
                    assertThat(e.errno()).isEqualTo(Posix.ENOENT);
                    assertThat(e.call()).isEqualTo("posix_spawn " + program);
                    assertThat(e.getMessage())
                            .isEqualTo("posix_spawn " + program + ": ENOENT (No such file or directory)");
                });
    }

    @Test
    void execveOfAMissingProgramThrowsInsteadOfReturning(@TempDir Path dir) {
        String program = dir.resolve("missing").toString();
        assertThatThrownBy(() -> Posix.execve(program, List.of(program), List.of()))
                .isInstanceOfSatisfying(PosixException.class, e -> {
                    assertThat(e.errnoName()).isEqualTo("ENOENT");
                    assertThat(e.call()).isEqualTo("execve " + program);
                });
    }

    @Test
    void eventfdWakesAPollBlockedInAnotherThread() throws Exception {
        int efd = fd(Posix.eventfd());
        assertThat(Posix.isCloexec(efd)).isTrue();
        assertThat(Posix.isNonBlocking(efd)).isTrue();
        boolean[] ready = new boolean[1];
        assertThat(Posix.poll(new int[]{efd}, ready, 0)).isZero();
        assertThat(ready[0]).isFalse();

        CompletableFuture<Boolean> woken = new CompletableFuture<>();
        CompletableFuture<Void> polling = new CompletableFuture<>();
        Thread poller = Thread.ofPlatform().start(() -> {
            boolean[] r = new boolean[1];
            polling.complete(null);
            int n = Posix.poll(new int[]{efd}, r, -1);
            woken.complete(n == 1 && r[0]);
        });
        polling.get(DEADLINE_MILLIS, TimeUnit.MILLISECONDS);
        Posix.eventfdSignal(efd);
        Posix.eventfdSignal(efd);
        assertThat(woken.get(DEADLINE_MILLIS, TimeUnit.MILLISECONDS)).isTrue();
        poller.join(DEADLINE_MILLIS);

        Posix.eventfdDrain(efd);
        assertThat(Posix.poll(new int[]{efd}, ready, 0)).isZero();
    }

    @Test
    void pollReportsOnlyTheReadyFd() {
        int quiet = fd(Posix.eventfd());
        int loud = fd(Posix.eventfd());
        Posix.eventfdSignal(loud);
        boolean[] ready = {true, true};
        assertThat(Posix.poll(new int[]{quiet, loud}, ready, 10_000)).isEqualTo(1);
        assertThat(ready).containsExactly(false, true);
    }

    @Test
    void signalNamesAndNumbersRoundTrip() {
        for (String name : List.of("USR2", "SIGUSR2", "usr2", "SigUsr2", " 12 ", "12")) {
            assertThat(Posix.signalNumber(name)).as(name).isEqualTo(12);
        }
        assertThat(Posix.signalName(12)).isEqualTo("USR2");
        assertThat(Posix.signalNumber("KILL")).isEqualTo(9);
        assertThat(Posix.signalNumber("HUP")).isEqualTo(1);
        assertThat(Posix.signalNumber("TERM")).isEqualTo(15);
        assertThat(Posix.signalNumber("CHLD")).isEqualTo(17);
        assertThat(Posix.signalNumber("TTIN")).isEqualTo(21);
        assertThat(Posix.signalNumber("WINCH")).isEqualTo(28);
        assertThat(Posix.signalNumber("IOT")).isEqualTo(6);
        assertThat(Posix.signalName(6)).isEqualTo("ABRT");
        for (String bad : List.of("", "NOPE", "SIG", "0", "65", "-1", "99999999999", "USR3")) {
            assertThat(Posix.signalNumber(bad)).as(bad).isEqualTo(-1);
        }
        for (int n = 1; n <= 64; n++) {
            assertThat(Posix.signalNumber(Posix.signalName(n))).as("signal %d", n).isEqualTo(n);
        }
        Map<Integer, String> all = Posix.signals();
        assertThat(all).hasSize(31).containsEntry(1, "HUP").containsEntry(31, "SYS");
        assertThat(Posix.signalName(40)).isEqualTo("40");
    }

    @Test
    void errnoNamesAndMessages() {
        assertThat(Posix.errnoName(Posix.EADDRINUSE)).isEqualTo("EADDRINUSE");
        assertThat(Posix.errnoName(Posix.EAGAIN)).isEqualTo("EAGAIN");
        assertThat(Posix.errnoName(Posix.ENOENT)).isEqualTo("ENOENT");
        assertThat(Posix.errnoName(95)).isEqualTo("EOPNOTSUPP");
        assertThat(Posix.errnoName(35)).isEqualTo("EDEADLK");
        assertThat(Posix.errnoName(999)).isEqualTo("errno 999");
        assertThat(Posix.strerror(Posix.ENOENT)).isEqualTo("No such file or directory");
        assertThat(new PosixException("open /x", Posix.EACCES))
                .hasMessage("open /x: EACCES (Permission denied)");
    }

    @Test
    void describesCoreDumps() {
        assertThat(new ExitStatus(42, true, 11, true).describe()).isEqualTo("killed by SIGSEGV (core dumped)");
        assertThat(new ExitStatus(42, true, 40, false).describe()).isEqualTo("killed by signal 40");
    }

    @Test
    void getpidIsThisJvm() {
        assertThat(Posix.getpid()).isEqualTo((int) ProcessHandle.current().pid());
    }
}
