/*
 * Bearer secrets (API, agent and session tokens): random, shown once, and
 * stored only as a hash. Passwords: argon2id.
 */
#ifndef MC_SECRET_H
#define MC_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* "mc_" and 43 base64url characters (32 random bytes), and a NUL. */
#define SECRET_TOKEN_LEN 46
/* Hex of a 32-byte BLAKE2b digest, and a NUL. */
#define SECRET_HASH_LEN 65
#define SECRET_MAX_LEN  256

/* Writes a new token with the given prefix ("mc_", "mca_") into out. */
void secret_token_new(const char *prefix, char *out, size_t outlen);

/* Hashes a presented token for lookup; a token is never stored itself. */
void secret_hash(const char *token, char out[SECRET_HASH_LEN]);

/* Hashes a password with argon2id; returns a new string, NULL on failure. */
char *secret_password_hash(const char *password);

/* Verifies a password in constant time against its stored hash. */
bool secret_password_verify(const char *hash, const char *password);

#endif
