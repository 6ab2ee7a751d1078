/*
 * test_channel_twilio.c — unit tests for the Twilio kind (channel/twilio.c,
 * included here so that its static wire functions can be tested).
 *
 * The requests go through a fake `perform` that records them and answers
 * from a script, except one test that uses the real src/net against a
 * closed loopback port. The reference values (Basic credentials, form
 * bodies, X-Twilio-Signature) were computed independently with Python
 * (base64, urllib.parse.quote(safe="-._~"), hmac + hashlib.sha1);
 * GvWf1cFY/Q7PnoempGyD5oXAezc= is the example of Twilio's documentation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel/twilio.c"

#define AC    "AC0123456789abcdef0123456789abcdef"
#define TOKEN "0123456789abcdef0123456789abcdef"
#define MG    "MG0123456789abcdef0123456789abcdef"
#define SK    "SKffffffffffffffffffffffffffffffff"

/* ---- the fake transport ---------------------------------------------------------------- */

struct seen {
    char method[8], url[256], body[1024], auth[256], ctype[64], accept[64];
    unsigned timeout_ms;
    bool allow_private, has_cancel;
};

struct answer {
    enum net_error error;
    int status;
    const char *body;
    bool sent;
    unsigned delay_ms; /* the answer takes this long */
};

static struct {
    struct seen seen[4];
    size_t nseen;
    struct answer answers[4];
    size_t nanswers, next;
} fake;

static void fake_reset(void)
{
    memset(&fake, 0, sizeof fake);
}

static void fake_answer(enum net_error error, int status, const char *body, bool sent)
{
    fake.answers[fake.nanswers++] = (struct answer){error, status, body, sent, 0};
}

static const char *header_of(const struct net_request *rq, const char *name)
{
    for (size_t i = 0; i < rq->nheaders; i++)
        if (strcasecmp(rq->headers[i].name, name) == 0)
            return rq->headers[i].value;
    return "";
}

static void fake_perform(struct net *n, const struct net_request *rq, struct net_response *out)
{
    struct seen *s = &fake.seen[fake.nseen++];
    snprintf(s->method, sizeof s->method, "%s", rq->method ? rq->method : "GET");
    snprintf(s->url, sizeof s->url, "%s", rq->url);
    snprintf(s->body, sizeof s->body, "%.*s", (int)rq->body_len,
             rq->body ? (const char *)rq->body : "");
    snprintf(s->auth, sizeof s->auth, "%s", header_of(rq, "Authorization"));
    snprintf(s->ctype, sizeof s->ctype, "%s", header_of(rq, "Content-Type"));
    snprintf(s->accept, sizeof s->accept, "%s", header_of(rq, "Accept"));
    s->timeout_ms = rq->timeout_ms;
    s->allow_private = rq->allow_private;
    s->has_cancel = rq->cancel != NULL;
    memset(out, 0, sizeof *out);
    assert_true(fake.next < fake.nanswers);
    const struct answer *a = &fake.answers[fake.next++];
    if (a->delay_ms)
        usleep(a->delay_ms * 1000);
    out->error = a->error;
    out->status = a->status;
    out->sent = a->sent;
    const char *body = a->error == NET_OK && a->body ? a->body : "";
    out->body = strdup(body);
    out->body_len = strlen(body);
    if (a->error != NET_OK)
        snprintf(out->message, sizeof out->message, "fake %s", net_error_name(a->error));
}

/* ---- instances ------------------------------------------------------------------------- */

static const _Atomic bool never = false;

/* An instance from settings given as JSON text; NULL with err. */
static bool production; /* the instances are a production merchant's */

static struct twilio *make(const char *settings, char *err, size_t errlen)
{
    json_object *s = json_tokener_parse(settings);
    assert_non_null(s);
    struct provider_config cfg = {.provider_id = "prv_1",
                                  .merchant_id = "m_1",
                                  .settings = s,
                                  .inbound_url = "https://pay.example.com/hooks/prv_1/tok",
                                  .test_mode = !production};
    err[0] = '\0';
    struct twilio *t = channel_twilio_ops.create(&cfg, err, errlen);
    json_object_put(s);
    return t;
}

static struct channel instance(struct twilio *t)
{
    return (struct channel){.ops = &channel_twilio_ops,
                            .id = "prv_1",
                            .merchant_id = "m_1",
                            .state = t,
                            .timeout = 10 * 1000000,
                            .cancel = &never};
}

static const char *const FULL = "{\"account_sid\":\"" AC "\",\"auth_token\":\"" TOKEN "\","
                                "\"sms_from\":\"15550001111\",\"messaging_service_sid\":\"" MG
                                "\",\"base_url\":\"http://127.0.0.1:9/\"}";

/* ---- settings -------------------------------------------------------------------------- */

static void expect_refused(const char *settings, const char *names)
{
    char err[256];
    struct twilio *t = make(settings, err, sizeof err);
    assert_null(t);
    assert_non_null(strstr(err, names));
}

static void test_create_refuses(void **state)
{
    expect_refused("{}", "account_sid");
    expect_refused("{\"auth_token\":\"x\"}", "account_sid");
    expect_refused("{\"account_sid\":\"\",\"auth_token\":\"x\"}", "account_sid");
    expect_refused("{\"account_sid\":\"AC123\",\"auth_token\":\"x\"}", "account_sid");
    expect_refused("{\"account_sid\":\"SK0123456789abcdef0123456789abcdef\",\"auth_token\":\"x\"}",
                   "account_sid");
    expect_refused("{\"account_sid\":\"AC0123456789abcdef0123456789abcdeg\",\"auth_token\":\"x\"}",
                   "account_sid");
    expect_refused("{\"account_sid\":\"" AC "\"}", "auth_token");
    expect_refused("{\"account_sid\":\"" AC "\",\"auth_token\":\"x\",\"api_key_sid\":\"" SK "\"}",
                   "api_key_secret");
    expect_refused("{\"account_sid\":\"" AC "\",\"auth_token\":\"x\",\"api_key_sid\":\"SK1\","
                   "\"api_key_secret\":\"s\"}",
                   "api_key_sid");
    expect_refused("{\"account_sid\":\"" AC "\",\"auth_token\":\"x\",\"api_key_secret\":\"s\"}",
                   "api_key_sid");
    expect_refused("{\"account_sid\":\"" AC "\",\"auth_token\":\"x\","
                   "\"messaging_service_sid\":\"MG12\"}",
                   "messaging_service_sid");
    expect_refused("{\"account_sid\":\"" AC "\",\"auth_token\":\"x\",\"sms_from\":\"+1555\"}",
                   "sms_from");
    expect_refused("{\"account_sid\":\"" AC "\",\"auth_token\":\"x\","
                   "\"whatsapp_from\":\"1234567890123456\"}",
                   "whatsapp_from");
    expect_refused("{\"account_sid\":\"" AC "\",\"auth_token\":\"x\",\"base_url\":\"ftp://x\"}",
                   "base_url");
    expect_refused("{\"account_sid\":\"" AC "\",\"auth_token\":\"x\","
                   "\"base_url\":\"https://x/?a=1\"}",
                   "base_url");
    expect_refused("{\"account_sid\":\"" AC "\",\"auth_token\":\"x\",\"base_url\":\"https://\"}",
                   "base_url");
}

