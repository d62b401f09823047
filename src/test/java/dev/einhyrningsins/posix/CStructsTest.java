package dev.einhyrningsins.posix;

import dev.einhyrningsins.posix.libc.__sigset_t;
import dev.einhyrningsins.posix.libc.posix_spawn_file_actions_t;
import dev.einhyrningsins.posix.libc.posix_spawnattr_t;
import dev.einhyrningsins.posix.libc.sigaction;
import dev.einhyrningsins.posix.libc.siginfo_t;
import dev.einhyrningsins.posix.libc.signalfd_siginfo;
import dev.einhyrningsins.posix.libc.sockaddr_in;
import dev.einhyrningsins.posix.libc.sockaddr_in6;
import dev.einhyrningsins.posix.libc.sockaddr_storage;
import dev.einhyrningsins.posix.libc.sockaddr_un;
import org.junit.jupiter.api.Test;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static org.assertj.core.api.Assertions.assertThat;

/** The spelled-out struct sizes and offsets are jextract's. */
class CStructsTest {
    @Test
    void socketAddresses() {
        assertThat(CStructs.SOCKADDR_IN_SIZE).isEqualTo(sockaddr_in.sizeof());
        assertThat(CStructs.SIN_FAMILY).isEqualTo(sockaddr_in.sin_family$offset());
        assertThat(CStructs.SIN_PORT).isEqualTo(sockaddr_in.sin_port$offset());
        assertThat(CStructs.SIN_ADDR).isEqualTo(sockaddr_in.sin_addr$offset());

        assertThat(CStructs.SOCKADDR_IN6_SIZE).isEqualTo(sockaddr_in6.sizeof());
        assertThat(CStructs.SIN6_FAMILY).isEqualTo(sockaddr_in6.sin6_family$offset());
        assertThat(CStructs.SIN6_PORT).isEqualTo(sockaddr_in6.sin6_port$offset());
        assertThat(CStructs.SIN6_ADDR).isEqualTo(sockaddr_in6.sin6_addr$offset());
        assertThat(CStructs.SIN6_SCOPE_ID).isEqualTo(sockaddr_in6.sin6_scope_id$offset());

        assertThat(CStructs.SOCKADDR_UN_SIZE).isEqualTo(sockaddr_un.sizeof());
        assertThat(CStructs.SUN_FAMILY).isEqualTo(sockaddr_un.sun_family$offset());
        assertThat(CStructs.SUN_PATH).isEqualTo(sockaddr_un.sun_path$offset());
        assertThat(CStructs.SUN_PATH_LENGTH).isEqualTo(sockaddr_un.sun_path$dimensions()[0]);

        assertThat(CStructs.SOCKADDR_STORAGE_SIZE).isEqualTo(sockaddr_storage.sizeof());
        assertThat(CStructs.SS_FAMILY).isEqualTo(sockaddr_storage.ss_family$offset());
    }

    @Test
    void siginfo() {
        assertThat(CStructs.SIGINFO_SIZE).isEqualTo(siginfo_t.sizeof());
        assertThat(CStructs.SI_CODE).isEqualTo(siginfo_t.si_code$offset());
        assertThat(CStructs.SI_PID).isEqualTo(siginfo_t.layout().byteOffset(
                groupElement("_sifields"), groupElement("_sigchld"), groupElement("si_pid")));
        assertThat(CStructs.SI_STATUS).isEqualTo(siginfo_t.layout().byteOffset(
                groupElement("_sifields"), groupElement("_sigchld"), groupElement("si_status")));
    }

    @Test
    void spawnStructs() {
        assertThat(CStructs.POSIX_SPAWN_FILE_ACTIONS_SIZE).isEqualTo(posix_spawn_file_actions_t.sizeof());
        assertThat(CStructs.POSIX_SPAWNATTR_SIZE).isEqualTo(posix_spawnattr_t.sizeof());
        assertThat(CStructs.SIGSET_SIZE).isEqualTo(__sigset_t.sizeof());
    }

    @Test
    void signalStructs() {
        assertThat(CStructs.SIGACTION_SIZE).isEqualTo(sigaction.sizeof());
        assertThat(CStructs.SA_HANDLER).isEqualTo(sigaction.__sigaction_handler$offset());
        assertThat(CStructs.SA_MASK).isEqualTo(sigaction.sa_mask$offset());
        assertThat(CStructs.SA_FLAGS).isEqualTo(sigaction.sa_flags$offset());
        assertThat(CStructs.SIGNALFD_SIGINFO_SIZE).isEqualTo(signalfd_siginfo.sizeof());
        assertThat(CStructs.RLIMIT_SIZE).isEqualTo(dev.einhyrningsins.posix.libc.rlimit.sizeof());
        assertThat(CStructs.RLIM_CUR).isEqualTo(dev.einhyrningsins.posix.libc.rlimit.rlim_cur$offset());
        assertThat(CStructs.SSI_SIGNO).isEqualTo(signalfd_siginfo.ssi_signo$offset());
    }
}
