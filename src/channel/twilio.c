/*
 * twilio.c — the Twilio Programmable Messaging kind (SMS and WhatsApp;
 * spec/providers.md section 3).
 *
 * Sending: POST {base_url}/2010-04-01/Accounts/{AC}/Messages.json, a form
 * (To, From or MessagingServiceSid, Body, StatusCallback) with HTTP Basic
 * authentication: the Account SID and Auth Token, or an API key (SK…) and
 * its secret. WhatsApp numbers carry the "whatsapp:" prefix. A WhatsApp
 * text refused because the 24-hour window is closed (code 63016) is sent
 * once more as the merchant's template (ContentSid, ContentVariables) when
 * there is one. Twilio has no idempotency key: a request that may have
 * been acted on is CHANNEL_UNKNOWN and never sent again blindly.
 *
 * What became of a message: GET …/Messages/{sid}.json. Twilio tries a
 * status callback once (again only when the connection fails) and never
 * after an error of ours, so receipt_delay is a reconciliation: 10 minutes
 * after a send without a receipt, the message is asked for.
 *
 * Inbound: form POSTs to …/status (status callbacks) and …/reply (incoming
 * messages), signed with X-Twilio-Signature: base64 HMAC-SHA1, keyed with
 * the Auth Token (also when an API key sends), over the full URL Twilio
 * called followed by every POST parameter (name then value, names in byte
 * order). Every parameter received is signed over: Twilio adds parameters
 * without notice.
 *
 * The wire logic (forms, classification, status mapping, signatures,
 * parsing) is in static functions tested by tests/unit/test_channel_twilio.c,
 * which includes this file; the requests go through `perform` (net_perform,
 * replaced by the tests).
 *
 * Facts not confirmed (❓ in providers.md), chosen so that being wrong costs
 * little:
 * - no Retry-After is promised on 429: 1 s is waited when none is seen;
 * - a non-JSON body on anything but 401/429/503 (an HTML page from a proxy)
 *   is CHANNEL_UNKNOWN rather than a refusal: it is reconciled, never re-sent;
 * - the template's ContentSid (HX…) is the merchant's template_name as it is
 *   configured; template_lang is not sent (a Content SID fixes its language);
 * - repeated parameter names are signed with every value sorted, and also
 *   with the duplicates removed (twilio-node does that): either is accepted.
 */
#include "channel/channel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/status.h"
#include "net/net.h"
#include "util/crypto.h"
#include "util/form.h"
#include "util/json.h"
#include "util/utf8.h"

#define TWILIO_DEFAULT_BASE  "https://api.twilio.com"
#define TWILIO_API_VERSION   "2010-04-01"
#define TWILIO_RECEIPT_DELAY (10LL * 60 * 1000000)
#define TWILIO_SECRET_MAX    256                /* bytes of an Auth Token or API key secret */
#define TWILIO_SIG_LEN       28                 /* base64 of a SHA-1 */
#define TWILIO_RATE_WAIT     (1LL * 1000000)    /* 429 without Retry-After */
#define TWILIO_RETRY_MAX     (3600LL * 1000000) /* the longest Retry-After honoured */

/* ---- the instance ---------------------------------------------------------------------- */

struct twilio {
    char account_sid[35];
    char messaging_service_sid[35];
    char sms_from[16], whatsapp_from[16];
    char base_url[256];
    bool allow_private;
    struct net *net;
    char auth_token[TWILIO_SECRET_MAX + 1]; /* signs webhooks */
    char authorization[512];                /* "Basic base64(user:password)" */
};

/* The transfer function: net_perform, replaced by the unit tests. */
static void (*perform)(struct net *n, const struct net_request *rq,
                       struct net_response *out) = net_perform;

static const struct provider_setting twilio_settings[] = {
    {"account_sid", true, false, "the Account SID: AC followed by 32 hex digits"},
    {"auth_token", true, true,
     "the Auth Token: the Basic password (without an API key) and the key of "
     "X-Twilio-Signature"},
    {"api_key_sid", false, false, "an API key SID (SK…): then the Basic user"},
    {"api_key_secret", false, true, "the API key's secret (required with api_key_sid)"},
    {"messaging_service_sid", false, false,
     "a Messaging Service SID (MG…): the sender when no from number applies"},
    {"sms_from", false, false, "the SMS sender number, digits (a message's own from wins)"},
    {"whatsapp_from", false, false,
     "the WhatsApp sender number, digits (a message's own from wins)"},
    {"base_url", false, false, "the API's base URL (default " TWILIO_DEFAULT_BASE ")"},
    {NULL, false, false, NULL},
};

/* Is s `prefix` followed by 32 hex digits (a Twilio SID)? */
static bool sid_valid(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(s, prefix, n) != 0 || strlen(s) != n + 32)
        return false;
    for (const char *p = s + n; *p; p++)
        if (form_hexval(*p) < 0)
            return false;
    return true;
}

