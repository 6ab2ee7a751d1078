"""Merchant callbacks: payment status, transaction event and settings
callbacks, their Standard Webhooks signatures (and secret rotation), the
integrators' URLs, the retry schedule and what counts as a failed try, the
link history entries, the delivery log (GET /api/v2/callbacks), replay, and
the SSRF guard (when a URL is set, and again when a callback is sent).

Most tests run against a server of their own whose retry schedule is short
(CHATPAY_CALLBACK_RETRY_SCHEDULE=300ms,600ms); one checks the default
schedule on the session server. The receiver is tests/fakes/callback_receiver
(loopback), whose verify() checks signatures independently of chatpay."""

from __future__ import annotations

import base64
import datetime
import functools
import json
import re
import time
import uuid
from urllib.parse import urlencode

import pytest
import requests

from cp_helpers import (
    LINKS,
    SECRETS,
    assert_no_secrets,
    db_exec,
    db_query,
    db_url_for,
    fresh_msisdn,
    history_ids,
    link_body,
    poll,
    run_cli,
    start_server,
)
from openapi_check import ApiClient, get_checker, parse_rfc3339
from cp_helpers import CARD_VISA, card_form
from payment_flow import capture, checkout, new_link, pay_ok, reverse, status_of

from callback_receiver import CallbackReceiver, sign, verify

CALLBACKS = "/api/v2/callbacks"
CONFIG = "/api/v2/config"
INTEGRATION = "/api/v2/integration"
CANCEL = "/api/v2/cancel/"

SCHEDULE = (0.3, 0.6)  # seconds: the short retry schedule of this module's server
SCHEDULE_ENV = {"CHATPAY_CALLBACK_RETRY_SCHEDULE": "300ms,600ms"}
SLACK_S = 0.45  # a retry is made at most this late (the workers look every 200 ms)
WAIT = 10.0  # seconds for a callback that should come at once

# history entries about payment status callbacks themselves
NOTIFICATION_SENT, NOTIFICATION_OK, NOTIFICATION_FAILED = 5, 12, 13
NOTIFICATIONS = {NOTIFICATION_SENT, NOTIFICATION_OK, NOTIFICATION_FAILED}
RECEIVED, SENT, DELIVERED, PAYMENT_STATUS, CANCELLED, CLICKED = 1, 2, 3, 4, 18, 19

SECRET_RE = re.compile(r"whsec_[A-Za-z0-9+/]{43}=")
WEBHOOK_ID_RE = re.compile(r"msg_[0-9A-Za-z]{22}")
CALLBACK_ID_RE = re.compile(r"cb_[0-9A-Za-z]{22}")
HTTP_REFUSED = "refused: a production merchant's callback URL must be https"
STILL_PENDING = ("The callback is still being delivered; it can be sent again once it is "
                 "delivered or given up")
HTTP_500 = "HTTP 500 (delivered means 200)"


@functools.lru_cache(maxsize=None)
def _version() -> str:
    out = run_cli("--version").stdout
    m = re.match(r"chatpay (\S+)", out)
    assert m, out
    return m.group(1)


# ---- fixtures ----------------------------------------------------------------------------


class Shop:
    """A merchant of the test server: ids, key and callback secret."""

    def __init__(self, created: dict):
        self.raw = created
        self.id = created["merchantId"]
        self.key = created["apiKey"]
        self.secret = created["callbackSecret"]


@pytest.fixture(scope="module")
def cbs(tmp_path_factory):
    """This module's server: its own database, retry schedule 300ms,600ms."""
    tmp = tmp_path_factory.mktemp("callbacks")
    proc = start_server(tmp, db_url_for(tmp / "callbacks.db"), name="callbacks", env=SCHEDULE_ENV)
    try:
        yield proc
    finally:
        rc = proc.stop()
        assert rc == 0, f"callback server exited with {rc}:\n{proc.tail(40)}"
        assert_no_secrets(proc.log_text(), f"log {proc.stderr_path}")
        assert_no_secrets(proc.stdout(), f"stdout {proc.stdout_path}")


@pytest.fixture(scope="module")
def ccli(cbs):
    def _cli(*args):
        return run_cli(*args, db_url=cbs.db_url, cwd=cbs.workdir)

    return _cli


@pytest.fixture(scope="module")
def capi(cbs):
    client = ApiClient(cbs.base_url)
    yield client
    client.close()


def _register(created: dict) -> None:
    SECRETS.api_keys.add(created["apiKey"])
    SECRETS.merchant_ids.add(created["merchantId"])
    SECRETS.callback_secrets.add(created["callbackSecret"])


@pytest.fixture(scope="module")
def new_shop(ccli):
    """new_shop(environment=None, currencies="ZAR,USD", **urls) → Shop; urls:
    payment_status=, transaction_event=, settings= (set with merchant update)."""

    def _make(environment=None, currencies="ZAR,USD", **urls):
        args = ["merchant", "create", "--name", f"Hook Shop {uuid.uuid4().hex[:6]}",
                "--currencies", currencies, "--json"]
        if environment:
            args += ["--environment", environment]
        res = ccli(*args)
        assert res.returncode == 0, res.stderr
        shop = Shop(res.json())
        _register(shop.raw)
        if urls:
            res = ccli("merchant", "update", shop.id, *url_args(**urls))
            assert res.returncode == 0, res.stderr
        return shop

    return _make


@pytest.fixture
def rcv():
    r = CallbackReceiver().start()
    yield r
    r.stop()


@pytest.fixture
def http():
    s = requests.Session()
    yield s
    s.close()


# ---- helpers -----------------------------------------------------------------------------


def url_args(payment_status=None, transaction_event=None, settings=None) -> list[str]:
    out = []
    for opt, v in (("--payment-status-callback", payment_status),
                   ("--transaction-event-callback", transaction_event),
                   ("--settings-callback", settings)):
        if v is not None:
            out += [opt, v]
    return out


def show(cli, mid) -> dict:
    res = cli("merchant", "show", mid, "--json")
    assert res.returncode == 0, res.stderr
    return res.json()


def create_link(api, key, **fields) -> tuple[dict, dict]:
    body = link_body(**fields)
    r = api.post(LINKS, key=key, json=body)
    assert r.status_code == 201, r.text
    return body, r.body


def at_path(rcv, path, n, timeout=WAIT) -> list:
    """The deliveries to `path` once there are at least n (fails after timeout)."""
    rcv.wait_for(lambda ds: len([d for d in ds if d.path == path]) >= n, timeout,
                 f"{n} callback(s) to {path}")
    return rcv.received(path)


def deliveries(api, key, **query) -> dict:
    r = api.get(CALLBACKS + ("?" + urlencode(query) if query else ""), key=key)
    assert r.status_code == 200, r.text
    return r.body


def wait_deliveries(api, key, done, timeout=WAIT, **query) -> list[dict]:
    """The delivery log (data) once done(data) holds (the caller asserts)."""
    return poll(lambda: deliveries(api, key, limit=100, **query)["data"], done, timeout, 0.1)


def settled(data) -> bool:
    return bool(data) and all(d["status"] != "pending" for d in data)


def assert_schema(name: str, body, doc: str = "doc"):
    checker = get_checker()
    d = checker.doc if doc == "doc" else checker.c2p
    errors = d.errors(d.schema(name), body)
    assert not errors, f"{name} ({d.name}): {errors}\n{json.dumps(body)[:1500]}"


def assert_headers(d, secret: str | list[str], version: str):
    """Standard Webhooks headers, signed with (each of) the given secret(s)."""
    h = d.headers
    assert h.get("content-type") == "application/json", h
    assert h.get("user-agent") == f"chatpay/{version}", h
    assert WEBHOOK_ID_RE.fullmatch(h.get("webhook-id", "")), h
    assert abs(int(h["webhook-timestamp"]) - d.at) <= 5, (h, d.at)
    secrets = [secret] if isinstance(secret, str) else secret
    assert verify(secrets, d) == secrets, f"not signed with each secret: {h}"


