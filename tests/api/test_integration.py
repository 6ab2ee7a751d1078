"""PUT /api/v2/integration — changing an integrator's status, and everything
the dispatcher does with a JSON body: validation, malformed JSON, media type,
size and nesting limits."""

from __future__ import annotations

import json
import select
import socket
import time
import uuid

import pytest

from openapi_check import check_response, parse_rfc3339

CONFIG = "/api/v2/config"
INTEGRATION = "/api/v2/integration"
JSON_CT = {"Content-Type": "application/json"}
MAX_BODY = 64 * 1024


@pytest.fixture
def app(merchant, add_integrator):
    """A merchant with one ACTIVATED integrator: (merchant, integrator)."""
    return merchant, add_integrator(merchant["merchantId"], name="Till App", type="APPLICATION")


def put(api, key, body, **kw):
    return api.put(INTEGRATION, key=key, json=body, **kw)


def put_raw(api, key, data, headers=JSON_CT):
    return api.put(INTEGRATION, key=key, data=data, headers=headers)


def integrator_status(api, key, app_id):
    found = [i for i in api.get(CONFIG, key=key).body["integrators"] if i["applicationId"] == app_id]
    assert len(found) == 1, f"integrator {app_id} listed {len(found)} times"
    return found[0]["status"]


def assert_bad_request(resp):
    """400 {message, errors[]} (+ code); returns the errors."""
    assert resp.status_code == 400, resp.text
    body = resp.body
    assert isinstance(body.get("message"), str) and body["message"].strip(), body
    assert isinstance(body.get("errors"), list) and body["errors"], body
    assert all(isinstance(e, str) and e for e in body["errors"]), body
    assert "status" not in body  # that member belongs to the 404 shape
    return body["errors"]


# ---- status changes ----------------------------------------------------------------------


def test_status_changes(api, app):
    m, it = app
    key, app_id = m["apiKey"], it["applicationId"]
    for status in ("DEACTIVATED", "ACTIVATED", "DEACTIVATED", "DEACTIVATED", "ACTIVATED"):
        r = put(api, key, {"applicationUuid": app_id, "status": status})
        assert r.status_code == 200, r.text
        assert set(r.body) == {"updateTime"}
        parse_rfc3339(r.body["updateTime"])
        assert integrator_status(api, key, app_id) == status


def test_update_times_increase(api, app):
    m, it = app
    times = []
    for status in ("DEACTIVATED", "ACTIVATED", "DEACTIVATED"):
        time.sleep(0.005)  # times have millisecond resolution
        r = put(api, m["apiKey"], {"applicationUuid": it["applicationId"], "status": status})
        assert r.status_code == 200, r.text
        times.append(parse_rfc3339(r.body["updateTime"]))
    assert times == sorted(times) and len(set(times)) == 3, times


def test_status_spellings(api, app):
    # enum names are matched case-insensitively; the answer uses the canonical name
    m, it = app
    r = put(api, m["apiKey"], {"applicationUuid": it["applicationId"], "status": "deactivated"})
    assert r.status_code == 200, r.text
    assert integrator_status(api, m["apiKey"], it["applicationId"]) == "DEACTIVATED"


def test_unknown_application(api, merchant):
    missing = str(uuid.uuid4())
    r = put(api, merchant["apiKey"], {"applicationUuid": missing, "status": "ACTIVATED"})
    assert r.status_code == 404, r.text
    body = r.body
    assert body["status"] == "404 NOT_FOUND"
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], list) and body["errors"]
    assert body["code"] == "not_found"


def test_deleted_is_final(api, app):
    m, it = app
    key, app_id = m["apiKey"], it["applicationId"]
    r = put(api, key, {"applicationUuid": app_id, "status": "DELETED"})
    assert r.status_code == 200, r.text
    assert integrator_status(api, key, app_id) == "DELETED"
    for status in ("ACTIVATED", "DEACTIVATED", "DELETED"):
        r = put(api, key, {"applicationUuid": app_id, "status": status})
        errors = assert_bad_request(r)
        assert app_id in r.body["message"]
        assert errors == [r.body["message"]]
    assert integrator_status(api, key, app_id) == "DELETED"


