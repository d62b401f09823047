package dev.einhyrningsins.supervisor;

import java.util.Set;

/** Signal names (without SIG) that the control plane accepts; numbers are the shell's business. */
public final class SignalNames {
    public static final Set<String> NAMES = Set.of(
            "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV",
            "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
            "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "POLL", "PWR", "SYS");

    private SignalNames() {}
}
