/*
 * vendor.h — the suppliers that issue marketplace products (airtime, data,
 * electricity tokens, bill payments, vouchers).
 *
 * A vendor is called by the fulfilment job with no transaction open; what
 * it answers is recorded afterwards (service/purchases.h). This version has
 * the sandbox vendor only, which answers in process.
 */
#ifndef CHATPAY_VENDOR_VENDOR_H
#define CHATPAY_VENDOR_VENDOR_H

#include "db/marketplace.h"
#include "service/purchases.h"
#include "util/arena.h"

/* Have the sandbox vendor issue purchase p of a product of type `type`,
 * asked for the (status_checks + 1)th time. Its behaviour follows the
 * purchase's targetIdentifier: ending in 2201 the supplier fails, in 2213
 * the number is invalid, in 2239 the first call times out (MP_PROCESSING,
 * code 2239) and the next succeeds; anything else succeeds, with a 20-digit
 * electricity token or a 16-digit voucher PIN for token products. */
void vendor_sandbox_fulfil(const struct db_mp_purchase *p, enum mp_product_type type,
                           struct arena *a, struct mp_fulfilment *out);

#endif