def test_rejected_change_does_not_touch_update_time(api, app):
    m, it = app
    key = m["apiKey"]
    before = api.get(CONFIG, key=key).body["updateTime"]
    assert put(api, key, {"applicationUuid": it["applicationId"], "status": "bogus"}).status_code == 400
    assert put(api, key, {"applicationUuid": str(uuid.uuid4()), "status": "DELETED"}).status_code == 404
    assert api.get(CONFIG, key=key).body["updateTime"] == before
    assert integrator_status(api, key, it["applicationId"]) == "ACTIVATED"


# ---- validation ---------------------------------------------------------------------------


def test_missing_fields_listed_together(api, merchant):
    r = put(api, merchant["apiKey"], {})
    errors = assert_bad_request(r)
    assert "applicationUuid: is required" in errors
    assert "status: is required" in errors
    assert len(errors) == 2
    assert r.body["code"] == "validation_failed"


def test_null_fields_are_missing(api, merchant):
    errors = assert_bad_request(put(api, merchant["apiKey"], {"applicationUuid": None, "status": None}))
    assert sorted(errors) == ["applicationUuid: is required", "status: is required"]


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"applicationUuid": 5, "status": "ACTIVATED"}, ["applicationUuid: must be a string"]),
        ({"applicationUuid": ["x"], "status": "ACTIVATED"}, ["applicationUuid: must be a string"]),
        ({"applicationUuid": {"id": "x"}, "status": "ACTIVATED"}, ["applicationUuid: must be a string"]),
        ({"applicationUuid": True, "status": "ACTIVATED"}, ["applicationUuid: must be a string"]),
        (
            {"applicationUuid": "x", "status": "ENABLED"},
            ["status: must be one of: ACTIVATED, DEACTIVATED, DELETED"],
        ),
        (
            {"applicationUuid": "x", "status": ["ACTIVATED"]},
            ["status: must be one of: ACTIVATED, DEACTIVATED, DELETED"],
        ),
        (
            {"applicationUuid": 1, "status": ""},
            ["applicationUuid: must be a string", "status: must be one of: ACTIVATED, DEACTIVATED, DELETED"],
        ),
        ({"applicationUuid": "", "status": "ACTIVATED"}, ["applicationUuid: must not be blank"]),
        ({"applicationUuid": "   ", "status": "ACTIVATED"}, ["applicationUuid: must not be blank"]),
        ({"applicationUuid": "a" * 65, "status": "ACTIVATED"}, ["applicationUuid: must be at most 64 characters"]),
        ({"applicationUuid": "x\u0001y", "status": "ACTIVATED"}, ["applicationUuid: must not contain control characters"]),
    ],
    ids=[
        "uuid-number", "uuid-array", "uuid-object", "uuid-bool", "bad-enum", "enum-array", "both-wrong",
        "uuid-empty", "uuid-blank", "uuid-too-long", "uuid-control",
    ],
)
def test_field_errors(api, merchant, body, expected):
    r = put(api, merchant["apiKey"], body)
    errors = assert_bad_request(r)
    assert errors == expected
    assert r.body["code"] == "validation_failed"
    n = len(expected)
    assert r.body["message"] == f"Validation failed: {n} problem" + ("s" if n > 1 else "")


def test_max_length_uuid_is_accepted_as_a_string(api, merchant):
    # 64 characters pass validation; the application does not exist → 404
    r = put(api, merchant["apiKey"], {"applicationUuid": "a" * 64, "status": "ACTIVATED"})
    assert r.status_code == 404, r.text


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"[1, 2]", b"1", b"null", b"true", b"3.5", b"false", b"-0"])
def test_body_not_an_object(api, merchant, raw):
    r = put_raw(api, merchant["apiKey"], raw)
    errors = assert_bad_request(r)
    assert errors == ["body: must be a JSON object"], r.body


@pytest.mark.parametrize("raw", [b"", b"   ", b"\r\n\t "])
def test_empty_body(api, merchant, raw):
    r = put_raw(api, merchant["apiKey"], raw)
    errors = assert_bad_request(r)
    assert len(errors) == 1 and errors[0].startswith("body: is required"), errors


def test_empty_body_without_content_type(api, merchant):
    r = api.put(INTEGRATION, key=merchant["apiKey"], data=b"")
    assert_bad_request(r)


# ---- malformed JSON -----------------------------------------------------------------------


def malformed_message(resp):
    errors = assert_bad_request(resp)
    assert resp.body["code"] == "malformed_json", resp.body
    assert errors == [resp.body["message"]]
    return resp.body["message"]


