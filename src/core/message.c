/*
 * message.c — the texts sent to customers over SMS and WhatsApp (see message.h).
 *
 * SMS. A single-segment SMS in the GSM 03.38 default alphabet holds 160
 * septets: characters of the basic table take one, characters reached through
 * the extension table (escape + code: ^ { } \ [ ~ ] | € and form feed) take
 * two. Any other character would force the whole message into UCS-2 (70
 * characters), so the merchant name and order number are cleaned to GSM-7
 * first (message_gsm7_clean). A text is built from the longest template that
 * fits; if none does, the merchant name in the shortest template is cut (at a
 * word boundary when that keeps at least half of what fits, else between two
 * characters, never inside an escape pair) and ends in "...". Line breaks in
 * the fields become spaces. The order number, the amount and the
 * URL are never shortened: a URL that is not pure GSM-7 or that leaves no room
 * for at least one character of the merchant name makes the call fail.
 *
 * WhatsApp. Any UTF-8 is allowed, so the fields are kept as they are except
 * that control characters become spaces, bidirectional controls (which could
 * visually reorder the amount or the URL) are dropped, malformed UTF-8 bytes
 * become '?', and a very long merchant name is cut so that every text fits
 * MESSAGE_MAX.
 *
 * Fields are required: a NULL or (after cleaning) empty merchant name, order
 * number, currency or, for a payment request, URL makes the call return -1.
 */
#include "core/message.h"
#include "util/utf8.h"

#include <string.h>

#include "core/money.h"
#include "core/status.h"

/* Longest merchant name kept in a WhatsApp text, in code points. */
#define WA_MERCHANT_MAX 100
/* Longest order number kept in a WhatsApp text, in code points (the API
 * allows 32; this only bounds malformed input). */
#define WA_ORDER_MAX 64
/* Room for a cleaned SMS field: 160 septets take at most 2 bytes each once
 * cleaned (é is 2 bytes / 1 septet, € 3 bytes / 2 septets). */
#define SMS_FIELD_CAP 512
/* "ZAR " + any int64 formatted by money_format (at most 32 bytes). */
#define AMOUNT_CAP 40

/* ---- UTF-8 --------------------------------------------------------------- */

/* ---- GSM 03.38 ----------------------------------------------------------- */

/* The basic table: the code point of each of the 128 septet values. 0x1B is
 * the escape to the extension table, not a character (marked 0xFFFF). */
static const uint16_t gsm7_basic[128] = {
    0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC, /* @ £ $ ¥ è é ù ì */
    0x00F2, 0x00C7, 0x000A, 0x00D8, 0x00F8, 0x000D, 0x00C5, 0x00E5, /* ò Ç LF Ø ø CR Å å */
    0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8, /* Δ _ Φ Γ Λ Ω Π Ψ */
    0x03A3, 0x0398, 0x039E, 0xFFFF, 0x00C6, 0x00E6, 0x00DF, 0x00C9, /* Σ Θ Ξ ESC Æ æ ß É */
    0x0020, 0x0021, 0x0022, 0x0023, 0x00A4, 0x0025, 0x0026, 0x0027, /* SP ! " # ¤ % & ' */
    0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F, /* ( ) * + , - . / */
    0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037, /* 0 .. 7 */
    0x0038, 0x0039, 0x003A, 0x003B, 0x003C, 0x003D, 0x003E, 0x003F, /* 8 9 : ; < = > ? */
    0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047, /* ¡ A .. G */
    0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F, /* H .. O */
    0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057, /* P .. W */
    0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7, /* X Y Z Ä Ö Ñ Ü § */
    0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067, /* ¿ a .. g */
    0x0068, 0x0069, 0x006A, 0x006B, 0x006C, 0x006D, 0x006E, 0x006F, /* h .. o */
    0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077, /* p .. w */
    0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0, /* x y z ä ö ñ ü à */
};

