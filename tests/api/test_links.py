"""Payment links: POST /api/v2/chat-2-pay (validation, spellings, the answer,
one live link per order, Idempotency-Key), GET .../transaction-status, POST
/api/v2/cancel/{ref} and the customer page GET /p/{token}.

Most links here use channel `none`, so that nothing runs in the background
and the history is deterministic; sending is covered by test_link_jobs."""

from __future__ import annotations

import datetime
import json
import re
import threading
import time
import uuid
from urllib.parse import urlencode

import pytest

from cp_helpers import (
    LINK_STATUS,
    LINKS,
    SANDBOX_MESSAGES,
    db_query,
    fresh_msisdn,
    history_ids,
    link_body,
    poll,
)
from openapi_check import ApiClient, parse_rfc3339

CANCEL = "/api/v2/cancel/"
INTEGRATION = "/api/v2/integration"
BASE62_RE = re.compile(r"[0-9A-Za-z]+")
MSISDN_ERROR = "must be an international phone number (7 to 15 digits, optional leading +)"
CHANNEL_ERROR = "channel: must be one of: sms, whatsapp, none"
TXN_ERROR = "transactionType: must be one of: Sale, Authorization"
IDEM_KEY_ERROR = "Idempotency-Key: must be 1 to 255 printable ASCII characters without spaces"

RECEIVED, SENT, DELIVERED, CANCELLED, CLICKED = 1, 2, 3, 18, 19


# ---- helpers ---------------------------------------------------------------------------


def create(api, key, body, headers=None):
    return api.post(LINKS, key=key, json=body, headers=headers)


def create_raw_amount(api, key, body, field, text):
    """POST body with `field` written exactly as `text` (JSON number text that
    Python would print differently, e.g. 10.500)."""
    marker = "__raw_amount__"
    raw = json.dumps(dict(body, **{field: marker})).replace(f'"{marker}"', text)
    return api.post(LINKS, key=key, data=raw.encode(), headers={"Content-Type": "application/json"})


def create_ok(api, key, **fields):
    """Create a link (channel none unless given); returns (request body, 201 body)."""
    body = link_body(**fields)
    r = create(api, key, body)
    assert r.status_code == 201, r.text
    return body, r.body


def status(api, key, **query):
    return api.get(LINK_STATUS + "?" + urlencode(query), key=key)


def status_ok(api, key, ref):
    r = status(api, key, paymentLinkRef=ref)
    assert r.status_code == 200, r.text
    return r.body


def cancel(api, key, ref):
    return api.post(CANCEL + ref, key=key)


def page(api, token, user_agent=None):
    headers = {"User-Agent": user_agent} if user_agent else {}
    return api.get("/p/" + token, headers=headers)


def token_of(link_url: str) -> str:
    return link_url.rsplit("/p/", 1)[1]


def assert_validation(resp):
    """400 validation_failed with every problem listed; returns the errors."""
    assert resp.status_code == 400, resp.text
    body = resp.body
    assert body["code"] == "validation_failed", body
    errors = body["errors"]
    assert isinstance(errors, list) and errors and all(isinstance(e, str) for e in errors), body
    n = len(errors)
    assert body["message"] == f"Validation failed: {n} problem" + ("s" if n > 1 else ""), body
    return errors


def assert_bad_request(resp, message):
    assert resp.status_code == 400, resp.text
    assert resp.body["code"] == "bad_request", resp.body
    assert resp.body["message"] == message, resp.body
    assert resp.body["errors"] == [message], resp.body


def assert_not_found(resp):
    assert resp.status_code == 404, resp.text
    body = resp.body
    assert body["status"] == "404 NOT_FOUND", body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    assert isinstance(body["errors"], list) and body["errors"], body
    assert body["code"] == "not_found", body


def assert_nothing_for_order(api, key, order):
    assert_not_found(status(api, key, orderNumber=order))


def raw_member(text: str, name: str) -> str:
    """The literal JSON text of a numeric member of a compact JSON object."""
    m = re.search(r'"%s":(-?[0-9.eE+-]+)' % re.escape(name), text)
    assert m, f"{name} not a number in {text[:300]}"
    return m.group(1)


@pytest.fixture
def shop(make_merchant):
    """A sandbox merchant with ZAR (default) and USD."""
    return make_merchant(name=f"Corner Shop {uuid.uuid4().hex[:6]}")


@pytest.fixture
def key(shop):
    return shop["apiKey"]


# ---- the 201 answer --------------------------------------------------------------------


def test_create_answer(api, key):
    before = datetime.datetime.now(datetime.timezone.utc)
    body, ans = create_ok(api, key)
    after = datetime.datetime.now(datetime.timezone.utc)
    assert set(ans) == {
        "paymentLinkRef", "transactionStatus", "transactionStatusId", "timestamp",
        "paymentLinkTTL", "paymentPageTTL",
    }, ans
    assert BASE62_RE.fullmatch(ans["paymentLinkRef"]) and len(ans["paymentLinkRef"]) >= 22, ans
    assert ans["transactionStatus"] == "PAYMENT_LINK_REQUEST_RECEIVED"
    assert ans["transactionStatusId"] == 1
    ts = parse_rfc3339(ans["timestamp"])
    slack = datetime.timedelta(seconds=2)
    assert before - slack <= ts <= after + slack, (before, ts, after)
    assert ans["paymentLinkTTL"] == 5
    assert ans["paymentPageTTL"] == 15
    # the link is there, under the caller's merchant
    st = status_ok(api, key, ans["paymentLinkRef"])
    assert st["orderNumber"] == body["orderNumber"]
    assert history_ids(st) == [RECEIVED]
    assert parse_rfc3339(st["transactionStatuses"][0]["created"]) == ts


def test_refs_are_unique(api, key):
    refs = {create_ok(api, key)[1]["paymentLinkRef"] for _ in range(6)}
    assert len(refs) == 6


def base62_value(text: str) -> int:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    value = 0
    for c in text:
        value = value * 62 + digits.index(c)
    return value


def test_refs_begin_with_the_time(api, key):
    # 7 digits of milliseconds, then random: the references of links created
    # together sort together (their index is appended to, not written at
    # random), while the rest of each reference differs
    answers = [create_ok(api, key)[1] for _ in range(5)]
    refs = [a["paymentLinkRef"] for a in answers]
    assert len(set(refs)) == 5 and all(len(r) == 22 for r in refs), refs
    assert [r[:7] for r in refs] == sorted(r[:7] for r in refs), refs
    for a in answers:
        ms = base62_value(a["paymentLinkRef"][:7])
        created = parse_rfc3339(a["timestamp"]).timestamp() * 1000
        assert abs(ms - created) < 2000, (a, ms, created)
    assert len({r[7:] for r in refs}) == 5, refs


