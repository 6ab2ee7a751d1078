"""The marketplace API family (docs/marketplace.md): clients, products and the
MNO table from the CLI; the Security Service (POST /token); Transact (every
field rule, authentication, signatures, business rules, duplicate
references, concurrent twins); and the lookups that need no fulfilment
(Transaction Lookup of a purchase in progress, Financial Terms, Product
Lookup, In-Flight Check, MNO Lookup, Token Lookup in progress).

The module runs two servers of its own, each with its database and a
secrets_key given to the CLI too: `mp` runs the background workers, `hold`
is started with --no-workers, so that its purchases stay PROCESSING for as
long as a test needs (in-flight checks, Token Lookup 2008, counting the
purchases of concurrent twins). Fulfilment and results are in
test_marketplace_results.py."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import uuid

import pytest
import requests

import cp_helpers
from cp_helpers import SECRETS, db_url_for, start_server
from mp_helpers import (
    INFLIGHT,
    LOOKUP,
    LOOKUP_KEYS,
    LOOKUPS,
    MNO,
    PRODUCT_KEYS,
    PRODUCTS,
    REQUEST_TIMESTAMP,
    TERMS,
    TOKEN,
    TOKEN_ALIAS,
    TOKEN_KEYS,
    TOKENS,
    TRANSACT,
    TRANSACT_GW,
    Client,
    MpEnv,
    Product,
    assert_accepted,
    assert_no_mp_secrets,
    assert_oauth_error,
    assert_refused,
    assert_runtime_error,
    assert_schema,
    assert_success,
    assert_usage_error,
    db_values,
    dumps,
    fresh_number,
    fresh_ref,
    published_example,
    purchase_body,
    register,
    secret_part,
    sign,
    start_env,
    stop_env,
    wait_for,
)
from openapi_check import check_response, get_checker, is_rfc3339

UPDATE_WAIT = 3.0  # seconds: a client's change reaches every node's cache within a second


# ---- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mp(tmp_path_factory):
    env = start_env(tmp_path_factory.mktemp("marketplace"), "marketplace")
    try:
        yield env
    finally:
        stop_env(env)


@pytest.fixture(scope="module")
def hold(tmp_path_factory):
    """A server without workers: purchases stay PROCESSING."""
    env = start_env(tmp_path_factory.mktemp("mp-hold"), "mp-hold", ["--no-workers"])
    try:
        yield env
    finally:
        stop_env(env)


@pytest.fixture(scope="module")
def published(mp) -> tuple[Client, Product]:
    """The publisher's example: client 200 (funding source 200), product 110
    (NGN, fee 0, 10000 within its range)."""
    client = mp.create_client(200, funding=200, name="First Bank")
    product = mp.add_product("airtime", pid=110, name="MTN Airtime", currency="NGN", min=5000,
                             max=5000000, fee=0)
    return client, product


@pytest.fixture(scope="module")
def bank(mp) -> Client:
    return mp.create_client()


@pytest.fixture(scope="module")
def bank2(mp) -> Client:
    return mp.create_client()


@pytest.fixture(scope="module")
def signer(mp) -> Client:
    return mp.create_client(require_signature=True)


@pytest.fixture(scope="module")
def airtime(mp) -> Product:
    return mp.add_product("airtime", min=5000, max=5000000, fee=0)


@pytest.fixture(scope="module")
def wide(mp) -> Product:
    """Any amount the contract allows, fee 0."""
    return mp.add_product("data", min=1, max=999999999999, fee=0)


@pytest.fixture(scope="module")
def elec(mp) -> Product:
    return mp.add_product("electricity", min=100000, max=10000000, fee=10000, vendor="EKEDC")


@pytest.fixture(scope="module")
def hold_bank(hold) -> Client:
    return hold.create_client()


@pytest.fixture(scope="module")
def hold_bank2(hold) -> Client:
    return hold.create_client()


@pytest.fixture(scope="module")
def hold_elec(hold) -> Product:
    return hold.add_product("electricity", min=100000, max=10000000, fee=10000)


def form(**fields) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields).encode()


def creds(c: Client) -> dict:
    return {"grant_type": "client_credentials", "client_id": c.id, "client_secret": c.secret}


def eventually_transact(env: MpEnv, client: Client, make_body, done, what: str, **kw):
    """Transact fresh bodies until done(response) (bounded: a client's
    change reaches the server's caches within a second)."""
    return wait_for(lambda: env.transact(client, make_body(), **kw), done, UPDATE_WAIT, 0.1, what)


def is_refusal(code):
    return lambda r: isinstance(r.body, dict) and r.body.get("responseCode") == code


# ---- clients (CLI) ---------------------------------------------------------------------------


CLIENT_FIELDS = {"clientId", "name", "fundingSourceId", "resultUrl", "requireSignature",
                 "environment", "status"}
CREDENTIALS = ("clientSecret", "apiKey", "signatureSecret")


def assert_no_credentials(shown, c: Client) -> None:
    """No credential of the client in a CLI output (a masked one may be)."""
    text = json.dumps(shown)
    for v in (c.secret, c.api_key, c.sig_secret):
        assert v not in text and secret_part(v) not in text, "a credential is shown again"


def test_client_create_json(mp):
    c = mp.create_client(name="Union Bank")
    raw = c.raw
    assert CLIENT_FIELDS | set(CREDENTIALS) <= set(raw), sorted(raw)
    assert isinstance(raw["clientId"], int) and raw["fundingSourceId"] == raw["clientId"], raw
    assert (raw["name"], raw["resultUrl"], raw["requireSignature"], raw["environment"],
            raw["status"]) == ("Union Bank", None, False, "sandbox", "active"), raw
    assert c.secret.startswith("mcs_") and len(secret_part(c.secret)) >= 32, c.secret[:6]
    assert c.api_key.startswith("mak_sandbox_") and len(secret_part(c.api_key)) >= 32
    assert c.sig_secret.startswith("mss_") and len(secret_part(c.sig_secret)) >= 32
    assert len({secret_part(c.secret), secret_part(c.api_key), secret_part(c.sig_secret)}) == 3


def test_client_create_with_every_option(mp):
    cid = mp.client_id()
    c = mp.create_client(cid, funding=cid + 50000, result_url="http://127.0.0.1:9/results",
                         require_signature=True, environment="sandbox", name="Access Bank")
    assert (c.raw["clientId"], c.raw["fundingSourceId"], c.raw["resultUrl"],
            c.raw["requireSignature"], c.raw["environment"]) == (
        cid, cid + 50000, "http://127.0.0.1:9/results", True, "sandbox"), c.raw
    live = mp.create_client(environment="production")
    assert live.raw["environment"] == "production"
    assert live.api_key.startswith("mak_live_"), live.api_key[:9]


def test_client_credentials_are_printed_once(mp):
    cid = mp.client_id()
    res = mp.ok("marketplace", "client", "create", "--client-id", str(cid), "--name", "Texty Bank")
    out = res.stdout
    found = {}
    for prefix in ("mcs_", "mak_sandbox_", "mss_"):
        words = [w.strip("\"',") for w in out.split() if w.strip("\"',").startswith(prefix)]
        assert len(words) == 1, f"{prefix}… printed {len(words)} times:\n{out}"
        found[prefix] = words[0]
    register(*found.values())
    for what in (["client", "show", str(cid)], ["client", "show", str(cid), "--json"],
                 ["client", "list"], ["client", "list", "--json"]):
        shown = mp.ok("marketplace", *what).stdout
        for v in found.values():
            assert v not in shown and secret_part(v) not in shown, (what, "shows a credential")
        assert_no_mp_secrets(shown, f"marketplace {' '.join(what)}")


def test_client_list_and_show(mp, bank, bank2):
    listed = mp.ok("marketplace", "client", "list", "--json").json()
    assert isinstance(listed, list)
    by_id = {c["clientId"]: c for c in listed}
    assert {bank.id, bank2.id} <= set(by_id), sorted(by_id)
    for c in (bank, bank2):
        shown = mp.ok("marketplace", "client", "show", str(c.id), "--json").json()
        assert CLIENT_FIELDS <= set(shown), sorted(shown)
        assert_no_credentials(shown, c)
        assert {k: shown[k] for k in CLIENT_FIELDS} == {k: c.raw[k] for k in CLIENT_FIELDS}
        assert {k: by_id[c.id][k] for k in CLIENT_FIELDS} == {k: c.raw[k] for k in CLIENT_FIELDS}
    text = mp.ok("marketplace", "client", "list").stdout
    assert str(bank.id) in text and bank.raw["name"] in text


def test_client_update(mp):
    c = mp.create_client(name="Old Name")
    cid = str(c.id)

    def show():
        return mp.ok("marketplace", "client", "show", cid, "--json").json()

    out = mp.ok("marketplace", "client", "update", cid, "--name", "New Name",
                "--funding-source-id", "777", "--result-url", "http://127.0.0.1:9/r",
                "--require-signature", "--json").json()
    assert_no_credentials(out, c)
    s = show()
    assert (s["name"], s["fundingSourceId"], s["resultUrl"], s["requireSignature"]) == (
        "New Name", 777, "http://127.0.0.1:9/r", True), s
    assert {k: out[k] for k in CLIENT_FIELDS} == {k: s[k] for k in CLIENT_FIELDS}
    mp.ok("marketplace", "client", "update", cid, "--result-url", "none",
          "--no-require-signature")
    s = show()
    assert (s["resultUrl"], s["requireSignature"], s["name"]) == (None, False, "New Name"), s
    mp.ok("marketplace", "client", "update", cid, "--environment", "production")
    assert show()["environment"] == "production"
    mp.ok("marketplace", "client", "update", cid, "--environment", "sandbox")
    assert (show()["environment"], show()["status"]) == ("sandbox", "active")


def test_client_environment_change_issues_a_new_api_key(mp):
    """A key works for one environment (mak_sandbox_ / mak_live_): a change
    of environment prints a new key once, and only then."""
    c = mp.create_client()
    cid = str(c.id)
    out = mp.ok("marketplace", "client", "update", cid, "--environment", "production",
                "--json").json()
    live = out["apiKey"]
    register(live)
    assert out["environment"] == "production" and live.startswith("mak_live_"), out
    assert len(secret_part(live)) >= 32 and secret_part(live) != secret_part(c.api_key)
    shown = mp.ok("marketplace", "client", "show", cid, "--json").json()
    assert shown["apiKey"] == f"mak_live_****{live[-4:]}", shown
    assert live not in json.dumps(shown) and secret_part(live) not in json.dumps(shown)
    # no change of environment, no new key
    for same in (["--environment", "production"], ["--name", "Same Env Bank"]):
        again = mp.ok("marketplace", "client", "update", cid, *same, "--json").json()
        assert again["apiKey"] == shown["apiKey"], (same, again)
    # back to the sandbox, as text: the new key once, named so
    text = mp.ok("marketplace", "client", "update", cid, "--environment", "sandbox").stdout
    keys = [w for w in text.split() if w.startswith("mak_")]
    assert len(keys) == 1 and keys[0].startswith("mak_sandbox_"), text
    register(keys[0])
    assert "shown once" in text, text
    assert mp.ok("marketplace", "client", "show", cid, "--json").json()["apiKey"] == (
        f"mak_sandbox_****{keys[0][-4:]}")


def test_client_disable_shows_disabled(mp):
    c = mp.create_client()
    out = mp.ok("marketplace", "client", "disable", str(c.id), "--json").json()
    assert out["clientId"] == c.id and out["status"] == "disabled", out
    assert_no_credentials(out, c)
    assert mp.ok("marketplace", "client", "show", str(c.id), "--json").json()["status"] == "disabled"


USAGE_ERRORS = [
    (["marketplace"], ""),
    (["marketplace", "explode"], "explode"),
    (["marketplace", "client"], ""),
    (["marketplace", "client", "explode"], "explode"),
    (["marketplace", "client", "create", "--name", "X"], "--client-id"),
    (["marketplace", "client", "create", "--client-id", "0", "--name", "X"], "--client-id"),
    (["marketplace", "client", "create", "--client-id", "100000", "--name", "X"], "--client-id"),
    (["marketplace", "client", "create", "--client-id", "-5", "--name", "X"], ""),
    (["marketplace", "client", "create", "--client-id", "12.5", "--name", "X"], "--client-id"),
    (["marketplace", "client", "create", "--client-id", "abc", "--name", "X"], "--client-id"),
    (["marketplace", "client", "create", "--client-id", "4242"], "--name"),
    (["marketplace", "client", "create", "--client-id", "4242", "--name", ""], "--name"),
    (["marketplace", "client", "create", "--client-id", "4242", "--name", "X",
      "--funding-source-id", "0"], "--funding-source-id"),
    (["marketplace", "client", "create", "--client-id", "4242", "--name", "X",
      "--funding-source-id", "100000"], "--funding-source-id"),
    (["marketplace", "client", "create", "--client-id", "4242", "--name", "X",
      "--environment", "staging"], "--environment"),
    (["marketplace", "client", "create", "--client-id", "4242", "--name", "X",
      "--result-url", "not a url"], "--result-url"),
    (["marketplace", "client", "create", "--client-id", "4242", "--name", "X",
      "--result-url", "ftp://127.0.0.1/r"], "--result-url"),
    (["marketplace", "client", "create", "--client-id", "4242", "--name", "X", "--bogus"],
     "--bogus"),
    (["marketplace", "client", "create", "--client-id", "4242", "--name", "X", "extra"], "extra"),
    (["marketplace", "client", "show"], ""),
    (["marketplace", "client", "disable"], ""),
    (["marketplace", "client", "update", "{client}", "--funding-source-id", "0"],
     "--funding-source-id"),
    (["marketplace", "client", "update", "{client}", "--environment", "staging"],
     "--environment"),
    (["marketplace", "client", "update", "{client}", "--result-url", "not a url"],
     "--result-url"),
    (["marketplace", "client", "list", "--name", "X"], ""),
    (["marketplace", "product"], ""),
    (["marketplace", "product", "add", "--name", "P", "--type", "airtime", "--vendor", "V",
      "--currency", "NGN", "--min", "1", "--max", "2"], "--id"),
    (["marketplace", "product", "add", "--id", "4242", "--type", "airtime", "--vendor", "V",
      "--currency", "NGN", "--min", "1", "--max", "2"], "--name"),
    (["marketplace", "product", "add", "--id", "4242", "--name", "P", "--vendor", "V",
      "--currency", "NGN", "--min", "1", "--max", "2"], "--type"),
    (["marketplace", "product", "add", "--id", "4242", "--name", "P", "--type", "airtime",
      "--currency", "NGN", "--min", "1", "--max", "2"], "--vendor"),
    (["marketplace", "product", "add", "--id", "4242", "--name", "P", "--type", "airtime",
      "--vendor", "V", "--min", "1", "--max", "2"], "--currency"),
    (["marketplace", "product", "add", "--id", "4242", "--name", "P", "--type", "airtime",
      "--vendor", "V", "--currency", "NGN", "--max", "2"], "--min"),
    (["marketplace", "product", "add", "--id", "4242", "--name", "P", "--type", "airtime",
      "--vendor", "V", "--currency", "NGN", "--min", "1"], "--max"),
    (["marketplace", "product", "add", "--id", "4242", "--name", "P", "--type", "gadget",
      "--vendor", "V", "--currency", "NGN", "--min", "1", "--max", "2"], "--type"),
    (["marketplace", "product", "add", "--id", "0", "--name", "P", "--type", "airtime",
      "--vendor", "V", "--currency", "NGN", "--min", "1", "--max", "2"], "--id"),
    (["marketplace", "product", "add", "--id", "100000", "--name", "P", "--type", "airtime",
      "--vendor", "V", "--currency", "NGN", "--min", "1", "--max", "2"], "--id"),
    (["marketplace", "product", "add", "--id", "4242", "--name", "P", "--type", "airtime",
      "--vendor", "V", "--currency", "NGN", "--min", "0", "--max", "2"], "--min"),
    (["marketplace", "product", "add", "--id", "4242", "--name", "P", "--type", "airtime",
      "--vendor", "V", "--currency", "NGN", "--min", "5", "--max", "4"], "--max"),
    (["marketplace", "product", "add", "--id", "4242", "--name", "P", "--type", "airtime",
      "--vendor", "V", "--currency", "NGN", "--min", "1", "--max", "2", "--fee", "-1"], "--fee"),
    (["marketplace", "product", "add", "--id", "4242", "--name", "P", "--type", "airtime",
      "--vendor", "V", "--currency", "NGN", "--min", "abc", "--max", "2"], "--min"),
    (["marketplace", "product", "update", "{product}", "--min", "0"], "--min"),
    (["marketplace", "product", "update", "{product}", "--fee", "-1"], "--fee"),
    (["marketplace", "product", "update", "{product}", "--min", "9", "--max", "8"], "--max"),
    (["marketplace", "mno"], ""),
    (["marketplace", "mno", "import"], ""),
]


def test_cli_usage_errors(mp, bank, airtime):
    """Arguments that are wrong by themselves: exit 2 with the usage, and
    nothing changed. ({client} and {product}: ids that exist.) One test for
    every case (a CLI run that reads the database is slow on PostgreSQL);
    every failing case is listed."""
    before = (mp.ok("marketplace", "client", "list", "--json").json(),
              mp.ok("marketplace", "product", "list", "--json").json())
    failures = []
    for args, needle in USAGE_ERRORS:
        args = [a.format(client=bank.id, product=airtime.id) for a in args]
        res = mp.cli(*args)
        try:
            assert_usage_error(res, *([needle] if needle else []))
        except AssertionError:
            failures.append(f"{' '.join(args)} → {res.returncode}: {res.stderr.strip()[:160]!r}")
    after = (mp.ok("marketplace", "client", "list", "--json").json(),
             mp.ok("marketplace", "product", "list", "--json").json())
    assert not failures, "not usage errors:\n  " + "\n  ".join(failures)
    assert after == before, "a usage error changed something"


def test_update_with_nothing_to_change_is_a_usage_error(mp, bank, airtime):
    """As `merchant update`, `integrator update` and `provider update`: an
    update without a change is a usage error (the doc is silent; the CLI's
    convention, test_cli.py)."""
    assert_usage_error(mp.cli("marketplace", "client", "update", str(bank.id)))
    assert_usage_error(mp.cli("marketplace", "product", "update", str(airtime.id)))


def test_cli_runtime_errors(mp, bank, airtime):
    # a client id or product id taken, or unknown
    assert_runtime_error(mp.cli("marketplace", "client", "create", "--client-id", str(bank.id),
                                "--name", "Twin", "--json"))
    for sub in (["show", "99990"], ["disable", "99990"], ["update", "99990", "--name", "X"]):
        assert_runtime_error(mp.cli("marketplace", "client", *sub))
    assert_runtime_error(mp.cli("marketplace", "product", "add", "--id", str(airtime.id),
                                "--name", "Twin", "--type", "airtime", "--vendor", "V",
                                "--currency", "NGN", "--min", "1", "--max", "2"))
    assert_runtime_error(mp.cli("marketplace", "product", "update", "99990", "--name", "X"))
    # the new minimum above the product's maximum: checked against the database
    assert_runtime_error(mp.cli("marketplace", "product", "update", str(airtime.id), "--min",
                                str(airtime.max + 1)))
    assert_runtime_error(mp.cli("marketplace", "mno", "import", str(mp.proc.workdir / "nope.csv")))
    shown = mp.ok("marketplace", "client", "show", str(bank.id), "--json").json()
    assert shown["name"] == bank.raw["name"] and shown["status"] == "active"


def test_client_create_needs_the_secrets_key(mp):
    cid = mp.client_id()
    res = mp.cli("marketplace", "client", "create", "--client-id", str(cid), "--name", "No Key",
                 "--json", secrets_key=False)
    assert_runtime_error(res, "secrets_key")
    assert_runtime_error(mp.cli("marketplace", "client", "show", str(cid)))


def test_production_result_url_must_be_public_https(mp):
    cid = mp.client_id()
    res = mp.cli("marketplace", "client", "create", "--client-id", str(cid), "--name", "Live",
                 "--environment", "production", "--result-url", "http://127.0.0.1:9/r")
    # the doc gives no exit code for this refusal (the CLI's convention: 2 for
    # a malformed value, 1 for a refused address); it must refuse and store nothing
    assert res.returncode in (1, 2) and res.stdout == "", res
    assert_runtime_error(mp.cli("marketplace", "client", "show", str(cid)))
    for url in ("https://127.0.0.1/r", "https://10.1.2.3/r", "http://93.184.216.34/r"):
        res = mp.cli("marketplace", "client", "create", "--client-id", str(cid), "--name", "Live",
                     "--environment", "production", "--result-url", url)
        assert res.returncode in (1, 2) and res.stdout == "", (url, res)
    live = mp.create_client(cid, environment="production", result_url="https://93.184.216.34/r")
    assert live.raw["resultUrl"] == "https://93.184.216.34/r"
    # and when set on a production client
    res = mp.cli("marketplace", "client", "update", str(cid), "--result-url",
                 "http://127.0.0.1:9/r")
    assert res.returncode in (1, 2), res
    shown = mp.ok("marketplace", "client", "show", str(cid), "--json").json()
    assert shown["resultUrl"] == "https://93.184.216.34/r", shown


# ---- products and the MNO table (CLI) -----------------------------------------------------


def product_lookup(env: MpEnv, client: Client, pid: int) -> dict:
    return assert_success(env.get(f"{PRODUCTS}/{pid}", client))


def strip(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("responseCode", "responseMessage")}


def test_product_add_list_update(mp, bank):
    p = mp.add_product("voucher", currency="ZAR", min=5000, max=200000, fee=500, vendor="Takealot",
                       name="Gift Voucher")
    listed = mp.ok("marketplace", "product", "list", "--json").json()
    assert str(p.id) in json.dumps(listed) and "Gift Voucher" in json.dumps(listed)
    assert strip(product_lookup(mp, bank, p.id)) == p.api()
    mp.ok("marketplace", "product", "update", str(p.id), "--name", "Voucher 2", "--vendor", "Acme",
          "--min", "6000", "--max", "300000", "--fee", "700", "--inactive")
    p.name, p.vendor, p.min, p.max, p.fee, p.active = "Voucher 2", "Acme", 6000, 300000, 700, False
    assert strip(product_lookup(mp, bank, p.id)) == p.api()
    mp.ok("marketplace", "product", "update", str(p.id), "--active")
    p.active = True
    assert strip(product_lookup(mp, bank, p.id)) == p.api()
    q = mp.add_product("bill", min=100000, max=50000000, inactive=True)  # --fee defaults to 0
    assert strip(product_lookup(mp, bank, q.id)) == q.api()
    assert product_lookup(mp, bank, q.id)["feeAmount"] == 0


def write(path, lines) -> str:
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def mno_of(env: MpEnv, client: Client, msisdn: str):
    return env.get(MNO, client, {"msisdn": msisdn})


GOOD_MNO = ["prefix,mno,countryCode", "# Nigeria", "234,Nigeria Other,NG", "234803,MTN,NG",
            "2348031,MTN Special", "#234809,9mobile,NG", "23480,Airtel,NG", "27,South Africa,ZA"]


def test_mno_import_and_lookup(mp, bank, tmp_path):
    mp.ok("marketplace", "mno", "import", write(tmp_path / "mno.csv", GOOD_MNO))

    def hit(msisdn, prefix, mno, cc):
        b = assert_success(mno_of(mp, bank, msisdn))
        assert (b["prefix"], b["mno"], b["countryCode"]) == (prefix, mno, cc), b
        assert b["msisdn"].lstrip("+") == msisdn.lstrip("+"), b

    hit("2348031234567", "2348031", "MTN Special", None)  # the longest prefix wins
    hit("2348039999999", "234803", "MTN", "NG")
    hit("+2348051234567", "23480", "Airtel", "NG")
    hit("2349012345678", "234", "Nigeria Other", "NG")
    hit("27821234567", "27", "South Africa", "ZA")
    hit("2348091234567", "23480", "Airtel", "NG")  # the commented-out line is not there
    assert_refused(mno_of(mp, bank, "4412345678"), "1404")
    # a second import replaces the table
    mp.ok("marketplace", "mno", "import", write(tmp_path / "mno2.csv", ["44,UK Mobile,GB"]))
    hit("4412345678", "44", "UK Mobile", "GB")
    assert_refused(mno_of(mp, bank, "2348031234567"), "1404")
    mp.ok("marketplace", "mno", "import", write(tmp_path / "mno3.csv", GOOD_MNO))
    # a file with no prefixes (its header only) is a mistake: the table stays
    res = mp.cli("marketplace", "mno", "import", write(tmp_path / "empty.csv",
                                                       ["prefix,mno,countryCode"]))
    assert res.returncode == 1 and "no prefixes" in res.stderr, res
    hit("2348039999999", "234803", "MTN", "NG")


@pytest.mark.parametrize("bad", [
    "abc,MTN,NG", "1234567890123456,MTN,NG", "234", ",MTN,NG", "234,", "23 4,MTN,NG",
    "234,MTN,NG,extra",
])
def test_mno_import_bad_line_changes_nothing(mp, bank, tmp_path, bad):
    mp.ok("marketplace", "mno", "import", write(tmp_path / "good.csv", GOOD_MNO))
    before = assert_success(mno_of(mp, bank, "2348031234567"))
    lines = ["prefix,mno,countryCode", "# a comment", "44,UK Mobile,GB", bad, "33,France,FR"]
    res = mp.cli("marketplace", "mno", "import", write(tmp_path / "bad.csv", lines))
    # the doc asks for the line number; not which exit code (a bad file is
    # either a usage or a runtime error by the CLI's conventions)
    assert res.returncode in (1, 2) and res.stdout == "", res
    assert re.search(r"(?<!\d)4(?!\d)", res.stderr), f"no line number 4 in {res.stderr!r}"
    assert mno_of(mp, bank, "2348031234567").body == before
    assert_refused(mno_of(mp, bank, "4412345678"), "1404")
    assert_refused(mno_of(mp, bank, "33612345678"), "1404")


def test_mno_import_at_most_100000_lines(mp, bank, tmp_path):
    mp.ok("marketplace", "mno", "import", write(tmp_path / "good.csv", GOOD_MNO))
    lines = [f"{10000000 + i},Big" for i in range(100001)]
    res = mp.cli("marketplace", "mno", "import", write(tmp_path / "big.csv", lines))
    assert res.returncode in (1, 2) and res.stdout == "", res
    assert assert_success(mno_of(mp, bank, "2348031234567"))["prefix"] == "2348031"
    assert_refused(mno_of(mp, bank, "10000005123"), "1404")


@pytest.mark.parametrize("msisdn", ["123456", "1234567890123456", "abc1234567", "+", "",
                                    "234-803-1234567", "++2348031234567"])
def test_mno_lookup_bad_msisdn(mp, bank, msisdn):
    assert_refused(mno_of(mp, bank, msisdn), "1000")


def test_mno_lookup_bounds_and_missing(mp, bank, tmp_path):
    mp.ok("marketplace", "mno", "import", write(tmp_path / "mno.csv", GOOD_MNO))
    assert assert_success(mno_of(mp, bank, "2712345"))["prefix"] == "27"  # 7 digits
    assert assert_success(mno_of(mp, bank, "+271234567890123"))["prefix"] == "27"  # 15
    assert_refused(mp.get(MNO, bank), "1000")


def test_serve_dev_seeds_the_catalogue(tmp_path):
    key = "ab" * 32
    db = db_url_for(tmp_path / "dev.db")
    srv = start_server(tmp_path, db, name="mpdev", extra_args=["--dev"],
                       env={"CHATPAY_SECRETS_KEY": key})
    env = MpEnv(srv, key)
    try:
        srv.wait_stdout(r"Gift Voucher")
        out = srv.stdout()
        SECRETS.scan(out)
        for name in ("MTN Airtime", "MTN Data 1GB", "Prepaid Electricity", "DStv Subscription",
                     "Gift Voucher"):
            assert name in out, f"--dev did not print {name}:\n{out}"
        c = env.create_client()
        listed = assert_success(env.get(PRODUCTS, c))["products"]
        seen = [(p["productId"], p["name"], p["type"], p["currencyCode"], p["minAmount"],
                 p["maxAmount"], p["feeAmount"], p["active"], p["issuesTokens"]) for p in listed]
        assert seen == [
            (110, "MTN Airtime", "airtime", "NGN", 5000, 5000000, 0, True, False),
            (111, "MTN Data 1GB", "data", "NGN", 100000, 100000, 0, True, False),
            (120, "Prepaid Electricity", "electricity", "NGN", 100000, 10000000, 10000, True,
             True),
            (130, "DStv Subscription", "bill", "NGN", 100000, 50000000, 10000, True, False),
            (140, "Gift Voucher", "voucher", "ZAR", 5000, 200000, 500, True, True),
        ], seen
        env.ok("marketplace", "product", "update", "110", "--fee", "7")
        # a purchase from the seeded catalogue works at once
        body = purchase_body(c, Product(120, "electricity", "NGN", 100000, 10000000, 10000, "", ""))
        assert_accepted(env.transact(c, body))
    finally:
        stop_env(env, stdout=False)  # --dev prints its merchant's API key there
    # a second start finds products: nothing is seeded again
    srv2 = start_server(tmp_path, db, name="mpdev2", extra_args=["--dev"],
                        env={"CHATPAY_SECRETS_KEY": key})
    env2 = MpEnv(srv2, key)
    try:
        SECRETS.scan(srv2.stdout())
        c2 = env2.create_client(env.client_id())
        listed = assert_success(env2.get(PRODUCTS, c2))["products"]
        assert [(p["productId"], p["feeAmount"]) for p in listed] == [
            (110, 7), (111, 0), (120, 10000), (130, 10000), (140, 500)], listed
    finally:
        stop_env(env2, stdout=False)


# ---- the Security Service: POST /token -----------------------------------------------------


def test_token_form_body(mp, bank):
    r = mp.token_request(form(**creds(bank)))
    assert r.status_code == 200, r.text
    b = r.body
    assert set(b) == TOKEN_KEYS, sorted(b)
    assert (b["token_type"], b["expires_in"], b["refresh_expires_in"], b["not-before-policy"],
            b["scope"]) == ("bearer", 300, 0, 0, "transact lookup"), b
    assert b["access_token"].startswith("mat_") and len(secret_part(b["access_token"])) >= 43
    # RFC 6749 5.1: the token is kept by no cache
    assert (r.headers["Cache-Control"], r.headers["Pragma"]) == ("no-store", "no-cache"), r.headers
    again = mp.token_request(form(**creds(bank))).body["access_token"]
    assert again != b["access_token"]
    for tok in (b["access_token"], again):  # both work
        assert_success(mp.get(PRODUCTS, bank, headers={"Authorization": "Bearer " + tok}))


def test_a_client_holds_at_most_100_live_tokens(mp):
    # however often a client asks, its tokens stay bounded: the 101st ends the first
    c = mp.create_client()
    mp.auth(c)  # the harness's own token first: it is the oldest, and goes too
    toks = [mp.token_request(form(**creds(c))).body["access_token"] for _ in range(101)]
    assert len(set(toks)) == 101
    assert_refused(mp.get(PRODUCTS, c, headers={"Authorization": "Bearer " + toks[0]}), "1001")
    for tok in (toks[1], toks[-1]):
        assert_success(mp.get(PRODUCTS, c, headers={"Authorization": "Bearer " + tok}))


TOKEN_RECHECK = 2.0  # seconds a server thread trusts a token it remembers without reading it


def test_a_token_ended_by_the_cap_stops_working_where_it_was_remembered(mp):
    """The 101st token ends the oldest also on the server threads that had
    checked it before and remember it: within TOKEN_RECHECK seconds."""
    c = mp.create_client()
    mp.auth(c)  # the harness's token: it goes too
    first = mp.token_request(form(**creds(c))).body["access_token"]
    headers = {"Authorization": "Bearer " + first}
    for _ in range(40):  # remembered by every server thread that answers
        assert_success(mp.get(PRODUCTS, c, headers=headers))
    newest = [mp.token_request(form(**creds(c))).body["access_token"] for _ in range(100)]
    time.sleep(TOKEN_RECHECK + 0.5)
    for _ in range(20):
        assert_refused(mp.get(PRODUCTS, c, headers=headers), "1001")
    assert_success(mp.get(PRODUCTS, c, headers={"Authorization": "Bearer " + newest[0]}))


def test_token_basic_credentials(mp, bank):
    r = mp.token_request(form(grant_type="client_credentials"), basic=(bank.id, bank.secret))
    assert r.status_code == 200 and set(r.body) == TOKEN_KEYS, r.text
    assert_success(mp.get(PRODUCTS, bank,
                          headers={"Authorization": "Bearer " + r.body["access_token"]}))


def test_token_alias_path(mp, bank):
    r = mp.token_request(form(**creds(bank)), path=TOKEN_ALIAS)
    assert r.status_code == 200 and set(r.body) == TOKEN_KEYS, r.text
    assert_success(mp.get(PRODUCTS, bank,
                          headers={"Authorization": "Bearer " + r.body["access_token"]}))
    assert_oauth_error(mp.token_request(form(grant_type="password", client_id=bank.id,
                                             client_secret=bank.secret), path=TOKEN_ALIAS),
                       400, "unsupported_grant_type")


@pytest.mark.parametrize("case", [
    "json", "no content type", "empty", "no grant_type", "no client_id", "no client_secret",
    "client_id twice", "grant_type twice", "client_secret twice", "body and basic",
])
def test_token_invalid_request(mp, bank, case):
    ok = creds(bank)
    basic = None
    headers = None
    if case == "json":
        data = json.dumps(ok).encode()
        headers = {"Content-Type": "application/json"}
    elif case == "no content type":
        data = form(**ok)
        headers = {"Content-Type": None}
    elif case == "empty":
        data = b""
    elif case.startswith("no "):
        data = form(**{k: v for k, v in ok.items() if k != case[3:]})
    elif case.endswith(" twice"):
        name = case.split()[0]
        data = form(**ok) + f"&{name}={ok[name]}".encode()
    else:
        data = form(**ok)
        basic = (bank.id, bank.secret)
    r = mp.token_request(data, basic=basic, headers=headers)
    assert_oauth_error(r, 400, "invalid_request")


def test_token_body_at_most_4_kib(mp, bank):
    data = form(**creds(bank), pad="x" * 4200)
    r = mp.token_request(data)
    # refused (the doc names no status for an over-long body)
    assert r.status_code in (400, 413), r.text
    assert "access_token" not in (r.body or {})


@pytest.mark.parametrize("grant", ["password", "authorization_code", "refresh_token",
                                   "CLIENT_CREDENTIALS", ""])
def test_token_unsupported_grant_type(mp, bank, grant):
    data = form(grant_type=grant, client_id=bank.id, client_secret=bank.secret)
    if grant == "":
        # an empty grant_type is a parameter given empty: either error fits it
        r = mp.token_request(data)
        assert r.status_code == 400 and r.body["error"] in ("invalid_request",
                                                              "unsupported_grant_type"), r.text
        return
    assert_oauth_error(mp.token_request(data), 400, "unsupported_grant_type")


def test_token_invalid_client(mp, bank, bank2):
    cases = [(99990, bank.secret), (bank.id, bank2.secret), (bank.id, bank.secret + "x"),
             (bank.id, "mcs_" + "A" * 43)]
    for cid, secret in cases:
        assert_oauth_error(mp.token_request(form(grant_type="client_credentials", client_id=cid,
                                                 client_secret=secret)), 401, "invalid_client")
        assert_oauth_error(mp.token_request(form(grant_type="client_credentials"),
                                            basic=(cid, secret)), 401, "invalid_client",
                           basic=True)


def test_token_expires_after_its_lifetime(tmp_path):
    """A token lives expires_in seconds: 300, or the server's mp_token_ttl
    (here 2 s, so that the test can see one expire)."""
    ttl = 2
    ini = tmp_path / "mp-ttl.ini"
    ini.write_text(f"[chatpay]\nmp_token_ttl = {ttl}\n")
    key = "cd" * 32
    proc = start_server(tmp_path, db_url_for(tmp_path / "mp-ttl.db"), name="mp-ttl",
                        extra_args=["--config", str(ini)], env={"CHATPAY_SECRETS_KEY": key})
    env = MpEnv(proc, key)
    try:
        c = env.create_client()
        p = env.add_product("airtime")
        r = env.token_request(form(**creds(c)))
        issued = time.monotonic()
        assert r.status_code == 200 and r.body["expires_in"] == ttl, r.text
        c.token = r.body["access_token"]
        assert_success(env.get(PRODUCTS, c))  # good at once (and remembered by the server)
        refused = wait_for(lambda: env.get(PRODUCTS, c), lambda r: r.status_code != 200,
                           ttl + 3, 0.1, "the token to expire")
        elapsed = time.monotonic() - issued
        assert_refused(refused, "1001")
        assert elapsed >= ttl - 0.5, f"the token died after {elapsed:.2f}s, not {ttl}s"
        assert_refused(env.transact(c, purchase_body(c, p)), "1001")
        c.token = None  # a new one works
        assert_accepted(env.transact(c, purchase_body(c, p)))
    finally:
        stop_env(env)


def test_token_of_a_disabled_client(mp):
    c = mp.create_client()
    mp.ok("marketplace", "client", "disable", str(c.id))
    assert_oauth_error(mp.token_request(form(**creds(c))), 401, "invalid_client")
    assert_oauth_error(mp.token_request(form(grant_type="client_credentials"),
                                        basic=(c.id, c.secret)), 401, "invalid_client", basic=True)


def test_auth_code_and_account_identifier_are_not_stored_as_sent(mp, bank, airtime):
    """authCode (a PIN or one-time code) is read by nothing, so it is not
    stored; accountIdentifier (a card or account number) is stored masked,
    its last 4 characters kept. A repeat is still compared on both as sent."""
    body = purchase_body(bank, airtime, authCode="493817", accountIdentifier="4111111111111111")
    raas = assert_accepted(mp.transact(bank, body))
    rows = cp_helpers.db_query(mp.db_url, "SELECT auth_code, account_identifier FROM mp_purchases"
                               " WHERE raas_ref = ?", (raas,))
    assert rows == [(None, "************1111")], rows
    assert not [v for v in db_values(mp.db_url)
                if isinstance(v, str) and ("493817" in v or "4111111111111111" in v)]
    assert assert_accepted(mp.transact(bank, dict(body, timestamp="2031-01-01T00:00:00Z"))) == raas
    for other in (dict(body, accountIdentifier="4111111111121111"), dict(body, authCode="493818")):
        assert_refused(mp.transact(bank, other), "2007")
    for short, shown in (("12", "**"), ("1234", "****"), ("12345", "*2345"),
                         ("ab\u20accdef", "***cdef")):
        raas = assert_accepted(mp.transact(bank, purchase_body(bank, airtime,
                                                               accountIdentifier=short)))
        rows = cp_helpers.db_query(mp.db_url, "SELECT account_identifier FROM mp_purchases"
                                   " WHERE raas_ref = ?", (raas,))
        assert rows == [(shown,)], (short, rows)


def test_credentials_are_stored_as_hashes(mp):
    c = mp.create_client()
    token = mp.new_token(c)
    values = db_values(mp.db_url)
    texts = [v.decode("latin-1") if isinstance(v, bytes) else v for v in values
             if isinstance(v, (str, bytes))]
    for name, secret in (("clientSecret", c.secret), ("apiKey", c.api_key),
                         ("signatureSecret", c.sig_secret), ("access token", token)):
        part = secret_part(secret)
        assert not any(secret in t or part in t for t in texts), f"the {name} is in the database"
    for name, secret in (("clientSecret", c.secret), ("apiKey", c.api_key),
                         ("access token", token)):
        digest = hashlib.sha256(secret.encode()).digest()
        forms = {digest.hex(), base64.b64encode(digest).decode(),
                 base64.urlsafe_b64encode(digest).decode().rstrip("=")}
        assert digest in values or any(
            isinstance(v, str) and (v in forms or v.lower() == digest.hex()) for v in values), \
            f"the SHA-256 of the {name} is not in the database"


# ---- Transact: the published example, the two paths --------------------------------------


def test_published_example_verbatim(mp, published):
    client, _ = published
    raw = published_example()
    assert_schema("MarketplaceTransactRequest", json.loads(raw))  # our document admits it
    headers = {"Authorization": "Bearer " + mp.token(client), "X-API-Key": client.api_key,
               "Content-Type": "application/json", "Accept": "*/*"}
    r = mp.api.post(TRANSACT_GW, headers=headers, data=raw)
    raas = assert_accepted(r)
    # the same bytes on the other path: the same endpoint, the same purchase
    again = mp.api.post(TRANSACT, headers=headers, data=raw)
    assert again.status_code == 202 and again.content == r.content, again.text
    b = assert_success(mp.lookup(client, clientTxnRef="seo8w3-3wsf8cffdd34-f58l"))
    assert set(b) >= LOOKUP_KEYS, sorted(LOOKUP_KEYS - set(b))
    assert {k: b[k] for k in (
        "raasTxnRef", "clientId", "fundingSourceId", "clientTxnRef", "reserveFundsTxnRef",
        "productId", "purchaseAmount", "feeAmount", "currencyCode", "sourceIdentifier",
        "targetIdentifier", "channelId", "channelName", "requestTimestamp",
        "reserveResponseCode", "transactResponseCode")} == {
        "raasTxnRef": raas, "clientId": 200, "fundingSourceId": 200,
        "clientTxnRef": "seo8w3-3wsf8cffdd34-f58l", "reserveFundsTxnRef": "aab1b2-3ccd4d-eeff56-a789",
        "productId": 110, "purchaseAmount": 10000, "feeAmount": 0, "currencyCode": "NGN",
        "sourceIdentifier": "2341234567899", "targetIdentifier": "2348012345555", "channelId": 7,
        "channelName": "USSD", "requestTimestamp": "2017-06-29T16:39:42.735Z",
        "reserveResponseCode": None, "transactResponseCode": "0000"}, b
    assert (b["productName"], b["productType"], b["vendor"]) == ("MTN Airtime", "airtime", "MTN")


@pytest.mark.parametrize("path", [TRANSACT, TRANSACT_GW])
def test_transact_on_both_paths(mp, bank, airtime, path):
    body = purchase_body(bank, airtime)
    raas = assert_accepted(mp.transact(bank, body, path=path))
    assert assert_success(mp.lookup(bank, raasTxnRef=raas))["clientTxnRef"] == body["clientTxnRef"]


def test_transact_json_with_a_charset(mp, bank, airtime):
    body = purchase_body(bank, airtime)
    assert_accepted(mp.transact(bank, body,
                                headers={"Content-Type": "application/json; charset=utf-8"}))


# ---- Transact: field rules -----------------------------------------------------------------

REQUIRED = ("purchaseAmount", "channelId", "channelName", "channelSessionId", "clientId",
            "clientTxnRef", "productId", "reserveFundsTxnRef", "sourceIdentifier",
            "targetIdentifier", "timestamp", "feeAmount", "currencyCode", "fundingSourceId")
OPTIONAL = ("accountIdentifier", "authCode", "additionalData")


@pytest.mark.parametrize("name", REQUIRED)
def test_required_field_missing(mp, bank, airtime, name):
    body = purchase_body(bank, airtime, drop=(name,))
    assert_refused(mp.transact(bank, body), "1000", name)
    body[name] = None
    assert_refused(mp.transact(bank, body), "1000", name)


def test_optional_fields_may_be_left_out(mp, bank, airtime):
    body = purchase_body(bank, airtime, drop=OPTIONAL)
    assert_accepted(mp.transact(bank, body))


def test_every_problem_is_reported_at_once(mp, bank, airtime):
    body = purchase_body(bank, airtime, drop=("channelName",), purchaseAmount="10.5",
                         currencyCode="ngn", timestamp="yesterday", targetIdentifier="1" * 33)
    assert_refused(mp.transact(bank, body), "1000", "channelName", "purchaseAmount",
                   "currencyCode", "timestamp", "targetIdentifier")


BAD_VALUES = [
    ("purchaseAmount", 0), ("purchaseAmount", -1), ("purchaseAmount", 10**12),
    ("purchaseAmount", "10.5"), ("purchaseAmount", 12.5), ("purchaseAmount", True),
    ("purchaseAmount", [10000]), ("purchaseAmount", {"v": 1}), ("purchaseAmount", "abc"),
    ("purchaseAmount", ""), ("purchaseAmount", "1000000000000"),
    ("channelId", 100), ("channelId", -1), ("channelId", "7.5"), ("channelId", False),
    ("clientId", 0), ("clientId", 100000), ("clientId", "abc"), ("clientId", 12.5),
    ("productId", 0), ("productId", 100000), ("productId", True), ("productId", "110abc"),
    ("feeAmount", -1), ("feeAmount", 10**12), ("feeAmount", 12.5), ("feeAmount", "0.5"),
    ("fundingSourceId", 0), ("fundingSourceId", 100000), ("fundingSourceId", [200]),
    ("channelName", ""), ("channelName", "   "), ("channelName", "x" * 65),
    ("channelName", 12.5), ("channelName", True), ("channelName", []), ("channelName", {}),
    ("channelSessionId", ""), ("channelSessionId", "x" * 65),
    ("clientTxnRef", ""), ("clientTxnRef", " "), ("clientTxnRef", "x" * 65),
    ("clientTxnRef", False),
    ("reserveFundsTxnRef", ""), ("reserveFundsTxnRef", "x" * 65),
    ("sourceIdentifier", ""), ("sourceIdentifier", "1" * 33), ("sourceIdentifier", 1.5),
    ("targetIdentifier", ""), ("targetIdentifier", "1" * 33), ("targetIdentifier", True),
    ("accountIdentifier", "x" * 65), ("accountIdentifier", True),
    ("authCode", "x" * 65), ("authCode", 12.5), ("authCode", ["1234"]),
    ("timestamp", ""), ("timestamp", "yesterday"), ("timestamp", "2017-06-29 16:39:42"),
    ("timestamp", "2017-06-29T16:39:42+2"), ("timestamp", "20170629T163942Z"),
    ("timestamp", "2017-13-29T16:39:42.735Z"), ("timestamp", "2017-06-31T16:39:42Z"),
    ("timestamp", "2017-06-29T25:39:42Z"), ("timestamp", "2017-06-29"),
    ("timestamp", "2017-06-29T16:39:42.123456789012345+00:00"), ("timestamp", 1498754382),
    ("currencyCode", "ngn"), ("currencyCode", "Ngn"), ("currencyCode", "NG"),
    ("currencyCode", "NGNN"), ("currencyCode", "XQQ"), ("currencyCode", 566),
    ("currencyCode", ""),
    ("additionalData", "hello"), ("additionalData", "[1, 2]"), ("additionalData", '{"a": '),
    ("additionalData", 42), ("additionalData", [1, 2]), ("additionalData", True),
    ("additionalData", {"x": "y" * 4100}), ("additionalData", json.dumps({"x": "y" * 4100})),
]


@pytest.mark.parametrize("name, value", BAD_VALUES,
                         ids=[f"{n}={json.dumps(v)[:24]}" for n, v in BAD_VALUES])
def test_field_rule(mp, bank, wide, name, value):
    body = purchase_body(bank, wide, **{name: value})
    errs = assert_refused(mp.transact(bank, body), "1000", name)
    others = [e for e in errs if not e.startswith(name + ":")]
    assert not others, f"errors about fields that were right: {others}"
    if name != "clientTxnRef":  # nothing was stored
        assert_refused(mp.lookup(bank, clientTxnRef=body["clientTxnRef"]), "1404")


GOOD_VALUES = [
    ("purchaseAmount", "10000", 10000), ("purchaseAmount", 1, 1),
    ("purchaseAmount", 999999999999, 999999999999), ("purchaseAmount", "999999999999", 999999999999),
    ("channelId", "7", 7), ("channelId", 0, 0), ("channelId", 99, 99),
    ("feeAmount", "0", 0),
    ("authCode", 1234, None), ("accountIdentifier", 37450762, None),
    ("sourceIdentifier", 2341234567899, "2341234567899"),
    ("targetIdentifier", 2348012345555, "2348012345555"),
    ("channelSessionId", 144974973281, None), ("channelName", "x" * 64, "x" * 64),
    ("sourceIdentifier", "1" * 32, "1" * 32), ("accountIdentifier", "a" * 64, None),
    ("authCode", "b" * 64, None), ("channelSessionId", "c" * 64, None),
    ("timestamp", "2017-06-29T16:39:42Z", "2017-06-29T16:39:42Z"),
    ("timestamp", "2017-06-29T16:39:42.735+02:00", "2017-06-29T16:39:42.735+02:00"),
    # ISO 8601 as Java's SimpleDateFormat and others write it: kept as sent
    ("timestamp", "2017-06-29T16:39:42.735+0000", "2017-06-29T16:39:42.735+0000"),
    ("timestamp", "2017-06-29T16:39:42,735Z", "2017-06-29T16:39:42,735Z"),
    ("timestamp", "2017-06-29T16:39:42", "2017-06-29T16:39:42"),
    ("additionalData", '{"product": 101, "client": 900}', None),
    ("additionalData", {}, None), ("additionalData", {"a": {"b": [1, 2, "c"]}}, None),
]


@pytest.mark.parametrize("name, value, shown", GOOD_VALUES,
                         ids=[f"{n}={json.dumps(v)[:24]}" for n, v, _ in GOOD_VALUES])
def test_field_accepted(mp, bank, wide, name, value, shown):
    body = purchase_body(bank, wide, **{name: value})
    raas = assert_accepted(mp.transact(bank, body))
    if shown is not None:
        b = assert_success(mp.lookup(bank, raasTxnRef=raas))
        key = "requestTimestamp" if name == "timestamp" else name
        assert b[key] == shown, (key, b[key])


def test_integer_valued_ids_and_refs(mp, bank, airtime):
    ref = str(uuid.uuid4().int % 10**15)
    body = purchase_body(bank, airtime, clientId=str(bank.id), productId=str(airtime.id),
                         fundingSourceId=str(bank.funding), clientTxnRef=int(ref),
                         reserveFundsTxnRef=int(ref) + 1)
    raas = assert_accepted(mp.transact(bank, body))
    b = assert_success(mp.lookup(bank, clientTxnRef=ref))
    assert (b["raasTxnRef"], b["clientId"], b["productId"], b["reserveFundsTxnRef"]) == (
        raas, bank.id, airtime.id, str(int(ref) + 1)), b


def test_longest_strings_accepted(mp, bank, wide):
    body = purchase_body(bank, wide, clientTxnRef="r" * 60 + uuid.uuid4().hex[:4],
                         reserveFundsTxnRef="f" * 64, targetIdentifier="5" * 32,
                         timestamp="2017-06-29T16:39:42.123456+00:00")
    assert len(body["timestamp"]) == 32
    raas = assert_accepted(mp.transact(bank, body))
    b = assert_success(mp.lookup(bank, raasTxnRef=raas))
    assert (b["clientTxnRef"], b["reserveFundsTxnRef"], b["targetIdentifier"]) == (
        body["clientTxnRef"], "f" * 64, "5" * 32)


def test_additional_data_of_4096_bytes_accepted(mp, bank, wide):
    compact = (",", ":")
    data = {"x": "y" * (4096 - len(json.dumps({"x": ""}, separators=compact)))}
    assert len(json.dumps(data, separators=compact)) == 4096
    body = purchase_body(bank, wide, additionalData=data)
    assert_accepted(mp.transact(bank, json.dumps(body, separators=compact).encode()))


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'"text"', b"42", b"{", b'{"a": 1} x'])
def test_body_that_is_not_a_json_object(mp, bank, raw):
    assert_refused(mp.transact(bank, raw), "1000")


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=x"])
def test_transact_without_a_json_body(mp, bank, airtime, ctype):
    body = purchase_body(bank, airtime)
    assert_refused(mp.transact(bank, body, headers={"Content-Type": ctype}), "1415")
    assert_refused(mp.lookup(bank, clientTxnRef=body["clientTxnRef"]), "1404")