/* The extension table's characters (each sent as escape + one septet). */
static const uint16_t gsm7_ext[] = {
    0x000C, /* form feed */
    0x005E, /* ^ */
    0x007B, /* { */
    0x007D, /* } */
    0x005C, /* \ */
    0x005B, /* [ */
    0x007E, /* ~ */
    0x005D, /* ] */
    0x007C, /* | */
    0x20AC, /* € */
};

/* Septets cp takes in GSM-7: 1 (basic table), 2 (extension table) or 0 when
 * it is not in GSM-7 at all. cp is -1 for a malformed byte. */
static size_t gsm7_cost(int32_t cp)
{
    if (cp < 0 || cp > 0xFFFF || cp == 0xFFFF)
        return 0;
    for (size_t i = 0; i < sizeof gsm7_basic / sizeof gsm7_basic[0]; i++)
        if (gsm7_basic[i] == (uint16_t)cp)
            return 1;
    for (size_t i = 0; i < sizeof gsm7_ext / sizeof gsm7_ext[0]; i++)
        if (gsm7_ext[i] == (uint16_t)cp)
            return 2;
    return 0;
}

/* Base letters of U+0100..U+017F (Latin Extended-A), '?' where there is no
 * single obvious one (the ligatures are handled in lookalike()). */
static const char latin_ext_a[] = "AaAaAa"       /* 0100 Ā ā Ă ă Ą ą */
                                  "CcCcCcCc"     /* 0106 Ć ć Ĉ ĉ Ċ ċ Č č */
                                  "DdDd"         /* 010E Ď ď Đ đ */
                                  "EeEeEeEeEe"   /* 0112 Ē ē Ĕ ĕ Ė ė Ę ę Ě ě */
                                  "GgGgGgGg"     /* 011C Ĝ ĝ Ğ ğ Ġ ġ Ģ ģ */
                                  "HhHh"         /* 0124 Ĥ ĥ Ħ ħ */
                                  "IiIiIiIiIi"   /* 0128 Ĩ ĩ Ī ī Ĭ ĭ Į į İ ı */
                                  "??"           /* 0132 Ĳ ĳ */
                                  "Jj"           /* 0134 Ĵ ĵ */
                                  "Kkk"          /* 0136 Ķ ķ ĸ */
                                  "LlLlLlLlLl"   /* 0139 Ĺ ĺ Ļ ļ Ľ ľ Ŀ ŀ Ł ł */
                                  "NnNnNnn"      /* 0143 Ń ń Ņ ņ Ň ň ŉ */
                                  "Nn"           /* 014A Ŋ ŋ */
                                  "OoOoOo"       /* 014C Ō ō Ŏ ŏ Ő ő */
                                  "??"           /* 0152 Œ œ */
                                  "RrRrRr"       /* 0154 Ŕ ŕ Ŗ ŗ Ř ř */
                                  "SsSsSsSs"     /* 015A Ś ś Ŝ ŝ Ş ş Š š */
                                  "TtTtTt"       /* 0162 Ţ ţ Ť ť Ŧ ŧ */
                                  "UuUuUuUuUuUu" /* 0168 Ũ ũ Ū ū Ŭ ŭ Ů ů Ű ű Ų ų */
                                  "Ww"           /* 0174 Ŵ ŵ */
                                  "YyY"          /* 0176 Ŷ ŷ Ÿ */
                                  "ZzZzZz"       /* 0179 Ź ź Ż ż Ž ž */
                                  "s";           /* 017F ſ */
_Static_assert(sizeof latin_ext_a == 0x80 + 1, "one letter per code point U+0100..U+017F");

/* Base letters of U+00C0..U+00FF for the characters that are not in GSM-7;
 * '.' marks those that are (they never reach this table) and '?' those with
 * no single obvious letter. */
