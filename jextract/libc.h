/*
 * Shim header for jextract: the slice of glibc/Linux that dev.einhyrningsins.posix uses.
 *
 * Deliberately does NOT define _GNU_SOURCE: with it, <sys/socket.h> declares bind(),
 * connect(), getsockname() ... with transparent-union parameters (__SOCKADDR_ARG) that
 * jextract rejects. The default feature set (_DEFAULT_SOURCE + POSIX.1-2008) covers
 * everything else; the few GNU extensions we need are redeclared below, exactly as
 * glibc declares them.
 *
 * Regenerate with jextract/regenerate.sh (see jextract/README.md).
 */
#ifndef EINHYRNINGSINS_LIBC_H
#define EINHYRNINGSINS_LIBC_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>
#include <spawn.h>
#include <signal.h>
#include <sys/wait.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <linux/prctl.h>
#include <sys/resource.h>
#include <malloc.h>
#include <sys/signalfd.h>
#include <pwd.h>
#include <grp.h>

/* GNU extension (glibc >= 2.34), hidden behind __USE_GNU in <spawn.h>. */
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *__file_actions,
                                                     int __from);

/*
 * GNU extensions of <sys/socket.h>, <sys/mman.h> and <string.h> (hidden behind __USE_GNU), declared
 * exactly as glibc declares them: SO_PASSCRED credentials (sd_notify datagrams) and
 * memfd_create (glibc >= 2.27).
 */
struct ucred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
};
#define SCM_CREDENTIALS 0x02
#define MFD_CLOEXEC 0x0001U
extern int memfd_create(const char *__name, unsigned int __flags);

/* GNU extensions of <string.h> (glibc >= 2.32): errno and signal names, e.g. "EPERM", "USR2". */
extern const char *strerrorname_np(int __errnum);
extern const char *sigabbrev_np(int __sig);

/*
 * pidfd_open / pidfd_send_signal: glibc only has wrappers since 2.36, so they are called
 * through syscall(2). The syscall numbers are the same on every Linux architecture
 * (unified table since 5.1); <sys/syscall.h> provides SYS_pidfd_open/SYS_pidfd_send_signal
 * on current glibc, these fallbacks only matter for older headers.
 */
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/*
 * Not redeclared here: P_PIDFD (waitid idtype) is a member of glibc's idtype_t enum since
 * 2.36, so regenerate on glibc >= 2.36 headers. SIGRTMIN/SIGRTMAX are function calls in
 * glibc; the bindings carry the kernel's __SIGRTMIN/__SIGRTMAX instead.
 */

#endif
