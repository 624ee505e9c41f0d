/*
 * The prepared statements of a driver connection, found by the address of
 * their SQL text: every query of the store is a string literal, so the
 * address names the query and no text is hashed or compared. Internal to
 * src/store/.
 */
#ifndef MC_STORE_STMTCACHE_H
#define MC_STORE_STMTCACHE_H

#include <stddef.h>

struct stmtcache_slot {
    const char *sql;
    void *stmt;
};

struct stmtcache {
    struct stmtcache_slot *slots;
    size_t cap; /* a power of two, or 0 */
    size_t used;
};

/* The statement prepared for sql, or NULL. */
void *stmtcache_get(const struct stmtcache *c, const char *sql);

/* Remembers stmt (the driver's, not NULL) for sql, which is not there. */
void stmtcache_put(struct stmtcache *c, const char *sql, void *stmt);

/* Calls drop(stmt) for each statement (may be NULL) and empties the cache. */
void stmtcache_clear(struct stmtcache *c, void (*drop)(void *stmt));

#endif
