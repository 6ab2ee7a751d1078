"""The CyberSource gateway, black-box through its offline fake (tests/fakes/
cybersource_fake.py): configuration (`provider add --kind cybersource`, test
hosts for sandbox merchants only), the signed Secure Acceptance form the Pay
button posts (a page that works without JavaScript), the result from the
browser's receipt POST and the merchant POST (signature, our access key and
profile, the attempt's amount and currency; replays and tampering), always
confirmed through the REST API before it is recorded, then capture,
reversal, void and refunds with HTTP Signature authentication, and the
unknown outcome (502 after the operation happened) resolved by a search or
a timeout void, never by repeating.

The module runs a server of its own with a secrets_key (test_providers.Env);
each merchant gets a fresh fake whose merchant POST goes to chatpay's URL."""

from __future__ import annotations

import datetime
import json
import re
import time

import pytest
import requests

from gateway_flow import gateway_env, gateway_merchant, new_link, status, wait_second_op, wait_status
from cp_helpers import PAYMENT_OPS, db_exec, db_query, page_h1, page_title, parse_html, poll
from cybersource_fake import CyberSourceFake, sa_verify, tampered
from payment_flow import SETTLE_S, now_utc
from test_providers import PROVIDER_SECRETS

CARD = "4111111111111111"
WAIT = 10.0
OP_REF_RE = re.compile(r"op_[0-9A-Za-z]{17}")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    yield from gateway_env(tmp_path_factory, "cybersource")


class Shop:
    """A sandbox merchant whose gateway is a fresh CyberSource fake."""

    def __init__(self, env, settle: str | None = None):
        self.env = env
        self.fake = CyberSourceFake(hang_seconds=3.0)
        f = self.fake
        PROVIDER_SECRETS.update({f.secret_key, f.shared_secret})
        m, p = gateway_merchant(env, "cybersource", {
            "merchant_id": f.merchant_id, "profile_id": f.profile_id,
            "access_key": f.access_key, "secret_key": f.secret_key, "key_id": f.key_id,
            "shared_secret": f.shared_secret, "sa_base_url": f.base_url,
            "rest_base_url": f.base_url}, settle)
        self.id, self.key = m["merchantId"], m["apiKey"]
        self.provider = p["providerId"]
        f.merchant_post_url = p["inboundUrls"]["merchantPost"]

    def close(self):
        self.fake.stop()


@pytest.fixture
def shop(env):
    s = Shop(env)
    yield s
    s.close()








def press_pay(env, shop, http, token):
    """POST /p/{token}/pay: the page with the signed form for Secure
    Acceptance; returns its fields."""
    r = http.post(f"{env.base_url}/p/{token}/pay", allow_redirects=False,
                  headers={"Origin": env.base_url}, timeout=WAIT)
    assert r.status_code == 200, r.text[:500]
    doc = parse_html(r.text)
    (form,) = doc.find_all("form")
    assert form.attrs["action"] == shop.fake.base_url + "/pay"
    assert form.attrs["method"] == "post" and "data-autosubmit" in form.attrs
    # without JavaScript the customer presses the button
    assert form.find("button", type="submit") is not None
    csp = r.headers["Content-Security-Policy"]
    assert f"form-action 'self' {shop.fake.base_url};" in csp, csp
    return {i.attrs["name"]: i.attrs.get("value") or "" for i in form.find_all("input")}


def pay_link(env, shop, http, txn="Sale", card=CARD, receipt=True):
    ref, token = new_link(env, shop.key, txn)
    fields = press_pay(env, shop, http, token)
    result = shop.fake.pay(fields, card)
    att = shop.fake.post_receipt(result) if receipt else None
    return ref, token, fields, result, att


# ---- started first: the 30-second settlement of `book` runs during the module ----------


def test_cybersource_refunds_wait_for_settlement(env, book):
    r = env.api.post(PAYMENT_OPS + book["sale"][0] + "/refund", key=book["shop"].key)
    assert r.status_code == 400 and "not been settled" in r.body["message"], r.text


# ---- configuration ------------------------------------------------------------------------


