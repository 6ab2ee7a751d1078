/*
 * cybersource.c — the CyberSource gateway: Secure Acceptance Hosted Checkout
 * for the payment, the REST API for everything after it (spec/providers.md
 * section 5).
 *
 * Pay: the browser posts the signed request fields to Secure Acceptance
 * (SA) /pay: access_key, profile_id, transaction_uuid = our operation
 * reference (SA refuses the same uuid again within 15 minutes: reason 104,
 * so one operation is paid once), reference_number = our reference too (it
 * becomes the transaction's clientReferenceInformation.code, which the REST
 * search finds), signed_date_time, locale, transaction_type sale or
 * authorization, amount, currency and the receipt and cancel pages (chatpay's
 * POST /p/{token}/return?ref=…). signature = base64 HMAC-SHA256 of
 * "name=value,…" in signed_field_names order, keyed with the profile's
 * secret key as it is (not base64-decoded).
 *
 * Result: the receipt POST (browser) and the merchant POST (server) carry the
 * same signed fields. They are checked (the signature over the response's own
 * signed_field_names, in constant time; req_access_key and req_profile_id
 * ours; the amount and currency, by the caller, the stored attempt's) and
 * then only name what to ask: chatpay retrieves the transaction
 * (GET /tss/v2/transactions/{transaction_id}) or, when the posted id names
 * none (errors 101, 102, 104, a cancel), searches by our reference, and
 * records what the REST API says. Decisions are keyed on the transaction's
 * status, with its reason code kept: REVIEW may come as 480 or 520.
 *
 * Capture, reversal, void (of a sale or a capture) and refund (of a sale or
 * a capture) go through the REST API with HTTP Signature authentication as
 * the SDKs build it: headers host, date, (request-target), digest (POST),
 * v-c-merchant-id, signed with HMAC-SHA256 under the base64-DECODED shared
 * secret. Every one carries clientReferenceInformation.transactionId = our
 * operation reference. A 502, a 5xx or a timeout after sending is an unknown
 * outcome: asked again (t->again), chatpay first searches by that
 * transactionId; found, its status is the answer; not found, a timeout void
 * (POST /pts/v2/voids) undoes whatever may have happened, and only when
 * CyberSource says there is nothing to void is the operation done anew.
 * Nothing is ever repeated blindly.
 */
#include "gateway/gateway.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/currency.h"
#include "core/money.h"
#include "net/net.h"
#include "util/crypto.h"
#include "util/form.h"
#include "util/json.h"

#define CS_SA_TEST        "https://testsecureacceptance.cybersource.com"
#define CS_REST_TEST      "https://apitest.cybersource.com"
#define CS_MAX_BODY       (256 * 1024)
#define CS_REQUEST_FIELDS 16 /* the request form: 13 signed, unsigned_field_names, signature */
#define CS_SECRET_MAX     1024
#define CS_SIGNED_NAMES                                                                            \
    "access_key,profile_id,transaction_uuid,signed_field_names,unsigned_field_names,"              \
    "signed_date_time,locale,transaction_type,reference_number,amount,currency,"                   \
    "override_custom_receipt_page,override_custom_cancel_page"

struct cs {
    char merchant_id[64];
    char profile_id[64];
    char access_key[64];
    char key_id[64];
    char secret_key[CS_SECRET_MAX + 1];
    uint8_t shared[256]; /* the REST shared secret, base64-decoded */
    size_t shared_len;
    char sa_base[256];
    char rest_base[256];
    char rest_host[256]; /* host[:port] of rest_base: the signed Host */
    bool allow_private;
    struct net *net;
};

/* The transfer function: net_perform, replaced by the unit tests. */
static void (*perform)(struct net *n, const struct net_request *rq,
                       struct net_response *out) = net_perform;

static const struct provider_setting cs_settings[] = {
    {"merchant_id", true, false, "the CyberSource merchant id (v-c-merchant-id)"},
    {"profile_id", true, false, "the Secure Acceptance profile id"},
    {"access_key", true, false, "the Secure Acceptance profile's access key"},
    {"secret_key", true, true, "the Secure Acceptance profile's secret key (signs the forms)"},
    {"key_id", true, false, "the REST API key id (HTTP Signature keyid)"},
    {"shared_secret", true, true, "the REST API shared secret key, base64 as CyberSource shows it"},
    {"sa_base_url", false, false,
     "Secure Acceptance's address (default " CS_SA_TEST "; live: "
     "https://secureacceptance.cybersource.com)"},
    {"rest_base_url", false, false,
     "the REST API's address (default " CS_REST_TEST "; live: https://api.cybersource.com)"},
    {NULL, false, false, NULL},
};

/* ---- the instance ---------------------------------------------------------------------- */

/* The host[:port] of a base URL "http(s)://host[:port][/]" into out, lower
 * case and without the scheme's own port (as libcurl sends Host, and so as
 * the HTTP Signature must sign it); false for anything else: user info, a
 * path, a query, characters a host or port does not have (the origin also
 * goes into the form page's Content-Security-Policy). */