static void test_create_accepts(void **state)
{
    char err[256];
    struct twilio *t =
        make("{\"account_sid\":\"" AC "\",\"auth_token\":\"" TOKEN "\"}", err, sizeof err);
    assert_non_null(t);
    assert_string_equal(t->base_url, "https://api.twilio.com");
    assert_false(t->allow_private); /* the public default stays under the SSRF guard */
    assert_string_equal(t->authorization, "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZj"
                                          "owMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZg==");
    assert_string_equal(t->auth_token, TOKEN);
    channel_twilio_ops.destroy(t);

    /* an API key authenticates; the Auth Token still signs */
    t = make("{\"account_sid\":\"" AC "\",\"auth_token\":\"" TOKEN "\",\"api_key_sid\":\"" SK
             "\",\"api_key_secret\":\"keysecret\",\"base_url\":\"http://127.0.0.1:8080//\"}",
             err, sizeof err);
    assert_non_null(t);
    assert_string_equal(t->authorization,
                        "Basic U0tmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZjprZXlzZWNyZXQ=");
    assert_string_equal(t->auth_token, TOKEN);
    assert_string_equal(t->base_url, "http://127.0.0.1:8080");
    assert_true(t->allow_private); /* a fake's URL */
    channel_twilio_ops.destroy(t);
    /* ... of a sandbox merchant only: a production one's is always guarded */
    production = true;
    t = make("{\"account_sid\":\"" AC "\",\"auth_token\":\"x\",\"sms_from\":\"1555\","
             "\"base_url\":\"http://127.0.0.1:8080\"}",
             err, sizeof err);
    production = false;
    assert_non_null(t);
    assert_false(t->allow_private);
    channel_twilio_ops.destroy(t);

    /* no sender at all is allowed: a message may bring its own */
    t = make("{\"account_sid\":\"" AC "\",\"auth_token\":\"x\",\"unknown\":\"ignored\"}", err,
             sizeof err);
    assert_non_null(t);
    channel_twilio_ops.destroy(t);
    channel_twilio_ops.destroy(NULL);
}

static void test_ops_table(void **state)
{
    assert_string_equal(channel_twilio_ops.kind, "twilio");
    assert_int_equal(channel_twilio_ops.channels, 1u << CHANNEL_SMS | 1u << CHANNEL_WHATSAPP);
    assert_int_equal(channel_twilio_ops.receipt_delay, 600LL * 1000000);
    const struct provider_setting *s = channel_twilio_ops.settings;
    size_t n = 0;
    for (; s[n].name; n++) {
        bool secret =
            strcmp(s[n].name, "auth_token") == 0 || strcmp(s[n].name, "api_key_secret") == 0;
        assert_int_equal(s[n].secret, secret);
        bool required =
            strcmp(s[n].name, "account_sid") == 0 || strcmp(s[n].name, "auth_token") == 0;
        assert_int_equal(s[n].required, required);
    }
    assert_int_equal(n, 8);
    assert_non_null(channel_twilio_ops.query);
    assert_non_null(channel_twilio_ops.inbound);
}

/* ---- the send form --------------------------------------------------------------------- */

static const char *const BODY_SMS =
    "To=%2B15552223333&From=%2B15550001111&Body=Pay%20here%3A%20https%3A%2F%2Fpay.example%2Fl%"
    "2Fabc%20%26%20thanks&StatusCallback=https%3A%2F%2Fpay.example.com%2Fhooks%2Fprv_1%2Ftok%"
    "2Fstatus%3Fref%3Dcpm_7";
static const char *const BODY_WA =
    "To=whatsapp%3A%2B15552223333&MessagingServiceSid=" MG
    "&Body=Pay%20here%3A%20https%3A%2F%2Fpay.example%2Fl%2Fabc%20%26%20thanks";
static const char *const BODY_TEMPLATE =
    "To=whatsapp%3A%2B15552223333&MessagingServiceSid=" MG
    "&ContentSid=HX0123456789abcdef0123456789abcdef&ContentVariables=%7B%221%22%3A%2212.50%"
    "20EUR%22%2C%222%22%3A%22https%3A%2F%2Fpay.example%2Fl%2Fabc%22%7D";

static const char *const params2[] = {"12.50 EUR", "https://pay.example/l/abc"};

static struct channel_message sms_message(void)
{
    return (struct channel_message){.merchant_id = "m_1",
                                    .job_id = 7,
                                    .channel = CHANNEL_SMS,
                                    .to = "15552223333",
                                    .text = "Pay here: https://pay.example/l/abc & thanks",
                                    .ref = "cpm_7",
                                    .status_url = "https://pay.example.com/hooks/prv_1/tok/status"};
}

static struct channel_message wa_message(bool with_template)
{
    struct channel_message m = {.merchant_id = "m_1",
                                .job_id = 8,
                                .channel = CHANNEL_WHATSAPP,
                                .to = "15552223333",
                                .text = "Pay here: https://pay.example/l/abc & thanks",
                                .ref = "cpm_8",
                                .button_text = "Pay",
                                .button_url = "https://pay.example/l/abc"};
    if (with_template) {
        m.template_name = "HX0123456789abcdef0123456789abcdef";
        m.template_lang = "en";
        m.template_params = params2;
        m.ntemplate_params = 2;
    }
    return m;
}

static void test_send_form(void **state)
{
    char err[256];
    struct twilio *t = make(FULL, err, sizeof err);
    assert_non_null(t);
    struct arena *a = arena_new(0);
    struct channel_result r;

    struct channel_message m = sms_message();
    const char *form = send_form(a, t, &m, false, &r);
    assert_string_equal(form, BODY_SMS);

    /* WhatsApp: no whatsapp_from, so the messaging service; no button field */
    m = wa_message(true);
    assert_string_equal(send_form(a, t, &m, false, &r), BODY_WA);
    assert_string_equal(send_form(a, t, &m, true, &r), BODY_TEMPLATE);

    /* the message's own from wins over sms_from and the service */
    m = sms_message();
    m.from = "447700900123";
    m.status_url = NULL;
    form = send_form(a, t, &m, false, &r);
    assert_non_null(strstr(form, "From=%2B447700900123&"));
    assert_null(strstr(form, "MessagingServiceSid"));
    assert_null(strstr(form, "StatusCallback"));

    /* refusals before any request */
    m = sms_message();
    m.to = "+15552223333";
    assert_null(send_form(a, t, &m, false, &r));
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    m = sms_message();
    m.from = "SENDER";
    assert_null(send_form(a, t, &m, false, &r));
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    m = sms_message();
    m.channel = CHANNEL_NONE;
    assert_null(send_form(a, t, &m, false, &r));
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    channel_twilio_ops.destroy(t);

    /* no sender anywhere */
    t = make("{\"account_sid\":\"" AC "\",\"auth_token\":\"x\",\"sms_from\":\"1555\"}", err,
             sizeof err);
    m = wa_message(false);
    assert_null(send_form(a, t, &m, false, &r));
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_non_null(strstr(r.description, "whatsapp_from"));
    m.from = "15550009999";
    assert_non_null(strstr(send_form(a, t, &m, false, &r), "From=whatsapp%3A%2B15550009999&"));
    m = sms_message();
    assert_non_null(strstr(send_form(a, t, &m, false, &r), "From=%2B1555&"));
    channel_twilio_ops.destroy(t);

    /* a template without parameters: {} */
    t = make("{\"account_sid\":\"" AC "\",\"auth_token\":\"x\",\"whatsapp_from\":\"1555\"}", err,
             sizeof err);
    m = wa_message(true);
    m.ntemplate_params = 0;
    assert_string_equal(send_form(a, t, &m, true, &r),
                        "To=whatsapp%3A%2B15552223333&From=whatsapp%3A%2B1555&ContentSid="
                        "HX0123456789abcdef0123456789abcdef&ContentVariables=%7B%7D");
    channel_twilio_ops.destroy(t);
    arena_free(a);
}

