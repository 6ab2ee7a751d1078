"""Merchant callbacks survive a stop or a crash: a server on its own database
sends transaction event callbacks (20 links sent by SMS: 60 events) to a
loopback receiver that either holds every request unanswered ("hold") or
answers 200 after a second ("slow"), so that at the signal some tries are in
flight and the rest are queued (and, "slow", some delivered). The server is
then stopped with SIGTERM, or killed with SIGKILL, and started again on the
same database while the receiver answers 200 at once.

After the restart every event must be delivered: exactly one delivery per
history entry of the links, each event received under one webhook-id (a try
cut short is made again under the same webhook-id, never as a new event),
and the delivery log must agree with what the receiver got. A try cut short
by the stop is not a try: each delivery ends with one recorded try, HTTP 200.

After SIGKILL the tries that were in flight are made again only when their
job's lease (25 s) runs out, so those two cases take about half a minute
each."""

from __future__ import annotations

import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import pytest

from cp_helpers import (
    LINK_STATUS,
    LINKS,
    SECRETS,
    assert_no_secrets,
    migrated_db_url_for,
    fresh_msisdn,
    history_ids,
    link_body,
    poll,
    run_cli,
    start_server,
)
from openapi_check import ApiClient

from callback_receiver import Delivery, verify

CALLBACKS = "/api/v2/callbacks"
LINK_COUNT = 20
WORKERS = 8  # callback worker threads: the tries in flight at the signal
EVENTS_PER_LINK = 3  # PAYMENT_LINK_REQUEST_RECEIVED, _SENT, _DELIVERED
RECEIVED, SENT, DELIVERED = 1, 2, 3
NOTIFICATION_IDS = {5, 12, 13}  # payment status callback entries: no event of their own
QUEUE_TIMEOUT = 15.0  # seconds for the links to be sent and the tries to start
DRAIN_TIMEOUT = {signal.SIGTERM: 20.0, signal.SIGKILL: 45.0}  # after the restart


class HoldingReceiver:
    """A loopback callback endpoint. Modes: "hold": a request is read and
    recorded but not answered (until release; then the connection is
    dropped); "slow": answered 200 after `delay` seconds; "ok": answered 200
    at once. answered[i] is when the answer to deliveries[i] was written (None:
    never)."""

    def __init__(self, mode: str = "hold", delay: float = 1.0):
        self.mode = mode
        self.delay = delay
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.deliveries: list[Delivery] = []
        self.answered: list[float | None] = []
        self.waiting = 0  # requests not answered yet
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver.lock:
                    i = len(receiver.deliveries)
                    receiver.deliveries.append(Delivery(self.path, headers, body, time.time()))
                    receiver.answered.append(None)
                    mode = receiver.mode
                    receiver.waiting += 1
                try:
                    if mode == "hold":
                        receiver.release.wait(90)
                        self.close_connection = True  # no answer
                        return
                    if mode == "slow":
                        time.sleep(receiver.delay)
                    out = b'{"received":true}'
                    with receiver.lock:
                        receiver.answered[i] = time.time()
                    try:
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(out)))
                        self.end_headers()
                        self.wfile.write(out)
                    except OSError:
                        self.close_connection = True
                finally:
                    with receiver.lock:
                        receiver.waiting -= 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/chatpay/events"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "HoldingReceiver":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def answer_at_once(self) -> None:
        with self.lock:
            self.mode = "ok"
        self.release.set()

    def received(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)

    def answers(self) -> list[float | None]:
        with self.lock:
            return list(self.answered)

    def waiting_now(self) -> int:
        with self.lock:
            return self.waiting


def event_key(payload: dict) -> tuple[str, str, str]:
    return payload["paymentLinkRef"], payload["transactionStatus"], payload["timestamp"]


def delivery_log(api, key, status: str | None = None) -> list[dict]:
    """Every delivery of the merchant (all pages; bounded)."""
    out: list[dict] = []
    after = None
    for _ in range(50):
        q = {"limit": 100}
        if status:
            q["status"] = status
        if after:
            q["startingAfter"] = after
        r = api.get(CALLBACKS + "?" + urlencode(q), key=key)
        assert r.status_code == 200, r.text
        out += r.body["data"]
        if not r.body["hasMore"]:
            return out
        after = r.body["data"][-1]["id"]
    raise AssertionError("more than 50 pages of callbacks")


