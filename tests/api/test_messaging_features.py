"""What chatpay does with messages beyond sending one: WhatsApp → SMS
fallback, reminders and quiet hours, opt-outs (a reply STOP / START, and
`chatpay optout`), and the command line that configures them (`chatpay
merchant update` provider options, `chatpay provider`).

The providers are the offline fakes of tests/fakes, through the helpers of
test_providers.py (Env, kits). The module runs a server of its own.

Reminders take at least a minute (`--reminders 1m` is the smallest): the
links of the reminder and quiet-hours tests are created by the first test of
the module and checked by the last ones, so that the rest runs meanwhile."""

from __future__ import annotations

import datetime
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

import pytest

from cp_helpers import LINKS, fresh_msisdn, history_ids, link_body, poll, start_server
from openapi_check import parse_rfc3339

from test_providers import (
    CLICKED,
    DELIVERED,
    DELIVERY_FAILED,
    KITS,
    RECEIVED,
    REF_RE,
    SENT,
    SENT_FAILED,
    WAIT,
    SETTLE,
    Env,
    Kit,
    Link,
    Shop,
    bare,
    checked,
    create_link,
    entry,
    make_shop,
    sent_link,
    sms_text,
    start_env,
    status,
    stop_env,
    wait_ids,
    wait_status,
)

EARLY_WAIT = 2.0  # seconds chatpay waits for the record of a send a report overtook
REMINDER_AFTER = 60.0  # seconds: --reminders 1m
REMINDER_SLACK = 15.0  # the reminder comes at most this late (workers look every 200 ms)
QUIET_TZ = "Asia/Kolkata"  # UTC+05:30 all year (no daylight saving)
QUIET_OFFSET = datetime.timedelta(hours=5, minutes=30)
OPTED_OUT = ("to: {} opted out of this merchant's messages (replied STOP); they can opt back "
             "in by replying START")
FALLBACK_SUFFIX = "; sending it by SMS instead"
BAD_NUMBER = ("--number must be an international phone number (7 to 15 digits, optional leading "
              "+, no leading 0)")

@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = start_env(tmp_path_factory.mktemp("messaging"), "messaging")
    try:
        yield e
    finally:
        stop_env(e)


@pytest.fixture
def fakes():
    started: list[Kit] = []
    yield started
    for k in started:
        k.fake.stop()


def kit_of(env: Env, fakes: list, kind: str, shop: Shop | None = None, **kw) -> Kit:
    kit = KITS[kind](env, shop or make_shop(env), **kw)
    fakes.append(kit)
    return kit


def first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def optouts(env: Env, shop: Shop) -> list[dict]:
    return env.ok("optout", "list", "--merchant", shop.id, "--json").json()


def hhmm(t: datetime.datetime) -> str:
    return f"{t.hour:02d}:{t.minute:02d}"


# ---- the slow links: made first ---------------------------------------------------------------


@dataclass
class Slow:
    kit: Kit
    link: Link
    sms: Kit | None = None  # the fallback's provider


@pytest.fixture(scope="module")
def slow(env):
    """Links whose reminders are due a minute after they are made:
    remind   a Clickatell merchant with --reminders 1m: left alone;
    opened   the same merchant: opened at once;
    quiet    a Twilio merchant with --reminders 1m and quiet hours around now
             (in Asia/Kolkata, not UTC);
    fellback a WhatsApp Cloud merchant with --reminders 1m and --fallback sms
             (Clickatell): its link is taken by WhatsApp, reported
             undelivered (not on WhatsApp), and sent again by SMS;
    recalled a Twilio merchant with --reminders 1m whose reminder's answer
             is held for 5 s: the link is cancelled meanwhile."""
    made: dict[str, Slow] = {}
    extra: list[Kit] = []
    try:
        r = KITS["clickatell"](env, make_shop(env))
        env.ok("merchant", "update", r.shop.id, "--reminders", "1m")
        made["remind"] = Slow(r, r.link())
        made["opened"] = Slow(r, r.link())
        o = made["opened"]
        wait_ids(env, r.shop, o.link.ref, 2)
        page = env.api.get("/p/" + o.link.url.rsplit("/p/", 1)[1])
        assert page.status_code == 200, page.text
        q = KITS["twilio"](env, make_shop(env))
        local = datetime.datetime.now(datetime.timezone.utc) + QUIET_OFFSET
        hour = datetime.timedelta(hours=1)
        window = f"{hhmm(local - hour)}-{hhmm(local + 2 * hour)}"
        env.ok("merchant", "update", q.shop.id, "--reminders", "1m", "--quiet-hours", window,
               "--timezone", QUIET_TZ)
        shown = env.ok("merchant", "show", q.shop.id, "--json").json()
        assert (shown["quietHours"], shown["timezone"], shown["reminders"]) == (window, QUIET_TZ,
                                                                                "1m"), shown
        made["quiet"] = Slow(q, q.link())
        to = fresh_msisdn()
        shop = make_shop(env)
        wa = KITS["whatsapp-cloud"](env, shop, async_errors=True, not_on_whatsapp=[to])
        extra.append(KITS["clickatell"](env, shop))
        env.ok("merchant", "update", shop.id, "--reminders", "1m", "--fallback", "sms")
        made["fellback"] = Slow(wa, create_link(env, shop, "whatsapp", to), extra[-1])
        wait_ids(env, shop, made["fellback"].link.ref, 2)
        wa.deliver(wa.message_ids(to)[0], ["failed"])
        rc = KITS["twilio"](env, make_shop(env), hang_seconds=5.0)
        env.ok("merchant", "update", rc.shop.id, "--reminders", "1m")
        made["recalled"] = Slow(rc, rc.link())
        wait_ids(env, rc.shop, made["recalled"].link.ref, 2)
        rc.fake.set_mode("timeout_after_accept", 1)  # the next send: the reminder
        yield made
    finally:
        for kit in [*{id(s.kit): s.kit for s in made.values()}.values(), *extra]:
            kit.fake.stop()


def test_first_sends_go_out_at_once(env, slow):
    """The first send is never held (not even in quiet hours)."""
    for name, s in slow.items():
        st = wait_ids(env, s.kit.shop, s.link.ref, 2)
        assert [bare(e) for e in st["transactionStatuses"]][:2] == [
            entry(RECEIVED), s.kit.sent_entry()], (name, st)
        assert len(s.kit.message_ids(s.link.to)) == 1, name
    o = slow["opened"]
    st = wait_ids(env, o.kit.shop, o.link.ref, 3)
    assert history_ids(st) == [RECEIVED, SENT, CLICKED], st


# ---- fallback ---------------------------------------------------------------------------------


