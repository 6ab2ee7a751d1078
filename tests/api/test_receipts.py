"""POST /api/v2/order-receipt: after a successful payment the merchant has the
customer sent a link to the order's receipt, on the channel that carried the
payment link.

The request is validated (every problem in one 400), the link must be the
caller's (else 404), paid (SUCCESS), sent on a channel, and have no receipt
under way or done (a new one is allowed after a failed send or delivery,
with a new receiptLinkRef). The 201 answer is recorded at once
(RECEIPT_LINK_REQUEST_RECEIVED, id 6); the message goes out in the
background: RECEIPT_LINK_SENT (7) or RECEIPT_LINK_SENT_FAILED (15), then
RECEIPT_LINK_DELIVERED (16) or RECEIPT_LINK_DELIVERY_FAILED (17).

The sandbox acts on the last four digits of the number: 0001 sent but not
delivered, 0000 refused. A link to a 0000 number cannot normally be paid
(its own send fails first), so that case runs `serve --no-workers` on its own
database, pays the link and asks for the receipt while no worker runs, then
starts `chatpay worker`."""

from __future__ import annotations

import datetime
import re
import subprocess
import threading
import uuid
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
import requests

from cp_helpers import (
    CARD_DECLINE,
    LINK_STATUS,
    SANDBOX_MESSAGES,
    SECRETS,
    card_form,
    chatpay_bin,
    clean_env,
    migrated_db_url_for,
    fresh_msisdn,
    history_ids,
    poll,
    run_cli,
    start_server,
)
from openapi_check import ApiClient, parse_rfc3339
from payment_flow import checkout, new_link, now_utc, pay_ok, reverse, status_of

RECEIPT = "/api/v2/order-receipt"
REQUEST_RECEIVED, SENT, SENT_FAILED, DELIVERED, DELIVERY_FAILED = 6, 7, 15, 16, 17
RECEIPT_IDS = {REQUEST_RECEIVED, SENT, SENT_FAILED, DELIVERED, DELIVERY_FAILED}
NAMES = {6: "RECEIPT_LINK_REQUEST_RECEIVED", 7: "RECEIPT_LINK_SENT", 15: "RECEIPT_LINK_SENT_FAILED",
         16: "RECEIPT_LINK_DELIVERED", 17: "RECEIPT_LINK_DELIVERY_FAILED"}
LINK_SENT, LINK_SENT_FAILED = 2, 9
TIMESTAMP = "2026-01-31T12:00:00Z"
RECEIPT_REF_RE = re.compile(r"[0-9A-Za-z]{22}")
SEND_TIMEOUT = 10.0  # seconds for a receipt to be sent and its delivery recorded (~1 s)
SLACK = datetime.timedelta(seconds=2)

ALREADY = "A receipt has already been sent for this payment link (receiptLinkRef {})"
NOT_SUCCESS = ("The payment of this link is {}: a receipt is sent only for a successful payment "
               "(SUCCESS)")
NO_CHANNEL = ("The link was not sent on a channel (channel none): there is no chat to send the "
              "receipt to")
TOO_LONG_FOR_SMS = "receiptLink: is too long for one SMS with the order number; use a shorter URL"
NO_LINK = "No payment link with this reference"


# ---- helpers ---------------------------------------------------------------------------


@pytest.fixture
def shop(make_merchant):
    return make_merchant(name=f"Harbour Deli {uuid.uuid4().hex[:6]}")


@pytest.fixture
def key(shop):
    return shop["apiKey"]


def receipt_url() -> str:
    return f"https://shop.example.com/receipts/{uuid.uuid4().hex[:12]}"


def body_for(ref: str, url: str | None = None, **fields) -> dict:
    body = {"receiptLink": url or receipt_url(), "paymentLinkRef": ref, "timestamp": TIMESTAMP}
    body.update(fields)
    return body


def ask(api, key, ref, url=None, headers=None):
    return api.post(RECEIPT, key=key, json=body_for(ref, url), headers=headers)