def test_transact_body_at_most_16_kib(mp, bank, airtime):
    body = purchase_body(bank, airtime, additionalData={"x": "p" * (16 * 1024)})
    assert len(dumps(body)) > 16 * 1024
    assert_refused(mp.transact(bank, body), "1413")
    assert_refused(mp.lookup(bank, clientTxnRef=body["clientTxnRef"]), "1404")


def _checked_undocumented(method: str, path: str) -> bool:
    return get_checker().doc.find_operation(method, path) is None


def test_transact_method_not_allowed(mp, bank):
    for method in ("GET", "PUT", "DELETE"):
        r = mp.api.request(method, TRANSACT, headers=mp.auth(bank),
                           undocumented=_checked_undocumented(method, TRANSACT))
        assert_refused(r, "1405")


# ---- Transact: authentication and signatures --------------------------------------------


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer ", "Bearer mat_nope",
                                           "Bearer mat_" + "A" * 43, "Basic dXNlcjpwYXNz",
                                           "bearer-token"])
def test_transact_bad_access_token(mp, bank, airtime, authorization):
    body = purchase_body(bank, airtime)
    r = mp.transact(bank, body, headers={"Authorization": authorization})
    assert_refused(r, "1001")
    assert_refused(mp.lookup(bank, clientTxnRef=body["clientTxnRef"]), "1404")


