"""The Stripe gateway, black-box through its offline fake (tests/fakes/
stripe_fake.py): configuration (`provider add --kind stripe`, `merchant
update --gateway`, test keys for sandbox merchants only), the Checkout
Session chatpay makes for the Pay button, the result from webhooks (checked
signatures, duplicates, out of order, stale) or from the browser's return,
always confirmed by retrieving the objects, capture, reversal, refunds with
Idempotency-Key, a lost answer replayed, and no card data anywhere chatpay
sends or receives.

The module runs a server of its own with a secrets_key (test_providers.Env);
each merchant gets a fresh fake whose webhooks go to chatpay's URL for it.
Refunds need settled payments: the merchant of `book` settles after 30 s and
pays at the start; its tests come last."""

from __future__ import annotations

import datetime
import re
import time
import uuid
from urllib.parse import parse_qs

import pytest
import requests

from gateway_flow import gateway_env, gateway_merchant, new_link, status, wait_status
from callback_receiver import CallbackReceiver
from cp_helpers import PAYMENT_OPS, link_body, parse_html, poll
from payment_flow import SETTLE_S, now_utc
from stripe_fake import StripeFake
from test_providers import PROVIDER_SECRETS

CARD = "4242424242424242"
REFUND_FAILS = "4000000000005126"
WAIT = 10.0  # seconds for what should happen at once
OP_REF_RE = re.compile(r"op_[0-9A-Za-z]{17}")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    yield from gateway_env(tmp_path_factory, "stripe")


class Shop:
    """A sandbox merchant whose gateway is a fresh Stripe fake."""

    def __init__(self, env, settle: str | None = None):
        self.env = env
        self.sk = "sk_test_" + uuid.uuid4().hex
        self.whsec = "whsec_" + uuid.uuid4().hex
        PROVIDER_SECRETS.update({self.sk, self.whsec})
        self.fake = StripeFake(secret_key=self.sk, webhook_secret=self.whsec, hang_seconds=3.0,
                               webhook_retries=0)
        m, p = gateway_merchant(env, "stripe", {"secret_key": self.sk,
                                                "webhook_secret": self.whsec,
                                                "base_url": self.fake.base_url}, settle)
        self.id, self.key = m["merchantId"], m["apiKey"]
        self.provider = p["providerId"]
        self.fake.webhook_url = p["inboundUrls"]["webhook"]

    def close(self):
        self.fake.stop()


@pytest.fixture
def shop(env):
    s = Shop(env)
    yield s
    s.close()






def press_pay(env, http, token):
    """POST /p/{token}/pay as the page's form: the page that takes the
    browser to Stripe's checkout (a refresh, and a link for browsers that do
    not follow it: the form's answer may not redirect to another site under
    form-action 'self'). Returns the checkout's URL."""
    r = http.post(f"{env.base_url}/p/{token}/pay", allow_redirects=False,
                  headers={"Origin": env.base_url}, timeout=WAIT + 5)
    assert r.status_code == 200, r.text[:500]
    doc = parse_html(r.text)
    (meta,) = doc.find_all("meta", **{"http-equiv": "refresh"})
    m = re.fullmatch(r"0; url=(.+)", meta.attrs["content"])
    assert m, meta.attrs
    (link,) = doc.find_all("a", cls="button")
    assert link.attrs["href"] == m.group(1)
    assert "form-action 'self';" in r.headers["Content-Security-Policy"]
    return m.group(1)


def session_of(shop, location):
    m = re.fullmatch(re.escape(shop.fake.base_url) + r"/c/pay/(cs_test_\w+)", location)
    assert m, location
    return shop.fake.sessions[m.group(1)]


def pay_link(env, shop, http, txn="Sale", card=CARD, **fields):
    ref, token = new_link(env, shop.key, txn, **fields)
    loc = press_pay(env, http, token)
    session = session_of(shop, loc)
    back = shop.fake.pay(session["id"], card)
    return ref, token, session, back




# ---- started first: the 30-second settlement of `book` runs during the module ----------


def test_stripe_refunds_before_settlement_are_refused(env, book):
    shop = book["shop"]
    r = env.api.post(PAYMENT_OPS + book["sale"][0] + "/refund", key=shop.key)
    assert r.status_code == 400 and "not been settled" in r.body["message"], r.text


# ---- configuration ------------------------------------------------------------------------