def paid(api, server, http, key, channel="sms", ending=None):
    """A link on `channel` to a fresh number (ending in `ending`), paid."""
    link, _ = pay_ok(api, server, http, key, channel=channel, to="+" + fresh_msisdn(ending))
    return link


def assert_created(r, link, before, after) -> str:
    """A PaymentReceiptResponse for `link` recorded between before and after;
    returns its receiptLinkRef."""
    assert r.status_code == 201, r.text
    b = r.body
    assert set(b) == {"receiptLinkRef", "orderNumber", "timestamp", "transactionStatus",
                      "transactionStatusId"}, b
    assert RECEIPT_REF_RE.fullmatch(b["receiptLinkRef"]), b
    assert b["orderNumber"] == link.order, b
    assert b["transactionStatus"] == "RECEIPT_LINK_REQUEST_RECEIVED", b
    # an integer in the JSON text, not "6" and not 6.0
    assert type(b["transactionStatusId"]) is int and b["transactionStatusId"] == 6, b
    assert '"transactionStatusId":6' in r.text.replace(" ", ""), r.text
    ts = parse_rfc3339(b["timestamp"])
    assert before - SLACK <= ts <= after + SLACK, (b["timestamp"], before, after)
    return b["receiptLinkRef"]


def receipt_entries(st) -> list[dict]:
    return [e for e in st["transactionStatuses"] if e["transactionStatusId"] in RECEIPT_IDS]


def receipt_ids(st) -> list[int]:
    return [e["transactionStatusId"] for e in receipt_entries(st)]


def wait_receipt_ids(api, key, ref, want: list[int], timeout=SEND_TIMEOUT):
    """The link's status once its receipt entries are `want` (or after timeout)."""
    return poll(lambda: status_of(api, key, ref), lambda st: receipt_ids(st) == want, timeout,
                interval=0.1)


def assert_receipt_history(st, want: list[int]):
    ids = receipt_ids(st)
    assert ids == want, st["transactionStatuses"]
    for e in receipt_entries(st):
        assert e["transactionStatusName"] == NAMES[e["transactionStatusId"]], e
    # the receipt's own entries are oldest first (the whole history is not
    # checked here: an entry of the link's send job can be listed after a
    # request's entry stamped a millisecond later)
    times = [parse_rfc3339(e["created"]) for e in receipt_entries(st)]
    assert times == sorted(times), "receipt entries not oldest first: " + "; ".join(
        f'{e["transactionStatusName"]} {e["created"]}' for e in st["transactionStatuses"])


def outbox(api, key, number) -> list[dict]:
    r = api.get(SANDBOX_MESSAGES + "?" + urlencode({"to": number, "limit": 100}), key=key)
    assert r.status_code == 200, r.text
    return r.body


def receipt_messages(api, key, link) -> list[dict]:
    """The messages to the link's number other than its payment request,
    oldest first."""
    msgs = [m for m in outbox(api, key, link.body["to"]) if "/p/" + link.token not in m["text"]]
    return sorted(msgs, key=lambda m: m["id"])


def by_receipt_ref(api, key, receipt_ref):
    return api.get(LINK_STATUS + "?" + urlencode({"receiptLinkRef": receipt_ref}), key=key)


def assert_bad_request(r, message):
    assert r.status_code == 400, r.text
    assert r.body["code"] == "bad_request", r.body
    assert r.body["message"] == message, r.body
    assert r.body["errors"] == [message], r.body


def assert_not_found(r):
    assert r.status_code == 404, r.text
    assert r.body["code"] == "not_found", r.body
    assert r.body["errors"] == [r.body["message"]], r.body


def sms_text(shop, link, url) -> str:
    return (f"Thank you for paying {shop['name']} ZAR 115.00 for order {link.order}. "
            f"Your receipt: {url}")


# ---- sent and delivered ----------------------------------------------------------------


