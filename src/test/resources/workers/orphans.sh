#!/bin/sh
# Test worker that leaves orphans behind, as a shell's background job or a daemonizing
# helper does: $ORPHANS times (default 10) a subshell starts a process in the background and
# exits at once, so that process is re-parented to PID 1 or the nearest child subreaper.
# Each orphan appends its pid (as its pid namespace sees it) to $PROBE_DIR/orphans and exits
# with status 7. Then the worker runs until the graceful signal (USR2, fatal to sleep).
i=0
while [ "$i" -lt "${ORPHANS:-10}" ]; do
    (sh -c 'echo $$ >>"$PROBE_DIR/orphans"; exit 7' &)
    i=$((i + 1))
done
exec sleep 3600
