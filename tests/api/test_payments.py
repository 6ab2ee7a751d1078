"""Payments through payment links, walked like a browser (requests, no
redirects followed):

    POST /api/v2/chat-2-pay (channel none, returnPaymentLink) → GET /p/{token}
    → POST /p/{token}/pay (303) → GET /sandbox-gateway/checkout/{ref} (the
    card form) → POST it (303, or 422 with field errors, or 303 to the 3-D
    Secure page) → GET /p/{token}/return?ref=… (the result page)

then GET /api/v2/chat-2-pay/transaction-status (paymentStatus, history,
paymentStatuses), POST /api/v2/payment/{ref}/capture and …/reverse, the
retry limit, concurrency, the REVIEW follow-ups and settlement.

The HTML pages and redirects are not JSON: only GET /p/{token} (documented)
goes through the contract checker; every JSON response does (ApiClient).

Waiting: the settlement and review delays are at least 30 s. The module
fixture `slow` starts that clock in the first test; the tests that need the
30 s to have passed come last, so the wait overlaps everything else. The
very last test searches the session server's database and logs for the
card numbers and CVCs submitted."""

from __future__ import annotations

import datetime
import re
import time
import uuid

import pytest
import requests

from cp_helpers import (
    CARD_3DS,
    CARD_AMEX,
    CARD_DATA,
    CARD_DECLINE,
    CARD_ERROR,
    CARD_INSUFFICIENT,
    CARD_MASTERCARD,
    CARD_REVIEW,
    CARD_TIMEOUT,
    CARD_VISA,
    CARD_VISA_2,
    LINKS,
    PAYMENT_OPS,
    TEST_CARDS,
    absolute,
    card_form,
    db_exec,
    find_card_data_in_db,
    find_card_data_in_log,
    find_card_data_in_text,
    future_expiry,
    history_ids,
    html_request,
    link_body,
    past_expiry,
    poll,
    sqlite_path,
    start_payment,
    submit_card,
)
from openapi_check import parse_rfc3339

from payment_flow import (  # noqa: E402
    ALREADY_CAPTURED,
    ALREADY_REVERSED,
    ALREADY_VOIDED,
    CLICKED,
    IN_PROGRESS,
    NO_SUCCESSFUL,
    ONLY_AUTH,
    PAYMENT_STATUS_RECEIVED,
    RECEIVED,
    SETTLE_S,
    SETTLED,
    SLACK,
    STATUS_ID,
    assert_bad_request,
    assert_field_error,
    assert_html,
    assert_masked,
    assert_not_found,
    assert_op_result,
    assert_order_paid,
    capture,
    checkout,
    expiry_stored,
    link_page,
    new_link,
    now_utc,
    pay_forms,
    pay_ok,
    psr_entries,
    race,
    reverse,
    status_of,
)


@pytest.fixture
def shop(make_merchant):
    return make_merchant(name=f"Pay Shop {uuid.uuid4().hex[:6]}")


@pytest.fixture
def key(shop):
    return shop["apiKey"]


# ---- the slow clock: settlement and review (started first, checked last) ----------------


@pytest.fixture(scope="module")
def slow(server, api, make_merchant, cli):
    """A merchant whose sales and captures settle after 30 s and whose REVIEW
    payments are decided after 30 s, with: a paid sale, a captured
    authorization, an uncaptured authorization and a REVIEW sale."""
    m = make_merchant(name=f"Slow Shop {uuid.uuid4().hex[:6]}")
    key = m["apiKey"]
    res = cli("merchant", "update", m["merchantId"], "--settlement-delay", f"{SETTLE_S}s",
              "--review-delay", f"{SETTLE_S}s", "--json")
    assert res.returncode == 0, res.stderr
    assert res.json()["settlementDelaySeconds"] == SETTLE_S
    assert res.json()["reviewDelaySeconds"] == SETTLE_S
    with requests.Session() as http:
        sale, _ = pay_ok(api, server, http, key, CARD_VISA, "Sale")
        captured, _ = pay_ok(api, server, http, key, CARD_MASTERCARD, "Authorization")
        r = capture(api, key, captured.ref)
        assert r.status_code == 200, r.text
        open_auth, _ = pay_ok(api, server, http, key, CARD_VISA_2, "Authorization")
        review = new_link(api, key, "Sale")
        p = checkout(server, http, review, card_form(CARD_REVIEW))
        assert_html(p.ret, 200, "Payment under review")
    review_st = status_of(api, key, review.ref)
    times = []
    for link in (sale, captured, open_auth):
        for e in status_of(api, key, link.ref)["paymentStatuses"]:
            times.append(parse_rfc3339(e["paymentGatewayResponseTimestamp"]))
    return {
        "key": key, "sale": sale, "captured": captured, "open_auth": open_auth,
        "review": review, "review_status": review_st, "latest": max(times),
        "review_at": parse_rfc3339(review_st["paymentStatusTimestamp"]),
    }


def test_slow_clock_started(api, slow):
    """First test: starts the 30 s clock. A REVIEW payment can be neither
    captured nor reversed; it stays REVIEW for now."""
    key = slow["key"]
    st = slow["review_status"]
    assert st["paymentStatus"] == "REVIEW" and st["paymentStatusId"] == "5", st
    assert "paymentStatusConversionTime" not in st, st
    assert_bad_request(capture(api, key, slow["review"].ref), NO_SUCCESSFUL.format("capture", "REVIEW"))
    assert_bad_request(reverse(api, key, slow["review"].ref), NO_SUCCESSFUL.format("reverse", "REVIEW"))
    st = status_of(api, key, slow["review"].ref)
    assert st["paymentStatus"] == "REVIEW", st
    assert [e["paymentGatewayDecision"] for e in st["paymentStatuses"]] == ["REVIEW"], st


# ---- the link page and the card form -----------------------------------------------------


def test_link_page_offers_to_pay(api, key):
    link = new_link(api, key)
    r = link_page(api, link.token)
    assert_html(r, 200)
    forms = pay_forms(r.doc, link.token)
    assert len(forms) == 1, r.text
    assert forms[0].find("button") is not None
    assert "ZAR 115.00" in r.doc.text()


