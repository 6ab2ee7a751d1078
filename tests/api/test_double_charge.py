"""One order is never paid twice.

A link whose payment is running at the gateway does not expire under it; an
order whose link has a payment running, or a successful payment that was not
reversed or voided, gets no second link; and a payment the gateway still
accepts for a link that can no longer take it (whatever the path: a late
form submit, a lost answer found by a query, a checkout chatpay had closed)
is recorded, returned at once through the gateway (void or reversal), and
explained in the history and the payment statuses.

Some states cannot be reached by a customer any more (that is the point of
the fixes): a link expired under a running payment, as an earlier version
did, or a checkout closed while the gateway still takes the payment. The
tests put the database in those states directly (`db_exec`), the way an
upgrade from that version or a gateway that cannot close checkouts would.

The 30-second TTLs (the smallest `merchant update` takes) run in a module
fixture started by the first test; the test that needs them to have passed
comes last, so the wait overlaps the other tests."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

import cp_helpers
from cp_helpers import (
    CARD_DECLINE,
    CARD_MASTERCARD,
    CARD_TIMEOUT,
    CARD_VISA,
    LINKS,
    absolute,
    card_form,
    html_request,
    link_body,
    poll,
    start_payment,
    submit_card,
)
from payment_flow import (
    PAYMENT_STATUS_RECEIVED,
    assert_field_error,
    assert_html,
    assert_order_paid,
    checkout,
    new_link,
    pay_ok,
    reverse,
    status_of,
)

EXPIRED = 10  # PAYMENT_URL_EXPIRED
TTL_S = 30


def db_exec(server, sql: str, params=()) -> int:
    """Change the running server's database (it keeps running); SQL valid
    on SQLite and PostgreSQL."""
    return cp_helpers.db_exec(server.db_url, sql, params)


def db_rows(server, sql: str, params=()) -> list[tuple]:
    return cp_helpers.db_query(server.db_url, sql, params)


def expire_link_as_before(server, ref: str) -> None:
    """What the sweeper of the version before did to a link whose payment
    was running: PAYMENT_URL_EXPIRED, no longer live."""
    assert db_exec(server, "UPDATE links SET live = 0, status = ? WHERE ref = ?", (EXPIRED, ref)) == 1
    assert db_exec(server, "INSERT INTO link_statuses (link_id, merchant_id, status, created_at)"
                           " SELECT id, merchant_id, ?, ? FROM links WHERE ref = ?",
                   (EXPIRED, int(time.time() * 1_000_000), ref)) == 1


def order_taken_in_progress(r, order, ref):
    assert_field_error(r, f"orderNumber: order {order} has a payment in progress (payment link "
                          f"{ref}); wait for its outcome")


def create(api, key, order, **fields):
    return api.post(LINKS, key=key, json=link_body(orderNumber=order, returnPaymentLink=True,
                                                   **fields))


def history(st) -> list[tuple[int, str | None]]:
    return [(e["transactionStatusId"], e.get("responseCodeDescription"))
            for e in st["transactionStatuses"]]


def wait_status(api, key, ref, done, timeout=15.0) -> dict:
    st = poll(lambda: status_of(api, key, ref), done, timeout=timeout, interval=0.2)
    assert done(st), st
    return st


@pytest.fixture
def key(make_merchant):
    return make_merchant(name=f"Once Shop {uuid.uuid4().hex[:6]}")["apiKey"]


# ---- the reported sequence, with 30 s TTLs (started first, checked last) -----------------


@pytest.fixture(scope="module")
def ttl30(server, api, make_merchant, cli):
    """A merchant whose links, clicks and pages live 30 s, with two links
    opened and sent to the gateway's card form at once: one will be paid
    after the page has closed, one declined."""
    m = make_merchant(name=f"Short Shop {uuid.uuid4().hex[:6]}")
    res = cli("merchant", "update", m["merchantId"], "--link-ttl", f"{TTL_S}s", "--click-ttl",
              f"{TTL_S}s", "--page-ttl", f"{TTL_S}s")
    assert res.returncode == 0, res.stderr
    key = m["apiKey"]
    http = requests.Session()
    out = {"key": key, "http": http, "started": time.monotonic()}
    for name in ("paid", "declined"):
        link = new_link(api, key)
        r = html_request(http, "GET", f"{server.base_url}/p/{link.token}")
        assert_html(r, 200)
        op_ref, url = start_payment(http, server.base_url, link.token)
        out[name] = (link, op_ref, url)
    yield out
    http.close()


def test_ttl_clock_started(api, ttl30):
    """First test: the payments are running; a second link for either order
    is refused, naming the link with the running payment."""
    key = ttl30["key"]
    for name in ("paid", "declined"):
        link, _, _ = ttl30[name]
        order_taken_in_progress(create(api, key, link.order), link.order, link.ref)


# ---- an order with a running or successful payment gets no second link -------------------


def test_paid_order_gets_no_second_link(api, server, http, key):
    link, _ = pay_ok(api, server, http, key)
    assert_order_paid(create(api, key, link.order), link.order, link.ref)


def test_unknown_payment_blocks_a_second_link(api, server, http, key):
    """A payment whose answer was lost (UNKNOWN) is in progress."""
    link = new_link(api, key)
    p = checkout(server, http, link, card_form(CARD_TIMEOUT))
    assert_html(p.ret, 202, "Payment being confirmed")
    order_taken_in_progress(create(api, key, link.order), link.order, link.ref)
    wait_status(api, key, link.ref, lambda s: s["paymentStatus"] == "SUCCESS")
    assert_order_paid(create(api, key, link.order), link.order, link.ref)


def test_reversed_order_gets_a_new_link(api, server, http, key):
    link, _ = pay_ok(api, server, http, key, txn="Authorization")
    assert reverse(api, key, link.ref).status_code == 200
    r = create(api, key, link.order)
    assert r.status_code == 201, r.text


# ---- a payment the link cannot take is returned at once -----------------------------------


def assert_returned(api, key, link, reason, how, status):
    """The link's accepted payment was recorded with `reason`, returned by a
    void or reversal (`how`) and the link shows `status`."""
    st = wait_status(api, key, link.ref, lambda s: len(s["paymentStatuses"]) >= 2
                     and s["paymentStatuses"][-1]["paymentGatewayDecision"] != "UNKNOWN")
    first, back = st["paymentStatuses"][0], st["paymentStatuses"][-1]
    assert first["paymentGatewayDecision"] == "ACCEPT", first
    word = "voids" if how == "Void" else "reverses"
    assert first["statusReason"] == f"Not taken: {reason}; chatpay {word} it automatically", first
    assert back["transactionType"] == ("Void" if how == "Void" else "Authorization"), back
    assert back["paymentGatewayDecision"] == "ACCEPT", back
    assert back["paymentStatus"] == ("VOIDED" if how == "Void" else "REVERSED"), back
    assert back["statusReason"].startswith("Returns op_"), back
    assert st["paymentStatus"] == status, st
    descs = [d for i, d in history(st) if i == PAYMENT_STATUS_RECEIVED]
    assert f"ACCEPT, not taken: {reason}; chatpay {word} it" in descs, st
    done = "voided" if how == "Void" else "reversed"
    assert f"ACCEPT: the payment that was not taken has been {done}" in descs, st
    return st


def test_late_form_submit_on_an_expired_link_is_voided(api, server, http, key):
    """The reported sequence, on a link an earlier version expired under its
    running payment: the order is paid with a second link, then the first
    link's card form is submitted. The gateway accepts; chatpay voids it and
    the order keeps exactly one successful payment."""
    l1 = new_link(api, key)
    op1, url1 = start_payment(http, server.base_url, l1.token)
    expire_link_as_before(server, l1.ref)
    l2 = new_link(api, key, orderNumber=l1.order)
    p2 = checkout(server, http, l2, card_form(CARD_VISA))
    assert_html(p2.ret, 200, "Payment successful")
    # the customer comes back to the first tab and pays there too
    sub = submit_card(http, url1, card_form(CARD_MASTERCARD))
    assert sub.status_code == 303, sub.text[:300]
    ret = html_request(http, "GET", absolute(server.base_url, sub.headers["Location"]))
    assert_html(ret, 200, "Payment not taken")
    assert "being returned to your card" in ret.doc.text()
    st1 = assert_returned(api, key, l1, "the link had expired", "Void", "VOIDED")
    assert [i for i, _ in history(st1)].count(EXPIRED) == 1, st1
    st2 = status_of(api, key, l2.ref)
    assert st2["paymentStatus"] == "SUCCESS", st2
    # the order: one successful payment, on l2; no third link
    assert_order_paid(create(api, key, l1.order), l1.order, l2.ref)


def test_authorization_on_an_expired_link_is_reversed(api, server, http, key):
    """An authorization accepted for a link that can no longer take it is
    reversed (not voided)."""
    l1 = new_link(api, key, "Authorization")
    _, url1 = start_payment(http, server.base_url, l1.token)
    expire_link_as_before(server, l1.ref)
    sub = submit_card(http, url1, card_form(CARD_VISA))
    assert sub.status_code == 303
    ret = html_request(http, "GET", absolute(server.base_url, sub.headers["Location"]))
    assert_html(ret, 200, "Payment not taken")
    assert_returned(api, key, l1, "the link had expired", "Reversal", "REVERSED")
    # nothing left to capture or reverse
    r = reverse(api, key, l1.ref)
    assert r.status_code == 400, r.text


def test_lost_answer_found_by_query_is_returned(api, server, http, key):
    """The gateway's answer is lost (timeout card); before the query finds
    it, the link stops being payable. The query's ACCEPT is returned."""
    link = new_link(api, key)
    p = checkout(server, http, link, card_form(CARD_TIMEOUT))
    assert_html(p.ret, 202, "Payment being confirmed")
    expire_link_as_before(server, link.ref)  # the query runs 2 s after the return
    assert_returned(api, key, link, "the link had expired", "Void", "VOIDED")


