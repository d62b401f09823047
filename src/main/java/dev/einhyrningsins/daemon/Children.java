package dev.einhyrningsins.daemon;

import dev.einhyrningsins.posix.Child;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every child we started and have not reaped, by pid, with what it has to poll ({@code -g}
 * control channel, notify socket); and the helper processes ({@link Subprocess}) until reaped.
 * A child is added the moment posix_spawn returned it, before anything else can fail, so a
 * started child is always signalled and reaped. Loop thread only.
 */
final class Children implements AutoCloseable {
    private final Map<Integer, Child> children = new LinkedHashMap<>();
    private final Map<Integer, List<Pollable>> attached = new HashMap<>();
    private final List<Pollable> others = new ArrayList<>();
    private final Map<Integer, Subprocess> helpers = new HashMap<>();
    private final Set<Integer> inherited = new HashSet<>();

    void add(Child child) {
        children.put(child.pid(), child);
    }

    /** A worker a previous process of this supervisor started (a reload handed it over). */
    void inherit(Child child) {
        add(child);
        inherited.add(child.pid());
    }

    /** How many live workers this process did not start itself. */
    int inherited() {
        inherited.retainAll(children.keySet());
        return inherited.size();
    }

    /** Gives child {@code pid} something to poll (its {@code -g} channel, its notify socket). */
    void attach(int pid, Pollable p) {
        attached.computeIfAbsent(pid, k -> new ArrayList<>()).add(p);
    }

    /** The unreaped child with this pid, or null. */
    Child get(int pid) {
        return children.get(pid);
    }

    List<Child> all() {
        return new ArrayList<>(children.values());
    }

    /** A helper process of ours (not a worker): polled until reaped, and never taken for an orphan. */
    void helper(Subprocess p) {
        helpers.put(p.pid(), p);
    }

    /** The unreaped helper process with this pid, or null. */
    Subprocess helper(int pid) {
        Subprocess p = helpers.get(pid);
        return p != null && p.running() ? p : null;
    }

    /** Kills and reaps every helper process now (before an exec, on the way out). */
    void stopHelpers() {
        for (Subprocess p : helpers.values()) {
            try {
                p.close();
            } catch (RuntimeException e) {
                // it is killed; one that cannot be reaped now must not keep the others running
            }
        }
        helpers.clear();
    }

    /** Something to poll that belongs to no worker (a control client kept across a reload). */
    void poll(Pollable p) {
        others.add(p);
    }

    /** The pollables of child {@code pid} (for the hand-over). */
    List<Pollable> attached(int pid) {
        return attached.getOrDefault(pid, List.of());
    }

    /** Everything attached that is still open, and the helpers' fds (closed and reaped ones are dropped on the way). */
    List<Pollable> attached() {
        others.removeIf(Pollable::closed);
        List<Pollable> open = new ArrayList<>(others);
        helpers.values().removeIf(p -> !p.running());
        for (Subprocess p : helpers.values()) p.pollables(open);
        for (List<Pollable> ps : attached.values()) {
            ps.removeIf(Pollable::closed);
            open.addAll(ps);
        }
        return open;
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
        List<Pollable> ps = attached.remove(pid);
        if (ps != null) ps.forEach(Pollable::close);
    }

    @Override
    public void close() {
        stopHelpers();
        for (Child c : children.values()) c.close();
        children.clear();
        for (List<Pollable> ps : attached.values()) ps.forEach(Pollable::close);
        attached.clear();
        others.forEach(Pollable::close);
        others.clear();
    }
}
