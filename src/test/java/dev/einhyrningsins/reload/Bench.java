package dev.einhyrningsins.reload;

import static org.assertj.core.api.Assertions.assertThat;

import dev.einhyrningsins.cli.Options;
import dev.einhyrningsins.control.ControlServer;
import dev.einhyrningsins.control.ReplyTo;
import dev.einhyrningsins.listen.Listeners;
import dev.einhyrningsins.posix.Pollable;
import dev.einhyrningsins.posix.Poller;
import dev.einhyrningsins.shell.Children;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.shell.SignalIntake;
import dev.einhyrningsins.supervisor.Config;
import dev.einhyrningsins.supervisor.Event;
import dev.einhyrningsins.supervisor.Os;
import dev.einhyrningsins.supervisor.Settings;
import dev.einhyrningsins.supervisor.Supervisor;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A test bench for the reload plan: a real core and a real control server on a UNIX socket,
 * driven by the test's own thread as the supervisor's loop would drive them, a clock of its
 * own, and effects that record what they are asked instead of touching this JVM's fds or
 * exec'ing it.
 */
final class Bench implements AutoCloseable {
    long now = 1_000_000_000_000L;
    int nextPid = 5000;
    final List<String> steps = new ArrayList<>();
    final ArrayDeque<Event> queue = new ArrayDeque<>();
    final List<Timer> timers = new ArrayList<>();
    /** What the hand-over would have been: the bytes written into the memfd. */
    byte[] handover;
    /** What a signal handler hands over while the exec is prepared (right after the loop's last look at its queue). */
    final List<String> lateSignals = new ArrayList<>();
    String execFailure = "exec failed in the test";
    Reload.Checked check = new Reload.Checked(true, null, "einhyrningsins test can take over");
    final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
    final Log log = new Log(new PrintStream(logBytes, true, StandardCharsets.UTF_8), 42, 0);
    final Children children = new Children();
    final ControlServer control;
    final Listeners listeners;
    final SignalIntake signals = SignalIntake.install(List.of(), name -> { }, log, true);
    final Reload reload;
    final Supervisor sup;
    private final Poller poller = new Poller();

    record Timer(long due, Runnable action) {}

    Bench(Path dir, int workers) throws Exception {
        control = ControlServer.open(dir.resolve("ctl.sock"), dir.resolve("ctl.lock"),
                in -> queue.add(new Event.Command(in.request().command(), in.request().args(), in.request().pid(), null,
                        in.request().raw().get("request_id"), in.request().hasId(), in.replyTo())), new ControlServer.Log() {
                    @Override
                    public void info(String m) {
                        log.info(m);
                    }

                    @Override
                    public void warn(String m) {
                        log.warn(m);
                    }

                    @Override
                    public void debug(String m) {
                        log.debug(m);
                    }
                });
        listeners = Listeners.bind(List.of(), List.of(), Options.Family.ANY, 16, log);
        Launch launch = new Launch("/bin/true", List.of("/bin/true"), List.of(), List.of(), List.of());
        Effects fx = new Effects(() -> now, () -> {
            steps.add("list fds");
            return List.of(0, 1, 2, 3, 4, 5);
        }, (fd, on) -> { }, () -> {
            steps.add("memfd");
            return 900;
        }, (fd, content) -> {
            steps.add("write hand-over");
            handover = content;
        }, fd -> handover, (from, to) -> steps.add("dup2 " + from + " " + to), (fd, min) -> 901,
                fd -> steps.add("close " + fd), (path, argv, envp) -> {
            steps.add("exec");
            throw new IllegalStateException(execFailure);
        }, pid -> {
            throw new IllegalStateException("no adoption in this bench");
        });
        Reload.Shell shell = new Reload.Shell(launch, listeners, children, control, null, null, signals, 1_700_000_000_000L,
                0, false, dev.einhyrningsins.shell.EnvFile.none(), () -> steps.add("quiesce threads"),
                () -> steps.add("resume threads"));
        reload = new Reload(shell, new Reload.LoopPort() {
            @Override
            public void at(long nanoTime, Runnable action) {
                timers.add(new Timer(nanoTime, action));
            }

            @Override
            public void handlePending(Supervisor s) {
                Event e;
                while ((e = queue.poll()) != null) s.handle(e);
                if (steps.contains("quiesce threads")) { // the exec's last look: they come right after it
                    queue.addAll(lateSignals.stream().map(Event.SignalReceived::new).toList());
                    lateSignals.clear();
                }
            }

            @Override
            public List<String> takeSignals() {
                List<String> out = new ArrayList<>();
                for (Iterator<Event> it = queue.iterator(); it.hasNext(); ) {
                    if (it.next() instanceof Event.SignalReceived s) {
                        out.add(s.name());
                        it.remove();
                    }
                }
                return out;
            }

            @Override
            public void post(Event event) {
                queue.add(event);
            }
        }, log, "test", -1, fx, (argv, env, done) -> {
            steps.add("check");
            if (check != null) done.accept(check); // null: a check that never ends
            return () -> { };
        });
        Config config = Config.defaults(2).with(Settings.Setting.NUMBER, workers)
                .with(Settings.Setting.ACK_MODE, new Config.AckMode.Manual());
        sup = new Supervisor(config, new CoreOs(() -> now, () -> nextPid++, log, reload), "test", Map.of("pid", 42));
        reload.supervisor(sup);
        sup.start();
    }

    /** One turn of the loop: poll the control socket (up to {@code millis}), read and write, handle, run due timers. */
    void turn(int millis) {
        List<Pollable> polled = new ArrayList<>();
        control.pollables(polled);
        int n = polled.size();
        int[] fds = new int[n];
        short[] events = new short[n];
        short[] revents = new short[n];
        for (int i = 0; i < n; i++) {
            fds[i] = polled.get(i).fd();
            events[i] = polled.get(i).events();
        }
        poller.await(fds, events, revents, n, millis);
        for (int i = 0; i < n; i++) {
            if (revents[i] != 0 && !polled.get(i).closed()) polled.get(i).ready(revents[i]);
        }
        Event e;
        while ((e = queue.poll()) != null) sup.handle(e);
        List<Timer> due = timers.stream().filter(t -> now - t.due() >= 0).toList();
        timers.removeAll(due);
        due.forEach(t -> t.action().run());
    }

    /** Turns the loop until {@code done}, at most {@code turns} times. */
    void until(String what, java.util.function.BooleanSupplier done) {
        for (int i = 0; i < 2000 && !done.getAsBoolean(); i++) turn(10);
        assertThat(done.getAsBoolean()).as(what).isTrue();
    }

    void advance(long nanos) {
        now += nanos;
    }

    String log() {
        return logBytes.toString(StandardCharsets.UTF_8);
    }

    void ack(int pid) {
        sup.handle(new Event.Command("worker:ack", null, pid, null, null, false, (ReplyTo) (m, l, o) -> { }));
    }

    void each(Consumer<Event> e) {
        queue.forEach(e);
    }

    @Override
    public void close() {
        control.close();
        listeners.close();
        children.close();
        poller.close();
    }
}
