#include "lib/secret.h"

#include <string.h>

#include <sodium.h>

#include "lib/xalloc.h"

void secret_token_new(const char *prefix, char *out, size_t outlen)
{
    unsigned char raw[32];
    size_t plen = strlen(prefix);

    randombytes_buf(raw, sizeof(raw));
    if (outlen < plen + 1)
        return;
    memcpy(out, prefix, plen);
    sodium_bin2base64(out + plen, outlen - plen, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void secret_hash(const char *token, char out[SECRET_HASH_LEN])
{
    unsigned char digest[32];

    crypto_generichash(digest, sizeof(digest), (const unsigned char *)token,
                       strlen(token), NULL, 0);
    sodium_bin2hex(out, SECRET_HASH_LEN, digest, sizeof(digest));
}

char *secret_password_hash(const char *password)
{
    char out[crypto_pwhash_STRBYTES];

    if (crypto_pwhash_str(out, password, strlen(password),
                          crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return NULL;
    return xstrdup(out);
}

bool secret_password_verify(const char *hash, const char *password)
{
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}
