#!/bin/sh
# Footprint and start-up against einhorn (issue 10), measured in one run, alternating.
#
#   EINHORN=/path/to/einhorn/checkout bench/footprint.sh [ROUNDS [IDLE_SECONDS]]
#
# After `mvn package`. ROUNDS (default 5) rounds, each running every variant once in turn
# (the order rotates from round to round): the image launcher, `java -jar`, and einhorn
# when EINHORN points at a checkout of it (run with ruby and RUBYLIB=$EINHORN/lib, fetched
# by whoever runs the bench, never committed; the column is skipped when EINHORN is not
# set). All run the same workers on a free 127.0.0.1 port, with their default -m (1 s).
# Each round of each variant:
#   exec → first worker   from the exec of the supervisor (sh writes date +%s%N, then execs
#                         it) until its first worker, a sh script, has written date +%s%N;
#   exec → first HTTP 200 the same with examples/http_worker.py (Python 3) until a GET /
#                         (retried while the port is not bound yet) is answered 200;
#   ctl -e state          wall time of `einhyrningsinsctl -e state` (`java -jar … ctl`,
#                         einhornsh) against a supervisor with 4 idle workers, 5 times
#                         after one that is not counted;
#   RSS, 4 workers        VmRSS of that supervisor, idle (15 s after its workers started:
#                         all acked, einhyrningsins' settling 10 s after that done);
#   garbage growth        its VmRSS after 2,000 lines of printable garbage over 8
#                         connections (every reply read), minus the RSS before.
# Then all variants at once with 64 idle workers (sleep 600), 15 s after they started:
# VmRSS, threads, and context switches of all their threads (wake-ups) over IDLE_SECONDS
# (default 30). Prints a Markdown table of medians with the ratios to einhorn, then the
# wake-ups by thread.
#
# Environment: JAVA = the java for `java -jar` (default: $JAVA_HOME/bin/java if it is 25+,
# else the first Java 25+ under /usr/lib/jvm). Timings vary with the machine's load: the
# ratios, taken in the same run, are the figures to compare.
set -eu
root=$(cd -P -- "$(dirname -- "$0")/.." && pwd -P)
if [ ! -f "$root/target/einhyrningsins.jar" ] || [ ! -x "$root/target/image/bin/einhyrningsins" ]; then
    echo "footprint.sh: build first: mvn package (needs target/einhyrningsins.jar and target/image)" >&2
    exit 1
fi
java_major() { "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'; }
java=${JAVA:-}
if [ -z "$java" ] && [ -n "${JAVA_HOME:-}" ] && [ "$(java_major "$JAVA_HOME/bin/java" 2>/dev/null)" -ge 25 ] 2>/dev/null; then
    java=$JAVA_HOME/bin/java
fi
if [ -z "$java" ]; then
    for j in /usr/lib/jvm/*/bin/java; do
        if [ -x "$j" ] && [ "$(java_major "$j")" -ge 25 ] 2>/dev/null; then java=$j; break; fi
    done
fi
if [ -z "$java" ]; then
    echo "footprint.sh: need a Java 25+ for the java -jar variant: set JAVA=/path/to/bin/java" >&2
    exit 1
fi
if [ -n "${EINHORN:-}" ] && [ ! -f "$EINHORN/bin/einhorn" ]; then
    echo "footprint.sh: EINHORN=$EINHORN is not an einhorn checkout (no bin/einhorn)" >&2
    exit 1
fi
exec "$java" -Dbench.root="$root" -Dbench.java="$java" "$root/bench/FootprintBench.java" "$@"
