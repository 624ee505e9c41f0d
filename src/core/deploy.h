/* Deploying a release to locations: one FORCE_UPDATE command per node. */
#ifndef MC_CORE_DEPLOY_H
#define MC_CORE_DEPLOY_H

#include <jansson.h>

#include "core/fleet.h"

#define DEPLOY_MAX_LOCATIONS 10000

struct deploy_result {
    int status;                 /* 200, 207 or 422 (or the error's status) */
    char *body;                 /* {"results", "summary"}, as JSON text */
    struct fleet_pushes *fresh; /* the new commands, to push */
};

/* Runs a deploy of release ref for body {"locationIds"}. idem_key may be
 * NULL. On success fills out (caller releases it with deploy_result_release)
 * and answers 0; a replay of an idempotent call has no fresh commands. */
int deploy_run(struct store *s, const struct fleet_config *cfg,
               const struct actor *a, const char *ref, json_t *body,
               const char *idem_key, struct deploy_result *out, struct err *e);

void deploy_result_release(struct deploy_result *r);

/* The release part of a command's payload: {version, channel, imageTag,
 * imageDigest, rollbackVersion} of release (new reference). */
json_t *deploy_command_release(const json_t *release);

/* A FORCE_UPDATE command's canonical payload (what its signature covers),
 * given the canonical text of its release part; caller frees. Equal to
 * sign_canonical() of the whole object. */
char *deploy_command_payload(const char *release_canonical, const char *id,
                             const char *node_id, const char *created,
                             const char *expires);

#endif