def test_stripe_provider_configuration(env):
    m = env.ok("merchant", "create", "--name", "Stripe Config", "--json").json()
    sk, whsec = "sk_test_" + uuid.uuid4().hex, "whsec_" + uuid.uuid4().hex
    PROVIDER_SECRETS.update({sk, whsec})
    res = env.ok("provider", "add", "--merchant", m["merchantId"], "--kind", "stripe",
                 "--set", f"secret_key={sk}", "--set", f"webhook_secret={whsec}", "--json")
    p = res.json()
    assert p["kind"] == "stripe" and p["live"] is False, p
    assert sorted(p["secretsSet"]) == ["secret_key", "webhook_secret"], p
    assert sk not in res.stdout and whsec not in res.stdout
    assert p["inboundUrls"]["webhook"].startswith(env.base_url + "/hooks/" + p["providerId"] + "/")
    # live keys only for production merchants, test keys only for sandbox ones
    live = "sk_live_" + uuid.uuid4().hex
    PROVIDER_SECRETS.add(live)
    bad = env.cli("provider", "add", "--merchant", m["merchantId"], "--kind", "stripe",
                  "--set", f"secret_key={live}", "--set", f"webhook_secret={whsec}")
    assert bad.returncode != 0 and "live credentials serve production merchants only" in bad.stderr
    bad = env.cli("provider", "add", "--merchant", m["merchantId"], "--kind", "stripe",
                  "--set", "secret_key=pk_test_nope", "--set", f"webhook_secret={whsec}")
    assert bad.returncode != 0 and "secret_key must be a Stripe secret key" in bad.stderr
    bad = env.cli("provider", "add", "--merchant", m["merchantId"], "--kind", "stripe",
                  "--set", f"secret_key={sk}")
    assert bad.returncode != 0 and "stripe needs --set webhook_secret=VALUE" in bad.stderr
    upd = env.ok("merchant", "update", m["merchantId"], "--gateway", p["providerId"], "--json")
    assert upd.json()["gateway"] == p["providerId"]
    # another change of the merchant keeps its gateway
    upd = env.ok("merchant", "update", m["merchantId"], "--page-ttl", "2h", "--json")
    assert upd.json()["gateway"] == p["providerId"]
    # a sandbox gateway cannot serve the merchant in production
    bad = env.cli("merchant", "update", m["merchantId"], "--environment", "production")
    assert bad.returncode != 0 and "--environment" in bad.stderr, bad.stderr
    # a messaging provider is not a gateway
    tw = env.ok("provider", "add", "--merchant", m["merchantId"], "--kind", "twilio",
                "--set", "account_sid=AC" + "0" * 32, "--set", "auth_token=" + "1" * 32,
                "--json").json()
    bad = env.cli("merchant", "update", m["merchantId"], "--gateway", tw["providerId"])
    assert bad.returncode != 0 and "is not a payment gateway" in bad.stderr
    # a selected gateway cannot be removed; `none` goes back to the sandbox gateway
    bad = env.cli("provider", "remove", p["providerId"])
    assert bad.returncode != 0 and "is selected by its merchant" in bad.stderr
    upd = env.ok("merchant", "update", m["merchantId"], "--gateway", "none", "--json")
    assert upd.json()["gateway"] is None
    env.ok("provider", "remove", p["providerId"])


def test_production_merchant_takes_live_keys_only(env):
    m = env.ok("merchant", "create", "--name", "Stripe Live", "--environment", "production",
               "--json").json()
    sk, live, whsec = ("sk_test_" + uuid.uuid4().hex, "sk_live_" + uuid.uuid4().hex,
                       "whsec_" + uuid.uuid4().hex)
    PROVIDER_SECRETS.update({sk, live, whsec})
    bad = env.cli("provider", "add", "--merchant", m["merchantId"], "--kind", "stripe",
                  "--set", f"secret_key={sk}", "--set", f"webhook_secret={whsec}")
    assert bad.returncode != 0 and "test credentials serve sandbox merchants only" in bad.stderr
    p = env.ok("provider", "add", "--merchant", m["merchantId"], "--kind", "stripe",
               "--set", f"secret_key={live}", "--set", f"webhook_secret={whsec}", "--json").json()
    assert p["live"] is True
    env.ok("merchant", "update", m["merchantId"], "--gateway", p["providerId"])
    # and the key cannot become a test one while the merchant is in production
    bad = env.cli("provider", "update", p["providerId"], "--set", f"secret_key={sk}")
    assert bad.returncode != 0 and "test credentials serve sandbox merchants only" in bad.stderr


# ---- paying -------------------------------------------------------------------------------