def test_payment_link_returned_on_request(api, server, key):
    tokens = set()
    for _ in range(4):
        _, ans = create_ok(api, key, returnPaymentLink=True)
        link = ans["paymentLink"]
        assert link.startswith(server.base_url + "/p/"), link
        token = token_of(link)
        assert BASE62_RE.fullmatch(token), link
        assert len(token) >= 17, f"token {token!r} holds fewer than 96 bits"
        assert token != ans["paymentLinkRef"] and token not in ans["paymentLinkRef"]
        assert ans["paymentLinkRef"] not in link
        tokens.add(token)
    assert len(tokens) == 4


@pytest.mark.parametrize("value", [False, None], ids=["false", "absent"])
def test_payment_link_not_returned_by_default(api, key, value):
    fields = {} if value is None else {"returnPaymentLink": value}
    _, ans = create_ok(api, key, **fields)
    assert "paymentLink" not in ans


def test_ttls_follow_merchant_settings(api, cli, shop, key):
    res = cli("merchant", "update", shop["merchantId"], "--link-ttl", "10m", "--page-ttl", "20m")
    assert res.returncode == 0, res.stderr
    _, ans = create_ok(api, key)
    assert ans["paymentLinkTTL"] == 10
    assert ans["paymentPageTTL"] == 20


# ---- validation ------------------------------------------------------------------------

REQUIRED = ["channel", "to", "orderNumber", "timestamp", "currency", "totalAmount"]


def test_required_fields_reported_together(api, key):
    errors = assert_validation(create(api, key, {}))
    assert sorted(errors) == sorted(f"{f}: is required" for f in REQUIRED)


def test_null_is_absent(api, key):
    errors = assert_validation(create(api, key, {f: None for f in REQUIRED}))
    assert sorted(errors) == sorted(f"{f}: is required" for f in REQUIRED)


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"orderNumber": "A" * 33}, ["orderNumber: must be at most 32 characters"]),
        ({"orderNumber": "   "}, ["orderNumber: must not be blank"]),
        ({"timestamp": "yesterday"}, ["timestamp: must be an ISO 8601 date-time (e.g. 2026-01-31T12:00:00Z)"]),
        ({"timestamp": "2026-01-31 12:00:00Z"}, ["timestamp: must be an ISO 8601 date-time (e.g. 2026-01-31T12:00:00Z)"]),
        ({"timestamp": "2026-01-31T12:00:00+2"}, ["timestamp: must be an ISO 8601 date-time (e.g. 2026-01-31T12:00:00Z)"]),
        ({"timestamp": "2026-02-30T12:00:00Z"}, ["timestamp: must be an ISO 8601 date-time (e.g. 2026-01-31T12:00:00Z)"]),
        ({"timestamp": 1767268800}, ["timestamp: must be a string"]),
        ({"currency": "ZA"}, ["currency: must be a three-letter currency code"]),
        ({"currency": "Z1R"}, ["currency: must be a three-letter currency code"]),
        ({"currency": "XYZ"}, ["currency: is not a known ISO 4217 currency"]),
        ({"currency": "EUR"}, ["currency: EUR is not a supported currency of this merchant (supported: ZAR, USD)"]),
        ({"totalAmount": 0, "subTotalAmount": None, "taxAmount": None}, ["totalAmount: must be greater than 0"]),
        ({"totalAmount": -1, "subTotalAmount": None, "taxAmount": None}, ["totalAmount: must be greater than 0"]),
        ({"totalAmount": "115.00"}, ["totalAmount: must be a number"]),
        ({"subTotalAmount": 0, "taxAmount": None}, ["subTotalAmount: must be greater than 0"]),
        ({"taxAmount": -0.01, "subTotalAmount": None}, ["taxAmount: must not be negative"]),
        (
            {"totalAmount": 116.00},
            ["totalAmount: must equal subTotalAmount + taxAmount (100.00 + 15.00 = 115.00, not 116.00)"],
        ),
        ({"totalAmount": 10.001, "subTotalAmount": None, "taxAmount": None},
         ["totalAmount: has more decimal places than ZAR allows (2)"]),
        ({"subTotalAmount": 99.995, "taxAmount": None},
         ["subTotalAmount: has more decimal places than ZAR allows (2)"]),
        ({"reconciliationId": "R" * 61}, ["reconciliationId: must be at most 60 characters"]),
        ({"merchantDescriptor": "D" * 256}, ["merchantDescriptor: must be at most 255 characters"]),
        ({"to": "123456"}, [f"to: {MSISDN_ERROR}"]),
        ({"to": "+1234567890123456"}, [f"to: {MSISDN_ERROR}"]),
        ({"to": "0821234567"}, [f"to: {MSISDN_ERROR}"]),
        ({"to": "+27 82 123/4567"}, [f"to: {MSISDN_ERROR}"]),
        ({"to": "2782123456x"}, [f"to: {MSISDN_ERROR}"]),
        ({"from": "12"}, [f"from: {MSISDN_ERROR}"]),
        ({"channel": "fax"}, [CHANNEL_ERROR]),
        ({"transactionType": "Void"}, [TXN_ERROR]),
        ({"additionalData": [1, 2]}, ["additionalData: must be an object"]),
        ({"additionalData": "{\"a\":1}"}, ["additionalData: must be an object"]),
        ({"returnPaymentLink": "yes"}, ["returnPaymentLink: must be a boolean"]),
        ({"paymentReviewAutoReversal": 1}, ["paymentReviewAutoReversal: must be a boolean"]),
        ({"applicationId": "  "}, ["applicationId: must not be blank"]),
        ({"orderLineItems": {"name": "x"}}, ["orderLineItems: must be an array"]),
    ],
    ids=[
        "order-33", "order-blank", "timestamp-word", "timestamp-space", "timestamp-short-offset",
        "timestamp-bad-date",
        "timestamp-number", "currency-2", "currency-digit", "currency-unknown", "currency-unsupported",
        "total-zero", "total-negative", "total-string", "subtotal-zero", "tax-negative", "sum",
        "total-precision", "subtotal-precision", "reconciliation-61", "descriptor-256", "to-6-digits",
        "to-16-digits", "to-leading-zero", "to-spaces", "to-letter", "from-short", "channel-fax",
        "txn-void", "additional-array", "additional-string", "return-link-string", "auto-reversal-int",
        "application-blank", "items-object",
    ],
)
def test_field_errors(api, key, fields, expected):
    drop = tuple(k for k, v in fields.items() if v is None)
    body = link_body(drop=drop, **{k: v for k, v in fields.items() if v is not None})
    errors = assert_validation(create(api, key, body))
    assert errors == expected
    assert_nothing_for_order(api, key, body["orderNumber"])


