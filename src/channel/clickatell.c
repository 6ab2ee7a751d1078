/*
 * clickatell.c — the Clickatell Platform "One API" channel: SMS and
 * WhatsApp through one integration (spec/providers.md section 1).
 *
 * Send: POST {base_url}/v1/message with one message per request, the
 * integration's raw API key in Authorization (no scheme word) and our
 * reference as clientMessageId. 202 (or 207) with messages[0].accepted is
 * SENT under its apiMessageId; the error codes of the error table decide the
 * rest (classify_send). One API has no idempotency key: a request that may
 * have reached Clickatell (a timeout after it went out, 500 code 18, an
 * unreadable 202) is CHANNEL_UNKNOWN and is reconciled, never sent again.
 *
 * Query: GET {base_url}/v1/message/{apiMessageId} answers the message's
 * state per channel ({"sms": {"status": "QUEUED", "timestamp": ms}}); an
 * unknown id has no channel key. Receipts normally come by callback, so
 * the query is a late reconciliation (receipt_delay 10 minutes).
 *
 * Inbound: the integration's status and reply callbacks (configured in the
 * Clickatell portal as <inbound_url>/status and <inbound_url>/reply; either
 * path takes either kind, the body says what it is). One API documents no
 * signature: the long random token in the URL, checked by the caller, is
 * the only proof, so callbacks are hints that the status query can confirm.
 *
 * The wire logic is in pure functions (send_body, classify_send,
 * classify_response, delivery_of, read_receipt, parse_callback), tested
 * without a network by tests/unit/test_channel_clickatell.c, which includes
 * this file.
 */
#include "channel/channel.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/status.h"
#include "net/net.h"
#include "util/json.h"
#include "util/utf8.h"

#define CLICKATELL_DEFAULT_URL "https://platform.clickatell.com"
#define CLICKATELL_KEY_MAX     512
#define CLICKATELL_CONNECT_MS  5000
/* code 43 (rate limit) documents no Retry-After ❓: wait a second */
#define CLICKATELL_RATE_WAIT (1LL * 1000000)
#define CLICKATELL_RETRY_MAX (3600LL * 1000000) /* the longest Retry-After honoured */
/* the status query is a reconciliation: receipts normally come by callback */
#define CLICKATELL_RECEIPT_DELAY (10LL * 60 * 1000000)
/* the last millisecond of 9999-12-31 (a timestamp beyond is not one) */
#define CLICKATELL_MS_MAX 253402300799999LL

typedef void (*perform_fn)(struct net *n, const struct net_request *rq, struct net_response *out);

struct clickatell {
    struct net *net;
    perform_fn perform; /* net_perform (the unit tests put a fake here) */
    char *api_key;
    char base_url[256]; /* without a trailing '/' */
    char sms_from[16], whatsapp_from[16];
    bool allow_private; /* base_url is not the public host: a local fake */
};

static const struct provider_setting clickatell_settings[] = {
    {"api_key", true, true,
     "the integration's API key (Clickatell portal), sent as it is in Authorization"},
    {"base_url", false, false, "the One API address (default " CLICKATELL_DEFAULT_URL ")"},
    {"sms_from", false, false, "the integration's two-way SMS number, digits (optional)"},
    {"whatsapp_from", false, false, "the integration's WhatsApp number, digits (optional)"},
    {0},
};

/* ---- small helpers ------------------------------------------------------------------------ */

/* Copy provider text s into out[cap] (cap >= 8) as well-formed UTF-8 with
 * control characters made spaces (it goes to logs and tables). */
static void copy_text(char *out, size_t cap, const char *s)
{
    if (!s || !*s) {
        out[0] = '\0';
        return;
    }
    size_t n = strlen(s);
    if (n < cap && utf8_valid(s))
        memcpy(out, s, n + 1);
    else
        utf8_clean(s, out, cap); /* cut at a character, ends with "…" */
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
}

/* Is s one to fifteen digits? */
static bool is_msisdn(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++)
        if (s[n] < '0' || s[n] > '9')
            return false;
    return n >= 1 && n <= 15;
}

/* The digits of s (a number written "+27 82-555 0001" or "27825550001")
 * into out[16]; false when there are none or more than fifteen. */
static bool digits_of(const char *s, char out[16])
{
    size_t n = 0;
    for (; s && *s; s++) {
        if (*s < '0' || *s > '9')
            continue;
        if (n == 15)
            return false;
        out[n++] = *s;
    }
    out[n] = '\0';
    return n > 0;
}

/* A provider's numeric code as text into out[16] ("" when it is not a
 * plausible one). */
static void code_text(char out[16], int64_t code)
{
    if (code >= 0 && code <= 999999999)
        snprintf(out, 16, "%d", (int)code);
    else
        out[0] = '\0';
}

