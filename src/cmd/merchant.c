/*
 * merchant.c — `chatpay merchant create|list|show|update`.
 */
#include "cmd/cmd.h"

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <strings.h>

#include "util/crypto.h"
#include "util/json.h"
#include "web/logo.h"
#include "db/callbacks.h"
#include "channel/channel.h"
#include "core/status.h"
#include "db/merchants.h"
#include "db/providers.h"
#include "gateway/gateway.h"
#include "gateway/registry.h"
#include "service/messages.h"
#include "util/tz.h"
#include "service/callbacks.h"
#include "service/whatsapp.h"
#include "util/webhook.h"
#include "net/net.h"

static const char usage[] =
    "usage: chatpay merchant create --name NAME [--environment sandbox|production]\n"
    "                               [--currencies ZAR,USD,...] [--channels sms,whatsapp|none]\n"
    "                               [--db URL] [--config FILE] [--json]\n"
    "       chatpay merchant list   [--db URL] [--config FILE] [--json]\n"
    "       chatpay merchant show   MERCHANT_ID [--db URL] [--config FILE] [--json]\n"
    "       chatpay merchant rotate-callback-secret MERCHANT_ID [--db URL] [--config FILE]\n"
    "                               [--json]\n"
    "       chatpay merchant update MERCHANT_ID [--name NAME] [--environment ENV]\n"
    "                               [--currencies LIST] [--channels LIST]\n"
    "                               [--link-ttl DUR] [--click-ttl DUR] [--page-ttl DUR]\n"
    "                               [--transaction-type Sale|Authorization]\n"
    "                               [--sms-from MSISDN] [--whatsapp-from MSISDN]\n"
    "                               [--settlement-delay DUR] [--payment-attempts N]\n"
    "                               [--review-delay DUR] [--logo FILE|none]\n"
    "                               [" CMD_CALLBACK_OPTIONS "]\n"
    "                               [--sms-provider ID|none] [--whatsapp-provider ID|none]\n"
    "                               [--gateway ID|none]\n"
    "                               [--fallback sms|none] [--reminders DUR,...|none]\n"
    "                               [--quiet-hours HH:MM-HH:MM|none] [--timezone TZ]\n"
    "                               [--whatsapp-template NAME:LANG|none]\n"
    "                               [--whatsapp-template-params LIST]\n"
    "                               [--db URL] [--config FILE] [--json]\n"
    "\n"
    "create   add a merchant and print its first API key (shown once) and the secret\n"
    "         that signs its callbacks (callbackSecret).\n"
    "         Defaults: environment sandbox, currencies USD (the first listed is the\n"
    "         default currency), channels sms,whatsapp.\n"
    "list     every merchant.\n"
    "show     one merchant with its currencies, integrators, API keys (masked), callback\n"
    "         URLs and callback signing secret.\n"
    "rotate-callback-secret  a new callback signing secret; for 24 hours the old one\n"
    "         signs too (two v1 entries in webhook-signature).\n"
    "update   change name, environment, currencies, channels, link expiry, the default\n"
    "         transaction type or the sender numbers. Durations: 90s, 5m, 2h, 1d.\n"
    "         --link-ttl: an unopened link expires after this (default 5m);\n"
    "         --click-ttl: the first open extends the link by this (default 15m);\n"
    "         --page-ttl: the payment page lives this long (default 15m);\n"
    "         --settlement-delay: a sale or capture settles after this (default 24h);\n"
    "         --payment-attempts: failed payments allowed per link (1-10, default 3);\n"
    "         --review-delay: sandbox: a REVIEW payment is decided after this (default 60s);\n"
    "         --logo: the logo on the payment page, a PNG, JPEG, WebP or SVG file of at\n"
    "         most 256 KiB (the type is told from the content); `none` removes it\n"
    "         (write ./none for a file of that name).\n"
    "         --payment-status-callback, --transaction-event-callback,\n"
    "         --settings-callback: where the merchant's callbacks go (`none` clears);\n"
    "         production merchants need https URLs on public addresses.\n"
    "         --sms-provider, --whatsapp-provider: the merchant's provider for the channel\n"
    "         (`chatpay provider add`; `none`: the sandbox channel for sandbox merchants,\n"
    "         no channel for production ones);\n"
    "         --gateway: the merchant's payment gateway (`chatpay provider add --kind\n"
    "         stripe|cybersource`; `none`: the sandbox gateway for sandbox merchants, no\n"
    "         payments for production ones); its credentials must fit the environment\n"
    "         (test ones for the sandbox, live ones for production);\n"
    "         --fallback sms: a WhatsApp link that cannot be sent (number not on WhatsApp,\n"
    "         window closed and no template) goes out by SMS;\n"
    "         --reminders 10m,2h: send an unopened link again at these times after it was\n"
    "         created (up to 5, each 1m to 7d, increasing);\n"
    "         --quiet-hours 21:00-08:00 with --timezone Africa/Johannesburg: reminders\n"
    "         wait for the end of these hours (the first send does not);\n"
    "         --whatsapp-template NAME:LANG: the approved template used outside WhatsApp's\n"
    "         24-hour window; --whatsapp-template-params: what fills its body parameters,\n"
    "         in order, from merchant, amount, order, url (e.g. merchant,amount,url).\n";

enum {
    OPT_NAME = 1,
    OPT_ENV,
    OPT_CURRENCIES,
    OPT_CHANNELS,
    OPT_DB,
    OPT_CONFIG,
    OPT_JSON,
    OPT_HELP,
    OPT_LINK_TTL,
    OPT_CLICK_TTL,
    OPT_PAGE_TTL,
    OPT_TXN_TYPE,
    OPT_SMS_FROM,
    OPT_WA_FROM,
    OPT_SETTLEMENT,
    OPT_ATTEMPTS,
    OPT_REVIEW,
    OPT_LOGO,
    OPT_CB_PAYMENT,
    OPT_CB_EVENT,
    OPT_CB_SETTINGS,
    OPT_SMS_PROVIDER,
    OPT_GATEWAY,
    OPT_WA_PROVIDER,
    OPT_FALLBACK,
    OPT_REMINDERS,
    OPT_QUIET,
    OPT_TIMEZONE,
    OPT_WA_TEMPLATE,
    OPT_WA_PARAMS,
};

