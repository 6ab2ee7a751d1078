"""pg_cluster.py — a throw-away PostgreSQL 15 cluster for the tests.

    with PgCluster() as pg:
        url = pg.create_database()       # a fresh, empty database each call
        pg.sql(url, "SELECT 1")          # [["1"]]

The cluster lives in a temp dir (data, Unix socket, server log), listens on
that socket only (listen_addresses = ''), trusts every local connection and
runs with the settings of a test box (fsync off, no synchronous commit, 300
connections). It is stopped (pg_ctl stop -m immediate) and its dir removed
by stop(), by the end of the `with` block, or at exit; a cluster whose
process was killed first is swept away by the next start().

initdb refuses to run as root: as root, initdb, pg_ctl and the server run as
the `postgres` system user (Debian's postgresql package makes it), which owns
the temp dir. The superuser of the cluster is always `postgres`.

Database URLs are libpq URIs naming the socket dir and the user:
postgresql:///NAME?host=/tmp/chatpay-pg-…&user=postgres

Only the client programs of the cluster (psql) are used here, no Python
driver. `python3 tests/pg_cluster.py --selftest` checks the whole life cycle.
"""

from __future__ import annotations

import atexit
import itertools
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

PG_BIN = Path(os.environ.get("CHATPAY_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "postgres"
START_TIMEOUT = 60  # seconds, for pg_ctl start -w
SQL_TIMEOUT = 60

# postgresql.conf additions: durability off (a test cluster is thrown away),
# room for every server and worker of a test run, nothing on TCP
SETTINGS = {
    "listen_addresses": "''",
    "max_connections": "300",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_wal_size": "'1GB'",
    "shared_buffers": "'128MB'",
    "timezone": "'UTC'",
    "log_timezone": "'UTC'",
    "log_line_prefix": "'%m [%p] %d '",
}


OWNER_FILE = "owner"  # "PID STARTTIME" of the process whose cluster it is


class PgClusterError(RuntimeError):
    pass


def _run_as_postgres() -> bool:
    return os.geteuid() == 0


def _as_owner(argv: list[str]) -> list[str]:
    """argv run as the cluster's owner: the postgres user when we are root."""
    if not _run_as_postgres():
        return argv
    if shutil.which("runuser"):
        return ["runuser", "-u", SUPERUSER, "--", *argv]
    return ["su", SUPERUSER, "-s", "/bin/sh", "-c", shlex.join(argv)]


def _process_start(pid: int) -> str | None:
    """When a process started (clock ticks since boot; /proc/PID/stat field
    22), or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def sweep_stale(parent: str | None = None, bindir: Path = PG_BIN) -> list[Path]:
    """Stop and remove the clusters left in `parent` by processes that are
    gone (a test run killed before it could stop its own); returns their
    dirs. Dirs without an owner file, or whose owner lives, are left alone."""
    gone: list[Path] = []
    if _process_start(os.getpid()) is None:  # no /proc: owners cannot be told apart
        return gone
    for d in sorted(Path(parent or tempfile.gettempdir()).glob("chatpay-pg-*")):
        try:
            pid, started = (d / OWNER_FILE).read_text().split()
            if _process_start(int(pid)) == started:
                continue
            if (d / "data" / "postmaster.pid").exists():
                subprocess.run(_as_owner([str(bindir / "pg_ctl"), "stop", "-D", str(d / "data"),
                                          "-m", "immediate", "-w", "-s"]),
                               cwd=d, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        except (OSError, ValueError, subprocess.SubprocessError):
            continue
        shutil.rmtree(d, ignore_errors=True)
        gone.append(d)
    return gone


class PgCluster:
    """One PostgreSQL cluster in a temp dir; see the module's doc."""

    def __init__(self, bindir: str | os.PathLike | None = None, parent: str | None = None,
                 durable: bool = False):
        self.bindir = Path(bindir) if bindir else PG_BIN
        self.parent = parent  # where the temp dir goes (default: $TMPDIR or /tmp)
        # durable: PostgreSQL's own defaults for fsync, synchronous_commit and
        # full_page_writes (what the benchmarks and the durability checks need)
        self.settings = dict(SETTINGS)
        if durable:
            for k in ("fsync", "synchronous_commit", "full_page_writes"):
                self.settings[k] = "on"
        self.dir: Path | None = None
        self.running = False
        self._names = itertools.count(1)

    # -- paths --

    @property
    def datadir(self) -> Path:
        assert self.dir is not None
        return self.dir / "data"

    @property
    def sockdir(self) -> Path:
        assert self.dir is not None
        return self.dir

    @property
    def logfile(self) -> Path:
        assert self.dir is not None
        return self.dir / "server.log"

    def _bin(self, name: str) -> str:
        path = self.bindir / name
        if not os.access(path, os.X_OK):
            raise PgClusterError(
                f"{path} not found: PostgreSQL 15's server programs are missing "
                f"(scripts/install-deps installs Debian's postgresql)"
            )
        return str(path)

    # -- life cycle --

    def start(self) -> "PgCluster":
        assert self.dir is None, "already started"
        initdb, pg_ctl = self._bin("initdb"), self._bin("pg_ctl")
        self._bin("psql")
        if _run_as_postgres():
            try:
                owner = pwd.getpwnam(SUPERUSER)
            except KeyError:
                raise PgClusterError(
                    "running as root, and there is no `postgres` user to run the cluster as "
                    "(Debian's postgresql package makes it)"
                ) from None
        sweep_stale(self.parent, self.bindir)
        self.dir = Path(tempfile.mkdtemp(prefix="chatpay-pg-", dir=self.parent))
        atexit.register(self.stop)
        try:
            started = _process_start(os.getpid())
            if started is not None:
                (self.dir / OWNER_FILE).write_text(f"{os.getpid()} {started}\n")
            if _run_as_postgres():
                os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self._owner_run([initdb, "-D", str(self.datadir), "-U", SUPERUSER, "--auth=trust",
                             "--encoding=UTF8", "--locale=C", "--no-sync"], "initdb")
            conf = "".join(f"{k} = {v}\n" for k, v in self.settings.items())
            conf += f"unix_socket_directories = '{self.sockdir}'\n"
            with open(self.datadir / "postgresql.conf", "a") as f:  # initdb's file, its owner kept
                f.write(conf)
            self._owner_run([pg_ctl, "start", "-D", str(self.datadir), "-l", str(self.logfile),
                             "-w", "-t", str(START_TIMEOUT), "-s"], "pg_ctl start")
            self.running = True
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server at once (no shutdown checkpoint) and remove the dir.
        Safe to call more than once."""
        if self.dir is None:
            return
        try:
            if self.running or (self.datadir / "postmaster.pid").exists():
                self._owner_run([self._bin("pg_ctl"), "stop", "-D", str(self.datadir),
                                 "-m", "immediate", "-w", "-s"], "pg_ctl stop")
        finally:
            self.running = False
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
            atexit.unregister(self.stop)

    def stop_server(self) -> None:
        """Shut the server down as an operator's restart does (fast: sessions
        are cut, committed work is kept); the cluster's files stay."""
        assert self.dir is not None and self.running
        self._owner_run([self._bin("pg_ctl"), "stop", "-D", str(self.datadir), "-m", "fast",
                         "-w", "-s"], "pg_ctl stop")
        self.running = False

    def start_server(self) -> None:
        """Start the server of a cluster stopped with stop_server()."""
        assert self.dir is not None and not self.running
        self._owner_run([self._bin("pg_ctl"), "start", "-D", str(self.datadir), "-l",
                         str(self.logfile), "-w", "-t", str(START_TIMEOUT), "-s"], "pg_ctl start")
        self.running = True

    def _processes(self) -> list[int]:
        """The server's processes: the postmaster (postmaster.pid's first
        line) and its children."""
        pid = int((self.datadir / "postmaster.pid").read_text().split("\n", 1)[0])
        out = [pid]
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    stat = Path(f"/proc/{d}/stat").read_text()
                except OSError:
                    continue
                # "PID (COMM) STATE PPID ...": COMM may hold spaces and brackets
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d))
        return out

    def pause(self) -> list[int]:
        """Stop every process of the server (SIGSTOP): a server that is
        there (its sockets accept) but answers nothing, as a stalled host
        or a frozen VM is. resume() lets them go on; returns the pids."""
        assert self.dir is not None and self.running
        pids = self._processes()
        for p in pids:
            os.kill(p, signal.SIGSTOP)
        return pids

    def resume(self, pids: list[int]) -> None:
        for p in pids:
            try:
                os.kill(p, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def __enter__(self) -> "PgCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _owner_run(self, argv: list[str], what: str) -> str:
        p = subprocess.run(_as_owner(argv), cwd=self.dir, capture_output=True, text=True,
                           timeout=START_TIMEOUT + 30, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            log = ""
            if self.dir is not None and self.logfile.exists():
                log = "\nserver log:\n" + self.logfile.read_text(errors="replace")[-3000:]
            raise PgClusterError(f"{what} failed ({p.returncode}):\n{p.stdout}{p.stderr}{log}")
        return p.stdout

    # -- databases --

    def url(self, dbname: str) -> str:
        """The libpq URI of a database of this cluster."""
        return (f"postgresql:///{quote(dbname, safe='')}"
                f"?host={quote(str(self.sockdir), safe='/')}&user={SUPERUSER}")

    def create_database(self, hint: str = "") -> str:
        """A new empty database; returns its URL. `hint` (letters, digits,
        _) ends up in its name to tell the databases of a run apart."""
        assert self.running, "the cluster is not running"
        hint = re.sub(r"[^a-z0-9_]+", "_", hint.lower()).strip("_")[:40]
        name = f"t{next(self._names)}" + (f"_{hint}" if hint else "")
        self.sql("postgres", f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)

    def drop_database(self, url_or_name: str) -> None:
        name = self.dbname(url_or_name)
        self.sql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def dbname(self, url_or_name: str) -> str:
        if "://" not in url_or_name:
            return url_or_name
        parts = urlsplit(url_or_name)
        name = parts.path.lstrip("/") or parse_qs(parts.query).get("dbname", [""])[0]
        if not name:
            raise ValueError(f"no database name in {url_or_name!r}")
        return unquote(name)

    def sql(self, url_or_name: str, sql: str) -> list[list[str]]:
        """Run SQL (one or more statements; the first error stops it) in a
        database of this cluster, given by URL or name, with psql; returns
        the rows of the last statement's result as lists of strings (NULL
        as None)."""
        assert self.running, "the cluster is not running"
        argv = [self._bin("psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-F", "\x1f", "-P", "null=\x1e", "-h", str(self.sockdir), "-U", SUPERUSER,
                "-d", self.dbname(url_or_name), "-f", "-"]
        p = subprocess.run(argv, input=sql, capture_output=True, text=True, timeout=SQL_TIMEOUT,
                           cwd=self.dir)
        if p.returncode != 0:
            raise PgClusterError(f"psql: {p.stderr.strip()}\nSQL: {sql}")
        if not p.stdout:  # no rows (a row of one empty value is "\n")
            return []
        out = p.stdout[:-1] if p.stdout.endswith("\n") else p.stdout
        return [[None if v == "\x1e" else v for v in line.split("\x1f")]
                for line in out.split("\n")]

    def databases(self) -> list[str]:
        return [r[0] for r in self.sql("postgres", "SELECT datname FROM pg_database "
                                                   "WHERE NOT datistemplate ORDER BY datname")]


def _selftest() -> int:
    """Start a cluster, make two databases, run SQL in each, stop it; and a
    cluster left by a killed process is swept away by the next start."""
    left = PgCluster().start()
    left_dir = left.dir
    (left_dir / OWNER_FILE).write_text("999999999 1\n")  # its process is gone
    atexit.unregister(left.stop)
    left.dir, left.running = None, False
    with PgCluster() as pg:
        assert not left_dir.exists(), f"the left cluster {left_dir} was not swept"
        print(f"a cluster left by a process that is gone was swept ({left_dir})")
        where = pg.dir
        print(f"cluster in {where} (owner {'postgres' if _run_as_postgres() else 'this user'})")
        a, b = pg.create_database("self test"), pg.create_database()
        assert a != b, (a, b)
        print(f"databases: {a}\n           {b}")
        pg.sql(a, "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT, data BYTEA);"
                  "INSERT INTO t VALUES (1, 'one', '\\x00ff'), (2, NULL, NULL);")
        rows = pg.sql(a, "SELECT id, name, encode(data, 'hex') FROM t ORDER BY id")
        assert rows == [["1", "one", "00ff"], ["2", None, None]], rows
        # the second database is its own: no table t there
        try:
            pg.sql(b, "SELECT * FROM t")
            raise AssertionError("table t is visible in the second database")
        except PgClusterError as e:
            assert 'relation "t" does not exist' in str(e), e
        assert pg.sql(b, "SHOW fsync") == [["off"]]
        assert pg.sql(b, "SHOW max_connections") == [["300"]]
        assert pg.sql(b, "SHOW listen_addresses") == [[""]]
        names = pg.databases()
        assert pg.dbname(a) in names and pg.dbname(b) in names, names
        try:
            import psycopg2  # the API suite's driver, when it is installed
        except ImportError:
            print("psycopg2 is not installed: its check is skipped")
        else:
            con = psycopg2.connect(a, connect_timeout=10)
            try:
                with con.cursor() as cur:
                    cur.execute("SELECT name FROM t WHERE id = %s", (1,))
                    assert cur.fetchall() == [("one",)]
            finally:
                con.close()
            print("psycopg2 connects with the URL")
        pg.drop_database(b)
        assert pg.dbname(b) not in pg.databases()
    assert not where.exists(), f"{where} is left behind"
    print("stopped; temp dir removed; self-test passed")
    return 0


def _run(argv: list[str], durable: bool) -> int:
    """Run a command beside a cluster: CHATPAY_TEST_PG holds its libpq
    settings ("host=DIR user=postgres") and CHATPAY_TEST_PG_BIN the server
    programs' folder; the cluster goes when the command ends."""
    with PgCluster(durable=durable) as pg:
        env = dict(os.environ, CHATPAY_TEST_PG=f"host={pg.sockdir} user={SUPERUSER}",
                   CHATPAY_TEST_PG_BIN=str(pg.bindir))
        return subprocess.run(argv, env=env, stdin=subprocess.DEVNULL).returncode


USAGE = """usage: pg_cluster.py --selftest
       pg_cluster.py --run [--durable] -- COMMAND [ARG...]"""

if __name__ == "__main__":
    args = sys.argv[1:]
    if args == ["--selftest"]:
        sys.exit(_selftest())
    if args[:1] == ["--run"] and "--" in args:
        opts, cmd = args[1:args.index("--")], args[args.index("--") + 1:]
        if cmd and opts in ([], ["--durable"]):
            sys.exit(_run(cmd, durable=bool(opts)))
    print(USAGE, file=sys.stderr)
    sys.exit(2)
