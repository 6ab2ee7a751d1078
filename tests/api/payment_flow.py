"""payment_flow.py — walking the payment pages like a browser, and the
assertions on payments shared by the payment test modules (test_payments,
test_double_charge).

The customer's side is HTML and redirects: POST /p/{token}/pay → 303 to the
sandbox checkout → POST the card form → 303 back to /p/{token}/return?ref=…
Only documented pages go through the contract checker (html_request)."""

from __future__ import annotations

import datetime
import re
import threading
from urllib.parse import urlencode

from cp_helpers import (
    CARD_VISA,
    LINK_STATUS,
    LINKS,
    PAYMENT_OPS,
    SandboxCard,
    absolute,
    card_form,
    html_request,
    link_body,
    page_h1,
    page_title,
    parse_html,
    start_payment,
    submit_card,
)
from openapi_check import ApiClient, parse_rfc3339

RECEIVED, CLICKED, PAYMENT_STATUS_RECEIVED = 1, 19, 4
STATUS_ID = {"SUCCESS": "1", "FAILED": "2", "PENDING": "3", "UNKNOWN": "4", "REVIEW": "5",
             "REVERSED": "6", "VOIDED": "7"}
SLACK = datetime.timedelta(seconds=2)
SETTLE_S = 30  # the smallest settlement and review delays `merchant update` takes

NO_SUCCESSFUL = "There is no successful payment to {} (payment status is {})"
ONLY_AUTH = "Only an authorization can be captured; this payment was a Sale"
ALREADY_CAPTURED = "The authorization has already been captured"
ALREADY_REVERSED = "The payment has already been reversed"
ALREADY_VOIDED = "The payment has already been voided"
IN_PROGRESS = ("Another capture, reversal or void of this payment is in progress or has been "
               "done")
SETTLED = "The payment has been settled and cannot be reversed; refund it instead"


# ---- helpers ---------------------------------------------------------------------------


def now_utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class Link:
    def __init__(self, body: dict, ans: dict):
        self.body = body
        self.ref = ans["paymentLinkRef"]
        self.link = ans["paymentLink"]
        self.token = self.link.rsplit("/p/", 1)[1]
        self.order = body["orderNumber"]


def new_link(api, key, txn="Sale", **fields) -> Link:
    body = link_body(returnPaymentLink=True, transactionType=txn, **fields)
    r = api.post(LINKS, key=key, json=body)
    assert r.status_code == 201, r.text
    return Link(body, r.body)


def status_of(api, key, ref) -> dict:
    r = api.get(LINK_STATUS + "?" + urlencode({"paymentLinkRef": ref}), key=key)
    assert r.status_code == 200, r.text
    return r.body


def link_page(api, token):
    """GET /p/{token} (documented: contract-checked), parsed."""
    r = api.get("/p/" + token)
    r.doc = parse_html(r.text) if r.headers.get("Content-Type", "").startswith("text/html") else None
    return r


def psr_entries(st: dict) -> list[dict]:
    return [e for e in st["transactionStatuses"] if e["transactionStatusId"] == PAYMENT_STATUS_RECEIVED]


def pay_forms(doc, token) -> list:
    return [f for f in doc.find_all("form")
            if (f.attrs.get("method") or "").lower() == "post" and f.attrs.get("action") == f"/p/{token}/pay"]


def assert_html(r, status, title=None):
    assert r.status_code == status, f"{r.status_code} (want {status}): {r.text[:800]}"
    assert r.headers.get("Content-Type", "").startswith("text/html"), r.headers
    assert r.doc is not None
    if title is not None:
        assert page_title(r.doc) == title, (page_title(r.doc), r.text[:800])
        assert page_h1(r.doc) == title


class Paid:
    """The outcome of one walk through the payment pages."""

    def __init__(self, op_ref, checkout_url, submit, ret):
        self.op_ref = op_ref
        self.checkout_url = checkout_url
        self.submit = submit  # the form POST's response
        self.ret = ret  # the result page (None when not followed)


