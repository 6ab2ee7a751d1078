"""Fixtures of the black-box API suite.

server    (session) one `chatpay serve` on a free loopback port with a fresh
          database (a SQLite file in a temp dir, or with CHATPAY_TEST_DB=postgres
          a database of the session's PostgreSQL cluster); stopped with SIGTERM
          at the end, which must exit 0, and whose log must never contain an
          API key.
cli       (session) cli(*args) → (returncode, stdout, stderr); adds --db.
api       (session) ApiClient: every response checked by openapi_check.
merchant  (function) a fresh sandbox merchant (ZAR default, USD).
http      (function) a requests.Session: the customer's browser (cookies kept).
make_merchant / add_integrator: factories for the other shapes.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

# the fake services of tests/fakes (a merchant's callback receiver) and
# tests/pg_cluster.py are imported by name
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fakes"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cp_helpers  # noqa: E402
from cp_helpers import SECRETS, assert_no_secrets, run_cli, start_server  # noqa: E402
from openapi_check import ApiClient, get_checker  # noqa: E402


def pytest_configure(config):
    # fail at once, with one clear message, rather than in every fixture
    try:
        cp_helpers.chatpay_bin()
        backend = cp_helpers.db_backend()
    except RuntimeError as e:
        raise pytest.UsageError(str(e))
    if backend == "postgres":
        if importlib.util.find_spec("psycopg2") is None:
            raise pytest.UsageError("CHATPAY_TEST_DB=postgres needs psycopg2 (Debian's "
                                    "python3-psycopg2; scripts/install-deps installs it)")
        from pg_cluster import PG_BIN

        if not (PG_BIN / "initdb").exists():
            raise pytest.UsageError(f"CHATPAY_TEST_DB=postgres needs PostgreSQL 15's server "
                                    f"programs in {PG_BIN} (Debian's postgresql; "
                                    f"scripts/install-deps installs it)")


def pytest_report_header(config):
    return f"chatpay database: {cp_helpers.db_backend()}"


@pytest.fixture(scope="session", autouse=True)
def postgres_cluster():
    """With CHATPAY_TEST_DB=postgres, one throw-away PostgreSQL cluster for
    the session, in which every test's database is made (db_url_for); None
    on SQLite."""
    if not cp_helpers.on_postgres():
        yield None
        return
    from pg_cluster import PgCluster

    with PgCluster() as pg:
        cp_helpers.use_pg_cluster(pg)
        try:
            yield pg
        finally:
            cp_helpers.use_pg_cluster(None)


@dataclass
class Server:
    base_url: str
    db_url: str
    port: int
    tmpdir: Path
    stdout_path: Path
    stderr_path: Path  # the JSON-lines log
    process: cp_helpers.ServerProcess

    @property
    def log_path(self) -> Path:
        return self.stderr_path


@pytest.fixture(scope="session")
def checker():
    return get_checker()


@pytest.fixture(scope="session")
def server(tmp_path_factory, checker):
    tmp = tmp_path_factory.mktemp("chatpay")
    db_url = cp_helpers.db_url_for(tmp / "chatpay.db")
    proc = start_server(tmp, db_url, name="server")
    srv = Server(
        base_url=proc.base_url,
        db_url=db_url,
        port=proc.port,
        tmpdir=tmp,
        stdout_path=proc.stdout_path,
        stderr_path=proc.stderr_path,
        process=proc,
    )
    try:
        yield srv
    finally:
        rc = proc.stop()
        log = proc.log_text()
        assert rc == 0, f"server exited with {rc} after SIGTERM:\n{proc.tail(50)}"
        assert_no_secrets(log, f"server log {proc.stderr_path}")
        assert_no_secrets(proc.stdout(), f"server stdout {proc.stdout_path}")


@pytest.fixture(scope="session")
def cli(server):
    """cli(*args, **kw) runs the binary against the session database."""

    def _cli(*args: str, **kw) -> cp_helpers.CliResult:
        kw.setdefault("cwd", server.tmpdir)
        return run_cli(*args, db_url=server.db_url, **kw)

    return _cli


@pytest.fixture(scope="session")
def api(server):
    client = ApiClient(server.base_url)
    yield client
    client.close()


def _unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def make_merchant(cli):
    """make_merchant(name=None, currencies="ZAR,USD", environment=None,
    channels=None) → the JSON printed by `merchant create --json`."""

    def _make(name=None, currencies="ZAR,USD", environment=None, channels=None):
        args = ["merchant", "create", "--name", name or _unique("Shop"), "--json"]
        if currencies is not None:
            args += ["--currencies", currencies]
        if environment is not None:
            args += ["--environment", environment]
        if channels is not None:
            args += ["--channels", channels]
        res = cli(*args)
        assert res.returncode == 0, f"merchant create failed: {res.stderr}"
        m = res.json()
        for k in ("merchantId", "apiKey", "apiKeyId", "environment", "currencies"):
            assert k in m, f"merchant create --json lacks {k}: {m}"
        SECRETS.api_keys.add(m["apiKey"])
        SECRETS.merchant_ids.add(m["merchantId"])
        return m

    return _make


@pytest.fixture
def merchant(make_merchant):
    return make_merchant()


@pytest.fixture(scope="session")
def add_integrator(cli):
    """add_integrator(merchant_id, name=None, type="OMS") → the JSON of
    `integrator add --json`."""

    def _add(merchant_id, name=None, type="OMS"):
        res = cli(
            "integrator", "add", "--merchant", merchant_id, "--name", name or _unique("App"),
            "--type", type, "--json",
        )
        assert res.returncode == 0, f"integrator add failed: {res.stderr}"
        return res.json()

    return _add


@pytest.fixture
def http():
    s = requests.Session()
    yield s
    s.close()
