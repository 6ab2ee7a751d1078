/*
 * fuzz_logo.c — libFuzzer target for web/logo.c: telling logo formats apart
 * and the SVG logo check.
 *
 * For any input: web_logo_type answers one of the four known types or NULL;
 * web_logo_svg_problem never reads outside the input, and a problem it
 * reports is a non-empty, terminated message that fits its buffer and names
 * a line. Any violated invariant aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "web/logo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a copy of exactly `size` bytes, so that ASan sees any read past the end */
    uint8_t *copy = malloc(size ? size : 1);
    CHECK(copy != NULL);
    if (size)
        memcpy(copy, data, size);
    const char *type = web_logo_type(copy, size);
    CHECK(type == NULL || web_logo_type_known(type));
    char why[120];
    memset(why, 'x', sizeof why);
    const char *problem = web_logo_svg_problem(copy, size, why, sizeof why);
    if (problem != NULL) {
        CHECK(problem == why);
        size_t n = strnlen(why, sizeof why);
        CHECK(n > 0 && n < sizeof why);
        CHECK(strncmp(why, "SVG logos may not contain ", 26) == 0);
    }
    free(copy);
    return 0;
}
