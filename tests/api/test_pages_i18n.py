"""The customer pages' languages (Accept-Language, catalogs, right to left),
ICU amount formatting, the merchant logo (`merchant update --logo`,
GET /m/{merchantId}/logo) and the page script (GET /static/chatpay.js)."""

import re
import struct
import zlib

import pytest
import requests

from cp_helpers import link_body

LINKS = "/api/v2/chat-2-pay"


def tiny_png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def new_link(api, m, **fields) -> str:
    r = api.post(LINKS, key=m["apiKey"], json=link_body(channel="none", returnPaymentLink=True, **fields))
    assert r.status_code == 201, r.text
    return "/p/" + r.body["paymentLink"].rsplit("/p/", 1)[1]


def page(api, path, lang=None):
    headers = {"Accept-Language": lang} if lang else {}
    return api.get(path, headers=headers)


@pytest.mark.parametrize(
    "accept, lang, word",
    [
        (None, "en", "Order summary"),
        ("fr-CA,fr;q=0.9,en;q=0.5", "fr", "commande"),
        ("pt-BR", "pt", "pedido"),
        ("es", "es", "pedido"),
        ("de;q=1, ar;q=0.8", "ar", None),
        ("xx, *;q=0.1", "en", "Order summary"),
        ("!!garbage;;q=x", "en", "Order summary"),
    ],
)
def test_language_follows_accept_language(api, merchant, accept, lang, word):
    r = page(api, new_link(api, merchant), accept)
    assert r.status_code == 200
    assert r.headers.get("Content-Language") == lang
    assert "Accept-Language" in r.headers.get("Vary", "")
    assert f'lang="{lang}"' in r.text
    if lang == "ar":
        assert 'dir="rtl"' in r.text
    else:
        assert 'dir="rtl"' not in r.text
    if word:
        assert word.lower() in r.text.lower()


def test_amounts_are_formatted_for_the_language(api, merchant):
    path = new_link(api, merchant, totalAmount=1234.50, subTotalAmount=None, taxAmount=None)
    en = page(api, path, "en").text
    fr = page(api, path, "fr").text
    assert "1,234.50" in en
    # French groups thousands with a (narrow) no-break space and uses a decimal comma
    assert "234,50" in fr and "1,234.50" not in fr


def test_result_pages_use_the_language(api, merchant):
    r = page(api, "/p/no-such-token-at-all", "es")
    assert r.status_code == 404
    assert r.headers.get("Content-Language") == "es"


def test_message_pages_isolate_the_merchants_texts(api, make_merchant):
    """On the pages of a link that cannot be paid, the merchant's name and
    the order number sit in a translated sentence. Each is isolated (<bdi>):
    on an Arabic page a Latin name keeps its punctuation in place, and a bidi
    control in a name cannot reorder the sentence after it."""
    name = "Bob's <Shop>\u202e!"
    m = make_merchant(name=name)
    order = "ORD-7 (B)"
    r = api.post(LINKS, key=m["apiKey"], json=link_body(returnPaymentLink=True, orderNumber=order))
    assert r.status_code == 201, r.text
    path = "/p/" + r.body["paymentLink"].rsplit("/p/", 1)[1]
    c = api.post("/api/v2/cancel/" + r.body["paymentLinkRef"], key=m["apiKey"])
    assert c.status_code == 200, c.text
    for lang in ("ar", "en"):
        shown = page(api, path, lang)
        assert shown.status_code == 410
        assert "<bdi>Bob&#39;s &lt;Shop&gt;\u202e!</bdi>" in shown.text
        assert f"<bdi>{order}</bdi>" in shown.text


@pytest.mark.parametrize("method, tail", [("DELETE", ""), ("PUT", "/pay"), ("GET", "/x"), ("GET", "/pay/")])
def test_a_page_token_in_an_unknown_path_is_not_repeated(api, server, merchant, method, tail):
    """A path that is not a page (another method, a trailing slash a
    messaging app added) is answered without the link's token in the error,
    nor in the log: whoever holds the token can pay the link."""
    path = new_link(api, merchant)
    token = path.rsplit("/", 1)[1]
    r = requests.request(method, server.base_url + path + tail, timeout=10)
    assert r.status_code in (404, 405), r.text
    assert token not in r.text, r.text
    assert "{token}" in r.text, r.text
    assert token not in server.log_path.read_text(errors="replace")


