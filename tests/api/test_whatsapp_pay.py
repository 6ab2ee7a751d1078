"""WhatsApp Pay (docs/whatsapp-pay.md): the account SID, `chatpay whatsapp
number|payment-config`, orders (POST /v1/{sid}/messages), the sandbox
payment page (/wa/{token}), the Kaleyra payment-status lookup with the
publisher's bodies (spec/whatsapp-payment-status.txt, read by wa_helpers),
refunds (partial, concurrent, idempotent, failing) and the signed payment
status callbacks.

Every response is checked against docs/openapi.json by the ApiClient (and
the pages by html_request); the callback bodies against its x-webhooks
entry. All on the session server; the callback receiver is on loopback."""

from __future__ import annotations

import json
import re
import secrets
import string
import uuid
from collections import Counter
from urllib.parse import urlencode

import pytest

from callback_receiver import CallbackReceiver, verify
from cp_helpers import SECRETS, db_exec, db_query, fresh_msisdn, html_request, poll
from payment_flow import assert_html, race
from wa_helpers import (
    WaShop,
    ECHO_FIELDS,
    GATEWAYS,
    MESSAGES,
    METHODS,
    WAIT,
    add_config,
    add_number,
    amount,
    assert_134009,
    assert_order_not_found,
    assert_rbc001,
    assert_schema,
    assert_wa002,
    assert_wa400,
    assert_wa_error,
    cli_ok,
    contract,
    fresh_display,
    fresh_pnid,
    fresh_ref,
    lookup,
    new_shop,
    now,
    order_body,
    outbox,
    page_url,
    params_of,
    pay,
    pay_ok,
    payment_of,
    place_order,
    refund,
    refunds_of,
    send,
    send_ok,
    set_path,
    sid_of,
    wait_message,
    wait_refunds_settled,
    webhook_schema_name,
)

P = "action.parameters"
ORDER = P + ".order"
REFUND_KEYS = {"id", "reference_id", "amount", "speed_processed", "status", "created_timestamp",
               "updated_timestamp"}
BASE62 = string.ascii_letters + string.digits


# ---- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def shop_factory(cli, make_merchant):
    def _make(**kw):
        return new_shop(cli, make_merchant, **kw)

    return _make


@pytest.fixture
def shop(shop_factory):
    return shop_factory()


@pytest.fixture(scope="module")
def vshop(shop_factory):
    """One shop for the validation tests, which store nothing."""
    return shop_factory()


@pytest.fixture(scope="module")
def blank_merchant(make_merchant):
    """A merchant without numbers or configurations (the CLI usage errors
    add none)."""
    return make_merchant()["merchantId"]


@pytest.fixture
def rcv():
    r = CallbackReceiver().start()
    yield r
    r.stop()


def fake_key() -> str:
    return "cp_sandbox_" + "".join(secrets.choice(BASE62) for _ in range(43))


def fake_sid() -> str:
    return sid_of(str(uuid.uuid4()))


def assert_unix_ts(v, lo: int, hi: int | None = None) -> None:
    hi = now() + 2 if hi is None else hi
    assert type(v) is int, f"not an integer Unix timestamp: {v!r}"
    assert lo - 2 <= v <= hi, (v, lo, hi)


def mentions(text: str, minor: int, offset: int = 100) -> bool:
    """Whether text gives an amount, in minor units (7000) or major (70.00)."""
    forms = {str(minor), f"{minor / offset:.2f}"}
    return any(re.search(r"(?<![\d.])" + re.escape(f) + r"(?![\d])", text) for f in forms)


# ---- the CLI --------------------------------------------------------------------------------------


def test_sid_in_merchant_create_and_show(cli, make_merchant):
    for env in (None, "production"):
        m = make_merchant(environment=env)
        assert re.fullmatch(r"HX[0-9A-F]{14}", m["sid"]), m["sid"]
        assert m["sid"] == "HX" + m["merchantId"].replace("-", "")[:14].upper()
        shown = cli_ok(cli, "merchant", "show", m["merchantId"], "--json")
        assert shown["sid"] == m["sid"]


def test_number_add_list_disable(cli, make_merchant):
    m = make_merchant()["merchantId"]
    other = make_merchant()["merchantId"]
    pnid, display = fresh_pnid(), fresh_display()
    added = add_number(cli, m, pnid, display)
    assert added == {"phoneNumberId": pnid, "merchantId": m, "displayNumber": display[1:],
                     "enabled": True}
    # the bounds: 64 digits; 7 and 15 digits, with or without +
    long_id = "9" + "".join(secrets.choice(string.digits) for _ in range(63))
    assert add_number(cli, m, long_id, "1234567")["displayNumber"] == "1234567"
    third = add_number(cli, m, None, "+123456789012345")
    assert third["displayNumber"] == "123456789012345"
    add_number(cli, other)  # another merchant's number is not listed

    listed = cli_ok(cli, "whatsapp", "number", "list", "--merchant", m, "--json")
    assert isinstance(listed, list)
    assert sorted(n["phoneNumberId"] for n in listed) == sorted([pnid, long_id,
                                                                 third["phoneNumberId"]])
    assert all(n["merchantId"] == m and n["enabled"] is True for n in listed), listed
    assert all(set(n) == {"phoneNumberId", "merchantId", "displayNumber", "enabled"}
               for n in listed), listed

    off = cli_ok(cli, "whatsapp", "number", "disable", "--merchant", m, "--phone-number-id", pnid,
                 "--json")
    assert off == {**added, "enabled": False}
    listed = cli_ok(cli, "whatsapp", "number", "list", "--merchant", m, "--json")
    assert [n["enabled"] for n in listed if n["phoneNumberId"] == pnid] == [False]
    on = cli_ok(cli, "whatsapp", "number", "enable", "--merchant", m, "--phone-number-id", pnid,
                "--json")
    assert on == added
    assert cli_ok(cli, "whatsapp", "number", "list", "--merchant", make_merchant()["merchantId"],
                  "--json") == []


def test_payment_config_add_list_disable(cli, make_merchant):
    m = make_merchant()["merchantId"]
    names = {}
    for gw in GATEWAYS:
        name = f"{gw}-Cfg_{uuid.uuid4().hex[:6]}"
        got = add_config(cli, m, name, gw)
        assert got == {"name": name, "merchantId": m, "gateway": gw, "enabled": True}
        names[name] = gw
    long_name = "N" * 64
    assert add_config(cli, m, long_name, "sandbox")["name"] == long_name
    names[long_name] = "sandbox"
    # the name is unique per merchant only
    other = make_merchant()["merchantId"]
    assert add_config(cli, other, long_name, "payu")["merchantId"] == other

    listed = cli_ok(cli, "whatsapp", "payment-config", "list", "--merchant", m, "--json")
    assert {c["name"]: c["gateway"] for c in listed} == names
    assert all(c["merchantId"] == m and c["enabled"] is True for c in listed), listed
    assert all(set(c) == {"name", "merchantId", "gateway", "enabled"} for c in listed), listed

    off = cli_ok(cli, "whatsapp", "payment-config", "disable", "--merchant", m, "--name",
                 long_name, "--json")
    assert off == {"name": long_name, "merchantId": m, "gateway": "sandbox", "enabled": False}
    listed = cli_ok(cli, "whatsapp", "payment-config", "list", "--merchant", m, "--json")
    assert [c["enabled"] for c in listed if c["name"] == long_name] == [False]
    on = cli_ok(cli, "whatsapp", "payment-config", "enable", "--merchant", m, "--name",
                long_name, "--json")
    assert on == {**off, "enabled": True}
    other_list = cli_ok(cli, "whatsapp", "payment-config", "list", "--merchant", other, "--json")
    assert [(c["name"], c["enabled"]) for c in other_list] == [(long_name, True)]


