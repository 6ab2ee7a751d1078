/*
 * test_gateway_cybersource.c — unit tests for the CyberSource gateway
 * (gateway/cybersource.c, included here so that its static transfer function
 * `perform` can be replaced by a fake that records every request and answers
 * from a script).
 *
 * The expected signatures are computed here independently of the adapter,
 * with OpenSSL directly, on strings built step by step (spec/providers.md 5):
 *   - Secure Acceptance: base64(HMAC-SHA256(key = the profile's secret key as
 *     it is, data = "name=value,..." in signed_field_names order));
 *   - REST HTTP Signature: base64(HMAC-SHA256(key = base64-DECODED shared
 *     secret, data = "host: ..\ndate: ..\n(request-target): ..\ndigest: ..\n
 *     v-c-merchant-id: .." without a trailing newline)), Digest = "SHA-256=" +
 *     base64(SHA-256(body)).
 * The secret key below looks like base64 on purpose: decoding it (as the REST
 * side does) would give another signature.
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

#include "gateway/cybersource.c"

#define MID     "chatpay_test"
#define PROFILE "0FFEAFFB-8171-4F5A-8B15-3D1F6C3E8C1F"
#define AKEY    "3a9c1f0e6b2d4c8a9e7f5d3b1a0c2e4f"
#define SAKEY   "c2VjcmV0LWtleS1hcy1pdA=="
#define KEYID   "08c94330-f618-42a3-b09d-e1e43be5efda"
#define SHARED  "yBJxy6LjM2TmcPGu+GaJrHtkke25fPpUX+UY6/L/1tE="
#define REST    "https://apitest.cybersource.com"

/* ---- independent crypto -------------------------------------------------------------- */

static void t_b64(const unsigned char *in, size_t n, char *out, size_t cap)
{
    assert_true(cap >= 4 * ((n + 2) / 3) + 1);
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    assert_int_equal((size_t)len, 4 * ((n + 2) / 3));
}

/* Decode standard base64 (with padding) into out; the byte count. */
static size_t t_unb64(const char *in, unsigned char *out, size_t cap)
{
    size_t il = strlen(in);
    assert_true(il % 4 == 0 && cap >= il / 4 * 3);
    int len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)il);
    assert_true(len >= 0);
    size_t pad = (il >= 1 && in[il - 1] == '=') + (il >= 2 && in[il - 2] == '=');
    return (size_t)len - pad;
}

/* base64(HMAC-SHA256(key, data)) into out[45]. */
static void t_hmac_b64(const void *key, size_t keylen, const char *data, char out[45])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    assert_non_null(
        HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, strlen(data), mac, &len));
    assert_int_equal(len, 32);
    t_b64(mac, 32, out, 45);
}

/* "SHA-256=" + base64(SHA-256(body)) */
static void t_digest(const char *body, char out[64])
{
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    assert_int_equal(EVP_Digest(body, strlen(body), h, &len, EVP_sha256(), NULL), 1);
    assert_int_equal(len, 32);
    memcpy(out, "SHA-256=", 8);
    t_b64(h, 32, out + 8, 56);
}

static void test_crypto_helpers(void **state)
{
    /* RFC 4231, test case 2, in base64 */
    char b64[45];
    t_hmac_b64("Jefe", 4, "what do ya want for nothing?", b64);
    assert_string_equal(b64, "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
    /* SHA-256("abc") */
    char d[64];
    t_digest("abc", d);
    assert_string_equal(d, "SHA-256=ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    unsigned char raw[64];
    assert_int_equal(t_unb64(SHARED, raw, sizeof raw), 32);
    assert_int_equal(t_unb64("YWI=", raw, sizeof raw), 2);
    assert_memory_equal(raw, "ab", 2);
}

#include "fake_net.h"

/* ---- instances ------------------------------------------------------------------------- */

static const _Atomic bool never = false;

/* Settings: the defaults with `extra` members ("\"name\":\"value\",..." or "")
 * appended after them (json-c keeps the last of a repeated key). */
static json_object *settings_with(const char *extra)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"merchant_id\":\"" MID "\",\"profile_id\":\"" PROFILE "\",\"access_key\":\"" AKEY
             "\",\"secret_key\":\"" SAKEY "\",\"key_id\":\"" KEYID "\",\"shared_secret\":\"" SHARED
             "\"%s%s}",
             extra[0] ? "," : "", extra);
    json_object *s = json_tokener_parse(text);
    assert_non_null(s);
    return s;
}

static struct cs *make_cfg(json_object *s, bool test_mode, char *err, size_t errlen)
{
    struct provider_config cfg = {.provider_id = "prv_c",
                                  .merchant_id = "m_1",
                                  .settings = s,
                                  .inbound_url = "https://pay.example.com/hooks/prv_c/tok",
                                  .test_mode = test_mode};
    err[0] = '\0';
    struct cs *c = gateway_cybersource_ops.create(&cfg, err, errlen);
    json_object_put(s);
    return c;
}

static struct cs *make_extra(const char *extra, bool test_mode, char *err, size_t errlen)
{
    return make_cfg(settings_with(extra), test_mode, err, errlen);
}

static bool live_of(const char *extra)
{
    json_object *s = settings_with(extra);
    struct provider_config cfg = {.provider_id = "prv_c", .merchant_id = "m_1", .settings = s};
    bool live = gateway_cybersource_ops.live(&cfg);
    json_object_put(s);
    return live;
}

static struct cs *make_default(void)
{
    char err[256];
    struct cs *c = make_extra("", true, err, sizeof err);
    assert_non_null(c);
    return c;
}

static struct gateway instance(struct cs *c)
{
    return (struct gateway){.ops = &gateway_cybersource_ops,
                            .id = "prv_c",
                            .merchant_id = "m_1",
                            .state = c,
                            .timeout = 10 * 1000000,
                            .cancel = &never};
}

/* ---- settings -------------------------------------------------------------------------- */

static void expect_refused(const char *extra, const char *what)
{
    char err[256];
    struct cs *c = make_extra(extra, true, err, sizeof err);
    assert_null(c);
    assert_non_null(strstr(err, what));
}

