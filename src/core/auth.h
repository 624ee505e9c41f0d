/*
 * Who is calling: roles, API tokens, dashboard sessions, the first-start
 * bootstrap, and the accounts (organizations, users, tokens) behind them.
 */
#ifndef MC_CORE_AUTH_H
#define MC_CORE_AUTH_H

#include <stdbool.h>

#include <jansson.h>

#include "lib/err.h"
#include "lib/id.h"
#include "store/store.h"

enum role { ROLE_NONE, ROLE_MEMBER, ROLE_ADMIN, ROLE_SUPER };

/* "org_member", "org_admin", "super_admin"; ROLE_NONE for anything else. */
enum role role_parse(const char *s);
const char *role_name(enum role r);

/* The signed-in user of a request. */
struct actor {
    char id[ID_LEN + 1];
    char org_id[ID_LEN + 1];
    char name[256];
    char email[256];
    enum role role;
    bool via_session;
    char csrf[64];
};

/* The organization filter of a query: NULL (all) for a super_admin. */
const char *actor_scope(const struct actor *a);

/* Authenticates an API token; 401 UNAUTHORIZED when it is not valid. */
int auth_token(struct store *s, const char *token, struct actor *out,
               struct err *e);

/* Authenticates a session cookie's value; 401 when not valid. */
int auth_session(struct store *s, const char *cookie, struct actor *out,
                 struct err *e);

/* Checks email and password and opens a session. On success *cookie is the
 * new session secret (caller frees) and *user the user and organization as
 * {user, organization, csrfToken}. */
int auth_login(struct store *s, json_t *body, char **cookie, json_t **out,
               struct err *e);
int auth_logout(struct store *s, const char *cookie, struct err *e);

/* {user, organization, csrfToken} of the actor. */
json_t *auth_me(struct store *s, const struct actor *a, struct err *e);

/* On an empty database: the first organization, super_admin and API token.
 * Unset values are generated and printed once on stdout. */
int auth_bootstrap(struct store *s, const char *token, const char *email,
                   const char *password, struct err *e);

json_t *org_create(struct store *s, const struct actor *a, json_t *body,
                   struct err *e);
json_t *org_list(struct store *s, const struct actor *a, struct err *e);
json_t *user_create(struct store *s, const struct actor *a, json_t *body,
                    struct err *e);
/* {token, apiToken}: the secret is in the answer and nowhere else. */
json_t *token_create(struct store *s, const struct actor *a, json_t *body,
                     struct err *e);
json_t *token_list(struct store *s, const struct actor *a, struct err *e);
json_t *token_revoke(struct store *s, const struct actor *a, const char *id,
                     struct err *e);

#endif