def test_cybersource_provider_configuration(env):
    f = CyberSourceFake()
    try:
        m = env.ok("merchant", "create", "--name", "CS Config", "--json").json()
        common = ["--set", f"merchant_id={f.merchant_id}", "--set", f"profile_id={f.profile_id}",
                  "--set", f"access_key={f.access_key}", "--set", f"secret_key={f.secret_key}",
                  "--set", f"key_id={f.key_id}", "--set", f"shared_secret={f.shared_secret}"]
        p = env.ok("provider", "add", "--merchant", m["merchantId"], "--kind", "cybersource",
                   *common, "--json").json()
        assert p["live"] is False and sorted(p["secretsSet"]) == ["secret_key", "shared_secret"]
        assert p["settings"].get("merchant_id") == f.merchant_id
        assert "merchantPost" in p["inboundUrls"]
        # the production hosts are live: not for a sandbox merchant
        bad = env.cli("provider", "add", "--merchant", m["merchantId"], "--kind", "cybersource",
                      *common, "--set", "sa_base_url=https://secureacceptance.cybersource.com",
                      "--set", "rest_base_url=https://api.cybersource.com")
        assert bad.returncode != 0 and "live credentials serve production merchants only" in bad.stderr
        bad = env.cli("provider", "add", "--merchant", m["merchantId"], "--kind", "cybersource",
                      *common, "--set", "rest_base_url=https://api.cybersource.com")
        assert bad.returncode != 0 and "both be test or both live" in bad.stderr
        bad = env.cli("provider", "add", "--merchant", m["merchantId"], "--kind", "cybersource",
                      *common[:-2], "--set", "shared_secret=not base64!")
        assert bad.returncode != 0 and "shared_secret must be the base64 key" in bad.stderr
    finally:
        f.stop()


# ---- paying -------------------------------------------------------------------------------


def test_signed_form_receipt_and_merchant_post(env, shop):
    with requests.Session() as http:
        ref, token = new_link(env, shop.key, "Sale")
        fields = press_pay(env, shop, http, token)
        op_ref = fields["transaction_uuid"]
        assert OP_REF_RE.fullmatch(op_ref)
        assert fields["reference_number"] == op_ref
        assert (fields["access_key"], fields["profile_id"]) == (shop.fake.access_key,
                                                                shop.fake.profile_id)
        assert (fields["transaction_type"], fields["amount"], fields["currency"]) == (
            "sale", "115.00", "ZAR")
        back = f"{env.base_url}/p/{token}/return?ref={op_ref}"
        assert fields["override_custom_receipt_page"] == back
        assert fields["unsigned_field_names"] == ""
        assert fields["locale"] == "en"  # the page's language
        assert sa_verify(fields, shop.fake.secret_key), "the request's signature"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", fields["signed_date_time"])
        result = shop.fake.pay(fields, CARD)
        assert result["decision"] == "ACCEPT"
        # the merchant POST was answered at once, and the payment recorded
        # as the REST API confirms it
        assert [a.status for a in shop.fake.webhooks if a.label == "merchant post"] == [200]
        st = wait_status(env, shop.key, ref, "SUCCESS")
        (op,) = st["paymentStatuses"]
        assert (op["paymentGatewayDecision"], op["paymentGatewayResponseCode"],
                op["paymentGatewayReqReferenceNumber"], op["cardType"], op["maskedCardNumber"]) == (
            "ACCEPT", 100, result["transaction_id"], "VISA", "************1111"), op
        gets = shop.fake.requests_to(f"/tss/v2/transactions/{result['transaction_id']}", "GET")
        assert gets, "the result was not confirmed by a transaction retrieve"
        # the browser's receipt: the result page; replayed: the same, nothing changes
        att = shop.fake.post_receipt(result)
        assert att.status == 200
        assert shop.fake.post_receipt(result).status == 200
        assert len(status(env, shop.key, ref)["paymentStatuses"]) == 1


def test_merchant_post_is_answered_before_the_rest_api(env, shop):
    """CyberSource wants its merchant POST acknowledged quickly (a slow
    answer delays its later posts) and documents no retry: it is answered
    200 at once, even while the REST API is slow, and a job asks the REST
    API and records the payment."""
    shop.fake.slow_seconds = 4.0
    shop.fake.set_mode("slow", count=1, endpoint="query")
    with requests.Session() as http:
        ref, token = new_link(env, shop.key, "Sale")
        fields = press_pay(env, shop, http, token)
        t0 = time.monotonic()
        result = shop.fake.pay(fields, CARD)  # returns once its merchant POST is answered
        took = time.monotonic() - t0
    (post,) = [a for a in shop.fake.webhooks if a.label == "merchant post"]
    assert post.status == 200
    assert took < 2.0, took  # not after the slow REST call
    st = wait_status(env, shop.key, ref, "SUCCESS", timeout=20)
    assert [e["paymentGatewayReqReferenceNumber"] for e in st["paymentStatuses"]] == [
        result["transaction_id"]]


