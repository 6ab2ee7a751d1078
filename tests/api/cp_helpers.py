"""cp_helpers.py — running the chatpay binary from the black-box tests.

The binary comes from $CHATPAY_BIN (the Makefile's test-api target sets it).
Everything here is bounded in time: CLI runs, server start-up, shutdown.

SECRETS records every full API key the suites have seen (CLI output, --dev
output), so that logs can be searched for them.

The suite runs on SQLite (the default) or on PostgreSQL (CHATPAY_TEST_DB=
postgres): db_url_for() gives each server its database on either, and
db_query()/db_exec() read and change it with the same SQL on both.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import requests

# Commands that accept --db URL.
DB_COMMANDS = {"serve", "worker", "migrate", "merchant", "apikey", "integrator", "marketplace", "whatsapp", "optout", "provider"}

API_KEY_RE = re.compile(r"cp_(?:sandbox|live)_[0-9A-Za-z]{43}")
# the marketplace's credentials: client secret, API key, signature secret,
# access token
MP_SECRET_RE = re.compile(r"m(?:cs|ak_sandbox|ak_live|ss|at)_[0-9A-Za-z]{43}")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

CLI_TIMEOUT = 30.0  # seconds; generous for the sanitizer build
START_TIMEOUT = 10.0
STOP_TIMEOUT = 20.0


class Secrets:
    """Full API keys and merchant ids seen during the session, and the
    callback signing secrets ("whsec_…") the tests registered."""

    def __init__(self) -> None:
        self.api_keys: set[str] = set()
        self.merchant_ids: set[str] = set()
        self.callback_secrets: set[str] = set()

    def scan(self, text: str) -> None:
        self.api_keys.update(API_KEY_RE.findall(text))


SECRETS = Secrets()


def chatpay_bin() -> str:
    path = os.environ.get("CHATPAY_BIN")
    if not path:
        raise RuntimeError(
            "CHATPAY_BIN is not set: run `make test-api`, or set CHATPAY_BIN to the absolute "
            "path of build/chatpay"
        )
    if not os.path.isabs(path) or not os.access(path, os.X_OK):
        raise RuntimeError(f"CHATPAY_BIN={path!r} is not an absolute path to an executable")
    return path


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test process environment without CHATPAY_* settings, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATPAY_")}
    env.update(extra or {})
    return env


class CliResult(NamedTuple):
    returncode: int
    stdout: str
    stderr: str

    def json(self):
        try:
            return json.loads(self.stdout)
        except ValueError as e:
            raise AssertionError(f"CLI output is not JSON ({e}):\n{self.stdout}\n{self.stderr}")


def run_cli(
    *args: str,
    db_url: str | None = None,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike | None = None,
    timeout: float = CLI_TIMEOUT,
) -> CliResult:
    """Run `chatpay ARGS…`; appends `--db db_url` when the command takes it
    (and --db/--help are not already given). Returns (returncode, stdout, stderr)."""
    argv = [chatpay_bin(), *args]
    if (
        db_url
        and args
        and args[0] in DB_COMMANDS
        and "--db" not in args
        and "--help" not in args
        and not (len(args) > 1 and args[1] in ("--help", "-h", "help"))
    ):
        argv += ["--db", db_url]
    p = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=clean_env(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )
    SECRETS.scan(p.stdout)
    return CliResult(p.returncode, p.stdout, p.stderr)


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_accepts(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class ServerProcess:
    """A `chatpay serve` child process with its output in files."""

    workdir: Path
    db_url: str
    port: int
    name: str = "server"
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    listen_flag: bool = True  # pass --listen 127.0.0.1:port
    wrapper: list[str] = field(default_factory=list)  # run through (e.g. prlimit …)
    proc: subprocess.Popen | None = None
    returncode: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stdout_path(self) -> Path:
        return self.workdir / f"{self.name}.stdout"

    @property
    def stderr_path(self) -> Path:
        return self.workdir / f"{self.name}.stderr"

    # the task's naming: the log is stderr
    @property
    def log_path(self) -> Path:
        return self.stderr_path

    def start(self) -> "ServerProcess":
        argv = [*self.wrapper, chatpay_bin(), "serve"]
        if self.listen_flag:
            argv += ["--listen", f"127.0.0.1:{self.port}"]
        argv += ["--db", self.db_url, *self.extra_args]
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                argv,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                env=clean_env(self.env),
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_live(self, timeout: float = START_TIMEOUT) -> None:
        """Wait (bounded) until GET /livez answers 200.

        This readiness probe is plumbing, not a test: its responses are not
        contract-checked (test_ops does that for /livez)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(
                    f"{self.name} exited with {self.proc.returncode} during start-up:\n{self.tail()}"
                )
            try:
                r = requests.get(self.base_url + "/livez", timeout=0.5)
                if r.status_code == 200:
                    return
                last = f"status {r.status_code}"
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.05)
        raise AssertionError(
            f"{self.name}: /livez not 200 within {timeout}s ({last}):\n{self.tail()}"
        )

    def wait_stdout(self, pattern: str, timeout: float = START_TIMEOUT) -> re.Match:
        """Wait (bounded) for a regex to appear in the server's stdout."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.stdout())
            if m:
                return m
            if time.monotonic() >= deadline or not self.alive():
                raise AssertionError(
                    f"{self.name}: {pattern!r} not on stdout within {timeout}s:\n{self.stdout()}"
                )
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Signal the server and wait (bounded) for its exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
                raise AssertionError(f"{self.name} did not exit within {timeout}s of signal {sig}")
        self.returncode = self.proc.returncode
        return self.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    def log_text(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def log_records(self) -> list[dict]:
        """The JSON log lines of stderr (non-JSON lines are skipped here;
        test_ops checks that there are none)."""
        out = []
        for line in self.log_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                out.append(rec)
        return out

    def wait_log(self, predicate, timeout: float = 5.0) -> list[dict]:
        """Log records matching predicate, waiting (bounded) for at least one."""
        deadline = time.monotonic() + timeout
        while True:
            found = [r for r in self.log_records() if predicate(r)]
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(0.05)


def start_server(
    workdir: Path,
    db_url: str,
    name: str = "server",
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    attempts: int = 3,
) -> ServerProcess:
    """Start `chatpay serve` on a free loopback port and wait for /livez.

    A port taken between free_port() and bind() is retried (bounded)."""
    last_error: AssertionError | None = None
    for _ in range(attempts):
        srv = ServerProcess(
            workdir=workdir,
            db_url=db_url,
            port=free_port(),
            name=name,
            extra_args=list(extra_args or []),
            env=dict(env or {}),
        ).start()
        try:
            srv.wait_live()
            return srv
        except AssertionError as e:
            srv.kill()
            last_error = e
            if "cannot listen" not in srv.log_text():
                raise
    assert last_error is not None
    raise last_error


def assert_no_secrets(text: str, what: str) -> None:
    """Fail when text contains any API key seen in this session (or anything
    shaped like a full key), or a registered callback signing secret."""
    leaked = sorted(k for k in SECRETS.api_keys if k in text)
    # the 43-character secret part alone is as bad as the whole key
    leaked += sorted(k for k in SECRETS.api_keys if k not in leaked and k.split("_", 2)[2] in text)
    shaped = sorted(set(API_KEY_RE.findall(text)) | set(MP_SECRET_RE.findall(text)))
    assert not leaked and not shaped, (
        f"{what} contains API keys: {len(leaked)} known, {len(shaped)} key-shaped "
        f"(first: {(leaked + shaped)[0][:16]}…)"
    )
    # a callback signing secret, whole or its base64 part alone
    signing = sorted(s for s in SECRETS.callback_secrets
                     if s in text or s.split("_", 1)[-1] in text)
    assert not signing, (
        f"{what} contains {len(signing)} callback signing secret(s) (first: {signing[0][:10]}…)"
    )


# ---- the tests' databases: SQLite or PostgreSQL -----------------------------------------
#
# CHATPAY_TEST_DB=postgres runs the suite on PostgreSQL: conftest starts one
# throw-away cluster for the session (tests/pg_cluster.py) and hands it to
# use_pg_cluster(); every database a test would have made as a SQLite file is
# then a fresh database of that cluster instead. The schema is the same there
# (INTEGER is BIGINT, BLOB is BYTEA), so the tests' SQL is written to be
# valid on both, with ?-style parameters.

DB_BACKENDS = ("sqlite", "postgres")

_pg_cluster = None  # the session's PgCluster on PostgreSQL
_pg_urls: dict[str, str] = {}  # SQLite path → its PostgreSQL database


def db_backend() -> str:
    """The database the suite runs on: "sqlite" (default) or "postgres"."""
    name = os.environ.get("CHATPAY_TEST_DB", "") or "sqlite"
    name = {"postgresql": "postgres", "pg": "postgres"}.get(name, name)
    if name not in DB_BACKENDS:
        raise RuntimeError(f"CHATPAY_TEST_DB={name!r}: expected sqlite or postgres")
    return name


def on_postgres() -> bool:
    return db_backend() == "postgres"


def sqlite_only(reason: str):
    """Mark a test that means something on SQLite only."""
    import pytest

    return pytest.mark.skipif(on_postgres(), reason=f"SQLite only: {reason}")


def use_pg_cluster(cluster) -> None:
    """The PostgreSQL cluster db_url_for() makes databases in (None: none)."""
    global _pg_cluster
    _pg_cluster = cluster
    _pg_urls.clear()


def db_url_for(path: Path) -> str:
    """The database URL of a test's database whose SQLite file would be
    `path`: sqlite:PATH on SQLite; on PostgreSQL a fresh database of the
    session's cluster, the same one each time for the same path (a server
    restarted on it finds its data)."""
    path = Path(path)
    if not on_postgres():
        return f"sqlite:{path}"
    if _pg_cluster is None:
        raise RuntimeError("CHATPAY_TEST_DB=postgres but no PostgreSQL cluster is running "
                           "(conftest's postgres_cluster fixture starts it)")
    key = str(path.resolve())
    if key not in _pg_urls:
        _pg_urls[key] = _pg_cluster.create_database(f"{path.parent.name}_{path.stem}")
    return _pg_urls[key]


def migrated_db_url_for(path: Path) -> str:
    """db_url_for(path) with chatpay's schema in it (`chatpay migrate`): only
    serve, worker and migrate make a database; the other commands refuse a
    SQLite file that is not there."""
    db_url = db_url_for(path)
    res = run_cli("migrate", db_url=db_url)
    assert res.returncode == 0, res.stderr
    return db_url


def db_kind(db_url: str) -> str:
    """"sqlite" or "postgres", by the URL's scheme."""
    if db_url.startswith("sqlite:"):
        return "sqlite"
    if db_url.startswith(("postgresql:", "postgres:")) or "=" in db_url:
        return "postgres"
    raise ValueError(f"not a database URL of the tests: {db_url!r}")