def test_checkout_session_and_webhook_settle_a_sale(env, shop):
    with requests.Session() as http:
        ref, token = new_link(env, shop.key, "Sale")
        loc = press_pay(env, http, token)
        s = session_of(shop, loc)
        create = [q for q in shop.fake.requests_to("/v1/checkout/sessions", "POST")][-1]
        form = parse_qs(create.body.decode(), keep_blank_values=True)
        op_ref = form["client_reference_id"][0]
        assert OP_REF_RE.fullmatch(op_ref), form
        assert create.headers["idempotency-key"] == op_ref
        assert create.headers["authorization"] == f"Bearer {shop.sk}"
        assert form["mode"] == ["payment"]
        assert form["locale"] == ["en"]  # the page's language
        assert form["line_items[0][price_data][currency]"] == ["zar"]
        assert form["line_items[0][price_data][unit_amount]"] == ["11500"]
        assert form["line_items[0][quantity]"] == ["1"]
        assert form["payment_intent_data[capture_method]"] == ["automatic"]
        assert form["payment_method_types[0]"] == ["card"]  # nothing that settles later
        assert form["metadata[chatpay_ref]"] == [op_ref]
        assert form["metadata[payment_link_ref]"] == [ref]
        assert form["payment_intent_data[metadata][chatpay_ref]"] == [op_ref]
        assert form["success_url"] == [
            f"{env.base_url}/p/{token}/return?ref={op_ref}&session_id={{CHECKOUT_SESSION_ID}}"]
        assert form["cancel_url"] == [f"{env.base_url}/p/{token}"]
        assert int(form["expires_at"][0]) >= time.time() + 1800
        # pressing Pay again (the customer came back) gives the same session
        assert press_pay(env, http, token) == loc
        back = shop.fake.pay(s["id"], CARD)
        assert back == f"{env.base_url}/p/{token}/return?ref={op_ref}&session_id={s['id']}"
        # the webhooks have been answered: the payment is recorded already
        st = status(env, shop.key, ref)
        assert st["paymentStatus"] == "SUCCESS", st
        (op,) = st["paymentStatuses"]
        pi = shop.fake.sessions[s["id"]]["payment_intent"]
        assert (op["transactionType"], op["paymentGatewayDecision"], op["paymentGatewayResponseCode"],
                op["paymentGatewayReqReferenceNumber"], op["cardType"], op["maskedCardNumber"],
                op["cardExpiryDate"]) == ("Sale", "ACCEPT", 100, pi, "VISA", "************4242",
                                          "12/2034"), op
        assert all(a.status == 200 for a in shop.fake.webhooks), shop.fake.webhooks
        # the browser comes back: the result page
        r = http.get(back, allow_redirects=False, timeout=WAIT)
        assert r.status_code == 200 and "Payment successful" in r.text
        assert len(status(env, shop.key, ref)["paymentStatuses"]) == 1


def test_browser_return_without_webhooks_retrieves_the_session(env, shop):
    shop.fake.hold_webhooks = True
    with requests.Session() as http:
        ref, token, s, back = pay_link(env, shop, http)
        assert status(env, shop.key, ref)["paymentStatus"] == "PENDING"
        r = http.get(back, allow_redirects=False, timeout=WAIT)
        assert r.status_code == 200 and "Payment successful" in r.text
        assert status(env, shop.key, ref)["paymentStatus"] == "SUCCESS"
        gets = shop.fake.requests_to(f"/v1/checkout/sessions/{s['id']}", "GET")
        assert gets, "the session was not retrieved"
    # the late webhooks change nothing
    shop.fake.flush_webhooks()
    shop.fake.wait_webhooks()
    assert all(a.status == 200 for a in shop.fake.webhooks)
    assert len(status(env, shop.key, ref)["paymentStatuses"]) == 1


@pytest.mark.parametrize("mode,accepted", [
    ("normal", True), ("two_v1", True), ("future_t", True), ("with_v0", True),
    ("stale_t", False), ("wrong_secret", False), ("no_v1", False), ("no_header", False)])
def test_webhook_signatures(env, shop, mode, accepted):
    shop.fake.webhook_mode = mode
    with requests.Session() as http:
        ref, token, s, back = pay_link(env, shop, http)
    codes = {a.status for a in shop.fake.webhooks}
    if accepted:
        assert codes == {200}, shop.fake.webhooks
        assert status(env, shop.key, ref)["paymentStatus"] == "SUCCESS"
    else:
        assert codes == {403}, shop.fake.webhooks
        assert status(env, shop.key, ref)["paymentStatus"] == "PENDING"


def test_duplicate_and_reordered_webhooks(env, shop):
    shop.fake.duplicate_webhooks = True
    shop.fake.event_order = "reversed"
    with requests.Session() as http:
        ref, token, s, back = pay_link(env, shop, http)
    assert {a.status for a in shop.fake.webhooks} == {200}
    st = status(env, shop.key, ref)
    assert st["paymentStatus"] == "SUCCESS" and len(st["paymentStatuses"]) == 1, st
    # each event was confirmed once: its duplicate was dropped
    ids = [e["id"] for e in shop.fake.events_sent]
    assert len(ids) == 2
    retrieves = shop.fake.requests_to(f"/v1/checkout/sessions/{s['id']}", "GET")
    assert len(retrieves) == 2, retrieves
    # an event of a type chatpay does not use, and one about nothing of ours
    atts = shop.fake.send_event("customer.created", {"id": "cus_1", "object": "customer"})
    assert [a.status for a in atts] == [200]
    atts = shop.fake.send_event("payment_intent.succeeded",
                                {"id": "pi_x", "object": "payment_intent",
                                 "metadata": {"chatpay_ref": "op_notours"}})
    assert [a.status for a in atts] == [200]


