/*
 * stripe.c — the Stripe gateway: Checkout Sessions, PaymentIntents, Refunds
 * and webhooks (spec/providers.md section 4).
 *
 * Pay: a Checkout Session (mode payment, one line with the link's total,
 * capture_method manual for an Authorization, client_reference_id and
 * metadata = our references, success_url back to /p/{token}/return,
 * cancel_url back to the link's page, expires_at 31 minutes after the
 * operation was stored: Stripe's smallest), created with Idempotency-Key =
 * our operation reference, so that the customer coming back gets the same
 * session. The session's id is kept with the operation (gw_checkout).
 *
 * Result: the session is retrieved, then its PaymentIntent (with its latest
 * charge, for the card's brand, last digits and expiry); only a completed
 * session with a succeeded (sale) or requires_capture (authorization)
 * intent is ACCEPT. A session still open (the customer may still pay; a
 * decline on Stripe's page lets them try another card) or expired is not
 * final: the repair sweep closes it (expire) when the page's time is up.
 *
 * Capture (partial allowed), cancel (the reversal of an uncaptured
 * authorization) and refunds go with Idempotency-Key = our operation's
 * reference: doing one again after a lost answer replays Stripe's stored
 * answer. Stripe has no void of a captured payment: a void (of an unsettled
 * sale or capture) is a refund of all of it there. A refund Stripe has not
 * completed (pending) is kept by its id (re_...) and asked about later. A
 * refund whose answer was lost before its id was known is looked for among
 * the PaymentIntent's refunds (metadata[chatpay_ref]) before it is sent
 * again: Stripe prunes idempotency keys after 24 hours, and unlike a capture
 * or cancel a second refund is not refused by the PaymentIntent's state.
 *
 * Webhooks: Stripe-Signature is checked (t within 300 s in the past, any
 * v1 = hex HMAC-SHA256 of "t." + the raw body under the whsec_ secret as
 * it is); checkout.session.*, payment_intent.* and refund.* events name our
 * reference (client_reference_id or metadata.chatpay_ref), and chatpay then
 * retrieves the objects itself before recording anything.
 *
 * Requests follow the SDK's retry rules: only requests that are safe to
 * repeat (GET, or POST with an Idempotency-Key) are retried, on a refused
 * connection, 409, 429 with Stripe-Should-Retry: true, or 5xx unless
 * Stripe-Should-Retry: false; 0.5 s, then 1 s, within the call's time.
 */
#include "gateway/gateway.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "net/net.h"
#include "util/crypto.h"
#include "util/form.h"
#include "util/json.h"
#include "util/log.h"

#define STRIPE_DEFAULT_BASE "https://api.stripe.com"
#define STRIPE_VERSION      "2024-06-20"
#define STRIPE_TOLERANCE_S  300  /* a webhook's t may be this old */
#define STRIPE_EXPIRY_S     1860 /* a session lives 31 minutes (Stripe's smallest is 30) */
#define STRIPE_TRIES        3
#define STRIPE_MAX_BODY     (256 * 1024)
#define STRIPE_ID_MAX       40 /* a PaymentIntent's or refund's id, kept in request_ref */
#define STRIPE_LIST_PAGES   5  /* pages of 100 refunds looked through for a lost one */

struct stripe {
    char secret_key[256];
    char webhook_secret[256];
    char base_url[256];
    bool allow_private;
    struct net *net;
};

/* The transfer function: net_perform, replaced by the unit tests. */
static void (*perform)(struct net *n, const struct net_request *rq,
                       struct net_response *out) = net_perform;

static const struct provider_setting stripe_settings[] = {
    {"secret_key", true, true,
     "the secret API key: sk_test_… for sandbox merchants, sk_live_… for production ones "
     "(rk_ restricted keys too)"},
    {"webhook_secret", true, true,
     "the webhook endpoint's signing secret (whsec_…), from the endpoint registered at the "
     "URL `provider add` prints"},
    {"base_url", false, false, "the API's base URL (default " STRIPE_DEFAULT_BASE ")"},
    {NULL, false, false, NULL},
};

/* ---- the instance ---------------------------------------------------------------------- */

static bool key_valid(const char *k)
{
    static const char *const prefixes[] = {"sk_test_", "sk_live_", "rk_test_", "rk_live_"};
    for (size_t i = 0; i < 4; i++)
        if (strncmp(k, prefixes[i], 8) == 0 && strlen(k) > 8)
            return true;
    return false;
}

static bool live_key(const char *k)
{
    return strncmp(k + 2, "_live_", 6) == 0;
}

static bool stripe_live(const struct provider_config *cfg)
{
    const char *k = provider_setting(cfg, "secret_key");
    return k && key_valid(k) && live_key(k);
}

static void stripe_destroy(void *state)
{
    struct stripe *s = state;
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    free(s);
}