def test_transact_bad_api_key(mp, bank, bank2, airtime):
    for key in (None, "", "mak_sandbox_" + "A" * 43, bank.api_key + "x", bank2.api_key,
                bank.secret):
        body = purchase_body(bank, airtime)
        assert_refused(mp.transact(bank, body, headers={"X-API-Key": key}), "1002")
        assert_refused(mp.lookup(bank, clientTxnRef=body["clientTxnRef"]), "1404")
    # another client's token with this client's key
    body = purchase_body(bank, airtime)
    assert_refused(mp.transact(bank, body, headers={"Authorization": "Bearer " + mp.token(bank2)}),
                   "1002")


def test_disable_kills_tokens_and_key_at_once(mp, airtime):
    c = mp.create_client()
    token = mp.token(c)
    assert_accepted(mp.transact(c, purchase_body(c, airtime)))  # the token is known now
    assert_success(mp.get(PRODUCTS, c))
    mp.ok("marketplace", "client", "disable", str(c.id))
    disabled = time.monotonic()
    if cp_helpers.on_postgres():
        # PostgreSQL: every node learns of it within a second (a notice, and
        # the configuration version read every second)
        while mp.transact(c, purchase_body(c, airtime)).status_code == 202:
            assert time.monotonic() - disabled <= 1.0, "still accepted a second after disable"
            time.sleep(0.02)
    # SQLite: refused from the next request (and from every one after it)
    for _ in range(3):
        body = purchase_body(c, airtime)
        assert_refused(mp.transact(c, body), "1001")
    assert_refused(mp.get(PRODUCTS, c), "1001")
    assert_refused(mp.get(LOOKUP, c, {"clientId": c.id, "clientTxnRef": body["clientTxnRef"]}),
                   "1001")
    assert_refused(mp.get(PRODUCTS, c, headers={"Authorization": "Bearer " + token}), "1001")
    assert_oauth_error(mp.token_request(form(**creds(c))), 401, "invalid_client")


