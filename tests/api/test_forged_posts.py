"""Forged form posts: the Pay button (POST /p/{token}/pay), the sandbox card
form and the 3-D Secure buttons refuse, with a 403 page and nothing done, a
post that a browser says comes from another site (`Origin`, or when that is
absent or "null", `Sec-Fetch-Site`). The return address a gateway sends the
browser back to (GET /p/{token}/return) stays open to cross-site requests."""

from __future__ import annotations

import pytest

from cp_helpers import CARD_3DS, CARD_VISA, absolute, card_form, html_request, start_payment
from payment_flow import assert_html, checkout, new_link, status_of

REFUSED = "This request was refused"

FORGED = [
    {"Origin": "https://evil.example"},
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"},
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
]
IDS = ["other-origin", "other-origin-claims-same", "null-cross-site", "cross-site", "same-site"]


def own(server) -> list[dict]:
    """What chatpay's own pages send: the origin, or "null" with same-origin
    (a page with Referrer-Policy: no-referrer), or nothing (not a browser)."""
    return [{"Origin": server.base_url, "Sec-Fetch-Site": "same-origin"},
            {"Origin": "null", "Sec-Fetch-Site": "same-origin"}, {}]


@pytest.fixture
def key(make_merchant):
    return make_merchant()["apiKey"]


@pytest.mark.parametrize("headers", FORGED, ids=IDS)
def test_forged_pay_is_refused(api, server, http, key, headers):
    link = new_link(api, key)
    r = html_request(http, "POST", f"{server.base_url}/p/{link.token}/pay", headers=headers)
    assert_html(r, 403, REFUSED)
    assert "Location" not in r.headers
    st = status_of(api, key, link.ref)
    assert st["paymentStatuses"] == [] and len(st["transactionStatuses"]) == 1, st


def test_own_pay_posts_pass(api, server, http, key):
    for headers in own(server):
        link = new_link(api, key)
        r = html_request(http, "POST", f"{server.base_url}/p/{link.token}/pay", headers=headers)
        assert r.status_code == 303, (headers, r.text[:300])


@pytest.mark.parametrize("headers", FORGED, ids=IDS)
def test_forged_card_form_is_refused(api, server, http, key, headers):
    link = new_link(api, key)
    op, url = start_payment(http, server.base_url, link.token)
    r = html_request(http, "POST", url, data=card_form(CARD_VISA), headers=headers)
    assert_html(r, 403, REFUSED)
    # the checkout is still open and nothing was decided
    assert_html(html_request(http, "GET", url), 200)
    assert status_of(api, key, link.ref)["paymentStatus"] == "PENDING"


@pytest.mark.parametrize("headers", FORGED, ids=IDS)
def test_forged_3ds_answer_is_refused(api, server, http, key, headers):
    link = new_link(api, key)
    op, url = start_payment(http, server.base_url, link.token)
    sub = html_request(http, "POST", url, data=card_form(CARD_3DS))
    assert sub.status_code == 303
    three_ds = absolute(server.base_url, sub.headers["Location"])
    r = html_request(http, "POST", three_ds, data={"action": "approve"}, headers=headers)
    assert_html(r, 403, REFUSED)
    assert_html(html_request(http, "GET", three_ds), 200)
    r = html_request(http, "POST", three_ds, data={"action": "approve"}, headers=own(server)[1])
    assert r.status_code == 303


def test_return_stays_open_cross_site(api, server, http, key):
    """A real gateway sends the browser back from its own site."""
    link = new_link(api, key)
    p = checkout(server, http, link, card_form(CARD_VISA), follow_return=False)
    ret = html_request(http, "GET", f"{server.base_url}/p/{link.token}/return?ref={p.op_ref}",
                       headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://gw.example"})
    assert_html(ret, 200, "Payment successful")


def test_refusal_is_in_the_page_language(api, server, http, key):
    link = new_link(api, key)
    r = html_request(http, "POST", f"{server.base_url}/p/{link.token}/pay",
                     headers={"Origin": "https://evil.example", "Accept-Language": "fr"})
    assert_html(r, 403, "Cette demande a été refusée")
