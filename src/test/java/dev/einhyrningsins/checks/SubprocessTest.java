package dev.einhyrningsins.checks;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.shell.Children;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** A helper process that never stops writing cannot hold the loop, and leaving kills and reaps it. */
class SubprocessTest {
    final Children children = new Children();
    final List<Subprocess.Ended> ended = new ArrayList<>();

    @AfterEach
    void cleanUp() {
        children.close();
    }

    @Test
    void aHelperWritingWithoutPauseIsReadABoundedAmountPerWakeUp() {
        Subprocess p = Subprocess.start(List.of("/bin/sh", "-c", "exec cat /dev/zero"), List.of(), children, ended::add);
        int[] wakeUps = new int[1];
        Wakeups.until("20 wake-ups with output", children, () -> wakeUps[0] >= 20, (ready, revents) -> {
            long before = p.bytesRead();
            ready.ready(revents);
            assertThat(p.bytesRead() - before).isLessThanOrEqualTo(Subprocess.MAX_READ_PER_WAKEUP);
            if (p.bytesRead() > before) wakeUps[0]++;
        });
        assertThat(p.running()).as("still writing").isTrue();
        p.cancel();
        children.stopHelpers();
        assertThat(p.running()).isFalse();
        assertThat(Files.exists(Path.of("/proc", Integer.toString(p.pid())))).as("killed and reaped").isFalse();
        assertThat(ended).as("a cancelled helper reports nothing").isEmpty();
    }

    @Test
    void stoppingTheHelpersKillsAndReapsThemAtOnce() {
        Subprocess a = Subprocess.start(List.of("/bin/sleep", "1006"), List.of(), children, ended::add);
        Subprocess b = Subprocess.start(List.of("/bin/sh", "-c", "sleep 1007 & wait"), List.of(), children, ended::add);
        children.stopHelpers();
        for (Subprocess p : List.of(a, b)) {
            assertThat(p.running()).isFalse();
            assertThat(Files.exists(Path.of("/proc", Integer.toString(p.pid())))).isFalse();
        }
        assertThat(children.helper(a.pid())).isNull();
        assertThat(ended).isEmpty();
    }
}
