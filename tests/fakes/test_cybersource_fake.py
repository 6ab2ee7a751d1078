"""The Cybersource fake on its own (no chatpay): Secure Acceptance (signature,
required fields, duplicates, the card form and the receipt page, card
outcomes, Merchant POST modes) and the REST API (HTTP Signature, the
transaction state machine, timeout voids, /tss queries, failure modes).

Signatures are checked with code written here independently of the fake
(hmac/hashlib/base64 only); the fake's own signers are checked against it.

Run: /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/fakes/test_cybersource_fake.py
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import http.client
import json
import re
import socket
import time
import urllib.parse
import uuid
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cybersource_fake import (CyberSourceFake, http_signature_headers, sa_sign, sa_verify,
                              tampered)
from fake_http import TinyServer, call, standalone

HERE = Path(__file__).resolve().parent

MID = "chatpay_test"
ACCESS_KEY = "a3f9c2e17b5d4086b1e2c3d4e5f60718"
PROFILE_ID = "5B1E6C9A-2F3D-4E8B-9A7C-1D2E3F4A5B6C"
SECRET = "9f8e7d6c5b4a39281706f5e4d3c2b1a0" * 8
KEY_ID = "3f0d2c1b-8a79-4e6d-9c5b-4a3f2e1d0c9b"
SHARED = base64.b64encode(bytes(range(7, 39))).decode()  # 32 bytes


# ---------------------------------------------------------------------------
# helpers (independent of the fake)


def my_sa_sign(fields, secret):
    """SA signature (5a) written out: name=value over signed_field_names,
    joined by ",", HMAC-SHA256 keyed with the raw secret string, base64."""
    names = fields["signed_field_names"].split(",")
    msg = ",".join(n + "=" + fields[n] for n in names)
    return base64.b64encode(hmac.new(secret.encode(), msg.encode(), hashlib.sha256).digest()).decode()


def my_rest_headers(method, host, target, body, *, mid=MID, key_id=KEY_ID, shared=SHARED, date=None,
                    order=None, decode_key=True):
    """The Node SDK's HTTP Signature (5b) written out independently."""
    date = date or email.utils.formatdate(time.time(), usegmt=True)
    with_body = method in ("POST", "PUT", "PATCH")
    order = order or (["host", "date", "(request-target)", "digest", "v-c-merchant-id"] if with_body
                      else ["host", "date", "(request-target)", "v-c-merchant-id"])
    digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    vals = {"host": host, "date": date, "(request-target)": method.lower() + " " + target,
            "digest": digest, "v-c-merchant-id": mid}
    text = "\n".join(f"{n}: {vals[n]}" for n in order)
    key = base64.b64decode(shared) if decode_key else shared.encode()
    sig = base64.b64encode(hmac.new(key, text.encode(), hashlib.sha256).digest()).decode()
    h = {"v-c-merchant-id": mid, "Date": date, "Host": host,
         "Signature": f'keyid="{key_id}", algorithm="HmacSHA256", headers="{" ".join(order)}", signature="{sig}"'}
    if with_body:
        h["Digest"] = digest
    return h


def rest(fake, method, path, obj=None, *, raw=None, timeout=5.0, mutate=None, **sign_kw):
    """A signed REST call; (status, headers, parsed JSON or raw bytes)."""
    body = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
    host = f"127.0.0.1:{fake.port}"
    h = my_rest_headers(method, host, path, body, **sign_kw)
    h["Content-Type"] = "application/json;charset=utf-8"
    h["Accept"] = "application/hal+json;charset=utf-8"
    if mutate:
        mutate(h)
    st, hd, b = call(method, fake.base_url + path, body, h, timeout)
    if "json" in hd.get("content-type", ""):
        return st, hd, json.loads(b)
    return st, hd, b


def sa_request(drop=(), unsigned=(), **over):
    """A signed SA /pay request (dict). drop: fields left out entirely;
    unsigned: fields sent but not listed in signed_field_names."""
    f = {"access_key": ACCESS_KEY, "profile_id": PROFILE_ID, "transaction_uuid": uuid.uuid4().hex,
         "signed_field_names": "", "unsigned_field_names": "",
         "signed_date_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
         "locale": "en", "transaction_type": "authorization", "reference_number": "ORD-1",
         "amount": "100.00", "currency": "USD"}
    f.update(over)
    for k in drop:
        f.pop(k, None)
    f["unsigned_field_names"] = ",".join(unsigned)
    f["signed_field_names"] = ",".join(k for k in f if k not in unsigned)
    f["signature"] = my_sa_sign(f, SECRET)
    return f


class Forms(HTMLParser):
    """forms: [{"action", "method", "inputs": [attrs], "buttons": [attrs]}]; scripts: count."""

    def __init__(self, page):
        super().__init__()
        self.forms, self.scripts = [], 0
        self.feed(page.decode() if isinstance(page, bytes) else page)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action"), "method": (a.get("method") or "get").lower(),
                               "inputs": [], "buttons": []})
        elif tag == "input" and self.forms:
            self.forms[-1]["inputs"].append(a)
        elif tag == "button" and self.forms:
            self.forms[-1]["buttons"].append(a)
        elif tag == "script":
            self.scripts += 1

    def fields(self, i=0):
        return {a["name"]: a.get("value", "") for a in self.forms[i]["inputs"] if a.get("name")}


def post_form(url, fields, timeout=5.0):
    return call("POST", url, urllib.parse.urlencode(fields).encode(),
                {"Content-Type": "application/x-www-form-urlencoded"}, timeout)


@pytest.fixture(scope="module")
def receiver():
    r = TinyServer()
    yield r
    r.stop()


@pytest.fixture
def fake(receiver):
    receiver.got.clear()
    f = CyberSourceFake(merchant_id=MID, access_key=ACCESS_KEY, profile_id=PROFILE_ID, secret_key=SECRET,
                        key_id=KEY_ID, shared_secret=SHARED, hang_seconds=1.0, slow_seconds=0.3,
                        merchant_post_delay=0.3)
    yield f
    f.stop()


def auth(fake, amount="50.00", card="4111111111111111", capture=False, code="ORD-7", tid=None, **kw):
    body = {"clientReferenceInformation": {"code": code},
            "processingInformation": {"capture": capture},
            "paymentInformation": {"card": {"number": card, "expirationMonth": "12", "expirationYear": "2031"}},
            "orderInformation": {"amountDetails": {"totalAmount": amount, "currency": "USD"}}}
    if tid:
        body["clientReferenceInformation"]["transactionId"] = tid
    return rest(fake, "POST", "/pts/v2/payments", body, **kw)


def amt(amount, currency="USD", code=None, tid=None):
    b = {"orderInformation": {"amountDetails": {"totalAmount": amount, "currency": currency}}}
    cri = {k: v for k, v in (("code", code), ("transactionId", tid)) if v}
    if cri:
        b["clientReferenceInformation"] = cri
    return b


