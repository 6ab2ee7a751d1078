/*
 * family.c — the WhatsApp Pay family: the api-key and SID check, Kaleyra's
 * error bodies, the contract's lookup refusals, and the path of an order.
 */
#include "api/whatsapp/whatsapp.h"

#include <stdio.h>
#include <string.h>

#include "api/chat2pay/chat2pay.h"
#include "app.h"
#include "service/whatsapp.h"
#include "util/crypto.h"

static const char incorrect[] = "Incorrect SID or API key.";

static void reply_rbc001(struct req *r)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "code", json_object_new_string("RBC001"));
    json_object_object_add(o, "message", json_object_new_string(incorrect));
    json_object_object_add(o, "data", json_object_new_array());
    json_object *e = json_object_new_object();
    json_object_object_add(e, "body", json_object_new_string(incorrect));
    json_object_object_add(o, "error", e);
    reply_json(r, 401, o);
    json_object_put(o);
}

void wa_reply_error(struct req *r, int status, const char *code, const char *message,
                    const char *const *fields, const char *const *reasons, size_t n)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "code", json_object_new_string(code));
    json_object_object_add(o, "message", json_object_new_string(message));
    json_object_object_add(o, "data", json_object_new_array());
    json_object *e = json_object_new_object();
    for (size_t i = 0; i < n; i++)
        if (!json_object_object_get_ex(e, fields[i], NULL))
            json_object_object_add(e, fields[i], json_object_new_string(reasons[i]));
    if (n == 0)
        json_object_object_add(e, "error", json_object_new_string(message));
    json_object_object_add(o, "error", e);
    reply_json(r, status, o);
    json_object_put(o);
}

/* The family's rendering of the server's own errors (field problems come
 * as "<field>: <reason>"). */
static void render_error(struct req *r, int status, const char *code, const char *message,
                         const char *const *items, size_t n)
{
    (void)code;
    if (status == 401) {
        reply_rbc001(r);
        return;
    }
    const char **fields = arena_alloc(r->arena, (n + 1) * sizeof *fields);
    const char **reasons = arena_alloc(r->arena, (n + 1) * sizeof *reasons);
    for (size_t i = 0; i < n; i++) {
        const char *sep = strstr(items[i], ": ");
        fields[i] = sep ? arena_strndup(r->arena, items[i], (size_t)(sep - items[i])) : "error";
        reasons[i] = sep ? sep + 2 : items[i];
    }
    char wa[16];
    snprintf(wa, sizeof wa, "WA%d", status);
    wa_reply_error(r, status, wa, status == 400 && n ? "Validation failed" : message, fields,
                   reasons, n);
}

void wa_reply_wa002(struct req *r)
{
    static const char msg[] = "Solution ID mapping not present";
    json_object *o = json_object_new_object();
    json_object_object_add(o, "code", json_object_new_string("WA002"));
    json_object_object_add(o, "message", json_object_new_string(msg));
    json_object_object_add(o, "data", NULL);
    json_object *e = json_object_new_object();
    json_object_object_add(e, "error", json_object_new_string(msg));
    json_object_object_add(o, "error", e);
    reply_json(r, 404, o);
    json_object_put(o);
}

void wa_reply_meta(struct req *r, int status, int code, const char *message, const char *details)
{
    json_object *o = json_object_new_object(), *e = json_object_new_object();
    json_object_object_add(e, "message", json_object_new_string(message));
    json_object_object_add(e, "type", json_object_new_string("OAuthException"));
    json_object_object_add(e, "code", json_object_new_int(code));
    json_object *d = json_object_new_object();
    json_object_object_add(d, "messaging_product", json_object_new_string("whatsapp"));
    json_object_object_add(d, "details", json_object_new_string(details));
    json_object_object_add(e, "error_data", d);
    char trace[24];
    crypto_random_base62(128, trace, 22);
    json_object_object_add(e, "fbtrace_id", json_object_new_string(trace));
    json_object_object_add(o, "error", e);
    reply_json(r, status, o);
    json_object_put(o);
}

static bool authenticate_or_reply(struct req *r)
{
    const char *key = req_header(r, "api-key");
    const char *why;
    if (!key) {
        reply_rbc001(r);
        return false;
    }
    while (*key == ' ')
        key++;
    size_t n = strlen(key);
    while (n && key[n - 1] == ' ')
        n--;
    switch (c2p_check_key(r, key, n, &why)) {
    case C2P_KEY_OK:
        break;
    case C2P_KEY_UNAVAILABLE:
        wa_reply_error(r, 503, "WA503", "Cannot check the API key right now; try again", NULL, NULL,
                       0);
        return false;
    case C2P_KEY_REFUSED:
        reply_rbc001(r);
        return false;
    }
    char sid[17];
    svc_wa_sid(r->auth.merchant_id, sid);
    const char *given = req_param(r, "sid");
    if (!given || strcmp(given, sid) != 0) {
        r->authenticated = false;
        reply_rbc001(r);
        return false;
    }
    return true;
}

enum db_status wa_path_load(struct db_tx *tx, struct req *r, struct wa_path *p)
{
    const char *mid = r->auth.merchant_id;
    const char *pnid = req_param(r, "phoneNumberId"), *cfg = req_param(r, "paymentConfigId");
    const char *ref = req_param(r, "referenceId");
    struct db_wa_number num;
    struct db_wa_config c;
    p->refusal = 0;
    /* an order is found by the number and configuration it was sent with,
     * enabled or not since: a disabled one takes no new order, but the
     * payments of its orders can still be looked up and refunded */
    enum db_status st = DB_CALL(tx, whatsapp, order_by_ref, mid, ref, r->arena, &p->order);
    if (st < 0)
        return st;
    if (st > 0 && strcmp(p->order.phone_number_id, pnid) == 0 &&
        strcmp(p->order.payment_config, cfg) == 0)
        return DB_ONE_RESULT;
    /* no such order: why not, as the contract answers it */
    st = DB_CALL(tx, whatsapp, number_get, mid, pnid, &num);
    if (st <= 0 || !num.enabled) {
        p->refusal = 1;
        return st < 0 ? st : DB_ROLLBACK;
    }
    st = DB_CALL(tx, whatsapp, config_get, mid, cfg, &c);
    if (st <= 0 || !c.enabled) {
        p->refusal = 2;
        return st < 0 ? st : DB_ROLLBACK;
    }
    p->refusal = 3;
    return DB_ROLLBACK;
}

bool wa_path_reply(struct req *r, const struct wa_path *p)
{
    switch (p->refusal) {
    case 1:
        wa_reply_wa002(r);
        return true;
    case 2:
        wa_reply_meta(r, 400, 134009, "(#134009) Payment configuration id is invalid",
                      "payment_configuration_id is invalid");
        return true;
    case 3:
        wa_reply_meta(r, 404, 100, "(#100) No order found for reference_id",
                      arena_printf(r->arena,
                                   "No order with reference_id %s for this number and "
                                   "payment configuration",
                                   req_param(r, "referenceId")));
        return true;
    default:
        return false;
    }
}

const struct http_family wa_family = {
    .name = "whatsapp",
    .authenticate_or_reply = authenticate_or_reply,
    .render_error = render_error,
    .before_or_reply = c2p_idem_prepare_or_reply,
    .after = c2p_idem_after,
};
