"""Idempotency-Key on capture, reverse and cancel; an idempotent create is one
write transaction; and the workers can run apart from the HTTP server
(`chatpay serve --no-workers` beside `chatpay worker`)."""

from __future__ import annotations

import contextlib
import re
import subprocess
import uuid
from urllib.parse import urlencode

import pytest

from cp_helpers import LINKS, fresh_msisdn, migrated_db_url_for, link_body, poll, start_server
from openapi_check import ApiClient
from payment_flow import assert_bad_request, pay_ok, status_of

CANCEL = "/api/v2/cancel/"
PAYMENT = "/api/v2/payment/"


@pytest.fixture
def key(make_merchant):
    return make_merchant()["apiKey"]


def idem() -> dict:
    return {"Idempotency-Key": "k-" + uuid.uuid4().hex}


def test_capture_with_a_key_is_done_once(api, server, http, key):
    link, _ = pay_ok(api, server, http, key, txn="Authorization")
    h = idem()
    first = api.post(PAYMENT + link.ref + "/capture?amount=100.00", key=key, headers=h)
    assert first.status_code == 200, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = api.post(PAYMENT + link.ref + "/capture?amount=100.00", key=key, headers=h)
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.content == first.content
    # another amount with the same key is another request
    other = api.post(PAYMENT + link.ref + "/capture?amount=50.00", key=key, headers=h)
    assert other.status_code == 422 and other.body["code"] == "unprocessable", other.text
    st = status_of(api, key, link.ref)
    assert [e["transactionType"] for e in st["paymentStatuses"]] == ["Authorization", "Capture"], st
    # without a key, a second capture is refused by the rules
    assert_bad_request(api.post(PAYMENT + link.ref + "/capture", key=key),
                       "The authorization has already been captured")


def test_reverse_with_a_key_replays_and_keeps_refusals(api, server, http, key):
    link, _ = pay_ok(api, server, http, key, txn="Sale")
    h = idem()
    first = api.post(PAYMENT + link.ref + "/reverse", key=key, headers=h)
    assert first.status_code == 200 and first.body["paymentStatus"] == "VOIDED", first.text
    again = api.post(PAYMENT + link.ref + "/reverse", key=key, headers=h)
    assert again.headers.get("Idempotent-Replayed") == "true" and again.content == first.content
    # a refusal is kept under its key like a success
    h2 = idem()
    refused = api.post(PAYMENT + link.ref + "/reverse", key=key, headers=h2)
    assert_bad_request(refused, "The payment has already been voided")
    replayed = api.post(PAYMENT + link.ref + "/reverse", key=key, headers=h2)
    assert replayed.status_code == 400 and replayed.headers.get("Idempotent-Replayed") == "true"
    assert replayed.content == refused.content
    assert len(status_of(api, key, link.ref)["paymentStatuses"]) == 2


def test_cancel_with_a_key(api, key):
    body = link_body()
    created = api.post(LINKS, key=key, json=body)
    assert created.status_code == 201
    ref = created.body["paymentLinkRef"]
    h = idem()
    first = api.post(CANCEL + ref, key=key, headers=h)
    assert first.status_code == 200, first.text
    again = api.post(CANCEL + ref, key=key, headers=h)
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.content == first.content
    # without the key: already cancelled
    assert_bad_request(api.post(CANCEL + ref, key=key), "The payment link is already cancelled")
    # a key used for a cancel cannot be reused for another link
    other = api.post(LINKS, key=key, json=link_body())
    r = api.post(CANCEL + other.body["paymentLinkRef"], key=key, headers=h)
    assert r.status_code == 422, r.text


def test_bad_key_on_capture(api, server, http, key):
    link, _ = pay_ok(api, server, http, key, txn="Authorization")
    r = api.post(PAYMENT + link.ref + "/capture", key=key, headers={"Idempotency-Key": "two words"})
    assert r.status_code == 400 and r.body["errors"] == [
        "Idempotency-Key: must be 1 to 255 printable ASCII characters without spaces"], r.text


# ---- workers apart from the server; one write transaction per create ----------------------


def write_commits(client: ApiClient) -> int:
    text = client.get("/metrics").text
    m = re.search(r'^chatpay_db_transactions_total\{mode="write",result="commit"\} (\d+)$', text,
                  re.M)
    assert m, "no write transaction counter in /metrics"
    return int(m.group(1))


def http_only(tmp_path, name: str):
    """A new database with a merchant, and `serve --no-workers` on it:
    (db_url, the merchant's key, the server, a client of it)."""
    from cp_helpers import run_cli

    db_url = migrated_db_url_for(tmp_path / f"{name}.db")
    res = run_cli("merchant", "create", "--name", f"{name.title()} Shop", "--currencies", "ZAR",
                  "--json", db_url=db_url)
    assert res.returncode == 0, res.stderr
    srv = start_server(tmp_path, db_url, name="http-only", extra_args=["--no-workers"])
    return db_url, res.json()["apiKey"], srv, ApiClient(srv.base_url)


