"""Crash safety of payments: a dedicated server (own database) is killed with
SIGKILL, four times, and restarted on the same database.

Each round, before the kill:
  * authorizations are paid in full (recorded), to be captured;
  * payments are started and their card form submitted (4111 1111 1111
    1111: the sandbox gateway has decided ACCEPT) but the browser never
    comes back to /p/{token}/return, so chatpay has not recorded the answer;
  * a burst of captures (two at once per authorization) is fired, and the
    server (16 HTTP threads, so that many are in flight) is killed a few
    milliseconds after the first answer arrives, in mid-burst.

After the last restart, within REPAIR_WAIT seconds (the repair sweep asks
the gateway about an operation 5 s after it began, then 15 s after that), every
payment is recorded exactly once (one paymentStatuses entry, SUCCESS), every
capture once, no link has two successful captures, and nothing is left
pending. Half the unreturned browsers come back late (right after the
restart), half never do. Every JSON response goes through the contract
checker; the HTML pages and redirects are not JSON."""

from __future__ import annotations

import random
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from cp_helpers import (
    CARD_DATA,
    CARD_VISA,
    LINK_STATUS,
    LINKS,
    PAYMENT_OPS,
    SECRETS,
    absolute,
    assert_no_secrets,
    card_form,
    db_url_for,
    find_card_data_in_db,
    find_card_data_in_log,
    html_request,
    link_body,
    run_cli,
    start_payment,
    start_server,
    submit_card,
)
from openapi_check import ApiClient, check_response

ROUNDS = 4  # kills
AUTHS_PER_ROUND = 24  # authorizations captured in the burst (two captures at once each)
UNRETURNED_PER_ROUND = 3  # payments decided at the gateway, browser never back
KILL_DELAY = (0.0, 0.006)  # seconds after the burst's first answer
REPAIR_WAIT = 20.0  # seconds after the last restart
THREADS = 16  # HTTP threads of the crash server: many captures in flight when it is killed
PAYMENT_STATUS_RECEIVED = 4
ALREADY_CAPTURED = "The authorization has already been captured"
IN_PROGRESS = ("Another capture, reversal or void of this payment is in progress or has been "
               "done")


def new_link(api, key, txn):
    body = link_body(returnPaymentLink=True, transactionType=txn,
                     orderNumber=f"PC-{uuid.uuid4().hex[:16]}")
    r = api.post(LINKS, key=key, json=body)
    assert r.status_code == 201, r.text
    return {"ref": r.body["paymentLinkRef"], "token": r.body["paymentLink"].rsplit("/p/", 1)[1],
            "order": body["orderNumber"]}


def decide(http, base, link) -> str:
    """Start a payment and submit an accepted card; returns the return URL
    (not opened)."""
    op_ref, url = start_payment(http, base, link["token"])
    assert html_request(http, "GET", url).status_code == 200
    r = submit_card(http, url, card_form(CARD_VISA, spaced=bool(random.getrandbits(1))))
    assert r.status_code == 303, r.text[:500]
    back = absolute(base, r.headers["Location"])
    assert back == f"{base}/p/{link['token']}/return?ref={op_ref}", back
    link["op_ref"] = op_ref
    return back


class Burst:
    """Two concurrent captures per authorization; the server is killed
    shortly after the first answer."""

    def __init__(self, base, key, links):
        self.base = base
        self.key = key
        self.links = links
        self.go = threading.Event()
        self.first_answer = threading.Event()
        self.lock = threading.Lock()
        self.answers: list[tuple[str, int, dict]] = []  # (link ref, status, body)
        self.conn_errors = 0
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._run, args=(l["ref"],), daemon=True)
                        for l in links for _ in range(2)]
        for t in self.threads:
            t.start()

    def _run(self, ref):
        path = PAYMENT_OPS + ref + "/capture"
        s = requests.Session()
        try:
            self.go.wait(timeout=10)
            try:
                r = s.post(self.base + path, headers={"Authorization": self.key}, timeout=5)
            except requests.RequestException:
                with self.lock:
                    self.conn_errors += 1
                return
            self.first_answer.set()
            try:
                body = check_response("POST", path, r.status_code, r.headers, r.content)
            except AssertionError as e:
                with self.lock:
                    self.failures.append(str(e)[:1500])
                return
            with self.lock:
                self.answers.append((ref, r.status_code, body))
        except Exception as e:  # reported by the test
            with self.lock:
                self.failures.append(repr(e))
        finally:
            s.close()

    def fire_and_kill(self, server, rng):
        self.go.set()
        self.first_answer.wait(timeout=5)
        time.sleep(rng.uniform(*KILL_DELAY))
        server.kill()  # SIGKILL
        for t in self.threads:
            t.join(timeout=10)
        assert not any(t.is_alive() for t in self.threads), "a capture request hung"