/* A JSON integer, an integral number or a string of digits as an int64
 * (Clickatell writes codes as numbers; strings are taken in case). */
static bool int_of(json_object *v, int64_t *out)
{
    if (!v)
        return false;
    switch (json_object_get_type(v)) {
    case json_type_int:
        *out = json_object_get_int64(v);
        return true;
    case json_type_double: {
        double d = json_object_get_double(v);
        if (!(d >= -9e15 && d <= 9e15) || d != (double)(int64_t)d)
            return false;
        *out = (int64_t)d;
        return true;
    }
    case json_type_string: {
        const char *s = json_object_get_string(v);
        size_t n = strlen(s);
        if (n == 0 || n > 18 || strspn(s, "0123456789") != n)
            return false;
        *out = strtoll(s, NULL, 10);
        return true;
    }
    default:
        return false;
    }
}

/* A member of o as an int64 (see int_of). */
static bool int_member(json_object *o, const char *key, int64_t *out)
{
    json_object *v;
    return o && json_object_object_get_ex(o, key, &v) && int_of(v, out);
}

/* An epoch-milliseconds timestamp (or an RFC 3339 text) as usec_t; 0 when
 * it is neither. */
static usec_t time_of(json_object *v)
{
    int64_t ms;
    if (int_of(v, &ms))
        return ms > 0 && ms <= CLICKATELL_MS_MAX ? ms * 1000 : 0;
    usec_t t;
    const char *s = v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
    return *s && time_parse_rfc3339(s, strlen(s), &t) ? t : 0;
}

/* ---- the request -------------------------------------------------------------------------- */

/* One API's name of a channel, NULL for one it does not carry. */
static const char *wire_channel(int channel)
{
    return channel == CHANNEL_SMS ? "sms" : channel == CHANNEL_WHATSAPP ? "whatsapp" : NULL;
}

/* The body of POST /v1/message for m (text; with template, the merchant's
 * template instead), in the arena, its length in *len.
 *
 * A WhatsApp message with a button: One API documents no button for a
 * text message, so the text (which already holds the link) goes as it is;
 * button_text and button_url are not sent.
 *
 * A template goes in the 2019 `hsm` shape {"template": name, "parameters":
 * {"1": p1, "2": p2, ...}} (providers.md 1.3). The current shape is
 * UNCONFIRMED ❓: if it changed, the template send is refused with a code
 * of the error table and the message fails like any refused one (no
 * duplicate, no money at stake); template_lang has no place in that shape. */
static const char *send_body(struct arena *a, const struct clickatell *st,
                             const struct channel_message *m, bool template, size_t *len)
{
    json_object *msg = json_object_new_object();
    json_add_string(msg, "channel", wire_channel(m->channel), false);
    json_add_string(msg, "to", m->to, false);
    if (template) {
        json_object *hsm = json_object_new_object(), *params = json_object_new_object();
        json_add_string(hsm, "template", m->template_name, false);
        for (size_t i = 0; i < m->ntemplate_params; i++) {
            char key[24];
            snprintf(key, sizeof key, "%zu", i + 1);
            const char *p = m->template_params[i];
            json_object_object_add(params, key, json_object_new_string(p ? p : ""));
        }
        json_object_object_add(hsm, "parameters", params);
        json_object_object_add(msg, "hsm", hsm);
    } else {
        json_add_string(msg, "content", m->text ? m->text : "", false);
    }
    json_add_string(msg, "clientMessageId", m->ref, true);
    const char *from = m->from && *m->from              ? m->from
                       : m->channel == CHANNEL_WHATSAPP ? st->whatsapp_from
                                                        : st->sms_from;
    json_add_string(msg, "from", from, true);
    json_object *messages = json_object_new_array();
    json_object_array_add(messages, msg);
    json_object *root = json_object_new_object();
    json_object_object_add(root, "messages", messages);
    const char *text = json_text(a, root, len);
    json_object_put(root);
    return text;
}

/* ---- what an answer means ----------------------------------------------------------------- */

/* The error table (providers.md 1.4): what each code means for a send. A
 * code not listed is judged by the HTTP status (outcome_of_http). */
