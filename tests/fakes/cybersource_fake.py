"""Offline fake of Cybersource (spec/providers.md section 5; what it must
reproduce: 5c): Secure Acceptance Hosted Checkout and the REST payments API.

base_url ("http://127.0.0.1:PORT") stands for both hosts:
  https://testsecureacceptance.cybersource.com   (SA: /pay)
  https://apitest.cybersource.com                (REST: /pts/..., /tss/...)

Secure Acceptance (5a), form-encoded, from the customer's browser:
  POST /pay            check access_key, profile_id and the signature (sa_sign:
                       base64 HMAC-SHA256, key = the secret key string as UTF-8,
                       NOT base64-decoded). Bad → 403 HTML "You are not
                       authorized to view this page. The transaction has not
                       been processed." Then the required signed fields
                       (missing or empty, or not listed in signed_field_names
                       → ERROR 101 + required_fields), invalid values (amount
                       not a decimal, currency not 3 letters, transaction_type
                       not sale/authorization, locale, signed_date_time format
                       → ERROR 102 + invalid_fields), a transaction_uuid seen
                       with the same access_key within uuid_window (900 s)
                       → ERROR 104. Those results are delivered at once;
                       otherwise a card form (no JavaScript) is rendered.
                       A field listed in signed_field_names but not sent
                       → 403 (the signature cannot be recomputed).
  POST /pay/complete   the card form: card_number, card_expiry_date (MM-YYYY),
                       card_cvn, session (hidden), action=pay|cancel.
  Outcomes by card number (CARD_OUTCOMES):
      4111111111111111, 5555555555554444, 378282246310005  ACCEPT 100
      4000000000000002 DECLINE 203     4000000000009995 DECLINE 204
      4000000000000101 REVIEW 480      4000000000000119 REVIEW 520
      4000000000000150 ERROR 150       4000000000000151 ERROR 151
      4000000000000110 ACCEPT 110: a partial approval of half the amount
                       (rounded down to the amount's decimals): auth_amount
                       is that half; the REST store gets PARTIAL_AUTHORIZED
                       with authorizedAmount that half (a sale: that half is
                       captured, voidable); a reversal may return at most it
      any other Luhn-valid number      ACCEPT 100
      not Luhn-valid / bad expiry      ERROR 102 (invalid_fields)
      expiry in the past               DECLINE 202
      Cancel button                    CANCEL: reason_code is NOT sent (absent,
                                       not ""), message "The consumer cancelled
                                       the transaction"
  Every result has transaction_id (22 digits, the REST request id), decision,
  reason_code, message, req_* echoes of the request fields (all but
  signature, signed_field_names, unsigned_field_names, signed_date_time),
  req_card_number masked (xxxxxxxxxxxx1111), req_card_expiry_date,
  req_card_type; for ACCEPT and REVIEW auth_amount, auth_code, auth_time
  (yyyy-MM-ddTHHmmssZ), auth_trans_ref_no, auth_avs_code, auth_cv_result,
  auth_response (+ bill_trans_ref_no for a sale); signed_field_names (every
  result field, itself included, signature excluded), signed_date_time,
  signature (sa_sign with secret_key).
  The REST store gets: ACCEPT authorization → AUTHORIZED; ACCEPT sale →
  captured (status PENDING: refundable, voidable); REVIEW → AUTHORIZED_PENDING_
  REVIEW (resolve_review() plays the reviewer); DECLINE → DECLINED; ERROR 151
  → the payment DID happen (AUTHORIZED / captured sale: an uncertain outcome
  that a query resolves); ERROR 150 → nothing (GET → 404). 101/102/104 and
  CANCEL results also carry a fresh transaction_id, with no stored transaction.
  GET /tss/v2/transactions/{id} of an SA transaction carries a top-level
  "decision" (a convenience of this fake, not a real TSS field).
  Delivery: the browser gets an HTML page whose form POSTs the result fields to
  override_custom_receipt_page (CANCEL: override_custom_cancel_page first),
  else receipt_url; it submits itself by script and has a plain visible
  "Continue" button. No URL at all: a plain result page. The Merchant POST
  (form-encoded) goes to merchant_post_url if set, by merchant_post_mode:
      normal      once, before the browser's page is answered / pay() returns
      delayed     once, merchant_post_delay seconds later, from a thread
      duplicated  twice, back to back
      never       not sent
  Programmatic equivalents: pay(fields, card, cancel) → signed result (does the
  Merchant POST); post_receipt(fields, url) → the browser's POST (replays);
  deliver(fields, url) → the Merchant POST again; tampered(), resign().

REST (5b), JSON; replies application/hal+json;charset=utf-8:
  HTTP Signature (http_signature_headers() builds one, as the Node SDK):
  v-c-merchant-id == merchant_id, Date (RFC 1123 GMT, within date_skew s of
  now), Host (any value; it is what is signed), Digest == "SHA-256=" +
  b64(sha256(raw body)) for POST/PUT/PATCH, Signature keyid == key_id,
  algorithm "HmacSHA256", headers exactly "host date (request-target) digest
  v-c-merchant-id" (GET/DELETE: without digest), signature over those lines
  with key = b64decode(shared_secret) (date_skew=None: no window check).
  Anything wrong → 401
  {"response":{"rmsg":"Authentication Failed"}} (shape ❓, our choice); the
  reason is in events ("auth_failed") and last_auth_failure.
  POST /pts/v2/payments                   auth, or sale (processingInformation.capture)
  POST /pts/v2/payments/{id}/captures     one capture ≤ authorized → PENDING
  POST /pts/v2/payments/{id}/reversals    ≤ authorized; full → REVERSED, partial
                                          lowers the authorized amount
  POST /pts/v2/payments/{id}/voids        a sale → VOIDED
  POST /pts/v2/captures/{id}/voids        a capture → VOIDED (and its payment)
  POST /pts/v2/refunds/{id}/voids         a refund → VOIDED (amount refundable again)
  POST /pts/v2/credits/{id}/voids         no credits here: 400 INVALID_PAYMENT_ID
  POST /pts/v2/payments/{id}/refunds      a sale; POST /pts/v2/captures/{id}/refunds
                                          a capture: partial refunds, total ≤
                                          captured (else 400 INVALID_AMOUNT) → PENDING
  POST /pts/v2/voids                      timeout void by clientReferenceInformation.
                                          transactionId: voids that request's effect;
                                          again → the same 201 (idempotent);
                                          unknown → 400 INVALID_DATA "no transaction
                                          with this transactionId" (our choice)
  GET  /tss/v2/transactions/{id}          200 detail; unknown → 404 NOT_FOUND
  POST /tss/v2/searches                   201; query terms joined by " AND ":
                                          clientReferenceInformation.code:X, id:X,
                                          clientReferenceInformation.transactionId:X
                                          (submitTimeUtc:[...] accepted, not applied)
  GET  /tss/v2/searches/{searchId}        200, the stored result (a snapshot)
  Rules: the card drives REST auths too (DECLINE cards → 201 DECLINED with
  errorInformation; 480 → AUTHORIZED_PENDING_REVIEW; 520 → AUTHORIZED_RISK_
  DECLINED; ...0150 → 502 SYSTEM_ERROR, nothing done; ...0151 → 502
  SERVER_TIMEOUT after authorizing). A sale's 201 says AUTHORIZED (as the
  real API), its stored status is PENDING. An authorization is reversed, not
  voided; a separately captured payment is refunded through its capture id;
  sales and captures are voided only with no live refund; a voided capture
  also ends its payment (re-capture is not modelled). Amounts are decimal
  strings (JSON numbers → 400 INVALID_DATA) and come back with 2 decimals.
  A clientReferenceInformation.transactionId already used by an executed
  request → 400 INVALID_DATA. Unknown or wrong-kind {id} → 400
  INVALID_PAYMENT_ID, details []. 400 body {submitTimeUtc, status:
  "INVALID_REQUEST", reason, message, details:[{field, reason}]}; 502 body
  {submitTimeUtc, status:"SERVER_ERROR", reason, message}.
  tss_delay (default 0): transactions stay invisible to /tss for that long.
  /tss answers give paymentInformation.card {suffix, type} only. Follow-on
  201s carry their payment's approvalCode (declines carry none).

For tests: .transactions (request id -> record: type, status, amount,
currency, clientReferenceInformation, parent, root, children, history, ...),
transaction(id) (a JSON-safe copy), .client_tids, .sa_results, .sa_sessions,
resolve_review(id, accept), last_auth_failure, wait_merchant_posts(timeout),
plus the base's .requests, .webhooks (Merchant POSTs: label "merchant post";
browser receipts: "receipt") and .events.

Modes (set_mode(name, count, endpoint); endpoint "send" = REST POSTs but
/tss/v2/searches, "query" = REST GETs and /tss/v2/searches, "any"; SA is not
affected; a mode is used up by authenticated requests only):
  normal
  connect_refused         stop listening (set_mode("normal") listens again)
  error_502_after         execute, then 502 SERVER_TIMEOUT (even if the
                          operation was rejected: the outcome is hidden)
  error_502               502 SERVER_TIMEOUT, nothing executed
  unauthorized            401, nothing executed
  missing_field           400 MISSING_FIELD with details[] (nothing executed)
  declined                201 DECLINED, errorInformation {reason:
                          "PROCESSOR_DECLINED", message} (payments, captures,
                          reversals, refunds, voids; a DECLINED record is
                          stored); on queries: as normal
  pending_review          POST /pts/v2/payments → 201 AUTHORIZED_PENDING_REVIEW;
                          elsewhere as normal
  html_500                500 with an HTML page, nothing executed
  slow                    answer normally after slow_seconds
  rate_limit              429 with Retry-After: retry_after (1), nothing executed;
                          body {submitTimeUtc, status/reason "TOO_MANY_REQUESTS",
                          message} (❓ Cybersource documents no 429)
  timeout_after_execute   execute, hold hang_seconds, close without answering

Run alone: python3 cybersource_fake.py --port N [--merchant-id M --access-key K
  --profile-id P --secret-key S --key-id I --shared-secret B64
  --merchant-post-url U --receipt-url U --date-skew S]
Control plane (bench), besides the base one: POST /_fake/pay {request_fields,
card, cancel}, POST /_fake/config {merchant_post_url, receipt_url,
merchant_post_mode, merchant_post_delay, slow_seconds, tss_delay},
GET /_fake/transactions, POST /_fake/review {request_id, accept},
POST /_fake/deliver {fields, url} (Merchant POST replay).
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
import urllib.parse
import uuid
from datetime import datetime, timezone
from decimal import ROUND_DOWN, Decimal
from typing import Any

from provider_fake import (ProviderFake, RecordedRequest, Reply, WebhookAttempt, html_reply,
                           json_reply, run_standalone)

# ---------------------------------------------------------------------------
# defaults: fixed test credentials (deterministic, so a bench can use them)

DEFAULT_MERCHANT_ID = "chatpay_test"
DEFAULT_ACCESS_KEY = hashlib.md5(b"chatpay-cybersource-fake access key").hexdigest()  # 32 alnum
DEFAULT_PROFILE_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "chatpay-cybersource-fake/profile")).upper()
DEFAULT_SECRET_KEY = hashlib.sha256(b"chatpay-cybersource-fake secret").hexdigest() * 4  # 256 chars
DEFAULT_KEY_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "chatpay-cybersource-fake/key-id"))
DEFAULT_SHARED_SECRET = base64.b64encode(
    hashlib.sha256(b"chatpay-cybersource-fake shared secret").digest()).decode()  # 32 bytes

NOT_AUTHORIZED = "You are not authorized to view this page. The transaction has not been processed."
REQUIRED_SIGNED = ["access_key", "amount", "currency", "locale", "profile_id", "reference_number",
                   "signed_date_time", "signed_field_names", "transaction_type", "transaction_uuid"]
NO_ECHO = {"signature", "signed_field_names", "unsigned_field_names", "signed_date_time",
           "card_number", "card_cvn", "card_expiry_date", "session", "action"}
SA_TRANSACTION_TYPES = {"sale", "authorization"}

# card number -> (SA decision, reason code)
CARD_OUTCOMES = {
    "4111111111111111": ("ACCEPT", 100),
    "5555555555554444": ("ACCEPT", 100),
    "378282246310005": ("ACCEPT", 100),
    "4000000000000002": ("DECLINE", 203),
    "4000000000009995": ("DECLINE", 204),
    "4000000000000101": ("REVIEW", 480),
    "4000000000000119": ("REVIEW", 520),
    "4000000000000150": ("ERROR", 150),
    "4000000000000151": ("ERROR", 151),
    "4000000000000110": ("ACCEPT", 110),
}

# wording 🟡/❓: adapters must key on decision / reason_code
SA_MESSAGES = {
    100: "Request was processed successfully.",
    110: "Partial amount was approved.",
    101: "Declined - The request is missing one or more fields",
    102: "Declined - One or more fields in the request contains invalid data",
    104: ("Declined - The access_key and transaction_uuid fields for this authorization request match "
          "the access_key and transaction_uuid of another authorization request that you sent within "
          "the past 15 minutes."),
    150: "Error - General system failure.",
    151: "Error - The request was received but there was a server timeout.",
    202: "Decline - Expired card.",
    203: "Decline - General decline of the card. No other information provided by the issuing bank.",
    204: "Decline - Insufficient funds in the account.",
    480: "The order is marked for review by Decision Manager",
    520: ("Soft Decline - The authorization request was approved by the issuing bank but declined by "
          "CyberSource based on your Smart Authorization settings."),
}
CANCEL_MESSAGE = "The consumer cancelled the transaction"

# reason code -> (rCode, rFlag) in /tss answers (❓, from the SOAP-era reply fields)
R_FLAGS = {100: ("1", "SOK"), 110: ("1", "SPARTIALAPPROVAL"), 202: ("0", "DCARDEXPIRED"), 203: ("0", "DCARDREFUSED"),
           204: ("0", "DCARDREFUSED"), 480: ("0", "DREVIEW"), 520: ("0", "DSETTINGS"),
           150: ("-1", "ESYSTEM"), 151: ("-1", "ETIMEOUT")}
# REST decline reason code -> (errorInformation.reason, processor responseCode)
REST_DECLINES = {202: ("EXPIRED_CARD", "54"), 203: ("PROCESSOR_DECLINED", "05"),
                 204: ("INSUFFICIENT_FUND", "51")}
APPLICATION_NAMES = {"authorization": "ics_auth", "sale": "ics_auth,ics_bill", "capture": "ics_bill",
                     "reversal": "ics_auth_reversal", "refund": "ics_credit", "void": "ics_void"}

HAL = "application/hal+json;charset=utf-8"
SIGNED_HEADERS_BODY = "host date (request-target) digest v-c-merchant-id"
SIGNED_HEADERS_NOBODY = "host date (request-target) v-c-merchant-id"
AMOUNT_RE = re.compile(r"\d{1,12}(\.\d{1,3})?")
ZERO = Decimal(0)


# ---------------------------------------------------------------------------
# signatures


def sa_sign(fields: dict, secret_key: str) -> str:
    """Secure Acceptance signature (5a): over signed_field_names (in that
    order) as "name=value" joined by ","; base64(HMAC-SHA256(key = the secret
    key string as UTF-8, not base64-decoded)). KeyError if a listed field is
    missing."""
    data = ",".join(f"{n}={fields[n]}" for n in fields["signed_field_names"].split(","))
    return base64.b64encode(hmac.new(secret_key.encode("utf-8"), data.encode("utf-8"),
                                     hashlib.sha256).digest()).decode()


def sa_verify(fields: dict, secret_key: str) -> bool:
    """Recompute over the fields' own signed_field_names, compare in constant
    time; False when signature, signed_field_names or a listed field is missing."""
    try:
        want = sa_sign(fields, secret_key)
    except (KeyError, AttributeError, TypeError):
        return False
    got = fields.get("signature")
    if not isinstance(got, str):
        return False
    return hmac.compare_digest(want.encode(), got.encode("utf-8", "replace"))


def tampered(fields: dict, **changes) -> dict:
    """A copy of a result with some values changed (e.g. req_amount="1.00")
    and the original signature kept: sa_verify() must reject it."""
    out = dict(fields)
    out.update({k: str(v) for k, v in changes.items()})
    return out


def body_digest(body: bytes | None) -> str:
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body or b"").digest()).decode()


def _signing_string(names: list[str], values: dict[str, str]) -> str:
    return "\n".join(f"{n}: {values[n]}" for n in names)


def http_signature_headers(method: str, host: str, path_with_query: str, body: bytes | None,
                           merchant_id: str, key_id: str, shared_secret_b64: str,
                           date: str | None = None) -> dict[str, str]:
    """The REST authentication headers exactly as the Node SDK builds them
    (5b): v-c-merchant-id, Date, Host, Digest (POST/PUT/PATCH), Signature."""
    method = method.upper()
    date = date or email.utils.formatdate(usegmt=True)
    has_body = method in ("POST", "PUT", "PATCH")
    values = {"host": host, "date": date,
              "(request-target)": f"{method.lower()} {path_with_query}",
              "v-c-merchant-id": merchant_id}
    headers = {"v-c-merchant-id": merchant_id, "Date": date, "Host": host}
    names_s = SIGNED_HEADERS_BODY if has_body else SIGNED_HEADERS_NOBODY
    if has_body:
        values["digest"] = headers["Digest"] = body_digest(body)
    mac = hmac.new(base64.b64decode(shared_secret_b64),
                   _signing_string(names_s.split(" "), values).encode("utf-8"), hashlib.sha256)
    sig = base64.b64encode(mac.digest()).decode()
    headers["Signature"] = (f'keyid="{key_id}", algorithm="HmacSHA256", headers="{names_s}", '
                            f'signature="{sig}"')
    return headers


# ---------------------------------------------------------------------------
# small helpers


def _utc(t: float | None = None) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def _fmt(d: Decimal) -> str:
    return f"{d:.2f}"


def _luhn(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for i, c in enumerate(reversed(number)):
        n = int(c)
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def _valid_card(number: str) -> bool:
    """Luhn-valid, or one of the test cards (4000000000000151 is not Luhn-valid)."""
    return number in CARD_OUTCOMES or _luhn(number)


def _card_type(number: str) -> tuple[str, str]:
    if number.startswith("4"):
        return "001", "Visa"
    if number[:2] in ("34", "37"):
        return "003", "American Express"
    if number[:1] == "5" or number[:1] == "2":
        return "002", "Mastercard"
    return "000", "Unknown"


def _digits(n: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(n))


def _alnum(n: int) -> str:
    return "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(n))


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _expired(month: int, year: int) -> bool:
    now = datetime.now(timezone.utc)
    return (year, month) < (now.year, now.month)


class RestError(Exception):
    """An error answer of the REST API (raised inside an operation)."""

    def __init__(self, status: int, reason: str, message: str, details: list[dict] | None = None,
                 status_word: str = "INVALID_REQUEST"):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message
        self.details = details
        self.status_word = status_word

    def body(self) -> dict:
        b = {"submitTimeUtc": _utc(), "status": self.status_word, "reason": self.reason,
             "message": self.message}
        if self.status == 400:
            b["details"] = self.details or []
        return b


def _bad(reason: str, message: str, field: str | None = None, field_reason: str | None = None) -> RestError:
    details = [{"field": field, "reason": field_reason or reason}] if field else []
    return RestError(400, reason, message, details)


def _missing(field: str) -> RestError:
    return _bad("MISSING_FIELD", f"Declined - The request is missing one or more fields: {field}",
                field, "MISSING_FIELD")


def _invalid(field: str, message: str | None = None) -> RestError:
    return _bad("INVALID_DATA", message or f"Declined - One or more fields in the request contains "
                f"invalid data: {field}", field, "INVALID_DATA")


def _state(message: str) -> RestError:
    return _bad("INVALID_DATA", message)


def _unknown_id(message: str = "Please provide a valid payment ID") -> RestError:
    return RestError(400, "INVALID_PAYMENT_ID", message, [])


# ---------------------------------------------------------------------------
# the fake


class CyberSourceFake(ProviderFake):
    NAME = "cybersource"
    MODES = frozenset({
        "normal", "connect_refused", "error_502_after", "error_502", "unauthorized", "missing_field",
        "declined", "pending_review", "html_500", "slow", "rate_limit", "timeout_after_execute",
    })
    MERCHANT_POST_MODES = ("normal", "delayed", "duplicated", "never")
    WEBHOOK_USER_AGENT = "CyberSource-Merchant-POST"  # ❓

    def __init__(self, *, merchant_id: str = DEFAULT_MERCHANT_ID, access_key: str = DEFAULT_ACCESS_KEY,
                 profile_id: str = DEFAULT_PROFILE_ID, secret_key: str = DEFAULT_SECRET_KEY,
                 key_id: str = DEFAULT_KEY_ID, shared_secret: str = DEFAULT_SHARED_SECRET,
                 port: int = 0, hang_seconds: float = 30.0, merchant_post_url: str | None = None,
                 receipt_url: str | None = None, date_skew: float | None = 300,
                 merchant_post_mode: str = "normal", merchant_post_delay: float = 1.0,
                 slow_seconds: float = 2.0, retry_after: int = 1, uuid_window: float = 900.0,
                 tss_delay: float = 0.0, **kw):
        """kw: the base's webhook_timeout, webhook_retries (default 0: the
        Merchant POST retry policy is not documented ❓), webhook_retry_delay."""
        self.merchant_id = merchant_id
        self.access_key = access_key
        self.profile_id = profile_id
        self.secret_key = secret_key
        self.key_id = key_id
        self.shared_secret = shared_secret
        self.merchant_post_url = merchant_post_url
        self.receipt_url = receipt_url
        self.date_skew = date_skew
        self.merchant_post_mode = merchant_post_mode
        self.merchant_post_delay = merchant_post_delay
        self.slow_seconds = slow_seconds
        self.retry_after = retry_after
        self.uuid_window = uuid_window
        self.tss_delay = tss_delay
        self.transactions: dict[str, dict] = {}  # request id -> transaction (the store)
        self.client_tids: dict[str, str] = {}  # clientReferenceInformation.transactionId -> id
        self.searches: dict[str, dict] = {}
        self.sa_results: list[dict] = []  # every SA result produced, in order
        self.sa_sessions: dict[str, dict] = {}  # card-form session token -> request fields
        self._uuids: dict[tuple[str, str], float] = {}
        self._issued: set[str] = set()
        self._seq = 0
        self._mp_threads: list[threading.Thread] = []
        self.last_auth_failure: str | None = None
        kw.setdefault("webhook_retries", 0)
        super().__init__(port=port, hang_seconds=hang_seconds, **kw)

    # ---- attributes -------------------------------------------------------

    @property
    def merchant_post_mode(self) -> str:
        return self._merchant_post_mode

    @merchant_post_mode.setter
    def merchant_post_mode(self, value: str) -> None:
        if value not in self.MERCHANT_POST_MODES:
            raise ValueError(f"merchant_post_mode must be one of {self.MERCHANT_POST_MODES}, not {value!r}")
        self._merchant_post_mode = value

    tampered = staticmethod(tampered)

    def resign(self, fields: dict, secret: str | None = None, *,
               signed_field_names: list[str] | str | None = None, leave_out: tuple | list = ()) -> dict:
        """A copy of `fields` signed again (with `secret`, default secret_key)
        over another signed_field_names: the given list, or the current one
        minus `leave_out` (e.g. leave req_amount out while changing it).
        signed_field_names is always in the list."""
        out = {k: v for k, v in fields.items() if k != "signature"}
        if signed_field_names is None:
            names = [n for n in out.get("signed_field_names", ",".join(out)).split(",") if n not in leave_out]
        elif isinstance(signed_field_names, str):
            names = signed_field_names.split(",")
        else:
            names = list(signed_field_names)
        if "signed_field_names" not in names:
            names.append("signed_field_names")
        out["signed_field_names"] = ",".join(names)
        out["signature"] = sa_sign(out, self.secret_key if secret is None else secret)
        return out

    def transaction(self, request_id: str) -> dict | None:
        with self.lock:
            tx = self.transactions.get(request_id)
            return json.loads(json.dumps(tx, default=str)) if tx else None

    # ---- ids and the store --------------------------------------------------

    def _new_id(self) -> str:
        with self.lock:
            while True:
                i = str(int(time.time())) + _digits(12)  # 22 digits
                if i not in self._issued:
                    self._issued.add(i)
                    return i

    def _new_tx(self, type_: str, status: str, amount: Decimal, currency: str, *, code: str | None,
                client_tid: str | None = None, parent: dict | None = None, card: dict | None = None,
                source: str = "rest", reason_code: int = 100, decision: str | None = None,
                error: dict | None = None, tx_id: str | None = None, response_code: str = "00",
                event: str = "created") -> dict:
        with self.lock:
            now = time.time()
            self._seq += 1
            approved = status not in ("DECLINED",)
            cri = {"code": code if code is not None else (parent["clientReferenceInformation"]["code"]
                                                            if parent else "")}
            if client_tid:
                cri["transactionId"] = client_tid
            tx = {
                "id": tx_id or self._new_id(), "type": type_, "status": status,
                "amount": amount, "currency": currency, "clientReferenceInformation": cri,
                "parent": parent["id"] if parent else None,
                "root": parent["root"] if parent else None,
                "source": source, "decision": decision, "reason_code": reason_code, "error": error,
                "card": card if card is not None else (parent or {}).get("card"),
                "submitTimeUtc": _utc(now), "created": now, "seq": self._seq,
                "reconciliationId": _alnum(16),
                # follow-ons carry their payment's approval code
                "approvalCode": None if not approved else (
                    _digits(6) if type_ in ("authorization", "sale")
                    else self.transactions[parent["root"]]["approvalCode"] if parent else None),
                "responseCode": response_code, "processorTransactionId": _digits(15),
                "children": [], "history": [],
                # payment-level amounts (roots only)
                "authorized": amount if type_ in ("authorization", "sale") else ZERO,
                "captured": amount if type_ == "sale" and status == "PENDING" else ZERO,
                "refunded": ZERO, "capture_id": None, "timeout_void": None,
            }
            if tx["root"] is None:
                tx["root"] = tx["id"]
            tx["history"].append({"at": tx["submitTimeUtc"], "status": status, "event": event})
            self.transactions[tx["id"]] = tx
            if client_tid:
                self.client_tids[client_tid] = tx["id"]
            if parent:
                parent["children"].append(tx["id"])
        self.events.add("transaction", id=tx["id"], type=type_, status=status, amount=str(amount))
        return tx

    def _set_status(self, tx: dict, status: str, event: str) -> None:
        tx["status"] = status
        tx["history"].append({"at": _utc(), "status": status, "event": event})
        self.events.add("status", id=tx["id"], status=status, event=event)

    def resolve_review(self, request_id: str, accept: bool = True) -> dict:
        """Play the Decision Manager reviewer for a held authorization or sale:
        accept → AUTHORIZED (a sale: PENDING, captured), reject → REVERSED."""
        with self.lock:
            tx = self.transactions[request_id]
            if tx["status"] not in ("AUTHORIZED_PENDING_REVIEW", "AUTHORIZED_RISK_DECLINED"):
                raise ValueError(f"{request_id} is {tx['status']}, not under review")
            if not accept:
                self._set_status(tx, "REVERSED", "review rejected")
            elif tx["type"] == "sale":
                tx["captured"] = tx["authorized"]
                self._set_status(tx, "PENDING", "review accepted")
            else:
                self._set_status(tx, "AUTHORIZED", "review accepted")
            return self.transaction(request_id)

    # ---- routing --------------------------------------------------------------

    def handle(self, req: RecordedRequest) -> Reply:
        if req.path == "/pay" or req.path.startswith("/pay/"):
            return self._sa(req)
        if req.path.startswith(("/pts/", "/tss/")):
            return self._rest(req)
        return html_reply(404, "404 Not Found")

    # ======================================================================
    # Secure Acceptance

    def _sa(self, req: RecordedRequest) -> Reply:
        if req.method != "POST":
            return html_reply(405, "405 Method Not Allowed")
        form = req.form
        if req.path == "/pay":
            kind, val = self._sa_begin(form)
            if kind == "forbidden":
                return self._forbidden_page()
            if kind == "form":
                return self._card_form_page(val, form)
            self._merchant_post(val)
            return self._receipt_page(val)
        if req.path == "/pay/complete":
            with self.lock:
                sess = self.sa_sessions.pop(form.get("session", ""), None)
            if sess is None:
                return _html(400, "Session expired", "<p>Your session has expired or is not valid. "
                             "The transaction has not been processed.</p>")
            result = self._sa_complete(sess, form.get("card_number", ""), form.get("card_expiry_date", ""),
                                       form.get("card_cvn", ""), cancel=form.get("action") == "cancel")
            self._merchant_post(result)
            return self._receipt_page(result)
        return html_reply(404, "404 Not Found")

    def _sa_begin(self, form: dict[str, str]) -> tuple[str, Any]:
        """("forbidden", why) | ("result", signed result) | ("form", session token)."""
        if form.get("access_key") != self.access_key:
            why = "unknown access_key"
        elif form.get("profile_id") != self.profile_id:
            why = "unknown profile_id"
        elif not sa_verify(form, self.secret_key):
            why = "bad signature"
        else:
            why = None
        if why:
            self.events.add("sa_forbidden", why=why)
            return "forbidden", why
        signed = form["signed_field_names"].split(",")
        missing = [n for n in REQUIRED_SIGNED if n not in signed or not form.get(n)]
        if missing:
            return "result", self._sa_result(form, "ERROR", 101, {"required_fields": ",".join(missing)})
        invalid = []
        if not AMOUNT_RE.fullmatch(form["amount"]):
            invalid.append("amount")
        if not re.fullmatch(r"[A-Za-z]{3}", form["currency"]):
            invalid.append("currency")
        if not re.fullmatch(r"[A-Za-z]{2}(-[A-Za-z]{2})?", form["locale"]):
            invalid.append("locale")
        try:
            datetime.strptime(form["signed_date_time"], "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            invalid.append("signed_date_time")
        if form["transaction_type"] not in SA_TRANSACTION_TYPES:
            invalid.append("transaction_type")
        if invalid:
            return "result", self._sa_result(form, "ERROR", 102, {"invalid_fields": ",".join(invalid)})
        key = (form["access_key"], form["transaction_uuid"])
        now = time.time()
        with self.lock:
            seen = self._uuids.get(key)
            if seen is not None and now - seen < self.uuid_window:
                dup = True
            else:
                dup = False
                self._uuids[key] = now
        if dup:
            return "result", self._sa_result(form, "ERROR", 104, {})
        token = secrets.token_urlsafe(18)
        with self.lock:
            self.sa_sessions[token] = dict(form)
        self.events.add("sa_form", reference_number=form["reference_number"], session=token)
        return "form", token

    def _sa_complete(self, form: dict[str, str], card: str, expiry: str, cvn: str,
                     cancel: bool = False) -> dict:
        card = re.sub(r"[\s-]", "", card or "")
        card_fields = None
        if card:
            ctype, _ = _card_type(card)
            card_fields = {"req_card_number": "x" * max(0, len(card) - 4) + card[-4:],
                           "req_card_expiry_date": expiry, "req_card_type": ctype}
        if cancel:
            return self._sa_result(form, "CANCEL", None, {}, card_fields)
        invalid = []
        if not _valid_card(card):
            invalid.append("card_number")
        m = re.fullmatch(r"(0[1-9]|1[0-2])-(\d{4})", expiry or "")
        if not m:
            invalid.append("card_expiry_date")
        if invalid:
            return self._sa_result(form, "ERROR", 102, {"invalid_fields": ",".join(invalid)}, card_fields)
        month, year = int(m.group(1)), int(m.group(2))
        decision, reason = CARD_OUTCOMES.get(card, ("ACCEPT", 100))
        if _expired(month, year):
            decision, reason = "DECLINE", 202
        ttype = form["transaction_type"]
        amount = Decimal(form["amount"])
        tid = self._new_id()
        ctype, cname = _card_type(card)
        card_info = {"suffix": card[-4:], "prefix": card[:6], "type": ctype,
                     "expirationMonth": f"{month:02d}", "expirationYear": str(year)}
        extra: dict[str, str] = {}
        tx = None
        if decision in ("ACCEPT", "REVIEW") or reason == 151:
            if decision == "REVIEW":
                status = "AUTHORIZED_PENDING_REVIEW"
            elif reason == 110:
                status = "PARTIAL_AUTHORIZED"
            else:
                status = "PENDING" if ttype == "sale" else "AUTHORIZED"
            tx = self._new_tx(ttype, status, amount, form["currency"].upper(),
                              code=form["reference_number"], card=card_info, source="sa",
                              reason_code=100 if reason == 151 else reason,
                              decision="ACCEPT" if reason == 151 else decision, tx_id=tid)
            if reason == 110:
                places = len(form["amount"].partition(".")[2])
                held = (amount / 2).quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
                tx["authorized"] = held
                if ttype == "sale":
                    tx["captured"] = held
        elif decision == "DECLINE":
            tx = self._new_tx(ttype, "DECLINED", amount, form["currency"].upper(),
                              code=form["reference_number"], card=card_info, source="sa",
                              reason_code=reason, decision=decision, tx_id=tid,
                              response_code=REST_DECLINES[reason][1],
                              error={"reason": REST_DECLINES[reason][0], "message": SA_MESSAGES[reason]})
        if decision in ("ACCEPT", "REVIEW"):
            extra = {"auth_amount": _fmt(tx["authorized"]) if reason == 110 else form["amount"],
                     "auth_code": tx["approvalCode"],
                     "auth_time": time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime()),
                     "auth_trans_ref_no": tx["reconciliationId"], "auth_avs_code": "Y",
                     "auth_cv_result": "M" if cvn else "", "auth_response": "00"}
            if ttype == "sale" and decision == "ACCEPT":
                extra["bill_trans_ref_no"] = tx["reconciliationId"]
        extra["card_type_name"] = cname
        return self._sa_result(form, decision, reason, extra, card_fields, tid)

    def _sa_result(self, form: dict[str, str], decision: str, reason: int | None, extra: dict,
                   card_fields: dict | None = None, tid: str | None = None) -> dict:
        r: dict[str, str] = {"decision": decision}
        if reason is not None:  # CANCEL: no reason_code at all
            r["reason_code"] = str(reason)
        r["message"] = SA_MESSAGES[reason] if reason is not None else CANCEL_MESSAGE
        r["transaction_id"] = tid or self._new_id()
        r.update(extra)
        for k, v in form.items():
            if k not in NO_ECHO:
                r["req_" + k] = v
        if card_fields:
            r.update(card_fields)
        r["signed_date_time"] = _utc()
        r["signed_field_names"] = ",".join(list(r) + ["signed_field_names"])
        r["signature"] = sa_sign(r, self.secret_key)
        with self.lock:
            self.sa_results.append(r)
        self.events.add("sa_result", decision=decision, reason_code=reason,
                        transaction_id=r["transaction_id"],
                        reference_number=form.get("reference_number"))
        return r

    # ---- SA pages -------------------------------------------------------------

    def _forbidden_page(self) -> Reply:
        return _html(403, "Not Authorized", f"<h1>Not Authorized</h1>\n<p>{NOT_AUTHORIZED}</p>")

    def _card_form_page(self, token: str, form: dict[str, str]) -> Reply:
        e = html.escape
        body = (
            "<h1>Payment Details</h1>\n"
            f"<p>Order <span id=\"reference_number\">{e(form['reference_number'])}</span>: "
            f"<span id=\"amount\">{e(form['amount'])}</span> <span id=\"currency\">{e(form['currency'])}</span></p>\n"
            "<form id=\"payment_form\" method=\"post\" action=\"/pay/complete\">\n"
            f"<input type=\"hidden\" name=\"session\" value=\"{e(token)}\">\n"
            "<p><label>Card number <input type=\"text\" name=\"card_number\" autocomplete=\"cc-number\"></label></p>\n"
            "<p><label>Expiry (MM-YYYY) <input type=\"text\" name=\"card_expiry_date\"></label></p>\n"
            "<p><label>CVN <input type=\"text\" name=\"card_cvn\"></label></p>\n"
            "<p><button type=\"submit\" name=\"action\" value=\"pay\">Pay</button>\n"
            "<button type=\"submit\" name=\"action\" value=\"cancel\">Cancel</button></p>\n"
            "</form>")
        return _html(200, "Secure Acceptance - Payment Details", body)

    def _receipt_target(self, result: dict) -> str | None:
        if result.get("decision") == "CANCEL" and result.get("req_override_custom_cancel_page"):
            return result["req_override_custom_cancel_page"]
        return result.get("req_override_custom_receipt_page") or self.receipt_url

    def _receipt_page(self, result: dict) -> Reply:
        e = html.escape
        url = self._receipt_target(result)
        if not url:
            rows = "\n".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in result.items())
            return _html(200, "Receipt", f"<h1>{e(result['decision'])}</h1>\n<table>\n{rows}\n</table>")
        inputs = "\n".join(f"<input type=\"hidden\" name=\"{e(k)}\" value=\"{e(v)}\">" for k, v in result.items())
        body = (f"<form id=\"receipt\" method=\"post\" action=\"{e(url)}\">\n{inputs}\n"
                "<noscript><p>Press Continue to return to the merchant.</p></noscript>\n"
                "<input type=\"submit\" value=\"Continue\">\n</form>\n"
                "<script>document.getElementById(\"receipt\").submit();</script>")
        return _html(200, "Processing", body)

    # ---- SA programmatic --------------------------------------------------------

    def pay(self, request_fields: dict, card: str = "4111111111111111", cancel: bool = False,
            expiry: str | None = None, cvn: str = "123") -> dict:
        """What a browser does with /pay and the card form, without HTML:
        returns the signed result fields and does the Merchant POST (by
        merchant_post_mode). PermissionError where /pay answers 403.
        expiry: MM-YYYY, default December five years ahead."""
        form = {k: str(v) for k, v in request_fields.items()}
        self.events.add("sa_pay", reference_number=form.get("reference_number"))
        kind, val = self._sa_begin(form)
        if kind == "forbidden":
            raise PermissionError(f"403 {NOT_AUTHORIZED} ({val})")
        if kind == "result":
            result = val
        else:
            with self.lock:
                sess = self.sa_sessions.pop(val)
            if expiry is None:
                expiry = f"12-{datetime.now(timezone.utc).year + 5}"
            result = self._sa_complete(sess, card, expiry, cvn, cancel=cancel)
        self._merchant_post(result)
        return result

    def post_receipt(self, fields: dict, url: str | None = None) -> WebhookAttempt:
        """POST result fields to the receipt URL as a browser would (the
        auto-submitted form); use it again to replay a browser POST."""
        url = url or self._receipt_target(fields)
        if not url:
            raise ValueError("no receipt URL: pass url=, set receipt_url or override_custom_receipt_page")
        body = urllib.parse.urlencode(fields).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": self.base_url,
                   "Referer": self.base_url + "/pay/complete",
                   "User-Agent": "Mozilla/5.0 (cybersource-fake browser)"}
        return self._post_webhook(url, body, headers, label="receipt", retries=0)[0]

    # ---- Merchant POST ----------------------------------------------------------

    def _merchant_post(self, result: dict) -> None:
        url, mode = self.merchant_post_url, self.merchant_post_mode
        if not url or mode == "never":
            self.events.add("merchant_post_skipped", transaction_id=result.get("transaction_id"),
                            why="no merchant_post_url" if not url else "never")
            return
        if mode == "delayed":
            def later():
                if not self.stopping.wait(self.merchant_post_delay):
                    self.deliver(result, url)
            t = threading.Thread(target=later, daemon=True, name="cybersource-merchant-post")
            with self.lock:
                self._mp_threads.append(t)
            t.start()
            return
        for _ in range(2 if mode == "duplicated" else 1):
            self.deliver(result, url)

    def deliver(self, fields: dict, url: str | None = None) -> list[WebhookAttempt]:
        """One Merchant POST of result fields (form-encoded) to url or
        merchant_post_url; also a replay helper."""
        url = url or self.merchant_post_url
        if not url:
            raise ValueError("no merchant_post_url")
        body = urllib.parse.urlencode(fields).encode()
        try:
            return self._post_webhook(url, body, {"Content-Type": "application/x-www-form-urlencoded"},
                                      label="merchant post")
        except ValueError as e:  # not a loopback URL
            self.events.add("merchant_post_error", url=url, error=str(e))
            return []

    def wait_merchant_posts(self, timeout: float = 10.0) -> None:
        """Wait (bounded) for delayed Merchant POSTs in flight."""
        deadline = time.monotonic() + timeout
        with self.lock:
            ts = list(self._mp_threads)
        for t in ts:
            t.join(max(0.0, deadline - time.monotonic()))

    def send_reply(self, *args, **kwargs) -> list[WebhookAttempt]:
        raise ValueError("cybersource has no inbound messages")

    # ======================================================================
    # REST

    def _auth_problem(self, req: RecordedRequest) -> str | None:
        h = req.headers
        mid = h.get("v-c-merchant-id")
        if not mid:
            return "no v-c-merchant-id"
        if mid != self.merchant_id:
            return "unknown v-c-merchant-id"
        date = h.get("date")
        if not date:
            return "no Date"
        try:
            when = email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError):
            when = None
        if when is None or not date.endswith(" GMT"):
            return "Date is not RFC 1123 GMT"
        if self.date_skew is not None and abs(time.time() - when.timestamp()) > self.date_skew:
            return "Date outside the skew window"
        host = h.get("host")
        if not host:
            return "no Host"
        sig = h.get("signature")
        if not sig:
            return "no Signature"
        params = dict(re.findall(r'(\w+)="([^"]*)"', sig))
        for p in ("keyid", "algorithm", "headers", "signature"):
            if p not in params:
                return f"Signature without {p}"
        if params["keyid"] != self.key_id:
            return "unknown keyid"
        if params["algorithm"] != "HmacSHA256":
            return "algorithm is not HmacSHA256"
        has_body = req.method in ("POST", "PUT", "PATCH")
        want_list = SIGNED_HEADERS_BODY if has_body else SIGNED_HEADERS_NOBODY
        if params["headers"] != want_list:
            return f"headers list is not {want_list!r}"
        values = {"host": host, "date": date, "(request-target)": f"{req.method.lower()} {req.target}",
                  "v-c-merchant-id": mid}
        if has_body:
            digest = h.get("digest")
            if not digest:
                return "no Digest"
            if not hmac.compare_digest(digest.encode(), body_digest(req.body).encode()):
                return "Digest does not match the body"
            values["digest"] = digest
        mac = hmac.new(base64.b64decode(self.shared_secret),
                       _signing_string(want_list.split(" "), values).encode("utf-8"), hashlib.sha256)
        if not hmac.compare_digest(base64.b64encode(mac.digest()), params["signature"].encode()):
            return "signature mismatch"
        return None

    def _unauthorized(self) -> Reply:
        return Reply(401, json.dumps({"response": {"rmsg": "Authentication Failed"}}).encode(),
                     content_type="application/json;charset=utf-8")

    def _rest(self, req: RecordedRequest) -> Reply:
        why = self._auth_problem(req)
        if why:
            self.last_auth_failure = why
            self.events.add("auth_failed", why=why, method=req.method, path=req.path)
            return self._unauthorized()
        endpoint = "query" if req.method == "GET" or req.path == "/tss/v2/searches" else "send"
        mode = self.take_mode(endpoint)
        if mode == "unauthorized":
            return self._unauthorized()
        if mode == "error_502":
            return _err(RestError(502, "SERVER_TIMEOUT", "Error - The request was received but there "
                                  "was a server timeout.", status_word="SERVER_ERROR"))
        if mode == "html_500":
            return html_reply(500, "500 Internal Server Error")
        if mode == "rate_limit":
            return Reply(429, json.dumps({"submitTimeUtc": _utc(), "status": "TOO_MANY_REQUESTS",
                                          "reason": "TOO_MANY_REQUESTS",
                                          "message": "Too many requests"}).encode(),
                         {"Retry-After": str(self.retry_after)}, content_type=HAL)
        if mode == "missing_field":
            return _err(_missing(_missing_field_for(req.path)))
        if mode == "slow" and self.stopping.wait(self.slow_seconds):
            return Reply(0, close=True)
        try:
            status, body = self._route(req, mode)
            reply = Reply(status, json.dumps(body).encode(), content_type=HAL)
        except RestError as e:
            reply = _err(e)
        if mode == "error_502_after":
            return _err(RestError(502, "SERVER_TIMEOUT", "Error - The request was received but there "
                                  "was a server timeout.", status_word="SERVER_ERROR"))
        if mode == "timeout_after_execute":
            self.hang()
            return Reply(0, close=True)
        return reply

    _ROUTES = [
        ("POST", re.compile(r"/pts/v2/payments"), "_op_payment"),
        ("POST", re.compile(r"/pts/v2/payments/([^/]+)/captures"), "_op_capture"),
        ("POST", re.compile(r"/pts/v2/payments/([^/]+)/reversals"), "_op_reversal"),
        ("POST", re.compile(r"/pts/v2/(payments|captures|refunds|credits)/([^/]+)/voids"), "_op_void"),
        ("POST", re.compile(r"/pts/v2/(payments|captures)/([^/]+)/refunds"), "_op_refund"),
        ("POST", re.compile(r"/pts/v2/voids"), "_op_timeout_void"),
        ("GET", re.compile(r"/tss/v2/transactions/([^/]+)"), "_op_get"),
        ("POST", re.compile(r"/tss/v2/searches"), "_op_search"),
        ("GET", re.compile(r"/tss/v2/searches/([^/]+)"), "_op_get_search"),
    ]

    def _route(self, req: RecordedRequest, mode: str) -> tuple[int, dict]:
        for method, rx, name in self._ROUTES:
            m = rx.fullmatch(req.path)
            if m and req.method == method:
                body: Any = None
                if method == "POST":
                    try:
                        body = json.loads(req.body or b"{}")
                    except ValueError:
                        raise _bad("INVALID_DATA", "Declined - The request body is not valid JSON")
                    if not isinstance(body, dict):
                        raise _bad("INVALID_DATA", "Declined - The request body is not a JSON object")
                with self.lock:
                    return getattr(self, name)(*m.groups(), body=body, mode=mode)
        return 404, {"submitTimeUtc": _utc(), "status": "NOT_FOUND", "reason": "NOT_FOUND",
                     "message": f"No resource {req.method} {req.path}"}

    # ---- validation helpers -------------------------------------------------

    def _amount(self, body: dict, path: str, positive: bool = True) -> Decimal:
        v = _get(body, path)
        if v is None or v == "":
            raise _missing(path)
        if not isinstance(v, str) or not AMOUNT_RE.fullmatch(v):
            raise _invalid(path)
        d = Decimal(v)
        if positive and d <= 0:
            raise _bad("INVALID_AMOUNT", "Declined - The amount must be greater than zero", path, "INVALID_DATA")
        return d

    def _currency(self, body: dict, path: str = "orderInformation.amountDetails.currency",
                  must_be: str | None = None) -> str:
        v = _get(body, path)
        if v is None or v == "":
            raise _missing(path)
        if not isinstance(v, str) or not re.fullmatch(r"[A-Za-z]{3}", v):
            raise _invalid(path)
        if must_be and v.upper() != must_be:
            raise _invalid(path, f"Declined - The currency {v} is not the currency of the payment ({must_be})")
        return v.upper()

    def _client_tid(self, body: dict) -> str | None:
        tid = _get(body, "clientReferenceInformation.transactionId")
        if tid is None or tid == "":
            return None
        if not isinstance(tid, str):
            raise _invalid("clientReferenceInformation.transactionId")
        if tid in self.client_tids:
            raise _invalid("clientReferenceInformation.transactionId",
                           "Declined - The transactionId was already used in an earlier request")
        return tid

    def _code(self, body: dict) -> str | None:
        code = _get(body, "clientReferenceInformation.code")
        if code is not None and not isinstance(code, str):
            raise _invalid("clientReferenceInformation.code")
        return code or None

    def _find(self, id_: str, *types: str, what: str) -> dict:
        tx = self.transactions.get(id_)
        if tx is None:
            raise _unknown_id()
        if tx["type"] not in types:
            raise _unknown_id(f"Please provide a valid payment ID: {id_} is a {tx['type']}, not {what}")
        return tx

    def _declined_record(self, type_: str, parent: dict, amount: Decimal, currency: str,
                         code: str | None, client_tid: str | None) -> tuple[int, dict]:
        err = {"reason": "PROCESSOR_DECLINED",
               "message": "Decline - General decline of the card. No other information provided by the issuing bank."}
        tx = self._new_tx(type_, "DECLINED", amount, currency, code=code, client_tid=client_tid,
                          parent=parent, reason_code=203, error=err, response_code="05")
        return 201, self._created_body(tx)

    # ---- 201 bodies -------------------------------------------------------------

    def _created_body(self, tx: dict, status: str | None = None) -> dict:
        i, t = tx["id"], tx["type"]
        base = {"authorization": "payments", "sale": "payments", "capture": "captures",
                "reversal": "reversals", "refund": "refunds", "void": "voids"}[t]
        links = {"self": {"href": f"/pts/v2/{base}/{i}", "method": "GET"}}
        st = status or tx["status"]
        if st != "DECLINED":
            if t == "authorization" and st in ("AUTHORIZED",):
                links["reversal"] = {"href": f"/pts/v2/payments/{i}/reversals", "method": "POST"}
                links["capture"] = {"href": f"/pts/v2/payments/{i}/captures", "method": "POST"}
            elif t == "authorization":
                links["reversal"] = {"href": f"/pts/v2/payments/{i}/reversals", "method": "POST"}
            elif t == "sale":
                links["void"] = {"href": f"/pts/v2/payments/{i}/voids", "method": "POST"}
                links["refund"] = {"href": f"/pts/v2/payments/{i}/refunds", "method": "POST"}
            elif t == "capture":
                links["void"] = {"href": f"/pts/v2/captures/{i}/voids", "method": "POST"}
                links["refund"] = {"href": f"/pts/v2/captures/{i}/refunds", "method": "POST"}
            elif t == "refund":
                links["void"] = {"href": f"/pts/v2/refunds/{i}/voids", "method": "POST"}
        amt = {"totalAmount": _fmt(tx["amount"]), "currency": tx["currency"]}
        if t in ("authorization", "sale") and st != "DECLINED":
            amt["authorizedAmount"] = _fmt(tx["amount"])
        b: dict[str, Any] = {
            "_links": links, "id": i, "submitTimeUtc": tx["submitTimeUtc"], "status": st,
            "reconciliationId": tx["reconciliationId"],
            "clientReferenceInformation": dict(tx["clientReferenceInformation"]),
            "processorInformation": {"approvalCode": tx["approvalCode"], "responseCode": tx["responseCode"],
                                     "transactionId": tx["processorTransactionId"]},
            "orderInformation": {"amountDetails": amt},
        }
        if tx["approvalCode"] is None:
            del b["processorInformation"]["approvalCode"]
        if tx["error"]:
            b["errorInformation"] = dict(tx["error"])
        if t in ("authorization", "sale") and tx["card"]:
            b["paymentInformation"] = {"card": {"type": tx["card"]["type"]}}
            b["paymentAccountInformation"] = {"card": {"type": tx["card"]["type"]}}
        parent = self.transactions.get(tx["parent"]) if tx["parent"] else None
        orig = _fmt(parent["amount"]) if parent else None
        if t == "reversal":
            b["reversalAmountDetails"] = {"reversedAmount": _fmt(tx["amount"]),
                                          "originalTransactionAmount": orig, "currency": tx["currency"]}
        elif t == "refund":
            b["refundAmountDetails"] = {"refundAmount": _fmt(tx["amount"]), "currency": tx["currency"]}
        elif t == "void":
            b["voidAmountDetails"] = {"voidAmount": _fmt(tx["amount"]),
                                      "originalTransactionAmount": orig, "currency": tx["currency"]}
        return b

    # ---- operations ---------------------------------------------------------

    def _op_payment(self, *, body: dict, mode: str) -> tuple[int, dict]:
        code = self._code(body)
        if not code:
            raise _missing("clientReferenceInformation.code")
        amount = self._amount(body, "orderInformation.amountDetails.totalAmount", positive=False)
        currency = self._currency(body)
        pi = body.get("paymentInformation") if isinstance(body.get("paymentInformation"), dict) else {}
        number = _get(pi, "card.number")
        token = any(_get(pi, p) for p in ("customer.id", "paymentInstrument.id",
                                          "instrumentIdentifier.id", "legacyToken.id"))
        card_info = None
        if number is None and not token:
            raise _missing("paymentInformation.card.number")
        if number is not None:
            if not isinstance(number, str) or not _valid_card(number):
                raise _bad("INVALID_CARD", "Declined - Invalid account number",
                           "paymentInformation.card.number", "INVALID_DATA")
            mm, yy = _get(pi, "card.expirationMonth"), _get(pi, "card.expirationYear")
            for f, v in (("expirationMonth", mm), ("expirationYear", yy)):
                if v is None or v == "":
                    raise _missing(f"paymentInformation.card.{f}")
            if not (isinstance(mm, str) and re.fullmatch(r"0?[1-9]|1[0-2]", mm)):
                raise _invalid("paymentInformation.card.expirationMonth")
            if not (isinstance(yy, str) and re.fullmatch(r"\d{4}", yy)):
                raise _invalid("paymentInformation.card.expirationYear")
            ctype, _ = _card_type(number)
            card_info = {"suffix": number[-4:], "prefix": number[:6], "type": ctype,
                         "expirationMonth": f"{int(mm):02d}", "expirationYear": yy}
            expired = _expired(int(mm), int(yy))
        else:
            number, expired = "4111111111111111", False
            card_info = {"suffix": "1111", "prefix": "411111", "type": "001"}
        client_tid = self._client_tid(body)
        cap = _get(body, "processingInformation.capture") in (True, "true")
        type_ = "sale" if cap else "authorization"
        decision, reason = CARD_OUTCOMES.get(number, ("ACCEPT", 100))
        if expired:
            decision, reason = "DECLINE", 202
        if mode == "declined":
            decision, reason = "DECLINE", 203
        elif mode == "pending_review":
            decision, reason = "REVIEW", 480
        if reason == 150:
            raise RestError(502, "SYSTEM_ERROR", "Error - General system failure.", status_word="SERVER_ERROR")
        kw = dict(code=code, client_tid=client_tid, card=card_info)
        if decision == "DECLINE":
            err_reason, rc = REST_DECLINES[reason]
            if mode == "declined":
                err_reason = "PROCESSOR_DECLINED"
            tx = self._new_tx(type_, "DECLINED", amount, currency, reason_code=reason, response_code=rc,
                              error={"reason": err_reason, "message": SA_MESSAGES[reason]}, **kw)
            return 201, self._created_body(tx)
        if decision == "REVIEW":
            st = "AUTHORIZED_PENDING_REVIEW" if reason == 480 else "AUTHORIZED_RISK_DECLINED"
            tx = self._new_tx(type_, st, amount, currency, reason_code=reason, **kw)
            tx["error"] = {"reason": "PENDING_REVIEW" if reason == 480 else "DECISION_PROFILE_REJECT",
                           "message": SA_MESSAGES[reason]}  # 🟡 REST errorInformation on held auths
            return 201, self._created_body(tx)
        tx = self._new_tx(type_, "PENDING" if cap else "AUTHORIZED", amount, currency, **kw)
        if reason == 151:  # it happened, but the answer is a timeout
            raise RestError(502, "SERVER_TIMEOUT", SA_MESSAGES[151], status_word="SERVER_ERROR")
        # a sale's 201 says AUTHORIZED (no PENDING in the payments status list)
        return 201, self._created_body(tx, status="AUTHORIZED")

    def _op_capture(self, id_: str, *, body: dict, mode: str) -> tuple[int, dict]:
        auth = self.transactions.get(id_)
        if auth is not None and auth["type"] == "sale":
            raise _state("Declined - This payment was a sale: it is already captured")
        auth = self._find(id_, "authorization", what="an authorization")
        amount = self._amount(body, "orderInformation.amountDetails.totalAmount")
        currency = self._currency(body, must_be=auth["currency"])
        code = self._code(body)
        client_tid = self._client_tid(body)
        st = auth["status"]
        if st == "PENDING":
            raise _state("Declined - The authorization has already been captured")
        if st == "REVERSED":
            raise _state("Declined - The authorization has been reversed")
        if st in ("VOIDED", "DECLINED"):
            raise _state(f"Declined - The authorization is {st}")
        if st != "AUTHORIZED":
            raise _state(f"Declined - The authorization is {st} and cannot be captured")
        if amount > auth["authorized"]:
            raise _bad("INVALID_AMOUNT", f"Declined - The capture amount exceeds the authorized amount "
                       f"({_fmt(auth['authorized'])})", "orderInformation.amountDetails.totalAmount",
                       "INVALID_DATA")
        if mode == "declined":
            return self._declined_record("capture", auth, amount, currency, code, client_tid)
        cap = self._new_tx("capture", "PENDING", amount, currency, code=code, client_tid=client_tid,
                           parent=auth)
        auth["captured"] = amount
        auth["capture_id"] = cap["id"]
        self._set_status(auth, "PENDING", f"captured by {cap['id']}")
        return 201, self._created_body(cap)

    def _op_reversal(self, id_: str, *, body: dict, mode: str) -> tuple[int, dict]:
        auth = self.transactions.get(id_)
        if auth is not None and auth["type"] == "sale":
            raise _state("Declined - A sale is voided (/pts/v2/payments/{id}/voids) or refunded, not reversed")
        auth = self._find(id_, "authorization", what="an authorization")
        amount = self._amount(body, "reversalInformation.amountDetails.totalAmount")
        code = self._code(body)
        client_tid = self._client_tid(body)
        st = auth["status"]
        if st == "PENDING":
            raise _state("Declined - The authorization has already been captured: void or refund the capture")
        if st in ("REVERSED", "VOIDED", "DECLINED"):
            raise _state(f"Declined - The authorization is {st}")
        if amount > auth["authorized"]:
            raise _bad("INVALID_AMOUNT", f"Declined - The reversal amount exceeds the authorized amount "
                       f"({_fmt(auth['authorized'])})", "reversalInformation.amountDetails.totalAmount",
                       "INVALID_DATA")
        if mode == "declined":
            return self._declined_record("reversal", auth, amount, auth["currency"], code, client_tid)
        rev = self._new_tx("reversal", "REVERSED", amount, auth["currency"], code=code,
                           client_tid=client_tid, parent=auth)
        rev["reversal_reason"] = _get(body, "reversalInformation.reason")
        auth["authorized"] -= amount
        if auth["authorized"] <= 0:
            self._set_status(auth, "REVERSED", f"reversed by {rev['id']}")
        else:
            auth["history"].append({"at": _utc(), "status": st, "event": f"partly reversed by {rev['id']}"})
        return 201, self._created_body(rev)

    def _live_refunds(self, root: dict) -> list[str]:
        def refunds_of(t):
            return [c for c in t["children"] if self.transactions[c]["type"] == "refund"
                    and self.transactions[c]["status"] == "PENDING"]
        out = refunds_of(root)
        if root.get("capture_id"):
            out += refunds_of(self.transactions[root["capture_id"]])
        return out

    def _void_effect(self, target: dict) -> tuple[dict, Decimal]:
        """Check and apply a void of target (sale, capture, refund; an
        authorization only for a timeout void); return (the record voided, amount)."""
        t, st = target["type"], target["status"]
        if st == "VOIDED":
            raise _state(f"Declined - The {t} has already been voided")
        if t == "authorization":
            if st not in ("AUTHORIZED", "AUTHORIZED_PENDING_REVIEW", "AUTHORIZED_RISK_DECLINED"):
                raise _state(f"Declined - The authorization is {st}: nothing to void"
                             + (" (void the capture)" if st == "PENDING" else ""))
            self._set_status(target, "VOIDED", "timeout void")
            return target, target["authorized"]
        if st != "PENDING" and not (t == "sale" and st == "PARTIAL_AUTHORIZED"):
            raise _state(f"Declined - The {t} is {st} and cannot be voided")
        if t == "refund":
            root = self.transactions[target["root"]]
            root["refunded"] -= target["amount"]
            self._set_status(target, "VOIDED", "voided")
            return target, target["amount"]
        root = self.transactions[target["root"]]
        if self._live_refunds(root):
            raise _state("Declined - The payment has refunds: void the refunds first")
        self._set_status(target, "VOIDED", "voided")
        if t == "capture":
            self._set_status(root, "VOIDED", f"capture {target['id']} voided")
        return target, target["amount"]

    def _op_void(self, kind: str, id_: str, *, body: dict, mode: str) -> tuple[int, dict]:
        if kind == "credits":
            raise _unknown_id()
        want = {"payments": "sale", "captures": "capture", "refunds": "refund"}[kind]
        tx = self.transactions.get(id_)
        if tx is not None and want == "sale" and tx["type"] == "authorization":
            raise _state("Declined - An authorization is reversed (/pts/v2/payments/{id}/reversals), not voided")
        target = self._find(id_, want, what=f"a {want}")
        code = self._code(body)
        client_tid = self._client_tid(body)
        if target["status"] == "VOIDED":
            raise _state(f"Declined - The {want} has already been voided")
        if mode == "declined":
            return self._declined_record("void", target, target["amount"], target["currency"], code, client_tid)
        _, amount = self._void_effect(target)
        void = self._new_tx("void", "VOIDED", amount, target["currency"], code=code,
                            client_tid=client_tid, parent=target)
        return 201, self._created_body(void)

    def _op_refund(self, kind: str, id_: str, *, body: dict, mode: str) -> tuple[int, dict]:
        tx = self.transactions.get(id_)
        if kind == "payments":
            if tx is not None and tx["type"] == "authorization":
                if tx.get("capture_id"):
                    raise _state(f"Declined - This payment was captured separately: refund the capture "
                                 f"(/pts/v2/captures/{tx['capture_id']}/refunds)")
                raise _state("Declined - The authorization has not been captured")
            target = self._find(id_, "sale", what="a sale")
        else:
            target = self._find(id_, "capture", what="a capture")
        amount = self._amount(body, "orderInformation.amountDetails.totalAmount")
        currency = self._currency(body, must_be=target["currency"])
        code = self._code(body)
        client_tid = self._client_tid(body)
        if target["status"] != "PENDING":
            raise _state(f"Declined - The {target['type']} is {target['status']} and cannot be refunded")
        root = self.transactions[target["root"]]
        if root["refunded"] + amount > root["captured"]:
            raise _bad("INVALID_AMOUNT", f"Declined - The refund amount exceeds the refundable amount "
                       f"({_fmt(root['captured'] - root['refunded'])})",
                       "orderInformation.amountDetails.totalAmount", "INVALID_DATA")
        if mode == "declined":
            return self._declined_record("refund", target, amount, currency, code, client_tid)
        ref = self._new_tx("refund", "PENDING", amount, currency, code=code, client_tid=client_tid,
                           parent=target)
        root["refunded"] += amount
        root["history"].append({"at": _utc(), "status": root["status"], "event": f"refund {ref['id']}"})
        return 201, self._created_body(ref)

    def _op_timeout_void(self, *, body: dict, mode: str) -> tuple[int, dict]:
        tid = _get(body, "clientReferenceInformation.transactionId")
        if tid is None or tid == "":
            raise _missing("clientReferenceInformation.transactionId")
        target_id = self.client_tids.get(tid) if isinstance(tid, str) else None
        target = self.transactions.get(target_id) if target_id else None
        if target is None:
            raise _invalid("clientReferenceInformation.transactionId",
                           "Declined - no transaction with this transactionId")
        if target["timeout_void"]:  # again: the same answer
            return 201, self._created_body(self.transactions[target["timeout_void"]])
        if target["type"] not in ("authorization", "sale", "capture", "refund"):
            raise _state(f"Declined - A {target['type']} cannot be voided")
        if target["status"] == "DECLINED":
            raise _state("Declined - The transaction was declined: nothing to void")
        if mode == "declined":
            return self._declined_record("void", target, target["amount"], target["currency"],
                                         self._code(body), None)
        _, amount = self._void_effect(target)
        void = self._new_tx("void", "VOIDED", amount, target["currency"], code=self._code(body),
                            parent=target, event="timeout void")
        void["clientReferenceInformation"]["transactionId"] = tid
        target["timeout_void"] = void["id"]
        return 201, self._created_body(void)

    # ---- TSS --------------------------------------------------------------------

    def _visible(self, tx: dict) -> bool:
        return time.time() >= tx["created"] + self.tss_delay

    def _applications(self, tx: dict) -> list[dict]:
        rcode, rflag = R_FLAGS.get(tx["reason_code"], ("0", "DINVALIDDATA"))
        out = []
        for name in APPLICATION_NAMES[tx["type"]].split(","):
            out.append({"name": name, "reasonCode": str(tx["reason_code"]), "rCode": rcode, "rFlag": rflag,
                        "reconciliationId": tx["reconciliationId"],
                        "rMessage": SA_MESSAGES.get(tx["reason_code"], ""), "returnCode": 1010000})
        return out

    def _summary(self, tx: dict) -> dict:
        rcode, rflag = R_FLAGS.get(tx["reason_code"], ("0", "DINVALIDDATA"))
        s = {
            "id": tx["id"], "submitTimeUtc": tx["submitTimeUtc"], "merchantId": self.merchant_id,
            "applicationInformation": {"status": tx["status"], "reasonCode": str(tx["reason_code"]),
                                       "rCode": rcode, "rFlag": rflag,
                                       "applications": self._applications(tx)},
            "clientReferenceInformation": {
                **tx["clientReferenceInformation"],
                "applicationName": "Secure Acceptance Web/Mobile" if tx["source"] == "sa" else "REST API"},
            "orderInformation": {"amountDetails": {"totalAmount": _fmt(tx["amount"]), "currency": tx["currency"]}},
            "processorInformation": {"approvalCode": tx["approvalCode"], "responseCode": tx["responseCode"],
                                     "transactionId": tx["processorTransactionId"]},
            "_links": {"transactionDetail": {"href": f"/tss/v2/transactions/{tx['id']}", "method": "GET"}},
        }
        if tx["approvalCode"] is None:
            del s["processorInformation"]["approvalCode"]
        if tx["card"]:
            s["paymentInformation"] = {"card": {"suffix": tx["card"]["suffix"], "type": tx["card"]["type"]}}
        if tx["source"] == "sa":
            s["decision"] = tx["decision"]
        return s

    def _detail(self, tx: dict) -> dict:
        d = self._summary(tx)
        d.pop("_links")
        d["rootId"] = tx["root"]
        d["reconciliationId"] = tx["reconciliationId"]
        if tx["type"] in ("authorization", "sale") and tx["status"] != "DECLINED":
            d["orderInformation"]["amountDetails"]["authorizedAmount"] = _fmt(tx["authorized"])
        if tx["error"]:
            d["errorInformation"] = dict(tx["error"])
        d["processingInformation"] = {"capture": tx["type"] == "sale"}
        related = ([tx["parent"]] if tx["parent"] else []) + list(tx["children"])
        d["_links"] = {"self": {"href": f"/tss/v2/transactions/{tx['id']}", "method": "GET"}}
        if related:
            d["_links"]["relatedTransactions"] = [{"href": f"/tss/v2/transactions/{r}", "method": "GET"}
                                                  for r in related]
        return d

    def _op_get(self, id_: str, *, body: Any, mode: str) -> tuple[int, dict]:
        tx = self.transactions.get(id_)
        if tx is None or not self._visible(tx):
            return 404, {"submitTimeUtc": _utc(), "status": "NOT_FOUND", "reason": "NOT_FOUND",
                         "message": "The requested resource does not exist"}
        return 200, self._detail(tx)

    _SEARCH_FIELDS = {"clientReferenceInformation.code": lambda t: t["clientReferenceInformation"]["code"],
                      "clientReferenceInformation.transactionId":
                          lambda t: t["clientReferenceInformation"].get("transactionId"),
                      "id": lambda t: t["id"]}

    def _op_search(self, *, body: dict, mode: str) -> tuple[int, dict]:
        query = body.get("query")
        if query is None or query == "":
            raise _missing("query")
        if not isinstance(query, str):
            raise _invalid("query")
        terms = []
        for term in re.split(r"\s+AND\s+", query.strip()):
            name, sep, value = term.partition(":")
            name, value = name.strip(), value.strip()
            if name == "submitTimeUtc":
                continue  # date ranges: accepted, not applied
            if not sep or name not in self._SEARCH_FIELDS or not value:
                raise _invalid("query", f"Declined - Unsupported query term {term!r} (this fake searches "
                               f"{', '.join(self._SEARCH_FIELDS)})")
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            terms.append((self._SEARCH_FIELDS[name], value))
        limit, offset = body.get("limit", 20), body.get("offset", 0)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 2500:
            raise _invalid("limit")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise _invalid("offset")
        sort = body.get("sort", "submitTimeUtc:desc")
        if sort not in ("submitTimeUtc:desc", "submitTimeUtc:asc"):
            raise _invalid("sort")
        hits = [t for t in self.transactions.values()
                if self._visible(t) and all(f(t) == v for f, v in terms)]
        hits.sort(key=lambda t: t["seq"], reverse=sort.endswith("desc"))
        page = hits[offset:offset + limit]
        sid = str(uuid.uuid4())
        res = {
            "searchId": sid, "save": bool(body.get("save", False)), "name": body.get("name", ""),
            "timezone": body.get("timezone", "UTC"), "query": query, "offset": offset, "limit": limit,
            "sort": sort, "count": len(page), "totalCount": len(hits), "submitTimeUtc": _utc(),
            "_embedded": {"transactionSummaries": [self._summary(t) for t in page]},
            "_links": {"self": {"href": f"/tss/v2/searches/{sid}", "method": "GET"}},
        }
        self.searches[sid] = res
        return 201, res

    def _op_get_search(self, sid: str, *, body: Any, mode: str) -> tuple[int, dict]:
        res = self.searches.get(sid)
        if res is None:
            return 404, {"submitTimeUtc": _utc(), "status": "NOT_FOUND", "reason": "NOT_FOUND",
                         "message": "The requested resource does not exist"}
        return 200, res

    # ---- control plane (bench) ----------------------------------------------

    def _control(self, req: RecordedRequest) -> Reply:
        p = req.path[len("/_fake/"):]
        args = req.parsed if isinstance(req.parsed, dict) else {}
        try:
            if p == "pay" and req.method == "POST":
                try:
                    return json_reply(200, self.pay(args["request_fields"], card=args.get("card", "4111111111111111"),
                                                    cancel=bool(args.get("cancel", False))))
                except PermissionError as e:
                    return json_reply(403, {"error": str(e)})
            if p == "config" and req.method == "POST":
                for k in ("merchant_post_url", "receipt_url", "merchant_post_mode", "merchant_post_delay",
                          "slow_seconds", "tss_delay", "date_skew"):
                    if k in args:
                        setattr(self, k, args[k])
                return json_reply(200, {"ok": True})
            if p == "transactions" and req.method == "GET":
                with self.lock:
                    return Reply(200, json.dumps(self.transactions, default=str).encode())
            if p == "review" and req.method == "POST":
                return Reply(200, json.dumps(self.resolve_review(args["request_id"],
                                                                 bool(args.get("accept", True))),
                                             default=str).encode())
        except (KeyError, TypeError, ValueError) as e:
            return json_reply(400, {"error": repr(e)})
        return super()._control(req)


def _missing_field_for(path: str) -> str:
    if "/reversals" in path:
        return "reversalInformation.amountDetails.totalAmount"
    if path.endswith("/voids"):
        return "clientReferenceInformation.transactionId" if path == "/pts/v2/voids" else "clientReferenceInformation.code"
    if path.startswith("/tss/v2/searches"):
        return "query"
    if path.startswith("/tss/"):
        return "id"
    return "orderInformation.amountDetails.totalAmount"


def _err(e: RestError) -> Reply:
    return Reply(e.status, json.dumps(e.body()).encode(), content_type=HAL)


def _html(status: int, title: str, body: str) -> Reply:
    page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title></head>\n"
            f"<body>\n{body}\n</body></html>\n")
    return Reply(status, page.encode(), content_type="text/html; charset=utf-8")


if __name__ == "__main__":
    def _args(p):
        p.add_argument("--merchant-id", default=DEFAULT_MERCHANT_ID)
        p.add_argument("--access-key", default=DEFAULT_ACCESS_KEY)
        p.add_argument("--profile-id", default=DEFAULT_PROFILE_ID)
        p.add_argument("--secret-key", default=DEFAULT_SECRET_KEY)
        p.add_argument("--key-id", default=DEFAULT_KEY_ID)
        p.add_argument("--shared-secret", default=DEFAULT_SHARED_SECRET)
        p.add_argument("--merchant-post-url")
        p.add_argument("--receipt-url")
        p.add_argument("--date-skew", type=float, default=300)

    run_standalone(lambda a: CyberSourceFake(
        merchant_id=a.merchant_id, access_key=a.access_key, profile_id=a.profile_id,
        secret_key=a.secret_key, key_id=a.key_id, shared_secret=a.shared_secret,
        merchant_post_url=a.merchant_post_url, receipt_url=a.receipt_url, date_skew=a.date_skew,
        port=a.port, hang_seconds=a.hang_seconds), _args)
