"""The command line: help, usage errors, merchants, API keys, integrators,
migrations, configuration precedence and `serve --dev`."""

from __future__ import annotations

import re
import signal
import subprocess
import time

import pytest

from cp_helpers import (
    API_KEY_RE,
    SECRETS,
    UUID_RE,
    ServerProcess,
    assert_no_secrets,
    chatpay_bin,
    clean_env,
    db_tables,
    db_url_for,
    free_port,
    port_accepts,
    run_cli,
    sqlite_only,
    start_server,
)
from openapi_check import REPO, ApiClient, parse_rfc3339

CONFIG = "/api/v2/config"


def assert_usage_error(res, *needles):
    assert res.returncode == 2, res
    assert any(l.startswith("chatpay: ") for l in res.stderr.splitlines()), res.stderr
    assert "usage: chatpay" in res.stderr
    assert res.stdout == ""
    for n in needles:
        assert n in res.stderr, (n, res.stderr)


def assert_runtime_error(res, *needles):
    assert res.returncode == 1, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("chatpay: ")
    assert res.stdout == ""
    for n in needles:
        assert n in res.stderr, (n, res.stderr)


# ---- help and usage -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, first_line",
    [
        (["--help"], "usage: chatpay COMMAND"),
        (["-h"], "usage: chatpay COMMAND"),
        (["help"], "usage: chatpay COMMAND"),
        (["serve", "--help"], "usage: chatpay serve"),
        (["migrate", "--help"], "usage: chatpay migrate"),
        (["merchant", "--help"], "usage: chatpay merchant"),
        (["merchant", "create", "--help"], "usage: chatpay merchant"),
        (["apikey", "--help"], "usage: chatpay apikey"),
        (["apikey", "create", "--help"], "usage: chatpay apikey"),
        (["integrator", "--help"], "usage: chatpay integrator"),
        (["integrator", "add", "--help"], "usage: chatpay integrator"),
        (["whatsapp", "-h"], "usage: chatpay whatsapp"),
        (["whatsapp", "number", "--help"], "usage: chatpay whatsapp"),
        (["marketplace", "-h"], "usage: chatpay marketplace"),
        (["marketplace", "client", "--help"], "usage: chatpay marketplace"),
        (["db", "help"], "usage: chatpay db"),
    ],
)
def test_help(args, first_line, tmp_path):
    res = run_cli(*args, cwd=tmp_path)
    assert res.returncode == 0, res
    assert res.stdout.startswith(first_line), res.stdout
    assert res.stderr == ""
    assert not (tmp_path / "var").exists()  # --help touches no database


def test_top_level_help_lists_commands(tmp_path):
    out = run_cli("--help", cwd=tmp_path).stdout
    for cmd in ("serve", "migrate", "merchant", "apikey", "integrator"):
        assert re.search(rf"^\s+{cmd}\s", out, re.M), cmd


def test_version(tmp_path):
    res = run_cli("--version", cwd=tmp_path)
    assert res.returncode == 0
    version = (REPO / "VERSION").read_text().strip()
    assert res.stdout.startswith(f"chatpay {version} ")


def test_no_arguments(tmp_path):
    res = run_cli(cwd=tmp_path)
    assert res.returncode == 2
    assert "usage: chatpay" in res.stderr and res.stdout == ""