/* Is s 1 to 15 ASCII digits (an E.164 number without its '+')? */
static bool number_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 15)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Is url an absolute http(s) URL without query, fragment, spaces or
 * control characters (trailing slashes are removed by the caller)? */
static bool base_url_valid(const char *url)
{
    const char *host = strncmp(url, "https://", 8) == 0  ? url + 8
                       : strncmp(url, "http://", 7) == 0 ? url + 7
                                                         : NULL;
    if (!host || !*host || *host == '/')
        return false;
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#')
            return false;
    return true;
}

static void twilio_destroy(void *state)
{
    if (!state)
        return;
    explicit_bzero(state, sizeof(struct twilio));
    free(state);
}

/* Read and check the settings; NULL with a message naming the setting. */
static void *twilio_create(const struct provider_config *cfg, char *err, size_t errlen)
{
    const char *account = provider_setting(cfg, "account_sid");
    const char *token = provider_setting(cfg, "auth_token");
    const char *key_sid = provider_setting(cfg, "api_key_sid");
    const char *key_secret = provider_setting(cfg, "api_key_secret");
    const char *service = provider_setting(cfg, "messaging_service_sid");
    const char *sms_from = provider_setting(cfg, "sms_from");
    const char *wa_from = provider_setting(cfg, "whatsapp_from");
    const char *base = provider_setting(cfg, "base_url");
    if (!base)
        base = TWILIO_DEFAULT_BASE;
    size_t base_len = strlen(base);
    while (base_len > 0 && base[base_len - 1] == '/')
        base_len--;

    const char *why = NULL;
    if (!account)
        why = "account_sid is required";
    else if (!sid_valid(account, "AC"))
        why = "account_sid must be AC followed by 32 hex digits";
    else if (!token)
        why = "auth_token is required";
    else if (strlen(token) > TWILIO_SECRET_MAX)
        why = "auth_token is too long";
    else if (key_sid && !sid_valid(key_sid, "SK"))
        why = "api_key_sid must be SK followed by 32 hex digits";
    else if (key_sid && !key_secret)
        why = "api_key_secret is required with api_key_sid";
    else if (key_secret && !key_sid)
        why = "api_key_secret is set without api_key_sid";
    else if (key_secret && strlen(key_secret) > TWILIO_SECRET_MAX)
        why = "api_key_secret is too long";
    else if (service && !sid_valid(service, "MG"))
        why = "messaging_service_sid must be MG followed by 32 hex digits";
    else if (sms_from && !number_valid(sms_from))
        why = "sms_from must be a number: 1 to 15 digits, no '+'";
    else if (wa_from && !number_valid(wa_from))
        why = "whatsapp_from must be a number: 1 to 15 digits, no '+'";
    if (why) {
        snprintf(err, errlen, "%s", why);
        return NULL;
    }
    struct twilio *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(t->base_url, sizeof t->base_url, "%.*s", (int)base_len, base);
    if (base_len >= sizeof t->base_url || !base_url_valid(t->base_url)) {
        snprintf(err, errlen, "base_url must be an http:// or https:// URL (at most %zu bytes)",
                 sizeof t->base_url - 1);
        twilio_destroy(t);
        return NULL;
    }
    /* Loopback and private addresses are allowed only for a sandbox
     * merchant's provider whose base_url is not Twilio's public default: a
     * test fake on loopback. Everything else stays under the SSRF guard of
     * src/net. */
    t->allow_private = cfg->test_mode && strcmp(t->base_url, TWILIO_DEFAULT_BASE) != 0;
    snprintf(t->account_sid, sizeof t->account_sid, "%s", account);
    snprintf(t->messaging_service_sid, sizeof t->messaging_service_sid, "%s",
             service ? service : "");
    snprintf(t->sms_from, sizeof t->sms_from, "%s", sms_from ? sms_from : "");
    snprintf(t->whatsapp_from, sizeof t->whatsapp_from, "%s", wa_from ? wa_from : "");
    snprintf(t->auth_token, sizeof t->auth_token, "%s", token);
    t->net = cfg->net;
    /* cfg->test_mode changes nothing: Twilio's test credentials are just
     * other credentials, given in the settings */

    char userpass[2 * TWILIO_SECRET_MAX + 64];
    int n = snprintf(userpass, sizeof userpass, "%s:%s", key_sid ? key_sid : account,
                     key_sid ? key_secret : token);
    memcpy(t->authorization, "Basic ", 6);
    size_t len =
        crypto_base64(userpass, (size_t)n, t->authorization + 6, sizeof t->authorization - 6);
    explicit_bzero(userpass, sizeof userpass);
    if (len == 0) {
        snprintf(err, errlen, "the credentials do not fit");
        twilio_destroy(t);
        return NULL;
    }
    return t;
}

/* ---- sending: the form ----------------------------------------------------------------- */

/* Refuse a send before any request: REJECTED with why. */
static void refuse(struct channel_result *out, const char *why)
{
    memset(out, 0, sizeof *out);
    out->outcome = CHANNEL_REJECTED;
    snprintf(out->description, sizeof out->description, "%s", why);
}

