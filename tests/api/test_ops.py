"""Operations: health, readiness, metrics, the API document, the request log,
and stopping gracefully."""

from __future__ import annotations

import http.client
import json
import re
import select
import signal
import socket
import threading
import time
import uuid

import pytest

from cp_helpers import (SECRETS, UUID_RE, assert_no_secrets, db_url_for, migrated_db_url_for,
                        run_cli, start_payment, start_server)
from openapi_check import DOC_PATH, REPO, check_response, is_rfc3339
from payment_flow import new_link

CONFIG = "/api/v2/config"
INTEGRATION = "/api/v2/integration"

# ---- health ------------------------------------------------------------------------------


def test_livez(api):
    r = api.get("/livez")
    assert r.status_code == 200
    assert r.body == {"status": "ok"}
    assert r.headers["Content-Type"].startswith("application/json")


def test_readyz(api):
    r = api.get("/readyz")
    assert r.status_code == 200
    body = r.body
    assert body["status"] == "ready"
    assert body["database"] == "ok"
    assert isinstance(body["schemaVersion"], int) and body["schemaVersion"] >= 1
    assert body["schemaVersion"] == body["expectedSchemaVersion"]


def test_index(api, server):
    r = api.get("/")
    assert r.status_code == 200
    assert r.body["name"] == "chatpay"
    assert r.body["version"] == (REPO / "VERSION").read_text().strip()
    assert r.body["openapi"] == server.base_url + "/openapi.json"


def test_openapi_document_served(api):
    r = api.get("/openapi.json")
    assert r.status_code == 200
    assert r.headers["Content-Type"].split(";")[0].strip() == "application/json"
    with open(DOC_PATH, encoding="utf-8") as f:
        expected = json.load(f)
    assert r.json() == expected, "GET /openapi.json differs from docs/openapi.json (rebuild?)"


def test_common_headers(api, merchant):
    for r in (api.get("/livez"), api.get(CONFIG, key=merchant["apiKey"]), api.get(CONFIG)):
        assert r.headers.get("X-Content-Type-Options") == "nosniff"
        assert r.headers.get("Cache-Control") == "no-store"


# ---- metrics -----------------------------------------------------------------------------

_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


