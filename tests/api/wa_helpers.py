"""wa_helpers.py — WhatsApp Pay (docs/whatsapp-pay.md) from the black-box
suite: a merchant with business numbers and payment configurations, orders
(POST /v1/{sid}/messages), the sandbox payment page (/wa/{token}), the
payment-status lookup and refunds, and the publisher's contract
(spec/whatsapp-payment-status.txt) read from the spec itself.

Every API call goes through the contract-checking ApiClient (the `api-key`
header, not Authorization); the pages through cp_helpers.html_request."""

from __future__ import annotations

import copy
import functools
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from cp_helpers import SANDBOX_MESSAGES, SECRETS, fresh_msisdn, html_request, poll
from openapi_check import get_checker

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "spec" / "whatsapp-payment-status.txt"

MESSAGES = "/v1/{sid}/messages"
PAYMENT = "/v1/{sid}/wrapper/{pnid}/payments/{cfg}/{ref}"
REFUNDS = PAYMENT + "/refunds"

GATEWAYS = ("sandbox", "razorpay", "payu", "billdesk", "zaakpay")
METHODS = ("upi", "card", "netbanking", "wallet")
ECHO_FIELDS = ("receipt", "notes", "udf1", "udf2", "udf3", "udf4",
               *(f"additional_info{i}" for i in range(1, 8)))

WAIT = 10.0  # seconds: a send job, a refund settling or a callback that should come at once
TOKEN_RE = re.compile(r"/wa/([0-9A-Za-z_-]+)")


def sid_of(merchant_id: str) -> str:
    """The account SID of docs/whatsapp-pay.md: HX and the first 14
    hexadecimal digits of the merchant id, upper case."""
    digits = re.sub(r"[^0-9A-Fa-f]", "", merchant_id)
    return "HX" + digits[:14].upper()


def fresh_pnid() -> str:
    """A phone number id (15 digits) no other test uses."""
    return str(secrets.randbelow(9 * 10**14) + 10**14)


def fresh_display() -> str:
    """An Indian business MSISDN with its leading + (12 digits)."""
    return "+91" + str(secrets.randbelow(9 * 10**9) + 10**9)


def fresh_ref(prefix: str = "ord") -> str:
    out = f"{prefix}-{uuid.uuid4().hex[:20]}"
    assert len(out) <= 35, out
    return out


# ---- the shop: a merchant with a number and a payment configuration ------------------------


@dataclass
class WaShop:
    merchant: dict  # merchant create --json
    pnid: str
    display: str  # as given to number add (with +)
    config: str
    gateway: str
    numbers: list[str] = field(default_factory=list)
    configs: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.merchant["merchantId"]

    @property
    def key(self) -> str:
        return self.merchant["apiKey"]

    @property
    def sid(self) -> str:
        return self.merchant["sid"]

    @property
    def secret(self) -> str:
        return self.merchant["callbackSecret"]

    def headers(self, key: str | None = None) -> dict:
        return {"api-key": self.key if key is None else key}


def cli_ok(cli, *args) -> dict | list:
    res = cli(*args)
    assert res.returncode == 0, f"chatpay {' '.join(args)} → {res.returncode}: {res.stderr}"
    return res.json()


def add_number(cli, merchant_id: str, pnid: str | None = None, display: str | None = None) -> dict:
    return cli_ok(cli, "whatsapp", "number", "add", "--merchant", merchant_id,
                  "--phone-number-id", pnid or fresh_pnid(),
                  "--display-number", display or fresh_display(), "--json")


def add_config(cli, merchant_id: str, name: str | None = None, gateway: str = "razorpay") -> dict:
    return cli_ok(cli, "whatsapp", "payment-config", "add", "--merchant", merchant_id,
                  "--name", name or f"cfg_{uuid.uuid4().hex[:10]}", "--gateway", gateway, "--json")


