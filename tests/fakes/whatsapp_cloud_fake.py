"""Offline fake of Meta's WhatsApp Cloud API (spec/providers.md section 2, what it
must reproduce: 2.9; the payments part, 2.8, is not faked here).

API side (base_url stands for https://graph.facebook.com):
  POST /{version}/{phone_number_id}/messages   Authorization: Bearer <token>, JSON
       type text | template | interactive (interactive.type cta_url)
Webhook side (chatpay's callback URL):
  deliver(wamid, statuses, url)        statuses[] change, signed X-Hub-Signature-256
  send_reply(from_number, text, url)   messages[] + contacts[] change (opens the 24 h window)
  verify(url, verify_token, challenge) the GET subscription handshake

24-hour customer-service window: a user is "warm" for window_seconds after
send_reply() from that user or open_window(number). Free-form text or
interactive to a cold user fails with 131047 (re-engagement); a template
always goes. Numbers in not_on_whatsapp fail with 131026.
  Decision (❓ in the spec): Meta documents both codes in its error table
  (2.4) and may report them either synchronously or as a "failed" status
  webhook. This fake answers them synchronously (HTTP 400) by default; with
  async_errors=True it accepts the send (200, a wamid) and the message's
  default deliver() is then a "failed" status carrying that error.

Modes (set_mode):
  normal
  connect_refused        stop listening (set_mode("normal") listens again)
  timeout_after_accept   accept and record the message, hold the 200 for
                         hang_seconds: a retried send is visible as a second message
  rate_limit             400 code 130429 (throughput)   (HTTP status ❓: rate_limit_http)
  pair_rate_limit        400 code 131056 (pair rate)
  error_503              503 code 2 (service temporarily unavailable)
  malformed_json         200 with a truncated JSON body (message accepted)
  empty_body             200 with an empty body (message accepted)
  html_error             502 with an HTML page (a proxy in between; nothing accepted)

Run alone: python3 whatsapp_cloud_fake.py --port N --access-token T --app-secret S
           [--phone-number-id ID] [--webhook-url URL]
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
import urllib.parse
from typing import Iterable

from provider_fake import (ProviderFake, RecordedRequest, Reply, WebhookAttempt, html_reply,
                           http_request, json_reply, run_standalone)

ERROR_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

# code -> (message, details). The wording follows Meta's error-code page as
# copied by secondary sources 🟡 [W8][W10]; adapters must key on `code`.
ERRORS = {
    2: ("(#2) Service temporarily unavailable", "Service temporarily unavailable"),
    100: ("(#100) Invalid parameter", None),
    130429: ("(#130429) Rate limit hit", "Cloud API message throughput has been reached."),
    131026: ("(#131026) Message Undeliverable.",
             "Message Undeliverable: the recipient is not a WhatsApp user, or cannot receive this message."),
    131047: ("(#131047) Re-engagement message",
             "Message failed to send because more than 24 hours have passed since the customer last replied to this number."),
    131056: ("(#131056) (Business Account, Consumer Account) pair rate limit hit",
             "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time."),
}
ERROR_TITLES = {
    131026: "Message undeliverable",
    131047: "Re-engagement message",
    131000: "Something went wrong",
}

TEXT_MAX = 4096
CTA_BODY_MAX = 1024  # ✅ [W2]
CTA_LABEL_MAX = 20  # ✅ [W2]


def _digits(number: str) -> str:
    return re.sub(r"\D", "", str(number))


def _fbtrace() -> str:
    return "A" + base64.urlsafe_b64encode(secrets.token_bytes(15)).decode()[:21]


def graph_error(status: int, code: int, details: str | None = None, message: str | None = None,
                type_: str = "OAuthException", with_data: bool = True, **extra) -> Reply:
    """{"error":{"message","type","code","error_data":{"messaging_product","details"},"fbtrace_id"}}
    ✅ [W8][W10]; error_subcode is absent (deprecated from v16)."""
    msg, det = ERRORS.get(code, (f"(#{code}) Error", None))
    err: dict = {"message": message or msg, "type": type_, "code": code}
    if with_data:
        err["error_data"] = {"messaging_product": "whatsapp", "details": details or det or msg}
    err.update(extra)
    err["fbtrace_id"] = _fbtrace()
    return json_reply(status, {"error": err})


def _meta_json(obj) -> bytes:
    """Serialize like Meta's webhook bodies: compact, non-ASCII as \\uXXXX and
    "/" escaped as "\\/" 🟡 (seen in real payloads; the point is that chatpay
    must verify the raw bytes, never a re-serialization)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def hub_signature_256(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


class WhatsAppCloudFake(ProviderFake):
    NAME = "whatsapp"
    MODES = frozenset({
        "normal", "connect_refused", "timeout_after_accept", "rate_limit", "pair_rate_limit",
        "error_503", "malformed_json", "empty_body", "html_error",
    })
    WEBHOOK_USER_AGENT = "facebookexternalua"

    def __init__(self, access_token: str, app_secret: str, *,
                 phone_number_id: str = "106540352242922", display_phone_number: str = "15550783881",
                 waba_id: str = "102290129340398", not_on_whatsapp: Iterable[str] = (),
                 async_errors: bool = False, window_seconds: float = 24 * 3600,
                 rate_limit_http: int = 400, webhook_url: str | None = None,
                 port: int = 0, hang_seconds: float = 30.0, webhook_retries: int = 2,
                 webhook_retry_delay: float = 0.2, webhook_timeout: float = 10.0):
        self.access_token = access_token
        self.app_secret = app_secret
        self.phone_number_id = phone_number_id
        self.display_phone_number = display_phone_number
        self.waba_id = waba_id
        self.not_on_whatsapp = {_digits(n) for n in not_on_whatsapp}
        self.async_errors = async_errors
        self.window_seconds = window_seconds
        # HTTP status for 130429/131056: not confirmed (400 or 429) ❓ 2.4; classify on code.
        self.rate_limit_http = rate_limit_http
        self.webhook_url = webhook_url
        self.last_inbound: dict[str, float] = {}  # wa_id -> time of the user's last message
        self.clock = time.time  # tests may replace it to move time
        # templates the business account does not have: sending one is
        # refused with 132001 (Meta's "template name does not exist")
        self.unknown_templates: set[str] = set()
        super().__init__(port=port, hang_seconds=hang_seconds, webhook_timeout=webhook_timeout,
                         webhook_retries=webhook_retries, webhook_retry_delay=webhook_retry_delay)

    # ---- 24 h window ------------------------------------------------------

    def open_window(self, number: str, at: float | None = None) -> None:
        with self.lock:
            self.last_inbound[_digits(number)] = self.clock() if at is None else at

    def close_window(self, number: str) -> None:
        with self.lock:
            self.last_inbound.pop(_digits(number), None)

    def window_open(self, number: str) -> bool:
        with self.lock:
            t = self.last_inbound.get(_digits(number))
        return t is not None and self.clock() - t < self.window_seconds

    # ---- API ----------------------------------------------------------------

    def handle(self, req: RecordedRequest) -> Reply:
        auth = req.headers.get("authorization", "")
        if not (auth.startswith("Bearer ") and hmac.compare_digest(auth[7:], self.access_token)):
            # Graph's auth errors carry no error_data.
            return graph_error(401, 190, message="Invalid OAuth access token - Cannot parse access token",
                               with_data=False)
        m = re.fullmatch(r"/(v\d+\.\d+)/([^/]+)/messages", req.path)
        if not m:
            return graph_error(400, 2500, message=f"Unknown path components: {req.path}", with_data=False)
        if req.method != "POST":
            return graph_error(400, 100, message="Unsupported get request.", type_="GraphMethodException",
                               with_data=False)
        if m.group(2) != self.phone_number_id:
            return graph_error(
                400, 100, type_="GraphMethodException", with_data=False, error_subcode=33,
                message=(f"Unsupported post request. Object with ID '{m.group(2)}' does not exist, "
                         "cannot be loaded due to missing permissions, or does not support this operation."))
        return self._send(req)

    def _send(self, req: RecordedRequest) -> Reply:
        mode = self.take_mode("send")
        if mode == "rate_limit":
            return graph_error(self.rate_limit_http, 130429)
        if mode == "error_503":
            return graph_error(503, 2)
        if mode == "html_error":
            return html_reply(502)
        try:
            p = json.loads(req.body)
        except ValueError:
            return graph_error(400, 100, "Request body is not valid JSON.")
        if not isinstance(p, dict):
            return graph_error(400, 100, "Request body must be a JSON object.")

        err = self._validate(p)
        if err:
            return graph_error(400, 100, err)
        wa_id = _digits(p["to"])
        if mode == "pair_rate_limit":
            return graph_error(self.rate_limit_http, 131056)

        mtype = p.get("type", "text")
        if mtype == "template" and p["template"]["name"] in self.unknown_templates:
            return graph_error(404, 132001, message="(#132001) Template name does not exist in "
                               "the translation")
        pending = None
        if wa_id in self.not_on_whatsapp:
            pending = 131026
        elif mtype in ("text", "interactive") and not self.window_open(wa_id):
            pending = 131047
        if pending and not self.async_errors:
            return graph_error(400, pending)

        wamid = "wamid." + base64.b64encode(
            b"\x15\x02\x00\x11\x18\x12" + wa_id.encode() + secrets.token_hex(9).upper().encode()).decode()
        with self.lock:
            self.messages[wamid] = {
                "id": wamid, "to": wa_id, "input": p["to"], "channel": "whatsapp", "type": mtype,
                "text": (p.get("text") or {}).get("body") if mtype == "text" else None,
                "template": p.get("template"), "interactive": p.get("interactive"),
                "biz_opaque_callback_data": p.get("biz_opaque_callback_data"),
                "status": "accepted", "pending_error": pending, "history": [], "request": p,
            }
        self.events.add("accepted", id=wamid, to=wa_id, type=mtype, pending_error=pending)
        msg: dict = {"id": wamid}
        if mtype == "template":
            # Real responses add message_status "accepted" for templates 🟡
            # (not in spec 2.3); an extra field the adapter must tolerate.
            msg["message_status"] = "accepted"
        body = {"messaging_product": "whatsapp", "contacts": [{"input": p["to"], "wa_id": wa_id}],
                "messages": [msg]}
        if mode == "timeout_after_accept":
            if self.hang():
                return Reply(0, close=True)
            return json_reply(200, body)
        if mode == "malformed_json":
            t = json.dumps(body)
            return Reply(200, t[: len(t) // 2].encode())
        if mode == "empty_body":
            return Reply(200, b"")
        return json_reply(200, body)  # HTTP 200 🟡 [W2]

    @staticmethod
    def _validate(p: dict) -> str | None:
        """details of the first invalid parameter (code 100), or None."""
        if p.get("messaging_product") is None:
            return "The parameter messaging_product is required."
        if p["messaging_product"] != "whatsapp":
            return "Param messaging_product must be 'whatsapp'."
        if p.get("recipient_type", "individual") != "individual":
            return "Param recipient_type must be 'individual'."
        to = p.get("to")
        if not isinstance(to, str) or not to:
            return "The parameter to is required."
        if not re.fullmatch(r"\+?\d{6,15}", to):
            return "Param to is not a valid phone number."
        bocd = p.get("biz_opaque_callback_data")
        if bocd is not None and (not isinstance(bocd, str) or len(bocd) > 512):
            return "Param biz_opaque_callback_data must be a string of at most 512 characters."
        mtype = p.get("type", "text")  # Meta defaults type to text
        if mtype == "text":
            t = p.get("text")
            if not isinstance(t, dict) or not isinstance(t.get("body"), str) or not t["body"]:
                return "The parameter text['body'] is required."
            if len(t["body"]) > TEXT_MAX:
                return f"Param text['body'] must be at most {TEXT_MAX} characters long."
            return None
        if mtype == "template":
            t = p.get("template")
            if not isinstance(t, dict) or not t.get("name"):
                return "The parameter template['name'] is required."
            lang = t.get("language")
            if not isinstance(lang, dict) or not lang.get("code"):
                return "The parameter template['language']['code'] is required."
            comps = t.get("components", [])
            if not isinstance(comps, list) or any(
                    not isinstance(c, dict) or c.get("type") not in ("header", "body", "button") for c in comps):
                return "Param template['components'] is invalid."
            return None
        if mtype == "interactive":
            it = p.get("interactive")
            if not isinstance(it, dict) or not it.get("type"):
                return "The parameter interactive['type'] is required."
            if it["type"] != "cta_url":
                # button, list, order_details, ... are real but not faked here.
                return f"Param interactive['type'] '{it['type']}' is not supported by this fake (only cta_url)."
            body = it.get("body")
            if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"]:
                return "The parameter interactive['body']['text'] is required."
            if len(body["text"]) > CTA_BODY_MAX:
                return f"Param interactive['body']['text'] must be at most {CTA_BODY_MAX} characters long."
            action = it.get("action")
            if not isinstance(action, dict) or action.get("name") != "cta_url":
                return "Param interactive['action']['name'] must be 'cta_url'."
            params = action.get("parameters")
            if not isinstance(params, dict):
                return "The parameter interactive['action']['parameters'] is required."
            label = params.get("display_text")
            if not isinstance(label, str) or not label:
                return "The parameter interactive['action']['parameters']['display_text'] is required."
            if len(label) > CTA_LABEL_MAX:
                return (f"Param interactive['action']['parameters']['display_text'] must be at most "
                        f"{CTA_LABEL_MAX} characters long.")
            url = params.get("url")
            if not isinstance(url, str) or not url:
                return "The parameter interactive['action']['parameters']['url'] is required."
            if not re.match(r"https?://", url):
                return "Param interactive['action']['parameters']['url'] must be a valid URL."
            return None
        return (f"Param type must be one of {{TEXT, TEMPLATE, INTERACTIVE}} in this fake"
                f" (got {mtype!r}).")

    # ---- webhooks ---------------------------------------------------------

    def _signed_post(self, url: str, payload: dict, modes: set, label: str,
                     retries: int | None) -> list[WebhookAttempt]:
        body = _meta_json(payload)
        headers = {"Content-Type": "application/json"}
        if "missing_signature" not in modes:
            secret = self.app_secret + ("-wrong" if "bad_signature" in modes else "")
            headers["X-Hub-Signature-256"] = hub_signature_256(secret, body)
            # Meta also sends the legacy SHA-1 header 🟡; chatpay should use the -256 one.
            headers["X-Hub-Signature"] = "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
        out: list[WebhookAttempt] = []
        for _ in range(2 if "duplicate" in modes else 1):
            out += self._post_webhook(url, body, headers, label=label, retries=retries)
        return out

    def _value(self) -> dict:
        return {"messaging_product": "whatsapp",
                "metadata": {"display_phone_number": self.display_phone_number,
                             "phone_number_id": self.phone_number_id}}

    def _entry(self, value: dict, modes: set) -> dict:
        changes = [{"value": value, "field": "messages"}]
        if "unknown_field" in modes:
            value["some_future_key"] = {"ignore": True}
            changes.insert(0, {"value": {"event": "SOMETHING_NEW", "ban_info": None},
                               "field": "account_update_future"})
        return {"id": self.waba_id, "changes": changes}

    def deliver(self, message_id: str, statuses: Iterable[str] | None = None, url: str | None = None, *,
                modes: Iterable[str] = (), errors: list[dict] | None = None,
                error_code: int | None = None, retries: int | None = None,
                recipient_id: str | None = None) -> list[WebhookAttempt]:
        """POST status webhooks for a message to `url` (default webhook_url).

        statuses: "sent" | "delivered" | "read" | "failed" in chronological
        order (default: sent, delivered, read; or failed when the send was
        accepted with a pending error, see async_errors); timestamps are unix
        seconds as strings, 1 s apart. A "failed" status carries errors[]
        (`errors`, or built from error_code / the pending error / 131026).
        modes: "duplicate", "out_of_order" (POSTs in reverse order), "batch"
        (one POST, one entry per status), "bad_signature", "missing_signature",
        "unknown_field" (an extra change with an unknown field, and an unknown
        key in value). Returns the attempts."""
        url = url or self.webhook_url
        if not url:
            raise ValueError("no webhook URL given")
        modes = set(modes)
        _check_modes(modes, {"duplicate", "out_of_order", "batch", "bad_signature",
                             "missing_signature", "unknown_field"})
        with self.lock:
            m = self.messages.get(message_id, {})
        if statuses is None:
            statuses = ["failed"] if m.get("pending_error") else ["sent", "delivered", "read"]
        statuses = list(statuses)
        base = int(self.clock())
        items = []
        for i, s in enumerate(statuses):
            if s not in ("sent", "delivered", "read", "failed"):
                raise ValueError(f"unknown status {s!r}")
            it: dict = {"id": message_id, "status": s, "timestamp": str(base + i),
                        "recipient_id": recipient_id or m.get("to", "")}
            if m.get("biz_opaque_callback_data") is not None:
                it["biz_opaque_callback_data"] = m["biz_opaque_callback_data"]
            if s in ("sent", "delivered"):
                # conversation/pricing appear on some statuses only 🟡 [W5]
                cat = "utility" if m.get("type") == "template" else "service"
                it["conversation"] = {"id": secrets.token_hex(16),
                                      "origin": {"type": cat}}
                if s == "sent":
                    it["conversation"]["expiration_timestamp"] = str(base + 24 * 3600)
                it["pricing"] = {"billable": cat != "service", "pricing_model": "PMP", "category": cat}
            if s == "failed":
                code = error_code or m.get("pending_error") or 131026
                it["errors"] = errors if errors is not None else [{
                    "code": code, "title": ERROR_TITLES.get(code, "Error"),
                    "message": ERROR_TITLES.get(code, "Error"),
                    "error_data": {"details": ERRORS.get(code, ("", "Error"))[1] or "Error"},
                    "href": ERROR_HREF}]
            items.append(it)
        if m and items:
            with self.lock:
                m["status"] = items[-1]["status"]
                m["history"].extend((it["status"], it["timestamp"]) for it in items)
        if "batch" in modes:
            entries = [self._entry({**self._value(), "statuses": [it]}, modes) for it in items]
            posts = [(entries, "statuses " + ",".join(statuses))]
        else:
            posts = [([self._entry({**self._value(), "statuses": [it]}, modes)], "status " + it["status"])
                     for it in items]
        if "out_of_order" in modes:
            posts.reverse()
        out: list[WebhookAttempt] = []
        for entries, label in posts:
            out += self._signed_post(url, {"object": "whatsapp_business_account", "entry": entries},
                                     modes, label, retries)
        return out

    def send_reply(self, from_number: str, text: str, to_url: str | None = None, *,
                   profile_name: str = "Test User", context_message_id: str | None = None,
                   modes: Iterable[str] = (), retries: int | None = None) -> list[WebhookAttempt]:
        """POST an inbound text message (e.g. "STOP") from a user; opens that
        user's 24 h window. modes: duplicate, bad_signature, missing_signature,
        unknown_field."""
        url = to_url or self.webhook_url
        if not url:
            raise ValueError("no webhook URL given")
        modes = set(modes)
        _check_modes(modes, {"duplicate", "bad_signature", "missing_signature", "unknown_field"})
        wa_id = _digits(from_number)
        self.open_window(wa_id)
        msg: dict = {"from": wa_id, "id": "wamid." + base64.b64encode(
            b"\x12\x14" + secrets.token_hex(10).upper().encode()).decode(),
            "timestamp": str(int(self.clock())), "type": "text", "text": {"body": text}}
        if context_message_id:
            msg["context"] = {"from": self.display_phone_number, "id": context_message_id}
        value = {**self._value(), "contacts": [{"profile": {"name": profile_name}, "wa_id": wa_id}],
                 "messages": [msg]}
        self.events.add("reply", from_=wa_id, text=text, id=msg["id"])
        return self._signed_post(url, {"object": "whatsapp_business_account",
                                       "entry": [self._entry(value, modes)]}, modes, "reply", retries)

    def verify(self, url: str, verify_token: str, challenge: str | None = None,
               mode: str = "subscribe") -> tuple[int | None, str]:
        """The subscription handshake: GET url?hub.mode=…&hub.verify_token=…&hub.challenge=…
        Returns (HTTP status chatpay answered, body). chatpay must answer 200
        with the challenge as the raw body, else 403 (2.6)."""
        challenge = challenge if challenge is not None else str(secrets.randbelow(10 ** 9))
        q = urllib.parse.urlencode({"hub.mode": mode, "hub.verify_token": verify_token,
                                    "hub.challenge": challenge})
        full = url + ("&" if urllib.parse.urlsplit(url).query else "?") + q
        att = http_request("GET", full, headers={"User-Agent": self.WEBHOOK_USER_AGENT},
                           timeout=self.webhook_timeout)
        att.label = "verify"
        with self.lock:
            self.webhooks.append(att)
        self.events.add("verify", url=full, status=att.status)
        return att.status, att.response_body.decode("utf-8", "replace")


def _check_modes(modes: set, allowed: set) -> None:
    bad = modes - allowed
    if bad:
        raise ValueError(f"unknown webhook modes {sorted(bad)}; allowed: {sorted(allowed)}")


if __name__ == "__main__":
    def _args(p):
        p.add_argument("--access-token", required=True)
        p.add_argument("--app-secret", required=True)
        p.add_argument("--phone-number-id", default="106540352242922")
        p.add_argument("--webhook-url")
        p.add_argument("--not-on-whatsapp", action="append", default=[])

    run_standalone(lambda a: WhatsAppCloudFake(
        a.access_token, a.app_secret, phone_number_id=a.phone_number_id, webhook_url=a.webhook_url,
        not_on_whatsapp=a.not_on_whatsapp, port=a.port, hang_seconds=a.hang_seconds), _args)
