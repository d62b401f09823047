package dev.einhyrningsins.posix;

import dev.einhyrningsins.posix.libc.Libc;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/** Errno and signal name tables, built from the constants in the generated bindings. */
final class Names {
    private Names() {
    }

    /** Errno names; initialised on first use only (the error path). */
    private static final class Errno {
        static final String[] NAMES = build();

        private static String[] build() {
            String[] t = new String[256];
            e(t, Libc.EPERM(), "EPERM");
            e(t, Libc.ENOENT(), "ENOENT");
            e(t, Libc.ESRCH(), "ESRCH");
            e(t, Libc.EINTR(), "EINTR");
            e(t, Libc.EIO(), "EIO");
            e(t, Libc.ENXIO(), "ENXIO");
            e(t, Libc.E2BIG(), "E2BIG");
            e(t, Libc.ENOEXEC(), "ENOEXEC");
            e(t, Libc.EBADF(), "EBADF");
            e(t, Libc.ECHILD(), "ECHILD");
            e(t, Libc.EAGAIN(), "EAGAIN");
            e(t, Libc.ENOMEM(), "ENOMEM");
            e(t, Libc.EACCES(), "EACCES");
            e(t, Libc.EFAULT(), "EFAULT");
            e(t, Libc.ENOTBLK(), "ENOTBLK");
            e(t, Libc.EBUSY(), "EBUSY");
            e(t, Libc.EEXIST(), "EEXIST");
            e(t, Libc.EXDEV(), "EXDEV");
            e(t, Libc.ENODEV(), "ENODEV");
            e(t, Libc.ENOTDIR(), "ENOTDIR");
            e(t, Libc.EISDIR(), "EISDIR");
            e(t, Libc.EINVAL(), "EINVAL");
            e(t, Libc.ENFILE(), "ENFILE");
            e(t, Libc.EMFILE(), "EMFILE");
            e(t, Libc.ENOTTY(), "ENOTTY");
            e(t, Libc.ETXTBSY(), "ETXTBSY");
            e(t, Libc.EFBIG(), "EFBIG");
            e(t, Libc.ENOSPC(), "ENOSPC");
            e(t, Libc.ESPIPE(), "ESPIPE");
            e(t, Libc.EROFS(), "EROFS");
            e(t, Libc.EMLINK(), "EMLINK");
            e(t, Libc.EPIPE(), "EPIPE");
            e(t, Libc.EDOM(), "EDOM");
            e(t, Libc.ERANGE(), "ERANGE");
            e(t, Libc.EDEADLK(), "EDEADLK");
            e(t, Libc.ENAMETOOLONG(), "ENAMETOOLONG");
            e(t, Libc.ENOLCK(), "ENOLCK");
            e(t, Libc.ENOSYS(), "ENOSYS");
            e(t, Libc.ENOTEMPTY(), "ENOTEMPTY");
            e(t, Libc.ELOOP(), "ELOOP");
            e(t, Libc.ENOMSG(), "ENOMSG");
            e(t, Libc.EIDRM(), "EIDRM");
            e(t, Libc.ECHRNG(), "ECHRNG");
            e(t, Libc.EL2NSYNC(), "EL2NSYNC");
            e(t, Libc.EL3HLT(), "EL3HLT");
            e(t, Libc.EL3RST(), "EL3RST");
            e(t, Libc.ELNRNG(), "ELNRNG");
            e(t, Libc.EUNATCH(), "EUNATCH");
            e(t, Libc.ENOCSI(), "ENOCSI");
            e(t, Libc.EL2HLT(), "EL2HLT");
            e(t, Libc.EBADE(), "EBADE");
            e(t, Libc.EBADR(), "EBADR");
            e(t, Libc.EXFULL(), "EXFULL");
            e(t, Libc.ENOANO(), "ENOANO");
            e(t, Libc.EBADRQC(), "EBADRQC");
            e(t, Libc.EBADSLT(), "EBADSLT");
            e(t, Libc.EBFONT(), "EBFONT");
            e(t, Libc.ENOSTR(), "ENOSTR");
            e(t, Libc.ENODATA(), "ENODATA");
            e(t, Libc.ETIME(), "ETIME");
            e(t, Libc.ENOSR(), "ENOSR");
            e(t, Libc.ENONET(), "ENONET");
            e(t, Libc.ENOPKG(), "ENOPKG");
            e(t, Libc.EREMOTE(), "EREMOTE");
            e(t, Libc.ENOLINK(), "ENOLINK");
            e(t, Libc.EADV(), "EADV");
            e(t, Libc.ESRMNT(), "ESRMNT");
            e(t, Libc.ECOMM(), "ECOMM");
            e(t, Libc.EPROTO(), "EPROTO");
            e(t, Libc.EMULTIHOP(), "EMULTIHOP");
            e(t, Libc.EDOTDOT(), "EDOTDOT");
            e(t, Libc.EBADMSG(), "EBADMSG");
            e(t, Libc.EOVERFLOW(), "EOVERFLOW");
            e(t, Libc.ENOTUNIQ(), "ENOTUNIQ");
            e(t, Libc.EBADFD(), "EBADFD");
            e(t, Libc.EREMCHG(), "EREMCHG");
            e(t, Libc.ELIBACC(), "ELIBACC");
            e(t, Libc.ELIBBAD(), "ELIBBAD");
            e(t, Libc.ELIBSCN(), "ELIBSCN");
            e(t, Libc.ELIBMAX(), "ELIBMAX");
            e(t, Libc.ELIBEXEC(), "ELIBEXEC");
            e(t, Libc.EILSEQ(), "EILSEQ");
            e(t, Libc.ERESTART(), "ERESTART");
            e(t, Libc.ESTRPIPE(), "ESTRPIPE");
            e(t, Libc.EUSERS(), "EUSERS");
            e(t, Libc.ENOTSOCK(), "ENOTSOCK");
            e(t, Libc.EDESTADDRREQ(), "EDESTADDRREQ");
            e(t, Libc.EMSGSIZE(), "EMSGSIZE");
            e(t, Libc.EPROTOTYPE(), "EPROTOTYPE");
            e(t, Libc.ENOPROTOOPT(), "ENOPROTOOPT");
            e(t, Libc.EPROTONOSUPPORT(), "EPROTONOSUPPORT");
            e(t, Libc.ESOCKTNOSUPPORT(), "ESOCKTNOSUPPORT");
            e(t, Libc.EOPNOTSUPP(), "EOPNOTSUPP");
            e(t, Libc.EPFNOSUPPORT(), "EPFNOSUPPORT");
            e(t, Libc.EAFNOSUPPORT(), "EAFNOSUPPORT");
            e(t, Libc.EADDRINUSE(), "EADDRINUSE");
            e(t, Libc.EADDRNOTAVAIL(), "EADDRNOTAVAIL");
            e(t, Libc.ENETDOWN(), "ENETDOWN");
            e(t, Libc.ENETUNREACH(), "ENETUNREACH");
            e(t, Libc.ENETRESET(), "ENETRESET");
            e(t, Libc.ECONNABORTED(), "ECONNABORTED");
            e(t, Libc.ECONNRESET(), "ECONNRESET");
            e(t, Libc.ENOBUFS(), "ENOBUFS");
            e(t, Libc.EISCONN(), "EISCONN");
            e(t, Libc.ENOTCONN(), "ENOTCONN");
            e(t, Libc.ESHUTDOWN(), "ESHUTDOWN");
            e(t, Libc.ETOOMANYREFS(), "ETOOMANYREFS");
            e(t, Libc.ETIMEDOUT(), "ETIMEDOUT");
            e(t, Libc.ECONNREFUSED(), "ECONNREFUSED");
            e(t, Libc.EHOSTDOWN(), "EHOSTDOWN");
            e(t, Libc.EHOSTUNREACH(), "EHOSTUNREACH");
            e(t, Libc.EALREADY(), "EALREADY");
            e(t, Libc.EINPROGRESS(), "EINPROGRESS");
            e(t, Libc.ESTALE(), "ESTALE");
            e(t, Libc.EUCLEAN(), "EUCLEAN");
            e(t, Libc.ENOTNAM(), "ENOTNAM");
            e(t, Libc.ENAVAIL(), "ENAVAIL");
            e(t, Libc.EISNAM(), "EISNAM");
            e(t, Libc.EREMOTEIO(), "EREMOTEIO");
            e(t, Libc.EDQUOT(), "EDQUOT");
            e(t, Libc.ENOMEDIUM(), "ENOMEDIUM");
            e(t, Libc.EMEDIUMTYPE(), "EMEDIUMTYPE");
            e(t, Libc.ECANCELED(), "ECANCELED");
            e(t, Libc.ENOKEY(), "ENOKEY");
            e(t, Libc.EKEYEXPIRED(), "EKEYEXPIRED");
            e(t, Libc.EKEYREVOKED(), "EKEYREVOKED");
            e(t, Libc.EKEYREJECTED(), "EKEYREJECTED");
            e(t, Libc.EOWNERDEAD(), "EOWNERDEAD");
            e(t, Libc.ENOTRECOVERABLE(), "ENOTRECOVERABLE");
            e(t, Libc.ERFKILL(), "ERFKILL");
            e(t, Libc.EHWPOISON(), "EHWPOISON");
            // Aliases (EWOULDBLOCK = EAGAIN, EDEADLOCK = EDEADLK, ENOTSUP = EOPNOTSUPP) only
            // fill a slot no canonical name took.
            e(t, Libc.EWOULDBLOCK(), "EWOULDBLOCK");
            e(t, Libc.EDEADLOCK(), "EDEADLOCK");
            e(t, Libc.ENOTSUP(), "ENOTSUP");
            return t;
        }