static const struct {
    int code;
    enum channel_outcome outcome;
    enum channel_reason reason;
} send_codes[] = {
    {1, CHANNEL_REJECTED, CHANNEL_R_AUTH},    /* invalid or missing API key (401) */
    {7, CHANNEL_REJECTED, CHANNEL_R_AUTH},    /* caller IP not approved (401) */
    {2, CHANNEL_REJECTED, CHANNEL_R_OTHER},   /* account not active */
    {3, CHANNEL_REJECTED, CHANNEL_R_OTHER},   /* integration not active */
    {18, CHANNEL_UNKNOWN, CHANNEL_R_OTHER},   /* internal error (500): may have been acted on */
    {19, CHANNEL_TRANSIENT, CHANNEL_R_OTHER}, /* internal error, retry (503) */
    {20, CHANNEL_REJECTED, CHANNEL_R_OTHER},  /* insufficient balance (402) */
    {21, CHANNEL_REJECTED, CHANNEL_R_OTHER},  /* malformed payload */
    {22, CHANNEL_REJECTED, CHANNEL_R_OTHER},  /* too many messages */
    {23, CHANNEL_REJECTED, CHANNEL_R_OTHER},  /* invalid or missing parameter */
    {24, CHANNEL_REJECTED, CHANNEL_R_OTHER},  /* content too long */
    {25, CHANNEL_REJECTED, CHANNEL_R_OTHER},  /* invalid recipient */
    {26, CHANNEL_REJECTED, CHANNEL_R_OPTED_OUT},
    {27, CHANNEL_REJECTED, CHANNEL_R_NOT_ON_CHANNEL},
    {28, CHANNEL_REJECTED, CHANNEL_R_OTHER}, /* recipient not on the sandbox */
    {29, CHANNEL_REJECTED, CHANNEL_R_OTHER}, /* (status table: recipient does not exist) */
    {30, CHANNEL_REJECTED, CHANNEL_R_OTHER}, /* 30-33: media */
    {31, CHANNEL_REJECTED, CHANNEL_R_OTHER},
    {32, CHANNEL_REJECTED, CHANNEL_R_OTHER},
    {33, CHANNEL_REJECTED, CHANNEL_R_OTHER},
    {38, CHANNEL_REJECTED, CHANNEL_R_OTHER},  /* channel not active on the integration */
    {39, CHANNEL_REJECTED, CHANNEL_R_OTHER},  /* channel not available on the integration */
    {40, CHANNEL_REJECTED, CHANNEL_R_OTHER},  /* charset not supported */
    {41, CHANNEL_REJECTED, CHANNEL_R_OTHER},  /* resource does not exist */
    {42, CHANNEL_REJECTED, CHANNEL_R_OTHER},  /* method not supported */
    {43, CHANNEL_TRANSIENT, CHANNEL_R_OTHER}, /* rate limit (HTTP 400, not 429) */
    {44, CHANNEL_REJECTED, CHANNEL_R_OTHER},  /* FROM number suspended */
    {45, CHANNEL_REJECTED, CHANNEL_R_OTHER},  /* FROM number not linked to the integration */
    {46, CHANNEL_REJECTED, CHANNEL_R_OTHER},  /* demo access expired */
    {100, CHANNEL_REJECTED, CHANNEL_R_OTHER}, /* SMS: too many parts */
    {101, CHANNEL_REJECTED, CHANNEL_R_OTHER}, /* SMS: no two-way at the destination */
    {110, CHANNEL_REJECTED, CHANNEL_R_OTHER}, /* SMS: USA two-way rules */
    {111, CHANNEL_REJECTED, CHANNEL_R_OTHER},
    /* RE_ENGAGEMENT_REQUIRED is in the status table only ❓: taken as an
     * error code too, so that send() can try the template */
    {131, CHANNEL_REJECTED, CHANNEL_R_WINDOW_CLOSED},
};

/* What an HTTP status alone says about a send (no code, or one not in the
 * table). A 2xx without acceptance is judged by the caller. */
static void outcome_of_http(int http, struct channel_result *out)
{
    out->reason = CHANNEL_R_OTHER;
    if (http == 401 || http == 403) {
        out->outcome = CHANNEL_REJECTED;
        out->reason = CHANNEL_R_AUTH;
    } else if (http == 408 || http == 425 || http == 429 || http == 503) {
        out->outcome = CHANNEL_TRANSIENT; /* refused before it was acted on */
        if (http == 429)
            out->retry_after = CLICKATELL_RATE_WAIT;
    } else if (http >= 500) {
        out->outcome = CHANNEL_UNKNOWN; /* 500 and the rest: may have been acted on */
    } else if (http >= 300 && http < 500) {
        out->outcome = CHANNEL_REJECTED; /* 3xx: redirects are not followed (base_url?) */
    } else {
        out->outcome = CHANNEL_UNKNOWN;
    }
}

/* out from a One API error object {"code", "description"}. */
static void outcome_of_error(int http, json_object *err, struct channel_result *out)
{
    int64_t code;
    copy_text(out->description, sizeof out->description, json_member_string(err, "description"));
    if (!int_member(err, "code", &code)) {
        outcome_of_http(http, out);
        if (http >= 200 && http < 300)
            out->outcome = CHANNEL_REJECTED; /* an error in a 2xx: the message was refused */
        return;
    }
    code_text(out->code, code);
    for (size_t i = 0; i < sizeof send_codes / sizeof send_codes[0]; i++) {
        if (send_codes[i].code == code) {
            out->outcome = send_codes[i].outcome;
            out->reason = send_codes[i].reason;
            if (code == 43)
                out->retry_after = CLICKATELL_RATE_WAIT;
            return;
        }
    }
    outcome_of_http(http, out);
    if (http >= 200 && http < 300)
        out->outcome = CHANNEL_REJECTED; /* a message-level error in a 202/207 */
}

