/*
 * i18n.c — message catalogs and language negotiation (see i18n.h).
 *
 * A loaded catalog owns a copy of its file; its entries point into that
 * copy and are sorted by key (then by line, so that the first of duplicate
 * lines wins) for binary search. An entry that fails a check keeps its
 * place with text NULL: it reads as missing, and the English text is shown.
 *
 * The only outside dependency is the plural rules of web/format.h (ICU).
 */
#include "web/i18n.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/utf8.h"
#include "web/assets.h"
#include "web/format.h"

#define KEY_MAX        64   /* bytes of a key */
#define HEADER_MAX     4096 /* bytes of Accept-Language considered */
#define RANGES_MAX     32   /* language ranges of Accept-Language considered */
#define RANGE_MAX      35   /* characters of one language range */
#define PROBLEM_MAX    200  /* bytes of one problem line */
#define REFERENCE_LANG "en"

struct entry {
    const char *key;
    const char *text; /* NULL: dropped by a check */
    unsigned line;
    int sig; /* web_text_placeholders(text) */
};

struct web_catalog {
    char tag[WEB_LOCALE_MAX];
    bool rtl;
    char *buf; /* the file's text; keys and texts point into it */
    struct entry *entries;
    size_t n;
};

struct web_i18n {
    struct web_catalog *cats;
    size_t n;
    const struct web_catalog *ref; /* English */
    char *problems[WEB_I18N_PROBLEMS_KEPT];
    size_t nproblems;
};

static const char *const plural_names[] = {"zero", "one", "two", "few", "many", "other"};

/* ---- problems --------------------------------------------------------------- */

static void problem(struct web_i18n *set, const char *tag, unsigned line, const char *what,
                    const char *detail)
{
    size_t i = set->nproblems++;
    if (i >= WEB_I18N_PROBLEMS_KEPT)
        return;
    char buf[PROBLEM_MAX];
    if (line > 0)
        snprintf(buf, sizeof buf, "%s.txt:%u: %s%s%.80s", tag, line, what, detail ? ": " : "",
                 detail ? detail : "");
    else
        snprintf(buf, sizeof buf, "%s.txt: %s%s%.80s", tag, what, detail ? ": " : "",
                 detail ? detail : "");
    set->problems[i] = strdup(buf);
}

size_t web_i18n_problem_count(const struct web_i18n *set)
{
    return set != NULL ? set->nproblems : 0;
}

const char *web_i18n_problem(const struct web_i18n *set, size_t i)
{
    if (set == NULL || i >= set->nproblems || i >= WEB_I18N_PROBLEMS_KEPT)
        return NULL;
    return set->problems[i] != NULL ? set->problems[i] : "(out of memory)";
}

/* ---- templates -------------------------------------------------------------- */

int web_text_placeholders(const char *t)
{
    int seq = 0, pos = 0;
    if (t == NULL)
        return -1;
    for (const char *p = t; *p != '\0'; p++) {
        if (*p != '%')
            continue;
        p++;
        if (*p == '%')
            continue;
        if (*p == 's') {
            if (++seq > WEB_TEXT_ARGS_MAX)
                return -1;
            continue;
        }
        if (*p >= '1' && *p <= '9' && p[1] == '$' && p[2] == 's') {
            pos |= 1 << (*p - '1');
            p += 2;
            continue;
        }
        return -1; /* a lone %, "%d", "%0$s", a % at the end */
    }
    if (seq > 0 && pos != 0)
        return -1;
    return seq > 0 ? (1 << seq) - 1 : pos;
}

