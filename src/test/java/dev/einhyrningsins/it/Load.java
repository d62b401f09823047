package dev.einhyrningsins.it;

import static dev.einhyrningsins.Await.await;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/** One client sending {@code GET path} to a port (or any request) back to back until closed, counting what succeeded and failed. */
final class Load implements AutoCloseable {
    /** One request; it throws if it failed. */
    interface Request {
        void send() throws IOException;
    }

    private final AtomicBoolean stop = new AtomicBoolean();
    private final AtomicLong ok = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicReference<String> firstFailure = new AtomicReference<>();
    private final Thread client;

    Load(int port, String path) {
        this(() -> UpgradeIT.get(port, path));
    }

    Load(Request request) {
        client = Thread.ofPlatform().start(() -> {
            while (!stop.get()) {
                try {
                    request.send();
                    ok.incrementAndGet();
                } catch (IOException e) {
                    failed.incrementAndGet();
                    firstFailure.compareAndSet(null, e.toString());
                }
            }
        });
    }

    long ok() {
        return ok.get();
    }

    long failed() {
        return failed.get();
    }

    String firstFailure() {
        return firstFailure.get();
    }

    /** Waits until more requests succeeded than {@code before}. */
    void awaitFlowing(long before) throws InterruptedException {
        await("requests flowing", () -> ok.get() > before);
    }

    @Override
    public void close() throws InterruptedException {
        stop.set(true);
        client.join();
    }
}