static void test_create_and_live(void **state)
{
    char err[256];
    /* the defaults: CyberSource's test hosts */
    struct cs *c = make_extra("", true, err, sizeof err);
    assert_non_null(c);
    assert_string_equal(c->merchant_id, MID);
    assert_string_equal(c->profile_id, PROFILE);
    assert_string_equal(c->access_key, AKEY);
    assert_string_equal(c->key_id, KEYID);
    assert_string_equal(c->secret_key, SAKEY);
    assert_string_equal(c->sa_base, "https://testsecureacceptance.cybersource.com");
    assert_string_equal(c->rest_base, REST);
    assert_string_equal(c->rest_host, "apitest.cybersource.com");
    unsigned char raw[64];
    size_t rawlen = t_unb64(SHARED, raw, sizeof raw);
    assert_int_equal(c->shared_len, rawlen);
    assert_memory_equal(c->shared, raw, rawlen);
    assert_false(c->allow_private); /* CyberSource's own host stays under the SSRF guard */
    gateway_cybersource_ops.destroy(c);
    assert_false(live_of(""));

    /* production hosts are live (trailing slashes allowed) */
    static const char *const LIVE = "\"sa_base_url\":\"https://secureacceptance.cybersource.com/\","
                                    "\"rest_base_url\":\"https://api.cybersource.com/\"";
    assert_true(live_of(LIVE));
    c = make_extra(LIVE, false, err, sizeof err);
    assert_non_null(c);
    assert_string_equal(c->rest_base, "https://api.cybersource.com");
    assert_string_equal(c->sa_base, "https://secureacceptance.cybersource.com");
    assert_string_equal(c->rest_host, "api.cybersource.com");
    gateway_cybersource_ops.destroy(c);
    static const char *const INDIA =
        "\"sa_base_url\":\"https://secureacceptance.in.cybersource.com\","
        "\"rest_base_url\":\"https://api.in.cybersource.com\"";
    assert_true(live_of(INDIA));
    c = make_extra(INDIA, false, err, sizeof err);
    assert_non_null(c);
    gateway_cybersource_ops.destroy(c);
    /* https's own port and another case are the same hosts */
    assert_true(live_of("\"sa_base_url\":\"https://SecureAcceptance.cybersource.com:443\","
                        "\"rest_base_url\":\"https://api.cybersource.com:443/\""));
    assert_false(live_of("\"sa_base_url\":\"https://secureacceptance.cybersource.com:8443\","
                         "\"rest_base_url\":\"https://api.cybersource.com:8443\""));
    /* explicit test hosts */
    assert_false(live_of("\"sa_base_url\":\"https://testsecureacceptance.cybersource.com\","
                         "\"rest_base_url\":\"https://apitest.cybersource.com\""));

    /* mixing a test and a live host is refused (and is not live) */
    static const char *const MIX1 = "\"sa_base_url\":\"https://secureacceptance.cybersource.com\"";
    static const char *const MIX2 = "\"rest_base_url\":\"https://api.cybersource.com\"";
    assert_false(live_of(MIX1));
    assert_false(live_of(MIX2));
    expect_refused(MIX1, "both");
    expect_refused(MIX2, "both");
    expect_refused("\"sa_base_url\":\"https://secureacceptance.cybersource.com\","
                   "\"rest_base_url\":\"https://cs-fake.example\"",
                   "both");

    /* the shared secret must be base64 */
    expect_refused("\"shared_secret\":\"not base64!\"", "shared_secret");
    expect_refused("\"shared_secret\":\"yBJxy6LjM2TmcPGu+GaJrHtkke25fPpUX+UY6/L/1tE\"",
                   "shared_secret"); /* no padding */
    expect_refused("\"shared_secret\":\"\"", "shared_secret");
    expect_refused("\"shared_secret\":null", "shared_secret");

    /* the required settings */
    static const char *const names[] = {"merchant_id", "profile_id", "access_key", "key_id",
                                        "secret_key"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char extra[128];
        snprintf(extra, sizeof extra, "\"%s\":\"\"", names[i]);
        expect_refused(extra, names[i]);
    }
    char extra[256];
    char mid64[65];
    memset(mid64, 'm', 64);
    mid64[64] = '\0';
    snprintf(extra, sizeof extra, "\"merchant_id\":\"%s\"", mid64);
    expect_refused(extra, "merchant_id");

    /* the URLs */
    expect_refused("\"sa_base_url\":\"ftp://testsecureacceptance.cybersource.com\"", "sa_base_url");
    expect_refused("\"sa_base_url\":\"https://\"", "sa_base_url");
    expect_refused("\"rest_base_url\":\"https://apitest.cybersource.com?x=1\"", "rest_base_url");
    expect_refused("\"rest_base_url\":\"apitest.cybersource.com\"", "rest_base_url");
    /* only scheme://host[:port]: no user info, path, or characters that are
     * not a host's (the origin goes into a Content-Security-Policy) */
    expect_refused("\"rest_base_url\":\"https://user:pw@apitest.cybersource.com\"",
                   "rest_base_url");
    expect_refused("\"rest_base_url\":\"https://apitest.cybersource.com/v2\"", "rest_base_url");
    expect_refused("\"sa_base_url\":\"https://cs.example; script-src *\"", "sa_base_url");
    expect_refused("\"sa_base_url\":\"https://cs.example:\"", "sa_base_url");
    expect_refused("\"sa_base_url\":\"https://cs.example:44x\"", "sa_base_url");
    /* the scheme's own port is not signed (libcurl leaves it out of Host) */
    c = make_extra("\"rest_base_url\":\"http://127.0.0.1:80\","
                   "\"sa_base_url\":\"https://Cs.Example:443/\"",
                   true, err, sizeof err);
    assert_non_null(c);
    assert_string_equal(c->rest_host, "127.0.0.1");
    gateway_cybersource_ops.destroy(c);

    /* a fake on loopback: reachable only for a sandbox merchant's gateway */
    c = make_extra("\"sa_base_url\":\"http://127.0.0.1:8081\","
                   "\"rest_base_url\":\"http://127.0.0.1:8081/\"",
                   true, err, sizeof err);
    assert_non_null(c);
    assert_true(c->allow_private);
    assert_string_equal(c->rest_host, "127.0.0.1:8081");
    assert_string_equal(c->rest_base, "http://127.0.0.1:8081");
    gateway_cybersource_ops.destroy(c);
    c = make_extra("\"sa_base_url\":\"http://127.0.0.1:8081\","
                   "\"rest_base_url\":\"http://127.0.0.1:8081/\"",
                   false, err, sizeof err);
    assert_non_null(c);
    assert_false(c->allow_private);
    gateway_cybersource_ops.destroy(c);
    gateway_cybersource_ops.destroy(NULL);
}

static void test_ops_table(void **state)
{
    assert_string_equal(gateway_cybersource_ops.kind, "cybersource");
    assert_ptr_equal(gateway_kind("cybersource"), &gateway_cybersource_ops);
    const struct provider_setting *s = gateway_cybersource_ops.settings;
    size_t n = 0;
    for (; s[n].name; n++) {
        bool secret =
            strcmp(s[n].name, "secret_key") == 0 || strcmp(s[n].name, "shared_secret") == 0;
        assert_int_equal(s[n].secret, secret);
        bool optional =
            strcmp(s[n].name, "sa_base_url") == 0 || strcmp(s[n].name, "rest_base_url") == 0;
        assert_int_equal(s[n].required, !optional);
    }
    assert_int_equal(n, 8);
}

/* ---- Secure Acceptance: the payment form ---------------------------------------------- */

static const char *const SIGNED_NAMES =
    "access_key,profile_id,transaction_uuid,signed_field_names,unsigned_field_names,"
    "signed_date_time,locale,transaction_type,reference_number,amount,currency,"
    "override_custom_receipt_page,override_custom_cancel_page";

#define RETURN_URL "https://pay.example.com/p/tok123/return?ref=cpo_auth1"

