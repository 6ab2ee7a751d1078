"""What happens to payment links in the background: the sandbox channel sends
them (and cancellation notices), delivery receipts come back, the outbox
GET /api/v2/sandbox/messages lists what was sent, and the sweeper expires
links whose time is up.

The sandbox acts on the last four digits of `to`: 0000 refused, 0001 sent but
not delivered, anything else sent and delivered (receipt after ~0.5 s).

test_expiry_sweeper_waits_30s is the one slow test: its links are created by
the first test of this module and checked by the last one, so that the other
tests run while the links' 30 seconds pass."""

from __future__ import annotations

import datetime
import time
import uuid
from urllib.parse import urlencode

import pytest

from cp_helpers import (
    LINK_STATUS,
    LINKS,
    SANDBOX_MESSAGES,
    fresh_msisdn,
    history_ids,
    link_body,
    poll,
)
from openapi_check import parse_rfc3339

CANCEL = "/api/v2/cancel/"
RECEIVED, SENT, DELIVERED, SENT_FAILED, EXPIRED, DELIVERY_FAILED = 1, 2, 3, 9, 10, 11
CANCELLED, CLICKED = 18, 19
NAMES = {
    1: "PAYMENT_LINK_REQUEST_RECEIVED", 2: "PAYMENT_LINK_SENT", 3: "PAYMENT_LINK_DELIVERED",
    9: "PAYMENT_LINK_SENT_FAILED", 10: "PAYMENT_URL_EXPIRED", 11: "PAYMENT_LINK_DELIVERY_FAILED",
    18: "PAYMENT_LINK_CANCELLED", 19: "PAYMENT_LINK_CLICKED",
}
SEND_TIMEOUT = 10.0  # at most, for a link to be sent and its receipt recorded (a busy machine)
LIMIT_ERROR = "limit: must be a whole number from 1 to 100"
TO_ERROR = "to: must be an international phone number (7 to 15 digits, optional leading +)"

# GSM 03.38: the basic table (one septet each) and the extension table (two)
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXT = set("\f^{}\\[~]|€")


def gsm7_septets(text: str) -> int:
    bad = [c for c in text if c not in GSM7_BASIC and c not in GSM7_EXT]
    assert not bad, f"not GSM-7: {bad!r} in {text!r}"
    return sum(2 if c in GSM7_EXT else 1 for c in text)


# ---- helpers ---------------------------------------------------------------------------


def create_ok(api, key, **fields):
    body = link_body(**fields)
    r = api.post(LINKS, key=key, json=body)
    assert r.status_code == 201, r.text
    return body, r.body


def status_ok(api, key, ref):
    r = api.get(LINK_STATUS + "?" + urlencode({"paymentLinkRef": ref}), key=key)
    assert r.status_code == 200, r.text
    return r.body


def wait_history(api, key, ref, last, timeout=SEND_TIMEOUT):
    """The link's status once its history contains `last` (or after timeout)."""
    return poll(lambda: status_ok(api, key, ref), lambda st: last in history_ids(st), timeout)


def messages(api, key, **query):
    r = api.get(SANDBOX_MESSAGES + ("?" + urlencode(query) if query else ""), key=key)
    assert r.status_code == 200, r.text
    assert isinstance(r.body, list), r.body
    return r.body


def wait_messages(api, key, number, count, timeout=SEND_TIMEOUT):
    return poll(lambda: messages(api, key, to=number, limit=100), lambda m: len(m) >= count, timeout)


def entry(st, status_id):
    found = [e for e in st["transactionStatuses"] if e["transactionStatusId"] == status_id]
    assert len(found) == 1, (status_id, st["transactionStatuses"])
    return found[0]


def assert_history(st, expected):
    ids = history_ids(st)
    assert ids == expected, st["transactionStatuses"]
    for e in st["transactionStatuses"]:
        assert e["transactionStatusName"] == NAMES[e["transactionStatusId"]], e
    times = [parse_rfc3339(e["created"]) for e in st["transactionStatuses"]]
    assert times == sorted(times), times


def token_of(link_url: str) -> str:
    return link_url.rsplit("/p/", 1)[1]