def checkout(server, http, link: Link, fields: dict, *, three_ds: str | None = None,
             follow_return: bool = True) -> Paid:
    """Pay once: POST pay, GET the form, POST it (then approve/deny 3-D
    Secure when asked), and GET the return page."""
    base = server.base_url
    op_ref, url = start_payment(http, base, link.token)
    form = html_request(http, "GET", url)
    assert_html(form, 200)
    sub = submit_card(http, url, fields)
    assert sub.status_code == 303, f"{sub.status_code}: {sub.text[:800]}"
    loc = absolute(base, sub.headers["Location"])
    if three_ds is not None:
        assert loc == f"{base}/sandbox-gateway/3ds/{op_ref}", loc
        r = html_request(http, "POST", loc, data={"action": three_ds})
        assert r.status_code == 303, r.text[:500]
        loc = absolute(base, r.headers["Location"])
    assert loc == f"{base}/p/{link.token}/return?ref={op_ref}", loc
    ret = html_request(http, "GET", loc) if follow_return else None
    return Paid(op_ref, url, sub, ret)


def pay_ok(api, server, http, key, card=CARD_VISA, txn="Sale", **fields) -> tuple[Link, dict]:
    """A link paid with an accepted card; returns (link, transaction-status)."""
    link = new_link(api, key, txn, **fields)
    p = checkout(server, http, link, card_form(card))
    assert_html(p.ret, 200, "Payment successful")
    st = status_of(api, key, link.ref)
    assert st["paymentStatus"] == "SUCCESS", st
    return link, st


def assert_masked(card: SandboxCard, masked: str):
    """First 6 and last 4 digits only; the rest hidden."""
    n = card.number
    assert len(masked) == len(n), masked
    assert masked[:6] == n[:6] and masked[-4:] == n[-4:], masked
    assert re.fullmatch(r"[^0-9]+", masked[6:-4]), f"middle digits shown: {masked}"


def expiry_stored(expiry_mm_yy: str) -> str:
    mm, yy = expiry_mm_yy.split("/")
    return f"{mm}/20{yy}"


def capture(api, key, ref, amount=None):
    path = PAYMENT_OPS + ref + "/capture"
    if amount is not None:
        path += "?" + urlencode({"amount": amount})
    return api.post(path, key=key)


def reverse(api, key, ref):
    return api.post(PAYMENT_OPS + ref + "/reverse", key=key)


def assert_bad_request(r, message):
    assert r.status_code == 400, r.text
    assert r.body["code"] == "bad_request", r.body
    assert r.body["message"] == message, r.body
    assert r.body["errors"] == [message], r.body


def assert_field_error(r, error):
    assert r.status_code == 400, r.text
    assert r.body["code"] == "validation_failed", r.body
    assert r.body["errors"] == [error], r.body


def assert_order_paid(r, order, ref):
    """The order is paid on link `ref` (validation_failed on orderNumber)."""
    assert_field_error(r, f"orderNumber: order {order} is already paid (payment link {ref}); reverse "
                          "or void that payment before asking for a new one")


def assert_not_found(r):
    assert r.status_code == 404, r.text
    assert r.body["code"] == "not_found", r.body


def assert_op_result(body, txn, amount, status, card=CARD_VISA, auth_ref=None):
    """A PaymentGatewayOperationResultResponse of an accepted operation."""
    assert body["transactionType"] == txn, body
    assert body["totalAmount"] == amount, body
    assert body["paymentGatewayDecision"] == "ACCEPT", body
    assert body["paymentGatewayResponseCode"] == 100, body
    assert body["paymentStatus"] == status, body
    assert body["paymentStatusId"] == STATUS_ID[status], body
    assert isinstance(body["paymentGatewayReqReferenceNumber"], str)
    assert body["paymentGatewayReqReferenceNumber"], body
    ts = parse_rfc3339(body["paymentGatewayResponseTimestamp"])
    assert abs(ts - now_utc()) < datetime.timedelta(seconds=10), body
    if auth_ref is not None:
        assert body["paymentGatewayAuthReconciliationReferenceNumber"] == auth_ref, body
    assert body["cardType"] == card.brand, body
    assert_masked(card, body["maskedCardNumber"])
    assert "paymentGatewayErrorDecision" not in body, body


def race(server, calls):
    """Run the calls (each: fn(api) → response) at the same moment, one
    thread and one checked client each; returns the responses in order."""
    barrier = threading.Barrier(len(calls))
    out: list = [None] * len(calls)

    def run(i, fn):
        client = ApiClient(server.base_url)
        try:
            barrier.wait(timeout=10)
            out[i] = fn(client)
        except BaseException as e:  # reported below
            out[i] = e
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=(i, fn), daemon=True) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not any(t.is_alive() for t in threads), "a request hung"
    for o in out:
        if isinstance(o, BaseException):
            raise o
    return out