@pytest.mark.parametrize(
    "fields",
    [
        {"orderNumber": "B" * 32},
        {"reconciliationId": "R" * 60},
        {"merchantDescriptor": "D" * 255},
        {"to": "+1234567"},
        {"to": "123456789012345"},
        {"to": "+27 (82) 000-11.11"},
        {"from": "+27820000001"},
        {"totalAmount": 115, "subTotalAmount": 115, "taxAmount": 0},
        {"totalAmount": 10.5, "subTotalAmount": 10.5, "taxAmount": 0.00},
        {"totalAmount": 0.01, "subTotalAmount": None, "taxAmount": None},
        {"subTotalAmount": None},
        {"taxAmount": None},
        {"currency": "zar"},
        {"timestamp": "2026-01-31T14:00:00.123+02:00"},
        {"timestamp": "2026-01-31T14:00:00.000+0200"},
        {"timestamp": "2026-01-31T12:00"},
        {"additionalData": {}},
        {"additionalData": {"nested": {"list": [1, "two", None]}, "n": 1.5}},
        {"orderLineItems": []},
        {"someUnknownMember": "ignored"},
    ],
    ids=[
        "order-32", "reconciliation-60", "descriptor-255", "to-7-digits", "to-15-digits", "to-separators", "from",
        "tax-zero", "tax-zero-decimal", "one-cent", "no-subtotal", "no-tax",
        "currency-lowercase", "timestamp-offset", "timestamp-offset-no-colon",
        "timestamp-no-zone", "additional-empty", "additional-nested",
        "items-empty", "unknown-member",
    ],
)
def test_valid_edge_values(api, key, fields):
    drop = tuple(k for k, v in fields.items() if v is None)
    body = link_body(drop=drop, **{k: v for k, v in fields.items() if v is not None})
    r = create(api, key, body)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("text", ["-0.0", "-0.00", "-0e3", "-0"])
def test_negative_zero_tax_is_zero(api, key, text):
    """Many JSON encoders write a negative zero float as -0.0; the schema's
    minimum is 0 inclusive, and -0.0 is 0."""
    body = link_body(totalAmount=115.00, subTotalAmount=115.00)
    r = create_raw_amount(api, key, body, "taxAmount", text)
    assert r.status_code == 201, r.text
    st = status_ok(api, key, r.body["paymentLinkRef"])
    assert st["taxAmount"] == 0 and st["totalAmount"] == 115.0, st


@pytest.mark.parametrize(
    "currency, text",
    [("JPY", "1500"), ("JPY", "1500.0"), ("JPY", "1.5e3"), ("KWD", "1.234"), ("KWD", "1.2340"),
     ("ZAR", "10.500"), ("ZAR", "10.5"), ("ZAR", "0.010"), ("USD", "1E1")],
)
def test_minor_unit_exact_amounts_accepted(api, make_merchant, currency, text):
    key = make_merchant(currencies="ZAR,USD,JPY,KWD")["apiKey"]
    body = link_body(drop=("subTotalAmount", "taxAmount"), currency=currency)
    r = create_raw_amount(api, key, body, "totalAmount", text)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    "currency, text, places",
    [("ZAR", "10.001", 2), ("ZAR", "10.0010", 2), ("ZAR", "0.009", 2), ("JPY", "1500.5", 0),
     ("JPY", "1.0000001", 0), ("KWD", "1.2345", 3), ("USD", "1.255e0", 2)],
)
def test_minor_unit_exactness_raw(api, make_merchant, currency, text, places):
    key = make_merchant(currencies="ZAR,USD,JPY,KWD")["apiKey"]
    body = link_body(drop=("subTotalAmount", "taxAmount"), currency=currency)
    errors = assert_validation(create_raw_amount(api, key, body, "totalAmount", text))
    assert errors == [f"totalAmount: has more decimal places than {currency} allows ({places})"]


def test_line_item_errors_name_their_path(api, key):
    body = link_body(
        orderLineItems=[
            {"name": "Tea", "unitPrice": 10},
            {"quantity": 2},
            {"name": "x" * 256, "unitPrice": 0, "quantity": 0, "code": "c" * 256, "sku": "s" * 256, "taxAmount": 0},
            {"name": "Cake", "unitPrice": 1.001, "quantity": 1000001},
            "not an object",
        ]
    )
    errors = assert_validation(create(api, key, body))
    assert sorted(errors) == sorted([
        "orderLineItems[1].name: is required",
        "orderLineItems[1].unitPrice: is required",
        "orderLineItems[2].name: must be at most 255 characters",
        "orderLineItems[2].unitPrice: must be greater than 0",
        "orderLineItems[2].quantity: must be between 1 and 1000000",
        "orderLineItems[2].code: must be at most 255 characters",
        "orderLineItems[2].sku: must be at most 255 characters",
        "orderLineItems[2].taxAmount: must be greater than 0",
        "orderLineItems[3].quantity: must be between 1 and 1000000",
        "orderLineItems[3].unitPrice: has more decimal places than ZAR allows (2)",
        "orderLineItems[4]: must be an object",
    ])


def test_line_items_at_their_limits_accepted(api, key):
    item = {"name": "n" * 255, "unitPrice": 0.01, "quantity": 1000000, "code": "c" * 255,
            "sku": "s" * 255, "taxAmount": 0.01}
    r = create(api, key, link_body(orderLineItems=[item, {"name": "Only name", "unitPrice": 1}]))
    assert r.status_code == 201, r.text


def test_documented_request_limits_are_the_enforced_ones(api, key):
    # docs/openapi.json states chatpay's limits where they are tighter than
    # the publisher's schema; at each limit a request passes, one past it not
    from openapi_check import get_checker

    schemas = get_checker().doc.doc["components"]["schemas"]
    body, item = schemas["PayByLinkRequest"]["properties"], schemas["LineItemRequest"]["properties"]
    one = {"name": "Tea", "unitPrice": 1}
    at_limit = {
        "orderNumber": "O" * body["orderNumber"]["maxLength"],
        "merchantDescriptor": "D" * body["merchantDescriptor"]["maxLength"],
        "orderLineItems": [one] * (body["orderLineItems"]["maxItems"] - 1)
        + [{**one, "quantity": item["quantity"]["maximum"]}],
    }
    assert create(api, key, link_body(**at_limit)).status_code == 201
    assert body["orderNumber"]["minLength"] == item["name"]["minLength"] == 1
    past = [
        ({"orderNumber": "O" * (body["orderNumber"]["maxLength"] + 1)},
         f"orderNumber: must be at most {body['orderNumber']['maxLength']} characters"),
        ({"orderNumber": " "}, "orderNumber: must not be blank"),
        ({"merchantDescriptor": "D" * (body["merchantDescriptor"]["maxLength"] + 1)},
         f"merchantDescriptor: must be at most {body['merchantDescriptor']['maxLength']} characters"),
        ({"orderLineItems": [one] * (body["orderLineItems"]["maxItems"] + 1)},
         f"orderLineItems: must have at most {body['orderLineItems']['maxItems']} items"),
        ({"orderLineItems": [{**one, "quantity": item["quantity"]["maximum"] + 1}]},
         f"orderLineItems[0].quantity: must be between 1 and {item['quantity']['maximum']}"),
        ({"orderLineItems": [{**one, "name": ""}]}, "orderLineItems[0].name: must not be blank"),
    ]
    for fields, error in past:
        assert assert_validation(create(api, key, link_body(**fields))) == [error], fields
    for field in ("paymentGatewaySettingsId", "applicationId"):
        n = body[field]["maxLength"]
        errors = assert_validation(create(api, key, link_body(**{field: "x" * (n + 1)})))
        assert errors == [f"{field}: must be at most {n} characters"], errors


