/*
 * secretbox.h — secrets encrypted at rest (provider credentials, signing
 * secrets) under the server's key: AES-256-GCM with a random 96-bit nonce.
 *
 * A sealed value is text: "v1." followed by the base64 of
 * nonce (12 bytes) | ciphertext | tag (16 bytes). The associated data binds
 * it to where it is stored (e.g. the provider's id), so that a sealed value
 * copied to another row does not open there.
 */
#ifndef CHATPAY_UTIL_SECRETBOX_H
#define CHATPAY_UTIL_SECRETBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "util/arena.h"

#define SECRETBOX_KEY_LEN 32

/* Parse a key written as 64 hexadecimal digits. */
bool secretbox_key_parse(const char *hex, uint8_t key[SECRETBOX_KEY_LEN]);

/* A new random key as 64 hex digits and a NUL (out[65]). */
void secretbox_key_new(char out[2 * SECRETBOX_KEY_LEN + 1]);

/* Seal `len` bytes with associated data `ad` (a NUL-terminated string, may be
 * ""). The sealed text is in the arena. */
const char *secretbox_seal(const uint8_t key[SECRETBOX_KEY_LEN], const char *ad, const void *data,
                           size_t len, struct arena *a);

/* Open a sealed text: the plaintext (NUL-terminated, in the arena) and its
 * length in *len; NULL when the text is malformed, the key is not the one it
 * was sealed with, the associated data differs or it was altered. */
const char *secretbox_open(const uint8_t key[SECRETBOX_KEY_LEN], const char *ad, const char *sealed,
                           struct arena *a, size_t *len);

/* A provider's settings as one JSON object: the public ones (JSON text) and
 * the sealed secret ones (sealed under `ad`, the provider's id; "" or NULL
 * when none) opened with key (NULL: the server has none). NULL with *why
 * when they cannot be read. The caller puts the object. */
json_object *secretbox_open_settings(const uint8_t *key, const char *ad, const char *public_json,
                                     const char *sealed, struct arena *a, const char **why);

#endif
