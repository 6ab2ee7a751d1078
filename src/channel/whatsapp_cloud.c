/*
 * whatsapp_cloud.c — the Meta WhatsApp Cloud API (kind "whatsapp-cloud"):
 * WhatsApp messages through the Graph API, status and reply webhooks
 * (spec/providers.md section 2; the India payments of 2.8 are not used).
 *
 * Sending: POST {base_url}/{api_version}/{phone_number_id}/messages with
 * "Authorization: Bearer <access_token>". A message with a button goes as
 * an interactive cta_url message, one without as text; both carry our ref
 * in biz_opaque_callback_data, which the status webhooks echo. When Meta
 * answers 131047 (the 24-hour customer-service window is closed) and the
 * merchant has an approved template, the message is sent once more as that
 * template; without one the send is refused with CHANNEL_R_WINDOW_CLOSED
 * (the caller may fall back to SMS). Meta often takes the message and
 * reports 131047 or 131026 later, in the status webhook: the event carries
 * the same reason, and the caller sends the template alone, or falls back. Meta offers no
 * idempotency key and no per-message status query: a send that may have been acted on is
 * CHANNEL_UNKNOWN and the status webhook tells what became of it.
 *
 * Inbound: GET is the subscription handshake (hub.mode, hub.verify_token,
 * hub.challenge); POST is a webhook signed with X-Hub-Signature-256, the
 * lower-case hex HMAC-SHA256 of the raw body under the app secret, checked
 * before the body is parsed. Meta retries failed deliveries for days and
 * may send duplicates and out of order: every event is passed on, the
 * store dedupes on (wamid, status) and on the reply's message id.
 *
 * The wire logic is in pure functions (the request body, the
 * classification of an answer, the status mapping, the signature, the
 * webhook parser) that tests/unit/test_channel_whatsapp_cloud.c includes
 * this file to reach.
 */
#include "channel/channel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"
#include "net/net.h"
#include "util/json.h"
#include "util/crypto.h"
#include "util/utf8.h"

#define WA_DEFAULT_BASE    "https://graph.facebook.com"
#define WA_DEFAULT_VERSION "v21.0"
#define WA_BODY_CHARS      1024             /* interactive body.text, characters */
#define WA_BUTTON_CHARS    20               /* cta_url display_text, characters */
#define WA_CHALLENGE_MAX   128              /* hub.challenge we echo, characters */
#define WA_TIMEOUT_DEFAULT (10LL * 1000000) /* when the instance has none */
#define WA_CONNECT_MS      5000
#define WA_MAX_RESPONSE    (64 * 1024)
#define WA_RETRY_MAX       (3600LL * 1000000) /* the longest Retry-After honoured */
/* ❓ no language given with the template: Meta's own samples use en_US; a
 * wrong guess costs one refused template send (132001), nothing more */
#define WA_TEMPLATE_LANG "en_US"

/* Meta's error codes that decide something (spec/providers.md 2.4). */
enum {
    WA_E_SERVICE_DOWN = 2,
    WA_E_TOKEN = 190,
    WA_E_WABA_RATE = 80007,
    WA_E_THROUGHPUT = 130429,
    WA_E_NOT_ON_WHATSAPP = 131026,
    WA_E_WINDOW = 131047,
    WA_E_PAIR_RATE = 131056,
};

/* An instance: the settings, resolved once. */
struct wa {
    struct net *net;
    char *access_token, *app_secret, *verify_token;
    char *url;          /* {base_url}/{api_version}/{phone_number_id}/messages */
    char *pnid;         /* phone_number_id: the webhook events this instance takes */
    char *auth;         /* "Bearer <access_token>" */
    bool allow_private; /* base_url is not Meta's (a test fake on loopback) */
};

static const struct provider_setting wa_settings[] = {
    {"access_token", true, true, "Graph API access token (system user), sent as Bearer"},
    {"app_secret", true, true, "the Meta app's secret: signs the webhooks (X-Hub-Signature-256)"},
    {"verify_token", true, true, "the token Meta sends in the webhook subscription handshake"},
    {"phone_number_id", true, false, "the WhatsApp business phone number's id (not the number)"},
    {"api_version", false, false, "Graph API version, default " WA_DEFAULT_VERSION},
    {"base_url", false, false, "Graph API base URL, default " WA_DEFAULT_BASE},
    {NULL, false, false, NULL},
};