def test_signature_required(mp, signer, bank, airtime):
    body = purchase_body(signer, airtime)
    raw = dumps(body)
    assert_refused(mp.transact(signer, raw), "1003")
    wrong = [
        sign(signer.sig_secret, raw + b" "),  # other bytes
        sign(signer.sig_secret, dumps(body).replace(b", ", b",")),  # the same JSON, re-spaced
        sign(bank.sig_secret, raw),  # another client's secret
        sign(secret_part(signer.sig_secret), raw),  # the secret without its prefix
        base64.b64encode(hashlib.sha256(raw).digest()).decode(),  # no key
        "not base64 !!",
        sign(signer.sig_secret, raw)[:-4],
    ]
    for sig in wrong:
        assert_refused(mp.transact(signer, raw, signature=sig), "1004")
    assert_refused(mp.lookup(signer, clientTxnRef=body["clientTxnRef"]), "1404")
    raas = assert_accepted(mp.transact(signer, raw, signed=True))
    assert assert_success(mp.lookup(signer, clientTxnRef=body["clientTxnRef"]))["raasTxnRef"] == raas


def test_signature_checked_when_present(mp, bank, airtime):
    body = purchase_body(bank, airtime)
    raw = dumps(body)
    assert_refused(mp.transact(bank, raw, signature=sign(bank.sig_secret, raw + b"\n")), "1004")
    assert_refused(mp.transact(bank, raw, signature="AAAA"), "1004")
    assert_refused(mp.lookup(bank, clientTxnRef=body["clientTxnRef"]), "1404")
    assert_accepted(mp.transact(bank, raw, signed=True))
    assert_accepted(mp.transact(bank, purchase_body(bank, airtime)))  # none: not required


