#include "core/auth.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/audit.h"
#include "lib/jsonv.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "lib/timeutil.h"
#include "lib/xalloc.h"

#define SESSION_TTL_MS   (12 * 3600 * 1000LL)
#define TOKEN_TOUCH_MS   (60 * 1000LL)
#define NAME_MAX_LEN     200
#define PASSWORD_MIN_LEN 8
#define PASSWORD_MAX_LEN 1024

static const char *const role_names[] = {"", "org_member", "org_admin",
                                         "super_admin"};

enum role role_parse(const char *s)
{
    for (int r = ROLE_MEMBER; r <= ROLE_SUPER; r++)
        if (s && strcmp(s, role_names[r]) == 0)
            return (enum role)r;
    return ROLE_NONE;
}

const char *role_name(enum role r)
{
    return role_names[r];
}

const char *actor_scope(const struct actor *a)
{
    return a->role == ROLE_SUPER ? NULL : a->org_id;
}

static const char *str(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));

    return v ? v : "";
}

static void now_plus(int64_t delta_ms, char out[TIME_RFC3339_LEN])
{
    time_format_rfc3339(time_now_ms() + delta_ms, out);
}

static void actor_fill(struct actor *a, json_t *user)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->id, sizeof(a->id), "%s", str(user, "id"));
    snprintf(a->org_id, sizeof(a->org_id), "%s", str(user, "organizationId"));
    snprintf(a->name, sizeof(a->name), "%s", str(user, "name"));
    snprintf(a->email, sizeof(a->email), "%s", str(user, "email"));
    a->role = role_parse(str(user, "role"));
}

static int unauthorized(struct err *e)
{
    return err_set(e, ERR_UNAUTHORIZED, "UNAUTHORIZED",
                   "missing, invalid or revoked credentials");
}

int auth_token(struct store *s, const char *token, struct actor *out,
               struct err *e)
{
    char hash[SECRET_HASH_LEN], now[TIME_RFC3339_LEN];
    char stale[TIME_RFC3339_LEN];
    json_t *user;

    if (!token || !*token || strlen(token) > SECRET_MAX_LEN)
        return unauthorized(e);
    secret_hash(token, hash);
    now_plus(0, now);
    now_plus(-TOKEN_TOUCH_MS, stale);
    user = store_token_auth(s, hash, now, stale, e);
    if (!user)
        return e->status == ERR_NOT_FOUND ? unauthorized(e) : (int)e->status;
    actor_fill(out, user);
    json_decref(user);
    return 0;
}

int auth_session(struct store *s, const char *cookie, struct actor *out,
                 struct err *e)
{
    char hash[SECRET_HASH_LEN], now[TIME_RFC3339_LEN];
    json_t *user;

    if (!cookie || !*cookie || strlen(cookie) > SECRET_MAX_LEN)
        return unauthorized(e);
    secret_hash(cookie, hash);
    now_plus(0, now);
    user = store_session_auth(s, hash, now, e);
    if (!user)
        return e->status == ERR_NOT_FOUND ? unauthorized(e) : (int)e->status;
    actor_fill(out, user);
    out->via_session = true;
    snprintf(out->csrf, sizeof(out->csrf), "%s", str(user, "csrfToken"));
    json_decref(user);
    return 0;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* A login for an unknown email costs the same as one for a known email. */
static void burn_verify(const char *password)
{
    static char *dummy;

    if (!dummy)
        dummy = secret_password_hash("not-a-real-password");
    if (dummy)
        secret_password_verify(dummy, password);
}

static json_t *user_public(json_t *user)
{
    json_t *u = json_deep_copy(user);

    json_object_del(u, "passwordHash");
    json_object_del(u, "csrfToken");
    json_object_del(u, "tokenId");
    return u;
}

static json_t *me_object(struct store *s, json_t *user, const char *csrf,
                         struct err *e)
{
    json_t *org = store_org_find(s, str(user, "organizationId"), e);

