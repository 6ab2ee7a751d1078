/*
 * token_lookup.c — GET /token-lookup/1.0: the tokens or vouchers a
 * completed purchase issued, to show to the buyer again.
 */
#include "api/transact/transact.h"

#include <json-c/json.h>

void api_mp_token_lookup(struct req *r)
{
    struct db_mp_purchase p;
    struct db_mp_product prod;
    if (!mp_find_purchase_or_reply(r, &p, &prod))
        return;
    if (p.status == MP_PROCESSING) {
        mp_refuse1(r, MPC_IN_PROGRESS, "the purchase is still being fulfilled; ask again later");
        return;
    }
    if (p.status == MP_FAILED) {
        mp_refuse1(r, MPC_FAILED,
                   arena_printf(r->arena, "the purchase failed (%s %s): nothing was issued",
                                p.result_code ? p.result_code : "",
                                p.result_message ? p.result_message : ""));
        return;
    }
    json_object *o = mp_body(MPC_OK);
    json_object_object_add(o, "raasTxnRef", json_object_new_string(p.raas_ref));
    json_object_object_add(o, "clientTxnRef", json_object_new_string(p.client_txn_ref));
    json_object_object_add(o, "productId", json_object_new_int64(p.product_id));
    json_object_object_add(o, "productType",
                           json_object_new_string(mp_product_type_name(prod.type)));
    json_object_object_add(o, "status", json_object_new_string(mp_purchase_status_name(p.status)));
    json_object *tokens = p.tokens ? json_tokener_parse(p.tokens) : NULL;
    json_object_object_add(o, "tokens", tokens ? tokens : json_object_new_array());
    mp_reply_body(r, MPC_OK, o);
}