def test_receipt_by_sms_is_sent_and_delivered(api, server, http, shop, key):
    link = paid(api, server, http, key, "sms")
    url = receipt_url()
    before = now_utc()
    r = ask(api, key, link.ref, url)
    ref = assert_created(r, link, before, now_utc())
    assert "Idempotent-Replayed" not in r.headers

    st = wait_receipt_ids(api, key, link.ref, [REQUEST_RECEIVED, SENT, DELIVERED])
    assert_receipt_history(st, [REQUEST_RECEIVED, SENT, DELIVERED])
    # the request's entry is the moment of the 201
    assert receipt_entries(st)[0]["created"] == r.body["timestamp"], st["transactionStatuses"]
    # it follows the payment's entry
    ids = history_ids(st)
    assert ids.index(REQUEST_RECEIVED) > ids.index(4), ids
    assert st["receiptLinkRef"] == ref, st
    assert st["paymentStatus"] == "SUCCESS", st

    # the customer got one receipt message, on SMS, to the link's number
    msgs = receipt_messages(api, key, link)
    assert len(msgs) == 1, msgs
    m = msgs[0]
    assert m["channel"] == "SMS", m
    assert m["to"] == link.body["to"].lstrip("+"), m
    assert url in m["text"] and link.order in m["text"], m
    assert m["text"] == sms_text(shop, link, url), m
    assert m["status"] == "DELIVERED", m

    # the receipt's reference finds the link
    found = by_receipt_ref(api, key, ref)
    assert found.status_code == 200, found.text
    assert found.body["paymentLinkRef"] == link.ref, found.body
    assert found.body["receiptLinkRef"] == ref, found.body
    assert found.body["orderNumber"] == link.order, found.body


def test_receipt_by_whatsapp(api, server, http, shop, key):
    link = paid(api, server, http, key, "whatsapp")
    url = receipt_url()
    before = now_utc()
    ref = assert_created(ask(api, key, link.ref, url), link, before, now_utc())
    st = wait_receipt_ids(api, key, link.ref, [REQUEST_RECEIVED, SENT, DELIVERED])
    assert_receipt_history(st, [REQUEST_RECEIVED, SENT, DELIVERED])
    assert st["receiptLinkRef"] == ref
    msgs = receipt_messages(api, key, link)
    assert len(msgs) == 1, msgs
    assert msgs[0]["channel"] == "WHATSAPP", msgs
    assert msgs[0]["status"] == "DELIVERED", msgs
    assert msgs[0]["text"] == (f"Hello! Thank you for your payment to {shop['name']}.\n\n"
                               f"Order: {link.order}\nAmount paid: ZAR 115.00\n\n"
                               f"Your receipt: {url}"), msgs


def test_undelivered_receipt_can_be_asked_for_again(api, server, http, key):
    """0001: sent, not delivered; then a new receipt is allowed, with a new
    receiptLinkRef, and the link is found by the new one."""
    link = paid(api, server, http, key, "sms", ending="0001")
    first_url, second_url = receipt_url(), receipt_url()
    before = now_utc()
    first = assert_created(ask(api, key, link.ref, first_url), link, before, now_utc())
    st = wait_receipt_ids(api, key, link.ref, [REQUEST_RECEIVED, SENT, DELIVERY_FAILED])
    assert_receipt_history(st, [REQUEST_RECEIVED, SENT, DELIVERY_FAILED])
    msgs = receipt_messages(api, key, link)
    assert [m["status"] for m in msgs] == ["UNDELIVERED"], msgs
    assert first_url in msgs[0]["text"], msgs

    before = now_utc()
    second = assert_created(ask(api, key, link.ref, second_url), link, before, now_utc())
    assert second != first
    want = [REQUEST_RECEIVED, SENT, DELIVERY_FAILED] * 2
    st = wait_receipt_ids(api, key, link.ref, want)
    assert_receipt_history(st, want)
    assert st["receiptLinkRef"] == second, st
    msgs = receipt_messages(api, key, link)
    assert len(msgs) == 2, msgs
    assert first_url in msgs[0]["text"] and second_url in msgs[1]["text"], msgs
    assert [m["status"] for m in msgs] == ["UNDELIVERED", "UNDELIVERED"], msgs
    found = by_receipt_ref(api, key, second)
    assert found.status_code == 200 and found.body["paymentLinkRef"] == link.ref, found.text


