#!/bin/bash
# Observability benchmark (issue 15), on the jlink image launcher (after `mvn package`):
#
#   bench/observe.sh [WORKERS] [ROUNDS]      (defaults 200 and 2)
#
# Starts a supervisor with WORKERS idle workers (sleep, -m 0) twice, without and with
# --metrics, and prints for each: supervisor threads and RSS when idle; then, with
# --metrics: the size of the metrics text, the median round trip of the `metrics` control
# command (socat) and of an HTTP scrape (curl), over 20 requests each. Then it times
# smooth upgrades of all WORKERS (ctl -e upgrade, wall time) with no watcher, with a
# watcher that reads everything, and with one that never reads (it is dropped), ROUNDS
# times, alternating, and prints each time and the supervisor CPU it took.
set -eu

workers=${1:-200}
rounds=${2:-2}
root=$(cd -P -- "$(dirname -- "$0")/.." && pwd -P)
image=$root/target/image
[ -x "$image/bin/einhyrningsins" ] || { echo "observe.sh: build first: mvn package" >&2; exit 1; }
for tool in socat curl python3; do
    command -v $tool >/dev/null || { echo "observe.sh: needs $tool" >&2; exit 1; }
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/einhyrningsins-observe.XXXXXX")
pid=
cleanup() {
    [ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || true
    [ -z "$pid" ] || wait "$pid" 2>/dev/null || true
    jobs -p | xargs -r kill 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT
sock=$dir/ctl.sock
ctl() { "$image/bin/einhyrningsinsctl" -d "$sock" "$@"; }
now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

start() { # start [EXTRA OPTIONS...]
    rm -f "$sock"
    "$image/bin/einhyrningsins" -q -n "$workers" -m 0 -d "$sock" "$@" -- sleep 600 2>"$dir/log" &
    pid=$!
    until [ -S "$sock" ]; do sleep 0.05; done
    until [ "$(ctl --json -e state | python3 -c 'import json,sys; s=json.load(sys.stdin); print(sum(1 for w in s["workers"] if w["acked"]))')" -ge "$workers" ]; do
        sleep 0.2
    done
}
stop() {
    kill -TERM "$pid"
    wait "$pid" || true
    pid=
}
idle() {
    sleep 1
    printf '  threads %s, RSS %s MB\n' "$(awk '/^Threads/ {print $2}' /proc/$pid/status)" \
        "$(awk '/^VmRSS/ {printf "%.1f", $2/1024}' /proc/$pid/status)"
}

echo "== $workers workers, idle, without --metrics"
start
idle
stop

echo "== $workers workers, idle, with --metrics 0"
start --metrics 0
idle
url=$(ctl --json -e state | python3 -c 'import json,sys; print(json.load(sys.stdin)["metrics"])')
printf '  metrics text: %s bytes\n' "$(curl -s "$url" | wc -c)"
for i in $(seq 20); do
    t0=$(now_ns); printf '{"command":"metrics"}\n' | socat -t 5 - UNIX-CONNECT:"$sock" >/dev/null; t1=$(now_ns)
    echo $(( (t1 - t0) / 1000 ))
done | median | awk '{printf "  metrics command round trip (socat): median %.2f ms\n", $1/1000}'
for i in $(seq 20); do
    curl -s -o /dev/null -w '%{time_total}\n' "$url"
done | median | awk '{printf "  HTTP scrape (curl): median %.2f ms\n", $1*1000}'

echo "== smooth upgrade of $workers workers: no watcher / reading watcher / stalled watcher"
stalled() { # connects, asks to watch, never reads
    python3 -c 'import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"{\"command\":\"watch\"}\n"); time.sleep(600)' "$sock" &
}
for round in $(seq "$rounds"); do
    for mode in none reading stalled; do
        watcher=
        case $mode in
            reading) ctl -e watch >/dev/null 2>&1 & watcher=$! ;;
            stalled) stalled; watcher=$! ;;
        esac
        sleep 0.5
        c0=$(cpu_ticks "$pid"); t0=$(now_ns)
        ctl -e upgrade >/dev/null
        t1=$(now_ns); c1=$(cpu_ticks "$pid")
        printf '  round %s, %-8s upgrade %5d ms, supervisor CPU %4d ms\n' "$round" "$mode" $(( (t1 - t0) / 1000000 )) \
            $(( (c1 - c0) * 1000 / $(getconf CLK_TCK) ))
        [ -z "$watcher" ] || { kill "$watcher" 2>/dev/null || true; wait "$watcher" 2>/dev/null || true; }
    done
done
grep -h "not reading" "$dir/log" | head -1 | sed 's/^/  log: /' || true
stop