def test_client_mismatch(mp, bank, bank2, airtime):
    body = purchase_body(bank, airtime, clientId=bank2.id)
    assert_refused(mp.transact(bank, body), "1005", "clientId")
    body = purchase_body(bank, airtime, clientId=99990)  # no such client
    assert_refused(mp.transact(bank, body), "1005")
    # before the business rules
    body = purchase_body(bank, airtime, clientId=bank2.id, productId=99999)
    assert_refused(mp.transact(bank, body), "1005")
    assert_refused(mp.lookup(bank, clientTxnRef=body["clientTxnRef"]), "1404")


def test_funding_source_mismatch(mp, bank, airtime):
    body = purchase_body(bank, airtime, fundingSourceId=bank.funding + 1)
    assert_refused(mp.transact(bank, body), "1006", "fundingSourceId")
    body = purchase_body(bank, airtime, fundingSourceId=bank.funding + 1, purchaseAmount=1)
    assert_refused(mp.transact(bank, body), "1006")
    assert_refused(mp.lookup(bank, clientTxnRef=body["clientTxnRef"]), "1404")
    # fixed, the same reference is accepted
    body["fundingSourceId"], body["purchaseAmount"] = bank.funding, airtime.min
    assert_accepted(mp.transact(bank, body))


# ---- Transact: business rules --------------------------------------------------------------