# ---- one receipt at a time ---------------------------------------------------------------


def test_second_receipt_is_refused_while_one_is_under_way_or_done(api, server, http, key):
    link = paid(api, server, http, key, "sms")
    before = now_utc()
    ref = assert_created(ask(api, key, link.ref), link, before, now_utc())
    # at once: the first is still being sent
    assert_bad_request(ask(api, key, link.ref), ALREADY.format(ref))
    st = wait_receipt_ids(api, key, link.ref, [REQUEST_RECEIVED, SENT, DELIVERED])
    assert_receipt_history(st, [REQUEST_RECEIVED, SENT, DELIVERED])
    # delivered: still refused, with the same reference
    assert_bad_request(ask(api, key, link.ref), ALREADY.format(ref))
    st = status_of(api, key, link.ref)
    assert receipt_ids(st) == [REQUEST_RECEIVED, SENT, DELIVERED], st["transactionStatuses"]
    assert st["receiptLinkRef"] == ref
    assert len(receipt_messages(api, key, link)) == 1


def test_concurrent_requests_make_one_receipt(api, server, http, key):
    link = paid(api, server, http, key, "sms")
    n = 6
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def one(i):
        client = ApiClient(server.base_url)
        try:
            barrier.wait(timeout=10)
            results[i] = ask(client, key, link.ref)
        except Exception as e:  # reported below
            results[i] = e
        finally:
            client.close()

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a request hung"
    errors = [r for r in results if not isinstance(r, requests.Response)]
    assert not errors, errors
    created = [r for r in results if r.status_code == 201]
    assert len(created) == 1, [(r.status_code, r.text) for r in results]
    ref = created[0].body["receiptLinkRef"]
    for r in results:
        if r is not created[0]:
            assert_bad_request(r, ALREADY.format(ref))
    st = wait_receipt_ids(api, key, link.ref, [REQUEST_RECEIVED, SENT, DELIVERED])
    assert_receipt_history(st, [REQUEST_RECEIVED, SENT, DELIVERED])
    assert len(receipt_messages(api, key, link)) == 1


# ---- refusals ------------------------------------------------------------------------------


def test_unpaid_declined_and_voided_payments_are_refused(api, server, http, key):
    unpaid = new_link(api, key, channel="sms", to="+" + fresh_msisdn())
    assert status_of(api, key, unpaid.ref)["paymentStatus"] == "PENDING"
    assert_bad_request(ask(api, key, unpaid.ref), NOT_SUCCESS.format("PENDING"))

    declined = new_link(api, key, channel="sms", to="+" + fresh_msisdn())
    checkout(server, http, declined, card_form(CARD_DECLINE))
    assert status_of(api, key, declined.ref)["paymentStatus"] == "FAILED"
    assert_bad_request(ask(api, key, declined.ref), NOT_SUCCESS.format("FAILED"))

    voided = paid(api, server, http, key, "sms")
    r = reverse(api, key, voided.ref)
    assert r.status_code == 200 and r.body["paymentStatus"] == "VOIDED", r.text
    assert_bad_request(ask(api, key, voided.ref), NOT_SUCCESS.format("VOIDED"))

    for link in (unpaid, declined, voided):
        st = status_of(api, key, link.ref)
        assert receipt_ids(st) == [], st["transactionStatuses"]
        assert st.get("receiptLinkRef") is None, st
        assert receipt_messages(api, key, link) == []


def test_link_without_channel_is_refused(api, server, http, key):
    link = paid(api, server, http, key, "none")
    assert_bad_request(ask(api, key, link.ref), NO_CHANNEL)
    st = status_of(api, key, link.ref)
    assert receipt_ids(st) == [], st["transactionStatuses"]


