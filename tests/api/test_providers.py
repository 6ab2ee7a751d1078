"""Messaging providers driven black-box through their offline fakes
(tests/fakes: Clickatell One API, WhatsApp Cloud API, Twilio): what chatpay
sends each of them for a new payment link, the delivery receipts and their
signatures, and what it does when a provider refuses its credentials, rate
limits, times out after accepting, cannot be reached, or fails.

The module runs a server of its own with a secrets_key (provider credentials
are sealed with it; the CLI is given the same key and the server's URL as
public_url, so that the inbound URLs it prints are the server's). Every
merchant of a test gets a fresh fake; the provider's base_url points chatpay
at the fake on loopback.

The three "timeout after accept" sends take the channel's 10-second timeout
each: they are started by the first test of the module and checked by the
last ones, so that the rest of the module runs meanwhile.

Helpers used by test_messaging_features.py live here too (Env, Shop, the
kits)."""

from __future__ import annotations

import base64
import json
import re
import secrets
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from cp_helpers import (
    LINK_STATUS,
    LINKS,
    SECRETS,
    ServerProcess,
    assert_no_secrets,
    db_exec,
    db_kind,
    db_query,
    db_url_for,
    fresh_msisdn,
    history_ids,
    link_body,
    poll,
    run_cli,
    start_server,
)
from openapi_check import ApiClient, check_response, parse_rfc3339

from clickatell_fake import ClickatellFake
from provider_fake import ProviderFake, RecordedRequest, WebhookAttempt
from twilio_fake import TwilioFake
from whatsapp_cloud_fake import WhatsAppCloudFake

RECEIVED, SENT, DELIVERED, SENT_FAILED, DELIVERY_FAILED, CLICKED = 1, 2, 3, 9, 11, 19
NAMES = {1: "PAYMENT_LINK_REQUEST_RECEIVED", 2: "PAYMENT_LINK_SENT", 3: "PAYMENT_LINK_DELIVERED",
         9: "PAYMENT_LINK_SENT_FAILED", 11: "PAYMENT_LINK_DELIVERY_FAILED",
         19: "PAYMENT_LINK_CLICKED"}
KINDS = ("clickatell", "whatsapp-cloud", "twilio")
WAIT = 5.0  # seconds for a send or a report that should happen at once
SETTLE = 1.5  # seconds to wait before asserting that nothing more happened (backoff is 1 s)
CHANNEL_TIMEOUT = 10.0  # seconds chatpay gives a provider (src/channel/registry.c)
SMS_FROM = "15551230000"
REF_RE = re.compile(r"cpm_[0-9]+")
UNKNOWN_PREFIX = "The provider did not confirm the message ("
UNKNOWN_SUFFIX = "); it may have been sent: its delivery receipt will tell"
NO_SUCH_WEBHOOK = "No such webhook"
BAD_SIGNATURE = "The request's signature does not verify"

# provider credentials given to chatpay in this session: never in a log or CLI output
PROVIDER_SECRETS: set[str] = set()


# ---- the server and its CLI ----------------------------------------------------------------


class Env:
    """A chatpay server with a secrets_key, its CLI (same key, public_url =
    the server's URL) and a contract-checking API client."""

    def __init__(self, proc: ServerProcess, secrets_key: str):
        self.proc = proc
        self.secrets_key = secrets_key
        self.api = ApiClient(proc.base_url)

    @property
    def base_url(self) -> str:
        return self.proc.base_url

    @property
    def db_url(self) -> str:
        return self.proc.db_url

    def cli_env(self, secrets_key: bool = True) -> dict[str, str]:
        env = {"CHATPAY_PUBLIC_URL": self.base_url}
        if secrets_key:
            env["CHATPAY_SECRETS_KEY"] = self.secrets_key
        return env

    def cli(self, *args: str, secrets_key: bool = True, env: dict | None = None):
        """chatpay ARGS --db <this server's database>."""
        argv = list(args)
        if "--db" not in argv and "--help" not in argv:
            argv += ["--db", self.db_url]
        return run_cli(*argv, env=env if env is not None else self.cli_env(secrets_key),
                       cwd=self.proc.workdir)

    def ok(self, *args: str, **kw):
        res = self.cli(*args, **kw)
        assert res.returncode == 0, f"chatpay {' '.join(args)} → {res.returncode}: {res.stderr}"
        return res


def start_env(tmp: Path, name: str) -> Env:
    key = secrets.token_hex(32)
    proc = start_server(tmp, db_url_for(tmp / (name + ".db")), name=name,
                        env={"CHATPAY_SECRETS_KEY": key})
    return Env(proc, key)


def stop_env(env: Env) -> None:
    env.api.close()
    rc = env.proc.stop()
    assert rc == 0, f"server exited with {rc} after SIGTERM:\n{env.proc.tail(40)}"
    for text, what in ((env.proc.log_text(), f"log {env.proc.stderr_path}"),
                       (env.proc.stdout(), f"stdout {env.proc.stdout_path}")):
        assert_no_secrets(text, what)
        leaked = sorted(s for s in PROVIDER_SECRETS if s in text)
        assert not leaked, f"{what} contains {len(leaked)} provider credential(s)"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    e = start_env(tmp_path_factory.mktemp("providers"), "providers")
    try:
        yield e
    finally:
        stop_env(e)


# ---- merchants, links, histories -----------------------------------------------------------


@dataclass
class Shop:
    id: str
    key: str
    name: str
    environment: str


def make_shop(env: Env, environment: str | None = None) -> Shop:
    name = f"Harbour Deli {uuid.uuid4().hex[:6]}"
    args = ["merchant", "create", "--name", name, "--currencies", "ZAR", "--json"]
    if environment:
        args += ["--environment", environment]
    m = env.ok(*args).json()
    SECRETS.api_keys.add(m["apiKey"])
    SECRETS.merchant_ids.add(m["merchantId"])
    SECRETS.callback_secrets.add(m["callbackSecret"])
    return Shop(m["merchantId"], m["apiKey"], name, m["environment"])


@dataclass
class Link:
    body: dict
    ref: str
    url: str
    to: str  # digits
    order: str
    created: float = field(default_factory=time.monotonic)


def create_link(env: Env, shop: Shop, channel: str, to: str | None = None, **fields) -> Link:
    to = to or fresh_msisdn()
    body = link_body(channel=channel, to="+" + to, returnPaymentLink=True, **fields)
    r = env.api.post(LINKS, key=shop.key, json=body)
    assert r.status_code == 201, r.text
    return Link(body, r.body["paymentLinkRef"], r.body["paymentLink"], to, body["orderNumber"])


def status(env: Env, shop: Shop, ref: str) -> dict:
    r = env.api.get(LINK_STATUS + "?" + urlencode({"paymentLinkRef": ref}), key=shop.key)
    assert r.status_code == 200, r.text
    for e in r.body["transactionStatuses"]:
        assert e["transactionStatusName"] == NAMES.get(e["transactionStatusId"]), e
    return r.body


def wait_status(env: Env, shop: Shop, ref: str, done, timeout: float = WAIT) -> dict:
    """The link's transaction status once done(status) holds (the caller asserts)."""
    return poll(lambda: status(env, shop, ref), done, timeout, 0.1)


def wait_ids(env: Env, shop: Shop, ref: str, n: int, timeout: float = WAIT) -> dict:
    """The status once the history has at least n entries."""
    return wait_status(env, shop, ref, lambda st: len(history_ids(st)) >= n, timeout)


def bare(e: dict) -> dict:
    """A history entry without its time."""
    return {k: v for k, v in e.items() if k != "created"}