USAGE_ERRORS = {
    "pnid-letters": ["number", "add", "--phone-number-id", "12a4", "--display-number", "+911234567"],
    "pnid-empty": ["number", "add", "--phone-number-id", "", "--display-number", "+911234567"],
    "pnid-65": ["number", "add", "--phone-number-id", "1" * 65, "--display-number", "+911234567"],
    "pnid-missing": ["number", "add", "--display-number", "+911234567"],
    "display-6": ["number", "add", "--phone-number-id", "PNID", "--display-number", "123456"],
    "display-16": ["number", "add", "--phone-number-id", "PNID", "--display-number", "1" * 16],
    "display-letters": ["number", "add", "--phone-number-id", "PNID", "--display-number", "+91abc45678"],
    "display-missing": ["number", "add", "--phone-number-id", "PNID"],
    "disable-pnid-bad": ["number", "disable", "--phone-number-id", "x1"],
    "enable-pnid-missing": ["number", "enable"],
    "enable-display": ["number", "enable", "--phone-number-id", "PNID", "--display-number",
                       "+911234567"],
    "gateway-unknown": ["payment-config", "add", "--name", "ok-name", "--gateway", "stripe"],
    "gateway-missing": ["payment-config", "add", "--name", "ok-name"],
    "name-space": ["payment-config", "add", "--name", "bad name", "--gateway", "payu"],
    "name-slash": ["payment-config", "add", "--name", "a/b", "--gateway", "payu"],
    "name-65": ["payment-config", "add", "--name", "n" * 65, "--gateway", "payu"],
    "name-empty": ["payment-config", "add", "--name", "", "--gateway", "payu"],
    "disable-name-bad": ["payment-config", "disable", "--name", "a.b"],
    "enable-name-missing": ["payment-config", "enable"],
}


@pytest.mark.parametrize("args", list(USAGE_ERRORS.values()), ids=list(USAGE_ERRORS))
def test_whatsapp_usage_errors_exit_2(cli, blank_merchant, args):
    m = blank_merchant
    args = [fresh_pnid() if a == "PNID" else a for a in args]
    res = cli("whatsapp", *args, "--merchant", m, "--json")
    assert res.returncode == 2, res
    assert res.stdout == "" and res.stderr.strip(), res
    # nothing was added
    what = args[0]
    assert cli_ok(cli, "whatsapp", what, "list", "--merchant", m, "--json") == []


def test_whatsapp_missing_merchant_is_a_usage_error(cli):
    res = cli("whatsapp", "number", "list", "--json")
    assert res.returncode == 2 and res.stdout == "", res


def test_whatsapp_runtime_errors_exit_1(cli, make_merchant):
    m, other = make_merchant()["merchantId"], make_merchant()["merchantId"]
    unknown = str(uuid.uuid4())
    pnid = add_number(cli, m)["phoneNumberId"]
    cfg = add_config(cli, m)["name"]

    def fails(*args):
        res = cli("whatsapp", *args, "--json")
        assert res.returncode == 1, (args, res)
        assert res.stdout == "" and res.stderr.strip(), (args, res)

    # a phone number id is unique across chatpay
    fails("number", "add", "--merchant", m, "--phone-number-id", pnid, "--display-number",
          fresh_display())
    fails("number", "add", "--merchant", other, "--phone-number-id", pnid, "--display-number",
          fresh_display())
    # a configuration name is unique per merchant
    fails("payment-config", "add", "--merchant", m, "--name", cfg, "--gateway", "payu")
    # no such merchant
    fails("number", "add", "--merchant", unknown, "--phone-number-id", fresh_pnid(),
          "--display-number", fresh_display())
    fails("payment-config", "add", "--merchant", unknown, "--name", "x", "--gateway", "payu")
    fails("number", "list", "--merchant", unknown)
    fails("payment-config", "list", "--merchant", unknown)
    # nothing to disable
    fails("number", "disable", "--merchant", other, "--phone-number-id", pnid)
    fails("payment-config", "disable", "--merchant", other, "--name", cfg)
    # nothing to enable
    fails("number", "enable", "--merchant", other, "--phone-number-id", pnid)
    fails("payment-config", "enable", "--merchant", other, "--name", cfg)
    # nothing changed
    [n] = cli_ok(cli, "whatsapp", "number", "list", "--merchant", m, "--json")
    assert n["phoneNumberId"] == pnid and n["enabled"] is True
    assert cli_ok(cli, "whatsapp", "number", "list", "--merchant", other, "--json") == []
    [c] = cli_ok(cli, "whatsapp", "payment-config", "list", "--merchant", m, "--json")
    assert c["name"] == cfg and c["gateway"] == "razorpay" and c["enabled"] is True


# ---- sending an order ----------------------------------------------------------------------


def test_order_accepted_and_sent(api, server, http, shop):
    body = order_body(shop, body="Chai Point: your order of 3 items", footer="Thanks, see you")
    acc = send_ok(api, shop, body)
    assert set(acc) == {"id", "data", "total_count"} and acc["total_count"] == 1, acc
    [d] = acc["data"]
    assert d == {"message_id": d["message_id"], "recipient": body["to"].lstrip("+"),
                 "reference_id": params_of(body)["reference_id"]}, d
    assert isinstance(acc["id"], str) and acc["id"] and d["message_id"], acc

    msgs = poll(lambda: outbox(api, shop.key, body["to"]), lambda m: bool(m), WAIT)
    assert len(msgs) == 1, msgs
    msg = msgs[0]
    assert msg["channel"] == "WHATSAPP" and msg["to"] == body["to"].lstrip("+"), msg
    text = msg["text"]
    assert body["body"] in text and body["footer"] in text, text
    assert text.index(body["body"]) < text.index(body["footer"]), text
    m = re.search(r"(https?://[^\s/]+)?/wa/([0-9A-Za-z_-]+)", text)
    assert m, text
    token = m.group(2)

    page = html_request(http, "GET", page_url(server.base_url, token))
    assert_html(page, 200)
    assert params_of(body)["reference_id"] in page.text and body["body"] in page.text
    form = page.doc.find("form")
    assert form is not None and form.attrs.get("method", "").lower() == "post", page.text[:600]
    radios = {}
    for i in form.find_all("input"):
        if i.attrs.get("type") == "radio":
            radios.setdefault(i.attrs["name"], set()).add(i.attrs["value"])
    assert radios == {"method": set(METHODS), "outcome": {"success", "failure", "pending"}}, radios
    # the order waits for its payment
    p = payment_of(api, shop, params_of(body)["reference_id"])
    assert p["status"] == "pending" and p["transactions"] == [], p


def test_order_is_sent_from_the_number_it_names(api, cli, shop):
    """The order's `from` is the message's sender: with two numbers, each
    order goes out from the one it names (the sandbox outbox records the
    sender, digits only), not from the provider's default one."""
    second = fresh_display()
    add_number(cli, shop.id, display=second)
    for frm in (shop.display, second):
        o = place_order(api, shop, order_body(shop) | {"from": frm})
        assert o.message["from"] == frm.lstrip("+"), o.message


def test_order_as_form(api, shop):
    body = order_body(shop)
    acc = send_ok(api, shop, body, form=True)
    assert acc["data"][0]["reference_id"] == params_of(body)["reference_id"]
    p = payment_of(api, shop, params_of(body)["reference_id"])
    assert p["total_amount"] == params_of(body)["total_amount"] and p["currency"] == "INR", p
    # a form whose action is not JSON text names action
    bad = dict(order_body(shop), action="{not json")
    assert_wa400(send(api, shop, bad, form=True), ["action"])


def test_order_text_must_be_utf8(api, shop):
    # bytes that are not UTF-8 would make the payment's JSON invalid
    body = order_body(shop, extra={"notes": {"k": "MARK"}})
    raw = json.dumps(body).encode().replace(b'"MARK"', b'"\xff\xfe"')
    path = MESSAGES.format(sid=shop.sid)
    r = api.post(path, headers={**shop.headers(), "Content-Type": "application/json"}, data=raw)
    assert_wa400(r, ["body"])
    form = urlencode({k: (json.dumps(v) if k == "action" else v) for k, v in body.items()}).encode()
    form = form.replace(b"MARK", b"%FF%FE")
    r = api.post(path, data=form, headers={**shop.headers(),
                                           "Content-Type": "application/x-www-form-urlencoded"})
    assert_wa400(r, ["action"])
    assert_order_not_found(lookup(api, shop, params_of(body)["reference_id"]),
                           params_of(body)["reference_id"])


REQUIRED = [
    "to", "from", "channel", "type", "body", "action", "action.name", P,
    P + ".reference_id", P + ".type", P + ".payment_configuration", P + ".currency",
    P + ".total_amount", P + ".total_amount.value", P + ".total_amount.offset", ORDER,
    ORDER + ".status", ORDER + ".items", ORDER + ".subtotal", ORDER + ".items.0.retailer_id",
    ORDER + ".items.0.name", ORDER + ".items.0.amount", ORDER + ".items.0.quantity",
]


@pytest.mark.parametrize("path", REQUIRED)
def test_order_missing_field(api, vshop, path):
    shop = vshop
    full = order_body(shop)
    ref = params_of(full)["reference_id"]
    assert_wa400(send(api, shop, set_path(full, path, None, drop=True)), [path])
    # nothing was stored
    assert_order_not_found(lookup(api, shop, ref), ref)