/* A reference we put in a URL: 1 to 64 letters and digits (and '_' when
 * `underscore`): a Twilio sid, or our "cpm_<id>". */
static bool word_valid(const char *s, bool underscore)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= 'a' && s[i] <= 'z') || (underscore && s[i] == '_')))
            return false;
    return true;
}

/* Is s a message sid we may put in a path (letters and digits)? */
static bool ref_valid(const char *s)
{
    return word_valid(s, false);
}

/* The form of a send of m (its text, or its template when use_template),
 * in the arena; NULL with out REJECTED when it cannot be made. The sender
 * is the message's own from, else the channel's configured number, else
 * the messaging service (exactly one of From and MessagingServiceSid is
 * sent). WhatsApp buttons are not sent: Twilio's plain Messages API has no
 * free-form button, and the text already carries the link. */
static const char *send_form(struct arena *a, const struct twilio *t,
                             const struct channel_message *m, bool use_template,
                             struct channel_result *out)
{
    bool wa = m->channel == CHANNEL_WHATSAPP;
    if (m->channel != CHANNEL_SMS && !wa) {
        refuse(out, "Twilio carries SMS and WhatsApp only");
        return NULL;
    }
    if (!m->to || !number_valid(m->to)) {
        refuse(out, "the destination is not a number (1 to 15 digits)");
        return NULL;
    }
    const char *prefix = wa ? "whatsapp:+" : "+";
    const char *from = m->from && *m->from ? m->from : wa ? t->whatsapp_from : t->sms_from;
    if (*from && !number_valid(from)) {
        refuse(out, "the sender is not a number (1 to 15 digits)");
        return NULL;
    }
    if (!*from && !t->messaging_service_sid[0]) {
        refuse(out, wa ? "no WhatsApp sender: set whatsapp_from or messaging_service_sid"
                       : "no SMS sender: set sms_from or messaging_service_sid");
        return NULL;
    }
    const char *vars = NULL;
    if (use_template) {
        json_object *o = json_object_new_object();
        for (size_t i = 0; i < m->ntemplate_params; i++) {
            char key[24];
            snprintf(key, sizeof key, "%zu", i + 1);
            const char *v = m->template_params[i];
            json_object_object_add(o, key, json_object_new_string(v ? v : ""));
        }
        vars = json_text(a, o, NULL);
        json_object_put(o);
    }
    /* our reference rides in the callback's URL: a callback then finds the
     * message even when the send's answer (and so the sid) was lost */
    const char *status_url = NULL;
    if (m->status_url && *m->status_url)
        status_url = word_valid(m->ref, true) ? arena_printf(a, "%s?ref=%s", m->status_url, m->ref)
                                              : m->status_url;
    const char *kv[] = {
        "To",
        arena_printf(a, "%s%s", prefix, m->to),
        "From",
        *from ? arena_printf(a, "%s%s", prefix, from) : NULL,
        "MessagingServiceSid",
        *from ? NULL : t->messaging_service_sid,
        "Body",
        use_template ? NULL
        : m->text    ? m->text
                     : "",
        "ContentSid",
        use_template ? m->template_name : NULL,
        "ContentVariables",
        vars,
        "StatusCallback",
        status_url,
    };
    return form_encode(a, kv, sizeof kv / sizeof kv[0] / 2);
}

/* ---- sending: the answer --------------------------------------------------------------- */

/* o[key] when it is a nonempty string, else NULL. */
static const char *get_string(json_object *o, const char *key)
{
    const char *s = json_member_string(o, key);
    return s && *s ? s : NULL;
}

/* o[key] as a code (an integer or a string) into out[cap]; 0 when absent,
 * null or 0, else its value (-1 for a string that is not a number). */
static long get_code(json_object *o, const char *key, char *out, size_t cap)
{
    json_object *v;
    out[0] = '\0';
    if (!o || !json_object_object_get_ex(o, key, &v))
        return 0;
    if (json_object_is_type(v, json_type_int)) {
        long c = (long)json_object_get_int64(v);
        if (c != 0)
            snprintf(out, cap, "%ld", c);
        return c;
    }
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        char *end;
        long c = strtol(s, &end, 10);
        if (!*s || strcmp(s, "0") == 0)
            return 0;
        utf8_clean(s, out, cap);
        return *end ? -1 : c;
    }
    return 0;
}

/* Retry-After as µs, at most TWILIO_RETRY_MAX; 0 when absent. */
static usec_t retry_after_usec(const char *v)
{
    return net_retry_after(v, TWILIO_RETRY_MAX);
}

/* Why a message failed, from the error code of its status (or of the
 * send's answer): 63016 is the closed WhatsApp window, 63003 ("Channel
 * could not find To address") a number the channel cannot reach, i.e. not
 * on WhatsApp (the SMS fallback applies). Twilio usually reports both in
 * the status rather than in the send's answer. */