def entries(st: dict, status_id: int) -> list[dict]:
    return [e for e in st["transactionStatuses"] if e["transactionStatusId"] == status_id]


def entry(status_id: int, **fields) -> dict:
    return {"transactionStatusId": status_id, "transactionStatusName": NAMES[status_id], **fields}


def sms_text(shop: Shop, link: Link) -> str:
    return f"{shop.name} asks you to pay ZAR 115.00 for order {link.order}: {link.url}"


def wa_text(shop: Shop, link: Link) -> str:
    return (f"Hello! {shop.name} has sent you a payment request.\n\nOrder: {link.order}\n"
            f"Amount due: ZAR 115.00\n\nPay securely here: {link.url}\n\n"
            "If you were not expecting this message, you can ignore it.")


def hook_path(url: str) -> str:
    return urlsplit(url).path


def checked(atts: list[WebhookAttempt], status: int, contract: bool = True) -> list[WebhookAttempt]:
    """Every attempt a fake made was answered `status`; the answers are
    checked against docs/openapi.json (contract=False: status only)."""
    assert atts, "the fake made no request"
    for a in atts:
        assert a.error is None, a
        assert a.status == status, (a, a.response_body[:300])
        if contract:
            check_response(a.method, hook_path(a.url), a.status, a.response_headers,
                           a.response_body)
    return atts


def assert_error_body(att: WebhookAttempt, code: str, message: str) -> None:
    body = json.loads(att.response_body)
    assert body["code"] == code, body
    assert body["message"] == message, body
    assert body["errors"] == [message], body


# ---- the kinds of providers ----------------------------------------------------------------


class Kit:
    """One merchant's provider of one kind: the fake, the provider chatpay
    stores (providerId, inboundUrls) and what the kind sends and reports."""

    kind = ""
    channel = ""  # the channel of the links it carries in these tests
    select = ""  # the merchant update option that selects it
    delivered_status = ""  # the provider's name of "delivered" (responseCodeDescription)
    failed_code = ""  # the provider's code of a failed delivery (responseCode)
    auth_code = ""  # the provider's code when it refuses the credentials
    auth_text = ""

    def __init__(self, env: Env, shop: Shop, *, good: bool = True, select: bool = True, **fake_kw):
        self.env, self.shop = env, shop
        self.fake: ProviderFake = self.make_fake(**fake_kw)
        self.wrong = "wrong-" + secrets.token_hex(8)
        PROVIDER_SECRETS.update(v for v in self.secrets().values() if len(v) >= 8)
        res = env.ok("provider", "add", "--merchant", shop.id, "--kind", self.kind,
                     *self.set_args(good), "--json")
        self.provider = res.json()
        self.id = self.provider["providerId"]
        self.urls = self.provider["inboundUrls"]
        self.register()
        if select:
            env.ok("merchant", "update", shop.id, self.select, self.id)

    # -- per kind --
    def make_fake(self, **kw) -> ProviderFake:
        raise NotImplementedError

    def secrets(self) -> dict[str, str]:
        """The secret settings (name → the value the fake accepts)."""
        raise NotImplementedError

    def settings(self) -> dict[str, str]:
        raise NotImplementedError

    def register(self) -> None:
        """Give the fake chatpay's inbound URLs (the provider's portal)."""

    def delivered_entry(self, chain: list[str] | None = None) -> dict:
        """The PAYMENT_LINK_DELIVERED entry once the statuses of `chain` (by
        default those of delivered()) were reported."""
        return entry(DELIVERED, responseCodeDescription=self.delivered_status)

    def prepare(self, to: str) -> None:
        """Make `to` reachable (WhatsApp: inside the 24-hour window)."""

    def check_send(self, req: RecordedRequest, link: Link) -> str | None:
        """Assert the request is exactly the documented send of link; return
        our reference when the kind sends it."""
        raise NotImplementedError

    def sent_entry(self) -> dict:
        """The PAYMENT_LINK_SENT entry of an accepted send (no time)."""
        raise NotImplementedError

    def deliver(self, mid: str, statuses, **kw) -> list[WebhookAttempt]:
        return self.fake.deliver(mid, statuses, **kw)

    def delivered(self, mid: str, *, by_id_only: bool = False, **kw) -> list[WebhookAttempt]:
        raise NotImplementedError

    def full_chain(self) -> list:
        raise NotImplementedError

    def failed(self, mid: str) -> list[WebhookAttempt]:
        raise NotImplementedError

    def failed_entry(self) -> dict:
        raise NotImplementedError

    def reply(self, from_digits: str, text: str) -> list[WebhookAttempt]:
        raise NotImplementedError

    # -- shared --
    def set_args(self, good: bool = True) -> list[str]:
        out = []
        values = {**self.settings(), **self.secrets()}
        if not good:
            values[self.auth_setting] = self.wrong
        for k, v in values.items():
            out += ["--set", f"{k}={v}"]
        return out

    def sends(self) -> list[RecordedRequest]:
        """The requests to the send endpoint."""
        return [r for r in self.fake.requests if r.method == "POST"]

    def wait_sends(self, n: int, timeout: float = WAIT) -> list[RecordedRequest]:
        return poll(self.sends, lambda rs: len(rs) >= n, timeout, 0.05)

    def message_ids(self, to: str) -> list[str]:
        """The fake's ids of the messages it accepted for `to`, oldest first."""
        digits = to.lstrip("+")
        with self.fake.lock:
            return [k for k, m in self.fake.messages.items()
                    if m["to"].replace("whatsapp:", "").lstrip("+") == digits]

    def link(self, **fields) -> Link:
        to = fresh_msisdn()
        self.prepare(to)
        return create_link(self.env, self.shop, self.channel, to, **fields)

    def show(self) -> dict:
        return self.env.ok("provider", "show", self.id, "--json").json()


class ClickatellKit(Kit):
    kind, channel, select = "clickatell", "sms", "--sms-provider"
    delivered_status, failed_code = "DEVICE_ACK", "23"
    auth_setting, auth_code, auth_text = "api_key", "1", "Invalid or missing integration API Key"

    def make_fake(self, **kw):
        self.api_key = "ck-" + secrets.token_hex(16)
        return ClickatellFake(self.api_key, **kw)

    def secrets(self):
        return {"api_key": self.api_key}

    def settings(self):
        return {"base_url": self.fake.base_url, "sms_from": SMS_FROM}

    def register(self):
        self.fake.status_url = self.urls["status"]
        self.fake.reply_url = self.urls["reply"]

    def check_send(self, req, link):
        assert (req.method, req.path, req.query) == ("POST", "/v1/message", {}), req
        assert req.headers.get("authorization") == self.api_key, req.headers
        assert req.headers.get("content-type") == "application/json", req.headers
        body = req.json
        ref = body["messages"][0].get("clientMessageId", "")
        assert REF_RE.fullmatch(ref), body
        assert body == {"messages": [{"channel": "sms", "to": link.to,
                                      "content": sms_text(self.shop, link),
                                      "clientMessageId": ref, "from": SMS_FROM}]}, body
        return ref

    def sent_entry(self):
        return entry(SENT, httpResponseCode=202, responseCodeDescription="accepted")

    def full_chain(self):
        return ["QUEUED", "SENT_TO_SUPPLIER", "DEVICE_ACK", "READ"]

    def delivered_entry(self, chain=None):
        # reports are confirmed by the status query: the entry is its answer
        # (HTTP 200), naming the state Clickatell has when asked, the last
        # one reported
        return entry(DELIVERED, httpResponseCode=200,
                     responseCodeDescription=(chain or self.delivered_chain)[-1])

    delivered_chain = ["SENT_TO_SUPPLIER", "DEVICE_ACK"]

    def delivered(self, mid, *, by_id_only=False, **kw):
        if by_id_only:
            kw["client_message_id"] = ""  # the report names the message by apiMessageId only
        return self.fake.deliver(mid, self.delivered_chain, **kw)

    def failed(self, mid):
        return self.fake.deliver(mid, ["SENT_TO_SUPPLIER", "DELIVERY_FAILURE"])

    def failed_entry(self):
        return entry(DELIVERY_FAILED, httpResponseCode=200, responseCode="23",
                     responseCodeDescription="DELIVERY_FAILURE")  # the status query's answer

    def reply(self, from_digits, text):
        return self.fake.send_reply(from_digits, text)


