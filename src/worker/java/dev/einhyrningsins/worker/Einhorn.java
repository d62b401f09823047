package dev.einhyrningsins.worker;

import java.io.IOException;
import java.net.SocketAddress;
import java.nio.channels.Channel;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A JVM worker's side of the einhorn child protocol, as einhorn's Ruby {@code Einhorn::Worker}
 * and go-einhorn offer it, for workers of einhyrningsins (and einhorn itself). JDK only, Java
 * 17 or newer, Linux.
 *
 * <pre>{@code
 * Einhorn einhorn = Einhorn.worker();                  // NotSupervisedException outside the supervisor
 * ServerSocketChannel listener = einhorn.inheritedChannel();   // -b ADDR:PORT,stdin
 * // ... start serving on it ...
 * einhorn.ack();                                       // -m manual: ready
 * }</pre>
 *
 * <p><b>Sockets.</b> The supervisor passes its listening sockets as descriptors 3, 4, ... and
 * names them in {@code EINHORN_FD_COUNT} and {@code EINHORN_FD_<n>} ({@link #listeners()}).
 * The JDK turns exactly one inherited descriptor into a channel: standard input, through
 * {@link System#inheritedChannel()}. So give the socket your server should use the
 * {@code stdin} bind option ({@code -b 127.0.0.1:8080,stdin}) and take
 * {@link #inheritedChannel()} (or let Jetty's {@code ServerConnector.setInheritChannel(true)}
 * take it). Every other socket is a descriptor number for libraries that take one (Netty's
 * epoll transport), with its address read from {@code /proc}.
 *
 * <p><b>Readiness.</b> {@link #ack()} and {@link #ping()} write einhorn's JSON messages to the
 * control socket at {@code EINHORN_SOCK_PATH}. With the supervisor's {@code -g}, workers also
 * get a control channel of their own as descriptor {@code EINHORN_SOCK_FD}; pure Java cannot
 * write to an inherited descriptor other than standard input (no channel, no stream: opening
 * {@code /proc/self/fd/N} of a socket fails), so this class does not use it and acks through
 * {@code EINHORN_SOCK_PATH}, which the supervisor sets with or without {@code -g}. A worker that
 * cannot reach that path (another uid, a chroot) cannot ack from pure Java; use the ack timer
 * ({@code -m SECONDS}) or {@code -m notify} with a tool that sends {@code READY=1}.
 *
 * <p><b>Draining.</b> HotSpot owns {@code SIGUSR2}, einhorn's default graceful signal: run JVM
 * workers with {@code --graceful-signal TERM}. On TERM the JVM runs its shutdown hooks and
 * exits when they return, with status 143 (the supervisor expects it from a worker it
 * retired), so drain in a shutdown hook: stop accepting, let the requests in flight finish,
 * return.
 * <pre>{@code
 * Runtime.getRuntime().addShutdownHook(new Thread(() -> {
 *     // stop accepting, wait (with a deadline) for the requests in flight, then return;
 *     // Jetty: server.stop() with a GracefulHandler and setStopTimeout(...)
 * }));
 * }</pre>
 * The examples under {@code examples/} (Jetty, Netty, plain NIO) do exactly this.
 */
public final class Einhorn {
    /** How long {@link #ack()} and {@link #ping()} wait for the supervisor unless {@link #withTimeout} says otherwise. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

    private final long pid;
    private final long masterPid;
    private final List<Listener> listeners;
    private final Path controlSocket;
    private final Integer childIndex;
    private final Duration timeout;
    private final AtomicLong pings;

    private Einhorn(long pid, long masterPid, List<Listener> listeners, Path controlSocket, Integer childIndex,
                    Duration timeout, AtomicLong pings) {
        this.pid = pid;
        this.masterPid = masterPid;
        this.listeners = listeners;
        this.controlSocket = controlSocket;
        this.childIndex = childIndex;
        this.timeout = timeout;
        this.pings = pings;
    }

    /**
     * This process as a worker of the supervisor, from its environment and {@code /proc/self}.
     *
     * @throws NotSupervisedException if it is not one: {@code EINHORN_MASTER_PID} is not set (not
     *         started by the supervisor), or is not this process's parent (started by a worker — a
     *         wrapper script must {@code exec java ...}), or the descriptors it names are missing
     */
    public static Einhorn worker() throws NotSupervisedException {
        ProcessHandle self = ProcessHandle.current();
        long parent = self.parent().map(ProcessHandle::pid).orElse(-1L);
        return of(System.getenv(), self.pid(), parent, Path.of("/proc/self"));
    }

    /** Whether {@link #worker()} would succeed: a worker can bind a socket of its own when this is false. */
    public static boolean isSupervised() {
        try {
            worker();
            return true;
        } catch (NotSupervisedException e) {
            return false;
        }
    }

    /** {@link #worker()} from the given environment, pids and {@code /proc/self} (tests give their own). */
    static Einhorn of(Map<String, String> env, long pid, long parentPid, Path proc) throws NotSupervisedException {
        String master = env.get("EINHORN_MASTER_PID");
        if (master == null) {
            throw new NotSupervisedException("not run by einhyrningsins or einhorn: EINHORN_MASTER_PID is not set "
                    + "(start it as: einhyrningsins -b 127.0.0.1:8080,stdin --graceful-signal TERM -- java ...)");
        }
        long masterPid = number(env, "EINHORN_MASTER_PID");
        if (masterPid != parentPid) {
            throw new NotSupervisedException("EINHORN_MASTER_PID is " + masterPid + " but the parent of this process ("
                    + pid + ") is " + parentPid + ": it was started by a worker, not by the supervisor "
                    + "(a wrapper script must 'exec java ...' so that the JVM is the worker)");
        }
        int count = env.containsKey("EINHORN_FD_COUNT") ? (int) number(env, "EINHORN_FD_COUNT") : 0;
        int[] fds = new int[count];
        Set<Long> inodes = new HashSet<>();
        long[] inode = new long[count];
        for (int i = 0; i < count; i++) {
            String name = "EINHORN_FD_" + i;
            if (!env.containsKey(name)) {
                throw new NotSupervisedException("EINHORN_FD_COUNT is " + count + " but " + name + " is not set");
            }
            fds[i] = (int) number(env, name);
            inode[i] = ProcNet.socketInode(proc, fds[i]);
            if (inode[i] >= 0) inodes.add(inode[i]);
        }
        Map<Long, SocketAddress> addresses = ProcNet.addresses(proc, inodes);
        long stdin = ProcNet.socketInode(proc, 0);
        List<Listener> listeners = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            listeners.add(new Listener(i, fds[i], addresses.get(inode[i]), inode[i] >= 0 && inode[i] == stdin,
                    ProcNet.nonBlocking(proc, fds[i])));
        }
        String socket = env.get("EINHORN_SOCK_PATH");
        Integer index = env.containsKey("EINHORN_CHILD_INDEX") ? (int) number(env, "EINHORN_CHILD_INDEX") : null;
        return new Einhorn(pid, masterPid, Collections.unmodifiableList(listeners),
                socket == null || socket.isEmpty() ? null : Path.of(socket), index, DEFAULT_TIMEOUT, new AtomicLong());
    }

    private static long number(Map<String, String> env, String name) throws NotSupervisedException {
        String value = env.get(name);
        try {
            long n = Long.parseLong(value.trim());
            if (n >= 0) return n;
        } catch (NumberFormatException e) {
            // below
        }
        throw new NotSupervisedException(name + "=" + value + " is not a number (a health check's environment names "
                + "the sockets by address: checks are not workers)");
    }

    /** The same worker, with {@link #ack()} and {@link #ping()} waiting at most {@code timeout} for the supervisor. */
    public Einhorn withTimeout(Duration timeout) {
        if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("timeout must be positive: " + timeout);
        return new Einhorn(pid, masterPid, listeners, controlSocket, childIndex, timeout, pings);
    }

    /** The inherited listening sockets in {@code -b} order ({@code EINHORN_FD_0} first). */
    public List<Listener> listeners() {
        return listeners;
    }

    /**
     * {@code EINHORN_FD_<index>}.
     *
     * @throws IndexOutOfBoundsException naming how many there are
     */
    public Listener listener(int index) {
        if (index < 0 || index >= listeners.size()) {
            throw new IndexOutOfBoundsException("no EINHORN_FD_" + index + ": this worker inherited " + listeners.size()
                    + " socket" + (listeners.size() == 1 ? "" : "s") + " (one per -b)");
        }
        return listeners.get(index);
    }

    /**
     * The listening socket that is this worker's standard input ({@code -b ...,stdin}) as a
     * channel: {@link System#inheritedChannel()}, a {@code ServerSocketChannel} of the socket's
     * family (TCP, or UNIX for {@code -b unix:PATH,stdin}). Jetty's
     * {@code ServerConnector.setInheritChannel(true)} takes the same channel.
     *
     * <p>Closing it makes the JDK point descriptors 0, 1 <em>and 2</em> at {@code /dev/null}
     * (what inetd-style services expect): whatever the worker prints to stdout or stderr
     * afterwards is lost. A draining worker can stop accepting without closing it (cancel its
     * selection key), or say what it has to say first.
     *
     * @throws IOException if standard input is not a listening socket (no {@code -b} has
     *                     {@code stdin}, or the worker was started some other way)
     */
    public ServerSocketChannel inheritedChannel() throws IOException {
        return inheritedServerChannel();
    }

    static ServerSocketChannel inheritedServerChannel() throws IOException {
        Channel c = System.inheritedChannel();
        if (c instanceof ServerSocketChannel) return (ServerSocketChannel) c;
        throw new IOException("standard input is not a listening socket"
                + (c == null ? "" : " (System.inheritedChannel() is " + c + ")")
                + ": give one -b the stdin option, e.g. -b 127.0.0.1:8080,stdin");
    }

    /** The listener that is standard input ({@code -b ...,stdin}), if one is. */
    public Optional<Listener> stdinListener() {
        return listeners.stream().filter(Listener::stdin).findFirst();
    }

    /** This worker's pid, as the supervisor knows it. */
    public long pid() {
        return pid;
    }

    /** The supervisor's pid ({@code EINHORN_MASTER_PID}): this worker's parent. */
    public long masterPid() {
        return masterPid;
    }

    /** {@code EINHORN_CHILD_INDEX}: this worker's slot, 0 to n-1, unique among live workers. */
    public OptionalInt childIndex() {
        return childIndex == null ? OptionalInt.empty() : OptionalInt.of(childIndex);
    }

    /** {@code EINHORN_SOCK_PATH}, the control socket {@link #ack()} and {@link #ping()} write to. */
    public Optional<Path> controlSocket() {
        return Optional.ofNullable(controlSocket);
    }

    /**
     * Tells the supervisor this worker is ready ({@code {"command":"worker:ack","pid":PID}}),
     * which in {@code -m manual} makes it count and, in an upgrade, retires an old worker. Ack
     * only once the worker accepts connections. Returns once the supervisor has taken it.
     *
     * @throws IOException the control socket is unreachable, refused the message (its reason
     *                     is the message), or did not take it within the timeout
     */
    public void ack() throws IOException {
        send("{\"command\":\"worker:ack\",\"pid\":" + pid + "}");
    }

    /**
     * Tells the supervisor this worker is alive ({@code worker:ping}; with its
     * {@code --ping-timeout}, a worker that pinged once and then stays silent is replaced).
     *
     * @return the request id sent, counting from 1
     * @throws IOException as {@link #ack()}
     */
    public long ping() throws IOException {
        long id = pings.incrementAndGet();
        send("{\"command\":\"worker:ping\",\"pid\":" + pid + ",\"request_id\":" + id + "}");
        return id;
    }

    private void send(String json) throws IOException {
        if (controlSocket == null) {
            throw new IOException("EINHORN_SOCK_PATH is not set: there is no control socket to tell");
        }
        ControlSocket.send(controlSocket, json, timeout);
    }

    @Override
    public String toString() {
        return "Einhorn[pid=" + pid + ", master=" + masterPid + ", listeners=" + listeners + ", control socket="
                + controlSocket + "]";
    }
}