def sqlite_path(db_url: str) -> Path | None:
    """The file of a sqlite: URL (sqlite:PATH or sqlite://PATH); None for
    any other database."""
    if db_kind(db_url) != "sqlite":
        return None
    rest = db_url[len("sqlite:"):]
    return Path(rest[2:] if rest.startswith("//") else rest)


def _pg_sql(sql: str) -> str:
    """?-style parameters as psycopg2's %s (outside string literals), and
    every % doubled (psycopg2 formats the whole text)."""
    out, quoted = [], False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        if ch == "%":
            out.append("%%")
        elif ch == "?" and not quoted:
            out.append("%s")
        else:
            out.append(ch)
    return "".join(out)


def _pg_connect(db_url: str):
    import psycopg2

    con = psycopg2.connect(db_url, connect_timeout=10)
    con.autocommit = True  # each statement its own transaction, as with SQLite below
    return con


def _pg_value(v):
    return bytes(v) if isinstance(v, memoryview) else v


def db_query(db_url: str, sql: str, params=()) -> list[tuple]:
    """The rows of a query on a test's database (read-only on SQLite),
    as tuples; BYTEA and BLOB values are bytes. SQL with ? parameters."""
    path = sqlite_path(db_url)
    if path is not None:
        import sqlite3

        if not path.exists():
            raise AssertionError(f"no database file {path}")
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(sql, tuple(params)).fetchall()
        finally:
            con.close()
    con = _pg_connect(db_url)
    try:
        with con.cursor() as cur:
            if params:
                cur.execute(_pg_sql(sql), tuple(params))
            else:
                cur.execute(sql)
            return [tuple(_pg_value(v) for v in row) for row in cur.fetchall()]
    finally:
        con.close()


