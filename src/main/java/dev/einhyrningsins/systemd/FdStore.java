package dev.einhyrningsins.systemd;

import dev.einhyrningsins.cli.BindSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The service manager's fd store ({@code FileDescriptorStoreMax=} in the unit; systemd 254 and
 * later say so with {@code FDSTORE=N} in the environment, which a unit may also set itself for
 * an older systemd): the supervisor keeps each {@code -b}'s socket there once bound
 * ({@code FDSTORE=1} with the socket, {@code FDNAME=} naming the {@code -b}), so that a
 * supervisor that dies (SIGKILL, the OOM killer, {@code systemctl restart}) does not take the
 * sockets with it: connections wait in a kept listener's backlog, and the next supervisor
 * gets the sockets back in {@code LISTEN_FDS} and adopts them. A kept socket no longer asked
 * for is taken out ({@code FDSTOREREMOVE=1}).
 */
public final class FdStore {
    /** What every name of ours in the store starts with: the other sockets passed are socket activation's. */
    public static final String PREFIX = "einhyrningsins-";
    /** systemd's longest FDNAME. */
    static final int MAX_NAME = 255;

    private final Notifier notifier;

    private FdStore(Notifier notifier) {
        this.notifier = notifier;
    }

    /** The fd store when {@code FDSTORE} is a positive number and there is a service manager to tell; else null. */
    public static FdStore fromEnvironment(Map<String, String> env, Notifier notifier) {
        if (notifier == null) return null;
        String max = env.get("FDSTORE");
        if (max == null) return null;
        try {
            return Integer.parseInt(max.trim()) > 0 ? new FdStore(notifier) : null;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /**
     * The name of the {@code index}-th {@code -b}'s socket in the store: {@code einhyrningsins-0},
     * or {@code einhyrningsins-0-web} with {@code name=web} (unique, whatever the names).
     */
    public static String name(int index, BindSpec spec) {
        String name = PREFIX + index + (spec.name() == null ? "" : "-" + spec.name());
        return name.length() <= MAX_NAME ? name : name.substring(0, MAX_NAME);
    }

    /** The sockets passed to us that the store kept for us (named with {@link #PREFIX}), and the others. */
    public static List<List<SocketActivation.Passed>> split(List<SocketActivation.Passed> passed) {
        List<SocketActivation.Passed> stored = new ArrayList<>();
        List<SocketActivation.Passed> activated = new ArrayList<>();
        for (SocketActivation.Passed p : passed) (p.name().startsWith(PREFIX) ? stored : activated).add(p);
        return List.of(activated, stored);
    }

    /** {@code FDSTORE=1}: the store keeps a copy of {@code fd} as {@code name} (and does not poll it: it is a listener). */
    public void keep(int fd, String name) {
        notifier.store(fd, "FDSTORE=1\nFDNAME=" + name + "\nFDPOLL=0");
    }

    /** {@code FDSTOREREMOVE=1}: the store closes what it keeps as {@code name}. */
    public void release(String name) {
        notifier.send("FDSTOREREMOVE=1\nFDNAME=" + name);
    }
}
