#!/bin/sh
# Reload benchmark: the supervisor replacing itself, image launcher and java -jar, and einhorn's own
# reload in the same run when EINHORN names a checkout of it (bench/ReloadBench.java).
#   [EINHORN=/path/to/einhorn] bench/reload.sh [RUNS]   (after `mvn package`; RUNS defaults to 5)
set -eu
cd "$(dirname "$0")/.."
JAVA="${JAVA_HOME:-$(ls -d /usr/lib/jvm/*25* 2>/dev/null | head -1)}/bin/java"
if [ ! -f target/einhyrningsins.jar ] || [ ! -x target/image/bin/einhyrningsins ]; then
    echo "bench/reload.sh: run 'mvn package' first" >&2
    exit 1
fi
exec "$JAVA" bench/ReloadBench.java "$@"
