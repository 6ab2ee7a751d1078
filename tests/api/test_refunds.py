"""Refunds: chatpay's extension POST /api/v2/payment/{paymentLinkRef}/refund
[?amount=], against the sandbox gateway.

A refund gives back all or part of a settled sale or capture, several
times, never more than was captured (also when asked concurrently), with
the outcome in `refunds` / `refundedAmount` of the transaction status and
of the signed payment status callback; the published `paymentStatus` stays
SUCCESS. Refunds of the test card 4000 0000 0000 5126 are declined.

Waiting: only settled payments are refunded, and the smallest settlement
delay is 30 s. The module fixture `book` pays everything at the start with a
merchant that settles after 30 s; the tests that need nothing settled come
first, then `settled` waits once for the rest."""

from __future__ import annotations

import datetime
import re
import time
import uuid
from urllib.parse import urlencode

import pytest
import requests

from callback_receiver import CallbackReceiver, verify
from cp_helpers import (
    CARD_DECLINE,
    CARD_MASTERCARD,
    CARD_REFUND_FAILS,
    CARD_VISA,
    CARD_VISA_2,
    PAYMENT_OPS,
    SECRETS,
    card_form,
)
from openapi_check import parse_rfc3339
from payment_flow import (
    SETTLE_S,
    SETTLED,
    assert_bad_request,
    assert_field_error,
    assert_html,
    assert_not_found,
    capture,
    checkout,
    link_page,
    new_link,
    now_utc,
    pay_ok,
    psr_entries,
    race,
    reverse,
    status_of,
)

REFUND_REF_RE = re.compile(r"rf_[0-9A-Za-z]{17}|rf_[0-9a-f]{26}")
FULL = "The payment has been refunded in full"
NOT_CAPTURED = ("The authorization has not been captured: nothing has been charged to refund; "
                "reverse it instead")
NOT_SETTLED_RE = re.compile(r"The payment has not been settled yet \(it settles at "
                            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\); reverse it instead, which "
                            r"voids it")


def only_successful(status: str) -> str:
    return f"Only a successful payment can be refunded; this payment is {status}"


def too_much(left: str) -> str:
    return f"amount: must not exceed the amount that can still be refunded ({left} ZAR)"


def refund(api, key, ref, amount=None, idem=None):
    path = PAYMENT_OPS + ref + "/refund"
    if amount is not None:
        path += "?" + urlencode({"amount": amount})
    return api.post(path, key=key, headers={"Idempotency-Key": idem} if idem else None)


def assert_refund(r, amount, refunded, status="SUCCEEDED", http=200):
    assert r.status_code == http, r.text
    b = r.body
    assert REFUND_REF_RE.fullmatch(b["refundRef"]), b
    assert (b["amount"], b["status"], b["refundedAmount"]) == (amount, status, refunded), b
    if status == "SUCCEEDED":
        assert b["paymentGatewayDecision"] == "ACCEPT" and b["paymentGatewayResponseCode"] == 100, b
        assert "paymentGatewayErrorDecision" not in b, b
    return b


def refunds_of(st: dict) -> list[tuple]:
    return [(e["amount"], e["status"]) for e in st["refunds"]]


# ---- fixtures: one merchant settling after 30 s, everything paid at the start -------------


@pytest.fixture(scope="module")
def receiver():
    rcv = CallbackReceiver().start()
    yield rcv
    rcv.stop()


