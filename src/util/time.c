/*
 * time.c — RFC 3339 timestamps, civil dates and clocks (see time.h).
 *
 * Calendar arithmetic is done here rather than with the C library's
 * broken-down time conversions, so that it is thread-safe and independent of
 * the TZ environment and of time_t's width.
 *
 * Civil dates are counted in "shifted" years that begin on 1 March: the leap
 * day is then the last day of its year, and the month lengths from March on
 * follow a fixed pattern (31 30 31 30 31 31 30 31 30 31 31 28/29) whose
 * cumulative sums are given by (153 * mp + 2) / 5 for mp = 0 (March) .. 11
 * (February). The Gregorian cycle repeats every 400 years = 146097 days.
 */
#include "util/time.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define USEC_PER_SEC  1000000LL
#define USEC_PER_MIN  (60LL * USEC_PER_SEC)
#define USEC_PER_HOUR (60LL * USEC_PER_MIN)
#define USEC_PER_DAY  (24LL * USEC_PER_HOUR)

#define DAYS_PER_ERA 146097 /* days in 400 Gregorian years */
/* Days from 0000-03-01 (day 0 of the shifted calendar) to 1970-01-01. */
#define EPOCH_SHIFT 719468

/* Instants accepted by the parser: 0001-01-01T00:00:00Z inclusive to
 * 10000-01-01T00:00:00Z exclusive, as days relative to 1970-01-01. */
#define MIN_PARSE_DAY (-719162LL)
#define END_PARSE_DAY 2932897LL

/* Floor division (rounds toward minus infinity), for b > 0. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b) < 0)
        q--;
    return q;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && is_leap(y))
        return 29;
    return len[m - 1];
}

int64_t time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* January and February belong to the previous shifted year. */
    int64_t sy = m <= 2 ? y - 1 : y;
    int64_t era = floor_div(sy, 400);
    int64_t yoe = sy - era * 400;                          /* year of era, 0..399 */
    int64_t mp = m <= 2 ? (int64_t)m + 9 : (int64_t)m - 3; /* 0 = March */
    int64_t doy = (153 * mp + 2) / 5 + (int64_t)d - 1;     /* day of shifted year */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;   /* day of era, 0..146096 */

    return era * DAYS_PER_ERA + doe - EPOCH_SHIFT;
}

void time_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    int64_t z = days + EPOCH_SHIFT;
    int64_t era = floor_div(z, DAYS_PER_ERA);
    int64_t doe = z - era * DAYS_PER_ERA; /* 0..146096 */
    /* Year of era: remove the leap days (one per 4 years, none per 100, one
     * per 400; the last day of the era is the 400-year leap day). */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / (DAYS_PER_ERA - 1)) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100); /* 0..365 */
    int64_t mp = (5 * doy + 2) / 153;                      /* 0..11, 0 = March */
    unsigned month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);

    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = month;
    *y = yoe + era * 400 + (month <= 2 ? 1 : 0);
}