def get_tx(fake, id_):
    return rest(fake, "GET", f"/tss/v2/transactions/{id_}")


# ===========================================================================
# signatures


def test_sa_sign_matches_independent_code():
    f = sa_request(reference_number="A,B=C ü")
    assert sa_sign(f, SECRET) == my_sa_sign(f, SECRET) == f["signature"]
    assert len(f["signature"]) == 44
    assert sa_verify(f, SECRET)
    assert not sa_verify(f, SECRET + "x")
    assert not sa_verify({k: v for k, v in f.items() if k != "signature"}, SECRET)
    assert not sa_verify({**f, "amount": "1.00"}, SECRET)
    # the key is the raw string, not its base64 decoding
    b64_secret = base64.b64encode(b"k" * 32).decode()
    g = sa_request()
    g["signature"] = my_sa_sign(g, b64_secret)
    assert sa_verify(g, b64_secret)
    raw_key = base64.b64encode(hmac.new(base64.b64decode(b64_secret), b"x", hashlib.sha256).digest())
    assert g["signature"].encode() != raw_key


def test_http_signature_headers_match_independent_code():
    date = "Thu, 18 Jul 2019 00:18:03 GMT"
    body = b'{"a": 1}'
    h = http_signature_headers("POST", "apitest.cybersource.com", "/pts/v2/payments/1/captures", body,
                               MID, KEY_ID, SHARED, date=date)
    mine = my_rest_headers("POST", "apitest.cybersource.com", "/pts/v2/payments/1/captures", body, date=date)
    assert h == mine
    assert set(h) == {"v-c-merchant-id", "Date", "Host", "Digest", "Signature"}
    assert h["Digest"] == "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert 'headers="host date (request-target) digest v-c-merchant-id"' in h["Signature"]
    g = http_signature_headers("GET", "h", "/tss/v2/transactions/1?x=1", None, MID, KEY_ID, SHARED, date=date)
    assert "Digest" not in g and 'headers="host date (request-target) v-c-merchant-id"' in g["Signature"]
    assert g == my_rest_headers("GET", "h", "/tss/v2/transactions/1?x=1", b"", date=date)


# ===========================================================================
# Secure Acceptance


@pytest.mark.parametrize("case", ["bad_signature", "wrong_secret", "unknown_access_key", "unknown_profile",
                                  "no_signature", "listed_but_absent"])
def test_sa_403(fake, case):
    f = sa_request()
    if case == "bad_signature":
        f["amount"] = "1.00"  # changed after signing
    elif case == "wrong_secret":
        f["signature"] = my_sa_sign(f, SECRET[:-1] + "X")
    elif case == "unknown_access_key":
        f = sa_request(access_key="b" * 32)
    elif case == "unknown_profile":
        f = sa_request(profile_id=str(uuid.uuid4()).upper())
    elif case == "no_signature":
        del f["signature"]
    elif case == "listed_but_absent":
        del f["locale"]
    st, hd, b = post_form(fake.base_url + "/pay", f)
    assert st == 403 and hd["content-type"].startswith("text/html")
    assert b"You are not authorized to view this page. The transaction has not been processed." in b
    assert fake.sa_sessions == {} and fake.sa_results == []
    with pytest.raises(PermissionError):
        fake.pay(f)


def test_sa_missing_fields_101(fake, receiver):
    fake.merchant_post_url = receiver.url + "/mp"
    fake.receipt_url = receiver.url + "/receipt"
    f = sa_request(drop=["locale"], unsigned=["reference_number"])
    st, _, page = post_form(fake.base_url + "/pay", f)
    assert st == 200
    p = Forms(page)
    [form] = p.forms
    assert form["action"] == receiver.url + "/receipt" and form["method"] == "post"
    r = p.fields()
    assert r["decision"] == "ERROR" and r["reason_code"] == "101"
    assert set(r["required_fields"].split(",")) == {"locale", "reference_number"}
    assert my_sa_sign(r, SECRET) == r["signature"]
    assert re.fullmatch(r"\d{22}", r["transaction_id"])
    # delivered like any result: the Merchant POST got the same fields
    assert receiver.forms("/mp") == [r]
    # nothing stored: the query does not know it
    assert get_tx(fake, r["transaction_id"])[0] == 404


def test_sa_invalid_fields_102(fake):
    r = fake.pay(sa_request(amount="ten", transaction_type="refund"))
    assert r["decision"] == "ERROR" and r["reason_code"] == "102"
    assert r["invalid_fields"].split(",") == ["amount", "transaction_type"]
    assert "required_fields" not in r and sa_verify(r, SECRET)
    assert r["req_amount"] == "ten" and r["req_transaction_type"] == "refund"
    r = fake.pay(sa_request(currency="DOLLARS", signed_date_time="yesterday"))
    assert set(r["invalid_fields"].split(",")) == {"currency", "signed_date_time"}


def test_sa_duplicate_uuid_104(fake):
    f = sa_request()
    first = fake.pay(f)
    assert first["decision"] == "ACCEPT"
    again = fake.pay(sa_request(transaction_uuid=f["transaction_uuid"], amount="1.00"))
    assert (again["decision"], again["reason_code"]) == ("ERROR", "104")
    assert again["transaction_id"] != first["transaction_id"] and sa_verify(again, SECRET)
    # through the browser too
    fake.receipt_url = "http://127.0.0.1:9/receipt"  # only rendered into the page
    st, _, page = post_form(fake.base_url + "/pay", sa_request(transaction_uuid=f["transaction_uuid"]))
    assert st == 200 and Forms(page).fields()["reason_code"] == "104"
    # another uuid is fine; the original is unchanged
    assert fake.pay(sa_request())["decision"] == "ACCEPT"
    assert get_tx(fake, first["transaction_id"])[2]["applicationInformation"]["status"] == "AUTHORIZED"