/* What the answer to POST /v1/message (HTTP status and body) means.
 * Global errors are {"error": {...}}; message-level ones are
 * messages[0].error with accepted false (one message per request). */
static void classify_send(int http, const char *body, size_t len, struct channel_result *out)
{
    memset(out, 0, sizeof *out);
    out->http_code = http;
    json_object *root = json_parse_object(body, len);
    json_object *msgs = json_member(root, "messages", json_type_array);
    json_object *msg =
        msgs && json_object_array_length(msgs) > 0 ? json_object_array_get_idx(msgs, 0) : NULL;
    if (msg && !json_object_is_type(msg, json_type_object))
        msg = NULL;
    json_object *accepted = json_member(msg, "accepted", json_type_boolean);
    json_object *err = json_member(root, "error", json_type_object);
    if (!err)
        err = json_member(msg, "error", json_type_object);

    if (http >= 200 && http < 300 && accepted && json_object_get_boolean(accepted)) {
        out->outcome = CHANNEL_SENT;
        copy_text(out->provider_ref, sizeof out->provider_ref,
                  json_member_string(msg, "apiMessageId"));
        snprintf(out->description, sizeof out->description, "%s",
                 out->provider_ref[0] ? "accepted" : "accepted without an apiMessageId");
    } else if (err) {
        outcome_of_error(http, err, out);
        if (!out->description[0])
            snprintf(out->description, sizeof out->description, "HTTP %d", http);
    } else if (http >= 200 && http < 300) {
        if (accepted) {
            out->outcome = CHANNEL_REJECTED; /* accepted false and no error */
            snprintf(out->description, sizeof out->description, "not accepted");
        } else {
            /* it may have been taken: reconcile, do not send again */
            out->outcome = CHANNEL_UNKNOWN;
            snprintf(out->description, sizeof out->description, "%s",
                     len == 0 ? "empty answer" : "unreadable answer");
        }
    } else {
        outcome_of_http(http, out);
        snprintf(out->description, sizeof out->description, "HTTP %d", http);
    }
    json_object_put(root);
}

/* What a net_perform result means for a send: the answer when one came;
 * otherwise TRANSIENT when the request cannot have gone out and UNKNOWN
 * when it may have (net_response.sent). */
static void classify_response(const struct net_response *res, struct channel_result *out)
{
    if (res->error == NET_OK) {
        classify_send(res->status, res->body ? res->body : "", res->body ? res->body_len : 0, out);
        /* a rate limit's own wait when the answer gives one */
        usec_t wait = net_retry_after(res->retry_after, CLICKATELL_RETRY_MAX);
        if (out->outcome == CHANNEL_TRANSIENT && wait)
            out->retry_after = wait;
        return;
    }
    memset(out, 0, sizeof *out);
    out->http_code = res->status;
    if (res->error == NET_TOO_LARGE && res->status > 0 &&
        !(res->status >= 200 && res->status < 300)) {
        classify_send(res->status, "", 0, out);
        return;
    }
    if (res->error == NET_TOO_LARGE)
        out->outcome = CHANNEL_UNKNOWN; /* a 2xx we cannot read */
    else if (res->error == NET_BAD_URL || res->error == NET_REFUSED_ADDRESS)
        out->outcome = CHANNEL_REJECTED; /* base_url cannot be called (or is refused by the
                                          * SSRF guard): trying again does not change that */
    else
        out->outcome = res->sent ? CHANNEL_UNKNOWN : CHANNEL_TRANSIENT;
    snprintf(out->description, sizeof out->description, "%s: %.100s", net_error_name(res->error),
             res->message);
}

/* ---- what became of a message ------------------------------------------------------------- */

/* The status table (providers.md 1.7; names as the status query writes
 * them). */
static const struct {
    const char *name;
    int code;
} statuses[] = {
    {"UNKNOWN", 1},
    {"QUEUED", 2},
    {"SCHEDULED", 3},
    {"SENT_TO_SUPPLIER", 4},
    {"DEVICE_ACK", 5},
    {"READ", 6},
    {"EXPIRED", 20},
    {"STOPPED_BY_USER", 21},
    {"STOPPED_BY_ADMIN", 22},
    {"DELIVERY_FAILURE", 23},
    {"EMULATED", 24},
    {"INSUFFICIENT_ACCOUNT_BALANCE", 25},
    {"VOLUME_LIMIT", 26},
    {"VOLUME_LIMIT_DAILY", 27},
    {"VOLUME_LIMIT_MONTHLY", 28},
    {"RECIPIENT_DOES_NOT_EXIST", 29},
    {"ENCRYPTION_ACCESS_DENIED", 60},
    {"ENCRYPTION_CONTENT_ERROR", 61},
    {"ROUTING_ERROR", 100},
    {"WHATSAPP_ACCOUNT_PAYMENT_ISSUE", 130},
    {"WHATSAPP_RE_ENGAGEMENT_REQUIRED", 131},
    {"RE_ENGAGEMENT_REQUIRED", 131},
    {"WHATSAPP_SPAM_RATE_LIMIT_REACHED", 132},
    {"WHATSAPP_SERVER_RATE_LIMIT", 133},
    {"WHATSAPP_EXPERIMENTAL_NUMBER", 139},
};

