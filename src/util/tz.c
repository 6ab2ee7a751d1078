/*
 * tz.c — local time in a named time zone (see tz.h).
 */
#include "util/tz.h"

#include <string.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

/* name as UTF-16 into out[cap]; false when too long. */
static bool to_uchars(const char *name, UChar *out, size_t cap)
{
    size_t n = strlen(name);
    if (n == 0 || n >= cap)
        return false;
    u_uastrncpy(out, name, (int32_t)cap);
    return true;
}

bool tz_valid(const char *name)
{
    UChar id[128], canonical[128];
    if (!name || !to_uchars(name, id, sizeof id / sizeof id[0]))
        return false;
    UErrorCode status = U_ZERO_ERROR;
    UBool system = 0;
    ucal_getCanonicalTimeZoneID(
        id, -1, canonical, (int32_t)(sizeof canonical / sizeof canonical[0]), &system, &status);
    return U_SUCCESS(status) && system;
}

int tz_minute_of_day(const char *name, usec_t at)
{
    if (!tz_valid(name))
        return -1;
    UChar id[128];
    to_uchars(name, id, sizeof id / sizeof id[0]);
    UErrorCode status = U_ZERO_ERROR;
    UCalendar *cal = ucal_open(id, -1, "en_US", UCAL_GREGORIAN, &status);
    if (U_FAILURE(status))
        return -1;
    ucal_setMillis(cal, (UDate)(at / 1000), &status);
    int hour = ucal_get(cal, UCAL_HOUR_OF_DAY, &status);
    int minute = ucal_get(cal, UCAL_MINUTE, &status);
    ucal_close(cal);
    return U_SUCCESS(status) ? hour * 60 + minute : -1;
}