def test_sa_browser_flow_without_javascript(fake, receiver):
    fake.merchant_post_url = receiver.url + "/mp"
    f = sa_request(override_custom_receipt_page=receiver.url + "/receipt?o=1", reference_number="R-77",
                   amount="12.50", transaction_type="sale", bill_to_forename="Ann")
    st, hd, page = post_form(fake.base_url + "/pay", f)
    assert st == 200 and hd["content-type"].startswith("text/html")
    p = Forms(page)
    assert p.scripts == 0
    [form] = p.forms
    assert form["action"] == "/pay/complete" and form["method"] == "post"
    names = {a.get("name") for a in form["inputs"]}
    assert {"card_number", "card_expiry_date", "card_cvn", "session"} <= names
    hidden = [a for a in form["inputs"] if a.get("type") == "hidden"]
    assert [a["name"] for a in hidden] == ["session"] and hidden[0]["value"]
    assert {(b.get("name"), b.get("value")) for b in form["buttons"]} == {("action", "pay"), ("action", "cancel")}
    assert b"12.50" in page and b"R-77" in page
    assert receiver.got == []  # nothing delivered before the card is entered

    sub = {"session": p.fields()["session"], "card_number": "4111111111111111",
           "card_expiry_date": "11-2031", "card_cvn": "123", "action": "pay"}
    st, _, page = post_form(fake.base_url + "/pay/complete", sub)
    assert st == 200
    p = Forms(page)
    [form] = p.forms
    assert form["action"] == receiver.url + "/receipt?o=1" and form["method"] == "post"
    submits = [a for a in form["inputs"] if a.get("type") == "submit"]
    assert len(submits) == 1 and "name" not in submits[0] and submits[0]["value"] == "Continue"
    r = p.fields()
    assert r["signature"] == my_sa_sign(r, SECRET)
    assert set(r["signed_field_names"].split(",")) == set(r) - {"signature"}
    assert r["decision"] == "ACCEPT" and r["reason_code"] == "100" and r["message"]
    assert re.fullmatch(r"\d{22}", r["transaction_id"])
    assert r["req_card_number"] == "xxxxxxxxxxxx1111" and r["req_card_expiry_date"] == "11-2031"
    for k in ("access_key", "profile_id", "transaction_uuid", "reference_number", "amount", "currency",
              "transaction_type", "locale", "bill_to_forename", "override_custom_receipt_page"):
        assert r["req_" + k] == f[k]
    assert r["auth_amount"] == "12.50" and re.fullmatch(r"\d{6}", r["auth_code"])
    assert r["auth_trans_ref_no"] and re.fullmatch(r"\d{4}-\d\d-\d\dT\d{6}Z", r["auth_time"])
    assert "4111111111111111" not in page.decode() and "req_card_cvn" not in r
    # the Merchant POST carried the same signed fields
    assert receiver.forms("/mp") == [r]
    # the browser's POST to the receipt page, and a replay of it
    a1, a2 = fake.post_receipt(r), fake.post_receipt(r)
    assert a1.status == a2.status == 200
    assert receiver.forms("/receipt?o=1") == [r, r]
    # a sale is captured
    st, _, d = get_tx(fake, r["transaction_id"])
    assert st == 200 and d["applicationInformation"]["status"] == "PENDING" and d["decision"] == "ACCEPT"
    assert d["clientReferenceInformation"]["code"] == "R-77"
    # the session is single-use
    st, _, b = post_form(fake.base_url + "/pay/complete", sub)
    assert st == 400 and b"expired" in b


def test_sa_cancel(fake, receiver):
    fake.merchant_post_url = receiver.url + "/mp"
    f = sa_request(override_custom_receipt_page=receiver.url + "/receipt",
                   override_custom_cancel_page=receiver.url + "/cancel")
    st, _, page = post_form(fake.base_url + "/pay", f)
    session = Forms(page).fields()["session"]
    st, _, page = post_form(fake.base_url + "/pay/complete", {"session": session, "action": "cancel"})
    p = Forms(page)
    r = p.fields()
    assert p.forms[0]["action"] == receiver.url + "/cancel"
    assert r["decision"] == "CANCEL" and "reason_code" not in r and sa_verify(r, SECRET)
    assert receiver.forms("/mp") == [r]
    assert get_tx(fake, r["transaction_id"])[0] == 404
    r2 = fake.pay(sa_request(), cancel=True)
    assert r2["decision"] == "CANCEL" and "reason_code" not in r2


def test_sa_receipt_page_without_url(fake):
    st, _, page = post_form(fake.base_url + "/pay", sa_request(drop=["currency"]))
    assert st == 200 and Forms(page).forms == [] and b"ERROR" in page


@pytest.mark.parametrize("card,ttype,decision,reason,status", [
    ("4111111111111111", "authorization", "ACCEPT", "100", "AUTHORIZED"),
    ("4111111111111111", "sale", "ACCEPT", "100", "PENDING"),
    ("5555555555554444", "authorization", "ACCEPT", "100", "AUTHORIZED"),
    ("378282246310005", "sale", "ACCEPT", "100", "PENDING"),
    ("4000000000000002", "authorization", "DECLINE", "203", "DECLINED"),
    ("4000000000009995", "sale", "DECLINE", "204", "DECLINED"),
    ("4000000000000101", "authorization", "REVIEW", "480", "AUTHORIZED_PENDING_REVIEW"),
    ("4000000000000119", "authorization", "REVIEW", "520", "AUTHORIZED_PENDING_REVIEW"),
    ("4000000000000150", "authorization", "ERROR", "150", None),
    ("4000000000000151", "authorization", "ERROR", "151", "AUTHORIZED"),  # it happened
])
def test_sa_card_outcomes(fake, card, ttype, decision, reason, status):
    r = fake.pay(sa_request(transaction_type=ttype, reference_number="C-" + card[-4:]), card=card)
    assert (r["decision"], r["reason_code"]) == (decision, reason)
    assert my_sa_sign(r, SECRET) == r["signature"]
    assert r["req_card_number"] == "x" * (len(card) - 4) + card[-4:]
    assert ("auth_code" in r) == (decision in ("ACCEPT", "REVIEW"))
    st, _, d = get_tx(fake, r["transaction_id"])
    if status is None:
        assert st == 404 and d["status"] == "NOT_FOUND" and d["reason"] == "NOT_FOUND" and d["message"]
        return
    assert st == 200
    assert d["applicationInformation"]["status"] == status
    assert d["paymentInformation"]["card"]["suffix"] == card[-4:]
    assert d["clientReferenceInformation"]["code"] == "C-" + card[-4:]
    assert d["decision"] == ("ACCEPT" if reason == "151" else decision)


def test_sa_partial_approval(fake):
    """4000000000000110: ACCEPT 110 for half the amount; PARTIAL_AUTHORIZED
    with that half authorized; a reversal of more than it is refused, of it
    reverses; a partial sale is voidable."""
    r = fake.pay(sa_request(amount="100.01"), card="4000000000000110")
    assert (r["decision"], r["reason_code"], r["auth_amount"]) == ("ACCEPT", "110", "50.00")
    st, _, d = get_tx(fake, r["transaction_id"])
    assert d["applicationInformation"]["status"] == "PARTIAL_AUTHORIZED"
    assert d["orderInformation"]["amountDetails"]["authorizedAmount"] == "50.00"
    path = f"/pts/v2/payments/{r['transaction_id']}/reversals"
    body = {"clientReferenceInformation": {"code": "ORD-1"},
            "reversalInformation": {"amountDetails": {"totalAmount": "100.01"}, "reason": "34"}}
    assert rest(fake, "POST", path, body)[0] == 400
    body["reversalInformation"]["amountDetails"]["totalAmount"] = "50.00"
    st, _, v = rest(fake, "POST", path, body)
    assert st == 201 and v["status"] == "REVERSED"
    assert get_tx(fake, r["transaction_id"])[2]["applicationInformation"]["status"] == "REVERSED"
    r = fake.pay(sa_request(transaction_type="sale", amount="9.99"), card="4000000000000110")
    assert r["auth_amount"] == "4.99"
    st, _, v = rest(fake, "POST", f"/pts/v2/payments/{r['transaction_id']}/voids",
                    {"clientReferenceInformation": {"code": r["req_reference_number"]}})
    assert st == 201 and v["status"] == "VOIDED"


