package dev.einhyrningsins.shell;

import dev.einhyrningsins.posix.Users;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Who workers and health checks run as ({@code --user}, {@code --group}): a uid, a gid and
 * supplementary groups, as {@code initgroups(3)} gives them to the user (none for a uid
 * without a passwd entry). The supervisor stays root — it binds, changes socket owners,
 * starts every worker and check as this user (util-linux {@code setpriv}, which changes the
 * ids between fork and exec where posix_spawn cannot) and signals them — and runs no code
 * of the application.
 *
 * @param user      the user's name, or null for a uid without a passwd entry
 * @param group     the group's name, or null for a gid without a group entry
 * @param groups    the supplementary groups (empty: none)
 */
public record RunAs(String user, int uid, String group, int gid, int[] groups) {

    /**
     * Resolves {@code --user} and {@code --group} (a name or a number each; {@code group} null
     * for the user's primary group, or the uid's own number when the uid has no passwd entry).
     *
     * @param euid the supervisor's effective uid: only root can start processes as another user
     * @throws StartupException not root, or no such user or group
     */
    public static RunAs resolve(String user, String group, int euid, Lookup lookup) {
        if (euid != 0) {
            throw new StartupException("--user needs root: the supervisor runs as uid " + euid
                    + " and cannot start workers as another user");
        }
        Users.User entry;
        int uid;
        if (number(user)) {
            uid = parse(user, "--user");
            entry = lookup.user(uid);
        } else {
            entry = lookup.user(user);
            if (entry == null) throw new StartupException("--user " + user + ": no such user (give a user name or a uid)");
            uid = entry.uid();
        }
        String groupName;
        int gid;
        if (group == null) {
            gid = entry == null ? uid : entry.gid();
            Users.Group g = lookup.group(gid);
            groupName = g == null ? null : g.name();
        } else if (number(group)) {
            gid = parse(group, "--group");
            Users.Group g = lookup.group(gid);
            groupName = g == null ? null : g.name();
        } else {
            Users.Group g = lookup.group(group);
            if (g == null) throw new StartupException("--group " + group + ": no such group (give a group name or a gid)");
            gid = g.gid();
            groupName = g.name();
        }
        int[] groups = entry == null ? new int[0] : lookup.groups(entry.name(), gid);
        return new RunAs(entry == null ? null : entry.name(), uid, groupName, gid, groups);
    }

    /** The C library's users and groups ({@link Users}); tests give their own. */
    public interface Lookup {
        Users.User user(String name);

        Users.User user(int uid);

        Users.Group group(String name);

        Users.Group group(int gid);

        int[] groups(String user, int gid);

        /** The system's, through the C library. */
        Lookup SYSTEM = new Lookup() {
            @Override
            public Users.User user(String name) {
                return Users.user(name);
            }

            @Override
            public Users.User user(int uid) {
                return Users.user(uid);
            }

            @Override
            public Users.Group group(String name) {
                return Users.group(name);
            }

            @Override
            public Users.Group group(int gid) {
                return Users.group(gid);
            }

            @Override
            public int[] groups(String user, int gid) {
                return Users.groups(user, gid);
            }
        };
    }

    private static boolean number(String s) {
        return !s.isEmpty() && s.chars().allMatch(c -> c >= '0' && c <= '9');
    }

    private static int parse(String s, String option) {
        try {
            int n = Integer.parseInt(s);
            if (n >= 0) return n;
        } catch (NumberFormatException e) {
            // too big
        }
        throw new StartupException(option + " " + s + ": not an id (0 to " + Integer.MAX_VALUE + ")");
    }

    /**
     * setpriv's options that make its command run as this user: real, effective and saved
     * uid and gid, and the supplementary groups (or none).
     */
    public List<String> setprivOptions() {
        List<String> out = new ArrayList<>(List.of("--reuid=" + uid, "--regid=" + gid));
        out.add(groups.length == 0 ? "--clear-groups"
                : "--groups=" + Arrays.stream(groups).mapToObj(Integer::toString).collect(Collectors.joining(",")));
        return out;
    }

    /** How the start log names it: {@code user www-data (uid 33), group www-data (gid 33), groups 33,4}. */
    public String describe() {
        return "user " + (user == null ? "" : user + " ") + "(uid " + uid + "), group " + (group == null ? "" : group + " ")
                + "(gid " + gid + "), " + (groups.length == 0 ? "no supplementary groups"
                : "groups " + Arrays.stream(groups).mapToObj(Integer::toString).collect(Collectors.joining(",")));
    }

    /** What {@code state} shows of it. */
    public Map<String, Object> state() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("user", user);
        m.put("uid", uid);
        m.put("group", group);
        m.put("gid", gid);
        m.put("groups", Arrays.stream(groups).boxed().toList());
        return m;
    }
}