/* ---- classification -------------------------------------------------------------------- */

static struct channel_result cls(int http, const char *body, const char *retry_after)
{
    struct channel_result r;
    memset(&r, 0x5a, sizeof r);
    classify(http, body, strlen(body), retry_after, &r);
    assert_int_equal(r.http_code, http);
    return r;
}

static void test_classify_success(void **state)
{
    struct channel_result r =
        cls(201,
            "{\"sid\":\"SM0123456789abcdef0123456789abcdef\",\"status\":\"queued\","
            "\"body\":\"secret text\",\"error_code\":null,\"num_segments\":\"1\"}",
            NULL);
    assert_int_equal(r.outcome, CHANNEL_SENT);
    assert_string_equal(r.provider_ref, "SM0123456789abcdef0123456789abcdef");
    assert_string_equal(r.description, "queued");
    assert_string_equal(r.code, "");
    assert_int_equal(r.retry_after, 0);

    r = cls(201, "{\"status\":\"queued\"}", NULL); /* no sid */
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
    assert_string_equal(r.provider_ref, "");
    r = cls(201, "{\"sid\":12}", NULL);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
    r = cls(201, "{\"sid\":\"SM/../x\"}", NULL);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
    r = cls(201, "<html><body>OK</body></html>", NULL);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
    r = cls(200, "", NULL);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
    r = cls(201, "{\"sid\":\"SM1\"", NULL); /* cut short */
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
    r = cls(201, "{\"sid\":\"SM1\"} trailing", NULL);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
    r = cls(201, "[\"SM1\"]", NULL);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
    r = cls(201, " {\"sid\":\"SM1\"}\n", NULL);
    assert_int_equal(r.outcome, CHANNEL_SENT);
}

static void test_classify_errors(void **state)
{
    /* authentication */
    struct channel_result r =
        cls(401,
            "{\"code\":20003,\"message\":\"Authentication Error - invalid username\","
            "\"more_info\":\"https://www.twilio.com/docs/errors/20003\",\"status\":401}",
            NULL);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_int_equal(r.reason, CHANNEL_R_AUTH);
    assert_string_equal(r.code, "20003");
    assert_string_equal(r.description, "Authentication Error - invalid username");
    r = cls(401, "<html>401</html>", NULL);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_int_equal(r.reason, CHANNEL_R_AUTH);
    r = cls(403, "{\"code\":20003,\"message\":\"Permission denied\"}", NULL);
    assert_int_equal(r.reason, CHANNEL_R_AUTH);

    /* rate limits */
    r = cls(429, "{\"code\":20429,\"message\":\"Too Many Requests\"}", NULL);
    assert_int_equal(r.outcome, CHANNEL_TRANSIENT);
    assert_int_equal(r.retry_after, 1000000);
    assert_string_equal(r.code, "20429");
    r = cls(429, "", "7");
    assert_int_equal(r.outcome, CHANNEL_TRANSIENT);
    assert_int_equal(r.retry_after, 7000000);
    r = cls(429, "", "Wed, 21 Oct 2015 07:28:00 GMT"); /* a date is not read: 1 s */
    assert_int_equal(r.retry_after, 1000000);
    r = cls(429, "", "99999999999999999999");
    assert_int_equal(r.retry_after, TWILIO_RETRY_MAX);
    r = cls(400, "{\"code\":20429,\"message\":\"Too Many Requests\"}", "2");
    assert_int_equal(r.outcome, CHANNEL_TRANSIENT);
    assert_int_equal(r.retry_after, 2000000);

    /* the customer */
    r = cls(400, "{\"code\":21610,\"message\":\"Attempt to send to unsubscribed recipient\"}",
            NULL);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_int_equal(r.reason, CHANNEL_R_OPTED_OUT);
    assert_string_equal(r.code, "21610");
    r = cls(400,
            "{\"code\":63016,\"message\":\"Failed to send freeform message because you are "
            "outside the allowed window.\"}",
            NULL);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_int_equal(r.reason, CHANNEL_R_WINDOW_CLOSED);
    assert_string_equal(r.code, "63016");

    /* numbers and others: refused with the code and message */
    static const char *const codes[] = {"21211", "21614", "21606", "21612", "21408", "21604"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char body[128];
        snprintf(body, sizeof body, "{\"code\":%s,\"message\":\"number problem %s\"}", codes[i],
                 codes[i]);
        r = cls(400, body, NULL);
        assert_int_equal(r.outcome, CHANNEL_REJECTED);
        assert_int_equal(r.reason, CHANNEL_R_OTHER);
        assert_string_equal(r.code, codes[i]);
        assert_non_null(strstr(r.description, codes[i]));
    }
    r = cls(404, "{\"code\":20404,\"message\":\"The requested resource was not found\"}", NULL);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_string_equal(r.code, "20404");
    r = cls(400, "{\"code\":\"21211\"}", NULL); /* a code as a string, no message */
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_string_equal(r.code, "21211");
    assert_string_equal(r.description, "HTTP 400");
    r = cls(400, "{}", NULL);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_string_equal(r.code, "");

    /* the server */
    r = cls(503, "{\"code\":20503,\"message\":\"Service Unavailable\"}", NULL);
    assert_int_equal(r.outcome, CHANNEL_TRANSIENT);
    assert_int_equal(r.retry_after, 0);
    r = cls(503, "<html>busy</html>", "30");
    assert_int_equal(r.outcome, CHANNEL_TRANSIENT);
    assert_int_equal(r.retry_after, 30000000);
    r = cls(500, "{\"code\":20500,\"message\":\"Internal Server Error\"}", NULL);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
    assert_string_equal(r.code, "20500");
    r = cls(502, "<html><h1>Bad Gateway</h1></html>", NULL);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
    r = cls(504, "", NULL);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
    r = cls(400, "<html>Bad Request</html>", NULL);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
    r = cls(400, "{\"code\":", NULL);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
    r = cls(302, "", NULL);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);

    /* bytes that are not text do not reach the description as they are */
    r = cls(400, "{\"code\":21211,\"message\":\"bad \\u00e9 \xff\"}", NULL);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_true(utf8_valid(r.description));
    assert_non_null(strstr(r.description, "bad \xc3\xa9 "));
    const char with_nul[] = "{\"sid\":\"SM1\"}\0{}";
    classify(201, with_nul, sizeof with_nul - 1, NULL, &r);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
}

static struct channel_result net_cls(enum net_error e, int status, bool sent)
{
    struct net_response resp = {.error = e, .status = status, .sent = sent, .body = (char *)""};
    snprintf(resp.message, sizeof resp.message, "why");
    struct channel_result r;
    classify_net(&resp, NULL, &r);
    return r;
}

