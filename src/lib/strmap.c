#include "lib/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "lib/xalloc.h"

struct slot {
    char *key; /* NULL: empty; TOMBSTONE: deleted */
    void *value;
};

struct strmap {
    struct slot *slots;
    size_t cap; /* a power of two */
    size_t size;
    size_t used; /* live entries and tombstones */
    unsigned char seed[crypto_shorthash_KEYBYTES];
};

static char tombstone;
#define TOMBSTONE (&tombstone)

static size_t hash(const struct strmap *m, const char *key)
{
    unsigned char out[crypto_shorthash_BYTES];
    uint64_t h;

    crypto_shorthash(out, (const unsigned char *)key, strlen(key), m->seed);
    memcpy(&h, out, sizeof(h));
    return (size_t)h;
}

struct strmap *strmap_new(void)
{
    struct strmap *m = xcalloc(1, sizeof(*m));

    m->cap = 16;
    m->slots = xcalloc(m->cap, sizeof(*m->slots));
    randombytes_buf(m->seed, sizeof(m->seed));
    return m;
}

void strmap_free(struct strmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != TOMBSTONE)
            free(m->slots[i].key);
    free(m->slots);
    free(m);
}

/* The slot holding key, or the free slot where it would go. */
static struct slot *find(const struct strmap *m, const char *key)
{
    size_t mask = m->cap - 1;
    struct slot *grave = NULL;

    for (size_t i = hash(m, key) & mask;; i = (i + 1) & mask) {
        struct slot *s = &m->slots[i];

        if (!s->key)
            return grave ? grave : s;
        if (s->key == TOMBSTONE) {
            if (!grave)
                grave = s;
        } else if (strcmp(s->key, key) == 0) {
            return s;
        }
    }
}

static void grow(struct strmap *m)
{
    struct slot *old = m->slots;
    size_t n = m->cap;

    if (m->size * 2 >= m->cap)
        m->cap *= 2;
    m->slots = xcalloc(m->cap, sizeof(*m->slots));
    m->used = m->size;
    for (size_t i = 0; i < n; i++)
        if (old[i].key && old[i].key != TOMBSTONE)
            *find(m, old[i].key) = old[i];
    free(old);
}

void *strmap_put(struct strmap *m, const char *key, void *value)
{
    struct slot *s;
    void *prev;

    if ((m->used + 1) * 4 > m->cap * 3)
        grow(m);
    s = find(m, key);
    if (s->key && s->key != TOMBSTONE) {
        prev = s->value;
        s->value = value;
        return prev;
    }
    if (!s->key)
        m->used++;
    s->key = xstrdup(key);
    s->value = value;
    m->size++;
    return NULL;
}

void *strmap_get(const struct strmap *m, const char *key)
{
    struct slot *s = find(m, key);

    return s->key && s->key != TOMBSTONE ? s->value : NULL;
}

void *strmap_del(struct strmap *m, const char *key)
{
    struct slot *s = find(m, key);
    void *v;

    if (!s->key || s->key == TOMBSTONE)
        return NULL;
    v = s->value;
    free(s->key);
    s->key = TOMBSTONE;
    s->value = NULL;
    m->size--;
    return v;
}

size_t strmap_size(const struct strmap *m)
{
    return m->size;
}

void strmap_each(const struct strmap *m,
                 void (*fn)(const char *key, void *value, void *arg), void *arg)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != TOMBSTONE)
            fn(m->slots[i].key, m->slots[i].value, arg);
}

void **strmap_values(const struct strmap *m)
{
    void **out = xcalloc(m->size + 1, sizeof(*out));
    size_t n = 0;

    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != TOMBSTONE)
            out[n++] = m->slots[i].value;
    return out;
}
