"""Crash safety with the real gateways (through their fakes): chatpay is killed
with SIGKILL after the gateway acted but before chatpay recorded its answer,
and restarted on the same database and port.

  * a capture Stripe executed (the answer held, then the connection closed):
    after the restart the repair sweep does it again under the same
    Idempotency-Key and Stripe replays its stored answer: captured once;
  * a payment completed at Stripe whose webhooks and browser return never
    reached chatpay: the sweep retrieves the session and records it;
  * a capture CyberSource executed: the sweep finds it by its transactionId
    (a search) and records it, without sending it again;
  * a payment completed at Secure Acceptance whose receipt and merchant POST
    never arrived: the sweep finds it by our reference and records it.

The repair sweep asks about operations pending for more than 5 seconds."""

from __future__ import annotations

import threading

import pytest
import requests

from gateway_flow import gateway_env, decisions, new_link, status
from cp_helpers import PAYMENT_OPS, ServerProcess, poll
from openapi_check import ApiClient
from test_cybersource import Shop as CsShop
from test_cybersource import press_pay as cs_press_pay
from test_providers import Env
from test_stripe import Shop as StripeShop
from test_stripe import press_pay, session_of

REPAIR_WAIT = 30.0


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    yield from gateway_env(tmp_path_factory, "gateway-crash")


def restart(env: Env) -> None:
    """SIGKILL the server and start it again on the same database and port."""
    old = env.proc
    old.kill()
    proc = ServerProcess(workdir=old.workdir, db_url=old.db_url, port=old.port, name=old.name,
                         env=dict(old.env)).start()
    proc.wait_live()
    env.proc = proc
    env.api.close()
    env.api = ApiClient(proc.base_url)


def capture_in_background(env, key, ref):
    """The merchant's capture request, left hanging (its answer never comes
    back: the server is killed under it)."""
    def run():
        try:
            requests.post(env.base_url + PAYMENT_OPS + ref + "/capture",
                          headers={"Authorization": key}, timeout=20)
        except requests.RequestException:
            pass

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_stripe_capture_executed_then_crash(env):
    shop = StripeShop(env)
    try:
        with requests.Session() as http:
            ref, token = new_link(env, shop.key, "Authorization")
            s = session_of(shop, press_pay(env, http, token))
            shop.fake.pay(s["id"], "4242424242424242")
        assert status(env, shop.key, ref)["paymentStatus"] == "SUCCESS"
        pi = shop.fake.sessions[s["id"]]["payment_intent"]
        shop.fake.set_mode("timeout_after_execute", count=1)
        t = capture_in_background(env, shop.key, ref)
        # the fake records a request before it executes it: wait for the capture
        # itself, not only for its arrival, before killing chatpay
        shop.fake.events.wait_for(lambda es: any(e["kind"] == "executed" and
                                                 e["path"] == f"/v1/payment_intents/{pi}/capture"
                                                 for e in es),
                                  timeout=10, what="the capture executed at Stripe")
        assert shop.fake.payment_intents[pi]["status"] == "succeeded"  # done at Stripe
        restart(env)
        t.join(timeout=25)
        st = poll(lambda: status(env, shop.key, ref),
                  lambda x: decisions(x) == [("Authorization", "ACCEPT"), ("Capture", "ACCEPT")],
                  timeout=REPAIR_WAIT, interval=0.5)
        assert st["paymentStatus"] == "SUCCESS"
        caps = shop.fake.requests_to(f"/v1/payment_intents/{pi}/capture", "POST")
        assert len({c.headers["idempotency-key"] for c in caps}) == 1, caps
        assert shop.fake.payment_intents[pi]["amount_received"] == 11500
    finally:
        shop.close()


def test_stripe_payment_answer_lost_then_crash(env):
    shop = StripeShop(env)
    try:
        shop.fake.hold_webhooks = True
        with requests.Session() as http:
            ref, token = new_link(env, shop.key, "Sale")
            s = session_of(shop, press_pay(env, http, token))
            shop.fake.pay(s["id"], "4242424242424242")  # the browser never comes back
        restart(env)
        st = poll(lambda: status(env, shop.key, ref), lambda x: x["paymentStatus"] == "SUCCESS",
                  timeout=REPAIR_WAIT, interval=0.5)
        assert decisions(st) == [("Sale", "ACCEPT")]
        # the late webhooks change nothing
        shop.fake.flush_webhooks()
        shop.fake.wait_webhooks()
        assert len(status(env, shop.key, ref)["paymentStatuses"]) == 1
    finally:
        shop.close()


def test_cybersource_capture_executed_then_crash(env):
    shop = CsShop(env)
    try:
        with requests.Session() as http:
            ref, token = new_link(env, shop.key, "Authorization")
            fields = cs_press_pay(env, shop, http, token)
            result = shop.fake.pay(fields, "4111111111111111")
        # the merchant POST is answered at once; a job records the payment
        paid = poll(lambda: status(env, shop.key, ref), lambda x: x["paymentStatus"] == "SUCCESS",
                    timeout=REPAIR_WAIT, interval=0.2)
        assert paid["paymentStatus"] == "SUCCESS", paid
        tx = result["transaction_id"]
        shop.fake.set_mode("timeout_after_execute", count=1)
        t = capture_in_background(env, shop.key, ref)
        shop.fake.events.wait_for(lambda es: any(e["kind"] == "transaction" and e["type"] == "capture"
                                                 for e in es),
                                  timeout=10, what="the capture executed at CyberSource")
        restart(env)
        t.join(timeout=25)
        st = poll(lambda: status(env, shop.key, ref),
                  lambda x: decisions(x) == [("Sale", "ACCEPT")] or
                  decisions(x) == [("Authorization", "ACCEPT"), ("Capture", "ACCEPT")],
                  timeout=REPAIR_WAIT, interval=0.5)
        assert decisions(st) == [("Authorization", "ACCEPT"), ("Capture", "ACCEPT")], st
        caps = shop.fake.requests_to(f"/pts/v2/payments/{tx}/captures", "POST")
        assert len(caps) == 1, "the capture was sent again"
        assert shop.fake.requests_to("/tss/v2/searches", "POST")
    finally:
        shop.close()


def test_cybersource_payment_answer_lost_then_crash(env):
    shop = CsShop(env)
    try:
        shop.fake.merchant_post_mode = "never"
        with requests.Session() as http:
            ref, token = new_link(env, shop.key, "Sale")
            fields = cs_press_pay(env, shop, http, token)
            shop.fake.pay(fields, "4111111111111111")  # no receipt, no merchant POST
        restart(env)
        st = poll(lambda: status(env, shop.key, ref), lambda x: x["paymentStatus"] == "SUCCESS",
                  timeout=REPAIR_WAIT, interval=0.5)
        assert decisions(st) == [("Sale", "ACCEPT")]
    finally:
        shop.close()