def _rule_cases():
    long = "x" * 257
    c = {}

    def case(name, expected, path=None, value=None, build=None):
        c[name] = (path, value, build, expected)

    case("to-short", ["to"], "to", "+123456")
    case("to-16", ["to"], "to", "+" + "1" * 16)
    case("to-letters", ["to"], "to", "+91abc4567890")
    case("from-not-msisdn", ["from"], "from", "business")
    case("channel-sms", ["channel"], "channel", "sms")
    case("channel-capitalised", ["channel"], "channel", "WhatsApp")  # the rule is `whatsapp`
    case("type-text", ["type"], "type", "text")
    case("body-empty", ["body"], "body", "")
    case("body-1025", ["body"], "body", "b" * 1025)
    case("footer-61", ["footer"], "footer", "f" * 61)
    case("action-not-object", ["action"], "action", [1])
    case("action-name", ["action.name"], "action.name", "review_and_order")
    case("ref-space", [P + ".reference_id"], P + ".reference_id", "order 1")
    case("ref-slash", [P + ".reference_id"], P + ".reference_id", "order/1")
    case("ref-36", [P + ".reference_id"], P + ".reference_id", "r" * 36)
    case("ref-empty", [P + ".reference_id"], P + ".reference_id", "")
    case("params-type", [P + ".type"], P + ".type", "services")
    case("config-bad-chars", [P + ".payment_configuration"], P + ".payment_configuration", "a b")
    case("currency-lower", [P + ".currency"], P + ".currency", "inr")
    case("currency-unknown", [P + ".currency"], P + ".currency", "XYZ")
    case("order-status", [ORDER + ".status"], ORDER + ".status", "paid")
    case("items-empty", [ORDER + ".items"], ORDER + ".items", [])
    case("retailer-101", [ORDER + ".items.0.retailer_id"], ORDER + ".items.0.retailer_id", "r" * 101)
    case("item-name-61", [ORDER + ".items.1.name"], ORDER + ".items.1.name", "n" * 61)
    case("item-name-empty", [ORDER + ".items.0.name"], ORDER + ".items.0.name", "")
    case("quantity-0", [ORDER + ".items.0.quantity"],
         build=lambda s: order_body(s, items=[(4500, 0), (1000, 1)]))
    case("quantity-10001", [ORDER + ".items.0.quantity"],
         build=lambda s: order_body(s, items=[(1, 10001)]))
    case("notes-number", [P + ".notes"], P + ".notes", {"key1": "value1", "key2": 5})
    case("notes-null", [P + ".notes"], P + ".notes", {"key1": None})
    case("notes-16", [P + ".notes"], P + ".notes", {f"k{i}": "v" for i in range(16)})
    case("note-257", [P + ".notes"], P + ".notes", {"k": long})
    case("notes-array", [P + ".notes"], P + ".notes", ["a"])
    case("note-257-characters", [P + ".notes"], P + ".notes", {"k": "é" * 257})
    case("note-name-257-characters", [P + ".notes"], P + ".notes", {"✓" * 257: "v"})
    case("note-control", [P + ".notes"], P + ".notes", {"k": "bell\u0007"})
    case("note-c1-control", [P + ".notes"], P + ".notes", {"k": "next\u0085line"})
    case("note-name-control", [P + ".notes"], P + ".notes", {"esc\u001b[31m": "v"})
    case("receipt-101", [P + ".receipt"], P + ".receipt", "r" * 101)
    for f in ("udf1", "udf4", "additional_info1", "additional_info7"):
        case(f + "-257", [P + "." + f], P + "." + f, long)
    case("udf2-number", [P + ".udf2"], P + ".udf2", 7)
    all_amounts = [P + ".total_amount", ORDER + ".subtotal", ORDER + ".tax",
                   ORDER + ".items.0.amount", ORDER + ".items.1.amount"]
    case("inr-offset-1", all_amounts, build=lambda s: order_body(s, offset=1))
    case("jpy-offset-100", all_amounts, build=lambda s: order_body(s, currency="JPY", offset=100))
    case("tax-offset", [ORDER + ".tax"], ORDER + ".tax", amount(1000, 10))
    case("value-fraction", [P + ".total_amount"], P + ".total_amount", {"value": 11000.5,
                                                                         "offset": 100})
    case("value-string", [ORDER + ".subtotal"], ORDER + ".subtotal", {"value": "10000",
                                                                        "offset": 100})

    def not_adding_up(s):
        b = order_body(s)
        p = params_of(b)
        p["order"]["subtotal"]["value"] += 1
        p["total_amount"]["value"] += 1
        return b

    case("items-not-subtotal", [ORDER + ".subtotal"], build=not_adding_up)

    def worth(items, subtotal):
        # items whose amounts times quantities pass the largest amount; with
        # 64-bit arithmetic that wraps, the first adds up to 8384
        def build(s):
            b = order_body(s, items=items)
            p = params_of(b)
            p["order"]["subtotal"] = amount(subtotal)
            p["total_amount"] = amount(subtotal + 1000)
            return b
        return build

    top = 999999999999999
    case("items-wrap-around", [ORDER + ".items"],
         build=worth([(top, 10000), (844674407370957, 10000)], 8384))
    case("items-over-max", [ORDER + ".items"], build=worth([(top - 1000, 1), (1001, 1)], top - 1000))
    case("total-not-sum", [P + ".total_amount"], P + ".total_amount", amount(11001))
    case("total-without-tax", [P + ".total_amount"],
         build=lambda s: set_path(order_body(s), ORDER + ".tax", None, drop=True))
    return c


RULES = _rule_cases()


@pytest.mark.parametrize("case", list(RULES), ids=list(RULES))
def test_order_field_rule(api, vshop, case):
    shop = vshop
    path, value, build, expected = RULES[case]
    body = build(shop) if build else set_path(order_body(shop), path, value)
    ref = params_of(body).get("reference_id") if isinstance(body["action"], dict) else None
    assert_wa400(send(api, shop, body), expected)
    if isinstance(ref, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,35}", ref):
        assert_order_not_found(lookup(api, shop, ref), ref)


def test_every_problem_at_once(api, shop):
    b = order_body(shop)
    b["to"] = "12"
    b["channel"] = "sms"
    b["type"] = "interactive"
    del b["body"]
    b["footer"] = "f" * 61
    b["action"]["name"] = "pay"
    p = params_of(b)
    p["reference_id"] = "bad ref"
    p["type"] = "services"
    p["order"]["items"][0]["name"] = "n" * 61
    p["notes"] = {"a": 5}
    p["udf1"] = "u" * 257
    p["receipt"] = "r" * 101
    p["order"]["status"] = "paid"
    assert_wa400(send(api, shop, b), [
        "to", "channel", "type", "body", "footer", "action.name", P + ".reference_id",
        P + ".type", ORDER + ".items.0.name", P + ".notes", P + ".udf1", P + ".receipt",
        ORDER + ".status"])
    # and the amounts: a wrong sum, an offset that is not JPY's, a long name
    b = order_body(shop, currency="JPY", offset=1, items=[(450, 2), (100, 1)], tax=50)
    p = params_of(b)
    p["order"]["subtotal"]["value"] += 1
    p["total_amount"]["value"] += 1
    p["order"]["tax"]["offset"] = 100
    p["order"]["items"][1]["name"] = "n" * 61
    assert_wa400(send(api, shop, b), [ORDER + ".subtotal", ORDER + ".tax", ORDER + ".items.1.name"])


def test_limits_are_accepted(api, shop):
    """Each bound of the field table, at the bound."""
    ref = "R" * 20 + "_.-" + "9" * 12
    assert len(ref) == 35
    extra = {"receipt": "r" * 100, "notes": {f"k{i}": "v" * 256 for i in range(15)},
             **{f: "u" * 256 for f in ECHO_FIELDS if f not in ("receipt", "notes")}}
    b = order_body(shop, ref=ref, to="1234567", body="b" * 1024, footer="f" * 60, extra=extra)
    params_of(b)["order"]["items"][0].update(name="n" * 60, retailer_id="s" * 100)
    params_of(b)["type"] = "physical-goods"
    acc = send_ok(api, shop, b)
    assert acc["data"][0]["recipient"] == "1234567"
    p = payment_of(api, shop, ref)
    for f in ECHO_FIELDS:
        assert p[f] == params_of(b)[f], f
    # 15 digits with +; JPY in whole yen; no tax, no footer, quantity 10000
    b = order_body(shop, to="+123456789012345", currency="JPY", offset=1, items=[(300, 10000)],
                   tax=None, footer=None)
    assert send_ok(api, shop, b)["data"][0]["recipient"] == "123456789012345"
    p = payment_of(api, shop, params_of(b)["reference_id"])
    assert p["currency"] == "JPY" and p["total_amount"] == {"value": 3000000, "offset": 1}, p


