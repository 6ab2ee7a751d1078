/*
 * format.c — numbers, amounts and plural categories with ICU's C API (see
 * format.h). The only file that includes ICU headers.
 *
 * Each thread has a small cache of opened ICU objects (UNumberFormat for
 * currency and plain numbers, UPluralRules, UDateFormat, UNumberingSystem:
 * opening one costs more than formatting with it), found by kind, locale and
 * currency; when full, the oldest entry is closed and replaced. The cache is
 * released by a pthread key destructor when the thread ends. ICU objects are
 * never shared between threads (UNumberFormat is not thread-safe).
 */
#include "web/format.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/udat.h>
#include <unicode/uloc.h>
#include <unicode/unum.h>
#include <unicode/unumsys.h>
#include <unicode/upluralrules.h>
#include <unicode/ustring.h>

#include "core/money.h"
#include "web/i18n.h"

#define FORMAT_CACHE_MAX 16  /* ICU objects kept per thread */
#define ICU_LOCALE_MAX   64  /* bytes of an ICU locale id ("zh_Hant_TW") */
#define UBUF_MAX         128 /* UTF-16 units of one formatted number */

enum fmt_kind { FK_NONE = 0, FK_CURRENCY, FK_DECIMAL, FK_PLURAL, FK_DATETIME, FK_NUMBERING };

struct fmt_entry {
    enum fmt_kind kind;
    char locale[WEB_LOCALE_MAX];
    char code[4]; /* FK_CURRENCY: ISO 4217 code */
    int digits;   /* FK_CURRENCY: fraction digits */
    void *obj;    /* UNumberFormat *, UPluralRules *, UDateFormat * or UNumberingSystem * */
};