def test_receipt_alone_settles_the_payment(env, shop):
    shop.fake.merchant_post_mode = "never"
    with requests.Session() as http:
        ref, token, fields, result, att = pay_link(env, shop, http)
    assert att.status == 200
    assert status(env, shop.key, ref)["paymentStatus"] == "SUCCESS"


@pytest.mark.parametrize("mode", ["duplicated", "delayed"])
def test_merchant_post_duplicated_or_late(env, shop, mode):
    shop.fake.merchant_post_mode = mode
    shop.fake.merchant_post_delay = 0.5
    with requests.Session() as http:
        ref, token, fields, result, att = pay_link(env, shop, http)
    want = 2 if mode == "duplicated" else 1
    poll(lambda: [a for a in shop.fake.webhooks if a.label == "merchant post"],
         lambda ps: len(ps) >= want, 20)
    shop.fake.wait_merchant_posts(20)  # and none more in flight
    posts = [a for a in shop.fake.webhooks if a.label == "merchant post"]
    assert [a.status for a in posts] == [200] * want
    st = status(env, shop.key, ref)
    assert st["paymentStatus"] == "SUCCESS" and len(st["paymentStatuses"]) == 1


def test_tampered_or_foreign_results_are_refused(env, shop):
    shop.fake.merchant_post_mode = "never"
    with requests.Session() as http:
        ref, token = new_link(env, shop.key, "Sale")
        fields = press_pay(env, shop, http, token)
        result = shop.fake.pay(fields, CARD)
        # a changed amount under the original signature
        assert shop.fake.post_receipt(tampered(result, req_amount="1.00")).status == 403
        # re-signed without req_amount in the list
        resigned = shop.fake.resign(tampered(result, req_amount="1.00"), leave_out=("req_amount",))
        assert shop.fake.post_receipt(resigned).status == 403
        # signed with another secret
        assert shop.fake.post_receipt(shop.fake.resign(result, secret="other")).status == 403
        # validly signed, but for another amount than the attempt's
        assert shop.fake.post_receipt(shop.fake.resign(tampered(result, req_amount="1.00"))).status == 403
        assert status(env, shop.key, ref)["paymentStatus"] == "PENDING"
        assert shop.fake.post_receipt(result).status == 200
        assert status(env, shop.key, ref)["paymentStatus"] == "SUCCESS"
    # the merchant POST URL checks the same
    hook = shop.fake.merchant_post_url
    r = requests.post(hook, data=tampered(result, req_amount="2.00"), timeout=WAIT)
    assert r.status_code == 403


@pytest.mark.parametrize("card,decision,code,pay_status", [
    ("4000000000000002", "DECLINE", 203, "FAILED"),
    ("4000000000009995", "DECLINE", 204, "FAILED"),
    ("4000000000000101", "REVIEW", 480, "REVIEW"),
    ("4000000000000119", "REVIEW", 520, "REVIEW"),
])
def test_decisions_by_status_with_reason_code(env, shop, card, decision, code, pay_status):
    with requests.Session() as http:
        ref, token, fields, result, att = pay_link(env, shop, http, card=card)
    st = status(env, shop.key, ref)
    assert st["paymentStatus"] == pay_status, st
    (op,) = st["paymentStatuses"]
    assert (op["paymentGatewayDecision"], op["paymentGatewayResponseCode"]) == (decision, code), op


JOB_REVIEW_SETTLE = 5