def test_logo_set_served_and_shown(api, merchant, cli, tmp_path):
    png = tiny_png()
    f = tmp_path / "logo.png"
    f.write_bytes(png)
    res = cli("merchant", "update", merchant["merchantId"], "--logo", str(f))
    assert res.returncode == 0, res.stderr
    r = api.get(f"/m/{merchant['merchantId']}/logo")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("image/png")
    assert r.content == png
    assert "max-age" in r.headers.get("Cache-Control", "")
    html = page(api, new_link(api, merchant)).text
    assert f"/m/{merchant['merchantId']}/logo" in html
    # decorative: the heading after it names the merchant
    assert re.search(r'<img class="logo" src="[^"]*" alt="">\s*<h1><bdi>' + re.escape(merchant["name"]), html), html
    res = cli("merchant", "update", merchant["merchantId"], "--logo", "none")
    assert res.returncode == 0, res.stderr
    assert api.get(f"/m/{merchant['merchantId']}/logo").status_code == 404


def test_logo_rejects_other_files(merchant, cli, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    res = cli("merchant", "update", merchant["merchantId"], "--logo", str(bad))
    assert res.returncode == 2
    assert "logo" in res.stderr.lower()
    big = tmp_path / "big.png"
    big.write_bytes(tiny_png() + b"\x00" * (300 * 1024))
    assert cli("merchant", "update", merchant["merchantId"], "--logo", str(big)).returncode == 2
    missing = cli("merchant", "update", merchant["merchantId"], "--logo", str(tmp_path / "nope.png"))
    assert missing.returncode == 1


SAFE_SVG = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
            '<defs><linearGradient id="g"/></defs><rect fill="url(#g)" width="10" height="10"/></svg>')


@pytest.mark.parametrize("svg, what", [
    ('<svg xmlns="http://www.w3.org/2000/svg">\n<script>alert(1)</script></svg>', "scripts (<script>) (line 2)"),
    ('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "event handler"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><p>x</p></foreignObject></svg>',
     "foreign objects"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><image href="https://t.example/p.png"/></svg>',
     "links to other documents"),
    ('<svg xmlns="http://www.w3.org/2000/svg"><style>@import "https://x.example/a.css";</style></svg>',
     "@import"),
])
def test_svg_logo_with_more_than_a_drawing_is_refused(api, merchant, cli, tmp_path, svg, what):
    """SVG logos are refused, not cleaned, when they hold scripts, event
    handlers, foreign objects or external references; the logo is not
    changed."""
    good = tmp_path / "good.svg"
    good.write_text(SAFE_SVG)
    assert cli("merchant", "update", merchant["merchantId"], "--logo", str(good)).returncode == 0
    bad = tmp_path / "bad.svg"
    bad.write_text(svg)
    res = cli("merchant", "update", merchant["merchantId"], "--logo", str(bad))
    assert res.returncode == 2, res
    assert f"--logo: {bad}: SVG logos may not contain " in res.stderr, res.stderr
    assert what in res.stderr, res.stderr
    r = api.get(f"/m/{merchant['merchantId']}/logo")
    assert r.status_code == 200 and r.content == SAFE_SVG.encode()
    assert r.headers["Content-Type"] == "image/svg+xml"


def test_unknown_merchant_has_no_logo(api):
    assert api.get("/m/00000000-0000-4000-8000-000000000000/logo").status_code == 404


def test_page_script_is_external_and_optional(api, merchant):
    js = api.get("/static/chatpay.js")
    assert js.status_code == 200
    assert "javascript" in js.headers["Content-Type"]
    assert len(js.text) > 100
    r = page(api, new_link(api, merchant))
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert '<script src="/static/chatpay.js"' in r.text
    # the pay form needs no script: a plain POST form
    assert 'method="post"' in r.text and "/pay" in r.text