def signature_entries(d) -> list[str]:
    return d.headers["webhook-signature"].split(" ")


def assert_snapshot(payload: dict, later: dict):
    """payload is what GET transaction-status answered when the callback
    was queued: `later` (read afterwards, nothing but payment status
    notifications added since) with its history cut to payload's length."""
    n = len(payload["transactionStatuses"])
    assert later["transactionStatuses"][:n] == payload["transactionStatuses"], (payload, later)
    extra = [e["transactionStatusId"] for e in later["transactionStatuses"][n:]]
    assert set(extra) <= NOTIFICATIONS, extra
    assert {**later, "transactionStatuses": payload["transactionStatuses"]} == payload


def assert_payment_status_payload(payload: dict):
    assert_schema("ChatpayTransactionStatusResponse", payload)
    assert_schema("TransactionStatusEndpointResponse", payload, doc="c2p")


def near(a: datetime.datetime, b: datetime.datetime, seconds: float) -> bool:
    return abs((a - b).total_seconds()) <= seconds


def gaps(times) -> list[float]:
    return [b - a for a, b in zip(times, times[1:])]


def assert_retry_gaps(times, what):
    got = gaps(times)
    assert len(got) == len(SCHEDULE), (what, got)
    for g, want in zip(got, SCHEDULE):
        assert want - 0.01 <= g <= want + SLACK_S, f"{what}: gaps {got}, schedule {SCHEDULE}"


# ---- signatures and headers ---------------------------------------------------------------


def test_callbacks_signed_with_the_secret_from_create(cbs, ccli, capi, new_shop, rcv):
    shop = new_shop()
    assert SECRET_RE.fullmatch(shop.secret), shop.secret
    assert len(base64.b64decode(shop.secret[len("whsec_"):])) == 32
    m = show(ccli, shop.id)
    assert m["callbackSecret"] == shop.secret
    assert m["previousCallbackSecretValidUntil"] is None
    assert (m["paymentStatusCallback"], m["transactionEventCallback"], m["settingsCallback"]) == (
        None, None, None)
    # without URLs nothing is queued
    create_link(capi, shop.key)
    assert deliveries(capi, shop.key) == {"data": [], "hasMore": False}

    res = ccli("merchant", "update", shop.id, "--transaction-event-callback", rcv.url + "/te")
    assert res.returncode == 0, res.stderr
    m = show(ccli, shop.id)
    assert m["transactionEventCallback"] == rcv.url + "/te"
    assert m["paymentStatusCallback"] is None and m["settingsCallback"] is None
    assert m["callbackSecret"] == shop.secret  # setting a URL keeps the secret
    body, ans = create_link(capi, shop.key)
    [d] = at_path(rcv, "/te", 1)
    assert_headers(d, shop.secret, _version())
    assert len(signature_entries(d)) == 1
    other = "whsec_" + base64.b64encode(bytes(32)).decode()
    assert verify(other, d) == []
    # a byte changed in the body breaks the signature
    h = d.headers
    assert sign(shop.secret, h["webhook-id"], h["webhook-timestamp"], d.body + b" ") != \
        h["webhook-signature"]
    assert d.json["paymentLinkRef"] == ans["paymentLinkRef"]
    assert d.json["transactionStatus"] == "PAYMENT_LINK_REQUEST_RECEIVED"

    # the delivery log tells the same
    [logged] = wait_deliveries(capi, shop.key, settled)
    assert CALLBACK_ID_RE.fullmatch(logged["id"]), logged
    assert logged["type"] == "transaction_event"
    assert logged["status"] == "delivered"
    assert logged["paymentLinkRef"] == ans["paymentLinkRef"]
    assert logged["url"] == rcv.url + "/te"
    assert logged["webhookId"] == h["webhook-id"]
    assert logged["payload"] == d.json
    assert logged["nextAttemptAt"] is None
    [a] = logged["attempts"]
    assert a["httpStatus"] == 200 and a["error"] is None and a["latencyMs"] >= 0, a
    assert parse_rfc3339(logged["createdAt"]) <= parse_rfc3339(a["at"]) <= \
        parse_rfc3339(logged["deliveredAt"])
    assert logged["updatedAt"] == logged["deliveredAt"]


def test_rotation_signs_with_both_secrets(ccli, capi, new_shop, rcv):
    shop = new_shop(transaction_event=rcv.url + "/te")
    s1 = shop.secret
    res = ccli("merchant", "rotate-callback-secret", shop.id, "--json")
    assert res.returncode == 0, res.stderr
    rot = res.json()
    SECRETS.callback_secrets.add(rot["callbackSecret"])
    assert set(rot) == {"merchantId", "callbackSecret", "previousCallbackSecretValidUntil"}, rot
    assert rot["merchantId"] == shop.id
    s2 = rot["callbackSecret"]
    assert SECRET_RE.fullmatch(s2) and s2 != s1
    until = parse_rfc3339(rot["previousCallbackSecretValidUntil"])
    now = datetime.datetime.now(datetime.timezone.utc)
    assert near(until, now + datetime.timedelta(hours=24), 60), until
    m = show(ccli, shop.id)
    assert m["callbackSecret"] == s2
    assert m["previousCallbackSecretValidUntil"] == rot["previousCallbackSecretValidUntil"]

    create_link(capi, shop.key)
    [d] = at_path(rcv, "/te", 1)
    entries = signature_entries(d)
    h = d.headers
    assert entries == [sign(s2, h["webhook-id"], h["webhook-timestamp"], d.body),
                       sign(s1, h["webhook-id"], h["webhook-timestamp"], d.body)], entries
    assert_headers(d, [s2, s1], _version())
    # a receiver that knows only the old secret still accepts it, and one
    # that knows only the new one too
    assert verify(s1, d) == [s1]
    assert verify(s2, d) == [s2]

    # a second rotation: the first secret signs no more
    rot2 = ccli("merchant", "rotate-callback-secret", shop.id, "--json").json()
    SECRETS.callback_secrets.add(rot2["callbackSecret"])
    s3 = rot2["callbackSecret"]
    assert s3 not in (s1, s2)
    create_link(capi, shop.key)
    d2 = at_path(rcv, "/te", 2)[1]
    h = d2.headers
    assert signature_entries(d2) == [sign(s3, h["webhook-id"], h["webhook-timestamp"], d2.body),
                                     sign(s2, h["webhook-id"], h["webhook-timestamp"], d2.body)]
    assert verify([s1, s2, s3], d2) == [s2, s3]
    res = ccli("merchant", "rotate-callback-secret", str(uuid.uuid4()), "--json")
    assert res.returncode != 0 and res.stdout == "", res
    assert res.stderr.startswith("chatpay: no merchant "), res.stderr


# ---- payment status callbacks -------------------------------------------------------------


def wait_notified(api, key, ref, n) -> dict:
    """The link's status once n payment status callbacks were delivered."""
    st = poll(lambda: status_of(api, key, ref),
              lambda s: history_ids(s).count(NOTIFICATION_OK) >= n, WAIT, 0.1)
    assert history_ids(st).count(NOTIFICATION_OK) == n, history_ids(st)
    return st