def test_declined_card_stays_open_until_paid(env, shop):
    with requests.Session() as http:
        ref, token = new_link(env, shop.key, "Sale")
        s = session_of(shop, press_pay(env, http, token))
        text = shop.fake.pay(s["id"], "4000000000009995")
        assert "insufficient" in text.lower(), text
        assert status(env, shop.key, ref)["paymentStatus"] == "PENDING"
        shop.fake.pay(s["id"], CARD)
        st = wait_status(env, shop.key, ref, "SUCCESS")
        assert len(st["paymentStatuses"]) == 1


def test_amounts_in_stripes_own_units(env, shop):
    # Stripe keeps ISK at two decimals (ISO 4217: none) and MGA at none (ISO:
    # two), and takes three-decimal currencies in whole tens only
    env.ok("merchant", "update", shop.id, "--currencies", "ZAR,ISK,MGA,KWD")

    def session_amount(currency, total):
        with requests.Session() as http:
            ref, token = new_link(env, shop.key, "Authorization", currency=currency, totalAmount=total,
                                  subTotalAmount=total, taxAmount=0, orderLineItems=[])
            r = http.post(f"{env.base_url}/p/{token}/pay", allow_redirects=False,
                          headers={"Origin": env.base_url}, timeout=WAIT + 5)
            if r.status_code != 200:
                assert r.status_code == 503, r.text[:300]  # not started: no checkout
                return ref, token, None
            form = parse_qs(shop.fake.requests_to("/v1/checkout/sessions", "POST")[-1].body.decode())
            assert form["line_items[0][price_data][currency]"] == [currency.lower()]
            return ref, token, form["line_items[0][price_data][unit_amount]"][0]

    assert session_amount("ISK", 5000)[2] == "500000"
    assert session_amount("MGA", 1000)[2] == "1000"
    assert session_amount("KWD", 1.23)[2] == "1230"
    sessions = len(shop.fake.requests_to("/v1/checkout/sessions", "POST"))
    for currency, total in (("MGA", 1000.5), ("KWD", 1.235)):
        assert session_amount(currency, total)[2] is None, currency
    assert len(shop.fake.requests_to("/v1/checkout/sessions", "POST")) == sessions
    # a capture in ISK is sent in Stripe's units too
    with requests.Session() as http:
        ref, token = new_link(env, shop.key, "Authorization", currency="ISK", totalAmount=5000,
                              subTotalAmount=5000, taxAmount=0, orderLineItems=[])
        s = session_of(shop, press_pay(env, http, token))
        shop.fake.pay(s["id"], CARD)
        wait_status(env, shop.key, ref, "SUCCESS")
        r = env.api.post(PAYMENT_OPS + ref + "/capture?amount=2000", key=shop.key)
        assert r.status_code == 200 and r.body["paymentGatewayDecision"] == "ACCEPT", r.text
        pi_id = shop.fake.sessions[s["id"]]["payment_intent"]
        cap = shop.fake.requests_to(f"/v1/payment_intents/{pi_id}/capture", "POST")[-1]
        assert parse_qs(cap.body.decode())["amount_to_capture"] == ["200000"]


def test_authorization_capture_and_reversal(env, shop):
    with requests.Session() as http:
        ref, token, s, back = pay_link(env, shop, http, "Authorization")
        pi_id = shop.fake.sessions[s["id"]]["payment_intent"]
        assert shop.fake.payment_intents[pi_id]["status"] == "requires_capture"
        assert wait_status(env, shop.key, ref, "SUCCESS")["paymentStatuses"][0]["transactionType"] \
            == "Authorization"
        r = env.api.post(PAYMENT_OPS + ref + "/capture?amount=100.00", key=shop.key)
        assert r.status_code == 200, r.text
        assert (r.body["transactionType"], r.body["paymentGatewayDecision"]) == ("Capture", "ACCEPT")
        pi = shop.fake.payment_intents[pi_id]
        assert (pi["status"], pi["amount_received"]) == ("succeeded", 10000), pi
        cap = shop.fake.requests_to(f"/v1/payment_intents/{pi_id}/capture", "POST")[-1]
        assert parse_qs(cap.body.decode())["amount_to_capture"] == ["10000"]
        assert cap.headers["idempotency-key"].startswith("op_")
        ref2, token2, s2, _ = pay_link(env, shop, http, "Authorization")
        wait_status(env, shop.key, ref2, "SUCCESS")
        r = env.api.post(PAYMENT_OPS + ref2 + "/reverse", key=shop.key)
        assert r.status_code == 200 and r.body["paymentStatus"] == "REVERSED", r.text
        pi2 = shop.fake.sessions[s2["id"]]["payment_intent"]
        assert shop.fake.payment_intents[pi2]["status"] == "canceled"