def new_shop(cli, make_merchant, gateway: str = "razorpay", environment: str | None = None,
             callback_url: str | None = None) -> WaShop:
    """A merchant (merchant create --json) with one number and one payment
    configuration of `gateway`."""
    m = make_merchant(environment=environment)
    assert "callbackSecret" in m and "sid" in m, m
    SECRETS.callback_secrets.add(m["callbackSecret"])
    display = fresh_display()
    num = add_number(cli, m["merchantId"], display=display)
    cfg = add_config(cli, m["merchantId"], gateway=gateway)
    if callback_url is not None:
        res = cli("merchant", "update", m["merchantId"], "--payment-status-callback", callback_url)
        assert res.returncode == 0, res.stderr
    return WaShop(m, num["phoneNumberId"], display, cfg["name"], gateway,
                  [num["phoneNumberId"]], [cfg["name"]])


# ---- orders ------------------------------------------------------------------------------------


def amount(value: int, offset: int = 100) -> dict:
    return {"value": value, "offset": offset}


def order_body(shop: WaShop, ref: str | None = None, *, to: str | None = None,
               currency: str = "INR", offset: int = 100, items=None, tax: int | None = 1000,
               extra: dict | None = None, footer: str | None = "Thank you!",
               body: str | None = None) -> dict:
    """A valid order_details message: by default 2 × 45.00 + 1 × 10.00 =
    100.00 subtotal, 10.00 tax, 110.00 INR total. items: [(value, qty)]."""
    items = items if items is not None else [(4500, 2), (1000, 1)]
    subtotal = sum(v * q for v, q in items)
    params = {
        "reference_id": ref or fresh_ref(),
        "type": "digital-goods",
        "payment_configuration": shop.config,
        "currency": currency,
        "total_amount": amount(subtotal + (tax or 0), offset),
        "order": {
            "status": "pending",
            "items": [{"retailer_id": f"sku-{i}", "name": f"Item {i}", "amount": amount(v, offset),
                       "quantity": q} for i, (v, q) in enumerate(items)],
            "subtotal": amount(subtotal, offset),
        },
    }
    if tax is not None:
        params["order"]["tax"] = amount(tax, offset)
    params.update(extra or {})
    out = {
        "to": to or "+" + fresh_msisdn(),
        "from": shop.display,
        "channel": "whatsapp",
        "type": "order_details",
        "body": body or f"Your order {params['reference_id']}: 3 items.",
        "action": {"name": "review_and_pay", "parameters": params},
    }
    if footer is not None:
        out["footer"] = footer
    return out


def params_of(body: dict) -> dict:
    return body["action"]["parameters"]


def total_of(body: dict) -> int:
    return params_of(body)["total_amount"]["value"]


def set_path(body: dict, path: str, value, *, drop: bool = False) -> dict:
    """A copy of body with the member at a dotted path (list indexes as
    numbers: action.parameters.order.items.0.name) set, or dropped."""
    out = copy.deepcopy(body)
    parts = path.split(".")
    node = out
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    last = parts[-1]
    if isinstance(node, list):
        if drop:
            del node[int(last)]
        else:
            node[int(last)] = value
    elif drop:
        node.pop(last, None)
    else:
        node[last] = value
    return out


def send(api, shop: WaShop, body, *, key: str | None = None, sid: str | None = None,
         form: bool = False, headers: dict | None = None):
    """POST /v1/{sid}/messages, JSON (or a form whose action is JSON text)."""
    path = MESSAGES.format(sid=shop.sid if sid is None else sid)
    h = {} if key is False else shop.headers(key)
    h.update(headers or {})
    if isinstance(body, str):
        return api.post(path, headers=h, data=body)
    if form:
        fields = {k: (json.dumps(v) if k == "action" and not isinstance(v, str) else v)
                  for k, v in body.items()}
        h.setdefault("Content-Type", "application/x-www-form-urlencoded")
        return api.post(path, headers=h, data=urlencode(fields))
    return api.post(path, headers=h, json=body)


