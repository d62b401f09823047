package dev.einhyrningsins.posix;

import static dev.einhyrningsins.Await.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Looking at and reaping children that are not {@link Child}ren, on real processes of this
 * JVM (which has no other exited, unreaped children: the JDK reaps its own at once).
 */
class OrphansTest {

    private static Child exitingChild(int status) {
        return Spawn.start("/bin/sh", List.of("sh", "-c", "exit " + status), List.of(), new int[0]);
    }

    /** Waits (with a deadline) until {@code peekExited} names an exited child. */
    private static int awaitPeek() {
        int[] pid = new int[1];
        await("an exited child", () -> (pid[0] = Orphans.peekExited()) != 0);
        return pid[0];
    }

    @Test
    void peekNamesAnExitedChildWithoutReapingIt() throws InterruptedException {
        Child child = exitingChild(7);
        try {
            assertThat(awaitPeek()).isEqualTo(child.pid());
            assertThat(Orphans.peekExited()).as("still there: peeking does not reap").isEqualTo(child.pid());
            ExitStatus status = SpawnTest.awaitExit(child);
            assertThat(status.describe()).as("the status stays for the pidfd").isEqualTo("exited with status 7");
            assertThat(Orphans.peekExited()).isZero();
        } finally {
            child.close();
        }
    }

    @Test
    void reapTakesOneChildByPidWithItsStatus() throws InterruptedException {
        Child child = exitingChild(3);
        int pid = child.pid();
        child.close(); // from here on, a child nobody watches: an orphan's case
        assertThat(awaitPeek()).isEqualTo(pid);
        ExitStatus status = Orphans.reap(pid);
        assertThat(status).isNotNull();
        assertThat(status.pid()).isEqualTo(pid);
        assertThat(status.describe()).isEqualTo("exited with status 3");
        assertThat(Orphans.peekExited()).isZero();
        assertThat(Orphans.reap(pid)).as("reaped already").isNull();
    }

    @Test
    void aRunningChildIsNeitherPeekedNorReaped() {
        Child child = Spawn.start("/bin/sleep", List.of("sleep", "3600"), List.of(), new int[0]);
        try {
            assertThat(Orphans.peekExited()).isZero();
            assertThat(Orphans.reap(child.pid())).isNull();
            assertThat(child.gone()).isFalse();
        } finally {
            child.signal(Processes.SIGKILL);
            SpawnTest.awaitExit(child);
        }
    }

    @Test
    void anotherProcessIsNotOurs() {
        assertThat(Orphans.reap(1)).isNull();
        assertThatThrownBy(() -> Orphans.reap(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Orphans.reap(-1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void anOrdinaryProcessAdoptsNoOrphans() {
        // the test JVM is no subreaper (that case, and PID 1, run in Pid1IT)
        assumeTrue(Processes.getpid() != 1, "the tests run as PID 1");
        assertThat(Orphans.childSubreaper()).isFalse();
        assertThat(Orphans.adopted()).isFalse();
    }
}