def test_sa_card_validation(fake):
    r = fake.pay(sa_request(), card="4111111111111112")
    assert (r["decision"], r["reason_code"], r["invalid_fields"]) == ("ERROR", "102", "card_number")
    r = fake.pay(sa_request(), expiry="2031-11")
    assert r["invalid_fields"] == "card_expiry_date"
    r = fake.pay(sa_request(), expiry="01-2020")
    assert (r["decision"], r["reason_code"]) == ("DECLINE", "202")


def test_sa_review_resolution(fake):
    r = fake.pay(sa_request(transaction_type="sale"), card="4000000000000101")
    fake.resolve_review(r["transaction_id"], accept=True)
    assert get_tx(fake, r["transaction_id"])[2]["applicationInformation"]["status"] == "PENDING"
    r = fake.pay(sa_request(), card="4000000000000119")
    assert rest(fake, "POST", f"/pts/v2/payments/{r['transaction_id']}/captures", amt("100.00"))[0] == 400
    fake.resolve_review(r["transaction_id"], accept=False)
    assert get_tx(fake, r["transaction_id"])[2]["applicationInformation"]["status"] == "REVERSED"


def test_merchant_post_modes(fake, receiver):
    fake.merchant_post_url = receiver.url + "/mp"
    r = fake.pay(sa_request())
    assert receiver.forms("/mp") == [r]  # normal: there when pay() returns
    assert receiver.got[0][2]["content-type"].startswith("application/x-www-form-urlencoded")
    receiver.got.clear()
    fake.merchant_post_mode = "duplicated"
    r = fake.pay(sa_request())
    assert receiver.forms("/mp") == [r, r]
    receiver.got.clear()
    fake.merchant_post_mode = "never"
    fake.pay(sa_request())
    time.sleep(0.1)
    assert receiver.got == []
    fake.merchant_post_mode = "delayed"
    t0 = time.monotonic()
    r = fake.pay(sa_request())
    assert receiver.got == []
    receiver.wait(1, timeout=5)
    assert time.monotonic() - t0 >= 0.25
    assert receiver.forms("/mp") == [r]
    fake.wait_merchant_posts(2)
    with pytest.raises(ValueError):
        fake.merchant_post_mode = "sometimes"
    # the browser path honours the mode too
    receiver.got.clear()
    fake.merchant_post_mode = "duplicated"
    st, _, page = post_form(fake.base_url + "/pay", sa_request())
    sess = Forms(page).fields()["session"]
    post_form(fake.base_url + "/pay/complete", {"session": sess, "card_number": "4111111111111111",
                                                "card_expiry_date": "12-2031", "action": "pay"})
    assert len(receiver.forms("/mp")) == 2
    assert [a.label for a in fake.webhooks][-2:] == ["merchant post", "merchant post"]


def test_tampered_and_resigned_results(fake):
    r = fake.pay(sa_request(amount="100.00"))
    t = tampered(r, req_amount="1.00")
    assert t["signature"] == r["signature"] and t["req_amount"] == "1.00"
    assert not sa_verify(t, SECRET)
    assert fake.tampered is tampered
    # re-signed over a list without req_amount: the signature is valid, the
    # amount is not covered by it (a receiver must require it in the list)
    rs = fake.resign(t, leave_out=["req_amount"])
    assert sa_verify(rs, SECRET) and my_sa_sign(rs, SECRET) == rs["signature"]
    assert "req_amount" not in rs["signed_field_names"].split(",") and rs["req_amount"] == "1.00"
    assert rs["signed_field_names"].split(",")[-1] == "signed_field_names"
    other = fake.resign(r, secret="another secret")
    assert not sa_verify(other, SECRET) and sa_verify(other, "another secret")
    explicit = fake.resign(r, signed_field_names=["decision", "transaction_id"])
    assert explicit["signed_field_names"] == "decision,transaction_id,signed_field_names"
    assert sa_verify(explicit, SECRET)


# ===========================================================================
# REST: authentication


def test_rest_signature_good(fake):
    st, hd, b = auth(fake)
    assert st == 201 and hd["content-type"] == "application/hal+json;charset=utf-8"
    st, _, d = get_tx(fake, b["id"])
    assert st == 200 and d["id"] == b["id"]
    # the fake's own signer (as the C adapter will sign) is accepted too
    body = json.dumps(amt("10.00")).encode()
    path = f"/pts/v2/payments/{b['id']}/captures"
    h = http_signature_headers("POST", f"127.0.0.1:{fake.port}", path, body, MID, KEY_ID, SHARED)
    h["Content-Type"] = "application/json;charset=utf-8"
    assert call("POST", fake.base_url + path, body, h)[0] == 201
    # a query string is part of the request-target
    target = f"/tss/v2/transactions/{b['id']}?view=full"
    assert rest(fake, "GET", target)[0] == 200
    h = my_rest_headers("GET", f"127.0.0.1:{fake.port}", target.split("?")[0], b"")
    assert call("GET", fake.base_url + target, b"", h)[0] == 401


def _drop(name):
    return lambda h: h.pop(name)


def _set(name, value):
    return lambda h: h.__setitem__(name, value)


