#!/usr/bin/env python3
"""Example einhorn worker (Python 3 standard library only).

Serves HTTP on the socket it inherits as EINHORN_FD_0, acknowledges readiness on the
control socket (worker:ack, for -m manual), and drains on the graceful signal: it stops
accepting, finishes every in-flight request, and exits 0.

GET /            -> "<version> <pid>\n"   (version read once at start from $VERSION_FILE)
GET /sleep?ms=N  -> the same, after N milliseconds (simulates slow in-flight work)

Environment: VERSION_FILE (optional), GRACEFUL_SIGNAL (default USR2),
EINHORN_ACK=0 to skip the manual ack.
"""
import http.server
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse

PID = os.getpid()
VERSION = "v0"
if os.environ.get("VERSION_FILE"):
    with open(os.environ["VERSION_FILE"]) as f:
        VERSION = f.read().strip()
draining = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5  # idle keep-alive connections close, so draining ends

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/sleep":
            ms = int(urllib.parse.parse_qs(url.query).get("ms", ["100"])[0])
            time.sleep(ms / 1000.0)
        body = f"{VERSION} {PID}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if draining.is_set():
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for in-flight requests
    block_on_close = True


def inherited_socket():
    fd = int(os.environ["EINHORN_FD_0"])
    sock = socket.socket(fileno=fd)
    # Several workers accept from one socket: never block in accept() after a lost race.
    sock.setblocking(False)
    return sock


def ack():
    if os.environ.get("EINHORN_ACK", "1") == "0":
        return
    message = json.dumps({"command": "worker:ack", "pid": PID}) + "\n"
    if os.environ.get("EINHORN_SOCK_FD"):
        conn = socket.socket(fileno=int(os.environ["EINHORN_SOCK_FD"]))
    else:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(os.environ["EINHORN_SOCK_PATH"])
    with conn:
        conn.sendall(message.encode())


def main():
    sock = inherited_socket()
    server = Server(sock.getsockname()[:2] if sock.family != socket.AF_UNIX else ("", 0), Handler,
                    bind_and_activate=False)
    server.socket.close()
    server.socket = sock

    def graceful(signum, frame):
        draining.set()
        threading.Thread(target=server.shutdown).start()

    signal.signal(getattr(signal, "SIG" + os.environ.get("GRACEFUL_SIGNAL", "USR2")), graceful)
    ack()
    print(f"worker {PID} ({VERSION}) serving on fd {sock.fileno()}, index {os.environ.get('EINHORN_CHILD_INDEX')}",
          file=sys.stderr, flush=True)
    server.serve_forever(poll_interval=0.05)
    server.server_close()
    print(f"worker {PID} drained, exiting", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