static struct gw_payment payment(enum gw_operation op, int64_t minor, const char *currency)
{
    return (struct gw_payment){.merchant_id = "m_1",
                               .ref = "cpo_auth1",
                               .amount_minor = minor,
                               .currency = currency,
                               .op = op,
                               .return_url = RETURN_URL,
                               .cancel_url = "https://pay.example.com/l/lnk_9",
                               .base_url = "https://pay.example.com",
                               .locale = "fr",
                               .link_ref = "lnk_9",
                               .description = "Shop, order 42",
                               .created_at = 1767225600123456LL,
                               .expires_at = 1767227400123456LL};
}

/* signed_date_time: yyyy-MM-ddTHH:mm:ssZ, now (UTC) within a few seconds. */
static void check_sa_time(const char *when)
{
    assert_int_equal(strlen(when), 20);
    struct tm tm = {0};
    const char *end = strptime(when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    assert_non_null(end);
    assert_int_equal(*end, '\0');
    long long diff = (long long)timegm(&tm) - (long long)time(NULL);
    assert_true(diff >= -5 && diff <= 5);
}

static void check_form(const struct gw_checkout *co, const char *type, const char *amount,
                       const char *currency, const char *locale)
{
    assert_string_equal(co->url, "https://testsecureacceptance.cybersource.com/pay");
    assert_string_equal(co->gateway_ref, "");
    static const char *const order[] = {"access_key",
                                        "profile_id",
                                        "transaction_uuid",
                                        "signed_field_names",
                                        "unsigned_field_names",
                                        "signed_date_time",
                                        "locale",
                                        "transaction_type",
                                        "reference_number",
                                        "amount",
                                        "currency",
                                        "override_custom_receipt_page",
                                        "override_custom_cancel_page",
                                        "signature"};
    assert_int_equal(co->nfields, 14);
    for (size_t i = 0; i < 14; i++)
        assert_string_equal(co->fields[i].name, order[i]);
    const struct gw_field *f = co->fields;
    assert_string_equal(f[0].value, AKEY);
    assert_string_equal(f[1].value, PROFILE);
    assert_string_equal(f[2].value, "cpo_auth1");
    assert_string_equal(f[3].value, SIGNED_NAMES);
    assert_string_equal(f[4].value, "");
    check_sa_time(f[5].value);
    assert_string_equal(f[6].value, locale);
    assert_string_equal(f[7].value, type);
    assert_string_equal(f[8].value, "cpo_auth1");
    assert_string_equal(f[9].value, amount);
    assert_string_equal(f[10].value, currency);
    assert_string_equal(f[11].value, RETURN_URL);
    assert_string_equal(f[12].value, RETURN_URL);

    /* the signature, built here field by field */
    char data[2048];
    int n = snprintf(data, sizeof data,
                     "access_key=" AKEY ",profile_id=" PROFILE ",transaction_uuid=cpo_auth1,"
                     "signed_field_names=%s,unsigned_field_names=,signed_date_time=%s,locale=%s,"
                     "transaction_type=%s,reference_number=cpo_auth1,amount=%s,currency=%s,"
                     "override_custom_receipt_page=" RETURN_URL
                     ",override_custom_cancel_page=" RETURN_URL,
                     SIGNED_NAMES, f[5].value, locale, type, amount, currency);
    assert_true(n > 0 && (size_t)n < sizeof data);
    char expected[45];
    t_hmac_b64(SAKEY, strlen(SAKEY), data, expected);
    assert_string_equal(f[13].value, expected);
    /* and not under the decoded key (the REST rule) */
    unsigned char raw[64];
    size_t rawlen = t_unb64(SAKEY, raw, sizeof raw);
    char decoded_sig[45];
    t_hmac_b64(raw, rawlen, data, decoded_sig);
    assert_string_not_equal(f[13].value, decoded_sig);
}

static void test_begin(void **state)
{
    struct cs *c = make_default();
    struct gateway g = instance(c);
    struct arena *a = arena_new(0);
    struct gw_checkout co;
    fake_use(); /* no request: the browser posts the form */

    struct gw_payment p = payment(GW_OP_SALE, 11500, "ZAR");
    assert_true(gateway_begin(&g, &p, a, &co));
    check_form(&co, "sale", "115.00", "ZAR", "fr");

    p = payment(GW_OP_AUTHORIZE, 11500, "ZAR");
    assert_true(gateway_begin(&g, &p, a, &co));
    check_form(&co, "authorization", "115.00", "ZAR", "fr");

    /* other exponents; no locale → en */
    p = payment(GW_OP_SALE, 1150, "JPY");
    p.locale = NULL;
    assert_true(gateway_begin(&g, &p, a, &co));
    check_form(&co, "sale", "1150", "JPY", "en");
    p = payment(GW_OP_SALE, 1234, "BHD");
    p.locale = "";
    assert_true(gateway_begin(&g, &p, a, &co));
    check_form(&co, "sale", "1.234", "BHD", "en");
    p = payment(GW_OP_SALE, 5, "USD");
    assert_true(gateway_begin(&g, &p, a, &co));
    check_form(&co, "sale", "0.05", "USD", "fr");
    assert_int_equal(fake.nseen, 0);

    arena_free(a);
    gateway_cybersource_ops.destroy(c);
    perform = net_perform;
}

/* ---- Secure Acceptance: what is posted back ------------------------------------------- */

struct kv {
    const char *name, *value;
};

/* x-www-form-urlencoded as a browser does it (space → '+'), written here. */
static void t_form_append(char *out, size_t cap, const char *s)
{
    size_t len = strlen(out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        assert_true(len + 4 < cap);
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '*')
            out[len++] = (char)*p;
        else if (*p == ' ')
            out[len++] = '+';
        else
            len += (size_t)snprintf(out + len, cap - len, "%%%02X", *p);
    }
    out[len] = '\0';
}

/* A result form: fields kv[0..n), signed over `names` (NULL: every field
 * given, signed_field_names included) with `secret`; signature appended. */
static const char *result_form(struct arena *a, const struct kv *kv, size_t n, const char *names,
                               const char *secret)
{
    char list[2048] = "";
    if (!names) {
        for (size_t i = 0; i < n; i++) {
            strcat(list, kv[i].name);
            strcat(list, ",");
        }
        strcat(list, "signed_field_names");
        names = list;
    }
    /* the string to sign, in the order of names */
    char data[4096] = "";
    for (const char *p = names; *p;) {
        size_t k = strcspn(p, ",");
        const char *v = NULL;
        if (k == strlen("signed_field_names") && strncmp(p, "signed_field_names", k) == 0)
            v = names;
        for (size_t i = 0; !v && i < n; i++)
            if (strlen(kv[i].name) == k && strncmp(kv[i].name, p, k) == 0)
                v = kv[i].value;
        assert_non_null(v);
        size_t dl = strlen(data);
        snprintf(data + dl, sizeof data - dl, "%s%.*s=%s", dl ? "," : "", (int)k, p, v);
        p += k;
        if (*p == ',')
            p++;
    }
    char sig[45];
    t_hmac_b64(secret, strlen(secret), data, sig);
    char body[8192] = "";
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(body, "&");
        t_form_append(body, sizeof body, kv[i].name);
        strcat(body, "=");
        t_form_append(body, sizeof body, kv[i].value);
    }
    strcat(body, "&signed_field_names=");
    t_form_append(body, sizeof body, names);
    strcat(body, "&signature=");
    t_form_append(body, sizeof body, sig);
    return arena_strdup(a, body);
}

