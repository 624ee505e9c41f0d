/* The release catalogue: validation, the latest-per-channel rule. */
#ifndef MC_CORE_RELEASES_H
#define MC_CORE_RELEASES_H

#include <stdbool.h>

#include <jansson.h>

#include "core/auth.h"

#define RELEASE_NOTES_MAX 65536

/* Validates body and creates the release with its audit entry; answers
 * {"release"}; 400 / 409 VERSION_EXISTS on failure. */
json_t *release_create(struct store *s, const struct actor *a, json_t *body,
                       struct err *e);

/* The release named by its id or its version; 404 RELEASE_NOT_FOUND. */
json_t *release_find(struct store *s, const struct actor *a, const char *ref,
                     struct err *e);

/* {"release", "deployments"} */
json_t *release_detail(struct store *s, const struct actor *a, const char *ref,
                       struct err *e);

/* {"releases"}: channel may be NULL, before is an id cursor or NULL. */
json_t *release_list(struct store *s, const struct actor *a,
                     const char *channel, bool include_archived,
                     const char *before, int limit, struct err *e);

/* Archives it and hands the latest flag down; {"release"}; 409
 * RELEASE_ARCHIVED when it already is. */
json_t *release_archive(struct store *s, const struct actor *a, const char *ref,
                        struct err *e);

#endif