def test_payment_status_callbacks_follow_the_payment(cbs, capi, new_shop, rcv, http):
    shop = new_shop(payment_status=rcv.url + "/ps", transaction_event=rcv.url + "/te")
    version = _version()
    link, _ = pay_ok(capi, cbs, http, shop.key, txn="Authorization")
    [d1] = at_path(rcv, "/ps", 1)
    st1 = wait_notified(capi, shop.key, link.ref, 1)
    assert_headers(d1, shop.secret, version)
    p1 = d1.json
    assert_payment_status_payload(p1)
    assert_snapshot(p1, st1)
    assert p1["paymentStatus"] == "SUCCESS" and p1["paymentStatusId"] == "1"
    assert [e["transactionType"] for e in p1["paymentStatuses"]] == ["Authorization"]
    assert history_ids(p1) == [RECEIVED, CLICKED, PAYMENT_STATUS]
    assert history_ids(st1) == [RECEIVED, CLICKED, PAYMENT_STATUS, NOTIFICATION_SENT,
                                NOTIFICATION_OK]
    assert st1["transactionStatuses"][-1]["httpResponseCode"] == 200

    # a capture keeps the payment status (SUCCESS) and adds no history entry
    # of its own, but the merchant is told: a payment status callback with
    # the capture in paymentStatuses
    r = capture(capi, shop.key, link.ref)
    assert r.status_code == 200, r.text
    dc = at_path(rcv, "/ps", 2)[1]
    st2 = wait_notified(capi, shop.key, link.ref, 2)
    assert_headers(dc, shop.secret, version)
    pc = dc.json
    assert_payment_status_payload(pc)
    assert_snapshot(pc, st2)
    assert pc["paymentStatus"] == "SUCCESS" and pc["paymentStatusId"] == "1"
    assert [e["transactionType"] for e in pc["paymentStatuses"]] == ["Authorization", "Capture"]
    assert pc["paymentStatuses"][1] == r.body
    assert history_ids(pc) == history_ids(st1)
    assert history_ids(st2) == history_ids(st1) + [NOTIFICATION_SENT, NOTIFICATION_OK]

    r = reverse(capi, shop.key, link.ref)
    assert r.status_code == 200, r.text
    d2 = at_path(rcv, "/ps", 3)[2]
    st3 = wait_notified(capi, shop.key, link.ref, 3)
    assert_headers(d2, shop.secret, version)
    p2 = d2.json
    assert_payment_status_payload(p2)
    assert_snapshot(p2, st3)
    assert p2["paymentStatus"] == r.body["paymentStatus"] == st3["paymentStatus"] == "VOIDED"
    assert p2["paymentStatusId"] == "7"
    assert [e["transactionType"] for e in p2["paymentStatuses"]] == [
        "Authorization", "Capture", "Void"]
    assert p2["paymentStatuses"][2] == r.body

    # one webhook-id per event; each delivered at the first try
    assert len({d1.webhook_id, dc.webhook_id, d2.webhook_id}) == 3
    ids = history_ids(st3)
    assert ids == [RECEIVED, CLICKED, PAYMENT_STATUS, NOTIFICATION_SENT, NOTIFICATION_OK,
                   NOTIFICATION_SENT, NOTIFICATION_OK,
                   PAYMENT_STATUS, NOTIFICATION_SENT, NOTIFICATION_OK], ids
    for e in st3["transactionStatuses"]:
        if e["transactionStatusId"] == NOTIFICATION_OK:
            assert e["transactionStatusName"] == "PAYMENT_STATUS_NOTIFICATION_DELIVERY_SUCCESSFUL"
            assert e["httpResponseCode"] == 200, e
        if e["transactionStatusId"] == NOTIFICATION_SENT:
            assert e["transactionStatusName"] == "PAYMENT_STATUS_NOTIFICATION_SENT"
    time.sleep(0.3)
    assert len(rcv.received("/ps")) == 3

    # transaction events: one per history entry, none about the notifications
    want = sorted((e["transactionStatusId"], e["created"]) for e in st3["transactionStatuses"]
                  if e["transactionStatusId"] not in NOTIFICATIONS)
    events = at_path(rcv, "/te", len(want))
    time.sleep(0.5)  # nothing more comes
    events = rcv.received("/te")
    got = sorted((d.json["transactionStatusId"], d.json["timestamp"]) for d in events)
    assert got == want
    for d in events:
        assert_schema("TransactionEventCallback", d.json)
        assert_headers(d, shop.secret, version)


def _event_for(events, status_id):
    found = [d for d in events if d.json["transactionStatusId"] == status_id]
    assert len(found) == 1, (status_id, events)
    return found[0]


def test_transaction_events_for_each_history_entry(capi, new_shop, rcv):
    shop = new_shop(transaction_event=rcv.url + "/te")
    version = _version()
    number = fresh_msisdn()
    sender = fresh_msisdn()
    body, sent = create_link(capi, shop.key, channel="sms", to="+" + number,
                             returnPaymentLink=True, **{"from": "+" + sender})
    ref = sent["paymentLinkRef"]
    at_path(rcv, "/te", 3)
    # the customer opens the link
    token = sent["paymentLink"].rsplit("/p/", 1)[1]
    assert capi.get("/p/" + token).status_code == 200
    at_path(rcv, "/te", 4)
    # another link, cancelled (no channel, no sender given)
    body2, other = create_link(capi, shop.key)
    ref2 = other["paymentLinkRef"]
    r = capi.post(CANCEL + ref2, key=shop.key)
    assert r.status_code == 200, r.text
    at_path(rcv, "/te", 6)
    time.sleep(0.5)
    events = rcv.received("/te")
    assert len(events) == 6, events
    st = status_of(capi, shop.key, ref)
    assert history_ids(st) == [RECEIVED, SENT, DELIVERED, CLICKED], history_ids(st)
    st2 = status_of(capi, shop.key, ref2)
    assert history_ids(st2) == [RECEIVED, CANCELLED], history_ids(st2)
    mine = [d for d in events if d.json["paymentLinkRef"] == ref]
    theirs = [d for d in events if d.json["paymentLinkRef"] == ref2]
    assert len(mine) == 4 and len(theirs) == 2
    for status, link_events, b in ((st, mine, body), (st2, theirs, body2)):
        for e in status["transactionStatuses"]:
            d = _event_for(link_events, e["transactionStatusId"])
            assert_schema("TransactionEventCallback", d.json)
            assert_headers(d, shop.secret, version)
            assert d.json == {
                "paymentLinkRef": status["paymentLinkRef"],
                "orderNumber": b["orderNumber"],
                "transactionStatus": e["transactionStatusName"],
                "transactionStatusId": e["transactionStatusId"],
                "timestamp": e["created"],
                "from": sender if b is body else None,
                "to": b["to"].lstrip("+"),
                "applicationId": None,
            }
    assert {d.json["transactionStatus"] for d in events} == {
        "PAYMENT_LINK_REQUEST_RECEIVED", "PAYMENT_LINK_SENT", "PAYMENT_LINK_DELIVERED",
        "PAYMENT_LINK_CLICKED", "PAYMENT_LINK_CANCELLED"}
    assert len({d.webhook_id for d in events}) == 6


# ---- settings callbacks -------------------------------------------------------------------


def masked(key: str) -> str:
    return key[: key.index("_", 3) + 1] + "****" + key[-4:]