static bool url_host(const char *url, char *out, size_t cap)
{
    bool https = strncmp(url, "https://", 8) == 0;
    const char *p = https ? url + 8 : strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
    if (!p)
        return false;
    size_t n = strcspn(p, "/");
    for (size_t i = n; p[i]; i++)
        if (p[i] != '/')
            return false; /* a path: the requests' targets are signed from the root */
    if (n == 0 || n >= cap)
        return false;
    size_t colon = n;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == ':' && colon == n)
            colon = i;
        else if (!(isalnum((unsigned char)ch) || ch == '.' || ch == '-' ||
                   (colon < n && i > colon && isdigit((unsigned char)ch))))
            return false;
    }
    if (colon == 0 || colon + 1 == n)
        return false;
    for (size_t i = colon + 1; i < n; i++)
        if (!isdigit((unsigned char)p[i]))
            return false;
    size_t keep = n;
    if ((https && n - colon == 4 && strncmp(p + colon, ":443", 4) == 0) ||
        (!https && n - colon == 3 && strncmp(p + colon, ":80", 3) == 0))
        keep = colon;
    for (size_t i = 0; i < keep; i++)
        out[i] = (char)tolower((unsigned char)p[i]);
    out[keep] = '\0';
    return true;
}

/* Are these CyberSource's production hosts? (normalized by url_host) */
static bool live_host(const char *host)
{
    static const char *const live[] = {"api.cybersource.com", "api.in.cybersource.com",
                                       "secureacceptance.cybersource.com",
                                       "secureacceptance.in.cybersource.com"};
    for (size_t i = 0; i < sizeof live / sizeof live[0]; i++)
        if (strcmp(host, live[i]) == 0)
            return true;
    return false;
}

static bool cs_live(const struct provider_config *cfg)
{
    const char *sa = provider_setting(cfg, "sa_base_url");
    const char *rest = provider_setting(cfg, "rest_base_url");
    char h1[256] = "", h2[256] = "";
    return url_host(sa ? sa : CS_SA_TEST, h1, sizeof h1) &&
           url_host(rest ? rest : CS_REST_TEST, h2, sizeof h2) && live_host(h1) && live_host(h2);
}

static void cs_destroy(void *state)
{
    struct cs *c = state;
    if (!c)
        return;
    memset(c, 0, sizeof *c);
    free(c);
}

static bool copy_base(const char *url, char *out, size_t cap)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    if (n >= cap)
        return false;
    memcpy(out, url, n);
    out[n] = '\0';
    return true;
}

static void *cs_create(const struct provider_config *cfg, char *err, size_t errlen)
{
    const char *names[] = {"merchant_id", "profile_id", "access_key", "key_id"};
    for (size_t i = 0; i < 4; i++) {
        const char *v = provider_setting(cfg, names[i]);
        if (!v || strlen(v) >= 64) {
            snprintf(err, errlen, "%s is required (at most 63 characters)", names[i]);
            return NULL;
        }
    }
    const char *secret = provider_setting(cfg, "secret_key");
    const char *shared = provider_setting(cfg, "shared_secret");
    const char *sa = provider_setting(cfg, "sa_base_url");
    const char *rest = provider_setting(cfg, "rest_base_url");
    sa = sa ? sa : CS_SA_TEST;
    rest = rest ? rest : CS_REST_TEST;
    if (!secret || strlen(secret) > CS_SECRET_MAX) {
        snprintf(err, errlen, "secret_key is required (at most %d characters)", CS_SECRET_MAX);
        return NULL;
    }
    struct cs *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char h1[256];
    if (!shared || !crypto_base64_decode(shared, c->shared, sizeof c->shared, &c->shared_len) ||
        c->shared_len == 0) {
        snprintf(err, errlen, "shared_secret must be the base64 key CyberSource gave");
    } else if (!url_host(sa, h1, sizeof h1) || !copy_base(sa, c->sa_base, sizeof c->sa_base)) {
        snprintf(err, errlen, "sa_base_url must be an http:// or https:// URL");
    } else if (!url_host(rest, c->rest_host, sizeof c->rest_host) ||
               !copy_base(rest, c->rest_base, sizeof c->rest_base)) {
        snprintf(err, errlen, "rest_base_url must be an http:// or https:// URL");
    } else if (live_host(h1) != live_host(c->rest_host)) {
        snprintf(err, errlen, "sa_base_url and rest_base_url must both be test or both live hosts");
    } else {
        snprintf(c->merchant_id, sizeof c->merchant_id, "%s", provider_setting(cfg, "merchant_id"));
        snprintf(c->profile_id, sizeof c->profile_id, "%s", provider_setting(cfg, "profile_id"));
        snprintf(c->access_key, sizeof c->access_key, "%s", provider_setting(cfg, "access_key"));
        snprintf(c->key_id, sizeof c->key_id, "%s", provider_setting(cfg, "key_id"));
        snprintf(c->secret_key, sizeof c->secret_key, "%s", secret);
        /* a test fake on loopback only for a sandbox merchant's gateway */
        c->allow_private =
            cfg->test_mode && !live_host(c->rest_host) && strcmp(c->rest_base, CS_REST_TEST) != 0;
        c->net = cfg->net;
        return c;
    }
    cs_destroy(c);
    return NULL;
}

/* ---- Secure Acceptance signatures ------------------------------------------------------- */

/* base64 HMAC-SHA256 of "name=value,..." over `names` (comma separated) with
 * values from get(cls, name) (NULL: the field is missing → false). */