def fallback_shop(env: Env, fakes: list, sms_kind: str, **wa_kw) -> tuple[Kit, Kit]:
    shop = make_shop(env)
    wa = kit_of(env, fakes, "whatsapp-cloud", shop, **wa_kw)
    sms = kit_of(env, fakes, sms_kind, shop)
    env.ok("merchant", "update", shop.id, "--fallback", "sms")
    assert env.ok("merchant", "show", shop.id, "--json").json()["fallback"] == "sms"
    return wa, sms


def stop_fallback(env: Env, wa: Kit, to: str, link: Link | None) -> None:
    """Leave nothing running after the test, pass or fail: no fallback, and
    the number reachable on WhatsApp again; then wait (bounded) until the
    link's history stops growing."""
    env.ok("merchant", "update", wa.shop.id, "--fallback", "none")
    with wa.fake.lock:
        wa.fake.not_on_whatsapp.discard(to)
    wa.fake.open_window(to)
    if link is None:
        return
    last = [-1]

    def unchanged() -> bool:
        n = len(history_ids(status(env, wa.shop, link.ref)))
        same, last[0] = n == last[0], n
        return same

    assert poll(unchanged, bool, WAIT, 0.3), "the link's history keeps growing"


@pytest.mark.parametrize("sms_kind,why,code", [
    ("twilio", "not_on_whatsapp", "131026"),
    ("clickatell", "window_closed", "131047"),
])
def test_whatsapp_link_falls_back_to_sms(env, fakes, sms_kind, why, code):
    to = fresh_msisdn()
    wa, sms = fallback_shop(env, fakes, sms_kind,
                            **({"not_on_whatsapp": [to]} if why == "not_on_whatsapp" else {}))
    link = None
    try:
        link = create_link(env, wa.shop, "whatsapp", to)
        # (bounded: with the loop the history grows by hundreds of entries a second)
        st = wait_status(env, wa.shop, link.ref,
                         lambda st: SENT in history_ids(st) or len(history_ids(st)) > 3)
        assert history_ids(st) == [RECEIVED, SENT_FAILED, SENT], st["transactionStatuses"][:6]
        failed = st["transactionStatuses"][1]
        assert (failed["httpResponseCode"], failed["responseCode"]) == (400, code), failed
        assert failed["responseCodeDescription"].startswith(f"(#{code}) "), failed
        assert failed["responseCodeDescription"].endswith(FALLBACK_SUFFIX), failed
        assert bare(st["transactionStatuses"][2]) == sms.sent_entry(), st
        assert st["channelName"] == "SMS", st
        reqs = sms.wait_sends(1)
        assert len(reqs) == 1, reqs
        sms.check_send(reqs[0], link)  # the SMS text, with the link
        time.sleep(SETTLE)
        assert len(wa.sends()) == 1, f"{len(wa.sends())} WhatsApp sends"
        assert history_ids(status(env, wa.shop, link.ref)) == [RECEIVED, SENT_FAILED, SENT]
    finally:
        stop_fallback(env, wa, to, link)


def test_no_fallback_for_other_whatsapp_failures(env, fakes):
    """Refused credentials are not a reason to go by SMS."""
    wa, sms = fallback_shop(env, fakes, "twilio", good=False)
    link = wa.link()
    st = wait_ids(env, wa.shop, link.ref, 2)
    time.sleep(SETTLE)
    st = status(env, wa.shop, link.ref)
    assert [bare(e) for e in st["transactionStatuses"]] == [
        entry(RECEIVED), entry(SENT_FAILED, httpResponseCode=401, responseCode=wa.auth_code,
                               responseCodeDescription=wa.auth_text)], st
    assert st["channelName"] == "WHATSAPP", st
    assert sms.sends() == [] and len(wa.sends()) == 1


def test_no_fallback_when_the_template_goes(env, fakes):
    wa, sms = fallback_shop(env, fakes, "clickatell")
    env.ok("merchant", "update", wa.shop.id, "--whatsapp-template", "payment_link:en",
           "--whatsapp-template-params", "order,url")
    link = create_link(env, wa.shop, "whatsapp")  # a cold number: the template
    st = wait_ids(env, wa.shop, link.ref, 2)
    time.sleep(SETTLE)
    st = status(env, wa.shop, link.ref)
    assert [bare(e) for e in st["transactionStatuses"]] == [
        entry(RECEIVED), entry(SENT, httpResponseCode=200, responseCodeDescription="accepted")], st
    reqs = wa.sends()
    assert [r.json["type"] for r in reqs] == ["interactive", "template"], reqs
    assert reqs[1].json["template"] == {
        "name": "payment_link", "language": {"code": "en"},
        "components": [{"type": "body", "parameters": [
            {"type": "text", "text": link.order}, {"type": "text", "text": link.url}]}]}
    assert sms.sends() == []


def test_a_refused_template_still_falls_back_to_sms(env, fakes):
    """The window is closed, and the merchant's template is refused (Meta's
    132001: the business account has no such template): the link still
    goes by SMS, as the merchant asked. (The template's refusal took the
    closed window's place, and the link was not sent at all.)"""
    wa, sms = fallback_shop(env, fakes, "clickatell")
    env.ok("merchant", "update", wa.shop.id, "--whatsapp-template", "payment_lnk:en",
           "--whatsapp-template-params", "order,url")
    wa.fake.unknown_templates.add("payment_lnk")
    to = fresh_msisdn()
    link = None
    try:
        link = create_link(env, wa.shop, "whatsapp", to)  # a cold number
        st = wait_status(env, wa.shop, link.ref,
                         lambda st: SENT in history_ids(st) or len(history_ids(st)) > 3)
        assert history_ids(st) == [RECEIVED, SENT_FAILED, SENT], st["transactionStatuses"][:6]
        failed = st["transactionStatuses"][1]
        assert (failed["httpResponseCode"], failed["responseCode"]) == (404, "132001"), failed
        assert failed["responseCodeDescription"].endswith(FALLBACK_SUFFIX), failed
        assert st["channelName"] == "SMS", st
        assert [r.json["type"] for r in wa.sends()] == ["interactive", "template"]
        sms.check_send(sms.wait_sends(1)[0], link)
    finally:
        wa.fake.unknown_templates.discard("payment_lnk")
        stop_fallback(env, wa, to, link)