def db_exec(db_url: str, sql: str, params=()) -> int:
    """Change a test's database beside its running server (SQLite's WAL and
    PostgreSQL both let it keep running); one statement, committed at once.
    Returns the number of rows changed. SQL with ? parameters."""
    path = sqlite_path(db_url)
    if path is not None:
        import sqlite3

        if not path.exists():
            raise AssertionError(f"no database file {path}")
        con = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=10, isolation_level=None)
        try:
            return con.execute(sql, tuple(params)).rowcount
        finally:
            con.close()
    con = _pg_connect(db_url)
    try:
        with con.cursor() as cur:
            if params:
                cur.execute(_pg_sql(sql), tuple(params))
            else:
                cur.execute(sql)
            return cur.rowcount
    finally:
        con.close()


def db_tables(db_url: str) -> list[str]:
    """The names of the tables of a test's database."""
    if db_kind(db_url) == "sqlite":
        rows = db_query(db_url, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    else:
        rows = db_query(db_url, "SELECT table_name FROM information_schema.tables"
                                " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
                                " ORDER BY table_name")
    return [r[0] for r in rows]


# ---- payment links (test_links, test_link_jobs, test_crash) ----------------------------

LINKS = "/api/v2/chat-2-pay"
LINK_STATUS = "/api/v2/chat-2-pay/transaction-status"
SANDBOX_MESSAGES = "/api/v2/sandbox/messages"
REQUEST_TIMESTAMP = "2026-01-31T12:00:00Z"


def unique_order(prefix: str = "ORD") -> str:
    """An order number no other test uses (at most 32 characters)."""
    out = f"{prefix}-{uuid.uuid4().hex[:16]}"
    assert len(out) <= 32, out
    return out


def fresh_msisdn(ending: str | None = None) -> str:
    """A fresh international number (13 digits, no +). The sandbox channel acts
    on the last four digits: "0000" refused, "0001" not delivered; without
    `ending` they are 1000..9999 (sent and delivered)."""
    if ending is None:
        ending = f"{secrets.randbelow(9000) + 1000:04d}"
    assert len(ending) == 4 and ending.isdigit(), ending
    return f"2783{secrets.randbelow(10**5):05d}{ending}"


def link_body(drop: tuple[str, ...] = (), **fields) -> dict:
    """A valid POST /api/v2/chat-2-pay body (channel none, ZAR 115.00 =
    100.00 + 15.00, a fresh order number and number), with `fields` set and
    the members named in `drop` left out."""
    body = {
        "channel": "none",
        "to": "+" + fresh_msisdn(),
        "orderNumber": unique_order(),
        "timestamp": REQUEST_TIMESTAMP,
        "currency": "ZAR",
        "totalAmount": 115.00,
        "subTotalAmount": 100.00,
        "taxAmount": 15.00,
    }
    body.update(fields)
    for k in drop:
        body.pop(k, None)
    return body


def poll(fetch, done, timeout: float, interval: float = 0.05):
    """Call fetch() until done(value) is true or `timeout` seconds have passed;
    returns the last value (the caller asserts on it). Bounded in time and in
    calls (at most timeout / interval + 2)."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / interval) + 2):
        value = fetch()
        if done(value) or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
    return value


def history_ids(status_body: dict) -> list[int]:
    """The transactionStatusId of each entry of a transaction-status body."""
    return [e["transactionStatusId"] for e in status_body["transactionStatuses"]]


# ---- payments (test_payments, test_payment_crash) ---------------------------------------
#
# The customer's side of a payment is HTML and redirects (not JSON, so not
# contract-checked): POST /p/{token}/pay → 303 to the sandbox gateway's
# checkout form → POST the form → 303 back to /p/{token}/return?ref=… →
# the result page. CARD_DATA records every card number and CVC submitted, so
# that the database and the logs can be searched for them afterwards.

PAYMENT_OPS = "/api/v2/payment/"
HTTP_TIMEOUT = 10.0


class SandboxCard(NamedTuple):
    number: str  # digits only
    spaced: str  # as printed on the card
    brand: str  # cardType
    cvc_len: int


CARD_VISA = SandboxCard("4111111111111111", "4111 1111 1111 1111", "VISA", 3)
CARD_VISA_2 = SandboxCard("4242424242424242", "4242 4242 4242 4242", "VISA", 3)
CARD_MASTERCARD = SandboxCard("5555555555554444", "5555 5555 5555 4444", "MASTERCARD", 3)
CARD_AMEX = SandboxCard("378282246310005", "3782 822463 10005", "AMEX", 4)
CARD_DECLINE = SandboxCard("4000000000000002", "4000 0000 0000 0002", "VISA", 3)
CARD_INSUFFICIENT = SandboxCard("4000000000009995", "4000 0000 0000 9995", "VISA", 3)
CARD_REVIEW = SandboxCard("4000000000000101", "4000 0000 0000 0101", "VISA", 3)
CARD_ERROR = SandboxCard("4000000000000119", "4000 0000 0000 0119", "VISA", 3)
CARD_TIMEOUT = SandboxCard("4000000000000259", "4000 0000 0000 0259", "VISA", 3)
CARD_3DS = SandboxCard("4000002760003184", "4000 0027 6000 3184", "VISA", 3)
CARD_REFUND_FAILS = SandboxCard("4000000000005126", "4000 0000 0000 5126", "VISA", 3)
TEST_CARDS = (
    CARD_VISA, CARD_VISA_2, CARD_MASTERCARD, CARD_AMEX, CARD_DECLINE, CARD_INSUFFICIENT,
    CARD_REVIEW, CARD_ERROR, CARD_TIMEOUT, CARD_3DS, CARD_REFUND_FAILS,
)


class CardData:
    """Card numbers (digits) and CVCs submitted to a sandbox checkout form.

    The session's CVCs start with 0 (e.g. "047", "0472"): numbers are not
    written with a leading zero anywhere else, so finding one as a token in
    the database or a log means it leaked."""

    def __init__(self) -> None:
        self.numbers: set[str] = set()
        self.cvcs: set[str] = set()
        self._cvc_by_len: dict[int, str] = {}

    def cvc(self, length: int) -> str:
        """This session's CVC of `length` digits (2 to 4), leading zero."""
        if length not in self._cvc_by_len:
            rest = "".join(str(secrets.randbelow(9) + 1) for _ in range(length - 1))
            self._cvc_by_len[length] = "0" + rest
        return self._cvc_by_len[length]

    def note(self, number: str | None, cvc: str | None) -> None:
        digits = re.sub(r"\D", "", number or "")
        if len(digits) >= 12:
            self.numbers.add(digits)
        if cvc and cvc.strip().isdigit():
            self.cvcs.add(cvc.strip())


CARD_DATA = CardData()


def future_expiry(years: int = 3, month: int = 12) -> str:
    """An expiry "MM/YY" `years` from now (month 10–12: no leading zero)."""
    assert 10 <= month <= 12, month
    return f"{month:02d}/{(time.gmtime().tm_year + years) % 100:02d}"


def past_expiry() -> str:
    """December of last year, "12/YY"."""
    return f"12/{(time.gmtime().tm_year - 1) % 100:02d}"


# -- a small HTML tree (html.parser) --

_VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
              "param", "source", "track", "wbr"}


