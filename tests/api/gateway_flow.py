"""Helpers of the gateway modules (test_stripe.py, test_cybersource.py,
test_gateway_crash.py): links paid through a gateway's fake, their status."""

from __future__ import annotations

import uuid

from cp_helpers import LINK_STATUS, link_body, poll
from test_providers import start_env, stop_env

WAIT = 10.0


def gateway_env(tmp_path_factory, name):
    """A module's server with a secrets_key (test_providers.Env), stopped and
    checked for leaked secrets afterwards: `yield from` it in a fixture."""
    e = start_env(tmp_path_factory.mktemp(name), name)
    try:
        yield e
    finally:
        stop_env(e)


def gateway_merchant(env, kind, settings: dict, settle: str | None = None):
    """A sandbox merchant (ZAR, USD) whose gateway is a new `kind` provider
    with these settings (and this settlement delay): (merchant, provider) as
    the CLI prints them."""
    m = env.ok("merchant", "create", "--name", f"{kind} shop {uuid.uuid4().hex[:6]}",
               "--currencies", "ZAR,USD", "--json").json()
    sets = [a for k, v in settings.items() for a in ("--set", f"{k}={v}")]
    p = env.ok("provider", "add", "--merchant", m["merchantId"], "--kind", kind, *sets,
               "--json").json()
    args = ["merchant", "update", m["merchantId"], "--gateway", p["providerId"], "--json"]
    if settle:
        args += ["--settlement-delay", settle]
    env.ok(*args)
    return m, p


def new_link(env, key, txn="Sale", **fields):
    """A link with returnPaymentLink: (paymentLinkRef, token)."""
    body = link_body(returnPaymentLink=True, transactionType=txn, **fields)
    r = env.api.post("/api/v2/chat-2-pay", key=key, json=body)
    assert r.status_code == 201, r.text
    return r.body["paymentLinkRef"], r.body["paymentLink"].rsplit("/p/", 1)[1]


def status(env, key, ref):
    r = env.api.get(LINK_STATUS + "?paymentLinkRef=" + ref, key=key)
    assert r.status_code == 200, r.text
    return r.body


def wait_status(env, key, ref, want, timeout=WAIT):
    return poll(lambda: status(env, key, ref), lambda s: s["paymentStatus"] == want,
                timeout=timeout, interval=0.1)


def decisions(st):
    return [(e["transactionType"], e["paymentGatewayDecision"]) for e in st["paymentStatuses"]]


def wait_second_op(env, key, ref, timeout=20.0):
    """Until the link's second operation (a follow-up) has an answer."""
    return poll(lambda: status(env, key, ref),
                lambda s: len(s["paymentStatuses"]) == 2
                and s["paymentStatuses"][1]["paymentGatewayDecision"] != "UNKNOWN",
                timeout=timeout, interval=0.5)