    if (!org)
        return NULL;
    return json_pack("{s:o, s:o, s:s?}", "user", user_public(user),
                     "organization", org, "csrfToken", csrf);
}

static int open_session(struct store *s, json_t *user, char **cookie,
                        char csrf[64], struct err *e)
{
    char id[ID_LEN + 1], hash[SECRET_HASH_LEN];
    char now[TIME_RFC3339_LEN], expires[TIME_RFC3339_LEN];
    char secret[SECRET_TOKEN_LEN + 8];

    id_new(id);
    secret_token_new("mcs_", secret, sizeof(secret));
    secret_token_new("", csrf, 64);
    secret_hash(secret, hash);
    now_plus(0, now);
    now_plus(SESSION_TTL_MS, expires);
    if (store_session_insert(s, id, str(user, "id"), hash, csrf, now, expires,
                             e))
        return e->status;
    *cookie = xstrdup(secret);
    return 0;
}

int auth_login(struct store *s, json_t *body, char **cookie, json_t **out,
               struct err *e)
{
    static const char *const fields[] = {"email", "password", NULL};
    const char *email, *password;
    char csrf[64], *key = NULL;
    json_t *user = NULL;
    int rc;

    *cookie = NULL;
    *out = NULL;
    if (jsonv_object(body, fields, e) ||
        jsonv_string(body, "email", true, 1, 254, &email, e) ||
        jsonv_string(body, "password", true, 1, PASSWORD_MAX_LEN, &password, e))
        return e->status;
    key = xstrdup(email);
    lower(key);
    user = store_user_by_email(s, key, e);
    if (!user && e->status != ERR_NOT_FOUND) {
        rc = e->status;
        goto out;
    }
    if (!user || !json_is_string(json_object_get(user, "passwordHash"))) {
        burn_verify(password);
        rc = err_set(e, ERR_UNAUTHORIZED, "UNAUTHORIZED",
                     "wrong email or password");
        goto out;
    }
    if (!secret_password_verify(str(user, "passwordHash"), password)) {
        rc = err_set(e, ERR_UNAUTHORIZED, "UNAUTHORIZED",
                     "wrong email or password");
        goto out;
    }
    rc = open_session(s, user, cookie, csrf, e);
    if (rc == 0 && !(*out = me_object(s, user, csrf, e))) {
        rc = e->status;
        free(*cookie);
        *cookie = NULL;
    }
out:
    json_decref(user);
    free(key);
    return rc;
}

int auth_logout(struct store *s, const char *cookie, struct err *e)
{
    char hash[SECRET_HASH_LEN];

    if (!cookie || !*cookie)
        return 0;
    secret_hash(cookie, hash);
    return store_session_delete(s, hash, e);
}

json_t *auth_me(struct store *s, const struct actor *a, struct err *e)
{
    json_t *user = store_user_get(s, a->id, e);
    json_t *me;

    if (!user)
        return NULL;
    me = me_object(s, user, a->via_session ? a->csrf : NULL, e);
    json_decref(user);
    return me;
}

static int insert_token(struct store *s, const char *user_id, const char *name,
                        const char *token, char id[ID_LEN + 1], struct err *e)
{
    char hash[SECRET_HASH_LEN], now[TIME_RFC3339_LEN];

    id_new(id);
    secret_hash(token, hash);
    now_plus(0, now);
    return store_token_insert(s, id, user_id, name, hash, now, e);
}

static int bootstrap_rows(struct store *s, const char *token, const char *email,
                          const char *password, struct err *e)
{
    char org[ID_LEN + 1], user[ID_LEN + 1], tok[ID_LEN + 1];
    char now[TIME_RFC3339_LEN];
    char *hash = secret_password_hash(password);
    int rc;

    if (!hash)
        return err_set(e, ERR_INTERNAL, "INTERNAL", "password hash failed");
    id_new(org);
    id_new(user);
    now_plus(0, now);
    rc = store_org_insert(s, org, NULL, "Default organization", now, e) ||
         store_user_insert(s, user, org, email, "Administrator", "super_admin",
                           hash, now, e) ||
         insert_token(s, user, "bootstrap", token, tok, e);
    free(hash);
    return rc ? (int)e->status : 0;
}

int auth_bootstrap(struct store *s, const char *token, const char *email,
                   const char *password, struct err *e)
{
    char gen_token[SECRET_TOKEN_LEN + 8], gen_password[SECRET_TOKEN_LEN + 8];
    char *mail;
    int rc;

    if (!store_is_empty(s))
        return 0;
    if (token && (strlen(token) < 16 || strlen(token) > SECRET_MAX_LEN))
        return err_set(e, ERR_INVALID, "INVALID",
                       "MC_BOOTSTRAP_TOKEN must be 16 to %d characters",
                       SECRET_MAX_LEN);
    if (!token) {
        secret_token_new("mc_", gen_token, sizeof(gen_token));
        token = gen_token;
    }
    if (!password) {
        secret_token_new("", gen_password, sizeof(gen_password));
        password = gen_password;
    }
    mail = xstrdup(email ? email : "admin@example.com");
    lower(mail);
    if (store_begin(s, e)) {
        free(mail);
        return e->status;
    }
    /* Another instance starting at the same time may have won the race
     * between the check above and this transaction. */
    if (!store_is_empty(s)) {
        store_rollback(s);
        free(mail);
        return 0;
    }
    rc = bootstrap_rows(s, token, mail, password, e);
    if (rc == 0)
        rc = store_commit(s, e);
    if (rc) {
        store_rollback(s);
        free(mail);
        return rc;
    }
    log_info("bootstrap", "organization=\"Default organization\" email=%s",
             mail);
    if (token == gen_token || password == gen_password) {
        printf("Mission Control first start: sign in as %s\n", mail);
        if (password == gen_password)
            printf("  password:  %s\n", password);
        if (token == gen_token)
            printf("  API token: %s\n", token);
        printf("These are shown once; keep them safe.\n");
        fflush(stdout);
    }
    free(mail);
    return 0;
}

json_t *org_create(struct store *s, const struct actor *a, json_t *body,
                   struct err *e)
{
    static const char *const fields[] = {"name", "externalId", NULL};
    const char *name, *ext;
    char id[ID_LEN + 1], now[TIME_RFC3339_LEN];

