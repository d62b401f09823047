package dev.einhyrningsins.reload;

import dev.einhyrningsins.posix.Child;
import dev.einhyrningsins.posix.Fds;
import dev.einhyrningsins.posix.Spawn;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.IntFunction;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Every effect a reload has on the process, as plain functions (as tableflip's {@code env}
 * does): {@link #real()} has the real ones, and a test swaps a single one to make that step
 * fail, or to watch it, without exec'ing anything.
 *
 * @param nanoTime  the monotonic clock (the same across the exec)
 * @param openFds   the fds this process has open
 * @param cloexec   sets or clears FD_CLOEXEC on an fd
 * @param memfd     a fresh memfd (close-on-exec cleared: it goes to the next process)
 * @param write     writes the whole of a byte array into a memfd, from its start
 * @param read      reads a memfd (the new process's side) and closes it
 * @param dup2      {@code dup2(from, to)}
 * @param dupAbove  a copy of an fd at the lowest free number from a minimum, close-on-exec
 * @param close     closes an fd
 * @param exec      {@code execve}: returns only by throwing
 * @param adopt     takes charge of a child by pid (its pidfd); if that fails the child is killed and reaped, then it throws
 */
public record Effects(LongSupplier nanoTime, Supplier<List<Integer>> openFds, Cloexec cloexec, Supplier<Integer> memfd,
                      Write write, Read read, Dup2 dup2, DupAbove dupAbove, Close close, Exec exec, IntFunction<Child> adopt) {

    @FunctionalInterface
    public interface Cloexec {
        void set(int fd, boolean on);
    }

    @FunctionalInterface
    public interface Write {
        void write(int fd, byte[] content) throws IOException;
    }

    @FunctionalInterface
    public interface Read {
        byte[] read(int fd) throws IOException;
    }

    @FunctionalInterface
    public interface Dup2 {
        void dup2(int from, int to);
    }

    @FunctionalInterface
    public interface DupAbove {
        int dup(int fd, int min);
    }

    @FunctionalInterface
    public interface Close {
        void close(int fd);
    }

    @FunctionalInterface
    public interface Exec {
        void exec(String path, List<String> argv, List<String> envp);
    }

    /** The real process: /proc, fcntl, memfd_create, dup2, execve, pidfd_open. */
    public static Effects real() {
        return new Effects(System::nanoTime, Fds::open, Fds::setCloexec, () -> {
            int fd = Fds.memfd("einhyrningsins-handover");
            Fds.setCloexec(fd, false);
            return fd;
        }, (fd, content) -> Files.write(Path.of("/proc/self/fd/" + fd), content), fd -> {
            try {
                return Files.readAllBytes(Path.of("/proc/self/fd/" + fd));
            } finally {
                Fds.closeQuietly(fd);
            }
        }, Fds::dup2, Fds::dupAtLeast, Fds::closeQuietly, Spawn::execve, Child::adopt);
    }

    public Effects withExec(Exec e) {
        return new Effects(nanoTime, openFds, cloexec, memfd, write, read, dup2, dupAbove, close, e, adopt);
    }

    public Effects withAdopt(IntFunction<Child> a) {
        return new Effects(nanoTime, openFds, cloexec, memfd, write, read, dup2, dupAbove, close, exec, a);
    }

    public Effects withRead(Read r) {
        return new Effects(nanoTime, openFds, cloexec, memfd, write, r, dup2, dupAbove, close, exec, adopt);
    }

    public Effects withWrite(Write w) {
        return new Effects(nanoTime, openFds, cloexec, memfd, w, read, dup2, dupAbove, close, exec, adopt);
    }

    public Effects withNanoTime(LongSupplier clock) {
        return new Effects(clock, openFds, cloexec, memfd, write, read, dup2, dupAbove, close, exec, adopt);
    }
}