static void *stripe_create(const struct provider_config *cfg, char *err, size_t errlen)
{
    const char *key = provider_setting(cfg, "secret_key");
    const char *whsec = provider_setting(cfg, "webhook_secret");
    const char *base = provider_setting(cfg, "base_url");
    if (!key || !key_valid(key) || strlen(key) >= sizeof((struct stripe *)0)->secret_key) {
        snprintf(err, errlen, "secret_key must be a Stripe secret key (sk_test_…, sk_live_…)");
        return NULL;
    }
    if (!whsec || strncmp(whsec, "whsec_", 6) != 0 ||
        strlen(whsec) >= sizeof((struct stripe *)0)->webhook_secret) {
        snprintf(err, errlen, "webhook_secret must be a webhook signing secret (whsec_…)");
        return NULL;
    }
    if (!base)
        base = STRIPE_DEFAULT_BASE;
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/')
        n--;
    const char *host = strncmp(base, "https://", 8) == 0  ? base + 8
                       : strncmp(base, "http://", 7) == 0 ? base + 7
                                                          : NULL;
    if (!host || !*host || *host == '/' || n >= sizeof((struct stripe *)0)->base_url ||
        strchr(base, '?') || strchr(base, '#')) {
        snprintf(err, errlen, "base_url must be an http:// or https:// URL");
        return NULL;
    }
    struct stripe *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(s->secret_key, sizeof s->secret_key, "%s", key);
    snprintf(s->webhook_secret, sizeof s->webhook_secret, "%s", whsec);
    snprintf(s->base_url, sizeof s->base_url, "%.*s", (int)n, base);
    /* a test fake on loopback is reachable only for a sandbox merchant's
     * gateway with another base URL than Stripe's own */
    s->allow_private = cfg->test_mode && strcmp(s->base_url, STRIPE_DEFAULT_BASE) != 0;
    s->net = cfg->net;
    return s;
}

/* ---- requests -------------------------------------------------------------------------- */

struct reply {
    int status;        /* 0: no answer */
    json_object *body; /* the JSON object answered (NULL when none could be read) */
    bool unreachable;  /* no usable answer: the outcome is not known */
    char why[128];     /* why not, in words (never a secret) */
};

static void reply_free(struct reply *r)
{
    json_object_put(r->body);
    r->body = NULL;
}

static void pause_for(const struct gateway *g, usec_t us)
{
    usec_t end = time_now() + us;
    while (time_now() < end && !(g->cancel && atomic_load(g->cancel))) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* The deadline of one operation (a payment's result, a cancel, a
 * follow-up): its calls, and their retries, share the gateway's timeout,
 * as the repair sweep and the payment jobs' leases assume (an operation
 * is over within GW_TIMEOUT). */
static usec_t op_deadline(const struct gateway *g)
{
    return time_now() + g->timeout;
}

/* One API call, by the operation's deadline. form: the body of a POST (NULL
 * for a GET); idem: its Idempotency-Key (NULL: none, and it is then never
 * repeated). */
static void call(const struct gateway *g, struct arena *a, usec_t deadline, const char *method,
                 const char *path, const char *form, const char *idem, struct reply *out)
{
    struct stripe *s = g->state;
    memset(out, 0, sizeof *out);
    const char *url = arena_printf(a, "%s%s", s->base_url, path);
    const char *auth = arena_printf(a, "Bearer %s", s->secret_key);
    struct net_header hs[5] = {{"Authorization", auth},
                               {"Stripe-Version", STRIPE_VERSION},
                               {"Accept", "application/json"},
                               {"Content-Type", "application/x-www-form-urlencoded"},
                               {"Idempotency-Key", idem ? idem : ""}};
    bool post = strcmp(method, "POST") == 0;
    size_t nh = post ? (idem ? 5 : 4) : 3;
    bool repeatable = !post || idem;
    for (int try = 1;; try++) {
        usec_t left = deadline - time_now();
        if (left < 100000) {
            out->unreachable = true;
            if (!out->why[0])
                snprintf(out->why, sizeof out->why, "Stripe did not answer in time");
            return;
        }
        struct net_request rq = {.method = method,
                                 .url = url,
                                 .headers = hs,
                                 .nheaders = nh,
                                 .body = form,
                                 .body_len = form ? strlen(form) : 0,
                                 .timeout_ms = (unsigned)(left / 1000),
                                 .max_response = STRIPE_MAX_BODY,
                                 .allow_private = s->allow_private,
                                 .cancel = g->cancel,
                                 .want_header = "Stripe-Should-Retry"};
        struct net_response rs;
        perform(s->net, &rq, &rs);
        bool should = strcmp(rs.header, "true") == 0, should_not = strcmp(rs.header, "false") == 0;
        bool again;
        if (rs.error != NET_OK) {
            again = !rs.sent || repeatable;
            snprintf(out->why, sizeof out->why, "Stripe could not be reached (%s)",
                     net_error_name(rs.error));
        } else {
            out->status = rs.status;
            json_object_put(out->body);
            out->body = json_parse_object(rs.body, rs.body_len);
            again = !should_not &&
                    (rs.status == 409 || rs.status >= 500 || (rs.status == 429 && should));
            if (!out->body)
                snprintf(out->why, sizeof out->why, "Stripe answered HTTP %d without JSON",
                         rs.status);
            else
                out->why[0] = '\0';
        }
        usec_t wait = net_retry_after(rs.retry_after, 60LL * 1000000);
        net_response_free(&rs);
        if (!(again && repeatable) || try >= STRIPE_TRIES) {
            if (rs.error != NET_OK || !out->body || out->status >= 500 || out->status == 409 ||
                out->status == 429) {
                out->unreachable = true;
                if (!out->why[0])
                    snprintf(out->why, sizeof out->why, "Stripe answered HTTP %d", out->status);
            }
            return;
        }
        usec_t backoff = (usec_t)500000 << (try - 1);
        usec_t pause = wait > backoff ? wait : backoff;
        left = deadline - time_now();
        if (pause >= left) { /* no time for another try after the wait */
            out->unreachable = true;
            if (!out->why[0])
                snprintf(out->why, sizeof out->why, "Stripe answered HTTP %d", out->status);
            return;
        }
        pause_for(g, pause);
    }
}

