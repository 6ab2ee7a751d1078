"""Marketplace fulfilment and Transact Result (docs/marketplace.md): the
sandbox vendor's successes (tokens for electricity and vouchers), its magic
targetIdentifier endings (2201, 2213, 2239), the result POSTed to the
client's result URL (body, Signature header, retries, what counts as
delivered), resultDelivery in Transaction Lookup, and Token Lookup of
finished purchases.

The module runs a server of its own (with workers and a secrets_key given to
the CLI too) and one loopback receiver (tests/fakes/callback_receiver); each
client's result URL is a path of its own on it. Every wait is bounded."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

import pytest

import cp_helpers
from callback_receiver import CallbackReceiver
from mp_helpers import (
    DELIVERY_KEYS,
    INFLIGHT,
    LOOKUP_KEYS,
    RESULT_KEYS,
    RESULT_MESSAGES,
    TOKENS,
    Client,
    MpEnv,
    Product,
    assert_accepted,
    assert_refused,
    assert_schema,
    assert_success,
    dumps,
    fresh_number,
    fresh_ref,
    purchase_body,
    sign,
    start_env,
    stop_env,
    wait_for,
)
from openapi_check import is_rfc3339, parse_rfc3339

WAIT = 20.0  # seconds: a purchase ends and its result arrives well within this
SETTLE = 1.2  # seconds to wait before asserting that nothing more came (first retry: 1 s)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = start_env(tmp_path_factory.mktemp("mp-results"), "mp-results")
    try:
        yield e
    finally:
        stop_env(e)


@pytest.fixture(scope="module")
def rcv():
    r = CallbackReceiver().start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def products(env) -> dict[str, Product]:
    return {
        "airtime": env.add_product("airtime", min=5000, max=5000000, fee=0),
        "data": env.add_product("data", min=100000, max=100000, fee=0),
        "electricity": env.add_product("electricity", min=100000, max=10000000, fee=10000,
                                       vendor="EKEDC"),
        "bill": env.add_product("bill", min=100000, max=50000000, fee=10000, vendor="DStv"),
        "voucher": env.add_product("voucher", currency="ZAR", min=5000, max=200000, fee=500,
                                   vendor="Takealot"),
    }


def path_of(client_id: int) -> str:
    return f"/results/{client_id}"


def new_client(env: MpEnv, rcv: CallbackReceiver, *, url: bool = True, signed: bool = False,
               mode=None) -> Client:
    cid = env.client_id()
    if mode is not None:
        rcv.modes[path_of(cid)] = mode
    return env.create_client(cid, result_url=rcv.url + path_of(cid) if url else None,
                             require_signature=signed)


def results_for(rcv: CallbackReceiver, client: Client, raas: str):
    return [d for d in rcv.received(path_of(client.id)) if d.json.get("raasTxnRef") == raas]


def wait_results(rcv, client, raas, n=1, timeout=WAIT):
    rcv.wait_for(lambda _: len(results_for(rcv, client, raas)) >= n, timeout,
                 f"{n} result(s) for {raas}")
    return results_for(rcv, client, raas)


def lookup(env: MpEnv, client: Client, raas: str) -> dict:
    return assert_success(env.lookup(client, raasTxnRef=raas))


def wait_ended(env, client, raas, timeout=WAIT) -> dict:
    return wait_for(lambda: lookup(env, client, raas), lambda b: b["status"] != "PROCESSING",
                    timeout, 0.1, f"purchase {raas} to end")


def settled(rd: dict) -> bool:
    return rd["state"] in ("DELIVERED", "FAILED")


def wait_delivery(env, client, raas, done, timeout=WAIT) -> dict:
    return wait_for(lambda: lookup(env, client, raas), lambda b: done(b["resultDelivery"]),
                    timeout, 0.1, f"resultDelivery of {raas}")


def expected_result(body: dict, raas: str, status: str, code: str) -> dict:
    """The documented result body, but for tokens and timestamp."""
    return {
        "raasTxnRef": raas, "clientId": body["clientId"], "fundingSourceId": body["fundingSourceId"],
        "clientTxnRef": body["clientTxnRef"], "reserveFundsTxnRef": body["reserveFundsTxnRef"],
        "productId": body["productId"], "purchaseAmount": body["purchaseAmount"],
        "feeAmount": body["feeAmount"], "currencyCode": body["currencyCode"],
        "sourceIdentifier": body["sourceIdentifier"], "targetIdentifier": body["targetIdentifier"],
        "status": status, "responseCode": code, "responseMessage": RESULT_MESSAGES[code],
    }


def check_result(d, body: dict, raas: str, status: str, code: str) -> dict:
    assert d.headers.get("content-type", "").split(";")[0].strip() == "application/json", d.headers
    r = d.json
    assert_schema("MarketplaceTransactResult", r)
    assert set(r) == RESULT_KEYS, sorted(set(r) ^ RESULT_KEYS)
    assert {k: r[k] for k in r if k not in ("tokens", "timestamp")} == \
        expected_result(body, raas, status, code), r
    assert is_rfc3339(r["timestamp"]), r["timestamp"]
    assert isinstance(r["tokens"], list), r
    return r


TOKEN_SHAPES = {"electricity": ("ELECTRICITY_TOKEN", r"\d{20}"), "voucher": ("VOUCHER_PIN", r"\d{16}")}


def check_tokens(kind: str, tokens: list) -> None:
    if kind not in TOKEN_SHAPES:
        assert tokens == [], tokens
        return
    ttype, rx = TOKEN_SHAPES[kind]
    assert len(tokens) == 1 and set(tokens[0]) == {"type", "value"}, tokens
    assert tokens[0]["type"] == ttype and re.fullmatch(rx, tokens[0]["value"]), tokens


def token_lookup(env, client, **refs):
    return env.get(TOKENS, client, {"clientId": client.id, **refs})


# ---- success -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["airtime", "data", "bill", "electricity", "voucher"])
def test_success(env, rcv, products, kind):
    c = new_client(env, rcv)
    p = products[kind]
    body = purchase_body(c, p)
    raas = assert_accepted(env.transact(c, body))
    [d] = wait_results(rcv, c, raas)
    # signed for every client, not only those that sign their requests
    assert d.headers.get("signature") == sign(c.sig_secret, d.body), d.headers
    result = check_result(d, body, raas, "SUCCESS", "0000")
    check_tokens(kind, result["tokens"])

    b = wait_delivery(env, c, raas, settled)
    assert set(b) >= LOOKUP_KEYS, sorted(LOOKUP_KEYS - set(b))
    assert (b["status"], b["resultResponseCode"], b["resultResponseMessage"],
            b["transactResponseCode"], b["reserveResponseCode"]) == (
        "SUCCESS", "0000", "Success", "0000", None), b
    assert (b["productType"], b["productName"], b["vendor"], b["feeAmount"]) == (
        kind, p.name, p.vendor, p.fee), b
    created, updated, completed = (parse_rfc3339(b[k]) for k in ("createdAt", "updatedAt",
                                                                   "completedAt"))
    assert created <= completed and created <= updated, b
    rd = b["resultDelivery"]
    assert set(rd) == DELIVERY_KEYS, rd
    assert (rd["state"], rd["attempts"], rd["lastHttpStatus"]) == ("DELIVERED", 1, 200), rd
    assert is_rfc3339(rd["deliveredAt"]), rd

    for refs in ({"raasTxnRef": raas}, {"clientTxnRef": body["clientTxnRef"]},
                 {"reserveFundsTxnRef": body["reserveFundsTxnRef"]}):
        t = assert_success(token_lookup(env, c, **refs))
        assert {k: t[k] for k in ("raasTxnRef", "clientTxnRef", "productId", "productType",
                                  "status", "tokens")} == {
            "raasTxnRef": raas, "clientTxnRef": body["clientTxnRef"], "productId": p.id,
            "productType": kind, "status": "SUCCESS", "tokens": result["tokens"]}, t
    assert len(results_for(rcv, c, raas)) == 1


def test_tokens_differ_between_purchases(env, rcv, products):
    c = new_client(env, rcv)
    seen = []
    for kind in ("electricity", "electricity", "voucher", "voucher"):
        raas = assert_accepted(env.transact(c, purchase_body(c, products[kind])))
        seen.append((kind, raas))
    values = []
    for kind, raas in seen:
        [d] = wait_results(rcv, c, raas)
        check_tokens(kind, d.json["tokens"])
        values.append(d.json["tokens"][0]["value"])
    assert len(set(values)) == len(values), values


def test_replay_after_the_end_buys_nothing_more(env, rcv, products):
    c = new_client(env, rcv)
    raw = dumps(purchase_body(c, products["electricity"]))
    first = env.transact(c, raw)
    raas = assert_accepted(first)
    [d] = wait_results(rcv, c, raas)
    ended = wait_delivery(env, c, raas, lambda rd: rd["state"] == "DELIVERED")
    again = env.transact(c, raw)
    assert again.status_code == 202 and again.content == first.content, again.text
    time.sleep(SETTLE)
    assert lookup(env, c, raas) == ended
    assert len(rcv.received(path_of(c.id))) == 1, "a second result for a replayed request"


# ---- the vendor's failures and timeouts -------------------------------------------------------


@pytest.mark.parametrize("code", ["2201", "2213"])
def test_vendor_failure(env, rcv, products, code):
    c = new_client(env, rcv)
    body = purchase_body(c, products["electricity"], targetIdentifier=fresh_number(code))
    raas = assert_accepted(env.transact(c, body))
    [d] = wait_results(rcv, c, raas)
    result = check_result(d, body, raas, "FAILED", code)
    assert result["tokens"] == [], result
    b = wait_delivery(env, c, raas, lambda rd: rd["state"] == "DELIVERED")
    assert (b["status"], b["resultResponseCode"], b["resultResponseMessage"]) == (
        "FAILED", code, RESULT_MESSAGES[code]), b
    assert is_rfc3339(b["completedAt"]), b
    for refs in ({"raasTxnRef": raas}, {"clientTxnRef": body["clientTxnRef"]}):
        assert_refused(token_lookup(env, c, **refs), "2009")
    # a failed purchase is not in flight
    got = assert_success(env.get(INFLIGHT, c, {
        "clientId": c.id, "sourceIdentifier": body["sourceIdentifier"],
        "targetIdentifier": body["targetIdentifier"], "productId": body["productId"],
        "purchaseAmount": body["purchaseAmount"], "clientTxnRef": fresh_ref("new")}))
    assert (got["inFlight"], got["transactions"]) == (False, []), got


def test_vendor_timeout_then_success(env, rcv, products):
    c = new_client(env, rcv)
    body = purchase_body(c, products["electricity"], targetIdentifier=fresh_number("2239"))
    raas = assert_accepted(env.transact(c, body))
    accepted = time.monotonic()
    states = []
    saw_2008 = False

    def fetch():
        nonlocal saw_2008
        b = lookup(env, c, raas)
        states.append((b["status"], b["resultResponseCode"], b["resultResponseMessage"],
                       b["completedAt"]))
        if b["resultResponseCode"] == "2239" and b["status"] == "PROCESSING" and not saw_2008:
            assert_refused(token_lookup(env, c, raasTxnRef=raas), "2008")
            saw_2008 = True
        return b

    b = wait_for(fetch, lambda b: b["status"] != "PROCESSING", WAIT, 0.1, "the re-check")
    ended = time.monotonic() - accepted
    *interim, final = states
    assert final[:3] == ("SUCCESS", "0000", "Success"), states
    assert set(s[:4] for s in interim) <= {("PROCESSING", None, None, None),
                                           ("PROCESSING", "2239", "Vendor timeout", None)}, interim
    assert ("PROCESSING", "2239", "Vendor timeout", None) in interim, \
        f"the interim 2239 was never seen in {len(interim)} lookups: {sorted(set(interim))}"
    assert saw_2008
    assert ended >= 1.9, f"checked again after {ended:.2f}s, not two seconds later"
    [d] = wait_results(rcv, c, raas)
    result = check_result(d, body, raas, "SUCCESS", "0000")
    check_tokens("electricity", result["tokens"])
    time.sleep(0.3)
    assert len(results_for(rcv, c, raas)) == 1, "the interim 2239 was POSTed as a result"
    assert b["resultResponseCode"] == "0000"


def test_client_moved_to_production_while_processing_is_not_issued(env, rcv, products):
    """A sandbox purchase still processing (a vendor timeout) when its client
    is moved to production is not issued by the sandbox vendor: it ends
    FAILED with 2010, the code Transact refuses a production client with,
    and its result is sent as for any failure."""
    c = new_client(env, rcv)
    body = purchase_body(c, products["electricity"], targetIdentifier=fresh_number("2239"))
    raas = assert_accepted(env.transact(c, body))

    def set_environment(env_id):
        n = cp_helpers.db_exec(env.db_url, "UPDATE mp_clients SET environment = ? "
                               "WHERE client_id = ?", (env_id, c.id))
        assert n == 1

    def row():
        [r] = cp_helpers.db_query(env.db_url, "SELECT status, result_code, tokens, result_body "
                                  "FROM mp_purchases WHERE raas_ref = ?", (raas,))
        return r

    set_environment(1)  # production (as `client update --environment production` sets it)
    status, code, tokens, result_body = wait_for(row, lambda r: r[0] != 0, WAIT, 0.1,
                                                 "the purchase to end")  # 0: PROCESSING
    assert (status, code, tokens) == (2, "2010", None), (status, code, tokens)  # 2: FAILED
    # its result is made as any failure's; it goes to the client's result URL,
    # which a production client can reach only when public: back in the
    # sandbox, the loopback receiver gets it on a retry
    set_environment(0)
    [d] = wait_results(rcv, c, raas)
    result = check_result(d, body, raas, "FAILED", "2010")
    assert result["tokens"] == [], result
    assert d.body == (result_body.encode() if isinstance(result_body, str) else result_body)
    b = lookup(env, c, raas)
    assert (b["status"], b["resultResponseCode"], b["resultResponseMessage"],
            b["completedAt"] is not None) == ("FAILED", "2010", "Product not available", True), b
    assert_refused(token_lookup(env, c, raasTxnRef=raas), "2009")


# ---- the result's Signature ---------------------------------------------------------------


def test_result_signature(env, rcv, products):
    c = new_client(env, rcv, signed=True)
    body = purchase_body(c, products["voucher"])
    raw = dumps(body)
    raas = assert_accepted(env.transact(c, raw, signed=True))
    [d] = wait_results(rcv, c, raas)
    check_result(d, body, raas, "SUCCESS", "0000")
    got = d.headers.get("signature")
    assert got, f"no Signature header: {d.headers}"
    mac = hmac.new(c.sig_secret.encode(), d.body, hashlib.sha256).digest()
    assert base64.b64decode(got, validate=True) == mac, "the Signature does not verify"
    assert got == sign(c.sig_secret, d.body)
    # failures are signed too
    body = purchase_body(c, products["voucher"], targetIdentifier=fresh_number("2201"))
    raw = dumps(body)
    raas = assert_accepted(env.transact(c, raw, signed=True))
    [d] = wait_results(rcv, c, raas)
    check_result(d, body, raas, "FAILED", "2201")
    assert hmac.compare_digest(d.headers.get("signature", ""), sign(c.sig_secret, d.body))


# ---- delivery: retries, what counts as delivered, no URL -----------------------------------


def test_result_retries(env, rcv, products):
    flaky = new_client(env, rcv, mode=["error", "error", "ok"])
    down = new_client(env, rcv, mode="error")
    b1 = purchase_body(flaky, products["airtime"])
    b2 = purchase_body(down, products["airtime"])
    r1 = assert_accepted(env.transact(flaky, b1))
    r2 = assert_accepted(env.transact(down, b2))

    tries = wait_results(rcv, flaky, r1, n=3)
    assert len({d.body for d in tries}) == 1, "the body changed between tries"
    check_result(tries[0], b1, r1, "SUCCESS", "0000")
    gaps = [b.at - a.at for a, b in zip(tries, tries[1:])]
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9, f"retried after {gaps}, not after 1 then 2 s"
    b = wait_delivery(env, flaky, r1, lambda rd: rd["state"] == "DELIVERED")
    rd = b["resultDelivery"]
    assert (rd["attempts"], rd["lastHttpStatus"]) == (3, 200), rd
    assert is_rfc3339(rd["deliveredAt"]), rd

    # the one that keeps failing is still being tried
    b = wait_delivery(env, down, r2, lambda rd: rd["attempts"] >= 2)
    rd = b["resultDelivery"]
    assert (rd["state"], rd["lastHttpStatus"], rd["deliveredAt"]) == ("PENDING", 500, None), rd
    assert b["status"] == "SUCCESS", b  # the purchase itself is done
    tries = results_for(rcv, down, r2)
    assert len(tries) >= 2 and len({d.body for d in tries}) == 1
    time.sleep(0.2)
    assert len(results_for(rcv, flaky, r1)) == 3, "tried again after a 200"


def test_a_try_without_an_http_answer_has_no_status(env, rcv, products):
    """lastHttpStatus is null when the last try got no HTTP answer (the
    connection closed), not 0; a later answered try gives its status."""
    down = new_client(env, rcv, mode="close")
    back = new_client(env, rcv, mode=["close", "ok"])
    r1 = assert_accepted(env.transact(down, purchase_body(down, products["airtime"])))
    r2 = assert_accepted(env.transact(back, purchase_body(back, products["airtime"])))
    rd = wait_delivery(env, down, r1, lambda rd: rd["attempts"] >= 1)["resultDelivery"]
    assert (rd["state"], rd["lastHttpStatus"], rd["deliveredAt"]) == ("PENDING", None, None), rd
    assert_schema("MarketplaceResultDelivery", rd)
    rd = wait_delivery(env, back, r2, settled)["resultDelivery"]
    assert (rd["state"], rd["attempts"], rd["lastHttpStatus"]) == ("DELIVERED", 2, 200), rd


def test_what_counts_as_delivered(env, rcv, products):
    no_content = new_client(env, rcv, mode="204")
    not_found_once = new_client(env, rcv, mode=["404", "ok"])
    b1 = purchase_body(no_content, products["data"])
    b2 = purchase_body(not_found_once, products["data"])
    r1 = assert_accepted(env.transact(no_content, b1))
    r2 = assert_accepted(env.transact(not_found_once, b2))
    rd = wait_delivery(env, no_content, r1, settled)["resultDelivery"]
    assert (rd["state"], rd["attempts"], rd["lastHttpStatus"]) == ("DELIVERED", 1, 204), rd
    rd = wait_delivery(env, not_found_once, r2,
                       settled)["resultDelivery"]
    assert (rd["state"], rd["attempts"], rd["lastHttpStatus"]) == ("DELIVERED", 2, 200), rd
    assert len(results_for(rcv, not_found_once, r2)) == 2


def test_client_without_result_url(env, rcv, products):
    c = new_client(env, rcv, url=False)
    body = purchase_body(c, products["electricity"])
    raas = assert_accepted(env.transact(c, body))
    b = wait_ended(env, c, raas)
    assert b["status"] == "SUCCESS", b
    time.sleep(0.3)
    b = lookup(env, c, raas)
    assert b["resultDelivery"] == {"state": "NONE", "attempts": 0, "lastHttpStatus": None,
                                   "deliveredAt": None}, b["resultDelivery"]
    assert not [d for d in rcv.received() if d.json.get("raasTxnRef") == raas]
    t = assert_success(token_lookup(env, c, raasTxnRef=raas))
    check_tokens("electricity", t["tokens"])


def test_result_url_removed(env, rcv, products):
    """After `client update --result-url none`, new purchases have no result
    to deliver (state NONE); the change reaches the server within a second."""
    c = new_client(env, rcv)
    env.ok("marketplace", "client", "update", str(c.id), "--result-url", "none")

    def purchase():
        raas = assert_accepted(env.transact(c, purchase_body(c, products["airtime"])))
        b = wait_ended(env, c, raas)
        if b["resultDelivery"]["state"] != "NONE":  # made while the old URL was still known
            b = wait_delivery(env, c, raas, settled)
        return b

    b = wait_for(purchase, lambda b: b["resultDelivery"]["state"] == "NONE", 15.0, 0.2,
                 "a purchase without a result to deliver")
    assert b["resultDelivery"] == {"state": "NONE", "attempts": 0, "lastHttpStatus": None,
                                   "deliveredAt": None}, b["resultDelivery"]


def test_result_url_removed_while_its_result_is_tried(env, rcv, products):
    """A result still being tried when its URL is removed has nowhere to go:
    its delivery ends as NONE (with the tries it had), not PENDING for ever."""
    c = new_client(env, rcv, mode="error")
    raas = assert_accepted(env.transact(c, purchase_body(c, products["airtime"])))
    wait_delivery(env, c, raas, lambda rd: rd["attempts"] >= 1)
    env.ok("marketplace", "client", "update", str(c.id), "--result-url", "none")
    rd = wait_delivery(env, c, raas, lambda rd: rd["state"] != "PENDING",
                       timeout=15.0)["resultDelivery"]
    assert rd["state"] == "NONE" and rd["attempts"] >= 1 and rd["deliveredAt"] is None, rd