def test_settings_callbacks_for_each_change(ccli, capi, new_shop, rcv):
    shop = new_shop(settings=rcv.url + "/st")
    version = _version()
    n = 0
    newest = [shop.key]  # the active API keys, oldest first

    def expect(changed: list[str], also_at: tuple[str, ...] = ()) -> dict:
        """The next settings callback: the configuration as GET /api/v2/config
        now answers it, plus `changed`."""
        nonlocal n
        n += 1
        d = at_path(rcv, "/st", n)[n - 1]
        assert_headers(d, shop.secret, version)
        body = d.json
        assert_schema("SettingsCallback", body)
        assert body["changed"] == changed, body
        # GET /api/v2/config shows the caller's key; the callback the newest
        # active one
        config = capi.get(CONFIG, key=shop.key)
        assert config.status_code == 200, config.text
        assert {k: v for k, v in body.items() if k not in ("changed", "apiKey")} == \
            {k: v for k, v in config.body.items() if k != "apiKey"}
        assert body["apiKey"] == masked(newest[-1]), (body["apiKey"], newest)
        for path in also_at:
            rcv.wait_for(lambda ds: any(x.path == path and x.json == body for x in ds), WAIT,
                         f"the same callback at {path}")
            [twin] = [x for x in rcv.received(path) if x.json == body]
            assert twin.webhook_id != d.webhook_id
            assert_headers(twin, shop.secret, version)
        return body

    def ok(*args):
        res = ccli(*args)
        assert res.returncode == 0, (args, res.stderr)
        return res

    # API keys: created, revoked
    new = ok("apikey", "create", "--merchant", shop.id, "--json").json()
    newest.append(new["apiKey"])
    expect(["apiKey"])
    ok("apikey", "revoke", new["apiKeyId"])
    newest.pop()
    expect(["apiKey"])
    # the name is not part of the configuration: nothing is sent for it
    ok("merchant", "update", shop.id, "--name", "Renamed Shop")
    ok("merchant", "update", shop.id, "--currencies", "USD,ZAR")
    body = expect(["supportedCurrencies"])
    assert [(c["iso"], c["isDefault"]) for c in body["supportedCurrencies"]] == [
        ("USD", True), ("ZAR", False)]
    ok("merchant", "update", shop.id, "--currencies", "USD,ZAR")  # no change: nothing sent
    ok("merchant", "update", shop.id, "--channels", "sms")
    body = expect(["whatsappChannelEnabled"])
    assert (body["smsChannelEnabled"], body["whatsappChannelEnabled"]) == (True, False)
    ok("merchant", "update", shop.id, "--channels", "whatsapp")
    body = expect(["smsChannelEnabled", "whatsappChannelEnabled"])
    assert (body["smsChannelEnabled"], body["whatsappChannelEnabled"]) == (False, True)

    # integrators: added, status changed; sent to each integrator's URL too
    a = ok("integrator", "add", "--merchant", shop.id, "--name", "Till A", "--type", "OMS",
           "--json").json()
    body = expect(["integrators"])
    assert body["integrators"] == [{"applicationId": a["applicationId"], "name": "Till A",
                                    "status": "ACTIVATED", "type": "OMS"}]
    ok("integrator", "update", a["applicationId"], "--settings-callback", rcv.url + "/ia")
    b = ok("integrator", "add", "--merchant", shop.id, "--name", "Till B", "--type",
           "APPLICATION", "--json").json()
    body = expect(["integrators"], also_at=("/ia",))
    assert [i["applicationId"] for i in body["integrators"]] == [a["applicationId"],
                                                                b["applicationId"]]
    # B's settings URL is the merchant's: one delivery there, not two
    ok("integrator", "update", b["applicationId"], "--settings-callback", rcv.url + "/st")
    r = capi.put(INTEGRATION, key=shop.key,
                 json={"applicationUuid": a["applicationId"], "status": "DEACTIVATED"})
    assert r.status_code == 200, r.text
    body = expect(["integrators"], also_at=("/ia",))
    assert [i["status"] for i in body["integrators"]] == ["DEACTIVATED", "ACTIVATED"]

    # environment: to production (the loopback http URLs are then refused
    # when sending), and back to sandbox (delivered)
    ok("merchant", "update", shop.id, "--environment", "production")
    live = ok("apikey", "create", "--merchant", shop.id, "--json").json()
    assert live["apiKey"].startswith("cp_live_")
    newest.append(live["apiKey"])
    data = wait_deliveries(capi, live["apiKey"],
                           lambda ds: sum(d["type"] == "settings" and d["status"] == "failed"
                                          for d in ds) == 4, timeout=WAIT)
    refused = [d for d in data if d["type"] == "settings" and d["status"] == "failed"]
    assert sorted((d["url"], d["payload"]["changed"][0]) for d in refused) == sorted([
        (rcv.url + "/st", "environment"), (rcv.url + "/ia", "environment"),
        (rcv.url + "/st", "apiKey"), (rcv.url + "/ia", "apiKey")])
    for d in refused:
        assert d["payload"]["environment"] == "PRODUCTION"
        assert d["paymentLinkRef"] is None
        assert [(a["httpStatus"], a["error"]) for a in d["attempts"]] == [(None, HTTP_REFUSED)] * 3
    assert len(rcv.received("/st")) == n
    ok("merchant", "update", shop.id, "--environment", "sandbox")
    body = expect(["environment"], also_at=("/ia",))
    assert body["environment"] == "SANDBOX"
    time.sleep(0.5)
    assert len(rcv.received("/st")) == n == 9
    assert len(rcv.received("/ia")) == 3
    assert len({d.webhook_id for d in rcv.received()}) == 12


# ---- integrators' URLs ---------------------------------------------------------------------


JOB_DELIVER_CALLBACK = 7


def test_try_recorded_by_another_run_keeps_the_callbacks_schedule(cbs, ccli, new_shop, rcv):
    """A run whose try another run of the job recorded meanwhile (its lease
    ran out while it waited on the merchant) records nothing, and the job
    keeps the callback's own next try, not the kind's short backoff (which
    would send the callback again early)."""
    rcv.modes["/slow"] = "slow"
    shop = new_shop(settings=rcv.url + "/slow")
    res = ccli("merchant", "update", shop.id, "--currencies", "USD,ZAR")
    assert res.returncode == 0, res.stderr
    at_path(rcv, "/slow", 1)  # the try is in flight: answered in 2 s
    # meanwhile another run made and recorded the try: next one in an hour
    next_at = int((time.time() + 3600) * 1e6)
    assert db_exec(cbs.db_url, "UPDATE callbacks SET attempts = attempts + 1, next_at = ?"
                   " WHERE merchant_id = ? AND state = 0", (next_at, shop.id)) == 1

    def job():
        rows = db_query(cbs.db_url, "SELECT run_at, locked_until, done_at, last_error FROM jobs"
                        " WHERE merchant_id = ? AND kind = ?", (shop.id, JOB_DELIVER_CALLBACK))
        assert len(rows) == 1, rows
        return rows[0]

    run_at, locked_until, done_at, last_error = poll(job, lambda j: j[1] == 0, WAIT)
    assert done_at == 0
    assert run_at == next_at, (run_at - time.time() * 1e6, last_error)
    # the try this run made is not recorded twice
    [cb] = db_query(cbs.db_url, "SELECT attempts, next_at FROM callbacks WHERE merchant_id = ?",
                    (shop.id,))
    assert cb == (1, next_at)
    time.sleep(1.0)
    assert len(rcv.received("/slow")) == 1


def test_integrator_urls_route_its_links_callbacks(cbs, ccli, capi, new_shop, add_app, rcv,
                                                   http):
    shop = new_shop(payment_status=rcv.url + "/m/ps", transaction_event=rcv.url + "/m/te")
    app = add_app(shop.id)
    res = ccli("integrator", "update", app, "--payment-status-callback", rcv.url + "/a/ps",
               "--json")
    assert res.returncode == 0, res.stderr
    out = res.json()
    assert out["applicationId"] == app and out["merchantId"] == shop.id
    assert (out["paymentStatusCallback"], out["transactionEventCallback"],
            out["settingsCallback"]) == (rcv.url + "/a/ps", None, None)
    [listed] = show(ccli, shop.id)["integrators"]
    assert listed["paymentStatusCallback"] == rcv.url + "/a/ps"
    assert listed["transactionEventCallback"] is None and listed["settingsCallback"] is None

    link, _ = pay_ok(capi, cbs, http, shop.key, applicationId=app)
    [d] = at_path(rcv, "/a/ps", 1)
    assert d.json["paymentLinkRef"] == link.ref
    assert d.json["integrator"]["applicationId"] == app
    assert_headers(d, shop.secret, _version())  # signed with the merchant's secret
    # its transaction events go to the merchant's URL (the integrator has none)
    at_path(rcv, "/m/te", 3)
    assert {e.json["applicationId"] for e in rcv.received("/m/te")} == {app}
    # a link without the applicationId: the merchant's URL
    plain, _ = pay_ok(capi, cbs, http, shop.key)
    [m] = at_path(rcv, "/m/ps", 1)
    assert m.json["paymentLinkRef"] == plain.ref
    # `none`: the merchant's URL again
    res = ccli("integrator", "update", app, "--payment-status-callback", "none", "--json")
    assert res.returncode == 0 and res.json()["paymentStatusCallback"] is None, res
    again, _ = pay_ok(capi, cbs, http, shop.key, applicationId=app)
    at_path(rcv, "/m/ps", 2)
    assert rcv.received("/m/ps")[1].json["paymentLinkRef"] == again.ref
    time.sleep(0.3)
    assert len(rcv.received("/a/ps")) == 1
    assert {e.json["paymentLinkRef"] for e in rcv.received("/m/te")} == {
        link.ref, plain.ref, again.ref}
    # a deleted integrator hears nothing more: its links' callbacks go to the
    # merchant's URL, and settings changes are not sent to it
    res = ccli("integrator", "update", app, "--payment-status-callback", rcv.url + "/a/ps",
               "--settings-callback", rcv.url + "/a/st", "--json")
    assert res.returncode == 0, res.stderr
    late = new_link(capi, shop.key, "Sale", applicationId=app)
    r = capi.put("/api/v2/integration", key=shop.key,
                 json={"applicationUuid": app, "status": "DELETED"})
    assert r.status_code == 200, r.text
    checkout(cbs, http, late, card_form(CARD_VISA))
    at_path(rcv, "/m/ps", 3)
    assert rcv.received("/m/ps")[2].json["paymentLinkRef"] == late.ref
    assert ccli("apikey", "create", "--merchant", shop.id).returncode == 0  # a settings change
    time.sleep(0.5)
    assert len(rcv.received("/a/ps")) == 1 and rcv.received("/a/st") == []
    # unknown integrator
    res = ccli("integrator", "update", str(uuid.uuid4()), "--settings-callback", rcv.url)
    assert res.returncode != 0 and "no integrator" in res.stderr, res