@pytest.mark.parametrize(
    "args, needle",
    [
        (["frobnicate"], 'unknown command "frobnicate"'),
        (["merchant"], "missing subcommand"),
        (["merchant", "explode"], "unknown subcommand"),
        (["merchant", "create"], "--name is required"),
        (["merchant", "create", "--name", "X", "--bogus"], "--bogus"),
        (["merchant", "create", "--name"], "--name"),
        (["merchant", "create", "--name", "X", "--currencies", "XYZ"], "XYZ"),
        (["merchant", "create", "--name", "X", "--currencies", "ZAR,ZAR"], "ZAR"),
        (["merchant", "create", "--name", "X", "--currencies", "ZA"], "currencies"),
        (["merchant", "create", "--name", "X", "--currencies", ""], "currencies"),
        (["merchant", "create", "--name", "X", "--environment", "staging"], "--environment"),
        (["merchant", "create", "--name", "X", "--channels", "fax"], "--channels"),
        (["merchant", "create", "--name", ""], "--name"),
        # names are whole UTF-8 text of at most 255 bytes, no control characters
        (["merchant", "create", "--name", "Bad\udcffName"], "--name"),
        (["merchant", "create", "--name", "Line1\nLine2"], "--name"),
        # ... C1 controls (U+009B is a terminal's CSI, U+0085 a line break)
        # and the line and paragraph separators included
        (["merchant", "create", "--name", "Shop\u009b2J"], "--name"),
        (["merchant", "create", "--name", "Line1\u0085Line2"], "--name"),
        (["merchant", "create", "--name", "Shop\u0080"], "--name"),
        (["merchant", "create", "--name", "Line1\u2028Line2"], "--name"),
        (["merchant", "create", "--name", "Para\u2029"], "--name"),
        (["merchant", "update", "x", "--name", "Shop\u009f"], "--name"),
        (["integrator", "add", "--merchant", "x", "--name", "App\u009b", "--type", "OMS"], "--name"),
        (["marketplace", "client", "create", "--client-id", "200", "--name", "Bank\u0085"],
         "--name"),
        (["merchant", "create", "--name", "\u00e9" * 128], "--name"),
        (["integrator", "add", "--merchant", "x", "--name", "Bad\udcff", "--type", "OMS"], "--name"),
        (["marketplace", "client", "create", "--client-id", "200", "--name", "\u00e9" * 128],
         "--name"),
        (["merchant", "create", "--name", "X", "extra"], "extra"),
        (["merchant", "show"], "MERCHANT_ID"),
        (["merchant", "list", "--name", "X"], "takes no"),
        (["apikey"], "missing subcommand"),
        (["apikey", "create"], "--merchant"),
        (["apikey", "rotate", "--merchant", "x"], "unknown subcommand"),
        (["apikey", "revoke"], "KEY_ID"),
        (["apikey", "list", "--merchant", "x", "--bogus"], "--bogus"),
        (["integrator", "add", "--merchant", "x", "--name", "N", "--type", "ROBOT"], "--type"),
        (["integrator", "add", "--merchant", "x", "--name", "N"], "--type"),
        (["integrator", "add", "--name", "N", "--type", "OMS"], "--merchant"),
        (["integrator", "list", "--merchant", "x", "--type", "OMS"], "takes no"),
        (["whatsapp", "number", "list", "--merchant", "x", "--phone-number-id", "9"], "takes no"),
        (["whatsapp", "number", "add", "--merchant", "x", "--phone-number-id", "9",
          "--display-number", "27820000001", "--gateway", "bogus"], "takes no --gateway"),
        (["whatsapp", "payment-config", "add", "--merchant", "x", "--name", "c", "--gateway",
          "sandbox", "--display-number", "abc"], "takes no --display-number"),
        (["whatsapp", "payment-config", "list", "--merchant", "x", "--name", "c"], "takes no"),
        (["serve", "--bogus"], "--bogus"),
        (["serve", "--listen", "nonsense"], "listen"),
        (["serve", "--listen", "127.0.0.1:99999"], "listen"),
        (["serve", "--listen", "127.0.0.1:0"], "port 1 to 65535"),
        (["serve", "--public-url", "ftp://x"], "public-url"),
        (["serve", "extra"], "extra"),
        (["migrate", "--bogus"], "--bogus"),
        (["migrate", "extra"], "extra"),
    ],
)
def test_usage_errors(tmp_path, args, needle):
    # no --db added: the arguments are exactly these (a usage error never
    # reaches the database; the cwd has no var/ for the default one)
    res = run_cli(*args, cwd=tmp_path, timeout=10)
    assert_usage_error(res, needle)


def test_usage_errors_have_no_side_effects(tmp_path):
    """A mistyped command must not create or migrate a database (here: the
    default sqlite:var/chatpay.db under the working directory)."""
    cases = [
        ["merchant", "create", "--name", "X", "--currencies", "XYZ"],
        ["merchant", "create", "--name", "X", "--environment", "staging"],
        ["merchant", "create", "--name", "X", "--channels", "fax"],
        ["merchant", "create", "--name", ""],
        ["merchant", "update", "00000000-0000-4000-8000-000000000000", "--currencies", "XYZ"],
        ["integrator", "add", "--merchant", "x", "--name", "N", "--type", "ROBOT"],
        ["serve", "--listen", "nonsense"],
    ]
    touched = []
    for i, args in enumerate(cases):
        cwd = tmp_path / f"case{i}"
        cwd.mkdir()
        res = run_cli(*args, cwd=cwd, timeout=10)
        assert res.returncode == 2, (args, res)
        if (cwd / "var").exists():
            touched.append(" ".join(args))
    assert not touched, f"usage errors that created var/chatpay.db: {touched}"


