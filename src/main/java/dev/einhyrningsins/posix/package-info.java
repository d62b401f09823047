/**
 * The only FFM code in einhyrningsins: sockets, posix_spawn, pidfds, signals, exec.
 *
 * <p>{@code libc} is jextract output (never edited by hand; see {@code jextract/README.md}).
 * {@link dev.einhyrningsins.posix.Posix} re-links the errno-setting functions from the
 * generated addresses and descriptors with {@code captureCallState("errno")} and throws
 * {@link dev.einhyrningsins.posix.PosixException} naming the call, the errno and strerror.
 * No other package imports {@code java.lang.foreign}.
 */
package dev.einhyrningsins.posix;
