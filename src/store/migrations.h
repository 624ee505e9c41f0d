/* The numbered schema migrations of each backend, NULL-terminated. */
#ifndef MC_STORE_MIGRATIONS_H
#define MC_STORE_MIGRATIONS_H

extern const char *const migrations_sqlite[];
extern const char *const migrations_postgres[];

#endif