#define TXID "7019876543210987654321"

/* The fields of an accepted sale, as SA posts them. */
static void result_fields(struct kv kv[16], size_t *n)
{
    static const struct kv base[] = {
        {"decision", "ACCEPT"},
        {"reason_code", "100"},
        {"message", "Request was processed successfully."},
        {"transaction_id", TXID},
        {"auth_code", "831000"},
        {"req_access_key", AKEY},
        {"req_profile_id", PROFILE},
        {"req_transaction_uuid", "cpo_auth1"},
        {"req_reference_number", "cpo_auth1"},
        {"req_transaction_type", "sale"},
        {"req_amount", "115.00"},
        {"req_currency", "ZAR"},
        {"req_locale", "fr"},
        {"req_card_number", "xxxxxxxxxxxx1111"},
        {"signed_date_time", "2026-01-01T00:00:05Z"},
    };
    *n = sizeof base / sizeof base[0];
    memcpy(kv, base, sizeof base);
}

static void set_field(struct kv *kv, size_t n, const char *name, const char *value)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i].name, name) == 0) {
            kv[i].value = value;
            return;
        }
    fail_msg("no field %s", name);
}

static enum gw_inbound_verdict t_inbound(const char *method, const char *rest_, const char *body,
                                         struct arena *a, struct gw_notice **nt, size_t *n)
{
    struct cs *c = make_default();
    struct gateway g = instance(c);
    struct provider_inbound rq = {.method = method,
                                  .url = "https://pay.example.com/hooks/prv_c/tok",
                                  .rest = rest_,
                                  .content_type = "application/x-www-form-urlencoded",
                                  .body = body,
                                  .body_len = strlen(body)};
    enum gw_inbound_verdict v = gateway_cybersource_ops.inbound(&g, &rq, a, nt, n);
    gateway_cybersource_ops.destroy(c);
    return v;
}

static void test_inbound(void **state)
{
    struct arena *a = arena_new(0);
    struct gw_notice *nt;
    size_t n, nf;
    struct kv kv[16];

    /* a correctly signed result (the merchant POST, and the browser's receipt) */
    result_fields(kv, &nf);
    const char *body = result_form(a, kv, nf, NULL, SAKEY);
    assert_int_equal(t_inbound("POST", "", body, a, &nt, &n), GW_IN_NOTICES);
    assert_int_equal(n, 1);
    assert_string_equal(nt[0].ref, "cpo_auth1");
    assert_string_equal(nt[0].gateway_ref, TXID);
    assert_string_equal(nt[0].event_id, TXID);
    assert_string_equal(nt[0].decision, "ACCEPT");
    assert_true(nt[0].has_amount);
    assert_int_equal(nt[0].amount_minor, 11500);
    assert_string_equal(nt[0].currency, "ZAR");
    assert_int_equal(t_inbound("POST", "return", body, a, &nt, &n), GW_IN_NOTICES);
    assert_int_equal(n, 1);
    assert_string_equal(nt[0].ref, "cpo_auth1");

    /* unsigned extra fields (utf8) do not matter */
    char *with_utf8 = arena_printf(a, "utf8=%%E2%%9C%%93&%s", body);
    assert_int_equal(t_inbound("POST", "", with_utf8, a, &nt, &n), GW_IN_NOTICES);
    assert_int_equal(n, 1);

    /* a decline, and a cancel without a transaction id */
    result_fields(kv, &nf);
    set_field(kv, nf, "decision", "DECLINE");
    set_field(kv, nf, "reason_code", "204");
    set_field(kv, nf, "req_amount", "1.5");
    set_field(kv, nf, "req_currency", "USD");
    assert_int_equal(t_inbound("POST", "", result_form(a, kv, nf, NULL, SAKEY), a, &nt, &n),
                     GW_IN_NOTICES);
    assert_int_equal(n, 1);
    assert_string_equal(nt[0].decision, "DECLINE");
    assert_int_equal(nt[0].amount_minor, 150);
    assert_string_equal(nt[0].currency, "USD");
    const struct kv cancel[] = {{"decision", "CANCEL"},
                                {"reason_code", "200"},
                                {"req_access_key", AKEY},
                                {"req_profile_id", PROFILE},
                                {"req_transaction_uuid", "cpo_auth1"},
                                {"req_amount", "115.00"},
                                {"req_currency", "ZAR"}};
    assert_int_equal(
        t_inbound("POST", "return", result_form(a, cancel, 7, NULL, SAKEY), a, &nt, &n),
        GW_IN_NOTICES);
    assert_int_equal(n, 1);
    assert_string_equal(nt[0].decision, "CANCEL");
    assert_string_equal(nt[0].gateway_ref, "");
    assert_string_equal(nt[0].event_id, "");

    /* a wrong signature: another key, the decoded key, none at all */
    result_fields(kv, &nf);
    assert_int_equal(
        t_inbound("POST", "", result_form(a, kv, nf, NULL, "another-secret"), a, &nt, &n),
        GW_IN_FORBIDDEN);
    assert_int_equal(n, 0);
    assert_int_equal(
        t_inbound("POST", "", result_form(a, kv, nf, NULL, "secret-key-as-it"), a, &nt, &n),
        GW_IN_FORBIDDEN);
    char *nosig = arena_strdup(a, body);
    *strstr(nosig, "&signature=") = '\0';
    assert_int_equal(t_inbound("POST", "", nosig, a, &nt, &n), GW_IN_FORBIDDEN);
    /* a signed value changed after signing */
    char *tampered = arena_strdup(a, body);
    char *amt = strstr(tampered, "req_amount=115.00");
    assert_non_null(amt);
    memcpy(amt, "req_amount=915.00", 17);
    assert_int_equal(t_inbound("POST", "", tampered, a, &nt, &n), GW_IN_FORBIDDEN);

    /* correctly signed, but not ours */
    result_fields(kv, &nf);
    set_field(kv, nf, "req_access_key", "ffffffffffffffffffffffffffffffff");
    assert_int_equal(t_inbound("POST", "", result_form(a, kv, nf, NULL, SAKEY), a, &nt, &n),
                     GW_IN_FORBIDDEN);
    result_fields(kv, &nf);
    set_field(kv, nf, "req_profile_id", "OTHER-PROFILE");
    assert_int_equal(t_inbound("POST", "", result_form(a, kv, nf, NULL, SAKEY), a, &nt, &n),
                     GW_IN_FORBIDDEN);

    /* signed, but the signature leaves out req_amount (present, unsigned) */
    result_fields(kv, &nf);
    assert_int_equal(
        t_inbound("POST", "",
                  result_form(a, kv, nf,
                              "decision,reason_code,transaction_id,req_access_key,req_profile_id,"
                              "req_transaction_uuid,req_currency,signed_field_names",
                              SAKEY),
                  a, &nt, &n),
        GW_IN_FORBIDDEN);
    /* ... or req_currency, or decision */
    assert_int_equal(t_inbound("POST", "",
                               result_form(a, kv, nf,
                                           "decision,transaction_id,req_access_key,req_profile_id,"
                                           "req_transaction_uuid,req_amount,signed_field_names",
                                           SAKEY),
                               a, &nt, &n),
                     GW_IN_FORBIDDEN);
    assert_int_equal(
        t_inbound("POST", "",
                  result_form(a, kv, nf,
                              "transaction_id,req_access_key,req_profile_id,"
                              "req_transaction_uuid,req_amount,req_currency,signed_field_names",
                              SAKEY),
                  a, &nt, &n),
        GW_IN_FORBIDDEN);
    /* a transaction_id that is sent must be signed, and the list must list itself */
    assert_int_equal(
        t_inbound("POST", "",
                  result_form(a, kv, nf,
                              "decision,req_access_key,req_profile_id,req_transaction_uuid,"
                              "req_amount,req_currency,signed_field_names",
                              SAKEY),
                  a, &nt, &n),
        GW_IN_FORBIDDEN);
    assert_int_equal(t_inbound("POST", "",
                               result_form(a, kv, nf,
                                           "decision,transaction_id,req_access_key,req_profile_id,"
                                           "req_transaction_uuid,req_amount,req_currency",
                                           SAKEY),
                               a, &nt, &n),
                     GW_IN_FORBIDDEN);
    /* the smallest list that is enough */
    assert_int_equal(
        t_inbound("POST", "",
                  result_form(a, kv, nf,
                              "decision,transaction_id,req_access_key,req_profile_id,"
                              "req_transaction_uuid,req_amount,req_currency,signed_field_names",
                              SAKEY),
                  a, &nt, &n),
        GW_IN_NOTICES);

    /* not a POST, or another path */
    assert_int_equal(t_inbound("GET", "", body, a, &nt, &n), GW_IN_MALFORMED);
    assert_int_equal(t_inbound("POST", "status", body, a, &nt, &n), GW_IN_MALFORMED);
    /* signed, but the amount is not one */
    result_fields(kv, &nf);
    set_field(kv, nf, "req_amount", "abc");
    assert_int_equal(t_inbound("POST", "", result_form(a, kv, nf, NULL, SAKEY), a, &nt, &n),
                     GW_IN_MALFORMED);
    result_fields(kv, &nf);
    set_field(kv, nf, "req_currency", "XXQ");
    assert_int_equal(t_inbound("POST", "", result_form(a, kv, nf, NULL, SAKEY), a, &nt, &n),
                     GW_IN_MALFORMED);
    /* nothing at all */
    assert_int_equal(t_inbound("POST", "", "", a, &nt, &n), GW_IN_FORBIDDEN);

    arena_free(a);
}

