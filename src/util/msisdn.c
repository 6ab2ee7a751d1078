/*
 * msisdn.c — the other way a phone number is written (see msisdn.h).
 */
#include "util/msisdn.h"

#include <string.h>

static bool all_digits(const char *s)
{
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

bool msisdn_alternate(const char *msisdn, char out[MSISDN_MAX])
{
    out[0] = '\0';
    size_t n = msisdn ? strlen(msisdn) : 0;
    if (n < 12 || n > 13 || !all_digits(msisdn))
        return false;
    if (strncmp(msisdn, "55", 2) == 0 && msisdn[2] != '0') {
        /* Brazil: 55, a two-digit area code, then a mobile's ninth digit
         * (9) and eight more, or the eight of the old form (6 to 9 first) */
        if (n == 13 && msisdn[4] == '9') {
            memcpy(out, msisdn, 4);
            memcpy(out + 4, msisdn + 5, n - 5 + 1);
            return true;
        }
        if (n == 12 && msisdn[4] >= '6' && msisdn[4] <= '9') {
            memcpy(out, msisdn, 4);
            out[4] = '9';
            memcpy(out + 5, msisdn + 4, n - 4 + 1);
            return true;
        }
        return false;
    }
    if (strncmp(msisdn, "52", 2) == 0) {
        /* Mexico: 52 and ten digits, or 521 and the same ten */
        if (n == 13 && msisdn[2] == '1') {
            memcpy(out, "52", 2);
            memcpy(out + 2, msisdn + 3, n - 3 + 1);
            return true;
        }
        if (n == 12) {
            memcpy(out, "521", 3);
            memcpy(out + 3, msisdn + 2, n - 2 + 1);
            return true;
        }
    }
    return false;
}