class WhatsAppKit(Kit):
    kind, channel, select = "whatsapp-cloud", "whatsapp", "--whatsapp-provider"
    delivered_status, failed_code = "delivered", "131026"
    auth_setting, auth_code = "access_token", "190"
    auth_text = "Invalid OAuth access token - Cannot parse access token"

    def make_fake(self, **kw):
        self.token = "EAA" + secrets.token_hex(20)
        self.app_secret = secrets.token_hex(16)
        self.verify_token = "vt-" + secrets.token_hex(10)
        return WhatsAppCloudFake(self.token, self.app_secret, **kw)

    def secrets(self):
        return {"access_token": self.token, "app_secret": self.app_secret,
                "verify_token": self.verify_token}

    def settings(self):
        return {"phone_number_id": self.fake.phone_number_id, "base_url": self.fake.base_url}

    def register(self):
        self.fake.webhook_url = self.urls["webhook"]

    def prepare(self, to):
        self.fake.open_window(to)

    def check_send(self, req, link):
        path = f"/v21.0/{self.fake.phone_number_id}/messages"
        assert (req.method, req.path) == ("POST", path), req
        assert req.query == {}, req
        assert req.headers.get("authorization") == f"Bearer {self.token}", req.headers
        assert req.headers.get("content-type") == "application/json", req.headers
        body = req.json
        ref = body.get("biz_opaque_callback_data", "")
        assert REF_RE.fullmatch(ref), body
        assert body == {
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": link.to,
            "biz_opaque_callback_data": ref, "type": "interactive",
            "interactive": {"type": "cta_url", "body": {"text": wa_text(self.shop, link)},
                            "action": {"name": "cta_url",
                                       "parameters": {"display_text": "Pay", "url": link.url}}},
        }, body
        return ref

    def sent_entry(self):
        # the fake's answer to an interactive message has no message_status
        return entry(SENT, httpResponseCode=200)

    def full_chain(self):
        return ["sent", "delivered", "read"]

    def delivered(self, mid, *, by_id_only=False, **kw):
        if by_id_only:
            # the report names the message by its wamid only (no biz_opaque_callback_data)
            with self.fake.lock:
                self.fake.messages[mid]["biz_opaque_callback_data"] = None
        kw.setdefault("retries", 0)
        return self.fake.deliver(mid, ["sent", "delivered"], **kw)

    def deliver(self, mid, statuses, **kw):
        kw.setdefault("retries", 0)
        return self.fake.deliver(mid, statuses, **kw)

    def failed(self, mid):
        return self.fake.deliver(mid, ["sent", "failed"], error_code=131026, retries=0)

    def failed_entry(self):
        return entry(DELIVERY_FAILED, responseCode="131026",
                     responseCodeDescription="Message undeliverable (Message Undeliverable: the "
                                             "recipient is not a WhatsApp user, or cannot receive "
                                             "this message.)")

    def reply(self, from_digits, text):
        return self.fake.send_reply(from_digits, text, retries=0)


class TwilioKit(Kit):
    kind, channel, select = "twilio", "sms", "--sms-provider"
    delivered_status, failed_code = "delivered", "30007"
    auth_setting, auth_code, auth_text = "auth_token", "20003", "Authenticate"

    def make_fake(self, **kw):
        self.sid = "AC" + secrets.token_hex(16)
        self.token = secrets.token_hex(16)
        return TwilioFake(self.sid, self.token, **kw)

    def secrets(self):
        return {"auth_token": self.token}

    def settings(self):
        return {"account_sid": self.sid, "base_url": self.fake.base_url, "sms_from": SMS_FROM}

    def check_send(self, req, link):
        assert (req.method, req.path) == (
            "POST", f"/2010-04-01/Accounts/{self.sid}/Messages.json"), req
        assert req.query == {}, req
        basic = base64.b64encode(f"{self.sid}:{self.token}".encode()).decode()
        assert req.headers.get("authorization") == f"Basic {basic}", req.headers
        assert req.headers.get("content-type") == "application/x-www-form-urlencoded", req.headers
        form = parse_qs(req.body.decode(), keep_blank_values=True)
        callback = form.pop("StatusCallback", [""])
        # our reference rides in the callback URL: a report finds its message
        # even when the send's answer (the sid) was lost
        m = re.fullmatch(re.escape(self.urls["status"]) + r"\?ref=(cpm_[0-9]+)", callback[0])
        assert len(callback) == 1 and m, callback
        assert form == {"To": ["+" + link.to], "From": ["+" + SMS_FROM],
                        "Body": [sms_text(self.shop, link)]}, form
        return m.group(1)

    def sent_entry(self):
        return entry(SENT, httpResponseCode=201, responseCodeDescription="queued")

    def full_chain(self):
        return ["sent", "delivered", "read"]

    def delivered(self, mid, *, by_id_only=False, **kw):
        return self.fake.deliver(mid, ["sent", "delivered"], **kw)  # MessageSid only, always

    def failed(self, mid):
        return self.fake.deliver(mid, ["sent", "failed"], error_code=30007)

    def failed_entry(self):
        return entry(DELIVERY_FAILED, responseCode="30007", responseCodeDescription="failed")

    def reply(self, from_digits, text):
        return self.fake.send_reply("+" + from_digits, text, self.urls["reply"])


KITS = {"clickatell": ClickatellKit, "whatsapp-cloud": WhatsAppKit, "twilio": TwilioKit}


@pytest.fixture
def fakes():
    """Stops every fake a test started."""
    started: list[Kit] = []
    yield started
    for k in started:
        k.fake.stop()


def new_kit(env: Env, fakes: list, kind: str, shop: Shop | None = None, **kw) -> Kit:
    kit = KITS[kind](env, shop or make_shop(env), **kw)
    fakes.append(kit)
    return kit


def sent_link(kit: Kit) -> tuple[Link, str]:
    """A link sent through kit (history RECEIVED, SENT); returns it and the
    fake's id of its message."""
    link = kit.link()
    st = wait_ids(kit.env, kit.shop, link.ref, 2)
    assert [bare(e) for e in st["transactionStatuses"]] == [entry(RECEIVED), kit.sent_entry()], st
    ids = kit.message_ids(link.to)
    assert len(ids) == 1, ids
    return link, ids[0]


# ---- the slow sends: started first, checked last --------------------------------------------


@dataclass
class SlowSend:
    kit: Kit
    link: Link
    started: float