@pytest.fixture(scope="module")
def book(server, api, make_merchant, cli, receiver):
    m = make_merchant(name=f"Refund Shop {uuid.uuid4().hex[:6]}")
    key = m["apiKey"]
    SECRETS.callback_secrets.add(m["callbackSecret"])
    res = cli("merchant", "update", m["merchantId"], "--settlement-delay", f"{SETTLE_S}s",
              "--payment-status-callback", receiver.url + "/ps", "--json")
    assert res.returncode == 0, res.stderr
    links = {}
    with requests.Session() as http:
        for name, card, txn in (("full", CARD_VISA, "Sale"), ("partial", CARD_VISA_2, "Sale"),
                                ("race", CARD_VISA, "Sale"), ("idem", CARD_MASTERCARD, "Sale"),
                                ("fails", CARD_REFUND_FAILS, "Sale"),
                                ("captured", CARD_MASTERCARD, "Authorization"),
                                ("open_auth", CARD_VISA, "Authorization"),
                                ("voided", CARD_VISA_2, "Sale"), ("many", CARD_VISA, "Sale")):
            links[name], _ = pay_ok(api, server, http, key, card, txn)
        r = capture(api, key, links["captured"].ref, "50.50")
        assert r.status_code == 200, r.text
        declined = new_link(api, key, "Sale")
        checkout(server, http, declined, card_form(CARD_DECLINE))
        links["declined"] = declined
    links["unpaid"] = new_link(api, key, "Sale")
    times = [parse_rfc3339(e["paymentGatewayResponseTimestamp"])
             for link in links.values() for e in status_of(api, key, link.ref)["paymentStatuses"]]
    return {"key": key, "secret": m["callbackSecret"], "links": links, "latest": max(times)}


@pytest.fixture
def settled(book):
    """Waits (once, at most 45 s) until every payment of the book settled."""
    when = book["latest"] + datetime.timedelta(seconds=SETTLE_S + 0.5)
    delay = (when - now_utc()).total_seconds()
    assert delay <= 45, f"would wait {delay:.0f}s"
    if delay > 0:
        time.sleep(delay)
    return book


# ---- before settlement --------------------------------------------------------------------


def test_unsettled_and_unrefundable_payments_are_refused(api, book):
    key, links = book["key"], book["links"]
    r = refund(api, key, links["full"].ref)
    assert r.status_code == 400, r.text
    assert NOT_SETTLED_RE.fullmatch(r.body["message"]), r.body
    assert_bad_request(refund(api, key, links["open_auth"].ref), NOT_CAPTURED)
    assert_bad_request(refund(api, key, links["declined"].ref), only_successful("FAILED"))
    assert_bad_request(refund(api, key, links["unpaid"].ref), only_successful("PENDING"))
    assert_not_found(refund(api, key, "no-such-link"))
    assert_field_error(refund(api, key, links["full"].ref, "abc"), "amount: must be a number")
    assert_field_error(refund(api, key, links["full"].ref, "-1"), "amount: must be greater than 0")
    # an unsettled sale is voided instead; a voided payment has nothing to refund
    r = reverse(api, key, links["voided"].ref)
    assert r.status_code == 200 and r.body["paymentStatus"] == "VOIDED", r.text
    assert_bad_request(refund(api, key, links["voided"].ref), only_successful("VOIDED"))
    # refusals leave no trace
    st = status_of(api, key, links["full"].ref)
    assert st["refunds"] == [] and st["refundedAmount"] == 0, st


def test_another_merchants_payment_is_not_found(api, book, make_merchant):
    other = make_merchant()
    assert_not_found(refund(api, other["apiKey"], book["links"]["full"].ref))


# ---- after settlement ---------------------------------------------------------------------


