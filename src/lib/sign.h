/*
 * Command signatures: ed25519 (libsodium) over the canonical form of a JSON
 * object, which is jansson's compact, key-sorted serialisation.
 */
#ifndef MC_SIGN_H
#define MC_SIGN_H

#include <stdbool.h>

#include <jansson.h>

#include "lib/err.h"

/* Standard base64 of a 32-byte public key or 64-byte signature, with NUL. */
#define SIGN_PUBLIC_B64_LEN 45
#define SIGN_SIG_B64_LEN    89

struct sign_key;

/* Loads the key at path, or makes one there (mode 0600) when the file does
 * not exist. The file holds the base64 of the 32-byte seed. */
struct sign_key *sign_key_load(const char *path, struct err *e);
void sign_key_free(struct sign_key *k);

/* The public key, standard base64. */
const char *sign_key_public(const struct sign_key *k);

/* The canonical payload of obj (caller frees). */
char *sign_canonical(const json_t *obj);

/* Signs the canonical form of obj; writes the base64 signature to out. */
void sign_object(const struct sign_key *k, const json_t *obj,
                 char out[SIGN_SIG_B64_LEN]);

/* Signs a canonical payload that is already text. Thread-safe. */
void sign_text(const struct sign_key *k, const char *msg,
               char out[SIGN_SIG_B64_LEN]);

/* Verifies signature_b64 over obj's canonical form with a base64 public
 * key. */
bool sign_verify(const char *public_b64, const json_t *obj,
                 const char *signature_b64);

#endif