def test_checkout_form(api, server, http, key):
    link = new_link(api, key)
    op_ref, url = start_payment(http, server.base_url, link.token)
    r = html_request(http, "GET", url)
    assert_html(r, 200)
    form = r.doc.find("form")
    assert form is not None and form.attrs.get("method") == "post", r.text
    assert form.attrs.get("action") == f"/sandbox-gateway/checkout/{op_ref}"
    want = {"name": ("cc-name", "text"), "number": ("cc-number", "numeric"),
            "expiry": ("cc-exp", "numeric"), "cvc": ("cc-csc", "numeric")}
    inputs = {i.attrs.get("name"): i for i in form.find_all("input")}
    assert set(inputs) == set(want), inputs.keys()
    for name, (auto, mode) in want.items():
        assert inputs[name].attrs.get("autocomplete") == auto, inputs[name].attrs
        assert inputs[name].attrs.get("inputmode") == mode, inputs[name].attrs
        assert inputs[name].attrs.get("value") in ("", None), inputs[name].attrs
        label = form.find("label", **{"for": inputs[name].attrs.get("id")})
        assert label is not None and label.text(), f"no label for {name}"
    assert inputs["cvc"].attrs.get("type") == "password"
    assert form.find("p", cls="error") is None
    assert "ZAR 115.00" in r.doc.text()
    assert "sandbox" in r.doc.text().lower()
    # nothing decided yet
    st = status_of(api, key, link.ref)
    assert st["paymentStatus"] == "PENDING" and st["paymentStatusId"] == "3", st
    assert PAYMENT_STATUS_RECEIVED not in history_ids(st)
    assert [e["paymentGatewayDecision"] for e in st["paymentStatuses"]] == ["UNKNOWN"], st


def test_return_before_paying_records_nothing(api, server, http, key):
    """The return page opened while the checkout is still open (by hand, or a
    link checker's HEAD) is not an outcome: nothing is recorded, the browser
    goes back to the link's page, and the same checkout can still be paid."""
    link = new_link(api, key)
    op_ref, _ = start_payment(http, server.base_url, link.token)
    started = status_of(api, key, link.ref)
    assert started["paymentStatus"] == "PENDING", started
    for method in ("GET", "HEAD"):
        r = html_request(http, method, f"{server.base_url}/p/{link.token}/return?ref={op_ref}")
        assert r.status_code == 303 and r.headers["Location"] == f"/p/{link.token}", (method, r.text)
    st = status_of(api, key, link.ref)
    assert (st["paymentStatus"], st["paymentStatuses"]) == ("PENDING", started["paymentStatuses"]), st
    assert link_page(api, link.token).status_code == 200  # its page, with Pay again
    p = checkout(server, http, link, card_form(CARD_VISA))
    assert p.op_ref == op_ref  # the same attempt
    assert_html(p.ret, 200, "Payment successful")


def test_pay_again_before_submitting_resumes_the_payment(api, server, http, cli, shop, key):
    """A second POST pay (back button) continues the same payment and does
    not use up an attempt."""
    res = cli("merchant", "update", shop["merchantId"], "--payment-attempts", "2")
    assert res.returncode == 0, res.stderr
    link = new_link(api, key)
    first = start_payment(http, server.base_url, link.token)
    second = start_payment(http, server.base_url, link.token)
    assert first == second
    p = checkout(server, http, link, card_form(CARD_DECLINE))
    assert p.op_ref == first[0]
    assert_html(p.ret, 200, "Payment declined")
    assert "Open the link again" in p.ret.doc.text()
    # one attempt used, one left
    p = checkout(server, http, link, card_form(CARD_VISA))
    assert p.op_ref != first[0]
    assert_html(p.ret, 200, "Payment successful")
    st = status_of(api, key, link.ref)
    assert len(st["paymentStatuses"]) == 2, st


# ---- every test card --------------------------------------------------------------------

OUTCOMES = [
    # card, spaced, txn, paymentStatus, decision, code, page title
    (CARD_VISA, False, "Sale", "SUCCESS", "ACCEPT", 100, "Payment successful"),
    (CARD_VISA_2, True, "Authorization", "SUCCESS", "ACCEPT", 100, "Payment successful"),
    (CARD_MASTERCARD, True, "Sale", "SUCCESS", "ACCEPT", 100, "Payment successful"),
    (CARD_AMEX, True, "Authorization", "SUCCESS", "ACCEPT", 100, "Payment successful"),
    (CARD_AMEX, False, "Sale", "SUCCESS", "ACCEPT", 100, "Payment successful"),
    (CARD_DECLINE, False, "Sale", "FAILED", "DECLINE", 203, "Payment declined"),
    (CARD_INSUFFICIENT, True, "Authorization", "FAILED", "DECLINE", 204, "Payment declined"),
    (CARD_REVIEW, False, "Sale", "REVIEW", "REVIEW", 480, "Payment under review"),
    (CARD_ERROR, True, "Sale", "FAILED", "ERROR", 150, "Payment could not be processed"),
]


@pytest.mark.parametrize(
    "card,spaced,txn,pay_status,decision,code,title", OUTCOMES,
    ids=[f"{c.number[-4:]}-{'spaced' if s else 'digits'}-{t}" for c, s, t, *_ in OUTCOMES],
)
def test_card_outcome(api, server, http, shop, key, card, spaced, txn, pay_status, decision, code, title):
    link = new_link(api, key, txn)
    assert link_page(api, link.token).status_code == 200
    expiry = future_expiry(years=4, month=11)
    before = now_utc()
    p = checkout(server, http, link, card_form(card, spaced=spaced, expiry=expiry))
    after = now_utc()
    assert_html(p.ret, 200, title)
    text = p.ret.doc.text()
    if pay_status == "SUCCESS":
        assert shop["name"] in text and link.order in text, text
    elif pay_status == "FAILED":
        assert "No money was taken" in text and "Open the link again" in text, text
    else:
        assert link.order in text, text
    for page in (p.submit, p.ret):
        assert card.number not in page.text and card.spaced not in page.text

    st = status_of(api, key, link.ref)
    assert st["paymentStatus"] == pay_status, st
    assert st["paymentStatusId"] == STATUS_ID[pay_status], st
    ts = parse_rfc3339(st["paymentStatusTimestamp"])
    assert before - SLACK <= ts <= after + SLACK, (before, ts, after)
    assert "paymentStatusConversionTime" not in st, st
    assert st["transactionType"] == txn
    assert history_ids(st) == [RECEIVED, CLICKED, PAYMENT_STATUS_RECEIVED], st
    psr = psr_entries(st)[0]
    assert psr["httpResponseCode"] == 200, psr
    assert psr["responseCode"] == str(code), psr
    assert psr["responseCodeDescription"] == decision, psr
    assert parse_rfc3339(psr["created"]) == ts

    assert len(st["paymentStatuses"]) == 1, st
    e = st["paymentStatuses"][0]
    assert e["transactionType"] == txn, e
    assert e["totalAmount"] == 115.0, e
    assert e["paymentGatewayDecision"] == decision, e
    assert e["paymentGatewayResponseCode"] == code, e
    assert e["paymentStatus"] == pay_status and e["paymentStatusId"] == STATUS_ID[pay_status], e
    assert isinstance(e["paymentGatewayReqReferenceNumber"], str) and e["paymentGatewayReqReferenceNumber"]
    gts = parse_rfc3339(e["paymentGatewayResponseTimestamp"])
    assert before - SLACK <= gts <= after + SLACK, e
    if decision in ("ACCEPT", "REVIEW"):
        assert e["paymentGatewayAuthReconciliationReferenceNumber"], e
    else:
        assert "paymentGatewayAuthReconciliationReferenceNumber" not in e, e
    if decision == "ACCEPT":
        assert "paymentGatewayErrorDecision" not in e, e
    else:
        assert isinstance(e.get("paymentGatewayErrorDecision"), str) and e["paymentGatewayErrorDecision"], e
    assert e["cardType"] == card.brand, e
    assert_masked(card, e["maskedCardNumber"])
    assert e["cardExpiryDate"] == expiry_stored(expiry), e

    # what the link offers now
    page = link_page(api, link.token)
    if pay_status == "FAILED":
        assert_html(page, 200)
        assert len(pay_forms(page.doc, link.token)) == 1, page.text
        notice = page.doc.find("p", cls="notice")
        assert notice is not None and "did not go through" in notice.text(), page.text
    else:
        # paid, or under review as the return page says
        assert_html(page, 200, "This order is paid" if pay_status == "SUCCESS" else title)
        assert link.order in page.doc.text() and not pay_forms(page.doc, link.token), page.text
        r = html_request(http, "POST", f"{server.base_url}/p/{link.token}/pay")
        assert_html(r, 409, "This order is already paid")