def test_review_still_open_is_asked_again_until_decided(env, shop):
    """A Decision Manager review can take days: a settle run that finds the
    payment still under review records nothing and asks again later (15
    minutes, then longer); once the reviewer has decided, the next try
    records the outcome."""
    with requests.Session() as http:
        ref, token, fields, result, att = pay_link(env, shop, http, card="4000000000000101")
    assert status(env, shop.key, ref)["paymentStatus"] == "REVIEW"
    tx_path = f"/tss/v2/transactions/{result['transaction_id']}"

    def job():
        rows = db_query(env.db_url, "SELECT run_at, locked_until, done_at, attempts FROM jobs"
                        " WHERE merchant_id = ? AND kind = ?", (shop.id, JOB_REVIEW_SETTLE))
        assert len(rows) == 1, rows
        return rows[0]

    def run_now():
        n = db_exec(env.db_url, "UPDATE jobs SET run_at = ? WHERE merchant_id = ? AND kind = ?"
                    " AND done_at = 0", (int(time.time() * 1e6), shop.id, JOB_REVIEW_SETTLE))
        assert n == 1, job()

    # the review delay is over: CyberSource still holds it for review
    asked = len(shop.fake.requests_to(tx_path, "GET"))
    run_now()
    run_at, locked, done, attempts = poll(job, lambda j: j[3] == 1 and j[1] == 0 or j[2] != 0,
                                          WAIT)
    assert len(shop.fake.requests_to(tx_path, "GET")) > asked
    assert done == 0, "the settle job ended while the payment is still under review"
    assert run_at > (time.time() + 10 * 60) * 1e6, run_at / 1e6 - time.time()
    assert run_at < (time.time() + 4 * 3600) * 1e6, run_at / 1e6 - time.time()
    assert status(env, shop.key, ref)["paymentStatus"] == "REVIEW"
    # the reviewer accepts it; the next try (made due now) records it
    shop.fake.resolve_review(result["transaction_id"], accept=True)
    run_now()
    st = wait_status(env, shop.key, ref, "SUCCESS")
    assert st["paymentStatus"] == "SUCCESS", st
    assert poll(job, lambda j: j[2] != 0, WAIT)[2] != 0


def test_error_151_is_confirmed_by_the_transaction(env, shop):
    """SA says ERROR 151 (server timeout) but the payment did happen: the
    REST API is what is recorded."""
    with requests.Session() as http:
        ref, token, fields, result, att = pay_link(env, shop, http, card="4000000000000151")
    assert result["decision"] == "ERROR"
    st = status(env, shop.key, ref)
    assert st["paymentStatus"] == "SUCCESS", st


def test_cancel_at_the_checkout(env, shop):
    with requests.Session() as http:
        ref, token = new_link(env, shop.key, "Sale")
        fields = press_pay(env, shop, http, token)
        result = shop.fake.pay(fields, cancel=True)
        assert result["decision"] == "CANCEL"
        att = shop.fake.post_receipt(result)
        # the customer is told they cancelled, not that something went wrong;
        # a reload of the result page too
        reload = http.get(f"{env.base_url}/p/{token}/return?ref={fields['reference_number']}", timeout=WAIT)
    for page in (att.response_body.decode(), reload.text):
        doc = parse_html(page)
        assert page_title(doc) == page_h1(doc) == "Payment cancelled", page
        text = doc.text()
        assert "You cancelled the payment. No money was taken." in text, text
        assert "Open the link again" in text and "went wrong" not in text, text
    assert att.status == reload.status_code == 200
    st = status(env, shop.key, ref)
    assert st["paymentStatus"] == "FAILED", st
    assert "Cancelled by the customer" in st["paymentStatuses"][0]["paymentGatewayErrorDecision"]
    # back on the link page they are not told that their payment failed,
    # and can pay again
    page = requests.get(f"{env.base_url}/p/{token}", timeout=WAIT)
    doc = parse_html(page.text)
    assert page.status_code == 200 and doc.find("p", cls="notice") is None, page.text
    assert doc.find("form", action=f"/p/{token}/pay") is not None, page.text


def test_capture_reverse_and_void(env, shop):
    with requests.Session() as http:
        ref, token, fields, result, att = pay_link(env, shop, http, "Authorization")
        assert wait_status(env, shop.key, ref, "SUCCESS")
        r = env.api.post(PAYMENT_OPS + ref + "/capture?amount=100.00", key=shop.key)
        assert r.status_code == 200 and r.body["paymentGatewayDecision"] == "ACCEPT", r.text
        cap_id = r.body["paymentGatewayReqReferenceNumber"]
        post = shop.fake.requests_to(f"/pts/v2/payments/{result['transaction_id']}/captures", "POST")[-1]
        body = json.loads(post.body)
        assert body["orderInformation"]["amountDetails"] == {"totalAmount": "100.00", "currency": "ZAR"}
        op_ref = body["clientReferenceInformation"]["transactionId"]
        assert OP_REF_RE.fullmatch(op_ref)
        for h in ("v-c-merchant-id", "date", "digest", "signature"):
            assert h in post.headers, post.headers
        assert shop.fake.transaction(cap_id)["status"] == "PENDING"
        # an unsettled capture is voided
        r = env.api.post(PAYMENT_OPS + ref + "/reverse", key=shop.key)
        assert r.status_code == 200 and r.body["paymentStatus"] == "VOIDED", r.text
        assert shop.fake.requests_to(f"/pts/v2/captures/{cap_id}/voids", "POST")
        # an uncaptured authorization is reversed
        ref2, _, _, result2, _ = pay_link(env, shop, http, "Authorization")
        r = env.api.post(PAYMENT_OPS + ref2 + "/reverse", key=shop.key)
        assert r.status_code == 200 and r.body["paymentStatus"] == "REVERSED", r.text
        assert shop.fake.transaction(result2["transaction_id"])["status"] == "REVERSED"