static const struct option options[] = {
    {"name", required_argument, NULL, OPT_NAME},
    {"environment", required_argument, NULL, OPT_ENV},
    {"currencies", required_argument, NULL, OPT_CURRENCIES},
    {"channels", required_argument, NULL, OPT_CHANNELS},
    {"db", required_argument, NULL, OPT_DB},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {"link-ttl", required_argument, NULL, OPT_LINK_TTL},
    {"click-ttl", required_argument, NULL, OPT_CLICK_TTL},
    {"page-ttl", required_argument, NULL, OPT_PAGE_TTL},
    {"transaction-type", required_argument, NULL, OPT_TXN_TYPE},
    {"sms-from", required_argument, NULL, OPT_SMS_FROM},
    {"whatsapp-from", required_argument, NULL, OPT_WA_FROM},
    {"settlement-delay", required_argument, NULL, OPT_SETTLEMENT},
    {"payment-attempts", required_argument, NULL, OPT_ATTEMPTS},
    {"review-delay", required_argument, NULL, OPT_REVIEW},
    {"logo", required_argument, NULL, OPT_LOGO},
    {"payment-status-callback", required_argument, NULL, OPT_CB_PAYMENT},
    {"transaction-event-callback", required_argument, NULL, OPT_CB_EVENT},
    {"settings-callback", required_argument, NULL, OPT_CB_SETTINGS},
    {"sms-provider", required_argument, NULL, OPT_SMS_PROVIDER},
    {"gateway", required_argument, NULL, OPT_GATEWAY},
    {"whatsapp-provider", required_argument, NULL, OPT_WA_PROVIDER},
    {"fallback", required_argument, NULL, OPT_FALLBACK},
    {"reminders", required_argument, NULL, OPT_REMINDERS},
    {"quiet-hours", required_argument, NULL, OPT_QUIET},
    {"timezone", required_argument, NULL, OPT_TIMEZONE},
    {"whatsapp-template", required_argument, NULL, OPT_WA_TEMPLATE},
    {"whatsapp-template-params", required_argument, NULL, OPT_WA_PARAMS},
    {NULL, 0, NULL, 0},
};

struct merchant_args {
    const char *name, *environment, *currencies, *channels, *db, *config;
    bool json;
    const char *id;
    const char *link_ttl, *click_ttl, *page_ttl, *txn_type, *sms_from, *wa_from;
    const char *settlement, *attempts, *review;
    const char *logo; /* a file, or "none" */
    struct cmd_callbacks callbacks;
    const char *sms_provider, *wa_provider, *fallback, *reminders, *quiet, *timezone;
    const char *gateway;
    const char *wa_template, *wa_params;
};

/* Limits of the link durations: 30 seconds to 30 days. */
#define TTL_MIN_S 30
#define TTL_MAX_S (30LL * 24 * 3600)

static bool parse_ttl(const char *s, int64_t *out)
{
    usec_t us;
    if (!time_parse_duration(s, &us) || us % 1000000 != 0)
        return false;
    int64_t secs = us / 1000000;
    if (secs < TTL_MIN_S || secs > TTL_MAX_S)
        return false;
    *out = secs;
    return true;
}

/* "+27820000000" / "27820000000" → digits; false when not a 7–15 digit number. */
static bool parse_msisdn(const char *s, char out[16])
{
    const char *d = s[0] == '+' ? s + 1 : s;
    size_t n = strlen(d);
    if (n < 7 || n > 15 || d[0] == '0' || strspn(d, "0123456789") != n)
        return false;
    memcpy(out, d, n + 1);
    return true;
}

/* Parse "sms,whatsapp" / "sms" / "whatsapp" / "none". */
static bool parse_channels(const char *s, bool *sms, bool *wa)
{
    *sms = *wa = false;
    if (strcasecmp(s, "none") == 0)
        return true;
    const char *p = s;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == 3 && strncasecmp(p, "sms", 3) == 0)
            *sms = true;
        else if (n == 8 && strncasecmp(p, "whatsapp", 8) == 0)
            *wa = true;
        else
            return false;
        p += n;
        if (*p == ',')
            p++;
    }
    return *sms || *wa;
}

static json_object *merchant_json(const struct db_merchant *m)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "merchantId", json_object_new_string(m->id));
    char sid[17];
    svc_wa_sid(m->id, sid);
    json_object_object_add(o, "sid", json_object_new_string(sid));
    json_object_object_add(o, "name", json_object_new_string(m->name));
    json_object_object_add(o, "environment",
                           json_object_new_string(db_environment_name(m->environment)));
    json_object_object_add(o, "smsChannelEnabled", json_object_new_boolean(m->sms_enabled));
    json_object_object_add(o, "whatsappChannelEnabled",
                           json_object_new_boolean(m->whatsapp_enabled));
    char ts[40];
    time_format_rfc3339(m->created_at, ts, sizeof ts);
    json_object_object_add(o, "createdAt", json_object_new_string(ts));
    time_format_rfc3339(m->updated_at, ts, sizeof ts);
    json_object_object_add(o, "updatedAt", json_object_new_string(ts));
    json_object_object_add(
        o, "defaultTransactionType",
        json_object_new_string(m->default_transaction_type == 1 ? "Authorization" : "Sale"));
    json_object_object_add(o, "linkTtlSeconds", json_object_new_int64(m->link_ttl_s));
    json_object_object_add(o, "clickTtlSeconds", json_object_new_int64(m->click_ttl_s));
    json_object_object_add(o, "pageTtlSeconds", json_object_new_int64(m->page_ttl_s));
    json_object_object_add(o, "smsFrom", json_object_new_string(m->sms_from));
    json_object_object_add(o, "whatsappFrom", json_object_new_string(m->whatsapp_from));
    json_object_object_add(o, "settlementDelaySeconds",
                           json_object_new_int64(m->settlement_delay_s));
    json_object_object_add(o, "maxPaymentAttempts", json_object_new_int(m->max_payment_attempts));
    json_object_object_add(o, "reviewDelaySeconds", json_object_new_int64(m->review_settle_s));
    json_object_object_add(o, "logoType",
                           m->logo_type[0] ? json_object_new_string(m->logo_type) : NULL);
    json_object_object_add(o, "logoBytes", json_object_new_int64(m->logo_bytes));
    json_object_object_add(o, "smsProvider",
                           m->sms_provider[0] ? json_object_new_string(m->sms_provider) : NULL);
    json_object_object_add(o, "whatsappProvider",
                           m->whatsapp_provider[0] ? json_object_new_string(m->whatsapp_provider)
                                                   : NULL);
    json_object_object_add(
        o, "gateway", m->gateway_provider[0] ? json_object_new_string(m->gateway_provider) : NULL);
    json_object_object_add(o, "fallback", json_object_new_string(m->fallback_sms ? "sms" : "none"));
    json_object_object_add(o, "reminders",
                           m->reminders[0] ? json_object_new_string(m->reminders) : NULL);
    bool has_quiet = m->quiet_start >= 0 && m->quiet_end >= 0 && m->quiet_start != m->quiet_end &&
                     m->quiet_start < 1440 && m->quiet_end < 1440;
    char quiet[48] = "";
    if (has_quiet)
        snprintf(quiet, sizeof quiet, "%02d:%02d-%02d:%02d", m->quiet_start / 60,
                 m->quiet_start % 60, m->quiet_end / 60, m->quiet_end % 60);
    json_object_object_add(o, "quietHours", has_quiet ? json_object_new_string(quiet) : NULL);
    json_object_object_add(o, "timezone", json_object_new_string(m->timezone));
    json_object_object_add(o, "whatsappTemplate",
                           m->wa_template[0] ? json_object_new_string(m->wa_template) : NULL);
    json_object_object_add(o, "whatsappTemplateLanguage",
                           m->wa_template[0] ? json_object_new_string(m->wa_template_lang) : NULL);
    json_object_object_add(o, "whatsappTemplateParams",
                           m->wa_template_params[0] ? json_object_new_string(m->wa_template_params)
                                                    : NULL);
    return o;
}

