"""The response checker itself: it must reject what the documents do not
allow (otherwise every other test's validation could silently pass)."""

from __future__ import annotations

import json

import pytest

from openapi_check import ContractError, _convert, check_response, is_rfc3339

HDRS = {"Content-Type": "application/json", "X-Request-Id": "0123456789abcdef0123456789abcdef"}


def good_config():
    return {
        "updateTime": "2026-01-31T12:00:00.123Z",
        "whatsappChannelEnabled": True,
        "smsChannelEnabled": True,
        "integrators": [{"applicationId": "a", "name": "n", "status": "ACTIVATED", "type": "OMS"}],
        "apiKey": "cp_sandbox_****abcd",
        "supportedCurrencies": [{"id": 710, "iso": "ZAR", "name": "South African Rand", "symbol": "R", "isDefault": True}],
        "environment": "SANDBOX",
    }


def check(body, *, status=200, method="GET", path="/api/v2/config", headers=HDRS, undocumented=False):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return check_response(method, path, status, headers, raw, undocumented=undocumented)


def test_valid_response_passes():
    assert check(good_config())["environment"] == "SANDBOX"


def test_missing_request_id_fails():
    with pytest.raises(ContractError, match="X-Request-Id"):
        check(good_config(), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    "field, value",
    [
        ("updateTime", "2026-13-01T00:00:00Z"),
        ("updateTime", "2026-01-31 12:00:00"),
        ("updateTime", 1769860800),
        ("smsChannelEnabled", "true"),
        ("integrators", {"a": 1}),
        ("supportedCurrencies", [{"id": "710", "iso": "ZAR"}]),
        ("integrators", [{"applicationId": "a", "status": "ENABLED"}]),
    ],
)
def test_schema_violations_fail(field, value):
    body = good_config()
    body[field] = value
    with pytest.raises(ContractError):
        check(body)


def test_undocumented_status_fails():
    with pytest.raises(ContractError, match="does not document status 418"):
        check({"message": "teapot"}, status=418)


def test_undocumented_operation_fails():
    with pytest.raises(ContractError, match="not documented"):
        check({"status": "404 NOT_FOUND"}, path="/no/such/thing", status=404)


def test_documented_operation_called_undocumented_fails():
    with pytest.raises(ContractError, match="documents"):
        check({"status": "404 NOT_FOUND", "message": "m", "errors": ["m"]}, path="/api/v2/config", status=404,
              undocumented=True)


def test_undocumented_error_shape_is_checked():
    check({"status": "404 NOT_FOUND", "message": "m", "errors": ["m"], "code": "no_route"},
          path="/no/such/thing", status=404, undocumented=True)
    with pytest.raises(ContractError):
        check({"status": 404, "message": "m"}, path="/no/such/thing", status=404, undocumented=True)


def test_wrong_media_type_fails():
    with pytest.raises(ContractError):
        check(b"<html></html>", headers={**HDRS, "Content-Type": "text/html"})


def test_json_content_type_with_bad_json_fails():
    with pytest.raises(ContractError, match="not JSON"):
        check(b"{not json")


def test_head_is_get_without_the_body():
    assert check(b"", method="HEAD") is None
    with pytest.raises(ContractError, match="HEAD response carries a body"):
        check(good_config(), method="HEAD")
    with pytest.raises(ContractError, match="does not document status 418"):
        check(b"", method="HEAD", status=418)
    with pytest.raises(ContractError, match="not documented"):
        check(b"", method="HEAD", path="/api/v2/chat-2-pay")


def test_publisher_error_shape_is_checked():
    bad_401 = {"timestamp": "2026-01-31T12:00:00Z", "status": "401", "error": "Unauthorized", "message": "m", "path": "/"}
    with pytest.raises(ContractError, match="UnauthorizedErrorResponse"):
        check(bad_401, status=401)


def test_nullable_conversion():
    s = _convert({"type": "object", "properties": {"nullable": {"type": "string", "nullable": True}}})
    assert s["properties"]["nullable"] == {"type": ["string", "null"]}
    s = _convert({"type": "string", "enum": ["A"], "nullable": True})
    assert s == {"type": ["string", "null"], "enum": ["A", None]}
    assert _convert({"type": "string", "nullable": False}) == {"type": "string"}


@pytest.mark.parametrize(
    "text, ok",
    [
        ("2026-01-31T12:00:00Z", True),
        ("2026-01-31T12:00:00.123456Z", True),
        ("2026-01-31t12:00:00+02:00", True),
        ("2024-02-29T00:00:00Z", True),
        ("2026-02-29T00:00:00Z", False),
        ("2026-01-31T24:00:00Z", False),
        ("2026-01-31T12:00:00", False),
        ("2026-01-31 12:00:00Z", False),
        ("2026-01-31T12:00:00+2:00", False),
        ("2026-01-31T12:00:00Z\n", False),
    ],
)
def test_rfc3339(text, ok):
    assert is_rfc3339(text) is ok