static enum channel_reason report_reason(long code)
{
    return code == 63016   ? CHANNEL_R_WINDOW_CLOSED
           : code == 63003 ? CHANNEL_R_NOT_ON_CHANNEL
                           : CHANNEL_R_OTHER;
}

/* Classify Twilio's answer to a send: HTTP status, body and the
 * Retry-After header (NULL when absent) → out.
 *   2xx with a sid                     SENT (provider_ref = sid)
 *   2xx without a readable sid         UNKNOWN (it may exist)
 *   401, or code 20003                 REJECTED, AUTH
 *   429, or code 20429                 TRANSIENT, Retry-After or 1 s
 *   503                                TRANSIENT, Retry-After or the job's backoff
 *   other status, body not JSON        UNKNOWN (a proxy's page: reconcile)
 *   other 5xx, 1xx, 3xx                UNKNOWN
 *   4xx code 21610                     REJECTED, OPTED_OUT
 *   4xx code 63016                     REJECTED, WINDOW_CLOSED
 *   4xx code 63003                     REJECTED, NOT_ON_CHANNEL
 *   other 4xx                          REJECTED with code and message */
static void classify(int http, const char *body, size_t len, const char *retry_after,
                     struct channel_result *out)
{
    memset(out, 0, sizeof *out);
    out->http_code = http;
    json_object *j = json_parse_whole(body, len);
    if (j && !json_object_is_type(j, json_type_object)) {
        json_object_put(j);
        j = NULL;
    }
    if (http >= 200 && http < 300) {
        const char *sid = get_string(j, "sid");
        bool ok = sid && strlen(sid) < sizeof out->provider_ref;
        for (const char *p = sid; ok && *p; p++)
            ok = (*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z');
        if (ok) {
            out->outcome = CHANNEL_SENT;
            snprintf(out->provider_ref, sizeof out->provider_ref, "%s", sid);
            const char *status = get_string(j, "status");
            if (status)
                utf8_clean(status, out->description, sizeof out->description);
        } else {
            out->outcome = CHANNEL_UNKNOWN;
            snprintf(out->description, sizeof out->description,
                     j ? "HTTP %d without a message sid" : "HTTP %d with a body that is not JSON",
                     http);
        }
        json_object_put(j);
        return;
    }
    long code = get_code(j, "code", out->code, sizeof out->code);
    const char *message = get_string(j, "message");
    if (message)
        utf8_clean(message, out->description, sizeof out->description);
    if (http == 401 || code == 20003) {
        out->outcome = CHANNEL_REJECTED;
        out->reason = CHANNEL_R_AUTH;
        if (!message)
            snprintf(out->description, sizeof out->description, "authentication failed");
    } else if (http == 429 || code == 20429) {
        out->outcome = CHANNEL_TRANSIENT;
        out->retry_after = retry_after_usec(retry_after);
        if (!out->retry_after)
            out->retry_after = TWILIO_RATE_WAIT;
        if (!message)
            snprintf(out->description, sizeof out->description, "too many requests");
    } else if (http == 503) {
        out->outcome = CHANNEL_TRANSIENT;
        out->retry_after = retry_after_usec(retry_after);
        if (!message)
            snprintf(out->description, sizeof out->description, "service unavailable");
    } else if (!j) {
        out->outcome = CHANNEL_UNKNOWN;
        snprintf(out->description, sizeof out->description,
                 "HTTP %d with a body that is not a Twilio error", http);
    } else if (http >= 400 && http < 500) {
        out->outcome = CHANNEL_REJECTED;
        out->reason = code == 21610 ? CHANNEL_R_OPTED_OUT : report_reason(code);
        if (!message)
            snprintf(out->description, sizeof out->description, "HTTP %d", http);
    } else {
        out->outcome = CHANNEL_UNKNOWN;
        if (!message)
            snprintf(out->description, sizeof out->description, "HTTP %d", http);
    }
    json_object_put(j);
}

/* Classify a transfer: a response goes to classify(); a failure before the
 * request went out is TRANSIENT (connect, resolve, TLS, timeout, cancel),
 * after it UNKNOWN (a read timeout: it may have been acted on); a URL net
 * refuses to parse is REJECTED. */
static void classify_net(const struct net_response *r, const char *retry_after,
                         struct channel_result *out)
{
    if (r->error == NET_OK) {
        classify(r->status, r->body ? r->body : "", r->body ? r->body_len : 0, retry_after, out);
        return;
    }
    memset(out, 0, sizeof *out);
    out->http_code = r->status;
    /* a base_url that cannot be called (or that the SSRF guard refuses)
     * does not become callable by trying again */
    out->outcome = r->error == NET_BAD_URL || r->error == NET_REFUSED_ADDRESS ? CHANNEL_REJECTED
                   : r->sent                                                  ? CHANNEL_UNKNOWN
                                                                              : CHANNEL_TRANSIENT;
    snprintf(out->description, sizeof out->description, "%s%s: %.80s", net_error_name(r->error),
             r->sent ? " after the request was sent" : "", r->message);
}

/* The request's timeout in ms: what is left until deadline (µs, monotonic;
 * 0: no deadline, net's default). false when nothing is left. */
static bool time_left(usec_t deadline, unsigned *ms)
{
    *ms = 0;
    if (!deadline)
        return true;
    usec_t left = deadline - time_mono();
    if (left < 1000)
        return false;
    *ms = left / 1000 > 3600000 ? 3600000u : (unsigned)(left / 1000);
    return true;
}

/* POST one form to the Messages resource and classify the answer. */
static void post_message(const struct channel *ch, const struct twilio *t, const char *form,
                         usec_t deadline, struct channel_result *out)
{
    char url[512];
    snprintf(url, sizeof url, "%s/" TWILIO_API_VERSION "/Accounts/%s/Messages.json", t->base_url,
             t->account_sid);
    unsigned ms;
    if (!time_left(deadline, &ms)) {
        memset(out, 0, sizeof *out);
        out->outcome = CHANNEL_TRANSIENT;
        snprintf(out->description, sizeof out->description, "no time left to send");
        return;
    }
    const struct net_header headers[] = {
        {"Authorization", t->authorization},
        {"Content-Type", "application/x-www-form-urlencoded"},
        {"Accept", "application/json"},
    };
    struct net_request rq = {
        .method = "POST",
        .url = url,
        .headers = headers,
        .nheaders = sizeof headers / sizeof headers[0],
        .body = form,
        .body_len = strlen(form),
        .timeout_ms = ms,
        .max_response = 64 * 1024,
        .allow_private = t->allow_private,
        .cancel = ch->cancel,
    };
    struct net_response r;
    perform(t->net, &rq, &r);
    classify_net(&r, r.retry_after[0] ? r.retry_after : NULL, out);
    net_response_free(&r);
}

/* Send m: its text; when WhatsApp refuses it for the closed window (63016)
 * and the message has a template, the template once more (the template
 * alone when m asks for it). Both requests share the instance's timeout. */
static void twilio_send(const struct channel *ch, const struct channel_message *m,
                        struct channel_result *out)
{
    const struct twilio *t = ch->state;
    memset(out, 0, sizeof *out);
    usec_t deadline = ch->timeout > 0 ? time_mono() + ch->timeout : 0;
    struct arena *a = arena_new(0);
    bool template_only =
        m->template_only && m->channel == CHANNEL_WHATSAPP && m->template_name && *m->template_name;
    const char *form = send_form(a, t, m, template_only, out);
    if (form)
        post_message(ch, t, form, deadline, out);
    if (form && template_only)
        channel_template_answered(out);
    if (form && !template_only && out->outcome == CHANNEL_REJECTED &&
        out->reason == CHANNEL_R_WINDOW_CLOSED && m->channel == CHANNEL_WHATSAPP &&
        m->template_name && *m->template_name) {
        form = send_form(a, t, m, true, out);
        if (form) {
            post_message(ch, t, form, deadline, out);
            channel_template_answered(out);
        }
    }
    arena_free(a);
}

/* ---- what became of a message ---------------------------------------------------------- */

/* Twilio's status → delivery: delivered and read are DELIVERED, failed and
 * undelivered FAILED, every other (queued, sending, sent, accepted,
 * scheduled, canceled, ...) PENDING. */
static enum channel_delivery twilio_delivery(const char *status)
{
    if (!status)
        return DELIVERY_PENDING;
    if (strcmp(status, "delivered") == 0 || strcmp(status, "read") == 0)
        return DELIVERY_DELIVERED;
    if (strcmp(status, "failed") == 0 || strcmp(status, "undelivered") == 0)
        return DELIVERY_FAILED;
    return DELIVERY_PENDING;
}

/* An RFC 2822 date as Twilio writes it ("Thu, 30 Jul 2015 20:12:33 +0000")
 * → µs; false when it is not one. */
static bool parse_rfc2822(const char *s, usec_t *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *comma = strchr(s, ',');
    const char *p = comma ? comma + 1 : s;
    int d, y, hh, mm, ss, n = 0;
    char mon[4], sign;
    unsigned off;
    if (sscanf(p, " %2d %3s %4d %2d:%2d:%2d %c%4u%n", &d, mon, &y, &hh, &mm, &ss, &sign, &off,
               &n) != 8 ||
        p[n] != '\0')
        return false;
    const char *m = strlen(mon) == 3 ? strstr(months, mon) : NULL;
    if (!m || (m - months) % 3 != 0 || d < 1 || d > 31 || y < 1970 || y > 9999 || hh > 23 ||
        hh < 0 || mm > 59 || mm < 0 || ss > 60 || ss < 0 || (sign != '+' && sign != '-') ||
        off % 100 > 59 || off / 100 > 23)
        return false;
    int64_t days = time_days_from_civil(y, (unsigned)((m - months) / 3 + 1), (unsigned)d);
    int64_t secs = days * 86400 + hh * 3600 + mm * 60 + (ss == 60 ? 59 : ss);
    int64_t offset = (int64_t)(off / 100 * 3600 + off % 100 * 60);
    secs -= sign == '+' ? offset : -offset;
    *out = secs * 1000000;
    return true;
}

/* Read Twilio's answer to GET …/Messages/{sid}.json into out. known is
 * true only for a 200 with the message; 404 leaves it false with
 * http_code 404 (Twilio does not have it); any other failure leaves it
 * false with the status (0: no answer) and a description. */
static void parse_receipt(int http, const char *body, size_t len, struct channel_receipt *out)
{
    memset(out, 0, sizeof *out);
    out->delivery = DELIVERY_PENDING;
    out->http_code = http;
    json_object *j = json_parse_whole(body, len);
    if (j && !json_object_is_type(j, json_type_object)) {
        json_object_put(j);
        j = NULL;
    }
    const char *status = get_string(j, "status");
    if (http == 200 && status) {
        out->known = true;
        out->delivery = twilio_delivery(status);
        utf8_clean(status, out->status, sizeof out->status);
        long code = get_code(j, "error_code", out->code, sizeof out->code);
        if (out->delivery == DELIVERY_FAILED)
            out->reason = report_reason(code);
        const char *message = get_string(j, "error_message");
        if (message)
            utf8_clean(message, out->description, sizeof out->description);
        const char *date = get_string(j, "date_updated");
        if (!date || !parse_rfc2822(date, &out->at))
            out->at = 0;
    } else {
        get_code(j, "code", out->code, sizeof out->code);
        const char *message = get_string(j, "message");
        if (message)
            utf8_clean(message, out->description, sizeof out->description);
        else
            snprintf(out->description, sizeof out->description,
                     http == 200 ? "HTTP 200 without a message status" : "HTTP %d", http);
    }
    json_object_put(j);
}

/* Ask Twilio about one message by its sid (our ref is not known to Twilio). */
static void twilio_query(const struct channel *ch, const char *merchant_id,
                         const char *provider_ref, const char *ref, const char *to,
                         struct channel_receipt *out)
{
    const struct twilio *t = ch->state;
    memset(out, 0, sizeof *out);
    out->delivery = DELIVERY_PENDING;
    if (!ref_valid(provider_ref)) {
        snprintf(out->description, sizeof out->description, "no Twilio message sid to ask about");
        return;
    }
    char url[512];
    snprintf(url, sizeof url, "%s/" TWILIO_API_VERSION "/Accounts/%s/Messages/%s.json", t->base_url,
             t->account_sid, provider_ref);
    const struct net_header headers[] = {
        {"Authorization", t->authorization},
        {"Accept", "application/json"},
    };
    unsigned ms;
    time_left(ch->timeout > 0 ? time_mono() + ch->timeout : 0, &ms);
    struct net_request rq = {
        .method = "GET",
        .url = url,
        .headers = headers,
        .nheaders = sizeof headers / sizeof headers[0],
        .timeout_ms = ms,
        .max_response = 64 * 1024,
        .allow_private = t->allow_private,
        .cancel = ch->cancel,
    };
    struct net_response r;
    perform(t->net, &rq, &r);
    if (r.error == NET_OK) {
        parse_receipt(r.status, r.body ? r.body : "", r.body ? r.body_len : 0, out);
    } else {
        out->http_code = r.status;
        snprintf(out->description, sizeof out->description, "%s: %.100s", net_error_name(r.error),
                 r.message);
    }
    net_response_free(&r);
}

/* ---- inbound --------------------------------------------------------------------------- */

struct param {
    const char *name, *value;
};

/* Decode one form component s[0..n) into the arena ('+' is a space, %XX a
 * byte); NULL on a malformed escape or a NUL byte. */
static char *form_decode(struct arena *a, const char *s, size_t n)
{
    char *out = arena_alloc(a, n + 1);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[w++] = ' ';
        } else if (s[i] == '%') {
            if (i + 2 >= n)
                return NULL;
            int hi = form_hexval(s[i + 1]), lo = form_hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return NULL;
            out[w++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (s[i] == '\0') {
            return NULL;
        } else {
            out[w++] = s[i];
        }
    }
    out[w] = '\0';
    return out;
}

/* Every parameter of a form body (empty segments skipped; a segment
 * without '=' is a name with an empty value), in the arena. false when an
 * escape is malformed or a byte is NUL. */
static bool parse_form(struct arena *a, const char *body, size_t len, struct param **out, size_t *n)
{
    size_t cap = 1;
    for (size_t i = 0; i < len; i++)
        cap += body[i] == '&';
    struct param *ps = arena_calloc(a, cap, sizeof *ps);
    size_t k = 0, i = 0;
    while (i < len) {
        const char *seg = body + i;
        const char *amp = memchr(seg, '&', len - i);
        size_t slen = amp ? (size_t)(amp - seg) : len - i;
        i += slen + 1;
        if (slen == 0)
            continue;
        const char *eq = memchr(seg, '=', slen);
        size_t nlen = eq ? (size_t)(eq - seg) : slen;
        ps[k].name = form_decode(a, seg, nlen);
        ps[k].value = eq ? form_decode(a, eq + 1, slen - nlen - 1) : "";
        if (!ps[k].name || !ps[k].value)
            return false;
        k++;
    }
    *out = ps;
    *n = k;
    return true;
}

/* The first value of `name`, NULL when absent. */
static const char *param(const struct param *ps, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ps[i].name, name) == 0)
            return ps[i].value;
    return NULL;
}