static json_object *currencies_json(const struct db_currency *list, size_t n)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(list[i].code));
    return a;
}

static void print_currencies(const struct db_currency *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        printf("%s%s%s", i ? ", " : "", list[i].code, list[i].is_default ? " (default)" : "");
    putchar('\n');
}

static int do_create(struct merchant_args *a, const struct config *cfg)
{
    struct merchant_new in = {
        .name = a->name,
        .environment = ENV_SANDBOX,
        .currencies = a->currencies ? a->currencies : "USD",
        .sms_enabled = true,
        .whatsapp_enabled = true,
    };
    if (a->environment && !db_environment_parse(a->environment, &in.environment))
        return cmd_usage_error(usage, "--environment: must be sandbox or production");
    if (a->channels && !parse_channels(a->channels, &in.sms_enabled, &in.whatsapp_enabled))
        return cmd_usage_error(usage, "--channels: must be sms, whatsapp, sms,whatsapp or none");
    struct db_currency check[DB_MAX_CURRENCIES];
    size_t ncheck;
    char err[300];
    if (!admin_parse_currencies(in.currencies, check, &ncheck, err, sizeof err))
        return cmd_usage_error(usage, "--%s", err);
    if (!cmd_name_ok(a->name))
        return cmd_usage_error(usage, "--name: must be " CMD_NAME_RULE);
    /* the arguments are good: only now touch the database */
    struct db *db = cmd_open_db(cfg);
    if (!db)
        return EXIT_RUNTIME;
    struct db_merchant m;
    struct db_api_key k;
    char key[API_KEY_MAX];
    char secret[WEBHOOK_SECRET_LEN];
    bool created = admin_merchant_create(db, &in, &m, key, &k, secret, err, sizeof err);
    db_close(db);
    if (!created)
        return cmd_fail("%s", err);
    if (a->json) {
        json_object *o = merchant_json(&m);
        json_object_object_add(o, "currencies", currencies_json(check, ncheck));
        json_object_object_add(o, "defaultCurrency", json_object_new_string(check[0].code));
        json_object_object_add(o, "apiKey", json_object_new_string(key));
        json_object_object_add(o, "apiKeyId", json_object_new_string(k.id));
        json_object_object_add(o, "callbackSecret", json_object_new_string(secret));
        cmd_print_json(o);
    } else {
        printf("Merchant created.\n"
               "  merchantId:  %s\n"
               "  name:        %s\n"
               "  environment: %s\n"
               "  currencies:  ",
               m.id, m.name, db_environment_name(m.environment));
        print_currencies(check, ncheck);
        printf("  API key id:  %s\n"
               "  API key:     %s\n"
               "  Callback signing secret: %s\n"
               "The API key is shown only once: store it now.\n",
               k.id, key, secret);
    }
    return 0;
}

static void list_cb(void *cls, const struct db_merchant *m)
{
    json_object *arr = cls;
    if (arr) {
        json_object_array_add(arr, merchant_json(m));
        return;
    }
    printf("%-36s  %-10s  %s\n", m->id, db_environment_name(m->environment), m->name);
}

struct list_ctx {
    json_object *arr;
};

static enum db_status list_txn(struct db_tx *tx, void *cls)
{
    json_object *arr = cls;
    return DB_CALL(tx, merchants, list, list_cb, arr);
}

static int do_list(struct merchant_args *a, struct db *db)
{
    json_object *arr = a->json ? json_object_new_array() : NULL;
    if (!a->json)
        printf("%-36s  %-10s  %s\n", "MERCHANT_ID", "ENV", "NAME");
    enum db_status st = db_run(db, DB_READ, "merchant_list", list_txn, arr);
    if (st < 0) {
        json_object_put(arr);
        return cmd_fail("could not list merchants");
    }
    if (arr)
        cmd_print_json(arr);
    return 0;
}

struct show_ctx {
    const char *id;
    struct db_merchant m;
    struct db_currency cur[DB_MAX_CURRENCIES];
    size_t ncur;
    json_object *integrators, *keys;
    struct arena *a;
    struct db_callback_config callbacks;
    char secret[WEBHOOK_SECRET_LEN];
};

static void show_integrator(void *cls, const struct db_integrator *it)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "applicationId", json_object_new_string(it->application_id));
    json_object_object_add(o, "name", json_object_new_string(it->name));
    json_object_object_add(o, "type", json_object_new_string(db_integrator_type_name(it->type)));
    json_object_object_add(o, "status",
                           json_object_new_string(db_integrator_status_name(it->status)));
    json_object_array_add(cls, o);
}

static void show_key(void *cls, const struct db_api_key *k)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(k->id));
    char masked[64];
    snprintf(masked, sizeof masked, "%s****%s", k->prefix, k->last4);
    json_object_object_add(o, "key", json_object_new_string(masked));
    json_object_object_add(o, "revoked", json_object_new_boolean(k->revoked_at != 0));
    json_object_array_add(cls, o);
}

static enum db_status show_txn(struct db_tx *tx, void *cls)
{
    struct show_ctx *c = cls;
    enum db_status st = DB_CALL(tx, merchants, get, c->id, &c->m);
    if (st <= 0)
        return st;
    st = DB_CALL(tx, currencies, list, c->id, c->cur, DB_MAX_CURRENCIES, &c->ncur);
    if (st < 0)
        return st;
    json_object_put(c->integrators);
    json_object_put(c->keys);
    c->integrators = json_object_new_array();
    c->keys = json_object_new_array();
    st = DB_CALL(tx, integrators, list, c->id, show_integrator, c->integrators);
    if (st < 0)
        return st;
    st = DB_CALL(tx, api_keys, list, c->id, show_key, c->keys);
    if (st < 0)
        return st;
    /* each integrator's callback URLs */
    for (size_t i = 0; i < json_object_array_length(c->integrators); i++) {
        json_object *it = json_object_array_get_idx(c->integrators, i), *v;
        json_object_object_get_ex(it, "applicationId", &v);
        const char *urls[CB_KINDS] = {0};
        st = DB_CALL(tx, callbacks, integrator_urls, c->id, json_object_get_string(v), c->a, urls);
        if (st < 0)
            return st;
        cmd_callbacks_json(it, urls);
    }
    /* a merchant from before callbacks gets its secret now */
    struct svc s = {.tx = tx, .a = c->a, .now = time_now()};
    st = svc_cb_secret(&s, c->id, c->secret);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    st = DB_CALL(tx, callbacks, config_get, c->id, c->a, &c->callbacks);
    return st < 0 ? st : DB_ONE_RESULT;
}

static enum db_status get_txn(struct db_tx *tx, void *cls)
{
    struct show_ctx *c = cls;
    return DB_CALL(tx, merchants, get, c->id, &c->m);
}

