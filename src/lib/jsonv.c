#include "lib/jsonv.h"

#include <string.h>

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

int jsonv_object(json_t *body, const char *const *allowed, struct err *e)
{
    const char *key;
    json_t *v;

    if (!json_is_object(body))
        return err_set(e, ERR_INVALID, "VALIDATION_ERROR",
                       "body must be a JSON object");
    json_object_foreach(body, key, v)
    {
        if (!in_list(key, allowed))
            return err_field(e, key, "unknown field \"%.40s\"", key);
    }
    return 0;
}

static json_t *field(json_t *body, const char *key)
{
    json_t *v = json_object_get(body, key);

    return json_is_null(v) ? NULL : v;
}

static bool blank(const char *s)
{
    return s[strspn(s, " \t\r\n")] == '\0';
}

int jsonv_string(json_t *body, const char *key, bool required, size_t min,
                 size_t max, const char **out, struct err *e)
{
    json_t *v = field(body, key);
    size_t len;

    *out = NULL;
    if (!v)
        return required ? err_field(e, key, "%s is required", key) : 0;
    if (!json_is_string(v))
        return err_field(e, key, "%s must be a string", key);
    len = json_string_length(v);
    if (strlen(json_string_value(v)) != len)
        return err_field(e, key, "%s must not contain NUL", key);
    if (len < min || (min > 0 && blank(json_string_value(v))))
        return err_field(e, key, "%s must not be empty", key);
    if (len > max)
        return err_field(e, key, "%s is longer than %zu bytes", key, max);
    *out = json_string_value(v);
    return 0;
}

int jsonv_int(json_t *body, const char *key, bool required, json_int_t min,
              json_int_t max, json_int_t *out, bool *present, struct err *e)
{
    json_t *v = field(body, key);

    *present = false;
    if (!v)
        return required ? err_field(e, key, "%s is required", key) : 0;
    if (!json_is_integer(v))
        return err_field(e, key, "%s must be an integer", key);
    if (json_integer_value(v) < min || json_integer_value(v) > max)
        return err_field(e, key, "%s must be between %lld and %lld", key,
                         (long long)min, (long long)max);
    *out = json_integer_value(v);
    *present = true;
    return 0;
}

int jsonv_enum(json_t *body, const char *key, bool required,
               const char *const *choices, const char **out, struct err *e)
{
    if (jsonv_string(body, key, required, 1, 64, out, e))
        return e->status;
    if (*out && !in_list(*out, choices))
        return err_field(e, key, "%s must be one of the allowed values", key);
    return 0;
}