static int param_cmp(const void *x, const void *y)
{
    const struct param *a = x, *b = y;
    int c = strcmp(a->name, b->name);
    return c ? c : strcmp(a->value, b->value);
}

/* X-Twilio-Signature of url and the parameters (sorted by param_cmp):
 * base64(HMAC-SHA1(token, url + name + value + ...)) into out[29]. With
 * dedupe, a repeated name=value pair counts once. */
static void twilio_signature(struct arena *a, const char *token, const char *url,
                             const struct param *sorted, size_t n, bool dedupe, char out[29])
{
    size_t len = strlen(url);
    for (size_t i = 0; i < n; i++)
        len += strlen(sorted[i].name) + strlen(sorted[i].value);
    char *data = arena_alloc(a, len + 1), *p = data;
    p = stpcpy(p, url);
    for (size_t i = 0; i < n; i++) {
        if (dedupe && i > 0 && param_cmp(&sorted[i], &sorted[i - 1]) == 0)
            continue;
        p = stpcpy(p, sorted[i].name);
        p = stpcpy(p, sorted[i].value);
    }
    uint8_t md[20];
    crypto_hmac_sha1(token, strlen(token), data, (size_t)(p - data), md);
    crypto_base64(md, sizeof md, out, 29);
}

/* url with the scheme's default port toggled (3.7 point 4): added when the
 * authority has no port, removed when it has the default one; false when
 * there is nothing to toggle (another port, not http(s), too long). */