    if (jsonv_object(body, fields, e) ||
        jsonv_string(body, "name", true, 1, NAME_MAX_LEN, &name, e) ||
        jsonv_string(body, "externalId", false, 1, NAME_MAX_LEN, &ext, e))
        return NULL;
    id_new(id);
    now_plus(0, now);
    if (store_begin(s, e))
        return NULL;
    if (store_org_insert(s, id, ext, name, now, e)) {
        if (e->status == ERR_CONFLICT)
            err_set(e, ERR_CONFLICT, "EXTERNAL_ID_EXISTS",
                    "an organization with externalId \"%.64s\" exists", ext);
        goto fail;
    }
    if (audit_write(s, a, id, "organization.create", "organization", id,
                    json_pack("{s:s, s:s?}", "name", name, "externalId", ext),
                    e) ||
        store_commit(s, e))
        goto fail;
    return store_org_find(s, id, e);
fail:
    store_rollback(s);
    return NULL;
}

json_t *org_list(struct store *s, const struct actor *a, struct err *e)
{
    json_t *rows = store_org_list(s, actor_scope(a), e);

    return rows ? json_pack("{s:o}", "organizations", rows) : NULL;
}

static int user_org(struct store *s, const struct actor *a, const char *name,
                    char out[ID_LEN + 1], struct err *e)
{
    json_t *org;

    if (!name) {
        snprintf(out, ID_LEN + 1, "%s", a->org_id);
        return 0;
    }
    org = store_org_find(s, name, e);
    if (org &&
        (a->role == ROLE_SUPER || strcmp(str(org, "id"), a->org_id) == 0)) {
        snprintf(out, ID_LEN + 1, "%s", str(org, "id"));
        json_decref(org);
        return 0;
    }
    json_decref(org);
    if (!org && e->status != ERR_NOT_FOUND)
        return e->status;
    return err_set(e, ERR_NOT_FOUND, "ORGANIZATION_NOT_FOUND",
                   "organization \"%.64s\" not found", name);
}

struct user_input {
    const char *email, *name, *role, *password, *org;
};

static int user_validate(json_t *body, struct user_input *in, struct err *e)
{
    static const char *const fields[] = {"email",    "name",           "role",
                                         "password", "organizationId", NULL};
    static const char *const roles[] = {"org_member", "org_admin",
                                        "super_admin", NULL};

    if (jsonv_object(body, fields, e) ||
        jsonv_string(body, "email", true, 3, 254, &in->email, e) ||
        jsonv_string(body, "name", true, 1, NAME_MAX_LEN, &in->name, e) ||
        jsonv_enum(body, "role", true, roles, &in->role, e) ||
        jsonv_string(body, "password", true, PASSWORD_MIN_LEN, PASSWORD_MAX_LEN,
                     &in->password, e) ||
        jsonv_string(body, "organizationId", false, 1, NAME_MAX_LEN, &in->org,
                     e))
        return e->status;
    if (!strchr(in->email, '@') || strpbrk(in->email, " \t\r\n"))
        return err_field(e, "email", "email is not an email address");
    return 0;
}

static int user_insert(struct store *s, const struct actor *a,
                       const struct user_input *in, const char *org,
                       char id[ID_LEN + 1], struct err *e)
{
    char now[TIME_RFC3339_LEN];
    char *hash = secret_password_hash(in->password);
    char *email = xstrdup(in->email);
    int rc = ERR_INTERNAL;

    lower(email);
    id_new(id);
    now_plus(0, now);
    if (!hash) {
        err_set(e, ERR_INTERNAL, "INTERNAL", "password hash failed");
        goto out;
    }
    if (store_begin(s, e))
        goto out;
    if (store_user_insert(s, id, org, email, in->name, in->role, hash, now,
                          e)) {
        if (e->status == ERR_CONFLICT)
            err_set(e, ERR_CONFLICT, "EMAIL_EXISTS",
                    "a user with this email exists");
        goto fail;
    }
    if (audit_write(s, a, org, "user.create", "user", id,
                    json_pack("{s:s, s:s}", "email", email, "role", in->role),
                    e) ||
        store_commit(s, e))
        goto fail;
    rc = 0;
    goto out;
fail:
    store_rollback(s);
out:
    free(hash);
    free(email);
    return rc ? (int)e->status : 0;
}

json_t *user_create(struct store *s, const struct actor *a, json_t *body,
                    struct err *e)
{
    struct user_input in;
    char org[ID_LEN + 1], id[ID_LEN + 1];