@contextlib.contextmanager
def worker_process(tmp_path, db_url: str, public_url: str):
    """`chatpay worker` on the database (stdout and stderr in tmp_path's
    worker.stdout and worker.stderr), killed at the end if still running."""
    from cp_helpers import chatpay_bin, clean_env

    with open(tmp_path / "worker.stdout", "wb") as out, open(tmp_path / "worker.stderr", "wb") as err:
        # its links point at the server
        worker = subprocess.Popen([chatpay_bin(), "worker", "--db", db_url, "--public-url",
                                   public_url], stdout=out, stderr=err,
                                  stdin=subprocess.DEVNULL, cwd=tmp_path, env=clean_env())
        try:
            yield worker
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=5)


def test_separate_worker_runs_the_jobs(tmp_path, cli):
    """`serve --no-workers` queues jobs and writes nothing in the background;
    an idempotent create costs it exactly one write transaction; `chatpay
    worker` on the same database sends the link; both stop cleanly."""
    db_url, key, srv, client = http_only(tmp_path, "split")
    try:
        number = fresh_msisdn()
        body = link_body(channel="sms", to=number)
        before = write_commits(client)
        r = client.post(LINKS, key=key, json=body, headers=idem())
        assert r.status_code == 201, r.text
        after = write_commits(client)
        assert after - before == 1, f"{after - before} write transactions for one create"
        ref = r.body["paymentLinkRef"]
        st = client.get("/api/v2/chat-2-pay/transaction-status?" + urlencode({"paymentLinkRef": ref}),
                        key=key).body
        assert [e["transactionStatusName"] for e in st["transactionStatuses"]] == [
            "PAYMENT_LINK_REQUEST_RECEIVED"], st  # nobody sends it
        # a worker process picks the job up
        with worker_process(tmp_path, db_url, srv.base_url) as worker:
            names = poll(lambda: [e["transactionStatusName"] for e in client.get(
                "/api/v2/chat-2-pay/transaction-status?" + urlencode({"paymentLinkRef": ref}),
                key=key).body["transactionStatuses"]],
                lambda n: "PAYMENT_LINK_DELIVERED" in n, timeout=15, interval=0.2)
            assert "PAYMENT_LINK_SENT" in names and "PAYMENT_LINK_DELIVERED" in names, names
            worker.terminate()
            assert worker.wait(timeout=15) == 0
        log = (tmp_path / "worker.stderr").read_text()
        assert '"msg":"worker running"' in log and '"msg":"stopped"' in log, log[-2000:]
        assert "worker running" in (tmp_path / "worker.stdout").read_text()
    finally:
        client.close()
        assert srv.stop() == 0, srv.tail()


def test_a_job_whose_runs_never_end_is_given_up(tmp_path):
    """A job claimed past its kind's tries without its runs ever ending
    (each stopped the process, or hung past its lease) is not run again at
    its next claim: it is given up, so that it cannot stop every process
    that takes it, for ever."""
    from cp_helpers import db_exec, db_query

    db_url, key, srv, client = http_only(tmp_path, "poison")
    try:
        ok = client.post(LINKS, key=key, json=link_body(channel="sms", to=fresh_msisdn()))
        poison = client.post(LINKS, key=key, json=link_body(channel="sms", to=fresh_msisdn()))
        assert ok.status_code == 201 and poison.status_code == 201, (ok.text, poison.text)
        # the poison link's send was claimed 14 times (12 tries and 2 more)
        # and no run ever ended
        assert db_exec(db_url, "UPDATE jobs SET attempts = 14 WHERE kind = 1 AND link_id ="
                               " (SELECT id FROM links WHERE ref = ?)",
                       (poison.body["paymentLinkRef"],)) == 1
        sent = "SELECT l.ref FROM sandbox_messages m JOIN links l ON l.id = m.link_id"
        jobs = "SELECT COUNT(*) FROM jobs WHERE kind = 1 AND done_at = 0"
        with worker_process(tmp_path, db_url, srv.base_url) as worker:
            done = poll(lambda: (db_query(db_url, sent), db_query(db_url, jobs)),
                        lambda v: v[1] == [(0,)] and v[0], timeout=15, interval=0.2)
            worker.terminate()
            assert worker.wait(timeout=15) == 0
        assert done[1] == [(0,)], done
        # the other link went out; the poison one was never sent
        assert [r[0] for r in done[0]] == [ok.body["paymentLinkRef"]], done
        log = (tmp_path / "worker.stderr").read_text()
        assert "its last runs never ended" in log and "given up after 15 attempts" in log, log[-2000:]
    finally:
        client.close()
        assert srv.stop() == 0, srv.tail()