/* The code of a status name, -1 when it is not in the table. */
static int status_code_of(const char *name)
{
    for (size_t i = 0; name && i < sizeof statuses / sizeof statuses[0]; i++)
        if (strcasecmp(statuses[i].name, name) == 0)
            return statuses[i].code;
    return -1;
}

/* The name of a status code, NULL when it is not in the table. */
static const char *status_name_of(int64_t code)
{
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (statuses[i].code == code)
            return statuses[i].name;
    return NULL;
}

/* What a message status means: by its code when known (code >= 0), else by
 * its name. DEVICE_ACK (5) and READ (6) are delivered; 20-29, 60-61
 * (encryption), 80-85 (media), 100 and 130 up (WhatsApp, templates) are
 * failures; the rest (queued, sent to the supplier, unknown) is pending. */
static enum channel_delivery delivery_of(int64_t code, const char *name)
{
    if (code < 0 && name) {
        code = status_code_of(name);
        if (code < 0 &&
            (strncasecmp(name, "WHATSAPP_", 9) == 0 || strncasecmp(name, "MEDIA_", 6) == 0 ||
             strncasecmp(name, "ENCRYPTION_", 11) == 0))
            return DELIVERY_FAILED; /* 80-85 and 140 up have no fixed code here */
    }
    if (code == 5 || code == 6)
        return DELIVERY_DELIVERED;
    if ((code >= 20 && code <= 29) || code == 60 || code == 61 || (code >= 80 && code <= 85) ||
        code == 100 || code >= 130)
        return DELIVERY_FAILED;
    return DELIVERY_PENDING;
}

/* The state in a status object (a callback item, or an entry of the status
 * query): its delivery, its name into status[32], and its code into
 * code[16] when it is a failure. Returns the delivery. */
static enum channel_delivery read_status(json_object *o, char status[32], char code[16])
{
    int64_t n = -1;
    const char *name = json_member_string(o, "status");
    if (!int_member(o, "statusCode", &n) && !(name == NULL && int_member(o, "status", &n)))
        n = name ? status_code_of(name) : -1;
    if (!name)
        name = status_name_of(n);
    enum channel_delivery d = delivery_of(n, name);
    if (name)
        copy_text(status, 32, name);
    else if (n >= 0)
        code_text(status, n);
    if (d == DELIVERY_FAILED && n >= 0)
        code_text(code, n);
    return d;
}

/* Why a message failed, from its status code (read_status's code text):
 * 131 RE_ENGAGEMENT_REQUIRED is WhatsApp's closed 24-hour window. */
static enum channel_reason failure_reason(enum channel_delivery d, const char *code)
{
    return d == DELIVERY_FAILED && strcmp(code, "131") == 0 ? CHANNEL_R_WINDOW_CLOSED
                                                            : CHANNEL_R_OTHER;
}

/* What the answer to GET /v1/message/{id} means. An id Clickatell does not
 * know is answered without a channel key (known false); an answer that is
 * not a status says nothing (pending, known false). */
static void read_receipt(int http, const char *body, size_t len, struct channel_receipt *out)
{
    memset(out, 0, sizeof *out);
    out->delivery = DELIVERY_PENDING;
    out->http_code = http;
    json_object *root = json_parse_object(body, len);
    if (http == 200 && root) {
        json_object *entry = json_member(root, "whatsapp", json_type_object);
        if (!entry)
            entry = json_member(root, "sms", json_type_object);
        if (entry) {
            out->known = true;
            out->delivery = read_status(entry, out->status, out->code);
            out->reason = failure_reason(out->delivery, out->code);
            json_object *ts;
            out->at = json_object_object_get_ex(entry, "timestamp", &ts) ? time_of(ts) : 0;
        } else {
            snprintf(out->description, sizeof out->description, "unknown message");
        }
    } else {
        json_object *err = json_member(root, "error", json_type_object);
        int64_t code;
        if (int_member(err, "code", &code))
            code_text(out->code, code);
        copy_text(out->description, sizeof out->description,
                  json_member_string(err, "description"));
        if (!out->description[0])
            snprintf(out->description, sizeof out->description, "HTTP %d", http);
    }
    json_object_put(root);
}

