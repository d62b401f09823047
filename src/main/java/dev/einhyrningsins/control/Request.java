package dev.einhyrningsins.control;

import java.util.Map;
import java.util.Optional;

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

    /** The pid as an int when it is an integer or a numeric string. */
    public Optional<Integer> pidAsInt() {
        return switch (pid) {
            case Integer i -> Optional.of(i);
            case Long l when l > 0 && l <= Integer.MAX_VALUE -> Optional.of(l.intValue());
            case String s when s.trim().matches("\\d{1,9}") -> Optional.of(Integer.parseInt(s.trim()));
            case null, default -> Optional.empty();
        };
    }
}