static int do_show(struct merchant_args *a, struct db *db)
{
    struct show_ctx c = {.id = a->id, .a = arena_new(0)};
    enum db_status st = db_run(db, DB_WRITE, "merchant_show", show_txn, &c);
    if (st <= 0) {
        json_object_put(c.integrators);
        json_object_put(c.keys);
        arena_free(c.a);
        return st < 0 ? cmd_fail("could not read merchant %s", a->id)
                      : cmd_fail("no merchant %s", a->id);
    }
    json_object *o = merchant_json(&c.m);
    json_object_object_add(o, "currencies", currencies_json(c.cur, c.ncur));
    json_object_object_add(o, "integrators", c.integrators);
    json_object_object_add(o, "apiKeys", c.keys);
    cmd_callbacks_json(o, c.callbacks.url);
    json_object_object_add(o, "callbackSecret", json_object_new_string(c.secret));
    json_object_object_add(o, "previousCallbackSecretValidUntil",
                           c.callbacks.old_secret[0] && c.callbacks.old_until > time_now()
                               ? json_time(c.callbacks.old_until)
                               : NULL);
    if (a->json) {
        cmd_print_json(o);
        arena_free(c.a);
        return 0;
    }
    printf("merchantId:   %s\nname:         %s\nenvironment:  %s\nchannels:     %s%s%s\n"
           "currencies:   ",
           c.m.id, c.m.name, db_environment_name(c.m.environment), c.m.sms_enabled ? "sms " : "",
           c.m.whatsapp_enabled ? "whatsapp" : "",
           (!c.m.sms_enabled && !c.m.whatsapp_enabled) ? "none" : "");
    print_currencies(c.cur, c.ncur);
    if (c.m.logo_type[0])
        printf("logo:         %s, %lld bytes\n", c.m.logo_type, (long long)c.m.logo_bytes);
    else
        printf("logo:         none\n");
    printf("integrators:  %zu\n", json_object_array_length(c.integrators));
    for (size_t i = 0; i < json_object_array_length(c.integrators); i++) {
        json_object *it = json_object_array_get_idx(c.integrators, i), *v;
        json_object_object_get_ex(it, "applicationId", &v);
        printf("  %s", json_object_get_string(v));
        json_object_object_get_ex(it, "type", &v);
        printf("  %-18s", json_object_get_string(v));
        json_object_object_get_ex(it, "status", &v);
        printf("  %-11s", json_object_get_string(v));
        json_object_object_get_ex(it, "name", &v);
        printf("  %s\n", json_object_get_string(v));
    }
    printf("API keys:     %zu\n", json_object_array_length(c.keys));
    for (size_t i = 0; i < json_object_array_length(c.keys); i++) {
        json_object *k = json_object_array_get_idx(c.keys, i), *v;
        json_object_object_get_ex(k, "id", &v);
        printf("  %s", json_object_get_string(v));
        json_object_object_get_ex(k, "key", &v);
        printf("  %s", json_object_get_string(v));
        json_object_object_get_ex(k, "revoked", &v);
        printf("%s\n", json_object_get_boolean(v) ? "  (revoked)" : "");
    }
    printf("callbacks:\n");
    for (int k = CB_PAYMENT_STATUS; k <= CB_SETTINGS; k++)
        printf("  %-27s %s\n", cmd_callback_option(k),
               c.callbacks.url[k] ? c.callbacks.url[k] : "none");
    printf("callbackSecret: %s\n", c.secret);
    json_object_put(o);
    arena_free(c.a);
    return 0;
}

struct rotate_ctx {
    const char *id;
    char secret[WEBHOOK_SECRET_LEN];
    usec_t old_until;
};

static enum db_status rotate_txn(struct db_tx *tx, void *cls)
{
    struct rotate_ctx *c = cls;
    struct arena *a = arena_new(0);
    struct svc s = {.tx = tx, .a = a, .now = time_now()};
    struct db_callback_config before;
    enum db_status st = DB_CALL(tx, callbacks, config_get, c->id, a, &before);
    if (st > 0) {
        st = svc_cb_rotate_secret(&s, c->id, c->secret);
        c->old_until = before.secret[0] ? s.now + SVC_CB_ROTATION_OVERLAP : 0;
    }
    arena_free(a);
    return st == 0 ? DB_ROLLBACK : st;
}

static int do_rotate(struct merchant_args *a, struct db *db)
{
    struct rotate_ctx c = {.id = a->id};
    enum db_status st = db_run(db, DB_WRITE, "merchant_rotate_secret", rotate_txn, &c);
    if (st == DB_ROLLBACK)
        return cmd_fail("no merchant %s", a->id);
    if (st < 0)
        return cmd_fail("could not rotate the callback secret of merchant %s", a->id);
    if (a->json) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "merchantId", json_object_new_string(a->id));
        json_object_object_add(o, "callbackSecret", json_object_new_string(c.secret));
        json_object_object_add(o, "previousCallbackSecretValidUntil",
                               c.old_until ? json_time(c.old_until) : NULL);
        cmd_print_json(o);
        return 0;
    }
    char until[40] = "";
    if (c.old_until)
        time_format_rfc3339(c.old_until, until, sizeof until);
    printf("New callback signing secret of merchant %s:\n  %s\n", a->id, c.secret);
    if (c.old_until)
        printf("The previous secret signs too until %s.\n", until);
    return 0;
}

struct update_ctx {
    struct merchant_args *a;
    struct db_merchant m;
    struct db_currency cur[DB_MAX_CURRENCIES];
    size_t ncur;
    bool set_currencies;
    bool sms, wa;
    int64_t link_ttl, click_ttl, page_ttl, settlement, review;
    int txn_type, attempts;
    char sms_from[16], wa_from[16];
    bool set_logo;         /* --logo given */
    const char *logo_type; /* NULL: remove the logo */
    unsigned char *logo;   /* the file's bytes (malloc) */
    size_t logo_len;
    enum db_environment old_env;
    int quiet_start, quiet_end;
    char wa_template[128], wa_lang[16];
    const char *refused;     /* a provider that cannot be selected: why */
    const char *refused_opt; /* ...with which option, and its id */
    const char *refused_id;
    int keys_active;  /* active keys after the update */
    int keys_refused; /* of those, keys whose prefix the new environment refuses */
};

static void count_keys_cb(void *cls, const struct db_api_key *k)
{
    struct update_ctx *c = cls;
    if (k->revoked_at)
        return;
    c->keys_active++;
    if (strcmp(k->prefix, db_key_prefix(c->m.environment)) != 0)
        c->keys_refused++;
}

/* Select (id) or clear ("none") the merchant's provider of a channel into
 * out; the provider must be the merchant's and carry the channel. */
