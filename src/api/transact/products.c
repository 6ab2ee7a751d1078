/*
 * products.c — GET /product-lookup/1.0 (the catalogue, optionally of one
 * type) and GET /product-lookup/1.0/{productId}.
 */
#include "api/transact/transact.h"

#include <stdlib.h>
#include <string.h>

#include "app.h"

struct list_ctx {
    int type;
    json_object *list;
};

static void list_cb(void *cls, const struct db_mp_product *p)
{
    struct list_ctx *c = cls;
    json_object_array_add(c->list, svc_mp_product_json(p));
}

static enum db_status list_txn(struct db_tx *tx, void *cls)
{
    struct list_ctx *c = cls;
    json_object_put(c->list); /* a retry starts again */
    c->list = json_object_new_array();
    return DB_CALL(tx, marketplace, product_list, c->type, list_cb, c);
}

void api_mp_products(struct req *r)
{
    struct list_ctx c = {.type = -1};
    const char *type = req_query(r, "type");
    enum mp_product_type t;
    if (type) {
        if (!mp_product_type_parse(type, &t)) {
            mp_refuse1(r, MPC_INVALID,
                       "type: must be one of airtime, data, electricity, bill, voucher");
            return;
        }
        c.type = (int)t;
    }
    enum db_status st = db_run(r->app->db, DB_READ, "mp_products", list_txn, &c);
    if (st < 0) {
        json_object_put(c.list);
        mp_reply_db_error(r, st);
        return;
    }
    json_object *o = mp_body(MPC_OK);
    json_object_object_add(o, "products", c.list);
    mp_reply_body(r, MPC_OK, o);
}

struct one_ctx {
    int64_t id;
    struct db_mp_product p;
};

static enum db_status one_txn(struct db_tx *tx, void *cls)
{
    struct one_ctx *c = cls;
    return DB_CALL(tx, marketplace, product_get, c->id, &c->p);
}

void api_mp_product(struct req *r)
{
    const char *id = req_param(r, "productId");
    size_t digits = strspn(id, "0123456789");
    struct one_ctx c = {0};
    c.id = digits > 0 && digits <= 5 && !id[digits] ? strtol(id, NULL, 10) : 0;
    if (c.id < 1) { /* no product has id 0: a bad id, as the message says */
        mp_refuse1(r, MPC_INVALID, "productId: must be a whole number from 1 to 99999");
        return;
    }
    enum db_status st = db_run(r->app->db, DB_READ, "mp_product", one_txn, &c);
    if (st < 0) {
        mp_reply_db_error(r, st);
        return;
    }
    if (st == 0) {
        mp_refuse1(r, MPC_NOT_FOUND, "productId: there is no such product");
        return;
    }
    json_object *o = svc_mp_product_json(&c.p);
    json_object *b = mp_body(MPC_OK);
    json_object_object_foreach(o, k, v) json_object_object_add(b, k, json_object_get(v));
    json_object_put(o);
    mp_reply_body(r, MPC_OK, b);
}