/* ---- REST: the HTTP Signature ------------------------------------------------------------ */

/* Date: RFC 1123 in GMT, now within a few seconds. */
static void check_date(const char *date)
{
    assert_non_null(date);
    assert_int_equal(strlen(date), 29);
    struct tm tm = {0};
    const char *end = strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    assert_non_null(end);
    assert_int_equal(*end, '\0');
    long long diff = (long long)timegm(&tm) - (long long)time(NULL);
    assert_true(diff >= -5 && diff <= 5);
    /* the day's name is the date's */
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    time_t t = timegm(&tm);
    struct tm back;
    gmtime_r(&t, &back);
    assert_memory_equal(date, days[back.tm_wday], 3);
}

/* The Signature header expected for a request seen, recomputed from what was
 * sent (its Date) and what it should be. */
static void check_signature(const struct seen *s, const char *host, const char *target, bool post)
{
    const char *date = sent_header(s, "Date");
    check_date(date);
    assert_string_equal(sent_header(s, "v-c-merchant-id"), MID);
    assert_string_equal(sent_header(s, "Accept"), "application/hal+json;charset=utf-8");
    char data[1024], digest[64] = "";
    if (post) {
        t_digest(s->body, digest);
        assert_string_equal(sent_header(s, "Digest"), digest);
        assert_string_equal(sent_header(s, "Content-Type"), "application/json;charset=utf-8");
        snprintf(data, sizeof data,
                 "host: %s\ndate: %s\n(request-target): %s\ndigest: %s\nv-c-merchant-id: " MID,
                 host, date, target, digest);
    } else {
        assert_null(sent_header(s, "Digest"));
        assert_false(s->has_body);
        snprintf(data, sizeof data,
                 "host: %s\ndate: %s\n(request-target): %s\nv-c-merchant-id: " MID, host, date,
                 target);
    }
    unsigned char key[64];
    size_t keylen = t_unb64(SHARED, key, sizeof key);
    char sig[45];
    t_hmac_b64(key, keylen, data, sig);
    char expected[512];
    snprintf(expected, sizeof expected,
             "keyid=\"" KEYID "\", algorithm=\"HmacSHA256\", headers=\"%s\", signature=\"%s\"",
             post ? "host date (request-target) digest v-c-merchant-id"
                  : "host date (request-target) v-c-merchant-id",
             sig);
    assert_string_equal(sent_header(s, "Signature"), expected);
    /* net sets Host from the URL: never given here */
    assert_null(sent_header(s, "Host"));
}

#define AUTH_ID "7012345678901234567890"

static struct gw_target capture_target(void)
{
    return (struct gw_target){.merchant_id = "m_1",
                              .ref = "cpo_cap1",
                              .gateway_ref = "",
                              .op = GW_OP_CAPTURE,
                              .amount_minor = 10000,
                              .currency = "ZAR",
                              .parent_ref = "cpo_auth1",
                              .parent_gateway_ref = AUTH_ID,
                              .parent_op = GW_OP_AUTHORIZE};
}

static const char *const CAPTURE_PENDING =
    "{\"_links\":{\"self\":{\"href\":\"/pts/v2/captures/7020000000000000000001\"}},"
    "\"clientReferenceInformation\":{\"code\":\"cpo_cap1\",\"transactionId\":\"cpo_cap1\"},"
    "\"id\":\"7020000000000000000001\",\"orderInformation\":{\"amountDetails\":{"
    "\"totalAmount\":\"100.00\",\"currency\":\"ZAR\"}},\"reconciliationId\":\"R123\","
    "\"status\":\"PENDING\",\"submitTimeUtc\":\"2026-01-01T00:00:09Z\"}";

static void check_client_ref(json_object *body, const char *ref)
{
    json_object *cri = json_member(body, "clientReferenceInformation", json_type_object);
    assert_non_null(cri);
    assert_string_equal(json_member_string(cri, "transactionId"), ref);
    assert_string_equal(json_member_string(cri, "code"), ref);
}