/* ---- small helpers ---------------------------------------------------------------------- */

/* Bytes of s that hold its first max characters (a malformed byte counts
 * as one), so that a cut never splits a character. */
static size_t utf8_prefix(const char *s, size_t max)
{
    size_t len = strlen(s), at = 0;
    for (size_t chars = 0; at < len && chars < max; chars++) {
        uint32_t cp;
        size_t k = utf8_next((const unsigned char *)s + at, len - at, &cp);
        at += k ? k : 1;
    }
    return at;
}

/* "message (details)" into out[cap], well-formed UTF-8, no control
 * characters, cut at a character boundary; "" when both are absent. */
static void describe(char *out, size_t cap, const char *message, const char *details)
{
    char full[512];
    bool m = message && *message, d = details && *details && !(m && !strcmp(details, message));
    snprintf(full, sizeof full, "%s%s%s%s", m ? message : "", m && d ? " (" : "", d ? details : "",
             m && d ? ")" : "");
    for (char *p = full; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    if (cap < 8) {
        if (cap)
            out[0] = '\0';
        return;
    }
    utf8_clean(full, out, cap);
}

/* Copy the digits of a phone number ("+1 555-010-0000" → "15550100000")
 * into out[cap]; false (out "") when it holds anything else or too many. */
static bool copy_digits(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    out[0] = '\0';
    for (; s && *s; s++) {
        if (*s >= '0' && *s <= '9') {
            if (n + 1 >= cap) {
                out[0] = '\0';
                return false;
            }
            out[n++] = *s;
        } else if (!strchr("+ -().", *s)) {
            out[0] = '\0';
            return false;
        }
    }
    out[n] = '\0';
    return n > 0;
}

/* Copy s into out[cap] when it fits whole (an id cut short would match
 * nothing); "" otherwise. */
static void copy_whole(char *out, size_t cap, const char *s)
{
    if (s && strlen(s) < cap)
        memcpy(out, s, strlen(s) + 1);
    else
        out[0] = '\0';
}

/* Unix seconds (a string of digits, as Meta sends them, or a number) → µs;
 * 0 when absent or not a time. */
static usec_t unix_seconds(json_object *v)
{
    long long secs = 0;
    if (v && json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        size_t n = strlen(s);
        if (n == 0 || n > 11 || strspn(s, "0123456789") != n)
            return 0;
        secs = strtoll(s, NULL, 10);
    } else if (v && json_object_is_type(v, json_type_int)) {
        secs = (long long)json_object_get_int64(v);
        if (secs < 0 || secs > 99999999999LL)
            return 0;
    }
    return (usec_t)secs * 1000000;
}

/* A Graph API path segment (phone number id, version): [A-Za-z0-9._-]. */
static bool segment_ok(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= 64 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n &&
           strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Visible ASCII only: a value that goes into a header as it is. */
static bool visible_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

/* ---- the request ------------------------------------------------------------------------- */

/* The body of a send: interactive cta_url (a button), text, or the
 * merchant's template (use_template). */
static json_object *wa_request(const struct channel_message *m, bool use_template)
{
    const char *text = m->text ? m->text : "";
    json_object *o = json_object_new_object();
    json_object_object_add(o, "messaging_product", json_object_new_string("whatsapp"));
    json_object_object_add(o, "recipient_type", json_object_new_string("individual"));
    json_object_object_add(o, "to", json_object_new_string(m->to ? m->to : ""));
    if (m->ref && *m->ref)
        json_object_object_add(o, "biz_opaque_callback_data", json_object_new_string(m->ref));
    if (use_template) {
        json_object_object_add(o, "type", json_object_new_string("template"));
        json_object *t = json_object_new_object();
        json_object_object_add(t, "name", json_object_new_string(m->template_name));
        json_object *lang = json_object_new_object();
        json_object_object_add(lang, "code",
                               json_object_new_string(m->template_lang && *m->template_lang
                                                          ? m->template_lang
                                                          : WA_TEMPLATE_LANG));
        json_object_object_add(t, "language", lang);
        /* ❓ a template without variables is sent without components (an
         * empty parameters list may be refused as a count mismatch) */
        if (m->ntemplate_params) {
            json_object *params = json_object_new_array();
            for (size_t i = 0; i < m->ntemplate_params; i++) {
                json_object *p = json_object_new_object();
                json_object_object_add(p, "type", json_object_new_string("text"));
                const char *v = m->template_params[i] ? m->template_params[i] : "";
                json_object_object_add(p, "text", json_object_new_string(v));
                json_object_array_add(params, p);
            }
            json_object *body = json_object_new_object();
            json_object_object_add(body, "type", json_object_new_string("body"));
            json_object_object_add(body, "parameters", params);
            json_object *components = json_object_new_array();
            json_object_array_add(components, body);
            json_object_object_add(t, "components", components);
        }
        json_object_object_add(o, "template", t);
    } else if (m->button_url && *m->button_url) {
        json_object_object_add(o, "type", json_object_new_string("interactive"));
        const char *label = m->button_text && *m->button_text ? m->button_text : "Pay";
        json_object *body = json_object_new_object();
        json_object_object_add(
            body, "text", json_object_new_string_len(text, (int)utf8_prefix(text, WA_BODY_CHARS)));
        json_object *params = json_object_new_object();
        json_object_object_add(
            params, "display_text",
            json_object_new_string_len(label, (int)utf8_prefix(label, WA_BUTTON_CHARS)));
        json_object_object_add(params, "url", json_object_new_string(m->button_url));
        json_object *action = json_object_new_object();
        json_object_object_add(action, "name", json_object_new_string("cta_url"));
        json_object_object_add(action, "parameters", params);
        json_object *in = json_object_new_object();
        json_object_object_add(in, "type", json_object_new_string("cta_url"));
        json_object_object_add(in, "body", body);
        json_object_object_add(in, "action", action);
        json_object_object_add(o, "interactive", in);
    } else {
        json_object_object_add(o, "type", json_object_new_string("text"));
        json_object *t = json_object_new_object();
        json_object_object_add(t, "body", json_object_new_string(text));
        json_object_object_add(t, "preview_url", json_object_new_boolean(1));
        json_object_object_add(o, "text", t);
    }
    return o;
}

/* ---- what an answer means ---------------------------------------------------------------- */

/* The outcome of one send from the transfer and Meta's answer. Meta asks
 * integrators to key on error.code and error_data.details rather than on
 * the HTTP status, so the code decides first, the status after. */
static void wa_classify(const struct net_response *res, struct channel_result *out)
{
    memset(out, 0, sizeof *out);
    out->http_code = res->status;
    /* an error page too large to read is still its status */
    bool big_error = res->error == NET_TOO_LARGE && res->status > 0 &&
                     !(res->status >= 200 && res->status < 300);
    if (res->error != NET_OK && !big_error) {
        /* a request that went out may have been acted on (a read timeout,
         * a body too large to read): only the webhook can tell */
        if (res->sent || res->error == NET_TOO_LARGE)
            out->outcome = CHANNEL_UNKNOWN;
        else if (res->error == NET_BAD_URL || res->error == NET_REFUSED_ADDRESS)
            out->outcome = CHANNEL_REJECTED; /* the configured base_url cannot be called */
        else
            out->outcome = CHANNEL_TRANSIENT; /* resolve, connect, TLS, timeout, cancelled */
        describe(out->description, sizeof out->description, net_error_name(res->error),
                 res->message);
        return;
    }
    int http = res->status;
    json_object *root = big_error ? NULL : json_parse_whole(res->body, res->body_len);
    json_object *err = json_member(root, "error", json_type_object);
    if (http >= 200 && http < 300 && !err) {
        json_object *msgs = json_member(root, "messages", json_type_array);
        json_object *first = msgs ? json_object_array_get_idx(msgs, 0) : NULL;
        const char *id = json_member_string(first, "id");
        if (id && *id && strlen(id) < sizeof out->provider_ref) {
            out->outcome = CHANNEL_SENT;
            copy_whole(out->provider_ref, sizeof out->provider_ref, id);
            describe(out->description, sizeof out->description,
                     json_member_string(first, "message_status"), NULL);
        } else {
            out->outcome = CHANNEL_UNKNOWN;
            snprintf(out->description, sizeof out->description,
                     root ? "HTTP %d without a usable message id"
                          : "HTTP %d and a body that is not JSON",
                     http);
        }
        json_object_put(root);
        return;
    }
    json_object *code_v = json_member(err, "code", json_type_int);
    long long code = code_v ? (long long)json_object_get_int64(code_v) : -1;
    if (code_v)
        snprintf(out->code, sizeof out->code, "%lld", code);
    if (err)
        describe(out->description, sizeof out->description, json_member_string(err, "message"),
                 json_member_string(json_member(err, "error_data", json_type_object), "details"));
    else
        snprintf(out->description, sizeof out->description,
                 root ? "HTTP %d without an error object" : "HTTP %d and a body that is not JSON",
                 http);
    json_object_put(root);

    /* the exact waits after a rate limit are not documented: 130429 is a
     * per-second throughput limit (a short wait), 131056 and 80007 limits
     * on one recipient / the whole account (a longer one) */
    switch (code) {
    case WA_E_TOKEN:
        out->outcome = CHANNEL_REJECTED;
        out->reason = CHANNEL_R_AUTH;
        return;
    case WA_E_NOT_ON_WHATSAPP:
        out->outcome = CHANNEL_REJECTED;
        out->reason = CHANNEL_R_NOT_ON_CHANNEL;
        return;
    case WA_E_WINDOW:
        out->outcome = CHANNEL_REJECTED;
        out->reason = CHANNEL_R_WINDOW_CLOSED;
        return;
    case WA_E_THROUGHPUT:
        out->outcome = CHANNEL_TRANSIENT;
        out->retry_after = 2LL * 1000000;
        return;
    case WA_E_PAIR_RATE:
    case WA_E_WABA_RATE:
        out->outcome = CHANNEL_TRANSIENT;
        out->retry_after = 10LL * 1000000;
        return;
    case WA_E_SERVICE_DOWN:
        out->outcome = CHANNEL_TRANSIENT;
        return;
    default:
        break;
    }
    if (http == 401 || http == 403) {
        out->outcome = CHANNEL_REJECTED;
        out->reason = CHANNEL_R_AUTH;
    } else if (http == 503 || http == 429) {
        out->outcome = CHANNEL_TRANSIENT; /* refused before any work: retry */
        out->retry_after = net_retry_after(res->retry_after, WA_RETRY_MAX);
    } else if (http >= 400 && http < 500 && err) {
        out->outcome = CHANNEL_REJECTED; /* 100, 131031, 131042, 131048, 131049, 131008, ... */
    } else {
        /* other 5xx, an error page or a body we cannot read: Meta may have
         * taken the message */
        out->outcome = CHANNEL_UNKNOWN;
    }
}

/* A message's state as the status webhook names it. */
static enum channel_delivery wa_delivery(const char *status)
{
    if (!status)
        return DELIVERY_PENDING;
    if (!strcmp(status, "delivered") || !strcmp(status, "read"))
        return DELIVERY_DELIVERED;
    if (!strcmp(status, "failed"))
        return DELIVERY_FAILED;
    return DELIVERY_PENDING; /* sent, and states we do not know */
}

/* ---- sending ----------------------------------------------------------------------------- */

/* How a request is carried: net_perform, or a fake in the unit tests. */
typedef void (*wa_perform_fn)(void *cls, const struct net_request *rq, struct net_response *res);

static void wa_net_perform(void *cls, const struct net_request *rq, struct net_response *res)
{
    net_perform(cls, rq, res);
}

/* Meta's text may quote what it was given: never keep a description that
 * holds a secret or the start of the message. */
static void scrub(const struct wa *w, const struct channel_message *m, struct channel_result *out)
{
    const char *secrets[] = {w->access_token, w->app_secret, w->verify_token};
    bool leak = false;
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++)
        leak |= secrets[i] && strlen(secrets[i]) >= 6 && strstr(out->description, secrets[i]);
    if (m->text && strlen(m->text) >= 16) {
        char head[17];
        snprintf(head, sizeof head, "%s", m->text);
        leak |= strstr(out->description, head) != NULL;
    }
    if (leak)
        snprintf(out->description, sizeof out->description,
                 "(the provider's text is withheld: it quoted the message or a credential)");
}

/* One POST of the message (as the template when use_template), bounded by
 * what is left until deadline (time_mono). */
static void wa_post(const struct wa *w, const struct channel *ch, const struct channel_message *m,
                    bool use_template, usec_t deadline, wa_perform_fn perform, void *cls,
                    struct channel_result *out)
{
    usec_t left = deadline - time_mono();
    if (left < 1000) {
        memset(out, 0, sizeof *out);
        out->outcome = CHANNEL_TRANSIENT;
        snprintf(out->description, sizeof out->description, "no time left for the request");
        return;
    }
    json_object *body = wa_request(m, use_template);
    size_t len;
    const char *text = json_object_to_json_string_length(
        body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    const struct net_header headers[] = {
        {"Authorization", w->auth},
        {"Content-Type", "application/json"},
        {"Accept", "application/json"},
    };
    unsigned timeout_ms = left / 1000 > 600000 ? 600000 : (unsigned)(left / 1000);
    struct net_request rq = {
        .method = "POST",
        .url = w->url,
        .headers = headers,
        .nheaders = sizeof headers / sizeof headers[0],
        .body = text,
        .body_len = len,
        .connect_timeout_ms = timeout_ms < WA_CONNECT_MS ? timeout_ms : WA_CONNECT_MS,
        .timeout_ms = timeout_ms,
        .max_response = WA_MAX_RESPONSE,
        .allow_private = w->allow_private,
        .cancel = ch->cancel,
    };
    struct net_response res;
    perform(cls, &rq, &res);
    wa_classify(&res, out);
    net_response_free(&res);
    json_object_put(body);
    scrub(w, m, out);
}

/* The send: once as it is, and once more as the template when the
 * 24-hour window turns out to be closed (the template alone when asked). */
static void wa_send_with(const struct channel *ch, const struct channel_message *m,
                         wa_perform_fn perform, void *cls, struct channel_result *out)
{
    const struct wa *w = ch->state;
    memset(out, 0, sizeof *out);
    if (m->channel != CHANNEL_WHATSAPP || !m->to || !*m->to) {
        out->outcome = CHANNEL_REJECTED;
        snprintf(out->description, sizeof out->description,
                 m->channel != CHANNEL_WHATSAPP ? "whatsapp-cloud carries WhatsApp messages only"
                                                : "no recipient number");
        return;
    }
    usec_t deadline = time_mono() + (ch->timeout > 0 ? ch->timeout : WA_TIMEOUT_DEFAULT);
    if (m->template_only && m->template_name && *m->template_name) {
        wa_post(w, ch, m, true, deadline, perform, cls, out);
        channel_template_answered(out);
        return;
    }
    wa_post(w, ch, m, false, deadline, perform, cls, out);
    if (out->outcome == CHANNEL_REJECTED && out->reason == CHANNEL_R_WINDOW_CLOSED &&
        m->template_name && *m->template_name) {
        wa_post(w, ch, m, true, deadline, perform, cls, out);
        channel_template_answered(out);
    }
}

static void wa_send(const struct channel *ch, const struct channel_message *m,
                    struct channel_result *out)
{
    const struct wa *w = ch->state;
    wa_send_with(ch, m, wa_net_perform, w->net, out);
}

/* ---- inbound ----------------------------------------------------------------------------- */

/* Is header "sha256=<hex>" the lower-case hex HMAC-SHA256 of body under
 * secret? Constant time over the digest. */
static bool wa_signature_ok(const char *secret, const void *body, size_t len, const char *header)
{
    if (!header || strlen(header) != 7 + 64 || memcmp(header, "sha256=", 7) != 0)
        return false;
    uint8_t mac[32];
    char hex[65];
    crypto_hmac_sha256(secret, strlen(secret), body ? body : "", len, mac);
    crypto_hex(mac, sizeof mac, hex);
    return crypto_equal(header + 7, hex, 64);
}

/* Two strings equal, in time that depends on neither (their digests are
 * compared). */
static bool equal_secret(const char *a, const char *b)
{
    uint8_t da[32], db[32];
    crypto_sha256(a, strlen(a), da);
    crypto_sha256(b, strlen(b), db);
    return crypto_equal(da, db, sizeof da);
}

/* The subscription handshake: echo hub.challenge when the mode is
 * subscribe and the verify token is ours. */
static enum channel_inbound_verdict wa_handshake(const struct wa *w,
                                                 const struct provider_inbound *rq, struct arena *a,
                                                 struct channel_inbound_reply *reply)
{
    if (!rq->query)
        return INBOUND_FORBIDDEN;
    const char *mode = rq->query(rq->query_cls, "hub.mode");
    const char *token = rq->query(rq->query_cls, "hub.verify_token");
    const char *challenge = rq->query(rq->query_cls, "hub.challenge");
    if (!mode || strcmp(mode, "subscribe") != 0 || !token || !equal_secret(token, w->verify_token))
        return INBOUND_FORBIDDEN;
    size_t n = challenge ? strlen(challenge) : 0;
    if (n == 0 || n > WA_CHALLENGE_MAX ||
        strspn(challenge, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n)
        return INBOUND_FORBIDDEN;
    reply->status = 200;
    reply->content_type = "text/plain";
    reply->body = arena_strdup(a, challenge);
    return INBOUND_ANSWER;
}

/* A status item → a STATUS event; false when it names no message. */
static bool status_event(json_object *st, struct channel_event *ev)
{
    const char *status = json_member_string(st, "status");
    const char *type = json_member_string(st, "type");
    if (!status || (type && strcmp(type, "message") != 0)) /* payments (2.8) are not ours */
        return false;
    memset(ev, 0, sizeof *ev);
    ev->kind = CHANNEL_EV_STATUS;
    copy_whole(ev->provider_ref, sizeof ev->provider_ref, json_member_string(st, "id"));
    copy_whole(ev->ref, sizeof ev->ref, json_member_string(st, "biz_opaque_callback_data"));
    if (!ev->provider_ref[0] && !ev->ref[0])
        return false;
    snprintf(ev->status, sizeof ev->status, "%s", status);
    ev->delivery = wa_delivery(status);
    json_object *ts;
    ev->at = json_object_object_get_ex(st, "timestamp", &ts) ? unix_seconds(ts) : 0;
    json_object *errors = json_member(st, "errors", json_type_array);
    json_object *e = errors ? json_object_array_get_idx(errors, 0) : NULL;
    if (e && json_object_is_type(e, json_type_object)) {
        json_object *code = json_member(e, "code", json_type_int);
        if (code)
            snprintf(ev->code, sizeof ev->code, "%lld", (long long)json_object_get_int64(code));
        /* Meta reports these two in the status more often than in the
         * send's answer */
        if (code && ev->delivery == DELIVERY_FAILED)
            ev->reason = json_object_get_int64(code) == WA_E_NOT_ON_WHATSAPP
                             ? CHANNEL_R_NOT_ON_CHANNEL
                         : json_object_get_int64(code) == WA_E_WINDOW ? CHANNEL_R_WINDOW_CLOSED
                                                                      : CHANNEL_R_OTHER;
        const char *msg = json_member_string(e, "message");
        describe(ev->description, sizeof ev->description,
                 msg ? msg : json_member_string(e, "title"),
                 json_member_string(json_member(e, "error_data", json_type_object), "details"));
    }
    return true;
}

/* The text of a customer's message: a text body, a template's quick-reply
 * button, or an interactive reply's title; NULL for the other types. */
static const char *reply_text(json_object *msg)
{
    const char *type = json_member_string(msg, "type");
    if (!type)
        return NULL;
    if (!strcmp(type, "text"))
        return json_member_string(json_member(msg, "text", json_type_object), "body");
    if (!strcmp(type, "button")) {
        json_object *b = json_member(msg, "button", json_type_object);
        return json_member_string(b, "text") ? json_member_string(b, "text")
                                             : json_member_string(b, "payload");
    }
    if (!strcmp(type, "interactive")) {
        json_object *in = json_member(msg, "interactive", json_type_object);
        json_object *r = json_member(in, "button_reply", json_type_object);
        if (!r)
            r = json_member(in, "list_reply", json_type_object);
        return json_member_string(r, "title");
    }
    return NULL;
}

/* A message item → a REPLY event (provider_ref: its wamid, for dedup);
 * false for types we do not read or a sender that is not a number. */
static bool reply_event(json_object *msg, const char *to, struct arena *a, struct channel_event *ev)
{
    const char *text = reply_text(msg);
    if (!text)
        return false;
    memset(ev, 0, sizeof *ev);
    ev->kind = CHANNEL_EV_REPLY;
    if (!copy_digits(ev->from, sizeof ev->from, json_member_string(msg, "from")))
        return false;
    snprintf(ev->to, sizeof ev->to, "%s", to);
    copy_whole(ev->provider_ref, sizeof ev->provider_ref, json_member_string(msg, "id"));
    json_object *ts;
    ev->at = json_object_object_get_ex(msg, "timestamp", &ts) ? unix_seconds(ts) : 0;
    ev->text = arena_strdup(a, text);
    return true;
}

/* Walk the changes of field "messages": count their items (evs NULL) or
 * turn them into events; returns how many. A Meta app's webhook carries the
 * events of every business number of the app, each change naming its
 * number (metadata.phone_number_id): those of another number than pnid
 * (NULL: any) are not this provider's, and are left out (a change that
 * names none is taken). A STOP sent to
 * another number (another merchant's, a support line) is no opt-out from
 * this merchant, and another number's reports are not its messages'. */
static size_t walk(json_object *entries, const char *pnid, struct arena *a,
                   struct channel_event *evs)
{
    size_t n = 0;
    for (size_t i = 0; i < json_object_array_length(entries); i++) {
        json_object *changes =
            json_member(json_object_array_get_idx(entries, i), "changes", json_type_array);
        for (size_t j = 0; changes && j < json_object_array_length(changes); j++) {
            json_object *change = json_object_array_get_idx(changes, j);
            const char *field = json_member_string(change, "field");
            json_object *value = json_member(change, "value", json_type_object);
            if (!field || strcmp(field, "messages") != 0 || !value)
                continue;
            const char *id = json_member_string(json_member(value, "metadata", json_type_object),
                                                "phone_number_id");
            if (pnid && id && strcmp(id, pnid) != 0)
                continue;
            json_object *sts = json_member(value, "statuses", json_type_array);
            json_object *msgs = json_member(value, "messages", json_type_array);
            size_t nst = sts ? json_object_array_length(sts) : 0;
            size_t nmsg = msgs ? json_object_array_length(msgs) : 0;
            if (!evs) {
                n += nst + nmsg;
                continue;
            }
            char to[16];
            copy_digits(to, sizeof to,
                        json_member_string(json_member(value, "metadata", json_type_object),
                                           "display_phone_number"));
            for (size_t k = 0; k < nst; k++)
                n += status_event(json_object_array_get_idx(sts, k), &evs[n]);
            for (size_t k = 0; k < nmsg; k++)
                n += reply_event(json_object_array_get_idx(msgs, k), to, a, &evs[n]);
        }
    }
    return n;
}

/* A webhook body (signature already checked) → events in the arena. */
static enum channel_inbound_verdict wa_parse(const char *body, size_t len, const char *pnid,
                                             struct arena *a, struct channel_event **events,
                                             size_t *n)
{
    *events = NULL;
    *n = 0;
    json_object *root = json_parse_whole(body, len);
    if (!root || !json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return INBOUND_MALFORMED;
    }
    const char *object = json_member_string(root, "object");
    json_object *entries = json_member(root, "entry", json_type_array);
    if (object && strcmp(object, "whatsapp_business_account") != 0) {
        json_object_put(root); /* another product's webhook: nothing for us */
        return INBOUND_EVENTS;
    }
    if (!entries) {
        json_object_put(root);
        return INBOUND_MALFORMED;
    }
    size_t max = walk(entries, pnid, a, NULL);
    if (max) {
        *events = arena_calloc(a, max, sizeof **events);
        *n = walk(entries, pnid, a, *events);
        if (*n == 0)
            *events = NULL;
    }
    json_object_put(root);
    return INBOUND_EVENTS;
}

static enum channel_inbound_verdict wa_inbound(const struct channel *ch,
                                               const struct provider_inbound *rq, struct arena *a,
                                               struct channel_event **events, size_t *n,
                                               struct channel_inbound_reply *reply)
{
    const struct wa *w = ch->state;
    *events = NULL;
    *n = 0;
    if (rq->method && !strcmp(rq->method, "GET"))
        return wa_handshake(w, rq, a, reply);
    if (!rq->method || strcmp(rq->method, "POST") != 0)
        return INBOUND_FORBIDDEN;
    const char *sig = rq->header ? rq->header(rq->header_cls, "X-Hub-Signature-256") : NULL;
    if (!wa_signature_ok(w->app_secret, rq->body, rq->body_len, sig))
        return INBOUND_FORBIDDEN;
    return wa_parse(rq->body, rq->body_len, w->pnid, a, events, n);
}

/* ---- the instance ------------------------------------------------------------------------ */

/* Free an instance, its secrets wiped first. */
static void wa_destroy(void *state)
{
    struct wa *w = state;
    if (!w)
        return;
    char *secrets[] = {w->access_token, w->app_secret, w->verify_token, w->auth};
    for (size_t i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
        if (secrets[i])
            explicit_bzero(secrets[i], strlen(secrets[i]));
        free(secrets[i]);
    }
    free(w->url);
    free(w->pnid);
    free(w);
}

/* Check the settings and resolve them into an instance. */
static void *wa_create(const struct provider_config *cfg, char *err, size_t errlen)
{
    for (const struct provider_setting *s = wa_settings; s->name; s++)
        if (s->required && !provider_setting(cfg, s->name)) {
            snprintf(err, errlen, "%s is required", s->name);
            return NULL;
        }
    const char *token = provider_setting(cfg, "access_token");
    const char *pnid = provider_setting(cfg, "phone_number_id");
    const char *version = provider_setting(cfg, "api_version");
    const char *base = provider_setting(cfg, "base_url");
    version = version ? version : WA_DEFAULT_VERSION;
    base = base ? base : WA_DEFAULT_BASE;
    if (!visible_ascii(token)) {
        snprintf(err, errlen, "access_token holds spaces or control characters");
        return NULL;
    }
    if (!segment_ok(pnid)) {
        snprintf(err, errlen, "phone_number_id must be letters, digits, '.', '_' or '-'");
        return NULL;
    }
    if (!segment_ok(version)) {
        snprintf(err, errlen, "api_version must look like v21.0");
        return NULL;
    }
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    size_t scheme = !strncmp(base, "https://", 8) ? 8 : !strncmp(base, "http://", 7) ? 7 : 0;
    char b[512];
    if (!scheme || blen <= scheme || blen >= sizeof b || strpbrk(base, "?#") ||
        !visible_ascii(base)) {
        snprintf(err, errlen, "base_url must be an http(s) URL without query or fragment");
        return NULL;
    }
    memcpy(b, base, blen);
    b[blen] = '\0';
    char url[1024], auth[1024];
    if ((size_t)snprintf(url, sizeof url, "%s/%s/%s/messages", b, version, pnid) >= sizeof url ||
        (size_t)snprintf(auth, sizeof auth, "Bearer %s", token) >= sizeof auth) {
        snprintf(err, errlen, "access_token is too long");
        return NULL;
    }

    struct wa *w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->net = cfg->net;
    w->access_token = strdup(token);
    w->app_secret = strdup(provider_setting(cfg, "app_secret"));
    w->verify_token = strdup(provider_setting(cfg, "verify_token"));
    w->url = strdup(url);
    w->pnid = strdup(pnid);
    w->auth = strdup(auth);
    explicit_bzero(auth, sizeof auth);
    /* the SSRF guard is lifted (allow_private) only for a sandbox
     * merchant's provider whose base_url is not Meta's public default, i.e.
     * an offline fake on loopback in tests: a production merchant's calls
     * and Meta's own host always go through the guard */
    w->allow_private = cfg->test_mode && strcmp(b, WA_DEFAULT_BASE) != 0;
    if (!w->access_token || !w->app_secret || !w->verify_token || !w->url || !w->pnid || !w->auth) {
        wa_destroy(w);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return w;
}

const struct channel_ops channel_whatsapp_cloud_ops = {
    .kind = "whatsapp-cloud",
    .channels = 1u << CHANNEL_WHATSAPP,
    .settings = wa_settings,
    .create = wa_create,
    .destroy = wa_destroy,
    .send = wa_send,
    .query = NULL, /* the Cloud API has no per-message status query: webhooks only */
    .receipt_delay = 0,
    .inbound = wa_inbound,
};