@pytest.fixture(scope="module")
def unknown_sends(tmp_path_factory):
    """For each kind, a link sent while the fake holds its answer past
    chatpay's timeout (timeout_after_accept: the message is accepted).

    Each kind has a server of its own: a server sends messages with two
    threads, which a hanging provider holds for the whole timeout."""
    out, envs = {}, []
    try:
        for kind in KINDS:
            e = start_env(tmp_path_factory.mktemp("unknown"), "unknown-" + kind)
            envs.append(e)
            kit = KITS[kind](e, make_shop(e), hang_seconds=CHANNEL_TIMEOUT + 2)
            kit.fake.set_mode("timeout_after_accept", 1)
            out[kind] = SlowSend(kit, kit.link(), time.monotonic())
        yield out
    finally:
        for s in out.values():
            s.kit.fake.stop()
        for e in envs:
            stop_env(e)


def test_slow_sends_reach_the_fakes(unknown_sends):
    for kind, s in unknown_sends.items():
        reqs = s.kit.wait_sends(1)
        assert len(reqs) == 1, (kind, reqs)
        s.kit.check_send(reqs[0], s.link)


# ---- 1. sending ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_send_is_the_documented_request(env, fakes, kind):
    kit = new_kit(env, fakes, kind)
    link = kit.link()
    reqs = kit.wait_sends(1)
    assert len(reqs) == 1, reqs
    ref = kit.check_send(reqs[0], link)
    st = wait_ids(env, kit.shop, link.ref, 2)
    assert [bare(e) for e in st["transactionStatuses"]] == [entry(RECEIVED), kit.sent_entry()], st
    assert st["channelName"] == kit.channel.upper(), st
    assert st["paymentLinkRef"] == link.ref and st["orderNumber"] == link.order, st
    # the provider's id of the message is kept: a report naming only it is applied
    (mid,) = kit.message_ids(link.to)
    checked(kit.delivered(mid, by_id_only=True), 200)
    st = wait_ids(env, kit.shop, link.ref, 3)
    assert [bare(e) for e in st["transactionStatuses"]][2:] == [
        kit.delivered_entry()], st
    times = [parse_rfc3339(e["created"]) for e in st["transactionStatuses"]]
    assert times == sorted(times), times
    if ref is not None:  # one reference per message: a second link gets another
        link2 = kit.link()
        reqs = kit.wait_sends(2)
        ref2 = kit.check_send(reqs[1], link2)
        assert ref2 != ref, (ref, ref2)


@pytest.mark.parametrize("kind", KINDS)
def test_provider_show_never_prints_secrets(env, fakes, kind):
    kit = new_kit(env, fakes, kind)
    shown = kit.env.ok("provider", "show", kit.id, "--json")
    listed = kit.env.ok("provider", "list", "--merchant", kit.shop.id, "--json")
    text = kit.env.ok("provider", "show", kit.id)
    for out in (shown.stdout, listed.stdout, text.stdout, shown.stderr):
        for name, value in kit.secrets().items():
            assert value not in out, f"{name} printed"
    p = shown.json()
    assert p["providerId"] == kit.id and p["merchantId"] == kit.shop.id and p["kind"] == kind, p
    assert p["settings"] == kit.settings(), p
    assert p["healthy"] is True and p["healthReason"] is None, p
    base = f"{env.base_url}/hooks/{kit.id}/"
    urls = p["inboundUrls"]
    if kind == "whatsapp-cloud":
        assert list(urls) == ["webhook"], urls
        assert re.fullmatch(re.escape(base) + r"[0-9A-Za-z]{43}", urls["webhook"]), urls
    else:
        assert sorted(urls) == ["reply", "status"], urls
        token = urls["status"][len(base):].split("/")[0]
        assert re.fullmatch(r"[0-9A-Za-z]{43}", token), urls
        assert urls == {"status": f"{base}{token}/status", "reply": f"{base}{token}/reply"}, urls
    assert listed.json() == [p], listed.stdout
    assert "(set, not shown)" in text.stdout, text.stdout


@pytest.mark.parametrize("kind", KINDS)
def test_secrets_set_names_exactly_the_secrets_given(env, fakes, kind):
    kit = new_kit(env, fakes, kind, select=False)
    assert sorted(kit.show()["secretsSet"]) == sorted(kit.secrets()), kit.show()


# ---- 2. delivery receipts -------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_duplicate_reports_and_read_after_delivered_change_nothing(env, fakes, kind):
    kit = new_kit(env, fakes, kind)
    link, mid = sent_link(kit)
    checked(kit.deliver(mid, kit.full_chain(), modes=["duplicate"]), 200)
    st = wait_ids(env, kit.shop, link.ref, 3)
    # the same again, and once more the last (read) on its own
    checked(kit.deliver(mid, kit.full_chain()), 200)
    checked(kit.deliver(mid, kit.full_chain()[-1:]), 200)
    time.sleep(0.3)
    st = status(env, kit.shop, link.ref)
    assert [bare(e) for e in st["transactionStatuses"]] == [
        entry(RECEIVED), kit.sent_entry(),
        kit.delivered_entry(kit.full_chain())], st


@pytest.mark.parametrize("kind", KINDS)
def test_out_of_order_reports_never_move_back(env, fakes, kind):
    kit = new_kit(env, fakes, kind)
    link, mid = sent_link(kit)
    # delivered first, the older "sent" after it
    chain = kit.full_chain()[:-1]
    atts = checked(kit.deliver(mid, chain, modes=["out_of_order"]), 200)
    assert [a.label for a in atts] == [f"status {s}" for s in reversed(chain)], atts
    st = wait_ids(env, kit.shop, link.ref, 3)
    time.sleep(0.3)
    st = status(env, kit.shop, link.ref)
    assert [bare(e) for e in st["transactionStatuses"]] == [
        entry(RECEIVED), kit.sent_entry(), kit.delivered_entry(chain)], st


@pytest.mark.parametrize("kind", KINDS)
def test_failed_delivery_keeps_the_providers_code(env, fakes, kind):
    kit = new_kit(env, fakes, kind)
    link, mid = sent_link(kit)
    checked(kit.failed(mid), 200)
    st = wait_ids(env, kit.shop, link.ref, 3)
    # a late "delivered" after the final failure changes nothing
    checked(kit.delivered(mid), 200)
    time.sleep(0.3)
    st = status(env, kit.shop, link.ref)
    assert [bare(e) for e in st["transactionStatuses"]] == [
        entry(RECEIVED), kit.sent_entry(), kit.failed_entry()], st


@pytest.mark.parametrize("kind,modes", [
    ("clickatell", ["batch", "unknown"]),
    ("whatsapp-cloud", ["batch", "unknown_field"]),
])
def test_batched_reports_with_unknown_fields_are_read(env, fakes, kind, modes):
    kit = new_kit(env, fakes, kind)
    link, mid = sent_link(kit)
    atts = checked(kit.deliver(mid, kit.full_chain(), modes=modes), 200)
    assert len(atts) == 1, atts  # every status in one POST
    st = wait_ids(env, kit.shop, link.ref, 3)
    time.sleep(0.3)
    st = status(env, kit.shop, link.ref)
    assert [bare(e) for e in st["transactionStatuses"]] == [
        entry(RECEIVED), kit.sent_entry(),
        kit.delivered_entry(kit.full_chain())], st