def send_ok(api, shop: WaShop, body, **kw) -> dict:
    r = send(api, shop, body, **kw)
    assert r.status_code == 202, f"{r.status_code}: {r.text}"
    return r.body


def outbox(api, key: str, to: str) -> list[dict]:
    r = api.get(SANDBOX_MESSAGES + "?" + urlencode({"to": to.lstrip("+"), "limit": 100}), key=key)
    assert r.status_code == 200, r.text
    return r.body


def wait_message(api, key: str, to: str, needle: str, timeout: float = WAIT) -> dict:
    """The sandbox message to `to` whose text contains needle."""
    def found(msgs):
        return [m for m in msgs if needle in m["text"]]

    msgs = poll(lambda: outbox(api, key, to), lambda m: bool(found(m)), timeout, 0.05)
    hits = found(msgs)
    assert len(hits) == 1, f"no single message with {needle!r} to {to}: {msgs}"
    return hits[0]


def token_of(text: str) -> str:
    m = TOKEN_RE.search(text)
    assert m, f"no /wa/<token> link in {text!r}"
    return m.group(1)


@dataclass
class Order:
    shop: WaShop
    body: dict
    accepted: dict
    token: str
    message: dict

    @property
    def ref(self) -> str:
        return params_of(self.body)["reference_id"]

    @property
    def total(self) -> int:
        return total_of(self.body)


def place_order(api, shop: WaShop, body: dict | None = None, **kw) -> Order:
    """Send an order and wait for its message in the sandbox outbox (its
    /wa/<token> link)."""
    body = body or order_body(shop, **kw)
    acc = send_ok(api, shop, body)
    msg = wait_message(api, shop.key, body["to"], "/wa/")
    return Order(shop, body, acc, token_of(msg["text"]), msg)


# ---- the sandbox payment page ---------------------------------------------------------------


def page_url(base_url: str, token: str) -> str:
    return f"{base_url}/wa/{token}"


def pay(http, base_url: str, token: str, method: str = "upi", outcome: str = "success",
        error_code: str | None = None, error_reason: str | None = None, headers: dict | None = None):
    """POST the page's test form, from the page's own origin."""
    data = {"method": method, "outcome": outcome}
    if error_code is not None:
        data["error_code"] = error_code
    if error_reason is not None:
        data["error_reason"] = error_reason
    h = {"Origin": base_url, "Sec-Fetch-Site": "same-origin"}
    h.update(headers or {})
    return html_request(http, "POST", page_url(base_url, token), data=data, headers=h)


def pay_ok(http, base_url: str, token: str, **kw):
    r = pay(http, base_url, token, **kw)
    assert r.status_code == 303, f"{r.status_code}: {r.text[:500]}"
    loc = r.headers.get("Location", "")
    assert loc in (f"/wa/{token}", page_url(base_url, token)), loc
    return r


# ---- lookup and refunds --------------------------------------------------------------------


def lookup(api, shop: WaShop, ref: str, *, pnid: str | None = None, cfg: str | None = None,
           sid: str | None = None, key=None):
    path = PAYMENT.format(sid=shop.sid if sid is None else sid, pnid=pnid or shop.pnid,
                          cfg=cfg or shop.config, ref=ref)
    return api.get(path, headers={} if key is False else shop.headers(key))


def payment_of(api, shop: WaShop, ref: str, **kw) -> dict:
    r = lookup(api, shop, ref, **kw)
    assert r.status_code == 200, f"{r.status_code}: {r.text}"
    assert list(r.body) == ["payments"] and len(r.body["payments"]) == 1, r.body
    return r.body["payments"][0]


def refund(api, shop: WaShop, ref: str, value: int, offset: int = 100, speed: str | None = None,
           *, body=None, headers: dict | None = None, key=None, pnid=None, cfg=None, sid=None,
           client=None):
    path = REFUNDS.format(sid=shop.sid if sid is None else sid, pnid=pnid or shop.pnid,
                          cfg=cfg or shop.config, ref=ref)
    if body is None:
        body = {"amount": amount(value, offset)}
        if speed is not None:
            body["speed"] = speed
    h = {} if key is False else shop.headers(key)
    h.update(headers or {})
    if isinstance(body, str):
        h.setdefault("Content-Type", "application/json")
        return (client or api).post(path, headers=h, data=body)
    return (client or api).post(path, headers=h, json=body)