/* Stripe's error object: {"error": {type, code, decline_code, message}}. */
static void error_text(const struct reply *r, char *out, size_t cap, const char **code,
                       const char **decline)
{
    json_object *e = json_member(r->body, "error", json_type_object);
    const char *msg = json_member_string(e, "message");
    *code = json_member_string(e, "code");
    *decline = json_member_string(e, "decline_code");
    if (*decline)
        snprintf(out, cap, "%.30s (%.30s): %.60s", *code ? *code : "card_error", *decline,
                 msg ? msg : "declined");
    else
        snprintf(out, cap, "%.40s%s%.80s", *code ? *code : "", *code ? ": " : "",
                 msg         ? msg
                 : r->why[0] ? r->why
                             : "refused by Stripe");
}

/* A refused request (4xx with an error object) as our decision: card
 * declines as DECLINE with a code like the sandbox's (203 general, 204
 * insufficient funds, 202 expired, 211 CVC), the rest as ERROR 102. */
static void refused(const struct reply *r, struct gw_result *out)
{
    memset(out, 0, sizeof *out);
    const char *code, *decline;
    error_text(r, out->error_text, sizeof out->error_text, &code, &decline);
    json_object *e = json_member(r->body, "error", json_type_object);
    const char *type = json_member_string(e, "type");
    bool card = (type && strcmp(type, "card_error") == 0) || r->status == 402;
    const char *c = decline ? decline : code ? code : "";
    out->decision = card ? GW_DECLINE : GW_ERROR;
    out->response_code = !card                                  ? 102
                         : strcmp(c, "insufficient_funds") == 0 ? 204
                         : strcmp(c, "expired_card") == 0       ? 202
                         : strcmp(c, "incorrect_cvc") == 0      ? 211
                                                                : 203;
    out->at = time_now();
}

static void unreachable(const struct reply *r, struct gw_result *out)
{
    gw_no_answer(out, r->why[0] ? r->why : "Stripe did not answer");
    out->unreachable = true;
}

/* ---- reading objects ------------------------------------------------------------------- */

/* The card of a PaymentIntent whose latest_charge is expanded. */
static void card_of(json_object *pi, struct gw_result *out)
{
    json_object *ch = json_member(pi, "latest_charge", json_type_object);
    const char *ch_id = ch ? json_member_string(ch, "id") : json_member_string(pi, "latest_charge");
    snprintf(out->auth_ref, sizeof out->auth_ref, "%s", ch_id ? ch_id : "");
    json_object *card = json_member(json_member(ch, "payment_method_details", json_type_object),
                                    "card", json_type_object);
    if (!card)
        return;
    const char *brand = json_member_string(card, "brand");
    const char *last4 = json_member_string(card, "last4");
    if (brand) {
        const char *b = strcmp(brand, "amex") == 0 ? "AMEX" : brand;
        size_t i = 0;
        for (; b[i] && i + 1 < sizeof out->card_type; i++)
            out->card_type[i] = (char)toupper((unsigned char)b[i]);
        out->card_type[i] = '\0';
    }
    if (last4 && strlen(last4) == 4)
        snprintf(out->masked_pan, sizeof out->masked_pan, "************%s", last4);
    json_object *m = json_member(card, "exp_month", json_type_int);
    json_object *y = json_member(card, "exp_year", json_type_int);
    if (m && y)
        snprintf(out->expiry, sizeof out->expiry, "%02u/%04u",
                 (unsigned)json_object_get_int64(m) % 100u,
                 (unsigned)json_object_get_int64(y) % 10000u);
}