def test_payment_after_chatpay_closed_the_checkout_is_returned(api, server, http, key):
    """A gateway that cannot close checkouts takes the payment after chatpay
    had closed the operation as abandoned and the customer paid again on the
    same link: the late payment is returned; the link keeps its own, which
    the merchant can still void."""
    link = new_link(api, key)
    op1, url1 = start_payment(http, server.base_url, link.token)
    # closed as abandoned by chatpay, while the gateway's form stays open
    assert db_exec(server, "UPDATE payment_ops SET state = 1, decision = 4, flags = 1"
                           " WHERE ref = ?", (op1,)) == 1
    p2 = checkout(server, http, link, card_form(CARD_VISA))
    assert p2.op_ref != op1
    assert_html(p2.ret, 200, "Payment successful")
    sub = submit_card(http, url1, card_form(CARD_MASTERCARD))
    assert sub.status_code == 303
    ret = html_request(http, "GET", absolute(server.base_url, sub.headers["Location"]))
    assert_html(ret, 200, "Payment not taken")
    st = wait_status(api, key, link.ref, lambda s: len(s["paymentStatuses"]) == 3
                     and s["paymentStatuses"][2]["paymentGatewayDecision"] == "ACCEPT")
    late, own, back = st["paymentStatuses"]
    assert late["statusReason"] == ("Not taken: the checkout had been closed; chatpay voids it "
                                    "automatically"), late
    assert late["maskedCardNumber"].startswith("555555"), late
    assert own["maskedCardNumber"].startswith("411111") and "statusReason" not in own, own
    assert back["transactionType"] == "Void" and back["paymentStatus"] == "VOIDED", back
    assert st["paymentStatus"] == "SUCCESS", st
    # the merchant voids the link's own payment: a second void on the link
    r = reverse(api, key, link.ref)
    assert r.status_code == 200, r.text
    assert r.body["paymentStatus"] == "VOIDED" and r.body["maskedCardNumber"].startswith("411111")
    assert status_of(api, key, link.ref)["paymentStatus"] == "VOIDED"


