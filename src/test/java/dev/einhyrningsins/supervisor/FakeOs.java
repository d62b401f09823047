package dev.einhyrningsins.supervisor;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** A deterministic OS: fake pids, a fake clock, and a record of every effect. */
final class FakeOs implements Os {
    record Spawn(int pid, int slot, int generation) {}

    record Sig(int pid, String signal, boolean group) {}

    record Reply(Object client, String message, boolean last, boolean ok) {}

    record Reload(Object client, boolean streaming, String then) {}

    long now = 1_000_000_000L;
    int nextPid = 100;
    boolean failSpawns;
    final List<Spawn> spawns = new ArrayList<>();
    final List<Sig> signals = new ArrayList<>();
    final List<Reply> replies = new ArrayList<>();
    final List<String> logs = new ArrayList<>();
    final List<Happening> happenings = new ArrayList<>();
    final Set<Integer> alive = new LinkedHashSet<>();
    /** What metrics() answers; null: as an Os that keeps none. */
    String metricsText;
    /** Whether watch() takes watchers; false: as an Os without an event stream. */
    boolean watching;
    /** Whether reload() is recorded in {@link #reloads}; false: as an Os that cannot reload. */
    boolean reloading;
    final List<Reload> reloads = new ArrayList<>();
    boolean installationChanged;
    final List<Object> watchers = new ArrayList<>();
    /** Every check started, and those still running by id. */
    final List<CheckRun> checks = new ArrayList<>();
    final Map<Long, CheckRun> running = new LinkedHashMap<>();
    final List<Long> cancelled = new ArrayList<>();
    /** What startCheck answers (null: started). */
    String checkFailure;
    /** What rssBytes answers, by worker pid (default 10 MiB). */
    final Map<Integer, Long> rss = new HashMap<>();
    final List<Integer> rssSampled = new ArrayList<>();
    /** Whether workers inherit sockets; what a look at each worker finds (default HELD); the looks made. */
    boolean inherits;
    final Map<Integer, Holding> holding = new HashMap<>();
    record Look(int pid, long at) {}
    final List<Look> looks = new ArrayList<>();

    @Override
    public boolean inheritsSockets() {
        return inherits;
    }

    @Override
    public Holding holdsInherited(int pid) {
        looks.add(new Look(pid, now));
        return holding.getOrDefault(pid, Holding.HELD);
    }
    /** Clients that no longer wait for their reply ({@link #waiting}). */
    final Set<Object> gone = new java.util.HashSet<>();
    /** What the next reads of the environment file find, in order; UNCHANGED once none is left. */
    final java.util.Deque<EnvironmentRead> environmentReads = new java.util.ArrayDeque<>();
    int environmentReadCount;

    @Override
    public long nanoTime() {
        return now;
    }

    @Override
    public long currentTimeMillis() {
        return 1_700_000_000_000L + now / 1_000_000;
    }

    @Override
    public SpawnResult spawn(int slot, int generation) {
        if (failSpawns) return new SpawnResult.Failed("/srv/app: No such file or directory");
        int pid = nextPid++;
        spawns.add(new Spawn(pid, slot, generation));
        alive.add(pid);
        return new SpawnResult.Spawned(pid);
    }

    @Override
    public String startCheck(CheckRun check) {
        if (checkFailure != null) return checkFailure;
        checks.add(check);
        running.put(check.id(), check);
        return null;
    }

    @Override
    public String cancelCheck(long id) {
        cancelled.add(id);
        return running.remove(id) == null ? null : "still trying";
    }

    @Override
    public long rssBytes(int workerPid) {
        rssSampled.add(workerPid);
        return rss.getOrDefault(workerPid, 10L << 20);
    }

    /** The check running for {@code pid}'s {@code kind}, or null. */
    CheckRun runningCheck(int pid, CheckKind kind) {
        for (CheckRun c : running.values()) if (c.workerPid() == pid && c.kind() == kind) return c;
        return null;
    }

    @Override
    public void signal(int pid, String signal) {
        signals.add(new Sig(pid, signal, false));
    }

    @Override
    public void signalGroup(int pid, String signal) {
        signals.add(new Sig(pid, signal, true));
    }

    @Override
    public void reply(Object client, String message, boolean last, boolean ok) {
        replies.add(new Reply(client, message, last, ok));
    }

    @Override
    public boolean waiting(Object client) {
        return !gone.contains(client);
    }

    @Override
    public EnvironmentRead readEnvironment() {
        environmentReadCount++;
        EnvironmentRead r = environmentReads.poll();
        return r == null ? EnvironmentRead.UNCHANGED : r;
    }

    @Override
    public void happened(Happening happening) {
        happenings.add(happening);
    }

    /** The gauges the core handed over with the last {@code metrics} command. */
    public Gauges gauges;

    @Override
    public String metrics(Gauges g) {
        gauges = g;
        return metricsText;
    }

    @Override
    public boolean watch(Object client) {
        if (!watching) return Os.super.watch(client);
        watchers.add(client);
        return true;
    }

    @Override
    public void reload(Object client, boolean streaming, String then) {
        if (reloading) {
            reloads.add(new Reload(client, streaming, then));
        } else {
            Os.super.reload(client, streaming, then);
        }
    }

    @Override
    public boolean installationChanged() {
        return installationChanged || Os.super.installationChanged();
    }

    <T extends Happening> List<T> happened(Class<T> kind) {
        return happenings.stream().filter(kind::isInstance).map(kind::cast).toList();
    }

    @Override
    public void log(Level level, String message) {
        logs.add(level + " " + message);
    }

    void advance(Duration d) {
        now += d.toNanos();
    }

    List<Integer> signalled(String signal) {
        return signals.stream().filter(s -> s.signal().equals(signal)).map(Sig::pid).toList();
    }

    List<Reply> repliesTo(Object client) {
        return replies.stream().filter(r -> r.client() == client).toList();
    }
}