def test_expiry_as_separate_month_and_year(api, server, http, key):
    link = new_link(api, key)
    fields = card_form(CARD_VISA)
    del fields["expiry"]
    year = time.gmtime().tm_year + 2
    fields.update({"exp-month": "10", "exp-year": str(year)})
    p = checkout(server, http, link, fields)
    assert_html(p.ret, 200, "Payment successful")
    e = status_of(api, key, link.ref)["paymentStatuses"][0]
    assert e["cardExpiryDate"] == f"10/{year}", e


@pytest.mark.parametrize("digits", [4, 6])
def test_expiry_as_digits_only(api, server, http, key, digits):
    """A phone's numeric keypad has no "/": MMYY and MMYYYY are taken."""
    link = new_link(api, key)
    year = time.gmtime().tm_year + 2
    p = checkout(server, http, link, card_form(CARD_VISA, expiry=f"11{str(year)[-digits + 2:]}"))
    assert_html(p.ret, 200, "Payment successful")
    e = status_of(api, key, link.ref)["paymentStatuses"][0]
    assert e["cardExpiryDate"] == f"11/{year}", e


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
EXTENDED_ARABIC_INDIC = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


@pytest.mark.parametrize("digits", [ARABIC_INDIC, EXTENDED_ARABIC_INDIC], ids=["arabic", "persian"])
def test_digits_of_an_arabic_keyboard_without_javascript(api, server, http, key, digits):
    """The page's script turns Arabic-Indic digits into ASCII ones before
    the post; without JavaScript the server does it."""
    link = new_link(api, key)
    year = time.gmtime().tm_year + 2
    fields = card_form(CARD_VISA, expiry=f"10/{year % 100:02d}")
    fields = {k: v.translate(digits) if k != "name" else v for k, v in fields.items()}
    assert fields["number"] != CARD_VISA.number
    p = checkout(server, http, link, fields)
    assert_html(p.ret, 200, "Payment successful")
    e = status_of(api, key, link.ref)["paymentStatuses"][0]
    assert e["cardExpiryDate"] == f"10/{year}" and e["maskedCardNumber"].endswith("1111"), e


def test_timeout_card_is_confirmed_by_a_query(api, server, http, key):
    """No answer at first (202, UNKNOWN); a worker's query finds the payment
    accepted within 15 s, and records it once."""
    link = new_link(api, key)
    p = checkout(server, http, link, card_form(CARD_TIMEOUT))
    assert_html(p.ret, 202, "Payment being confirmed")
    assert "not be charged twice" in p.ret.doc.text()
    st = status_of(api, key, link.ref)
    assert st["paymentStatus"] == "UNKNOWN" and st["paymentStatusId"] == "4", st
    first_ts = parse_rfc3339(st["paymentStatusTimestamp"])
    assert history_ids(st) == [RECEIVED, CLICKED, PAYMENT_STATUS_RECEIVED], st
    assert "responseCode" not in psr_entries(st)[0], st
    assert [(e["paymentGatewayDecision"], e["paymentStatus"]) for e in st["paymentStatuses"]] == [
        ("UNKNOWN", "UNKNOWN")], st
    # being confirmed: said so, and not payable again
    page = link_page(api, link.token)
    assert_html(page, 200, "Payment being confirmed")
    assert "not be charged twice" in page.doc.text() and not pay_forms(page.doc, link.token)
    r = html_request(http, "POST", f"{server.base_url}/p/{link.token}/pay")
    assert_html(r, 409)

    st = poll(lambda: status_of(api, key, link.ref), lambda s: s["paymentStatus"] != "UNKNOWN",
              timeout=15, interval=0.2)
    assert st["paymentStatus"] == "SUCCESS" and st["paymentStatusId"] == "1", st
    assert parse_rfc3339(st["paymentStatusTimestamp"]) > first_ts
    assert len(st["paymentStatuses"]) == 1, st
    e = st["paymentStatuses"][0]
    assert (e["paymentGatewayDecision"], e["paymentGatewayResponseCode"], e["paymentStatus"]) == (
        "ACCEPT", 100, "SUCCESS"), e
    assert e["paymentGatewayAuthReconciliationReferenceNumber"], e
    assert_masked(CARD_TIMEOUT, e["maskedCardNumber"])
    psr = psr_entries(st)
    assert len(psr) == 2 and psr[1]["responseCode"] == "100", st
    # the browser reloads the result page: shown, not recorded again
    r = html_request(http, "GET", f"{server.base_url}/p/{link.token}/return?ref={p.op_ref}")
    assert_html(r, 200, "Payment successful")
    st2 = status_of(api, key, link.ref)
    assert len(st2["paymentStatuses"]) == 1 and len(psr_entries(st2)) == 2, st2