def test_502_after_the_capture_is_resolved_by_search(env, shop):
    """The capture happens, then CyberSource answers 502: chatpay answers
    503 and does NOT capture again; the repair finds the capture by its
    transactionId and records it."""
    with requests.Session() as http:
        ref, token, fields, result, att = pay_link(env, shop, http, "Authorization")
    wait_status(env, shop.key, ref, "SUCCESS")
    shop.fake.set_mode("error_502_after", count=1)
    r = env.api.post(PAYMENT_OPS + ref + "/capture", key=shop.key)
    assert r.status_code == 503, r.text
    st = wait_second_op(env, shop.key, ref, timeout=30)
    assert st["paymentStatuses"][1]["paymentGatewayDecision"] == "ACCEPT", st
    caps = shop.fake.requests_to(f"/pts/v2/payments/{result['transaction_id']}/captures", "POST")
    assert len(caps) == 1, "the capture was sent again"
    assert shop.fake.requests_to("/tss/v2/searches", "POST")


def test_502_before_the_capture_is_undone_then_done(env, shop):
    """A 502 where nothing happened: the repair finds nothing, the timeout
    void finds nothing to void, and only then is the capture done."""
    with requests.Session() as http:
        ref, token, fields, result, att = pay_link(env, shop, http, "Authorization")
    wait_status(env, shop.key, ref, "SUCCESS")
    shop.fake.set_mode("error_502", count=1)
    r = env.api.post(PAYMENT_OPS + ref + "/capture", key=shop.key)
    assert r.status_code == 503, r.text
    st = wait_second_op(env, shop.key, ref, timeout=30)
    assert st["paymentStatuses"][1]["paymentGatewayDecision"] == "ACCEPT", st
    assert shop.fake.requests_to("/pts/v2/voids", "POST"), "no timeout void was tried"
    caps = shop.fake.requests_to(f"/pts/v2/payments/{result['transaction_id']}/captures", "POST")
    assert len(caps) == 2


def test_a_repeat_while_the_sweep_repairs_does_not_call_the_gateway(env, shop):
    """The capture's answer is lost (a 502, nothing done); the repair sweep
    takes it up, and its search at CyberSource is slow; the merchant sends
    the capture again, same Idempotency-Key, meanwhile. The repeat is
    answered 503 without calling CyberSource: a second repair at once could
    undo the first's work (its timeout void voiding the capture the first
    has just made, which the search did not show yet)."""
    with requests.Session() as http:
        ref, token, fields, result, att = pay_link(env, shop, http, "Authorization")
    wait_status(env, shop.key, ref, "SUCCESS")
    key = {"Idempotency-Key": f"race-{ref}"}
    shop.fake.set_mode("error_502", count=1)
    r = env.api.post(PAYMENT_OPS + ref + "/capture", key=shop.key, headers=key)
    assert r.status_code == 503, r.text
    searches = len(shop.fake.requests_to("/tss/v2/searches", "POST"))
    shop.fake.slow_seconds = 6.0
    shop.fake.set_mode("slow", count=1, endpoint="query")
    # the sweep's repair begins (15 s after the capture: its call is surely over)
    poll(lambda: len(shop.fake.requests_to("/tss/v2/searches", "POST")), lambda n: n > searches,
         timeout=40, interval=0.1)
    before = len(shop.fake.requests)
    r = env.api.post(PAYMENT_OPS + ref + "/capture", key=shop.key, headers=key)
    assert r.status_code == 503, r.text
    assert "being asked for" in r.body["message"], r.text
    assert len(shop.fake.requests) == before, shop.fake.requests[before:]
    # the sweep's repair ends it: the capture done once, and the repeat
    # now gets its answer
    st = wait_second_op(env, shop.key, ref, timeout=30)
    assert st["paymentStatuses"][1]["paymentGatewayDecision"] == "ACCEPT", st
    caps = shop.fake.requests_to(f"/pts/v2/payments/{result['transaction_id']}/captures", "POST")
    assert len(caps) == 2, caps  # the one answered 502, and the repair's
    r = env.api.post(PAYMENT_OPS + ref + "/capture", key=shop.key, headers=key)
    assert r.status_code == 200, r.text


