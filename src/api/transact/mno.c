/*
 * mno.c — GET /mno-lookup/1.0?msisdn=...: the mobile network operator of a
 * number, by the longest prefix of the table loaded with
 * `chatpay marketplace mno import`.
 */
#include "api/transact/transact.h"

#include <string.h>

#include "app.h"

struct mno_ctx {
    char msisdn[16];
    struct db_mp_mno m;
};

static enum db_status mno_txn(struct db_tx *tx, void *cls)
{
    struct mno_ctx *c = cls;
    return DB_CALL(tx, marketplace, mno_lookup, c->msisdn, &c->m);
}

void api_mp_mno(struct req *r)
{
    const char *v = req_query(r, "msisdn");
    struct mno_ctx c;
    memset(&c, 0, sizeof c);
    if (!v) {
        mp_refuse1(r, MPC_INVALID, "msisdn: is required");
        return;
    }
    if (*v == '+')
        v++;
    size_t digits = strspn(v, "0123456789");
    if (digits < 7 || digits > 15 || v[digits]) {
        mp_refuse1(r, MPC_INVALID, "msisdn: must be 7 to 15 digits (a leading + is allowed)");
        return;
    }
    memcpy(c.msisdn, v, digits);
    enum db_status st = db_run(r->app->db, DB_READ, "mp_mno", mno_txn, &c);
    if (st < 0) {
        mp_reply_db_error(r, st);
        return;
    }
    if (st == 0) {
        mp_refuse1(r, MPC_NOT_FOUND, "msisdn: no network operator is known for this number");
        return;
    }
    json_object *o = mp_body(MPC_OK);
    json_object_object_add(o, "msisdn", json_object_new_string(c.msisdn));
    json_object_object_add(o, "mno", json_object_new_string(c.m.mno));
    json_object_object_add(o, "countryCode",
                           c.m.country_code[0] ? json_object_new_string(c.m.country_code) : NULL);
    json_object_object_add(o, "prefix", json_object_new_string(c.m.prefix));
    mp_reply_body(r, MPC_OK, o);
}