/* A PaymentIntent as the result of a payment (op: authorize or sale). */
static void intent_result(json_object *pi, enum gw_operation op, struct gw_result *out)
{
    memset(out, 0, sizeof *out);
    const char *status = json_member_string(pi, "status");
    const char *id = json_member_string(pi, "id");
    if (!gw_id_ok(id, STRIPE_ID_MAX)) {
        gw_no_answer(out, "Stripe named a PaymentIntent chatpay cannot keep");
        out->unreachable = true;
        return;
    }
    snprintf(out->request_ref, sizeof out->request_ref, "%s", id);
    card_of(pi, out);
    out->at = time_now();
    status = status ? status : "";
    if (strcmp(status, "succeeded") == 0 ||
        (op == GW_OP_AUTHORIZE && strcmp(status, "requires_capture") == 0)) {
        out->decision = GW_ACCEPT;
        out->response_code = 100;
        return;
    }
    if (strcmp(status, "canceled") == 0) {
        /* (after 7 days uncaptured, Stripe's reason is "automatic") */
        const char *why = json_member_string(pi, "cancellation_reason");
        out->decision = GW_ERROR;
        out->response_code = 102;
        out->released = true;
        snprintf(out->error_text, sizeof out->error_text, "Stripe canceled the %s (%.40s)",
                 op == GW_OP_AUTHORIZE ? "authorization" : "payment",
                 why ? why : "no reason given");
        return;
    }
    gw_no_answer(out, "the payment is not complete at Stripe");
    snprintf(out->request_ref, sizeof out->request_ref, "%s", id ? id : "");
}

/* GET a PaymentIntent with its latest charge. */
static void get_intent(const struct gateway *g, struct arena *a, usec_t deadline, const char *id,
                       struct reply *r)
{
    if (!gw_id_ok(id, STRIPE_ID_MAX)) { /* not an id Stripe gives: never put into a URL */
        memset(r, 0, sizeof *r);
        r->unreachable = true;
        snprintf(r->why, sizeof r->why, "Stripe named a PaymentIntent chatpay cannot use");
        return;
    }
    call(g, a, deadline, "GET",
         arena_printf(a, "/v1/payment_intents/%s?expand%%5B%%5D=latest_charge", id), NULL, NULL, r);
}

/* ---- paying ---------------------------------------------------------------------------- */

/* Stripe's amount for one in ISO 4217 minor units, or -1 when Stripe cannot
 * take it (docs.stripe.com/currencies, special cases): Stripe keeps ISK at
 * two decimals (ISO 4217: none) and MGA at none (ISO 4217: two), and takes
 * its three-decimal currencies only in whole tens of their minor unit.
 * Rounding would charge another amount than the link's, so those refuse. */
static long long stripe_amount(const char *currency, int64_t minor)
{
    static const char *const in_tens[] = {"BHD", "JOD", "KWD", "OMR", "TND"};
    if (strcasecmp(currency, "ISK") == 0)
        return (long long)minor * 100;
    if (strcasecmp(currency, "MGA") == 0)
        return minor % 100 == 0 ? (long long)minor / 100 : -1;
    for (size_t i = 0; i < sizeof in_tens / sizeof in_tens[0]; i++)
        if (strcasecmp(currency, in_tens[i]) == 0)
            return minor % 10 == 0 ? (long long)minor : -1;
    return (long long)minor;
}

static const char *stripe_locale(const char *lang)
{
    static const char *const known[] = {"en", "fr", "es", "pt", "de", "it", "nl", "ja"};
    for (size_t i = 0; lang && i < sizeof known / sizeof known[0]; i++)
        if (strcmp(lang, known[i]) == 0)
            return known[i];
    return "auto";
}

/* The checkout of an attempt begun before (the customer pressed Pay again):
 * the same session, which may have been paid meanwhile (then straight back
 * to chatpay's return page, which records it). false when it cannot be
 * used. */
static bool resume(const struct gateway *g, const struct gw_payment *p, struct arena *a,
                   struct gw_checkout *out)
{
    if (!gw_id_ok(p->gateway_ref, GW_REF_LEN))
        return false;
    const char *enc = p->gateway_ref;
    struct reply r;
    call(g, a, op_deadline(g), "GET", arena_printf(a, "/v1/checkout/sessions/%s", enc), NULL, NULL,
         &r);
    const char *status = json_member_string(r.body, "status");
    const char *url = json_member_string(r.body, "url");
    const char *ref = json_member_string(r.body, "client_reference_id");
    bool ok = r.status == 200 && status && ref && strcmp(ref, p->ref) == 0;
    if (ok && strcmp(status, "open") == 0 && url)
        out->url = arena_strdup(a, url);
    else if (ok && strcmp(status, "complete") == 0)
        out->url = arena_printf(a, "%s%csession_id=%s", p->return_url,
                                strchr(p->return_url, '?') ? '&' : '?', enc);
    else
        ok = false; /* expired: the attempt is closed when its time is up */
    if (ok)
        snprintf(out->gateway_ref, sizeof out->gateway_ref, "%s", p->gateway_ref);
    reply_free(&r);
    return ok;
}

/* When the session expires (unix seconds): when the attempt's checkout
 * may take no payment any more, but at least Stripe's 30 minutes (and 31 to
 * leave the request time) and at most its 24 hours after the attempt was
 * stored; from the stored attempt, so the same on every press of Pay. */
static long long session_expiry(const struct gw_payment *p)
{
    long long created = p->created_at / 1000000, ends = p->expires_at / 1000000;
    long long lo = created + STRIPE_EXPIRY_S, hi = created + 24 * 3600 - 60;
    return ends < lo ? lo : ends > hi ? hi : ends;
}