static bool url_port_variant(const char *url, char *out, size_t cap)
{
    const char *def;
    size_t skip;
    if (strncasecmp(url, "https://", 8) == 0) {
        def = "443";
        skip = 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        def = "80";
        skip = 7;
    } else {
        return false;
    }
    const char *auth = url + skip;
    size_t alen = strcspn(auth, "/?#");
    const char *host = memrchr(auth, '@', alen);
    host = host ? host + 1 : auth;
    const char *end = auth + alen;
    const char *bracket = memrchr(host, ']', (size_t)(end - host));
    const char *from = bracket ? bracket : host;
    const char *colon = memrchr(from, ':', (size_t)(end - from));
    int n;
    if (!colon)
        n = snprintf(out, cap, "%.*s:%s%s", (int)(end - url), url, def, end);
    else if ((size_t)(end - colon - 1) == strlen(def) && memcmp(colon + 1, def, strlen(def)) == 0)
        n = snprintf(out, cap, "%.*s%s", (int)(colon - url), url, end);
    else
        return false;
    return n > 0 && (size_t)n < cap;
}

/* Does header match the signature of url (as given, or with its default
 * port toggled) and the parameters (every value, or duplicates once)? The
 * comparisons take the same time whatever matches. */
static bool signature_ok(struct arena *a, const char *token, const char *url, struct param *params,
                         size_t n, const char *header)
{
    if (!header || strlen(header) != TWILIO_SIG_LEN || !*token)
        return false;
    qsort(params, n, sizeof *params, param_cmp);
    bool dup = false;
    for (size_t i = 1; i < n; i++)
        dup |= param_cmp(&params[i], &params[i - 1]) == 0;
    size_t cap = strlen(url) + 8;
    char *other = arena_alloc(a, cap);
    const char *urls[2] = {url, url_port_variant(url, other, cap) ? other : NULL};
    bool ok = false;
    for (int u = 0; u < 2; u++) {
        for (int d = 0; d < (dup ? 2 : 1) && urls[u]; d++) {
            char sig[29];
            twilio_signature(a, token, urls[u], params, n, d == 1, sig);
            ok |= strlen(sig) == TWILIO_SIG_LEN && crypto_equal(sig, header, TWILIO_SIG_LEN);
        }
    }
    return ok;
}