class HtmlNode:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: "HtmlNode | None"):
        self.tag = tag
        self.attrs = attrs
        self.parent = parent
        self.children: list[HtmlNode | str] = []

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def text(self) -> str:
        out = []
        for c in self.children:
            out.append(c if isinstance(c, str) else c.text())
        return re.sub(r"\s+", " ", "".join(out)).strip()

    def iter(self):
        for c in self.children:
            if isinstance(c, HtmlNode):
                yield c
                yield from c.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs) -> list["HtmlNode"]:
        out = []
        for n in self.iter():
            if tag is not None and n.tag != tag:
                continue
            if cls is not None and cls not in n.classes():
                continue
            if any(n.attrs.get(k.replace("_", "-")) != v for k, v in attrs.items()):
                continue
            out.append(n)
        return out

    def find(self, tag: str | None = None, cls: str | None = None, **attrs) -> "HtmlNode | None":
        found = self.find_all(tag, cls, **attrs)
        return found[0] if found else None


def parse_html(text: str) -> HtmlNode:
    """The document as a tree of HtmlNode (unclosed elements are closed at
    the end; a stray end tag closes up to its element)."""
    from html.parser import HTMLParser

    root = HtmlNode("#document", {}, None)

    class _P(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.cur = root

        def handle_starttag(self, tag, attrs):
            node = HtmlNode(tag, dict(attrs), self.cur)
            self.cur.children.append(node)
            if tag not in _VOID_TAGS:
                self.cur = node

        def handle_startendtag(self, tag, attrs):
            self.cur.children.append(HtmlNode(tag, dict(attrs), self.cur))

        def handle_endtag(self, tag):
            n = self.cur
            while n is not None and n.tag != tag:
                n = n.parent
            if n is not None and n.parent is not None:
                self.cur = n.parent

        def handle_data(self, data):
            self.cur.children.append(data)

    p = _P()
    p.feed(text)
    p.close()
    return root


def page_title(doc: HtmlNode) -> str:
    t = doc.find("title")
    return t.text() if t else ""


def page_h1(doc: HtmlNode) -> str:
    h = doc.find("h1")
    return h.text() if h else ""


# -- the customer's browser --


def html_request(http: requests.Session, method: str, url: str, **kw) -> requests.Response:
    """A browser request without following redirects; the page is parsed
    into resp.doc when it is HTML. Contract-checked when docs/openapi.json
    documents the operation."""
    kw.setdefault("timeout", HTTP_TIMEOUT)
    r = http.request(method, url, allow_redirects=False, **kw)
    # HTML is not JSON, but where docs/openapi.json documents the page the
    # answer is checked too (status, media type, X-Request-Id)
    from openapi_check import check_response, get_checker

    path = urlsplit(url).path
    if get_checker().doc.find_operation(method, path) is not None:
        check_response(method, path, r.status_code, r.headers, r.content)
    ct = r.headers.get("Content-Type", "")
    r.doc = parse_html(r.text) if ct.startswith("text/html") else None
    return r


def start_payment(http: requests.Session, base_url: str, token: str) -> tuple[str, str]:
    """POST /p/{token}/pay: 303 to the checkout form. Returns (operation
    ref, checkout URL)."""
    r = html_request(http, "POST", f"{base_url}/p/{token}/pay")
    assert r.status_code == 303, f"POST /p/…/pay → {r.status_code}: {r.text[:500]}"
    loc = r.headers.get("Location", "")
    m = re.fullmatch(re.escape(base_url) + r"/sandbox-gateway/checkout/(op_[0-9A-Za-z]+)", loc)
    assert m, f"pay did not redirect to the sandbox checkout of this server: {loc!r}"
    return m.group(1), loc


def card_form(card: SandboxCard | str, *, cvc: str | None = None, expiry: str | None = None,
              name: str = "Thandi Mokoena", spaced: bool = False) -> dict[str, str]:
    """The checkout form fields for a test card (this session's CVC of the
    card's length unless given)."""
    if isinstance(card, SandboxCard):
        number = card.spaced if spaced else card.number
        cvc = CARD_DATA.cvc(card.cvc_len) if cvc is None else cvc
    else:
        number = card
        cvc = CARD_DATA.cvc(3) if cvc is None else cvc
    return {"name": name, "number": number, "expiry": expiry or future_expiry(), "cvc": cvc}


def submit_card(http: requests.Session, checkout_url: str, fields: dict[str, str]) -> requests.Response:
    """POST the checkout form (application/x-www-form-urlencoded)."""
    CARD_DATA.note(fields.get("number"), fields.get("cvc"))
    return html_request(http, "POST", checkout_url, data=fields)


def absolute(base_url: str, location: str) -> str:
    from urllib.parse import urljoin

    return urljoin(base_url + "/", location)


# -- searching files for card data --

_TIMESTAMP_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
)