static void check_amount(json_object *parent, const char *total, const char *currency)
{
    json_object *ad = json_member(parent, "amountDetails", json_type_object);
    assert_non_null(ad);
    assert_string_equal(json_member_string(ad, "totalAmount"), total);
    if (currency)
        assert_string_equal(json_member_string(ad, "currency"), currency);
}

static void test_rest_signature(void **state)
{
    struct cs *c = make_default();
    struct gateway g = instance(c);
    struct gw_result r;
    struct gw_target t = capture_target();

    fake_use();
    fake_add(201, CAPTURE_PENDING);
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    const struct seen *s = &fake.seen[0];
    assert_string_equal(s->method, "POST");
    assert_string_equal(s->url, REST "/pts/v2/payments/" AUTH_ID "/captures");
    check_signature(s, "apitest.cybersource.com", "post /pts/v2/payments/" AUTH_ID "/captures",
                    true);
    assert_false(s->allow_private);
    assert_true(s->has_cancel);
    json_object *body = json_tokener_parse(s->body);
    assert_non_null(body);
    check_client_ref(body, "cpo_cap1");
    check_amount(json_member(body, "orderInformation", json_type_object), "100.00", "ZAR");
    json_object_put(body);
    assert_int_equal(r.decision, GW_ACCEPT);
    assert_int_equal(r.response_code, 100);
    assert_string_equal(r.gateway_ref, "7020000000000000000001");
    assert_string_equal(r.request_ref, "7020000000000000000001");
    assert_string_equal(r.auth_ref, "R123");
    assert_false(r.unreachable);
    gateway_cybersource_ops.destroy(c);

    /* a GET (the result of a payment), on a fake with a port: the signed host
     * carries it; no Digest */
    char err[256];
    c = make_extra("\"sa_base_url\":\"https://sa.fake.example\","
                   "\"rest_base_url\":\"https://cs.fake.example:8443/\"",
                   true, err, sizeof err);
    assert_non_null(c);
    g = instance(c);
    struct gw_target pay = {.merchant_id = "m_1",
                            .ref = "cpo_auth1",
                            .gateway_ref = TXID,
                            .op = GW_OP_AUTHORIZE,
                            .amount_minor = 11500,
                            .currency = "ZAR",
                            .parent_ref = "",
                            .parent_gateway_ref = ""};
    fake_use();
    fake_add(200, "{\"id\":\"" TXID "\",\"clientReferenceInformation\":{\"code\":\"cpo_auth1\"},"
                  "\"applicationInformation\":{\"status\":\"AUTHORIZED\",\"reasonCode\":\"100\"},"
                  "\"processorInformation\":{\"approvalCode\":\"831000\"},"
                  "\"paymentInformation\":{\"card\":{\"suffix\":\"1111\",\"type\":\"001\"}}}");
    gateway_result(&g, &pay, &r);
    assert_int_equal(fake.nseen, 1);
    s = &fake.seen[0];
    assert_string_equal(s->method, "GET");
    assert_string_equal(s->url, "https://cs.fake.example:8443/tss/v2/transactions/" TXID);
    check_signature(s, "cs.fake.example:8443", "get /tss/v2/transactions/" TXID, false);
    assert_true(s->allow_private);
    assert_int_equal(r.decision, GW_ACCEPT);
    assert_int_equal(r.response_code, 100);
    assert_string_equal(r.card_type, "VISA");
    assert_string_equal(r.masked_pan, "************1111");
    assert_string_equal(r.auth_ref, "831000");
    assert_string_equal(r.gateway_ref, TXID);
    assert_false(r.partial);

    /* a partial approval: accepted, marked partial, with what was held */
    fake_use();
    fake_add(200,
             "{\"id\":\"" TXID "\",\"clientReferenceInformation\":{\"code\":\"cpo_auth1\"},"
             "\"applicationInformation\":{\"status\":\"PARTIAL_AUTHORIZED\","
             "\"reasonCode\":\"110\"},\"orderInformation\":{\"amountDetails\":{"
             "\"totalAmount\":\"115.00\",\"authorizedAmount\":\"57.50\",\"currency\":\"ZAR\"}}}");
    gateway_result(&g, &pay, &r);
    assert_int_equal(r.decision, GW_ACCEPT);
    assert_int_equal(r.response_code, 110);
    assert_true(r.partial);
    assert_int_equal(r.held_minor, 5750);
    /* without the amount held: still partial, the amount not said */
    fake_use();
    fake_add(200, "{\"id\":\"" TXID "\",\"clientReferenceInformation\":{\"code\":\"cpo_auth1\"},"
                  "\"applicationInformation\":{\"status\":\"PARTIAL_AUTHORIZED\"}}");
    gateway_result(&g, &pay, &r);
    assert_int_equal(r.decision, GW_ACCEPT);
    assert_true(r.partial);
    assert_int_equal(r.held_minor, 0);

    gateway_cybersource_ops.destroy(c);
    perform = net_perform;
}

/* ---- REST: operations and their answers ------------------------------------------------ */

static void test_operate_paths(void **state)
{
    struct cs *c = make_default();
    struct gateway g = instance(c);
    struct gw_result r;
    struct gw_target t;
    json_object *body;

    /* reversal of an authorization */
    t = capture_target();
    t.ref = "cpo_rev1";
    t.op = GW_OP_REVERSE;
    fake_use();
    fake_add(201, "{\"id\":\"703\",\"status\":\"REVERSED\"}");
    gateway_operate(&g, &t, &r);
    assert_string_equal(fake.seen[0].url, REST "/pts/v2/payments/" AUTH_ID "/reversals");
    check_signature(&fake.seen[0], "apitest.cybersource.com",
                    "post /pts/v2/payments/" AUTH_ID "/reversals", true);
    body = json_tokener_parse(fake.seen[0].body);
    check_client_ref(body, "cpo_rev1");
    check_amount(json_member(body, "reversalInformation", json_type_object), "100.00", NULL);
    json_object_put(body);
    assert_int_equal(r.decision, GW_ACCEPT);

    /* void of a sale, and of a capture */
    t = capture_target();
    t.ref = "cpo_void1";
    t.op = GW_OP_VOID;
    t.parent_op = GW_OP_SALE;
    fake_use();
    fake_add(201, "{\"id\":\"704\",\"status\":\"VOIDED\"}");
    gateway_operate(&g, &t, &r);
    assert_string_equal(fake.seen[0].url, REST "/pts/v2/payments/" AUTH_ID "/voids");
    body = json_tokener_parse(fake.seen[0].body);
    check_client_ref(body, "cpo_void1");
    assert_null(json_member(body, "orderInformation", json_type_object));
    json_object_put(body);
    assert_int_equal(r.decision, GW_ACCEPT);
    t.parent_op = GW_OP_CAPTURE;
    t.parent_gateway_ref = "7020000000000000000001";
    fake_use();
    fake_add(201, "{\"id\":\"705\",\"status\":\"VOIDED\"}");
    gateway_operate(&g, &t, &r);
    assert_string_equal(fake.seen[0].url, REST "/pts/v2/captures/7020000000000000000001/voids");
    assert_int_equal(r.decision, GW_ACCEPT);
    /* a void answered with another status is not done */
    fake_use();
    fake_add(201, "{\"id\":\"705\",\"status\":\"PENDING\"}");
    gateway_operate(&g, &t, &r);
    assert_int_equal(r.decision, GW_ERROR);

    /* refund of a capture, and of a sale */
    t = capture_target();
    t.ref = "cpo_rf1";
    t.op = GW_OP_REFUND;
    t.amount_minor = 2550;
    t.parent_op = GW_OP_CAPTURE;
    t.parent_gateway_ref = "7020000000000000000001";
    fake_use();
    fake_add(201, "{\"id\":\"706\",\"status\":\"PENDING\"}");
    gateway_operate(&g, &t, &r);
    assert_string_equal(fake.seen[0].url, REST "/pts/v2/captures/7020000000000000000001/refunds");
    body = json_tokener_parse(fake.seen[0].body);
    check_client_ref(body, "cpo_rf1");
    check_amount(json_member(body, "orderInformation", json_type_object), "25.50", "ZAR");
    json_object_put(body);
    assert_int_equal(r.decision, GW_ACCEPT);
    t.parent_op = GW_OP_SALE;
    t.parent_gateway_ref = AUTH_ID;
    fake_use();
    fake_add(201, "{\"id\":\"707\",\"status\":\"PENDING\"}");
    gateway_operate(&g, &t, &r);
    assert_string_equal(fake.seen[0].url, REST "/pts/v2/payments/" AUTH_ID "/refunds");

    /* no parent transaction: nothing sent */
    t = capture_target();
    t.parent_gateway_ref = "";
    fake_use();
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 0);
    assert_int_equal(r.decision, GW_ERROR);

    gateway_cybersource_ops.destroy(c);
    perform = net_perform;
}

