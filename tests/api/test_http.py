"""The HTTP layer: routing (404, 405 + Allow), request ids, and staying up
under a burst of bad requests."""

from __future__ import annotations

import random
import re
import shutil
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from cp_helpers import ServerProcess, db_url_for, free_port, start_server
from openapi_check import ApiClient, check_response

CONFIG = "/api/v2/config"
INTEGRATION = "/api/v2/integration"
HEX32 = re.compile(r"[0-9a-f]{32}")


# ---- routing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/nope", "/api/v2", "/api/v2/", "/api/v2/config/", "/api/v2/config/extra", "/api/v3/config",
     "/API/V2/CONFIG", "/livez/", "//livez", "/openapi.yaml", "/api/v2/chat-2-pay/unknown/deeper"],
)
def test_unknown_path(api, path):
    r = api.get(path, undocumented=True)
    assert r.status_code == 404, r.text
    body = r.body
    assert body["status"] == "404 NOT_FOUND"
    assert body["code"] == "no_route"
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], list) and body["errors"]
    assert r.headers["Content-Type"].startswith("application/json")


def test_unknown_path_with_key_is_still_404(api, merchant):
    r = api.get("/api/v2/nothing-here", key=merchant["apiKey"], undocumented=True)
    assert r.status_code == 404
    assert r.body["code"] == "no_route"


def test_unknown_path_does_not_echo_markup(api):
    r = api.get("/%3Cscript%3Ealert(1)%3C/script%3E", undocumented=True)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers.get("X-Content-Type-Options") == "nosniff"


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("POST", CONFIG, {"GET", "HEAD"}),
        ("PUT", CONFIG, {"GET", "HEAD"}),
        ("DELETE", CONFIG, {"GET", "HEAD"}),
        ("PATCH", CONFIG, {"GET", "HEAD"}),
        ("GET", INTEGRATION, {"PUT"}),
        ("POST", INTEGRATION, {"PUT"}),
        ("DELETE", INTEGRATION, {"PUT"}),
        ("HEAD", INTEGRATION, {"PUT"}),
        ("POST", "/livez", {"GET", "HEAD"}),
        ("DELETE", "/metrics", {"GET", "HEAD"}),
        ("PUT", "/openapi.json", {"GET", "HEAD"}),
    ],
)
def test_wrong_method(api, method, path, allowed):
    r = api.request(method, path, undocumented=True)
    assert r.status_code == 405, r.text
    assert "Allow" in r.headers
    listed = {m.strip() for m in r.headers["Allow"].split(",")}
    assert listed == allowed
    if method == "HEAD":  # the same answer without its body
        assert r.content == b""
        return
    body = r.body
    assert body["status"] == "405 METHOD_NOT_ALLOWED"
    assert body["code"] == "method_not_allowed"
    assert method in body["message"]
    assert isinstance(body["errors"], list) and body["errors"]


@pytest.mark.parametrize("path, keyed", [("/livez", False), ("/readyz", False), ("/openapi.json", False),
                                         ("/", False), (CONFIG, True)])
def test_head_is_get_without_the_body(api, merchant, path, keyed):
    key = merchant["apiKey"] if keyed else None
    got = api.get(path, key=key)
    r = api.head(path, key=key)
    assert r.status_code == got.status_code == 200
    assert r.content == b""
    assert r.headers["Content-Type"] == got.headers["Content-Type"]
    assert int(r.headers["Content-Length"]) == len(got.content)
    assert HEX32.fullmatch(r.headers["X-Request-Id"])


def test_head_needs_the_key_that_get_needs(api):
    r = api.head(CONFIG)
    assert r.status_code == 401
    assert r.content == b""


def test_wrong_method_needs_no_key(api, merchant):
    # 405 comes from routing, before authentication
    r = api.request("POST", CONFIG, undocumented=True)
    assert r.status_code == 405
    r = api.request("POST", CONFIG, key=merchant["apiKey"], undocumented=True)
    assert r.status_code == 405


def test_query_string_is_not_part_of_the_route(api, merchant):
    assert api.get("/livez?probe=1").status_code == 200
    r = api.get(CONFIG + "?x=1&y=%zz", key=merchant["apiKey"])
    assert r.status_code == 200
    assert r.body["supportedCurrencies"][0]["iso"] == "ZAR"