static enum db_status select_provider(struct db_tx *tx, struct update_ctx *c, const char *id,
                                      int channel, char out[DB_UUID_LEN])
{
    if (!id)
        return DB_ONE_RESULT;
    if (strcmp(id, "none") == 0) {
        out[0] = '\0';
        return DB_ONE_RESULT;
    }
    struct db_provider p;
    struct arena *a = arena_new(0);
    enum db_status st = DB_CALL(tx, providers, get, c->m.id, id, a, &p);
    const struct channel_ops *ops = st > 0 ? channel_kind(p.kind) : NULL;
    arena_free(a);
    if (st < 0)
        return st;
    c->refused_opt = channel == CHANNEL_SMS ? "sms-provider" : "whatsapp-provider";
    c->refused_id = id;
    if (st == 0) {
        c->refused = "is not a provider of this merchant (chatpay provider list)";
        return DB_ROLLBACK;
    }
    if (!ops || !(ops->channels & (1u << channel))) {
        c->refused = channel == CHANNEL_SMS ? "does not carry SMS" : "does not carry WhatsApp";
        return DB_ROLLBACK;
    }
    snprintf(out, DB_UUID_LEN, "%s", id);
    return DB_ONE_RESULT;
}

/* Select (id) or clear ("none") the merchant's payment gateway; the provider
 * must be the merchant's, a gateway, with credentials that fit the
 * environment the merchant has after this update. */
static enum db_status select_gateway(struct db_tx *tx, struct update_ctx *c, const char *id)
{
    if (id && strcmp(id, "none") == 0) {
        c->m.gateway_provider[0] = '\0';
        return DB_ONE_RESULT;
    }
    const char *which = id ? id : c->m.gateway_provider;
    if (!which[0])
        return DB_ONE_RESULT;
    struct db_provider p;
    struct arena *a = arena_new(0);
    enum db_status st = DB_CALL(tx, providers, get, c->m.id, which, a, &p);
    bool gateway = st > 0 && gateway_kind(p.kind) != NULL;
    arena_free(a);
    if (st < 0)
        return st;
    c->refused_opt = id ? "gateway" : "environment";
    c->refused_id = id ? id : c->a->environment;
    if (st == 0 || !gateway) {
        c->refused = st == 0 ? "is not a provider of this merchant (chatpay provider list)"
                             : "is not a payment gateway";
        return DB_ROLLBACK;
    }
    if (!gateway_fits(p.live, c->m.environment)) {
        c->refused = !id      ? "does not fit the merchant's gateway: its credentials are for the "
                                "other environment (select another with --gateway)"
                     : p.live ? "has live credentials, for production merchants only"
                              : "has test credentials, for sandbox merchants only";
        return DB_ROLLBACK;
    }
    if (which != c->m.gateway_provider) /* (never copied onto itself) */
        snprintf(c->m.gateway_provider, sizeof c->m.gateway_provider, "%s", which);
    return DB_ONE_RESULT;
}

static enum db_status update_txn(struct db_tx *tx, void *cls)
{
    struct update_ctx *c = cls;
    enum db_status st = DB_CALL(tx, merchants, get, c->a->id, &c->m);
    if (st <= 0)
        return st == 0 ? DB_ROLLBACK : st;
    if (c->a->name)
        snprintf(c->m.name, sizeof c->m.name, "%s", c->a->name);
    c->old_env = c->m.environment;
    bool old_sms = c->m.sms_enabled, old_wa = c->m.whatsapp_enabled;
    struct db_currency old_cur[DB_MAX_CURRENCIES];
    size_t old_ncur = 0;
    st = DB_CALL(tx, currencies, list, c->m.id, old_cur, DB_MAX_CURRENCIES, &old_ncur);
    if (st < 0)
        return st;
    if (c->a->environment)
        db_environment_parse(c->a->environment, &c->m.environment);
    if (c->a->channels) {
        c->m.sms_enabled = c->sms;
        c->m.whatsapp_enabled = c->wa;
    }
    if (c->link_ttl)
        c->m.link_ttl_s = c->link_ttl;
    if (c->click_ttl)
        c->m.click_ttl_s = c->click_ttl;
    if (c->page_ttl)
        c->m.page_ttl_s = c->page_ttl;
    if (c->txn_type)
        c->m.default_transaction_type = c->txn_type;
    if (c->settlement)
        c->m.settlement_delay_s = c->settlement;
    if (c->attempts)
        c->m.max_payment_attempts = c->attempts;
    if (c->review)
        c->m.review_settle_s = c->review;
    if (c->a->sms_from)
        memcpy(c->m.sms_from, c->sms_from, sizeof c->m.sms_from);
    if (c->a->wa_from)
        memcpy(c->m.whatsapp_from, c->wa_from, sizeof c->m.whatsapp_from);
    char old_sms_provider[DB_UUID_LEN], old_wa_provider[DB_UUID_LEN];
    memcpy(old_sms_provider, c->m.sms_provider, sizeof old_sms_provider);
    memcpy(old_wa_provider, c->m.whatsapp_provider, sizeof old_wa_provider);
    st = select_provider(tx, c, c->a->sms_provider, CHANNEL_SMS, c->m.sms_provider);
    if (st <= 0)
        return st;
    st = select_provider(tx, c, c->a->wa_provider, CHANNEL_WHATSAPP, c->m.whatsapp_provider);
    if (st <= 0)
        return st;
    st = select_gateway(tx, c, c->a->gateway);
    if (st <= 0)
        return st;
    if (c->a->fallback)
        c->m.fallback_sms = strcmp(c->a->fallback, "sms") == 0;
    if (c->a->reminders)
        snprintf(c->m.reminders, sizeof c->m.reminders, "%s",
                 strcmp(c->a->reminders, "none") == 0 ? "" : c->a->reminders);
    if (c->a->quiet) {
        c->m.quiet_start = c->quiet_start;
        c->m.quiet_end = c->quiet_end;
    }
    if (c->a->timezone)
        snprintf(c->m.timezone, sizeof c->m.timezone, "%s", c->a->timezone);
    if (c->a->wa_template) {
        memcpy(c->m.wa_template, c->wa_template, sizeof c->m.wa_template);
        memcpy(c->m.wa_template_lang, c->wa_lang, sizeof c->m.wa_template_lang);
    }
    if (c->a->wa_params)
        snprintf(c->m.wa_template_params, sizeof c->m.wa_template_params, "%s", c->a->wa_params);
    c->m.updated_at = time_now();
    st = DB_CALL(tx, merchants, update, &c->m);
    if (st < 0)
        return st;
    if (c->set_logo) {
        st = DB_CALL(tx, merchants, logo_set, c->m.id, c->logo_type, c->logo, c->logo_len,
                     c->m.updated_at);
        if (st < 0)
            return st;
        snprintf(c->m.logo_type, sizeof c->m.logo_type, "%s", c->logo_type ? c->logo_type : "");
        c->m.logo_bytes = c->logo_type ? (int64_t)c->logo_len : 0;
    }
    if (c->set_currencies) {
        st = DB_CALL(tx, currencies, set, c->m.id, c->cur, c->ncur);
        if (st < 0)
            return st;
    }
    c->keys_active = c->keys_refused = 0;
    st = DB_CALL(tx, api_keys, list, c->m.id, count_keys_cb, c);
    if (st < 0)
        return st;
    st = cmd_callbacks_store(tx, c->m.id, NULL, &c->a->callbacks);
    if (st <= 0)
        return st < 0 ? st : DB_HARD_ERROR;
    /* what the merchant's systems see in GET /api/v2/config */
    const char *changed[4];
    size_t n = 0;
    if (c->set_currencies &&
        (old_ncur != c->ncur || memcmp(old_cur, c->cur, c->ncur * sizeof *old_cur) != 0))
        changed[n++] = "supportedCurrencies";
    if (old_sms != c->m.sms_enabled || strcmp(old_sms_provider, c->m.sms_provider) != 0)
        changed[n++] = "smsChannelEnabled";
    if (old_wa != c->m.whatsapp_enabled || strcmp(old_wa_provider, c->m.whatsapp_provider) != 0)
        changed[n++] = "whatsappChannelEnabled";
    if (c->old_env != c->m.environment)
        changed[n++] = "environment";
    if (n == 0)
        return DB_ONE_RESULT;
    struct arena *a = arena_new(0);
    struct svc s = {.tx = tx, .a = a, .now = c->m.updated_at};
    st = svc_cb_settings(&s, c->m.id, changed, n);
    arena_free(a);
    return st < 0 ? st : DB_ONE_RESULT;
}