static void test_classify_net(void **state)
{
    assert_int_equal(net_cls(NET_CONNECT, 0, false).outcome, CHANNEL_TRANSIENT);
    assert_int_equal(net_cls(NET_RESOLVE, 0, false).outcome, CHANNEL_TRANSIENT);
    assert_int_equal(net_cls(NET_TLS, 0, false).outcome, CHANNEL_TRANSIENT);
    assert_int_equal(net_cls(NET_TIMEOUT, 0, false).outcome, CHANNEL_TRANSIENT);
    assert_int_equal(net_cls(NET_CANCELLED, 0, false).outcome, CHANNEL_TRANSIENT);
    /* the SSRF guard's refusal: trying again does not change it */
    assert_int_equal(net_cls(NET_REFUSED_ADDRESS, 0, false).outcome, CHANNEL_REJECTED);
    struct channel_result r = net_cls(NET_TIMEOUT, 0, true);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
    assert_non_null(strstr(r.description, "timeout"));
    assert_int_equal(r.retry_after, 0);
    assert_int_equal(net_cls(NET_CANCELLED, 0, true).outcome, CHANNEL_UNKNOWN);
    assert_int_equal(net_cls(NET_TOO_LARGE, 201, true).outcome, CHANNEL_UNKNOWN);
    assert_int_equal(net_cls(NET_FAILED, 0, true).outcome, CHANNEL_UNKNOWN);
    assert_int_equal(net_cls(NET_BAD_URL, 0, false).outcome, CHANNEL_REJECTED);
    /* a response goes to classify() */
    struct net_response resp = {.error = NET_OK, .status = 429, .body = (char *)""};
    classify_net(&resp, NULL, &r);
    assert_int_equal(r.outcome, CHANNEL_TRANSIENT);
    assert_int_equal(r.retry_after, 1000000);
    resp.body = NULL; /* out of memory in net */
    resp.status = 201;
    classify_net(&resp, NULL, &r);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
}

/* ---- sending through the transport ----------------------------------------------------- */

#define SENT_201 "{\"sid\":\"SM0123456789abcdef0123456789abcdef\",\"status\":\"queued\"}"
#define W63016   "{\"code\":63016,\"message\":\"outside the allowed window\"}"

static void test_send_flow(void **state)
{
    char err[256];
    struct twilio *t = make(FULL, err, sizeof err);
    assert_non_null(t);
    struct channel ch = instance(t);
    perform = fake_perform;
    struct channel_result r;

    /* an SMS */
    fake_reset();
    fake_answer(NET_OK, 201, SENT_201, true);
    struct channel_message m = sms_message();
    channel_send(&ch, &m, &r);
    assert_int_equal(r.outcome, CHANNEL_SENT);
    assert_string_equal(r.provider_ref, "SM0123456789abcdef0123456789abcdef");
    assert_int_equal(fake.nseen, 1);
    assert_string_equal(fake.seen[0].method, "POST");
    assert_string_equal(fake.seen[0].url,
                        "http://127.0.0.1:9/2010-04-01/Accounts/" AC "/Messages.json");
    assert_string_equal(fake.seen[0].body, BODY_SMS);
    assert_string_equal(fake.seen[0].auth, "Basic QUMwMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2Rl"
                                           "ZjowMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZg==");
    assert_string_equal(fake.seen[0].ctype, "application/x-www-form-urlencoded");
    assert_string_equal(fake.seen[0].accept, "application/json");
    assert_true(fake.seen[0].allow_private);
    assert_true(fake.seen[0].has_cancel);
    assert_true(fake.seen[0].timeout_ms > 9000 && fake.seen[0].timeout_ms <= 10000);

    /* WhatsApp, window closed, a template: sent again as the template */
    fake_reset();
    fake_answer(NET_OK, 400, W63016, true);
    fake_answer(NET_OK, 201, SENT_201, true);
    m = wa_message(true);
    channel_send(&ch, &m, &r);
    assert_int_equal(r.outcome, CHANNEL_SENT);
    assert_int_equal(fake.nseen, 2);
    assert_string_equal(fake.seen[0].body, BODY_WA);
    assert_string_equal(fake.seen[1].body, BODY_TEMPLATE);

    /* the template refused too: that answer, still the closed window's
     * (the merchant's SMS fallback takes the link) */
    fake_reset();
    fake_answer(NET_OK, 400, W63016, true);
    fake_answer(NET_OK, 400, "{\"code\":21656,\"message\":\"ContentVariables invalid\"}", true);
    channel_send(&ch, &m, &r);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_int_equal(r.reason, CHANNEL_R_WINDOW_CLOSED);
    assert_string_equal(r.code, "21656");

    /* the template alone (the text was taken, then reported undelivered) */
    fake_reset();
    fake_answer(NET_OK, 201, SENT_201, true);
    m = wa_message(true);
    m.template_only = true;
    channel_send(&ch, &m, &r);
    assert_int_equal(r.outcome, CHANNEL_SENT);
    assert_int_equal(fake.nseen, 1);
    assert_string_equal(fake.seen[0].body, BODY_TEMPLATE);

    /* window closed, no template: WINDOW_CLOSED after one request */
    fake_reset();
    fake_answer(NET_OK, 400, W63016, true);
    m = wa_message(false);
    channel_send(&ch, &m, &r);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_int_equal(r.reason, CHANNEL_R_WINDOW_CLOSED);
    assert_int_equal(fake.nseen, 1);

    /* a read timeout after sending: UNKNOWN, never sent again */
    fake_reset();
    fake_answer(NET_TIMEOUT, 0, NULL, true);
    m = wa_message(true);
    channel_send(&ch, &m, &r);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
    assert_int_equal(fake.nseen, 1);

    /* a connect timeout: TRANSIENT */
    fake_reset();
    fake_answer(NET_TIMEOUT, 0, NULL, false);
    m = sms_message();
    channel_send(&ch, &m, &r);
    assert_int_equal(r.outcome, CHANNEL_TRANSIENT);

    /* the first answer took the whole timeout: no time left for the
     * template, TRANSIENT (the text was refused), nothing more sent */
    fake_reset();
    fake_answer(NET_OK, 400, W63016, true);
    fake.answers[0].delay_ms = 60;
    ch.timeout = 50 * 1000;
    m = wa_message(true);
    channel_send(&ch, &m, &r);
    assert_int_equal(r.outcome, CHANNEL_TRANSIENT);
    assert_int_equal(fake.nseen, 1);
    assert_true(fake.seen[0].timeout_ms > 0 && fake.seen[0].timeout_ms <= 50);
    ch.timeout = 10 * 1000000;

    /* refused before any request */
    fake_reset();
    m = sms_message();
    m.to = "";
    channel_send(&ch, &m, &r);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_int_equal(fake.nseen, 0);

    perform = net_perform;
    channel_twilio_ops.destroy(t);
}

/* ---- what became of a message ---------------------------------------------------------- */

static void test_delivery_mapping(void **state)
{
    assert_int_equal(twilio_delivery("delivered"), DELIVERY_DELIVERED);
    assert_int_equal(twilio_delivery("read"), DELIVERY_DELIVERED);
    assert_int_equal(twilio_delivery("failed"), DELIVERY_FAILED);
    assert_int_equal(twilio_delivery("undelivered"), DELIVERY_FAILED);
    static const char *const pending[] = {"queued",    "sending",   "sent",
                                          "accepted",  "scheduled", "canceled",
                                          "receiving", "received",  "partially_delivered",
                                          "Delivered", "",          "new"};
    for (size_t i = 0; i < sizeof pending / sizeof pending[0]; i++)
        assert_int_equal(twilio_delivery(pending[i]), DELIVERY_PENDING);
    assert_int_equal(twilio_delivery(NULL), DELIVERY_PENDING);
}