        private static void e(String[] t, int number, String name) {
            if (number >= 0 && number < t.length && t[number] == null) {
                t[number] = name;
            }
        }
    }

    static String errnoName(int errno) {
        String[] t = Errno.NAMES;
        if (errno >= 0 && errno < t.length && t[errno] != null) {
            return t[errno];
        }
        return "errno " + errno;
    }

    /** Signal numbers and names (without "SIG"), Linux numbering as in the bindings. */
    private static final class Signals {
        /** One past the largest signal number (_NSIG, 65 on Linux). */
        static final int LIMIT = Libc._NSIG();
        static final String[] NAMES = new String[LIMIT];
        static final Map<String, Integer> NUMBERS = new HashMap<>();

        static {
            // canonical names first: they win the number -> name direction
            s(Libc.SIGHUP(), "HUP");
            s(Libc.SIGINT(), "INT");
            s(Libc.SIGQUIT(), "QUIT");
            s(Libc.SIGILL(), "ILL");
            s(Libc.SIGTRAP(), "TRAP");
            s(Libc.SIGABRT(), "ABRT");
            s(Libc.SIGBUS(), "BUS");
            s(Libc.SIGFPE(), "FPE");
            s(Libc.SIGKILL(), "KILL");
            s(Libc.SIGUSR1(), "USR1");
            s(Libc.SIGSEGV(), "SEGV");
            s(Libc.SIGUSR2(), "USR2");
            s(Libc.SIGPIPE(), "PIPE");
            s(Libc.SIGALRM(), "ALRM");
            s(Libc.SIGTERM(), "TERM");
            s(Libc.SIGSTKFLT(), "STKFLT");
            s(Libc.SIGCHLD(), "CHLD");
            s(Libc.SIGCONT(), "CONT");
            s(Libc.SIGSTOP(), "STOP");
            s(Libc.SIGTSTP(), "TSTP");
            s(Libc.SIGTTIN(), "TTIN");
            s(Libc.SIGTTOU(), "TTOU");
            s(Libc.SIGURG(), "URG");
            s(Libc.SIGXCPU(), "XCPU");
            s(Libc.SIGXFSZ(), "XFSZ");
            s(Libc.SIGVTALRM(), "VTALRM");
            s(Libc.SIGPROF(), "PROF");
            s(Libc.SIGWINCH(), "WINCH");
            s(Libc.SIGIO(), "IO");
            s(Libc.SIGPWR(), "PWR");
            s(Libc.SIGSYS(), "SYS");
            // aliases: accepted by name only
            s(Libc.SIGIOT(), "IOT");
            s(Libc.SIGPOLL(), "POLL");
            s(Libc.SIGCLD(), "CLD");
        }

        private static void s(int number, String name) {
            NUMBERS.putIfAbsent(name, number);
            if (NAMES[number] == null) {
                NAMES[number] = name;
            }
        }
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
            return number >= 1 && number < Signals.LIMIT ? number : -1;
        }
        n = n.toUpperCase(Locale.ROOT);
        if (n.startsWith("SIG")) {
            n = n.substring(3);
        }
        Integer number = Signals.NUMBERS.get(n);
        return number == null ? -1 : number;
    }

    static String signalName(int number) {
        if (number >= 1 && number < Signals.LIMIT && Signals.NAMES[number] != null) {
            return Signals.NAMES[number];
        }
        return Integer.toString(number);
    }

    /** Canonical signal names, in numeric order (for tests and help texts). */
    static Map<Integer, String> signals() {
        Map<Integer, String> m = new java.util.LinkedHashMap<>();
        for (int i = 1; i < Signals.LIMIT; i++) {
            if (Signals.NAMES[i] != null) {
                m.put(i, Signals.NAMES[i]);
            }
        }
        return m;
    }
}