# ---- checkouts chatpay closes ------------------------------------------------------------


def test_abandoned_checkout_is_closed_at_the_gateway(api, server, http, key):
    """A checkout open longer than the page can live plus the grace is closed
    at the gateway first (its form then refuses to pay), then here; the link
    can then expire and the order is free."""
    link = new_link(api, key)
    op, url = start_payment(http, server.base_url, link.token)
    # as if begun 25 minutes ago (the page lives 15 minutes, the grace is 5)
    long_ago = 25 * 60 * 1_000_000
    assert db_exec(server, "UPDATE payment_ops SET created_at = created_at - ? WHERE ref = ?",
                   (long_ago, op)) == 1
    assert db_exec(server, "UPDATE links SET expires_at = expires_at - ? WHERE ref = ?",
                   (long_ago, link.ref)) == 1
    st = wait_status(api, key, link.ref,
                     lambda s: s["paymentStatuses"][0]["paymentGatewayDecision"] == "ERROR"
                     and EXPIRED in [i for i, _ in history(s)], timeout=20)
    e = st["paymentStatuses"][0]
    assert e["statusReason"] == ("Closed by chatpay: the customer did not complete the checkout; "
                                 "nothing was charged"), e
    assert st["paymentStatus"] == "PENDING", st
    form = html_request(http, "GET", url)
    assert_html(form, 410, "This checkout has closed")
    sub = submit_card(http, url, card_form(CARD_VISA))
    assert_html(sub, 410, "This checkout has closed")
    assert db_rows(server, "SELECT state FROM sandbox_gateway WHERE ref = ?", (op,)) == [(3,)]
    assert status_of(api, key, link.ref)["paymentStatuses"] == st["paymentStatuses"]
    r = create(api, key, link.order)
    assert r.status_code == 201, r.text