/* A growable string in the arena. */
struct sbuf {
    struct arena *a;
    char *p;
    size_t len, cap;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = arena_alloc(b->a, cap);
        if (b->len > 0)
            memcpy(p, b->p, b->len);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_literal(struct sbuf *b, const char *s, size_t n,
                       char *(*esc)(struct arena *, const char *))
{
    if (n == 0)
        return;
    if (esc == NULL) {
        sb_put(b, s, n);
        return;
    }
    const char *e = esc(b->a, arena_strndup(b->a, s, n));
    sb_put(b, e, strlen(e));
}

char *web_text_fill(struct arena *a, const char *tmpl, const char *const *args, size_t nargs,
                    char *(*esc)(struct arena *, const char *))
{
    struct sbuf b = {.a = a};
    size_t seq = 0;
    const char *run = tmpl != NULL ? tmpl : "";
    const char *p = run;

    sb_put(&b, "", 0);
    while (*p != '\0') {
        if (*p != '%') {
            p++;
            continue;
        }
        size_t idx = SIZE_MAX, skip;
        if (p[1] == '%') {
            sb_literal(&b, run, (size_t)(p - run) + 1, esc); /* up to and with one '%' */
            run = p += 2;
            continue;
        }
        if (p[1] == 's') {
            idx = seq++;
            skip = 2;
        } else if (p[1] >= '1' && p[1] <= '9' && p[2] == '$' && p[3] == 's') {
            idx = (size_t)(p[1] - '1');
            skip = 4;
        } else {
            p++; /* not a placeholder: kept as text */
            continue;
        }
        sb_literal(&b, run, (size_t)(p - run), esc);
        if (idx < nargs && args[idx] != NULL)
            sb_put(&b, args[idx], strlen(args[idx]));
        run = p += skip;
    }
    sb_literal(&b, run, (size_t)(p - run), esc);
    return b.p;
}

/* ---- loading ------------------------------------------------------------------ */

static int entry_cmp(const void *x, const void *y)
{
    const struct entry *a = x, *b = y;
    int c = strcmp(a->key, b->key);
    if (c != 0)
        return c;
    return a->line < b->line ? -1 : a->line > b->line;
}

static bool key_ok(const char *k, size_t n)
{
    if (n == 0 || n > KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Well-formed UTF-8 with no control character. */
static bool text_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = utf8_next((const unsigned char *)s + i, n - i, &cp);
        if (k == 0 || cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
            return false;
        i += k;
    }
    return true;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool tag_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n >= WEB_LOCALE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = t[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-'))
            return false;
    }
    return true;
}

/* Split the catalog's copy into entries. False when out of memory. */
static bool parse_catalog(struct web_i18n *set, struct web_catalog *c, const char *text)
{
    size_t len = strlen(text), cap = 0;
    c->buf = malloc(len + 1);
    if (c->buf == NULL)
        return false;
    memcpy(c->buf, text, len + 1);
    char *p = c->buf;
    /* a UTF-8 byte order mark is allowed at the start */
    if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
        p += 3;
    for (unsigned line = 1; *p != '\0'; line++) {
        char *eol = strchr(p, '\n');
        char *next = eol != NULL ? eol + 1 : p + strlen(p);
        char *end = eol != NULL ? eol : next;
        if (end > p && end[-1] == '\r')
            end--;
        while (p < end && is_space(*p))
            p++;
        while (end > p && is_space(end[-1]))
            end--;
        if (p == end || *p == '#') {
            p = next;
            continue;
        }
        char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq == NULL) {
            problem(set, c->tag, line, "not a `key = text` line", NULL);
            p = next;
            continue;
        }
        char *kend = eq, *t = eq + 1;
        while (kend > p && is_space(kend[-1]))
            kend--;
        while (t < end && is_space(*t))
            t++;
        if (!key_ok(p, (size_t)(kend - p))) {
            problem(set, c->tag, line, "bad key", NULL);
            p = next;
            continue;
        }
        if (!text_ok(t, (size_t)(end - t))) {
            problem(set, c->tag, line, "text is not UTF-8 or holds control characters", NULL);
            p = next;
            continue;
        }
        *kend = '\0';
        *end = '\0';
        int sig = web_text_placeholders(t);
        if (sig < 0) {
            problem(set, c->tag, line, "bad placeholder (use %s, %1$s..%9$s or %%)", p);
            p = next;
            continue;
        }
        if (*t != '\0') { /* an empty text is no translation */
            if (c->n == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                struct entry *e = realloc(c->entries, ncap * sizeof *e);
                if (e == NULL)
                    return false;
                c->entries = e;
                cap = ncap;
            }
            c->entries[c->n++] = (struct entry){.key = p, .text = t, .line = line, .sig = sig};
        }
        p = next;
    }
    if (c->n > 0)
        qsort(c->entries, c->n, sizeof *c->entries, entry_cmp);
    for (size_t i = 1; i < c->n; i++)
        if (strcmp(c->entries[i].key, c->entries[i - 1].key) == 0) {
            problem(set, c->tag, c->entries[i].line, "duplicate key (the first is used)",
                    c->entries[i].key);
            c->entries[i].text = NULL;
        }
    return true;
}

static struct entry *find_entry(const struct web_catalog *c, const char *key)
{
    size_t lo = 0, hi = c != NULL ? c->n : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(key, c->entries[mid].key);
        if (cmp == 0) {
            /* the first of duplicates is the one kept */
            while (mid > 0 && strcmp(key, c->entries[mid - 1].key) == 0)
                mid--;
            return &c->entries[mid];
        }
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *web_catalog_get(const struct web_catalog *c, const char *key)
{
    const struct entry *e = key != NULL ? find_entry(c, key) : NULL;
    return e != NULL ? e->text : NULL;
}

/* For "a.b.few": the length of "a.b" when the last part is a plural
 * category, else 0. */
static size_t plural_base(const char *key)
{
    const char *dot = strrchr(key, '.');
    if (dot == NULL || dot == key)
        return 0;
    for (size_t i = 0; i < sizeof plural_names / sizeof plural_names[0]; i++)
        if (strcmp(dot + 1, plural_names[i]) == 0)
            return (size_t)(dot - key);
    return 0;
}

/* The English entry a translated key is checked against: the same key, or
 * for a plural form English lacks, "<base>.other". *subset: the form may use
 * fewer placeholders (Arabic says "two minutes" without the number). */
static const struct entry *reference_of(const struct web_catalog *ref, const char *key,
                                        bool *subset)
{
    *subset = false;
    size_t base = plural_base(key);
    const struct entry *e = find_entry(ref, key);
    if (base > 0) {
        char other[KEY_MAX + 8];
        snprintf(other, sizeof other, "%.*s.other", (int)base, key);
        *subset = true;
        if (e == NULL || e->text == NULL)
            e = find_entry(ref, other);
    }
    return e != NULL && e->text != NULL ? e : NULL;
}

/* Check a translation against English: unknown keys and placeholders that
 * differ are dropped. */
static void check_against(struct web_i18n *set, struct web_catalog *c)
{
    for (size_t i = 0; i < c->n; i++) {
        struct entry *e = &c->entries[i];
        bool subset;
        if (e->text == NULL)
            continue;
        const struct entry *r = reference_of(set->ref, e->key, &subset);
        if (r == NULL) {
            problem(set, c->tag, e->line, "key not in " REFERENCE_LANG ".txt", e->key);
            e->text = NULL;
        } else if (subset ? (e->sig & ~r->sig) != 0 : e->sig != r->sig) {
            problem(set, c->tag, e->line, "placeholders differ from " REFERENCE_LANG ".txt",
                    e->key);
            e->text = NULL;
        }
    }
}

void web_i18n_free(struct web_i18n *set)
{
    if (set == NULL)
        return;
    for (size_t i = 0; i < set->n; i++) {
        free(set->cats[i].buf);
        free(set->cats[i].entries);
    }
    for (size_t i = 0; i < set->nproblems && i < WEB_I18N_PROBLEMS_KEPT; i++)
        free(set->problems[i]);
    free(set->cats);
    free(set);
}

struct web_i18n *web_i18n_load(const struct web_i18n_source *src, size_t n)
{
    if (src == NULL || n == 0)
        return NULL;
    struct web_i18n *set = calloc(1, sizeof *set);
    if (set == NULL)
        return NULL;
    set->cats = calloc(n, sizeof *set->cats);
    if (set->cats == NULL) {
        free(set);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *tag = src[i].tag != NULL ? src[i].tag : "";
        if (!tag_ok(tag) || src[i].text == NULL) {
            problem(set, tag, 0, "not a language tag, or no text", NULL);
            continue;
        }
        if (web_i18n_find(set, tag) != NULL) {
            problem(set, tag, 0, "a second catalog for this language (ignored)", NULL);
            continue;
        }
        struct web_catalog *c = &set->cats[set->n++];
        memcpy(c->tag, tag, strlen(tag) + 1);
        if (!parse_catalog(set, c, src[i].text)) {
            web_i18n_free(set);
            return NULL;
        }
        const char *dir = web_catalog_get(c, "meta.dir");
        c->rtl = dir != NULL && strcmp(dir, "rtl") == 0;
    }
    if (set->n == 0) {
        web_i18n_free(set);
        return NULL;
    }
    set->ref = web_i18n_find(set, REFERENCE_LANG);
    if (set->ref == NULL)
        set->ref = &set->cats[0];
    for (size_t i = 0; i < set->n; i++)
        if (&set->cats[i] != set->ref)
            check_against(set, &set->cats[i]);
    return set;
}

static const struct web_i18n *builtin;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static void builtin_load(void)
{
    builtin = web_i18n_load(web_assets_catalogs, web_assets_catalog_count);
    if (builtin == NULL)
        abort(); /* out of memory at the first page: nothing sensible is left to do */
}

const struct web_i18n *web_i18n_builtin(void)
{
    pthread_once(&builtin_once, builtin_load);
    return builtin;
}

size_t web_i18n_count(const struct web_i18n *set)
{
    return set != NULL ? set->n : 0;
}

const struct web_catalog *web_i18n_at(const struct web_i18n *set, size_t i)
{
    return set != NULL && i < set->n ? &set->cats[i] : NULL;
}

const struct web_catalog *web_i18n_find(const struct web_i18n *set, const char *tag)
{
    if (set == NULL || tag == NULL)
        return NULL;
    for (size_t i = 0; i < set->n; i++)
        if (strcasecmp(set->cats[i].tag, tag) == 0)
            return &set->cats[i];
    return NULL;
}

const char *web_catalog_tag(const struct web_catalog *c)
{
    return c != NULL ? c->tag : REFERENCE_LANG;
}

bool web_catalog_rtl(const struct web_catalog *c)
{
    return c != NULL && c->rtl;
}

size_t web_catalog_missing(const struct web_i18n *set, const struct web_catalog *c,
                           const char **first)
{
    size_t missing = 0;
    if (first != NULL)
        *first = NULL;
    if (set == NULL || c == NULL)
        return 0;
    for (size_t i = 0; i < set->ref->n; i++) {
        const struct entry *r = &set->ref->entries[i];
        size_t base = plural_base(r->key);
        if (r->text == NULL || (i > 0 && strcmp(r->key, set->ref->entries[i - 1].key) == 0))
            continue;
        if (base > 0 && strcmp(r->key + base, ".other") != 0)
            continue; /* plural forms other than "other" are each language's own */
        if (web_catalog_get(c, r->key) == NULL) {
            if (missing++ == 0 && first != NULL)
                *first = r->key;
        }
    }
    return missing;
}

/* ---- Accept-Language ------------------------------------------------------------ */

struct lang_range {
    char s[RANGE_MAX + 1]; /* lower case */
    int q;                 /* thousandths */
};

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* language-range = (1*8ALPHA *("-" 1*8alphanum)) / "*" */
static bool range_ok(const char *s, size_t n)
{
    if (n == 1 && s[0] == '*')
        return true;
    if (n == 0 || n > RANGE_MAX)
        return false;
    size_t part = 0;
    bool first = true;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == '-') {
            if (part == 0 || part > 8)
                return false;
            part = 0;
            first = false;
            continue;
        }
        if (!(is_alpha(s[i]) || (!first && is_digit(s[i]))))
            return false;
        part++;
    }
    return true;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in thousandths; -1 if not. */
static int parse_q(const char *s, size_t n)
{
    if (n == 0 || (s[0] != '0' && s[0] != '1'))
        return -1;
    int q = (s[0] - '0') * 1000, scale = 100;
    if (n == 1)
        return q;
    if (s[1] != '.' || n > 5)
        return -1;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (!is_digit(s[i]) || (q == 1000 && s[i] != '0'))
            return -1;
        q += (s[i] - '0') * scale;
    }
    return q;
}