@pytest.fixture
def shop(make_merchant):
    return make_merchant(name=f"Harbour Deli {uuid.uuid4().hex[:6]}")


@pytest.fixture
def key(shop):
    return shop["apiKey"]


# ---- the slow expiry test: its links are made first ----------------------------------------

EXPIRY_TTL = 30  # seconds: the shortest --link-ttl


@pytest.fixture(scope="module")
def expiring(api, cli, make_merchant):
    """Links of a merchant with --link-ttl 30s: a sent one, an opened one, and
    an order number to reuse. Created once, when the module starts."""
    m = make_merchant(name=f"Quick Expiry {uuid.uuid4().hex[:6]}")
    res = cli("merchant", "update", m["merchantId"], "--link-ttl", f"{EXPIRY_TTL}s")
    assert res.returncode == 0, res.stderr
    key = m["apiKey"]
    sent_body, sent = create_ok(api, key, channel="sms", to=fresh_msisdn(), returnPaymentLink=True)
    opened_body, opened = create_ok(api, key, returnPaymentLink=True)
    r = api.get("/p/" + token_of(opened["paymentLink"]))
    assert r.status_code == 200, r.text
    return {
        "key": key,
        "sent": sent, "sent_body": sent_body,
        "opened": opened, "opened_body": opened_body,
    }


def test_expiring_links_start_live(api, expiring):
    key = expiring["key"]
    st = wait_history(api, key, expiring["sent"]["paymentLinkRef"], DELIVERED)
    assert_history(st, [RECEIVED, SENT, DELIVERED])
    assert history_ids(status_ok(api, key, expiring["opened"]["paymentLinkRef"])) == [RECEIVED, CLICKED]
    # a live link holds its order number
    r = api.post(LINKS, key=key, json=link_body(orderNumber=expiring["sent_body"]["orderNumber"]))
    assert r.status_code == 400, r.text


# ---- sending ------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_link_sent_and_delivered(api, shop, key, channel):
    number = fresh_msisdn()
    body, ans = create_ok(api, key, channel=channel, to="+" + number, returnPaymentLink=True)
    st = wait_history(api, key, ans["paymentLinkRef"], DELIVERED)
    assert_history(st, [RECEIVED, SENT, DELIVERED])
    sent, delivered = entry(st, SENT), entry(st, DELIVERED)
    assert (sent["httpResponseCode"], sent["responseCode"]) == (202, "0"), sent
    assert sent["responseCodeDescription"], sent
    assert (delivered["httpResponseCode"], delivered["responseCode"]) == (200, "004"), delivered
    assert delivered["responseCodeDescription"], delivered
    assert "httpResponseCode" not in entry(st, RECEIVED)

    msgs = messages(api, key, to=number)
    assert len(msgs) == 1, msgs
    msg = msgs[0]
    assert msg["channel"] == channel.upper()
    assert msg["to"] == number  # digits only
    assert msg["from"] == ""  # no sender configured
    assert msg["status"] == "DELIVERED"
    parse_rfc3339(msg["createdAt"])
    text = msg["text"]
    for part in (shop["name"], "ZAR 115.00", body["orderNumber"], ans["paymentLink"]):
        assert part in text, (part, text)
    if channel == "sms":
        assert gsm7_septets(text) <= 160, text


def test_send_refused_0000(api, key):
    number = fresh_msisdn("0000")
    body, ans = create_ok(api, key, channel="sms", to=number, returnPaymentLink=True)
    ref = ans["paymentLinkRef"]
    st = wait_history(api, key, ref, SENT_FAILED)
    assert_history(st, [RECEIVED, SENT_FAILED])
    failed = entry(st, SENT_FAILED)
    assert (failed["httpResponseCode"], failed["responseCode"]) == (400, "105"), failed
    assert failed["responseCodeDescription"], failed
    (msg,) = messages(api, key, to=number)
    assert msg["status"] == "FAILED"
    # the link is dead: the page says so, it cannot be cancelled, the order is free
    r = api.get("/p/" + token_of(ans["paymentLink"]))
    assert r.status_code == 410, r.text
    assert "can no longer be used" in r.text
    r = api.post(CANCEL + ref, key=key)
    assert r.status_code == 400, r.text
    assert r.body["message"] == "The payment link could not be sent and can no longer be used", r.text
    r = api.post(LINKS, key=key, json=link_body(orderNumber=body["orderNumber"]))
    assert r.status_code == 201, r.text
    # and nothing more happened to the failed one
    assert history_ids(status_ok(api, key, ref)) == [RECEIVED, SENT_FAILED]