def test_usage_error_creates_nothing(cli):
    before = cli("merchant", "list", "--json").json()
    for cur in ("XYZ", "ZAR,XYZ", "ZAR,,USD"):
        assert cli("merchant", "create", "--name", "Nope", "--currencies", cur).returncode == 2
    after = cli("merchant", "list", "--json").json()
    assert after == before


@pytest.mark.parametrize(
    "args",
    [
        ["merchant", "show", "00000000-0000-4000-8000-000000000000"],
        ["merchant", "show", "UNKNOWN"],
        ["merchant", "update", "UNKNOWN", "--name", "X"],
        ["apikey", "create", "--merchant", "UNKNOWN"],
        ["apikey", "list", "--merchant", "UNKNOWN"],
        ["apikey", "revoke", "key_doesnotexist"],
        ["integrator", "add", "--merchant", "UNKNOWN", "--name", "N", "--type", "OMS"],
        ["integrator", "list", "--merchant", "UNKNOWN"],
    ],
)
def test_unknown_ids_are_runtime_errors(cli, args):
    assert_runtime_error(cli(*args))


def test_bad_database_url(tmp_path):
    res = run_cli("merchant", "list", "--db", "mysql://nowhere", cwd=tmp_path)
    assert_runtime_error(res, "mysql://nowhere")
    res = run_cli("migrate", "--db", "sqlite:", cwd=tmp_path)
    assert_runtime_error(res, "empty path")


