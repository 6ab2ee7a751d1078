/*
 * test_gateway_stripe.c — unit tests for the Stripe gateway (gateway/stripe.c,
 * included here so that its static transfer function `perform` can be
 * replaced by a fake that records every request and answers from a script).
 *
 * The expected values are computed here independently of the adapter:
 * Stripe-Signature headers with OpenSSL's HMAC() over "t." + body built step
 * by step (spec/providers.md 4.8), and the checkout form's pairs written out
 * by hand, percent-encoded (RFC 3986 unreserved characters kept). The HMAC
 * helper is itself checked against RFC 4231 test case 2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "gateway/stripe.c"

#define SK    "sk_test_51ABCdefGHIjklMNOpqrSTUvwx"
#define WHSEC "whsec_0123456789abcdefABCDEFghijklmn"
#define BASE  "https://stripe.fake.example"

/* ---- independent crypto -------------------------------------------------------------- */

/* hex(HMAC-SHA256(key, data)) with OpenSSL directly. */
static void t_hmac_hex(const char *key, const void *data, size_t n, char out[65])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    assert_non_null(HMAC(EVP_sha256(), key, (int)strlen(key), data, n, mac, &len));
    assert_int_equal(len, 32);
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < len; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[64] = '\0';
}

/* v1 for time t over body under secret: hex HMAC of "<t>." + body. */
static void t_v1(long long t, const char *body, const char *secret, char out[65])
{
    char prefix[32];
    int pl = snprintf(prefix, sizeof prefix, "%lld.", t);
    size_t bl = strlen(body);
    char *msg = malloc((size_t)pl + bl + 1);
    assert_non_null(msg);
    memcpy(msg, prefix, (size_t)pl);
    memcpy(msg + pl, body, bl + 1);
    t_hmac_hex(secret, msg, (size_t)pl + bl, out);
    free(msg);
}