@pytest.mark.parametrize("sms_kind,why,code", [
    ("twilio", "not_on_whatsapp", "131026"),
    ("clickatell", "window_closed", "131047"),
])
def test_whatsapp_link_reported_undelivered_falls_back_to_sms(env, fakes, sms_kind, why, code):
    """Meta takes the message and says only in the status webhook that it
    could not deliver it: the link goes by SMS then, once."""
    to = fresh_msisdn()
    wa, sms = fallback_shop(env, fakes, sms_kind, async_errors=True,
                            **({"not_on_whatsapp": [to]} if why == "not_on_whatsapp" else {}))
    link = None
    try:
        link = create_link(env, wa.shop, "whatsapp", to)
        st = wait_ids(env, wa.shop, link.ref, 2)
        assert [bare(e) for e in st["transactionStatuses"]] == [
            entry(RECEIVED), wa.sent_entry()], st
        [mid] = wa.message_ids(to)
        wa.deliver(mid, ["failed"])  # the error the fake held back
        st = wait_ids(env, wa.shop, link.ref, 4)
        assert history_ids(st) == [RECEIVED, SENT, DELIVERY_FAILED, SENT], st
        failed = st["transactionStatuses"][2]
        assert failed["responseCode"] == code, failed
        assert failed["responseCodeDescription"].endswith(FALLBACK_SUFFIX), failed
        assert bare(st["transactionStatuses"][3]) == sms.sent_entry(), st
        assert st["channelName"] == "SMS", st
        reqs = sms.wait_sends(1)
        sms.check_send(reqs[0], link)
        wa.deliver(mid, ["failed"])  # the same report again (Meta retries): nothing more
        time.sleep(SETTLE)
        assert len(sms.sends()) == 1 and len(wa.sends()) == 1
        assert history_ids(status(env, wa.shop, link.ref)) == [RECEIVED, SENT, DELIVERY_FAILED,
                                                              SENT]
    finally:
        stop_fallback(env, wa, to, link)


def test_twilio_whatsapp_reported_not_on_channel_falls_back_to_sms(env, fakes):
    """Twilio takes the WhatsApp message and reports it failed with 63003
    ("Channel could not find To address"): the number is not on WhatsApp, as
    Meta's 131026 says, and the link goes by SMS, once."""
    shop = make_shop(env)
    tw = kit_of(env, fakes, "twilio", shop)  # the SMS provider, and now WhatsApp's too
    wa_from = "15551239999"
    env.ok("provider", "update", tw.id, "--set", f"whatsapp_from={wa_from}")
    env.ok("merchant", "update", shop.id, "--whatsapp-provider", tw.id, "--fallback", "sms")
    to = fresh_msisdn()
    tw.fake.open_window("+" + to)  # the text is taken, and reported later
    link = create_link(env, shop, "whatsapp", to)
    st = wait_ids(env, shop, link.ref, 2)
    assert history_ids(st) == [RECEIVED, SENT], st
    [sid] = tw.message_ids(to)
    checked(tw.fake.deliver(sid, ["failed"], error_code=63003), 200)
    st = wait_ids(env, shop, link.ref, 4)
    assert history_ids(st) == [RECEIVED, SENT, DELIVERY_FAILED, SENT], st
    failed = st["transactionStatuses"][2]
    assert failed["responseCode"] == "63003", failed
    assert failed["responseCodeDescription"].endswith(FALLBACK_SUFFIX), failed
    assert bare(st["transactionStatuses"][3]) == tw.sent_entry(), st
    assert st["channelName"] == "SMS", st
    reqs = tw.wait_sends(2)
    assert parse_qs(reqs[0].body.decode())["To"] == ["whatsapp:+" + to], reqs[0].body
    tw.check_send(reqs[1], link)  # the SMS text, with the link
    time.sleep(SETTLE)
    assert len(tw.sends()) == 2, tw.sends()


def test_whatsapp_link_reported_outside_the_window_goes_as_the_template(env, fakes):
    """The text was taken, then reported undelivered for the closed window
    (131047): the merchant's template alone goes next, not the SMS."""
    wa, sms = fallback_shop(env, fakes, "clickatell", async_errors=True)
    env.ok("merchant", "update", wa.shop.id, "--whatsapp-template", "payment_link:en",
           "--whatsapp-template-params", "order,url")
    link = create_link(env, wa.shop, "whatsapp")  # a cold number
    wait_ids(env, wa.shop, link.ref, 2)
    [mid] = wa.message_ids(link.to)
    wa.deliver(mid, ["failed"])
    st = wait_ids(env, wa.shop, link.ref, 4)
    assert history_ids(st) == [RECEIVED, SENT, DELIVERY_FAILED, SENT], st
    failed = st["transactionStatuses"][2]
    assert failed["responseCode"] == "131047", failed
    assert failed["responseCodeDescription"].endswith(
        "; sending it as the WhatsApp template instead"), failed
    assert st["channelName"] == "WHATSAPP", st
    reqs = wa.wait_sends(2)
    assert [r.json["type"] for r in reqs] == ["interactive", "template"], reqs
    assert reqs[1].json["template"]["name"] == "payment_link", reqs[1].json
    assert reqs[1].json["biz_opaque_callback_data"] != reqs[0].json["biz_opaque_callback_data"]
    # the template is delivered
    wa.delivered(wa.message_ids(link.to)[1])
    st = wait_ids(env, wa.shop, link.ref, 5)
    assert history_ids(st) == [RECEIVED, SENT, DELIVERY_FAILED, SENT, DELIVERED], st
    time.sleep(SETTLE)
    assert sms.sends() == [] and len(wa.sends()) == 2


def test_report_that_overtakes_the_send_is_taken_when_it_comes_again(env, fakes):
    """Meta may report the failure before chatpay has recorded the send
    (its answer is slow, longer than chatpay waits for the record): the
    report is answered 503, so that Meta sends it again, and applied then."""
    to = fresh_msisdn()
    wa, sms = fallback_shop(env, fakes, "clickatell", async_errors=True, not_on_whatsapp=[to],
                            hang_seconds=EARLY_WAIT + 3)
    link = None
    try:
        wa.fake.set_mode("timeout_after_accept", 1)
        link = create_link(env, wa.shop, "whatsapp", to)
        [mid] = poll(lambda: wa.message_ids(to), bool, WAIT, 0.02)
        checked(wa.deliver(mid, ["failed"]), 503)  # the send's answer is still held
        st = wait_ids(env, wa.shop, link.ref, 2, timeout=WAIT + 10)  # the answer timed out
        assert history_ids(st) == [RECEIVED, SENT], st
        checked(wa.deliver(mid, ["failed"]), 200)  # Meta's retry
        st = wait_ids(env, wa.shop, link.ref, 4)
        assert history_ids(st) == [RECEIVED, SENT, DELIVERY_FAILED, SENT], st
        assert st["transactionStatuses"][2]["responseCodeDescription"].endswith(FALLBACK_SUFFIX)
        assert len(sms.wait_sends(1)) == 1
    finally:
        stop_fallback(env, wa, to, link)