@pytest.mark.parametrize("action", ["approve", "deny"])
def test_3ds_challenge(api, server, http, key, action):
    base = server.base_url
    link = new_link(api, key)
    op_ref, url = start_payment(http, base, link.token)
    sub = submit_card(http, url, card_form(CARD_3DS))
    assert sub.status_code == 303, sub.text[:500]
    challenge = absolute(base, sub.headers["Location"])
    assert challenge == f"{base}/sandbox-gateway/3ds/{op_ref}", challenge
    r = html_request(http, "GET", challenge)
    assert_html(r, 200)
    form = r.doc.find("form")
    assert form is not None and form.attrs.get("action") == f"/sandbox-gateway/3ds/{op_ref}"
    assert form.attrs.get("method") == "post"
    buttons = {b.attrs.get("value") for b in form.find_all("button", name="action")}
    assert buttons == {"approve", "deny"}, r.text
    assert "400000******3184" in r.doc.text() and CARD_3DS.number not in r.text
    # the card form is done with; nothing decided yet: back at it (Pay
    # pressed again), the customer is sent on to the check
    r = html_request(http, "GET", url)
    assert r.status_code == 303 and r.headers["Location"] == f"/sandbox-gateway/3ds/{op_ref}", r
    assert_html(html_request(http, "POST", url, data=card_form(CARD_VISA),
                             headers={"Origin": base}), 409)
    st = status_of(api, key, link.ref)
    assert PAYMENT_STATUS_RECEIVED not in history_ids(st) and st["paymentStatus"] == "PENDING", st

    r = html_request(http, "POST", challenge, data={"action": action})
    assert r.status_code == 303, r.text[:500]
    back = absolute(base, r.headers["Location"])
    assert back == f"{base}/p/{link.token}/return?ref={op_ref}"
    ret = html_request(http, "GET", back)
    st = status_of(api, key, link.ref)
    e = st["paymentStatuses"][0]
    if action == "approve":
        assert_html(ret, 200, "Payment successful")
        assert st["paymentStatus"] == "SUCCESS", st
        assert (e["paymentGatewayDecision"], e["paymentGatewayResponseCode"]) == ("ACCEPT", 100), e
    else:
        assert_html(ret, 200, "Payment declined")
        assert st["paymentStatus"] == "FAILED" and st["paymentStatusId"] == "2", st
        assert e["paymentGatewayDecision"] == "DECLINE", e
        assert e["paymentGatewayErrorDecision"], e
    assert len(st["paymentStatuses"]) == 1, st
    assert_masked(CARD_3DS, e["maskedCardNumber"])
    # decided once: answering the challenge again changes nothing
    other = "deny" if action == "approve" else "approve"
    r = html_request(http, "POST", challenge, data={"action": other})
    assert r.status_code == 303 and absolute(base, r.headers["Location"]) == back
    html_request(http, "GET", back)
    st2 = status_of(api, key, link.ref)
    assert st2["paymentStatus"] == st["paymentStatus"] and st2["paymentStatuses"] == st["paymentStatuses"]


# ---- form errors ------------------------------------------------------------------------

FORM_ERRORS = [
    # id, card, overrides, {field: message}
    ("bad-luhn", CARD_VISA, {"number": "4111 1111 1111 1112"},
     {"number": "This card number does not pass the check digit test"}),
    ("not-a-test-card", CARD_VISA, {"number": "4012 8888 8888 1881"},
     {"number": "Use one of the sandbox test cards"}),
    ("past-expiry", CARD_VISA, {"expiry": past_expiry()}, {"expiry": "This card has expired"}),
    ("amex-3-digit-cvc", CARD_AMEX, {"cvc": CARD_DATA.cvc(3)},
     {"cvc": "Enter the 4-digit security code from the front of the card"}),
    ("2-digit-cvc", CARD_VISA, {"cvc": CARD_DATA.cvc(2)},
     {"cvc": "Enter the 3-digit security code from the back of the card"}),
    ("4-digit-cvc-visa", CARD_MASTERCARD, {"cvc": CARD_DATA.cvc(4)},
     {"cvc": "Enter the 3-digit security code from the back of the card"}),
    ("missing-name", CARD_VISA, {"name": ""}, {"name": "Enter the name on the card"}),
    ("everything", CARD_VISA,
     {"name": "  ", "number": "4111 1111", "expiry": "13/30", "cvc": "x1"},
     {"name": "Enter the name on the card", "number": "Enter a valid card number",
      "expiry": "The expiry month must be from 01 to 12",
      "cvc": "Enter the 3-digit security code from the back of the card"}),
]


def field_groups(doc) -> dict:
    """For each div.field of the form: (error text or None, input attrs),
    keyed by the input's name; checks the error comes before its input."""
    out = {}
    for div in doc.find_all("div", cls="field"):
        inp = div.find("input")
        assert inp is not None, "a field without an input"
        err = div.find("p", cls="error")
        if err is not None:
            kids = [c for c in div.iter()]
            assert kids.index(err) < kids.index(inp), "the message must come before its input"
        out[inp.attrs.get("name")] = (err.text() if err else None, err, inp.attrs)
    return out


@pytest.mark.parametrize("case,card,overrides,errors", FORM_ERRORS, ids=[c[0] for c in FORM_ERRORS])
def test_form_errors(api, server, http, key, case, card, overrides, errors):
    link = new_link(api, key)
    op_ref, url = start_payment(http, server.base_url, link.token)
    fields = dict(card_form(card, name="Zoë <Dlamini> & Co"), **overrides)
    r = submit_card(http, url, fields)
    assert_html(r, 422)
    notice = r.doc.find("p", cls="notice")
    assert notice is not None and notice.attrs.get("role") == "alert", r.text
    form = r.doc.find("form")
    assert form.attrs.get("action") == f"/sandbox-gateway/checkout/{op_ref}"
    groups = field_groups(r.doc)
    assert set(groups) == {"name", "number", "expiry", "cvc"}, groups.keys()
    for name, (msg, err, attrs) in groups.items():
        if name in errors:
            assert msg == errors[name], (name, msg)
            assert err.attrs.get("id") == f"{name}-error"
            assert attrs.get("aria-invalid") == "true" and attrs.get("aria-describedby") == f"{name}-error"
        else:
            assert msg is None, (name, msg)
            assert "aria-invalid" not in attrs
    # the name comes back (escaped); the card number and the CVC never do
    assert groups["name"][2].get("value") == fields["name"]
    assert "<Dlamini>" not in r.text
    for name in ("number", "cvc", "expiry"):
        assert groups[name][2].get("value") in ("", None), groups[name]
    digits = re.sub(r"\D", "", fields["number"])
    if len(digits) >= 12 and digits not in {c.number for c in TEST_CARDS}:  # (the page lists test cards)
        assert find_card_data_in_text(r.text, {digits}, set(), "page") == []

    # no gateway decision recorded
    st = status_of(api, key, link.ref)
    assert st["paymentStatus"] == "PENDING", st
    assert PAYMENT_STATUS_RECEIVED not in history_ids(st), st
    assert [e["paymentGatewayDecision"] for e in st["paymentStatuses"]] == ["UNKNOWN"], st
    assert all("paymentGatewayResponseCode" not in e for e in st["paymentStatuses"]), st

    # corrected, the same form goes through
    r = submit_card(http, url, card_form(card))
    assert r.status_code == 303, r.text[:500]
    assert absolute(server.base_url, r.headers["Location"]).endswith(f"/return?ref={op_ref}")
    ret = html_request(http, "GET", absolute(server.base_url, r.headers["Location"]))
    assert_html(ret, 200, "Payment successful")
    st = status_of(api, key, link.ref)
    assert [e["paymentGatewayDecision"] for e in st["paymentStatuses"]] == ["ACCEPT"], st


# ---- retry, the attempt limit, a paid link ---------------------------------------------


