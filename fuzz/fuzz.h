/*
 * fuzz.h — what every libFuzzer target here shares: the entry point's
 * prototype, and CHECK, which aborts (a crash libFuzzer reports) when an
 * invariant does not hold.
 */
#ifndef CHATPAY_FUZZ_FUZZ_H
#define CHATPAY_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#endif
