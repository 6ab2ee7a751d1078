"""mp_helpers.py — the marketplace API family (docs/marketplace.md) from the
black-box suites: a server of a module's own with a secrets_key, its CLI
(`chatpay marketplace …` with the same key), clients and products made with
the CLI, access tokens, Transact bodies and signatures, and the response
checks shared by test_marketplace.py and test_marketplace_results.py.

Every HTTP answer goes through openapi_check (ApiClient, or check_response
for answers read in threads), like every other API test.

The credentials `client create` prints (clientSecret, apiKey,
signatureSecret) and every access token are registered in SECRETS (as
callback_secrets: assert_no_secrets then looks for the whole value and for
its part after the first "_") and in MP_SECRETS; stop_env() checks the
server's log and stdout for them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from cp_helpers import SECRETS, ServerProcess, assert_no_secrets, db_query, db_tables, db_url_for, \
    run_cli, start_server
from openapi_check import REPO, ApiClient, get_checker

# ---- endpoints ----------------------------------------------------------------------------

TOKEN = "/token"
TOKEN_ALIAS = "/auth/token"
TRANSACT = "/core-transact/4.0"
TRANSACT_GW = "/apiman-gateway/PaydServices/core-transact/4.0"
LOOKUP = "/lookup-api/2.0"
TERMS = "/financial-terms/1.0"
PRODUCTS = "/product-lookup/1.0"
INFLIGHT = "/in-flight-check/1.0"
MNO = "/mno-lookup/1.0"
TOKENS = "/token-lookup/1.0"
LOOKUPS = (LOOKUP, TERMS, PRODUCTS, INFLIGHT, MNO, TOKENS)

# ---- the response code registry of docs/marketplace.md ----------------------------------------

CODES = {
    "1000": (400, "Invalid request"),
    "1001": (401, "Invalid or expired access token"),
    "1002": (401, "Invalid API key"),
    "1003": (401, "Signature required"),
    "1004": (401, "Invalid signature"),
    "1005": (403, "Client mismatch"),
    "1006": (403, "Funding source mismatch"),
    "1404": (404, "Not found"),
    "1405": (405, "Method not allowed"),
    "1413": (413, "Request too large"),
    "1415": (415, "Unsupported media type"),
    "1429": (429, "Too many requests"),
    "2001": (422, "Unknown product"),
    "2002": (422, "Product not active"),
    "2003": (422, "Amount below minimum"),
    "2004": (422, "Amount above maximum"),
    "2005": (422, "Invalid fee amount"),
    "2006": (422, "Currency mismatch"),
    "2007": (409, "Duplicate transaction reference"),
    "2008": (409, "Transaction in progress"),
    "2009": (422, "Transaction failed"),
    "2010": (422, "Product not available"),
    "9000": (500, "Internal error"),
    "9001": (503, "Service unavailable"),
}
RESULT_MESSAGES = {"0000": "Success", "2201": "Supplier failure", "2213": "Invalid target number",
                   "2239": "Vendor timeout", "2010": "Product not available"}

TOKEN_KEYS = {"access_token", "token_type", "expires_in", "refresh_expires_in",
              "not-before-policy", "scope"}
LOOKUP_KEYS = {
    "raasTxnRef", "clientId", "fundingSourceId", "clientTxnRef", "reserveFundsTxnRef",
    "productId", "productName", "productType", "vendor", "purchaseAmount", "feeAmount",
    "currencyCode", "sourceIdentifier", "targetIdentifier", "channelId", "channelName", "status",
    "reserveResponseCode", "transactResponseCode", "resultResponseCode", "resultResponseMessage",
    "resultDelivery", "requestTimestamp", "createdAt", "updatedAt", "completedAt",
    "responseCode", "responseMessage",
}
DELIVERY_KEYS = {"state", "attempts", "lastHttpStatus", "deliveredAt"}
RESULT_KEYS = {
    "raasTxnRef", "clientId", "fundingSourceId", "clientTxnRef", "reserveFundsTxnRef", "productId",
    "purchaseAmount", "feeAmount", "currencyCode", "sourceIdentifier", "targetIdentifier",
    "status", "responseCode", "responseMessage", "tokens", "timestamp",
}
PRODUCT_KEYS = {"productId", "name", "type", "vendor", "currencyCode", "minAmount", "maxAmount",
                "feeAmount", "active", "issuesTokens"}

UUID_ANY = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MAGIC = ("2201", "2213", "2239")
REQUEST_TIMESTAMP = "2026-01-31T12:00:00.000Z"

# every marketplace credential and access token of the session
MP_SECRETS: set[str] = set()


def register(*values: str) -> None:
    for v in values:
        if v:
            MP_SECRETS.add(v)
            SECRETS.callback_secrets.add(v)


# ---- the published example ------------------------------------------------------------------


def published_example() -> bytes:
    """The request body of the example in spec/transact-api.txt, byte for
    byte as printed there (its Content-Length line says 501; the body is
    longer: that number is the publisher's)."""
    text = (REPO / "spec" / "transact-api.txt").read_bytes()
    at = text.index(b"Content-Length: 501")
    start = text.index(b"{", at)
    rest = text[start:].decode("utf-8")
    _, end = json.JSONDecoder().raw_decode(rest)
    body = rest[:end].encode("utf-8")
    json.loads(body)
    return body


# ---- bodies, signatures -------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """base64 of HMAC-SHA256 of the raw body under the secret's text (the doc's
    rule, computed here independently of chatpay)."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode()