def test_pay_address_opened_goes_to_the_link_page(api, server, http, key):
    # a reload (or Enter in the address bar) after Pay: the link's page, not JSON
    link = new_link(api, key)
    r = html_request(http, "GET", f"{server.base_url}/p/{link.token}/pay")
    assert r.status_code == 303 and r.headers["Location"] == f"/p/{link.token}", r.text[:300]
    assert r.headers["Content-Type"].startswith("text/html")
    assert status_of(api, key, link.ref)["paymentStatuses"] == []
    # the path is decoded: what is not a token never reaches Location
    r = html_request(http, "GET", f"{server.base_url}/p/x%0D%0ASet-Cookie:%20a=b/pay")
    assert r.status_code == 404 and "Location" not in r.headers and "Set-Cookie" not in r.headers


def test_no_retry_offered_once_the_page_has_expired(api, server, http, key):
    """A decline that comes after the payment page's time (the checkout
    outlives it a little) does not invite another card the page would refuse."""
    link = new_link(api, key)
    assert_html(link_page(api, link.token), 200)  # the first open starts the page's time
    op_ref, url = start_payment(http, server.base_url, link.token)
    db_exec(server.db_url, "UPDATE links SET page_expires_at = 1 WHERE ref = ?", (link.ref,))
    sub = submit_card(http, url, card_form(CARD_DECLINE))
    assert sub.status_code == 303, sub.text[:300]
    ret = html_request(http, "GET", absolute(server.base_url, sub.headers["Location"]))
    assert_html(ret, 200, "Payment declined")
    text = ret.doc.text()
    assert "Open the link again" not in text and "for a new payment link" in text, text
    assert not ret.doc.find_all("a"), ret.text  # nothing to try again
    assert_html(link_page(api, link.token), 410)


def test_retry_after_decline(api, server, http, key):
    link = new_link(api, key)
    p1 = checkout(server, http, link, card_form(CARD_DECLINE))
    assert_html(p1.ret, 200, "Payment declined")
    assert "Open the link again to try another card." in p1.ret.doc.text()
    # and a button takes the customer back to it, JavaScript or not
    back = [a for a in p1.ret.doc.find_all("a") if a.attrs.get("href") == f"/p/{link.token}"]
    assert len(back) == 1 and back[0].text() == "Try another card", p1.ret.text
    page = link_page(api, link.token)
    assert_html(page, 200)
    assert "did not go through" in page.doc.find("p", cls="notice").text()
    assert len(pay_forms(page.doc, link.token)) == 1
    p2 = checkout(server, http, link, card_form(CARD_ERROR))
    assert p2.op_ref != p1.op_ref
    assert_html(p2.ret, 200, "Payment could not be processed")
    assert "Open the link again" in p2.ret.doc.text()
    p3 = checkout(server, http, link, card_form(CARD_AMEX, spaced=True))
    assert_html(p3.ret, 200, "Payment successful")
    st = status_of(api, key, link.ref)
    assert st["paymentStatus"] == "SUCCESS", st
    got = [(e["paymentGatewayDecision"], e.get("paymentGatewayResponseCode"), e["paymentStatus"])
           for e in st["paymentStatuses"]]
    assert got == [("DECLINE", 203, "FAILED"), ("ERROR", 150, "FAILED"), ("ACCEPT", 100, "SUCCESS")], got
    assert [e["responseCode"] for e in psr_entries(st)] == ["203", "150", "100"], st
    assert history_ids(st).count(CLICKED) == 1


def test_attempt_limit_locks_the_link(api, server, http, cli, shop, key):
    res = cli("merchant", "update", shop["merchantId"], "--payment-attempts", "2", "--json")
    assert res.returncode == 0, res.stderr
    assert res.json()["maxPaymentAttempts"] == 2
    link = new_link(api, key)
    p1 = checkout(server, http, link, card_form(CARD_DECLINE))
    assert "Open the link again" in p1.ret.doc.text()
    p2 = checkout(server, http, link, card_form(CARD_INSUFFICIENT))
    assert_html(p2.ret, 200, "Payment declined")
    text = p2.ret.doc.text()
    assert "Open the link again" not in text and f"Ask {shop['name']} for a new payment link." in text, text
    page = link_page(api, link.token)
    assert_html(page, 410, "Too many payment attempts")
    assert not pay_forms(page.doc, link.token)
    r = html_request(http, "POST", f"{server.base_url}/p/{link.token}/pay")
    assert_html(r, 410, "Too many payment attempts")
    st = status_of(api, key, link.ref)
    assert st["paymentStatus"] == "FAILED" and len(st["paymentStatuses"]) == 2, st


def test_last_attempt_running_is_not_locked(api, server, http, cli, shop, key):
    """The attempts are used up, but the last one is still running (the
    payment status stays FAILED meanwhile): the page offers Pay, which
    resumes that attempt, and it can still be paid."""
    res = cli("merchant", "update", shop["merchantId"], "--payment-attempts", "2")
    assert res.returncode == 0, res.stderr
    link = new_link(api, key)
    checkout(server, http, link, card_form(CARD_DECLINE))
    op_ref, url = start_payment(http, server.base_url, link.token)
    assert status_of(api, key, link.ref)["paymentStatus"] == "FAILED"
    page = link_page(api, link.token)
    assert_html(page, 200)
    assert len(pay_forms(page.doc, link.token)) == 1, page.text
    # the status is the declined attempt's, but the last one has not failed
    assert page.doc.find("p", cls="notice") is None, page.text
    assert start_payment(http, server.base_url, link.token) == (op_ref, url)
    sub = submit_card(http, url, card_form(CARD_VISA))
    assert sub.status_code == 303, sub.text[:300]
    assert_html(html_request(http, "GET", absolute(server.base_url, sub.headers["Location"])), 200,
                "Payment successful")
    assert status_of(api, key, link.ref)["paymentStatus"] == "SUCCESS"


def test_last_attempt_closed_without_an_answer_is_locked(api, server, http, cli, shop, key):
    """The only attempt allowed was closed by chatpay (the customer never
    finished the checkout): the payment status stays PENDING, and Pay
    refuses another attempt, so the page says the link is locked instead
    of showing a Pay button that cannot work."""
    res = cli("merchant", "update", shop["merchantId"], "--payment-attempts", "1")
    assert res.returncode == 0, res.stderr
    link = new_link(api, key)
    op_ref, url = start_payment(http, server.base_url, link.token)
    assert db_exec(server.db_url, "UPDATE payment_ops SET state = 1, decision = 4, flags = 1"
                                  " WHERE ref = ?", (op_ref,)) == 1
    assert status_of(api, key, link.ref)["paymentStatus"] == "PENDING"
    assert_html(html_request(http, "POST", f"{server.base_url}/p/{link.token}/pay"), 410,
                "Too many payment attempts")
    page = link_page(api, link.token)
    assert_html(page, 410, "Too many payment attempts")
    assert not pay_forms(page.doc, link.token)