# ---- request ids -------------------------------------------------------------------------


@pytest.mark.parametrize("rid", ["abc-123", "A.b_c-9", "x", "0123456789abcdef0123456789abcdef"])
def test_request_id_echoed(api, rid):
    r = api.get("/livez", headers={"X-Request-Id": rid})
    assert r.headers["X-Request-Id"] == rid


def test_request_id_echoed_on_errors(api, merchant):
    h = {"X-Request-Id": "err-1"}
    assert api.get(CONFIG, headers=h).headers["X-Request-Id"] == "err-1"
    assert api.get("/nope", headers=h, undocumented=True).headers["X-Request-Id"] == "err-1"
    assert api.request("POST", CONFIG, headers=h, undocumented=True).headers["X-Request-Id"] == "err-1"
    r = api.put(INTEGRATION, key=merchant["apiKey"], headers={**h, "Content-Type": "application/json"}, data=b"{")
    assert r.status_code == 400 and r.headers["X-Request-Id"] == "err-1"


@pytest.mark.parametrize(
    "rid",
    ["has space", "a" * 33, "<script>", "semi;colon", "quote\"d", "slash/x", "x" * 200, "\u00e9t\u00e9"],
    ids=["space", "33-chars", "markup", "semicolon", "quote", "slash", "200-chars", "latin1"],
)
def test_request_id_replaced_when_not_plain(api, rid):
    headers = {"X-Request-Id": rid.encode("latin-1")}
    r = api.get("/livez", headers=headers)
    got = r.headers["X-Request-Id"]
    assert HEX32.fullmatch(got), got


def test_request_id_generated(api):
    ids = {api.get("/livez").headers["X-Request-Id"] for _ in range(5)}
    assert len(ids) == 5
    assert all(HEX32.fullmatch(i) for i in ids), ids


# ---- a burst of bad requests --------------------------------------------------------------


def _read_response(sock: socket.socket, deadline: float) -> bytes:
    """Read until EOF, or until a complete Content-Length response, or deadline."""
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except OSError:
            break
        if not chunk:
            break
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            m = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
            if m and len(body) >= int(m.group(1)):
                break
    return data


def _parse_response(data: bytes):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", lines[0] + b" ")
    assert m, f"not an HTTP response: {data[:200]!r}"
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.decode("latin-1").strip()] = v.decode("latin-1").strip()
    return int(m.group(1)), headers, body