def test_every_problem_reported_at_once(api, make_merchant):
    # syntax problems and configuration problems in one answer
    m = make_merchant(channels="sms")
    body = link_body(
        channel="whatsapp", to="12", currency="EUR", totalAmount=116.00, reconciliationId="R" * 61,
        orderLineItems=[{"unitPrice": 1}], transactionType="Capture",
        paymentGatewaySettingsId=str(uuid.uuid4()), applicationId=str(uuid.uuid4()),
    )
    errors = assert_validation(create(api, m["apiKey"], body))
    assert sorted(errors) == sorted([
        f"to: {MSISDN_ERROR}",
        "reconciliationId: must be at most 60 characters",
        TXN_ERROR,
        "orderLineItems[0].name: is required",
        "totalAmount: must equal subTotalAmount + taxAmount (100.00 + 15.00 = 115.00, not 116.00)",
        "currency: EUR is not a supported currency of this merchant (supported: ZAR, USD)",
        "channel: WHATSAPP is not enabled for this merchant",
        "applicationId: no such application for this merchant",
        "paymentGatewaySettingsId: no such payment gateway settings for this merchant",
    ])
    assert_nothing_for_order(api, m["apiKey"], body["orderNumber"])


@pytest.mark.parametrize(
    "channels, refused, accepted",
    [
        ("sms", ["whatsapp"], ["sms", "none"]),
        ("whatsapp", ["sms"], ["whatsapp", "none"]),
        ("none", ["sms", "whatsapp"], ["none"]),
    ],
)
def test_channel_must_be_enabled(api, make_merchant, channels, refused, accepted):
    key = make_merchant(channels=channels)["apiKey"]
    for ch in refused:
        errors = assert_validation(create(api, key, link_body(channel=ch)))
        assert errors == [f"channel: {ch.upper()} is not enabled for this merchant"]
    for ch in accepted:
        r = create(api, key, link_body(channel=ch))
        assert r.status_code == 201, r.text


def test_application_id(api, shop, key, make_merchant, add_integrator):
    app = add_integrator(shop["merchantId"], name="Till 7", type="APPLICATION")
    app_id = app["applicationId"]
    _, ans = create_ok(api, key, applicationId=app_id)
    st = status_ok(api, key, ans["paymentLinkRef"])
    assert st["integrator"] == {"applicationId": app_id, "name": "Till 7"}

    # another merchant's application is unknown here
    other = make_merchant()
    foreign = add_integrator(other["merchantId"])["applicationId"]
    errors = assert_validation(create(api, key, link_body(applicationId=foreign)))
    assert errors == ["applicationId: no such application for this merchant"]
    errors = assert_validation(create(api, key, link_body(applicationId=str(uuid.uuid4()))))
    assert errors == ["applicationId: no such application for this merchant"]

    # a DEACTIVATED application is refused, and accepted again once ACTIVATED
    r = api.put(INTEGRATION, key=key, json={"applicationUuid": app_id, "status": "DEACTIVATED"})
    assert r.status_code == 200, r.text
    errors = assert_validation(create(api, key, link_body(applicationId=app_id)))
    assert errors == ["applicationId: application is DEACTIVATED, not ACTIVATED"]
    r = api.put(INTEGRATION, key=key, json={"applicationUuid": app_id, "status": "ACTIVATED"})
    assert r.status_code == 200, r.text
    create_ok(api, key, applicationId=app_id)


def gateway_settings_ids(db_url: str, merchant_id: str) -> list[str]:
    """The merchant's payment gateway settings ids. No endpoint or command shows
    them, so they are read from the database."""
    rows = db_query(db_url, "SELECT id FROM gateway_settings WHERE merchant_id = ?", (merchant_id,))
    return [r[0] for r in rows]


def test_payment_gateway_settings_id(api, server, shop, key, make_merchant):
    own = gateway_settings_ids(server.db_url, shop["merchantId"])
    assert len(own) == 1, own
    create_ok(api, key, paymentGatewaySettingsId=own[0])
    other = gateway_settings_ids(server.db_url, make_merchant()["merchantId"])
    assert len(other) == 1 and other != own
    for bad in (other[0], str(uuid.uuid4()), "x"):
        errors = assert_validation(create(api, key, link_body(paymentGatewaySettingsId=bad)))
        assert errors == ["paymentGatewaySettingsId: no such payment gateway settings for this merchant"]


# ---- spellings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling, name",
    [
        ("sms", "SMS"), ("SMS", "SMS"), ("Sms", "SMS"), ("ChannelType.SMS(name=SMS, id=1)", "SMS"),
        ("channeltype.sms(name=sms, id=1)", "SMS"), (1, "SMS"), ("1", "SMS"),
        ("whatsapp", "WHATSAPP"), ("WhatsApp", "WHATSAPP"),
        ("ChannelType.WHATSAPP(name=WHATSAPP, id=2)", "WHATSAPP"), (2, "WHATSAPP"), ("2", "WHATSAPP"),
        ("none", "NONE"), ("NONE", "NONE"), ("ChannelType.NONE(name=NONE, id=0)", "NONE"), (0, "NONE"),
        ("0", "NONE"),
    ],
)
def test_channel_spellings(api, key, spelling, name):
    _, ans = create_ok(api, key, channel=spelling)
    assert status_ok(api, key, ans["paymentLinkRef"])["channelName"] == name


@pytest.mark.parametrize(
    "spelling",
    ["fax", "", "s m s", 3, -1, "3", "01x", True, None, 1.0, ["sms"], {"name": "SMS"},
     "ChannelType.FAX(name=FAX, id=3)", "ChannelType.SMS"],
)
def test_bad_channel(api, key, spelling):
    if spelling is None:
        body = link_body(drop=("channel",))
        expected = ["channel: is required"]
    else:
        body = link_body(channel=spelling)
        expected = [CHANNEL_ERROR]
    assert assert_validation(create(api, key, body)) == expected