static void test_rfc2822(void **state)
{
    usec_t t = 0;
    assert_true(parse_rfc2822("Thu, 30 Jul 2015 20:12:33 +0000", &t));
    assert_int_equal(t, 1438287153LL * 1000000);
    assert_true(parse_rfc2822("Thu, 30 Jul 2015 22:12:33 +0200", &t));
    assert_int_equal(t, 1438287153LL * 1000000);
    assert_true(parse_rfc2822("Thu, 30 Jul 2015 15:42:33 -0430", &t));
    assert_int_equal(t, 1438287153LL * 1000000);
    assert_false(parse_rfc2822("2015-07-30T20:12:33Z", &t));
    assert_false(parse_rfc2822("Thu, 30 Jux 2015 20:12:33 +0000", &t));
    assert_false(parse_rfc2822("Thu, 30 Jul 2015 24:12:33 +0000", &t));
    assert_false(parse_rfc2822("Thu, 30 Jul 2015 20:12:33 +0000 extra", &t));
    assert_false(parse_rfc2822("", &t));
}

static void test_parse_receipt(void **state)
{
    struct channel_receipt rc;
    const char *b = "{\"sid\":\"SM1\",\"status\":\"delivered\",\"error_code\":null,"
                    "\"error_message\":null,\"date_updated\":\"Thu, 30 Jul 2015 20:12:33 +0000\","
                    "\"body\":\"secret\"}";
    parse_receipt(200, b, strlen(b), &rc);
    assert_true(rc.known);
    assert_int_equal(rc.delivery, DELIVERY_DELIVERED);
    assert_string_equal(rc.status, "delivered");
    assert_string_equal(rc.code, "");
    assert_int_equal(rc.at, 1438287153LL * 1000000);
    assert_int_equal(rc.http_code, 200);

    b = "{\"sid\":\"SM1\",\"status\":\"undelivered\",\"error_code\":30007,"
        "\"error_message\":\"Carrier violation\",\"date_updated\":\"bad\"}";
    parse_receipt(200, b, strlen(b), &rc);
    assert_true(rc.known);
    assert_int_equal(rc.delivery, DELIVERY_FAILED);
    assert_string_equal(rc.code, "30007");
    assert_string_equal(rc.description, "Carrier violation");
    assert_int_equal(rc.at, 0);
    assert_int_equal(rc.reason, CHANNEL_R_OTHER);

    b = "{\"sid\":\"SM1\",\"status\":\"failed\",\"error_code\":63016,"
        "\"error_message\":\"Failed to send freeform message\"}";
    parse_receipt(200, b, strlen(b), &rc);
    assert_int_equal(rc.delivery, DELIVERY_FAILED);
    assert_int_equal(rc.reason, CHANNEL_R_WINDOW_CLOSED);

    b = "{\"status\":\"sent\"}";
    parse_receipt(200, b, strlen(b), &rc);
    assert_true(rc.known);
    assert_int_equal(rc.delivery, DELIVERY_PENDING);

    b = "{\"code\":20404,\"message\":\"The requested resource was not found\",\"status\":404}";
    parse_receipt(404, b, strlen(b), &rc);
    assert_false(rc.known);
    assert_int_equal(rc.http_code, 404);
    assert_int_equal(rc.delivery, DELIVERY_PENDING);
    assert_string_equal(rc.code, "20404");

    parse_receipt(200, "<html/>", 7, &rc);
    assert_false(rc.known);
    assert_int_equal(rc.delivery, DELIVERY_PENDING);
    parse_receipt(500, "", 0, &rc);
    assert_false(rc.known);
    assert_string_equal(rc.description, "HTTP 500");
}

static void test_query_flow(void **state)
{
    char err[256];
    struct twilio *t = make(FULL, err, sizeof err);
    struct channel ch = instance(t);
    perform = fake_perform;
    struct channel_receipt rc;

    fake_reset();
    fake_answer(NET_OK, 200, "{\"sid\":\"SM1\",\"status\":\"read\"}", true);
    channel_twilio_ops.query(&ch, "m_1", "SM0123456789abcdef0123456789abcdef", "cpm_7",
                             "15552223333", &rc);
    assert_true(rc.known);
    assert_int_equal(rc.delivery, DELIVERY_DELIVERED);
    assert_int_equal(fake.nseen, 1);
    assert_string_equal(fake.seen[0].method, "GET");
    assert_string_equal(fake.seen[0].url, "http://127.0.0.1:9/2010-04-01/Accounts/" AC
                                          "/Messages/SM0123456789abcdef0123456789abcdef.json");
    assert_string_equal(fake.seen[0].body, "");
    assert_true(strncmp(fake.seen[0].auth, "Basic ", 6) == 0);

    fake_reset();
    fake_answer(NET_OK, 404, "{\"code\":20404,\"message\":\"not found\"}", true);
    channel_twilio_ops.query(&ch, "m_1", "SM0", "cpm_7", "15552223333", &rc);
    assert_false(rc.known);
    assert_int_equal(rc.http_code, 404);

    fake_reset();
    fake_answer(NET_CONNECT, 0, NULL, false);
    channel_twilio_ops.query(&ch, "m_1", "SM0", "cpm_7", "15552223333", &rc);
    assert_false(rc.known);
    assert_int_equal(rc.http_code, 0);
    assert_int_equal(rc.delivery, DELIVERY_PENDING);

    /* no sid (an UNKNOWN send) or one that is not a sid: nothing asked */
    fake_reset();
    channel_twilio_ops.query(&ch, "m_1", "", "cpm_7", "15552223333", &rc);
    channel_twilio_ops.query(&ch, "m_1", "../x", "cpm_7", "15552223333", &rc);
    assert_int_equal(fake.nseen, 0);
    assert_false(rc.known);

    perform = net_perform;
    channel_twilio_ops.destroy(t);
}

/* ---- the real transport: connection refused -------------------------------------------- */

static void test_connect_refused(void **state)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sl), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);
    char settings[512], err[256];
    snprintf(settings, sizeof settings,
             "{\"account_sid\":\"" AC "\",\"auth_token\":\"x\",\"sms_from\":\"1555\","
             "\"base_url\":\"http://127.0.0.1:%d\"}",
             ntohs(sa.sin_port));
    json_object *s = json_tokener_parse(settings);
    struct net *n = net_start(NULL, err, sizeof err);
    assert_non_null(n);
    struct provider_config cfg = {
        .provider_id = "prv_1", .settings = s, .net = n, .test_mode = true};
    struct twilio *t = channel_twilio_ops.create(&cfg, err, sizeof err);
    json_object_put(s);
    assert_non_null(t);
    struct channel ch = instance(t);
    ch.timeout = 3 * 1000000;
    struct channel_message m = sms_message();
    struct channel_result r;
    channel_send(&ch, &m, &r);
    assert_int_equal(r.outcome, CHANNEL_TRANSIENT);
    assert_int_equal(r.http_code, 0);
    assert_non_null(strstr(r.description, "connect"));
    struct channel_receipt rc;
    channel_twilio_ops.query(&ch, "m_1", "SM1", "cpm_7", "15552223333", &rc);
    assert_false(rc.known);
    assert_int_equal(rc.http_code, 0);
    channel_twilio_ops.destroy(t);
    net_stop(n);
}

