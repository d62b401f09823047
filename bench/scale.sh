#!/bin/sh
# Scale benchmark: 1000 workers through the image launcher and java -jar (bench/ScaleBench.java).
#   bench/scale.sh [RUNS]   (after `mvn package`; RUNS defaults to 3)
set -eu
cd "$(dirname "$0")/.."
JAVA="${JAVA_HOME:-$(ls -d /usr/lib/jvm/*25* 2>/dev/null | head -1)}/bin/java"
if [ ! -f target/einhyrningsins.jar ] || [ ! -x target/image/bin/einhyrningsins ]; then
    echo "bench/scale.sh: run 'mvn package' first" >&2
    exit 1
fi
exec "$JAVA" bench/ScaleBench.java "$@"