static const char latin1_letters[] = "AAAA...." /* C0 À Á Â Ã (Ä Å Æ Ç) */
                                     "E.EEIIII" /* C8 È (É) Ê Ë Ì Í Î Ï */
                                     "D.OOOO.x" /* D0 Ð (Ñ) Ò Ó Ô Õ (Ö) × */
                                     ".UUU.Y?." /* D8 (Ø) Ù Ú Û (Ü) Ý Þ (ß) */
                                     ".aaa...c" /* E0 (à) á â ã (ä å æ) ç */
                                     "..ee.iii" /* E8 (è é) ê ë (ì) í î ï */
                                     "d..ooo.?" /* F0 ð (ñ ò) ó ô õ (ö) ÷ */
                                     "..uu.y?y" /* F8 (ø ù) ú û (ü) ý þ ÿ */;
_Static_assert(sizeof latin1_letters == 0x40 + 1, "one letter per code point U+00C0..U+00FF");

/* A GSM-7 stand-in for a character that is not in GSM-7: "" to drop an
 * invisible character, or NULL when there is none (the caller uses '?'). */
static const char *lookalike(int32_t cp)
{
    switch (cp) {
    case 0x0009: /* tab */
    case 0x00A0: /* no-break space */
    case 0x2007: /* figure space */
    case 0x202F: /* narrow no-break space */
    case 0x205F: /* medium mathematical space */
    case 0x3000: /* ideographic space */
        return " ";
    case 0x00AD: /* soft hyphen */
    case 0x200B: /* zero width space */
    case 0x200C: /* zero width non-joiner */
    case 0x200D: /* zero width joiner */
    case 0x2060: /* word joiner */
    case 0xFEFF: /* zero width no-break space (BOM) */
        return "";
    case 0x0060: /* ` */
    case 0x00B4: /* ´ */
    case 0x2018: /* ‘ */
    case 0x2019: /* ’ */
    case 0x201A: /* ‚ */
    case 0x201B: /* ‛ */
    case 0x2032: /* ′ */
        return "'";
    case 0x00AB: /* « */
    case 0x00BB: /* » */
    case 0x201C: /* “ */
    case 0x201D: /* ” */
    case 0x201E: /* „ */
    case 0x201F: /* ‟ */
    case 0x2033: /* ″ */
        return "\"";
    case 0x2010: /* hyphen */
    case 0x2011: /* non-breaking hyphen */
    case 0x2012: /* figure dash */
    case 0x2013: /* – */
    case 0x2014: /* — */
    case 0x2015: /* ― */
    case 0x2212: /* minus sign */
        return "-";
    case 0x2026: /* … */
        return "...";
    case 0x00DE: /* Þ */
        return "Th";
    case 0x00FE: /* þ */
        return "th";
    case 0x0132: /* Ĳ */
        return "IJ";
    case 0x0133: /* ĳ */
        return "ij";
    case 0x0152: /* Œ */
        return "OE";
    case 0x0153: /* œ */
        return "oe";
    default:
        break;
    }
    /* Other invisible formatting: more spaces, bidi marks and overrides,
     * variation selectors (they follow emoji and would add a second '?'). */
    if (cp >= 0x2000 && cp <= 0x200A)
        return " ";
    if ((cp >= 0x200E && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
        (cp >= 0x2066 && cp <= 0x2069) || (cp >= 0xFE00 && cp <= 0xFE0F))
        return "";
    return NULL;
}

/* The ASCII base letter of an accented Latin letter outside GSM-7 ("ā" → 'a'),
 * or 0 when there is no obvious one. */
static char base_letter(int32_t cp)
{
    char c = 0;

    if (cp >= 0x00C0 && cp <= 0x00FF)
        c = latin1_letters[cp - 0x00C0];
    else if (cp >= 0x0100 && cp <= 0x017F)
        c = latin_ext_a[cp - 0x0100];
    return c == '.' || c == '?' ? 0 : c;
}

size_t message_gsm7_septets(const char *utf8, bool *all_gsm7)
{
    const unsigned char *p = (const unsigned char *)utf8;
    size_t total = 0;
    bool all = true;

    while (p != NULL && *p != '\0') {
        size_t n;
        size_t cost = gsm7_cost(utf8_decode_z(p, &n));
        if (cost == 0) {
            all = false;
            cost = 1;
        }
        total += cost;
        p += n;
    }
    if (all_gsm7 != NULL)
        *all_gsm7 = all;
    return total;
}

/* ---- bounded output ------------------------------------------------------ */

/* Appends into a caller's buffer; once something does not fit, nothing more is
 * written and sink_end() reports failure. */
struct sink {
    char *out;
    size_t cap;
    size_t len;
    bool ok;
};

static void sink_bytes(struct sink *s, const char *p, size_t n)
{
    if (!s->ok || s->cap == 0 || n > s->cap - 1 - s->len) {
        s->ok = false;
        return;
    }
    memcpy(s->out + s->len, p, n);
    s->len += n;
}

static void sink_str(struct sink *s, const char *p)
{
    sink_bytes(s, p, strlen(p));
}

/* NUL-terminate; the length written, or -1 (out "" when cap > 0). */
static int sink_end(struct sink *s)
{
    if (!s->ok || s->out == NULL || s->cap == 0 || s->len > (size_t)INT32_MAX) {
        if (s->out != NULL && s->cap > 0)
            s->out[0] = '\0';
        return -1;
    }
    s->out[s->len] = '\0';
    return (int)s->len;
}

/* ---- cleaning ------------------------------------------------------------ */

/* Clean utf8 to GSM-7 into out, stopping before the first character whose
 * replacement would take the text past max_septets. *complete tells whether
 * the whole input was used. Returns the length, or -1 when cap is too small. */
static int gsm7_clean_bounded(const char *utf8, char *out, size_t cap, size_t max_septets,
                              bool *complete)
{
    const unsigned char *p = (const unsigned char *)utf8;
    struct sink s = {out, cap, 0, out != NULL};
    size_t septets = 0;

    *complete = true;
    while (p != NULL && *p != '\0') {
        size_t n;
        int32_t cp = utf8_decode_z(p, &n);
        char letter[2] = {0, 0};
        const char *rep;
        size_t rep_len, cost;

        if (gsm7_cost(cp) != 0) {
            rep = (const char *)p; /* kept as it is */
            rep_len = n;
        } else {
            rep = lookalike(cp);
            if (rep == NULL) {
                letter[0] = base_letter(cp);
                rep = letter[0] != 0 ? letter : "?";
            }
            rep_len = strlen(rep);
        }
        /* The replacement is GSM-7 text itself; count what it costs. */
        cost = 0;
        for (size_t i = 0; i < rep_len;) {
            size_t k;
            cost += gsm7_cost(utf8_decode_z((const unsigned char *)rep + i, &k));
            i += k;
        }
        if (cost > max_septets - septets) {
            *complete = false;
            break;
        }
        septets += cost;
        sink_bytes(&s, rep, rep_len);
        p += n;
    }
    return sink_end(&s);
}

int message_gsm7_clean(const char *utf8, char *out, size_t cap)
{
    bool complete;
    return gsm7_clean_bounded(utf8, out, cap, SIZE_MAX, &complete);
}

/* Make a cleaned field fit on one line: line breaks and form feeds become
 * spaces, then leading and trailing spaces go. Works in place. */
static void one_line(char *s)
{
    size_t len = strlen(s), start = 0;

    for (size_t i = 0; i < len; i++)
        if (s[i] == '\n' || s[i] == '\r' || s[i] == '\f')
            s[i] = ' ';
    while (len > 0 && s[len - 1] == ' ')
        s[--len] = '\0';
    while (s[start] == ' ')
        start++;
    memmove(s, s + start, len - start + 1);
}

/* Skip leading ASCII white space, so that a name padded with spaces is not
 * cut off by the septet bound before its first letter. */
static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f')
        s++;
    return s;
}