def test_authorization_canceled_at_stripe_is_reversed(env, shop):
    """Stripe cancels a PaymentIntent left uncaptured for 7 days
    (cancellation_reason "automatic"; the merchant may also cancel it in
    Stripe's dashboard). The authorization is no longer held: the link's
    payment is REVERSED, with a history entry and the payment status
    callback, and a capture is refused by chatpay instead of failing at
    Stripe. chatpay's own reversal, which Stripe also reports as
    payment_intent.canceled, is recorded once."""
    rcv = CallbackReceiver().start()
    try:
        env.ok("merchant", "update", shop.id, "--payment-status-callback", rcv.url + "/ps",
               "--json")
        with requests.Session() as http:
            ref, token, s, back = pay_link(env, shop, http, "Authorization")
            wait_status(env, shop.key, ref, "SUCCESS")
            ref2, token2, s2, _ = pay_link(env, shop, http, "Authorization")
            wait_status(env, shop.key, ref2, "SUCCESS")
        pi = shop.fake.payment_intents[shop.fake.sessions[s["id"]]["payment_intent"]]
        assert pi["status"] == "requires_capture", pi
        pi["status"], pi["cancellation_reason"] = "canceled", "automatic"
        atts = shop.fake.send_event("payment_intent.canceled", dict(pi))
        assert [a.status for a in atts] == [200]
        st = wait_status(env, shop.key, ref, "REVERSED")
        assert st["paymentStatus"] == "REVERSED", st
        rev = [e for e in st["paymentStatuses"] if e["paymentStatus"] == "REVERSED"]
        assert len(rev) == 1 and rev[0]["paymentGatewayDecision"] == "ACCEPT", st["paymentStatuses"]
        assert "Stripe canceled the authorization (automatic)" in rev[0]["statusReason"], rev
        said = [h.get("responseCodeDescription", "") for h in st["transactionStatuses"]]
        assert any("Stripe canceled the authorization (automatic)" in d for d in said), said
        rcv.wait_for(lambda ds: any(d.json.get("paymentLinkRef") == ref
                                    and d.json.get("paymentStatus") == "REVERSED" for d in ds),
                     timeout=WAIT, what="the callback of the canceled authorization")
        n = len(shop.fake.requests)
        r = env.api.post(PAYMENT_OPS + ref + "/capture", key=shop.key)
        assert r.status_code == 400 and "reversed" in r.text, r.text
        assert not shop.fake.requests_to(f"/v1/payment_intents/{pi['id']}/capture", "POST")
        assert len(shop.fake.requests) == n
        # chatpay's own reversal: its payment_intent.canceled adds nothing
        r = env.api.post(PAYMENT_OPS + ref2 + "/reverse", key=shop.key)
        assert r.status_code == 200 and r.body["paymentStatus"] == "REVERSED", r.text
        shop.fake.wait_webhooks()
        pi2 = shop.fake.payment_intents[shop.fake.sessions[s2["id"]]["payment_intent"]]
        atts = shop.fake.send_event("payment_intent.canceled", dict(pi2))
        assert [a.status for a in atts] == [200]
        st2 = status(env, shop.key, ref2)
        assert [e["paymentStatus"] for e in st2["paymentStatuses"]] == ["SUCCESS", "REVERSED"], st2
        said = [h.get("responseCodeDescription", "") for h in st2["transactionStatuses"]]
        assert not any("Stripe canceled" in d for d in said), said
    finally:
        rcv.stop()


def test_unsettled_sale_is_voided_by_a_full_refund(env, shop):
    with requests.Session() as http:
        ref, token, s, back = pay_link(env, shop, http, "Sale")
    wait_status(env, shop.key, ref, "SUCCESS")
    r = env.api.post(PAYMENT_OPS + ref + "/reverse", key=shop.key)
    assert r.status_code == 200 and r.body["paymentStatus"] == "VOIDED", r.text
    pi = shop.fake.sessions[s["id"]]["payment_intent"]
    (refund,) = [x for x in shop.fake.refunds.values() if x["payment_intent"] == pi]
    assert (refund["amount"], refund["status"]) == (11500, "succeeded")