@pytest.mark.parametrize("what,kw,why", [
    ("missing date", {"mutate": _drop("Date")}, "no Date"),
    ("stale date", {"date": email.utils.formatdate(time.time() - 3600, usegmt=True)}, "skew"),
    ("future date", {"date": email.utils.formatdate(time.time() + 3600, usegmt=True)}, "skew"),
    ("date not GMT", {"date": email.utils.formatdate(time.time(), localtime=False)}, "GMT"),
    ("wrong digest", {"mutate": _set("Digest", "SHA-256=" + base64.b64encode(b"x" * 32).decode())}, "Digest"),
    ("missing digest", {"mutate": _drop("Digest")}, "Digest"),
    ("header order", {"order": ["date", "host", "(request-target)", "digest", "v-c-merchant-id"]}, "headers"),
    ("no date in list", {"order": ["host", "(request-target)", "digest", "v-c-merchant-id"]}, "headers"),
    ("key not decoded", {"decode_key": False}, "signature mismatch"),
    ("wrong key id", {"key_id": str(uuid.uuid4())}, "keyid"),
    ("wrong merchant", {"mid": "someone_else"}, "merchant"),
    ("missing signature", {"mutate": _drop("Signature")}, "Signature"),
    ("wrong algorithm", {"mutate": lambda h: h.__setitem__("Signature", h["Signature"].replace(
        "HmacSHA256", "HmacSHA512"))}, "algorithm"),
    ("kid instead of keyid", {"mutate": lambda h: h.__setitem__("Signature", h["Signature"].replace(
        "keyid=", "kid="))}, "keyid"),
])
def test_rest_signature_rejected(fake, what, kw, why):
    fake.set_mode("error_502", count=1)  # not used up by a rejected request
    st, hd, b = auth(fake, **kw)
    assert st == 401, what
    assert b == {"response": {"rmsg": "Authentication Failed"}}
    assert why.lower() in fake.last_auth_failure.lower()
    assert fake.transactions == {}
    assert fake.mode == "error_502"


def test_rest_get_signature_rules(fake):
    st, _, b = auth(fake)
    path = f"/tss/v2/transactions/{b['id']}"
    # a GET signed with a digest in the list is refused (not the SDK's list)
    order = ["host", "date", "(request-target)", "digest", "v-c-merchant-id"]
    assert rest(fake, "GET", path, order=order)[0] == 401
    # the body must be the one signed
    body = json.dumps(amt("1.00")).encode()
    h = my_rest_headers("POST", f"127.0.0.1:{fake.port}", f"/pts/v2/payments/{b['id']}/captures", body)
    assert call("POST", fake.base_url + f"/pts/v2/payments/{b['id']}/captures", body + b" ", h)[0] == 401
    # the request-target signed must be the one requested
    h = my_rest_headers("POST", f"127.0.0.1:{fake.port}", "/pts/v2/payments", body)
    assert call("POST", fake.base_url + f"/pts/v2/payments/{b['id']}/captures", body, h)[0] == 401
    # the Host signed must be the Host sent (any value: it stands for apitest.cybersource.com)
    h = my_rest_headers("GET", "apitest.cybersource.com", path, b"")
    assert call("GET", fake.base_url + path, b"", h)[0] == 200
    h["Host"] = "api.cybersource.com"
    assert call("GET", fake.base_url + path, b"", h)[0] == 401


# ===========================================================================
# REST: state machine


def test_authorize_shape(fake):
    st, _, b = auth(fake, amount="50.00", code="ORD-9", tid="t-auth-1")
    assert st == 201
    assert re.fullmatch(r"\d{22}", b["id"]) and b["status"] == "AUTHORIZED"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b["submitTimeUtc"]) and b["reconciliationId"]
    assert b["clientReferenceInformation"] == {"code": "ORD-9", "transactionId": "t-auth-1"}
    assert set(b["processorInformation"]) >= {"approvalCode", "responseCode", "transactionId"}
    assert b["orderInformation"]["amountDetails"]["totalAmount"] == "50.00"
    assert b["orderInformation"]["amountDetails"]["currency"] == "USD"
    assert set(b["_links"]) == {"self", "capture", "reversal"}
    assert b["_links"]["capture"] == {"href": f"/pts/v2/payments/{b['id']}/captures", "method": "POST"}


def test_capture_partial_double_and_reversal_after(fake):
    _, _, a = auth(fake, amount="50.00")
    pid = a["id"]
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{pid}/captures", amt("50.01"))
    assert st == 400 and e["reason"] == "INVALID_AMOUNT" and e["status"] == "INVALID_REQUEST"
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{pid}/captures", amt("10.00", currency="EUR"))
    assert st == 400 and e["reason"] == "INVALID_DATA"
    st, _, c = rest(fake, "POST", f"/pts/v2/payments/{pid}/captures", amt("30.00", code="ORD-7", tid="cap-1"))
    assert st == 201 and c["status"] == "PENDING" and c["id"] != pid
    assert c["orderInformation"]["amountDetails"] == {"totalAmount": "30.00", "currency": "USD"}
    assert set(c["_links"]) == {"self", "void", "refund"}
    assert c["processorInformation"]["approvalCode"] == a["processorInformation"]["approvalCode"]
    assert set(c["processorInformation"]) == {"approvalCode", "responseCode", "transactionId"}
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{pid}/captures", amt("10.00"))
    assert st == 400 and e["reason"] == "INVALID_DATA" and "captured" in e["message"]
    assert isinstance(e["details"], list) and e["submitTimeUtc"]
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{pid}/reversals",
                    {"reversalInformation": {"amountDetails": {"totalAmount": "50.00"}, "reason": "34"}})
    assert st == 400 and e["reason"] == "INVALID_DATA"
    d = get_tx(fake, pid)[2]
    assert d["applicationInformation"]["status"] == "PENDING"
    assert {"href": f"/tss/v2/transactions/{c['id']}", "method": "GET"} in d["_links"]["relatedTransactions"]
    assert get_tx(fake, c["id"])[2]["applicationInformation"]["status"] == "PENDING"


def test_reversal_then_capture(fake):
    _, _, a = auth(fake, amount="20.00")
    rv = {"reversalInformation": {"amountDetails": {"totalAmount": "5.00"}, "reason": "34"}}
    st, _, r = rest(fake, "POST", f"/pts/v2/payments/{a['id']}/reversals", rv)
    assert st == 201 and r["status"] == "REVERSED"  # partial: 15.00 still authorized
    assert get_tx(fake, a["id"])[2]["applicationInformation"]["status"] == "AUTHORIZED"
    rv["reversalInformation"]["amountDetails"]["totalAmount"] = "15.00"
    st, _, r = rest(fake, "POST", f"/pts/v2/payments/{a['id']}/reversals", rv)
    assert st == 201 and r["reversalAmountDetails"]["reversedAmount"] == "15.00"
    assert get_tx(fake, a["id"])[2]["applicationInformation"]["status"] == "REVERSED"
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{a['id']}/captures", amt("1.00"))
    assert st == 400 and e["reason"] == "INVALID_DATA" and "reversed" in e["message"]
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{a['id']}/reversals", rv)
    assert st == 400
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{a['id']}/reversals", {"reversalInformation": {}})
    assert st == 400 and e["reason"] == "MISSING_FIELD"