@pytest.mark.parametrize(
    "spelling, name",
    [
        ("Sale", "Sale"), ("sale", "Sale"), ("SALE", "Sale"), ("TransactionType.SALE(name=Sale, id=2)", "Sale"),
        (2, "Sale"), ("2", "Sale"),
        ("Authorization", "Authorization"), ("authorization", "Authorization"),
        ("TransactionType.AUTHORIZATION(name=Authorization, id=1)", "Authorization"),
        (1, "Authorization"), ("1", "Authorization"),
    ],
)
def test_transaction_type_spellings(api, key, spelling, name):
    _, ans = create_ok(api, key, transactionType=spelling)
    assert status_ok(api, key, ans["paymentLinkRef"])["transactionType"] == name


@pytest.mark.parametrize(
    "spelling",
    ["Void", "Capture", 3, 4, "3", 0, "TransactionType.VOID(name=Void, id=3)",
     "TransactionType.CAPTURE(name=Capture, id=4)", "Auth", True],
)
def test_bad_transaction_type(api, key, spelling):
    assert assert_validation(create(api, key, link_body(transactionType=spelling))) == [TXN_ERROR]


def test_default_transaction_type_is_the_merchants(api, cli, shop, key):
    _, ans = create_ok(api, key)
    assert status_ok(api, key, ans["paymentLinkRef"])["transactionType"] == "Sale"
    res = cli("merchant", "update", shop["merchantId"], "--transaction-type", "Authorization")
    assert res.returncode == 0, res.stderr
    _, ans = create_ok(api, key)
    assert status_ok(api, key, ans["paymentLinkRef"])["transactionType"] == "Authorization"
    _, ans = create_ok(api, key, transactionType="Sale")
    assert status_ok(api, key, ans["paymentLinkRef"])["transactionType"] == "Sale"


# ---- one live link per order ---------------------------------------------------------------


def test_one_live_link_per_order(api, key, make_merchant):
    body, first = create_ok(api, key)
    order = body["orderNumber"]
    again = link_body(orderNumber=order)
    errors = assert_validation(create(api, key, again))
    assert errors == [
        f"orderNumber: order {order} already has a live payment link ({first['paymentLinkRef']}); "
        "cancel it or wait until it expires"
    ]
    # order numbers are per merchant
    other = make_merchant()["apiKey"]
    r = create(api, other, link_body(orderNumber=order))
    assert r.status_code == 201, r.text
    # after a cancel the order is free again
    assert cancel(api, key, first["paymentLinkRef"]).status_code == 200
    r = create(api, key, again)
    assert r.status_code == 201, r.text
    assert r.body["paymentLinkRef"] != first["paymentLinkRef"]


# ---- transaction-status ------------------------------------------------------------------


def test_status_needs_a_reference(api, key):
    r = api.get(LINK_STATUS, key=key)
    errors = assert_validation(r)
    assert errors == ["query: one of paymentLinkRef, orderNumber or receiptLinkRef is required"]


@pytest.mark.parametrize("name", ["paymentLinkRef", "orderNumber", "receiptLinkRef"])
@pytest.mark.parametrize("value", ["", "x" * 129], ids=["empty", "129"])
def test_status_query_value_bounds(api, key, name, value):
    errors = assert_validation(status(api, key, **{name: value}))
    assert errors == [f"{name}: must be 1 to 128 characters"]


@pytest.mark.parametrize("name", ["paymentLinkRef", "orderNumber", "receiptLinkRef"])
def test_status_unknown(api, key, name):
    assert_not_found(status(api, key, **{name: "x" * 128}))


def test_status_of_another_merchants_link(api, key, make_merchant):
    body, ans = create_ok(api, key)
    other = make_merchant()["apiKey"]
    assert_not_found(status(api, other, paymentLinkRef=ans["paymentLinkRef"]))
    assert_not_found(status(api, other, orderNumber=body["orderNumber"]))
    # still there for its owner
    assert status_ok(api, key, ans["paymentLinkRef"])["paymentLinkRef"] == ans["paymentLinkRef"]


def test_status_by_order_number_is_the_newest_link(api, key):
    body, first = create_ok(api, key)
    order = body["orderNumber"]
    r = status(api, key, orderNumber=order)
    assert r.status_code == 200 and r.body["paymentLinkRef"] == first["paymentLinkRef"], r.text
    refs = [first["paymentLinkRef"]]
    for _ in range(2):
        assert cancel(api, key, refs[-1]).status_code == 200
        _, ans = create_ok(api, key, orderNumber=order)
        refs.append(ans["paymentLinkRef"])
        r = status(api, key, orderNumber=order)
        assert r.status_code == 200, r.text
        assert r.body["paymentLinkRef"] == refs[-1]
    assert len(set(refs)) == 3
    # paymentLinkRef wins over orderNumber
    r = status(api, key, paymentLinkRef=refs[0], orderNumber=order)
    assert r.status_code == 200 and r.body["paymentLinkRef"] == refs[0], r.text