/* ---- callbacks ---------------------------------------------------------------------------- */

/* A STATUS event from an event.messageStatusUpdate[] item; false when it
 * names no message. */
static bool status_event(json_object *item, struct channel_event *ev)
{
    const char *id = json_member_string(item, "messageId"),
               *ref = json_member_string(item, "clientMessageId");
    if ((!id || !*id) && (!ref || !*ref))
        return false;
    ev->kind = CHANNEL_EV_STATUS;
    copy_text(ev->provider_ref, sizeof ev->provider_ref, id);
    copy_text(ev->ref, sizeof ev->ref, ref);
    ev->delivery = read_status(item, ev->status, ev->code);
    ev->reason = failure_reason(ev->delivery, ev->code);
    json_object *ts;
    ev->at = json_object_object_get_ex(item, "timestamp", &ts) ? time_of(ts) : 0;
    return true;
}

/* A REPLY event from an event.moText[] item; false when its sender is not
 * a number. provider_ref is the reply's own messageId (duplicates are
 * expected). */
static bool reply_event(struct arena *a, json_object *item, struct channel_event *ev)
{
    if (!digits_of(json_member_string(item, "from"), ev->from))
        return false;
    if (!digits_of(json_member_string(item, "to"), ev->to))
        ev->to[0] = '\0';
    ev->kind = CHANNEL_EV_REPLY;
    copy_text(ev->provider_ref, sizeof ev->provider_ref, json_member_string(item, "messageId"));
    const char *content = json_member_string(item, "content");
    ev->text = arena_strdup(a, content ? content : "");
    json_object *ts;
    ev->at = json_object_object_get_ex(item, "timestamp", &ts) ? time_of(ts) : 0;
    return true;
}

/* The events of a callback body {"integrationId", "integrationName",
 * "event": {"messageStatusUpdate": [...], "moText": [...], ...}}. Other
 * event kinds (moMedia, moLocation, ...), extra fields and items that name
 * no message are skipped; a body that is not such an object is MALFORMED.
 * The status shape comes from a third party's receiver (providers.md 1.7
 * 🟡), so every field is optional. */
static enum channel_inbound_verdict parse_callback(const char *body, size_t len, struct arena *a,
                                                   struct channel_event **events, size_t *n)
{
    *events = NULL;
    *n = 0;
    json_object *root = json_parse_object(body, len);
    json_object *event = json_member(root, "event", json_type_object);
    if (!event) {
        json_object_put(root);
        return INBOUND_MALFORMED;
    }
    json_object *st = json_member(event, "messageStatusUpdate", json_type_array);
    json_object *mo = json_member(event, "moText", json_type_array);
    size_t nst = st ? json_object_array_length(st) : 0, nmo = mo ? json_object_array_length(mo) : 0;
    struct channel_event *evs = arena_calloc(a, nst + nmo ? nst + nmo : 1, sizeof *evs);
    size_t k = 0;
    for (size_t i = 0; i < nst; i++) {
        json_object *item = json_object_array_get_idx(st, i);
        if (json_object_is_type(item, json_type_object) && status_event(item, &evs[k]))
            k++;
    }
    for (size_t i = 0; i < nmo; i++) {
        json_object *item = json_object_array_get_idx(mo, i);
        if (json_object_is_type(item, json_type_object) && reply_event(a, item, &evs[k]))
            k++;
    }
    json_object_put(root);
    *events = evs;
    *n = k;
    return INBOUND_EVENTS;
}

/* ---- the operations ----------------------------------------------------------------------- */

/* A request to One API. Its timeout is what is left of the operation's:
 * the first request of an operation (*deadline 0) gets the instance's
 * whole timeout and sets *deadline (µs, time_mono) to its end; the next
 * ones get what is left until then, so that a send of two requests ends
 * within the timeout like one (a send job's lease is sized for one).
 * false when nothing is left. allow_private is set only when base_url is
 * not Clickatell's public host (a local fake in the tests): the public
 * host must pass the SSRF guard like any other call. */
static bool request(const struct channel *ch, const struct clickatell *st, usec_t *deadline,
                    const char *method, const char *url, const struct net_header *headers,
                    size_t nheaders, const char *body, size_t len, struct net_request *rq)
{
    unsigned timeout = 0; /* the instance has none: net's default */
    if (ch->timeout > 0) {
        usec_t left = ch->timeout;
        if (!*deadline)
            *deadline = time_mono() + ch->timeout;
        else if ((left = *deadline - time_mono()) < 1000)
            return false;
        usec_t ms = left / 1000;
        timeout = ms > UINT_MAX ? UINT_MAX : ms ? (unsigned)ms : 1;
    }
    *rq = (struct net_request){
        .method = method,
        .url = url,
        .headers = headers,
        .nheaders = nheaders,
        .body = body,
        .body_len = len,
        .connect_timeout_ms =
            timeout && timeout < CLICKATELL_CONNECT_MS ? timeout : CLICKATELL_CONNECT_MS,
        .timeout_ms = timeout,
        .max_response = 64 * 1024,
        .allow_private = st->allow_private,
        .cancel = ch->cancel,
    };
    return true;
}

