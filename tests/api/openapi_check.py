"""openapi_check.py — every HTTP response of the black-box suites is checked here.

One ResponseChecker holds two OpenAPI 3.0 documents:

  * docs/openapi.json (ours, the whole API): the operation must be documented
    (path template + method), the status must be documented (exact code, then
    "4XX"-style range, then "default"), the response media type must be
    declared (exact, "type/*", then "*/*"), the body must validate against the
    schema, and headers the response declares as required must be present;
  * spec/chat2pay-v2.openapi.json (the publisher's, wire contract):
    for operations it defines, the body is validated against the schema it
    gives for that status, and error bodies also against the publisher's error
    shape for that status (ERROR_SHAPES) even where the publisher did not list
    the status for that operation.

Every response must carry a non-empty X-Request-Id header.

OpenAPI 3.0 schemas are turned into JSON Schema draft 4 (`nullable` becomes a
"null" type) and validated with jsonschema's Draft4Validator, `$ref` resolved
within the document by a RefResolver. Formats are ignored except "date-time"
(RFC 3339, checked strictly) and "date".

Requests deliberately outside the documented API (unknown path, unsupported
method) are checked with undocumented=True: the checker then asserts that the
document really has no such operation, checks the response against the
document's components.responses entry for that status when there is one
(UNDOCUMENTED_RESPONSES) and the body against the publisher's error shape.

Documented response headers are checked too: present when required, value
valid against the header's schema.

A HEAD response is checked as the GET operation's response without its body:
the status and headers must be GET's, and the body must be empty.

Use ApiClient (a requests wrapper) for ordinary calls; check_response() takes
any (method, path, status, headers, body) — e.g. from http.client — so that
hand-made requests go through the same checks.
"""

from __future__ import annotations

import datetime
import functools
import json
import re
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit

import requests
from jsonschema import Draft4Validator, FormatChecker, RefResolver

REPO = Path(__file__).resolve().parents[2]
DOC_PATH = REPO / "docs" / "openapi.json"
C2P_PATH = REPO / "spec" / "chat2pay-v2.openapi.json"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# The publisher's error body schemas, by HTTP status (our error registry maps
# every status to one of these shapes; see src/http/reply.c).
ERROR_SHAPES = {
    400: "BadRequestErrorResponse",
    401: "UnauthorizedErrorResponse",
    404: "NotFoundErrorResponse",
    405: "NotFoundErrorResponse",
    409: "BadRequestErrorResponse",
    410: "NotFoundErrorResponse",
    413: "BadRequestErrorResponse",
    415: "BadRequestErrorResponse",
    422: "BadRequestErrorResponse",
    429: "NotFoundErrorResponse",
    500: "NotFoundErrorResponse",
    503: "NotFoundErrorResponse",
}


# Answers to requests outside the documented operations are described, when
# the document has them, by these components.responses entries.
UNDOCUMENTED_RESPONSES = {404: "NotFound", 405: "MethodNotAllowed"}

# A 405 takes the error body of its path's API family: the family of the
# operations documented on the path (their tag), and its component.
FAMILY_405 = {"Marketplace": "MarketplaceMethodNotAllowed",
              "MarketplaceToken": "MarketplaceTokenMethodNotAllowed",
              "WhatsApp Pay": "WhatsAppMethodNotAllowed"}
MARKETPLACE_TOKEN_PATHS = ("/token", "/auth/token")


class ContractError(AssertionError):
    """A response that the OpenAPI documents do not allow."""


# ---- formats --------------------------------------------------------------------

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))"
)
_FULL_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def is_rfc3339(text: Any) -> bool:
    """True when text is an RFC 3339 date-time (section 5.6), with a valid date."""
    if not isinstance(text, str):
        return False
    m = _RFC3339.fullmatch(text)
    if not m:
        return False
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    if hour > 23 or minute > 59 or second > 60:
        return False
    if m.group(9) is not None and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return False
    return True