static bool sa_sign(const char *secret, const char *names,
                    const char *(*get)(const void *cls, const char *name), const void *cls,
                    struct arena *a, char out[64])
{
    size_t cap = 256, len = 0;
    char *buf = arena_alloc(a, cap);
    buf[0] = '\0';
    for (const char *p = names; *p;) {
        size_t n = strcspn(p, ",");
        char *name = arena_printf(a, "%.*s", (int)n, p);
        const char *v = get(cls, name);
        if (!v)
            return false;
        const char *item = arena_printf(a, "%s%s=%s", len ? "," : "", name, v);
        size_t il = strlen(item);
        if (len + il + 1 > cap) {
            size_t ncap = (len + il + 1) * 2;
            char *nb = arena_alloc(a, ncap);
            memcpy(nb, buf, len + 1);
            buf = nb;
            cap = ncap;
        }
        memcpy(buf + len, item, il + 1);
        len += il;
        p += n;
        if (*p == ',')
            p++;
    }
    uint8_t mac[32];
    crypto_hmac_sha256(secret, strlen(secret), buf, len, mac);
    crypto_base64(mac, 32, out, 64);
    return true;
}

struct fields {
    const char **names, **values;
    size_t n, cap;
};

static const char *field_get(const void *cls, const char *name)
{
    const struct fields *f = cls;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->names[i], name) == 0)
            return f->values[i];
    return NULL;
}

/* Room for n fields, in the arena. */
static struct fields *fields_new(struct arena *a, size_t n)
{
    struct fields *f = arena_calloc(a, 1, sizeof *f);
    f->cap = n;
    f->names = arena_calloc(a, n, sizeof *f->names);
    f->values = arena_calloc(a, n, sizeof *f->values);
    return f;
}

static void field_add(struct fields *f, const char *name, const char *value)
{
    if (f->n < f->cap) {
        f->names[f->n] = name;
        f->values[f->n++] = value;
    }
}

/* "12.50" for 1250 minor units of `currency`. */
static const char *decimal(struct arena *a, int64_t minor, const char *currency)
{
    const struct currency *c = currency_find(currency);
    char text[32];
    money_format(minor, c ? c->exponent : 2, text, sizeof text);
    return arena_strdup(a, text);
}

static bool cs_begin(const struct gateway *g, const struct gw_payment *p, struct arena *a,
                     struct gw_checkout *out)
{
    struct cs *c = g->state;
    memset(out, 0, sizeof *out);
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    struct fields *f = fields_new(a, CS_REQUEST_FIELDS);
    /* in the arena: the instance may be gone when the page is written */
    field_add(f, "access_key", arena_strdup(a, c->access_key));
    field_add(f, "profile_id", arena_strdup(a, c->profile_id));
    field_add(f, "transaction_uuid", p->ref);
    field_add(f, "signed_field_names", CS_SIGNED_NAMES);
    field_add(f, "unsigned_field_names", "");
    field_add(f, "signed_date_time", arena_strdup(a, when));
    field_add(f, "locale", p->locale && *p->locale ? p->locale : "en");
    field_add(f, "transaction_type", p->op == GW_OP_AUTHORIZE ? "authorization" : "sale");
    field_add(f, "reference_number", p->ref);
    field_add(f, "amount", decimal(a, p->amount_minor, p->currency));
    field_add(f, "currency", p->currency);
    field_add(f, "override_custom_receipt_page", p->return_url);
    field_add(f, "override_custom_cancel_page", p->return_url);
    char sig[64];
    if (!sa_sign(c->secret_key, CS_SIGNED_NAMES, field_get, f, a, sig))
        return false;
    field_add(f, "signature", arena_strdup(a, sig));
    struct gw_field *fs = arena_calloc(a, f->n, sizeof *fs);
    for (size_t i = 0; i < f->n; i++)
        fs[i] = (struct gw_field){f->names[i], f->values[i]};
    out->url = arena_printf(a, "%s/pay", c->sa_base);
    out->fields = fs;
    out->nfields = f->n;
    return true;
}

/* ---- REST ------------------------------------------------------------------------------- */

struct reply {
    int status;        /* 0: no answer */
    json_object *body; /* the JSON object answered, NULL when none */
    bool unknown;      /* the request may have been acted on, and no answer says so */
    char why[128];
};

static void reply_free(struct reply *r)
{
    json_object_put(r->body);
    r->body = NULL;
}

/* The end of one operation's time: every call it makes (a search, the
 * operation, a timeout void) shares the instance's timeout, so that an
 * operation ends within it, as gateway.h promises, and within the lease of
 * the job that runs it. */
static usec_t op_deadline(const struct gateway *g)
{
    return time_now() + g->timeout;
}

/* One REST call, signed, given what is left until `deadline`. body: JSON
 * text for a POST, NULL for a GET. Never repeated: a request that may have
 * been acted on without an answer is `unknown`, for the caller to find out
 * about. Not sent when too little time is left (status 0, not unknown). */
