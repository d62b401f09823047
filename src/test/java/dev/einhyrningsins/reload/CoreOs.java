package dev.einhyrningsins.reload;

import dev.einhyrningsins.control.ReplyTo;
import dev.einhyrningsins.shell.Log;
import dev.einhyrningsins.supervisor.Os;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;

/** The core's effects for the reload's tests: fake pids on a given clock; replies go to the control handles. */
final class CoreOs implements Os {
    private final LongSupplier clock;
    private final IntSupplier pids;
    private final Log log;
    private final Reload reload;
    final List<String> signals = new ArrayList<>();

    CoreOs(LongSupplier clock, IntSupplier pids, Log log, Reload reload) {
        this.clock = clock;
        this.pids = pids;
        this.log = log;
        this.reload = reload;
    }

    @Override
    public long nanoTime() {
        return clock.getAsLong();
    }

    @Override
    public long currentTimeMillis() {
        return 1_700_000_000_000L + clock.getAsLong() / 1_000_000;
    }

    @Override
    public SpawnResult spawn(int slot, int generation) {
        return new SpawnResult.Spawned(pids.getAsInt());
    }

    @Override
    public void signal(int pid, String signal) {
        signals.add(signal + " " + pid);
    }

    @Override
    public void signalGroup(int pid, String signal) {
        signals.add(signal + " -" + pid);
    }

    @Override
    public String startCheck(CheckRun check) {
        return "no checks here";
    }

    @Override
    public String cancelCheck(long id) {
        return null;
    }

    @Override
    public long rssBytes(int workerPid) {
        return 0;
    }

    @Override
    public void reply(Object client, String message, boolean last, boolean ok) {
        ((ReplyTo) client).send(message, last, ok);
    }

    @Override
    public void reload(Object client, boolean streaming, String then) {
        if (reload == null) {
            Os.super.reload(client, streaming, then);
        } else {
            reload.request(client, streaming, then);
        }
    }

    @Override
    public void log(Level level, String message) {
        log.emit(level, message);
    }
}