def test_body_media_type_and_size(api, shop):
    body = order_body(shop)
    ref = params_of(body)["reference_id"]
    r = send(api, shop, "{not json", headers={"Content-Type": "application/json"})
    b = assert_wa_error(r, 400, "WA400", "Validation failed")
    assert b["error"], b
    r = api.post(f"/v1/{shop.sid}/messages", headers={**shop.headers(), "Content-Type": "text/plain"},
                 data=json.dumps(body))
    assert_wa_error(r, 415, "WA415")
    # at most 64 KiB: a body just over is refused whole
    big = set_path(body, P + ".udf1", "u" * 200)
    big["padding"] = "p" * (64 * 1024)
    assert_wa_error(send(api, shop, big), 413, "WA413")
    assert_order_not_found(lookup(api, shop, ref), ref)


def test_notes_are_counted_in_characters(api, shop):
    """notes: "names and values at most 256 characters each": characters,
    not bytes (as for udf1…, receipt); tab and newline are text."""
    notes = {"✓" * 256: "é" * 256, "k": "₹" * 256, "lines": "one\ntwo\tthree"}
    body = order_body(shop, extra={"notes": notes, "udf1": "é" * 256})
    send_ok(api, shop, body)
    p = payment_of(api, shop, params_of(body)["reference_id"])
    assert p["notes"] == notes and p["udf1"] == "é" * 256, p


def test_note_names_are_free(api, shop):
    """notes: "an object of at most 15 string values (each at most 256
    characters)" — the doc sets no limit on the names."""
    notes = {"n" * 100: "v", "key with spaces ✓": "w"}
    body = order_body(shop, extra={"notes": notes})
    send_ok(api, shop, body)
    assert payment_of(api, shop, params_of(body)["reference_id"])["notes"] == notes


def test_from_must_be_a_registered_enabled_number(api, cli, shop, shop_factory):
    other = shop_factory()
    for frm in (fresh_display(), other.display):
        assert_wa400(send(api, shop, dict(order_body(shop), **{"from": frm})), ["from"])
    # the number registered without + is matched with or without it
    send_ok(api, shop, dict(order_body(shop), **{"from": shop.display.lstrip("+")}))
    cli_ok(cli, "whatsapp", "number", "disable", "--merchant", shop.id, "--phone-number-id",
           shop.pnid, "--json")
    body = order_body(shop)
    assert_wa400(send(api, shop, body), ["from"])
    assert_wa002(lookup(api, shop, params_of(body)["reference_id"]))


def test_a_customer_who_opted_out_is_refused_on_to(api, cli, server, shop):
    """As for payment links: a number that replied STOP to this merchant gets
    no order (400 on `to`, with the other problems); START lets it through."""
    to = "+" + fresh_msisdn()
    res = cli("optout", "add", "--merchant", shop.id, "--number", to, "--db", server.db_url)
    assert res.returncode == 0, res.stderr
    body = order_body(shop, to=to)
    assert_wa400(send(api, shop, body), ["to"])
    body["footer"] = "f" * 61
    assert_wa400(send(api, shop, body), ["to", "footer"])
    res = cli("optout", "remove", "--merchant", shop.id, "--number", to, "--db", server.db_url)
    assert res.returncode == 0, res.stderr
    send_ok(api, shop, order_body(shop, to=to))


def whatsapp_channel(api, cli, shop: WaShop, on: bool) -> None:
    """Switch the merchant's WhatsApp channel (GET /api/v2/config's
    whatsappChannelEnabled) on or off."""
    res = cli("merchant", "update", shop.id, "--channels", "sms,whatsapp" if on else "sms")
    assert res.returncode == 0, res.stderr
    r = api.get("/api/v2/config", key=shop.key)
    assert r.status_code == 200 and r.body["whatsappChannelEnabled"] is on, r.text


def test_an_order_is_refused_while_the_whatsapp_channel_is_off(api, cli, shop):
    """As a payment link on a channel the merchant has switched off: 400 on
    `channel`, with the other problems; nothing stored, nothing sent."""
    whatsapp_channel(api, cli, shop, False)
    body = order_body(shop)
    err = assert_wa400(send(api, shop, body), ["channel"])
    assert "not enabled" in err["channel"], err
    bad = dict(body, footer="f" * 61)
    assert_wa400(send(api, shop, bad), ["channel", "footer"])
    ref = params_of(body)["reference_id"]
    assert_order_not_found(lookup(api, shop, ref), ref)
    assert outbox(api, shop.key, body["to"]) == []
    whatsapp_channel(api, cli, shop, True)
    place_order(api, shop, body)


def test_an_order_is_not_sent_once_the_whatsapp_channel_is_off(api, cli, server, shop):
    """The send job looks at the switch again: an order accepted (202)
    before the merchant switched WhatsApp off is not sent when its job runs
    after it, and its message is recorded as failed. (The job is run again
    on an order put back to "queued", as if it had not run before the
    switch.)"""
    o = place_order(api, shop)
    [(oid, state)] = db_query(server.db_url, "SELECT id, message_state FROM wa_orders"
                              " WHERE merchant_id = ? AND reference_id = ?", (shop.id, o.ref))
    assert state == 1, state  # sent
    whatsapp_channel(api, cli, shop, False)
    assert db_exec(server.db_url, "UPDATE wa_orders SET message_state = 0 WHERE id = ?",
                   (oid,)) == 1
    assert db_exec(server.db_url, "UPDATE jobs SET done_at = 0, run_at = 0, attempts = 0,"
                                  " retried = 0, locked_until = 0 WHERE kind = 13 AND arg = ?"
                                  " AND merchant_id = ?", (oid, shop.id)) == 1
    q = "SELECT message_state FROM wa_orders WHERE id = ?"
    rows = poll(lambda: db_query(server.db_url, q, (oid,)), lambda r: r[0][0] != 0, WAIT)
    assert rows == [(2,)], rows  # failed, not sent
    assert [m["status"] for m in outbox(api, shop.key, o.body["to"])] == ["SENT"]


def test_payment_configuration_must_be_an_enabled_one(api, cli, shop, shop_factory):
    other = shop_factory()
    for cfg in ("no-such-config", other.config):
        body = order_body(shop, extra={"payment_configuration": cfg})
        assert_wa400(send(api, shop, body), [P + ".payment_configuration"])
    cli_ok(cli, "whatsapp", "payment-config", "disable", "--merchant", shop.id, "--name",
           shop.config, "--json")
    body = order_body(shop)
    assert_wa400(send(api, shop, body), [P + ".payment_configuration"])
    assert_134009(lookup(api, shop, params_of(body)["reference_id"]))


def test_unregistered_number_and_configuration_reported_with_the_other_problems(api, shop):
    """docs/whatsapp-pay.md: "Every problem is reported at once" — `from`
    and `payment_configuration` are rules of the same field table."""
    body = order_body(shop, extra={"payment_configuration": "no-such-config"})
    body["from"] = fresh_display()
    assert_wa400(send(api, shop, body), ["from", P + ".payment_configuration"])
    body["footer"] = "f" * 61
    assert_wa400(send(api, shop, body), ["from", P + ".payment_configuration", "footer"])


def test_duplicate_reference_is_409(api, shop, shop_factory):
    body = order_body(shop)
    ref = params_of(body)["reference_id"]
    send_ok(api, shop, body)
    again = order_body(shop, ref=ref, to="+" + fresh_msisdn())
    r = send(api, shop, again)
    assert_wa_error(r, 409, "WA409", "Duplicate reference_id", ("reference_id",))
    # the first order is unchanged, and nothing went to the second customer
    wait_message(api, shop.key, body["to"], "/wa/")
    p = payment_of(api, shop, ref)
    assert p["total_amount"] == params_of(body)["total_amount"], p
    # a reference is unique per merchant only
    other = shop_factory()
    send_ok(api, other, order_body(other, ref=ref))
    assert outbox(api, shop.key, again["to"]) == []


def test_production_merchant_is_403(api, shop_factory):
    live = shop_factory(environment="production")
    assert live.key.startswith("cp_live_"), live.key[:12]
    body = order_body(live)
    r = send(api, live, body)
    b = assert_wa_error(r, 403, "WA403", members=("error",))
    assert b["error"]["error"], b
    # nothing was stored
    assert_order_not_found(lookup(api, live, params_of(body)["reference_id"]),
                           params_of(body)["reference_id"])