static void rest(const struct gateway *g, struct arena *a, usec_t deadline, const char *method,
                 const char *path, const char *body, struct reply *out)
{
    struct cs *c = g->state;
    memset(out, 0, sizeof *out);
    usec_t left = deadline - time_now();
    if (left < 100000) {
        snprintf(out->why, sizeof out->why, "CyberSource did not answer in time");
        return;
    }
    bool post = body != NULL;
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(date, sizeof date, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    char digest[80] = "";
    if (post) {
        uint8_t h[32];
        crypto_sha256(body, strlen(body), h);
        char b64[48];
        crypto_base64(h, 32, b64, sizeof b64);
        snprintf(digest, sizeof digest, "SHA-256=%s", b64);
    }
    char target[512];
    snprintf(target, sizeof target, "%s %s", post ? "post" : "get", path);
    const char *signing =
        post ? arena_printf(
                   a, "host: %s\ndate: %s\n(request-target): %s\ndigest: %s\nv-c-merchant-id: %s",
                   c->rest_host, date, target, digest, c->merchant_id)
             : arena_printf(a, "host: %s\ndate: %s\n(request-target): %s\nv-c-merchant-id: %s",
                            c->rest_host, date, target, c->merchant_id);
    uint8_t mac[32];
    crypto_hmac_sha256(c->shared, c->shared_len, signing, strlen(signing), mac);
    char sig[64];
    crypto_base64(mac, 32, sig, sizeof sig);
    const char *signature = arena_printf(
        a, "keyid=\"%s\", algorithm=\"HmacSHA256\", headers=\"%s\", signature=\"%s\"", c->key_id,
        post ? "host date (request-target) digest v-c-merchant-id"
             : "host date (request-target) v-c-merchant-id",
        sig);
    struct net_header hs[6] = {{"v-c-merchant-id", c->merchant_id},
                               {"Date", date},
                               {"Signature", signature},
                               {"Accept", "application/hal+json;charset=utf-8"},
                               {"Content-Type", "application/json;charset=utf-8"},
                               {"Digest", digest}};
    struct net_request rq = {.method = method,
                             .url = arena_printf(a, "%s%s", c->rest_base, path),
                             .headers = hs,
                             .nheaders = post ? 6 : 4,
                             .body = body,
                             .body_len = body ? strlen(body) : 0,
                             .timeout_ms = (unsigned)(left / 1000),
                             .max_response = CS_MAX_BODY,
                             .allow_private = c->allow_private,
                             .cancel = g->cancel};
    struct net_response rs;
    perform(c->net, &rq, &rs);
    if (rs.error != NET_OK) {
        out->unknown = rs.sent;
        snprintf(out->why, sizeof out->why, "CyberSource could not be reached (%s)",
                 net_error_name(rs.error));
        if (!rs.sent)
            out->unknown = false;
        out->status = 0;
    } else {
        out->status = rs.status;
        out->body = json_parse_object(rs.body, rs.body_len);
        /* 5xx (502 SERVER_TIMEOUT included) may have been acted on */
        out->unknown = rs.status >= 500;
        if (rs.status >= 500 || !out->body)
            snprintf(out->why, sizeof out->why, "CyberSource answered HTTP %d", rs.status);
    }
    net_response_free(&rs);
}

/* ---- reading transactions --------------------------------------------------------------- */

static const char *card_name(const char *type)
{
    if (!type)
        return "";
    if (strcmp(type, "001") == 0 || strcasecmp(type, "visa") == 0)
        return "VISA";
    if (strcmp(type, "002") == 0 || strcasecmp(type, "mastercard") == 0)
        return "MASTERCARD";
    if (strcmp(type, "003") == 0 || strcasecmp(type, "amex") == 0 ||
        strcasecmp(type, "american express") == 0)
        return "AMEX";
    return "";
}

/* A transaction's status (TSS detail or summary, or a 201's status) as our
 * decision for an operation `op`. */
static enum gw_decision decide(const char *status, enum gw_operation op)
{
    if (!status)
        return GW_NO_ANSWER;
    if (strcmp(status, "AUTHORIZED_PENDING_REVIEW") == 0 || strcmp(status, "PENDING_REVIEW") == 0 ||
        strcmp(status, "AUTHORIZED_RISK_DECLINED") == 0)
        return op == GW_OP_AUTHORIZE || op == GW_OP_SALE ? GW_REVIEW : GW_DECLINE;
    if (strcmp(status, "DECLINED") == 0)
        return GW_DECLINE;
    if (strcmp(status, "INVALID_REQUEST") == 0)
        return GW_ERROR;
    /* a partial approval holds money, not the payment asked for: the
     * service returns it (read_tx marks it partial) */
    if (strcmp(status, "PARTIAL_AUTHORIZED") == 0)
        return op == GW_OP_AUTHORIZE || op == GW_OP_SALE ? GW_ACCEPT : GW_ERROR;
    bool money = strcmp(status, "PENDING") == 0 || strcmp(status, "TRANSMITTED") == 0 ||
                 strcmp(status, "SETTLED") == 0 || strcmp(status, "COMPLETED") == 0;
    switch (op) {
    case GW_OP_AUTHORIZE:
        return strcmp(status, "AUTHORIZED") == 0 || money ? GW_ACCEPT : GW_ERROR;
    case GW_OP_SALE:
    case GW_OP_CAPTURE:
    case GW_OP_REFUND:
        return money || strcmp(status, "AUTHORIZED") == 0 ? GW_ACCEPT : GW_ERROR;
    case GW_OP_REVERSE:
        return strcmp(status, "REVERSED") == 0 ? GW_ACCEPT : GW_ERROR;
    case GW_OP_VOID:
        return strcmp(status, "VOIDED") == 0 ? GW_ACCEPT : GW_ERROR;
    }
    return GW_ERROR;
}

/* A transaction (a TSS detail or summary, or a 201 answer) as our answer. */
static void read_tx(json_object *tx, enum gw_operation op, struct gw_result *out)
{
    memset(out, 0, sizeof *out);
    json_object *app = json_member(tx, "applicationInformation", json_type_object);
    const char *status = app ? json_member_string(app, "status") : json_member_string(tx, "status");
    const char *reason = json_member_string(app, "reasonCode");
    const char *id = json_member_string(tx, "id");
    if (!gw_id_ok(id, sizeof out->request_ref))
        id = NULL; /* not an id CyberSource gives: not kept */
    out->decision = decide(status, op);
    if (out->decision == GW_ACCEPT && strcmp(status, "PARTIAL_AUTHORIZED") == 0) {
        out->partial = true;
        json_object *amt = json_member(json_member(tx, "orderInformation", json_type_object),
                                       "amountDetails", json_type_object);
        const char *held = json_member_string(amt, "authorizedAmount");
        const struct currency *cur = currency_find(json_member_string(amt, "currency"));
        int64_t minor;
        if (held && cur &&
            money_parse_minor(held, strlen(held), cur->exponent, &minor) == MONEY_OK && minor > 0)
            out->held_minor = minor;
    }
    char *end = NULL;
    long code = reason ? strtol(reason, &end, 10) : 0;
    out->response_code = reason && *end == '\0' && code > 0 && code < 1000 ? (int)code : 0;
    if (!out->response_code)
        out->response_code = out->decision == GW_ACCEPT    ? 100
                             : out->decision == GW_REVIEW  ? 480
                             : out->decision == GW_DECLINE ? 203
                                                           : 102;
    snprintf(out->request_ref, sizeof out->request_ref, "%s", id ? id : "");
    snprintf(out->gateway_ref, sizeof out->gateway_ref, "%s", id ? id : "");
    json_object *proc = json_member(tx, "processorInformation", json_type_object);
    const char *approval = json_member_string(proc, "approvalCode");
    const char *recon = json_member_string(tx, "reconciliationId");
    snprintf(out->auth_ref, sizeof out->auth_ref, "%s", approval ? approval : recon ? recon : "");
    json_object *card = json_member(json_member(tx, "paymentInformation", json_type_object), "card",
                                    json_type_object);
    const char *suffix = json_member_string(card, "suffix");
    snprintf(out->card_type, sizeof out->card_type, "%s",
             card_name(json_member_string(card, "type")));
    if (suffix && strlen(suffix) == 4)
        snprintf(out->masked_pan, sizeof out->masked_pan, "************%s", suffix);
    if (out->decision != GW_ACCEPT && out->decision != GW_REVIEW) {
        json_object *e = json_member(tx, "errorInformation", json_type_object);
        const char *msg = json_member_string(e, "message");
        const char *why = json_member_string(e, "reason");
        snprintf(out->error_text, sizeof out->error_text, "%.40s%s%.80s",
                 why      ? why
                 : status ? status
                          : "",
                 (why || status) && msg ? ": " : "", msg ? msg : "");
    }
    out->at = time_now();
}

/* Is summary tx one of ours for `field` = value, and (void_ok false) not a
 * void (chatpay's own timeout void carries the same transactionId)? */
static bool hit_matches(json_object *tx, const char *field, const char *value, bool void_ok)
{
    json_object *cri = json_member(tx, "clientReferenceInformation", json_type_object);
    const char *key =
        strcmp(field, "clientReferenceInformation.code") == 0 ? "code" : "transactionId";
    const char *v = json_member_string(cri, key);
    if (!v || strcmp(v, value) != 0)
        return false;
    if (void_ok)
        return true;
    json_object *apps = json_member(json_member(tx, "applicationInformation", json_type_object),
                                    "applications", json_type_array);
    for (size_t i = 0; apps && i < json_object_array_length(apps); i++) {
        const char *name = json_member_string(json_object_array_get_idx(apps, i), "name");
        if (name && strcmp(name, "ics_void") == 0)
            return false;
    }
    return true;
}

/* The transaction a search finds for `field` = value (into *found, owned
 * by r): exact matches only, newest first, a transaction that holds money
 * before an error (a duplicate's 104 under the same reference) when
 * `prefer` is set. */
static void search(const struct gateway *g, struct arena *a, usec_t deadline, const char *field,
                   const char *value, bool void_ok, enum gw_operation prefer, struct reply *r,
                   json_object **found)
{
    *found = NULL;
    json_object *q = json_object_new_object();
    json_object_object_add(q, "query",
                           json_object_new_string(arena_printf(a, "%s:%s", field, value)));
    json_object_object_add(q, "sort", json_object_new_string("submitTimeUtc:desc"));
    json_object_object_add(q, "limit", json_object_new_int(50));
    const char *body = json_text(a, q, NULL);
    json_object_put(q);
    rest(g, a, deadline, "POST", "/tss/v2/searches", body, r);
    json_object *list = json_member(json_member(r->body, "_embedded", json_type_object),
                                    "transactionSummaries", json_type_array);
    for (size_t i = 0; r->status == 201 && list && i < json_object_array_length(list); i++) {
        json_object *tx = json_object_array_get_idx(list, i);
        if (!hit_matches(tx, field, value, void_ok))
            continue;
        if (!*found)
            *found = tx;
        if (!prefer)
            break;
        json_object *app = json_member(tx, "applicationInformation", json_type_object);
        enum gw_decision d = decide(json_member_string(app, "status"), prefer);
        if (d == GW_ACCEPT || d == GW_REVIEW) {
            *found = tx;
            break;
        }
    }
}

/* ---- the payment's result ----------------------------------------------------------------- */

static void cs_result(const struct gateway *g, const struct gw_target *t, struct gw_result *out)
{
    usec_t deadline = op_deadline(g);
    struct arena *a = arena_new(0);
    struct reply r = {0};
    bool asked = false;
    if (gw_id_ok(t->gateway_ref, GW_REF_LEN)) {
        const char *enc = t->gateway_ref;
        rest(g, a, deadline, "GET", arena_printf(a, "/tss/v2/transactions/%s", enc), NULL, &r);
        asked = true;
        if (r.status == 200 && r.body) {
            const char *code = json_member_string(
                json_member(r.body, "clientReferenceInformation", json_type_object), "code");
            if (code && strcmp(code, t->ref) == 0) {
                read_tx(r.body, t->op, out);
                reply_free(&r);
                arena_free(a);
                return;
            }
        }
        if (r.status != 404 && r.status != 200) {
            gw_no_answer(out, r.why[0] ? r.why : "CyberSource did not answer");
            out->unreachable = true;
            reply_free(&r);
            arena_free(a);
            return;
        }
        reply_free(&r);
    }
    /* no transaction by that id (errors 101, 102, 104, a cancel), or none
     * named: what does CyberSource have under our reference? */
    json_object *found;
    search(g, a, deadline, "clientReferenceInformation.code", t->ref, true, t->op, &r, &found);
    (void)asked;
    if (found) {
        read_tx(found, t->op, out);
    } else if (r.status != 201) {
        gw_no_answer(out, r.why[0] ? r.why : "CyberSource did not answer");
        out->unreachable = true;
    } else if (t->hint && strcmp(t->hint, "CANCEL") == 0) {
        memset(out, 0, sizeof *out);
        out->decision = GW_ERROR;
        out->response_code = 102;
        out->cancelled = true;
        snprintf(out->error_text, sizeof out->error_text,
                 "Cancelled by the customer at the checkout; nothing was charged");
        out->at = time_now();
    } else {
        gw_no_answer(out, "no transaction at CyberSource for this payment");
    }
    reply_free(&r);
    arena_free(a);
}

static enum gw_cancel cs_cancel(const struct gateway *g, const struct gw_target *t,
                                struct gw_result *out)
{
    /* a Secure Acceptance checkout cannot be closed: SA refuses the same
     * transaction_uuid for 15 minutes, and chatpay closes an operation
     * only later than that; a payment that did happen is found instead */
    cs_result(g, t, out);
    if (out->decision != GW_NO_ANSWER)
        return GW_CANCEL_COMPLETED;
    return out->unreachable ? GW_CANCEL_FAILED : GW_CANCEL_CLOSED;
}

/* ---- follow-ups --------------------------------------------------------------------------- */

static json_object *client_ref(const char *ref)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "code", json_object_new_string(ref));
    json_object_object_add(o, "transactionId", json_object_new_string(ref));
    return o;
}