def test_sale_refunds_and_voids(fake):
    st, _, s = auth(fake, amount="40.00", capture=True)
    assert st == 201 and s["status"] == "AUTHORIZED" and "void" in s["_links"] and "capture" not in s["_links"]
    sid = s["id"]
    assert get_tx(fake, sid)[2]["applicationInformation"]["status"] == "PENDING"
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{sid}/captures", amt("1.00"))
    assert st == 400 and e["reason"] == "INVALID_DATA"
    st, _, r1 = rest(fake, "POST", f"/pts/v2/payments/{sid}/refunds", amt("15.00"))
    assert st == 201 and r1["status"] == "PENDING" and r1["refundAmountDetails"]["refundAmount"] == "15.00"
    st, _, r2 = rest(fake, "POST", f"/pts/v2/payments/{sid}/refunds", amt("25.00"))
    assert st == 201
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{sid}/refunds", amt("0.01"))
    assert st == 400 and e["reason"] == "INVALID_AMOUNT"
    # a sale with live refunds is not voided
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{sid}/voids", {"clientReferenceInformation": {"code": "x"}})
    assert st == 400 and e["reason"] == "INVALID_DATA"
    for r in (r1, r2):
        st, _, v = rest(fake, "POST", f"/pts/v2/refunds/{r['id']}/voids", {})
        assert st == 201 and v["status"] == "VOIDED"
    assert get_tx(fake, r1["id"])[2]["applicationInformation"]["status"] == "VOIDED"
    st, _, e = rest(fake, "POST", f"/pts/v2/refunds/{r1['id']}/voids", {})
    assert st == 400 and e["reason"] == "INVALID_DATA"
    st, _, v = rest(fake, "POST", f"/pts/v2/payments/{sid}/voids", {})
    assert st == 201 and v["status"] == "VOIDED"
    assert v["voidAmountDetails"]["voidAmount"] == "40.00"
    assert get_tx(fake, sid)[2]["applicationInformation"]["status"] == "VOIDED"
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{sid}/refunds", amt("1.00"))
    assert st == 400
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{sid}/voids", {})
    assert st == 400


def test_capture_refund_and_void(fake):
    _, _, a = auth(fake, amount="30.00")
    _, _, c = rest(fake, "POST", f"/pts/v2/payments/{a['id']}/captures", amt("30.00"))
    # a separately captured payment is refunded through its capture
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{a['id']}/refunds", amt("5.00"))
    assert st == 400 and c["id"] in e["message"]
    st, _, e = rest(fake, "POST", f"/pts/v2/captures/{a['id']}/refunds", amt("5.00"))
    assert st == 400 and e["reason"] == "INVALID_PAYMENT_ID"
    st, _, r = rest(fake, "POST", f"/pts/v2/captures/{c['id']}/refunds", amt("30.00"))
    assert st == 201
    st, _, e = rest(fake, "POST", f"/pts/v2/captures/{c['id']}/refunds", amt("0.01"))
    assert st == 400 and e["reason"] == "INVALID_AMOUNT"
    rest(fake, "POST", f"/pts/v2/refunds/{r['id']}/voids", {})
    st, _, v = rest(fake, "POST", f"/pts/v2/captures/{c['id']}/voids", {})
    assert st == 201 and v["status"] == "VOIDED"
    assert get_tx(fake, c["id"])[2]["applicationInformation"]["status"] == "VOIDED"
    # an authorization is reversed, not voided
    _, _, a2 = auth(fake)
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{a2['id']}/voids", {})
    assert st == 400 and e["reason"] == "INVALID_DATA"


def test_sa_sale_void(fake):
    r = fake.pay(sa_request(transaction_type="sale", amount="9.99"))
    st, _, v = rest(fake, "POST", f"/pts/v2/payments/{r['transaction_id']}/voids",
                    {"clientReferenceInformation": {"code": r["req_reference_number"]}})
    assert st == 201 and v["status"] == "VOIDED"
    assert get_tx(fake, r["transaction_id"])[2]["applicationInformation"]["status"] == "VOIDED"
    # and an SA authorization is captured through REST
    r = fake.pay(sa_request(amount="9.99"))
    st, _, c = rest(fake, "POST", f"/pts/v2/payments/{r['transaction_id']}/captures", amt("9.99"))
    assert st == 201 and c["clientReferenceInformation"]["code"] == "ORD-1"


def test_timeout_void_and_transaction_ids(fake):
    fake.set_mode("timeout_after_execute", count=1)
    with pytest.raises(socket.timeout):
        auth(fake, tid="tv-1", timeout=0.3)
    [tx] = fake.transactions.values()
    assert tx["status"] == "AUTHORIZED"
    # the same transactionId in a new request is refused
    st, _, e = auth(fake, tid="tv-1")
    assert st == 400 and e["reason"] == "INVALID_DATA"
    assert e["details"] == [{"field": "clientReferenceInformation.transactionId", "reason": "INVALID_DATA"}]
    st, _, v = rest(fake, "POST", "/pts/v2/voids", {"clientReferenceInformation": {"transactionId": "tv-1"}})
    assert st == 201 and v["status"] == "VOIDED" and v["clientReferenceInformation"]["transactionId"] == "tv-1"
    assert get_tx(fake, tx["id"])[2]["applicationInformation"]["status"] == "VOIDED"
    st, _, v2 = rest(fake, "POST", "/pts/v2/voids", {"clientReferenceInformation": {"transactionId": "tv-1"}})
    assert st == 201 and v2["id"] == v["id"]  # idempotent
    st, _, e = rest(fake, "POST", "/pts/v2/voids", {"clientReferenceInformation": {"transactionId": "nope"}})
    assert st == 400 and e["reason"] == "INVALID_DATA" and "no transaction with this transactionId" in e["message"]
    st, _, e = rest(fake, "POST", "/pts/v2/voids", {})
    assert st == 400 and e["reason"] == "MISSING_FIELD"
    # a timed-out refund is undone the same way
    _, _, s = auth(fake, capture=True, amount="10.00")
    _, _, r = rest(fake, "POST", f"/pts/v2/payments/{s['id']}/refunds", amt("10.00", tid="tv-ref"))
    st, _, v = rest(fake, "POST", "/pts/v2/voids", {"clientReferenceInformation": {"transactionId": "tv-ref"}})
    assert st == 201 and get_tx(fake, r["id"])[2]["applicationInformation"]["status"] == "VOIDED"
    # the refunded amount is refundable again
    assert rest(fake, "POST", f"/pts/v2/payments/{s['id']}/refunds", amt("10.00"))[0] == 201
    # transactionIds of captures and refunds are unique too
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{s['id']}/refunds", amt("1.00", tid="tv-ref"))
    assert st == 400 and e["reason"] == "INVALID_DATA"


