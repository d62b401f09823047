package dev.einhyrningsins.posix;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** posix_spawn and the Child handle, on real processes. */
class SpawnTest {

    private static final long DEADLINE_MILLIS = 20_000;

    /** Children still to kill and reap, and fds to close, if a test fails half-way. */
    private final List<Child> children = new ArrayList<>();
    private final List<Integer> fds = new ArrayList<>();

    @AfterEach
    void cleanUp() {
        for (Child child : children) {
            if (!child.gone()) {
                child.signal(Processes.SIGKILL);
                awaitExit(child);
            }
        }
        for (int fd : fds) {
            Fds.close(fd);
        }
    }

    private int fd(int fd) {
        fds.add(fd);
        return fd;
    }

    private Child spawn(List<String> argv, List<String> envp, int... inherit) {
        Child child = Spawn.start(argv.get(0), argv, envp, inherit);
        children.add(child);
        return child;
    }

    /** A child that stays alive until killed (posix_spawn returns after its exec). */
    private Child idleChild(List<String> envp, int... inherit) {
        return spawn(List.of("/bin/sleep", "3600"), envp, inherit);
    }

    /** Polls the pidfd until readable (with a deadline), then reaps. */
    static ExitStatus awaitExit(Child child) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DEADLINE_MILLIS);
        try (Poller poller = new Poller()) {
            short[] revents = new short[1];
            while (System.nanoTime() < deadline) {
                poller.await(new int[]{child.pidfd()}, new short[]{Poller.IN}, revents, 1, 1_000);
                if (revents[0] != 0) {
                    ExitStatus status = child.reap();
                    assertThat(status).as("pidfd readable means the child can be reaped").isNotNull();
                    assertThat(child.gone()).isTrue();
                    return status;
                }
            }
        }
        throw new AssertionError("child did not exit within " + DEADLINE_MILLIS + " ms");
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

    /** The child's fds from 3 up, now. */
    private static SortedSet<Integer> aboveStderr(int pid) {
        try {
            return openFds(pid).tailSet(3);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
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
        int tcp = fd(Sockets.listenTcp(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), "loopback",
                true, false, true, 8));
        int unix = fd(Sockets.listenUnix(dir.resolve("s"), false, 8));
        List<String> env = List.of("EINHORN_FDS=3 4", "EINHORN_FD_COUNT=2", "ODD=a=b c", "EMPTY=");

        Child child = idleChild(env, tcp, unix);
        int pid = child.pid();

        assertThat(link(Integer.toString(pid), 3)).isEqualTo(link("self", tcp)).startsWith("socket:");
        assertThat(link(Integer.toString(pid), 4)).isEqualTo(link("self", unix)).startsWith("socket:");
        assertThat(openFds(pid).tailSet(3)).containsExactly(3, 4);

        assertThat(statusField(pid, "SigBlk")).isEqualTo("0000000000000000");
        assertThat(statusField(pid, "SigIgn")).isEqualTo("0000000000000000");
        assertThat(statField(pid, 5)).as("process group").isEqualTo(Integer.toString(pid));
        assertThat(statField(pid, 4)).as("parent").isEqualTo(Integer.toString(Processes.getpid()));

        // posix_spawn returns once the child's exec switched its memory, which can be just before
        // the kernel has set its environment's bounds: an empty read then means "not yet"
        String text = "";
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DEADLINE_MILLIS);
        while (text.isEmpty() && System.nanoTime() < deadline) {
            text = new String(Files.readAllBytes(Path.of("/proc", Integer.toString(pid), "environ")), StandardCharsets.UTF_8);
            Thread.onSpinWait();
        }
        assertThat(text).endsWith("\0");
        assertThat(text.substring(0, text.length() - 1).split("\0", -1)).containsExactlyElementsOf(env);

        assertThat(Fds.isCloexec(child.pidfd())).isTrue();
        assertThat(child.signal(Processes.SIGKILL)).isTrue();
        assertThat(awaitExit(child).describe()).isEqualTo("killed by SIGKILL");
    }

    @Test
    void inheritedFdsThatCollideWithTargetSlotsAreNotClobbered(@TempDir Path dir) throws IOException {
        int a = fd(Sockets.listenUnix(dir.resolve("a"), false, 1));
        int b = fd(Sockets.listenUnix(dir.resolve("b"), false, 1));
        // b's number is one of the target slots 3..3+n-1 and is copied last: a naive
        // one-pass dup2 would overwrite it with a before copying it.
        int n = b - 1;
        int[] inherit = new int[n];
        Arrays.fill(inherit, a);
        inherit[n - 1] = b;

        Child child = idleChild(List.of(), inherit);
        String pid = Integer.toString(child.pid());
        for (int i = 0; i < n - 1; i++) {
            assertThat(link(pid, 3 + i)).as("fd %d", 3 + i).isEqualTo(link("self", a));
        }
        assertThat(link(pid, 3 + n - 1)).isEqualTo(link("self", b));
        // while the child's dynamic loader has a library open, one more fd shows
        await("the child's loader done", () -> aboveStderr(child.pid()).size() == n);
        assertThat(openFds(child.pid()).tailSet(3)).hasSize(n).last().isEqualTo(3 + n - 1);
    }

    @Test
    void stdioOnOneSocketCarriesStdoutAndStderrAndStdinReadsItsEnd() throws IOException {
        int[] pair = Sockets.socketPair();
        fd(pair[0]);
        Sockets.shutdownOutput(pair[0]);
        Child child;
        try {
            // cat copies stdin (end of input at once) and exits; the fds above 2 are listed first
            child = Spawn.start("/bin/sh", List.of("sh", "-c", "ls /proc/self/fd; echo out; echo err >&2; cat; echo done"),
                    List.of(), new int[0], Spawn.Stdio.all(pair[1]));
            children.add(child);
        } finally {
            Fds.close(pair[1]);
        }
        assertThat(awaitExit(child).describe()).isEqualTo("exited with status 0");
        StringBuilder got = new StringBuilder();
        byte[] buf = new byte[4096];
        int n;
        while ((n = Fds.read(pair[0], buf)) > 0) got.append(new String(buf, 0, n, StandardCharsets.UTF_8));
        assertThat(n).as("everyone holding the other end is gone: end of input").isZero();
        List<String> lines = List.of(got.toString().split("\n"));
        assertThat(lines).endsWith("out", "err", "done");
        assertThat(lines.subList(0, lines.size() - 3)).as("ls's own fds: stdio and the directory it reads")
                .containsExactly("0", "1", "2", "3");
    }

    /**
     * The targets of the child's {@code childFds} ({@code readlink}, one line each), which it
     * writes to its stdout; {@code pair} is a socket pair whose write end the caller gave it
     * (closed here once the child has it) and whose read end gets the lines.
     */
    private List<String> childLinks(String childFds, int[] pair, int[] inherit, Spawn.Stdio stdio) {
        fd(pair[0]);
        try {
            children.add(Spawn.start("/bin/sh", List.of("sh", "-c", "readlink " + childFds), List.of(), inherit, stdio));
        } finally {
            Fds.close(pair[1]);
        }
        awaitExit(children.getLast());
        byte[] buf = new byte[4096];
        return List.of(new String(buf, 0, Fds.read(pair[0], buf), StandardCharsets.UTF_8).split("\n"));
    }

    @Test
    void stdioAndInheritedSocketsTogether(@TempDir Path dir) throws IOException {
        int listener = fd(Sockets.listenUnix(dir.resolve("s"), false, 1));
        int[] pair = Sockets.socketPair();
        String socket = link("self", pair[1]);
        assertThat(childLinks("/proc/self/fd/3 /proc/self/fd/1 /proc/self/fd/2", pair, new int[] {listener},
                Spawn.Stdio.all(pair[1]))).containsExactly(link("self", listener), socket, socket);
    }

    /** One fd of ours as an inherited socket and as stdin, another as stdout and stderr: every copy lands. */
    @Test
    void aSourceUsedTwiceOrForSeveralTargetsReachesEachOfThem(@TempDir Path dir) throws IOException {
        int listener = fd(Sockets.listenUnix(dir.resolve("s"), false, 1));
        int[] pair = Sockets.socketPair();
        String socket = link("self", pair[1]);
        assertThat(childLinks("/proc/self/fd/0 /proc/self/fd/3 /proc/self/fd/4 /proc/self/fd/2", pair,
                new int[] {listener, pair[1]}, new Spawn.Stdio(listener, pair[1], pair[1])))
                .containsExactly(link("self", listener), link("self", listener), socket, socket);
    }

    @Test
    void childWithoutInheritedFdsHasNothingAboveStderr() throws IOException {
        Child child = idleChild(List.of());
        await("the child's loader done", () -> aboveStderr(child.pid()).isEmpty());
    }

    @Test
    void exitStatusIsReportedThroughThePidfd() {
        Child child = spawn(List.of("/bin/sh", "-c", "exit 3"), List.of());
        ExitStatus status = awaitExit(child);
        assertThat(status).isEqualTo(new ExitStatus(child.pid(), false, 3, false));
        assertThat(status.describe()).isEqualTo("exited with status 3");
    }

    @Test
    void argvAndEnvironmentReachTheProgram(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("out");
        Child child = spawn(List.of("/bin/sh", "-c", "printf '%s|%s|%s' \"$0\" \"$1\" \"$GREETING\" > \"$OUT\"",
                        "zeroth", "first arg"),
                List.of("GREETING=hello world", "OUT=" + out));
        assertThat(awaitExit(child).describe()).isEqualTo("exited with status 0");
        assertThat(Files.readString(out)).isEqualTo("zeroth|first arg|hello world");
    }

    @Test
    void runningChildIsNotReapedKilledChildIsAndThenCannotBeSignalled() {
        Child child = idleChild(List.of());
        assertThat(child.reap()).isNull();
        assertThat(child.gone()).isFalse();
        assertThat(Processes.kill(child.pid(), 0)).isTrue();

        assertThat(child.signal(Processes.SIGKILL)).isTrue();
        ExitStatus status = awaitExit(child);
        assertThat(status).isEqualTo(new ExitStatus(child.pid(), true, Processes.SIGKILL, false));
        assertThat(child.signal(Processes.SIGTERM)).as("after reap").isFalse();
        assertThat(child.signalGroup(Processes.SIGTERM)).as("its group id may be someone else's now").isFalse();
        assertThat(child.reap()).as("reaping again returns the same status").isEqualTo(status);
    }

    @Test
    void signalGroupReachesTheChildsProcessGroup() {
        Child child = idleChild(List.of());
        assertThat(child.signalGroup(Processes.SIGTERM)).isTrue();
        assertThat(awaitExit(child)).isEqualTo(new ExitStatus(child.pid(), true, Processes.SIGTERM, false));
        assertThat(Processes.kill(-child.pid(), Processes.SIGTERM)).as("group is gone").isFalse();
    }

    @Test
    void aChildWhosePidfdCannotBeOpenedIsKilledAndReapedNotLeftRunning() {
        int[] started = new int[1];
        assertThatThrownBy(() -> Spawn.start("/bin/sleep", List.of("/bin/sleep", "3600"), List.of(), new int[0], Spawn.Stdio.INHERIT,
                pid -> {
                    started[0] = pid;
                    throw new PosixException("pidfd_open " + pid, 24); // EMFILE: out of fds
                }))
                .isInstanceOfSatisfying(PosixException.class, e -> assertThat(e.errnoName()).isEqualTo("EMFILE"));
        assertThat(started[0]).isPositive();
        assertThat(Processes.kill(started[0], 0)).as("killed and reaped: no such process").isFalse();
        assertThat(Files.exists(Path.of("/proc", Integer.toString(started[0])))).isFalse();
    }

    @Test
    void anErrorAfterSpawnKillsAndReapsTheChildToo() {
        int[] started = new int[1];
        assertThatThrownBy(() -> Spawn.start("/bin/sleep", List.of("/bin/sleep", "3600"), List.of(), new int[0], Spawn.Stdio.INHERIT,
                pid -> {
                    started[0] = pid;
                    throw new OutOfMemoryError("injected");
                }))
                .isInstanceOf(OutOfMemoryError.class);
        assertThat(Processes.kill(started[0], 0)).isFalse();
    }

    @Test
    void missingProgramFailsWithEnoentNamingIt(@TempDir Path dir) {
        String program = dir.resolve("no-such-program").toString();
        assertThatThrownBy(() -> Spawn.start(program, List.of("x"), List.of(), new int[0]))
                .isInstanceOfSatisfying(PosixException.class, e -> {
                    assertThat(e.errnoName()).isEqualTo("ENOENT");
                    assertThat(e.call()).isEqualTo("posix_spawn " + program);
                    assertThat(e.getMessage())
                            .isEqualTo("posix_spawn " + program + ": ENOENT (No such file or directory)");
                });
    }

    @Test
    void execveOfAMissingProgramThrowsInsteadOfReturning(@TempDir Path dir) {
        String program = dir.resolve("missing").toString();
        assertThatThrownBy(() -> Spawn.execve(program, List.of(program), List.of()))
                .isInstanceOfSatisfying(PosixException.class, e -> {
                    assertThat(e.errnoName()).isEqualTo("ENOENT");
                    assertThat(e.call()).isEqualTo("execve " + program);
                });
    }
}