@pytest.fixture(scope="module")
def add_app(ccli):
    def _add(mid):
        res = ccli("integrator", "add", "--merchant", mid, "--name", "Till 9", "--type", "OMS",
                   "--json")
        assert res.returncode == 0, res.stderr
        return res.json()["applicationId"]

    return _add


# ---- retries: schedule, failed tries, history, replay ---------------------------------------


def test_retry_schedule_history_and_replay(cbs, capi, new_shop, rcv, http):
    rcv.modes["/ps"] = "error"
    shop = new_shop(payment_status=rcv.url + "/ps")
    link, _ = pay_ok(capi, cbs, http, shop.key)
    [cb] = wait_deliveries(capi, shop.key, settled, timeout=WAIT)
    tries = 1 + len(SCHEDULE)
    assert cb["type"] == "payment_status" and cb["status"] == "failed", cb
    assert cb["deliveredAt"] is None and cb["nextAttemptAt"] is None
    assert [(a["httpStatus"], a["error"]) for a in cb["attempts"]] == [(500, HTTP_500)] * tries
    at = [parse_rfc3339(a["at"]).timestamp() for a in cb["attempts"]]
    assert_retry_gaps(at, "attempts")
    got = rcv.received("/ps")
    assert len(got) == tries
    assert_retry_gaps([d.at for d in got], "requests received")
    assert {d.webhook_id for d in got} == {cb["webhookId"]}
    for d in got:
        assert_headers(d, shop.secret, _version())
        assert d.json == cb["payload"]
    # no try after the last
    time.sleep(SCHEDULE[-1] + SLACK_S)
    assert len(rcv.received("/ps")) == tries
    st = status_of(capi, shop.key, link.ref)
    entries = st["transactionStatuses"]
    assert history_ids(st) == [RECEIVED, CLICKED, PAYMENT_STATUS, NOTIFICATION_SENT] + \
        [NOTIFICATION_FAILED] * tries
    failed = [e for e in entries if e["transactionStatusId"] == NOTIFICATION_FAILED]
    assert [e["httpResponseCode"] for e in failed] == [500] * tries
    assert [e["responseCodeDescription"] for e in failed] == [
        f"{HTTP_500} (try 1; tried again later)", f"{HTTP_500} (try 2; tried again later)",
        f"{HTTP_500} (try 3; given up)"]
    assert all(e["transactionStatusName"] == "PAYMENT_STATUS_NOTIFICATION_DELIVERY_FAILED"
               for e in failed)

    # replay: same body and webhook-id, a new timestamp and signature
    rcv.modes["/ps"] = "ok"
    time.sleep(1.0)  # a new webhook-timestamp second
    r = capi.post(f"{CALLBACKS}/{cb['id']}/replay", key=shop.key)
    assert r.status_code == 202, r.text
    assert r.body["status"] == "pending" and r.body["id"] == cb["id"]
    assert r.body["webhookId"] == cb["webhookId"] and r.body["payload"] == cb["payload"]
    assert r.body["attempts"] == cb["attempts"]
    assert r.body["nextAttemptAt"] is not None and r.body["deliveredAt"] is None
    [cb2] = wait_deliveries(capi, shop.key, settled, timeout=WAIT)
    assert cb2["status"] == "delivered", cb2
    assert cb2["attempts"][:tries] == cb["attempts"]
    assert [(a["httpStatus"], a["error"]) for a in cb2["attempts"][tries:]] == [(200, None)]
    d = at_path(rcv, "/ps", tries + 1)[tries]
    assert d.webhook_id == cb["webhookId"] and d.json == cb["payload"]
    assert int(d.headers["webhook-timestamp"]) > int(got[-1].headers["webhook-timestamp"])
    assert d.headers["webhook-signature"] != got[-1].headers["webhook-signature"]
    assert_headers(d, shop.secret, _version())
    st = wait_notified(capi, shop.key, link.ref, 1)
    assert history_ids(st)[-2:] == [NOTIFICATION_SENT, NOTIFICATION_OK], history_ids(st)
    assert st["transactionStatuses"][-1]["httpResponseCode"] == 200
    # a delivered callback can be sent again too
    r = capi.post(f"{CALLBACKS}/{cb['id']}/replay", key=shop.key)
    assert r.status_code == 202 and r.body["status"] == "pending", r.text
    at_path(rcv, "/ps", tries + 2)
    assert rcv.received("/ps")[-1].webhook_id == cb["webhookId"]
    # ... until it has been tried 100 times: every try is kept (and is in the
    # link's history), so replays are bounded; the tries made up to 100 here
    wait_deliveries(capi, shop.key, settled, timeout=WAIT)
    (cid,) = db_query(cbs.db_url, "SELECT id FROM callbacks WHERE webhook_id = ?",
                      (cb["webhookId"],))[0]
    made = db_query(cbs.db_url, "SELECT COUNT(*) FROM callback_attempts WHERE callback_id = ?",
                    (cid,))[0][0]
    for _ in range(100 - made):
        db_exec(cbs.db_url, "INSERT INTO callback_attempts (callback_id, at, http_status,"
                            " latency_ms, error) VALUES (?, 1, 200, 1, NULL)", (cid,))
    r = capi.post(f"{CALLBACKS}/{cb['id']}/replay", key=shop.key)
    assert r.status_code == 409, r.text
    assert r.body["message"] == "The callback has been tried 100 times, the most one callback takes"


# ---- where each try goes: the recipient's URL as it is then ---------------------------------

URL_REMOVED = "the callback URL was removed"
INTEGRATOR_DELETED = "the integrator was deleted"
TRIES_MAX = 100


