#include "core/audit.h"

#include "lib/timeutil.h"

int audit_write(struct store *s, const struct actor *a, const char *org_id,
                const char *action, const char *target_type,
                const char *target_id, json_t *details, struct err *e)
{
    char id[ID_LEN + 1];
    char now[TIME_RFC3339_LEN];
    int rc;

    id_new(id);
    time_format_rfc3339(time_now_ms(), now);
    rc = store_audit_insert(s, id, org_id ? org_id : a->org_id,
                            a->id[0] ? a->id : NULL, action, target_type,
                            target_id, details, now, e);
    json_decref(details);
    return rc;
}

json_t *audit_list(struct store *s, const struct actor *a, const char *before,
                   int limit, struct err *e)
{
    json_t *rows = store_audit_list(s, actor_scope(a), before, limit, e);

    return rows ? json_pack("{s:o}", "entries", rows) : NULL;
}