@pytest.fixture(scope="module")
def catalogue(mp):
    return {
        "active": mp.add_product("airtime", currency="NGN", min=5000, max=50000, fee=150),
        "inactive": mp.add_product("airtime", currency="NGN", min=5000, max=50000, fee=0,
                                   inactive=True),
    }


BUSINESS = [
    ("2001", {"productId": 99999}, {"productId": None}),
    ("2002", {"productId": "inactive"}, {"productId": "active"}),
    ("2003", {"purchaseAmount": 4999}, {"purchaseAmount": 5000}),
    ("2004", {"purchaseAmount": 50001}, {"purchaseAmount": 50000}),
    ("2005", {"feeAmount": 0}, {"feeAmount": 150}),
    ("2005", {"feeAmount": 151}, {"feeAmount": 150}),
    ("2006", {"currencyCode": "ZAR"}, {"currencyCode": "NGN"}),
    ("2006", {"currencyCode": "USD"}, {"currencyCode": "NGN"}),
]


@pytest.mark.parametrize("code, wrong, fixed", BUSINESS,
                         ids=[f"{c}-{list(w.items())[0]}" for c, w, _ in BUSINESS])
def test_business_rule(mp, bank, catalogue, code, wrong, fixed):
    p = catalogue["active"]

    def resolve(fields):
        out = {}
        for k, v in fields.items():
            if k == "productId":
                v = catalogue[v].id if isinstance(v, str) else (p.id if v is None else v)
            out[k] = v
        return out

    body = purchase_body(bank, p, **resolve(wrong))
    assert_refused(mp.transact(bank, body), code)
    assert_refused(mp.lookup(bank, clientTxnRef=body["clientTxnRef"]), "1404")
    # nothing was stored: fixed, the same references go through
    body.update(resolve(fixed))
    assert_accepted(mp.transact(bank, body))


def test_business_rules_wait_for_field_errors(mp, bank, catalogue):
    body = purchase_body(bank, catalogue["active"], productId=99999, drop=("channelName",))
    errs = assert_refused(mp.transact(bank, body), "1000", "channelName")
    assert not any(e.startswith("productId:") for e in errs), errs


def test_production_client_is_refused(mp, airtime):
    live = mp.create_client(environment="production")
    body = purchase_body(live, airtime)
    assert_refused(mp.transact(live, body), "2010")
    assert_refused(mp.lookup(live, clientTxnRef=body["clientTxnRef"]), "1404")
    # no terms for what cannot be bought; the request is checked first
    errors = assert_refused(terms(mp, live, productId=airtime.id, purchaseAmount=airtime.min),
                            "2010", "productId")
    assert errors == ["productId: no live vendor is connected for this product"], errors
    assert_refused(terms(mp, live, productId=airtime.id), "1000", "purchaseAmount")


def test_client_update_reaches_transact(mp, airtime):
    c = mp.create_client()
    cid = str(c.id)
    mp.ok("marketplace", "client", "update", cid, "--funding-source-id", str(c.id + 50000))
    old = c.funding
    c.funding = c.id + 50000
    eventually_transact(mp, c, lambda: purchase_body(c, airtime), lambda r: r.status_code == 202,
                        "the new funding source accepted")
    assert_refused(mp.transact(c, purchase_body(c, airtime, fundingSourceId=old)), "1006")
    mp.ok("marketplace", "client", "update", cid, "--require-signature")
    eventually_transact(mp, c, lambda: purchase_body(c, airtime), is_refusal("1003"),
                        "a signature required")
    assert_accepted(mp.transact(c, purchase_body(c, airtime), signed=True))
    sandbox_key = c.api_key
    out = mp.ok("marketplace", "client", "update", cid, "--no-require-signature",
                "--environment", "production", "--json").json()
    register(out["apiKey"])
    # the sandbox key no longer works for the production client ...
    eventually_transact(mp, c, lambda: purchase_body(c, airtime), is_refusal("1002"),
                        "the sandbox key refused")
    # ... its new live key does, and the purchase is refused as a production one
    c.api_key = out["apiKey"]
    assert_refused(mp.transact(c, purchase_body(c, airtime)), "2010")
    out = mp.ok("marketplace", "client", "update", cid, "--environment", "sandbox",
                "--json").json()
    register(out["apiKey"])
    eventually_transact(mp, c, lambda: purchase_body(c, airtime), is_refusal("1002"),
                        "the live key refused")
    c.api_key = sandbox_key  # the first sandbox key is gone for good
    assert_refused(mp.transact(c, purchase_body(c, airtime)), "1002")
    c.api_key = out["apiKey"]
    assert_accepted(mp.transact(c, purchase_body(c, airtime)))


def test_a_key_that_does_not_fit_the_clients_environment_is_refused(mp, airtime):
    """However a client's environment came to differ from its key's prefix
    (here: changed in the database), the key is refused."""
    c = mp.create_client()
    assert_success(mp.get(PRODUCTS, c))
    n = cp_helpers.db_exec(mp.db_url, "UPDATE mp_clients SET environment = 1 WHERE client_id = ?",
                           (c.id,))
    assert n == 1
    c.token = None  # a new token is checked against the database
    errors = assert_refused(mp.get(PRODUCTS, c), "1002", "X-API-Key")
    assert "mak_live_" in errors[0], errors
    assert_refused(mp.transact(c, purchase_body(c, airtime)), "1002")


# ---- Transact: duplicate references ------------------------------------------------------


def test_duplicate_same_bytes_same_reply(mp, bank, airtime):
    raw = dumps(purchase_body(bank, airtime))
    first = mp.transact(bank, raw)
    raas = assert_accepted(first)
    for path in (TRANSACT, TRANSACT_GW):
        again = mp.transact(bank, raw, path=path)
        assert again.status_code == 202 and again.content == first.content, again.text
    assert assert_success(mp.lookup(bank, raasTxnRef=raas))["raasTxnRef"] == raas


def test_purchase_stored_with_a_raw_body_hash_replays_the_same_bytes(mp, bank, airtime):
    """A purchase stored before repeats were compared on their fields holds
    the SHA-256 of its raw body: after the upgrade, the same bytes sent again
    still replay it (a 409 would tell the bank the purchase failed)."""
    body = purchase_body(bank, airtime)
    raw = dumps(body)
    first = mp.transact(bank, raw)
    raas = assert_accepted(first)
    n = cp_helpers.db_exec(mp.db_url,
                           "UPDATE mp_purchases SET body_hash = ? WHERE raas_ref = ?",
                           (hashlib.sha256(raw).digest(), raas))
    assert n == 1
    again = mp.transact(bank, raw)
    assert again.status_code == 202 and again.content == first.content, again.text
    # anything else under its reference is still refused
    assert_refused(mp.transact(bank, dict(body, purchaseAmount=body["purchaseAmount"] + 1)),
                   "2007")


def test_repeat_with_a_new_timestamp_is_the_same_purchase(mp, bank, airtime):
    """A client sends a request again after a timeout with a new timestamp
    (the spec's "when the request was sent") and writes its JSON its own
    way: the same fields are the same purchase, answered as the first time."""
    body = purchase_body(bank, airtime)
    first = mp.transact(bank, body)
    raas = assert_accepted(first)
    again = dict(body, timestamp="2031-05-06T07:08:09.123+02:00")
    respelled = json.dumps(dict(reversed(list(again.items()))), indent=1).encode()
    r = mp.transact(bank, respelled)
    assert r.status_code == 202 and r.content == first.content, r.text
    b = assert_success(mp.lookup(bank, clientTxnRef=body["clientTxnRef"]))
    assert b["raasTxnRef"] == raas


def test_duplicate_other_body_refused(mp, bank, airtime):
    body = purchase_body(bank, airtime)
    raas = assert_accepted(mp.transact(bank, body))
    variants = [
        dict(body, purchaseAmount=body["purchaseAmount"] + 1),
        dict(body, reserveFundsTxnRef=fresh_ref("rft")),
        dict(body, additionalData={"other": True}),
        dict(body, accountIdentifier="3745******0763"),
        dict(body, targetIdentifier=fresh_number()),
        dict(body, channelSessionId="other-session"),
        dict(body, authCode="1235"),
        {k: v for k, v in body.items() if k != "additionalData"},
    ]
    for v in variants:
        assert_refused(mp.transact(bank, v), "2007")
    b = assert_success(mp.lookup(bank, clientTxnRef=body["clientTxnRef"]))
    assert (b["raasTxnRef"], b["purchaseAmount"], b["reserveFundsTxnRef"]) == (
        raas, body["purchaseAmount"], body["reserveFundsTxnRef"]), b
    assert_accepted(mp.transact(bank, body))  # the original bytes still replay


def test_a_reservation_pays_for_one_purchase(mp, bank, bank2, airtime):
    """The bank reserves funds once per purchase: the same
    reserveFundsTxnRef under another clientTxnRef would have the product
    issued twice for one reservation."""
    body = purchase_body(bank, airtime)
    raas = assert_accepted(mp.transact(bank, body))
    again = purchase_body(bank, airtime, reserveFundsTxnRef=body["reserveFundsTxnRef"])
    errors = assert_refused(mp.transact(bank, again), "2007", "reserveFundsTxnRef")
    assert errors == [f'reserveFundsTxnRef: "{body["reserveFundsTxnRef"]}" paid for another '
                      f'purchase already (clientTxnRef "{body["clientTxnRef"]}", {raas})'], errors
    assert_refused(mp.lookup(bank, clientTxnRef=again["clientTxnRef"]), "1404")  # not stored
    got = assert_success(mp.lookup(bank, reserveFundsTxnRef=body["reserveFundsTxnRef"]))
    assert got["raasTxnRef"] == raas, got
    # another client's reservations are its own
    assert_accepted(mp.transact(bank2, purchase_body(
        bank2, airtime, reserveFundsTxnRef=body["reserveFundsTxnRef"])))


