package dev.einhyrningsins.posix;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** Signal and errno names from the bindings' constants, and how exits are described. */
class NamesTest {

    @Test
    void signalNamesAndNumbersRoundTrip() {
        for (String name : List.of("USR2", "SIGUSR2", "usr2", "SigUsr2", " 12 ", "12")) {
            assertThat(Processes.signalNumber(name)).as(name).isEqualTo(12);
        }
        assertThat(Processes.signalName(12)).isEqualTo("USR2");
        assertThat(Processes.signalNumber("KILL")).isEqualTo(9);
        assertThat(Processes.signalNumber("HUP")).isEqualTo(1);
        assertThat(Processes.signalNumber("TERM")).isEqualTo(15);
        assertThat(Processes.signalNumber("CHLD")).isEqualTo(17);
        assertThat(Processes.signalNumber("TTIN")).isEqualTo(21);
        assertThat(Processes.signalNumber("WINCH")).isEqualTo(28);
        assertThat(Processes.signalNumber("IOT")).isEqualTo(6);
        assertThat(Processes.signalName(6)).isEqualTo("ABRT");
        for (String bad : List.of("", "NOPE", "SIG", "0", "65", "-1", "99999999999", "USR3")) {
            assertThat(Processes.signalNumber(bad)).as(bad).isEqualTo(-1);
        }
        for (int n = 1; n <= 64; n++) {
            assertThat(Processes.signalNumber(Processes.signalName(n))).as("signal %d", n).isEqualTo(n);
        }
        Map<Integer, String> all = Processes.signals();
        assertThat(all).hasSize(31).containsEntry(1, "HUP").containsEntry(31, "SYS");
        assertThat(Processes.signalName(40)).isEqualTo("40");
    }

    @Test
    void errnoNamesAndMessages() {
        assertThat(Processes.errnoName(98)).isEqualTo("EADDRINUSE");
        assertThat(Processes.errnoName(11)).isEqualTo("EAGAIN");
        assertThat(Processes.errnoName(2)).isEqualTo("ENOENT");
        assertThat(Processes.errnoName(95)).isEqualTo("EOPNOTSUPP");
        assertThat(Processes.errnoName(35)).isEqualTo("EDEADLK");
        assertThat(Processes.errnoName(999)).isEqualTo("errno 999");
        assertThat(Processes.strerror(2)).isEqualTo("No such file or directory");
        assertThat(new PosixException("open /x", 13)).hasMessage("open /x: EACCES (Permission denied)");
    }

    @Test
    void describesExitsAndCoreDumps() {
        assertThat(new ExitStatus(42, false, 3, false).describe()).isEqualTo("exited with status 3");
        assertThat(new ExitStatus(42, true, 11, true).describe()).isEqualTo("killed by SIGSEGV (core dumped)");
        assertThat(new ExitStatus(42, true, 40, false).describe()).isEqualTo("killed by signal 40");
    }

    @Test
    void getpidIsThisJvm() {
        assertThat(Processes.getpid()).isEqualTo((int) ProcessHandle.current().pid());
    }
}