/* One element "range *(OWS ";" OWS param)"; false when malformed. */
static bool parse_element(const char *s, size_t n, struct lang_range *out)
{
    size_t i = 0;
    while (i < n && s[i] != ';' && !is_ows(s[i]))
        i++;
    if (!range_ok(s, i))
        return false;
    for (size_t k = 0; k < i; k++)
        out->s[k] = (char)(s[k] >= 'A' && s[k] <= 'Z' ? s[k] - 'A' + 'a' : s[k]);
    out->s[i] = '\0';
    out->q = 1000;
    while (i < n) {
        while (i < n && is_ows(s[i]))
            i++;
        if (i == n)
            break;
        if (s[i] != ';')
            return false;
        i++;
        while (i < n && is_ows(s[i]))
            i++;
        size_t start = i;
        while (i < n && s[i] != ';' && !is_ows(s[i]))
            i++;
        if (i - start >= 2 && (s[start] == 'q' || s[start] == 'Q') && s[start + 1] == '=') {
            out->q = parse_q(s + start + 2, i - start - 2);
            if (out->q < 0)
                return false;
        }
        /* other parameters are not defined for Accept-Language: ignored */
    }
    return true;
}

/* The catalog for a range by lookup: the whole range, then without its last
 * subtag, and so on (a single-letter subtag left at the end goes too). */
