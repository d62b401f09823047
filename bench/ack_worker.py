#!/usr/bin/env python3
"""Benchmark worker: acks as soon as it starts, exits at once on the graceful signal."""
import json, os, signal, socket, sys
signal.signal(signal.SIGUSR2, lambda *a: sys.exit(0))
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect(os.environ["EINHORN_SOCK_PATH"])
c.sendall((json.dumps({"command": "worker:ack", "pid": os.getpid()}) + "\n").encode())
c.close()
while True:
    signal.pause()