def card_number_pattern(digits: str) -> re.Pattern:
    """A card number written with or without separators (space, dash, +,
    %20) between any digits, not part of a longer digit string."""
    sep = r"(?:[ +\-]|%20)?"
    return re.compile(r"(?<!\d)" + sep.join(re.escape(d) for d in digits) + r"(?!\d)")


def cvc_token_pattern(cvc: str) -> re.Pattern:
    """A CVC as a token of its own: no letter, digit or '.' just before or
    after it (so not a piece of a reference, number or decimal)."""
    return re.compile(r"(?<![0-9A-Za-z.])" + re.escape(cvc) + r"(?![0-9A-Za-z]|\.\d)")


# Any UUID (merchant ids, references): its groups are random, and one of
# four digits equals a 4-digit CVC now and then.
_ANY_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def find_card_data_in_text(text: str, numbers, cvcs, where: str) -> list[str]:
    """Findings (descriptions, with the secret elided) of full card numbers
    or CVC tokens in text. Time stamps and UUIDs are blanked first (their
    fields are digit tokens by chance)."""
    out = []
    for n in sorted(numbers):
        if card_number_pattern(n).search(text):
            out.append(f"{where}: full card number {n[:6]}…{n[-4:]}")
    clean = _ANY_UUID_RE.sub(" ", _TIMESTAMP_RE.sub(" ", text))
    for c in sorted(cvcs):
        m = cvc_token_pattern(c).search(clean)
        if m:
            ctx = clean[max(0, m.start() - 40):m.end() + 40].replace(c, "<CVC>")
            out.append(f"{where}: CVC of {len(c)} digits as a token: …{ctx!r}…")
    return out


