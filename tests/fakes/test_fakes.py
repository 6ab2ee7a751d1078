"""Each provider fake on its own (no chatpay): auth, validation, success shapes,
failure modes, and the webhook drivers, whose signatures are checked here with
code written independently of the fakes (hmac/hashlib/base64 only).

Run: /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/fakes/test_fakes.py
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
from pathlib import Path

import pytest

from callback_receiver import CallbackReceiver
from clickatell_fake import ClickatellFake
from fake_http import TinyServer, call, free_port_url, jcall, standalone
from twilio_fake import TwilioFake
from whatsapp_cloud_fake import WhatsAppCloudFake

HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------------------
# helpers


@pytest.fixture(scope="module")
def _shared_receiver():
    r = CallbackReceiver().start()
    yield r
    r.stop()  # takes ~0.5 s (its poll interval), so once per module


@pytest.fixture
def receiver(_shared_receiver):
    r = _shared_receiver
    with r.lock:
        r.deliveries.clear()
        r.modes.clear()
    r.mode = "ok"
    yield r
    r.mode = "ok"


# ===========================================================================
# Clickatell

CK_KEY = "ck-integration-key-0123456789"


@pytest.fixture
def ck():
    f = ClickatellFake(CK_KEY, hang_seconds=1.5, webhook_retry_delay=0.05)
    yield f
    f.stop()


def ck_send(fake, messages, key=CK_KEY, timeout=5.0, raw=None):
    h = {"Authorization": key} if key is not None else {}
    h["Accept"] = "application/json"
    st, hd, b = jcall("POST", fake.base_url + "/v1/message", {"messages": messages}, h, timeout, raw)
    return st, b


def test_ck_auth(ck):
    for key in (None, "wrong", "Bearer " + CK_KEY):
        st, b = ck_send(ck, [{"to": "27999000001", "content": "hi"}], key=key)
        assert st == 401
        body = json.loads(b)
        assert body["error"]["code"] == 1 and body["error"]["description"]
        assert "messages" not in body
    assert ck.messages == {}
    assert len(ck.requests) == 3 and ck.requests[0].headers.get("authorization") is None
    st, _, b = call("GET", ck.base_url + "/v1/message/abc", headers={"Authorization": "nope"})
    assert st == 401 and json.loads(b)["error"]["code"] == 1


def test_ck_success_shape_and_status_query(ck):
    st, b = ck_send(ck, [{"to": "27999000001", "content": "pay here", "channel": "whatsapp",
                          "clientMessageId": "cp-1"}])
    assert st == 202
    body = json.loads(b)
    assert body["error"] is None
    [m] = body["messages"]
    assert re.fullmatch(r"[0-9a-f]{32}", m["apiMessageId"])
    assert m == {"apiMessageId": m["apiMessageId"], "accepted": True, "to": "27999000001",
                 "clientMessageId": "cp-1", "error": None}
    rec = ck.messages[m["apiMessageId"]]
    assert (rec["to"], rec["channel"], rec["text"], rec["status"]) == ("27999000001", "whatsapp", "pay here", "QUEUED")
    # recorded request
    r = ck.requests[-1]
    assert r.method == "POST" and r.path == "/v1/message" and r.parsed["messages"][0]["to"] == "27999000001"
    assert r.headers["authorization"] == CK_KEY and isinstance(r.body, bytes) and r.at > 0
    # status query: keyed by channel
    st, _, b = call("GET", f"{ck.base_url}/v1/message/{m['apiMessageId']}", headers={"Authorization": CK_KEY})
    q = json.loads(b)
    assert st == 200 and list(q) == ["whatsapp"] and q["whatsapp"]["status"] == "QUEUED"
    assert isinstance(q["whatsapp"]["timestamp"], int)
    # unknown id: no channel, UNKNOWN, timestamp now
    st, _, b = call("GET", f"{ck.base_url}/v1/message/{'0' * 32}", headers={"Authorization": CK_KEY})
    q = json.loads(b)
    assert st == 200 and q["status"] == "UNKNOWN" and "sms" not in q and "whatsapp" not in q
    assert abs(q["timestamp"] - time.time() * 1000) < 5000
    # no clientMessageId given: none echoed; channel defaults to sms
    st, b = ck_send(ck, [{"to": "27999000002", "content": "x"}])
    [m2] = json.loads(b)["messages"]
    assert "clientMessageId" not in m2 and ck.messages[m2["apiMessageId"]]["channel"] == "sms"


def test_ck_payload_errors(ck):
    st, b = ck_send(ck, None, raw=b"{not json")
    assert st == 400 and json.loads(b)["error"]["code"] == 21
    st, b = ck_send(ck, [{"to": "27999000001", "content": "x"}] * 201)
    assert st == 400 and json.loads(b)["error"]["code"] == 22
    st, b = ck_send(ck, [{"to": "27999000001", "content": "x"}] * 200)
    assert st == 202 and len(json.loads(b)["messages"]) == 200
    st, b = ck_send(ck, [])
    assert st == 400 and json.loads(b)["error"]["code"] == 23


def test_ck_message_validation_and_207(ck):
    cases = [("+27999000001", "sms", 23), ("27999abcde", "sms", 23), ("0027999000001", "sms", 25),
             ("123", "sms", 25), ("27999000001", "telegram", 23)]
    for to, ch, code in cases:
        st, b = ck_send(ck, [{"to": to, "channel": ch, "content": "x", "clientMessageId": "c"}])
        body = json.loads(b)
        assert st == 400, (to, ch)
        assert body["error"] is None
        [m] = body["messages"]
        assert m["accepted"] is False and m["error"]["code"] == code and m["to"] == to
        assert "apiMessageId" not in m
    st, b = ck_send(ck, [{"to": "27999000001", "content": "ok", "clientMessageId": "a"},
                         {"to": "27abc", "content": "bad", "clientMessageId": "b"}])
    body = json.loads(b)
    assert st == 207 and body["error"] is None
    by = {m["clientMessageId"]: m for m in body["messages"]}
    assert by["a"]["accepted"] and by["a"]["error"] is None
    assert not by["b"]["accepted"] and by["b"]["error"]["code"] == 23
    assert len(ck.messages) == 1


def test_ck_shuffle(ck):
    ck.set_mode("shuffle", count=1)
    msgs = [{"to": f"2799900000{i}", "content": "x", "clientMessageId": f"c{i}"} for i in range(1, 4)]
    st, b = ck_send(ck, msgs)
    got = [m["clientMessageId"] for m in json.loads(b)["messages"]]
    assert st == 202 and sorted(got) == ["c1", "c2", "c3"] and got != ["c1", "c2", "c3"]
    st, b = ck_send(ck, msgs)
    assert [m["clientMessageId"] for m in json.loads(b)["messages"]] == ["c1", "c2", "c3"]


@pytest.mark.parametrize("mode,status,code,level", [
    ("error_503", 503, 19, "global"), ("error_500", 500, 18, "global"),
    ("rate_limit", 400, 43, "global"), ("rate_limit_message", 400, 43, "message"),
    ("insufficient_balance", 402, 20, "message"),
])
def test_ck_error_modes(ck, mode, status, code, level):
    ck.set_mode(mode, count=1)
    st, b = ck_send(ck, [{"to": "27999000001", "content": "x", "clientMessageId": "k"}])
    body = json.loads(b)
    assert st == status
    if level == "global":
        assert body == {"error": {"code": code, "description": body["error"]["description"]}}
    else:
        assert body["error"] is None
        [m] = body["messages"]
        assert m["accepted"] is False and m["error"]["code"] == code and m["clientMessageId"] == "k"
    assert ck.messages == {}
    assert ck.mode == "normal"  # count=1 used up
    st, _ = ck_send(ck, [{"to": "27999000001", "content": "x"}])
    assert st == 202


def test_ck_malformed_and_empty(ck):
    ck.set_mode("malformed_json", count=1)
    st, b = ck_send(ck, [{"to": "27999000001", "content": "x"}])
    assert st == 202
    with pytest.raises(ValueError):
        json.loads(b)
    ck.set_mode("empty_body", count=1)
    st, b = ck_send(ck, [{"to": "27999000001", "content": "x"}])
    assert st == 202 and b == b""
    assert len(ck.messages) == 2  # both were accepted: the answer was what broke


def test_ck_timeout_after_accept(ck):
    ck.set_mode("timeout_after_accept", count=1)
    with pytest.raises(socket.timeout):
        ck_send(ck, [{"to": "27999000001", "content": "x", "clientMessageId": "t1"}], timeout=0.3)
    [m] = ck.messages.values()
    assert m["client_message_id"] == "t1"
    # reconcile through the status query (the query is not in the mode)
    st, _, b = call("GET", f"{ck.base_url}/v1/message/{m['id']}", headers={"Authorization": CK_KEY})
    assert st == 200 and json.loads(b)["sms"]["status"] == "QUEUED"


def test_ck_connect_refused(ck):
    url = ck.base_url
    # a kept-alive connection is cut too, not only new connects
    conn = http.client.HTTPConnection("127.0.0.1", ck.port, timeout=2)
    conn.request("GET", "/v1/message/x", headers={"Authorization": CK_KEY})
    assert conn.getresponse().read() and True
    ck.set_mode("connect_refused")
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.request("GET", "/v1/message/x", headers={"Authorization": CK_KEY})
        conn.getresponse().read()
    conn.close()
    ck.set_mode("normal")
    ck.set_mode("connect_refused")
    with pytest.raises(ConnectionRefusedError):
        call("GET", url + "/v1/message/x", timeout=2)
    ck.set_mode("normal")
    assert ck.base_url == url
    st, _ = ck_send(ck, [{"to": "27999000001", "content": "x"}])
    assert st == 202
    with pytest.raises(ValueError):
        ck.set_mode("connect_refused", count=1)


def test_ck_mode_endpoint_query(ck):
    ck.set_mode("error_503", endpoint="query")
    st, _ = ck_send(ck, [{"to": "27999000001", "content": "x"}])
    assert st == 202
    st, _, b = call("GET", f"{ck.base_url}/v1/message/abc", headers={"Authorization": CK_KEY})
    assert st == 503 and json.loads(b)["error"]["code"] == 19
    with pytest.raises(ValueError):
        ck.set_mode("no_such_mode")


def _ck_accept(ck, cmid="cp-9", channel="sms"):
    st, b = ck_send(ck, [{"to": "27999000001", "content": "x", "clientMessageId": cmid, "channel": channel}])
    return json.loads(b)["messages"][0]["apiMessageId"]


def test_ck_deliver_status_events(ck, receiver):
    mid = _ck_accept(ck)
    url = receiver.url + "/cb/clickatell/status/tok123"
    atts = ck.deliver(mid, url=url)
    assert [a.status for a in atts] == [200] * 4 and all(a.attempt == 1 for a in atts)
    ds = receiver.received()
    assert len(ds) == 4
    assert ds[0].path == "/cb/clickatell/status/tok123"
    assert ds[0].headers["content-type"] == "application/json"
    assert "x-hub-signature-256" not in ds[0].headers  # no signature documented
    bodies = [d.json for d in ds]
    assert set(bodies[0]) == {"integrationId", "integrationName", "event"}
    evs = [b["event"]["messageStatusUpdate"][0] for b in bodies]
    assert [e["status"] for e in evs] == ["QUEUED", "SENT_TO_SUPPLIER", "DEVICE_ACK", "READ"]
    assert [e["statusCode"] for e in evs] == [2, 4, 5, 6]
    assert set(evs[0]) == {"channel", "messageId", "clientMessageId", "statusCode", "status", "timestamp"}
    assert all(e["messageId"] == mid and e["clientMessageId"] == "cp-9" and e["channel"] == "sms" for e in evs)
    ts = [e["timestamp"] for e in evs]
    assert ts == sorted(ts) and abs(ts[0] - time.time() * 1000) < 10000  # epoch ms
    st, _, b = call("GET", f"{ck.base_url}/v1/message/{mid}", headers={"Authorization": CK_KEY})
    assert json.loads(b)["sms"]["status"] == "READ"


def test_ck_deliver_modes(ck, receiver):
    mid = _ck_accept(ck)
    url = receiver.url + "/s"
    ck.deliver(mid, ["SENT_TO_SUPPLIER", "DELIVERY_FAILURE"], url, modes=["duplicate"])
    ds = receiver.received()
    assert len(ds) == 4 and ds[0].body == ds[1].body and ds[2].body == ds[3].body
    receiver.deliveries.clear()
    ck.deliver(mid, ["SENT_TO_SUPPLIER", "DEVICE_ACK", "READ"], url, modes=["out_of_order"])
    evs = [d.json["event"]["messageStatusUpdate"][0] for d in receiver.received()]
    assert [e["status"] for e in evs] == ["READ", "DEVICE_ACK", "SENT_TO_SUPPLIER"]
    assert [e["timestamp"] for e in evs] == sorted((e["timestamp"] for e in evs), reverse=True)
    receiver.deliveries.clear()
    ck.deliver(mid, ["SENT_TO_SUPPLIER", "DEVICE_ACK"], url, modes=["batch", "unknown"])
    [d] = receiver.received()
    ev = d.json["event"]
    assert [e["status"] for e in ev["messageStatusUpdate"]] == ["SENT_TO_SUPPLIER", "DEVICE_ACK"]
    assert set(ev) - {"messageStatusUpdate"}  # an unknown event type
    assert "futureField" in ev["messageStatusUpdate"][0]
    with pytest.raises(ValueError):
        ck.deliver(mid, ["READ"], url, modes=["nope"])


def test_ck_deliver_retry_policy(ck):
    answers = {"/500": 500, "/302": 302, "/204": 204}
    srv = TinyServer(lambda h, b: (answers[h.path], {"Location": "/elsewhere"} if answers[h.path] == 302 else {}, b""))
    try:
        mid = _ck_accept(ck)
        atts = ck.deliver(mid, ["DEVICE_ACK"], srv.url + "/500")
        assert [a.status for a in atts] == [500, 500, 500] and [a.attempt for a in atts] == [1, 2, 3]
        atts = ck.deliver(mid, ["DEVICE_ACK"], srv.url + "/302")
        assert [a.status for a in atts] == [302]  # no retry on 3xx, redirect not followed
        atts = ck.deliver(mid, ["DEVICE_ACK"], srv.url + "/204", retries=0)
        assert [a.status for a in atts] == [204]
        assert [g[1] for g in srv.got] == ["/500"] * 3 + ["/302", "/204"]
    finally:
        srv.stop()
    atts = ck.deliver(mid, ["DEVICE_ACK"], free_port_url(), retries=1)
    assert len(atts) == 2 and all(a.connect_failed and a.status is None for a in atts)
    assert ck.webhooks[-1] is atts[-1]


def test_ck_reply(ck, receiver):
    mid = _ck_accept(ck, cmid="cp-r", channel="whatsapp")
    atts = ck.send_reply("27999000001", "STOP", receiver.url + "/mo", profile_name="Thandi")
    assert atts[0].status == 200
    [d] = receiver.received()
    body = d.json
    [mo] = body["event"]["moText"]
    assert mo["from"] == "27999000001" and mo["content"] == "STOP" and mo["channel"] == "whatsapp"
    assert mo["relatedMessageId"] == mid and mo["relatedClientMessageId"] == "cp-r"
    assert mo["whatsapp"]["profileName"] == "Thandi" and isinstance(mo["timestamp"], int)
    assert re.fullmatch(r"[0-9a-f]{32}", mo["messageId"])
    ck.send_reply("27999000077", "hello", receiver.url + "/mo", modes=["duplicate", "unknown"])
    ds = receiver.received()[1:]
    assert len(ds) == 2 and ds[0].body == ds[1].body
    assert ds[0].json["event"]["moText"][0]["channel"] == "sms"


# ===========================================================================
# WhatsApp Cloud API

WA_TOKEN = "EAAG-fake-token"
WA_SECRET = "app-secret-123"
PNID = "106540352242922"
USER = "15551234567"


@pytest.fixture
def wa():
    f = WhatsAppCloudFake(WA_TOKEN, WA_SECRET, phone_number_id=PNID, not_on_whatsapp=["15550000000"],
                          hang_seconds=1.5, webhook_retry_delay=0.05)
    yield f
    f.stop()


def wa_send(fake, payload, token=WA_TOKEN, version="v21.0", pnid=PNID, timeout=5.0, raw=None):
    h = {"Authorization": f"Bearer {token}"} if token is not None else {}
    st, hd, b = jcall("POST", f"{fake.base_url}/{version}/{pnid}/messages", payload, h, timeout, raw)
    return st, hd, b


def text_msg(to=USER, body="hello", **kw):
    return {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
            "text": {"body": body}, **kw}


def template_msg(to=USER, **kw):
    return {"messaging_product": "whatsapp", "to": to, "type": "template",
            "template": {"name": "payment_link", "language": {"code": "en_US"},
                         "components": [{"type": "body", "parameters": [{"type": "text", "text": "R10"}]}]}, **kw}


def cta_msg(to=USER, label="Pay now", body="Your bill", url="https://pay.example/l/1"):
    return {"messaging_product": "whatsapp", "to": to, "type": "interactive",
            "interactive": {"type": "cta_url", "body": {"text": body},
                            "action": {"name": "cta_url", "parameters": {"display_text": label, "url": url}}}}


def wa_error(b):
    e = json.loads(b)["error"]
    assert e["type"] == "OAuthException" and isinstance(e["fbtrace_id"], str) and e["message"]
    return e


def test_wa_auth(wa):
    for tok in (None, "wrong"):
        st, _, b = wa_send(wa, template_msg(), token=tok)
        assert st == 401 and wa_error(b)["code"] == 190
    st, _, b = jcall("POST", f"{wa.base_url}/v21.0/{PNID}/messages", template_msg(), {"Authorization": WA_TOKEN})
    assert st == 401  # no "Bearer"
    st, _, b = wa_send(wa, template_msg(), pnid="999")
    assert st == 400 and json.loads(b)["error"]["code"] == 100
    assert wa.messages == {}


def test_wa_messaging_product_and_validation(wa):
    p = template_msg()
    del p["messaging_product"]
    st, _, b = wa_send(wa, p)
    e = wa_error(b)
    assert st == 400 and e["code"] == 100
    assert e["error_data"]["messaging_product"] == "whatsapp" and "messaging_product" in e["error_data"]["details"]
    assert set(e) == {"message", "type", "code", "error_data", "fbtrace_id"}
    wa.open_window(USER)
    bad = [
        ({**text_msg(), "text": {}}, "text['body']"),
        (cta_msg(label="x" * 21), "display_text"),
        (cta_msg(body="x" * 1025), "['body']['text']"),
        (cta_msg(url=""), "['url']"),
        ({**template_msg(), "template": {"name": "t"}}, "language"),
        ({**text_msg(), "to": ""}, "to"),
    ]
    for payload, field in bad:
        st, _, b = wa_send(wa, payload)
        e = wa_error(b)
        assert st == 400 and e["code"] == 100 and field in e["error_data"]["details"], (field, e)
    st, _, b = wa_send(wa, None, raw=b"<xml/>")
    assert st == 400 and wa_error(b)["code"] == 100
    st, _, _ = wa_send(wa, cta_msg(label="x" * 20, body="y" * 1024))
    assert st == 200


def test_wa_success_shape(wa):
    st, hd, b = wa_send(wa, template_msg(to="+15551234567", biz_opaque_callback_data="pay_42"))
    assert st == 200 and hd["content-type"].startswith("application/json")
    body = json.loads(b)
    assert body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "+15551234567", "wa_id": USER}]
    wamid = body["messages"][0]["id"]
    assert wamid.startswith("wamid.")
    m = wa.messages[wamid]
    assert m["to"] == USER and m["channel"] == "whatsapp" and m["template"]["name"] == "payment_link"
    assert m["biz_opaque_callback_data"] == "pay_42"
    r = wa.requests[-1]
    assert r.path == f"/v21.0/{PNID}/messages" and r.parsed["type"] == "template"


def test_wa_window(wa, receiver):
    for p in (text_msg(), cta_msg()):
        st, _, b = wa_send(wa, p)
        assert st == 400 and wa_error(b)["code"] == 131047
    assert wa_send(wa, template_msg())[0] == 200  # a template always goes
    wa.open_window(USER)
    assert wa_send(wa, text_msg())[0] == 200 and wa_send(wa, cta_msg())[0] == 200
    # 24 h later the window is closed again
    t0 = time.time()
    wa.clock = lambda: t0 + 24 * 3600 + 1
    assert wa_send(wa, text_msg())[0] == 400
    wa.clock = time.time
    wa.close_window(USER)
    assert wa_send(wa, text_msg())[0] == 400
    # a reply from the user opens it
    wa.send_reply(USER, "hi", receiver.url + "/wa")
    assert wa_send(wa, text_msg())[0] == 200


def test_wa_not_on_whatsapp(wa):
    st, _, b = wa_send(wa, template_msg(to="15550000000"))
    assert st == 400 and wa_error(b)["code"] == 131026
    assert wa.messages == {}


def test_wa_async_errors(receiver):
    f = WhatsAppCloudFake(WA_TOKEN, WA_SECRET, not_on_whatsapp=["15550000000"], async_errors=True)
    try:
        st, _, b = wa_send(f, text_msg(), pnid=f.phone_number_id)
        assert st == 200
        wamid = json.loads(b)["messages"][0]["id"]
        f.deliver(wamid, url=receiver.url + "/wa")
        [d] = receiver.received()
        [s] = d.json["entry"][0]["changes"][0]["value"]["statuses"]
        assert s["status"] == "failed" and s["errors"][0]["code"] == 131047
    finally:
        f.stop()


@pytest.mark.parametrize("mode,status,code", [
    ("rate_limit", 400, 130429), ("pair_rate_limit", 400, 131056), ("error_503", 503, 2)])
def test_wa_error_modes(wa, mode, status, code):
    wa.set_mode(mode, count=1)
    st, _, b = wa_send(wa, template_msg())
    assert st == status and wa_error(b)["code"] == code
    assert wa.messages == {}
    assert wa_send(wa, template_msg())[0] == 200


def test_wa_broken_bodies(wa):
    wa.set_mode("malformed_json", count=1)
    st, _, b = wa_send(wa, template_msg())
    assert st == 200
    with pytest.raises(ValueError):
        json.loads(b)
    wa.set_mode("empty_body", count=1)
    st, _, b = wa_send(wa, template_msg())
    assert st == 200 and b == b""
    assert len(wa.messages) == 2
    wa.set_mode("html_error", count=1)
    st, hd, b = wa_send(wa, template_msg())
    assert st == 502 and hd["content-type"].startswith("text/html") and b.lstrip().startswith(b"<!DOCTYPE html>")
    assert len(wa.messages) == 2


def test_wa_timeout_after_accept_duplicate_visible(wa):
    wa.set_mode("timeout_after_accept", count=1)
    with pytest.raises(socket.timeout):
        wa_send(wa, template_msg(), timeout=0.3)
    assert wa_send(wa, template_msg())[0] == 200  # the client's blind retry
    assert len(wa.messages_to(USER)) == 2


def test_wa_connect_refused(wa):
    wa.set_mode("connect_refused")
    with pytest.raises(ConnectionRefusedError):
        wa_send(wa, template_msg(), timeout=2)
    wa.set_mode("normal")
    assert wa_send(wa, template_msg())[0] == 200


def wa_verify(secret, d):
    """Independent check of X-Hub-Signature-256 over the raw body."""
    sig = d.headers.get("x-hub-signature-256")
    if sig is None:
        return None
    want = "sha256=" + hmac.new(secret.encode(), d.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(sig, want)


def _wa_accept(wa, bocd="pay_42"):
    st, _, b = wa_send(wa, template_msg(biz_opaque_callback_data=bocd))
    return json.loads(b)["messages"][0]["id"]


def test_wa_deliver_signed_statuses(wa, receiver):
    wamid = _wa_accept(wa)
    atts = wa.deliver(wamid, url=receiver.url + "/wa/webhook")
    assert [a.status for a in atts] == [200, 200, 200]
    ds = receiver.received()
    assert all(wa_verify(WA_SECRET, d) for d in ds)
    assert all(not wa_verify("other-secret", d) for d in ds)
    assert ds[0].headers["content-type"] == "application/json"
    p = ds[0].json
    assert p["object"] == "whatsapp_business_account"
    [entry] = p["entry"]
    assert entry["id"] == wa.waba_id
    [ch] = entry["changes"]
    assert ch["field"] == "messages"
    v = ch["value"]
    assert v["messaging_product"] == "whatsapp"
    assert v["metadata"] == {"display_phone_number": wa.display_phone_number, "phone_number_id": PNID}
    sts = [d.json["entry"][0]["changes"][0]["value"]["statuses"][0] for d in ds]
    assert [s["status"] for s in sts] == ["sent", "delivered", "read"]
    for s in sts:
        assert s["id"] == wamid and s["recipient_id"] == USER and s["biz_opaque_callback_data"] == "pay_42"
        assert isinstance(s["timestamp"], str) and s["timestamp"].isdigit()
        assert abs(int(s["timestamp"]) - time.time()) < 60  # seconds, not ms
    assert wa.messages[wamid]["status"] == "read"


def test_wa_deliver_failed(wa, receiver):
    wamid = _wa_accept(wa)
    wa.deliver(wamid, ["failed"], receiver.url + "/wa", error_code=131026)
    [d] = receiver.received()
    [s] = d.json["entry"][0]["changes"][0]["value"]["statuses"]
    assert s["status"] == "failed"
    [e] = s["errors"]
    assert e["code"] == 131026 and e["title"] and e["message"] and e["error_data"]["details"] and e["href"]


def test_wa_deliver_modes(wa, receiver):
    wamid = _wa_accept(wa)
    url = receiver.url + "/wa"

    def sts(d):
        return [s["status"] for en in d.json["entry"] for c in en["changes"] if c["field"] == "messages"
                for s in c["value"].get("statuses", [])]

    wa.deliver(wamid, ["sent", "delivered"], url, modes=["duplicate"])
    ds = receiver.received()
    assert [sts(d) for d in ds] == [["sent"], ["sent"], ["delivered"], ["delivered"]]
    receiver.deliveries.clear()
    wa.deliver(wamid, ["sent", "delivered", "read"], url, modes=["out_of_order"])
    ds = receiver.received()
    assert [sts(d) for d in ds] == [["read"], ["delivered"], ["sent"]]
    receiver.deliveries.clear()
    wa.deliver(wamid, ["sent", "delivered", "read"], url, modes=["batch"])
    [d] = receiver.received()
    assert len(d.json["entry"]) == 3 and sts(d) == ["sent", "delivered", "read"] and wa_verify(WA_SECRET, d)
    receiver.deliveries.clear()
    wa.deliver(wamid, ["read"], url, modes=["bad_signature"])
    [d] = receiver.received()
    assert wa_verify(WA_SECRET, d) is False
    receiver.deliveries.clear()
    wa.deliver(wamid, ["read"], url, modes=["missing_signature"])
    [d] = receiver.received()
    assert "x-hub-signature-256" not in d.headers and "x-hub-signature" not in d.headers
    receiver.deliveries.clear()
    wa.deliver(wamid, ["read"], url, modes=["unknown_field"])
    [d] = receiver.received()
    fields = [c["field"] for c in d.json["entry"][0]["changes"]]
    assert "messages" in fields and len(set(fields)) == 2 and wa_verify(WA_SECRET, d)


def test_wa_retry_policy(wa, receiver):
    receiver.mode = "error"
    wamid = _wa_accept(wa)
    atts = wa.deliver(wamid, ["sent"], receiver.url + "/wa")
    assert [a.status for a in atts] == [500, 500, 500]
    assert len(receiver.received()) == 3 and receiver.received()[0].body == receiver.received()[2].body


def test_wa_reply(wa, receiver):
    atts = wa.send_reply("+15557654321", "STOP", receiver.url + "/wa", profile_name="Ann")
    assert atts[0].ok
    [d] = receiver.received()
    assert wa_verify(WA_SECRET, d)
    # the signature covers the raw bytes, which differ from a re-serialization
    wa.send_reply("+15557654321", "R10/ok ü", receiver.url + "/wa")
    d2 = receiver.received()[1]
    assert b"R10\\/ok \\u00fc" in d2.body and wa_verify(WA_SECRET, d2)
    assert json.dumps(d2.json, separators=(",", ":")).encode() != d2.body
    assert d2.json["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] == "R10/ok ü"
    v = d.json["entry"][0]["changes"][0]["value"]
    assert v["contacts"] == [{"profile": {"name": "Ann"}, "wa_id": "15557654321"}]
    [m] = v["messages"]
    assert m["from"] == "15557654321" and m["type"] == "text" and m["text"] == {"body": "STOP"}
    assert m["id"].startswith("wamid.") and m["timestamp"].isdigit()
    assert wa.window_open("15557654321")


def test_wa_verify_handshake(wa):
    def meta_rule(h, body):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(h.path).query)
        if q.get("hub.mode") == ["subscribe"] and q.get("hub.verify_token") == ["vt-1"]:
            return 200, {"Content-Type": "text/plain"}, q["hub.challenge"][0].encode()
        return 403, {}, b"forbidden"

    srv = TinyServer(meta_rule)
    try:
        assert wa.verify(srv.url + "/wa/webhook", "vt-1", "1158201444") == (200, "1158201444")
        assert wa.verify(srv.url + "/wa/webhook", "wrong", "42")[0] == 403
        assert wa.verify(srv.url + "/wa/webhook", "vt-1", "42", mode="unsubscribe")[0] == 403
        st, body = wa.verify(srv.url + "/wa/webhook?tenant=7", "vt-1")
        assert st == 200 and body.isdigit()
        method, path, _, _ = srv.got[0]
        assert method == "GET" and path.startswith("/wa/webhook?hub.mode=subscribe&hub.verify_token=vt-1&hub.challenge=")
        assert srv.got[-1][1].startswith("/wa/webhook?tenant=7&hub.mode=subscribe")
    finally:
        srv.stop()


# ===========================================================================
# Twilio

AC = "AC" + "1" * 32
TOKEN = "twilio-auth-token"
SK, SK_SECRET = "SK" + "2" * 32, "sk-secret"
MG = "MG" + "3" * 32
CT = "HX" + "4" * 32


@pytest.fixture
def tw():
    f = TwilioFake(AC, TOKEN, api_keys={SK: SK_SECRET}, hang_seconds=1.5, webhook_retry_delay=0.05)
    yield f
    f.stop()


def basic(user, pw):
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()


def tw_send(fake, params, auth=(AC, TOKEN), account=AC, timeout=5.0):
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    if auth:
        h["Authorization"] = basic(*auth)
    body = urllib.parse.urlencode(params, doseq=True).encode()
    st, hd, b = call("POST", f"{fake.base_url}/2010-04-01/Accounts/{account}/Messages.json", body, h, timeout)
    return st, hd, b


def tw_err(b):
    e = json.loads(b)
    assert set(e) == {"code", "message", "more_info", "status"}
    return e


def test_tw_auth(tw):
    p = {"To": "+15551234567", "From": "+15005550006", "Body": "hi"}
    for auth in (None, (AC, "wrong"), (SK, TOKEN), ("ACother", TOKEN)):
        st, hd, b = tw_send(tw, p, auth=auth)
        e = tw_err(b)
        assert st == 401 and e["code"] == 20003 and e["status"] == 401
    assert tw_send(tw, p, auth=(SK, SK_SECRET))[0] == 201  # API key
    st, _, b = tw_send(tw, p, account="AC" + "9" * 32)
    assert st == 404 and tw_err(b)["code"] == 20404


@pytest.mark.parametrize("params,code", [
    ({"From": "+15005550006", "Body": "x"}, 21604),
    ({"To": "+15551234567", "Body": "x"}, 21603),
    ({"To": "+15551234567", "From": "+15005550006", "MessagingServiceSid": MG, "Body": "x"}, 21603),
    ({"To": "+15551234567", "From": "+15005550006"}, 21602),
    ({"To": "+15551234567", "From": "+15005550006", "Body": "x" * 1601}, 21617),
    ({"To": "555", "From": "+15005550006", "Body": "x"}, 21211),
    ({"To": "whatsapp:+15551234567", "From": "+15005550006", "Body": "x"}, 21910),
    ({"To": "+15551234567", "MessagingServiceSid": "MGbad", "Body": "x"}, 21701),
    ({"To": "+15551234567", "From": "+15005550006", "Body": "x", "StatusCallback": "ftp://x"}, 21609),
])
def test_tw_validation(tw, params, code):
    st, _, b = tw_send(tw, params)
    e = tw_err(b)
    assert st == 400 and e["code"] == code and e["status"] == 400
    assert tw.messages == {}


def test_tw_success_shape(tw):
    cb = "http://127.0.0.1:9/cb/twilio/status?tenant=a"
    st, hd, b = tw_send(tw, {"To": "+15551234567", "From": "+15005550006", "Body": "Pay R10",
                             "StatusCallback": cb})
    assert st == 201 and hd["content-type"].startswith("application/json")
    m = json.loads(b)
    assert re.fullmatch(r"SM[0-9a-f]{32}", m["sid"])
    assert m["status"] == "queued" and m["to"] == "+15551234567" and m["from"] == "+15005550006"
    assert m["body"] == "Pay R10" and m["num_segments"] == "1" and m["direction"] == "outbound-api"
    assert m["error_code"] is None and m["error_message"] is None and m["account_sid"] == AC
    assert m["uri"] == f"/2010-04-01/Accounts/{AC}/Messages/{m['sid']}.json"
    assert email.utils.parsedate_to_datetime(m["date_created"]).tzinfo is not None
    assert m["date_created"].endswith("+0000")
    rec = tw.messages[m["sid"]]
    assert rec["status_callback"] == cb and rec["channel"] == "sms" and rec["text"] == "Pay R10"
    assert tw.requests[-1].parsed["To"] == ["+15551234567"]
    # fetch
    st, _, b = call("GET", f"{tw.base_url}{m['uri']}", headers={"Authorization": basic(AC, TOKEN)})
    assert st == 200 and json.loads(b) == m
    st, _, b = call("GET", f"{tw.base_url}/2010-04-01/Accounts/{AC}/Messages/SM{'0' * 32}.json",
                    headers={"Authorization": basic(AC, TOKEN)})
    assert st == 404 and tw_err(b)["code"] == 20404
    st, _, b = call("GET", f"{tw.base_url}/2010-04-01/Accounts/{AC}/Messages.json?To=%2B15551234567",
                    headers={"Authorization": basic(AC, TOKEN)})
    assert [x["sid"] for x in json.loads(b)["messages"]] == [m["sid"]]


def test_tw_service_and_media(tw):
    st, _, b = tw_send(tw, {"To": "+15551234567", "MessagingServiceSid": MG, "Body": "x"})
    m = json.loads(b)
    assert st == 201 and m["status"] == "accepted" and m["from"] is None and m["num_segments"] == "0"
    assert m["messaging_service_sid"] == MG
    st, _, b = tw_send(tw, {"To": "+15551234567", "From": "+15005550006",
                            "MediaUrl": ["https://a.example/1.png", "https://a.example/2.png"]})
    m = json.loads(b)
    assert st == 201 and m["sid"].startswith("MM") and m["num_media"] == "2"
    assert tw.messages[m["sid"]]["media_urls"] == ["https://a.example/1.png", "https://a.example/2.png"]


def test_tw_whatsapp_window(tw, receiver):
    wa_to, wa_from = "whatsapp:+15551234567", "whatsapp:+14155238886"
    st, _, b = tw_send(tw, {"To": wa_to, "From": wa_from, "Body": "free form"})
    assert st == 400 and tw_err(b)["code"] == 63016
    st, _, b = tw_send(tw, {"To": wa_to, "From": wa_from, "ContentSid": CT,
                            "ContentVariables": json.dumps({"1": "R10"})})
    assert st == 201 and tw.messages[json.loads(b)["sid"]]["channel"] == "whatsapp"
    st, _, b = tw_send(tw, {"To": wa_to, "From": wa_from, "ContentSid": CT, "ContentVariables": "[1"})
    assert st == 400 and tw_err(b)["code"] == 21656
    tw.send_reply(wa_to, "hi", receiver.url + "/in")
    assert tw_send(tw, {"To": wa_to, "From": wa_from, "Body": "free form"})[0] == 201
    # SMS has no window
    tw.close_window(wa_to)
    assert tw_send(tw, {"To": "+15551234567", "From": "+15005550006", "Body": "x"})[0] == 201


def test_tw_async_window_error(receiver):
    f = TwilioFake(AC, TOKEN, async_errors=True)
    try:
        st, _, b = tw_send(f, {"To": "whatsapp:+15551234567", "From": "whatsapp:+14155238886", "Body": "x",
                               "StatusCallback": receiver.url + "/st"})
        assert st == 201
        f.deliver(json.loads(b)["sid"])
        [d] = receiver.received()
        form = dict(urllib.parse.parse_qsl(d.body.decode()))
        assert form["MessageStatus"] == "failed" and form["ErrorCode"] == "63016"
    finally:
        f.stop()


def test_tw_error_modes(tw):
    p = {"To": "+15551234567", "From": "+15005550006", "Body": "x"}
    tw.set_mode("rate_limit", count=1)
    st, hd, b = tw_send(tw, p)
    assert st == 429 and tw_err(b)["code"] == 20429 and hd["retry-after"] == "1"
    assert "twilio-concurrent-requests" in hd
    tw.set_mode("rate_limit_no_retry_after", count=1)
    st, hd, b = tw_send(tw, p)
    assert st == 429 and tw_err(b)["code"] == 20429 and "retry-after" not in hd
    for mode, status in (("error_500", 500), ("error_503", 503)):
        tw.set_mode(mode, count=1)
        st, _, b = tw_send(tw, p)
        assert st == status and tw_err(b)["status"] == status
    tw.set_mode("html_error", count=1)
    st, hd, b = tw_send(tw, p)
    assert st == 502 and hd["content-type"].startswith("text/html")
    assert tw.messages == {}
    tw.set_mode("missing_sid", count=1)
    st, _, b = tw_send(tw, p)
    m = json.loads(b)
    assert st == 201 and "sid" not in m and m["status"] == "queued"
    assert len(tw.messages) == 1
    assert "sid" in json.loads(tw_send(tw, p)[2])


def test_tw_timeout_and_refused(tw):
    p = {"To": "+15551234567", "From": "+15005550006", "Body": "x"}
    tw.set_mode("timeout_after_accept", count=1)
    with pytest.raises(socket.timeout):
        tw_send(tw, p, timeout=0.3)
    [sid] = tw.messages
    st, _, b = call("GET", f"{tw.base_url}/2010-04-01/Accounts/{AC}/Messages/{sid}.json",
                    headers={"Authorization": basic(AC, TOKEN)})
    assert st == 200 and json.loads(b)["status"] == "queued"
    tw.set_mode("connect_refused")
    with pytest.raises(ConnectionRefusedError):
        tw_send(tw, p, timeout=2)
    tw.set_mode("normal")
    assert tw_send(tw, p)[0] == 201


def tw_expected_sig(token, url, body):
    """Independent X-Twilio-Signature: URL + sorted name+value, HMAC-SHA1, base64."""
    pairs = urllib.parse.parse_qsl(body.decode(), keep_blank_values=True)
    data = url + "".join(k + v for k, v in sorted(pairs))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def _tw_accept(tw, receiver, to="+15551234567", frm="+15005550006", **kw):
    cb = receiver.url + "/cb/twilio/status?tenant=acme&k=1"
    st, _, b = tw_send(tw, {"To": to, "From": frm, "Body": "x", "StatusCallback": cb, **kw})
    assert st == 201, b
    return json.loads(b)["sid"], cb


def test_tw_deliver_signed(tw, receiver):
    sid, cb = _tw_accept(tw, receiver)
    atts = tw.deliver(sid, ["sent", "delivered"])
    assert [a.status for a in atts] == [200, 200]
    ds = receiver.received()
    assert [d.path for d in ds] == ["/cb/twilio/status?tenant=acme&k=1"] * 2
    for d in ds:
        assert d.headers["content-type"].startswith("application/x-www-form-urlencoded")
        assert hmac.compare_digest(d.headers["x-twilio-signature"], tw_expected_sig(TOKEN, cb, d.body))
        assert d.headers["x-twilio-signature"] != tw_expected_sig(TOKEN, cb.split("?")[0], d.body)
    forms = [dict(urllib.parse.parse_qsl(d.body.decode())) for d in ds]
    known = {"MessageSid", "SmsSid", "MessageStatus", "SmsStatus", "AccountSid", "From", "To", "ApiVersion"}
    for f, s in zip(forms, ["sent", "delivered"]):
        assert known <= set(f) and f["MessageStatus"] == s == f["SmsStatus"]
        assert f["MessageSid"] == sid == f["SmsSid"] and f["AccountSid"] == AC and f["ApiVersion"] == "2010-04-01"
        assert set(f) - known - {"ErrorCode", "MessagingServiceSid"}  # an extra, unknown parameter
        assert "ErrorCode" not in f
    st, _, b = call("GET", f"{tw.base_url}/2010-04-01/Accounts/{AC}/Messages/{sid}.json",
                    headers={"Authorization": basic(AC, TOKEN)})
    assert json.loads(b)["status"] == "delivered"


def test_tw_deliver_modes(tw, receiver):
    sid, cb = _tw_accept(tw, receiver, to="whatsapp:+15551234567", frm="whatsapp:+14155238886",
                         ContentSid=CT)

    def statuses():
        return [dict(urllib.parse.parse_qsl(d.body.decode()))["MessageStatus"] for d in receiver.received()]

    tw.deliver(sid, ["sent", "delivered", "read"])  # read after delivered
    assert statuses() == ["sent", "delivered", "read"]
    f = dict(urllib.parse.parse_qsl(receiver.received()[0].body.decode()))
    assert f["ChannelPrefix"] == "whatsapp" and f["To"] == "whatsapp:+15551234567"
    receiver.deliveries.clear()
    tw.deliver(sid, ["sent", "delivered"], modes=["duplicate"])
    assert statuses() == ["sent", "sent", "delivered", "delivered"]
    receiver.deliveries.clear()
    tw.deliver(sid, ["sent", "delivered", "read"], modes=["out_of_order"])
    assert statuses() == ["read", "delivered", "sent"]
    receiver.deliveries.clear()
    tw.deliver(sid, ["failed"])
    [d] = receiver.received()
    f = dict(urllib.parse.parse_qsl(d.body.decode()))
    assert f["MessageStatus"] == "failed" and f["ErrorCode"] == "30007"
    assert d.headers["x-twilio-signature"] == tw_expected_sig(TOKEN, cb, d.body)
    receiver.deliveries.clear()
    tw.deliver(sid, ["delivered"], modes=["bad_signature"])
    [d] = receiver.received()
    assert d.headers["x-twilio-signature"] != tw_expected_sig(TOKEN, cb, d.body)
    receiver.deliveries.clear()
    tw.deliver(sid, ["delivered"], modes=["missing_signature"])
    assert "x-twilio-signature" not in receiver.received()[0].headers
    with pytest.raises(KeyError):
        tw.deliver("SM" + "0" * 32)


def test_tw_service_sender_in_callbacks(tw, receiver):
    cb = receiver.url + "/st"
    st, _, b = tw_send(tw, {"To": "+15551234567", "MessagingServiceSid": MG, "Body": "x", "StatusCallback": cb})
    sid = json.loads(b)["sid"]
    tw.deliver(sid, ["sent"])
    f = dict(urllib.parse.parse_qsl(receiver.received()[0].body.decode()))
    assert f["MessagingServiceSid"] == MG and f["From"] == tw.service_sender
    assert receiver.received()[0].headers["x-twilio-signature"] == tw_expected_sig(TOKEN, cb, receiver.received()[0].body)


def test_tw_retry_policy(tw, receiver):
    receiver.mode = "error"
    sid, _ = _tw_accept(tw, receiver)
    atts = tw.deliver(sid, ["sent"])
    assert [a.status for a in atts] == [500]  # no retry on an HTTP error
    assert len(receiver.received()) == 1
    atts = tw.deliver(sid, ["sent"], url=free_port_url("/st"))
    assert len(atts) == 2 and all(a.connect_failed for a in atts)  # one retry on connect failure


def test_tw_reply(tw, receiver):
    url = receiver.url + "/cb/twilio/in?t=1"
    tw.send_reply("whatsapp:+15557654321", "STOP", url, profile_name="Ann")
    [d] = receiver.received()
    f = dict(urllib.parse.parse_qsl(d.body.decode()))
    assert f["Body"] == "STOP" and f["From"] == "whatsapp:+15557654321" and f["To"].startswith("whatsapp:+")
    assert f["ProfileName"] == "Ann" and f["WaId"] == "15557654321" and f["MessageSid"].startswith("SM")
    assert d.headers["x-twilio-signature"] == tw_expected_sig(TOKEN, url, d.body)
    assert tw.window_open("whatsapp:+15557654321")
    tw.send_reply("+15557654321", "STOP", url)
    f = dict(urllib.parse.parse_qsl(receiver.received()[1].body.decode()))
    assert "WaId" not in f and f["From"] == "+15557654321"


def test_twilio_signature_reference_vector():
    # the worked example of Twilio's request-validation docs (token "12345");
    # two caller numbers circulate with their published signatures
    from twilio_fake import twilio_signature
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    for caller, want in (("+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
                         ("+14158675310", "GvWf1cFY/Q7PnoempGyD5oXAezc=")):
        params = {"CallSid": "CA1234567890ABCDE", "Caller": caller, "Digits": "1234",
                  "From": caller, "To": "+18005551212"}
        assert twilio_signature("12345", url, params) == want
        assert tw_expected_sig("12345", url, urllib.parse.urlencode(params).encode()) == want


# ===========================================================================
# event log, standalone runs


def test_event_log_and_requests(ck):
    ck_send(ck, [{"to": "27999000001", "content": "x"}])
    kinds = [e["kind"] for e in ck.events.items()]
    assert "request" in kinds and "accepted" in kinds
    ck.events.wait_for(lambda es: any(e["kind"] == "accepted" for e in es), timeout=1)
    with pytest.raises(AssertionError):
        ck.events.wait_for(lambda es: False, timeout=0.1)
    assert len(ck.wait_for_requests(1, "/v1/message", timeout=1)) == 1


def test_record_limit_keeps_the_newest(tw):
    tw.limit_records(2)
    sids = []
    for i in range(3):
        st, _, b = tw_send(tw, {"To": f"+1555123456{i}", "From": "+15005550006", "Body": f"m{i}"})
        assert st == 201
        sids.append(json.loads(b)["sid"])
    assert list(tw.messages) == sids[1:]
    assert [r.parsed["To"] for r in tw.requests] == [["+15551234561"], ["+15551234562"]]
    assert len(tw.events) == 2 and tw.events.items()[-1]["kind"] == "accepted"
    # what it still keeps, it still serves
    st, _, b = call("GET", f"{tw.base_url}/2010-04-01/Accounts/{AC}/Messages/{sids[2]}.json",
                    headers={"Authorization": basic(AC, TOKEN)})
    assert st == 200 and json.loads(b)["body"] == "m2"


def test_record_limit_standalone():
    with standalone(HERE / "twilio_fake.py", "--account-sid", AC, "--auth-token", "t",
                    "--record-limit", "1") as base:
        for i in range(2):
            st, _, _ = call("GET", f"{base}/2010-04-01/Accounts/{AC}/Messages.json?n={i}",
                            headers={"Authorization": basic(AC, "t")})
            assert st == 200
        st, _, b = call("GET", base + "/_fake/requests")
        assert st == 200 and [r["query"] for r in json.loads(b)] == [{"n": ["1"]}]


@pytest.mark.parametrize("script,args,probe", [
    ("clickatell_fake.py", ["--api-key", "k"], ("GET", "/v1/message/x", {"Authorization": "k"}, 200)),
    ("whatsapp_cloud_fake.py", ["--access-token", "t", "--app-secret", "s"],
     ("POST", "/v21.0/106540352242922/messages", {"Authorization": "Bearer nope"}, 401)),
    ("twilio_fake.py", ["--account-sid", AC, "--auth-token", "t"],
     ("GET", f"/2010-04-01/Accounts/{AC}/Messages.json", {"Authorization": basic(AC, "t")}, 200)),
])
def test_standalone(script, args, probe):
    with standalone(HERE / script, *args) as base:
        method, path, headers, want = probe
        st, _, _ = call(method, base + path, b"{}" if method == "POST" else b"", headers)
        assert st == want
        # the bench's control plane
        st, _, b = call("POST", base + "/_fake/mode", json.dumps({"name": "normal"}).encode(),
                        {"Content-Type": "application/json"})
        assert st == 200
        st, _, b = call("GET", base + "/_fake/requests")
        assert st == 200 and json.loads(b)[0]["path"] == path