def test_unknown_and_other_merchants_links_are_not_found(api, server, http, key, make_merchant):
    assert_not_found(ask(api, key, "NoSuchLinkRef0123456789"))
    other_key = make_merchant()["apiKey"]
    theirs = paid(api, server, http, other_key, "sms")
    r = ask(api, key, theirs.ref)
    assert_not_found(r)
    assert r.body["message"] == NO_LINK, r.body
    # nothing was recorded on their link
    assert receipt_ids(status_of(api, other_key, theirs.ref)) == []
    # their receipt reference is not found by us either
    before = now_utc()
    their_ref = assert_created(ask(api, other_key, theirs.ref), theirs, before, now_utc())
    assert_not_found(by_receipt_ref(api, key, their_ref))
    mine = by_receipt_ref(api, other_key, their_ref)
    assert mine.status_code == 200 and mine.body["paymentLinkRef"] == theirs.ref, mine.text
    assert_not_found(by_receipt_ref(api, other_key, "NoSuchReceiptRef0123456"))


# ---- validation ----------------------------------------------------------------------------

REQUIRED = "is required"
ABSOLUTE = "must be an absolute http:// or https:// URL"
HOST = "must name a host after the scheme"
SPACES = "must not contain spaces or control characters"
RFC3339 = "must be an ISO 8601 date-time (e.g. 2026-01-31T12:00:00Z)"
GSM7 = ("must contain only characters a text message carries (letters, digits and URL "
        "punctuation other than `; encode others as %XX)")


@pytest.mark.parametrize(
    "url, reason",
    [
        ("shop.example.com/receipts/1", ABSOLUTE),
        ("/receipts/1", ABSOLUTE),
        ("ftp://shop.example.com/r/1", ABSOLUTE),
        ("mailto:shop@example.com", ABSOLUTE),
        ("javascript:alert(1)", ABSOLUTE),
        ("https//shop.example.com/r/1", ABSOLUTE),
        ("https://", HOST),
        ("http://", HOST),
        ("https:///r/1", HOST),
        ("https://?r=1", HOST),
        ("https://#r", HOST),
        ("https://:8443/r/1", HOST),
        ("https://shop.example.com/r/1 2", SPACES),
        ("https://shop.example.com/r/1\t2", SPACES),
        ("https://shop.example.com/r/1\n", SPACES),
        ("https://shop.example.com/r/\x7f", "must not contain control characters"),
        (" https://shop.example.com/r/1", ABSOLUTE),
        ("", "must not be blank"),
        ("   ", "must not be blank"),
        (5, "must be a string"),
        (None, REQUIRED),  # null is no value
        ("https://shop.example.com/" + "r" * 1000, "must be at most 1024 characters"),
        ("https://shop.example.com/r/`1", GSM7),
        ("https://shop.example.com/r/\u4e2d", GSM7),
    ],
)
def test_bad_receipt_link(api, key, url, reason):
    r = api.post(RECEIPT, key=key, json=body_for("AnyRef", url=None) | {"receiptLink": url})
    assert r.status_code == 400, r.text
    assert r.body["code"] == "validation_failed", r.body
    assert r.body["errors"] == [f"receiptLink: {reason}"], r.body


def test_a_refusal_is_also_the_published_receipt_response(api, key):
    """The published 400 of order-receipt is a PaymentReceiptResponse
    ("receipt link sent failed"): a refusal carries its members, with the
    usual message, errors and code."""
    r = api.post(RECEIPT, key=key, json=body_for("NoSuchLinkRef", url="ftp://x"))
    assert r.status_code == 400, r.text
    b = r.body
    assert (b["transactionStatus"], b["transactionStatusId"]) == ("RECEIPT_LINK_REQUEST_FAILED", 14), b
    assert b["error"] == {"code": 400, "description": b["message"]}, b
    assert b["code"] == "validation_failed" and b["errors"] == [f"receiptLink: {ABSOLUTE}"], b
    assert "receiptLinkRef" not in b  # no receipt link was made


