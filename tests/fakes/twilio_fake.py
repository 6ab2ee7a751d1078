"""Offline fake of Twilio Programmable Messaging (spec/providers.md section 3,
what it must reproduce: 3.9).

API side (base_url stands for https://api.twilio.com):
  POST /2010-04-01/Accounts/{AccountSid}/Messages.json        create (form-encoded)
  GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json  fetch (reconciliation)
  GET  /2010-04-01/Accounts/{AccountSid}/Messages.json        list (To/From filters)
  HTTP Basic: AccountSid:AuthToken, or an API key SID:secret (api_keys).
Webhook side:
  deliver(sid, statuses, url=None)      status callbacks to the message's StatusCallback
  send_reply(from_number, text, url)    an inbound message (SMS or whatsapp:)
  both form-encoded and signed with X-Twilio-Signature (3.7; see twilio_signature()).

WhatsApp 24-hour window: free-form (Body without ContentSid) to a whatsapp:
user who has not written in window_seconds fails with 63016. A user is warm
after send_reply() from them or open_window(number).
  Decision: real Twilio usually accepts the send and reports 63016 later in
  the status callback (ErrorCode); the spec (3.9) asks for the synchronous
  case, so this fake answers 400 code 63016 by default; with
  async_errors=True it accepts (201) and the message's default deliver() is
  "failed" with ErrorCode 63016.

Modes (set_mode):
  normal
  connect_refused             stop listening (set_mode("normal") listens again)
  timeout_after_accept        create the message, hold the 201 for hang_seconds
  rate_limit                  429 code 20429 with Retry-After (retry_after seconds)
  rate_limit_no_retry_after   429 code 20429 without Retry-After (not promised ❓)
  error_500                   500 code 20500
  error_503                   503 code 20503
  html_error                  502 with an HTML page (nothing created)
  missing_sid                 201 JSON without "sid" (the message is created)

Run alone: python3 twilio_fake.py --port N --account-sid AC… --auth-token T
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import math
import re
import secrets
import time
import urllib.parse
from datetime import datetime, timezone
from typing import Iterable

from provider_fake import (ProviderFake, RecordedRequest, Reply, WebhookAttempt, html_reply,
                           json_reply, run_standalone)

API_VERSION = "2010-04-01"
BODY_MAX = 1600  # ✅ [T3]
E164 = re.compile(r"\+[1-9]\d{6,14}")
ALPHA_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")

ERRORS = {
    20003: "Authenticate",
    20404: "The requested resource {} was not found",
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    20503: "Service is unavailable. Please try again",
    21211: "Invalid 'To' Phone Number: {}",
    21212: "Invalid From Number (caller ID): {}",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21609: "Invalid StatusCallback url",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21655: "The ContentSid is Invalid.",
    21656: "The ContentVariables Parameter is invalid.",
    21701: "The Messaging Service Sid {} is invalid.",
    21910: "Invalid From and To pair. From and To should be of the same channel",
    63016: ("Failed to send freeform message because you are outside the allowed window. "
            "If you are using WhatsApp, please use a Message Template."),
}


def twilio_error(status: int, code: int, arg: str = "", message: str | None = None,
                 headers: dict[str, str] | None = None) -> Reply:
    """{"code","message","more_info","status"} ✅ code/message [T7], 🟡 more_info/status."""
    return json_reply(status, {"code": code, "message": message or ERRORS[code].format(arg),
                               "more_info": f"https://www.twilio.com/docs/errors/{code}",
                               "status": status}, headers)


def twilio_signature(auth_token: str, url: str, params: dict[str, list[str]] | dict[str, str]) -> str:
    """X-Twilio-Signature (3.7 ✅ [T11][T12]): the full URL, then for each
    parameter name in sorted order, name + value (repeated names: each value,
    sorted and de-duplicated, as the Node helper does); HMAC-SHA1 keyed with
    the AuthToken; base64."""
    s = url
    for name in sorted(params):
        vals = params[name]
        if isinstance(vals, str):
            vals = [vals]
        for v in sorted(set(vals)):
            s += name + v
    return base64.b64encode(hmac.new(auth_token.encode(), s.encode(), hashlib.sha1).digest()).decode()


def _rfc2822(t: float) -> str:
    return email.utils.format_datetime(datetime.fromtimestamp(int(t), timezone.utc))  # "+0000"


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _segments(body: str) -> int:
    if not body:
        return 1
    if all(ord(c) < 128 for c in body):  # approximates GSM-7
        return 1 if len(body) <= 160 else math.ceil(len(body) / 153)
    return 1 if len(body) <= 70 else math.ceil(len(body) / 67)


class TwilioFake(ProviderFake):
    NAME = "twilio"
    MODES = frozenset({
        "normal", "connect_refused", "timeout_after_accept", "rate_limit",
        "rate_limit_no_retry_after", "error_500", "error_503", "html_error", "missing_sid",
    })
    WEBHOOK_USER_AGENT = "TwilioProxy/1.1"

    def __init__(self, account_sid: str, auth_token: str, *, api_keys: dict[str, str] | None = None,
                 messaging_services: Iterable[str] | None = None,
                 service_sender: str = "+15005550006", async_errors: bool = False,
                 window_seconds: float = 24 * 3600, retry_after: int = 1,
                 port: int = 0, hang_seconds: float = 30.0, webhook_retries: int = 1,
                 webhook_retry_delay: float = 0.2, webhook_timeout: float = 10.0):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_keys = dict(api_keys or {})  # SK… -> secret
        # None: any MG… sid is a valid service
        self.messaging_services = set(messaging_services) if messaging_services is not None else None
        self.service_sender = service_sender  # the number a messaging service picks
        self.async_errors = async_errors
        self.window_seconds = window_seconds
        self.retry_after = retry_after
        self.last_inbound: dict[str, float] = {}  # "+E164" -> time of the user's last WhatsApp message
        self.clock = time.time
        super().__init__(port=port, hang_seconds=hang_seconds, webhook_timeout=webhook_timeout,
                         webhook_retries=webhook_retries, webhook_retry_delay=webhook_retry_delay)

    # ---- 24 h window (WhatsApp) -----------------------------------------

    @staticmethod
    def _bare(number: str) -> str:
        return number[len("whatsapp:"):] if number.startswith("whatsapp:") else number

    def open_window(self, number: str, at: float | None = None) -> None:
        with self.lock:
            self.last_inbound[self._bare(number)] = self.clock() if at is None else at

    def close_window(self, number: str) -> None:
        with self.lock:
            self.last_inbound.pop(self._bare(number), None)

    def window_open(self, number: str) -> bool:
        with self.lock:
            t = self.last_inbound.get(self._bare(number))
        return t is not None and self.clock() - t < self.window_seconds

    # ---- API ----------------------------------------------------------------

    def _authenticated(self, req: RecordedRequest) -> bool:
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            user, _, pw = base64.b64decode(auth[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        if user == self.account_sid:
            return hmac.compare_digest(pw, self.auth_token)
        if user in self.api_keys:
            return hmac.compare_digest(pw, self.api_keys[user])
        return False

    def handle(self, req: RecordedRequest) -> Reply:
        if not self._authenticated(req):
            return twilio_error(401, 20003, headers={"WWW-Authenticate": 'Basic realm="Twilio API"'})
        m = re.fullmatch(rf"/{API_VERSION}/Accounts/([^/]+)/Messages(?:/([^/]+))?\.json", req.path)
        if not m or m.group(1) != self.account_sid:
            return twilio_error(404, 20404, req.path)
        if m.group(2) is None and req.method == "POST":
            return self._create(req)
        if req.method == "GET":
            return self._fetch(req, m.group(2))
        return twilio_error(405, 20004, message="Method not allowed")  # ❓ exact code

    def _create(self, req: RecordedRequest) -> Reply:
        mode = self.take_mode("send")
        rej = self._rejecting_mode(mode)
        if rej:
            return rej
        form = urllib.parse.parse_qs(req.body.decode("utf-8", "replace"), keep_blank_values=True)
        one = {k: v[0] for k, v in form.items()}
        to, frm, mg = one.get("To", ""), one.get("From", ""), one.get("MessagingServiceSid", "")
        body, content_sid = one.get("Body", ""), one.get("ContentSid", "")
        media = form.get("MediaUrl", [])
        callback = one.get("StatusCallback")

        if not to:
            return twilio_error(400, 21604)
        # Sender: exactly one of From / MessagingServiceSid. Neither -> 21603
        # (Twilio's "From is required"). Both -> also 21603: a rule of this
        # fake (real Twilio accepts both and prefers From when it is in the
        # service's pool), so that the adapter is seen to send exactly one.
        if not frm and not mg:
            return twilio_error(400, 21603)
        if frm and mg:
            return twilio_error(400, 21603, message="Send exactly one of 'From' or 'MessagingServiceSid' "
                                                    "(rule of the fake).")
        if mg and (not re.fullmatch(r"MG[0-9a-f]{32}", mg)
                   or (self.messaging_services is not None and mg not in self.messaging_services)):
            return twilio_error(400, 21701, mg)
        if not body and not content_sid and not media:
            return twilio_error(400, 21602)
        if len(body) > BODY_MAX:
            return twilio_error(400, 21617)
        if content_sid and not re.fullmatch(r"HX[0-9a-f]{32}", content_sid):
            return twilio_error(400, 21655)
        cv = one.get("ContentVariables")
        if cv is not None:
            try:
                if not isinstance(json.loads(cv), dict):
                    raise ValueError
            except ValueError:
                return twilio_error(400, 21656)
        to_wa = to.startswith("whatsapp:")
        if not E164.fullmatch(self._bare(to)):
            return twilio_error(400, 21211, to)
        if frm:
            if frm.startswith("whatsapp:") != to_wa:
                return twilio_error(400, 21910)
            bare = self._bare(frm)
            if not (E164.fullmatch(bare) or (not to_wa and ALPHA_SENDER.fullmatch(bare))):
                return twilio_error(400, 21212, frm)
        if callback is not None and not re.match(r"https?://[^/_]+(/|$)", callback):
            return twilio_error(400, 21609)  # underscores not allowed in the host ✅ [T3]

        pending = None
        if to_wa and not content_sid and not self.window_open(to):
            pending = 63016
            if not self.async_errors:
                return twilio_error(400, 63016)

        now = self.clock()
        sid = _sid("MM" if media else "SM")
        msg = {
            "sid": sid, "to": to, "from": frm or None, "channel": "whatsapp" if to_wa else "sms",
            "text": body or None, "content_sid": content_sid or None,
            "template": {"content_sid": content_sid, "content_variables": cv} if content_sid else None,
            "content_variables": cv, "media_urls": media, "messaging_service_sid": mg or None,
            "status_callback": callback, "status": "accepted" if mg else "queued",
            "pending_error": pending, "error_code": None, "error_message": None,
            "date_created": now, "date_updated": now, "date_sent": None,
            # a service has not picked a sender yet: 0 segments ✅ [T5]
            "num_segments": 0 if mg else (1 if to_wa else _segments(body)),
            "history": [], "request": one,
        }
        with self.lock:
            self.messages[sid] = msg
        self.events.add("accepted", id=sid, to=to, status=msg["status"], status_callback=callback)
        res = self._resource(msg)
        if mode == "timeout_after_accept":
            if self.hang():
                return Reply(0, close=True)
            return json_reply(201, res)
        if mode == "missing_sid":
            res.pop("sid")
            return json_reply(201, res)
        return json_reply(201, res)

    def _rejecting_mode(self, mode: str) -> Reply | None:
        if mode == "rate_limit":
            # 20429 ✅ [T8] with Twilio-Concurrent-Requests; Retry-After not promised ❓
            return twilio_error(429, 20429, headers={"Retry-After": str(self.retry_after),
                                                     "Twilio-Concurrent-Requests": "1"})
        if mode == "rate_limit_no_retry_after":
            return twilio_error(429, 20429, headers={"Twilio-Concurrent-Requests": "1"})
        if mode == "error_500":
            return twilio_error(500, 20500)
        if mode == "error_503":
            return twilio_error(503, 20503)
        if mode == "html_error":
            return html_reply(502)
        return None

    def _fetch(self, req: RecordedRequest, sid: str | None) -> Reply:
        mode = self.take_mode("query")
        rej = self._rejecting_mode(mode)
        if rej:
            return rej
        if mode == "timeout_after_accept" and self.hang():
            return Reply(0, close=True)
        with self.lock:
            if sid is None:  # list, newest first, To/From filters 🟡
                to = (req.query.get("To") or [None])[0]
                frm = (req.query.get("From") or [None])[0]
                ms = [self._resource(m) for m in reversed(list(self.messages.values()))
                      if (to is None or m["to"] == to) and (frm is None or m["from"] == frm)]
                uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"
                return json_reply(200, {"messages": ms, "end": max(0, len(ms) - 1), "first_page_uri": uri,
                                        "next_page_uri": None, "page": 0, "page_size": 50,
                                        "previous_page_uri": None, "start": 0, "uri": uri})
            m = self.messages.get(sid)
            if m is None:
                return twilio_error(404, 20404, req.path)
            res = self._resource(m)
        if mode == "missing_sid":
            res.pop("sid")
        return json_reply(200, res)

    def _resource(self, m: dict) -> dict:
        """The Message resource as JSON (201 and fetch) ✅ [T2][T5]. Twilio
        gives num_segments and num_media as strings."""
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{m['sid']}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": m["text"] or "",
            "date_created": _rfc2822(m["date_created"]),
            "date_sent": _rfc2822(m["date_sent"]) if m["date_sent"] else None,
            "date_updated": _rfc2822(m["date_updated"]),
            "direction": "outbound-api",
            "error_code": m["error_code"],
            "error_message": m["error_message"],
            "from": m["from"],
            "messaging_service_sid": m["messaging_service_sid"],
            "num_media": str(len(m["media_urls"])),
            "num_segments": str(m["num_segments"]),
            "price": None,
            "price_unit": "USD",
            "sid": m["sid"],
            "status": m["status"],
            "subresource_uris": {"media": base + "/Media.json", "feedback": base + "/Feedback.json"},
            "to": m["to"],
            "uri": base + ".json",
        }

    # ---- webhooks ---------------------------------------------------------

    def _should_retry(self, att: WebhookAttempt) -> bool:
        # Twilio retries once, on TCP-connect/TLS failure only; an HTTP 5xx is
        # not retried for status callbacks ❓ (3.8, secondary source).
        return att.connect_failed

    def _signed_post(self, url: str, params: list[tuple[str, str]], modes: set, label: str,
                     retries: int | None, sign_url: str | None) -> list[WebhookAttempt]:
        body = urllib.parse.urlencode(params).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   # Twilio sends an idempotency token on webhooks 🟡
                   "I-Twilio-Idempotency-Token": secrets.token_hex(16)}
        if "missing_signature" not in modes:
            grouped: dict[str, list[str]] = {}
            for k, v in params:
                grouped.setdefault(k, []).append(v)
            token = self.auth_token + ("-wrong" if "bad_signature" in modes else "")
            headers["X-Twilio-Signature"] = twilio_signature(token, sign_url or url, grouped)
        out: list[WebhookAttempt] = []
        for _ in range(2 if "duplicate" in modes else 1):
            out += self._post_webhook(url, body, headers, label=label, retries=retries)
        return out

    def deliver(self, message_id: str, statuses: Iterable[str] | None = None, url: str | None = None, *,
                modes: Iterable[str] = (), error_code: int | None = None, retries: int | None = None,
                sign_url: str | None = None, extra_params: dict[str, str] | None = None) -> list[WebhookAttempt]:
        """POST status callbacks for a message, form-encoded and signed, to `url`
        (default: the StatusCallback the message was created with).

        statuses: e.g. ["sent", "delivered"], ["sent", "delivered", "read"]
        (read after delivered, WhatsApp), ["failed"] or ["undelivered"]
        (ErrorCode: error_code, default 30007, or the pending 63016).
        Default: ["failed"] for a message accepted with a pending error, else
        ["sent", "delivered"]. Each callback carries one extra parameter a
        receiver cannot know (RawDlrDoneDate for SMS, ChannelPrefix/
        ChannelInstallSid for WhatsApp) unless extra_params replaces them.
        modes: "duplicate", "out_of_order" (callbacks in reverse order),
        "bad_signature", "missing_signature". sign_url: sign over another URL
        than the one posted to (port variants, proxies)."""
        with self.lock:
            m = self.messages.get(message_id)
        if m is None:
            raise KeyError(f"no message {message_id}")
        url = url or m["status_callback"]
        if not url:
            raise ValueError(f"message {message_id} has no StatusCallback and no url was given")
        modes = set(modes)
        _check_modes(modes, {"duplicate", "out_of_order", "bad_signature", "missing_signature"})
        if statuses is None:
            statuses = ["failed"] if m["pending_error"] else ["sent", "delivered"]
        statuses = list(statuses)
        if m["from"] is None:  # the service picks a sender
            with self.lock:
                m["from"] = ("whatsapp:" if m["channel"] == "whatsapp" else "") + self.service_sender
                m["num_segments"] = 1 if m["channel"] == "whatsapp" else _segments(m["text"] or "")
        posts = []
        for s in statuses:
            params = [("SmsSid", m["sid"]), ("SmsStatus", s), ("MessageStatus", s),
                      ("To", m["to"]), ("MessageSid", m["sid"]), ("AccountSid", self.account_sid),
                      ("From", m["from"]), ("ApiVersion", API_VERSION)]
            if m["messaging_service_sid"]:
                params.insert(0, ("MessagingServiceSid", m["messaging_service_sid"]))
            code = None
            if s in ("failed", "undelivered"):
                code = error_code or m["pending_error"] or 30007
                params.insert(0, ("ErrorCode", str(code)))
            if extra_params is not None:
                params += list(extra_params.items())
            elif m["channel"] == "whatsapp":
                params += [("ChannelPrefix", "whatsapp"), ("ChannelInstallSid", "XE" + "0" * 32)]
            else:
                params.append(("RawDlrDoneDate", time.strftime("%y%m%d%H%M", time.gmtime())))
            posts.append((params, s, code))
            with self.lock:
                m["status"] = s
                m["date_updated"] = self.clock()
                if s == "sent" and not m["date_sent"]:
                    m["date_sent"] = self.clock()
                if code:
                    m["error_code"] = code
                    m["error_message"] = None  # Twilio leaves it null in most cases 🟡
                m["history"].append(s)
        if "out_of_order" in modes:
            posts.reverse()
        out: list[WebhookAttempt] = []
        for params, s, _ in posts:
            out += self._signed_post(url, params, modes, f"status {s}", retries, sign_url)
        return out

    def send_reply(self, from_number: str, text: str, to_url: str, *, to_number: str | None = None,
                   profile_name: str = "Test User", modes: Iterable[str] = (),
                   retries: int | None = None, sign_url: str | None = None) -> list[WebhookAttempt]:
        """POST an inbound message (e.g. "STOP") to chatpay's incoming-message
        URL, form-encoded and signed. from_number "whatsapp:+…" makes it a
        WhatsApp message (ProfileName, WaId) and opens the user's window.
        to_number: default the sender of the latest message to this user.
        modes: "duplicate", "bad_signature", "missing_signature"."""
        modes = set(modes)
        _check_modes(modes, {"duplicate", "bad_signature", "missing_signature"})
        wa = from_number.startswith("whatsapp:")
        if to_number is None:
            with self.lock:
                sent = [m for m in self.messages.values() if m["to"] == from_number and m["from"]]
            to_number = sent[-1]["from"] if sent else (("whatsapp:" if wa else "") + self.service_sender)
        sid = _sid("SM")
        params = [("ToCountry", "US"), ("SmsMessageSid", sid), ("NumMedia", "0"), ("SmsSid", sid),
                  ("SmsStatus", "received"), ("Body", text), ("To", to_number), ("NumSegments", "1"),
                  ("MessageSid", sid), ("AccountSid", self.account_sid), ("From", from_number),
                  ("ApiVersion", API_VERSION)]
        if wa:
            self.open_window(from_number)
            params[0:0] = [("ProfileName", profile_name), ("WaId", self._bare(from_number).lstrip("+")),
                           ("MessageType", "text")]
        self.events.add("reply", from_=from_number, text=text, sid=sid)
        return self._signed_post(to_url, params, modes, "reply", retries, sign_url)


def _check_modes(modes: set, allowed: set) -> None:
    bad = modes - allowed
    if bad:
        raise ValueError(f"unknown webhook modes {sorted(bad)}; allowed: {sorted(allowed)}")


if __name__ == "__main__":
    def _args(p):
        p.add_argument("--account-sid", required=True)
        p.add_argument("--auth-token", required=True)
        p.add_argument("--api-key", action="append", default=[], help="SK…:secret")

    run_standalone(lambda a: TwilioFake(
        a.account_sid, a.auth_token, api_keys=dict(k.split(":", 1) for k in a.api_key),
        port=a.port, hang_seconds=a.hang_seconds), _args)
