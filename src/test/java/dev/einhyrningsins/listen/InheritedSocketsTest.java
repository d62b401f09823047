package dev.einhyrningsins.listen;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.cli.BindSpec;
import dev.einhyrningsins.cli.Options.Family;
import dev.einhyrningsins.posix.Child;
import dev.einhyrningsins.posix.Processes;
import dev.einhyrningsins.posix.Spawn;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.supervisor.Os.Holding;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Real processes given a listener as fd 3: whether they hold it, found in /proc. */
class InheritedSocketsTest {
    final Log log = new Log(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8), 1, 1);
    final List<Child> children = new ArrayList<>();
    Listeners listeners;

    @AfterEach
    void stop() {
        for (Child c : children) c.killAndReapWithin(5000);
        if (listeners != null) listeners.close();
    }

    InheritedSockets sockets(String... specs) {
        listeners = Listeners.bind(List.of(), java.util.Arrays.stream(specs).map(BindSpec::parse).toList(), Family.ANY, 8, log);
        return InheritedSockets.of(listeners);
    }

    /** {@code sh -c SCRIPT} with the listeners as fds 3, 4, … */
    int worker(String script) {
        Child c = Spawn.start("/bin/sh", List.of("/bin/sh", "-c", script), List.of("PATH=/usr/bin:/bin"), listeners.fds());
        children.add(c);
        return c.pid();
    }

    /**
     * Whether {@code pid} now runs {@code command} (its words as its cmdline says them): the shell
     * before the exec has the same words in its script, so a substring would match too early.
     */
    static boolean running(int pid, String command) {
        try {
            return Files.readString(Path.of("/proc/" + pid + "/cmdline")).equals(command.replace(' ', '\0') + "\0");
        } catch (Exception e) {
            return false;
        }
    }

    @Test
    void aWorkerThatKeepsItsSocketsHoldsThem() {
        InheritedSockets s = sockets("127.0.0.1:0", "udp:127.0.0.1:0");
        assertThat(s.any()).isTrue();
        int pid = worker("exec sleep 30");
        await("sleep", () -> running(pid, "sleep 30"));
        assertThat(s.look(pid)).isEqualTo(Holding.HELD);
    }

    @Test
    void aWorkerThatClosedThemHoldsNone() {
        InheritedSockets s = sockets("127.0.0.1:0", "udp:127.0.0.1:0");
        int pid = worker("exec 3>&- 4>&-; exec sleep 31");
        await("sleep 31", () -> running(pid, "sleep 31"));
        assertThat(s.look(pid)).isEqualTo(Holding.NONE);
    }

    @Test
    void aSocketMovedToAnotherDescriptorOrHeldByAChildIsHeld() {
        InheritedSockets s = sockets("127.0.0.1:0");
        int moved = worker("exec 7>&3 3>&-; exec sleep 32");
        await("sleep 32", () -> running(moved, "sleep 32"));
        assertThat(s.look(moved)).isEqualTo(Holding.HELD);
        int parent = worker("sleep 33 & exec 3>&-; wait");
        await("its child", () -> {
            try {
                return Files.readString(Path.of("/proc/" + parent + "/task/" + parent + "/children")).trim().length() > 0
                        && !Files.exists(Path.of("/proc/" + parent + "/fd/3"));
            } catch (Exception e) {
                return false;
            }
        });
        assertThat(s.look(parent)).isEqualTo(Holding.HELD);
    }

    @Test
    void aProcessThatIsGoneOrExitingTellsNothing() {
        InheritedSockets s = sockets("127.0.0.1:0");
        int pid = worker("exit 0");
        await("a zombie", () -> {
            try {
                String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
                return stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
            } catch (Exception e) {
                return false;
            }
        });
        assertThat(s.look(pid)).as("a zombie has no descriptors").isEqualTo(Holding.UNKNOWN);
        assertThat(s.look(Integer.MAX_VALUE - 1)).isEqualTo(Holding.UNKNOWN);
    }

    @Test
    void withNoSocketsThereIsNothingToHold() {
        InheritedSockets s = sockets();
        assertThat(s.any()).isFalse();
        assertThat(s.look(Processes.getpid())).isEqualTo(Holding.UNKNOWN);
    }
}