    if (user_validate(body, &in, e))
        return NULL;
    if (role_parse(in.role) > a->role) {
        err_set(e, ERR_FORBIDDEN, "FORBIDDEN",
                "cannot create a user with a role above your own");
        return NULL;
    }
    if (user_org(s, a, in.org, org, e) || user_insert(s, a, &in, org, id, e))
        return NULL;
    return store_user_get(s, id, e);
}

json_t *token_create(struct store *s, const struct actor *a, json_t *body,
                     struct err *e)
{
    static const char *const fields[] = {"name", NULL};
    char token[SECRET_TOKEN_LEN + 8], id[ID_LEN + 1];
    const char *name;
    json_t *list, *row = NULL;
    size_t i;

    if (jsonv_object(body, fields, e) ||
        jsonv_string(body, "name", true, 1, NAME_MAX_LEN, &name, e))
        return NULL;
    secret_token_new("mc_", token, sizeof(token));
    if (store_begin(s, e))
        return NULL;
    if (insert_token(s, a->id, name, token, id, e) ||
        audit_write(s, a, NULL, "token.create", "api_token", id,
                    json_pack("{s:s}", "name", name), e) ||
        store_commit(s, e)) {
        store_rollback(s);
        return NULL;
    }
    list = store_token_list(s, a->id, e);
    json_array_foreach(list, i, row) if (strcmp(str(row, "id"), id) == 0) break;
    row = json_incref(row);
    json_decref(list);
    if (!row) {
        err_set(e, ERR_INTERNAL, "INTERNAL", "token vanished");
        return NULL;
    }
    return json_pack("{s:s, s:o}", "token", token, "apiToken", row);
}

json_t *token_list(struct store *s, const struct actor *a, struct err *e)
{
    json_t *rows = store_token_list(s, a->id, e);

    return rows ? json_pack("{s:o}", "apiTokens", rows) : NULL;
}

json_t *token_revoke(struct store *s, const struct actor *a, const char *id,
                     struct err *e)
{
    char now[TIME_RFC3339_LEN];
    json_t *row;

    now_plus(0, now);
    if (store_begin(s, e))
        return NULL;
    row = store_token_revoke(s, id, a->id, now, e);
    if (!row) {
        if (e->status == ERR_NOT_FOUND)
            err_set(e, ERR_NOT_FOUND, "TOKEN_NOT_FOUND",
                    "API token \"%.64s\" not found", id);
        goto fail;
    }
    if (strcmp(str(row, "revokedAt"), now) == 0 &&
        audit_write(s, a, NULL, "token.revoke", "api_token", id,
                    json_pack("{s:O}", "name", json_object_get(row, "name")),
                    e))
        goto fail;
    if (store_commit(s, e))
        goto fail;
    return json_pack("{s:o}", "apiToken", row);
fail:
    json_decref(row);
    store_rollback(s);
    return NULL;
}