/* ---- signatures ------------------------------------------------------------------------ */

static void test_signature_known(void **state)
{
    struct arena *a = arena_new(0);
    struct param ps[] = {{"To", "+18005551212"},
                         {"CallSid", "CA1234567890ABCDE"},
                         {"Digits", "1234"},
                         {"From", "+14158675310"},
                         {"Caller", "+14158675310"}};
    const char *url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    assert_true(signature_ok(a, "12345", url, ps, 5, "GvWf1cFY/Q7PnoempGyD5oXAezc="));
    char sig[29];
    twilio_signature(a, "12345", url, ps, 5, false, sig); /* ps is sorted now */
    assert_string_equal(sig, "GvWf1cFY/Q7PnoempGyD5oXAezc=");
    assert_false(signature_ok(a, "12346", url, ps, 5, "GvWf1cFY/Q7PnoempGyD5oXAezc="));
    assert_false(signature_ok(a, "12345", url, ps, 5, "GvWf1cFY/Q7PnoempGyD5oXAezd="));
    assert_false(signature_ok(a, "12345", url, ps, 5, "GvWf1cFY/Q7PnoempGyD5oXAez"));
    assert_false(signature_ok(a, "12345", url, ps, 5, ""));
    assert_false(signature_ok(a, "12345", url, ps, 4, "GvWf1cFY/Q7PnoempGyD5oXAezc="));
    assert_false(signature_ok(a, "12345", "https://mycompany.com/myapp.php?foo=1&bar=3", ps, 5,
                              "GvWf1cFY/Q7PnoempGyD5oXAezc="));
    /* the same URL with :443 (Twilio's signing is inconsistent about ports) */
    assert_true(signature_ok(a, "12345", "https://mycompany.com:443/myapp.php?foo=1&bar=2", ps, 5,
                             "GvWf1cFY/Q7PnoempGyD5oXAezc="));
    assert_false(signature_ok(a, "12345", "https://mycompany.com:8443/myapp.php?foo=1&bar=2", ps, 5,
                              "GvWf1cFY/Q7PnoempGyD5oXAezc="));
    arena_free(a);
}

static void test_port_variants(void **state)
{
    char out[256];
    assert_true(url_port_variant("https://a.example/x?y=1", out, sizeof out));
    assert_string_equal(out, "https://a.example:443/x?y=1");
    assert_true(url_port_variant("https://a.example:443/x", out, sizeof out));
    assert_string_equal(out, "https://a.example/x");
    assert_true(url_port_variant("http://a.example", out, sizeof out));
    assert_string_equal(out, "http://a.example:80");
    assert_true(url_port_variant("http://a.example:80?q=1", out, sizeof out));
    assert_string_equal(out, "http://a.example?q=1");
    assert_true(url_port_variant("https://[::1]/h", out, sizeof out));
    assert_string_equal(out, "https://[::1]:443/h");
    assert_true(url_port_variant("https://u:p@a.example/h", out, sizeof out));
    assert_string_equal(out, "https://u:p@a.example:443/h");
    assert_true(url_port_variant("https://a.example/h?t=a:443", out, sizeof out));
    assert_string_equal(out, "https://a.example:443/h?t=a:443");
    assert_false(url_port_variant("https://a.example:8443/x", out, sizeof out));
    assert_false(url_port_variant("http://a.example:443/x", out, sizeof out));
    assert_false(url_port_variant("https://[::1]:8443/h", out, sizeof out));
    assert_false(url_port_variant("ftp://a.example/x", out, sizeof out));
    assert_false(url_port_variant("https://a.example/x", out, 10));
}

/* ---- inbound --------------------------------------------------------------------------- */

struct hdrs {
    const char *sig;
};

static const char *get_header(const void *cls, const char *name)
{
    const struct hdrs *h = cls;
    return strcasecmp(name, "X-Twilio-Signature") == 0 ? h->sig : NULL;
}

static const char *const STATUS_URL =
    "https://pay.example.com:8443/hooks/prv_1/tok123/status?x=1&y=a%20b";
static const char *const STATUS_BODY =
    "MessageSid=SM0123456789abcdef0123456789abcdef&SmsSid=SM0123456789abcdef0123456789abcdef&"
    "AccountSid=AC0123456789abcdef0123456789abcdef&MessageStatus=failed&SmsStatus=failed&"
    "ErrorCode=30007&From=%2B15550001111&To=%2B15552223333&ApiVersion=2010-04-01&ChannelPrefix="
    "sms&NewParam=%C3%A9+%26+%C3%BC%2Bx";
static const char *const STATUS_SIG = "vnUv286C9vz+H+8btUhPWgN4Etw=";

static struct channel_inbound_reply last_reply;

static enum channel_inbound_verdict call(const char *method, const char *url, const char *rest,
                                         const char *body, const char *sig, struct arena *a,
                                         struct channel_event **ev, size_t *n)
{
    char err[256];
    struct twilio *t =
        make("{\"account_sid\":\"" AC "\",\"auth_token\":\"" TOKEN "\"}", err, sizeof err);
    assert_non_null(t);
    struct channel ch = instance(t);
    struct hdrs h = {sig};
    struct provider_inbound rq = {.method = method,
                                  .url = url,
                                  .rest = rest,
                                  .content_type = "application/x-www-form-urlencoded",
                                  .body = body,
                                  .body_len = strlen(body),
                                  .header = get_header,
                                  .header_cls = &h};
    struct channel_inbound_reply reply = {0};
    enum channel_inbound_verdict v = channel_twilio_ops.inbound(&ch, &rq, a, ev, n, &reply);
    channel_twilio_ops.destroy(t);
    last_reply = reply;
    return v;
}

