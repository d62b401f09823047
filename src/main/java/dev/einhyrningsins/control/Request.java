package dev.einhyrningsins.control;

import java.util.Map;

/**
 * One decoded control request, as einhorn defines it: a mapping with {@code command},
 * optional {@code id} (go-einhorn sends {@code request_id}), {@code args}, {@code pid} and
 * {@code user}. Fields are kept raw so the supervisor can answer with einhorn's messages
 * ("Args must be an array", …).
 */
public record Request(String command, Object id, Object args, Object pid, String user, Map<String, Object> raw) {

    public boolean hasId() {
        return id != null;
    }
}