static void test_hmac_helper(void **state)
{
    /* RFC 4231, test case 2 */
    char hex[65];
    const char *data = "what do ya want for nothing?";
    t_hmac_hex("Jefe", data, strlen(data), hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

#include "fake_net.h"

/* Is name=value (both given already encoded) one of the pairs of body? */
static bool has_pair(const char *body, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    for (const char *p = body; *p;) {
        size_t n = strcspn(p, "&");
        if (n == nl + 1 + vl && memcmp(p, name, nl) == 0 && p[nl] == '=' &&
            memcmp(p + nl + 1, value, vl) == 0)
            return true;
        p += n;
        if (*p == '&')
            p++;
    }
    return false;
}

static size_t count_pairs(const char *body)
{
    if (!*body)
        return 0;
    size_t n = 1;
    for (const char *p = body; *p; p++)
        n += *p == '&';
    return n;
}

/* ---- instances ------------------------------------------------------------------------- */

static const _Atomic bool never = false;

static struct stripe *make_cfg(const char *settings, bool test_mode, char *err, size_t errlen)
{
    json_object *s = json_tokener_parse(settings);
    assert_non_null(s);
    struct provider_config cfg = {.provider_id = "prv_s",
                                  .merchant_id = "m_1",
                                  .settings = s,
                                  .inbound_url = "https://pay.example.com/hooks/prv_s/tok",
                                  .test_mode = test_mode};
    err[0] = '\0';
    struct stripe *st = gateway_stripe_ops.create(&cfg, err, errlen);
    json_object_put(s);
    return st;
}

static bool live_of(const char *settings)
{
    json_object *s = json_tokener_parse(settings);
    assert_non_null(s);
    struct provider_config cfg = {.provider_id = "prv_s", .merchant_id = "m_1", .settings = s};
    bool live = gateway_stripe_ops.live(&cfg);
    json_object_put(s);
    return live;
}

static const char *const SETTINGS =
    "{\"secret_key\":\"" SK "\",\"webhook_secret\":\"" WHSEC "\",\"base_url\":\"" BASE "/\"}";

static struct stripe *make_default(void)
{
    char err[256];
    struct stripe *st = make_cfg(SETTINGS, true, err, sizeof err);
    assert_non_null(st);
    return st;
}

static struct gateway instance(struct stripe *st, usec_t timeout)
{
    return (struct gateway){.ops = &gateway_stripe_ops,
                            .id = "prv_s",
                            .merchant_id = "m_1",
                            .state = st,
                            .timeout = timeout,
                            .cancel = &never};
}

/* ---- Stripe-Signature ------------------------------------------------------------------- */

static const char *const EVENT_BODY = "{\n  \"id\": \"evt_1\",\n  \"object\": \"event\",\n  "
                                      "\"type\": \"checkout.session.completed\"\n}";

static void test_signature(void **state)
{
    const long long T = 1767225600; /* 2026-01-01T00:00:00Z */
    const usec_t now = (usec_t)T * 1000000;
    const char *body = EVENT_BODY;
    size_t len = strlen(body);
    char v1[65], other[65], hdr[512];

    /* a correct header */
    t_v1(T, body, WHSEC, v1);
    snprintf(hdr, sizeof hdr, "t=%lld,v1=%s", T, v1);
    assert_true(stripe_signature_ok(hdr, body, len, WHSEC, now));
    /* with a v0 as well, in any place */
    snprintf(hdr, sizeof hdr,
             "t=%lld,v1=%s,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39", T,
             v1);
    assert_true(stripe_signature_ok(hdr, body, len, WHSEC, now));
    snprintf(hdr, sizeof hdr, "v1=%s,t=%lld", v1, T);
    assert_true(stripe_signature_ok(hdr, body, len, WHSEC, now));

    /* two v1 entries (secret rotation): the second is right */
    t_v1(T, body, "whsec_the_old_one", other);
    snprintf(hdr, sizeof hdr, "t=%lld,v1=%s,v1=%s", T, other, v1);
    assert_true(stripe_signature_ok(hdr, body, len, WHSEC, now));
    /* ... and neither is */
    snprintf(hdr, sizeof hdr, "t=%lld,v1=%s,v1=%s", T, other, other);
    assert_false(stripe_signature_ok(hdr, body, len, WHSEC, now));

    /* the wrong secret */
    snprintf(hdr, sizeof hdr, "t=%lld,v1=%s", T, other);
    assert_false(stripe_signature_ok(hdr, body, len, WHSEC, now));
    snprintf(hdr, sizeof hdr, "t=%lld,v1=%s", T, v1);
    assert_false(stripe_signature_ok(hdr, body, len, "whsec_other", now));

    /* the time: 300 s in the past at most; the future is accepted (as the SDK does) */
    t_v1(T - 300, body, WHSEC, v1);
    snprintf(hdr, sizeof hdr, "t=%lld,v1=%s", T - 300, v1);
    assert_true(stripe_signature_ok(hdr, body, len, WHSEC, now));
    t_v1(T - 301, body, WHSEC, v1);
    snprintf(hdr, sizeof hdr, "t=%lld,v1=%s", T - 301, v1);
    assert_false(stripe_signature_ok(hdr, body, len, WHSEC, now));
    t_v1(T - 86400, body, WHSEC, v1);
    snprintf(hdr, sizeof hdr, "t=%lld,v1=%s", T - 86400, v1);
    assert_false(stripe_signature_ok(hdr, body, len, WHSEC, now));
    t_v1(T + 3600, body, WHSEC, v1);
    snprintf(hdr, sizeof hdr, "t=%lld,v1=%s", T + 3600, v1);
    assert_true(stripe_signature_ok(hdr, body, len, WHSEC, now));

    /* the signed t is the one checked: a correct v1 for another t does not pass */
    t_v1(T, body, WHSEC, v1);
    snprintf(hdr, sizeof hdr, "t=%lld,v1=%s", T + 1, v1);
    assert_false(stripe_signature_ok(hdr, body, len, WHSEC, now));

    /* no v1, only v0 */
    snprintf(hdr, sizeof hdr, "t=%lld,v0=%s", T, v1);
    assert_false(stripe_signature_ok(hdr, body, len, WHSEC, now));
    /* no t */
    snprintf(hdr, sizeof hdr, "v1=%s", v1);
    assert_false(stripe_signature_ok(hdr, body, len, WHSEC, now));
    snprintf(hdr, sizeof hdr, "T=%lld,v1=%s", T, v1);
    assert_false(stripe_signature_ok(hdr, body, len, WHSEC, now));
    /* malformed t */
    static const char *const bad_t[] = {
        "", "abc", "1767225600x", "-1767225600", "1767225600.5", "12345678901234567890123456"};
    for (size_t i = 0; i < sizeof bad_t / sizeof bad_t[0]; i++) {
        snprintf(hdr, sizeof hdr, "t=%s,v1=%s", bad_t[i], v1);
        assert_false(stripe_signature_ok(hdr, body, len, WHSEC, now));
    }
    /* no header, an empty one, garbage */
    assert_false(stripe_signature_ok(NULL, body, len, WHSEC, now));
    assert_false(stripe_signature_ok("", body, len, WHSEC, now));
    assert_false(stripe_signature_ok(",,,=,t,v1", body, len, WHSEC, now));

    /* the body altered by one byte (and cut by one) */
    snprintf(hdr, sizeof hdr, "t=%lld,v1=%s", T, v1);
    char *altered = strdup(body);
    assert_non_null(altered);
    altered[10] ^= 1;
    assert_false(stripe_signature_ok(hdr, altered, len, WHSEC, now));
    free(altered);
    assert_false(stripe_signature_ok(hdr, body, len - 1, WHSEC, now));

    /* v1 of the wrong length: the right one cut short, or with more after it */
    char cut[65];
    memcpy(cut, v1, 63);
    cut[63] = '\0';
    snprintf(hdr, sizeof hdr, "t=%lld,v1=%s", T, cut);
    assert_false(stripe_signature_ok(hdr, body, len, WHSEC, now));
    snprintf(hdr, sizeof hdr, "t=%lld,v1=%s0", T, v1);
    assert_false(stripe_signature_ok(hdr, body, len, WHSEC, now));
    snprintf(hdr, sizeof hdr, "t=%lld,v1=", T);
    assert_false(stripe_signature_ok(hdr, body, len, WHSEC, now));

    /* an empty body is signed like any other */
    t_v1(T, "", WHSEC, v1);
    snprintf(hdr, sizeof hdr, "t=%lld,v1=%s", T, v1);
    assert_true(stripe_signature_ok(hdr, "", 0, WHSEC, now));
}

/* A t far in the future must neither crash nor overflow (the ASan/UBSan build
 * aborts on signed overflow); accepting or refusing it are both fine.
 * (t is compared in seconds: t * 1000000 would overflow for t above
 * 9223372036854.) */
static void test_signature_huge_t(void **state)
{
    const usec_t now = (usec_t)1767225600 * 1000000;
    const char *body = EVENT_BODY;
    char v1[65], hdr[256];
    static const long long huge[] = {9223372036854775807LL, 10000000000000LL, 9223372036855LL};
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        t_v1(huge[i], body, WHSEC, v1);
        snprintf(hdr, sizeof hdr, "t=%lld,v1=%s", huge[i], v1);
        (void)stripe_signature_ok(hdr, body, strlen(body), WHSEC, now);
    }
}

/* ---- settings -------------------------------------------------------------------------- */

static void expect_refused(const char *settings, const char *what)
{
    char err[256];
    struct stripe *st = make_cfg(settings, true, err, sizeof err);
    assert_null(st);
    assert_non_null(strstr(err, what));
}

static void test_create(void **state)
{
    char err[256];
    /* keys */
    static const char *const good_keys[] = {"sk_test_abc", "sk_live_abc", "rk_test_abc",
                                            "rk_live_abc"};
    for (size_t i = 0; i < 4; i++) {
        char settings[256];
        snprintf(settings, sizeof settings,
                 "{\"secret_key\":\"%s\",\"webhook_secret\":\"" WHSEC "\"}", good_keys[i]);
        struct stripe *st = make_cfg(settings, false, err, sizeof err);
        assert_non_null(st);
        assert_string_equal(st->secret_key, good_keys[i]);
        assert_string_equal(st->webhook_secret, WHSEC);
        assert_string_equal(st->base_url, "https://api.stripe.com");
        assert_false(st->allow_private);
        gateway_stripe_ops.destroy(st);
    }
    static const char *const bad_keys[] = {"pk_test_abc", "sk_test_", "sk_abc",  "whsec_abc",
                                           "SK_TEST_abc", "",         "sk_live", "rk_live_"};
    for (size_t i = 0; i < sizeof bad_keys / sizeof bad_keys[0]; i++) {
        char settings[256];
        snprintf(settings, sizeof settings,
                 "{\"secret_key\":\"%s\",\"webhook_secret\":\"" WHSEC "\"}", bad_keys[i]);
        expect_refused(settings, "secret_key");
    }
    expect_refused("{\"webhook_secret\":\"" WHSEC "\"}", "secret_key");
    expect_refused("{\"secret_key\":12,\"webhook_secret\":\"" WHSEC "\"}", "secret_key");
    /* a key too long for the instance */
    char longkey[300 + 64];
    char settings[600];
    memset(longkey, 'a', 300);
    memcpy(longkey, "sk_test_", 8);
    longkey[300] = '\0';
    snprintf(settings, sizeof settings, "{\"secret_key\":\"%s\",\"webhook_secret\":\"" WHSEC "\"}",
             longkey);
    expect_refused(settings, "secret_key");

    /* the webhook secret */
    expect_refused("{\"secret_key\":\"" SK "\"}", "webhook_secret");
    expect_refused("{\"secret_key\":\"" SK "\",\"webhook_secret\":\"\"}", "webhook_secret");
    expect_refused("{\"secret_key\":\"" SK "\",\"webhook_secret\":\"secret\"}", "webhook_secret");
    expect_refused("{\"secret_key\":\"" SK "\",\"webhook_secret\":\"whsec\"}", "webhook_secret");
    expect_refused("{\"secret_key\":\"" SK "\",\"webhook_secret\":\"WHSEC_abc\"}",
                   "webhook_secret");

    /* the base URL */
    static const char *const bad_bases[] = {"ftp://api.stripe.com", "api.stripe.com",
                                            "https://x.example/?a=1", "https://x.example/#f",
                                            "file:///etc/passwd"};
    for (size_t i = 0; i < sizeof bad_bases / sizeof bad_bases[0]; i++) {
        snprintf(settings, sizeof settings,
                 "{\"secret_key\":\"" SK "\",\"webhook_secret\":\"" WHSEC "\",\"base_url\":\"%s\"}",
                 bad_bases[i]);
        expect_refused(settings, "base_url");
    }
    /* trailing slashes go; a fake's URL is reachable on loopback only in test mode */
    struct stripe *st = make_cfg("{\"secret_key\":\"" SK "\",\"webhook_secret\":\"" WHSEC
                                 "\",\"base_url\":\"http://127.0.0.1:12111//\"}",
                                 true, err, sizeof err);
    assert_non_null(st);
    assert_string_equal(st->base_url, "http://127.0.0.1:12111");
    assert_true(st->allow_private);
    gateway_stripe_ops.destroy(st);
    st = make_cfg("{\"secret_key\":\"" SK "\",\"webhook_secret\":\"" WHSEC
                  "\",\"base_url\":\"http://127.0.0.1:12111\"}",
                  false, err, sizeof err);
    assert_non_null(st);
    assert_false(st->allow_private);
    gateway_stripe_ops.destroy(st);
    /* Stripe's own URL never is */
    st = make_cfg("{\"secret_key\":\"" SK "\",\"webhook_secret\":\"" WHSEC
                  "\",\"base_url\":\"https://api.stripe.com/\"}",
                  true, err, sizeof err);
    assert_non_null(st);
    assert_string_equal(st->base_url, "https://api.stripe.com");
    assert_false(st->allow_private);
    gateway_stripe_ops.destroy(st);
    gateway_stripe_ops.destroy(NULL);
}

static void test_live(void **state)
{
    assert_true(live_of("{\"secret_key\":\"sk_live_abc\"}"));
    assert_true(live_of("{\"secret_key\":\"rk_live_abc\"}"));
    assert_false(live_of("{\"secret_key\":\"sk_test_abc\"}"));
    assert_false(live_of("{\"secret_key\":\"rk_test_abc\"}"));
    assert_false(live_of("{\"secret_key\":\"sk_live_\"}"));
    assert_false(live_of("{\"secret_key\":\"pk_live_abc\"}"));
    assert_false(live_of("{\"secret_key\":\"\"}"));
    assert_false(live_of("{}"));
}

static void test_ops_table(void **state)
{
    assert_string_equal(gateway_stripe_ops.kind, "stripe");
    assert_ptr_equal(gateway_kind("stripe"), &gateway_stripe_ops);
    const struct provider_setting *s = gateway_stripe_ops.settings;
    size_t n = 0;
    for (; s[n].name; n++) {
        bool secret =
            strcmp(s[n].name, "secret_key") == 0 || strcmp(s[n].name, "webhook_secret") == 0;
        assert_int_equal(s[n].secret, secret);
        assert_int_equal(s[n].required, secret);
    }
    assert_int_equal(n, 3);
    assert_non_null(gateway_stripe_ops.begin);
    assert_non_null(gateway_stripe_ops.result);
    assert_non_null(gateway_stripe_ops.operate);
    assert_non_null(gateway_stripe_ops.query);
    assert_non_null(gateway_stripe_ops.cancel);
    assert_non_null(gateway_stripe_ops.inbound);
}

/* ---- paying ---------------------------------------------------------------------------- */

#define CREATED_AT 1767225600123456LL /* 2026-01-01T00:00:00.123456Z */

static struct gw_payment payment(enum gw_operation op)
{
    return (struct gw_payment){.merchant_id = "m_1",
                               .ref = "cpo_auth1",
                               .amount_minor = 11500,
                               .currency = "ZAR",
                               .op = op,
                               .return_url =
                                   "https://pay.example.com/p/tok123/return?ref=cpo_auth1",
                               .cancel_url = "https://pay.example.com/l/lnk_9",
                               .base_url = "https://pay.example.com",
                               .locale = "fr",
                               .link_ref = "lnk_9",
                               .description = "Shop, order 42",
                               .created_at = CREATED_AT,
                               .expires_at = CREATED_AT + 1800LL * 1000000};
}

static const char *const SESSION_OK =
    "{\"id\":\"cs_test_a1B2c3\",\"object\":\"checkout.session\",\"status\":\"open\","
    "\"url\":\"https://checkout.stripe.com/c/pay/cs_test_a1B2c3#fid=x\"}";

static void check_session_request(const struct seen *s, const char *capture_method)
{
    assert_string_equal(s->method, "POST");
    assert_string_equal(s->url, BASE "/v1/checkout/sessions");
    assert_string_equal(sent_header(s, "Authorization"), "Bearer " SK);
    assert_string_equal(sent_header(s, "Idempotency-Key"), "cpo_auth1");
    const char *version = sent_header(s, "Stripe-Version");
    assert_non_null(version);
    assert_string_equal(version, "2024-06-20");
    assert_string_equal(sent_header(s, "Content-Type"), "application/x-www-form-urlencoded");
    assert_string_equal(s->want, "Stripe-Should-Retry");
    assert_true(s->allow_private);
    assert_true(s->has_cancel);

    const char *b = s->body;
    long long expires = CREATED_AT / 1000000 + 1860; /* 31 minutes after it was stored */
    char exp[24];
    snprintf(exp, sizeof exp, "%lld", expires);
    assert_string_equal(exp, "1767227460");
    assert_true(has_pair(b, "mode", "payment"));
    assert_true(has_pair(b, "success_url",
                         "https%3A%2F%2Fpay.example.com%2Fp%2Ftok123%2Freturn%3Fref%3Dcpo_auth1%26"
                         "session_id%3D%7BCHECKOUT_SESSION_ID%7D"));
    assert_true(has_pair(b, "cancel_url", "https%3A%2F%2Fpay.example.com%2Fl%2Flnk_9"));
    assert_true(has_pair(b, "client_reference_id", "cpo_auth1"));
    assert_true(has_pair(b, "line_items%5B0%5D%5Bprice_data%5D%5Bcurrency%5D", "zar"));
    assert_true(has_pair(b, "line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D", "11500"));
    assert_true(has_pair(b, "line_items%5B0%5D%5Bprice_data%5D%5Bproduct_data%5D%5Bname%5D",
                         "Shop%2C%20order%2042"));
    assert_true(has_pair(b, "line_items%5B0%5D%5Bquantity%5D", "1"));
    assert_true(has_pair(b, "payment_intent_data%5Bcapture_method%5D", capture_method));
    assert_true(has_pair(b, "payment_method_types%5B0%5D", "card"));
    assert_true(has_pair(b, "payment_intent_data%5Bmetadata%5D%5Bchatpay_ref%5D", "cpo_auth1"));
    assert_true(has_pair(b, "payment_intent_data%5Bmetadata%5D%5Bpayment_link_ref%5D", "lnk_9"));
    assert_true(has_pair(b, "metadata%5Bchatpay_ref%5D", "cpo_auth1"));
    assert_true(has_pair(b, "metadata%5Bpayment_link_ref%5D", "lnk_9"));
    assert_true(has_pair(b, "locale", "fr"));
    assert_true(has_pair(b, "expires_at", exp));
    assert_int_equal(count_pairs(b), 16);
}

static void test_begin(void **state)
{
    struct stripe *st = make_default();
    struct gateway g = instance(st, 10 * 1000000);
    struct arena *a = arena_new(0);
    struct gw_checkout co;

    /* an authorization */
    fake_use();
    fake_add(200, SESSION_OK);
    struct gw_payment p = payment(GW_OP_AUTHORIZE);
    assert_true(gateway_begin(&g, &p, a, &co));
    assert_int_equal(fake.nseen, 1);
    check_session_request(&fake.seen[0], "manual");
    assert_string_equal(co.url, "https://checkout.stripe.com/c/pay/cs_test_a1B2c3#fid=x");
    assert_string_equal(co.gateway_ref, "cs_test_a1B2c3");
    assert_int_equal(co.nfields, 0);

    /* a sale */
    fake_use();
    fake_add(200, SESSION_OK);
    p = payment(GW_OP_SALE);
    assert_true(gateway_begin(&g, &p, a, &co));
    check_session_request(&fake.seen[0], "automatic");

    /* a return URL without a query; a language Stripe does not know; USD */
    fake_use();
    fake_add(200, SESSION_OK);
    p = payment(GW_OP_SALE);
    p.return_url = "https://pay.example.com/p/tok123/return";
    p.locale = "xx";
    p.currency = "USD";
    p.amount_minor = 5;
    assert_true(gateway_begin(&g, &p, a, &co));
    const char *b = fake.seen[0].body;
    assert_true(has_pair(b, "success_url",
                         "https%3A%2F%2Fpay.example.com%2Fp%2Ftok123%2Freturn%3F"
                         "session_id%3D%7BCHECKOUT_SESSION_ID%7D"));
    assert_true(has_pair(b, "locale", "auto"));
    assert_true(has_pair(b, "line_items%5B0%5D%5Bprice_data%5D%5Bcurrency%5D", "usd"));
    assert_true(has_pair(b, "line_items%5B0%5D%5Bprice_data%5D%5Bunit_amount%5D", "5"));

    /* refusals: no checkout */
    fake_use();
    fake_add(400, "{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"parameter_invalid\","
                  "\"message\":\"expires_at must be at least 30 minutes from now\"}}");
    p = payment(GW_OP_SALE);
    assert_false(gateway_begin(&g, &p, a, &co));
    assert_int_equal(fake.nseen, 1);
    assert_null(co.url);
    assert_string_equal(co.gateway_ref, "");
    fake_use();
    fake_add(200, "{\"id\":\"cs_test_a1B2c3\",\"object\":\"checkout.session\"}"); /* no url */
    assert_false(gateway_begin(&g, &p, a, &co));
    assert_null(co.url);
    fake_use();
    fake_add(200, "<html>ok</html>");
    assert_false(gateway_begin(&g, &p, a, &co));

    arena_free(a);
    gateway_stripe_ops.destroy(st);
    perform = net_perform;
}

/* ---- retries --------------------------------------------------------------------------- */

static void test_retry_idempotent_post(void **state)
{
    struct stripe *st = make_default();
    struct gateway g = instance(st, 10 * 1000000);
    struct arena *a = arena_new(0);
    struct gw_checkout co;
    struct gw_payment p = payment(GW_OP_AUTHORIZE);

    /* 503, then 200: done again with the same key and body */
    fake_use();
    fake_add(503, "{\"error\":{\"type\":\"api_error\",\"message\":\"unavailable\"}}");
    fake_add(200, SESSION_OK);
    usec_t t0 = time_mono();
    assert_true(gateway_begin(&g, &p, a, &co));
    usec_t took = time_mono() - t0;
    assert_int_equal(fake.nseen, 2);
    assert_string_equal(sent_header(&fake.seen[0], "Idempotency-Key"), "cpo_auth1");
    assert_string_equal(sent_header(&fake.seen[1], "Idempotency-Key"), "cpo_auth1");
    assert_string_equal(fake.seen[0].body, fake.seen[1].body);
    assert_string_equal(fake.seen[1].url, BASE "/v1/checkout/sessions");
    assert_true(took >= 450000); /* 0.5 s between the tries */
    assert_string_equal(co.gateway_ref, "cs_test_a1B2c3");

    /* a connection failure after the request went out: repeatable with a key */
    fake_use();
    fake_add_full((struct answer){NET_TIMEOUT, 0, NULL, true, NULL, NULL});
    fake_add(200, SESSION_OK);
    assert_true(gateway_begin(&g, &p, a, &co));
    assert_int_equal(fake.nseen, 2);

    /* 409 (a request with the same key in flight) is tried again */
    fake_use();
    fake_add(409,
             "{\"error\":{\"type\":\"idempotency_error\",\"code\":\"idempotency_key_in_use\"}}");
    fake_add(200, SESSION_OK);
    assert_true(gateway_begin(&g, &p, a, &co));
    assert_int_equal(fake.nseen, 2);

    /* 429 only with Stripe-Should-Retry: true */
    fake_use();
    fake_add_full((struct answer){NET_OK, 429,
                                  "{\"error\":{\"type\":\"invalid_request_error\","
                                  "\"code\":\"lock_timeout\"}}",
                                  true, "true", NULL});
    fake_add(200, SESSION_OK);
    assert_true(gateway_begin(&g, &p, a, &co));
    assert_int_equal(fake.nseen, 2);
    fake_use();
    fake_add(429, "{\"error\":{\"type\":\"invalid_request_error\",\"code\":\"rate_limit\"}}");
    assert_false(gateway_begin(&g, &p, a, &co));
    assert_int_equal(fake.nseen, 1);

    /* three tries at most */
    fake_use();
    fake_add(500, "{}");
    fake_add(502, "<html>bad gateway</html>");
    fake_add(503, "{}");
    fake_add(200, SESSION_OK);
    assert_false(gateway_begin(&g, &p, a, &co));
    assert_int_equal(fake.nseen, 3);

    arena_free(a);
    gateway_stripe_ops.destroy(st);
    perform = net_perform;
}

static struct gw_target capture_target(void)
{
    return (struct gw_target){.merchant_id = "m_1",
                              .ref = "cpo_cap1",
                              .gateway_ref = "",
                              .op = GW_OP_CAPTURE,
                              .amount_minor = 5000,
                              .currency = "ZAR",
                              .parent_ref = "cpo_auth1",
                              .parent_gateway_ref = "pi_3ABC",
                              .parent_op = GW_OP_AUTHORIZE};
}

static void test_retry_should_not(void **state)
{
    struct stripe *st = make_default();
    struct gateway g = instance(st, 10 * 1000000);
    struct gw_result r;
    struct gw_target t = capture_target();

    /* a 500 with Stripe-Should-Retry: false is final */
    fake_use();
    fake_add_full(
        (struct answer){NET_OK, 500, "{\"error\":{\"type\":\"api_error\"}}", true, "false", NULL});
    fake_add(200, "{\"id\":\"pi_3ABC\",\"object\":\"payment_intent\",\"status\":\"succeeded\"}");
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    assert_string_equal(fake.seen[0].want, "Stripe-Should-Retry");
    assert_int_equal(r.decision, GW_NO_ANSWER);
    assert_true(r.unreachable);

    /* a 4xx is an answer: never tried again */
    fake_use();
    fake_add(400, "{\"error\":{\"type\":\"invalid_request_error\",\"code\":"
                  "\"payment_intent_unexpected_state\",\"message\":\"already captured\"}}");
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    assert_int_equal(r.decision, GW_ERROR);
    assert_int_equal(r.response_code, 102);
    assert_false(r.unreachable);
    assert_non_null(strstr(r.error_text, "payment_intent_unexpected_state"));

    gateway_stripe_ops.destroy(st);
    perform = net_perform;
}

/* Every POST stripe.c makes carries an Idempotency-Key; call() itself is
 * checked for the rule: a POST without one is never repeated. */
static void test_post_without_key_never_repeated(void **state)
{
    struct stripe *st = make_default();
    struct gateway g = instance(st, 10 * 1000000);
    struct arena *a = arena_new(0);
    struct reply r;

    fake_use();
    fake_add(503, "{}");
    fake_add(200, "{}");
    call(&g, a, time_now() + g.timeout, "POST", "/v1/anything", "a=1", NULL, &r);
    assert_int_equal(fake.nseen, 1);
    assert_null(sent_header(&fake.seen[0], "Idempotency-Key"));
    assert_true(r.unreachable);
    reply_free(&r);

    fake_use();
    fake_add(409, "{}");
    fake_add(200, "{}");
    call(&g, a, time_now() + g.timeout, "POST", "/v1/anything", "a=1", NULL, &r);
    assert_int_equal(fake.nseen, 1);
    reply_free(&r);

    fake_use();
    fake_add_full((struct answer){NET_TIMEOUT, 0, NULL, true, NULL, NULL});
    fake_add(200, "{}");
    call(&g, a, time_now() + g.timeout, "POST", "/v1/anything", "a=1", NULL, &r);
    assert_int_equal(fake.nseen, 1);
    assert_true(r.unreachable);
    reply_free(&r);

    /* a GET is safe to repeat: no Content-Type, no key, no body */
    fake_use();
    fake_add(503, "{}");
    fake_add(200, "{\"id\":\"x\"}");
    call(&g, a, time_now() + g.timeout, "GET", "/v1/anything", NULL, NULL, &r);
    assert_int_equal(fake.nseen, 2);
    assert_int_equal(r.status, 200);
    assert_false(r.unreachable);
    assert_null(sent_header(&fake.seen[0], "Idempotency-Key"));
    assert_null(sent_header(&fake.seen[0], "Content-Type"));
    assert_false(fake.seen[0].has_body);
    reply_free(&r);

    arena_free(a);
    gateway_stripe_ops.destroy(st);
    perform = net_perform;
}

/* "Every call is bounded by the instance's timeout" (gateway.h): a
 * Retry-After longer than the time left must not hold the call past it. */
static void test_retry_after_bounded_by_timeout(void **state)
{
    struct stripe *st = make_default();
    struct gateway g = instance(st, 1500000); /* 1.5 s */
    struct gw_result r;
    struct gw_target t = capture_target();

    fake_use();
    fake_add_full((struct answer){NET_OK, 503, "{}", true, NULL, "4"});
    fake_add(200, "{\"id\":\"pi_3ABC\",\"object\":\"payment_intent\",\"status\":\"succeeded\"}");
    usec_t t0 = time_mono();
    gateway_operate(&g, &t, &r);
    usec_t took = time_mono() - t0;
    size_t tries = fake.nseen;
    gateway_stripe_ops.destroy(st);
    perform = net_perform;
    assert_true(tries >= 1 && tries <= 2);
    assert_int_not_equal(r.decision, GW_DECLINE);
    /* a Retry-After longer than the time left ends the call at once */
    assert_true(took < 2500000);
}

/* A refund of 25.00 of the capture, done again (its answer was lost). */
static struct gw_target refund_again_target(const char *ref)
{
    struct gw_target t = capture_target();
    t.ref = ref;
    t.op = GW_OP_REFUND;
    t.amount_minor = 2500;
    t.parent_op = GW_OP_CAPTURE;
    t.again = true;
    return t;
}

/* An operation's calls share one deadline: a refund done again lists the
 * PaymentIntent's refunds first, and the POST that follows gets only what
 * is left of the instance's timeout, so that the operation is over within
 * it, as the repair sweep and the payment jobs' leases assume. */
static void test_an_operation_shares_one_deadline(void **state)
{
    struct stripe *st = make_default();
    struct gateway g = instance(st, 1000000); /* 1 s */
    struct gw_result r;
    struct gw_target t = refund_again_target("cpo_rf7");

    fake_use();
    fake_add(200, "{\"object\":\"list\",\"url\":\"/v1/refunds\",\"has_more\":false,\"data\":[]}");
    fake_delay_last(700);
    fake_add(200, "{\"id\":\"re_e\",\"object\":\"refund\",\"status\":\"succeeded\"}");
    gateway_operate(&g, &t, &r);
    gateway_stripe_ops.destroy(st);
    perform = net_perform;
    assert_int_equal(fake.nseen, 2);
    assert_string_equal(fake.seen[1].method, "POST");
    assert_true(fake.seen[0].timeout_ms > 900);
    assert_true(fake.seen[1].timeout_ms <= 300); /* 1 s less the list's 0.7 s */
    assert_int_equal(r.decision, GW_ACCEPT);
}

/* ---- follow-ups ------------------------------------------------------------------------ */

static void test_operate(void **state)
{
    struct stripe *st = make_default();
    struct gateway g = instance(st, 10 * 1000000);
    struct gw_result r;

    /* capture: 200 succeeded → ACCEPT 100 */
    struct gw_target t = capture_target();
    fake_use();
    fake_add(200, "{\"id\":\"pi_3ABC\",\"object\":\"payment_intent\",\"status\":\"succeeded\","
                  "\"amount_received\":5000}");
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    assert_string_equal(fake.seen[0].method, "POST");
    assert_string_equal(fake.seen[0].url, BASE "/v1/payment_intents/pi_3ABC/capture");
    assert_string_equal(fake.seen[0].body, "amount_to_capture=5000");
    assert_string_equal(sent_header(&fake.seen[0], "Idempotency-Key"), "cpo_cap1");
    assert_string_equal(sent_header(&fake.seen[0], "Authorization"), "Bearer " SK);
    assert_int_equal(r.decision, GW_ACCEPT);
    assert_int_equal(r.response_code, 100);
    assert_string_equal(r.request_ref, "pi_3ABC");
    assert_false(r.unreachable);

    /* capture answered with the intent still uncaptured: not accepted */
    fake_use();
    fake_add(200,
             "{\"id\":\"pi_3ABC\",\"object\":\"payment_intent\",\"status\":\"requires_capture\"}");
    gateway_operate(&g, &t, &r);
    assert_int_equal(r.decision, GW_ERROR);

    /* a 402 card_error with a decline code → DECLINE 204, the code in the text */
    fake_use();
    fake_add(402, "{\"error\":{\"type\":\"card_error\",\"code\":\"card_declined\","
                  "\"decline_code\":\"insufficient_funds\","
                  "\"message\":\"Your card has insufficient funds.\"}}");
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    assert_int_equal(r.decision, GW_DECLINE);
    assert_int_equal(r.response_code, 204);
    assert_non_null(strstr(r.error_text, "insufficient_funds"));
    /* the other decline codes */
    fake_use();
    fake_add(402, "{\"error\":{\"type\":\"card_error\",\"code\":\"expired_card\"}}");
    gateway_operate(&g, &t, &r);
    assert_int_equal(r.decision, GW_DECLINE);
    assert_int_equal(r.response_code, 202);
    fake_use();
    fake_add(402, "{\"error\":{\"type\":\"card_error\",\"code\":\"card_declined\","
                  "\"decline_code\":\"generic_decline\"}}");
    gateway_operate(&g, &t, &r);
    assert_int_equal(r.decision, GW_DECLINE);
    assert_int_equal(r.response_code, 203);

    /* reverse: cancel the intent */
    t = capture_target();
    t.ref = "cpo_rev1";
    t.op = GW_OP_REVERSE;
    fake_use();
    fake_add(200, "{\"id\":\"pi_3ABC\",\"object\":\"payment_intent\",\"status\":\"canceled\"}");
    gateway_operate(&g, &t, &r);
    assert_string_equal(fake.seen[0].url, BASE "/v1/payment_intents/pi_3ABC/cancel");
    assert_string_equal(fake.seen[0].body, "cancellation_reason=requested_by_customer");
    assert_string_equal(sent_header(&fake.seen[0], "Idempotency-Key"), "cpo_rev1");
    assert_int_equal(r.decision, GW_ACCEPT);

    /* a refund answered pending: not final, kept by its id */
    t = capture_target();
    t.ref = "cpo_rf1";
    t.op = GW_OP_REFUND;
    t.amount_minor = 2500;
    t.parent_op = GW_OP_CAPTURE;
    fake_use();
    fake_add(200, "{\"id\":\"re_1Nxyz\",\"object\":\"refund\",\"status\":\"pending\"}");
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    assert_string_equal(fake.seen[0].method, "POST");
    assert_string_equal(fake.seen[0].url, BASE "/v1/refunds");
    assert_true(has_pair(fake.seen[0].body, "payment_intent", "pi_3ABC"));
    assert_true(has_pair(fake.seen[0].body, "amount", "2500"));
    assert_true(has_pair(fake.seen[0].body, "metadata%5Bchatpay_ref%5D", "cpo_rf1"));
    assert_int_equal(count_pairs(fake.seen[0].body), 3);
    assert_string_equal(sent_header(&fake.seen[0], "Idempotency-Key"), "cpo_rf1");
    assert_int_equal(r.decision, GW_NO_ANSWER);
    assert_false(r.unreachable);
    assert_string_equal(r.gateway_ref, "re_1Nxyz");

    /* asked again with its id: GET /v1/refunds/{id}, nothing posted */
    t.gateway_ref = "re_x";
    fake_use();
    fake_add(200, "{\"id\":\"re_x\",\"object\":\"refund\",\"status\":\"succeeded\"}");
    gateway_query(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    assert_string_equal(fake.seen[0].method, "GET");
    assert_string_equal(fake.seen[0].url, BASE "/v1/refunds/re_x");
    assert_false(fake.seen[0].has_body);
    assert_null(sent_header(&fake.seen[0], "Idempotency-Key"));
    assert_int_equal(r.decision, GW_ACCEPT);
    assert_int_equal(r.response_code, 100);
    assert_string_equal(r.gateway_ref, "re_x");
    /* ... failed */
    fake_use();
    fake_add(200, "{\"id\":\"re_x\",\"object\":\"refund\",\"status\":\"failed\","
                  "\"failure_reason\":\"expired_or_canceled_card\"}");
    gateway_operate(&g, &t, &r);
    assert_int_equal(r.decision, GW_DECLINE);
    assert_non_null(strstr(r.error_text, "expired_or_canceled_card"));

    /* a void is a refund of all of it at Stripe */
    t = capture_target();
    t.ref = "cpo_void1";
    t.op = GW_OP_VOID;
    t.parent_op = GW_OP_SALE;
    fake_use();
    fake_add(200, "{\"id\":\"re_2\",\"object\":\"refund\",\"status\":\"succeeded\"}");
    gateway_operate(&g, &t, &r);
    assert_string_equal(fake.seen[0].url, BASE "/v1/refunds");
    assert_true(has_pair(fake.seen[0].body, "amount", "5000"));
    assert_int_equal(r.decision, GW_ACCEPT);

    /* no PaymentIntent known: an error, nothing sent */
    t = capture_target();
    t.parent_gateway_ref = "";
    fake_use();
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 0);
    assert_int_equal(r.decision, GW_ERROR);

    /* no answer at all */
    t = capture_target();
    fake_use();
    fake_add_full((struct answer){NET_CONNECT, 0, NULL, false, NULL, NULL});
    fake_add_full((struct answer){NET_CONNECT, 0, NULL, false, NULL, NULL});
    fake_add_full((struct answer){NET_CONNECT, 0, NULL, false, NULL, NULL});
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 3);
    assert_int_equal(r.decision, GW_NO_ANSWER);
    assert_true(r.unreachable);

    gateway_stripe_ops.destroy(st);
    perform = net_perform;
}