/* Clean a WhatsApp field: valid UTF-8 is kept, control characters become
 * spaces, bidi controls are dropped, malformed bytes become '?', and the text
 * is cut after max_cp code points with "..." appended. Trimmed of spaces.
 * Returns the length or -1 if cap is too small. */
static int wa_clean(const char *utf8, size_t max_cp, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)skip_space(utf8);
    struct sink s = {out, cap, 0, true};
    size_t ncp = 0;
    int len;

    while (*p != '\0') {
        size_t n;
        int32_t cp = utf8_decode_z(p, &n);

        if ((cp >= 0x200E && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
            (cp >= 0x2066 && cp <= 0x2069)) {
            p += n; /* a bidi control: dropped, does not count */
            continue;
        }
        if (ncp == max_cp) {
            sink_str(&s, "...");
            break;
        }
        if (cp < 0)
            sink_str(&s, "?");
        else if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029)
            sink_str(&s, " ");
        else
            sink_bytes(&s, (const char *)p, n);
        ncp++;
        p += n;
    }
    len = sink_end(&s);
    if (len < 0)
        return -1;
    one_line(out);
    return (int)strlen(out);
}

/* ---- composing ----------------------------------------------------------- */

/* The values substituted into a template. */
struct fields {
    const char *merchant; /* %M */
    const char *order;    /* %O */
    const char *amount;   /* %A */
    const char *url;      /* %U */
};