/* Read a logo file: at most WEB_LOGO_MAX bytes, its type told from the
 * content ("none": remove the logo). Returns 0, or the exit code after
 * reporting the problem (c->logo is then freed). */
static int read_logo(const char *path, struct update_ctx *c)
{
    c->set_logo = true;
    if (strcmp(path, "none") == 0)
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return cmd_fail("--logo: cannot open %s: %s", path, strerror(errno));
    c->logo = malloc(WEB_LOGO_MAX + 1);
    if (!c->logo) {
        fclose(f);
        return cmd_fail("--logo: out of memory");
    }
    c->logo_len = fread(c->logo, 1, WEB_LOGO_MAX + 1, f);
    bool failed = ferror(f) != 0;
    fclose(f);
    int rc = 0;
    char why[200];
    const char *problem;
    if (failed)
        rc = cmd_fail("--logo: cannot read %s", path);
    else if (c->logo_len == 0)
        rc = cmd_usage_error(usage, "--logo: %s is empty", path);
    else if (c->logo_len > WEB_LOGO_MAX)
        rc = cmd_usage_error(usage, "--logo: %s is larger than 256 KiB (%d bytes)", path,
                             WEB_LOGO_MAX);
    else if (!(c->logo_type = web_logo_type(c->logo, c->logo_len)))
        rc = cmd_usage_error(usage, "--logo: %s is not a PNG, JPEG, WebP or SVG image", path);
    else if (strcmp(c->logo_type, "image/svg+xml") == 0 &&
             (problem = web_logo_svg_problem(c->logo, c->logo_len, why, sizeof why)))
        rc = cmd_usage_error(usage, "--logo: %s: %s; remove it, or use a PNG", path, problem);
    if (rc != 0) {
        free(c->logo);
        c->logo = NULL;
    }
    return rc;
}

/* "21:00-08:00" → minutes of the day; "none" → -1, -1. */
static bool parse_quiet(const char *s, int *start, int *end)
{
    if (strcmp(s, "none") == 0) {
        *start = *end = -1;
        return true;
    }
    unsigned h1, m1, h2, m2;
    char tail;
    if (strlen(s) != 11 || sscanf(s, "%2u:%2u-%2u:%2u%c", &h1, &m1, &h2, &m2, &tail) != 4 ||
        h1 > 23 || h2 > 23 || m1 > 59 || m2 > 59 || (h1 == h2 && m1 == m2))
        return false;
    *start = (int)(h1 * 60 + m1);
    *end = (int)(h2 * 60 + m2);
    return true;
}

/* "NAME:LANG" (or "none") into name[128] and lang[16]. */
static bool parse_template(const char *s, char *name, char *lang)
{
    if (strcmp(s, "none") == 0) {
        name[0] = lang[0] = '\0';
        return true;
    }
    const char *colon = strrchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : 0, l = colon ? strlen(colon + 1) : 0;
    if (!colon || n == 0 || n >= 128 || l < 2 || l >= 16)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return false;
    for (size_t i = 0; i < l; i++)
        if (!isalpha((unsigned char)colon[1 + i]) && colon[1 + i] != '_')
            return false;
    memcpy(name, s, n);
    name[n] = '\0';
    memcpy(lang, colon + 1, l + 1);
    return true;
}

static bool template_params_ok(const char *s)
{
    int n = 0;
    if (strlen(s) >= 128)
        return false;
    while (*s) {
        size_t len = strcspn(s, ",");
        bool known = (len == 8 && strncmp(s, "merchant", 8) == 0) ||
                     (len == 6 && strncmp(s, "amount", 6) == 0) ||
                     (len == 5 && strncmp(s, "order", 5) == 0) ||
                     (len == 3 && strncmp(s, "url", 3) == 0);
        if (!known || ++n > 8)
            return false;
        s += len;
        if (*s == ',' && !*++s)
            return false;
    }
    return n > 0;
}

/* ---- a move to production: the callback URLs already stored ---------------------------- */

struct stored_urls {
    const char *id;
    struct arena *a;
    json_object *apps;     /* the integrators' application ids */
    const char **app_urls; /* CB_KINDS per integrator */
    struct db_callback_config own;
};

static void app_id_cb(void *cls, const struct db_integrator *it)
{
    json_object_array_add(cls, json_object_new_string(it->application_id));
}

static enum db_status stored_urls_txn(struct db_tx *tx, void *cls)
{
    struct stored_urls *c = cls;
    enum db_status st = DB_CALL(tx, callbacks, config_get, c->id, c->a, &c->own);
    if (st < 0)
        return st;
    json_object_put(c->apps);
    c->apps = json_object_new_array();
    st = DB_CALL(tx, integrators, list, c->id, app_id_cb, c->apps);
    if (st < 0)
        return st;
    size_t n = json_object_array_length(c->apps);
    c->app_urls = arena_calloc(c->a, n ? n * CB_KINDS : 1, sizeof *c->app_urls);
    for (size_t i = 0; i < n && st >= 0; i++)
        st = DB_CALL(tx, callbacks, integrator_urls, c->id,
                     json_object_get_string(json_object_array_get_idx(c->apps, i)), c->a,
                     &c->app_urls[i * CB_KINDS]);
    return st < 0 ? st : DB_ONE_RESULT;
}

/* A stored URL production refuses: said on stderr (whose, which, why). */
static void stored_url_warn(const char *url, const char *whose, int kind)
{
    char why[256];
    if (!url || net_check_url(url, false, true, why, sizeof why) == NET_OK)
        return;
    fprintf(stderr,
            "chatpay: warning: %s %s URL %s does not suit production (%s): its callbacks will "
            "be refused, and given up, until --%s gives another\n",
            whose, cmd_callback_option(kind), url, why, cmd_callback_option(kind));
}

