"""Several chatpay processes on one PostgreSQL database: two `chatpay serve`
(A and B, each with its workers) and one `chatpay worker`.

Links made on A are read, paid and captured through B; a key revoked with the
CLI is refused by B within a second; a channel changed through the CLI is seen
by both; the same Idempotency-Key sent to both at once makes one operation, and so
does the same Transact clientTxnRef;
kill -9 of A during a burst of creations loses nothing A acknowledged; every
sandbox message is sent exactly once though three processes run jobs; the
periodic work moves to another process when the one doing it dies; and
PostgreSQL restarting under load gives 503s with a JSON body, /readyz not
ready, and service back on its own with nothing acknowledged lost.

PostgreSQL only (CHATPAY_TEST_DB=postgres): the suite's cluster holds the
database."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid

import pytest
import requests

import cp_helpers
from cp_helpers import CARD_VISA, LINKS, card_form, db_query, poll, run_cli, start_server
from openapi_check import ApiClient
from payment_flow import checkout, new_link, status_of

pytestmark = pytest.mark.skipif(not cp_helpers.on_postgres(),
                                reason="several processes share one PostgreSQL database")

PAYMENT = "/api/v2/payment/"
EXPIRED = 10  # PAYMENT_URL_EXPIRED in a link's history


class Worker:
    def __init__(self, workdir, db_url, public_url):
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir / "worker.stderr"
        with open(workdir / "worker.stdout", "wb") as out, open(self.log, "wb") as err:
            self.proc = subprocess.Popen([cp_helpers.chatpay_bin(), "worker", "--db", db_url,
                                          "--public-url", public_url],
                                         stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=workdir, env=cp_helpers.clean_env())

    def log_text(self):
        return self.log.read_text(errors="replace")

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self):
        if self.alive():
            self.proc.terminate()
            self.proc.wait(timeout=30)
        return self.proc.returncode


class Nodes:
    def __init__(self, tmp, pg):
        self.pg = pg
        self.tmp = tmp
        self.db = pg.create_database("multinode")
        res = run_cli("migrate", db_url=self.db)
        assert res.returncode == 0, res.stderr
        m = run_cli("merchant", "create", "--name", "Two Nodes", "--currencies", "ZAR,USD",
                    "--json", db_url=self.db)
        assert m.returncode == 0, m.stderr
        self.merchant = m.json()
        cp_helpers.SECRETS.api_keys.add(self.merchant["apiKey"])
        self.key = self.merchant["apiKey"]
        self.a = start_server(tmp / "a", self.db, name="a")
        self.b = start_server(tmp / "b", self.db, name="b")
        # the links it sends point at A (any node serves every link)
        self.worker = Worker(tmp / "w", self.db, self.a.base_url)
        self.api_a = ApiClient(self.a.base_url)
        self.api_b = ApiClient(self.b.base_url)

    def close(self):
        self.api_a.close()
        self.api_b.close()
        for p in (self.a, self.b):
            if p.alive():
                p.stop()
        self.worker.stop()


@pytest.fixture(scope="module")
def nodes(tmp_path_factory, postgres_cluster):
    n = Nodes(tmp_path_factory.mktemp("multinode"), postgres_cluster)
    yield n
    n.close()


def test_a_link_made_on_a_is_read_paid_and_captured_through_b(nodes, http):
    link = new_link(nodes.api_a, nodes.key, "Authorization")
    st = status_of(nodes.api_b, nodes.key, link.ref)
    assert st["paymentLinkRef"] == link.ref
    checkout(nodes.b, http, link, card_form(CARD_VISA))
    st = status_of(nodes.api_b, nodes.key, link.ref)
    assert st["paymentStatus"] == "SUCCESS", st
    r = nodes.api_b.post(PAYMENT + link.ref + "/capture", key=nodes.key)
    assert r.status_code == 200, r.text
    st = status_of(nodes.api_a, nodes.key, link.ref)
    assert [e["transactionType"] for e in st["paymentStatuses"]] == ["Authorization", "Capture"]


def test_a_key_revoked_with_the_cli_is_refused_on_b_within_a_second(nodes):
    res = run_cli("apikey", "create", "--merchant", nodes.merchant["merchantId"], "--json",
                  db_url=nodes.db)
    assert res.returncode == 0, res.stderr
    k = res.json()
    cp_helpers.SECRETS.api_keys.add(k["apiKey"])
    # both nodes have it in their caches
    for api in (nodes.api_a, nodes.api_b):
        assert api.get("/api/v2/config", key=k["apiKey"]).status_code == 200
    res = run_cli("apikey", "revoke", k["apiKeyId"], db_url=nodes.db)
    assert res.returncode == 0, res.stderr
    revoked = time.monotonic()
    seen = {}
    while len(seen) < 2 and time.monotonic() - revoked < 3:
        for name, api in (("a", nodes.api_a), ("b", nodes.api_b)):
            if name not in seen and api.get("/api/v2/config", key=k["apiKey"]).status_code == 401:
                seen[name] = time.monotonic() - revoked
        time.sleep(0.02)
    assert set(seen) == {"a", "b"}, seen
    assert max(seen.values()) <= 1.0, seen


def test_a_channel_changed_with_the_cli_is_seen_on_both_within_a_second(nodes):
    res = run_cli("merchant", "create", "--name", "Channels", "--currencies", "ZAR", "--json",
                  db_url=nodes.db)
    m = res.json()
    cp_helpers.SECRETS.api_keys.add(m["apiKey"])
    for api in (nodes.api_a, nodes.api_b):
        cfg = api.get("/api/v2/config", key=m["apiKey"]).body
        assert cfg["smsChannelEnabled"] is True, cfg
    res = run_cli("merchant", "update", m["merchantId"], "--channels", "whatsapp", db_url=nodes.db)
    assert res.returncode == 0, res.stderr
    changed = time.monotonic()
    seen = {}
    while len(seen) < 2 and time.monotonic() - changed < 3:
        for name, api in (("a", nodes.api_a), ("b", nodes.api_b)):
            if name in seen:
                continue
            if api.get("/api/v2/config", key=m["apiKey"]).body["smsChannelEnabled"] is False:
                seen[name] = time.monotonic() - changed
        time.sleep(0.02)
    assert set(seen) == {"a", "b"}, seen
    assert max(seen.values()) <= 1.0, seen


def test_one_idempotency_key_sent_to_both_nodes_at_once_is_one_capture(nodes, http):
    for _ in range(3):
        link = new_link(nodes.api_a, nodes.key, "Authorization")
        checkout(nodes.a, http, link, card_form(CARD_VISA))
        h = {"Idempotency-Key": "k-" + uuid.uuid4().hex, "Authorization": nodes.key}
        out = {}
        go = threading.Barrier(2)

        def send(name, base):
            go.wait()
            out[name] = requests.post(base + PAYMENT + link.ref + "/capture", headers=h, timeout=30)

        ts = [threading.Thread(target=send, args=(n, p.base_url))
              for n, p in (("a", nodes.a), ("b", nodes.b))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        codes = sorted(r.status_code for r in out.values())
        assert codes in ([200, 200], [200, 409]), {k: (r.status_code, r.text) for k, r in out.items()}
        if codes == [200, 200]:
            assert out["a"].content == out["b"].content
        st = status_of(nodes.api_b, nodes.key, link.ref)
        assert [e["transactionType"] for e in st["paymentStatuses"]] == ["Authorization", "Capture"]


def test_one_client_txn_ref_sent_to_both_nodes_at_once_is_one_purchase(nodes):
    """Transact's clientTxnRef holds across nodes: the same request sent to
    A and B at the same moment buys once, and both get its raasTxnRef."""
    env = {"CHATPAY_SECRETS_KEY": uuid.uuid4().hex * 2}
    res = run_cli("marketplace", "product", "add", "--id", "310", "--name", "Airtime",
                  "--type", "airtime", "--vendor", "MTN", "--currency", "NGN", "--min", "100",
                  "--max", "100000", db_url=nodes.db)
    assert res.returncode == 0, res.stderr
    res = run_cli("marketplace", "client", "create", "--client-id", "310", "--name", "Two Nodes",
                  "--json", db_url=nodes.db, env=env)
    assert res.returncode == 0, res.stderr
    client = res.json()
    token = nodes.api_a.post("/token", headers={"Content-Type": "application/x-www-form-urlencoded"},
                             data=f"grant_type=client_credentials&client_id=310&"
                                  f"client_secret={client['clientSecret']}").body["access_token"]
    h = {"Authorization": "Bearer " + token, "X-API-Key": client["apiKey"],
         "Content-Type": "application/json"}
    for n in range(5):
        ref = f"two-nodes-{n}-{uuid.uuid4().hex[:8]}"
        body = ('{"purchaseAmount":1000,"channelId":7,"channelName":"USSD",'
                f'"channelSessionId":"s{n}","clientId":310,"clientTxnRef":"{ref}",'
                f'"productId":310,"reserveFundsTxnRef":"r-{ref}","sourceIdentifier":"2341234567899",'
                '"targetIdentifier":"2348012345555","timestamp":"2026-12-06T10:00:00Z",'
                '"feeAmount":0,"currencyCode":"NGN","fundingSourceId":310}')
        out = {}
        go = threading.Barrier(2)

        def send(name, api):
            go.wait()
            out[name] = api.post("/core-transact/4.0", headers=h, data=body)

        ts = [threading.Thread(target=send, args=(name, api))
              for name, api in (("a", nodes.api_a), ("b", nodes.api_b))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert [out[k].status_code for k in "ab"] == [202, 202], {k: r.text for k, r in out.items()}
        assert out["a"].body["raasTxnRef"] == out["b"].body["raasTxnRef"]
        rows = db_query(nodes.db, "SELECT raas_ref FROM mp_purchases WHERE client_txn_ref = ?",
                        (ref,))
        assert rows == [(out["a"].body["raasTxnRef"],)]


def _link_body(order):
    return {"channel": "sms", "to": cp_helpers.fresh_msisdn(), "orderNumber": order,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "currency": "ZAR", "totalAmount": 10.00}


def _burst(base, key, acked, stop, errors):
    s = requests.Session()
    for _ in range(100000):  # bounded: stopped long before by `stop`
        if stop.is_set():
            return
        order = "burst-" + uuid.uuid4().hex[:12]
        try:
            r = s.post(base + LINKS, json=_link_body(order), headers={"Authorization": key},
                       timeout=10)
        except requests.RequestException:
            errors.append(order)
            continue
        if r.status_code == 201:
            acked.append(r.json()["paymentLinkRef"])


def test_kill_9_of_a_during_a_burst_loses_nothing_it_acknowledged(nodes):
    acked, errors, stop = [], [], threading.Event()
    ts = [threading.Thread(target=_burst, args=(nodes.a.base_url, nodes.key, acked, stop, errors))
          for _ in range(4)]
    for t in ts:
        t.start()
    deadline = time.monotonic() + 20
    while len(acked) < 60 and time.monotonic() < deadline:
        time.sleep(0.01)
    nodes.a.kill()
    time.sleep(0.3)
    stop.set()
    for t in ts:
        t.join(timeout=15)
    assert len(acked) >= 60, (len(acked), nodes.a.tail())
    for ref in acked:
        st = status_of(nodes.api_b, nodes.key, ref)
        assert st["paymentLinkRef"] == ref
    # B and the worker send every link's message; a job A held when it died
    # is taken again after its lease (15 s)
    refs = tuple(acked)
    marks = ",".join("?" * len(refs))
    sql = ("SELECT l.ref, COUNT(m.id) FROM links l LEFT JOIN sandbox_messages m ON m.link_id = l.id"
           f" WHERE l.ref IN ({marks}) GROUP BY l.ref")
    deadline = time.monotonic() + 40
    while True:
        counts = dict(db_query(nodes.db, sql, refs))
        if all(counts.get(r) == 1 for r in refs) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert all(counts.get(r) == 1 for r in refs), {r: c for r, c in counts.items() if c != 1}
    dup = db_query(nodes.db, "SELECT job_id, COUNT(*) FROM sandbox_messages GROUP BY job_id"
                             " HAVING COUNT(*) > 1")
    assert dup == []


def _leaders(procs):
    return [p for p in procs
            if p.alive() and "now runs the periodic work" in p.log_text()]


def test_the_periodic_work_moves_when_the_process_doing_it_dies(nodes):
    procs = [p for p in (nodes.a, nodes.b, nodes.worker) if p.alive()]
    deadline = time.monotonic() + 5
    while not _leaders(procs) and time.monotonic() < deadline:
        time.sleep(0.1)
    leaders = _leaders(procs)
    assert len(leaders) == 1, [p.log_text()[-500:] for p in procs]
    leaders[0].kill()
    rest = [p for p in procs if p is not leaders[0]]
    deadline = time.monotonic() + 10
    while not _leaders(rest) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(_leaders(rest)) == 1
    # and the sweep runs: a link past its time expires (asked through B, or
    # through a node started now when B was the one that died)
    node = nodes.b if nodes.b.alive() else start_server(nodes.tmp / "c", nodes.db, name="c",
                                                         extra_args=["--no-workers"])
    api = ApiClient(node.base_url)
    try:
        link = new_link(api, nodes.key, "Sale")
        nodes.pg.sql(nodes.db, f"UPDATE links SET expires_at = 1 WHERE ref = '{link.ref}'")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            st = status_of(api, nodes.key, link.ref)
            if EXPIRED in cp_helpers.history_ids(st):
                break
            time.sleep(0.2)
        assert EXPIRED in cp_helpers.history_ids(st), st
    finally:
        api.close()
        if node is not nodes.b:
            assert node.stop() == 0


def _reads(base, key):
    def reads(ref, out):
        def one():
            s = requests.Session()
            for _ in range(5):
                out.append(s.get(base + "/api/v2/chat-2-pay/transaction-status",
                                 params={"paymentLinkRef": ref},
                                 headers={"Authorization": key}, timeout=15).status_code)

        ts = [threading.Thread(target=one) for _ in range(16)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=30)
    return reads


def test_postgresql_restarting_under_load(postgres_cluster, tmp_path):
    pg = postgres_cluster
    db = pg.create_database("restart")
    m = run_cli("merchant", "create", "--name", "Restart", "--currencies", "ZAR", "--json",
                db_url=db).json()
    cp_helpers.SECRETS.api_keys.add(m["apiKey"])
    srv = start_server(tmp_path, db, name="restart",
                       env={"CHATPAY_DB_STATEMENT_TIMEOUT_MS": "2000"})
    reads = _reads(srv.base_url, m["apiKey"])
    try:
        acked, failures, stop = [], [], threading.Event()
        slow, ts = [], []

        def load():
            s = requests.Session()
            for _ in range(100000):  # bounded: stopped long before by `stop`
                if stop.is_set():
                    return
                order = "rs-" + uuid.uuid4().hex[:12]
                t0 = time.monotonic()
                try:
                    r = s.post(srv.base_url + LINKS, json=_link_body(order),
                               headers={"Authorization": m["apiKey"]}, timeout=15)
                except requests.RequestException as e:
                    failures.append(repr(e))
                    continue
                took = time.monotonic() - t0
                if took > 4:
                    slow.append(took)
                if r.status_code == 201:
                    acked.append(r.json()["paymentLinkRef"])
                else:
                    failures.append((r.status_code, r.headers.get("Content-Type"), r.text))

        ts = [threading.Thread(target=load) for _ in range(4)]
        for t in ts:
            t.start()
        before = len(poll(lambda: acked, lambda a: len(a) >= 20, timeout=15))
        assert before > 0, failures[-5:]
        # fill the pool: 16 connections open when the server goes away
        warm = []
        reads(acked[-1], warm)
        assert warm == [200] * 80, warm
        pg.stop_server()
        time.sleep(0.5)
        down = requests.get(srv.base_url + "/readyz", timeout=10)
        down_body = down.json()
        time.sleep(1.0)
        pg.start_server()
        deadline = time.monotonic() + 15
        resumed = False
        while time.monotonic() < deadline:
            n = len(acked)
            time.sleep(0.5)
            if len(acked) > n + 5:
                resumed = True
                break
        stop.set()
        for t in ts:
            t.join(timeout=20)
        up = requests.get(srv.base_url + "/readyz", timeout=10)
        # every connection of the pool works again, not only the first one
        # used: reads from 16 threads at once, none refused
        after = []
        reads(acked[-1], after)
    finally:
        stop.set()  # the load ends even when a step above failed
        for t in ts:
            t.join(timeout=20)
        rc = srv.stop()
    assert down.status_code == 503 and down_body["status"] != "ready", down.text
    assert up.status_code == 200, up.text
    assert resumed, (len(acked), failures[-5:])
    assert after == [200] * 80, after
    # while the database was away: 503 with a JSON body, none slower than
    # the statement timeout and the connect timeout allow
    assert failures, "the restart was not seen"
    for f in failures:
        assert isinstance(f, tuple) and f[0] == 503, f
        assert f[1].startswith("application/json"), f
    assert not slow, slow
    assert rc == 0
    # nothing acknowledged is lost
    refs = tuple(acked)
    marks = ",".join("?" * len(refs))
    found = db_query(db, f"SELECT ref FROM links WHERE ref IN ({marks})", refs)
    assert len(found) == len(refs)


def _node_with_timeout(pg, tmp_path, name, timeout_s):
    """A database of its own with a merchant, and a node on it with a
    statement timeout of timeout_s: (db URL, merchant, server)."""
    db = pg.create_database(name)
    m = run_cli("merchant", "create", "--name", name.title(), "--currencies", "ZAR", "--json",
                db_url=db).json()
    cp_helpers.SECRETS.api_keys.add(m["apiKey"])
    srv = start_server(tmp_path, db, name=name,
                       env={"CHATPAY_DB_STATEMENT_TIMEOUT_MS": str(int(timeout_s * 1000))})
    return db, m, srv


def test_a_lock_held_elsewhere_does_not_make_each_write_wait_out_a_timeout(postgres_cluster,
                                                                           tmp_path):
    """A session elsewhere holds the links table. The node's writes share
    one connection: each request used to wait out the statement timeout in
    turn behind the one before (8 writes took 8 timeouts); now a request
    whose turn comes after 1.5 timeouts is answered 503 without running."""
    pg = postgres_cluster
    timeout_s = 2.0
    db, m, srv = _node_with_timeout(pg, tmp_path, "lockheld", timeout_s)
    out, holder = [], None

    def create():
        t0 = time.monotonic()
        try:
            r = requests.post(srv.base_url + LINKS, json=_link_body("lk-" + uuid.uuid4().hex[:12]),
                              headers={"Authorization": m["apiKey"]}, timeout=60)
            out.append((time.monotonic() - t0, r.status_code, r.headers.get("Content-Type", "")))
        except requests.RequestException as e:
            out.append((time.monotonic() - t0, repr(e), ""))

    try:
        create()
        assert out.pop()[1] == 201
        holder = subprocess.Popen(
            [pg._bin("psql"), "-X", "-q", db, "-c",
             "BEGIN; LOCK TABLE links IN SHARE MODE; SELECT pg_sleep(30); COMMIT;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        poll(lambda: db_query(db, "SELECT COUNT(*) FROM pg_locks l JOIN pg_class c"
                                  " ON c.oid = l.relation WHERE c.relname = 'links'"
                                  " AND l.mode = 'ShareLock' AND l.granted", ()),
             lambda rows: rows[0][0] > 0, timeout=10)
        ts = [threading.Thread(target=create) for _ in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=60)
    finally:
        if holder:
            holder.kill()
            holder.wait()
        rc = srv.stop()
    assert rc == 0
    assert len(out) == 8, out
    for took, status, ctype in out:
        assert status == 503 and ctype.startswith("application/json"), out
    # at most 1.5 timeouts in the queue, then one running: 2.5 timeouts
    assert max(took for took, _, _ in out) < 3 * timeout_s, sorted(out)


def test_a_stalled_postgresql_is_answered_503_in_bounded_time(postgres_cluster, tmp_path):
    """PostgreSQL's processes stop (SIGSTOP: a frozen host or VM): its
    socket still takes connections and bytes but nothing answers, so the
    server's statement timeout never fires. Creations, reads and /readyz
    are answered 503 with JSON within the statement timeout, a second of
    grace and a connect timeout, not held until the client gives up; and
    service comes back on its own once the server goes on."""
    pg = postgres_cluster
    timeout_s = 2.0
    _, m, srv = _node_with_timeout(pg, tmp_path, "stalled", timeout_s)
    key = {"Authorization": m["apiKey"]}
    out, pids = [], []

    def call(kind, method, path, **kw):
        t0 = time.monotonic()
        try:
            r = requests.request(method, srv.base_url + path, timeout=40, **kw)
            out.append((kind, round(time.monotonic() - t0, 1), r.status_code,
                        r.headers.get("Content-Type", "")))
        except requests.RequestException as e:
            out.append((kind, round(time.monotonic() - t0, 1), repr(e), ""))

    try:
        r = requests.post(srv.base_url + LINKS, json=_link_body("st-" + uuid.uuid4().hex[:12]),
                          headers=key, timeout=15)
        assert r.status_code == 201, r.text
        ref = r.json()["paymentLinkRef"]
        warm = []
        _reads(srv.base_url, m["apiKey"])(ref, warm)  # pooled connections, open and idle
        assert warm == [200] * 80, warm
        pids = pg.pause()
        calls = [("create", "POST", LINKS,
                  {"json": _link_body("st-" + uuid.uuid4().hex[:12]), "headers": key})
                 for _ in range(4)]
        calls += [("read", "GET", "/api/v2/chat-2-pay/transaction-status",
                   {"params": {"paymentLinkRef": ref}, "headers": key}) for _ in range(4)]
        calls += [("readyz", "GET", "/readyz", {})]
        ts = [threading.Thread(target=call, args=c[:3], kwargs=c[3]) for c in calls]
        for t in ts:
            t.start()
        for t in ts:
            t.join(timeout=60)
        # a second round, on connections the first round found stalled
        round2 = len(out)
        call("read", "GET", "/api/v2/chat-2-pay/transaction-status",
             params={"paymentLinkRef": ref}, headers=key)
        call("create", "POST", LINKS, json=_link_body("st-" + uuid.uuid4().hex[:12]),
             headers=key)
        pg.resume(pids)
        pids = []
        back = poll(lambda: requests.post(srv.base_url + LINKS,
                                          json=_link_body("st-" + uuid.uuid4().hex[:12]),
                                          headers=key, timeout=15).status_code,
                    lambda s: s == 201, timeout=20)
        ready = requests.get(srv.base_url + "/readyz", timeout=10)
    finally:
        pg.resume(pids)
        rc = srv.stop()
    assert rc == 0
    assert len(out) == 11, out
    for kind, took, status, ctype in out:
        assert status == 503 and ctype.startswith("application/json"), out
    # a round trip gives up after the statement timeout and a second, a new
    # connection after the connect timeout (3 s); a write may wait for the
    # writer to finish one of those first
    assert max(took for _, took, _, _ in out[:round2]) < 2 * (timeout_s + 1) + 3 + 1, out
    assert max(took for _, took, _, _ in out[round2:]) < timeout_s + 1 + 3 + 1, out
    assert back == 201
    assert ready.status_code == 200, ready.text
