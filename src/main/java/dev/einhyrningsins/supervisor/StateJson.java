package dev.einhyrningsins.supervisor;

import dev.einhyrningsins.json.Json;
import dev.einhyrningsins.json.PlainJson;
import java.util.Map;

/** Renders the state dump as pretty JSON (pure computation, no I/O). */
final class StateJson {
    private StateJson() {}

    static String render(Map<String, Object> state) {
        String json = PlainJson.writePretty(state); // Jackson only for a value that is not plain (a ping id)
        return json != null ? json : Json.writePretty(state);
    }
}