def refunds_of(payment: dict) -> list[dict]:
    return [rf for t in payment["transactions"] for rf in t["refunds"]]


def wait_refunds_settled(api, shop: WaShop, ref: str, timeout: float = WAIT) -> dict:
    """The payment once none of its refunds is pending (fails after timeout)."""
    p = poll(lambda: payment_of(api, shop, ref),
             lambda p: all(rf["status"] != "pending" for rf in refunds_of(p)), timeout, 0.05)
    assert all(rf["status"] != "pending" for rf in refunds_of(p)), f"refunds still pending: {p}"
    return p


# ---- error bodies -----------------------------------------------------------------------------


def field_path(key: str) -> str:
    """An error member's field path with list indexes written as .N."""
    return re.sub(r"\[(\d+)\]", r".\1", key)


def names(key: str, path: str) -> bool:
    """Whether the error member `key` names the field `path` (or a part of it)."""
    k = field_path(key)
    return k == path or k.startswith(path + ".")


def assert_wa400(r, expected_paths) -> dict:
    """400 WA400 "Validation failed", data [], and error naming exactly the
    expected fields (each by its path or a part of it), each with a reason."""
    assert r.status_code == 400, f"{r.status_code}: {r.text}"
    b = r.body
    assert b["code"] == "WA400" and b["message"] == "Validation failed" and b["data"] == [], b
    err = b["error"]
    assert isinstance(err, dict) and err, b
    for k, v in err.items():
        assert isinstance(v, str) and v.strip(), (k, v)
    expected = list(expected_paths)
    missing = [p for p in expected if not any(names(k, p) for k in err)]
    extra = [k for k in err if not any(names(k, p) for p in expected)]
    assert not missing and not extra, f"missing {missing}, unexpected {extra}: {err}"
    return err


def assert_wa_error(r, status: int, code: str, message: str | None = None,
                    members: tuple[str, ...] | None = None) -> dict:
    assert r.status_code == status, f"{r.status_code} (want {status}): {r.text}"
    b = r.body
    assert set(b) == {"code", "message", "data", "error"}, b
    assert b["code"] == code and b["data"] == [], b
    assert isinstance(b["message"], str) and b["message"], b
    if message is not None:
        assert b["message"] == message, b
    if members is not None:
        assert sorted(b["error"]) == sorted(members), b
    return b


# ---- the publisher's contract, read from spec/whatsapp-payment-status.txt -------------------------

_SECTIONS = ("Sample Success Response", "Sample Failure Responses", "Meta Error", "Incorrect SID",
             "Solution ID not present", "Error Codes")


def _lenient_object(snippet: str):
    """The first JSON object of a sample as the contract prints it: trailing
    commas, a missing comma between members and a missing closing brace are
    tolerated (the published samples have each)."""
    i = snippet.index("{")
    stack, in_str, esc, last = [], False, False, i
    for j in range(i, len(snippet)):
        ch = snippet[j]
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
                last = j
            continue
        if ch == '"':
            in_str = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]":
            stack.pop()
            last = j
            if not stack:
                break
        elif not ch.isspace():
            last = j
    text = snippet[i:last + 1] + "".join(reversed(stack))
    text = re.sub(r",(\s*[}\]])", r"\1", text)
    text = re.sub(r'("|\d|true|false|null|[}\]])(\s*\n\s*")', r"\1,\2", text)
    return json.loads(text)