def early_twilio_report(env: Env, fakes: list, hang: float):
    """A Twilio SMS link whose send's answer (201) the fake holds for `hang`
    seconds, and the status callback "delivered" it posts meanwhile, before
    chatpay has recorded the send. Returns the kit, the link, the callback's
    attempts and how long chatpay took to answer it."""
    tw = kit_of(env, fakes, "twilio", hang_seconds=hang)
    tw.fake.set_mode("timeout_after_accept", 1)
    link = tw.link()
    [sid] = poll(lambda: tw.message_ids(link.to), bool, WAIT, 0.02)
    assert history_ids(status(env, tw.shop, link.ref)) == [RECEIVED], "the send is recorded"
    start = time.monotonic()
    atts = tw.fake.deliver(sid, ["delivered"])
    return tw, link, atts, time.monotonic() - start


def test_twilio_report_that_overtakes_the_send_is_applied_once_it_is_recorded(env, fakes):
    """Twilio never posts a status callback again after a 5xx: a report that
    comes before chatpay has recorded the send (a moment after Twilio's
    answer) is kept waiting until the send is recorded, then applied."""
    tw, link, atts, took = early_twilio_report(env, fakes, hang=1.0)
    checked(atts, 200)
    assert len(atts) == 1, atts
    st = wait_ids(env, tw.shop, link.ref, 3)
    assert [bare(e) for e in st["transactionStatuses"]] == [
        entry(RECEIVED), tw.sent_entry(), tw.delivered_entry()], st
    sent = parse_rfc3339(st["transactionStatuses"][1]["created"]).timestamp()
    assert sent > atts[0].at, "the report did not come before the send was recorded"
    assert took < EARLY_WAIT + SETTLE, took


def test_twilio_report_whose_send_stays_unrecorded_is_answered_503(env, fakes):
    """chatpay waits for the send's record a bounded time only: still
    unrecorded after it (the answer is held longer), the report is answered
    503, after the wait."""
    tw, link, atts, took = early_twilio_report(env, fakes, hang=EARLY_WAIT + 3)
    checked(atts, 503)
    assert len(atts) == 1, atts  # Twilio does not post it again
    assert EARLY_WAIT - 0.5 <= took < EARLY_WAIT + SETTLE, took
    assert history_ids(status(env, tw.shop, link.ref)) == [RECEIVED]
    # the answer comes: the send is recorded, the report was not applied
    st = wait_ids(env, tw.shop, link.ref, 2, timeout=EARLY_WAIT + 3 + WAIT)
    time.sleep(SETTLE)
    assert history_ids(status(env, tw.shop, link.ref)) == [RECEIVED, SENT], st

def test_no_resend_to_a_customer_who_opened_the_link(env, fakes):
    """The SMS resend waits for its provider; the customer opens the link
    meanwhile (from the WhatsApp message after all): it is not sent."""
    to = fresh_msisdn()
    wa, sms = fallback_shop(env, fakes, "clickatell", async_errors=True, not_on_whatsapp=[to])
    link = None
    try:
        link = create_link(env, wa.shop, "whatsapp", to)
        wait_ids(env, wa.shop, link.ref, 2)
        sms.fake.set_mode("error_503", 2)
        wa.deliver(wa.message_ids(to)[0], ["failed"])
        sms.wait_sends(1)  # refused: tried again a second later
        page = env.api.get("/p/" + link.url.rsplit("/p/", 1)[1])
        assert page.status_code == 200
        time.sleep(2 * SETTLE)
        st = status(env, wa.shop, link.ref)
        assert history_ids(st) == [RECEIVED, SENT, DELIVERY_FAILED, CLICKED], st
        assert sms.message_ids(to) == [], "an SMS went to a customer who had opened the link"
    finally:
        stop_fallback(env, wa, to, link)


def test_resend_after_a_report_waits_out_quiet_hours(env, fakes):
    """A first send is never held; a resend caused by a later report is,
    like a reminder."""
    to = fresh_msisdn()
    wa, sms = fallback_shop(env, fakes, "clickatell", async_errors=True, not_on_whatsapp=[to])
    local = datetime.datetime.now(datetime.timezone.utc) + QUIET_OFFSET
    hour = datetime.timedelta(hours=1)
    env.ok("merchant", "update", wa.shop.id, "--quiet-hours",
           f"{hhmm(local - hour)}-{hhmm(local + 2 * hour)}", "--timezone", QUIET_TZ)
    link = create_link(env, wa.shop, "whatsapp", to)
    wait_ids(env, wa.shop, link.ref, 2)  # sent at once
    wa.deliver(wa.message_ids(to)[0], ["failed"])
    st = wait_ids(env, wa.shop, link.ref, 3)
    assert history_ids(st) == [RECEIVED, SENT, DELIVERY_FAILED], st
    assert st["transactionStatuses"][2]["responseCodeDescription"].endswith(FALLBACK_SUFFIX)
    time.sleep(SETTLE)
    assert sms.sends() == [], "the SMS went out in quiet hours"
    assert history_ids(status(env, wa.shop, link.ref)) == [RECEIVED, SENT, DELIVERY_FAILED]
    # cancelled meanwhile: nothing reached the customer, so no notice either
    r = env.api.post("/api/v2/cancel/" + link.ref, key=wa.shop.key)
    assert r.status_code == 200, r.text
    time.sleep(SETTLE)
    assert sms.sends() == [] and len(wa.sends()) == 1, (sms.sends(), wa.sends())


def test_no_resend_without_fallback_or_template(env, fakes):
    """Nothing to try next: the report is the link's delivery failure."""
    wa = kit_of(env, fakes, "whatsapp-cloud", async_errors=True)
    link = create_link(env, wa.shop, "whatsapp")  # a cold number: 131047
    wait_ids(env, wa.shop, link.ref, 2)
    wa.deliver(wa.message_ids(link.to)[0], ["failed"])
    st = wait_ids(env, wa.shop, link.ref, 3)
    time.sleep(SETTLE)
    st = status(env, wa.shop, link.ref)
    assert history_ids(st) == [RECEIVED, SENT, DELIVERY_FAILED], st
    assert st["transactionStatuses"][2]["responseCode"] == "131047", st
    assert not st["transactionStatuses"][2]["responseCodeDescription"].endswith("instead"), st
    assert len(wa.sends()) == 1


# ---- opt-outs ---------------------------------------------------------------------------------