static void test_operate_mapping(void **state)
{
    struct cs *c = make_default();
    struct gateway g = instance(c);
    struct gw_result r;
    struct gw_target t = capture_target();

    /* 201 PENDING → ACCEPT */
    fake_use();
    fake_add(201, CAPTURE_PENDING);
    gateway_operate(&g, &t, &r);
    assert_int_equal(r.decision, GW_ACCEPT);

    /* 201 DECLINED with errorInformation → DECLINE */
    fake_use();
    fake_add(201, "{\"id\":\"7020000000000000000002\",\"status\":\"DECLINED\","
                  "\"errorInformation\":{\"reason\":\"PROCESSOR_DECLINED\","
                  "\"message\":\"Decline - General decline of the card.\"}}");
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    assert_int_equal(r.decision, GW_DECLINE);
    assert_int_equal(r.response_code, 203);
    assert_non_null(strstr(r.error_text, "PROCESSOR_DECLINED"));
    assert_false(r.unreachable);

    /* 502: an unknown outcome, never repeated */
    fake_use();
    fake_add(502, "{\"submitTimeUtc\":\"2026-01-01T00:00:09Z\",\"status\":\"SERVER_ERROR\","
                  "\"reason\":\"SERVER_TIMEOUT\",\"message\":\"Error - General system failure.\"}");
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    assert_int_equal(r.decision, GW_NO_ANSWER);
    assert_true(r.unreachable);
    /* an HTML 502 from a proxy */
    fake_use();
    fake_add(502, "<html>Bad Gateway</html>");
    gateway_operate(&g, &t, &r);
    assert_int_equal(r.decision, GW_NO_ANSWER);
    assert_true(r.unreachable);
    /* a timeout after sending */
    fake_use();
    fake_fail(NET_TIMEOUT, true);
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    assert_int_equal(r.decision, GW_NO_ANSWER);
    assert_true(r.unreachable);
    /* a refused connection */
    fake_use();
    fake_fail(NET_CONNECT, false);
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    assert_int_equal(r.decision, GW_NO_ANSWER);
    assert_true(r.unreachable);

    /* 400: refused, final */
    fake_use();
    fake_add(400, "{\"submitTimeUtc\":\"2026-01-01T00:00:09Z\",\"status\":\"INVALID_REQUEST\","
                  "\"reason\":\"INVALID_DATA\",\"message\":\"Declined - One or more fields in the "
                  "request contains invalid data\"}");
    gateway_operate(&g, &t, &r);
    assert_int_equal(r.decision, GW_ERROR);
    assert_int_equal(r.response_code, 102);
    assert_non_null(strstr(r.error_text, "INVALID_DATA"));
    assert_false(r.unreachable);
    /* 401: the credentials, not the operation */
    fake_use();
    fake_add(401, "{\"response\":{\"rmsg\":\"Authentication Failed\"}}");
    gateway_operate(&g, &t, &r);
    assert_int_equal(r.decision, GW_NO_ANSWER);
    assert_true(r.unreachable);

    gateway_cybersource_ops.destroy(c);
    perform = net_perform;
}

static const char *const SEARCH_EMPTY = "{\"searchId\":\"s1\",\"count\":0,\"totalCount\":0,\"_"
                                        "embedded\":{\"transactionSummaries\":[]}}";
static const char *const SEARCH_FOUND =
    "{\"searchId\":\"s2\",\"count\":1,\"totalCount\":1,\"_embedded\":{\"transactionSummaries\":[{"
    "\"id\":\"7020000000000000000009\",\"submitTimeUtc\":\"2026-01-01T00:00:09Z\","
    "\"applicationInformation\":{\"status\":\"PENDING\",\"reasonCode\":\"100\",\"rCode\":\"1\","
    "\"rFlag\":\"SOK\",\"applications\":[{\"name\":\"ics_bill\",\"reasonCode\":\"100\"}]},"
    "\"clientReferenceInformation\":{\"code\":\"cpo_cap1\",\"transactionId\":\"cpo_cap1\","
    "\"applicationName\":\"REST API\"}}]}}";

static void check_search(const struct seen *s, const char *ref)
{
    assert_string_equal(s->method, "POST");
    assert_string_equal(s->url, REST "/tss/v2/searches");
    check_signature(s, "apitest.cybersource.com", "post /tss/v2/searches", true);
    json_object *q = json_tokener_parse(s->body);
    assert_non_null(q);
    char want[128];
    snprintf(want, sizeof want, "clientReferenceInformation.transactionId:%s", ref);
    assert_string_equal(json_member_string(q, "query"), want);
    assert_string_equal(json_member_string(q, "sort"), "submitTimeUtc:desc");
    json_object_put(q);
}