def test_no_card_data_reaches_chatpay(env, shop):
    with requests.Session() as http:
        pay_link(env, shop, http, card=CARD)
    for a in shop.fake.webhooks:
        assert CARD.encode() not in a.body, a
    for q in shop.fake.requests:
        if q.path.startswith(("/pts/", "/tss/")):
            assert CARD.encode() not in q.body, q
    assert CARD not in env.proc.log_text()


# ---- refunds (after the 30-second settlement) ---------------------------------------------


@pytest.fixture(scope="module")
def book(env):
    shop = Shop(env, settle=f"{SETTLE_S}s")
    with requests.Session() as http:
        sale = pay_link(env, shop, http, "Sale")
        auth = pay_link(env, shop, http, "Authorization")
    for p in (sale, auth):
        wait_status(env, shop.key, p[0], "SUCCESS")
    r = env.api.post(PAYMENT_OPS + auth[0] + "/capture?amount=60.00", key=shop.key)
    assert r.status_code == 200, r.text
    yield {"shop": shop, "sale": sale, "auth": auth, "capture": r.body, "at": now_utc()}
    shop.close()




def test_zz_cybersource_refunds(env, book):
    shop = book["shop"]
    delay = (book["at"] + datetime.timedelta(seconds=SETTLE_S + 1) - now_utc()).total_seconds()
    assert delay <= 45
    if delay > 0:
        time.sleep(delay)
    ref, _, _, result, _ = book["sale"]
    r = env.api.post(PAYMENT_OPS + ref + "/refund?amount=15.00", key=shop.key)
    assert r.status_code == 200 and r.body["status"] == "SUCCEEDED", r.text
    post = shop.fake.requests_to(f"/pts/v2/payments/{result['transaction_id']}/refunds", "POST")[-1]
    assert json.loads(post.body)["orderInformation"]["amountDetails"]["totalAmount"] == "15.00"
    r = env.api.post(PAYMENT_OPS + ref + "/refund", key=shop.key)
    assert r.status_code == 200 and r.body["refundedAmount"] == 115.0, r.text
    # a capture is refunded through the capture, up to what was captured
    aref = book["auth"][0]
    cap_id = book["capture"]["paymentGatewayReqReferenceNumber"]
    r = env.api.post(PAYMENT_OPS + aref + "/refund", key=shop.key)
    assert r.status_code == 200 and r.body["amount"] == 60.0, r.text
    assert shop.fake.requests_to(f"/pts/v2/captures/{cap_id}/refunds", "POST")


def test_payment_after_a_cancel_is_returned(env, shop):
    """The customer cancels (the attempt is FAILED), then posts the same
    signed form again later and pays: CyberSource took money for an attempt
    chatpay had recorded as not paid. It is recorded as not taken and voided
    at once, never lost."""
    shop.fake.uuid_window = 0  # past Secure Acceptance's 15-minute duplicate check
    with requests.Session() as http:
        ref, token = new_link(env, shop.key, "Sale")
        fields = press_pay(env, shop, http, token)
        cancel = shop.fake.pay(fields, cancel=True)
        shop.fake.post_receipt(cancel)
        assert status(env, shop.key, ref)["paymentStatus"] == "FAILED"
        paid = shop.fake.pay(fields, CARD)
        assert paid["decision"] == "ACCEPT"
        assert shop.fake.post_receipt(paid).status == 200
    tx = paid["transaction_id"]
    st = poll(lambda: status(env, shop.key, ref),
              lambda s: shop.fake.transaction(tx)["status"] == "VOIDED", timeout=WAIT, interval=0.2)
    (op,) = [e for e in st["paymentStatuses"] if e.get("paymentGatewayReqReferenceNumber") == tx
             and e["transactionType"] == "Sale"]
    assert op["statusReason"].startswith("Not taken: the attempt had been recorded as not paid"), op
    assert shop.fake.requests_to(f"/pts/v2/payments/{tx}/voids", "POST")


