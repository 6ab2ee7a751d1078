/*
 * test_logo.c — unit tests for web/logo.c: telling PNG, JPEG, WebP and SVG
 * logos apart by content, and refusing everything else (other images,
 * text, HTML, SVG look-alikes, empty and oversized input).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "web/logo.h"

static const char *type_of(const char *s, size_t n)
{
    return web_logo_type(s, n);
}

#define TYPE(lit) type_of(lit, sizeof lit - 1)

static void test_raster(void **state)
{
    (void)state;
    /* PNG: the 8-byte signature (then IHDR) */
    assert_string_equal(TYPE("\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
    assert_null(TYPE("\x89PNG\r\n\x1a"));     /* cut short */
    assert_null(TYPE("\x89PNG\n\x1a\n\0\0")); /* line endings converted: broken */
    /* JPEG: SOI then a marker (JFIF, Exif, raw) */
    assert_string_equal(TYPE("\xFF\xD8\xFF\xE0\0\x10JFIF\0"), "image/jpeg");
    assert_string_equal(TYPE("\xFF\xD8\xFF\xE1\0\x10"
                             "Exif"),
                        "image/jpeg");
    assert_string_equal(TYPE("\xFF\xD8\xFF\xDB"), "image/jpeg");
    assert_null(TYPE("\xFF\xD8\xFF"));
    assert_null(TYPE("\xFF\xD8\x00\xE0"));
    /* WebP: RIFF....WEBP and a VP8 chunk */
    assert_string_equal(TYPE("RIFF\x24\0\0\0WEBPVP8 \x18\0\0\0"), "image/webp");
    assert_string_equal(TYPE("RIFF\x24\0\0\0WEBPVP8L\x18\0\0\0"), "image/webp");
    assert_string_equal(TYPE("RIFF\x24\0\0\0WEBPVP8X\x0a\0\0\0"), "image/webp");
    assert_null(TYPE("RIFF\x24\0\0\0WAVEfmt \x10\0\0\0")); /* a RIFF that is sound */
    assert_null(TYPE("RIFF\x24\0\0\0WEBPXXXX"));
    /* other images */
    assert_null(TYPE("GIF89a\x01\0\x01\0"));
    assert_null(TYPE("BM\x3a\0\0\0\0\0"));
    assert_null(TYPE("\0\0\x01\0\x01\0")); /* .ico */
    assert_null(TYPE("II*\0"));            /* TIFF */
    assert_null(TYPE("%PDF-1.7\n"));
}

static void test_svg(void **state)
{
    (void)state;
    assert_string_equal(TYPE("<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), "image/svg+xml");
    assert_string_equal(TYPE("<svg>"), "image/svg+xml");
    assert_string_equal(TYPE("\n\t <svg\nviewBox=\"0 0 1 1\"></svg>"), "image/svg+xml");
    assert_string_equal(TYPE("\xEF\xBB\xBF<svg></svg>"), "image/svg+xml"); /* BOM */
    assert_string_equal(TYPE("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                             "<!-- Generator: a drawing program -->\n"
                             "<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
                             "\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n"
                             "<svg version=\"1.1\"><text>Café</text></svg>\n"),
                        "image/svg+xml");
    assert_string_equal(TYPE("<!DOCTYPE svg [ <!ENTITY x \"<y>\"> ]>\n<svg/>"), "image/svg+xml");

    assert_null(TYPE("<html><svg></svg></html>"));     /* HTML around an SVG */
    assert_null(TYPE("<!doctype html>\n<svg></svg>")); /* not an SVG doctype? an HTML page */
    assert_null(TYPE("<svgx>"));
    assert_null(TYPE("<svg:svg xmlns:svg=\"http://www.w3.org/2000/svg\"/>"));
    assert_null(TYPE("<SVG>"));
    assert_null(TYPE("<svg"));                  /* ends in the tag name */
    assert_null(TYPE("<?xml version=\"1.0\"")); /* declaration never ends */
    assert_null(TYPE("<!-- <svg> "));           /* comment never ends */
    assert_null(TYPE("<?xml?><p>text</p>"));
    assert_null(TYPE("hello <svg>"));
    assert_null(TYPE("<svg>\xff\xfe</svg>"));  /* not UTF-8 */
    assert_null(TYPE("<svg>\0</svg>"));        /* NUL: not text */
    assert_null(TYPE("\xFE\xFF\0<\0s\0v\0g")); /* UTF-16 */
}

static void test_limits(void **state)
{
    (void)state;
    assert_null(web_logo_type(NULL, 10));
    assert_null(web_logo_type("", 0));
    assert_null(web_logo_type("<svg>", 0));

    /* exactly the limit is fine, one byte more is not */
    char *big = calloc(1, WEB_LOGO_MAX + 1);
    assert_non_null(big);
    memcpy(big, "\x89PNG\r\n\x1a\n", 8);
    assert_string_equal(web_logo_type(big, WEB_LOGO_MAX), "image/png");
    assert_null(web_logo_type(big, WEB_LOGO_MAX + 1));
    memset(big, ' ', WEB_LOGO_MAX);
    memcpy(big + WEB_LOGO_MAX - 6, "<svg/>", 6);
    assert_string_equal(web_logo_type(big, WEB_LOGO_MAX), "image/svg+xml");
    free(big);

    assert_true(web_logo_type_known("image/png"));
    assert_true(web_logo_type_known("image/jpeg"));
    assert_true(web_logo_type_known("image/webp"));
    assert_true(web_logo_type_known("image/svg+xml"));
    assert_false(web_logo_type_known("text/html"));
    assert_false(web_logo_type_known("image/svg+xml; charset=utf-8"));
    assert_false(web_logo_type_known(""));
    assert_false(web_logo_type_known(NULL));
    /* the policy SVG logos are served with */
    assert_non_null(strstr(WEB_LOGO_CSP, "default-src 'none'"));
    assert_null(strstr(WEB_LOGO_CSP, "script-src"));
}

/* The problem web_logo_svg_problem finds in a literal, or NULL. */
static char why[200];
#define PROBLEM(lit) web_logo_svg_problem(lit, sizeof lit - 1, why, sizeof why)

static void assert_refused(const char *problem, const char *what, const char *line)
{
    assert_non_null(problem);
    if (strstr(problem, what) == NULL || strstr(problem, line) == NULL)
        fail_msg("\"%s\" does not name \"%s\" and \"%s\"", problem, what, line);
}

static void test_svg_drawings_pass(void **state)
{
    (void)state;
    assert_null(PROBLEM("<svg xmlns=\"http://www.w3.org/2000/svg\" "
                        "xmlns:xlink=\"http://www.w3.org/1999/xlink\" viewBox=\"0 0 10 10\">"
                        "<defs><linearGradient id=\"g\"><stop offset=\"0\"/></linearGradient>"
                        "<path id=\"p\" d=\"M0 0h10\"/></defs>"
                        "<rect fill=\"url(#g)\" style=\"fill: url( '#g' ); stroke:#000\"/>"
                        "<use xlink:href=\"#p\"/><use href=\"#p\"/>"
                        "<image href=\"data:image/png;base64,iVBORw0KGgo=\"/>"
                        "<style>.a{fill:url(#g)}</style><style><![CDATA[.b{stroke:red}]]></style>"
                        "<text>one &lt; two, javascript: is just text</text>"
                        "<!-- <script> in a comment --><animate attributeName=\"opacity\"/>"
                        "</svg>"));
    assert_null(PROBLEM("<?xml version=\"1.0\"?>\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
                        "\"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd\">\n<svg/>"));
}

static void test_svg_scripts_refused(void **state)
{
    (void)state;
    assert_refused(PROBLEM("<svg>\n<script>alert(1)</script></svg>"), "scripts", "line 2");
    assert_refused(PROBLEM("<svg><SCRIPT>x</SCRIPT></svg>"), "scripts", "line 1");
    assert_refused(PROBLEM("<svg><x:script xmlns:x=\"http://www.w3.org/2000/svg\">x</x:script>"),
                   "scripts", "line 1");
    assert_refused(PROBLEM("<svg onload=\"alert(1)\"/>"), "event handler", "line 1");
    assert_refused(PROBLEM("<svg>\n\n<rect ONclick='x'/></svg>"), "event handler", "line 3");
    assert_refused(PROBLEM("<svg><a href=\"javascript:alert(1)\"><rect/></a></svg>"),
                   "javascript:", "line 1");
    assert_refused(PROBLEM("<svg><a href=\" java\tscript:x\">t</a></svg>"),
                   "javascript:", "line 1");
    assert_refused(PROBLEM("<svg><set attributeName=\"href\" to=\"x\"/></svg>"), "animations",
                   "line 1");
    assert_refused(PROBLEM("<svg><animate attributeName=\"xlink:href\"/></svg>"), "animations",
                   "line 1");
    assert_refused(PROBLEM("<svg><set attributeName=\"onclick\"/></svg>"), "animations", "line 1");
    assert_refused(PROBLEM("<svg><handler>x</handler></svg>"), "foreign objects", "line 1");
}

static void test_svg_foreign_and_external_refused(void **state)
{
    (void)state;
    assert_refused(PROBLEM("<svg><foreignObject><div/></foreignObject></svg>"), "foreign objects",
                   "line 1");
    assert_refused(PROBLEM("<svg><iframe src=\"x\"/></svg>"), "foreign objects", "line 1");
    assert_refused(PROBLEM("<svg><image href=\"https://tracker.example/p.png\"/></svg>"),
                   "links to other documents", "line 1");
    assert_refused(PROBLEM("<svg><use xlink:href=\"other.svg#p\"/></svg>"),
                   "links to other documents", "line 1");
    assert_refused(PROBLEM("<svg><image href=\"data:image/svg+xml;base64,PHN2Zz4=\"/></svg>"),
                   "links to other documents", "line 1");
    assert_refused(PROBLEM("<svg><use href=\"&#35;p\"/></svg>"), "links to other documents",
                   "line 1");
    assert_refused(PROBLEM("<svg><rect style=\"fill:url(https://x.example/a)\"/></svg>"),
                   "CSS url()", "line 1");
    assert_refused(PROBLEM("<svg><style>\n@import url(#x);</style></svg>"), "@import", "line 1");
    assert_refused(PROBLEM("<svg><style>.a{background:url(\"//x.example/b\")}</style></svg>"),
                   "CSS url()", "line 1");
    assert_refused(PROBLEM("<svg><style><![CDATA[.a{fill:url(http://x/)}]]></style></svg>"),
                   "CSS url()", "line 1");
    assert_refused(PROBLEM("<!DOCTYPE svg [ <!ENTITY x \"<y>\"> ]>\n<svg/>"), "entity", "line 1");
    assert_refused(PROBLEM("<!DOCTYPE svg [ ]>\n<svg/>"), "DTD subset", "line 1");
    assert_refused(PROBLEM("<svg><rect width=\"1\""), "unfinished", "line 1");
    assert_refused(PROBLEM("<svg><rect width=1/></svg>"), "unfinished", "line 1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raster),
        cmocka_unit_test(test_svg),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_svg_drawings_pass),
        cmocka_unit_test(test_svg_scripts_refused),
        cmocka_unit_test(test_svg_foreign_and_external_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
