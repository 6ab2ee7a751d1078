/*
 * test_channel_clickatell.c — unit tests for the Clickatell One API channel
 * (src/channel/clickatell.c, included here so that its static wire
 * functions can be tested without a network).
 *
 * send() and query() run against a fake transport (struct clickatell's
 * perform) that records each request and answers from a queue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "channel/clickatell.c"

/* ---- a fake transport ------------------------------------------------------------------- */

struct fake_answer {
    enum net_error error;
    int status;
    const char *body;
    bool sent;
    unsigned delay_ms; /* the answer takes this long */
};

static struct {
    int calls;
    char method[8], url[512], auth[128], ctype[64], accept[64];
    char body[4][2048];
    bool allow_private;
    unsigned timeout_ms;
    unsigned timeouts_ms[4]; /* each call's */
    const _Atomic bool *cancel;
    struct fake_answer answers[4];
    int nanswers;
} fake;

static const char *header_of(const struct net_request *rq, const char *name)
{
    for (size_t i = 0; i < rq->nheaders; i++)
        if (strcasecmp(rq->headers[i].name, name) == 0)
            return rq->headers[i].value;
    return "";
}

static void fake_perform(struct net *n, const struct net_request *rq, struct net_response *out)
{
    int i = fake.calls++;
    snprintf(fake.method, sizeof fake.method, "%s", rq->method ? rq->method : "GET");
    snprintf(fake.url, sizeof fake.url, "%s", rq->url);
    snprintf(fake.auth, sizeof fake.auth, "%s", header_of(rq, "Authorization"));
    snprintf(fake.ctype, sizeof fake.ctype, "%s", header_of(rq, "Content-Type"));
    snprintf(fake.accept, sizeof fake.accept, "%s", header_of(rq, "Accept"));
    if (i < 4)
        snprintf(fake.body[i], sizeof fake.body[i], "%.*s", (int)rq->body_len,
                 rq->body ? (const char *)rq->body : "");
    fake.allow_private = rq->allow_private;
    fake.timeout_ms = rq->timeout_ms;
    if (i < 4)
        fake.timeouts_ms[i] = rq->timeout_ms;
    fake.cancel = rq->cancel;
    struct fake_answer a =
        i < fake.nanswers ? fake.answers[i] : (struct fake_answer){NET_CONNECT, 0, "", false, 0};
    if (a.delay_ms)
        usleep(a.delay_ms * 1000);
    memset(out, 0, sizeof *out);
    out->error = a.error;
    out->status = a.status;
    out->sent = a.sent;
    out->body = strdup(a.body ? a.body : "");
    out->body_len = strlen(out->body);
    if (a.error != NET_OK)
        snprintf(out->message, sizeof out->message, "fake %s", net_error_name(a.error));
}

static void fake_reset(void)
{
    memset(&fake, 0, sizeof fake);
}

static void fake_answer(enum net_error error, int status, const char *body, bool sent)
{
    fake.answers[fake.nanswers++] = (struct fake_answer){error, status, body, sent, 0};
}

/* ---- helpers ---------------------------------------------------------------------------- */

static bool production; /* the instances are a production merchant's */

static void *create_with(const char *json, char *err, size_t errlen)
{
    json_object *settings = json_tokener_parse(json);
    assert_non_null(settings);
    struct provider_config cfg = {
        .provider_id = "p1", .merchant_id = "m1", .settings = settings, .test_mode = !production};
    void *st = clickatell_create(&cfg, err, errlen);
    json_object_put(settings);
    return st;
}

static _Atomic bool stop_flag;

/* An instance against the fake transport. */
static struct channel make_channel(const char *settings)
{
    char err[256] = "";
    struct clickatell *st = create_with(settings, err, sizeof err);
    if (!st)
        fail_msg("create: %s", err);
    st->perform = fake_perform;
    fake_reset();
    return (struct channel){.ops = &channel_clickatell_ops,
                            .id = "p1",
                            .merchant_id = "m1",
                            .state = st,
                            .timeout = 10LL * 1000000,
                            .cancel = &stop_flag};
}

static struct channel_message sms_message(void)
{
    return (struct channel_message){.merchant_id = "m1",
                                    .job_id = 7,
                                    .link_id = 3,
                                    .channel = CHANNEL_SMS,
                                    .to = "27999000001",
                                    .text = "Pay 10.00 here: https://pay.example/l/abc",
                                    .ref = "cpm_7"};
}

static struct channel_result classify(int http, const char *body)
{
    struct channel_result r;
    memset(&r, 0x5a, sizeof r); /* classify_send must set every field */
    classify_send(http, body, strlen(body), &r);
    return r;
}

#define ERR_BODY_FMT "{\"error\":{\"code\":%d,\"description\":\"text %d\"}}"
#define MSG_ERR_FMT                                                                                \
    "{\"messages\":[{\"accepted\":false,\"to\":\"27999000001\",\"error\":{\"code\":%d,"            \
    "\"description\":\"text %d\"}}],\"error\":null}"

/* ---- settings --------------------------------------------------------------------------- */

static void test_ops_table(void **state)
{
    assert_string_equal(channel_clickatell_ops.kind, "clickatell");
    assert_int_equal(channel_clickatell_ops.channels, 1u << CHANNEL_SMS | 1u << CHANNEL_WHATSAPP);
    assert_int_equal(channel_clickatell_ops.receipt_delay, 600LL * 1000000);
    assert_non_null(channel_clickatell_ops.create);
    assert_non_null(channel_clickatell_ops.destroy);
    assert_non_null(channel_clickatell_ops.send);
    assert_non_null(channel_clickatell_ops.query);
    assert_non_null(channel_clickatell_ops.inbound);
    const struct provider_setting *s = channel_clickatell_ops.settings;
    assert_string_equal(s[0].name, "api_key");
    assert_true(s[0].required);
    assert_true(s[0].secret);
    for (int i = 1; i < 4; i++) {
        assert_false(s[i].required);
        assert_false(s[i].secret);
    }
    assert_string_equal(s[1].name, "base_url");
    assert_string_equal(s[2].name, "sms_from");
    assert_string_equal(s[3].name, "whatsapp_from");
    assert_null(s[4].name);
}

