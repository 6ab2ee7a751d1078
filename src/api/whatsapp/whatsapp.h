/*
 * whatsapp.h — the WhatsApp Pay family (docs/whatsapp-pay.md): orders sent
 * as order_details messages, the Kaleyra-format payment-status lookup and
 * refunds, under /v1/{sid}/.
 *
 * Authentication: the `api-key` header carries one of the merchant's API
 * keys, and the path's {sid} must be that merchant's account SID; anything
 * else is 401 with Kaleyra's RBC001 body. Error bodies are Kaleyra's
 * ({code, message, data, error}), and the lookup's own refusals the
 * contract's: WA002 and Meta's error object. Idempotency-Key works as in
 * Chat 2 Pay (the same hooks).
 */
#ifndef CHATPAY_API_WHATSAPP_WHATSAPP_H
#define CHATPAY_API_WHATSAPP_WHATSAPP_H

#include "api/api.h"
#include "db/whatsapp.h"
#include "http/http.h"

extern const struct http_family wa_family;

/* A Kaleyra error body: {code, message, data: [], error: {field: reason}}
 * (error {"error": message} when there are no fields). */
void wa_reply_error(struct req *r, int status, const char *code, const char *message,
                    const char *const *fields, const char *const *reasons, size_t n);
/* The lookup's refusals, as the contract writes them. */
void wa_reply_wa002(struct req *r);
void wa_reply_meta(struct req *r, int status, int code, const char *message, const char *details);

/* The path's business number, payment configuration and order (lookup and
 * refunds): false after answering WA002, 134009, the unknown reference or
 * a database failure. In a transaction of the caller's. */
struct wa_path {
    struct db_wa_order order;
    enum db_status st;
    int refusal; /* 0: found; 1 number, 2 configuration, 3 reference */
};
enum db_status wa_path_load(struct db_tx *tx, struct req *r, struct wa_path *p);
bool wa_path_reply(struct req *r, const struct wa_path *p);

/* handlers */
void api_wa_messages(struct req *r);
void api_wa_payment(struct req *r);
void api_wa_refund(struct req *r);

#endif
