/* The audit log: every change records who did what, in its transaction. */
#ifndef MC_CORE_AUDIT_H
#define MC_CORE_AUDIT_H

#include <jansson.h>

#include "core/auth.h"

/* Writes an entry in the actor's organization (or org_id when not NULL);
 * steals details. Call inside the transaction of the change. */
int audit_write(struct store *s, const struct actor *a, const char *org_id,
                const char *action, const char *target_type,
                const char *target_id, json_t *details, struct err *e);

/* {"entries": [...]} visible to the actor, newest first. */
json_t *audit_list(struct store *s, const struct actor *a, const char *before,
                   int limit, struct err *e);

#endif