def assert_opted_out(env: Env, shop: Shop, channel: str, to: str) -> None:
    for written in (to, "+" + to):
        r = env.api.post(LINKS, key=shop.key, json=link_body(channel=channel, to=written))
        assert r.status_code == 400, r.text
        assert r.body["code"] == "validation_failed", r.body
        assert r.body["errors"] == [OPTED_OUT.format(to)], r.body


@pytest.mark.parametrize("kind", ["clickatell", "whatsapp-cloud", "twilio"])
def test_reply_stop_opts_out_and_start_opts_back_in(env, fakes, kind):
    kit = kit_of(env, fakes, kind)
    link, _ = sent_link(kit)
    to = link.to
    # a reply that merely contains the word is no opt-out
    checked(kit.reply(to, "please stop by the shop"), 200, contract=kind != "twilio")
    assert optouts(env, kit.shop) == []
    t0 = datetime.datetime.now(datetime.timezone.utc)
    checked(kit.reply(to, "  Stop "), 200, contract=kind != "twilio")
    (o,) = optouts(env, kit.shop)
    at = parse_rfc3339(o.pop("at"))
    assert o == {"number": to, "source": f"reply via {kit.id}"}, o
    assert abs((at - t0).total_seconds()) < 3, (at, t0)
    assert_opted_out(env, kit.shop, kit.channel, to)
    # a link that sends nothing is still allowed, and other merchants are not concerned
    r = env.api.post(LINKS, key=kit.shop.key, json=link_body(channel="none", to="+" + to))
    assert r.status_code == 201, r.text
    other = make_shop(env)
    r = env.api.post(LINKS, key=other.key, json=link_body(channel="sms", to="+" + to))
    assert r.status_code == 201, r.text
    # a duplicate STOP changes nothing; "start" (any case) opts back in
    checked(kit.reply(to, "STOP"), 200, contract=kind != "twilio")
    assert [o["number"] for o in optouts(env, kit.shop)] == [to]
    checked(kit.reply(to, "start"), 200, contract=kind != "twilio")
    assert optouts(env, kit.shop) == []
    n = len(kit.sends())
    link2 = create_link(env, kit.shop, kit.channel, to)  # (WhatsApp: the reply opened the window)
    reqs = kit.wait_sends(n + 1)
    kit.check_send(reqs[n], link2)


def test_a_start_written_before_the_stop_does_not_lift_it(env, fakes):
    """Replies can arrive out of order (WhatsApp re-delivers its webhooks):
    each is applied at the time the customer wrote it, so an old START that
    arrives after a newer STOP leaves the number opted out, and a START
    written later opts it back in."""
    kit = kit_of(env, fakes, "whatsapp-cloud")
    link, _ = sent_link(kit)
    to = link.to
    now = time.time()
    kit.fake.clock = lambda: now
    checked(kit.reply(to, "STOP"), 200)
    assert [o["number"] for o in optouts(env, kit.shop)] == [to]
    kit.fake.clock = lambda: now - 60  # written a minute before the STOP
    checked(kit.reply(to, "START"), 200)
    assert [o["number"] for o in optouts(env, kit.shop)] == [to]
    assert_opted_out(env, kit.shop, kit.channel, to)
    kit.fake.clock = lambda: now + 1
    checked(kit.reply(to, "START"), 200)
    assert optouts(env, kit.shop) == []


def test_a_start_written_between_two_stops_does_not_lift_the_second(env, fakes):
    """STOP, START, STOP, with the START's post re-delivered after the
    second STOP (WhatsApp retries a failed post later): the customer's last
    word is STOP, and the number stays opted out. (The list kept the first
    STOP's time, so the START, written after it, lifted the opt-out.)"""
    kit = kit_of(env, fakes, "whatsapp-cloud")
    link, _ = sent_link(kit)
    to = link.to
    # (in the past: a time after the post's arrival counts as its arrival)
    then = time.time() - 30
    kit.fake.clock = lambda: then
    checked(kit.reply(to, "STOP"), 200)
    kit.fake.clock = lambda: then + 20  # the second STOP
    checked(kit.reply(to, "STOP"), 200)
    kit.fake.clock = lambda: then + 10  # the START, written between them, comes last
    checked(kit.reply(to, "START"), 200)
    assert [o["number"] for o in optouts(env, kit.shop)] == [to]
    assert_opted_out(env, kit.shop, kit.channel, to)
    kit.fake.clock = lambda: then + 25
    checked(kit.reply(to, "START"), 200)
    assert optouts(env, kit.shop) == []


def test_a_whatsapp_stop_to_another_number_of_the_app_is_not_an_opt_out(env, fakes):
    """A Meta app's webhook carries the events of all its business numbers
    (another merchant's, a support line), each naming its number
    (metadata.phone_number_id): a STOP written to another number than the
    provider's is no opt-out from this merchant."""
    kit = kit_of(env, fakes, "whatsapp-cloud")
    link, _ = sent_link(kit)
    own = kit.fake.phone_number_id
    kit.fake.phone_number_id = "999999999999999"  # another number of the same app
    try:
        checked(kit.reply(link.to, "STOP"), 200)
    finally:
        kit.fake.phone_number_id = own
    assert optouts(env, kit.shop) == []
    checked(kit.reply(link.to, "STOP"), 200)  # to the provider's own number
    assert [o["number"] for o in optouts(env, kit.shop)] == [link.to]


