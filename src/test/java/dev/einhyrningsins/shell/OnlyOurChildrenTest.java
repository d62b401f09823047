package dev.einhyrningsins.shell;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * As PID 1 the loop reaps every exited child that is not in {@link Children}: that is right
 * only while the supervisor starts processes through {@code posix.Spawn} alone. A child of
 * ProcessBuilder or Runtime.exec would be reaped under the JDK's own reaper thread, which
 * would then report a wrong exit status (or none).
 */
class OnlyOurChildrenTest {
    @Test
    void theSupervisorStartsNoProcessThroughTheJdk() throws IOException {
        try (Stream<Path> files = Files.walk(Path.of("src/main/java"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String code = Files.readString(f);
                assertThat(code).as(f.toString()).doesNotContain("new ProcessBuilder")
                        .doesNotContain("ProcessBuilder.startPipeline").doesNotContain("getRuntime().exec");
            }
        }
    }
}
