package dev.einhyrningsins.posix;

import dev.einhyrningsins.posix.libc.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Errno and signal names as the C library knows them: {@code strerrorname_np} ("EADDRINUSE")
 * and {@code sigabbrev_np} ("USR2"), glibc 2.32+. The signal table is built on first use.
 */
final class Names {
    private Names() {
    }

    private static final Downcall STRERROR = Downcall.of("strerror", FunctionDescriptor.of(Libc.C_POINTER, Libc.C_INT));
    private static final Downcall STRERRORNAME_NP = Downcall.of("strerrorname_np",
            FunctionDescriptor.of(Libc.C_POINTER, Libc.C_INT));
    private static final Downcall SIGABBREV_NP = Downcall.of("sigabbrev_np",
            FunctionDescriptor.of(Libc.C_POINTER, Libc.C_INT));

    /** The C library's message for {@code errno}, e.g. "Address already in use". */
    static String strerror(int errno) {
        String message = text(STRERROR, errno);
        return message != null ? message : "errno " + errno;
    }

    static String errnoName(int errno) {
        String name = text(STRERRORNAME_NP, errno);
        return name != null ? name : "errno " + errno;
    }

    /** Signal numbers and names (without "SIG"), as this system numbers them. */
    private static final class SignalTable {
        /** One past the largest signal number (_NSIG, 65 on Linux). */
        static final int LIMIT = Libc._NSIG();
        static final String[] NAMES = new String[LIMIT];
        static final Map<String, Integer> NUMBERS = new HashMap<>();

        static {
            for (int i = 1; i < LIMIT; i++) {
                NAMES[i] = text(SIGABBREV_NP, i);
                if (NAMES[i] != null) {
                    NUMBERS.put(NAMES[i], i);
                }
            }
            // old names for the same numbers, accepted on input only
            NUMBERS.put("IOT", Libc.SIGIOT());
            NUMBERS.put("POLL", Libc.SIGPOLL());
            NUMBERS.put("CLD", Libc.SIGCLD());
        }
    }

    /** The C string {@code f(number)} returns (static storage), or null for NULL. */
    @SuppressWarnings("restricted")
    private static String text(Downcall f, int number) {
        long address;
        try (Arena arena = Arena.ofConfined()) {
            address = f.call(Downcall.captureState(arena), number);
        }
        return address == 0 ? null : MemorySegment.ofAddress(address).reinterpret(256).getString(0);
    }

    static int signalNumber(String name) {
        if (name == null) {
            return -1;
        }
        String n = name.strip();
        if (n.isEmpty()) {
            return -1;
        }
        if (n.chars().allMatch(c -> c >= '0' && c <= '9')) {
            if (n.length() > 3) {
                return -1;
            }
            int number = Integer.parseInt(n);
            return number >= 1 && number < SignalTable.LIMIT ? number : -1;
        }
        n = n.toUpperCase(Locale.ROOT);
        if (n.startsWith("SIG")) {
            n = n.substring(3);
        }
        Integer number = SignalTable.NUMBERS.get(n);
        return number == null ? -1 : number;
    }

    static String signalName(int number) {
        if (number >= 1 && number < SignalTable.LIMIT && SignalTable.NAMES[number] != null) {
            return SignalTable.NAMES[number];
        }
        return Integer.toString(number);
    }

    /** Named signals, in numeric order (for tests and help texts). */
    static Map<Integer, String> signals() {
        Map<Integer, String> m = new LinkedHashMap<>();
        for (int i = 1; i < SignalTable.LIMIT; i++) {
            if (SignalTable.NAMES[i] != null) {
                m.put(i, SignalTable.NAMES[i]);
            }
        }
        return m;
    }
}
