/*
 * test_channel_whatsapp_cloud.c — unit tests for the WhatsApp Cloud API
 * adapter (src/channel/whatsapp_cloud.c, included here to reach its static
 * wire functions): settings, request bodies, the classification of every
 * kind of answer, the template fallback of a send (through a fake
 * transport), the webhook handshake, signature and parser, and two live
 * sends through src/net against loopback (a one-shot fake server, a closed
 * port).
 *
 * The reference signature was computed independently (Python: hmac,
 * hashlib) for the app secret and body below.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channel/whatsapp_cloud.c"

#define TOKEN  "EAAtesttoken123"
#define SECRET "app-secret-for-tests"
#define VERIFY "verify-me-please"
#define PNID   "106540352242922"
#define WAMID  "wamid.HBgLMjc4MjAwMDAwMDEVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"

/* ---- helpers ---------------------------------------------------------------------------- */

static bool production; /* the instances are a production merchant's */

/* An instance from name/value pairs (NULL-terminated); NULL with err. */
static struct wa *make(const char *const *kv, struct net *net, char *err, size_t errlen)
{
    json_object *s = json_object_new_object();
    for (size_t i = 0; kv[i]; i += 2)
        json_object_object_add(s, kv[i], json_object_new_string(kv[i + 1]));
    struct provider_config cfg = {.provider_id = "p1",
                                  .merchant_id = "m1",
                                  .settings = s,
                                  .net = net,
                                  .inbound_url = "https://chatpay.example/hooks/p1/tok",
                                  .test_mode = !production};
    err[0] = '\0';
    struct wa *w = channel_whatsapp_cloud_ops.create(&cfg, err, errlen);
    json_object_put(s);
    return w;
}

/* The usual instance, optionally with a base_url. */
static struct wa *make_std(const char *base_url, struct net *net)
{
    char err[256];
    const char *kv[] = {"access_token",
                        TOKEN,
                        "app_secret",
                        SECRET,
                        "verify_token",
                        VERIFY,
                        "phone_number_id",
                        PNID,
                        base_url ? "base_url" : NULL,
                        base_url,
                        NULL};
    struct wa *w = make(kv, net, err, sizeof err);
    assert_non_null(w);
    return w;
}

static struct channel chan(struct wa *w)
{
    return (struct channel){.ops = &channel_whatsapp_cloud_ops,
                            .id = "p1",
                            .merchant_id = "m1",
                            .state = w,
                            .timeout = 5LL * 1000000};
}

static struct channel_message msg(void)
{
    return (struct channel_message){.merchant_id = "m1",
                                    .job_id = 42,
                                    .link_id = 7,
                                    .channel = CHANNEL_WHATSAPP,
                                    .to = "27820000001",
                                    .text = "Pay here: https://pay.example/l/abc",
                                    .ref = "cpm_42"};
}