def test_same_reference_for_another_client(mp, bank, bank2, airtime):
    ref = fresh_ref("shared")
    a = assert_accepted(mp.transact(bank, purchase_body(bank, airtime, clientTxnRef=ref)))
    b = assert_accepted(mp.transact(bank2, purchase_body(bank2, airtime, clientTxnRef=ref)))
    assert a != b
    assert assert_success(mp.lookup(bank, clientTxnRef=ref))["raasTxnRef"] == a
    assert assert_success(mp.lookup(bank2, clientTxnRef=ref))["raasTxnRef"] == b


def fire_twins(nodes: list[str], hold: MpEnv, client: Client, product: Product, n: int = 16):
    """n identical Transact requests at once, spread over the nodes' base URLs
    (read in threads, contract-checked afterwards one at a time); asserts
    that all got the same 202 and that one purchase was made."""
    body = purchase_body(client, product)
    raw = dumps(body)
    headers = {"Content-Type": "application/json", **hold.auth(client)}
    barrier = threading.Barrier(n, timeout=10)
    results: list = [None] * n

    def worker(i):
        s = requests.Session()
        try:
            barrier.wait()
            r = s.post(nodes[i % len(nodes)] + TRANSACT, headers=headers, data=raw, timeout=15)
            results[i] = (r.status_code, dict(r.headers), r.content)
        except Exception as e:  # reported below
            results[i] = e
        finally:
            s.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert not any(t.is_alive() for t in threads), "a client thread hung"
    errors = [r for r in results if not isinstance(r, tuple)]
    assert not errors, errors
    for status, hdrs, content in results:  # checked here, one at a time
        check_response("POST", TRANSACT, status, hdrs, content)
    assert [r[0] for r in results] == [202] * n, [(r[0], r[2][:200]) for r in results]
    assert len({r[2] for r in results}) == 1, "the twins got different replies"
    raas = json.loads(results[0][2])["raasTxnRef"]
    # one purchase: the in-flight check of these numbers lists exactly one
    r = hold.get(INFLIGHT, client, {
        "clientId": client.id, "sourceIdentifier": body["sourceIdentifier"],
        "targetIdentifier": body["targetIdentifier"], "productId": product.id,
        "purchaseAmount": body["purchaseAmount"], "clientTxnRef": fresh_ref("probe")})
    b = assert_success(r)
    assert b["inFlight"] is True and [t["raasTxnRef"] for t in b["transactions"]] == [raas], b
    assert assert_success(hold.lookup(client, clientTxnRef=body["clientTxnRef"]))[
        "raasTxnRef"] == raas


def test_concurrent_twins_buy_once(hold, hold_bank, hold_elec):
    fire_twins([hold.base_url], hold, hold_bank, hold_elec)


@pytest.fixture(scope="module")
def hold_b(hold):
    """A second node (also without workers) on the hold server's database."""
    proc = start_server(hold.proc.workdir, hold.db_url, name="mp-hold-b",
                        extra_args=["--no-workers"], env={"CHATPAY_SECRETS_KEY": hold.secrets_key})
    env = MpEnv(proc, hold.secrets_key)
    try:
        yield env
    finally:
        stop_env(env)


def test_concurrent_twins_on_two_nodes_buy_once(hold, hold_b, hold_bank, hold_elec):
    fire_twins([hold.base_url, hold_b.base_url], hold, hold_bank, hold_elec)


# ---- Transaction Lookup (a purchase in progress) -----------------------------------------


def test_transaction_lookup_in_progress(hold, hold_bank, hold_elec):
    body = purchase_body(hold_bank, hold_elec, purchaseAmount=250000)
    raas = assert_accepted(hold.transact(hold_bank, body))
    b = assert_success(hold.lookup(hold_bank, raasTxnRef=raas))
    assert set(b) >= LOOKUP_KEYS, sorted(LOOKUP_KEYS - set(b))
    expected = {
        "raasTxnRef": raas, "clientId": hold_bank.id, "fundingSourceId": hold_bank.funding,
        "clientTxnRef": body["clientTxnRef"], "reserveFundsTxnRef": body["reserveFundsTxnRef"],
        "productId": hold_elec.id, "productName": hold_elec.name, "productType": "electricity",
        "vendor": hold_elec.vendor, "purchaseAmount": 250000, "feeAmount": 10000,
        "currencyCode": "NGN", "sourceIdentifier": body["sourceIdentifier"],
        "targetIdentifier": body["targetIdentifier"], "channelId": 7, "channelName": "USSD",
        "status": "PROCESSING", "reserveResponseCode": None, "transactResponseCode": "0000",
        "resultResponseCode": None, "resultResponseMessage": None,
        "requestTimestamp": REQUEST_TIMESTAMP, "completedAt": None,
    }
    assert {k: b[k] for k in expected} == expected, b
    assert is_rfc3339(b["createdAt"]) and is_rfc3339(b["updatedAt"]), b
    assert b["resultDelivery"]["state"] == "NONE" and set(b["resultDelivery"]) == {
        "state", "attempts", "lastHttpStatus", "deliveredAt"}, b["resultDelivery"]
    # by each reference, and by several that agree
    for refs in ({"clientTxnRef": body["clientTxnRef"]},
                 {"reserveFundsTxnRef": body["reserveFundsTxnRef"]},
                 {"raasTxnRef": raas, "clientTxnRef": body["clientTxnRef"],
                  "reserveFundsTxnRef": body["reserveFundsTxnRef"]}):
        assert hold.lookup(hold_bank, **refs).body == b, refs


def test_every_reference_transact_takes_can_be_looked_up(hold, hold_bank, hold_elec):
    """Transact's text may hold a tab or a newline: so may a lookup's
    parameter, and it finds the purchase."""
    body = purchase_body(hold_bank, hold_elec, clientTxnRef=fresh_ref("tab") + "\tx",
                         reserveFundsTxnRef=fresh_ref("nl") + "\ny")
    raas = assert_accepted(hold.transact(hold_bank, body))
    for refs in ({"clientTxnRef": body["clientTxnRef"]},
                 {"reserveFundsTxnRef": body["reserveFundsTxnRef"]}):
        got = assert_success(hold.lookup(hold_bank, **refs))
        assert got["raasTxnRef"] == raas and got["clientTxnRef"] == body["clientTxnRef"], got
    got = assert_success(inflight(hold, hold_bank, body, clientTxnRef=fresh_ref("new")))
    assert raas in [t["raasTxnRef"] for t in got["transactions"]], got


def test_transaction_lookup_refusals(hold, hold_bank, hold_bank2, hold_elec):
    a = purchase_body(hold_bank, hold_elec)
    raas = assert_accepted(hold.transact(hold_bank, a))
    other = purchase_body(hold_bank, hold_elec)
    assert_accepted(hold.transact(hold_bank, other))
    # references that do not all match
    assert_refused(hold.lookup(hold_bank, raasTxnRef=raas, clientTxnRef=other["clientTxnRef"]),
                   "1404")
    assert_refused(hold.lookup(hold_bank, clientTxnRef=a["clientTxnRef"],
                               reserveFundsTxnRef=other["reserveFundsTxnRef"]), "1404")
    # unknown references
    assert_refused(hold.lookup(hold_bank, raasTxnRef=str(uuid.uuid4())), "1404")
    assert_refused(hold.lookup(hold_bank, clientTxnRef=fresh_ref("nope")), "1404")
    assert_refused(hold.lookup(hold_bank, reserveFundsTxnRef=fresh_ref("nope")), "1404")
    # another client's purchase is not there for this client
    for refs in ({"raasTxnRef": raas}, {"clientTxnRef": a["clientTxnRef"]},
                 {"reserveFundsTxnRef": a["reserveFundsTxnRef"]}):
        assert_refused(hold.lookup(hold_bank2, **refs), "1404")
        # nor with the owner's clientId and the other's credentials
        assert_refused(hold.get(LOOKUP, hold_bank2, {"clientId": hold_bank.id, **refs}), "1005")
    # a control character Transact would not store: refused, naming the parameter
    errors = assert_refused(hold.lookup(hold_bank, clientTxnRef="a\x01b"), "1000", "clientTxnRef")
    assert errors == ["clientTxnRef: must be 1 to 64 characters of UTF-8 text"], errors
    # no reference, a malformed clientId
    assert_refused(hold.lookup(hold_bank), "1000")
    assert_refused(hold.get(LOOKUP, hold_bank, {"clientId": "abc", "raasTxnRef": raas}), "1000")


# ---- Financial Terms ----------------------------------------------------------------------


def terms(env, client, **q):
    return env.get(TERMS, client, {"clientId": client.id, **q})


def test_financial_terms(mp, bank, elec, catalogue):
    b = assert_success(terms(mp, bank, productId=elec.id, purchaseAmount=100000))
    assert strip(b) == {"clientId": bank.id, "productId": elec.id, "currencyCode": "NGN",
                        "purchaseAmount": 100000, "feeAmount": 10000,
                        "settlementAmount": 110000}, b
    b = assert_success(terms(mp, bank, productId=elec.id, purchaseAmount=10000000))
    assert (b["feeAmount"], b["settlementAmount"]) == (10000, 10010000), b
    assert_refused(terms(mp, bank, productId=99999, purchaseAmount=100000), "2001")
    assert_refused(terms(mp, bank, productId=catalogue["inactive"].id, purchaseAmount=5000),
                   "2002")
    assert_refused(terms(mp, bank, productId=elec.id, purchaseAmount=99999), "2003")
    assert_refused(terms(mp, bank, productId=elec.id, purchaseAmount=10000001), "2004")


def test_financial_terms_refusals(mp, bank, bank2, elec):
    assert_refused(terms(mp, bank, productId=elec.id), "1000")
    assert_refused(terms(mp, bank, purchaseAmount=100000), "1000")
    assert_refused(terms(mp, bank, productId=elec.id, purchaseAmount="10.5"), "1000")
    assert_refused(terms(mp, bank, productId="abc", purchaseAmount=100000), "1000")
    assert_refused(mp.get(TERMS, bank, {"clientId": bank2.id, "productId": elec.id,
                                        "purchaseAmount": 100000}), "1005")


# ---- Product Lookup -----------------------------------------------------------------------