def find_card_data_in_log(path: Path, numbers, cvcs) -> list[str]:
    """A JSON-lines log: full card numbers anywhere; CVCs in string values
    (the "ts" value aside) and in non-JSON lines; any member whose name
    suggests card data."""
    text = path.read_text(errors="replace") if path.exists() else ""
    out = []
    for n in sorted(numbers):
        if card_number_pattern(n).search(text):
            out.append(f"{path.name}: full card number {n[:6]}…{n[-4:]}")
    suspicious = re.compile(r"cvc|cvv|csc|card.?number|\bpan\b", re.I)

    def walk(v, key, lineno):
        if isinstance(v, dict):
            for k, x in v.items():
                if suspicious.search(k):
                    out.append(f"{path.name}:{lineno}: member {k!r} looks like card data")
                walk(x, k, lineno)
        elif isinstance(v, list):
            for x in v:
                walk(x, key, lineno)
        elif isinstance(v, str) and key != "ts":
            out.extend(find_card_data_in_text(v, (), cvcs, f"{path.name}:{lineno} ({key})"))

    for i, line in enumerate(text.splitlines(), 1):
        try:
            rec = json.loads(line)
        except ValueError:
            out.extend(find_card_data_in_text(line, (), cvcs, f"{path.name}:{i}"))
            continue
        walk(rec, None, i)
    return out