def test_unknown_ids_and_missing_fields(fake):
    for path in ("/pts/v2/payments/1234567890123456789012/captures", "/pts/v2/payments/999/reversals",
                 "/pts/v2/payments/999/voids", "/pts/v2/captures/999/voids", "/pts/v2/refunds/999/voids",
                 "/pts/v2/credits/999/voids", "/pts/v2/payments/999/refunds", "/pts/v2/captures/999/refunds"):
        st, _, e = rest(fake, "POST", path, amt("1.00"))
        assert st == 400, path
        assert e["status"] == "INVALID_REQUEST" and e["reason"] == "INVALID_PAYMENT_ID" and e["details"] == []
        assert e["message"] and e["submitTimeUtc"]
    st, _, e = get_tx(fake, "1234567890123456789012")
    assert st == 404 and e["status"] == "NOT_FOUND" and e["reason"] == "NOT_FOUND"
    _, _, a = auth(fake)
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{a['id']}/captures",
                    {"orderInformation": {"amountDetails": {"currency": "USD"}}})
    assert st == 400 and e["reason"] == "MISSING_FIELD"
    assert e["details"] == [{"field": "orderInformation.amountDetails.totalAmount", "reason": "MISSING_FIELD"}]
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{a['id']}/captures", amt(12))
    assert st == 400 and e["reason"] == "INVALID_DATA"  # a JSON number, not a string
    st, _, e = rest(fake, "POST", "/pts/v2/payments", raw=b"{not json")
    assert st == 400
    st, _, e = auth(fake, card="4111111111111112")
    assert st == 400 and e["reason"] == "INVALID_CARD"
    st, _, e = rest(fake, "POST", "/pts/v2/payments", {"orderInformation": {"amountDetails": {"totalAmount": "1"}}})
    assert st == 400 and e["reason"] == "MISSING_FIELD"


def test_rest_card_outcomes(fake):
    st, _, d = auth(fake, card="4000000000000002")
    assert st == 201 and d["status"] == "DECLINED" and d["errorInformation"]["reason"] == "PROCESSOR_DECLINED"
    st, _, d = auth(fake, card="4000000000009995")
    assert d["status"] == "DECLINED" and d["errorInformation"]["reason"] == "INSUFFICIENT_FUND"
    st, _, d = auth(fake, card="4000000000000101")
    assert d["status"] == "AUTHORIZED_PENDING_REVIEW"
    st, _, d = auth(fake, card="4000000000000119")
    assert d["status"] == "AUTHORIZED_RISK_DECLINED"
    n = len(fake.transactions)
    st, _, d = auth(fake, card="4000000000000150")
    assert st == 502 and d["reason"] == "SYSTEM_ERROR" and len(fake.transactions) == n
    st, _, d = auth(fake, card="4000000000000151", code="T151")
    assert st == 502 and d["status"] == "SERVER_ERROR" and d["reason"] == "SERVER_TIMEOUT"
    assert len(fake.transactions) == n + 1


def test_tss_detail_and_search(fake):
    _, _, a = auth(fake, amount="70.00", code="SRCH-1", tid="s-1")
    _, _, c = rest(fake, "POST", f"/pts/v2/payments/{a['id']}/captures", amt("70.00"))
    auth(fake, code="SRCH-2")
    r = fake.pay(sa_request(reference_number="SRCH-1"))
    st, hd, d = get_tx(fake, a["id"])
    assert st == 200 and hd["content-type"].startswith("application/hal+json")
    assert d["id"] == a["id"] and d["submitTimeUtc"] == a["submitTimeUtc"]
    assert d["clientReferenceInformation"]["code"] == "SRCH-1"
    assert d["clientReferenceInformation"]["transactionId"] == "s-1"
    assert d["orderInformation"]["amountDetails"]["totalAmount"] == "70.00"
    ai = d["applicationInformation"]
    assert ai["status"] == "PENDING" and ai["reasonCode"] == "100" and ai["rCode"] == "1"
    [app] = ai["applications"]
    assert set(app) >= {"name", "reasonCode", "rCode", "rFlag", "reconciliationId"} and app["name"] == "ics_auth"
    assert d["paymentInformation"]["card"] == {"suffix": "1111", "type": "001"}
    assert set(d["processorInformation"]) >= {"approvalCode", "responseCode", "transactionId"}
    assert "decision" not in d  # REST-made
    st, _, s = rest(fake, "POST", "/tss/v2/searches",
                    {"query": "clientReferenceInformation.code:SRCH-1", "limit": 10, "offset": 0,
                     "sort": "submitTimeUtc:desc"})
    assert st == 201 and s["count"] == s["totalCount"] == 3
    ids = [t["id"] for t in s["_embedded"]["transactionSummaries"]]
    assert ids == [r["transaction_id"], c["id"], a["id"]]
    summ = s["_embedded"]["transactionSummaries"][0]
    assert set(summ) >= {"id", "submitTimeUtc", "clientReferenceInformation", "applicationInformation",
                         "orderInformation"}
    assert summ["decision"] == "ACCEPT"
    st, _, again = rest(fake, "GET", f"/tss/v2/searches/{s['searchId']}")
    assert st == 200 and again == s
    st, _, s2 = rest(fake, "POST", "/tss/v2/searches",
                     {"query": 'clientReferenceInformation.code:"SRCH-1" AND submitTimeUtc:[NOW/DAY-7DAYS TO NOW/DAY+1DAY}',
                      "limit": 1, "offset": 1, "sort": "submitTimeUtc:asc"})
    assert st == 201 and s2["count"] == 1 and s2["totalCount"] == 3
    assert s2["_embedded"]["transactionSummaries"][0]["id"] == c["id"]
    st, _, e = rest(fake, "POST", "/tss/v2/searches", {"query": "bogus:1"})
    assert st == 400
    st, _, e = rest(fake, "POST", "/tss/v2/searches", {})
    assert st == 400 and e["reason"] == "MISSING_FIELD"
    assert rest(fake, "GET", "/tss/v2/searches/nope")[0] == 404


def test_tss_delay(fake):
    fake.tss_delay = 30
    _, _, a = auth(fake, code="LAG")
    assert get_tx(fake, a["id"])[0] == 404
    st, _, s = rest(fake, "POST", "/tss/v2/searches", {"query": "clientReferenceInformation.code:LAG"})
    assert st == 201 and s["totalCount"] == 0
    fake.tss_delay = 0
    assert get_tx(fake, a["id"])[0] == 200


# ===========================================================================
# REST: failure modes


def test_mode_error_502_after_executes(fake):
    _, _, a = auth(fake, amount="25.00")
    fake.set_mode("error_502_after", count=1)
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{a['id']}/captures", amt("25.00", tid="c-502"))
    assert st == 502
    assert set(e) == {"submitTimeUtc", "status", "reason", "message"}
    assert e["status"] == "SERVER_ERROR" and e["reason"] == "SERVER_TIMEOUT"
    # it happened: the query says so; a blind retry is refused
    d = get_tx(fake, a["id"])[2]
    assert d["applicationInformation"]["status"] == "PENDING" and d["_links"]["relatedTransactions"]
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{a['id']}/captures", amt("25.00", tid="c-502"))
    assert st == 400 and e["reason"] == "INVALID_DATA"