static void test_create(void **state)
{
    char err[256] = "";
    assert_null(create_with("{}", err, sizeof err));
    assert_non_null(strstr(err, "api_key"));
    err[0] = '\0';
    assert_null(create_with("{\"api_key\":\"\"}", err, sizeof err));
    assert_non_null(strstr(err, "api_key"));
    err[0] = '\0';
    assert_null(create_with("{\"api_key\":\"a\\nb\"}", err, sizeof err)); /* header injection */
    assert_non_null(strstr(err, "api_key"));
    err[0] = '\0';
    assert_null(create_with("{\"api_key\":\"k\",\"base_url\":\"ftp://x\"}", err, sizeof err));
    assert_non_null(strstr(err, "base_url"));
    err[0] = '\0';
    assert_null(create_with("{\"api_key\":\"k\",\"base_url\":\"https://\"}", err, sizeof err));
    assert_non_null(strstr(err, "base_url"));
    err[0] = '\0';
    assert_null(
        create_with("{\"api_key\":\"k\",\"base_url\":\"https://a b.com\"}", err, sizeof err));
    assert_non_null(strstr(err, "base_url"));
    err[0] = '\0';
    assert_null(create_with("{\"api_key\":\"k\",\"sms_from\":\"27-82\"}", err, sizeof err));
    assert_non_null(strstr(err, "sms_from"));
    err[0] = '\0';
    assert_null(
        create_with("{\"api_key\":\"k\",\"whatsapp_from\":\"1234567890123456\"}", err, sizeof err));
    assert_non_null(strstr(err, "whatsapp_from"));

    /* defaults: the public host, not allowed private addresses */
    struct clickatell *st = create_with("{\"api_key\":\"k1\"}", err, sizeof err);
    assert_non_null(st);
    assert_string_equal(st->api_key, "k1");
    assert_string_equal(st->base_url, "https://platform.clickatell.com");
    assert_false(st->allow_private);
    assert_string_equal(st->sms_from, "");
    assert_true(st->perform == net_perform);
    clickatell_destroy(st);

    st = create_with("{\"api_key\":\"k1\",\"base_url\":\"https://platform.clickatell.com/\"}", err,
                     sizeof err);
    assert_non_null(st);
    assert_string_equal(st->base_url, "https://platform.clickatell.com");
    assert_false(st->allow_private);
    clickatell_destroy(st);

    /* another base URL (a local fake): private addresses allowed */
    st = create_with("{\"api_key\":\"k1\",\"base_url\":\"http://127.0.0.1:8081/ct//\","
                     "\"sms_from\":\"+27820000001\",\"whatsapp_from\":\"27820000002\"}",
                     err, sizeof err);
    assert_non_null(st);
    assert_string_equal(st->base_url, "http://127.0.0.1:8081/ct");
    assert_true(st->allow_private);
    assert_string_equal(st->sms_from, "27820000001");
    assert_string_equal(st->whatsapp_from, "27820000002");
    clickatell_destroy(st);
    /* a production merchant's provider: never, whatever its base URL */
    production = true;
    st = create_with("{\"api_key\":\"k1\",\"base_url\":\"http://127.0.0.1:8081/ct\"}", err,
                     sizeof err);
    production = false;
    assert_non_null(st);
    assert_false(st->allow_private);
    clickatell_destroy(st);
    clickatell_destroy(NULL);
}

/* ---- request bodies --------------------------------------------------------------------- */

static void test_body_sms(void **state)
{
    struct arena *a = arena_new(0);
    struct clickatell st = {.sms_from = "27820000001", .whatsapp_from = "27820000002"};
    struct channel_message m = sms_message();
    size_t len;
    const char *body = send_body(a, &st, &m, false, &len);
    assert_string_equal(body, "{\"messages\":[{\"channel\":\"sms\",\"to\":\"27999000001\","
                              "\"content\":\"Pay 10.00 here: https://pay.example/l/abc\","
                              "\"clientMessageId\":\"cpm_7\",\"from\":\"27820000001\"}]}");
    assert_int_equal(len, strlen(body));
    /* the message's own from wins */
    m.from = "27830000009";
    body = send_body(a, &st, &m, false, &len);
    assert_non_null(strstr(body, "\"from\":\"27830000009\""));
    /* no from anywhere: none sent; quotes and newlines escaped */
    struct clickatell none = {0};
    m.from = NULL;
    m.text = "a \"b\"\nc";
    body = send_body(a, &none, &m, false, &len);
    assert_string_equal(body, "{\"messages\":[{\"channel\":\"sms\",\"to\":\"27999000001\","
                              "\"content\":\"a \\\"b\\\"\\nc\",\"clientMessageId\":\"cpm_7\"}]}");
    arena_free(a);
}

static void test_body_whatsapp(void **state)
{
    struct arena *a = arena_new(0);
    struct clickatell st = {.sms_from = "27820000001", .whatsapp_from = "27820000002"};
    struct channel_message m = sms_message();
    m.channel = CHANNEL_WHATSAPP;
    m.button_text = "Pay";
    m.button_url = "https://pay.example/l/abc";
    const char *params[] = {"Acme", "10.00", NULL};
    m.template_name = "pay_link";
    m.template_lang = "en";
    m.template_params = params;
    m.ntemplate_params = 3;
    size_t len;
    /* the button: the text (with its link) as content, no button field */
    const char *body = send_body(a, &st, &m, false, &len);
    assert_string_equal(body, "{\"messages\":[{\"channel\":\"whatsapp\",\"to\":\"27999000001\","
                              "\"content\":\"Pay 10.00 here: https://pay.example/l/abc\","
                              "\"clientMessageId\":\"cpm_7\",\"from\":\"27820000002\"}]}");
    /* the template: the hsm shape, no content */
    body = send_body(a, &st, &m, true, &len);
    assert_string_equal(body, "{\"messages\":[{\"channel\":\"whatsapp\",\"to\":\"27999000001\","
                              "\"hsm\":{\"template\":\"pay_link\",\"parameters\":{\"1\":\"Acme\","
                              "\"2\":\"10.00\",\"3\":\"\"}},\"clientMessageId\":\"cpm_7\","
                              "\"from\":\"27820000002\"}]}");
    arena_free(a);
}

/* ---- classification --------------------------------------------------------------------- */

static void test_classify_success(void **state)
{
    struct channel_result r =
        classify(202, "{\"messages\":[{\"apiMessageId\":\"77fb29998253415fa5d66971d519d362\","
                      "\"accepted\":true,\"to\":\"27999000001\",\"clientMessageId\":\"cpm_7\","
                      "\"error\":null}],\"error\":null}");
    assert_int_equal(r.outcome, CHANNEL_SENT);
    assert_int_equal(r.reason, CHANNEL_R_OTHER);
    assert_int_equal(r.http_code, 202);
    assert_string_equal(r.provider_ref, "77fb29998253415fa5d66971d519d362");
    assert_string_equal(r.code, "");
    assert_int_equal(r.retry_after, 0);

    r = classify(207, "{\"messages\":[{\"apiMessageId\":\"abc\",\"accepted\":true}],"
                      "\"error\":null,\"extra\":[1,2]}");
    assert_int_equal(r.outcome, CHANNEL_SENT);
    assert_int_equal(r.http_code, 207);
    assert_string_equal(r.provider_ref, "abc");

    /* accepted without an id: taken (callbacks carry clientMessageId) */
    r = classify(202, "{\"messages\":[{\"accepted\":true}]}");
    assert_int_equal(r.outcome, CHANNEL_SENT);
    assert_string_equal(r.provider_ref, "");

    /* accepted false without an error */
    r = classify(202, "{\"messages\":[{\"accepted\":false,\"error\":null}]}");
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
}

