package dev.einhyrningsins.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.einhyrningsins.shell.RunAs;
import dev.einhyrningsins.shell.StartupException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The one setpriv that -k and --user share: what it is told, in one invocation, and what happens without it. */
class ExecPrefixTest {
    static final RunAs USER = new RunAs(null, 54321, null, 54321, new int[0]);

    @Test
    void neitherAsksForNothing() {
        assertThat(RealOs.execPrefix(null, null, "/nonexistent")).isEmpty();
    }

    @Test
    void killChildrenOnExitAndUserComposeInOneSetpriv() {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs setpriv (util-linux)");
        String path = "/usr/bin:/bin";
        assertThat(RealOs.execPrefix(null, "USR2", path)).containsExactly("/usr/bin/setpriv", "--pdeathsig", "USR2", "--");
        assertThat(RealOs.execPrefix(USER, null, path)).containsExactly("/usr/bin/setpriv", "--reuid=54321", "--regid=54321",
                "--clear-groups", "--");
        assertThat(RealOs.execPrefix(new RunAs("www-data", 33, "www-data", 33, new int[] {33, 110}), "TERM", path))
                .containsExactly("/usr/bin/setpriv", "--reuid=33", "--regid=33", "--groups=33,110", "--pdeathsig", "TERM",
                        "--");
    }

    @Test
    void withoutSetprivInPathItIsOneLineNamingTheOption(@TempDir Path empty) {
        assertThatThrownBy(() -> RealOs.execPrefix(USER, null, empty.toString())).isInstanceOf(StartupException.class)
                .hasMessageStartingWith("--user needs setpriv (util-linux 2.33 or later): setpriv: command not found in PATH");
        assertThatThrownBy(() -> RealOs.execPrefix(USER, "USR2", empty.toString()))
                .hasMessageStartingWith("-k needs setpriv (util-linux 2.33 or later): ");
    }
}