def test_every_problem_in_one_answer(api, key):
    r = api.post(RECEIPT, key=key, json={})
    assert r.status_code == 400 and r.body["code"] == "validation_failed", r.text
    assert sorted(r.body["errors"]) == sorted(
        [f"receiptLink: {REQUIRED}", f"paymentLinkRef: {REQUIRED}", f"timestamp: {REQUIRED}"]
    ), r.body

    r = api.post(RECEIPT, key=key,
                 json={"receiptLink": "ftp://x", "paymentLinkRef": "", "timestamp": "yesterday"})
    assert r.status_code == 400 and r.body["code"] == "validation_failed", r.text
    assert sorted(r.body["errors"]) == sorted(
        [f"receiptLink: {ABSOLUTE}", "paymentLinkRef: must not be blank", f"timestamp: {RFC3339}"]
    ), r.body

    r = api.post(RECEIPT, key=key, json={"receiptLink": "https://shop.example.com/r 1",
                                         "paymentLinkRef": "x" * 65, "timestamp": 1769860800})
    assert r.status_code == 400 and r.body["code"] == "validation_failed", r.text
    assert sorted(r.body["errors"]) == sorted(
        [f"receiptLink: {SPACES}", "paymentLinkRef: must be at most 64 characters",
         "timestamp: must be a string"]
    ), r.body

    # one problem: only that one is named
    r = api.post(RECEIPT, key=key, json=body_for("AnyRef", timestamp="2026-13-01T00:00:00Z"))
    assert r.status_code == 400 and r.body["errors"] == [f"timestamp: {RFC3339}"], r.text
    r = api.post(RECEIPT, key=key, json={"receiptLink": "https://shop.example.com/r/1",
                                         "timestamp": TIMESTAMP})
    assert r.status_code == 400 and r.body["errors"] == [f"paymentLinkRef: {REQUIRED}"], r.text


def test_validation_comes_before_the_lookup(api, server, http, key):
    """A bad body is a 400 whatever the link; and a valid one for an unpaid
    link is refused without recording anything."""
    r = api.post(RECEIPT, key=key, json=body_for("NoSuchLinkRef", url="ftp://x"))
    assert r.status_code == 400 and r.body["errors"] == [f"receiptLink: {ABSOLUTE}"], r.text
    link = paid(api, server, http, key, "sms")
    r = api.post(RECEIPT, key=key, json=body_for(link.ref, url="https://"))
    assert r.status_code == 400 and r.body["errors"] == [f"receiptLink: {HOST}"], r.text
    st = status_of(api, key, link.ref)
    assert receipt_ids(st) == [] and st.get("receiptLinkRef") is None, st


def test_body_must_be_a_json_object(api, key):
    for body in ([1], "text", None):
        r = api.post(RECEIPT, key=key, json=body)
        assert r.status_code == 400, r.text
        assert r.body["errors"] == ["body: must be a JSON object"], r.body


# ---- the SMS limit -------------------------------------------------------------------------
#
# With a 20-character order number (ORD- and 16 hex digits) the shortest SMS
# template "Receipt, order <order>: <url>" leaves 160 - 37 = 123 septets for
# the URL; the second, "<merchant> receipt for order <order>: <url>", leaves
# 119 - len(merchant); the first the least.


def url_of_length(n: int) -> str:
    base = "https://shop.example.com/receipts/"
    return base + "r" * (n - len(base))


def test_receipt_link_that_fills_one_sms(api, server, http, shop, key):
    link = paid(api, server, http, key, "sms")
    assert len(link.order) == 20
    url = url_of_length(123)
    before = now_utc()
    assert_created(ask(api, key, link.ref, url), link, before, now_utc())
    wait_receipt_ids(api, key, link.ref, [REQUEST_RECEIVED, SENT, DELIVERED])
    msgs = receipt_messages(api, key, link)
    assert [m["text"] for m in msgs] == [f"Receipt, order {link.order}: {url}"], msgs
    assert len(msgs[0]["text"]) == 160

    # the second template, with the merchant's name
    link = paid(api, server, http, key, "sms")
    url = url_of_length(119 - len(shop["name"]))
    before = now_utc()
    assert_created(ask(api, key, link.ref, url), link, before, now_utc())
    wait_receipt_ids(api, key, link.ref, [REQUEST_RECEIVED, SENT, DELIVERED])
    msgs = receipt_messages(api, key, link)
    assert [m["text"] for m in msgs] == [f"{shop['name']} receipt for order {link.order}: {url}"]
    assert len(msgs[0]["text"]) == 160