def test_replay_goes_to_the_url_fixed_since(cbs, ccli, capi, new_shop, rcv, http):
    """A merchant whose endpoint failed fixes its URL and replays the given-up
    callback: the replay goes to the new URL, and the log keeps where each
    try went."""
    rcv.modes["/broken"] = "error"
    shop = new_shop(payment_status=rcv.url + "/broken")
    link, _ = pay_ok(capi, cbs, http, shop.key)
    [cb] = wait_deliveries(capi, shop.key, settled)
    tries = 1 + len(SCHEDULE)
    assert cb["status"] == "failed" and cb["url"] == rcv.url + "/broken", cb
    res = ccli("merchant", "update", shop.id, "--payment-status-callback", rcv.url + "/fixed")
    assert res.returncode == 0, res.stderr
    r = capi.post(f"{CALLBACKS}/{cb['id']}/replay", key=shop.key)
    assert r.status_code == 202, r.text
    [d] = at_path(rcv, "/fixed", 1)
    assert d.webhook_id == cb["webhookId"] and d.json == cb["payload"]
    assert_headers(d, shop.secret, _version())
    assert r.body["url"] == rcv.url + "/fixed"
    [cb2] = wait_deliveries(capi, shop.key, settled)
    assert cb2["status"] == "delivered" and cb2["url"] == rcv.url + "/fixed", cb2
    assert len(rcv.received("/broken")) == tries
    assert [(a["url"], a["httpStatus"]) for a in cb2["attempts"]] == \
        [(rcv.url + "/broken", 500)] * tries + [(rcv.url + "/fixed", 200)]
    st = wait_notified(capi, shop.key, link.ref, 1)
    assert history_ids(st)[-2:] == [NOTIFICATION_SENT, NOTIFICATION_OK], history_ids(st)


def test_retry_after_the_url_is_cleared_is_given_up(cbs, ccli, capi, new_shop, rcv, http):
    """A merchant that clears its URL while a callback is being tried: the
    next try is not sent to the old URL; the callback is given up with the
    reason, and cannot be replayed while there is nowhere to send it."""
    rcv.modes["/old"] = "slow"  # the first try fails after 2 s
    shop = new_shop(payment_status=rcv.url + "/old")
    link, _ = pay_ok(capi, cbs, http, shop.key)
    at_path(rcv, "/old", 1)  # the first try is in flight
    res = ccli("merchant", "update", shop.id, "--payment-status-callback", "none")
    assert res.returncode == 0, res.stderr
    [cb] = wait_deliveries(capi, shop.key, settled)
    time.sleep(SCHEDULE[-1] + SLACK_S)
    assert len(rcv.received("/old")) == 1
    assert cb["status"] == "failed" and cb["nextAttemptAt"] is None, cb
    assert [(a["httpStatus"], a["error"]) for a in cb["attempts"]] == [
        (500, HTTP_500), (None, URL_REMOVED)]
    assert [a["url"] for a in cb["attempts"]] == [rcv.url + "/old", None]
    assert cb["url"] == rcv.url + "/old"  # where it last went
    st = status_of(capi, shop.key, link.ref)
    assert [e["responseCodeDescription"] for e in st["transactionStatuses"]
            if e["transactionStatusId"] == NOTIFICATION_FAILED] == [
        f"{HTTP_500} (try 1; tried again later)", f"{URL_REMOVED} (try 2; given up)"]
    r = capi.post(f"{CALLBACKS}/{cb['id']}/replay", key=shop.key)
    assert r.status_code == 409, r.text
    assert r.body["message"] == f"The callback cannot be sent again: {URL_REMOVED}"


@pytest.mark.parametrize("merchant_url", [True, False], ids=["merchant_url", "no_merchant_url"])
def test_integrator_deleted_while_its_callback_is_pending(cbs, ccli, capi, new_shop, add_app,
                                                         rcv, http, merchant_url):
    """README: once the integrator is DELETED its links report to the
    merchant's URL again. A callback of its link still being tried does
    too from its next try (signed with the merchant's secret, as before);
    without a merchant URL it is given up."""
    rcv.modes["/a/ps"] = "slow"
    shop = new_shop(payment_status=rcv.url + "/m/ps") if merchant_url else new_shop()
    app = add_app(shop.id)
    res = ccli("integrator", "update", app, "--payment-status-callback", rcv.url + "/a/ps")
    assert res.returncode == 0, res.stderr
    link, _ = pay_ok(capi, cbs, http, shop.key, applicationId=app)
    at_path(rcv, "/a/ps", 1)  # the first try is in flight
    r = capi.put(INTEGRATION, key=shop.key, json={"applicationUuid": app, "status": "DELETED"})
    assert r.status_code == 200, r.text
    [cb] = wait_deliveries(capi, shop.key, settled)
    time.sleep(SCHEDULE[-1] + SLACK_S)
    assert len(rcv.received("/a/ps")) == 1
    if merchant_url:
        [d] = at_path(rcv, "/m/ps", 1)
        assert d.webhook_id == cb["webhookId"] and d.json["paymentLinkRef"] == link.ref
        assert_headers(d, shop.secret, _version())
        assert cb["status"] == "delivered" and cb["url"] == rcv.url + "/m/ps", cb
        assert [(a["url"], a["httpStatus"]) for a in cb["attempts"]] == [
            (rcv.url + "/a/ps", 500), (rcv.url + "/m/ps", 200)]
    else:
        assert cb["status"] == "failed", cb
        assert [(a["url"], a["error"]) for a in cb["attempts"]] == [
            (rcv.url + "/a/ps", HTTP_500), (None, URL_REMOVED)]


def test_settings_callback_follows_its_recipients_url(cbs, ccli, capi, new_shop, add_app, rcv):
    """An integrator's settings callback goes to that integrator's URL as it
    is at each try (not to the merchant's), and is given up once the
    integrator is deleted (README: it gets no settings callbacks)."""
    shop = new_shop(settings=rcv.url + "/m/st")
    app = add_app(shop.id)
    rcv.modes["/a/st"] = "slow"
    res = ccli("integrator", "update", app, "--settings-callback", rcv.url + "/a/st")
    assert res.returncode == 0, res.stderr
    assert ccli("merchant", "update", shop.id, "--currencies", "USD,ZAR").returncode == 0
    [d] = at_path(rcv, "/a/st", 1)  # the integrator's, in flight
    res = ccli("integrator", "update", app, "--settings-callback", rcv.url + "/a/new")
    assert res.returncode == 0, res.stderr
    [moved] = at_path(rcv, "/a/new", 1)
    assert moved.webhook_id == d.webhook_id and moved.json == d.json
    assert_headers(moved, shop.secret, _version())
    merchants = {m.webhook_id for m in rcv.received("/m/st")}
    assert d.webhook_id not in merchants

    def delivery(webhook_id):
        """The integrator's callback of this webhook-id, once it is settled."""
        def find(data):
            return [c for c in data if c["webhookId"] == webhook_id]
        [cb] = find(wait_deliveries(capi, shop.key, lambda data: settled(find(data))))
        return cb

    cb = delivery(d.webhook_id)
    assert cb["status"] == "delivered" and cb["url"] == rcv.url + "/a/new", cb
    assert [a["url"] for a in cb["attempts"]] == [rcv.url + "/a/st", rcv.url + "/a/new"]
    # deleted while its next one is being tried: given up, nothing to the merchant
    rcv.modes["/a/new"] = "slow"
    assert ccli("merchant", "update", shop.id, "--currencies", "ZAR").returncode == 0
    [_, d2] = at_path(rcv, "/a/new", 2)
    r = capi.put(INTEGRATION, key=shop.key, json={"applicationUuid": app, "status": "DELETED"})
    assert r.status_code == 200, r.text
    cb = delivery(d2.webhook_id)
    time.sleep(SCHEDULE[-1] + SLACK_S)
    assert len(rcv.received("/a/new")) == 2
    assert d2.webhook_id not in {m.webhook_id for m in rcv.received("/m/st")}
    assert cb["status"] == "failed", cb
    assert [(a["url"], a["error"]) for a in cb["attempts"]] == [
        (rcv.url + "/a/new", HTTP_500), (None, INTEGRATOR_DELETED)]


