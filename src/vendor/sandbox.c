/*
 * sandbox.c — the sandbox vendor (see vendor.h).
 */
#include "vendor/vendor.h"

#include <string.h>

#include "util/crypto.h"

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && memcmp(s + n - k, tail, k) == 0;
}

/* n random decimal digits into out[n + 1] (bytes of 250 and above are
 * drawn again, so that every digit is as likely). */
static void random_digits(char *out, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b;
        crypto_random(&b, 1);
        if (b < 250)
            out[i++] = (char)('0' + b % 10);
    }
    out[n] = '\0';
}

void vendor_sandbox_fulfil(const struct db_mp_purchase *p, enum mp_product_type type,
                           struct arena *a, struct mp_fulfilment *out)
{
    memset(out, 0, sizeof *out);
    const char *target = p->target_identifier ? p->target_identifier : "";
    if (ends_with(target, "2201")) {
        *out = (struct mp_fulfilment){MP_FAILED, "2201", "Supplier failure", NULL};
        return;
    }
    if (ends_with(target, "2213")) {
        *out = (struct mp_fulfilment){MP_FAILED, "2213", "Invalid target number", NULL};
        return;
    }
    if (ends_with(target, "2239") && p->status_checks == 0) {
        *out = (struct mp_fulfilment){MP_PROCESSING, "2239", "Vendor timeout", NULL};
        return;
    }
    *out = (struct mp_fulfilment){MP_SUCCESS, "0000", "Success", NULL};
    char digits[32];
    if (type == MP_ELECTRICITY) {
        random_digits(digits, 20);
        out->tokens =
            arena_printf(a, "[{\"type\":\"ELECTRICITY_TOKEN\",\"value\":\"%s\"}]", digits);
    } else if (type == MP_VOUCHER) {
        random_digits(digits, 16);
        out->tokens = arena_printf(a, "[{\"type\":\"VOUCHER_PIN\",\"value\":\"%s\"}]", digits);
    }
}