static const struct {
    int code, http;
    enum channel_outcome outcome;
    enum channel_reason reason;
    usec_t retry_after;
} code_cases[] = {
    {1, 401, CHANNEL_REJECTED, CHANNEL_R_AUTH, 0},
    {7, 401, CHANNEL_REJECTED, CHANNEL_R_AUTH, 0},
    {2, 400, CHANNEL_REJECTED, CHANNEL_R_OTHER, 0},
    {3, 400, CHANNEL_REJECTED, CHANNEL_R_OTHER, 0},
    {38, 400, CHANNEL_REJECTED, CHANNEL_R_OTHER, 0},
    {39, 400, CHANNEL_REJECTED, CHANNEL_R_OTHER, 0},
    {44, 400, CHANNEL_REJECTED, CHANNEL_R_OTHER, 0},
    {45, 400, CHANNEL_REJECTED, CHANNEL_R_OTHER, 0},
    {46, 400, CHANNEL_REJECTED, CHANNEL_R_OTHER, 0},
    {20, 402, CHANNEL_REJECTED, CHANNEL_R_OTHER, 0},
    {21, 400, CHANNEL_REJECTED, CHANNEL_R_OTHER, 0},
    {22, 400, CHANNEL_REJECTED, CHANNEL_R_OTHER, 0},
    {23, 400, CHANNEL_REJECTED, CHANNEL_R_OTHER, 0},
    {24, 400, CHANNEL_REJECTED, CHANNEL_R_OTHER, 0},
    {40, 400, CHANNEL_REJECTED, CHANNEL_R_OTHER, 0},
    {25, 400, CHANNEL_REJECTED, CHANNEL_R_OTHER, 0},
    {28, 400, CHANNEL_REJECTED, CHANNEL_R_OTHER, 0},
    {29, 400, CHANNEL_REJECTED, CHANNEL_R_OTHER, 0},
    {27, 400, CHANNEL_REJECTED, CHANNEL_R_NOT_ON_CHANNEL, 0},
    {26, 400, CHANNEL_REJECTED, CHANNEL_R_OPTED_OUT, 0},
    {43, 400, CHANNEL_TRANSIENT, CHANNEL_R_OTHER, 1000000},
    {19, 503, CHANNEL_TRANSIENT, CHANNEL_R_OTHER, 0},
    {18, 500, CHANNEL_UNKNOWN, CHANNEL_R_OTHER, 0},
    {131, 400, CHANNEL_REJECTED, CHANNEL_R_WINDOW_CLOSED, 0},
    {101, 400, CHANNEL_REJECTED, CHANNEL_R_OTHER, 0},
    /* codes not in the table: judged by the HTTP status */
    {999, 400, CHANNEL_REJECTED, CHANNEL_R_OTHER, 0},
    {998, 503, CHANNEL_TRANSIENT, CHANNEL_R_OTHER, 0},
    {997, 502, CHANNEL_UNKNOWN, CHANNEL_R_OTHER, 0},
    {996, 401, CHANNEL_REJECTED, CHANNEL_R_AUTH, 0},
};

static void test_classify_codes(void **state)
{
    for (size_t i = 0; i < sizeof code_cases / sizeof code_cases[0]; i++) {
        int code = code_cases[i].code;
        char body[512], want_code[16], want_desc[32];
        snprintf(want_code, sizeof want_code, "%d", code);
        snprintf(want_desc, sizeof want_desc, "text %d", code);
        /* the global shape, with its documented HTTP status */
        snprintf(body, sizeof body, ERR_BODY_FMT, code, code);
        struct channel_result r = classify(code_cases[i].http, body);
        if (r.outcome != code_cases[i].outcome || r.reason != code_cases[i].reason)
            fail_msg("global code %d: outcome %d reason %d", code, r.outcome, r.reason);
        assert_int_equal(r.retry_after, code_cases[i].retry_after);
        assert_int_equal(r.http_code, code_cases[i].http);
        assert_string_equal(r.code, want_code);
        assert_string_equal(r.description, want_desc);
        assert_string_equal(r.provider_ref, "");
        if (code >= 990)
            continue;
        /* the message-level shape, in a 207 and in a 400 */
        snprintf(body, sizeof body, MSG_ERR_FMT, code, code);
        r = classify(207, body);
        if (r.outcome != code_cases[i].outcome || r.reason != code_cases[i].reason)
            fail_msg("message code %d: outcome %d reason %d", code, r.outcome, r.reason);
        assert_int_equal(r.retry_after, code_cases[i].retry_after);
        assert_string_equal(r.code, want_code);
        assert_string_equal(r.description, want_desc);
        r = classify(400, body);
        assert_int_equal(r.outcome, code_cases[i].outcome);
        assert_int_equal(r.reason, code_cases[i].reason);
    }
    /* a code written as a string */
    struct channel_result r =
        classify(400, "{\"error\":{\"code\":\"43\",\"description\":\"Rate limit\"}}");
    assert_int_equal(r.outcome, CHANNEL_TRANSIENT);
    assert_int_equal(r.retry_after, 1000000);
    assert_string_equal(r.code, "43");
    /* an unknown code in a 207 message: refused */
    r = classify(207, "{\"messages\":[{\"accepted\":false,\"error\":{\"code\":777}}]}");
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_string_equal(r.code, "777");
    /* an error object without a code: the HTTP status decides */
    r = classify(503, "{\"error\":{\"description\":\"down\"}}");
    assert_int_equal(r.outcome, CHANNEL_TRANSIENT);
    assert_string_equal(r.description, "down");
}