def test_void_that_fails_afterwards_restores_the_payment(env, shop):
    """Stripe makes a void of a captured sale as a full refund, and a refund
    can fail after it succeeded. Then the money did not go back: the payment
    is SUCCESS again, the merchant is told, the order cannot be sold again
    through a second link (which would charge the customer twice), and the
    merchant can refund it."""
    order = "void-fails-" + uuid.uuid4().hex[:8]
    with requests.Session() as http:
        ref, token, s, back = pay_link(env, shop, http, "Sale", orderNumber=order)
    wait_status(env, shop.key, ref, "SUCCESS")
    r = env.api.post(PAYMENT_OPS + ref + "/reverse", key=shop.key)
    assert r.status_code == 200 and r.body["paymentStatus"] == "VOIDED", r.text
    pi = shop.fake.sessions[s["id"]]["payment_intent"]
    (refund,) = [x for x in shop.fake.refunds.values() if x["payment_intent"] == pi]
    refund["status"], refund["failure_reason"] = "failed", "lost_or_stolen_card"
    atts = shop.fake.send_event("refund.updated", dict(refund))
    assert [a.status for a in atts] == [200]
    st = poll(lambda: status(env, shop.key, ref), lambda s: s["paymentStatus"] == "SUCCESS",
              timeout=WAIT, interval=0.2)
    assert st["paymentStatus"] == "SUCCESS", st
    void = [e for e in st["paymentStatuses"] if e["transactionType"] == "Void"]
    assert void and void[-1]["paymentGatewayDecision"] == "DECLINE", st["paymentStatuses"]
    said = [h.get("responseCodeDescription", "") for h in st["transactionStatuses"]]
    assert any("failed at the gateway afterwards" in d and "lost_or_stolen_card" in d for d in said), said
    # the order is paid: a second link for it is refused
    r = env.api.post("/api/v2/chat-2-pay", key=shop.key,
                     json=link_body(returnPaymentLink=True, transactionType="Sale", orderNumber=order))
    assert r.status_code == 400 and "already paid" in r.text, r.text


@pytest.mark.parametrize("txn, op, done", [("Authorization", "capture", "SUCCESS"),
                                           ("Authorization", "reverse", "REVERSED")])
def test_repeat_with_the_key_after_no_answer_finds_the_operation(env, shop, txn, op, done):
    """The gateway does not answer a capture or reverse (503, the key is
    forgotten so that it can be repeated). The repeat with the same
    Idempotency-Key finds the same operation and asks the gateway again
    (with the same idempotency key there): it is answered 200, not refused
    as a second operation, and that answer is what the key replays."""
    with requests.Session() as http:
        ref, token, s, back = pay_link(env, shop, http, txn)
    wait_status(env, shop.key, ref, "SUCCESS")
    key = {"Idempotency-Key": "op-" + uuid.uuid4().hex}
    shop.fake.set_mode("error_503", count=3)  # every try of the call (chatpay tries 3 times)
    first = env.api.post(PAYMENT_OPS + ref + "/" + op, key=shop.key, headers=key)
    assert first.status_code == 503, first.text
    again = env.api.post(PAYMENT_OPS + ref + "/" + op, key=shop.key, headers=key)
    assert again.status_code == 200, again.text
    assert again.body["paymentGatewayDecision"] == "ACCEPT" and again.body["paymentStatus"] == done
    replay = env.api.post(PAYMENT_OPS + ref + "/" + op, key=shop.key, headers=key)
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.body == again.body
    st = status(env, shop.key, ref)
    assert len(st["paymentStatuses"]) == 2, st["paymentStatuses"]  # the payment and one operation
    pi = shop.fake.sessions[s["id"]]["payment_intent"]
    path = f"/v1/payment_intents/{pi}/" + ("capture" if op == "capture" else "cancel")
    sent = shop.fake.requests_to(path, "POST")
    assert len({x.headers["idempotency-key"] for x in sent}) == 1, sent


def test_capture_answer_lost_is_replayed_with_the_same_key(env, shop):
    """The capture happens at Stripe but its answer never comes (the
    connection is closed after 3 s): chatpay asks again with the same
    Idempotency-Key and gets Stripe's stored answer; nothing is captured
    twice."""
    with requests.Session() as http:
        ref, token, s, back = pay_link(env, shop, http, "Authorization")
    wait_status(env, shop.key, ref, "SUCCESS")
    pi_id = shop.fake.sessions[s["id"]]["payment_intent"]
    shop.fake.set_mode("timeout_after_execute", count=1)
    r = env.api.post(PAYMENT_OPS + ref + "/capture", key=shop.key)
    assert r.status_code == 200, r.text
    assert r.body["paymentGatewayDecision"] == "ACCEPT"
    caps = shop.fake.requests_to(f"/v1/payment_intents/{pi_id}/capture", "POST")
    assert len(caps) >= 2 and len({c.headers["idempotency-key"] for c in caps}) == 1, caps
    assert shop.fake.payment_intents[pi_id]["amount_received"] == 11500


def test_stripe_unreachable_then_repaired(env, shop):
    """A capture Stripe never answers (503 on every try) stays pending: 503
    to the merchant; the repair sweep does it again under the same key."""
    with requests.Session() as http:
        ref, token, s, back = pay_link(env, shop, http, "Authorization")
    wait_status(env, shop.key, ref, "SUCCESS")
    shop.fake.set_mode("error_503", count=3)
    r = env.api.post(PAYMENT_OPS + ref + "/capture", key=shop.key)
    assert r.status_code == 503, r.text
    st = poll(lambda: status(env, shop.key, ref),
              lambda s: [e["paymentGatewayDecision"] for e in s["paymentStatuses"]]
              == ["ACCEPT", "ACCEPT"], timeout=20, interval=0.5)
    assert st["paymentStatuses"][1]["transactionType"] == "Capture"