static bool stripe_begin(const struct gateway *g, const struct gw_payment *p, struct arena *a,
                         struct gw_checkout *out)
{
    memset(out, 0, sizeof *out);
    if (p->gateway_ref && p->gateway_ref[0])
        return resume(g, p, a, out);
    long long amount = stripe_amount(p->currency, p->amount_minor);
    if (amount < 0) {
        log_warn("stripe: %s %lld (minor units) is not an amount Stripe takes in that currency",
                 p->currency, (long long)p->amount_minor);
        return false;
    }
    char cur[4] = "";
    for (size_t i = 0; i < 3 && p->currency[i]; i++)
        cur[i] = (char)tolower((unsigned char)p->currency[i]);
    const char *success = arena_printf(a, "%s%csession_id={CHECKOUT_SESSION_ID}", p->return_url,
                                       strchr(p->return_url, '?') ? '&' : '?');
    const char *kv[] = {
        "mode",
        "payment",
        "success_url",
        success,
        "cancel_url",
        p->cancel_url,
        "client_reference_id",
        p->ref,
        "line_items[0][price_data][currency]",
        cur,
        "line_items[0][price_data][unit_amount]",
        arena_printf(a, "%lld", amount),
        "line_items[0][price_data][product_data][name]",
        p->description,
        "line_items[0][quantity]",
        "1",
        /* cards only: a method that settles later (bank debits) would leave
         * a completed session whose payment is still unknown */
        "payment_method_types[0]",
        "card",
        "payment_intent_data[capture_method]",
        p->op == GW_OP_AUTHORIZE ? "manual" : "automatic",
        "payment_intent_data[metadata][chatpay_ref]",
        p->ref,
        "payment_intent_data[metadata][payment_link_ref]",
        p->link_ref,
        "metadata[chatpay_ref]",
        p->ref,
        "metadata[payment_link_ref]",
        p->link_ref,
        "locale",
        stripe_locale(p->locale),
        "expires_at",
        arena_printf(a, "%lld", (long long)session_expiry(p)),
    };
    struct reply r;
    call(g, a, op_deadline(g), "POST", "/v1/checkout/sessions",
         form_encode(a, kv, sizeof kv / sizeof kv[0] / 2), p->ref, &r);
    const char *id = json_member_string(r.body, "id");
    const char *url = json_member_string(r.body, "url");
    bool ok = r.status == 200 && id && url && gw_id_ok(id, GW_REF_LEN);
    if (ok) {
        out->url = arena_strdup(a, url);
        snprintf(out->gateway_ref, sizeof out->gateway_ref, "%s", id);
    }
    reply_free(&r);
    return ok;
}

/* A payment's outcome, by `deadline`. */
static void result_by(const struct gateway *g, const struct gw_target *t, usec_t deadline,
                      struct gw_result *out)
{
    struct arena *a = arena_new(0);
    if (!gw_id_ok(t->gateway_ref, GW_REF_LEN)) {
        gw_no_answer(out, "the checkout was not begun at Stripe");
        arena_free(a);
        return;
    }
    const char *enc = t->gateway_ref;
    struct reply r;
    call(g, a, deadline, "GET", arena_printf(a, "/v1/checkout/sessions/%s", enc), NULL, NULL, &r);
    const char *status = json_member_string(r.body, "status");
    const char *pi = json_member_string(r.body, "payment_intent");
    const char *ref = json_member_string(r.body, "client_reference_id");
    if (r.unreachable || r.status != 200 || !status) {
        unreachable(&r, out);
    } else if (!ref || strcmp(ref, t->ref) != 0) {
        gw_no_answer(out, "the checkout session is not this payment's");
    } else if (strcmp(status, "complete") != 0 || !pi) {
        gw_no_answer(out, strcmp(status, "expired") == 0 ? "the checkout expired"
                                                         : "the payment is not complete at Stripe");
        out->checkout_open = strcmp(status, "open") == 0;
        /* the session is this payment's: its id may be kept */
        snprintf(out->gateway_ref, sizeof out->gateway_ref, "%s", t->gateway_ref);
    } else {
        struct reply ri;
        get_intent(g, a, deadline, pi, &ri);
        if (ri.status == 200 && ri.body)
            intent_result(ri.body, t->op, out);
        else
            unreachable(&ri, out);
        reply_free(&ri);
    }
    reply_free(&r);
    arena_free(a);
}

static void stripe_result(const struct gateway *g, const struct gw_target *t, struct gw_result *out)
{
    result_by(g, t, op_deadline(g), out);
}