def test_optout_command(env, fakes):
    kit = kit_of(env, fakes, "clickatell")
    shop, to = kit.shop, fresh_msisdn()
    res = env.ok("optout", "add", "--merchant", shop.id, "--number", "+" + to)
    assert res.stdout == f"{to} is on the opt-out list now.\n", res.stdout
    res = env.ok("optout", "add", "--merchant", shop.id, "--number", to)
    assert res.stdout == f"{to} was on the opt-out list already.\n", res.stdout
    (o,) = optouts(env, shop)
    parse_rfc3339(o.pop("at"))
    assert o == {"number": to, "source": "operator"}, o
    res = env.ok("optout", "list", "--merchant", shop.id)
    assert res.stdout == f"{to:<16} operator\n", res.stdout
    assert_opted_out(env, shop, "sms", to)
    assert_opted_out(env, shop, "whatsapp", to)
    res = env.ok("optout", "remove", "--merchant", shop.id, "--number", to)
    assert res.stdout == f"{to} is off the opt-out list now.\n", res.stdout
    res = env.ok("optout", "remove", "--merchant", shop.id, "--number", to)
    assert res.stdout == f"{to} was not on the opt-out list.\n", res.stdout
    assert optouts(env, shop) == []
    link = create_link(env, shop, "sms", to)
    kit.check_send(kit.wait_sends(1)[0], link)
    for args, rc, message in [
        (["add", "--merchant", shop.id, "--number", "12ab5678"], 2, f"chatpay: optout add: {BAD_NUMBER}"),
        (["add", "--merchant", shop.id, "--number", "123456"], 2, f"chatpay: optout add: {BAD_NUMBER}"),
        (["add", "--merchant", shop.id, "--number", "0821234567"], 2,
         f"chatpay: optout add: {BAD_NUMBER}"),  # a national number never matches a link's
        (["remove", "--merchant", shop.id, "--number", "1234567890123456"], 2,
         f"chatpay: optout remove: {BAD_NUMBER}"),
        (["add", "--merchant", shop.id], 2, f"chatpay: optout add: {BAD_NUMBER}"),
        (["list"], 2, "chatpay: optout list: --merchant is required"),
        (["list", "--merchant", shop.id, "--number", to], 2,
         "chatpay: optout list: takes no --number"),
        (["block", "--merchant", shop.id], 2, 'chatpay: optout: unknown subcommand "block"'),
        (["add", "--merchant", "nope", "--number", to], 1, "chatpay: no merchant nope"),
    ]:
        res = env.cli("optout", *args)
        assert (res.returncode, first_line(res.stderr)) == (rc, message), (args, res)
    assert optouts(env, shop) == []


# ---- merchant update: the messaging options ---------------------------------------------------


REMINDERS_ERR = ("chatpay: --reminders: 1 to 5 increasing durations from 1m to 7d, separated by "
                 "commas (10m,2h), or none")
QUIET_ERR = "chatpay: --quiet-hours: HH:MM-HH:MM (24-hour, e.g. 21:00-08:00), or none"
TZ_ERR = "chatpay: --timezone: an IANA time zone such as Africa/Johannesburg"
TEMPLATE_ERR = "chatpay: --whatsapp-template: NAME:LANG (e.g. payment_link:en), or none"
PARAMS_ERR = ("chatpay: --whatsapp-template-params: a comma list of merchant, amount, order, url "
              "(at most 8)")
FALLBACK_ERR = "chatpay: --fallback: must be sms or none"


def merchant_show(env: Env, shop: Shop) -> dict:
    return env.ok("merchant", "show", shop.id, "--json").json()


def test_merchant_messaging_options_are_validated(env, fakes):
    shop = make_shop(env)
    sms = kit_of(env, fakes, "twilio", shop, select=False)
    wa = kit_of(env, fakes, "whatsapp-cloud", shop, select=False)
    stranger = kit_of(env, fakes, "clickatell", select=False)  # another merchant's
    before = merchant_show(env, shop)
    cases = [
        (["--reminders", "30s"], 2, REMINDERS_ERR),
        (["--reminders", "8d"], 2, REMINDERS_ERR),
        (["--reminders", "2m,1m"], 2, REMINDERS_ERR),
        (["--reminders", "1m,1m"], 2, REMINDERS_ERR),
        (["--reminders", "1m,2m,3m,4m,5m,6m"], 2, REMINDERS_ERR),
        (["--reminders", "1m,"], 2, REMINDERS_ERR),
        (["--reminders", ",1m"], 2, REMINDERS_ERR),
        (["--reminders", "soon"], 2, REMINDERS_ERR),
        (["--quiet-hours", "25:00-08:00"], 2, QUIET_ERR),
        (["--quiet-hours", "21:60-08:00"], 2, QUIET_ERR),
        (["--quiet-hours", "08:00-08:00"], 2, QUIET_ERR),
        (["--quiet-hours", "8:00-9:00"], 2, QUIET_ERR),
        (["--quiet-hours", "21:00"], 2, QUIET_ERR),
        (["--quiet-hours", "21:00-08:00x"], 2, QUIET_ERR),
        (["--timezone", "Mars/Olympus_Mons"], 2, TZ_ERR),
        (["--timezone", "../../etc/passwd"], 2, TZ_ERR),
        (["--timezone", ""], 2, TZ_ERR),
        (["--whatsapp-template", "payment_link"], 2, TEMPLATE_ERR),
        (["--whatsapp-template", "payment link:en"], 2, TEMPLATE_ERR),
        (["--whatsapp-template", ":en"], 2, TEMPLATE_ERR),
        (["--whatsapp-template", "payment_link:e"], 2, TEMPLATE_ERR),
        (["--whatsapp-template-params", "merchant,price"], 2, PARAMS_ERR),
        (["--whatsapp-template-params", ""], 2, PARAMS_ERR),
        (["--whatsapp-template-params", "url,"], 2, PARAMS_ERR),
        (["--whatsapp-template-params", ",".join(["url"] * 9)], 2, PARAMS_ERR),
        (["--fallback", "email"], 2, FALLBACK_ERR),
        (["--sms-provider", "prv_0000000000000000"], 1,
         "chatpay: --sms-provider: prv_0000000000000000 is not a provider of this merchant "
         "(chatpay provider list)"),
        (["--sms-provider", stranger.id], 1,
         f"chatpay: --sms-provider: {stranger.id} is not a provider of this merchant "
         "(chatpay provider list)"),
        (["--whatsapp-provider", stranger.id], 1,
         f"chatpay: --whatsapp-provider: {stranger.id} is not a provider of this merchant "
         "(chatpay provider list)"),
        (["--sms-provider", wa.id], 1, f"chatpay: --sms-provider: {wa.id} does not carry SMS"),
        # a refused provider refuses the whole update
        (["--reminders", "10m", "--sms-provider", wa.id], 1,
         f"chatpay: --sms-provider: {wa.id} does not carry SMS"),
    ]
    for args, rc, message in cases:
        res = env.cli("merchant", "update", shop.id, *args)
        assert (res.returncode, first_line(res.stderr)) == (rc, message), (args, res)
        assert res.stdout == "", (args, res.stdout)
    after = merchant_show(env, shop)
    assert after == before, "a refused update changed the merchant"
    # accepted: every option at once, then each cleared
    env.ok("merchant", "update", shop.id, "--sms-provider", sms.id, "--whatsapp-provider", wa.id,
           "--fallback", "sms", "--reminders", "10m,2h,7d", "--quiet-hours", "21:30-07:15",
           "--timezone", "Africa/Johannesburg", "--whatsapp-template", "payment_link:en_US",
           "--whatsapp-template-params", "merchant,amount,order,url")
    got = merchant_show(env, shop)
    want = {"smsProvider": sms.id, "whatsappProvider": wa.id, "fallback": "sms",
            "reminders": "10m,2h,7d", "quietHours": "21:30-07:15",
            "timezone": "Africa/Johannesburg", "whatsappTemplate": "payment_link",
            "whatsappTemplateLanguage": "en_US",
            "whatsappTemplateParams": "merchant,amount,order,url"}
    assert {k: got[k] for k in want} == want, got
    # Twilio carries WhatsApp too; quiet hours may end before they start (over midnight)
    env.ok("merchant", "update", shop.id, "--whatsapp-provider", sms.id, "--quiet-hours",
           "00:00-23:59")
    got = merchant_show(env, shop)
    assert (got["whatsappProvider"], got["quietHours"]) == (sms.id, "00:00-23:59"), got
    env.ok("merchant", "update", shop.id, "--sms-provider", "none", "--whatsapp-provider", "none",
           "--fallback", "none", "--reminders", "none", "--quiet-hours", "none",
           "--whatsapp-template", "none")
    got = merchant_show(env, shop)
    assert {k: got[k] for k in want} == {
        "smsProvider": None, "whatsappProvider": None, "fallback": "none", "reminders": None,
        "quietHours": None, "timezone": "Africa/Johannesburg", "whatsappTemplate": None,
        "whatsappTemplateLanguage": None,
        "whatsappTemplateParams": "merchant,amount,order,url"}, got


