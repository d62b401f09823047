#!/usr/bin/env python3
"""PID 1 and -k figures for a real supervisor (the built jar under JDK 25). Run as root:

    bench/pid1.py [RUNS]        (after `mvn package`; RUNS defaults to 3)

1. Orphan reaping as PID 1 (unshare --pid --fork --mount-proc): two workers each leave an
   orphan behind every 100 ms; each orphan records its pid and the time just before it
   exits, the supervisor (-v) logs "Reaped orphan PID". Latency = log line read - exit.
2. Idle cost: context switches of the supervisor's loop thread and CPU time of the whole
   JVM over 5 s with nothing happening, as PID 1 (SIGCHLD handled) and as a plain process.
3. -k spawn cost: exec -> 300 workers launched (-m 0, sleep 600), with and without -k
   (every worker through setpriv --pdeathsig), alternating, RUNS times each.
"""
import glob
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JAR = os.path.join(ROOT, "target", "einhyrningsins.jar")
JAVA = sorted(glob.glob("/usr/lib/jvm/*25*/bin/java"))[0]
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3


def supervisor(prefix, args, tmp, env_extra=None):
    env = dict(os.environ, TMPDIR=tmp, PROBE_DIR=tmp, **(env_extra or {}))
    cmd = prefix + [JAVA, "-jar", JAR, "-d", os.path.join(tmp, "ctl.sock")] + args
    return subprocess.Popen(cmd, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, text=True)


def jvm_pid(p, pid1):
    if not pid1:
        return p.pid
    deadline = time.time() + 30
    while time.time() < deadline:
        for f in glob.glob(f"/proc/{p.pid}/task/*/children"):
            kids = open(f).read().split()
            if kids:
                return int(kids[0])
        time.sleep(0.01)
    raise SystemExit("no child of unshare")


def stop(p, pid):
    os.kill(pid, signal.SIGTERM)
    p.wait(timeout=60)


def orphan_latency():
    tmp = tempfile.mkdtemp(prefix="bench-pid1-")
    worker = os.path.join(tmp, "worker.sh")
    with open(worker, "w") as f:
        f.write("#!/bin/sh\nwhile :; do\n"
                "  (sh -c 'echo $$ $(date +%s%N) >>\"$PROBE_DIR/exits\"' &)\n"
                "  sleep 0.1\ndone\n")
    os.chmod(worker, 0o755)
    p = supervisor(["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"], ["-v", "-n", "2", "-m", "0", worker], tmp)
    reaped = {}

    def pump():
        for line in p.stderr:
            m = re.search(r"Reaped orphan (\d+)", line)
            if m:
                reaped[int(m.group(1))] = time.time_ns()

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    pid = jvm_pid(p, True)
    time.sleep(6)  # let ~100 orphans come and go (a benchmark, not a test)
    stop(p, pid)
    t.join(5)
    lat = []
    for line in open(os.path.join(tmp, "exits")):
        opid, at = line.split()
        if int(opid) in reaped:
            lat.append((reaped[int(opid)] - int(at)) / 1e6)
    return lat


def idle(pid1):
    tmp = tempfile.mkdtemp(prefix="bench-idle-")
    prefix = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"] if pid1 else []
    p = supervisor(prefix, ["-q", "-n", "2", "-m", "0", "sleep", "600"], tmp)
    pid = jvm_pid(p, pid1)
    sock = os.path.join(tmp, "ctl.sock")
    while not os.path.exists(sock):
        time.sleep(0.05)
    time.sleep(2)  # settle after start-up (JIT, the first acks)
    # the loop thread: the Java main thread (the launcher's second thread), waiting in poll(2)
    main = None
    for task in glob.glob(f"/proc/{pid}/task/*"):
        if open(task + "/syscall").read().split()[0] == "7":  # poll, x86_64
            main = task
    if main is None:
        stop(p, pid)
        raise SystemExit("bench/pid1.py: no thread of the supervisor waits in poll(2)")

    def switches():
        s = open(main + "/status").read()
        return sum(int(x) for x in re.findall(r"ctxt_switches:\s+(\d+)", s))

    def cpu():
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) * 1000 / os.sysconf("SC_CLK_TCK")

    s0, c0 = switches(), cpu()
    time.sleep(5)
    s1, c1 = switches(), cpu()
    stop(p, pid)
    return s1 - s0, c1 - c0


def spawn_time(k, n=300):
    tmp = tempfile.mkdtemp(prefix="bench-k-")
    args = ["-n", str(n), "-m", "0"] + (["-k"] if k else []) + ["sleep", "600"]
    start = time.time()
    p = supervisor([], args, tmp)
    launched = 0
    first = None
    for line in p.stderr:
        if "===> Launched" in line:
            launched += 1
            first = first or time.time()
            if launched == n:
                break
    done = time.time()
    stop(p, p.pid)
    return (done - start) * 1000, (done - first) * 1000


def main():
    if os.geteuid() != 0:
        raise SystemExit("bench/pid1.py: run as root (pid namespaces)")
    if not os.path.exists(JAR):
        raise SystemExit("bench/pid1.py: run 'mvn package' first")
    lat = orphan_latency()
    print(f"orphan reaped after exit, PID 1: n={len(lat)} median {statistics.median(lat):.2f} ms, "
          f"p90 {sorted(lat)[int(len(lat) * 0.9)]:.2f} ms, max {max(lat):.2f} ms")
    for pid1 in (False, True, False, True):
        sw, cpu = idle(pid1)
        print(f"idle 5 s, {'PID 1    ' if pid1 else 'not PID 1'}: loop thread {sw} context switches, JVM CPU {cpu:.0f} ms")
    with_k, without = [], []
    for _ in range(RUNS):
        without.append(spawn_time(False))
        with_k.append(spawn_time(True))
    for name, xs in (("without -k", without), ("with -k   ", with_k)):
        print(f"300 workers {name}: exec -> all launched {statistics.median(x[0] for x in xs):.0f} ms, "
              f"first -> last launch {statistics.median(x[1] for x in xs):.0f} ms (medians of {RUNS})")


main()