def test_malformed_json_names_position(api, merchant):
    msg = malformed_message(put_raw(api, merchant["apiKey"], b'{"applicationUuid": '))
    assert "line 1, column" in msg and "offset" in msg, msg
    # the end of input is at byte 20 (column 21)
    assert "line 1, column 21 (byte offset 20)" in msg, msg


@pytest.mark.parametrize(
    "raw, line, column, offset",
    [
        (b'{"status": x}', 1, 12, 11),
        (b'{\n  "applicationUuid": "x",\n  "status": ACTIVATED\n}', 3, 13, 40),
        (b'{"a" 1}', 1, 6, 5),
        (b"{a:1}", 1, 2, 1),
        (b'{"a":1}{}', 1, 8, 7),
    ],
    ids=["bare-word", "multi-line", "missing-colon", "unquoted-name", "second-object"],
)
def test_malformed_json_points_at_offending_character(api, merchant, raw, line, column, offset):
    msg = malformed_message(put_raw(api, merchant["apiKey"], raw))
    assert raw[offset : offset + 1] not in b" \n", "test data: offset must name a visible character"
    assert f"line {line}, column {column} (byte offset {offset})" in msg, msg


@pytest.mark.parametrize(
    "raw",
    [
        b'{"applicationUuid":"x","status":"ACTIVATED"} x',
        b'{"applicationUuid":"x","status":"ACTIVATED"}}',
        b'{"applicationUuid":"x","status":"ACTIVATED"},',
        b'{"applicationUuid":"x","status":"ACTIVATED"}\n{"applicationUuid":"x","status":"ACTIVATED"}',
    ],
    ids=["word", "brace", "comma", "two-objects"],
)
def test_trailing_garbage(api, merchant, raw):
    malformed_message(put_raw(api, merchant["apiKey"], raw))


def test_trailing_whitespace_is_fine(api, app):
    m, it = app
    raw = json.dumps({"applicationUuid": it["applicationId"], "status": "DEACTIVATED"}).encode() + b" \r\n\t\n"
    r = put_raw(api, m["apiKey"], raw)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"a":', b'{"a":1,}', b"[1,2", b"nul", b'{"a":"\x01"', b'{"applicationUuid":"x"\x00}',
     b"\xef\xbb\xbf{}", b"{\"a\":tru}", b"\xff\xfe", b'{"a":1 /*c*/}', b'{"a":0x10}', b'{"a":01}',
     b'{"a":.5}', b'{"a":+1}',
     # not JSON either (RFC 8259), though lenient parsers take them
     b"{'a': 1}", b'{"a":NaN}', b'{"a":Infinity}', b'{"a":-Infinity}', b'{"a":1.}',
     b'{"a":"tab\tinside"}', b'{"a":"new\nline"}'],
    ids=["open-brace", "open-member", "trailing-comma", "open-array", "nul-word",
         "control-open", "nul-byte", "bom", "bad-literal", "binary", "comment", "hex", "leading-zero",
         "leading-dot", "plus-sign",
         "single-quoted", "NaN", "Infinity", "minus-Infinity", "trailing-dot", "raw-tab-in-string",
         "raw-newline-in-string"],
)
def test_malformed_json(api, merchant, raw):
    malformed_message(put_raw(api, merchant["apiKey"], raw))


@pytest.mark.parametrize("depth", [33, 1000, 10000])
def test_deep_nesting_is_refused(api, merchant, depth):
    raw = b"[" * depth + b"]" * depth
    malformed_message(put_raw(api, merchant["apiKey"], raw))
    raw = b'{"a":' * depth + b"1" + b"}" * depth  # 10000 levels: 60 KB, under the size limit
    assert len(raw) <= MAX_BODY
    malformed_message(put_raw(api, merchant["apiKey"], raw))
    assert api.get("/livez").status_code == 200


def test_moderate_nesting_is_parsed(api, merchant):
    # 20 levels are within the limit: the body parses and is then validated
    raw = b'{"x":' * 20 + b"1" + b"}" * 20
    errors = assert_bad_request(put_raw(api, merchant["apiKey"], raw))
    assert sorted(errors) == ["applicationUuid: is required", "status: is required"]


