#!/usr/bin/env python3
"""Example einhorn worker (Python 3 standard library only).

Serves HTTP on the socket it inherits as EINHORN_FD_0, acknowledges readiness on the
control socket (worker:ack, for -m manual) or with READY=1 on NOTIFY_SOCKET (-m notify), and drains on the graceful signal: it stops
accepting, finishes every in-flight request, and exits 0.

GET /            -> "<version> <pid>\n"   (version read once at start from $VERSION_FILE)
GET /sleep?ms=N  -> the same, after N milliseconds (simulates slow in-flight work)
GET /hang        -> "hanging <pid>\n", then this worker stops serving for good, as a
                    deadlocked one would (to watch --live-check replace it)

With HEALTH_DIR set, each worker also serves GET /health on a UNIX socket of its own,
$HEALTH_DIR/<pid>.sock, for checks that must reach this very worker (the shared socket
reaches whichever worker accepts first):

  --live-check 'curl -fsS --unix-socket "$HEALTH_DIR/$EINHORN_WORKER_PID.sock" http://worker/health'

Environment: VERSION_FILE (optional), GRACEFUL_SIGNAL (default USR2),
EINHORN_ACK=0 to skip the manual ack, HEALTH_DIR (optional), HEALTH=fail to answer
/health with 503 (a build that serves but fails its check).
"""
import http.server
import json
import os
import signal
import socket
import socketserver
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
hung = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5  # idle keep-alive connections close, so draining ends

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/health":
            healthy = os.environ.get("HEALTH") != "fail"
            return self.answer(200 if healthy else 503, f"{'ok' if healthy else 'unhealthy'} {VERSION} {PID}\n")
        if url.path == "/hang":
            hung.set()
            return self.answer(200, f"hanging {PID}\n")
        if url.path == "/sleep":
            ms = int(urllib.parse.parse_qs(url.query).get("ms", ["100"])[0])
            time.sleep(ms / 1000.0)
        self.answer(200, f"{VERSION} {PID}\n")

    def answer(self, status, text):
        body = text.encode()
        self.send_response(status)
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

    def service_actions(self):
        while hung.is_set():  # a wedged worker: accepts nothing more, ignores the graceful signal
            time.sleep(3600)


class HealthServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True

    def service_actions(self):
        Server.service_actions(self)


def serve_health():
    path = os.path.join(os.environ["HEALTH_DIR"], f"{PID}.sock")
    if os.path.exists(path):
        os.unlink(path)
    server = HealthServer(path, Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return path


def inherited_socket():
    fd = int(os.environ["EINHORN_FD_0"])
    sock = socket.socket(fileno=fd)
    # Several workers accept from one socket: never block in accept() after a lost race.
    sock.setblocking(False)
    return sock


def ack():
    if os.environ.get("EINHORN_ACK", "1") == "0":
        return
    notify = os.environ.get("NOTIFY_SOCKET")
    if notify:  # -m notify: sd_notify's READY=1 on the worker's own socket
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(b"READY=1", "\0" + notify[1:] if notify.startswith("@") else notify)
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

    # The handler only writes a byte to a pipe; a thread started at start-up reads it and drains.
    # A handler runs in the main thread between any two bytecodes, and the main thread starts
    # and reaps a thread per connection: it may be inside threading's own bookkeeping, holding
    # its lock. A thread started from the handler would wait for that lock while the handler
    # waits for the thread (the worker drains for ever, the connection it had just accepted is
    # never answered); even an Event's set takes a lock a second signal could find held.
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)

    def drain():
        os.read(wake_read, 1)
        draining.set()
        server.shutdown()

    threading.Thread(target=drain, daemon=True).start()

    def graceful(signum, frame):
        try:
            os.write(wake_write, b"x")
        except BlockingIOError:
            pass  # the pipe is full of earlier ones: the drain is under way

    signal.signal(getattr(signal, "SIG" + os.environ.get("GRACEFUL_SIGNAL", "USR2")), graceful)
    health = serve_health() if os.environ.get("HEALTH_DIR") else None
    ack()
    print(f"worker {PID} ({VERSION}) serving on fd {sock.fileno()}, index {os.environ.get('EINHORN_CHILD_INDEX')}",
          file=sys.stderr, flush=True)
    server.serve_forever(poll_interval=0.05)
    server.server_close()
    if health:
        os.unlink(health)
    print(f"worker {PID} drained, exiting", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