/* A number as Twilio writes it ("+15551234567", "whatsapp:+15551234567")
 * → its digits into out[16]; false when it is not a number. */
static bool strip_number(const char *s, char out[16])
{
    if (!s)
        return false;
    if (strncmp(s, "whatsapp:", 9) == 0)
        s += 9;
    if (*s == '+')
        s++;
    if (!number_valid(s))
        return false;
    snprintf(out, 16, "%s", s);
    return true;
}

/* The events of a verified form: a status callback (MessageSid,
 * MessageStatus, ErrorCode) or an incoming message (From, To, Body). A
 * status callback without a status and a message from something that is
 * not a number (another channel) are ignored; a sid that does not fit is
 * malformed. */
static enum channel_inbound_verdict read_events(const char *rest, const char *ref,
                                                const struct param *ps, size_t n, struct arena *a,
                                                struct channel_event **events, size_t *count)
{
    struct channel_event *ev = arena_calloc(a, 1, sizeof *ev);
    const char *sid = param(ps, n, "MessageSid");
    if (!sid)
        sid = param(ps, n, "SmsSid");
    if (sid && strlen(sid) >= sizeof ev->provider_ref)
        return INBOUND_MALFORMED;
    if (strcmp(rest, "status") == 0) {
        const char *status = param(ps, n, "MessageStatus");
        if (!status)
            status = param(ps, n, "SmsStatus");
        if (!sid || !status || !*status)
            return INBOUND_EVENTS;
        ev->kind = CHANNEL_EV_STATUS;
        snprintf(ev->provider_ref, sizeof ev->provider_ref, "%s", sid);
        if (word_valid(ref, true) && strlen(ref) < sizeof ev->ref)
            snprintf(ev->ref, sizeof ev->ref, "%s", ref);
        utf8_clean(status, ev->status, sizeof ev->status);
        ev->delivery = twilio_delivery(status);
        const char *code = param(ps, n, "ErrorCode");
        if (code && *code && strcmp(code, "0") != 0)
            utf8_clean(code, ev->code, sizeof ev->code);
        if (ev->delivery == DELIVERY_FAILED && code)
            ev->reason = report_reason(strtol(code, NULL, 10));
        const char *message = param(ps, n, "ErrorMessage");
        if (message && *message)
            utf8_clean(message, ev->description, sizeof ev->description);
        /* a status callback carries no time of the event: now */
        ev->at = time_now();
    } else {
        ev->kind = CHANNEL_EV_REPLY;
        if (!strip_number(param(ps, n, "From"), ev->from) ||
            !strip_number(param(ps, n, "To"), ev->to))
            return INBOUND_EVENTS;
        /* the incoming message's own sid, for deduplication */
        if (sid)
            snprintf(ev->provider_ref, sizeof ev->provider_ref, "%s", sid);
        const char *body = param(ps, n, "Body");
        ev->text = arena_strdup(a, body ? body : "");
        ev->at = time_now();
    }
    *events = ev;
    *count = 1;
    return INBOUND_EVENTS;
}