@pytest.fixture(scope="module")
def crashed(tmp_path_factory):
    rng = random.Random()
    tmp = tmp_path_factory.mktemp("paycrash")
    db_url = db_url_for(tmp / "paycrash.db")
    cfg = tmp / "paycrash.ini"
    cfg.write_text(f"threads = {THREADS}\n")
    extra = ["--config", str(cfg)]
    servers = [start_server(tmp, db_url, name="paycrash-0", extra_args=extra)]
    res = run_cli("merchant", "create", "--name", "Pay Crash Shop", "--currencies", "ZAR", "--json",
                  db_url=db_url, cwd=tmp)
    assert res.returncode == 0, res.stderr
    key = res.json()["apiKey"]
    SECRETS.api_keys.add(key)

    auths, unreturned, rounds = [], [], []
    try:
        for n in range(ROUNDS):
            srv = servers[-1]
            base = srv.base_url
            api = ApiClient(base)
            http = requests.Session()
            try:
                mine = []
                for _ in range(AUTHS_PER_ROUND):
                    link = new_link(api, key, "Authorization")
                    back = decide(http, base, link)
                    r = html_request(http, "GET", back)
                    assert r.status_code == 200, r.text[:500]
                    mine.append(link)
                waiting = []
                for _ in range(UNRETURNED_PER_ROUND):
                    link = new_link(api, key, "Sale")
                    link["return_url_path"] = decide(http, base, link)[len(base):]
                    waiting.append(link)
            finally:
                api.close()
                http.close()
            burst = Burst(base, key, mine)
            burst.fire_and_kill(srv, rng)
            for link in mine:
                link["captured_200"] = [b for ref, code, b in burst.answers if ref == link["ref"] and code == 200]
            auths += mine
            unreturned += waiting
            rounds.append({"answers": burst.answers, "conn_errors": burst.conn_errors,
                           "failures": burst.failures})
            servers.append(start_server(tmp, db_url, name=f"paycrash-{n + 1}", extra_args=extra))
        last = servers[-1]
        started = time.monotonic()
        # half the browsers come back late, at once; the others never do
        late = []
        with requests.Session() as http:
            for i, link in enumerate(unreturned):
                if i % 2 == 0:
                    r = html_request(http, "GET", last.base_url + link["return_url_path"])
                    late.append((link["ref"], r.status_code, r.doc and r.doc.find("title").text()))
        client = ApiClient(last.base_url)
        yield {"api": client, "key": key, "auths": auths, "unreturned": unreturned, "rounds": rounds,
               "late": late, "started": started, "db_url": db_url, "servers": servers}
        client.close()
    finally:
        last = servers[-1]
        rc = last.stop()
        for s in servers:
            assert_no_secrets(s.log_text(), f"log of {s.name}")
        assert rc == 0, f"{last.name} exited with {rc} after SIGTERM:\n{last.tail(30)}"


def status(api, key, ref) -> dict:
    r = api.get(LINK_STATUS + "?" + urlencode({"paymentLinkRef": ref}), key=key)
    assert r.status_code == 200, r.text
    return r.body


def settled(st: dict) -> bool:
    """Nothing pending any more."""
    return st["paymentStatus"] not in ("PENDING", "UNKNOWN") and all(
        e["paymentGatewayDecision"] != "UNKNOWN" for e in st["paymentStatuses"])


def wait_settled(crashed, refs) -> dict[str, dict]:
    """The status of each link, waiting (until REPAIR_WAIT after the last
    restart) for all of them to have nothing pending."""
    api, key = crashed["api"], crashed["key"]
    last: dict[str, dict] = {}
    pending = set(refs)
    deadline = crashed["started"] + REPAIR_WAIT
    for _ in range(400):  # bounded
        for ref in sorted(pending):
            last[ref] = status(api, key, ref)
            if settled(last[ref]):
                pending.discard(ref)
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    return last


def test_burst_answers_were_valid(crashed):
    answered = 0
    for i, rnd in enumerate(crashed["rounds"]):
        assert not rnd["failures"], f"round {i}: {rnd['failures'][:3]}"
        for ref, code, body in rnd["answers"]:
            assert code in (200, 400), (i, ref, code, body)
            if code == 400:
                assert body["message"] in (ALREADY_CAPTURED, IN_PROGRESS), body
            else:
                assert body["transactionType"] == "Capture" and body["paymentStatus"] == "SUCCESS", body
        answered += len(rnd["answers"])
    cut = sum(rnd["conn_errors"] for rnd in crashed["rounds"])
    stats = [(len(r["answers"]), r["conn_errors"]) for r in crashed["rounds"]]
    # the kills came in mid-burst: some captures answered, some cut off
    assert answered > 0, f"no capture was answered before the kills (answered, cut): {stats}"
    assert cut > 0, f"no capture was cut off by the kills (answered, cut): {stats}"


def test_late_browsers_see_the_payment(crashed):
    assert crashed["late"], "no late browser"
    for ref, code, title in crashed["late"]:
        assert (code, title) == (200, "Payment successful"), (ref, code, title)


