package dev.einhyrningsins.reload;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.einhyrningsins.control.Session;
import dev.einhyrningsins.listen.Listeners;
import dev.einhyrningsins.supervisor.Snapshot;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a supervisor hands to the next process of itself when it reloads, as JSON in a memfd:
 * facts about the process ({@link Process}) and its persistent parts, each in the state it
 * writes and reads itself (as einhorn's persistent descriptors do): the listening sockets
 * ({@link Listeners.Handed}), the core ({@link Snapshot}), the workers' {@code -g} channels
 * and notify sockets, the control clients kept across the exec ({@link Session.Handed}), and
 * the signals that arrived too late for this process.
 *
 * <p>The format is strict: an unknown or missing field fails the read (a field added without
 * a new {@link #FORMAT} cannot be quietly defaulted), an unknown part is logged and skipped by
 * {@link Takeover}. Every earlier format this version can take over from is upgraded to the
 * current one first ({@link #upgrade}); the golden files under {@code src/test/resources/handover}
 * hold each format's shape.
 *
 * @param parts part name to its state, in the order they are adopted
 */
public record Handover(int format, String from, Process process, Map<String, JsonNode> parts) {

    /**
     * The shape's number, bumped with every change of it (with an upgrade from the one before
     * in {@link #upgrade}). 2: the flat record of einhyrningsins 0.1; 3: process facts and parts;
     * 4: a listener's type (stream, datagram) and its name in the service manager's fd store;
     * the core's drain settings, ready failures, environment-file generations and listener use;
     * the environment file's values.
     */
    public static final int FORMAT = 4;
    /** The oldest format this version can take over from. */
    public static final int OLDEST = 2;

    /** The environment variable with the memfd's fd number; the next process removes it. */
    public static final String ENV = "EINHYRNINGSINS_HANDOVER";
    /**
     * Signals the JVM's handlers took after the hand-over was written, right before the exec
     * (comma-separated names): they join the {@link #SIGNALS} part.
     */
    public static final String LATE_SIGNALS_ENV = "EINHYRNINGSINS_LATE_SIGNALS";

    /** The parts, by name. */
    public static final String LISTENERS = "listeners";
    public static final String CORE = "core";
    public static final String CHANNELS = "channels";
    public static final String NOTIFIES = "notifies";
    public static final String CLIENTS = "clients";
    public static final String SIGNALS = "signals";
    /** --env-file's variables as last read (null without the option). */
    public static final String ENVIRONMENT = "environment";

    /**
     * @param stdinFd     the supervisor's original standard input, which workers get as theirs
     * @param reloadedBy  the client that asked for the reload ({@link Session.Owed#ref}), null for none
     * @param then        "upgrade" or "upgrade_fleet" when an upgrade waits for the reload, else null
     * @param startedWall when the first process of this supervisor started (uptime survives reloads)
     * @param reloads     how many reloads this supervisor made, this one included
     */
    public record Process(int stdinFd, boolean pidfileWritten, long startedWall, int reloads, String reloadedBy,
                          String then) {}

    /** A worker's {@code -g} channel: our end's fd. */
    public record Channel(int pid, int fd) {}

    /** A worker's notify socket. */
    public record Notify(int pid, int fd, String address) {}

    /** A control client kept across the exec: its fd and its session's state. */
    public record Client(int fd, Session.Handed session) {}

    /** The mapper for hand-overs: strict both ways. */
    static ObjectMapper json() {
        return new ObjectMapper()
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                .enable(SerializationFeature.INDENT_OUTPUT);
    }

    /** Builds a hand-over of the current format from its parts' states. */
    static Handover of(String from, Process process, List<Listeners.Handed> listeners, Snapshot core,
                       List<Channel> channels, List<Notify> notifies, List<Client> clients, List<String> signals,
                       Map<String, String> environment) {
        ObjectMapper json = json();
        Map<String, JsonNode> parts = new LinkedHashMap<>();
        parts.put(LISTENERS, json.valueToTree(listeners));
        parts.put(CORE, json.valueToTree(core));
        parts.put(CHANNELS, json.valueToTree(channels));
        parts.put(NOTIFIES, json.valueToTree(notifies));
        parts.put(CLIENTS, json.valueToTree(clients));
        parts.put(SIGNALS, json.valueToTree(signals));
        parts.put(ENVIRONMENT, json.valueToTree(environment));
        return new Handover(FORMAT, from, process, parts);
    }

    /** The text that goes into the memfd. */
    byte[] bytes() {
        try {
            return json().writeValueAsBytes(this);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the hand-over: " + e.getMessage(), e);
        }
    }

    /**
     * Reads a hand-over of any format from {@link #OLDEST} on, upgraded to the current one.
     *
     * @throws IOException what is wrong with it, in one line
     */
    static Handover parse(byte[] text) throws IOException {
        ObjectMapper json = json();
        JsonNode tree = json.readTree(text);
        if (tree == null || !tree.isObject() || !tree.path("format").isInt()) {
            throw new IOException("it is not a hand-over (no format number)");
        }
        int format = tree.get("format").intValue();
        if (format < OLDEST || format > FORMAT) {
            throw new IOException("format " + format + "; this version takes over formats " + OLDEST + " to " + FORMAT);
        }
        return json.treeToValue(upgrade((ObjectNode) tree, format), Handover.class);
    }

    /** A part's state as {@code type}, strictly. */
    <T> T part(String name, Class<T> type) throws IOException {
        return json().treeToValue(parts.get(name), type);
    }

    /** A part's state as a list of {@code element}, strictly. */
    <T> List<T> list(String name, Class<T> element) throws IOException {
        ObjectMapper json = json();
        JsonNode node = parts.get(name);
        List<T> out = new ArrayList<>();
        if (node == null || node.isNull()) return out;
        if (!node.isArray()) throw new IOException("part " + name + " is not a list");
        for (JsonNode e : node) out.add(json.treeToValue(e, element));
        return out;
    }

    /**
     * Brings a hand-over of format {@code from} up to {@link #FORMAT}, one format at a time.
     * 2 → 3: the flat record of 0.1 becomes process facts and parts; a kept client gets its
     * session's (empty) input and output; the core loses its own format number. 3 → 4: see
     * {@link #from3}.
     */
    static ObjectNode upgrade(ObjectNode h, int from) {
        ObjectNode tree = h;
        if (from <= 2) tree = from2(tree);
        if (from <= 3) tree = from3(tree);
        return tree;
    }

    /**
     * 3 → 4: every listener of format 3 is a stream socket, kept in no fd store; the core has
     * named no worker for not using its sockets, and has looked at none; the defaults of what
     * 4 added to the core (no shutdown delay or drain bounds, 3 ready failures, every worker on
     * the environment's first generation) and no environment file.
     */
    private static ObjectNode from3(ObjectNode h) {
        h.put("format", 4);
        ObjectNode parts = (ObjectNode) h.get("parts");
        for (JsonNode l : parts.path(LISTENERS)) {
            ((ObjectNode) l).put("type", Listeners.STREAM);
            ((ObjectNode) l).putNull("storeName");
        }
        ObjectNode core = (ObjectNode) parts.get(CORE);
        ObjectNode use = core.putObject("listenerUse");
        use.put("workers", 0);
        use.putArray("generations");
        ObjectNode config = (ObjectNode) core.get("config");
        ((ObjectNode) config.get("health")).put("readyFailures", 3);
        ObjectNode drain = config.putObject("drain");
        drain.put("shutdownDelayNanos", 0L);
        drain.put("maxDraining", 0);
        drain.put("drainTimeoutNanos", 0L);
        core.put("envGeneration", 1);
        for (JsonNode w : core.withArray("workers")) {
            ((ObjectNode) w).putNull("holdsInherited");
            ((ObjectNode) w).put("envGeneration", 1);
        }
        parts.putNull(ENVIRONMENT);
        return h;
    }

    private static ObjectNode from2(ObjectNode old) {
        ObjectMapper json = json();
        ObjectNode h = json.createObjectNode();
        h.put("format", 3);
        h.set("from", old.get("from"));
        ObjectNode process = h.putObject("process");
        process.set("stdinFd", old.get("stdinFd"));
        process.set("pidfileWritten", old.get("pidfileWritten"));
        process.set("startedWall", old.get("startedWall"));
        process.set("reloads", old.get("reloads"));
        process.set("reloadedBy", old.get("reloadedBy"));
        process.set("then", old.get("then"));
        ObjectNode parts = h.putObject("parts");
        parts.set(LISTENERS, old.get("listeners"));
        ObjectNode core = (ObjectNode) old.get("core").deepCopy();
        core.remove("format");
        parts.set(CORE, core);
        parts.set(CHANNELS, old.get("channels"));
        parts.set(NOTIFIES, old.get("notifies"));
        ArrayNode clients = parts.putArray(CLIENTS);
        for (JsonNode c : old.withArray("clients")) {
            ObjectNode client = clients.addObject();
            client.set("fd", c.get("fd"));
            ObjectNode session = client.putObject("session");
            session.set("owed", c.get("owed"));
            session.putNull("input");
            session.putNull("output");
        }
        parts.putArray(SIGNALS);
        return h;
    }

    /**
     * A hand-over in which every part and every field is set: what {@code --upgrade-check}
     * writes and reads back (everything it needs is on this installation's class path), and
     * what the golden file of the current format holds.
     */
    public static Handover sample() {
        return of("0.1.0", new Process(7, true, 1_764_000_000_000L, 1, "c0", null),
                List.of(new Listeners.Handed(3, "127.0.0.1:8080,r", "127.0.0.1:8080", 8080, null, null, Listeners.STREAM,
                                "einhyrningsins-0"),
                        new Listeners.Handed(4, "unix:/run/app.sock,mode=660", "unix:/run/app.sock", 0, "/run/app.sock", null,
                                Listeners.STREAM, null),
                        new Listeners.Handed(5, null, "[::]:9090", 9090, null, "web", Listeners.STREAM, null),
                        new Listeners.Handed(6, "udp:[::]:5353,name=dns", "udp:[::]:5353", 5353, null, "dns",
                                Listeners.DATAGRAM, "einhyrningsins-3-dns")),
                Snapshot.sample(),
                List.of(new Channel(4101, 11)),
                List.of(new Notify(4101, 12, "@einhyrningsins-notify-1-4101-abcdef")),
                List.of(new Client(13, new Session.Handed(List.of(new Session.Owed("c0", "reload-1")), null, null)),
                        new Client(14, new Session.Handed(List.of(new Session.Owed("c1", 42)), "c3RhdGU=",
                                "eyJtZXNzYWdlIjoiVXBncmFkaW5nIn0K"))),
                List.of("TTIN"), sampleEnvironment());
    }

    private static Map<String, String> sampleEnvironment() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("API_KEY", "s3cret");
        env.put("FEATURE_FLAGS", "a b");
        return env;
    }

    /** Writes the sample and reads it back: everything a take-over needs is on this class path. */
    static void selfTest() throws IOException {
        Handover h = sample();
        Handover back = parse(h.bytes());
        back.part(CORE, Snapshot.class);
        back.list(LISTENERS, Listeners.Handed.class);
        back.list(CHANNELS, Channel.class);
        back.list(NOTIFIES, Notify.class);
        back.list(CLIENTS, Client.class);
        back.list(SIGNALS, String.class);
        back.environment();
    }

    /** The environment file's variables; null if there was no such file. */
    @SuppressWarnings("unchecked")
    Map<String, String> environment() throws IOException {
        JsonNode node = parts.get(ENVIRONMENT);
        if (node == null || node.isNull()) return null;
        if (!node.isObject()) throw new IOException("part " + ENVIRONMENT + " is not a map");
        Map<String, String> out = new LinkedHashMap<>();
        for (java.util.Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) throw new IOException("part " + ENVIRONMENT + ": " + e.getKey() + " is not text");
            out.put(e.getKey(), e.getValue().textValue());
        }
        return out;
    }
}
