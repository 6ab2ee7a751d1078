"""The Stripe fake on its own (no chatpay): auth, Checkout Sessions and the
hosted page, PaymentIntents, refunds, idempotency, failure modes and the
webhook driver. Webhook signatures are checked both with the module's
verify_stripe_signature and with code written here (hmac/hashlib only).

Run: /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/fakes/test_stripe_fake.py
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import re
import socket
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from fake_http import TinyServer, call, standalone
from stripe_fake import (COMPLETE_MESSAGE, EXPIRED_MESSAGE, INVALID_NUMBER_MESSAGE, THREE_DS_MESSAGE, StripeFake,
                         decode_form, stripe_signature, verify_stripe_signature)

HERE = Path(__file__).resolve().parent
SK = "sk_test_51Fake0123456789abcdef"
WHSEC = "whsec_test_0123456789abcdef"
SUCCESS_URL = "https://shop.example/paid?cs={CHECKOUT_SESSION_ID}&x=1"
CANCEL_URL = "https://shop.example/back?l=7"


# ---------------------------------------------------------------------------
# helpers


def api(fake, method, path, params=None, *, key=SK, basic=False, idem=None, timeout=5.0, headers=None):
    """A Stripe API call: (status, headers, parsed JSON or raw bytes)."""
    h = dict(headers or {})
    if key is not None:
        h["Authorization"] = ("Basic " + base64.b64encode(f"{key}:".encode()).decode()) if basic else f"Bearer {key}"
    if idem is not None:
        h["Idempotency-Key"] = idem
    body = b""
    if params is not None:
        body = urllib.parse.urlencode(params).encode()
        h["Content-Type"] = "application/x-www-form-urlencoded"
    st, hd, b = call(method, fake.base_url + path, body, h, timeout)
    try:
        return st, hd, json.loads(b)
    except ValueError:
        return st, hd, b


def session_params(**over):
    p = {
        "mode": "payment", "success_url": SUCCESS_URL, "cancel_url": CANCEL_URL,
        "line_items[0][price_data][currency]": "usd",
        "line_items[0][price_data][unit_amount]": "1500",
        "line_items[0][price_data][product_data][name]": "Invoice 42",
        "line_items[0][quantity]": "2",
        "line_items[1][price_data][currency]": "USD",
        "line_items[1][price_data][unit_amount]": "1000",
        "line_items[1][price_data][product_data][name]": "Delivery",
        "line_items[1][quantity]": "1",
        "client_reference_id": "link_abc",
        "metadata[link_id]": "link_abc", "metadata[tenant]": "acme",
        "payment_intent_data[metadata][link_id]": "link_abc",
    }
    for k, v in over.items():
        if v is None:
            p.pop(k, None)
        else:
            p[k] = v
    return p


def create_session(fake, **over):
    st, _, s = api(fake, "POST", "/v1/checkout/sessions", session_params(**over))
    assert st == 200, s
    return s


def get(fake, kind, oid):
    st, _, o = api(fake, "GET", f"/v1/{kind}/{oid}")
    assert st == 200, o
    return o


def parse_sig(header):
    """Independent parse of Stripe-Signature: (first t, [v1...], [v0...])."""
    items = [i.split("=", 1) for i in header.split(",")]
    ts = [int(v) for k, v in items if k == "t"]
    return ts[0], [v for k, v in items if k == "v1"], [v for k, v in items if k == "v0"]


def independent_ok(header, body, secret=WHSEC, tolerance=300):
    t, v1s, _ = parse_sig(header)
    want = hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(want, v) for v in v1s) and t >= time.time() - tolerance


class Receiver(TinyServer):
    """chatpay's webhook endpoint on loopback: records (path, headers, body)
    of every POST and answers "ok" with the next status of `statuses` (the
    last one stays)."""

    methods = ("POST",)

    def __init__(self):
        self.statuses = [200]
        super().__init__(self._answer)

    def record(self, handler, body):
        return super().record(handler, body)[1:]

    def _answer(self, handler, body):
        with self.cond:
            st = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return st, {}, b"ok"

    def reset(self):
        with self.cond:
            self.got.clear()
            self.statuses = [200]

    def events(self):
        with self.cond:
            return [json.loads(b) for _, _, b in self.got]

    def types(self):
        return [e["type"] for e in self.events()]


@pytest.fixture(scope="module")
def _receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def receiver(_receiver):
    _receiver.reset()
    yield _receiver


@pytest.fixture
def fake(receiver):
    f = StripeFake(secret_key=SK, webhook_secret=WHSEC, hang_seconds=1.0, webhook_url=receiver.url + "/wh/stripe",
                   webhook_retry_delay=0.05, refund_fail_delay=None)
    yield f
    f.stop()


class Clock:
    def __init__(self, t=1_800_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


# ===========================================================================
# auth, form decoding


def test_auth(fake):
    s = create_session(fake)
    st, hd, body = api(fake, "GET", f"/v1/checkout/sessions/{s['id']}", basic=True)
    assert st == 200 and body["id"] == s["id"] and hd["request-id"].startswith("req_")
    for key in (None, "sk_test_wrong", "sk_live_51Fake0123456789abcdef", "pk_test_abc"):
        st, hd, body = api(fake, "POST", "/v1/checkout/sessions", session_params(), key=key)
        assert st == 401, key
        assert body["error"]["type"] == "invalid_request_error" and body["error"]["message"]
        assert hd["request-id"].startswith("req_")
    st, _, body = api(fake, "GET", f"/v1/checkout/sessions/{s['id']}", key="sk_test_wrong", basic=True)
    assert st == 401
    st, _, body = api(fake, "GET", f"/v1/checkout/sessions/{s['id']}",
                      headers={"Authorization": "Token " + SK}, key=None)
    assert st == 401
    assert len(fake.sessions) == 1
    # a 401 does not use up a mode
    fake.set_mode("rate_limit", count=1)
    assert api(fake, "POST", "/v1/checkout/sessions", session_params(), key="nope")[0] == 401
    assert api(fake, "POST", "/v1/checkout/sessions", session_params())[0] == 429
    assert api(fake, "POST", "/v1/checkout/sessions", session_params())[0] == 200
    # unknown route, authenticated
    st, _, body = api(fake, "GET", "/v1/customers/cus_1")
    assert st == 404 and body["error"]["type"] == "invalid_request_error"


def test_live_key_fake(receiver):
    live = "sk_live_51Fake0123456789abcdef"
    f = StripeFake(secret_key=live)
    try:
        assert api(f, "POST", "/v1/checkout/sessions", session_params(), key=SK)[0] == 401
        st, _, s = api(f, "POST", "/v1/checkout/sessions", session_params(), key=live)
        assert st == 200 and s["id"].startswith("cs_live_") and s["livemode"] is True
    finally:
        f.stop()


def test_decode_form():
    body = urllib.parse.urlencode([
        ("line_items[0][price_data][unit_amount]", "2000"), ("line_items[1][quantity]", "1"),
        ("line_items[0][quantity]", "3"), ("metadata[k]", "v"), ("expand[]", "a"), ("expand[]", "b"),
        ("plain", "x y"),
    ])
    assert decode_form(body) == {
        "line_items": [{"price_data": {"unit_amount": "2000"}, "quantity": "3"}, {"quantity": "1"}],
        "metadata": {"k": "v"}, "expand": ["a", "b"], "plain": "x y"}
    assert decode_form(b"") == {}
    for bad in ("a=1&a[b]=2", "a[b]=1&a=2", "a]=1"):
        with pytest.raises(ValueError):
            decode_form(bad)


# ===========================================================================
# Checkout Sessions


def test_checkout_create_shape(fake):
    t0 = time.time()
    st, hd, s = api(fake, "POST", "/v1/checkout/sessions",
                    session_params(locale="fr", **{"payment_intent_data[capture_method]": "automatic"}))
    assert st == 200 and hd["content-type"].startswith("application/json") and hd["request-id"].startswith("req_")
    assert re.fullmatch(r"cs_test_[A-Za-z0-9]{20,}", s["id"])
    assert s["object"] == "checkout.session" and s["url"] == f"{fake.base_url}/c/pay/{s['id']}"
    assert (s["status"], s["payment_status"], s["payment_intent"]) == ("open", "unpaid", None)
    assert s["amount_total"] == 1500 * 2 + 1000 and s["currency"] == "usd"
    assert s["livemode"] is False and s["client_reference_id"] == "link_abc"
    assert s["metadata"] == {"link_id": "link_abc", "tenant": "acme"}
    assert s["success_url"] == SUCCESS_URL and s["cancel_url"] == CANCEL_URL and s["locale"] == "fr"
    assert abs(s["expires_at"] - (t0 + 24 * 3600)) < 5
    assert get(fake, "checkout/sessions", s["id"]) == s
    # optional fields absent
    s2 = create_session(fake, client_reference_id=None, **{"metadata[link_id]": None, "metadata[tenant]": None})
    assert s2["client_reference_id"] is None and s2["metadata"] == {} and s2["locale"] is None
    st, _, b = api(fake, "GET", "/v1/checkout/sessions/cs_test_nope")
    assert st == 404 and b["error"]["code"] == "resource_missing"


LI = "line_items[0]"


@pytest.mark.parametrize("over,code,param", [
    ({"mode": None}, "parameter_missing", "mode"),
    ({"mode": "subscription"}, "parameter_invalid_string", "mode"),
    ({"success_url": None}, "parameter_missing", "success_url"),
    ({"success_url": ""}, "parameter_invalid_empty", "success_url"),
    ({"success_url": "shop.example/ok"}, "url_invalid", "success_url"),
    ({"cancel_url": None}, "parameter_missing", "cancel_url"),
    ({k: None for k in session_params() if k.startswith("line_items")}, "parameter_missing", "line_items"),
    ({f"{LI}[price_data][unit_amount]": None}, "parameter_missing", f"{LI}[price_data][unit_amount]"),
    ({f"{LI}[price_data][unit_amount]": "15.00"}, "parameter_invalid_integer", f"{LI}[price_data][unit_amount]"),
    ({f"{LI}[price_data][currency]": None}, "parameter_missing", f"{LI}[price_data][currency]"),
    ({f"{LI}[price_data][currency]": "dollars"}, "parameter_invalid_string", f"{LI}[price_data][currency]"),
    ({f"{LI}[price_data][product_data][name]": None}, "parameter_missing", f"{LI}[price_data][product_data]"),
    ({f"{LI}[quantity]": None}, "parameter_missing", f"{LI}[quantity]"),
    ({f"{LI}[quantity]": "0"}, "parameter_invalid_integer", f"{LI}[quantity]"),
    ({f"{LI}[price_data][unit_ammount]": "5"}, "parameter_unknown", f"{LI}[price_data][unit_ammount]"),
    ({"line_items[1][price_data][currency]": "eur"}, "parameter_invalid_string", "line_items[1][price_data][currency]"),
    ({"payment_intent_data[capture_method]": "later"}, "parameter_invalid_string",
     "payment_intent_data[capture_method]"),
    ({"metadata[" + "k" * 41 + "]": "v"}, "parameter_invalid_string", "metadata[" + "k" * 41 + "]"),
    ({"client_reference_id": "x" * 201}, "parameter_invalid_string", "client_reference_id"),
    ({"locale": "french"}, "parameter_invalid_string", "locale"),
    ({"colour": "red"}, "parameter_unknown", "colour"),
])
def test_checkout_validation(fake, over, code, param):
    st, hd, b = api(fake, "POST", "/v1/checkout/sessions", session_params(**over), idem="k-validation")
    assert st == 400, b
    err = b["error"]
    assert err["type"] == "invalid_request_error" and err["code"] == code and err["param"] == param, err
    assert err["message"] and hd["request-id"].startswith("req_")
    assert fake.sessions == {}
    # a validation failure is not stored: the key is free for a valid request
    st, hd, s = api(fake, "POST", "/v1/checkout/sessions", session_params(), idem="k-validation")
    assert st == 200 and "idempotent-replayed" not in hd


def test_nested_missing_and_json_body(fake):
    over = {f"{LI}[price_data][product_data][name]": None, f"{LI}[price_data][product_data][description]": "d"}
    st, _, b = api(fake, "POST", "/v1/checkout/sessions", session_params(**over))
    assert st == 400 and b["error"]["param"] == f"{LI}[price_data][product_data][name]"
    st, _, b = call("POST", fake.base_url + "/v1/checkout/sessions", json.dumps({"mode": "payment"}).encode(),
                    {"Authorization": f"Bearer {SK}", "Content-Type": "application/json"})
    assert st == 400 and json.loads(b)["error"]["type"] == "invalid_request_error"


def test_expires_at_bounds(receiver):
    clock = Clock()
    f = StripeFake(secret_key=SK)
    f.now = clock
    try:
        now = int(clock.t)
        for exp, ok in ((now + 1799, False), (now + 1800, True), (now + 86400, True), (now + 86401, False),
                        (now - 5, False)):
            st, _, b = api(f, "POST", "/v1/checkout/sessions", session_params(expires_at=str(exp)))
            if ok:
                assert st == 200 and b["expires_at"] == exp and b["created"] == now
            else:
                assert st == 400 and b["error"]["param"] == "expires_at", exp
                assert b["error"]["type"] == "invalid_request_error"
        st, _, b = api(f, "POST", "/v1/checkout/sessions", session_params(expires_at="soon"))
        assert st == 400 and b["error"]["code"] == "parameter_invalid_integer"
        st, _, b = api(f, "POST", "/v1/checkout/sessions", session_params())
        assert b["expires_at"] == now + 86400
        f.min_expiry_seconds = 0
        st, _, b = api(f, "POST", "/v1/checkout/sessions", session_params(expires_at=str(now + 60)))
        assert st == 200 and b["expires_at"] == now + 60
    finally:
        f.stop()


def test_hosted_page_http_flow(fake, receiver):
    s = create_session(fake)
    st, hd, page = call("GET", s["url"])
    text = page.decode()
    assert st == 200 and hd["content-type"].startswith("text/html")
    assert "<script" not in text.lower()
    assert re.search(r'<form method="post" action="/c/pay/' + s["id"] + '"', text)
    for name in ("cardnumber", "exp", "cvc"):
        assert f'name="{name}"' in text
    assert re.search(r"<button[^>]*>Pay</button>", text)
    back = re.search(r'<a[^>]*href="([^"]+)"[^>]*>Back</a>', text)
    assert back and back.group(1).replace("&amp;", "&") == CANCEL_URL
    assert "USD 40.00" in text and "Invoice 42" in text

    form = urllib.parse.urlencode({"cardnumber": "4242 4242 4242 4242", "exp": "12/34", "cvc": "123"}).encode()
    st, hd, _ = call("POST", s["url"], form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 303
    assert hd["location"] == SUCCESS_URL.replace("{CHECKOUT_SESSION_ID}", s["id"])
    # the webhooks were delivered before the browser got its answer, in this order
    assert receiver.types() == ["checkout.session.completed", "payment_intent.succeeded"]
    cs = get(fake, "checkout/sessions", s["id"])
    assert (cs["status"], cs["payment_status"]) == ("complete", "paid")
    pi = get(fake, "payment_intents", cs["payment_intent"])
    assert pi["status"] == "succeeded" and pi["amount_received"] == 4000 == pi["amount"]
    assert pi["amount_capturable"] == 0 and pi["capture_method"] == "automatic"
    assert pi["metadata"] == {"link_id": "link_abc"} and pi["latest_charge"].startswith("ch_")
    assert pi["last_payment_error"] is None and pi["cancellation_reason"] is None and pi["livemode"] is False
    ch = get(fake, "charges", pi["latest_charge"])
    assert ch["status"] == "succeeded" and ch["payment_intent"] == pi["id"]

    for path, headers, body in receiver.got:
        assert path == "/wh/stripe"
        assert headers["content-type"].startswith("application/json")
        assert headers["user-agent"] == "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
        assert verify_stripe_signature(headers["stripe-signature"], body, WHSEC)
        assert independent_ok(headers["stripe-signature"], body)
    e1, e2 = receiver.events()
    for e in (e1, e2):
        assert e["id"].startswith("evt_") and e["object"] == "event" and e["livemode"] is False
        assert e["api_version"] and e["pending_webhooks"] == 1 and abs(e["created"] - time.time()) < 10
        assert e["request"] == {"id": None, "idempotency_key": None}
    assert e1["data"]["object"]["id"] == s["id"] and e1["data"]["object"]["status"] == "complete"
    assert e1["data"]["object"]["payment_intent"] == pi["id"]
    assert e1["data"]["object"]["client_reference_id"] == "link_abc"
    assert e2["data"]["object"]["id"] == pi["id"] and e2["data"]["object"]["status"] == "succeeded"
    assert [e["id"] for e in fake.events_sent] == [e1["id"], e2["id"]]

    # the page is now closed; a second POST changes nothing
    st, _, page = call("GET", s["url"])
    assert st == 200 and COMPLETE_MESSAGE in page.decode()
    st, _, page = call("POST", s["url"], form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 200 and len(receiver.got) == 2 and len(fake.charges) == 1
    assert fake.pay(s["id"]) == COMPLETE_MESSAGE
    assert call("GET", fake.base_url + "/c/pay/cs_test_unknown")[0] == 404


DECLINES = [
    ("4000000000000002", "card_declined", "generic_decline", "Your card was declined."),
    ("4000000000009995", "card_declined", "insufficient_funds", "Your card has insufficient funds."),
    ("4000000000000069", "expired_card", "expired_card", "Your card has expired."),
    ("4000000000000127", "incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
    ("4000000000000119", "processing_error", "processing_error",
     "An error occurred while processing your card. Try again in a little bit."),
]


@pytest.mark.parametrize("card,code,decline_code,message", DECLINES)
def test_decline_cards(fake, receiver, card, code, decline_code, message):
    s = create_session(fake)
    assert fake.pay(s["id"], card) == message
    cs = get(fake, "checkout/sessions", s["id"])
    assert (cs["status"], cs["payment_status"], cs["payment_intent"]) == ("open", "unpaid", None)
    [ev] = receiver.events()
    assert ev["type"] == "payment_intent.payment_failed"
    pi = ev["data"]["object"]
    assert pi["status"] == "requires_payment_method" and pi["metadata"] == {"link_id": "link_abc"}
    err = pi["last_payment_error"]
    assert (err["type"], err["code"], err["decline_code"], err["message"]) == ("card_error", code, decline_code,
                                                                              message)
    assert get(fake, "payment_intents", pi["id"])["last_payment_error"]["code"] == code
    # the customer tries another card: same intent, now paid
    assert fake.pay(s["id"], "4242424242424242").startswith("https://shop.example/paid")
    assert receiver.types() == ["payment_intent.payment_failed", "checkout.session.completed",
                                "payment_intent.succeeded"]
    done = get(fake, "payment_intents", pi["id"])
    assert done["status"] == "succeeded" and done["last_payment_error"] is None
    assert get(fake, "checkout/sessions", s["id"])["payment_intent"] == pi["id"]


def test_decline_and_invalid_via_form(fake, receiver):
    s = create_session(fake)
    hdr = {"Content-Type": "application/x-www-form-urlencoded"}
    form = urllib.parse.urlencode({"cardnumber": "4000 0000 0000 9995", "exp": "12/34", "cvc": "123"}).encode()
    st, _, page = call("POST", s["url"], form, hdr)
    text = page.decode()
    assert st == 200 and "Your card has insufficient funds." in text and 'name="cardnumber"' in text
    assert receiver.types() == ["payment_intent.payment_failed"]
    receiver.reset()
    n_pi = len(fake.payment_intents)
    for fields, msg in (({"cardnumber": "4111 1111 1111 1111", "exp": "12/34", "cvc": "123"}, INVALID_NUMBER_MESSAGE),
                        ({"cardnumber": "4242424242424242", "exp": "13/34", "cvc": "123"}, "expiration"),
                        ({"cardnumber": "4242424242424242", "exp": "01/20", "cvc": "123"}, "expiration"),
                        ({"cardnumber": "4242424242424242", "exp": "12/34", "cvc": "1"}, "security code")):
        st, _, page = call("POST", s["url"], urllib.parse.urlencode(fields).encode(), hdr)
        assert st == 200 and msg in page.decode() and 'name="cardnumber"' in page.decode()
    assert fake.pay(s["id"], "1234") == INVALID_NUMBER_MESSAGE
    assert receiver.got == [] and len(fake.payment_intents) == n_pi
    assert get(fake, "checkout/sessions", s["id"])["status"] == "open"


def test_three_ds_via_form(fake, receiver):
    s = create_session(fake)
    hdr = {"Content-Type": "application/x-www-form-urlencoded"}
    form = urllib.parse.urlencode({"cardnumber": "4000 0025 0000 3155", "exp": "12/34", "cvc": "123"}).encode()
    st, _, page = call("POST", s["url"], form, hdr)
    text = page.decode()
    assert st == 200 and "3-D Secure" in text and f'action="/c/pay/{s["id"]}/3ds"' in text
    assert re.search(r'<button[^>]*name="action" value="approve"[^>]*>Approve</button>', text)
    assert re.search(r'<button[^>]*name="action" value="deny"[^>]*>Deny</button>', text)
    [pi] = fake.payment_intents.values()
    assert pi["status"] == "requires_action" and receiver.got == []
    assert "3-D Secure" in call("GET", s["url"])[2].decode()  # reloading shows the challenge again
    st, _, page = call("POST", s["url"] + "/3ds", b"action=deny", hdr)
    assert st == 200 and "unable to authenticate" in page.decode()
    assert pi["status"] == "requires_payment_method"
    assert pi["last_payment_error"]["code"] == "payment_intent_authentication_failure"
    assert receiver.types() == ["payment_intent.payment_failed"]
    call("POST", s["url"], form, hdr)
    st, hd, _ = call("POST", s["url"] + "/3ds", b"action=approve", hdr)
    assert st == 303 and hd["location"] == SUCCESS_URL.replace("{CHECKOUT_SESSION_ID}", s["id"])
    assert receiver.types()[1:] == ["checkout.session.completed", "payment_intent.succeeded"]
    assert get(fake, "checkout/sessions", s["id"])["status"] == "complete"


def test_three_ds_via_pay(fake, receiver):
    s = create_session(fake)
    assert fake.pay(s["id"], "4000002500003155", three_ds=None) == THREE_DS_MESSAGE
    assert fake.pay_3ds(s["id"], "deny").startswith("We are unable to authenticate")
    assert fake.pay(s["id"], "4000002500003155", three_ds="approve").startswith("https://shop.example/paid")
    assert receiver.types() == ["payment_intent.payment_failed", "checkout.session.completed",
                                "payment_intent.succeeded"]


def test_expire_session(fake, receiver):
    s = create_session(fake)
    assert fake.pay(s["id"], "4000000000000002") == "Your card was declined."
    receiver.reset()
    st, _, body = api(fake, "POST", f"/v1/checkout/sessions/{s['id']}/expire")
    assert st == 200 and body["status"] == "expired"
    fake.wait_webhooks()
    assert receiver.types() == ["checkout.session.expired", "payment_intent.canceled"]
    ev_pi = receiver.events()[1]["data"]["object"]
    assert ev_pi["status"] == "canceled" and ev_pi["cancellation_reason"] == "abandoned"
    assert receiver.events()[0]["request"]["id"].startswith("req_")
    st, _, body = api(fake, "POST", f"/v1/checkout/sessions/{s['id']}/expire")
    assert st == 400 and body["error"]["type"] == "invalid_request_error"
    st, _, page = call("GET", s["url"])
    assert st == 200 and "expired" in page.decode()
    n = len(fake.charges)
    form = urllib.parse.urlencode({"cardnumber": "4242424242424242", "exp": "12/34", "cvc": "123"}).encode()
    st, _, page = call("POST", s["url"], form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert st == 200 and "expired" in page.decode() and len(fake.charges) == n
    assert fake.pay(s["id"]) == EXPIRED_MESSAGE
    # a complete session cannot be expired
    s2 = create_session(fake)
    fake.pay(s2["id"])
    st, _, body = api(fake, "POST", f"/v1/checkout/sessions/{s2['id']}/expire")
    assert st == 400 and body["error"]["type"] == "invalid_request_error"


def test_expiry_by_clock(receiver):
    clock = Clock()
    f = StripeFake(secret_key=SK, webhook_secret=WHSEC, webhook_url=receiver.url + "/wh", min_expiry_seconds=0)
    f.now = clock
    try:
        s = create_session(f, expires_at=str(int(clock.t) + 60))
        clock.t += 59
        assert get(f, "checkout/sessions", s["id"])["status"] == "open"
        clock.t += 1
        assert f.pay(s["id"]) == EXPIRED_MESSAGE
        assert "expired" in call("GET", s["url"])[2].decode()
        assert get(f, "checkout/sessions", s["id"])["status"] == "expired"
        f.wait_webhooks()
        assert receiver.types() == ["checkout.session.expired"]  # once
        s2 = create_session(f, expires_at=str(int(clock.t) + 10))
        clock.t += 10
        f.expire_due_sessions()
        assert f.sessions[s2["id"]]["status"] == "expired" and len(receiver.got) == 2
    finally:
        f.stop()


# ===========================================================================
# PaymentIntents: capture, cancel, API confirm


def test_manual_capture(fake, receiver):
    s = create_session(fake, **{"payment_intent_data[capture_method]": "manual"})
    fake.pay(s["id"])
    assert receiver.types() == ["checkout.session.completed", "payment_intent.amount_capturable_updated"]
    cs = get(fake, "checkout/sessions", s["id"])
    assert (cs["status"], cs["payment_status"]) == ("complete", "unpaid")
    pi_id = cs["payment_intent"]
    pi = get(fake, "payment_intents", pi_id)
    assert (pi["status"], pi["amount_capturable"], pi["amount_received"]) == ("requires_capture", 4000, 0)
    assert pi["capture_method"] == "manual"
    receiver.reset()
    st, _, b = api(fake, "POST", f"/v1/payment_intents/{pi_id}/capture", {"amount_to_capture": "4001"})
    assert st == 400 and b["error"]["code"] == "amount_too_large" and b["error"]["param"] == "amount_to_capture"
    st, _, b = api(fake, "POST", f"/v1/payment_intents/{pi_id}/capture", {"amount_to_capture": "1500"})
    assert st == 200 and b["status"] == "succeeded"
    assert (b["amount_received"], b["amount_capturable"], b["amount"]) == (1500, 0, 4000)
    fake.wait_webhooks()
    [ev] = receiver.events()
    assert ev["type"] == "payment_intent.succeeded" and ev["data"]["object"]["amount_received"] == 1500
    assert ev["request"]["id"].startswith("req_")
    st, _, b = api(fake, "POST", f"/v1/payment_intents/{pi_id}/capture")
    assert st == 400 and b["error"]["code"] == "payment_intent_unexpected_state"
    assert b["error"]["type"] == "invalid_request_error" and b["error"]["payment_intent"]["status"] == "succeeded"
    # only the captured amount can be refunded
    st, _, b = api(fake, "POST", "/v1/refunds", {"payment_intent": pi_id, "amount": "1501"})
    assert st == 400 and b["error"]["code"] == "amount_too_large"
    st, _, b = api(fake, "POST", "/v1/refunds", {"payment_intent": pi_id})
    assert st == 200 and b["amount"] == 1500


def test_cancel(fake, receiver):
    s = create_session(fake, **{"payment_intent_data[capture_method]": "manual"})
    fake.pay(s["id"])
    pi_id = fake.sessions[s["id"]]["payment_intent"]
    receiver.reset()
    st, _, b = api(fake, "POST", f"/v1/payment_intents/{pi_id}/cancel", {"cancellation_reason": "nope"})
    assert st == 400 and b["error"]["param"] == "cancellation_reason"
    st, _, b = api(fake, "POST", f"/v1/payment_intents/{pi_id}/cancel",
                   {"cancellation_reason": "requested_by_customer"})
    assert st == 200 and b["status"] == "canceled" and b["cancellation_reason"] == "requested_by_customer"
    assert b["amount_capturable"] == 0
    fake.wait_webhooks()
    assert receiver.types() == ["payment_intent.canceled"]
    st, _, b = api(fake, "POST", f"/v1/payment_intents/{pi_id}/cancel")
    assert st == 400 and b["error"]["code"] == "payment_intent_unexpected_state"
    st, _, b = api(fake, "POST", f"/v1/payment_intents/{pi_id}/capture")
    assert st == 400 and b["error"]["code"] == "payment_intent_unexpected_state"
    # a Checkout intent that is not requires_capture: expire the session instead
    s2 = create_session(fake)
    fake.pay(s2["id"], "4000000000000002")
    [pi2] = [p for p in fake.payment_intents.values() if p["id"] != pi_id]
    st, _, b = api(fake, "POST", f"/v1/payment_intents/{pi2['id']}/cancel")
    assert st == 400 and b["error"]["code"] == "payment_intent_unexpected_state"
    # an API intent can be canceled from requires_payment_method; a succeeded one cannot
    st, _, pi3 = api(fake, "POST", "/v1/payment_intents", {"amount": "500", "currency": "usd"})
    st, _, b = api(fake, "POST", f"/v1/payment_intents/{pi3['id']}/cancel", {"cancellation_reason": "abandoned"})
    assert st == 200 and b["status"] == "canceled"
    s3 = create_session(fake)
    fake.pay(s3["id"])
    st, _, b = api(fake, "POST", f"/v1/payment_intents/{fake.sessions[s3['id']]['payment_intent']}/cancel")
    assert st == 400 and b["error"]["code"] == "payment_intent_unexpected_state"
    assert api(fake, "POST", "/v1/payment_intents/pi_nope/cancel")[0] == 404


def test_payment_intents_api(fake, receiver):
    st, _, pi = api(fake, "POST", "/v1/payment_intents",
                    {"amount": "1234", "currency": "ZAR", "metadata[order]": "o1", "capture_method": "manual"})
    assert st == 200 and re.fullmatch(r"pi_[A-Za-z0-9]+", pi["id"]) and pi["object"] == "payment_intent"
    assert (pi["status"], pi["currency"], pi["amount"], pi["metadata"]) == ("requires_payment_method", "zar", 1234,
                                                                            {"order": "o1"})
    assert pi["latest_charge"] is None and pi["last_payment_error"] is None
    st, _, b = api(fake, "POST", f"/v1/payment_intents/{pi['id']}/confirm", {"payment_method": "pm_card_visa"})
    assert st == 200 and b["status"] == "requires_capture" and b["amount_capturable"] == 1234
    st, _, b = api(fake, "POST", "/v1/payment_intents", {"amount": "900", "currency": "usd", "confirm": "true",
                                                         "payment_method": "pm_card_visa"})
    assert st == 200 and b["status"] == "succeeded" and b["amount_received"] == 900
    st, _, b = api(fake, "POST", "/v1/payment_intents",
                   {"amount": "900", "currency": "usd", "confirm": "true",
                    "payment_method": "pm_card_chargeDeclinedInsufficientFunds"})
    err = b["error"]
    assert st == 402 and err["type"] == "card_error" and err["code"] == "card_declined"
    assert err["decline_code"] == "insufficient_funds" and err["payment_intent"]["status"] == "requires_payment_method"
    assert err["payment_intent"]["last_payment_error"]["decline_code"] == "insufficient_funds"
    st, _, b = api(fake, "POST", "/v1/payment_intents", {"amount": "900", "currency": "usd", "confirm": "true",
                                                         "payment_method": "pm_card_authenticationRequired"})
    assert st == 200 and b["status"] == "requires_action"
    fake.wait_webhooks()
    assert receiver.types() == ["payment_intent.amount_capturable_updated", "payment_intent.succeeded",
                                "payment_intent.payment_failed"]
    fake.authenticate_3ds(b["id"], approve=True)
    assert get(fake, "payment_intents", b["id"])["status"] == "succeeded"
    assert receiver.types()[-1] == "payment_intent.succeeded"
    for params, code, param in (({"currency": "usd"}, "parameter_missing", "amount"),
                                ({"amount": "0", "currency": "usd"}, "parameter_invalid_integer", "amount"),
                                ({"amount": "5", "currency": "usd", "payment_method": "pm_nope"},
                                 "resource_missing", "payment_method")):
        st, _, b = api(fake, "POST", "/v1/payment_intents", params)
        assert st == 400 and (b["error"]["code"], b["error"]["param"]) == (code, param)
    st, _, b = api(fake, "GET", "/v1/payment_intents/pi_nope")
    assert st == 404 and b["error"]["code"] == "resource_missing"
    st, _, b = api(fake, "GET", f"/v1/payment_intents/{pi['id']}?expand[]=latest_charge")
    assert st == 200 and b["latest_charge"]["object"] == "charge"


# ===========================================================================
# refunds


def _paid(fake, card="4242424242424242"):
    s = create_session(fake)
    assert fake.pay(s["id"], card).startswith("https://")
    return fake.sessions[s["id"]]["payment_intent"]


def test_refunds(fake, receiver):
    pi_id = _paid(fake)
    receiver.reset()
    st, _, r1 = api(fake, "POST", "/v1/refunds", {"payment_intent": pi_id, "amount": "1000", "reason":
                                                  "requested_by_customer", "metadata[refund]": "r1"})
    assert st == 200 and re.fullmatch(r"re_[A-Za-z0-9]+", r1["id"]) and r1["object"] == "refund"
    assert (r1["amount"], r1["currency"], r1["payment_intent"], r1["status"]) == (1000, "usd", pi_id, "succeeded")
    assert r1["charge"] == fake.payment_intents[pi_id]["latest_charge"] and r1["failure_reason"] is None
    assert r1["metadata"] == {"refund": "r1"} and r1["reason"] == "requested_by_customer"
    st, _, r2 = api(fake, "POST", "/v1/refunds", {"charge": r1["charge"], "amount": "1500"})
    assert st == 200 and r2["payment_intent"] == pi_id
    st, _, b = api(fake, "POST", "/v1/refunds", {"payment_intent": pi_id, "amount": "1501"})
    assert st == 400 and b["error"]["code"] == "amount_too_large" and b["error"]["type"] == "invalid_request_error"
    st, _, r3 = api(fake, "POST", "/v1/refunds", {"payment_intent": pi_id})  # the rest
    assert st == 200 and r3["amount"] == 1500
    st, _, b = api(fake, "POST", "/v1/refunds", {"payment_intent": pi_id, "amount": "1"})
    assert st == 400 and b["error"]["code"] == "charge_already_refunded"
    assert get(fake, "refunds", r2["id"]) == r2
    st, _, lst = api(fake, "GET", f"/v1/refunds?payment_intent={pi_id}")
    assert [r["id"] for r in lst["data"]] == [r3["id"], r2["id"], r1["id"]] and lst["object"] == "list"
    # cursor pagination, newest first
    st, _, lst = api(fake, "GET", f"/v1/refunds?payment_intent={pi_id}&limit=2")
    assert [r["id"] for r in lst["data"]] == [r3["id"], r2["id"]] and lst["has_more"] is True
    st, _, lst = api(fake, "GET", f"/v1/refunds?payment_intent={pi_id}&limit=2&starting_after={r2['id']}")
    assert [r["id"] for r in lst["data"]] == [r1["id"]] and lst["has_more"] is False
    st, _, lst = api(fake, "GET", f"/v1/refunds?payment_intent={pi_id}&limit=1&ending_before={r1['id']}")
    assert [r["id"] for r in lst["data"]] == [r2["id"]] and lst["has_more"] is True
    st, _, b = api(fake, "GET", f"/v1/refunds?payment_intent={pi_id}&starting_after=re_nope")
    assert st == 404 and b["error"]["code"] == "resource_missing"
    st, _, b = api(fake, "GET", f"/v1/refunds?payment_intent={pi_id}&limt=2")
    assert st == 400 and b["error"]["code"] == "parameter_unknown"
    ch = get(fake, "charges", r1["charge"])
    assert ch["amount_refunded"] == 4000 and ch["refunded"] is True
    fake.wait_webhooks()
    assert receiver.types() == ["refund.created", "charge.refunded"] * 3
    assert receiver.events()[0]["request"]["id"].startswith("req_")
    # errors
    st, _, b = api(fake, "POST", "/v1/refunds", {"amount": "5"})
    assert st == 400 and b["error"]["code"] == "parameter_missing"
    st, _, b = api(fake, "POST", "/v1/refunds", {"payment_intent": "pi_nope"})
    assert st == 404 and b["error"]["code"] == "resource_missing"
    st, _, b = api(fake, "POST", "/v1/refunds", {"payment_intent": pi_id, "reason": "changed_mind"})
    assert st == 400 and b["error"]["param"] == "reason"
    st, _, pi = api(fake, "POST", "/v1/payment_intents", {"amount": "500", "currency": "usd"})
    st, _, b = api(fake, "POST", "/v1/refunds", {"payment_intent": pi["id"]})
    assert st == 400 and b["error"]["type"] == "invalid_request_error"
    assert get(fake, "refunds", r1["id"])["status"] == "succeeded"


def test_refund_failing_card(fake, receiver):
    pi_id = _paid(fake, "4000 0000 0000 5126")
    receiver.reset()
    st, _, r = api(fake, "POST", "/v1/refunds", {"payment_intent": pi_id, "amount": "4000"})
    assert st == 200 and r["status"] == "pending"
    st, _, b = api(fake, "POST", "/v1/refunds", {"payment_intent": pi_id, "amount": "1"})
    assert st == 400 and b["error"]["code"] == "charge_already_refunded"  # pending counts
    fake.wait_webhooks()
    receiver.reset()
    fake.settle_refunds()
    [ev] = receiver.events()
    assert ev["type"] == "refund.updated"
    assert ev["data"]["object"]["status"] == "failed"
    assert ev["data"]["object"]["failure_reason"] == "expired_or_canceled_card"
    assert ev["data"]["previous_attributes"]["status"] == "pending"
    assert get(fake, "refunds", r["id"])["status"] == "failed"
    assert fake.settle_refunds() == []  # nothing pending any more
    # the failed refund no longer counts
    st, _, r2 = api(fake, "POST", "/v1/refunds", {"payment_intent": pi_id})
    assert st == 200 and r2["amount"] == 4000 and r2["status"] == "pending"


def test_refund_fails_by_itself(receiver):
    f = StripeFake(secret_key=SK, webhook_secret=WHSEC, webhook_url=receiver.url + "/wh", refund_fail_delay=0.1)
    try:
        pi_id = _paid(f, "4000000000005126")
        st, _, r = api(f, "POST", "/v1/refunds", {"payment_intent": pi_id})
        assert r["status"] == "pending"
        deadline = time.monotonic() + 5
        while "refund.updated" not in receiver.types():
            assert time.monotonic() < deadline, receiver.types()
            time.sleep(0.02)
        assert get(f, "refunds", r["id"])["status"] == "failed"
    finally:
        f.stop()


# ===========================================================================
# webhooks


def test_signature_functions():
    body = b'{\n  "id": "evt_1"\n}'
    t = 1_700_000_000
    want = hmac.new(WHSEC.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
    assert stripe_signature(WHSEC, body, t) == f"t={t},v1={want}"
    h = stripe_signature(WHSEC, body, t)
    assert verify_stripe_signature(h, body, WHSEC, now=t + 300)
    assert verify_stripe_signature(h, body.decode(), WHSEC, now=t)
    assert not verify_stripe_signature(h, body, WHSEC, now=t + 301)
    assert verify_stripe_signature(h, body, WHSEC, now=t - 10_000)  # future t: accepted
    assert verify_stripe_signature(h, body, WHSEC, tolerance=0, now=t + 10_000)
    assert not verify_stripe_signature(h, body + b" ", WHSEC, now=t)
    assert not verify_stripe_signature(h, body, WHSEC + "x", now=t)
    assert not verify_stripe_signature(f"v1={want}", body, WHSEC, now=t)  # no t
    assert not verify_stripe_signature(f"t={t}", body, WHSEC, now=t)  # no v1
    assert not verify_stripe_signature(f"t={t},v0={want}", body, WHSEC, now=t)
    assert verify_stripe_signature(f"t={t},v1=00,v1={want},v0=11", body, WHSEC, now=t)
    assert not verify_stripe_signature(f"t=abc,v1={want}", body, WHSEC, now=t)
    assert not verify_stripe_signature("", body, WHSEC, now=t)
    assert not verify_stripe_signature("garbage", body, WHSEC, now=t)


@pytest.mark.parametrize("sig_mode,valid", [
    ("normal", True), ("two_v1", True), ("stale_t", False), ("future_t", True), ("wrong_secret", False),
    ("no_v1", False), ("with_v0", True),
])
def test_sig_modes(fake, receiver, sig_mode, valid):
    obj = {"id": "cs_test_x", "object": "checkout.session", "status": "complete"}
    [att] = fake.send_event("checkout.session.completed", obj, sig_mode=sig_mode)
    assert att.status == 200
    [(path, headers, body)] = receiver.got
    hdr = headers["stripe-signature"]
    assert verify_stripe_signature(hdr, body, WHSEC) is valid
    t, v1s, v0s = parse_sig(hdr)
    now = time.time()
    if sig_mode == "two_v1":
        assert len(v1s) == 2 and independent_ok(hdr, body)
    elif sig_mode == "stale_t":
        assert now - 602 <= t <= now - 300 and len(v1s) == 1
        assert independent_ok(hdr, body, tolerance=10_000)  # the HMAC itself is right
    elif sig_mode == "future_t":
        assert now + 590 <= t <= now + 610 and independent_ok(hdr, body)
    elif sig_mode == "no_v1":
        assert v1s == [] and v0s
    elif sig_mode == "wrong_secret":
        assert not independent_ok(hdr, body)
    elif sig_mode == "with_v0":
        assert len(v1s) == 1 and len(v0s) == 1
    ev = json.loads(body)
    assert ev["type"] == "checkout.session.completed" and ev["data"]["object"] == obj


def test_no_header_and_unknown_type(fake, receiver):
    fake.send_event("customer.created", {"id": "cus_1", "object": "customer"}, sig_mode="no_header")
    [(_, headers, body)] = receiver.got
    assert "stripe-signature" not in headers and json.loads(body)["type"] == "customer.created"
    with pytest.raises(ValueError):
        fake.send_event("x.y", {}, sig_mode="bogus")


def test_duplicate_delivery(fake, receiver):
    atts = fake.send_event("customer.created", {"id": "cus_1", "object": "customer"}, duplicate=True)
    assert [a.status for a in atts] == [200, 200]
    (_, h1, b1), (_, h2, b2) = receiver.got
    assert b1 == b2 and json.loads(b1)["id"].startswith("evt_")
    assert verify_stripe_signature(h1["stripe-signature"], b1, WHSEC)
    assert verify_stripe_signature(h2["stripe-signature"], b2, WHSEC)
    receiver.reset()
    fake.duplicate_webhooks = True
    s = create_session(fake)
    fake.pay(s["id"])
    ids = [e["id"] for e in receiver.events()]
    assert receiver.types() == ["checkout.session.completed"] * 2 + ["payment_intent.succeeded"] * 2
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]


def test_reversed_order(fake, receiver):
    fake.event_order = "reversed"
    s = create_session(fake)
    fake.pay(s["id"])
    assert receiver.types() == ["payment_intent.succeeded", "checkout.session.completed"]
    assert [e["type"] for e in fake.events_sent] == receiver.types()


def test_hold_flush_resend(fake, receiver):
    fake.hold_webhooks = True
    s = create_session(fake)
    url = fake.pay(s["id"])
    assert url.startswith("https://shop.example/paid") and receiver.got == []
    assert [e["type"] for e in fake.events_sent] == ["checkout.session.completed", "payment_intent.succeeded"]
    assert fake.held_webhooks == [e["id"] for e in fake.events_sent]
    atts = fake.flush_webhooks()
    assert [a.status for a in atts] == [200, 200] and fake.held_webhooks == []
    assert receiver.types() == ["checkout.session.completed", "payment_intent.succeeded"]
    first_body = receiver.got[0][2]
    [att] = fake.resend(fake.events_sent[0]["id"])  # a late duplicate, even while held
    assert att.status == 200 and receiver.got[-1][2] == first_body
    assert verify_stripe_signature(receiver.got[-1][1]["stripe-signature"], first_body, WHSEC)
    with pytest.raises(KeyError):
        fake.resend("evt_nope")
    # events are kept and readable through the API too
    st, _, ev = api(fake, "GET", f"/v1/events/{fake.events_sent[0]['id']}")
    assert st == 200 and ev["type"] == "checkout.session.completed"


def test_webhook_retries_and_mode(fake, receiver):
    receiver.statuses = [500, 503, 200]
    atts = fake.send_event("customer.created", {"id": "cus_1"})
    assert [a.status for a in atts] == [500, 503, 200] and [a.attempt for a in atts] == [1, 2, 3]
    receiver.reset()
    receiver.statuses = [500]
    atts = fake.send_event("customer.created", {"id": "cus_1"})
    assert len(atts) == 1 + fake.webhook_retries == 4 and len(receiver.got) == 4
    receiver.reset()
    fake.webhook_mode = "wrong_secret"
    s = create_session(fake)
    fake.pay(s["id"])
    assert len(receiver.got) == 2
    assert not any(verify_stripe_signature(h["stripe-signature"], b, WHSEC) for _, h, b in receiver.got)
    # no webhook_url: events are recorded, nothing is sent
    receiver.reset()
    fake.webhook_url = None
    s = create_session(fake)
    fake.pay(s["id"])
    assert receiver.got == [] and fake.events_sent[-1]["type"] == "payment_intent.succeeded"


# ===========================================================================
# idempotency


def test_idempotency_replay_and_mismatch(fake):
    params = session_params()
    st, hd, s = api(fake, "POST", "/v1/checkout/sessions", params, idem="key-1")
    assert st == 200 and "idempotent-replayed" not in hd
    raw1 = call("POST", fake.base_url + "/v1/checkout/sessions", urllib.parse.urlencode(params).encode(),
                {"Authorization": f"Bearer {SK}", "Idempotency-Key": "key-1",
                 "Content-Type": "application/x-www-form-urlencoded"})
    assert raw1[0] == 200 and raw1[1]["idempotent-replayed"] == "true"
    assert json.loads(raw1[2]) == s and raw1[1]["original-request"] == hd["request-id"]
    # same params in another order: still the same request
    reordered = dict(reversed(list(params.items())))
    st, hd2, s2 = api(fake, "POST", "/v1/checkout/sessions", reordered, idem="key-1")
    assert st == 200 and s2["id"] == s["id"] and hd2["idempotent-replayed"] == "true"
    assert len(fake.sessions) == 1
    st, _, b = api(fake, "POST", "/v1/checkout/sessions", session_params(client_reference_id="other"), idem="key-1")
    assert st == 400 and b["error"]["type"] == "idempotency_error"
    st, _, b = api(fake, "POST", "/v1/payment_intents", {"amount": "5", "currency": "usd"}, idem="key-1")
    assert st == 400 and b["error"]["type"] == "idempotency_error"
    st, _, b = api(fake, "POST", "/v1/checkout/sessions", params, idem="k" * 256)
    assert st == 400 and b["error"]["type"] == "invalid_request_error"
    assert api(fake, "POST", "/v1/checkout/sessions", params, idem="k" * 255)[0] == 200
    assert len(fake.sessions) == 2
    # a stored state error is replayed too
    st, _, pi = api(fake, "POST", "/v1/payment_intents", {"amount": "5", "currency": "usd"})
    st, _, b = api(fake, "POST", f"/v1/payment_intents/{pi['id']}/capture", idem="cap-1")
    assert st == 400 and b["error"]["code"] == "payment_intent_unexpected_state"
    st, hd, b2 = api(fake, "POST", f"/v1/payment_intents/{pi['id']}/capture", idem="cap-1")
    assert st == 400 and hd["idempotent-replayed"] == "true" and b2 == b


def test_idempotency_in_flight_409(fake):
    """timeout_after_execute: executed at once, answer held hang_seconds (1 s)
    then the connection closes; meanwhile the key is in flight (409); then
    the stored result is replayed."""
    params = session_params()
    fake.set_mode("timeout_after_execute", count=1)
    t0 = time.monotonic()
    with pytest.raises(socket.timeout):
        api(fake, "POST", "/v1/checkout/sessions", params, idem="slow-1", timeout=0.3)
    [created] = fake.sessions.values()  # executed
    st, _, b = api(fake, "POST", "/v1/checkout/sessions", params, idem="slow-1")
    assert st == 409 and b["error"]["type"] == "idempotency_error"
    assert b["error"]["code"] == "idempotency_key_in_use"
    deadline = time.monotonic() + 5
    while fake.idempotency["slow-1"].status is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert time.monotonic() - t0 >= 0.9
    st, hd, s = api(fake, "POST", "/v1/checkout/sessions", params, idem="slow-1")
    assert st == 200 and hd["idempotent-replayed"] == "true" and s["id"] == created["id"]
    assert len(fake.sessions) == 1


def test_timeout_after_execute_closes(fake):
    fake.inflight_during_hold = False  # stored at once: a retry replays during the hold
    fake.set_mode("timeout_after_execute", count=1)
    params = session_params()
    out = {}

    def first():
        try:
            api(fake, "POST", "/v1/checkout/sessions", params, idem="slow-2", timeout=5)
        except (http.client.RemoteDisconnected, ConnectionError) as e:
            out["error"] = e

    t = threading.Thread(target=first)
    t.start()
    deadline = time.monotonic() + 3
    while "slow-2" not in fake.idempotency or fake.idempotency["slow-2"].status is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    st, hd, s = api(fake, "POST", "/v1/checkout/sessions", params, idem="slow-2")
    assert st == 200 and hd["idempotent-replayed"] == "true"
    assert t.is_alive()  # replayed while the first answer is still held
    t.join(5)
    assert isinstance(out.get("error"), (http.client.RemoteDisconnected, ConnectionError))
    # a GET: the answer never comes
    fake.set_mode("timeout_after_execute", count=1, endpoint="query")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        api(fake, "GET", f"/v1/checkout/sessions/{s['id']}", timeout=5)


def test_idempotency_prune(receiver):
    clock = Clock()
    f = StripeFake(secret_key=SK)
    f.now = clock
    try:
        st, _, s1 = api(f, "POST", "/v1/checkout/sessions", session_params(), idem="day-key")
        other = session_params(client_reference_id="later")
        clock.t += 24 * 3600 - 1
        st, _, b = api(f, "POST", "/v1/checkout/sessions", other, idem="day-key")
        assert st == 400 and b["error"]["type"] == "idempotency_error"
        clock.t += 1
        st, hd, s2 = api(f, "POST", "/v1/checkout/sessions", other, idem="day-key")
        assert st == 200 and "idempotent-replayed" not in hd and s2["id"] != s1["id"]
        assert s2["client_reference_id"] == "later" and s2["created"] == int(clock.t)
    finally:
        f.stop()


# ===========================================================================
# failure modes


@pytest.mark.parametrize("mode,status,headers,error", [
    ("rate_limit", 429, {"retry-after": "1", "stripe-should-retry": "true"},
     {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}),
    ("error_500_no_retry", 500, {"stripe-should-retry": "false"}, {"type": "api_error"}),
    ("error_503", 503, {}, {"type": "api_error"}),
    ("lock_409", 409, {"stripe-should-retry": "true"}, {"type": "invalid_request_error", "code": "lock_timeout"}),
])
def test_error_modes(fake, mode, status, headers, error):
    fake.set_mode(mode, count=1)
    st, hd, b = api(fake, "POST", "/v1/checkout/sessions", session_params(), idem="m-1")
    assert st == status, b
    for k, v in headers.items():
        assert hd[k] == v
    assert {k: b["error"][k] for k in error} == error and b["error"]["message"]
    assert hd["request-id"].startswith("req_") and hd["content-type"].startswith("application/json")
    assert fake.sessions == {}  # nothing executed
    st, hd, b2 = api(fake, "POST", "/v1/checkout/sessions", session_params(), idem="m-1")
    if mode == "error_500_no_retry":  # stored: the same key gets the same 500
        assert st == 500 and hd["idempotent-replayed"] == "true" and b2 == b
        assert fake.sessions == {}
        assert api(fake, "POST", "/v1/checkout/sessions", session_params(), idem="m-2")[0] == 200
    else:
        assert st == 200 and "idempotent-replayed" not in hd
    assert len(fake.sessions) == 1


def test_html_502_and_malformed_json(fake):
    fake.set_mode("html_502", count=1)
    st, hd, b = api(fake, "POST", "/v1/checkout/sessions", session_params(), idem="h-1")
    assert st == 502 and hd["content-type"].startswith("text/html") and b"<html>" in b
    assert fake.sessions == {}
    fake.set_mode("malformed_json", count=1)
    st, hd, b = api(fake, "POST", "/v1/checkout/sessions", session_params(), idem="h-1")
    assert st == 200 and b == b"{not json" and hd["request-id"].startswith("req_")
    [s] = fake.sessions.values()  # executed and stored
    st, hd, b = api(fake, "POST", "/v1/checkout/sessions", session_params(), idem="h-1")
    assert st == 200 and hd["idempotent-replayed"] == "true" and b["id"] == s["id"]
    fake.set_mode("malformed_json", count=1, endpoint="query")
    assert api(fake, "GET", f"/v1/checkout/sessions/{s['id']}")[2] == b"{not json"
    assert api(fake, "GET", f"/v1/checkout/sessions/{s['id']}")[2]["id"] == s["id"]


def test_mode_endpoint_classes(fake):
    s = create_session(fake)
    path = f"/v1/checkout/sessions/{s['id']}"
    fake.set_mode("error_503", count=2, endpoint="query")
    assert api(fake, "POST", "/v1/checkout/sessions", session_params())[0] == 200
    assert api(fake, "GET", path)[0] == 503
    assert api(fake, "GET", path, key="bad")[0] == 401  # not counted
    assert api(fake, "GET", path)[0] == 503
    assert api(fake, "GET", path)[0] == 200
    fake.set_mode("lock_409", endpoint="any")  # until changed
    assert [api(fake, m, p)[0] for m, p in (("GET", path), ("POST", path + "/expire"), ("GET", path))] == [409] * 3
    fake.set_mode("normal")
    assert api(fake, "GET", path)[0] == 200
    # the hosted page is not the API: modes do not touch it
    fake.set_mode("error_503", endpoint="any")
    assert call("GET", s["url"])[0] == 200
    with pytest.raises(ValueError):
        fake.set_mode("teapot")


def test_connect_refused(fake):
    fake.set_mode("connect_refused")
    with pytest.raises(ConnectionRefusedError):
        api(fake, "POST", "/v1/checkout/sessions", session_params(), timeout=2)
    fake.set_mode("normal")
    assert api(fake, "POST", "/v1/checkout/sessions", session_params())[0] == 200


def test_requests_recorded(fake):
    s = create_session(fake)
    r = fake.requests_to("/v1/checkout/sessions", "POST")[-1]
    assert r.headers["authorization"] == f"Bearer {SK}"
    assert decode_form(r.body)["line_items"][0]["price_data"]["unit_amount"] == "1500"
    call("GET", s["url"])
    assert fake.requests[-1].path == f"/c/pay/{s['id']}"


# ===========================================================================
# standalone


def test_standalone(receiver):
    with standalone(HERE / "stripe_fake.py", "--secret-key", SK, "--webhook-secret", WHSEC,
                    "--webhook-url", receiver.url + "/wh") as base:

        class Remote:
            base_url = base

        st, _, s = api(Remote, "POST", "/v1/checkout/sessions", session_params())
        assert st == 200 and s["url"].startswith(base + "/c/pay/")
        assert api(Remote, "GET", "/v1/checkout/sessions/x", key="sk_test_no")[0] == 401
        st, _, b = call("POST", base + "/_fake/pay", json.dumps({"session_id": s["id"]}).encode(),
                        {"Content-Type": "application/json"})
        assert st == 200 and json.loads(b)["result"].startswith("https://shop.example/paid")
        assert receiver.types() == ["checkout.session.completed", "payment_intent.succeeded"]
        assert verify_stripe_signature(receiver.got[0][1]["stripe-signature"], receiver.got[0][2], WHSEC)
        st, _, b = call("POST", base + "/_fake/mode", json.dumps({"name": "rate_limit", "count": 1}).encode(),
                        {"Content-Type": "application/json"})
        assert st == 200
        assert api(Remote, "GET", f"/v1/checkout/sessions/{s['id']}")[0] == 200  # "send" only
        assert api(Remote, "POST", "/v1/checkout/sessions", session_params())[0] == 429
        st, _, b = call("GET", base + "/_fake/requests")
        assert st == 200 and json.loads(b)[0]["path"] == "/v1/checkout/sessions"