def test_a_replay_ends_at_the_most_tries(cbs, ccli, capi, new_shop, rcv):
    """100 tries in all: a replay accepted at 99 makes one try, not a new
    round of the whole retry schedule."""
    rcv.modes["/st"] = "error"
    shop = new_shop(settings=rcv.url + "/st")
    assert ccli("merchant", "update", shop.id, "--currencies", "USD,ZAR").returncode == 0
    [cb] = wait_deliveries(capi, shop.key, settled)
    tries = 1 + len(SCHEDULE)
    assert cb["status"] == "failed" and len(cb["attempts"]) == tries, cb
    (cid,) = db_query(cbs.db_url, "SELECT id FROM callbacks WHERE merchant_id = ?",
                      (shop.id,))[0]
    for _ in range(TRIES_MAX - 1 - tries):  # tried 99 times
        db_exec(cbs.db_url, "INSERT INTO callback_attempts (callback_id, at, http_status,"
                            " latency_ms, error) VALUES (?, 1, 500, 1, 'HTTP 500')", (cid,))
    r = capi.post(f"{CALLBACKS}/{cb['id']}/replay", key=shop.key)
    assert r.status_code == 202, r.text
    at_path(rcv, "/st", tries + 1)
    time.sleep(sum(SCHEDULE) + 2 * SLACK_S)
    assert len(rcv.received("/st")) == tries + 1
    [cb] = deliveries(capi, shop.key)["data"]
    assert cb["status"] == "failed" and cb["nextAttemptAt"] is None, cb
    assert len(cb["attempts"]) == TRIES_MAX
    r = capi.post(f"{CALLBACKS}/{cb['id']}/replay", key=shop.key)
    assert r.status_code == 409, r.text
    assert r.body["message"] == "The callback has been tried 100 times, the most one callback takes"


def test_closed_connection_is_a_failed_try(capi, new_shop, rcv):
    rcv.modes["/te"] = ["close", "ok"]
    shop = new_shop(transaction_event=rcv.url + "/te")
    create_link(capi, shop.key)
    [cb] = wait_deliveries(capi, shop.key, settled, timeout=WAIT)
    assert cb["status"] == "delivered", cb
    first, second = cb["attempts"]
    assert first["httpStatus"] is None, first
    assert first["error"] and not first["error"].startswith("HTTP"), first
    assert (second["httpStatus"], second["error"]) == (200, None)
    got = rcv.received("/te")
    assert len(got) == 2 and got[0].webhook_id == got[1].webhook_id == cb["webhookId"]
    assert SCHEDULE[0] - 0.01 <= got[1].at - got[0].at <= SCHEDULE[0] + SLACK_S, got


def test_hung_receiver_is_a_failed_try(capi, new_shop, rcv):
    """No answer within 15 s is a failed try (this test takes ~16 s); a
    pending delivery cannot be replayed."""
    rcv.modes["/te"] = ["hang", "ok"]
    shop = new_shop(transaction_event=rcv.url + "/te")
    create_link(capi, shop.key)
    [first] = at_path(rcv, "/te", 1)
    [cb] = deliveries(capi, shop.key)["data"]
    assert cb["status"] == "pending" and cb["attempts"] == [], cb
    r = capi.post(f"{CALLBACKS}/{cb['id']}/replay", key=shop.key)
    assert r.status_code == 409, r.text
    assert r.body["code"] == "conflict" and r.body["message"] == STILL_PENDING, r.body
    [cb] = wait_deliveries(capi, shop.key, settled, timeout=25)
    assert cb["status"] == "delivered", cb
    hung, ok = cb["attempts"]
    assert hung["httpStatus"] is None and hung["error"].startswith("timeout"), hung
    assert 14500 <= hung["latencyMs"] <= 17000, hung
    assert (ok["httpStatus"], ok["error"]) == (200, None)
    second = rcv.received("/te")[1]
    assert second.webhook_id == first.webhook_id
    assert 15 - 0.5 <= second.at - first.at <= 15 + SCHEDULE[0] + SLACK_S + 1


def test_default_retry_schedule(server, api, cli, make_merchant, rcv):
    """The session server keeps the default schedule: the second try is due
    5 s after the first."""
    rcv.mode = "error"
    m = make_merchant()
    SECRETS.callback_secrets.add(m["callbackSecret"])
    res = cli("merchant", "update", m["merchantId"], "--transaction-event-callback",
              rcv.url + "/te")
    assert res.returncode == 0, res.stderr
    create_link(api, m["apiKey"])
    [cb] = wait_deliveries(api, m["apiKey"], lambda ds: ds and ds[0]["attempts"])
    assert cb["status"] == "pending", cb
    [a] = cb["attempts"]
    assert (a["httpStatus"], a["error"]) == (500, HTTP_500)
    due = parse_rfc3339(cb["nextAttemptAt"]) - parse_rfc3339(cb["updatedAt"])
    assert abs(due.total_seconds() - 5) <= 0.002, cb
    r = api.post(f"{CALLBACKS}/{cb['id']}/replay", key=m["apiKey"])
    assert r.status_code == 409 and r.body["message"] == STILL_PENDING, r.text
    assert len(rcv.received()) == 1
    assert verify(m["callbackSecret"], rcv.received()[0]) == [m["callbackSecret"]]


# ---- the delivery log -----------------------------------------------------------------------


def test_delivery_log_filters_and_pages(capi, new_shop, rcv):
    shop = new_shop(transaction_event=rcv.url + "/te")
    refs = [create_link(capi, shop.key)[1]["paymentLinkRef"] for _ in range(5)]
    data = wait_deliveries(capi, shop.key, lambda ds: len(ds) == 5 and settled(ds))
    assert [d["paymentLinkRef"] for d in data] == refs[::-1]  # newest first
    assert all(d["status"] == "delivered" for d in data)
    created = [parse_rfc3339(d["createdAt"]) for d in data]
    assert created == sorted(created, reverse=True)
    assert deliveries(capi, shop.key) == {"data": data, "hasMore": False}  # default limit 20

    pages, after = [], None
    for _ in range(4):
        q = {"limit": 2} | ({"startingAfter": after} if after else {})
        page = deliveries(capi, shop.key, **q)
        pages.append(page)
        if not page["hasMore"]:
            break
        after = page["data"][-1]["id"]
    assert [len(p["data"]) for p in pages] == [2, 2, 1]
    assert [p["hasMore"] for p in pages] == [True, True, False]
    assert [d for p in pages for d in p["data"]] == data
    assert deliveries(capi, shop.key, limit=5) == {"data": data, "hasMore": False}
    assert deliveries(capi, shop.key, startingAfter=data[-1]["id"]) == {"data": [],
                                                                        "hasMore": False}

    one = deliveries(capi, shop.key, paymentLinkRef=refs[2])
    assert one == {"data": [data[2]], "hasMore": False}
    assert deliveries(capi, shop.key, status="delivered", limit=100)["data"] == data
    assert deliveries(capi, shop.key, status="failed") == {"data": [], "hasMore": False}
    assert deliveries(capi, shop.key, status="pending") == {"data": [], "hasMore": False}
    assert deliveries(capi, shop.key, status="delivered", paymentLinkRef=refs[0],
                      limit=1) == {"data": [data[4]], "hasMore": False}


def test_delivery_log_validation_and_tenancy(capi, new_shop, rcv):
    shop = new_shop(transaction_event=rcv.url + "/te")
    _, ans = create_link(capi, shop.key)
    [cb] = wait_deliveries(capi, shop.key, settled)
    other = new_shop()

    def bad(query, error):
        r = capi.get(CALLBACKS + "?" + query, key=shop.key)
        assert r.status_code == 400, (query, r.text)
        assert r.body["code"] == "validation_failed", r.body
        assert r.body["errors"] == [error], (query, r.body)

    status_err = "status: must be pending, delivered or failed"
    limit_err = "limit: must be a whole number from 1 to 100"
    bad("status=bogus", status_err)
    bad("status=DELIVERED", status_err)
    for v in ("0", "101", "abc", "-1", "1.5", ""):
        bad("limit=" + v, limit_err)
    bad("paymentLinkRef=", "paymentLinkRef: must be 1 to 128 characters")
    bad("startingAfter=" + "x" * 129, "startingAfter: must be 1 to 128 characters")
    bad("startingAfter=cb_doesnotexist", "startingAfter: no callback with this id")
    assert deliveries(capi, shop.key, limit=1)["data"] == [cb]
    assert deliveries(capi, shop.key, limit=100)["data"] == [cb]

    r = capi.get(CALLBACKS + "?paymentLinkRef=nosuchlink", key=shop.key)
    assert r.status_code == 404 and r.body["code"] == "not_found", r.text
    r = capi.get(CALLBACKS)
    assert r.status_code == 401, r.text

    # another merchant sees none of it
    assert deliveries(capi, other.key) == {"data": [], "hasMore": False}
    r = capi.get(CALLBACKS + "?" + urlencode({"paymentLinkRef": ans["paymentLinkRef"]}),
                 key=other.key)
    assert r.status_code == 404, r.text
    r = capi.get(CALLBACKS + "?startingAfter=" + cb["id"], key=other.key)
    assert r.status_code == 400 and r.body["errors"] == [
        "startingAfter: no callback with this id"], r.text
    for key, ref in ((other.key, cb["id"]), (shop.key, "cb_doesnotexist")):
        r = capi.post(f"{CALLBACKS}/{ref}/replay", key=key)
        assert r.status_code == 404 and r.body["code"] == "not_found", r.text
        assert r.body["message"] == "No callback with this id"
    time.sleep(0.3)
    assert len(rcv.received()) == 1  # nothing was sent again
    assert deliveries(capi, shop.key)["data"] == [cb]


