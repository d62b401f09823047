package dev.einhyrningsins.daemon;

import dev.einhyrningsins.posix.Child;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every child we started and have not reaped, by pid, with its {@code -g} control channel.
 * A child is added the moment posix_spawn returned it, before anything else can fail, so a
 * started child is always signalled and reaped. Loop thread only.
 */
final class Children implements AutoCloseable {
    private final Map<Integer, Child> children = new LinkedHashMap<>();
    private final Map<Integer, WorkerChannel> channels = new HashMap<>();

    void add(Child child) {
        children.put(child.pid(), child);
    }

    /** Gives child {@code pid} its {@code -g} control channel. */
    void attach(int pid, WorkerChannel channel) {
        channels.put(pid, channel);
    }

    /** The unreaped child with this pid, or null. */
    Child get(int pid) {
        return children.get(pid);
    }

    List<Child> all() {
        return new ArrayList<>(children.values());
    }

    /** Open channels (closed ones are dropped on the way). */
    List<WorkerChannel> channels() {
        channels.values().removeIf(WorkerChannel::closed);
        return new ArrayList<>(channels.values());
    }

    int size() {
        return children.size();
    }

    boolean isEmpty() {
        return children.isEmpty();
    }

    /** Forgets a reaped child and closes its channel (a grandchild may still hold the other end). */
    void reaped(int pid) {
        Child c = children.remove(pid);
        if (c != null) c.close();
        WorkerChannel ch = channels.remove(pid);
        if (ch != null) ch.close();
    }

    @Override
    public void close() {
        for (Child c : children.values()) c.close();
        children.clear();
        for (WorkerChannel ch : channels.values()) ch.close();
        channels.clear();
    }
}
