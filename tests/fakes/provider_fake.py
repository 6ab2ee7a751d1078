"""Shared base of the offline fakes of messaging providers (Clickatell, WhatsApp
Cloud API, Twilio): see spec/providers.md sections 1, 2, 3 and 6.

What every fake gets from here:
  - a threaded HTTP/1.1 server on 127.0.0.1 (port 0 = any free port), started
    by the constructor; `base_url` is "http://127.0.0.1:PORT";
  - `.requests`: every request received on the provider API (RecordedRequest:
    method, path, query, headers with lower-case names, raw body, parsed body,
    time), in arrival order;
  - `.set_mode(name, count=None, endpoint="send")`: a failure mode for the
    next `count` authenticated requests to that endpoint class ("send", "query"
    or "any"), then back to "normal"; count=None keeps it until changed.
    A mode is used up by every authenticated request to its endpoint class,
    even one the fake then rejects as invalid (modes that accept, like
    timeout_after_accept, need a valid request to have something to accept).
    The mode "connect_refused" closes the listening socket (and any open
    keep-alive connections) so that connects are refused; set_mode("normal")
    listens again on the same port. It takes no count (a refused connect never
    reaches the fake, so there is nothing to count);
  - `.events`: a thread-safe event log (EventLog) of what the fake did;
  - a webhook sender (`_post_webhook`) that POSTs to chatpay's inbound URLs on
    loopback, with the provider's retry policy, and records every attempt
    (WebhookAttempt: url, headers, body, HTTP status chatpay answered) in
    `.webhooks`;
  - a small control plane under /_fake/ for the bench, when the fake runs as
    its own process (not part of any provider's API; never recorded in
    .requests): GET /_fake/requests, GET /_fake/messages, POST /_fake/mode
    {"name","count","endpoint"} (connect_refused: {"name","seconds"}, after
    which it listens again), POST /_fake/deliver and POST /_fake/reply
    (JSON arguments of deliver() and send_reply()).

Every wait is bounded: webhook POSTs time out (webhook_timeout), the hang of
"timeout_after_accept" lasts hang_seconds at most and ends at stop().
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


# --------------------------------------------------------------------------
# records


@dataclass
class RecordedRequest:
    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes  # raw bytes as received
    parsed: Any  # JSON value, form dict (name -> list of values), or None
    at: float  # time.time()
    target: str = ""  # the raw request target (path?query)

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def form(self) -> dict[str, str]:
        """Form body as name -> first value."""
        q = urllib.parse.parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in q.items()}

    def __repr__(self) -> str:
        return f"RecordedRequest({self.method} {self.target or self.path} {self.body[:80]!r})"


@dataclass
class WebhookAttempt:
    """One HTTP request the fake sent to chatpay (a webhook or a handshake)."""

    url: str
    method: str
    headers: dict[str, str]  # as sent
    body: bytes  # as sent
    status: int | None = None  # what chatpay answered; None if no answer
    response_body: bytes = b""
    response_headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # "connect: ..." or "read: ..." when no answer
    at: float = 0.0
    attempt: int = 1  # 1 = first try, 2 = first retry, ...
    label: str = ""  # e.g. "status delivered", "reply"

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def connect_failed(self) -> bool:
        return self.error is not None and self.error.startswith("connect")

    def __repr__(self) -> str:
        what = self.status if self.status is not None else self.error
        return f"WebhookAttempt({self.label} #{self.attempt} {self.url} -> {what})"


def keep_newest(records: list | dict, limit: int | None) -> None:
    """Drop the oldest records beyond `limit` (None: keep all). The caller
    holds the lock that guards `records`."""
    if limit is None:
        return
    if isinstance(records, dict):
        while len(records) > limit:
            del records[next(iter(records))]
    elif len(records) > limit:
        del records[:len(records) - limit]


class EventLog:
    """Thread-safe, append-only log of what a fake did (the newest `limit`
    events when a limit is set)."""

    def __init__(self, limit: int | None = None):
        self._lock = threading.Lock()
        self._items: list[dict] = []
        self.limit = limit

    def add(self, kind: str, **fields) -> None:
        with self._lock:
            self._items.append({"t": time.time(), "kind": kind, **fields})
            keep_newest(self._items, self.limit)

    def items(self, kind: str | None = None) -> list[dict]:
        with self._lock:
            return [e for e in self._items if kind is None or e["kind"] == kind]

    def wait_for(self, predicate: Callable[[list[dict]], bool], timeout: float = 10.0,
                 what: str = "an event") -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.items()
            if predicate(got):
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; events: {got[-20:]}")
            time.sleep(0.02)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json"
    close: bool = False  # drop the connection without any answer


def json_reply(status: int, obj: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(obj).encode(), headers or {})


def html_reply(status: int, title: str = "502 Bad Gateway") -> Reply:
    page = (
        "<!DOCTYPE html>\n<html><head><title>{0}</title></head>\n"
        "<body><center><h1>{0}</h1></center><hr><center>nginx</center></body></html>\n"
    ).format(title)
    return Reply(status, page.encode(), content_type="text/html; charset=utf-8")


def check_loopback_url(url: str) -> urllib.parse.SplitResult:
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url!r}")
    if (u.hostname or "") not in LOOPBACK_HOSTS and u.hostname != "::1":
        raise ValueError(f"the fakes only talk to loopback, not {u.hostname!r} ({url})")
    return u


def http_request(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None,
                 timeout: float = 10.0) -> WebhookAttempt:
    """One HTTP request to a loopback URL, no redirects followed; never raises
    on network errors (they are in .error)."""
    u = check_loopback_url(url)
    headers = dict(headers or {})
    target = (u.path or "/") + (f"?{u.query}" if u.query else "")
    att = WebhookAttempt(url=url, method=method, headers=headers, body=body, at=time.time())
    if u.scheme == "https":
        import ssl
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            u.hostname, u.port or 443, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        try:
            conn.connect()
        except OSError as e:
            att.error = f"connect: {e!r}"
            return att
        try:
            if body or method in ("POST", "PUT", "PATCH"):
                headers.setdefault("Content-Length", str(len(body)))
            conn.putrequest(method, target, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            att.status = resp.status
            att.response_headers = {k.lower(): v for k, v in resp.getheaders()}
            att.response_body = resp.read()
        except (OSError, http.client.HTTPException) as e:
            att.error = f"read: {e!r}"
        return att
    finally:
        conn.close()


# --------------------------------------------------------------------------
# the base fake


class ProviderFake:
    """Base class: subclasses set NAME and MODES and implement
    handle(req) -> Reply, deliver(...), send_reply(...)."""

    NAME = "provider"
    MODES: frozenset[str] = frozenset({"normal", "connect_refused"})
    # webhook retry policy (subclasses override _should_retry)
    WEBHOOK_USER_AGENT = "provider-fake"

    def __init__(self, *, port: int = 0, hang_seconds: float = 30.0,
                 webhook_timeout: float = 10.0, webhook_retries: int = 0,
                 webhook_retry_delay: float = 0.2, record_limit: int | None = None):
        self.hang_seconds = hang_seconds  # how long "timeout_after_accept" holds the answer
        self.webhook_timeout = webhook_timeout
        self.webhook_retries = webhook_retries
        self.webhook_retry_delay = webhook_retry_delay
        self.lock = threading.RLock()
        self.requests: list[RecordedRequest] = []
        self.webhooks: list[WebhookAttempt] = []
        self.messages: dict[str, dict] = {}
        # how many requests, webhook attempts, messages and events are kept
        # (the newest; None: all): a long bench would otherwise keep them all
        self.record_limit = record_limit
        self.events = EventLog(record_limit)
        self.stopping = threading.Event()
        self._mode = "normal"
        self._mode_left: int | None = None
        self._mode_endpoint = "send"
        self._conns: set[socket.socket] = set()
        self._listening = False
        self.server: ThreadingHTTPServer | None = None
        self.port = port
        self._listen()

    def limit_records(self, limit: int | None) -> None:
        """Keep only the newest `limit` requests, webhook attempts, messages
        and events from now on (None: keep all)."""
        with self.lock:
            self.record_limit = self.events.limit = limit

    # ---- server lifecycle -------------------------------------------------

    def _make_handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            def version_string(self):
                return f"{fake.NAME}-fake"

            def log_message(self, *args):  # quiet
                pass

            def setup(self):
                super().setup()
                with fake.lock:
                    fake._conns.add(self.connection)

            def finish(self):
                try:
                    super().finish()
                finally:
                    with fake.lock:
                        fake._conns.discard(self.connection)

            def _read_body(self) -> bytes:
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    out = b""
                    while True:
                        line = self.rfile.readline(1024)
                        size = int(line.split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                                pass
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline(8)
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _serve(self):
                try:
                    body = self._read_body()
                except (OSError, ValueError):
                    self.close_connection = True
                    return
                u = urllib.parse.urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                req = RecordedRequest(
                    method=self.command, path=u.path,
                    query=urllib.parse.parse_qs(u.query, keep_blank_values=True),
                    headers=headers, body=body, parsed=None, at=time.time(), target=self.path)
                req.parsed = fake._parse_body(req)
                if u.path.startswith("/_fake/"):
                    reply = fake._control(req)
                else:
                    with fake.lock:
                        fake.requests.append(req)
                        keep_newest(fake.requests, fake.record_limit)
                    fake.events.add("request", method=req.method, path=req.path)
                    try:
                        reply = fake.handle(req)
                    except Exception as e:  # a bug in the fake: say so loudly
                        fake.events.add("fake_error", error=repr(e))
                        reply = Reply(500, f"fake error: {e!r}".encode(), content_type="text/plain")
                    with fake.lock:
                        keep_newest(fake.messages, fake.record_limit)
                if reply.close:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                try:
                    self.send_response(reply.status)
                    if reply.content_type:
                        self.send_header("Content-Type", reply.content_type)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(reply.body)
                except OSError:
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

        return Handler

    def _listen(self) -> None:
        with self.lock:
            if self._listening:
                return
            server = ThreadingHTTPServer(("127.0.0.1", self.port), self._make_handler())
            server.daemon_threads = True
            self.server = server
            self.port = server.server_address[1]
            self._listening = True
            t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                                 daemon=True, name=f"{self.NAME}-fake")
            t.start()
            self.events.add("listen", port=self.port)

    def _unlisten(self) -> None:
        with self.lock:
            if not self._listening:
                return
            server = self.server
            self._listening = False
            conns = list(self._conns)
        server.shutdown()
        server.server_close()
        for c in conns:  # keep-alive connections would otherwise still work
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.events.add("unlisten", port=self.port)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def listening(self) -> bool:
        return self._listening

    def stop(self) -> None:
        self.stopping.set()
        self._unlisten()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # ---- modes ------------------------------------------------------------

    def set_mode(self, name: str, count: int | None = None, endpoint: str = "send") -> None:
        if name not in self.MODES:
            raise ValueError(f"{self.NAME}: unknown mode {name!r}; modes: {sorted(self.MODES)}")
        if endpoint not in ("send", "query", "any"):
            raise ValueError(f"endpoint must be send, query or any, not {endpoint!r}")
        if name == "connect_refused":
            if count is not None:
                raise ValueError("connect_refused takes no count; call set_mode('normal') to listen again")
            with self.lock:
                self._mode, self._mode_left, self._mode_endpoint = name, None, "any"
            self.events.add("mode", name=name)
            self._unlisten()
            return
        with self.lock:
            self._mode, self._mode_left, self._mode_endpoint = name, count, endpoint
        self.events.add("mode", name=name, count=count, endpoint=endpoint)
        self._listen()

    @property
    def mode(self) -> str:
        with self.lock:
            return self._mode

    def take_mode(self, endpoint: str) -> str:
        """The mode for this request (an authenticated request to `endpoint`);
        counts it down."""
        with self.lock:
            if self._mode == "normal" or self._mode_endpoint not in (endpoint, "any"):
                return "normal"
            m = self._mode
            if self._mode_left is not None:
                self._mode_left -= 1
                if self._mode_left <= 0:
                    self._mode, self._mode_left = "normal", None
        self.events.add("mode_used", name=m, endpoint=endpoint)
        return m

    def hang(self) -> bool:
        """Hold the answer for hang_seconds (bounded; ends at stop()).
        True if the fake was stopped meanwhile (then drop the connection)."""
        self.events.add("hang", seconds=self.hang_seconds)
        return self.stopping.wait(self.hang_seconds)

    # ---- subclass hooks -----------------------------------------------------

    def _parse_body(self, req: RecordedRequest) -> Any:
        ctype = req.headers.get("content-type", "")
        if not req.body:
            return None
        if "application/x-www-form-urlencoded" in ctype:
            return urllib.parse.parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        try:
            return json.loads(req.body)
        except ValueError:
            return None

    def handle(self, req: RecordedRequest) -> Reply:  # pragma: no cover - abstract
        raise NotImplementedError

    def _should_retry(self, att: WebhookAttempt) -> bool:
        """Default: retry on no answer or any non-2xx."""
        return not att.ok

    # ---- webhooks ---------------------------------------------------------

    def _post_webhook(self, url: str, body: bytes, headers: dict[str, str], *, label: str = "",
                      retries: int | None = None, method: str = "POST") -> list[WebhookAttempt]:
        """POST (with the provider's retry policy) and record every attempt."""
        retries = self.webhook_retries if retries is None else retries
        out = []
        hdrs = {"User-Agent": self.WEBHOOK_USER_AGENT, **headers}
        for i in range(1 + max(0, retries)):
            if i:
                if self.stopping.wait(self.webhook_retry_delay):
                    break
            att = http_request(method, url, body, hdrs, timeout=self.webhook_timeout)
            att.attempt, att.label = i + 1, label
            with self.lock:
                self.webhooks.append(att)
                keep_newest(self.webhooks, self.record_limit)
            self.events.add("webhook", url=url, label=label, attempt=i + 1,
                            status=att.status, error=att.error)
            out.append(att)
            if not self._should_retry(att):
                break
        return out

    # ---- helpers for tests ----------------------------------------------

    def requests_to(self, path_part: str, method: str | None = None) -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.requests
                    if path_part in r.path and (method is None or r.method == method)]

    def wait_for_requests(self, n: int, path_part: str = "", timeout: float = 10.0) -> list[RecordedRequest]:
        deadline = time.monotonic() + timeout
        while True:
            got = self.requests_to(path_part)
            if len(got) >= n:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.NAME}: timed out waiting for {n} requests to {path_part!r}; got {got}")
            time.sleep(0.02)

    def messages_to(self, to: str) -> list[dict]:
        with self.lock:
            return [m for m in self.messages.values() if m.get("to") == to]

    # ---- control plane (bench) ------------------------------------------

    def _control(self, req: RecordedRequest) -> Reply:
        p = req.path[len("/_fake/"):]
        args = req.parsed if isinstance(req.parsed, dict) else {}
        try:
            if p == "requests" and req.method == "GET":
                with self.lock:
                    rs = [{"method": r.method, "path": r.path, "query": r.query, "headers": r.headers,
                           "body": r.body.decode("utf-8", "replace"), "at": r.at} for r in self.requests]
                return json_reply(200, rs)
            if p == "messages" and req.method == "GET":
                with self.lock:
                    return Reply(200, json.dumps(self.messages, default=str).encode())
            if p == "mode" and req.method == "POST":
                if args["name"] == "connect_refused":
                    # after this answer has gone out (it would cut this connection too)
                    threading.Timer(0.2, self.set_mode, ("connect_refused",)).start()
                    # the control plane is unreachable too while refused: listen
                    # again after "seconds" (default 10)
                    threading.Timer(0.2 + float(args.get("seconds", 10)), self.set_mode, ("normal",)).start()
                    return json_reply(200, {"mode": "connect_refused"})
                self.set_mode(args["name"], args.get("count"), args.get("endpoint", "send"))
                return json_reply(200, {"mode": self.mode})
            if p in ("deliver", "reply") and req.method == "POST":
                fn = self.deliver if p == "deliver" else self.send_reply
                atts = fn(**args)
                return json_reply(200, [{"url": a.url, "status": a.status, "error": a.error,
                                         "label": a.label, "attempt": a.attempt} for a in atts])
        except (KeyError, TypeError, ValueError) as e:
            return json_reply(400, {"error": repr(e)})
        return json_reply(404, {"error": f"no control endpoint {req.method} {req.path}"})

    def deliver(self, *args, **kwargs) -> list[WebhookAttempt]:  # pragma: no cover - abstract
        raise NotImplementedError

    def send_reply(self, *args, **kwargs) -> list[WebhookAttempt]:  # pragma: no cover - abstract
        raise NotImplementedError


def run_standalone(make: Callable[[Any], ProviderFake], add_args: Callable[[Any], None]) -> None:
    """__main__ helper: parse --port plus the fake's own arguments, start it,
    print "listening on URL", serve until SIGTERM/SIGINT."""
    import argparse
    import signal

    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--hang-seconds", type=float, default=30.0)
    p.add_argument("--record-limit", type=int, default=None,
                   help="keep only the newest N requests, messages, webhooks and events")
    add_args(p)
    args = p.parse_args()
    if args.record_limit is not None and args.record_limit < 1:
        p.error("--record-limit must be at least 1")
    fake = make(args)
    fake.limit_records(args.record_limit)
    print(f"listening on {fake.base_url}", flush=True)
    # the handler only sets a flag: an Event set from a signal handler can
    # deadlock with the main thread's own wait on it (both take its lock)
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    while not stop:
        time.sleep(0.1)
    fake.stop()
