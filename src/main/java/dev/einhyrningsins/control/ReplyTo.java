package dev.einhyrningsins.control;

/**
 * Where the replies to one request go. The supervisor core holds it as an opaque client
 * handle and answers through it, from its own thread; the connection behind it takes care
 * of getting each line out without ever blocking the caller.
 */
public interface ReplyTo {
    /**
     * Sends one reply line.
     *
     * @param last true for the request's final reply (einhorn's {@code wait} is absent)
     * @param ok   false when the reply reports a failure ({@code "ok": false} on the wire)
     */
    void send(String message, boolean last, boolean ok);

    /**
     * False once the connection behind it is gone (closed, broken, or dropped for not
     * reading): a stream that never ends by itself ({@code watch}) stops there. Any thread.
     */
    default boolean open() {
        return true;
    }
}
