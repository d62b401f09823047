package dev.einhyrningsins.shell;

import dev.einhyrningsins.posix.Child;
import dev.einhyrningsins.posix.Pollable;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every child we started and have not reaped, by pid, with what it has to poll ({@code -g}
 * control channel, notify socket); and the helper processes ({@link Helper}) until reaped.
 * A child is added the moment posix_spawn returned it, before anything else can fail, so a
 * started child is always signalled and reaped. Loop thread only.
 */
public final class Children implements AutoCloseable {
    /** A helper process (a health check, the reload's installation check): not a worker, never an orphan. */
    public interface Helper extends AutoCloseable {
        int pid();

        /** Not reaped yet. */
        boolean running();

        /** Its exit is waiting (the orphan reaper saw it): reap it and tell its owner. */
        void exited();

        /** What of it the loop polls (its pidfd, its output), added to {@code out}. */
        void pollables(List<Pollable> out);

        /** Kills and reaps it now. */
        @Override
        void close();
    }

    private final Map<Integer, Child> children = new LinkedHashMap<>();
    private final Map<Integer, List<Pollable>> attached = new HashMap<>();
    private final List<Pollable> others = new ArrayList<>();
    private final Map<Integer, Helper> helpers = new HashMap<>();
    private final Set<Integer> inherited = new HashSet<>();

    public void add(Child child) {
        children.put(child.pid(), child);
    }

    /** A worker a previous process of this supervisor started (a reload handed it over). */
    public void inherit(Child child) {
        add(child);
        inherited.add(child.pid());
    }

    /** How many live workers this process did not start itself. */
    public int inherited() {
        inherited.retainAll(children.keySet());
        return inherited.size();
    }

    /** Gives child {@code pid} something to poll (its {@code -g} channel, its notify socket). */
    public void attach(int pid, Pollable p) {
        attached.computeIfAbsent(pid, k -> new ArrayList<>()).add(p);
    }

    /** The unreaped child with this pid, or null. */
    public Child get(int pid) {
        return children.get(pid);
    }

    List<Child> all() {
        return new ArrayList<>(children.values());
    }

    /** The unreaped children as they are (no copy: the loop's poll set reads it at every wake-up). */
    java.util.Collection<Child> view() {
        return java.util.Collections.unmodifiableCollection(children.values());
    }

    /** A helper process of ours (not a worker): polled until reaped, and never taken for an orphan. */
    public void helper(Helper p) {
        helpers.put(p.pid(), p);
    }

    /** The unreaped helper process with this pid, or null. */
    public Helper helper(int pid) {
        Helper p = helpers.get(pid);
        return p != null && p.running() ? p : null;
    }

    /** Kills and reaps every helper process now (before an exec, on the way out). */
    public void stopHelpers() {
        for (Helper p : helpers.values()) {
            try {
                p.close();
            } catch (RuntimeException e) {
                // it is killed; one that cannot be reaped now must not keep the others running
            }
        }
        helpers.clear();
    }

    /** Something to poll that belongs to no worker (a control client kept across a reload). */
    public void poll(Pollable p) {
        others.add(p);
    }

    /** The pollables of child {@code pid} (for the hand-over). */
    public List<Pollable> attached(int pid) {
        return attached.getOrDefault(pid, List.of());
    }

    /**
     * Adds to {@code open} everything attached that is still open, and the helpers' fds (closed
     * and reaped ones are dropped on the way).
     */
    public void attached(List<Pollable> open) {
        others.removeIf(Pollable::closed);
        open.addAll(others);
        helpers.values().removeIf(p -> !p.running());
        for (Helper p : helpers.values()) p.pollables(open);
        for (List<Pollable> ps : attached.values()) {
            ps.removeIf(Pollable::closed);
            open.addAll(ps);
        }
    }

    public int size() {
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