@pytest.fixture
def bad_auth(cli, shop, shop_factory):
    """(sid, headers) pairs that must each be answered RBC001 for `shop`'s path."""
    other = shop_factory()
    extra = cli_ok(cli, "apikey", "create", "--merchant", shop.id, "--json")
    SECRETS.api_keys.add(extra["apiKey"])
    res = cli("apikey", "revoke", extra["apiKeyId"])
    assert res.returncode == 0, res.stderr
    return {
        "wrong-sid": (fake_sid(), shop.headers()),
        "other-merchants-sid": (other.sid, shop.headers()),
        "lower-case-sid": (shop.sid.lower(), shop.headers()),
        "no-key": (shop.sid, {}),
        "empty-key": (shop.sid, {"api-key": ""}),
        "unknown-key": (shop.sid, {"api-key": fake_key()}),
        "revoked-key": (shop.sid, {"api-key": extra["apiKey"]}),
        "other-merchants-key": (shop.sid, {"api-key": other.key}),
        "key-as-authorization": (shop.sid, {"Authorization": shop.key}),
        "bearer-authorization": (shop.sid, {"Authorization": "Bearer " + shop.key}),
    }


def test_messages_401(api, shop, bad_auth):
    for name, (sid, headers) in bad_auth.items():
        body = order_body(shop)
        r = api.post(f"/v1/{sid}/messages", headers=headers, json=body)
        assert_rbc001(r, name)
        assert_order_not_found(lookup(api, shop, params_of(body)["reference_id"]),
                               params_of(body)["reference_id"])


# ---- the lookup ----------------------------------------------------------------------------------


def test_lookup_before_payment_echoes_what_was_given(api, shop):
    given = {"receipt": "rcpt-1001", "notes": {"key1": "value1", "key2": "ünïcødé ✓", "k3": ""},
             "udf1": "customer-77", "udf2": "  spaced  ", "udf3": "a\"b\\c", "udf4": "4",
             **{f"additional_info{i}": f"info {i}" for i in range(1, 8)}}
    body = order_body(shop, extra=given)
    send_ok(api, shop, body)
    p = payment_of(api, shop, params_of(body)["reference_id"])
    assert p["reference_id"] == params_of(body)["reference_id"]
    assert p["status"] == "pending" and p["transactions"] == []
    assert p["currency"] == "INR" and p["total_amount"] == {"value": 11000, "offset": 100}
    for k, v in given.items():
        assert p[k] == v, k
    assert set(p) == {"reference_id", "status", "currency", "total_amount", "transactions",
                      *given}


def test_lookup_leaves_out_what_was_not_given(api, shop):
    body = order_body(shop, extra={"udf3": "only this", "notes": {}})
    send_ok(api, shop, body)
    p = payment_of(api, shop, params_of(body)["reference_id"])
    assert set(p) == {"reference_id", "status", "currency", "total_amount", "transactions",
                      "udf3", "notes"}, p
    assert p["udf3"] == "only this" and p["notes"] == {}


def test_lookup_wa002(api, cli, shop, shop_factory):
    order = send_ok(api, shop, order_body(shop))
    ref = order["data"][0]["reference_id"]
    other = shop_factory()
    for pnid in (fresh_pnid(), other.pnid, "0"):
        assert_wa002(lookup(api, shop, ref, pnid=pnid))
    # a second number of the account is known: the order is not found with it
    second = add_number(cli, shop.id)["phoneNumberId"]
    assert_order_not_found(lookup(api, shop, ref, pnid=second), ref)
    cli_ok(cli, "whatsapp", "number", "disable", "--merchant", shop.id, "--phone-number-id",
           shop.pnid, "--json")
    # a disabled number is not registered for what it did not send (its own
    # orders stay found: test_a_disabled_number_or_configuration_keeps_its_orders)
    assert payment_of(api, shop, ref)["reference_id"] == ref
    assert_wa002(lookup(api, shop, fresh_ref()))


def test_lookup_134009(api, cli, shop, shop_factory):
    ref = send_ok(api, shop, order_body(shop))["data"][0]["reference_id"]
    other = shop_factory()
    traces = set()
    for cfg in ("no-such-config", other.config, shop.config.upper() + "X"):
        traces.add(assert_134009(lookup(api, shop, ref, cfg=cfg))["fbtrace_id"])
    assert len(traces) == 3, f"fbtrace_id is not fresh per answer: {traces}"
    second = add_config(cli, shop.id, gateway="payu")["name"]
    assert_order_not_found(lookup(api, shop, ref, cfg=second), ref)
    cli_ok(cli, "whatsapp", "payment-config", "disable", "--merchant", shop.id, "--name",
           shop.config, "--json")
    assert payment_of(api, shop, ref)["reference_id"] == ref
    assert_134009(lookup(api, shop, fresh_ref()))


def test_lookup_unknown_reference(api, shop, shop_factory):
    for ref in (fresh_ref(), "x"):
        assert_order_not_found(lookup(api, shop, ref), ref)
    # another merchant's order with the same reference is not this one's
    other = shop_factory()
    ref = send_ok(api, other, order_body(other))["data"][0]["reference_id"]
    assert_order_not_found(lookup(api, shop, ref), ref)


def test_lookup_401(api, shop, bad_auth):
    ref = send_ok(api, shop, order_body(shop))["data"][0]["reference_id"]
    for name, (sid, headers) in bad_auth.items():
        r = api.get(f"/v1/{sid}/wrapper/{shop.pnid}/payments/{shop.config}/{ref}", headers=headers)
        assert_rbc001(r, name)
    # an unknown number, configuration or reference does not come before the key
    r = api.get(f"/v1/{shop.sid}/wrapper/1/payments/nope/{fresh_ref()}", headers={})
    assert_rbc001(r)


def test_lookup_has_the_contracts_fields(api, server, http, shop):
    """The 200 body member for member as the contract's sample: every
    optional member given, a failed try (with error), a successful one
    (with a refund)."""
    sample = contract()["success"]
    sp = sample["payments"][0]
    st = sp["transactions"][0]
    extra = {k: f"{k}-value" for k in sp if k.startswith(("receipt", "udf", "additional_info"))}
    extra["notes"] = sp["notes"]
    o = place_order(api, shop, order_body(shop, extra=extra))
    pay_ok(http, server.base_url, o.token, method="card", outcome="failure", error_code="E1",
           error_reason="declined")
    pay_ok(http, server.base_url, o.token, method="upi")
    assert refund(api, shop, o.ref, 100, speed="instant").status_code == 201
    body = lookup(api, shop, o.ref).body
    assert set(body) == set(sample)
    [p] = body["payments"]
    assert set(p) == set(sp), (sorted(p), sorted(sp))
    assert set(p["total_amount"]) == set(sp["total_amount"])
    failed, ok = p["transactions"]
    assert set(failed) == set(st), (sorted(failed), sorted(st))
    assert set(ok) == set(st) - {"error"}, sorted(ok)
    assert set(failed["error"]) == set(st["error"]) and set(ok["method"]) == set(st["method"])
    [rf] = ok["refunds"]
    assert set(rf) == set(st["refunds"][0]) and set(rf["amount"]) == set(st["refunds"][0]["amount"])
    assert p["notes"] == sp["notes"] and all(p[k] == v for k, v in extra.items())
    # the contract's value sets
    assert ok["type"] in st["type"].split("/") or ok["type"] == "sandbox"
    assert ok["method"]["type"] in st["method"]["type"].split("/")
    assert rf["speed_processed"] in st["refunds"][0]["speed_processed"].split("/")


# ---- paying on the sandbox page ----------------------------------------------------------------


METHOD_GATEWAY = {"upi": "razorpay", "card": "payu", "netbanking": "billdesk", "wallet": "zaakpay"}


@pytest.mark.parametrize("method", METHODS)
def test_full_payment_path(api, server, http, shop_factory, method):
    shop = shop_factory(gateway=METHOD_GATEWAY[method])
    t0 = now()
    o = place_order(api, shop)
    assert_html(html_request(http, "GET", page_url(server.base_url, o.token)), 200)
    pay_ok(http, server.base_url, o.token, method=method)
    p = payment_of(api, shop, o.ref)
    assert p["status"] == "captured", p
    [t] = p["transactions"]
    assert t["type"] == METHOD_GATEWAY[method] and t["status"] == "success", t
    assert t["method"] == {"type": method} and t["refunds"] == [], t
    assert "error" not in t, t
    assert isinstance(t["id"], str) and t["id"], t
    assert_unix_ts(t["created_timestamp"], t0)
    assert_unix_ts(t["updated_timestamp"], t["created_timestamp"])
    # the page now says it is paid and has no form
    page = html_request(http, "GET", page_url(server.base_url, o.token))
    assert_html(page, 200)
    assert page.doc.find("form") is None, page.text[:800]
    # paying again is refused, nothing recorded
    again = pay(http, server.base_url, o.token, method="wallet")
    assert_html(again, 409)
    assert payment_of(api, shop, o.ref) == p


