package dev.einhyrningsins.posix;

import dev.einhyrningsins.posix.libc.Libc;
import dev.einhyrningsins.posix.libc.cmsghdr;
import dev.einhyrningsins.posix.libc.iovec;
import dev.einhyrningsins.posix.libc.msghdr;
import dev.einhyrningsins.posix.libc.ucred;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.einhyrningsins.posix.Downcall.captureState;
import static dev.einhyrningsins.posix.Downcall.errno;
import static dev.einhyrningsins.posix.PosixException.failure;

/**
 * UNIX datagram sockets, as sd_notify(3) uses them: a sender that writes to an address
 * ({@code /run/…/notify}, or {@code @name} in the abstract namespace), with descriptors
 * ({@code SCM_RIGHTS}, {@code FDSTORE=1}) when asked, and receivers bound to an address that
 * learn each sender's credentials ({@code SO_PASSCRED}, {@code SCM_CREDENTIALS}).
 * Java's DatagramChannel has no UNIX domain, hence FFM here.
 */
public final class Datagrams {
    private Datagrams() {
    }

    private static final Downcall BIND = Downcall.of("bind",
            FunctionDescriptor.of(Libc.C_INT, Libc.C_INT, Libc.C_POINTER, Libc.C_INT));
    private static final Downcall SENDMSG = Downcall.of("sendmsg",
            FunctionDescriptor.of(Libc.C_LONG, Libc.C_INT, Libc.C_POINTER, Libc.C_INT));
    private static final Downcall RECVMSG = Downcall.of("recvmsg",
            FunctionDescriptor.of(Libc.C_LONG, Libc.C_INT, Libc.C_POINTER, Libc.C_INT));

    /** CMSG_SPACE(sizeof(struct ucred)): the header, 8-aligned, then the ucred, 8-aligned. */
    private static final long CRED_SPACE = align(cmsghdr.sizeof()) + align(ucred.sizeof());

    /**
     * One datagram received.
     *
     * @param data      its bytes (at most the buffer's size)
     * @param truncated it was longer than the buffer
     * @param pid       the sender's pid from its credentials (0 if none came)
     * @param uid       the sender's uid (-1 if none came)
     * @param fds       the descriptors it carried ({@code SCM_RIGHTS}), now ours and close-on-exec;
     *                  empty unless asked for
     */
    public record Received(byte[] data, boolean truncated, int pid, int uid, int[] fds) {}

    /** An unbound, non-blocking datagram socket to send from. */
    public static int sender() {
        try (Arena arena = Arena.ofConfined()) {
            return socket(captureState(arena), "notify sender");
        }
    }