static json_object *amount_details(struct arena *a, const struct gw_target *t)
{
    json_object *d = json_object_new_object();
    json_object_object_add(d, "totalAmount",
                           json_object_new_string(decimal(a, t->amount_minor, t->currency)));
    json_object_object_add(d, "currency", json_object_new_string(t->currency));
    return d;
}

/* Do the operation: its request and answer. */
static void perform_op(const struct gateway *g, struct arena *a, usec_t deadline,
                       const struct gw_target *t, struct reply *r)
{
    const char *id = t->parent_gateway_ref; /* checked by gw_id_ok */
    bool of_capture = t->parent_op == GW_OP_CAPTURE;
    json_object *b = json_object_new_object();
    json_object_object_add(b, "clientReferenceInformation", client_ref(t->ref));
    const char *path;
    switch (t->op) {
    case GW_OP_CAPTURE: {
        path = arena_printf(a, "/pts/v2/payments/%s/captures", id);
        json_object *oi = json_object_new_object();
        json_object_object_add(oi, "amountDetails", amount_details(a, t));
        json_object_object_add(b, "orderInformation", oi);
        break;
    }
    case GW_OP_REVERSE: {
        path = arena_printf(a, "/pts/v2/payments/%s/reversals", id);
        json_object *ri = json_object_new_object();
        json_object_object_add(ri, "amountDetails", amount_details(a, t));
        json_object_object_add(ri, "reason", json_object_new_string("Customer request"));
        json_object_object_add(b, "reversalInformation", ri);
        break;
    }
    case GW_OP_VOID:
        path = arena_printf(a, "/pts/v2/%s/%s/voids", of_capture ? "captures" : "payments", id);
        break;
    default: { /* GW_OP_REFUND */
        path = arena_printf(a, "/pts/v2/%s/%s/refunds", of_capture ? "captures" : "payments", id);
        json_object *oi = json_object_new_object();
        json_object_object_add(oi, "amountDetails", amount_details(a, t));
        json_object_object_add(b, "orderInformation", oi);
        break;
    }
    }
    const char *body = json_text(a, b, NULL);
    json_object_put(b);
    rest(g, a, deadline, "POST", path, body, r);
}