def test_failure_then_success(api, server, http, shop_factory):
    shop = shop_factory(gateway="sandbox")
    o = place_order(api, shop)
    pay_ok(http, server.base_url, o.token, method="card", outcome="failure",
           error_code="BAD_REQUEST_ERROR", error_reason="Payment declined by the bank")
    p = payment_of(api, shop, o.ref)
    assert p["status"] == "failed", p
    [t] = p["transactions"]
    assert t["status"] == "failed" and t["type"] == "sandbox" and t["method"] == {"type": "card"}
    assert t["error"] == {"code": "BAD_REQUEST_ERROR", "reason": "Payment declined by the bank"}
    assert t["refunds"] == []
    # the page shows the failure and lets the customer try again
    page = html_request(http, "GET", page_url(server.base_url, o.token))
    assert_html(page, 200)
    assert "Payment declined by the bank" in page.text and page.doc.find("form") is not None
    pay_ok(http, server.base_url, o.token, method="netbanking")
    p2 = payment_of(api, shop, o.ref)
    assert p2["status"] == "captured", p2
    first, second = p2["transactions"]
    assert first == t, (first, t)
    assert second["status"] == "success" and "error" not in second and second["id"] != t["id"]
    assert second["method"] == {"type": "netbanking"}
    assert second["created_timestamp"] >= first["created_timestamp"]
    # a refund belongs to the transaction that was paid, not to the failed one
    t0 = now()
    rf = assert_refund_reply(refund(api, shop, o.ref, 1000), o.ref, 1000, "normal", t0)
    p3 = wait_refunds_settled(api, shop, o.ref)
    first, second = p3["transactions"]
    assert first["refunds"] == [], first
    assert [r["id"] for r in second["refunds"]] == [rf["id"]], second


def test_pending_then_decided(api, server, http, shop):
    o = place_order(api, shop)
    pay_ok(http, server.base_url, o.token, method="wallet", outcome="pending")
    p = payment_of(api, shop, o.ref)
    assert p["status"] == "pending", p
    [t] = p["transactions"]
    assert t["status"] == "pending" and t["method"] == {"type": "wallet"} and "error" not in t
    # a refund of a pending payment is refused
    assert_wa_error(refund(api, shop, o.ref, 100), 409, "WA409")
    # the next try decides that same transaction
    pay_ok(http, server.base_url, o.token, method="wallet", outcome="failure", error_code="X9",
           error_reason="timed out")
    p = payment_of(api, shop, o.ref)
    [t2] = p["transactions"]
    assert p["status"] == "failed" and t2["id"] == t["id"] and t2["status"] == "failed", p
    assert t2["error"] == {"code": "X9", "reason": "timed out"}
    assert t2["created_timestamp"] == t["created_timestamp"]

    o = place_order(api, shop)
    pay_ok(http, server.base_url, o.token, method="upi", outcome="pending")
    [t] = payment_of(api, shop, o.ref)["transactions"]
    pay_ok(http, server.base_url, o.token, method="upi", outcome="success")
    p = payment_of(api, shop, o.ref)
    [t2] = p["transactions"]
    assert p["status"] == "captured" and t2["id"] == t["id"] and t2["status"] == "success", p
    assert "error" not in t2 and t2["updated_timestamp"] >= t["updated_timestamp"]


def test_an_order_takes_at_most_20_payment_tries(api, server, http, shop):
    # each try is a transaction of the order's payment, in every lookup and
    # callback: their number is bounded, whatever their outcome
    o = place_order(api, shop)
    pay_ok(http, server.base_url, o.token, outcome="pending")
    pay_ok(http, server.base_url, o.token, outcome="failure")  # decides the pending one
    for _ in range(19):
        pay_ok(http, server.base_url, o.token, outcome="failure")
    p = payment_of(api, shop, o.ref)
    assert p["status"] == "failed" and len(p["transactions"]) == 20, p

    def says_why(html: str) -> bool:
        return "20 payment tries" in re.sub(r"<[^>]*>", "", html)

    page = html_request(http, "GET", page_url(server.base_url, o.token))
    assert_html(page, 200)
    assert page.doc.find("form") is None, page.text[:800]
    assert says_why(page.text), page.text[:800]
    for outcome in ("success", "failure", "pending"):
        r = pay(http, server.base_url, o.token, outcome=outcome)
        assert_html(r, 409)
        assert says_why(r.text), r.text[:800]
    assert payment_of(api, shop, o.ref) == p

    # a pending 20th try may still be decided
    o = place_order(api, shop)
    for _ in range(19):
        pay_ok(http, server.base_url, o.token, outcome="failure")
    pay_ok(http, server.base_url, o.token, outcome="pending")
    page = html_request(http, "GET", page_url(server.base_url, o.token))
    assert page.doc.find("form") is not None, page.text[:800]
    pay_ok(http, server.base_url, o.token, outcome="success")
    p = payment_of(api, shop, o.ref)
    assert p["status"] == "captured" and len(p["transactions"]) == 20, p
    assert p["transactions"][-1]["status"] == "success", p


def test_unknown_token_is_404(server, http):
    for token in ("nope", "A" * 22, "A" * 200):
        assert_html(html_request(http, "GET", page_url(server.base_url, token)), 404)
        r = pay(http, server.base_url, token)
        assert_html(r, 404)


def test_bad_form_is_400_and_records_nothing(api, server, http, shop):
    o = place_order(api, shop)
    for form in ({"method": "cash", "outcome": "success"}, {"method": "upi", "outcome": "maybe"},
                 {"method": "upi"},
                 # the error's words go into the payment's JSON: UTF-8 only
                 {"method": "upi", "outcome": "failure", "error_reason": b"\xff"},
                 {"method": "upi", "outcome": "failure", "error_code": b"E\xfe"}):
        r = html_request(http, "POST", page_url(server.base_url, o.token), data=form,
                         headers={"Origin": server.base_url})
        assert_html(r, 400)
    p = payment_of(api, shop, o.ref)
    assert p["status"] == "pending" and p["transactions"] == [], p


def test_cross_site_post_is_refused(api, server, http, shop):
    """The page checks the form's origin like every chatpay page (see
    test_forged_posts): a post from another site records nothing."""
    o = place_order(api, shop)
    r = pay(http, server.base_url, o.token, headers={"Origin": "https://evil.example",
                                                     "Sec-Fetch-Site": "cross-site"})
    assert_html(r, 403)
    p = payment_of(api, shop, o.ref)
    assert p["status"] == "pending" and p["transactions"] == [], p


def test_page_takes_no_payment_once_the_merchant_is_in_production(api, cli, server, http, shop):
    """Orders and refunds are for the sandbox only: an order sent before the
    merchant moved to production cannot be paid on its simulated page."""
    o = place_order(api, shop)
    res = cli("merchant", "update", shop.id, "--environment", "production")
    assert res.returncode == 0, res.stderr
    live = cli_ok(cli, "apikey", "create", "--merchant", shop.id, "--json")
    SECRETS.api_keys.add(live["apiKey"])
    page = html_request(http, "GET", page_url(server.base_url, o.token))
    assert_html(page, 410, "This payment page is closed")
    assert page.doc.find("form") is None, page.text[:800]
    for outcome in ("success", "failure", "pending"):
        assert_html(pay(http, server.base_url, o.token, outcome=outcome), 410, "This payment page is closed")
    p = payment_of(api, shop, o.ref, key=live["apiKey"])
    assert p["status"] == "pending" and p["transactions"] == [], p


WITHDRAWN = {"number": ("number", "--phone-number-id", "pnid"),
             "payment-config": ("payment-config", "--name", "config")}