def link_status(api, key, ref) -> dict:
    r = api.get(LINK_STATUS + "?" + urlencode({"paymentLinkRef": ref}), key=key)
    assert r.status_code == 200, r.text
    return r.body


def all_sent(api, key, refs) -> bool:
    return all(history_ids(link_status(api, key, ref)) == [RECEIVED, SENT, DELIVERED]
               for ref in refs)


CASES = [
    # (signal, receiver mode before the signal)
    pytest.param(signal.SIGTERM, "hold", id="sigterm-held"),
    pytest.param(signal.SIGKILL, "hold", id="sigkill-held"),
    pytest.param(signal.SIGTERM, "slow", id="sigterm-slow"),
    pytest.param(signal.SIGKILL, "slow", id="sigkill-slow"),
]
SLOW_DELAY = 1.0  # seconds the "slow" receiver takes to answer
SLOW_BEFORE_SIGNAL = 2 * WORKERS + 4  # requests received before the signal, "slow" mode


@pytest.mark.parametrize("sig, mode", CASES)
def test_callbacks_in_flight_survive(tmp_path, sig, mode):
    """"hold": every try in flight is unanswered at the signal and nothing has
    been delivered; "slow": the receiver answers after a second, so at the
    signal some events are delivered, some tries are in flight (maybe answered
    but not recorded yet) and the rest queued."""
    db_url = migrated_db_url_for(tmp_path / "callbacks.db")
    res = run_cli("merchant", "create", "--name", "Crash Callbacks Shop", "--currencies", "ZAR",
                  "--json", db_url=db_url, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    merchant = res.json()
    key, secret = merchant["apiKey"], merchant["callbackSecret"]
    SECRETS.api_keys.add(key)
    receiver = HoldingReceiver(mode, SLOW_DELAY).start()
    res = run_cli("merchant", "update", merchant["merchantId"], "--transaction-event-callback",
                  receiver.url, db_url=db_url, cwd=tmp_path)
    assert res.returncode == 0, res.stderr

    env = {"CHATPAY_CALLBACK_WORKERS": str(WORKERS)}
    servers = [start_server(tmp_path, db_url, name="callbacks-0", env=env)]
    try:
        api = ApiClient(servers[0].base_url)
        links = {}  # ref → body
        for _ in range(LINK_COUNT):
            body = link_body(channel="sms", to="+" + fresh_msisdn())
            r = api.post(LINKS, key=key, json=body)
            assert r.status_code == 201, r.text
            links[r.body["paymentLinkRef"]] = body
        total = LINK_COUNT * EVENTS_PER_LINK

        # every link sent and delivered: all its events are queued
        sent = poll(lambda: all_sent(api, key, links), bool, QUEUE_TIMEOUT, interval=0.2)
        assert sent, "the links were not sent and delivered in time"
        if mode == "hold":
            # WORKERS tries in flight, held by the receiver; the rest waiting
            held = poll(receiver.waiting_now, lambda n: n >= WORKERS, QUEUE_TIMEOUT,
                        interval=0.05)
            assert held == WORKERS, f"{held} callbacks in flight, want {WORKERS}"
            pending = delivery_log(api, key, "pending")
            assert len(pending) == total, f"{len(pending)} pending deliveries, want {total}"
            assert delivery_log(api, key, "delivered") == []
            assert len({d.webhook_id for d in receiver.received()}) == WORKERS
        else:
            n = poll(lambda: len(receiver.received()), lambda n: n >= SLOW_BEFORE_SIGNAL,
                     QUEUE_TIMEOUT, interval=0.02)
            assert n >= SLOW_BEFORE_SIGNAL, f"only {n} callbacks tried"
            assert poll(receiver.waiting_now, lambda w: w >= 1, 5, interval=0.02) >= 1, \
                "no try in flight"
        api.close()

        if sig == signal.SIGTERM:
            rc = servers[0].stop(signal.SIGTERM)
            assert rc == 0, f"exit {rc} after SIGTERM:\n{servers[0].tail(30)}"
        else:
            servers[0].kill()
        dead_at = time.time()  # the first server is gone: no answer after this was read
        before_signal = len(receiver.received())
        answers = receiver.answers()
        # the tries that were never answered while the server lived must be made again
        cut_short = {d.webhook_id for d, at in zip(receiver.received()[:before_signal], answers)
                     if at is None or at >= dead_at}
        assert cut_short, "no try was in flight at the signal"
        if mode == "slow":
            assert before_signal - len(cut_short) >= 1, "nothing was delivered before the signal"
        receiver.answer_at_once()

        servers.append(start_server(tmp_path, db_url, name="callbacks-1", env=env))
        api = ApiClient(servers[1].base_url)
        started = time.monotonic()

        def drained():
            return (delivery_log(api, key, "pending") == []
                    and len(delivery_log(api, key, "delivered")) == total)

        done = poll(drained, bool, DRAIN_TIMEOUT[sig], interval=0.5)
        waited = time.monotonic() - started
        log = delivery_log(api, key)
        assert done, (f"not delivered {waited:.0f}s after the restart: "
                      f"{sorted(d['status'] for d in log)}")
        histories = {ref: link_status(api, key, ref) for ref in links}
        api.close()
        rc = servers[1].stop()
        assert rc == 0, f"exit {rc} after SIGTERM:\n{servers[1].tail(30)}"
    finally:
        for s in servers:
            s.kill()
        receiver.stop()
    for s in servers:
        assert_no_secrets(s.log_text(), f"log of {s.name}")

    # ---- the delivery log: one delivered delivery per history entry ----
    assert len(log) == total, [d["status"] for d in log]
    for d in log:
        assert d["type"] == "transaction_event", d
        assert d["status"] == "delivered", d
        assert d["url"] == receiver.url, d
        assert d["deliveredAt"] is not None and d["nextAttemptAt"] is None, d
        # a try cut short by the stop or the crash is not a try
        assert len(d["attempts"]) == 1, d
        a = d["attempts"][0]
        assert a["httpStatus"] == 200 and a["error"] is None, d
        assert d["paymentLinkRef"] == d["payload"]["paymentLinkRef"], d
    log_keys = {event_key(d["payload"]): d["webhookId"] for d in log}
    assert len(log_keys) == total, "two deliveries of the same event in the log"
    assert len({d["webhookId"] for d in log}) == total, "a webhook-id used twice in the log"

    history_keys = set()
    for ref, st in histories.items():
        ids = history_ids(st)
        assert ids == [RECEIVED, SENT, DELIVERED], (ref, st["transactionStatuses"])
        for e in st["transactionStatuses"]:
            if e["transactionStatusId"] not in NOTIFICATION_IDS:
                history_keys.add((ref, e["transactionStatusName"], e["created"]))
    assert set(log_keys) == history_keys, (
        f"log has {len(set(log_keys) - history_keys)} events not in the histories and lacks "
        f"{len(history_keys - set(log_keys))}")

    # ---- what the receiver got ----
    got = receiver.received()
    ids_by_event: dict[tuple, set[str]] = {}
    for d in got:
        assert d.path == "/chatpay/events", d
        assert d.headers.get("content-type") == "application/json", d.headers
        assert verify(secret, d, tolerance=600) == [secret], f"bad signature on {d}"
        payload = d.json
        assert set(payload) == {"paymentLinkRef", "orderNumber", "transactionStatus",
                                "transactionStatusId", "timestamp", "from", "to",
                                "applicationId"}, payload
        body = links[payload["paymentLinkRef"]]
        assert payload["orderNumber"] == body["orderNumber"], payload
        assert payload["to"] == body["to"].lstrip("+"), payload
        assert payload["from"] is None and payload["applicationId"] is None, payload
        ids_by_event.setdefault(event_key(payload), set()).add(d.webhook_id)
    assert set(ids_by_event) == set(log_keys), (
        f"received {len(ids_by_event)} events, the log has {len(log_keys)}")
    twice = {k: v for k, v in ids_by_event.items() if len(v) != 1}
    assert not twice, f"events received under more than one webhook-id: {twice}"
    for k, ids in ids_by_event.items():
        assert ids == {log_keys[k]}, (k, ids, log_keys[k])
    # the tries cut short were made again after the restart, under their webhook-id
    again = {d.webhook_id for d in got[before_signal:]}
    assert cut_short <= again, f"not tried again: {sorted(cut_short - again)}"