def test_paid_link(api, server, http, key):
    base = server.base_url
    link = new_link(api, key)
    p = checkout(server, http, link, card_form(CARD_VISA))
    before = status_of(api, key, link.ref)
    page = link_page(api, link.token)
    assert_html(page, 200, "This order is paid")
    assert link.order in page.doc.text()
    assert_html(html_request(http, "POST", f"{base}/p/{link.token}/pay"), 409, "This order is already paid")
    # the gateway's pages of a decided payment send the browser back
    r = html_request(http, "GET", p.checkout_url)
    assert r.status_code == 303 and r.headers["Location"] == f"{base}/p/{link.token}/return?ref={p.op_ref}"
    r = submit_card(http, p.checkout_url, card_form(CARD_DECLINE))
    assert r.status_code == 303, r.text[:300]
    assert_html(html_request(http, "GET", absolute(base, r.headers["Location"])), 200, "Payment successful")
    after = status_of(api, key, link.ref)
    assert after["paymentStatuses"] == before["paymentStatuses"]
    assert after["transactionStatuses"] == before["transactionStatuses"]
    # the order has its live (paid) link: no second link
    assert_order_paid(api.post(LINKS, key=key, json=link_body(orderNumber=link.order)), link.order, link.ref)


def test_return_page_errors(api, server, http, key):
    base = server.base_url
    a, b = new_link(api, key), new_link(api, key)
    op_a, _ = start_payment(http, base, a.token)
    r = html_request(http, "GET", f"{base}/p/{a.token}/return")
    assert_html(r, 400, "Payment not found")
    r = html_request(http, "GET", f"{base}/p/{b.token}/return?ref={op_a}")
    assert_html(r, 404, "Payment not found")
    r = html_request(http, "GET", f"{base}/p/{a.token}/return?ref=op_nosuchpayment12345")
    assert_html(r, 404)
    r = html_request(http, "POST", f"{base}/p/NoSuchToken1234567/pay")
    assert_html(r, 404)
    assert_html(html_request(http, "GET", f"{base}/sandbox-gateway/checkout/op_nosuchpayment12345"), 404)
    # nothing was recorded for b
    st = status_of(api, key, b.ref)
    assert st["paymentStatuses"] == [] and st["paymentStatus"] == "PENDING", st


def test_cancelled_link_cannot_be_paid(api, server, http, key):
    link = new_link(api, key)
    assert api.post("/api/v2/cancel/" + link.ref, key=key).status_code == 200
    r = html_request(http, "POST", f"{server.base_url}/p/{link.token}/pay")
    assert_html(r, 410)
    assert status_of(api, key, link.ref)["paymentStatuses"] == []


def test_merchant_create_reports_payment_settings(cli, make_merchant):
    """`merchant create --json` prints the settings the merchant really has
    (as `merchant show --json` does): 3 attempts, 24 h settlement, 60 s review."""
    m = make_merchant()
    res = cli("merchant", "show", m["merchantId"], "--json")
    assert res.returncode == 0, res.stderr
    shown = res.json()
    assert (shown["maxPaymentAttempts"], shown["settlementDelaySeconds"], shown["reviewDelaySeconds"]) == (
        3, 86400, 60), shown
    for k in ("maxPaymentAttempts", "settlementDelaySeconds", "reviewDelaySeconds"):
        assert m[k] == shown[k], f"merchant create --json says {k}={m[k]}, show says {shown[k]}"


# ---- capture ----------------------------------------------------------------------------


def test_capture_full_amount_by_default(api, server, http, key):
    link, st = pay_ok(api, server, http, key, CARD_VISA, "Authorization")
    auth = st["paymentStatuses"][0]
    assert auth["transactionType"] == "Authorization"
    r = capture(api, key, link.ref)
    assert r.status_code == 200, r.text
    assert_op_result(r.body, "Capture", 115.0, "SUCCESS",
                     auth_ref=auth["paymentGatewayAuthReconciliationReferenceNumber"])
    assert r.body["cardExpiryDate"] == auth["cardExpiryDate"]
    assert r.body["paymentGatewayReqReferenceNumber"] != auth["paymentGatewayReqReferenceNumber"]
    st = status_of(api, key, link.ref)
    assert st["paymentStatus"] == "SUCCESS" and st["paymentStatusId"] == "1", st
    assert [(e["transactionType"], e["paymentGatewayDecision"], e["totalAmount"]) for e in st["paymentStatuses"]] == [
        ("Authorization", "ACCEPT", 115.0), ("Capture", "ACCEPT", 115.0)], st
    assert st["paymentStatuses"][1] == r.body
    # the payment status did not change: no new PAYMENT_STATUS_RECEIVED
    assert len(psr_entries(st)) == 1, st
    # once only
    assert_bad_request(capture(api, key, link.ref), ALREADY_CAPTURED)
    assert_bad_request(capture(api, key, link.ref, "1.00"), ALREADY_CAPTURED)
    assert len(status_of(api, key, link.ref)["paymentStatuses"]) == 2


def test_capture_amount_rules(api, server, http, key):
    link, _ = pay_ok(api, server, http, key, CARD_MASTERCARD, "Authorization")
    assert_field_error(capture(api, key, link.ref, "abc"), "amount: must be a number")
    assert_field_error(capture(api, key, link.ref, "-1"), "amount: must be greater than 0")
    assert_field_error(capture(api, key, link.ref, "0"), "amount: must be greater than 0")
    assert_field_error(capture(api, key, link.ref, "0.00"), "amount: must be greater than 0")
    assert_field_error(capture(api, key, link.ref, "10.001"), "amount: has more decimal places than ZAR allows")
    assert_field_error(capture(api, key, link.ref, "0." + "0" * 18 + "1"), "amount: has too many decimal places")
    assert_field_error(capture(api, key, link.ref, "1e400"), "amount: is out of range")
    assert_field_error(capture(api, key, link.ref, "1e15"), "amount: is out of range")
    assert_field_error(capture(api, key, link.ref, "115.01"), "amount: must not exceed the authorized amount")
    assert_field_error(capture(api, key, link.ref, "1000000"), "amount: must not exceed the authorized amount")
    # refused captures leave no trace
    st = status_of(api, key, link.ref)
    assert len(st["paymentStatuses"]) == 1, st
    r = capture(api, key, link.ref, "50.50")
    assert r.status_code == 200, r.text
    assert_op_result(r.body, "Capture", 50.5, "SUCCESS", card=CARD_MASTERCARD)
    assert_bad_request(capture(api, key, link.ref, "64.50"), ALREADY_CAPTURED)


def test_capture_whole_amount_given_exactly(api, server, http, key):
    link, _ = pay_ok(api, server, http, key, CARD_AMEX, "Authorization")
    r = capture(api, key, link.ref, "115.00")
    assert r.status_code == 200, r.text
    assert_op_result(r.body, "Capture", 115.0, "SUCCESS", card=CARD_AMEX)