@pytest.mark.parametrize("what", list(WITHDRAWN))
def test_a_disabled_number_or_configuration_keeps_its_orders(api, cli, server, http, shop, what):
    """Disabling a number or a payment configuration stops new orders with
    it, not the orders it sent: their payments are still looked up and
    refunded by the number and configuration they were sent with. Their
    sandbox page takes no new payment try (410, saying why, no form; a paid
    order's page still says it is paid), and `enable` undoes it."""
    paid = place_order(api, shop)
    pay_ok(http, server.base_url, paid.token, method="card")
    waiting = place_order(api, shop)
    held = place_order(api, shop)
    pay_ok(http, server.base_url, held.token, outcome="pending")
    kind, option, attr = WITHDRAWN[what]
    args = ("whatsapp", kind, "--merchant", shop.id, option, getattr(shop, attr), "--json")
    assert cli_ok(cli, *(args[:2] + ("disable",) + args[2:]))["enabled"] is False

    p = payment_of(api, shop, paid.ref)
    assert p["status"] == "captured" and len(p["transactions"]) == 1, p
    r = refund(api, shop, paid.ref, 500)
    assert r.status_code == 201 and r.body["reference_id"] == paid.ref, r.text
    p = wait_refunds_settled(api, shop, paid.ref)
    assert [(rf["amount"]["value"], rf["status"]) for rf in refunds_of(p)] == [(500, "success")]
    page = html_request(http, "GET", page_url(server.base_url, paid.token))
    assert_html(page, 200)
    assert page.doc.find("form") is None, page.text[:800]

    page = html_request(http, "GET", page_url(server.base_url, waiting.token))
    assert_html(page, 410, "This payment page is closed")
    assert page.doc.find("form") is None and "no longer be paid" in page.text, page.text[:800]
    for outcome in ("success", "failure", "pending"):
        assert_html(pay(http, server.base_url, waiting.token, outcome=outcome), 410,
                    "This payment page is closed")
    p = payment_of(api, shop, waiting.ref)
    assert p["status"] == "pending" and p["transactions"] == [], p
    # a try left pending before the disable is still decided, not stuck
    assert_html(html_request(http, "GET", page_url(server.base_url, held.token)), 200)
    pay_ok(http, server.base_url, held.token, method="upi")
    p = payment_of(api, shop, held.ref)
    assert p["status"] == "captured" and len(p["transactions"]) == 1, p
    # nothing else is found with it, and it takes no new order
    body = order_body(shop)
    assert_wa400(send(api, shop, body), ["from" if what == "number" else P + ".payment_configuration"])
    (assert_wa002 if what == "number" else assert_134009)(lookup(api, shop, fresh_ref()))

    assert cli_ok(cli, *(args[:2] + ("enable",) + args[2:]))["enabled"] is True
    pay_ok(http, server.base_url, waiting.token, method="upi")
    assert payment_of(api, shop, waiting.ref)["status"] == "captured"
    place_order(api, shop, body)


# ---- refunds -------------------------------------------------------------------------------------


@pytest.fixture
def paid(api, server, http, shop):
    """A captured order of `shop` (110.00 INR)."""
    o = place_order(api, shop)
    pay_ok(http, server.base_url, o.token, method="upi")
    assert payment_of(api, shop, o.ref)["status"] == "captured"
    return o


def assert_refund_reply(r, ref: str, value: int, speed: str, t0: int) -> dict:
    assert r.status_code == 201, f"{r.status_code}: {r.text}"
    b = r.body
    assert set(b) == REFUND_KEYS, b
    assert b["reference_id"] == ref and b["amount"] == {"value": value, "offset": 100}, b
    assert b["speed_processed"] == speed and b["status"] == "pending", b
    assert isinstance(b["id"], str) and b["id"], b
    assert_unix_ts(b["created_timestamp"], t0)
    assert_unix_ts(b["updated_timestamp"], b["created_timestamp"])
    return b


def test_partial_refunds_up_to_the_total(api, shop, paid):
    t0 = now()
    first = assert_refund_reply(refund(api, shop, paid.ref, 3000, speed="instant"), paid.ref, 3000,
                                "instant", t0)
    over = refund(api, shop, paid.ref, 8001)
    b = assert_wa_error(over, 422, "WA422", members=("amount",))
    assert mentions(b["error"]["amount"], 8000), b
    second = assert_refund_reply(refund(api, shop, paid.ref, 8000), paid.ref, 8000, "normal", t0)
    b = assert_wa_error(refund(api, shop, paid.ref, 1), 422, "WA422", members=("amount",))
    assert mentions(b["error"]["amount"], 0), b

    p = wait_refunds_settled(api, shop, paid.ref)
    assert p["status"] == "captured", p
    [t] = p["transactions"]
    got = [(rf["id"], rf["amount"], rf["speed_processed"], rf["status"]) for rf in t["refunds"]]
    assert got == [(first["id"], amount(3000), "instant", "success"),
                   (second["id"], amount(8000), "normal", "success")], got
    for rf in t["refunds"]:
        assert_unix_ts(rf["created_timestamp"], t0)
        assert_unix_ts(rf["updated_timestamp"], rf["created_timestamp"])
    assert sum(rf["amount"]["value"] for rf in t["refunds"]) == paid.total


def test_an_order_takes_at_most_100_refunds(api, shop, paid):
    # each refund adds to the order's payment record and to every callback
    # after it: their number is bounded, whatever their outcome
    for i in range(100):
        r = refund(api, shop, paid.ref, 1)
        assert r.status_code == 201, (i, r.text)
    b = assert_wa_error(refund(api, shop, paid.ref, 1), 422, "WA422", members=("amount",))
    assert "100 refunds" in b["error"]["amount"], b
    p = wait_refunds_settled(api, shop, paid.ref)
    assert len(p["transactions"][0]["refunds"]) == 100


def test_refund_of_an_order_not_captured_is_409(api, server, http, shop):
    o = place_order(api, shop)
    assert_wa_error(refund(api, shop, o.ref, 100), 409, "WA409")
    pay_ok(http, server.base_url, o.token, outcome="failure", error_code="E", error_reason="no")
    assert_wa_error(refund(api, shop, o.ref, 100), 409, "WA409")
    p = payment_of(api, shop, o.ref)
    assert refunds_of(p) == [], p


REFUND_FIELD_ERRORS = {
    "offset-1": ({"amount": {"value": 100, "offset": 1}}, ["amount.offset"]),
    "offset-1000": ({"amount": {"value": 100, "offset": 1000}}, ["amount.offset"]),
    "speed": ({"amount": amount(100), "speed": "fast"}, ["speed"]),
    "speed-empty": ({"amount": amount(100), "speed": ""}, ["speed"]),
    "value-0": ({"amount": amount(0)}, ["amount.value"]),
    "value-negative": ({"amount": amount(-5)}, ["amount.value"]),
    "value-fraction": ({"amount": {"value": 1.5, "offset": 100}}, ["amount.value"]),
    "no-amount": ({"speed": "instant"}, ["amount"]),
    "amount-not-object": ({"amount": 100}, ["amount"]),
    "no-value": ({"amount": {"offset": 100}}, ["amount.value"]),
    "value-and-speed": ({"amount": amount(0), "speed": "slow"}, ["amount.value", "speed"]),
}


def test_refund_field_errors(api, shop, paid):
    for name, (body, paths) in REFUND_FIELD_ERRORS.items():
        r = refund(api, shop, paid.ref, 0, body=body)
        try:
            assert_wa400(r, paths)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from None
    assert refunds_of(payment_of(api, shop, paid.ref)) == []


def test_refund_body_must_be_json(api, shop, paid):
    """The refund body is JSON (docs/whatsapp-pay.md; openapi.json: only
    application/json, else 415 WA415)."""
    r = refund(api, shop, paid.ref, 0, body="{not json")
    assert_wa400(r, ["body"])
    for ct in ("text/plain", "application/x-www-form-urlencoded"):
        r = refund(api, shop, paid.ref, 100, headers={"Content-Type": ct})
        try:
            assert_wa_error(r, 415, "WA415")
        except AssertionError as e:
            raise AssertionError(f"Content-Type {ct}: {e}") from None
    assert refunds_of(payment_of(api, shop, paid.ref)) == []


def test_refund_idempotency_key(api, shop, paid):
    h = {"Idempotency-Key": "wa-" + uuid.uuid4().hex}
    first = refund(api, shop, paid.ref, 2500, speed="instant", headers=h)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = refund(api, shop, paid.ref, 2500, speed="instant", headers=h)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.body == first.body
    other = refund(api, shop, paid.ref, 2600, speed="instant", headers=h)
    assert_wa_error(other, 422, "WA422")
    p = wait_refunds_settled(api, shop, paid.ref)
    [rf] = refunds_of(p)
    assert rf["id"] == first.body["id"] and rf["amount"] == amount(2500), p
    # a new key is a new refund
    assert refund(api, shop, paid.ref, 2500, speed="instant",
                  headers={"Idempotency-Key": "wa-" + uuid.uuid4().hex}).status_code == 201
    assert len(refunds_of(payment_of(api, shop, paid.ref))) == 2
    # a key that is not 1 to 255 printable characters without spaces
    bad = refund(api, shop, paid.ref, 100, headers={"Idempotency-Key": "has space"})
    assert_wa400(bad, ["Idempotency-Key"])
    assert len(refunds_of(payment_of(api, shop, paid.ref))) == 2