/* A merchant moving to production keeps the callback URLs it had (its
 * own, unless this command replaces them, and its integrators'), but those
 * that production refuses (http, a private address) get nothing: the
 * operator is told which, at once, rather than finding callbacks given up
 * later. */
static void production_urls_warn(struct db *db, const struct merchant_args *args)
{
    struct stored_urls c = {.id = args->id, .a = arena_new(0)};
    if (db_run(db, DB_READ, "merchant_urls", stored_urls_txn, &c) >= 0) {
        for (int k = CB_PAYMENT_STATUS; k <= CB_SETTINGS; k++)
            if (!args->callbacks.arg[k])
                stored_url_warn(c.own.url[k], "the merchant's", k);
        size_t n = json_object_array_length(c.apps);
        for (size_t i = 0; i < n; i++) {
            const char *app = json_object_get_string(json_object_array_get_idx(c.apps, i));
            const char *whose = arena_printf(c.a, "integrator %s's", app);
            for (int k = CB_PAYMENT_STATUS; k <= CB_SETTINGS; k++)
                stored_url_warn(c.app_urls[i * CB_KINDS + k], whose, k);
        }
    }
    json_object_put(c.apps);
    arena_free(c.a);
}

static int do_update(struct merchant_args *a, const struct config *cfg)
{
    struct update_ctx c = {.a = a};
    enum db_environment env;
    if (a->environment && !db_environment_parse(a->environment, &env))
        return cmd_usage_error(usage, "--environment: must be sandbox or production");
    if (a->channels && !parse_channels(a->channels, &c.sms, &c.wa))
        return cmd_usage_error(usage, "--channels: must be sms, whatsapp, sms,whatsapp or none");
    if (a->name && !cmd_name_ok(a->name))
        return cmd_usage_error(usage, "--name: must be " CMD_NAME_RULE);
    char err[300];
    if (a->currencies) {
        if (!admin_parse_currencies(a->currencies, c.cur, &c.ncur, err, sizeof err))
            return cmd_usage_error(usage, "--%s", err);
        c.set_currencies = true;
    }
    if (a->link_ttl && !parse_ttl(a->link_ttl, &c.link_ttl))
        return cmd_usage_error(usage, "--link-ttl: a duration from 30s to 30d, like 90s, 5m, 2h");
    if (a->click_ttl && !parse_ttl(a->click_ttl, &c.click_ttl))
        return cmd_usage_error(usage, "--click-ttl: a duration from 30s to 30d, like 90s, 5m, 2h");
    if (a->page_ttl && !parse_ttl(a->page_ttl, &c.page_ttl))
        return cmd_usage_error(usage, "--page-ttl: a duration from 30s to 30d, like 90s, 5m, 2h");
    if (a->txn_type) {
        if (strcasecmp(a->txn_type, "Sale") == 0)
            c.txn_type = 2;
        else if (strcasecmp(a->txn_type, "Authorization") == 0)
            c.txn_type = 1;
        else
            return cmd_usage_error(usage, "--transaction-type: must be Sale or Authorization");
    }
    if (a->sms_from && !parse_msisdn(a->sms_from, c.sms_from))
        return cmd_usage_error(usage, "--sms-from: an international number of 7 to 15 digits");
    if (a->wa_from && !parse_msisdn(a->wa_from, c.wa_from))
        return cmd_usage_error(usage, "--whatsapp-from: an international number of 7 to 15 digits");
    if (a->settlement && !parse_ttl(a->settlement, &c.settlement))
        return cmd_usage_error(usage,
                               "--settlement-delay: a duration from 30s to 30d, like 90s, 5m, 24h");
    if (a->review && !parse_ttl(a->review, &c.review))
        return cmd_usage_error(usage, "--review-delay: a duration from 30s to 30d, like 30s, 5m");
    if (a->attempts) {
        char *end;
        long n = strtol(a->attempts, &end, 10);
        if (*end || end == a->attempts || n < 1 || n > 10)
            return cmd_usage_error(usage, "--payment-attempts: a whole number from 1 to 10");
        c.attempts = (int)n;
    }
    if (a->fallback && strcmp(a->fallback, "sms") != 0 && strcmp(a->fallback, "none") != 0)
        return cmd_usage_error(usage, "--fallback: must be sms or none");
    usec_t waits[SVC_REMINDERS_MAX];
    if (a->reminders && strcmp(a->reminders, "none") != 0 &&
        (strlen(a->reminders) >= sizeof c.m.reminders ||
         svc_reminders_parse(a->reminders, waits) <= 0))
        return cmd_usage_error(usage,
                               "--reminders: 1 to %d increasing durations from 1m to 7d, "
                               "separated by commas (10m,2h), or none",
                               SVC_REMINDERS_MAX);
    if (a->quiet && !parse_quiet(a->quiet, &c.quiet_start, &c.quiet_end))
        return cmd_usage_error(usage, "--quiet-hours: HH:MM-HH:MM (24-hour, e.g. 21:00-08:00), "
                                      "or none");
    if (a->timezone && (strlen(a->timezone) >= sizeof c.m.timezone || !tz_valid(a->timezone)))
        return cmd_usage_error(usage, "--timezone: an IANA time zone such as Africa/Johannesburg");
    if (a->wa_template && !parse_template(a->wa_template, c.wa_template, c.wa_lang))
        return cmd_usage_error(usage, "--whatsapp-template: NAME:LANG (e.g. payment_link:en), or "
                                      "none");
    if (a->wa_params && !template_params_ok(a->wa_params))
        return cmd_usage_error(usage, "--whatsapp-template-params: a comma list of merchant, "
                                      "amount, order, url (at most 8)");
    if (!a->name && !a->environment && !a->channels && !a->currencies && !a->link_ttl &&
        !a->click_ttl && !a->page_ttl && !a->txn_type && !a->sms_from && !a->wa_from &&
        !a->settlement && !a->attempts && !a->review && !a->logo &&
        !cmd_callbacks_given(&a->callbacks) && !a->sms_provider && !a->wa_provider && !a->gateway &&
        !a->fallback && !a->reminders && !a->quiet && !a->timezone && !a->wa_template &&
        !a->wa_params)
        return cmd_usage_error(usage, "merchant update: nothing to change");
    if (a->logo) {
        int rc = read_logo(a->logo, &c);
        if (rc != 0)
            return rc;
    }
    /* the arguments are good: only now touch the database */
    struct db *db = cmd_open_db(cfg);
    if (!db) {
        free(c.logo);
        return EXIT_RUNTIME;
    }
    if (cmd_callbacks_given(&a->callbacks)) {
        /* the URLs must suit the environment the merchant will be in */
        struct show_ctx m = {.id = a->id};
        enum db_status got = db_run(db, DB_READ, "merchant_get", get_txn, &m);
        int rc = got < 0    ? cmd_fail("could not read merchant %s", a->id)
                 : got == 0 ? cmd_fail("no merchant %s", a->id)
                            : cmd_callbacks_check(&a->callbacks,
                                                  a->environment ? env : m.m.environment, usage);
        if (rc != 0) {
            db_close(db);
            free(c.logo);
            return rc;
        }
    }
    enum db_status st = db_run(db, DB_WRITE, "merchant_update", update_txn, &c);
    if (st > 0 && c.old_env != ENV_PRODUCTION && c.m.environment == ENV_PRODUCTION)
        production_urls_warn(db, a);
    db_close(db);
    free(c.logo);
    if (st == DB_ROLLBACK && c.refused)
        return cmd_fail("--%s: %s %s", c.refused_opt, c.refused_id, c.refused);
    if (st == DB_ROLLBACK)
        return cmd_fail("no merchant %s", a->id);
    if (st < 0)
        return cmd_fail("could not update merchant %s", a->id);
    if (a->json) {
        json_object *o = merchant_json(&c.m);
        if (a->environment)
            json_object_object_add(o, "refusedApiKeys", json_object_new_int(c.keys_refused));
        cmd_print_json(o);
        return 0;
    }
    printf("Merchant %s updated.\n", c.m.id);
    if (a->environment && c.old_env != c.m.environment)
        printf("Environment: %s, was %s. Its %d active %s key%s %s refused from now on (while "
               "the merchant stays in %s; they are not revoked).\n"
               "A %s key: chatpay apikey create --merchant %s\n",
               db_environment_name(c.m.environment), db_environment_name(c.old_env), c.keys_refused,
               db_key_prefix(c.old_env), c.keys_refused == 1 ? "" : "s",
               c.keys_refused == 1 ? "is" : "are", db_environment_name(c.m.environment),
               db_key_prefix(c.m.environment), c.m.id);
    return 0;
}

