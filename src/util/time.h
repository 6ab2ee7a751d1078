/*
 * time.h — RFC 3339 timestamps and clocks.
 *
 * Instants are int64 microseconds since the Unix epoch, UTC. Parsing accepts
 * RFC 3339 date-times ("2026-11-22T04:22:07Z", "...T04:22:07.123456+02:00",
 * lower-case 't'/'z' allowed, 1..9 fractional digits: beyond microseconds
 * they are truncated) and rejects everything else, including out-of-range
 * fields (month 13, Feb 30, hour 24, minute 60; a leap second :60 is accepted
 * and folded into :59). Formatting uses UTC with 'Z'. No I/O but the clocks.
 */
#ifndef CHATPAY_UTIL_TIME_H
#define CHATPAY_UTIL_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int64_t usec_t; /* microseconds since 1970-01-01T00:00:00Z */

/* Parse text[0..len). Returns true on success. Years 0001..9999 only, both in
 * the text and for the resulting UTC instant ("0001-01-01T00:30:00+01:00" and
 * "9999-12-31T23:30:00-01:00" are rejected), so every parsed value formats
 * again. The offset is "Z"/"z" or +HH:MM / -HH:MM with HH 00..23, MM 00..59. */
bool time_parse_rfc3339(const char *text, size_t len, usec_t *out);

/* Parse an ISO 8601 date-time in the extended format, as clients write one:
 * what time_parse_rfc3339 takes, and also seconds left out
 * ("2026-01-31T12:00"), a comma before the fraction, an offset written
 * +HH or +HHMM, and no offset at all (taken as UTC). */
bool time_parse_iso8601(const char *text, size_t len, usec_t *out);

/* Format as "YYYY-MM-DDTHH:MM:SS.mmmZ" (milliseconds, always 3 digits,
 * truncated toward the past). cap >= 25. Returns length written (excluding
 * NUL), or -1 if cap is too small or the year is outside 0000..9999 (out is
 * then "" when cap > 0). */
int time_format_rfc3339(usec_t t, char *out, size_t cap);

/* Same with microseconds: "YYYY-MM-DDTHH:MM:SS.uuuuuuZ". cap >= 28. */
int time_format_rfc3339_us(usec_t t, char *out, size_t cap);

/* Civil-date helpers (proleptic Gregorian), thread-safe, no libc tz.
 * Days are counted from 1970-01-01 (day 0), negative before it. Inputs are
 * not validated: m must be 1..12 and d 1..31 (d past the month's end rolls
 * into the next month). No overflow for |y| < 10^15 and |days| < 10^17. */
int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d);
void time_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

/* Wall clock (CLOCK_REALTIME) and monotonic clock (CLOCK_MONOTONIC), in usec. */
usec_t time_now(void);
usec_t time_mono(void);

/* Sleep `us` microseconds (0 or less: not at all), a signal's interruption
 * included. */
void time_sleep(usec_t us);

/* Parse a duration like "90s", "5m", "2h", "1d", "250ms" into usec: one or more
 * ASCII digits, then exactly one lower-case unit ms|s|m|h|d and nothing else.
 * Plain digits without a unit, a zero value, signs, spaces, and values whose
 * usec count overflows int64 are rejected. Returns true on success (value > 0);
 * *out is untouched on failure. */
bool time_parse_duration(const char *text, usec_t *out);

/* Parse a comma-separated list of 1 to `max` durations ("5s,5m,30m"), each
 * as time_parse_duration takes it and from min to max_each, into out.
 * Returns how many, or -1 when malformed (out is then unspecified). */
int time_parse_durations(const char *text, usec_t *out, int max, usec_t min, usec_t max_each);

#endif