# ---- chatpay provider ---------------------------------------------------------------------------


def test_provider_command_refusals(env, fakes):
    shop = make_shop(env)
    base = ["provider", "add", "--merchant", shop.id]
    cases = [
        (["--kind", "sms77", "--set", "api_key=x"], 2,
         "chatpay: provider add: --merchant and --kind "
         "clickatell|whatsapp-cloud|twilio|stripe|cybersource are required"),
        (["--kind", "sandbox", "--set", "api_key=x"], 2,
         "chatpay: provider add: --merchant and --kind "
         "clickatell|whatsapp-cloud|twilio|stripe|cybersource are required"),
        (["--kind", "clickatell"], 2, "chatpay: clickatell needs --set api_key=VALUE"),
        (["--kind", "twilio", "--set", "account_sid=AC" + "0" * 32], 2,
         "chatpay: twilio needs --set auth_token=VALUE"),
        (["--kind", "whatsapp-cloud", "--set", "access_token=a", "--set", "app_secret=b",
          "--set", "verify_token=c"], 2,
         "chatpay: whatsapp-cloud needs --set phone_number_id=VALUE"),
        (["--kind", "clickatell", "--set", "api_key=x", "--set", "colour=red"], 2,
         "chatpay: --set colour: not a setting of clickatell (see --help)"),
        (["--kind", "twilio", "--set", "account_sid=AC1", "--set", "auth_token=x"], 2,
         "chatpay: twilio settings: account_sid must be AC followed by 32 hex digits"),
        (["--kind", "clickatell", "--set", "api_key=x", "--set", "base_url=ftp://example.com"],
         2, "chatpay: clickatell settings: base_url must be an http:// or https:// address"),
        (["--kind", "clickatell", "--set", "api_key"], 2,
         'chatpay: --set: expected NAME=VALUE, got "api_key"'),
    ]
    for args, rc, message in cases:
        res = env.cli(*base, *args)
        assert (res.returncode, first_line(res.stderr)) == (rc, message), (args, res)
        assert res.stdout == "", (args, res.stdout)
    res = env.cli("provider", "add", "--merchant", "nope", "--kind", "clickatell", "--set",
                  "api_key=x")
    assert (res.returncode, res.stderr) == (1, "chatpay: no merchant nope\n"), res
    # without secrets_key nothing is stored
    res = env.cli(*base, "--kind", "clickatell", "--set", "api_key=ck-nokey-123456",
                  secrets_key=False)
    assert (res.returncode, res.stderr) == (1, (
        "chatpay: secrets_key is not set: the provider's credentials cannot be sealed (set "
        "secrets_key in the config file or CHATPAY_SECRETS_KEY, the same key as the server's; "
        "`openssl rand -hex 32` makes one)\n")), res
    assert env.ok("provider", "list", "--merchant", shop.id, "--json").json() == []
    for args, message in [
        (["provider", "show", "prv_0000000000000000"], "chatpay: no provider prv_0000000000000000"),
        (["provider", "remove", "prv_0000000000000000"],
         "chatpay: no provider prv_0000000000000000"),
        (["provider", "list", "--merchant", "nope"], "chatpay: no merchant nope"),
    ]:
        res = env.cli(*args)
        assert (res.returncode, first_line(res.stderr)) == (1, message), (args, res)


def test_provider_lifecycle_and_secrets(env, fakes):
    kit = kit_of(env, fakes, "clickatell")
    secret = kit.api_key
    # text output: the secret's name, never its value
    res = env.ok("provider", "show", kit.id)
    assert secret not in res.stdout
    assert re.search(r"^  api_key +\(set, not shown\)$", res.stdout, re.M), res.stdout
    assert f"providerId: {kit.id}\n" in res.stdout and "healthy:    yes\n" in res.stdout
    # update keeps what it is not given
    res = env.ok("provider", "update", kit.id, "--set", "sms_from=15559990000", "--json")
    p = res.json()
    assert secret not in res.stdout
    assert p["settings"] == {"base_url": kit.fake.base_url, "sms_from": "15559990000"}, p
    assert p["secretsSet"] == ["api_key"] and p["inboundUrls"] == kit.urls, p
    link = kit.link()
    req = kit.wait_sends(1)[0]
    assert req.headers["authorization"] == secret  # the sealed key still opens
    wait_ids(env, kit.shop, link.ref, 2)  # sent and recorded before the provider goes
    assert req.json["messages"][0]["from"] == "15559990000", req.json
    res = env.cli("provider", "update", kit.id)
    assert (res.returncode, first_line(res.stderr)) == (
        2, "chatpay: provider update: nothing to change (--set NAME=VALUE)"), res
    res = env.cli("provider", "update", kit.id, "--set", "whatsapp_from=abc")
    assert (res.returncode, first_line(res.stderr)) == (
        2, "chatpay: clickatell settings: whatsapp_from must be a number: up to 15 digits, no '+'"
    ), res
    # removal is refused while selected
    res = env.cli("provider", "remove", kit.id)
    assert (res.returncode, res.stderr) == (1, (
        f"chatpay: provider {kit.id} is selected by its merchant: select another (or none) "
        "with `chatpay merchant update` first\n")), res
    assert kit.show()["providerId"] == kit.id
    env.ok("merchant", "update", kit.shop.id, "--sms-provider", "none")
    res = env.ok("provider", "remove", kit.id)
    assert res.stdout == f"Provider {kit.id} removed.\n", res.stdout
    res = env.cli("provider", "show", kit.id)
    assert (res.returncode, res.stderr) == (1, f"chatpay: no provider {kit.id}\n"), res
    # its webhook is gone too
    atts = kit.fake.deliver(kit.message_ids(link.to)[0], ["DEVICE_ACK"], retries=0)
    checked(atts, 404)


