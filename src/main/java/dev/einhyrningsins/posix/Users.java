package dev.einhyrningsins.posix;

import dev.einhyrningsins.posix.libc.Libc;
import dev.einhyrningsins.posix.libc.group;
import dev.einhyrningsins.posix.libc.passwd;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

import static dev.einhyrningsins.posix.Downcall.captureState;

/**
 * Users and groups as the C library knows them (its name service switch: /etc/passwd, LDAP,
 * systemd's dynamic users…): {@code getpwnam_r}, {@code getpwuid_r}, {@code getgrnam_r},
 * {@code getgrgid_r}, {@code getgrouplist}. The JDK looks names up too, but does not tell a
 * user's uid, primary group or groups.
 */
public final class Users {
    private Users() {
    }

    private static final Downcall GETPWNAM_R = Downcall.of("getpwnam_r", FunctionDescriptor.of(Libc.C_INT,
            Libc.C_POINTER, Libc.C_POINTER, Libc.C_POINTER, Libc.C_LONG, Libc.C_POINTER));
    private static final Downcall GETPWUID_R = Downcall.of("getpwuid_r", FunctionDescriptor.of(Libc.C_INT,
            Libc.C_INT, Libc.C_POINTER, Libc.C_POINTER, Libc.C_LONG, Libc.C_POINTER));
    private static final Downcall GETGRNAM_R = Downcall.of("getgrnam_r", FunctionDescriptor.of(Libc.C_INT,
            Libc.C_POINTER, Libc.C_POINTER, Libc.C_POINTER, Libc.C_LONG, Libc.C_POINTER));
    private static final Downcall GETGRGID_R = Downcall.of("getgrgid_r", FunctionDescriptor.of(Libc.C_INT,
            Libc.C_INT, Libc.C_POINTER, Libc.C_POINTER, Libc.C_LONG, Libc.C_POINTER));
    private static final Downcall GETGROUPLIST = Downcall.of("getgrouplist", FunctionDescriptor.of(Libc.C_INT,
            Libc.C_POINTER, Libc.C_INT, Libc.C_POINTER, Libc.C_POINTER));

    /** The string buffers of the *_r calls start here and double on ERANGE, up to {@link #MAX_BUFFER}. */
    private static final int FIRST_BUFFER = 1024;
    private static final int MAX_BUFFER = 1 << 20;

    /** A user's passwd entry: its name, uid and primary group. */
    public record User(String name, int uid, int gid) {}

    /** A group's entry: its name and gid. */
    public record Group(String name, int gid) {}

    /** The user named {@code name}, or null if there is none. */
    public static User user(String name) {
        return entry(true, name, 0);
    }

    /** The user with uid {@code uid}, or null if no entry has it. */
    public static User user(int uid) {
        return entry(true, null, uid);
    }

    /** The group named {@code name}, or null if there is none. */
    public static Group group(String name) {
        User g = entry(false, name, 0);
        return g == null ? null : new Group(g.name(), g.uid());
    }

    /** The group with gid {@code gid}, or null if no entry has it. */
    public static Group group(int gid) {
        User g = entry(false, null, gid);
        return g == null ? null : new Group(g.name(), g.uid());
    }

    /**
     * The groups {@code user} is in: {@code gid} (its primary group, or the one it runs with)
     * and every group that lists it as a member, as {@code initgroups(3)} would set them.
     */
    public static int[] groups(String user, int gid) {
        int n = 32;
        while (true) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment st = captureState(arena);
                MemorySegment list = arena.allocate(ValueLayout.JAVA_INT, n);
                MemorySegment count = arena.allocateFrom(ValueLayout.JAVA_INT, n);
                long found = GETGROUPLIST.call(st, arena.allocateFrom(user).address(), gid, list.address(), count.address());
                int needed = count.get(ValueLayout.JAVA_INT, 0);
                if (found >= 0) return Arrays.copyOf(list.toArray(ValueLayout.JAVA_INT), (int) found);
                if (needed <= n || needed > 65536) throw new PosixException("getgrouplist " + user, Libc.ERANGE());
                n = needed;
            }
        }
    }

    /**
     * One passwd ({@code user}) or group entry by name (when {@code name} is not null) or by
     * id: as a User (a group's gid in {@code uid}), or null if there is none.
     */
    private static User entry(boolean user, String name, int id) {
        for (long size = FIRST_BUFFER; ; size *= 2) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment st = captureState(arena);
                MemorySegment entry = arena.allocate(user ? passwd.layout() : group.layout());
                MemorySegment buffer = arena.allocate(size);
                MemorySegment result = arena.allocate(ValueLayout.JAVA_LONG);
                long key = name == null ? id : arena.allocateFrom(name).address();
                Downcall call = user ? (name == null ? GETPWUID_R : GETPWNAM_R) : (name == null ? GETGRGID_R : GETGRNAM_R);
                int err = (int) call.call(st, key, entry.address(), buffer.address(), size, result.address());
                if (err == Libc.ERANGE() && size < MAX_BUFFER) continue;
                String what = (user ? "getpw" : "getgr") + (name == null ? (user ? "uid_r " : "gid_r ") + id : "nam_r " + name);
                if (err != 0 && err != Libc.ENOENT() && err != Libc.ESRCH()) throw new PosixException(what, err);
                if (result.get(ValueLayout.JAVA_LONG, 0) == 0) return null;
                if (user) {
                    return new User(passwd.pw_name(entry).reinterpret(Long.MAX_VALUE).getString(0), passwd.pw_uid(entry),
                            passwd.pw_gid(entry));
                }
                return new User(group.gr_name(entry).reinterpret(Long.MAX_VALUE).getString(0), group.gr_gid(entry), 0);
            }
        }
    }
}