def raw_exchange(port, payload: bytes, *, close_early=False, timeout=3.0):
    """Send payload on a fresh connection; None when we hang up without reading,
    b"" when the server closed without answering, else the raw response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(payload)
        except OSError:
            return b""
        if close_early:
            return None
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        return _read_response(s, time.monotonic() + timeout)


RAW_GARBAGE = [
    b"GARBAGE\r\n\r\n",
    b"\x00\x01\x02\x03\xff\xfe\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET /livez HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n",
    b"PUT /api/v2/integration HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
    b"PUT /api/v2/integration HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n{}",
    b"PUT /api/v2/integration HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 + b"\r\n\r\n",
    b"\r\n" * 100,
]

RAW_EARLY_CLOSE = [
    b"",
    b"GE",
    b"GET /api/v2/config HTTP/1.1\r\nHost: x\r\nAuthoriz",
    b"PUT /api/v2/integration HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: 500\r\n\r\n{\"applicationUuid\":",
    b"PUT /api/v2/integration HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"a\"",
]

# well-formed HTTP that the dispatcher answers: (payload, method, path, undocumented, status)
RAW_ROUTED = [
    (b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "GET", "/nope", True, 404),
    (b"DELETE /api/v2/config HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "DELETE", CONFIG, True, 405),
    (b"GET /api/v2/config HTTP/1.0\r\nAuthorization: nope\r\n\r\n", "GET", CONFIG, False, 401),
    (b"PUT /api/v2/integration HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
     "PUT", INTEGRATION, False, 401),
]


def test_burst_of_bad_requests(server, merchant):
    """200 bad requests of many kinds, 8 at a time; then the server still works."""
    rng = random.Random(20260131)
    key = merchant["apiKey"]
    deadline = time.monotonic() + 60
    local = threading.local()

    def client() -> ApiClient:
        if not hasattr(local, "api"):
            local.api = ApiClient(server.base_url, timeout=10)
        return local.api

    def api_case(i: int, r: random.Random):
        api = client()
        kind = r.randrange(9)
        if kind == 0:  # random bytes as a JSON body
            raw = bytes(r.randrange(256) for _ in range(r.randrange(1, 200)))
            resp = api.put(INTEGRATION, key=key, data=raw, headers={"Content-Type": "application/json"})
            return resp.status_code in (400, 404), resp
        if kind == 1:  # truncated valid JSON
            raw = b'{"applicationUuid":"x","status":"ACTIVATED"}'[: r.randrange(1, 44)]
            resp = api.put(INTEGRATION, key=key, data=raw, headers={"Content-Type": "application/json"})
            return resp.status_code == 400, resp
        if kind == 2:
            resp = api.put(INTEGRATION, json={"applicationUuid": "x", "status": "ACTIVATED"})
            return resp.status_code == 401, resp
        if kind == 3:
            junk = "".join(chr(r.randrange(33, 127)) for _ in range(r.randrange(1, 300)))
            resp = api.get(CONFIG, key=junk)
            return resp.status_code == 401, resp
        if kind == 4:
            resp = api.get(f"/x{r.randrange(10**6)}/{'y' * r.randrange(0, 500)}", undocumented=True)
            return resp.status_code == 404, resp
        if kind == 5:
            resp = api.request(r.choice(["POST", "DELETE", "PATCH"]), CONFIG, undocumented=True)
            return resp.status_code == 405, resp
        if kind == 6:
            resp = api.put(INTEGRATION, key=key, data=b"{}", headers={"Content-Type": "text/plain"})
            return resp.status_code == 415, resp
        if kind == 7:
            resp = api.put(INTEGRATION, key=key, data=b" " * 70000, headers={"Content-Type": "application/json"})
            return resp.status_code == 413, resp
        nested = b"[" * r.randrange(30, 3000)
        resp = api.put(INTEGRATION, key=key, data=nested, headers={"Content-Type": "application/json"})
        return resp.status_code == 400, resp

    def raw_case(i: int, r: random.Random):
        kind = r.randrange(3)
        if kind == 0:
            data = raw_exchange(server.port, r.choice(RAW_GARBAGE))
            if data:
                status, headers, body = _parse_response(data)
                # answered by libmicrohttpd itself (before any route): only the status is ours to check
                return 400 <= status < 600 and status not in (500, 502, 503), f"garbage → {status}"
            return True, "closed"
        if kind == 1:
            raw_exchange(server.port, r.choice(RAW_EARLY_CLOSE), close_early=True)
            return True, "hung up"
        payload, method, path, undocumented, status = r.choice(RAW_ROUTED)
        data = raw_exchange(server.port, payload)
        got, headers, body = _parse_response(data)
        check_response(method, path, got, headers, body, undocumented=undocumented)
        return got == status, f"{method} {path} → {got}"

    def one(case):
        i, seed = case
        if time.monotonic() > deadline:
            return False, "deadline passed"
        return (raw_case if i % 5 < 2 else api_case)(i, random.Random(seed))

    cases = [(i, rng.random()) for i in range(200)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, cases, timeout=90))
    bad = [(i, what) for i, (ok, what) in enumerate(results) if not ok]
    assert not bad, f"{len(bad)} unexpected answers, first: {bad[:3]}"
    assert time.monotonic() <= deadline, "burst took too long"

    # still alive and serving, database included
    assert server.process.alive()
    api = ApiClient(server.base_url)
    assert api.get("/livez").status_code == 200
    r = api.get(CONFIG, key=key)
    assert r.status_code == 200 and r.body["apiKey"].endswith(key[-4:])
    assert api.get("/readyz").status_code == 200
    api.close()


@pytest.mark.parametrize("path", ["/livez%00", "/livez%00x", "/api/v2/config%00.json"])
def test_encoded_nul_does_not_truncate_the_path(api, merchant, path):
    # "/livez%00…" is not "/livez": a decoded NUL must not cut the path short
    r = api.get(path, key=merchant["apiKey"], undocumented=True)
    assert r.status_code in (400, 404), r.status_code


# ---- request framing: what a proxy might read differently ---------------------------------

FRAMING = [
    (b"POST /api/v2/chat-2-pay HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 20\r\n\r\n{}",
     "more than one Content-Length header"),
    (b"POST /api/v2/chat-2-pay HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "both Content-Length and Transfer-Encoding"),
    (b"POST /api/v2/chat-2-pay HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
     "a Transfer-Encoding other than chunked"),
    (b"POST /api/v2/chat-2-pay HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n\r\n",
     "a Transfer-Encoding other than chunked"),
    (b"POST /api/v2/chat-2-pay HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "more than one Transfer-Encoding header"),
    (b"GET /livez HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n",
     "a header name or value contains a control character"),
    (b"GET /livez HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n",
     "a header name or value contains a control character"),
    (b"GET /livez HTTP/1.1\r\nHost: x\r\nX\x1bA: b\r\n\r\n",
     "a header name or value contains a control character"),
    (b"GET /livez HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", "a header value contains a NUL byte"),
    (b"POST /api/v2/chat-2-pay HTTP/1.1\r\nHost: x\r\nContent-Length: 2\x00 9\r\n\r\n{}",
     "a header value contains a NUL byte"),
    (b"GET /livez HTTP/1.1\r\nX-First: \x00x\r\nHost: x\r\n\r\n", "a header value contains a NUL byte"),
]


def assert_json_error(data: bytes, status: int, code: str) -> dict:
    """A raw response: the status, a JSON error body of well-formed UTF-8."""
    got, headers, body = _parse_response(data)
    assert got == status, data[:300]
    assert headers.get("Content-Type", "").startswith("application/json"), headers
    assert headers.get("X-Request-Id"), headers
    import json

    decoded = json.loads(body.decode("utf-8", errors="strict"))
    assert decoded["code"] == code, decoded
    return decoded


@pytest.mark.parametrize("payload, why", FRAMING, ids=[w[:24] + str(i) for i, (_, w) in enumerate(FRAMING)])
def test_ambiguous_framing_is_refused_and_closed(server, payload, why):
    """400 malformed_request, answered before any body is read, and the
    connection is not reused (a smuggled second request never runs)."""
    smuggled = b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(payload + smuggled)
        data = _read_response(s, time.monotonic() + 5)
        # then the server closes: nothing more comes, the smuggled GET is not answered
        s.settimeout(2)
        rest = b""
        try:
            while chunk := s.recv(4096):
                rest += chunk
        except socket.timeout:
            pytest.fail("the connection stayed open after a malformed request")
        except OSError:
            pass
    body = assert_json_error(data, 400, "malformed_request")
    assert body["message"] == f"Malformed HTTP request: {why}", body
    assert b"Connection: close" in data.split(b"\r\n\r\n")[0]
    assert b"HTTP/1.1" not in rest, rest[:200]


def test_normal_framing_still_works(server, merchant):
    """Tabs in values, one Content-Length, chunked bodies, bare LF, many headers."""
    cases = [
        b"GET /livez HTTP/1.1\r\nHost: x\r\nX-Tab: a\tb\r\nX-Empty:\r\nConnection: close\r\n\r\n",
        b"GET /livez HTTP/1.1\nHost: x\nConnection: close\n\n",
        b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(60)) + b"\r\n",
        b"PUT /api/v2/integration HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Authorization: " + merchant["apiKey"].encode() + b"\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: Chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    ]
    for payload in cases:
        got, _, body = _parse_response(raw_exchange(server.port, payload))
        assert got in (200, 400), (got, body[:200])
        if got == 400:  # the PUT: the body arrived and was read (field errors)
            assert b"validation_failed" in body, body


# ---- errors are JSON of well-formed UTF-8; the log stays JSON ---------------------------------


def test_invalid_utf8_in_path_and_method_is_never_echoed_raw(server):
    cases = [
        (b"GET /\xff\xfe%FF/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404, "no_route"),
        (b"G\xc3T /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405, "method_not_allowed"),
        (b"POST /api/v2/cancel/%C3%28%80 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 401, None),
    ]
    for payload, status, code in cases:
        data = raw_exchange(server.port, payload)
        got, headers, body = _parse_response(data)
        assert got == status, data[:300]
        text = body.decode("utf-8", errors="strict")  # raises on a malformed byte
        assert "\ufffd" in text, text
        if code:
            assert_json_error(data, status, code)
        else:
            import json

            assert json.loads(text)["path"].startswith("/api/v2/cancel/"), text


def test_long_and_strange_paths_keep_the_log_whole(server):
    """A request whose path is long and full of quotes, backslashes, control
    characters and bad bytes: the answer's message is cut, and its log line is
    one complete JSON object with its request id."""
    junk = (b'%22%5C%0A%01%FF' + b"x" * 50) * 300  # ~20 kB once decoded
    rid = "long-path-check-1"
    payload = (b"GET /" + junk + b" HTTP/1.1\r\nHost: x\r\nX-Request-Id: " + rid.encode()
               + b"\r\nConnection: close\r\n\r\n")
    body = assert_json_error(raw_exchange(server.port, payload), 404, "no_route")
    assert len(body["message"].encode()) < 1000, len(body["message"])
    assert body["message"].endswith("\u2026"), body["message"][-20:]
    recs = server.process.wait_log(lambda r: r.get("request_id") == rid and r.get("msg") == "request")
    assert recs, "the request's log line is missing"
    assert recs[0]["status"] == 404 and recs[0]["route"] == "(none)", recs[0]
    assert recs[0]["path"].endswith("\u2026"), recs[0]["path"][-20:]
    # every line of the log is JSON of well-formed UTF-8
    raw = server.log_path.read_bytes()
    import json

    for line in raw.decode("utf-8", errors="strict").splitlines():
        rec = json.loads(line)
        assert isinstance(rec, dict) and "ts" in rec and "msg" in rec
        if rec["msg"] == "request":
            assert rec.get("request_id"), rec


def test_https_public_url_sends_strict_transport_security(api, tmp_path):
    """Behind a TLS proxy at an https public URL every answer tells the
    browser to come back over TLS only (a customer who once followed an
    http:// short link is not downgraded again); on plain http, where the
    header would mean nothing, it is not sent."""
    r = api.get("/livez")
    assert "Strict-Transport-Security" not in r.headers, r.headers
    srv = start_server(tmp_path, db_url_for(tmp_path / "hsts.db"), name="hsts",
                       extra_args=["--public-url", "https://pay.example.com"])
    try:
        for path in ("/livez", "/p/no-such-link", "/api/v2/config"):
            r = requests.get(srv.base_url + path, timeout=10)
            assert r.headers.get("Strict-Transport-Security") == "max-age=31536000", (path, r.headers)
    finally:
        assert srv.stop() == 0, srv.tail(20)


def _open_files_limit(pid):
    """The soft and hard open-file limits of a running process."""
    with open(f"/proc/{pid}/limits") as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no open-file limit in /proc")


@pytest.mark.skipif(not shutil.which("prlimit"), reason="prlimit (util-linux) is needed")
@pytest.mark.parametrize("soft,hard,lowered", [(256, 8192, None), (600, 600, "")],
                         ids=["raised", "lowered"])
def test_the_open_file_limit_is_raised_or_max_connections_fitted(tmp_path, soft, hard, lowered):
    """A service's soft open-file limit is often 1024 (systemd), below the
    default max_connections (4096): the server raises it to the hard limit,
    and when even that cannot hold max_connections with the files the rest
    needs, it lowers max_connections with a warning, so that the slow-client
    guard (at 75% of it) still acts before accept() runs out of files."""
    srv = ServerProcess(workdir=tmp_path, db_url=db_url_for(tmp_path / "nofile.db"), port=free_port(),
                        name="nofile", wrapper=["prlimit", f"--nofile={soft}:{hard}", "--"])
    srv.start()
    try:
        srv.wait_live()
        got = _open_files_limit(srv.proc.pid)
        log = srv.log_text()
    finally:
        rc = srv.stop()
    assert rc == 0
    assert got == (hard, hard), got
    warned = re.search(r"max_connections is lowered from 4096 to (\d+)", log)
    if lowered is None:
        assert not warned, log
    else:
        assert warned and 16 <= int(warned.group(1)) < 600, log