def test_clickatell_report_counts_only_once_the_status_query_confirms_it(env, fakes):
    """Clickatell signs nothing: a report of a final state has chatpay ask
    GET /v1/message/{id} at once, and only that answer is recorded."""
    kit = new_kit(env, fakes, "clickatell")
    link, mid = sent_link(kit)
    ref = kit.check_send(kit.sends()[0], link)

    def queries() -> list[RecordedRequest]:
        return [r for r in kit.fake.requests if r.method == "GET"]

    # a report that names our message (by clientMessageId) as delivered while
    # Clickatell still has it queued: asked about, not believed
    checked(kit.fake.deliver("f" * 32, ["DEVICE_ACK"], channel="sms", client_message_id=ref), 200)
    qs = poll(queries, lambda q: len(q) >= 1, WAIT, 0.05)
    assert [(q.method, q.path) for q in qs] == [("GET", f"/v1/message/{mid}")], qs
    assert qs[0].headers.get("authorization") == kit.api_key, qs[0].headers
    time.sleep(0.5)
    assert history_ids(status(env, kit.shop, link.ref)) == [RECEIVED, SENT]
    # the real receipt: confirmed by the query, recorded once
    checked(kit.delivered(mid), 200)
    st = wait_ids(env, kit.shop, link.ref, 3)
    assert [bare(e) for e in st["transactionStatuses"]][2:] == [
        kit.delivered_entry()], st
    assert all((q.method, q.path) == ("GET", f"/v1/message/{mid}") for q in queries())


@pytest.mark.parametrize("kind,mode", [
    ("whatsapp-cloud", "bad_signature"), ("whatsapp-cloud", "missing_signature"),
    ("twilio", "bad_signature"), ("twilio", "missing_signature"),
])
def test_unsigned_reports_are_refused_and_not_recorded(env, fakes, kind, mode):
    kit = new_kit(env, fakes, kind)
    link, mid = sent_link(kit)
    atts = checked(kit.delivered(mid, modes=[mode]), 403)
    assert len(atts) == 2, atts  # sent, delivered: each refused once (no retries asked)
    for a in atts:
        assert_error_body(a, "forbidden", BAD_SIGNATURE)
    time.sleep(0.3)
    st = status(env, kit.shop, link.ref)
    assert history_ids(st) == [RECEIVED, SENT], st
    # a reply with a bad signature opts nobody out
    checked(kit.fake.send_reply(("+" if kind == "twilio" else "") + link.to, "STOP",
                                *([kit.urls["reply"]] if kind == "twilio" else []),
                                modes=[mode], retries=0), 403)
    assert kit.env.ok("optout", "list", "--merchant", kit.shop.id, "--json").json() == []
    # the same reports signed: applied
    checked(kit.delivered(mid), 200)
    st = wait_ids(env, kit.shop, link.ref, 3)
    assert history_ids(st) == [RECEIVED, SENT, DELIVERED], st


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_token_or_provider_in_the_url_is_404(env, fakes, kind):
    kit = new_kit(env, fakes, kind)
    link, mid = sent_link(kit)
    url = kit.urls["webhook" if kind == "whatsapp-cloud" else "status"]
    parts = urlsplit(url)
    segs = parts.path.split("/")  # "", "hooks", id, token[, rest]
    token = segs[3]
    wrong_token = token[:-1] + ("A" if token[-1] != "A" else "B")
    other = make_shop(env)
    other_kit = new_kit(env, fakes, kind, shop=other, select=False)
    bad_urls = [
        url.replace(f"/{token}", f"/{wrong_token}"),
        url.replace(f"/{kit.id}/", "/prv_0000000000000000/"),
        # another provider's id with this provider's token
        url.replace(f"/{kit.id}/", f"/{other_kit.id}/"),
    ]
    for bad in bad_urls:
        atts = checked(kit.deliver(mid, kit.full_chain()[:2], url=bad, retries=0), 404)
        for a in atts:
            assert_error_body(a, "not_found", NO_SUCH_WEBHOOK)
    time.sleep(0.3)
    assert history_ids(status(env, kit.shop, link.ref)) == [RECEIVED, SENT]


@pytest.mark.parametrize("kind,chunked", [
    ("clickatell", False), ("clickatell", True), ("whatsapp-cloud", False), ("twilio", True)])