static void test_inbound_status(void **state)
{
    struct arena *a = arena_new(0);
    struct channel_event *ev;
    size_t n;
    usec_t before = time_now();
    assert_int_equal(call("POST", STATUS_URL, "status", STATUS_BODY, STATUS_SIG, a, &ev, &n),
                     INBOUND_EVENTS);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, CHANNEL_EV_STATUS);
    assert_string_equal(ev[0].provider_ref, "SM0123456789abcdef0123456789abcdef");
    assert_string_equal(ev[0].ref, "");
    assert_string_equal(ev[0].status, "failed");
    assert_int_equal(ev[0].delivery, DELIVERY_FAILED);
    assert_string_equal(ev[0].code, "30007");
    assert_true(ev[0].at >= before && ev[0].at <= time_now()); /* Twilio sends no time */

    /* the same callback again (Twilio's at-least-once): the same event */
    assert_int_equal(call("POST", STATUS_URL, "status", STATUS_BODY, STATUS_SIG, a, &ev, &n),
                     INBOUND_EVENTS);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].provider_ref, "SM0123456789abcdef0123456789abcdef");

    /* the unknown parameter is signed over: without it the signature fails */
    char cut[1024];
    snprintf(cut, sizeof cut, "%.*s", (int)(strstr(STATUS_BODY, "&NewParam") - STATUS_BODY),
             STATUS_BODY);
    assert_int_equal(call("POST", STATUS_URL, "status", cut, STATUS_SIG, a, &ev, &n),
                     INBOUND_FORBIDDEN);
    /* a changed value, a changed URL, a wrong or missing signature */
    char changed[1024];
    snprintf(changed, sizeof changed, "%s", STATUS_BODY);
    memcpy(strstr(changed, "30007"), "30008", 5);
    assert_int_equal(call("POST", STATUS_URL, "status", changed, STATUS_SIG, a, &ev, &n),
                     INBOUND_FORBIDDEN);
    assert_int_equal(call("POST", "https://pay.example.com:8443/hooks/prv_1/tok123/status?x=1",
                          "status", STATUS_BODY, STATUS_SIG, a, &ev, &n),
                     INBOUND_FORBIDDEN);
    assert_int_equal(
        call("POST", STATUS_URL, "status", STATUS_BODY, "wnUv286C9vz+H+8btUhPWgN4Etw=", a, &ev, &n),
        INBOUND_FORBIDDEN);
    assert_int_equal(call("POST", STATUS_URL, "status", STATUS_BODY, NULL, a, &ev, &n),
                     INBOUND_FORBIDDEN);
    assert_int_equal(call("POST", STATUS_URL, "status", STATUS_BODY, "", a, &ev, &n),
                     INBOUND_FORBIDDEN);
    assert_int_equal(n, 0);

    /* delivered, signed with :443 while we know the URL without it */
    const char *url = "https://pay.example.com/hooks/prv_1/tok123/status";
    const char *body = "MessageSid=SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa&MessageStatus=delivered&"
                       "AccountSid=AC0123456789abcdef0123456789abcdef";
    assert_int_equal(call("POST", url, "status", body, "K+dp3G3lTF+/Eki8wiSPYNz9wB4=", a, &ev, &n),
                     INBOUND_EVENTS);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].delivery, DELIVERY_DELIVERED);
    assert_string_equal(ev[0].code, "");
    /* and without it while we know it with :443 */
    assert_int_equal(call("POST", "https://pay.example.com:443/hooks/prv_1/tok123/status", "status",
                          body, "BzY4uC9fH1/EirPfzgb02wizaIk=", a, &ev, &n),
                     INBOUND_EVENTS);
    assert_int_equal(ev[0].delivery, DELIVERY_DELIVERED);
    assert_null(last_reply.body); /* status callbacks: nothing to answer */
    arena_free(a);
}

static void test_inbound_repeated_names(void **state)
{
    struct arena *a = arena_new(0);
    struct channel_event *ev;
    size_t n;
    const char *url = "https://pay.example.com/hooks/prv_1/tok123/status";
    const char *body = "MessageSid=SMcccccccccccccccccccccccccccccccc&MessageStatus=sent&Tag=b&"
                       "Tag=a&Tag=b";
    /* every value, sorted */
    assert_int_equal(call("POST", url, "status", body, "MvymQGxfZiGmAvquxmP6MiM1uSA=", a, &ev, &n),
                     INBOUND_EVENTS);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].delivery, DELIVERY_PENDING);
    assert_string_equal(ev[0].status, "sent");
    /* duplicates once (twilio-node) */
    assert_int_equal(call("POST", url, "status", body, "+OyPoAQecK5NB/D0C5oJhO4DE0g=", a, &ev, &n),
                     INBOUND_EVENTS);
    arena_free(a);
}

static void test_inbound_reply(void **state)
{
    struct arena *a = arena_new(0);
    struct channel_event *ev;
    size_t n;
    const char *url = "https://pay.example.com/hooks/prv_1/tok123/reply";
    const char *body =
        "MessageSid=SMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb&From=whatsapp%3A%2B15550001111&"
        "To=whatsapp%3A%2B15552223333&Body=STOP+please&ProfileName=Ana&WaId="
        "15550001111&NumMedia=0";
    assert_int_equal(call("POST", url, "reply", body, "ToqEnf4r1wNT/cKHQoBpEnKavok=", a, &ev, &n),
                     INBOUND_EVENTS);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].kind, CHANNEL_EV_REPLY);
    assert_string_equal(ev[0].from, "15550001111");
    assert_string_equal(ev[0].to, "15552223333");
    assert_string_equal(ev[0].text, "STOP please");
    assert_string_equal(ev[0].provider_ref, "SMbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    /* an empty TwiML answer: text/plain would be sent back to the customer */
    assert_int_equal(last_reply.status, 200);
    assert_string_equal(last_reply.content_type, "text/xml");
    assert_string_equal(last_reply.body, "<Response></Response>");
    /* the same body posted to status is signed for another URL */
    assert_int_equal(call("POST", "https://pay.example.com/hooks/prv_1/tok123/status", "status",
                          body, "ToqEnf4r1wNT/cKHQoBpEnKavok=", a, &ev, &n),
                     INBOUND_FORBIDDEN);
    arena_free(a);
}

/* Sign with the module's function (checked above against Python's). */
static const char *sign(struct arena *a, const char *url, const char *body)
{
    struct param *ps;
    size_t n;
    assert_true(parse_form(a, body, strlen(body), &ps, &n));
    qsort(ps, n, sizeof *ps, param_cmp);
    char *sig = arena_alloc(a, 29);
    twilio_signature(a, TOKEN, url, ps, n, false, sig);
    return sig;
}

/* A status callback with `body`, signed, to a WhatsApp provider's status
 * URL: one event, with this delivery, code and reason. */
static void expect_status(const char *body, enum channel_delivery delivery, const char *code,
                          enum channel_reason reason)
{
    struct arena *a = arena_new(0);
    struct channel_event *ev;
    size_t n;
    const char *url = "https://pay.example.com/hooks/prv_1/tok123/status";
    assert_int_equal(call("POST", url, "status", body, sign(a, url, body), a, &ev, &n),
                     INBOUND_EVENTS);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].delivery, delivery);
    assert_string_equal(ev[0].code, code);
    assert_int_equal(ev[0].reason, reason);
    arena_free(a);
}

static void test_inbound_status_reason(void **state)
{
    /* 63016 reported in the status callback: the closed WhatsApp window */
    struct arena *a = arena_new(0);
    struct channel_event *ev;
    size_t n;
    expect_status("MessageSid=SM1&MessageStatus=undelivered&ErrorCode=63016&"
                  "From=whatsapp%3A%2B15550001111&To=whatsapp%3A%2B15552223333",
                  DELIVERY_FAILED, "63016", CHANNEL_R_WINDOW_CLOSED);
    /* the same code on a status that is not a failure says nothing */
    expect_status("MessageSid=SM1&MessageStatus=sent&ErrorCode=63016", DELIVERY_PENDING, "63016",
                  CHANNEL_R_OTHER);
    /* another failure code: no reason */
    assert_int_equal(call("POST", STATUS_URL, "status", STATUS_BODY, STATUS_SIG, a, &ev, &n),
                     INBOUND_EVENTS);
    assert_int_equal(ev[0].reason, CHANNEL_R_OTHER);
    arena_free(a);
}

