/**
 * The only FFM code in einhyrningsins, one file per concern: {@link dev.einhyrningsins.posix.Sockets},
 * {@link dev.einhyrningsins.posix.Spawn} (posix_spawn, execve), {@link dev.einhyrningsins.posix.Child}
 * (a child and its pidfd), {@link dev.einhyrningsins.posix.Poller} (poll plus a wake-up eventfd),
 * {@link dev.einhyrningsins.posix.Fds}, {@link dev.einhyrningsins.posix.Processes} and
 * {@link dev.einhyrningsins.posix.Orphans} (children we did not start, as PID 1 or a subreaper).
 *
 * <p>{@code libc} is jextract output (never edited by hand; see {@code jextract/README.md}).
 * {@link dev.einhyrningsins.posix.Downcall} re-links the errno-setting functions from the
 * generated addresses and descriptors with {@code captureCallState("errno")}, on first use;
 * failures become {@link dev.einhyrningsins.posix.PosixException}s naming the call, the errno
 * and strerror. No other package imports {@code java.lang.foreign}.
 */
package dev.einhyrningsins.posix;
