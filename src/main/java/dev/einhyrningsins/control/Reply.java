package dev.einhyrningsins.control;

/** One decoded reply line: {@code more} (wire key "wait") marks a non-final message; {@code ok} is false on failure. */
public record Reply(String message, Object requestId, boolean more, boolean ok, String line) {}
