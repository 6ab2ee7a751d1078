"""Helpers of the gateway modules (test_stripe.py, test_cybersource.py,
test_gateway_crash.py): links paid through a gateway's fake, their status."""

from __future__ import annotations

from cp_helpers import LINK_STATUS, link_body, poll

WAIT = 10.0


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
