/*
 * Validation of JSON request bodies, field by field, with errors that name
 * the field (lib/err.h VALIDATION_ERROR). A JSON null counts as absent.
 */
#ifndef MC_JSONV_H
#define MC_JSONV_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "lib/err.h"

/* Fails unless body is an object whose keys are all in allowed (NULL-ended). */
int jsonv_object(json_t *body, const char *const *allowed, struct err *e);

/* Reads a string of min..max bytes (max counts bytes, min excludes blank
 * strings when 1). *out stays NULL when the field is absent and optional. */
int jsonv_string(json_t *body, const char *key, bool required, size_t min,
                 size_t max, const char **out, struct err *e);

/* Reads an integer in min..max; *present tells whether it was given. */
int jsonv_int(json_t *body, const char *key, bool required, json_int_t min,
              json_int_t max, json_int_t *out, bool *present, struct err *e);

/* Reads a string that must be one of choices (NULL-ended). */
int jsonv_enum(json_t *body, const char *key, bool required,
               const char *const *choices, const char **out, struct err *e);

#endif
