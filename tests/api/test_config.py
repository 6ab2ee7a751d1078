"""GET /api/v2/config — the caller's Chat 2 Pay configuration, authentication,
environments, channels and tenancy."""

from __future__ import annotations

import secrets
import string
import time

import pytest

from openapi_check import parse_rfc3339

CONFIG = "/api/v2/config"
INTEGRATION = "/api/v2/integration"

BASE62 = string.ascii_letters + string.digits


def random_key(prefix="cp_sandbox_"):
    return prefix + "".join(secrets.choice(BASE62) for _ in range(43))


def masked(key: str) -> str:
    prefix = "cp_live_" if key.startswith("cp_live_") else "cp_sandbox_"
    return prefix + "****" + key[-4:]


def assert_unauthorized(resp, path=CONFIG):
    assert resp.status_code == 401, resp.text
    body = resp.body
    assert set(body) >= {"timestamp", "status", "error", "message", "path"}, body
    assert body["status"] == 401
    assert body["error"] == "Unauthorized"
    assert isinstance(body["message"], str) and body["message"].strip()
    assert body["path"] == path
    parse_rfc3339(body["timestamp"])


# ---- success ------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["plain", "bearer"])
def test_config_with_key(api, merchant, form):
    key = merchant["apiKey"]
    header = key if form == "plain" else f"Bearer {key}"
    r = api.get(CONFIG, key=header)
    assert r.status_code == 200, r.text
    body = r.body
    assert body["environment"] == "SANDBOX"
    assert body["smsChannelEnabled"] is True
    assert body["whatsappChannelEnabled"] is True
    assert body["integrators"] == []
    parse_rfc3339(body["updateTime"])


def test_config_supported_currencies_in_order(api, merchant):
    body = api.get(CONFIG, key=merchant["apiKey"]).body
    cur = body["supportedCurrencies"]
    assert [c["iso"] for c in cur] == ["ZAR", "USD"]
    zar, usd = cur
    assert zar["id"] == 710 and zar["isDefault"] is True
    assert usd["id"] == 840 and usd["isDefault"] is False
    assert zar["name"] == "South African Rand" and zar["symbol"] == "R"
    assert usd["name"] == "US Dollar" and usd["symbol"] == "$"


def test_config_api_key_is_masked(api, merchant):
    key = merchant["apiKey"]
    assert key.startswith("cp_sandbox_")
    r = api.get(CONFIG, key=key)
    assert r.body["apiKey"] == "cp_sandbox_****" + key[-4:]
    secret = key[len("cp_sandbox_") :]
    assert key not in r.text
    assert secret[:8] not in r.text  # no part of the secret beyond the last 4


def test_config_bearer_is_case_insensitive_and_trimmed(api, merchant):
    key = merchant["apiKey"]
    for header in (f"bearer {key}", f"BEARER   {key}", f"{key}  "):
        r = api.get(CONFIG, key=header)
        assert r.status_code == 200, (header[:12], r.text)


def test_integrator_listed_after_add(api, merchant, add_integrator):
    it = add_integrator(merchant["merchantId"], name="Order Hub", type="OMS")
    assert it["status"] == "ACTIVATED"
    assert it["type"] == "OMS"
    assert it["name"] == "Order Hub"
    assert len(it["applicationId"]) == 36
    body = api.get(CONFIG, key=merchant["apiKey"]).body
    assert body["integrators"] == [
        {"applicationId": it["applicationId"], "name": "Order Hub", "status": "ACTIVATED", "type": "OMS"}
    ]


def test_integrators_listed_in_creation_order(api, merchant, add_integrator):
    ids = [
        add_integrator(merchant["merchantId"], name=f"App {t}", type=t)["applicationId"]
        for t in ("OMS", "CLICKATELL_PRODUCT", "APPLICATION")
    ]
    body = api.get(CONFIG, key=merchant["apiKey"]).body
    assert [i["applicationId"] for i in body["integrators"]] == ids
    assert [i["type"] for i in body["integrators"]] == ["OMS", "CLICKATELL_PRODUCT", "APPLICATION"]


def test_update_time_moves_forward(api, merchant, add_integrator):
    key = merchant["apiKey"]
    t0 = parse_rfc3339(api.get(CONFIG, key=key).body["updateTime"])
    time.sleep(0.01)
    it = add_integrator(merchant["merchantId"])
    t1 = parse_rfc3339(api.get(CONFIG, key=key).body["updateTime"])
    assert t1 > t0
    time.sleep(0.01)
    r = api.put(INTEGRATION, key=key, json={"applicationUuid": it["applicationId"], "status": "DEACTIVATED"})
    assert r.status_code == 200, r.text
    t_put = parse_rfc3339(r.body["updateTime"])
    t2 = parse_rfc3339(api.get(CONFIG, key=key).body["updateTime"])
    assert t2 > t1
    assert t2 >= t_put > t1
    # reading does not move it
    t3 = parse_rfc3339(api.get(CONFIG, key=key).body["updateTime"])
    assert t3 == t2


# ---- 401 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "garbage",
        "Basic dXNlcjpwYXNz",
        "cp_sandbox_",
        "cp_sandbox_****abcd",
        "x" * 4000,
        "Bearer " + "y" * 4000,
        "cp_sandbox_\tabc",
    ],
    ids=[
        "no-header", "empty", "bearer-only", "bearer-space", "garbage", "basic",
        "prefix-only", "masked-form", "4000-chars", "bearer-4000-chars", "tab",
    ],
)
def test_config_unauthorized(api, header):
    headers = {} if header is None else {"Authorization": header}
    r = api.get(CONFIG, headers=headers)
    assert_unauthorized(r)


