#!/bin/sh
# Start-up benchmark: plain `java -jar` against the jlink image launcher.
#
#   bench/startup.sh [RUNS]        (after `mvn package`; RUNS defaults to 20)
#
# For each variant it prints
#   --version   median wall time of `--version` (hyperfine when installed, else a
#               date +%s%N loop), over RUNS runs after 3 warm-ups;
#   1st worker  median time from launching the supervisor until its first worker runs
#               (the worker, a sh script, writes date +%s%N as its first act), over
#               RUNS/2 runs;
#   peak RSS    VmHWM of the supervisor with 4 idle workers (sleep), after they are up
#               and 10 `state` queries have been answered; median of 3 runs.
# Goals (issue 5): image --version <= 80 ms, supervisor RSS <= 48 MB.
#
# Environment: JAVA = the java for the `java -jar` variant (default $JAVA_HOME/bin/java,
# else java on PATH if it is 22+). Timings depend on the machine; run it on a quiet one.
set -eu

runs=${1:-20}
root=$(cd -P -- "$(dirname -- "$0")/.." && pwd -P)
jar=$root/target/einhyrningsins.jar
image=$root/target/image
if [ ! -f "$jar" ] || [ ! -x "$image/bin/einhyrningsins" ]; then
    echo "startup.sh: build first: mvn package (needs $jar and $image)" >&2
    exit 1
fi

java_major() { "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p'; }
java=${JAVA:-}
if [ -z "$java" ] && [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then java=$JAVA_HOME/bin/java; fi
if [ -z "$java" ] && command -v java >/dev/null 2>&1; then java=$(command -v java); fi
if [ -z "$java" ] || [ "$(java_major "$java")" -lt 22 ] 2>/dev/null; then
    for j in /usr/lib/jvm/*/bin/java; do
        if [ -x "$j" ] && [ "$(java_major "$j")" -ge 25 ] 2>/dev/null; then java=$j; break; fi
    done
fi
if [ -z "$java" ] || [ "$(java_major "$java")" -lt 22 ]; then
    echo "startup.sh: need a JDK 22+ for the java -jar variant: set JAVA=/path/to/bin/java" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/einhyrningsins-bench.XXXXXX")
sup=
cleanup() {
    if [ -n "$sup" ] && kill -0 "$sup" 2>/dev/null; then
        kids=$(cat /proc/"$sup"/task/*/children 2>/dev/null || true)
        kill -KILL "$sup" 2>/dev/null || true
        # shellcheck disable=SC2086
        [ -z "$kids" ] || kill -KILL $kids 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

cat >"$work/worker" <<'EOF'
#!/bin/sh
date +%s%N >"$MARKER_DIR/.w$$" && mv "$MARKER_DIR/.w$$" "$MARKER_DIR/w$$"
exec sleep 600
EOF
chmod +x "$work/worker"

ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# Each measurement leaves its figure in $result; processes are started from this shell
# (never from a $(...) subshell) so the EXIT trap can always clean up.

# version_ms CMD...: median wall time of CMD --version in ms
version_ms() {
    if command -v hyperfine >/dev/null 2>&1; then
        hyperfine -N --style none --warmup 3 --runs "$runs" --export-json "$work/h.json" \
            "$(printf '%s ' "$@")--version" >/dev/null
        result=$(sed -n 's/.*"median": *\([0-9.e+-]*\).*/\1/p' "$work/h.json" | head -n 1 | awk '{printf "%.1f", $1 * 1000}')
    else
        for _ in 1 2 3; do "$@" --version >/dev/null; done
        : >"$work/samples"
        i=0
        while [ "$i" -lt "$runs" ]; do
            t0=$(ns); "$@" --version >/dev/null; t1=$(ns)
            echo $(((t1 - t0) / 1000)) >>"$work/samples"
            i=$((i + 1))
        done
        result=$(median <"$work/samples" | awk '{printf "%.1f", $1 / 1000}')
    fi
}

# start_supervisor N CMD...: starts a supervisor with N workers in the background ($sup)
start_supervisor() {
    n=$1; shift
    rm -rf "$work/run"; mkdir "$work/run"
    t_start=$(ns)
    MARKER_DIR=$work/run "$@" -n "$n" -b 127.0.0.1:0 -m 0.1 -d "$work/run/ctl.sock" \
        -- "$work/worker" 2>"$work/run/log" &
    sup=$!
}

# wait_workers N: until N workers have written their markers (deadline 30 s)
wait_workers() {
    deadline=$(($(ns) + 30000000000))
    while [ "$(find "$work/run" -name 'w*' | wc -l)" -lt "$1" ]; do
        if ! kill -0 "$sup" 2>/dev/null || [ "$(ns)" -gt "$deadline" ]; then
            echo "startup.sh: supervisor did not start $1 workers; its log:" >&2
            cat "$work/run/log" >&2
            exit 1
        fi
        sleep 0.005
    done
}

stop_supervisor() {
    kill -TERM "$sup"
    status=0
    wait "$sup" || status=$?
    sup=
    if [ "$status" -ne 0 ]; then
        echo "startup.sh: supervisor exited $status after TERM; its log:" >&2
        cat "$work/run/log" >&2
        exit 1
    fi
}

# first_worker_ms CMD...: median ms from launch to the first worker's first instruction
first_worker_ms() {
    : >"$work/samples"
    i=0
    while [ "$i" -lt "$spawn_runs" ]; do
        start_supervisor 1 "$@"
        wait_workers 1
        t1=$(cat "$work"/run/w*)
        stop_supervisor
        echo $(((t1 - t_start) / 1000)) >>"$work/samples"
        i=$((i + 1))
    done
    result=$(median <"$work/samples" | awk '{printf "%.1f", $1 / 1000}')
}

# peak_rss_mb CTL_CMD... -- CMD...: median VmHWM (MB) with 4 idle workers after 10 state queries
peak_rss_mb() {
    ctl=
    while [ "$1" != "--" ]; do ctl="$ctl $1"; shift; done
    shift
    : >"$work/samples"
    for _ in 1 2 3; do
        start_supervisor 4 "$@"
        wait_workers 4
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            # shellcheck disable=SC2086
            $ctl -d "$work/run/ctl.sock" -e state >/dev/null
        done
        awk '/^VmHWM:/ {print $2}' /proc/"$sup"/status >>"$work/samples"
        stop_supervisor
    done
    result=$(median <"$work/samples" | awk '{printf "%.1f", $1 / 1024}')
}

spawn_runs=$((runs / 2)); [ "$spawn_runs" -ge 3 ] || spawn_runs=3
echo "einhyrningsins start-up, $(nproc) CPUs, $(uname -sr); java -jar uses $java"
echo "(--version: median of $runs; 1st worker: median of $spawn_runs; peak RSS: VmHWM, median of 3)"
printf '%-16s %14s %16s %22s\n' variant "--version ms" "1st worker ms" "peak RSS MB (4 idle)"

row() {
    label=$1; shift
    ctl_cmd=
    while [ "$1" != "--" ]; do ctl_cmd="$ctl_cmd $1"; shift; done
    shift
    version_ms "$@"; v=$result
    first_worker_ms "$@"; f=$result
    # shellcheck disable=SC2086
    peak_rss_mb $ctl_cmd -- "$@"; r=$result
    printf '%-16s %14s %16s %22s\n' "$label" "$v" "$f" "$r"
}

row "java -jar" "$java" -jar "$jar" ctl -- "$java" -jar "$jar"
row "image launcher" "$image/bin/einhyrningsinsctl" -- "$image/bin/einhyrningsins"
