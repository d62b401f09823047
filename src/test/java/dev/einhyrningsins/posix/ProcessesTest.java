package dev.einhyrningsins.posix;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProcessesTest {

    @Test
    void trimmingTheCHeapReturnsWhatWasFreed() {
        // 16 MiB of small blocks (below glibc's mmap threshold, so they come from an arena), then freed
        try (Arena arena = Arena.ofConfined()) {
            List<MemorySegment> blocks = new ArrayList<>();
            for (int i = 0; i < 4096; i++) blocks.add(arena.allocate(4096).fill((byte) 1));
            assertThat(blocks).hasSize(4096);
        }
        assertThat(Processes.trimNativeHeap()).as("memory released").isTrue();
    }
}