def test_late_notice_about_another_transaction_leaves_the_review(env, shop):
    """Two Secure Acceptance payments under one attempt reference (the form
    posted again): a decline whose merchant POST comes late, after the
    attempt was recorded as held for REVIEW by another transaction. The
    notice is about another transaction than the recorded one: it changes
    nothing (a FAILED link could be paid again while the review holds the
    money), and the review is still followed to its outcome."""
    shop.fake.uuid_window = 0  # past Secure Acceptance's 15-minute duplicate check
    with requests.Session() as http:
        ref, token = new_link(env, shop.key, "Sale")
        fields = press_pay(env, shop, http, token)
        shop.fake.merchant_post_mode = "never"
        declined = shop.fake.pay(fields, "4000000000000002")
        shop.fake.merchant_post_mode = "normal"
        review = shop.fake.pay(fields, "4000000000000101")
        assert (declined["decision"], review["decision"]) == ("DECLINE", "REVIEW")
        assert wait_status(env, shop.key, ref, "REVIEW")["paymentStatus"] == "REVIEW"
        # the late merchant POST is answered once it is handled (asked about)
        assert [a.status for a in shop.fake.deliver(declined)] == [200]
        assert shop.fake.requests_to(f"/tss/v2/transactions/{declined['transaction_id']}", "GET")
    st = status(env, shop.key, ref)
    assert st["paymentStatus"] == "REVIEW", st
    (op,) = st["paymentStatuses"]
    assert op["paymentGatewayDecision"] == "REVIEW", op
    assert op["paymentGatewayReqReferenceNumber"] == review["transaction_id"], op
    # the review is still followed: accepted by the reviewer, it is recorded
    shop.fake.resolve_review(review["transaction_id"], accept=True)
    n = db_exec(env.db_url, "UPDATE jobs SET run_at = ? WHERE merchant_id = ? AND kind = ?"
                " AND done_at = 0", (int(time.time() * 1e6), shop.id, JOB_REVIEW_SETTLE))
    assert n == 1
    st = wait_status(env, shop.key, ref, "SUCCESS")
    assert st["paymentStatus"] == "SUCCESS", st


@pytest.mark.parametrize("txn, returned, path, word", [
    ("Authorization", "REVERSED", "/reversals", "reverses"),
    ("Sale", "VOIDED", "/voids", "voids"),
])
def test_second_payment_under_a_paid_attempt_is_returned(env, shop, txn, returned, path, word):
    """The attempt is paid, then its Secure Acceptance form is posted again
    (past the 15-minute duplicate check) and another card pays: CyberSource
    holds a second payment under the same reference. It is not the link's
    (the link is paid): it is recorded in the link's history as not taken
    and returned at once, once however often it is notified; the link's own
    payment stands."""
    shop.fake.uuid_window = 0  # past Secure Acceptance's 15-minute duplicate check
    with requests.Session() as http:
        ref, token, fields, first, att = pay_link(env, shop, http, txn=txn)
        assert att.status == 200
        assert wait_status(env, shop.key, ref, "SUCCESS")["paymentStatus"] == "SUCCESS"
        shop.fake.merchant_post_mode = "duplicated"
        second = shop.fake.pay(fields, "5555555555554444")
        assert second["decision"] == "ACCEPT"
        assert shop.fake.post_receipt(second).status == 200
    tx = second["transaction_id"]
    assert tx != first["transaction_id"]
    st = poll(lambda: status(env, shop.key, ref),
              lambda s: len(s["paymentStatuses"]) == 3
              and s["paymentStatuses"][2]["paymentGatewayDecision"] != "UNKNOWN",
              timeout=WAIT, interval=0.2)
    assert shop.fake.transaction(tx)["status"] == returned
    assert len(shop.fake.requests_to(f"/pts/v2/payments/{tx}{path}", "POST")) == 1
    # the link's own payment stands
    assert st["paymentStatus"] == "SUCCESS", st
    assert shop.fake.transaction(first["transaction_id"])["status"] in ("AUTHORIZED", "PENDING")
    own, other, back = st["paymentStatuses"]
    assert own["paymentGatewayReqReferenceNumber"] == first["transaction_id"], own
    assert own["paymentGatewayDecision"] == "ACCEPT" and not own.get("statusReason"), own
    assert other["paymentGatewayReqReferenceNumber"] == tx, other
    assert other["transactionType"] == txn and other["paymentGatewayDecision"] == "ACCEPT", other
    assert other["statusReason"].startswith("Not taken: payment attempt op_"), other
    assert other["statusReason"].endswith(f"; chatpay {word} it automatically"), other
    assert back["paymentGatewayDecision"] == "ACCEPT" and back["paymentStatus"] == returned, back
    descs = [e.get("responseCodeDescription") or "" for e in st["transactionStatuses"]]
    assert any(d.startswith("ACCEPT, not taken: payment attempt op_") for d in descs), descs
    assert any(d.startswith("ACCEPT: the payment that was not taken has been") for d in descs), descs