def _printable_runs(data: bytes, min_len: int):
    for m in re.finditer(rb"[\x20-\x7e]{%d,}" % min_len, data):
        yield m.group().decode("ascii")


def _card_data_in_bytes(name: str, data: bytes, numbers, long_cvcs) -> list[str]:
    out = []
    text = data.decode("latin-1")
    for n in sorted(numbers):
        if card_number_pattern(n).search(text):
            out.append(f"{name}: full card number {n[:6]}…{n[-4:]} in the file's bytes")
    for run in _printable_runs(data, 10):
        out.extend(find_card_data_in_text(run, (), long_cvcs, f"{name} (bytes)"))
    return out


def _pg_relation_files(db_url: str) -> list[tuple[str, Path]]:
    """The files of the tables of a PostgreSQL database, their TOAST tables
    and their indexes (every segment of the main fork), after a checkpoint
    has written them out, each with a name for the findings."""
    db_exec(db_url, "CHECKPOINT")
    [(datadir,)] = db_query(db_url, "SHOW data_directory")
    rels = db_query(db_url, "SELECT c.relname, pg_relation_filepath(c.oid) FROM pg_class c"
                            " JOIN pg_namespace n ON n.oid = c.relnamespace"
                            " WHERE c.relkind IN ('r', 't', 'i', 'm')"
                            " AND n.nspname <> 'information_schema'"
                            " AND (n.nspname NOT LIKE 'pg\\_%' OR n.nspname = 'pg_toast')"
                            " AND c.oid >= 16384")  # not the system catalogs
    files = []
    for name, rel in rels:
        if rel is None:
            continue
        first = Path(datadir) / rel
        files += [(f"{name} ({f.name})", f)
                  for f in [first, *sorted(first.parent.glob(first.name + ".[0-9]*"))] if f.exists()]
    return files