/* A refund asked again with no id known (its answer was lost): looked for
 * among the PaymentIntent's refunds by metadata[chatpay_ref] before it is
 * sent again, since Stripe prunes the Idempotency-Key after 24 hours. */
static void test_refund_lost_answer_is_looked_for(void **state)
{
    struct stripe *st = make_default();
    struct gateway g = instance(st, 10 * 1000000);
    struct gw_result r;
    struct gw_target t = refund_again_target("cpo_rf9");

    /* found on the second page: its answer, nothing posted */
    fake_use();
    fake_add(200, "{\"object\":\"list\",\"url\":\"/v1/refunds\",\"has_more\":true,\"data\":["
                  "{\"id\":\"re_a\",\"object\":\"refund\",\"status\":\"succeeded\","
                  "\"metadata\":{\"chatpay_ref\":\"cpo_rf8\"}},"
                  "{\"id\":\"re_b\",\"object\":\"refund\",\"status\":\"succeeded\","
                  "\"metadata\":{}}]}");
    fake_add(200, "{\"object\":\"list\",\"url\":\"/v1/refunds\",\"has_more\":false,\"data\":["
                  "{\"id\":\"re_c\",\"object\":\"refund\",\"status\":\"succeeded\","
                  "\"metadata\":{\"chatpay_ref\":\"cpo_rf9\"}}]}");
    gateway_query(&g, &t, &r);
    assert_int_equal(fake.nseen, 2);
    assert_string_equal(fake.seen[0].method, "GET");
    assert_string_equal(fake.seen[0].url, BASE "/v1/refunds?payment_intent=pi_3ABC&limit=100");
    assert_string_equal(fake.seen[1].method, "GET");
    assert_string_equal(fake.seen[1].url,
                        BASE "/v1/refunds?payment_intent=pi_3ABC&limit=100&starting_after=re_b");
    assert_int_equal(r.decision, GW_ACCEPT);
    assert_string_equal(r.gateway_ref, "re_c");
    assert_string_equal(r.request_ref, "re_c");

    /* not there: sent again under the same key */
    fake_use();
    fake_add(200, "{\"object\":\"list\",\"url\":\"/v1/refunds\",\"has_more\":false,\"data\":[]}");
    fake_add(200, "{\"id\":\"re_d\",\"object\":\"refund\",\"status\":\"succeeded\"}");
    gateway_query(&g, &t, &r);
    assert_int_equal(fake.nseen, 2);
    assert_string_equal(fake.seen[1].method, "POST");
    assert_string_equal(fake.seen[1].url, BASE "/v1/refunds");
    assert_true(has_pair(fake.seen[1].body, "metadata%5Bchatpay_ref%5D", "cpo_rf9"));
    assert_string_equal(sent_header(&fake.seen[1], "Idempotency-Key"), "cpo_rf9");
    assert_int_equal(r.decision, GW_ACCEPT);
    assert_string_equal(r.gateway_ref, "re_d");

    /* the list refused or unanswered: not known, nothing posted */
    fake_use();
    fake_add(401, "{\"error\":{\"type\":\"invalid_request_error\",\"message\":\"bad key\"}}");
    gateway_query(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    assert_int_equal(r.decision, GW_NO_ANSWER);
    assert_true(r.unreachable);

    /* more pages than chatpay looks through: not known, nothing posted */
    fake_use();
    for (int i = 0; i < STRIPE_LIST_PAGES; i++)
        fake_add(200, "{\"object\":\"list\",\"url\":\"/v1/refunds\",\"has_more\":true,"
                      "\"data\":[{\"id\":\"re_e\",\"object\":\"refund\",\"metadata\":{}}]}");
    gateway_query(&g, &t, &r);
    assert_int_equal(fake.nseen, STRIPE_LIST_PAGES);
    for (size_t i = 0; i < fake.nseen; i++)
        assert_string_equal(fake.seen[i].method, "GET");
    assert_int_equal(r.decision, GW_NO_ANSWER);
    assert_true(r.unreachable);

    /* the first time (not asked again): posted at once */
    t.again = false;
    fake_use();
    fake_add(200, "{\"id\":\"re_f\",\"object\":\"refund\",\"status\":\"succeeded\"}");
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    assert_string_equal(fake.seen[0].method, "POST");

    gateway_stripe_ops.destroy(st);
    perform = net_perform;
}

static void test_result(void **state)
{
    struct stripe *st = make_default();
    struct gateway g = instance(st, 10 * 1000000);
    struct gw_result r;
    struct gw_target t = {.merchant_id = "m_1",
                          .ref = "cpo_auth1",
                          .gateway_ref = "cs_test_a1B2c3",
                          .op = GW_OP_AUTHORIZE,
                          .amount_minor = 11500,
                          .currency = "ZAR",
                          .parent_ref = "",
                          .parent_gateway_ref = ""};
    fake_use();
    fake_add(200,
             "{\"id\":\"cs_test_a1B2c3\",\"object\":\"checkout.session\",\"status\":"
             "\"complete\",\"client_reference_id\":\"cpo_auth1\",\"payment_intent\":\"pi_3ABC\"}");
    fake_add(200,
             "{\"id\":\"pi_3ABC\",\"object\":\"payment_intent\",\"status\":\"requires_capture\","
             "\"latest_charge\":{\"id\":\"ch_9\",\"payment_method_details\":{\"card\":{"
             "\"brand\":\"visa\",\"last4\":\"4242\",\"exp_month\":3,\"exp_year\":2030}}}}");
    gateway_result(&g, &t, &r);
    assert_int_equal(fake.nseen, 2);
    assert_string_equal(fake.seen[0].method, "GET");
    assert_string_equal(fake.seen[0].url, BASE "/v1/checkout/sessions/cs_test_a1B2c3");
    assert_string_equal(fake.seen[1].url,
                        BASE "/v1/payment_intents/pi_3ABC?expand%5B%5D=latest_charge");
    assert_int_equal(r.decision, GW_ACCEPT);
    assert_int_equal(r.response_code, 100);
    assert_string_equal(r.request_ref, "pi_3ABC");
    assert_string_equal(r.auth_ref, "ch_9");
    assert_string_equal(r.card_type, "VISA");
    assert_string_equal(r.masked_pan, "************4242");
    assert_string_equal(r.expiry, "03/2030");

    /* the session of another payment is not this one's result */
    fake_use();
    fake_add(200, "{\"id\":\"cs_test_a1B2c3\",\"status\":\"complete\","
                  "\"client_reference_id\":\"cpo_other\",\"payment_intent\":\"pi_3ABC\"}");
    gateway_result(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    assert_int_equal(r.decision, GW_NO_ANSWER);

    /* a sale needs succeeded */
    t.op = GW_OP_SALE;
    fake_use();
    fake_add(200, "{\"id\":\"cs_test_a1B2c3\",\"status\":\"complete\","
                  "\"client_reference_id\":\"cpo_auth1\",\"payment_intent\":\"pi_3ABC\"}");
    fake_add(200, "{\"id\":\"pi_3ABC\",\"status\":\"requires_capture\"}");
    gateway_result(&g, &t, &r);
    assert_int_equal(r.decision, GW_NO_ANSWER);

    /* still open */
    fake_use();
    fake_add(200, "{\"id\":\"cs_test_a1B2c3\",\"status\":\"open\","
                  "\"client_reference_id\":\"cpo_auth1\",\"payment_intent\":null}");
    gateway_result(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    assert_int_equal(r.decision, GW_NO_ANSWER);
    assert_false(r.unreachable);

    gateway_stripe_ops.destroy(st);
    perform = net_perform;
}

/* ---- webhooks -------------------------------------------------------------------------- */

struct t_hdrs {
    const char *sig;
};

static const char *t_get_header(const void *cls, const char *name)
{
    const struct t_hdrs *h = cls;
    return strcasecmp(name, "Stripe-Signature") == 0 ? h->sig : NULL;
}

static enum gw_inbound_verdict t_inbound(const char *body, const char *sig, struct arena *a,
                                         struct gw_notice **nt, size_t *n)
{
    struct stripe *st = make_default();
    struct gateway g = instance(st, 10 * 1000000);
    struct t_hdrs h = {sig};
    struct provider_inbound rq = {.method = "POST",
                                  .url = "https://pay.example.com/hooks/prv_s/tok",
                                  .rest = "",
                                  .content_type = "application/json; charset=utf-8",
                                  .body = body,
                                  .body_len = strlen(body),
                                  .header = t_get_header,
                                  .header_cls = &h};
    enum gw_inbound_verdict v = gateway_stripe_ops.inbound(&g, &rq, a, nt, n);
    gateway_stripe_ops.destroy(st);
    return v;
}

/* The Stripe-Signature header for body, signed now. */
static const char *signed_now(struct arena *a, const char *body, const char *secret)
{
    long long t = (long long)time(NULL);
    char v1[65];
    t_v1(t, body, secret, v1);
    return arena_printf(a, "t=%lld,v1=%s", t, v1);
}

static const char *const EV_SESSION =
    "{\"id\":\"evt_1SessionDone\",\"object\":\"event\",\"type\":\"checkout.session.completed\","
    "\"data\":{\"object\":{\"id\":\"cs_test_a1B2c3\",\"object\":\"checkout.session\","
    "\"client_reference_id\":\"cpo_auth1\",\"payment_intent\":\"pi_3ABC\","
    "\"metadata\":{\"chatpay_ref\":\"cpo_meta\",\"payment_link_ref\":\"lnk_9\"}}},"
    "\"livemode\":false}";
static const char *const EV_INTENT =
    "{\"id\":\"evt_2Intent\",\"object\":\"event\",\"type\":\"payment_intent.amount_capturable_"
    "updated\",\"data\":{\"object\":{\"id\":\"pi_3ABC\",\"object\":\"payment_intent\","
    "\"status\":\"requires_capture\",\"metadata\":{\"chatpay_ref\":\"cpo_auth1\"}}}}";
static const char *const EV_REFUND =
    "{\"id\":\"evt_3Refund\",\"object\":\"event\",\"type\":\"refund.updated\",\"data\":{\"object\":"
    "{\"id\":\"re_1Nxyz\",\"object\":\"refund\",\"status\":\"succeeded\","
    "\"metadata\":{\"chatpay_ref\":\"cpo_rf1\"}}}}";
static const char *const EV_OTHER =
    "{\"id\":\"evt_4Charge\",\"object\":\"event\",\"type\":\"charge.succeeded\",\"data\":{"
    "\"object\":"
    "{\"id\":\"ch_9\",\"object\":\"charge\",\"metadata\":{\"chatpay_ref\":\"cpo_auth1\"}}}}";

static void test_inbound(void **state)
{
    struct arena *a = arena_new(0);
    struct gw_notice *nt;
    size_t n;

    /* checkout.session.completed: our reference is client_reference_id */
    assert_int_equal(t_inbound(EV_SESSION, signed_now(a, EV_SESSION, WHSEC), a, &nt, &n),
                     GW_IN_NOTICES);
    assert_int_equal(n, 1);
    assert_string_equal(nt[0].event_id, "evt_1SessionDone");
    assert_string_equal(nt[0].ref, "cpo_auth1");
    assert_string_equal(nt[0].gateway_ref, "cs_test_a1B2c3");
    assert_false(nt[0].has_amount);

    /* payment_intent.*: metadata.chatpay_ref, no gateway_ref */
    assert_int_equal(t_inbound(EV_INTENT, signed_now(a, EV_INTENT, WHSEC), a, &nt, &n),
                     GW_IN_NOTICES);
    assert_int_equal(n, 1);
    assert_string_equal(nt[0].event_id, "evt_2Intent");
    assert_string_equal(nt[0].ref, "cpo_auth1");
    assert_string_equal(nt[0].gateway_ref, "");

    /* refund.*: metadata.chatpay_ref and the refund's id */
    assert_int_equal(t_inbound(EV_REFUND, signed_now(a, EV_REFUND, WHSEC), a, &nt, &n),
                     GW_IN_NOTICES);
    assert_int_equal(n, 1);
    assert_string_equal(nt[0].ref, "cpo_rf1");
    assert_string_equal(nt[0].gateway_ref, "re_1Nxyz");

    /* an event type that is not ours: accepted, no notice */
    assert_int_equal(t_inbound(EV_OTHER, signed_now(a, EV_OTHER, WHSEC), a, &nt, &n),
                     GW_IN_NOTICES);
    assert_int_equal(n, 0);

    /* a bad signature, another secret, none at all, a stale one */
    char *bad = arena_strdup(a, signed_now(a, EV_SESSION, WHSEC));
    char *last = bad + strlen(bad) - 1;
    *last = *last == '0' ? '1' : '0';
    assert_int_equal(t_inbound(EV_SESSION, bad, a, &nt, &n), GW_IN_FORBIDDEN);
    assert_int_equal(n, 0);
    assert_int_equal(t_inbound(EV_SESSION, signed_now(a, EV_SESSION, "whsec_other"), a, &nt, &n),
                     GW_IN_FORBIDDEN);
    assert_int_equal(t_inbound(EV_SESSION, NULL, a, &nt, &n), GW_IN_FORBIDDEN);
    long long old = (long long)time(NULL) - 600;
    char v1[65];
    t_v1(old, EV_SESSION, WHSEC, v1);
    assert_int_equal(t_inbound(EV_SESSION, arena_printf(a, "t=%lld,v1=%s", old, v1), a, &nt, &n),
                     GW_IN_FORBIDDEN);
    /* the signature of another body */
    assert_int_equal(t_inbound(EV_SESSION, signed_now(a, EV_INTENT, WHSEC), a, &nt, &n),
                     GW_IN_FORBIDDEN);

    /* signed but not an event */
    const char *junk = "not json";
    assert_int_equal(t_inbound(junk, signed_now(a, junk, WHSEC), a, &nt, &n), GW_IN_MALFORMED);
    const char *noobj = "{\"id\":\"evt_5\",\"type\":\"checkout.session.completed\"}";
    assert_int_equal(t_inbound(noobj, signed_now(a, noobj, WHSEC), a, &nt, &n), GW_IN_MALFORMED);

    /* a GET, or a path after the token: not Stripe's */
    struct stripe *st = make_default();
    struct gateway g = instance(st, 10 * 1000000);
    struct t_hdrs h = {signed_now(a, EV_SESSION, WHSEC)};
    struct provider_inbound rq = {.method = "GET",
                                  .url = "https://pay.example.com/hooks/prv_s/tok",
                                  .rest = "",
                                  .content_type = "",
                                  .body = EV_SESSION,
                                  .body_len = strlen(EV_SESSION),
                                  .header = t_get_header,
                                  .header_cls = &h};
    assert_int_equal(gateway_stripe_ops.inbound(&g, &rq, a, &nt, &n), GW_IN_MALFORMED);
    rq.method = "POST";
    rq.rest = "status";
    assert_int_equal(gateway_stripe_ops.inbound(&g, &rq, a, &nt, &n), GW_IN_MALFORMED);
    rq.rest = "";
    assert_int_equal(gateway_stripe_ops.inbound(&g, &rq, a, &nt, &n), GW_IN_NOTICES);
    assert_int_equal(n, 1);
    gateway_stripe_ops.destroy(st);

    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmac_helper),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_live),
        cmocka_unit_test(test_ops_table),
        cmocka_unit_test(test_begin),
        cmocka_unit_test(test_retry_idempotent_post),
        cmocka_unit_test(test_retry_should_not),
        cmocka_unit_test(test_post_without_key_never_repeated),
        cmocka_unit_test(test_operate),
        cmocka_unit_test(test_refund_lost_answer_is_looked_for),
        cmocka_unit_test(test_result),
        cmocka_unit_test(test_inbound),
        cmocka_unit_test(test_retry_after_bounded_by_timeout),
        cmocka_unit_test(test_an_operation_shares_one_deadline),
        cmocka_unit_test(test_signature_huge_t),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