def fresh_ref(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def fresh_number(ending: str | None = None) -> str:
    """A 13-digit number; its last four digits are not one of the vendor's
    magic endings unless `ending` asks for one."""
    while True:
        n = f"234{secrets.randbelow(10**10):010d}"
        if ending is not None:
            return n[:-len(ending)] + ending
        if not n.endswith(MAGIC):
            return n


def dumps(body) -> bytes:
    return json.dumps(body).encode()


# ---- clients and products -----------------------------------------------------------------


@dataclass
class Client:
    id: int
    funding: int
    secret: str
    api_key: str
    sig_secret: str
    raw: dict
    token: str | None = None


@dataclass
class Product:
    id: int
    type: str
    currency: str
    min: int
    max: int
    fee: int
    name: str
    vendor: str
    active: bool = True

    def api(self) -> dict:
        """The product as Product Lookup shows it."""
        return {"productId": self.id, "name": self.name, "type": self.type, "vendor": self.vendor,
                "currencyCode": self.currency, "minAmount": self.min, "maxAmount": self.max,
                "feeAmount": self.fee, "active": self.active,
                "issuesTokens": self.type in ("electricity", "voucher")}


@dataclass
class MpEnv:
    proc: ServerProcess
    secrets_key: str
    api: ApiClient = None
    _client_ids: itertools.count = field(default_factory=lambda: itertools.count(1001))
    _product_ids: itertools.count = field(default_factory=lambda: itertools.count(5001))

    def __post_init__(self):
        self.api = ApiClient(self.proc.base_url)

    @property
    def base_url(self) -> str:
        return self.proc.base_url

    @property
    def db_url(self) -> str:
        return self.proc.db_url

    # -- the CLI --

    def cli(self, *args: str, secrets_key: bool = True, db: bool = True):
        """chatpay ARGS --db <this server's database>, with CHATPAY_SECRETS_KEY."""
        argv = list(args)
        if db and "--db" not in argv and "--help" not in argv:
            argv += ["--db", self.db_url]
        env = {"CHATPAY_SECRETS_KEY": self.secrets_key} if secrets_key else {}
        res = run_cli(*argv, env=env, cwd=self.proc.workdir)
        return res

    def ok(self, *args: str, **kw):
        res = self.cli(*args, **kw)
        assert res.returncode == 0, f"chatpay {' '.join(args)} → {res.returncode}: {res.stderr}"
        return res

    def client_id(self) -> int:
        return next(self._client_ids)

    def product_id(self) -> int:
        return next(self._product_ids)

    def create_client(self, client_id: int | None = None, *, funding: int | None = None,
                      result_url: str | None = None, require_signature: bool = False,
                      environment: str | None = None, name: str | None = None) -> Client:
        cid = client_id if client_id is not None else self.client_id()
        args = ["marketplace", "client", "create", "--client-id", str(cid),
                "--name", name or f"Bank {uuid.uuid4().hex[:6]}", "--json"]
        if funding is not None:
            args += ["--funding-source-id", str(funding)]
        if result_url is not None:
            args += ["--result-url", result_url]
        if require_signature:
            args.append("--require-signature")
        if environment is not None:
            args += ["--environment", environment]
        raw = self.ok(*args).json()
        register(raw.get("clientSecret"), raw.get("apiKey"), raw.get("signatureSecret"))
        for k in ("clientId", "fundingSourceId", "clientSecret", "apiKey", "signatureSecret"):
            assert k in raw, f"client create --json lacks {k}: {sorted(raw)}"
        return Client(raw["clientId"], raw["fundingSourceId"], raw["clientSecret"], raw["apiKey"],
                      raw["signatureSecret"], raw)

    def add_product(self, type: str = "airtime", *, currency: str = "NGN", min: int = 5000,
                    max: int = 5000000, fee: int = 0, inactive: bool = False,
                    pid: int | None = None, name: str | None = None,
                    vendor: str = "MTN") -> Product:
        p = Product(pid if pid is not None else self.product_id(), type, currency, min, max, fee,
                    name or f"{type.title()} {uuid.uuid4().hex[:6]}", vendor, not inactive)
        args = ["marketplace", "product", "add", "--id", str(p.id), "--name", p.name,
                "--type", type, "--vendor", vendor, "--currency", currency, "--min", str(min),
                "--max", str(max), "--fee", str(fee)]
        if inactive:
            args.append("--inactive")
        self.ok(*args)
        return p

    # -- tokens --

    def token_request(self, data: bytes | str | None, *, path: str = TOKEN,
                      headers: dict | None = None, basic: tuple | None = None):
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        if basic is not None:
            h["Authorization"] = "Basic " + base64.b64encode(
                f"{basic[0]}:{basic[1]}".encode()).decode()
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        if isinstance(data, str):
            data = data.encode()
        r = self.api.post(path, headers=h, data=data)
        if r.status_code == 200 and isinstance(r.body, dict):
            register(r.body.get("access_token"))
        return r

    def new_token(self, client: Client) -> str:
        r = self.token_request(urlencode({"grant_type": "client_credentials",
                                          "client_id": client.id,
                                          "client_secret": client.secret}))
        assert r.status_code == 200, f"POST /token → {r.status_code}: {r.text}"
        return r.body["access_token"]

    def token(self, client: Client) -> str:
        if client.token is None:
            client.token = self.new_token(client)
        return client.token

    # -- requests with a client's credentials --

    def auth(self, client: Client, *, token: str | None = None, api_key: str | None = None) -> dict:
        return {"Authorization": "Bearer " + (token or self.token(client)),
                "X-API-Key": api_key or client.api_key}

    def transact(self, client: Client, body, *, path: str = TRANSACT, signed: bool | None = None,
                 signature: str | None = None, headers: dict | None = None):
        """POST a Transact body (a dict is serialised once; bytes are sent as
        they are). signed=True adds the correct Signature of those bytes;
        signature= sends that value; headers= are added last (None removes
        a header)."""
        raw = body if isinstance(body, bytes) else dumps(body)
        h = {"Content-Type": "application/json", **self.auth(client)}
        if signed:
            h["Signature"] = sign(client.sig_secret, raw)
        if signature is not None:
            h["Signature"] = signature
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        return self.api.post(path, headers=h, data=raw)

    def get(self, path: str, client: Client | None, params: dict | None = None, *,
            headers: dict | None = None, **kw):
        """GET a lookup with the client's credentials; params in the query
        (in order; a list value repeats the parameter)."""
        h = self.auth(client) if client is not None else {}
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        q = urlencode(params or {}, doseq=True)
        return self.api.get(path + ("?" + q if q else ""), headers=h, **kw)

    def lookup(self, client: Client, **refs):
        return self.get(LOOKUP, client, {"clientId": client.id, **refs})


def purchase_body(client: Client, product: Product, *, drop: tuple = (), **fields) -> dict:
    """A valid Transact body for the product (its minimum amount, its fee and
    currency), fresh references and numbers, with `fields` set and `drop` left
    out."""
    body = {
        "accountIdentifier": "3745******0762",
        "purchaseAmount": product.min,
        "authCode": "1234",
        "channelId": 7,
        "channelName": "USSD",
        "channelSessionId": uuid.uuid4().hex[:12],
        "clientId": client.id,
        "clientTxnRef": fresh_ref("ctr"),
        "productId": product.id,
        "reserveFundsTxnRef": fresh_ref("rft"),
        "sourceIdentifier": fresh_number(),
        "targetIdentifier": fresh_number(),
        "timestamp": REQUEST_TIMESTAMP,
        "feeAmount": product.fee,
        "currencyCode": product.currency,
        "fundingSourceId": client.funding,
        "additionalData": {"channel": "ussd", "n": 1},
    }
    body.update(fields)
    for k in drop:
        body.pop(k, None)
    return body


# ---- answers --------------------------------------------------------------------------------


def assert_accepted(r) -> str:
    """A Transact 202; returns raasTxnRef."""
    assert r.status_code == 202, f"Transact → {r.status_code}: {r.text}"
    b = r.body
    assert isinstance(b, dict) and set(b) == {"responseCode", "responseMessage", "raasTxnRef"}, b
    assert (b["responseCode"], b["responseMessage"]) == ("0000", "Processing request"), b
    assert UUID_ANY.fullmatch(b["raasTxnRef"]), b
    return b["raasTxnRef"]


def assert_refused(r, code: str, *fields: str) -> list[str]:
    """A refusal with the registry's HTTP status and message, the body
    {"responseCode", "responseMessage", "errors"} (at least one entry), and
    an entry "<field>: …" for each field given. Returns the errors."""
    status, message = CODES[code]
    b = r.body
    assert r.status_code == status and isinstance(b, dict) and b.get("responseCode") == code, (
        f"expected {status} {code}, got {r.status_code}: {r.text[:800]}")
    assert set(b) == {"responseCode", "responseMessage", "errors"}, b
    assert b["responseMessage"] == message, b
    errs = b["errors"]
    assert isinstance(errs, list) and errs and all(isinstance(e, str) and e for e in errs), b
    for f in fields:
        assert any(e.startswith(f + ":") for e in errs), f"no error names {f!r}: {errs}"
    return errs


def assert_success(r) -> dict:
    """A lookup's 200 with responseCode 0000 / Success."""
    assert r.status_code == 200, f"lookup → {r.status_code}: {r.text[:800]}"
    b = r.body
    assert isinstance(b, dict), b
    assert (b.get("responseCode"), b.get("responseMessage")) == ("0000", "Success"), b
    return b


def assert_schema(name: str, body) -> None:
    """body is valid against components.schemas.<name> of docs/openapi.json."""
    d = get_checker().doc
    errors = d.errors(d.schema(name), body)
    assert not errors, f"{name} ({d.name}): {errors}\n{json.dumps(body)[:1500]}"


def assert_oauth_error(r, status: int, error: str, basic: bool = False) -> None:
    assert r.status_code == status, f"POST /token → {r.status_code} (want {status}): {r.text}"
    b = r.body
    assert isinstance(b, dict) and set(b) == {"error", "error_description"}, b
    assert b["error"] == error, b
    assert isinstance(b["error_description"], str) and b["error_description"], b
    if basic:
        assert r.headers.get("WWW-Authenticate") == 'Basic realm="chatpay"', dict(r.headers)


def wait_for(fetch, done, timeout: float, interval: float = 0.1, what: str = "a state"):
    """fetch() until done(value) (bounded by timeout and by the number of
    calls); returns the last value and fails when it never came."""
    deadline = time.monotonic() + timeout
    value = None
    for _ in range(int(timeout / interval) + 2):
        value = fetch()
        if done(value):
            return value
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {value!r}")


# ---- the module's server ------------------------------------------------------------------


def start_env(tmp: Path, name: str, extra_args: list[str] | None = None) -> MpEnv:
    key = secrets.token_hex(32)
    proc = start_server(tmp, db_url_for(tmp / (name + ".db")), name=name,
                        extra_args=extra_args, env={"CHATPAY_SECRETS_KEY": key})
    return MpEnv(proc, key)


_PREFIX = re.compile(r"^(?:mcs|mss|mat|mak_sandbox|mak_live)_")


def secret_part(value: str) -> str:
    """A credential without its mcs_/mak_…_/mss_/mat_ prefix."""
    return _PREFIX.sub("", value)


def assert_no_mp_secrets(text: str, what: str) -> None:
    assert_no_secrets(text, what)
    leaked = sorted(s for s in MP_SECRETS if s in text or secret_part(s) in text)
    assert not leaked, f"{what} contains {len(leaked)} marketplace credential(s) or token(s) " \
                       f"(first: {leaked[0][:8]}…)"


def stop_env(env: MpEnv, stdout: bool = True) -> None:
    env.api.close()
    rc = env.proc.stop()
    assert rc == 0, f"server exited with {rc} after SIGTERM:\n{env.proc.tail(40)}"
    assert_no_mp_secrets(env.proc.log_text(), f"log {env.proc.stderr_path}")
    if stdout:
        assert_no_mp_secrets(env.proc.stdout(), f"stdout {env.proc.stdout_path}")


def db_values(db_url: str) -> list:
    """Every value of every table of a test's database."""
    out = []
    for t in db_tables(db_url):
        for row in db_query(db_url, f'SELECT * FROM "{t}"'):
            out.extend(row)
    return out


# ---- the CLI's exit conventions (as test_cli.py) -------------------------------------------


def assert_usage_error(res, *needles) -> None:
    """Exit 2, "chatpay: …" and the usage on stderr, nothing on stdout."""
    assert res.returncode == 2, res
    assert any(line.startswith("chatpay: ") for line in res.stderr.splitlines()), res.stderr
    assert "usage: chatpay" in res.stderr, res.stderr
    assert res.stdout == "", res.stdout
    for n in needles:
        assert n in res.stderr, (n, res.stderr)


def assert_runtime_error(res, *needles) -> None:
    """Exit 1, one line "chatpay: …" on stderr, nothing on stdout."""
    assert res.returncode == 1, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chatpay: "), res.stderr
    assert res.stdout == "", res.stdout
    for n in needles:
        assert n in res.stderr, (n, res.stderr)