static const struct web_catalog *lookup(const struct web_i18n *set, const char *range)
{
    char buf[RANGE_MAX + 1];
    size_t n = strlen(range);
    memcpy(buf, range, n + 1);
    for (;;) {
        const struct web_catalog *c = web_i18n_find(set, buf);
        if (c != NULL)
            return c;
        char *dash = strrchr(buf, '-');
        if (dash == NULL)
            return NULL;
        *dash = '\0';
        dash = strrchr(buf, '-');
        if (dash != NULL && strlen(dash + 1) == 1)
            *dash = '\0';
    }
}

/* The formatting locale: language, script and region of the range the
 * customer sent ("fr-ca" → "fr-CA", "es-419", "zh-hant-tw" → "zh-Hant-TW"),
 * or the catalog's tag. */
static void locale_tag(const struct web_catalog *c, const char *range, char out[WEB_LOCALE_MAX])
{
    const char *ctag = web_catalog_tag(c);
    size_t clen = strlen(ctag);
    snprintf(out, WEB_LOCALE_MAX, "%s", ctag);
    if (range == NULL || strncasecmp(range, ctag, clen) != 0 ||
        (range[clen] != '\0' && range[clen] != '-'))
        return;

    char buf[WEB_LOCALE_MAX];
    size_t len = 0;
    const char *p = range;
    size_t k = strcspn(p, "-");
    if (k < 2 || k > 3)
        return;
    for (size_t i = 0; i < k; i++)
        buf[len++] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] - 'A' + 'a' : p[i]);
    p += k;
    if (*p == '-') {
        p++;
        k = strcspn(p, "-");
        if (k == 4 && is_alpha(p[0]) && is_alpha(p[1]) && is_alpha(p[2]) && is_alpha(p[3])) {
            buf[len++] = '-';
            for (size_t i = 0; i < 4; i++) {
                char ch = p[i];
                if (i == 0 && ch >= 'a' && ch <= 'z')
                    ch = (char)(ch - 'a' + 'A');
                else if (i > 0 && ch >= 'A' && ch <= 'Z')
                    ch = (char)(ch - 'A' + 'a');
                buf[len++] = ch;
            }
            p += k;
            if (*p == '-')
                p++;
            k = strcspn(p, "-");
        }
        bool region = (k == 2 && is_alpha(p[0]) && is_alpha(p[1])) ||
                      (k == 3 && is_digit(p[0]) && is_digit(p[1]) && is_digit(p[2]));
        if (region) {
            buf[len++] = '-';
            for (size_t i = 0; i < k; i++)
                buf[len++] = (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 'a' + 'A' : p[i]);
        }
    }
    buf[len] = '\0';
    if (len >= clen)
        memcpy(out, buf, len + 1);
}