static void test_classify_http_only(void **state)
{
    static const struct {
        int http;
        const char *body;
        enum channel_outcome outcome;
        enum channel_reason reason;
    } cases[] = {
        {503, "", CHANNEL_TRANSIENT, CHANNEL_R_OTHER},
        {503, "<html>Service Unavailable</html>", CHANNEL_TRANSIENT, CHANNEL_R_OTHER},
        {500, "<html>oops</html>", CHANNEL_UNKNOWN, CHANNEL_R_OTHER},
        {502, "", CHANNEL_UNKNOWN, CHANNEL_R_OTHER},
        {504, "", CHANNEL_UNKNOWN, CHANNEL_R_OTHER},
        {401, "", CHANNEL_REJECTED, CHANNEL_R_AUTH},
        {403, "<html>forbidden</html>", CHANNEL_REJECTED, CHANNEL_R_AUTH},
        {429, "", CHANNEL_TRANSIENT, CHANNEL_R_OTHER},
        {404, "<html>not found</html>", CHANNEL_REJECTED, CHANNEL_R_OTHER},
        {400, "not json", CHANNEL_REJECTED, CHANNEL_R_OTHER},
        {301, "", CHANNEL_REJECTED, CHANNEL_R_OTHER},
        /* a 2xx that does not say it was accepted: it may have been */
        {202, "", CHANNEL_UNKNOWN, CHANNEL_R_OTHER},
        {202, "{\"messages\":[{\"apiMessageId\":\"abc\",\"accepted\":tr", CHANNEL_UNKNOWN,
         CHANNEL_R_OTHER},
        {202, "<html>ok</html>", CHANNEL_UNKNOWN, CHANNEL_R_OTHER},
        {202, "{}", CHANNEL_UNKNOWN, CHANNEL_R_OTHER},
        {202, "{\"messages\":[]}", CHANNEL_UNKNOWN, CHANNEL_R_OTHER},
        {202, "{\"messages\":[\"x\"]}", CHANNEL_UNKNOWN, CHANNEL_R_OTHER},
        {202, "{\"messages\":[{\"accepted\":\"true\"}]}", CHANNEL_UNKNOWN, CHANNEL_R_OTHER},
        {202, "[{\"accepted\":true}]", CHANNEL_UNKNOWN, CHANNEL_R_OTHER},
        {202, "{\"messages\":[{\"accepted\":true}]} trailing", CHANNEL_UNKNOWN, CHANNEL_R_OTHER},
        {200, "{\"messages\":[{\"accepted\":true,\"apiMessageId\":\"x\"}]}\n", CHANNEL_SENT,
         CHANNEL_R_OTHER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct channel_result r = classify(cases[i].http, cases[i].body);
        if (r.outcome != cases[i].outcome || r.reason != cases[i].reason)
            fail_msg("case %zu (HTTP %d %s): outcome %d reason %d", i, cases[i].http, cases[i].body,
                     r.outcome, r.reason);
        assert_int_equal(r.http_code, cases[i].http);
        assert_int_equal(r.retry_after, cases[i].http == 429 ? 1000000 : 0);
        if (r.outcome != CHANNEL_SENT)
            assert_string_equal(r.provider_ref, "");
    }
    /* the provider's text is cleaned of control characters and bounded */
    char body[1024];
    char long_text[400];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    snprintf(body, sizeof body, "{\"error\":{\"code\":23,\"description\":\"a\\nb\\u0001c%s\"}}",
             long_text);
    struct channel_result r = classify(400, body);
    assert_memory_equal(r.description, "a b c", 5);
    assert_true(strlen(r.description) < sizeof r.description);
    /* binary bytes */
    const char bin[] = "\x00\xff{\"error\":1}";
    classify_send(400, bin, sizeof bin - 1, &r);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    classify_send(202, bin, sizeof bin - 1, &r);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
}

static struct channel_result classify_net(enum net_error error, int status, const char *body,
                                          bool sent)
{
    struct net_response res = {.error = error, .status = status, .sent = sent};
    res.body = (char *)body;
    res.body_len = strlen(body);
    snprintf(res.message, sizeof res.message, "net says %s", net_error_name(error));
    struct channel_result r;
    memset(&r, 0x5a, sizeof r);
    classify_response(&res, &r);
    return r;
}

static void test_classify_net(void **state)
{
    struct channel_result r = classify_net(NET_TIMEOUT, 0, "", true);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
    assert_int_equal(r.http_code, 0);
    assert_string_equal(r.description, "timeout: net says timeout");
    assert_int_equal(classify_net(NET_TIMEOUT, 0, "", false).outcome, CHANNEL_TRANSIENT);
    assert_int_equal(classify_net(NET_TIMEOUT, 202, "", true).outcome, CHANNEL_UNKNOWN);
    assert_int_equal(classify_net(NET_CONNECT, 0, "", false).outcome, CHANNEL_TRANSIENT);
    assert_int_equal(classify_net(NET_RESOLVE, 0, "", false).outcome, CHANNEL_TRANSIENT);
    assert_int_equal(classify_net(NET_TLS, 0, "", false).outcome, CHANNEL_TRANSIENT);
    /* the SSRF guard's refusal: trying again does not change it */
    assert_int_equal(classify_net(NET_REFUSED_ADDRESS, 0, "", false).outcome, CHANNEL_REJECTED);
    assert_int_equal(classify_net(NET_CANCELLED, 0, "", false).outcome, CHANNEL_TRANSIENT);
    assert_int_equal(classify_net(NET_CANCELLED, 0, "", true).outcome, CHANNEL_UNKNOWN);
    assert_int_equal(classify_net(NET_FAILED, 0, "", true).outcome, CHANNEL_UNKNOWN);
    assert_int_equal(classify_net(NET_BAD_URL, 0, "", false).outcome, CHANNEL_REJECTED);
    r = classify_net(NET_TOO_LARGE, 202, "", true);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
    assert_int_equal(r.http_code, 202);
    assert_int_equal(classify_net(NET_TOO_LARGE, 503, "", true).outcome, CHANNEL_TRANSIENT);
    assert_int_equal(classify_net(NET_TOO_LARGE, 404, "", true).outcome, CHANNEL_REJECTED);
    r = classify_net(NET_OK, 202, "{\"messages\":[{\"apiMessageId\":\"a1\",\"accepted\":true}]}",
                     true);
    assert_int_equal(r.outcome, CHANNEL_SENT);
    assert_string_equal(r.provider_ref, "a1");
    assert_int_equal(classify_net(NET_OK, 400, "{\"error\":{\"code\":43}}", true).outcome,
                     CHANNEL_TRANSIENT);
}

/* ---- send and query through the fake transport ------------------------------------------ */

static void test_send(void **state)
{
    struct channel ch = make_channel("{\"api_key\":\"SECRETKEY==\",\"base_url\":"
                                     "\"http://127.0.0.1:9/fake/\",\"sms_from\":\"27820000001\"}");
    fake_answer(NET_OK, 202,
                "{\"messages\":[{\"apiMessageId\":\"0123456789abcdef0123456789abcdef\","
                "\"accepted\":true,\"to\":\"27999000001\",\"error\":null}],\"error\":null}",
                true);
    struct channel_message m = sms_message();
    struct channel_result r;
    clickatell_send(&ch, &m, &r);
    assert_int_equal(r.outcome, CHANNEL_SENT);
    assert_string_equal(r.provider_ref, "0123456789abcdef0123456789abcdef");
    assert_int_equal(fake.calls, 1);
    assert_string_equal(fake.method, "POST");
    assert_string_equal(fake.url, "http://127.0.0.1:9/fake/v1/message");
    assert_string_equal(fake.auth, "SECRETKEY=="); /* raw, no scheme word */
    assert_string_equal(fake.ctype, "application/json");
    assert_string_equal(fake.accept, "application/json");
    assert_true(fake.allow_private);
    assert_int_equal(fake.timeout_ms, 10000);
    assert_ptr_equal(fake.cancel, &stop_flag);
    assert_non_null(strstr(fake.body[0], "\"clientMessageId\":\"cpm_7\""));
    assert_non_null(strstr(fake.body[0], "\"from\":\"27820000001\""));
    assert_null(strstr(r.description, "SECRETKEY"));

    /* a read timeout after the request went out: unknown, not sent again */
    fake_reset();
    fake_answer(NET_TIMEOUT, 0, "", true);
    clickatell_send(&ch, &m, &r);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);
    assert_int_equal(fake.calls, 1);

    /* connection refused */
    fake_reset();
    fake_answer(NET_CONNECT, 0, "", false);
    clickatell_send(&ch, &m, &r);
    assert_int_equal(r.outcome, CHANNEL_TRANSIENT);
    assert_non_null(strstr(r.description, "connect"));

    /* what cannot be sent is refused without a call */
    fake_reset();
    m.channel = CHANNEL_NONE;
    clickatell_send(&ch, &m, &r);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    m.channel = CHANNEL_SMS;
    m.to = "+27999000001";
    clickatell_send(&ch, &m, &r);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    m.to = "";
    clickatell_send(&ch, &m, &r);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_int_equal(fake.calls, 0);
    clickatell_destroy(ch.state);

    /* the public host: the SSRF guard stays on */
    ch = make_channel("{\"api_key\":\"k\"}");
    fake_answer(NET_OK, 202, "{\"messages\":[{\"apiMessageId\":\"x\",\"accepted\":true}]}", true);
    m = sms_message();
    clickatell_send(&ch, &m, &r);
    assert_string_equal(fake.url, "https://platform.clickatell.com/v1/message");
    assert_false(fake.allow_private);
    clickatell_destroy(ch.state);
}