def find_card_data_in_db(db_url: str, numbers, cvcs) -> list[str]:
    """A test's database: every file of it byte by byte for full card
    numbers, and printable runs of 10+ characters for CVCs of 3+ digits;
    then every text and blob value of every table (read through the
    database, which includes SQLite's WAL) for card numbers and any CVC
    token. On SQLite the files are the database's (db, -wal, -shm, …); on
    PostgreSQL, those of its tables, TOAST tables and indexes (the cluster's
    WAL, shared by every database of the session, is not searched)."""
    out = []
    long_cvcs = {c for c in cvcs if len(c) >= 3}
    path = sqlite_path(db_url)
    if path is not None:
        assert path.exists(), path
        files = [(f.name, f) for f in sorted(path.parent.glob(path.name + "*"))]
    else:
        files = _pg_relation_files(db_url)
        assert files, f"no table files found for {db_url}"
    for name, f in files:
        out.extend(_card_data_in_bytes(name, f.read_bytes(), numbers, long_cvcs))
    if path is not None:
        tables = [(t, f'"{t}"') for t in db_tables(db_url)]
    else:  # every schema's
        tables = [(t if schema == "public" else f"{schema}.{t}", f'"{schema}"."{t}"')
                  for schema, t in db_query(
                      db_url, "SELECT table_schema, table_name FROM information_schema.tables"
                              " WHERE table_type = 'BASE TABLE'"
                              " AND table_schema NOT IN ('pg_catalog', 'information_schema')")]
    assert tables, f"no tables in {db_url}"
    for t, from_name in tables:
        for row in db_query(db_url, f"SELECT * FROM {from_name}"):
            for v in row:
                if isinstance(v, bytes):
                    # binary values (key hashes, logos) are random bytes: a
                    # 2-digit token turns up in them by chance, so only the
                    # longer CVCs are looked for there
                    out.extend(find_card_data_in_text(v.decode("latin-1"), numbers, long_cvcs,
                                                      f"table {t} (binary)"))
                elif isinstance(v, str) and v.startswith(("whsec_", "v1.")):
                    # random secrets written as base64 (callback signing
                    # secrets, sealed provider credentials): like binary
                    # values, a 2-digit token turns up in them by chance
                    out.extend(find_card_data_in_text(v, numbers, long_cvcs,
                                                      f"table {t} (secret)"))
                elif isinstance(v, str):
                    out.extend(find_card_data_in_text(v, numbers, cvcs, f"table {t}"))
    return out