/* What an operation's own answer says. */
static void answered(const struct reply *r, const struct gw_target *t, struct gw_result *out)
{
    if (r->unknown || r->status == 0 || !r->body) {
        gw_no_answer(out, r->why[0] ? r->why : "CyberSource did not answer");
        out->unreachable = true;
        return;
    }
    if (r->status == 201) {
        read_tx(r->body, t->op, out);
        return;
    }
    memset(out, 0, sizeof *out);
    const char *reason = json_member_string(r->body, "reason");
    const char *msg = json_member_string(r->body, "message");
    out->decision = GW_ERROR;
    out->response_code = 102;
    snprintf(out->error_text, sizeof out->error_text, "%.40s%s%.80s", reason ? reason : "",
             reason && msg ? ": " : "", msg ? msg : "refused by CyberSource");
    out->at = time_now();
    if (r->status == 401 || r->status == 429) {
        gw_no_answer(out, r->status == 401 ? "CyberSource refused the credentials (401)"
                                           : "CyberSource is rate limiting (429)");
        out->unreachable = true;
    }
}

/* The answer to an operation done again after its answer was lost, from
 * its parent: a reversal or void shows in the parent's status. */
static bool parent_shows(const struct gateway *g, struct arena *a, usec_t deadline,
                         const struct gw_target *t, struct gw_result *out)
{
    const char *id = t->parent_gateway_ref; /* checked by gw_id_ok */
    struct reply r;
    rest(g, a, deadline, "GET", arena_printf(a, "/tss/v2/transactions/%s", id), NULL, &r);
    json_object *app = json_member(r.body, "applicationInformation", json_type_object);
    const char *status = json_member_string(app, "status");
    bool done = r.status == 200 && status &&
                strcmp(status, t->op == GW_OP_REVERSE ? "REVERSED" : "VOIDED") == 0;
    if (done) {
        memset(out, 0, sizeof *out);
        out->decision = GW_ACCEPT;
        out->response_code = 100;
        snprintf(out->request_ref, sizeof out->request_ref, "%s", t->parent_gateway_ref);
        out->at = time_now();
    }
    reply_free(&r);
    return done;
}

