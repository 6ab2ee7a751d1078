/*
 * chat2pay.h — the Chat 2 Pay API family: its endpoints, its authentication
 * (an API key), its error bodies (the published shapes) and its
 * Idempotency-Key.
 */
#ifndef CHATPAY_API_CHAT2PAY_CHAT2PAY_H
#define CHATPAY_API_CHAT2PAY_CHAT2PAY_H

#include <stdbool.h>

#include "db/db.h"
#include "http/http.h"

extern const struct http_family c2p_family;
/* the same, but order-receipt's 400 also carries PaymentReceiptResponse */
extern const struct http_family c2p_receipt_family;

/* The Chat 2 Pay error bodies, chosen by status:
 *   400, 409, 413, 415, 422   {"message", "errors": [...], "code"}
 *                             (the spec's BadRequestErrorResponse + code)
 *   401                       {"timestamp", "status", "error", "message", "path"}
 *                             (UnauthorizedErrorResponse)
 *   404, 405, 410, 429, 5xx   {"status": "404 NOT_FOUND", "message", "errors", "code"}
 *                             (NotFoundErrorResponse + code)
 * Also the shape of the other families' JSON errors. */
void c2p_render_error(struct req *r, int status, const char *code, const char *message,
                      const char *const *items, size_t n);

/* Check a merchant API key (n bytes at key): fills r->auth and caches it
 * like c2p_authenticate_or_reply (which reads it from Authorization). *why
 * may explain a refusal (NULL otherwise). Other families that take the
 * merchant's key elsewhere (WhatsApp Pay's api-key header) use it too. */
enum c2p_key_check { C2P_KEY_OK, C2P_KEY_REFUSED, C2P_KEY_UNAVAILABLE };
enum c2p_key_check c2p_check_key(struct req *r, const char *key, size_t n, const char **why);

/* "Authorization: <key>" or "Authorization: Bearer <key>" (auth.c). */
bool c2p_authenticate_or_reply(struct req *r);

/* ---- Idempotency-Key (idempotency.c) ------------------------------------------------- */

enum idem_verdict {
    IDEM_PROCEED,  /* no key, or the key is ours now: do the work */
    IDEM_REPLAY,   /* answered before: give the stored reply */
    IDEM_MISMATCH, /* the key was used with another request: 422 */
    IDEM_BUSY,     /* the first request is still running: 409 */
};

struct c2p_idem_reply {
    int status;
    const char *body;
};

/* What the key said at the start of a request's transaction. */
struct c2p_idem_claim {
    enum idem_verdict verdict;
    struct c2p_idem_reply replay;
};

/* Before the handler (the family's hook): check the header of a
 * ROUTE_IDEMPOTENT route and remember the key; 400 when malformed. */
bool c2p_idem_prepare_or_reply(struct req *r);

/* At the start of the handler's (first) write transaction: claim the key
 * (DB_ONE_RESULT: go on), or find that the key answers the request
 * (DB_ROLLBACK: stop; c2p_idem_answer replies after the rollback), or a
 * database failure. */
enum db_status c2p_idem_begin(struct db_tx *tx, struct req *r, usec_t now,
                              struct c2p_idem_claim *out);

/* After a rolled back transaction: answer what the key said (replay, 422,
 * 409). false when the key did not stop the request. */
bool c2p_idem_answer(struct req *r, const struct c2p_idem_claim *c);

/* A reference for what the request's Idempotency-Key creates: prefix +
 * 26 hex digits of a hash of the merchant and the key (the same key gives
 * the same reference, also after its claim was taken over), into
 * out[DB_REF_LEN]. false when the request has no key. */
bool c2p_idem_ref(struct req *r, const char *prefix, char *out);

/* Inside the transaction that makes the reply final: store it with the key
 * (a no-op without a key). */
enum db_status c2p_idem_store(struct db_tx *tx, struct req *r, int status, const char *body);

/* Whether the request carries an Idempotency-Key, so that its reply is
 * stored with the operation (c2p_idem_store). */
bool c2p_idem_keyed(struct req *r);

/* After the handler (the family's hook): store a reply that was not stored
 * in a transaction; forget the key after a 5xx. */
void c2p_idem_after(struct req *r);

/* After the write transaction of an operation on one of the merchant's
 * links (cancel, capture, reverse, order-receipt): answer what stopped it —
 * the Idempotency-Key (replay, 409, 422), no such link (404), a refusal
 * (`refused`, 400) or a database failure — and return true; false when it
 * went through and the handler answers. */
bool c2p_reply_link_op(struct req *r, enum db_status st, const struct c2p_idem_claim *idem,
                       const char *refused);

/* ---- endpoints ------------------------------------------------------------------------ */

void api_config_get(struct req *r);
void api_integration_put(struct req *r);
void api_chat2pay_create(struct req *r);
void api_chat2pay_status(struct req *r);
void api_cancel(struct req *r);
void api_capture(struct req *r);
void api_reverse(struct req *r);
void api_refund(struct req *r);
void api_order_receipt(struct req *r);
void api_callbacks_list(struct req *r);
void api_callback_replay(struct req *r);
void api_sandbox_messages(struct req *r);

#endif