    /**
     * A non-blocking datagram socket bound at {@code address} ({@code /path} or {@code @abstract}),
     * with {@code SO_PASSCRED} so every datagram carries its sender's pid and uid.
     */
    public static int receiver(String address) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            int fd = socket(st, address);
            boolean ok = false;
            try {
                MemorySegment one = arena.allocateFrom(ValueLayout.JAVA_INT, 1);
                Sockets.setsockopt(st, fd, Libc.SOL_SOCKET(), Libc.SO_PASSCRED(), one, "SO_PASSCRED " + address);
                MemorySegment sa = Sockets.unixAddress(arena, address, "address " + address);
                if (BIND.call(st, fd, sa.address(), (int) sa.byteSize()) < 0) {
                    throw failure("bind " + address, st);
                }
                ok = true;
                return fd;
            } finally {
                if (!ok) Fds.closeQuietly(fd);
            }
        }
    }

    private static int socket(MemorySegment st, String what) {
        return Sockets.socket(st, Libc.AF_UNIX(), Libc.SOCK_DGRAM() | Libc.SOCK_NONBLOCK(), what);
    }

    /**
     * Sends {@code message} to {@code address} without blocking.
     *
     * @return false if the receiver's queue is full (EAGAIN); the message is dropped
     * @throws PosixException ENOENT/ECONNREFUSED when nobody listens there, and the like
     */
    public static boolean send(int fd, String address, byte[] message) {
        return send(fd, address, message, new int[0]);
    }

    /**
     * Sends {@code message} to {@code address} without blocking, with copies of {@code fds}
     * ({@code SCM_RIGHTS}, as sd_notify's {@code FDSTORE=1} does): the receiver gets
     * descriptors of its own for the same open files.
     *
     * @return false if the receiver's queue is full (EAGAIN); the message is dropped
     */
    public static boolean send(int fd, String address, byte[] message, int[] fds) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment sa = Sockets.unixAddress(arena, address, "address " + address);
            MemorySegment iov = iovec.allocate(arena);
            iovec.iov_base(iov, arena.allocateFrom(ValueLayout.JAVA_BYTE, message));
            iovec.iov_len(iov, message.length);
            MemorySegment msg = msghdr.allocate(arena);
            msghdr.msg_name(msg, sa);
            msghdr.msg_namelen(msg, (int) sa.byteSize());
            msghdr.msg_iov(msg, iov);
            msghdr.msg_iovlen(msg, 1);
            if (fds.length > 0) {
                long space = align(cmsghdr.sizeof()) + align(4L * fds.length);
                MemorySegment control = arena.allocate(space, 8);
                cmsghdr.cmsg_len(control, align(cmsghdr.sizeof()) + 4L * fds.length);
                cmsghdr.cmsg_level(control, Libc.SOL_SOCKET());
                cmsghdr.cmsg_type(control, Libc.SCM_RIGHTS());
                MemorySegment.copy(fds, 0, control, ValueLayout.JAVA_INT, align(cmsghdr.sizeof()), fds.length);
                msghdr.msg_control(msg, control);
                msghdr.msg_controllen(msg, space);
            }
            int flags = Libc.MSG_DONTWAIT() | Libc.MSG_NOSIGNAL();
            while (SENDMSG.call(st, fd, msg.address(), flags) < 0) {
                int e = errno(st);
                if (e == Libc.EAGAIN()) return false;
                if (e != Libc.EINTR()) throw failure("sendmsg " + address, st);
            }
            return true;
        }
    }

    /**
     * Receives one datagram if one is waiting; descriptors it carries are closed by the kernel
     * (there is no room for them).
     *
     * @param max the most bytes kept; a longer datagram is cut and marked truncated
     * @return null if none is waiting
     */
    public static Received receive(int fd, int max) {
        return receive(fd, max, 0);
    }

    /**
     * Receives one datagram if one is waiting, with up to {@code maxFds} descriptors it carries
     * (more are closed by the kernel). They are made close-on-exec right after the call.
     *
     * @param max the most bytes kept; a longer datagram is cut and marked truncated
     * @return null if none is waiting
     */
    public static Received receive(int fd, int max, int maxFds) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = captureState(arena);
            MemorySegment buf = arena.allocate(Math.max(1, max));
            MemorySegment iov = iovec.allocate(arena);
            iovec.iov_base(iov, buf);
            iovec.iov_len(iov, buf.byteSize());
            long space = CRED_SPACE + (maxFds > 0 ? align(cmsghdr.sizeof()) + align(4L * maxFds) : 0);
            MemorySegment control = arena.allocate(space, 8);
            MemorySegment msg = msghdr.allocate(arena);
            msghdr.msg_iov(msg, iov);
            msghdr.msg_iovlen(msg, 1);
            msghdr.msg_control(msg, control);
            msghdr.msg_controllen(msg, space);
            int flags = Libc.MSG_DONTWAIT() | Libc.MSG_TRUNC();
            long n;
            while ((n = RECVMSG.call(st, fd, msg.address(), flags)) < 0) {
                int e = errno(st);
                if (e == Libc.EAGAIN()) return null;
                if (e != Libc.EINTR()) throw failure("recvmsg fd " + fd, st);
            }
            int kept = (int) Math.min(n, buf.byteSize());
            boolean truncated = n > buf.byteSize() || (msghdr.msg_flags(msg) & Libc.MSG_TRUNC()) != 0;
            int pid = 0;
            int uid = -1;
            int[] fds = new int[0];
            long header = align(cmsghdr.sizeof());
            long length = Math.min(msghdr.msg_controllen(msg), space);
            for (long at = 0; at + header <= length; ) {
                MemorySegment c = control.asSlice(at);
                long len = cmsghdr.cmsg_len(c);
                if (len < header || at + len > length) break;
                if (cmsghdr.cmsg_level(c) == Libc.SOL_SOCKET() && cmsghdr.cmsg_type(c) == Libc.SCM_CREDENTIALS()
                        && len >= header + ucred.sizeof()) {
                    MemorySegment cred = c.asSlice(header, ucred.sizeof());
                    pid = ucred.pid(cred);
                    uid = ucred.uid(cred);
                } else if (cmsghdr.cmsg_level(c) == Libc.SOL_SOCKET() && cmsghdr.cmsg_type(c) == Libc.SCM_RIGHTS()) {
                    fds = c.asSlice(header, len - header).toArray(ValueLayout.JAVA_INT);
                    for (int received : fds) Fds.setCloexec(received, true);
                }
                at += align(len);
            }
            return new Received(buf.asSlice(0, kept).toArray(ValueLayout.JAVA_BYTE), truncated, pid, uid, fds);
        }
    }

    private static long align(long n) {
        return (n + 7) & ~7L;
    }
}