def test_decided_payments_recorded_exactly_once(crashed):
    refs = [l["ref"] for l in crashed["unreturned"]]
    got = wait_settled(crashed, refs)
    wrong = []
    for link in crashed["unreturned"]:
        st = got[link["ref"]]
        entries = st["paymentStatuses"]
        psr = [e for e in st["transactionStatuses"] if e["transactionStatusId"] == PAYMENT_STATUS_RECEIVED]
        ok = (
            st["paymentStatus"] == "SUCCESS"
            and st["paymentStatusId"] == "1"
            and len(entries) == 1
            and entries[0]["transactionType"] == "Sale"
            and entries[0]["paymentGatewayDecision"] == "ACCEPT"
            and entries[0]["paymentGatewayResponseCode"] == 100
            and entries[0]["maskedCardNumber"] == "411111******1111"
            and [e.get("responseCode") for e in psr] == ["100"]
        )
        if not ok:
            wrong.append((link["ref"], st["paymentStatus"],
                          [(e["transactionType"], e["paymentGatewayDecision"]) for e in entries],
                          [e.get("responseCode") for e in psr]))
    assert not wrong, (
        f"{len(wrong)} of {len(refs)} decided payments not recorded exactly once, SUCCESS, "
        f"{REPAIR_WAIT:.0f}s after the restart: {wrong[:6]}"
    )


def test_captures_recorded_once(crashed):
    got = wait_settled(crashed, [l["ref"] for l in crashed["auths"]])
    stuck, doubled, lost, wrong = [], [], [], []
    for link in crashed["auths"]:
        st = got[link["ref"]]
        entries = st["paymentStatuses"]
        caps = [e for e in entries if e["transactionType"] == "Capture"]
        ok_caps = [e for e in caps if e["paymentGatewayDecision"] == "ACCEPT"]
        if not settled(st):
            stuck.append((link["ref"], st["paymentStatus"], [e["paymentGatewayDecision"] for e in entries]))
        if len(ok_caps) > 1:
            doubled.append((link["ref"], len(ok_caps)))
        for b in link["captured_200"]:
            if [e["paymentGatewayReqReferenceNumber"] for e in ok_caps] != [b["paymentGatewayReqReferenceNumber"]]:
                lost.append(link["ref"])
        if entries[0]["transactionType"] != "Authorization" or entries[0]["paymentGatewayDecision"] != "ACCEPT":
            wrong.append((link["ref"], entries[0]))
        reqs = [e.get("paymentGatewayReqReferenceNumber") for e in entries]
        if len(set(reqs)) != len(reqs):
            doubled.append((link["ref"], "an operation recorded twice"))
        if st["paymentStatus"] != "SUCCESS":
            wrong.append((link["ref"], st["paymentStatus"]))
    n = len(crashed["auths"])
    assert not stuck, f"{len(stuck)} of {n} links still have a pending operation {REPAIR_WAIT:.0f}s after the restart: {stuck[:6]}"
    assert not doubled, f"links with two successful captures: {doubled[:6]}"
    assert not lost, f"captures answered 200 but not recorded as that one capture: {lost[:6]}"
    assert not wrong, wrong[:6]


def test_every_authorization_can_still_be_captured_once(crashed):
    """A capture lost in the crash does not block the link: an authorization
    without a successful capture takes one now, one that has one refuses."""
    api, key = crashed["api"], crashed["key"]
    got = wait_settled(crashed, [l["ref"] for l in crashed["auths"]])
    blocked = []
    for link in crashed["auths"]:
        captured = any(e["transactionType"] == "Capture" and e["paymentGatewayDecision"] == "ACCEPT"
                       for e in got[link["ref"]]["paymentStatuses"])
        r = api.post(PAYMENT_OPS + link["ref"] + "/capture", key=key)
        if captured:
            assert r.status_code == 400 and r.body["message"] == ALREADY_CAPTURED, r.text
        elif r.status_code != 200:
            blocked.append((link["ref"], r.status_code, r.body.get("message")))
    assert not blocked, f"authorizations that can no longer be captured: {blocked[:6]}"
    for link in crashed["auths"]:
        st = status(api, key, link["ref"])
        ok_caps = [e for e in st["paymentStatuses"]
                   if e["transactionType"] == "Capture" and e["paymentGatewayDecision"] == "ACCEPT"]
        assert len(ok_caps) == 1, (link["ref"], st["paymentStatuses"])


def test_zz_no_card_data_kept(crashed):
    """The crash database (every file of it, every value) and the logs of
    every server run hold no card number and no CVC submitted."""
    assert CARD_DATA.numbers and CARD_DATA.cvcs
    findings = find_card_data_in_db(crashed["db_url"], CARD_DATA.numbers, CARD_DATA.cvcs)
    for s in crashed["servers"]:
        for log in (s.stdout_path, s.stderr_path):
            findings += find_card_data_in_log(Path(log), CARD_DATA.numbers, CARD_DATA.cvcs)
    assert not findings, "card data kept:\n" + "\n".join(findings[:20])
