package dev.einhyrningsins.supervisor;

import dev.einhyrningsins.json.Json;
import java.util.Map;

/** Renders the state dump as pretty JSON (pure computation, no I/O). */
final class StateJson {
    private StateJson() {}

    static String render(Map<String, Object> state) {
        return Json.writePretty(state); // jackson-core only for a value that is not plain (a ping id)
    }
}