def test_full_refund_by_default(api, settled):
    key, link = settled["key"], settled["links"]["full"]
    before = status_of(api, key, link.ref)
    b = assert_refund(refund(api, key, link.ref), 115.0, 115.0)
    assert b["paymentLinkRef"] == link.ref
    assert parse_rfc3339(b["updated"]) >= parse_rfc3339(b["created"])
    st = status_of(api, key, link.ref)
    assert st["paymentStatus"] == "SUCCESS" and st["paymentStatusId"] == "1", st
    assert st["paymentStatuses"] == before["paymentStatuses"], "refunds are not paymentStatuses"
    assert st["refundedAmount"] == 115.0
    assert [{k: v for k, v in e.items()} for e in st["refunds"]] == [
        {k: v for k, v in b.items() if k not in ("paymentLinkRef", "refundedAmount")}]
    # the refund's outcome is in the history (PAYMENT_STATUS_RECEIVED)
    assert len(psr_entries(st)) == len(psr_entries(before)) + 1, st
    assert psr_entries(st)[-1]["responseCode"] == "100", st
    assert psr_entries(st)[-1]["responseCodeDescription"] == (
        f"Refund {b['refundRef']} of 115.00 ZAR: ACCEPT"), st
    assert_bad_request(refund(api, key, link.ref), FULL)
    assert_bad_request(refund(api, key, link.ref, "0.01"), FULL)
    assert_bad_request(reverse(api, key, link.ref), SETTLED)


def test_partial_refunds_add_up_to_the_payment(api, settled):
    key, link = settled["key"], settled["links"]["partial"]
    page = link_page(api, link.token)
    assert_html(page, 200, "This order is paid")
    assert_refund(refund(api, key, link.ref, "10"), 10.0, 10.0)
    # the customer who opens the link again sees the money that went back
    page = link_page(api, link.token)
    assert_html(page, 200, "This payment was refunded")
    text = " ".join(page.doc.text().split())  # the amount's no-break space as a space
    assert ("The payment for order " + link.order + " was made, and ZAR 10.00 of it has been "
            "refunded to your card.") in text, page.text
    assert_refund(refund(api, key, link.ref, "5.50"), 5.5, 15.5)
    assert_field_error(refund(api, key, link.ref, "99.51"), too_much("99.50"))
    assert_field_error(refund(api, key, link.ref, "1000000"), too_much("99.50"))
    assert_field_error(refund(api, key, link.ref, "0"), "amount: must be greater than 0")
    assert_field_error(refund(api, key, link.ref, "1.001"),
                       "amount: has more decimal places than ZAR allows")
    assert_refund(refund(api, key, link.ref), 99.5, 115.0)
    st = status_of(api, key, link.ref)
    assert refunds_of(st) == [(10.0, "SUCCEEDED"), (5.5, "SUCCEEDED"), (99.5, "SUCCEEDED")], st
    assert st["refundedAmount"] == 115.0
    assert len({e["refundRef"] for e in st["refunds"]}) == 3
    assert_bad_request(refund(api, key, link.ref, "0.01"), FULL)


def test_a_payment_takes_at_most_100_refunds(api, settled):
    # each refund adds to the payment's record and to every callback after
    # it: their number is bounded, whatever their outcome
    key, link = settled["key"], settled["links"]["many"]
    assert_field_error(refund(api, key, link.ref, "1e15"), "amount: is out of range")
    for i in range(100):
        assert_refund(refund(api, key, link.ref, "0.01"), 0.01, round((i + 1) / 100, 2))
    most = "The payment has had 100 refunds, the most one payment takes"
    assert_bad_request(refund(api, key, link.ref, "0.01"), most)
    assert_bad_request(refund(api, key, link.ref), most)
    st = status_of(api, key, link.ref)
    assert len(st["refunds"]) == 100 and st["refundedAmount"] == 1.0, st["refundedAmount"]


def test_refund_of_a_capture(api, settled):
    key, link = settled["key"], settled["links"]["captured"]
    # what was captured (50.50 of 115.00) is what can be refunded
    assert_field_error(refund(api, key, link.ref, "50.51"), too_much("50.50"))
    assert_refund(refund(api, key, link.ref, "0.50"), 0.5, 0.5)
    assert_refund(refund(api, key, link.ref), 50.0, 50.5)
    st = status_of(api, key, link.ref)
    assert [e["transactionType"] for e in st["paymentStatuses"]] == ["Authorization", "Capture"], st
    assert st["refundedAmount"] == 50.5 and st["paymentStatus"] == "SUCCESS", st


