"""Offline fake of the Clickatell Platform "One API" (spec/providers.md section 1,
what it must reproduce: 1.9).

API side (base_url stands for https://platform.clickatell.com):
  POST /v1/message        send (JSON), raw key in Authorization (no scheme)
  GET  /v1/message/{id}   status query, object keyed by channel
Callback side (the portal's two URLs: status events and replies/MO):
  deliver(api_message_id, statuses, url)   messageStatusUpdate events
  send_reply(from_number, text, url)       moText events
No signature: none is documented for One API callbacks (1.7 ❓); chatpay's
inbound URL carries its own secret token, and the fake just POSTs to the URL
it is given.

Modes (set_mode):
  normal
  connect_refused        stop listening (set_mode("normal") listens again)
  timeout_after_accept   accept and record the messages, then hold the 202
                         for hang_seconds (past the client's read timeout)
  error_503              503 {"error":{"code":19,...}}  (retry advised)
  error_500              500 {"error":{"code":18,...}}
  rate_limit             400 {"error":{"code":43,...}}  (global; not 429)
  rate_limit_message     400, each message rejected with code 43 (message-level)
  insufficient_balance   402, each message rejected with code 20 (message-level)
  malformed_json         202 with a truncated JSON body (messages accepted)
  empty_body             202 with an empty body (messages accepted)
  shuffle                normal, but messages[] answered in reverse order

Run alone: python3 clickatell_fake.py --port N --api-key KEY
           [--status-url URL] [--reply-url URL]
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Iterable

from provider_fake import ProviderFake, RecordedRequest, Reply, WebhookAttempt, json_reply, run_standalone

# Status enum (code -> name), spec 1.7 [C14] and the names of the community SDK.
STATUS_CODES = {
    1: "UNKNOWN", 2: "QUEUED", 3: "SCHEDULED", 4: "SENT_TO_SUPPLIER", 5: "DEVICE_ACK", 6: "READ",
    20: "EXPIRED", 21: "STOPPED_BY_USER", 22: "STOPPED_BY_ADMIN", 23: "DELIVERY_FAILURE",
    24: "EMULATED", 25: "INSUFFICIENT_ACCOUNT_BALANCE", 26: "VOLUME_LIMIT", 27: "VOLUME_LIMIT_DAILY",
    28: "VOLUME_LIMIT_MONTHLY", 29: "RECIPIENT_DOES_NOT_EXIST", 100: "ROUTING_ERROR",
    131: "WHATSAPP_RE_ENGAGEMENT_REQUIRED",
}
STATUS_NAMES = {v: k for k, v in STATUS_CODES.items()}

ERRORS = {
    1: "Invalid or missing integration API Key",
    18: "Internal error",
    19: "Internal error, please retry",
    20: "Insufficient balance",
    21: "Malformed payload",
    22: "Too many messages",
    23: "Invalid or missing parameter: {} .",
    24: "Content too long",
    25: "Invalid recipient address",
    41: "Resource does not exist",
    42: "Method not supported",
    43: "Rate limit exceeded",
}

MAX_MESSAGES = 200  # per request, spec 1.3 ✅ [C6]
WHATSAPP_TEXT_MAX = 4096  # spec 1.3 ✅ [C6]


def _err(code: int, param: str = "") -> dict:
    return {"code": code, "description": ERRORS[code].format(param)}


def _now_ms() -> int:
    return int(time.time() * 1000)


class ClickatellFake(ProviderFake):
    NAME = "clickatell"
    MODES = frozenset({
        "normal", "connect_refused", "timeout_after_accept", "error_503", "error_500",
        "rate_limit", "rate_limit_message", "insufficient_balance", "malformed_json",
        "empty_body", "shuffle",
    })
    WEBHOOK_USER_AGENT = "Clickatell-Callback"  # ❓ real User-Agent not known

    def __init__(self, api_key: str, *, integration_id: str = "8a2a3e8c1f2b4d5e",
                 integration_name: str = "chatpay-test", status_url: str | None = None,
                 reply_url: str | None = None, max_messages: int = MAX_MESSAGES,
                 port: int = 0, hang_seconds: float = 30.0, webhook_retries: int = 2,
                 webhook_retry_delay: float = 0.2, webhook_timeout: float = 10.0):
        self.api_key = api_key
        self.integration_id = integration_id
        self.integration_name = integration_name
        self.status_url = status_url  # portal: status callback URL
        self.reply_url = reply_url  # portal: reply (MO) callback URL
        self.max_messages = max_messages
        super().__init__(port=port, hang_seconds=hang_seconds, webhook_timeout=webhook_timeout,
                         webhook_retries=webhook_retries, webhook_retry_delay=webhook_retry_delay)

    # ---- API ----------------------------------------------------------------

    def handle(self, req: RecordedRequest) -> Reply:
        if req.path == "/v1/message":
            if req.method != "POST":
                return json_reply(405, {"error": _err(42)})  # ❓ HTTP status for code 42
            if req.headers.get("authorization") != self.api_key:
                return json_reply(401, {"error": _err(1)})
            return self._send(req)
        m = re.fullmatch(r"/v1/message/([^/]+)", req.path)
        if m:
            if req.method != "GET":
                return json_reply(405, {"error": _err(42)})
            if req.headers.get("authorization") != self.api_key:
                return json_reply(401, {"error": _err(1)})
            return self._status_query(m.group(1))
        return json_reply(404, {"error": _err(41)})  # ❓ HTTP status for code 41

    def _send(self, req: RecordedRequest) -> Reply:
        mode = self.take_mode("send")
        if mode == "error_503":
            return json_reply(503, {"error": _err(19)})
        if mode == "error_500":
            return json_reply(500, {"error": _err(18)})
        if mode == "rate_limit":
            return json_reply(400, {"error": _err(43)})

        try:
            payload = json.loads(req.body)
        except ValueError:
            return json_reply(400, {"error": _err(21)})
        if not isinstance(payload, dict):
            return json_reply(400, {"error": _err(21)})
        msgs = payload.get("messages")
        if not isinstance(msgs, list) or not msgs:
            return json_reply(400, {"error": _err(23, "messages")})
        if len(msgs) > self.max_messages:
            return json_reply(400, {"error": _err(22)})

        if mode in ("rate_limit_message", "insufficient_balance"):
            code, status = (43, 400) if mode == "rate_limit_message" else (20, 402)
            results = []
            for m in msgs:
                r = {"accepted": False, "to": str(m.get("to", "")) if isinstance(m, dict) else ""}
                if isinstance(m, dict) and m.get("clientMessageId") is not None:
                    r["clientMessageId"] = m["clientMessageId"]
                r["error"] = _err(code)
                results.append(r)
            return json_reply(status, {"messages": results, "error": None})

        results = [self._accept_one(m) for m in msgs]
        n_ok = sum(1 for r in results if r["accepted"])
        # all accepted: 202; mixed: 207 ✅ [C3]; none accepted: 400 with the
        # message-level errors and top-level error null (the community SDK's
        # "error_400" fixture [C2]).
        status = 202 if n_ok == len(results) else (207 if n_ok else 400)
        if mode == "shuffle" and len(results) > 1:
            results = list(reversed(results))  # order is not guaranteed ✅ [C7]
        body = {"messages": results, "error": None}

        if mode == "timeout_after_accept":
            if self.hang():
                return Reply(0, close=True)
            return json_reply(status, body)
        if mode == "malformed_json":
            text = json.dumps(body)
            return Reply(status, text[: max(1, len(text) // 2)].encode())
        if mode == "empty_body":
            return Reply(status, b"")
        return json_reply(status, body)

    def _accept_one(self, m) -> dict:
        if not isinstance(m, dict):
            return {"accepted": False, "to": "", "error": _err(23, "message")}
        to = m.get("to")
        cmid = m.get("clientMessageId")
        r: dict = {"accepted": False, "to": str(to) if to is not None else ""}
        if cmid is not None:
            r["clientMessageId"] = cmid
        channel = m.get("channel", "sms")  # defaults to SMS ✅ [C6]
        content = m.get("content")
        template = m.get("hsm") or m.get("template")  # template shape is ❓ (1.3)
        # `to`: international MSISDN, digits only, no "+" or "00" ✅ [C6][C7].
        # Fake rule: missing or not all digits -> 23 (the SDK fixture answers
        # 23 for "27999abcde"); digits but not a plausible MSISDN (leading 0,
        # fewer than 8 or more than 15 digits) -> 25 "invalid recipient".
        if not isinstance(to, str) or not to.isdigit():
            r["error"] = _err(23, "to")
        elif to.startswith("0") or not 8 <= len(to) <= 15:
            r["error"] = _err(25)
        elif channel not in ("sms", "whatsapp"):
            r["error"] = _err(23, "channel")
        elif template is None and not (isinstance(content, str) and content):
            r["error"] = _err(23, "content")
        elif channel == "whatsapp" and isinstance(content, str) and len(content) > WHATSAPP_TEXT_MAX:
            r["error"] = _err(24)
        else:
            mid = secrets.token_hex(16)  # 32 hex
            r = {"apiMessageId": mid, "accepted": True, "to": to}
            if cmid is not None:
                r["clientMessageId"] = cmid
            r["error"] = None
            with self.lock:
                self.messages[mid] = {
                    "id": mid, "to": to, "channel": channel, "text": content,
                    "template": template, "from": m.get("from"), "client_message_id": cmid,
                    "status": "QUEUED", "status_code": 2, "timestamp": _now_ms(),
                    "history": [("QUEUED", _now_ms())], "request": m,
                }
            self.events.add("accepted", id=mid, to=to, channel=channel)
            return r
        return r

    def _status_query(self, mid: str) -> Reply:
        mode = self.take_mode("query")
        if mode == "error_503":
            return json_reply(503, {"error": _err(19)})
        if mode == "error_500":
            return json_reply(500, {"error": _err(18)})
        if mode == "rate_limit":
            return json_reply(400, {"error": _err(43)})
        if mode == "timeout_after_accept" and self.hang():
            return Reply(0, close=True)
        with self.lock:
            m = self.messages.get(mid)
            if m is None:
                # Unknown id: no channel key, status UNKNOWN, timestamp "now"
                # ✅ [C10]; the exact unknown-id body is ❓, HTTP 200 assumed.
                body = {"status": "UNKNOWN", "timestamp": _now_ms()}
            else:
                # {"sms": {"status": "QUEUED", "timestamp": <epoch ms>}} [C2][C10]
                body = {m["channel"]: {"status": m["status"], "timestamp": m["timestamp"]}}
        if mode == "malformed_json":
            return Reply(200, json.dumps(body)[:10].encode())
        if mode == "empty_body":
            return Reply(200, b"")
        return json_reply(200, body)

    # ---- callbacks ------------------------------------------------------

    def _should_retry(self, att: WebhookAttempt) -> bool:
        # Any 2xx acknowledges; anything else is retried, except redirects ✅ [C11].
        # The real schedule is ❓; here: webhook_retries more tries, webhook_retry_delay apart.
        if att.status is None:
            return True
        return not (200 <= att.status < 400)

    def _envelope(self, event: dict) -> bytes:
        return json.dumps({"integrationId": self.integration_id,
                           "integrationName": self.integration_name,
                           "event": event}).encode()

    def deliver(self, message_id: str, statuses: Iterable = ("QUEUED", "SENT_TO_SUPPLIER", "DEVICE_ACK", "READ"),
                url: str | None = None, *, modes: Iterable[str] = (), retries: int | None = None,
                channel: str | None = None, client_message_id: str | None = None) -> list[WebhookAttempt]:
        """POST status events for a message to `url` (default: status_url).

        statuses: names ("DEVICE_ACK") or codes (5), in chronological order;
        each gets a timestamp (epoch ms) 1 s after the previous one.
        modes: "duplicate" (every POST sent twice), "out_of_order" (POSTs in
        reverse order; timestamps stay chronological), "batch" (all events in
        one POST), "unknown" (an unknown event type and extra fields).
        Returns the attempts (with the HTTP status chatpay answered)."""
        url = url or self.status_url
        if not url:
            raise ValueError("no status callback URL given")
        modes = set(modes)
        _check_modes(modes, {"duplicate", "out_of_order", "batch", "unknown"})
        with self.lock:
            m = self.messages.get(message_id, {})
        channel = channel or m.get("channel", "sms")
        cmid = client_message_id if client_message_id is not None else m.get("client_message_id")
        base = _now_ms()
        events = []
        for i, s in enumerate(statuses):
            code = s if isinstance(s, int) else STATUS_NAMES[s]
            name = STATUS_CODES[code]
            # Body of a status event: event.messageStatusUpdate[] as in a
            # third-party receiver's DTO 🟡 [C13]; Clickatell's own schema for
            # /client-callback/one-api-status was not retrieved; field casing
            # (camelCase) is assumed ❓ (spec 1.7).
            ev = {"channel": channel, "messageId": message_id, "clientMessageId": cmid,
                  "statusCode": code, "status": name, "timestamp": base + 1000 * i}
            if "unknown" in modes:
                ev["futureField"] = {"note": "ignore me"}
            events.append(ev)
        if m:
            with self.lock:
                last = events[-1] if events else None
                if last:
                    m["status"], m["status_code"], m["timestamp"] = last["status"], last["statusCode"], last["timestamp"]
                m["history"].extend((e["status"], e["timestamp"]) for e in events)
        posts = [events] if "batch" in modes else [[e] for e in events]
        if "out_of_order" in modes:
            posts.reverse()
        out: list[WebhookAttempt] = []
        for evs in posts:
            event: dict = {"messageStatusUpdate": evs}
            if "unknown" in modes:
                event["someFutureEventType"] = [{"messageId": message_id, "foo": 1}]
            body = self._envelope(event)
            label = "status " + ",".join(e["status"] for e in evs)
            for _ in range(2 if "duplicate" in modes else 1):
                out += self._post_webhook(url, body, {"Content-Type": "application/json"},
                                          label=label, retries=retries)
        return out

    def send_reply(self, from_number: str, text: str, to_url: str | None = None, *,
                   to_number: str | None = None, channel: str | None = None,
                   related_message_id: str | None = None, profile_name: str = "Test User",
                   modes: Iterable[str] = (), retries: int | None = None) -> list[WebhookAttempt]:
        """POST an inbound reply (MO), e.g. "STOP", as event.moText[] to
        `to_url` (default: reply_url). It relates to the latest message sent
        to from_number unless related_message_id is given.
        modes: "duplicate", "unknown" (extra fields and an unknown event type)."""
        url = to_url or self.reply_url
        if not url:
            raise ValueError("no reply callback URL given")
        modes = set(modes)
        _check_modes(modes, {"duplicate", "unknown"})
        with self.lock:
            sent = [m for m in self.messages.values() if m["to"] == from_number]
        related = self.messages.get(related_message_id) if related_message_id else (sent[-1] if sent else None)
        channel = channel or (related["channel"] if related else "sms")
        item: dict = {
            "channel": channel,
            "messageId": secrets.token_hex(16),
            "relatedMessageId": related["id"] if related else None,
            "relatedClientMessageId": related["client_message_id"] if related else None,
            "from": from_number,
            "to": to_number or (related.get("from") if related and related.get("from") else "27000000000"),
            "timestamp": _now_ms(),
            "content": text,
            "charset": "UTF-8",
        }
        if channel == "sms":
            item["sms"] = {"network": {"id": "1", "name": "Fake Network"}}  # ❓ sub-shape of sms.network
        else:
            item["whatsapp"] = {"profileName": profile_name}
        event: dict = {"moText": [item]}
        if "unknown" in modes:
            item["futureField"] = True
            event["moSomethingNew"] = [{"x": 1}]
        self.events.add("reply", from_=from_number, text=text)
        body = self._envelope(event)
        out: list[WebhookAttempt] = []
        for _ in range(2 if "duplicate" in modes else 1):
            out += self._post_webhook(url, body, {"Content-Type": "application/json"},
                                      label="reply", retries=retries)
        return out


def _check_modes(modes: set, allowed: set) -> None:
    bad = modes - allowed
    if bad:
        raise ValueError(f"unknown webhook modes {sorted(bad)}; allowed: {sorted(allowed)}")


if __name__ == "__main__":
    def _args(p):
        p.add_argument("--api-key", required=True)
        p.add_argument("--status-url")
        p.add_argument("--reply-url")

    run_standalone(lambda a: ClickatellFake(a.api_key, port=a.port, hang_seconds=a.hang_seconds,
                                            status_url=a.status_url, reply_url=a.reply_url), _args)
