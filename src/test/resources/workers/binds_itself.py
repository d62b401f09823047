#!/usr/bin/env python3
"""Test worker that ignores the sockets it inherited, as a program started through a wrapper
that closes every descriptor above 2 (sudo, su, a service script) does: they are gone, and
after its start-up (STARTUP seconds: loading the application) it binds the port it was
configured with on 127.0.0.1 itself — and fails with EADDRINUSE, since the supervisor holds
that address. Its "configuration" is the port of EINHORN_FD_0, read before the wrapper's close.
"""
import os
import socket
import time

inherited = socket.socket(fileno=int(os.environ["EINHORN_FD_0"]))
port = inherited.getsockname()[1]
inherited.detach()  # the descriptor is the wrapper's to close
os.closerange(3, 1024)
time.sleep(float(os.environ.get("STARTUP", "0.3")))
socket.socket().bind(("127.0.0.1", port))