static enum gw_cancel stripe_cancel(const struct gateway *g, const struct gw_target *t,
                                    struct gw_result *out)
{
    memset(out, 0, sizeof *out);
    if (!t->gateway_ref[0])
        return GW_CANCEL_CLOSED; /* never begun at Stripe: nothing can be paid */
    if (!gw_id_ok(t->gateway_ref, GW_REF_LEN))
        return GW_CANCEL_FAILED;
    struct arena *a = arena_new(0);
    const char *enc = t->gateway_ref;
    enum gw_cancel verdict = GW_CANCEL_FAILED;
    usec_t deadline = op_deadline(g);
    for (int round = 0; round < 2 && verdict == GW_CANCEL_FAILED; round++) {
        struct reply r;
        call(g, a, deadline, "GET", arena_printf(a, "/v1/checkout/sessions/%s", enc), NULL, NULL,
             &r);
        const char *status = json_member_string(r.body, "status");
        if (r.status == 200 && status && strcmp(status, "expired") == 0) {
            verdict = GW_CANCEL_CLOSED;
        } else if (r.status == 200 && status && strcmp(status, "complete") == 0) {
            reply_free(&r);
            result_by(g, t, deadline, out);
            verdict = out->decision == GW_NO_ANSWER ? GW_CANCEL_FAILED : GW_CANCEL_COMPLETED;
            break;
        } else if (r.status == 200 && status) {
            struct reply e;
            call(g, a, deadline, "POST", arena_printf(a, "/v1/checkout/sessions/%s/expire", enc),
                 "", arena_printf(a, "%s-expire", t->ref), &e);
            if (e.status == 200)
                verdict = GW_CANCEL_CLOSED;
            reply_free(&e); /* else: completed meanwhile? look again */
        }
        reply_free(&r);
    }
    arena_free(a);
    return verdict;
}

/* ---- follow-ups ------------------------------------------------------------------------ */

/* A refund object as our answer: succeeded → ACCEPT, pending (or needing an
 * action) → not final, kept by its id; failed or canceled → DECLINE. */
static void refund_result(json_object *re, struct gw_result *out)
{
    memset(out, 0, sizeof *out);
    const char *id = json_member_string(re, "id");
    const char *status = json_member_string(re, "status");
    if (!gw_id_ok(id, STRIPE_ID_MAX)) {
        gw_no_answer(out, "Stripe named a refund chatpay cannot keep");
        out->unreachable = true;
        return;
    }
    status = status ? status : "";
    if (strcmp(status, "succeeded") == 0) {
        out->decision = GW_ACCEPT;
        out->response_code = 100;
    } else if (strcmp(status, "failed") == 0 || strcmp(status, "canceled") == 0) {
        const char *reason = json_member_string(re, "failure_reason");
        out->decision = GW_DECLINE;
        out->response_code = 203;
        snprintf(out->error_text, sizeof out->error_text, "The refund %s at Stripe (%s)", status,
                 reason ? reason : "no reason given");
    } else {
        gw_no_answer(out, "the refund is pending at Stripe");
    }
    snprintf(out->request_ref, sizeof out->request_ref, "%s", id ? id : "");
    snprintf(out->gateway_ref, sizeof out->gateway_ref, "%s", id ? id : "");
    out->at = time_now();
}

/* The refund chatpay asked for as t->ref (metadata[chatpay_ref]) among
 * the PaymentIntent's refunds (GET /v1/refunds?payment_intent=, newest
 * first, STRIPE_LIST_PAGES pages of 100 at most): 1 found (*found, owned by
 * r), 0 none, -1 not known (r says why: unreachable, refused, or more
 * refunds than chatpay looks through). */
static int find_refund(const struct gateway *g, struct arena *a, usec_t deadline,
                       const struct gw_target *t, struct reply *r, json_object **found)
{
    *found = NULL;
    const char *after = NULL;
    for (int page = 0; page < STRIPE_LIST_PAGES; page++) {
        const char *path =
            after
                ? arena_printf(a, "/v1/refunds?payment_intent=%s&limit=100&starting_after=%s",
                               t->parent_gateway_ref, after)
                : arena_printf(a, "/v1/refunds?payment_intent=%s&limit=100", t->parent_gateway_ref);
        call(g, a, deadline, "GET", path, NULL, NULL, r);
        json_object *data = json_member(r->body, "data", json_type_array);
        if (r->unreachable || r->status != 200 || !data)
            return -1;
        size_t n = json_object_array_length(data);
        const char *last = NULL;
        for (size_t i = 0; i < n; i++) {
            json_object *re = json_object_array_get_idx(data, i);
            const char *ref =
                json_member_string(json_member(re, "metadata", json_type_object), "chatpay_ref");
            if (ref && strcmp(ref, t->ref) == 0) {
                *found = re;
                return 1;
            }
            last = json_member_string(re, "id");
        }
        json_object *more = json_member(r->body, "has_more", json_type_boolean);
        if (!more || !json_object_get_boolean(more))
            return 0;
        if (!n || !gw_id_ok(last, STRIPE_ID_MAX)) { /* no cursor to go on with */
            snprintf(r->why, sizeof r->why, "Stripe's list of refunds cannot be read further");
            return -1;
        }
        after = arena_strdup(a, last);
        reply_free(r);
    }
    snprintf(r->why, sizeof r->why, "more refunds at Stripe than chatpay looks through");
    return -1;
}