def test_no_card_data_reaches_chatpay(env, shop):
    with requests.Session() as http:
        ref, token, s, back = pay_link(env, shop, http, card=CARD)
        http.get(back, timeout=WAIT)
    for q in shop.fake.requests:
        if q.path.startswith("/v1/"):
            text = q.target + q.body.decode("utf-8", "replace")
            assert CARD not in text and "4242 4242" not in text, q
    for a in shop.fake.webhooks:
        assert CARD.encode() not in a.body
    assert CARD not in env.proc.log_text()


# ---- refunds (after the 30-second settlement) ---------------------------------------------


@pytest.fixture(scope="module")
def book(env):
    shop = Shop(env, settle=f"{SETTLE_S}s")
    # a merchant of its own for the refund whose answer is lost: its fake's
    # clock is moved a day on
    lost_shop = Shop(env, settle=f"{SETTLE_S}s")
    with requests.Session() as http:
        sale = pay_link(env, shop, http, "Sale")
        fails = pay_link(env, shop, http, "Sale", card=REFUND_FAILS)
        auth = pay_link(env, shop, http, "Authorization")
        lost = pay_link(env, lost_shop, http, "Sale")
    for p in (sale, fails, auth):
        wait_status(env, shop.key, p[0], "SUCCESS")
    wait_status(env, lost_shop.key, lost[0], "SUCCESS")
    r = env.api.post(PAYMENT_OPS + auth[0] + "/capture?amount=50.00", key=shop.key)
    assert r.status_code == 200, r.text
    start = now_utc()
    yield {"shop": shop, "sale": sale, "fails": fails, "auth": auth, "at": start,
           "lost_shop": lost_shop, "lost": lost}
    shop.close()
    lost_shop.close()




def test_zz_stripe_refunds(env, book):
    shop = book["shop"]
    when = book["at"] + datetime.timedelta(seconds=SETTLE_S + 1)
    delay = (when - now_utc()).total_seconds()
    assert delay <= 45
    if delay > 0:
        time.sleep(delay)
    ref, _, s, _ = book["sale"]
    pi = shop.fake.sessions[s["id"]]["payment_intent"]
    r = env.api.post(PAYMENT_OPS + ref + "/refund?amount=15.00", key=shop.key,
                     headers={"Idempotency-Key": "stripe-" + uuid.uuid4().hex})
    assert r.status_code == 200 and r.body["status"] == "SUCCEEDED", r.text
    post = shop.fake.requests_to("/v1/refunds", "POST")[-1]
    form = parse_qs(post.body.decode())
    assert form["payment_intent"] == [pi] and form["amount"] == ["1500"], form
    assert post.headers["idempotency-key"] == r.body["refundRef"]
    assert r.body["paymentGatewayReqReferenceNumber"].startswith("re_")
    r = env.api.post(PAYMENT_OPS + ref + "/refund", key=shop.key)
    assert r.status_code == 200 and r.body["refundedAmount"] == 115.0, r.text
    assert sum(x["amount"] for x in shop.fake.refunds.values() if x["payment_intent"] == pi) == 11500
    # a capture is refunded through its PaymentIntent, up to what was captured
    aref = book["auth"][0]
    r = env.api.post(PAYMENT_OPS + aref + "/refund?amount=50.01", key=shop.key)
    assert r.status_code == 400, r.text
    r = env.api.post(PAYMENT_OPS + aref + "/refund", key=shop.key)
    assert r.status_code == 200 and r.body["amount"] == 50.0, r.text
    # the card whose refunds fail: pending (202), then failed, told by refund.updated
    fref = book["fails"][0]
    r = env.api.post(PAYMENT_OPS + fref + "/refund?amount=10.00", key=shop.key)
    assert r.status_code == 202 and r.body["status"] == "PENDING", r.text
    st = poll(lambda: status(env, shop.key, fref), lambda s: s["refunds"][0]["status"] != "PENDING",
              timeout=WAIT, interval=0.2)
    (rf,) = st["refunds"]
    assert rf["status"] == "FAILED" and "expired_or_canceled_card" in rf["paymentGatewayErrorDecision"]
    assert st["refundedAmount"] == 0
    # a refund that succeeded and fails later (Stripe's refunds can): told by
    # refund.updated, confirmed by retrieving it, the money counts again
    st = status(env, shop.key, ref)
    first = st["refunds"][0]
    re_id = first["paymentGatewayReqReferenceNumber"]
    refund = shop.fake.refunds[re_id]
    refund["status"], refund["failure_reason"] = "failed", "lost_or_stolen_card"
    atts = shop.fake.send_event("refund.updated", dict(refund))
    assert [a.status for a in atts] == [200]
    st = poll(lambda: status(env, shop.key, ref), lambda s: s["refunds"][0]["status"] == "FAILED",
              timeout=WAIT, interval=0.2)
    assert st["refundedAmount"] == 100.0, st
    assert "lost_or_stolen_card" in st["refunds"][0]["paymentGatewayErrorDecision"]


