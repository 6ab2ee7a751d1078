"""A merchant's callback endpoint, on loopback, for the tests and the bench.

It records every request (headers, body, time) and answers by its mode:
  ok     200 at once
  error  500
  hang   never answers (holds the connection until the receiver stops)
  close  closes the connection without an answer
  slow   500 after receiver.slow_delay seconds (a try in flight for a while)
  "204", "302", … (any three digits) that status, with an empty body
Modes can be set for the whole receiver or per path (receiver.modes[path]);
a list of modes is used one request at a time (the last one then stays).
receiver.connections counts the TCP connections accepted, whether or not a
request came on them (so a test can tell that nothing reached it at all).

verify() checks a Standard Webhooks signature (https://www.standardwebhooks.com)
independently of chatpay's implementation.

Run alone (the bench): python3 callback_receiver.py [--port N] [--mode ok|hang]
prints "listening on http://127.0.0.1:PORT" and serves until SIGTERM.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Delivery:
    def __init__(self, path: str, headers: dict[str, str], body: bytes, at: float):
        self.path = path
        self.headers = headers  # lower-case names
        self.body = body
        self.at = at

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    def __repr__(self) -> str:
        return f"Delivery({self.path} {self.webhook_id} {self.body[:80]!r})"


def sign(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    assert secret.startswith("whsec_"), secret
    key = base64.b64decode(secret[len("whsec_"):])
    mac = hmac.new(key, msg_id.encode() + b"." + timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def verify(secrets: list[str] | str, d: Delivery, tolerance: float = 300) -> list[str]:
    """The secrets (of those given) whose signature the delivery carries;
    raises AssertionError when the headers are missing or malformed, or the
    timestamp is not within `tolerance` seconds of now."""
    if isinstance(secrets, str):
        secrets = [secrets]
    msg_id = d.headers.get("webhook-id")
    ts = d.headers.get("webhook-timestamp")
    sig = d.headers.get("webhook-signature")
    assert msg_id and ts and sig, f"Standard Webhooks headers missing: {d.headers}"
    assert ts.isdigit(), ts
    assert abs(time.time() - int(ts)) <= tolerance, f"timestamp {ts} is not now"
    entries = sig.split(" ")
    for e in entries:
        assert e.startswith("v1,") and len(e) == 47, f"malformed signature entry {e!r}"
    return [s for s in secrets if sign(s, msg_id, ts, d.body) in entries]


class CallbackReceiver:
    def __init__(self, mode: str = "ok"):
        self.mode = mode
        self.slow_delay = 2.0  # seconds, mode "slow"
        self.modes: dict[str, list[str] | str] = {}
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                mode = receiver._next_mode(self.path)
                with receiver.lock:
                    receiver.deliveries.append(Delivery(self.path, headers, body, time.time()))
                if mode == "hang":
                    receiver.stopping.wait(120)
                    self.close_connection = True
                    return
                if mode == "slow":  # answered 500 after slow_delay seconds
                    time.sleep(receiver.slow_delay)
                    mode = "500"
                if mode == "close":
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if mode.isdigit() and len(mode) == 3:
                    self.send_response(int(mode))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 200 if mode == "ok" else 500
                out = b'{"received":true}' if status == 200 else b'{"error":"try later"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.connections = 0  # TCP connections accepted (requests or not)

        class Server(ThreadingHTTPServer):
            def verify_request(self, request, client_address):
                with receiver.lock:
                    receiver.connections += 1
                return True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _next_mode(self, path: str) -> str:
        with self.lock:
            m = self.modes.get(path, self.mode)
            if isinstance(m, list):
                if len(m) > 1:
                    return m.pop(0)
                return m[0]
            return m

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "CallbackReceiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()

    def received(self, path: str | None = None) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if path is None or d.path == path]

    def wait_for(self, predicate, timeout: float = 10.0, what: str = "a callback") -> list[Delivery]:
        """Wait until predicate(deliveries) is true; return the deliveries."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.received()
            if predicate(got):
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; received: {got}")
            time.sleep(0.05)


if __name__ == "__main__":
    import argparse
    import signal

    p = argparse.ArgumentParser()
    p.add_argument("--mode", default="ok", choices=["ok", "error", "hang", "close"])
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args()
    r = CallbackReceiver(args.mode)
    if args.port:
        r.server.server_close()
        r.server = type(r.server)(("127.0.0.1", args.port), r.server.RequestHandlerClass)
        r.server.daemon_threads = True
        r.port = args.port
        r.thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    r.start()
    print(f"listening on {r.url}", flush=True)
    # the handler only sets a flag: an Event set from a signal handler can
    # deadlock with the main thread's own wait on it (both take its lock)
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    while not stop:
        time.sleep(0.1)
    r.stop()
