/*
 * tz.h — local time in a named time zone (IANA, e.g. "Africa/Johannesburg"),
 * from ICU's time zone data.
 */
#ifndef CHATPAY_UTIL_TZ_H
#define CHATPAY_UTIL_TZ_H

#include <stdbool.h>

#include "util/time.h"

/* Is `name` a time zone ICU knows (an IANA name or an alias)? */
bool tz_valid(const char *name);

/* The minute of the day (0 to 1439) at instant `at` in zone `name`; -1 when
 * the zone is unknown. */
int tz_minute_of_day(const char *name, usec_t at);

#endif
