package dev.einhyrningsins.control;

import dev.einhyrningsins.posix.Pollable;
import dev.einhyrningsins.posix.Poller;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A loop thread for tests: polls what {@code source} gives (a control server's pollables) as
 * the supervisor's loop does, and runs tasks handed to it on that thread — the only thread
 * that may touch the server and its sessions.
 */
final class Pump implements AutoCloseable {
    private final Poller poller = new Poller();
    private final Consumer<List<Pollable>> source;
    private final ConcurrentLinkedQueue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final Thread thread;
    private volatile boolean stopped;

    Pump(Consumer<List<Pollable>> source) {
        this.source = source;
        this.thread = Thread.ofPlatform().name("test-loop").daemon(true).start(this::loop);
    }

    private void loop() {
        List<Pollable> polled = new ArrayList<>();
        while (!stopped) {
            Runnable task;
            while ((task = tasks.poll()) != null) task.run();
            polled.clear();
            source.accept(polled);
            int n = polled.size();
            int[] fds = new int[n];
            short[] events = new short[n];
            short[] revents = new short[n];
            for (int i = 0; i < n; i++) {
                fds[i] = polled.get(i).fd();
                events[i] = polled.get(i).events();
            }
            poller.await(fds, events, revents, n, 1000);
            for (int i = 0; i < n; i++) {
                if (revents[i] != 0 && !polled.get(i).closed()) polled.get(i).ready(revents[i]);
            }
        }
    }

    /** Runs {@code task} on the loop thread, without waiting. */
    void post(Runnable task) {
        tasks.add(task);
        poller.wake();
    }

    /** Runs {@code task} on the loop thread and waits for its result. */
    <T> T call(Callable<T> task) throws Exception {
        CompletableFuture<T> result = new CompletableFuture<>();
        post(() -> {
            try {
                result.complete(task.call());
            } catch (Exception | Error e) {
                result.completeExceptionally(e);
            }
        });
        return result.get(20, TimeUnit.SECONDS);
    }

    void run(Runnable task) throws Exception {
        call(() -> {
            task.run();
            return null;
        });
    }

    /** Stops the thread; from then on the caller's thread is the only one. */
    @Override
    public void close() throws InterruptedException {
        stopped = true;
        poller.wake();
        thread.join(5000);
        poller.close();
    }
}