def test_capture_refused(api, server, http, key, make_merchant):
    sale, _ = pay_ok(api, server, http, key, CARD_VISA, "Sale")
    assert_bad_request(capture(api, key, sale.ref), ONLY_AUTH)
    declined = new_link(api, key, "Authorization")
    checkout(server, http, declined, card_form(CARD_DECLINE))
    assert_bad_request(capture(api, key, declined.ref), NO_SUCCESSFUL.format("capture", "FAILED"))
    unpaid = new_link(api, key, "Authorization")
    assert_bad_request(capture(api, key, unpaid.ref), NO_SUCCESSFUL.format("capture", "PENDING"))
    assert_not_found(capture(api, key, "NoSuchLinkRef1234567890"))
    auth, _ = pay_ok(api, server, http, key, CARD_VISA, "Authorization")
    other = make_merchant()["apiKey"]
    assert_not_found(capture(api, other, auth.ref))
    assert_not_found(reverse(api, other, auth.ref))
    assert api.post(PAYMENT_OPS + auth.ref + "/capture").status_code == 401
    # none of that touched the authorization
    st = status_of(api, key, auth.ref)
    assert len(st["paymentStatuses"]) == 1 and st["paymentStatus"] == "SUCCESS", st
    assert capture(api, key, auth.ref).status_code == 200


# ---- reverse ----------------------------------------------------------------------------


def test_reverse_uncaptured_authorization(api, server, http, key):
    link, st = pay_ok(api, server, http, key, CARD_VISA_2, "Authorization")
    auth_ref = st["paymentStatuses"][0]["paymentGatewayAuthReconciliationReferenceNumber"]
    r = reverse(api, key, link.ref)
    assert r.status_code == 200, r.text
    assert_op_result(r.body, "Authorization", 115.0, "REVERSED", card=CARD_VISA_2, auth_ref=auth_ref)
    st = status_of(api, key, link.ref)
    assert st["paymentStatus"] == "REVERSED" and st["paymentStatusId"] == "6", st
    assert len(st["paymentStatuses"]) == 2 and st["paymentStatuses"][1] == r.body, st
    assert_bad_request(reverse(api, key, link.ref), ALREADY_REVERSED)
    assert_bad_request(capture(api, key, link.ref), ALREADY_REVERSED)
    assert len(status_of(api, key, link.ref)["paymentStatuses"]) == 2
    # the order may have a new link now
    r = api.post(LINKS, key=key, json=link_body(orderNumber=link.order))
    assert r.status_code == 201, r.text


def test_reverse_captured_authorization_voids_the_capture(api, server, http, key):
    link, _ = pay_ok(api, server, http, key, CARD_MASTERCARD, "Authorization")
    assert capture(api, key, link.ref, "40.00").status_code == 200
    r = reverse(api, key, link.ref)
    assert r.status_code == 200, r.text
    assert_op_result(r.body, "Void", 40.0, "VOIDED", card=CARD_MASTERCARD)
    st = status_of(api, key, link.ref)
    assert st["paymentStatus"] == "VOIDED" and st["paymentStatusId"] == "7", st
    assert [e["transactionType"] for e in st["paymentStatuses"]] == ["Authorization", "Capture", "Void"], st
    assert_bad_request(reverse(api, key, link.ref), ALREADY_VOIDED)
    assert_bad_request(capture(api, key, link.ref), ALREADY_VOIDED)


def test_reverse_sale_voids_it(api, server, http, key):
    link, _ = pay_ok(api, server, http, key, CARD_AMEX, "Sale")
    assert_order_paid(api.post(LINKS, key=key, json=link_body(orderNumber=link.order)), link.order, link.ref)
    r = reverse(api, key, link.ref)
    assert r.status_code == 200, r.text
    assert_op_result(r.body, "Void", 115.0, "VOIDED", card=CARD_AMEX)
    st = status_of(api, key, link.ref)
    assert st["paymentStatus"] == "VOIDED" and st["paymentStatusId"] == "7", st
    assert_bad_request(reverse(api, key, link.ref), ALREADY_VOIDED)
    assert len(status_of(api, key, link.ref)["paymentStatuses"]) == 2
    r = api.post(LINKS, key=key, json=link_body(orderNumber=link.order))
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("txn,pay_status", [("Authorization", "REVERSED"), ("Sale", "VOIDED")])
def test_pay_after_the_payment_was_returned(api, server, http, key, txn, pay_status):
    """Pay on a link whose payment the merchant reversed or voided says
    what the link's page says: the payment was cancelled (not paid)."""
    link, _ = pay_ok(api, server, http, key, CARD_VISA, txn)
    assert reverse(api, key, link.ref).status_code == 200
    assert status_of(api, key, link.ref)["paymentStatus"] == pay_status
    assert_html(link_page(api, link.token), 410, "This payment was cancelled")
    r = html_request(http, "POST", f"{server.base_url}/p/{link.token}/pay")
    assert_html(r, 410, "This payment was cancelled")
    assert link.order in r.doc.text()
    assert len(status_of(api, key, link.ref)["paymentStatuses"]) == 2


def test_reverse_refused(api, server, http, key):
    declined = new_link(api, key)
    checkout(server, http, declined, card_form(CARD_INSUFFICIENT))
    assert_bad_request(reverse(api, key, declined.ref), NO_SUCCESSFUL.format("reverse", "FAILED"))
    unpaid = new_link(api, key)
    assert_bad_request(reverse(api, key, unpaid.ref), NO_SUCCESSFUL.format("reverse", "PENDING"))
    assert_not_found(reverse(api, key, "NoSuchLinkRef1234567890"))
    assert status_of(api, key, declined.ref)["paymentStatus"] == "FAILED"


# ---- concurrency ------------------------------------------------------------------------


def test_concurrent_captures_one_wins(api, server, http, key):
    links = [pay_ok(api, server, http, key, CARD_VISA, "Authorization")[0] for _ in range(10)]
    for link in links:
        a, b = race(server, [lambda c, l=link: capture(c, key, l.ref)] * 2)
        codes = sorted([a.status_code, b.status_code])
        assert codes == [200, 400], (link.ref, a.text, b.text)
        loser = a if a.status_code == 400 else b
        assert loser.body["message"] in (ALREADY_CAPTURED, IN_PROGRESS), loser.body
        st = status_of(api, key, link.ref)
        caps = [e for e in st["paymentStatuses"] if e["transactionType"] == "Capture"]
        assert len(caps) == 1 and caps[0]["paymentGatewayDecision"] == "ACCEPT", st


