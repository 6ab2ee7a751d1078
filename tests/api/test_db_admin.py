"""`chatpay db backup|check|copy`: a consistent online backup of a SQLite
database while it serves, the integrity check and chatpay's invariants on
either backend, and moving a deployment from SQLite to PostgreSQL with every
table verified."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
import uuid

import pytest
import requests

import cp_helpers
from cp_helpers import CARD_VISA, LINKS, card_form, db_exec, db_query, poll, run_cli, start_server
from openapi_check import ApiClient
from payment_flow import checkout, new_link, status_of

PAYMENT = "/api/v2/payment/"


def _merchant(db_url, name="Admin Store"):
    assert run_cli("migrate", db_url=db_url).returncode == 0  # only migrate makes a database
    res = run_cli("merchant", "create", "--name", name, "--currencies", "ZAR", "--json",
                  db_url=db_url)
    assert res.returncode == 0, res.stderr
    m = res.json()
    cp_helpers.SECRETS.api_keys.add(m["apiKey"])
    return m


def _body(order):
    return {"channel": "sms", "to": cp_helpers.fresh_msisdn(), "orderNumber": order,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "currency": "ZAR", "totalAmount": 115.00, "subTotalAmount": 100.00,
            "taxAmount": 15.00}


def _count(db_url, table):
    return db_query(db_url, f"SELECT COUNT(*) FROM {table}")[0][0]


@pytest.mark.skipif(cp_helpers.on_postgres(), reason="db backup copies SQLite databases")
def test_backup_while_the_server_writes(tmp_path):
    db = f"sqlite:{tmp_path / 'live.db'}"
    m = _merchant(db)
    srv = start_server(tmp_path, db, name="backup")
    made, stop = [], threading.Event()

    def load():
        s = requests.Session()
        for _ in range(20000):  # bounded: stopped long before by `stop`
            if stop.is_set():
                return
            r = s.post(srv.base_url + LINKS, json=_body("bk-" + uuid.uuid4().hex[:10]),
                       headers={"Authorization": m["apiKey"]}, timeout=10)
            assert r.status_code == 201, r.text
            made.append(r.json()["paymentLinkRef"])

    # a database of a few thousand pages, which takes more than a moment to
    # copy: a copy that let go of its snapshot while the server commits
    # every few milliseconds would have to start again, and again
    s = requests.Session()
    for i in range(300):
        body = dict(_body(f"fill-{i}"), channel="none", additionalData={"note": "x" * 16000})
        r = s.post(srv.base_url + LINKS, json=body, headers={"Authorization": m["apiKey"]},
                   timeout=10)
        assert r.status_code == 201, r.text
    assert (tmp_path / "live.db").stat().st_size + (tmp_path / "live.db-wal").stat().st_size \
        > 4 << 20
    ts = [threading.Thread(target=load) for _ in range(3)]
    try:
        for t in ts:
            t.start()
        poll(lambda: len(made), lambda n: n >= 30, timeout=30)
        assert len(made) >= 30 and all(t.is_alive() for t in ts), "the load did not start"
        before = len(made)
        out = tmp_path / "copy.db"
        res = run_cli("db", "backup", "--to", str(out), "--db", db)
        after = len(made)
        assert res.returncode == 0, res.stderr
        assert f"backed up {db} to {out}" in res.stdout
        # the server goes on writing after the backup
        poll(lambda: len(made), lambda n: n > after, timeout=10)
    finally:
        stop.set()
        for t in ts:
            t.join(timeout=15)
        assert srv.stop() == 0
    # the server went on writing: nothing it answered was refused
    assert len(made) > after
    copy = f"sqlite:{out}"
    links = _count(copy, "links") - 300
    assert before <= links <= len(made), (before, links, len(made))
    # a consistent snapshot: every link has its history, the checks pass
    chk = run_cli("db", "check", "--db", copy, "--json")
    assert chk.returncode == 0, chk.stdout + chk.stderr
    assert chk.json()["ok"] is True
    assert not (tmp_path / "copy.db.part").exists()
    # an existing file is never overwritten
    again = run_cli("db", "backup", "--to", str(out), "--db", db)
    assert again.returncode == 1 and "exists" in again.stderr, again.stderr
    assert _count(copy, "links") == links + 300


def test_a_database_that_is_not_there_is_not_made(tmp_path):
    # a mistyped path: backed up, checked or copied, it would be a new empty one
    missing = tmp_path / "typo" / "chatpay.db"
    for args in (("db", "backup", "--to", str(tmp_path / "bk.db")), ("db", "check"),
                 ("db", "copy", "--to", f"sqlite:{tmp_path}/to.db")):
        flag = "--from" if args[1] == "copy" else "--db"
        res = run_cli(*args, flag, f"sqlite:{missing}")
        assert res.returncode == 1 and f"no database at sqlite:{missing}" in res.stderr, res.stderr
    assert not (tmp_path / "typo").exists() and not (tmp_path / "bk.db").exists()
    assert not (tmp_path / "to.db").exists()


def _files(folder):
    """Each file of a folder with the SHA-256 of its bytes."""
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in folder.iterdir()}


def test_a_database_that_is_not_chatpays_is_refused_and_left_as_it_is(tmp_path):
    # an empty file, and another program's database: neither is given
    # chatpay's schema, nor any file beside it
    (tmp_path / "empty.db").write_bytes(b"")
    con = sqlite3.connect(tmp_path / "other.db")
    con.execute("CREATE TABLE notes (body TEXT)")
    con.commit()
    con.close()
    before = _files(tmp_path)
    for name in ("empty.db", "other.db"):
        url = f"sqlite:{tmp_path / name}"
        for args in (("db", "check", "--db", url),
                     ("db", "backup", "--to", str(tmp_path / "bk.db"), "--db", url),
                     ("db", "copy", "--from", url, "--to", f"sqlite:{tmp_path}/to.db")):
            res = run_cli(*args)
            assert res.returncode == 1, (args, res)
            assert f"database {url}: there is no chatpay schema in it" in res.stderr, (args, res)
            assert "every check passed" not in res.stdout
            assert _files(tmp_path) == before, args


def test_a_schema_behind_or_ahead_is_refused_naming_what_to_do(tmp_path):
    db = f"sqlite:{tmp_path}/v.db"
    assert run_cli("migrate", "--db", db).returncode == 0
    latest = db_query(db, "SELECT MAX(version) FROM schema_migrations")[0][0]
    db_exec(db, "DELETE FROM schema_migrations WHERE version = ?", (latest,))
    # the one before (the numbers may have a gap: one kept for work not in yet)
    behind = db_query(db, "SELECT MAX(version) FROM schema_migrations")[0][0]
    for args in (("db", "check", "--db", db), ("db", "copy", "--from", db, "--to",
                                                f"sqlite:{tmp_path}/to.db")):
        res = run_cli(*args)
        assert res.returncode == 1, res
        assert f"its schema is at version {behind}, this chatpay's at {latest}:" \
            " run `chatpay migrate` on it first" in res.stderr, res.stderr
        # nothing was migrated meanwhile
        assert db_query(db, "SELECT MAX(version) FROM schema_migrations")[0][0] == behind
    db_exec(db, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'x', 0)",
            (latest + 1,))
    res = run_cli("db", "check", "--db", db)
    assert res.returncode == 1 and f"its schema is at version {latest + 1}, newer than this" \
        f" chatpay's ({latest}): use the chatpay that migrated it, or a newer one" in res.stderr, res
    # a backup is a copy of the file, whatever its schema's version
    res = run_cli("db", "backup", "--to", str(tmp_path / "bk.db"), "--db", db)
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "to.db").exists()


def test_a_read_only_backup_is_checked_and_copied_as_it_is(tmp_path):
    db = f"sqlite:{tmp_path}/live.db"
    _merchant(db, "Read Only")
    backups = tmp_path / "backups"
    backups.mkdir()
    bk = backups / "bk.db"
    assert run_cli("db", "backup", "--to", str(bk), "--db", db).returncode == 0
    url = f"sqlite:{bk}"
    before = _files(backups)
    # copied from: not a byte changed, nothing made beside it (no -epoch, no
    # -wal), still in rollback-journal mode
    res = run_cli("db", "copy", "--from", url, "--to", f"sqlite:{tmp_path}/to.db")
    assert res.returncode == 0, res.stderr
    assert _files(backups) == before
    assert db_query(url, "PRAGMA journal_mode")[0][0] == "delete"
    bk.chmod(0o444)
    backups.chmod(0o555)
    try:
        res = run_cli("db", "check", "--db", url)
        assert res.returncode == 0 and res.stdout.strip().endswith("every check passed"), res
        res = run_cli("db", "backup", "--to", str(tmp_path / "again.db"), "--db", url)
        assert res.returncode == 0, res.stderr
        # (root may write it all the same: that nothing was, is seen here)
        assert _files(backups) == before
        assert db_query(url, "PRAGMA journal_mode")[0][0] == "delete"
    finally:
        backups.chmod(0o755)
        bk.chmod(0o644)


def test_backup_refuses_a_damaged_copy_and_a_part_file_it_did_not_make(tmp_path):
    db = f"sqlite:{tmp_path}/d.db"
    assert run_cli("migrate", "--db", db).returncode == 0
    assert run_cli("merchant", "create", "--name", "Damaged", "--db", db).returncode == 0
    # a page of an index the CLI never reads, damaged behind SQLite's back
    root = db_query(db, "SELECT rootpage FROM sqlite_master WHERE name = 'wa_refunds_transaction'")[0][0]
    size = db_query(db, "PRAGMA page_size")[0][0]
    with open(tmp_path / "d.db", "r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\x0d\x00\x05\x00\x07\xff\xff")
    res = run_cli("db", "backup", "--to", str(tmp_path / "bk.db"), "--db", db)
    assert res.returncode == 1 and "the copy does not check" in res.stderr, res.stderr
    assert not (tmp_path / "bk.db").exists() and not (tmp_path / "bk.db.part").exists()
    # db check says which checks fail, even where the damage stops a query
    res = run_cli("db", "check", "--json", "--db", db)
    assert res.returncode == 1, res
    body = res.json()
    failed = {c["check"] for c in body["checks"] if not c["ok"]}
    assert body["ok"] is False and "SQLite integrity check" in failed, body
    assert len(body["checks"]) >= 10, body
    # FILE.part is where the copy is made: one that is there already is not ours
    good = f"sqlite:{tmp_path}/g.db"
    assert run_cli("migrate", "--db", good).returncode == 0
    assert run_cli("merchant", "create", "--name", "Good", "--db", good).returncode == 0
    (tmp_path / "out.db.part").write_text("someone's notes")
    res = run_cli("db", "backup", "--to", str(tmp_path / "out.db"), "--db", good)
    assert res.returncode == 1 and "out.db.part exists" in res.stderr, res.stderr
    assert (tmp_path / "out.db.part").read_text() == "someone's notes"
    assert not (tmp_path / "out.db").exists()


def _runs(*argv):
    """Whether a helper program is here and works (strace, setpriv: ptrace
    or capabilities may be refused in a container)."""
    if not shutil.which(argv[0]):
        return False
    try:
        return subprocess.run(argv, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(cp_helpers.on_postgres(), reason="db backup copies SQLite databases")
def test_backup_of_a_database_kept_locked_fails_in_time_and_writes_nothing(tmp_path):
    path = tmp_path / "locked.db"
    db = f"sqlite:{path}"
    _merchant(db, "Locked")
    if not _runs("strace", "-qq", "-o", os.devnull, "true"):
        pytest.skip("strace is needed to take the lock at the right moment")
    holder = sqlite3.connect(path, isolation_level=None, timeout=10)
    # in rollback-journal mode an exclusive lock keeps readers out too
    assert holder.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
    out, part = tmp_path / "bk.db", tmp_path / "bk.db.part"
    # the lock must come after the command read the schema (a locked
    # database fails that, in time, already) and before the copy: strace
    # holds the command 2 s in the open that makes bk.db.part
    argv = ["strace", "-f", "-qq", "-o", os.devnull, "-P", str(part), "-e", "trace=openat",
            "-e", "inject=openat:delay_exit=2000000:when=1",
            cp_helpers.chatpay_bin(), "db", "backup", "--to", str(out), "--db", db]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL, start_new_session=True,
                         env=cp_helpers.clean_env({
                             "CHATPAY_DB_STATEMENT_TIMEOUT_MS": "500",
                             # LeakSanitizer cannot run under ptrace
                             "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0"}))
    try:
        seen = poll(lambda: part.exists() or p.poll() is not None, bool, timeout=30)
        assert seen and part.exists(), p.communicate(timeout=10)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            _, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail("db backup still waits for the locked database after 20 s")
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
        holder.close()
    assert p.returncode == 1, err
    assert "db backup: the database stayed locked for 500 ms (db_statement_timeout_ms)" in err, err
    assert f"nothing was written ({part} removed)" in err, err
    assert sorted(f.name for f in tmp_path.iterdir() if f.name.startswith("bk.db")) == []
    # the lock was all: without it the backup is made
    res = run_cli("db", "backup", "--to", str(out), "--db", db)
    assert res.returncode == 0 and out.exists(), res.stderr


@pytest.mark.skipif(cp_helpers.on_postgres(), reason="db backup copies SQLite databases")
def test_a_backup_whose_folder_cannot_be_synced_is_made_with_a_warning(tmp_path):
    db = f"sqlite:{tmp_path}/live.db"
    _merchant(db, "Unsynced")
    folder = tmp_path / "backups"
    folder.mkdir()
    argv = [cp_helpers.chatpay_bin(), "db", "backup", "--to", str(folder / "bk.db"), "--db", db]
    if os.geteuid() == 0:  # root opens any folder: without the capabilities that let it
        drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
        if not _runs(*drop, "true"):
            pytest.skip("root, and setpriv cannot drop CAP_DAC_OVERRIDE")
        argv = drop + argv
    # a folder that may be written but not read: the copy is made and
    # renamed into it, but the folder cannot be opened to be synced
    folder.chmod(0o300)
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=cp_helpers.CLI_TIMEOUT,
                             stdin=subprocess.DEVNULL, env=cp_helpers.clean_env())
    finally:
        folder.chmod(0o755)
    # the backup is there, whole and checked: a success, with the warning
    assert res.returncode == 0, res.stderr
    assert f"backed up {db} to {folder / 'bk.db'}" in res.stdout, res.stdout
    assert "chatpay: warning: db backup:" in res.stderr, res.stderr
    assert "but its folder could not be synced (Permission denied)" in res.stderr, res.stderr
    assert sorted(f.name for f in folder.iterdir()) == ["bk.db"]
    chk = run_cli("db", "check", "--db", f"sqlite:{folder / 'bk.db'}")
    assert chk.returncode == 0, chk.stdout + chk.stderr


@pytest.mark.skipif(not cp_helpers.on_postgres(), reason="a PostgreSQL database is needed")
def test_a_password_in_the_database_url_is_not_shown(postgres_cluster):
    # (the throw-away cluster trusts its socket: the password is not checked)
    db = postgres_cluster.create_database("shown") + "&password=hunter2"
    res = run_cli("migrate", "--db", db)
    assert res.returncode == 0, res.stderr
    assert "hunter2" not in res.stdout + res.stderr, res
    assert "password=****" in res.stdout, res.stdout


def test_a_mistyped_database_url_is_shown_without_its_password(tmp_path):
    src = f"sqlite:{tmp_path}/src.db"
    assert run_cli("migrate", "--db", src).returncode == 0
    # a scheme no backend takes: the error names the URL, but not its password
    for url in ("postgresq://chatpay:hunter2@db.internal/chatpay",
                "mysql://chatpay:hunter2@db.internal/chatpay?password=hunter2"):
        shown = url.replace(":hunter2@", ":****@").replace("=hunter2", "=****")
        for args in (("db", "check", "--db", url),
                     ("db", "backup", "--to", str(tmp_path / "b.db"), "--db", url),
                     ("db", "copy", "--from", url, "--to", f"sqlite:{tmp_path}/to.db"),
                     ("db", "copy", "--from", src, "--to", url),
                     ("migrate", "--db", url)):
            res = run_cli(*args)
            assert res.returncode == 1, (args, res)
            assert "hunter2" not in res.stdout + res.stderr, (args, res)
            assert f"database URL {shown}: expected sqlite:PATH" in res.stderr, (args, res)
    assert not (tmp_path / "to.db").exists() and not (tmp_path / "b.db").exists()


@pytest.mark.skipif(not cp_helpers.on_postgres(), reason="a PostgreSQL database is needed")
def test_backup_of_postgresql_is_refused_with_the_tools_to_use(postgres_cluster, tmp_path):
    db = postgres_cluster.create_database("nobackup")
    res = run_cli("db", "backup", "--to", str(tmp_path / "x.db"), "--db", db)
    assert res.returncode == 1
    assert "pg_dump" in res.stderr
    assert not (tmp_path / "x.db").exists()


def test_check_passes_on_a_working_database_and_names_what_breaks(server, cli, api, http):
    m = cli("merchant", "create", "--name", "Checked", "--currencies", "ZAR", "--json").json()
    cp_helpers.SECRETS.api_keys.add(m["apiKey"])
    link = new_link(api, m["apiKey"], "Authorization")
    checkout(server, http, link, card_form(CARD_VISA))
    assert api.post(PAYMENT + link.ref + "/capture", key=m["apiKey"]).status_code == 200
    # a capture voided before it settled: the void follows the capture
    voided = new_link(api, m["apiKey"], "Authorization")
    checkout(server, http, voided, card_form(CARD_VISA))
    assert api.post(PAYMENT + voided.ref + "/capture", key=m["apiKey"]).status_code == 200
    res = api.post(PAYMENT + voided.ref + "/reverse", key=m["apiKey"])
    assert res.status_code == 200 and status_of(api, m["apiKey"], voided.ref)["paymentStatus"] \
        == "VOIDED", res.text
    # a settings callback: a delivery job of no link
    assert cli("merchant", "update", m["merchantId"], "--settings-callback",
               "http://127.0.0.1:9/settings").returncode == 0
    key = cli("apikey", "create", "--merchant", m["merchantId"], "--json").json()["apiKey"]
    cp_helpers.SECRETS.api_keys.add(key)
    deliveries = db_query(server.db_url, "SELECT COUNT(*) FROM jobs WHERE kind = 7 AND link_id = 0"
                                         " AND merchant_id = ?", (m["merchantId"],))[0][0]
    assert deliveries >= 1
    db = ("--db", server.db_url)
    res = cli("db", "check", "--json", *db)
    assert res.returncode == 0, res.stdout + res.stderr
    checks = {c["check"]: c for c in res.json()["checks"]}
    assert all(c["ok"] and c["problems"] == 0 for c in checks.values()), checks
    assert len(checks) >= 10
    text = cli("db", "check", *db)
    assert text.returncode == 0 and text.stdout.strip().endswith("every check passed")

    # break two invariants behind chatpay's back
    lid = db_query(server.db_url, "SELECT id FROM links WHERE ref = ?", (link.ref,))[0][0]
    db_exec(server.db_url, "UPDATE links SET subtotal_minor = 1, tax_minor = 1 WHERE id = ?",
            (lid,))
    db_exec(server.db_url, "UPDATE payment_ops SET amount_minor = amount_minor * 2"
                           " WHERE link_id = ? AND op = 3", (lid,))
    db_exec(server.db_url, "UPDATE jobs SET arg = -arg WHERE kind = 7 AND merchant_id = ?",
            (m["merchantId"],))
    try:
        res = cli("db", "check", "--json", *db)
        assert res.returncode == 1, res.stdout
        body = res.json()
        assert body["ok"] is False
        bad = {c["check"]: c["problems"] for c in body["checks"] if not c["ok"]}
        # (the delivery may have been tried again meanwhile: at least those counted)
        assert bad.pop("every callback delivery is for a callback of its merchant", 0) \
            >= deliveries, bad
        assert bad == {"a link's subtotal and tax add up to its total": 1,
                       "no capture is larger than its authorization": 1}, bad
        text = cli("db", "check", *db)
        assert text.returncode == 1
        assert "FAIL  no capture is larger than its authorization: 1 problem" in text.stdout
        assert "3 check(s) failed" in text.stdout
    finally:
        db_exec(server.db_url, "UPDATE links SET subtotal_minor = NULL, tax_minor = NULL"
                               " WHERE id = ?", (lid,))
        db_exec(server.db_url, "UPDATE payment_ops SET amount_minor = amount_minor / 2"
                               " WHERE link_id = ? AND op = 3", (lid,))
        db_exec(server.db_url, "UPDATE jobs SET arg = -arg WHERE kind = 7 AND merchant_id = ?",
                (m["merchantId"],))
    assert cli("db", "check", *db).returncode == 0


def test_a_finished_delivery_of_a_purged_callback_breaks_nothing(tmp_path):
    db = cp_helpers.db_url_for(tmp_path / "purged.db")
    m = _merchant(db, "Purged Callback")
    # a settings callback: a delivery job of no link, for a callback row
    assert run_cli("merchant", "update", m["merchantId"], "--settings-callback",
                   "http://127.0.0.1:9/settings", db_url=db).returncode == 0
    assert run_cli("apikey", "create", "--merchant", m["merchantId"], db_url=db).returncode == 0
    rows = db_query(db, "SELECT id, arg FROM jobs WHERE kind = 7 AND merchant_id = ?",
                    (m["merchantId"],))
    assert len(rows) == 1, rows
    job, cb = rows[0]
    name = "every callback delivery is for a callback of its merchant"

    def check():
        res = run_cli("db", "check", "--json", "--db", db)
        return res.returncode, {c["check"]: c["problems"] for c in res.json()["checks"]}

    # delivered, and purged 30 days later; its finished job kept (the newest
    # job always is): nothing is wrong
    db_exec(db, "UPDATE callbacks SET state = 1, delivered_at = 1, updated_at = 1 WHERE id = ?",
            (cb,))
    db_exec(db, "UPDATE jobs SET done_at = 1 WHERE id = ?", (job,))
    assert db_exec(db, "DELETE FROM callbacks WHERE id = ?", (cb,)) == 1
    rc, checks = check()
    assert rc == 0 and checks[name] == 0, checks
    # a delivery still to be made, of a callback that is not there, is broken
    db_exec(db, "UPDATE jobs SET done_at = 0 WHERE id = ?", (job,))
    rc, checks = check()
    assert rc == 1 and checks[name] == 1, checks
    assert [c for c, n in checks.items() if n] == [name], checks


def test_a_sum_past_64_bits_is_a_failed_check_not_an_error(server, cli, api):
    m = cli("merchant", "create", "--name", "Overflow", "--currencies", "ZAR", "--json").json()
    cp_helpers.SECRETS.api_keys.add(m["apiKey"])
    link = new_link(api, m["apiKey"], "Sale")
    lid = db_query(server.db_url, "SELECT id FROM links WHERE ref = ?", (link.ref,))[0][0]
    # (PostgreSQL's bigint sum would fail the query, and did every check after it)
    db_exec(server.db_url, "UPDATE links SET subtotal_minor = 9223372036854775807, tax_minor = 1"
                           " WHERE id = ?", (lid,))
    try:
        res = cli("db", "check", "--json", "--db", server.db_url)
        assert res.returncode == 1, res
        failed = [c for c in res.json()["checks"] if not c["ok"]]
        assert failed == [{"check": "a link's subtotal and tax add up to its total",
                           "problems": 1, "ok": False}], failed
    finally:
        db_exec(server.db_url, "UPDATE links SET subtotal_minor = NULL, tax_minor = NULL"
                               " WHERE id = ?", (lid,))


def test_a_check_that_cannot_be_run_fails_alone(tmp_path):
    db = cp_helpers.db_url_for(tmp_path / "renamed.db")
    _merchant(db, "Renamed")
    # a table gone behind chatpay's back: the checks that read it cannot be run
    db_exec(db, "ALTER TABLE payment_ops RENAME TO payment_ops_away")
    res = run_cli("db", "check", "--json", "--db", db)
    assert res.returncode == 1, res
    checks = res.json()["checks"]
    failed = {c["check"]: (c["problems"], c.get("detail")) for c in checks if not c["ok"]}
    cannot = (1, "it could not be run (see the log)")
    # the four that read payment_ops, and none of the ten after them
    assert failed == {
        "every payment operation belongs to a link of its merchant": cannot,
        "every capture, reversal, void and refund follows a payment of the same link": cannot,
        "no capture is larger than its authorization": cannot,
        "refunds (pending or done) add up to no more than what was paid": cannot,
    }, failed
    assert len(checks) == 16 and checks[-1]["ok"], checks
    text = run_cli("db", "check", "--db", db)
    assert text.returncode == 1 and "4 check(s) failed" in text.stdout, text


def test_a_failed_copy_says_what_it_left_in_the_target(tmp_path):
    src = f"sqlite:{tmp_path}/src.db"
    _merchant(src, "Half Copied")
    # a table after the merchants damaged behind SQLite's back: the copy
    # stops there, the merchants copied before it rolled back
    root = db_query(src, "SELECT rootpage FROM sqlite_master WHERE name = 'providers'")[0][0]
    size = db_query(src, "PRAGMA page_size")[0][0]
    with open(tmp_path / "src.db", "r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\xff" * 16)
    latest = None
    left = {"new": "the target was made, with this version's schema and no rows",
            "blank": "no row was copied into the target (it was migrated to this version's"
                     " schema)",
            "old": "no row was copied into the target (its schema was this version's already)"}
    for name, says in left.items():
        to = f"sqlite:{tmp_path}/{name}.db"
        if name == "old":
            assert run_cli("migrate", "--db", to).returncode == 0
        elif name == "blank":
            sqlite3.connect(tmp_path / "blank.db").close()  # an empty file
        res = run_cli("db", "copy", "--from", src, "--to", to)
        assert res.returncode == 1, res
        assert "unchanged" not in res.stderr, res.stderr
        assert "db copy: the copy failed (see the log above); " + says in res.stderr, res.stderr
        # so it is
        assert _count(to, "merchants") == 0
        version = db_query(to, "SELECT MAX(version) FROM schema_migrations")[0][0]
        assert version == (latest or version)
        latest = version


def _purchase(db_url):
    """A marketplace purchase as an older chatpay kept it: authCode and the
    whole account number (migration 19 drops the one and masks the other)."""
    db_exec(db_url, "INSERT INTO mp_clients (id, client_id, name, funding_source_id, environment,"
                    " secret_hash, api_key_hash, api_key_prefix, api_key_last4, signature_secret,"
                    " created_at, updated_at) VALUES ('c1', 1, 'c', 1, 0, ?, ?, 'p', 'l4', 's', 0, 0)",
            (b"\x00", b"\x01"))
    db_exec(db_url, "INSERT INTO mp_products (id, name, type, vendor, currency, min_amount,"
                    " max_amount, created_at, updated_at) VALUES (1, 'p', 'airtime', 'v', 'ZAR', 1,"
                    " 10, 0, 0)")
    db_exec(db_url, "INSERT INTO mp_purchases (raas_ref, client_uuid, client_txn_ref, body_hash,"
                    " reserve_ref, product_id, funding_source_id, account_identifier, auth_code,"
                    " source_identifier, target_identifier, channel_id, channel_name,"
                    " channel_session_id, currency, purchase_amount, fee_amount, request_timestamp,"
                    " created_at, updated_at) VALUES ('r1', 'c1', 't1', ?, 'rr', 1, 1,"
                    " '4111111111111111', '123456', 's', 't', 1, 'c', 'cs', 'ZAR', 5, 0, 'ts', 0, 0)",
            (b"\x00",))


def _state(db_url):
    """What a refused copy must leave as it was."""
    return (db_query(db_url, "SELECT version FROM schema_migrations ORDER BY version"),
            db_query(db_url, "SELECT id, name FROM merchants ORDER BY id"),
            db_query(db_url, "SELECT account_identifier, auth_code FROM mp_purchases"))


def test_copy_refuses_a_deployment_or_another_schema_before_writing_to_it(tmp_path):
    src = cp_helpers.db_url_for(tmp_path / "src.db")
    _merchant(src, "Copied Store")
    latest = db_query(src, "SELECT MAX(version) FROM schema_migrations")[0][0]
    untouched = "nothing was changed in it: copy only into a new, empty database"

    # a live deployment of the chatpay before this one, named by mistake:
    # not migrated (migration 19 would mask its purchases for good)
    live = cp_helpers.db_url_for(tmp_path / "live.db")
    _merchant(live, "Live Store")
    _purchase(live)
    db_exec(live, "DELETE FROM schema_migrations WHERE version = ?", (latest,))
    behind = db_query(live, "SELECT MAX(version) FROM schema_migrations")[0][0]
    before = _state(live)
    res = run_cli("db", "copy", "--from", src, "--to", live)
    assert res.returncode == 1, res
    assert f"db copy: the target database's schema is at version {behind}, behind this" \
        f" chatpay's ({latest}); {untouched}" in res.stderr, res.stderr
    assert _state(live) == before
    assert before[2] == [("4111111111111111", "123456")]

    # the same deployment at this version: refused as not empty
    db_exec(live, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'x', 0)",
            (latest,))
    before = _state(live)
    res = run_cli("db", "copy", "--from", src, "--to", live)
    assert res.returncode == 1, res
    assert f"db copy: the target database is not empty (table merchants has 1 rows); {untouched}" \
        in res.stderr, res.stderr
    assert _state(live) == before

    # an empty database migrated by a newer chatpay: its schema is not this one's
    newer = cp_helpers.db_url_for(tmp_path / "newer.db")
    assert run_cli("migrate", "--db", newer).returncode == 0
    db_exec(newer, "ALTER TABLE links ADD COLUMN future INTEGER NOT NULL DEFAULT 0")
    db_exec(newer, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'x', 0)",
            (latest + 1,))
    res = run_cli("db", "copy", "--from", src, "--to", newer)
    assert res.returncode == 1, res
    assert f"db copy: the target database's schema is at version {latest + 1}, newer than this" \
        f" chatpay's ({latest}); {untouched}" in res.stderr, res.stderr
    assert _count(newer, "merchants") == 0

    # another program's database (named by mistake), whether or not one of
    # its tables has the name of one of chatpay's
    for name, tables in (("other.db", ["merchants"]), ("app.db", ["accounts", "orders"])):
        other = cp_helpers.db_url_for(tmp_path / name)
        if not cp_helpers.on_postgres():
            sqlite3.connect(tmp_path / name).close()
        for t in tables:
            db_exec(other, f"CREATE TABLE {t} (id TEXT)")
        res = run_cli("db", "copy", "--from", src, "--to", other)
        assert res.returncode == 1, res
        assert f"db copy: the target database has {len(tables)} table(s) but no chatpay schema" \
            f" version; {untouched}" in res.stderr, res.stderr
        assert sorted(cp_helpers.db_tables(other)) == tables

    # an empty one at this version, and one with no chatpay schema, are copied into
    for name, migrated in (("same.db", True), ("blank.db", False)):
        dst = cp_helpers.db_url_for(tmp_path / name)
        if migrated:
            assert run_cli("migrate", "--db", dst).returncode == 0
        elif not cp_helpers.on_postgres():
            sqlite3.connect(tmp_path / name).close()  # an empty file
            assert (tmp_path / name).exists()
        res = run_cli("db", "copy", "--from", src, "--to", dst)
        assert res.returncode == 0 and "copied and verified" in res.stdout, (name, res)
        assert _count(dst, "merchants") == 1
        assert db_query(dst, "SELECT MAX(version) FROM schema_migrations")[0][0] == latest


def test_text_the_target_would_not_keep_is_refused_naming_its_row(tmp_path):
    # SQLite's text may hold a NUL byte (a database edited by hand): copied
    # as a C string it was cut there, and the checksum, cut the same way,
    # said "same"
    src = f"sqlite:{tmp_path}/src.db"
    m = _merchant(src, "Nul Store")
    db_exec(src, "UPDATE merchants SET name = CAST(X'4E756C0053746F7265' AS TEXT)")
    where = f"table merchants, column name of the row whose id is '{m['merchantId']}': its text" \
        " holds "
    dst = cp_helpers.db_url_for(tmp_path / "dst.db")
    res = run_cli("db", "copy", "--from", src, "--to", dst)
    assert res.returncode == 1, res
    assert where + "a NUL byte, which the copy would not keep" in res.stderr, res.stderr
    assert _count(dst, "merchants") == 0
    if cp_helpers.on_postgres():
        # text that is not UTF-8: PostgreSQL's would refuse it, naming no row
        db_exec(src, "UPDATE merchants SET name = CAST(X'4E75FF' AS TEXT)")
        res = run_cli("db", "copy", "--from", src, "--to", dst)
        assert res.returncode == 1, res
        assert where + "bytes that are not UTF-8" in res.stderr, res.stderr
        assert _count(dst, "merchants") == 0
    # corrected, it is copied
    db_exec(src, "UPDATE merchants SET name = 'Nul Store'")
    res = run_cli("db", "copy", "--from", src, "--to", dst)
    assert res.returncode == 0 and "copied and verified" in res.stdout, res


def test_copy_needs_two_different_databases(tmp_path):
    res = run_cli("db", "copy", "--from", f"sqlite:{tmp_path}/a.db")
    assert res.returncode == 2 and "--from and --to are required" in res.stderr
    res = run_cli("db", "copy", "--from", f"sqlite:{tmp_path}/a.db", "--to",
                  f"sqlite:{tmp_path}/a.db")
    assert res.returncode == 2 and "same database" in res.stderr
    res = run_cli("db", "frobnicate")
    assert res.returncode == 2
    # one file however its path is spelled: refused at once, not waiting
    # on its own lock
    assert run_cli("migrate", "--db", f"sqlite:{tmp_path}/a.db").returncode == 0
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.db").symlink_to(tmp_path / "a.db")
    for to, cwd in ((f"sqlite:{tmp_path}/./a.db", None), (f"sqlite:{tmp_path}/sub/../a.db", None),
                    (f"sqlite://{tmp_path}/a.db", None), ("sqlite:a.db", tmp_path),
                    (f"sqlite:{tmp_path}/link.db", None)):
        res = run_cli("db", "copy", "--from", f"sqlite:{tmp_path}/a.db", "--to", to, cwd=cwd,
                      timeout=10)
        assert res.returncode == 2 and "same database" in res.stderr, (to, res)


def _hold(db_url, table, mode="ACCESS EXCLUSIVE"):
    """An open transaction of a connection of its own on a PostgreSQL
    database, holding `table` locked (against everything by default);
    rollback() lets go of it."""
    import psycopg2

    con = psycopg2.connect(db_url, connect_timeout=10)
    con.cursor().execute(f"LOCK TABLE {table} IN {mode} MODE")
    return con


def _waiting(db_url):
    """How many sessions wait for a lock in the database."""
    return db_query(db_url, "SELECT COUNT(*) FROM pg_locks l JOIN pg_database d"
                            " ON d.oid = l.database WHERE NOT l.granted"
                            " AND d.datname = current_database()")[0][0]


def _run_held(args, db_url, table, env=None, meanwhile=lambda proc: time.sleep(1),
              mode="ACCESS EXCLUSIVE"):
    """Run `chatpay ARGS` while `table` of db_url is held locked (in `mode`);
    once the command waits on it, call meanwhile(proc) (by default: wait a
    second, far past the statement timeouts of the tests), then let go of
    it. The command's result."""
    held = _hold(db_url, table, mode)
    proc = subprocess.Popen([cp_helpers.chatpay_bin(), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=cp_helpers.clean_env(env), stdin=subprocess.DEVNULL)
    try:
        assert poll(lambda: _waiting(db_url), lambda n: n >= 1, timeout=20) >= 1, \
            "the command never reached the locked table"
        meanwhile(proc)
        held.rollback()
        out, err = proc.communicate(timeout=60)
    finally:
        held.close()
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return cp_helpers.CliResult(proc.returncode, out, err)


@pytest.mark.skipif(not cp_helpers.on_postgres(), reason="a PostgreSQL database is needed")
def test_copy_and_check_take_what_they_take_past_the_statement_timeout(postgres_cluster,
                                                                       tmp_path):
    src = postgres_cluster.create_database("large_src")
    m = _merchant(src, "Large Store")
    rows = 30000  # read through a cursor, a batch at a time
    db_exec(src, "INSERT INTO optouts (merchant_id, msisdn, source, created_at)"
                 " SELECT ?, '+2782' || LPAD(g::text, 7, '0'), 'cli', g FROM generate_series(1, ?) g",
            (m["merchantId"], rows))
    # a statement timeout of 100 ms (and 400 ms idle in a transaction):
    # each statement below waits a second on a lock, which stands for a
    # table too large to read in that time
    quick = {"CHATPAY_DB_STATEMENT_TIMEOUT_MS": "100"}
    res = _run_held(("db", "check", "--db", src), src, "links", quick)
    assert res.returncode == 0 and res.stdout.strip().endswith("every check passed"), res
    dst = postgres_cluster.create_database("large_dst")
    assert run_cli("migrate", "--db", dst).returncode == 0
    # (held against writes only: the target is read, to see it is empty,
    # before the source is locked and the copy begins)
    res = _run_held(("db", "copy", "--from", src, "--to", dst, "--json"), dst, "optouts", quick,
                    mode="EXCLUSIVE")
    assert res.returncode == 0, res
    by = {t["table"]: t for t in res.json()["tables"]}
    assert by["optouts"]["rows"] == by["optouts"]["copied"] == rows, by["optouts"]
    assert _count(dst, "optouts") == rows
    # and into SQLite, the source read a batch at a time
    res = run_cli("db", "copy", "--from", src, "--to", f"sqlite:{tmp_path}/large.db", env=quick)
    assert res.returncode == 0, res
    assert _count(f"sqlite:{tmp_path}/large.db", "optouts") == rows


@pytest.mark.skipif(not cp_helpers.on_postgres(), reason="a PostgreSQL source is needed")
def test_a_write_to_a_postgresql_source_waits_for_the_copy(postgres_cluster, tmp_path):
    src = postgres_cluster.create_database("locked_src")
    m = _merchant(src, "Locked Source")
    optout = ("optout", "add", "--merchant", m["merchantId"], "--number", "+27820001111",
              "--db", src)
    quick = {"CHATPAY_DB_STATEMENT_TIMEOUT_MS": "500"}
    dst = postgres_cluster.create_database("locked_dst")
    assert run_cli("migrate", "--db", dst).returncode == 0
    # the copy held half-way (a table of its target locked against writes
    # by another session): an opt-out added to the source meanwhile waits for the copy
    # to end (here, gives up after its statement timeout) rather than
    # commit beside it, missing from the copy

    def write_meanwhile(copy):
        began = time.monotonic()
        res = run_cli(*optout, env=quick)
        assert res.returncode == 1 and "timeout" in res.stderr, res
        assert time.monotonic() - began >= 0.5
        assert copy.poll() is None, "the copy ended while its target was locked"

    res = _run_held(("db", "copy", "--from", src, "--to", dst), dst, "merchants",
                    meanwhile=write_meanwhile, mode="EXCLUSIVE")
    assert res.returncode == 0 and "copied and verified" in res.stdout, res
    assert _count(src, "optouts") == _count(dst, "optouts") == 0
    # once the copy is done, the source takes writes again
    assert run_cli(*optout, env=quick).returncode == 0
    assert _count(src, "optouts") == 1

    # a session in the middle of writing the source: the copy waits for it
    # as long as a statement may take, then says so, copying nothing
    writer = _hold(src, "optouts", "ROW EXCLUSIVE")  # what an INSERT holds to its commit
    other = postgres_cluster.create_database("locked_dst2")
    began = time.monotonic()
    try:
        res = run_cli("db", "copy", "--from", src, "--to", other, env=quick)
    finally:
        writer.close()
    assert res.returncode == 1, res
    assert "the source's tables could not be locked within 500 ms (db_statement_timeout_ms):" \
        " another session is writing them" in res.stderr, res.stderr
    assert time.monotonic() - began < 20
    assert _count(other, "merchants") == 0


@pytest.mark.skipif(not cp_helpers.on_postgres(), reason="a PostgreSQL source is needed")
def test_a_source_lost_after_the_target_committed_is_a_finished_copy(postgres_cluster):
    src = postgres_cluster.create_database("lost_src")
    _merchant(src, "Lost Source")
    dst = postgres_cluster.create_database("lost_dst")
    assert run_cli("migrate", "--db", dst).returncode == 0
    # at the target's commit (a deferred trigger, run by COMMIT), the
    # source's session, holding its tables locked, is ended: the source's
    # read-only transaction then fails to commit, after the copy committed
    db_exec(dst, "CREATE FUNCTION end_source() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                 " PERFORM pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d"
                 " ON d.oid = l.database WHERE d.datname = '%s' AND l.locktype = 'relation'"
                 " AND l.mode = 'ExclusiveLock'; PERFORM pg_sleep(0.5); RETURN NULL; END $$"
            % postgres_cluster.dbname(src))
    db_exec(dst, "CREATE CONSTRAINT TRIGGER end_source AFTER INSERT ON merchants DEFERRABLE"
                 " INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION end_source()")
    res = run_cli("db", "copy", "--from", src, "--to", dst)
    # the copy is made and verified: it is not tried again (and refused as
    # "not empty"), nor reported failed
    assert res.returncode == 0 and "copied and verified" in res.stdout, res
    assert "not empty" not in res.stderr, res.stderr
    assert "the source's transaction failed after the copy was committed to the target;" \
        " the copy is complete" in res.stderr, res.stderr
    assert _count(dst, "merchants") == 1


@pytest.mark.skipif(not cp_helpers.on_postgres(), reason="the target is a PostgreSQL database")
def test_copy_from_sqlite_to_postgresql(postgres_cluster, tmp_path, http):
    src = f"sqlite:{tmp_path / 'src.db'}"
    m = _merchant(src, "Moving Store")
    srv = start_server(tmp_path / "src", src, name="src")
    api = ApiClient(srv.base_url)
    try:
        paid = new_link(api, m["apiKey"], "Authorization")
        checkout(srv, http, paid, card_form(CARD_VISA))
        cap = api.post(PAYMENT + paid.ref + "/capture", key=m["apiKey"],
                       headers={"Idempotency-Key": "move-" + uuid.uuid4().hex})
        assert cap.status_code == 200, cap.text
        refs = [new_link(api, m["apiKey"], "Sale").ref for _ in range(5)]
        res = run_cli("optout", "add", "--merchant", m["merchantId"], "--number", "+27820009999",
                      "--db", src)
        assert res.returncode == 0, res.stderr
    finally:
        api.close()
        assert srv.stop() == 0
    tables = ["merchants", "api_keys", "links", "link_statuses", "jobs", "payment_ops",
              "idempotency_keys", "optouts", "sandbox_messages", "sandbox_gateway"]
    counts = {t: _count(src, t) for t in tables}
    assert counts["payment_ops"] >= 2 and counts["idempotency_keys"] >= 1 and counts["optouts"] == 1

    dst = postgres_cluster.create_database("copy_target")
    res = run_cli("db", "copy", "--from", src, "--to", dst, "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.json()
    assert out["verified"] is True
    by = {t["table"]: t for t in out["tables"]}
    for t in tables:
        assert by[t]["rows"] == counts[t] == by[t]["copied"], (t, by[t], counts[t])
        assert by[t]["same"] is True and len(by[t]["checksum"]) == 64
        assert _count(dst, t) == counts[t]
    # a second copy into the same database is refused, and changes nothing
    again = run_cli("db", "copy", "--from", src, "--to", dst)
    assert again.returncode == 1 and "not empty" in again.stderr, again.stderr
    assert _count(dst, "links") == counts["links"]
    assert run_cli("db", "check", "--db", dst).returncode == 0

    # the deployment runs on the copy: same key, same links, new ids after the old
    pg = start_server(tmp_path / "dst", dst, name="dst")
    api = ApiClient(pg.base_url)
    try:
        st = status_of(api, m["apiKey"], paid.ref)
        assert [e["transactionType"] for e in st["paymentStatuses"]] == ["Authorization", "Capture"]
        for ref in refs:
            assert status_of(api, m["apiKey"], ref)["paymentLinkRef"] == ref
        newer = new_link(api, m["apiKey"], "Sale")
        ids = db_query(dst, "SELECT id FROM links ORDER BY id")
        assert db_query(dst, "SELECT id FROM links WHERE ref = ?", (newer.ref,))[0][0] == ids[-1][0]
        assert len(ids) == counts["links"] + 1
    finally:
        api.close()
        assert pg.stop() == 0