def test_concurrent_refunds_never_exceed_the_total(api, server, shop, paid):
    part = paid.total * 40 // 100
    assert part * 100 == paid.total * 40

    def one(client):
        return refund(api, shop, paid.ref, part, client=client)

    replies = race(server, [one] * 8)
    codes = Counter(r.status_code for r in replies)
    assert codes == {201: 2, 422: 6}, codes
    for r in replies:
        if r.status_code == 422:
            assert r.body["code"] == "WA422" and set(r.body["error"]) == {"amount"}, r.body
    p = wait_refunds_settled(api, shop, paid.ref)
    rfs = refunds_of(p)
    assert len(rfs) == 2 and sum(rf["amount"]["value"] for rf in rfs) == 2 * part <= paid.total
    ids = {r.body["id"] for r in replies if r.status_code == 201}
    assert {rf["id"] for rf in rfs} == ids


def test_refund_ending_in_13_fails_and_is_not_counted(api, shop, paid):
    bad = refund(api, shop, paid.ref, 1013)
    assert bad.status_code == 201 and bad.body["status"] == "pending", bad.text
    p = wait_refunds_settled(api, shop, paid.ref)
    [rf] = refunds_of(p)
    assert rf["id"] == bad.body["id"] and rf["status"] == "failed", p
    # a failed refund leaves the whole total to refund
    full = refund(api, shop, paid.ref, paid.total)
    assert full.status_code == 201, full.text
    p = wait_refunds_settled(api, shop, paid.ref)
    assert [(rf["amount"]["value"], rf["status"]) for rf in refunds_of(p)] == [
        (1013, "failed"), (paid.total, "success")], p
    assert p["status"] == "captured"
    b = assert_wa_error(refund(api, shop, paid.ref, 1), 422, "WA422", members=("amount",))
    assert mentions(b["error"]["amount"], 0), b


def test_refund_path_errors(api, cli, shop, paid, bad_auth, shop_factory):
    for name, (sid, headers) in bad_auth.items():
        r = api.post(f"/v1/{sid}/wrapper/{shop.pnid}/payments/{shop.config}/{paid.ref}/refunds",
                     headers=headers, json={"amount": amount(100)})
        assert_rbc001(r, name)
    other = shop_factory()
    assert_wa002(refund(api, shop, paid.ref, 100, pnid=fresh_pnid()))
    assert_wa002(refund(api, shop, paid.ref, 100, pnid=other.pnid))
    assert_134009(refund(api, shop, paid.ref, 100, cfg="no-such-config"))
    assert_134009(refund(api, shop, paid.ref, 100, cfg=other.config))
    ref = fresh_ref()
    assert_order_not_found(refund(api, shop, ref, 100), ref)
    assert refunds_of(payment_of(api, shop, paid.ref)) == []


def test_refund_for_a_production_merchant_is_403(api, cli, shop, paid):
    """An order paid in the sandbox is not refunded once its merchant works
    in production: the refund job's sandbox gateway serves sandbox merchants
    only, so the refund would stay pending for ever, blocking its amount."""
    res = cli("merchant", "update", shop.id, "--environment", "production")
    assert res.returncode == 0, res.stderr
    live = cli_ok(cli, "apikey", "create", "--merchant", shop.id, "--json")
    SECRETS.api_keys.add(live["apiKey"])
    assert live["apiKey"].startswith("cp_live_"), live["apiKey"][:12]
    h = {"Idempotency-Key": "wa-" + uuid.uuid4().hex}
    for _ in range(2):  # a refusal is not stored for the key either
        r = refund(api, shop, paid.ref, 100, key=live["apiKey"], headers=h)
        b = assert_wa_error(r, 403, "WA403", members=("error",))
        assert "sandbox" in b["error"]["error"], b
    p = payment_of(api, shop, paid.ref, key=live["apiKey"])
    assert p["status"] == "captured" and refunds_of(p) == [], p


def test_a_refund_the_gateway_never_answers_fails_after_the_last_try(api, server, http,
                                                                      shop_factory, rcv):
    """The sandbox gateway never answers a refund whose value ends in 14: it
    is tried again, and once its last try has found no answer it is failed,
    with its callback, instead of pending (and blocking its amount) for ever."""
    shop = shop_factory(callback_url=rcv.url + "/wa-hook")
    o = place_order(api, shop)
    pay_ok(http, server.base_url, o.token, method="upi")
    r = refund(api, shop, o.ref, 1014)
    assert r.status_code == 201 and r.body["status"] == "pending", r.text
    job = "SELECT attempts, done_at FROM jobs WHERE kind = 14 AND merchant_id = ? AND done_at = 0"
    first = poll(lambda: db_query(server.db_url, job, (shop.id,)),
                 lambda rows: rows and rows[0][0] >= 1, WAIT)
    assert first and first[0][0] >= 1, first
    assert refunds_of(payment_of(api, shop, o.ref))[0]["status"] == "pending"
    # the tries before the last one (12) have been made; the next is due
    assert db_exec(server.db_url, "UPDATE jobs SET attempts = 11, run_at = 0 WHERE kind = 14"
                                  " AND merchant_id = ? AND done_at = 0", (shop.id,)) == 1
    p = wait_refunds_settled(api, shop, o.ref)
    assert [(rf["amount"]["value"], rf["status"]) for rf in refunds_of(p)] == [(1014, "failed")], p
    assert db_query(server.db_url, job, (shop.id,)) == []
    got = rcv.wait_for(lambda ds: any(d.json.get("event") == "whatsapp.refund" and
                                      refunds_of(d.json["payment"])[0]["status"] == "failed"
                                      for d in ds), WAIT, "the failed refund's callback")
    assert got
    # its amount can be refunded again
    r = refund(api, shop, o.ref, o.total)
    assert r.status_code == 201, r.text


# ---- callbacks -------------------------------------------------------------------------------------


def test_payment_and_refund_callbacks(api, server, http, shop_factory, rcv):
    shop = shop_factory(callback_url=rcv.url + "/wa-hook")
    o = place_order(api, shop)
    snapshots = {}
    pay_ok(http, server.base_url, o.token, method="card", outcome="failure", error_code="E2",
           error_reason="insufficient funds")
    snapshots["failed"] = payment_of(api, shop, o.ref)
    pay_ok(http, server.base_url, o.token, method="upi")
    snapshots["captured"] = payment_of(api, shop, o.ref)

    def events(ds, event):
        return [d for d in ds if d.json.get("event") == event]

    got = rcv.wait_for(lambda ds: len(events(ds, "whatsapp.payment")) >= 2, WAIT,
                       "two whatsapp.payment callbacks")
    pays = events(got, "whatsapp.payment")
    assert sorted(d.json["payment"]["status"] for d in pays) == ["captured", "failed"], pays
    for d in pays:
        assert d.json["payment"] == snapshots[d.json["payment"]["status"]], d.json

    r = refund(api, shop, o.ref, 2000, speed="instant")
    assert r.status_code == 201, r.text
    settled = wait_refunds_settled(api, shop, o.ref)

    def refund_in(ds, status):
        return [d for d in events(ds, "whatsapp.refund")
                if [x["status"] for x in refunds_of(d.json["payment"])] == [status]]

    # a refund event when the refund is made (pending), and when it settles
    got = rcv.wait_for(lambda ds: refund_in(ds, "pending") and refund_in(ds, "success"), WAIT,
                       "the refund's two callbacks")
    [made] = refund_in(got, "pending")
    created = {k: v for k, v in r.body.items() if k != "reference_id"}
    assert refunds_of(made.json["payment"]) == [created], (made.json, r.body)
    assert {**made.json["payment"], "transactions": None} == {**settled, "transactions": None}
    [done] = refund_in(got, "success")
    assert done.json["payment"] == settled, (done.json, settled)
    assert len(events(rcv.received(), "whatsapp.refund")) == 2, rcv.received()

    schema = webhook_schema_name()
    assert schema == "WhatsAppPaymentCallback"
    for d in rcv.received():
        assert d.path == "/wa-hook", d
        assert set(d.json) == {"event", "payment"}, d.json
        assert d.json["payment"]["reference_id"] == o.ref
        assert_schema(schema, d.json)
        assert d.headers.get("content-type", "").startswith("application/json"), d.headers
        assert d.headers.get("user-agent", "").startswith("chatpay/"), d.headers
        assert verify(shop.secret, d) == [shop.secret], d.headers
        assert verify("whsec_" + "A" * 43 + "=", d) == []
    ids = [d.webhook_id for d in rcv.received()]
    assert len(set(ids)) == len(ids), ids