struct fmt_cache {
    struct fmt_entry e[FORMAT_CACHE_MAX];
    unsigned next; /* the slot replaced next when all are taken */
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static bool cache_key_ok;

static void entry_close(struct fmt_entry *e)
{
    if (e->obj != NULL) {
        if (e->kind == FK_PLURAL)
            uplrules_close(e->obj);
        else if (e->kind == FK_DATETIME)
            udat_close(e->obj);
        else if (e->kind == FK_NUMBERING)
            unumsys_close(e->obj);
        else
            unum_close(e->obj);
    }
    memset(e, 0, sizeof *e);
}

static void cache_free(void *p)
{
    struct fmt_cache *c = p;
    for (size_t i = 0; i < FORMAT_CACHE_MAX; i++)
        entry_close(&c->e[i]);
    free(c);
}

static void cache_init(void)
{
    cache_key_ok = pthread_key_create(&cache_key, cache_free) == 0;
}

/* This thread's cache, or NULL (no memory, no key): then nothing is cached. */
static struct fmt_cache *cache_get(void)
{
    pthread_once(&cache_once, cache_init);
    if (!cache_key_ok)
        return NULL;
    struct fmt_cache *c = pthread_getspecific(cache_key);
    if (c == NULL) {
        c = calloc(1, sizeof *c);
        if (c == NULL || pthread_setspecific(cache_key, c) != 0) {
            free(c);
            return NULL;
        }
    }
    return c;
}

/* The ICU locale id of a tag ("fr-CA" → "fr_CA"); "" (root) when unusable. */
static void icu_locale(const char *tag, char out[ICU_LOCALE_MAX])
{
    UErrorCode st = U_ZERO_ERROR;
    int32_t parsed = 0;
    out[0] = '\0';
    if (tag == NULL || strlen(tag) >= WEB_LOCALE_MAX)
        return;
    int32_t n = uloc_forLanguageTag(tag, out, ICU_LOCALE_MAX, &parsed, &st);
    if (U_FAILURE(st) || n <= 0 || n >= ICU_LOCALE_MAX)
        out[0] = '\0';
}

static void *open_obj(enum fmt_kind kind, const char *tag, const char *code, int digits)
{
    char loc[ICU_LOCALE_MAX];
    UErrorCode st = U_ZERO_ERROR;
    icu_locale(tag, loc);
    if (kind == FK_DATETIME) {
        static const UChar utc[] = {'U', 'T', 'C', 0};
        UDateFormat *d = udat_open(UDAT_SHORT, UDAT_MEDIUM, loc, utc, -1, NULL, 0, &st);
        if (U_FAILURE(st)) {
            udat_close(d);
            return NULL;
        }
        return d;
    }
    if (kind == FK_NUMBERING) {
        UNumberingSystem *ns = unumsys_open(loc, &st);
        if (U_FAILURE(st)) {
            unumsys_close(ns);
            return NULL;
        }
        return ns;
    }
    if (kind == FK_PLURAL) {
        UPluralRules *r = uplrules_open(loc, &st);
        if (U_FAILURE(st)) {
            uplrules_close(r);
            return NULL;
        }
        return r;
    }
    UNumberFormat *f =
        unum_open(kind == FK_CURRENCY ? UNUM_CURRENCY : UNUM_DECIMAL, NULL, 0, loc, NULL, &st);
    if (U_FAILURE(st) || f == NULL) {
        unum_close(f);
        return NULL;
    }
    if (kind == FK_CURRENCY) {
        UChar ucode[4];
        u_charsToUChars(code, ucode, 3);
        ucode[3] = 0;
        unum_setTextAttribute(f, UNUM_CURRENCY_CODE, ucode, 3, &st);
        if (U_FAILURE(st)) {
            unum_close(f);
            return NULL;
        }
        /* our table's minor units, not ICU's (they differ for a few
         * currencies): the amount charged is shown digit for digit */
        if (digits >= 0) {
            unum_setAttribute(f, UNUM_MIN_FRACTION_DIGITS, digits);
            unum_setAttribute(f, UNUM_MAX_FRACTION_DIGITS, digits);
        }
    }
    return f;
}

/* An ICU object for (kind, locale, code, digits): from the cache, or opened
 * and cached. *owned is set when the caller must close it (no cache). */
static void *get_obj(enum fmt_kind kind, const char *tag, const char *code, int digits, bool *owned)
{
    struct fmt_cache *c = cache_get();
    const char *t = tag != NULL ? tag : "";
    const char *k = code != NULL ? code : "";
    *owned = false;
    if (strlen(t) >= WEB_LOCALE_MAX || strlen(k) >= 4)
        return NULL;
    if (c != NULL) {
        for (size_t i = 0; i < FORMAT_CACHE_MAX; i++) {
            struct fmt_entry *e = &c->e[i];
            if (e->kind == kind && e->digits == digits && strcmp(e->locale, t) == 0 &&
                strcmp(e->code, k) == 0)
                return e->obj;
        }
    }
    void *obj = open_obj(kind, t, k, digits);
    if (obj == NULL)
        return NULL;
    if (c == NULL) {
        *owned = true;
        return obj;
    }
    struct fmt_entry *slot = NULL;
    for (size_t i = 0; i < FORMAT_CACHE_MAX && slot == NULL; i++)
        if (c->e[i].kind == FK_NONE)
            slot = &c->e[i];
    if (slot == NULL) {
        slot = &c->e[c->next % FORMAT_CACHE_MAX];
        c->next++;
        entry_close(slot);
    }
    slot->kind = kind;
    memcpy(slot->locale, t, strlen(t) + 1);
    memcpy(slot->code, k, strlen(k) + 1);
    slot->digits = digits;
    slot->obj = obj;
    return obj;
}

static void put_obj(enum fmt_kind kind, void *obj, bool owned)
{
    struct fmt_entry e = {.kind = kind, .obj = obj};
    if (owned)
        entry_close(&e);
}

/* UTF-16 → UTF-8 in the arena; NULL on failure. */
static char *to_utf8(struct arena *a, const UChar *u, int32_t n)
{
    UErrorCode st = U_ZERO_ERROR;
    int32_t need = 0;
    u_strToUTF8(NULL, 0, &need, u, n, &st);
    if (st != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(st))
        return NULL;
    char *out = arena_alloc(a, (size_t)need + 1);
    st = U_ZERO_ERROR;
    u_strToUTF8(out, need + 1, NULL, u, n, &st);
    if (U_FAILURE(st))
        return NULL;
    out[need] = '\0';
    return out;
}

static bool is_decimal(const char *s)
{
    size_t i = 0, digits = 0;
    while (s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (digits == 0)
        return false;
    if (s[i] == '.') {
        size_t frac = 0;
        i++;
        while (s[i] >= '0' && s[i] <= '9')
            i++, frac++;
        if (frac == 0)
            return false;
    }
    return s[i] == '\0' && i <= 40;
}

char *web_format_decimal(struct arena *a, const char *locale, const char *currency_code,
                         const char *decimal, int fraction_digits)
{
    if (a == NULL || currency_code == NULL || decimal == NULL || !is_decimal(decimal) ||
        strlen(currency_code) != 3)
        return NULL;
    bool owned;
    UNumberFormat *f = get_obj(FK_CURRENCY, locale, currency_code, fraction_digits, &owned);
    char *out = NULL;
    if (f != NULL) {
        UChar buf[UBUF_MAX];
        UErrorCode st = U_ZERO_ERROR;
        int32_t n =
            unum_formatDecimal(f, decimal, (int32_t)strlen(decimal), buf, UBUF_MAX, NULL, &st);
        if (U_SUCCESS(st) && n > 0 && n < UBUF_MAX)
            out = to_utf8(a, buf, n);
        put_obj(FK_CURRENCY, f, owned);
    }
    return out != NULL ? out : arena_printf(a, "%s %s", currency_code, decimal);
}

char *web_format_amount(struct arena *a, const char *locale, const struct currency *c,
                        int64_t minor)
{
    char num[32];
    if (c == NULL)
        return arena_strdup(a, "?");
    if (money_format(minor, c->exponent, num, sizeof num) < 0)
        return arena_printf(a, "%s ?", c->code); /* exponent outside 0..4: not in the table */
    if (minor < 0) /* amounts shown are never negative; keep the plain form */
        return arena_printf(a, "%s %s", c->code, num);
    return web_format_decimal(a, locale, c->code, num, c->exponent);
}

char *web_format_int(struct arena *a, const char *locale, int64_t n)
{
    bool owned;
    UNumberFormat *f = get_obj(FK_DECIMAL, locale, "", 0, &owned);
    char *out = NULL;
    if (f != NULL) {
        UChar buf[UBUF_MAX];
        UErrorCode st = U_ZERO_ERROR;
        int32_t len = unum_formatInt64(f, n, buf, UBUF_MAX, NULL, &st);
        if (U_SUCCESS(st) && len > 0 && len < UBUF_MAX)
            out = to_utf8(a, buf, len);
        put_obj(FK_DECIMAL, f, owned);
    }
    return out != NULL ? out : arena_printf(a, "%lld", (long long)n);
}

const char *web_plural_category(const char *locale, int64_t n)
{
    static const char *const names[] = {"zero", "one", "two", "few", "many", "other"};
    bool owned;
    UPluralRules *r = get_obj(FK_PLURAL, locale, "", 0, &owned);
    const char *cat = "other";
    if (r != NULL) {
        UChar kw[16];
        UErrorCode st = U_ZERO_ERROR;
        int32_t len = uplrules_select(r, (double)n, kw, 16, &st);
        if (U_SUCCESS(st) && len > 0 && len < 16) {
            char ascii[16];
            u_UCharsToChars(kw, ascii, len);
            ascii[len] = '\0';
            for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
                if (strcmp(ascii, names[i]) == 0)
                    cat = names[i];
        }
        put_obj(FK_PLURAL, r, owned);
    }
    return cat;
}

static char *format_datetime(struct arena *a, const char *locale, usec_t t)
{
    bool owned;
    UDateFormat *f = get_obj(FK_DATETIME, locale, "", 0, &owned);
    char *out = NULL;
    if (f != NULL) {
        UChar buf[UBUF_MAX];
        UErrorCode st = U_ZERO_ERROR;
        int32_t len = udat_format(f, (UDate)(t / 1000), buf, UBUF_MAX, NULL, &st);
        if (U_SUCCESS(st) && len > 0 && len < UBUF_MAX)
            out = to_utf8(a, buf, len);
        put_obj(FK_DATETIME, f, owned);
    }
    if (out == NULL) {
        char iso[40];
        if (time_format_rfc3339(t, iso, sizeof iso) <= 0)
            return NULL;
        out = arena_printf(a, "%.10s %.5s", iso, iso + 11);
    }
    return out;
}

/* The last date formatted by this thread: a link's page shows the same
 * instant (its expiry) on every view, and ICU's formatting of it cost more
 * than the rest of the line. */
struct datetime_memo {
    char locale[WEB_LOCALE_MAX];
    usec_t t;
    char text[4 * UBUF_MAX];
};
static _Thread_local struct datetime_memo last_datetime;

char *web_format_datetime(struct arena *a, const char *locale, usec_t t)
{
    struct datetime_memo *m = &last_datetime;
    const char *tag = locale != NULL ? locale : "";
    bool memo = strlen(tag) < WEB_LOCALE_MAX;
    if (memo && m->text[0] != '\0' && m->t == t && strcmp(m->locale, tag) == 0)
        return arena_strdup(a, m->text);
    char *out = format_datetime(a, locale, t);
    if (memo && out != NULL && strlen(out) < sizeof m->text) {
        memcpy(m->locale, tag, strlen(tag) + 1);
        m->t = t;
        memcpy(m->text, out, strlen(out) + 1);
    }
    return out;
}

const char *web_format_numbering(struct arena *a, const char *locale)
{
    bool owned;
    UNumberingSystem *ns = get_obj(FK_NUMBERING, locale, "", 0, &owned);
    const char *name = ns != NULL ? unumsys_getName(ns) : NULL;
    char *out = name != NULL && strlen(name) < 16 ? arena_strdup(a, name) : NULL;
    if (ns != NULL)
        put_obj(FK_NUMBERING, ns, owned);
    return out != NULL ? out : "latn";
}

bool web_format_icu_ok(void)
{
    bool owned;
    void *f = get_obj(FK_CURRENCY, "en", "USD", 2, &owned);
    if (f == NULL)
        return false;
    put_obj(FK_CURRENCY, f, owned);
    return true;
}
