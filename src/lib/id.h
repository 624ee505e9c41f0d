/*
 * Identifiers: 25 lowercase alphanumerics. The first 9 characters are the
 * creation time in milliseconds (base 36), the next 4 a per-process counter,
 * the last 12 random, so ids made by one thread strictly increase and ids
 * made anywhere sort roughly by creation time and never collide in practice.
 * (mcd makes every stored object's id on its database worker thread.)
 */
#ifndef MC_ID_H
#define MC_ID_H

#include <stdbool.h>

#define ID_LEN 25

/* Writes a new id and its NUL into out. Needs sodium_init() first. */
void id_new(char out[ID_LEN + 1]);

/* True when s has the shape of an id (does not say that it exists). */
bool id_valid(const char *s);

#endif