/* A WhatsApp text refused because the customer must re-engage. */
static const char reengage[] =
    "{\"messages\":[{\"accepted\":false,\"to\":\"27999000001\",\"error\":{\"code\":131,"
    "\"description\":\"Re-engagement required\"}}],\"error\":null}";

static const char *template_params[] = {"Acme"};

/* A WhatsApp link with a button and the merchant's template. */
static struct channel_message wa_message(void)
{
    struct channel_message m = sms_message();
    m.channel = CHANNEL_WHATSAPP;
    m.button_text = "Pay";
    m.button_url = "https://pay.example/l/abc";
    m.template_name = "pay_link";
    m.template_params = template_params;
    m.ntemplate_params = 1;
    return m;
}

static void test_send_template(void **state)
{
    struct channel ch = make_channel("{\"api_key\":\"k\",\"whatsapp_from\":\"27820000002\"}");
    struct channel_message m = wa_message();
    /* window closed: sent again as the template */
    fake_answer(NET_OK, 400, reengage, true);
    fake_answer(NET_OK, 202, "{\"messages\":[{\"apiMessageId\":\"t1\",\"accepted\":true}]}", true);
    struct channel_result r;
    clickatell_send(&ch, &m, &r);
    assert_int_equal(fake.calls, 2);
    assert_int_equal(r.outcome, CHANNEL_SENT);
    assert_string_equal(r.provider_ref, "t1");
    assert_non_null(strstr(fake.body[0], "\"content\":"));
    assert_null(strstr(fake.body[0], "\"hsm\""));
    assert_string_equal(fake.body[1],
                        "{\"messages\":[{\"channel\":\"whatsapp\",\"to\":\"27999000001\","
                        "\"hsm\":{\"template\":\"pay_link\",\"parameters\":{\"1\":\"Acme\"}},"
                        "\"clientMessageId\":\"cpm_7\",\"from\":\"27820000002\"}]}");

    /* the template alone: one call */
    fake_reset();
    fake_answer(NET_OK, 202, "{\"messages\":[{\"apiMessageId\":\"t2\",\"accepted\":true}]}", true);
    m.template_only = true;
    clickatell_send(&ch, &m, &r);
    assert_int_equal(fake.calls, 1);
    assert_int_equal(r.outcome, CHANNEL_SENT);
    assert_non_null(strstr(fake.body[0], "\"hsm\""));
    assert_null(strstr(fake.body[0], "\"content\":"));
    m.template_only = false;

    /* the template refused too: window closed */
    fake_reset();
    fake_answer(NET_OK, 400, reengage, true);
    fake_answer(NET_OK, 400, reengage, true);
    clickatell_send(&ch, &m, &r);
    assert_int_equal(fake.calls, 2);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_int_equal(r.reason, CHANNEL_R_WINDOW_CLOSED);

    /* the template itself refused (another code): still the closed
     * window's, so that the merchant's SMS fallback takes the link */
    fake_reset();
    fake_answer(NET_OK, 400, reengage, true);
    fake_answer(NET_OK, 400, "{\"error\":{\"code\":2,\"description\":\"bad template\"}}", true);
    clickatell_send(&ch, &m, &r);
    assert_int_equal(fake.calls, 2);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_int_equal(r.reason, CHANNEL_R_WINDOW_CLOSED);
    assert_string_equal(r.code, "2");

    /* no template: one call, window closed (the caller falls back) */
    fake_reset();
    m.template_name = NULL;
    fake_answer(NET_OK, 400, reengage, true);
    clickatell_send(&ch, &m, &r);
    assert_int_equal(fake.calls, 1);
    assert_int_equal(r.reason, CHANNEL_R_WINDOW_CLOSED);
    assert_string_equal(r.code, "131");

    /* another refusal: no template send */
    fake_reset();
    m.template_name = "pay_link";
    fake_answer(NET_OK, 400, "{\"error\":{\"code\":27,\"description\":\"not on channel\"}}", true);
    clickatell_send(&ch, &m, &r);
    assert_int_equal(fake.calls, 1);
    assert_int_equal(r.reason, CHANNEL_R_NOT_ON_CHANNEL);

    /* an SMS is never re-sent as a template */
    fake_reset();
    m.channel = CHANNEL_SMS;
    fake_answer(NET_OK, 400, reengage, true);
    clickatell_send(&ch, &m, &r);
    assert_int_equal(fake.calls, 1);
    clickatell_destroy(ch.state);
}