# ---- media type ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ctype", ["text/plain", "application/x-www-form-urlencoded", "application/xml", "application/jsonx", "multipart/form-data; boundary=x"]
)
def test_unsupported_media_type(api, app, ctype):
    m, it = app
    raw = json.dumps({"applicationUuid": it["applicationId"], "status": "DELETED"}).encode()
    r = put_raw(api, m["apiKey"], raw, headers={"Content-Type": ctype})
    assert r.status_code == 415, r.text
    assert isinstance(r.body["message"], str) and r.body["message"]
    assert r.body["code"] == "unsupported_media_type"
    # nothing was changed
    assert integrator_status(api, m["apiKey"], it["applicationId"]) == "ACTIVATED"


@pytest.mark.parametrize("headers, why", [
    ({"Content-Type": "application/json; charset=utf-16"}, "Only UTF-8"),
    ({"Content-Type": "application/json;charset=\"ISO-8859-1\""}, "Only UTF-8"),
    ({"Content-Type": "application/json", "Content-Encoding": "gzip"}, "Content-Encoding"),
], ids=["utf-16", "latin-1", "gzip"])
def test_a_body_that_is_not_plain_utf8_is_415(api, app, headers, why):
    """JSON is UTF-8 (RFC 8259): another charset, or a compressed body,
    is not read as text (415), not reported as broken JSON."""
    m, it = app
    raw = json.dumps({"applicationUuid": it["applicationId"], "status": "DELETED"}).encode()
    r = put_raw(api, m["apiKey"], raw, headers=headers)
    assert r.status_code == 415 and r.body["code"] == "unsupported_media_type", r.text
    assert why in r.body["message"], r.body
    assert integrator_status(api, m["apiKey"], it["applicationId"]) == "ACTIVATED"


@pytest.mark.parametrize(
    "ctype", ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json",
              "application/json; charset=UTF8", 'application/json; charset="utf-8"', None]
)
def test_json_media_types_accepted(api, app, ctype):
    m, it = app
    raw = json.dumps({"applicationUuid": it["applicationId"], "status": "DEACTIVATED"}).encode()
    r = put_raw(api, m["apiKey"], raw, headers={} if ctype is None else {"Content-Type": ctype})
    assert r.status_code == 200, r.text


# ---- size -------------------------------------------------------------------------------------


def padded(obj, size):
    raw = json.dumps(obj).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def test_body_at_limit_is_accepted(api, app):
    m, it = app
    raw = padded({"applicationUuid": it["applicationId"], "status": "DEACTIVATED"}, MAX_BODY)
    r = put_raw(api, m["apiKey"], raw)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("size", [MAX_BODY + 1, 200_000, 4 * 1024 * 1024])
def test_body_too_large(api, app, size):
    m, it = app
    raw = padded({"applicationUuid": it["applicationId"], "status": "DELETED"}, size)
    r = put_raw(api, m["apiKey"], raw)
    assert r.status_code == 413, r.text
    assert r.body["code"] == "payload_too_large"
    assert str(MAX_BODY) in r.body["message"]
    # the server keeps serving, and the oversized change was not applied
    assert api.get("/livez").status_code == 200
    assert integrator_status(api, m["apiKey"], it["applicationId"]) == "ACTIVATED"
    r = put(api, m["apiKey"], {"applicationUuid": it["applicationId"], "status": "DEACTIVATED"})
    assert r.status_code == 200, r.text


def test_body_too_large_chunked(api, server, app):
    """Without Content-Length the limit is enforced while the body arrives: the
    server answers 413 early (we stop sending once it has answered)."""
    m, it = app
    raw = padded({"applicationUuid": it["applicationId"], "status": "DELETED"}, 3 * MAX_BODY)
    head = (
        f"PUT {INTEGRATION} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {m['apiKey']}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    data = b""
    deadline = time.monotonic() + 10
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(head)
        for i in range(0, len(raw), 8192):
            chunk = raw[i : i + 8192]
            try:
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            except OSError:
                break
            if select.select([s], [], [], 0.01)[0]:
                break  # the server has answered
        else:
            try:
                s.sendall(b"0\r\n\r\n")
            except OSError:
                pass
        while time.monotonic() < deadline:
            try:
                part = s.recv(65536)
            except OSError:
                break
            if not part:
                break
            data += part
    head_part, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head_part.decode("latin-1").split("\r\n")
    assert data, "the server closed the connection without answering"
    assert status_line.startswith("HTTP/1.1 413"), data[:300]
    headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
    decoded = check_response("PUT", INTEGRATION, 413, headers, body)
    assert decoded["code"] == "payload_too_large"
    assert api.get("/livez").status_code == 200
    assert integrator_status(api, m["apiKey"], it["applicationId"]) == "ACTIVATED"