/* The compact JSON text of a request body. */
static char *request_text(const struct channel_message *m, bool use_template)
{
    json_object *o = wa_request(m, use_template);
    char *s = strdup(
        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
    return s;
}

/* A response as net_perform would give it. */
static struct net_response answer(int status, const char *body)
{
    struct net_response r = {.error = NET_OK, .status = status, .sent = true};
    r.body = (char *)body;
    r.body_len = strlen(body);
    return r;
}

static struct channel_result classify(int status, const char *body)
{
    struct net_response r = answer(status, body);
    struct channel_result out;
    wa_classify(&r, &out);
    return out;
}

/* ---- settings ---------------------------------------------------------------------------- */

static void test_ops_table(void **state)
{
    const struct channel_ops *k = &channel_whatsapp_cloud_ops;
    assert_string_equal(k->kind, "whatsapp-cloud");
    assert_int_equal(k->channels, 1u << CHANNEL_WHATSAPP);
    assert_null(k->query);
    assert_int_equal(k->receipt_delay, 0);
    assert_non_null(k->inbound);
    const char *names[] = {"access_token",    "app_secret",  "verify_token",
                           "phone_number_id", "api_version", "base_url"};
    const bool required[] = {true, true, true, true, false, false};
    const bool secret[] = {true, true, true, false, false, false};
    size_t i = 0;
    for (; k->settings[i].name; i++) {
        assert_true(i < 6);
        assert_string_equal(k->settings[i].name, names[i]);
        assert_int_equal(k->settings[i].required, required[i]);
        assert_int_equal(k->settings[i].secret, secret[i]);
        assert_non_null(k->settings[i].help);
    }
    assert_int_equal(i, 6);
}

static void test_create_defaults(void **state)
{
    struct wa *w = make_std(NULL, NULL);
    assert_string_equal(w->url, "https://graph.facebook.com/v21.0/" PNID "/messages");
    assert_string_equal(w->auth, "Bearer " TOKEN);
    assert_false(w->allow_private);
    wa_destroy(w);

    /* the default spelled with a trailing slash is still Meta's host */
    w = make_std("https://graph.facebook.com/", NULL);
    assert_false(w->allow_private);
    assert_string_equal(w->url, "https://graph.facebook.com/v21.0/" PNID "/messages");
    wa_destroy(w);

    /* a fake: loopback allowed, slashes trimmed */
    w = make_std("http://127.0.0.1:8099//", NULL);
    assert_true(w->allow_private);
    assert_string_equal(w->url, "http://127.0.0.1:8099/v21.0/" PNID "/messages");
    wa_destroy(w);
    /* ... for a sandbox merchant only: a production one's is always guarded */
    production = true;
    w = make_std("http://127.0.0.1:8099", NULL);
    production = false;
    assert_false(w->allow_private);
    wa_destroy(w);

    char err[256];
    const char *kv[] = {"access_token",
                        TOKEN,
                        "app_secret",
                        SECRET,
                        "verify_token",
                        VERIFY,
                        "phone_number_id",
                        PNID,
                        "api_version",
                        "v23.0",
                        NULL};
    w = make(kv, NULL, err, sizeof err);
    assert_non_null(w);
    assert_string_equal(w->url, "https://graph.facebook.com/v23.0/" PNID "/messages");
    wa_destroy(w);
    wa_destroy(NULL);
}

static void test_create_missing(void **state)
{
    const char *all[] = {"access_token", "app_secret", "verify_token", "phone_number_id"};
    for (size_t skip = 0; skip < 4; skip++) {
        const char *kv[16];
        size_t n = 0;
        for (size_t i = 0; i < 4; i++) {
            kv[n++] = all[i];
            kv[n++] = i == skip ? "" : "value1"; /* "" counts as not set */
        }
        kv[n] = NULL;
        char err[256];
        assert_null(make(kv, NULL, err, sizeof err));
        char want[64];
        snprintf(want, sizeof want, "%s is required", all[skip]);
        assert_string_equal(err, want);
    }
}

static void test_create_invalid(void **state)
{
    struct {
        const char *name, *value, *err_has;
    } cases[] = {
        {"phone_number_id", "10654/../me", "phone_number_id"},
        {"phone_number_id", "..", "phone_number_id"},
        {"api_version", "v21.0?x=1", "api_version"},
        {"base_url", "ftp://graph.facebook.com", "base_url"},
        {"base_url", "https://", "base_url"},
        {"base_url", "https://graph.facebook.com/?a=b", "base_url"},
        {"base_url", "https://graph.face book.com", "base_url"},
        {"access_token", "EAA abc", "access_token"},
        {"access_token", "EAA\r\nX-Evil: 1", "access_token"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *kv[] = {"access_token",
                            TOKEN,
                            "app_secret",
                            SECRET,
                            "verify_token",
                            VERIFY,
                            "phone_number_id",
                            PNID,
                            cases[i].name,
                            cases[i].value,
                            NULL};
        char err[256];
        assert_null(make(kv, NULL, err, sizeof err));
        assert_non_null(strstr(err, cases[i].err_has));
        assert_null(strstr(err, "EAA")); /* never the secret itself */
    }
}

/* ---- request bodies ---------------------------------------------------------------------- */

static void test_body_text(void **state)
{
    struct channel_message m = msg();
    char *s = request_text(&m, false);
    assert_string_equal(s, "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\","
                           "\"to\":\"27820000001\",\"biz_opaque_callback_data\":\"cpm_42\","
                           "\"type\":\"text\",\"text\":{\"body\":\"Pay here: "
                           "https://pay.example/l/abc\",\"preview_url\":true}}");
    free(s);
}

static void test_body_interactive(void **state)
{
    struct channel_message m = msg();
    m.text = "Your bill of R 12.50";
    m.button_text = "Pay";
    m.button_url = "https://pay.example/l/abc";
    char *s = request_text(&m, false);
    assert_string_equal(
        s, "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\","
           "\"to\":\"27820000001\",\"biz_opaque_callback_data\":\"cpm_42\","
           "\"type\":\"interactive\",\"interactive\":{\"type\":\"cta_url\",\"body\":{\"text\":"
           "\"Your bill of R 12.50\"},\"action\":{\"name\":\"cta_url\",\"parameters\":{"
           "\"display_text\":\"Pay\",\"url\":\"https://pay.example/l/abc\"}}}}");
    free(s);
}

static void test_body_interactive_limits(void **state)
{
    /* 1030 two-byte characters: 1024 are kept, whole */
    char text[2 * 1030 + 1];
    for (size_t i = 0; i < 1030; i++)
        memcpy(text + 2 * i, "\xc3\xa9", 2);
    text[2 * 1030] = '\0';
    struct channel_message m = msg();
    m.text = text;
    m.button_text = "Zahlung jetzt ausf\xc3\xbchren bitte";
    m.button_url = "https://pay.example/l/abc";
    json_object *o = wa_request(&m, false);
    json_object *in = json_member(o, "interactive", json_type_object);
    const char *body = json_member_string(json_member(in, "body", json_type_object), "text");
    assert_non_null(body);
    assert_int_equal(strlen(body), 2 * 1024);
    assert_true(utf8_valid(body));
    json_object *params =
        json_member(json_member(in, "action", json_type_object), "parameters", json_type_object);
    assert_string_equal(json_member_string(params, "display_text"), "Zahlung jetzt ausf\xc3\xbch");
    json_object_put(o);

    /* exactly 1024 characters: untouched; no label: "Pay" */
    text[2 * 1024] = '\0';
    m.button_text = NULL;
    o = wa_request(&m, false);
    in = json_member(o, "interactive", json_type_object);
    assert_string_equal(json_member_string(json_member(in, "body", json_type_object), "text"),
                        text);
    params =
        json_member(json_member(in, "action", json_type_object), "parameters", json_type_object);
    assert_string_equal(json_member_string(params, "display_text"), "Pay");
    json_object_put(o);
}

static void test_body_template(void **state)
{
    const char *params[] = {"Ann", "R 12.50"};
    struct channel_message m = msg();
    m.button_text = "Pay";
    m.button_url = "https://pay.example/l/abc";
    m.template_name = "payment_link";
    m.template_lang = "en";
    m.template_params = params;
    m.ntemplate_params = 2;
    char *s = request_text(&m, true);
    assert_string_equal(
        s, "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\","
           "\"to\":\"27820000001\",\"biz_opaque_callback_data\":\"cpm_42\","
           "\"type\":\"template\",\"template\":{\"name\":\"payment_link\",\"language\":{"
           "\"code\":\"en\"},\"components\":[{\"type\":\"body\",\"parameters\":[{\"type\":"
           "\"text\",\"text\":\"Ann\"},{\"type\":\"text\",\"text\":\"R 12.50\"}]}]}}");
    free(s);

    /* no parameters: no components; no language: en_US */
    m.ntemplate_params = 0;
    m.template_lang = NULL;
    m.ref = NULL;
    s = request_text(&m, true);
    assert_string_equal(s, "{\"messaging_product\":\"whatsapp\",\"recipient_type\":\"individual\","
                           "\"to\":\"27820000001\",\"type\":\"template\",\"template\":{\"name\":"
                           "\"payment_link\",\"language\":{\"code\":\"en_US\"}}}");
    free(s);
}

/* ---- classification ---------------------------------------------------------------------- */

#define META_ERR(code, msg, details)                                                               \
    "{\"error\":{\"message\":\"" msg "\",\"type\":\"OAuthException\",\"code\":" #code              \
    ",\"error_data\":{\"messaging_product\":\"whatsapp\",\"details\":\"" details                   \
    "\"},\"fbtrace_id\":\"AbCdEf\"}}"

static void test_classify_success(void **state)
{
    struct channel_result r = classify(
        200, "{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":\"27820000001\","
             "\"wa_id\":\"27820000001\"}],\"messages\":[{\"id\":\"" WAMID
             "\",\"message_status\":\"accepted\"}]}");
    assert_int_equal(r.outcome, CHANNEL_SENT);
    assert_int_equal(r.reason, CHANNEL_R_OTHER);
    assert_int_equal(r.http_code, 200);
    assert_string_equal(r.provider_ref, WAMID);
    assert_string_equal(r.code, "");
    assert_string_equal(r.description, "accepted");
}

static void test_classify_codes(void **state)
{
    struct {
        int http;
        const char *body;
        enum channel_outcome outcome;
        enum channel_reason reason;
        const char *code;
        usec_t retry_after;
    } cases[] = {
        {401, META_ERR(190, "Error validating access token", "Session has expired"),
         CHANNEL_REJECTED, CHANNEL_R_AUTH, "190", 0},
        {400, META_ERR(190, "Error validating access token", "x"), CHANNEL_REJECTED, CHANNEL_R_AUTH,
         "190", 0},
        {403, META_ERR(10, "Permission denied", "x"), CHANNEL_REJECTED, CHANNEL_R_AUTH, "10", 0},
        {400, META_ERR(131026, "Message undeliverable", "x"), CHANNEL_REJECTED,
         CHANNEL_R_NOT_ON_CHANNEL, "131026", 0},
        {400, META_ERR(131047, "Re-engagement message", "x"), CHANNEL_REJECTED,
         CHANNEL_R_WINDOW_CLOSED, "131047", 0},
        {400, META_ERR(130429, "Rate limit hit", "x"), CHANNEL_TRANSIENT, CHANNEL_R_OTHER, "130429",
         2000000},
        {429, META_ERR(130429, "Rate limit hit", "x"), CHANNEL_TRANSIENT, CHANNEL_R_OTHER, "130429",
         2000000},
        {400, META_ERR(131056, "Pair rate limit hit", "x"), CHANNEL_TRANSIENT, CHANNEL_R_OTHER,
         "131056", 10000000},
        {400, META_ERR(80007, "Rate limit issues", "x"), CHANNEL_TRANSIENT, CHANNEL_R_OTHER,
         "80007", 10000000},
        {503, META_ERR(2, "Service temporarily unavailable", "x"), CHANNEL_TRANSIENT,
         CHANNEL_R_OTHER, "2", 0},
        {500, META_ERR(2, "Service temporarily unavailable", "x"), CHANNEL_TRANSIENT,
         CHANNEL_R_OTHER, "2", 0},
        {400, META_ERR(100, "Invalid parameter", "x"), CHANNEL_REJECTED, CHANNEL_R_OTHER, "100", 0},
        {400, META_ERR(131031, "Account has been locked", "x"), CHANNEL_REJECTED, CHANNEL_R_OTHER,
         "131031", 0},
        {400, META_ERR(131042, "Business eligibility payment issue", "x"), CHANNEL_REJECTED,
         CHANNEL_R_OTHER, "131042", 0},
        {400, META_ERR(131048, "Spam rate limit hit", "x"), CHANNEL_REJECTED, CHANNEL_R_OTHER,
         "131048", 0},
        {400, META_ERR(131049, "Meta chose not to deliver", "x"), CHANNEL_REJECTED, CHANNEL_R_OTHER,
         "131049", 0},
        {400, META_ERR(131008, "Required parameter is missing", "x"), CHANNEL_REJECTED,
         CHANNEL_R_OTHER, "131008", 0},
        {400, META_ERR(131009, "Parameter value is not valid", "x"), CHANNEL_REJECTED,
         CHANNEL_R_OTHER, "131009", 0},
        {404, META_ERR(132001, "Template name does not exist", "x"), CHANNEL_REJECTED,
         CHANNEL_R_OTHER, "132001", 0},
        {500, META_ERR(1, "An unknown error occurred", "x"), CHANNEL_UNKNOWN, CHANNEL_R_OTHER, "1",
         0},
        {502, META_ERR(131000, "Something went wrong", "x"), CHANNEL_UNKNOWN, CHANNEL_R_OTHER,
         "131000", 0},
        /* bodies that say nothing */
        {401, "<html><body>Unauthorized</body></html>", CHANNEL_REJECTED, CHANNEL_R_AUTH, "", 0},
        {403, "", CHANNEL_REJECTED, CHANNEL_R_AUTH, "", 0},
        {503, "<html>Service Unavailable</html>", CHANNEL_TRANSIENT, CHANNEL_R_OTHER, "", 0},
        {429, "", CHANNEL_TRANSIENT, CHANNEL_R_OTHER, "", 0},
        {502, "<html><h1>502 Bad Gateway</h1></html>", CHANNEL_UNKNOWN, CHANNEL_R_OTHER, "", 0},
        {500, "", CHANNEL_UNKNOWN, CHANNEL_R_OTHER, "", 0},
        {400, "<html>Bad Request</html>", CHANNEL_UNKNOWN, CHANNEL_R_OTHER, "", 0},
        {400, "{\"error\":", CHANNEL_UNKNOWN, CHANNEL_R_OTHER, "", 0},
        {400, "{\"error\":{\"code\":\"100\"}} trailing", CHANNEL_UNKNOWN, CHANNEL_R_OTHER, "", 0},
        {200, "", CHANNEL_UNKNOWN, CHANNEL_R_OTHER, "", 0},
        {200, "<html>ok</html>", CHANNEL_UNKNOWN, CHANNEL_R_OTHER, "", 0},
        {200, "{\"messaging_product\":\"whatsapp\"}", CHANNEL_UNKNOWN, CHANNEL_R_OTHER, "", 0},
        {200, "{\"messages\":[]}", CHANNEL_UNKNOWN, CHANNEL_R_OTHER, "", 0},
        {200, "{\"messages\":[{\"id\":\"\"}]}", CHANNEL_UNKNOWN, CHANNEL_R_OTHER, "", 0},
        {200, "{\"messages\":[{\"id\":42}]}", CHANNEL_UNKNOWN, CHANNEL_R_OTHER, "", 0},
        {200, "[1,2]", CHANNEL_UNKNOWN, CHANNEL_R_OTHER, "", 0},
        {200, META_ERR(100, "Invalid parameter", "x"), CHANNEL_UNKNOWN, CHANNEL_R_OTHER, "100", 0},
        {302, "", CHANNEL_UNKNOWN, CHANNEL_R_OTHER, "", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct channel_result r = classify(cases[i].http, cases[i].body);
        if (r.outcome != cases[i].outcome || r.reason != cases[i].reason ||
            strcmp(r.code, cases[i].code) != 0 || r.retry_after != cases[i].retry_after)
            print_error("case %zu: HTTP %d %s → outcome %d reason %d code '%s' retry %lld\n", i,
                        cases[i].http, cases[i].body, r.outcome, r.reason, r.code,
                        (long long)r.retry_after);
        assert_int_equal(r.outcome, cases[i].outcome);
        assert_int_equal(r.reason, cases[i].reason);
        assert_string_equal(r.code, cases[i].code);
        assert_int_equal(r.retry_after, cases[i].retry_after);
        assert_int_equal(r.http_code, cases[i].http);
        assert_string_equal(r.provider_ref, "");
        assert_true(r.description[0] != '\0');
    }
}

static void test_classify_description(void **state)
{
    struct channel_result r =
        classify(400, META_ERR(100, "(#100) Invalid parameter", "Parameter 'to' is missing"));
    assert_string_equal(r.description, "(#100) Invalid parameter (Parameter 'to' is missing)");

    /* details equal to the message are not repeated; no details */
    r = classify(400, META_ERR(131048, "Spam rate limit hit", "Spam rate limit hit"));
    assert_string_equal(r.description, "Spam rate limit hit");
    r = classify(400, "{\"error\":{\"message\":\"Bad\",\"code\":100}}");
    assert_string_equal(r.description, "Bad");
    r = classify(502, "<html>x</html>");
    assert_string_equal(r.description, "HTTP 502 and a body that is not JSON");

    /* a long text is cut at a character boundary, control characters go */
    char body[2048], message[700];
    size_t n = 0;
    for (; n < 600; n += 2)
        memcpy(message + n, "\xc3\xa9", 2);
    message[n] = '\0';
    snprintf(body, sizeof body, "{\"error\":{\"message\":\"a\\nb%s\",\"code\":100}}", message);
    r = classify(400, body);
    assert_true(strlen(r.description) < sizeof r.description);
    assert_true(strlen(r.description) > 100);
    assert_true(utf8_valid(r.description));
    assert_memory_equal(r.description, "a b\xc3\xa9", 5);
    assert_null(strchr(r.description, '\n'));
}

static void test_classify_transport(void **state)
{
    struct {
        enum net_error error;
        bool sent;
        int status;
        enum channel_outcome outcome;
    } cases[] = {
        {NET_CONNECT, false, 0, CHANNEL_TRANSIENT},
        {NET_RESOLVE, false, 0, CHANNEL_TRANSIENT},
        {NET_TIMEOUT, false, 0, CHANNEL_TRANSIENT}, /* connect timeout */
        {NET_TIMEOUT, true, 0, CHANNEL_UNKNOWN},    /* read timeout: may have been sent */
        {NET_TIMEOUT, true, 200, CHANNEL_UNKNOWN},  /* while the body was read */
        {NET_TLS, false, 0, CHANNEL_TRANSIENT},
        {NET_CANCELLED, false, 0, CHANNEL_TRANSIENT},
        {NET_CANCELLED, true, 0, CHANNEL_UNKNOWN},
        {NET_FAILED, false, 0, CHANNEL_TRANSIENT},
        {NET_FAILED, true, 0, CHANNEL_UNKNOWN},
        {NET_TOO_LARGE, true, 200, CHANNEL_UNKNOWN},
        {NET_BAD_URL, false, 0, CHANNEL_REJECTED},
        {NET_REFUSED_ADDRESS, false, 0, CHANNEL_REJECTED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct net_response res = {
            .error = cases[i].error, .sent = cases[i].sent, .status = cases[i].status, .body = ""};
        snprintf(res.message, sizeof res.message, "what happened");
        struct channel_result r;
        wa_classify(&res, &r);
        assert_int_equal(r.outcome, cases[i].outcome);
        assert_int_equal(r.reason, CHANNEL_R_OTHER);
        assert_int_equal(r.http_code, cases[i].status);
        assert_int_equal(r.retry_after, 0);
        assert_string_equal(r.code, "");
        char want[128];
        snprintf(want, sizeof want, "%s (what happened)", net_error_name(cases[i].error));
        assert_string_equal(r.description, want);
    }
}

static void test_delivery(void **state)
{
    assert_int_equal(wa_delivery("sent"), DELIVERY_PENDING);
    assert_int_equal(wa_delivery("delivered"), DELIVERY_DELIVERED);
    assert_int_equal(wa_delivery("read"), DELIVERY_DELIVERED);
    assert_int_equal(wa_delivery("failed"), DELIVERY_FAILED);
    assert_int_equal(wa_delivery("deleted"), DELIVERY_PENDING);
    assert_int_equal(wa_delivery("warning"), DELIVERY_PENDING);
    assert_int_equal(wa_delivery("Delivered"), DELIVERY_PENDING);
    assert_int_equal(wa_delivery(NULL), DELIVERY_PENDING);
}

/* ---- the send, through a fake transport ----------------------------------------------- */

struct fake_answer {
    enum net_error error;
    bool sent;
    int status;
    const char *body;
};

struct fake {
    int calls;
    struct {
        char url[256], auth[128], content_type[64], body[4096];
        unsigned timeout_ms;
        bool allow_private;
        const _Atomic bool *cancel;
    } seen[3];
    struct fake_answer answers[3];
};

static void fake_perform(void *cls, const struct net_request *rq, struct net_response *res)
{
    struct fake *f = cls;
    assert_true(f->calls < 3);
    int i = f->calls++;
    snprintf(f->seen[i].url, sizeof f->seen[i].url, "%s", rq->url);
    for (size_t h = 0; h < rq->nheaders; h++) {
        if (!strcmp(rq->headers[h].name, "Authorization"))
            snprintf(f->seen[i].auth, sizeof f->seen[i].auth, "%s", rq->headers[h].value);
        if (!strcmp(rq->headers[h].name, "Content-Type"))
            snprintf(f->seen[i].content_type, sizeof f->seen[i].content_type, "%s",
                     rq->headers[h].value);
    }
    assert_string_equal(rq->method, "POST");
    assert_true(rq->body_len < sizeof f->seen[i].body);
    memcpy(f->seen[i].body, rq->body, rq->body_len);
    f->seen[i].body[rq->body_len] = '\0';
    f->seen[i].timeout_ms = rq->timeout_ms;
    f->seen[i].allow_private = rq->allow_private;
    f->seen[i].cancel = rq->cancel;
    memset(res, 0, sizeof *res);
    res->error = f->answers[i].error;
    res->sent = f->answers[i].sent;
    res->status = f->answers[i].status;
    res->body = strdup(f->answers[i].body ? f->answers[i].body : "");
    res->body_len = strlen(res->body);
}

#define OK_BODY "{\"messaging_product\":\"whatsapp\",\"messages\":[{\"id\":\"" WAMID "\"}]}"
#define WINDOW_BODY                                                                                \
    META_ERR(131047, "Re-engagement message",                                                      \
             "Message failed to send because more than 24 hours have passed")

static void test_send_plain(void **state)
{
    struct wa *w = make_std(NULL, NULL);
    struct channel ch = chan(w);
    _Atomic bool stop = false;
    ch.cancel = &stop;
    struct fake f = {.answers = {{NET_OK, true, 200, OK_BODY}}};
    struct channel_message m = msg();
    struct channel_result r;
    wa_send_with(&ch, &m, fake_perform, &f, &r);
    assert_int_equal(r.outcome, CHANNEL_SENT);
    assert_string_equal(r.provider_ref, WAMID);
    assert_int_equal(f.calls, 1);
    assert_string_equal(f.seen[0].url, "https://graph.facebook.com/v21.0/" PNID "/messages");
    assert_string_equal(f.seen[0].auth, "Bearer " TOKEN);
    assert_string_equal(f.seen[0].content_type, "application/json");
    assert_false(f.seen[0].allow_private);
    assert_ptr_equal(f.seen[0].cancel, &stop);
    assert_true(f.seen[0].timeout_ms > 4500 && f.seen[0].timeout_ms <= 5000);
    char *want = request_text(&m, false);
    assert_string_equal(f.seen[0].body, want);
    free(want);
    wa_destroy(w);
}

static void test_send_window_template(void **state)
{
    const char *params[] = {"Ann"};
    struct wa *w = make_std("http://127.0.0.1:9", NULL);
    struct channel ch = chan(w);
    struct fake f = {.answers = {{NET_OK, true, 400, WINDOW_BODY}, {NET_OK, true, 200, OK_BODY}}};
    struct channel_message m = msg();
    m.button_text = "Pay";
    m.button_url = "https://pay.example/l/abc";
    m.template_name = "payment_link";
    m.template_lang = "en";
    m.template_params = params;
    m.ntemplate_params = 1;
    struct channel_result r;
    wa_send_with(&ch, &m, fake_perform, &f, &r);
    assert_int_equal(r.outcome, CHANNEL_SENT);
    assert_string_equal(r.provider_ref, WAMID);
    assert_int_equal(f.calls, 2);
    assert_true(f.seen[0].allow_private && f.seen[1].allow_private);
    char *first = request_text(&m, false), *second = request_text(&m, true);
    assert_string_equal(f.seen[0].body, first);
    assert_string_equal(f.seen[1].body, second);
    assert_non_null(strstr(second, "\"type\":\"template\""));
    assert_non_null(strstr(first, "\"type\":\"interactive\""));
    free(first);
    free(second);

    /* the template refused too: its answer is the result (and no third
     * try), still the closed window's (the merchant's SMS fallback takes
     * the link) */
    memset(&f, 0, sizeof f);
    f.answers[0].status = 400;
    f.answers[0].sent = true;
    f.answers[0].body = WINDOW_BODY;
    f.answers[1].status = 404;
    f.answers[1].sent = true;
    f.answers[1].body = META_ERR(132001, "Template name does not exist in the translation", "x");
    wa_send_with(&ch, &m, fake_perform, &f, &r);
    assert_int_equal(f.calls, 2);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_int_equal(r.reason, CHANNEL_R_WINDOW_CLOSED);
    assert_string_equal(r.code, "132001");

    /* the template answered 131047 as well: still the window */
    memset(&f, 0, sizeof f);
    f.answers[0] = f.answers[1] = (struct fake_answer){NET_OK, true, 400, WINDOW_BODY};
    wa_send_with(&ch, &m, fake_perform, &f, &r);
    assert_int_equal(f.calls, 2);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_int_equal(r.reason, CHANNEL_R_WINDOW_CLOSED);
    wa_destroy(w);
}

static void test_send_template_only(void **state)
{
    /* the text was taken before and reported undelivered later: the
     * template alone, one request */
    const char *params[] = {"Ann"};
    struct wa *w = make_std(NULL, NULL);
    struct channel ch = chan(w);
    struct fake f = {.answers = {{NET_OK, true, 200, OK_BODY}}};
    struct channel_message m = msg();
    m.button_text = "Pay";
    m.button_url = "https://pay.example/l/abc";
    m.template_name = "payment_link";
    m.template_lang = "en";
    m.template_params = params;
    m.ntemplate_params = 1;
    m.template_only = true;
    struct channel_result r;
    wa_send_with(&ch, &m, fake_perform, &f, &r);
    assert_int_equal(r.outcome, CHANNEL_SENT);
    assert_int_equal(f.calls, 1);
    char *want = request_text(&m, true);
    assert_string_equal(f.seen[0].body, want);
    free(want);

    /* without a template to send, the message as it is */
    memset(&f, 0, sizeof f);
    f.answers[0] = (struct fake_answer){NET_OK, true, 200, OK_BODY};
    m.template_name = "";
    wa_send_with(&ch, &m, fake_perform, &f, &r);
    assert_int_equal(f.calls, 1);
    want = request_text(&m, false);
    assert_string_equal(f.seen[0].body, want);
    assert_non_null(strstr(want, "\"type\":\"interactive\""));
    free(want);
    wa_destroy(w);
}

static void test_send_window_no_template(void **state)
{
    struct wa *w = make_std(NULL, NULL);
    struct channel ch = chan(w);
    struct fake f = {.answers = {{NET_OK, true, 400, WINDOW_BODY}, {NET_OK, true, 200, OK_BODY}}};
    struct channel_message m = msg();
    m.template_name = ""; /* empty is none */
    struct channel_result r;
    wa_send_with(&ch, &m, fake_perform, &f, &r);
    assert_int_equal(f.calls, 1);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_int_equal(r.reason, CHANNEL_R_WINDOW_CLOSED);
    assert_string_equal(r.code, "131047");
    assert_int_equal(r.http_code, 400);
    wa_destroy(w);
}

static void test_send_no_second_try(void **state)
{
    /* only 131047 leads to the template: a rate limit or a timeout does not */
    struct wa *w = make_std(NULL, NULL);
    struct channel ch = chan(w);
    struct channel_message m = msg();
    m.template_name = "payment_link";
    struct channel_result r;
    struct fake f = {.answers = {{NET_OK, true, 400, META_ERR(130429, "Rate limit hit", "x")}}};
    wa_send_with(&ch, &m, fake_perform, &f, &r);
    assert_int_equal(f.calls, 1);
    assert_int_equal(r.outcome, CHANNEL_TRANSIENT);
    assert_int_equal(r.retry_after, 2000000);

    memset(&f, 0, sizeof f);
    f.answers[0].error = NET_TIMEOUT;
    f.answers[0].sent = true;
    wa_send_with(&ch, &m, fake_perform, &f, &r);
    assert_int_equal(f.calls, 1);
    assert_int_equal(r.outcome, CHANNEL_UNKNOWN);

    memset(&f, 0, sizeof f);
    f.answers[0].error = NET_CONNECT;
    wa_send_with(&ch, &m, fake_perform, &f, &r);
    assert_int_equal(f.calls, 1);
    assert_int_equal(r.outcome, CHANNEL_TRANSIENT);
    wa_destroy(w);
}

static void test_send_refused_locally(void **state)
{
    struct wa *w = make_std(NULL, NULL);
    struct channel ch = chan(w);
    struct fake f = {0};
    struct channel_message m = msg();
    m.channel = CHANNEL_SMS;
    struct channel_result r;
    wa_send_with(&ch, &m, fake_perform, &f, &r);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    m = msg();
    m.to = "";
    wa_send_with(&ch, &m, fake_perform, &f, &r);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_int_equal(f.calls, 0);
    wa_destroy(w);
}

static void test_send_scrubs_description(void **state)
{
    struct wa *w = make_std(NULL, NULL);
    struct channel ch = chan(w);
    struct channel_message m = msg();
    struct channel_result r;
    struct fake f = {
        .answers = {{NET_OK, true, 400, META_ERR(100, "Invalid token " TOKEN " given", "x")}}};
    wa_send_with(&ch, &m, fake_perform, &f, &r);
    assert_int_equal(r.outcome, CHANNEL_REJECTED);
    assert_string_equal(r.code, "100");
    assert_null(strstr(r.description, TOKEN));

    memset(&f, 0, sizeof f);
    f.answers[0] = (struct fake_answer){
        NET_OK, true, 400,
        META_ERR(131009, "Parameter value is not valid", "Pay here: https://pay.example/l/abc")};
    wa_send_with(&ch, &m, fake_perform, &f, &r);
    assert_null(strstr(r.description, "pay.example"));
    assert_string_equal(r.code, "131009");
    wa_destroy(w);
}

/* ---- inbound ------------------------------------------------------------------------------ */

struct pairs {
    const char *const *kv; /* name, value, ..., NULL */
};

static const char *pair_get(const void *cls, const char *name)
{
    const struct pairs *p = cls;
    for (size_t i = 0; p->kv && p->kv[i]; i += 2)
        if (!strcasecmp(p->kv[i], name))
            return p->kv[i + 1];
    return NULL;
}

static enum channel_inbound_verdict handshake(const struct channel *ch, const char *const *query,
                                              struct arena *a, struct channel_inbound_reply *reply)
{
    struct pairs q = {query};
    struct provider_inbound rq = {.method = "GET",
                                  .url = "https://chatpay.example/hooks/p1/tok",
                                  .rest = "",
                                  .content_type = "",
                                  .body = "",
                                  .header = pair_get,
                                  .header_cls = &(struct pairs){NULL},
                                  .query = pair_get,
                                  .query_cls = &q};
    struct channel_event *evs = (void *)1;
    size_t n = 99;
    memset(reply, 0, sizeof *reply);
    enum channel_inbound_verdict v = ch->ops->inbound(ch, &rq, a, &evs, &n, reply);
    assert_null(evs);
    assert_int_equal(n, 0);
    return v;
}

static void test_handshake(void **state)
{
    struct wa *w = make_std(NULL, NULL);
    struct channel ch = chan(w);
    struct arena *a = arena_new(0);
    struct channel_inbound_reply reply;
    const char *good[] = {"hub.mode",   "subscribe", "hub.verify_token", VERIFY, "hub.challenge",
                          "1158201444", NULL};
    assert_int_equal(handshake(&ch, good, a, &reply), INBOUND_ANSWER);
    assert_int_equal(reply.status, 200);
    assert_string_equal(reply.content_type, "text/plain");
    assert_string_equal(reply.body, "1158201444");

    char c128[129], c129[130];
    memset(c128, 'a', 128);
    c128[128] = '\0';
    memset(c129, 'Z', 129);
    c129[129] = '\0';
    const char *longest[] = {"hub.mode", "subscribe", "hub.verify_token", VERIFY, "hub.challenge",
                             c128,       NULL};
    assert_int_equal(handshake(&ch, longest, a, &reply), INBOUND_ANSWER);
    assert_string_equal(reply.body, c128);

    const char *bad[][7] = {
        {"hub.mode", "subscribe", "hub.verify_token", "verify-me-pleasE", "hub.challenge", "1",
         NULL},
        {"hub.mode", "subscribe", "hub.verify_token", "verify-me-please ", "hub.challenge", "1",
         NULL},
        {"hub.mode", "subscribe", "hub.verify_token", "", "hub.challenge", "1", NULL},
        {"hub.mode", "subscribe", "hub.challenge", "1", NULL},
        {"hub.mode", "unsubscribe", "hub.verify_token", VERIFY, "hub.challenge", "1", NULL},
        {"hub.verify_token", VERIFY, "hub.challenge", "1", NULL},
        {"hub.mode", "subscribe", "hub.verify_token", VERIFY, NULL},
        {"hub.mode", "subscribe", "hub.verify_token", VERIFY, "hub.challenge", "", NULL},
        {"hub.mode", "subscribe", "hub.verify_token", VERIFY, "hub.challenge", c129, NULL},
        {"hub.mode", "subscribe", "hub.verify_token", VERIFY, "hub.challenge", "<script>", NULL},
        {"hub.mode", "subscribe", "hub.verify_token", VERIFY, "hub.challenge", "12 34", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(handshake(&ch, bad[i], a, &reply), INBOUND_FORBIDDEN);
    arena_free(a);
    wa_destroy(w);
}

#define SIGNED_BODY                                                                                \
    "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\",\"changes\":[{\"field\":"  \
    "\"messages\",\"value\":{\"statuses\":[{\"id\":\"wamid.X\",\"status\":\"delivered\","          \
    "\"timestamp\":\"1700000000\",\"biz_opaque_callback_data\":\"cpm_7\"}]}}]}]}"
#define SIGNED_SIG "sha256=50eb9ae33600ca8be066770222ce03a9ca5e5dd035cb7ba5ca0f557881be7f55"

static enum channel_inbound_verdict post(const struct channel *ch, const char *body, size_t len,
                                         const char *signature, struct arena *a,
                                         struct channel_event **evs, size_t *n)
{
    const char *headers[] = {"Content-Type", "application/json", "X-Hub-Signature-256", signature,
                             NULL};
    if (!signature)
        headers[2] = NULL;
    struct pairs h = {headers};
    struct provider_inbound rq = {.method = "POST",
                                  .url = "https://chatpay.example/hooks/p1/tok",
                                  .rest = "",
                                  .content_type = "application/json",
                                  .body = body,
                                  .body_len = len,
                                  .header = pair_get,
                                  .header_cls = &h,
                                  .query = pair_get,
                                  .query_cls = &(struct pairs){NULL}};
    struct channel_inbound_reply reply = {0};
    return ch->ops->inbound(ch, &rq, a, evs, n, &reply);
}

/* The signature of body under SECRET, as Meta sends it. */
static void sign(const char *body, size_t len, char out[72])
{
    uint8_t mac[32];
    crypto_hmac_sha256(SECRET, strlen(SECRET), body, len, mac);
    memcpy(out, "sha256=", 7);
    crypto_hex(mac, sizeof mac, out + 7);
}

/* A webhook of an app with two business numbers: only the changes of the
 * provider's own number (metadata.phone_number_id) are its events. */
static void test_parse_other_numbers_left_out(void **state)
{
    (void)state;
    static const char body[] =
        "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\",\"changes\":["
        "{\"field\":\"messages\",\"value\":{\"metadata\":{\"display_phone_number\":"
        "\"15550001111\",\"phone_number_id\":\"999\"},\"messages\":[{\"from\":\"27820001111\","
        "\"id\":\"wamid.A\",\"timestamp\":\"1700000000\",\"type\":\"text\","
        "\"text\":{\"body\":\"STOP\"}}]}},"
        "{\"field\":\"messages\",\"value\":{\"metadata\":{\"display_phone_number\":"
        "\"15550002222\",\"phone_number_id\":\"" PNID "\"},\"messages\":[{\"from\":"
        "\"27820002222\",\"id\":\"wamid.B\",\"timestamp\":\"1700000001\",\"type\":\"text\","
        "\"text\":{\"body\":\"STOP\"}}]}}]}]}";
    struct arena *a = arena_new(0);
    struct channel_event *evs;
    size_t n;
    assert_int_equal(wa_parse(body, strlen(body), PNID, a, &evs, &n), INBOUND_EVENTS);
    assert_int_equal(n, 1);
    assert_string_equal(evs[0].from, "27820002222");
    assert_int_equal(wa_parse(body, strlen(body), NULL, a, &evs, &n), INBOUND_EVENTS);
    assert_int_equal(n, 2);
    arena_free(a);
}

static void test_signature(void **state)
{
    const char *body = SIGNED_BODY;
    size_t len = strlen(body);
    assert_true(wa_signature_ok(SECRET, body, len, SIGNED_SIG));
    char sig[72];
    sign(body, len, sig);
    assert_string_equal(sig, SIGNED_SIG);

    assert_false(wa_signature_ok(SECRET, body, len, NULL));
    assert_false(wa_signature_ok(SECRET, body, len, ""));
    assert_false(wa_signature_ok(SECRET, body, len, SIGNED_SIG + 7)); /* no prefix */
    assert_false(wa_signature_ok("another-secret", body, len, SIGNED_SIG));
    assert_false(wa_signature_ok(SECRET, body, len - 1, SIGNED_SIG)); /* one byte less */
    char upper[72];
    snprintf(upper, sizeof upper, "%s", SIGNED_SIG);
    for (char *p = upper + 7; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    assert_false(wa_signature_ok(SECRET, body, len, upper));
    char tampered[72];
    snprintf(tampered, sizeof tampered, "%s", SIGNED_SIG);
    tampered[70] = tampered[70] == '5' ? '6' : '5';
    assert_false(wa_signature_ok(SECRET, body, len, tampered));
    char longer[80];
    snprintf(longer, sizeof longer, "%s0", SIGNED_SIG);
    assert_false(wa_signature_ok(SECRET, body, len, longer));
    assert_false(wa_signature_ok(SECRET, body, len, "sha1=0123"));

    /* through inbound: good, bad, missing */
    struct wa *w = make_std(NULL, NULL);
    struct channel ch = chan(w);
    struct arena *a = arena_new(0);
    struct channel_event *evs;
    size_t n;
    assert_int_equal(post(&ch, body, len, SIGNED_SIG, a, &evs, &n), INBOUND_EVENTS);
    assert_int_equal(n, 1);
    assert_int_equal(evs[0].kind, CHANNEL_EV_STATUS);
    assert_string_equal(evs[0].provider_ref, "wamid.X");
    assert_string_equal(evs[0].ref, "cpm_7");
    assert_int_equal(evs[0].delivery, DELIVERY_DELIVERED);
    assert_int_equal(evs[0].at, 1700000000LL * 1000000);
    assert_int_equal(post(&ch, body, len, tampered, a, &evs, &n), INBOUND_FORBIDDEN);
    assert_int_equal(n, 0);
    assert_int_equal(post(&ch, body, len, NULL, a, &evs, &n), INBOUND_FORBIDDEN);
    assert_int_equal(post(&ch, body, len, "", a, &evs, &n), INBOUND_FORBIDDEN);

    /* the signature is checked before the body is read: garbage unsigned is
     * forbidden, garbage signed is malformed */
    const char *junk = "\x01\xff{not json";
    assert_int_equal(post(&ch, junk, strlen(junk), SIGNED_SIG, a, &evs, &n), INBOUND_FORBIDDEN);
    sign(junk, strlen(junk), sig);
    assert_int_equal(post(&ch, junk, strlen(junk), sig, a, &evs, &n), INBOUND_MALFORMED);

    /* other methods */
    struct provider_inbound rq = {.method = "PUT", .body = body, .body_len = len};
    struct channel_inbound_reply reply;
    assert_int_equal(ch.ops->inbound(&ch, &rq, a, &evs, &n, &reply), INBOUND_FORBIDDEN);
    arena_free(a);
    wa_destroy(w);
}

static const char batch[] =
    "{\"object\":\"whatsapp_business_account\",\"entry\":["
    "{\"id\":\"WABA1\",\"changes\":["
    "{\"field\":\"messages\",\"value\":{\"messaging_product\":\"whatsapp\",\"metadata\":{"
    "\"display_phone_number\":\"+1 555-010-0000\",\"phone_number_id\":\"" PNID "\"},"
    "\"statuses\":["
    "{\"id\":\"wamid.A\",\"status\":\"sent\",\"timestamp\":\"1700000000\",\"recipient_id\":"
    "\"27820000001\",\"biz_opaque_callback_data\":\"cpm_42\",\"conversation\":{\"id\":\"c1\","
    "\"origin\":{\"type\":\"utility\"}},\"pricing\":{\"billable\":true,\"category\":\"utility\"}},"
    "{\"id\":\"wamid.A\",\"status\":\"delivered\",\"timestamp\":\"1700000005\",\"recipient_id\":"
    "\"27820000001\",\"biz_opaque_callback_data\":\"cpm_42\"},"
    "{\"id\":\"wamid.A\",\"status\":\"delivered\",\"timestamp\":\"1700000005\",\"recipient_id\":"
    "\"27820000001\",\"biz_opaque_callback_data\":\"cpm_42\"},"
    "{\"id\":\"wamid.B\",\"status\":\"failed\",\"timestamp\":\"1700000009\",\"recipient_id\":"
    "\"27820000002\",\"errors\":[{\"code\":131026,\"title\":\"Message undeliverable\","
    "\"message\":\"Message undeliverable\",\"error_data\":{\"details\":\"Receiver is incapable"
    " of receiving this message\"},\"href\":\"https://developers.facebook.com/\"}]},"
    "{\"id\":\"wamid.C\",\"status\":\"read\",\"timestamp\":1700000010,\"new_field\":[1,2]},"
    "{\"id\":\"wamid.D\",\"status\":\"deleted\",\"timestamp\":\"soon\"},"
    "{\"status\":\"sent\"},"
    "{\"id\":\"wamid.E\"},"
    "\"not an object\","
    "{\"id\":\"pay1\",\"type\":\"payment\",\"status\":\"captured\"}"
    "]}},"
    "{\"field\":\"account_update\",\"value\":{\"statuses\":[{\"id\":\"x\",\"status\":\"sent\"}]}},"
    "{\"field\":\"messages\",\"value\":\"odd\"}"
    "]},"
    "{\"id\":\"WABA1\",\"changes\":[{\"field\":\"messages\",\"value\":{\"metadata\":{"
    "\"display_phone_number\":\"15550100000\"},\"contacts\":[{\"profile\":{\"name\":\"Ann\"},"
    "\"wa_id\":\"27820000001\"}],\"messages\":["
    "{\"from\":\"27820000001\",\"id\":\"wamid.R1\",\"timestamp\":\"1700000100\",\"type\":"
    "\"text\",\"text\":{\"body\":\"STOP\"}},"
    "{\"from\":\"27820000001\",\"id\":\"wamid.R1\",\"timestamp\":\"1700000100\",\"type\":"
    "\"text\",\"text\":{\"body\":\"STOP\"}},"
    "{\"from\":\"27820000001\",\"id\":\"wamid.R2\",\"timestamp\":\"1700000101\",\"type\":"
    "\"button\",\"button\":{\"payload\":\"p\",\"text\":\"Pay later\"}},"
    "{\"from\":\"27820000001\",\"id\":\"wamid.R3\",\"timestamp\":\"1700000102\",\"type\":"
    "\"interactive\",\"interactive\":{\"type\":\"button_reply\",\"button_reply\":{\"id\":\"b1\","
    "\"title\":\"Yes\"}}},"
    "{\"from\":\"27820000001\",\"id\":\"wamid.R4\",\"timestamp\":\"1700000103\",\"type\":"
    "\"image\",\"image\":{\"id\":\"m1\"}},"
    "{\"from\":\"27820000001\",\"id\":\"wamid.R5\",\"type\":\"reaction\",\"reaction\":{}},"
    "{\"from\":\"not-a-number\",\"id\":\"wamid.R7\",\"type\":\"text\",\"text\":{\"body\":\"x\"}},"
    "{\"from\":\"27820000001\",\"id\":\"wamid.R6\",\"type\":\"interactive\",\"interactive\":{"
    "\"type\":\"list_reply\",\"list_reply\":{\"id\":\"l1\",\"title\":\"Option A\"}}}"
    "]}}]}"
    "]}";

static void test_parse_batch(void **state)
{
    struct arena *a = arena_new(0);
    struct channel_event *evs;
    size_t n;
    assert_int_equal(wa_parse(batch, strlen(batch), NULL, a, &evs, &n), INBOUND_EVENTS);
    assert_int_equal(n, 11);
    struct {
        enum channel_event_kind kind;
        const char *provider_ref, *ref, *status;
        enum channel_delivery delivery;
        usec_t at;
        const char *code, *from, *to, *text;
    } want[] = {
        {CHANNEL_EV_STATUS, "wamid.A", "cpm_42", "sent", DELIVERY_PENDING, 1700000000, "", "", "",
         NULL},
        {CHANNEL_EV_STATUS, "wamid.A", "cpm_42", "delivered", DELIVERY_DELIVERED, 1700000005, "",
         "", "", NULL},
        /* a duplicate is passed on: the store dedupes */
        {CHANNEL_EV_STATUS, "wamid.A", "cpm_42", "delivered", DELIVERY_DELIVERED, 1700000005, "",
         "", "", NULL},
        {CHANNEL_EV_STATUS, "wamid.B", "", "failed", DELIVERY_FAILED, 1700000009, "131026", "", "",
         NULL},
        {CHANNEL_EV_STATUS, "wamid.C", "", "read", DELIVERY_DELIVERED, 1700000010, "", "", "",
         NULL},
        {CHANNEL_EV_STATUS, "wamid.D", "", "deleted", DELIVERY_PENDING, 0, "", "", "", NULL},
        {CHANNEL_EV_REPLY, "wamid.R1", "", "", 0, 1700000100, "", "27820000001", "15550100000",
         "STOP"},
        {CHANNEL_EV_REPLY, "wamid.R1", "", "", 0, 1700000100, "", "27820000001", "15550100000",
         "STOP"},
        {CHANNEL_EV_REPLY, "wamid.R2", "", "", 0, 1700000101, "", "27820000001", "15550100000",
         "Pay later"},
        {CHANNEL_EV_REPLY, "wamid.R3", "", "", 0, 1700000102, "", "27820000001", "15550100000",
         "Yes"},
        {CHANNEL_EV_REPLY, "wamid.R6", "", "", 0, 0, "", "27820000001", "15550100000", "Option A"},
    };
    for (size_t i = 0; i < n; i++) {
        const struct channel_event *e = &evs[i];
        assert_int_equal(e->kind, want[i].kind);
        assert_string_equal(e->provider_ref, want[i].provider_ref);
        assert_string_equal(e->ref, want[i].ref);
        assert_string_equal(e->status, want[i].status);
        assert_int_equal(e->delivery, want[i].delivery);
        assert_int_equal(e->at, want[i].at * 1000000);
        assert_string_equal(e->code, want[i].code);
        assert_string_equal(e->from, want[i].from);
        assert_string_equal(e->to, want[i].to);
        if (want[i].text)
            assert_string_equal(e->text, want[i].text);
        else
            assert_null(e->text);
    }
    assert_string_equal(evs[3].description,
                        "Message undeliverable (Receiver is incapable of receiving this message)");
    for (size_t i = 0; i < n; i++) /* only a failure says why, and only 131026 / 131047 matter */
        assert_int_equal(evs[i].reason, i == 3 ? CHANNEL_R_NOT_ON_CHANNEL : CHANNEL_R_OTHER);
    assert_string_equal(evs[0].description, "");
    arena_free(a);
}

static void test_parse_status_error_title(void **state)
{
    /* an error without a message: its title */
    const char *body =
        "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{\"field\":"
        "\"messages\",\"value\":{\"statuses\":[{\"id\":\"wamid.F\",\"status\":\"failed\","
        "\"errors\":[{\"code\":131049,\"title\":\"This message was not delivered to maintain "
        "healthy ecosystem engagement.\"}]}]}}]}]}";
    struct arena *a = arena_new(0);
    struct channel_event *evs;
    size_t n;
    assert_int_equal(wa_parse(body, strlen(body), NULL, a, &evs, &n), INBOUND_EVENTS);
    assert_int_equal(n, 1);
    assert_string_equal(evs[0].code, "131049");
    assert_string_equal(evs[0].description,
                        "This message was not delivered to maintain healthy ecosystem engagement.");
    assert_int_equal(evs[0].delivery, DELIVERY_FAILED);
    assert_int_equal(evs[0].reason, CHANNEL_R_OTHER);
    arena_free(a);
}

static void test_parse_status_window_closed(void **state)
{
    /* the closed window reported after the send was taken; a code on a
     * status that is not a failure says nothing */
    const char *body =
        "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{\"field\":"
        "\"messages\",\"value\":{\"statuses\":["
        "{\"id\":\"wamid.G\",\"status\":\"failed\",\"biz_opaque_callback_data\":\"cpm_7\","
        "\"errors\":[{\"code\":131047,\"title\":\"Re-engagement message\"}]},"
        "{\"id\":\"wamid.H\",\"status\":\"sent\","
        "\"errors\":[{\"code\":131047,\"title\":\"Re-engagement message\"}]}]}}]}]}";
    struct arena *a = arena_new(0);
    struct channel_event *evs;
    size_t n;
    assert_int_equal(wa_parse(body, strlen(body), NULL, a, &evs, &n), INBOUND_EVENTS);
    assert_int_equal(n, 2);
    assert_string_equal(evs[0].ref, "cpm_7");
    assert_int_equal(evs[0].delivery, DELIVERY_FAILED);
    assert_int_equal(evs[0].reason, CHANNEL_R_WINDOW_CLOSED);
    assert_int_equal(evs[1].delivery, DELIVERY_PENDING);
    assert_int_equal(evs[1].reason, CHANNEL_R_OTHER);
    arena_free(a);
}

static void test_parse_odd_bodies(void **state)
{
    struct {
        const char *body;
        enum channel_inbound_verdict verdict;
        size_t n;
    } cases[] = {
        {"", INBOUND_MALFORMED, 0},
        {"not json", INBOUND_MALFORMED, 0},
        {"{\"object\":\"whatsapp_business_account\",\"entry\":[", INBOUND_MALFORMED, 0},
        {"[1,2,3]", INBOUND_MALFORMED, 0},
        {"\"a string\"", INBOUND_MALFORMED, 0},
        {"{\"object\":\"whatsapp_business_account\"}", INBOUND_MALFORMED, 0},
        {"{\"object\":\"whatsapp_business_account\",\"entry\":{}}", INBOUND_MALFORMED, 0},
        {"{\"object\":\"whatsapp_business_account\",\"entry\":[]} {}", INBOUND_MALFORMED, 0},
        /* accepted, nothing in them */
        {"{\"object\":\"whatsapp_business_account\",\"entry\":[]}", INBOUND_EVENTS, 0},
        {"{\"object\":\"whatsapp_business_account\",\"entry\":[]}\r\n", INBOUND_EVENTS, 0},
        {"{\"object\":\"page\",\"entry\":[{\"changes\":[{\"field\":\"messages\",\"value\":{"
         "\"statuses\":[{\"id\":\"w\",\"status\":\"sent\"}]}}]}]}",
         INBOUND_EVENTS, 0},
        {"{\"object\":\"whatsapp_business_account\",\"entry\":[1,\"x\",{\"changes\":{}},"
         "{\"changes\":[null,{\"field\":7}]}]}",
         INBOUND_EVENTS, 0},
        {"{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{\"field\":"
         "\"messages\",\"value\":{\"statuses\":{},\"messages\":7}}]}]}",
         INBOUND_EVENTS, 0},
        /* no "object": read as WhatsApp's */
        {"{\"entry\":[{\"changes\":[{\"field\":\"messages\",\"value\":{\"statuses\":[{\"id\":"
         "\"w\",\"status\":\"sent\"}]}}]}]}",
         INBOUND_EVENTS, 1},
        /* ids too long to be whole are dropped rather than cut */
        {"{\"entry\":[{\"changes\":[{\"field\":\"messages\",\"value\":{\"statuses\":[{\"id\":"
         "\"wamid.0123456789012345678901234567890123456789012345678901234567890123456789012345"
         "678901234567890\",\"status\":\"sent\"}]}}]}]}",
         INBOUND_EVENTS, 0},
    };
    struct arena *a = arena_new(0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct channel_event *evs = (void *)1;
        size_t n = 99;
        assert_int_equal(wa_parse(cases[i].body, strlen(cases[i].body), NULL, a, &evs, &n),
                         cases[i].verdict);
        assert_int_equal(n, cases[i].n);
        if (n == 0)
            assert_null(evs);
    }
    /* an embedded NUL: the bytes after it are not ignored */
    const char nul[] = "{\"entry\":[]}\0{}";
    struct channel_event *evs;
    size_t n;
    assert_int_equal(wa_parse(nul, sizeof nul - 1, NULL, a, &evs, &n), INBOUND_MALFORMED);
    /* every prefix of the batch survives (and is malformed) */
    for (size_t len = 0; len < sizeof batch - 1; len++)
        assert_int_equal(wa_parse(batch, len, NULL, a, &evs, &n), INBOUND_MALFORMED);
    arena_free(a);
}

/* ---- live sends through src/net ------------------------------------------------------- */

struct one_shot {
    int fd, port;
    pthread_t thread;
    char request[8192];
    size_t len;
    const char *response;
};

/* Accept one connection, read one request (headers and Content-Length
 * bytes), answer and close. Every wait is bounded. */
static void *one_shot_run(void *cls)
{
    struct one_shot *s = cls;
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    if (poll(&p, 1, 5000) != 1)
        return NULL;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
        return NULL;
    for (;;) {
        struct pollfd q = {.fd = c, .events = POLLIN};
        if (poll(&q, 1, 5000) != 1 || s->len + 1 >= sizeof s->request)
            break;
        ssize_t k = read(c, s->request + s->len, sizeof s->request - 1 - s->len);
        if (k <= 0)
            break;
        s->len += (size_t)k;
        s->request[s->len] = '\0';
        char *end = strstr(s->request, "\r\n\r\n");
        const char *cl = strcasestr(s->request, "Content-Length:");
        if (end && cl && s->len >= (size_t)(end + 4 - s->request) + strtoul(cl + 15, NULL, 10))
            break;
    }
    size_t off = 0, n = strlen(s->response);
    while (off < n) {
        ssize_t k = write(c, s->response + off, n - off);
        if (k <= 0)
            break;
        off += (size_t)k;
    }
    close(c);
    return NULL;
}

static bool one_shot_start(struct one_shot *s, const char *response)
{
    memset(s, 0, sizeof *s);
    s->response = response;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof a;
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sl) != 0 || listen(s->fd, 4) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &sl) != 0)
        return false;
    s->port = ntohs(a.sin_port);
    return pthread_create(&s->thread, NULL, one_shot_run, s) == 0;
}

static void test_live_send(void **state)
{
    char err[256];
    struct net_config nc = {.user_agent = "chatpay-test/1"};
    struct net *net = net_start(&nc, err, sizeof err);
    assert_non_null(net);

    char response[512];
    snprintf(response, sizeof response,
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(OK_BODY), OK_BODY);
    struct one_shot srv;
    assert_true(one_shot_start(&srv, response));
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", srv.port);
    struct wa *w = make_std(base, net);
    struct channel ch = chan(w);
    struct channel_message m = msg();
    struct channel_result r;
    channel_send(&ch, &m, &r);
    pthread_join(srv.thread, NULL);
    close(srv.fd);
    assert_int_equal(r.outcome, CHANNEL_SENT);
    assert_int_equal(r.http_code, 200);
    assert_string_equal(r.provider_ref, WAMID);
    assert_memory_equal(srv.request, "POST /v21.0/" PNID "/messages HTTP/1.1\r\n",
                        strlen("POST /v21.0/" PNID "/messages HTTP/1.1\r\n"));
    assert_non_null(strcasestr(srv.request, "\r\nAuthorization: Bearer " TOKEN "\r\n"));
    assert_non_null(strcasestr(srv.request, "\r\nContent-Type: application/json\r\n"));
    char *want = request_text(&m, false);
    assert_non_null(strstr(srv.request, want));
    free(want);
    wa_destroy(w);

    /* a port nobody listens on: connection refused, not sent, retry */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sl), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &sl), 0);
    close(fd);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", ntohs(a.sin_port));
    w = make_std(base, net);
    ch = chan(w);
    channel_send(&ch, &m, &r);
    assert_int_equal(r.outcome, CHANNEL_TRANSIENT);
    assert_int_equal(r.http_code, 0);
    assert_memory_equal(r.description, "connect", 7);
    wa_destroy(w);

    /* Meta's public host is guarded: a private address there is refused
     * (the default base_url never allows private addresses) */
    w = make_std(NULL, net);
    assert_false(w->allow_private);
    wa_destroy(w);
    net_stop(net);
}

/* A 429 or 503 waits what Retry-After asks; an error page too large to
 * read is still its status (503: retried, not an unknown outcome). */
static void test_retry_after_and_large_error_pages(void **state)
{
    struct net_response r = answer(429, "");
    snprintf(r.retry_after, sizeof r.retry_after, "30");
    struct channel_result out;
    wa_classify(&r, &out);
    assert_int_equal(out.outcome, CHANNEL_TRANSIENT);
    assert_int_equal(out.retry_after, 30LL * 1000000);
    snprintf(r.retry_after, sizeof r.retry_after, "Wed, 21 Oct 2026 07:28:00 GMT");
    wa_classify(&r, &out);
    assert_int_equal(out.retry_after, 0); /* a date is not read: the job's backoff */
    struct net_response big = {.error = NET_TOO_LARGE, .status = 503, .sent = true, .body = ""};
    wa_classify(&big, &out);
    assert_int_equal(out.outcome, CHANNEL_TRANSIENT);
    assert_int_equal(out.http_code, 503);
    big.status = 500;
    wa_classify(&big, &out);
    assert_int_equal(out.outcome, CHANNEL_UNKNOWN);
    big.status = 401;
    wa_classify(&big, &out);
    assert_int_equal(out.outcome, CHANNEL_REJECTED);
    assert_int_equal(out.reason, CHANNEL_R_AUTH);
}

int main(void)
{
    alarm(60); /* nothing here may hang */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_after_and_large_error_pages),
        cmocka_unit_test(test_ops_table),
        cmocka_unit_test(test_create_defaults),
        cmocka_unit_test(test_create_missing),
        cmocka_unit_test(test_create_invalid),
        cmocka_unit_test(test_body_text),
        cmocka_unit_test(test_body_interactive),
        cmocka_unit_test(test_body_interactive_limits),
        cmocka_unit_test(test_body_template),
        cmocka_unit_test(test_classify_success),
        cmocka_unit_test(test_classify_codes),
        cmocka_unit_test(test_classify_description),
        cmocka_unit_test(test_classify_transport),
        cmocka_unit_test(test_delivery),
        cmocka_unit_test(test_send_plain),
        cmocka_unit_test(test_send_window_template),
        cmocka_unit_test(test_send_window_no_template),
        cmocka_unit_test(test_send_template_only),
        cmocka_unit_test(test_send_no_second_try),
        cmocka_unit_test(test_send_refused_locally),
        cmocka_unit_test(test_send_scrubs_description),
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_parse_other_numbers_left_out),
        cmocka_unit_test(test_parse_batch),
        cmocka_unit_test(test_parse_status_error_title),
        cmocka_unit_test(test_parse_status_window_closed),
        cmocka_unit_test(test_parse_odd_bodies),
        cmocka_unit_test(test_live_send),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
