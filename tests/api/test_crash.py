"""Crash safety of payment links: a dedicated server (own database) is killed
with SIGKILL while four clients create links, and restarted on the same
database, three times. Every link that was acknowledged with 201 must
survive, and its sending (a durable job) must finish after the restarts:
PAYMENT_LINK_SENT and PAYMENT_LINK_DELIVERED, one message per link.

Requests that fail with connection errors around a kill were never
acknowledged and are not checked. Every response that did arrive goes
through the contract checker."""

from __future__ import annotations

import random
import threading
import time
import uuid
from urllib.parse import urlencode

import pytest
import requests

from cp_helpers import (
    LINK_STATUS,
    LINKS,
    SANDBOX_MESSAGES,
    SECRETS,
    assert_no_secrets,
    db_url_for,
    history_ids,
    link_body,
    run_cli,
    start_server,
)
from openapi_check import ApiClient, check_response

CLIENTS = 4
ROUNDS = 3  # kills
PER_CLIENT_ROUND_MAX = 500  # links one client creates in one round at most
KILL_AFTER = (0.3, 1.0)  # seconds of load before each kill
DELIVERY_WAIT = 30.0  # seconds after the last restart: a job claimed by the killed server waits out its 15 s lease
RECEIVED, SENT, DELIVERED = 1, 2, 3


class Load:
    """Four client threads creating links against one server until stopped."""

    def __init__(self, base_url: str, key: str, round_no: int):
        self.base_url = base_url
        self.key = key
        self.round_no = round_no
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked: list[dict] = []  # {ref, order, to, token}
        self.conn_errors = 0
        self.other: list[tuple[int, str]] = []  # unexpected answers
        self.failures: list[str] = []  # exceptions other than connection errors
        self.threads = [
            threading.Thread(target=self._client, args=(c,), daemon=True) for c in range(CLIENTS)
        ]

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self, timeout: float = 15.0):
        self.stop.set()
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), "a client thread hung"

    def _client(self, c: int):
        session = requests.Session()
        headers = {"Authorization": self.key, "Content-Type": "application/json"}
        try:
            for i in range(PER_CLIENT_ROUND_MAX):
                if self.stop.is_set():
                    break
                # unique per link; ends in 7, so the sandbox sends and delivers
                to = f"278{self.round_no}{c}{i:06d}7"
                body = link_body(channel="sms", to=to, returnPaymentLink=True,
                                 orderNumber=f"CR{self.round_no}{c}-{i}-{uuid.uuid4().hex[:8]}")
                try:
                    r = session.post(self.base_url + LINKS, json=body, headers=headers, timeout=5)
                except requests.RequestException:
                    with self.lock:
                        self.conn_errors += 1
                    time.sleep(0.02)
                    continue
                try:
                    decoded = check_response("POST", LINKS, r.status_code, r.headers, r.content)
                except AssertionError as e:
                    with self.lock:
                        self.failures.append(str(e)[:2000])
                    continue
                with self.lock:
                    if r.status_code == 201:
                        self.acked.append({
                            "ref": decoded["paymentLinkRef"],
                            "order": body["orderNumber"],
                            "to": to,
                            "token": decoded["paymentLink"].rsplit("/p/", 1)[1],
                        })
                    else:
                        self.other.append((r.status_code, r.text[:300]))
        except Exception as e:  # reported by the test
            with self.lock:
                self.failures.append(repr(e))
        finally:
            session.close()


@pytest.fixture(scope="module")
def crashed(tmp_path_factory):
    """Run the kill/restart rounds; yields (client of the last server, key,
    acknowledged links, per-round stats). The last server is stopped with
    SIGTERM at the end, which must exit 0."""
    rng = random.Random()
    tmp = tmp_path_factory.mktemp("crash")
    db_url = db_url_for(tmp / "crash.db")
    servers = [start_server(tmp, db_url, name="crash-0")]
    res = run_cli("merchant", "create", "--name", "Crash Test Shop", "--currencies", "ZAR", "--json",
                  db_url=db_url, cwd=tmp)
    assert res.returncode == 0, res.stderr
    merchant = res.json()
    SECRETS.api_keys.add(merchant["apiKey"])
    key = merchant["apiKey"]

    acked: list[dict] = []
    rounds = []
    try:
        for n in range(ROUNDS):
            srv = servers[-1]
            load = Load(srv.base_url, key, n)
            load.start()
            time.sleep(rng.uniform(*KILL_AFTER))
            srv.kill()  # SIGKILL
            load.finish()
            acked += load.acked
            rounds.append({"acked": len(load.acked), "conn_errors": load.conn_errors,
                           "other": load.other, "failures": load.failures})
            servers.append(start_server(tmp, db_url, name=f"crash-{n + 1}"))
        client = ApiClient(servers[-1].base_url)
        yield {"api": client, "key": key, "acked": acked, "rounds": rounds, "started": time.monotonic()}
        client.close()
    finally:
        last = servers[-1]
        rc = last.stop()
        for s in servers:
            assert_no_secrets(s.log_text(), f"log of {s.name}")
        assert rc == 0, f"{last.name} exited with {rc} after SIGTERM:\n{last.tail(30)}"


