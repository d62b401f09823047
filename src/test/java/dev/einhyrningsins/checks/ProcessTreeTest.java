package dev.einhyrningsins.checks;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A process tree's resident memory, from /proc, on real processes. */
class ProcessTreeTest {

    @Test
    void theRssOfAProcessCountsItsDescendants() throws Exception {
        // a shell whose grandchild holds 48 MiB (bytes repetition writes every page)
        Process sh = new ProcessBuilder("/bin/sh", "-c",
                "python3 -c 'import time; b = b\"x\" * (48 << 20); print(1, flush=True); time.sleep(60)' & wait").start();
        try {
            assertThat(sh.getInputStream().read()).as("the grandchild holds its memory").isEqualTo('1');
            int pid = (int) sh.pid();
            assertThat(ProcessTree.rss(pid)).as("the shell alone").isPositive().isLessThan(48L << 20);
            assertThat(new ProcessTree().rssBytes(pid)).isGreaterThan(48L << 20);
        } finally {
            sh.descendants().forEach(ProcessHandle::destroyForcibly);
            sh.destroyForcibly();
            assertThat(sh.waitFor(20, TimeUnit.SECONDS)).isTrue();
        }
        assertThat(new ProcessTree().rssBytes((int) sh.pid())).as("a process that is gone").isEqualTo(-1);
    }
}