# ---- the SSRF guard -----------------------------------------------------------------------


ONLY_SANDBOX = " (only sandbox merchants may use such addresses)"


@pytest.mark.parametrize("option,url,message", [
    ("--payment-status-callback", "https://127.0.0.1/cb",
     "host 127.0.0.1 is a loopback address" + ONLY_SANDBOX),
    ("--transaction-event-callback", "https://10.0.0.1/cb",
     "host 10.0.0.1 is a private address" + ONLY_SANDBOX),
    ("--settings-callback", "https://169.254.169.254/latest/meta-data/",
     "host 169.254.169.254 is a link-local address" + ONLY_SANDBOX),
    ("--payment-status-callback", "https://[::1]:8443/cb",
     "host ::1 is a loopback address" + ONLY_SANDBOX),
    ("--settings-callback", "https://localhost/cb", None),
    ("--transaction-event-callback", "http://example.com/cb", "https is required"),
    ("--payment-status-callback", "http://127.0.0.1/cb", "https is required"),
])
def test_production_callback_urls_refused(ccli, new_shop, add_app, option, url, message):
    shop = new_shop(environment="production")
    app = add_app(shop.id)
    for cmd in (["merchant", "update", shop.id], ["integrator", "update", app]):
        res = ccli(*cmd, option, url)
        assert res.returncode != 0, (cmd, res)
        first = res.stderr.splitlines()[0]
        if message is None:  # localhost: whichever loopback address it resolves to
            assert re.fullmatch(
                rf"chatpay: {option}: host localhost resolves to (127\.0\.0\.1|::1), a loopback "
                rf"address" + re.escape(ONLY_SANDBOX), first), first
        else:
            assert first == f"chatpay: {option}: {message}", first
    m = show(ccli, shop.id)
    assert (m["paymentStatusCallback"], m["transactionEventCallback"], m["settingsCallback"]) == (
        None, None, None)
    [it] = m["integrators"]
    assert (it["paymentStatusCallback"], it["transactionEventCallback"],
            it["settingsCallback"]) == (None, None, None)


def test_sandbox_may_use_private_urls_until_production(ccli, new_shop):
    shop = new_shop()
    res = ccli("merchant", "update", shop.id, "--payment-status-callback", "http://10.0.0.1:9/x",
               "--transaction-event-callback", "http://localhost:9/y",
               "--settings-callback", "http://127.0.0.1:9/z")
    assert res.returncode == 0, res.stderr
    m = show(ccli, shop.id)
    assert (m["paymentStatusCallback"], m["transactionEventCallback"], m["settingsCallback"]) == (
        "http://10.0.0.1:9/x", "http://localhost:9/y", "http://127.0.0.1:9/z")
    # the URLs given with --environment production are checked for production
    res = ccli("merchant", "update", shop.id, "--environment", "production",
               "--settings-callback", "http://127.0.0.1:9/w")
    assert res.returncode != 0
    assert res.stderr.splitlines()[0] == "chatpay: --settings-callback: https is required"
    m = show(ccli, shop.id)
    assert m["environment"] == "SANDBOX" and m["settingsCallback"] == "http://127.0.0.1:9/z"
    res = ccli("merchant", "update", shop.id, "--payment-status-callback", "none",
               "--settings-callback", "none")
    assert res.returncode == 0, res.stderr
    m = show(ccli, shop.id)
    assert (m["paymentStatusCallback"], m["transactionEventCallback"], m["settingsCallback"]) == (
        None, "http://localhost:9/y", None)


def test_send_time_refusal_after_switch_to_production(ccli, capi, new_shop, add_app, rcv):
    """URLs a sandbox merchant set stay stored when it moves to production,
    but nothing is sent to them: http is refused, and so is an https URL on
    a loopback address."""
    shop = new_shop(payment_status=rcv.url + "/ps", transaction_event=rcv.url + "/te")
    app = add_app(shop.id)
    tls_url = f"https://127.0.0.1:{rcv.port}/tls"
    res = ccli("integrator", "update", app, "--transaction-event-callback", tls_url)
    assert res.returncode == 0, res.stderr
    res = ccli("merchant", "update", shop.id, "--settings-callback", rcv.url + "/st")
    assert res.returncode == 0, res.stderr
    res = ccli("merchant", "update", shop.id, "--environment", "production")
    assert res.returncode == 0, res.stderr
    # the operator is told at once which stored URLs production refuses
    warned = [line for line in res.stderr.splitlines() if line.startswith("chatpay: warning: ")]
    assert sorted(re.search(r"(the merchant's|integrator \S+'s) (\S+) URL (\S+) ", w).groups()
                  for w in warned) == sorted([
        ("the merchant's", "payment-status-callback", rcv.url + "/ps"),
        ("the merchant's", "transaction-event-callback", rcv.url + "/te"),
        ("the merchant's", "settings-callback", rcv.url + "/st"),
        (f"integrator {app}'s", "transaction-event-callback", tls_url)]), res.stderr
    assert all("will be refused, and given up" in w for w in warned), warned
    live = ccli("apikey", "create", "--merchant", shop.id, "--json").json()
    _, plain = create_link(capi, live["apiKey"])
    _, via_app = create_link(capi, live["apiKey"], applicationId=app)
    data = wait_deliveries(capi, live["apiKey"], lambda ds: len(ds) == 4 and settled(ds))
    by_url = sorted((d["type"], d["url"], d["paymentLinkRef"]) for d in data)
    assert by_url == sorted([
        ("settings", rcv.url + "/st", None),  # environment
        ("settings", rcv.url + "/st", None),  # apiKey
        ("transaction_event", rcv.url + "/te", plain["paymentLinkRef"]),
        ("transaction_event", tls_url, via_app["paymentLinkRef"]),
    ])
    assert sorted(d["payload"]["changed"][0] for d in data if d["type"] == "settings") == [
        "apiKey", "environment"]
    for d in data:
        assert d["status"] == "failed" and d["deliveredAt"] is None, d
        assert len(d["attempts"]) == 1 + len(SCHEDULE), d
        for a in d["attempts"]:
            assert a["httpStatus"] is None, a
            assert a["error"].startswith("refused"), a
            if d["url"] == tls_url:
                assert "127.0.0.1" in a["error"] and "loopback" in a["error"], a
            else:
                assert a["error"] == HTTP_REFUSED, a
    assert rcv.received() == [] and rcv.connections == 0


# ---- secrets ----------------------------------------------------------------------------------


def test_logs_hold_no_callback_secret(cbs, server):
    """Checked again when the servers stop (fixture teardown)."""
    assert len(SECRETS.callback_secrets) >= 5
    log = cbs.log_text()
    assert '"msg":"callback not delivered"' in log  # the log does speak of callbacks
    assert_no_secrets(log, "callback server log")
    assert_no_secrets(server.process.log_text(), "session server log")