def status(api, key, ref):
    r = api.get(LINK_STATUS + "?" + urlencode({"paymentLinkRef": ref}), key=key)
    return r


def test_load_ran_and_answers_were_valid(crashed):
    for i, rnd in enumerate(crashed["rounds"]):
        assert not rnd["failures"], f"round {i}: {rnd['failures'][:3]}"
        assert not rnd["other"], f"round {i}: unexpected answers {rnd['other'][:5]}"
        assert rnd["acked"] > 0, f"round {i}: no link was created before the kill"
    refs = [a["ref"] for a in crashed["acked"]]
    assert len(set(refs)) == len(refs), "a paymentLinkRef was handed out twice"


def test_acknowledged_links_survive(crashed):
    api, key = crashed["api"], crashed["key"]
    missing, wrong = [], []
    for a in crashed["acked"]:
        r = status(api, key, a["ref"])
        if r.status_code != 200:
            missing.append((a["ref"], r.status_code))
            continue
        st = r.body
        if st["orderNumber"] != a["order"] or history_ids(st)[:1] != [RECEIVED]:
            wrong.append((a["ref"], st["orderNumber"], history_ids(st)))
    assert not missing, f"{len(missing)} of {len(crashed['acked'])} acknowledged links are gone: {missing[:5]}"
    assert not wrong, wrong[:5]


def test_no_send_job_lost(crashed):
    """Within DELIVERY_WAIT seconds of the last restart every acknowledged link
    has been sent and delivered."""
    api, key = crashed["api"], crashed["key"]
    pending = {a["ref"] for a in crashed["acked"]}
    last: dict[str, list[int]] = {}
    deadline = crashed["started"] + DELIVERY_WAIT
    for _ in range(200):  # bounded; each sweep asks about the links still pending
        for ref in sorted(pending):
            r = status(api, key, ref)
            assert r.status_code == 200, r.text
            last[ref] = history_ids(r.body)
            if SENT in last[ref] and DELIVERED in last[ref]:
                pending.discard(ref)
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    stuck = {ref: last.get(ref) for ref in sorted(pending)}
    assert not stuck, (
        f"{len(stuck)} of {len(crashed['acked'])} links not sent and delivered "
        f"{DELIVERY_WAIT:.0f}s after the last restart (history ids): {list(stuck.items())[:8]}"
    )


def test_one_message_per_link(crashed):
    """The sandbox outbox holds at most one payment request per link, and one
    for every link that was sent; its link is the link's own."""
    api, key = crashed["api"], crashed["key"]
    dupes, wrong, unsent = [], [], []
    for a in crashed["acked"]:
        r = api.get(SANDBOX_MESSAGES + "?" + urlencode({"to": a["to"], "limit": 100}), key=key)
        assert r.status_code == 200, r.text
        msgs = [m for m in r.body if a["order"] in m["text"]]
        if len(msgs) > 1:
            dupes.append((a["ref"], len(msgs)))
        elif len(msgs) == 1:
            if not msgs[0]["text"].endswith("/p/" + a["token"]):
                wrong.append((a["ref"], msgs[0]["text"]))
        else:
            st = status(api, key, a["ref"]).body
            if SENT in history_ids(st):
                unsent.append(a["ref"])
    assert not dupes, f"{len(dupes)} links have more than one message: {dupes[:8]}"
    assert not wrong, wrong[:3]
    assert not unsent, f"PAYMENT_LINK_SENT recorded but no message in the outbox: {unsent[:8]}"


def test_history_records_each_send_once(crashed):
    """A job re-run after a crash must not record the same send or receipt twice."""
    api, key = crashed["api"], crashed["key"]
    doubled = []
    for a in crashed["acked"]:
        ids = history_ids(status(api, key, a["ref"]).body)
        if ids.count(RECEIVED) != 1 or ids.count(SENT) > 1 or ids.count(DELIVERED) > 1:
            doubled.append((a["ref"], ids))
    assert not doubled, f"{len(doubled)} links with repeated history entries: {doubled[:8]}"
