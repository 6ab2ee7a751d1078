"""Small HTTP helpers shared by the fakes' own tests (test_fakes.py,
test_stripe_fake.py, test_cybersource_fake.py): a plain client call, a JSON
call, a loopback recording server, a URL that nothing listens on and a fake
run as its own process.

Written with the standard library only, independently of the fakes.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def call(method, url, body=b"", headers=None, timeout=5.0):
    """(status, headers with lower-case names, body bytes); raises on network errors/timeouts."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        target = u.path + (f"?{u.query}" if u.query else "")
        conn.request(method, target, body=body or None, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def jcall(method, url, obj=None, headers=None, timeout=5.0, raw=None):
    """call() with a JSON body: obj encoded, or raw bytes as they are."""
    h = {"Content-Type": "application/json", **(headers or {})}
    body = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
    return call(method, url, body, h, timeout)


class TinyServer:
    """A loopback server whose answer is computed by fn(handler, body) ->
    (status, headers, body) (by default 200 "ok"); records one entry a request
    in `got` (record(): (method, path, headers, body)) and wakes wait()."""

    methods = ("GET", "POST")  # the HTTP methods answered; others get 501

    def __init__(self, fn=lambda h, b: (200, {}, b"ok")):
        self.got = []
        self.cond = threading.Condition()
        srv = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with srv.cond:
                    srv.got.append(srv.record(self, body))
                    srv.cond.notify_all()
                st, hd, out = fn(self, body)
                self.send_response(st)
                for k, v in hd.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        for m in self.methods:
            setattr(H, "do_" + m, H._any)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def record(self, handler, body):
        """The entry kept in `got` for one request."""
        return (handler.command, handler.path, {k.lower(): v for k, v in handler.headers.items()}, body)

    def forms(self, path=None):
        """The form-encoded bodies received (on `path` only, if given), as dicts."""
        return [dict(urllib.parse.parse_qsl(b.decode(), keep_blank_values=True))
                for _, p, _, b in list(self.got) if path is None or p == path]

    def wait(self, n, timeout=5.0):
        """Block until `n` requests have been received; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.got) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {n} requests; got {len(self.got)}")
                self.cond.wait(left)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def free_port_url(path="/x"):
    """A loopback URL on a port that was free a moment ago (nothing listens)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}{path}"


@contextlib.contextmanager
def standalone(script, *args):
    """Run a fake's script as its own process on a free port ("--port 0" and
    args); yields its base URL, read from its first line "listening on URL",
    and terminates it on the way out."""
    p = subprocess.Popen([sys.executable, str(script), "--port", "0", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = []
        t = threading.Thread(target=lambda: line.append(p.stdout.readline()), daemon=True)
        t.start()
        t.join(10)
        assert line and line[0].startswith("listening on http://127.0.0.1:"), (line, p.poll())
        yield line[0].split()[-1]
    finally:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
