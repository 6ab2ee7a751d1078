"""Offline fake of Stripe: PaymentIntents, Checkout Sessions, Refunds and
webhooks (spec/providers.md section 4; what it must reproduce: 4.10).

API side (base_url "http://127.0.0.1:PORT" stands for https://api.stripe.com):
  POST /v1/checkout/sessions                create (mode=payment, price_data line items)
  GET  /v1/checkout/sessions/{id}           fetch (expand[]=payment_intent works)
  GET  /v1/checkout/sessions                list (filter payment_intent)
  POST /v1/checkout/sessions/{id}/expire    open -> expired
  POST /v1/payment_intents                  create (confirm=true + payment_method pm_card_…)
  GET  /v1/payment_intents/{id}
  POST /v1/payment_intents/{id}/confirm
  POST /v1/payment_intents/{id}/capture     requires_capture only; partial with amount_to_capture
  POST /v1/payment_intents/{id}/cancel
  POST /v1/refunds, GET /v1/refunds/{id}, GET /v1/refunds (filters payment_intent, charge;
                                            limit 1-100, default 10; newest first; cursors
                                            starting_after / ending_before, has_more)
  GET  /v1/charges/{id}, GET /v1/events/{id}, GET /v1/events (filter type)
  Bodies are form-encoded with bracket nesting (decode_form); answers are
  JSON with a Request-Id header. Auth: "Authorization: Bearer <key>" or Basic
  with the key as user name; anything but the fake's secret_key (a live key
  included, unless the fake was built with it) is 401 invalid_request_error.
  Unknown parameters are 400 parameter_unknown (catches typos in the adapter).
  Parameter errors are 400 invalid_request_error with code parameter_missing,
  parameter_unknown, parameter_invalid_empty, parameter_invalid_integer,
  parameter_invalid_string (a bad enum value or format; a code of this fake),
  url_invalid, email_invalid or amount_too_small, and `param` = the bracket path.

Hosted Checkout page (the customer's browser; plain HTML forms, no JavaScript):
  GET  /c/pay/{cs_id}       card form: inputs cardnumber, exp (MM/YY), cvc,
                            a "Pay" button and a "Back" link to cancel_url
  POST /c/pay/{cs_id}       pay; success -> 303 to success_url with the literal
                            {CHECKOUT_SESSION_ID} replaced; decline -> the form
                            again with the decline message (session stays open)
  POST /c/pay/{cs_id}/3ds   action=approve|deny (the "3-D Secure" page)
  pay(session_id, card, three_ds) does exactly what the form POST does.
  Past expires_at the session expires (lazily, on any access, or by
  expire_due_sessions()): the page says "expired" and a POST does nothing.

Test cards (spaces allowed) and test PaymentMethods for the API:
  4242424242424242  pm_card_visa                          success
  4000000000000002  pm_card_chargeDeclined                card_declined / generic_decline
  4000000000009995  pm_card_chargeDeclinedInsufficientFunds  card_declined / insufficient_funds
  4000000000000069  pm_card_chargeDeclinedExpiredCard     expired_card
  4000000000000127  pm_card_chargeDeclinedIncorrectCvc    incorrect_cvc
  4000000000000119  pm_card_chargeDeclinedProcessingError processing_error
  4000000000005126  pm_card_refundFail                    succeeds; its refunds are pending,
                                                          then failed (expired_or_canceled_card)
  4000002500003155  pm_card_authenticationRequired        requires_action (3-D Secure)
  Any other number: "Your card number is invalid." (nothing changes).
  A decline sets the PaymentIntent's last_payment_error {type card_error,
  code, decline_code, message}, status requires_payment_method; through the
  API (confirm) it is 402 card_error.

Events sent to webhook_url (data.object is a copy of the object at that time):
  pay, automatic capture   checkout.session.completed, payment_intent.succeeded
  pay, manual capture      checkout.session.completed, payment_intent.amount_capturable_updated
  decline / 3DS deny       payment_intent.payment_failed
  session expires          checkout.session.expired (+ payment_intent.canceled
                           if a declined attempt had created an intent)
  capture                  payment_intent.succeeded
  cancel                   payment_intent.canceled
  refund                   refund.created, charge.refunded
  refund fails             refund.updated (status failed, data.previous_attributes)
  API confirm              as pay, without the checkout.session event
  event_order="reversed" reverses every batch of two or more (so on pay the
  payment_intent.* event comes before checkout.session.completed).
  Events from the hosted page and pay() are sent before the browser gets its
  answer; events from API calls are sent by a sender thread after the API
  answer (wait_webhooks() waits for it). One sender keeps the order.
  Signature: Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(webhook_secret as
  UTF-8, f"{t}." + raw body)> (stripe_signature / verify_stripe_signature).
  The body is JSON indented by 2 spaces: verify the raw bytes.
  A non-2xx answer is retried webhook_retries times (default 3).

Webhook driver:
  webhook_url           where events go (None: recorded in events_sent, not sent)
  webhook_mode          sig_mode of the automatic events (default "normal")
  duplicate_webhooks    send every automatic event twice (same id)
  event_order           "normal" | "reversed"
  hold_webhooks         queue events instead of sending; flush_webhooks() sends them
  send_event(type, obj, sig_mode=, duplicate=, url=)  any event type, e.g. unknown ones
  resend(event_id)      the stored event again, same body (late/duplicate delivery)
  events_sent           every event generated, in order
  sig_mode: normal | two_v1 (v1 from a rotated secret, then the right v1) |
  stale_t (t = now-301..600, valid HMAC) | future_t (t = now+600, valid HMAC:
  the SDK accepts it) | wrong_secret | no_v1 (only a v0) | with_v0 (right v1
  then a v0, as test mode sends) | no_header.

Idempotency (4.6): an Idempotency-Key on any POST (at most 255 chars, else
400) is stored with (method+path, params) once execution starts; the same key
and params replay the stored status and body (headers Idempotent-Replayed:
true, Original-Request); other params or another endpoint: 400
idempotency_error; while the first request is in flight: 409 idempotency_error
code idempotency_key_in_use. Parameter validation failures and unknown ids
(404) are not stored; errors from the object's state (e.g.
payment_intent_unexpected_state, amount_too_large, charge_already_refunded, a
402 decline) are stored, like any executed result. Keys are pruned when 24 h
old. The clock is `now` (a callable, default time.time), used for every
timestamp, expiry and pruning.

Modes (set_mode(name, count, endpoint); endpoint "send" = POST /v1/*,
"query" = GET /v1/*, "any"; used up by authenticated /v1 requests only):
  normal
  connect_refused         stop listening (set_mode("normal") listens again)
  rate_limit              429 + Retry-After (retry_after) + Stripe-Should-Retry: true,
                          code rate_limit; nothing executed
  error_500_no_retry      500 api_error + Stripe-Should-Retry: false; nothing
                          executed, but the 500 is stored under the idempotency
                          key (a retry with that key replays the 500)
  error_503               503 api_error; nothing executed or stored
  lock_409                409 code lock_timeout + Stripe-Should-Retry: true;
                          nothing executed or stored
  timeout_after_execute   execute (events go out), hold the answer
                          hang_seconds, close the connection without answering.
                          The key stays in flight during the hold (a retry
                          gets 409 idempotency_key_in_use), then the result is
                          stored and replayed; inflight_during_hold=False
                          stores it at once instead.
  malformed_json          execute and store normally, answer 200 "{not json"
  html_502                a proxy's HTML 502; nothing executed

Test hooks: pay(), authenticate_3ds(pi_id, approve), settle_refunds(),
expire_due_sessions(), wait_webhooks(); refund_fail_delay (seconds, default
0.5; None: only settle_refunds() fails pending refunds).
Control plane (standalone): POST /_fake/pay {session_id, card, three_ds},
/_fake/event {event_type, obj, sig_mode, duplicate, url}, /_fake/resend
{event_id}, /_fake/flush, /_fake/settle_refunds, /_fake/webhooks {webhook_url,
webhook_mode, event_order, hold_webhooks, duplicate_webhooks}, /_fake/clock
{offset}; GET /_fake/objects, /_fake/events_sent; plus the base's.

Decisions where the contract is open (marked in the code too):
  - Checkout sessions' payment_intent stays null until paid, even though the
    intent exists from the first card submitted.
  - payment_status is "paid" for automatic capture, "unpaid" for manual.
  - A refund on an intent that is not succeeded: 400 code
    payment_intent_unexpected_state.
  - Expiring a session cancels the intent of a declined attempt
    (cancellation_reason "abandoned").
  - Partial capture: charge.amount_captured = the amount captured; the rest
    is released, not counted in amount_refunded.
  - amounts must be >= 1 minor unit (no per-currency minimum charge).

Run alone: python3 stripe_fake.py --port N --secret-key sk_test_… --webhook-secret whsec_… --webhook-url URL
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import html
import json
import queue
import random
import re
import secrets
import string
import threading
import time
import urllib.parse
from typing import Any, Callable

from provider_fake import (ProviderFake, RecordedRequest, Reply, WebhookAttempt, html_reply,
                           json_reply, run_standalone)

API_VERSION = "2024-06-20"
IDEMPOTENCY_KEY_MAX = 255  # ✅ [S14]
IDEMPOTENCY_TTL = 24 * 3600  # ✅ [S14]
DAY = 24 * 3600
SIGNATURE_TOLERANCE = 300  # ✅ [S4]
ROTATED_SECRET = "whsec_rotated_old_secret"
WRONG_SECRET = "whsec_not_your_secret"

SUCCESS, DECLINE, REFUND_FAILS, THREE_DS = "success", "decline", "refund_fails", "three_ds"
# number -> (behaviour, (code, decline_code))
CARDS: dict[str, tuple[str, tuple[str, str] | None]] = {
    "4242424242424242": (SUCCESS, None),
    "4000000000000002": (DECLINE, ("card_declined", "generic_decline")),
    "4000000000009995": (DECLINE, ("card_declined", "insufficient_funds")),
    "4000000000000069": (DECLINE, ("expired_card", "expired_card")),
    "4000000000000127": (DECLINE, ("incorrect_cvc", "incorrect_cvc")),
    "4000000000000119": (DECLINE, ("processing_error", "processing_error")),
    "4000000000005126": (REFUND_FAILS, None),
    "4000002500003155": (THREE_DS, None),
}
PAYMENT_METHODS = {
    "pm_card_visa": "4242424242424242",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_refundFail": "4000000000005126",
    "pm_card_authenticationRequired": "4000002500003155",
}
DECLINE_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": "An error occurred while processing your card. Try again in a little bit.",
}
AUTH_FAILED_MESSAGE = ("We are unable to authenticate your payment method. Please choose a different "
                       "payment method and try again.")
INVALID_NUMBER_MESSAGE = "Your card number is invalid."
THREE_DS_MESSAGE = "3-D Secure authentication required"
EXPIRED_MESSAGE = "This Checkout Session has expired."
COMPLETE_MESSAGE = "This Checkout Session is already complete."
ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
                "vuv", "xaf", "xof", "xpf"}

CAPTURE_METHODS = ("automatic", "automatic_async", "manual")
CANCEL_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation", "requires_action")
SIG_MODES = ("normal", "two_v1", "stale_t", "future_t", "wrong_secret", "no_v1", "with_v0", "no_header")

SESSION_PARAMS = {"mode", "success_url", "cancel_url", "line_items", "client_reference_id", "metadata",
                  "locale", "expires_at", "payment_intent_data", "customer_email", "customer",
                  "payment_method_types", "expand", "submit_type", "billing_address_collection"}
PI_PARAMS = {"amount", "currency", "capture_method", "confirm", "payment_method", "metadata",
             "description", "automatic_payment_methods", "payment_method_types", "receipt_email",
             "statement_descriptor", "statement_descriptor_suffix", "return_url", "customer",
             "off_session", "expand"}

_ALNUM = string.ascii_letters + string.digits


def _rid(prefix: str, n: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(n))


# --------------------------------------------------------------------------
# signatures


def _v1(secret: str, body: bytes, t: int) -> str:
    return hmac.new(secret.encode("utf-8"), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def stripe_signature(secret: str, body: bytes, t: int) -> str:
    """The Stripe-Signature header value: t=<t>,v1=<hex HMAC-SHA256 keyed with
    the whsec_… string as UTF-8 (not decoded) over f"{t}." + raw body> ✅ [S4]."""
    return f"t={int(t)},v1={_v1(secret, body, int(t))}"


def verify_stripe_signature(header: str, body: bytes | str, secret: str, tolerance: float = SIGNATURE_TOLERANCE,
                            now: float | None = None) -> bool:
    """The SDK's check (4.8): items split on ",", each on "="; the first t;
    every v1 (v0 ignored); no t or no v1 -> False; any v1 equal (constant
    time) to the HMAC of f"{t}." + body; t older than now - tolerance ->
    False; a future t is accepted."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    try:
        items = [i.split("=", 2) for i in (header or "").split(",")]
        t = int([i[1] for i in items if i[0] == "t"][0])
        sigs = [i[1] for i in items if i[0] == "v1"]
    except (IndexError, ValueError):
        return False
    if not sigs:
        return False
    expected = _v1(secret, body, t)
    if not any(hmac.compare_digest(expected, s) for s in sigs):
        return False
    if tolerance and t < (time.time() if now is None else now) - tolerance:
        return False
    return True