@pytest.mark.parametrize("txn, returned, path", [
    ("Authorization", "REVERSED", "/reversals"),
    ("Sale", "VOIDED", "/voids"),
])
def test_partial_approval_is_returned_and_the_link_stays_payable(env, shop, txn, returned, path):
    """The bank approves only half of the amount (a partial approval,
    PARTIAL_AUTHORIZED): that is not the payment asked for. The link's
    attempt is declined for the link, the customer is told and may try
    another card, and the money held is returned at once: the reversal is
    for what was approved, not for the whole amount (which CyberSource
    would refuse)."""
    with requests.Session() as http:
        ref, token, fields, result, att = pay_link(env, shop, http, txn=txn, card="4000000000000110")
        assert (result["decision"], result["reason_code"]) == ("ACCEPT", "110")
        assert result["auth_amount"] == "57.50"
        assert att.status == 200
        page = att.response_body.decode()
        assert "approved only part of the amount" in page, page
        tx = result["transaction_id"]
        st = poll(lambda: status(env, shop.key, ref),
                  lambda s: shop.fake.transaction(tx)["status"] == returned, timeout=WAIT, interval=0.2)
        assert st["paymentStatus"] == "FAILED", st
        (op,) = [e for e in st["paymentStatuses"] if e.get("paymentGatewayReqReferenceNumber") == tx]
        assert op["paymentGatewayResponseCode"] == 110
        assert op["statusReason"].startswith("Not taken: the bank approved only 57.50 of 115.00 ZAR"), op
        sent = shop.fake.requests_to(f"/pts/v2/payments/{tx}{path}", "POST")
        assert len(sent) == 1
        if txn == "Authorization":
            assert sent[0].json["reversalInformation"]["amountDetails"]["totalAmount"] == "57.50"
        # the return, once answered, leaves the link payable
        returned_op = poll(lambda: status(env, shop.key, ref),
                           lambda s: len(s["paymentStatuses"]) == 2, timeout=WAIT, interval=0.2)
        assert returned_op["paymentStatus"] == "FAILED", returned_op
        # the link still takes a payment: another card pays it in full
        fields = press_pay(env, shop, http, token)
        paid = shop.fake.pay(fields, CARD)
        assert shop.fake.post_receipt(paid).status == 200
    st = status(env, shop.key, ref)
    assert st["paymentStatus"] == "SUCCESS", st
    assert shop.fake.transaction(paid["transaction_id"])["status"] in ("AUTHORIZED", "PENDING")


def test_void_answer_lost_is_found_by_search(env, shop):
    """A void happens at CyberSource but its answer is a 502, and the search
    lags (new transactions show 18 s late): the repair does not timeout-void
    a void, does not record the refused redo as a failure, and records the
    void once the search shows it: the payment is VOIDED."""
    with requests.Session() as http:
        ref, token, fields, result, att = pay_link(env, shop, http, "Sale")
    wait_status(env, shop.key, ref, "SUCCESS")
    shop.fake.tss_delay = 18
    shop.fake.set_mode("error_502_after", count=1)
    r = env.api.post(PAYMENT_OPS + ref + "/reverse", key=shop.key)
    assert r.status_code == 503, r.text
    st = wait_second_op(env, shop.key, ref, timeout=45)
    assert st["paymentStatuses"][1]["paymentGatewayDecision"] == "ACCEPT", st
    assert st["paymentStatus"] == "VOIDED", st
    assert not shop.fake.requests_to("/pts/v2/voids", "POST"), "a void was timeout-voided"