def test_receipt_link_too_long_for_one_sms(api, server, http, key):
    """One septet more is refused on SMS (and nothing is recorded); WhatsApp
    takes the same URL."""
    link = paid(api, server, http, key, "sms")
    url = url_of_length(124)
    r = ask(api, key, link.ref, url)
    assert r.status_code == 400, r.text
    assert r.body["errors"] == [TOO_LONG_FOR_SMS], r.body
    st = status_of(api, key, link.ref)
    assert receipt_ids(st) == [] and st.get("receiptLinkRef") is None, st
    # a shorter one is then accepted
    before = now_utc()
    assert_created(ask(api, key, link.ref, url_of_length(60)), link, before, now_utc())

    wa = paid(api, server, http, key, "whatsapp")
    long_url = url_of_length(1024)
    before = now_utc()
    assert_created(ask(api, key, wa.ref, long_url), wa, before, now_utc())
    wait_receipt_ids(api, key, wa.ref, [REQUEST_RECEIVED, SENT, DELIVERED])
    msgs = receipt_messages(api, key, wa)
    assert len(msgs) == 1 and msgs[0]["text"].endswith("Your receipt: " + long_url), msgs


def test_long_merchant_name_does_not_shrink_the_receipt_link(api, server, http, make_merchant):
    shop = make_merchant(name="Long Name " + "N" * 190)
    key = shop["apiKey"]
    link = paid(api, server, http, key, "sms")
    url = url_of_length(123)
    before = now_utc()
    assert_created(ask(api, key, link.ref, url), link, before, now_utc())
    wait_receipt_ids(api, key, link.ref, [REQUEST_RECEIVED, SENT, DELIVERED])
    assert [m["text"] for m in receipt_messages(api, key, link)] == [
        f"Receipt, order {link.order}: {url}"]


def test_scheme_in_any_case(api, server, http, key):
    link = paid(api, server, http, key, "sms")
    before = now_utc()
    assert_created(ask(api, key, link.ref, "HTTPS://shop.example.com/r/1"), link, before,
                   now_utc())


def test_receipt_link_too_long_for_sms_is_a_validation_failure(api, server, http, key):
    link = paid(api, server, http, key, "sms")
    r = ask(api, key, link.ref, url_of_length(124))
    assert r.status_code == 400, r.text
    assert r.body["code"] == "validation_failed", r.body


# ---- Idempotency-Key -------------------------------------------------------------------------


def test_idempotency_key_replays_the_receipt(api, server, http, key):
    link = paid(api, server, http, key, "sms")
    h = {"Idempotency-Key": "rcpt-" + uuid.uuid4().hex}
    body = body_for(link.ref)
    before = now_utc()
    first = api.post(RECEIPT, key=key, json=body, headers=h)
    ref = assert_created(first, link, before, now_utc())
    assert "Idempotent-Replayed" not in first.headers
    again = api.post(RECEIPT, key=key, json=body, headers=h)
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true", again.headers
    assert again.content == first.content

    # the same key with another body is another request
    other = api.post(RECEIPT, key=key, json=body_for(link.ref), headers=h)
    assert other.status_code == 422, other.text
    assert other.body["code"] == "unprocessable", other.body

    st = wait_receipt_ids(api, key, link.ref, [REQUEST_RECEIVED, SENT, DELIVERED])
    assert_receipt_history(st, [REQUEST_RECEIVED, SENT, DELIVERED])
    assert st["receiptLinkRef"] == ref
    msgs = receipt_messages(api, key, link)
    assert len(msgs) == 1 and body["receiptLink"] in msgs[0]["text"], msgs
    # a replay after the sending changes nothing either
    late = api.post(RECEIPT, key=key, json=body, headers=h)
    assert late.status_code == 201 and late.content == first.content, late.text
    assert late.headers.get("Idempotent-Replayed") == "true"
    assert receipt_ids(status_of(api, key, link.ref)) == [REQUEST_RECEIVED, SENT, DELIVERED]
    assert len(receipt_messages(api, key, link)) == 1
    # without the key: the rules refuse a second receipt
    assert_bad_request(api.post(RECEIPT, key=key, json=body), ALREADY.format(ref))