def test_status_fields(api, shop, key, add_integrator):
    app = add_integrator(shop["merchantId"], name="POS One", type="APPLICATION")
    extra = {"basket": {"id": 7, "tags": ["a", "b"]}, "note": "hi \"there\"", "ok": True, "none": None}
    body, ans = create_ok(
        api, key,
        channel="none",
        totalAmount=115,
        subTotalAmount=100.0,
        taxAmount=15,
        additionalData=extra,
        applicationId=app["applicationId"],
        transactionType="Authorization",
        reconciliationId="REC-1",
        merchantDescriptor="CORNER*SHOP",
        paymentReviewAutoReversal=True,
        orderLineItems=[
            {"name": "Tea", "unitPrice": 10.5, "quantity": 2, "code": "T1", "sku": "SKU-T", "taxAmount": 1.5},
            {"name": "Cake", "unitPrice": 79},
        ],
    )
    r = status(api, key, paymentLinkRef=ans["paymentLinkRef"])
    assert r.status_code == 200, r.text
    st = r.body
    assert st["orderNumber"] == body["orderNumber"]
    assert st["paymentLinkRef"] == ans["paymentLinkRef"]
    assert st["paymentStatuses"] == []
    assert st["paymentStatus"] == "PENDING"
    assert st["paymentStatusId"] == "3"
    assert st["currency"] == "ZAR"
    assert st["channelName"] == "NONE"
    assert st["transactionType"] == "Authorization"
    assert st["environment"] == "SANDBOX"
    assert st["reconciliationId"] == "REC-1"
    assert st["merchantDescriptor"] == "CORNER*SHOP"
    assert st["paymentReviewAutoReversal"] is True
    assert st["integrator"] == {"applicationId": app["applicationId"], "name": "POS One"}
    assert isinstance(st["additionalData"], str)
    assert json.loads(st["additionalData"]) == extra
    # amounts: numbers written with the currency's two decimals
    assert (st["totalAmount"], st["subTotalAmount"], st["taxAmount"]) == (115, 100, 15)
    assert raw_member(r.text, "totalAmount") == "115.00"
    assert raw_member(r.text, "subTotalAmount") == "100.00"
    assert raw_member(r.text, "taxAmount") == "15.00"
    items = st["orderLineItems"]
    assert items == [
        {"code": "T1", "name": "Tea", "quantity": 2, "sku": "SKU-T", "unitPrice": 10.5, "taxAmount": 1.5},
        {"name": "Cake", "quantity": 1, "unitPrice": 79},
    ]
    items_text = r.text[r.text.index('"orderLineItems"'):]
    assert '"unitPrice":10.50' in items_text and '"taxAmount":1.50' in items_text
    assert '"unitPrice":79.00' in items_text
    # the history: one entry, no provider answer
    (entry,) = st["transactionStatuses"]
    assert entry["transactionStatusId"] == RECEIVED
    assert entry["transactionStatusName"] == "PAYMENT_LINK_REQUEST_RECEIVED"
    parse_rfc3339(entry["created"])
    assert not {"httpResponseCode", "responseCode", "responseCodeDescription"} & set(entry)


def test_status_leaves_out_what_was_not_given(api, key):
    _, ans = create_ok(api, key, drop=("subTotalAmount", "taxAmount"))
    st = status_ok(api, key, ans["paymentLinkRef"])
    for absent in ("subTotalAmount", "taxAmount", "additionalData", "integrator", "reconciliationId",
                   "merchantDescriptor", "receiptLinkRef", "paymentStatusTimestamp"):
        assert absent not in st, (absent, st)
    assert st["orderLineItems"] == []
    assert st["paymentReviewAutoReversal"] is False
    assert st["transactionType"] == "Sale"


@pytest.mark.parametrize(
    "currency, amount, raw",
    [("ZAR", "10.5", "10.50"), ("ZAR", "10.500", "10.50"), ("USD", "7", "7.00"), ("JPY", "1500", "1500"),
     ("JPY", "1500.00", "1500"), ("KWD", "1.5", "1.500"), ("KWD", "0.001", "0.001"),
     ("ZAR", "1234567.89", "1234567.89")],
)
def test_status_amount_decimals(api, make_merchant, currency, amount, raw):
    key = make_merchant(currencies="ZAR,USD,JPY,KWD")["apiKey"]
    body = link_body(drop=("subTotalAmount", "taxAmount"), currency=currency)
    created = create_raw_amount(api, key, body, "totalAmount", amount)
    assert created.status_code == 201, created.text
    r = status(api, key, paymentLinkRef=created.body["paymentLinkRef"])
    assert r.status_code == 200, r.text
    assert raw_member(r.text, "totalAmount") == raw
    assert r.body["currency"] == currency


def test_status_environment_production(api, make_merchant):
    key = make_merchant(environment="production")["apiKey"]
    _, ans = create_ok(api, key)
    assert status_ok(api, key, ans["paymentLinkRef"])["environment"] == "PRODUCTION"


# ---- Idempotency-Key ---------------------------------------------------------------------


def messages_to(api, key, number):
    r = api.get(SANDBOX_MESSAGES + "?" + urlencode({"to": number, "limit": 100}), key=key)
    assert r.status_code == 200, r.text
    return r.body


def test_idempotent_replay(api, key):
    number = fresh_msisdn()
    body = link_body(channel="sms", to=number, returnPaymentLink=True)
    idem = {"Idempotency-Key": str(uuid.uuid4())}
    first = create(api, key, body, idem)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    for _ in range(2):
        again = create(api, key, body, idem)
        assert again.status_code == 201, again.text
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.content == first.content
    # nothing new was created: the order's link is the first one, and one message went out
    r = status(api, key, orderNumber=body["orderNumber"])
    assert r.status_code == 200 and r.body["paymentLinkRef"] == first.body["paymentLinkRef"], r.text
    msgs = poll(lambda: messages_to(api, key, number), lambda m: len(m) >= 1, timeout=5)
    assert len(msgs) == 1, msgs
    time.sleep(0.5)  # a second message, if any, would have gone out by now
    msgs = messages_to(api, key, number)
    assert len(msgs) == 1, msgs
    assert body["orderNumber"] in msgs[0]["text"]


def test_idempotency_key_with_another_body(api, key):
    idem = {"Idempotency-Key": "order-" + uuid.uuid4().hex}
    body = link_body()
    assert create(api, key, body, idem).status_code == 201
    other = link_body()
    r = create(api, key, other, idem)
    assert r.status_code == 422, r.text
    assert r.body["code"] == "unprocessable"
    assert r.body["errors"] and r.body["message"]
    assert "Idempotent-Replayed" not in r.headers
    assert_nothing_for_order(api, key, other["orderNumber"])
    # the same bytes with a different member order are a different body too
    reordered = dict(reversed(list(body.items())))
    assert json.dumps(reordered) != json.dumps(body)
    assert create(api, key, reordered, idem).status_code == 422


def test_idempotency_keys_are_per_merchant(api, key, make_merchant):
    other = make_merchant()["apiKey"]
    idem = {"Idempotency-Key": str(uuid.uuid4())}
    body = link_body()
    a = create(api, key, body, idem)
    b = create(api, other, body, idem)
    assert a.status_code == 201 and b.status_code == 201, (a.text, b.text)
    assert "Idempotent-Replayed" not in b.headers
    assert a.body["paymentLinkRef"] != b.body["paymentLinkRef"]
    assert status_ok(api, other, b.body["paymentLinkRef"])["orderNumber"] == body["orderNumber"]
    assert_not_found(status(api, other, paymentLinkRef=a.body["paymentLinkRef"]))


def test_idempotency_keeps_validation_failures(api, key):
    idem = {"Idempotency-Key": str(uuid.uuid4())}
    bad = link_body(currency="XYZ")
    first = create(api, key, bad, idem)
    errors = assert_validation(first)
    assert errors == ["currency: is not a known ISO 4217 currency"]
    again = create(api, key, bad, idem)
    assert again.status_code == 400
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.content == first.content
    # the key is taken: a corrected body is another request
    fixed = dict(bad, currency="ZAR")
    assert create(api, key, fixed, idem).status_code == 422
    assert_nothing_for_order(api, key, bad["orderNumber"])