def test_mode_error_502_does_not_execute(fake):
    fake.set_mode("error_502", count=1)
    st, _, e = auth(fake, tid="p-502")
    assert st == 502 and e["reason"] == "SERVER_TIMEOUT" and fake.transactions == {}
    st, _, a = auth(fake, tid="p-502")  # nothing happened: the same transactionId is free
    assert st == 201


@pytest.mark.parametrize("mode,status", [("unauthorized", 401), ("missing_field", 400), ("html_500", 500),
                                         ("rate_limit", 429)])
def test_rejecting_modes(fake, mode, status):
    fake.set_mode(mode, count=1)
    st, hd, b = auth(fake)
    assert st == status
    assert fake.transactions == {} and fake.mode == "normal"
    if mode == "unauthorized":
        assert b == {"response": {"rmsg": "Authentication Failed"}}
    elif mode == "missing_field":
        assert b["reason"] == "MISSING_FIELD" and b["status"] == "INVALID_REQUEST"
        assert b["details"] and set(b["details"][0]) == {"field", "reason"}
    elif mode == "html_500":
        assert hd["content-type"].startswith("text/html") and b"<html>" in b
    else:
        assert hd["retry-after"] == "1"
    assert auth(fake)[0] == 201


def test_mode_declined_and_pending_review(fake):
    fake.set_mode("declined", count=1)
    st, _, d = auth(fake)
    assert st == 201 and d["status"] == "DECLINED"
    assert d["errorInformation"]["reason"] == "PROCESSOR_DECLINED" and d["errorInformation"]["message"]
    assert get_tx(fake, d["id"])[2]["applicationInformation"]["status"] == "DECLINED"
    fake.set_mode("pending_review", count=1)
    st, _, p = auth(fake)
    assert st == 201 and p["status"] == "AUTHORIZED_PENDING_REVIEW"
    assert get_tx(fake, p["id"])[2]["applicationInformation"]["status"] == "AUTHORIZED_PENDING_REVIEW"
    st, _, e = rest(fake, "POST", f"/pts/v2/payments/{p['id']}/captures", amt("50.00"))
    assert st == 400
    st, _, rv = rest(fake, "POST", f"/pts/v2/payments/{p['id']}/reversals",
                     {"reversalInformation": {"amountDetails": {"totalAmount": "50.00"}}})
    assert st == 201 and rv["status"] == "REVERSED"
    # a declined capture changes nothing
    _, _, a = auth(fake)
    fake.set_mode("declined", count=1)
    st, _, c = rest(fake, "POST", f"/pts/v2/payments/{a['id']}/captures", amt("50.00"))
    assert st == 201 and c["status"] == "DECLINED"
    assert get_tx(fake, a["id"])[2]["applicationInformation"]["status"] == "AUTHORIZED"


def test_mode_slow_and_timeout_after_execute(fake):
    fake.set_mode("slow", count=1)
    t0 = time.monotonic()
    assert auth(fake)[0] == 201
    assert time.monotonic() - t0 >= 0.3
    _, _, a = auth(fake, amount="10.00")
    fake.set_mode("timeout_after_execute", count=1)
    t0 = time.monotonic()
    with pytest.raises((socket.timeout, http.client.RemoteDisconnected, ConnectionError)):
        rest(fake, "POST", f"/pts/v2/payments/{a['id']}/captures", amt("10.00"), timeout=3)
    assert 0.9 <= time.monotonic() - t0 < 3  # held hang_seconds (1.0), then closed without an answer
    assert get_tx(fake, a["id"])[2]["applicationInformation"]["status"] == "PENDING"


def test_mode_endpoint_classes_and_refused(fake):
    _, _, a = auth(fake)
    fake.set_mode("error_502", endpoint="query")
    assert get_tx(fake, a["id"])[0] == 502
    assert rest(fake, "POST", "/tss/v2/searches", {"query": "id:" + a["id"]})[0] == 502  # a query
    assert auth(fake)[0] == 201  # sends are not affected
    fake.set_mode("rate_limit", count=2, endpoint="any")
    assert get_tx(fake, a["id"])[0] == 429 and auth(fake)[0] == 429
    assert get_tx(fake, a["id"])[0] == 200
    # SA is not affected by modes
    fake.set_mode("html_500", endpoint="any")
    assert post_form(fake.base_url + "/pay", sa_request())[0] == 200
    fake.set_mode("connect_refused")
    with pytest.raises(ConnectionRefusedError):
        get_tx(fake, a["id"])
    fake.set_mode("normal")
    assert get_tx(fake, a["id"])[0] == 200


# ===========================================================================
# standalone


def test_standalone():
    with standalone(HERE / "cybersource_fake.py", "--key-id", KEY_ID, "--shared-secret", SHARED,
                    "--merchant-id", MID) as base:
        port = int(base.rsplit(":", 1)[1])
        path = "/tss/v2/transactions/1234567890123456789012"
        h = my_rest_headers("GET", f"127.0.0.1:{port}", path, b"")
        st, _, b = call("GET", base + path, b"", h)
        assert st == 404 and json.loads(b)["status"] == "NOT_FOUND"
        h = my_rest_headers("GET", f"127.0.0.1:{port}", path, b"", shared=base64.b64encode(b"z" * 32).decode())
        assert call("GET", base + path, b"", h)[0] == 401
        # the bench's control plane: a paid SA request with the default credentials
        from cybersource_fake import DEFAULT_ACCESS_KEY, DEFAULT_PROFILE_ID, DEFAULT_SECRET_KEY
        f = {"access_key": DEFAULT_ACCESS_KEY, "profile_id": DEFAULT_PROFILE_ID,
             "transaction_uuid": uuid.uuid4().hex, "signed_field_names": "", "unsigned_field_names": "",
             "signed_date_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "locale": "en",
             "transaction_type": "sale", "reference_number": "B-1", "amount": "5.00", "currency": "USD"}
        f["signed_field_names"] = ",".join(f)
        f["signature"] = my_sa_sign(f, DEFAULT_SECRET_KEY)
        st, _, b = call("POST", base + "/_fake/pay", json.dumps({"request_fields": f}).encode(),
                        {"Content-Type": "application/json"})
        assert st == 200
        r = json.loads(b)
        assert r["decision"] == "ACCEPT" and my_sa_sign(r, DEFAULT_SECRET_KEY) == r["signature"]
        st, _, b = call("GET", base + "/_fake/transactions")
        assert st == 200 and json.loads(b)[r["transaction_id"]]["status"] == "PENDING"
        st, _, b = call("POST", base + "/_fake/mode", json.dumps({"name": "error_502", "count": 1}).encode(),
                        {"Content-Type": "application/json"})
        assert st == 200