/* Render tpl with %M %O %A %U replaced by the fields. Returns the length or -1
 * if it does not fit cap. */
static int render(const char *tpl, const struct fields *f, char *out, size_t cap)
{
    struct sink s = {out, cap, 0, true};

    for (const char *t = tpl; *t != '\0'; t++) {
        const char *v = NULL;
        if (t[0] == '%') {
            switch (t[1]) {
            case 'M':
                v = f->merchant;
                break;
            case 'O':
                v = f->order;
                break;
            case 'A':
                v = f->amount;
                break;
            case 'U':
                v = f->url;
                break;
            default:
                break;
            }
        }
        if (v != NULL) {
            sink_str(&s, v);
            t++;
        } else {
            sink_bytes(&s, t, 1);
        }
    }
    return sink_end(&s);
}

/* "ZAR 125.50" into out (cap >= AMOUNT_CAP). Returns false on a bad currency. */
static bool format_amount(const struct message_link *m, char *out, size_t cap)
{
    char num[32];
    struct sink s = {out, cap, 0, true};

    if (m->currency == NULL ||
        money_format(m->total_minor, m->currency->exponent, num, sizeof num) < 0)
        return false;
    sink_str(&s, m->currency->code);
    sink_str(&s, " ");
    sink_str(&s, num);
    return sink_end(&s) >= 0;
}

/* Report failure: out becomes "" when it has room for that. */
static int fail(char *out, size_t cap)
{
    if (out != NULL && cap > 0)
        out[0] = '\0';
    return -1;
}

/* Copy a finished text into the caller's buffer. */
static int deliver(const char *text, char *out, size_t cap)
{
    struct sink s = {out, cap, 0, out != NULL};
    sink_str(&s, text);
    return sink_end(&s);
}

/* Build an SMS from the first template (longest first) whose rendering fits
 * MESSAGE_SMS_SEPTETS; failing that, the last template with the merchant name
 * shortened to "<prefix>...". merchant_whole is false when f->merchant is
 * already a cut (then only shortening can work). */