static void not_final(struct gw_result *out, const char *why)
{
    gw_no_answer(out, why);
    out->unreachable = true;
}

static void cs_operate(const struct gateway *g, const struct gw_target *t, struct gw_result *out)
{
    usec_t deadline = op_deadline(g);
    struct arena *a = arena_new(0);
    struct reply r = {0};
    bool returning = t->op == GW_OP_REVERSE || t->op == GW_OP_VOID;
    if (!gw_id_ok(t->parent_gateway_ref, GW_REF_LEN)) {
        memset(out, 0, sizeof *out);
        out->decision = GW_ERROR;
        out->response_code = 102;
        snprintf(out->error_text, sizeof out->error_text, "The payment's transaction is not known");
        goto done;
    }
    if (t->again) {
        /* the answer was lost: did it happen? */
        json_object *found;
        search(g, a, deadline, "clientReferenceInformation.transactionId", t->ref,
               t->op == GW_OP_VOID, 0, &r, &found);
        if (found) {
            read_tx(found, t->op, out);
            goto done;
        }
        if (r.status != 201) { /* not known: not final either */
            not_final(out, r.why[0] ? r.why : "CyberSource did not answer the search");
            goto done;
        }
        reply_free(&r);
        if (returning) {
            /* a reversal or void cannot be timeout-voided: the parent says */
            if (parent_shows(g, a, deadline, t, out))
                goto done;
        } else {
            /* not (yet) found: undo whatever may have happened */
            json_object *b = json_object_new_object();
            json_object_object_add(b, "clientReferenceInformation", client_ref(t->ref));
            const char *body = json_text(a, b, NULL);
            json_object_put(b);
            rest(g, a, deadline, "POST", "/pts/v2/voids", body, &r);
            const char *vst = r.status == 201 ? json_member_string(r.body, "status") : NULL;
            if (r.status == 201 && (!vst || strcmp(vst, "VOIDED") != 0)) {
                /* declined (it settled meanwhile, say): it may well have
                 * happened, so it is not done again; the search finds it */
                not_final(out, arena_printf(a, "CyberSource did not void it (%s); asked again",
                                            vst ? vst : "no status"));
                goto done;
            }
            if (r.status == 201) {
                memset(out, 0, sizeof *out);
                out->decision = GW_ERROR;
                out->response_code = 102;
                snprintf(out->error_text, sizeof out->error_text,
                         "Its answer was lost; CyberSource undid it (timeout void): it may be "
                         "asked for again");
                out->at = time_now();
                goto done;
            }
            if (r.status != 400) { /* 400: nothing to void, it never happened */
                not_final(out, r.why[0] ? r.why : "CyberSource did not answer the timeout void");
                goto done;
            }
            reply_free(&r);
        }
    }
    perform_op(g, a, deadline, t, &r);
    answered(&r, t, out);
    if (t->again && r.status == 400) {
        /* refused when done again: it may have happened after all (the
         * transactionId is taken, the parent already returned) while the
         * search lags; asked again later rather than recorded as failed */
        char why[sizeof out->error_text];
        snprintf(why, sizeof why, "%s", out->error_text[0] ? out->error_text : "refused");
        not_final(out, why);
    }
done:
    reply_free(&r);
    arena_free(a);
}