def test_expired_sandbox_checkout_takes_no_payment(api, server, http, key):
    link = new_link(api, key)
    op, url = start_payment(http, server.base_url, link.token)
    assert db_exec(server, "UPDATE sandbox_gateway SET expires_at = 1 WHERE ref = ?", (op,)) == 1
    sub = submit_card(http, url, card_form(CARD_VISA))
    assert_html(sub, 410, "This checkout has closed")
    assert "No money was taken" in sub.doc.text()
    # nothing decided at the gateway: chatpay's later query finds no payment
    assert db_rows(server, "SELECT decision, card_type FROM sandbox_gateway WHERE ref = ?",
                   (op,)) == [(0, None)]


def test_decided_server_operation_has_a_page(api, server, http, key):
    """The checkout URL of a capture (made server to server, with nowhere to
    send the browser back to) answers with a page, not a 303 without
    Location."""
    link, _ = pay_ok(api, server, http, key, txn="Authorization")
    r = api.post(f"/api/v2/payment/{link.ref}/capture", key=key)
    assert r.status_code == 200, r.text
    [(ref,)] = db_rows(server, "SELECT p.ref FROM payment_ops p JOIN links l ON l.id = p.link_id"
                               " WHERE l.ref = ? AND p.op = 3", (link.ref,))
    page = html_request(http, "GET", f"{server.base_url}/sandbox-gateway/checkout/{ref}")
    assert_html(page, 200, "Operation complete")
    assert "Location" not in page.headers


# ---- the first request extends the link, whichever it is ---------------------------------


def link_times(server, ref):
    [(expires, clicked, page)] = db_rows(
        server, "SELECT expires_at, clicked_at, page_expires_at FROM links WHERE ref = ?", (ref,))
    return expires, clicked, page


@pytest.mark.parametrize("first", ["page", "pay"])
def test_first_request_extends_the_link(api, server, http, make_merchant, cli, first):
    m = make_merchant()
    res = cli("merchant", "update", m["merchantId"], "--link-ttl", "1m", "--click-ttl", "20m",
              "--page-ttl", "10m")
    assert res.returncode == 0, res.stderr
    link = new_link(api, m["apiKey"])
    if first == "page":
        assert_html(html_request(http, "GET", f"{server.base_url}/p/{link.token}"), 200)
    else:
        start_payment(http, server.base_url, link.token)
    expires, clicked, page = link_times(server, link.ref)
    assert clicked > 0
    assert expires == clicked + 20 * 60 * 1_000_000
    assert page == clicked + 10 * 60 * 1_000_000


# ---- the 30 s TTLs have passed (last) -----------------------------------------------------


def test_zz_payments_running_past_the_page_ttl(api, server, ttl30):
    """The page TTL has passed while both customers were on the card form:
    neither link expired. The first pays: SUCCESS, and the order gets no
    second link. The second is declined: its link expires at once and its
    order is free."""
    key, http = ttl30["key"], ttl30["http"]
    left = TTL_S + 2 - (time.monotonic() - ttl30["started"])
    if left > 0:
        time.sleep(left)
    paid, op_paid, url_paid = ttl30["paid"]
    declined, op_declined, url_declined = ttl30["declined"]
    for link in (paid, declined):
        st = status_of(api, key, link.ref)
        assert EXPIRED not in [i for i, _ in history(st)], st
        assert st["paymentStatus"] == "PENDING", st
        order_taken_in_progress(create(api, key, link.order), link.order, link.ref)
        # the page has closed: no new payment can start from it
        r = html_request(http, "POST", f"{server.base_url}/p/{link.token}/pay")
        assert r.status_code == 410, r.text[:300]

    sub = submit_card(http, url_paid, card_form(CARD_VISA))
    assert sub.status_code == 303, sub.text[:300]
    ret = html_request(http, "GET", absolute(server.base_url, sub.headers["Location"]))
    assert_html(ret, 200, "Payment successful")
    st = status_of(api, key, paid.ref)
    assert st["paymentStatus"] == "SUCCESS", st
    assert_order_paid(create(api, key, paid.order), paid.order, paid.ref)

    sub = submit_card(http, url_declined, card_form(CARD_DECLINE))
    assert sub.status_code == 303
    ret = html_request(http, "GET", absolute(server.base_url, sub.headers["Location"]))
    assert_html(ret, 200, "Payment declined")
    st = wait_status(api, key, declined.ref, lambda s: EXPIRED in [i for i, _ in history(s)],
                     timeout=5)
    assert st["paymentStatus"] == "FAILED", st
    r = create(api, key, declined.order)
    assert r.status_code == 201, r.text
    # the paid link stays live and paid
    time.sleep(0.5)
    st = status_of(api, key, paid.ref)
    assert EXPIRED not in [i for i, _ in history(st)] and st["paymentStatus"] == "SUCCESS", st
