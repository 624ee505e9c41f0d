#include "core/releases.h"

#include <stdint.h>
#include <string.h>

#include "core/audit.h"
#include "lib/imageref.h"
#include "lib/jsonv.h"
#include "lib/semver.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"

#define DEPLOYMENTS_SHOWN 50

static const char *str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

struct release_input {
    const char *version, *channel, *image_tag, *digest, *notes, *rollback;
    json_int_t min_schema;
    bool has_min_schema;
};

static int validate_refs(struct release_input *in, struct err *e)
{
    if (!semver_valid(in->version))
        return err_field(e, "version",
                         "version \"%.64s\" is not a SemVer 2.0.0 version",
                         in->version);
    if (!imageref_valid(in->image_tag))
        return err_field(e, "imageTag",
                         "imageTag \"%.64s\" is neither an image tag nor an "
                         "image reference",
                         in->image_tag);
    if (in->digest && !imageref_valid_digest(in->digest))
        return err_field(e, "imageDigest",
                         "imageDigest must be sha256: and 64 lowercase hex "
                         "digits");
    if (in->rollback && !semver_valid(in->rollback))
        return err_field(e, "rollbackVersion",
                         "rollbackVersion \"%.64s\" is not a SemVer 2.0.0 "
                         "version",
                         in->rollback);
    if (in->rollback && semver_compare(in->rollback, in->version) >= 0)
        return err_field(e, "rollbackVersion",
                         "rollbackVersion must be lower than version");
    return 0;
}

static int validate(json_t *body, struct release_input *in, struct err *e)
{
    static const char *const fields[] = {
        "version",      "channel",          "imageTag",        "imageDigest",
        "releaseNotes", "minSchemaVersion", "rollbackVersion", NULL};
    static const char *const channels[] = {"STABLE", "BETA", NULL};

    if (jsonv_object(body, fields, e) ||
        jsonv_string(body, "version", true, 1, SEMVER_MAX_LEN, &in->version,
                     e) ||
        jsonv_enum(body, "channel", false, channels, &in->channel, e) ||
        jsonv_string(body, "imageTag", true, 1, IMAGEREF_MAX_LEN,
                     &in->image_tag, e) ||
        jsonv_string(body, "imageDigest", false, 1, 128, &in->digest, e) ||
        jsonv_string(body, "releaseNotes", false, 0, RELEASE_NOTES_MAX,
                     &in->notes, e) ||
        jsonv_int(body, "minSchemaVersion", false, 0, INT32_MAX,
                  &in->min_schema, &in->has_min_schema, e) ||
        jsonv_string(body, "rollbackVersion", false, 1, SEMVER_MAX_LEN,
                     &in->rollback, e))
        return e->status;
    if (!in->channel)
        in->channel = "STABLE";
    return validate_refs(in, e);
}

/* Latest is derived, never chosen: the highest-precedence non-archived
 * release of the channel. */
static int recompute_latest(struct store *s, const char *channel,
                            const char *now, struct err *e)
{
    json_t *rows = store_release_channel(s, channel, e);
    const char *best_id = NULL, *best = NULL;
    json_t *row;
    size_t i;
    int rc;

    if (!rows)
        return e->status;
    json_array_foreach(rows, i, row)
    {
        if (!best || semver_compare(str(row, "version"), best) > 0) {
            best = str(row, "version");
            best_id = str(row, "id");
        }
    }
    rc = store_release_set_latest(s, channel, best_id, now, e);
    json_decref(rows);
    return rc;
}

static json_t *input_row(const struct release_input *in, const char *id,
                         const struct actor *a, const char *now)
{
    char *key = xstrndup(in->version, semver_key_len(in->version));
    json_t *r = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s?, s:s, s:s?, s:s, s:s}", "id", id,
        "version", in->version, "versionKey", key, "channel", in->channel,
        "imageTag", in->image_tag, "imageDigest", in->digest, "releaseNotes",
        in->notes ? in->notes : "", "rollbackVersion", in->rollback,
        "createdById", a->id, "createdAt", now);

    if (in->has_min_schema)
        json_object_set_new(r, "minSchemaVersion",
                            json_integer(in->min_schema));
    free(key);
    return r;
}

