package dev.einhyrningsins.control;

import java.io.BufferedReader;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

/** A control socket client: sends einhorn requests, reads replies until the final one. */
public final class ControlClient implements AutoCloseable {
    private final SocketChannel ch;
    private final BufferedReader in;
    private final String user = userName();

    /**
     * Replies are read through a Reader over the channel itself, not over its InputStream: a
     * Reader over a socket's stream asks it for {@code available()} bytes, and that initialises
     * NIO's whole inet side ({@code sun.nio.ch.Net}, InetAddress) in every ctl.
     */
    private ControlClient(SocketChannel ch) {
        this.ch = ch;
        this.in = new BufferedReader(Channels.newReader(ch, StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPLACE).onUnmappableCharacter(CodingErrorAction.REPLACE), -1));
    }

    public static ControlClient connect(Path socket) throws ControlException {
        try {
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                ch.connect(UnixDomainSocketAddress.of(socket));
            } catch (IOException e) {
                ch.close();
                throw e;
            }
            return new ControlClient(ch);
        } catch (IOException e) {
            throw new ControlException("cannot reach the control socket " + socket + " (" + e.getMessage()
                    + "); is einhyrningsins running? Pass -d PATH or -c NAME to choose the socket");
        }
    }

    /**
     * Sends one command and hands every reply to {@code each}; returns the final one. A
     * server that refused the connection (another user, too many connections) has written
     * its reason and closed: that reason is thrown as the IOException's message, whether or
     * not the request could still be written (instead of "Broken pipe").
     */
    public Reply send(String command, List<String> args, Object id, Consumer<Reply> each) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(WireCodec.encodeRequest(command, args, id, user).getBytes(StandardCharsets.UTF_8));
        IOException writeFailure = null;
        try {
            while (b.hasRemaining()) ch.write(b);
        } catch (IOException e) {
            writeFailure = e; // e.g. EPIPE: read what the server said before it closed
        }
        while (true) {
            String line;
            try {
                line = in.readLine();
            } catch (IOException e) {
                if (writeFailure != null) throw writeFailure;
                throw e;
            }
            if (line == null) {
                if (writeFailure != null) throw writeFailure;
                throw new IOException("the supervisor closed the connection without a final reply");
            }
            Reply r;
            try {
                r = WireCodec.decodeReply(line);
            } catch (WireCodec.ParseException e) {
                throw new IOException(e.getMessage());
            }
            if (id != null && r.requestId() == null && !r.ok()) {
                // not an answer to our request: the server refused the connection and says why
                throw new IOException(r.message());
            }
            each.accept(r);
            if (!r.more()) return r;
        }
    }

    /** Our user name for einhorn's {@code user} field; the uid when it has no name (containers). */
    private static String userName() {
        String name = System.getProperty("user.name");
        if (name != null && !name.isEmpty() && !name.equals("?")) return name;
        try {
            return String.valueOf(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
        } catch (IOException | RuntimeException e) {
            return "?";
        }
    }

    /**
     * Closes the connection. In non-blocking mode: closing a connected channel in blocking mode
     * first asks {@code sun.nio.ch.Net} whether to shut the output down (a TCP linger rule),
     * and initialising Net (InetAddress, socket options) costs every ctl a millisecond or two.
     */
    @Override
    public void close() throws IOException {
        if (!ch.isOpen()) return;
        try {
            ch.configureBlocking(false);
        } catch (IOException e) {
            // closed below all the same
        }
        ch.close();
    }
}