/* POST one message body, within what is left of the operation's timeout
 * (see request), and judge the answer. */
static void post_message(const struct channel *ch, const struct clickatell *st, usec_t *deadline,
                         const char *body, size_t len, struct channel_result *out)
{
    char url[320];
    snprintf(url, sizeof url, "%s/v1/message", st->base_url);
    const struct net_header headers[] = {
        {"Authorization", st->api_key},
        {"Content-Type", "application/json"},
        {"Accept", "application/json"},
    };
    struct net_request rq;
    if (!request(ch, st, deadline, "POST", url, headers, sizeof headers / sizeof headers[0], body,
                 len, &rq)) {
        memset(out, 0, sizeof *out);
        out->outcome = CHANNEL_TRANSIENT; /* nothing went out */
        snprintf(out->description, sizeof out->description, "no time left to send");
        return;
    }
    struct net_response res;
    st->perform(st->net, &rq, &res);
    classify_response(&res, out);
    net_response_free(&res);
}

/* Send m. A WhatsApp text refused because the customer must re-engage (the
 * 24-hour window is closed) goes once more as the merchant's template when
 * there is one; a refused request was not acted on, so this is no
 * duplicate. Both requests share the instance's timeout: when the first
 * took it all, the template is not sent and the send is TRANSIENT. */
static void clickatell_send(const struct channel *ch, const struct channel_message *m,
                            struct channel_result *out)
{
    const struct clickatell *st = ch->state;
    memset(out, 0, sizeof *out);
    if (!wire_channel(m->channel)) {
        out->outcome = CHANNEL_REJECTED;
        snprintf(out->description, sizeof out->description, "channel not carried by Clickatell");
        return;
    }
    if (!is_msisdn(m->to)) {
        out->outcome = CHANNEL_REJECTED;
        snprintf(out->description, sizeof out->description, "the recipient is not a number");
        return;
    }
    usec_t deadline = 0; /* set by the first request */
    struct arena *a = arena_new(0);
    size_t len;
    bool template_only =
        m->template_only && m->channel == CHANNEL_WHATSAPP && m->template_name && *m->template_name;
    const char *body = send_body(a, st, m, template_only, &len);
    post_message(ch, st, &deadline, body, len, out);
    if (template_only)
        channel_template_answered(out);
    if (!template_only && m->channel == CHANNEL_WHATSAPP && out->outcome == CHANNEL_REJECTED &&
        out->reason == CHANNEL_R_WINDOW_CLOSED && m->template_name && *m->template_name) {
        body = send_body(a, st, m, true, &len);
        post_message(ch, st, &deadline, body, len, out);
        channel_template_answered(out);
    }
    arena_free(a);
}

/* Is s an apiMessageId we may put in a path (letters, digits, '-', '_')? */
static bool id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 80)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

/* Ask GET /v1/message/{apiMessageId}. Any failure to ask leaves the message
 * pending (and known false): the caller asks again later. */
static void clickatell_query(const struct channel *ch, const char *merchant_id,
                             const char *provider_ref, const char *ref, const char *to,
                             struct channel_receipt *out)
{
    const struct clickatell *st = ch->state;
    memset(out, 0, sizeof *out);
    out->delivery = DELIVERY_PENDING;
    if (!id_ok(provider_ref)) {
        snprintf(out->description, sizeof out->description, "no apiMessageId to ask about");
        return;
    }
    char url[400];
    snprintf(url, sizeof url, "%s/v1/message/%s", st->base_url, provider_ref);
    const struct net_header headers[] = {
        {"Authorization", st->api_key},
        {"Accept", "application/json"},
    };
    struct net_request rq;
    usec_t deadline = 0;
    request(ch, st, &deadline, "GET", url, headers, sizeof headers / sizeof headers[0], NULL, 0,
            &rq); /* the first request of its operation: never refused */
    struct net_response res;
    st->perform(st->net, &rq, &res);
    if (res.error == NET_OK) {
        read_receipt(res.status, res.body ? res.body : "", res.body ? res.body_len : 0, out);
    } else {
        out->http_code = res.status;
        snprintf(out->description, sizeof out->description, "%s: %.100s", net_error_name(res.error),
                 res.message);
    }
    net_response_free(&res);
}

/* A callback: POST to <inbound_url>/status or /reply (or the bare URL);
 * a GET (some portals probe the URL) is answered 200 "ok". The token in
 * the URL was checked by the caller; One API signs nothing ❓. */