static void test_send_template_shares_the_timeout(void **state)
{
    /* the text and the template share the instance's timeout: the second
     * request gets only what the first left, so the send ends within the
     * timeout (a send job's lease is sized for one) */
    struct channel ch = make_channel("{\"api_key\":\"k\",\"whatsapp_from\":\"27820000002\"}");
    ch.timeout = 1000LL * 1000; /* 1 s */
    struct channel_message m = wa_message();
    fake_answer(NET_OK, 400, reengage, true);
    fake.answers[0].delay_ms = 300;
    fake_answer(NET_OK, 202, "{\"messages\":[{\"apiMessageId\":\"t1\",\"accepted\":true}]}", true);
    struct channel_result r;
    clickatell_send(&ch, &m, &r);
    assert_int_equal(fake.calls, 2);
    assert_int_equal(r.outcome, CHANNEL_SENT);
    assert_int_equal(fake.timeouts_ms[0], 1000);                        /* the first: all of it */
    assert_true(fake.timeouts_ms[1] > 0 && fake.timeouts_ms[1] <= 700); /* the rest */

    /* the first answer took the whole timeout: no time left for the
     * template, TRANSIENT (the text was refused), nothing more sent */
    fake_reset();
    ch.timeout = 50LL * 1000;
    fake_answer(NET_OK, 400, reengage, true);
    fake.answers[0].delay_ms = 60;
    fake_answer(NET_OK, 202, "{\"messages\":[{\"apiMessageId\":\"t2\",\"accepted\":true}]}", true);
    clickatell_send(&ch, &m, &r);
    assert_int_equal(r.outcome, CHANNEL_TRANSIENT);
    assert_int_equal(fake.calls, 1);
    assert_int_equal(fake.timeouts_ms[0], 50);
    clickatell_destroy(ch.state);
}

static void test_delivery_mapping(void **state)
{
    assert_int_equal(delivery_of(5, NULL), DELIVERY_DELIVERED);
    assert_int_equal(delivery_of(6, NULL), DELIVERY_DELIVERED);
    for (int c = 1; c <= 4; c++)
        assert_int_equal(delivery_of(c, NULL), DELIVERY_PENDING);
    for (int c = 20; c <= 29; c++)
        assert_int_equal(delivery_of(c, NULL), DELIVERY_FAILED);
    assert_int_equal(delivery_of(30, NULL), DELIVERY_PENDING);
    assert_int_equal(delivery_of(60, NULL), DELIVERY_FAILED);
    assert_int_equal(delivery_of(82, NULL), DELIVERY_FAILED);
    assert_int_equal(delivery_of(100, NULL), DELIVERY_FAILED);
    assert_int_equal(delivery_of(101, NULL), DELIVERY_PENDING);
    for (int c = 130; c <= 160; c++)
        assert_int_equal(delivery_of(c, NULL), DELIVERY_FAILED);
    /* the code wins over the name */
    assert_int_equal(delivery_of(5, "QUEUED"), DELIVERY_DELIVERED);
    /* by name */
    assert_int_equal(delivery_of(-1, "DEVICE_ACK"), DELIVERY_DELIVERED);
    assert_int_equal(delivery_of(-1, "read"), DELIVERY_DELIVERED);
    assert_int_equal(delivery_of(-1, "QUEUED"), DELIVERY_PENDING);
    assert_int_equal(delivery_of(-1, "SENT_TO_SUPPLIER"), DELIVERY_PENDING);
    assert_int_equal(delivery_of(-1, "UNKNOWN"), DELIVERY_PENDING);
    assert_int_equal(delivery_of(-1, "DELIVERY_FAILURE"), DELIVERY_FAILED);
    assert_int_equal(delivery_of(-1, "EXPIRED"), DELIVERY_FAILED);
    assert_int_equal(delivery_of(-1, "ROUTING_ERROR"), DELIVERY_FAILED);
    assert_int_equal(delivery_of(-1, "WHATSAPP_RE_ENGAGEMENT_REQUIRED"), DELIVERY_FAILED);
    assert_int_equal(delivery_of(-1, "WHATSAPP_TEMPLATE_INVALID_URL"), DELIVERY_FAILED);
    assert_int_equal(delivery_of(-1, "MEDIA_NOT_FOUND"), DELIVERY_FAILED);
    assert_int_equal(delivery_of(-1, "SOMETHING_NEW"), DELIVERY_PENDING);
    assert_int_equal(delivery_of(-1, NULL), DELIVERY_PENDING);
}

static struct channel_receipt receipt(int http, const char *body)
{
    struct channel_receipt rc;
    memset(&rc, 0x5a, sizeof rc);
    read_receipt(http, body, strlen(body), &rc);
    return rc;
}

static void test_read_receipt(void **state)
{
    struct channel_receipt rc =
        receipt(200, "{\"sms\":{\"status\":\"QUEUED\",\"timestamp\":1506607698000}}");
    assert_true(rc.known);
    assert_int_equal(rc.delivery, DELIVERY_PENDING);
    assert_string_equal(rc.status, "QUEUED");
    assert_int_equal(rc.at, 1506607698000LL * 1000);
    assert_int_equal(rc.http_code, 200);
    assert_string_equal(rc.code, "");

    rc = receipt(200, "{\"whatsapp\":{\"status\":\"READ\",\"timestamp\":1506607698123}}");
    assert_true(rc.known);
    assert_int_equal(rc.delivery, DELIVERY_DELIVERED);
    assert_int_equal(rc.at, 1506607698123LL * 1000);

    rc = receipt(200, "{\"sms\":{\"status\":\"DELIVERY_FAILURE\",\"timestamp\":1}}");
    assert_int_equal(rc.delivery, DELIVERY_FAILED);
    assert_string_equal(rc.code, "23");
    assert_int_equal(rc.reason, CHANNEL_R_OTHER);

    rc = receipt(200, "{\"sms\":{\"status\":\"DEVICE_ACK\",\"timestamp\":\"bad\"}}");
    assert_int_equal(rc.delivery, DELIVERY_DELIVERED);
    assert_int_equal(rc.at, 0);

    rc = receipt(200, "{\"whatsapp\":{\"statusCode\":131,\"timestamp\":1}}");
    assert_int_equal(rc.delivery, DELIVERY_FAILED);
    assert_string_equal(rc.status, "WHATSAPP_RE_ENGAGEMENT_REQUIRED");
    assert_string_equal(rc.code, "131");
    assert_int_equal(rc.reason, CHANNEL_R_WINDOW_CLOSED);

    /* an unknown id: no channel key */
    rc = receipt(200, "{\"timestamp\":1700000000000}");
    assert_false(rc.known);
    assert_int_equal(rc.delivery, DELIVERY_PENDING);

    rc = receipt(404, "{\"error\":{\"code\":41,\"description\":\"Resource does not exist\"}}");
    assert_false(rc.known);
    assert_int_equal(rc.delivery, DELIVERY_PENDING);
    assert_string_equal(rc.code, "41");
    assert_string_equal(rc.description, "Resource does not exist");

    rc = receipt(500, "<html>oops</html>");
    assert_false(rc.known);
    assert_int_equal(rc.delivery, DELIVERY_PENDING);
    assert_string_equal(rc.description, "HTTP 500");

    rc = receipt(200, "not json");
    assert_false(rc.known);
    assert_int_equal(rc.delivery, DELIVERY_PENDING);
}