static void cs_query(const struct gateway *g, const struct gw_target *t, struct gw_result *out)
{
    if (t->op == GW_OP_AUTHORIZE || t->op == GW_OP_SALE) {
        cs_result(g, t, out);
        return;
    }
    struct gw_target again = *t;
    again.again = true;
    cs_operate(g, &again, out);
}

/* ---- what is posted back ---------------------------------------------------------------- */

/* The fields of a form body, decoded, in the arena. */
static bool parse_form(struct arena *a, const char *body, size_t len, struct fields *f)
{
    f->n = 0;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && body[j] != '&')
            j++;
        if (j > i) {
            const char *pair = arena_printf(a, "%.*s", (int)(j - i), body + i);
            const char *eq = strchr(pair, '=');
            const char *name = eq ? arena_printf(a, "%.*s", (int)(eq - pair), pair) : pair;
            char *value = form_get(a, pair, strlen(pair), name);
            if (!value)
                return false;
            /* names are plain [a-z0-9_] in SA: no decoding needed */
            field_add(f, name, value);
        }
        i = j + 1;
    }
    return true;
}

static enum gw_inbound_verdict cs_inbound(const struct gateway *g,
                                          const struct provider_inbound *rq, struct arena *a,
                                          struct gw_notice **notices, size_t *n)
{
    struct cs *c = g->state;
    *notices = NULL;
    *n = 0;
    if (strcmp(rq->method, "POST") != 0 || (rq->rest[0] && strcmp(rq->rest, "return") != 0))
        return GW_IN_MALFORMED;
    /* as many fields as the body has pairs (the route bounds the body) */
    size_t pairs = 1;
    for (size_t i = 0; i < rq->body_len; i++)
        pairs += rq->body[i] == '&';
    struct fields *f = fields_new(a, pairs);
    if (!parse_form(a, rq->body, rq->body_len, f))
        return GW_IN_MALFORMED;
    const char *names = field_get(f, "signed_field_names");
    const char *given = field_get(f, "signature");
    char sig[64];
    if (!names || !given || !sa_sign(c->secret_key, names, field_get, f, a, sig) ||
        strlen(given) != strlen(sig) || !crypto_equal(given, sig, strlen(sig)))
        return GW_IN_FORBIDDEN;
    /* every field that matters must be among the signed ones */
    static const char *const must[] = {
        "req_access_key", "req_profile_id", "req_transaction_uuid", "req_amount",
        "req_currency",   "decision",       "signed_field_names",   "transaction_id"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++) {
        if (strcmp(must[i], "transaction_id") == 0 && !field_get(f, must[i]))
            continue; /* a result may come without one; when it has one, it is signed */
        size_t l = strlen(must[i]);
        bool in = false;
        for (const char *p = names; *p;) {
            size_t k = strcspn(p, ",");
            in |= k == l && strncmp(p, must[i], l) == 0;
            p += k;
            if (*p == ',')
                p++;
        }
        if (!in)
            return GW_IN_FORBIDDEN;
    }
    const char *ak = field_get(f, "req_access_key"), *pid = field_get(f, "req_profile_id");
    if (!ak || !pid || strcmp(ak, c->access_key) != 0 || strcmp(pid, c->profile_id) != 0)
        return GW_IN_FORBIDDEN;
    const char *uuid = field_get(f, "req_transaction_uuid");
    const char *amount = field_get(f, "req_amount"), *currency = field_get(f, "req_currency");
    const char *decision = field_get(f, "decision"), *txid = field_get(f, "transaction_id");
    struct gw_notice *nt = arena_calloc(a, 1, sizeof *nt);
    if (!uuid || strlen(uuid) >= sizeof nt->ref || !amount || !currency || strlen(currency) != 3)
        return GW_IN_MALFORMED;
    const struct currency *cur = currency_find(currency);
    struct money_dec d;
    if (!cur || money_dec_parse(amount, strlen(amount), &d) != MONEY_OK ||
        money_to_minor(&d, cur->exponent, &nt->amount_minor) != MONEY_OK)
        return GW_IN_MALFORMED;
    nt->has_amount = true;
    snprintf(nt->currency, sizeof nt->currency, "%s", currency);
    snprintf(nt->ref, sizeof nt->ref, "%s", uuid);
    snprintf(nt->decision, sizeof nt->decision, "%s", decision ? decision : "");
    if (txid && strlen(txid) < sizeof nt->gateway_ref) {
        snprintf(nt->gateway_ref, sizeof nt->gateway_ref, "%s", txid);
        /* the receipt and the merchant POST of one result are one notice */
        snprintf(nt->event_id, sizeof nt->event_id, "%s", txid);
    }
    *notices = nt;
    *n = 1;
    return GW_IN_NOTICES;
}

const struct gateway_ops gateway_cybersource_ops = {
    .kind = "cybersource",
    .settings = cs_settings,
    .create = cs_create,
    .destroy = cs_destroy,
    .live = cs_live,
    .begin = cs_begin,
    .result = cs_result,
    .operate = cs_operate,
    .query = cs_query,
    .cancel = cs_cancel,
    .inbound = cs_inbound,
    /* "acknowledge as quickly as possible": a slow answer delays its later
     * merchant POSTs, and it documents no retry */
    .answer_first = true,
};
