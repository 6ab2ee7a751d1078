/*
 * utf8.h — decoding UTF-8 strictly (Unicode Table 3-7): no overlong forms,
 * no surrogates, nothing above U+10FFFF, no truncated sequence.
 */
#ifndef CHATPAY_UTIL_UTF8_H
#define CHATPAY_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decode one sequence from s[0..len) (len >= 1). Returns its length (1..4)
 * and the code point in *cp, or 0 when the bytes are not well-formed. */
size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp);

/* The same for a NUL-terminated string (s[0] != 0): returns the code point
 * and its length in *n, or -1 with *n = 1 for a malformed sequence (so that
 * each bad byte counts once). A NUL ends any sequence as malformed. */
int32_t utf8_decode_z(const unsigned char *s, size_t *n);

/* Copy the NUL-terminated s into out[cap] (cap >= 8) as well-formed UTF-8:
 * each malformed byte becomes U+FFFD. A text longer than fits is cut at a
 * character boundary and ends with "…". Returns out. */
char *utf8_clean(const char *s, char *out, size_t cap);

/* Is the NUL-terminated s well-formed UTF-8? */
bool utf8_valid(const char *s);

/* Is cp a control character (Unicode general category Cc): U+0000–U+001F,
 * U+007F and the C1 controls U+0080–U+009F (U+0085 is a line break, U+009B
 * a terminal's CSI)? The one check of names (cmd) and API text (fieldspec). */
bool utf8_is_control(uint32_t cp);

/* Is cp a line or paragraph break that is not a control: U+2028, U+2029? */
bool utf8_is_separator(uint32_t cp);

#endif
