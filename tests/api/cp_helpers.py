"""cp_helpers.py — running the chatpay binary from the black-box tests.

The binary comes from $CHATPAY_BIN (the Makefile's test-api target sets it).
Everything here is bounded in time: CLI runs, server start-up, shutdown.

SECRETS records every full API key the suites have seen (CLI output, --dev
output), so that logs can be searched for them.
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

import requests

# Commands that accept --db URL.
DB_COMMANDS = {"serve", "migrate", "merchant", "apikey", "integrator"}

API_KEY_RE = re.compile(r"cp_(?:sandbox|live)_[0-9A-Za-z]{43}")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")

CLI_TIMEOUT = 30.0  # seconds; generous for the sanitizer build
START_TIMEOUT = 10.0
STOP_TIMEOUT = 20.0


class Secrets:
    """Full API keys and merchant ids seen during the session."""

    def __init__(self) -> None:
        self.api_keys: set[str] = set()
        self.merchant_ids: set[str] = set()

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
        argv = [chatpay_bin(), "serve"]
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
    shaped like a full key)."""
    leaked = sorted(k for k in SECRETS.api_keys if k in text)
    # the 43-character secret part alone is as bad as the whole key
    leaked += sorted(k for k in SECRETS.api_keys if k not in leaked and k.split("_", 2)[2] in text)
    shaped = sorted(set(API_KEY_RE.findall(text)))
    assert not leaked and not shaped, (
        f"{what} contains API keys: {len(leaked)} known, {len(shaped)} key-shaped "
        f"(first: {(leaked + shaped)[0][:16]}…)"
    )


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