def test_idempotency_key_not_taken_by_malformed_json(api, key):
    idem = {"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}
    r = api.post(LINKS, key=key, data=b'{"channel": ', headers=idem)
    assert r.status_code == 400 and r.body["code"] == "malformed_json", r.text
    r = create(api, key, link_body(), idem)
    assert r.status_code == 201, r.text
    assert "Idempotent-Replayed" not in r.headers


@pytest.mark.parametrize("tail, why", [
    (',"totalAmount\\u0000":1.00}', "\\u0000 in a string"),
    (',"totalAmount":1.00}', "a member name is repeated"),
    (',"additionalData":{"a":1,"a":2}}', "a member name is repeated"),
    (',"reconciliationId":"x\\ud800"}', "lone surrogate"),
], ids=["nul-in-name", "repeated", "repeated-nested", "lone-surrogate"])
def test_json_other_readers_would_take_otherwise_is_refused(api, key, tail, why):
    """Text that json-c reads otherwise than another JSON reader (a proxy, a
    log, the client's own) is refused, so that what was checked is what is
    charged: json-c cuts "totalAmount\u0000" to totalAmount and keeps the
    last of repeated names."""
    body = link_body(totalAmount=1000.00, subTotalAmount=None, taxAmount=None)
    text = json.dumps({k: v for k, v in body.items() if v is not None})[:-1] + tail
    r = api.post(LINKS, key=key, data=text.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.body["code"] == "malformed_json", r.text
    assert why in r.body["message"], r.body
    assert_nothing_for_order(api, key, body["orderNumber"])


@pytest.mark.parametrize(
    "value", ["two words", "k" * 256, "tab\there", "caf\xe9"], ids=["space", "256", "tab", "latin1"]
)
def test_idempotency_key_format(api, key, value):
    body = link_body()
    r = create(api, key, body, {"Idempotency-Key": value})
    assert assert_validation(r) == [IDEM_KEY_ERROR]
    assert_nothing_for_order(api, key, body["orderNumber"])


def test_idempotency_key_of_255_printable_characters(api, key):
    value = "".join(chr(33 + i % 94) for i in range(255))
    body = link_body()
    first = create(api, key, body, {"Idempotency-Key": value})
    assert first.status_code == 201, first.text
    again = create(api, key, body, {"Idempotency-Key": value})
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.body == first.body


def test_idempotency_concurrent_duplicates(api, server, key):
    """Simultaneous identical requests with one key: one link. Each is answered
    with the one 201, its replay, or 409 while the first is in progress."""
    number = fresh_msisdn()
    body = link_body(channel="sms", to=number)
    idem = {"Idempotency-Key": str(uuid.uuid4())}
    n = 8
    barrier = threading.Barrier(n, timeout=10)
    results: list = [None] * n

    def worker(i):
        client = ApiClient(server.base_url, timeout=10)
        try:
            barrier.wait()
            r = create(client, key, body, idem)
            results[i] = (r.status_code, r.headers.get("Idempotent-Replayed"), r.body)
        except Exception as e:  # reported below
            results[i] = e
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not any(t.is_alive() for t in threads), "a client thread hung"
    errors = [r for r in results if not isinstance(r, tuple)]
    assert not errors, errors
    fresh = [r for r in results if r[0] == 201 and r[1] is None]
    replays = [r for r in results if r[0] == 201 and r[1] == "true"]
    busy = [r for r in results if r[0] == 409]
    assert len(fresh) == 1, results
    assert len(fresh) + len(replays) + len(busy) == n, results
    assert all(r[2]["code"] == "conflict" for r in busy), busy
    refs = {r[2]["paymentLinkRef"] for r in fresh + replays}
    assert len(refs) == 1, refs
    # afterwards the key replays the one link
    r = create(api, key, body, idem)
    assert r.status_code == 201 and r.headers.get("Idempotent-Replayed") == "true", r.text
    assert r.body["paymentLinkRef"] in refs
    # and one message was sent
    msgs = poll(lambda: messages_to(api, key, number), lambda m: len(m) >= 1, timeout=5)
    time.sleep(0.3)
    assert len(messages_to(api, key, number)) == 1, msgs


# ---- cancel --------------------------------------------------------------------------------


def test_cancel(api, key):
    extra = {"reason": "changed", "n": [1, 2]}
    _, ans = create_ok(api, key, additionalData=extra)
    ref = ans["paymentLinkRef"]
    before = datetime.datetime.now(datetime.timezone.utc)
    r = cancel(api, key, ref)
    assert r.status_code == 200, r.text
    body = r.body
    assert set(body) == {"paymentLinkRef", "transactionStatus", "transactionStatusId", "timestamp", "additionalData"}
    assert body["paymentLinkRef"] == ref
    assert body["transactionStatus"] == "PAYMENT_LINK_CANCELLED"
    assert body["transactionStatusId"] == "18"
    assert json.loads(body["additionalData"]) == extra
    ts = parse_rfc3339(body["timestamp"])
    assert abs((ts - before).total_seconds()) < 3
    st = status_ok(api, key, ref)
    assert history_ids(st) == [RECEIVED, CANCELLED]
    last = st["transactionStatuses"][-1]
    assert last["transactionStatusName"] == "PAYMENT_LINK_CANCELLED"
    assert parse_rfc3339(last["created"]) == ts


def test_cancel_without_additional_data(api, key):
    _, ans = create_ok(api, key)
    r = cancel(api, key, ans["paymentLinkRef"])
    assert r.status_code == 200, r.text
    assert "additionalData" not in r.body
    assert r.body["transactionStatusId"] == "18"


def test_cancel_twice(api, key):
    _, ans = create_ok(api, key)
    assert cancel(api, key, ans["paymentLinkRef"]).status_code == 200
    assert_bad_request(cancel(api, key, ans["paymentLinkRef"]), "The payment link is already cancelled")
    assert history_ids(status_ok(api, key, ans["paymentLinkRef"])) == [RECEIVED, CANCELLED]


def test_cancel_unknown(api, key):
    assert_not_found(cancel(api, key, "NoSuchLinkRef0123456789"))


def test_cancel_another_merchants_link(api, key, make_merchant):
    _, ans = create_ok(api, key)
    other = make_merchant()["apiKey"]
    assert_not_found(cancel(api, other, ans["paymentLinkRef"]))
    assert history_ids(status_ok(api, key, ans["paymentLinkRef"])) == [RECEIVED]
    assert cancel(api, key, ans["paymentLinkRef"]).status_code == 200


def test_cancel_after_open(api, key):
    _, ans = create_ok(api, key, returnPaymentLink=True)
    assert page(api, token_of(ans["paymentLink"])).status_code == 200
    assert_bad_request(
        cancel(api, key, ans["paymentLinkRef"]),
        "The payment link has been opened by the customer and can no longer be cancelled",
    )
    assert history_ids(status_ok(api, key, ans["paymentLinkRef"])) == [RECEIVED, CLICKED]


# ---- the customer page -------------------------------------------------------------------


def assert_page_headers(resp):
    assert resp.headers["Content-Type"].split(";")[0].strip() == "text/html", resp.headers
    csp = resp.headers.get("Content-Security-Policy", "")
    assert csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, csp
    assert "default-src 'none'" in csp, csp
    assert resp.headers.get("Referrer-Policy") == "no-referrer"
    assert resp.headers.get("X-Frame-Options") == "DENY"


def test_page(api, shop, key):
    body, ans = create_ok(api, key, returnPaymentLink=True)
    r = api.get("/p/" + token_of(ans["paymentLink"]))  # no Authorization
    assert r.status_code == 200, r.text
    assert_page_headers(r)
    assert body["orderNumber"] in r.text
    assert shop["name"] in r.text
    assert "ZAR 115.00" in r.text
    # no inline script: the only script is the external enhancement file
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", r.text, re.I | re.S)
    assert scripts, "the page should load its enhancement script"
    assert all('src="/static/chatpay.js"' in attrs and not body.strip() for attrs, body in scripts), scripts
    assert ans["paymentLinkRef"] not in r.text


def test_page_first_open_recorded_once(api, key):
    _, ans = create_ok(api, key, returnPaymentLink=True)
    token = token_of(ans["paymentLink"])
    for _ in range(3):
        assert page(api, token).status_code == 200
    st = status_ok(api, key, ans["paymentLinkRef"])
    assert history_ids(st) == [RECEIVED, CLICKED]
    assert st["transactionStatuses"][-1]["transactionStatusName"] == "PAYMENT_LINK_CLICKED"


def test_page_views_show_changes_at_once(api, cli, shop, key):
    """Each server thread keeps the pages it rendered; a view after a change
    to what the page shows (the merchant's name, the language asked for)
    shows the change, and the time left is counted again on every view."""
    _, ans = create_ok(api, key, returnPaymentLink=True)
    token = token_of(ans["paymentLink"])
    for _ in range(8):  # every server thread has it by now
        r = page(api, token)
        assert r.status_code == 200 and shop["name"] in r.text, r.text
    renamed = f"Renamed Shop {uuid.uuid4().hex[:6]}"
    res = cli("merchant", "update", shop["merchantId"], "--name", renamed)
    assert res.returncode == 0, res.stderr
    for _ in range(8):
        r = page(api, token)
        assert r.status_code == 200, r.text
        assert renamed in r.text and shop["name"] not in r.text, r.text
    french = api.get("/p/" + token, headers={"Accept-Language": "fr"})
    assert french.status_code == 200 and 'lang="fr"' in french.text, french.text
    assert 'lang="en"' in page(api, token).text
    left = [int(re.search(r'data-expires-in="(\d+)"', page(api, token).text).group(1))]
    time.sleep(1.1)
    left.append(int(re.search(r'data-expires-in="(\d+)"', page(api, token).text).group(1)))
    assert left[1] < left[0], left


def test_page_shows_the_link_expiry_when_it_comes_first(api, cli, shop, key):
    """Once opened, the link lives click TTL and its page page TTL; Pay is
    refused when either is over, so the page counts down to the earlier."""
    res = cli("merchant", "update", shop["merchantId"], "--click-ttl", "30s", "--page-ttl", "30m")
    assert res.returncode == 0, res.stderr
    _, ans = create_ok(api, key, returnPaymentLink=True)
    r = page(api, token_of(ans["paymentLink"]))
    assert r.status_code == 200, r.text
    left = int(re.search(r'data-expires-in="(\d+)"', r.text).group(1))
    assert 25 <= left <= 30, left
    assert "30 minutes" not in r.text and "29 minutes" not in r.text, r.text


@pytest.mark.parametrize(
    "agent",
    ["WhatsApp/2.23.20.0 A", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
     "TelegramBot (like TwitterBot)", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
     "Mozilla/5.0 (compatible; Twitterbot/1.0)"],
    ids=["whatsapp", "facebook", "telegram", "slack", "twitter"],
)
def test_page_link_preview_is_not_an_open(api, shop, key, agent):
    body, ans = create_ok(api, key, returnPaymentLink=True)
    r = page(api, token_of(ans["paymentLink"]), user_agent=agent)
    assert r.status_code == 200, r.text
    assert_page_headers(r)
    assert body["orderNumber"] in r.text
    assert history_ids(status_ok(api, key, ans["paymentLinkRef"])) == [RECEIVED]
    # a person opening it afterwards counts
    browser = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36"
    assert page(api, token_of(ans["paymentLink"]), user_agent=browser).status_code == 200
    assert history_ids(status_ok(api, key, ans["paymentLinkRef"])) == [RECEIVED, CLICKED]


def test_page_head_is_not_an_open(api, shop, key):
    # link checkers and monitors ask with HEAD: the page's head, no click
    _, ans = create_ok(api, key, returnPaymentLink=True)
    token = token_of(ans["paymentLink"])
    browser = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36"
    r = api.head("/p/" + token, headers={"User-Agent": browser})
    assert r.status_code == 200 and r.content == b""
    assert_page_headers(r)
    assert history_ids(status_ok(api, key, ans["paymentLinkRef"])) == [RECEIVED]
    assert page(api, token, user_agent=browser).status_code == 200
    assert history_ids(status_ok(api, key, ans["paymentLinkRef"])) == [RECEIVED, CLICKED]
    assert api.head("/p/" + "0000000000000000A").status_code == 404


@pytest.mark.parametrize("token", ["0000000000000000A", "x", "A" * 65], ids=["17", "1", "65"])
def test_page_unknown_token(api, token):
    r = page(api, token)
    assert r.status_code == 404, r.text
    assert_page_headers(r)
    assert "not found" in r.text.lower()


def test_page_ref_is_not_a_token(api, key):
    _, ans = create_ok(api, key, returnPaymentLink=True)
    assert page(api, ans["paymentLinkRef"]).status_code == 404


def test_page_of_cancelled_link(api, shop, key):
    body, ans = create_ok(api, key, returnPaymentLink=True)
    assert cancel(api, key, ans["paymentLinkRef"]).status_code == 200
    r = page(api, token_of(ans["paymentLink"]))
    assert r.status_code == 410, r.text
    assert_page_headers(r)
    assert "cancelled" in r.text.lower()
    assert body["orderNumber"] in r.text
    # not an open
    assert history_ids(status_ok(api, key, ans["paymentLinkRef"])) == [RECEIVED, CANCELLED]