def test_delivery_failed_0001(api, key):
    number = fresh_msisdn("0001")
    _, ans = create_ok(api, key, channel="whatsapp", to=number)
    st = wait_history(api, key, ans["paymentLinkRef"], DELIVERY_FAILED)
    assert_history(st, [RECEIVED, SENT, DELIVERY_FAILED])
    failed = entry(st, DELIVERY_FAILED)
    assert (failed["httpResponseCode"], failed["responseCode"]) == (200, "007"), failed
    (msg,) = messages(api, key, to=number)
    assert msg["status"] == "UNDELIVERED"


def test_channel_none_sends_nothing(api, key):
    silent_number, sms_number = fresh_msisdn(), fresh_msisdn()
    _, silent = create_ok(api, key, channel="none", to=silent_number)
    _, sent = create_ok(api, key, channel="sms", to=sms_number)
    # once a later link has gone all the way, the workers have had their chance
    assert DELIVERED in history_ids(wait_history(api, key, sent["paymentLinkRef"], DELIVERED))
    assert history_ids(status_ok(api, key, silent["paymentLinkRef"])) == [RECEIVED]
    assert messages(api, key, to=silent_number) == []
    assert len(messages(api, key, to=sms_number)) == 1


def test_sender_number(api, cli, shop, key):
    explicit, default = fresh_msisdn(), fresh_msisdn()
    create_ok(api, key, channel="sms", to=explicit, **{"from": "+27870001234"})
    res = cli("merchant", "update", shop["merchantId"], "--sms-from", "27870009999")
    assert res.returncode == 0, res.stderr
    create_ok(api, key, channel="sms", to=default)
    (a,) = wait_messages(api, key, explicit, 1)
    (b,) = wait_messages(api, key, default, 1)
    assert a["from"] == "27870001234"
    assert b["from"] == "27870009999"


# ---- message texts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, prefix",
    [
        (
            "The Extremely Long And Wonderful Name Of A Merchant Who Sells Absolutely Everything "
            "From Artisanal Coffee Beans To Bicycle Repair Kits And Hand Knitted Scarves Limited",
            "The Extremely Long",
        ),
        (
            "Ünïcödé Çafé “Quoted” — Dash ☕ Émporium [Brackets] {Braces} ~Tilde~ € Euro Shop",
            "Ünicödé Çafé \"Quoted\" - Dash",
        ),
    ],
    ids=["ascii", "non-gsm"],
)
def test_sms_fits_one_segment(api, make_merchant, name, prefix):
    m = make_merchant(name=name)
    key, number = m["apiKey"], fresh_msisdn()
    order = "ORDER-" + uuid.uuid4().hex[:26]  # 32 characters
    _, ans = create_ok(api, key, channel="sms", to=number, orderNumber=order, totalAmount=1234567.89,
                       drop=("subTotalAmount", "taxAmount"), returnPaymentLink=True)
    (msg,) = wait_messages(api, key, number, 1)
    text = msg["text"]
    assert gsm7_septets(text) <= 160, (len(text), text)
    assert order in text and "ZAR 1234567.89" in text and ans["paymentLink"] in text, text
    # the name was shortened (to GSM-7 and to fit), not dropped
    assert text.startswith(prefix), text
    assert "..." in text, text


def test_whatsapp_keeps_unicode_name(api, make_merchant):
    name = f"Café Ünïcode ☕ {uuid.uuid4().hex[:4]}"
    key, number = make_merchant(name=name)["apiKey"], fresh_msisdn()
    body, _ = create_ok(api, key, channel="whatsapp", to=number)
    (msg,) = wait_messages(api, key, number, 1)
    assert name in msg["text"] and body["orderNumber"] in msg["text"], msg