static int insert(struct store *s, const struct actor *a,
                  const struct release_input *in, const char *id, struct err *e)
{
    char now[TIME_RFC3339_LEN];
    json_t *row;
    int rc;

    time_format_rfc3339(time_now_ms(), now);
    row = input_row(in, id, a, now);
    rc = store_release_insert(s, row, e);
    if (rc == ERR_CONFLICT)
        err_set(e, ERR_CONFLICT, "VERSION_EXISTS",
                "a release of version %.64s (or of equal precedence) exists",
                in->version);
    if (!rc)
        rc = recompute_latest(s, in->channel, now, e);
    if (!rc)
        rc = audit_write(s, a, NULL, "release.create", "release", id,
                         json_pack("{s:s, s:s, s:s}", "version", in->version,
                                   "channel", in->channel, "imageTag",
                                   in->image_tag),
                         e);
    json_decref(row);
    return rc;
}

json_t *release_create(struct store *s, const struct actor *a, json_t *body,
                       struct err *e)
{
    struct release_input in = {0};
    char id[ID_LEN + 1];
    json_t *r;

    if (validate(body, &in, e))
        return NULL;
    id_new(id);
    if (store_begin(s, e))
        return NULL;
    if (insert(s, a, &in, id, e) || store_commit(s, e)) {
        store_rollback(s);
        return NULL;
    }
    r = store_release_get(s, id, actor_scope(a), e);
    return r ? json_pack("{s:o}", "release", r) : NULL;
}

json_t *release_find(struct store *s, const struct actor *a, const char *ref,
                     struct err *e)
{
    json_t *r = NULL;
    char *key;

    if (id_valid(ref)) {
        r = store_release_get(s, ref, actor_scope(a), e);
    } else if (semver_valid(ref)) {
        key = xstrndup(ref, semver_key_len(ref));
        r = store_release_by_key(s, key, actor_scope(a), e);
        free(key);
    } else {
        e->status = ERR_NOT_FOUND;
    }
    if (!r && e->status == ERR_NOT_FOUND)
        err_set(e, ERR_NOT_FOUND, "RELEASE_NOT_FOUND",
                "release \"%.64s\" not found", ref);
    return r;
}

json_t *release_detail(struct store *s, const struct actor *a, const char *ref,
                       struct err *e)
{
    json_t *r = release_find(s, a, ref, e);
    json_t *deps;

    if (!r)
        return NULL;
    deps = store_release_deployments(s, str(r, "id"), actor_scope(a),
                                     DEPLOYMENTS_SHOWN, e);
    if (!deps) {
        json_decref(r);
        return NULL;
    }
    return json_pack("{s:o, s:o}", "release", r, "deployments", deps);
}

json_t *release_list(struct store *s, const struct actor *a,
                     const char *channel, bool include_archived,
                     const char *before, int limit, struct err *e)
{
    json_t *rows = store_release_list(s, actor_scope(a), channel,
                                      include_archived, before, limit, e);

    return rows ? json_pack("{s:o}", "releases", rows) : NULL;
}

static int archive(struct store *s, const struct actor *a, json_t *r,
                   struct err *e)
{
    char now[TIME_RFC3339_LEN];
    const char *id = str(r, "id");

    time_format_rfc3339(time_now_ms(), now);
    if (store_release_archive(s, id, now, e) ||
        recompute_latest(s, str(r, "channel"), now, e))
        return e->status;
    return audit_write(s, a, NULL, "release.archive", "release", id,
                       json_pack("{s:O, s:O}", "version",
                                 json_object_get(r, "version"), "wasLatest",
                                 json_object_get(r, "isLatest")),
                       e);
}

json_t *release_archive(struct store *s, const struct actor *a, const char *ref,
                        struct err *e)
{
    json_t *r = release_find(s, a, ref, e);
    json_t *out = NULL;

    if (!r)
        return NULL;
    if (json_is_true(json_object_get(r, "isArchived"))) {
        err_set(e, ERR_CONFLICT, "RELEASE_ARCHIVED",
                "release %.64s is already archived", str(r, "version"));
        goto out;
    }
    if (store_begin(s, e))
        goto out;
    if (archive(s, a, r, e) || store_commit(s, e)) {
        store_rollback(s);
        goto out;
    }
    out = store_release_get(s, str(r, "id"), actor_scope(a), e);
    if (out)
        out = json_pack("{s:o}", "release", out);
out:
    json_decref(r);
    return out;
}