def test_config_wrong_key(api, merchant):
    for key in (random_key(), random_key("cp_live_"), merchant["apiKey"][:-1], merchant["apiKey"] + "x",
                merchant["apiKey"].upper()):
        r = api.get(CONFIG, key=key)
        assert_unauthorized(r)
        assert key not in r.text


def test_integration_unauthorized(api):
    r = api.put(INTEGRATION, json={"applicationUuid": "x", "status": "ACTIVATED"})
    assert_unauthorized(r, path=INTEGRATION)
    r = api.put(INTEGRATION, key=random_key(), json={"applicationUuid": "x", "status": "ACTIVATED"})
    assert_unauthorized(r, path=INTEGRATION)


def test_unauthorized_checked_before_body(api):
    # a bad body from an unknown caller is still a 401, not a 400
    r = api.put(INTEGRATION, data=b"{not json", headers={"Content-Type": "application/json"})
    assert_unauthorized(r, path=INTEGRATION)


def test_revoked_key_is_refused_at_once(api, cli, merchant):
    first = merchant["apiKey"]
    res = cli("apikey", "create", "--merchant", merchant["merchantId"], "--json")
    assert res.returncode == 0, res.stderr
    second = res.json()["apiKey"]
    assert api.get(CONFIG, key=first).status_code == 200
    assert api.get(CONFIG, key=second).status_code == 200

    res = cli("apikey", "revoke", merchant["apiKeyId"])
    assert res.returncode == 0, res.stderr
    assert_unauthorized(api.get(CONFIG, key=first))
    assert_unauthorized(api.get(CONFIG, key=f"Bearer {first}"))
    # the other key of the same merchant still works, and shows itself masked
    r = api.get(CONFIG, key=second)
    assert r.status_code == 200
    assert r.body["apiKey"] == masked(second)

    # revoking again is a runtime error, not a silent success
    res = cli("apikey", "revoke", merchant["apiKeyId"])
    assert res.returncode == 1
    assert res.stderr.strip() and len(res.stderr.strip().splitlines()) == 1


# ---- environments and channels ----------------------------------------------------------


def test_production_merchant(api, make_merchant):
    m = make_merchant(environment="production")
    assert m["environment"] == "PRODUCTION"
    assert m["apiKey"].startswith("cp_live_")
    assert len(m["apiKey"]) == len("cp_live_") + 43
    body = api.get(CONFIG, key=m["apiKey"]).body
    assert body["environment"] == "PRODUCTION"
    assert body["apiKey"] == "cp_live_****" + m["apiKey"][-4:]


def test_sandbox_key_shape(merchant):
    key = merchant["apiKey"]
    assert key.startswith("cp_sandbox_")
    rest = key[len("cp_sandbox_") :]
    assert len(rest) == 43 and all(c in BASE62 for c in rest)


@pytest.mark.parametrize(
    "channels, sms, wa",
    [("none", False, False), ("sms", True, False), ("whatsapp", False, True), ("sms,whatsapp", True, True)],
)
def test_channels(api, make_merchant, channels, sms, wa):
    m = make_merchant(channels=channels)
    body = api.get(CONFIG, key=m["apiKey"]).body
    assert body["smsChannelEnabled"] is sms
    assert body["whatsappChannelEnabled"] is wa


# ---- tenancy ------------------------------------------------------------------------------


def test_tenancy_integrators(api, make_merchant, add_integrator):
    a = make_merchant()
    b = make_merchant()
    b_it = add_integrator(b["merchantId"], name="B only")
    a_it = add_integrator(a["merchantId"], name="A only")

    # A cannot change B's integrator: it does not exist for A
    for status in ("DEACTIVATED", "DELETED", "ACTIVATED"):
        r = api.put(INTEGRATION, key=a["apiKey"], json={"applicationUuid": b_it["applicationId"], "status": status})
        assert r.status_code == 404, r.text
        assert r.body["status"] == "404 NOT_FOUND"

    a_cfg = api.get(CONFIG, key=a["apiKey"]).body
    assert [i["applicationId"] for i in a_cfg["integrators"]] == [a_it["applicationId"]]
    assert b_it["applicationId"] not in api.get(CONFIG, key=a["apiKey"]).text

    # B's integrator is untouched and B does not see A's
    b_cfg = api.get(CONFIG, key=b["apiKey"]).body
    assert b_cfg["integrators"] == [
        {"applicationId": b_it["applicationId"], "name": "B only", "status": "ACTIVATED", "type": "OMS"}
    ]
    # and B can still change its own
    r = api.put(INTEGRATION, key=b["apiKey"], json={"applicationUuid": b_it["applicationId"], "status": "DEACTIVATED"})
    assert r.status_code == 200, r.text


def test_each_key_sees_its_own_merchant(api, make_merchant):
    a = make_merchant(currencies="USD")
    b = make_merchant(currencies="EUR,ZAR", environment="production")
    ca = api.get(CONFIG, key=a["apiKey"]).body
    cb = api.get(CONFIG, key=b["apiKey"]).body
    assert [c["iso"] for c in ca["supportedCurrencies"]] == ["USD"]
    assert [c["iso"] for c in cb["supportedCurrencies"]] == ["EUR", "ZAR"]
    assert ca["environment"] == "SANDBOX" and cb["environment"] == "PRODUCTION"