def parse_metrics(text: str):
    """{(name, ((label, value), …)): float}; fails on lines that are not
    Prometheus text format."""
    samples = {}
    types = {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            assert len(parts) >= 3 and parts[1] in ("HELP", "TYPE"), f"bad comment line: {line!r}"
            if parts[1] == "TYPE":
                types[parts[2]] = parts[3]
            continue
        m = _SAMPLE.fullmatch(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        name, labels_text, value = m.groups()
        labels = ()
        if labels_text:
            found = _LABEL.findall(labels_text)
            assert ",".join(f'{k}="{v}"' for k, v in found) == labels_text, f"bad labels: {line!r}"
            labels = tuple(sorted(found))
        key = (name, labels)
        assert key not in samples, f"duplicate sample: {line!r}"
        samples[key] = float(value)
    return samples, types


def metrics(api):
    r = api.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    return r.text, *parse_metrics(r.text)


def requests_total(samples, method, route, status):
    key = ("chatpay_http_requests_total", tuple(sorted({"method": method, "route": route, "status": status}.items())))
    return samples.get(key, 0.0)


def test_metrics_format_and_build_info(api):
    text, samples, types = metrics(api)
    version = (REPO / "VERSION").read_text().strip()
    info = [(k, v) for k, v in samples.items() if k[0] == "chatpay_build_info"]
    assert len(info) == 1, info
    (name, labels), value = info[0]
    assert value == 1
    assert dict(labels)["version"] == version
    assert "revision" in dict(labels)
    assert types.get("chatpay_build_info") == "gauge"
    assert types.get("chatpay_http_requests_total") == "counter"
    assert types.get("chatpay_http_request_duration_seconds") == "histogram"


def test_metrics_count_requests(api, merchant):
    _, before, _ = metrics(api)
    n0 = requests_total(before, "GET", CONFIG, "200")
    u0 = requests_total(before, "GET", CONFIG, "401")
    assert api.get(CONFIG, key=merchant["apiKey"]).status_code == 200
    assert api.get(CONFIG, key=merchant["apiKey"]).status_code == 200
    assert api.get(CONFIG).status_code == 401
    deadline = time.monotonic() + 3
    while True:
        _, after, _ = metrics(api)
        n1 = requests_total(after, "GET", CONFIG, "200")
        u1 = requests_total(after, "GET", CONFIG, "401")
        if (n1, u1) == (n0 + 2, u0 + 1) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert (n1, u1) == (n0 + 2, u0 + 1)


def test_metrics_histogram(api, merchant):
    assert api.get(CONFIG, key=merchant["apiKey"]).status_code == 200
    _, samples, _ = metrics(api)
    route = {"method": "GET", "route": CONFIG}
    buckets = sorted(
        (float("inf") if dict(l)["le"] == "+Inf" else float(dict(l)["le"]), v)
        for (n, l), v in samples.items()
        if n == "chatpay_http_request_duration_seconds_bucket"
        and {k: v2 for k, v2 in l if k != "le"} == route
    )
    assert len(buckets) >= 2 and buckets[-1][0] == float("inf"), buckets
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), "buckets must be cumulative"
    lab = tuple(sorted(route.items()))
    count = samples[("chatpay_http_request_duration_seconds_count", lab)]
    total = samples[("chatpay_http_request_duration_seconds_sum", lab)]
    assert count == counts[-1] and count >= 1
    assert 0 <= total < count * 10
    assert requests_total(samples, "GET", CONFIG, "200") >= 1


def test_metrics_label_redirects_by_their_status(api, merchant, server, http):
    # the Pay button answers 303: it has its own status label, never "other"
    link = new_link(api, merchant["apiKey"])
    pay = ("POST", "/p/{token}/pay")
    _, before, _ = metrics(api)
    start_payment(http, server.base_url, link.token)
    deadline = time.monotonic() + 3
    while True:
        _, after, _ = metrics(api)
        got = requests_total(after, *pay, "303") - requests_total(before, *pay, "303")
        if got == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert got == 1, got
    assert requests_total(after, *pay, "other") == 0


def test_metrics_unmatched_route_is_one_series(api):
    for i in range(3):
        api.get(f"/no-such-{uuid.uuid4().hex}", undocumented=True)
    text, samples, _ = metrics(api)
    assert "no-such-" not in text  # paths never become labels
    routes = {dict(l).get("route") for (n, l) in samples if n == "chatpay_http_requests_total"}
    assert all(r == "(unmatched)" or r.startswith("/") for r in routes), routes


def test_metrics_have_no_merchant_or_key(api, merchant, make_merchant):
    other = make_merchant()
    for m in (merchant, other):
        assert api.get(CONFIG, key=m["apiKey"]).status_code == 200
    text, _, _ = metrics(api)
    for mid in SECRETS.merchant_ids | {merchant["merchantId"], other["merchantId"]}:
        assert mid not in text
    assert not UUID_RE.search(text), "a UUID appears in /metrics"
    assert_no_secrets(text, "/metrics")


# ---- request log ---------------------------------------------------------------------------


def _request_lines(server, rid):
    return server.process.wait_log(lambda r: r.get("msg") == "request" and r.get("request_id") == rid)


def test_log_request_line_authenticated(api, server, merchant):
    rid = "log-" + uuid.uuid4().hex[:12]
    assert api.get(CONFIG, key=merchant["apiKey"], headers={"X-Request-Id": rid}).status_code == 200
    lines = _request_lines(server, rid)
    assert len(lines) == 1, lines
    rec = lines[0]
    assert rec["method"] == "GET"
    assert rec["route"] == CONFIG
    assert rec["status"] == 200
    assert isinstance(rec["duration_ms"], (int, float)) and 0 <= rec["duration_ms"] < 10_000
    assert rec["merchant"] == merchant["merchantId"]
    assert rec["level"] == "info"
    assert is_rfc3339(rec["ts"])


def test_log_request_line_unauthenticated(api, server):
    rid = "log-" + uuid.uuid4().hex[:12]
    assert api.get(CONFIG, headers={"X-Request-Id": rid, "Authorization": "wrong"}).status_code == 401
    (rec,) = _request_lines(server, rid)
    assert rec["status"] == 401 and rec["route"] == CONFIG and rec["method"] == "GET"
    assert "merchant" not in rec


def test_log_request_line_put(api, server, merchant, add_integrator):
    it = add_integrator(merchant["merchantId"])
    rid = "log-" + uuid.uuid4().hex[:12]
    r = api.put(INTEGRATION, key=merchant["apiKey"], headers={"X-Request-Id": rid},
                json={"applicationUuid": it["applicationId"], "status": "DEACTIVATED"})
    assert r.status_code == 200
    (rec,) = _request_lines(server, rid)
    assert (rec["method"], rec["route"], rec["status"]) == ("PUT", INTEGRATION, 200)
    assert rec["merchant"] == merchant["merchantId"]


def test_log_unrouted_request(api, server):
    rid = "log-" + uuid.uuid4().hex[:12]
    assert api.get("/nowhere", headers={"X-Request-Id": rid}, undocumented=True).status_code == 404
    (rec,) = _request_lines(server, rid)
    assert rec["method"] == "GET" and rec["status"] == 404
    assert "route" in rec and rec["route"] != CONFIG
    assert "merchant" not in rec


def test_log_one_line_per_request(api, server, merchant):
    ids = ["many-" + uuid.uuid4().hex[:10] for _ in range(6)]
    for i, rid in enumerate(ids):
        if i % 2:
            api.get(CONFIG, key=merchant["apiKey"], headers={"X-Request-Id": rid})
        else:
            api.get("/livez", headers={"X-Request-Id": rid})
    for rid in ids:
        assert len(_request_lines(server, rid)) == 1, rid
    # and the request id in the log is the one the client saw
    r = api.get("/livez")
    assert len(_request_lines(server, r.headers["X-Request-Id"])) == 1


def test_log_is_json_lines(api, server):
    api.get("/livez")
    lines = [l for l in server.process.log_text().splitlines() if l.strip()]
    assert lines
    for line in lines:
        rec = json.loads(line)  # every line is one JSON object
        assert isinstance(rec, dict)
        assert {"ts", "level", "msg"} <= set(rec), line
        assert rec["level"] in ("debug", "info", "warn", "error"), line
        assert is_rfc3339(rec["ts"]), line


def test_log_never_contains_api_keys(api, server, merchant, cli, make_merchant):
    live = make_merchant(environment="production")
    res = cli("apikey", "create", "--merchant", merchant["merchantId"], "--json")
    assert res.returncode == 0
    second = res.json()["apiKey"]
    # use every key in every way, good and bad
    for key in (merchant["apiKey"], live["apiKey"], second):
        api.get(CONFIG, key=key)
        api.get(CONFIG, key=f"Bearer {key}")
        api.get(CONFIG, key=key[:-1] + ("A" if key[-1] != "A" else "B"))
        api.put(INTEGRATION, key=key, data=b"{bad json", headers={"Content-Type": "application/json"})
        api.put(INTEGRATION, key=key, json={"applicationUuid": str(uuid.uuid4()), "status": "ACTIVATED"})
        api.get(CONFIG + "?apiKey=" + key, key=key)
    time.sleep(0.2)  # let the last request lines land
    assert SECRETS.api_keys >= {merchant["apiKey"], live["apiKey"], second}
    assert_no_secrets(server.process.log_text(), "server log")


# ---- stopping ---------------------------------------------------------------------------------


def _partial_put(port, key, app_id, rid):
    """A PUT whose headers and first bytes are sent; the rest is returned."""
    body = json.dumps({"applicationUuid": app_id, "status": "DEACTIVATED"}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest("PUT", INTEGRATION)
    conn.putheader("Authorization", key)
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(len(body)))
    conn.putheader("X-Request-Id", rid)
    conn.endheaders(message_body=body[:7])
    return conn, body[7:]


def _refused(port, timeout=3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
        except ConnectionRefusedError:
            return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def test_sigterm_drains_requests_in_flight(tmp_path):
    db_url = migrated_db_url_for(tmp_path / "drain.db")
    res = run_cli("merchant", "create", "--name", "Drain", "--json", db_url=db_url, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    m = res.json()
    apps = []
    for i in range(3):
        r = run_cli("integrator", "add", "--merchant", m["merchantId"], "--name", f"D{i}", "--type", "OMS",
                    "--json", db_url=db_url, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        apps.append(r.json()["applicationId"])
    srv = start_server(tmp_path, db_url, name="drain")
    try:
        # one idle keep-alive connection that already finished a request
        idle = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        idle.request("GET", CONFIG, headers={"Authorization": m["apiKey"]})
        resp = idle.getresponse()
        check_response("GET", CONFIG, resp.status, dict(resp.getheaders()), resp.read())
        assert resp.status == 200

        inflight = [_partial_put(srv.port, m["apiKey"], app, f"drain-{i}") for i, app in enumerate(apps)]
        # the server has read the headers: the requests are in flight (it says
        # nowhere a test can read, so leave it time to, even on a busy machine)
        time.sleep(1.0)
        srv.proc.send_signal(signal.SIGTERM)
        assert _refused(srv.port), "still accepting connections after SIGTERM"
        time.sleep(0.3)
        assert srv.alive(), f"exited with requests in flight:\n{srv.tail()}"

        for i, (conn, rest) in enumerate(inflight):
            conn.send(rest)
            resp = conn.getresponse()
            body = resp.read()
            decoded = check_response("PUT", INTEGRATION, resp.status, dict(resp.getheaders()), body)
            assert resp.status == 200, body
            assert is_rfc3339(decoded["updateTime"])
            conn.close()
        rc = srv.stop(timeout=10)
        assert rc == 0, srv.tail()
        idle.close()
    finally:
        srv.kill()
    log = srv.log_records()
    for i in range(3):
        recs = [r for r in log if r.get("msg") == "request" and r.get("request_id") == f"drain-{i}"]
        assert len(recs) == 1 and recs[0]["status"] == 200, recs
    assert any("draining" in r.get("msg", "") for r in log)
    # the changes were committed
    shown = run_cli("integrator", "list", "--merchant", m["merchantId"], "--json", db_url=db_url, cwd=tmp_path)
    assert shown.returncode == 0
    assert [i["status"] for i in shown.json()] == ["DEACTIVATED"] * 3


KEEP_ALIVE_CLIENTS = 4
KEEP_ALIVE_MAX = 100_000  # requests per client, at most
KEEP_ALIVE_SECONDS = 30.0  # and for this long at most


def _keep_alive_client(port, key, app_id, n, stop, out):
    """PUT in a loop on one keep-alive connection, as a pooled client does:
    a connection found closed before a request is sent ends the loop (the
    request was not sent: a pool would open another); a request sent whose
    answer does not come is recorded in out["unanswered"]; an answer with
    "Connection: close" ends the loop (the server closes the connection)."""
    body = json.dumps({"applicationUuid": app_id, "status": "ACTIVATED"}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.connect()
    deadline = time.monotonic() + KEEP_ALIVE_SECONDS
    out.update(answers=0, closing=0, unanswered=[], end="limit")
    try:
        for k in range(KEEP_ALIVE_MAX):
            if stop.is_set() or time.monotonic() > deadline:
                out["end"] = "stopped"
                return
            # readable before a request: the server has closed the connection
            if select.select([conn.sock], [], [], 0)[0]:
                out["end"] = "closed before a request"
                return
            rid = f"ka-{n}-{k}"
            try:
                conn.request("PUT", INTEGRATION, body=body,
                             headers={"Authorization": key, "Content-Type": "application/json",
                                      "X-Request-Id": rid})
            except OSError:
                out["end"] = "closed while a request was sent"
                return
            try:
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                out["unanswered"].append((rid, repr(e)))
                out["end"] = "no answer"
                return
            out["answers"] += 1
            out["last"] = (resp.status, data)
            if (resp.getheader("Connection") or "").lower() == "close":
                out["closing"] += 1
                out["end"] = "Connection: close"
                return
    finally:
        conn.close()


class _HeldRequest:
    """A PUT whose body trickles in a byte at a time (leading spaces, which
    JSON allows) until finish(): a request in flight that holds a drain open."""

    PAD = 200

    def __init__(self, port, key, app_id, rid):
        json_text = json.dumps({"applicationUuid": app_id, "status": "DEACTIVATED"}).encode()
        self.rest = b" " * self.PAD + json_text
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.putrequest("PUT", INTEGRATION)
        for name, value in (("Authorization", key), ("Content-Type", "application/json"),
                            ("Content-Length", str(len(self.rest))), ("X-Request-Id", rid)):
            self.conn.putheader(name, value)
        self.conn.endheaders(message_body=self.rest[:1])
        self.rest = self.rest[1:]
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self):
        # a byte every 0.2 s: its upload keeps moving (never more than PAD bytes)
        while not self.done.wait(0.2) and self.rest[:1] == b" ":
            self.conn.send(self.rest[:1])
            self.rest = self.rest[1:]

    def finish(self):
        self.done.set()
        self.thread.join(timeout=5)
        self.conn.send(self.rest)
        resp = self.conn.getresponse()
        return resp, resp.read()


def test_sigterm_closes_keep_alive_connections(tmp_path):
    """SIGTERM while keep-alive clients send requests one after another on
    their connections (a pool, a load balancer): each request they send is
    answered, with "Connection: close" from the drain on, so that none is cut
    off unprocessed at the stop; an idle connection is closed; /readyz
    answers 503 "draining" on a connection still open; the server exits 0
    once the connections are gone, well within drain_timeout (15 s)."""
    db_url = migrated_db_url_for(tmp_path / "keepalive.db")
    res = run_cli("merchant", "create", "--name", "KeepAlive", "--json", db_url=db_url, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    m = res.json()
    apps = []
    for i in range(KEEP_ALIVE_CLIENTS + 1):
        r = run_cli("integrator", "add", "--merchant", m["merchantId"], "--name", f"K{i}", "--type",
                    "OMS", "--json", db_url=db_url, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        apps.append(r.json()["applicationId"])
    srv = start_server(tmp_path, db_url, name="keepalive")
    stop = threading.Event()
    outs = [{} for _ in range(KEEP_ALIVE_CLIENTS)]
    clients = [threading.Thread(target=_keep_alive_client, daemon=True,
                                args=(srv.port, m["apiKey"], apps[i], i, stop, outs[i]))
               for i in range(KEEP_ALIVE_CLIENTS)]
    problems = []
    try:
        held = _HeldRequest(srv.port, m["apiKey"], apps[-1], "held")
        # a health check in progress on a connection of its own: its request
        # line is in, the rest comes during the drain
        probe = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        probe.sendall(b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        # a pooled connection, idle since its answer
        idle = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        idle.request("GET", "/livez")
        resp = idle.getresponse()
        assert resp.status == 200 and resp.getheader("Connection") is None, resp.getheaders()
        resp.read()
        for c in clients:
            c.start()
        started = time.monotonic()
        while min(o.get("answers", 0) for o in outs) < 20 and time.monotonic() - started < 10:
            time.sleep(0.05)
        assert all(o.get("answers", 0) >= 20 for o in outs), outs
        assert all(c.is_alive() for c in clients), outs

        signalled = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.wait_log(lambda r: "draining" in r.get("msg", ""), timeout=5), srv.tail()

        probe.sendall(b"\r\n")
        raw = b""
        while b"\r\n\r\n" not in raw and len(raw) < 65536:
            chunk = probe.recv(65536)
            if not chunk:
                break
            raw += chunk
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
        want = int(headers.get("content-length", "0"))
        while len(body) < want:
            chunk = probe.recv(65536)
            if not chunk:
                break
            body += chunk
        probe.close()
        status = int(lines[0].split()[1]) if lines[0].startswith("HTTP/1.1 ") else None
        if status != 503:
            problems.append(f"/readyz while draining: {lines[0]!r} {body!r}, not 503")
        else:
            decoded = check_response("GET", "/readyz", status, headers, body)
            if decoded.get("status") != "not ready" or decoded.get("reason") != "draining":
                problems.append(f"/readyz while draining: {decoded}")
        if headers.get("connection", "").lower() != "close":
            problems.append(f"/readyz while draining: no Connection: close ({headers})")

        # closed by the server, though the drain goes on
        idle.sock.settimeout(3)
        try:
            if idle.sock.recv(1) != b"":
                problems.append("idle connection: bytes came unasked")
        except socket.timeout:
            problems.append("idle connection: not closed within 3 s of the drain's start")
        except ConnectionResetError:
            pass
        idle.close()

        # the drain is held open by the request in flight: the keep-alive
        # clients have had their answers with "Connection: close" meanwhile
        until = time.monotonic() + 3
        for c in clients:
            c.join(timeout=max(0.0, until - time.monotonic()))
        if not srv.alive():
            problems.append("exited with a request in flight")
        try:
            resp, body = held.finish()
        except (OSError, http.client.HTTPException) as e:
            problems.append(f"held request: no answer ({e!r})")
        else:
            decoded = check_response("PUT", INTEGRATION, resp.status, dict(resp.getheaders()), body)
            if resp.status != 200:
                problems.append(f"held request: {resp.status} {decoded}")
            if (resp.getheader("Connection") or "").lower() != "close":
                problems.append("held request answered during the drain without Connection: close")
        held.conn.close()
        until = time.monotonic() + 5
        for c in clients:
            c.join(timeout=max(0.0, until - time.monotonic()))
        stop.set()
        for c in clients:
            c.join(timeout=15)
        assert not any(c.is_alive() for c in clients), outs
        rc = srv.stop(timeout=20)
        took = time.monotonic() - signalled
        assert rc == 0, srv.tail()
        if took >= 15:
            problems.append(f"exited {took:.1f} s after SIGTERM: drain_timeout (15 s) ran out")
    finally:
        stop.set()
        srv.kill()
    logged = {r.get("request_id"): r.get("status") for r in srv.log_records() if r.get("msg") == "request"}
    for n, o in enumerate(outs):
        for rid, err in o["unanswered"]:
            problems.append(f"client {n}: {rid} sent, no answer ({err}); "
                            f"server log: {logged.get(rid, 'never processed')}")
        if o["end"] not in ("Connection: close", "closed before a request"):
            problems.append(f"client {n}: ended by {o['end']!r}, not by Connection: close "
                            f"or a connection closed before a request")
        if o["answers"] and o["last"][0] != 200:
            problems.append(f"client {n}: last answer {o['last']}")
    if logged.get("held") != 200:
        problems.append(f"held request logged as {logged.get('held')}")
    assert not problems, "\n".join(problems) + "\n" + srv.tail(15)


ABANDONED = 8  # the race is timing-dependent: several tries make it show


def test_abandoned_uploads_do_not_delay_shutdown(tmp_path):
    """Clients that send part of a body and hang up are not requests in flight:
    they end (logged as 499) and SIGTERM does not wait drain_timeout (15 s) for them."""
    db_url = migrated_db_url_for(tmp_path / "abandon.db")
    res = run_cli("merchant", "create", "--name", "Abandon", "--json", db_url=db_url, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    key = res.json()["apiKey"]
    srv = start_server(tmp_path, db_url, name="abandon")
    try:
        for i in range(ABANDONED):
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
                s.sendall(
                    f"PUT {INTEGRATION} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {key}\r\n"
                    f"Content-Type: application/json\r\nX-Request-Id: gone-{i}\r\n"
                    "Content-Length: 500\r\n\r\n{\"applicationUuid\":".encode()
                )
        ended = srv.wait_log(
            lambda r: r.get("msg") == "request" and str(r.get("request_id")).startswith("gone-"),
            timeout=0.5)
        try:
            rc = srv.stop(timeout=6)  # drain_timeout is 15 s: waiting for it is the failure
        except AssertionError:
            raise AssertionError(
                f"no exit within 6 s of SIGTERM: abandoned uploads are waited for\n{srv.tail(6)}"
            ) from None
        assert rc == 0, srv.tail()
    finally:
        srv.kill()
    # libmicrohttpd notices a closed connection only when it next reads from it,
    # so not every abandoned request is logged before the stop; those that are
    # must be logged as abandoned (499), never as answered
    assert all(r["status"] == 499 for r in ended), ended


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_idle_server_stops_cleanly(tmp_path, sig):
    srv = start_server(tmp_path, db_url_for(tmp_path / "idle.db"), name="idle")
    try:
        started = time.monotonic()
        rc = srv.stop(sig=sig, timeout=10)
        assert rc == 0, srv.tail()
        assert time.monotonic() - started < 5
    finally:
        srv.kill()
    assert any(r.get("msg") == "stopped" for r in srv.log_records())


def test_clean_start_logs_no_warnings(tmp_path):
    """A normal start and stop on a fresh database logs nothing at warn or error
    level (a warning on every start hides real ones)."""
    srv = start_server(tmp_path, db_url_for(tmp_path / "clean.db"), name="clean")
    try:
        assert srv.stop() == 0, srv.tail()
    finally:
        srv.kill()
    noisy = [r for r in srv.log_records() if r.get("level") in ("warn", "error")]
    assert not noisy, noisy


# ---- limiting /metrics: a token, or a separate admin listener ------------------------------

METRICS_TOKEN = "m3trics-" + uuid.uuid4().hex


def test_metrics_token(tmp_path):
    """With metrics_token set, GET /metrics needs it as a Bearer token; the
    rest of the API does not change."""
    from openapi_check import ApiClient

    srv = start_server(tmp_path, db_url_for(tmp_path / "m.db"), name="mtoken",
                       env={"CHATPAY_METRICS_TOKEN": METRICS_TOKEN})
    client = ApiClient(srv.base_url)
    try:
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                        {"Authorization": METRICS_TOKEN},
                        {"Authorization": "Bearer " + METRICS_TOKEN + "x"}):
            r = client.get("/metrics", headers=headers)
            assert r.status_code == 401, (headers, r.text)
            assert r.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
            assert r.body["message"] == ("GET /metrics needs Authorization: Bearer "
                                         "<metrics_token> on this server"), r.body
        r = client.get("/metrics", headers={"Authorization": "Bearer " + METRICS_TOKEN})
        assert r.status_code == 200 and "chatpay_build_info" in r.text
        assert client.get("/livez").status_code == 200
        # /readyz lists the unhealthy providers (merchants' ids) only with the token
        r = client.get("/readyz")
        assert r.status_code == 200 and "unhealthyProviders" not in r.body, r.body
        r = client.get("/readyz", headers={"Authorization": "Bearer " + METRICS_TOKEN})
        assert r.status_code == 200 and r.body["unhealthyProviders"] == [], r.body
    finally:
        client.close()
        assert srv.stop() == 0, srv.tail()
    assert METRICS_TOKEN not in srv.log_text() and METRICS_TOKEN not in srv.stdout()


def test_metrics_token_is_checked_at_start(tmp_path):
    res = run_cli("serve", "--db", db_url_for(tmp_path / "x.db"), "--listen", "127.0.0.1:1",
                  env={"CHATPAY_METRICS_TOKEN": "short"}, timeout=10)
    assert res.returncode != 0
    assert "metrics_token: must be 16 to 255 printable ASCII characters without spaces" in res.stderr


def test_admin_listen(tmp_path):
    """With admin_listen, /metrics moves to that address (404 on the main
    one); the admin listener serves only /metrics and the health checks."""
    from cp_helpers import free_port
    from openapi_check import ApiClient

    admin_port = free_port()
    srv = start_server(tmp_path, db_url_for(tmp_path / "a.db"), name="admin",
                       env={"CHATPAY_ADMIN_LISTEN": f"127.0.0.1:{admin_port}"})
    main, admin = ApiClient(srv.base_url), ApiClient(f"http://127.0.0.1:{admin_port}")
    try:
        r = main.get("/metrics")
        assert r.status_code == 404, r.text
        assert r.body["code"] == "no_route"
        assert main.get("/livez").status_code == 200
        r = admin.get("/metrics")
        assert r.status_code == 200 and "chatpay_build_info" in r.text
        for path in ("/livez", "/readyz"):
            assert admin.get(path).status_code == 200
        # the unhealthy providers are listed on the admin listener only
        r = main.get("/readyz")
        assert r.status_code == 200 and "unhealthyProviders" not in r.body, r.body
        assert admin.get("/readyz").body["unhealthyProviders"] == []
        # the API is not there (the document describes the main listener, so
        # these answers are checked by hand)
        import requests

        for path in ("/api/v2/config", "/openapi.json", "/", "/p/x"):
            r = requests.get(f"http://127.0.0.1:{admin_port}{path}", timeout=5)
            assert r.status_code == 404, (path, r.text)
            assert r.json()["code"] == "no_route" and r.headers["X-Request-Id"], r.text
        # the banner is printed once both listeners and the workers run:
        # the requests above may be answered before it
        srv.wait_stdout(re.escape(f"Admin:      http://127.0.0.1:{admin_port}/metrics"))
    finally:
        main.close()
        admin.close()
        assert srv.stop() == 0, srv.tail()


def test_one_process_of_a_sqlite_database_runs_the_periodic_work(tmp_path):
    """Two servers with workers on one SQLite file: one of them sweeps
    (expiry, repairs, purges), and when it goes the other takes over."""
    db_url = db_url_for(tmp_path / "shared.db")
    mark = "now runs the periodic work"
    a = start_server(tmp_path / "a", db_url, name="a")
    b = start_server(tmp_path / "b", db_url, name="b")
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(mark in p.log_text() for p in (a, b)):
            time.sleep(0.1)
        time.sleep(2)  # a few turns of both sweepers
        leaders = [p for p in (a, b) if mark in p.log_text()]
        assert len(leaders) == 1, [p.log_text()[-400:] for p in (a, b)]
        other = b if leaders[0] is a else a
        leaders[0].kill()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and mark not in other.log_text():
            time.sleep(0.1)
        assert mark in other.log_text(), other.log_text()[-400:]
    finally:
        for p in (a, b):
            if p.alive():
                assert p.stop() == 0, p.tail()
