#!/usr/bin/env python3
"""Test worker: reports what it inherited to $PROBE_DIR/<pid>.json, then waits.

The report: pid, ppid, pgid, environment, open fds (and what the sockets are), blocked and
ignored signals, the parent-death signal (prctl PR_GET_PDEATHSIG) and the command line.

On the graceful signal it writes $PROBE_DIR/<pid>.graceful and exits 0, unless
IGNORE_GRACEFUL=1 (then it keeps running, for SIGKILL tests). ACK=1 sends worker:ack.
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


def on_graceful(signum, frame):
    open(os.path.join(OUT, f"{PID}.graceful"), "w").close()
    if os.environ.get("IGNORE_GRACEFUL") != "1":
        sys.exit(0)


signal.signal(getattr(signal, "SIG" + os.environ.get("GRACEFUL_SIGNAL", "USR2")), on_graceful)
fds = sorted(int(x) for x in os.listdir("/proc/self/fd"))
with open("/proc/self/cmdline", "rb") as f:
    cmdline = [a.decode() for a in f.read().split(b"\0")[:-1]]
report = {
    "pid": PID,
    "ppid": os.getppid(),
    "pgid": os.getpgid(0),
    "env": dict(os.environ),
    "fds": fds,
    "fd_info": {str(fd): fd_info(fd) for fd in fds if fd > 2},
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
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(os.environ["EINHORN_SOCK_PATH"])
    c.sendall((json.dumps({"command": "worker:ack", "pid": PID}) + "\n").encode())
    c.close()
exit_code = os.environ.get("EXIT_CODE")
if exit_code is not None:
    sys.exit(int(exit_code))
while True:
    signal.pause()