def test_webhook_over_the_limit_is_dropped_unread(env, fakes, kind, chunked):
    """A report over 256 KiB is read and dropped: Clickatell's (a reply with
    its media inline) is answered 200, or Clickatell would send it again
    for ever; the other kinds' 413. Nothing is stored either way, and a
    wrong token is still 404."""
    kit = new_kit(env, fakes, kind)
    link, mid = sent_link(kit)
    url = kit.urls["webhook" if kind == "whatsapp-cloud" else "reply"]
    body = (b'{"event":{"moText":[{"from":"' + link.to.encode() + b'","content":"STOP"}],'
            b'"moMedia":[{"content":"' + b"QUFB" * (80 * 1024) + b'"}]}}')
    assert len(body) > 256 * 1024

    def post(path: str):
        data = (body[i:i + 65536] for i in range(0, len(body), 65536)) if chunked else body
        return env.api.post(path, data=data, headers={"Content-Type": "application/json"})

    r = post(hook_path(url))
    if kind == "clickatell":
        assert (r.status_code, r.text) == (200, "ok"), r.text
    else:
        assert r.status_code == 413, r.text
        assert r.body["code"] == "payload_too_large", r.body
    token = hook_path(url).split("/")[3]
    wrong = hook_path(url).replace(f"/{token}", "/" + token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert post(wrong).status_code == 404
    time.sleep(0.3)
    assert env.ok("optout", "list", "--merchant", kit.shop.id, "--json").json() == []
    assert history_ids(status(env, kit.shop, link.ref)) == [RECEIVED, SENT]
    # the reports that fit are still taken
    checked(kit.delivered(mid), 200)
    wait_ids(env, kit.shop, link.ref, 3)


def headers_only(env: Env, path: str, length: int) -> int | None:
    """POST the headers of a body of `length` bytes, send none of it, and
    return the status answered (None: no answer within 5 s)."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", env.proc.port), timeout=5) as sock:
        sock.sendall(head)
        data = b""
        try:
            while b"\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", data)
    return int(m.group(1)) if m else None


@pytest.mark.parametrize("kind", KINDS)
def test_webhook_declared_over_the_limit_is_answered_before_its_body(env, fakes, kind):
    """The credential in the URL is checked before an oversized body is
    read: a wrong one is 404 and a kind that does not drop large bodies 413
    at once, and Clickatell's 200 at once when even the dropped body would
    be too long to read (over 64 MiB)."""
    kit = new_kit(env, fakes, kind, select=False)
    path = hook_path(kit.urls["webhook" if kind == "whatsapp-cloud" else "reply"])
    token = path.split("/")[3]
    wrong = path.replace(f"/{token}", "/" + token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert headers_only(env, wrong, 10**10) == 404
    assert headers_only(env, "/hooks/prv_0000000000000000/" + token, 10**10) == 404
    assert headers_only(env, path, 10**10) == (200 if kind == "clickatell" else 413)
    if kind != "clickatell":
        assert headers_only(env, path, 300 * 1024) == 413


def test_whatsapp_verification_handshake(env, fakes):
    kit = new_kit(env, fakes, "whatsapp-cloud", select=False)
    url = kit.urls["webhook"]
    st, body = kit.fake.verify(url, kit.verify_token, "1158201444")
    assert (st, body) == (200, "1158201444")
    for token, mode in ((kit.verify_token + "x", "subscribe"), ("", "subscribe"),
                        (kit.verify_token, "unsubscribe")):
        st, body = kit.fake.verify(url, token, "42", mode=mode)
        assert st == 403, (token, mode, st, body)
    for a in kit.fake.webhooks:  # every answer is documented
        check_response("GET", hook_path(a.url), a.status, a.response_headers, a.response_body)
    bad = url[:-1] + ("A" if url[-1] != "A" else "B")
    st, _ = kit.fake.verify(bad, kit.verify_token, "42")
    assert st == 404


def test_twilio_reply_answer_is_documented(env, fakes):
    kit = new_kit(env, fakes, "twilio")
    atts = checked(kit.reply(fresh_msisdn(), "Thanks"), 200, contract=False)
    assert atts[0].response_body == b"<Response></Response>"
    checked(atts, 200)


def test_twilio_reply_url_with_a_query_as_sent(env, fakes):
    """Twilio signs the URL registered with it as it sends it: a query with
    escapes (%2F, +) or a bare name is checked as written, not as decoded."""
    kit = new_kit(env, fakes, "twilio")
    for query in ("", "?src=plain", "?src=a%2Fb", "?src=a+b&n=%41", "?flag"):
        atts = kit.fake.send_reply("+" + fresh_msisdn(), "Thanks", kit.urls["reply"] + query)
        assert [a.status for a in atts] == [200], (query, [(a.status, a.response_body) for a in atts])
    # and a signature over the decoded form of an escaped query is refused
    atts = kit.fake.send_reply("+" + fresh_msisdn(), "Thanks", kit.urls["reply"] + "?src=a%2Fb",
                               sign_url=kit.urls["reply"] + "?src=a/b")
    assert [a.status for a in atts] == [403], [(a.status, a.response_body) for a in atts]


# ---- 3. failures -----------------------------------------------------------------------------


def readyz_unhealthy(env: Env) -> list[dict]:
    r = env.api.get("/readyz")
    assert r.status_code == 200, r.text
    return r.body["unhealthyProviders"]


def config(env: Env, shop: Shop) -> dict:
    r = env.api.get("/api/v2/config", key=shop.key)
    assert r.status_code == 200, r.text
    return r.body


@pytest.mark.parametrize("kind", KINDS)
def test_refused_credentials_make_the_provider_unhealthy_until_updated(env, fakes, kind):
    kit = new_kit(env, fakes, kind, good=False)
    channel_flag = "smsChannelEnabled" if kit.channel == "sms" else "whatsappChannelEnabled"
    other_flag = "whatsappChannelEnabled" if kit.channel == "sms" else "smsChannelEnabled"
    assert config(env, kit.shop)[channel_flag] is True
    link = kit.link()
    st = wait_ids(env, kit.shop, link.ref, 2)
    assert [bare(e) for e in st["transactionStatuses"]] == [
        entry(RECEIVED), entry(SENT_FAILED, httpResponseCode=401, responseCode=kit.auth_code,
                               responseCodeDescription=kit.auth_text)], st
    assert len(kit.sends()) == 1 and kit.message_ids(link.to) == []
    reason = f"credentials refused: HTTP 401 {kit.auth_code} {kit.auth_text}"
    shown = kit.show()
    assert (shown["healthy"], shown["healthReason"]) == (False, reason), shown
    mine = [p for p in readyz_unhealthy(env) if p["providerId"] == kit.id]
    assert len(mine) == 1, mine
    since = mine[0].pop("since")
    assert mine[0] == {"providerId": kit.id, "merchantId": kit.shop.id, "kind": kind,
                       "reason": reason}, mine
    age = (parse_rfc3339(st["transactionStatuses"][1]["created"]) - parse_rfc3339(since))
    assert abs(age.total_seconds()) < 2, (since, st)
    cfg = config(env, kit.shop)
    assert (cfg[channel_flag], cfg[other_flag]) == (False, True), cfg
    # new credentials: healthy again, and the next link goes out
    res = env.ok("provider", "update", kit.id, "--set",
                 f"{kit.auth_setting}={kit.secrets()[kit.auth_setting]}", "--json")
    assert (res.json()["healthy"], res.json()["healthReason"]) == (True, None), res.stdout
    assert kit.secrets()[kit.auth_setting] not in res.stdout
    shown = kit.show()
    assert (shown["healthy"], shown["healthReason"]) == (True, None), shown
    assert shown["settings"] == kit.settings(), shown
    assert [p for p in readyz_unhealthy(env) if p["providerId"] == kit.id] == []
    assert config(env, kit.shop)[channel_flag] is True
    link2 = kit.link()
    reqs = kit.wait_sends(2)
    kit.check_send(reqs[1], link2)
    st = wait_ids(env, kit.shop, link2.ref, 2)
    assert [bare(e) for e in st["transactionStatuses"]] == [entry(RECEIVED), kit.sent_entry()], st


@pytest.mark.parametrize("kind,mode,wait", [
    ("clickatell", "rate_limit", 1.0),  # 400 {"error": {"code": 43}}: chatpay waits 1 s
    ("clickatell", "rate_limit_message", 1.0),  # the message refused with code 43
    ("whatsapp-cloud", "rate_limit", 2.0),  # code 130429: 2 s
    ("twilio", "rate_limit", 2.0),  # 429 code 20429 with Retry-After: 2
])
def test_rate_limit_is_retried_and_sent_once(env, fakes, kind, mode, wait):
    kit = new_kit(env, fakes, kind, **({"retry_after": 2} if kind == "twilio" else {}))
    kit.fake.set_mode(mode, 1)
    link = kit.link()
    reqs = kit.wait_sends(2, timeout=wait + WAIT)
    assert len(reqs) == 2, reqs
    gap = reqs[1].at - reqs[0].at
    assert wait - 0.1 <= gap <= wait + 2.5, gap
    kit.check_send(reqs[1], link)
    st = wait_ids(env, kit.shop, link.ref, 2)
    time.sleep(SETTLE)
    st = status(env, kit.shop, link.ref)
    assert [bare(e) for e in st["transactionStatuses"]] == [entry(RECEIVED), kit.sent_entry()], st
    assert len(kit.sends()) == 2 and len(kit.message_ids(link.to)) == 1


def test_a_lasting_rate_limit_waits_the_backoff_and_the_link_lives(env, fakes):
    """A rate limit that lasts (Clickatell code 43, after which chatpay waits
    1 s) does not use up the send's 12 tries at the provider's pace, which
    gave the link up as not sent after about 12 s: each wait is the longer
    of the provider's and the job's backoff (1 s, 2 s, 4 s, 8 s, … at most
    5 minutes), so the tries spread over about 20 minutes."""
    kit = new_kit(env, fakes, "clickatell")
    kit.fake.set_mode("rate_limit", 40)
    link = kit.link()
    reqs = kit.wait_sends(4, timeout=7 + WAIT)
    assert len(reqs) >= 4, reqs
    gaps = [b.at - a.at for a, b in zip(reqs[:3], reqs[1:4])]
    for gap, backoff in zip(gaps, (1.0, 2.0, 4.0)):
        assert backoff - 0.1 <= gap <= backoff + 2.5, gaps
    job_id = int(kit.check_send(reqs[3], link)[len("cpm_"):])

    def job():
        return db_query(env.db_url, "SELECT attempts, locked_until, done_at, run_at FROM jobs"
                        " WHERE id = ?", (job_id,))

    # the fourth try recorded: the next one is the backoff's 8 s after it
    rows = poll(job, lambda rows: rows and rows[0][0] == 4 and rows[0][1] == 0, WAIT, 0.05)
    attempts, locked_until, done_at, run_at = rows[0]
    assert (attempts, locked_until, done_at) == (4, 0, 0), rows
    assert 8.0 - 0.1 <= run_at / 1e6 - reqs[3].at <= 8.0 + 2.5, (run_at, reqs[3].at)
    assert history_ids(status(env, kit.shop, link.ref)) == [RECEIVED]
    # the limit lifts: the next try (brought forward) sends the link
    kit.fake.set_mode("normal")
    assert db_exec(env.db_url, "UPDATE jobs SET run_at = ? WHERE id = ? AND locked_until = 0",
                   (int(time.time() * 1e6), job_id)) == 1
    st = wait_ids(env, kit.shop, link.ref, 2)
    assert [bare(e) for e in st["transactionStatuses"]] == [entry(RECEIVED), kit.sent_entry()], st
    assert len(kit.sends()) == 5 and len(kit.message_ids(link.to)) == 1


def job_failures(env: Env) -> int:
    return len([r for r in env.proc.log_records()
                if r.get("msg") == "job failed" and r.get("kind") == "send_link"])


LEASE = 15.0  # seconds a send job is claimed for (src/jobs/registry.c)


def test_settings_changed_during_a_send(env, fakes):
    """The merchant's settings change while a send waits for the provider,
    and another send takes up the new providers: the first one's record
    still names its provider (the instance it was sent through is freed at
    its release; the sanitizer build would stop on a read of it)."""
    kit = new_kit(env, fakes, "twilio", hang_seconds=2.0)
    kit.fake.set_mode("timeout_after_accept", 1)
    first = kit.link()
    poll(kit.sends, lambda rs: len(rs) >= 1, WAIT, 0.02)  # its answer is held
    env.ok("merchant", "update", kit.shop.id, "--reminders", "1h")
    second = kit.link()  # sent meanwhile, through the rebuilt providers
    for link in (second, first):
        st = wait_ids(env, kit.shop, link.ref, 2, timeout=WAIT + 5)
        assert history_ids(st) == [RECEIVED, SENT], st
    assert env.api.get("/livez").status_code == 200


@pytest.mark.parametrize("acted", [False, True], ids=["before-the-call", "after-the-call"])
def test_a_run_cut_short_before_the_provider_call_does_not_count_as_sent(env, fakes, acted):
    """A run of the reminder's job ended without recording anything, as one
    cut short by a database restart does (the job's row as it leaves it:
    claimed once, nothing recorded). If it had not yet said it was calling
    the provider, the reminder is sent; if it had, the provider may have it,
    and the next run records an unknown outcome without sending it again.
    Before, a run cut short anywhere counted as one that may have sent: the
    customer never got the message."""
    kit = new_kit(env, fakes, "twilio")
    env.ok("merchant", "update", kit.shop.id, "--reminders", "1h")
    link = kit.link()
    st = wait_ids(env, kit.shop, link.ref, 2)
    assert history_ids(st) == [RECEIVED, SENT], st
    kit.wait_sends(1)
    reminder = 10  # JOB_SEND_REMINDER
    assert db_exec(env.db_url, "UPDATE jobs SET run_at = 0, attempts = 1, retried = 0,"
                               " acted = ?, locked_until = 0 WHERE kind = ? AND done_at = 0"
                               " AND link_id = (SELECT id FROM links WHERE ref = ?)",
                   (1 if acted else 0, reminder, link.ref)) == 1
    st = wait_ids(env, kit.shop, link.ref, 3)
    third = st["transactionStatuses"][2]
    assert third["transactionStatusId"] == SENT, st
    unknown = UNKNOWN_PREFIX in third.get("responseCodeDescription", "")  # "Reminder 1: …"
    time.sleep(SETTLE)
    if acted:
        assert unknown, third
        assert len(kit.sends()) == 1, kit.sends()  # never sent twice
    else:
        assert not unknown, third
        assert len(kit.sends()) == 2, kit.sends()  # the reminder went out


def test_an_answer_that_cannot_be_recorded_is_not_sent_again(tmp_path, fakes):
    """Twilio took the message, then the database refused its record: the
    job is left as a crash leaves it, and its next run records an unknown
    outcome instead of sending the message again."""
    env2 = start_env(tmp_path, "unrecorded")
    if db_kind(env2.db_url) == "sqlite":
        refuse = ["CREATE TRIGGER refuse BEFORE INSERT ON provider_messages"
                  " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"]
        allow = ["DROP TRIGGER refuse"]
    else:
        refuse = ["CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql"
                  " AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
                  "CREATE TRIGGER refuse BEFORE INSERT ON provider_messages"
                  " FOR EACH ROW EXECUTE FUNCTION refuse()"]
        allow = ["DROP TRIGGER refuse ON provider_messages", "DROP FUNCTION refuse()"]
    allowed = threading.Event()

    def allow_again():
        for sql in allow:
            db_exec(env2.db_url, sql)
        allowed.set()

    try:
        kit = new_kit(env2, fakes, "twilio")
        refused, plain = threading.Event(), kit.fake.handle

        def handle(req):
            if req.method == "POST" and not refused.is_set():
                # before the answer goes back: its record will be refused
                for sql in refuse:
                    db_exec(env2.db_url, sql)
                refused.set()
                threading.Timer(2.0, allow_again).start()
            return plain(req)

        kit.fake.handle = handle
        link = kit.link()
        st = wait_ids(env2, kit.shop, link.ref, 2, timeout=LEASE + WAIT + 5)
        sent = st["transactionStatuses"][1]
        assert sent["transactionStatusId"] == SENT, st
        assert sent["responseCodeDescription"] == (
            UNKNOWN_PREFIX + "an earlier attempt stopped before its outcome was recorded"
            + UNKNOWN_SUFFIX), sent
        time.sleep(SETTLE)
        assert len(kit.sends()) == 1, kit.sends()  # never sent twice
        assert "could not be recorded" in env2.proc.log_text()
        # its receipt still finds it (the callback URL names it)
        (mid,) = kit.message_ids(link.to)
        checked(kit.delivered(mid), 200)
        st = wait_ids(env2, kit.shop, link.ref, 3)
        assert [bare(e) for e in st["transactionStatuses"]][2:] == [kit.delivered_entry()], st
        assert allowed.is_set()
    finally:
        stop_env(env2)


@pytest.mark.parametrize("kind", KINDS)
def test_connect_refused_then_back_is_sent_once(env, fakes, kind):
    kit = new_kit(env, fakes, kind)
    kit.fake.set_mode("connect_refused")
    before = job_failures(env)
    link = kit.link()
    n = poll(lambda: job_failures(env), lambda n: n > before, WAIT, 0.05)
    assert n > before, "the send was not tried (and failed) while the provider refused"
    assert history_ids(status(env, kit.shop, link.ref)) == [RECEIVED]
    kit.fake.set_mode("normal")
    reqs = kit.wait_sends(1, timeout=10)
    assert len(reqs) == 1, reqs
    kit.check_send(reqs[0], link)
    st = wait_ids(env, kit.shop, link.ref, 2)
    time.sleep(SETTLE)
    st = status(env, kit.shop, link.ref)
    assert [bare(e) for e in st["transactionStatuses"]] == [entry(RECEIVED), kit.sent_entry()], st
    assert len(kit.sends()) == 1 and len(kit.message_ids(link.to)) == 1


@pytest.mark.parametrize("kind,code,text", [
    ("clickatell", "18", "Internal error"),
    ("twilio", "20500", "An internal server error has occurred"),
])
def test_provider_500_is_an_unknown_outcome_not_retried(env, fakes, kind, code, text):
    kit = new_kit(env, fakes, kind)
    kit.fake.set_mode("error_500", 1)
    link = kit.link()
    st = wait_ids(env, kit.shop, link.ref, 2)
    time.sleep(SETTLE)
    st = status(env, kit.shop, link.ref)
    assert [bare(e) for e in st["transactionStatuses"]] == [
        entry(RECEIVED), entry(SENT, httpResponseCode=500, responseCode=code,
                               responseCodeDescription=UNKNOWN_PREFIX + text + UNKNOWN_SUFFIX)], st
    assert len(kit.sends()) == 1, kit.sends()


def test_production_merchant_has_only_its_providers(env, fakes):
    shop = make_shop(env, environment="production")
    assert shop.key.startswith("cp_live_") and shop.environment == "PRODUCTION"
    assert config(env, shop)["smsChannelEnabled"] is False
    kit = new_kit(env, fakes, "twilio", shop=shop)
    cfg = config(env, shop)
    assert (cfg["smsChannelEnabled"], cfg["whatsappChannelEnabled"]) == (True, False), cfg
    # a production merchant's provider is called under the SSRF guard, even
    # with a base_url of its own: the fake on loopback is never reached
    link = kit.link()
    st = wait_ids(env, shop, link.ref, 2)
    (failed,) = entries(st, SENT_FAILED)
    assert "loopback" in failed["responseCodeDescription"], failed
    assert kit.sends() == []
    wa = create_link(env, shop, "whatsapp")
    st = wait_ids(env, shop, wa.ref, 2)
    assert [bare(e) for e in st["transactionStatuses"]] == [
        entry(RECEIVED), entry(SENT_FAILED, responseCodeDescription=(
            "No WHATSAPP provider can send this merchant's messages: no provider is selected "
            "for this channel"))], st
    assert kit.sends() == []


# ---- 4. the WhatsApp window ------------------------------------------------------------------


def test_whatsapp_cold_number_without_template_fails(env, fakes):
    kit = new_kit(env, fakes, "whatsapp-cloud")
    link = create_link(env, kit.shop, "whatsapp")  # no open window
    st = wait_ids(env, kit.shop, link.ref, 2)
    time.sleep(0.3)
    st = status(env, kit.shop, link.ref)
    (failed,) = entries(st, SENT_FAILED)
    assert history_ids(st) == [RECEIVED, SENT_FAILED], st
    assert (failed["httpResponseCode"], failed["responseCode"]) == (400, "131047"), failed
    assert failed["responseCodeDescription"].startswith("(#131047) Re-engagement message ("), failed
    reqs = kit.sends()
    assert len(reqs) == 1 and reqs[0].json["type"] == "interactive", reqs
    assert kit.message_ids(link.to) == []


def test_whatsapp_cold_number_gets_the_template(env, fakes):
    kit = new_kit(env, fakes, "whatsapp-cloud")
    env.ok("merchant", "update", kit.shop.id, "--whatsapp-template", "payment_link:en_US",
           "--whatsapp-template-params", "merchant,amount,url")
    link = create_link(env, kit.shop, "whatsapp")
    reqs = kit.wait_sends(2)
    assert len(reqs) == 2, reqs
    ref = kit.check_send(reqs[0], link)  # the interactive message first: refused 131047
    assert reqs[1].headers.get("authorization") == f"Bearer {kit.token}"
    assert reqs[1].json == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": link.to,
        "biz_opaque_callback_data": ref, "type": "template",
        "template": {"name": "payment_link", "language": {"code": "en_US"},
                     "components": [{"type": "body", "parameters": [
                         {"type": "text", "text": kit.shop.name},
                         {"type": "text", "text": "ZAR 115.00"},
                         {"type": "text", "text": link.url}]}]},
    }, reqs[1].json
    st = wait_ids(env, kit.shop, link.ref, 2)
    assert [bare(e) for e in st["transactionStatuses"]] == [
        entry(RECEIVED), entry(SENT, httpResponseCode=200, responseCodeDescription="accepted")], st
    (mid,) = kit.message_ids(link.to)
    assert kit.fake.messages[mid]["type"] == "template"
    checked(kit.delivered(mid), 200)
    st = wait_ids(env, kit.shop, link.ref, 3)
    assert history_ids(st) == [RECEIVED, SENT, DELIVERED], st
    # inside the window the same merchant's link is the Pay button, not the template
    link2 = kit.link()
    reqs = kit.wait_sends(3)
    assert len(reqs) == 3, reqs
    kit.check_send(reqs[2], link2)


# ---- the slow sends, checked last ------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_timeout_after_accept_is_unknown_then_reconciled_by_the_receipt(unknown_sends, kind):
    s = unknown_sends[kind]
    kit, link = s.kit, s.link
    left = CHANNEL_TIMEOUT + WAIT - (time.monotonic() - s.started)
    st = wait_ids(kit.env, kit.shop, link.ref, 2, timeout=max(left, 1))
    sent = st["transactionStatuses"][1]
    assert sent["transactionStatusId"] == SENT, st
    desc = sent["responseCodeDescription"]
    assert desc.startswith(UNKNOWN_PREFIX) and desc.endswith(UNKNOWN_SUFFIX), sent
    assert "timeout" in desc.lower(), sent
    assert "responseCode" not in sent, sent
    took = parse_rfc3339(sent["created"]) - parse_rfc3339(st["transactionStatuses"][0]["created"])
    assert CHANNEL_TIMEOUT - 0.5 <= took.total_seconds() <= CHANNEL_TIMEOUT + 3, took
    time.sleep(SETTLE)
    assert len(kit.sends()) == 1, kit.sends()  # never sent twice
    (mid,) = kit.message_ids(link.to)  # the fake did accept it
    assert history_ids(status(kit.env, kit.shop, link.ref)) == [RECEIVED, SENT]
    # the receipt names it by our reference (Clickatell, WhatsApp) or the provider's id
    checked(kit.deliver(mid, kit.full_chain()[:-1]), 200)
    st = wait_ids(kit.env, kit.shop, link.ref, 3)
    assert [bare(e) for e in st["transactionStatuses"]][2:] == [
        kit.delivered_entry(kit.full_chain()[:-1])], st


def test_update_under_a_new_secrets_key_needs_every_secret_again(env):
    # the documented way to change secrets_key: re-enter each provider's
    # secrets with `provider update` under the new key
    shop = make_shop(env)
    old_secret, new_secret = "ak-" + secrets.token_hex(12), "ak-" + secrets.token_hex(12)
    PROVIDER_SECRETS.update((old_secret, new_secret))
    p = env.ok("provider", "add", "--merchant", shop.id, "--kind", "twilio",
               "--set", "account_sid=AC" + "0" * 32, "--set", "auth_token=" + old_secret,
               "--set", "sms_from=15551234567", "--json").json()
    new_key = secrets.token_hex(32)
    new_env = dict(env.cli_env(), CHATPAY_SECRETS_KEY=new_key)
    # a setting that is not a secret alone: the secrets cannot be kept
    res = env.cli("provider", "update", p["providerId"], "--set", "sms_from=15557654321",
                  env=new_env)
    assert res.returncode == 1 and res.stdout == "", res
    assert "do not open with this secrets_key" in res.stderr, res.stderr
    assert "missing: --set auth_token=VALUE" in res.stderr, res.stderr
    # every secret given again: sealed with the new key
    res = env.cli("provider", "update", p["providerId"], "--set", "auth_token=" + new_secret,
                  "--json", env=new_env)
    assert res.returncode == 0, res.stderr
    got = res.json()
    assert got["secretsSet"] == ["auth_token"] and got["settings"]["sms_from"] == "15551234567"
    assert env.ok("provider", "show", p["providerId"], "--json",
                  env=new_env).json()["secretsSet"] == ["auth_token"]
    # ... and no longer open with the old key
    assert env.ok("provider", "show", p["providerId"], "--json").json()["secretsSet"] is None
