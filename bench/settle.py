#!/usr/bin/env python3
"""Does the supervisor give memory back after sustained control traffic? (issue 21)

    bench/settle.py [SECONDS [WATCHERS]]      after `mvn package`

Runs `java -jar target/einhyrningsins.jar` (which starts itself again with the image
launcher's flags), the same with a JVM option of the caller's own (`-Xshare:auto`, the
default: so the JDK's defaults, G1 with a quarter of the machine's memory and C2) and the
image launcher in turn, each with 4 workers
(`sleep 600`, -m 0). For each: its VmRSS idle (15 s after its workers were acked, its
start-up settling done), then SECONDS (default 60) of traffic — smooth upgrades back to back,
each followed by 20 `state` requests, while WATCHERS (default 5) clients follow `watch` —
with the peak RSS sampled every 0.2 s, then the RSS 15 s after the traffic stopped (its
settling runs 10 s after the last burst). Prints idle, peak, after and after - idle in MB,
and the upgrades done. The target: after - idle under 20 MB with both launchers.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 60
WATCHERS = int(sys.argv[2]) if len(sys.argv) > 2 else 5


def java25():
    home = os.environ.get("JAVA_HOME", "")
    for base in [home] + sorted(os.path.join("/usr/lib/jvm", d) for d in os.listdir("/usr/lib/jvm")):
        java = os.path.join(base, "bin", "java")
        if base and os.access(java, os.X_OK):
            v = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
            if '"25' in v or '"26' in v:
                return java
    sys.exit("bench/settle.py: no Java 25 (set JAVA_HOME)")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def request(sock, command, final=True):
    """Sends one command; returns the final reply's message (or the socket, when final is False)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(120)
    s.connect(sock)
    s.sendall(json.dumps({"id": 1, "command": command}).encode() + b"\n")
    if not final:
        return s
    f = s.makefile("rb")
    try:
        while True:
            line = f.readline()
            if not line:
                return None
            reply = json.loads(line)
            if not reply.get("wait"):
                return reply.get("message")
    finally:
        f.close()
        s.close()


def acked(sock, n):
    try:
        state = json.loads(request(sock, "state"))
    except (OSError, ValueError, TypeError):
        return False
    return sum(1 for w in state["workers"] if w.get("acked")) >= n


def run(name, argv, env):
    with tempfile.TemporaryDirectory() as d:
        sock = os.path.join(d, "ctl.sock")
        p = subprocess.Popen(argv + ["-n", "4", "-m", "0", "-d", sock, "--", "sleep", "600"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 60
            while not (os.path.exists(sock) and acked(sock, 4)):
                if time.time() > deadline or p.poll() is not None:
                    sys.exit(f"{name}: no 4 acked workers")
                time.sleep(0.1)
            time.sleep(15)
            idle = rss_kib(p.pid)

            stop = threading.Event()
            peak = [idle]

            def sample():
                while not stop.is_set():
                    peak[0] = max(peak[0], rss_kib(p.pid))
                    time.sleep(0.2)

            def watch():
                s = request(sock, "watch", final=False)
                s.settimeout(1)
                while not stop.is_set():
                    try:
                        if not s.recv(65536):
                            break
                    except socket.timeout:
                        pass
                s.close()

            threads = [threading.Thread(target=sample)] + [threading.Thread(target=watch) for _ in range(WATCHERS)]
            for t in threads:
                t.start()
            upgrades = 0
            end = time.time() + SECONDS
            while time.time() < end:
                if request(sock, "upgrade") != "Upgrade done":
                    sys.exit(f"{name}: an upgrade failed")
                upgrades += 1
                for _ in range(20):
                    request(sock, "state")
            stop.set()
            for t in threads:
                t.join()
            time.sleep(15)
            after = rss_kib(p.pid)
            mb = lambda k: k / 1024
            print(f"{name:18} idle {mb(idle):6.1f} MB  peak {mb(peak[0]):6.1f} MB  after {mb(after):6.1f} MB  "
                  f"after - idle {mb(after - idle):+5.1f} MB  ({upgrades} upgrades, {upgrades * 20} states, "
                  f"{WATCHERS} watchers, {SECONDS:.0f} s)", flush=True)
        finally:
            p.terminate()
            p.wait(60)


def main():
    jar = os.path.join(ROOT, "target", "einhyrningsins.jar")
    launcher = os.path.join(ROOT, "target", "image", "bin", "einhyrningsins")
    env = dict(os.environ)
    run("java -jar", [java25(), "-jar", jar], env)
    # any JVM option of the caller's own (-Xshare:auto is the default) keeps the JDK's defaults
    run("jar, JDK defaults", [java25(), "-Xshare:auto", "-jar", jar], env)
    if os.access(launcher, os.X_OK):
        run("image", [launcher], env)


if __name__ == "__main__":
    main()
