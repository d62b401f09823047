#!/usr/bin/env python3
"""Test worker that ignores the sockets it inherited, as a program started through a wrapper
that closes every descriptor above 2 (sudo, su, a service script) does: they are gone, and
after its start-up (STARTUP seconds: loading the application) it binds $PORT on 127.0.0.1
itself — and fails with EADDRINUSE, since the supervisor holds that address.
"""
import os
import socket
import time

os.closerange(3, 1024)
time.sleep(float(os.environ.get("STARTUP", "0.3")))
socket.socket().bind(("127.0.0.1", int(os.environ["PORT"])))