def parse_rfc3339(text: str) -> datetime.datetime:
    """An aware datetime from an RFC 3339 date-time (fails the test if invalid)."""
    assert is_rfc3339(text), f"not an RFC 3339 date-time: {text!r}"
    t = text.replace("z", "Z").replace("t", "T")
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    # fromisoformat (3.11) takes any number of fraction digits
    return datetime.datetime.fromisoformat(t)


_format_checker = FormatChecker(formats=())


@_format_checker.checks("date-time")
def _check_date_time(instance: Any) -> bool:
    return not isinstance(instance, str) or is_rfc3339(instance)


@_format_checker.checks("date")
def _check_date(instance: Any) -> bool:
    if not isinstance(instance, str):
        return True
    m = _FULL_DATE.fullmatch(instance)
    if not m:
        return False
    try:
        datetime.date(*(int(g) for g in m.groups()))
    except ValueError:
        return False
    return True


# ---- OpenAPI 3.0 → JSON Schema draft 4 ----------------------------------------------


_JAVA_ENUM = re.compile(r"^\w+\.\w+\(name=([^,()]+), id=\d+\)$")


def _convert(node: Any, schema_map: bool = False) -> Any:
    """Copy of node with every OpenAPI `nullable` turned into JSON Schema.

    schema_map: node is a map of names to schemas (`properties`), whose keys
    are not keywords."""
    if isinstance(node, list):
        return [_convert(x) for x in node]
    if not isinstance(node, dict):
        return node
    if schema_map:
        return {k: _convert(v) for k, v in node.items()}
    out = {k: _convert(v, schema_map=k in ("properties", "patternProperties")) for k, v in node.items()}
    # The published document prints Java enums as "TransactionType.SALE(name=Sale,
    # id=2)"; its README says servers answer with the short name ("Sale"). An
    # enum of such values therefore also admits each value's `name`.
    enum = out.get("enum")
    if isinstance(enum, list) and enum and all(isinstance(v, str) and _JAVA_ENUM.match(v) for v in enum):
        out["enum"] = enum + [_JAVA_ENUM.match(v).group(1) for v in enum]
    nullable = out.get("nullable")
    if isinstance(nullable, bool):
        del out["nullable"]
        if nullable:
            t = out.get("type")
            if isinstance(t, str):
                out["type"] = [t, "null"]
            elif isinstance(t, list) and "null" not in t:
                out["type"] = t + ["null"]
            elif t is None:
                out = {"anyOf": [out, {"type": "null"}]}
            if "enum" in out and None not in out["enum"]:
                out["enum"] = out["enum"] + [None]
    return out


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _is_json_media(mt: str) -> bool:
    return mt == "application/json" or (mt.startswith("application/") and mt.endswith("+json"))


def _excerpt(value: Any, limit: int = 600) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