@functools.lru_cache(maxsize=None)
def contract() -> dict:
    """The contract's samples: success (the 200 body), meta (the Meta error),
    rbc001 (Incorrect SID), wa002 (Solution ID not present)."""
    text = SPEC.read_text()
    pos = {}
    for name in _SECTIONS:
        at = text.find(name)
        assert at >= 0, f"{SPEC.name}: no section {name!r}"
        pos[name] = at
    bounds = sorted(pos.values())

    def sample(name):
        start = pos[name]
        end = min([b for b in bounds if b > start] + [len(text)])
        return _lenient_object(text[start:end])

    out = {"success": sample("Sample Success Response"), "meta": sample("Meta Error"),
           "rbc001": sample("Incorrect SID"), "wa002": sample("Solution ID not present")}
    # the reader must have found what the contract shows
    assert out["success"]["payments"][0]["transactions"][0]["refunds"][0]["amount"]["offset"] == 100
    assert out["meta"]["error"]["code"] == 134009
    assert out["rbc001"]["code"] == "RBC001" and out["wa002"]["code"] == "WA002"
    return out


def assert_rbc001(r, what: str = "") -> None:
    assert r.status_code == 401, f"{what}: {r.status_code}: {r.text}"
    assert r.body == contract()["rbc001"], (what, r.body)
    assert r.body == {"code": "RBC001", "message": "Incorrect SID or API key.", "data": [],
                      "error": {"body": "Incorrect SID or API key."}}


def assert_wa002(r) -> None:
    assert r.status_code == 404, f"{r.status_code}: {r.text}"
    assert r.body == contract()["wa002"], r.body
    assert r.body == {"code": "WA002", "message": "Solution ID mapping not present", "data": None,
                      "error": {"error": "Solution ID mapping not present"}}


def assert_meta(r, status: int, code: int, message: str, details=None) -> dict:
    """Meta's error object: {"error": {message, type OAuthException, code,
    error_data {messaging_product whatsapp, details}, fbtrace_id}}, with the
    members of the contract's sample and nothing else. details: the exact
    text, or a callable that must hold for it."""
    assert r.status_code == status, f"{r.status_code} (want {status}): {r.text}"
    sample = contract()["meta"]
    b = r.body
    assert set(b) == set(sample) == {"error"}, b
    e = b["error"]
    assert set(e) == set(sample["error"]), (sorted(e), sorted(sample["error"]))
    assert set(e["error_data"]) == set(sample["error"]["error_data"]), e
    assert e["message"] == message, e
    assert e["type"] == sample["error"]["type"] == "OAuthException", e
    assert type(e["code"]) is int and e["code"] == code, e
    assert e["error_data"]["messaging_product"] == "whatsapp", e
    d = e["error_data"]["details"]
    assert isinstance(d, str) and d, e
    if callable(details):
        assert details(d), e
    elif details is not None:
        assert d == details, e
    assert isinstance(e["fbtrace_id"], str) and re.fullmatch(r"[A-Za-z0-9_-]{8,}", e["fbtrace_id"]), e
    return e


def assert_134009(r) -> dict:
    e = assert_meta(r, 400, 134009, "(#134009) Payment configuration id is invalid",
                    "payment_configuration_id is invalid")
    sample = contract()["meta"]["error"]
    assert {k: v for k, v in e.items() if k != "fbtrace_id"} == \
        {k: v for k, v in sample.items() if k != "fbtrace_id"}, (e, sample)
    return e


def assert_order_not_found(r, ref: str) -> dict:
    return assert_meta(r, 404, 100, "(#100) No order found for reference_id",
                       lambda d: ref in d)


# ---- callbacks ---------------------------------------------------------------------------------


def assert_schema(name: str, body) -> None:
    d = get_checker().doc
    errors = d.errors(d.schema(name), body)
    assert not errors, f"{name} ({d.name}): {errors}\n{json.dumps(body)[:1500]}"


def webhook_schema_name() -> str:
    """The body schema of docs/openapi.json's x-webhooks whatsappPayment."""
    hook = get_checker().doc.raw["x-webhooks"]["whatsappPayment"]["post"]
    ref = hook["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[1]


def now() -> int:
    return int(time.time())