static void test_operate_again(void **state)
{
    struct cs *c = make_default();
    struct gateway g = instance(c);
    struct gw_result r;
    struct gw_target t = capture_target();
    t.again = true;

    /* the search finds it: its status is the answer, nothing is sent again */
    fake_use();
    fake_add(201, SEARCH_FOUND);
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    check_search(&fake.seen[0], "cpo_cap1");
    assert_int_equal(r.decision, GW_ACCEPT);
    assert_int_equal(r.response_code, 100);
    assert_string_equal(r.gateway_ref, "7020000000000000000009");

    /* not found; the timeout void undoes it (201 VOIDED) → ERROR, no capture */
    fake_use();
    fake_add(201, SEARCH_EMPTY);
    fake_add(201, "{\"id\":\"7020000000000000000010\",\"status\":\"VOIDED\","
                  "\"clientReferenceInformation\":{\"code\":\"cpo_cap1\"}}");
    fake_add(201, CAPTURE_PENDING); /* must not be used */
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 2);
    check_search(&fake.seen[0], "cpo_cap1");
    assert_string_equal(fake.seen[1].method, "POST");
    assert_string_equal(fake.seen[1].url, REST "/pts/v2/voids");
    check_signature(&fake.seen[1], "apitest.cybersource.com", "post /pts/v2/voids", true);
    json_object *body = json_tokener_parse(fake.seen[1].body);
    assert_non_null(body);
    check_client_ref(body, "cpo_cap1");
    json_object_put(body);
    assert_int_equal(r.decision, GW_ERROR);
    assert_false(r.unreachable);

    /* not found, and the timeout void declined (201 DECLINED: it may have
     * settled): not undone, so neither done again nor failed: asked later */
    fake_use();
    fake_add(201, SEARCH_EMPTY);
    fake_add(201, "{\"id\":\"7020000000000000000011\",\"status\":\"DECLINED\","
                  "\"errorInformation\":{\"reason\":\"PROCESSOR_DECLINED\"}}");
    fake_add(201, CAPTURE_PENDING); /* must not be used */
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 2);
    assert_string_equal(fake.seen[1].url, REST "/pts/v2/voids");
    assert_int_equal(r.decision, GW_NO_ANSWER);
    assert_true(r.unreachable);
    assert_non_null(strstr(r.error_text, "DECLINED"));

    /* not found; nothing to void (400) → the capture is sent */
    fake_use();
    fake_add(201, SEARCH_EMPTY);
    fake_add(400, "{\"status\":\"INVALID_REQUEST\",\"reason\":\"INVALID_DATA\","
                  "\"message\":\"no transaction to void\"}");
    fake_add(201, CAPTURE_PENDING);
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 3);
    assert_string_equal(fake.seen[1].url, REST "/pts/v2/voids");
    assert_string_equal(fake.seen[2].url, REST "/pts/v2/payments/" AUTH_ID "/captures");
    body = json_tokener_parse(fake.seen[2].body);
    check_client_ref(body, "cpo_cap1");
    json_object_put(body);
    assert_int_equal(r.decision, GW_ACCEPT);

    /* the search does not answer: nothing else is done */
    fake_use();
    fake_add(502, "<html>Bad Gateway</html>");
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    assert_int_equal(r.decision, GW_NO_ANSWER);
    assert_true(r.unreachable);
    /* nor the timeout void */
    fake_use();
    fake_add(201, SEARCH_EMPTY);
    fake_fail(NET_TIMEOUT, true);
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 2);
    assert_int_equal(r.decision, GW_NO_ANSWER);
    assert_true(r.unreachable);

    /* query of a follow-up is the same: search first */
    t.again = false;
    fake_use();
    fake_add(201, SEARCH_FOUND);
    gateway_query(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    check_search(&fake.seen[0], "cpo_cap1");
    assert_int_equal(r.decision, GW_ACCEPT);

    gateway_cybersource_ops.destroy(c);
    perform = net_perform;
}

/* The answer to a capture was lost, and the search made to find out what
 * happened is refused (4xx): what happened to the capture is still unknown,
 * so the answer must not be final (GW_ERROR would record a capture that may
 * have been made as failed). */
/* One operation has one deadline (the instance's timeout): a later call
 * gets only what the earlier ones left, and none is sent when too little
 * is left, so a run ends within its job's lease. */
static void test_operation_deadline(void **state)
{
    (void)state;
    struct cs *c = make_default();
    struct gateway g = instance(c);
    g.timeout = 1000000;
    struct gw_result r;
    struct gw_target t = capture_target();
    t.again = true;

    /* the search takes 0.4 s: the timeout void is given the 0.6 s left */
    fake_use();
    fake_add(201, SEARCH_EMPTY);
    fake_delay_last(400);
    fake_add(201, "{\"id\":\"7020000000000000000010\",\"status\":\"VOIDED\","
                  "\"clientReferenceInformation\":{\"code\":\"cpo_cap1\"}}");
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 2);
    assert_true(fake.seen[0].timeout_ms <= 1000 && fake.seen[0].timeout_ms > 900);
    assert_true(fake.seen[1].timeout_ms <= 600);
    assert_true(fake.seen[1].timeout_ms > 400);
    assert_int_equal(r.decision, GW_ERROR);

    /* the search takes (almost) all of it: nothing more is sent, and the
     * operation is not final (asked again later) */
    fake_use();
    fake_add(201, SEARCH_EMPTY);
    fake_delay_last(950);
    fake_add(201, CAPTURE_PENDING); /* must not be used */
    gateway_operate(&g, &t, &r);
    assert_int_equal(fake.nseen, 1);
    assert_int_equal(r.decision, GW_NO_ANSWER);
    assert_true(r.unreachable);

    /* a payment's result: the search after a transaction not found gets
     * what the GET left */
    struct gw_target p = {.merchant_id = "m_1",
                          .ref = "cpo_pay1",
                          .gateway_ref = "7020000000000000000001",
                          .op = GW_OP_SALE,
                          .amount_minor = 1000,
                          .currency = "USD"};
    fake_use();
    fake_add(404, "{}");
    fake_delay_last(300);
    fake_add(201, SEARCH_EMPTY);
    gateway_result(&g, &p, &r);
    assert_int_equal(fake.nseen, 2);
    assert_true(fake.seen[1].timeout_ms <= 700);
    assert_int_equal(r.decision, GW_NO_ANSWER);
    gateway_cybersource_ops.destroy(c);
}

static void test_operate_again_search_refused(void **state)
{
    struct cs *c = make_default();
    struct gateway g = instance(c);
    struct gw_result r;
    struct gw_target t = capture_target();
    t.again = true;

    fake_use();
    fake_add(400, "{\"status\":\"INVALID_REQUEST\",\"reason\":\"INVALID_DATA\","
                  "\"message\":\"Declined - Unsupported query term\"}");
    gateway_operate(&g, &t, &r);
    gateway_cybersource_ops.destroy(c);
    perform = net_perform;
    assert_int_equal(fake.nseen, 1); /* no void, no capture */
    /* a refused search says nothing of the operation: not final */
    assert_int_equal(r.decision, GW_NO_ANSWER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crypto_helpers),
        cmocka_unit_test(test_create_and_live),
        cmocka_unit_test(test_ops_table),
        cmocka_unit_test(test_begin),
        cmocka_unit_test(test_inbound),
        cmocka_unit_test(test_rest_signature),
        cmocka_unit_test(test_operate_paths),
        cmocka_unit_test(test_operate_mapping),
        cmocka_unit_test(test_operate_again),
        cmocka_unit_test(test_operate_again_search_refused),
        cmocka_unit_test(test_operation_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