# ---- cancellation notices ---------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_cancel_tells_the_customer(api, shop, key, channel):
    number = fresh_msisdn()
    body, ans = create_ok(api, key, channel=channel, to=number)
    ref = ans["paymentLinkRef"]
    assert DELIVERED in history_ids(wait_history(api, key, ref, DELIVERED))
    r = api.post(CANCEL + ref, key=key)
    assert r.status_code == 200, r.text
    msgs = wait_messages(api, key, number, 2)
    assert len(msgs) == 2, msgs
    notice, request = msgs  # newest first
    assert notice["id"] > request["id"]
    assert notice["channel"] == channel.upper() == request["channel"]
    assert notice["to"] == number
    assert body["orderNumber"] in notice["text"]
    assert "cancelled" in notice["text"].lower()
    assert shop["name"] in notice["text"]
    assert "/p/" not in notice["text"]
    if channel == "sms":
        assert gsm7_septets(notice["text"]) <= 160
    st = status_ok(api, key, ref)
    assert history_ids(st) == [RECEIVED, SENT, DELIVERED, CANCELLED]


def test_cancel_of_a_link_that_never_reached_the_customer_sends_nothing(api, key):
    """Reported undelivered: the customer never got the link, so a notice
    that it was cancelled would be news of something they never saw."""
    number = fresh_msisdn("0001")
    _, ans = create_ok(api, key, channel="sms", to=number)
    ref = ans["paymentLinkRef"]
    wait_history(api, key, ref, DELIVERY_FAILED)
    r = api.post(CANCEL + ref, key=key)
    assert r.status_code == 200, r.text
    assert history_ids(status_ok(api, key, ref)) == [RECEIVED, SENT, DELIVERY_FAILED, CANCELLED]
    time.sleep(1.5)
    msgs = messages(api, key, to=number)
    assert len(msgs) == 1 and "/p/" in msgs[0]["text"], msgs  # the link's message only


def test_cancel_of_channel_none_sends_nothing(api, key):
    silent_number, sms_number = fresh_msisdn(), fresh_msisdn()
    _, silent = create_ok(api, key, channel="none", to=silent_number)
    assert api.post(CANCEL + silent["paymentLinkRef"], key=key).status_code == 200
    _, sent = create_ok(api, key, channel="sms", to=sms_number)
    assert DELIVERED in history_ids(wait_history(api, key, sent["paymentLinkRef"], DELIVERED))
    assert messages(api, key, to=silent_number) == []


# ---- the outbox --------------------------------------------------------------------------------


def test_outbox_newest_first_and_limit(api, key):
    number = fresh_msisdn()
    orders = []
    for _ in range(3):
        body, _ = create_ok(api, key, channel="sms", to=number)
        orders.append(body["orderNumber"])
        wait_messages(api, key, number, len(orders))  # one at a time: a known order
    msgs = messages(api, key, to=number)
    assert len(msgs) == 3, msgs
    assert [o in m["text"] for m, o in zip(msgs, reversed(orders))] == [True] * 3, msgs
    ids = [m["id"] for m in msgs]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 3, ids
    times = [parse_rfc3339(m["createdAt"]) for m in msgs]
    assert times == sorted(times, reverse=True), times
    assert messages(api, key, to=number, limit=1) == msgs[:1]
    assert messages(api, key, to=number, limit=2) == msgs[:2]
    assert messages(api, key, to="+" + number, limit=100) == msgs
    # without `to`: all of this merchant's messages, newest first
    everything = messages(api, key)
    assert everything[:3] == msgs


def test_outbox_default_limit_is_20(api, key):
    number = fresh_msisdn()
    # 21 links to one number: channel sms, created back to back
    for _ in range(21):
        create_ok(api, key, channel="sms", to=number)
    msgs = wait_messages(api, key, number, 21, timeout=20)
    assert len(msgs) == 21
    assert len(messages(api, key, to=number)) == 20
    assert len(messages(api, key)) == 20


@pytest.mark.parametrize("limit", ["0", "101", "x", "-1", "1.5", "", "1e2"])
def test_outbox_limit_bounds(api, key, limit):
    r = api.get(SANDBOX_MESSAGES + "?" + urlencode({"limit": limit}), key=key)
    assert r.status_code == 400, r.text
    assert r.body["code"] == "validation_failed"
    assert r.body["errors"] == [LIMIT_ERROR]


