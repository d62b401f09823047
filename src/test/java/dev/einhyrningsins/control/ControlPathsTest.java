package dev.einhyrningsins.control;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** einhorn's default file names: $TMPDIR (else /tmp)/einhorn[-NAME].sock, and the lock beside the socket. */
class ControlPathsTest {

    @Test
    void theSocketIsInTheTemporaryDirectoryNamedAfterTheInstance() {
        String env = System.getenv("TMPDIR");
        Path tmp = Path.of(env == null || env.isEmpty() ? "/tmp" : env);
        assertThat(ControlPaths.tmpdir()).isEqualTo(tmp);
        assertThat(ControlPaths.defaultSocketPath(Optional.empty())).isEqualTo(tmp.resolve("einhorn.sock"));
        assertThat(ControlPaths.defaultSocketPath(Optional.of("web"))).isEqualTo(tmp.resolve("einhorn-web.sock"));
    }

    @Test
    void theLockIsBesideTheSocket() {
        assertThat(ControlPaths.defaultLockfile(Path.of("/run/app/ctl.sock"), Optional.empty()))
                .isEqualTo(Path.of("/run/app/einhorn.lock"));
        assertThat(ControlPaths.defaultLockfile(Path.of("/run/app/ctl.sock"), Optional.of("web")))
                .isEqualTo(Path.of("/run/app/einhorn-web.lock"));
        assertThat(ControlPaths.defaultLockfile(Path.of("ctl.sock"), Optional.empty()))
                .isEqualTo(Path.of("einhorn.lock").toAbsolutePath());
    }
}