# --------------------------------------------------------------------------
# form decoding and parameter checks

_NAME = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)\Z")


def decode_form(body: bytes | str) -> dict:
    """Form body with bracket nesting -> nested dicts; a level whose keys are
    all indexes (a[0], a[1] or a[]) becomes a list in index order.
    Raises ValueError on a malformed name or a name used both as a value and
    as a hash."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    root: dict = {}
    for name, value in urllib.parse.parse_qsl(body, keep_blank_values=True):
        m = _NAME.match(name)
        if not m:
            raise ValueError(f"Invalid parameter name: {name}")
        parts = [m.group(1)] + re.findall(r"\[([^\[\]]*)\]", m.group(2))
        cur = root
        for i, part in enumerate(parts):
            if part == "":  # a[] appends
                part = str(sum(1 for k in cur if k.isdigit()))
            if i == len(parts) - 1:
                if isinstance(cur.get(part), dict):
                    raise ValueError(f"Invalid parameter: {name} is also a hash")
                cur[part] = value
            else:
                nxt = cur.setdefault(part, {})
                if not isinstance(nxt, dict):
                    raise ValueError(f"Invalid parameter: {name} is also a value")
                cur = nxt
    return _listify(root)


def _listify(d: Any) -> Any:
    if not isinstance(d, dict):
        return d
    out = {k: _listify(v) for k, v in d.items()}
    if out and all(k.isdigit() for k in out):
        return [out[k] for k in sorted(out, key=int)]
    return out


class StripeError(Exception):
    """An API error answer. stored=True: it came from executing the request
    (the object's state), so it is stored under the idempotency key."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None, decline_code: str | None = None,
                 stored: bool = False, extra: dict | None = None, events: list | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code = status, message, type, code
        self.param, self.decline_code, self.stored = param, decline_code, stored
        self.extra = extra or {}
        self.events = events or []
        self.headers = headers or {}

    def body(self, request_id: str | None = None) -> dict:
        e: dict[str, Any] = {}
        if self.code:
            e["code"] = self.code
        if self.decline_code:
            e["decline_code"] = self.decline_code
        if self.code:
            e["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        e["message"] = self.message
        if self.param:
            e["param"] = self.param
        e.update(self.extra)
        if request_id:
            e["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}"
        e["type"] = self.type
        return {"error": e}


def _bad(message: str, param: str | None = None, code: str | None = "parameter_invalid_string",
         status: int = 400) -> StripeError:
    return StripeError(status, message, code=code, param=param)


class _Params:
    """One level of decoded parameters; errors name the full bracket path."""

    def __init__(self, d: Any, prefix: str = ""):
        if not isinstance(d, dict):
            raise _bad(f"Invalid hash: {prefix}", prefix or None)
        self.d, self.prefix = d, prefix

    def path(self, k: str) -> str:
        return f"{self.prefix}[{k}]" if self.prefix else k

    def allow(self, names: set[str]) -> None:
        for k in self.d:
            if k not in names:
                raise _bad(f"Received unknown parameter: {self.path(k)}", self.path(k), "parameter_unknown")

    def has(self, k: str) -> bool:
        return k in self.d

    def str(self, k: str, *, required: bool = False, choices=None, max_len: int | None = None) -> str | None:
        p = self.path(k)
        v = self.d.get(k)
        if v is None:
            if required:
                raise _bad(f"Missing required param: {p}.", p, "parameter_missing")
            return None
        if not isinstance(v, str):
            raise _bad(f"Invalid string: {p} must be a string, not a hash or an array", p)
        if v == "":
            if required:
                raise _bad(f"You passed an empty string for '{p}'. We assume empty values are an attempt to "
                           f"unset a parameter; however '{p}' cannot be unset. You should remove '{p}' from "
                           "your request or supply a non-empty value.", p, "parameter_invalid_empty")
            return None
        if choices is not None and v not in choices:
            raise _bad(f"Invalid {p}: must be one of {', '.join(choices)}", p)
        if max_len is not None and len(v) > max_len:
            raise _bad(f"Invalid {p}: must be at most {max_len} characters", p)
        return v

    def int(self, k: str, *, required: bool = False, min: int | None = None, max: int | None = None) -> int | None:
        v = self.str(k, required=required)
        if v is None:
            return None
        p = self.path(k)
        if not re.fullmatch(r"-?\d{1,18}", v):
            raise _bad(f"Invalid integer: {v}", p, "parameter_invalid_integer")
        n = int(v)
        if min is not None and n < min:
            raise _bad(f"This value must be greater than or equal to {min}.", p, "parameter_invalid_integer")
        if max is not None and n > max:
            raise _bad(f"This value must be less than or equal to {max}.", p, "parameter_invalid_integer")
        return n

    def bool(self, k: str) -> bool | None:
        v = self.str(k)
        if v is None:
            return None
        if v not in ("true", "false"):
            raise _bad(f"Invalid boolean: {v}", self.path(k))
        return v == "true"

    def currency(self, k: str, *, required: bool = False) -> str | None:
        v = self.str(k, required=required)
        if v is None:
            return None
        if not re.fullmatch(r"[A-Za-z]{3}", v):
            raise _bad(f"Invalid currency: {v}. Stripe currently supports these currencies: usd, eur, …",
                       self.path(k))
        return v.lower()

    def url(self, k: str, *, required: bool = False) -> str | None:
        v = self.str(k, required=required, max_len=5000)
        if v is None:
            return None
        u = urllib.parse.urlsplit(v)
        if u.scheme not in ("http", "https") or not u.netloc:
            raise _bad("Not a valid URL", self.path(k), "url_invalid")
        return v

    def sub(self, k: str, *, required: bool = False) -> _Params | None:
        v = self.d.get(k)
        p = self.path(k)
        if v is None:
            if required:
                raise _bad(f"Missing required param: {p}.", p, "parameter_missing")
            return None
        if not isinstance(v, dict):
            raise _bad(f"Invalid hash: {p}", p)
        return _Params(v, p)

    def items(self, k: str, *, required: bool = False) -> list[_Params]:
        v = self.d.get(k)
        p = self.path(k)
        if v is None or v == [] or v == "":
            if required:
                raise _bad(f"Missing required param: {p}.", p, "parameter_missing")
            return []
        if not isinstance(v, list):
            raise _bad(f"Invalid array: {p}", p)
        return [_Params(x, f"{p}[{i}]") for i, x in enumerate(v)]

    def strings(self, k: str) -> list[str]:
        v = self.d.get(k)
        if v is None:
            return []
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise _bad(f"Invalid array: {self.path(k)}", self.path(k))
        return v

    def metadata(self, k: str = "metadata") -> dict[str, str]:
        """≤50 keys of ≤40 chars, values ≤500 chars; empty values are dropped
        (they unset a key)."""
        v = self.d.get(k)
        p = self.path(k)
        if v is None or v == "":
            return {}
        if not isinstance(v, dict):
            raise _bad(f"Invalid hash: {p}", p)
        if len(v) > 50:
            raise _bad(f"Invalid {p}: at most 50 keys", p)
        out = {}
        for mk, mv in v.items():
            if not isinstance(mv, str):
                raise _bad(f"Invalid {p}[{mk}]: metadata values must be strings", f"{p}[{mk}]")
            if len(mk) > 40:
                raise _bad(f"Invalid {p}: keys must be at most 40 characters", f"{p}[{mk}]")
            if len(mv) > 500:
                raise _bad(f"Invalid {p}[{mk}]: values must be at most 500 characters", f"{p}[{mk}]")
            if mv != "":
                out[mk] = mv
        return out


def _fmt_amount(amount: int, currency: str) -> str:
    if currency in ZERO_DECIMAL:
        return f"{currency.upper()} {amount}"
    return f"{currency.upper()} {amount // 100}.{amount % 100:02d}"


class _Idem:
    def __init__(self, method: str, path: str, params: dict, created: float, request_id: str):
        self.method, self.path, self.params = method, path, params
        self.created, self.request_id = created, request_id
        self.status: int | None = None  # None while in flight
        self.body = b""
        self.headers: dict[str, str] = {}


class _Job:
    def __init__(self, items: list):
        self.items = items  # (event_id, url, sig_mode, duplicate)
        self.done = threading.Event()
        self.attempts: list[WebhookAttempt] = []


# --------------------------------------------------------------------------
# the fake


class StripeFake(ProviderFake):
    NAME = "stripe"
    MODES = frozenset({
        "normal", "connect_refused", "rate_limit", "error_500_no_retry", "error_503", "lock_409",
        "timeout_after_execute", "malformed_json", "html_502",
    })
    WEBHOOK_USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"

    ROUTES = [  # (method, path pattern, handler name)
        ("POST", r"/v1/checkout/sessions", "_create_session"),
        ("GET", r"/v1/checkout/sessions", "_list_sessions"),
        ("GET", r"/v1/checkout/sessions/([^/]+)", "_get_session"),
        ("POST", r"/v1/checkout/sessions/([^/]+)/expire", "_expire_session"),
        ("POST", r"/v1/payment_intents", "_create_pi"),
        ("GET", r"/v1/payment_intents/([^/]+)", "_get_pi"),
        ("POST", r"/v1/payment_intents/([^/]+)/confirm", "_confirm_pi"),
        ("POST", r"/v1/payment_intents/([^/]+)/capture", "_capture_pi"),
        ("POST", r"/v1/payment_intents/([^/]+)/cancel", "_cancel_pi"),
        ("POST", r"/v1/refunds", "_create_refund"),
        ("GET", r"/v1/refunds", "_list_refunds"),
        ("GET", r"/v1/refunds/([^/]+)", "_get_refund"),
        ("GET", r"/v1/charges/([^/]+)", "_get_charge"),
        ("GET", r"/v1/events", "_list_events"),
        ("GET", r"/v1/events/([^/]+)", "_get_event"),
    ]

    def __init__(self, *, secret_key: str = "sk_test_fake", webhook_secret: str = "whsec_fake", port: int = 0,
                 hang_seconds: float = 30.0, webhook_url: str | None = None, min_expiry_seconds: int = 1800,
                 retry_after: int = 1, refund_fail_delay: float | None = 0.5, api_version: str = API_VERSION,
                 **kw):
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.min_expiry_seconds = min_expiry_seconds
        self.retry_after = retry_after
        self.refund_fail_delay = refund_fail_delay
        self.api_version = api_version
        self.livemode = secret_key.startswith("sk_live_")
        self.now: Callable[[], float] = time.time
        # webhook driver
        self.webhook_mode = "normal"
        self.duplicate_webhooks = False
        self.event_order = "normal"
        self.hold_webhooks = False
        self.inflight_during_hold = True
        self.events_sent: list[dict] = []
        self._event_bodies: dict[str, bytes] = {}
        self._held: list[tuple] = []
        self._outbox: queue.Queue = queue.Queue()
        # objects (as the API returns them) and what only the fake knows
        self.sessions: dict[str, dict] = {}
        self.payment_intents: dict[str, dict] = {}
        self.charges: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self._cs_info: dict[str, dict] = {}  # line items, payment_intent_data, the intent of the attempts
        self._pi_info: dict[str, dict] = {}  # checkout session, refund_fails
        self.idempotency: dict[str, _Idem] = {}
        self._ctx = threading.local()
        kw.setdefault("webhook_retries", 3)
        super().__init__(port=port, hang_seconds=hang_seconds, **kw)
        threading.Thread(target=self._send_loop, daemon=True, name="stripe-fake-webhooks").start()

    # ---- small helpers ------------------------------------------------------

    @property
    def _test(self) -> str:
        return "live" if self.livemode else "test"

    def _request_ctx(self) -> dict:
        return getattr(self._ctx, "value", None) or {"id": None, "idempotency_key": None}

    def _api_key(self, req: RecordedRequest) -> str | None:
        auth = req.headers.get("authorization", "")
        scheme, _, cred = auth.partition(" ")
        if scheme.lower() == "bearer":
            return cred.strip() or None
        if scheme.lower() == "basic":
            try:
                return base64.b64decode(cred.strip(), validate=True).decode().partition(":")[0] or None
            except (ValueError, UnicodeDecodeError):
                return None
        return None

    def _find(self, store: dict, oid: str, what: str, param: str) -> dict:
        obj = store.get(oid)
        if obj is None:
            raise StripeError(404, f"No such {what}: '{oid}'", code="resource_missing", param=param)
        return obj

    def _render(self, obj: dict, expand: list[str]) -> dict:
        out = copy.deepcopy(obj)
        stores = {"pi_": self.payment_intents, "ch_": self.charges, "re_": self.refunds, "cs_": self.sessions}
        for field in expand:
            v = out.get(field)
            if isinstance(v, str):
                for prefix, store in stores.items():
                    if v.startswith(prefix) and v in store:
                        out[field] = copy.deepcopy(store[v])
        return out

    # ---- HTTP entry ---------------------------------------------------------

    def handle(self, req: RecordedRequest) -> Reply:
        self._ctx.value = None
        if req.path.startswith("/c/pay/"):
            return self._page(req)
        if not req.path.startswith("/v1/"):
            return Reply(404, b"Not Found\n", content_type="text/plain")
        rid = _rid("req_", 14)
        key = self._api_key(req)
        if key is None or not hmac.compare_digest(key.encode(), self.secret_key.encode()):
            if key is None:
                msg = ("You did not provide an API key. You need to provide your API key in the Authorization "
                       "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').")
            else:
                msg = f"Invalid API Key provided: {key[:8]}{'*' * 8}{key[-4:] if len(key) > 12 else ''}"
            return self._error_reply(StripeError(401, msg, headers={"WWW-Authenticate": 'Basic realm="Stripe"'}),
                                     rid)
        endpoint = "query" if req.method in ("GET", "HEAD") else "send"
        mode = self.take_mode(endpoint)
        rejected = self._rejecting_mode(mode, rid)
        if rejected is not None:
            return rejected
        self._ctx.value = {"id": rid, "idempotency_key": None}
        for method, pattern, name in self.ROUTES:
            m = re.fullmatch(pattern, req.path)
            if m and method == ("GET" if req.method == "HEAD" else req.method):
                fn = getattr(self, name)
                if endpoint == "send":
                    return self._post(req, rid, mode, fn, m.groups())
                return self._get(req, rid, mode, fn, m.groups())
        return self._error_reply(StripeError(
            404, f"Unrecognized request URL ({req.method}: {req.path}). Please see https://stripe.com/docs "
                 "or we can help at https://support.stripe.com/."), rid)

    def _headers(self, rid: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Request-Id": rid, "Stripe-Version": self.api_version, "Cache-Control": "no-cache, no-store",
                **(extra or {})}

    def _error_reply(self, e: StripeError, rid: str) -> Reply:
        return json_reply(e.status, e.body(rid), self._headers(rid, e.headers))

    def _rejecting_mode(self, mode: str, rid: str) -> Reply | None:
        if mode == "html_502":
            return html_reply(502)
        if mode == "rate_limit":
            return json_reply(429, {"error": {"type": "invalid_request_error", "code": "rate_limit",
                                              "message": "Too many requests"}},
                              self._headers(rid, {"Retry-After": str(self.retry_after),
                                                  "Stripe-Should-Retry": "true"}))
        if mode == "error_503":
            return json_reply(503, {"error": {"type": "api_error", "message": "The service is temporarily "
                                              "unavailable. Please try again later."}}, self._headers(rid))
        if mode == "lock_409":
            return json_reply(409, {"error": {
                "type": "invalid_request_error", "code": "lock_timeout",
                "message": "This object cannot be accessed right now because another API request or Stripe "
                           "process is currently accessing it. If you see this error intermittently, retry "
                           "the request."}}, self._headers(rid, {"Stripe-Should-Retry": "true"}))
        return None

    def _post(self, req: RecordedRequest, rid: str, mode: str, fn, groups) -> Reply:
        ikey = req.headers.get("idempotency-key")
        ctype = req.headers.get("content-type", "")
        try:
            if req.body and "application/x-www-form-urlencoded" not in ctype:
                raise _bad("Invalid request: POST bodies must be application/x-www-form-urlencoded", None, None)
            try:
                params = decode_form(req.body)
            except ValueError as e:
                raise _bad(str(e), None, None)
            if ikey is not None and len(ikey) > IDEMPOTENCY_KEY_MAX:
                raise _bad(f"Invalid Idempotency-Key: keys for idempotent requests can be at most "
                           f"{IDEMPOTENCY_KEY_MAX} characters long", None, None)
        except StripeError as e:
            return self._error_reply(e, rid)
        ent = None
        if ikey is not None:
            with self.lock:
                self._prune_idempotency()
                ent = self.idempotency.get(ikey)
                if ent is not None:
                    if (ent.method, ent.path) != (req.method, req.path):
                        return self._error_reply(StripeError(
                            400, f"Keys for idempotent requests can only be used for the same endpoint they were "
                                 f"first used for ('{ent.method} {ent.path}' vs '{req.method} {req.path}'). Try "
                                 f"using a key other than '{ikey}' if you meant to execute a different request.",
                            type="idempotency_error"), rid)
                    if ent.params != params:
                        return self._error_reply(StripeError(
                            400, "Keys for idempotent requests can only be used with the same parameters they "
                                 f"were first used with. Try using a key other than '{ikey}' if you meant to "
                                 "execute a different request.", type="idempotency_error"), rid)
                    if ent.status is None:
                        return self._error_reply(StripeError(
                            409, "There is currently another in-progress request using this Idempotent Key "
                                 "(that probably means you submitted twice, and the other request is still "
                                 "going through): " + ikey + ". Please try again later.",
                            type="idempotency_error", code="idempotency_key_in_use"), rid)
                    self.events.add("idempotent_replay", key=ikey, path=req.path, status=ent.status)
                    return Reply(ent.status, ent.body, self._headers(rid, {
                        **ent.headers, "Idempotent-Replayed": "true", "Original-Request": ent.request_id}))
                ent = _Idem(req.method, req.path, params, self.now(), rid)
                self.idempotency[ikey] = ent
        self._ctx.value = {"id": rid, "idempotency_key": ikey}
        extra: dict[str, str] = {}
        events: list[dict] = []
        try:
            if mode == "error_500_no_retry":
                status, body = 500, {"error": {"type": "api_error", "message": "An unknown error occurred",
                                               "request_log_url": f"https://dashboard.stripe.com/{self._test}"
                                                                  f"/logs/{rid}"}}
                extra = {"Stripe-Should-Retry": "false"}
            else:
                status, body, events = fn(_Params(params), *groups)
        except StripeError as e:
            if not e.stored:
                if ent is not None:
                    with self.lock:
                        self.idempotency.pop(ikey, None)
                return self._error_reply(e, rid)
            status, body, events, extra = e.status, e.body(rid), e.events, e.headers
        raw = json.dumps(body, indent=2).encode()

        def store():
            if ent is not None:
                with self.lock:
                    ent.body, ent.headers, ent.status = raw, dict(extra), status

        self.events.add("executed", path=req.path, status=status, idempotency_key=ikey)
        if mode == "timeout_after_execute":
            if not self.inflight_during_hold:
                store()
            self._dispatch(events, wait=False)
            self.hang()
            store()
            return Reply(0, close=True)
        store()
        self._dispatch(events, wait=False)
        if mode == "malformed_json":
            return Reply(200, b"{not json", self._headers(rid))
        return Reply(status, raw, self._headers(rid, extra))

    def _get(self, req: RecordedRequest, rid: str, mode: str, fn, groups) -> Reply:
        try:
            try:
                params = decode_form(urllib.parse.urlsplit(req.target).query)
            except ValueError as e:
                raise _bad(str(e), None, None)
            status, body, events = fn(_Params(params), *groups)
        except StripeError as e:
            return self._error_reply(e, rid)
        self._dispatch(events, wait=False)
        if mode == "timeout_after_execute":
            self.hang()
            return Reply(0, close=True)
        if mode == "malformed_json":
            return Reply(200, b"{not json", self._headers(rid))
        return Reply(status, json.dumps(body, indent=2).encode(), self._headers(rid))

    def _prune_idempotency(self) -> None:
        cutoff = self.now() - IDEMPOTENCY_TTL
        for k in [k for k, e in self.idempotency.items() if e.status is not None and e.created <= cutoff]:
            del self.idempotency[k]

    # ---- Checkout Sessions ------------------------------------------------

    def _create_session(self, p: _Params):
        p.allow(SESSION_PARAMS)
        mode = p.str("mode", required=True)
        if mode != "payment":
            raise _bad(f"Invalid mode: this fake supports mode=payment only, not {mode!r}", "mode")
        success_url = p.url("success_url", required=True)
        cancel_url = p.url("cancel_url", required=True)
        lines, total, currency = [], 0, None
        for it in p.items("line_items", required=True):
            it.allow({"price_data", "quantity", "price"})
            if it.has("price"):
                price = it.str("price")
                raise StripeError(400, f"No such price: '{price}' (this fake takes price_data only)",
                                  code="resource_missing", param=it.path("price"))
            pd = it.sub("price_data", required=True)
            pd.allow({"currency", "unit_amount", "product_data"})
            cur = pd.currency("currency", required=True)
            unit = pd.int("unit_amount", required=True, min=0, max=99999999)
            prod = pd.sub("product_data", required=True)
            prod.allow({"name", "description", "images", "metadata"})
            name = prod.str("name", required=True, max_len=5000)
            prod.str("description")
            prod.strings("images")
            prod.metadata()
            qty = it.int("quantity", required=True, min=1, max=999999)
            if currency is not None and cur != currency:
                raise _bad("All line items must have the same currency", pd.path("currency"))
            currency = cur
            total += unit * qty
            lines.append({"name": name, "unit_amount": unit, "quantity": qty, "currency": cur})
        if total < 1:
            raise _bad("The Checkout Session's total amount must be greater than zero.", "line_items",
                       "amount_too_small")
        client_ref = p.str("client_reference_id", max_len=200)
        metadata = p.metadata()
        locale = p.str("locale")
        if locale is not None and locale != "auto" and not re.fullmatch(r"[a-z]{2}(-([A-Z]{2}|419))?", locale):
            raise _bad(f"Invalid locale: {locale}", "locale")
        email = p.str("customer_email", max_len=800)
        if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            raise _bad(f"Invalid email address: {email}", "customer_email", "email_invalid")
        p.str("customer")
        p.strings("payment_method_types")
        p.strings("expand")
        p.str("submit_type", choices=("auto", "book", "donate", "pay"))
        p.str("billing_address_collection", choices=("auto", "required"))
        now = int(self.now())
        expires_at = p.int("expires_at")
        if expires_at is None:
            expires_at = now + DAY
        elif expires_at < now + self.min_expiry_seconds or expires_at > now + DAY:
            raise _bad(f"The `expires_at` timestamp must be at least {self.min_expiry_seconds // 60} minutes "
                       "and at most 24 hours after the Checkout Session is created.", "expires_at",
                       "parameter_invalid_integer")
        pid = p.sub("payment_intent_data") or _Params({}, "payment_intent_data")
        pid.allow({"capture_method", "metadata", "description", "statement_descriptor",
                   "statement_descriptor_suffix", "receipt_email"})
        capture = pid.str("capture_method", choices=CAPTURE_METHODS) or "automatic"
        pi_md = pid.metadata()
        pi_desc = pid.str("description", max_len=1000)
        pid.str("statement_descriptor", max_len=22)
        pid.str("statement_descriptor_suffix", max_len=22)
        pid.str("receipt_email")

        cs_id = _rid(f"cs_{self._test}_", 58)
        cs = {
            "id": cs_id, "object": "checkout.session",
            "amount_subtotal": total, "amount_total": total,
            "cancel_url": cancel_url, "client_reference_id": client_ref,
            "created": now, "currency": currency, "customer": None, "customer_email": email,
            "expires_at": expires_at, "livemode": self.livemode, "locale": locale,
            "metadata": metadata, "mode": "payment", "payment_intent": None,
            "payment_method_types": ["card"], "payment_status": "unpaid", "status": "open",
            "success_url": success_url, "url": f"{self.base_url}/c/pay/{cs_id}",
        }
        with self.lock:
            self.sessions[cs_id] = cs
            self._cs_info[cs_id] = {"lines": lines, "capture_method": capture, "pi_metadata": pi_md,
                                    "pi_description": pi_desc, "pi": None}
            out = copy.deepcopy(cs)
        self.events.add("session_created", id=cs_id, amount=total, currency=currency)
        return 200, out, []

    def _get_session(self, p: _Params, cs_id: str):
        expand = p.strings("expand")
        with self.lock:
            s = self._find(self.sessions, cs_id, "checkout.session", "session")
            events = self._expire_if_due(s)
            return 200, self._render(s, expand), events

    def _list_sessions(self, p: _Params):
        pi_id = p.str("payment_intent")
        limit = p.int("limit", min=1, max=100) or 10
        with self.lock:
            rows = [copy.deepcopy(s) for s in reversed(list(self.sessions.values()))
                    if pi_id is None or s["payment_intent"] == pi_id]
        return 200, self._list(rows, limit, "/v1/checkout/sessions"), []

    def _expire_session(self, p: _Params, cs_id: str):
        p.allow({"expand"})
        with self.lock:
            s = self._find(self.sessions, cs_id, "checkout.session", "session")
            events = self._expire_if_due(s)
            if s["status"] != "open":
                raise StripeError(400, f"Only Checkout Sessions with a status in [\"open\"] can be expired. "
                                       f"This Checkout Session has a status of {s['status']}.",
                                  stored=True, events=events)
            events += self._expire(s)
            return 200, copy.deepcopy(s), events

    def _expire(self, s: dict) -> list[dict]:
        """open -> expired; the intent of a declined attempt is canceled
        (decision: cancellation_reason "abandoned")."""
        s["status"] = "expired"
        batch = [("checkout.session.expired", s)]
        pi = self.payment_intents.get(self._cs_info[s["id"]]["pi"] or "")
        if pi is not None and pi["status"] in ("requires_payment_method", "requires_action",
                                               "requires_confirmation"):
            self._pi_cancel(pi, "abandoned")
            batch.append(("payment_intent.canceled", pi))
        self.events.add("session_expired", id=s["id"])
        return self._make_events(batch)

    def _expire_if_due(self, s: dict) -> list[dict]:
        if s["status"] == "open" and self.now() >= s["expires_at"]:
            return self._expire(s)
        return []

    def expire_due_sessions(self) -> list[WebhookAttempt]:
        """Expire every open session past its expires_at (the clock hook)."""
        with self.lock:
            events = [e for s in list(self.sessions.values()) for e in self._expire_if_due(s)]
        return self._dispatch(events, wait=True)

    # ---- PaymentIntents ---------------------------------------------------

    def _new_pi(self, amount: int, currency: str, capture: str, metadata: dict, description: str | None,
                checkout_session: str | None) -> dict:
        pi_id = _rid("pi_")
        pi = {
            "id": pi_id, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
            "amount_received": 0, "canceled_at": None, "cancellation_reason": None,
            "capture_method": capture, "client_secret": f"{pi_id}_secret_{_rid('', 25)}",
            "confirmation_method": "automatic", "created": int(self.now()), "currency": currency,
            "description": description, "last_payment_error": None, "latest_charge": None,
            "livemode": self.livemode, "metadata": metadata, "next_action": None, "payment_method": None,
            "payment_method_types": ["card"], "status": "requires_payment_method",
        }
        self.payment_intents[pi_id] = pi
        self._pi_info[pi_id] = {"checkout_session": checkout_session, "refund_fails": False, "number": None}
        self.events.add("payment_intent_created", id=pi_id, amount=amount)
        return pi

    def _create_pi(self, p: _Params):
        p.allow(PI_PARAMS)
        amount = p.int("amount", required=True, min=1, max=99999999)
        currency = p.currency("currency", required=True)
        capture = p.str("capture_method", choices=CAPTURE_METHODS) or "automatic"
        confirm = p.bool("confirm") or False
        pm = p.str("payment_method")
        if pm is not None and pm not in PAYMENT_METHODS:
            raise StripeError(400, f"No such PaymentMethod: '{pm}'", code="resource_missing",
                              param="payment_method")
        if confirm and pm is None:
            raise _bad("Missing required param: payment_method (needed with confirm=true).", "payment_method",
                       "parameter_missing")
        metadata = p.metadata()
        description = p.str("description", max_len=1000)
        apm = p.sub("automatic_payment_methods")
        if apm is not None:
            apm.allow({"enabled", "allow_redirects"})
            apm.bool("enabled")
            apm.str("allow_redirects", choices=("always", "never"))
        p.strings("payment_method_types")
        p.strings("expand")
        for k in ("receipt_email", "statement_descriptor", "statement_descriptor_suffix", "return_url",
                  "customer", "off_session"):
            p.str(k)
        with self.lock:
            pi = self._new_pi(amount, currency, capture, metadata, description, None)
            if pm is not None:
                pi["status"] = "requires_confirmation"
                self._pi_info[pi["id"]]["number"] = PAYMENT_METHODS[pm]
            kind, events = None, []
            if confirm:
                kind, events = self._confirm(pi, PAYMENT_METHODS[pm])
            return self._pi_answer(pi, kind, events, p.strings("expand"))

    def _pi_answer(self, pi: dict, kind: str | None, events: list[dict], expand: list[str]):
        """200 with the intent, or 402 card_error after a decline (stored)."""
        if kind == DECLINE:
            err = pi["last_payment_error"]
            raise StripeError(402, err["message"], type="card_error", code=err["code"],
                              decline_code=err.get("decline_code"), stored=True, events=events,
                              extra={"charge": err["charge"], "payment_intent": copy.deepcopy(pi)})
        return 200, self._render(pi, expand), events

    def _get_pi(self, p: _Params, pi_id: str):
        expand = p.strings("expand")
        with self.lock:
            pi = self._find(self.payment_intents, pi_id, "payment_intent", "intent")
            return 200, self._render(pi, expand), []

    def _confirm_pi(self, p: _Params, pi_id: str):
        p.allow({"payment_method", "return_url", "expand", "off_session"})
        pm = p.str("payment_method")
        if pm is not None and pm not in PAYMENT_METHODS:
            raise StripeError(400, f"No such PaymentMethod: '{pm}'", code="resource_missing",
                              param="payment_method")
        p.str("return_url")
        with self.lock:
            pi = self._find(self.payment_intents, pi_id, "payment_intent", "intent")
            info = self._pi_info[pi_id]
            if pi["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
                raise self._unexpected_state(pi, "confirmed", ("requires_payment_method",
                                                               "requires_confirmation", "requires_action"))
            number = PAYMENT_METHODS[pm] if pm else info["number"]
            if number is None:
                raise StripeError(400, "You cannot confirm this PaymentIntent because it's missing a payment "
                                       "method. To confirm the PaymentIntent with cus_..., specify a payment "
                                       "method attached to this customer along with the customer ID.",
                                  code="payment_intent_unexpected_state", stored=True,
                                  extra={"payment_intent": copy.deepcopy(pi)})
            kind, events = self._confirm(pi, number)
            return self._pi_answer(pi, kind, events, p.strings("expand"))

    def _confirm(self, pi: dict, number: str) -> tuple[str, list[dict]]:
        """Run a card on an API intent: (the card's behaviour, the events to send)."""
        kind = self._charge(pi, number)
        if kind == DECLINE:
            return kind, self._make_events([("payment_intent.payment_failed", pi)])
        if kind == THREE_DS:
            return kind, []
        return kind, self._make_events([(self._success_event_type(pi), pi)])

    @staticmethod
    def _success_event_type(pi: dict) -> str:
        return "payment_intent.succeeded" if pi["status"] == "succeeded" else \
            "payment_intent.amount_capturable_updated"

    def _charge(self, pi: dict, number: str) -> str:
        """Attempt `number` on the intent (lock held): the card's behaviour."""
        kind, err = CARDS[number]
        info = self._pi_info[pi["id"]]
        info["number"] = number
        pm_id = _rid("pm_")
        pi["payment_method"] = pm_id
        pi["next_action"] = None
        if kind == THREE_DS:
            pi["status"] = "requires_action"
            pi["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect"}}
            self.events.add("requires_action", id=pi["id"])
            return kind
        ok = kind in (SUCCESS, REFUND_FAILS)
        auto = pi["capture_method"] != "manual"
        ch_id = _rid("ch_")
        code, decline = err if err else (None, None)
        ch = {
            "id": ch_id, "object": "charge", "amount": pi["amount"],
            "amount_captured": pi["amount"] if ok and auto else 0, "amount_refunded": 0,
            "captured": ok and auto, "created": int(self.now()), "currency": pi["currency"],
            "failure_code": code, "failure_message": DECLINE_MESSAGES[decline] if decline else None,
            "livemode": self.livemode, "metadata": dict(pi["metadata"]),
            "outcome": ({"network_status": "approved_by_network", "reason": None, "type": "authorized",
                         "seller_message": "Payment complete."} if ok else
                        {"network_status": "declined_by_network", "reason": decline, "type": "issuer_declined",
                         "seller_message": "The bank did not return any further details with this decline."}),
            "paid": ok, "payment_intent": pi["id"], "payment_method": pm_id,
            "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": number[-4:],
                                                                "exp_month": 12, "exp_year": 2034}},
            "refunded": False, "status": "succeeded" if ok else "failed",
        }
        self.charges[ch_id] = ch
        pi["latest_charge"] = ch_id
        if not ok:
            pi["status"] = "requires_payment_method"
            pi["last_payment_error"] = {
                "type": "card_error", "code": code, "decline_code": decline,
                "message": DECLINE_MESSAGES[decline], "charge": ch_id,
                "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
                "payment_method": {"id": pm_id, "object": "payment_method", "type": "card",
                                   "card": {"brand": "visa", "last4": number[-4:]}},
            }
            self.events.add("declined", id=pi["id"], code=code, decline_code=decline)
            return DECLINE
        self._succeed(pi)
        info["refund_fails"] = kind == REFUND_FAILS
        return kind

    def _succeed(self, pi: dict) -> None:
        pi["last_payment_error"] = None
        pi["next_action"] = None
        if pi["capture_method"] == "manual":
            pi["status"] = "requires_capture"
            pi["amount_capturable"] = pi["amount"]
        else:
            pi["status"] = "succeeded"
            pi["amount_received"] = pi["amount"]
        self.events.add("authorized" if pi["status"] == "requires_capture" else "succeeded", id=pi["id"])

    def _auth_failed(self, pi: dict) -> None:
        pi["status"] = "requires_payment_method"
        pi["next_action"] = None
        pi["last_payment_error"] = {
            "type": "invalid_request_error", "code": "payment_intent_authentication_failure",
            "message": AUTH_FAILED_MESSAGE,
            "doc_url": "https://stripe.com/docs/error-codes/payment-intent-authentication-failure",
        }
        self.events.add("declined", id=pi["id"], code="payment_intent_authentication_failure")

    def _unexpected_state(self, pi: dict, verb: str, allowed) -> StripeError:
        return StripeError(
            400, f"This PaymentIntent could not be {verb} because it has a status of {pi['status']}. Only a "
                 f"PaymentIntent with one of the following statuses may be {verb}: {', '.join(allowed)}.",
            code="payment_intent_unexpected_state", stored=True,
            extra={"payment_intent": copy.deepcopy(pi)})

    def _capture_pi(self, p: _Params, pi_id: str):
        p.allow({"amount_to_capture", "expand", "metadata", "final_capture"})
        amount = p.int("amount_to_capture", min=1)
        metadata = p.metadata()
        p.bool("final_capture")
        with self.lock:
            pi = self._find(self.payment_intents, pi_id, "payment_intent", "intent")
            if pi["status"] != "requires_capture":
                raise self._unexpected_state(pi, "captured", ("requires_capture",))
            if amount is None:
                amount = pi["amount_capturable"]
            if amount > pi["amount_capturable"]:
                raise StripeError(400, f"The amount_to_capture ({amount}) must be less than or equal to the "
                                       f"amount_capturable ({pi['amount_capturable']}).",
                                  code="amount_too_large", param="amount_to_capture", stored=True)
            pi["amount_received"] = amount  # the rest is released
            pi["amount_capturable"] = 0
            pi["status"] = "succeeded"
            pi["metadata"].update(metadata)
            ch = self.charges[pi["latest_charge"]]
            ch["captured"], ch["amount_captured"] = True, amount
            self.events.add("captured", id=pi_id, amount=amount)
            events = self._make_events([("payment_intent.succeeded", pi)])
            return 200, self._render(pi, p.strings("expand")), events

    def _pi_cancel(self, pi: dict, reason: str | None) -> None:
        pi["status"] = "canceled"
        pi["cancellation_reason"] = reason
        pi["canceled_at"] = int(self.now())
        pi["amount_capturable"] = 0
        pi["next_action"] = None
        self.events.add("canceled", id=pi["id"], reason=reason)

    def _cancel_pi(self, p: _Params, pi_id: str):
        p.allow({"cancellation_reason", "expand"})
        reason = p.str("cancellation_reason", choices=CANCEL_REASONS)
        with self.lock:
            pi = self._find(self.payment_intents, pi_id, "payment_intent", "intent")
            if self._pi_info[pi_id]["checkout_session"] and pi["status"] != "requires_capture":
                raise StripeError(
                    400, "You cannot cancel this PaymentIntent because it was created by Checkout and has a "
                         f"status of {pi['status']}. Expire the Checkout Session instead.",
                    code="payment_intent_unexpected_state", stored=True,
                    extra={"payment_intent": copy.deepcopy(pi)})
            if pi["status"] not in CANCELABLE:
                raise self._unexpected_state(pi, "canceled", CANCELABLE)
            self._pi_cancel(pi, reason)
            events = self._make_events([("payment_intent.canceled", pi)])
            return 200, self._render(pi, p.strings("expand")), events

    # ---- Refunds ----------------------------------------------------------

    def _refunded(self, ch_id: str) -> int:
        return sum(r["amount"] for r in self.refunds.values()
                   if r["charge"] == ch_id and r["status"] not in ("failed", "canceled"))

    def _create_refund(self, p: _Params):
        p.allow({"payment_intent", "charge", "amount", "reason", "metadata", "expand"})
        pi_id, ch_id = p.str("payment_intent"), p.str("charge")
        amount = p.int("amount", min=1)
        reason = p.str("reason", choices=REFUND_REASONS)
        metadata = p.metadata()
        expand = p.strings("expand")
        if pi_id is None and ch_id is None:
            raise _bad("One of the following params should be provided for this request: payment_intent or "
                       "charge.", "payment_intent", "parameter_missing")
        with self.lock:
            if pi_id is not None:
                pi = self._find(self.payment_intents, pi_id, "payment_intent", "payment_intent")
            else:
                pi = self.payment_intents[self._find(self.charges, ch_id, "charge", "charge")["payment_intent"]]
            if ch_id is not None and pi["latest_charge"] != ch_id:
                raise _bad(f"The charge {ch_id} is not the successful charge of the PaymentIntent {pi['id']}.",
                           "charge")
            if pi["status"] != "succeeded":  # decision: this code (the contract says 400 invalid_request_error)
                raise StripeError(400, f"This PaymentIntent ({pi['id']}) does not have a successful charge to "
                                       f"refund: its status is {pi['status']}.",
                                  code="payment_intent_unexpected_state", param="payment_intent", stored=True)
            ch = self.charges[pi["latest_charge"]]
            remaining = pi["amount_received"] - self._refunded(ch["id"])
            if remaining <= 0:
                raise StripeError(400, f"Charge {ch['id']} has already been refunded.",
                                  code="charge_already_refunded", stored=True)
            if amount is None:
                amount = remaining
            if amount > remaining:
                raise StripeError(400, f"Refund amount ({_fmt_amount(amount, ch['currency'])}) is greater than "
                                       f"unrefunded amount on charge ({_fmt_amount(remaining, ch['currency'])})",
                                  code="amount_too_large", param="amount", stored=True)
            fails = self._pi_info[pi["id"]]["refund_fails"]
            re_id = _rid("re_")
            r = {
                "id": re_id, "object": "refund", "amount": amount, "balance_transaction": None,
                "charge": ch["id"], "created": int(self.now()), "currency": ch["currency"],
                "failure_reason": None, "metadata": metadata, "payment_intent": pi["id"], "reason": reason,
                "status": "pending" if fails else "succeeded",
            }
            self.refunds[re_id] = r
            ch["amount_refunded"] = self._refunded(ch["id"])
            ch["refunded"] = ch["amount_refunded"] >= ch["amount_captured"]
            self.events.add("refund", id=re_id, payment_intent=pi["id"], amount=amount, status=r["status"])
            events = self._make_events([("refund.created", r), ("charge.refunded", ch)])
            out = self._render(r, expand)
        if fails and self.refund_fail_delay is not None:
            threading.Thread(target=self._fail_later, args=(re_id,), daemon=True).start()
        return 200, out, events

    def _fail_later(self, re_id: str) -> None:
        if not self.stopping.wait(self.refund_fail_delay):
            self._dispatch(self._fail_refund(re_id), wait=True)

    def _fail_refund(self, re_id: str) -> list[dict]:
        with self.lock:
            r = self.refunds[re_id]
            if r["status"] != "pending":
                return []
            r["status"], r["failure_reason"] = "failed", "expired_or_canceled_card"
            ch = self.charges[r["charge"]]
            ch["amount_refunded"] = self._refunded(ch["id"])
            ch["refunded"] = False
            self.events.add("refund_failed", id=re_id)
            return self._make_events([("refund.updated", r)],
                                     previous={"status": "pending", "failure_reason": None})

    def settle_refunds(self) -> list[WebhookAttempt]:
        """Fail every pending refund now (refund.updated events, sent before returning)."""
        with self.lock:
            pending = [r["id"] for r in self.refunds.values() if r["status"] == "pending"]
        events = [e for re_id in pending for e in self._fail_refund(re_id)]
        return self._dispatch(events, wait=True)

    def _get_refund(self, p: _Params, re_id: str):
        with self.lock:
            r = self._find(self.refunds, re_id, "refund", "refund")
            return 200, self._render(r, p.strings("expand")), []

    def _list_refunds(self, p: _Params):
        p.allow({"payment_intent", "charge", "limit", "starting_after", "ending_before", "expand"})
        pi_id, ch_id = p.str("payment_intent"), p.str("charge")
        limit = p.int("limit", min=1, max=100) or 10
        after, before = p.str("starting_after"), p.str("ending_before")
        with self.lock:
            rows = [copy.deepcopy(r) for r in reversed(list(self.refunds.values()))
                    if (pi_id is None or r["payment_intent"] == pi_id) and (ch_id is None or r["charge"] == ch_id)]
            for cursor, param in ((after, "starting_after"), (before, "ending_before")):
                if cursor is not None and cursor not in self.refunds:
                    raise StripeError(404, f"No such refund: '{cursor}'", code="resource_missing", param=param)
        return 200, self._list(rows, limit, "/v1/refunds", after, before), []

    def _get_charge(self, p: _Params, ch_id: str):
        with self.lock:
            return 200, self._render(self._find(self.charges, ch_id, "charge", "charge"), p.strings("expand")), []

    def _get_event(self, p: _Params, evt_id: str):
        with self.lock:
            ev = next((e for e in self.events_sent if e["id"] == evt_id), None)
            if ev is None:
                raise StripeError(404, f"No such event: '{evt_id}'", code="resource_missing", param="id")
            return 200, copy.deepcopy(ev), []

    def _list_events(self, p: _Params):
        typ = p.str("type")
        limit = p.int("limit", min=1, max=100) or 10
        with self.lock:
            rows = [copy.deepcopy(e) for e in reversed(self.events_sent) if typ is None or e["type"] == typ]
        return 200, self._list(rows, limit, "/v1/events"), []

    @staticmethod
    def _list(rows: list, limit: int, url: str, starting_after: str | None = None,
              ending_before: str | None = None) -> dict:
        """One page of rows (newest first), after the object starting_after
        or before ending_before (cursor pagination, ids of the list)."""
        ids = [r.get("id") for r in rows]
        if starting_after is not None:
            rows = rows[ids.index(starting_after) + 1:] if starting_after in ids else []
        elif ending_before is not None:
            rows = rows[:ids.index(ending_before)] if ending_before in ids else []
            return {"object": "list", "data": rows[-limit:], "has_more": len(rows) > limit, "url": url}
        return {"object": "list", "data": rows[:limit], "has_more": len(rows) > limit, "url": url}

    # ---- the hosted Checkout page ------------------------------------------

    def _submit_card(self, cs_id: str, card: str, exp: str, cvc: str) -> tuple[str, str, list[dict]]:
        """What the form POST does: (outcome, text, events); outcome is
        redirect (text = URL), declined, invalid, three_ds or closed."""
        with self.lock:
            s = self.sessions.get(cs_id)
            if s is None:
                raise KeyError(f"no checkout session {cs_id}")
            events = self._expire_if_due(s)
            if s["status"] != "open":
                return "closed", EXPIRED_MESSAGE if s["status"] == "expired" else COMPLETE_MESSAGE, events
            number = re.sub(r"[\s-]", "", card or "")
            m = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", exp or "")
            if number not in CARDS:
                return "invalid", INVALID_NUMBER_MESSAGE, events
            if not m or not 1 <= int(m.group(1)) <= 12:
                return "invalid", "Your card's expiration date is incomplete.", events
            year = int(m.group(2)) + (2000 if len(m.group(2)) == 2 else 0)
            now = time.gmtime(self.now())
            if (year, int(m.group(1))) < (now.tm_year, now.tm_mon):
                return "invalid", "Your card's expiration year is in the past.", events
            if not re.fullmatch(r"\d{3,4}", (cvc or "").strip()):
                return "invalid", "Your card's security code is incomplete.", events
            info = self._cs_info[cs_id]
            pi = self.payment_intents.get(info["pi"] or "")
            if pi is None:  # created at the first card submitted
                pi = self._new_pi(s["amount_total"], s["currency"], info["capture_method"],
                                  dict(info["pi_metadata"]), info["pi_description"], cs_id)
                info["pi"] = pi["id"]
            kind = self._charge(pi, number)
            if kind == THREE_DS:
                return "three_ds", THREE_DS_MESSAGE, events
            if kind == DECLINE:
                msg = pi["last_payment_error"]["message"]
                return "declined", msg, events + self._make_events([("payment_intent.payment_failed", pi)])
            return "redirect", self._redirect_url(s), events + self._complete(s, pi)

    def _three_ds(self, cs_id: str, action: str) -> tuple[str, str, list[dict]]:
        with self.lock:
            s = self.sessions.get(cs_id)
            if s is None:
                raise KeyError(f"no checkout session {cs_id}")
            events = self._expire_if_due(s)
            if s["status"] != "open":
                return "closed", EXPIRED_MESSAGE if s["status"] == "expired" else COMPLETE_MESSAGE, events
            pi = self.payment_intents.get(self._cs_info[cs_id]["pi"] or "")
            if pi is None or pi["status"] != "requires_action":
                return "invalid", "There is no payment waiting for authentication.", events
            if action == "approve":
                self._succeed(pi)
                return "redirect", self._redirect_url(s), events + self._complete(s, pi)
            if action == "deny":
                self._auth_failed(pi)
                return "declined", AUTH_FAILED_MESSAGE, events + self._make_events(
                    [("payment_intent.payment_failed", pi)])
            return "three_ds", THREE_DS_MESSAGE, events

    def _complete(self, s: dict, pi: dict) -> list[dict]:
        s["status"] = "complete"
        # decision: "paid" for automatic capture, "unpaid" while only authorized (manual)
        s["payment_status"] = "unpaid" if pi["capture_method"] == "manual" else "paid"
        s["payment_intent"] = pi["id"]
        self.events.add("session_completed", id=s["id"], payment_intent=pi["id"])
        return self._make_events([("checkout.session.completed", s), (self._success_event_type(pi), pi)])

    @staticmethod
    def _redirect_url(s: dict) -> str:
        return s["success_url"].replace("{CHECKOUT_SESSION_ID}", s["id"])

    def pay(self, session_id: str, card: str = "4242424242424242", three_ds: str | None = "approve", *,
            exp: str = "12/34", cvc: str = "123") -> str:
        """Do what the hosted page's form POST does (webhooks included, sent
        before returning). Returns the redirect URL on success, else the text
        the page shows (decline message, INVALID_NUMBER_MESSAGE,
        EXPIRED_MESSAGE, COMPLETE_MESSAGE, or THREE_DS_MESSAGE when three_ds is
        None). three_ds: "approve" | "deny" | None (leave it pending; finish
        with pay_3ds). Raises KeyError for an unknown session."""
        self._ctx.value = None
        outcome, text, events = self._submit_card(session_id, card, exp, cvc)
        self._dispatch(events, wait=True)
        if outcome == "three_ds" and three_ds is not None:
            return self.pay_3ds(session_id, three_ds)
        return text

    def pay_3ds(self, session_id: str, action: str = "approve") -> str:
        """The 3-D Secure page's Approve / Deny."""
        self._ctx.value = None
        outcome, text, events = self._three_ds(session_id, action)
        self._dispatch(events, wait=True)
        return text

    def authenticate_3ds(self, pi_id: str, approve: bool = True) -> list[WebhookAttempt]:
        """Finish 3-D Secure of an intent in requires_action (API or Checkout)."""
        self._ctx.value = None
        with self.lock:
            pi = self.payment_intents[pi_id]
            cs_id = self._pi_info[pi_id]["checkout_session"]
        if cs_id:
            before = len(self.webhooks)
            self.pay_3ds(cs_id, "approve" if approve else "deny")
            with self.lock:
                return self.webhooks[before:]
        with self.lock:
            if pi["status"] != "requires_action":
                raise ValueError(f"{pi_id} is {pi['status']}, not requires_action")
            if approve:
                self._succeed(pi)
                events = self._make_events([(self._success_event_type(pi), pi)])
            else:
                self._auth_failed(pi)
                events = self._make_events([("payment_intent.payment_failed", pi)])
        return self._dispatch(events, wait=True)

    def _page(self, req: RecordedRequest) -> Reply:
        m = re.fullmatch(r"/c/pay/([A-Za-z0-9_]+)(/3ds)?", req.path)
        with self.lock:
            s = self.sessions.get(m.group(1)) if m else None
        if s is None:
            return self._html(404, "Not found", "<h1>Something went wrong</h1><p>This page was not found.</p>")
        cs_id = s["id"]
        form = {k: v[0] for k, v in urllib.parse.parse_qs(req.body.decode("utf-8", "replace"),
                                                          keep_blank_values=True).items()}
        if req.method == "GET" and not m.group(2):
            with self.lock:
                events = self._expire_if_due(s)
                pi = self.payment_intents.get(self._cs_info[cs_id]["pi"] or "")
                status = s["status"]
            self._dispatch(events, wait=True)
            if status != "open":
                return self._closed_page(s)
            if pi is not None and pi["status"] == "requires_action":
                return self._three_ds_page(s)
            return self._form_page(s)
        if req.method != "POST":
            return self._html(405, "Method not allowed", "<h1>Method not allowed</h1>")
        if m.group(2):
            outcome, text, events = self._three_ds(cs_id, form.get("action", ""))
        else:
            outcome, text, events = self._submit_card(cs_id, form.get("cardnumber", ""), form.get("exp", ""),
                                                      form.get("cvc", ""))
        self._dispatch(events, wait=True)
        if outcome == "redirect":
            return Reply(303, b"", {"Location": text, "Cache-Control": "no-store"}, content_type=None)
        if outcome == "three_ds":
            return self._three_ds_page(s)
        if outcome == "closed":
            return self._closed_page(s)
        return self._form_page(s, error=text)

    def _html(self, status: int, title: str, body: str) -> Reply:
        page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<title>{html.escape(title)}</title></head>\n<body>\n<main>\n{body}\n</main>\n</body></html>\n")
        return Reply(status, page.encode(), {"Cache-Control": "no-store"}, content_type="text/html; charset=utf-8")

    def _summary(self, s: dict) -> str:
        lines = self._cs_info[s["id"]]["lines"]
        items = "".join(f"<li>{html.escape(li['name'])} × {li['quantity']}</li>" for li in lines)
        return (f"<h1>Pay {html.escape(_fmt_amount(s['amount_total'], s['currency']))}</h1>\n"
                f"<ul id=\"items\">{items}</ul>\n<p class=\"test-mode\">TEST MODE</p>")

    def _form_page(self, s: dict, error: str | None = None) -> Reply:
        err = f'<p id="error" role="alert">{html.escape(error)}</p>\n' if error else ""
        body = (f"{self._summary(s)}\n{err}"
                f'<form method="post" action="/c/pay/{s["id"]}">\n'
                '<label for="cardnumber">Card number</label>\n'
                '<input id="cardnumber" name="cardnumber" inputmode="numeric" autocomplete="cc-number" '
                'placeholder="1234 1234 1234 1234" required>\n'
                '<label for="exp">Expiry (MM/YY)</label>\n'
                '<input id="exp" name="exp" autocomplete="cc-exp" placeholder="MM/YY" required>\n'
                '<label for="cvc">CVC</label>\n'
                '<input id="cvc" name="cvc" inputmode="numeric" autocomplete="cc-csc" placeholder="CVC" required>\n'
                '<button type="submit">Pay</button>\n</form>\n'
                f'<p><a id="back" href="{html.escape(s["cancel_url"], quote=True)}">Back</a></p>')
        return self._html(200, "Checkout", body)

    def _three_ds_page(self, s: dict) -> Reply:
        body = (f"<h1>3-D Secure</h1>\n<p>Authenticate the payment of "
                f"{html.escape(_fmt_amount(s['amount_total'], s['currency']))}.</p>\n"
                f'<form method="post" action="/c/pay/{s["id"]}/3ds">\n'
                '<button type="submit" name="action" value="approve">Approve</button>\n'
                '<button type="submit" name="action" value="deny">Deny</button>\n</form>')
        return self._html(200, "3-D Secure", body)

    def _closed_page(self, s: dict) -> Reply:
        if s["status"] == "expired":
            return self._html(200, "Expired", f"<h1>{EXPIRED_MESSAGE}</h1>\n<p>This payment page has expired.</p>")
        url = html.escape(self._redirect_url(s), quote=True)
        return self._html(200, "Complete", f'<h1>{COMPLETE_MESSAGE}</h1>\n<p><a href="{url}">Continue</a></p>')

    # ---- events and webhooks ----------------------------------------------

    def _make_events(self, batch: list[tuple[str, dict]], *, previous: dict | None = None) -> list[dict]:
        """Events for (type, object) pairs, in sending order (event_order),
        recorded in events_sent (lock held or not)."""
        if len(batch) > 1 and self.event_order == "reversed":
            batch = list(reversed(batch))
        return [self._event(t, o, previous=previous) for t, o in batch]

    def _event(self, event_type: str, obj: dict, *, previous: dict | None = None) -> dict:
        data_obj = copy.deepcopy(obj)
        ev = {
            "id": _rid("evt_"), "object": "event", "api_version": self.api_version,
            "created": int(self.now()), "data": {"object": data_obj}, "livemode": self.livemode,
            "pending_webhooks": 1, "request": dict(self._request_ctx()), "type": event_type,
        }
        if previous is not None:
            ev["data"]["previous_attributes"] = previous
        with self.lock:
            self.events_sent.append(ev)
            self._event_bodies[ev["id"]] = json.dumps(ev, indent=2).encode()
        return ev

    def _dispatch(self, events: list[dict], *, wait: bool, sig_mode: str | None = None,
                  duplicate: bool | None = None, url: str | None = None,
                  ignore_hold: bool = False) -> list[WebhookAttempt]:
        if not events:
            return []
        items = [(ev["id"], url, sig_mode, duplicate) for ev in events]
        with self.lock:
            if self.hold_webhooks and not ignore_hold:
                self._held.extend(items)
                self.events.add("webhooks_held", n=len(items))
                return []
        job = _Job(items)
        self._outbox.put(job)
        if wait:
            per = (self.webhook_timeout + self.webhook_retry_delay) * (1 + max(0, self.webhook_retries))
            deadline = time.monotonic() + per * len(items) * 2 + 5
            while not job.done.wait(0.05):
                if self.stopping.is_set() or time.monotonic() > deadline:
                    break
        return list(job.attempts)

    def _send_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                job = self._outbox.get(timeout=0.05)
            except queue.Empty:
                continue
            try:
                for item in job.items:
                    if self.stopping.is_set():
                        break
                    job.attempts += self._send_item(*item)
            except Exception as e:  # a bug in the fake: say so, keep the sender alive
                self.events.add("fake_error", error=repr(e))
            finally:
                job.done.set()
                self._outbox.task_done()

    def _send_item(self, event_id: str, url: str | None, sig_mode: str | None,
                   duplicate: bool | None) -> list[WebhookAttempt]:
        url = url or self.webhook_url
        if not url:
            return []
        sig_mode = sig_mode or self.webhook_mode
        duplicate = self.duplicate_webhooks if duplicate is None else duplicate
        with self.lock:
            body = self._event_bodies[event_id]
            ev_type = next(e["type"] for e in reversed(self.events_sent) if e["id"] == event_id)
        out: list[WebhookAttempt] = []
        for _ in range(2 if duplicate else 1):
            headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "*/*; q=0.5, application/xml",
                       "Cache-Control": "no-cache"}
            sig = self.signature_header(body, sig_mode)
            if sig is not None:
                headers["Stripe-Signature"] = sig
            out += self._post_webhook(url, body, headers, label=f"{ev_type} {event_id}")
        return out

    def signature_header(self, body: bytes, sig_mode: str = "normal") -> str | None:
        """The Stripe-Signature value for `body` in a sig_mode (None: no header)."""
        if sig_mode not in SIG_MODES:
            raise ValueError(f"unknown sig_mode {sig_mode!r}; modes: {SIG_MODES}")
        now = int(self.now())
        s = self.webhook_secret
        if sig_mode == "normal":
            return stripe_signature(s, body, now)
        if sig_mode == "two_v1":
            return f"t={now},v1={_v1(ROTATED_SECRET, body, now)},v1={_v1(s, body, now)}"
        if sig_mode == "stale_t":
            return stripe_signature(s, body, now - random.randint(301, 600))
        if sig_mode == "future_t":
            return stripe_signature(s, body, now + 600)
        if sig_mode == "wrong_secret":
            return stripe_signature(WRONG_SECRET, body, now)
        if sig_mode == "no_v1":
            return f"t={now},v0={_v1(s, body, now)}"
        if sig_mode == "with_v0":
            return f"{stripe_signature(s, body, now)},v0={_v1(ROTATED_SECRET, body, now)}"
        return None  # no_header

    def send_event(self, event_type: str, obj: dict | None = None, *, sig_mode: str = "normal",
                   duplicate: bool = False, url: str | None = None) -> list[WebhookAttempt]:
        """Generate and send one event of any type (unknown ones too) with
        data.object = obj. Held like the others while hold_webhooks is set."""
        if sig_mode not in SIG_MODES:
            raise ValueError(f"unknown sig_mode {sig_mode!r}; modes: {SIG_MODES}")
        if not (url or self.webhook_url):
            raise ValueError("no url given and no webhook_url set")
        self._ctx.value = None
        ev = self._event(event_type, obj or {"id": _rid("obj_"), "object": event_type.rsplit(".", 1)[0]})
        return self._dispatch([ev], wait=True, sig_mode=sig_mode, duplicate=duplicate, url=url)

    def deliver(self, event_type: str, obj: dict | None = None, **kw) -> list[WebhookAttempt]:
        """The base control plane's /_fake/deliver: send_event."""
        return self.send_event(event_type, obj, **kw)

    def resend(self, event_id: str, *, url: str | None = None, sig_mode: str | None = None) -> list[WebhookAttempt]:
        """Send a stored event again, same body, freshly signed (a late or
        duplicate delivery); not held by hold_webhooks."""
        with self.lock:
            if event_id not in self._event_bodies:
                raise KeyError(f"no event {event_id}")
            ev = next(e for e in self.events_sent if e["id"] == event_id)
        return self._dispatch([ev], wait=True, sig_mode=sig_mode, duplicate=False, url=url, ignore_hold=True)

    @property
    def held_webhooks(self) -> list[str]:
        """Event ids waiting for flush_webhooks()."""
        with self.lock:
            return [i[0] for i in self._held]

    def flush_webhooks(self) -> list[WebhookAttempt]:
        """Send the held events in the order they were held (hold_webhooks stays as it is)."""
        with self.lock:
            items, self._held = self._held, []
        if not items:
            return []
        job = _Job(items)
        self._outbox.put(job)
        while not job.done.wait(0.05):
            if self.stopping.is_set():
                break
        return list(job.attempts)

    def wait_webhooks(self, timeout: float = 10.0) -> None:
        """Wait until the sender has nothing left to send (bounded)."""
        deadline = time.monotonic() + timeout
        while self._outbox.unfinished_tasks:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.NAME}: webhooks still being sent after {timeout}s")
            time.sleep(0.02)

    # ---- control plane ----------------------------------------------------

    def _control(self, req: RecordedRequest) -> Reply:
        p = req.path[len("/_fake/"):]
        args = req.parsed if isinstance(req.parsed, dict) else {}

        def atts(a: list[WebhookAttempt]) -> Reply:
            return json_reply(200, [{"url": x.url, "status": x.status, "error": x.error, "label": x.label,
                                     "attempt": x.attempt} for x in a])
        try:
            if req.method == "POST":
                if p == "pay":
                    return json_reply(200, {"result": self.pay(**args)})
                if p == "event":
                    return atts(self.send_event(**args))
                if p == "resend":
                    return atts(self.resend(**args))
                if p == "flush":
                    return atts(self.flush_webhooks())
                if p == "settle_refunds":
                    return atts(self.settle_refunds())
                if p == "webhooks":
                    for k in ("webhook_url", "webhook_mode", "event_order", "hold_webhooks", "duplicate_webhooks"):
                        if k in args:
                            setattr(self, k, args[k])
                    return json_reply(200, {"ok": True})
                if p == "clock":
                    offset = float(args.get("offset", 0))
                    self.now = lambda: time.time() + offset
                    return json_reply(200, {"now": self.now()})
            if req.method == "GET" and p == "objects":
                with self.lock:
                    return json_reply(200, {"sessions": self.sessions, "payment_intents": self.payment_intents,
                                            "charges": self.charges, "refunds": self.refunds})
            if req.method == "GET" and p == "events_sent":
                with self.lock:
                    return json_reply(200, self.events_sent)
        except (KeyError, TypeError, ValueError) as e:
            return json_reply(400, {"error": repr(e)})
        return super()._control(req)


if __name__ == "__main__":
    def _args(p):
        p.add_argument("--secret-key", default="sk_test_fake")
        p.add_argument("--webhook-secret", default="whsec_fake")
        p.add_argument("--webhook-url", default=None)
        p.add_argument("--min-expiry-seconds", type=int, default=1800)
        p.add_argument("--refund-fail-delay", type=float, default=0.5)

    run_standalone(lambda a: StripeFake(
        secret_key=a.secret_key, webhook_secret=a.webhook_secret, webhook_url=a.webhook_url,
        min_expiry_seconds=a.min_expiry_seconds, refund_fail_delay=a.refund_fail_delay,
        port=a.port, hang_seconds=a.hang_seconds), _args)