def test_declined_refund_can_be_tried_again(api, settled):
    key, link = settled["key"], settled["links"]["fails"]
    r = refund(api, key, link.ref, "15")
    b = assert_refund(r, 15.0, 0, status="FAILED")
    assert (b["paymentGatewayDecision"], b["paymentGatewayResponseCode"]) == ("DECLINE", 203), b
    assert b["paymentGatewayErrorDecision"] == "The card issuer declined the refund", b
    # a failed refund does not count: the whole amount can still be asked for
    b = assert_refund(refund(api, key, link.ref), 115.0, 0, status="FAILED")
    st = status_of(api, key, link.ref)
    assert refunds_of(st) == [(15.0, "FAILED"), (115.0, "FAILED")], st
    assert st["refundedAmount"] == 0 and st["paymentStatus"] == "SUCCESS", st


def test_concurrent_refunds_never_exceed_the_payment(server, api, settled):
    """Eight refunds of 40.00 of a 115.00 sale at the same moment: two go
    through, the others are refused (only 35.00 is left)."""
    key, link = settled["key"], settled["links"]["race"]
    out = race(server, [lambda c: refund(c, key, link.ref, "40.00")] * 8)
    ok = [r for r in out if r.status_code == 200]
    refused = [r for r in out if r.status_code == 400]
    assert (len(ok), len(refused)) == (2, 6), [(r.status_code, r.text[:90]) for r in out
                                               if r.status_code not in (200, 400)]
    for r in refused:
        assert r.body["code"] == "validation_failed", r.body
        assert r.body["errors"] == [too_much("35.00")], r.body
    st = status_of(api, key, link.ref)
    assert refunds_of(st) == [(40.0, "SUCCEEDED")] * 2, st
    assert st["refundedAmount"] == 80.0


def test_idempotency_key_makes_one_refund(api, settled):
    key, link = settled["key"], settled["links"]["idem"]
    idem = f"refund-{uuid.uuid4()}"
    first = refund(api, key, link.ref, "20", idem=idem)
    b = assert_refund(first, 20.0, 20.0)
    assert re.fullmatch(r"rf_[0-9a-f]{26}", b["refundRef"]), b
    again = refund(api, key, link.ref, "20", idem=idem)
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.text == first.text
    other = refund(api, key, link.ref, "21", idem=idem)
    assert other.status_code == 422, other.text
    assert_refund(refund(api, key, link.ref, "20", idem=f"refund-{uuid.uuid4()}"), 20.0, 40.0)
    st = status_of(api, key, link.ref)
    assert refunds_of(st) == [(20.0, "SUCCEEDED")] * 2, st
    assert st["refunds"][0]["refundRef"] == b["refundRef"]


def test_refund_outcome_reaches_the_payment_status_callback(api, settled, receiver):
    """Every refund's outcome above was sent, signed, to the merchant's payment
    status URL, with `refunds` and `refundedAmount` as they were then."""
    key, secret = settled["key"], settled["secret"]
    for name, total in (("full", 115.0), ("partial", 115.0), ("captured", 50.5)):
        ref = settled["links"][name].ref

        def done(ds, ref=ref, total=total):
            return any(d.json.get("paymentLinkRef") == ref and d.json.get("refundedAmount") == total
                       for d in ds)

        got = receiver.wait_for(done, timeout=15, what=f"the refund callback of {name}")
        mine = [d for d in got if d.json.get("paymentLinkRef") == ref]
        for d in mine:
            assert verify(secret, d) == [secret], d
        last = [d for d in mine if d.json["refundedAmount"] == total][-1].json
        assert last["paymentStatus"] == "SUCCESS", last
        assert last["refunds"] == status_of(api, key, ref)["refunds"], last
    # the declined refunds were told too
    ref = settled["links"]["fails"].ref
    receiver.wait_for(lambda ds: any(d.json.get("paymentLinkRef") == ref and len(d.json.get("refunds", [])) == 2
                                     for d in ds), timeout=15, what="the declined refunds' callback")