static int sms_compose(const char *const *tpls, size_t ntpl, const struct fields *f,
                       bool merchant_whole, char *out, size_t cap)
{
    char text[MESSAGE_MAX];
    char shortened[SMS_FIELD_CAP];
    struct fields g = *f;
    size_t overhead, budget, used = 0, cut = 0;
    const unsigned char *p;

    /* the first template that fits (one without the name fits whatever the
     * name's length) */
    for (size_t i = 0; i < ntpl; i++) {
        if (!merchant_whole && strstr(tpls[i], "%M"))
            continue;
        if (render(tpls[i], f, text, sizeof text) >= 0 &&
            message_gsm7_septets(text, NULL) <= MESSAGE_SMS_SEPTETS)
            return deliver(text, out, cap);
    }

    /* What the shortest template costs without the name and the "...". */
    g.merchant = "...";
    if (render(tpls[ntpl - 1], &g, text, sizeof text) < 0)
        return fail(out, cap);
    overhead = message_gsm7_septets(text, NULL);
    if (overhead >= MESSAGE_SMS_SEPTETS)
        return fail(out, cap);
    budget = MESSAGE_SMS_SEPTETS - overhead;

    /* The longest whole-character prefix of the name within budget. */
    p = (const unsigned char *)f->merchant;
    while (p[cut] != '\0') {
        size_t n;
        size_t cost = gsm7_cost(utf8_decode_z(p + cut, &n));
        if (used + cost > budget)
            break;
        used += cost;
        cut += n;
    }
    /* Prefer ending at a word boundary, unless that loses more than half. */
    if (p[cut] != '\0' && p[cut] != ' ') {
        size_t space = cut;
        while (space > 0 && p[space - 1] != ' ')
            space--;
        if (space > 0 && space >= cut / 2)
            cut = space;
    }
    while (cut > 0 && p[cut - 1] == ' ')
        cut--;
    if (cut == 0 || cut + 4 > sizeof shortened)
        return fail(out, cap); /* not even one character of the name fits */
    memcpy(shortened, p, cut);
    memcpy(shortened + cut, "...", 4);
    g.merchant = shortened;
    if (render(tpls[ntpl - 1], &g, text, sizeof text) < 0 ||
        message_gsm7_septets(text, NULL) > MESSAGE_SMS_SEPTETS)
        return fail(out, cap);
    return deliver(text, out, cap);
}

/* Clean merchant name and order number for SMS into the given buffers
 * (SMS_FIELD_CAP bytes each). *merchant_whole is false when the name was cut
 * at MESSAGE_SMS_SEPTETS. Returns false when a field is missing, empty, or the
 * order number alone is too long for one SMS. */
static bool sms_fields(const struct message_link *m, char *merchant, char *order,
                       bool *merchant_whole)
{
    bool complete;

    if (m->merchant_name == NULL || m->order_number == NULL)
        return false;
    if (gsm7_clean_bounded(skip_space(m->merchant_name), merchant, SMS_FIELD_CAP,
                           MESSAGE_SMS_SEPTETS, merchant_whole) < 0)
        return false;
    if (gsm7_clean_bounded(skip_space(m->order_number), order, SMS_FIELD_CAP, MESSAGE_SMS_SEPTETS,
                           &complete) < 0 ||
        !complete)
        return false;
    one_line(merchant);
    one_line(order);
    return merchant[0] != '\0' && order[0] != '\0';
}

/* WhatsApp versions of the two fields (caps: 4 bytes per code point + "..."). */
static bool wa_fields(const struct message_link *m, char *merchant, size_t mcap, char *order,
                      size_t ocap)
{
    if (m->merchant_name == NULL || m->order_number == NULL)
        return false;
    if (wa_clean(m->merchant_name, WA_MERCHANT_MAX, merchant, mcap) <= 0)
        return false;
    if (wa_clean(m->order_number, WA_ORDER_MAX, order, ocap) <= 0)
        return false;
    return true;
}

/* The URL goes into the text unchanged, so it must be printable GSM-7 with no
 * spaces (a space or line break would end the link on the phone). */
static bool url_ok(const char *url)
{
    bool all;

    if (url == NULL || url[0] == '\0')
        return false;
    for (const unsigned char *p = (const unsigned char *)url; *p != '\0'; p++)
        if (*p <= 0x20 || *p == 0x7F)
            return false;
    (void)message_gsm7_septets(url, &all);
    return all;
}

/* Fill the merchant and order fields for m's channel and render: SMS with
 * the shortest of sms_tpls that fits one message, WhatsApp with wa_tpl. */