REPAIR_WATCH = 40.0  # seconds a refund pending at Stripe is watched
REPAIR_ASKS_MAX = 3  # the sweep's asks in that time: at 15 s, 30 s (each + a pass); 7 every 5 s


def test_zz_stripe_pending_refund_is_asked_with_backoff(env, book):
    """A refund Stripe leaves pending is asked about by the repair sweep with
    growing intervals — 15 s after it began, then after as long again (30 s,
    1 min, …) — not at every pass of the sweep (5 s)."""
    shop = book["shop"]
    shop.fake.refund_fail_delay = None  # the refund stays pending
    t0 = time.time()
    fref = book["fails"][0]
    r = env.api.post(PAYMENT_OPS + fref + "/refund?amount=5.00", key=shop.key)
    assert r.status_code == 202 and r.body["status"] == "PENDING", r.text
    (re_id,) = [k for k, x in shop.fake.refunds.items() if x["status"] == "pending"]
    time.sleep(max(0.0, t0 + REPAIR_WATCH - time.time()))
    # the sweep's asks (those of the refund's own webhooks come at once)
    at = [q.at - t0 for q in shop.fake.requests_to(f"/v1/refunds/{re_id}", "GET")
          if t0 + 5 < q.at <= t0 + REPAIR_WATCH]
    assert 1 <= len(at) <= REPAIR_ASKS_MAX, at
    assert all(b - a >= 10 for a, b in zip(at, at[1:])), at
    st = status(env, shop.key, fref)
    assert [x["status"] for x in st["refunds"]] == ["FAILED", "PENDING"], st["refunds"]


def test_follow_ups_go_to_the_payments_gateway(env, shop):
    """A payment's capture goes to the gateway that took it, even after the
    merchant selected another one; a gateway with payments is not removed."""
    with requests.Session() as http:
        ref, token, s, back = pay_link(env, shop, http, "Authorization")
    wait_status(env, shop.key, ref, "SUCCESS")
    env.ok("merchant", "update", shop.id, "--gateway", "none")
    r = env.api.post(PAYMENT_OPS + ref + "/capture", key=shop.key)
    assert r.status_code == 200 and r.body["paymentGatewayDecision"] == "ACCEPT", r.text
    pi = shop.fake.sessions[s["id"]]["payment_intent"]
    assert shop.fake.payment_intents[pi]["status"] == "succeeded"
    bad = env.cli("provider", "remove", shop.provider)
    assert bad.returncode != 0 and "has payments" in bad.stderr, bad.stderr


def test_zz_stripe_refund_lost_for_a_day_is_not_made_twice(env, book):
    """A refund whose answer is lost (Stripe made it; the connection closed
    before the answer, and no webhook told its id) while Stripe's
    Idempotency-Key is pruned (a day later): the repair sweep finds it among
    the PaymentIntent's refunds by metadata[chatpay_ref] rather than sending
    it again, which would be a new refund — the money returned twice."""
    shop = book["lost_shop"]
    ref, _, s, _ = book["lost"]
    when = book["at"] + datetime.timedelta(seconds=SETTLE_S + 1)
    time.sleep(max(0.0, (when - now_utc()).total_seconds()))
    pi = shop.fake.sessions[s["id"]]["payment_intent"]
    shop.fake.hold_webhooks = True  # refund.created would name it
    shop.fake.hang_seconds = 12  # longer than chatpay's 10-second call
    shop.fake.set_mode("timeout_after_execute", count=1, endpoint="send")
    r = env.api.post(PAYMENT_OPS + ref + "/refund?amount=50.00", key=shop.key)
    assert r.status_code == 202 and r.body["status"] == "PENDING", r.text
    made = [x["id"] for x in shop.fake.refunds.values() if x["payment_intent"] == pi]
    assert len(made) == 1, made
    real = time.time
    shop.fake.now = lambda: real() + 25 * 3600  # the key is pruned
    st = poll(lambda: status(env, shop.key, ref),
              lambda st: st["refunds"] and st["refunds"][0]["status"] != "PENDING",
              timeout=45, interval=0.5)
    got = [(x["id"], x["amount"]) for x in shop.fake.refunds.values() if x["payment_intent"] == pi]
    assert got == [(made[0], 5000)], got
    (rf,) = st["refunds"]
    assert rf["status"] == "SUCCEEDED" and rf["paymentGatewayReqReferenceNumber"] == made[0], rf
    assert st["refundedAmount"] == 50.0, st