@sqlite_only("a PostgreSQL database is made by its server, not by chatpay")
def test_admin_commands_refuse_a_missing_sqlite_database(tmp_path):
    # a mistyped --db must not make a new, empty database that the command
    # then succeeds on: only serve, worker and migrate make one
    typo = tmp_path / "x" / "typo.bd"
    url = f"sqlite:{typo}"
    for args in (["merchant", "create", "--name", "Typo"], ["merchant", "list"],
                 ["apikey", "list", "--merchant", "00000000-0000-4000-8000-000000000000"],
                 ["integrator", "list", "--merchant", "00000000-0000-4000-8000-000000000000"],
                 ["provider", "list", "--merchant", "00000000-0000-4000-8000-000000000000"],
                 ["marketplace", "client", "list"],
                 ["optout", "list", "--merchant", "00000000-0000-4000-8000-000000000000"],
                 ["whatsapp", "number", "list", "--merchant", "00000000-0000-4000-8000-000000000000"]):
        res = run_cli(*args, "--db", url, cwd=tmp_path)
        assert_runtime_error(res, f"no database at {url}", "chatpay migrate")
        assert not typo.exists() and not typo.parent.exists(), args
    # migrate makes it; then the same commands work on it
    assert run_cli("migrate", "--db", url, cwd=tmp_path).returncode == 0
    res = run_cli("merchant", "create", "--name", "Typo", "--json", "--db", url, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    SECRETS.api_keys.add(res.json()["apiKey"])


PUBLIC_URL_NEEDED = "public_url is not set"


def test_worker_needs_a_public_url(tmp_path):
    # a worker sends payment links and registers provider callbacks: the
    # default http://127.0.0.1:8080 would reach no customer
    db = db_url_for(tmp_path / "w.db")
    assert run_cli("migrate", "--db", db, cwd=tmp_path).returncode == 0
    res = run_cli("worker", "--db", db, cwd=tmp_path, timeout=15)
    assert_runtime_error(res, PUBLIC_URL_NEEDED, "--public-url", "CHATPAY_PUBLIC_URL")
    res = run_cli("worker", "--db", db, "--public-url", "ftp://x", cwd=tmp_path, timeout=15)
    assert_usage_error(res, "--public-url")
    # given by the flag, the environment or the file, it starts
    ini = tmp_path / "w.ini"
    ini.write_text("public_url = https://pay.example.com\n")
    for extra, env in ((["--public-url", "https://pay.example.com"], {}),
                       ([], {"CHATPAY_PUBLIC_URL": "https://pay.example.com"}),
                       (["--config", str(ini)], {})):
        p = subprocess.Popen([chatpay_bin(), "worker", "--db", db, *extra], cwd=tmp_path,
                             env=clean_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, text=True)
        try:
            line = p.stdout.readline()
            assert "worker running" in line, (extra, env, line, p.stderr.read() if p.poll() else "")
        finally:
            p.send_signal(signal.SIGTERM)
            assert p.wait(timeout=30) == 0


def test_serve_beyond_loopback_needs_a_public_url(tmp_path):
    db = db_url_for(tmp_path / "s.db")
    for listen in ("0.0.0.0:1", "[::]:1", "192.0.2.1:1", "pay.example.com:1"):
        res = run_cli("serve", "--listen", listen, "--db", db, cwd=tmp_path, timeout=15)
        assert_runtime_error(res, PUBLIC_URL_NEEDED, listen, "--public-url")
    assert not (tmp_path / "s.db").exists()  # refused before the database is opened


def test_provider_add_needs_a_public_url(cli, merchant):
    # the URLs it prints are registered with the provider
    res = cli("provider", "add", "--merchant", merchant["merchantId"], "--kind", "clickatell",
              "--set", "api_key=k-" + "x" * 16)
    assert_runtime_error(res, "provider add: " + PUBLIC_URL_NEEDED, "--public-url")


def test_missing_config_file(tmp_path):
    res = run_cli("migrate", "--config", str(tmp_path / "nope.ini"),
                  "--db", db_url_for(tmp_path / "x.db"), cwd=tmp_path)
    assert_runtime_error(res, "nope.ini")


@pytest.mark.parametrize("how", ["flag", "env"])
def test_config_file_that_is_a_folder_is_refused(tmp_path, how):
    # a folder opens but reads as nothing: every setting would silently be
    # its default (the database, the listen address, the secrets key...)
    folder = tmp_path / "chatpay.ini"
    folder.mkdir()
    db = db_url_for(tmp_path / "x.db")
    if how == "flag":
        res = run_cli("migrate", "--config", str(folder), "--db", db, cwd=tmp_path)
    else:
        res = run_cli("migrate", "--db", db, cwd=tmp_path, env={"CHATPAY_CONFIG": str(folder)})
    assert_runtime_error(res, str(folder), "not a regular file")
    assert not (tmp_path / "x.db").exists()


# ---- merchants -----------------------------------------------------------------------------


def test_merchant_create_json(make_merchant):
    m = make_merchant(name="Corner Café", currencies="ZAR,USD")
    assert UUID_RE.fullmatch(m["merchantId"])
    assert m["name"] == "Corner Café"
    assert m["environment"] == "SANDBOX"
    assert m["currencies"] == ["ZAR", "USD"]
    assert m["defaultCurrency"] == "ZAR"
    assert API_KEY_RE.fullmatch(m["apiKey"]) and m["apiKey"].startswith("cp_sandbox_")
    assert re.fullmatch(r"key_[0-9A-Za-z]{12}", m["apiKeyId"])


def test_log_level_holds_for_every_command(tmp_path):
    db = f"sqlite:{tmp_path}/a.db"
    quiet = run_cli("migrate", "--db", db, env={"CHATPAY_LOG_LEVEL": "error"})
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    (tmp_path / "c.ini").write_text("log_level = error\n")
    quiet = run_cli("migrate", "--db", f"sqlite:{tmp_path}/b.db", "--config", str(tmp_path / "c.ini"))
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    loud = run_cli("migrate", "--db", f"sqlite:{tmp_path}/c.db")
    assert loud.returncode == 0 and "applied migration 1" in loud.stderr, loud.stderr
    # db copy takes --config too (its target is migrated: quiet as well)
    quiet = run_cli("db", "copy", "--from", f"sqlite:{tmp_path}/a.db", "--to",
                    f"sqlite:{tmp_path}/d.db", "--config", str(tmp_path / "c.ini"))
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    assert "copied and verified" in quiet.stdout


def test_json_for_the_commands_that_change_one_thing(cli):
    m = cli("merchant", "create", "--name", "Json", "--json").json()
    SECRETS.api_keys.add(m["apiKey"])
    key = cli("apikey", "create", "--merchant", m["merchantId"], "--json").json()
    SECRETS.api_keys.add(key["apiKey"])
    res = cli("apikey", "revoke", key["apiKeyId"], "--json")
    assert res.returncode == 0 and res.json() == {"apiKeyId": key["apiKeyId"], "revoked": True}
    number = "27821110000"
    for sub, opted, changed in (("add", True, True), ("add", True, False),
                                ("remove", False, True), ("remove", False, False)):
        res = cli("optout", sub, "--merchant", m["merchantId"], "--number", number, "--json")
        assert res.returncode == 0, res.stderr
        assert res.json() == {"number": number, "optedOut": opted, "changed": changed}, sub


def test_names_at_their_limit_stay_whole(cli):
    name = "\u00e9" * 127 + "x"  # 255 bytes
    m = cli("merchant", "create", "--name", name, "--json").json()
    SECRETS.api_keys.add(m["apiKey"])
    assert m["name"] == name
    assert cli("merchant", "show", m["merchantId"], "--json").json()["name"] == name


def test_merchant_create_defaults(cli, api):
    res = cli("merchant", "create", "--name", "Defaults", "--json")
    assert res.returncode == 0, res.stderr
    m = res.json()
    SECRETS.merchant_ids.add(m["merchantId"])
    assert m["currencies"] == ["USD"]
    body = api.get(CONFIG, key=m["apiKey"]).body
    assert [(c["iso"], c["isDefault"]) for c in body["supportedCurrencies"]] == [("USD", True)]
    assert body["environment"] == "SANDBOX"
    assert body["smsChannelEnabled"] and body["whatsappChannelEnabled"]


def test_merchant_create_text_output(cli):
    res = cli("merchant", "create", "--name", "Texty", "--currencies", "EUR")
    assert res.returncode == 0, res.stderr
    assert "Merchant created." in res.stdout
    keys = API_KEY_RE.findall(res.stdout)
    assert len(keys) == 1, "the key is printed once"
    assert "EUR (default)" in res.stdout


def test_merchant_list(cli, make_merchant):
    a = make_merchant(name="List A")
    b = make_merchant(name="List B", environment="production")
    res = cli("merchant", "list", "--json")
    assert res.returncode == 0, res.stderr
    listed = {m["merchantId"]: m for m in res.json()}
    assert listed[a["merchantId"]]["name"] == "List A"
    assert listed[b["merchantId"]]["name"] == "List B"
    assert listed[a["merchantId"]]["environment"] == "SANDBOX"
    assert listed[b["merchantId"]]["environment"] == "PRODUCTION"
    assert_no_secrets(res.stdout, "merchant list")
    text = cli("merchant", "list")
    assert text.returncode == 0 and a["merchantId"] in text.stdout and "List B" in text.stdout


def test_merchant_show(cli, merchant, add_integrator):
    it = add_integrator(merchant["merchantId"], name="Shown", type="CLICKATELL_PRODUCT")
    res = cli("merchant", "show", merchant["merchantId"], "--json")
    assert res.returncode == 0, res.stderr
    shown = res.json()
    assert shown["merchantId"] == merchant["merchantId"]
    assert shown["currencies"] == ["ZAR", "USD"]
    assert shown["integrators"] == [
        {"applicationId": it["applicationId"], "name": "Shown", "type": "CLICKATELL_PRODUCT",
         "status": "ACTIVATED", "paymentStatusCallback": None, "transactionEventCallback": None,
         "settingsCallback": None}
    ]
    assert shown["callbackSecret"] == merchant["callbackSecret"]
    assert (shown["paymentStatusCallback"], shown["transactionEventCallback"],
            shown["settingsCallback"]) == (None, None, None)
    assert [k["id"] for k in shown["apiKeys"]] == [merchant["apiKeyId"]]
    assert shown["apiKeys"][0]["key"] == "cp_sandbox_****" + merchant["apiKey"][-4:]
    assert_no_secrets(res.stdout, "merchant show --json")
    text = cli("merchant", "show", merchant["merchantId"])
    assert text.returncode == 0 and "Shown" in text.stdout
    assert_no_secrets(text.stdout, "merchant show")


def test_merchant_update(cli, api, merchant):
    key = merchant["apiKey"]
    before = api.get(CONFIG, key=key).body
    time.sleep(0.01)
    res = cli("merchant", "update", merchant["merchantId"], "--name", "Renamed", "--currencies", "EUR,ZAR", "--json")
    assert res.returncode == 0, res.stderr
    assert res.json()["name"] == "Renamed"
    after = api.get(CONFIG, key=key).body
    assert [(c["iso"], c["id"], c["isDefault"]) for c in after["supportedCurrencies"]] == [
        ("EUR", 978, True),
        ("ZAR", 710, False),
    ]
    assert after["supportedCurrencies"][0]["symbol"] == "€"
    assert parse_rfc3339(after["updateTime"]) > parse_rfc3339(before["updateTime"])
    shown = cli("merchant", "show", merchant["merchantId"], "--json").json()
    assert shown["name"] == "Renamed" and shown["currencies"] == ["EUR", "ZAR"]


SANDBOX_KEY_IN_PRODUCTION = ("This is a sandbox API key and the merchant works in production now: "
                             "use a cp_live_ key")
LIVE_KEY_IN_SANDBOX = ("This is a production API key and the merchant works in the sandbox now: "
                       "use a cp_sandbox_ key")


def assert_refused_key(r, message):
    assert r.status_code == 401, r.text
    assert r.body["message"] == message, r.body


def test_merchant_update_environment_and_channels(cli, api, merchant):
    mid = merchant["merchantId"]
    res = cli("merchant", "update", mid, "--environment", "production", "--channels", "sms")
    assert res.returncode == 0, res.stderr
    # the change says what happened to the sandbox key, and how to get a live one
    assert "Environment: PRODUCTION, was SANDBOX." in res.stdout, res.stdout
    assert "Its 1 active cp_sandbox_ key is refused from now on" in res.stdout, res.stdout
    assert f"chatpay apikey create --merchant {mid}" in res.stdout, res.stdout
    # a sandbox key never works for a production merchant
    assert_refused_key(api.get(CONFIG, key=merchant["apiKey"]), SANDBOX_KEY_IN_PRODUCTION)
    live = cli("apikey", "create", "--merchant", mid, "--json").json()
    assert live["apiKey"].startswith("cp_live_"), live
    body = api.get(CONFIG, key=live["apiKey"]).body
    assert body["environment"] == "PRODUCTION"
    # a production merchant sends only through a provider of its own: with
    # none selected, no channel is enabled (SMS is switched on, WhatsApp off)
    assert (body["smsChannelEnabled"], body["whatsappChannelEnabled"]) == (False, False)
    # currencies were not touched
    assert [c["iso"] for c in body["supportedCurrencies"]] == ["ZAR", "USD"]
    # and back: the live key is refused, the sandbox key works again
    res = cli("merchant", "update", mid, "--environment", "sandbox", "--json")
    assert res.returncode == 0, res.stderr
    assert res.json()["refusedApiKeys"] == 1
    assert_refused_key(api.get(CONFIG, key=live["apiKey"]), LIVE_KEY_IN_SANDBOX)
    back = api.get(CONFIG, key=merchant["apiKey"])
    assert back.status_code == 200
    # the sandbox channel carries a sandbox merchant's SMS again
    assert (back.body["smsChannelEnabled"], back.body["whatsappChannelEnabled"]) == (True, False)
    # no change of environment: nothing refused, nothing said about keys
    res = cli("merchant", "update", mid, "--environment", "sandbox")
    assert res.returncode == 0 and "Environment" not in res.stdout, res.stdout


def test_merchant_update_nothing(cli, merchant):
    assert_usage_error(cli("merchant", "update", merchant["merchantId"]), "nothing to change")


def test_merchant_update_bad_currency_changes_nothing(cli, api, merchant):
    assert_usage_error(cli("merchant", "update", merchant["merchantId"], "--currencies", "EUR,XYZ"), "XYZ")
    body = api.get(CONFIG, key=merchant["apiKey"]).body
    assert [c["iso"] for c in body["supportedCurrencies"]] == ["ZAR", "USD"]


# ---- API keys ---------------------------------------------------------------------------------


def test_apikey_create_and_list(cli, api, merchant):
    res = cli("apikey", "create", "--merchant", merchant["merchantId"], "--json")
    assert res.returncode == 0, res.stderr
    new = res.json()
    assert new["merchantId"] == merchant["merchantId"]
    assert new["environment"] == "SANDBOX"
    assert new["apiKey"] != merchant["apiKey"] and new["apiKeyId"] != merchant["apiKeyId"]
    assert API_KEY_RE.fullmatch(new["apiKey"])
    for key in (merchant["apiKey"], new["apiKey"]):
        r = api.get(CONFIG, key=key)
        assert r.status_code == 200
        assert r.body["apiKey"] == "cp_sandbox_****" + key[-4:]

    res = cli("apikey", "list", "--merchant", merchant["merchantId"], "--json")
    assert res.returncode == 0, res.stderr
    keys = res.json()
    assert [k["apiKeyId"] for k in keys] == [merchant["apiKeyId"], new["apiKeyId"]]
    assert [k["apiKey"] for k in keys] == [
        "cp_sandbox_****" + merchant["apiKey"][-4:],
        "cp_sandbox_****" + new["apiKey"][-4:],
    ]
    assert all(k["revoked"] is False for k in keys)
    assert_no_secrets(res.stdout, "apikey list")

    assert cli("apikey", "revoke", new["apiKeyId"]).returncode == 0
    keys = cli("apikey", "list", "--merchant", merchant["merchantId"], "--json").json()
    assert [k["revoked"] for k in keys] == [False, True]
    assert api.get(CONFIG, key=new["apiKey"]).status_code == 401
    assert api.get(CONFIG, key=merchant["apiKey"]).status_code == 200


def test_apikey_for_production_merchant(cli, api, make_merchant):
    m = make_merchant(environment="production")
    res = cli("apikey", "create", "--merchant", m["merchantId"], "--json")
    assert res.returncode == 0
    new = res.json()
    assert new["apiKey"].startswith("cp_live_") and new["environment"] == "PRODUCTION"
    assert api.get(CONFIG, key=new["apiKey"]).body["environment"] == "PRODUCTION"


def test_apikey_create_text_output(cli, merchant):
    res = cli("apikey", "create", "--merchant", merchant["merchantId"])
    assert res.returncode == 0
    assert len(API_KEY_RE.findall(res.stdout)) == 1
    assert "shown only once" in res.stdout


# ---- integrators ------------------------------------------------------------------------------


@pytest.mark.parametrize("type_", ["OMS", "CLICKATELL_PRODUCT", "APPLICATION"])
def test_integrator_add_types(api, merchant, add_integrator, type_):
    it = add_integrator(merchant["merchantId"], name=f"T {type_}", type=type_)
    assert it["type"] == type_ and it["status"] == "ACTIVATED"
    assert it["merchantId"] == merchant["merchantId"]
    assert UUID_RE.fullmatch(it["applicationId"])
    listed = api.get(CONFIG, key=merchant["apiKey"]).body["integrators"]
    assert [(i["applicationId"], i["type"]) for i in listed] == [(it["applicationId"], type_)]


def test_integrator_list(cli, merchant, add_integrator):
    a = add_integrator(merchant["merchantId"], name="First")
    b = add_integrator(merchant["merchantId"], name="Second", type="APPLICATION")
    res = cli("integrator", "list", "--merchant", merchant["merchantId"], "--json")
    assert res.returncode == 0, res.stderr
    assert [(i["applicationId"], i["name"]) for i in res.json()] == [
        (a["applicationId"], "First"),
        (b["applicationId"], "Second"),
    ]


# ---- migrations -------------------------------------------------------------------------------


def test_migrate_is_idempotent(cli, api):
    first = cli("migrate")
    assert first.returncode == 0, first.stderr
    second = cli("migrate")
    assert second.returncode == 0, second.stderr
    m = re.search(r"schema version (\d+)", first.stdout)
    assert m, first.stdout
    assert second.stdout == first.stdout
    ready = api.get("/readyz").body
    assert ready["status"] == "ready" and ready["schemaVersion"] == int(m.group(1))


def test_migrate_fresh_database(tmp_path):
    db = db_url_for(tmp_path / "fresh.db")
    res = run_cli("migrate", db_url=db, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "merchants" in db_tables(db)
    again = run_cli("migrate", db_url=db, cwd=tmp_path)
    assert again.returncode == 0 and again.stdout == res.stdout
    assert "applied migration" not in again.stderr


# ---- configuration precedence -----------------------------------------------------------------


def _serve_and_find_port(tmp_path, name, ports, *, flag=None, env=None, config=None):
    """Start serve with the given sources; return the port it listens on."""
    args = []
    if config:
        args += ["--config", str(config)]
    srv = ServerProcess(
        workdir=tmp_path, db_url=db_url_for(tmp_path / "prec.db"), port=flag or 0, name=name,
        extra_args=args, env=env or {}, listen_flag=flag is not None,
    ).start()
    try:
        m = srv.wait_stdout(r"listening on http://127\.0\.0\.1:(\d+)")
        port = int(m.group(1))
        srv.port = port
        srv.wait_live()
        client = ApiClient(srv.base_url)
        assert client.get("/livez").status_code == 200
        client.close()
        others = [p for p in ports if p != port]
        assert not any(port_accepts(p, timeout=0.3) for p in others)
        rc = srv.stop()
        assert rc == 0, srv.tail()
        return port
    finally:
        srv.kill()


def test_config_precedence(tmp_path):
    p1, p2, p3 = free_port(), free_port(), free_port()
    while len({p1, p2, p3}) < 3:
        p2, p3 = free_port(), free_port()
    ini = tmp_path / "chatpay.ini"
    ini.write_text(f"; test settings\nlisten = 127.0.0.1:{p1}\n")
    env = {"CHATPAY_LISTEN": f"127.0.0.1:{p2}"}
    ports = (p1, p2, p3)
    assert _serve_and_find_port(tmp_path, "prec-all", ports, flag=p3, env=env, config=ini) == p3
    assert _serve_and_find_port(tmp_path, "prec-env", ports, env=env, config=ini) == p2
    assert _serve_and_find_port(tmp_path, "prec-file", ports, config=ini) == p1
    # the file can also be named by CHATPAY_CONFIG
    assert _serve_and_find_port(tmp_path, "prec-envfile", ports, env={"CHATPAY_CONFIG": str(ini)}) == p1


def test_config_file_section_and_errors(tmp_path):
    good = tmp_path / "good.ini"
    p = free_port()
    good.write_text(f"[chatpay]\nlisten = 127.0.0.1:{p}\n")
    assert _serve_and_find_port(tmp_path, "section", (p,), config=good) == p
    bad = tmp_path / "bad.ini"
    bad.write_text("[chatpay]\nlisten = 127.0.0.1:1\nno_such_setting = 1\n")
    res = run_cli("serve", "--config", str(bad), "--db", db_url_for(tmp_path / "b.db"), cwd=tmp_path, timeout=15)
    assert res.returncode == 1
    assert "no_such_setting" in res.stderr
    for setting, message in [
        ("header_timeout = 0", "header_timeout: must be a whole number from 1 to 300"),
        ("body_min_rate = fast", "body_min_rate: must be a whole number from 0 to 100000000"),
        ("max_body = 10", "max_body: must be a whole number from 1024 to 16777216"),
        ("admin_listen = nowhere", 'admin_listen: expected HOST:PORT (port 1 to 65535), got "nowhere"'),
    ]:
        bad.write_text(f"[chatpay]\nlisten = 127.0.0.1:1\n{setting}\n")
        res = run_cli("serve", "--config", str(bad), "--db", db_url_for(tmp_path / "b.db"), cwd=tmp_path,
                      timeout=15)
        assert res.returncode == 1 and message in res.stderr, (setting, res.stderr)


def test_listen_address_in_use(tmp_path, server):
    res = run_cli("serve", "--listen", f"127.0.0.1:{server.port}", "--db", db_url_for(tmp_path / "x.db"),
                  cwd=tmp_path, timeout=15)
    assert res.returncode == 1
    assert str(server.port) in res.stderr


# ---- serve --dev ------------------------------------------------------------------------------


def test_serve_dev(tmp_path):
    db = db_url_for(tmp_path / "dev.db")
    srv = start_server(tmp_path, db, name="dev1", extra_args=["--dev"])
    try:
        srv.wait_stdout(r"API key:")
        out = srv.stdout()
        assert "Sandbox Store" in out
        keys = API_KEY_RE.findall(out)
        assert keys and all(k == keys[0] for k in keys) and keys[0].startswith("cp_sandbox_")
        key = keys[0]
        SECRETS.api_keys.add(key)
        client = ApiClient(srv.base_url)
        body = client.get(CONFIG, key=key).body
        client.close()
        assert body["environment"] == "SANDBOX"
        assert [(c["iso"], c["isDefault"]) for c in body["supportedCurrencies"]] == [
            ("ZAR", True), ("USD", False), ("EUR", False),
        ]
        assert body["apiKey"] == "cp_sandbox_****" + key[-4:]
        assert srv.stop() == 0, srv.tail()
    finally:
        srv.kill()
    assert_no_secrets(srv.log_text(), "--dev server log")

    srv2 = start_server(tmp_path, db, name="dev2", extra_args=["--dev"])
    try:
        srv2.wait_stdout(r"Merchants:\s+1 ")
        out2 = srv2.stdout()
        assert "Sandbox Store" not in out2
        assert not API_KEY_RE.search(out2), "a second --dev start printed a new key"
        client = ApiClient(srv2.base_url)
        assert client.get(CONFIG, key=key).status_code == 200
        client.close()
        assert srv2.stop() == 0, srv2.tail()
    finally:
        srv2.kill()
    listed = run_cli("merchant", "list", "--json", db_url=db, cwd=tmp_path).json()
    assert [m["name"] for m in listed] == ["Sandbox Store"]


@sqlite_only("the secrets key of --dev is a file beside the SQLite database")
def test_serve_dev_makes_the_database_folder(tmp_path):
    """`chatpay serve --dev` in a fresh folder: the database's folder (./var
    by default) is made for its secrets key and database."""
    db = f"sqlite:{tmp_path / 'fresh' / 'dev.db'}"
    srv = start_server(tmp_path, db, name="dev3", extra_args=["--dev"])
    try:
        srv.wait_stdout(r"API key:")
        SECRETS.api_keys.update(API_KEY_RE.findall(srv.stdout()))
        assert (tmp_path / "fresh" / "secrets.key").stat().st_mode & 0o777 == 0o600
        assert srv.stop() == 0, srv.tail()
    finally:
        srv.kill()
