/*
 * query.c — the query parameters the marketplace lookups share.
 */
#include "api/transact/transact.h"

#include <string.h>

#include "core/fieldspec.h"
#include "util/utf8.h"

bool mp_query_int(struct req *r, const char *name, int64_t min, int64_t max, bool required,
                  int64_t *out, struct field_errors *errs)
{
    const char *v = req_query(r, name);
    if (!v) {
        if (required)
            field_errors_add(errs, r->arena, name, "is required");
        return false;
    }
    size_t digits = strspn(v, "0123456789");
    int64_t n = 0;
    bool ok = digits > 0 && digits <= 18 && v[digits] == '\0';
    for (size_t i = 0; ok && i < digits; i++)
        n = n * 10 + (v[i] - '0');
    if (!ok || n < min || n > max) {
        field_errors_add(errs, r->arena, name, "must be a whole number from %lld to %lld",
                         (long long)min, (long long)max);
        return false;
    }
    *out = n;
    return true;
}

const char *mp_query_text(struct req *r, const char *name, size_t max, struct field_errors *errs)
{
    const char *v = req_query(r, name);
    if (!v)
        return NULL;
    size_t len = strlen(v), chars = 0;
    bool ok = len > 0 && len <= 4 * max && utf8_valid(v);
    for (size_t i = 0; ok && i < len; chars++) {
        uint32_t cp;
        size_t k = utf8_next((const unsigned char *)v + i, len - i, &cp);
        ok = k > 0 && fieldspec_char_ok(cp); /* what Transact stores */
        i += k ? k : 1;
    }
    if (!ok || chars > max) {
        field_errors_add(errs, r->arena, name, "must be 1 to %zu characters of UTF-8 text", max);
        return NULL;
    }
    return v;
}

bool mp_query_client_or_reply(struct req *r, struct field_errors *errs)
{
    int64_t id = 0;
    if (!mp_query_int(r, "clientId", 1, 99999, true, &id, errs))
        return true; /* reported with the other problems */
    if (id != mp_auth(r)->client_id) {
        mp_refuse1(r, MPC_CLIENT_MISMATCH, "clientId: not the authenticated client's");
        return false;
    }
    return true;
}

void mp_query_refs(struct req *r, struct db_mp_refs *refs, struct field_errors *errs)
{
    refs->raas_ref = mp_query_text(r, "raasTxnRef", 64, errs);
    refs->client_txn_ref = mp_query_text(r, "clientTxnRef", 64, errs);
    refs->reserve_ref = mp_query_text(r, "reserveFundsTxnRef", 64, errs);
    if (!req_query(r, "raasTxnRef") && !req_query(r, "clientTxnRef") &&
        !req_query(r, "reserveFundsTxnRef"))
        field_errors_add(errs, r->arena, "raasTxnRef",
                         "one of raasTxnRef, clientTxnRef or reserveFundsTxnRef is required");
}
