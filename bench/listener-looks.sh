#!/bin/sh
# What looking at whether 1000 workers use their sockets costs (bench/ListenerLooksBench.java).
#   bench/listener-looks.sh [RUNS]   (after `mvn package`; RUNS defaults to 3)
set -eu
cd "$(dirname "$0")/.."
JAVA="${JAVA_HOME:-$(ls -d /usr/lib/jvm/*25* 2>/dev/null | head -1)}/bin/java"
if [ ! -x target/image/bin/einhyrningsins ]; then
    echo "bench/listener-looks.sh: run 'mvn package' first" >&2
    exit 1
fi
exec "$JAVA" bench/ListenerLooksBench.java "$@"
