#include "store/stmtcache.h"

#include <stdint.h>
#include <stdlib.h>

#include "lib/xalloc.h"

static size_t slot_of(const struct stmtcache *c, const char *sql)
{
    uintptr_t h = (uintptr_t)sql;

    h ^= h >> 17;
    h *= 0x9e3779b97f4a7c15u;
    return (size_t)(h >> 7) & (c->cap - 1);
}

static void insert(struct stmtcache *c, const char *sql, void *stmt)
{
    size_t i = slot_of(c, sql);

    while (c->slots[i].sql)
        i = (i + 1) & (c->cap - 1);
    c->slots[i].sql = sql;
    c->slots[i].stmt = stmt;
    c->used++;
}

void *stmtcache_get(const struct stmtcache *c, const char *sql)
{
    if (!c->cap)
        return NULL;
    for (size_t i = slot_of(c, sql); c->slots[i].sql;
         i = (i + 1) & (c->cap - 1))
        if (c->slots[i].sql == sql)
            return c->slots[i].stmt;
    return NULL;
}

void stmtcache_put(struct stmtcache *c, const char *sql, void *stmt)
{
    if ((c->used + 1) * 2 > c->cap) {
        struct stmtcache_slot *old = c->slots;
        size_t n = c->cap;

        c->cap = n ? n * 2 : 64;
        c->slots = xcalloc(c->cap, sizeof(*c->slots));
        c->used = 0;
        for (size_t i = 0; i < n; i++)
            if (old[i].sql)
                insert(c, old[i].sql, old[i].stmt);
        free(old);
    }
    insert(c, sql, stmt);
}

void stmtcache_clear(struct stmtcache *c, void (*drop)(void *stmt))
{
    for (size_t i = 0; i < c->cap; i++)
        if (c->slots[i].sql && drop)
            drop(c->slots[i].stmt);
    free(c->slots);
    c->slots = NULL;
    c->cap = 0;
    c->used = 0;
}