# ---- the lookup rules, on a small synthetic document ------------------------------------------

SYNTHETIC = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "servers": [{"url": "http://example.test/base"}],
    "paths": {
        "/things/{id}": {
            "get": {
                "responses": {
                    "200": {
                        "description": "ok",
                        "headers": {"X-Request-Id": {"$ref": "#/components/headers/Rid"}},
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                    },
                    "4XX": {"$ref": "#/components/responses/Err"},
                }
            }
        },
        "/things/special": {
            "get": {"responses": {"default": {"description": "any", "content": {"*/*": {"schema": {"type": "string"}}}}}}
        },
        "/empty": {"delete": {"responses": {"204": {"description": "nothing"}}}},
    },
    "components": {
        "headers": {"Rid": {"required": True, "schema": {"type": "string", "pattern": "^[a-z0-9]{1,8}$"}}},
        "schemas": {
            "Thing": {
                "type": "object",
                "required": ["id", "when"],
                "properties": {
                    "id": {"type": "integer"},
                    "when": {"type": "string", "format": "date-time"},
                    "note": {"type": "string", "nullable": True},
                },
            }
        },
        "responses": {
            "Err": {"description": "e", "content": {"application/json": {"schema": {"type": "object", "required": ["message"]}}}},
            "NotFound": {"description": "nf", "content": {"application/json": {"schema": {"type": "object", "required": ["code"]}}}},
        },
    },
}


@pytest.fixture
def synthetic(tmp_path):
    from openapi_check import C2P_PATH, ResponseChecker

    path = tmp_path / "synthetic.json"
    path.write_text(json.dumps(SYNTHETIC))
    checker = ResponseChecker(doc_path=path, c2p_path=C2P_PATH)

    def run(method, p, status, body, headers=None, **kw):
        h = {"Content-Type": "application/json", "X-Request-Id": "abc123"} if headers is None else headers
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return checker.check(method, p, status, h, raw, **kw)

    return run


def test_synthetic_valid_and_nullable(synthetic):
    assert synthetic("GET", "/base/things/7", 200, {"id": 7, "when": "2026-01-31T00:00:00Z", "note": None})["id"] == 7


@pytest.mark.parametrize(
    "body",
    [{"id": 7}, {"id": "7", "when": "2026-01-31T00:00:00Z"}, {"id": 7, "when": "yesterday"},
     {"id": 7, "when": "2026-01-31T00:00:00Z", "note": 5}],
)
def test_synthetic_schema(synthetic, body):
    with pytest.raises(ContractError):
        synthetic("GET", "/base/things/7", 200, body)


def test_synthetic_header_schema(synthetic):
    good = {"id": 7, "when": "2026-01-31T00:00:00Z"}
    with pytest.raises(ContractError, match="header X-Request-Id"):
        synthetic("GET", "/base/things/7", 200, good, headers={"Content-Type": "application/json", "X-Request-Id": "UPPER"})


def test_synthetic_literal_path_wins_and_default_wildcard(synthetic):
    # /things/special is its own operation: any status, any media type, a string
    assert synthetic("GET", "/base/things/special", 500, b"plain text",
                     headers={"Content-Type": "text/plain", "X-Request-Id": "a"}) == "plain text"


def test_synthetic_status_range_and_ref(synthetic):
    synthetic("GET", "/base/things/7", 404, {"message": "m"})
    with pytest.raises(ContractError):
        synthetic("GET", "/base/things/7", 404, {"msg": "m"})
    with pytest.raises(ContractError, match="does not document status 500"):
        synthetic("GET", "/base/things/7", 500, {"message": "m"})


def test_synthetic_no_content(synthetic):
    assert synthetic("DELETE", "/base/empty", 204, b"") is None
    with pytest.raises(ContractError, match="declares no content"):
        synthetic("DELETE", "/base/empty", 204, {"x": 1})


def test_synthetic_undocumented_uses_component(synthetic):
    body = {"status": "404 NOT_FOUND", "message": "m", "errors": ["m"], "code": "no_route"}
    synthetic("GET", "/base/elsewhere", 404, body, undocumented=True)
    with pytest.raises(ContractError, match="components.responses.NotFound"):
        synthetic("GET", "/base/elsewhere", 404, {"status": "404 NOT_FOUND", "message": "m"}, undocumented=True)