static void stripe_operate(const struct gateway *g, const struct gw_target *t,
                           struct gw_result *out)
{
    usec_t deadline = op_deadline(g);
    struct arena *a = arena_new(0);
    const char *pi = t->parent_gateway_ref;
    struct reply r = {0};
    bool refund = t->op == GW_OP_REFUND || t->op == GW_OP_VOID;
    bool known_refund =
        refund && strncmp(t->gateway_ref, "re_", 3) == 0 && gw_id_ok(t->gateway_ref, STRIPE_ID_MAX);
    long long amount = stripe_amount(t->currency, t->amount_minor);
    bool amounted = (refund || t->op == GW_OP_CAPTURE) && !known_refund;
    if ((!gw_id_ok(pi, STRIPE_ID_MAX) && !known_refund) || (amounted && amount < 0)) {
        memset(out, 0, sizeof *out);
        out->decision = GW_ERROR;
        out->response_code = 102;
        snprintf(out->error_text, sizeof out->error_text, "%s",
                 amounted && amount < 0 ? "Stripe takes no such amount in this currency"
                                        : "The payment's PaymentIntent is not known");
        arena_free(a);
        return;
    }
    json_object *listed = NULL;
    int listed_found = 0;
    if (refund && !known_refund && t->again)
        listed_found = find_refund(g, a, deadline, t, &r, &listed);
    if (listed_found < 0) {
        /* not known whether the first one happened: asked again later */
        if (!r.why[0])
            snprintf(r.why, sizeof r.why, "Stripe did not list the refunds (HTTP %d)", r.status);
        unreachable(&r, out);
        reply_free(&r);
        arena_free(a);
        return;
    }
    if (listed_found > 0) {
        /* it happened: its answer was lost (and its key may be pruned) */
        refund_result(listed, out);
        reply_free(&r);
        arena_free(a);
        return;
    }
    reply_free(&r);
    if (known_refund) {
        /* begun before and not completed: how is it now? */
        call(g, a, deadline, "GET", arena_printf(a, "/v1/refunds/%s", t->gateway_ref), NULL, NULL,
             &r);
    } else if (refund) {
        /* the first time, or (asked again) not among the PaymentIntent's
         * refunds: sent, under the same key (Stripe prunes keys after 24
         * hours, so the key alone does not stop a second refund) */
        const char *kv[] = {"payment_intent",
                            t->parent_gateway_ref,
                            "amount",
                            arena_printf(a, "%lld", amount),
                            "metadata[chatpay_ref]",
                            t->ref};
        call(g, a, deadline, "POST", "/v1/refunds", form_encode(a, kv, 3), t->ref, &r);
    } else if (t->op == GW_OP_CAPTURE) {
        const char *kv[] = {"amount_to_capture", arena_printf(a, "%lld", amount)};
        call(g, a, deadline, "POST", arena_printf(a, "/v1/payment_intents/%s/capture", pi),
             form_encode(a, kv, 1), t->ref, &r);
    } else { /* GW_OP_REVERSE: release an uncaptured authorization */
        const char *kv[] = {"cancellation_reason", "requested_by_customer"};
        call(g, a, deadline, "POST", arena_printf(a, "/v1/payment_intents/%s/cancel", pi),
             form_encode(a, kv, 1), t->ref, &r);
    }
    json_object *e = json_member(r.body, "error", json_type_object);
    const char *code = json_member_string(e, "code");
    if (!r.unreachable && r.status != 200 && !refund && t->again && code &&
        strcmp(code, "payment_intent_unexpected_state") == 0) {
        /* done again where the first may have happened (its key pruned):
         * the PaymentIntent says whether it did */
        reply_free(&r);
        call(g, a, deadline, "GET", arena_printf(a, "/v1/payment_intents/%s", pi), NULL, NULL, &r);
        if (r.status != 200)
            r.unreachable = true;
    }
    if (r.unreachable || !r.body) {
        unreachable(&r, out);
    } else if (r.status == 401 || r.status == 403) {
        /* (its message may name the key, masked: not kept) */
        gw_no_answer(out, r.status == 401 ? "Stripe refused the credentials (401)"
                                          : "Stripe refused the request (403)");
        out->unreachable = true;
    } else if (r.status != 200 && (t->again || known_refund)) {
        /* done again or asked about: a refusal now says nothing of what
         * the first call did; asked again later, never recorded as failed */
        unreachable(&r, out);
    } else if (r.status != 200) {
        refused(&r, out);
    } else if (refund) {
        refund_result(r.body, out);
    } else {
        const char *status = json_member_string(r.body, "status");
        bool done =
            status && strcmp(status, t->op == GW_OP_CAPTURE ? "succeeded" : "canceled") == 0;
        memset(out, 0, sizeof *out);
        const char *id = json_member_string(r.body, "id");
        snprintf(out->request_ref, sizeof out->request_ref, "%s", id ? id : "");
        out->decision = done ? GW_ACCEPT : GW_ERROR;
        out->response_code = done ? 100 : 102;
        if (!done)
            snprintf(out->error_text, sizeof out->error_text, "Stripe left the payment %s",
                     status ? status : "in an unknown state");
        out->at = time_now();
    }
    reply_free(&r);
    arena_free(a);
}