int cmd_merchant(int argc, char **argv)
{
    if (argc < 2)
        return cmd_usage_error(usage, "merchant: missing subcommand");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    struct merchant_args a = {0};
    optind = 1;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
        switch (opt) {
        case OPT_NAME:
            a.name = optarg;
            break;
        case OPT_ENV:
            a.environment = optarg;
            break;
        case OPT_CURRENCIES:
            a.currencies = optarg;
            break;
        case OPT_CHANNELS:
            a.channels = optarg;
            break;
        case OPT_DB:
            a.db = optarg;
            break;
        case OPT_CONFIG:
            a.config = optarg;
            break;
        case OPT_JSON:
            a.json = true;
            break;
        case OPT_HELP:
            fputs(usage, stdout);
            return 0;
        case OPT_LINK_TTL:
            a.link_ttl = optarg;
            break;
        case OPT_CLICK_TTL:
            a.click_ttl = optarg;
            break;
        case OPT_PAGE_TTL:
            a.page_ttl = optarg;
            break;
        case OPT_TXN_TYPE:
            a.txn_type = optarg;
            break;
        case OPT_SMS_FROM:
            a.sms_from = optarg;
            break;
        case OPT_WA_FROM:
            a.wa_from = optarg;
            break;
        case OPT_SETTLEMENT:
            a.settlement = optarg;
            break;
        case OPT_ATTEMPTS:
            a.attempts = optarg;
            break;
        case OPT_REVIEW:
            a.review = optarg;
            break;
        case OPT_LOGO:
            a.logo = optarg;
            break;
        case OPT_CB_PAYMENT:
            a.callbacks.arg[CB_PAYMENT_STATUS] = optarg;
            break;
        case OPT_CB_EVENT:
            a.callbacks.arg[CB_TRANSACTION_EVENT] = optarg;
            break;
        case OPT_CB_SETTINGS:
            a.callbacks.arg[CB_SETTINGS] = optarg;
            break;
        case OPT_SMS_PROVIDER:
            a.sms_provider = optarg;
            break;
        case OPT_GATEWAY:
            a.gateway = optarg;
            break;
        case OPT_WA_PROVIDER:
            a.wa_provider = optarg;
            break;
        case OPT_FALLBACK:
            a.fallback = optarg;
            break;
        case OPT_REMINDERS:
            a.reminders = optarg;
            break;
        case OPT_QUIET:
            a.quiet = optarg;
            break;
        case OPT_TIMEZONE:
            a.timezone = optarg;
            break;
        case OPT_WA_TEMPLATE:
            a.wa_template = optarg;
            break;
        case OPT_WA_PARAMS:
            a.wa_params = optarg;
            break;
        default:
            return cmd_usage_error(usage, "merchant %s: unknown or incomplete option %s", sub,
                                   argv[optind]);
        }
    }
    int npos = argc - 1 - optind;
    char **pos = argv + 1 + optind;
    bool rotate = strcmp(sub, "rotate-callback-secret") == 0;
    bool wants_id = strcmp(sub, "show") == 0 || strcmp(sub, "update") == 0 || rotate;
    if (strcmp(sub, "create") != 0 && strcmp(sub, "list") != 0 && !wants_id)
        return cmd_usage_error(usage, "merchant: unknown subcommand \"%s\"", sub);
    if (wants_id) {
        if (npos != 1)
            return cmd_usage_error(usage, "merchant %s: expected one MERCHANT_ID", sub);
        a.id = pos[0];
    } else if (npos != 0) {
        return cmd_usage_error(usage, "merchant %s: unexpected argument \"%s\"", sub, pos[0]);
    }
    if (strcmp(sub, "create") == 0 && !a.name)
        return cmd_usage_error(usage, "merchant create: --name is required");
    bool settings = a.link_ttl || a.click_ttl || a.page_ttl || a.txn_type || a.sms_from ||
                    a.wa_from || a.settlement || a.attempts || a.review || a.logo ||
                    cmd_callbacks_given(&a.callbacks) || a.sms_provider || a.wa_provider ||
                    a.gateway || a.fallback || a.reminders || a.quiet || a.timezone ||
                    a.wa_template || a.wa_params;
    if (strcmp(sub, "update") != 0 && settings)
        return cmd_usage_error(usage,
                               "merchant %s: --link-ttl, --click-ttl, --page-ttl, "
                               "--transaction-type, --sms-from, --whatsapp-from, --logo and the "
                               "callback URLs are options of merchant update",
                               sub);
    if (strcmp(sub, "update") != 0 && strcmp(sub, "create") != 0 &&
        (a.name || a.environment || a.currencies || a.channels))
        return cmd_usage_error(usage,
                               "merchant %s: takes no --name/--environment/--currencies/"
                               "--channels",
                               sub);

    struct config cfg;
    if (!cmd_config(&cfg, a.config, a.db))
        return EXIT_RUNTIME;
    if (strcmp(sub, "create") == 0)
        return do_create(&a, &cfg);
    if (strcmp(sub, "update") == 0)
        return do_update(&a, &cfg);
    struct db *db = cmd_open_db(&cfg);
    if (!db)
        return EXIT_RUNTIME;
    int rc = strcmp(sub, "list") == 0 ? do_list(&a, db)
             : rotate                 ? do_rotate(&a, db)
                                      : do_show(&a, db);
    db_close(db);
    return rc;
}