static enum channel_inbound_verdict
clickatell_inbound(const struct channel *ch, const struct provider_inbound *rq, struct arena *a,
                   struct channel_event **events, size_t *n, struct channel_inbound_reply *reply)
{
    *events = NULL;
    *n = 0;
    if (rq->method && strcmp(rq->method, "GET") == 0) {
        reply->status = 200;
        reply->content_type = "text/plain; charset=utf-8";
        reply->body = "ok";
        return INBOUND_ANSWER;
    }
    const char *rest = rq->rest ? rq->rest : "";
    if (!rq->method || strcmp(rq->method, "POST") != 0 ||
        (*rest && strcmp(rest, "status") != 0 && strcmp(rest, "reply") != 0))
        return INBOUND_MALFORMED;
    return parse_callback(rq->body, rq->body_len, a, events, n);
}

/* Is base a usable base URL: http(s)://host[:port][/path], no white
 * space, query or fragment? */
static bool base_url_ok(const char *base)
{
    const char *host = strncmp(base, "https://", 8) == 0  ? base + 8
                       : strncmp(base, "http://", 7) == 0 ? base + 7
                                                          : NULL;
    if (!host || !*host || *host == '/' || *host == ':')
        return false;
    for (const char *p = base; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '?' || *p == '#' || *p == '@')
            return false;
    return true;
}

/* Is the key sendable as a header value (printable ASCII)? */
static bool key_ok(const char *key)
{
    size_t n = strlen(key);
    if (n > CLICKATELL_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7e)
            return false;
    return true;
}

/* A sender number setting (digits; a leading '+' is dropped) into out[16];
 * false with a message when it is not one. */
static bool from_setting(const struct provider_config *cfg, const char *name, char out[16],
                         char *err, size_t errlen)
{
    const char *v = provider_setting(cfg, name);
    out[0] = '\0';
    if (!v)
        return true;
    if (*v == '+')
        v++;
    if (!is_msisdn(v)) {
        snprintf(err, errlen, "%s must be a number: up to 15 digits, no '+'", name);
        return false;
    }
    snprintf(out, 16, "%s", v);
    return true;
}

/* Check the settings and keep them (the key copied). */
static void *clickatell_create(const struct provider_config *cfg, char *err, size_t errlen)
{
    const char *key = provider_setting(cfg, "api_key");
    if (!key) {
        snprintf(err, errlen, "api_key is required (the integration's API key)");
        return NULL;
    }
    if (!key_ok(key)) {
        snprintf(err, errlen, "api_key is not a key (printable characters, at most %d)",
                 CLICKATELL_KEY_MAX);
        return NULL;
    }
    const char *base = provider_setting(cfg, "base_url");
    if (!base)
        base = CLICKATELL_DEFAULT_URL;
    struct clickatell tmp = {.perform = net_perform};
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    if (blen >= sizeof tmp.base_url) {
        snprintf(err, errlen, "base_url is too long (at most %zu characters)",
                 sizeof tmp.base_url - 1);
        return NULL;
    }
    memcpy(tmp.base_url, base, blen);
    tmp.base_url[blen] = '\0';
    if (!base_url_ok(tmp.base_url)) {
        snprintf(err, errlen, "base_url must be an http:// or https:// address");
        return NULL;
    }
    if (!from_setting(cfg, "sms_from", tmp.sms_from, err, errlen) ||
        !from_setting(cfg, "whatsapp_from", tmp.whatsapp_from, err, errlen))
        return NULL;
    /* a test fake on loopback is reachable only for a sandbox merchant's
     * provider with another base URL than Clickatell's own */
    tmp.allow_private = cfg->test_mode && strcasecmp(tmp.base_url, CLICKATELL_DEFAULT_URL) != 0;
    tmp.net = cfg->net;
    struct clickatell *st = malloc(sizeof *st);
    char *k = strdup(key);
    if (!st || !k) {
        free(st);
        free(k);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    *st = tmp;
    st->api_key = k;
    return st;
}

/* Free the state, the key wiped first. */
static void clickatell_destroy(void *state)
{
    struct clickatell *st = state;
    if (!st)
        return;
    explicit_bzero(st->api_key, strlen(st->api_key));
    free(st->api_key);
    free(st);
}

const struct channel_ops channel_clickatell_ops = {
    .kind = "clickatell",
    .channels = 1u << CHANNEL_SMS | 1u << CHANNEL_WHATSAPP,
    .settings = clickatell_settings,
    .create = clickatell_create,
    .destroy = clickatell_destroy,
    .send = clickatell_send,
    .query = clickatell_query,
    .receipt_delay = CLICKATELL_RECEIPT_DELAY,
    .confirm_reports = true,
    .drops_oversize = true, /* event.moMedia[]: base64 content inline */
    .inbound = clickatell_inbound,
};