/* A form POST to …/status or …/reply, signed with X-Twilio-Signature. */
static enum channel_inbound_verdict twilio_inbound(const struct channel *ch,
                                                   const struct provider_inbound *rq,
                                                   struct arena *a, struct channel_event **events,
                                                   size_t *n, struct channel_inbound_reply *reply)
{
    const struct twilio *t = ch->state;
    *events = NULL;
    *n = 0;
    if (!rq->method || strcmp(rq->method, "POST") != 0 || !rq->rest ||
        (strcmp(rq->rest, "status") != 0 && strcmp(rq->rest, "reply") != 0))
        return INBOUND_MALFORMED;
    if (rq->content_type && *rq->content_type &&
        strncasecmp(rq->content_type, "application/x-www-form-urlencoded", 33) != 0)
        return INBOUND_MALFORMED;
    const char *sig = rq->header ? rq->header(rq->header_cls, "X-Twilio-Signature") : NULL;
    if (!sig || !*sig || !rq->url)
        return INBOUND_FORBIDDEN;
    struct param *ps;
    size_t np;
    if (!parse_form(a, rq->body ? rq->body : "", rq->body ? rq->body_len : 0, &ps, &np))
        return INBOUND_MALFORMED;
    if (!signature_ok(a, t->auth_token, rq->url, ps, np, sig))
        return INBOUND_FORBIDDEN;
    /* What to answer an incoming message: Twilio reads the answer as TwiML,
     * and a text/plain body is sent back to the customer as a reply. An
     * empty <Response> sends nothing. */
    if (strcmp(rq->rest, "reply") == 0 && reply)
        *reply = (struct channel_inbound_reply){200, "text/xml", "<Response></Response>"};
    /* the status callback URL carries our reference (?ref=, signed with it) */
    const char *ref = rq->query ? rq->query(rq->query_cls, "ref") : NULL;
    return read_events(rq->rest, ref, ps, np, a, events, n);
}

const struct channel_ops channel_twilio_ops = {
    .kind = "twilio",
    .channels = 1u << CHANNEL_SMS | 1u << CHANNEL_WHATSAPP,
    .settings = twilio_settings,
    .create = twilio_create,
    .destroy = twilio_destroy,
    .send = twilio_send,
    .query = twilio_query,
    .receipt_delay = TWILIO_RECEIPT_DELAY,
    .inbound = twilio_inbound,
};