def test_idempotency_key_keeps_a_refusal(api, key):
    link = new_link(api, key, channel="sms", to="+" + fresh_msisdn())
    h = {"Idempotency-Key": "rcpt-" + uuid.uuid4().hex}
    body = body_for(link.ref)
    first = api.post(RECEIPT, key=key, json=body, headers=h)
    assert_bad_request(first, NOT_SUCCESS.format("PENDING"))
    again = api.post(RECEIPT, key=key, json=body, headers=h)
    assert again.status_code == 400 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.content == first.content


# ---- the send fails (0000): serve --no-workers, then a worker --------------------------------


def test_failed_send_with_a_separate_worker(tmp_path):
    db_url = migrated_db_url_for(tmp_path / "receipts.db")
    res = run_cli("merchant", "create", "--name", "Refused Receipts", "--currencies", "ZAR",
                  "--json", db_url=db_url, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    key = res.json()["apiKey"]
    SECRETS.api_keys.add(key)
    srv = start_server(tmp_path, db_url, name="receipts-http", extra_args=["--no-workers"])
    client = ApiClient(srv.base_url)
    http = requests.Session()
    worker = None
    out = err = None
    try:
        # no worker: the link is not sent (which would fail and make it
        # unusable), so it can be opened and paid
        link, st = pay_ok(client, SimpleNamespace(base_url=srv.base_url), http, key,
                          channel="sms", to="+" + fresh_msisdn("0000"))
        assert LINK_SENT not in history_ids(st) and LINK_SENT_FAILED not in history_ids(st), st
        url = receipt_url()
        before = now_utc()
        first = assert_created(ask(client, key, link.ref, url), link, before, now_utc())
        st = status_of(client, key, link.ref)
        assert receipt_ids(st) == [REQUEST_RECEIVED], st["transactionStatuses"]

        out = open(tmp_path / "worker.stdout", "wb")
        err = open(tmp_path / "worker.stderr", "wb")
        worker = subprocess.Popen([chatpay_bin(), "worker", "--db", db_url, "--public-url",
                                   srv.base_url], stdout=out,
                                  stderr=err, stdin=subprocess.DEVNULL, cwd=tmp_path,
                                  env=clean_env())
        st = wait_receipt_ids(client, key, link.ref, [REQUEST_RECEIVED, SENT_FAILED], timeout=15)
        assert_receipt_history(st, [REQUEST_RECEIVED, SENT_FAILED])
        assert st["paymentStatus"] == "SUCCESS", st
        msgs = receipt_messages(client, key, link)
        assert len(msgs) == 1 and url in msgs[0]["text"], msgs
        assert msgs[0]["status"] == "FAILED", msgs
        # nothing more comes: no delivery for a message that was not sent
        st = poll(lambda: status_of(client, key, link.ref),
                  lambda s: receipt_ids(s) != [REQUEST_RECEIVED, SENT_FAILED], 1.5, interval=0.25)
        assert receipt_ids(st) == [REQUEST_RECEIVED, SENT_FAILED], st["transactionStatuses"]

        # after a failed send another receipt may be asked for
        before = now_utc()
        second = assert_created(ask(client, key, link.ref), link, before, now_utc())
        assert second != first
        want = [REQUEST_RECEIVED, SENT_FAILED] * 2
        st = wait_receipt_ids(client, key, link.ref, want, timeout=15)
        assert_receipt_history(st, want)
        assert st["receiptLinkRef"] == second

        worker.terminate()
        assert worker.wait(timeout=15) == 0, (tmp_path / "worker.stderr").read_text()[-2000:]
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait(timeout=5)
        for f in (out, err):
            if f is not None:
                f.close()
        http.close()
        client.close()
        assert srv.stop() == 0, srv.tail()
