#include "lib/sign.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "lib/log.h"
#include "lib/xalloc.h"

#define SEED_B64_LEN 45

struct sign_key {
    unsigned char sk[crypto_sign_SECRETKEYBYTES];
    char public_b64[SIGN_PUBLIC_B64_LEN];
};

static int read_seed(const char *path, unsigned char *seed, struct err *e)
{
    char text[SEED_B64_LEN + 8] = {0};
    size_t len;
    FILE *f = fopen(path, "r");

    if (!f)
        return errno == ENOENT ? 1
                               : err_set(e, ERR_INTERNAL, "KEY",
                                         "cannot read key \"%s\": %s", path,
                                         strerror(errno));
    len = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
        text[--len] = '\0';
    if (sodium_base642bin(seed, crypto_sign_SEEDBYTES, text, len, NULL, &len,
                          NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        len != crypto_sign_SEEDBYTES)
        return err_set(e, ERR_INTERNAL, "KEY",
                       "key \"%s\" is not a base64 ed25519 seed", path);
    return 0;
}

static int write_seed(const char *path, const unsigned char *seed,
                      struct err *e)
{
    char text[SEED_B64_LEN];
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

    if (fd < 0)
        return err_set(e, ERR_INTERNAL, "KEY", "cannot create key \"%s\": %s",
                       path, strerror(errno));
    sodium_bin2base64(text, sizeof(text), seed, crypto_sign_SEEDBYTES,
                      sodium_base64_VARIANT_ORIGINAL);
    if (dprintf(fd, "%s\n", text) < 0 || fsync(fd) != 0) {
        close(fd);
        unlink(path);
        return err_set(e, ERR_INTERNAL, "KEY", "cannot write key \"%s\": %s",
                       path, strerror(errno));
    }
    close(fd);
    sodium_memzero(text, sizeof(text));
    log_info("signing key created", "path=\"%s\"", path);
    return 0;
}

struct sign_key *sign_key_load(const char *path, struct err *e)
{
    unsigned char seed[crypto_sign_SEEDBYTES];
    unsigned char pk[crypto_sign_PUBLICKEYBYTES];
    struct sign_key *k;
    int rc = read_seed(path, seed, e);

    if (rc == 1) {
        randombytes_buf(seed, sizeof(seed));
        rc = write_seed(path, seed, e);
        /* Another instance made it at the same moment: use theirs. */
        if (rc && errno == EEXIST)
            rc = read_seed(path, seed, e);
    }
    if (rc)
        return NULL;
    k = xcalloc(1, sizeof(*k));
    crypto_sign_seed_keypair(pk, k->sk, seed);
    sodium_memzero(seed, sizeof(seed));
    sodium_bin2base64(k->public_b64, sizeof(k->public_b64), pk, sizeof(pk),
                      sodium_base64_VARIANT_ORIGINAL);
    return k;
}

void sign_key_free(struct sign_key *k)
{
    if (!k)
        return;
    sodium_memzero(k, sizeof(*k));
    free(k);
}

const char *sign_key_public(const struct sign_key *k)
{
    return k->public_b64;
}

char *sign_canonical(const json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

    if (!s)
        abort();
    return s;
}

void sign_text(const struct sign_key *k, const char *msg,
               char out[SIGN_SIG_B64_LEN])
{
    unsigned char sig[crypto_sign_BYTES];

    crypto_sign_detached(sig, NULL, (const unsigned char *)msg, strlen(msg),
                         k->sk);
    sodium_bin2base64(out, SIGN_SIG_B64_LEN, sig, sizeof(sig),
                      sodium_base64_VARIANT_ORIGINAL);
}

void sign_object(const struct sign_key *k, const json_t *obj,
                 char out[SIGN_SIG_B64_LEN])
{
    char *msg = sign_canonical(obj);

    sign_text(k, msg, out);
    free(msg);
}

bool sign_verify(const char *public_b64, const json_t *obj,
                 const char *signature_b64)
{
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sig[crypto_sign_BYTES];
    size_t pklen, siglen;
    char *msg;
    bool ok;

    if (!public_b64 || !signature_b64 ||
        sodium_base642bin(pk, sizeof(pk), public_b64, strlen(public_b64), NULL,
                          &pklen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        pklen != sizeof(pk) ||
        sodium_base642bin(sig, sizeof(sig), signature_b64,
                          strlen(signature_b64), NULL, &siglen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        siglen != sizeof(sig))
        return false;
    msg = sign_canonical(obj);
    ok = crypto_sign_verify_detached(sig, (const unsigned char *)msg,
                                     strlen(msg), pk) == 0;
    free(msg);
    return ok;
}
