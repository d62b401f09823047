#!/usr/bin/env python3
"""Test worker: reports what it inherited to $PROBE_DIR/<pid>.json, then waits.

The report: pid, ppid, pgid, environment, open fds (what each links to; what the sockets
above 2 and on standard input are), blocked and ignored signals, the parent-death signal
(prctl PR_GET_PDEATHSIG) and the command line.

On the graceful signal it writes $PROBE_DIR/<pid>.graceful and exits 0, unless
IGNORE_GRACEFUL=1 (then it keeps running, for SIGKILL tests). ACK=1 sends worker:ack.
PING_EVERY=SECONDS sends worker:ping that often until SIGUSR1. GROW_MB=N: on SIGUSR1 it
starts a child process that holds N MiB (its process tree grows; the child goes with it).
"""
import json
import os
import signal
import socket
import sys
import time

PID = os.getpid()
OUT = os.environ["PROBE_DIR"]


def status_field(name):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split()[1]


def pdeathsig():
    """prctl(PR_GET_PDEATHSIG): the signal this process gets when its parent dies (0: none)."""
    import ctypes
    value = ctypes.c_int()
    if ctypes.CDLL(None, use_errno=True).prctl(2, ctypes.byref(value), 0, 0, 0) != 0:
        return -ctypes.get_errno()
    return value.value


def fd_info(fd):
    try:
        s = socket.socket(fileno=os.dup(fd))
        try:
            listening = s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
            name = s.getsockname()
            return {"family": int(s.family), "listening": listening, "address": list(name) if isinstance(name, tuple) else name}
        finally:
            s.close()
    except OSError as e:
        return {"error": str(e)}


def link(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError as e:
        return str(e)


grower = None
pinging = os.environ.get("PING_EVERY") is not None


def on_usr1(signum, frame):
    global grower, pinging
    pinging = False
    if os.environ.get("GROW_MB") and grower is None:
        import subprocess  # here, not at the top: workers reach their signal handlers as fast as before
        grower = subprocess.Popen([sys.executable, "-c", "import signal; b = b'x' * (int("
                                   + os.environ["GROW_MB"] + ") << 20); signal.pause()"])


def send(message):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(os.environ["EINHORN_SOCK_PATH"])
    c.sendall((json.dumps(message) + "\n").encode())
    c.close()


def on_graceful(signum, frame):
    if grower is not None:
        grower.kill()
        grower.wait()
    open(os.path.join(OUT, f"{PID}.graceful"), "w").close()
    if os.environ.get("IGNORE_GRACEFUL") != "1":
        sys.exit(0)


signal.signal(getattr(signal, "SIG" + os.environ.get("GRACEFUL_SIGNAL", "USR2")), on_graceful)
signal.signal(signal.SIGUSR1, on_usr1)
fds = sorted(int(x) for x in os.listdir("/proc/self/fd"))
with open("/proc/self/cmdline", "rb") as f:
    cmdline = [a.decode() for a in f.read().split(b"\0")[:-1]]
report = {
    "pid": PID,
    "ppid": os.getppid(),
    "pgid": os.getpgid(0),
    "env": dict(os.environ),
    "fds": fds,
    "fd_info": {str(fd): fd_info(fd) for fd in fds if fd > 2 or fd == 0},
    "fd_links": {str(fd): link(fd) for fd in fds},
    "sigblk": status_field("SigBlk"),
    "sigign": status_field("SigIgn"),
    "pdeathsig": pdeathsig(),
    "cmdline": cmdline,
}
tmp = os.path.join(OUT, f".{PID}.tmp")
with open(tmp, "w") as f:
    json.dump(report, f)
os.rename(tmp, os.path.join(OUT, f"{PID}.json"))
if os.environ.get("ACK") == "1":
    send({"command": "worker:ack", "pid": PID})
exit_code = os.environ.get("EXIT_CODE")
if exit_code is not None:
    sys.exit(int(exit_code))
pings = 0
while pinging:
    pings += 1
    send({"command": "worker:ping", "pid": PID, "request_id": pings})
    time.sleep(float(os.environ["PING_EVERY"]))
while True:
    signal.pause()