def test_server_without_secrets_key_cannot_use_the_provider(env, fakes, tmp_path):
    kit = kit_of(env, fakes, "clickatell")
    link, mid = sent_link(kit)
    other = start_server(tmp_path, env.db_url, name="nokey", extra_args=["--no-workers"])
    try:
        url = kit.urls["status"].replace(env.base_url, other.base_url)
        atts = kit.fake.deliver(mid, ["DEVICE_ACK"], url=url, retries=0)
        checked(atts, 503)
        body = atts[0].response_body.decode()
        assert "The provider cannot be used: the server has no secrets_key to open its " \
               "credentials" in body, body
        assert history_ids(status(env, kit.shop, link.ref)) == [RECEIVED, SENT]
    finally:
        assert other.stop() == 0
    # the provider's own server still takes it
    checked(kit.fake.deliver(mid, ["DEVICE_ACK"], retries=0), 200)
    st = wait_ids(env, kit.shop, link.ref, 3)
    assert history_ids(st) == [RECEIVED, SENT, DELIVERED], st


# ---- the slow links, checked last -----------------------------------------------------------


def reminder_of(s: Slow, timeout: float) -> list[str]:
    return poll(lambda: s.kit.message_ids(s.link.to), lambda ids: len(ids) >= 2, timeout, 0.25)


def test_cancel_during_a_reminder_tells_the_customer_once(env, slow):
    """The link is cancelled while its reminder is being sent: the notice
    is queued (the link reached the customer), then the link's message is
    reported failed and the reminder's send is recorded after the cancel;
    that send is the first to reach the customer now, but the notice was
    queued already: one notice."""
    s = slow["recalled"]
    mid = s.kit.message_ids(s.link.to)[0]  # the link's
    left = s.link.created + REMINDER_AFTER + REMINDER_SLACK - time.monotonic()
    assert len(poll(s.kit.sends, lambda rs: len(rs) >= 2, max(left, 1), 0.05)) >= 2
    r = env.api.post("/api/v2/cancel/" + s.link.ref, key=s.kit.shop.key)
    assert r.status_code == 200, r.text
    checked(s.kit.failed(mid), 200)
    time.sleep(5 + 2 * SETTLE)  # the reminder's answer, then its record
    bodies = [parse_qs(q.body.decode()).get("Body", [""])[0] for q in s.kit.sends()]
    notices = [b for b in bodies if "cancelled" in b.lower()]
    assert len(notices) == 1, bodies


def test_reminder_is_sent_once_a_minute_after_the_link(env, slow):
    s = slow["remind"]
    left = s.link.created + REMINDER_AFTER + REMINDER_SLACK - time.monotonic()
    ids = reminder_of(s, max(left, 1))
    assert len(ids) == 2, "no reminder within 75 s of the link"
    reqs = [r for r in s.kit.sends() if r.json["messages"][0]["to"] == s.link.to]
    assert len(reqs) == 2, reqs
    first, again = (r.json["messages"][0] for r in reqs)
    assert again["content"] == "Reminder: " + sms_text(s.kit.shop, s.link), again
    assert REF_RE.fullmatch(again["clientMessageId"]), again
    assert again["clientMessageId"] != first["clientMessageId"], (first, again)
    assert {k: v for k, v in again.items() if k not in ("content", "clientMessageId")} == {
        k: v for k, v in first.items() if k not in ("content", "clientMessageId")}
    st = wait_ids(env, s.kit.shop, s.link.ref, 3)
    assert [bare(e) for e in st["transactionStatuses"]] == [
        entry(RECEIVED), s.kit.sent_entry(),
        entry(SENT, httpResponseCode=202, responseCodeDescription="Reminder 1: accepted")], st
    t = [parse_rfc3339(e["created"]) for e in st["transactionStatuses"]]
    after = (t[2] - t[0]).total_seconds()
    assert REMINDER_AFTER - 0.5 <= after <= REMINDER_AFTER + REMINDER_SLACK, after
    time.sleep(SETTLE)
    assert len(s.kit.message_ids(s.link.to)) == 2  # one reminder configured: one sent


def test_opened_link_gets_no_reminder(env, slow):
    s, r = slow["opened"], slow["remind"]
    # its reminder would have been due with the other link's (made at the same time)
    reminder_of(r, max(r.link.created + REMINDER_AFTER + REMINDER_SLACK - time.monotonic(), 1))
    time.sleep(max(0.0, s.link.created + REMINDER_AFTER + 3 - time.monotonic()))
    assert len(s.kit.message_ids(s.link.to)) == 1
    st = status(env, s.kit.shop, s.link.ref)
    assert history_ids(st) == [RECEIVED, SENT, CLICKED], st


def test_link_sent_again_by_sms_gets_its_reminder_once(env, slow):
    """The reminder queued after the WhatsApp send goes by SMS; the SMS
    sent after the failure report queues none of its own."""
    s = slow["fellback"]
    st = wait_ids(env, s.kit.shop, s.link.ref, 4)
    assert history_ids(st)[:4] == [RECEIVED, SENT, DELIVERY_FAILED, SENT], st
    time.sleep(max(0.0, s.link.created + REMINDER_AFTER + REMINDER_SLACK - time.monotonic()))
    st = status(env, s.kit.shop, s.link.ref)
    descs = [e.get("responseCodeDescription", "") for e in st["transactionStatuses"]]
    assert [d for d in descs if d.startswith("Reminder")] == ["Reminder 1: accepted"], st
    time.sleep(SETTLE)
    assert len(s.kit.message_ids(s.link.to)) == 1  # WhatsApp: the first send only
    assert len(s.sms.message_ids(s.link.to)) == 2  # the link again, and its reminder


def test_quiet_hours_hold_the_reminder(env, slow):
    s = slow["quiet"]
    time.sleep(max(0.0, s.link.created + REMINDER_AFTER + REMINDER_SLACK - time.monotonic()))
    assert len(s.kit.message_ids(s.link.to)) == 1, "a reminder was sent in quiet hours"
    assert len(s.kit.sends()) == 1
    st = status(env, s.kit.shop, s.link.ref)
    assert [bare(e) for e in st["transactionStatuses"]] == [
        entry(RECEIVED), s.kit.sent_entry()], st