def test_capture_racing_reverse(api, server, http, key):
    """Of a capture and a reverse sent together exactly one goes through —
    unless the capture finished first, when the reverse voids it (the two
    then ran one after the other, which is allowed)."""
    outcomes = []
    for _ in range(6):
        link, _ = pay_ok(api, server, http, key, CARD_VISA, "Authorization")
        cap, rev = race(server, [lambda c, l=link: capture(c, key, l.ref),
                                 lambda c, l=link: reverse(c, key, l.ref)])
        st = status_of(api, key, link.ref)
        kinds = [(e["transactionType"], e["paymentGatewayDecision"]) for e in st["paymentStatuses"]]
        got = (cap.status_code, rev.status_code)
        outcomes.append(got)
        if got == (200, 400):
            assert rev.body["message"] in (IN_PROGRESS, ALREADY_CAPTURED), rev.body
            assert st["paymentStatus"] == "SUCCESS", st
            assert kinds == [("Authorization", "ACCEPT"), ("Capture", "ACCEPT")], kinds
        elif got == (400, 200):
            assert cap.body["message"] in (IN_PROGRESS, ALREADY_REVERSED), cap.body
            assert rev.body["transactionType"] == "Authorization" and rev.body["paymentStatus"] == "REVERSED"
            assert st["paymentStatus"] == "REVERSED", st
            assert kinds == [("Authorization", "ACCEPT"), ("Authorization", "ACCEPT")], kinds
        else:
            assert got == (200, 200), (got, cap.text, rev.text)
            assert rev.body["transactionType"] == "Void", rev.body
            assert st["paymentStatus"] == "VOIDED", st
            assert kinds == [("Authorization", "ACCEPT"), ("Capture", "ACCEPT"), ("Void", "ACCEPT")], kinds


# ---- REVIEW: automatic reversal -----------------------------------------------------------


def test_review_with_auto_reversal_is_reversed(api, server, http, key):
    link = new_link(api, key, "Sale", paymentReviewAutoReversal=True)
    p = checkout(server, http, link, card_form(CARD_REVIEW))
    assert_html(p.ret, 200, "Payment under review")
    st = poll(lambda: status_of(api, key, link.ref), lambda s: s["paymentStatus"] == "REVERSED",
              timeout=10, interval=0.1)
    assert st["paymentStatus"] == "REVERSED" and st["paymentStatusId"] == "6", st
    assert st["paymentReviewAutoReversal"] is True
    got = [(e["paymentGatewayDecision"], e.get("paymentGatewayResponseCode"), e["paymentStatus"])
           for e in st["paymentStatuses"]]
    assert got == [("REVIEW", 480, "REVIEW"), ("ACCEPT", 100, "REVERSED")], got
    assert [e["responseCode"] for e in psr_entries(st)] == ["480", "100"], st
    assert "paymentStatusConversionTime" not in st
    # reversed once, even when asked again
    assert_bad_request(reverse(api, key, link.ref), ALREADY_REVERSED)
    time.sleep(0.5)
    assert len(status_of(api, key, link.ref)["paymentStatuses"]) == 2


# ---- the slow clock, checked (after everything above) -------------------------------------


def wait_until(when: datetime.datetime, limit: float = 45.0):
    """Sleep (bounded by `limit` seconds) until the wall clock passes `when`."""
    delay = (when - now_utc()).total_seconds()
    assert delay <= limit, f"would wait {delay:.0f}s"
    if delay > 0:
        time.sleep(delay)


def test_settled_payment_needs_a_refund(api, slow):
    key = slow["key"]
    wait_until(slow["latest"] + datetime.timedelta(seconds=SETTLE_S + 0.5))
    r = reverse(api, key, slow["sale"].ref)
    assert_bad_request(r, SETTLED)
    assert "refund" in r.body["message"]
    assert_bad_request(reverse(api, key, slow["captured"].ref), SETTLED)
    for link in (slow["sale"], slow["captured"]):
        assert status_of(api, key, link.ref)["paymentStatus"] == "SUCCESS"
    # an authorization that was never captured moved no money: still reversible
    r = reverse(api, key, slow["open_auth"].ref)
    assert r.status_code == 200, r.text
    assert r.body["paymentStatus"] == "REVERSED", r.body


def test_review_decided_after_the_review_delay(api, slow):
    key, ref = slow["key"], slow["review"].ref
    wait_until(slow["review_at"] + datetime.timedelta(seconds=SETTLE_S - 1))
    st = poll(lambda: status_of(api, key, ref), lambda s: s["paymentStatus"] != "REVIEW",
              timeout=12, interval=0.2)
    assert st["paymentStatus"] == "SUCCESS" and st["paymentStatusId"] == "1", st
    conv = parse_rfc3339(st["paymentStatusConversionTime"])
    assert conv - slow["review_at"] >= datetime.timedelta(seconds=SETTLE_S - 0.5), (conv, slow["review_at"])
    assert parse_rfc3339(st["paymentStatusTimestamp"]) == conv
    assert len(st["paymentStatuses"]) == 1, st
    e = st["paymentStatuses"][0]
    assert (e["paymentGatewayDecision"], e["paymentGatewayResponseCode"], e["paymentStatus"]) == (
        "ACCEPT", 100, "SUCCESS"), e
    assert "paymentGatewayErrorDecision" not in e, e
    assert [x["responseCode"] for x in psr_entries(st)] == ["480", "100"], st


# ---- last: no card data kept ------------------------------------------------------------


def test_zz_no_card_data_in_database_or_logs(api, server, http, key):
    """Runs last in the module: the session database (every file of it, and
    every value through the database) and the server's stdout and stderr hold no
    full card number and no CVC submitted in this session."""
    # one payment of its own, so that the test means something when run alone
    link = new_link(api, key)
    checkout(server, http, link, card_form(CARD_VISA, spaced=True))
    assert CARD_DATA.numbers and CARD_DATA.cvcs
    # the search finds what it looks for (spaced, +-encoded, as a form value)
    cvc = CARD_DATA.cvc(3)
    planted = f"a=1&number=4111+1111+1111+1111&cvc={cvc}&x=2 (4111 1111 1111 1111)"
    assert len(find_card_data_in_text(planted, CARD_DATA.numbers, CARD_DATA.cvcs, "self-test")) == 2
    assert find_card_data_in_text(f"op_{cvc}abc 0.{cvc} ORD-{cvc}9", (), {cvc}, "self-test") == []
    findings = find_card_data_in_db(server.db_url, CARD_DATA.numbers, CARD_DATA.cvcs)
    for log in (server.stdout_path, server.stderr_path):
        assert log.exists(), log
        findings += find_card_data_in_log(log, CARD_DATA.numbers, CARD_DATA.cvcs)
    # anything else the server wrote in its directory
    db_path = sqlite_path(server.db_url)
    for f in sorted(server.tmpdir.iterdir()):
        if f.is_file() and not (db_path and f.name.startswith(db_path.name)) \
                and f not in (server.stdout_path, server.stderr_path):
            findings += find_card_data_in_text(f.read_bytes().decode("latin-1"), CARD_DATA.numbers, (), f.name)
    assert not findings, "card data kept:\n" + "\n".join(findings[:20])