static void locale_set(const struct web_i18n *set, const struct web_catalog *c, const char *range,
                       struct web_locale *out)
{
    out->cat = c;
    out->base = set->ref;
    locale_tag(c, range, out->tag);
}

void web_locale_for(const struct web_i18n *set, const char *tag, struct web_locale *out)
{
    if (set == NULL)
        set = web_i18n_builtin();
    const struct web_catalog *c = web_i18n_find(set, tag);
    locale_set(set, c != NULL ? c : set->ref, NULL, out);
}

void web_locale_negotiate(const struct web_i18n *set, const char *h, struct web_locale *out)
{
    struct lang_range r[RANGES_MAX];
    size_t nr = 0;

    if (set == NULL)
        set = web_i18n_builtin();
    size_t len = h != NULL ? strnlen(h, HEADER_MAX) : 0;
    for (size_t i = 0; i < len && nr < RANGES_MAX;) {
        while (i < len && (is_ows(h[i]) || h[i] == ','))
            i++;
        size_t start = i;
        while (i < len && h[i] != ',')
            i++;
        size_t end = i;
        while (end > start && is_ows(h[end - 1]))
            end--;
        if (end > start && parse_element(h + start, end - start, &r[nr]))
            nr++;
    }
    /* by descending q; equal q keep the header's order (insertion sort is stable) */
    for (size_t i = 1; i < nr; i++) {
        struct lang_range x = r[i];
        size_t j = i;
        while (j > 0 && r[j - 1].q < x.q) {
            r[j] = r[j - 1];
            j--;
        }
        r[j] = x;
    }
    for (size_t i = 0; i < nr && r[i].q > 0; i++) {
        if (strcmp(r[i].s, "*") == 0)
            break;
        const struct web_catalog *c = lookup(set, r[i].s);
        if (c != NULL) {
            locale_set(set, c, r[i].s, out);
            return;
        }
    }
    locale_set(set, set->ref, NULL, out);
}

