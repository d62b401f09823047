#!/usr/bin/env python3
"""Test worker: answers every datagram on each inherited socket (EINHORN_FD_n, UDP or UNIX
datagram) with "<its pid> <the datagram>", to the sender's address.

The sockets are shared by every worker, so it reads without blocking (MSG_DONTWAIT: another
worker may have taken the datagram select announced) and never changes their O_NONBLOCK.
On the graceful signal (USR2, or TERM) it answers what it has read and exits 0: a datagram
still in the socket's queue is another worker's to answer.
"""
import os
import select
import signal
import socket

stopping = False


def stop(*_):
    global stopping
    stopping = True


signal.signal(signal.SIGUSR2, stop)
signal.signal(signal.SIGTERM, stop)
socks = [socket.socket(fileno=int(os.environ["EINHORN_FD_%d" % i])) for i in range(int(os.environ["EINHORN_FD_COUNT"]))]
me = str(os.getpid()).encode()
while not stopping:
    ready, _, _ = select.select(socks, [], [], 0.05)
    for s in ready:
        try:
            data, sender = s.recvfrom(65536, socket.MSG_DONTWAIT)
        except BlockingIOError:
            continue
        if sender:
            s.sendto(me + b" " + data, sender)