@pytest.mark.parametrize("limit", ["1", "100"])
def test_outbox_limit_accepted(api, key, limit):
    assert messages(api, key, limit=limit) == []


@pytest.mark.parametrize("to", ["123456", "+1234567890123456", "27x2123456", "", "++27821234567"])
def test_outbox_to_bounds(api, key, to):
    r = api.get(SANDBOX_MESSAGES + "?" + urlencode({"to": to}), key=key)
    assert r.status_code == 400, r.text
    assert r.body["errors"] == [TO_ERROR]


def test_outbox_shows_own_messages_only(api, make_merchant):
    a, b = make_merchant()["apiKey"], make_merchant()["apiKey"]
    number = fresh_msisdn()
    body_a, _ = create_ok(api, a, channel="sms", to=number)
    body_b, _ = create_ok(api, b, channel="sms", to=number)
    (msg_a,) = wait_messages(api, a, number, 1)
    (msg_b,) = wait_messages(api, b, number, 1)
    assert body_a["orderNumber"] in msg_a["text"] and body_b["orderNumber"] not in msg_a["text"]
    assert body_b["orderNumber"] in msg_b["text"] and body_a["orderNumber"] not in msg_b["text"]
    assert all(body_b["orderNumber"] not in m["text"] for m in messages(api, a, limit=100))
    assert all(body_a["orderNumber"] not in m["text"] for m in messages(api, b, limit=100))


def test_outbox_of_production_merchant(api, make_merchant):
    key = make_merchant(environment="production")["apiKey"]
    r = api.get(SANDBOX_MESSAGES, key=key)
    assert r.status_code == 404, r.text
    assert r.body["status"] == "404 NOT_FOUND"
    assert r.body["code"] == "not_found"
    assert r.body["message"] == "The sandbox message outbox exists only for sandbox merchants"


def test_outbox_needs_a_key(api):
    r = api.get(SANDBOX_MESSAGES)
    assert r.status_code == 401, r.text


# ---- expiry (last: the links were created when the module started) ------------------------------


def test_expiry_sweeper_waits_30s(api, expiring):
    """A link nobody opened expires 30 s after it was created: the sweeper
    records PAYMENT_URL_EXPIRED within about a second, the page answers 410,
    cancel 400, and the order takes a new link. An opened link lives on (the
    open extended it by the click TTL, 15 minutes)."""
    key, sent, opened = expiring["key"], expiring["sent"], expiring["opened"]
    created = parse_rfc3339(sent["timestamp"])
    expires = created + datetime.timedelta(seconds=EXPIRY_TTL)
    now = datetime.datetime.now(datetime.timezone.utc)
    wait = (expires - now).total_seconds() + 1.2
    assert wait <= EXPIRY_TTL + 2, f"clock mismatch: would wait {wait:.1f}s"
    if wait > 0:
        time.sleep(wait)
    st = wait_history(api, key, sent["paymentLinkRef"], EXPIRED, timeout=10)
    assert_history(st, [RECEIVED, SENT, DELIVERED, EXPIRED])
    recorded = parse_rfc3339(entry(st, EXPIRED)["created"])
    late = (recorded - expires).total_seconds()
    assert 0 <= late <= 1.0, f"PAYMENT_URL_EXPIRED recorded {late:.3f}s after the link's expiry"

    r = api.get("/p/" + token_of(sent["paymentLink"]))
    assert r.status_code == 410, r.text
    assert "expired" in r.text.lower()
    r = api.post(CANCEL + sent["paymentLinkRef"], key=key)
    assert r.status_code == 400 and r.body["message"] == "The payment link has expired", r.text
    r = api.post(LINKS, key=key, json=link_body(orderNumber=expiring["sent_body"]["orderNumber"]))
    assert r.status_code == 201, r.text
    # the expiry is recorded once
    assert history_ids(status_ok(api, key, sent["paymentLinkRef"])).count(EXPIRED) == 1

    # the opened link is still usable
    assert history_ids(status_ok(api, key, opened["paymentLinkRef"])) == [RECEIVED, CLICKED]
    assert api.get("/p/" + token_of(opened["paymentLink"])).status_code == 200