static void test_query(void **state)
{
    struct channel ch = make_channel("{\"api_key\":\"k2\",\"base_url\":\"http://127.0.0.1:9\"}");
    fake_answer(NET_OK, 200, "{\"sms\":{\"status\":\"DEVICE_ACK\",\"timestamp\":1700000000000}}",
                true);
    struct channel_receipt rc;
    clickatell_query(&ch, "m1", "0123456789abcdef0123456789abcdef", "cpm_7", "27999000001", &rc);
    assert_int_equal(fake.calls, 1);
    assert_string_equal(fake.method, "GET");
    assert_string_equal(fake.url, "http://127.0.0.1:9/v1/message/0123456789abcdef0123456789abcdef");
    assert_string_equal(fake.auth, "k2");
    assert_string_equal(fake.body[0], "");
    assert_true(rc.known);
    assert_int_equal(rc.delivery, DELIVERY_DELIVERED);
    assert_int_equal(rc.at, 1700000000000LL * 1000);

    /* no answer: pending */
    fake_reset();
    fake_answer(NET_TIMEOUT, 0, "", true);
    clickatell_query(&ch, "m1", "abc", "cpm_7", "27999000001", &rc);
    assert_int_equal(rc.delivery, DELIVERY_PENDING);
    assert_false(rc.known);
    assert_non_null(strstr(rc.description, "timeout"));

    /* an id that cannot go in a path is not asked about */
    fake_reset();
    clickatell_query(&ch, "m1", "../balance", "cpm_7", "27999000001", &rc);
    clickatell_query(&ch, "m1", "", "cpm_7", "27999000001", &rc);
    clickatell_query(&ch, "m1", NULL, "cpm_7", "27999000001", &rc);
    assert_int_equal(fake.calls, 0);
    assert_int_equal(rc.delivery, DELIVERY_PENDING);
    assert_false(rc.known);
    clickatell_destroy(ch.state);
}

/* ---- callbacks -------------------------------------------------------------------------- */

static enum channel_inbound_verdict inbound(const char *method, const char *rest, const char *body,
                                            size_t len, struct arena *a, struct channel_event **evs,
                                            size_t *n, struct channel_inbound_reply *reply)
{
    struct channel ch = {.ops = &channel_clickatell_ops, .id = "p1"};
    struct provider_inbound rq = {.method = method,
                                  .url = "https://chatpay.example/hooks/p1/tok/status",
                                  .rest = rest,
                                  .content_type = "application/json",
                                  .body = body,
                                  .body_len = len};
    memset(reply, 0, sizeof *reply);
    return clickatell_inbound(&ch, &rq, a, evs, n, reply);
}

static enum channel_inbound_verdict post(const char *rest, const char *body, struct arena *a,
                                         struct channel_event **evs, size_t *n)
{
    struct channel_inbound_reply reply;
    return inbound("POST", rest, body, strlen(body), a, evs, n, &reply);
}

static void test_inbound_status(void **state)
{
    const char *body =
        "{\"integrationId\":\"i1\",\"integrationName\":\"shop\",\"event\":{"
        "\"messageStatusUpdate\":["
        "{\"channel\":\"sms\",\"messageId\":\"m-1\",\"clientMessageId\":\"cpm_7\","
        "\"statusCode\":5,\"status\":\"DEVICE_ACK\",\"timestamp\":1700000000123,\"extra\":{}},"
        "{\"channel\":\"sms\",\"messageId\":\"m-1\",\"clientMessageId\":\"cpm_7\","
        "\"statusCode\":5,\"status\":\"DEVICE_ACK\",\"timestamp\":1700000000123},"
        "{\"channel\":\"whatsapp\",\"messageId\":\"m-2\",\"statusCode\":23,"
        "\"status\":\"DELIVERY_FAILURE\",\"timestamp\":1700000000999},"
        "{\"channel\":\"whatsapp\",\"clientMessageId\":\"cpm_9\",\"status\":\"QUEUED\"},"
        "{\"channel\":\"sms\",\"status\":\"READ\"},"
        "\"not an object\","
        "{\"messageId\":\"m-3\",\"statusCode\":\"6\"}"
        "],\"moMedia\":[{\"from\":\"27999000001\"}],\"somethingNew\":{\"a\":1}},\"more\":true}";
    struct arena *a = arena_new(0);
    struct channel_event *evs;
    size_t n;
    assert_int_equal(post("status", body, a, &evs, &n), INBOUND_EVENTS);
    assert_int_equal(n, 5);
    /* the first two are duplicates: both reported (the caller dedupes) */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(evs[i].kind, CHANNEL_EV_STATUS);
        assert_string_equal(evs[i].provider_ref, "m-1");
        assert_string_equal(evs[i].ref, "cpm_7");
        assert_int_equal(evs[i].delivery, DELIVERY_DELIVERED);
        assert_string_equal(evs[i].status, "DEVICE_ACK");
        assert_string_equal(evs[i].code, "");
        assert_int_equal(evs[i].at, 1700000000123LL * 1000);
    }
    assert_string_equal(evs[2].provider_ref, "m-2");
    assert_string_equal(evs[2].ref, "");
    assert_int_equal(evs[2].delivery, DELIVERY_FAILED);
    assert_string_equal(evs[2].code, "23");
    assert_string_equal(evs[3].provider_ref, "");
    assert_string_equal(evs[3].ref, "cpm_9");
    assert_int_equal(evs[3].delivery, DELIVERY_PENDING);
    assert_int_equal(evs[3].at, 0);
    assert_string_equal(evs[4].provider_ref, "m-3");
    assert_int_equal(evs[4].delivery, DELIVERY_DELIVERED);
    assert_string_equal(evs[4].status, "READ");
    for (size_t i = 0; i < n; i++)
        assert_int_equal(evs[i].reason, CHANNEL_R_OTHER);
    /* the same body at the reply path */
    assert_int_equal(post("reply", body, a, &evs, &n), INBOUND_EVENTS);
    assert_int_equal(n, 5);
    /* WhatsApp's closed window reported after the send was taken */
    const char *closed = "{\"event\":{\"messageStatusUpdate\":[{\"channel\":\"whatsapp\","
                         "\"messageId\":\"m-4\",\"status\":\"WHATSAPP_RE_ENGAGEMENT_REQUIRED\"},"
                         "{\"channel\":\"whatsapp\",\"messageId\":\"m-5\",\"statusCode\":131}]}}";
    assert_int_equal(post("status", closed, a, &evs, &n), INBOUND_EVENTS);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(evs[i].delivery, DELIVERY_FAILED);
        assert_string_equal(evs[i].code, "131");
        assert_int_equal(evs[i].reason, CHANNEL_R_WINDOW_CLOSED);
    }
    arena_free(a);
}