/* Read exactly n ASCII digits at s as a non-negative number. */
static bool read_digits(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool time_parse_rfc3339(const char *text, size_t len, usec_t *out)
{
    int64_t year, mon, day, hour, min, sec, frac_us = 0, off_sec = 0;
    int64_t days, t;
    size_t i;

    if (text == NULL || out == NULL)
        return false;
    /* "YYYY-MM-DDTHH:MM:SS" is 19 characters; at least a 'Z' follows. */
    if (len < 20)
        return false;
    if (!read_digits(text, 4, &year) || text[4] != '-' || !read_digits(text + 5, 2, &mon) ||
        text[7] != '-' || !read_digits(text + 8, 2, &day) || (text[10] != 'T' && text[10] != 't') ||
        !read_digits(text + 11, 2, &hour) || text[13] != ':' || !read_digits(text + 14, 2, &min) ||
        text[16] != ':' || !read_digits(text + 17, 2, &sec))
        return false;

    if (year < 1 || mon < 1 || mon > 12 || day < 1 ||
        day > (int64_t)days_in_month(year, (unsigned)mon) || hour > 23 || min > 59 || sec > 60)
        return false;
    if (sec == 60)
        sec = 59; /* leap second: folded, as usec_t has no room for it */

    i = 19;
    if (text[i] == '.') {
        /* 1..9 digits; the first six are microseconds, the rest dropped. */
        size_t start = ++i;
        while (i < len && text[i] >= '0' && text[i] <= '9')
            i++;
        if (i == start || i - start > 9)
            return false;
        for (size_t k = 0; k < 6; k++) {
            size_t pos = start + k;
            frac_us = frac_us * 10 + (pos < i ? text[pos] - '0' : 0);
        }
    }

    if (i >= len)
        return false;
    if (text[i] == 'Z' || text[i] == 'z') {
        i++;
    } else if (text[i] == '+' || text[i] == '-') {
        int64_t oh, om;
        if (len - i < 6 || !read_digits(text + i + 1, 2, &oh) || text[i + 3] != ':' ||
            !read_digits(text + i + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        off_sec = (oh * 3600 + om * 60) * (text[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return false;
    }
    if (i != len)
        return false;

    /* Local time minus its offset from UTC gives UTC. */
    days = time_days_from_civil(year, (unsigned)mon, (unsigned)day);
    t = days * 86400 + hour * 3600 + min * 60 + sec - off_sec;
    /* The instant itself must fall within years 0001..9999 UTC, so that
     * every parsed value can be formatted again. */
    if (t < MIN_PARSE_DAY * 86400 || t >= END_PARSE_DAY * 86400)
        return false;
    *out = t * USEC_PER_SEC + frac_us;
    return true;
}

bool time_parse_iso8601(const char *text, size_t len, usec_t *out)
{
    /* rewritten as RFC 3339 ("YYYY-MM-DDTHH:MM" then ":SS", a fraction of
     * at most 9 digits and an offset "+HH:MM": 41 characters), which
     * time_parse_rfc3339 checks */
    char buf[48];
    size_t n = 0, i = 16;
    if (text == NULL || len < 16 || (text[10] != 'T' && text[10] != 't'))
        return false;
    memcpy(buf, text, 16);
    n = 16;
    if (i < len && text[i] == ':') { /* seconds */
        if (len - i < 3)
            return false;
        memcpy(buf + n, text + i, 3);
        n += 3;
        i += 3;
        if (i < len && (text[i] == '.' || text[i] == ',')) {
            buf[n++] = '.';
            i++;
            size_t start = i;
            while (i < len && text[i] >= '0' && text[i] <= '9' && i - start < 10)
                i++;
            if (i - start > 9)
                return false;
            memcpy(buf + n, text + start, i - start);
            n += i - start;
        }
    } else {
        memcpy(buf + n, ":00", 3);
        n += 3;
    }
    size_t rest = len - i;
    if (rest == 0) {
        buf[n++] = 'Z'; /* no offset: UTC */
    } else if (text[i] == '+' || text[i] == '-') {
        /* +HH, +HHMM or +HH:MM */
        if (rest != 3 && rest != 5 && rest != 6)
            return false;
        if (rest == 6 && text[i + 3] != ':')
            return false;
        memcpy(buf + n, text + i, 3);
        n += 3;
        buf[n++] = ':';
        if (rest == 3) {
            memcpy(buf + n, "00", 2);
        } else {
            memcpy(buf + n, text + len - 2, 2);
        }
        n += 2;
    } else if (rest == 1 && (text[i] == 'Z' || text[i] == 'z')) {
        buf[n++] = 'Z';
    } else {
        return false;
    }
    return time_parse_rfc3339(buf, n, out);
}

/* Write v as exactly n decimal digits (v >= 0, v < 10^n). */
static void put_digits(char *p, int64_t v, size_t n)
{
    while (n > 0) {
        p[--n] = (char)('0' + (int)(v % 10));
        v /= 10;
    }
}

/* Shared formatter: frac_digits is 3 (milliseconds) or 6 (microseconds). */
static int format_utc(usec_t t, size_t frac_digits, char *out, size_t cap)
{
    size_t n = 20 + frac_digits + 1; /* "YYYY-MM-DDTHH:MM:SS" "." frac "Z" */
    /* Floor division without multiplying back (days * USEC_PER_DAY would
     * overflow for t near INT64_MIN). */
    int64_t days = floor_div(t, USEC_PER_DAY);
    int64_t rem = t % USEC_PER_DAY; /* made 0 .. USEC_PER_DAY-1 below */
    int64_t y, frac;
    unsigned m, d;

    if (out == NULL)
        return -1;
    if (cap > 0)
        out[0] = '\0';
    if (cap < n + 1)
        return -1;
    if (rem < 0)
        rem += USEC_PER_DAY;
    time_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        return -1; /* does not fit the four-digit year field */

    frac = rem % USEC_PER_SEC;
    if (frac_digits == 3)
        frac /= 1000; /* truncate to milliseconds */

    put_digits(out, y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
    out[10] = 'T';
    put_digits(out + 11, rem / USEC_PER_HOUR, 2);
    out[13] = ':';
    put_digits(out + 14, rem / USEC_PER_MIN % 60, 2);
    out[16] = ':';
    put_digits(out + 17, rem / USEC_PER_SEC % 60, 2);
    out[19] = '.';
    put_digits(out + 20, frac, frac_digits);
    out[n - 1] = 'Z';
    out[n] = '\0';
    return (int)n;
}

int time_format_rfc3339(usec_t t, char *out, size_t cap)
{
    return format_utc(t, 3, out, cap);
}

int time_format_rfc3339_us(usec_t t, char *out, size_t cap)
{
    return format_utc(t, 6, out, cap);
}

static usec_t clock_usec(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0; /* only with an invalid clock id, which cannot happen here */
    return (usec_t)ts.tv_sec * USEC_PER_SEC + ts.tv_nsec / 1000;
}

usec_t time_now(void)
{
    return clock_usec(CLOCK_REALTIME);
}

usec_t time_mono(void)
{
    return clock_usec(CLOCK_MONOTONIC);
}

void time_sleep(usec_t us)
{
    if (us <= 0)
        return;
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (long)(us % 1000000) * 1000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

bool time_parse_duration(const char *text, usec_t *out)
{
    static const struct {
        const char *name;
        int64_t usec;
    } units[] = {
        {"ms", 1000LL},       {"s", USEC_PER_SEC}, {"m", USEC_PER_MIN},
        {"h", USEC_PER_HOUR}, {"d", USEC_PER_DAY},
    };
    int64_t n = 0;
    size_t i = 0;

    if (text == NULL || out == NULL)
        return false;
    while (text[i] >= '0' && text[i] <= '9') {
        int64_t dgt = text[i] - '0';
        if (n > (INT64_MAX - dgt) / 10)
            return false; /* the count alone overflows */
        n = n * 10 + dgt;
        i++;
    }
    if (i == 0 || n == 0)
        return false; /* no digits, or a zero duration */

    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        if (strcmp(text + i, units[u].name) == 0) {
            if (n > INT64_MAX / units[u].usec)
                return false;
            *out = n * units[u].usec;
            return true;
        }
    }
    return false; /* missing or unknown unit, or trailing characters */
}

int time_parse_durations(const char *text, usec_t *out, int max, usec_t min, usec_t max_each)
{
    int n = 0;
    const char *p = text;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[32];
        if (n == max || len == 0 || len >= sizeof item)
            return -1;
        memcpy(item, p, len);
        item[len] = '\0';
        usec_t us;
        if (!time_parse_duration(item, &us) || us < min || us > max_each)
            return -1;
        out[n++] = us;
        p += len;
        if (*p == ',' && !*++p)
            return -1; /* a trailing comma */
    }
    return n ? n : -1;
}