static int compose(const struct message_link *m, const char *const *sms_tpls, size_t nsms,
                   const char *wa_tpl, struct fields *f, char *out, size_t cap)
{
    if (m->channel == CHANNEL_SMS) {
        char merchant[SMS_FIELD_CAP], order[SMS_FIELD_CAP];
        bool whole;
        if (!sms_fields(m, merchant, order, &whole))
            return fail(out, cap);
        f->merchant = merchant;
        f->order = order;
        return sms_compose(sms_tpls, nsms, f, whole, out, cap);
    }
    if (m->channel == CHANNEL_WHATSAPP) {
        char merchant[4 * WA_MERCHANT_MAX + 4], order[4 * WA_ORDER_MAX + 4];
        char text[MESSAGE_MAX];
        if (!wa_fields(m, merchant, sizeof merchant, order, sizeof order))
            return fail(out, cap);
        f->merchant = merchant;
        f->order = order;
        if (render(wa_tpl, f, text, sizeof text) < 0)
            return fail(out, cap);
        return deliver(text, out, cap);
    }
    return fail(out, cap);
}

/* compose() for a message with the amount (%A) and a URL (%U). */
static int compose_with_url(const struct message_link *m, const char *url,
                            const char *const *sms_tpls, size_t nsms, const char *wa_tpl, char *out,
                            size_t cap)
{
    char amount[AMOUNT_CAP];
    struct fields f;

    if (m == NULL || out == NULL)
        return fail(out, cap);
    if (!format_amount(m, amount, sizeof amount) || !url_ok(url))
        return fail(out, cap);
    f.amount = amount;
    f.url = url;
    return compose(m, sms_tpls, nsms, wa_tpl, &f, out, cap);
}

int message_payment_request(const struct message_link *m, char *out, size_t cap)
{
    static const char *const sms_tpls[] = {
        "%M asks you to pay %A for order %O: %U",
        "%M: pay %A for order %O: %U",
        "%M: pay %A, order %O: %U",
    };
    static const char wa_tpl[] = "Hello! %M has sent you a payment request.\n"
                                 "\n"
                                 "Order: %O\n"
                                 "Amount due: %A\n"
                                 "\n"
                                 "Pay securely here: %U\n"
                                 "\n"
                                 "If you were not expecting this message, you can ignore it.";
    return compose_with_url(m, m ? m->link_url : NULL, sms_tpls,
                            sizeof sms_tpls / sizeof sms_tpls[0], wa_tpl, out, cap);
}

int message_reminder(const struct message_link *m, char *out, size_t cap)
{
    static const char *const sms_tpls[] = {
        "Reminder: %M asks you to pay %A for order %O: %U",
        "Reminder: %M: pay %A, order %O: %U",
        "Reminder: pay %A, order %O: %U",
    };
    static const char wa_tpl[] = "Hello! A reminder: %M is still waiting for your payment.\n"
                                 "\n"
                                 "Order: %O\n"
                                 "Amount due: %A\n"
                                 "\n"
                                 "Pay securely here: %U";
    return compose_with_url(m, m ? m->link_url : NULL, sms_tpls,
                            sizeof sms_tpls / sizeof sms_tpls[0], wa_tpl, out, cap);
}

int message_cancelled(const struct message_link *m, char *out, size_t cap)
{
    static const char *const sms_tpls[] = {
        "Order %O from %M was cancelled. No payment is due.",
    };
    static const char wa_tpl[] = "Hello! Order %O from %M was cancelled. No payment is due, "
                                 "and the payment link for this order no longer works.";
    struct fields f = {NULL, NULL, "", ""};

    if (m == NULL || out == NULL)
        return fail(out, cap);
    return compose(m, sms_tpls, sizeof sms_tpls / sizeof sms_tpls[0], wa_tpl, &f, out, cap);
}

int message_receipt(const struct message_link *m, const char *receipt_url, char *out, size_t cap)
{
    static const char *const sms_tpls[] = {
        "Thank you for paying %M %A for order %O. Your receipt: %U",
        "%M receipt for order %O: %U",
        "Receipt, order %O: %U",
    };
    static const char wa_tpl[] = "Hello! Thank you for your payment to %M.\n"
                                 "\n"
                                 "Order: %O\n"
                                 "Amount paid: %A\n"
                                 "\n"
                                 "Your receipt: %U";
    return compose_with_url(m, receipt_url, sms_tpls, sizeof sms_tpls / sizeof sms_tpls[0], wa_tpl,
                            out, cap);
}