static void test_inbound_reply(void **state)
{
    const char *body =
        "{\"integrationId\":\"i1\",\"integrationName\":\"shop\",\"event\":{\"moText\":["
        "{\"channel\":\"sms\",\"messageId\":\"mo-1\",\"relatedMessageId\":\"m-1\","
        "\"relatedClientMessageId\":\"cpm_7\",\"from\":\"+27 99-900-0001\",\"to\":\"27820000001\","
        "\"timestamp\":1700000000000,\"content\":\"STOP\",\"charset\":\"UTF-8\","
        "\"sms\":{\"network\":\"x\"}},"
        "{\"channel\":\"whatsapp\",\"messageId\":\"mo-2\",\"from\":\"27999000002\","
        "\"to\":\"27820000002\",\"timestamp\":\"1700000000001\",\"content\":\"Hola \xc3\xb1\","
        "\"whatsapp\":{\"profileName\":\"Ana\"}},"
        "{\"channel\":\"sms\",\"messageId\":\"mo-3\",\"from\":\"\",\"content\":\"x\"},"
        "{\"channel\":\"sms\",\"messageId\":\"mo-4\",\"from\":\"1234567890123456\"},"
        "{\"channel\":\"sms\",\"messageId\":\"mo-5\",\"from\":\"27999000003\"}"
        "],\"messageStatusUpdate\":[{\"messageId\":\"m-9\",\"statusCode\":4}]}}";
    struct arena *a = arena_new(0);
    struct channel_event *evs;
    size_t n;
    assert_int_equal(post("reply", body, a, &evs, &n), INBOUND_EVENTS);
    assert_int_equal(n, 4);
    assert_int_equal(evs[0].kind, CHANNEL_EV_STATUS);
    assert_string_equal(evs[0].provider_ref, "m-9");
    assert_int_equal(evs[0].delivery, DELIVERY_PENDING);
    assert_string_equal(evs[0].status, "SENT_TO_SUPPLIER");
    assert_int_equal(evs[1].kind, CHANNEL_EV_REPLY);
    assert_string_equal(evs[1].from, "27999000001");
    assert_string_equal(evs[1].to, "27820000001");
    assert_string_equal(evs[1].text, "STOP");
    assert_string_equal(evs[1].provider_ref, "mo-1");
    assert_int_equal(evs[1].at, 1700000000000LL * 1000);
    assert_int_equal(evs[2].kind, CHANNEL_EV_REPLY);
    assert_string_equal(evs[2].from, "27999000002");
    assert_string_equal(evs[2].text, "Hola \xc3\xb1");
    assert_int_equal(evs[2].at, 1700000000001LL * 1000);
    assert_string_equal(evs[3].from, "27999000003");
    assert_string_equal(evs[3].to, "");
    assert_string_equal(evs[3].text, "");
    arena_free(a);
}

static void test_inbound_malformed(void **state)
{
    static const char *bad[] = {
        "",
        "not json",
        "[]",
        "[{\"event\":{}}]",
        "{}",
        "{\"event\":null}",
        "{\"event\":[]}",
        "{\"event\":\"x\"}",
        "{\"event\":{}",
        "{\"event\":{}} {}",
        "\"event\"",
    };
    struct arena *a = arena_new(0);
    struct channel_event *evs;
    size_t n;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        evs = (void *)1;
        n = 9;
        if (post("status", bad[i], a, &evs, &n) != INBOUND_MALFORMED)
            fail_msg("not malformed: %s", bad[i]);
        assert_int_equal(n, 0);
    }
    struct channel_inbound_reply reply;
    const char bin[] = "{\"event\":{}}\x00\xff\xfe";
    assert_int_equal(inbound("POST", "status", bin, sizeof bin - 1, a, &evs, &n, &reply),
                     INBOUND_MALFORMED);
    const char bin2[] = "\xff\xfe\x00{";
    assert_int_equal(inbound("POST", "status", bin2, sizeof bin2 - 1, a, &evs, &n, &reply),
                     INBOUND_MALFORMED);
    assert_int_equal(inbound("POST", "status", NULL, 0, a, &evs, &n, &reply), INBOUND_MALFORMED);
    /* an event object with nothing we read: no events */
    assert_int_equal(post("status", "{\"event\":{\"moLocation\":[{}]}}", a, &evs, &n),
                     INBOUND_EVENTS);
    assert_int_equal(n, 0);
    assert_int_equal(post("status", "{\"event\":{\"moText\":{\"from\":\"1\"}}}", a, &evs, &n),
                     INBOUND_EVENTS);
    assert_int_equal(n, 0);
    /* another path */
    assert_int_equal(post("other", "{\"event\":{}}", a, &evs, &n), INBOUND_MALFORMED);
    assert_int_equal(post("", "{\"event\":{}}", a, &evs, &n), INBOUND_EVENTS);
    assert_int_equal(inbound("PUT", "status", "{\"event\":{}}", 12, a, &evs, &n, &reply),
                     INBOUND_MALFORMED);
    arena_free(a);
}

static void test_inbound_get(void **state)
{
    struct arena *a = arena_new(0);
    struct channel_event *evs;
    size_t n;
    struct channel_inbound_reply reply;
    assert_int_equal(inbound("GET", "status", "", 0, a, &evs, &n, &reply), INBOUND_ANSWER);
    assert_int_equal(reply.status, 200);
    assert_string_equal(reply.body, "ok");
    assert_non_null(strstr(reply.content_type, "text/plain"));
    assert_int_equal(n, 0);
    assert_int_equal(inbound("GET", "", "", 0, a, &evs, &n, &reply), INBOUND_ANSWER);
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_table),
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_body_sms),
        cmocka_unit_test(test_body_whatsapp),
        cmocka_unit_test(test_classify_success),
        cmocka_unit_test(test_classify_codes),
        cmocka_unit_test(test_classify_http_only),
        cmocka_unit_test(test_classify_net),
        cmocka_unit_test(test_send),
        cmocka_unit_test(test_send_template),
        cmocka_unit_test(test_send_template_shares_the_timeout),
        cmocka_unit_test(test_delivery_mapping),
        cmocka_unit_test(test_read_receipt),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_inbound_status),
        cmocka_unit_test(test_inbound_reply),
        cmocka_unit_test(test_inbound_malformed),
        cmocka_unit_test(test_inbound_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
