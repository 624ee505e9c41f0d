/*
 * A map from strings to pointers (open addressing, keyed by SipHash from
 * libsodium). Keys are copied; values are the caller's.
 */
#ifndef MC_STRMAP_H
#define MC_STRMAP_H

#include <stddef.h>

struct strmap;

struct strmap *strmap_new(void);
void strmap_free(struct strmap *m);

/* Sets key to value (not NULL); answers the value it replaced, or NULL. */
void *strmap_put(struct strmap *m, const char *key, void *value);
void *strmap_get(const struct strmap *m, const char *key);
/* Removes key; answers its value, or NULL. */
void *strmap_del(struct strmap *m, const char *key);
size_t strmap_size(const struct strmap *m);

/* Calls fn for every entry; fn must not change the map. */
void strmap_each(const struct strmap *m,
                 void (*fn)(const char *key, void *value, void *arg),
                 void *arg);

/* The values, in no order, as a new array of strmap_size() pointers
 * (caller frees), for walks that change the map. */
void **strmap_values(const struct strmap *m);

#endif