def test_product_lookup(mp, bank, airtime, elec, catalogue):
    listed = assert_success(mp.get(PRODUCTS, bank))
    assert set(listed) == {"responseCode", "responseMessage", "products"}, sorted(listed)
    products = listed["products"]
    ids = [p["productId"] for p in products]
    assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
    assert all(set(p) == PRODUCT_KEYS for p in products), products[:2]
    by_id = {p["productId"]: p for p in products}
    for p in (airtime, elec, catalogue["active"], catalogue["inactive"]):
        assert by_id[p.id] == p.api(), (by_id.get(p.id), p.api())
    assert by_id[catalogue["inactive"].id]["active"] is False
    assert by_id[elec.id]["issuesTokens"] is True and by_id[airtime.id]["issuesTokens"] is False
    only = assert_success(mp.get(PRODUCTS, bank, {"type": "electricity"}))["products"]
    assert only and all(p["type"] == "electricity" for p in only)
    assert [p["productId"] for p in only] == [i for i in ids if by_id[i]["type"] == "electricity"]
    assert strip(product_lookup(mp, bank, elec.id)) == elec.api()
    assert_refused(mp.get(f"{PRODUCTS}/99998", bank), "1404")
    # productId is 1 to 99999: anything else is a bad id, not an unknown product
    for bad in ("0", "00000", "100000", "-1", "1x"):
        assert_refused(mp.get(f"{PRODUCTS}/{bad}", bank), "1000")
    assert_refused(mp.get(PRODUCTS, bank, {"type": "gadget"}), "1000")


# ---- In-Flight Transaction Check -------------------------------------------------------------


def inflight(env, client, body, **refs):
    return env.get(INFLIGHT, client, {
        "clientId": client.id, "sourceIdentifier": body["sourceIdentifier"],
        "targetIdentifier": body["targetIdentifier"], "productId": body["productId"],
        "purchaseAmount": body["purchaseAmount"], **refs})


def test_in_flight_check(hold, hold_bank, hold_bank2, hold_elec):
    a = purchase_body(hold_bank, hold_elec)
    same = {k: a[k] for k in ("sourceIdentifier", "targetIdentifier", "purchaseAmount")}
    b = purchase_body(hold_bank, hold_elec, **same)
    ra = assert_accepted(hold.transact(hold_bank, a))
    rb = assert_accepted(hold.transact(hold_bank, b))
    # not the same purchase: another amount, another target, another client
    assert_accepted(hold.transact(hold_bank, purchase_body(
        hold_bank, hold_elec, **dict(same, purchaseAmount=a["purchaseAmount"] + 1))))
    assert_accepted(hold.transact(hold_bank, purchase_body(
        hold_bank, hold_elec, **dict(same, targetIdentifier=fresh_number()))))
    assert_accepted(hold.transact(hold_bank2, purchase_body(hold_bank2, hold_elec, **same)))

    got = assert_success(inflight(hold, hold_bank, a, clientTxnRef=fresh_ref("new")))
    assert got["inFlight"] is True, got
    entries = {t["raasTxnRef"]: t for t in got["transactions"]}
    assert set(entries) == {ra, rb}, got
    for raas, body in ((ra, a), (rb, b)):
        t = entries[raas]
        assert set(t) == {"raasTxnRef", "clientTxnRef", "reserveFundsTxnRef", "status",
                          "createdAt"}, t
        assert (t["clientTxnRef"], t["reserveFundsTxnRef"], t["status"]) == (
            body["clientTxnRef"], body["reserveFundsTxnRef"], "PROCESSING"), t
        assert is_rfc3339(t["createdAt"]), t
    # the purchase being checked itself is left out, by any of its references
    for refs in ({"clientTxnRef": a["clientTxnRef"]}, {"raasTxnRef": ra},
                 {"reserveFundsTxnRef": a["reserveFundsTxnRef"]}):
        got = assert_success(inflight(hold, hold_bank, a, **refs))
        assert got["inFlight"] is True and [t["raasTxnRef"] for t in got["transactions"]] == [rb]
    got = assert_success(inflight(hold, hold_bank, a, raasTxnRef=ra,
                                  clientTxnRef=b["clientTxnRef"]))
    assert (got["inFlight"], got["transactions"]) == (False, []), got
    # another client sees only its own
    got = assert_success(inflight(hold, hold_bank2, dict(a, clientId=hold_bank2.id),
                                  clientTxnRef=fresh_ref("new")))
    assert got["inFlight"] is True and len(got["transactions"]) == 1, got
    assert got["transactions"][0]["raasTxnRef"] not in (ra, rb)


def test_in_flight_check_lists_at_most_20(hold, hold_bank, hold_elec):
    first = purchase_body(hold_bank, hold_elec)
    same = {k: first[k] for k in ("sourceIdentifier", "targetIdentifier", "purchaseAmount")}
    refs = {assert_accepted(hold.transact(hold_bank, first))}
    for _ in range(21):
        refs.add(assert_accepted(hold.transact(hold_bank, purchase_body(hold_bank, hold_elec,
                                                                        **same))))
    got = assert_success(inflight(hold, hold_bank, first, clientTxnRef=fresh_ref("new")))
    assert got["inFlight"] is True and len(got["transactions"]) == 20, len(got["transactions"])
    listed = [t["raasTxnRef"] for t in got["transactions"]]
    assert len(set(listed)) == 20 and set(listed) <= refs


def test_in_flight_check_leaves_out_only_the_purchase_asked_about(hold, hold_bank, hold_elec):
    # (that many purchases sharing the reference asked about do not crowd out
    # another is the storage contract's test: Transact refuses a reservation
    # used twice)
    first = purchase_body(hold_bank, hold_elec)
    same = {k: first[k] for k in ("sourceIdentifier", "targetIdentifier", "purchaseAmount")}
    reserve = first["reserveFundsTxnRef"]
    assert_accepted(hold.transact(hold_bank, first))
    other = assert_accepted(hold.transact(hold_bank, purchase_body(hold_bank, hold_elec, **same)))
    got = assert_success(inflight(hold, hold_bank, first, reserveFundsTxnRef=reserve))
    assert got["inFlight"] is True, got
    assert [t["raasTxnRef"] for t in got["transactions"]] == [other], got


def test_in_flight_check_refusals(hold, hold_bank, hold_bank2, hold_elec):
    body = purchase_body(hold_bank, hold_elec)
    assert_refused(inflight(hold, hold_bank, body), "1000")  # no reference at all
    for missing in ("sourceIdentifier", "targetIdentifier", "productId", "purchaseAmount",
                    "clientId"):
        q = {"clientId": hold_bank.id, "sourceIdentifier": body["sourceIdentifier"],
             "targetIdentifier": body["targetIdentifier"], "productId": hold_elec.id,
             "purchaseAmount": body["purchaseAmount"], "clientTxnRef": fresh_ref("x")}
        del q[missing]
        assert_refused(hold.get(INFLIGHT, hold_bank, q), "1000")
    assert_refused(inflight(hold, hold_bank, dict(body, purchaseAmount="abc"),
                            clientTxnRef="x"), "1000")
    # another client's credentials with this clientId
    assert_refused(hold.get(INFLIGHT, hold_bank2, {
        "clientId": hold_bank.id, "sourceIdentifier": body["sourceIdentifier"],
        "targetIdentifier": body["targetIdentifier"], "productId": hold_elec.id,
        "purchaseAmount": body["purchaseAmount"], "clientTxnRef": "x"}), "1005")


def test_in_flight_check_after_completion(mp, bank, airtime):
    """With workers, a purchase ends; then it is not in flight."""
    body = purchase_body(bank, airtime)
    raas = assert_accepted(mp.transact(bank, body))
    wait_for(lambda: mp.lookup(bank, raasTxnRef=raas).body,
             lambda b: b.get("status") != "PROCESSING", 20, 0.1, "the purchase to end")
    got = assert_success(inflight(mp, bank, body, clientTxnRef=fresh_ref("new")))
    assert (got["inFlight"], got["transactions"]) == (False, []), got


# ---- Token Lookup (in progress, unknown) ---------------------------------------------------


def test_token_lookup_in_progress(hold, hold_bank, hold_bank2, hold_elec):
    body = purchase_body(hold_bank, hold_elec)
    raas = assert_accepted(hold.transact(hold_bank, body))
    for refs in ({"raasTxnRef": raas}, {"clientTxnRef": body["clientTxnRef"]},
                 {"reserveFundsTxnRef": body["reserveFundsTxnRef"]}):
        assert_refused(hold.get(TOKENS, hold_bank, {"clientId": hold_bank.id, **refs}), "2008")
    assert_refused(hold.get(TOKENS, hold_bank, {"clientId": hold_bank.id,
                                                "raasTxnRef": str(uuid.uuid4())}), "1404")
    # another client: not its purchase; nor with this clientId
    assert_refused(hold.get(TOKENS, hold_bank2, {"clientId": hold_bank2.id, "raasTxnRef": raas}),
                   "1404")
    assert_refused(hold.get(TOKENS, hold_bank2, {"clientId": hold_bank.id, "raasTxnRef": raas}),
                   "1005")
    assert_refused(hold.get(TOKENS, hold_bank, {"clientId": hold_bank.id}), "1000")


# ---- every lookup needs both credentials ----------------------------------------------------


def _lookup_query(path, client, product):
    return {
        LOOKUP: {"clientId": client.id, "raasTxnRef": str(uuid.uuid4())},
        TERMS: {"clientId": client.id, "productId": product.id, "purchaseAmount": product.min},
        PRODUCTS: {},
        INFLIGHT: {"clientId": client.id, "sourceIdentifier": "2341", "targetIdentifier": "2342",
                   "productId": product.id, "purchaseAmount": product.min,
                   "clientTxnRef": "x"},
        MNO: {"msisdn": "2348031234567"},
        TOKENS: {"clientId": client.id, "raasTxnRef": str(uuid.uuid4())},
    }[path]


@pytest.mark.parametrize("path", LOOKUPS)
def test_lookups_need_a_token_and_the_key(mp, bank, bank2, airtime, path):
    q = _lookup_query(path, bank, airtime)
    assert_refused(mp.get(path, None, q), "1001")
    assert_refused(mp.get(path, None, q, headers={"X-API-Key": bank.api_key}), "1001")
    assert_refused(mp.get(path, bank, q, headers={"Authorization": "Bearer mat_nope"}), "1001")
    assert_refused(mp.get(path, bank, q, headers={"X-API-Key": None}), "1002")
    assert_refused(mp.get(path, bank, q, headers={"X-API-Key": bank2.api_key}), "1002")


def test_lookup_paths_are_documented():
    """The contract checker knows every path of the family (else every
    answer above would fail as undocumented)."""
    doc = get_checker().doc
    missing = [p for p in (TOKEN, TOKEN_ALIAS, TRANSACT, TRANSACT_GW, *LOOKUPS)
               if doc.find_operation("POST" if p in (TOKEN, TOKEN_ALIAS, TRANSACT, TRANSACT_GW)
                                     else "GET", p) is None]
    assert not missing, f"docs/openapi.json does not document {missing}"
    assert doc.find_operation("GET", PRODUCTS + "/110") is not None


def test_openapi_describes_the_repeat_rule_transact_applies():
    """A client built from the schema learns that a repeat is compared on
    its fields, the timestamp left out (not byte for byte), as Transact does
    (test_repeat_with_a_new_timestamp_is_the_same_purchase)."""
    from openapi_check import DOC_PATH

    doc = json.loads(DOC_PATH.read_text(encoding="utf-8"))
    texts = {
        "the 202 reply": doc["components"]["responses"]["MarketplaceTransactAccepted"]["description"],
        "clientTxnRef": doc["components"]["schemas"]["MarketplaceTransactRequest"]["properties"][
            "clientTxnRef"]["description"],
        "the operation": doc["paths"][TRANSACT]["post"]["description"],
    }
    for what, text in texts.items():
        assert "byte for byte" not in text and "same body" not in text, (what, text)
        assert "same fields" in text and "`timestamp`" in text, (what, text)