static void test_not_on_whatsapp_63003(void **state)
{
    /* 63003 "Channel could not find To address": the number is not on
     * WhatsApp, as Clickatell's 27 and Meta's 131026 say; the merchant's SMS
     * fallback applies, whether the send's answer or its status says it */
    struct channel_result r =
        cls(400, "{\"code\":63003,\"message\":\"Channel could not find To address\"}", NULL);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_int_equal(r.reason, CHANNEL_R_NOT_ON_CHANNEL);
    assert_string_equal(r.code, "63003");
    assert_string_equal(r.description, "Channel could not find To address");

    struct channel_receipt rc;
    const char *b = "{\"sid\":\"SM1\",\"status\":\"failed\",\"error_code\":63003,"
                    "\"error_message\":\"Channel could not find To address\"}";
    parse_receipt(200, b, strlen(b), &rc);
    assert_int_equal(rc.delivery, DELIVERY_FAILED);
    assert_string_equal(rc.code, "63003");
    assert_int_equal(rc.reason, CHANNEL_R_NOT_ON_CHANNEL);

    expect_status("MessageSid=SM1&MessageStatus=failed&ErrorCode=63003&"
                  "From=whatsapp%3A%2B15550001111&To=whatsapp%3A%2B15552223333",
                  DELIVERY_FAILED, "63003", CHANNEL_R_NOT_ON_CHANNEL);
}

static void test_inbound_malformed(void **state)
{
    struct arena *a = arena_new(0);
    struct channel_event *ev;
    size_t n;
    const char *url = "https://pay.example.com/hooks/prv_1/tok123/status";
    assert_int_equal(call("GET", url, "status", "", sign(a, url, ""), a, &ev, &n),
                     INBOUND_MALFORMED);
    assert_int_equal(call("POST", url, "other", STATUS_BODY, STATUS_SIG, a, &ev, &n),
                     INBOUND_MALFORMED);
    assert_int_equal(call("POST", url, "", STATUS_BODY, STATUS_SIG, a, &ev, &n), INBOUND_MALFORMED);
    /* bad escapes, an encoded NUL */
    static const char *const bad[] = {"MessageSid=SM1%2", "MessageSid=SM1%zz&MessageStatus=sent",
                                      "MessageSid=SM1%00&MessageStatus=sent", "%=x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(call("POST", url, "status", bad[i], STATUS_SIG, a, &ev, &n),
                         INBOUND_MALFORMED);
    /* a raw NUL in the body */
    {
        char err[256];
        struct twilio *t =
            make("{\"account_sid\":\"" AC "\",\"auth_token\":\"" TOKEN "\"}", err, sizeof err);
        struct channel ch = instance(t);
        struct hdrs h = {STATUS_SIG};
        struct provider_inbound rq = {.method = "POST",
                                      .url = url,
                                      .rest = "status",
                                      .content_type = "",
                                      .body = "MessageSid=SM1\0x",
                                      .body_len = 16,
                                      .header = get_header,
                                      .header_cls = &h};
        struct channel_inbound_reply reply = {0};
        assert_int_equal(channel_twilio_ops.inbound(&ch, &rq, a, &ev, &n, &reply),
                         INBOUND_MALFORMED);
        /* JSON is not what Twilio posts here */
        rq.content_type = "application/json";
        rq.body = "{}";
        rq.body_len = 2;
        assert_int_equal(channel_twilio_ops.inbound(&ch, &rq, a, &ev, &n, &reply),
                         INBOUND_MALFORMED);
        channel_twilio_ops.destroy(t);
    }
    /* a sid that does not fit */
    char body[512];
    snprintf(body, sizeof body, "MessageStatus=sent&MessageSid=SM%0100d", 0);
    assert_int_equal(call("POST", url, "status", body, sign(a, url, body), a, &ev, &n),
                     INBOUND_MALFORMED);

    /* signed but nothing to report: no events, acknowledged */
    body[0] = '\0';
    assert_int_equal(call("POST", url, "status", "", sign(a, url, ""), a, &ev, &n), INBOUND_EVENTS);
    assert_int_equal(n, 0);
    const char *b = "MessageSid=SM1&AccountSid=AC1";
    assert_int_equal(call("POST", url, "status", b, sign(a, url, b), a, &ev, &n), INBOUND_EVENTS);
    assert_int_equal(n, 0);
    /* empty segments and a name without a value */
    b = "&&MessageSid=SM1&&Flag&MessageStatus=delivered&";
    assert_int_equal(call("POST", url, "status", b, sign(a, url, b), a, &ev, &n), INBOUND_EVENTS);
    assert_int_equal(n, 1);
    assert_int_equal(ev[0].delivery, DELIVERY_DELIVERED);
    /* a reply from something that is not a number (another channel) is ignored */
    const char *rurl = "https://pay.example.com/hooks/prv_1/tok123/reply";
    b = "MessageSid=SM2&From=messenger%3A12345678901234567890&To=%2B1555&Body=hi";
    assert_int_equal(call("POST", rurl, "reply", b, sign(a, rurl, b), a, &ev, &n), INBOUND_EVENTS);
    assert_int_equal(n, 0);
    b = "MessageSid=SM2&From=%2B1555&Body=hi";
    assert_int_equal(call("POST", rurl, "reply", b, sign(a, rurl, b), a, &ev, &n), INBOUND_EVENTS);
    assert_int_equal(n, 0);
    /* no Body: an empty text */
    b = "MessageSid=SM3&From=%2B15550001111&To=%2B1555&NumMedia=1";
    assert_int_equal(call("POST", rurl, "reply", b, sign(a, rurl, b), a, &ev, &n), INBOUND_EVENTS);
    assert_int_equal(n, 1);
    assert_string_equal(ev[0].text, "");
    arena_free(a);
}

/* Any bytes: no crash, never EVENTS without the right signature. */
static void test_inbound_any_bytes(void **state)
{
    struct arena *a = arena_new(0);
    struct channel_event *ev;
    size_t n;
    unsigned seed = 12345;
    for (int round = 0; round < 2000; round++) {
        char body[64];
        size_t len = (size_t)(round % 63);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            static const char alphabet[] = "ab=&%+0F9z\x80\xff";
            body[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        body[len] = '\0';
        enum channel_inbound_verdict v =
            call("POST", STATUS_URL, "status", body, STATUS_SIG, a, &ev, &n);
        assert_true(v == INBOUND_FORBIDDEN || v == INBOUND_MALFORMED);
        assert_int_equal(n, 0);
    }
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_refuses),
        cmocka_unit_test(test_create_accepts),
        cmocka_unit_test(test_ops_table),
        cmocka_unit_test(test_send_form),
        cmocka_unit_test(test_classify_success),
        cmocka_unit_test(test_classify_errors),
        cmocka_unit_test(test_classify_net),
        cmocka_unit_test(test_send_flow),
        cmocka_unit_test(test_delivery_mapping),
        cmocka_unit_test(test_rfc2822),
        cmocka_unit_test(test_parse_receipt),
        cmocka_unit_test(test_query_flow),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_signature_known),
        cmocka_unit_test(test_port_variants),
        cmocka_unit_test(test_inbound_status),
        cmocka_unit_test(test_inbound_repeated_names),
        cmocka_unit_test(test_inbound_reply),
        cmocka_unit_test(test_inbound_status_reason),
        cmocka_unit_test(test_not_on_whatsapp_63003),
        cmocka_unit_test(test_inbound_malformed),
        cmocka_unit_test(test_inbound_any_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