/* ---- texts ---------------------------------------------------------------------- */

static const struct web_catalog *base_of(const struct web_locale *l)
{
    if (l != NULL && l->base != NULL)
        return l->base;
    const struct web_i18n *b = web_i18n_builtin();
    return b->ref;
}

const char *web_locale_lang(const struct web_locale *l)
{
    return web_catalog_tag(l != NULL && l->cat != NULL ? l->cat : base_of(l));
}

bool web_locale_rtl(const struct web_locale *l)
{
    return web_catalog_rtl(l != NULL && l->cat != NULL ? l->cat : base_of(l));
}

const char *web_text(const struct web_locale *l, const char *key)
{
    const char *t = l != NULL ? web_catalog_get(l->cat, key) : NULL;
    if (t == NULL)
        t = web_catalog_get(base_of(l), key);
    return t != NULL ? t : key;
}

static const char *plural_get(const struct web_catalog *c, const char *key, const char *cat)
{
    char k[KEY_MAX + 8];
    if (c == NULL || strlen(key) > KEY_MAX)
        return NULL;
    snprintf(k, sizeof k, "%s.%s", key, cat);
    const char *t = web_catalog_get(c, k);
    if (t == NULL) {
        snprintf(k, sizeof k, "%s.other", key);
        t = web_catalog_get(c, k);
    }
    return t;
}

const char *web_text_plural(const struct web_locale *l, const char *key, int64_t n)
{
    const char *t = NULL;
    if (l != NULL && l->cat != NULL)
        t = plural_get(l->cat, key, web_plural_category(l->tag, n));
    if (t == NULL) {
        const struct web_catalog *b = base_of(l);
        t = plural_get(b, key, web_plural_category(web_catalog_tag(b), n));
    }
    return t != NULL ? t : key;
}

char *web_textv(struct arena *a, const struct web_locale *l, const char *key,
                const char *const *args, size_t nargs)
{
    return web_text_fill(a, web_text(l, key), args, nargs, NULL);
}