static void stripe_query(const struct gateway *g, const struct gw_target *t, struct gw_result *out)
{
    if (t->op == GW_OP_AUTHORIZE || t->op == GW_OP_SALE)
        stripe_result(g, t, out);
    else
        stripe_operate(g, t, out); /* same Idempotency-Key: Stripe replays its answer */
}

/* ---- webhooks -------------------------------------------------------------------------- */

/* Stripe-Signature: t=<unix>,v1=<hex>[,v1=…][,v0=…] over "t." + body. */
bool stripe_signature_ok(const char *header, const char *body, size_t len, const char *secret,
                         usec_t now);
bool stripe_signature_ok(const char *header, const char *body, size_t len, const char *secret,
                         usec_t now)
{
    if (!header)
        return false;
    long long t = -1;
    const char *v1[8];
    size_t v1len[8], nv1 = 0;
    for (const char *p = header; *p;) {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        if (eq) {
            size_t k = (size_t)(eq - p);
            if (k == 1 && p[0] == 't' && t < 0) {
                char num[24];
                size_t vl = n - k - 1;
                if (vl == 0 || vl >= sizeof num)
                    return false;
                memcpy(num, eq + 1, vl);
                num[vl] = '\0';
                char *end;
                t = strtoll(num, &end, 10);
                if (*end || t < 0)
                    return false;
            } else if (k == 2 && p[0] == 'v' && p[1] == '1' && nv1 < 8) {
                v1[nv1] = eq + 1;
                v1len[nv1++] = n - k - 1;
            }
        }
        p += n;
        if (*p == ',')
            p++;
    }
    /* in seconds: t may be any number strtoll reads */
    if (t < 0 || nv1 == 0 || t < now / 1000000 - STRIPE_TOLERANCE_S)
        return false;
    char prefix[32];
    int pl = snprintf(prefix, sizeof prefix, "%lld.", t);
    char *msg = malloc((size_t)pl + len + 1);
    if (!msg)
        return false;
    memcpy(msg, prefix, (size_t)pl);
    memcpy(msg + pl, body, len);
    uint8_t mac[32];
    crypto_hmac_sha256(secret, strlen(secret), msg, (size_t)pl + len, mac);
    free(msg);
    char hex[65];
    crypto_hex(mac, 32, hex);
    bool ok = false;
    for (size_t i = 0; i < nv1; i++)
        ok |= v1len[i] == 64 && crypto_equal(v1[i], hex, 64);
    return ok;
}

static enum gw_inbound_verdict stripe_inbound(const struct gateway *g,
                                              const struct provider_inbound *rq, struct arena *a,
                                              struct gw_notice **notices, size_t *n)
{
    struct stripe *s = g->state;
    *notices = NULL;
    *n = 0;
    if (strcmp(rq->method, "POST") != 0 || rq->rest[0])
        return GW_IN_MALFORMED;
    const char *sig = rq->header(rq->header_cls, "Stripe-Signature");
    if (!stripe_signature_ok(sig, rq->body, rq->body_len, s->webhook_secret, time_now()))
        return GW_IN_FORBIDDEN;
    json_object *ev = json_parse_object(rq->body, rq->body_len);
    const char *id = json_member_string(ev, "id");
    const char *type = json_member_string(ev, "type");
    json_object *obj =
        json_member(json_member(ev, "data", json_type_object), "object", json_type_object);
    if (!id || !type || !obj) {
        json_object_put(ev);
        return GW_IN_MALFORMED;
    }
    bool session = strncmp(type, "checkout.session.", 17) == 0;
    bool intent = strncmp(type, "payment_intent.", 15) == 0;
    bool refund = strncmp(type, "refund.", 7) == 0 || strncmp(type, "charge.refund.", 14) == 0;
    const char *ref = session ? json_member_string(obj, "client_reference_id") : NULL;
    if (!ref && (session || intent || refund))
        ref = json_member_string(json_member(obj, "metadata", json_type_object), "chatpay_ref");
    if (ref && strlen(ref) < sizeof((struct gw_notice *)0)->ref &&
        strlen(id) < sizeof((struct gw_notice *)0)->event_id) {
        struct gw_notice *nt = arena_calloc(a, 1, sizeof *nt);
        snprintf(nt->event_id, sizeof nt->event_id, "%s", id);
        snprintf(nt->ref, sizeof nt->ref, "%s", ref);
        const char *oid = json_member_string(obj, "id");
        if ((session || refund) && oid && strlen(oid) < sizeof nt->gateway_ref)
            snprintf(nt->gateway_ref, sizeof nt->gateway_ref, "%s", oid);
        *notices = nt;
        *n = 1;
    }
    json_object_put(ev);
    return GW_IN_NOTICES; /* other events (charge.*, customer.*, ...) are not ours */
}

const struct gateway_ops gateway_stripe_ops = {
    .kind = "stripe",
    .settings = stripe_settings,
    .create = stripe_create,
    .destroy = stripe_destroy,
    .live = stripe_live,
    .begin = stripe_begin,
    .result = stripe_result,
    .operate = stripe_operate,
    .query = stripe_query,
    .cancel = stripe_cancel,
    .inbound = stripe_inbound,
};