class OpenApiDocument:
    """One OpenAPI 3.0 document: operation lookup and schema validation."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.name = self.path.name
        with open(self.path, encoding="utf-8") as f:
            self.raw = json.load(f)
        assert isinstance(self.raw, dict), f"{self.path}: not a JSON object"
        version = str(self.raw.get("openapi", ""))
        assert version.startswith("3.0"), f"{self.path}: expected OpenAPI 3.0.x, got {version!r}"
        self.doc = _convert(self.raw)
        self.resolver = RefResolver(base_uri=self.path.resolve().as_uri(), referrer=self.doc)
        self.base_path = self._base_path()
        paths = self.doc.get("paths")
        assert isinstance(paths, dict), f"{self.path}: no paths object"
        # literal templates first, then by fewer parameters: /a/b beats /a/{x}
        self.templates = sorted(paths, key=lambda t: (t.count("{"), -len(t)))

    def _base_path(self) -> str:
        servers = self.doc.get("servers") or []
        if not servers:
            return ""
        path = urlsplit(str(servers[0].get("url", ""))).path.rstrip("/")
        return path

    # -- lookup --

    @staticmethod
    def _template_matches(template: str, path: str) -> bool:
        t_segs = template.split("/")
        p_segs = path.split("/")
        if len(t_segs) != len(p_segs):
            return False
        for t, p in zip(t_segs, p_segs):
            if len(t) >= 2 and t.startswith("{") and t.endswith("}"):
                if p == "":
                    return False
            elif t != p:
                return False
        return True

    def find_path(self, path: str) -> str | None:
        """The path template of the document that matches a concrete path."""
        candidates = [path]
        if self.base_path and path.startswith(self.base_path + "/"):
            candidates.insert(0, path[len(self.base_path) :])
        for p in candidates:
            for template in self.templates:
                if self._template_matches(template, p):
                    return template
        return None

    def find_operation(self, method: str, path: str) -> tuple[str, dict] | None:
        """(template, operation) for a method and concrete path, or None.

        Every template matching the path is tried, so that /a/{x} can hold a
        method that /a/b does not."""
        m = method.lower()
        candidates = [path]
        if self.base_path and path.startswith(self.base_path + "/"):
            candidates.insert(0, path[len(self.base_path) :])
        for p in candidates:
            for template in self.templates:
                if not self._template_matches(template, p):
                    continue
                item = self.deref(self.doc["paths"][template])
                op = item.get(m)
                if isinstance(op, dict):
                    return template, op
        return None

    def deref(self, node: Any) -> Any:
        """Follow `$ref` chains of response/parameter objects."""
        seen = 0
        while isinstance(node, dict) and "$ref" in node:
            seen += 1
            assert seen < 20, f"{self.name}: $ref loop at {node['$ref']}"
            _, node = self.resolver.resolve(node["$ref"])
        return node

    @staticmethod
    def response_key(op: dict, status: int) -> str | None:
        responses = op.get("responses") or {}
        s = str(status)
        for key in (s, s[0] + "XX", s[0] + "xx", "default"):
            if key in responses:
                return key
        return None

    def schema(self, name: str) -> dict:
        schemas = (self.doc.get("components") or {}).get("schemas") or {}
        assert name in schemas, f"{self.name}: no components.schemas.{name}"
        return {"$ref": f"#/components/schemas/{name}"}

    # -- validation --

    def errors(self, schema: Any, instance: Any) -> list[str]:
        """Messages for every way instance fails schema (empty when valid)."""
        v = Draft4Validator(schema, resolver=self.resolver, format_checker=_format_checker)
        out = []
        for e in sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in e.absolute_path) or "(root)"
            out.append(f"at {where}: {e.message}")
            if len(out) >= 8:
                out.append("…")
                break
        return out


def _pick_content(content: dict, mt: str) -> str | None:
    keys = {k.lower(): k for k in content}
    if mt in keys:
        return keys[mt]
    wildcard = mt.split("/")[0] + "/*"
    if wildcard in keys:
        return keys[wildcard]
    return keys.get("*/*")


class ResponseChecker:
    """Checks responses against docs/openapi.json and the Chat 2 Pay spec."""

    def __init__(self, doc_path: Path = DOC_PATH, c2p_path: Path = C2P_PATH):
        self.doc = OpenApiDocument(doc_path)
        self.c2p = OpenApiDocument(c2p_path)

    def check(
        self,
        method: str,
        path: str,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
        *,
        undocumented: bool = False,
    ) -> Any:
        """Check one response; returns the decoded body (JSON value, text or None).

        path may carry a query string; it is ignored for the lookup."""
        method = method.upper()
        path = unquote(urlsplit(path).path)
        hdrs = {k.lower(): v for k, v in headers.items()}
        where = f"{method} {path.encode('unicode_escape').decode()} → {status}"
        problems: list[str] = []
        head = method == "HEAD"
        if head:  # GET without the body
            if body:
                problems.append(f"a HEAD response carries a body of {len(body)} bytes")
            method = "GET"

        rid = hdrs.get("x-request-id")
        if not rid:
            problems.append("no X-Request-Id header")

        mt = _media_type(hdrs.get("content-type"))
        decoded = self._decode(body, mt, problems)

        if undocumented:
            found = self.doc.find_operation(method, path)
            if found is not None:
                problems.append(
                    f"called as undocumented, but {self.doc.name} documents "
                    f"{method.lower()} {found[0]}"
                )
            component = UNDOCUMENTED_RESPONSES.get(status)
            family = self._path_family(path) if status == 405 else None
            if family is not None:
                component = FAMILY_405[family]
            responses = (self.doc.doc.get("components") or {}).get("responses") or {}
            if component in responses:
                self._check_response_object(
                    self.doc, self.doc.deref(responses[component]),
                    f"{self.doc.name} components.responses.{component}", hdrs, mt, body, decoded,
                    problems, True, head,
                )
            shape = ERROR_SHAPES.get(status)
            if family is not None:
                if component not in responses:
                    problems.append(f"{self.doc.name} has no components.responses.{component}")
            elif shape is None:
                problems.append(f"undocumented request answered with {status}, which has no error shape")
            elif head:
                pass
            elif not _is_json_media(mt):
                problems.append(f"error body must be JSON, got Content-Type {hdrs.get('content-type')!r}")
            else:
                for e in self.c2p.errors(self.c2p.schema(shape), decoded):
                    problems.append(f"{self.c2p.name} {shape}: {e}")
        else:
            self._check_doc(
                self.doc, method, path, status, hdrs, mt, body, decoded, problems, strict=True, head=head
            )
            if self.c2p.find_operation(method, path) is not None:
                self._check_doc(
                    self.c2p, method, path, status, hdrs, mt, body, decoded, problems, strict=False,
                    head=head,
                )
                shape = ERROR_SHAPES.get(status)
                if shape is not None and status >= 400 and not head:
                    for e in self.c2p.errors(self.c2p.schema(shape), decoded):
                        problems.append(f"{self.c2p.name} error shape {shape}: {e}")

        if problems:
            raise ContractError(
                f"{where}: response breaks the API contract:\n  - "
                + "\n  - ".join(problems)
                + f"\n  body: {_excerpt(body.decode('utf-8', 'replace'))}"
            )
        return decoded

    def _path_family(self, path: str) -> str | None:
        """The API family (of FAMILY_405) whose operations are documented on
        the path, or None for the others (their 405 is Chat 2 Pay's)."""
        for m in ("get", "post", "put", "delete", "patch"):
            found = self.doc.find_operation(m, path)
            if found is None:
                continue
            tags = found[1].get("tags") or []
            if "Marketplace" in tags:
                return "MarketplaceToken" if path in MARKETPLACE_TOKEN_PATHS else "Marketplace"
            if "WhatsApp Pay" in tags:
                return "WhatsApp Pay"
            return None
        return None

    @staticmethod
    def _decode(body: bytes, mt: str, problems: list[str]) -> Any:
        if not body:
            return None
        if _is_json_media(mt):
            try:
                return json.loads(body)
            except ValueError as e:
                problems.append(f"Content-Type is {mt} but the body is not JSON: {e}")
                return None
        if mt.startswith("image/") and mt != "image/svg+xml":
            # binary ("type: string, format: binary"): every byte as a character
            return body.decode("latin-1")
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            problems.append("body is not UTF-8")
            return None

    def _check_doc(
        self,
        d: OpenApiDocument,
        method: str,
        path: str,
        status: int,
        hdrs: dict,
        mt: str,
        body: bytes,
        decoded: Any,
        problems: list[str],
        strict: bool,
        head: bool = False,
    ) -> None:
        found = d.find_operation(method, path)
        if found is None:
            template = d.find_path(path)
            problems.append(
                f"{d.name}: operation {method.lower()} {path} is not documented"
                + (f" (path {template} has no {method.lower()})" if template else "")
            )
            return
        template, op = found
        key = d.response_key(op, status)
        if key is None:
            if strict:
                problems.append(
                    f"{d.name}: {method.lower()} {template} does not document status {status} "
                    f"(documented: {', '.join(sorted(op.get('responses') or {})) or 'none'})"
                )
            return
        resp = d.deref(op["responses"][key])
        self._check_response_object(
            d, resp, f"{d.name} {method.lower()} {template} {key}", hdrs, mt, body, decoded, problems, strict,
            head,
        )

    @staticmethod
    def _check_response_object(
        d: OpenApiDocument,
        resp: dict,
        label: str,
        hdrs: dict,
        mt: str,
        body: bytes,
        decoded: Any,
        problems: list[str],
        strict: bool,
        head: bool = False,
    ) -> None:
        for hname, hspec in (resp.get("headers") or {}).items():
            hspec = d.deref(hspec)
            value = hdrs.get(hname.lower())
            if value is None:
                if hspec.get("required"):
                    problems.append(f"{label}: required header {hname} missing")
                continue
            hschema = hspec.get("schema")
            if isinstance(hschema, dict):
                if d.deref(hschema).get("type") == "integer":
                    try:
                        value = int(value)
                    except ValueError:
                        pass
                for e in d.errors(hschema, value):
                    problems.append(f"{label}: header {hname}: {e}")
        if head:  # the body GET would have had is not sent
            return
        content = resp.get("content")
        if not content:
            if body and strict:
                problems.append(f"{label}: declares no content but the body has {len(body)} bytes")
            return
        if not body:
            problems.append(f"{label}: declares content but the body is empty")
            return
        media_key = _pick_content(content, mt)
        if media_key is None:
            problems.append(
                f"{label}: media type {mt or '(none)'} not declared (declared: {', '.join(content)})"
            )
            return
        schema = (content[media_key] or {}).get("schema")
        if schema is None:
            return
        for e in d.errors(schema, decoded):
            problems.append(f"{label} ({media_key}): {e}")


@functools.lru_cache(maxsize=None)
def get_checker() -> ResponseChecker:
    """The session's checker (documents are read once)."""
    return ResponseChecker()


def check_response(
    method: str,
    path: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    undocumented: bool = False,
) -> Any:
    """Check any response (e.g. read with http.client); returns the decoded body."""
    return get_checker().check(method, path, status, headers, body, undocumented=undocumented)


_UNSET = object()
_dumps = json.dumps  # ApiClient.request has a parameter named json


class ApiClient:
    """requests wrapper: every response is checked before the test sees it.

    The decoded body is on resp.body (JSON value, text or None)."""

    def __init__(self, base_url: str, timeout: float = 15.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = _UNSET,
        data: bytes | str | None = None,
        undocumented: bool = False,
        timeout: float | None = None,
    ) -> requests.Response:
        """key: sent as "Authorization: <key>" (pass "Bearer …" yourself).
        json: serialised with Content-Type application/json unless headers
        say otherwise. data: raw body."""
        h = dict(headers or {})
        if key is not None:
            h["Authorization"] = key
        if json is not _UNSET:
            data = _dumps(json).encode()
            if not any(k.lower() == "content-type" for k in h):
                h["Content-Type"] = "application/json"
        resp = self.session.request(
            method,
            self.base_url + path,
            headers=h,
            data=data,
            timeout=timeout or self.timeout,
            allow_redirects=False,
        )
        resp.body = check_response(
            method, path, resp.status_code, resp.headers, resp.content, undocumented=undocumented
        )
        return resp

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def head(self, path: str, **kw) -> requests.Response:
        return self.request("HEAD", path, **kw)

    def put(self, path: str, **kw) -> requests.Response:
        return self.request("PUT", path, **kw)

    def post(self, path: str, **kw) -> requests.Response:
        return self.request("POST", path, **kw)

    def delete(self, path: str, **kw) -> requests.Response:
        return self.request("DELETE", path, **kw)
